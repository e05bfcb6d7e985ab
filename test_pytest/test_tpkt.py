import ast
import asyncio
import contextlib
import logging
import random
from pathlib import Path

import pytest

from hat import aio

from hat.drivers import tcp
from hat.drivers import tpkt

from chaos import bounded
import tshark


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = tcp.Address(localhost, 0)

# COTP TPDUs (ISO 8073), as a real TPKT payload: connection request,
# connection confirm and data (last data unit)
cotp_cr = bytes.fromhex('09 e0 00 00 00 01 00 c0 01 0a')
cotp_cc = bytes.fromhex('09 d0 00 01 00 02 00 c0 01 0a')
cotp_dt_header = bytes.fromhex('02 f0 80')


def cotp_dt(size):
    """COTP data TPDU with `size` bytes in total (header included)"""
    return cotp_dt_header + bytes(i % 251 for i in range(size - 3))


def header(length, version=3, reserved=0):
    return bytes([version, reserved, length >> 8, length & 0xFF])


@contextlib.asynccontextmanager
async def tpkt_pair(**kwargs):
    """Connected (client, server side) TPKT connections and their server
    (`kwargs` are passed to `tpkt.listen`)"""
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port, **kwargs)
    conn1 = conn2 = None
    try:
        conn1 = await bounded(tpkt.connect(srv.addresses[0]))
        conn2 = await bounded(conn_queue.get())
        yield conn1, conn2, srv

    finally:
        for conn in (conn1, conn2):
            if conn is not None:
                await bounded(conn.async_close())
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def raw_to_tpkt():
    """(raw tcp client connection, TPKT server side connection)"""
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port)
    raw = conn = None
    try:
        raw = await bounded(tcp.connect(srv.addresses[0]))
        conn = await bounded(conn_queue.get())
        yield raw, conn

    finally:
        for c in (raw, conn):
            if c is not None:
                await bounded(c.async_close())
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def tpkt_to_raw():
    """(TPKT client connection, raw tcp server side connection)"""
    conn_queue = aio.Queue()
    srv = await tcp.listen(conn_queue.put_nowait, any_port)
    conn = raw = None
    try:
        conn = await bounded(tpkt.connect(srv.addresses[0]))
        raw = await bounded(conn_queue.get())
        yield conn, raw

    finally:
        for c in (conn, raw):
            if c is not None:
                await bounded(c.async_close())
        await bounded(srv.async_close())


