"""Reading faults of `hat.drivers.tcp`: pause and resume of reading reach
the transport that reads (TLS too), hysteresis of the input limit, a reset
after the peer's EOF with ``half_close``, an accept storm at the
descriptor limit, and connect error messages that say each fact once.

Every test runs on asyncio and uvloop (``--uvloop``), stays on loopback,
bounds every wait and closes what it opened.

"""

import asyncio
import errno
import gc
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hat import aio
from hat import util
from hat.drivers import tcp

from chaos import (KiB, PatternChecker, bounded, count_number,
                   forbidden_messages,
                   pattern, rst_close, set_rst_on_close, wait_until)


REPO = Path(__file__).resolve().parent.parent

WAIT = 5


def _addr():
    return tcp.Address('127.0.0.1', util.get_unused_tcp_port())


def _uvloop_active() -> bool:
    return type(asyncio.get_running_loop()).__module__.startswith('uvloop')


@pytest.fixture(autouse=True)
def no_unhandled_asyncio_errors():
    """Every test: fail if asyncio reported an unretrieved exception or an
    exception in a callback"""
    records = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Handler(logging.DEBUG)
    logger = logging.getLogger('asyncio')
    logger.addHandler(handler)
    try:
        yield
        gc.collect()
        assert not forbidden_messages(records)
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope='module')
def tls_ctx(tls_files):
    """(server context factory, client context factory) for the test
    certificate"""
    cert, key = tls_files

    def server_ctx():
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        return ctx

    def client_ctx():
        return ssl.create_default_context(cafile=str(cert))

    return server_ctx, client_ctx


async def _close_all(*resources):
    resources = [r for r in resources if r is not None]
    for r in resources:
        r.close()
    await bounded(asyncio.gather(*(r.async_close() for r in resources)))


async def _raw_client(srv, **kwargs):
    """(connection accepted by `srv`, raw non-blocking client socket)"""
    loop = asyncio.get_running_loop()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setblocking(False)
    await bounded(loop.sock_connect(raw, srv.addresses[0]))
    return raw


class _CountingTransport:
    """Wraps a transport, counting pause_reading and resume_reading calls
    and the buffered input at each"""

    def __init__(self, transport, conn):
        self._transport = transport
        self._conn = conn
        self.pauses = []
        self.resumes = []

    def pause_reading(self):
        self.pauses.append(self._conn._avail)
        self._transport.pause_reading()

    def resume_reading(self):
        self.resumes.append(self._conn._avail)
        self._transport.resume_reading()

    def __getattr__(self, name):
        return getattr(self._transport, name)


# ------------------------------------------- TLS: first flight over limit

async def test_tls_first_flight_over_limit_is_read_and_reset_noticed(
        tls_ctx):
    """A TLS client sends 200,000 bytes right after its handshake to a
    server whose input limit is 16 KiB: the data arrives with the
    handshake, before the server switches the connection to the TLS
    transport, and reading pauses then. It must resume on the transport
    that reads: the server reads all of it, in small pieces, and then
    notices the client's RST."""
    server_ctx, client_ctx = tls_ctx
    total = 200_000
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, _addr(), ssl=server_ctx(),
                           input_buffer_limit=16 * KiB)
    writer = conn = None
    try:
        addr = srv.addresses[0]
        _, writer = await bounded(asyncio.open_connection(
            addr.host, addr.port, ssl=client_ctx(),
            server_hostname='localhost'))
        writer.write(pattern(0, total))
        conn = await bounded(conns.get())

        checker = PatternChecker()
        while checker.offset < total:
            checker.feed(await bounded(conn.read(4 * KiB),
                                       f'read at {checker.offset}'))
        assert checker.offset == total

        set_rst_on_close(writer.get_extra_info('socket'))
        writer.transport.abort()
        await bounded(conn.wait_closing(), 'server noticing the RST')
        assert not conn.is_open
    finally:
        if writer is not None:
            writer.transport.abort()
        await _close_all(conn, srv)


# ------------------------------------------------------ limit hysteresis

