"""Test helpers for fault tests of `hat.drivers.tcp`.

* `bounded`: an await that fails on an assertion naming what it waited
  for, instead of hanging until the pytest timeout
* resource accounting: open file descriptors, asyncio tasks, RSS
* deterministic byte pattern (content checkable without storing it)
* raw socket helpers (RST close, raw listeners)
* `ChaosProxy`: a loopback TCP proxy that splits the stream into small
  segments with random delays and stalls, and kills connections (RST or FIN)
  at random byte offsets

Everything here is loop agnostic (asyncio and uvloop) and stays on loopback.

"""

import asyncio
import gc
import os
import random
import re
import resource
import socket
import struct
import sys
import threading
import time
import typing

from hat.drivers import tcp


KiB = 1024
MiB = 1024 * KiB

FORBIDDEN_ASYNCIO_MESSAGES = ('Task exception was never retrieved',
                              'Exception in callback',
                              'Future exception was never retrieved')


# --------------------------------------------------------------- resources

def raise_nofile_limit():
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the new soft
    limit"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fd_count() -> int:
    """Number of open file descriptors of this process"""
    return len(os.listdir('/proc/self/fd'))


def fd_targets() -> dict[int, str]:
    """Open file descriptors and what they point to (for diagnostics)"""
    result = {}
    for name in os.listdir('/proc/self/fd'):
        try:
            result[int(name)] = os.readlink(f'/proc/self/fd/{name}')
        except OSError:
            pass
    return result


def task_count() -> int:
    return len(asyncio.all_tasks())


def rss() -> int:
    """Resident set size of this process in bytes"""
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


class Resources:
    """Snapshot of fds and tasks; `wait_restored` waits (bounded) until
    no more fds and tasks are in use than at the snapshot."""

    def __init__(self):
        gc.collect()
        self.fds = fd_count()
        self.fd_targets = fd_targets()
        self.tasks = task_count()

    async def wait_restored(self, timeout: float = 5):
        deadline = time.monotonic() + timeout
        while True:
            fds = fd_count()
            tasks = task_count()
            if fds <= self.fds and tasks <= self.tasks:
                return

            if time.monotonic() > deadline:
                gc.collect()
                new_fds = {fd: target for fd, target in fd_targets().items()
                           if self.fd_targets.get(fd) != target}
                current = asyncio.current_task()
                new_tasks = [t for t in asyncio.all_tasks()
                             if t is not current]
                raise AssertionError(
                    f'resources not released within {timeout} s: '
                    f'fds {self.fds} -> {fds} (new: {new_fds}), '
                    f'tasks {self.tasks} -> {tasks} ({new_tasks[:10]})')

            await asyncio.sleep(0.01)


async def wait_until(predicate: typing.Callable[[], bool],
                     timeout: float = 5,
                     what: str = 'condition'):
    """Poll `predicate` until true; AssertionError after `timeout`"""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f'{what} not met within {timeout} s')
        await asyncio.sleep(0.002)


async def wait_stalled(value: typing.Callable[[], int],
                       quiet: float,
                       timeout: float,
                       what: str = 'value'):
    """Poll `value` until it has not changed for `quiet` seconds;
    AssertionError if it still changes after `timeout`"""
    loop = asyncio.get_running_loop()
    last = value()
    changed = loop.time()
    deadline = changed + timeout
    while loop.time() - changed < quiet:
        if loop.time() > deadline:
            raise AssertionError(f'{what} still changing after {timeout} s')
        await asyncio.sleep(0.01)
        current = value()
        if current != last:
            last = current
            changed = loop.time()


async def bounded(aw: typing.Awaitable,
                  what: str | None = None,
                  timeout: float = 5):
    """Await `aw` in the current task; AssertionError naming `what` (by
    default the coroutine or task awaited) if it is not done within
    `timeout` seconds. A test that would otherwise hang until the pytest
    timeout fails promptly, saying what it waited for."""
    if what is None:
        what = _awaitable_name(aw)
    if sys.version_info >= (3, 11):
        # awaited directly (no task in between): the same context and the
        # same number of loop iterations as a plain await
        try:
            async with asyncio.timeout(timeout) as cm:
                return await aw

        except TimeoutError:
            if not cm.expired():
                raise
    else:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            return await asyncio.wait_for(aw, timeout)

        except asyncio.TimeoutError:
            if loop.time() - start < timeout:
                raise
    raise AssertionError(f'not done within {timeout} s: {what}')


def _awaitable_name(aw) -> str:
    if isinstance(aw, asyncio.Task):
        return f'task {aw.get_name()} ({_awaitable_name(aw.get_coro())})'
    name = getattr(aw, '__qualname__', None)
    if name is None:
        return repr(aw)
    frame = getattr(aw, 'cr_frame', None)
    args = ''
    if frame is not None:
        code = frame.f_code
        names = code.co_varnames[:code.co_argcount]
        args = ', '.join(f'{n}={frame.f_locals.get(n)!r}'[:40]
                         for n in names if n != 'self')
    return f'{name}({args})'


