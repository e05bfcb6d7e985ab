"""Tests of hat.drivers.cosp connections (ISO 8327-1 kernel and duplex on
COTP).

Our initiator against our responder (plain TCP and TLS), and each of them
against a raw peer: a `hat.drivers.cotp` connection sending hand-made
SPDUs (octets written from ISO 8327-1 clause 8, not by the codec) and
checking the octets it receives: version and functional unit negotiation,
SSELs, extended user data, refusal, release (FN/DN, both directions,
bounded wait), abort, and bad input (each exactly one ERROR record naming
cosp, the cause and the octets).

"""

import asyncio
import contextlib
import inspect
import logging
import ssl

import pytest

from hat import aio

from hat.drivers import cosp
from hat.drivers import cotp
from hat.drivers import tpkt

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = cosp.Address(localhost, 0)


def h(text):
    return bytes.fromhex(text)


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@contextlib.asynccontextmanager
async def cosp_server(validate_cb=lambda data: data, **kwargs):
    conn_queue = aio.Queue()
    srv = await cosp.listen(validate_cb, conn_queue.put_nowait, any_port,
                            **kwargs)
    try:
        yield srv, conn_queue
    finally:
        while not conn_queue.empty():
            conn_queue.get_nowait().async_group.close()
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def cosp_pair(server_kwargs=None, **connect_kwargs):
    async with cosp_server(**(server_kwargs or {})) as (srv, conn_queue):
        conn1 = await bounded(cosp.connect(srv.addresses[0],
                                           **connect_kwargs))
        try:
            conn2 = await bounded(conn_queue.get())
            try:
                yield conn1, conn2
            finally:
                conn2.async_group.close()
                await bounded(conn2.wait_closed())
        finally:
            conn1.async_group.close()
            await bounded(conn1.wait_closed())


@contextlib.asynccontextmanager
async def raw_client(srv):
    conn = await bounded(cotp.connect(srv.addresses[0]))
    try:
        yield conn
    finally:
        await bounded(conn.async_close())


@contextlib.asynccontextmanager
async def raw_server():
    conn_queue = aio.Queue()
    srv = await cotp.listen(conn_queue.put_nowait, any_port,
                            bind_connections=True)
    try:
        yield srv, conn_queue
    finally:
        await bounded(srv.async_close())


def spdu(si, body):
    return bytes((si, len(body))) + body


async def read_all(conn):
    """Data read from `conn` until it is closed, and the closing error (a
    peer's FN, DN or AB is processed by a read)"""
    received = []
    while True:
        try:
            received.append(await conn.read())
        except cosp.ConnectionClosedError as e:
            return received, e


CN_V2 = h('0d 0c 05 06 13 01 00 16 01 02 14 02 00 02')
AC_V2 = h('0e 0c 05 06 13 01 00 16 01 02 14 02 00 02')


# --- API -------------------------------------------------------------------

def test_api_names_and_signatures():
    for name in ('Data', 'Address', 'ConnectionInfo', 'ValidateResult',
                 'ValidateCb', 'ConnectionCb', 'connect', 'listen', 'Server',
                 'Connection', 'mlog'):
        assert hasattr(cosp, name)
    assert cosp.Address is cotp.Address is tpkt.Address
    assert cosp.ConnectionInfo._fields == (
        'local_addr', 'local_tsel', 'local_ssel', 'remote_addr',
        'remote_tsel', 'remote_ssel')
    assert cosp.ConnectionClosedError is cotp.ConnectionClosedError

    P = inspect.Parameter
    params = list(inspect.signature(cosp.connect).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params[:6]] == [
        ('addr', P.POSITIONAL_OR_KEYWORD, P.empty),
        *((name, P.POSITIONAL_OR_KEYWORD, None)
          for name in ('local_tsel', 'remote_tsel', 'local_ssel',
                       'remote_ssel', 'user_data'))]
    assert all(p.kind in (P.KEYWORD_ONLY, P.VAR_KEYWORD) for p in params[6:])

    params = list(inspect.signature(cosp.listen).parameters.values())
    assert [p.name for p in params[:3]] == ['validate_cb', 'connection_cb',
                                            'addr']
    assert params[2].default == cosp.Address('0.0.0.0', 102)
    assert all(p.kind in (P.KEYWORD_ONLY, P.VAR_KEYWORD) for p in params[3:])

    for method in ('close', 'async_close'):
        params = inspect.signature(
            getattr(cosp.Connection, method)).parameters
        assert list(params) == ['self', 'user_data']
        assert params['user_data'].default is None
    assert cosp.mlog.name == 'hat.drivers.cosp'


