"""`Connection.readuntil`: line and delimiter framed reading with the read
guarantees of `hat.drivers.tcp` (order with the other reads, cancellation
loses nothing, bounded by the input limit, errors that leave the data
readable), on plain TCP and TLS, on asyncio and uvloop (``--uvloop``).

"""

import asyncio
import logging
import ssl

import pytest

from hat import aio
from hat import util
from hat.drivers import tcp

from chaos import KiB, bounded, forbidden_messages, wait_until


@pytest.fixture(autouse=True)
def no_unhandled_asyncio_errors():
    records = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Handler(logging.DEBUG)
    logger = logging.getLogger('asyncio')
    logger.addHandler(handler)
    try:
        yield
        assert not forbidden_messages(records)
    finally:
        logger.removeHandler(handler)


@pytest.fixture(params=['tcp', 'tls'])
async def pair(request):
    """Factory of (writer connection, reader connection) pairs over plain
    TCP or TLS; closes them and their server afterwards"""
    resources = []

    async def make(**kwargs):
        if request.param == 'tls':
            cert, key = request.getfixturevalue('tls_files')
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(cert, key)
            client_ctx = ssl.create_default_context(cafile=str(cert))
            skw = {'ssl': server_ctx}
            ckw = {'ssl': client_ctx, 'server_hostname': 'localhost'}
        else:
            skw = ckw = {}
        conns = aio.Queue()
        srv = await tcp.listen(
            conns.put_nowait,
            tcp.Address('127.0.0.1', util.get_unused_tcp_port()),
            **skw, **kwargs)
        resources.append(srv)
        client = await tcp.connect(srv.addresses[0], **ckw)
        resources.append(client)
        conn = await bounded(conns.get())
        resources.append(conn)
        return client, conn

    yield make

    for r in resources:
        r.close()
    await bounded(asyncio.gather(*(r.async_close() for r in resources)))


async def _send(writer, reader, data):
    """Write `data` and wait until the reader's side has received it"""
    target = reader.bytes_received + len(data)
    writer.write(data)
    await bounded(writer.drain())
    await wait_until(lambda: reader.bytes_received >= target, 5,
                     f'{target} bytes received')


def _now(coro):
    """Result of `coro` if it completes without suspending"""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    coro.close()
    raise AssertionError('suspended')


async def test_lines_buffered_return_without_suspending(pair):
    writer, reader = await pair()
    await _send(writer, reader, b'one\ntwo\r\nthree\n')
    assert _now(reader.readuntil()) == b'one\n'
    assert _now(reader.readuntil(b'\r\n')) == b'two\r\n'
    assert _now(reader.readuntil(separator=b'\n')) == b'three\n'


async def test_separator_split_across_chunks(pair):
    """Input arriving a byte at a time: the separator is found across
    chunk boundaries, and nothing else is taken"""
    writer, reader = await pair()
    task = asyncio.create_task(reader.readuntil(b'<END>'))
    for byte in b'abc<EN<END>':
        await _send(writer, reader, bytes([byte]))
    assert await bounded(task) == b'abc<EN<END>'

    await _send(writer, reader, b'x<E')
    task = asyncio.create_task(reader.readuntil(b'<END>'))
    await _send(writer, reader, b'N')
    await _send(writer, reader, b'D>rest')
    assert await bounded(task) == b'x<END>'
    assert await bounded(reader.read()) == b'rest'


async def test_order_with_other_reads(pair):
    """Pending reads are served strictly in call order, readuntil among
    them"""
    writer, reader = await pair()
    tasks = [asyncio.create_task(reader.readexactly(3)),
             asyncio.create_task(reader.readuntil()),
             asyncio.create_task(reader.read(2)),
             asyncio.create_task(reader.readuntil(b';')),
             asyncio.create_task(reader.readexactly(1))]
    await asyncio.sleep(0)
    assert not any(t.done() for t in tasks)
    await _send(writer, reader, b'abcde\nfg')
    await _send(writer, reader, b'hi;jk')
    results = await bounded(asyncio.gather(*tasks))
    assert results == [b'abc', b'de\n', b'fg', b'hi;', b'j']
    assert await bounded(reader.read()) == b'k'


