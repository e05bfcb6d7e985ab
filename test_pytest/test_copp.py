"""Tests of hat.drivers.copp connections (ISO 8823-1 on hat.drivers.cosp).

Our initiator against our responder, and each of them against a raw peer:
a `hat.drivers.cosp` connection carrying PPDUs written by hand (octets from
the ASN.1 of X.226, not from the codec): context negotiation, user data of
CP/CPA/CPR, P-DATA with several PDVs, release with user data, abort, and
bad input (one ERROR record naming copp and the octets, the connection
aborted, later reads raising `ConnectionError`).

"""

import asyncio
import contextlib
import inspect
import logging

import pytest

from hat import aio

from hat.drivers import ber
from hat.drivers import copp
from hat.drivers import cosp
from hat.drivers import tpkt

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = copp.Address(localhost, 0)

ACSE = (2, 2, 1, 0, 1)
MMS = (1, 0, 9506, 2, 1)
NAMES = copp.SyntaxNames([ACSE, MMS])


def h(text):
    return bytes.fromhex(''.join(text.split()))


def entity(name, octets):
    return name, ber.decode(h(octets))


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@contextlib.asynccontextmanager
async def copp_server(validate_cb=lambda names, data: data, **kwargs):
    conn_queue = aio.Queue()
    srv = await copp.listen(validate_cb, conn_queue.put_nowait, any_port,
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
    for name in ('IdentifiedEntity', 'Address', 'ConnectionInfo',
                 'ValidateResult', 'ValidateCb', 'ConnectionCb',
                 'SyntaxNames', 'connect', 'listen', 'Server', 'Connection',
                 'mlog'):
        assert hasattr(copp, name), name
    assert copp.Address is tpkt.Address
    assert list(copp.ConnectionInfo._fields) == [
        'local_addr', 'local_tsel', 'local_ssel', 'local_psel',
        'remote_addr', 'remote_tsel', 'remote_ssel', 'remote_psel']
    params = inspect.signature(copp.connect).parameters
    assert list(params)[:9] == [
        'syntax_names', 'addr', 'local_tsel', 'remote_tsel', 'local_ssel',
        'remote_ssel', 'local_psel', 'remote_psel', 'user_data']
    assert list(inspect.signature(copp.listen).parameters)[:3] == [
        'validate_cb', 'connection_cb', 'addr']
    assert inspect.signature(copp.listen).parameters['addr'].default == \
        copp.Address('0.0.0.0', 102)
    for method in ('close', 'async_close'):
        params = inspect.signature(getattr(copp.Connection, method)).parameters
        assert params['user_data'].default is None


async def test_connect_data_release():
    validated = []

    def validate_cb(names, data):
        validated.append((names, data))
        return entity(ACSE, 'a1 03 80 01 02')

    async with copp_server(validate_cb) as (srv, conn_queue):
        conn = await bounded(copp.connect(
            NAMES, srv.addresses[0], local_psel=1, remote_psel=b'\x07',
            user_data=entity(ACSE, 'a0 03 80 01 01')))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                [(names, data)] = validated
                assert names == NAMES
                assert data == entity(ACSE, 'a0 03 80 01 01')
                assert conn.conn_res_user_data == entity(ACSE,
                                                         'a1 03 80 01 02')
                assert server_conn.conn_req_user_data == data
                assert server_conn.conn_res_user_data == \
                    conn.conn_res_user_data
                assert conn.info.local_psel == 1
                assert conn.info.remote_psel == b'\x07'
                assert server_conn.info.remote_psel == 1
                assert server_conn.info.local_psel == b'\x07'
                assert server_conn.syntax_names == NAMES

                conn.write(entity(MMS, 'a0 03 02 01 01'))
                conn.write(entity(ACSE, '62 00'))
                assert await bounded(server_conn.read()) == entity(
                    MMS, 'a0 03 02 01 01')
                assert await bounded(server_conn.read()) == entity(
                    ACSE, '62 00')
                server_conn.write(entity(MMS, 'a1 03 02 01 01'))
                assert await bounded(conn.read()) == entity(
                    MMS, 'a1 03 02 01 01')

                with pytest.raises(KeyError):
                    conn.write(((1, 2, 3), ber.decode(h('0500'))))

                # the responder (listen without release_cb) answers a
                # P-RELEASE without user data, although its user is not
                # reading
                assert await bounded(conn.release(entity(
                    ACSE, '62 03 80 01 00'))) is None
                await bounded(server_conn.wait_closed())
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())


