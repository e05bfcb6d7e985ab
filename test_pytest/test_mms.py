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
import ssl

import pytest

from hat import aio

from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import mms
from hat.drivers.mms import codec

from chaos import bounded, wait_stalled


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
    # raw clients do not answer the server's conclude: close sooner
    kwargs.setdefault('conclude_timeout', 0.5)
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
    async with mms_server(server_cb, **(server_kwargs or {})) as (
            srv, conn_queue):
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


# --- raw peers -------------------------------------------------------------

def raw_connect(srv, **kwargs):
    # a raw server does not answer the conclude: close after 0.2 s
    kwargs.setdefault('conclude_timeout', 0.2)
    return mms.connect(default_request_cb, srv.addresses[0], **kwargs)


def entity(pdu):
    return MMS, ber.decode(codec.encode_pdu(pdu))


def initiate_request(calling=5, called=5):
    return codec.InitiateRequestPdu(65000, calling, called, None, 1,
                                    frozenset({0, 1, 2}),
                                    frozenset({0, 4, 83}))


def initiate_response(calling=5, called=5):
    return codec.InitiateResponsePdu(65000, calling, called, None, 1,
                                     frozenset({0, 1, 2}),
                                     frozenset({0, 4, 83}))


async def read_pdu(conn):
    name, element = await bounded(conn.read())
    assert name == MMS
    return codec.decode_pdu(ber.encode(element))


def write_pdu(conn, pdu):
    conn.write(entity(pdu))


@contextlib.asynccontextmanager
async def raw_server(user_data=None):
    """acse responder answering the Initiate with `user_data` (default an
    initiate-ResponsePDU 5/5)"""
    conn_queue = aio.Queue()
    srv = await acse.listen(
        lambda names, data: user_data or entity(initiate_response()),
        conn_queue.put_nowait, any_port)
    try:
        yield srv, conn_queue
    finally:
        await bounded(srv.async_close())
        while not conn_queue.empty():
            await bounded(conn_queue.get_nowait().async_close(), timeout=15)


@contextlib.asynccontextmanager
async def raw_client(addr, calling=5, called=5):
    conn = await acse.connect([MMS], MMS_CONTEXT, addr,
                              user_data=entity(initiate_request(calling,
                                                                called)))
    try:
        yield conn
    finally:
        conn.abort()
        await bounded(conn.wait_closed())


async def test_close_concludes_then_releases():
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv, conclude_timeout=10)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            closed = asyncio.create_task(conn.async_close())
            assert await read_pdu(raw) == codec.ConcludeRequestPdu()
            # nothing else until the conclude is answered
            await asyncio.sleep(0.05)
            assert not closed.done()
            assert raw.is_open
            write_pdu(raw, codec.ConcludeResponsePdu())
            # then the ACSE release: RLRQ, answered with RLRE by acse
            with pytest.raises(ConnectionError, match='released by the peer'):
                await bounded(raw.read())
            await bounded(closed, timeout=10)
            await bounded(raw.wait_closed())
            assert conn.is_closed


async def test_close_bounded_without_conclude_answer():
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            closed = asyncio.create_task(conn.async_close())
            assert await read_pdu(raw) == codec.ConcludeRequestPdu()
            # no answer: released after conclude_timeout
            with pytest.raises(ConnectionError, match='released by the peer'):
                await bounded(raw.read())
            await bounded(closed)


async def test_peer_conclude():
    async with mms_server() as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            write_pdu(raw, codec.ConcludeRequestPdu())
            assert await read_pdu(raw) == codec.ConcludeResponsePdu()
            # concluded: no new requests
            with pytest.raises(ConnectionError):
                await conn.send_confirmed(mms.StatusRequest())
            # the RLRQ is answered with an RLRE
            await bounded(raw.release())
            await bounded(conn.wait_closed())


