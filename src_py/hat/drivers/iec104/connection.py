"""IEC 60870-5-104 connection: messages over an APCI link connection.

`connect` (controlling station, master) and `listen` (controlled station,
slave) give `Connection` objects that send and receive the messages of
`hat.drivers.iec104.common`. Each message is encoded as one ASDU
(`hat.drivers.iec104.codec`, IEC 60870-5-101 clause 7 with the
IEC 60870-5-104 clause 6 field sizes) and carried in one I-format APDU of the
link connection `hat.drivers.iec104.apci` (IEC 60870-5-104 clause 5:
sequence numbers, k and w windows, t0..t3, STARTDT / STOPDT / TESTFR).

The signatures of `connect` and `listen` are those of hat-drivers 0.6.23
(every parameter of 0.6.23 positional-or-keyword with its default); the new
parameters ``connect_timeout`` (t0), ``send_queue_limit``, ``name`` and
``receive_queue_limit`` are keyword-only.

Received ASDUs wait for `Connection.receive` in a buffer bounded by TCP
backpressure (see `hat.drivers.iec104.apci`): once ``receive_queue_limit``
ASDUs (default 1000) or more wait after a chunk of received octets was
processed, the connection stops reading from TCP until `Connection.receive`
has taken enough of them to leave fewer than ``receive_queue_limit``;
`hat.drivers.tcp`'s ``input_buffer_limit`` and TCP flow control then stop
the peer, and nothing received is dropped. While reading is paused this
side reads nothing: no acknowledgement of the I-frames the peer sends
meanwhile and no TESTFR con go out, and none of the peer's
acknowledgements or TESTFR con come in. If the application does not
resume calling `Connection.receive` within about t1, the connection is
closed, by the peer (its t1 on unacknowledged I-frames) or by this side
(t3, then t1 on TESTFR con). 0.6.23 buffered received ASDUs without bound.

Replies the driver makes of received input (the link's S-frames and
TESTFR / STARTDT / STOPDT con, and the COT 44, 45 and 47 mirrors below)
are flow-controlled: reading from TCP pauses while they wait, so a peer
that sends without reading or acknowledging is stopped by TCP flow control
and memory stays bounded in both directions. The link's replies are
covered by `hat.drivers.iec104.apci` (reading pauses while TCP's write
buffer is above its high-water mark). After queuing a mirror,
`Connection.receive` waits until it is written (the send window k open)
and TCP's write buffer is below its high-water mark before it takes the
next ASDU; meanwhile the received ASDUs reach ``receive_queue_limit`` and
reading pauses. So at most one mirror waits beyond k unacknowledged
I-frames (while data transfer is stopped the mirrors wait for STARTDT in
the send queue, at most ``send_queue_limit``). Before, a peer sending
unknown TypeIDs without acknowledging made the mirrors pile up in the send
queue without bound.

Undecodable ASDUs and negative replies (IEC 60870-5-101 clause 7.2.3):
`Connection.receive` logs an ASDU that cannot be decoded once at ERROR
level (the cause, with the ASDU's octets as hex) on this module's logger
and skips it: the application never sees it, and the next ASDU is
returned. On a connection accepted by `listen` (controlled station), an
ASDU in the control direction (TypeID 45..127) whose TypeID this driver
does not decode (for instance 104 C_TS_NA_1, not used by IEC 60870-5-104,
or 120..127 file transfer) is also answered with its mirror: the received
octets with COT 44 (unknown type identification) and P/N = 1, the T bit,
originator address, common address and every other octet as received
(`hat.drivers.iec104.codec.mirror_unknown`). One with a known TypeID and
cause of transmission 0 (not defined) is answered the same way with COT
45 (unknown cause of transmission). The reply is sent when `receive`
reaches the ASDU (it goes through the send queue like any I-frame; if the
connection is already closed it is not sent, and the ERROR record says so).
Other decoding errors (wrong length, undefined element value, TypeIDs
below 45) are not answered, and a controlling station (`connect`) never
answers: it only logs. COT 46 (unknown common address of ASDU) and 47
(unknown information object address) need the application's knowledge of
its addresses, so they are left to the application: it sends the negative
confirmation itself (the request message with ``is_negative_confirm=True``
and ``cause=CommandResCause.UNKNOWN_ASDU_ADDRESS`` or ``UNKNOWN_IO_ADDRESS``,
or the matching cause of the message's response enum).

System commands addressed to an information object: IEC 60870-5-101
clause 7.3.4 fixes the information object address (IOA) of C_IC_NA_1
(`InterrogationMsg`), C_CI_NA_1 (`CounterInterrogationMsg`), C_CS_NA_1
(`ClockSyncMsg`), C_RP_NA_1 (`ResetMsg`) and C_TS_TA_1 (`TestMsg`) at 0;
their message classes have no ``io_address`` (as in 0.6.23) and are sent
with IOA 0. `Connection.receive` checks the IOA received
(`hat.drivers.iec104.codec.decode_objects`): an ASDU of these TypeIDs with
an object whose IOA is not 0 never reaches the application and is logged
once at ERROR (TypeID, IOA, octets as hex). A controlled station answers
it, as IEC TS 60870-5-604 expects, with its mirror with COT 47 (unknown
information object address) and P/N = 1, everything else as received
(`hat.drivers.iec104.codec.mirror_unknown`), and the connection stays up;
one that is itself a negative reply (COT 44..47) is not answered (that
could loop). A controlling station drops it: it is not a valid
confirmation of a request this driver sent (those have IOA 0), and
`TestMsg` and `ResetMsg` have no P/N to deliver it as negative. 0.6.23
dropped the IOA, so a request with IOA 5 reached the application as one
with IOA 0 and was confirmed positively.

An I-frame without ASDU octets is acknowledged and `Connection.receive`
logs its empty ASDU as undecodable (once at ERROR) and skips it, like any
other undecodable ASDU (0.6.23 dropped it silently).

Connection errors: when the connection was closed because
`hat.drivers.tcp` raised `ConnectionResetError`, `ConnectionRefusedError`,
`ConnectionAbortedError` or `BrokenPipeError` (for instance the peer's
RST), `connect`, `Connection.receive`, `Connection.send`,
`Connection.drain` and `Connection.send_wait_ack` raise that same subclass
(the message says why); plain `ConnectionError` otherwise. A frame cut off
by the peer's FIN or RST is logged once at ERROR by
`hat.drivers.iec104.apci` as the closing reason. ``ssl_ctx`` must be an
`ssl.SSLContext` or ``None`` (`TypeError` otherwise, before any socket is
opened).

Differences from hat-drivers 0.6.23 (following IEC 60870-5-104):

* `Connection.receive` logs an ASDU that cannot be decoded (unknown TypeID,
  wrong length for its objects, undefined cause or element value) once at
  ERROR level with its octets as hex on this module's logger and skips it;
  the I-frame is acknowledged as usual and the next ASDU is returned.
  0.6.23 raised the decoding error (`ValueError`, `IndexError`) from
  `receive`. A controlled station answers an unknown control direction
  TypeID with COT 44 and an undefined cause with COT 45 (see above;
  0.6.23 did not answer, so a peer waited for its own timeout).
* A system command (C_IC_NA_1, C_CI_NA_1, C_CS_NA_1, C_RP_NA_1,
  C_TS_TA_1) with an IOA other than 0 is refused: a controlled station
  answers with COT 47 and P/N = 1, a controlling station drops it, both
  log it once at ERROR (0.6.23 delivered it as if its IOA were 0).
* t2 >= t1 (``supervisory_timeout`` not below ``response_timeout``) is
  accepted as in 0.6.23, with one WARNING per `connect` or `listen` call.
* Messages sent while data transfer is stopped (slave before STARTDT act or
  after STOPDT act) are kept, up to ``send_queue_limit`` ASDUs, and sent
  after the next STARTDT act; beyond the limit `Connection.send` raises
  ``apci.ConnectionDisabledError`` (0.6.23 dropped them silently, and its
  `Connection.send_wait_ack` raised at once).
* t3 is an idle timer, STOPDT con waits for the acknowledgement of sent
  I-frames, a master ignores STARTDT act and STOPDT act with a WARNING (see
  `hat.drivers.iec104.apci`).
* A field out of range raises `ValueError` and a field of the wrong type
  `TypeError`, both naming the field, from `Connection.send` and
  `Connection.send_wait_ack` (0.6.23 masked some fields and raised
  `OverflowError` or `struct.error` for others). Received ASDUs must have
  exactly the length their TypeID and number of objects give (see
  `hat.drivers.iec104.codec` for the other decoding differences).
* ``update_key`` (IEC 62351-5 secure authentication) raises
  `NotImplementedError` (0.6.23 returned a connection that hung the event
  loop); ``critical_functions`` is accepted and unused.
* `connect` raises `hat.drivers.tcp.ConnectTimeoutError` (a
  `ConnectionError` and an `asyncio.TimeoutError`) when t0 or the wait for
  STARTDT con expires, and `ConnectionError` subclasses for other failures.
* `Server.addresses` is new (the bound port, for ``port=0``).
* Arguments are checked up front and a wrong type raises `TypeError`
  naming what was expected: a single message given to `Connection.send`
  or `Connection.send_wait_ack` instead of a list is refused before
  anything is sent (0.6.23 iterated the message's fields and raised
  ``ValueError: unsupported message: bool``); an item that is not a
  message still raises ``ValueError('unsupported message: ...')``, now
  naming its index, its type and the message classes; `connect` and
  `listen` check ``addr``, ``connection_cb`` (callable),
  ``update_key`` and ``critical_functions`` before any socket is opened.

Example (master)::

    conn = await iec104.connect(tcp.Address('127.0.0.1', 2404))
    conn.send([iec104.InterrogationMsg(
        is_test=False, originator_address=0, asdu_address=1, request=20,
        is_negative_confirm=False,
        cause=iec104.CommandReqCause.ACTIVATION)])
    while True:
        for msg in await conn.receive():
            print(msg)

"""

