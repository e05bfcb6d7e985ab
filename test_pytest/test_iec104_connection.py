"""Tests of hat.drivers.iec104 connections: our master against our slave
over loopback (IEC 60870-5-104 clauses 5 and 8), plus a raw TCP peer where
a test needs frames the public API does not send."""

import asyncio
import contextlib
import datetime
import inspect
import logging

import hypothesis
import hypothesis.strategies as st
import pytest

from hat.drivers import iec104
from hat.drivers import tcp
from hat.drivers.iec104 import apci
from hat.drivers.iec104 import codec
from hat.drivers.iec104 import connection


TIMEOUT = 5

Q0 = iec104.MeasurementQuality(False, False, False, False, False)
IQ0 = iec104.IndicationQuality(False, False, False, False)


async def wait(aw, what):
    """`aw`'s result, failing the test if it takes more than TIMEOUT s"""
    try:
        return await asyncio.wait_for(aw, TIMEOUT)

    except asyncio.TimeoutError:
        pytest.fail(f'timeout ({TIMEOUT} s) waiting for {what}')


def float_msg(ioa, value, cause=iec104.DataResCause.SPONTANEOUS, time=None):
    return iec104.DataMsg(is_test=False, originator_address=0,
                          asdu_address=1, io_address=ioa,
                          data=iec104.FloatingData(
                              iec104.FloatingValue(value), Q0),
                          time=time, cause=cause)


def single_msg(ioa, value, cause=iec104.DataResCause.SPONTANEOUS):
    return iec104.DataMsg(is_test=False, originator_address=0,
                          asdu_address=1, io_address=ioa,
                          data=iec104.SingleData(value, IQ0),
                          time=None, cause=cause)


@contextlib.asynccontextmanager
async def slave_server(**kwargs):
    """Slave server on a free loopback port; yields (server, queue of
    accepted connections); closes everything"""
    conns = asyncio.Queue()
    srv = await iec104.listen(conns.put_nowait,
                              tcp.Address('127.0.0.1', 0), **kwargs)
    try:
        yield srv, conns

    finally:
        await srv.async_close()


# t2 short enough that waits for acknowledgements stay well below TIMEOUT
T2 = 0.05


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


# --- API shape ---------------------------------------------------------------

def test_signatures():
    params = inspect.signature(iec104.connect).parameters
    assert list(params)[:9] == [
        'addr', 'response_timeout', 'supervisory_timeout', 'test_timeout',
        'send_window_size', 'receive_window_size', 'ssl_ctx', 'update_key',
        'critical_functions']
    listen_params = inspect.signature(iec104.listen).parameters
    assert list(listen_params)[:10] == ['connection_cb', *list(params)[:9]]
    assert listen_params['addr'].default == tcp.Address('0.0.0.0', 2404)
    for ps in (params, listen_params):
        names = list(ps)
        for name in names[:names.index('critical_functions') + 1]:
            assert ps[name].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
        for name in names[names.index('critical_functions') + 1:]:
            assert ps[name].kind == inspect.Parameter.KEYWORD_ONLY
        defaults = {name: ps[name].default for name in (
            'response_timeout', 'supervisory_timeout', 'test_timeout',
            'send_window_size', 'receive_window_size', 'ssl_ctx',
            'update_key')}
        assert defaults == {'response_timeout': 15,
                            'supervisory_timeout': 10,
                            'test_timeout': 20,
                            'send_window_size': 12,
                            'receive_window_size': 8,
                            'ssl_ctx': None,
                            'update_key': None}
        assert ps['critical_functions'].default == {
            iec104.Function.COMMAND, iec104.Function.TEST,
            iec104.Function.RESET, iec104.Function.PARAMETER,
            iec104.Function.PARAMETER_ACTIVATION}
    for ps in (params, listen_params):
        assert list(ps)[-1] == 'receive_queue_limit'
        assert (ps['receive_queue_limit'].kind ==
                inspect.Parameter.KEYWORD_ONLY)
        assert (ps['receive_queue_limit'].default ==
                apci.DEFAULT_RECEIVE_QUEUE_LIMIT == 1000)
    assert inspect.iscoroutinefunction(iec104.connect)
    assert inspect.iscoroutinefunction(iec104.listen)
    assert inspect.iscoroutinefunction(iec104.Connection.receive)
    assert inspect.iscoroutinefunction(iec104.Connection.send_wait_ack)
    assert inspect.iscoroutinefunction(iec104.Connection.drain)
    assert not inspect.iscoroutinefunction(iec104.Connection.send)


