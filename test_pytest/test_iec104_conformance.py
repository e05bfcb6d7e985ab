"""Conformance of hat.drivers.iec104 where a peer does what the standard
forbids or does not expect (issue 17, items 1 to 3), on the wire:

* system commands addressed to an information object: C_IC_NA_1,
  C_CI_NA_1, C_CS_NA_1, C_RP_NA_1 and C_TS_TA_1 have IOA 0
  (IEC 60870-5-101 clause 7.3.4); a controlled station mirrors one with
  another IOA with COT 47 and P/N = 1 (IEC TS 60870-5-604), a controlling
  station does not take one for a valid confirmation;
* STARTDT act received by a controlling station is ignored (clause 5.3:
  only the controlling station starts data transfer), so `connect` to a
  peer that echoes its frames fails after t1;
* replies the driver makes of received input (TESTFR con, S-frames, the
  COT 44/45/47 mirrors) are flow-controlled: a peer that sends without
  reading is stopped by TCP flow control instead of growing the driver's
  unsent output without bound.

Peers: our own master and slave over loopback (raw ASDUs through
``Connection.conn`` where the public API cannot send them), a TCP echo
server, raw sockets in a thread (the floods), a stand-in for the TCP
connection under `apci.Connection` (the read loop's drain), and Wireshark's
dissector (tshark; skipped where it cannot capture). lib60870 (c104) is
checked in ``test_iec104_interop.py``.

"""

import asyncio
import contextlib
import logging
import socket
import threading
import time

import hypothesis
import hypothesis.strategies as st
import pytest

from hat import aio

from hat.drivers import iec104
from hat.drivers import tcp
from hat.drivers.iec104 import apci
from hat.drivers.iec104 import apdu
from hat.drivers.iec104 import codec
from hat.drivers.iec104 import connection
from hat.drivers.iec104 import link

import tshark


pytestmark = pytest.mark.timeout(60)

TIMEOUT = 5  # seconds: bound of every wait for something that must happen
T2 = 0.05  # t2 short enough that acknowledgements come well within TIMEOUT

U = apdu.UFunction
Q0 = iec104.MeasurementQuality(False, False, False, False, False)
ACT = iec104.CommandReqCause.ACTIVATION
ACT_CON = iec104.CommandResCause.ACTIVATION_CONFIRMATION
TIME = iec104.Time(size=iec104.TimeSize.SEVEN, milliseconds=1234,
                   invalid=False, minutes=5, summer_time=False, hours=6,
                   day_of_week=1, day_of_month=2, months=3, years=24)


async def wait(aw, what, timeout=TIMEOUT):
    """`aw`'s result, failing the test if it takes more than `timeout` s"""
    try:
        return await asyncio.wait_for(aw, timeout)

    except asyncio.TimeoutError as e:
        if isinstance(e, ConnectionError):  # tcp.ConnectTimeoutError
            raise
        pytest.fail(f'timeout ({timeout} s) waiting for {what}')


def system_commands(cause=ACT):
    """One message of each TypeID whose IOA is fixed at 0"""
    return [
        iec104.InterrogationMsg(
            is_test=False, originator_address=0, asdu_address=1,
            request=20, is_negative_confirm=False, cause=cause),
        iec104.CounterInterrogationMsg(
            is_test=False, originator_address=0, asdu_address=1,
            request=5, freeze=iec104.FreezeCode.READ,
            is_negative_confirm=False, cause=cause),
        iec104.ClockSyncMsg(
            is_test=False, originator_address=0, asdu_address=1, time=TIME,
            is_negative_confirm=False,
            cause=(iec104.ClockSyncReqCause.ACTIVATION if cause == ACT
                   else iec104.ClockSyncResCause.ACTIVATION_CONFIRMATION)),
        iec104.ResetMsg(
            is_test=False, originator_address=0, asdu_address=1,
            qualifier=1,
            cause=(iec104.ActivationReqCause.ACTIVATION if cause == ACT
                   else iec104.ActivationResCause.ACTIVATION_CONFIRMATION)),
        iec104.TestMsg(
            is_test=False, originator_address=0, asdu_address=1,
            counter=0x1234, time=TIME,
            cause=(iec104.ActivationReqCause.ACTIVATION if cause == ACT
                   else iec104.ActivationResCause.ACTIVATION_CONFIRMATION))]


def with_ioa(asdu, ioa):
    """`asdu` (one object, SQ=0) with its IOA replaced by `ioa`"""
    return asdu[:6] + ioa.to_bytes(3, 'little') + asdu[9:]


