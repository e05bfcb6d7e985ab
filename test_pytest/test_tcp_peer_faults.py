"""Faults at the peer and at setup, found by replaying public bug reports
(issue 9), and the error each call raises (issue 10, points 6, 7 and 11).

* a producer loop (``write``; ``await drain()``) after the peer reset or
  closed ends in `ConnectionError` within a few iterations;
* closing with the peer's input unread delivers the final response and FIN,
  never a reset, bounded by ``close_timeout``;
* keepalive values the kernel would reject are `ValueError`; any failure
  while setting up a connection is a `ConnectionError` (connect) or a
  logged, closed connection (server);
* ``close_timeout`` bounds a TLS close whose peer never answers;
* a FIN or RST behind unread input is noticed while reading is paused,
  without losing the bytes before it;
* refused, reset, aborted and broken-pipe errors keep their class;
* every keyword argument is checked up front; messages say who closed.

Peers that must misbehave are plain sockets driven from threads; every wait
is bounded. All tests run on asyncio and uvloop (``--uvloop``).

"""

import asyncio
import contextlib
import fcntl
import logging
import select
import socket
import ssl
import struct
import termios
import threading
import time

import pytest

from hat import aio
from hat import util
from hat.drivers import tcp

from chaos import (KiB, MiB, pattern, raw_listener, rst_close, sock_address,
                   wait_until)


WAIT = 5


def _addr():
    return tcp.Address('127.0.0.1', util.get_unused_tcp_port())


async def _bounded(aw, what, timeout=WAIT):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError:
        pytest.fail(f'{what}: not within {timeout} s')


@contextlib.asynccontextmanager
async def _server_conn(**kwargs):
    """A server-side Connection and the raw client socket connected to it"""
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                           bind_connections=True, **kwargs)
    sock = socket.create_connection(tuple(srv.addresses[0]), timeout=WAIT)
    try:
        conn = await _bounded(conns.get(), 'accept')
        yield conn, sock
    finally:
        sock.close()
        await _bounded(srv.async_close(), 'server close')


def _wait_peer_gone(conn_sock_fd):
    # block (without yielding to the event loop) until the kernel has the
    # peer's FIN or RST on this socket
    ready, _, _ = select.select([conn_sock_fd], [], [], WAIT)
    assert ready, 'peer FIN/RST did not arrive'


def _outq(sock):
    # bytes the kernel still holds for sending (Linux SIOCOUTQ)
    data = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(4))
    return struct.unpack('i', data)[0]


def _server_fd(conn):
    return conn._transport.get_extra_info('socket').fileno()


# ------------------------------------------------- 1. producer loop spins

@pytest.mark.parametrize('peer', ['reset', 'close'])
@pytest.mark.timeout(20)
async def test_producer_loop_fails_after_peer_gone(peer, caplog):
    async with _server_conn() as (conn, sock):
        if peer == 'reset':
            rst_close(sock)
        else:
            sock.close()
        _wait_peer_gone(_server_fd(conn))

        # the documented producer loop, with no other await: the loss must
        # surface in it, not only once something else yields
        caplog.set_level(logging.WARNING, logger='asyncio')
        data = b'x' * KiB
        iterations = 0
        with pytest.raises(ConnectionError) as info:
            while iterations < 1000:
                iterations += 1
                conn.write(data)
                await conn.drain()

        assert iterations <= 5, f'{iterations} iterations before an error'
        assert not conn.is_open
        if peer == 'reset':
            assert isinstance(info.value, (ConnectionResetError,
                                           BrokenPipeError)), info.value
        assert not [r for r in caplog.records
                    if 'socket.send() raised' in r.getMessage()]


# ------------------------------------------- 2. close with unread input

class _Uploader(threading.Thread):
    """Raw peer: uploads until its send buffer is full, signals, then reads
    everything until EOF (recording EOF or reset), then closes"""

    def __init__(self, addr, read=True):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(tuple(addr), timeout=WAIT)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * KiB)
        self.read = read
        self.full = threading.Event()
        self.stop = threading.Event()
        self.received = bytearray()
        self.end = None

    def run(self):
        sock = self.sock
        sock.setblocking(False)
        block = b'u' * (64 * KiB)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                sock.send(block)
            except BlockingIOError:
                # full unless the other side reads: make sure it stays so
                _, writable, _ = select.select([], [sock], [], 0.2)
                if not writable:
                    break
        self.full.set()
        if not self.read:
            self.stop.wait(WAIT * 3)
            return
        sock.setblocking(True)
        sock.settimeout(WAIT * 2)
        try:
            while True:
                data = sock.recv(256 * KiB)
                if not data:
                    self.end = 'EOF'
                    break
                self.received += data
        except ConnectionResetError:
            self.end = 'RST'
        except OSError as e:
            self.end = repr(e)
        sock.close()


