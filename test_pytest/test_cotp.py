"""Tests of hat.drivers.cotp connections (ISO 8073 class 0 on TPKT).

Our initiator against our responder (plain TCP and TLS), and each of them
against a raw peer: a `hat.drivers.tpkt` connection sending hand-made
TPDUs (octets written from ISO 8073 clause 13, not by the codec) and
checking the octets it receives: class and TPDU size negotiation, TSELs,
segmentation and reassembly, DR/ER, and bad input (each exactly one ERROR
record naming cotp, the cause and the octets).

"""

import asyncio
import contextlib
import inspect
import logging
import ssl

import pytest

from hat import aio

from hat.drivers import cotp
from hat.drivers import tcp
from hat.drivers import tpkt

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

localhost = '127.0.0.1'
any_port = cotp.Address(localhost, 0)


def h(text):
    return bytes.fromhex(text)


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


@contextlib.asynccontextmanager
async def cotp_pair(server_kwargs={}, client_kwargs={}, **connect_kwargs):
    """Connected (client, server side) cotp connections"""
    conn_queue = aio.Queue()
    srv = await cotp.listen(conn_queue.put_nowait, any_port, **server_kwargs)
    conn1 = conn2 = None
    try:
        conn1 = await bounded(cotp.connect(srv.addresses[0],
                                           **connect_kwargs, **client_kwargs))
        conn2 = await bounded(conn_queue.get())
        yield conn1, conn2

    finally:
        for conn in (conn1, conn2):
            if conn is not None:
                await bounded(conn.async_close())
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def raw_client(srv):
    """A tpkt connection to `srv` (to send hand-made TPDUs)"""
    conn = await bounded(tpkt.connect(srv.addresses[0]))
    try:
        yield conn
    finally:
        await bounded(conn.async_close())


@contextlib.asynccontextmanager
async def cotp_server(**kwargs):
    """cotp server and a queue of its connections"""
    conn_queue = aio.Queue()
    srv = await cotp.listen(conn_queue.put_nowait, any_port, **kwargs)
    try:
        yield srv, conn_queue
    finally:
        while not conn_queue.empty():
            await bounded(conn_queue.get_nowait().async_close())
        await bounded(srv.async_close())


@contextlib.asynccontextmanager
async def raw_server():
    """tpkt server and a queue of its connections (a raw responder)"""
    conn_queue = aio.Queue()
    srv = await tpkt.listen(conn_queue.put_nowait, tpkt.Address(localhost, 0),
                            bind_connections=True)
    try:
        yield srv, conn_queue
    finally:
        await bounded(srv.async_close())


def cr(src='00 01', cls='00', params=''):
    body = h(f'e0 00 00 {src} {cls} {params}')
    return bytes((len(body),)) + body


# --- API -------------------------------------------------------------------

def test_api_names_and_signatures():
    """0.6.23's names and signatures; Address is tpkt.Address"""
    for name in ('Address', 'ConnectionInfo', 'ConnectionCb', 'connect',
                 'listen', 'Server', 'Connection', 'mlog'):
        assert hasattr(cotp, name)
    assert cotp.Address is tpkt.Address
    assert cotp.Address('h') == ('h', 102)
    assert cotp.ConnectionInfo._fields == ('local_addr', 'local_tsel',
                                           'remote_addr', 'remote_tsel')

    P = inspect.Parameter
    params = list(inspect.signature(cotp.connect).parameters.values())
    assert [(p.name, p.kind, p.default) for p in params[:3]] == [
        ('addr', P.POSITIONAL_OR_KEYWORD, P.empty),
        ('local_tsel', P.POSITIONAL_OR_KEYWORD, None),
        ('remote_tsel', P.POSITIONAL_OR_KEYWORD, None)]
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params[3:])

    params = list(inspect.signature(cotp.listen).parameters.values())
    assert [(p.name, p.kind) for p in params[:2]] == [
        ('connection_cb', params[0].POSITIONAL_OR_KEYWORD),
        ('addr', params[0].POSITIONAL_OR_KEYWORD)]
    assert params[1].default == cotp.Address('0.0.0.0', 102)
    assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params[2:])

    assert issubclass(cotp.ConnectionClosedError, ConnectionError)
    assert issubclass(cotp.ConnectionClosedError, aio.QueueClosedError)
    assert cotp.mlog.name == 'hat.drivers.cotp'


# --- our initiator and responder ------------------------------------------

