"""Behaviour tests for `hat.drivers.tcp`.

All traffic stays on the loopback interface. Tests that need something to
*not* happen use a short wait; everything else awaits events/futures.

"""

import asyncio
import contextlib
import contextvars
import errno
import gc
import logging
import os
import socket
import struct
import time

import pytest

from hat import aio
from hat import util
from hat.drivers import tcp

from chaos import bounded


pytestmark = pytest.mark.timeout(15)

# how long a test waits for something that must happen
WAIT = 5
# how long a test waits to prove that something does NOT happen
IDLE = 0.2


# ---------------------------------------------------------------- helpers


@pytest.fixture
def addr():
    return tcp.Address('127.0.0.1', util.get_unused_tcp_port())


async def close_all(*resources):
    """Close every resource (None skipped), concurrently, and wait"""
    resources = [r for r in resources if r is not None]
    for r in resources:
        r.close()
    await bounded(asyncio.gather(*(r.async_close() for r in resources)))


@contextlib.asynccontextmanager
async def conn_pair(addr, srv_kwargs=None, conn_kwargs=None):
    """Yield (client, server) connections; everything is closed on exit"""
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr, **(srv_kwargs or {}))
    client = server = None
    try:
        client = await bounded(tcp.connect(addr, **(conn_kwargs or {})))
        server = await bounded(conns.get())
        yield client, server

    finally:
        await close_all(server, client, srv)


@pytest.fixture
async def pair(addr):
    async with conn_pair(addr) as (client, server):
        yield client, server


