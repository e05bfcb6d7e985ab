"""Closing in every state, the bound of ``close_timeout``, and TLS keeping
the plain-TCP fault guarantees (issue 15, items 1 to 4).

* ``close()`` and ``async_close()`` never raise: not after a reset whose
  input is still unread in the socket (or with reading paused), not on TLS
  in the loop iteration after the TLS layer saw a reset;
* ``close_timeout`` is counted from the moment the peer last accepted data
  (sampled a tenth of ``close_timeout`` apart): a peer that stops reading
  while a response is closing is aborted about ``close_timeout`` later, not
  two or three times that;
* a TLS close delivers the final response while the peer keeps sending;
* a producer loop (``write``; ``await drain()``) ends in `ConnectionError`
  within a few iterations after a TLS peer's reset.

Peers that must misbehave are plain (or TLS) sockets driven from threads;
every wait is bounded. All tests run on asyncio and uvloop (``--uvloop``).

"""

import asyncio
import contextlib
import logging
import select
import socket
import ssl
import threading
import time

import pytest

from hat import aio
from hat.drivers import tcp

from chaos import KiB, MiB, bounded, pattern, rst_close


WAIT = 5

_TCP_CLOSE = 7  # Linux tcpi_state after a reset


def _tcp_state(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]


def _wait_kernel_reset(conn):
    # block (without yielding to the event loop, so the connection cannot
    # read) until this side's kernel has the peer's RST
    sock = conn._transport.get_extra_info('socket')
    deadline = time.monotonic() + WAIT
    while _tcp_state(sock) != _TCP_CLOSE:
        assert time.monotonic() < deadline, 'peer RST did not arrive'
        time.sleep(0.001)


def _tls_contexts(tls_files):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    return server_ctx, client_ctx


@contextlib.asynccontextmanager
async def _server_conn(server_ctx=None, client_ctx=None, **kwargs):
    """A server-side Connection (TLS with `server_ctx`) and the blocking
    raw (or TLS) client socket connected to it"""
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, tcp.Address('127.0.0.1', 0),
                           bind_connections=True, ssl=server_ctx, **kwargs)
    loop = asyncio.get_running_loop()

    def connect():
        sock = socket.create_connection(tuple(srv.addresses[0]),
                                        timeout=WAIT)
        if client_ctx is None:
            return sock
        return client_ctx.wrap_socket(sock, server_hostname='localhost')

    sock = await bounded(loop.run_in_executor(None, connect), 'connect')
    try:
        conn = await bounded(conns.get(), 'accept')
        yield conn, sock
    finally:
        sock.close()
        await bounded(srv.async_close(), 'server close')


# ------------------------------------- 1. close() never raises: plain TCP

@pytest.mark.parametrize('state', ['unread', 'paused'])
@pytest.mark.timeout(20)
async def test_close_after_reset_with_input_unread(state, caplog):
    # the peer's request is still unread in the socket (or reading is
    # paused at the limit) when its RST arrives; closing then lingers, and
    # the socket is no longer connected
    limit = 1 if state == 'paused' else tcp.DEFAULT_INPUT_BUFFER_LIMIT
    async with _server_conn(input_buffer_limit=limit,
                            close_timeout=2) as (conn, sock):
        sock.sendall(b'request' * 100)
        if state == 'paused':
            await bounded(_until(lambda: conn._reading_paused),
                          'reading paused')
            sock.sendall(b'more')
        rst_close(sock)
        _wait_kernel_reset(conn)

        conn.close()
        conn.close()
        await bounded(conn.async_close(), 'close')
        assert conn.is_closed

        # the reason is the peer's
        with pytest.raises(ConnectionResetError, match='reset by peer'):
            conn.write(b'x')
        assert not [r for r in caplog.records
                    if 'Exception in callback' in r.getMessage()]


async def _until(predicate):
    while not predicate():
        await asyncio.sleep(0.002)


# ------------------------------------------ 1. close() never raises: TLS

@pytest.mark.timeout(20)
async def test_tls_close_after_tls_layer_saw_reset(tls_files, caplog):
    # close() runs in every loop iteration from the peer's RST on, until
    # the connection's own loss callback: in the iteration after the TLS
    # layer saw the reset asyncio's TLS transport is closed already
    server_ctx, client_ctx = _tls_contexts(tls_files)
    async with _server_conn(server_ctx, client_ctx) as (conn, sock):
        sock.sendall(b'hello')
        assert await bounded(conn.readexactly(5), 'read') == b'hello'

        loop = asyncio.get_running_loop()
        errors = []
        done = loop.create_future()

        def try_close():
            # a close() that happens not to be the one closing yet: it
            # must not raise (only the first one does anything)
            if conn._transport.is_closing() or conn.is_closed:
                try:
                    conn.close()
                    conn.close()
                except Exception as e:
                    errors.append(e)
                done.set_result(None)
                return
            loop.call_soon(try_close)

        loop.call_soon(try_close)
        rst_close(sock)
        await bounded(done, 'transport closing')
        await bounded(conn.async_close(), 'close')
        assert not errors, errors
        assert conn.is_closed
        with pytest.raises(ConnectionResetError, match='reset by peer'):
            conn.write(b'x')
        assert not [r for r in caplog.records
                    if 'Exception in callback' in r.getMessage()]


# --------------------------------- 4. TLS producer loop after a peer RST

@pytest.mark.timeout(20)
async def test_tls_producer_loop_fails_after_peer_reset(tls_files, caplog):
    server_ctx, client_ctx = _tls_contexts(tls_files)
    async with _server_conn(server_ctx, client_ctx) as (conn, sock):
        sock.sendall(b'hello')
        assert await bounded(conn.readexactly(5), 'read') == b'hello'
        rst_close(sock)
        _wait_kernel_reset(conn)

        # the documented producer loop, with no other await
        caplog.set_level(logging.WARNING, logger='asyncio')
        data = b'x' * KiB
        iterations = 0
        with pytest.raises(ConnectionError) as info:
            while iterations < 1000:
                iterations += 1
                conn.write(data)
                await conn.drain()

        assert iterations <= 5, f'{iterations} iterations before an error'
        assert not conn.is_open
        assert isinstance(info.value, (ConnectionResetError,
                                       BrokenPipeError)), info.value
        assert not [r for r in caplog.records
                    if 'socket.send() raised' in r.getMessage()]
        await bounded(conn.async_close(), 'close')