async def test_peer_conclude_with_outstanding_request():
    async with mms_server() as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                task = asyncio.create_task(
                    conn.send_confirmed(mms.StatusRequest()))
                req = await read_pdu(raw)
                assert isinstance(req, codec.ConfirmedRequestPdu)
                write_pdu(raw, codec.ConcludeRequestPdu())
                pdu = await read_pdu(raw)
                assert isinstance(pdu, codec.ConcludeErrorPdu)
                assert pdu.error.error_class == mms.ErrorClass.CONCLUDE
                assert pdu.error.value == 1
                # still up: the request completes
                write_pdu(raw, codec.ConfirmedResponsePdu(
                    req.invoke_id, mms.StatusResponse(0, 0)))
                assert await bounded(task) == mms.StatusResponse(0, 0)


async def test_unsupported_request_rejected(caplog):
    async with mms_server(lambda c, r: mms.StatusResponse(0, 0)) as (
            srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                # getCapabilityList [71] with invoke ID 9
                raw.write((MMS, ber.decode(bytes.fromhex(
                    'a007020109bf470100'))))
                assert await read_pdu(raw) == codec.RejectPdu(
                    9, codec.RejectReason.CONFIRMED_REQUEST, 1)
                [record] = error_records(caplog)
                assert 'a0 07 02 01 09 bf 47 01 00' in record.getMessage()
                # the association is still up
                write_pdu(raw, codec.ConfirmedRequestPdu(
                    10, mms.StatusRequest()))
                assert await read_pdu(raw) == codec.ConfirmedResponsePdu(
                    10, mms.StatusResponse(0, 0))


async def test_cancel_answered():
    release = asyncio.Event()

    async def request_cb(conn, req):
        await release.wait()
        return mms.StatusResponse(0, 0)

    async with mms_server(request_cb) as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                write_pdu(raw, codec.ConfirmedRequestPdu(
                    3, mms.StatusRequest()))
                write_pdu(raw, codec.CancelRequestPdu(3))
                assert await read_pdu(raw) == codec.CancelErrorPdu(
                    3, codec.ServiceError(mms.ErrorClass.CANCEL, 2, None,
                                          None))
                write_pdu(raw, codec.CancelRequestPdu(4))
                assert await read_pdu(raw) == codec.CancelErrorPdu(
                    4, codec.ServiceError(mms.ErrorClass.CANCEL, 1, None,
                                          None))
                release.set()
                assert await read_pdu(raw) == codec.ConfirmedResponsePdu(
                    3, mms.StatusResponse(0, 0))


@pytest.mark.parametrize('result', ['raise', None,
                                    mms.IdentifyResponse('v', 'm', 'r', []),
                                    mms.StatusResponse('x', 0)])
@pytest.mark.parametrize('is_async', [False, True])
async def test_request_cb_failure(caplog, result, is_async):
    def sync_cb(conn, req):
        if isinstance(req, mms.IdentifyRequest):
            return mms.IdentifyResponse('v', 'm', 'r', [])
        if result == 'raise':
            raise Exception('handler failed')
        return result

    async def async_cb(conn, req):
        await asyncio.sleep(0)
        return sync_cb(conn, req)

    request_cb = async_cb if is_async else sync_cb

    async with pair(server_cb=request_cb) as (conn, srv_conn):
        res = await bounded(conn.send_confirmed(mms.StatusRequest()))
        assert res == mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)
        [record] = error_records(caplog)
        assert record.exc_info is not None
        # the association is still up
        assert await bounded(conn.send_confirmed(mms.IdentifyRequest())) == \
            mms.IdentifyResponse('v', 'm', 'r', [])


async def test_response_timeout(caplog):
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv,
                                 max_serv_outstanding_calling=1,
                                 response_timeout=0.2)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            with pytest.raises(mms.ResponseTimeoutError):
                await bounded(conn.send_confirmed(mms.StatusRequest()))
            first = await read_pdu(raw)
            # the slot is free again (limit 1): the next request is sent
            task = asyncio.create_task(conn.send_confirmed(
                mms.IdentifyRequest(), timeout=None))
            second = await read_pdu(raw)
            assert second.invoke_id == first.invoke_id + 1
            # the late answer is logged and dropped
            caplog.clear()
            write_pdu(raw, codec.ConfirmedResponsePdu(
                first.invoke_id, mms.StatusResponse(0, 0)))
            write_pdu(raw, codec.ConfirmedResponsePdu(
                second.invoke_id, mms.IdentifyResponse('v', 'm', 'r', [])))
            assert await bounded(task) == mms.IdentifyResponse(
                'v', 'm', 'r', [])
            late = [r for r in caplog.records
                    if r.name == 'hat.drivers.mms.connection']
            assert len(late) == 1
            assert 'late' in late[0].getMessage()
            # per-call timeout
            with pytest.raises(mms.ResponseTimeoutError):
                await bounded(conn.send_confirmed(mms.StatusRequest(),
                                                  timeout=0.05))
            assert conn.is_open