async def test_release_by_responder_passes_user_data():
    requests = []

    def release_cb(data):
        requests.append(data)
        return entity(ACSE, '63 03 80 01 00')

    async with copp_server() as (srv, conn_queue):
        conn = await bounded(copp.connect(NAMES, srv.addresses[0],
                                          release_cb=release_cb))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                assert conn.conn_res_user_data is None
                assert server_conn.conn_req_user_data is None
                result = await bounded(server_conn.release(
                    entity(ACSE, '62 03 80 01 00')))
                assert requests == [entity(ACSE, '62 03 80 01 00')]
                assert result == entity(ACSE, '63 03 80 01 00')
                await bounded(conn.wait_closed())


async def test_several_pdvs_in_one_p_data_all_delivered():
    async with copp_server() as (srv, conn_queue):
        # raw initiator: CP proposing contexts 1 (ACSE) and 3 (MMS)
        cp = h('''
            31 2b a0 03 80 01 01
            a2 24
               a4 22
                  30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
                  30 0f 02 01 03 06 04 28ca2202 30 04 06 02 5101
        ''')
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                # P-DATA: PDV-list ctx 3 single-ASN1-type, PDV-list ctx 1
                # octet-aligned with two values
                raw.write(h('''
                    61 19
                       30 09 02 01 03 a0 04 a0 02 05 00
                       30 0c 02 01 01 81 07 62 00 63 03 80 01 00
                '''))
                name = (1, 0, 9506, 2)
                assert await bounded(server_conn.read()) == (
                    name, ber.decode(h('a0 02 05 00')))
                assert await bounded(server_conn.read()) == entity(
                    ACSE, '62 00')
                assert await bounded(server_conn.read()) == entity(
                    ACSE, '63 03 80 01 00')


async def test_context_without_ber_rejected():
    async with copp_server() as (srv, conn_queue):
        # context 3 proposes only the transfer syntax 2.1.2 (not BER)
        cp = h('''
            31 2b a0 03 80 01 01
            a2 24
               a4 22
                  30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
                  30 0f 02 01 03 06 04 28ca2202 30 04 06 02 5102
        ''')
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                assert server_conn.syntax_names.items() == [(1, ACSE)]
                cpa = raw.conn_res_user_data
                assert h('a5 11 30 07 80 01 00 81 02 5101 '
                         '30 06 80 01 02 82 01 02') in cpa


async def test_refused_by_validate_cb(caplog):
    def validate_cb(names, data):
        raise Exception('not you')

    async with copp_server(validate_cb) as (srv, _):
        with pytest.raises(copp.RefusedError) as e:
            await bounded(copp.connect(NAMES, srv.addresses[0],
                                       user_data=entity(ACSE, '60 00')))
        assert e.value.provider_reason is None
        assert isinstance(e.value, ConnectionRefusedError)
    assert error_records(caplog) == []


async def test_refused_with_user_data(caplog):
    def validate_cb(names, data):
        raise copp.RefuseError(entity(ACSE, '61 03 80 01 00'))

    async with copp_server(validate_cb) as (srv, _):
        with pytest.raises(copp.RefusedError) as e:
            await bounded(copp.connect(NAMES, srv.addresses[0],
                                       user_data=entity(ACSE, '60 00')))
        assert e.value.provider_reason is None
        assert e.value.user_data == entity(ACSE, '61 03 80 01 00')
    assert error_records(caplog) == []