def forbidden_messages(records) -> list[str]:
    """Messages of log records that show an unhandled asyncio error"""
    result = []
    for record in records:
        msg = record.getMessage()
        if any(i in msg for i in FORBIDDEN_ASYNCIO_MESSAGES):
            result.append(msg)
    return result


# ------------------------------------------------------------------ pattern

_PERIOD = 251  # prime, so chunk boundaries never line up with the pattern
_BLOCK_SIZE = MiB
_BLOCK = bytes(range(_PERIOD)) * (_BLOCK_SIZE // _PERIOD + 2)


def count_number(text: str, number: int) -> int:
    """How many times `number` appears in `text` as a whole number (not as
    part of a longer run of digits: errno 98 inside port 52985 is no hit)"""
    return len(re.findall(rf'(?<!\d){number}(?!\d)', text))


def pattern(offset: int, size: int) -> bytes:
    """Bytes `offset` .. `offset + size` of an endless deterministic
    stream"""
    parts = []
    while size > 0:
        start = offset % _PERIOD
        n = min(size, _BLOCK_SIZE)
        parts.append(_BLOCK[start:start + n])
        offset += n
        size -= n
    return b''.join(parts)


class PatternChecker:
    """Checks consecutive pieces against `pattern` without storing them"""

    def __init__(self):
        self.offset = 0

    def feed(self, data: bytes):
        # bytes == bytes is a memcmp; comparing memoryviews goes byte by
        # byte (more than ten times slower: it matters for GiB streams)
        data = bytes(data)  # no copy if it already is bytes
        size = len(data)
        pos = 0
        while pos < size:
            n = min(size - pos, _BLOCK_SIZE)
            start = (self.offset + pos) % _PERIOD
            piece = data if n == size else data[pos:pos + n]
            expected = _BLOCK[start:start + n]
            if piece != expected:
                for i in range(n):
                    if piece[i] != expected[i]:
                        break
                raise AssertionError(
                    f'stream corrupt at byte {self.offset + pos + i}')
            pos += n
        self.offset += size


# -------------------------------------------------------------- raw sockets

def set_rst_on_close(sock):
    """Make close() of `sock` send RST instead of FIN (SO_LINGER 1, 0)"""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                    struct.pack('ii', 1, 0))


def rst_close(sock: socket.socket):
    set_rst_on_close(sock)
    sock.close()


def raw_listener(backlog: int = 16,
                 rcvbuf: int | None = None) -> socket.socket:
    """Non-blocking listening socket on 127.0.0.1 with a free port"""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind(('127.0.0.1', 0))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class PatternFlooder:
    """A hostile sender: a thread pushing `total` bytes of `pattern` into
    `sock` as fast as the kernel takes them, waiting for nothing else.

    `sent` is the number of bytes handed to the kernel so far. After the
    last byte the write side is shut down (the receiver sees EOF). What
    the thread failed with is kept in `error`. `stop` ends the thread
    (bounded); it is safe to call more than once. The socket stays open:
    the caller closes it after `stop`.

    """

    def __init__(self, sock: socket.socket, total: int, chunk: int = MiB):
        self.sock = sock
        self.total = total
        self.sent = 0
        self.error: BaseException | None = None
        self._chunk = chunk
        # sending slices of one precomputed block costs no copies
        self._block = memoryview(pattern(0, chunk + _PERIOD))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='PatternFlooder')

    def start(self):
        # a timeout keeps blocked sends short so that `stop` is noticed
        self.sock.settimeout(0.05)
        self._thread.start()

    def stop(self, timeout: float = 5):
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise AssertionError(f'flooder thread did not stop within '
                                     f'{timeout} s')

    def _run(self):
        try:
            sent = 0
            while sent < self.total and not self._stopping.is_set():
                start = sent % _PERIOD
                size = min(self._chunk, self.total - sent)
                try:
                    sent += self.sock.send(self._block[start:start + size])
                except TimeoutError:
                    continue
                self.sent = sent
            if sent == self.total:
                self.sock.shutdown(socket.SHUT_WR)
        except BaseException as e:
            self.error = e


def sock_address(sock: socket.socket) -> tcp.Address:
    host, port = sock.getsockname()[:2]
    return tcp.Address(host, port)


# --------------------------------------------------------------- chaos proxy

class ProxyLink:
    """One proxied connection (client <-> proxy <-> upstream server)"""

    def __init__(self, rng: random.Random, kill_at: int | None,
                 kill_mode: str):
        self.rng = rng
        self.kill_at = kill_at
        self.kill_mode = kill_mode
        self.client_port: int | None = None     # client's local port
        self.upstream_port: int | None = None   # proxy's port to the server
        self.forwarded = 0                      # both directions
        self.killed: str | None = None          # 'rst' / 'fin' once killed
        self.kill_time: float | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.pumps: list[asyncio.Task] = []

    def kill(self, mode: str):
        if self.killed:
            return

        self.killed = mode
        self.kill_time = asyncio.get_running_loop().time()
        self.shutdown(mode)

    def shutdown(self, mode: str):
        for writer in self.writers:
            transport = writer.transport
            if transport.is_closing():
                continue
            if mode == 'rst':
                sock = transport.get_extra_info('socket')
                if sock is not None:
                    try:
                        set_rst_on_close(sock)
                    except OSError:
                        pass
                transport.abort()
            else:
                transport.close()

        current = asyncio.current_task()
        for task in self.pumps:
            if task is not current:
                task.cancel()