async def test_cancel_loses_nothing(pair):
    writer, reader = await pair()
    task = asyncio.create_task(reader.readuntil())
    await _send(writer, reader, b'partial ')
    await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await bounded(task)
    await _send(writer, reader, b'line\nnext')
    assert await bounded(reader.readuntil()) == b'partial line\n'
    assert await bounded(reader.read()) == b'next'


async def test_cancelled_readuntil_lets_next_reader_on(pair):
    """A readuntil cancelled while others wait behind it hands the queue
    on: the next reader gets the bytes"""
    writer, reader = await pair()
    first = asyncio.create_task(reader.readuntil())
    second = asyncio.create_task(reader.readexactly(4))
    await _send(writer, reader, b'abcd')
    await asyncio.sleep(0)
    assert not first.done() and not second.done()
    first.cancel()
    assert await bounded(second) == b'abcd'


async def test_limit_overrun_keeps_data_and_bounds_memory(pair):
    """No separator within input_buffer_limit: LimitOverrunError (a
    ValueError and an asyncio.LimitOverrunError), nothing consumed, and
    reading pauses again: a peer streaming without separator is stopped by
    flow control"""
    limit = 4 * KiB
    writer, reader = await pair(input_buffer_limit=limit)
    writer.write(b'x' * (1024 * KiB))
    with pytest.raises(tcp.LimitOverrunError) as e:
        await bounded(reader.readuntil())
    assert isinstance(e.value, ValueError)
    assert isinstance(e.value, asyncio.LimitOverrunError)
    assert e.value.consumed >= limit
    # the data stays readable
    data = await bounded(reader.readexactly(e.value.consumed))
    assert data == b'x' * e.value.consumed

    # memory stays bounded: the peer is stopped by flow control
    received = reader.bytes_received
    with pytest.raises(tcp.LimitOverrunError):
        await bounded(reader.readuntil())
    for _ in range(5):
        await asyncio.sleep(0.02)
    assert reader.bytes_received - received < 1024 * KiB - 256 * KiB


async def test_separator_beyond_limit_in_buffered_chunk(pair):
    writer, reader = await pair(input_buffer_limit=100)
    await _send(writer, reader, b'y' * 300 + b'\n')
    with pytest.raises(tcp.LimitOverrunError) as e:
        await bounded(reader.readuntil())
    assert e.value.consumed == 300
    assert await bounded(reader.readexactly(301)) == b'y' * 300 + b'\n'


async def test_line_up_to_limit_while_reading_paused(pair):
    """Lines beyond the limit in the buffer (reading paused) are read one
    by one; a line that fills the limit after a pause is still read"""
    limit = 1000
    writer, reader = await pair(input_buffer_limit=limit)
    lines = [bytes([65 + i]) * 499 + b'\n' for i in range(10)]
    writer.write(b''.join(lines))
    for line in lines:
        assert await bounded(reader.readuntil()) == line

    # a line of exactly `limit` bytes before its separator, sent after a
    # buffer above the limit paused reading
    head = b'a' * 600 + b'\n'
    writer.write(head + b'b' * 900)
    await wait_until(lambda: reader.bytes_received >= 5000 + 1501, 5)
    assert await bounded(reader.readuntil()) == head
    task = asyncio.create_task(reader.readuntil())
    await asyncio.sleep(0)
    assert not task.done()
    writer.write(b'b' * 100 + b'\n')
    assert await bounded(task) == b'b' * 1000 + b'\n'


