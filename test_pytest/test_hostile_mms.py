"""Hostile findings on the MMS association (`hat.drivers.mms.connection`).

Each test reproduces one fault a hostile tester found as a hostile peer or
a careless user; fixed faults keep their test passing, faults not yet
fixed are ``xfail(strict=True)`` with the finding as the reason.

* ``send_confirmed(timeout=...)`` was not checked: a timeout of 0 or below
  sent the request and then raised `mms.ResponseTimeoutError` (the answer
  logged as late), NaN meant "no timeout" on asyncio and a bare
  ``ValueError('cannot convert float NaN to integer')`` on uvloop.
* Data nested deeper than the interpreter's recursion limit made
  ``send_confirmed`` / ``send_unconfirmed`` raise `RecursionError` instead
  of the documented `ValueError`.
* The server accepted an initiate-RequestPDU proposing a negative or zero
  localDetailCalling or a negative dataStructureNestingLevel and answered
  them back (min(proposed, own)); a refused proposal of maxServOutstanding
  0 was logged without the octets.
* Unconfirmed PDUs (reports) the peer sent before an orderly close
  (conclude, release) were lost when our unconfirmed queue was full at the
  release: only the queue was delivered, the PDU in hand and those the
  layers below still held were dropped. Now kept, at most
  ``unconfirmed_queue_size`` more.
* ``connect`` / ``listen`` accepted a ``request_cb`` / ``connection_cb``
  that is not callable (failing later, per request or per association).
* A RejectPDU answering our conclude-RequestPDU (conclude-requestPDU or
  pdu-error, no invoke ID) did not end the wait: close took the whole
  ``conclude_timeout`` before releasing.
* A RejectPDU pdu-error naming the invoke ID of our pending request (as
  libiec61850 rejects a request it cannot parse) was only logged: the
  request waited for its whole response timeout.
* The ERROR record of a response of another service than the request's
  did not carry the octets as hex; nor did the one of an
  initiate-ResponsePDU negotiating a maxServOutstanding below 1.
* A repeated conclude-RequestPDU got no answer.
* The unconfirmed queue was bounded in PDUs only (1024 of up to 1 MiB,
  each decoding to up to 21 times its octets): now also in octets
  (``unconfirmed_queue_octets``, 1 MiB).

Attacks that held have regression tests at the end (``test_held_*``).

"""

import asyncio
import logging
import math
import random
import ssl

import pytest

from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import mms
from hat.drivers.mms import codec

from chaos import ChaosProxy, Resources, bounded
from test_mms import (MMS, MMS_CONTEXT, closing, entity,
                      initiate_request, mms_server, pair, raw_client,
                      raw_connect, raw_server, read_pdu, write_pdu)


pytestmark = pytest.mark.timeout(30)


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def status_cb(conn, req):
    return mms.StatusResponse(0, 0)


def deep_data(levels):
    data = mms.IntegerData(1)
    for _ in range(levels):
        data = mms.StructureData([data])
    return data


@pytest.mark.parametrize('timeout', [0, -1, math.nan, -math.inf])
async def test_send_confirmed_bad_timeout_is_value_error_nothing_sent(
        timeout, caplog):
    served = []

    def server_cb(conn, req):
        served.append(req)
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=server_cb) as (conn, srv_conn):
        with pytest.raises(ValueError, match='timeout'):
            await bounded(conn.send_confirmed(mms.StatusRequest(),
                                              timeout=timeout))
        # nothing was sent: the next request is the first one served
        assert await bounded(conn.send_confirmed(
            mms.IdentifyRequest())) == mms.ErrorResponse(
                mms.ErrorClass.SERVICE, 0)
        assert served == [mms.IdentifyRequest()]
        assert conn.is_open
    assert not [r for r in caplog.records if 'late answer' in r.getMessage()]


async def test_send_confirmed_bad_timeout_type_is_type_error():
    async with pair() as (conn, srv_conn):
        for timeout in ('1', True, [1]):
            with pytest.raises(TypeError, match='timeout'):
                await bounded(conn.send_confirmed(mms.StatusRequest(),
                                                  timeout=timeout))
        assert conn.is_open