class FakeTcpConnection:
    """Stand-in for `tcp.Connection` whose input the test controls.

    Lets a test know that a reader is waiting for more bytes (`waiting`),
    so partial packets and cancellation are tested deterministically.
    Reads follow tcp's rules: concurrent reads are not expected (tpkt
    serialises them), cancelled reads consume nothing.

    """

    def __init__(self):
        self.info = tcp.ConnectionInfo(tcp.Address(localhost, 1),
                                       tcp.Address(localhost, 2))
        self.name = 'fake'
        self.is_open = True
        self._buf = bytearray()
        self._eof = False
        self._changed = asyncio.Event()
        self.waiting = aio.Queue()  # (method, n) of reads that must wait

    def feed(self, data):
        self._buf += data
        self._changed.set()

    def feed_eof(self):
        self._eof = True
        self._changed.set()

    def close(self):
        self.is_open = False
        self.feed_eof()

    async def _wait(self, method, n):
        self._changed.clear()
        self.waiting.put_nowait((method, n))
        await self._changed.wait()

    async def read(self, n):
        while not self._buf:
            if self._eof:
                raise ConnectionError('eof')
            await self._wait('read', n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def readexactly(self, n):
        while len(self._buf) < n:
            if self._eof:
                self._buf.clear()
                raise ConnectionError('eof')
            await self._wait('readexactly', n)
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data


def assert_error_logged(caplog, *fragments):
    records = [r for r in caplog.records
               if r.name == 'hat.drivers.tpkt' and
               r.levelno == logging.ERROR]
    assert len(records) == 1, [r.getMessage() for r in caplog.records]
    msg = records[0].getMessage()
    for fragment in fragments:
        assert fragment in msg, msg
    return records[0]


def assert_no_error_logged(caplog):
    assert not [r for r in caplog.records
                if r.name == 'hat.drivers.tpkt' and
                r.levelno >= logging.WARNING]


# --- API --------------------------------------------------------------------


def test_constants():
    assert tpkt.DEFAULT_PORT == 102
    assert tpkt.VERSION == 3
    assert tpkt.MIN_PAYLOAD_SIZE == 3
    assert tpkt.MAX_PAYLOAD_SIZE == 65531


async def test_connect_listen():
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port,
                            name='srv')
    assert isinstance(srv, aio.Resource)
    assert srv.is_open
    assert srv.name == 'srv'
    assert len(srv.addresses) == 1
    addr = srv.addresses[0]
    assert isinstance(addr, tcp.Address)
    assert addr.host == localhost and addr.port != 0

    conn1 = await bounded(tpkt.connect(addr, name='client'))
    conn2 = await bounded(conn_queue.get())
    assert isinstance(conn1, tpkt.Connection)
    assert isinstance(conn2, tpkt.Connection)
    assert isinstance(conn1, aio.Resource)
    assert conn1.name == 'client'
    assert conn2.name == 'srv'
    assert conn1.info.local_addr == conn2.info.remote_addr
    assert conn1.info.remote_addr == conn2.info.local_addr == addr
    assert isinstance(conn1.info, tcp.ConnectionInfo)
    assert conn1.is_open and conn2.is_open

    conn1.write(cotp_cr)
    assert await bounded(conn2.read()) == cotp_cr
    conn2.write(cotp_cc)
    await bounded(conn2.drain())
    assert await bounded(conn1.read()) == cotp_cc

    await bounded(conn1.async_close())
    assert conn1.is_closed
    # the peer's close is noticed with no read pending
    await bounded(conn2.wait_closed())
    assert not conn2.is_open
    with pytest.raises(ConnectionError):
        await bounded(conn2.read())

    await bounded(srv.async_close())
    assert srv.is_closed


async def test_connect_failure():
    srv = await tcp.listen(lambda conn: None, any_port)
    addr = srv.addresses[0]
    await bounded(srv.async_close())

    with pytest.raises(ConnectionError):
        await bounded(tpkt.connect(addr))


async def test_async_with():
    async with tpkt_pair() as (conn1, conn2, srv):
        async with conn1:
            conn1.write(b'abc')
            assert await bounded(conn2.read()) == b'abc'
        assert conn1.is_closed
        await bounded(conn2.wait_closing())


@pytest.mark.parametrize('coroutine_cb', [False, True])
async def test_connection_cb(coroutine_cb):
    conns = aio.Queue()

    if coroutine_cb:
        async def on_connection(conn):
            # echo one packet, then stay until closed
            conn.write(await bounded(conn.read()))
            conns.put_nowait(conn)
            await conn.wait_closing()  # until closed by the test

    else:
        def on_connection(conn):
            conns.put_nowait(conn)

    srv = await tpkt.listen(on_connection, any_port)
    conn1 = await bounded(tpkt.connect(srv.addresses[0]))
    try:
        if coroutine_cb:
            conn1.write(cotp_cr)
            assert await bounded(conn1.read()) == cotp_cr
        conn2 = await bounded(conns.get())
        assert isinstance(conn2, tpkt.Connection)
        assert conn2.is_open
        await bounded(conn2.async_close())
        await bounded(conn1.wait_closing())

    finally:
        await bounded(conn1.async_close())
        await bounded(srv.async_close())


async def test_connection_cb_error_closes_connection():

    def on_connection(conn):
        raise Exception('cb error')

    srv = await tpkt.listen(on_connection, any_port)
    conn = await bounded(tpkt.connect(srv.addresses[0]))
    try:
        await bounded(conn.wait_closing())
        with pytest.raises(ConnectionError):
            await bounded(conn.read())

    finally:
        await bounded(conn.async_close())
        await bounded(srv.async_close())