async def turn_until(condition, timeout=WAIT):
    """Let the loop turn (sleep(0)) until `condition()` holds (bounded)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError('condition not met in time')
        await asyncio.sleep(0)


async def turn(count=10):
    for _ in range(count):
        await asyncio.sleep(0)


async def read_until_error(conn):
    """Read until ConnectionError; return everything read"""
    chunks = []
    while True:
        try:
            chunks.append(await bounded(conn.read()))
        except ConnectionError:
            return b''.join(chunks)


async def assert_not_done(task, timeout=IDLE):
    done, _ = await asyncio.wait([task], timeout=timeout)
    assert not done


def is_asyncio_loop():
    return isinstance(asyncio.get_running_loop(), asyncio.BaseEventLoop)


# ------------------------------------------------------------------ types


def test_address_is_namedtuple_host_port():
    assert tcp.Address._fields == ('host', 'port')
    address = tcp.Address('127.0.0.1', 1234)
    assert isinstance(address, tuple)
    assert address.host == '127.0.0.1'
    assert address.port == 1234
    assert address == ('127.0.0.1', 1234)
    with pytest.raises(TypeError):
        tcp.Address('127.0.0.1', 1234, 5)


def test_connection_info_is_namedtuple_local_remote():
    assert tcp.ConnectionInfo._fields == ('local_addr', 'remote_addr')
    local = tcp.Address('127.0.0.1', 1)
    remote = tcp.Address('127.0.0.1', 2)
    info = tcp.ConnectionInfo(local, remote)
    assert isinstance(info, tuple)
    assert info.local_addr == local
    assert info.remote_addr == remote
    with pytest.raises(TypeError):
        tcp.ConnectionInfo(local, remote, None)


async def test_connection_cb_may_be_plain_function(addr):
    future = asyncio.get_running_loop().create_future()

    def on_connection(conn):
        future.set_result(conn)

    srv = await tcp.listen(on_connection, addr)
    client = server = None
    try:
        client = await bounded(tcp.connect(addr))
        server = await bounded(future)
        assert isinstance(server, tcp.Connection)
        client.write(b'abc')
        assert await bounded(server.readexactly(3)) == b'abc'

    finally:
        await close_all(server, client, srv)


async def test_connection_cb_may_be_coroutine_function(addr):
    future = asyncio.get_running_loop().create_future()

    async def on_connection(conn):
        # the body only runs if the coroutine is actually awaited
        data = await bounded(conn.readexactly(3))
        conn.write(data.upper())
        future.set_result(conn)

    srv = await tcp.listen(on_connection, addr)
    client = server = None
    try:
        client = await bounded(tcp.connect(addr))
        client.write(b'abc')
        assert await bounded(client.readexactly(3)) == b'ABC'
        server = await bounded(future)
        assert isinstance(server, tcp.Connection)

    finally:
        await close_all(server, client, srv)


# ---------------------------------------------------------------- connect


async def test_connect_passes_kwargs_to_loop_local_addr(addr):
    local_port = util.get_unused_tcp_port()
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr)
    client = server = None
    try:
        client = await bounded(tcp.connect(addr, local_addr=('127.0.0.1',
                                                        local_port)))
        server = await bounded(conns.get())
        assert client.info.local_addr == tcp.Address('127.0.0.1', local_port)
        assert server.info.remote_addr == tcp.Address('127.0.0.1',
                                                      local_port)

    finally:
        await close_all(server, client, srv)


async def test_connect_refused_raises_connection_error_chained(addr):
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(addr))

    # ConnectionRefusedError itself is a ConnectionError: require the wrap
    assert isinstance(e.value.__cause__, ConnectionRefusedError)
    assert e.value is not e.value.__cause__


async def test_connect_unbindable_local_addr_raises_connection_error(addr):
    # the local port is taken by a listening socket: bind fails, nothing is
    # sent; the loop raises a plain OSError (EADDRINUSE)
    busy = socket.socket()
    try:
        busy.bind(('127.0.0.1', 0))
        busy.listen()
        with pytest.raises(ConnectionError) as e:
            await bounded(tcp.connect(addr, local_addr=busy.getsockname()))

    finally:
        busy.close()

    assert isinstance(e.value.__cause__, OSError)
    assert not isinstance(e.value.__cause__, ConnectionError)


async def test_connect_unreachable_raises_connection_error(addr,
                                                           monkeypatch):
    error = OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))
    assert not isinstance(error, ConnectionError)
    calls = []

    async def create_connection(*args, **kwargs):
        calls.append((args, kwargs))
        raise error

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, 'create_connection', create_connection)
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(addr))

    assert calls
    assert e.value.__cause__ is error


async def test_connect_name_resolution_failure_raises_connection_error():
    addr = tcp.Address('nonexistent.invalid', util.get_unused_tcp_port())
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(addr))

    assert isinstance(e.value.__cause__, OSError)  # socket.gaierror


async def test_connect_all_resolved_addresses_fail_raises_connection_error(
        monkeypatch):
    if not is_asyncio_loop():
        pytest.skip('uvloop resolves names internally (getaddrinfo cannot '
                    'be patched); see the multiple_exceptions test')

    port = util.get_unused_tcp_port()
    loop = asyncio.get_running_loop()
    calls = []

    async def getaddrinfo(host, *args, **kwargs):
        if host != 'multi.test':
            raise AssertionError(f'unexpected lookup of {host!r}')
        calls.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                 ('127.0.0.1', port)),
                (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                 ('127.0.0.2', port))]

    monkeypatch.setattr(loop, 'getaddrinfo', getaddrinfo)
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(tcp.Address('multi.test', port)))

    assert calls
    cause = e.value.__cause__
    assert isinstance(cause, OSError)
    # asyncio combines the two refusals into a plain OSError
    assert not isinstance(cause, ConnectionError)
    assert 'Multiple exceptions' in str(cause)


async def test_connect_plain_oserror_from_loop_raises_connection_error(
        addr, monkeypatch):
    # what every loop raises when several addresses all fail
    error = OSError('Multiple exceptions: [Errno 111] Connection refused, '
                    '[Errno 111] Connection refused')

    async def create_connection(*args, **kwargs):
        raise error

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, 'create_connection', create_connection)
    with pytest.raises(ConnectionError) as e:
        await bounded(tcp.connect(addr))

    assert e.value.__cause__ is error


# ----------------------------------------------------------------- listen


async def test_listen_port_zero_reports_bound_port():
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0))
    client = server = None
    try:
        assert len(srv.addresses) == 1
        address = srv.addresses[0]
        assert isinstance(address, tcp.Address)
        assert address.host == '127.0.0.1'
        assert address.port != 0

        client = await bounded(tcp.connect(address))
        server = await bounded(conns.get())
        assert server.info.local_addr == address

    finally:
        await close_all(server, client, srv)


@pytest.mark.parametrize('host', [None, ''])
async def test_listen_all_interfaces_reports_bound_addresses(host):
    port = util.get_unused_tcp_port()
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address(host, port))
    client = server = None
    try:
        addresses = srv.addresses
        assert addresses
        for address in addresses:
            assert isinstance(address, tcp.Address)
            assert isinstance(address.host, str)
            assert address.port == port
        assert {'0.0.0.0', '::'} & {a.host for a in addresses}

        client = await bounded(tcp.connect(tcp.Address('127.0.0.1', port)))
        server = await bounded(conns.get())

    finally:
        await close_all(server, client, srv)


@pytest.mark.skipif(not hasattr(socket, 'SO_REUSEPORT'),
                    reason='SO_REUSEPORT not available')
async def test_listen_passes_kwargs_to_loop_reuse_port(addr):
    # without reuse_port reaching the loop, the second listen fails
    srv1 = await tcp.listen(lambda conn: None, addr, reuse_port=True)
    srv2 = None
    try:
        srv2 = await tcp.listen(lambda conn: None, addr, reuse_port=True)
        assert srv2.addresses == [addr]

    finally:
        await close_all(srv1, srv2)


async def test_listen_address_in_use_raises_oserror_naming_address(addr):
    srv = await tcp.listen(lambda conn: None, addr)
    try:
        with pytest.raises(OSError) as e:
            await tcp.listen(lambda conn: None, addr)

        assert e.value.errno == errno.EADDRINUSE
        assert addr.host in str(e.value)
        assert str(addr.port) in str(e.value)

        # the first server is unaffected
        conn = await bounded(tcp.connect(addr))
        await bounded(conn.async_close())

    finally:
        await bounded(srv.async_close())


async def test_connection_cb_called_once_per_connection(addr):
    accepted = []
    queue = aio.Queue()

    def on_connection(conn):
        accepted.append(conn)
        queue.put_nowait(conn)

    srv = await tcp.listen(on_connection, addr)
    clients = []
    try:
        for _ in range(3):
            clients.append(await bounded(tcp.connect(addr)))
            await bounded(queue.get())
        await asyncio.sleep(IDLE)  # no extra calls

        assert len(accepted) == 3
        assert len(set(map(id, accepted))) == 3
        assert ({c.info.remote_addr for c in accepted} ==
                {c.info.local_addr for c in clients})

    finally:
        await close_all(*accepted, *clients, srv)


@pytest.mark.parametrize('is_async', [False, True])
async def test_connection_cb_error_closes_connection_logs_keeps_serving(
        addr, caplog, is_async):
    caplog.set_level(logging.ERROR, logger='hat.drivers.tcp')
    error = RuntimeError('connection-cb-failure')
    accepted = aio.Queue()
    calls = []

    def sync_cb(conn):
        calls.append(conn)
        accepted.put_nowait(conn)
        if len(calls) == 1:
            raise error

    async def async_cb(conn):
        calls.append(conn)
        accepted.put_nowait(conn)
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise error

    srv = await tcp.listen(async_cb if is_async else sync_cb, addr)
    conns = []
    try:
        # first connection: the callback fails
        client1 = await bounded(tcp.connect(addr))
        conns.append(client1)
        server1 = await bounded(accepted.get())
        conns.append(server1)

        await bounded(client1.wait_closing())
        assert not client1.is_open
        with pytest.raises(ConnectionError):
            await bounded(client1.read())
        await bounded(server1.wait_closed())

        records = [r for r in caplog.records
                   if r.name == 'hat.drivers.tcp' and
                   r.levelno >= logging.ERROR]
        assert any((r.exc_info and r.exc_info[1] is error) or
                   'connection-cb-failure' in r.getMessage()
                   for r in records)

        # second connection: served normally
        client2 = await bounded(tcp.connect(addr))
        conns.append(client2)
        server2 = await bounded(accepted.get())
        conns.append(server2)
        await turn()
        client2.write(b'ping')
        assert await bounded(server2.readexactly(4)) == b'ping'
        server2.write(b'pong')
        assert await bounded(client2.readexactly(4)) == b'pong'
        assert server2.is_open and client2.is_open

    finally:
        await close_all(*conns, srv)


async def test_server_close_stops_accepting(addr):
    srv = await tcp.listen(lambda conn: None, addr)
    await bounded(srv.async_close())
    assert srv.is_closed

    with pytest.raises(ConnectionError):
        conn = await bounded(tcp.connect(addr))
        await bounded(conn.async_close())


async def test_server_close_cancels_running_callbacks(addr):
    loop = asyncio.get_running_loop()
    started = loop.create_future()
    cancelled = loop.create_future()

    async def on_connection(conn):
        started.set_result(conn)
        try:
            await loop.create_future()
        except asyncio.CancelledError:
            cancelled.set_result(True)
            raise

    srv = await tcp.listen(on_connection, addr)
    client = server = None
    try:
        client = await bounded(tcp.connect(addr))
        server = await bounded(started)
        assert not cancelled.done()

        await bounded(srv.async_close())
        assert cancelled.done()

    finally:
        await close_all(server, client, srv)


async def test_server_close_with_bind_connections_closes_connections(addr):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr, bind_connections=True)
    clients = []
    servers = []
    close = None
    try:
        for _ in range(2):
            clients.append(await bounded(tcp.connect(addr)))
            servers.append(await bounded(conns.get()))

        # the first server connection still has lots of data to flush, so
        # closing it takes until its client reads: the server must wait
        data = os.urandom(16 * 1024 * 1024)
        servers[0].write(data)

        close = asyncio.create_task(srv.async_close())
        await bounded(clients[1].wait_closing())
        await assert_not_done(close)
        assert servers[1].is_closed
        assert not servers[0].is_closed

        received = await bounded(read_until_error(clients[0]))
        assert received == data

        await bounded(close)
        for server in servers:
            assert server.is_closed

        for client in clients:
            await bounded(client.wait_closing())
            with pytest.raises(ConnectionError):
                await bounded(client.read())

    finally:
        if close is not None:
            close.cancel()
        await close_all(*servers, *clients, srv)


async def test_server_close_without_bind_connections_keeps_connections(
        addr):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr, bind_connections=False)
    client = server = None
    try:
        client = await bounded(tcp.connect(addr))
        server = await bounded(conns.get())

        await bounded(srv.async_close())
        await asyncio.sleep(IDLE)
        assert server.is_open
        assert client.is_open

        client.write(b'ping')
        assert await bounded(server.readexactly(4)) == b'ping'
        server.write(b'pong')
        assert await bounded(client.readexactly(4)) == b'pong'

    finally:
        await close_all(server, client, srv)


# ------------------------------------------------------------------- info


async def test_connection_info_addresses_match_between_peers(addr, pair):
    client, server = pair
    assert isinstance(client.info, tcp.ConnectionInfo)
    assert isinstance(client.info.local_addr, tcp.Address)
    assert isinstance(client.info.remote_addr, tcp.Address)
    assert client.info.remote_addr == addr
    assert server.info.local_addr == addr
    assert client.info.local_addr == server.info.remote_addr
    assert client.info.remote_addr == server.info.local_addr
    assert client.info.local_addr.port != addr.port


# ------------------------------------------------------------------ write


async def test_write_is_synchronous_and_returns_none(pair):
    client, server = pair
    assert not asyncio.iscoroutinefunction(client.write)
    result = client.write(b'abc')
    assert result is None
    assert await bounded(server.readexactly(3)) == b'abc'


async def test_write_accepts_bytes_bytearray_memoryview(pair):
    client, server = pair
    client.write(b'ab')
    client.write(bytearray(b'cd'))
    client.write(memoryview(b'xefx')[1:3])
    assert await bounded(server.readexactly(6)) == b'abcdef'


async def test_write_copies_mutable_buffers(pair):
    client, server = pair
    ba1 = bytearray(b'1111')
    ba2 = bytearray(b'2222')
    ba3 = bytearray(b'3333')
    # several writes within one loop iteration, mutated before any
    # chance to be sent
    client.write(ba1)
    client.write(ba2)
    client.write(memoryview(ba3))
    ba1[:] = b'xxxx'
    ba2[:] = b'yyyy'
    ba3[:] = b'zzzz'
    assert (await bounded(server.readexactly(12)) ==
            b'111122223333')


async def test_write_on_closing_connection_raises_connection_error(pair):
    client, server = pair
    client.close()
    with pytest.raises(ConnectionError):
        client.write(b'abc')


async def test_write_on_closed_connection_raises_connection_error(pair):
    client, server = pair
    await bounded(client.async_close())
    assert client.is_closed
    with pytest.raises(ConnectionError):
        client.write(b'abc')


async def test_write_after_peer_closed_raises_connection_error(pair):
    client, server = pair
    await bounded(server.async_close())
    await bounded(client.wait_closing())
    with pytest.raises(ConnectionError):
        client.write(b'abc')


# ------------------------------------------------------------------ drain


async def test_drain_waits_while_peer_does_not_read(pair):
    client, server = pair
    data = os.urandom(16 * 1024 * 1024)
    client.write(data)
    drain = asyncio.create_task(client.drain())
    try:
        await assert_not_done(drain)

        received = await bounded(server.readexactly(len(data)))
        assert received == data
        await bounded(drain)

    finally:
        drain.cancel()


@pytest.mark.parametrize('written', [b'', b'abc'])
async def test_drain_returns_without_suspending_when_not_backpressured(
        pair, written):
    client, server = pair
    if written:
        client.write(written)
    coro = client.drain()
    try:
        with pytest.raises(StopIteration):
            coro.send(None)

    finally:
        coro.close()

    if written:
        assert (await bounded(server.readexactly(len(written))) == written)


# ------------------------------------------------------------------- read


async def test_read_waits_for_at_least_one_byte(pair):
    client, server = pair
    read = asyncio.create_task(client.read())
    try:
        await assert_not_done(read)
        server.write(b'abc')
        assert await bounded(read) == b'abc'

    finally:
        read.cancel()


@pytest.mark.parametrize('pending', [False, True])
async def test_read_default_returns_available_bytes_without_eof(pair,
                                                                pending):
    client, server = pair
    read = None
    try:
        if pending:
            # read called before the data arrives
            read = asyncio.create_task(client.read())
            await turn()
            assert not read.done()
            server.write(b'abc')
        else:
            # read called with the data already buffered
            server.write(b'abc')
            await turn_until(lambda: client.bytes_received == 3)
            read = asyncio.create_task(client.read())

        # the peer stays open: read() must not wait for EOF
        assert await bounded(read) == b'abc'
        assert client.is_open

    finally:
        if read is not None:
            read.cancel()


async def test_read_returns_at_most_n_bytes(pair):
    client, server = pair
    data = b'0123456789'
    server.write(data)
    received = b''
    while len(received) < len(data):
        chunk = await bounded(client.read(4))
        assert 1 <= len(chunk) <= 4
        received += chunk
    assert received == data


async def test_read_minus_one_returns_everything_buffered(pair):
    client, server = pair
    server.write(b'abc')
    await bounded(server.drain())
    server.close()
    await bounded(client.wait_closing())
    # everything buffered is returned by one read(-1)
    assert await bounded(client.read(-1)) == b'abc'


async def test_read_zero_returns_empty_bytes(pair):
    client, server = pair
    assert await bounded(client.read(0)) == b''
    server.write(b'abc')
    assert await bounded(client.readexactly(1)) == b'a'
    assert await bounded(client.read(0)) == b''
    assert await bounded(client.readexactly(2)) == b'bc'


async def test_readexactly_returns_exactly_n_bytes_across_chunks(pair):
    client, server = pair
    read = asyncio.create_task(client.readexactly(6))
    try:
        server.write(b'ab')
        await assert_not_done(read)
        server.write(b'cd')
        await assert_not_done(read)
        server.write(b'efgh')
        assert await bounded(read) == b'abcdef'
        assert await bounded(client.readexactly(2)) == b'gh'

    finally:
        read.cancel()


async def test_readexactly_eof_raises_and_consumes_partial_data(pair):
    client, server = pair
    server.write(b'abc')
    await bounded(server.async_close())
    await bounded(client.wait_closing())

    with pytest.raises(ConnectionError):
        await bounded(client.readexactly(5))

    # the partial b'abc' is gone
    with pytest.raises(ConnectionError):
        await bounded(client.read())


async def test_pending_readexactly_eof_raises_and_consumes_partial_data(
        pair):
    client, server = pair
    read = asyncio.create_task(client.readexactly(5))
    try:
        await turn()
        server.write(b'abc')
        await bounded(server.drain())
        await bounded(server.async_close())

        with pytest.raises(ConnectionError):
            await bounded(read)
        with pytest.raises(ConnectionError):
            await bounded(client.read())

    finally:
        read.cancel()


# ------------------------------------------------- data retained on close


async def test_received_bytes_readable_after_peer_closed(pair):
    client, server = pair
    server.write(b'hello world')
    await bounded(server.async_close())
    await bounded(client.wait_closing())
    assert not client.is_open

    assert await bounded(client.readexactly(5)) == b'hello'
    assert await bounded(client.read()) == b' world'
    with pytest.raises(ConnectionError):
        await bounded(client.read())
    with pytest.raises(ConnectionError):
        await bounded(client.readexactly(1))


async def test_received_bytes_readable_after_own_close(pair):
    client, server = pair
    server.write(b'hello world')
    await bounded(server.async_close())
    await bounded(client.wait_closing())
    await bounded(client.async_close())
    assert client.is_closed

    assert await bounded(client.readexactly(5)) == b'hello'
    assert await bounded(client.read()) == b' world'
    with pytest.raises(ConnectionError):
        await bounded(client.read())


async def test_received_bytes_readable_after_own_close_peer_open(pair):
    client, server = pair
    server.write(b'hello world')
    await turn_until(lambda: client.bytes_received == 11)
    await bounded(client.async_close())
    assert client.is_closed

    assert await bounded(client.read()) == b'hello world'
    with pytest.raises(ConnectionError):
        await bounded(client.read())


# ---------------------------------------------------- concurrent readers


async def test_concurrent_reads_served_in_call_order(pair):
    client, server = pair
    tasks = [asyncio.create_task(client.readexactly(3)),
             asyncio.create_task(client.readexactly(3)),
             asyncio.create_task(client.read(3)),
             asyncio.create_task(client.readexactly(3))]
    try:
        await turn()
        server.write(b'abcdefghijkl')
        results = await bounded(asyncio.gather(*tasks))
        assert results == [b'abc', b'def', b'ghi', b'jkl']

    finally:
        for task in tasks:
            task.cancel()


@pytest.mark.parametrize('method', ['read', 'readexactly'])
@pytest.mark.parametrize('called', ['before_data', 'after_data'])
async def test_read_waits_behind_earlier_pending_readexactly(pair, method,
                                                             called):
    client, server = pair
    first = asyncio.create_task(client.readexactly(5))
    second = None
    try:
        await turn()
        if called == 'before_data':
            second = asyncio.create_task(getattr(client, method)(2))
            await turn()

        server.write(b'ab')
        await turn_until(lambda: client.bytes_received == 2)
        if called == 'after_data':
            second = asyncio.create_task(getattr(client, method)(2))

        # b'ab' could satisfy the second call but belongs to the first
        await assert_not_done(second)
        assert not first.done()

        server.write(b'cdefg')
        assert await bounded(first) == b'abcde'
        assert await bounded(second) == b'fg'

    finally:
        first.cancel()
        if second is not None:
            second.cancel()


@pytest.mark.parametrize('method', ['read', 'readexactly'])
async def test_cancelled_pending_read_loses_no_bytes(pair, method):
    client, server = pair
    first = asyncio.create_task(getattr(client, method)(3))
    second = asyncio.create_task(client.readexactly(3))
    try:
        await turn()
        first.cancel()
        await turn()
        assert first.cancelled()

        server.write(b'xyz')
        assert await bounded(second) == b'xyz'

        third = asyncio.create_task(getattr(client, method)(3))
        await turn()
        third.cancel()
        server.write(b'123')
        assert await bounded(client.readexactly(3)) == b'123'

    finally:
        first.cancel()
        second.cancel()


async def test_cancelled_reader_leaving_resumes_paused_reading(addr):
    """Bytes arrive while the first reader is cancelled but still queued, so
    reading pauses (the 10 bytes are over the limit and its need is met).
    When it leaves the queue, the reader behind it needs more than is
    buffered: reading must resume (found by the property test)."""
    async with conn_pair(addr, conn_kwargs={'input_buffer_limit': 1}) as (
            client, server):
        first = asyncio.create_task(client.readexactly(4))
        second = asyncio.create_task(client.readexactly(100))
        try:
            await turn()
            server.write(b'x' * 10)
            # on the asyncio loop, the next iteration runs this task first
            # and then the arrival: the cancel lands in between
            await asyncio.sleep(0)
            first.cancel()
            await asyncio.sleep(0)
            server.write(b'y' * 94)

            result = await bounded(second)
            if first.cancelled():
                assert result == b'x' * 10 + b'y' * 90
            else:
                assert first.result() == b'x' * 4
                assert result == b'x' * 6 + b'y' * 94

        finally:
            first.cancel()
            second.cancel()
            await asyncio.gather(first, second, return_exceptions=True)


@pytest.mark.parametrize('method', ['read', 'readexactly'])
async def test_cancelled_pending_read_carries_cancel_message(pair, method):
    client, server = pair
    seen = []

    async def reader():
        try:
            await bounded(getattr(client, method)(3))
        except asyncio.CancelledError as e:
            seen.append(e.args)
            raise

    read = asyncio.create_task(reader())
    await turn()
    read.cancel('shutting down')
    with pytest.raises(asyncio.CancelledError):
        await bounded(read)
    assert seen == [('shutting down',)]

    server.write(b'abc')
    assert await bounded(client.readexactly(3)) == b'abc'


@pytest.mark.parametrize('method', ['read', 'readexactly'])
async def test_woken_reader_runs_in_its_own_context(pair, method):
    """A reader resumed by arriving data runs in its task's context, not in
    the context of the transport callback that delivered the data."""
    client, server = pair
    var = contextvars.ContextVar('var', default='unset')

    async def reader(value):
        var.set(value)
        data = await bounded(getattr(client, method)(3))
        return data, var.get()

    first = asyncio.create_task(reader('first'))
    second = asyncio.create_task(reader('second'))
    await turn()
    server.write(b'abcdef')
    assert await bounded(first) == (b'abc', 'first')
    assert await bounded(second) == (b'def', 'second')


async def test_readexactly_zero_returns_empty_bytes_at_once(pair):
    client, server = pair
    pending = asyncio.create_task(client.readexactly(2))
    await turn()
    assert await bounded(client.readexactly(0)) == b''
    assert not pending.done()
    server.write(b'xy')
    assert await bounded(pending) == b'xy'

    await bounded(server.async_close())
    await bounded(client.wait_closing())
    assert await bounded(client.readexactly(0)) == b''


@pytest.mark.parametrize('method', ['read', 'readexactly'])
@pytest.mark.parametrize('next_reader', ['queued', 'later'])
async def test_read_cancelled_as_data_arrives_loses_no_bytes(
        pair, method, next_reader):
    client, server = pair
    readers = [asyncio.create_task(getattr(client, method)(3))
               for _ in range(2)]
    queued = (asyncio.create_task(client.readexactly(3))
              if next_reader == 'queued' else None)
    try:
        await turn()
        assert not any(reader.done() for reader in readers)

        server.write(b'abcdef')
        # data_received runs after this task's step within a loop
        # iteration, so a reader woken by the arrival (or by the reader
        # before it consuming its share) resumes behind our next step:
        # cancel the first reader still waiting at that point - it has
        # been woken for the data but has not resumed yet
        await turn_until(lambda: client.bytes_received == 6)
        waiting = [reader for reader in readers if not reader.done()]
        assert waiting, 'no reader left in the woken-not-resumed state'
        victim = waiting[0]
        assert victim.cancel()

        with pytest.raises(asyncio.CancelledError):
            await bounded(victim)

        received = b''
        for reader in readers:
            if reader is not victim:
                received += await bounded(reader)
        if queued is not None:
            received += await bounded(queued)
        else:
            received += await bounded(client.readexactly(3))
        assert received == b'abcdef'

    finally:
        for reader in readers:
            reader.cancel()
        if queued is not None:
            queued.cancel()


# --------------------------------------------- peer close/reset detection


async def test_peer_close_noticed_without_pending_read(pair):
    client, server = pair
    assert client.is_open
    await bounded(server.async_close())
    await bounded(client.wait_closing())
    assert not client.is_open
    await bounded(client.wait_closed())


async def test_peer_reset_noticed_without_pending_read(addr):
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server = None
    try:
        raw.settimeout(WAIT)
        raw.connect(addr)  # loopback handshake completes in the kernel
        server = await bounded(conns.get())
        await turn()
        assert server.is_open

        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                       struct.pack('ii', 1, 0))
        raw.close()  # sends RST

        await bounded(server.wait_closing())
        assert not server.is_open
        with pytest.raises(ConnectionError):
            await bounded(server.read())

    finally:
        raw.close()
        await close_all(server, srv)


# ------------------------------------------------------------------ close


@pytest.mark.parametrize('method', ['read', 'readexactly'])
async def test_close_fails_pending_reads(pair, method):
    client, server = pair
    tasks = [asyncio.create_task(getattr(client, method)(3))
             for _ in range(2)]
    try:
        await turn()
        client.close()
        for task in tasks:
            with pytest.raises(ConnectionError):
                await bounded(task)

    finally:
        for task in tasks:
            task.cancel()


async def test_close_flushes_written_data_then_sends_fin(pair):
    client, server = pair
    data = os.urandom(8 * 1024 * 1024)
    client.write(b'first')
    client.write(data)
    client.close()

    received = await bounded(read_until_error(server))
    assert len(received) == len(data) + 5
    assert received == b'first' + data
    await bounded(client.wait_closed())


# ------------------------------------ wrapping a StreamReader/StreamWriter


class StreamPeer:
    """An asyncio StreamReader/StreamWriter pair connected to `server`, a
    `tcp` connection; `wrap` makes the `tcp.Connection` under test"""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.server = None
        self.conn = None

    def wrap(self, *args, **kwargs):
        self.conn = tcp.Connection(self.reader, self.writer, *args, **kwargs)
        return self.conn


@contextlib.asynccontextmanager
async def stream_peer(addr, **open_kwargs):
    """Yield a `StreamPeer`; everything is closed on exit (the pair itself
    only if it was never wrapped)"""
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, addr)
    peer = None
    try:
        # no reference to reader or writer here: a test may drop them
        peer = StreamPeer(*await asyncio.open_connection(*addr,
                                                         **open_kwargs))
        peer.server = await bounded(conns.get())
        yield peer

    finally:
        if peer is not None and peer.conn is None:
            peer.writer.close()
        await close_all(peer and peer.server, peer and peer.conn, srv)


async def test_wrap_stream_reader_writer(addr):
    async with stream_peer(addr) as peer:
        conn, server = peer.wrap(), peer.server

        assert conn.info.local_addr == server.info.remote_addr
        assert conn.info.remote_addr == server.info.local_addr
        assert conn.info.remote_addr == addr

        conn.write(b'ping')
        assert await bounded(server.readexactly(4)) == b'ping'
        server.write(b'pong')
        assert await bounded(conn.readexactly(4)) == b'pong'
        server.write(b'xy')
        assert await bounded(conn.read()) == b'xy'


async def test_wrap_keeps_bytes_already_buffered_in_reader(addr):
    async with stream_peer(addr) as peer:
        peer.server.write(b'early bytes')
        await turn_until(lambda: len(peer.reader._buffer) == 11)

        conn = peer.wrap()
        peer.server.write(b' and late')
        assert (await bounded(conn.readexactly(20)) ==
                b'early bytes and late')


async def test_wrap_after_peer_closed_keeps_buffered_bytes(addr):
    async with stream_peer(addr) as peer:
        peer.server.write(b'last words')
        await bounded(peer.server.async_close())
        await turn_until(lambda: peer.reader._eof and
                         len(peer.reader._buffer) == 10)

        conn = peer.wrap()
        await bounded(conn.wait_closing())
        assert not conn.is_open
        assert await bounded(conn.read()) == b'last words'
        with pytest.raises(ConnectionError):
            await bounded(conn.read())


async def test_wrap_resumes_reader_paused_by_stream_limit(addr):
    # the StreamReader paused the transport (its buffer is over its limit);
    # the connection must resume reading to receive the rest
    async with stream_peer(addr, limit=1024) as peer:
        data = os.urandom(256 * 1024)
        peer.server.write(data)
        await turn_until(lambda: len(peer.reader._buffer) > 2048 and
                         not peer.writer.transport.is_reading())

        conn = peer.wrap()
        assert (await bounded(conn.readexactly(len(data))) ==
                data)


async def test_wrap_keeps_reading_paused_over_input_buffer_limit(addr):
    # the StreamReader had buffered more than the connection's own limit:
    # reading stays paused (memory stays bounded) until the bytes are read
    async with stream_peer(addr, limit=64 * 1024) as peer:
        data = os.urandom(4 * 1024 * 1024)
        peer.server.write(data)
        await turn_until(lambda: len(peer.reader._buffer) > 64 * 1024 and
                         not peer.writer.transport.is_reading())
        buffered = len(peer.reader._buffer)

        conn = peer.wrap(input_buffer_limit=16 * 1024)
        assert not peer.writer.transport.is_reading()
        await asyncio.sleep(IDLE)
        assert conn.bytes_received == buffered

        assert (await bounded(conn.readexactly(len(data))) ==
                data)


async def test_wrap_survives_caller_dropping_reader_and_writer(addr):
    # the connection takes over the transport: the caller does not keep
    # (and should not need to keep) the StreamReader/StreamWriter objects
    async with stream_peer(addr) as peer:
        conn = peer.wrap()
        peer.reader = peer.writer = None
        gc.collect()
        await turn()

        assert conn.is_open
        peer.server.write(b'ping')
        assert await bounded(conn.readexactly(4)) == b'ping'
        conn.write(b'pong')
        assert (await bounded(peer.server.readexactly(4)) ==
                b'pong')


async def test_wrap_async_group_closing_closes_connection(addr):
    group = aio.Group()
    try:
        async with stream_peer(addr) as peer:
            conn = peer.wrap(group)
            assert conn.is_open

            await bounded(group.async_close())
            assert conn.is_closing
            await bounded(conn.wait_closed())
            await bounded(peer.server.wait_closing())

    finally:
        await bounded(group.async_close())


# -------------------------------------------------------------- resources


async def test_server_and_connection_are_resources(addr):
    conns = aio.Queue()
    async with await tcp.listen(conns.put_nowait, addr) as srv:
        assert isinstance(srv, aio.Resource)
        assert isinstance(srv.async_group, aio.Group)

        async with await bounded(tcp.connect(addr)) as client:
            async with await bounded(conns.get()) as server:
                assert isinstance(client, aio.Resource)
                assert isinstance(server, aio.Resource)
                assert isinstance(client.async_group, aio.Group)
                assert client.is_open and server.is_open

            assert server.is_closed
        assert client.is_closed
    assert srv.is_closed


# ---------------------------------------------------- bounded input memory


async def test_unread_input_bounded_by_flow_control(addr):
    limit = 64 * 1024
    chunk_size = 64 * 1024
    max_size = 64 * 1024 * 1024
    data = os.urandom(max_size)

    async with conn_pair(addr, srv_kwargs={'input_buffer_limit': limit}
                         ) as (client, server):
        written = 0
        drain = None
        try:
            while written < max_size:
                client.write(data[written:written + chunk_size])
                written += chunk_size
                drain = asyncio.create_task(client.drain())
                done, _ = await bounded(asyncio.wait([drain], timeout=IDLE))
                if not done:
                    break
                await bounded(drain)
                drain = None

            assert drain is not None, 'sender never blocked'

            # nobody reads: the receiver holds a bounded amount and the
            # sender makes no progress
            received = server.bytes_received
            await assert_not_done(drain)
            assert server.bytes_received == received
            # one socket read may overshoot the limit
            assert received <= limit + 512 * 1024

            # reading everything returns every byte in order
            result = await bounded(server.readexactly(written))
            assert result == data[:written]
            await bounded(drain)

        finally:
            if drain is not None:
                drain.cancel()


# ------------------------------------------------------------------- seed


async def test_seed_example():
    addr = tcp.Address('127.0.0.1', util.get_unused_tcp_port())

    conn2_future = asyncio.Future()
    srv = await tcp.listen(conn2_future.set_result, addr)
    conn1 = await bounded(tcp.connect(addr))
    conn2 = await bounded(conn2_future)

    # send from conn1 to conn2
    data = b'123'
    conn1.write(data)
    result = await bounded(conn2.readexactly(len(data)))
    assert result == data

    # send from conn2 to conn1
    data = b'321'
    conn2.write(data)
    result = await bounded(conn1.readexactly(len(data)))
    assert result == data

    await bounded(conn1.async_close())
    await bounded(conn2.async_close())
    await bounded(srv.async_close())