# --- our initiator and responder ------------------------------------------

async def test_connect_data_release():
    validated = []

    def validate(data):
        validated.append(data)
        return b'ac data'

    released = []

    def on_release(data):
        released.append(data)
        return b'dn data'

    async with cosp_pair(server_kwargs={'validate_cb': validate,
                                        'release_cb': on_release},
                         local_tsel=1, remote_tsel=2, local_ssel=3,
                         remote_ssel=b'\x00\x00\x00\x04',
                         user_data=b'cn data') as (conn1, conn2):
        assert validated == [b'cn data']
        assert conn1.conn_req_user_data == conn2.conn_req_user_data == (
            b'cn data')
        assert conn1.conn_res_user_data == conn2.conn_res_user_data == (
            b'ac data')
        assert conn1.info[1:3] == (1, 3)
        assert conn1.info[4:] == (2, b'\x00\x00\x00\x04')
        assert conn2.info[1:3] == (2, b'\x00\x00\x00\x04')
        assert conn2.info[4:] == (1, 3)
        assert isinstance(conn1.info.local_addr, cosp.Address)

        for data in (b'', b'x', bytes(5000), bytearray(b'ab')):
            conn1.write(data)
            await conn1.drain()
            assert await bounded(conn2.read()) == bytes(data)
            conn2.write(data)
            assert await bounded(conn1.read()) == bytes(data)

        conn1.write(b'last')
        reader = asyncio.create_task(read_all(conn2))
        assert await bounded(conn1.release(b'fn data')) == b'dn data'
        # data written before the FN is still read
        received, error = await bounded(reader)
        assert received == [b'last']
        assert 'released by the peer' in str(error)
        assert released == [b'fn data']
        assert conn2.release_user_data == b'fn data'
        await bounded(conn1.wait_closed())
        await bounded(conn2.wait_closed())
        with pytest.raises(ConnectionError):
            conn1.write(b'x')
        with pytest.raises(aio.QueueClosedError):
            await bounded(conn1.read())


async def test_close_with_user_data_releases():
    """close(user_data) sends FN and closes after the DN (0.6.23 closed
    the transport at once); without release_cb the DN has no user data"""
    async with cosp_pair() as (conn1, conn2):
        reader = asyncio.create_task(read_all(conn2))
        await bounded(conn1.async_close(b'rlrq'))
        assert conn1.is_closed
        received, error = await bounded(reader)
        assert received == []
        assert 'released' in str(error)
        assert conn2.release_user_data == b'rlrq'


@pytest.mark.timeout(20)
async def test_tls(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                            cafile=str(cert))
    async with cosp_pair(server_kwargs={'ssl': server_ctx},
                         ssl=client_ctx, server_hostname='localhost',
                         user_data=b'x') as (conn1, conn2):
        conn1.write(bytes(10000))
        reader = asyncio.create_task(read_all(conn2))
        assert await bounded(conn1.release()) is None
        received, _ = await bounded(reader)
        assert received == [bytes(10000)]


async def test_extended_user_data():
    """CN user data over 512 octets goes in PI 194 and reaches
    validate_cb (0.6.23 ignored PI 194)"""
    data = bytes(i % 251 for i in range(5000))
    async with cosp_pair(user_data=data) as (conn1, conn2):
        assert conn2.conn_req_user_data == data
        # validate_cb echoes it in the AC
        assert conn1.conn_res_user_data == data