async def test_connect_write_read_close():
    async with cotp_pair(local_tsel=1, remote_tsel=2) as (conn1, conn2):
        assert isinstance(conn1.info.local_addr, cotp.Address)
        assert conn1.info.local_addr == conn2.info.remote_addr
        assert conn1.info.remote_addr == conn2.info.local_addr
        assert (conn1.info.local_tsel, conn1.info.remote_tsel) == (1, 2)
        assert (conn2.info.local_tsel, conn2.info.remote_tsel) == (2, 1)
        assert conn1.tpdu_size == conn2.tpdu_size == 2048

        for data in (b'', b'x', bytes(range(256)) * 40, bytearray(b'ab'),
                     memoryview(b'abcdef')[::2]):
            conn1.write(data)
            await conn1.drain()
            assert await bounded(conn2.read()) == bytes(data)
            conn2.write(data)
            assert await bounded(conn1.read()) == bytes(data)

        await conn1.async_close()
        with pytest.raises(cotp.ConnectionClosedError):
            await bounded(conn2.read())
        await bounded(conn2.wait_closed())


@pytest.mark.timeout(20)
async def test_tls(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                            cafile=str(cert))
    async with cotp_pair(server_kwargs={'ssl': server_ctx},
                         client_kwargs={'ssl': client_ctx,
                                        'server_hostname': 'localhost'},
                         remote_tsel=b'\x01\x02\x03') as (conn1, conn2):
        assert conn2.info.local_tsel == b'\x01\x02\x03'
        data = bytes(i % 251 for i in range(10000))
        conn1.write(data)
        assert await bounded(conn2.read()) == data
        conn2.write(b'back')
        assert await bounded(conn1.read()) == b'back'

        # a protocol error holds on TLS too
        conn2.close()
        with pytest.raises(cotp.ConnectionClosedError):
            await bounded(conn1.read())


async def test_tsels_of_any_length_are_preserved():
    """TSELs reach the responder and come back in the CC octet for octet"""
    for local, remote, expected_local, expected_remote in [
            (None, None, None, None),
            (1, 0xFFFF, 1, 0xFFFF),
            (b'\x05', b'\x00\x00\x00\x01', b'\x05', b'\x00\x00\x00\x01'),
            (b'', b'\x00\x07', b'', 7),
            (bytes(range(40)), None, bytes(range(40)), None)]:
        async with cotp_pair(local_tsel=local,
                             remote_tsel=remote) as (conn1, conn2):
            assert conn2.info.remote_tsel == expected_local
            assert conn2.info.local_tsel == expected_remote
            assert conn1.info.local_tsel == local
            assert conn1.info.remote_tsel == remote


async def test_connect_argument_errors():
    for kwargs, error in [({'local_tsel': -1}, ValueError),
                          ({'remote_tsel': 0x10000}, ValueError),
                          ({'local_tsel': '1'}, TypeError),
                          ({'local_tsel': bytes(200),
                            'remote_tsel': bytes(200)}, ValueError),
                          ({'max_tpdu_size': 4096}, ValueError),
                          ({'max_tpdu_size': 1000}, ValueError),
                          ({'max_tsdu_size': 0}, ValueError),
                          ({'connect_timeout': 0}, ValueError),
                          ({'connect_timeout': 'x'}, TypeError)]:
        with pytest.raises(error):
            # port 1: nothing listens there, the check comes first
            await cotp.connect(cotp.Address(localhost, 1), **kwargs)

    with pytest.raises(TypeError):
        await cotp.listen(None, any_port)
    with pytest.raises(ValueError):
        await cotp.listen(lambda conn: None, any_port, max_tpdu_size=8192)


async def test_write_and_read_after_close():
    """write after close raises ConnectionError (0.6.23 dropped the data),
    read raises ConnectionClosedError (ConnectionError and
    QueueClosedError); close never raises"""
    async with cotp_pair() as (conn1, conn2):
        conn1.close()
        conn1.close()
        with pytest.raises(ConnectionError):
            conn1.write(b'x')
        with pytest.raises(aio.QueueClosedError):
            await bounded(conn1.read())
        with pytest.raises(ConnectionError):
            await bounded(conn1.read())
        with pytest.raises(ConnectionError):
            await conn1.drain()
        with pytest.raises(cotp.ConnectionClosedError):
            await bounded(conn2.read())
        with pytest.raises(ConnectionError):
            conn2.write(b'x')
        with pytest.raises(TypeError):
            conn2.write('x')