async def test_deeply_nested_data_is_value_error():
    data = deep_data(5000)
    name = mms.VmdSpecificObjectName('x')
    async with pair(server_cb=status_cb) as (conn, srv_conn):
        with pytest.raises(ValueError, match='nested'):
            await bounded(conn.send_confirmed(mms.WriteRequest(
                [mms.NameVariableSpecification(name)], [data])),
                what='send_confirmed')
        with pytest.raises(ValueError, match='nested'):
            conn.send_unconfirmed(mms.InformationReportUnconfirmed(
                name, [data]))
        # the association stays up
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.StatusResponse(0, 0)


@pytest.mark.parametrize('fields', [
    dict(local_detail_calling=-5),
    dict(local_detail_calling=0),
    dict(data_structure_nesting_level=-1),
    dict(max_serv_outstanding_calling=0)])
async def test_server_refuses_nonsense_initiate(fields, caplog):
    # 0.6.23 answered 5/5; we answered min(proposed, own): a negative
    # localDetailCalled or nesting level was echoed back and accepted
    pdu = initiate_request()._replace(**fields)
    async with mms_server() as (srv, conn_queue):
        with pytest.raises(ConnectionError):
            await bounded(acse.connect([MMS], MMS_CONTEXT, srv.addresses[0],
                                       user_data=entity(pdu)))
        assert conn_queue.empty()
        [record] = error_records(caplog)
        assert codec.encode_pdu(pdu).hex(' ') in record.getMessage()


async def read_all_unconfirmed(conn):
    result = []
    while True:
        try:
            result.append(await bounded(conn.receive_unconfirmed()))
        except ConnectionError:
            return result


@pytest.mark.parametrize('size, sent, kept', [(4, 8, 8), (2, 6, 4)])
async def test_unconfirmed_sent_before_peer_release_kept(size, sent, kept,
                                                          caplog):
    # the peer sends reports and closes (conclude, release) while our
    # unconfirmed queue is full: those were dropped beyond the queue (2 of
    # 6 delivered); now kept, up to unconfirmed_queue_size more
    async with pair(unconfirmed_queue_size=size,
                    server_kwargs=dict(conclude_timeout=0.3)) as (
                        conn, srv_conn):
        reports = [mms.UnsolicitedStatusUnconfirmed(i, 0)
                   for i in range(sent)]
        for report in reports:
            srv_conn.send_unconfirmed(report)
        await bounded(srv_conn.drain())
        await bounded(srv_conn.async_close())
        await bounded(conn.wait_closed())
        assert await read_all_unconfirmed(conn) == reports[:kept]
        warnings = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING and
                    'unconfirmed' in r.getMessage()]
        assert warnings == ([] if kept == sent else [
            f'mms: association closed while the unconfirmed queue was '
            f'full: {sent - kept} PDUs beyond {size} kept not delivered'])


@pytest.mark.timeout(60)
async def test_unconfirmed_queue_memory_bounded_in_octets():
    # 256 KiB reports: with a bound in octets (for example 16 MiB) the
    # peer's writes stall after about 120 (lower layers and socket buffers
    # included); bounded by count they stall only after 1024
    report = codec.UnconfirmedPdu(mms.InformationReportUnconfirmed(
        mms.VmdSpecificObjectName('x'),
        [mms.OctetStringData(bytes(256 * 1024))]))
    async with mms_server() as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                sent = 0
                while sent < 400:
                    write_pdu(raw, report)
                    sent += 1
                    try:
                        await asyncio.wait_for(raw.drain(), 0.5)
                    except asyncio.TimeoutError:
                        break
                # at most 64 MB of reports held by one association
                assert sent < 250


