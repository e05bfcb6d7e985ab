"""A typed user of the public API of `hat.drivers.tcp`, `hat.drivers.tpkt`,
`hat.drivers.cotp`, `hat.drivers.cosp`, `hat.drivers.iec104` and
`hat.drivers.mms`

`doit check` runs ``mypy --strict`` on this file, as a driver author with
strict settings would: every call below must type-check without "untyped
function" or "returning Any" errors, so each public function, coroutine
and property of tcp and tpkt has to be fully annotated. The helpers return
the results of API calls directly so that an API returning `typing.Any`
fails ``warn_return_any`` (part of ``--strict``).

It is a working program too (an echo exchange over TCP and TPKT on
loopback; exit status 0)::

    .venv/bin/python test_pytest/typed_user.py

"""

import asyncio
import datetime
import enum
import logging

from hat import aio
from hat.drivers import cosp, cotp, iec104, mms, tcp, tpkt
from hat.drivers.iec104 import trace


mlog: logging.Logger = logging.getLogger(__name__)

TIMEOUT = 10


async def echo(conn: tcp.Connection) -> None:
    """TCP connection callback: echo until the peer closes"""
    try:
        while True:
            data = await conn.read()
            conn.write(data)
            await conn.drain()

    except ConnectionError:
        pass

    finally:
        await conn.async_close()


async def exchange(conn: tcp.Connection, data: bytes) -> bytes:
    conn.write(data)
    await conn.drain()
    return await conn.readexactly(len(data))


async def read_some(conn: tcp.Connection, n: int = -1) -> bytes:
    return await conn.read(n)


async def read_line(conn: tcp.Connection) -> bytes:
    try:
        return await conn.readuntil(b'\n')

    except tcp.LimitOverrunError as e:
        skipped: int = e.consumed
        raise SystemExit(f'line too long: {skipped} bytes') from e


async def discard(conn: tcp.Connection) -> int:
    return await conn.reset_input_buffer()


def remote(conn: tcp.Connection) -> tcp.Address:
    return conn.info.remote_addr


def local(info: tcp.ConnectionInfo) -> tcp.Address:
    return info.local_addr


def port(addr: tcp.Address) -> int:
    return addr.port


def host(addr: tcp.Address) -> str:
    return addr.host


def name(conn: tcp.Connection) -> str | None:
    return conn.name


def tls_version(conn: tcp.Connection) -> str | None:
    obj = conn.ssl_object
    return None if obj is None else obj.version()


def counters(conn: tcp.Connection) -> tuple[int, int]:
    return conn.bytes_sent, conn.bytes_received


def state(resource: tcp.Connection | tcp.Server) -> tuple[bool, bool, bool]:
    return resource.is_open, resource.is_closing, resource.is_closed


def group(conn: tcp.Connection) -> aio.Group:
    return conn.async_group


def server_addresses(srv: tcp.Server) -> list[tcp.Address]:
    return srv.addresses


def server_name(srv: tcp.Server) -> str | None:
    return srv.name


async def connect(addr: tcp.Address) -> tcp.Connection:
    return await tcp.connect(addr,
                             name='typed-client',
                             input_buffer_limit=64 * 1024,
                             half_close=False,
                             close_timeout=5.0,
                             keepalive_idle=60,
                             keepalive_interval=10,
                             keepalive_count=3,
                             connect_timeout=TIMEOUT)


async def listen(addr: tcp.Address) -> tcp.Server:
    return await tcp.listen(echo, addr,
                            bind_connections=True,
                            name='typed-server',
                            input_buffer_limit=tcp.DEFAULT_INPUT_BUFFER_LIMIT,
                            close_timeout=tcp.DEFAULT_CLOSE_TIMEOUT)


async def wrap_streams(addr: tcp.Address) -> tcp.Connection:
    reader, writer = await asyncio.open_connection(addr.host, addr.port)
    return tcp.Connection(reader, writer, name='wrapped')


async def tcp_user() -> None:
    srv = await listen(tcp.Address('127.0.0.1', 0))
    try:
        addr = server_addresses(srv)[0]
        try:
            conn = await connect(addr)

        except tcp.ConnectTimeoutError as e:
            raise SystemExit(f'no answer in time: {e}') from e

        except ConnectionError as e:
            raise SystemExit(f'cannot connect: {e}') from e

        try:
            assert await exchange(conn, b'hello') == b'hello'
            conn.write(b'line\n')
            assert await read_line(conn) == b'line\n'
            assert await discard(conn) == 0
            assert port(remote(conn)) == port(addr)
            assert host(local(conn.info)) == '127.0.0.1'
            assert name(conn) == 'typed-client'
            assert tls_version(conn) is None
            assert counters(conn) == (10, 10)
            assert state(conn) == (True, False, False)
            assert group(conn).is_open

        finally:
            await conn.async_close()

        await conn.wait_closing()
        await conn.wait_closed()
        assert state(conn) == (False, True, True)

        wrapped = await wrap_streams(addr)
        try:
            wrapped.write(b'abc')
            await wrapped.drain()
            assert await read_some(wrapped, 3) == b'abc'

        finally:
            wrapped.close()
            await wrapped.wait_closed()

        assert server_name(srv) == 'typed-server'

    finally:
        srv.close()
        await srv.wait_closing()
        await srv.wait_closed()
        await srv.async_close()

    assert state(srv) == (False, True, True)


