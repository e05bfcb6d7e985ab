"""Tests of hat.drivers.mms associations (ISO 9506-2 on hat.drivers.acse).

Our client against our server, and against raw peers (a
`hat.drivers.acse` connection carrying hand-made MMS PDUs): every service
both ways, the 0.6.23 signatures, Initiate negotiation, concurrency up to
the negotiated maximum (shown with events), response timeouts, rejects,
request_cb failures, conclude and release, backpressure, TLS.

"""

import asyncio
import contextlib
import datetime
import inspect
import logging

import pytest

from hat import aio

from hat.drivers import mms

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = mms.Address(localhost, 0)

MMS = (1, 0, 9506, 2, 1)
MMS_CONTEXT = (1, 0, 9506, 2, 3)


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def default_request_cb(conn, req):
    return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)


@contextlib.asynccontextmanager
async def mms_server(request_cb=default_request_cb, **kwargs):
    conn_queue = aio.Queue()
    srv = await mms.listen(conn_queue.put_nowait, request_cb, any_port,
                           **kwargs)
    try:
        yield srv, conn_queue
    finally:
        await bounded(srv.async_close())
        while not conn_queue.empty():
            await bounded(conn_queue.get_nowait().async_close())


@contextlib.asynccontextmanager
async def closing(conn):
    try:
        yield conn
    finally:
        await bounded(conn.async_close(), timeout=10)


@contextlib.asynccontextmanager
async def pair(server_cb=default_request_cb, client_cb=default_request_cb,
               server_kwargs=None, **kwargs):
    async with mms_server(server_cb, **(server_kwargs or {})) as (srv, conn_queue):
        conn = await mms.connect(client_cb, srv.addresses[0], **kwargs)
        async with closing(conn):
            srv_conn = await bounded(conn_queue.get())
            async with closing(srv_conn):
                yield conn, srv_conn


# --- API ---------------------------------------------------------------------

def test_signatures():
    params = inspect.signature(mms.connect).parameters
    assert list(params)[:13] == [
        'request_cb', 'addr', 'local_tsel', 'remote_tsel', 'local_ssel',
        'remote_ssel', 'local_psel', 'remote_psel', 'local_ap_title',
        'remote_ap_title', 'local_ae_qualifier', 'remote_ae_qualifier',
        'user_data']
    for name in list(params)[:13]:
        assert params[name].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
    for name in ('max_serv_outstanding_calling',
                 'max_serv_outstanding_called', 'local_detail',
                 'response_timeout'):
        assert params[name].kind == inspect.Parameter.KEYWORD_ONLY
    params = inspect.signature(mms.listen).parameters
    assert list(params)[:3] == ['connection_cb', 'request_cb', 'addr']
    assert params['addr'].default == mms.Address('0.0.0.0', 102)
    assert issubclass(mms.ResponseTimeoutError, asyncio.TimeoutError)
    assert mms.DEFAULT_RESPONSE_TIMEOUT > 0


async def test_positional_arguments():
    # 0.6.23 callers pass everything positionally
    conn_queue = aio.Queue()
    srv = await mms.listen(conn_queue.put_nowait, default_request_cb,
                           any_port)
    try:
        conn = await mms.connect(default_request_cb, srv.addresses[0],
                                 None, None, None, None, None, None, None,
                                 None, None, None, None)
        async with closing(conn):
            srv_conn = await bounded(conn_queue.get())
            async with closing(srv_conn):
                assert isinstance(conn, mms.Connection)
                assert isinstance(srv, mms.Server)
                assert conn.info.remote_addr == srv.addresses[0]
                assert srv_conn.info.remote_addr == conn.info.local_addr
    finally:
        await bounded(srv.async_close())


# --- services ----------------------------------------------------------------

dt = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000,
                       tzinfo=datetime.timezone.utc)
name = mms.DomainSpecificObjectName('LD0', 'MMXU1$MX$TotW$mag$f')
spec = mms.NameVariableSpecification(name)

