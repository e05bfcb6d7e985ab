"""Tests of hat.drivers.acse associations (ISO 8650-1 on hat.drivers.copp).

Our initiator against our responder, and against raw peers (a
`hat.drivers.copp` connection carrying APDUs): AARQ/AARE with AP titles
and AE qualifiers read back on both sides, the AARE's application context,
rejection by a rejecting AARE, user data, release (RLRQ/RLRE) from either
side, abort, and bad input (one ERROR record, the association aborted).

"""

import asyncio
import contextlib
import inspect
import logging

import pytest

from hat import aio

from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import copp
from hat.drivers.acse import codec
from hat.drivers.acse import common

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = acse.Address(localhost, 0)

ACSE = (2, 2, 1, 0, 1)
MMS = (1, 0, 9506, 2, 1)
MMS_CONTEXT = (1, 0, 9506, 2, 3)


def h(text):
    return bytes.fromhex(''.join(text.split()))


def entity(name, octets):
    return name, ber.decode(h(octets))


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@contextlib.asynccontextmanager
async def acse_server(validate_cb=lambda names, data: (
                          data or entity(MMS, 'a9 00')),
                      **kwargs):
    conn_queue = aio.Queue()
    srv = await acse.listen(validate_cb, conn_queue.put_nowait, any_port,
                            **kwargs)
    try:
        yield srv, conn_queue
    finally:
        while not conn_queue.empty():
            conn_queue.get_nowait().async_group.close()
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def closing(conn):
    try:
        yield conn
    finally:
        conn.async_group.close()
        await bounded(conn.wait_closed())


def test_api_names_and_signatures():
    for name in ('IdentifiedEntity', 'Address', 'SyntaxNames',
                 'ConnectionInfo', 'ValidateResult', 'ValidateCb',
                 'ConnectionCb', 'connect', 'listen', 'Server', 'Connection',
                 'mlog'):
        assert hasattr(acse, name), name
    assert acse.SyntaxNames is copp.SyntaxNames
    assert list(acse.ConnectionInfo._fields) == [
        'local_addr', 'local_tsel', 'local_ssel', 'local_psel',
        'local_ap_title', 'local_ae_qualifier', 'remote_addr', 'remote_tsel',
        'remote_ssel', 'remote_psel', 'remote_ap_title',
        'remote_ae_qualifier']
    assert list(inspect.signature(acse.connect).parameters)[:14] == [
        'syntax_name_list', 'app_context_name', 'addr', 'local_tsel',
        'remote_tsel', 'local_ssel', 'remote_ssel', 'local_psel',
        'remote_psel', 'local_ap_title', 'remote_ap_title',
        'local_ae_qualifier', 'remote_ae_qualifier', 'user_data']
    assert list(inspect.signature(acse.listen).parameters)[:3] == [
        'validate_cb', 'connection_cb', 'addr']


async def test_associate_data_release():
    validated = []

    def validate_cb(names, data):
        validated.append((names, data))
        return entity(MMS, 'a9 03 80 01 05')

    async with acse_server(validate_cb) as (srv, conn_queue):
        conn = await bounded(acse.connect(
            [MMS], MMS_CONTEXT, srv.addresses[0],
            local_ap_title=(1, 1, 1, 999), remote_ap_title=(1, 1, 1, 999, 1),
            local_ae_qualifier=12, remote_ae_qualifier=13,
            user_data=entity(MMS, 'a8 03 80 01 05')))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                [(names, data)] = validated
                assert names.items() == [(1, ACSE), (3, MMS)]
                assert data == entity(MMS, 'a8 03 80 01 05')
                assert conn.conn_req_user_data == data
                assert conn.conn_res_user_data == entity(MMS,
                                                         'a9 03 80 01 05')
                assert server_conn.conn_req_user_data == data
                assert server_conn.conn_res_user_data == \
                    conn.conn_res_user_data

                assert conn.info.local_ap_title == (1, 1, 1, 999)
                assert conn.info.remote_ap_title == (1, 1, 1, 999, 1)
                assert conn.info.local_ae_qualifier == 12
                assert conn.info.remote_ae_qualifier == 13
                assert server_conn.info.local_ap_title == (1, 1, 1, 999, 1)
                assert server_conn.info.remote_ap_title == (1, 1, 1, 999)
                assert server_conn.info.local_ae_qualifier == 13
                assert server_conn.info.remote_ae_qualifier == 12

                conn.write(entity(MMS, 'a0 03 02 01 01'))
                assert await bounded(server_conn.read()) == entity(
                    MMS, 'a0 03 02 01 01')
                server_conn.write(entity(MMS, 'a1 03 02 01 01'))
                assert await bounded(conn.read()) == entity(
                    MMS, 'a1 03 02 01 01')

                await bounded(conn.async_close())
                await bounded(server_conn.wait_closed())
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())


async def test_release_by_responder_answered_with_rlre(caplog):
    async with acse_server() as (srv, conn_queue):
        conn = await bounded(acse.connect([MMS], MMS_CONTEXT,
                                          srv.addresses[0]))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                # raises unless the answer is an RLRE
                await bounded(server_conn.release())
                await bounded(conn.wait_closed())
    assert error_records(caplog) == []