async def test_refused_by_validate_cb(caplog):
    def refuse(data):
        raise cosp.RefuseError(b'cpr')

    async with cosp_server(refuse) as (srv, conn_queue):
        with pytest.raises(cosp.RefusedError) as e:
            await bounded(cosp.connect(srv.addresses[0]))
        assert e.value.reason == 2
        assert e.value.user_data == b'cpr'
        assert isinstance(e.value, ConnectionRefusedError)
        assert conn_queue.empty()
    assert not error_records(caplog)


async def test_validate_cb_failing_refuses(caplog):
    def fail(data):
        raise RuntimeError('validate failed')

    async with cosp_server(fail) as (srv, conn_queue):
        with pytest.raises(cosp.RefusedError) as e:
            await bounded(cosp.connect(srv.addresses[0]))
        assert e.value.reason == 0
    [record] = error_records(caplog)
    assert 'validate_cb' in record.getMessage()


async def test_abort():
    async with cosp_pair() as (conn1, conn2):
        conn1.abort(b'aru')
        with pytest.raises(cosp.ConnectionClosedError, match='aborted'):
            await bounded(conn2.read())
        assert conn2.abort_user_data == b'aru'
        with pytest.raises(cosp.ConnectionClosedError, match='aborted'):
            await bounded(conn1.read())


async def test_argument_errors():
    for kwargs, error in [({'local_ssel': -1}, ValueError),
                          ({'remote_ssel': '1'}, TypeError),
                          ({'user_data': 'x'}, TypeError),
                          ({'user_data': bytes(10241)}, ValueError),
                          ({'release_timeout': 0}, ValueError),
                          ({'receive_queue_size': 0}, ValueError),
                          ({'release_cb': 1}, TypeError)]:
        with pytest.raises(error):
            await cosp.connect(cosp.Address(localhost, 1), **kwargs)
    with pytest.raises(TypeError):
        await cosp.listen(None, lambda conn: None, any_port)

    async with cosp_pair() as (conn1, conn2):
        with pytest.raises(TypeError):
            conn1.write('x')
        with pytest.raises(TypeError):
            await conn1.release('x')


# --- raw initiator: negotiation, SSELs, release -----------------------------

@pytest.mark.parametrize('cn, ac_version', [
    # no version item: version 1
    (h('0d 04 14 02 00 02'), 0x01),
    (h('0d 0c 05 06 13 01 00 16 01 01 14 02 00 02'), 0x01),
    (h('0d 0c 05 06 13 01 00 16 01 03 14 02 00 02'), 0x02),
    (h('0d 0c 05 06 13 01 00 16 01 07 14 02 00 02'), 0x02),
])
async def test_version_negotiation(cn, ac_version):
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cn)
            ac = await bounded(raw.read())
            assert ac == h(f'0e 0c 05 06 13 01 00 16 01 {ac_version:02x} '
                           f'14 02 00 02')
            conn = await bounded(conn_queue.get())
            raw.write(h('01 00 01 00 61'))
            assert await bounded(conn.read()) == b'a'


@pytest.mark.parametrize('cn, rf', [
    # version 3 only: reason 132
    (h('0d 0c 05 06 13 01 00 16 01 04 14 02 00 02'),
     h('0c 06 11 01 01 32 01 84')),
    # no session user requirements (half-duplex default): reason 134
    (h('0d 08 05 06 13 01 00 16 01 02'), h('0c 06 11 01 01 32 01 86')),
    # half-duplex only
    (h('0d 0c 05 06 13 01 00 16 01 02 14 02 00 01'),
     h('0c 06 11 01 01 32 01 86')),
])
async def test_refused_negotiation(cn, rf, caplog):
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cn)
            assert await bounded(raw.read()) == rf
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
        assert conn_queue.empty()
    assert not error_records(caplog)


async def test_ssels_echoed_octet_for_octet():
    ssel1, ssel2 = h('01'), h('00 00 00 00 00 07')
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(CN_V2[:1] + bytes((CN_V2[1] + 11,)) + CN_V2[2:] +
                      h('33 01 01 34 06 00 00 00 00 00 07'))
            ac = await bounded(raw.read())
            assert ac == (h('0e 17') + AC_V2[2:] +
                          h('33 01 01 34 06 00 00 00 00 00 07'))
            conn = await bounded(conn_queue.get())
            assert conn.info.local_ssel == ssel2
            assert conn.info.remote_ssel == ssel1