async def test_unconfirmed_octet_bound_loses_nothing():
    # 40 reports of 64 KiB through a bound of 150 KiB (two fit): reading
    # pauses while the client does not read, and every report arrives, in
    # order, once it reads
    def report(i):
        return mms.InformationReportUnconfirmed(
            mms.VmdSpecificObjectName(f'r{i}'),
            [mms.OctetStringData(bytes([i]) * (64 * 1024))])

    async with pair(unconfirmed_queue_octets=150 * 1024) as (conn,
                                                             srv_conn):
        async def send_all():
            for i in range(40):
                srv_conn.send_unconfirmed(report(i))
                await srv_conn.drain()

        sender = asyncio.create_task(send_all())
        try:
            for i in range(40):
                received = await bounded(conn.receive_unconfirmed())
                assert received.specification == mms.VmdSpecificObjectName(
                    f'r{i}')
                assert bytes(received.data[0].value) == bytes([i]) * (
                    64 * 1024)
            await bounded(sender)
        finally:
            sender.cancel()


async def test_callbacks_not_callable_are_type_error():
    # were accepted: every request was then answered with an ERROR record
    # and a confirmed-ErrorPDU, every association closed at once
    addr = mms.Address('127.0.0.1', 0)
    with pytest.raises(TypeError, match='request_cb'):
        await bounded(mms.connect('request_cb', addr))
    with pytest.raises(TypeError, match='connection_cb'):
        await bounded(mms.listen(123, None, addr))
    with pytest.raises(TypeError, match='request_cb'):
        await bounded(mms.listen(None, 5, addr))
    # None stays allowed (requests rejected, as before)
    srv = await bounded(mms.listen(None, None, addr))
    try:
        conn = await bounded(mms.connect(None, srv.addresses[0]))
        async with closing(conn):
            with pytest.raises(mms.RejectedError):
                await bounded(conn.send_confirmed(mms.StatusRequest()))
    finally:
        await bounded(srv.async_close())


@pytest.mark.parametrize('reject', [
    codec.RejectPdu(None, codec.RejectReason.CONCLUDE_REQUEST, 1),
    codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 1)])
async def test_close_ends_conclude_wait_on_reject(reject):
    # a peer rejecting our conclude-RequestPDU: close waited the whole
    # conclude_timeout before releasing
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv, conclude_timeout=20)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            closed = asyncio.create_task(conn.async_close())
            assert await read_pdu(raw) == codec.ConcludeRequestPdu()
            write_pdu(raw, reject)
            await bounded(closed, timeout=3)


async def test_pdu_error_reject_with_invoke_id_fails_request():
    # a peer that cannot parse our request rejects it with pdu-error and
    # its invoke ID (libiec61850 does, MMS_ERROR_REJECT_INVALID_PDU): the
    # request waited for its whole response timeout
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv, response_timeout=20)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest()))
            req = await read_pdu(raw)
            write_pdu(raw, codec.RejectPdu(
                req.invoke_id, codec.RejectReason.PDU_ERROR, 1))
            with pytest.raises(mms.RejectedError) as e:
                await bounded(task, timeout=3)
            assert e.value.by_peer
            assert e.value.reason == codec.RejectReason.PDU_ERROR
            assert conn.is_open


# --- attacks that held (regression tests) ----------------------------------

async def test_held_duplicate_invoke_id_in_flight_rejected():
    release = asyncio.Event()

    async def request_cb(conn, req):
        await release.wait()
        return mms.StatusResponse(0, 0)

    async with mms_server(request_cb) as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                request = codec.ConfirmedRequestPdu(7, mms.StatusRequest())
                write_pdu(raw, request)
                write_pdu(raw, request)
                assert await read_pdu(raw) == codec.RejectPdu(
                    7, codec.RejectReason.CONFIRMED_REQUEST, 3)
                release.set()
                assert await read_pdu(raw) == codec.ConfirmedResponsePdu(
                    7, mms.StatusResponse(0, 0))


async def test_held_hanging_request_cb_then_close():
    entered = asyncio.Event()

    async def request_cb(conn, req):
        entered.set()
        await asyncio.Future()

    async with pair(server_cb=request_cb) as (conn, srv_conn):
        task = asyncio.create_task(conn.send_confirmed(mms.StatusRequest()))
        await bounded(entered.wait())
        await bounded(srv_conn.async_close(), timeout=3)
        with pytest.raises(ConnectionError):
            await bounded(task)
        with pytest.raises(ConnectionError):
            await bounded(conn.send_confirmed(mms.StatusRequest()))
        with pytest.raises(ConnectionError):
            await bounded(srv_conn.drain())