@pytest.mark.parametrize('bind_connections', [False, True])
async def test_bind_connections(bind_connections):
    async with tpkt_pair(bind_connections=bind_connections) as (conn1,
                                                                 conn2,
                                                                 srv):
        await bounded(srv.async_close())
        if bind_connections:
            assert conn2.is_closed
            await bounded(conn1.wait_closing())
        else:
            assert conn2.is_open
            conn1.write(cotp_cr)
            assert await bounded(conn2.read()) == cotp_cr


async def test_server_close_cancels_coroutine_cb():
    started = asyncio.Event()

    async def on_connection(conn):
        started.set()
        await conn.read()  # never gets a packet: cancelled

    srv = await tpkt.listen(on_connection, any_port)
    conn1 = await bounded(tpkt.connect(srv.addresses[0]))
    try:
        await bounded(started.wait())
        await bounded(srv.async_close())
        # the cancelled callback's connection was closed
        await bounded(conn1.wait_closing())

    finally:
        await bounded(conn1.async_close())
        await bounded(srv.async_close())


async def test_close_via_async_group():
    async with tpkt_pair() as (conn1, conn2, srv):
        assert conn1.async_group.is_open
        await bounded(conn1.async_group.async_close())
        assert conn1.is_closed
        await bounded(conn2.wait_closing())


async def test_wrap_tcp_connection():
    conn_queue = aio.Queue()
    srv = await tcp.listen(conn_queue.put_nowait, any_port)
    tcp_conn1 = await bounded(tcp.connect(srv.addresses[0]))
    tcp_conn2 = await bounded(conn_queue.get())
    conn1 = tpkt.Connection(tcp_conn1)
    conn2 = tpkt.Connection(tcp_conn2)
    try:
        assert conn1.info == tcp_conn1.info
        conn1.write(cotp_cr)
        assert await bounded(conn2.read()) == cotp_cr
        await bounded(conn1.async_close())
        assert tcp_conn1.is_closed

    finally:
        for conn in (conn1, conn2):
            await bounded(conn.async_close())
        await bounded(srv.async_close())


# --- write ------------------------------------------------------------------


@pytest.mark.parametrize('payload', [
    b'abc',
    cotp_cr,
    cotp_dt(1000),
    cotp_dt(65531),
])
async def test_write_wire_format(payload):
    async with tpkt_to_raw() as (conn, raw):
        conn.write(payload)
        await bounded(conn.drain())
        length = len(payload) + 4
        assert await bounded(raw.readexactly(4)) == bytes(
            [3, 0, length >> 8, length & 0xFF])
        assert await bounded(raw.readexactly(len(payload))) == payload


async def test_write_types():
    async with tpkt_to_raw() as (conn, raw):
        data = bytearray(b'abcd')
        conn.write(data)
        data[0] = ord('x')  # copied: later changes are not sent
        conn.write(memoryview(b'__efgh__')[2:-2])
        # memoryview size counts bytes, not items
        conn.write(memoryview(bytes(8)).cast('I'))
        assert await bounded(raw.readexactly(8)) == header(8) + b'abcd'
        assert await bounded(raw.readexactly(8)) == header(8) + b'efgh'
        assert await bounded(raw.readexactly(12)) == header(12) + bytes(8)
        # not contiguous
        conn.write(memoryview(b'a_b_c_d_')[::2])
        assert await bounded(raw.readexactly(8)) == header(8) + b'abcd'


async def test_write_one_tcp_write():
    # header and payload are one write: packets of consecutive writes are
    # contiguous on the wire
    async with tpkt_to_raw() as (conn, raw):
        payloads = [cotp_dt(n) for n in (3, 4, 100, 7)]
        for payload in payloads:
            conn.write(payload)
        expected = b''.join(header(len(p) + 4) + p for p in payloads)
        assert await bounded(raw.readexactly(len(expected))) == expected


@pytest.mark.parametrize('size', [0, 1, 2, 65532, 100_000])
async def test_write_invalid_size(size):
    async with tpkt_to_raw() as (conn, raw):
        with pytest.raises(ValueError):
            conn.write(bytes(size))
        with pytest.raises(ValueError):
            conn.write(memoryview(bytearray(size)))
        # nothing was sent; the connection stays usable
        conn.write(b'xyz')
        assert await bounded(raw.readexactly(7)) == header(7) + b'xyz'
        assert conn.is_open


