"""iec104 as a user meets it: argument checks, time zones, the TypeID table

* Every public call checks its arguments' shape up front and names what it
  expected (`TypeError`); a single message given to `Connection.send`
  instead of a list is refused before anything is sent.
* `time_from_datetime` and `time_to_datetime` convert in the process's
  local time zone by default (0.6.23) and in any zone given by the
  keyword-only ``tz`` (UTC for most RTUs), with a fixed ``TZ`` here.
* The TypeID table of ``src_doc/iec104.rst`` covers every TypeID the codec
  supports, both directions, with the message, payload class and time
  field that produce it.

"""

from pathlib import Path
import asyncio
import datetime
import functools
import os
import re
import time

import hypothesis
import pytest

from hat.drivers import iec104, tcp
from hat.drivers.iec104 import codec, common

from test_iec104_codec import msgs


TIMEOUT = 10
PAGE = Path(__file__).resolve().parent.parent / 'src_doc' / 'iec104.rst'

Q0 = iec104.MeasurementQuality(invalid=False, not_topical=False,
                               substituted=False, blocked=False,
                               overflow=False)


def float_msg(ioa, value):
    return iec104.DataMsg(is_test=False, originator_address=0,
                          asdu_address=1, io_address=ioa,
                          data=iec104.FloatingData(
                              iec104.FloatingValue(value), Q0),
                          time=None, cause=iec104.DataResCause.SPONTANEOUS)


@pytest.fixture
async def pair():
    conns = asyncio.Queue()
    srv = await iec104.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0))
    master = await asyncio.wait_for(iec104.connect(srv.addresses[0]),
                                    TIMEOUT)
    slave = await asyncio.wait_for(conns.get(), TIMEOUT)
    try:
        yield master, slave

    finally:
        await master.async_close()
        await slave.async_close()
        await srv.async_close()


# --- argument checks ---------------------------------------------------------

async def test_send_single_message(pair):
    """A message instead of a list: TypeError naming both, nothing sent"""
    master, slave = pair
    msg = float_msg(1, 1.0)
    with pytest.raises(TypeError, match=r'msgs must be a list of messages, '
                                        r'not a single DataMsg'):
        slave.send(msg)
    with pytest.raises(TypeError, match='not a single DataMsg'):
        await slave.send_wait_ack(msg)

    slave.send([float_msg(2, 2.0)])
    assert await asyncio.wait_for(master.receive(), TIMEOUT) == [
        float_msg(2, 2.0)]


@pytest.mark.parametrize('msgs_arg, expected', [
    (None, 'not NoneType'),
    (5, 'not int'),
    ('abc', 'not str'),
    (b'\x01', 'not bytes'),
    ({}, 'not dict'),
])
async def test_send_not_a_list(pair, msgs_arg, expected):
    master, slave = pair
    for call in (slave.send, master.send):
        with pytest.raises(TypeError, match=f'msgs must be a list of '
                                            f'messages, {expected}'):
            call(msgs_arg)
    with pytest.raises(TypeError, match=expected):
        await slave.send_wait_ack(msgs_arg)


async def test_send_item_not_a_message(pair):
    """An item that is not a message: ValueError (as 0.6.23) naming its
    index, its type and the message classes; earlier items are sent"""
    master, slave = pair
    with pytest.raises(ValueError, match=r'unsupported message: msgs\[1\] '
                                         r'is bool, expected one of '
                                         r'DataMsg, CommandMsg'):
        slave.send([float_msg(1, 1.0), True])
    assert await asyncio.wait_for(master.receive(), TIMEOUT) == [
        float_msg(1, 1.0)]

    with pytest.raises(ValueError, match=r'msgs\[0\] is tuple'):
        await slave.send_wait_ack([(1, 2)])

    # other iterables of messages are fine
    slave.send(iter([float_msg(3, 3.0)]))
    slave.send((float_msg(4, 4.0),))
    await slave.send_wait_ack((m for m in [float_msg(5, 5.0)]))
    for i in (3, 4, 5):
        assert await asyncio.wait_for(master.receive(), TIMEOUT) == [
            float_msg(i, float(i))]