async def test_undecodable_cp_refused_with_cpr(caplog):
    async with copp_server() as (srv, _):
        with pytest.raises(cosp.RefusedError) as e:
            await bounded(cosp.connect(srv.addresses[0],
                                       user_data=h('30 00')))
        assert e.value.user_data == h('30 03 8a 01 00')
    [record] = error_records(caplog)
    assert 'copp' in record.getMessage()
    assert '30 00' in record.getMessage()


async def test_abort_with_user_data():
    async with copp_server() as (srv, conn_queue):
        conn = await bounded(copp.connect(NAMES, srv.addresses[0]))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                conn.abort(entity(ACSE, '64 03 80 01 00'))
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                await bounded(server_conn.wait_closed())
                with pytest.raises(ConnectionError):
                    conn.write(entity(ACSE, '62 00'))


@pytest.mark.parametrize('bad, cause', [
    ('30 00', 'User-data'),
    ('61 07 30 05 02 01 09 a0 00', 'cut short'),
    ('61 0a 30 08 02 01 09 a0 03 80 01 00', 'unknown presentation context'),
    ('40 01 00', 'simply-encoded'),
    ('61 08 30 06 02 01 01 82 01 00', 'arbitrary'),
])
async def test_bad_p_data(bad, cause, caplog):
    async with copp_server() as (srv, conn_queue):
        cp = h('''
            31 1a a0 03 80 01 01
            a2 13 a4 11 30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
        ''')
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                raw.write(h(bad))
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                # the peer gets an ARP in a session AB
                with pytest.raises(ConnectionError):
                    await bounded(raw.read())
                assert raw.abort_user_data is not None
                assert raw.abort_user_data.startswith(b'\x30')
    [record] = error_records(caplog)
    message = record.getMessage()
    assert 'copp' in message
    assert h(bad).hex(' ') in message
    assert any(c in message for c in cause.split('|'))


async def test_bad_cpa(caplog):
    async def on_connection(conn):
        pass

    # a raw responder answering the CP with an AC whose user data is not a
    # CPA-PPDU
    srv = await cosp.listen(lambda data: h('30 00'), on_connection,
                            any_port)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(lambda: bounded(srv.async_close()))
        with pytest.raises(ConnectionError, match='CPA'):
            await bounded(copp.connect(NAMES, srv.addresses[0]))
    [record] = error_records(caplog)
    assert 'copp' in record.getMessage()
    assert '30 00' in record.getMessage()


async def test_release_cb_of_listen_passes_user_data():
    """listen's release_cb gets the peer's P-RELEASE user data, decoded
    with that connection's contexts, and its result is the response's
    user data; the responder's user is not reading"""
    requests = []

    def release_cb(data):
        requests.append(data)
        return entity(ACSE, '63 03 80 01 00')

    async with copp_server(release_cb=release_cb) as (srv, conn_queue):
        conn = await bounded(copp.connect(NAMES, srv.addresses[0]))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                result = await bounded(conn.release(
                    entity(ACSE, '62 03 80 01 00')))
                assert requests == [entity(ACSE, '62 03 80 01 00')]
                assert result == entity(ACSE, '63 03 80 01 00')
                await bounded(server_conn.wait_closed())

    with pytest.raises(TypeError):
        await copp.listen(lambda names, data: None, lambda conn: None,
                          any_port, release_cb=1)


async def test_reader_in_async_group_gets_connection_error_on_release():
    """A peer's P-RELEASE ends a read pending in a task of the
    connection's async group with ConnectionError (before the group's
    tasks are cancelled)"""
    async with copp_server() as (srv, conn_queue):
        conn = await bounded(copp.connect(NAMES, srv.addresses[0]))
        async with closing(conn):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                async def read():
                    try:
                        await server_conn.read()
                    except ConnectionError as e:
                        return e

                result = server_conn.async_group.spawn(read)
                assert await bounded(conn.release()) is None
                assert isinstance(await bounded(result), ConnectionError)


