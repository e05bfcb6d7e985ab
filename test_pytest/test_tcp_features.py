"""Production features of hat.drivers.tcp: TLS, input buffer control, names
and logs, keepalive, byte counters and IPv6.

Every test bounds its awaits with a timeout and closes every connection and
server it creates.

"""

import asyncio
import contextlib
import inspect
import logging
import os
import re
import shutil
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
    return await asyncio.wait_for(aw, timeout)


async def _wait_until(predicate, timeout=TIMEOUT):
    """Poll a condition that has no awaitable event, such as bytes received
    by a connection but not read yet (reading would consume them)."""

    async def poll():
        # no event exists for this
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), timeout)


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

@pytest.fixture(scope='session')
def tls_files(tmp_path_factory):
    """Throwaway self-signed certificate for localhost / 127.0.0.1."""
    openssl = shutil.which('openssl')
    if openssl is None:
        pytest.skip('openssl CLI not found: cannot create a test certificate')

    path = tmp_path_factory.mktemp('tls')
    cert, key = path / 'cert.pem', path / 'key.pem'
    subprocess.run(
        [openssl, 'req', '-x509', '-newkey', 'ec',
         '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
         '-keyout', str(key), '-out', str(cert), '-days', '1',
         '-subj', '/CN=localhost',
         '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        check=True, capture_output=True, timeout=30)
    return cert, key


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
        await client.drain()
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
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
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
        await client.drain()
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


TCP_REPAIR = 19


def _tcp_repair_available():
    if not sys.platform.startswith('linux'):
        return 'TCP_REPAIR is Linux only'
    sock = socket.socket()
    try:
        sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    except OSError as e:
        return f'TCP_REPAIR not permitted (needs CAP_NET_ADMIN/root): {e}'
    finally:
        sock.close()
    return None


def _vanish(sock):
    """Close a socket without FIN or RST: the kernel drops it silently."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
    sock.close()


@pytest.mark.timeout(30)
@pytest.mark.parametrize('side', ['listen', 'connect'])
async def test_keepalive_detects_vanished_peer(side):
    reason = _tcp_repair_available()
    if reason:
        pytest.skip(reason)

    idle, interval, count = 1, 1, 2
    keepalive = {'keepalive_idle': idle, 'keepalive_interval': interval,
                 'keepalive_count': count}
    bound = idle + interval * count + 2

    conns = []
    servers = []
    peers = []
    lsock = None
    try:
        if side == 'listen':
            # our servers accept; raw peers connect and vanish
            for kwargs in (keepalive, {}):
                queue = asyncio.Queue()
                addr = _addr()
                servers.append(await tcp.listen(queue.put_nowait, addr,
                                                **kwargs))
                peer = socket.socket()
                peers.append(peer)
                peer.setblocking(False)
                await _wait(asyncio.get_running_loop().sock_connect(
                    peer, addr))
                conns.append(await _wait(queue.get()))

        else:
            # we connect to a raw listening socket whose peers vanish
            lsock = socket.socket()
            lsock.bind(('127.0.0.1', 0))
            lsock.listen()
            addr = tcp.Address(*lsock.getsockname())
            for kwargs in (keepalive, {}):
                conns.append(await _wait(tcp.connect(addr, **kwargs)))
                peer, _ = lsock.accept()
                peers.append(peer)

        conn, control = conns
        for peer in peers:
            _vanish(peer)

        start = time.monotonic()
        await _wait(conn.wait_closing(), bound)
        elapsed = time.monotonic() - start
        assert elapsed >= idle * 0.5, 'closed before any keepalive probe'
        # the peer really left without FIN/RST: without keepalive the
        # connection is still believed open
        assert control.is_open

    finally:
        for conn in conns:
            await _wait(conn.async_close())
        for srv in servers:
            await _wait(srv.async_close())
        for peer in peers:
            peer.close()
        if lsock is not None:
            lsock.close()


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
        await client.drain()
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