@pytest.mark.parametrize('tls', [False, True])
async def test_reading_resumes_at_half_of_limit(tls, tls_ctx):
    """Reading pauses above `input_buffer_limit` and resumes only once the
    buffered input falls to half of it: a reader taking small pieces does
    not pause and resume the transport on every read."""
    server_ctx, client_ctx = tls_ctx
    limit = 64 * KiB
    total = 1024 * KiB
    piece = 1 * KiB
    conns = aio.Queue()
    kwargs = {'ssl': server_ctx()} if tls else {}
    srv = await tcp.listen(conns.put_nowait, _addr(),
                           input_buffer_limit=limit, **kwargs)
    client = conn = None
    try:
        ckwargs = ({'ssl': client_ctx(), 'server_hostname': 'localhost'}
                   if tls else {})
        client = await tcp.connect(srv.addresses[0], **ckwargs)
        conn = await bounded(conns.get())
        counting = conn._transport = _CountingTransport(conn._transport,
                                                        conn)

        client.write(pattern(0, total))
        await wait_until(lambda: counting.pauses, WAIT, 'reading paused')

        checker = PatternChecker()
        while checker.offset < total:
            checker.feed(await bounded(conn.read(piece)))

        assert counting.pauses and counting.resumes
        # one resume per pause (the last pause may still be followed by
        # its resume only after the last read)
        assert len(counting.resumes) >= len(counting.pauses) - 1
        assert all(avail > limit for avail in counting.pauses)
        assert all(avail <= limit // 2 for avail in counting.resumes), \
            counting.resumes
        # a read of 1 KiB per resume would be 1 pause per KiB read
        assert len(counting.pauses) <= total // (limit // 2) + 1
    finally:
        await _close_all(client, conn, srv)


# ------------------------------------------- half close: FIN, then RST

async def _raw_peer(side, **kwargs):
    """(connection, raw non-blocking socket at its other end, server or
    None)"""
    loop = asyncio.get_running_loop()
    if side == 'connect':
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.bind(('127.0.0.1', 0))
        lsock.listen(1)
        lsock.setblocking(False)
        try:
            conn = await tcp.connect(tcp.Address(*lsock.getsockname()),
                                     **kwargs)
            raw, _ = await bounded(loop.sock_accept(lsock))
        finally:
            lsock.close()
        raw.setblocking(False)
        return conn, raw, None

    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, _addr(), **kwargs)
    raw = await _raw_client(srv)
    conn = await bounded(conns.get())
    return conn, raw, srv


@pytest.mark.parametrize('side', ['connect', 'listen'])
async def test_half_close_reset_after_eof_noticed(monkeypatch, side):
    """With ``half_close``, the peer's FIN ends reading but keeps the
    connection open; a RST that follows is noticed (Linux: by polling the
    TCP state every `PAUSED_POLL_INTERVAL` seconds): `is_open` becomes
    ``False``, `wait_closing` returns and writing raises
    `ConnectionResetError`."""
    if tcp._TCP_INFO is None:
        pytest.skip('needs Linux TCP_INFO')
    monkeypatch.setattr(tcp, 'PAUSED_POLL_INTERVAL', 0.05)
    conn, raw, srv = await _raw_peer(side, half_close=True)
    try:
        raw.sendall(b'last words')
        raw.shutdown(socket.SHUT_WR)
        assert await bounded(conn.readexactly(10)) == b'last words'
        with pytest.raises(ConnectionError):
            await bounded(conn.read())
        assert conn.is_open
        # still writable after the peer's EOF
        conn.write(b'reply')
        await bounded(conn.drain())
        loop = asyncio.get_running_loop()
        assert await bounded(loop.sock_recv(raw, 5)) == b'reply'

        rst_close(raw)
        await bounded(conn.wait_closing(), 'noticing the RST after EOF')
        assert not conn.is_open
        await bounded(conn.wait_closed())
        with pytest.raises(ConnectionResetError, match='reset by peer'):
            conn.write(b'x')
    finally:
        raw.close()
        await _close_all(conn, srv)


@pytest.mark.parametrize('side', ['connect', 'listen'])
async def test_half_close_eof_without_reset_stays_open(monkeypatch, side):
    """The poll after a kept-open EOF does not take the half-closed state
    (CLOSE_WAIT) for a reset: the connection stays open and writable."""
    if tcp._TCP_INFO is None:
        pytest.skip('needs Linux TCP_INFO')
    monkeypatch.setattr(tcp, 'PAUSED_POLL_INTERVAL', 0.01)
    conn, raw, srv = await _raw_peer(side, half_close=True)
    try:
        raw.shutdown(socket.SHUT_WR)
        with pytest.raises(ConnectionError):
            await bounded(conn.read())
        polls = []
        original = conn._on_poll_timer
        done = asyncio.Event()

        def on_poll_timer():
            polls.append(1)
            if len(polls) >= 5:
                done.set()
            original()

        # the next polls (the one already scheduled calls the original)
        monkeypatch.setattr(conn, '_on_poll_timer', on_poll_timer)
        await bounded(done.wait(), 'five polls')
        assert conn.is_open
        conn.write(b'still here')
        await bounded(conn.drain())
        loop = asyncio.get_running_loop()
        assert await bounded(loop.sock_recv(raw, 10)) == b'still here'
    finally:
        raw.close()
        await _close_all(conn, srv)


# ------------------------------------------ error messages say it once

async def test_connect_refused_message_says_address_and_errno_once():
    with socket.socket() as sock:
        # bound, not listening: refused
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        with pytest.raises(ConnectionRefusedError) as e:
            await bounded(tcp.connect(tcp.Address('127.0.0.1', port)))
    text = str(e.value)
    assert e.value.errno == errno.ECONNREFUSED
    assert count_number(text, port) == 1, text
    assert text.count('127.0.0.1') == 1, text
    assert count_number(text, errno.ECONNREFUSED) == 1, text
    assert os.strerror(errno.ECONNREFUSED) in text
    # the loop's own error stays available as the cause
    assert isinstance(e.value.__cause__, ConnectionRefusedError)


