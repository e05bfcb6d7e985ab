"""Asyncio wrapper for TCP communication.

`connect` and `listen` create `Connection` objects: byte streams with a
synchronous `Connection.write`, an awaitable `Connection.drain` and the
awaitable reads `Connection.read`, `Connection.readexactly` and
`Connection.readuntil`.

Guarantees, on every event loop (asyncio and uvloop), on TLS connections
as on plain TCP ones (where a guarantee differs on TLS, it says so):

* Bytes are delivered to readers exactly once and in order. Concurrent reads
  are served strictly in call order. A read that is cancelled while waiting
  consumes nothing: the bytes it would have got go to the next reader.
* A read that can be served from bytes already received returns without
  suspending (no task switch).
* Bytes already received stay readable after the peer closed the connection
  and after the connection itself was closed. Only when they are exhausted
  does a read raise `ConnectionError`.
* `Connection.write` never drops data silently: it either accepts the data
  or raises `ConnectionError` (connection closing or closed, or found
  broken by the transport). A write is handed to the socket at once; the
  writes that follow it within the same event loop iteration are coalesced
  and handed to the socket together at the start of the next iteration (no
  timer); `Connection.drain` sends them at once (with ``coalesce=True`` only
  from `COALESCE_LIMIT` bytes on), closing flushes them. A producer loop
  of `Connection.write` and `Connection.drain` with no other await ends in
  `ConnectionError` within a few iterations once the peer is gone, on TLS
  too: `drain` yields to the event loop when the transport has found the
  connection broken or (TLS, Linux) the socket under the TLS layer was
  reset, which the TLS layer learns only later.
* `Connection.close` and `Connection.async_close` never raise, whatever
  state the transport, the socket or the TLS layer is in (a peer's reset
  found while closing ends the connection with the peer's reason).
* Closing a connection fails pending reads with `ConnectionError`, flushes
  the data already written and then sends FIN. Input that arrives after
  `Connection.close` is discarded. Where the peer's input is still unread
  in the socket (or reading is paused), the socket is kept, reading and
  discarding, until the peer's EOF, so that a final response reaches the
  peer followed by FIN and not by a reset; where written data is not yet
  acknowledged by the peer, FIN follows it and input is discarded until
  the peer has acknowledged all of it (input arriving at a closed socket
  would make the kernel reset the connection and drop the unsent rest).
  On TLS, closing discards input until the peer has accepted all data,
  then sends close_notify, and keeps
  discarding (records the event loop's TLS layer would fail on) until the
  peer's close_notify or EOF (Linux; elsewhere a peer that still sends
  after close_notify may get a reset). If the peer accepts no data, or
  does not finish closing, for `close_timeout` seconds (also bounding a
  TLS shutdown) the connection is aborted instead, so closing never hangs
  on a peer that stopped; a peer that keeps accepting data, however
  slowly, is given the time it needs. The abort comes `close_timeout`
  after the peer last accepted data, at most `CLOSE_POLL_FRACTION` (a
  tenth) of `close_timeout` later.
* The peer closing (FIN) or resetting (RST) the connection is noticed when
  no read is pending: `Connection.is_open` becomes ``False`` and
  `Connection.wait_closing` returns. While reading is paused at
  `input_buffer_limit`, a RST is noticed within about
  `PAUSED_POLL_INTERVAL` seconds, and so is a FIN that has reached this
  side's kernel; the bytes before the FIN are then read in beyond the
  limit (at most what the kernel buffered), none are lost. This polling is
  Linux only. A FIN still queued at the peer behind data this side has not
  accepted cannot be seen: it is noticed once reads make room. With
  ``half_close``, the peer's EOF ends reading but not the connection; a
  RST that follows it is noticed within about `PAUSED_POLL_INTERVAL`
  seconds the same way (Linux only; the connection ends with
  `ConnectionResetError`), and on every platform at the next write that
  fails. Bytes the kernel had buffered are lost when the peer resets
  (that is what RST means); bytes already in the connection's buffer stay
  readable.
* Errors keep their kind: every failure raises a `ConnectionError`; where
  the cause is `ConnectionRefusedError`, `ConnectionResetError`,
  `ConnectionAbortedError` or `BrokenPipeError`, that class is raised (on
  connect and on every later read, write and drain), with the cause
  chained. Messages say why: closed locally, closed by peer, reset by peer
  or lost: reason.
* Memory held for unread data is bounded by `input_buffer_limit`: above it,
  reading from the socket pauses and TCP flow control stops the peer;
  reading resumes once the buffered input falls to half the limit. On TLS
  too, including input that arrives with the TLS handshake. A
  pending `Connection.readexactly` that needs more than the limit lets the
  buffer grow to what it asked for (bound `n` when it comes from an
  untrusted peer); a pending `Connection.readuntil` lets it grow to the
  limit plus the separator (and one received chunk) while it looks for
  the separator.
* Connections need no background task; a `Connection.async_group` is only
  created when it is asked for.

Loggers: ``hat.drivers.tcp`` logs errors and lifetime events; records carry
``extra={'meta': {...}}`` with the connection's name and both addresses.
``hat.drivers.tcp.comm`` is the communication log: at DEBUG level it records
opening and closing of every connection and every chunk sent and received,
as hex. Its level is checked per chunk, so it can be switched on and off for
connections that are already open; while off it costs a dictionary lookup.

Examples (see the documentation pages for more):

    # TLS, a name for the logs, dead-peer detection after 5 + 2 * 3 s
    conn = await tcp.connect(tcp.Address('rtu1.example', 19998),
                             ssl=ssl.create_default_context(cafile='ca.pem'),
                             name='rtu1', keepalive_idle=5,
                             keepalive_interval=2, keepalive_count=3)
    print(conn.ssl_object.version(), conn.bytes_sent, conn.bytes_received)

    # at most 64 KiB of unread input; drop stale bytes after a bad frame
    conn = await tcp.connect(addr, input_buffer_limit=64 * 1024)
    discarded = await conn.reset_input_buffer()

    # communication log (hex dump of every chunk) for open connections too
    logging.getLogger('hat.drivers.tcp.comm').setLevel(logging.DEBUG)

    # IPv6; host None or '' listens on every address family
    srv = await tcp.listen(on_connection, tcp.Address('::', 2404))
    srv = await tcp.listen(on_connection, tcp.Address(None, 2404))

"""

from collections.abc import Callable
import asyncio
import asyncio.selector_events
import contextlib
import contextvars
import errno
import functools
import logging
import math
import os
import socket
import ssl
import struct
import sys
import typing

from hat import aio

from hat.drivers import _seconds

if sys.platform == 'linux':
    import fcntl
    import termios
    _SIOCOUTQ: int | None = termios.TIOCOUTQ
    _SIOCINQ: int | None = termios.FIONREAD
    _TCP_INFO: int | None = getattr(socket, 'TCP_INFO', None)
else:
    _SIOCOUTQ = None
    _SIOCINQ = None
    _TCP_INFO = None

# Linux TCP states (tcpi_state) in which the peer has sent neither FIN nor
# RST: ESTABLISHED, FIN_WAIT1, FIN_WAIT2
_TCP_PEER_OPEN_STATES = (1, 4, 5)
# Linux TCP state CLOSE: a connection that was reset or failed (or is
# closed); after the peer's FIN (CLOSE_WAIT) only a RST gets an open socket
# there
_TCP_CLOSE = 7


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

comm_log: logging.Logger = logging.getLogger(__name__ + '.comm')
"""Communication logger (DEBUG: open/close events and data as hex)"""

# DEBUG logging is checked per chunk sent and received (and per connection
# opened and closed). `Logger.isEnabledFor` costs a Python call; a logger's
# own cache of its answers (which logging clears in place whenever a level
# changes) settles the usual case, logging off, without one. Only a hint:
# anything but a cached False asks isEnabledFor.
_comm_cache: dict[int, bool] = getattr(comm_log, '_cache', {})
_mlog_cache: dict[int, bool] = getattr(mlog, '_cache', {})
_DEBUG = logging.DEBUG

DEFAULT_INPUT_BUFFER_LIMIT: int = 1024 * 1024
"""Default `input_buffer_limit` (bytes)"""

DEFAULT_CLOSE_TIMEOUT: float = 10.0
"""Default `close_timeout` (seconds)"""

DEFAULT_BACKLOG: int = 4096
"""Default listen backlog used by `listen` (``backlog=`` overrides it)"""

CLOSE_POLL_FRACTION: float = 0.1
"""While closing waits for the peer, its progress is sampled every
``close_timeout * CLOSE_POLL_FRACTION`` seconds: the abort comes
`close_timeout` after the peer last accepted data, at most this fraction of
`close_timeout` later"""

PAUSED_POLL_INTERVAL: float = 0.5
"""Seconds between checks, while reading is paused at
`input_buffer_limit`, whether the peer has closed or reset the connection,
and after the peer's EOF with ``half_close``, whether it has reset it
(Linux only)"""

COALESCE_LIMIT: int = 64 * 1024
"""Bytes of writes coalesced within one event loop iteration above which
``drain(coalesce=True)`` sends them at once (see `Connection.drain`); the
default high-water mark of asyncio's transports"""

ACCEPT_RETRY_DELAY: float = 1.0
"""Seconds a server waits before accepting again after accepting failed
(for example EMFILE: out of file descriptors); the failure is logged at
most once a minute"""

_ACCEPT_LOG_INTERVAL = 60.0

# keepalive option ranges (Linux: TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT;
# TCP_USER_TIMEOUT takes milliseconds in a C int)
_KEEPALIVE_MAX_TIME = 32767
_KEEPALIVE_MAX_COUNT = 127
_USER_TIMEOUT_MAX = (2 ** 31 - 1) // 1000


# _Waiter states
_PENDING = 'PENDING'
_DONE = 'DONE'
_CANCELLED = 'CANCELLED'

# whether `listen` can run server-side TLS handshakes itself (start_tls)
_SERVER_START_TLS = sys.version_info >= (3, 11)

# every how many drains a TLS connection asks its socket whether it was
# reset (see Connection._tls_socket_reset)
_TLS_DRAIN_CHECK = 4

# Connection._wbuf after a write was sent at once and nothing came since
_SENT = b''


