"""Tests of hat.drivers.iec104.apci: the link connection against our own
peer and against a raw socket peer (IEC 60870-5-104 clause 5).

Timers are set to fractions of a second so the tests stay fast; every wait
is bounded.

"""

import asyncio
import contextlib
import logging
import ssl
import time

import pytest

from hat.drivers import tcp
from hat.drivers.iec104 import apci
from hat.drivers.iec104 import apdu


U = apdu.UFunction
WAIT = 3  # seconds: bound of every wait for something that must happen
FAST = dict(response_timeout=0.5, supervisory_timeout=0.2, test_timeout=5)


async def bounded(aw, what, timeout=WAIT):
    try:
        return await asyncio.wait_for(aw, timeout)
    except asyncio.TimeoutError as e:
        if isinstance(e, ConnectionError):  # tcp.ConnectTimeoutError
            raise
        pytest.fail(f'timed out after {timeout} s waiting for {what}')


class Peer:
    """Raw socket peer speaking APDUs by hand"""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    async def read_frame(self, timeout=WAIT):
        async def read():
            head = await self.reader.readexactly(2)
            rest = await self.reader.readexactly(head[1])
            frame, _ = apdu.decode_apdu(head + rest)
            return frame
        return await bounded(read(), 'a frame from our side', timeout)

    def send(self, *frames):
        self.writer.write(b''.join(apdu.encode_apdu(f) for f in frames))

    def send_raw(self, data):
        self.writer.write(data)

    async def wait_eof(self, timeout=WAIT):
        async def read_all():
            while await self.reader.read(65536):
                pass
        await bounded(read_all(), 'our side closing', timeout)

    async def close(self):
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


@contextlib.asynccontextmanager
async def our_slave(start=True, **kwargs):
    conns = asyncio.Queue()
    srv = await apci.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                            **kwargs)
    peer = None
    try:
        reader, writer = await asyncio.open_connection(
            *srv.addresses[0])
        peer = Peer(reader, writer)
        conn = await bounded(conns.get(), 'accepted connection')
        if start:
            peer.send(apdu.UFrame(U.STARTDT_ACT))
            assert await peer.read_frame() == apdu.UFrame(U.STARTDT_CON)
            assert conn.is_enabled
        yield conn, peer

    finally:
        if peer:
            await peer.close()
        await srv.async_close()


@contextlib.asynccontextmanager
async def our_master(**kwargs):
    peers = asyncio.Queue()
    srv = await asyncio.start_server(
        lambda r, w: peers.put_nowait(Peer(r, w)), '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    task = asyncio.ensure_future(
        apci.connect(tcp.Address('127.0.0.1', port), **kwargs))
    peer = None
    conn = None
    try:
        peer = await bounded(peers.get(), 'connection from our master')
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_ACT)
        peer.send(apdu.UFrame(U.STARTDT_CON))
        conn = await bounded(task, 'connect')
        assert conn.is_enabled
        yield conn, peer

    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if conn:
            await conn.async_close()
        if peer:
            await peer.close()
        srv.close()
        await srv.wait_closed()


@contextlib.asynccontextmanager
async def pair(**kwargs):
    conns = asyncio.Queue()
    srv = await apci.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                            **kwargs)
    master = None
    try:
        master = await apci.connect(srv.addresses[0], **kwargs)
        slave = await bounded(conns.get(), 'accepted connection')
        yield master, slave

    finally:
        if master:
            await master.async_close()
        await srv.async_close()


async def assert_all_calls_fail(conn):
    with pytest.raises(ConnectionError):
        conn.send(b'x')
    with pytest.raises(ConnectionError):
        await bounded(conn.send_wait_ack(b'x'), 'send_wait_ack failing')
    with pytest.raises(ConnectionError):
        await bounded(conn.drain(), 'drain failing')
    with pytest.raises(ConnectionError):
        await bounded(conn.drain(wait_ack=True), 'drain failing')
    with pytest.raises(ConnectionError):
        await bounded(conn.receive(), 'receive failing')


# --- normal operation -------------------------------------------------------

async def test_master_slave_exchange():
    # acknowledgements come within t2 = 0.2 s
    async with pair(**FAST) as (master, slave):
        assert master.is_enabled
        # STARTDT con came after the slave took STARTDT act
        assert slave.is_enabled
        assert master.info.remote_addr == slave.info.local_addr
        assert master.ssl_object is None

        slave.send(b'spontaneous')
        assert await bounded(master.receive(), 'ASDU') == b'spontaneous'
        await bounded(master.send_wait_ack(b'command'), 'ack')
        assert await bounded(slave.receive(), 'ASDU') == b'command'

        asdus = [bytes([i % 256]) * (i % 250) for i in range(1000)]
        for asdu in asdus:
            slave.send(asdu)
        await bounded(slave.drain(wait_ack=True), 'all acknowledged')
        # empty ASDUs (i % 250 == 0) are delivered too
        received = [await bounded(master.receive(), 'ASDU')
                    for asdu in asdus]
        assert received == asdus


