"""COTP connection: ISO 8073 transport class 0 on `hat.drivers.tpkt`.

Connection establishment (ISO 8073 clause 6.5, class 0 procedures of
clause 8): the initiator (`connect`) sends a CR TPDU proposing class 0 and
a maximum TPDU size (2048 octets by default) and waits for a CC TPDU. The
responder (`listen`) answers a CR with a CC when class 0 is a valid
answer, and with a DR (reason 0x82, negotiation failed) otherwise.

Data transfer: `Connection.write` sends one TSDU as DT TPDUs of at most
(TPDU size - 3) octets of data each, the EOT flag set on the last one;
`Connection.read` returns one TSDU, the data of DT TPDUs joined up to the
one with EOT. Release: class 0 has no release TPDU: closing the connection
closes TCP (a received DR or ER closes it too).

Malformed or unexpected input from the peer (a TPDU that does not decode,
a TPDU out of place, a DT larger than the TPDU size, a TSDU larger than
``max_tsdu_size``) is a protocol error: one record of level ERROR naming
``cotp``, the connection, the cause and the octets (hex) is logged with
`mlog`, an ER TPDU is sent, and the connection is closed.

"""

import asyncio
import itertools
import logging
import sys
import typing

from hat import aio

from hat.drivers import _seconds
from hat.drivers import _turn
from hat.drivers import tcp
from hat.drivers import tpkt
from hat.drivers.cotp import codec
from hat.drivers.cotp import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger (a child of ``hat.drivers.cotp``)"""

DEFAULT_MAX_TSDU_SIZE: int = 1 << 20
"""Default bound of a received TSDU (octets, 1 MiB): the largest TSDU
`Connection.read` reassembles before it treats the input as a protocol
error"""

_LOGGED_OCTETS = 64  # octets of a bad TPDU shown in its log record
# octets of a bad TPDU returned in an ER TPDU: its LI and code (ISO 8073
# clause 13.12 asks for the octets up to the one in error; Wireshark's
# dissector takes no ER with an LI above 8, so no more than 2 are sent)
_ER_OCTETS = 2


class ConnectionInfo(typing.NamedTuple):
    """Addresses and transport selectors of a connection

    A TSEL is ``None`` when absent. On the initiator the TSELs are those
    given to `connect`. On the responder they are the CR's: ``local_tsel``
    the called TSEL, ``remote_tsel`` the calling TSEL, each as an ``int``
    if it has 2 octets (the form ``int`` TSELs are sent in) and as
    ``bytes`` otherwise.
    """
    local_addr: common.Address
    local_tsel: common.Tsel | None
    remote_addr: common.Address
    remote_tsel: common.Tsel | None


ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""


async def connect(addr: tcp.Address,
                  local_tsel: common.Tsel | None = None,
                  remote_tsel: common.Tsel | None = None,
                  *,
                  max_tpdu_size: int = common.CLASS0_MAX_TPDU_SIZE,
                  max_tsdu_size: int = DEFAULT_MAX_TSDU_SIZE,
                  connect_timeout: float | None = None,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to a COTP responder (ISO 8073 class 0 over RFC 1006).

    Sends a CR TPDU for class 0 with the TPDU size `max_tpdu_size` and
    the TSELs (C1 calling, C2 called) when given, and waits for the CC.
    The TPDU size of the connection is the CC's (128 octets if it has
    none).

    Args:
        addr: remote address (`Address`: port 102 by default)
        local_tsel: calling TSEL: ``int`` (0 to 65535, sent as 2 octets),
            ``bytes`` (sent as they are) or ``None`` (absent)
        remote_tsel: called TSEL, as `local_tsel`
        max_tpdu_size: TPDU size (octets) proposed in the CR: 128, 256,
            512, 1024 or 2048 (default, the class 0 maximum)
        max_tsdu_size: largest TSDU (octets) that `Connection.read`
            reassembles; a larger one is a protocol error (default
            `DEFAULT_MAX_TSDU_SIZE`)
        connect_timeout: seconds that the whole establishment (TCP, TLS,
            CR and CC) may take (``None``, default: no limit)
        kwargs: passed to `hat.drivers.tpkt.connect` and from there to
            `hat.drivers.tcp.connect` (``ssl``, ``name``,
            ``input_buffer_limit``, ...)

    Raises:
        TypeError, ValueError: malformed argument (before any socket is
            touched)
        tcp.ConnectTimeoutError: `connect_timeout` expired (a
            `ConnectionError` and an `asyncio.TimeoutError`)
        ConnectionRefusedError: the peer answered with a DR TPDU (the
            message gives the reason) or refused TCP
        ConnectionError: any other failure: TCP or TLS, an ER TPDU, a
            malformed or unexpected answer (also logged with `mlog`)

    """
    _check_tpdu_size(max_tpdu_size)
    _check_max_tsdu_size(max_tsdu_size)
    if connect_timeout is not None:
        connect_timeout = _seconds.check_seconds(
            'connect_timeout', connect_timeout, none_allowed=True)

    ref = _next_ref()
    cr = common.CR(src=ref,
                   cls=0,
                   options=0,
                   alt_classes=(),
                   calling_tsel=common.tsel_to_bytes(local_tsel),
                   called_tsel=common.tsel_to_bytes(remote_tsel),
                   tpdu_size=max_tpdu_size,
                   pref_tpdu_size=None)
    cr_octets = codec.encode(cr)

    loop = asyncio.get_running_loop()
    deadline = (None if connect_timeout is None
                else loop.time() + connect_timeout)
    conn = await tpkt.connect(addr, connect_timeout=connect_timeout,
                              **kwargs)
    try:
        conn.write(cr_octets)
        try:
            payload = await _bounded(conn.read(), deadline)

        except asyncio.TimeoutError as e:
            raise tcp.ConnectTimeoutError(
                f'cotp: {_describe(conn)}: no answer to CR within '
                f'{connect_timeout} s') from e

        except ConnectionError as e:
            raise type(e)(f'cotp: {_describe(conn)}: connection closed '
                          f'before CC: {e}') from e

        tpdu = _decode_handshake(conn, payload, 0)

        if isinstance(tpdu, common.DR):
            raise ConnectionRefusedError(
                f'cotp: {_describe(conn)}: connection refused by the peer '
                f'(DR reason {_reason_name(tpdu.reason)})')

        if isinstance(tpdu, common.ER):
            raise ConnectionError(
                f'cotp: {_describe(conn)}: CR rejected by the peer (ER '
                f'cause {_cause_name(tpdu.cause)})')

        if not isinstance(tpdu, common.CC):
            _handshake_error(conn, f'{type(tpdu).__name__} TPDU received '
                             f'instead of CC', payload, 0)

        remote_ref = tpdu.src
        if tpdu.dst != ref:
            _handshake_error(conn, f'CC with DST-REF {tpdu.dst} (CR had '
                             f'SRC-REF {ref})', payload, remote_ref)

        if tpdu.cls != 0:
            _handshake_error(conn, f'CC selects class {tpdu.cls} (CR '
                             f'proposed class 0 only)', payload, remote_ref)

        tpdu_size = (common.DEFAULT_TPDU_SIZE if tpdu.tpdu_size is None
                     else tpdu.tpdu_size)
        if tpdu_size > max_tpdu_size:
            _handshake_error(conn, f'CC with TPDU size {tpdu_size} (CR '
                             f'proposed {max_tpdu_size})', payload,
                             remote_ref)

        for name, sent, received in (
                ('calling', cr.calling_tsel, tpdu.calling_tsel),
                ('called', cr.called_tsel, tpdu.called_tsel)):
            if (sent is not None and received is not None and
                    sent != received):
                _handshake_error(conn, f'CC with {name} TSEL '
                                 f'{received.hex(" ")} (CR had '
                                 f'{sent.hex(" ")})', payload, remote_ref)

    except BaseException:
        conn.close()
        raise

    local_addr, remote_addr = conn.info
    info = ConnectionInfo(local_addr=common.Address(*local_addr),
                          local_tsel=local_tsel,
                          remote_addr=common.Address(*remote_addr),
                          remote_tsel=remote_tsel)
    return Connection(conn, info, tpdu_size, max_tsdu_size,
                              remote_ref)