async def test_peer_release_passes_user_data_up():
    """A FN's user data goes to release_cb, whose result is the DN's
    (0.6.23 dropped it and sent DN without user data)"""
    released = aio.Queue()

    async def on_release(data):
        released.put_nowait(data)
        return b'rlre'

    async with cosp_server(release_cb=on_release) as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(CN_V2)
            await bounded(raw.read())
            conn = await bounded(conn_queue.get())
            raw.write(h('01 00 01 00 61'))
            raw.write(h('09 06 11 01 01 c1 01 72'))
            reader = asyncio.create_task(read_all(conn))
            assert await bounded(raw.read()) == h('0a 06 c1 04') + b'rlre'
            assert await bounded(released.get()) == b'r'
            received, _ = await bounded(reader)
            assert received == [b'a']
            await bounded(conn.wait_closed())


async def test_release_cb_set_per_connection():
    """`Connection.release_cb` set on an accepted connection (before its
    first read) answers the peer's FN, replacing the server's; the
    initiator's release returns the DN's user data it gives"""
    released = []

    def server_release_cb(data):
        released.append(('server', data))
        return b'server'

    def conn_release_cb(data):
        released.append(('conn', data))
        return b'conn'

    async with cosp_pair({'release_cb': server_release_cb}) as (conn1,
                                                                 conn2):
        assert conn2.release_cb is server_release_cb
        with pytest.raises(TypeError):
            conn2.release_cb = 1
        assert conn2.release_cb is server_release_cb
        conn2.release_cb = conn_release_cb
        assert conn2.release_cb is conn_release_cb
        reader = asyncio.create_task(read_all(conn2))
        assert await bounded(conn1.release(b'fn')) == b'conn'
        assert released == [('conn', b'fn')]
        received, _ = await bounded(reader)
        assert received == []
        await bounded(conn2.wait_closed())


# --- raw responder: what our initiator sends, release timing -------------

async def accept_raw(conn_queue, ac=AC_V2):
    raw = await bounded(conn_queue.get())
    cn = await bounded(raw.read())
    raw.write(ac)
    return raw, cn


async def test_initiator_cn_octets():
    async with raw_server() as (srv, conn_queue):
        task = asyncio.create_task(cosp.connect(srv.addresses[0],
                                                local_ssel=1,
                                                remote_ssel=b'\x02',
                                                user_data=b'u'))
        try:
            raw, cn = await accept_raw(conn_queue)
            assert cn == h('0d 16 05 06 13 01 00 16 01 02 14 02 00 02 '
                           '33 02 00 01 34 01 02 c1 01 75')
            conn = await bounded(task)
            conn.write(b'abc')
            assert await bounded(raw.read()) == h('01 00 01 00') + b'abc'
            conn.async_group.close()
        finally:
            task.cancel()


async def test_close_waits_for_dn():
    async with raw_server() as (srv, conn_queue):
        conn_task = asyncio.create_task(cosp.connect(srv.addresses[0]))
        try:
            raw, _ = await accept_raw(conn_queue)
            conn = await bounded(conn_task)
            close_task = asyncio.create_task(conn.async_close(b'x'))
            assert await bounded(raw.read()) == h('09 06 11 01 01 c1 01 78')
            # the transport stays open until the DN: data still arrives
            assert conn.is_open and not close_task.done()
            raw.write(h('01 00 01 00 62'))
            raw.write(h('0a 00'))
            await bounded(close_task)
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
            assert await bounded(conn.read()) == b'b'
        finally:
            conn_task.cancel()


async def test_release_timeout():
    async with raw_server() as (srv, conn_queue):
        conn_task = asyncio.create_task(cosp.connect(srv.addresses[0],
                                                     release_timeout=0.2))
        try:
            raw, _ = await accept_raw(conn_queue)
            conn = await bounded(conn_task)
            with pytest.raises(cosp.ReleaseTimeoutError):
                await bounded(conn.release())
            assert conn.is_closing
            await bounded(conn.wait_closed())
        finally:
            conn_task.cancel()