async def test_update_key_not_implemented():
    with pytest.raises(NotImplementedError, match='update_key'):
        await iec104.connect(tcp.Address('127.0.0.1', 1), update_key=b'k')
    with pytest.raises(NotImplementedError, match='update_key'):
        await iec104.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                            update_key=b'k')


async def test_critical_functions_accepted():
    async with slave_server(critical_functions={iec104.Function.DATA}) as (
            srv, conns):
        master = await wait(iec104.connect(
            srv.addresses[0], critical_functions=set()), 'connect')
        slave = await wait(conns.get(), 'accepted connection')
        assert master.is_enabled
        await master.async_close()
        await slave.async_close()
    with pytest.raises(TypeError, match='critical_functions'):
        await iec104.connect(tcp.Address('127.0.0.1', 1),
                             critical_functions={'command'})


async def test_t2_not_below_t1_accepted_and_warns_once(caplog):
    # hat-drivers 0.6.23 accepts these: our t2 must be below the PEER's t1,
    # and IEC 60870-5-104 clause 5.1 recommends t2 < t1 for a symmetric
    # configuration (the default t2 is 10 s)
    caplog.set_level(logging.WARNING)

    def warnings():
        return [r for r in caplog.records
                if r.name.startswith('hat.drivers') and
                r.levelno == logging.WARNING]

    conns = asyncio.Queue()
    srv = await iec104.listen(conns.put_nowait,
                              tcp.Address('127.0.0.1', 0),
                              response_timeout=5)
    master = None
    try:
        [record] = warnings()
        message = record.getMessage()
        for text in ('t2 = 10 s', 't1 = 5 s', 'clause 5.1', 't2 < t1',
                     'may close the connection'):
            assert text in message

        master = await wait(iec104.connect(srv.addresses[0],
                                           response_timeout=10),
                            'connect')
        slave = await wait(conns.get(), 'accepted connection')
        assert len(warnings()) == 2
        assert 't2 = 10 s' in warnings()[1].getMessage()
        assert 't1 = 10 s' in warnings()[1].getMessage()

        # the connection works both ways (no wait for acknowledgements:
        # t2 is 10 s on both sides)
        msg = float_msg(1, 1.0)
        master.send([msg])
        assert await wait(slave.receive(), 'data') == [msg]
        slave.send([msg])
        assert await wait(master.receive(), 'data') == [msg]
        assert len(warnings()) == 2

    finally:
        if master is not None:
            await master.async_close()
        await srv.async_close()


@pytest.mark.parametrize('kwargs', [
    {'response_timeout': 0},
    {'supervisory_timeout': -1},
    {'supervisory_timeout': float('nan')},
    {'supervisory_timeout': None},
    {'response_timeout': '5'},
    {'response_timeout': 10**400},
    {'supervisory_timeout': 10**400},
    {'test_timeout': 10**400},
])
async def test_timeouts_must_be_positive_numbers(kwargs):
    word = next(iter(kwargs))
    with pytest.raises((TypeError, ValueError), match=word):
        await iec104.connect(tcp.Address('127.0.0.1', 1), **kwargs)
    with pytest.raises((TypeError, ValueError), match=word):
        await iec104.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                            **kwargs)


# --- establishment -----------------------------------------------------------

async def test_startdt_enables_both(pair):
    master, slave = pair
    assert master.is_enabled
    assert slave.is_enabled
    assert isinstance(master.conn, apci.Connection)
    assert isinstance(slave.conn, apci.Connection)
    assert master.async_group is master.conn.async_group
    assert master.info.remote_addr == slave.info.local_addr
    assert master.info.local_addr == slave.info.remote_addr


async def test_server_addresses_and_close_closes_connections():
    async with slave_server() as (srv, conns):
        addr, = srv.addresses
        assert addr.host == '127.0.0.1'
        assert addr.port != 0
        master = await wait(iec104.connect(addr), 'connect')
        slave = await wait(conns.get(), 'accepted connection')
        await wait(srv.async_close(), 'server close')
        assert slave.is_closing
        await wait(master.wait_closing(), 'master noticing the close')
        with pytest.raises(ConnectionError):
            await wait(master.receive(), 'receive after close')
        await master.async_close()


async def test_connection_cb_coroutine_and_enabled_callback():
    events = asyncio.Queue()
    accepted = asyncio.Queue()

    async def on_connection(conn):
        assert not conn.is_enabled
        conn.register_enabled_cb(events.put_nowait)
        await asyncio.sleep(0)
        accepted.put_nowait(conn)

    srv = await iec104.listen(on_connection, tcp.Address('127.0.0.1', 0))
    try:
        master = await wait(iec104.connect(srv.addresses[0]), 'connect')
        slave = await wait(accepted.get(), 'accepted connection')
        assert await wait(events.get(), 'enabled callback') is True
        assert slave.is_enabled
        await master.async_close()
        await wait(slave.wait_closed(), 'slave closed')
        assert events.empty()  # not called on close

    finally:
        await srv.async_close()