class ConnectTimeoutError(ConnectionError, asyncio.TimeoutError):
    """A connection was not established in time.

    Raised by `connect` when ``connect_timeout`` expires, and by drivers
    built on this module for their own establishment timeouts. It is a
    `ConnectionError`, so "any failure raises ConnectionError" holds, and
    an `asyncio.TimeoutError` (the builtin `TimeoutError` from Python 3.11
    on), so code written for ``asyncio.wait_for`` still catches it.

    """


class LimitOverrunError(asyncio.LimitOverrunError, ValueError):
    """`Connection.readuntil` found no separator within the input limit.

    Raised when the bytes before the separator would exceed
    `input_buffer_limit`. Nothing is consumed: the buffered bytes stay
    readable. `consumed` (as in `asyncio.LimitOverrunError`, which this
    class is, and a `ValueError`) is the number of leading buffered bytes
    in which no separator starts (where one was found beyond the limit:
    the bytes before it): ``await conn.readexactly(e.consumed)`` skips
    them, `Connection.reset_input_buffer` skips all.

    """


class Address(typing.NamedTuple):
    """TCP address: host name or IP address (IPv6 without brackets) and
    port"""
    host: str
    port: int


class ConnectionInfo(typing.NamedTuple):
    """Local and remote address of a connection"""
    local_addr: Address
    remote_addr: Address


ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""


class _Settings(typing.NamedTuple):
    name: str | None
    input_buffer_limit: int
    half_close: bool
    close_timeout: float | None
    keepalive: tuple[int, int, int] | None
    # TLS, and whether the close timer also bounds its shutdown once
    # close_notify is sent (not when the caller passed ssl_shutdown_timeout)
    tls: bool = False
    bound_tls_shutdown: bool = True


async def connect(addr: Address,
                  *,
                  name: str | None = None,
                  input_buffer_limit: int = DEFAULT_INPUT_BUFFER_LIMIT,
                  half_close: bool = False,
                  close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
                  keepalive_idle: float | None = None,
                  keepalive_interval: float | None = None,
                  keepalive_count: int | None = None,
                  connect_timeout: float | None = None,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to a TCP server.

    Args:
        addr: remote address
        name: name used in log records (see `Connection.name`)
        input_buffer_limit: bytes of unread data buffered before reading
            from the socket pauses (0: no limit; default 1 MiB)
        half_close: if ``False`` (default), the peer's EOF closes the
            connection; if ``True``, it only ends reading and writing stays
            possible, and a RST from the peer after its EOF is noticed by
            polling the socket's TCP state every `PAUSED_POLL_INTERVAL`
            seconds (Linux; elsewhere at the next write) (ignored on TLS
            connections, where the peer's EOF always closes the
            connection: TLS has no half-close)
        close_timeout: seconds (default 10) that closing waits without
            progress: for the peer to accept more of the pending outgoing
            data (each time it accepts some, the wait starts again, so a
            peer that keeps reading slowly gets the time it needs), for its
            EOF when its input was still arriving, and for a TLS shutdown;
            then the connection is aborted, `close_timeout` after the peer
            last accepted data and at most `CLOSE_POLL_FRACTION` of it
            later (``None``: no limit)
        keepalive_idle: enables TCP keepalive: seconds of idleness before
            the first probe, 1 to 32767 (``None``, default: keepalive
            disabled); fractions round up to whole seconds
        keepalive_interval: seconds between probes, 1 to 32767 (default:
            idle time)
        keepalive_count: unanswered probes before the connection is
            dropped, 1 to 127 (default: 3); the same total,
            ``idle + interval * count`` (at most 2147483 s), bounds
            unacknowledged sent data (TCP_USER_TIMEOUT, where the platform
            has it)
        connect_timeout: seconds that establishing the connection (name
            resolution, TCP handshake and TLS handshake) may take
            (``None``, default: no limit of our own)
        kwargs: passed to `asyncio.loop.create_connection` (``ssl``: an
            `ssl.SSLContext`, ``True`` for a default one, or ``None``;
            ``server_hostname``, ``local_addr``, ``ssl_handshake_timeout``,
            ...)

    Raises:
        TypeError, ValueError: malformed address or argument, before any
            socket is touched
        ConnectTimeoutError: `connect_timeout` expired; a `ConnectionError`
            and an `asyncio.TimeoutError` (an expired
            ``ssl_handshake_timeout`` is reported by asyncio as
            `ConnectionAbortedError`)
        ConnectionError: the connection could not be established; where
            the underlying error already is a `ConnectionError` subclass
            (`ConnectionRefusedError`, `ConnectionResetError`,
            `ConnectionAbortedError`, `BrokenPipeError`) that class is
            raised, anything else (name resolution, unreachable network, TLS
            failure, setting up the socket) as `ConnectionError`; the
            original error is chained as ``__cause__``

    """
    host, port = _check_addr(addr, listening=False)
    _check_ssl(kwargs, listening=False)
    _check_local_addr(kwargs.get('local_addr'))
    settings = _make_settings(name, input_buffer_limit, half_close,
                              close_timeout, keepalive_idle,
                              keepalive_interval, keepalive_count, kwargs)
    if connect_timeout is not None:
        connect_timeout = _seconds.check_seconds(
            'connect_timeout', connect_timeout, none_allowed=True)
    loop = asyncio.get_running_loop()
    try:
        coro = loop.create_connection(
            functools.partial(_Protocol, settings), host, port, **kwargs)
        if connect_timeout is None:
            _, protocol = await coro
        elif sys.version_info >= (3, 11):
            # not wait_for: before 3.12 it can swallow a cancellation that
            # arrives as the connection completes
            async with asyncio.timeout(connect_timeout):
                _, protocol = await coro
        else:
            _, protocol = await asyncio.wait_for(coro, connect_timeout)

    except (OSError, asyncio.TimeoutError) as e:
        reason = (_os_reason(e) or
                  (f'timed out after {connect_timeout} s'
                   if isinstance(e, asyncio.TimeoutError) else repr(e)))
        raise _connection_error(
            e, f'connecting to {host}:{port} failed: {reason}') from e

    if protocol.error is not None:
        raise ConnectionError(
            f'connecting to {host}:{port} failed: setting up the connection '
            f'failed: {protocol.error}') from protocol.error

    return protocol.conn


async def listen(connection_cb: ConnectionCb,
                 addr: Address,
                 *,
                 bind_connections: bool = False,
                 name: str | None = None,
                 input_buffer_limit: int = DEFAULT_INPUT_BUFFER_LIMIT,
                 half_close: bool = False,
                 close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
                 keepalive_idle: float | None = None,
                 keepalive_interval: float | None = None,
                 keepalive_count: int | None = None,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create a listening TCP server.

    `connection_cb` is called once for every accepted connection. If it
    raises, or it is a coroutine that raises, the error is logged and that
    connection is closed; a coroutine that is cancelled (closing the server
    cancels running ones) also closes its connection. The server keeps
    serving in every case. With ``ssl``, a connection whose TLS handshake
    fails is logged (WARNING) and dropped before `connection_cb` sees it
    (on uvloop and Python 3.10 the event loop does the handshake and
    reports nothing). A connection whose socket cannot be set up (for
    example keepalive options the system rejects) is logged (ERROR) and
    closed; the server keeps serving. When accepting fails (for example
    EMFILE: out of file descriptors), on asyncio's loops the server logs it
    (ERROR, at most once a minute), retries every `ACCEPT_RETRY_DELAY`
    seconds and keeps serving, and closing the server leaves nothing of
    this behind; uvloop (libuv) accepts and at once closes the connections
    it cannot serve, without a log.

    What closing the server does to accepted connections: it always
    cancels `connection_cb` coroutines that are still running, and each
    such cancellation closes that callback's connection. Connections whose
    callback has returned are closed too if `bind_connections` is
    ``True``, and stay open if it is ``False``.

    Args:
        connection_cb: called with each new `Connection` (plain function or
            coroutine function)
        addr: local address; host ``None`` or ``''`` listens on every
            interface, port 0 picks a free port (see `Server.addresses`)
        bind_connections: if ``True``, closing the server also closes every
            connection it accepted and waits for them (default ``False``:
            see above)
        name: as in `connect`, for every accepted connection
        input_buffer_limit: as in `connect`, for every accepted connection
        half_close: as in `connect`, for every accepted connection
        close_timeout: as in `connect`, for every accepted connection
        keepalive_idle: as in `connect`, for every accepted connection
        keepalive_interval: as in `connect`, for every accepted connection
        keepalive_count: as in `connect`, for every accepted connection
        kwargs: passed to `asyncio.loop.create_server` (``ssl``: an
            `ssl.SSLContext` or ``None``; ``reuse_address``, ...);
            ``backlog`` defaults to `DEFAULT_BACKLOG`

    Raises:
        TypeError, ValueError: malformed address or argument, before any
            socket is touched
        OSError: the address could not be bound (for example already in use)

    """
    if not callable(connection_cb):
        raise TypeError(f'connection_cb must be callable, not '
                        f'{type(connection_cb).__name__}')
    _check_bool('bind_connections', bind_connections)
    host, port = _check_addr(addr, listening=True)
    _check_ssl(kwargs, listening=True)
    settings = _make_settings(name, input_buffer_limit, half_close,
                              close_timeout, keepalive_idle,
                              keepalive_interval, keepalive_count, kwargs)
    kwargs.setdefault('backlog', DEFAULT_BACKLOG)
    loop = asyncio.get_running_loop()
    # asyncio's own loop reports failed server-side TLS handshakes only in
    # debug mode, so there the server runs the handshakes itself (start_tls)
    # to log them; the start_tls of uvloop and of Python 3.10's asyncio
    # fails on accepted connections, so there the loop keeps doing them
    tls = None
    if (kwargs.get('ssl') is not None and _SERVER_START_TLS and
            isinstance(loop, asyncio.BaseEventLoop)):
        tls = {'sslcontext': kwargs.pop('ssl')}
        for key in ('ssl_handshake_timeout', 'ssl_shutdown_timeout'):
            if key in kwargs:
                tls[key] = kwargs.pop(key)

    # asyncio's own accept loop meets EMFILE by calling the exception
    # handler and setting a retry timer for every slot of the backlog, and
    # those timers fire on the closed socket after the server is closed:
    # on asyncio's selector loops the server accepts itself
    accept = (isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)
              and kwargs.get('ssl') is None and 'start_serving' not in kwargs)
    if accept:
        kwargs['start_serving'] = False

    server = Server.__new__(Server)
    server._init(connection_cb, bind_connections, settings, tls)
    factory = functools.partial(_Protocol, settings, server._on_transport)
    try:
        srv = await loop.create_server(factory, host or None, port,
                                       **kwargs)
        if accept:
            try:
                server._start_accepting(srv, factory, kwargs['backlog'])

            except BaseException:
                srv.close()
                raise

    except OSError as e:
        server._group.close()
        reason = _os_reason(e) or repr(e)
        raise OSError(e.errno,
                      f'listening on {host}:{port} failed: {reason}') from e

    except BaseException:
        server._group.close()
        raise

    server._srv = srv
    server._addresses = [_sock_addr(sock.getsockname())
                         for sock in srv.sockets]
    return server


