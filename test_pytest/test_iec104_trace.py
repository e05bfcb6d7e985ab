"""Communication log of iec104 (``hat.drivers.iec104.trace``)

One DEBUG record per APDU sent and received, decoded: I-frames with
N(S)/N(R), TypeID name, cause, P/N, T, OA, CA and every object's IOA and
values; S-frames with N(R); U-frames with their function. Switchable at run
time by the logger's level; while off nothing is decoded or formatted.

"""

import asyncio
import datetime
import logging

import pytest

from hat.drivers import iec104, tcp
from hat.drivers.iec104 import apdu, codec, trace


TIMEOUT = 10
LOGGER = 'hat.drivers.iec104.trace'

IQ0 = iec104.IndicationQuality(invalid=False, not_topical=False,
                               substituted=False, blocked=False)
MQ_IV = iec104.MeasurementQuality(invalid=True, not_topical=False,
                                  substituted=False, blocked=True,
                                  overflow=False)
TIME = iec104.Time(size=iec104.TimeSize.SEVEN, milliseconds=5250,
                   invalid=False, minutes=4, summer_time=True, hours=13,
                   day_of_week=5, day_of_month=17, months=5, years=24)


class Records(logging.Handler):
    """Messages of the trace logger's records, with a wait for one"""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []
        self._event = asyncio.Event()

    def emit(self, record):
        self.messages.append(record.getMessage())
        self._event.set()

    async def wait(self, text):
        async def find():
            while True:
                for msg in self.messages:
                    if text in msg:
                        return msg
                self._event.clear()
                await self._event.wait()

        return await asyncio.wait_for(find(), TIMEOUT)


@pytest.fixture
def records():
    logger = logging.getLogger(LOGGER)
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler

    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def slave_and_master(**master_kwargs):
    conns = asyncio.Queue()
    srv = await iec104.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0))
    master = await asyncio.wait_for(
        iec104.connect(srv.addresses[0], **master_kwargs), TIMEOUT)
    slave = await asyncio.wait_for(conns.get(), TIMEOUT)
    return srv, master, slave


async def close(srv, *conns):
    for conn in conns:
        await conn.async_close()
    await srv.async_close()


def describe(conn):
    local, remote = conn.info
    return f'{local.host}:{local.port} -> {remote.host}:{remote.port}'


