"""IEC 60870-5-104 link state machine (APCI procedures), sans I/O.

`Link` holds the state of one IEC 60870-5-104 connection as described in
clause 5 of the standard and does no I/O of its own: the caller feeds it
received octets (`Link.receive_data`) or frames (`Link.receive_frame`),
ASDUs to send (`Link.send`) and the current time (every call takes
``now``, in seconds of a monotonic clock; `Link.on_timer` is called at
`Link.deadline`). It answers with octets to write (`Link.data_to_send`),
received ASDUs (`Link.received`), changes of the data transfer state
(`Link.enabled_events`) and counters that tell which ASDUs were written
and acknowledged. Protocol violations raise `ApduError` (framing) or
`LinkError` (procedures, timeouts); the connection must then be closed.

Procedures (clause 5):

* Sequence numbers N(S) and N(R) count modulo 32768 (clause 5.1). A
  received I-frame whose N(S) is not the expected one, or an N(R) that
  acknowledges I-frames never sent (or goes back), raises `LinkError`.
* k (clause 5.5): at most k sent I-frames are unacknowledged; ASDUs beyond
  wait in FIFO order and are sent as acknowledgements arrive.
* w (clause 5.5): after w received I-frames without acknowledgement an
  S-frame is sent at once (an I-frame sent carries the acknowledgement
  too). When w is reached inside one chunk of received octets, the S-frame
  follows the chunk's last complete APDU and acknowledges all of it, so
  the peer's window reopens fully (the acknowledgement is no later: the
  chunk is processed in one go).
* t1 (clauses 5.1 to 5.3): every sent I-frame and every STARTDT act /
  STOPDT act / TESTFR act must be acknowledged or confirmed within t1,
  otherwise `LinkTimeoutError`.
* t2 (clause 5.1): received I-frames are acknowledged (S-frame) at the
  latest t2 after the first unacknowledged one arrived. t2 bounds how long
  this side delays its acknowledgements, so it has to be below the PEER's
  t1; clause 5.1 recommends t2 < t1 for a symmetric configuration, but
  `Link` accepts any positive t1 and t2 (as hat-drivers 0.6.23 did;
  `hat.drivers.iec104.apci` logs a WARNING when t2 >= t1).
* t3 (clause 5.2): idle timer restarted by every received frame; when it
  expires TESTFR act is sent, and its TESTFR con is expected within t1.
  TESTFR act received is always answered with TESTFR con.
* STARTDT / STOPDT (clause 5.3): the controlling station (master) sends
  STARTDT act at `Link.start` and is enabled on STARTDT con. The controlled
  station (slave) starts disabled, answers STARTDT act with STARTDT con
  (also when already enabled) and becomes enabled. On STOPDT act the slave
  sends no new I-frames, acknowledges the I-frames it received (S-frame)
  and answers STOPDT con once all its sent I-frames are acknowledged. A
  master receiving STARTDT act or STOPDT act logs a WARNING and ignores it
  (only the controlling station sends them, clause 5.3: a master that
  confirmed a peer's STARTDT act, for instance one echoing its own
  frames, would take itself for started and receive its own commands;
  0.6.23 answered it). Its STARTDT con then never comes and `start`'s t1
  expires. Received I-frames are delivered in either state.
* While disabled, ASDUs passed to `Link.send` are kept (at most
  ``send_queue_limit`` of them; beyond it `ConnectionDisabledError`) and
  sent once data transfer is started. hat-drivers 0.6.23 dropped them
  silently.

"""

import collections
import logging
import struct
import typing

from hat.drivers import _seconds
from hat.drivers.iec104 import apdu


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

DEFAULT_SEND_QUEUE_LIMIT: int = 1000
"""Default `send_queue_limit`: ASDUs kept while data transfer is stopped"""

_MOD = apdu.SN_MODULO
_MASK = apdu.SN_MODULO - 1
_START = apdu.START
_MIN_LENGTH = apdu.MIN_LENGTH
_MAX_LENGTH = apdu.MAX_LENGTH
_MAX_ASDU_SIZE = apdu.MAX_ASDU_SIZE
_IFrame = apdu.IFrame
_SFrame = apdu.SFrame
_UF = apdu.UFunction
# start octet, length, N(S) << 1, N(R) << 1 (clause 5, little endian)
_pack_header = struct.Struct('<BBHH').pack
_STARTDT_CON = apdu.encode_apdu(apdu.UFrame(_UF.STARTDT_CON))
_STOPDT_CON = apdu.encode_apdu(apdu.UFrame(_UF.STOPDT_CON))
_TESTFR_CON = apdu.encode_apdu(apdu.UFrame(_UF.TESTFR_CON))