async def test_response_timeouts_expire_in_deadline_order():
    """Each request fails at its own deadline, whatever the order of the
    calls: a shorter timeout after a longer one expires first, and a
    request queued beyond the negotiated limit expires while queued
    (one timer serves them all)."""
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv, max_serv_outstanding_calling=1)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            loop = asyncio.get_running_loop()
            start = loop.time()
            ended = {}

            async def request(name, timeout):
                try:
                    await conn.send_confirmed(mms.StatusRequest(),
                                              timeout=timeout)
                except mms.ResponseTimeoutError:
                    ended[name] = loop.time() - start

            long_ = asyncio.create_task(request('long', 3))
            await read_pdu(raw)  # the long one holds the only slot
            queued = asyncio.create_task(request('queued', 0.4))
            short = asyncio.create_task(request('short', 0.2))
            await bounded(asyncio.gather(queued, short))
            assert list(ended) == ['short', 'queued']
            # `eps`: the times are differences of floats near the clock's
            # value (uvloop's counts whole milliseconds): a deadline met
            # exactly can come out a rounding error short
            eps = 1e-3
            assert 0.2 - eps <= ended['short'] < 0.4 + 0.5
            assert 0.4 - eps <= ended['queued'] < 0.4 + 1
            assert not long_.done()
            await bounded(long_, timeout=10)
            assert 3 - eps <= ended['long'] < 3 + 2
            assert conn.is_open


async def test_unknown_invoke_id_dropped(caplog):
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            write_pdu(raw, codec.ConfirmedResponsePdu(
                77, mms.StatusResponse(0, 0)))
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            req = await read_pdu(raw)
            write_pdu(raw, codec.ConfirmedErrorPdu(
                req.invoke_id, None, codec.ServiceError(
                    mms.ErrorClass.ACCESS, 3, None, None)))
            assert await bounded(task) == mms.ErrorResponse(
                mms.ErrorClass.ACCESS, 3)
            records = [r for r in caplog.records
                       if r.name == 'hat.drivers.mms.connection']
            assert len(records) == 1
            assert '77' in records[0].getMessage()


async def test_rejected_by_peer():
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            req = await read_pdu(raw)
            write_pdu(raw, codec.RejectPdu(
                req.invoke_id, codec.RejectReason.CONFIRMED_REQUEST, 1))
            with pytest.raises(mms.RejectedError) as e:
                await bounded(task)
            assert e.value.reason == codec.RejectReason.CONFIRMED_REQUEST
            assert e.value.code == 1
            assert e.value.by_peer
            assert conn.is_open


async def test_wrong_response_service(caplog):
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.ReadRequest([spec])))
            req = await read_pdu(raw)
            write_pdu(raw, codec.ConfirmedResponsePdu(
                req.invoke_id, mms.StatusResponse(0, 0)))
            with pytest.raises(mms.RejectedError) as e:
                await bounded(task)
            assert not e.value.by_peer
            assert await read_pdu(raw) == codec.RejectPdu(
                req.invoke_id, codec.RejectReason.CONFIRMED_RESPONSE, 3)
            assert conn.is_open


async def test_initiate_error():
    error = codec.InitiateErrorPdu(codec.ServiceError(
        mms.ErrorClass.INITIATE, 1, None, None))
    async with raw_server(entity(error)) as (srv, conn_queue):
        with pytest.raises(ConnectionError, match='initiate-ErrorPDU'):
            await bounded(mms.connect(default_request_cb, srv.addresses[0]))


async def test_initiate_response_above_proposal():
    # a 0.6.23 responder answers 5/5 whatever was proposed
    async with raw_server(entity(initiate_response(5, 5))) as (
            srv, conn_queue):
        conn = await raw_connect(srv,
                                 max_serv_outstanding_calling=2,
                                 max_serv_outstanding_called=1)
        async with closing(conn):
            assert conn.max_serv_outstanding_calling == 2
            assert conn.max_serv_outstanding_called == 1