async def test_drain_and_register_enabled_cb(pair):
    master, slave = pair
    with pytest.raises(TypeError, match='wait_ack must be bool, not str'):
        await master.drain('yes')
    with pytest.raises(TypeError, match='cb must be callable'):
        slave.register_enabled_cb(True)
    await asyncio.wait_for(master.drain(wait_ack=False), TIMEOUT)


async def _noop(conn):
    pass


@pytest.mark.parametrize('kwargs, expected', [
    ({'addr': '127.0.0.1:2404'}, r'addr must be tcp.Address\(host, port\), '
                                 r'not str'),
    ({'addr': ('127.0.0.1', '2404')}, 'port must be int'),
    ({'response_timeout': '15'}, 'response_timeout must be a number'),
    ({'send_window_size': 1.5}, 'send_window_size must be int'),
    ({'ssl_ctx': True}, 'ssl_ctx must be ssl.SSLContext or None'),
    ({'update_key': 'key'}, 'update_key must be bytes or None, not str'),
    ({'critical_functions': 5}, 'critical_functions must be a collection '
                                'of Function, not int'),
    ({'critical_functions': iec104.Function.COMMAND},
     'critical_functions must be a collection'),
    ({'critical_functions': ['command']}, 'expected Function items'),
    ({'name': 5}, 'name must be str or None'),
    ({'receive_queue_limit': '10'}, 'receive_queue_limit must be int'),
])
@pytest.mark.parametrize('call', ['connect', 'listen'])
async def test_connect_listen_arguments(call, kwargs, expected):
    """Checked before any socket is opened (port 1: nothing listens and
    nothing may be bound there)"""
    args = {'addr': tcp.Address('127.0.0.1', 1), **kwargs}
    with pytest.raises(TypeError, match=expected):
        if call == 'connect':
            await asyncio.wait_for(iec104.connect(**args), TIMEOUT)
        else:
            await asyncio.wait_for(iec104.listen(_noop, **args), TIMEOUT)


@pytest.mark.parametrize('cb', [None, 5, 'cb'])
async def test_listen_connection_cb(cb):
    with pytest.raises(TypeError, match='connection_cb must be callable'):
        await iec104.listen(cb, tcp.Address('127.0.0.1', 0))


async def test_connect_arguments_checked_before_connecting():
    """A bad argument is refused without a connection attempt: nothing
    listening is reached"""
    accepted = []
    srv = await tcp.listen(accepted.append, tcp.Address('127.0.0.1', 0))
    try:
        with pytest.raises(TypeError):
            await iec104.connect(srv.addresses[0], ssl_ctx='tls')
        with pytest.raises(TypeError):
            await iec104.connect(srv.addresses[0],
                                 critical_functions=None)
        assert accepted == []

    finally:
        await srv.async_close()


@pytest.mark.parametrize('call, args, expected', [
    (iec104.time_from_datetime, ('2024-05-17',), 'dt must be '
                                                'datetime.datetime, not str'),
    (iec104.time_from_datetime, (datetime.date(2024, 5, 17),),
     'dt must be datetime.datetime, not date'),
    (iec104.time_from_datetime, (datetime.datetime(2024, 5, 17), 1),
     'invalid must be bool, not int'),
    (iec104.time_to_datetime, (datetime.datetime(2024, 5, 17),),
     't must be Time, not datetime'),
    (iec104.time_to_datetime, ((7, 0, False, 0, False, 0, 1, 1, 1, 24),),
     't must be Time, not tuple'),
])
def test_time_arguments(call, args, expected):
    with pytest.raises(TypeError, match=expected):
        call(*args)