@pytest.mark.parametrize('seed', range(2))
async def test_held_cancel_and_timeout_keep_slots(seed):
    rng = random.Random(seed)
    inside = 0
    peak = 0

    async def request_cb(conn, req):
        nonlocal inside, peak
        inside += 1
        peak = max(peak, inside)
        try:
            await asyncio.sleep(rng.random() * 0.01)
        finally:
            inside -= 1
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=request_cb,
                    max_serv_outstanding_calling=2) as (conn, srv_conn):
        tasks = []
        for _ in range(200):
            tasks.append(asyncio.create_task(conn.send_confirmed(
                mms.StatusRequest(),
                timeout=rng.choice([None, 0.001, 0.005, 0.05]))))
            if rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.003)
            if rng.random() < 0.2:
                rng.choice(tasks).cancel()
        await bounded(asyncio.gather(*tasks, return_exceptions=True))
        assert peak <= 2
        # no slot leaked: 2 at a time still go through
        assert await bounded(asyncio.gather(*(
            conn.send_confirmed(mms.StatusRequest()) for _ in range(10)))) \
            == [mms.StatusResponse(0, 0)] * 10


@pytest.mark.parametrize('use_tls', [False, True])
async def test_held_reset_mid_exchange(use_tls, tls_files, caplog):
    server_kwargs, client_kwargs = {}, {}
    if use_tls:
        cert, key = tls_files
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                                cafile=str(cert))
        server_kwargs = dict(ssl=server_ctx)
        client_kwargs = dict(ssl=client_ctx, server_hostname='localhost')
    entered = asyncio.Event()

    async def request_cb(conn, req):
        entered.set()
        await asyncio.Future()

    async with mms_server(request_cb, **server_kwargs) as (srv, conn_queue):
        proxy = ChaosProxy(srv.addresses[0], delay_prob=0, stall_prob=0)
        addr = await proxy.start()
        try:
            conn = await bounded(mms.connect(
                request_cb, mms.Address(addr.host, addr.port),
                **client_kwargs))
            async with closing(conn):
                srv_conn = await bounded(conn_queue.get())
                tasks = [asyncio.create_task(conn.send_confirmed(
                    mms.StatusRequest())) for _ in range(3)]
                await bounded(entered.wait())
                tasks.append(asyncio.create_task(srv_conn.send_confirmed(
                    mms.StatusRequest())))
                await asyncio.sleep(0.05)
                proxy.links[0].kill('rst')
                for task in tasks:
                    with pytest.raises(ConnectionError):
                        await bounded(task)
                await bounded(conn.wait_closed())
                await bounded(srv_conn.wait_closed())
                conn.close()
                srv_conn.abort()
                with pytest.raises(ConnectionError):
                    conn.send_unconfirmed(
                        mms.UnsolicitedStatusUnconfirmed(0, 0))
                with pytest.raises(ConnectionError):
                    await bounded(conn.receive_unconfirmed())
        finally:
            await proxy.close()
    # a reset is no malformed data
    assert error_records(caplog) == []


@pytest.mark.parametrize('use_tls', [False, True])
async def test_held_no_leak_over_cycles(use_tls, tls_files):
    server_kwargs, client_kwargs = {}, {}
    if use_tls:
        cert, key = tls_files
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(cert, key)
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                                cafile=str(cert))
        server_kwargs = dict(ssl=server_ctx)
        client_kwargs = dict(ssl=client_ctx, server_hostname='localhost')

    async def cycle(i):
        conn = await bounded(mms.connect(None, srv.addresses[0],
                                         **client_kwargs))
        srv_conn = await bounded(conn_queue.get())
        [conn.close, srv_conn.close, conn.abort][i % 3]()
        await bounded(conn.wait_closed())
        await bounded(srv_conn.wait_closed())

    async with mms_server(**server_kwargs) as (srv, conn_queue):
        for i in range(3):
            await cycle(i)
        resources = Resources()
        for i in range(30):
            await cycle(i)
        await resources.wait_restored()