async def test_server_refuses_bad_initiate():
    async with mms_server() as (srv, conn_queue):
        with pytest.raises(ConnectionError):
            await bounded(acse.connect(
                [MMS], MMS_CONTEXT, srv.addresses[0],
                user_data=entity(initiate_request(0, 5))))
        assert conn_queue.empty()


async def test_backpressure_peer_not_reading():
    served = 0
    data = mms.OctetStringData(bytes(50_000))

    def request_cb(conn, req):
        nonlocal served
        served += 1
        return mms.ReadResponse([data])

    # 5 kB requests, 50 kB responses: the socket buffers fill after a few
    # MB
    req = codec.ConfirmedRequestPdu(1, mms.ReadRequest([spec] * 200))
    # the peer reads nothing: close is bounded by conclude_timeout,
    # release_timeout and tcp's close_timeout
    async with mms_server(request_cb, conclude_timeout=0.5,
                          release_timeout=1, close_timeout=1) as (
                              srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                # writes requests and never reads the responses
                sent = 0
                while sent < 10_000:
                    write_pdu(raw, req._replace(invoke_id=sent + 1))
                    sent += 1
                    try:
                        await asyncio.wait_for(raw.drain(), 0.5)
                    except asyncio.TimeoutError:
                        break
                # the server stopped reading: the client's writes stall,
                # and it serves no more requests
                assert sent < 10_000
                await wait_stalled(lambda: served, 0.3, 10, 'served')
                assert served < sent
                # bounded: the responses not taken by TCP are at most the
                # served requests' worth, and far fewer than requested
                assert served < 400


async def test_unconfirmed_queue_bounded():
    def request_cb(conn, req):
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=request_cb,
                    unconfirmed_queue_size=2) as (conn, srv_conn):
        for i in range(5):
            srv_conn.send_unconfirmed(mms.UnsolicitedStatusUnconfirmed(i, 0))
        # the queue is full: reading pauses, the response is not read
        with pytest.raises(mms.ResponseTimeoutError):
            await bounded(conn.send_confirmed(mms.StatusRequest(),
                                              timeout=0.3))
        # reading the queue resumes reading; nothing was lost
        for i in range(5):
            assert await bounded(conn.receive_unconfirmed()) == \
                mms.UnsolicitedStatusUnconfirmed(i, 0)
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.StatusResponse(0, 0)


@pytest.mark.timeout(20)
async def test_tls_request_cb_failure(tls_files, caplog):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                            cafile=str(cert))

    def request_cb(conn, req):
        if isinstance(req, mms.StatusRequest):
            raise Exception('handler failed')
        return mms.IdentifyResponse('v', 'm', 'r', [])

    async with pair(server_cb=request_cb,
                    server_kwargs=dict(ssl=server_ctx),
                    ssl=client_ctx, server_hostname='localhost') as (
                        conn, srv_conn):
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)
        assert await bounded(conn.send_confirmed(mms.IdentifyRequest())) == \
            mms.IdentifyResponse('v', 'm', 'r', [])
        assert len(error_records(caplog)) == 1


async def test_undecodable_response(caplog):
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            req = await read_pdu(raw)
            # a status response without vmdLogicalStatus
            octets = bytes([0xa1, 0x05, 0x02, 0x01, req.invoke_id, 0xa0,
                            0x00])
            raw.write((MMS, ber.decode(octets)))
            with pytest.raises(mms.RejectedError) as e:
                await bounded(task)
            assert not e.value.by_peer
            assert e.value.reason == codec.RejectReason.CONFIRMED_RESPONSE
            assert await read_pdu(raw) == codec.RejectPdu(
                req.invoke_id, codec.RejectReason.CONFIRMED_RESPONSE, 3)
            [record] = error_records(caplog)
            assert octets.hex(' ') in record.getMessage()
            assert conn.is_open


