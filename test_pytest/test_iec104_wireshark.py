"""Wireshark's IEC 60870-5-104 dissector decodes what `hat.drivers.iec104`
sends

A real exchange on loopback is captured with tshark and read back with
Wireshark's ``iec60870_104`` (APCI) and ``iec60870_asdu`` dissectors:

* our master and our slave: STARTDT act/con, a sample of control direction
  TypeIDs from the master and of monitoring direction TypeIDs (with and
  without CP56Time2a, positive and negative confirmations) from the slave,
  S-frames both ways, TESTFR act/con (the master's t3 expiring);
* a raw TCP client (hand-written APDUs) and our slave: STARTDT, an I-frame,
  STOPDT act/con and TESTFR act/con answered by the slave.

Every I-, S- and U-format (STARTDT, STOPDT, TESTFR; act and con) appears;
Wireshark must find no malformed packet and decode each ASDU with the
TypeID, cause, P/N bit, common address and IOA sent, and N(S) counting up
from 0 in each direction.

tshark missing or unable to capture: skipped, or failed when
``HAT_DRIVERS_REQUIRE_TSHARK`` is set (CI); see `tshark`.

"""

import asyncio
import datetime

import pytest

from hat import aio

from hat.drivers import iec104
from hat.drivers import tcp

import tshark


pytestmark = pytest.mark.timeout(120)

localhost = '127.0.0.1'
timeout = 30  # seconds: bound of every single wait

protocol = 'iec60870_104'

# Wireshark's values of iec60870_104.type and iec60870_104.utype
I_FORMAT, S_FORMAT, U_FORMAT = 0, 1, 3
STARTDT_ACT, STARTDT_CON = 0x01, 0x02
STOPDT_ACT, STOPDT_CON = 0x04, 0x08
TESTFR_ACT, TESTFR_CON = 0x10, 0x20

fields = ['tcp.srcport', 'tcp.dstport',
          'iec60870_104.type', 'iec60870_104.utype', 'iec60870_104.tx',
          'iec60870_asdu.typeid', 'iec60870_asdu.causetx',
          'iec60870_asdu.nega', 'iec60870_asdu.addr', 'iec60870_asdu.ioa',
          '_ws.malformed']

asdu_address = 0x1234  # both octets of the common address matter
time = iec104.time_from_datetime(
    datetime.datetime(2024, 5, 6, 7, 8, 9, 123000))

iq = iec104.IndicationQuality(invalid=False, not_topical=False,
                              substituted=False, blocked=False)
mq = iec104.MeasurementQuality(invalid=False, not_topical=False,
                               substituted=False, blocked=False,
                               overflow=False)
cq = iec104.CounterQuality(invalid=False, adjusted=False, overflow=False,
                           sequence=0)

act = iec104.CommandReqCause.ACTIVATION
act_con = iec104.CommandResCause.ACTIVATION_CONFIRMATION
act_term = iec104.CommandResCause.ACTIVATION_TERMINATION


def header(**kwargs):
    return dict(is_test=False, originator_address=0,
                asdu_address=asdu_address, **kwargs)


def command(io_address, cmd, time=None, cause=act, negative=False):
    return iec104.CommandMsg(**header(io_address=io_address), command=cmd,
                             is_negative_confirm=negative, time=time,
                             cause=cause)


def data(io_address, data, cause, time=None):
    return iec104.DataMsg(**header(io_address=io_address), data=data,
                          time=time, cause=cause)


interrogation = iec104.InterrogationMsg(
    **header(), request=20, is_negative_confirm=False, cause=act)
counter_interrogation = iec104.CounterInterrogationMsg(
    **header(), request=5, freeze=iec104.FreezeCode.READ,
    is_negative_confirm=False, cause=act)
single_command = command(0x123456, iec104.SingleCommand(
    value=iec104.SingleValue.ON, select=False, qualifier=0))