@pytest.mark.parametrize('size', [25, MiB])
@pytest.mark.timeout(30)
async def test_close_delivers_response_when_peer_input_unread(size):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0))
    peer = _Uploader(srv.addresses[0])
    try:
        conn = await _bounded(conns.get(), 'accept')
        peer.start()
        loop = asyncio.get_running_loop()
        await _bounded(loop.run_in_executor(None, peer.full.wait, WAIT),
                       'peer upload')
        assert await _bounded(conn.readexactly(10), 'read') == b'u' * 10
        response = pattern(0, size)
        conn.write(response)
        await _bounded(conn.drain(), 'drain')
        await _bounded(conn.async_close(), 'close')
        await _bounded(loop.run_in_executor(None, peer.join, WAIT),
                       'peer end')

        assert peer.end == 'EOF', f'stream ended with {peer.end}'
        assert len(peer.received) == size
        assert peer.received == response

    finally:
        peer.stop.set()
        await srv.async_close()


@pytest.mark.timeout(30)
async def test_close_bounded_when_peer_ignores_fin(caplog):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                           close_timeout=0.5)
    peer = _Uploader(srv.addresses[0], read=False)
    try:
        conn = await _bounded(conns.get(), 'accept')
        peer.start()
        loop = asyncio.get_running_loop()
        await _bounded(loop.run_in_executor(None, peer.full.wait, WAIT),
                       'peer upload')
        conn.write(b'bye')
        start = loop.time()
        await _bounded(conn.async_close(), 'close')
        elapsed = loop.time() - start

        assert 0.4 <= elapsed < 2.5, elapsed
        assert conn.is_closed
        assert any('did not finish closing' in r.getMessage()
                   for r in caplog.records)

    finally:
        peer.stop.set()
        peer.join(WAIT)
        peer.sock.close()
        await srv.async_close()


@pytest.mark.timeout(20)
async def test_close_is_immediate_when_peer_input_read():
    # nothing unread, reading not paused: no waiting for the peer's EOF
    async with _server_conn() as (conn, sock):
        sock.sendall(b'abc')
        assert await _bounded(conn.readexactly(3), 'read') == b'abc'
        await _bounded(conn.async_close(), 'close', timeout=1)
        assert conn.is_closed


# ------------------------------------------------- 3. keepalive ranges

@pytest.mark.parametrize('kwargs, name', [
    ({'keepalive_idle': 40000}, 'keepalive_idle'),
    ({'keepalive_idle': 5, 'keepalive_interval': 40000},
     'keepalive_interval'),
    ({'keepalive_idle': 5, 'keepalive_count': 200}, 'keepalive_count'),
    ({'keepalive_idle': 5, 'keepalive_count': 0}, 'keepalive_count'),
    ({'keepalive_idle': 30000, 'keepalive_interval': 30000,
      'keepalive_count': 100}, 'TCP_USER_TIMEOUT'),
    ({'keepalive_idle': float('inf')}, 'keepalive_idle'),
    ({'keepalive_idle': float('nan')}, 'keepalive_idle'),
])
@pytest.mark.timeout(10)
async def test_keepalive_out_of_range(kwargs, name):
    # nothing listens there: a ValueError proves no socket was touched
    with pytest.raises(ValueError, match=name):
        await tcp.connect(_addr(), **kwargs)

    with pytest.raises(ValueError, match=name):
        await tcp.listen(lambda conn: None, _addr(), **kwargs)


@pytest.mark.timeout(10)
async def test_keepalive_limits_accepted():
    async with _server_conn(keepalive_idle=32767, keepalive_interval=1,
                            keepalive_count=127) as (conn, _):
        sock = conn._transport.get_extra_info('socket')
        assert sock.getsockopt(socket.IPPROTO_TCP,
                               socket.TCP_KEEPIDLE) == 32767
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 127


@pytest.fixture
def failing_setup(monkeypatch):
    """Makes setting up the next `count` connections fail as the kernel
    would (EINVAL from setsockopt)"""
    fails = {'left': 0}
    original = tcp._set_keepalive

    def set_keepalive(*args):
        if fails['left']:
            fails['left'] -= 1
            raise OSError(22, 'Invalid argument')
        original(*args)

    monkeypatch.setattr(tcp, '_set_keepalive', set_keepalive)
    return fails