async def test_enabled_callbacks_startdt_stopdt_and_cancel():
    # raw TCP master: STARTDT act, STOPDT act, STARTDT act
    events = asyncio.Queue()
    handles = []

    def on_connection(conn):
        handles.append(conn.register_enabled_cb(events.put_nowait))

    srv = await iec104.listen(on_connection, tcp.Address('127.0.0.1', 0))
    raw = await wait(tcp.connect(srv.addresses[0]), 'tcp connect')
    try:
        raw.write(bytes.fromhex('68 04 07 00 00 00'))
        assert await wait(raw.readexactly(6), 'STARTDT con') == \
            bytes.fromhex('68 04 0b 00 00 00')
        assert await wait(events.get(), 'callback') is True

        raw.write(bytes.fromhex('68 04 13 00 00 00'))
        assert await wait(raw.readexactly(6), 'STOPDT con') == \
            bytes.fromhex('68 04 23 00 00 00')
        assert await wait(events.get(), 'callback') is False

        handles[0].cancel()
        raw.write(bytes.fromhex('68 04 07 00 00 00'))
        assert await wait(raw.readexactly(6), 'STARTDT con') == \
            bytes.fromhex('68 04 0b 00 00 00')
        assert events.empty()

    finally:
        await raw.async_close()
        await srv.async_close()


async def test_slave_sends_before_startdt_are_kept():
    # messages sent by the slave before STARTDT act are delivered after it
    msgs = [float_msg(i, float(i)) for i in range(3)]

    def on_connection(conn):
        conn.send(msgs)

    srv = await iec104.listen(on_connection, tcp.Address('127.0.0.1', 0))
    try:
        master = await wait(iec104.connect(srv.addresses[0]), 'connect')
        for msg in msgs:
            assert await wait(master.receive(), 'data') == [msg]
        await master.async_close()

    finally:
        await srv.async_close()


# --- data exchange -----------------------------------------------------------

async def test_spontaneous_data(pair):
    master, slave = pair
    time = iec104.time_from_datetime(datetime.datetime(2024, 5, 17, 13, 45))
    msgs = [float_msg(100, 1.5),
            float_msg(101, -2.5, time=time),
            single_msg(1, iec104.SingleValue.ON),
            iec104.DataMsg(
                is_test=True, originator_address=3, asdu_address=0xFFFF,
                io_address=0xFFFFFF,
                data=iec104.BinaryCounterData(
                    iec104.BinaryCounterValue(-5),
                    iec104.CounterQuality(False, True, False, 7)),
                time=time, cause=iec104.DataResCause.SPONTANEOUS)]
    slave.send(msgs)
    for msg in msgs:
        assert await wait(master.receive(), 'data') == [msg]
    await wait(slave.drain(wait_ack=True), 'ack of the data')


async def test_burst_beyond_window(pair):
    # more than k = 12 ASDUs at once: queued and all delivered in order
    master, slave = pair
    msgs = [float_msg(i, float(i)) for i in range(200)]
    slave.send(msgs)
    received = []
    while len(received) < len(msgs):
        received.extend(await wait(master.receive(), 'data'))
    assert received == msgs
    await wait(slave.drain(wait_ack=True), 'ack of the burst')


async def test_interrogation(pair):
    master, slave = pair
    request = iec104.InterrogationMsg(
        is_test=False, originator_address=0, asdu_address=1, request=20,
        is_negative_confirm=False, cause=iec104.CommandReqCause.ACTIVATION)
    master.send([request])
    assert await wait(slave.receive(), 'interrogation') == [request]

    points = [single_msg(i, iec104.SingleValue.ON,
                         cause=iec104.DataResCause.INTERROGATED_STATION)
              for i in range(20)]
    slave.send([
        request._replace(
            cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION),
        *points,
        request._replace(
            cause=iec104.CommandResCause.ACTIVATION_TERMINATION)])

    con, = await wait(master.receive(), 'activation confirmation')
    assert con.cause == iec104.CommandResCause.ACTIVATION_CONFIRMATION
    assert not con.is_negative_confirm
    for point in points:
        assert await wait(master.receive(), 'point') == [point]
    term, = await wait(master.receive(), 'activation termination')
    assert term.cause == iec104.CommandResCause.ACTIVATION_TERMINATION