@pytest.mark.parametrize('data', ['abc', None, 123, [1, 2, 3]])
async def test_write_invalid_type(data):
    async with tpkt_to_raw() as (conn, raw):
        with pytest.raises(TypeError):
            conn.write(data)


async def test_write_drain_closed():
    async with tpkt_pair() as (conn1, conn2, srv):
        await bounded(conn1.async_close())
        with pytest.raises(ConnectionError):
            conn1.write(cotp_cr)
        with pytest.raises(ConnectionError):
            await bounded(conn1.drain())


# --- read -------------------------------------------------------------------


@pytest.mark.parametrize('size', [3, 4, 7, 1000, 65530, 65531])
async def test_read_sizes(size):
    payload = cotp_dt(size)
    async with tpkt_pair() as (conn1, conn2, srv):
        conn1.write(payload)
        conn2.write(payload)
        assert await bounded(conn2.read()) == payload
        assert await bounded(conn1.read()) == payload


@pytest.mark.timeout(60)
async def test_read_many_random():
    rng = random.Random(1006)
    payloads = [rng.randbytes(rng.choice([3, rng.randint(3, 300),
                                          rng.randint(3, 65531)]))
                for _ in range(300)]

    async with tpkt_pair() as (conn1, conn2, srv):

        async def send():
            for payload in payloads:
                conn1.write(payload)
                await bounded(conn1.drain())

        async with aio.Group() as group:
            group.spawn(send)
            for payload in payloads:
                assert await bounded(conn2.read()) == payload


async def test_read_from_raw_fragments():
    # a stream of packets, sent in fragments that split headers and
    # payloads at every position
    payloads = [cotp_dt(n) for n in (3, 4, 5, 9, 300, 3)]
    stream = b''.join(header(len(p) + 4) + p for p in payloads)

    async with raw_to_tpkt() as (raw, conn):
        for i in range(0, len(stream), 3):
            raw.write(stream[i:i + 3])
            await bounded(raw.drain())
        for payload in payloads:
            assert await bounded(conn.read()) == payload


async def test_read_fragmented_header_and_payload():
    fake = FakeTcpConnection()
    conn = tpkt.Connection(fake)
    payload = cotp_dt(10)
    data = header(14) + payload

    read_task = asyncio.create_task(conn.read())
    for i in range(len(data)):
        method, _ = await bounded(fake.waiting.get())
        # one byte at a time: header bytes through read(), the payload
        # through readexactly()
        assert method == ('read' if i < 4 else 'readexactly')
        fake.feed(data[i:i + 1])
    assert await bounded(read_task) == payload
    assert fake.is_open


async def test_read_cancelled_mid_header_and_payload():
    fake = FakeTcpConnection()
    conn = tpkt.Connection(fake)
    payload = cotp_dt(20)
    data = header(24) + payload

    # cancelled after 2 header bytes were consumed
    read_task = asyncio.create_task(conn.read())
    await bounded(fake.waiting.get())
    fake.feed(data[:2])
    assert await bounded(fake.waiting.get()) == ('read', 2)
    read_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(read_task)

    # cancelled after the header and part of the payload arrived
    read_task = asyncio.create_task(conn.read())
    assert await bounded(fake.waiting.get()) == ('read', 2)
    fake.feed(data[2:10])
    assert await bounded(fake.waiting.get()) == ('readexactly', 20)
    read_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(read_task)

    # the next read completes the packet
    read_task = asyncio.create_task(conn.read())
    assert await bounded(fake.waiting.get()) == ('readexactly', 20)
    fake.feed(data[10:] + header(7) + b'xyz')
    assert await bounded(read_task) == payload
    assert await bounded(conn.read()) == b'xyz'
    assert fake.is_open