REQUESTS = [
    (mms.StatusRequest(), mms.StatusResponse(1, 2)),
    (mms.GetNameListRequest(mms.ObjectClass.NAMED_VARIABLE,
                            mms.DomainSpecificObjectScope('LD0'), 'a'),
     mms.GetNameListResponse(['b', 'c'], True)),
    (mms.GetNameListRequest(mms.ObjectClass.DOMAIN,
                            mms.VmdSpecificObjectScope(), None),
     mms.GetNameListResponse(['LD0'], False)),
    (mms.IdentifyRequest(),
     mms.IdentifyResponse('vendor', 'model', '1.0', [(1, 0, 9506, 2)])),
    (mms.GetVariableAccessAttributesRequest(name),
     mms.GetVariableAccessAttributesResponse(
         False, mms.StructureTypeDescription([
             ('f', mms.FloatingPointTypeDescription(32, 8)),
             ('q', mms.BitStringTypeDescription(13)),
             ('t', mms.UtcTimeTypeDescription())]))),
    (mms.GetNamedVariableListAttributesRequest(
        mms.DomainSpecificObjectName('LD0', 'LLN0$DS')),
     mms.GetNamedVariableListAttributesResponse(True, [spec])),
    (mms.ReadRequest([spec]),
     mms.ReadResponse([mms.FloatingPointData(1.5),
                       mms.DataAccessError.OBJECT_NON_EXISTENT])),
    (mms.ReadRequest(mms.DomainSpecificObjectName('LD0', 'LLN0$DS')),
     mms.ReadResponse([mms.StructureData([
         mms.IntegerData(-3), mms.BinaryTimeData(dt),
         mms.UtcTimeData(dt, False, False, True, 10),
         mms.VisibleStringData('x'), mms.BooleanData(True)])])),
    (mms.WriteRequest([spec], [mms.FloatingPointData(2.5)]),
     mms.WriteResponse([None])),
    (mms.WriteRequest([spec], [mms.IntegerData(1)]),
     mms.WriteResponse([mms.DataAccessError.OBJECT_ACCESS_DENIED])),
    (mms.DefineNamedVariableListRequest(
        mms.AaSpecificObjectName('ds'), [spec]),
     mms.DefineNamedVariableListResponse()),
    (mms.DeleteNamedVariableListRequest([mms.AaSpecificObjectName('ds')]),
     mms.DeleteNamedVariableListResponse(1, 1)),
    (mms.ReadRequest([spec]), mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)),
]

UNCONFIRMED = [
    mms.InformationReportUnconfirmed(
        mms.VmdSpecificObjectName('RPT'),
        [mms.VisibleStringData('rpt'), mms.IntegerData(1)]),
    mms.InformationReportUnconfirmed([spec], [mms.FloatingPointData(0.5)]),
    mms.UnsolicitedStatusUnconfirmed(0, 1),
    mms.EventNotificationUnconfirmed(name, name, 3, None),
]


@pytest.mark.parametrize('client_sends', [True, False])
async def test_confirmed_round_trips(client_sends):
    answers = dict(enumerate(REQUESTS))
    received = []

    def request_cb(conn, req):
        received.append(req)
        for i, (r, res) in list(answers.items()):
            if r == req:
                del answers[i]
                return res
        raise AssertionError(req)

    kwargs = (dict(server_cb=request_cb) if client_sends
              else dict(client_cb=request_cb))
    async with pair(**kwargs) as (conn, srv_conn):
        sender = conn if client_sends else srv_conn
        for req, res in REQUESTS:
            result = await bounded(sender.send_confirmed(req))
            assert _approx(result) == _approx(res)
        assert [_approx(r) for r in received] == \
            [_approx(req) for req, _ in REQUESTS]


def _approx(value):
    # memoryview octet strings compare by content already; floats here
    # are exact in single precision
    return value


@pytest.mark.parametrize('client_sends', [True, False])
async def test_unconfirmed_round_trips(client_sends):
    async with pair() as (conn, srv_conn):
        sender, receiver = ((conn, srv_conn) if client_sends
                            else (srv_conn, conn))
        for unconfirmed in UNCONFIRMED:
            sender.send_unconfirmed(unconfirmed)
        for unconfirmed in UNCONFIRMED:
            assert await bounded(receiver.receive_unconfirmed()) == \
                unconfirmed


async def test_bad_request_nothing_sent():
    served = []
    async with pair(server_cb=lambda c, r: served.append(r) or
                    mms.StatusResponse(0, 0)) as (conn, srv_conn):
        with pytest.raises(ValueError):
            await conn.send_confirmed(object())
        with pytest.raises((TypeError, ValueError)):
            await conn.send_confirmed(mms.ReadRequest([42]))
        with pytest.raises((TypeError, ValueError)):
            conn.send_unconfirmed(mms.UnsolicitedStatusUnconfirmed('x', 1))
        # the association is still up, invoke IDs were not used up
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.StatusResponse(0, 0)
        assert served == [mms.StatusRequest()]


# --- negotiation -------------------------------------------------------------

@pytest.mark.parametrize('proposed, own, negotiated', [
    ((5, 5), (5, 5), (5, 5)),
    ((1, 1), (5, 5), (1, 1)),
    ((10, 3), (2, 7), (2, 3)),
])
async def test_negotiation(proposed, own, negotiated):
    async with pair(server_kwargs=dict(
                        max_serv_outstanding_calling=own[0],
                        max_serv_outstanding_called=own[1],
                        local_detail=8000),
                    max_serv_outstanding_calling=proposed[0],
                    max_serv_outstanding_called=proposed[1],
                    local_detail=65000) as (conn, srv_conn):
        for c in (conn, srv_conn):
            assert (c.max_serv_outstanding_calling,
                    c.max_serv_outstanding_called) == negotiated
            assert c.local_detail == 8000