async def test_data_before_close_is_delivered():
    async with cotp_pair() as (conn1, conn2):
        for i in range(5):
            conn1.write(bytes([i]) * 3000)
        conn1.close()
        for i in range(5):
            assert await bounded(conn2.read()) == bytes([i]) * 3000
        with pytest.raises(cotp.ConnectionClosedError):
            await bounded(conn2.read())


async def test_cancelled_read_loses_nothing():
    async with cotp_pair(server_kwargs={'max_tpdu_size': 128}) as (conn1,
                                                                   conn2):
        task = asyncio.create_task(conn2.read())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        conn1.write(b'a' * 1000)
        assert await bounded(conn2.read()) == b'a' * 1000


async def test_server_close_leaves_connections_open():
    async with cotp_server() as (srv, conn_queue):
        conn1 = await bounded(cotp.connect(srv.addresses[0]))
        conn2 = await bounded(conn_queue.get())
        await srv.async_close()
        conn1.write(b'still')
        assert await bounded(conn2.read()) == b'still'
        await conn1.async_close()
        await conn2.async_close()


async def test_connection_cb_raising_closes_connection(caplog):
    def on_connection(conn):
        raise RuntimeError('callback failed')

    srv = await cotp.listen(on_connection, any_port)
    try:
        conn = await bounded(cotp.connect(srv.addresses[0]))
        with pytest.raises(cotp.ConnectionClosedError):
            await bounded(conn.read())
        await conn.async_close()
    finally:
        await srv.async_close()


# --- class negotiation (raw initiator) -------------------------------------

@pytest.mark.parametrize('cls, params', [
    ('00', ''),
    # preferred class 1: class 0 is a valid answer
    ('10', ''),
    # preferred class 2/3/4 with alternative class 0
    ('20', 'c7 01 00'),
    ('30', 'c7 01 00'),
    ('42', 'c7 02 20 00'),
    # alternative class 1 also allows class 0
    ('40', 'c7 01 10'),
])
async def test_class_negotiation_accepts_class_0(cls, params):
    async with cotp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cr('12 34', cls, params))
            cc = await bounded(raw.read())
            # CC: LI, code D0, DST-REF = our SRC-REF, SRC-REF, class 0
            assert cc[1] == 0xD0
            assert cc[2:4] == h('12 34')
            assert cc[6] == 0x00
            conn = await bounded(conn_queue.get())
            raw.write(h('02 f0 80 61 62'))
            assert await bounded(conn.read()) == b'ab'


@pytest.mark.parametrize('cls, params', [
    ('20', ''),
    ('40', ''),
    ('30', 'c7 01 20'),
    ('40', 'c7 02 20 30'),
])
async def test_class_negotiation_refuses_with_dr(cls, params, caplog):
    async with cotp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cr('12 34', cls, params))
            # DR: DST-REF = our SRC-REF, reason 0x82 negotiation failed
            assert await bounded(raw.read()) == h('06 80 12 34 00 00 82')
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
        assert conn_queue.empty()
    assert not error_records(caplog)


# --- TPDU size negotiation --------------------------------------------------

@pytest.mark.parametrize('params, listen_max, cc_size, size', [
    # no TPDU size: 128 applies, the CC does not name one either
    ('', 2048, None, 128),
    ('c0 01 0b', 2048, 0x0b, 2048),
    ('c0 01 09', 2048, 0x09, 512),
    # above the class 0 maximum: capped at 2048 (0.6.23 used 8192)
    ('c0 01 0d', 2048, 0x0b, 2048),
    ('c0 01 0c', 2048, 0x0b, 2048),
    # the responder's own maximum
    ('c0 01 0b', 256, 0x08, 256),
    # F0 (preferred maximum TPDU size) is not used by class 0
    ('f0 01 10', 2048, None, 128),
])
async def test_responder_tpdu_size(params, listen_max, cc_size, size):
    async with cotp_server(max_tpdu_size=listen_max) as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cr('00 01', '00', params))
            cc = await bounded(raw.read())
            if cc_size is None:
                assert cc == h('06 d0 00 01') + cc[4:6] + h('00')
            else:
                assert cc == (h('09 d0 00 01') + cc[4:6] +
                              h(f'00 c0 01 {cc_size:02x}'))
            conn = await bounded(conn_queue.get())
            assert conn.tpdu_size == size

            # segmentation at (TPDU size - 3) octets of data
            data = bytes(i % 256 for i in range(size * 2 + 10))
            conn.write(data)
            received = []
            while True:
                dt = await bounded(raw.read())
                assert len(dt) <= size
                received.append(dt)
                if dt[2] == 0x80:
                    break
            assert [dt[:3] for dt in received] == (
                [h('02 f0 00')] * (len(received) - 1) + [h('02 f0 80')])
            assert all(len(dt) == size for dt in received[:-1])
            assert b''.join(dt[3:] for dt in received) == data