async def test_peer_exceeding_negotiated_limit_held():
    # the peer sends 3 requests with maxServOutstandingCalling 2: the
    # third is served only once one of the first two is answered
    inside = []
    entered = asyncio.Event()
    releases = {}

    async def request_cb(conn, req):
        release = releases[req.value[0].name.identifier] = asyncio.Event()
        inside.append(req)
        entered.set()
        await release.wait()
        return mms.ReadResponse([mms.IntegerData(1)])

    def read(i):
        return codec.ConfirmedRequestPdu(i, mms.ReadRequest([
            mms.NameVariableSpecification(
                mms.VmdSpecificObjectName(str(i)))]))

    async with mms_server(request_cb) as (srv, conn_queue):
        async with raw_client(srv.addresses[0], calling=2) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                assert conn.max_serv_outstanding_calling == 2
                for i in (1, 2, 3):
                    write_pdu(raw, read(i))
                while len(inside) < 2:
                    entered.clear()
                    await bounded(entered.wait())
                await asyncio.sleep(0.05)
                assert len(inside) == 2
                releases['1'].set()
                assert (await read_pdu(raw)).invoke_id == 1
                while len(inside) < 3:
                    entered.clear()
                    await bounded(entered.wait())
                releases['2'].set()
                releases['3'].set()
                ids = {(await read_pdu(raw)).invoke_id for _ in range(2)}
                assert ids == {2, 3}


async def test_server_requests_limited_to_called():
    # the server sends at most maxServOutstandingCalled requests
    inside = []
    entered = asyncio.Event()
    release = asyncio.Event()

    async def client_cb(conn, req):
        inside.append(req)
        entered.set()
        await release.wait()
        return mms.StatusResponse(0, 0)

    async with pair(client_cb=client_cb, max_serv_outstanding_calling=5,
                    max_serv_outstanding_called=1) as (conn, srv_conn):
        assert srv_conn.max_serv_outstanding_called == 1
        tasks = [asyncio.create_task(
                     srv_conn.send_confirmed(mms.StatusRequest()))
                 for _ in range(3)]
        await bounded(entered.wait())
        # a round trip the other way: the client read all that was sent
        res = await bounded(conn.send_confirmed(mms.StatusRequest()))
        assert res == mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)
        assert len(inside) == 1
        release.set()
        assert await bounded(asyncio.gather(*tasks)) == \
            [mms.StatusResponse(0, 0)] * 3


async def test_both_close_at_once():
    async with pair() as (conn, srv_conn):
        conn.close()
        srv_conn.close()
        # each answers the other's conclude: no conclude_timeout (5 s)
        await bounded(conn.wait_closed(), timeout=3)
        await bounded(srv_conn.wait_closed(), timeout=3)


async def test_connection_cb_raising_closes(caplog):
    def connection_cb(conn):
        raise Exception('connection_cb failed')

    srv = await mms.listen(connection_cb, default_request_cb, any_port)
    try:
        conn = await mms.connect(default_request_cb, srv.addresses[0])
        async with closing(conn):
            await bounded(conn.wait_closed())
        assert len(error_records(caplog)) == 1
    finally:
        await bounded(srv.async_close())


async def test_abort():
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            await read_pdu(raw)
            conn.abort()
            with pytest.raises(ConnectionError):
                await bounded(task)
            # no conclude: the peer sees the abort at once
            with pytest.raises(ConnectionError, match='abort'):
                await bounded(raw.read())
            await bounded(conn.wait_closed())
            conn.abort()


async def test_peer_abort_fails_pending():
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            await read_pdu(raw)
            raw.abort()
            with pytest.raises(ConnectionError):
                await bounded(task)
            await bounded(conn.wait_closed())
            with pytest.raises(ConnectionError):
                await conn.send_confirmed(mms.StatusRequest())


async def test_server_close_leaves_associations_open():
    def request_cb(conn, req):
        return mms.StatusResponse(0, 0)

    conn_queue = aio.Queue()
    srv = await mms.listen(conn_queue.put_nowait, request_cb, any_port)
    conn = await mms.connect(default_request_cb, srv.addresses[0])
    async with closing(conn):
        srv_conn = await bounded(conn_queue.get())
        async with closing(srv_conn):
            await bounded(srv.async_close())
            assert srv_conn.is_open
            assert await bounded(conn.send_confirmed(
                mms.StatusRequest())) == mms.StatusResponse(0, 0)