async def test_receive_queue_bounded():
    """With receive_queue_size P-DATA received and not read, the receive
    task stops reading (TCP flow control holds the peer back): a bad PPDU
    behind them is only processed once the user reads"""
    async with copp_server(receive_queue_size=2) as (srv, conn_queue):
        cp = h('''
            31 1a a0 03 80 01 01
            a2 13 a4 11 30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
        ''')
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                # two in the queue, one held by the receive task, then a
                # PPDU that cannot be decoded (ARP in an AB once read)
                for value in ('01', '02', '03'):
                    raw.write(h(f'61 0a 30 08 02 01 01 a0 03 02 01 {value}'))
                raw.write(h('30 00'))
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(raw.read(), 0.3)
                assert server_conn.is_open
                for value in ('01', '02', '03'):
                    assert await bounded(server_conn.read()) == entity(
                        ACSE, f'02 01 {value}')
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                with pytest.raises(ConnectionError):
                    await bounded(raw.read())
                assert raw.abort_user_data is not None


CP_ACSE = h('''
    31 1a a0 03 80 01 01
    a2 13 a4 11 30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
''')


def pdv(context_id, value):
    # PDV-list: context, single-ASN1-type [0] { INTEGER value }
    return h(f'30 08 02 01 {context_id:02x} a0 03 02 01 {value:02x}')


async def test_receive_queue_bounded_in_pdvs():
    """The queue holds receive_queue_size PDVs, not P-DATA: the PDVs of
    one P-DATA are decoded as there is room, and the next P-DATA (a bad
    PPDU here) is only read once all of them are queued; every PDV is
    delivered in order"""
    async with copp_server(receive_queue_size=2) as (srv, conn_queue):
        raw = await bounded(cosp.connect(srv.addresses[0],
                                         user_data=CP_ACSE))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                body = b''.join(pdv(1, value) for value in range(1, 7))
                raw.write(ber.encode_tlv(ber.Class.APPLICATION, 1, True,
                                         body))
                raw.write(h('30 00'))
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(raw.read(), 0.3)
                assert server_conn.is_open
                for value in range(1, 4):
                    assert await bounded(server_conn.read()) == entity(
                        ACSE, f'02 01 {value:02x}')
                # PDVs 4 and 5 queued, 6 held by the receive task: the bad
                # PPDU is not read yet
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(raw.read(), 0.1)
                for value in range(4, 7):
                    assert await bounded(server_conn.read()) == entity(
                        ACSE, f'02 01 {value:02x}')
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                with pytest.raises(ConnectionError):
                    await bounded(raw.read())
                assert raw.abort_user_data is not None


async def test_p_data_with_a_bad_later_pdv(caplog):
    """PDVs are decoded one at a time: those before a bad PDV (of an
    unknown context) are delivered, then the protocol error ends the
    connection (one ERROR record with the P-DATA's octets)"""
    async with copp_server() as (srv, conn_queue):
        raw = await bounded(cosp.connect(srv.addresses[0],
                                         user_data=CP_ACSE))
        async with closing(raw):
            server_conn = await bounded(conn_queue.get())
            async with closing(server_conn):
                p_data = ber.encode_tlv(ber.Class.APPLICATION, 1, True,
                                        pdv(1, 1) + pdv(1, 2) + pdv(9, 3))
                raw.write(p_data)
                assert await bounded(server_conn.read()) == entity(
                    ACSE, '02 01 01')
                assert await bounded(server_conn.read()) == entity(
                    ACSE, '02 01 02')
                with pytest.raises(ConnectionError):
                    await bounded(server_conn.read())
                with pytest.raises(ConnectionError):
                    await bounded(raw.read())
                assert raw.abort_user_data is not None
    [record] = error_records(caplog)
    message = record.getMessage()
    assert 'unknown presentation context 9' in message
    assert p_data.hex(' ') in message