async def test_read_cancelled_real_connection():
    async with tpkt_pair() as (conn1, conn2, srv):
        read_task = asyncio.create_task(conn2.read())
        conn1.write(cotp_cr)
        await bounded(conn1.drain())
        read_task.cancel()
        # whether or not the cancelled read got the packet, nothing is lost
        try:
            assert await bounded(read_task) == cotp_cr
        except asyncio.CancelledError:
            assert await bounded(conn2.read()) == cotp_cr
        conn1.write(cotp_cc)
        assert await bounded(conn2.read()) == cotp_cc


async def test_concurrent_reads():
    payloads = [cotp_dt(n) for n in (3, 40000, 5, 65531, 8)]
    async with tpkt_pair() as (conn1, conn2, srv):
        tasks = [asyncio.create_task(conn2.read()) for _ in payloads]
        for payload in payloads:
            conn1.write(payload)
            await bounded(conn1.drain())
        # served in call order, each with one whole packet
        assert await bounded(asyncio.gather(*tasks)) == payloads


async def test_read_after_peer_close():
    # complete packets received before EOF stay readable
    async with tpkt_pair() as (conn1, conn2, srv):
        conn1.write(cotp_cr)
        conn1.write(cotp_dt(100))
        await bounded(conn1.async_close())
        await bounded(conn2.wait_closing())
        assert await bounded(conn2.read()) == cotp_cr
        assert await bounded(conn2.read()) == cotp_dt(100)
        with pytest.raises(ConnectionError):
            await bounded(conn2.read())


async def test_clean_eof_is_not_an_error(caplog):
    async with tpkt_pair() as (conn1, conn2, srv):
        read_task = asyncio.create_task(conn2.read())
        await bounded(conn1.async_close())
        with pytest.raises(ConnectionError):
            await bounded(read_task)
    assert_no_error_logged(caplog)


async def test_local_close_fails_pending_read(caplog):
    async with tpkt_pair() as (conn1, conn2, srv):
        read_tasks = [asyncio.create_task(conn2.read()) for _ in range(3)]
        await bounded(conn2.async_close())
        for read_task in read_tasks:
            with pytest.raises(ConnectionError):
                await bounded(read_task)
    assert_no_error_logged(caplog)


async def test_local_close_mid_packet_not_logged_as_error(caplog):
    fake = FakeTcpConnection()
    conn = tpkt.Connection(fake)
    read_task = asyncio.create_task(conn.read())
    await bounded(fake.waiting.get())
    fake.feed(header(100) + b'abc')
    assert await bounded(fake.waiting.get()) == ('readexactly', 96)
    conn.close()
    with pytest.raises(ConnectionError):
        await bounded(read_task)
    assert_no_error_logged(caplog)


async def wait_received(conn, count):
    """Wait until the TCP connection under TPKT `conn` has received `count`
    bytes (no event exists for that: poll)"""
    async def poll():
        while conn._conn.bytes_received < count:  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    await asyncio.wait_for(poll(), 5)


@pytest.mark.parametrize('how', ['async_group', 'bound_server',
                                 'peer_eof'])
async def test_close_mid_packet_logged_only_when_peer_cut_it(caplog, how):
    """Closing this side through any of its handles while a packet is
    half received is not a protocol error; the peer ending the stream
    there is (ERROR)."""
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port,
                            bind_connections=(how == 'bound_server'))
    raw = conn = None
    try:
        raw = await bounded(tcp.connect(srv.addresses[0]))
        conn = await bounded(conn_queue.get())
        read_task = asyncio.create_task(conn.read())
        raw.write(header(100) + b'abc')
        await wait_received(conn, 7)

        if how == 'async_group':
            await bounded(conn.async_group.async_close())
        elif how == 'bound_server':
            await bounded(srv.async_close())
        else:
            await bounded(raw.async_close())

        with pytest.raises(ConnectionError):
            await asyncio.wait_for(read_task, 5)
        await asyncio.wait_for(conn.wait_closed(), 5)
        if how == 'peer_eof':
            assert_error_logged(caplog, 'packet of length 100')
        else:
            assert_no_error_logged(caplog)

    finally:
        for c in (raw, conn):
            if c is not None:
                await bounded(c.async_close())
        await bounded(srv.async_close())


# --- bad input --------------------------------------------------------------


