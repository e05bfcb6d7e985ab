"""Regression tests for bugs found by hostile testing (fault injection and
odd input against the documented promises of tcp and iec104)."""

import asyncio
import datetime
import os
import time

import pytest

from hat.drivers import iec104
from hat.drivers import tcp
from hat.drivers.iec104 import codec


UTC = datetime.timezone.utc
# central European time, without depending on a tz database
CET = 'CET-1CEST,M3.5.0,M10.5.0/3'


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


def _zone(key):
    zoneinfo = pytest.importorskip('zoneinfo')
    try:
        return zoneinfo.ZoneInfo(key)

    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip('no time zone database')


# time_from_datetime dropped `fold` (rounding to milliseconds by adding a
# timedelta resets it), so the second 02:30 of the night summer time ends
# (CEST -> CET) was taken for the first: one hour early, SU set


def test_time_from_datetime_keeps_fold_local(fixed_tz):
    """A naive local time in the repeated hour with fold=1 (CET, as
    `datetime.now()` gives it then) is the second 02:30: SU clear, and it
    converts back to 01:30 UTC, not 00:30"""
    second = datetime.datetime(2024, 10, 27, 2, 30, 0, 400, fold=1)
    t = iec104.time_from_datetime(second)
    assert (t.hours, t.minutes, t.summer_time) == (2, 30, False)
    assert iec104.time_to_datetime(t) == datetime.datetime(
        2024, 10, 27, 1, 30, tzinfo=UTC)

    first = second.replace(fold=0)
    t = iec104.time_from_datetime(first)
    assert (t.hours, t.minutes, t.summer_time) == (2, 30, True)
    assert iec104.time_to_datetime(t) == datetime.datetime(
        2024, 10, 27, 0, 30, tzinfo=UTC)


def test_time_from_datetime_keeps_fold_aware():
    """An aware datetime in a zone with summer time, fold=1 in the repeated
    hour: the instant is kept whatever `tz` the fields are made in"""
    zone = _zone('Europe/Zagreb')
    for fold, utc_hour, summer in [(0, 0, True), (1, 1, False)]:
        dt = datetime.datetime(2024, 10, 27, 2, 30, 0, 999, tzinfo=zone,
                               fold=fold)
        expected = datetime.datetime(2024, 10, 27, utc_hour, 30,
                                     0, 1000, tzinfo=UTC)

        t = iec104.time_from_datetime(dt, tz=UTC)
        assert (t.hours, t.minutes, t.milliseconds) == (utc_hour, 30, 1)
        assert iec104.time_to_datetime(t, tz=UTC) == expected

        t = iec104.time_from_datetime(dt, tz=zone)
        assert (t.hours, t.minutes, t.summer_time) == (2, 30, summer)
        assert iec104.time_to_datetime(t, tz=zone) == expected

        t = iec104.time_from_datetime(dt.replace(tzinfo=None), tz=zone)
        assert (t.hours, t.minutes, t.summer_time) == (2, 30, summer)
        assert iec104.time_to_datetime(t, tz=zone) == expected


# iec104 (apci): a peer's FIN that arrives together with STARTDT con closed
# the TCP connection, whose async group is the link connection's: the read
# loop was cancelled before it saw the ConnectionError, and the link took
# the close for a local one ('closed locally')

@pytest.mark.timeout(10)
async def test_iec104_peer_close_with_startdt_con_is_not_local():
    async def handle(reader, writer):
        await reader.readexactly(6)  # STARTDT act
        writer.write(b'\x68\x04\x0b\x00\x00\x00')  # STARTDT con, then FIN
        writer.close()

    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    try:
        port = srv.sockets[0].getsockname()[1]
        conn = await iec104.connect(tcp.Address('127.0.0.1', port))
        try:
            with pytest.raises(ConnectionError) as info:
                await asyncio.wait_for(conn.receive(), 5)
            assert 'closed by peer' in str(info.value)
            assert 'closed locally' not in str(info.value)

        finally:
            await conn.async_close()

    finally:
        srv.close()
        await srv.wait_closed()


# iec104 codec: a finite normalized value too large to scale (1e308 * 32767
# is inf) raised OverflowError from encode_asdu (and Connection.send)
# instead of the ValueError naming the field

@pytest.mark.parametrize('value', [1e308, -1e308])
def test_normalized_value_huge_float_is_value_error(value):
    quality = iec104.MeasurementQuality(invalid=False, not_topical=False,
                                        substituted=False, blocked=False,
                                        overflow=False)
    msg = iec104.DataMsg(
        is_test=False, originator_address=0, asdu_address=1, io_address=1,
        data=iec104.NormalizedData(value=iec104.NormalizedValue(value),
                                   quality=quality),
        time=None, cause=iec104.DataResCause.SPONTANEOUS)
    with pytest.raises(ValueError, match='data.value.value'):
        codec.encode_asdu(msg)


# tcp.connect: a local_addr port out of range raised OverflowError (from
# bind) instead of the documented ValueError for a malformed argument

@pytest.mark.timeout(10)
@pytest.mark.parametrize('port', [70000, -1])
async def test_connect_local_addr_port_out_of_range(port):
    srv = await tcp.listen(lambda conn: conn.close(),
                           tcp.Address('127.0.0.1', 0))
    try:
        with pytest.raises(ValueError, match='local_addr'):
            conn = await tcp.connect(srv.addresses[0],
                                     local_addr=('127.0.0.1', port))
            await conn.async_close()

    finally:
        await srv.async_close()


# tcp: closing keeps the final response only where the peer's input is
# unread at the time of close(). A peer that sends a little more after
# close() while the response is still being flushed: Linux resets a
# socket that receives data after close and drops what it had not sent, so
# the peer read a truncated stream and ConnectionResetError. A plain TCP
# close with written data the peer has not acknowledged now sends FIN after
# it and reads and discards input until the peer has acknowledged all
# (then closes: data in the peer's kernel survives a later RST), as the TLS
# close does before close_notify.

@pytest.mark.timeout(30)
async def test_response_kept_when_peer_sends_after_close():
    size = 16 * 1024 * 1024
    closed = asyncio.Event()

    async def on_connection(conn):
        await conn.readexactly(3)
        conn.write(b'r' * size)
        conn.close()  # nothing unread now: no lingering
        closed.set()

    srv = await tcp.listen(on_connection, tcp.Address('127.0.0.1', 0))
    try:
        conn = await tcp.connect(srv.addresses[0])
        try:
            conn.write(b'req')
            await asyncio.wait_for(closed.wait(), 10)
            conn.write(b'more')  # arrives after the peer's close()
            received = 0
            with pytest.raises(ConnectionError) as info:
                while True:
                    received += len(await conn.read())
            assert received == size
            assert not isinstance(info.value, ConnectionResetError)

        finally:
            await conn.async_close()

    finally:
        await srv.async_close()