class Server(aio.Resource):
    """TCP server created by `listen`.

    Closing the server stops accepting connections and cancels running
    connection callbacks (their connections are closed).

    """

    def _init(self,
              connection_cb: ConnectionCb,
              bind_connections: bool,
              settings: _Settings,
              tls: dict[str, typing.Any] | None
              ) -> None:
        self._connection_cb = connection_cb
        self._tls = tls
        self._settings = settings
        self._conns: set[Connection] | None = (set() if bind_connections
                                               else None)
        self._srv: asyncio.AbstractServer | None = None
        self._addresses: list[Address] = []
        # accepting by the server itself (see listen): listening sockets,
        # retry timer, failures not yet logged, time of the last log
        self._accept_socks: list[socket.socket] = []
        self._accept_factory: Callable[[], _Protocol] | None = None
        self._accept_batch = 1
        self._accept_timer: asyncio.TimerHandle | None = None
        self._accept_failures = 0
        self._accept_logged: float | None = None
        # tasks setting up accepted connections (plain tasks rather than
        # self._group.spawn: a group task costs a shield and two callbacks
        # more per connection, 4 % of a connect/close cycle; protects the
        # churn row of benchmarks/bench_tcp.py)
        self._accept_tasks: set[asyncio.Task[None]] = set()
        self._group = aio.Group()
        self._group.spawn(aio.call_on_cancel, self._on_close)

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._group

    @property
    def addresses(self) -> list[Address]:
        """Addresses the server listens on, with the real bound ports (one
        per listening socket: a wildcard host gives one per address family,
        and port 0 may then pick a different port for each)"""
        return list(self._addresses)

    @property
    def name(self) -> str | None:
        """Name given to `listen`"""
        return self._settings.name

    # the lifetime members of aio.Resource, annotated (hat-aio's are not,
    # which mypy --strict users see as calls of untyped functions)

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        return self._group.is_open

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self._group.is_closing

    @property
    def is_closed(self) -> bool:
        """``True`` once closed: not listening, connection callbacks
        ended and, with ``bind_connections``, every accepted connection
        closed"""
        return self._group.is_closed

    async def wait_closing(self) -> None:
        """Wait until the server is closing or closed"""
        await self._group.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until the server is closed"""
        await self._group.wait_closed()

    def close(self) -> None:
        """Start closing the server (see `listen` for what happens to the
        connections it accepted)"""
        self._group.close()

    async def async_close(self) -> None:
        """Close the server and wait until it is closed"""
        await self._group.async_close()

    async def __aenter__(self) -> 'Server':
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.async_close()

    def _start_accepting(self,
                         srv: asyncio.Server,
                         factory: Callable[[], '_Protocol'],
                         backlog: int
                         ) -> None:
        # a duplicate of each listening socket (the asyncio server keeps
        # and closes its own), read by the loop for incoming connections
        loop = asyncio.get_running_loop()
        self._accept_factory = factory
        self._accept_batch = max(backlog, 1)
        for listening in srv.sockets:
            sock = listening.dup()
            self._accept_socks.append(sock)
            sock.setblocking(False)
            sock.listen(backlog)
        for sock in self._accept_socks:
            loop.add_reader(sock.fileno(), self._on_accept, sock)

    def _stop_accepting(self) -> None:
        loop = asyncio.get_running_loop()
        if self._accept_timer is not None:
            self._accept_timer.cancel()
            self._accept_timer = None
        for sock in self._accept_socks:
            loop.remove_reader(sock.fileno())
            sock.close()
        self._accept_socks = []

    def _on_accept(self, sock: socket.socket) -> None:
        # as many connections as the backlog holds, like asyncio's loop
        for _ in range(self._accept_batch):
            try:
                conn, _ = sock.accept()

            except (BlockingIOError, InterruptedError,
                    ConnectionAbortedError):
                return

            except OSError as e:
                self._on_accept_failed(e)
                return

            conn.setblocking(False)
            if not self._group.is_open:
                conn.close()
                return
            task = asyncio.get_running_loop().create_task(
                self._connect_accepted(conn))
            self._accept_tasks.add(task)
            task.add_done_callback(self._accept_tasks.discard)

    def _on_accept_failed(self, exc: OSError) -> None:
        # out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) or
        # another failure: stop reading the listening sockets (the kernel
        # reports them ready again at once) and retry later; logged at most
        # once per _ACCEPT_LOG_INTERVAL
        loop = asyncio.get_running_loop()
        self._accept_failures += 1
        now = loop.time()
        if (self._accept_logged is None or
                now - self._accept_logged >= _ACCEPT_LOG_INTERVAL):
            mlog.error('server %s%s: accepting connections failed: %s '
                       '(%s time(s) since last logged); retrying every %s s',
                       f'{self.name} ' if self.name else '',
                       ', '.join(f'{a.host}:{a.port}'
                                 for a in self._addresses),
                       exc, self._accept_failures, ACCEPT_RETRY_DELAY)
            self._accept_logged = now
            self._accept_failures = 0
        for sock in self._accept_socks:
            loop.remove_reader(sock.fileno())
        if self._accept_timer is None:
            self._accept_timer = loop.call_later(ACCEPT_RETRY_DELAY,
                                                 self._on_accept_retry)

    def _on_accept_retry(self) -> None:
        self._accept_timer = None
        if not self._group.is_open:
            return
        loop = asyncio.get_running_loop()
        for sock in self._accept_socks:
            loop.add_reader(sock.fileno(), self._on_accept, sock)

    async def _connect_accepted(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        factory = typing.cast(Callable[[], _Protocol], self._accept_factory)
        try:
            await loop.connect_accepted_socket(factory, sock)

        except BaseException as e:
            # the transport, if one was made, has closed the socket
            sock.close()
            if not isinstance(e, Exception):
                raise
            mlog.warning('setting up an accepted connection failed: %r', e)

    def _on_transport(self,
                      protocol: '_Protocol',
                      transport: asyncio.Transport
                      ) -> None:
        conn = protocol.conn
        if self._tls is None:
            self._on_connection(conn)

        elif self._group.is_open:
            transport.pause_reading()
            self._group.spawn(self._start_tls, conn, protocol, transport)

        else:
            transport.close()

    async def _start_tls(self,
                         conn: 'Connection',
                         protocol: '_Protocol',
                         transport: asyncio.Transport
                         ) -> None:
        loop = asyncio.get_running_loop()
        try:
            tls = typing.cast(dict[str, typing.Any], self._tls)
            conn._transport = typing.cast(asyncio.Transport,
                                          await loop.start_tls(
                transport, protocol, server_side=True, **tls))

        except Exception as e:
            # start_tls has closed the transport
            conn._log(logging.WARNING, 'TLS handshake failed: %r', e)
            conn._on_lost(None)
            return

        if conn._reading_paused and not conn._closing:
            # input that came with the handshake reached the connection
            # before the switch and paused the plain transport: the TLS
            # transport reads from now on, so it is the one to pause
            transport.resume_reading()
            conn._transport.pause_reading()

        self._on_connection(conn)

    def _on_connection(self, conn: 'Connection') -> None:
        if not self._group.is_open:
            conn.close()
            return

        if self._conns is not None:
            self._conns.add(conn)
            conn._on_lost_cb = self._conns.discard

        try:
            result = self._connection_cb(conn)

        except Exception as e:
            conn._log(logging.ERROR, 'connection callback error: %s', e,
                      exc_info=e)
            conn.close()
            return

        if result is not None and (asyncio.iscoroutine(result) or
                                   asyncio.isfuture(result)):
            self._group.spawn(self._wait_connection_cb, conn, result)

    async def _wait_connection_cb(self,
                                  conn: 'Connection',
                                  result: typing.Awaitable[None]
                                  ) -> None:
        try:
            await result

        except asyncio.CancelledError:
            conn.close()
            raise

        except Exception as e:
            conn._log(logging.ERROR, 'connection callback error: %s', e,
                      exc_info=e)
            conn.close()

    async def _on_close(self) -> None:
        self._stop_accepting()
        if self._accept_tasks:
            tasks = list(self._accept_tasks)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
        if self._srv is not None:
            self._srv.close()

        if self._conns:
            conns = list(self._conns)
            for conn in conns:
                conn.close()
            await asyncio.gather(*(conn.wait_closed() for conn in conns))


class Connection(aio.Resource):
    """TCP connection.

    Connections are usually created by `connect` and `listen`. The
    constructor wraps an existing `asyncio.StreamReader` and
    `asyncio.StreamWriter` pair (for example from `asyncio.open_connection`):
    the connection takes over their transport, including bytes the reader
    has already buffered; do not use the reader and writer afterwards. If
    `async_group` is given, closing it closes the connection. Keyword
    arguments are as in `connect`.

    A connection is open until it is closed, the peer closes it (EOF, unless
    `half_close`) or it fails; then `is_open` is ``False``. It is closed
    (`is_closed`) once its socket is released.

    """

    _group: aio.Group | None

    def __init__(self,
                 reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter,
                 async_group: aio.Group | None = None,
                 *,
                 name: str | None = None,
                 input_buffer_limit: int = DEFAULT_INPUT_BUFFER_LIMIT,
                 half_close: bool = False,
                 close_timeout: float | None = DEFAULT_CLOSE_TIMEOUT,
                 keepalive_idle: float | None = None,
                 keepalive_interval: float | None = None,
                 keepalive_count: int | None = None):
        if not isinstance(reader, asyncio.StreamReader):
            raise TypeError(f'reader must be asyncio.StreamReader, not '
                            f'{type(reader).__name__}')
        if not isinstance(writer, asyncio.StreamWriter):
            raise TypeError(f'writer must be asyncio.StreamWriter, not '
                            f'{type(writer).__name__}')
        if async_group is not None and not isinstance(async_group,
                                                      aio.Group):
            raise TypeError(f'async_group must be hat.aio.Group or None, '
                            f'not {type(async_group).__name__}')
        settings = _make_settings(name, input_buffer_limit, half_close,
                                  close_timeout, keepalive_idle,
                                  keepalive_interval, keepalive_count)
        transport = typing.cast(asyncio.Transport, writer.transport)
        settings = settings._replace(
            tls=transport.get_extra_info('sslcontext') is not None)
        protocol = _Protocol(settings, conn=self)
        self._init(transport, settings)
        self._stream_writer = writer  # its __del__ closes the transport
        try:
            self._setup()

        except Exception as e:
            transport.abort()
            raise ConnectionError(f'setting up the connection failed: {e}'
                                  ) from e

        # the reader's buffer is private to asyncio, but there is no public
        # way to take buffered bytes synchronously
        buffered = bytes(reader._buffer)  # type: ignore[attr-defined]
        reader._buffer.clear()  # type: ignore[attr-defined]
        transport.set_protocol(protocol)
        high = transport.get_write_buffer_limits()[1]
        self._write_paused = transport.get_write_buffer_size() > high

        if async_group is not None:
            self._group = async_group.create_subgroup()
            self._group.spawn(aio.call_on_cancel, self.async_close)

        if buffered:
            self._on_data(buffered)

        if transport.is_closing():
            self._on_lost(reader.exception())

        elif reader.at_eof():
            self._on_eof()

        elif not self._reading_paused and not transport.is_reading():
            # paused by the StreamReader's own limit, not by ours
            transport.resume_reading()

    def _init(self, transport: asyncio.Transport, settings: _Settings
              ) -> None:
        # every attribute, and nothing that can fail (see _setup)
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._settings = settings
        # 0 (no limit) as a limit that is never reached keeps checks cheap
        self._limit = settings.input_buffer_limit or sys.maxsize
        # raw addresses now (uvloop cannot tell them after close), the
        # ConnectionInfo on first use
        self._names = _raw_addresses(transport)
        self._info: ConnectionInfo | None = None
        self._chunks: list[bytes] = []
        self._head = 0
        self._avail = 0
        self._readers: list[_Waiter] = []
        # the waiter of the last read that completed, for the next one
        self._spare: _Waiter | None = None
        self._eof = False
        self._reading_paused = False
        self._wbuf: bytes | bytearray | None = None
        self._write_paused = False
        self._drainers: list[asyncio.Future[None]] | None = None
        self._closing = False
        # why the connection closes: 'closed locally', 'closed by peer',
        # 'reset by peer', 'lost: ...', with the error class to raise
        self._reason: tuple[str, type[ConnectionError]] | None = None
        # reading paused: polls whether the peer sent FIN or RST
        self._poll_timer: asyncio.TimerHandle | None = None
        self._lost = False
        self._lost_exc: BaseException | None = None
        self._closing_waiters: list[asyncio.Future[None]] | None = None
        self._closed_waiters: list[asyncio.Future[None]] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._group = None
        self._on_lost_cb: Callable[['Connection'], None] | None = None
        self._bytes_sent = 0
        self._bytes_received = 0
        # TLS: drains until drain next asks the socket whether it was reset
        self._tls_drains = 1

    def _setup(self) -> None:
        # what may fail while setting up a new connection
        if self._settings.keepalive:
            _set_keepalive(self._transport.get_extra_info('socket'),
                           *self._settings.keepalive)

        if _comm_cache.get(_DEBUG, True):
            self._log(_DEBUG, 'connection opened', logger=comm_log)

    @property
    def async_group(self) -> aio.Group:
        """Async group (created on first use; closing it closes the
        connection)"""
        if self._group is None:
            self._group = aio.Group()
            self._group.spawn(aio.call_on_cancel, self.async_close)
            if self._closing:
                self._group.close()

        return self._group

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        return not self._closing

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self._closing

    @property
    def is_closed(self) -> bool:
        """``True`` once the socket is released"""
        return self._lost

    async def wait_closing(self) -> None:
        """Wait until the connection is closing or closed"""
        if not self._closing:
            if self._closing_waiters is None:
                self._closing_waiters = []
            await _wait_for_wake(self._loop, self._closing_waiters)

    async def wait_closed(self) -> None:
        """Wait until the connection is closed (socket released)"""
        if not self._lost:
            if self._closed_waiters is None:
                self._closed_waiters = []
            await _wait_for_wake(self._loop, self._closed_waiters)

    def close(self) -> None:
        """Start closing the connection.

        Pending reads fail with `ConnectionError`; bytes already received
        stay readable. Data already written is flushed, then FIN is sent.
        Input that arrives after `close` is discarded (counted in
        `bytes_received`, never readable). Where the peer's input is still
        unread in the socket or reading is paused, the socket is kept
        until the peer's EOF, reading and discarding, so that the peer
        gets the data and the FIN and not a reset that could destroy them
        (Linux resets a connection closed with unread input). All of
        closing takes at most `close_timeout` seconds (10 s by default) of
        the peer accepting no data (and at most that for its EOF or a TLS
        shutdown); then the connection is aborted (RST). On TLS,
        close_notify follows once the peer has accepted all data, and input
        is discarded until the peer's close_notify or EOF.

        Never raises: where the transport, the socket or the TLS layer
        turns out to be gone already, the connection is aborted and ends
        with the peer's reason (for example reset by peer).

        """
        if self._closing:
            return

        # every transport call of closing is guarded here: whatever state
        # the transport, the socket or the TLS layer is in, close() does
        # not raise (see _close_failed)
        try:
            self._close()

        except Exception as e:
            self._close_failed(e)

    def _close(self) -> None:
        transport = self._transport
        if transport.is_closing():
            # the transport found the connection lost and connection_lost
            # is still to come (on TLS: the TLS layer saw the raw socket
            # fail); it tells why. Closing asyncio's TLS transport a second
            # time would drop its protocol.
            self._wbuf = None
            self._set_closing('lost: transport closed')
            return

        eof = self._eof
        self._flush()
        self._set_closing('closed locally')
        timer = bool(transport.get_write_buffer_size())
        if eof or self._lost:
            transport.close()

        elif self._settings.tls:
            # TLS: discard input until the peer has accepted all data, then
            # close_notify (see _LingeringProtocol.close_step)
            protocol = _LingeringProtocol(self)
            transport.set_protocol(protocol)
            if self._reading_paused:
                self._reading_paused = False
                transport.resume_reading()
            protocol.close_step(-1, 0)
            timer = True

        else:
            sock = transport.get_extra_info('socket')
            if not self._reading_paused and not _unread(sock):
                if timer or _queued(sock):
                    # written data the peer has not acknowledged yet: input
                    # arriving after a close would make the kernel answer
                    # with RST and drop it. FIN after the data, then
                    # discard input until the peer has acknowledged all
                    # (see _LingeringProtocol.close_step).
                    protocol = _LingeringProtocol(self)
                    transport.set_protocol(protocol)
                    transport.write_eof()
                    protocol.close_step(-1, 0)
                    timer = True
                else:
                    transport.close()

            elif err_no := _sock_error(sock):
                # reset (or failed) before this close: nothing to linger
                # for (see _close_failed)
                raise OSError(err_no, os.strerror(err_no))

            else:
                # FIN after the pending data, then discard input until EOF
                transport.set_protocol(_LingeringProtocol(self))
                transport.write_eof()
                if self._reading_paused:
                    self._reading_paused = False
                    transport.resume_reading()
                timer = True

        if timer and self._settings.close_timeout is not None and \
                not self._lost:
            now = self._loop.time()
            self._close_timer = self._loop.call_at(
                now + self._close_poll_interval(), self._on_close_timer,
                self._unsent(), now)

    def _close_failed(self, exc: Exception) -> None:
        # a transport call of closing failed: the socket or the TLS layer
        # was already gone. The connection is aborted; its reason is the
        # peer's (from the socket's pending error where it still has one)
        # rather than the local close that found it.
        try:
            if not self._closing:
                self._set_closing('closed locally')
            sock = self._transport.get_extra_info('socket')
            err_no = _sock_error(sock)
            if err_no:
                exc = OSError(err_no, os.strerror(err_no))
            if self._reason is None or self._reason[0] in (
                    'closed locally', 'lost: transport closed'):
                self._reason = None
                self._set_reason('reset by peer'
                                 if isinstance(exc, ConnectionResetError)
                                 else f'lost: {exc}', exc)
            if self._lost_exc is None:
                self._lost_exc = exc
            self._log(logging.DEBUG, 'closing failed (%r): aborting', exc)

        except Exception:
            pass

        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        with contextlib.suppress(Exception):
            self._transport.abort()

    async def async_close(self) -> None:
        """Close the connection (see `close`) and wait until it is closed.

        Cancelling this call does not stop the closing.

        """
        self.close()
        if not self._lost:
            if self._closed_waiters is None:
                self._closed_waiters = []
            await _wait_for_wake(self._loop, self._closed_waiters)

    async def __aenter__(self) -> 'Connection':
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.async_close()

    @property
    def info(self) -> ConnectionInfo:
        """Connection info"""
        if self._info is None:
            sockname, peername = self._names
            self._info = ConnectionInfo(local_addr=_sock_addr(sockname),
                                        remote_addr=_sock_addr(peername))
        return self._info

    @property
    def name(self) -> str | None:
        """Name given to `connect` or `listen`"""
        return self._settings.name

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """TLS session object (``None`` for plain TCP)"""
        return typing.cast(ssl.SSLObject | None,
                           self._transport.get_extra_info('ssl_object'))

    @property
    def bytes_sent(self) -> int:
        """Number of bytes handed to the transport for sending (coalesced
        writes count once they are sent, at the next loop iteration)"""
        return self._bytes_sent

    @property
    def bytes_received(self) -> int:
        """Number of bytes received from the peer"""
        return self._bytes_received

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Write data.

        The data is copied (the caller may reuse its buffer) and sent
        without waiting: a write following received data (or a flush) is
        handed to the socket at once; writes that follow it before anything
        is received are coalesced and sent together at the start of the
        next event loop iteration (no timer delays them). Call `drain` to
        apply backpressure.

        Raises:
            TypeError: data is not bytes, bytearray or memoryview
            ConnectionError: connection is closing or closed, or the
                transport found it broken (a `ConnectionError` subclass
                where the cause is one, see `connect`)

        """
        if self._closing:
            raise self._closed_error('write to')

        if data.__class__ is not bytes:
            data = _to_bytes(data)
        if not data:
            return

        # _wbuf: None - next write is sent at once; _SENT - a write was sent
        # at once and nothing was received since, so coalesce; otherwise
        # pending bytes, with a flush scheduled for the next iteration
        wbuf = self._wbuf
        if wbuf is None:
            if self._transport.is_closing():
                # broken, and connection_lost is still to come
                self._set_closing('lost: transport closed')
                raise self._closed_error('write to')
            self._wbuf = _SENT
            self._bytes_sent += len(data)
            if (_comm_cache.get(_DEBUG, True) and
                    comm_log.isEnabledFor(_DEBUG)):
                self._log_data('sent', data)
            self._transport.write(data)

        elif wbuf is _SENT:
            self._wbuf = data
            self._loop.call_soon(self._flush)

        else:
            if wbuf.__class__ is bytes:
                wbuf = self._wbuf = bytearray(wbuf)
            wbuf += data

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the peer has accepted enough of the written data.

        Sends pending writes now. Returns without suspending unless the
        transport's write buffer is above its high-water mark (then it
        waits until the buffer falls below the low-water mark) or the
        transport found the connection broken, or on TLS (Linux) the
        socket under the TLS layer was reset (then it lets the event loop
        report the loss and raises).

        Args:
            coalesce: with ``True``, writes coalesced in this event loop
                iteration (see `write`) are not sent now while they total
                less than `COALESCE_LIMIT` bytes: they go together at the
                start of the next iteration, as `write` says, in one send
                instead of one per drain. For a server answering a batch of
                requests with write and drain each: what waits unsent
                beyond the high-water mark is less than `COALESCE_LIMIT`
                bytes plus the last write. Default ``False``.

        Raises:
            ConnectionError: connection is closing or closed, also when it
                closes while waiting (a `ConnectionError` subclass where the
                cause is one, see `connect`)

        """
        if self._closing:
            raise self._closed_error('drain')

        if not coalesce or len(self._wbuf or b'') >= COALESCE_LIMIT:
            self._flush()
        transport = self._transport
        if transport.is_closing() or (
                self._settings.tls and self._tls_socket_reset()):
            # a failed send: let connection_lost tell why
            self._set_closing('lost: transport closed')
            if not self._lost:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wait_closed(), 1)
            if not self._lost:
                # a TLS transport that has not noticed yet (reading paused)
                # is not left open: closing is over for this connection
                with contextlib.suppress(Exception):
                    self._transport.abort()
            raise self._closed_error('drain')

        if not self._write_paused:
            return

        if self._drainers is None:
            self._drainers = []
        await _wait_for_wake(self._loop, self._drainers)

        if self._closing:
            raise self._closed_error('drain')

    def _tls_socket_reset(self) -> bool:
        # A TLS transport learns that the socket under it was reset only
        # from the event loop, later; the socket's own state (a system
        # call of about 2 us) tells at once. Asked on every
        # _TLS_DRAIN_CHECK-th drain: a producer loop gets ConnectionError
        # within that many iterations.
        self._tls_drains -= 1
        if self._tls_drains > 0:
            return False

        self._tls_drains = _TLS_DRAIN_CHECK
        return _sock_reset(self._transport.get_extra_info('socket'))

    async def read(self, n: int = -1) -> bytes:
        """Read up to `n` bytes.

        Waits until at least one byte is available, then returns at most
        `n` of the available bytes. If `n` is -1, returns every byte
        available now. Unlike `asyncio.StreamReader.read`, this never waits
        for EOF. `read(0)` returns ``b''`` at once.

        Cancelling a waiting read consumes nothing.

        Raises:
            TypeError: `n` is not an integer
            ValueError: `n` is negative other than -1
            ConnectionError: no byte is buffered and the connection got EOF
                or is closed

        """
        if n.__class__ is not int or n < -1:
            n = _check_count(n, allow_all=True)

        if n == 0:
            return b''

        readers = self._readers
        if not self._avail or readers:
            waiter = self._spare
            if waiter is None:
                waiter = _Waiter(self._loop, 1)
            else:
                self._spare = None
                waiter.need = 1
                waiter._state = _PENDING
            readers.append(waiter)
            if self._eof or self._reading_paused:
                self._on_enqueue()
            try:
                await waiter
                while not self._avail and not self._eof:
                    # still first in the queue: only the first is woken
                    waiter = readers[0] = _Waiter(self._loop, 1)
                    await waiter

            except BaseException:
                self._dequeue(waiter)
                raise

            del readers[0]
            self._spare = waiter

        avail = self._avail
        if not avail:
            self._wake()
            raise self._closed_error('read from')

        if n < 0 or n > avail:
            n = avail
        data = self._chunks[0]
        if len(data) == n and not self._head and not self._reading_paused:
            # the first chunk is exactly what is asked for
            del self._chunks[0]
            self._avail = avail - n
        else:
            data = self._take(n)
        if readers:
            self._wake()
        return data

    async def readexactly(self, n: int) -> bytes:
        """Read exactly `n` bytes.

        Nothing is allocated for `n` up front, but while this read waits the
        input buffer may grow to `n` bytes, beyond `input_buffer_limit`:
        bound `n` when it comes from an untrusted peer. Cancelling a waiting
        read consumes nothing. `readexactly(0)` returns ``b''`` at once.

        Raises:
            TypeError: `n` is not an integer
            ValueError: `n` is negative
            ConnectionError: EOF or closing before `n` bytes were received;
                the bytes that were received are consumed

        """
        if n.__class__ is not int or n < 1:
            n = _check_count(n, allow_all=False)
            if not n:
                return b''

        readers = self._readers
        if self._avail < n or readers:
            waiter = self._spare
            if waiter is None:
                waiter = _Waiter(self._loop, n)
            else:
                self._spare = None
                waiter.need = n
                waiter._state = _PENDING
            readers.append(waiter)
            if self._eof or self._reading_paused:
                self._on_enqueue()
            try:
                await waiter
                while self._avail < n and not self._eof:
                    # still first in the queue: only the first is woken
                    waiter = readers[0] = _Waiter(self._loop, n)
                    await waiter

            except BaseException:
                self._dequeue(waiter)
                raise

            del readers[0]
            self._spare = waiter

            if self._avail < n:
                if self._avail:
                    self._take(self._avail)
                self._wake()
                raise self._closed_error('read from')

        data = self._chunks[0]
        if len(data) == n and not self._head and not self._reading_paused:
            # the first chunk is exactly what is asked for
            del self._chunks[0]
            self._avail -= n
        else:
            data = self._take(n)
        if readers:
            self._wake()
        return data

    async def readuntil(self, separator: bytes = b'\n') -> bytes:
        """Read up to and including the first `separator`.

        For line or delimiter framed protocols: returns the bytes up to
        and including `separator` (default ``b'\\n'``), as
        `asyncio.StreamReader.readuntil` does. Keeps the guarantees of
        the other reads: served in call order with them, returns without
        suspending when a separator is already buffered, and consumes
        nothing unless it returns (a cancelled or failed call leaves every
        byte readable). Bounded by `input_buffer_limit`: at most that many
        bytes may come before the separator; while the call waits for the
        separator below that bound, reading continues even above the
        limit (at most the limit plus the separator's length and one
        received chunk are buffered).

        Args:
            separator: delimiter (bytes, bytearray or memoryview; not
                empty)

        Returns:
            the bytes before the separator followed by the separator

        Raises:
            TypeError: `separator` is not bytes, bytearray or memoryview
            ValueError: `separator` is empty
            LimitOverrunError: no separator within the first
                `input_buffer_limit` bytes (a `ValueError` and an
                `asyncio.LimitOverrunError`); the bytes stay buffered and
                readable
            ConnectionError: EOF or closing before a separator came
                (the class as for `readexactly`); the bytes that came
                without a separator are not consumed: `read` returns them

        """
        if separator.__class__ is not bytes or not separator:
            separator = _check_separator(separator)

        size = len(separator)
        limit = self._settings.input_buffer_limit or sys.maxsize
        # what a search has covered: see _find
        scan: list[typing.Any] = [-1, 0, 0, b'']
        readers = self._readers
        n = -1 if readers or not self._avail else self._find(separator,
                                                              scan)
        if n < 0 and (readers or self._avail - size < limit):
            # behind other reads: need 0, to look as soon as it is first;
            # else more than what is buffered
            need = 0 if readers else self._avail + 1
            waiter = self._spare
            if waiter is None:
                waiter = _Waiter(self._loop, need)
            else:
                self._spare = None
                waiter.need = need
                waiter._state = _PENDING
            readers.append(waiter)
            if self._eof or self._reading_paused:
                self._on_enqueue()
            try:
                await waiter
                while True:
                    n = self._find(separator, scan)
                    avail = self._avail
                    if n >= 0 or self._eof or avail - size >= limit:
                        break
                    # still first in the queue: woken by more input (or
                    # by reset_input_buffer)
                    waiter = readers[0] = _Waiter(self._loop, avail + 1)
                    if self._reading_paused:
                        self._update_reading()
                    await waiter

            except BaseException:
                self._dequeue(waiter)
                raise

            del readers[0]
            self._spare = waiter

        if n < 0 or n - size > limit:
            self._wake()
            self._update_reading()
            if n >= 0 or self._avail - size >= limit:
                consumed = n - size if n >= 0 else self._avail + 1 - size
                raise LimitOverrunError(
                    f'separator {separator!r} not found within the input '
                    f'limit of {limit} bytes', consumed)
            raise self._closed_error('read from')

        data = self._take(n)
        if readers:
            self._wake()
        return data

    def _find(self, separator: bytes, scan: list[typing.Any]) -> int:
        # length of the buffered bytes up to and including the first
        # `separator`, or -1. `scan` is what the last search of the same
        # buffer covered, so that input arriving in small pieces is
        # searched once: [bytes consumed before the buffer (the buffer
        # changed if this did), chunks searched, their bytes, the last
        # len(separator) - 1 of those bytes]
        mark = self._bytes_received - self._avail
        if scan[0] != mark:
            scan[:] = [mark, 0, 0, b'']
        index: int = scan[1]
        offset: int = scan[2]
        tail: bytes = scan[3]
        chunks = self._chunks
        size = len(separator)
        while index < len(chunks):
            chunk = chunks[index]
            start = self._head if not index else 0
            if tail:
                # a separator across the boundary to the previous chunk
                i = (tail + chunk[start:start + size - 1]).find(separator)
                if i >= 0:
                    return offset - len(tail) + i + size
            i = chunk.find(separator, start)
            if i >= 0:
                return offset + i - start + size
            offset += len(chunk) - start
            if size > 1:
                tail = (tail + chunk[max(start, len(chunk) + 1 - size):]
                        )[1 - size:]
            index += 1
        scan[1:] = index, offset, tail
        return -1

    async def reset_input_buffer(self) -> int:
        """Discard every buffered unread byte; return how many there were.

        Pending reads keep waiting for new bytes. Typical use, after a
        framing error:

            discarded = await conn.reset_input_buffer()
            conn.write(request)  # start over with a fresh request

        """
        count = self._avail
        self._chunks.clear()
        self._head = 0
        self._avail = 0
        if self._readers:
            # a pending readuntil waits for more than it had: it looks
            # again (the other reads wait again for their count)
            self._readers[0].wake_soon()
        if self._reading_paused:
            self._update_reading()
        return count

    # Waiting readers form a queue of waiters. The first one is woken once
    # its `need` bytes are available or at EOF; its reader then consumes,
    # leaves the queue and wakes the next one. Nothing is consumed for a
    # reader before it runs, so cancelling a waiting reader loses nothing.
    # A woken reader that finds fewer than `need` bytes (reset_input_buffer
    # ran in between) waits again.
    #
    # The hot paths (read, readexactly, _on_data) are written out inline: a
    # Python call per message costs a few percent of throughput. For the
    # same reason the waiter of a completed read is kept (`_spare`) and
    # reused by the next read: its task has resumed and let go of it, and
    # its callback is gone. Cancelled waiters are never reused.

    def _on_enqueue(self) -> None:
        # a reader joined the queue at EOF or with reading paused
        if self._eof:
            self._wake()
        if self._reading_paused:
            self._update_reading()

    def _dequeue(self, waiter: '_Waiter') -> None:
        # a reader leaves the queue early (cancelled or failed); the reader
        # behind it may need more than reading was paused at
        self._readers.remove(waiter)
        self._wake()
        if self._reading_paused:
            self._update_reading()

    def _wake(self) -> None:
        readers = self._readers
        if readers:
            waiter = readers[0]
            if self._avail >= waiter.need or self._eof:
                waiter.wake_soon()

    def _take(self, n: int) -> bytes:
        self._avail -= n
        if self._reading_paused:
            self._update_reading()

        chunks = self._chunks
        chunk = chunks[0]
        head = self._head
        end = head + n
        size = len(chunk)
        if end < size:
            self._head = end
            return chunk[head:end]

        del chunks[0]
        self._head = 0
        if end == size:
            return chunk[head:] if head else chunk

        parts: list[bytes | memoryview] = [memoryview(chunk)[head:]]
        n = end - size
        while n:
            chunk = chunks[0]
            size = len(chunk)
            if n < size:
                parts.append(memoryview(chunk)[:n])
                self._head = n
                break

            parts.append(chunk)
            del chunks[0]
            n -= size

        return b''.join(parts)

    def _update_reading(self) -> None:
        if self._closing:
            return

        readers = self._readers
        avail = self._avail
        starving = bool(readers) and readers[0].need > avail
        if self._reading_paused:
            if starving or avail <= self._limit // 2:
                self._reading_paused = False
                self._transport.resume_reading()

        elif avail > self._limit and not starving:
            self._reading_paused = True
            self._transport.pause_reading()
            if self._poll_timer is None and _TCP_INFO is not None:
                self._poll_timer = self._loop.call_later(
                    PAUSED_POLL_INTERVAL, self._on_poll_timer)

    def _on_poll_timer(self) -> None:
        # reading is paused (or was, at the last poll): the socket's TCP
        # state tells whether the peer has sent FIN or RST; if it has, all
        # it sent is in the kernel's buffer, so reading it all in is
        # bounded, and the EOF or reset then arrives as usual.
        # Or the peer's EOF was kept open (half_close): reading has ended,
        # so a RST after the FIN is seen only in the TCP state (CLOSE)
        self._poll_timer = None
        if self._closing:
            return

        if self._eof:
            sock = self._transport.get_extra_info('socket')
            if _sock_reset(sock):
                self._transport.abort()
                self._on_lost(ConnectionResetError(
                    errno.ECONNRESET, 'connection reset by peer after its '
                    'EOF'))
                return

        elif not self._reading_paused:
            return

        elif _peer_done(self._transport.get_extra_info('socket')):
            # read all it sent, whatever the limit
            self._limit = sys.maxsize
            self._reading_paused = False
            self._transport.resume_reading()
            return

        self._poll_timer = self._loop.call_later(PAUSED_POLL_INTERVAL,
                                                 self._on_poll_timer)

    def _flush(self) -> None:
        data = self._wbuf
        self._wbuf = None
        if data and not self._lost:
            self._bytes_sent += len(data)
            if (_comm_cache.get(_DEBUG, True) and
                    comm_log.isEnabledFor(_DEBUG)):
                self._log_data('sent', data)
            self._transport.write(data)

    def _set_reason(self, reason: str,
                    exc: BaseException | None = None) -> None:
        # the first reason stands, but a loss the transport found (write,
        # drain) is told more exactly by connection_lost
        if self._reason is None or (exc is not None and
                                    self._reason[0].startswith('lost')):
            self._reason = reason, _error_class(exc)

    def _set_closing(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason, ConnectionError
        self._closing = True
        self._eof = True
        if self._readers:
            self._wake()
        if self._drainers:
            _wake_all(self._drainers)
        if self._closing_waiters:
            _wake_all(self._closing_waiters)

        if self._group is not None:
            self._group.close()

    def _close_poll_interval(self) -> float:
        # closing samples the peer's progress this often, so an abort
        # comes at most this much after `close_timeout`
        return (typing.cast(float, self._settings.close_timeout) *
                CLOSE_POLL_FRACTION)

    def _on_close_timer(self, last_size: int, last_progress: float
                        ) -> None:
        # last_size: the least unsent size seen; last_progress: when it was
        # first seen (or when closing started)
        self._close_timer = None
        if self._lost:
            return

        try:
            now = self._loop.time()
            size = self._unsent()
            if size < last_size:
                last_size, last_progress = size, now
            timeout = typing.cast(float, self._settings.close_timeout)
            deadline = last_progress + timeout
            # timers of uvloop have millisecond resolution
            if now < deadline - 0.002:
                self._close_timer = self._loop.call_at(
                    min(now + self._close_poll_interval(), deadline),
                    self._on_close_timer, last_size, last_progress)
                return

            idle = now - last_progress
            if size:
                self._log(logging.WARNING,
                          'peer accepted no data for %.3f s while closing '
                          '(close_timeout %s s): aborting', idle, timeout)
            else:
                self._log(logging.WARNING,
                          'peer did not finish closing (EOF or TLS '
                          'shutdown) for %.3f s (close_timeout %s s): '
                          'aborting', idle, timeout)
            # linger 0: the peer gets RST, so it cannot take the truncated
            # stream for a complete one
            sock = self._transport.get_extra_info('socket')
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack('ii', 1, 0))
            self._transport.abort()

        except Exception as e:
            self._close_failed(e)

    def _unsent(self) -> int:
        # bytes written but not yet accepted by the peer, as far as known:
        # the transport's buffer and, on Linux, the kernel's send queue
        return (self._transport.get_write_buffer_size() +
                _queued(self._transport.get_extra_info('socket')))

    def _on_data(self, data: bytes | bytearray) -> None:
        if data.__class__ is not bytes:
            data = bytes(data)

        if self._wbuf is _SENT:
            self._wbuf = None

        size = len(data)
        self._chunks.append(data)
        avail = self._avail = self._avail + size
        self._bytes_received += size
        if (_comm_cache.get(_DEBUG, True) and
                comm_log.isEnabledFor(_DEBUG)):
            self._log_data('received', data)

        readers = self._readers
        if readers:
            waiter = readers[0]
            if avail >= waiter.need and waiter._state is _PENDING:
                # resume the reader's task now, inside this callback: the
                # event loop never runs data_received inside a task, and
                # the read completes in the iteration its bytes arrived in
                waiter._state = _DONE
                callback = waiter._callback
                if callback is not None:
                    waiter._callback = None
                    waiter._context.run(callback, waiter)

        if self._avail > self._limit:
            self._update_reading()

    def _on_eof(self) -> bool | None:
        self._eof = True
        self._wake()
        self._log(logging.DEBUG, 'peer closed its side (EOF)')
        if (self._settings.half_close and not self._closing and
                not self._settings.tls):
            # reading has ended: a RST that follows is seen by polling
            if self._poll_timer is None and _TCP_INFO is not None:
                self._poll_timer = self._loop.call_later(
                    PAUSED_POLL_INTERVAL, self._on_poll_timer)
            return True

        self._set_reason('closed by peer')
        self.close()
        return None

    def _on_resume_writing(self) -> None:
        self._write_paused = False
        if self._drainers:
            _wake_all(self._drainers)

    def _on_lost(self, exc: BaseException | None) -> None:
        if self._lost:
            return

        self._lost = True
        if exc is not None:
            self._lost_exc = exc
        self._wbuf = None
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None

        if exc is not None:
            self._set_reason('reset by peer'
                             if isinstance(exc, ConnectionResetError)
                             else f'lost: {exc}', exc)
        if not self._closing:
            self._set_closing('closed by peer')

        if self._closed_waiters:
            _wake_all(self._closed_waiters)

        if exc is not None:
            self._log(logging.INFO, 'connection lost: %s', exc)
        elif _mlog_cache.get(_DEBUG, True):
            self._log(_DEBUG, 'connection closed')

        if _comm_cache.get(_DEBUG, True):
            self._log(_DEBUG, 'connection closed', logger=comm_log)

        if self._on_lost_cb is not None:
            self._on_lost_cb(self)

    def _closed_error(self, action: str) -> ConnectionError:
        # the error a call on a closing or closed connection raises
        reason, cls = (self._reason if self._closing and self._reason
                       else ('at EOF (peer closed)', ConnectionError))
        msg = f'cannot {action} connection {self._describe()}: {reason}'
        exc = self._lost_exc
        # the errno of the loss that is the reason (not of a loss after a
        # local close)
        err_no = (_os_errno(exc) if reason.startswith(('reset', 'lost'))
                  else None)
        err = cls(err_no, msg) if err_no is not None else cls(msg)
        err.__cause__ = exc
        return err

    def _describe(self) -> str:
        local, remote = self.info
        name = f'{self._settings.name} ' if self._settings.name else ''
        return (f'{name}{local.host}:{local.port} -> '
                f'{remote.host}:{remote.port}')

    def _log_data(self, direction: str, data: bytes | bytearray) -> None:
        self._log(logging.DEBUG, '%s %s', direction, data.hex(' '),
                  logger=comm_log)

    def _log(self,
             level: int,
             msg: str,
             *args: typing.Any,
             logger: logging.Logger = mlog,
             **kwargs: typing.Any
             ) -> None:
        if not logger.isEnabledFor(level):
            return

        meta = {'type': 'TcpConnection',
                'name': self._settings.name,
                'local_addr': self.info.local_addr,
                'remote_addr': self.info.remote_addr}
        # the description as an argument: a '%' in a name stays as it is
        logger.log(level, f'%s: {msg}', self._describe(), *args,
                   extra={'meta': meta}, **kwargs)


class _Waiter:
    """What a reading task waits on: a minimal future-like object.

    An asyncio Task accepts any object with the future protocol
    (``_asyncio_future_blocking``, ``add_done_callback``, ``result``,
    ``cancel``, and ``get_loop`` or else a ``_loop`` attribute: the
    attribute spares a call per wait); only the Task awaiting it ever sees
    a waiter. `wake_soon` resumes the task from the event loop like
    `asyncio.Future.set_result`; `Connection._on_data` resumes it at once
    by calling its callback (no extra loop iteration, no trip through the
    ready queue).

    """

    __slots__ = ('_asyncio_future_blocking', '_callback', '_context',
                 '_loop', '_state', 'need')

    def __init__(self, loop: asyncio.AbstractEventLoop, need: int):
        # the other slots are set where they are first needed
        self._loop = loop
        self.need = need
        self._state = _PENDING
        self._callback: Callable[['_Waiter'], object] | None = None

    def done(self) -> bool:
        return self._state is not _PENDING

    def cancelled(self) -> bool:
        return self._state is _CANCELLED

    # The task calls result() when it resumes. A cancelled waiter does not
    # raise there: `cancel` returns False, which tells the task to throw
    # CancelledError (with the message) into its coroutine at that step
    # itself; `cancel` schedules the step. So result() always returns
    # None, and a builtin saves a Python call per wait.
    result: Callable[[], None] = staticmethod(type(None))

    def add_done_callback(self,
                          fn: Callable[['_Waiter'], object],
                          *,
                          context: contextvars.Context | None = None
                          ) -> None:
        if self._state is _PENDING:
            # awaited by one task only: a single callback; a Task always
            # passes its context
            self._callback = fn
            self._context = (contextvars.copy_context() if context is None
                             else context)
        else:
            self._loop.call_soon(fn, self, context=context)

    def remove_done_callback(self, fn: Callable[['_Waiter'], object]
                             ) -> int:
        if self._callback is not None and self._callback == fn:
            self._callback = None
            return 1
        return 0

    def cancel(self, msg: object = None) -> bool:
        if self._state is _PENDING:
            self._state = _CANCELLED
            self._schedule()
        return False

    def wake_soon(self) -> None:
        if self._state is _PENDING:
            self._state = _DONE
            self._schedule()

    def _schedule(self) -> None:
        callback = self._callback
        if callback is not None:
            self._callback = None
            self._loop.call_soon(callback, self, context=self._context)

    def __await__(self) -> typing.Generator['_Waiter', None, None]:
        # the task resumes this only after `result` returned: done
        if self._state is _PENDING:
            self._asyncio_future_blocking = True
            yield self

    __iter__ = __await__


class _Protocol(asyncio.Protocol):
    __slots__ = ('_settings', '_transport_cb', 'conn', 'error')

    def __init__(self,
                 settings: _Settings,
                 transport_cb: Callable[['_Protocol', asyncio.Transport],
                                        None] | None = None,
                 conn: Connection | None = None):
        self._settings = settings
        self._transport_cb = transport_cb
        # set here or in connection_made
        self.conn: Connection = conn  # type: ignore[assignment]
        # what failed while setting up the connection (see connect)
        self.error: Exception | None = None

    def data_received(self, data: bytes) -> None:
        self.conn._on_data(data)

    def connection_made(self,
                        transport: asyncio.Transport  # type: ignore[override]
                        ) -> None:
        conn = self.conn
        if conn is None:
            conn = self.conn = Connection.__new__(Connection)
        conn._init(transport, self._settings)
        try:
            conn._setup()

        except Exception as e:
            # connect raises it; a server logs it and keeps serving
            self.error = e
            conn._log(logging.DEBUG if self._transport_cb is None
                      else logging.ERROR,
                      'setting up the connection failed: %r', e)
            conn._set_closing(f'lost: setting up the connection failed: {e}')
            transport.abort()
            return

        if self._transport_cb is not None:
            self._transport_cb(self, transport)

    def eof_received(self) -> bool | None:
        return self.conn._on_eof()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.conn._on_lost(exc)

    def pause_writing(self) -> None:
        self.conn._write_paused = True

    def resume_writing(self) -> None:
        self.conn._on_resume_writing()


class _LingeringProtocol(_Protocol):
    """Protocol of a closing connection waiting for the peer's EOF: input
    is counted and discarded, EOF lets the transport close (see
    `Connection.close`); the connection's hot path stays free of the
    check. Loss and write flow control are `_Protocol`'s.

    On TLS it also runs the TLS close. The event loops' TLS layers fail
    their shutdown (and abort the connection, so the peer may get a reset
    instead of the last data) on application data that arrives after their
    close_notify. So close_notify is sent only once the peer has accepted
    all data; a duplicate of the socket then keeps it open should the TLS
    layer abort, and `_linger` reads and discards from it until the peer's
    EOF, as a plain TCP close does.

    """

    __slots__ = ('_dup', '_timer')

    def __init__(self, conn: Connection):
        super().__init__(conn._settings, conn=conn)
        self._dup: socket.socket | None = None
        self._timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        conn._bytes_received += len(data)
        if comm_log.isEnabledFor(_DEBUG):
            conn._log_data('received after close (discarded)', data)

    def eof_received(self) -> None:
        conn = self.conn
        conn._eof = True
        conn._log(logging.DEBUG, 'peer closed its side (EOF)')
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dup, self._dup = self._dup, None
        if dup is not None:
            if isinstance(exc, ssl.SSLError) and self._linger(dup):
                return

            dup.close()
        self.conn._on_lost(exc)

    def close_step(self, last_unsent: int, delay: float) -> None:
        # polls (after 1 ms, doubling up to 0.1 s) until the peer has
        # accepted all data (nothing unsent twice in a row, a timer apart:
        # on TLS the event loop has moved what its transport under the TLS
        # layer still held to the socket), then closes the transport: on
        # plain TCP (FIN was sent after the data) input arriving later can
        # no longer cost the peer data it has not got; on TLS that sends
        # close_notify. The connection's close timer bounds it; the peer's
        # EOF ends it early.
        self._timer = None
        conn = self.conn
        try:
            transport = conn._transport
            if conn._lost or transport.is_closing():
                return

            unsent = conn._unsent()
            if unsent or last_unsent:
                delay = min(max(delay * 2, 0.001), 0.1)
                self._timer = conn._loop.call_later(
                    delay, self.close_step, unsent, delay)
                return

            if not conn._settings.tls:
                transport.close()
                return

            if _SIOCINQ is not None:
                # a duplicate of the socket keeps it open should the TLS
                # layer abort (Linux, where the rest is known to hold);
                # without one (no file descriptor left) the close goes on
                with contextlib.suppress(Exception):
                    sock = transport.get_extra_info('socket')
                    if sock is not None:
                        self._dup = sock.dup()
            if not conn._settings.bound_tls_shutdown and \
                    conn._close_timer is not None:
                # the caller's ssl_shutdown_timeout bounds the shutdown
                conn._close_timer.cancel()
                conn._close_timer = None
            transport.close()

        except Exception as e:
            conn._close_failed(e)

    def _linger(self, sock: socket.socket) -> bool:
        # the TLS layer aborted on data after its close_notify: read and
        # discard from the socket (a duplicate) until the peer's EOF,
        # bounded by close_timeout; the connection is lost after that
        conn = self.conn
        loop = conn._loop
        try:
            sock.setblocking(False)
            fd = sock.fileno()
            if conn._close_timer is not None:
                conn._close_timer.cancel()
                conn._close_timer = None

            def finish(reset: bool) -> None:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                with contextlib.suppress(Exception):
                    loop.remove_reader(fd)
                with contextlib.suppress(Exception):
                    if reset:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack('ii', 1, 0))
                sock.close()
                conn._on_lost(None)

            def on_readable() -> None:
                try:
                    while True:
                        data = sock.recv(0x10000)
                        if not data:
                            break
                        if comm_log.isEnabledFor(_DEBUG):
                            conn._log_data('received after close '
                                           '(raw TLS, discarded)', data)

                except BlockingIOError:
                    return

                except Exception:
                    pass

                finish(False)

            def on_timeout() -> None:
                self._timer = None
                conn._log(logging.WARNING,
                          'peer did not finish closing (EOF or TLS '
                          'shutdown) for %.3f s (close_timeout %s s): '
                          'aborting', loop.time() - start, timeout)
                finish(True)

            loop.add_reader(fd, on_readable)
            start = loop.time()
            timeout = conn._settings.close_timeout
            if timeout is not None:
                self._timer = loop.call_later(timeout, on_timeout)
            return True

        except Exception:
            return False


def _check_addr(addr: typing.Any, listening: bool
                ) -> tuple[typing.Any, int]:
    if not isinstance(addr, tuple) or len(addr) != 2:
        raise TypeError(f'address must be Address(host, port), not {addr!r}')

    host, port = addr
    if not (isinstance(host, str) or (listening and host is None)):
        raise TypeError(f'address host must be str, not '
                        f'{type(host).__name__}')

    if not listening and not host:
        raise ValueError('address host must not be empty')

    if host and '\x00' in host:
        # some resolvers would cut the name short there
        raise ValueError(f'address host must not contain NUL: {host!r}')

    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f'address port must be int, not '
                        f'{type(port).__name__}')

    if not (0 if listening else 1) <= port <= 0xFFFF:
        raise ValueError(f'address port out of range: {port}')

    return host, port


def _check_local_addr(local_addr: typing.Any) -> None:
    # asyncio's bind raises OverflowError for a port out of range
    if isinstance(local_addr, tuple) and len(local_addr) >= 2:
        port = local_addr[1]
        if (isinstance(port, int) and not isinstance(port, bool) and
                not 0 <= port <= 0xFFFF):
            raise ValueError(f'local_addr port out of range: {port}')


def _to_bytes(data: typing.Any) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f'data must be bytes, bytearray or memoryview, not '
                        f'{type(data).__name__}')

    return bytes(data)


def _check_separator(separator: typing.Any) -> bytes:
    if not isinstance(separator, (bytes, bytearray, memoryview)):
        raise TypeError(f'separator must be bytes, bytearray or memoryview, '
                        f'not {type(separator).__name__}')

    result = bytes(separator)
    if not result:
        raise ValueError('separator must not be empty')

    return result


def _check_count(n: typing.Any, allow_all: bool) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f'n must be int, not {type(n).__name__}')

    if n < (-1 if allow_all else 0):
        raise ValueError(f'n must be non-negative'
                         f'{" or -1" if allow_all else ""}, not {n}')

    return int(n)


def _make_settings(name: typing.Any,
                   input_buffer_limit: typing.Any,
                   half_close: typing.Any,
                   close_timeout: typing.Any,
                   keepalive_idle: typing.Any,
                   keepalive_interval: typing.Any,
                   keepalive_count: typing.Any,
                   kwargs: dict[str, typing.Any] | None = None
                   ) -> _Settings:
    if name is not None and not isinstance(name, str):
        raise TypeError(f'name must be str or None, not '
                        f'{type(name).__name__}')

    if (isinstance(input_buffer_limit, bool) or
            not isinstance(input_buffer_limit, int)):
        raise TypeError(f'input_buffer_limit must be int, not '
                        f'{type(input_buffer_limit).__name__}')

    if input_buffer_limit < 0:
        raise ValueError(f'input_buffer_limit must not be negative, not '
                         f'{input_buffer_limit}')

    _check_bool('half_close', half_close)
    if close_timeout is not None:
        close_timeout = _seconds.check_seconds(
            'close_timeout', close_timeout, none_allowed=True)

    keepalive = None
    if keepalive_idle is not None:
        if keepalive_interval is None:
            keepalive_interval = keepalive_idle
        if keepalive_count is None:
            keepalive_count = 3
        # the socket options take whole seconds: round up
        idle = _check_keepalive_time('keepalive_idle', keepalive_idle)
        interval = _check_keepalive_time('keepalive_interval',
                                         keepalive_interval)
        if (isinstance(keepalive_count, bool) or
                not isinstance(keepalive_count, int)):
            raise TypeError(f'keepalive_count must be int, not '
                            f'{type(keepalive_count).__name__}')
        if not 1 <= keepalive_count <= _KEEPALIVE_MAX_COUNT:
            raise ValueError(f'keepalive_count must be from 1 to '
                             f'{_KEEPALIVE_MAX_COUNT}, not {keepalive_count}')
        total = idle + interval * keepalive_count
        if total > _USER_TIMEOUT_MAX:
            raise ValueError(
                f'keepalive_idle + keepalive_interval * keepalive_count '
                f'must be at most {_USER_TIMEOUT_MAX} s (TCP_USER_TIMEOUT), '
                f'not {total} s')
        keepalive = (idle, interval, keepalive_count)

    elif keepalive_interval is not None or keepalive_count is not None:
        raise ValueError('keepalive_interval and keepalive_count need '
                         'keepalive_idle')

    kwargs = kwargs or {}
    return _Settings(name=name,
                     input_buffer_limit=input_buffer_limit,
                     half_close=half_close,
                     close_timeout=close_timeout,
                     keepalive=keepalive,
                     tls=bool(kwargs.get('ssl')),
                     bound_tls_shutdown='ssl_shutdown_timeout' not in kwargs)


def _check_bool(key: str, value: typing.Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f'{key} must be bool, not {type(value).__name__}')


def _check_ssl(kwargs: dict[str, typing.Any], listening: bool) -> None:
    # asyncio takes a wrong `ssl` only once the socket is open (and then
    # leaks it)
    value = kwargs.get('ssl')
    if value is None or isinstance(value, ssl.SSLContext):
        return
    if not listening and isinstance(value, bool):
        return
    raise TypeError(f'ssl must be ssl.SSLContext'
                    f'{"" if listening else ", bool"} or None, not '
                    f'{type(value).__name__}')


def _check_keepalive_time(key: str, value: typing.Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f'{key} must be a number of seconds, not '
                        f'{type(value).__name__}')
    if not 0 < value <= _KEEPALIVE_MAX_TIME:
        raise ValueError(f'{key} must be more than 0 and at most '
                         f'{_KEEPALIVE_MAX_TIME} s, not {value}')
    return math.ceil(value)


def _error_class(exc: BaseException | None) -> type[ConnectionError]:
    # the ConnectionError subclass of the standard library that `exc` is
    # (refused, reset, aborted, broken pipe), else ConnectionError
    if isinstance(exc, ConnectionError):
        for cls in (ConnectionRefusedError, ConnectionResetError,
                    ConnectionAbortedError, BrokenPipeError):
            if isinstance(exc, cls):
                return cls
    return ConnectionError


def _connection_error(exc: BaseException, msg: str) -> ConnectionError:
    # what connect raises for `exc` (chained by the caller)
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return ConnectTimeoutError(msg)
    err_no = _os_errno(exc)
    cls = _error_class(exc)
    return cls(err_no, msg) if err_no is not None else cls(msg)


def _os_errno(exc: BaseException | None) -> int | None:
    # an OS errno (an SSLError's errno is the TLS library's code)
    if isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError):
        return exc.errno
    return None


def _os_reason(exc: BaseException) -> str:
    # what failed, for a message that names the address and the errno
    # itself: the errno's text (the event loops' own messages repeat the
    # address, and str() of an OSError the errno); a TLS error or an
    # error without errno as it is
    err_no = _os_errno(exc)
    if err_no is not None and err_no > 0:
        return os.strerror(err_no)
    if err_no is not None and isinstance(exc, OSError) and exc.strerror:
        # name resolution (negative codes): its own text
        return str(exc.strerror)
    return str(exc)


def _unread(sock: typing.Any) -> int:
    # bytes received by the kernel and not yet read (0 where unknown)
    if _SIOCINQ is None or sock is None:
        return 0
    try:
        data = fcntl.ioctl(sock.fileno(), _SIOCINQ, bytes(4))
    except (OSError, ValueError):
        return 0
    return int.from_bytes(data, sys.byteorder)


def _tcp_state(sock: typing.Any) -> int | None:
    # Linux TCP_INFO's tcpi_state (None where unknown)
    if _TCP_INFO is None or sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)
    except (OSError, ValueError):
        return None
    return info[0] if info else None


def _sock_error(sock: typing.Any) -> int:
    # the socket's pending error (SO_ERROR, which reading clears), 0 where
    # there is none or it is unknown
    if sock is None:
        return 0
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
    except (OSError, ValueError):
        return 0


def _sock_reset(sock: typing.Any) -> bool:
    # whether the kernel has found the connection reset or failed (Linux
    # TCP_INFO's tcpi_state TCP_CLOSE); False where unknown
    return _tcp_state(sock) == _TCP_CLOSE


def _queued(sock: typing.Any) -> int:
    # bytes in the kernel's send queue not yet acknowledged by the peer (0
    # where unknown)
    if _SIOCOUTQ is None or sock is None:
        return 0
    try:
        data = fcntl.ioctl(sock.fileno(), _SIOCOUTQ, bytes(4))
    except (OSError, ValueError):
        return 0
    return int.from_bytes(data, sys.byteorder, signed=True)


def _peer_done(sock: typing.Any) -> bool:
    # whether the peer has sent FIN or RST (Linux TCP_INFO's tcpi_state)
    if _TCP_INFO is None or sock is None:
        return False
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 1)
    except (OSError, ValueError):
        return False
    return bool(info) and info[0] not in _TCP_PEER_OPEN_STATES


def _set_keepalive(sock: typing.Any, idle: int, interval: int, count: int
                   ) -> None:
    if sock is None:
        return

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if sys.platform == 'darwin':
        sock.setsockopt(socket.IPPROTO_TCP, 0x10, idle)  # TCP_KEEPALIVE
    elif hasattr(socket, 'TCP_KEEPIDLE'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    if hasattr(socket, 'TCP_KEEPINTVL'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    if hasattr(socket, 'TCP_KEEPCNT'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)
    if hasattr(socket, 'TCP_USER_TIMEOUT'):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                        (idle + interval * count) * 1000)


async def _wait_for_wake(loop: asyncio.AbstractEventLoop,
                         waiters: list[asyncio.Future[None]]) -> None:
    # until `_wake_all(waiters)`; a cancelled wait leaves the list, so
    # repeated timed-out waits do not pile up
    fut = loop.create_future()
    waiters.append(fut)
    try:
        await fut

    except BaseException:
        if fut in waiters:
            waiters.remove(fut)
        raise


def _wake_all(waiters: list[asyncio.Future[None]]) -> None:
    for fut in waiters:
        if not fut.done():
            fut.set_result(None)
    waiters.clear()


def _raw_addresses(transport: asyncio.BaseTransport) -> list[typing.Any]:
    names = []
    for name in ('sockname', 'peername'):
        try:
            names.append(transport.get_extra_info(name))

        except OSError:
            # a peer that resets at once leaves no peer name on some loops
            names.append(None)

    return names


def _sock_addr(addr: typing.Any) -> Address:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return Address(addr[0], addr[1])

    return Address(str(addr or ''), 0)