async def test_held_unexpected_pdus_keep_association(caplog):
    # initiate twice, an answer before any request, a reject storm and one
    # malformed PDU: one ERROR record (the malformed PDU), answers to what
    # needs one, the association stays up
    async with mms_server(lambda conn, req: mms.StatusResponse(0, 0)) as (
            srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                write_pdu(raw, initiate_request())
                assert await read_pdu(raw) == codec.RejectPdu(
                    None, codec.RejectReason.PDU_ERROR, 0)
                write_pdu(raw, codec.ConfirmedResponsePdu(
                    99, mms.StatusResponse(0, 0)))
                for i in range(300):
                    write_pdu(raw, codec.RejectPdu(
                        i, codec.RejectReason.PDU_ERROR, 0))
                # [30] is no MMSpdu alternative
                raw.write((MMS, ber.decode(bytes.fromhex('be00'))))
                assert (await read_pdu(raw)).reason == \
                    codec.RejectReason.PDU_ERROR
                write_pdu(raw, codec.ConfirmedRequestPdu(
                    8, mms.StatusRequest()))
                assert await read_pdu(raw) == codec.ConfirmedResponsePdu(
                    8, mms.StatusResponse(0, 0))
                [record] = error_records(caplog)
                assert 'be 00' in record.getMessage()


async def test_held_close_bounded_with_peer_not_reading():
    # our reports fill the peer's window (it never reads), then close:
    # bounded by conclude_timeout + release_timeout + close_timeout
    report = mms.InformationReportUnconfirmed(
        mms.VmdSpecificObjectName('x'), [mms.OctetStringData(bytes(10000))])
    async with mms_server(conclude_timeout=0.3, release_timeout=0.5,
                          close_timeout=0.5) as (srv, conn_queue):
        async with raw_client(srv.addresses[0]):
            conn = await bounded(conn_queue.get())
            for _ in range(10_000):
                conn.send_unconfirmed(report)
                try:
                    await asyncio.wait_for(conn.drain(), 0.3)
                except asyncio.TimeoutError:
                    break
            else:
                raise AssertionError('the peer took everything')
            await bounded(conn.async_close(), timeout=4)
            with pytest.raises(ConnectionError):
                conn.send_unconfirmed(report)


async def test_wrong_response_service_record_has_octets(caplog):
    # a response of another service than the request's: its one ERROR
    # record named the cause but not the octets
    async with raw_server() as (srv, conn_queue):
        conn = await raw_connect(srv)
        async with closing(conn):
            raw = await bounded(conn_queue.get())
            task = asyncio.create_task(conn.send_confirmed(
                mms.IdentifyRequest()))
            req = await read_pdu(raw)
            res = codec.ConfirmedResponsePdu(req.invoke_id,
                                             mms.StatusResponse(0, 0))
            write_pdu(raw, res)
            with pytest.raises(mms.RejectedError):
                await bounded(task)
            [record] = error_records(caplog)
            assert codec.encode_pdu(res).hex(' ') in record.getMessage()
            assert 'StatusResponse' in record.getMessage()


async def test_invalid_initiate_response_record_has_octets(caplog):
    # an initiate-ResponsePDU negotiating maxServOutstandingCalling 0: its
    # ERROR record named the cause but not the octets
    res = codec.InitiateResponsePdu(65000, 0, 5, None, 1,
                                    frozenset({0, 1, 2}),
                                    frozenset({0, 4, 83}))
    async with raw_server(entity(res)) as (srv, conn_queue):
        with pytest.raises(ConnectionError, match='maxServOutstanding'):
            await bounded(raw_connect(srv))
        [record] = error_records(caplog)
        assert codec.encode_pdu(res).hex(' ') in record.getMessage()


async def test_repeated_conclude_answered():
    # a peer repeating its conclude-RequestPDU got no answer the second
    # time (it waited for its own timeout)
    async with mms_server() as (srv, conn_queue):
        async with raw_client(srv.addresses[0]) as raw:
            conn = await bounded(conn_queue.get())
            async with closing(conn):
                for _ in range(2):
                    write_pdu(raw, codec.ConcludeRequestPdu())
                    assert await read_pdu(raw) == \
                        codec.ConcludeResponsePdu()
                with pytest.raises(ConnectionError):
                    await bounded(conn.send_confirmed(mms.StatusRequest()))