def test_time_tz_argument():
    with pytest.raises(TypeError, match='tz must be datetime.tzinfo or None'):
        iec104.time_from_datetime(datetime.datetime(2024, 5, 17), tz='UTC')
    t = iec104.time_from_datetime(datetime.datetime(2024, 5, 17))
    with pytest.raises(TypeError, match='tz must be datetime.tzinfo or None'):
        iec104.time_to_datetime(t, tz=0)
    with pytest.raises(TypeError):
        # keyword only
        iec104.time_from_datetime(datetime.datetime(2024, 5, 17), False,
                                  datetime.timezone.utc)
    with pytest.raises(TypeError):
        iec104.time_to_datetime(t, datetime.timezone.utc)


# --- time zones --------------------------------------------------------------

# central European time, without depending on a tz database
CET = 'CET-1CEST,M3.5.0,M10.5.0/3'
UTC = datetime.timezone.utc


@pytest.fixture
def fixed_tz():
    """The process's local time zone set to `CET` (restored after)"""
    old = os.environ.get('TZ')
    os.environ['TZ'] = CET
    time.tzset()
    try:
        yield

    finally:
        if old is None:
            del os.environ['TZ']
        else:
            os.environ['TZ'] = old
        time.tzset()


def fields(t):
    return (t.years, t.months, t.day_of_month, t.hours, t.minutes,
            t.milliseconds, t.summer_time, t.day_of_week)


def test_local_default_and_utc(fixed_tz):
    """Default: the local zone (CEST in May: UTC+2, SU set); tz=UTC: the
    UTC fields, SU clear; both back to the same instant"""
    dt = datetime.datetime(2024, 5, 17, 11, 45, 30, 250000, tzinfo=UTC)

    local = iec104.time_from_datetime(dt)
    assert fields(local) == (24, 5, 17, 13, 45, 30250, True, 5)
    assert iec104.time_to_datetime(local) == dt

    utc = iec104.time_from_datetime(dt, tz=UTC)
    assert fields(utc) == (24, 5, 17, 11, 45, 30250, False, 5)
    assert iec104.time_to_datetime(utc, tz=UTC) == dt

    # the same fields read in the other zone are two hours apart
    assert iec104.time_to_datetime(utc) == dt - datetime.timedelta(hours=2)
    assert (iec104.time_to_datetime(local, tz=UTC) ==
            dt + datetime.timedelta(hours=2))


def test_naive_datetime_in_the_zone_given(fixed_tz):
    """A naive datetime is wall-clock time of the zone used"""
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert fields(iec104.time_from_datetime(naive))[:6] == (24, 1, 2, 3, 4,
                                                            5000)
    t = iec104.time_from_datetime(naive, tz=UTC)
    assert fields(t) == (24, 1, 2, 3, 4, 5000, False, 2)
    assert iec104.time_to_datetime(t, tz=UTC) == naive.replace(tzinfo=UTC)
    # CET in winter: UTC+1
    assert iec104.time_to_datetime(iec104.time_from_datetime(naive)) == (
        naive.replace(tzinfo=UTC) - datetime.timedelta(hours=1))


def test_fixed_offset_zone(fixed_tz):
    """Any tzinfo: a fixed offset zone (UTC+5:30), no summer time"""
    zone = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    dt = datetime.datetime(2024, 12, 31, 20, 0, tzinfo=UTC)
    t = iec104.time_from_datetime(dt, tz=zone)
    assert fields(t) == (25, 1, 1, 1, 30, 0, False, 3)
    assert iec104.time_to_datetime(t, tz=zone) == dt


def test_ambiguous_hour_with_summer_time(fixed_tz):
    """End of CEST (27 Oct 2024, 03:00 CEST -> 02:00 CET): the SU bit
    tells the two 02:30 apart, in the local default"""
    first = datetime.datetime(2024, 10, 27, 0, 30, tzinfo=UTC)   # CEST
    second = datetime.datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # CET
    t1 = iec104.time_from_datetime(first)
    t2 = iec104.time_from_datetime(second)
    assert fields(t1)[3:5] == fields(t2)[3:5] == (2, 30)
    assert (t1.summer_time, t2.summer_time) == (True, False)
    assert iec104.time_to_datetime(t1) == first
    assert iec104.time_to_datetime(t2) == second