async def test_counter_interrogation(pair):
    master, slave = pair
    request = iec104.CounterInterrogationMsg(
        is_test=False, originator_address=0, asdu_address=1, request=5,
        freeze=iec104.FreezeCode.FREEZE, is_negative_confirm=False,
        cause=iec104.CommandReqCause.ACTIVATION)
    await wait(master.send_wait_ack([request]), 'ack of the request')
    assert await wait(slave.receive(), 'counter interrogation') == [request]


async def test_commands_with_confirmations(pair):
    master, slave = pair
    select = iec104.CommandMsg(
        is_test=False, originator_address=0, asdu_address=1, io_address=4000,
        command=iec104.SingleCommand(iec104.SingleValue.ON, True, 0),
        is_negative_confirm=False, time=None,
        cause=iec104.CommandReqCause.ACTIVATION)
    execute = select._replace(command=select.command._replace(select=False))

    # select before execute: positive confirmation
    await wait(master.send_wait_ack([select]), 'ack of select')
    assert await wait(slave.receive(), 'select') == [select]
    confirm = select._replace(
        cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION)
    slave.send([confirm])
    assert await wait(master.receive(), 'confirmation') == [confirm]

    # execute: negative confirmation
    master.send([execute])
    assert await wait(slave.receive(), 'execute') == [execute]
    negative = execute._replace(
        cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION,
        is_negative_confirm=True)
    slave.send([negative])
    msg, = await wait(master.receive(), 'negative confirmation')
    assert msg == negative
    assert msg.is_negative_confirm

    # set-point command with time tag
    time = iec104.time_from_datetime(datetime.datetime.now())
    setpoint = iec104.CommandMsg(
        is_test=False, originator_address=0, asdu_address=1, io_address=4001,
        command=iec104.FloatingCommand(iec104.FloatingValue(0.5), False),
        is_negative_confirm=False, time=time,
        cause=iec104.CommandReqCause.ACTIVATION)
    master.send([setpoint])
    assert await wait(slave.receive(), 'set-point') == [setpoint]


async def test_clock_sync(pair):
    master, slave = pair
    now = datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=123000)
    sync = iec104.ClockSyncMsg(
        is_test=False, originator_address=0, asdu_address=1,
        time=iec104.time_from_datetime(now), is_negative_confirm=False,
        cause=iec104.ClockSyncReqCause.ACTIVATION)
    master.send([sync])
    msg, = await wait(slave.receive(), 'clock sync')
    assert msg == sync
    assert iec104.time_to_datetime(msg.time) == now
    confirm = sync._replace(
        cause=iec104.ClockSyncResCause.ACTIVATION_CONFIRMATION)
    slave.send([confirm])
    assert await wait(master.receive(), 'confirmation') == [confirm]


async def test_several_objects_in_one_asdu(pair):
    # M_SP_NA_1 SQ=1 with 3 elements, sent raw through the link connection
    master, slave = pair
    slave.conn.send(bytes.fromhex('01 83 1400 0100 0a0000 01 00 01'))
    msgs = await wait(master.receive(), 'data')
    assert [msg.io_address for msg in msgs] == [10, 11, 12]
    assert [msg.data.value for msg in msgs] == [
        iec104.SingleValue.ON, iec104.SingleValue.OFF, iec104.SingleValue.ON]
    # no objects: an empty list
    slave.conn.send(bytes.fromhex('01 00 0300 0100'))
    assert await wait(master.receive(), 'empty ASDU') == []


async def test_undecodable_asdu_skipped(pair, caplog):
    master, slave = pair
    caplog.set_level(logging.ERROR)
    bad = bytes.fromhex('ff 01 03 00 01 00 64 00 00 01')
    good = float_msg(1, 2.0)
    slave.conn.send(bad)
    slave.send([good])
    assert await wait(master.receive(), 'ASDU after the bad one') == [good]

    records = [r for r in caplog.records
               if r.name == connection.mlog.name]
    assert len(records) == 1
    assert records[0].levelno == logging.ERROR
    assert 'unknown TypeID 255' in records[0].getMessage()
    assert bad.hex(' ') in records[0].getMessage()

    # the connection is up and its sequence numbers right: both ways work
    assert master.is_open
    await wait(slave.send_wait_ack([good]), 'ack after the bad ASDU')
    assert await wait(master.receive(), 'data') == [good]
    master.send([good._replace(cause=iec104.DataResCause.PERIODIC)])
    assert (await wait(slave.receive(), 'data'))[0].io_address == 1
    assert not [r for r in caplog.records
                if r.levelno >= logging.ERROR and r not in records]