async def assert_protocol_error(caplog, raw, conn, fragments,
                                pending_read):
    """`raw` has sent bad input to `conn`: assert its consequences"""
    if pending_read is not None:
        with pytest.raises(ConnectionError) as e:
            await bounded(pending_read)
    else:
        with pytest.raises(ConnectionError) as e:
            await bounded(conn.read())
    for fragment in fragments:
        assert fragment in str(e.value)

    record = assert_error_logged(caplog, *fragments)
    assert record.meta['local_addr'] == conn.info.local_addr
    assert record.meta['remote_addr'] == conn.info.remote_addr

    # the connection is closed, the peer notices
    await bounded(conn.wait_closed())
    assert not conn.is_open
    await bounded(raw.wait_closing())

    # reads keep failing: nothing after the bad input is delivered
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await bounded(conn.read())


@pytest.mark.parametrize('pending', [False, True])
@pytest.mark.parametrize('version', [0, 1, 2, 4, 0x45, 0xFF])
async def test_bad_version(caplog, version, pending):
    async with raw_to_tpkt() as (raw, conn):
        pending_read = (asyncio.create_task(conn.read()) if pending
                        else None)
        # a good packet first: it is delivered
        raw.write(header(7) + b'abc')
        bad = header(7, version=version) + b'xyz'
        raw.write(bad + header(7) + b'def')
        await bounded(raw.drain())
        if pending_read is not None:
            assert await bounded(pending_read) == b'abc'
            pending_read = asyncio.create_task(conn.read())
        else:
            assert await bounded(conn.read()) == b'abc'
        await assert_protocol_error(caplog, raw, conn,
                                    ['version', str(version)],
                                    pending_read)


@pytest.mark.parametrize('length', [0, 1, 4, 5, 6])
async def test_bad_length(caplog, length):
    async with raw_to_tpkt() as (raw, conn):
        raw.write(header(length) + bytes(10) + header(7) + b'def')
        await bounded(raw.drain())
        await assert_protocol_error(caplog, raw, conn,
                                    ['length', str(length)], None)


async def test_minimum_length_accepted_reserved_ignored(caplog):
    async with raw_to_tpkt() as (raw, conn):
        raw.write(header(7) + b'abc' + header(8, reserved=0xFF) + b'defg')
        assert await bounded(conn.read()) == b'abc'
        assert await bounded(conn.read()) == b'defg'
        assert conn.is_open
    assert_no_error_logged(caplog)


@pytest.mark.parametrize('received', [1, 2, 3])
async def test_truncated_header(caplog, received):
    async with raw_to_tpkt() as (raw, conn):
        pending_read = asyncio.create_task(conn.read())
        raw.write(header(7) + b'abc' + header(7)[:received])
        await bounded(raw.async_close())
        assert await bounded(pending_read) == b'abc'
        with pytest.raises(ConnectionError) as e:
            await bounded(conn.read())
        assert 'header' in str(e.value)
        assert_error_logged(caplog, 'header',
                            f'{received} of 4 bytes received')
        await bounded(conn.wait_closed())
        with pytest.raises(ConnectionError):
            await bounded(conn.read())


@pytest.mark.parametrize('received', [0, 1, 99])
async def test_truncated_payload(caplog, received):
    async with raw_to_tpkt() as (raw, conn):
        pending_read = asyncio.create_task(conn.read())
        raw.write(header(104) + bytes(received))
        await bounded(raw.async_close())
        # no partial payload
        with pytest.raises(ConnectionError) as e:
            await bounded(pending_read)
        assert 'length 104' in str(e.value)
        assert_error_logged(caplog, 'middle', 'length 104')
        await bounded(conn.wait_closed())
        with pytest.raises(ConnectionError):
            await bounded(conn.read())


async def test_truncated_payload_half_close(caplog):
    # with half_close the peer's EOF does not close the TCP connection;
    # a truncated packet still does
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port, half_close=True)
    raw = await bounded(tcp.connect(srv.addresses[0], half_close=True))
    conn = await bounded(conn_queue.get())
    try:
        raw.write(header(7) + b'abc' + header(20) + b'xy')
        await bounded(raw.drain())
        assert await bounded(conn.read()) == b'abc'
        raw.close()
        with pytest.raises(ConnectionError):
            await bounded(conn.read())
        assert_error_logged(caplog, 'length 20')
        await bounded(conn.wait_closed())

    finally:
        await bounded(raw.async_close())
        await bounded(conn.async_close())
        await bounded(srv.async_close())