class LinkError(Exception):
    """Link procedure violated by the peer or timed out; the connection
    must be closed. The message names the cause and, for a frame, gives it
    as hex."""


class LinkTimeoutError(LinkError):
    """t1 expired: an I-frame was not acknowledged, or a STARTDT act,
    STOPDT act or TESTFR act was not confirmed in time"""


class ConnectionDisabledError(ConnectionError):
    """Data transfer is stopped and the queue of ASDUs waiting for STARTDT
    is full (``send_queue_limit``)"""


class Link:
    """Link layer state machine of one connection (IEC 60870-5-104
    clause 5).

    Args:
        is_master: ``True`` for the controlling station (it sends STARTDT
            act, see `start`), ``False`` for the controlled station
        response_timeout: t1 (seconds, positive): bound of the wait for
            the peer's acknowledgements and confirmations
        supervisory_timeout: t2 (seconds, positive): longest delay of this
            side's acknowledgements; should be below the peer's t1
            (clause 5.1 recommends t2 < t1), not checked against t1
        test_timeout: t3 (seconds)
        send_window_size: k (1..32767)
        receive_window_size: w (1..32767); should be at most 2/3 of k
        send_queue_limit: ASDUs kept while data transfer is stopped (>= 0)
        now: current time (seconds, monotonic)

    Raises:
        TypeError, ValueError: an argument of the wrong type or out of range

    """

    def __init__(self,
                 *,
                 is_master: bool,
                 response_timeout: float,
                 supervisory_timeout: float,
                 test_timeout: float,
                 send_window_size: int,
                 receive_window_size: int,
                 send_queue_limit: int = DEFAULT_SEND_QUEUE_LIMIT,
                 now: float):
        t1 = check_timeout(response_timeout, 'response_timeout')
        t2 = check_timeout(supervisory_timeout, 'supervisory_timeout')
        t3 = check_timeout(test_timeout, 'test_timeout')
        self._k = _check_count(send_window_size, 'send_window_size', 1,
                               _MASK)
        self._w = _check_count(receive_window_size, 'receive_window_size',
                               1, _MASK)
        self._queue_limit = _check_count(send_queue_limit,
                                         'send_queue_limit', 0, None)
        self._is_master = bool(is_master)
        self._t1 = t1
        self._t2 = t2
        self._t3 = t3

        self._enabled = False
        # received octets of an incomplete APDU
        self._buf = b''
        # sequence numbers: next N(S) to send, oldest unacknowledged N(S),
        # next N(S) expected from the peer
        self._send_sn = 0
        self._ack_sn = 0
        self._receive_sn = 0
        # send times of the unacknowledged I-frames, oldest first
        self._unacked: collections.deque[float] = collections.deque()
        # ASDUs not sent yet (window full or disabled)
        self._queue: collections.deque[bytes] = collections.deque()
        # received I-frames not acknowledged yet and t2 deadline
        self._unacked_received = 0
        self._t2_deadline = 0.0
        self._last_received = now
        # t1 deadlines of sent STARTDT act, STOPDT act, TESTFR act
        self._u_deadlines: dict[_UF, float] = {}
        self._stopdt_con_pending = False
        self._out = bytearray()
        # inside receive_data: the w S-frame waits for the end of the chunk
        self._in_chunk = False

        self.received: collections.deque[bytes] = collections.deque()
        """Received ASDUs not taken yet (the caller pops them), in order.
        Not bounded here: the caller bounds it by not feeding
        `receive_data` while it is long (`hat.drivers.iec104.apci`'s
        ``receive_queue_limit``)"""

        self.enabled_events: list[bool] = []
        """Data transfer state changes not taken yet (the caller clears
        the list): ``True`` for every STARTDT act the controlled station
        receives (also when already enabled) and ``False`` for every
        STOPDT act it accepts; the master's own STARTDT con is not
        reported"""

        self.queued_count = 0
        """Number of ASDUs passed to `send` so far"""

        self.sent_count = 0
        """Number of ASDUs sent in I-frames so far (written to
        `data_to_send`)"""

        self.acked_count = 0
        """Number of sent ASDUs acknowledged by the peer so far"""

    @property
    def is_master(self) -> bool:
        """``True`` for the controlling station"""
        return self._is_master

    @property
    def is_enabled(self) -> bool:
        """Whether data transfer is started (I-frames are sent)"""
        return self._enabled

    @property
    def queue_size(self) -> int:
        """ASDUs waiting to be sent (window full or data transfer
        stopped)"""
        return len(self._queue)

    @property
    def deadline(self) -> float | None:
        """Earliest time at which `on_timer` has work to do (t1, t2 or t3
        expiry), or ``None``"""
        deadline = None
        if not self._u_deadlines.get(_UF.TESTFR_ACT):
            deadline = self._last_received + self._t3
        if self._unacked:
            t = self._unacked[0] + self._t1
            if deadline is None or t < deadline:
                deadline = t
        if self._unacked_received:
            t = self._t2_deadline
            if deadline is None or t < deadline:
                deadline = t
        for t in self._u_deadlines.values():
            if deadline is None or t < deadline:
                deadline = t
        return deadline

    def data_to_send(self) -> bytes:
        """Take the octets to be written to the connection (``b''`` if
        there are none)"""
        if not self._out:
            return b''
        data = bytes(self._out)
        self._out.clear()
        return data

    def start(self, now: float) -> None:
        """Start data transfer (master): send STARTDT act; STARTDT con is
        expected within t1.

        Raises:
            ValueError: called on the controlled station (slave)

        """
        if not self._is_master:
            raise ValueError('only the controlling station (master) sends '
                             'STARTDT act')
        self._send_u(_UF.STARTDT_ACT, now)

    def send(self, asdu: bytes, now: float) -> int:
        """Send an ASDU in an I-frame, now or once the send window (k) and
        the data transfer state allow it.

        Args:
            asdu: ASDU octets (at most 249)
            now: current time (seconds)

        Returns:
            the ASDU's number: it is acknowledged once `acked_count` reaches
            it, and written once `sent_count` reaches it

        Raises:
            TypeError: `asdu` is not bytes
            ValueError: `asdu` is longer than 249 octets
            ConnectionDisabledError: data transfer is stopped and
                ``send_queue_limit`` ASDUs wait already

        """
        if asdu.__class__ is not bytes:
            if not isinstance(asdu, (bytes, bytearray, memoryview)):
                raise TypeError(f'asdu must be bytes, not '
                                f'{type(asdu).__name__}')
            asdu = bytes(asdu)
        if len(asdu) > _MAX_ASDU_SIZE:
            raise ValueError(f'asdu is {len(asdu)} octets long: at most '
                             f'{_MAX_ASDU_SIZE} fit in an APDU')

        if self._enabled and not self._queue and len(self._unacked) < self._k:
            self._send_i(asdu, now)

        elif not self._enabled and len(self._queue) >= self._queue_limit:
            raise ConnectionDisabledError(
                f'data transfer is stopped and {self._queue_limit} ASDUs '
                f'(send_queue_limit) already wait for STARTDT')

        else:
            self._queue.append(asdu)

        self.queued_count += 1
        return self.queued_count

    def receive_data(self, data: bytes, now: float) -> None:
        """Process octets received from the connection.

        Complete APDUs are processed in order; a partial one at the end is
        kept for the next call. ASDUs received before an error stay in
        `received`. When w is reached within the octets given, the S-frame
        is sent after the last complete APDU and acknowledges all of them
        (one S-frame per chunk, and the peer's window reopens wider).

        Raises:
            ApduError: malformed APDU
            LinkError: procedure violated (N(S) out of sequence, N(R)
                acknowledging I-frames never sent)

        """
        self._last_received = now
        if data.__class__ is not bytes:
            data = bytes(data)
        if self._buf:
            data = self._buf + data
            self._buf = b''
        size = len(data)
        self._in_chunk = True
        try:
            self._receive_chunk(data, size, now)
        finally:
            self._in_chunk = False
        if self._unacked_received >= self._w:
            self._send_s()

    def _receive_chunk(self, data: bytes, size: int, now: float) -> None:
        offset = 0
        decode = apdu.decode_apdu
        receive_frame = self.receive_frame
        received = self.received
        while offset < size:
            # fast path: I-frame, the usual case (see apdu.decode_apdu)
            if size - offset >= 6 and data[offset] == _START:
                length = data[offset + 1]
                end = offset + 2 + length
                c1 = data[offset + 2]
                c3 = data[offset + 4]
                if (end <= size and not c1 & 0x01 and not c3 & 0x01 and
                        _MIN_LENGTH < length <= _MAX_LENGTH):
                    send_sn = (c1 >> 1) | (data[offset + 3] << 7)
                    if send_sn != self._receive_sn:
                        self._fail_sn(send_sn, data[offset:end])
                    self._receive_sn = (send_sn + 1) & _MASK
                    receive_sn = (c3 >> 1) | (data[offset + 5] << 7)
                    if receive_sn != self._ack_sn:
                        self._ack(receive_sn, data, offset, end, now)
                    received.append(data[offset + 6:end])
                    n = self._unacked_received = self._unacked_received + 1
                    if n == 1:
                        self._t2_deadline = now + self._t2
                    offset = end
                    continue

            result = decode(data, offset)
            if result is None:
                break
            frame, end = result
            receive_frame(frame, now, data[offset:end])
            offset = end

        if offset < size:
            self._buf = bytes(data[offset:])

    def receive_frame(self,
                      frame: apdu.Frame,
                      now: float,
                      raw: bytes | None = None
                      ) -> None:
        """Process one received APDU.

        Args:
            frame: the APDU
            now: current time (seconds)
            raw: its octets, if known (for error messages)

        Raises:
            LinkError: procedure violated

        """
        self._last_received = now
        if isinstance(frame, apdu.IFrame):
            if frame.send_sn != self._receive_sn:
                self._fail_sn(frame.send_sn, _raw(frame, raw))
            self._receive_sn = (frame.send_sn + 1) & _MASK
            self._ack_frame(frame.receive_sn, frame, raw, now)
            # an empty ASDU is delivered too: the layer above reports it
            # as undecodable (it is acknowledged, as in 0.6.23)
            self.received.append(frame.asdu)
            self._on_i_received(now)

        elif isinstance(frame, apdu.SFrame):
            self._ack_frame(frame.receive_sn, frame, raw, now)

        elif isinstance(frame, apdu.UFrame):
            self._on_u_received(frame.function, now)

        else:
            raise TypeError(f'frame must be IFrame, SFrame or UFrame, not '
                            f'{type(frame).__name__}')

    def on_timer(self, now: float) -> None:
        """Handle timers expired by `now`: send S-frame (t2) or TESTFR act
        (t3).

        Raises:
            LinkTimeoutError: t1 expired

        """
        for function, t in self._u_deadlines.items():
            if t <= now:
                raise LinkTimeoutError(
                    f'no {_con_name(function)} within t1 = {self._t1} s '
                    f'of {function.name.replace("_", " ")}')

        if self._unacked and self._unacked[0] + self._t1 <= now:
            raise LinkTimeoutError(
                f'I-frame N(S) = {self._ack_sn} not acknowledged within '
                f't1 = {self._t1} s ({len(self._unacked)} unacknowledged)')

        if self._unacked_received and self._t2_deadline <= now:
            self._send_s()

        if (_UF.TESTFR_ACT not in self._u_deadlines and
                self._last_received + self._t3 <= now):
            self._send_u(_UF.TESTFR_ACT, now)

    # internals

    def _on_i_received(self, now: float) -> None:
        n = self._unacked_received = self._unacked_received + 1
        if n >= self._w and not self._in_chunk:
            self._send_s()
        elif n == 1:
            self._t2_deadline = now + self._t2

    def _ack_frame(self, receive_sn: int, frame: apdu.Frame,
                   raw: bytes | None, now: float) -> None:
        count = (receive_sn - self._ack_sn) & _MASK
        if count > len(self._unacked):
            data = _raw(frame, raw)
            self._fail_ack(receive_sn, data)
        self._acked(count, now)

    def _ack(self, receive_sn: int, data: bytes, offset: int, end: int,
             now: float) -> None:
        count = (receive_sn - self._ack_sn) & _MASK
        if count:
            if count > len(self._unacked):
                self._fail_ack(receive_sn, data[offset:end])
            self._acked(count, now)

    def _acked(self, count: int, now: float) -> None:
        if not count:
            return
        self._ack_sn = (self._ack_sn + count) & _MASK
        self.acked_count += count
        unacked = self._unacked
        if count == len(unacked):
            unacked.clear()
        else:
            for _ in range(count):
                unacked.popleft()
        if self._queue and self._enabled:
            self._send_queued(now)
        elif self._stopdt_con_pending and not unacked:
            self._stopdt_con_pending = False
            self._out += _STOPDT_CON

    def _on_u_received(self, function: apdu.UFunction, now: float) -> None:
        if function is _UF.TESTFR_ACT:
            self._out += _TESTFR_CON

        elif function is _UF.TESTFR_CON:
            self._u_deadlines.pop(_UF.TESTFR_ACT, None)

        elif function is _UF.STARTDT_ACT:
            if self._is_master:
                mlog.warning('STARTDT act received by the controlling '
                             'station (master): ignored (only the '
                             'controlling station starts data transfer)')
                return
            self._out += _STARTDT_CON
            self._stopdt_con_pending = False
            self._enabled = True
            self.enabled_events.append(True)
            self._send_queued(now)

        elif function is _UF.STARTDT_CON:
            if self._u_deadlines.pop(_UF.STARTDT_ACT, None) is None:
                mlog.debug('STARTDT con received without STARTDT act: '
                           'ignored')
                return
            self._enabled = True
            self._send_queued(now)

        elif function is _UF.STOPDT_ACT:
            if self._is_master:
                mlog.warning('STOPDT act received by the controlling station '
                             '(master): ignored')
                return
            if self._unacked_received:
                self._send_s()
            self._enabled = False
            self.enabled_events.append(False)
            if self._unacked:
                self._stopdt_con_pending = True
            else:
                self._out += _STOPDT_CON

        elif function is _UF.STOPDT_CON:
            if self._u_deadlines.pop(_UF.STOPDT_ACT, None) is None:
                mlog.debug('STOPDT con received without STOPDT act: '
                           'ignored')
                return
            self._enabled = False

    def _send_i(self, asdu: bytes, now: float) -> None:
        send_sn = self._send_sn
        out = self._out
        out += _pack_header(_START, len(asdu) + 4, send_sn << 1,
                            self._receive_sn << 1)
        out += asdu
        self._send_sn = (send_sn + 1) & _MASK
        self._unacked.append(now)
        self._unacked_received = 0
        self.sent_count += 1

    def _send_queued(self, now: float) -> None:
        queue = self._queue
        if not self._enabled:
            return
        room = self._k - len(self._unacked)
        while queue and room > 0:
            self._send_i(queue.popleft(), now)
            room -= 1

    def _send_s(self) -> None:
        self._out += _pack_header(_START, 4, 0x0001, self._receive_sn << 1)
        self._unacked_received = 0

    def _send_u(self, function: apdu.UFunction, now: float) -> None:
        self._out += apdu.encode_apdu(apdu.UFrame(function))
        self._u_deadlines[function] = now + self._t1

    def _fail_sn(self, send_sn: int, data: bytes) -> typing.NoReturn:
        raise LinkError(f'N(S) = {send_sn} out of sequence (expected '
                        f'{self._receive_sn}): {bytes(data).hex(" ")}')

    def _fail_ack(self, receive_sn: int, data: bytes) -> typing.NoReturn:
        if self._ack_sn == self._send_sn:
            state = f'none unacknowledged, next N(S) {self._send_sn}'
        else:
            state = (f'sent N(S) {self._ack_sn}..'
                     f'{(self._send_sn - 1) & _MASK} unacknowledged, next '
                     f'N(S) {self._send_sn}')
        raise LinkError(
            f'N(R) = {receive_sn} acknowledges I-frames never sent '
            f'({state}): {bytes(data).hex(" ")}')

    @property
    def pending_data(self) -> bytes:
        """Received octets of an incomplete APDU (``b''`` if none): what
        is left when the connection closes in the middle of a frame"""
        return self._buf


def _raw(frame: apdu.Frame, raw: bytes | None) -> bytes:
    if raw is not None:
        return bytes(raw)
    try:
        return apdu.encode_apdu(frame)
    except (TypeError, ValueError):
        return repr(frame).encode()


def _con_name(function: apdu.UFunction) -> str:
    return function.name.replace('_ACT', ' con').replace('_', ' ')


def check_timeout(value: float, name: str) -> float:
    """Check a timeout argument (seconds) and return it as float.

    Raises:
        TypeError: `value` is not an int or float (bool is rejected)
        ValueError: `value` is not a finite positive number of seconds
            (including ints too large for a float)

    """
    return _seconds.check_seconds(name, value)


def _check_count(value: int, name: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be int, not {type(value).__name__}')
    if value < low or (high is not None and value > high):
        bound = f'{low}..{high}' if high is not None else f'>= {low}'
        raise ValueError(f'{name} must be {bound}, not {value}')
    return value