async def listen(connection_cb: ConnectionCb,
                 addr: tcp.Address = tpkt.DEFAULT_LISTEN_ADDRESS,
                 *,
                 max_tpdu_size: int = common.CLASS0_MAX_TPDU_SIZE,
                 max_tsdu_size: int = DEFAULT_MAX_TSDU_SIZE,
                 connect_timeout: float | None = None,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create a listening COTP responder (ISO 8073 class 0 over RFC 1006).

    Every TCP connection must start with a CR TPDU. It is accepted with a
    CC for class 0 when class 0 is a valid answer to it (ISO 8073 clause
    6.5.4, table of class negotiation): its preferred class is 0 or 1, or
    one of its alternative classes is 0 or 1. Otherwise it is refused with
    a DR TPDU (reason 0x82, negotiation failed; logged as a warning). The
    CC echoes the CR's TSELs octet for octet, whatever they are, and
    selects the smaller of the CR's TPDU size (128 if absent) and
    `max_tpdu_size`. Then `connection_cb` is called with the new
    `Connection`.

    A first TPDU that is malformed or not a CR is a protocol error (logged
    with `mlog` at level ERROR, answered with an ER TPDU); the connection
    is closed and `connection_cb` is not called. If `connection_cb` raises,
    the error is logged and the connection closed. The server keeps
    serving in every case. Closing the server leaves established
    connections open (unless ``bind_connections=True`` is passed on to
    `hat.drivers.tpkt.listen`).

    Args:
        connection_cb: called with each established `Connection` (plain
            function or coroutine function)
        addr: local address (default ``Address('0.0.0.0', 102)``; port 0
            picks a free port, see `Server.addresses`)
        max_tpdu_size: largest TPDU size (octets) accepted: 128, 256, 512,
            1024 or 2048 (default, the class 0 maximum)
        max_tsdu_size: as in `connect`, for every connection
        connect_timeout: seconds a new TCP connection may take to send its
            CR; then it is closed (``None``, default: no limit)
        kwargs: passed to `hat.drivers.tpkt.listen` and from there to
            `hat.drivers.tcp.listen` (``ssl``, ``name``,
            ``bind_connections``, ...)

    Raises:
        TypeError, ValueError: malformed argument
        OSError: the address could not be bound

    """
    if not callable(connection_cb):
        raise TypeError(f'connection_cb must be callable, not '
                        f'{type(connection_cb).__name__}')
    _check_tpdu_size(max_tpdu_size)
    _check_max_tsdu_size(max_tsdu_size)
    if connect_timeout is not None:
        connect_timeout = _seconds.check_seconds(
            'connect_timeout', connect_timeout, none_allowed=True)

    async def on_connection(conn: tpkt.Connection) -> None:
        cotp_conn = await _accept(conn, max_tpdu_size, max_tsdu_size,
                                  connect_timeout)
        if cotp_conn is not None:
            await aio.call(connection_cb, cotp_conn)

    srv = await tpkt.listen(on_connection, addr, **kwargs)
    return Server(srv)


async def _accept(conn: tpkt.Connection,
                  max_tpdu_size: int,
                  max_tsdu_size: int,
                  connect_timeout: float | None
                  ) -> typing.Optional['Connection']:
    loop = asyncio.get_running_loop()
    deadline = (None if connect_timeout is None
                else loop.time() + connect_timeout)
    try:
        try:
            payload = await _bounded(conn.read(), deadline)

        except asyncio.TimeoutError:
            mlog.warning('cotp: %s: no CR within %s s; closing connection',
                         _describe(conn), connect_timeout)
            conn.close()
            return None

        except ConnectionError as e:
            mlog.info('cotp: %s: connection closed before CR: %s',
                      _describe(conn), e)
            conn.close()
            return None

        tpdu = _decode_handshake(conn, payload, 0)
        if not isinstance(tpdu, common.CR):
            _handshake_error(conn, f'{type(tpdu).__name__} TPDU received '
                             f'instead of CR', payload, 0)

        if not _class0_acceptable(tpdu):
            mlog.warning('cotp: %s: CR refused with DR: class 0 is not a '
                         'valid answer to preferred class %s, alternative '
                         'classes %s', _describe(conn), tpdu.cls,
                         list(tpdu.alt_classes))
            conn.write(codec.encode(common.DR(
                dst=tpdu.src, src=0,
                reason=common.DisconnectReason.NEGOTIATION_FAILED,
                additional_info=None)))
            conn.close()
            return None

        tpdu_size = min(max_tpdu_size,
                        common.DEFAULT_TPDU_SIZE if tpdu.tpdu_size is None
                        else tpdu.tpdu_size)
        ref = _next_ref()
        cc = common.CC(dst=tpdu.src,
                       src=ref,
                       cls=0,
                       options=0,
                       calling_tsel=tpdu.calling_tsel,
                       called_tsel=tpdu.called_tsel,
                       # only if the CR had one: the CC is then never
                       # longer than the CR
                       tpdu_size=(None if tpdu.tpdu_size is None
                                  else tpdu_size),
                       pref_tpdu_size=None)
        conn.write(codec.encode(cc))

    except _HandshakeError:
        return None

    except ConnectionError as e:
        mlog.info('cotp: %s: connection closed during establishment: %s',
                  _describe(conn), e)
        conn.close()
        return None

    except BaseException:
        conn.close()
        raise

    local_addr, remote_addr = conn.info
    info = ConnectionInfo(
        local_addr=common.Address(*local_addr),
        local_tsel=common.tsel_from_bytes(tpdu.called_tsel),
        remote_addr=common.Address(*remote_addr),
        remote_tsel=common.tsel_from_bytes(tpdu.calling_tsel))
    return Connection(conn, info, tpdu_size, max_tsdu_size,
                              tpdu.src)


def _class0_acceptable(cr: common.CR) -> bool:
    # ISO 8073 class negotiation: class 0 is a valid response to a
    # preferred class 0 or 1, and to any CR naming class 0 or 1 as an
    # alternative
    return cr.cls in (0, 1) or any(cls in (0, 1) for cls in cr.alt_classes)


class Server(common.Resource):
    """COTP server created by `listen`.

    Wraps a `hat.drivers.tpkt.Server`; closing it stops accepting
    connections and leaves established ones open (see `listen`).

    """

    def __init__(self, srv: tpkt.Server):
        self._srv = srv

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[common.Address]:
        """Addresses the server listens on (with the real bound ports)"""
        return [common.Address(*addr) for addr in self._srv.addresses]


class Connection(common.Resource):
    """COTP connection (ISO 8073 class 0), created by `connect` and
    `listen`.

    Its `async_group` is that of the `hat.drivers.tpkt.Connection` below:
    closing one closes the other, and closing closes TCP (class 0 has no
    release TPDU). Reads need no background task: `read` reads TPDUs from
    TPKT as they are needed, so a peer's data waits in TCP (and flow
    control holds it back) until it is read. Concurrent reads are served
    one at a time in call order; a cancelled read loses nothing (a TSDU it
    had started to reassemble is completed by the next read).

    """

    def __init__(self,
                 conn: tpkt.Connection,
                 info: ConnectionInfo,
                 tpdu_size: int,
                 max_tsdu_size: int,
                 remote_ref: int):
        # established by `connect` or `listen`: not for users
        self._conn = conn
        self._info = info
        self._tpdu_size = tpdu_size
        self._max_data = tpdu_size - 3
        self._max_tsdu_size = max_tsdu_size
        self._remote_ref = remote_ref
        self._read_turn = _turn.Turn()
        self._parts: list[bytes] = []
        self._parts_size = 0
        self._error: str | None = None
        # created now: tpkt creates its group on first use, which fails
        # once the connection is closed
        if conn.is_open:
            self._group = conn.async_group
        else:
            self._group = aio.Group()
            self._group.close()

    @property
    def async_group(self) -> aio.Group:
        """Async group (that of the TPKT connection)"""
        return self._group

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        return self._conn.is_open

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self._conn.is_closing

    @property
    def is_closed(self) -> bool:
        """``True`` once closed"""
        return self._conn.is_closed

    async def wait_closing(self) -> None:
        """Wait until the connection is closing or closed"""
        await self._conn.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed"""
        await self._conn.wait_closed()

    def close(self) -> None:
        """Start closing the connection: data already written is sent,
        then TCP is closed (class 0 release)"""
        self._conn.close()

    async def async_close(self) -> None:
        """Close the connection and wait until it is closed"""
        await self._conn.async_close()

    @property
    def info(self) -> ConnectionInfo:
        """Connection info"""
        return self._info

    @property
    def tpdu_size(self) -> int:
        """Negotiated maximum TPDU size (octets, 128 to 2048)"""
        return self._tpdu_size

    @property
    def name(self) -> str | None:
        """Name given to `connect` or `listen` (passed to tcp)"""
        return self._conn.name

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send `data` as one TSDU.

        The data is split into DT TPDUs of at most (`tpdu_size` - 3)
        octets each, the last one with EOT set (empty data is one DT TPDU
        with EOT and no data). Call `drain` to apply backpressure.

        Raises:
            TypeError: data is not bytes, bytearray or memoryview
            ConnectionError: connection is closing or closed (0.6.23
                dropped the data silently)

        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data must be bytes, bytearray or memoryview, '
                            f'not {type(data).__name__}')

        if not self._conn.is_open:
            raise ConnectionError(self._error or
                                  f'cotp: {_describe(self._conn)}: '
                                  f'connection is not open')

        if isinstance(data, memoryview) and not data.c_contiguous:
            data = data.tobytes()
        view = memoryview(data).cast('B')
        size = len(view)
        max_data = self._max_data
        if size <= max_data:
            self._conn.write(b''.join((b'\x02\xf0\x80', view)))
            return

        for i in range(0, size, max_data):
            last = i + max_data >= size
            self._conn.write(b''.join((b'\x02\xf0\x80' if last
                                       else b'\x02\xf0\x00',
                                       view[i:i + max_data])))

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the peer has accepted enough of the written data
        (`hat.drivers.tpkt.Connection.drain`, `coalesce` as there).

        Raises:
            ConnectionError: connection is closing or closed

        """
        await self._conn.drain(coalesce=coalesce)

    async def read(self) -> bytes:
        """Read one TSDU.

        Returns:
            the data of the DT TPDUs up to and including the next one with
            EOT, joined

        Raises:
            ConnectionClosedError: the connection is closed, by either
                side, by a DR or ER TPDU received, or after a protocol
                error (the message says which); a `ConnectionError` and a
                `hat.aio.QueueClosedError`. TSDUs received complete before
                the peer closed are returned first.

        """
        turn = self._read_turn
        if not turn.take():
            await turn.wait()
        try:
            while True:
                if self._error is not None:
                    raise common.ConnectionClosedError(self._error)

                try:
                    payload = await self._conn.read()

                except ConnectionError as e:
                    if self._error is None:
                        self._error = (f'cotp: {_describe(self._conn)}: '
                                       f'connection closed: {e}')
                        if self._parts:
                            mlog.debug('%s; %s octets of an incomplete TSDU '
                                       'dropped', self._error,
                                       self._parts_size)
                        self._parts = []
                    raise common.ConnectionClosedError(self._error) from e

                data = self._on_payload(payload)
                if data is not None:
                    return data
        finally:
            turn.release()

    def _on_payload(self, payload: bytes) -> bytes | None:
        try:
            tpdu = codec.decode(payload)

        except codec.DecodeError as e:
            self._protocol_error(str(e), payload)
            return None

        if isinstance(tpdu, common.DT):
            if len(payload) > self._tpdu_size:
                self._protocol_error(f'DT TPDU of {len(payload)} octets is '
                                     f'larger than the TPDU size '
                                     f'{self._tpdu_size}', payload)
                return None

            self._parts_size += len(tpdu.data)
            if self._parts_size > self._max_tsdu_size:
                self._protocol_error(f'TSDU larger than max_tsdu_size '
                                     f'({self._max_tsdu_size} octets)',
                                     payload)
                return None

            if not tpdu.eot:
                self._parts.append(tpdu.data)
                return None

            if self._parts:
                self._parts.append(tpdu.data)
                data = b''.join(self._parts)
                self._parts = []
            else:
                data = tpdu.data
            self._parts_size = 0
            return data

        if isinstance(tpdu, common.DR):
            self._close_by_peer(f'DR TPDU received (reason '
                                f'{_reason_name(tpdu.reason)})')
            return None

        if isinstance(tpdu, common.ER):
            self._close_by_peer(f'ER TPDU received (cause '
                                f'{_cause_name(tpdu.cause)}'
                                + (f', invalid TPDU '
                                   f'{tpdu.invalid_tpdu.hex(" ")}'
                                   if tpdu.invalid_tpdu is not None
                                   else '') + ')')
            return None

        self._protocol_error(f'unexpected {type(tpdu).__name__} TPDU on an '
                             f'established connection', payload)
        return None

    def _close_by_peer(self, reason: str) -> None:
        self._error = f'cotp: {_describe(self._conn)}: {reason}'
        mlog.info('%s; closing connection', self._error)
        self._parts = []
        self._conn.close()

    def _protocol_error(self, cause: str, payload: bytes) -> None:
        self._error = (f'cotp: {_describe(self._conn)}: protocol error: '
                       f'{cause}')
        _log_protocol_error(self._conn, self._error, payload)
        self._parts = []
        _send_er(self._conn, self._remote_ref, payload)
        self._conn.close()


class _HandshakeError(ConnectionError):
    pass


def _decode_handshake(conn: tpkt.Connection,
                      payload: bytes,
                      remote_ref: int
                      ) -> common.Tpdu:
    try:
        return codec.decode(payload)

    except codec.DecodeError as e:
        _handshake_error(conn, str(e), payload, remote_ref)


def _handshake_error(conn: tpkt.Connection,
                     cause: str,
                     payload: bytes,
                     remote_ref: int
                     ) -> typing.NoReturn:
    msg = f'cotp: {_describe(conn)}: protocol error: {cause}'
    _log_protocol_error(conn, msg, payload)
    _send_er(conn, remote_ref, payload)
    conn.close()
    raise _HandshakeError(msg)


def _log_protocol_error(conn: tpkt.Connection,
                        msg: str,
                        payload: bytes
                        ) -> None:
    octets = payload[:_LOGGED_OCTETS].hex(' ')
    if len(payload) > _LOGGED_OCTETS:
        octets += f' ... ({len(payload)} octets)'
    mlog.error('%s; TPDU %s; closing connection', msg, octets,
               extra={'meta': {'type': 'CotpConnection',
                               'name': conn.name}})


def _send_er(conn: tpkt.Connection, remote_ref: int, payload: bytes) -> None:
    # ISO 8073 clause 13.12: the invalid TPDU parameter carries the
    # rejected TPDU's first octets
    cause = (common.RejectCause.INVALID_TPDU_TYPE
             if len(payload) >= 2 and (payload[1] & 0xF0) not in (
                codec.CR_CODE, codec.CC_CODE, codec.DR_CODE, codec.DT_CODE,
                codec.ER_CODE)
             else common.RejectCause.NOT_SPECIFIED)
    er = common.ER(dst=remote_ref, cause=cause,
                   invalid_tpdu=bytes(payload[:_ER_OCTETS]))
    try:
        conn.write(codec.encode(er))

    except ConnectionError:
        pass


_refs = itertools.count()


def _next_ref() -> int:
    # source references 1 to 65535 (0 is left out), shared by every
    # connection of the process
    return next(_refs) % 0xFFFF + 1


async def _bounded(aw: typing.Awaitable[bytes],
                   deadline: float | None
                   ) -> bytes:
    if deadline is None:
        return await aw

    timeout = max(0.0, deadline - asyncio.get_running_loop().time())
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            return await aw

    return await asyncio.wait_for(aw, timeout)


def _describe(conn: tpkt.Connection) -> str:
    try:
        local, remote = conn.info
    except Exception:
        return conn.name or '?'
    name = f'{conn.name} ' if conn.name else ''
    return (f'{name}{local.host}:{local.port} -> '
            f'{remote.host}:{remote.port}')


def _reason_name(reason: int) -> str:
    try:
        return f'{reason:#04x} {common.DisconnectReason(reason).name}'
    except ValueError:
        return f'{reason:#04x}'


def _cause_name(cause: int) -> str:
    try:
        return f'{cause} {common.RejectCause(cause).name}'
    except ValueError:
        return str(cause)


def _check_tpdu_size(size: typing.Any) -> None:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f'max_tpdu_size must be int, not '
                        f'{type(size).__name__}')
    allowed = tuple(s for s in common.TPDU_SIZES
                    if s <= common.CLASS0_MAX_TPDU_SIZE)
    if size not in allowed:
        raise ValueError(f'max_tpdu_size must be one of {allowed} (class '
                         f'0), not {size}')


def _check_max_tsdu_size(size: typing.Any) -> None:
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f'max_tsdu_size must be int, not '
                        f'{type(size).__name__}')
    if size < 1:
        raise ValueError(f'max_tsdu_size must be positive, not {size}')