async def test_bad_header_concurrent_readers(caplog):
    async with raw_to_tpkt() as (raw, conn):
        tasks = [asyncio.create_task(conn.read()) for _ in range(3)]
        raw.write(header(7) + b'abc' + header(2) + header(7) + b'def')
        assert await bounded(tasks[0]) == b'abc'
        for task in tasks[1:]:
            with pytest.raises(ConnectionError):
                await bounded(task)
        assert_error_logged(caplog, 'length 2')


# --- module -----------------------------------------------------------------


def test_uses_only_public_tcp_api():
    path = Path(tpkt.__file__)
    tree = ast.parse(path.read_text(encoding='utf-8'))
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and
            isinstance(node.value, ast.Name) and node.value.id == 'tcp'}
    assert used
    assert not [name for name in used if name.startswith('_')]

    imports = [node for node in ast.walk(tree)
               if isinstance(node, ast.ImportFrom) and
               node.module == 'hat.drivers.tcp']
    assert not imports

    # private members of tcp connections and servers are not used either
    private = {node.attr for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and
               node.attr.startswith('_') and
               not node.attr.startswith('__') and
               isinstance(node.value, ast.Attribute) and
               node.value.attr in ('_conn', '_srv')}
    assert not private


# --- real world check: Wireshark's TPKT dissector ---------------------------

def tshark_capture(port, pcap_path):
    """Live capture of `port` (see `tshark.capture`), lines of
    (tcp.srcport, tpkt.length)"""
    return tshark.capture(port, pcap_path, 'tpkt', ['tpkt.length'])


async def tshark_decode(pcap_path, port):
    """(tcp.srcport, [(tpkt.version, tpkt.length, cotp.type)], malformed)
    for every frame of `pcap_path` that contains TPKT"""
    rows = await tshark.decode(
        pcap_path, port, 'tpkt',
        ['tcp.srcport', 'tpkt.version', 'tpkt.length', 'cotp.type',
         '_ws.malformed'],
        ['-o', 'tcp.desegment_tcp_streams:TRUE',
         '-o', 'tpkt.desegment:TRUE'])

    frames = []
    for srcport, versions, lengths, cotp_types, malformed in rows:
        if not lengths:
            continue
        versions = [int(i) for i in versions.split(',')]
        lengths = [int(i) for i in lengths.split(',')]
        cotp_types = [int(i, 0) for i in cotp_types.split(',') if i]
        assert len(versions) == len(lengths)
        frames.append((int(srcport), list(zip(versions, lengths, strict=True)),
                       cotp_types, malformed))
    return frames


