"""COSP connection: ISO 8327-1 session protocol (kernel and duplex
functional units) on `hat.drivers.cotp`.

Connection establishment: the initiator (`connect`) sends a CN SPDU
proposing protocol version 2 and the duplex functional unit, and waits for
the AC (accepted) or RF (refused). The responder (`listen`) answers a CN
with an AC selecting the highest protocol version both support (a CN
without version number proposes version 1) and the duplex functional unit,
or with an RF: no common version (reason 132), no duplex functional unit
proposed (reason 134), or a refusal by ``validate_cb`` (`RefuseError`,
reason 2 with user data, any other exception reason 0).

Data transfer: `Connection.write` sends one DT SPDU (after a GIVE TOKENS
SPDU, ``01 00 01 00``), `Connection.read` returns the user information of
the next one. SPDUs are read from the transport when `Connection.read`
(or a pending release) asks for them, without a background task: a
peer's data waits in TCP until it is read (TCP flow control holds the peer
back), and a FN, DN or AB from the peer is processed by the read that
reaches it.

Orderly release (S-RELEASE): `Connection.release` (and `Connection.close`
with user data, as in 0.6.23) sends FN and waits, at most
``release_timeout`` seconds, for the DN before closing the transport. A FN
received is passed to ``release_cb``, whose result is the user data of the
DN sent back; then the transport is closed. Abort: `Connection.abort`
sends AB; a protocol error sends AB with the protocol error flag.

Data before the DN: after our FN the peer may send DT SPDUs until it
receives the FN; in the duplex release they are still S-DATA indications
(ISO 8327-1 state STA03, awaiting DN), so `Connection.read` returns them,
in order, during and after the release. The release does not wait for a
reader: it reads the SPDUs up to the DN itself, one per turn of the read
lock, so a read waiting for the lock takes its turn (and the data the
release kept) in between. The release keeps DT user data for `read` while
fewer than ``receive_queue_size`` TSDUs are kept, and discards the DT user
data beyond that (nobody is reading them), counted in one WARNING record
when the release ends (the number of DT SPDUs and octets). So a reader
reading during the release loses nothing, memory stays bounded
(``receive_queue_size`` TSDUs of at most cotp's ``max_tsdu_size``), and the
release takes the time to read what the peer sent before its DN (what was
in transit in TCP: measured 6 to 9 MB, read in 0.07 s in 64 KiB TSDUs and
1.1 s in 100-octet ones), never ``release_timeout`` because of unread data.

Malformed or unexpected input (an SPDU the codec cannot decode, an SPDU
out of place) is a protocol error: one record of level ERROR naming
``cosp``, the connection, the cause and the octets (hex) is logged with
`mlog`, an AB SPDU is sent, and the connection is closed.

"""

import asyncio
import collections
import logging
import sys
import typing

from hat import aio

from hat.drivers import cotp
from hat.drivers.cotp import common as cotp_common
from hat.drivers import _seconds
from hat.drivers import _turn
from hat.drivers import tcp
from hat.drivers import tpkt
from hat.drivers.cosp import codec
from hat.drivers.cosp import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger (a child of ``hat.drivers.cosp``)"""

DEFAULT_RELEASE_TIMEOUT: float = 10
"""Default bound (seconds) of the wait for the DN answering our FN"""

DEFAULT_RECEIVE_QUEUE_SIZE: int = 16
"""Default number of TSDUs (DT user data) a release receives and keeps for
read (beyond them, the DT user data before the DN are discarded)"""

_LOGGED_OCTETS = 64  # octets of a bad SPDU shown in its log record

_SUPPORTED_VERSIONS = common.VERSION_1 | common.VERSION_2


class ConnectionInfo(typing.NamedTuple):
    """Addresses, transport and session selectors of a connection

    Selectors are ``None`` when absent. On the initiator they are those
    given to `connect`. On the responder they are the received ones: local
    the called, remote the calling selectors, each as an ``int`` if it has
    2 octets (the form ``int`` selectors are sent in), as ``bytes``
    otherwise.
    """
    local_addr: common.Address
    local_tsel: cotp.Tsel | None
    local_ssel: common.Ssel | None
    remote_addr: common.Address
    remote_tsel: cotp.Tsel | None
    remote_ssel: common.Ssel | None


ValidateResult: typing.TypeAlias = common.Data | None
"""Result of a validate callback: the AC's user data (``None``: none)"""

