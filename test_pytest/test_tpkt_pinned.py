"""Behaviours of `hat.drivers.tpkt` that mutation testing found unpinned
(issue 12): what a protocol error logs and raises, and the messages of
rejected writes. Runs on asyncio and on uvloop (``--uvloop``).

"""

import asyncio
import contextlib
import logging
import socket
import struct

import pytest

from hat import aio
from hat.drivers import tcp
from hat.drivers import tpkt

from chaos import bounded


pytestmark = pytest.mark.timeout(30)


def _describe(conn, name=None):
    local, remote = conn.info
    prefix = f'{name} ' if name else ''
    return (f'{prefix}{local.host}:{local.port} -> '
            f'{remote.host}:{remote.port}')


@contextlib.asynccontextmanager
async def _raw_to_tpkt(**kwargs):
    """(raw tcp client connection, TPKT server side connection)"""
    conns = aio.Queue()
    srv = await tpkt.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                            **kwargs)
    raw = conn = None
    try:
        raw = await bounded(tcp.connect(srv.addresses[0]))
        conn = await bounded(conns.get())
        yield raw, conn

    finally:
        for c in (raw, conn, srv):
            if c is not None:
                await bounded(c.async_close())


@pytest.mark.parametrize('name', [None, 'rtu1'])
async def test_protocol_error_logged_once_with_meta(caplog, name):
    """A protocol error is one ERROR record of ``hat.drivers.tpkt``:
    "<name> <local> -> <remote>: <what>; closing connection", with
    ``meta`` type TpktConnection, the name and both addresses; every read
    raises ConnectionError with the same text from then on."""
    caplog.set_level(logging.DEBUG, logger='hat.drivers.tpkt')
    kwargs = {'name': name} if name else {}
    async with _raw_to_tpkt(**kwargs) as (raw, conn):
        raw.write(bytes([4, 0, 0, 7]) + b'abc')
        with pytest.raises(ConnectionError) as first:
            await bounded(conn.read())
        with pytest.raises(ConnectionError) as second:
            await bounded(conn.read())

        prefix = _describe(conn, name)
        error = str(first.value)
        assert error.startswith(prefix + ': invalid TPKT version 4'), error
        assert str(second.value) == error

        records = [r for r in caplog.records
                   if r.name == 'hat.drivers.tpkt' and
                   r.levelno >= logging.WARNING]
        assert len(records) == 1, [r.getMessage() for r in records]
        record = records[0]
        assert record.levelno == logging.ERROR
        assert record.getMessage() == f'{error}; closing connection'
        assert record.meta == {'type': 'TpktConnection',
                               'name': name,
                               'local_addr': conn.info.local_addr,
                               'remote_addr': conn.info.remote_addr}


@pytest.mark.parametrize('data', ['abc', 123, None, [1, 2, 3]])
async def test_write_rejects_non_bytes_naming_type(data):
    async with _raw_to_tpkt() as (raw, conn):
        with pytest.raises(TypeError) as e:
            conn.write(data)
        assert 'data must be bytes' in str(e.value)
        assert type(data).__name__ in str(e.value)


async def test_local_close_mid_packet_error_text(caplog):
    """A read cut short by this side's own close says where the packet
    was cut, and logs it at DEBUG only."""
    caplog.set_level(logging.DEBUG, logger='hat.drivers.tpkt')
    async with _raw_to_tpkt() as (raw, conn):
        read = asyncio.ensure_future(conn.read())
        raw.write(bytes([3, 0, 0, 104]) + b'abc')
        await bounded(raw.drain())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while conn._conn.bytes_received < 7:  # noqa: ASYNC110
            assert loop.time() < deadline, 'packet start not received'
            await asyncio.sleep(0.001)
        conn.close()
        with pytest.raises(ConnectionError) as e:
            await bounded(read)
        expected = (f'{_describe(conn)}: connection closed in the middle '
                    f'of a TPKT packet of length 104')
        assert str(e.value) == expected
        records = [r for r in caplog.records if r.name == 'hat.drivers.tpkt']
        assert [(r.levelno, r.getMessage()) for r in records] == [
            (logging.DEBUG, f'{expected}; closing connection')]


async def test_reset_mid_packet_keeps_class():
    """A reset that cuts a packet short raises ConnectionResetError from
    this read and every later one (tcp's class is kept)."""
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        conn = await bounded(tpkt.connect(
            tcp.Address(*listener.getsockname())), 'connect')
        peer, _ = listener.accept()
        peer.sendall(bytes([3, 0, 0, 20]) + b'abc')  # 13 bytes short
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack('ii', 1, 0))
        peer.close()
        for _ in range(2):
            with pytest.raises(ConnectionResetError):
                await bounded(conn.read(), 'read')
        await bounded(conn.async_close(), 'close')
    finally:
        listener.close()