# control direction, master -> slave: (message, (TypeID, COT, P/N, IOA))
master_msgs = [
    (interrogation, (100, 6, 0, 0)),
    (counter_interrogation, (101, 6, 0, 0)),
    (single_command, (45, 6, 0, 0x123456)),
    (command(401, iec104.DoubleCommand(
        value=iec104.DoubleValue.OFF, select=True, qualifier=1)),
     (46, 6, 0, 401)),
    (command(500, iec104.FloatingCommand(
        value=iec104.FloatingValue(7.5), select=True)),
     (50, 6, 0, 500)),
    (command(402, iec104.SingleCommand(
        value=iec104.SingleValue.OFF, select=False, qualifier=0),
        time=time),
     (58, 6, 0, 402)),
    (iec104.ReadMsg(**header(io_address=100),
                    cause=iec104.ReadReqCause.REQUEST),
     (102, 5, 0, 100)),
    (iec104.ClockSyncMsg(**header(), time=time, is_negative_confirm=False,
                         cause=iec104.ClockSyncReqCause.ACTIVATION),
     (103, 6, 0, 0)),
    (iec104.TestMsg(**header(), counter=0x5555, time=time,
                    cause=iec104.ActivationReqCause.ACTIVATION),
     (107, 6, 0, 0)),
    (iec104.ParameterMsg(**header(io_address=200),
                         parameter=iec104.FloatingParameter(
                             value=iec104.FloatingValue(0.5),
                             qualifier=1),
                         cause=iec104.ParameterReqCause.ACTIVATION),
     (112, 6, 0, 200))]

# monitoring direction, slave -> master
station = iec104.DataResCause.INTERROGATED_STATION
spontaneous = iec104.DataResCause.SPONTANEOUS
slave_msgs = [
    (interrogation._replace(cause=act_con), (100, 7, 0, 0)),
    (data(100, iec104.SingleData(iec104.SingleValue.ON, iq), station),
     (1, 20, 0, 100)),
    (data(101, iec104.DoubleData(iec104.DoubleValue.ON, iq), station),
     (3, 20, 0, 101)),
    (data(200, iec104.NormalizedData(iec104.NormalizedValue(0.25), mq),
          station),
     (9, 20, 0, 200)),
    (data(201, iec104.ScaledData(iec104.ScaledValue(-1234), mq), station),
     (11, 20, 0, 201)),
    (data(0xFFFFFF, iec104.FloatingData(iec104.FloatingValue(1.5), mq),
          station),
     (13, 20, 0, 0xFFFFFF)),
    (interrogation._replace(cause=act_term), (100, 10, 0, 0)),
    (data(300, iec104.BinaryCounterData(iec104.BinaryCounterValue(42), cq),
          iec104.DataResCause.INTERROGATED_COUNTER),
     (15, 37, 0, 300)),
    (single_command._replace(cause=act_con, is_negative_confirm=True),
     (45, 7, 1, 0x123456)),
    (data(102, iec104.SingleData(iec104.SingleValue.OFF, iq), spontaneous,
          time),
     (30, 3, 0, 102)),
    (data(202, iec104.FloatingData(iec104.FloatingValue(2.5), mq),
          spontaneous, time),
     (36, 3, 0, 202)),
    (iec104.InitializationMsg(
        **header(), param_change=False,
        cause=iec104.InitializationResCause.LOCAL_POWER),
     (70, 4, 0, 0))]

# raw client (hand-written APDUs) -> slave, and what the slave answers
raw_startdt_act = bytes.fromhex('68 04 07 00 00 00')
raw_startdt_con = bytes.fromhex('68 04 0b 00 00 00')
raw_s_frame = bytes.fromhex('68 04 01 00 02 00')  # acknowledges N(S) 0
raw_stopdt_act = bytes.fromhex('68 04 13 00 00 00')
raw_stopdt_con = bytes.fromhex('68 04 23 00 00 00')
raw_testfr_act = bytes.fromhex('68 04 43 00 00 00')
raw_testfr_con = bytes.fromhex('68 04 83 00 00 00')
raw_i_msg = data(203, iec104.FloatingData(iec104.FloatingValue(-3.0), mq),
                 spontaneous)