async def test_empty_i_frame_logged_as_undecodable(pair, caplog):
    # an I-frame without ASDU octets: acknowledged, one ERROR record like
    # any undecodable ASDU, the next ASDU returned
    master, slave = pair
    caplog.set_level(logging.ERROR)
    good = float_msg(1, 2.0)
    await wait(slave.conn.send_wait_ack(b''), 'empty I-frame acknowledged')
    slave.send([good])
    assert await wait(master.receive(), 'ASDU after the empty one') == [good]
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].name == connection.mlog.name
    assert 'undecodable ASDU skipped' in records[0].getMessage()
    assert 'ASDU of 0 octets' in records[0].getMessage()
    assert master.is_open


@pytest.mark.parametrize('value', ['x', True, 1])
async def test_ssl_ctx_type_checked(value):
    # port 1: nothing listens; the TypeError comes before any socket
    with pytest.raises(TypeError, match='ssl_ctx'):
        await wait(iec104.connect(tcp.Address('127.0.0.1', 1),
                                  ssl_ctx=value), 'connect')
    with pytest.raises(TypeError, match='ssl_ctx'):
        await wait(iec104.listen(lambda conn: None,
                                 tcp.Address('127.0.0.1', 0),
                                 ssl_ctx=value), 'listen')


# --- negative replies to unknown TypeIDs and causes (IEC 60870-5-101
# clause 7.2.3) ---------------------------------------------------------

# C_TS_NA_1 (TypeID 104, not used by IEC 60870-5-104): COT 6, CA 1, IOA 0,
# FBP 0x55aa
C_TS_NA_1 = bytes.fromhex('68 01 06 00 0100 000000 aa55')
# reply: COT 44 with P/N = 1 (0x40 | 44 = 0x6c), everything else as received
C_TS_NA_1_REPLY = bytes.fromhex('68 01 6c 00 0100 000000 aa55')
# TypeID 115 (reserved, parameter range), T = 1, COT 5, originator 7,
# CA 0x1234, SQ = 1 with 2 elements
UNKNOWN_115 = bytes.fromhex('73 82 85 07 3412 010000 0102 0304')
UNKNOWN_115_REPLY = bytes.fromhex('73 82 ec 07 3412 010000 0102 0304')
# C_SC_NA_1 with cause 0 (not defined)
C_SC_CAUSE_0 = bytes.fromhex('2d 01 00 03 0100 0a0000 01')
C_SC_CAUSE_0_REPLY = bytes.fromhex('2d 01 6d 03 0100 0a0000 01')


@pytest.mark.parametrize('data, cause, expected', [
    (C_TS_NA_1, 44, C_TS_NA_1_REPLY),
    (UNKNOWN_115, 44, UNKNOWN_115_REPLY),
    (C_SC_CAUSE_0, 45, C_SC_CAUSE_0_REPLY),
    # every cause bit replaced; T and P/N kept set
    ('2d 01 ff 00 0100', 45, '2d 01 ed 00 0100'),
    ('2d 01 bf 00 0100', 44, '2d 01 ec 00 0100'),
    ('2d 01 3f 00 0100', 46, '2d 01 6e 00 0100'),
    ('2d 01 06 00 0100', 47, '2d 01 6f 00 0100'),
    # exactly the 6-octet data unit identifier
    ('ff 00 06 ff ffff', 44, 'ff 00 6c ff ffff'),
])
def test_mirror_unknown(data, cause, expected):
    data = bytes.fromhex(data) if isinstance(data, str) else data
    expected = (bytes.fromhex(expected) if isinstance(expected, str)
                else expected)
    for value in (data, bytearray(data), memoryview(data)):
        result = codec.mirror_unknown(value, cause)
        assert type(result) is bytes
        assert result == expected


@pytest.mark.parametrize('data', ['', '68', '68 01 06 00 01'])
def test_mirror_unknown_too_short(data):
    assert codec.mirror_unknown(bytes.fromhex(data), 44) is None


@pytest.mark.parametrize('data, cause, error', [
    (C_TS_NA_1, 0, ValueError),
    (C_TS_NA_1, 64, ValueError),
    (C_TS_NA_1, -44, ValueError),
    (C_TS_NA_1, True, TypeError),
    (C_TS_NA_1, '44', TypeError),
    (C_TS_NA_1, 44.0, TypeError),
])
def test_mirror_unknown_bad_cause(data, cause, error):
    with pytest.raises(error, match='cause'):
        codec.mirror_unknown(data, cause)


def test_mirror_unknown_bad_data():
    with pytest.raises(TypeError, match='data'):
        codec.mirror_unknown(C_TS_NA_1.hex(), 44)


@hypothesis.settings(deadline=None)  # a wall-clock bound: flaky under load
@hypothesis.given(st.binary(min_size=6, max_size=249),
                  st.integers(1, 63))