@pytest.mark.parametrize('answer, error, match', [
    (h('0c 03 32 01 84'), cosp.RefusedError, 'VERSIONS_NOT_SUPPORTED'),
    (h('19 03 11 01 03'), ConnectionAbortedError, 'aborted'),
    (h('0e 0c 05 06 13 01 00 16 01 01 14 02 00 02'), ConnectionError,
     'version'),
    (h('0e 0c 05 06 13 01 00 16 01 02 14 02 00 01'), ConnectionError,
     'requirements'),
    (h('0e 0f 05 06 13 01 00 16 01 02 14 02 00 02 33 01 09'),
     ConnectionError, 'calling SSEL'),
    (h('01 00 01 00'), ConnectionError, 'DT SPDU received instead of AC'),
    (h('63 00'), ConnectionError, 'unknown SPDU'),
])
async def test_bad_answer_to_cn(answer, error, match, caplog):
    async with raw_server() as (srv, conn_queue):
        task = asyncio.create_task(cosp.connect(srv.addresses[0],
                                                local_ssel=1))
        try:
            raw, _ = await accept_raw(conn_queue, answer)
            with pytest.raises(error, match=match):
                await bounded(task)
        finally:
            task.cancel()
    records = error_records(caplog)
    if error is ConnectionError:
        [record] = records
        assert 'cosp' in record.getMessage()
        assert answer.hex(' ') in record.getMessage()
    else:
        assert records == []


# --- bad input --------------------------------------------------------------

@pytest.mark.parametrize('bad, cause', [
    (h('63 00'), 'unknown SPDU identifier 99'),
    (h('08 00'), 'NF SPDU'),
    (h('01 00 01 03 19 01 01'), 'segmenting'),
    (h('0e 00'), 'unexpected AC SPDU'),
    (h('0a 00'), 'unexpected DN SPDU'),
    (h('0a 05 c1 09'), 'runs past'),
])
async def test_bad_spdu_on_established_connection(bad, cause, caplog):
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(CN_V2)
            await bounded(raw.read())
            conn = await bounded(conn_queue.get())
            raw.write(h('01 00 01 00 61'))
            raw.write(bad)
            assert await bounded(conn.read()) == b'a'
            with pytest.raises(cosp.ConnectionClosedError,
                               match='protocol error'):
                await bounded(conn.read())
            # AB: transport released, protocol error
            assert await bounded(raw.read()) == h('19 03 11 01 05')
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
            with pytest.raises(ConnectionError):
                conn.write(b'x')
            conn.close()

    [record] = error_records(caplog)
    message = record.getMessage()
    assert record.name.startswith('hat.drivers.cosp')
    assert 'cosp' in message
    assert cause in message
    assert bad.hex(' ') in message


@pytest.mark.parametrize('bad, cause', [
    (h('01 00 01 00 61'), 'DT SPDU received instead of CN'),
    (h('0d 02 c1 05'), 'runs past'),
])
async def test_bad_first_spdu(bad, cause, caplog):
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(bad)
            assert await bounded(raw.read()) == h('19 03 11 01 05')
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
        assert conn_queue.empty()
    [record] = error_records(caplog)
    assert 'cosp' in record.getMessage()
    assert cause in record.getMessage()


async def test_spdus_are_read_on_demand():
    """Nothing is read from the transport until the user reads (so TCP
    flow control holds the peer back): an SPDU behind two DTs is only
    processed by the third read"""
    async with cosp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(CN_V2)
            await bounded(raw.read())
            conn = await bounded(conn_queue.get())
            raw.write(h('01 00 01 00 61'))
            raw.write(h('01 00 01 00 62'))
            # an unknown SPDU: AB once it is read
            raw.write(h('63 00'))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(raw.read(), 0.3)
            assert conn.is_open
            assert await bounded(conn.read()) == b'a'
            assert await bounded(conn.read()) == b'b'
            with pytest.raises(cosp.ConnectionClosedError):
                await bounded(conn.read())
            assert await bounded(raw.read()) == h('19 03 11 01 05')