async def wait_for(aw, what):
    try:
        return await asyncio.wait_for(aw, timeout)

    except asyncio.TimeoutError:
        pytest.fail(f'timeout ({timeout} s) waiting for {what}')


async def accepted(conn_queue, remote_addr):
    """Slave side connection of `remote_addr` (skipping capture probes)"""
    while True:
        conn = await wait_for(conn_queue.get(), 'accepted connection')
        if conn.info.remote_addr == remote_addr:
            return conn
        await conn.async_close()


async def wait_live(lines, srcport, dstport, apdu_type, utype=None):
    """Wait until the live capture shows an APDU of `apdu_type` (and
    `utype`) sent from `srcport` to `dstport`"""
    async def wait():
        while True:
            line = await lines.get()
            src, dst, types, utypes = line.split('\t')
            if (int(src), int(dst)) != (srcport, dstport):
                continue
            types = [int(i, 0) for i in types.split(',') if i]
            utypes = [int(i, 0) for i in utypes.split(',') if i]
            if apdu_type in types and (utype is None or utype in utypes):
                return

    await wait_for(wait(), f'live capture of APDU type {apdu_type} '
                           f'utype {utype} from port {srcport} to '
                           f'{dstport}')


async def receive_msgs(conn, count):
    msgs = []
    while len(msgs) < count:
        msgs.extend(await wait_for(conn.receive(), 'messages'))
    return msgs