def float_msg(ioa, value):
    return iec104.DataMsg(is_test=False, originator_address=0,
                          asdu_address=1, io_address=ioa,
                          data=iec104.FloatingData(
                              iec104.FloatingValue(value), Q0),
                          time=None, cause=iec104.DataResCause.SPONTANEOUS)


def error_records(caplog):
    return [r for r in caplog.records
            if r.name.startswith('hat.drivers') and
            r.levelno >= logging.ERROR]


@contextlib.asynccontextmanager
async def slave_server(**kwargs):
    """Slave server on a free loopback port; yields (server, queue of
    accepted connections); closes everything it accepted"""
    conns = asyncio.Queue()
    srv = await iec104.listen(conns.put_nowait,
                              tcp.Address('127.0.0.1', 0), **kwargs)
    try:
        yield srv, conns

    finally:
        await srv.async_close()


@pytest.fixture
async def pair():
    """(master, slave) connected and started"""
    async with slave_server(supervisory_timeout=T2) as (srv, conns):
        master = await wait(iec104.connect(srv.addresses[0],
                                           supervisory_timeout=T2),
                            'connect')
        slave = await wait(conns.get(), 'accepted connection')
        try:
            yield master, slave

        finally:
            await master.async_close()
            await slave.async_close()


# --- 1. system commands addressed to an information object -----------------

@pytest.mark.parametrize('msg', system_commands())
@pytest.mark.parametrize('ioa', [0, 5, 0xFFFFFF])
def test_decode_objects_gives_ioa(msg, ioa):
    data = with_ioa(codec.encode_asdu(msg), ioa)
    assert data[0] in codec.ZERO_IOA_TYPE_IDS
    # the message classes have no io_address: decode_asdu as before
    assert codec.decode_asdu(data) == [msg]
    assert codec.decode_objects(data) == [(ioa, msg)]


def test_decode_objects_several_objects():
    msg = system_commands()[0]
    one = codec.encode_asdu(msg)
    element = one[9:]
    # SQ=0: each object its own IOA
    sq0 = bytes([100, 3]) + one[2:6] + b''.join(
        ioa.to_bytes(3, 'little') + element for ioa in (0, 7, 0))
    assert codec.decode_objects(sq0) == [(0, msg), (7, msg), (0, msg)]
    # SQ=1: base IOA + index
    sq1 = bytes([100, 0x82]) + one[2:6] + (9).to_bytes(3, 'little') + (
        element * 2)
    assert codec.decode_objects(sq1) == [(9, msg), (10, msg)]
    assert codec.decode_objects(bytes([100, 0]) + one[2:6]) == []
    # types with io_address: the pair's IOA is the message's
    data = codec.encode_asdu(float_msg(123, 1.5))
    assert codec.decode_objects(data) == [(123, float_msg(123, 1.5))]
    assert codec.ZERO_IOA_TYPE_IDS == {100, 101, 103, 105, 107}
    assert codec.UNKNOWN_IO_ADDRESS_CAUSE == 47


@hypothesis.settings(max_examples=500, deadline=None, database=None)
@hypothesis.given(st.one_of(
    st.binary(max_size=40),
    st.builds(lambda t, rest: bytes([t]) + rest,
              st.sampled_from([100, 101, 103, 105, 107]),
              st.binary(max_size=40))))
def test_decode_objects_agrees_with_decode_asdu(data):
    # arbitrary octets: the same messages or the same error class
    try:
        msgs = codec.decode_asdu(data)

    except codec.AsduDecodeError:
        with pytest.raises(codec.AsduDecodeError):
            codec.decode_objects(data)
        return

    objects = codec.decode_objects(data)
    assert [msg for _, msg in objects] == msgs
    for ioa, msg in objects:
        assert 0 <= ioa <= 0xFFFFFF
        assert getattr(msg, 'io_address', ioa) == ioa