async def test_send_invalid():
    async with pair() as (master, slave):
        with pytest.raises(ValueError, match='249'):
            master.send(bytes(250))
        with pytest.raises(TypeError):
            master.send('text')


@pytest.mark.parametrize('kwargs, word', [
    ({'supervisory_timeout': 0}, 'supervisory_timeout'),
    ({'supervisory_timeout': '10'}, 'supervisory_timeout'),
    ({'response_timeout': -5}, 'response_timeout'),
    ({'send_window_size': 0}, 'send_window_size'),
    ({'receive_window_size': 'x'}, 'receive_window_size'),
    ({'connect_timeout': 0}, 'connect_timeout'),
    ({'send_queue_limit': -1}, 'send_queue_limit'),
])
async def test_invalid_arguments(kwargs, word):
    with pytest.raises((TypeError, ValueError), match=word):
        await apci.connect(tcp.Address('127.0.0.1', 1), **kwargs)
    with pytest.raises((TypeError, ValueError), match=word):
        await apci.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                          **kwargs)


def t2_warnings(caplog):
    return [r for r in caplog.records
            if r.name == apci.mlog.name and r.levelno == logging.WARNING and
            'supervisory_timeout' in r.getMessage()]


async def test_t2_not_below_t1_accepted_with_one_warning(caplog):
    # accepted as by hat-drivers 0.6.23: our t2 must be below the PEER's
    # t1; IEC 60870-5-104 clause 5.1 recommends t2 < t1 (symmetric setup)
    caplog.set_level(logging.WARNING, logger=apci.mlog.name)
    conns = asyncio.Queue()
    srv = await apci.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                            response_timeout=5, supervisory_timeout=10)
    masters = []
    try:
        [record] = t2_warnings(caplog)
        message = record.getMessage()
        assert 't2 = 10 s' in message
        assert 't1 = 5 s' in message
        assert 'clause 5.1' in message and 't2 < t1' in message
        assert 'acknowledgements' in message

        # one per call: accepted connections add none, connect adds one
        for _ in range(2):
            masters.append(await bounded(
                apci.connect(srv.addresses[0], response_timeout=10),
                'connect'))
            slave = await bounded(conns.get(), 'accepted connection')
            assert masters[-1].is_master and not slave.is_master
            # (no wait for the acknowledgement: the slave's t2 is 10 s)
            masters[-1].send(b'x')
            assert await bounded(slave.receive(), 'ASDU') == b'x'
        records = t2_warnings(caplog)
        assert len(records) == 3
        for record in records[1:]:
            assert 't2 = 10 s' in record.getMessage()
            assert 't1 = 10 s' in record.getMessage()

        # t2 below t1 (the defaults, 15 and 10): no warning
        masters.append(await bounded(apci.connect(srv.addresses[0]),
                                     'connect'))
        assert len(t2_warnings(caplog)) == 3

    finally:
        for master in masters:
            await master.async_close()
        await srv.async_close()


async def test_receive_after_close_returns_buffered():
    async with our_master() as (conn, peer):
        peer.send(apdu.IFrame(0, 0, b'a'), apdu.IFrame(1, 0, b'b'))
        assert await bounded(conn.receive(), 'ASDU') == b'a'
        await peer.close()
        await bounded(conn.wait_closed(), 'closed')
        assert await bounded(conn.receive(), 'ASDU') == b'b'
        await assert_all_calls_fail(conn)


async def test_close_fails_pending_calls():
    async with our_slave() as (conn, peer):
        receive = asyncio.ensure_future(conn.receive())
        ack = asyncio.ensure_future(conn.send_wait_ack(b'x'))
        assert isinstance(await peer.read_frame(), apdu.IFrame)
        await asyncio.sleep(0)
        conn.close()
        for fut in (receive, ack):
            with pytest.raises(ConnectionError):
                await bounded(fut, 'pending call failing')
        await bounded(conn.wait_closed(), 'closed')
        await peer.wait_eof()


async def test_server_close_closes_connections():
    conns = asyncio.Queue()
    srv = await apci.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0))
    master = await apci.connect(srv.addresses[0])
    slave = await bounded(conns.get(), 'accepted connection')
    await srv.async_close()
    await bounded(slave.wait_closed(), 'slave closed')
    await bounded(master.wait_closed(), 'master closed by the peer')
    await assert_all_calls_fail(master)