ValidateCb: typing.TypeAlias = aio.AsyncCallable[[common.Data | None],
                                                 ValidateResult]
"""Validate callback: called with the CN's user data (``None`` if absent),
returns the AC's user data or raises `RefuseError` to refuse"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""

ReleaseCb: typing.TypeAlias = aio.AsyncCallable[[common.Data | None],
                                                common.Data | None]
"""Release callback: called with the user data of a received FN (``None``
if absent), returns the user data of the DN answering it"""


async def connect(addr: tcp.Address,
                  local_tsel: cotp.Tsel | None = None,
                  remote_tsel: cotp.Tsel | None = None,
                  local_ssel: common.Ssel | None = None,
                  remote_ssel: common.Ssel | None = None,
                  user_data: common.Data | None = None,
                  *,
                  release_cb: ReleaseCb | None = None,
                  release_timeout: float = DEFAULT_RELEASE_TIMEOUT,
                  receive_queue_size: int = DEFAULT_RECEIVE_QUEUE_SIZE,
                  connect_timeout: float | None = None,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to a COSP responder (ISO 8327-1).

    Sends a CN SPDU: version 2, session user requirements duplex, the SSELs
    when given, `user_data` in PI 193 (up to 512 octets) or in PI 194
    (extended user data, up to 10240 octets); waits for the AC.

    Args:
        addr: remote address (`Address`: port 102 by default)
        local_tsel: calling TSEL (see `hat.drivers.cotp.connect`)
        remote_tsel: called TSEL
        local_ssel: calling SSEL: ``int`` (0 to 65535, sent as 2 octets),
            ``bytes`` (sent as they are) or ``None`` (absent)
        remote_ssel: called SSEL, as `local_ssel`
        user_data: CN user data (``None``: none)
        release_cb: called with the user data of a FN received from the
            peer; returns the DN's user data (``None``, default: DN without
            user data; the FN's user data is then only kept in
            `Connection.release_user_data`)
        release_timeout: seconds `Connection.release` and `Connection.close`
            wait for the DN (default `DEFAULT_RELEASE_TIMEOUT`)
        receive_queue_size: DT user data (TSDUs) that `Connection.release`
            receives while waiting for the DN and keeps for
            `Connection.read`; beyond that many unread it reads on to the
            DN and discards them (one WARNING record; see the module
            documentation; default `DEFAULT_RECEIVE_QUEUE_SIZE`)
        connect_timeout: seconds that the whole establishment (TCP, TLS,
            transport and session) may take (``None``: no limit)
        kwargs: passed to `hat.drivers.cotp.connect` (``max_tpdu_size``,
            ``max_tsdu_size``, ``ssl``, ``name``...)

    Raises:
        TypeError, ValueError: malformed argument (before any socket is
            touched)
        RefusedError: the responder sent an RF (a `ConnectionRefusedError`
            with the reason and the RF's user data)
        tcp.ConnectTimeoutError: `connect_timeout` expired
        ConnectionError: any other failure (an AB received, a malformed or
            unexpected answer, a transport failure)

    """
    calling_ssel = common.ssel_to_bytes(local_ssel)
    called_ssel = common.ssel_to_bytes(remote_ssel)
    _check_data('user_data', user_data)
    _check_settings(release_cb, release_timeout, receive_queue_size)
    cn = common.CN(versions=common.VERSION_2,
                   requirements=common.DUPLEX,
                   calling_ssel=calling_ssel,
                   called_ssel=called_ssel,
                   user_data=None if user_data is None else bytes(user_data))
    cn_octets = codec.encode(cn)

    loop = asyncio.get_running_loop()
    deadline = (None if connect_timeout is None
                else loop.time() + connect_timeout)
    conn = await cotp.connect(addr, local_tsel, remote_tsel,
                              connect_timeout=connect_timeout, **kwargs)
    try:
        conn.write(cn_octets)
        try:
            tsdu = await _bounded(conn.read(), deadline)

        except asyncio.TimeoutError as e:
            raise tcp.ConnectTimeoutError(
                f'cosp: {_describe(conn)}: no answer to CN within '
                f'{connect_timeout} s') from e

        except ConnectionError as e:
            raise ConnectionError(f'cosp: {_describe(conn)}: connection '
                                  f'closed before AC: {e}') from e

        spdu = _decode_establishment(conn, tsdu)

        if isinstance(spdu, common.RF):
            raise common.RefusedError(
                f'cosp: {_describe(conn)}: connection refused (RF reason '
                f'{_reason_name(spdu.reason)})', spdu.reason, spdu.user_data)

        if isinstance(spdu, common.AB):
            raise ConnectionAbortedError(
                f'cosp: {_describe(conn)}: connection aborted by the peer '
                f'(AB)')

        if not isinstance(spdu, common.AC):
            _establishment_error(conn, f'{type(spdu).__name__} SPDU '
                                 f'received instead of AC', tsdu)

        version = (common.VERSION_1 if spdu.versions is None
                   else spdu.versions)
        if version != common.VERSION_2:
            _establishment_error(conn, f'AC selects version number '
                                 f'{version:#04x} (CN proposed 0x02)',
                                 tsdu)

        # an AC without session user requirements is taken as duplex
        if (spdu.requirements is not None and
                spdu.requirements != common.DUPLEX):
            _establishment_error(conn, f'AC with session user requirements '
                                 f'{spdu.requirements:#06x} (CN proposed '
                                 f'duplex, 0x0002)', tsdu)

        for name, sent, received in (
                ('calling', calling_ssel, spdu.calling_ssel),
                ('responding', called_ssel, spdu.responding_ssel)):
            if (sent is not None and received is not None and
                    sent != received):
                _establishment_error(conn, f'AC with {name} SSEL '
                                     f'{received.hex(" ")} (CN had '
                                     f'{sent.hex(" ")})', tsdu)

    except BaseException:
        conn.close()
        raise

    info = ConnectionInfo(local_addr=conn.info.local_addr,
                          local_tsel=conn.info.local_tsel,
                          local_ssel=local_ssel,
                          remote_addr=conn.info.remote_addr,
                          remote_tsel=conn.info.remote_tsel,
                          remote_ssel=remote_ssel)
    return Connection(conn, info, cn.user_data, spdu.user_data,
                      release_cb, release_timeout, receive_queue_size)