async def test_initiator_tpdu_size_from_cc():
    """A CC without TPDU size means 128 (0.6.23 kept its own 2048)"""
    async with raw_server() as (srv, conn_queue):
        task = asyncio.create_task(cotp.connect(srv.addresses[0],
                                                max_tpdu_size=1024))
        try:
            raw = await bounded(conn_queue.get())
            request = await bounded(raw.read())
            # CR: class 0, TPDU size 1024, no TSELs
            assert request == h('09 e0 00 00') + request[4:6] + h(
                '00 c0 01 0a')
            raw.write(h('06 d0') + request[4:6] + h('00 09 00'))
            conn = await bounded(task)
            assert conn.tpdu_size == 128
            conn.write(bytes(300))
            dts = [await bounded(raw.read()) for _ in range(3)]
            assert [len(dt) for dt in dts] == [128, 128, 53]
            await conn.async_close()
        finally:
            task.cancel()


async def test_reassembly_and_interleaved_reads():
    async with cotp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cr(params='c0 01 0b'))
            await bounded(raw.read())
            conn = await bounded(conn_queue.get())
            raw.write(h('02 f0 00 01 02'))
            raw.write(h('02 f0 00'))
            raw.write(h('02 f0 80 03'))
            raw.write(h('02 f0 80 04'))
            assert await bounded(conn.read()) == h('01 02 03')
            assert await bounded(conn.read()) == h('04')


async def test_max_tsdu_size(caplog):
    async with cotp_server(max_tsdu_size=5000) as (srv, conn_queue):
        async with raw_client(srv) as raw:
            raw.write(cr(params='c0 01 0b'))
            await bounded(raw.read())
            conn = await bounded(conn_queue.get())
            raw.write(h('02 f0 00') + bytes(2045))
            raw.write(h('02 f0 00') + bytes(2045))
            raw.write(h('02 f0 80') + bytes(910))
            assert await bounded(conn.read()) == bytes(5000)
            raw.write(h('02 f0 00') + bytes(2045))
            raw.write(h('02 f0 00') + bytes(2045))
            raw.write(h('02 f0 80') + bytes(2045))
            with pytest.raises(cotp.ConnectionClosedError,
                               match='max_tsdu_size'):
                await bounded(conn.read())
            # an ER follows, then the connection is closed
            er = await bounded(raw.read())
            assert er[1] == 0x70
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
    [record] = error_records(caplog)
    assert 'cotp' in record.getMessage()
    assert 'max_tsdu_size' in record.getMessage()


# --- DR, ER and bad input ---------------------------------------------------

async def established_raw_client(srv, conn_queue, raw):
    raw.write(cr(params='c0 01 08'))
    await bounded(raw.read())
    return await bounded(conn_queue.get())


@pytest.mark.parametrize('tpdu, reason', [
    ('06 80 00 01 00 02 80', 'DR TPDU received (reason 0x80 NORMAL)'),
    ('06 80 00 01 00 02 85', 'reason 0x85 PROTOCOL_ERROR'),
    ('08 70 00 01 03 c1 02 aa bb',
     'ER TPDU received (cause 3 INVALID_PARAMETER_VALUE, invalid TPDU aa bb)'),
])
async def test_dr_er_close_with_reason(tpdu, reason, caplog):
    async with cotp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            conn = await established_raw_client(srv, conn_queue, raw)
            raw.write(h('02 f0 80 01'))
            raw.write(h(tpdu))
            assert await bounded(conn.read()) == h('01')
            with pytest.raises(cotp.ConnectionClosedError) as e:
                await bounded(conn.read())
            assert reason in str(e.value)
            await bounded(conn.wait_closed())
            with pytest.raises(ConnectionError):
                conn.write(b'x')
    assert not error_records(caplog)