async def test_frame_formats_and_values(records):
    """Records of U (STARTDT, TESTFR act and con), S and I frames with
    their values, on both ends, in the order of the exchange"""
    srv, master, slave = await slave_and_master(receive_window_size=1,
                                                test_timeout=0.2)
    try:
        m, s = describe(master), describe(slave)
        assert await records.wait(f'{m}: sent U(STARTDT act)')
        assert await records.wait(f'{s}: received U(STARTDT act)')
        assert await records.wait(f'{s}: sent U(STARTDT con)')
        assert await records.wait(f'{m}: received U(STARTDT con)')

        slave.send([
            iec104.DataMsg(is_test=False, originator_address=0,
                           asdu_address=1, io_address=100,
                           data=iec104.SingleData(iec104.SingleValue.ON,
                                                  IQ0),
                           time=None,
                           cause=iec104.DataResCause.SPONTANEOUS),
            iec104.DataMsg(is_test=True, originator_address=3,
                           asdu_address=513, io_address=70000,
                           data=iec104.FloatingData(
                               iec104.FloatingValue(230.5), MQ_IV),
                           time=TIME,
                           cause=iec104.DataResCause.INTERROGATED_STATION)])
        await asyncio.wait_for(master.receive(), TIMEOUT)
        await asyncio.wait_for(master.receive(), TIMEOUT)

        single = ('I(N(S)=0, N(R)=0) M_SP_NA_1 (1) SQ=0 N=1 COT=Spont (3) '
                  'P/N=0 T=0 OA=0 CA=1: IOA=100 SingleData value=ON '
                  'quality=-')
        floating = ('I(N(S)=1, N(R)=0) M_ME_TF_1 (36) SQ=0 N=1 '
                    'COT=Inrogen (20) P/N=0 T=1 OA=3 CA=513: IOA=70000 '
                    'FloatingData value=230.5 quality=IV,BL '
                    'time=2024-05-17 13:04:05.250 SU')
        assert await records.wait(f'{s}: sent {single}')
        assert await records.wait(f'{m}: received {single}')
        assert await records.wait(f'{s}: sent {floating}')
        assert await records.wait(f'{m}: received {floating}')
        # w = 1: the master acknowledges at once (both I-frames, if they
        # came in one chunk, by one S-frame)
        sent = await records.wait(f'{m}: sent S(N(R)=')
        n_r = sent.split('N(R)=')[1]
        assert n_r in ('1)', '2)')
        assert await records.wait(f'{s}: received S(N(R)={n_r}')
        assert await records.wait(f'{s}: received S(N(R)=2)')

        master.send([iec104.CommandMsg(
            is_test=False, originator_address=0, asdu_address=1,
            io_address=1000,
            command=iec104.SingleCommand(value=iec104.SingleValue.OFF,
                                         select=True, qualifier=1),
            is_negative_confirm=True, time=None,
            cause=iec104.CommandResCause.UNKNOWN_IO_ADDRESS)])
        await asyncio.wait_for(slave.receive(), TIMEOUT)
        assert await records.wait(
            f'{m}: sent I(N(S)=0, N(R)=2) C_SC_NA_1 (45) SQ=0 N=1 '
            f'COT=UkIOA (47) P/N=1 T=0 OA=0 CA=1: IOA=1000 SingleCommand '
            f'value=OFF select=1 qualifier=1')

        # t3 = 0.2 s idle: TESTFR act and con
        assert await records.wait(f'{m}: sent U(TESTFR act)')
        assert await records.wait(f'{s}: sent U(TESTFR con)')
        assert await records.wait(f'{m}: received U(TESTFR con)')

    finally:
        await close(srv, master, slave)


def test_format_asdu_header_objects_and_errors():
    """SQ=1 with several objects, a system command (IOA from the wire),
    an undecodable ASDU (header and hex), a short one"""
    # M_ME_NB_1 SQ=1, 2 elements from IOA 10, COT periodic (1)
    asdu = bytes([11, 0x82, 1, 0, 1, 0, 10, 0, 0,
                  0x10, 0x00, 0x00, 0xF0, 0xFF, 0x01])
    assert trace.format_asdu(asdu) == (
        'M_ME_NB_1 (11) SQ=1 N=2 COT=Per/Cyc (1) P/N=0 T=0 OA=0 CA=1: '
        'IOA=10 ScaledData value=16 quality=-; '
        'IOA=11 ScaledData value=-16 quality=OV')

    asdu = codec.encode_asdu(iec104.CounterInterrogationMsg(
        is_test=False, originator_address=0, asdu_address=65535, request=5,
        freeze=iec104.FreezeCode.FREEZE, is_negative_confirm=False,
        cause=iec104.CommandReqCause.ACTIVATION))
    assert trace.format_asdu(asdu) == (
        'C_CI_NA_1 (101) SQ=0 N=1 COT=Act (6) P/N=0 T=0 OA=0 CA=65535: '
        'IOA=0 request=5 freeze=FREEZE')

    bad = bytes([104, 1, 6, 0, 1, 0, 0, 0, 0])  # C_TS_NA_1: not decoded
    text = trace.format_asdu(bad)
    assert text.startswith('C_TS_NA_1 (104) SQ=0 N=1 COT=Act (6) P/N=0 '
                           'T=0 OA=0 CA=1: undecodable: ')
    assert text.endswith('ASDU: 68 01 06 00 01 00 00 00 00')

    assert trace.format_asdu(b'\x01\x01') == 'ASDU too short: 01 01'