def test_mirror_unknown_changes_only_cause_and_pn(data, cause):
    result = codec.mirror_unknown(data, cause)
    assert len(result) == len(data)
    assert result[:2] == data[:2]
    assert result[3:] == data[3:]
    assert result[2] & 0x80 == data[2] & 0x80
    assert result[2] & 0x7f == 0x40 | cause


@pytest.mark.parametrize('data, cause', [
    (C_TS_NA_1, 44),
    (UNKNOWN_115, 44),
    ('ff 01 06 00 0100 000000', 44),  # unknown TypeID 255
    ('78 01 0d 00 0100 000000', 44),  # 120 F_FR_NA_1: not decoded
    ('02 01 03 00 0100 000000 00 000000', 44),  # 2 M_SP_TA_1 (IEC 101)
    ('68 01 00 00 0100 000000 aa55', 44),  # unknown TypeID before cause 0
    (C_SC_CAUSE_0, 45),
    ('2d 01 c0 00 0100 0a0000 01', 45),  # cause 0 with T and P/N set
    ('2d 01 06 00 0100 0a0000 01', None),  # valid
    ('2d 01 06 00 0100 0a0000', None),  # wrong length: not TypeID or cause
    ('2d 01 06 00 01', None),  # shorter than the header
    ('', None),
])
def test_unknown_cause(data, cause):
    data = bytes.fromhex(data) if isinstance(data, str) else data
    assert codec.unknown_cause(data) == cause
    assert codec.unknown_cause(bytearray(data)) == cause


def error_records(caplog):
    return [r for r in caplog.records
            if r.name.startswith('hat.drivers') and
            r.levelno >= logging.ERROR]


async def test_slave_answers_unknown_type_and_cause(pair, caplog):
    # our master sends raw ASDUs on its link connection; the slave's
    # application calls receive and never sees the unknown ones
    master, slave = pair
    caplog.set_level(logging.ERROR)
    command = iec104.CommandMsg(
        is_test=False, originator_address=0, asdu_address=1, io_address=10,
        command=iec104.SingleCommand(iec104.SingleValue.ON, False, 0),
        is_negative_confirm=False, time=None,
        cause=iec104.CommandReqCause.ACTIVATION)
    for data in (C_TS_NA_1, UNKNOWN_115, C_SC_CAUSE_0):
        master.conn.send(data)
    master.send([command])
    assert await wait(slave.receive(), 'the command after them') == [
        command]

    for reply in (C_TS_NA_1_REPLY, UNKNOWN_115_REPLY, C_SC_CAUSE_0_REPLY):
        assert await wait(master.conn.receive(), 'mirrored ASDU') == reply

    records = error_records(caplog)
    assert [r.name for r in records] == [connection.mlog.name] * 3
    for record, data, cause in zip(records,
                                   (C_TS_NA_1, UNKNOWN_115, C_SC_CAUSE_0),
                                   (44, 44, 45), strict=True):
        message = record.getMessage()
        assert f'answered with COT {cause}, P/N = 1' in message
        assert data.hex(' ') in message
    assert 'TypeID 104 (C_TS_NA_1)' in records[0].getMessage()
    assert 'unknown TypeID 115' in records[1].getMessage()
    assert 'cause of transmission 0' in records[2].getMessage()

    # nothing else was sent, and the link goes on both ways
    slave.send([command._replace(
        cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION)])
    assert codec.decode_asdu(
        await wait(master.conn.receive(), 'confirmation')) == [
            command._replace(
                cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION)]
    await wait(master.send_wait_ack([command]), 'ack')
    assert await wait(slave.receive(), 'command') == [command]
    assert len(error_records(caplog)) == 3


async def test_slave_does_not_answer_other_undecodable(pair, caplog):
    # monitor direction TypeIDs (below 45) and errors other than TypeID or
    # cause (wrong length, undefined element value) are logged, skipped and
    # not answered
    master, slave = pair
    caplog.set_level(logging.ERROR)
    bad = [bytes.fromhex('02 01 03 00 0100 000000 00 000000'),  # M_SP_TA_1
           bytes.fromhex('16 01 03 00 0100 000000 00'),  # 22: reserved
           bytes.fromhex('2d 01 06 00 0100 0a0000'),  # C_SC_NA_1 too short
           bytes.fromhex('2f 01 06 00 0100 0a0000 00'),  # RCO value 0
           bytes.fromhex('68 01 06')]  # 104, shorter than the header
    for data in bad:
        master.conn.send(data)
    marker = float_msg(1, 1.0)
    master.send([marker])
    assert await wait(slave.receive(), 'the ASDU after them') == [marker]
    slave.send([marker])
    assert await wait(master.conn.receive(), 'next ASDU') == (
        codec.encode_asdu(marker))
    records = error_records(caplog)
    assert len(records) == len(bad)
    for record, data in zip(records, bad, strict=True):
        assert 'answered' not in record.getMessage()
        assert data.hex(' ') in record.getMessage()