async def listen(validate_cb: ValidateCb,
                 connection_cb: ConnectionCb,
                 addr: tcp.Address = tpkt.DEFAULT_LISTEN_ADDRESS,
                 *,
                 release_cb: ReleaseCb | None = None,
                 release_timeout: float = DEFAULT_RELEASE_TIMEOUT,
                 receive_queue_size: int = DEFAULT_RECEIVE_QUEUE_SIZE,
                 connect_timeout: float | None = None,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create a listening COSP responder (ISO 8327-1).

    Every transport connection must start with a CN SPDU. If it proposes
    a protocol version this side supports (1 or 2; no version number means
    1) and the duplex functional unit, `validate_cb` is called with its
    user data (PI 193 or the extended user data of PI 194; ``None`` if
    absent) and the connection is accepted with an AC carrying the highest
    common version, duplex, the CN's SSELs (octet for octet) and the user
    data `validate_cb` returns; then `connection_cb` is called. Otherwise it
    is refused with an RF: no common version (reason 132), no duplex
    (reason 134), `validate_cb` raising `RefuseError` (reason 2 with its
    user data, or 0 without) or any other exception (reason 0, logged).

    A first SPDU that is malformed or not a CN is a protocol error (logged
    at level ERROR, answered with AB). Closing the server leaves
    established connections open.

    Args:
        validate_cb: called with the CN's user data, returns the AC's
        connection_cb: called with each established `Connection`
        addr: local address (default ``Address('0.0.0.0', 102)``)
        release_cb: as in `connect`, for every connection
        release_timeout: as in `connect`, for every connection
        receive_queue_size: as in `connect`, for every connection
        connect_timeout: seconds a new connection may take to send its CR
            and its CN (``None``, default: no limit)
        kwargs: passed to `hat.drivers.cotp.listen` (``max_tpdu_size``,
            ``ssl``, ``bind_connections``...)

    Raises:
        TypeError, ValueError: malformed argument
        OSError: the address could not be bound

    """
    for name, cb in (('validate_cb', validate_cb),
                     ('connection_cb', connection_cb)):
        if not callable(cb):
            raise TypeError(f'{name} must be callable, not '
                            f'{type(cb).__name__}')
    _check_settings(release_cb, release_timeout, receive_queue_size)

    async def on_connection(conn: cotp.Connection) -> None:
        cosp_conn = await _accept(conn, validate_cb, release_cb,
                                  release_timeout, receive_queue_size,
                                  connect_timeout)
        if cosp_conn is not None:
            await aio.call(connection_cb, cosp_conn)

    srv = await cotp.listen(on_connection, addr,
                            connect_timeout=connect_timeout, **kwargs)
    return Server(srv)


async def _accept(conn: cotp.Connection,
                  validate_cb: ValidateCb,
                  release_cb: ReleaseCb | None,
                  release_timeout: float,
                  receive_queue_size: int,
                  connect_timeout: float | None
                  ) -> typing.Optional['Connection']:
    loop = asyncio.get_running_loop()
    deadline = (None if connect_timeout is None
                else loop.time() + connect_timeout)
    try:
        try:
            tsdu = await _bounded(conn.read(), deadline)

        except asyncio.TimeoutError:
            mlog.warning('cosp: %s: no CN within %s s; closing connection',
                         _describe(conn), connect_timeout)
            conn.close()
            return None

        spdu = _decode_establishment(conn, tsdu)
        if not isinstance(spdu, common.CN):
            _establishment_error(conn, f'{type(spdu).__name__} SPDU '
                                 f'received instead of CN', tsdu)

        versions = (common.VERSION_1 if spdu.versions is None
                    else spdu.versions) & _SUPPORTED_VERSIONS
        if not versions:
            _refuse(conn, common.RefuseReason.VERSIONS_NOT_SUPPORTED, None,
                    f'no common protocol version (CN proposed '
                    f'{spdu.versions:#04x})')
            return None
        version = (common.VERSION_2 if versions & common.VERSION_2
                   else common.VERSION_1)

        # absent session user requirements: half-duplex and more, not
        # duplex (ISO 8327-1 clause 8.3.1.16)
        if (spdu.requirements is None or
                not spdu.requirements & common.DUPLEX):
            _refuse(conn, common.RefuseReason.SPM_IMPLEMENTATION_RESTRICTION,
                    None, 'the CN does not propose the duplex functional '
                    'unit (the only one supported)')
            return None

        try:
            result: common.Data | None = await aio.call(validate_cb,
                                                        spdu.user_data)
            _check_data('validate_cb result', result)

        except common.RefuseError as e:
            _refuse(conn, (common.RefuseReason.USER_NOT_SPECIFIED
                           if e.user_data is None
                           else common.RefuseReason.USER_WITH_DATA),
                    e.user_data, 'refused by validate_cb')
            return None

        except Exception as e:
            mlog.error('cosp: %s: validate_cb failed: %r; connection '
                       'refused', _describe(conn), e, exc_info=e)
            _refuse(conn, common.RefuseReason.USER_NOT_SPECIFIED, None,
                    None)
            return None

        ac = common.AC(versions=version,
                       requirements=common.DUPLEX,
                       calling_ssel=spdu.calling_ssel,
                       responding_ssel=spdu.called_ssel,
                       user_data=None if result is None else bytes(result))
        conn.write(codec.encode(ac))

    except _EstablishmentError:
        return None

    except ConnectionError as e:
        mlog.info('cosp: %s: connection closed during establishment: %s',
                  _describe(conn), e)
        conn.close()
        return None

    except BaseException:
        conn.close()
        raise

    info = ConnectionInfo(
        local_addr=conn.info.local_addr,
        local_tsel=conn.info.local_tsel,
        local_ssel=common.ssel_from_bytes(spdu.called_ssel),
        remote_addr=conn.info.remote_addr,
        remote_tsel=conn.info.remote_tsel,
        remote_ssel=common.ssel_from_bytes(spdu.calling_ssel))
    return Connection(conn, info, spdu.user_data, ac.user_data, release_cb,
                      release_timeout, receive_queue_size)


def _refuse(conn: cotp.Connection,
            reason: int,
            user_data: bytes | None,
            log_reason: str | None
            ) -> None:
    if log_reason is not None:
        mlog.warning('cosp: %s: CN refused with RF reason %s: %s',
                     _describe(conn), _reason_name(reason), log_reason)
    rf = common.RF(transport_disconnect=common.AbortFlags.TRANSPORT_RELEASED,
                   reason=reason, user_data=user_data)
    try:
        conn.write(codec.encode(rf))
    except ConnectionError:
        pass
    conn.close()


class Server(cotp_common.Resource):
    """COSP server created by `listen`.

    Closing it stops accepting connections and leaves established ones
    open.

    """

    def __init__(self, srv: cotp.Server):
        self._srv = srv

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[common.Address]:
        """Addresses the server listens on (with the real bound ports)"""
        return self._srv.addresses


class Connection(cotp_common.Resource):
    """COSP connection (ISO 8327-1 kernel and duplex), created by `connect`
    and `listen`.

    Its `async_group` is that of the `hat.drivers.cotp.Connection` below:
    closing the group closes the transport at once, without FN (as in
    0.6.23); `close` and `async_close` release the connection (FN, DN)
    first.

    Reads need no background task: `read` reads SPDUs from COTP as they are
    needed; a FN, DN or AB from the peer is processed by the read that
    reaches it. Concurrent reads are served one at a time in call order; a
    cancelled read loses nothing.

    """

    def __init__(self,
                 conn: cotp.Connection,
                 info: ConnectionInfo,
                 conn_req_user_data: bytes | None,
                 conn_res_user_data: bytes | None,
                 release_cb: ReleaseCb | None,
                 release_timeout: float,
                 receive_queue_size: int):
        # established by `connect` or `listen`: not for users
        self._conn = conn
        self._info = info
        self._conn_req_user_data = conn_req_user_data
        self._conn_res_user_data = conn_res_user_data
        self._release_cb = release_cb
        self._release_timeout = release_timeout
        self._read_turn = _turn.Turn()
        # DT user data a release received on behalf of `read`
        self._buffer: collections.deque[bytes] = collections.deque()
        self._buffer_limit = receive_queue_size
        # DT user data a release read and discarded (buffer full)
        self._discarded_count = 0
        self._discarded_octets = 0
        self._error: str | None = None
        self._dn: asyncio.Future[bytes | None] | None = None
        self._release_user_data: bytes | None = None
        self._abort_user_data: bytes | None = None

    @property
    def async_group(self) -> aio.Group:
        """Async group (that of the COTP connection)"""
        return self._conn.async_group

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

    @property
    def info(self) -> ConnectionInfo:
        """Connection info"""
        return self._info

    @property
    def conn_req_user_data(self) -> bytes | None:
        """User data of the CN (``None`` if absent)"""
        return self._conn_req_user_data

    @property
    def conn_res_user_data(self) -> bytes | None:
        """User data of the AC (``None`` if absent)"""
        return self._conn_res_user_data

    @property
    def release_user_data(self) -> bytes | None:
        """User data of the FN received from the peer (``None`` if none
        was received or it had none)"""
        return self._release_user_data

    @property
    def release_cb(self) -> ReleaseCb | None:
        """Release callback answering a FN from the peer (``None``: DN
        without user data)

        Given to `connect` or `listen`; settable per connection, for
        example by a layer above that needs the connection (its
        presentation contexts) to answer the FN: set it in the
        ``connection_cb`` of `listen`, before the first `read`, and a FN
        is never processed before it is set (SPDUs are only read on demand).

        Raises:
            TypeError: set to something neither callable nor ``None``

        """
        return self._release_cb

    @release_cb.setter
    def release_cb(self, release_cb: ReleaseCb | None) -> None:
        if release_cb is not None and not callable(release_cb):
            raise TypeError(f'release_cb must be callable or None, not '
                            f'{type(release_cb).__name__}')
        self._release_cb = release_cb

    @property
    def abort_user_data(self) -> bytes | None:
        """User data of the AB received from the peer (``None`` if none
        was received or it had none)"""
        return self._abort_user_data

    @property
    def name(self) -> str | None:
        """Name given to `connect` or `listen` (passed to tcp)"""
        return self._conn.name

    def close(self, user_data: common.Data | None = None) -> None:
        """Release the connection (in the background) and close it.

        Sends FN with `user_data` (``None``: none) and closes the
        transport once the DN is received, at most ``release_timeout``
        seconds later. Does nothing if the connection is already closing;
        never raises. 0.6.23 closed the transport right after the FN.

        """
        if not self.is_open:
            return

        if self._dn is None:
            try:
                self._send_fn(user_data)

            except (TypeError, ValueError) as e:
                mlog.warning('cosp: %s: FN not sent: %s', self._describe(),
                             e)
                self._conn.close()
                return

        self.async_group.spawn(self._wait_release)

    async def async_close(self, user_data: common.Data | None = None
                          ) -> None:
        """As `close`, and wait until the connection is closed"""
        self.close(user_data)
        await self.wait_closed()

    async def release(self, user_data: common.Data | None = None
                      ) -> bytes | None:
        """Release the connection: send FN with `user_data`, wait for the
        DN, close the transport.

        The DT user data received before the DN stay readable (`read`, in
        order); while ``receive_queue_size`` TSDUs wait unread, the
        following ones are discarded (one WARNING record) rather than
        holding the release back (see the module documentation).

        Returns:
            the DN's user data (``None`` if it has none)

        Raises:
            TypeError: user_data is not bytes, bytearray or memoryview
            ValueError: user_data longer than 65528 octets
            ConnectionError: the connection is not open, or it was closed
                before the DN arrived (for example an AB received)
            ReleaseTimeoutError: no DN within ``release_timeout`` seconds
                (a `ConnectionError` and an ``asyncio.TimeoutError``); the
                transport is closed

        """
        if not self.is_open:
            raise ConnectionError(self._error or
                                  f'cosp: {self._describe()}: connection '
                                  f'is not open')

        if self._dn is None:
            self._send_fn(user_data)
        dn = self._dn
        assert dn is not None
        try:
            try:
                if sys.version_info >= (3, 11):
                    async with asyncio.timeout(self._release_timeout):
                        return await self._wait_dn(dn)
                return await asyncio.wait_for(self._wait_dn(dn),
                                              self._release_timeout)

            except asyncio.TimeoutError as e:
                raise common.ReleaseTimeoutError(
                    f'cosp: {self._describe()}: no DN within '
                    f'{self._release_timeout} s') from e

        finally:
            self._conn.close()

    async def _wait_dn(self, dn: 'asyncio.Future[bytes | None]'
                       ) -> bytes | None:
        # a pending read receives the DN, or this reads it: one SPDU per
        # hold of the read lock, so that reads waiting for the lock take
        # their turn (and the buffer) in between; the DT user data before
        # the DN is kept for read up to the buffer limit, discarded beyond
        # it (ISO 8327-1 STA03: S-DATA indications until the DN; the
        # release never waits for a reader)
        try:
            while not dn.done():
                turn = self._read_turn
                if not turn.take():
                    await turn.wait()
                try:
                    if dn.done():
                        break
                    data = await self._receive_one()
                    if data is None:
                        continue
                    if len(self._buffer) < self._buffer_limit:
                        self._buffer.append(data)
                    else:
                        self._discarded_count += 1
                        self._discarded_octets += len(data)
                finally:
                    turn.release()
        finally:
            if self._discarded_count:
                mlog.warning('cosp: %s: release: %d DT SPDUs (%d octets of '
                             'user data) received before the DN discarded '
                             'unread: %d TSDUs were already waiting for '
                             'read (receive_queue_size)', self._describe(),
                             self._discarded_count, self._discarded_octets,
                             self._buffer_limit)
                self._discarded_count = 0
                self._discarded_octets = 0
        return await asyncio.shield(dn)

    def abort(self, user_data: common.Data | None = None) -> None:
        """Abort the connection: send AB (user abort, transport released)
        with `user_data`, close the transport. Never raises."""
        if not self.is_open:
            return
        self._send_ab(common.AbortFlags.TRANSPORT_RELEASED |
                      common.AbortFlags.USER_ABORT, user_data)
        self._set_error(f'cosp: {self._describe()}: aborted locally')
        self._conn.close()

    def write(self, data: common.Data) -> None:
        """Send `data` in one DT SPDU (one TSDU).

        Raises:
            TypeError: data is not bytes, bytearray or memoryview
            ConnectionError: connection closing or closed, or released
                (FN sent); 0.6.23 dropped the data silently

        """
        _check_data('data', data, optional=False)
        if not self.is_open or self._dn is not None:
            raise ConnectionError(self._error or
                                  f'cosp: {self._describe()}: connection '
                                  f'is not open')
        self._conn.write(b''.join((b'\x01\x00\x01\x00', data)))

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the transport has taken enough of the written data
        (`hat.drivers.cotp.Connection.drain`, `coalesce` as there).

        Raises:
            ConnectionError: connection is closing or closed

        """
        await self._conn.drain(coalesce=coalesce)

    async def read(self) -> bytes:
        """Read the user information of the next DT SPDU.

        Raises:
            ConnectionClosedError: the connection is closed (released,
                aborted, after a protocol error, or the transport closed);
                a `ConnectionError` and a `hat.aio.QueueClosedError`. Data
                received before is returned first.

        """
        turn = self._read_turn
        if not turn.take():
            await turn.wait()
        try:
            if self._buffer:
                return self._buffer.popleft()

            while True:
                if self._error is not None:
                    raise common.ConnectionClosedError(self._error)

                data = await self._receive_one()
                if data is not None:
                    return data
        finally:
            turn.release()

    def _send_fn(self, user_data: common.Data | None) -> None:
        _check_data('user_data', user_data)
        fn = common.FN(
            transport_disconnect=common.AbortFlags.TRANSPORT_RELEASED,
            user_data=None if user_data is None else bytes(user_data))
        octets = codec.encode(fn)
        self._dn = asyncio.get_running_loop().create_future()
        self._conn.write(octets)

    async def _wait_release(self) -> None:
        try:
            await self.release()

        except ConnectionError as e:
            mlog.info('%s', e)

    def _send_ab(self, flags: int, user_data: common.Data | None) -> None:
        try:
            _check_data('user_data', user_data)
            ab = common.AB(
                transport_disconnect=flags, reflect=None,
                user_data=None if user_data is None else bytes(user_data))
            self._conn.write(codec.encode(ab))

        except (TypeError, ValueError) as e:
            mlog.warning('cosp: %s: AB user data not sent: %s',
                         self._describe(), e)
            self._conn.write(codec.encode(common.AB(
                transport_disconnect=flags, reflect=None, user_data=None)))

        except ConnectionError:
            pass

    async def _receive_one(self) -> bytes | None:
        # the user data of the next DT, or None once the connection has
        # ended (`_error` says why)
        try:
            try:
                tsdu = await self._conn.read()

            except ConnectionError as e:
                self._set_error(str(e))
                self._end()
                return None

            try:
                spdu = codec.decode(tsdu)

            except codec.DecodeError as e:
                self._protocol_error(str(e), tsdu)
                self._end()
                return None

            if isinstance(spdu, common.DT):
                return spdu.data

            if not await self._on_spdu(spdu, tsdu):
                self._end()
            return None

        except Exception as e:
            self._set_error(f'cosp: {self._describe()}: receiving failed: '
                            f'{e!r}')
            mlog.error('%s', self._error, exc_info=e)
            self._end()
            return None

    def _end(self) -> None:
        if self._dn is not None and not self._dn.done():
            self._dn.set_exception(ConnectionError(
                self._error or f'cosp: {self._describe()}: connection '
                f'closed before DN'))
            # retrieved by release, if anybody waits
            self._dn.exception()
        self._conn.close()

    async def _on_spdu(self, spdu: common.Spdu, tsdu: bytes) -> bool:
        # False: the connection ends
        if isinstance(spdu, common.FN):
            self._release_user_data = spdu.user_data
            self._set_error(f'cosp: {self._describe()}: released by the '
                            f'peer (FN)')
            dn_data: common.Data | None = None
            if self._release_cb is not None:
                try:
                    dn_data = await aio.call(self._release_cb,
                                             spdu.user_data)
                    _check_data('release_cb result', dn_data)

                except Exception as e:
                    mlog.error('cosp: %s: release_cb failed: %r; aborting',
                               self._describe(), e, exc_info=e)
                    self._send_ab(common.AbortFlags.TRANSPORT_RELEASED |
                                  common.AbortFlags.USER_ABORT, None)
                    return False

            try:
                self._conn.write(codec.encode(common.DN(
                    user_data=None if dn_data is None else bytes(dn_data))))

            except ValueError as e:
                mlog.error('cosp: %s: DN not sent: %s', self._describe(), e)
                self._send_ab(common.AbortFlags.TRANSPORT_RELEASED |
                              common.AbortFlags.USER_ABORT, None)

            except ConnectionError:
                pass

            if self._dn is not None and not self._dn.done():
                # release collision: both sent FN
                self._dn.set_result(None)
            return False

        if isinstance(spdu, common.DN) and self._dn is not None:
            if not self._dn.done():
                self._dn.set_result(spdu.user_data)
            self._set_error(f'cosp: {self._describe()}: released')
            return False

        if isinstance(spdu, common.AB):
            self._abort_user_data = spdu.user_data
            self._set_error(f'cosp: {self._describe()}: aborted by the peer '
                            f'(AB, transport disconnect '
                            f'{spdu.transport_disconnect})')
            mlog.info('%s', self._error)
            if not ((spdu.transport_disconnect or 0) &
                    common.AbortFlags.TRANSPORT_RELEASED):
                # the peer keeps the transport: confirm, then close it (it
                # is not reused)
                try:
                    self._conn.write(codec.encode(common.AA()))
                except ConnectionError:
                    pass
            return False

        self._protocol_error(f'unexpected {type(spdu).__name__} SPDU on an '
                             f'established connection', tsdu)
        return False

    def _set_error(self, msg: str) -> None:
        if self._error is None:
            self._error = msg

    def _protocol_error(self, cause: str, tsdu: bytes) -> None:
        self._set_error(f'cosp: {self._describe()}: protocol error: '
                        f'{cause}')
        _log_protocol_error(self._conn, f'cosp: {self._describe()}: '
                            f'protocol error: {cause}', tsdu)
        self._send_ab(common.AbortFlags.TRANSPORT_RELEASED |
                      common.AbortFlags.PROTOCOL_ERROR, None)
        self._conn.close()

    def _describe(self) -> str:
        return _describe(self._conn)


class _EstablishmentError(ConnectionError):
    pass


def _decode_establishment(conn: cotp.Connection, tsdu: bytes
                          ) -> common.Spdu:
    try:
        return codec.decode(tsdu)

    except codec.DecodeError as e:
        _establishment_error(conn, str(e), tsdu)


def _establishment_error(conn: cotp.Connection,
                         cause: str,
                         tsdu: bytes
                         ) -> typing.NoReturn:
    msg = f'cosp: {_describe(conn)}: protocol error: {cause}'
    _log_protocol_error(conn, msg, tsdu)
    try:
        conn.write(codec.encode(common.AB(
            transport_disconnect=(common.AbortFlags.TRANSPORT_RELEASED |
                                  common.AbortFlags.PROTOCOL_ERROR),
            reflect=None, user_data=None)))
    except ConnectionError:
        pass
    conn.close()
    raise _EstablishmentError(msg)


def _log_protocol_error(conn: cotp.Connection, msg: str, tsdu: bytes
                        ) -> None:
    octets = tsdu[:_LOGGED_OCTETS].hex(' ')
    if len(tsdu) > _LOGGED_OCTETS:
        octets += f' ... ({len(tsdu)} octets)'
    mlog.error('%s; SPDU %s; closing connection', msg, octets,
               extra={'meta': {'type': 'CospConnection',
                               'name': conn.name}})


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


def _describe(conn: cotp.Connection) -> str:
    local, _, remote, _ = conn.info[:4]
    name = f'{conn.name} ' if conn.name else ''
    return (f'{name}{local.host}:{local.port} -> '
            f'{remote.host}:{remote.port}')


def _reason_name(reason: int) -> str:
    try:
        return f'{reason} {common.RefuseReason(reason).name}'
    except ValueError:
        return str(reason)


def _check_data(name: str, data: typing.Any, optional: bool = True) -> None:
    if data is None and optional:
        return
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f'{name} must be bytes, bytearray or memoryview'
                        f'{" or None" if optional else ""}, not '
                        f'{type(data).__name__}')


def _check_settings(release_cb: typing.Any,
                    release_timeout: typing.Any,
                    receive_queue_size: typing.Any) -> None:
    if release_cb is not None and not callable(release_cb):
        raise TypeError(f'release_cb must be callable or None, not '
                        f'{type(release_cb).__name__}')
    _seconds.check_seconds('release_timeout', release_timeout)
    if (isinstance(receive_queue_size, bool) or
            not isinstance(receive_queue_size, int)):
        raise TypeError(f'receive_queue_size must be int, not '
                        f'{type(receive_queue_size).__name__}')
    if receive_queue_size < 1:
        raise ValueError(f'receive_queue_size must be positive, not '
                         f'{receive_queue_size}')