async def test_connection_cb_raising_closes_connection():
    closed = asyncio.Queue()

    def on_connection(conn):
        conn.async_group.spawn(_on_closed, conn, closed)
        raise RuntimeError('refused by the application')

    srv = await apci.listen(on_connection, tcp.Address('127.0.0.1', 0))
    try:
        with pytest.raises(ConnectionError):
            await apci.connect(srv.addresses[0], response_timeout=WAIT,
                               supervisory_timeout=0.1)
        await bounded(closed.get(), 'connection closed')
    finally:
        await srv.async_close()


async def _on_closed(conn, queue):
    try:
        await conn.wait_closing()
    finally:
        queue.put_nowait(conn)


async def test_enabled_cb():
    async with our_slave(start=False) as (conn, peer):
        states = asyncio.Queue()
        handle = conn.register_enabled_cb(states.put_nowait)
        assert not conn.is_enabled
        peer.send(apdu.UFrame(U.STARTDT_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_CON)
        assert await bounded(states.get(), 'cb') is True
        assert conn.is_enabled
        peer.send(apdu.UFrame(U.STOPDT_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.STOPDT_CON)
        assert await bounded(states.get(), 'cb') is False
        assert not conn.is_enabled
        handle.cancel()
        peer.send(apdu.UFrame(U.STARTDT_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_CON)
        assert states.empty()


async def test_master_ignores_stopdt_act(caplog):
    async with our_master() as (conn, peer):
        with caplog.at_level(logging.WARNING, 'hat.drivers.iec104'):
            peer.send(apdu.UFrame(U.STOPDT_ACT), apdu.UFrame(U.TESTFR_ACT))
            assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        assert conn.is_enabled
        assert any(r.levelno == logging.WARNING and
                   'STOPDT act' in r.getMessage() for r in caplog.records)


async def test_testfr_act_answered():
    for side in (our_master, our_slave):
        async with side() as (conn, peer):
            peer.send(apdu.UFrame(U.TESTFR_ACT))
            assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)


# --- malformed input --------------------------------------------------------

BAD_INPUT = {
    'start octet': (bytes.fromhex('69 04 01 00 00 00'),
                    'start octet 0x69 is not 0x68', '69 04 01 00 00 00'),
    'length below 4': (bytes.fromhex('68 03 01 00 00'),
                       'APDU length 3 is below 4', '68 03 01 00 00'),
    'length above 253': (bytes.fromhex('68 fe') + bytes(254),
                         'APDU length 254 is above 253', '68 fe 00 00'),
    'unknown U function': (bytes.fromhex('68 04 0f 00 00 00'),
                           'unknown U-format function 0x0f',
                           '68 04 0f 00 00 00'),
    # after the good I-frame N(S) = 0 sent first
    'N(S) out of sequence': (apdu.encode_apdu(apdu.IFrame(2, 0, b'\xab')),
                             'N(S) = 2 out of sequence (expected 1)',
                             '68 05 04 00 00 00 ab'),
    'N(R) never sent': (apdu.encode_apdu(apdu.SFrame(3)),
                        'N(R) = 3 acknowledges I-frames never sent (none '
                        'unacknowledged, next N(S) 0)',
                        '68 04 01 00 06 00'),
}


@pytest.mark.parametrize('side', ['master', 'slave'])
@pytest.mark.parametrize('case', list(BAD_INPUT))
async def test_bad_input(caplog, side, case):
    data, cause, frame_hex = BAD_INPUT[case]
    peer_side = our_master if side == 'master' else our_slave
    async with peer_side() as (conn, peer):
        # a good frame first: delivered and still readable after close
        peer.send(apdu.IFrame(0, 0, b'good'))
        assert await bounded(conn.receive(), 'good ASDU') == b'good'
        caplog.clear()
        with caplog.at_level(logging.DEBUG, 'hat.drivers.iec104'):
            peer.send_raw(data)
            await bounded(conn.wait_closed(), 'connection closed')
            await peer.wait_eof()
            await assert_all_calls_fail(conn)

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    record = errors[0]
    assert record.name.startswith('hat.drivers.iec104')
    assert cause in record.getMessage()
    assert frame_hex in record.getMessage()


# --- timers and windows -----------------------------------------------------

@pytest.mark.parametrize('side', [our_master, our_slave])
async def test_t1_missing_ack_closes(side):
    async with side(**FAST) as (conn, peer):
        start = time.monotonic()
        conn.send(b'x')
        assert await peer.read_frame() == apdu.IFrame(0, 0, b'x')
        await bounded(conn.wait_closed(), 'close after t1')
        assert time.monotonic() - start >= 0.5 - 0.05
        await assert_all_calls_fail(conn)


async def test_t1_ack_in_time_keeps_open():
    # each ack 0.1 s after its I-frame, t1 = 0.6 s: a pause of the loaded
    # machine up to 0.5 s is no false timeout
    async with our_slave(response_timeout=0.6, supervisory_timeout=0.1,
                         test_timeout=5) as (conn, peer):
        for i in range(8):
            conn.send(b'x')
            assert await peer.read_frame() == apdu.IFrame(i, 0, b'x')
            await asyncio.sleep(0.1)  # pacing: 8 x 0.1 s > t1 in total
            peer.send(apdu.SFrame(i + 1))
        await bounded(conn.drain(wait_ack=True), 'acks')
        assert conn.is_open


async def test_t3_idle_timer():
    # traffic every 0.1 s, t3 = 0.6 s: a pause of the loaded machine up to
    # 0.5 s is no false TESTFR act
    t3 = 0.6
    async with our_master(response_timeout=0.5, supervisory_timeout=0.1,
                          test_timeout=t3) as (conn, peer):
        frames = asyncio.Queue()

        async def collect():
            while True:
                frames.put_nowait(await peer.read_frame(timeout=10))

        reader = asyncio.ensure_future(collect())
        try:
            # traffic more often than t3 for 2 x t3 (paced by sleeps, the
            # traffic itself): no TESTFR act
            end = time.monotonic() + 2 * t3
            while time.monotonic() < end:
                peer.send(apdu.SFrame(0))
                last = time.monotonic()
                await asyncio.sleep(0.1)
            assert frames.empty()
            frame = await bounded(frames.get(), 'TESTFR act after t3')
            assert frame == apdu.UFrame(U.TESTFR_ACT)
            assert time.monotonic() - last >= t3 - 0.05
            peer.send(apdu.UFrame(U.TESTFR_CON))
            answered = time.monotonic()
            # next TESTFR act not answered: closed after t1
            frame = await bounded(frames.get(), 'second TESTFR act')
            assert frame == apdu.UFrame(U.TESTFR_ACT)
            assert time.monotonic() - answered >= t3 - 0.05
            await bounded(conn.wait_closed(), 'close after t1')
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader


async def test_t2_s_frame():
    async with our_slave(response_timeout=2, supervisory_timeout=0.3,
                         test_timeout=5) as (conn, peer):
        start = time.monotonic()
        peer.send(apdu.IFrame(0, 0, b'a'), apdu.IFrame(1, 0, b'b'))
        assert await peer.read_frame() == apdu.SFrame(2)
        assert time.monotonic() - start >= 0.3 - 0.05
        assert await bounded(conn.receive(), 'ASDU') == b'a'


async def test_w_s_frame():
    # t2 = 5 s: an S-frame within 1 s comes from w
    async with our_slave(response_timeout=10, supervisory_timeout=5,
                         test_timeout=20,
                         receive_window_size=4) as (conn, peer):
        peer.send(*(apdu.IFrame(i, 0, b'a') for i in range(3)))
        peer.send(apdu.UFrame(U.TESTFR_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        peer.send(apdu.IFrame(3, 0, b'a'))
        assert await peer.read_frame(timeout=1) == apdu.SFrame(4)


async def test_k_window():
    async with our_slave(send_window_size=3) as (conn, peer):
        for i in range(5):
            conn.send(bytes([i]))
        drained = asyncio.ensure_future(conn.drain(wait_ack=True))
        for i in range(3):
            assert await peer.read_frame() == apdu.IFrame(i, 0, bytes([i]))
        # nothing more until acknowledged: TESTFR con comes next
        peer.send(apdu.UFrame(U.TESTFR_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        peer.send(apdu.SFrame(2))
        for i in range(3, 5):
            assert await peer.read_frame() == apdu.IFrame(i, 0, bytes([i]))
        assert not drained.done()
        peer.send(apdu.SFrame(5))
        await bounded(drained, 'drain(wait_ack=True)')


async def test_queued_while_stopped():
    async with our_slave(start=False, send_queue_limit=3) as (conn, peer):
        assert not conn.is_enabled
        conn.send(b'a')
        conn.send(b'b')
        acked = asyncio.ensure_future(conn.send_wait_ack(b'c'))
        await asyncio.sleep(0)
        assert not acked.done()
        with pytest.raises(apci.ConnectionDisabledError, match='3'):
            conn.send(b'd')
        peer.send(apdu.UFrame(U.STARTDT_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_CON)
        for i, asdu in enumerate([b'a', b'b', b'c']):
            assert await peer.read_frame() == apdu.IFrame(i, 0, asdu)
        assert not acked.done()
        peer.send(apdu.SFrame(3))
        await bounded(acked, 'send_wait_ack')


async def test_stopdt_con_after_acks():
    async with our_slave() as (conn, peer):
        conn.send(b'a')
        conn.send(b'b')
        for i in range(2):
            assert await peer.read_frame() == apdu.IFrame(i, 0, b'ab'[i:i+1])
        peer.send(apdu.IFrame(0, 0, b'r'), apdu.UFrame(U.STOPDT_ACT))
        # the received I-frame is acknowledged at once
        assert await peer.read_frame() == apdu.SFrame(1)
        conn.send(b'c')  # kept, not sent
        peer.send(apdu.UFrame(U.TESTFR_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        assert not conn.is_enabled
        peer.send(apdu.SFrame(1), apdu.UFrame(U.TESTFR_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        peer.send(apdu.SFrame(2))
        assert await peer.read_frame() == apdu.UFrame(U.STOPDT_CON)
        peer.send(apdu.UFrame(U.STARTDT_ACT))
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_CON)
        assert await peer.read_frame() == apdu.IFrame(2, 1, b'c')


# --- establishment ----------------------------------------------------------

async def test_missing_startdt_con():
    got_startdt = asyncio.Event()
    peers = []

    async def on_connection(reader, writer):
        peers.append(writer)
        if await reader.readexactly(6) == bytes.fromhex('68 04 07 00 00 00'):
            got_startdt.set()

    srv = await asyncio.start_server(on_connection, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(tcp.ConnectTimeoutError, match='STARTDT con'):
            await bounded(apci.connect(tcp.Address('127.0.0.1', port),
                                       response_timeout=0.3,
                                       supervisory_timeout=0.1),
                          'connect failing')
        assert got_startdt.is_set()
        assert time.monotonic() - start >= 0.3 - 0.05
        assert issubclass(tcp.ConnectTimeoutError, asyncio.TimeoutError)
    finally:
        for writer in peers:
            writer.close()
        srv.close()
        await srv.wait_closed()


async def test_connect_timeout():
    # the TLS handshake with a peer that never answers does not complete:
    # t0 bounds it
    peers = []

    async def on_connection(reader, writer):
        peers.append(writer)

    srv = await asyncio.start_server(on_connection, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with pytest.raises(tcp.ConnectTimeoutError,
                           match='timed out after 0.3 s'):
            await bounded(apci.connect(tcp.Address('127.0.0.1', port),
                                       connect_timeout=0.3, ssl_ctx=ctx),
                          'connect failing')
    finally:
        for writer in peers:
            writer.close()
        srv.close()
        await srv.wait_closed()


async def test_connect_refused():
    sock_srv = await asyncio.start_server(lambda r, w: None, '127.0.0.1', 0)
    port = sock_srv.sockets[0].getsockname()[1]
    sock_srv.close()
    await sock_srv.wait_closed()
    with pytest.raises(ConnectionError):
        await bounded(apci.connect(tcp.Address('127.0.0.1', port)),
                      'connect failing')


async def test_close_writes_frames_sent():
    async with our_slave() as (conn, peer):
        conn.send(b'a')
        conn.send(b'b')
        await conn.async_close()
        assert await peer.read_frame() == apdu.IFrame(0, 0, b'a')
        assert await peer.read_frame() == apdu.IFrame(1, 0, b'b')
        await peer.wait_eof()


# --- receive_queue_limit: TCP backpressure ---------------------------------

def record_chunks(conn):
    """List of (ASDUs waiting before, after) for every chunk of received
    octets the link of `conn` processes; the event is set when the
    ASDUs waiting reach `conn.receive_queue_limit`"""
    link_ = conn._link
    chunks = []
    full = asyncio.Event()
    receive_data = link_.receive_data

    def on_data(data, now):
        before = len(link_.received)
        try:
            receive_data(data, now)
        finally:
            chunks.append((before, len(link_.received)))
            if len(link_.received) >= conn.receive_queue_limit:
                full.set()

    link_.receive_data = on_data
    return chunks, full


def numbered(i, size=249):
    return i.to_bytes(4, 'big') + bytes(size - 4)


@pytest.mark.parametrize('limit', [1, 10])
async def test_receive_queue_limit_flood(limit):
    # a raw peer ignoring k: 80000 I-frames (20 MB) at once, more than the
    # kernel's socket buffers and tcp's input buffer hold together
    count = 80000
    async with our_slave(response_timeout=10, supervisory_timeout=5,
                         test_timeout=20,
                         receive_queue_limit=limit) as (conn, peer):
        assert conn.receive_queue_limit == limit
        chunks, full = record_chunks(conn)
        peer.send_raw(b''.join(
            apdu.encode_apdu(apdu.IFrame(i % apdu.SN_MODULO, 0, numbered(i)))
            for i in range(count)))
        peer.send(apdu.UFrame(U.TESTFR_ACT))
        await bounded(full.wait(), 'receive_queue_limit ASDUs received')

        # the peer is blocked by TCP flow control
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(peer.writer.drain(), 1)
        assert peer.writer.transport.get_write_buffer_size() > 0

        # a chunk is taken in only while fewer than the limit wait, so the
        # link holds at most limit - 1 + one chunk (at most tcp's input
        # buffer limit plus one socket read, 256 KiB, of 255-octet APDUs)
        assert chunks
        assert all(before < limit for before, _ in chunks), chunks
        held = len(conn._link.received)
        assert held == chunks[-1][1]
        assert held <= (limit - 1 + max(after - before
                                        for before, after in chunks))
        assert held <= limit + (tcp.DEFAULT_INPUT_BUFFER_LIMIT +
                                256 * 1024) // 255
        assert held < count // 10
        assert conn.is_receiving_paused

        # resumed: every ASDU arrives, in order; then TESTFR con
        for i in range(count):
            data = await bounded(conn.receive(), f'ASDU {i}')
            assert data == numbered(i), f'ASDU {i}'
        assert not conn._link.received
        assert all(before < limit for before, _ in chunks)
        while True:
            frame = await peer.read_frame()
            if frame == apdu.UFrame(U.TESTFR_CON):
                break
            assert isinstance(frame, apdu.SFrame), frame
        await bounded(peer.writer.drain(), 'peer not blocked any more')
        assert conn.is_open


async def test_receive_queue_limit_paused_reads_nothing():
    # while paused, the peer's TESTFR act is not answered and its
    # I-frames are not acknowledged; receive resumes reading
    async with our_slave(response_timeout=10, supervisory_timeout=0.2,
                         test_timeout=20,
                         receive_queue_limit=2) as (conn, peer):
        chunks, full = record_chunks(conn)
        peer.send(apdu.IFrame(0, 0, b'a'), apdu.IFrame(1, 0, b'b'))
        # t2 acknowledges the chunk taken in; then reading is paused
        assert await peer.read_frame() == apdu.SFrame(2)
        assert conn.is_receiving_paused
        peer.send(apdu.IFrame(2, 0, b'c'), apdu.UFrame(U.TESTFR_ACT))
        # nothing answered while paused (t2 = 0.2 s would ack 'c')
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(peer.reader.read(1), 1)
        assert chunks == [(0, 2)]

        assert await bounded(conn.receive(), 'ASDU') == b'a'
        assert await peer.read_frame() == apdu.UFrame(U.TESTFR_CON)
        assert await peer.read_frame() == apdu.SFrame(3)
        # one ASDU left: the next chunk was taken in (and paused again)
        assert chunks == [(0, 2), (1, 2)]
        assert await bounded(conn.receive(), 'ASDU') == b'b'
        assert await bounded(conn.receive(), 'ASDU') == b'c'


async def test_receive_queue_limit_close_while_paused():
    async with our_slave(receive_queue_limit=1,
                         **FAST) as (conn, peer):
        peer.send(*(apdu.IFrame(i, 0, bytes([i])) for i in range(5)))
        # t2 acknowledges the first chunk; then reading is paused
        frame = await peer.read_frame()
        assert isinstance(frame, apdu.SFrame)
        assert conn.is_receiving_paused
        await bounded(conn.async_close(), 'close while paused', 1)
        assert conn.is_closed
        await peer.wait_eof()
        # what the link took in is still delivered, in order
        for i in range(frame.receive_sn):
            assert await bounded(conn.receive(), 'ASDU') == bytes([i])
        with pytest.raises(ConnectionError):
            await bounded(conn.receive(), 'receive failing')


async def test_receive_queue_limit_server_close_while_paused():
    conns = asyncio.Queue()
    srv = await apci.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                            receive_queue_limit=1, **FAST)
    try:
        master = await bounded(apci.connect(srv.addresses[0], **FAST),
                               'connect')
        slave = await bounded(conns.get(), 'accepted connection')
        for i in range(20):
            master.send(bytes([i]))
        await bounded(master.drain(), 'written')
        while not slave.is_receiving_paused:
            await bounded(slave.receive(), 'ASDU')
            await bounded(master.drain(wait_ack=True), 'acknowledged')
        await bounded(srv.async_close(), 'server close while paused', 1)
        assert slave.is_closed
        await bounded(master.wait_closed(), 'master closed by the peer')

    finally:
        await srv.async_close()


async def test_receive_queue_limit_pair_k_window():
    # our master respects k: the slave never holds more than
    # limit - 1 + k ASDUs, and the master's queue waits
    limit, k, count = 10, 12, 2000
    async with pair(send_window_size=k, response_timeout=10,
                    supervisory_timeout=0.05, test_timeout=20,
                    receive_queue_limit=limit) as (master, slave):
        chunks, full = record_chunks(slave)
        for i in range(count):
            master.send(numbered(i, 10))
        await bounded(full.wait(), 'receive_queue_limit ASDUs received')
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(master.drain(), 1)
        assert master._link.queue_size > 0
        assert all(before < limit for before, _ in chunks), chunks
        assert len(slave._link.received) <= limit - 1 + k

        for i in range(count):
            data = await bounded(slave.receive(), f'ASDU {i}')
            assert data == numbered(i, 10), f'ASDU {i}'
        await bounded(master.drain(wait_ack=True), 'all acknowledged')
        assert max(after for _, after in chunks) <= limit - 1 + k


async def test_receive_queue_limit_not_before_connect_returns():
    # I-frames before STARTDT con do not pause connect (nobody can
    # receive yet); the limit applies once it returned
    srv = await asyncio.start_server(
        lambda r, w: peers.put_nowait(Peer(r, w)), '127.0.0.1', 0)
    peers = asyncio.Queue()
    port = srv.sockets[0].getsockname()[1]
    task = asyncio.ensure_future(apci.connect(
        tcp.Address('127.0.0.1', port), receive_queue_limit=1, **FAST))
    conn = None
    peer = None
    try:
        peer = await bounded(peers.get(), 'connection from our master')
        assert await peer.read_frame() == apdu.UFrame(U.STARTDT_ACT)
        peer.send(apdu.IFrame(0, 0, b'a'))
        assert await peer.read_frame() == apdu.SFrame(1)  # t2: taken in
        peer.send(apdu.IFrame(1, 0, b'b'))
        assert await peer.read_frame() == apdu.SFrame(2)
        peer.send(apdu.UFrame(U.STARTDT_CON))
        conn = await bounded(task, 'connect')
        assert await bounded(conn.receive(), 'ASDU') == b'a'
        assert await bounded(conn.receive(), 'ASDU') == b'b'

    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if conn:
            await conn.async_close()
        if peer:
            await peer.close()
        srv.close()
        await srv.wait_closed()


@pytest.mark.parametrize('value, error', [
    (0, ValueError),
    (-5, ValueError),
    (1.5, TypeError),
    ('10', TypeError),
    (True, TypeError),
    (None, TypeError),
])
async def test_receive_queue_limit_invalid(value, error):
    # checked before any socket: no refused connect, no bound port
    with pytest.raises(error, match='receive_queue_limit'):
        await apci.connect(tcp.Address('127.0.0.1', 1),
                           receive_queue_limit=value)
    with pytest.raises(error, match='receive_queue_limit'):
        await apci.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                          receive_queue_limit=value)


# --- argument checks before any socket, cut frames, error subclasses --------

def free_address():
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return tcp.Address('127.0.0.1', port)


@pytest.mark.parametrize('value', ['x', True, 1, object()])
async def test_ssl_ctx_type_checked(value):
    # nobody listens at the address: without the check connect would
    # touch a socket (refused) instead of raising TypeError
    with pytest.raises(TypeError, match='ssl_ctx'):
        await bounded(apci.connect(free_address(), ssl_ctx=value),
                      'connect')
    with pytest.raises(TypeError, match='ssl_ctx'):
        await bounded(apci.listen(lambda c: None,
                                  tcp.Address('127.0.0.1', 0),
                                  ssl_ctx=value), 'listen')


@pytest.mark.parametrize('name', ['response_timeout', 'supervisory_timeout',
                                  'test_timeout', 'connect_timeout'])
@pytest.mark.parametrize('value', [10**400, -10**400])
async def test_huge_timeout_value_error(name, value):
    with pytest.raises(ValueError, match=name):
        await bounded(apci.connect(free_address(), **{name: value}),
                      'connect')
    with pytest.raises(ValueError, match=name):
        await bounded(apci.listen(lambda c: None,
                                  tcp.Address('127.0.0.1', 0),
                                  **{name: value}), 'listen')


@contextlib.asynccontextmanager
async def raw_master(**kwargs):
    """Our master connected to a raw socket peer (loop.sock_* calls)"""
    import socket
    loop = asyncio.get_running_loop()
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen()
    ls.setblocking(False)
    task = asyncio.ensure_future(apci.connect(
        tcp.Address('127.0.0.1', ls.getsockname()[1]), **kwargs))
    s = None
    conn = None
    try:
        s, _ = await bounded(loop.sock_accept(ls), 'connection')
        s.setblocking(False)
        data = b''
        while len(data) < 6:
            data += await bounded(loop.sock_recv(s, 6 - len(data)),
                                  'STARTDT act')
        assert data == apdu.encode_apdu(apdu.UFrame(U.STARTDT_ACT))
        await loop.sock_sendall(
            s, apdu.encode_apdu(apdu.UFrame(U.STARTDT_CON)))
        conn = await bounded(task, 'connect')
        yield conn, s

    finally:
        if not task.done():
            task.cancel()
        with contextlib.suppress(BaseException):
            await task
        if conn:
            await conn.async_close()
        if s is not None and s.fileno() >= 0:
            s.close()
        ls.close()


def reset(s):
    import socket
    import struct
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack('ii', 1, 0))
    s.close()


@pytest.mark.parametrize('how', ['fin', 'rst'])
async def test_frame_cut_by_peer_logged(caplog, how):
    import socket
    loop = asyncio.get_running_loop()
    async with raw_master(**FAST) as (conn, s):
        first = apdu.encode_apdu(apdu.IFrame(0, 0, b'first'))
        frame = apdu.encode_apdu(apdu.IFrame(1, 0, b'\x01\x02\x03\x04'))
        with caplog.at_level(logging.DEBUG, 'hat.drivers.iec104'):
            # one send (one loopback segment): once the first ASDU is
            # received, the partial frame after it has been read too
            await loop.sock_sendall(s, first + frame[:7])
            assert await bounded(conn.receive(), 'first ASDU') == b'first'
            if how == 'fin':
                s.shutdown(socket.SHUT_WR)
            else:
                reset(s)
            await bounded(conn.wait_closed(), 'connection closed')
        expected = (ConnectionResetError if how == 'rst'
                    else ConnectionError)
        with pytest.raises(expected) as e:
            await bounded(conn.receive(), 'receive failing')
        assert type(e.value) is expected
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    msg = errors[0].getMessage()
    assert ('connection closed in the middle of an APDU: 7 octets of a '
            'frame received') in msg
    assert frame[:7].hex(' ') in msg


async def test_reset_subclass_on_every_call():
    async with raw_master(**FAST) as (conn, s):
        reset(s)
        await bounded(conn.wait_closed(), 'connection closed')
        with pytest.raises(ConnectionResetError):
            conn.send(b'x')
        with pytest.raises(ConnectionResetError):
            await bounded(conn.send_wait_ack(b'x'), 'send_wait_ack')
        with pytest.raises(ConnectionResetError):
            await bounded(conn.drain(), 'drain')
        with pytest.raises(ConnectionResetError):
            await bounded(conn.receive(), 'receive')
        with pytest.raises(ConnectionResetError):
            conn.check_open()


async def test_reset_subclass_wakes_pending_receive():
    async with raw_master(**FAST) as (conn, s):
        task = asyncio.ensure_future(conn.receive())
        await asyncio.sleep(0)
        reset(s)
        with pytest.raises(ConnectionResetError):
            await bounded(task, 'receive failing')


async def test_connect_reset_before_startdt_con():
    import socket
    loop = asyncio.get_running_loop()
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen()
    ls.setblocking(False)
    try:
        task = asyncio.ensure_future(apci.connect(
            tcp.Address('127.0.0.1', ls.getsockname()[1]), **FAST))
        s, _ = await bounded(loop.sock_accept(ls), 'connection')
        s.setblocking(False)
        await bounded(loop.sock_recv(s, 6), 'STARTDT act')
        reset(s)
        with pytest.raises(ConnectionResetError):
            await bounded(task, 'connect failing')
    finally:
        ls.close()


async def test_closed_locally_plain_connection_error():
    async with raw_master(**FAST) as (conn, s):
        await conn.async_close()
        with pytest.raises(ConnectionError) as e:
            conn.send(b'x')
        assert type(e.value) is ConnectionError


async def test_empty_i_frame_delivered():
    loop = asyncio.get_running_loop()
    async with raw_master(**FAST) as (conn, s):
        await loop.sock_sendall(s, bytes.fromhex('68 04 00 00 00 00'))
        assert await bounded(conn.receive(), 'empty ASDU') == b''
        assert conn.is_open


async def test_closed_by_peer_error_says_address_once():
    async with raw_master(**FAST) as (conn, s):
        s.close()
        await bounded(conn.wait_closed(), 'close after the peer closed')
        with pytest.raises(ConnectionError) as e:
            conn.send(b'x')
        local, remote = conn.info.local_addr, conn.info.remote_addr
        address = f'{local.host}:{local.port} -> {remote.host}:{remote.port}'
        text = str(e.value)
        assert text.count(address) == 1, text
        assert 'closed by peer' in text