async def test_slave_refuses_system_commands_with_ioa(pair, caplog):
    # each of the five with IOA 5: mirrored with COT 47 and P/N = 1, never
    # seen by the slave's application; the connection stays up and the
    # same commands with IOA 0 are delivered
    master, slave = pair
    caplog.set_level(logging.ERROR)
    requests = system_commands()
    sent = [with_ioa(codec.encode_asdu(msg), 5) for msg in requests]
    for data in sent:
        master.conn.send(data)
    marker = float_msg(1, 1.0)
    master.send([marker, *requests])
    assert await wait(slave.receive(), 'the ASDU after them') == [marker]
    for msg in requests:
        assert await wait(slave.receive(), 'command with IOA 0') == [msg]

    for data in sent:
        reply = await wait(master.conn.receive(), 'mirror')
        # COT octet: T bit as received, P/N = 1, cause 47; all else the same
        assert reply == data[:2] + bytes([0x40 | 47]) + data[3:]

    records = error_records(caplog)
    assert [r.name for r in records] == [connection.mlog.name] * 5
    for record, data in zip(records, sent, strict=True):
        message = record.getMessage()
        assert codec.type_name(data[0]) in message
        assert 'information object address 5' in message
        assert 'answered with COT 47' in message
        assert data.hex(' ') in message

    # the link goes on both ways, and nothing else was sent
    slave.send([requests[0]._replace(cause=ACT_CON)])
    assert await wait(master.receive(), 'confirmation') == [
        requests[0]._replace(cause=ACT_CON)]
    await wait(master.send_wait_ack([marker]), 'ack')
    assert await wait(slave.receive(), 'marker') == [marker]
    assert len(error_records(caplog)) == 5


async def test_slave_refuses_whole_asdu_and_does_not_answer_negative(
        pair, caplog):
    # an ASDU with one object of IOA != 0 among others is refused as a
    # whole; a negative reply (COT 44..47) with IOA != 0 is dropped without
    # answer (answering a reply could loop)
    master, slave = pair
    caplog.set_level(logging.ERROR)
    one = codec.encode_asdu(system_commands()[0])
    two = bytes([100, 2]) + one[2:6] + (0).to_bytes(3, 'little') + one[9:] + (
        (8).to_bytes(3, 'little') + one[9:])
    negative = with_ioa(codec.mirror_unknown(one, 47), 8)
    master.conn.send(two)
    master.conn.send(negative)
    marker = float_msg(1, 1.0)
    master.send([marker])
    assert await wait(slave.receive(), 'the ASDU after them') == [marker]
    assert await wait(master.conn.receive(), 'mirror') == (
        two[:2] + bytes([0x40 | 47]) + two[3:])
    first, second = error_records(caplog)
    assert 'information object address 8' in first.getMessage()
    assert 'answered with COT 47' in first.getMessage()
    assert 'not answered' in second.getMessage()
    slave.send([marker])
    assert await wait(master.conn.receive(), 'marker, no other reply') == (
        codec.encode_asdu(marker))


async def test_master_drops_confirmation_with_ioa(pair, caplog):
    # a confirmation of a system command with IOA != 0 is not taken for a
    # valid one: logged once, dropped, not answered
    master, slave = pair
    caplog.set_level(logging.ERROR)
    confirmations = system_commands(cause=ACT_CON)
    sent = [with_ioa(codec.encode_asdu(msg), 5) for msg in confirmations]
    for data in sent:
        slave.conn.send(data)
    marker = float_msg(1, 1.0)
    slave.send([marker, confirmations[0]])
    assert await wait(master.receive(), 'the ASDU after them') == [marker]
    assert await wait(master.receive(), 'confirmation with IOA 0') == [
        confirmations[0]]
    records = error_records(caplog)
    assert len(records) == 5
    for record, data in zip(records, sent, strict=True):
        message = record.getMessage()
        assert 'not taken for a valid confirmation' in message
        assert data.hex(' ') in message
    master.send([marker])
    assert await wait(slave.conn.receive(), 'marker, no reply') == (
        codec.encode_asdu(marker))