async def test_release_keeps_data_for_read():
    """DT user data a release receives before the DN stays readable (up
    to receive_queue_size TSDUs)"""
    async with raw_server() as (srv, conn_queue):
        conn_task = asyncio.create_task(cosp.connect(srv.addresses[0]))
        try:
            raw, _ = await accept_raw(conn_queue)
            conn = await bounded(conn_task)
            release = asyncio.create_task(conn.release())
            assert await bounded(raw.read()) == h('09 03 11 01 01')
            raw.write(h('01 00 01 00 61'))
            raw.write(h('01 00 01 00 62'))
            raw.write(h('0a 00'))
            assert await bounded(release) is None
            assert await bounded(conn.read()) == b'a'
            assert await bounded(conn.read()) == b'b'
            with pytest.raises(cosp.ConnectionClosedError):
                await bounded(conn.read())
        finally:
            conn_task.cancel()


async def test_release_discards_unread_data_beyond_receive_queue_size(
        caplog):
    """Nobody reading: the release reads on to the DN, keeps
    receive_queue_size TSDUs for read, discards the rest (one WARNING) and
    returns at once, however much data came before the DN"""
    async with raw_server() as (srv, conn_queue):
        conn_task = asyncio.create_task(cosp.connect(
            srv.addresses[0], receive_queue_size=2, release_timeout=20))
        try:
            raw, _ = await accept_raw(conn_queue)
            conn = await bounded(conn_task)
            release = asyncio.create_task(conn.release())
            assert await bounded(raw.read()) == h('09 03 11 01 01')
            for value in b'abcde':
                raw.write(h('01 00 01 00') + bytes([value]))
            raw.write(h('0a 00'))
            # well within release_timeout
            assert await bounded(release, timeout=5) is None
            assert await bounded(conn.read()) == b'a'
            assert await bounded(conn.read()) == b'b'
            with pytest.raises(cosp.ConnectionClosedError):
                await bounded(conn.read())
        finally:
            conn_task.cancel()
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.levelno == logging.WARNING
    assert '3 DT SPDUs (3 octets' in record.getMessage()


async def test_release_delivers_data_to_a_reader():
    """A reader reading during the release gets every DT before the DN, in
    order, whatever receive_queue_size (nothing is discarded)"""
    count = 200
    async with raw_server() as (srv, conn_queue):
        conn_task = asyncio.create_task(cosp.connect(
            srv.addresses[0], receive_queue_size=1))
        try:
            raw, _ = await accept_raw(conn_queue)
            conn = await bounded(conn_task)
            reader = asyncio.create_task(read_all(conn))
            release = asyncio.create_task(conn.release())
            assert await bounded(raw.read()) == h('09 03 11 01 01')
            for i in range(count):
                raw.write(h('01 00 01 00') + i.to_bytes(2, 'big'))
            raw.write(h('0a 00'))
            assert await bounded(release) is None
            received, error = await bounded(reader)
            assert received == [i.to_bytes(2, 'big') for i in range(count)]
            assert 'released' in str(error)
        finally:
            conn_task.cancel()


async def test_release_collision():
    """Both sides send FN: each answers the other's with DN and closes"""
    async with cosp_pair() as (conn1, conn2):
        task1 = asyncio.create_task(conn1.release(b'1'))
        task2 = asyncio.create_task(conn2.release(b'2'))
        results = await bounded(asyncio.gather(task1, task2,
                                               return_exceptions=True))
        for result in results:
            assert result is None or isinstance(result, (bytes,
                                                         ConnectionError))
        await bounded(conn1.wait_closed())
        await bounded(conn2.wait_closed())


async def test_async_with_releases():
    async with cosp_server() as (srv, conn_queue):
        async with await cosp.connect(srv.addresses[0]) as conn1:
            conn2 = await bounded(conn_queue.get())
            reader = asyncio.create_task(read_all(conn2))
        assert conn1.is_closed
        _, error = await bounded(reader)
        assert 'released' in str(error)