from collections.abc import Callable, Collection, Iterable
import logging
import ssl
import typing

from hat import aio
from hat import util

from hat.drivers import tcp
from hat.drivers.iec104 import apci
from hat.drivers.iec104 import codec
from hat.drivers.iec104 import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

DEFAULT_CRITICAL_FUNCTIONS: frozenset[common.Function] = frozenset({
    common.Function.COMMAND,
    common.Function.TEST,
    common.Function.RESET,
    common.Function.PARAMETER,
    common.Function.PARAMETER_ACTIVATION})
"""Default ``critical_functions`` (functions that would need IEC 62351-5
authentication)"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""

# TypeIDs answered by a controlled station when unknown: 45..127 (IEC
# 60870-5-101 clause 7.2.1.1: process information in control direction
# 45..69, system information in control direction 100..109, parameters
# 110..119, file transfer 120..127; 70..99 is system information in
# monitor direction, whose only TypeID, 70 M_EI_NA_1, is decoded)
_CONTROL_TYPE_IDS = range(45, 128)

# system commands whose IOA is fixed at 0 (IEC 60870-5-101 clause 7.3.4)
_ZERO_IOA_TYPE_IDS = codec.ZERO_IOA_TYPE_IDS

# negative replies a controlled station does not answer (COT 44..47)
_NEGATIVE_CAUSES = range(44, 48)


async def connect(addr: tcp.Address,
                  response_timeout: float = 15,
                  supervisory_timeout: float = 10,
                  test_timeout: float = 20,
                  send_window_size: int = 12,
                  receive_window_size: int = 8,
                  ssl_ctx: ssl.SSLContext | None = None,
                  update_key: common.Bytes | None = None,
                  critical_functions: Collection[common.Function] = (
                      DEFAULT_CRITICAL_FUNCTIONS),
                  *,
                  connect_timeout: float = 30,
                  send_queue_limit: int = apci.DEFAULT_SEND_QUEUE_LIMIT,
                  name: str | None = None,
                  receive_queue_limit: int = apci.DEFAULT_RECEIVE_QUEUE_LIMIT
                  ) -> 'Connection':
    """Connect to a controlled station (slave) as controlling station.

    Opens the TCP connection (TLS if `ssl_ctx` is given), sends STARTDT act
    and waits for STARTDT con (IEC 60870-5-104 clause 5.3). The connection
    returned is enabled.

    Args:
        addr: remote address (IEC 60870-5-104 port: 2404, with TLS 19998)
        response_timeout: t1 in seconds (positive): how long this side
            waits for the peer's acknowledgement of sent I-frames, for
            STARTDT con and for TESTFR con
        supervisory_timeout: t2 in seconds (positive): longest time a
            received I-frame stays unacknowledged by this side; it has to
            be below the PEER's t1. IEC 60870-5-104 clause 5.1 recommends
            t2 < t1 for a symmetric configuration: t2 >= t1 is accepted
            (as in 0.6.23) and logs one WARNING naming both values
        test_timeout: t3 in seconds: idle time before TESTFR act
        send_window_size: k: most unacknowledged sent I-frames
        receive_window_size: w: received I-frames acknowledged at the latest
        ssl_ctx: TLS context (IEC 62351-3), ``None`` for plain TCP
        update_key: IEC 62351-5 update key: not supported, must be ``None``
        critical_functions: IEC 62351-5 critical functions: accepted,
            unused
        connect_timeout: t0 in seconds: bound of the TCP connection
            establishment (including the TLS handshake)
        send_queue_limit: ASDUs kept while data transfer is stopped
        name: name of the connection in log records
        receive_queue_limit: received ASDUs (>= 1, default 1000) not yet
            taken by `Connection.receive` at which the connection stops
            reading from TCP until `Connection.receive` brings them below
            it (backpressure: nothing is dropped). While paused no
            acknowledgement of the peer's I-frames and no TESTFR con go
            out or come in, so unless `Connection.receive` is called again
            within about t1 the peer (its t1 on unacknowledged I-frames) or
            this side (t3, then t1 on TESTFR con) closes the connection

    Raises:
        NotImplementedError: `update_key` is not ``None``
        TypeError, ValueError: bad argument
        hat.drivers.tcp.ConnectTimeoutError: t0 expired, or no STARTDT con
            within t1 (a `ConnectionError` and an `asyncio.TimeoutError`)
        ConnectionError: the connection failed (refused, closed by the
            peer, malformed data, ...)

    """
    _check_addr(addr)
    apci.check_ssl_ctx(ssl_ctx)
    _check_secure(update_key, critical_functions)
    conn = await apci.connect(addr,
                              response_timeout=response_timeout,
                              supervisory_timeout=supervisory_timeout,
                              test_timeout=test_timeout,
                              send_window_size=send_window_size,
                              receive_window_size=receive_window_size,
                              connect_timeout=connect_timeout,
                              send_queue_limit=send_queue_limit,
                              ssl_ctx=ssl_ctx,
                              name=name,
                              receive_queue_limit=receive_queue_limit)
    return Connection(conn)


async def listen(connection_cb: ConnectionCb,
                 addr: tcp.Address = apci.DEFAULT_LISTEN_ADDRESS,
                 response_timeout: float = 15,
                 supervisory_timeout: float = 10,
                 test_timeout: float = 20,
                 send_window_size: int = 12,
                 receive_window_size: int = 8,
                 ssl_ctx: ssl.SSLContext | None = None,
                 update_key: common.Bytes | None = None,
                 critical_functions: Collection[common.Function] = (
                     DEFAULT_CRITICAL_FUNCTIONS),
                 *,
                 send_queue_limit: int = apci.DEFAULT_SEND_QUEUE_LIMIT,
                 name: str | None = None,
                 receive_queue_limit: int = apci.DEFAULT_RECEIVE_QUEUE_LIMIT
                 ) -> 'Server':
    """Listen for controlling stations (masters) as controlled station.

    `connection_cb` is called with every accepted `Connection` at once,
    before STARTDT; the connection is disabled (`Connection.is_enabled`)
    until the master's STARTDT act. If the callback raises, the error is
    logged and that connection is closed. Closing the server closes every
    connection it accepted.

    Args:
        connection_cb: called with each new `Connection` (plain function or
            coroutine function)
        addr: local address (port 0 picks a free port: see
            `Server.addresses`)
        response_timeout: as in `connect`, for every accepted connection
        supervisory_timeout: as in `connect`, for every accepted connection
        test_timeout: as in `connect`, for every accepted connection
        send_window_size: as in `connect`, for every accepted connection
        receive_window_size: as in `connect`, for every accepted connection
        ssl_ctx: as in `connect`, for every accepted connection
        update_key: as in `connect`, for every accepted connection
        critical_functions: as in `connect`, for every accepted connection
        send_queue_limit: as in `connect`, for every accepted connection
        name: as in `connect`, for every accepted connection
        receive_queue_limit: as in `connect`, for every accepted
            connection (reading pauses at this many received ASDUs not
            taken by `Connection.receive`; while paused no acknowledgement
            and no TESTFR con go out or come in, and the connection is
            closed by the peer's t1 or by this side's t3 then t1 unless
            receiving resumes within about t1)

    Raises:
        NotImplementedError: `update_key` is not ``None``
        TypeError, ValueError: bad argument
        OSError: the address could not be bound

    """
    if not callable(connection_cb):
        raise TypeError(f'connection_cb must be callable (a function or '
                        f'coroutine function taking the Connection), not '
                        f'{type(connection_cb).__name__}')
    _check_addr(addr)
    apci.check_ssl_ctx(ssl_ctx)
    _check_secure(update_key, critical_functions)

    async def on_connection(conn: apci.Connection) -> None:
        await aio.call(connection_cb, Connection(conn))

    srv = await apci.listen(on_connection, addr,
                            response_timeout=response_timeout,
                            supervisory_timeout=supervisory_timeout,
                            test_timeout=test_timeout,
                            send_window_size=send_window_size,
                            receive_window_size=receive_window_size,
                            send_queue_limit=send_queue_limit,
                            ssl_ctx=ssl_ctx,
                            name=name,
                            receive_queue_limit=receive_queue_limit)
    return Server(srv)


class Server(apci.Resource):
    """Server made by `listen`. Closing it stops listening and closes every
    connection it accepted."""

    def __init__(self, srv: apci.Server):
        self._srv = srv

    @property
    def async_group(self) -> aio.Group:
        """Async group (the TCP server's)"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[tcp.Address]:
        """Listening addresses with the bound ports (new, not in 0.6.23)"""
        return self._srv.addresses


class Connection(apci.Resource):
    """Connection made by `connect` or `listen`.

    Messages are sent in call order across `send`, `send_wait_ack` and
    `drain`, one ASDU and one I-frame per message (VSQ 0x01, as 0.6.23).
    Received ASDUs are returned by `receive` in arrival order, one list of
    messages per ASDU; reading from TCP pauses while
    ``receive_queue_limit`` of them wait (see the module docstring).

    """

    def __init__(self, conn: apci.Connection):
        self._conn = conn

    @property
    def conn(self) -> apci.Connection:
        """APCI link connection underneath (sends and receives ASDU
        octets)"""
        return self._conn

    @property
    def async_group(self) -> aio.Group:
        """Async group (the link's and the TCP connection's)"""
        return self._conn.async_group

    @property
    def info(self) -> tcp.ConnectionInfo:
        """Local and remote address"""
        return self._conn.info

    @property
    def is_enabled(self) -> bool:
        """Whether data transfer is started (STARTDT, IEC 60870-5-104
        clause 5.3); a master is enabled from `connect` on"""
        return self._conn.is_enabled

    def register_enabled_cb(self,
                            cb: Callable[[bool], None]
                            ) -> util.RegisterCallbackHandle:
        """Register a callback of data transfer state changes.

        `cb` is called with ``True`` for every STARTDT act received and
        with ``False`` for every STOPDT act the controlled station accepts;
        not on close. ``handle.cancel()`` unregisters it.

        Raises:
            TypeError: `cb` is not callable

        """
        if not callable(cb):
            raise TypeError(f'cb must be callable (taking a bool), not '
                            f'{type(cb).__name__}')
        return self._conn.register_enabled_cb(cb)

    def send(self, msgs: list[common.Msg]) -> None:
        """Queue messages for sending, one ASDU each; never blocks.

        Messages are encoded one after the other: if message *i* cannot be
        encoded, messages 0..i-1 stay queued and will be sent.

        Args:
            msgs: messages: a list (or another iterable, not a message
                itself) of `common.Msg`

        Raises:
            TypeError: `msgs` is not a list of messages (a single message
                is refused before anything is sent: use ``send([msg])``),
                or a field of a message has the wrong type (the error
                names the field)
            ValueError: an item of `msgs` is not a message
                (``'unsupported message: ...'``, naming its index and
                type) or a field is out of range (naming the field)
            apci.ConnectionDisabledError: data transfer is stopped and
                ``send_queue_limit`` ASDUs are already queued
            ConnectionError: the connection is closed

        """
        if msgs.__class__ is not list:
            _check_msgs(msgs)
        conn = self._conn
        if not msgs:
            self._check_open()
        for i, msg in enumerate(msgs):
            try:
                asdu = codec.encode_asdu(msg)

            except ValueError:
                _check_msg(i, msg)
                raise

            conn.send(asdu)

    async def send_wait_ack(self, msgs: list[common.Msg]) -> None:
        """Send messages (as `send`) and wait until the peer acknowledges
        the I-frame of the last one.

        Every message is encoded before any is queued. An empty list
        returns at once. While data transfer is stopped the messages are
        queued and the wait includes the wait for STARTDT.

        Raises:
            TypeError, ValueError: `msgs` is not a list of messages, or a
                message cannot be encoded, as in `send` (nothing was
                queued)
            apci.ConnectionDisabledError: as in `send`
            ConnectionError: the connection is closed, or closes before the
                acknowledgement

        """
        if msgs.__class__ is not list:
            _check_msgs(msgs)
        data = []
        for i, msg in enumerate(msgs):
            try:
                data.append(codec.encode_asdu(msg))

            except ValueError:
                _check_msg(i, msg)
                raise
        if not data:
            self._check_open()
            return
        conn = self._conn
        for asdu in data[:-1]:
            conn.send(asdu)
        await conn.send_wait_ack(data[-1])

    async def drain(self, wait_ack: bool = False) -> None:
        """Wait until every message queued before this call has been
        written to the TCP connection and, if `wait_ack` is true, until the
        peer acknowledged it.

        Raises:
            TypeError: `wait_ack` is not a bool
            ConnectionError: the connection is closed or closes meanwhile

        """
        if wait_ack is not True and wait_ack is not False:
            raise TypeError(f'wait_ack must be bool, not '
                            f'{type(wait_ack).__name__}')
        await self._conn.drain(wait_ack)

    async def receive(self) -> list[common.Msg]:
        """Receive the messages of the next ASDU.

        An ASDU that cannot be decoded is logged once at ERROR level with
        its octets as hex and skipped. A controlled station (connection
        accepted by `listen`) answers one in the control direction
        (TypeID 45..127) with an unknown TypeID by its mirror with COT 44
        and P/N = 1, or with an undefined cause (0) by its mirror with COT
        45 (IEC 60870-5-101 clause 7.2.3; see the module docstring).
        A C_IC_NA_1, C_CI_NA_1, C_CS_NA_1, C_RP_NA_1 or C_TS_TA_1 with an
        IOA other than 0 (IEC 60870-5-101 clause 7.3.4) is logged once at
        ERROR and skipped too; a controlled station answers it with its
        mirror with COT 47 and P/N = 1. After queuing a mirror, the next
        ASDU is taken only once the mirror is written and TCP's write
        buffer is below its high-water mark (backpressure on a peer that
        sends without reading). Messages received before close are still
        returned after it.

        Returns:
            messages of one ASDU in object order (empty for an ASDU with 0
            objects)

        Raises:
            ConnectionError: the connection is closed and no received ASDU
                is left

        """
        conn = self._conn
        while True:
            data = await conn.receive()
            try:
                if data and data[0] in _ZERO_IOA_TYPE_IDS:
                    objects = codec.decode_objects(data)
                    ioas = [ioa for ioa, _ in objects if ioa]
                    if not ioas:
                        return [msg for _, msg in objects]
                    sent = self._refuse_ioa(data, ioas)

                else:
                    return codec.decode_asdu(data)

            except codec.AsduDecodeError as e:
                answer, sent = self._answer_unknown(data)
                local, remote = conn.info
                mlog.error('%s:%s -> %s:%s: undecodable ASDU skipped%s: %s; '
                           'ASDU: %s', local.host, local.port, remote.host,
                           remote.port, answer, e,
                           bytes(data).hex(' ') or '(no octets)')

            if sent:
                await self._drain_reply()

    async def _drain_reply(self) -> None:
        # backpressure on replies the driver makes of received input: the
        # next ASDU is taken only once the reply is written and TCP
        # accepted it (below its high-water mark), so a peer that sends
        # without reading or acknowledging is stopped by the receive
        # buffer's limit and TCP flow control. While data transfer is
        # stopped the reply waits in the send queue (send_queue_limit).
        conn = self._conn
        if not conn.is_enabled:
            return
        try:
            await conn.drain()

        except ConnectionError:
            pass  # the next conn.receive tells

    def _refuse_ioa(self, data: bytes, ioas: list[int]) -> bool:
        """Refuse a system command whose IOA is not 0 (IEC 60870-5-101
        clause 7.3.4, IEC TS 60870-5-604): a controlled station mirrors it
        with COT 47 and P/N = 1, a controlling station drops it; one ERROR
        record either way. Returns whether a reply was queued."""
        conn = self._conn
        type_id = data[0]
        cause = data[2] & 0x3F
        sent = False
        if conn.is_master:
            answer = 'dropped, not taken for a valid confirmation'
        elif cause in _NEGATIVE_CAUSES:
            # a negative reply itself: answering it could loop
            answer = f'dropped (COT {cause}: not answered)'
        else:
            mirror = codec.mirror_unknown(data,
                                          codec.UNKNOWN_IO_ADDRESS_CAUSE)
            try:
                if mirror is not None:
                    conn.send(mirror)
                    sent = True

            except ConnectionError as e:
                answer = (f'refused, not answered with COT '
                          f'{codec.UNKNOWN_IO_ADDRESS_CAUSE}: {e}')

            else:
                answer = (f'refused, answered with COT '
                          f'{codec.UNKNOWN_IO_ADDRESS_CAUSE} (unknown '
                          f'information object address), P/N = 1')
        local, remote = conn.info
        mlog.error('%s:%s -> %s:%s: %s (TypeID %s) with information object '
                   'address %s %s: IEC 60870-5-101 clause 7.3.4 fixes it at '
                   '0; ASDU: %s', local.host, local.port, remote.host,
                   remote.port, codec.type_name(type_id), type_id,
                   ', '.join(str(ioa) for ioa in ioas), answer,
                   bytes(data).hex(' '))
        return sent

    def _answer_unknown(self, data: bytes) -> tuple[str, bool]:
        """Send the negative mirror of an undecodable ASDU if this is a
        controlled station and the ASDU is in the control direction with
        an unknown TypeID or cause; the text for the log record and
        whether a reply was queued"""
        conn = self._conn
        if conn.is_master or not data or data[0] not in _CONTROL_TYPE_IDS:
            return '', False
        cause = codec.unknown_cause(data)
        if cause is None:
            return '', False
        mirror = codec.mirror_unknown(data, cause)
        if mirror is None:
            return '', False
        try:
            conn.send(mirror)

        except ConnectionError as e:
            return f' (not answered with COT {cause}: {e})', False

        return f' (answered with COT {cause}, P/N = 1)', True

    def _check_open(self) -> None:
        self._conn.check_open()


_MSG_TYPES: frozenset[type] = frozenset(typing.get_args(common.Msg))

_MSG_NAMES = ', '.join(cls.__name__ for cls in typing.get_args(common.Msg))


def _check_msgs(msgs: typing.Any) -> None:
    # the shape of a `msgs` argument that is not a list
    if type(msgs) in _MSG_TYPES:
        raise TypeError(f'msgs must be a list of messages, not a single '
                        f'{type(msgs).__name__} (send [msg], not msg)')
    if (isinstance(msgs, (str, bytes, bytearray, memoryview, dict)) or
            not isinstance(msgs, Iterable)):
        raise TypeError(f'msgs must be a list of messages, not '
                        f'{type(msgs).__name__}')


def _check_msg(index: int, msg: typing.Any) -> None:
    # an item that is no message: name it (ValueError, as 0.6.23)
    if type(msg) not in _MSG_TYPES:
        raise ValueError(f'unsupported message: msgs[{index}] is '
                         f'{type(msg).__name__}, expected one of '
                         f'{_MSG_NAMES}') from None


def _check_addr(addr: typing.Any) -> None:
    if not isinstance(addr, tuple) or len(addr) != 2:
        raise TypeError(f'addr must be tcp.Address(host, port), not '
                        f'{type(addr).__name__}')


def _check_secure(update_key: common.Bytes | None,
                  critical_functions: Collection[common.Function]
                  ) -> None:
    if update_key is not None:
        if not isinstance(update_key, (bytes, bytearray, memoryview)):
            raise TypeError(f'update_key must be bytes or None, not '
                            f'{type(update_key).__name__}')
        raise NotImplementedError(
            'update_key: IEC 62351-5 secure authentication is not '
            'supported')
    if (isinstance(critical_functions, (str, bytes, common.Function)) or
            not isinstance(critical_functions, Iterable)):
        raise TypeError(f'critical_functions must be a collection of '
                        f'Function, not {type(critical_functions).__name__}')
    for function in critical_functions:
        if not isinstance(function, common.Function):
            raise TypeError(f'critical_functions: expected Function items, '
                            f'got {type(function).__name__}')