async def test_wireshark_decodes_the_refusal(tmp_path, caplog):
    # on the wire as Wireshark's dissector reads it: the master's
    # C_IC_NA_1 with IOA 5 (COT 6) and the slave's mirror (COT 47, P/N = 1,
    # IOA 5), no malformed packet
    caplog.set_level(logging.ERROR)
    protocol = 'iec60870_104'
    pcap_path = tmp_path / 'refusal.pcap'
    async with slave_server(supervisory_timeout=T2) as (srv, conns):
        port = srv.addresses[0].port
        async with tshark.capture(port, pcap_path, protocol,
                                  ['iec60870_asdu.ioa']) as lines:
            master = await wait(iec104.connect(srv.addresses[0],
                                               supervisory_timeout=T2),
                                'connect')
            slave = None
            try:
                while True:
                    slave = await wait(conns.get(), 'accepted connection')
                    if slave.info.remote_addr == master.info.local_addr:
                        break
                    await slave.async_close()  # tshark's probe
                request = with_ioa(codec.encode_asdu(system_commands()[0]),
                                   5)
                master.conn.send(request)
                marker = float_msg(77, 1.0)
                master.send([marker])
                assert await wait(slave.receive(), 'marker') == [marker]
                assert await wait(master.conn.receive(), 'mirror') == (
                    codec.mirror_unknown(request, 47))
                slave.send([marker])
                assert await wait(master.receive(), 'marker') == [marker]

                async def wait_marker():
                    while True:
                        line = await lines.get()
                        src, ioas = line.split('\t')
                        if int(src) == port and '77' in ioas.split(','):
                            return

                await wait(wait_marker(), 'live capture of the marker')

            finally:
                await master.async_close()
                if slave is not None:
                    await slave.async_close()

    rows = await tshark.decode(
        pcap_path, port, protocol,
        ['tcp.srcport', 'iec60870_asdu.typeid', 'iec60870_asdu.causetx',
         'iec60870_asdu.nega', 'iec60870_asdu.addr', 'iec60870_asdu.ioa',
         '_ws.malformed'],
        ['-o', 'tcp.desegment_tcp_streams:TRUE'])
    assert [row for row in rows if row[-1]] == [], 'malformed packets'
    asdus = []
    for src, typeids, causes, negas, addrs, ioas, _ in rows:
        fields = [[int(i, 0) for i in value.split(',') if i]
                  for value in (typeids, causes, negas, addrs, ioas)]
        for typeid, cause, nega, addr, ioa in zip(*fields, strict=True):
            if typeid == 100:
                asdus.append((int(src) == port, cause, nega, addr, ioa))
    assert asdus == [(False, 6, 0, 1, 5),  # from the master
                     (True, 47, 1, 1, 5)]  # the slave's refusal


# --- 2. a master ignores STARTDT act --------------------------------------

def test_link_master_ignores_startdt_act(caplog):
    lnk = link.Link(is_master=True, response_timeout=15,
                    supervisory_timeout=10, test_timeout=20,
                    send_window_size=12, receive_window_size=8, now=0)
    lnk.start(0)
    assert lnk.data_to_send() == apdu.encode_apdu(apdu.UFrame(U.STARTDT_ACT))
    with caplog.at_level(logging.WARNING, link.mlog.name):
        lnk.receive_data(apdu.encode_apdu(apdu.UFrame(U.STARTDT_ACT)), 1)
    assert lnk.data_to_send() == b''
    assert not lnk.is_enabled
    assert lnk.enabled_events == []
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert 'STARTDT act' in record.getMessage()
    with pytest.raises(link.LinkTimeoutError, match='STARTDT con'):
        lnk.on_timer(15)


@contextlib.asynccontextmanager
async def echo_server():
    """TCP server echoing every octet back; yields its address"""
    async def echo(conn):
        try:
            while True:
                conn.write(await conn.read())
        except ConnectionError:
            pass
        finally:
            await conn.async_close()

    srv = await tcp.listen(echo, tcp.Address('127.0.0.1', 0),
                           bind_connections=True)
    try:
        yield srv.addresses[0]

    finally:
        await srv.async_close()