async def test_bad_settings():
    with pytest.raises(ValueError):
        await mms.connect(default_request_cb, mms.Address(localhost, 1),
                          max_serv_outstanding_calling=0)
    with pytest.raises(TypeError):
        await mms.listen(None, default_request_cb, any_port,
                         response_timeout='1')


# --- concurrency -------------------------------------------------------------

@pytest.mark.parametrize('limit', [1, 3])
async def test_client_limited_to_negotiated(limit):
    inside = []
    release = asyncio.Event()
    entered = asyncio.Event()

    async def request_cb(conn, req):
        inside.append(req)
        entered.set()
        await release.wait()
        return mms.StatusResponse(0, 0)

    # the server accepts more than the client proposes
    async with pair(server_cb=request_cb,
                    server_kwargs=dict(max_serv_outstanding_calling=10),
                    max_serv_outstanding_calling=limit
                    ) as (conn, srv_conn):
        assert conn.max_serv_outstanding_calling == limit
        tasks = [asyncio.create_task(conn.send_confirmed(mms.StatusRequest()))
                 for _ in range(limit + 2)]
        while len(inside) < limit:
            entered.clear()
            await bounded(entered.wait())
        # a round trip on the other direction proves the server read
        # everything the client sent: the others were not sent
        srv_conn.send_unconfirmed(mms.UnsolicitedStatusUnconfirmed(0, 0))
        conn.send_unconfirmed(mms.UnsolicitedStatusUnconfirmed(1, 1))
        await bounded(srv_conn.receive_unconfirmed())
        await bounded(conn.receive_unconfirmed())
        assert len(inside) == limit
        release.set()
        results = await bounded(asyncio.gather(*tasks))
        assert results == [mms.StatusResponse(0, 0)] * (limit + 2)
        assert len(inside) == limit + 2


async def test_server_concurrent_and_slow_request():
    n = 4
    inside = 0
    all_inside = asyncio.Event()
    release = asyncio.Event()

    async def request_cb(conn, req):
        nonlocal inside
        if isinstance(req, mms.IdentifyRequest):
            # fast, while the slow ones block
            return mms.IdentifyResponse('v', 'm', 'r', [])
        inside += 1
        if inside == n:
            all_inside.set()
        await release.wait()
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=request_cb,
                    max_serv_outstanding_calling=n + 1) as (conn, srv_conn):
        tasks = [asyncio.create_task(conn.send_confirmed(mms.StatusRequest()))
                 for _ in range(n)]
        # n requests are inside the handler at the same time
        await bounded(all_inside.wait())
        # and one more is served while they block
        res = await bounded(conn.send_confirmed(mms.IdentifyRequest()))
        assert res == mms.IdentifyResponse('v', 'm', 'r', [])
        release.set()
        assert await bounded(asyncio.gather(*tasks)) == \
            [mms.StatusResponse(0, 0)] * n


async def test_handler_calls_send_confirmed():
    # the server's handler asks the client something before answering
    async def server_cb(conn, req):
        res = await conn.send_confirmed(mms.IdentifyRequest())
        return mms.StatusResponse(len(res.vendor), 0)

    def client_cb(conn, req):
        return mms.IdentifyResponse('abc', 'm', 'r', [])

    async with pair(server_cb=server_cb, client_cb=client_cb) as (conn, _):
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.StatusResponse(3, 0)


# --- close -------------------------------------------------------------------

async def test_close_fails_pending_and_never_raises():
    release = asyncio.Event()

    async def request_cb(conn, req):
        await release.wait()
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=request_cb, server_kwargs=dict(
            conclude_timeout=0.5)) as (conn, srv_conn):
        task = asyncio.create_task(conn.send_confirmed(mms.StatusRequest()))
        await asyncio.sleep(0)
        await bounded(conn.async_close(), timeout=10)
        with pytest.raises(ConnectionError):
            await bounded(task)
        await bounded(srv_conn.wait_closed(), timeout=10)
        with pytest.raises(ConnectionError):
            await conn.send_confirmed(mms.StatusRequest())
        with pytest.raises(ConnectionError):
            conn.send_unconfirmed(mms.UnsolicitedStatusUnconfirmed(0, 0))
        with pytest.raises(ConnectionError):
            await conn.receive_unconfirmed()
        conn.close()
        await conn.async_close()
        conn.abort()


async def test_unconfirmed_readable_after_close():
    async with pair() as (conn, srv_conn):
        srv_conn.send_unconfirmed(UNCONFIRMED[2])
        await bounded(srv_conn.async_close(), timeout=10)
        await bounded(conn.wait_closed(), timeout=10)
        assert await conn.receive_unconfirmed() == UNCONFIRMED[2]
        with pytest.raises(ConnectionError):
            await conn.receive_unconfirmed()