async def test_release_while_the_peer_streams_data(caplog):
    """An MMS client releasing while its server streams reports it does not
    read: the release reads on to the RLRE, discarding what does not fit
    receive_queue_size (one WARNING), and completes well within
    release_timeout, however much the server had sent"""
    report = (MMS, ber.Element(ber.Class.CONTEXT, 3, False, bytes(4096)))
    async with acse_server(release_timeout=20) as (srv, conn_queue):
        conn = await bounded(acse.connect([MMS], MMS_CONTEXT,
                                          srv.addresses[0],
                                          release_timeout=20))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                streaming = asyncio.Event()
                written = 0

                async def stream():
                    nonlocal written
                    try:
                        while True:
                            server_conn.write(report)
                            written += 1
                            if written == 100:
                                streaming.set()
                            await server_conn.drain()
                    except ConnectionError:
                        pass

                task = asyncio.create_task(stream())
                await bounded(streaming.wait())
                # raises unless the answer is an RLRE
                await bounded(conn.release(), timeout=5)
                await bounded(task)
                await bounded(server_conn.wait_closed())
                assert written >= 100
    assert error_records(caplog) == []
    [warning] = [r for r in caplog.records
                 if r.levelno == logging.WARNING and
                 'discarded unread' in r.getMessage()]
    assert warning.name == 'hat.drivers.cosp.connection'


async def test_aare_names_the_proposed_application_context():
    # a raw initiator on copp proposing another application context
    async with acse_server() as (srv, conn_queue):
        names = copp.SyntaxNames([ACSE, MMS])
        aarq = codec.encode_entity(common.AarqApdu(
            None, (1, 2, 3), *[None] * 13, [ber.External(
                ber.decode(h('a8 00')), None, 3)]))
        conn = await bounded(copp.connect(names, srv.addresses[0],
                                          user_data=(ACSE, aarq)))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                name, element = conn.conn_res_user_data
                aare = codec.decode_entity(element)
                assert name == ACSE
                assert aare.application_context_name == (1, 2, 3)
                assert aare.result == common.AssociateResult.ACCEPTED
                assert aare.user_information == [ber.External(
                    ber.decode(h('a8 00')), (2, 1, 1), 3)]


@pytest.mark.parametrize('validate_cb', [
    lambda names, data: None,
    lambda names, data: 1 / 0,
])
async def test_rejected_by_aare(validate_cb):
    async with acse_server(validate_cb) as (srv, _):
        with pytest.raises(acse.RefusedError) as e:
            await bounded(acse.connect([MMS], MMS_CONTEXT, srv.addresses[0],
                                       user_data=entity(MMS, 'a8 00')))
        assert isinstance(e.value, ConnectionRefusedError)
        assert e.value.result == common.AssociateResult.REJECTED_PERMANENT
        assert e.value.result_source_diagnostic == \
            common.ResultSourceDiagnostic(
                common.ResultSource.ACSE_SERVICE_USER,
                common.UserDiagnostic.NO_REASON_GIVEN)


async def test_undecodable_aarq_refused(caplog):
    async with acse_server() as (srv, _):
        with pytest.raises(copp.RefusedError):
            await bounded(copp.connect(
                copp.SyntaxNames([ACSE]), srv.addresses[0],
                user_data=entity(ACSE, '60 02 80 00')))
    [record] = error_records(caplog)
    assert 'acse' in record.getMessage()
    assert '60 02 80 00' in record.getMessage()


async def test_abort():
    async with acse_server() as (srv, conn_queue):
        conn = await bounded(acse.connect([MMS], MMS_CONTEXT,
                                          srv.addresses[0]))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                conn.abort()
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                await bounded(server_conn.wait_closed())


async def test_acse_apdu_in_p_data_is_a_protocol_error(caplog):
    async with acse_server() as (srv, conn_queue):
        names = copp.SyntaxNames([ACSE, MMS])
        aarq = codec.encode_entity(common.AarqApdu(
            None, MMS_CONTEXT, *[None] * 14))
        conn = await bounded(copp.connect(names, srv.addresses[0],
                                          user_data=(ACSE, aarq)))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                conn.write(entity(ACSE, '62 00'))
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                # the peer gets an ABRT (provider, protocol error) in an ARU
                with pytest.raises(ConnectionError):
                    await bounded(conn.read())
    [record] = error_records(caplog)
    assert 'acse' in record.getMessage()
    assert '62 00' in record.getMessage()


async def test_responder_answers_rlrq_with_rlre(caplog):
    """Our responder answers a peer's RLRQ (P-RELEASE request) with an
    RLRE (reason normal) in the P-RELEASE response (X.227 7.2; before, the
    session DN carried no user data), while its user is not reading"""
    async with acse_server() as (srv, conn_queue):
        names = copp.SyntaxNames([ACSE, MMS])
        aarq = codec.encode_entity(common.AarqApdu(
            None, MMS_CONTEXT, *[None] * 13, [ber.External(
                ber.decode(h('a8 00')), None, 3)]))
        conn = await bounded(copp.connect(names, srv.addresses[0],
                                          user_data=(ACSE, aarq)))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                rlrq = codec.encode_entity(common.RlrqApdu(
                    common.ReleaseRequestReason.NORMAL, None))
                name, element = await bounded(conn.release((ACSE, rlrq)))
                assert name == ACSE
                assert codec.decode_entity(element) == common.RlreApdu(
                    common.ReleaseResponseReason.NORMAL, None)
                await bounded(server_conn.wait_closed())
    assert error_records(caplog) == []