async def test_master_does_not_answer_unknown_type(pair, caplog):
    master, slave = pair
    caplog.set_level(logging.ERROR)
    marker = float_msg(1, 1.0)
    # in the control direction (as a slave could mirror it) and not
    for data in (C_TS_NA_1, C_TS_NA_1_REPLY, UNKNOWN_115, C_SC_CAUSE_0,
                 bytes.fromhex('ff 01 03 00 0100 000000')):
        slave.conn.send(data)
    slave.send([marker])
    assert await wait(master.receive(), 'the ASDU after them') == [marker]

    # the first ASDU the slave receives is the marker sent now
    master.send([marker])
    assert await wait(slave.conn.receive(), 'next ASDU') == (
        codec.encode_asdu(marker))
    records = error_records(caplog)
    assert len(records) == 5
    for record in records:
        assert record.name == connection.mlog.name
        assert 'answered' not in record.getMessage()


async def test_unknown_type_reply_not_sent_after_close(caplog):
    # the unknown ASDU is taken by receive after the connection closed:
    # the reply cannot be sent, and the one ERROR record says so
    caplog.set_level(logging.ERROR)
    async with slave_server(supervisory_timeout=T2) as (srv, conns):
        master = await wait(iec104.connect(srv.addresses[0]), 'connect')
        slave = await wait(conns.get(), 'accepted connection')
        marker = float_msg(1, 1.0)
        master.conn.send(C_TS_NA_1)
        master.send([marker])
        await wait(master.drain(wait_ack=True), 'both acknowledged')
        await master.async_close()
        await wait(slave.wait_closed(), 'slave closed')
        assert await wait(slave.receive(), 'ASDU after close') == [marker]
        [record] = error_records(caplog)
        assert 'not answered with COT 44' in record.getMessage()
        assert C_TS_NA_1.hex(' ') in record.getMessage()


async def test_send_encodes_lazily(pair):
    master, slave = pair
    bad = float_msg(-1, 0.0)
    with pytest.raises(ValueError, match='io_address'):
        slave.send([float_msg(1, 1.0), bad, float_msg(2, 2.0)])
    assert await wait(master.receive(), 'first') == [float_msg(1, 1.0)]

    # send_wait_ack encodes everything first: nothing is queued
    with pytest.raises(ValueError, match='io_address'):
        await wait(slave.send_wait_ack([float_msg(3, 3.0), bad]),
                   'send_wait_ack')
    slave.send([float_msg(4, 4.0)])
    assert await wait(master.receive(), 'next') == [float_msg(4, 4.0)]

    with pytest.raises(ValueError, match='unsupported message'):
        slave.send([object()])
    await wait(slave.send_wait_ack([]), 'empty send_wait_ack')
    slave.send([])


async def test_drain(pair):
    master, slave = pair
    master.send([float_msg(1, 1.0)] * 20)
    await wait(master.drain(), 'drain')
    await wait(master.drain(wait_ack=True), 'drain with ack')
    for _ in range(20):
        await wait(slave.receive(), 'data')


# --- close -------------------------------------------------------------------

async def test_close_semantics(pair):
    master, slave = pair
    msg = float_msg(1, 1.0)
    await wait(slave.send_wait_ack([msg, msg]), 'ack')

    # ASDUs received before the close are still returned after it
    await master.async_close()
    assert master.is_closed
    assert await wait(master.receive(), 'buffered') == [msg]
    assert await wait(master.receive(), 'buffered') == [msg]
    with pytest.raises(ConnectionError):
        await wait(master.receive(), 'receive after close')
    with pytest.raises(ConnectionError):
        master.send([msg])
    with pytest.raises(ConnectionError):
        master.send([])
    with pytest.raises(ConnectionError):
        await wait(master.send_wait_ack([msg]), 'send_wait_ack')
    with pytest.raises(ConnectionError):
        await wait(master.send_wait_ack([]), 'send_wait_ack')
    with pytest.raises(ConnectionError):
        await wait(master.drain(), 'drain')

    # the peer notices
    await wait(slave.wait_closed(), 'slave closed')
    with pytest.raises(ConnectionError):
        await wait(slave.receive(), 'slave receive')
    with pytest.raises(ConnectionError):
        slave.send([msg])


async def test_close_fails_pending_calls(pair):
    master, slave = pair
    receive = asyncio.ensure_future(master.receive())
    await asyncio.sleep(0)
    assert not receive.done()
    await slave.async_close()
    with pytest.raises(ConnectionError):
        await wait(receive, 'pending receive')