async def test_messages_carry_wire_fields(pair, fixed_tz):
    """The connection does not convert: a time sent is received with the
    same fields, to be converted in the zone agreed with the peer"""
    master, slave = pair
    dt = datetime.datetime(2024, 5, 17, 11, 45, 30, 250000, tzinfo=UTC)
    t = iec104.time_from_datetime(dt, tz=UTC)
    slave.send([float_msg(1, 1.0)._replace(time=t)])
    [msg] = await asyncio.wait_for(master.receive(), TIMEOUT)
    assert msg.time == t
    assert iec104.time_to_datetime(msg.time, tz=UTC) == dt


# --- the TypeID table of the documentation -----------------------------------

ROW = re.compile(r'^(\d+)\s+([A-Z]_[A-Z]{2}_[A-Z]{2}_1)\s+`(\w+)`\s+'
                 r'(-|`\w+`(?: \[#\w+\]_)?)\s+(None|`Time`(?: \[#\w+\]_)?|-)'
                 r'\s*$')


@functools.cache
def table_rows():
    """{TypeID: (name, message, payload, time)} of the page's table"""
    text = PAGE.read_text(encoding='utf-8')
    marker = text.index('.. typeid table')
    rows = {}
    for line in text[marker:].splitlines()[1:]:
        if rows and not line.strip():
            break
        match = ROW.match(line)
        if match:
            type_id, name, msg, payload, time_ = match.groups()
            assert int(type_id) not in rows, line
            rows[int(type_id)] = (name, msg, payload.split(' ')[0].strip('`'),
                                  time_.split(' ')[0].strip('`'))
        elif rows:
            assert line.startswith('='), line
    return rows


def test_table_covers_every_type_id():
    rows = table_rows()
    assert sorted(rows) == sorted(codec._DECODERS)
    for type_id, (name, *_) in rows.items():
        assert name == codec.type_name(type_id)


def _payload(msg):
    for field in ('data', 'command', 'parameter'):
        if hasattr(msg, field):
            return type(getattr(msg, field)).__name__
    return '-'


def _time(msg):
    if not hasattr(msg, 'time'):
        return '-'
    return 'None' if msg.time is None else 'Time'


@hypothesis.settings(max_examples=500, deadline=None)
@hypothesis.given(msgs)
def test_table_both_directions(msg):
    """Encoding a message gives the TypeID of the row naming its classes
    and time, and decoding gives that message back"""
    rows = table_rows()
    data = codec.encode_asdu(msg)
    name, msg_name, payload, time_ = rows[data[0]]
    assert type(msg).__name__ == msg_name
    assert _payload(msg) == payload
    assert _time(msg) == time_
    [decoded] = codec.decode_asdu(data)
    assert type(decoded) is type(msg)
    assert _payload(decoded) == payload
    assert _time(decoded) == time_


def test_table_normalized_quality_footnotes():
    """M_ME_NA_1 / M_ME_TD_1 with a quality, M_ME_ND_1 without one"""
    value = common.NormalizedValue(0.5)
    with_q = float_msg(1, 0.0)._replace(
        data=common.NormalizedData(value, Q0))
    without_q = with_q._replace(data=common.NormalizedData(value, None))
    assert codec.encode_asdu(with_q)[0] == 9
    assert codec.encode_asdu(without_q)[0] == 21
    text = PAGE.read_text(encoding='utf-8')
    assert re.search(r'^9\s+M_ME_NA_1.*\[#q\]_', text, re.M)
    assert re.search(r'^21\s+M_ME_ND_1.*\[#noq\]_', text, re.M)