async def test_eof_before_separator(pair):
    """The peer closes before the separator: ConnectionError, and the bytes
    that came stay readable"""
    writer, reader = await pair()
    await _send(writer, reader, b'no newline')
    task = asyncio.create_task(reader.readuntil())
    await asyncio.sleep(0)
    await writer.async_close()
    with pytest.raises(ConnectionError):
        await bounded(task)
    with pytest.raises(ConnectionError):
        await bounded(reader.readuntil())
    assert await bounded(reader.read()) == b'no newline'
    with pytest.raises(ConnectionError):
        await bounded(reader.read())


async def test_eof_after_lines(pair):
    writer, reader = await pair()
    await _send(writer, reader, b'a\nb\n')
    await writer.async_close()
    await bounded(reader.wait_closing())
    assert await bounded(reader.readuntil()) == b'a\n'
    assert await bounded(reader.readuntil()) == b'b\n'
    with pytest.raises(ConnectionError):
        await bounded(reader.readuntil())


async def test_local_close_fails_pending(pair):
    writer, reader = await pair()
    task = asyncio.create_task(reader.readuntil())
    await _send(writer, reader, b'half')
    reader.close()
    with pytest.raises(ConnectionError, match='closed locally'):
        await bounded(task)
    assert await bounded(reader.read()) == b'half'


async def test_reset_input_buffer_while_pending(pair):
    """reset_input_buffer discards what a pending readuntil had seen; it
    then returns the next line from new input only"""
    writer, reader = await pair()
    task = asyncio.create_task(reader.readuntil())
    await _send(writer, reader, b'garbage garbage garbage')
    assert await reader.reset_input_buffer() == 23
    await _send(writer, reader, b'x\n')
    assert await bounded(task) == b'x\n'


async def test_no_limit(pair):
    writer, reader = await pair(input_buffer_limit=0)
    line = b'z' * (3 * 1024 * KiB) + b'\n'
    writer.write(line)
    assert await bounded(reader.readuntil()) == line


@pytest.mark.parametrize('separator, exc', [
    ('\n', TypeError),
    (None, TypeError),
    (10, TypeError),
    ([b'\n'], TypeError),
    (b'', ValueError),
    (bytearray(), ValueError),
])
async def test_bad_separator(pair, separator, exc):
    writer, reader = await pair()
    await _send(writer, reader, b'a\n')
    with pytest.raises(exc, match='separator'):
        await reader.readuntil(separator)
    # nothing consumed
    assert await bounded(reader.read()) == b'a\n'


async def test_bytes_like_separator(pair):
    writer, reader = await pair()
    await _send(writer, reader, b'a;;b::')
    assert await bounded(reader.readuntil(bytearray(b';;'))) == b'a;;'
    assert await bounded(reader.readuntil(memoryview(b'::'))) == b'b::'


async def test_line_protocol_with_half_close(pair):
    """Lines read until the peer's FIN with half_close; the last line
    without separator stays readable"""
    writer, reader = await pair(half_close=True)
    if reader.ssl_object is not None:
        pytest.skip('TLS has no half-close')
    await _send(writer, reader, b'l1\nl2\ntail')
    writer._transport.write_eof()
    assert await bounded(reader.readuntil()) == b'l1\n'
    assert await bounded(reader.readuntil()) == b'l2\n'
    with pytest.raises(ConnectionError):
        await bounded(reader.readuntil())
    assert await bounded(reader.read()) == b'tail'
    assert reader.is_open


async def test_limit_overrun_consumed_keeps_separator_start(pair):
    """`consumed` leaves a separator's possible start buffered: skipping
    that many bytes never cuts a separator"""
    writer, reader = await pair(input_buffer_limit=10)
    await _send(writer, reader, b'a' * 12 + b'\r')
    with pytest.raises(tcp.LimitOverrunError) as e:
        await bounded(reader.readuntil(b'\r\n'))
    assert e.value.consumed == 12
    assert await bounded(reader.readexactly(12)) == b'a' * 12
    await _send(writer, reader, b'\n')
    assert await bounded(reader.readuntil(b'\r\n')) == b'\r\n'