async def tpkt_exchange(conn: tpkt.Connection, payload: bytes) -> bytes:
    conn.write(payload)
    await conn.drain()
    return await conn.read()


def tpkt_info(conn: tpkt.Connection) -> tcp.ConnectionInfo:
    return conn.info


def tpkt_name(conn: tpkt.Connection) -> str | None:
    return conn.name


def tpkt_group(conn: tpkt.Connection) -> aio.Group:
    return conn.async_group


def tpkt_state(resource: tpkt.Connection | tpkt.Server
               ) -> tuple[bool, bool, bool]:
    return resource.is_open, resource.is_closing, resource.is_closed


def tpkt_addresses(srv: tpkt.Server) -> list[tcp.Address]:
    return srv.addresses


async def tpkt_echo(conn: tpkt.Connection) -> None:
    """TPKT connection callback: echo every packet until the peer closes"""
    try:
        while True:
            await tpkt_exchange_back(conn)

    except ConnectionError:
        pass

    finally:
        await conn.async_close()


async def tpkt_exchange_back(conn: tpkt.Connection) -> None:
    payload = await conn.read()
    conn.write(payload)
    await conn.drain()


async def tpkt_user() -> None:
    srv = await tpkt.listen(tpkt_echo, tcp.Address('127.0.0.1', 0),
                            bind_connections=True,
                            name='typed-tpkt-server')
    try:
        conn = await tpkt.connect(tpkt_addresses(srv)[0],
                                  name='typed-tpkt-client',
                                  connect_timeout=TIMEOUT)
        try:
            payload = bytes([0x02, 0xF0, 0x80]) + b'hello'
            assert await tpkt_exchange(conn, payload) == payload
            assert port(tpkt_info(conn).remote_addr) == port(
                tpkt_addresses(srv)[0])
            assert tpkt_name(conn) == 'typed-tpkt-client'
            assert tpkt_group(conn).is_open
            assert tpkt_state(conn) == (True, False, False)
            assert srv.name == 'typed-tpkt-server'
            assert len(payload) <= tpkt.MAX_PAYLOAD_SIZE
            assert tpkt.DEFAULT_PORT == 102

        finally:
            await conn.async_close()

        await conn.wait_closing()
        await conn.wait_closed()

    finally:
        await srv.async_close()

    assert tpkt_state(srv) == (False, True, True)


async def iec104_user() -> None:
    """Our master interrogates our slave"""
    requests: asyncio.Queue[list[iec104.Msg]] = asyncio.Queue()

    async def on_connection(conn: iec104.Connection) -> None:
        try:
            while True:
                requests.put_nowait(await conn.receive())

        except ConnectionError:
            pass

    async with await iec104.listen(on_connection,
                                   tcp.Address('127.0.0.1', 0)) as srv:
        conn = await iec104.connect(srv.addresses[0],
                                    connect_timeout=TIMEOUT)
        try:
            msg = iec104.InterrogationMsg(
                is_test=False, originator_address=0, asdu_address=1,
                request=20, is_negative_confirm=False,
                cause=iec104.CommandReqCause.ACTIVATION)
            conn.send([msg])
            await conn.drain()
            received: list[iec104.Msg] = await requests.get()
            assert received == [msg]
            assert conn.is_enabled and conn.is_open

        finally:
            await conn.async_close()

        await conn.wait_closed()

    await srv.wait_closed()
    assert srv.is_closed


def iec104_utc(dt: datetime.datetime) -> datetime.datetime:
    """CP56Time2a of an RTU in UTC and back (keyword-only ``tz``)"""
    t: iec104.Time = iec104.time_from_datetime(dt, tz=datetime.timezone.utc)
    return iec104.time_to_datetime(t, tz=datetime.timezone.utc)


def iec104_cause_name(msg: iec104.Msg) -> str:
    """Name of a received message's cause (as src_doc/iec104.rst shows):
    a cause without an enum member is a plain int"""
    cause = msg.cause
    return cause.name if isinstance(cause, enum.Enum) else str(cause)


def iec104_comm_log(on: bool) -> bool:
    """Switch the communication log; whether it is on"""
    logging.getLogger('hat.drivers.iec104.trace').setLevel(
        logging.DEBUG if on else logging.INFO)
    return trace.is_enabled()


