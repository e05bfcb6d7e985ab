"""`hat.drivers._turn.Turn`: the reader lock of tpkt, cotp and cosp
(readers one at a time, in call order, cancellation safe)"""

import asyncio

import pytest

from hat.drivers import _turn

from chaos import bounded


pytestmark = pytest.mark.timeout(10)


async def _reader(turn, name, log, release):
    if not turn.take():
        await turn.wait()
    log.append(name)
    await release.wait()
    turn.release()


async def test_free_turn_taken_without_waiting():
    turn = _turn.Turn()
    assert not turn.busy
    assert turn.take()
    assert turn.busy
    assert not turn.take()
    turn.release()
    assert not turn.busy


async def test_waiting_readers_served_in_call_order():
    turn = _turn.Turn()
    log = []
    release = asyncio.Event()
    tasks = [asyncio.create_task(_reader(turn, i, log, release))
             for i in range(5)]
    await asyncio.sleep(0)  # let all of them queue
    assert log == [0]
    release.set()
    await bounded(asyncio.gather(*tasks))
    assert log == [0, 1, 2, 3, 4]
    assert not turn.busy


async def test_reader_cancelled_while_waiting_holds_nothing():
    turn = _turn.Turn()
    assert turn.take()
    waiting = asyncio.create_task(turn.wait())
    behind = asyncio.create_task(turn.wait())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    turn.release()  # goes to the reader behind, not the cancelled one
    await bounded(behind)
    assert turn.busy
    turn.release()
    assert not turn.busy


async def test_turn_handed_to_a_cancelled_reader_is_passed_on():
    turn = _turn.Turn()
    assert turn.take()
    first = asyncio.create_task(turn.wait())
    second = asyncio.create_task(turn.wait())
    await asyncio.sleep(0)
    turn.release()  # handed to `first`, which is cancelled before it runs
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await bounded(second)
    assert turn.busy
    turn.release()
    assert not turn.busy
