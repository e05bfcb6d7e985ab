"""Production features of hat.drivers.tcp: TLS, input buffer control, names
and logs, keepalive, byte counters and IPv6.

Every test bounds its awaits with a timeout and closes every connection and
server it creates.

"""

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from hat import util
from hat.drivers import tcp

from chaos import bounded


REPO = Path(__file__).resolve().parent.parent
PLAYGROUND = REPO / 'playground'

KiB = 1024
MiB = 1024 * KiB

# largest chunk a single read from the socket can hand over (asyncio reads
# up to 256 KiB, uvloop up to 256000 bytes)
MAX_READ_CHUNK = 256 * KiB

TIMEOUT = 10


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _addr(host='127.0.0.1'):
    return tcp.Address(host, util.get_unused_tcp_port())


async def _wait(aw, timeout=TIMEOUT):
    # AssertionError naming what was awaited, not a bare TimeoutError
    return await bounded(aw, timeout=timeout)


async def _wait_until(predicate, timeout=TIMEOUT):
    """Poll a condition that has no awaitable event, such as bytes received
    by a connection but not read yet (reading would consume them)."""

    async def poll():
        # no event exists for this
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    await bounded(poll(), f'condition {predicate.__qualname__}', timeout)


async def _not_within(aw, timeout):
    """Assert that `aw` does NOT complete within `timeout` seconds."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait([task], timeout=timeout)
        assert not done, f'{aw} completed, expected it to block'
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


@contextlib.asynccontextmanager
async def _pair(addr=None, server_kwargs=None, client_kwargs=None,
                connect_addr=None):
    """Listening server plus one connected pair; closes everything."""
    server_kwargs = server_kwargs or {}
    client_kwargs = client_kwargs or {}
    addr = addr or _addr()
    conns = asyncio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr, **server_kwargs)
    client = server = None
    try:
        client = await _wait(tcp.connect(connect_addr or addr,
                                         **client_kwargs))
        server = await _wait(conns.get())
        yield srv, client, server

    finally:
        for conn in (client, server):
            if conn is not None:
                await _wait(conn.async_close())
        await _wait(srv.async_close())
        while not conns.empty():
            await _wait(conns.get_nowait().async_close())


def _sock(conn):
    # private, acceptable in tests: the socket under the transport
    sock = conn._transport.get_extra_info('socket')
    assert sock is not None
    return sock


# --------------------------------------------------------------------------
# additions are keyword-only and optional
# --------------------------------------------------------------------------

NEW_ARGS = ['name', 'input_buffer_limit', 'keepalive_idle',
            'keepalive_interval', 'keepalive_count']


@pytest.mark.parametrize('fn', [tcp.connect, tcp.listen,
                                tcp.Connection.__init__])
def test_new_arguments_keyword_only_optional(fn):
    params = inspect.signature(fn).parameters
    for arg in NEW_ARGS:
        assert arg in params, f'{fn.__qualname__} lacks {arg}'
        assert params[arg].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[arg].default is not inspect.Parameter.empty


# --------------------------------------------------------------------------
# 1. TLS
# --------------------------------------------------------------------------

@pytest.fixture
def server_ctx(tls_files):
    cert, key = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


@pytest.fixture
def client_ctx(tls_files):
    cert, _ = tls_files
    return ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                      cafile=str(cert))


@pytest.mark.timeout(20)
async def test_tls_exchange_and_ssl_object(server_ctx, client_ctx):
    async with _pair(server_kwargs={'ssl': server_ctx},
                     client_kwargs={'ssl': client_ctx,
                                    'server_hostname': 'localhost'}
                     ) as (_, client, server):
        for conn in (client, server):
            obj = conn.ssl_object
            assert isinstance(obj, ssl.SSLObject)
            assert obj.version() in ('TLSv1.2', 'TLSv1.3')
            assert obj.cipher() is not None

        assert not client.ssl_object.server_side
        assert server.ssl_object.server_side
        peer = dict(x[0] for x in client.ssl_object.getpeercert()['subject'])
        assert peer['commonName'] == 'localhost'

        client.write(b'hello ')
        client.write(b'tls')
        await _wait(client.drain())
        assert await _wait(server.readexactly(9)) == b'hello tls'

        data = os.urandom(300 * KiB)
        server.write(data)
        await _wait(server.drain())
        assert await _wait(client.readexactly(len(data))) == data

        # counters count application bytes, not TLS records
        assert client.bytes_sent == server.bytes_received == 9
        assert server.bytes_sent == client.bytes_received == len(data)


@pytest.mark.timeout(20)
async def test_tls_ip_address_hostname(server_ctx, client_ctx):
    # server_hostname defaults to the address host; the certificate has
    # IP:127.0.0.1 in subjectAltName
    async with _pair(server_kwargs={'ssl': server_ctx},
                     client_kwargs={'ssl': client_ctx}) as (_, client, server):
        client.write(b'x')
        assert await _wait(server.readexactly(1)) == b'x'
        assert client.ssl_object is not None


@pytest.mark.timeout(20)
async def test_tls_wrapped_stream_ssl_object(server_ctx, client_ctx):
    addr = _addr()
    conns = asyncio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr, ssl=server_ctx)
    conn = server = None
    try:
        reader, writer = await _wait(asyncio.open_connection(
            *addr, ssl=client_ctx, server_hostname='localhost'))
        conn = tcp.Connection(reader, writer, name='wrapped')
        server = await _wait(conns.get())
        assert isinstance(conn.ssl_object, ssl.SSLObject)
        conn.write(b'abc')
        assert await _wait(server.readexactly(3)) == b'abc'
        server.write(b'def')
        assert await _wait(conn.readexactly(3)) == b'def'

    finally:
        for c in (conn, server):
            if c is not None:
                await _wait(c.async_close())
        await _wait(srv.async_close())


async def test_plain_tcp_ssl_object_is_none():
    async with _pair() as (_, client, server):
        assert client.ssl_object is None
        assert server.ssl_object is None


@pytest.mark.timeout(20)
@pytest.mark.parametrize('case', ['untrusted', 'wrong_hostname'])
async def test_tls_verification_failure(server_ctx, client_ctx, case):
    addr = _addr()
    accepted = []
    srv = await tcp.listen(accepted.append, addr, ssl=server_ctx)
    try:
        if case == 'untrusted':
            kwargs = {'ssl': ssl.create_default_context(),
                      'server_hostname': 'localhost'}
        else:
            kwargs = {'ssl': client_ctx, 'server_hostname': 'example.com'}

        with pytest.raises(ConnectionError) as e:
            await _wait(tcp.connect(addr, **kwargs))
        assert isinstance(e.value.__cause__, ssl.SSLError)

    finally:
        await _wait(srv.async_close())

    # a failed handshake never reaches connection_cb
    assert accepted == []


@pytest.mark.timeout(20)
async def test_tls_handshake_timeout_passes_through(client_ctx):
    # a plain TCP peer that never answers the ClientHello
    lsock = socket.socket()
    lsock.bind(('127.0.0.1', 0))
    lsock.listen()
    addr = tcp.Address(*lsock.getsockname())
    try:
        start = time.monotonic()
        with pytest.raises(ConnectionError):
            await _wait(tcp.connect(addr, ssl=client_ctx,
                                    server_hostname='localhost',
                                    ssl_handshake_timeout=0.5))
        assert time.monotonic() - start < 5

    finally:
        lsock.close()


async def _run(*args, timeout=30):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await bounded(proc.communicate(), f'process {args}',
                                 timeout)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.timeout(40)
async def test_playground_tls_demo(tls_files):
    # tls_files: skips where openssl is missing, as the playground needs it
    rc, out, err = await _run(str(PLAYGROUND / 'tls_client.py'), '--demo')
    assert rc == 0, err
    assert re.search(r'TLSv1\.[23]', out), out
    assert 'sent' in out and 'received' in out, out


@pytest.mark.timeout(40)
async def test_playground_tls_server_and_client_processes(tls_files):
    cert, key = tls_files
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(PLAYGROUND / 'tls_server.py'),
        '--host', '127.0.0.1', '--port', '0',
        '--cert', str(cert), '--key', str(key), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = (await _wait(server.stdout.readline())).decode()
        match = re.search(r'listening on (\S+):(\d+)', line)
        assert match, line

        rc, out, err = await _run(
            str(PLAYGROUND / 'tls_client.py'),
            '--host', '127.0.0.1', '--port', match.group(2),
            '--cafile', str(cert), '--message', 'hello playground')
        assert rc == 0, err
        assert 'hello playground' in out
        assert re.search(r'TLSv1\.[23]', out), out

    finally:
        if server.returncode is None:
            server.terminate()
        await _wait(server.wait())


# --------------------------------------------------------------------------
# 2. input buffer control
# --------------------------------------------------------------------------

def _limit_kwargs(side, limit):
    """(server_kwargs, client_kwargs); the receiving end is `side`."""
    kwargs = {} if limit is None else {'input_buffer_limit': limit}
    return (kwargs, {}) if side == 'listen' else ({}, kwargs)


def _ends(side, client, server):
    """(sender, receiver)"""
    return (client, server) if side == 'listen' else (server, client)


@pytest.mark.timeout(30)
@pytest.mark.parametrize('side, limit, use_tls', [
    ('listen', 64 * KiB, False),
    ('connect', 64 * KiB, False),
    ('listen', None, False),  # default
    ('connect', None, False),
    ('listen', 64 * KiB, True),
    ('connect', 64 * KiB, True)])
async def test_input_buffer_limit_pauses_reading(side, limit, use_tls,
                                                 request):
    total = 8 * MiB
    effective = tcp.DEFAULT_INPUT_BUFFER_LIMIT if limit is None else limit
    bound = effective + MAX_READ_CHUNK
    if limit is None:
        # a sensible default: bounded, but not tiny
        assert 16 * KiB <= tcp.DEFAULT_INPUT_BUFFER_LIMIT <= 16 * MiB
    payload = os.urandom(total)
    server_kwargs, client_kwargs = _limit_kwargs(side, limit)
    if use_tls:
        server_kwargs['ssl'] = request.getfixturevalue('server_ctx')
        client_kwargs['ssl'] = request.getfixturevalue('client_ctx')
        client_kwargs['server_hostname'] = 'localhost'

    async with _pair(server_kwargs=server_kwargs,
                     client_kwargs=client_kwargs) as (_, client, server):
        sender, receiver = _ends(side, client, server)
        sender.write(payload)
        sender.close()  # FIN after all the data

        await _wait_until(lambda: receiver.bytes_received > effective)
        # reading from the socket is paused: the EOF behind the data never
        # arrives and the buffered amount stays bounded
        await _not_within(receiver.wait_closing(), 1.0)
        assert receiver.is_open
        assert receiver.bytes_received <= bound

        # a readexactly beyond the limit still gets everything
        assert await _wait(receiver.readexactly(total)) == payload
        await _wait(receiver.wait_closing())
        assert receiver.bytes_received == total


@pytest.mark.timeout(30)
@pytest.mark.parametrize('side', ['listen', 'connect'])
async def test_input_buffer_no_limit(side):
    total = 8 * MiB
    payload = os.urandom(total)
    server_kwargs, client_kwargs = _limit_kwargs(side, 0)

    async with _pair(server_kwargs=server_kwargs,
                     client_kwargs=client_kwargs) as (_, client, server):
        sender, receiver = _ends(side, client, server)
        sender.write(payload)
        sender.close()

        # nobody reads, yet everything up to the EOF gets buffered
        await _wait(receiver.wait_closing())
        assert receiver.bytes_received == total
        assert await _wait(receiver.readexactly(total)) == payload
        with pytest.raises(ConnectionError):
            await _wait(receiver.read())


@pytest.mark.timeout(20)
async def test_reset_input_buffer_count_and_new_data():
    async with _pair() as (_, client, server):
        assert await server.reset_input_buffer() == 0

        client.write(b'0123456789')
        client.write(b'abcdefghij')  # coalesced with the first one
        await _wait(client.drain())
        await _wait_until(lambda: server.bytes_received == 20)

        assert await _wait(server.readexactly(3)) == b'012'
        assert await server.reset_input_buffer() == 17
        assert await server.reset_input_buffer() == 0

        client.write(b'new')
        assert await _wait(server.read()) == b'new'

        # a pending read that wants more than is buffered
        task = asyncio.ensure_future(server.readexactly(5))
        client.write(b'xy')
        await _wait_until(lambda: server.bytes_received == 25)
        assert not task.done()
        assert await server.reset_input_buffer() == 2
        client.write(b'ABCDE')
        assert await _wait(task) == b'ABCDE'

        # counters are cumulative; resetting does not change them
        assert server.bytes_received == 30
        assert client.bytes_sent == 30


@pytest.mark.timeout(30)
async def test_reset_input_buffer_resumes_paused_reading():
    limit = 64 * KiB
    total = 8 * MiB
    async with _pair(server_kwargs={'input_buffer_limit': limit}
                     ) as (_, client, server):
        client.write(os.urandom(total))
        client.close()

        await _wait_until(lambda: server.bytes_received > limit)
        discarded = 0
        while discarded < total:
            count = await server.reset_input_buffer()
            assert count > 0
            discarded += count
            if discarded < total:
                # only new data after the reset: reading resumed
                await _wait_until(
                    lambda d=discarded: server.bytes_received > d, timeout=5)
            # never more than a bounded amount buffered at once
            assert server.bytes_received - discarded <= limit + MAX_READ_CHUNK

        assert discarded == total
        await _wait(server.wait_closing())
        assert await server.reset_input_buffer() == 0
        with pytest.raises(ConnectionError):
            await _wait(server.read())


@pytest.mark.parametrize('value', [-1])
async def test_input_buffer_limit_rejects_negative(value):
    with pytest.raises(ValueError):
        await tcp.connect(_addr(), input_buffer_limit=value)
    with pytest.raises(ValueError):
        await tcp.listen(lambda conn: None, _addr(), input_buffer_limit=value)


# --------------------------------------------------------------------------
# 3. names and logs
# --------------------------------------------------------------------------

async def test_names():
    async with _pair(server_kwargs={'name': 'srv'},
                     client_kwargs={'name': 'cli'}) as (srv, client, server):
        assert srv.name == 'srv'
        assert server.name == 'srv'
        assert client.name == 'cli'

    async with _pair() as (srv, client, server):
        assert srv.name is None
        assert server.name is None
        assert client.name is None


def _check_meta(record, conn):
    meta = record.meta
    assert meta['name'] == conn.name
    assert meta['local_addr'] == conn.info.local_addr
    assert meta['remote_addr'] == conn.info.remote_addr


_COMM = 'hat.drivers.tcp.comm'
_DATA_RE = re.compile(r'(sent|received) ([0-9a-fA-F ]+)$')


def _comm_data(records, conn, kind):
    data = b''
    for record in records:
        if record.name != _COMM or record.meta['name'] != conn.name:
            continue
        match = _DATA_RE.search(record.getMessage())
        if match and match.group(1) == kind:
            data += bytes.fromhex(match.group(2))
    return data


def _comm_events(records, conn):
    return [msg for record in records
            if record.name == _COMM and record.meta['name'] == conn.name
            for msg in [record.getMessage()]
            if msg.endswith(('connection opened', 'connection closed'))]


@pytest.mark.timeout(20)
async def test_comm_log_alone(caplog):
    caplog.set_level(logging.DEBUG, logger=_COMM)
    async with _pair(server_kwargs={'name': 'srv'},
                     client_kwargs={'name': 'cli'}) as (_, client, server):
        client.write(b'\x00\x01ping')
        assert await _wait(server.readexactly(6)) == b'\x00\x01ping'
        server.write(b'pong\xff')
        assert await _wait(client.readexactly(5)) == b'pong\xff'
        await _wait(client.async_close())
        await _wait(server.wait_closed())

    records = list(caplog.records)
    assert _comm_data(records, client, 'sent') == b'\x00\x01ping'
    assert _comm_data(records, server, 'received') == b'\x00\x01ping'
    assert _comm_data(records, server, 'sent') == b'pong\xff'
    assert _comm_data(records, client, 'received') == b'pong\xff'
    for conn in (client, server):
        events = _comm_events(records, conn)
        assert len(events) == 2
        assert events[0].endswith('connection opened')
        assert events[1].endswith('connection closed')

    for record in records:
        assert record.name == _COMM  # the module logger stays quiet
        assert record.levelno == logging.DEBUG
        _check_meta(record, client if record.meta['name'] == 'cli'
                    else server)


@pytest.mark.timeout(20)
async def test_comm_log_switched_on_and_off_for_open_connection(caplog):
    """Operators turn the communication log on at run time: connections
    that are already open start (and stop) logging their data."""
    caplog.set_level(logging.INFO, logger=_COMM)
    async with _pair(client_kwargs={'name': 'cli'}) as (_, client, server):
        client.write(b'quiet')
        assert await _wait(server.readexactly(5)) == b'quiet'
        assert not [r for r in caplog.records if r.name == _COMM]

        caplog.set_level(logging.DEBUG, logger=_COMM)
        client.write(b'loud')
        assert await _wait(server.readexactly(4)) == b'loud'
        server.write(b'back')
        assert await _wait(client.readexactly(4)) == b'back'
        assert _comm_data(caplog.records, client, 'sent') == b'loud'
        assert _comm_data(caplog.records, client, 'received') == b'back'

        caplog.set_level(logging.INFO, logger=_COMM)
        caplog.clear()
        client.write(b'quiet again')
        assert await _wait(server.readexactly(11)) == b'quiet again'
        assert not [r for r in caplog.records if r.name == _COMM]


@pytest.mark.timeout(20)
async def test_module_log_without_comm_log(caplog):
    # (caplog.set_level also sets its handler's level: DEBUG last)
    caplog.set_level(logging.INFO, logger=_COMM)
    caplog.set_level(logging.DEBUG, logger='hat.drivers.tcp')
    async with _pair(client_kwargs={'name': 'cli'}) as (_, client, server):
        client.write(b'data')
        assert await _wait(server.readexactly(4)) == b'data'
        await _wait(server.async_close())
        await _wait(client.wait_closed())

    assert caplog.records, 'module logger logs lifetime events at DEBUG'
    assert not [r for r in caplog.records if r.name == _COMM]
    assert not [r for r in caplog.records if _DATA_RE.search(r.getMessage())]


@pytest.mark.timeout(20)
async def test_comm_log_disabled_costs_no_logging_call(caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger=_COMM)
    comm = logging.getLogger(_COMM)
    calls = []
    for attr in ('log', 'debug', '_log', 'makeRecord', 'handle'):
        monkeypatch.setattr(comm, attr,
                            lambda *a, _attr=attr, **kw: calls.append(_attr))

    async with _pair() as (_, client, server):
        for _ in range(10):
            client.write(b'abc')
            assert await _wait(server.readexactly(3)) == b'abc'
            server.write(b'def')
            assert await _wait(client.readexactly(3)) == b'def'

    assert calls == []
    assert not [r for r in caplog.records if r.name == _COMM]


@pytest.mark.timeout(30)
async def test_comm_log_disabled_formats_nothing(caplog):
    """With the communication log off, sent data is not even formatted:
    the hex dump of one 4 MiB write would allocate 12 MiB at once."""
    caplog.set_level(logging.INFO, logger=_COMM)
    size = 4 * MiB
    payload = os.urandom(size)
    async with _pair() as (_, client, server):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            client.write(payload)
            received = 0
            while received < size:
                received += len(await _wait(server.read()))
            peak = tracemalloc.get_traced_memory()[1] - base

        finally:
            tracemalloc.stop()

    assert peak < 2 * size, f'{peak} bytes allocated while sending {size}'


@pytest.mark.timeout(20)
async def test_log_records_carry_meta(caplog):
    caplog.set_level(logging.DEBUG, logger='hat.drivers.tcp')
    addr = _addr()
    conns = asyncio.Queue()

    def on_connection(conn):
        conns.put_nowait(conn)
        raise Exception('callback failed')

    srv = await tcp.listen(on_connection, addr, name='srv')
    try:
        client = await _wait(tcp.connect(addr, name='cli'))
        server = await _wait(conns.get())
        # the failing callback closes the server side; the client sees EOF
        await _wait(client.wait_closing())
        await _wait(client.async_close())
        await _wait(server.wait_closed())

    finally:
        await _wait(srv.async_close())

    errors = [r for r in caplog.records
              if r.name == 'hat.drivers.tcp' and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert 'callback failed' in errors[0].getMessage()
    _check_meta(errors[0], server)

    by_name = {'cli': client, 'srv': server}
    tcp_records = [r for r in caplog.records
                   if r.name.startswith('hat.drivers.tcp')]
    assert any(r.meta['name'] == 'cli' for r in tcp_records)
    for record in tcp_records:
        _check_meta(record, by_name[record.meta['name']])


@pytest.mark.timeout(20)
async def test_meta_routing_handler():
    """A structured handler routes records by meta name."""
    routed = {}

    class Handler(logging.Handler):
        def emit(self, record):
            routed.setdefault(record.meta['name'], []).append(record)

    logger = logging.getLogger('hat.drivers.tcp')
    handler = Handler(logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        async with _pair(server_kwargs={'name': 'a'},
                         client_kwargs={'name': 'b'}) as (_, client, server):
            client.write(b'12')
            assert await _wait(server.readexactly(2)) == b'12'

    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

    assert set(routed) == {'a', 'b'}
    for name, conn in (('a', server), ('b', client)):
        for record in routed[name]:
            _check_meta(record, conn)
    assert _comm_data(routed['b'], client, 'sent') == b'12'
    assert _comm_data(routed['a'], server, 'received') == b'12'


# --------------------------------------------------------------------------
# 4. keepalive
# --------------------------------------------------------------------------

def _keepalive_opts(sock):
    opts = {'keepalive': sock.getsockopt(socket.SOL_SOCKET,
                                         socket.SO_KEEPALIVE)}
    if hasattr(socket, 'TCP_KEEPIDLE'):
        opts['idle'] = sock.getsockopt(socket.IPPROTO_TCP,
                                       socket.TCP_KEEPIDLE)
    if hasattr(socket, 'TCP_KEEPINTVL'):
        opts['interval'] = sock.getsockopt(socket.IPPROTO_TCP,
                                           socket.TCP_KEEPINTVL)
    if hasattr(socket, 'TCP_KEEPCNT'):
        opts['count'] = sock.getsockopt(socket.IPPROTO_TCP,
                                        socket.TCP_KEEPCNT)
    if hasattr(socket, 'TCP_USER_TIMEOUT'):
        opts['user_timeout'] = sock.getsockopt(socket.IPPROTO_TCP,
                                               socket.TCP_USER_TIMEOUT)
    return opts


def _expected_opts(idle, interval, count):
    expected = {'keepalive': 1}
    if hasattr(socket, 'TCP_KEEPIDLE'):
        expected['idle'] = idle
    if hasattr(socket, 'TCP_KEEPINTVL'):
        expected['interval'] = interval
    if hasattr(socket, 'TCP_KEEPCNT'):
        expected['count'] = count
    if hasattr(socket, 'TCP_USER_TIMEOUT'):
        expected['user_timeout'] = (idle + interval * count) * 1000
    return expected


@pytest.mark.timeout(20)
@pytest.mark.parametrize('use_tls', [False, True])
@pytest.mark.parametrize('idle, interval, count', [(1, 1, 2), (7, 3, 5)])
async def test_keepalive_socket_options(idle, interval, count, use_tls,
                                        request):
    if not hasattr(socket, 'SO_KEEPALIVE'):
        pytest.skip('platform has no SO_KEEPALIVE')
    keepalive = {'keepalive_idle': idle, 'keepalive_interval': interval,
                 'keepalive_count': count}
    server_kwargs, client_kwargs = dict(keepalive), dict(keepalive)
    if use_tls:
        server_kwargs['ssl'] = request.getfixturevalue('server_ctx')
        client_kwargs['ssl'] = request.getfixturevalue('client_ctx')
        client_kwargs['server_hostname'] = 'localhost'

    expected = _expected_opts(idle, interval, count)
    async with _pair(server_kwargs=server_kwargs,
                     client_kwargs=client_kwargs) as (_, client, server):
        assert _keepalive_opts(_sock(client)) == expected
        assert _keepalive_opts(_sock(server)) == expected


async def test_keepalive_off_by_default():
    async with _pair() as (_, client, server):
        assert _sock(client).getsockopt(socket.SOL_SOCKET,
                                        socket.SO_KEEPALIVE) == 0
        assert _sock(server).getsockopt(socket.SOL_SOCKET,
                                        socket.SO_KEEPALIVE) == 0


async def test_keepalive_constructor():
    addr = _addr()
    conns = asyncio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr)
    conn = server = None
    try:
        reader, writer = await _wait(asyncio.open_connection(*addr))
        conn = tcp.Connection(reader, writer, name='wrapped',
                              keepalive_idle=2, keepalive_interval=1,
                              keepalive_count=4, input_buffer_limit=0)
        server = await _wait(conns.get())
        assert conn.name == 'wrapped'
        assert conn.ssl_object is None
        assert _keepalive_opts(_sock(conn)) == _expected_opts(2, 1, 4)
        conn.write(b'abc')
        assert await _wait(server.readexactly(3)) == b'abc'
        assert conn.bytes_sent == 3

    finally:
        for c in (conn, server):
            if c is not None:
                await _wait(c.async_close())
        await _wait(srv.async_close())


# A peer that vanishes silently: it runs in its own network namespace,
# joined to this one by a veth pair. Setting its end of the veth down makes
# everything between the two drop silently: no FIN, RST or ICMP reaches
# this side, as if the peer's host had lost power or its cable.

_SILENT_PEER = r'''
import socket, sys

host, peer_host, accepts = sys.argv[1], sys.argv[2], int(sys.argv[3])
ports = [int(i) for i in sys.argv[4:]]
lsock = socket.create_server((peer_host, 0))
lsock.settimeout(10)
print(lsock.getsockname()[1], flush=True)
held = [socket.create_connection((host, port), timeout=10) for port in ports]
held.extend(lsock.accept()[0] for _ in range(accepts))
print('ready', flush=True)
sys.stdin.read()  # hold the connections until killed
'''

_CAP_NET_ADMIN = 12
_CAP_SYS_ADMIN = 21

_silent_link_ids = itertools.count()


def _effective_capabilities():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('CapEff:'):
                return int(line.split()[1], 16)
    return 0


def _keepalive_probes_sent():
    """Keepalive probes sent in this network namespace (TcpExt
    TCPKeepAlive)"""
    with open('/proc/net/netstat') as f:
        lines = [line.split() for line in f]
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names[0] == 'TcpExt:':
            return int(values[names.index('TCPKeepAlive')])
    raise RuntimeError('no TcpExt TCPKeepAlive in /proc/net/netstat')


class _SilentLink:
    """veth pair from this network namespace (`host_dev`, `host_ip`) to
    a new one (`netns`: `peer_dev`, `peer_ip`) on a private /30"""

    def __init__(self, ip):
        n = next(_silent_link_ids) % 1000
        pid = os.getpid()
        self.ip = ip
        self.netns = f'hat-drivers-keepalive-{pid}-{n}'
        self.host_dev = f'hk{pid:x}{n}h'
        self.peer_dev = f'hk{pid:x}{n}p'
        block = (pid * 8 + n) % 16384
        net = f'10.213.{block >> 6}'
        self.host_ip = f'{net}.{(block & 63) * 4 + 1}'
        self.peer_ip = f'{net}.{(block & 63) * 4 + 2}'
        mac = f'02:68:6b:{block >> 8:02x}:{block & 0xff:02x}'
        self.host_mac = f'{mac}:01'
        self.peer_mac = f'{mac}:02'
        self.created = []

    def run(self, *args, check=True):
        result = subprocess.run([self.ip, *args], stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=10)
        if check and result.returncode:
            raise RuntimeError(f'ip {" ".join(args)} failed: '
                               f'{result.stderr.strip()}')
        return result

    def setup(self):
        """Returns the reason why it cannot be set up, None on success"""
        result = self.run('netns', 'add', self.netns, check=False)
        if result.returncode:
            return (f'cannot create a network namespace: '
                    f'{result.stderr.strip()}')
        self.created.append('netns')

        result = self.run('link', 'add', self.host_dev,
                          'address', self.host_mac, 'type', 'veth',
                          'peer', 'name', self.peer_dev,
                          'address', self.peer_mac, 'netns', self.netns,
                          check=False)
        if result.returncode:
            return f'cannot create a veth pair: {result.stderr.strip()}'
        self.created.append('veth')

        netns = ('-n', self.netns)
        for prefix, dev, addr, peer_addr, peer_mac in [
                ((), self.host_dev, self.host_ip, self.peer_ip,
                 self.peer_mac),
                (netns, self.peer_dev, self.peer_ip, self.host_ip,
                 self.host_mac)]:
            # no IPv6 link-local address, so no traffic of its own
            self.run(*prefix, 'link', 'set', dev, 'addrgenmode', 'none')
            self.run(*prefix, 'addr', 'add', f'{addr}/30', 'dev', dev)
            self.run(*prefix, 'link', 'set', dev, 'up')
            # no ARP either: a failing resolution would make the local
            # kernel report "host unreachable" by itself
            self.run(*prefix, 'neigh', 'replace', peer_addr,
                     'lladdr', peer_mac, 'dev', dev, 'nud', 'permanent')
        return None

    def cleanup(self):
        """Removes what `setup` created, also after failures"""
        if 'veth' in self.created:
            # deleting the namespace would remove the pair only later
            self.run('link', 'del', self.host_dev, check=False)
        if 'netns' in self.created:
            # processes left in the namespace (only peers of this test
            # run there) would keep it alive
            result = self.run('netns', 'pids', self.netns, check=False)
            for pid in result.stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            self.run('netns', 'del', self.netns, check=False)
        self.created.clear()

    def host_rx_packets(self):
        path = Path('/sys/class/net', self.host_dev, 'statistics/rx_packets')
        return int(path.read_text())

    async def vanish(self):
        """The peer's end goes down: from now on, everything sent to the
        peer is dropped and nothing comes from it"""
        proc = await asyncio.create_subprocess_exec(
            self.ip, '-n', self.netns, 'link', 'set', self.peer_dev, 'down',
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        try:
            _, err = await _wait(proc.communicate())
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()


@pytest.fixture
def silent_link():
    if not sys.platform.startswith('linux'):
        pytest.skip('needs Linux network namespaces')
    ip = shutil.which('ip', path=os.pathsep.join(
        [os.environ.get('PATH', os.defpath), '/usr/sbin', '/sbin']))
    if ip is None:
        pytest.skip('iproute2 `ip` not found')
    caps = _effective_capabilities()
    for cap, name in [(_CAP_NET_ADMIN, 'CAP_NET_ADMIN'),
                      (_CAP_SYS_ADMIN, 'CAP_SYS_ADMIN')]:
        if not caps & (1 << cap):
            pytest.skip(f'network namespaces need root ({name})')

    link = _SilentLink(ip)
    try:
        reason = link.setup()
        if reason:
            pytest.skip(reason)
        yield link

    finally:
        link.cleanup()


@pytest.mark.timeout(30)
async def test_keepalive_detects_silent_peer(silent_link):
    """A peer that goes silent, without FIN or RST, is detected within the
    configured keepalive time on connected and on accepted connections;
    connections without keepalive on the same path stay open."""
    link = silent_link
    idle, interval, count = 1, 1, 3
    keepalive = {'keepalive_idle': idle, 'keepalive_interval': interval,
                 'keepalive_count': count}
    # probes at idle, idle + interval, ...; dropped after the last one
    # goes unanswered for an interval
    earliest = idle + interval * (count - 1)
    latest = idle + interval * count + 1

    queues = {'listen': asyncio.Queue(), 'listen control': asyncio.Queue()}
    servers = []
    conns = {}
    peer = None
    try:
        for key, kwargs in [('listen', keepalive), ('listen control', {})]:
            servers.append(await tcp.listen(
                queues[key].put_nowait, tcp.Address(link.host_ip, 0),
                **kwargs))
        peer = await asyncio.create_subprocess_exec(
            link.ip, 'netns', 'exec', link.netns,
            sys.executable, '-c', _SILENT_PEER, link.host_ip, link.peer_ip,
            '2', *(str(srv.addresses[0].port) for srv in servers),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = await _wait(peer.stdout.readline())
        assert line.strip().isdigit(), f'peer failed: {line!r}'
        peer_addr = tcp.Address(link.peer_ip, int(line))

        conns['connect'] = await _wait(tcp.connect(peer_addr, **keepalive))
        conns['connect control'] = await _wait(tcp.connect(peer_addr))
        for key, queue in queues.items():
            conns[key] = await _wait(queue.get())
        assert await _wait(peer.stdout.readline()) == b'ready\n'
        # the handshakes are done: the peer sends nothing more (but answers
        # to keepalive probes, should taking the link down below take over
        # keepalive_idle: that only delays the detection)
        ready = time.monotonic()

        probes = _keepalive_probes_sent()
        await link.vanish()
        start = time.monotonic()
        # counted once the link is down: a probe answered while `ip` ran
        # (over keepalive_idle after the handshakes, on a loaded machine)
        # came before
        received = link.host_rx_packets()

        async def detect(conn):
            await conn.wait_closing()
            return time.monotonic() - start

        elapsed = dict(zip(['connect', 'listen'], await _wait(
            asyncio.gather(detect(conns['connect']),
                           detect(conns['listen'])),
            latest + 5), strict=True))

        for key in ['connect', 'listen']:
            # earliest counted from `ready`, latest from `start`: the link
            # went down in between (a process, which may take a while on a
            # loaded machine)
            since_ready = elapsed[key] + (start - ready)
            assert earliest <= since_ready and elapsed[key] <= latest, (
                f'{key}: detected {since_ready:.2f} s after the handshakes, '
                f'{elapsed[key]:.2f} s after the link went down; expected '
                f'{earliest}..{latest} s')
            # the kernel gave up on unanswered probes (a RST would be
            # "reset by peer", a FIN no error at all)
            with pytest.raises(ConnectionError, match='(?i)timed out'):
                await _wait(conns[key].read())

        # nothing at all came from the peer after it vanished
        assert link.host_rx_packets() == received
        # at least `count` probes per keepalive connection went out
        assert _keepalive_probes_sent() - probes >= 2 * count
        # without keepalive, the silent peer goes unnoticed
        for key in ['connect control', 'listen control']:
            assert conns[key].is_open, key

    finally:
        if peer is not None and peer.returncode is None:
            peer.kill()
            await _wait(peer.wait())
        for conn in conns.values():
            await _wait(conn.async_close())
        for srv in servers:
            await _wait(srv.async_close())


async def test_keepalive_arguments_validated():
    with pytest.raises(ValueError):
        await tcp.connect(_addr(), keepalive_interval=1)
    with pytest.raises(ValueError):
        await tcp.listen(lambda conn: None, _addr(), keepalive_idle=-1)


# --------------------------------------------------------------------------
# 5. counters
# --------------------------------------------------------------------------

@pytest.mark.timeout(20)
async def test_byte_counters():
    async with _pair() as (_, client, server):
        for conn in (client, server):
            assert conn.bytes_sent == 0
            assert conn.bytes_received == 0

        client.write(b'a' * 10)
        client.write(bytearray(b'b' * 20))  # coalesced
        client.write(memoryview(b'c' * 30))
        client.write(b'')
        await _wait(client.drain())
        assert await _wait(server.readexactly(60)) == (
            b'a' * 10 + b'b' * 20 + b'c' * 30)

        big = os.urandom(3 * MiB + 7)
        server.write(big)
        await _wait(server.drain())
        assert await _wait(client.readexactly(len(big))) == big

        server.write(b'!')  # a single byte
        assert await _wait(client.readexactly(1)) == b'!'

        assert client.bytes_sent == server.bytes_received == 60
        assert server.bytes_sent == client.bytes_received == len(big) + 1

        with pytest.raises(TypeError):
            client.write('not bytes')
        await _wait(client.async_close())
        with pytest.raises(ConnectionError):
            client.write(b'late')
        await _wait(server.wait_closing())

        # counters survive closing and rejected writes
        assert client.bytes_sent == server.bytes_received == 60
        assert server.bytes_sent == client.bytes_received == len(big) + 1


# --------------------------------------------------------------------------
# 6. IPv6
# --------------------------------------------------------------------------

def _ipv6_unavailable():
    if not socket.has_ipv6:
        return 'Python built without IPv6 support'
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(('::1', 0))
    except OSError as e:
        return f'no IPv6 loopback (::1) on this machine: {e}'
    return None


requires_ipv6 = pytest.mark.skipif(_ipv6_unavailable() is not None,
                                   reason=str(_ipv6_unavailable()))


async def _exchange(client, server):
    client.write(b'ping')
    assert await _wait(server.readexactly(4)) == b'ping'
    server.write(b'pong')
    assert await _wait(client.readexactly(4)) == b'pong'


@requires_ipv6
async def test_ipv6_loopback():
    addr = _addr('::1')
    async with _pair(addr) as (srv, client, server):
        assert srv.addresses == [addr]
        assert client.info.remote_addr == addr
        assert server.info.local_addr == addr
        assert client.info.local_addr == server.info.remote_addr
        for conn in (client, server):
            for a in conn.info:
                # plain (host, port), no flowinfo/scope_id
                assert type(a) is tcp.Address and len(a) == 2
                assert a.host == '::1'
        await _exchange(client, server)


@requires_ipv6
async def test_ipv6_any():
    addr = _addr('::')
    async with _pair(addr, connect_addr=tcp.Address('::1', addr.port)
                     ) as (srv, client, server):
        assert srv.addresses == [addr]
        assert server.info.local_addr == tcp.Address('::1', addr.port)
        await _exchange(client, server)


_LOOPBACK = {'0.0.0.0': '127.0.0.1', '::': '::1'}


@requires_ipv6
@pytest.mark.timeout(20)
@pytest.mark.parametrize('host', [None, ''])
@pytest.mark.parametrize('fixed_port', [True, False])
async def test_wildcard_listens_on_several_addresses(host, fixed_port):
    port = util.get_unused_tcp_port() if fixed_port else 0
    conns = asyncio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address(host, port))
    opened = []
    try:
        addresses = srv.addresses
        assert {a.host for a in addresses} >= {'0.0.0.0', '::'}
        for a in addresses:
            assert type(a) is tcp.Address and len(a) == 2
            assert a.port > 0
            if fixed_port:
                assert a.port == port

        for a in addresses:
            if a.host not in _LOOPBACK:
                continue
            target = tcp.Address(_LOOPBACK[a.host], a.port)
            client = await _wait(tcp.connect(target))
            opened.append(client)
            server = await _wait(conns.get())
            opened.append(server)
            assert client.info.remote_addr == target
            assert server.info.local_addr == target
            await _exchange(client, server)

    finally:
        for conn in opened:
            await _wait(conn.async_close())
        await _wait(srv.async_close())