@pytest.mark.timeout(10)
async def test_setup_failure_on_connect_raises_connection_error(
        failing_setup):
    srv = await tcp.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                           bind_connections=True)
    try:
        failing_setup['left'] = 1
        with pytest.raises(ConnectionError) as info:
            await tcp.connect(srv.addresses[0], keepalive_idle=5)
        assert isinstance(info.value.__cause__, OSError)
        assert 'Invalid argument' in str(info.value)

    finally:
        await srv.async_close()


@pytest.mark.timeout(10)
async def test_setup_failure_on_server_logged_and_served_on(
        failing_setup, caplog):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                           bind_connections=True, keepalive_idle=5)
    try:
        failing_setup['left'] = 1
        first = await tcp.connect(srv.addresses[0])
        # the failed connection is closed, never reaches connection_cb
        with pytest.raises(ConnectionError):
            await _bounded(first.read(), 'read of the failed connection')
        await first.async_close()

        errors = [r for r in caplog.records
                  if r.levelno >= logging.ERROR and
                  r.name == 'hat.drivers.tcp']
        assert len(errors) == 1
        assert 'setting up the connection failed' in errors[0].getMessage()
        assert conns.empty()

        second = await tcp.connect(srv.addresses[0])
        server_conn = await _bounded(conns.get(), 'second accept')
        second.write(b'ok')
        assert await _bounded(server_conn.readexactly(2), 'read') == b'ok'
        await second.async_close()

    finally:
        await srv.async_close()


# ----------------------------------------------------- 4. TLS close bound