def test_log_data_complete_apdus_only(records):
    """Back-to-back APDUs give one record each; the start of an APDU not
    complete yet gives none; a malformed one a record naming it"""
    data = b''.join(apdu.encode_apdu(frame) for frame in [
        apdu.UFrame(apdu.UFunction.STOPDT_ACT),
        apdu.SFrame(receive_sn=32767),
        apdu.IFrame(send_sn=5, receive_sn=6, asdu=b'')])
    trace.log_data('conn', 'received', data + b'\x68\x04\x01')
    assert records.messages == [
        'conn: received U(STOPDT act)',
        'conn: received S(N(R)=32767)',
        'conn: received I(N(S)=5, N(R)=6) ASDU too short: (no octets)']

    records.messages.clear()
    trace.log_data('conn', 'sent', b'\x68\x04\x0b\x00\x00\x00\x69\x04')
    assert records.messages[0] == 'conn: sent U(STARTDT con)'
    assert records.messages[1].startswith('conn: sent malformed APDU: ')
    assert len(records.messages) == 2


async def test_off_no_formatting(monkeypatch, caplog):
    """With the logger above DEBUG nothing of the trace module runs: its
    functions patched to raise, traffic flows and no record is made"""
    def fail(*args, **kwargs):
        raise AssertionError('trace formatting while the log is off')

    monkeypatch.setattr(trace, 'log_data', fail)
    monkeypatch.setattr(trace, 'format_frame', fail)
    monkeypatch.setattr(trace, 'format_asdu', fail)
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert not trace.is_enabled()

    srv, master, slave = await slave_and_master(receive_window_size=1)
    try:
        for i in range(20):
            slave.send([iec104.DataMsg(
                is_test=False, originator_address=0, asdu_address=1,
                io_address=i, data=iec104.SingleData(iec104.SingleValue.ON,
                                                     IQ0),
                time=None, cause=iec104.DataResCause.SPONTANEOUS)])
            await asyncio.wait_for(master.receive(), TIMEOUT)
        await asyncio.wait_for(slave.drain(wait_ack=True), TIMEOUT)
        assert master.is_open and slave.is_open

    finally:
        await close(srv, master, slave)

    assert not [r for r in caplog.records if r.name == LOGGER]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_switch_at_run_time(records):
    """Turned off and on again on an open connection: records only while
    on"""
    srv, master, slave = await slave_and_master()
    logger = logging.getLogger(LOGGER)

    def send(ioa):
        slave.send([iec104.DataMsg(
            is_test=False, originator_address=0, asdu_address=1,
            io_address=ioa, data=iec104.SingleData(iec104.SingleValue.ON,
                                                   IQ0),
            time=None, cause=iec104.DataResCause.SPONTANEOUS)])

    try:
        await records.wait('received U(STARTDT con)')
        logger.setLevel(logging.INFO)
        send(1)
        await asyncio.wait_for(master.receive(), TIMEOUT)
        assert not [m for m in records.messages if 'IOA=1 ' in m]

        logger.setLevel(logging.DEBUG)
        send(2)
        await asyncio.wait_for(master.receive(), TIMEOUT)
        assert await records.wait('sent I(N(S)=1, N(R)=0) M_SP_NA_1')
        assert await records.wait('received I(N(S)=1, N(R)=0) M_SP_NA_1')
        assert not [m for m in records.messages if 'IOA=1 ' in m]

    finally:
        await close(srv, master, slave)


def test_documented_on_the_page():
    """The iec104 page names the logger"""
    from pathlib import Path
    page = (Path(__file__).resolve().parent.parent / 'src_doc' /
            'iec104.rst').read_text(encoding='utf-8')
    assert LOGGER in page


def test_time_text_without_conversion():
    """CP56Time2a is shown as the wall-clock fields on the wire"""
    t = iec104.time_from_datetime(
        datetime.datetime(2030, 1, 2, 3, 4, 5, 6000,
                          tzinfo=datetime.timezone.utc),
        True, tz=datetime.timezone.utc)
    assert trace._format_time(t) == '2030-01-02 03:04:05.006 IV'
