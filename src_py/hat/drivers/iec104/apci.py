"""IEC 60870-5-104 APCI link connection on `hat.drivers.tcp`.

`connect` (controlling station, master) and `listen` (controlled station,
slave) create `Connection` objects that carry ASDUs (as bytes) in I-format
APDUs and run the link procedures of IEC 60870-5-104 clause 5: sequence
numbers, the k and w windows, the timers t0..t3 and STARTDT / STOPDT /
TESTFR. The procedures themselves live in the sans-I/O
`hat.drivers.iec104.link.Link`; this module connects it to a
`hat.drivers.tcp.Connection` and the event loop.

Timers (seconds):

* t0 (``connect_timeout``): bounds establishing the TCP connection.
* t1 (``response_timeout``): a sent I-frame must be acknowledged, and a
  STARTDT act or TESTFR act confirmed, within t1; otherwise the connection
  is closed (logged as WARNING). `connect` waits t1 for STARTDT con.
* t2 (``supervisory_timeout``): received I-frames are acknowledged with an
  S-frame at the latest t2 after the first unacknowledged one. t1 bounds
  how long this side waits for the PEER's acknowledgements, t2 how long it
  delays its OWN, so t2 has to be below the peer's t1. Clause 5.1
  recommends t2 < t1 for a symmetric configuration (both sides with the
  same timers); t2 >= t1 is accepted (as in hat-drivers 0.6.23), and
  `connect` and `listen` then log one WARNING naming both values (a peer
  with the same t1 may close the connection waiting for this side's
  acknowledgements).
* t3 (``test_timeout``): idle timer, restarted by every received frame;
  when it expires TESTFR act is sent (and TESTFR con expected within t1).

Malformed APCI from the peer (start octet other than 0x68, length below 4
or above 253, unknown U-format function, bad control field, N(S) out of
sequence, N(R) acknowledging I-frames never sent) closes the connection
with one ERROR record on this module's logger naming the cause and giving
the frame as hex. A frame cut off by the peer's FIN or RST is logged
once at ERROR (the octets received of it as hex) as the closing reason.
Every call after close raises `ConnectionError` (`receive` first returns
the ASDUs already received). When the connection was closed because of a
`ConnectionResetError`, `ConnectionRefusedError`, `ConnectionAbortedError`
or `BrokenPipeError` raised by `hat.drivers.tcp` (for instance the peer's
RST), `connect`, `Connection.receive`, `Connection.send`,
`Connection.drain` and `Connection.send_wait_ack` raise that same subclass
(its message says why); otherwise plain `ConnectionError`.
An I-frame without ASDU octets is acknowledged and delivered as an empty
ASDU (``b''``).

Communication log: with the logger ``hat.drivers.iec104.trace`` enabled for
DEBUG, every APDU written and read is recorded decoded (see
`hat.drivers.iec104.trace`); its level is checked once per chunk, so it
can be switched at run time and costs one dictionary lookup while off.

Queues and memory: ASDUs passed to `Connection.send` while fewer than k
I-frames are unacknowledged are numbered at once and written together at
the next event loop iteration (one TCP write for all sent in one
iteration); the others wait in one FIFO queue. While data transfer is
stopped that queue holds at most ``send_queue_limit`` ASDUs; while it is
started the queue is not bounded: `Connection.drain` is the backpressure
(it returns once everything queued before it was written). Received ASDUs
wait in a FIFO buffer until `Connection.receive` takes them. It is bounded
by TCP backpressure: once it holds ``receive_queue_limit`` ASDUs or more
after a chunk of received octets has been processed, the connection stops
reading from TCP until `Connection.receive` has taken enough ASDUs for it
to hold fewer than ``receive_queue_limit`` again. Nothing received is
dropped. Meanwhile the peer's data stays in `hat.drivers.tcp`'s input
buffer (at most its ``input_buffer_limit``, 1 MiB by default) and in the
kernel's socket buffers, and TCP flow control stops the peer. Memory held
for received data is therefore at most ``receive_queue_limit`` ASDUs plus
the ASDUs of one chunk (what TCP had buffered when it was read: up to
``input_buffer_limit`` bytes plus one socket read) plus TCP's input buffer
(besides the kernel's socket buffers). 0.6.23 buffered without bound.

Replies to received frames are flow-controlled the same way: the
S-frames (w, and on STOPDT act), TESTFR con, STARTDT con and STOPDT con
the link produces from a chunk of received octets are written to TCP
once the chunk is processed, and if `hat.drivers.tcp`'s write buffer is
then above its high-water mark (the transport's, 64 KiB by default on
asyncio and uvloop) the connection reads nothing more until
`hat.drivers.tcp.Connection.drain` returns (below the high-water mark
`drain` returns at once, so a peer that reads costs nothing). A peer that
sends without reading (a TESTFR act flood, for instance) is thus stopped
by TCP flow control: unsent output stays below the high-water mark plus
the replies to one chunk (at most as many octets as the chunk: a TESTFR
con per TESTFR act; a chunk is at most ``input_buffer_limit`` plus one
socket read) besides the kernel's socket buffers. 0.6.23 and earlier
versions of this module kept reading and buffered the replies without
bound (about 3 MB/s for as long as the flood lasted). Output the
application sends is bounded by the application: `Connection.drain` is
its backpressure (and ``send_queue_limit`` while data transfer is
stopped).

Consequence of the pause: while it lasts this side reads nothing, so no
frame of the peer is processed. I-frames it sends are not acknowledged
(the ones received before the pause are, by w or t2), its TESTFR act is
not answered with TESTFR con, and its acknowledgements of our I-frames and
its TESTFR con are not seen (`Connection.send_wait_ack` and
``drain(wait_ack=True)`` wait). If the application does not resume calling
`Connection.receive` within about t1, the connection is closed: by the
peer when its t1 on unacknowledged I-frames (or on its TESTFR act)
expires, or by this side when t3 expires without a received frame, TESTFR
act is sent, and its TESTFR con is not read within t1 (or when t1 on an
I-frame this side sent expires); this side logs that as a WARNING. When
the connection closes during the pause (locally, by the peer or by a
timer), the ASDUs already received stay available to `Connection.receive`;
octets TCP buffered but the link had not read yet are discarded with the
connection (their I-frames were never acknowledged, so the peer does not
count them as delivered). `connect` does not pause before it returns (the
application cannot receive yet; that wait is bounded by t1).

Differences from hat-drivers 0.6.23 (following IEC 60870-5-104):

* t3 is an idle timer restarted by every received frame (0.6.23 sent
  TESTFR act every t3 regardless of traffic).
* ASDUs sent while data transfer is stopped (slave before STARTDT act or
  after STOPDT act) are kept, up to ``send_queue_limit``, and sent after
  the next STARTDT act; beyond the limit `Connection.send` raises
  `ConnectionDisabledError` (0.6.23 dropped them silently, and its
  `send_wait_ack` raised `ConnectionDisabledError` at once).
* On STOPDT act the slave answers STOPDT con only once its sent I-frames
  are acknowledged (clause 5.3; 0.6.23 answered at once).
* A master receiving STOPDT act or STARTDT act logs a WARNING and ignores
  it (0.6.23 answered STARTDT act with STARTDT con and took itself for
  started: against a peer echoing its frames, for instance, `connect`
  returned and the master then received its own commands). Only the
  controlling station starts data transfer (clause 5.3), so `connect`
  then fails with `hat.drivers.tcp.ConnectTimeoutError` after t1 (no
  STARTDT con came).
* Received lengths above 253 are malformed (0.6.23 accepted them).
* `connect` answers frames that arrive before STARTDT con normally and
  delivers I-frames (0.6.23 dropped them); a missing STARTDT con raises
  `hat.drivers.tcp.ConnectTimeoutError` (a `ConnectionError` and an
  `asyncio.TimeoutError`), as does an expired ``connect_timeout`` (t0, new).
* t2 >= t1 is accepted as in 0.6.23, with one WARNING per `connect` or
  `listen` call (clause 5.1 recommends t2 < t1).
* `Server.addresses` and `Connection.is_master` are new.

Example:

    conn = await apci.connect(tcp.Address('127.0.0.1', 2404))
    conn.send(asdu)
    await conn.drain(wait_ack=True)
    asdu = await conn.receive()

"""