@pytest.mark.timeout(30)
async def test_tls_close_bounded_by_close_timeout(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    listener = socket.create_server(('127.0.0.1', 0))
    stop = threading.Event()

    def serve():
        # handshake, then neither read (no close_notify answer) nor close
        sock, _ = listener.accept()
        with server_ctx.wrap_socket(sock, server_side=True) as tls:
            tls.settimeout(WAIT)
            stop.wait(WAIT * 4)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        conn = await tcp.connect(sock_address(listener), ssl=client_ctx,
                                 server_hostname='localhost',
                                 close_timeout=1)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await _bounded(conn.async_close(), 'TLS close', timeout=10)
        elapsed = loop.time() - start
        assert elapsed < 3, f'TLS close took {elapsed:.1f} s'

    finally:
        stop.set()
        thread.join(WAIT)
        listener.close()


# ------------------------------------ 5. FIN/RST noticed while paused

@pytest.mark.parametrize('end', ['FIN', 'RST'])
@pytest.mark.timeout(30)
async def test_peer_close_noticed_while_reading_paused(end):
    listener = raw_listener()
    try:
        conn = await tcp.connect(sock_address(listener),
                                 input_buffer_limit=64 * KiB)
        peer, _ = listener.accept()
        peer.setblocking(True)
        # FIN: more than the limit, but little enough that the receiver's
        # kernel takes all of it, and so the FIN behind it; RST overtakes
        # whatever is still queued at the sender
        data = pattern(0, 96 * KiB if end == 'FIN' else MiB)
        loop = asyncio.get_running_loop()
        await _bounded(loop.run_in_executor(None, peer.sendall, data),
                       'peer push')
        if end == 'FIN':
            await wait_until(lambda: _outq(peer) == 0, WAIT,
                             'peer data all in the receiving kernel')
            peer.close()
        else:
            rst_close(peer)

        # no read pending: only the paused-reading check can notice it
        await _bounded(conn.wait_closing(), f'{end} noticed',
                       timeout=tcp.PAUSED_POLL_INTERVAL * 4 + 1)
        assert not conn.is_open

        received = bytearray()
        with pytest.raises(ConnectionError) as info:
            while True:
                received += await _bounded(conn.read(), 'read')

        if end == 'FIN':
            # nothing before the FIN is lost
            assert received == data
            assert type(info.value) is ConnectionError
            assert 'closed by peer' in str(info.value)
        else:
            # what this side had buffered stays readable, in order
            assert len(received) >= 64 * KiB
            assert received == data[:len(received)]
        await conn.async_close()

    finally:
        listener.close()


# --------------------------------------------- 6. specific error classes

@pytest.mark.timeout(10)
async def test_connect_refused_keeps_class():
    with pytest.raises(ConnectionRefusedError) as info:
        await tcp.connect(_addr())
    assert isinstance(info.value.__cause__, ConnectionRefusedError)
    assert info.value.errno == info.value.__cause__.errno


@pytest.mark.timeout(10)
async def test_tls_failure_is_plain_connection_error(tls_files):
    # a plain TCP server: the TLS handshake fails (not a ConnectionError)
    srv = await tcp.listen(lambda conn: conn.write(b'not tls' * 100),
                           tcp.Address('127.0.0.1', 0),
                           bind_connections=True)
    try:
        ctx = ssl.create_default_context(cafile=str(tls_files[0]))
        with pytest.raises(ConnectionError) as info:
            await tcp.connect(srv.addresses[0], ssl=ctx,
                              server_hostname='localhost')
        assert isinstance(info.value.__cause__, ssl.SSLError)

    finally:
        await srv.async_close()


@pytest.mark.timeout(10)
async def test_connect_timeout():
    # accepted by the kernel, never answers the TLS handshake
    listener = raw_listener()
    try:
        ctx = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(tcp.ConnectTimeoutError) as info:
            await tcp.connect(sock_address(listener), ssl=ctx,
                              server_hostname='localhost',
                              connect_timeout=0.3)
        assert loop.time() - start < 3
        assert isinstance(info.value, ConnectionError)
        assert isinstance(info.value, asyncio.TimeoutError)

    finally:
        listener.close()


@pytest.mark.timeout(10)
async def test_wait_for_connect_gives_timeout_error():
    # the documented alternative: asyncio.wait_for raises its own
    # TimeoutError, which is not a ConnectionError
    listener = raw_listener()
    try:
        with pytest.raises(asyncio.TimeoutError) as info:
            await asyncio.wait_for(
                tcp.connect(sock_address(listener),
                            ssl=ssl.create_default_context(),
                            server_hostname='localhost'), 0.3)
        assert not isinstance(info.value, ConnectionError)

    finally:
        listener.close()


@pytest.mark.timeout(10)
async def test_errors_after_reset_keep_class():
    async with _server_conn() as (conn, sock):
        sock.sendall(b'abc')
        rst_close(sock)
        await _bounded(conn.wait_closed(), 'reset noticed')
        # bytes before the reset first, then the reset's class
        assert await conn.read() == b'abc'
        for call in (conn.read(), conn.readexactly(1), conn.drain()):
            with pytest.raises(ConnectionResetError) as info:
                await call
            assert 'reset by peer' in str(info.value)
            assert isinstance(info.value.__cause__, ConnectionResetError)
        with pytest.raises(ConnectionResetError):
            conn.write(b'x')


# ------------------------------------- messages say who closed (10.11)

@pytest.mark.timeout(10)
async def test_message_closed_locally_or_by_peer():
    async with _server_conn() as (conn, sock):
        await conn.async_close()
        with pytest.raises(ConnectionError, match='closed locally') as info:
            conn.write(b'x')
        assert type(info.value) is ConnectionError

    async with _server_conn() as (conn, sock):
        sock.shutdown(socket.SHUT_WR)
        await _bounded(conn.wait_closing(), 'EOF noticed')
        with pytest.raises(ConnectionError, match='closed by peer'):
            await conn.read()


@pytest.mark.timeout(10)
async def test_message_at_eof_with_half_close():
    async with _server_conn(half_close=True) as (conn, sock):
        sock.shutdown(socket.SHUT_WR)
        with pytest.raises(ConnectionError, match='EOF'):
            await _bounded(conn.read(), 'read at EOF')
        assert conn.is_open
        conn.write(b'still')
        await conn.drain()
        assert sock.recv(5) == b'still'


# ------------------------------------------ argument checks (10.7)

@pytest.mark.parametrize('kwargs, error, name', [
    ({'close_timeout': '5'}, TypeError, 'close_timeout'),
    ({'close_timeout': True}, TypeError, 'close_timeout'),
    ({'close_timeout': 0}, ValueError, 'close_timeout'),
    ({'close_timeout': -1.5}, ValueError, 'close_timeout'),
    ({'half_close': 1}, TypeError, 'half_close'),
    ({'name': 5}, TypeError, 'name'),
    ({'input_buffer_limit': 1.5}, TypeError, 'input_buffer_limit'),
    ({'input_buffer_limit': -1}, ValueError, 'input_buffer_limit'),
    ({'keepalive_idle': '5'}, TypeError, 'keepalive_idle'),
    ({'keepalive_idle': 5, 'keepalive_count': 2.0}, TypeError,
     'keepalive_count'),
    ({'keepalive_count': 3}, ValueError, 'keepalive_idle'),
])
@pytest.mark.timeout(10)
async def test_bad_keyword_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        await tcp.connect(_addr(), **kwargs)
    with pytest.raises(error, match=name):
        await tcp.listen(lambda conn: None, _addr(), **kwargs)

    reader, writer = await _stream_pair()
    try:
        with pytest.raises(error, match=name):
            tcp.Connection(reader, writer, **kwargs)
    finally:
        writer.close()


async def _stream_pair():
    srv = await asyncio.start_server(lambda r, w: w.close(), '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        return await asyncio.open_connection('127.0.0.1', port)
    finally:
        srv.close()


@pytest.mark.parametrize('value', ['5', 0, -1, True])
@pytest.mark.timeout(10)
async def test_bad_connect_timeout(value):
    with pytest.raises((TypeError, ValueError), match='connect_timeout'):
        await tcp.connect(_addr(), connect_timeout=value)


@pytest.mark.timeout(10)
async def test_bad_listen_arguments():
    with pytest.raises(TypeError, match='connection_cb'):
        await tcp.listen(None, _addr())
    with pytest.raises(TypeError, match='bind_connections'):
        await tcp.listen(lambda conn: None, _addr(), bind_connections='yes')


@pytest.mark.timeout(10)
async def test_bad_connection_constructor_arguments():
    reader, writer = await _stream_pair()
    try:
        with pytest.raises(TypeError, match='reader'):
            tcp.Connection(None, writer)
        with pytest.raises(TypeError, match='writer'):
            tcp.Connection(reader, None)
        with pytest.raises(TypeError, match='async_group'):
            tcp.Connection(reader, writer, object())
    finally:
        writer.close()


# ------------------------------- found by a hostile tester (bad input)

@pytest.mark.parametrize('value', ['x', 1, object()])
@pytest.mark.timeout(10)
async def test_bad_ssl_rejected_before_any_socket(value):
    # asyncio itself would open the socket, fail with AttributeError and
    # leak the socket
    listener = raw_listener()
    try:
        with pytest.raises(TypeError, match='ssl'):
            await tcp.connect(sock_address(listener), ssl=value)
        with pytest.raises(TypeError, match='ssl'):
            await tcp.listen(lambda conn: None, _addr(), ssl=value)
        with pytest.raises(TypeError, match='ssl'):
            await tcp.listen(lambda conn: None, _addr(), ssl=True)
        # nothing reached the listener
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize('host', ['127.0.0.1\x00evil.example',
                                  'localhost\x00'])
@pytest.mark.timeout(10)
async def test_nul_in_host_rejected(host):
    # uvloop's resolver would cut the name at the NUL and connect
    listener = raw_listener()
    port = sock_address(listener).port
    try:
        with pytest.raises(ValueError, match='NUL'):
            await tcp.connect(tcp.Address(host, port))
        with pytest.raises(ValueError, match='NUL'):
            await tcp.listen(lambda conn: None, tcp.Address(host, 0))
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize('key', ['close_timeout', 'connect_timeout'])
@pytest.mark.parametrize('value', [10 ** 400, float('inf')])
@pytest.mark.timeout(10)
async def test_unrepresentable_timeouts_are_value_errors(key, value):
    with pytest.raises(ValueError, match=key):
        await tcp.connect(_addr(), **{key: value})
    if key == 'close_timeout':
        with pytest.raises(ValueError, match=key):
            await tcp.listen(lambda conn: None, _addr(), **{key: value})


@pytest.mark.timeout(10)
async def test_local_close_then_reset_reads_closed_locally():
    # the reason stays the local close; the later reset lends no errno
    async with _server_conn(input_buffer_limit=1) as (conn, sock):
        # reading paused: closing waits for the peer's EOF, which is a RST
        sock.sendall(b'unread' * 100)
        await wait_until(lambda: conn._reading_paused, WAIT,
                         'reading paused')
        conn.close()
        rst_close(sock)
        await _bounded(conn.wait_closed(), 'closed')
        assert isinstance(conn._lost_exc, ConnectionResetError)
        with pytest.raises(ConnectionError) as info:
            conn.write(b'x')
        assert type(info.value) is ConnectionError
        assert info.value.errno is None
        assert str(info.value).endswith('closed locally')
