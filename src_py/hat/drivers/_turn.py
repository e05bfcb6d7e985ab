"""Readers taking turns: one at a time, in call order (internal helper of
`hat.drivers.tpkt`, `hat.drivers.cotp` and `hat.drivers.cosp`)

A read of those layers awaits the layer below more than once (a TPKT header
and its payload, the DT TPDUs of a TSDU, the SPDUs up to a DT), so
concurrent readers must not interleave. `Turn` serialises them as an
`asyncio.Lock` would, with the same order and cancellation behaviour, but
taking a free turn is a plain method call instead of a coroutine (about
1 us less per read of each layer: benchmarks/bench_mms.py rows read and
read-16).

"""

import asyncio
import collections


class Turn:
    """One reader at a time, the waiting ones in call order"""

    __slots__ = ('_busy', '_waiters')

    def __init__(self) -> None:
        self._busy = False
        self._waiters: collections.deque[asyncio.Future[None]] = \
            collections.deque()

    @property
    def busy(self) -> bool:
        """``True`` while a reader has the turn"""
        return self._busy

    def take(self) -> bool:
        """Take the turn if it is free (``True``); ``False`` if busy, then
        `wait` for it"""
        if self._busy:
            return False
        self._busy = True
        return True

    async def wait(self) -> None:
        """Wait for the turn (after `take` returned ``False``); it is held
        on return. Cancelled while waiting, it holds nothing."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter

        except BaseException:
            if waiter.done() and not waiter.cancelled():
                # the turn was handed over as we were cancelled: pass it on
                self.release()
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self) -> None:
        """Give the turn to the next waiting reader, or free it"""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._busy = False