@pytest.mark.parametrize('tpdu, cause', [
    ('02 60 80', 'AK TPDU (code 0x60) is not used in class 0'),
    ('02 00 80', 'unknown TPDU code 0x00'),
    ('03 f0 80 00', 'DT TPDU with LI 3'),
    ('06 e0 00 00 00 01 00', 'unexpected CR TPDU'),
    ('06 d0 00 01 00 01 00', 'unexpected CC TPDU'),
    # TPDU size 256: a DT of 257 octets
    ('02 f0 80' + ' 00' * 254, 'larger than the TPDU size 256'),
])
async def test_bad_tpdu_on_established_connection(tpdu, cause, caplog):
    async with cotp_server() as (srv, conn_queue):
        async with raw_client(srv) as raw:
            conn = await established_raw_client(srv, conn_queue, raw)
            raw.write(h('02 f0 80 01'))
            raw.write(h(tpdu))
            assert await bounded(conn.read()) == h('01')
            with pytest.raises(cotp.ConnectionClosedError,
                               match='protocol error'):
                await bounded(conn.read())
            # an ER TPDU carrying the start of the bad TPDU, then close
            er = await bounded(raw.read())
            assert er[1] == 0x70
            assert er[5:] == h('c1 02') + h(tpdu)[:2]
            with pytest.raises(ConnectionError):
                await bounded(raw.read())

            # every later call raises
            with pytest.raises(cotp.ConnectionClosedError):
                await bounded(conn.read())
            with pytest.raises(ConnectionError):
                conn.write(b'x')

    [record] = error_records(caplog)
    message = record.getMessage()
    assert record.name.startswith('hat.drivers.cotp')
    assert 'cotp' in message
    assert cause in message
    assert h(tpdu)[:16].hex(' ') in message


@pytest.mark.parametrize('tpdu, cause', [
    ('02 f0 80 01', 'DT TPDU received instead of CR'),
    ('05 e0 00 00 00 01', 'fixed part'),
    ('09 e0 00 00 00 01 00 c0 01 0f', 'TPDU size'),
])
async def test_bad_first_tpdu(tpdu, cause, caplog):
    connection_cb_called = []
    srv = await cotp.listen(connection_cb_called.append, any_port)
    try:
        async with raw_client(srv) as raw:
            raw.write(h(tpdu))
            er = await bounded(raw.read())
            assert er[1] == 0x70
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
    finally:
        await srv.async_close()
    assert connection_cb_called == []
    [record] = error_records(caplog)
    assert 'cotp' in record.getMessage()
    assert cause in record.getMessage()
    assert h(tpdu).hex(' ') in record.getMessage()


@pytest.mark.parametrize('answer, error, match', [
    # DR: refused
    (lambda ref: h('06 80') + ref + h('00 00 82'), ConnectionRefusedError,
     'NEGOTIATION_FAILED'),
    (lambda ref: h('04 70') + ref + h('02'), ConnectionError, 'ER cause 2'),
    # wrong DST-REF
    (lambda ref: h('06 d0 ff ff 00 09 00'), ConnectionError, 'DST-REF'),
    # class 2 selected
    (lambda ref: h('06 d0') + ref + h('00 09 20'), ConnectionError,
     'class 2'),
    # TPDU size above the proposal
    (lambda ref: h('09 d0') + ref + h('00 09 00 c0 01 0b'), ConnectionError,
     'TPDU size 2048'),
    # different TSEL in the CC
    (lambda ref: h('0a d0') + ref + h('00 09 00 c1 02 00 02'),
     ConnectionError, 'calling TSEL'),
    (lambda ref: h('02 f0 80 01'), ConnectionError, 'DT TPDU received'),
    (lambda ref: h('03 a0 00 00'), ConnectionError, 'unknown TPDU code'),
])
async def test_bad_answer_to_cr(answer, error, match, caplog):
    async with raw_server() as (srv, conn_queue):
        task = asyncio.create_task(cotp.connect(srv.addresses[0],
                                                local_tsel=1,
                                                max_tpdu_size=1024))
        try:
            raw = await bounded(conn_queue.get())
            request = await bounded(raw.read())
            raw.write(answer(request[4:6]))
            with pytest.raises(error, match=match):
                await bounded(task)
        finally:
            task.cancel()
    records = error_records(caplog)
    if error is ConnectionRefusedError or 'ER' in match:
        assert records == []
    else:
        [record] = records
        assert 'cotp' in record.getMessage()


async def test_connect_timeout():
    async with raw_server() as (srv, conn_queue):
        with pytest.raises(tcp.ConnectTimeoutError, match='CR'):
            await bounded(cotp.connect(srv.addresses[0],
                                       connect_timeout=0.2))


async def test_listen_connect_timeout(caplog):
    srv = await cotp.listen(lambda conn: None, any_port,
                            connect_timeout=0.2)
    try:
        async with raw_client(srv) as raw:
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
    finally:
        await srv.async_close()
    assert not error_records(caplog)