from collections.abc import Callable
import asyncio
import collections
import logging
import ssl
import typing

from hat import aio
from hat import util

from hat.drivers import tcp
from hat.drivers.iec104 import apdu
from hat.drivers.iec104 import link
from hat.drivers.iec104 import trace


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

DEFAULT_SEND_QUEUE_LIMIT: int = link.DEFAULT_SEND_QUEUE_LIMIT
"""Default `send_queue_limit` (ASDUs kept while data transfer is stopped)"""

DEFAULT_RECEIVE_QUEUE_LIMIT: int = 1000
"""Default `receive_queue_limit`: received ASDUs not yet taken by
`Connection.receive` at which reading from TCP pauses (at most 1000 *
249 octets of ASDUs, about 250 kB)"""

ConnectionDisabledError = link.ConnectionDisabledError
"""Data transfer stopped and ``send_queue_limit`` ASDUs already queued
(a `ConnectionError`)"""

DEFAULT_LISTEN_ADDRESS: tcp.Address = tcp.Address('0.0.0.0', 2404)
"""Default `listen` address (every IPv4 interface, IEC 104 port 2404)"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""

_INF = float('inf')

# communication log (hat.drivers.iec104.trace): its logger's cache of
# isEnabledFor answers, checked once per chunk written or read
_trace_cache: dict[int, bool] = trace._cache
_DEBUG = logging.DEBUG


async def connect(addr: tcp.Address,
                  *,
                  response_timeout: float = 15,
                  supervisory_timeout: float = 10,
                  test_timeout: float = 20,
                  send_window_size: int = 12,
                  receive_window_size: int = 8,
                  connect_timeout: float = 30,
                  send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT,
                  ssl_ctx: ssl.SSLContext | None = None,
                  name: str | None = None,
                  receive_queue_limit: int = DEFAULT_RECEIVE_QUEUE_LIMIT
                  ) -> 'Connection':
    """Connect to a controlled station (slave) as controlling station.

    Opens the TCP connection (TLS if `ssl_ctx` is given), sends STARTDT act
    and waits for STARTDT con (IEC 60870-5-104 clause 5.3). The connection
    returned is enabled.

    Args:
        addr: remote address
        response_timeout: t1 (seconds, positive): bound of the wait for the
            peer's acknowledgements and confirmations
        supervisory_timeout: t2 (seconds, positive): longest delay of this
            side's acknowledgements; should be below the peer's t1
            (clause 5.1 recommends t2 < t1: one WARNING is logged
            otherwise, the values are accepted)
        test_timeout: t3 (seconds)
        send_window_size: k (1..32767)
        receive_window_size: w (1..32767)
        connect_timeout: t0 (seconds): bound of the TCP connection
            establishment (including the TLS handshake)
        send_queue_limit: ASDUs kept while data transfer is stopped (never
            the case for a master after `connect` returns)
        ssl_ctx: TLS context (IEC 62351-3), ``None`` for plain TCP
        name: name used in log records
        receive_queue_limit: received ASDUs (>= 1) not yet taken by
            `Connection.receive` at which the connection stops reading from
            TCP until `Connection.receive` brings them below it again
            (backpressure, nothing is dropped; default
            `DEFAULT_RECEIVE_QUEUE_LIMIT`). While reading is paused no frame
            of the peer is processed: no acknowledgement of the I-frames it
            sends meanwhile and no TESTFR con go out, none of its
            acknowledgements or TESTFR con come in, so unless
            `Connection.receive` is called again within about t1 the peer
            (t1 on its unacknowledged I-frames) or this side (t3, then t1
            on TESTFR con) closes the connection.
            See the module docstring for the memory bound.

    Raises:
        TypeError, ValueError: bad argument
        hat.drivers.tcp.ConnectTimeoutError: t0 expired, or no STARTDT con
            within t1 (both `ConnectionError` and `asyncio.TimeoutError`)
        ConnectionError: the connection failed (refused, closed by the
            peer, malformed data, ...)

    """
    check_ssl_ctx(ssl_ctx)
    loop = asyncio.get_running_loop()
    settings = _Settings(response_timeout, supervisory_timeout, test_timeout,
                         send_window_size, receive_window_size,
                         send_queue_limit,
                         _check_receive_queue_limit(receive_queue_limit))
    settings.make_link(True, loop.time())  # checks the arguments
    _warn_t2(settings)
    t0 = _check_t0(connect_timeout)

    # t0 expiring raises tcp.ConnectTimeoutError
    conn = await tcp.connect(addr, ssl=ssl_ctx, name=name,
                             connect_timeout=t0)
    connection = Connection(conn, settings.make_link(True, loop.time()),
                            receive_queue_limit=settings.receive_queue_limit)
    try:
        await connection._start()

    except BaseException:
        await aio.uncancellable(connection.async_group.async_close())
        raise

    return connection


async def listen(connection_cb: ConnectionCb,
                 addr: tcp.Address = DEFAULT_LISTEN_ADDRESS,
                 *,
                 response_timeout: float = 15,
                 supervisory_timeout: float = 10,
                 test_timeout: float = 20,
                 send_window_size: int = 12,
                 receive_window_size: int = 8,
                 connect_timeout: float = 30,
                 send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT,
                 ssl_ctx: ssl.SSLContext | None = None,
                 name: str | None = None,
                 receive_queue_limit: int = DEFAULT_RECEIVE_QUEUE_LIMIT
                 ) -> 'Server':
    """Listen for controlling stations (masters) as controlled station.

    `connection_cb` is called with every accepted `Connection` at once,
    before STARTDT; the connection is disabled until the peer's STARTDT
    act. If the callback raises, the error is logged and that connection
    is closed.

    Args:
        connection_cb: called with each new `Connection`
        addr: local address (port 0 picks a free port, see
            `Server.addresses`)
        response_timeout: as in `connect`, for every accepted connection
        supervisory_timeout: as in `connect`, for every accepted connection
        test_timeout: as in `connect`, for every accepted connection
        send_window_size: as in `connect`, for every accepted connection
        receive_window_size: as in `connect`, for every accepted connection
        send_queue_limit: as in `connect`, for every accepted connection
        ssl_ctx: as in `connect`, for every accepted connection
        name: as in `connect`, for every accepted connection
        connect_timeout: accepted for symmetry with `connect` (unused: the
            controlled station does not establish connections)
        receive_queue_limit: as in `connect`, for every accepted
            connection (reading pauses at this many received ASDUs not
            taken by `Connection.receive`; while paused no acknowledgement
            and no TESTFR con go out or come in, and the connection is
            closed by the peer's t1 or by this side's t3 then t1 unless
            receiving resumes within about t1)

    Raises:
        TypeError, ValueError: bad argument
        OSError: the address could not be bound

    """
    check_ssl_ctx(ssl_ctx)
    loop = asyncio.get_running_loop()
    settings = _Settings(response_timeout, supervisory_timeout, test_timeout,
                         send_window_size, receive_window_size,
                         send_queue_limit,
                         _check_receive_queue_limit(receive_queue_limit))
    settings.make_link(False, loop.time())  # checks the arguments
    _warn_t2(settings)
    _check_t0(connect_timeout)

    async def on_connection(conn: tcp.Connection) -> None:
        connection = Connection(
            conn, settings.make_link(False, loop.time()),
            receive_queue_limit=settings.receive_queue_limit)
        await aio.call(connection_cb, connection)

    srv = await tcp.listen(on_connection, addr, bind_connections=True,
                           ssl=ssl_ctx, name=name)
    server = Server.__new__(Server)
    server._srv = srv
    return server


_ResourceT = typing.TypeVar('_ResourceT', bound='Resource')


class Resource(aio.Resource):
    """`hat.aio.Resource` with its lifetime members annotated (hat-aio's
    are not, which ``mypy --strict`` users see as untyped calls); the
    lifetime is `async_group`'s"""

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        return self.async_group.is_open

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self.async_group.is_closing

    @property
    def is_closed(self) -> bool:
        """``True`` once closed"""
        return self.async_group.is_closed

    async def wait_closing(self) -> None:
        """Wait until closing or closed"""
        await self.async_group.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until closed"""
        await self.async_group.wait_closed()

    def close(self) -> None:
        """Start closing"""
        self.async_group.close()

    async def async_close(self) -> None:
        """Close and wait until closed"""
        await self.async_group.async_close()

    async def __aenter__(self: _ResourceT) -> _ResourceT:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.async_close()


class Server(Resource):
    """Server created by `listen`. Closing it stops listening and closes
    every connection it accepted."""

    _srv: tcp.Server

    @property
    def async_group(self) -> aio.Group:
        """Async group (the TCP server's)"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[tcp.Address]:
        """Listening addresses (with the bound port)"""
        return self._srv.addresses


class Connection(Resource):
    """APCI link connection (made by `connect` and `listen`).

    ASDUs are sent in I-frames in call order across `send`,
    `send_wait_ack` and `drain` (one FIFO queue), at most k unacknowledged
    at a time, and only while data transfer is started. Received ASDUs are
    buffered in arrival order until `receive` takes them; at
    `receive_queue_limit` of them reading from TCP pauses until `receive`
    brings them below it (see the module docstring).

    Args:
        conn: TCP connection (its async group becomes this connection's)
        link_: link state machine of the connection
        receive_queue_limit: received ASDUs (>= 1) at which reading pauses

    Raises:
        TypeError, ValueError: bad `receive_queue_limit`

    """

    def __init__(self, conn: tcp.Connection, link_: link.Link, *,
                 receive_queue_limit: int = DEFAULT_RECEIVE_QUEUE_LIMIT):
        self._receive_limit = _check_receive_queue_limit(receive_queue_limit)
        # completed by receive when the read loop may read again
        self._resume_fut: asyncio.Future[None] | None = None
        self._conn = conn
        self._link = link_
        self._loop = asyncio.get_running_loop()
        self._group = conn.async_group
        self._reason: str | None = None
        # class of the errors raised once closed (the cause's subclass)
        self._error_cls: type[ConnectionError] = ConnectionError
        self._timed_out = False
        self._enabled_cbs = util.CallbackRegistry(self._on_cb_error)
        self._rx_waiters: list[asyncio.Future[None]] = []
        self._written_waiters: collections.deque[
            tuple[int, asyncio.Future[None]]] = collections.deque()
        self._ack_waiters: collections.deque[
            tuple[int, asyncio.Future[None]]] = collections.deque()
        self._enabled_fut: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = _INF
        self._flush_pending = False
        if self._group.is_open:
            self._group.spawn(aio.call_on_cancel, self._on_close)
            self._group.spawn(self._read_loop)
            self._update_timer()
        else:
            self._reason = 'TCP connection closed before the link started'
            self._shutdown()

    @property
    def async_group(self) -> aio.Group:
        """Async group (the TCP connection's: closing either closes
        both)"""
        return self._group

    @property
    def info(self) -> tcp.ConnectionInfo:
        """Local and remote address"""
        return self._conn.info

    def close(self) -> None:
        """Start closing: I-frames already numbered (sent by `send` in
        this loop iteration) are written first, then the TCP connection is
        closed (it flushes them before FIN). ASDUs still queued (window
        full or data transfer stopped) are discarded."""
        if self._flush_pending and self._reason is None:
            self._flush()
        self._group.close()

    async def async_close(self) -> None:
        """Close (as `close`) and wait until closed"""
        self.close()
        await self._group.async_close()

    @property
    def receive_queue_limit(self) -> int:
        """Received ASDUs not yet taken by `receive` at which reading from
        TCP pauses"""
        return self._receive_limit

    @property
    def is_receiving_paused(self) -> bool:
        """Whether reading from TCP is paused because `receive_queue_limit`
        received ASDUs wait for `receive`"""
        return self._resume_fut is not None

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        """TLS session object (``None`` for plain TCP)"""
        return self._conn.ssl_object

    @property
    def is_master(self) -> bool:
        """``True`` for the controlling station (made by `connect`),
        ``False`` for the controlled station (accepted by `listen`)"""
        return self._link.is_master

    @property
    def is_enabled(self) -> bool:
        """Whether data transfer is started (STARTDT, clause 5.3): I-frames
        are sent only then"""
        return self._link.is_enabled

    def register_enabled_cb(self,
                            cb: Callable[[bool], None]
                            ) -> util.RegisterCallbackHandle:
        """Register a callback of data transfer state changes.

        `cb` is called with ``True`` for every STARTDT act received (also
        when already enabled) and with ``False`` for every STOPDT act the
        controlled station accepts. It is not called on close. An exception
        it raises is logged.

        """
        return self._enabled_cbs.register(cb)

    def send(self, data: bytes) -> None:
        """Queue an ASDU for sending in an I-frame; never blocks.

        Sent at once if data transfer is started and fewer than k I-frames
        are unacknowledged, otherwise queued (FIFO).

        Args:
            data: ASDU octets (at most 249)

        Raises:
            TypeError: `data` is not bytes
            ValueError: `data` is longer than 249 octets
            ConnectionDisabledError: data transfer is stopped and
                ``send_queue_limit`` ASDUs wait already
            ConnectionError: the connection is closed

        """
        self._send(data)

    async def send_wait_ack(self, data: bytes) -> None:
        """Send an ASDU (as `send`) and wait until the peer acknowledges
        it (its N(R) in an S- or I-frame). While data transfer is stopped
        the ASDU is queued and the wait includes the wait for STARTDT.

        Raises:
            TypeError, ValueError, ConnectionDisabledError: as `send`
            ConnectionError: closed before the acknowledgement

        """
        number = self._send(data)
        if self._link.acked_count < number:
            await self._wait(self._ack_waiters, number)

    async def drain(self, wait_ack: bool = False) -> None:
        """Wait until every ASDU queued before this call has been written
        to the connection (and TCP accepted it, `hat.drivers.tcp`'s drain),
        and if `wait_ack` is true, until the peer acknowledged them.

        Raises:
            ConnectionError: the connection is closed or closes meanwhile

        """
        self.check_open()
        target = self._link.queued_count
        if self._link.sent_count < target:
            await self._wait(self._written_waiters, target)
        self._process()  # hand frames sent in this iteration to tcp
        self.check_open()
        try:
            await self._conn.drain()
        except ConnectionError as e:
            if self._reason is None:
                self._close(f'drain failed: {_error_text(e)}', error=e)
            raise self._closed_error() from None
        if wait_ack and self._link.acked_count < target:
            await self._wait(self._ack_waiters, target)

    async def receive(self) -> bytes:
        """Receive the next ASDU (one I-frame's).

        ASDUs received before close are still returned after it. Taking
        an ASDU resumes reading from TCP if it was paused at
        `receive_queue_limit` and fewer ASDUs than that are left.

        Raises:
            ConnectionError: the connection is closed and no received ASDU
                is left

        """
        received = self._link.received
        while not received:
            if self._reason is not None or not self._group.is_open:
                raise self._closed_error()
            fut = self._loop.create_future()
            self._rx_waiters.append(fut)
            try:
                await fut
            except BaseException:
                if fut in self._rx_waiters:
                    self._rx_waiters.remove(fut)
                raise
        data = received.popleft()
        resume_fut = self._resume_fut
        if resume_fut is not None and len(received) < self._receive_limit:
            self._resume_fut = None
            if not resume_fut.done():
                resume_fut.set_result(None)
        return data

    # internals

    async def _start(self) -> None:
        # master: STARTDT act, then STARTDT con within t1
        self._link.start(self._loop.time())
        self._process()
        if self._reason is not None:
            raise self._closed_error()
        self._enabled_fut = self._loop.create_future()
        try:
            await self._enabled_fut

        except ConnectionError as e:
            if self._timed_out:
                raise tcp.ConnectTimeoutError(str(e)) from None
            raise

    def _send(self, data: bytes) -> int:
        if self._reason is not None or not self._group.is_open:
            raise self._closed_error()
        number = self._link.send(data, self._loop.time())
        # frames sent in one loop iteration go out in one write
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self._flush)
        return number

    def _flush(self) -> None:
        self._flush_pending = False
        if self._reason is None:
            self._process()

    def check_open(self) -> None:
        """Raise what `send` raises on a closed connection.

        Raises:
            ConnectionError: the connection is closed (the subclass as
                described in the module docstring)

        """
        if self._reason is not None or not self._group.is_open:
            raise self._closed_error()

    async def _wait(self,
                    waiters: collections.deque[
                        tuple[int, asyncio.Future[None]]],
                    number: int
                    ) -> None:
        fut = self._loop.create_future()
        item = (number, fut)
        waiters.append(item)
        try:
            await fut

        except BaseException:
            if item in waiters:
                waiters.remove(item)
            raise

    def _process(self) -> bool:
        # hand the link's output over: octets, ASDUs, events, counters;
        # True if octets were written
        link_ = self._link
        out = link_.data_to_send()
        if out:
            if _trace_cache.get(_DEBUG, True) and trace.is_enabled():
                trace.log_data(self._describe(), 'sent', out)
            try:
                self._conn.write(out)
            except ConnectionError as e:
                self._close(f'write failed: {_error_text(e)}', error=e)
                return False

        if self._rx_waiters and link_.received:
            waiters, self._rx_waiters = self._rx_waiters, []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

        if link_.enabled_events:
            events = list(link_.enabled_events)
            link_.enabled_events.clear()
            for event in events:
                self._enabled_cbs.notify(  # type: ignore[no-untyped-call]
                    event)

        waiters_ = self._ack_waiters
        if waiters_ and waiters_[0][0] <= link_.acked_count:
            _release(waiters_, link_.acked_count)

        waiters_ = self._written_waiters
        if waiters_ and waiters_[0][0] <= link_.sent_count:
            _release(waiters_, link_.sent_count)

        enabled_fut = self._enabled_fut
        if enabled_fut is not None and link_.is_enabled:
            self._enabled_fut = None
            if not enabled_fut.done():
                enabled_fut.set_result(None)

        deadline = link_.deadline
        if deadline is not None and deadline < self._timer_at:
            self._set_timer(deadline)

        return bool(out)

    def _update_timer(self) -> None:
        deadline = self._link.deadline
        if deadline is not None and deadline < self._timer_at:
            self._set_timer(deadline)

    def _set_timer(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        # event loops may run a timer up to their clock resolution early
        now = max(self._loop.time(), self._timer_at)
        self._timer = None
        self._timer_at = _INF
        if self._reason is not None:
            return
        try:
            self._link.on_timer(now)

        except link.LinkTimeoutError as e:
            self._timed_out = True
            self._close(str(e), logging.WARNING)
            return

        self._process()

    async def _read_loop(self) -> None:
        conn = self._conn
        link_ = self._link
        received = link_.received
        limit = self._receive_limit
        loop = self._loop
        process = self._process
        try:
            while True:
                # backpressure: no read while receive_queue_limit ASDUs
                # wait (not before connect returns: nobody receives yet)
                if len(received) >= limit and self._enabled_fut is None:
                    await self._wait_resume()
                data = await conn.read()
                if _trace_cache.get(_DEBUG, True) and trace.is_enabled():
                    # with the partial APDU the link kept from before
                    trace.log_data(self._describe(), 'received',
                                   link_.pending_data + data)
                link_.receive_data(data, loop.time())
                # backpressure on the replies to what was read (S-frames,
                # TESTFR con, STARTDT / STOPDT con): no read while they
                # wait above TCP's high-water mark (drain returns at once
                # below it), so a peer that sends without reading is
                # stopped by TCP flow control
                if process():
                    await conn.drain()

        except ConnectionError as e:
            pending = link_.pending_data
            if pending:
                self._close(f'connection closed in the middle of an APDU: '
                            f'{len(pending)} octets of a frame received '
                            f'({_error_text(e)}): {pending.hex(" ")}',
                            logging.ERROR, error=e)
            else:
                self._close(_error_text(e), logging.DEBUG, error=e)

        except (apdu.ApduError, link.LinkError) as e:
            self._close(f'malformed data from peer: {e}', logging.ERROR)

        except Exception as e:
            self._close(f'link failed: {e!r}', logging.ERROR, exc_info=e)

        finally:
            self._group.close()

    async def _wait_resume(self) -> None:
        # receive completes the future once fewer than the limit are left;
        # closing cancels the read loop (it runs in the async group)
        fut = self._resume_fut = self._loop.create_future()
        debug = mlog.isEnabledFor(logging.DEBUG)
        if debug:
            mlog.debug('%s: reading paused: %s received ASDUs not taken',
                       self._describe(), len(self._link.received))
        try:
            await fut
        finally:
            if self._resume_fut is fut:
                self._resume_fut = None
        if debug:
            mlog.debug('%s: reading resumed', self._describe())

    def _close(self, reason: str, level: int = logging.DEBUG,
               exc_info: BaseException | None = None,
               error: BaseException | None = None) -> None:
        if self._reason is None:
            self._reason = reason
            if error is not None:
                self._error_cls = _error_class(error)
            if mlog.isEnabledFor(level):
                mlog.log(level, '%s: closing: %s', self._describe(), reason,
                         exc_info=exc_info)
        self._group.close()
        self._shutdown()

    def _on_close(self) -> None:
        if self._reason is None:
            self._tcp_reason()
        if self._reason is None:
            self._reason = 'closed locally'
        self._shutdown()

    def _tcp_reason(self) -> None:
        # the async group is the TCP connection's: TCP closes it on the
        # peer's FIN or RST, and calls may come (or the group's tasks be
        # cancelled) before the read loop has seen the error. Then the
        # reason is TCP's, which a write tells.
        try:
            self._conn.write(b'')

        except ConnectionError as e:
            if not str(e).endswith('closed locally'):
                self._reason = _error_text(e)
                self._error_cls = _error_class(e)

    def _shutdown(self) -> None:
        # fail every pending call (idempotent)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = -_INF  # no new timer
        exc = self._closed_error()
        for fut in self._rx_waiters:
            if not fut.done():
                fut.set_result(None)
        self._rx_waiters = []
        for waiters in (self._ack_waiters, self._written_waiters):
            for _, fut in waiters:
                if not fut.done():
                    fut.set_exception(exc)
            waiters.clear()
        if self._enabled_fut is not None and not self._enabled_fut.done():
            self._enabled_fut.set_exception(exc)

    def _on_cb_error(self, e: Exception) -> None:
        mlog.error('%s: enabled callback failed: %r', self._describe(), e,
                   exc_info=e)

    def _closed_error(self) -> ConnectionError:
        if self._reason is None:
            self._tcp_reason()
        return self._error_cls(self._closed_msg())

    def _closed_msg(self) -> str:
        # tcp's reasons name the connection too: say its address once
        describe = self._describe()
        reason = (self._reason or 'closed locally').replace(
            f' {describe}', '')
        return f'IEC 104 connection {describe} closed: {reason}'

    def _describe(self) -> str:
        local, remote = self._conn.info
        name = f'{self._conn.name} ' if self._conn.name else ''
        return (f'{name}{local.host}:{local.port} -> '
                f'{remote.host}:{remote.port}')


class _Settings(typing.NamedTuple):
    response_timeout: float
    supervisory_timeout: float
    test_timeout: float
    send_window_size: int
    receive_window_size: int
    send_queue_limit: int
    receive_queue_limit: int

    def make_link(self, is_master: bool, now: float) -> link.Link:
        return link.Link(is_master=is_master,
                         response_timeout=self.response_timeout,
                         supervisory_timeout=self.supervisory_timeout,
                         test_timeout=self.test_timeout,
                         send_window_size=self.send_window_size,
                         receive_window_size=self.receive_window_size,
                         send_queue_limit=self.send_queue_limit,
                         now=now)


def _warn_t2(settings: _Settings) -> None:
    t1 = settings.response_timeout
    t2 = settings.supervisory_timeout
    if t2 >= t1:
        mlog.warning('supervisory_timeout (t2 = %s s) is not below '
                     'response_timeout (t1 = %s s): IEC 60870-5-104 '
                     'clause 5.1 recommends t2 < t1; a peer with the same '
                     't1 may close the connection waiting for our '
                     'acknowledgements', t2, t1)


def _check_t0(connect_timeout: float) -> float:
    return link.check_timeout(connect_timeout, 'connect_timeout')


def check_ssl_ctx(ssl_ctx: ssl.SSLContext | None) -> None:
    """Check an ``ssl_ctx`` argument (before any socket is opened).

    Raises:
        TypeError: `ssl_ctx` is neither an `ssl.SSLContext` nor ``None``

    """
    if ssl_ctx is not None and not isinstance(ssl_ctx, ssl.SSLContext):
        raise TypeError(f'ssl_ctx must be ssl.SSLContext or None, not '
                        f'{type(ssl_ctx).__name__}')


_CONNECTION_ERRORS: tuple[type[ConnectionError], ...] = (
    ConnectionResetError, ConnectionRefusedError, ConnectionAbortedError,
    BrokenPipeError)


def _error_text(e: OSError) -> str:
    # the message without the "[Errno N] " prefix (the class tells it)
    if e.errno is not None and e.strerror:
        return e.strerror
    return str(e)


def _error_class(e: BaseException) -> type[ConnectionError]:
    # the specific subclass tcp raised, plain ConnectionError otherwise
    for cls in _CONNECTION_ERRORS:
        if isinstance(e, cls):
            return cls
    return ConnectionError


def _check_receive_queue_limit(receive_queue_limit: int) -> int:
    if (isinstance(receive_queue_limit, bool) or
            not isinstance(receive_queue_limit, int)):
        raise TypeError(f'receive_queue_limit must be int, not '
                        f'{type(receive_queue_limit).__name__}')
    if receive_queue_limit < 1:
        raise ValueError(f'receive_queue_limit must be at least 1, not '
                         f'{receive_queue_limit!r}')
    return int(receive_queue_limit)


def _release(waiters: collections.deque[tuple[int, asyncio.Future[None]]],
             count: int) -> None:
    while waiters and waiters[0][0] <= count:
        _, fut = waiters.popleft()
        if not fut.done():
            fut.set_result(None)