async def test_connect_refused():
    srv = await tcp.listen(lambda conn: None, tcp.Address('127.0.0.1', 0))
    addr = srv.addresses[0]
    await srv.async_close()
    with pytest.raises(ConnectionRefusedError):
        await wait(iec104.connect(addr), 'connect')


async def test_connection_cb_raising_closes_connection():
    accepted = asyncio.Queue()

    def on_connection(conn):
        accepted.put_nowait(conn)
        raise Exception('callback failed')

    srv = await iec104.listen(on_connection, tcp.Address('127.0.0.1', 0))
    try:
        with pytest.raises(ConnectionError):
            await wait(iec104.connect(srv.addresses[0]), 'connect')
        slave = await wait(accepted.get(), 'accepted connection')
        await wait(slave.wait_closed(), 'slave closed')
        assert srv.is_open

    finally:
        await srv.async_close()


# --- receive_queue_limit: TCP backpressure ----------------------------------

@pytest.mark.parametrize('receiver', ['master', 'slave'])
async def test_receive_queue_limit(receiver):
    # the receiving side does not call receive: the sender is held back by
    # TCP (and k), the receiver holds at most limit - 1 + k ASDUs; once it
    # receives, every message arrives in order
    limit, k, count = 10, 12, 2000
    kwargs = dict(supervisory_timeout=T2, send_window_size=k,
                  receive_queue_limit=limit)
    async with slave_server(**kwargs) as (srv, conns):
        master = await wait(iec104.connect(srv.addresses[0], **kwargs),
                            'connect')
        try:
            slave = await wait(conns.get(), 'accepted connection')
            sender, dest = ((slave, master) if receiver == 'master' else
                            (master, slave))
            link = dest.conn._link
            msgs = [single_msg(i, iec104.SingleValue.ON)
                    for i in range(count)]
            sender.send(msgs)
            drained = asyncio.ensure_future(sender.drain())
            try:
                # blocked: not everything can be written
                done, _ = await asyncio.wait([drained], timeout=1)
                assert not done, 'sender not held back'
                assert dest.conn.is_receiving_paused
                assert limit <= len(link.received) <= limit - 1 + k

                received = []
                while len(received) < count:
                    received.extend(await wait(dest.receive(), 'data'))
                assert received == msgs
                await wait(drained, 'sender drained')
                await wait(sender.drain(wait_ack=True), 'all acknowledged')

            finally:
                drained.cancel()
                with contextlib.suppress(BaseException):
                    await drained
                await slave.async_close()

        finally:
            await master.async_close()


async def test_receive_queue_limit_close_while_paused():
    async with slave_server(supervisory_timeout=T2) as (srv, conns):
        master = await wait(iec104.connect(srv.addresses[0],
                                           supervisory_timeout=T2,
                                           receive_queue_limit=1),
                            'connect')
        try:
            slave = await wait(conns.get(), 'accepted connection')
            msgs = [single_msg(i, iec104.SingleValue.OFF) for i in range(50)]
            slave.send(msgs)
            drained = asyncio.ensure_future(slave.drain())
            done, _ = await asyncio.wait([drained], timeout=1)
            assert not done, 'slave not held back'
            assert master.conn.is_receiving_paused
            try:
                await asyncio.wait_for(master.async_close(), 1)
            except asyncio.TimeoutError:
                pytest.fail('close while paused took more than 1 s')
            assert master.is_closed
            await wait(slave.wait_closed(), 'slave closed by the peer')
            with pytest.raises(ConnectionError):
                await wait(drained, 'drain failing')
            # ASDUs taken in before the close are still delivered in order
            held = len(master.conn._link.received)
            assert held >= 1
            for msg in msgs[:held]:
                assert await wait(master.receive(), 'data') == [msg]
            with pytest.raises(ConnectionError):
                await wait(master.receive(), 'receive failing')

        finally:
            await master.async_close()


@pytest.mark.parametrize('value, error', [
    (0, ValueError),
    (-1, ValueError),
    (2.0, TypeError),
    ('1000', TypeError),
    (False, TypeError),
])
async def test_receive_queue_limit_invalid(value, error):
    # checked before any socket: no refused connect, no bound port
    with pytest.raises(error, match='receive_queue_limit'):
        await iec104.connect(tcp.Address('127.0.0.1', 1),
                             receive_queue_limit=value)
    with pytest.raises(error, match='receive_queue_limit'):
        await iec104.listen(lambda conn: None, tcp.Address('127.0.0.1', 0),
                            receive_queue_limit=value)