@pytest.mark.timeout(120)
async def test_wireshark_decodes_iec104(tmp_path):
    """Wireshark decodes every frame format and the TypeIDs, causes,
    common addresses and IOAs sent by our master and slave"""
    pcap_path = tmp_path / 'iec104.pcap'
    conn_queue = aio.Queue()
    srv = await iec104.listen(conn_queue.put_nowait,
                              tcp.Address(localhost, 0),
                              supervisory_timeout=0.2)
    port = srv.addresses[0].port
    conns = []
    try:
        async with tshark.capture(port, pcap_path, protocol,
                                  ['tcp.dstport', 'iec60870_104.type',
                                   'iec60870_104.utype']) as lines:

            # --- our master and our slave ---
            # master: t3 expires once the exchange is over (TESTFR)
            master = await wait_for(
                iec104.connect(srv.addresses[0], test_timeout=1,
                               supervisory_timeout=0.2),
                'connect')
            conns.append(master)
            slave = await accepted(conn_queue, master.info.local_addr)
            conns.append(slave)
            master_port = master.info.local_addr.port

            # the last I-frame of each direction is acknowledged by an
            # S-frame: the peer has no I-frame to send then
            *first, (last, _) = master_msgs
            master.send([msg for msg, _ in first])
            await wait_for(master.send_wait_ack([last]),
                           'ack of the master I-frames')
            assert await receive_msgs(slave, len(master_msgs)) == [
                msg for msg, _ in master_msgs]

            *first, (last, _) = slave_msgs
            slave.send([msg for msg, _ in first])
            await wait_for(slave.send_wait_ack([last]),
                           'ack of the slave I-frames')
            received = await receive_msgs(master, len(slave_msgs))
            assert len(received) == len(slave_msgs)

            await wait_live(lines, master_port, port, U_FORMAT, TESTFR_ACT)
            await wait_live(lines, port, master_port, U_FORMAT, TESTFR_CON)

            # --- a raw master and our slave: STOPDT ---
            raw = await wait_for(tcp.connect(srv.addresses[0]), 'connect')
            conns.append(raw)
            raw_slave = await accepted(conn_queue, raw.info.local_addr)
            conns.append(raw_slave)
            raw_port = raw.info.local_addr.port

            enabled = aio.Queue()
            raw_slave.register_enabled_cb(enabled.put_nowait)

            raw.write(raw_startdt_act)
            assert await wait_for(raw.readexactly(6),
                                  'STARTDT con') == raw_startdt_con
            assert await wait_for(enabled.get(), 'enabled') is True

            raw_slave.send([raw_i_msg])
            i_frame = await wait_for(raw.readexactly(6), 'I-frame')
            assert i_frame[:2] == bytes([0x68, i_frame[1]])
            await wait_for(raw.readexactly(i_frame[1] - 4), 'ASDU')
            raw.write(raw_s_frame)
            await wait_for(raw_slave.drain(wait_ack=True), 'ack')

            raw.write(raw_stopdt_act)
            assert await wait_for(raw.readexactly(6),
                                  'STOPDT con') == raw_stopdt_con
            assert await wait_for(enabled.get(), 'disabled') is False

            raw.write(raw_testfr_act)
            assert await wait_for(raw.readexactly(6),
                                  'TESTFR con') == raw_testfr_con

            # the last frame sent is captured: the pcap is complete
            await wait_live(lines, port, raw_port, U_FORMAT, TESTFR_CON)

            for conn in conns:
                await conn.async_close()

    finally:
        for conn in conns:
            await conn.async_close()
        await srv.async_close()

    rows = await tshark.decode(pcap_path, port, protocol, fields,
                               ['-o', 'tcp.desegment_tcp_streams:TRUE'])

    assert [row for row in rows if row[-1]] == [], 'malformed packets'

    def apdus(srcport, dstport):
        """[(type, utype)], [N(S)], [(TypeID, COT, P/N, CA, IOA)] sent from
        `srcport` to `dstport`"""
        frames = []
        send_sns = []
        asdus = []

        def ints(value):
            return [int(i, 0) for i in value.split(',') if i]

        for (src, dst, types, utypes, tx, typeids, causes, negas, addrs,
             ioas, _) in rows:
            if (int(src), int(dst)) != (srcport, dstport):
                continue
            utypes = iter(ints(utypes))
            for apdu_type in ints(types):
                frames.append((apdu_type, next(utypes)
                               if apdu_type == U_FORMAT else None))
            send_sns.extend(ints(tx))
            asdu_fields = [ints(typeids), ints(causes), ints(negas),
                           ints(addrs), ints(ioas)]
            assert len({len(i) for i in asdu_fields}) == 1, asdu_fields
            asdus.extend(zip(*asdu_fields, strict=True))
        return frames, send_sns, asdus

    def expected_asdus(msgs):
        return [(typeid, cause, negative, asdu_address, ioa)
                for _, (typeid, cause, negative, ioa) in msgs]

    # our master -> our slave
    frames, send_sns, asdus = apdus(master_port, port)
    assert frames[0] == (U_FORMAT, STARTDT_ACT)
    assert frames.count((I_FORMAT, None)) == len(master_msgs)
    assert (S_FORMAT, None) in frames
    assert (U_FORMAT, TESTFR_ACT) in frames
    assert send_sns == list(range(len(master_msgs)))
    assert asdus == expected_asdus(master_msgs)

    # our slave -> our master
    frames, send_sns, asdus = apdus(port, master_port)
    assert frames[0] == (U_FORMAT, STARTDT_CON)
    assert frames.count((I_FORMAT, None)) == len(slave_msgs)
    assert (S_FORMAT, None) in frames
    assert (U_FORMAT, TESTFR_CON) in frames
    assert send_sns == list(range(len(slave_msgs)))
    assert asdus == expected_asdus(slave_msgs)

    # raw master -> our slave (hand-written: checks the test itself)
    frames, _, asdus = apdus(raw_port, port)
    assert frames == [(U_FORMAT, STARTDT_ACT), (S_FORMAT, None),
                      (U_FORMAT, STOPDT_ACT), (U_FORMAT, TESTFR_ACT)]
    assert asdus == []

    # our slave -> raw master
    frames, send_sns, asdus = apdus(port, raw_port)
    assert frames == [(U_FORMAT, STARTDT_CON), (I_FORMAT, None),
                      (U_FORMAT, STOPDT_CON), (U_FORMAT, TESTFR_CON)]
    assert send_sns == [0]
    assert asdus == [(13, 3, 0, asdu_address, 203)]