@pytest.mark.timeout(120)
async def test_wireshark_decodes_tpkt(tmp_path):
    """Wireshark's own TPKT dissector decodes a real exchange"""
    pcap_path = tmp_path / 'tpkt.pcap'

    # a COTP session: CR, CC, then data of various sizes in both
    # directions, up to the largest packet
    client_payloads = [cotp_cr,
                       *(cotp_dt(n) for n in (3, 7, 100, 1500, 65531,
                                              40000, 4))]
    server_payloads = [cotp_cc,
                       *(cotp_dt(n) for n in (65531, 3, 9000))]

    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, any_port,
                            bind_connections=True)
    port = srv.addresses[0].port
    try:
        async with tshark_capture(port, pcap_path) as lines:
            conn1 = await bounded(tpkt.connect(srv.addresses[0]))
            # skip the server sides of capture probes
            while True:
                conn2 = await bounded(conn_queue.get())
                if conn2.info.remote_addr == conn1.info.local_addr:
                    break
            try:
                for payload in client_payloads:
                    conn1.write(payload)
                    await bounded(conn1.drain())
                for payload in client_payloads:
                    assert await bounded(conn2.read()) == payload

                for payload in server_payloads:
                    conn2.write(payload)
                    await bounded(conn2.drain())
                for payload in server_payloads:
                    assert await bounded(conn1.read()) == payload

            finally:
                await bounded(conn1.async_close())
                await bounded(conn2.async_close())

            # wait until the live capture has dissected every packet (if
            # it does not, the pcap is checked anyway and the test fails
            # there with the details)
            expected_count = len(client_payloads) + len(server_payloads)

            async def wait_all_captured():
                count = 0
                while count < expected_count:
                    line = await lines.get()
                    _, lengths = line.split('\t')
                    if lengths:
                        count += len(lengths.split(','))

            with contextlib.suppress(asyncio.TimeoutError,
                                     aio.QueueClosedError):
                await asyncio.wait_for(wait_all_captured(), 30)

    finally:
        await bounded(srv.async_close())

    frames = await tshark_decode(pcap_path, port)

    def decoded(srcport):
        packets = []
        cotp_types = []
        for frame_srcport, frame_packets, frame_cotp, malformed in frames:
            if frame_srcport == srcport:
                assert not malformed
                packets.extend(frame_packets)
                cotp_types.extend(frame_cotp)
        return packets, cotp_types

    client_port = conn1.info.local_addr.port
    packets, cotp_types = decoded(client_port)
    assert packets == [(3, len(p) + 4) for p in client_payloads]
    assert cotp_types == [0x0e] + [0x0f] * (len(client_payloads) - 1)

    packets, cotp_types = decoded(port)
    assert packets == [(3, len(p) + 4) for p in server_payloads]
    assert cotp_types == [0x0d] + [0x0f] * (len(server_payloads) - 1)


# --- tpkt.Address ----------------------------------------------------------

def test_address_port_defaults_to_102():
    """tpkt.Address(host) has port 102 (0.6.23); it is a NamedTuple equal
    to the tcp.Address with the same fields"""
    addr = tpkt.Address('10.0.0.1')
    assert addr == ('10.0.0.1', 102)
    assert (addr.host, addr.port) == ('10.0.0.1', 102)
    assert addr == tcp.Address('10.0.0.1', 102)
    assert tpkt.Address('h', 5) == tpkt.Address(host='h', port=5)
    assert tpkt.Address._fields == ('host', 'port')
    assert tpkt.Address._field_defaults == {'port': 102}
    assert isinstance(addr, tcp.Address)
    assert addr._replace(port=1) == tpkt.Address('10.0.0.1', 1)
    assert type(addr._replace(port=1)) is tpkt.Address
    assert repr(addr) == "Address(host='10.0.0.1', port=102)"


def test_listen_default_address_is_0_6_23s():
    """tpkt.listen's address defaults to Address('0.0.0.0', 102)"""
    import inspect
    param = inspect.signature(tpkt.listen).parameters['addr']
    assert param.default == tpkt.Address('0.0.0.0', 102)
    assert type(param.default) is tpkt.Address


async def test_address_accepted_by_tpkt_and_tcp():
    """tpkt.Address works for tpkt.connect/listen and tcp.connect/listen"""
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait,
                            tpkt.Address(localhost, 0))
    try:
        addr = tpkt.Address(localhost, srv.addresses[0].port)
        conn1 = await bounded(tpkt.connect(addr))
        conn2 = await bounded(conn_queue.get())
        conn1.write(cotp_cr)
        assert await bounded(conn2.read()) == cotp_cr
        await bounded(conn1.async_close())
        await bounded(conn2.async_close())

    finally:
        await bounded(srv.async_close())

    tcp_queue = aio.Queue()
    tcp_srv = await tcp.listen(tcp_queue.put_nowait,
                               tpkt.Address(localhost, 0))
    try:
        conn1 = await bounded(tcp.connect(
            tpkt.Address(localhost, tcp_srv.addresses[0].port)))
        conn2 = await bounded(tcp_queue.get())
        conn1.write(b'x')
        assert await bounded(conn2.readexactly(1)) == b'x'
        await bounded(conn1.async_close())
        await bounded(conn2.async_close())

    finally:
        await bounded(tcp_srv.async_close())