async def cotp_user() -> None:
    """A TSDU each way between our COTP initiator and responder"""
    conn_queue: asyncio.Queue[cotp.Connection] = asyncio.Queue()
    addr: tpkt.Address = cotp.Address('127.0.0.1', 0)
    async with await cotp.listen(conn_queue.put_nowait, addr) as srv:
        addresses: list[cotp.Address] = srv.addresses
        async with await cotp.connect(addresses[0], remote_tsel=1,
                                      connect_timeout=TIMEOUT) as conn1:
            conn2 = await conn_queue.get()
            info: cotp.ConnectionInfo = conn2.info
            assert info.local_tsel == 1
            size: int = conn1.tpdu_size
            conn1.write(bytes(size * 2))
            await conn1.drain()
            data: bytes = await conn2.read()
            assert data == bytes(size * 2)
            await conn2.async_close()
            try:
                await conn1.read()
            except cotp.ConnectionClosedError:
                pass
        assert conn1.is_closed


async def cosp_user() -> None:
    """Connect, data, release between our COSP initiator and responder"""
    conn_queue: asyncio.Queue[cosp.Connection] = asyncio.Queue()

    def validate(data: cosp.Data | None) -> cosp.Data | None:
        return data

    def on_release(data: cosp.Data | None) -> cosp.Data | None:
        return b'dn'

    async with await cosp.listen(validate, conn_queue.put_nowait,
                                 cosp.Address('127.0.0.1', 0),
                                 release_cb=on_release) as srv:
        conn1 = await cosp.connect(srv.addresses[0], user_data=b'cn')
        conn2 = await conn_queue.get()
        assert conn1.conn_res_user_data == b'cn'
        conn1.write(b'data')
        read: bytes = await conn2.read()
        assert read == b'data'
        # the peer's read processes the FN
        reader = asyncio.create_task(conn2.read())
        dn: bytes | None = await conn1.release(b'fn')
        assert dn == b'dn'
        try:
            await reader
        except cosp.ConnectionClosedError:
            pass
        assert conn2.release_user_data == b'fn'


async def mms_user() -> None:
    """Read, report, timeout and conclude between our MMS client and
    server"""
    conn_queue: asyncio.Queue[mms.Connection] = asyncio.Queue()
    name = mms.DomainSpecificObjectName('LD0', 'GGIO1$MX$AnIn1$mag$f')

    async def on_request(conn: mms.Connection,
                         req: mms.Request) -> mms.Response:
        if isinstance(req, mms.ReadRequest):
            return mms.ReadResponse([mms.FloatingPointData(1.5)])
        return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)

    async with await mms.listen(conn_queue.put_nowait, on_request,
                                mms.Address('127.0.0.1', 0),
                                max_serv_outstanding_calling=4) as srv:
        conn = await mms.connect(on_request, srv.addresses[0],
                                 max_serv_outstanding_calling=8,
                                 response_timeout=5.0)
        srv_conn = await conn_queue.get()
        assert conn.max_serv_outstanding_calling == 4
        res = await conn.send_confirmed(mms.ReadRequest(
            [mms.NameVariableSpecification(name)]), timeout=2.0)
        assert isinstance(res, mms.ReadResponse)
        assert res.results == [mms.FloatingPointData(1.5)]
        error = await conn.send_confirmed(mms.StatusRequest(), timeout=None)
        assert isinstance(error, mms.ErrorResponse)
        srv_conn.send_unconfirmed(mms.InformationReportUnconfirmed(
            mms.VmdSpecificObjectName('RPT'), [mms.IntegerData(1)]))
        await srv_conn.drain()
        report = await conn.receive_unconfirmed()
        assert isinstance(report, mms.InformationReportUnconfirmed)
        try:
            await conn.send_confirmed(mms.IdentifyRequest(), timeout=5.0)
        except (mms.ResponseTimeoutError, mms.RejectedError):
            pass
        assert mms.DEFAULT_RESPONSE_TIMEOUT > 0
        await conn.async_close()
        await srv_conn.wait_closed()
        try:
            await conn.send_confirmed(mms.StatusRequest())
        except ConnectionError:
            pass


async def main() -> None:
    await asyncio.wait_for(tcp_user(), TIMEOUT)
    await asyncio.wait_for(tpkt_user(), TIMEOUT)
    await asyncio.wait_for(cotp_user(), TIMEOUT)
    await asyncio.wait_for(cosp_user(), TIMEOUT)
    await asyncio.wait_for(iec104_user(), TIMEOUT)
    await asyncio.wait_for(mms_user(), TIMEOUT)
    dt = datetime.datetime(2024, 5, 17, 11, 45, tzinfo=datetime.timezone.utc)
    assert iec104_utc(dt) == dt
    assert iec104_comm_log(True) and not iec104_comm_log(False)
    msg = iec104.InterrogationMsg(
        is_test=False, originator_address=0, asdu_address=1, request=20,
        is_negative_confirm=False,
        cause=iec104.CommandResCause.ACTIVATION_TERMINATION)
    assert iec104_cause_name(msg) == 'ACTIVATION_TERMINATION'
    assert iec104_cause_name(msg._replace(cause=33)) == '33'
    print('typed user ok')


if __name__ == '__main__':
    asyncio.run(main())