@pytest.mark.parametrize('connect', [iec104.connect, apci.connect])
async def test_connect_to_echo_server_fails_after_t1(connect, caplog):
    # the echo returns our STARTDT act: ignored with a WARNING, and no
    # STARTDT con comes, so connect fails after t1 (0.6.23 and main
    # answered it, took the echoed STARTDT con and returned)
    caplog.set_level(logging.WARNING)
    t1 = 0.3
    async with echo_server() as addr:
        start = time.monotonic()
        with pytest.raises(ConnectionError) as e:
            await wait(connect(addr, response_timeout=t1), 'connect')
        elapsed = time.monotonic() - start
    assert isinstance(e.value, tcp.ConnectTimeoutError)
    assert 'STARTDT con' in str(e.value)
    assert elapsed >= t1 * 0.9
    warnings = [r for r in caplog.records
                if r.name == link.mlog.name and 'STARTDT act' in
                r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING


# --- 3. replies to received input are flow-controlled -----------------------

class FakeTcp:
    """Stand-in for `hat.drivers.tcp.Connection` under `apci.Connection`:
    `read` returns the chunks put on `chunks`; `drain` blocks until
    `drained` is set (as tcp's does above its high-water mark)"""

    def __init__(self):
        self.async_group = aio.Group()
        self.info = tcp.ConnectionInfo(tcp.Address('127.0.0.1', 1),
                                       tcp.Address('127.0.0.1', 2))
        self.name = None
        self.ssl_object = None
        self.chunks = asyncio.Queue()
        self.written = []
        self.drains = 0
        self.draining = asyncio.Event()
        self.drained = asyncio.Event()
        self.all_read = asyncio.Event()

    async def read(self):
        if self.chunks.empty():
            self.all_read.set()
        return await self.chunks.get()

    def write(self, data):
        self.written.append(bytes(data))

    async def drain(self):
        self.drains += 1
        self.draining.set()
        await self.drained.wait()


def i_frames(first, count):
    asdu = codec.encode_asdu(float_msg(1, 1.0))
    return b''.join(apdu.encode_apdu(apdu.IFrame(first + i, 0, asdu))
                    for i in range(count))


@pytest.mark.parametrize('chunk, reply', [
    # the 8th I-frame (w = 8): an S-frame acknowledging all 8
    (i_frames(7, 1), apdu.encode_apdu(apdu.SFrame(8))),
    (apdu.encode_apdu(apdu.UFrame(U.TESTFR_ACT)),
     apdu.encode_apdu(apdu.UFrame(U.TESTFR_CON))),
    (apdu.encode_apdu(apdu.UFrame(U.STARTDT_ACT)),
     apdu.encode_apdu(apdu.UFrame(U.STARTDT_CON))),
])
async def test_read_loop_waits_for_drain_after_replies(chunk, reply):
    # a chunk that needs no reply (7 I-frames, below w) is followed by the
    # next read at once, without drain; after a chunk with a reply (an
    # S-frame, TESTFR con, STARTDT con) the read loop writes it and awaits
    # tcp's drain before it reads the next chunk (tcp's drain returns at
    # once below its high-water mark; here it blocks as above it)
    fake = FakeTcp()
    lnk = link.Link(is_master=False, response_timeout=15,
                    supervisory_timeout=10, test_timeout=20,
                    send_window_size=12, receive_window_size=8,
                    now=asyncio.get_running_loop().time())
    conn = apci.Connection(fake, lnk)
    try:
        fake.chunks.put_nowait(i_frames(0, 7))
        fake.chunks.put_nowait(chunk)
        fake.chunks.put_nowait(apdu.encode_apdu(apdu.UFrame(U.TESTFR_CON)))
        await wait(fake.draining.wait(), 'drain')
        assert fake.written == [reply]
        assert fake.drains == 1
        assert fake.chunks.qsize() == 1  # not read while draining

        fake.drained.set()
        await wait(fake.all_read.wait(), 'the next chunk read')
        assert fake.drains == 1
        assert conn.is_open

    finally:
        await conn.async_close()


FLOOD_CHUNK = 60 * 1024  # octets per send of the flooding peer
FLOOD_LIMIT = 96 * 1024 * 1024  # octets: far above any buffer on the way
STALL = 2.0  # seconds a send must block for the peer to count as stopped


def flood_testfr():
    frame = apdu.encode_apdu(apdu.UFrame(U.TESTFR_ACT))
    chunk = frame * (FLOOD_CHUNK // len(frame))
    while True:
        yield chunk


def flood_unknown_type():
    # STARTDT act, then I-frames of 249-octet ASDUs of TypeID 127
    # (F_SC_NB_1, file transfer, not decoded): each is answered with its
    # COT 44 mirror of the same size; N(R) stays 0, so the peer
    # acknowledges none of them (the mirrors beyond k wait in the send
    # queue, which is not bounded while data transfer is started)
    asdu = bytes.fromhex('7f 01 06 00 0100 000000') + bytes(240)
    yield apdu.encode_apdu(apdu.UFrame(U.STARTDT_ACT))
    per_chunk = FLOOD_CHUNK // (6 + len(asdu))
    send_sn = 0
    while True:
        frames = []
        for _ in range(per_chunk):
            frames.append(apdu.encode_apdu(apdu.IFrame(send_sn, 0, asdu)))
            send_sn = (send_sn + 1) % apdu.SN_MODULO
        yield b''.join(frames)


class FloodingPeer:
    """Raw socket peer in a thread: sends the chunks of `flood` without
    ever reading (small SO_RCVBUF), until a send blocks for `STALL`
    seconds (stopped by TCP flow control) or `FLOOD_LIMIT` octets are
    sent"""

    def __init__(self, addr, flood):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        self.sock.connect(tuple(addr))
        self.sock.settimeout(STALL)
        self.flood = flood
        self.sent = 0
        self.stalled = False
        self.error = None
        self.done = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def _run(self):
        try:
            for chunk in self.flood:
                view = memoryview(chunk)
                while view and not self._stop:
                    try:
                        n = self.sock.send(view)
                    except TimeoutError:
                        self.stalled = True
                        return
                    self.sent += n
                    view = view[n:]
                if self._stop or self.sent >= FLOOD_LIMIT:
                    return

        except OSError as e:
            self.error = e

        finally:
            self.done.set()

    def finish(self):
        """Stop flooding, send FIN and read until the driver's EOF
        (blocking: run it in a thread)"""
        self._stop = True
        self._thread.join(STALL + 5)
        self.sock.settimeout(TIMEOUT)
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            while self.sock.recv(65536):
                pass

    def close(self):
        self._stop = True
        self._thread.join(STALL + 5)
        self.sock.close()


@pytest.mark.parametrize('flood', [flood_testfr, flood_unknown_type])
async def test_peer_sending_without_reading_is_stopped(flood, caplog):
    # the slave's application receives all the time; the peer floods and
    # never reads. The driver stops reading while its replies wait above
    # TCP's high-water mark (TESTFR con) or while its mirrors wait for the
    # send window (COT 44), so TCP flow control stops the peer: it gets
    # only the buffers on the way through (kernel buffers, hat.drivers.tcp's
    # input_buffer_limit of 1 MiB, receive_queue_limit ASDUs). Before, the
    # driver read everything and kept the replies: the peer never stopped.
    # one ERROR record per unknown ASDU: not kept, so the application
    # receives as fast as it can
    caplog.set_level(logging.CRITICAL, connection.mlog.name)
    async with slave_server(response_timeout=50,
                            test_timeout=50) as (srv, conns):
        peer = FloodingPeer(srv.addresses[0], flood())
        slave = await wait(conns.get(), 'accepted connection')
        received = 0

        async def receive_all():
            nonlocal received
            with contextlib.suppress(ConnectionError):
                while True:
                    await slave.receive()
                    received += 1

        receiver = asyncio.create_task(receive_all())
        loop = asyncio.get_running_loop()
        try:
            peer.start()
            await wait(loop.run_in_executor(None, peer.done.wait, 40),
                       'the flooding peer to stop', 45)
            assert peer.error is None
            assert peer.stalled, (
                f'the peer sent {peer.sent} octets without being stopped')
            assert peer.sent < FLOOD_LIMIT
            assert slave.is_open
            # the driver's unsent output stays bounded too (tcp transport)
            transport = slave.conn._conn._transport
            assert transport.get_write_buffer_size() < 4 * 1024 * 1024

        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            # the peer ends orderly (FIN, reads everything) while the slave
            # closes; a socket closed with unread input would reset
            finished = loop.run_in_executor(None, peer.finish)
            await wait(slave.async_close(), 'slave closed', 15)
            await wait(finished, 'peer finished')
            peer.close()


async def test_close_after_flooding_peer_resets(caplog):
    # the peer floods, is stopped, then resets the connection (closes its
    # socket with unread input) while the slave reads nothing: closing the
    # slave then neither raises nor hangs
    caplog.set_level(logging.CRITICAL, connection.mlog.name)
    async with slave_server(response_timeout=50,
                            test_timeout=50) as (srv, conns):
        peer = FloodingPeer(srv.addresses[0], flood_unknown_type())
        slave = await wait(conns.get(), 'accepted connection')

        async def receive_all():
            with contextlib.suppress(ConnectionError):
                while True:
                    await slave.receive()

        receiver = asyncio.create_task(receive_all())
        loop = asyncio.get_running_loop()
        try:
            peer.start()
            await wait(loop.run_in_executor(None, peer.done.wait, 40),
                       'the flooding peer to stop', 45)
            assert peer.stalled
            peer.close()  # RST: its socket holds unread input

            slave.close()
            await wait(slave.wait_closed(), 'slave closed')

        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
            peer.close()
            await slave.async_close()
        errors = [r for r in caplog.records
                  if r.levelno >= logging.ERROR and
                  not r.name.startswith('hat.drivers.iec104')]
        assert errors == []