class ChaosProxy:
    """Loopback TCP proxy that mangles timing and kills connections.

    Every forwarded chunk is split into segments of 1..`max_segment` bytes;
    before each segment the proxy sleeps up to `max_delay` seconds (with
    probability `delay_prob`) or stalls for `stall_range` seconds (with
    probability `stall_prob`). With probability `kill_prob` a connection
    gets a kill offset, drawn from `kill_range`, counted over the bytes
    forwarded in both directions: when it is reached, both sides are killed
    with RST (SO_LINGER 1, 0 and close) or FIN (normal close), chosen at
    random. EOF is forwarded as EOF (half close); a reset of one side resets
    the other. All decisions come from `seed`.

    """

    def __init__(self,
                 target: tcp.Address,
                 *,
                 seed: int = 0,
                 max_segment: int = 512,
                 delay_prob: float = 0.2,
                 max_delay: float = 0.002,
                 stall_prob: float = 0.005,
                 stall_range: tuple[float, float] = (0.02, 0.15),
                 kill_prob: float = 0.0,
                 kill_range: tuple[int, int] = (0, 1),
                 kill_modes: tuple[str, ...] = ('rst', 'fin')):
        self._target = target
        self._rng = random.Random(seed)
        self._max_segment = max_segment
        self._delay_prob = delay_prob
        self._max_delay = max_delay
        self._stall_prob = stall_prob
        self._stall_range = stall_range
        self._kill_prob = kill_prob
        self._kill_range = kill_range
        self._kill_modes = kill_modes
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task] = set()
        self.links: list[ProxyLink] = []
        self.address: tcp.Address | None = None

    async def start(self) -> tcp.Address:
        self._server = await asyncio.start_server(self._on_client,
                                                  '127.0.0.1', 0)
        self.address = sock_address(self._server.sockets[0])
        return self.address

    def link_for_client(self, client_port: int) -> ProxyLink:
        for link in self.links:
            if link.client_port == client_port:
                return link
        raise KeyError(client_port)

    async def close(self):
        if self._server is not None:
            self._server.close()
        for link in self.links:
            link.shutdown('rst')
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._server is not None:
            await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _on_client(self, client_reader, client_writer):
        task = asyncio.current_task()
        self._tasks.add(task)
        rng = random.Random(self._rng.random())
        kill_at = None
        if rng.random() < self._kill_prob:
            kill_at = rng.randint(*self._kill_range)
        link = ProxyLink(rng, kill_at, rng.choice(self._kill_modes))
        link.client_port = client_writer.get_extra_info('peername')[1]
        link.writers.append(client_writer)
        self.links.append(link)
        try:
            try:
                upstream_reader, upstream_writer = \
                    await asyncio.open_connection(*self._target)
            except OSError:
                link.shutdown('rst')
                return

            link.writers.append(upstream_writer)
            link.upstream_port = upstream_writer.get_extra_info(
                'sockname')[1]
            link.pumps = [
                asyncio.create_task(self._pump(link, client_reader,
                                               upstream_writer)),
                asyncio.create_task(self._pump(link, upstream_reader,
                                               client_writer))]
            await asyncio.wait(link.pumps)
            link.shutdown('fin')

        except asyncio.CancelledError:
            for pump in link.pumps:
                pump.cancel()
            link.shutdown('rst')

        finally:
            self._tasks.discard(task)

    async def _pump(self, link, reader, writer):
        rng = link.rng
        try:
            while True:
                data = await reader.read(64 * KiB)
                if not data:
                    if writer.can_write_eof() and \
                            not writer.transport.is_closing():
                        writer.write_eof()
                    return

                view = memoryview(data)
                while view:
                    size = rng.randint(1, self._max_segment)
                    segment, view = view[:size], view[size:]
                    r = rng.random()
                    if r < self._stall_prob:
                        await asyncio.sleep(rng.uniform(*self._stall_range))
                    elif r < self._stall_prob + self._delay_prob:
                        await asyncio.sleep(rng.uniform(0, self._max_delay))

                    if (link.kill_at is not None and
                            link.forwarded + len(segment) >= link.kill_at):
                        cut = link.kill_at - link.forwarded
                        if cut > 0:
                            writer.write(bytes(segment[:cut]))
                            link.forwarded += cut
                        link.kill(link.kill_mode)
                        return

                    writer.write(bytes(segment))
                    link.forwarded += len(segment)
                    await writer.drain()

        except asyncio.CancelledError:
            raise

        except (ConnectionError, OSError, RuntimeError):
            # one side failed: fail the other one like a real middlebox
            link.shutdown('rst')
