"""Reading faults of `hat.drivers.tcp`: pause and resume of reading reach
the transport that reads (TLS too), hysteresis of the input limit, a reset
after the peer's EOF with ``half_close``, an accept storm at the
descriptor limit, and connect error messages that say each fact once.

Every test runs on asyncio and uvloop (``--uvloop``), stays on loopback,
bounds every wait and closes what it opened.

"""

import asyncio
import gc
import json
import logging
import os
import socket
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hat import aio
from hat import util
from hat.drivers import tcp

from chaos import (KiB, PatternChecker, bounded, forbidden_messages,
                   pattern, rst_close, set_rst_on_close, wait_until)


REPO = Path(__file__).resolve().parent.parent

WAIT = 5


def _addr():
    return tcp.Address('127.0.0.1', util.get_unused_tcp_port())


def _uvloop_active() -> bool:
    return type(asyncio.get_running_loop()).__module__.startswith('uvloop')


@pytest.fixture(autouse=True)
def no_unhandled_asyncio_errors():
    """Every test: fail if asyncio reported an unretrieved exception or an
    exception in a callback"""
    records = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Handler(logging.DEBUG)
    logger = logging.getLogger('asyncio')
    logger.addHandler(handler)
    try:
        yield
        gc.collect()
        assert not forbidden_messages(records)
    finally:
        logger.removeHandler(handler)


@pytest.fixture(scope='module')
def tls_ctx(tls_files):
    """(server context factory, client context factory) for the test
    certificate"""
    cert, key = tls_files

    def server_ctx():
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        return ctx

    def client_ctx():
        return ssl.create_default_context(cafile=str(cert))

    return server_ctx, client_ctx


async def _close_all(*resources):
    resources = [r for r in resources if r is not None]
    for r in resources:
        r.close()
    await bounded(asyncio.gather(*(r.async_close() for r in resources)))


async def _raw_client(srv, **kwargs):
    """(connection accepted by `srv`, raw non-blocking client socket)"""
    loop = asyncio.get_running_loop()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setblocking(False)
    await bounded(loop.sock_connect(raw, srv.addresses[0]))
    return raw


class _CountingTransport:
    """Wraps a transport, counting pause_reading and resume_reading calls
    and the buffered input at each"""

    def __init__(self, transport, conn):
        self._transport = transport
        self._conn = conn
        self.pauses = []
        self.resumes = []

    def pause_reading(self):
        self.pauses.append(self._conn._avail)
        self._transport.pause_reading()

    def resume_reading(self):
        self.resumes.append(self._conn._avail)
        self._transport.resume_reading()

    def __getattr__(self, name):
        return getattr(self._transport, name)


# ------------------------------------------- TLS: first flight over limit

async def test_tls_first_flight_over_limit_is_read_and_reset_noticed(
        tls_ctx):
    """A TLS client sends 200,000 bytes right after its handshake to a
    server whose input limit is 16 KiB: the data arrives with the
    handshake, before the server switches the connection to the TLS
    transport, and reading pauses then. It must resume on the transport
    that reads: the server reads all of it, in small pieces, and then
    notices the client's RST."""
    server_ctx, client_ctx = tls_ctx
    total = 200_000
    conns = aio.Queue()
    srv = await tcp.listen(conns.put_nowait, _addr(), ssl=server_ctx(),
                           input_buffer_limit=16 * KiB)
    writer = conn = None
    try:
        addr = srv.addresses[0]
        _, writer = await bounded(asyncio.open_connection(
            addr.host, addr.port, ssl=client_ctx(),
            server_hostname='localhost'))
        writer.write(pattern(0, total))
        conn = await bounded(conns.get())

        checker = PatternChecker()
        while checker.offset < total:
            checker.feed(await bounded(conn.read(4 * KiB),
                                       f'read at {checker.offset}'))
        assert checker.offset == total

        set_rst_on_close(writer.get_extra_info('socket'))
        writer.transport.abort()
        await bounded(conn.wait_closing(), 'server noticing the RST')
        assert not conn.is_open
    finally:
        if writer is not None:
            writer.transport.abort()
        await _close_all(conn, srv)


# ------------------------------------------------------ limit hysteresis

@pytest.mark.parametrize('tls', [False, True])
async def test_reading_resumes_at_half_of_limit(tls, tls_ctx):
    """Reading pauses above `input_buffer_limit` and resumes only once the
    buffered input falls to half of it: a reader taking small pieces does
    not pause and resume the transport on every read."""
    server_ctx, client_ctx = tls_ctx
    limit = 64 * KiB
    total = 1024 * KiB
    piece = 1 * KiB
    conns = aio.Queue()
    kwargs = {'ssl': server_ctx()} if tls else {}
    srv = await tcp.listen(conns.put_nowait, _addr(),
                           input_buffer_limit=limit, **kwargs)
    client = conn = None
    try:
        ckwargs = ({'ssl': client_ctx(), 'server_hostname': 'localhost'}
                   if tls else {})
        client = await tcp.connect(srv.addresses[0], **ckwargs)
        conn = await bounded(conns.get())
        counting = conn._transport = _CountingTransport(conn._transport,
                                                        conn)

        client.write(pattern(0, total))
        await wait_until(lambda: counting.pauses, WAIT, 'reading paused')

        checker = PatternChecker()
        while checker.offset < total:
            checker.feed(await bounded(conn.read(piece)))

        assert counting.pauses and counting.resumes
        # one resume per pause (the last pause may still be followed by
        # its resume only after the last read)
        assert len(counting.resumes) >= len(counting.pauses) - 1
        assert all(avail > limit for avail in counting.pauses)
        assert all(avail <= limit // 2 for avail in counting.resumes), \
            counting.resumes
        # a read of 1 KiB per resume would be 1 pause per KiB read
        assert len(counting.pauses) <= total // (limit // 2) + 1
    finally:
        await _close_all(client, conn, srv)