async def test_listen_in_use_message_says_address_and_errno_once():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(OSError) as e:
            await tcp.listen(lambda conn: None, tcp.Address('127.0.0.1', port))
    text = str(e.value)
    assert e.value.errno == errno.EADDRINUSE
    assert count_number(text, port) == 1, text
    assert count_number(text, errno.EADDRINUSE) == 1, text


async def test_connect_name_resolution_message_once():
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(tcp.Address('name.invalid', 1)),
                      timeout=30)
    text = str(e.value)
    assert text.count('name.invalid') == 1, text
    if e.value.errno is not None:
        assert text.count(f'Errno {e.value.errno}]') == 1, text


# -------------------------------------------------- EMFILE accept storm

_EMFILE_SCRIPT = textwrap.dedent('''
    import asyncio, errno, json, logging, os, resource, socket, sys

    from hat.drivers import tcp

    CLIENTS = 200
    # a short retry delay, so that the window below sees many retries
    tcp.ACCEPT_RETRY_DELAY = 0.05
    WINDOW = 0.6

    records = []

    class Recorder(logging.Handler):
        def emit(self, record):
            records.append(record)

    logging.getLogger('hat.drivers.tcp').addHandler(Recorder(logging.INFO))
    logging.getLogger('asyncio').addHandler(Recorder(logging.DEBUG))
    logging.getLogger().setLevel(logging.DEBUG)
    logging.getLogger('hat.drivers.tcp.comm').setLevel(logging.INFO)

    async def window(seconds):
        # the loop runs its callbacks and timers for `seconds`: an event
        # set by a timer ends it
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        loop.call_later(seconds, done.set)
        await done.wait()

    async def main():
        loop = asyncio.get_running_loop()
        handled = []
        loop.set_exception_handler(lambda loop, ctx: handled.append(
            str(ctx.get('message')) + ': ' + repr(ctx.get('exception'))))
        conns = []
        srv = await tcp.listen(conns.append, tcp.Address('127.0.0.1', 0))
        addr = srv.addresses[0]
        clients = [socket.socket() for _ in range(CLIENTS + 1)]
        new = clients.pop()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 512), hard))
        fillers = []
        try:
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        except OSError as e:
            assert e.errno == errno.EMFILE, e
        for c in clients:
            c.setblocking(False)
            c.connect_ex(addr)

        await window(WINDOW)
        result = {
            'handled_while_full': len(handled),
            'handled_samples': sorted(set(handled))[:5],
            'records_while_full': [
                (r.name, r.levelname, r.getMessage()) for r in records
                if r.levelno >= logging.WARNING],
            'accepted_while_full': len(conns)}

        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        new.setblocking(False)
        new.connect_ex(addr)
        new_port = new.getsockname()[1]
        deadline = loop.time() + 10
        while loop.time() < deadline and not any(
                c.info.remote_addr.port == new_port for c in conns):
            await window(0.01)
        result['new_accepted'] = any(c.info.remote_addr.port == new_port
                                     for c in conns)

        for conn in conns:
            conn.close()
        await srv.async_close()
        for c in clients + [new]:
            c.close()
        await asyncio.gather(*(conn.wait_closed() for conn in conns))
        handled.clear()
        del records[:]
        # longer than any retry timer asyncio itself would have set (1 s)
        await window(1.5)
        result['handled_after_close'] = sorted(set(handled))[:5]
        result['handled_after_close_count'] = len(handled)
        result['records_after_close'] = [
            (r.name, r.levelname, r.getMessage()) for r in records
            if r.levelno >= logging.WARNING]
        probe = socket.socket()
        result['refused_after_close'] = probe.connect_ex(addr) != 0
        probe.close()
        print(json.dumps(result))

    if sys.argv[1] == 'uvloop':
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(main(), 40))
    finally:
        loop.close()
''')


async def test_accept_emfile_storm_bounded_and_nothing_left(tmp_path):
    """Accepting fails for lack of descriptors (EMFILE) while 200 clients
    wait in the backlog of a server with the default backlog: the failure
    is logged at a bounded rate (asyncio's own accept loop called the
    exception handler and set a retry timer for every slot of the backlog,
    each retry again); accepting recovers once descriptors are free; after
    the server is closed nothing fires on its closed socket. Runs in a
    subprocess, which lowers its own RLIMIT_NOFILE."""
    script = tmp_path / 'emfile_storm.py'
    script.write_text(_EMFILE_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO / 'src_py'))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(script),
        'uvloop' if _uvloop_active() else 'asyncio',
        env=env, cwd=str(tmp_path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = await bounded(proc.communicate(), timeout=50)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])

    # bounded: no loop exception handler entries, at most one record
    assert result['handled_while_full'] == 0, result
    assert len(result['records_while_full']) <= 1, result
    if not _uvloop_active():
        # asyncio: the failure is logged once, naming the cause (uvloop's
        # libuv accepts and closes what it cannot serve, silently)
        (name, level, message), = result['records_while_full']
        assert name == 'hat.drivers.tcp' and level == 'ERROR'
        assert os.strerror(errno.EMFILE) in message, message
    assert result['accepted_while_full'] == 0
    assert result['new_accepted'], result

    assert result['handled_after_close_count'] == 0, result
    assert result['records_after_close'] == [], result
    assert result['refused_after_close']
