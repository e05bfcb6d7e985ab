"""Presentation connection (ISO 8823-1 / ITU-T X.226, kernel, normal mode)
on the session layer `hat.drivers.cosp`.

hat-drivers 0.6.23's ``copp`` API (`connect`, `listen`, `Connection`,
`Server`, `ConnectionInfo`, `ValidateCb`, ...) with keyword-only additions.
PPDUs are those of `hat.drivers.copp.codec`; every presentation context
uses the transfer syntax BER (`hat.drivers.copp.common.BER`), and a
presentation data value is an `IdentifiedEntity` (abstract syntax name,
`hat.drivers.ber.Element`).

Service mapping (X.226 clause 7):

* P-CONNECT: CP-type in the session CN, CPA-PPDU in the AC, CPR-PPDU in
  the RF (refusal);
* P-DATA: User-data in a session DT;
* P-RELEASE: User-data in the session FN / DN (`Connection.release`,
  `Connection.close` and the ``release_cb`` of `connect` / `listen`);
* P-U-ABORT / P-P-ABORT: ARU-PPDU / ARP-PPDU in a session AB
  (`Connection.abort`, protocol errors).

Receiving: each `Connection` has one receive task that reads the session
connection (`hat.drivers.cosp.Connection.read`, which reads on demand)
and puts the PDVs of each P-DATA, in order, into a queue of at most
``receive_queue_size`` PDVs (the keyword argument passed on to
`hat.drivers.cosp`, default `hat.drivers.cosp.DEFAULT_RECEIVE_QUEUE_SIZE`,
16); `Connection.read` takes from that queue. A task rather than reading
only while the user reads, because a peer's P-RELEASE (session FN) or
abort is only processed by a pending session read, and it must be answered
even when the user is not reading (an MMS client waiting for nothing, a
server whose user only writes).

Memory stays bounded: the task decodes the PDVs of a P-DATA one at a time
(`hat.drivers.copp.codec.iter_pdv_lists`), decodes the next only once the
last is queued, and reads the next P-DATA only once every PDV of the last
is queued; with the queue full it stops reading, so the session and
transport stop reading and TCP flow control holds back a peer that sends
without its data being read (a FN behind unread data then waits until the
user reads). A connection thus holds at most ``receive_queue_size``
decoded PDVs (each an (abstract syntax name, `hat.drivers.ber.Element`)
pair of about 300 octets of objects, whose contents are a view of the
P-DATA octets it came in) and the one P-DATA being decoded: at most
(``receive_queue_size`` + 1) P-DATA of at most cotp's ``max_tsdu_size``
octets (17 MiB with the defaults 16 and 1 MiB), plus about 300 octets per
queued PDV, however small the PDVs. Measured: while the first PDV of a
P-DATA of 256 KiB packed with 29,127 PDVs of 9 octets is read, the
connection holds 1.03 times the P-DATA's octets (1.01 for 1 MiB; decoding
the whole P-DATA at once, as before, held 45 times). A malformed PDV, or a
PDV of an unknown context, is found when decoding reaches it: the PDVs
before it in the same P-DATA are delivered first, then the protocol error
ends the connection. copp writes nothing in reply to P-DATA (only the
ARP-PPDU ending the connection on a protocol error).

Data before the peer's P-RELEASE response: after our P-RELEASE request
(session FN) the peer may still send P-DATA until it receives it; they are
user data (X.226 passes P-DATA indications until the release completes)
and `Connection.read` returns them in order while the release waits. The
release does not wait for them to be read: the session release reads on to
the DN and, with the bounds full (``receive_queue_size`` PDVs queued here,
one P-DATA held by the receive task, ``receive_queue_size`` TSDUs kept by
the session), discards the rest with one WARNING record of
`hat.drivers.cosp` (see there). The PDVs queued here stay readable after
the release; what the session still kept is dropped when the connection
closes.

Differences from 0.6.23, which follow X.226: contexts whose proposed
transfer syntaxes do not include BER are rejected in the CPA
(provider-rejection) and left out of `Connection.syntax_names` (0.6.23
accepted every context); refusals are CPR-PPDUs in a session RF (0.6.23:
session abort); `close` releases the connection (P-RELEASE: session FN/DN
with user data) and `abort` sends an ARU in a session AB (0.6.23 sent the
ARU in a FN); every PDV of a P-DATA is delivered, in order (0.6.23: the
first only), octet-aligned values decoded as BER like single-ASN1-type
ones; CP and CPA without user data are valid (`conn_req_user_data` /
`conn_res_user_data` are then ``None``); the initiator checks only that the
contexts it uses were accepted. A received PPDU that cannot be decoded, a
PDV of an unknown or rejected context, simply-encoded data or an arbitrary
(BIT STRING) PDV is a protocol error: one ERROR record with the octets as
hex, an ARP-PPDU in a session AB, and every later call raises
`ConnectionError`.

"""

import logging
import typing

from hat import aio

from hat.drivers import ber
from hat.drivers import cosp
from hat.drivers import cotp
from hat.drivers import tcp
from hat.drivers import tpkt
from hat.drivers.copp import codec
from hat.drivers.copp import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

Psel: typing.TypeAlias = int | bytes
"""Presentation selector: an ``int`` (0 to 2**32 - 1, sent as 4 octets big
endian, the IEC 61850 convention of 0.6.23) or ``bytes`` of any length"""

_LOGGED_OCTETS = 64


class ConnectionInfo(typing.NamedTuple):
    """Addresses and selectors of a connection (0.6.23 fields)

    Selectors are ``None`` when absent. Received presentation selectors
    are an ``int`` if they have 4 octets, ``bytes`` otherwise.

    """
    local_addr: tpkt.Address
    local_tsel: cotp.Tsel | None
    local_ssel: cosp.Ssel | None
    local_psel: Psel | None
    remote_addr: tpkt.Address
    remote_tsel: cotp.Tsel | None
    remote_ssel: cosp.Ssel | None
    remote_psel: Psel | None


ValidateResult: typing.TypeAlias = common.IdentifiedEntity | None
"""Result of a validate callback: the CPA's user data (``None``: none)"""

ValidateCb: typing.TypeAlias = aio.AsyncCallable[
    [common.SyntaxNames, common.IdentifiedEntity | None], ValidateResult]
"""Validate callback: called with the accepted contexts and the CP's user
data (its first PDV; ``None`` if absent), returns the CPA's user data or
raises to refuse the connection with a CPR (`RefuseError`: with user
data)"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""

ReleaseCb: typing.TypeAlias = aio.AsyncCallable[
    [common.IdentifiedEntity | None], common.IdentifiedEntity | None]
"""Release callback: called with the user data of the peer's P-RELEASE
request (``None`` if none), returns the user data of the response"""


class RefuseError(Exception):
    """Raised by a ``validate_cb`` to refuse a connection with a CPR-PPDU
    (refused by the presentation user) carrying `user_data` (``None``: no
    user data), for example an ACSE AARE with a rejected result"""

    def __init__(self, user_data: common.IdentifiedEntity | None = None):
        super().__init__('connection refused by the presentation user')
        self.user_data = user_data


class RefusedError(ConnectionRefusedError):
    """The responder refused the connection with a CPR-PPDU (or the session
    refused it without one): ``provider_reason`` (``None``: refused by the
    presentation user) and the CPR's ``user_data`` (first PDV, ``None`` if
    none)"""

    def __init__(self,
                 msg: str,
                 provider_reason: common.ProviderReason | None,
                 user_data: common.IdentifiedEntity | None):
        super().__init__(msg)
        self.provider_reason = provider_reason
        self.user_data = user_data


async def connect(syntax_names: common.SyntaxNames,
                  addr: tcp.Address,
                  local_tsel: cotp.Tsel | None = None,
                  remote_tsel: cotp.Tsel | None = None,
                  local_ssel: cosp.Ssel | None = None,
                  remote_ssel: cosp.Ssel | None = None,
                  local_psel: Psel | None = None,
                  remote_psel: Psel | None = None,
                  user_data: common.IdentifiedEntity | None = None,
                  *,
                  release_cb: ReleaseCb | None = None,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to a presentation responder (P-CONNECT, X.226 7.1)

    Sends a CP-type proposing one context per name of `syntax_names` (with
    its identifier) and the transfer syntax BER, with `user_data` as one
    single-ASN1-type PDV; waits for the CPA.

    Args:
        syntax_names: proposed abstract syntaxes
        addr: remote address (port 102 by default)
        local_tsel: calling TSEL (see `hat.drivers.cotp.connect`)
        remote_tsel: called TSEL
        local_ssel: calling SSEL (see `hat.drivers.cosp.connect`)
        remote_ssel: called SSEL
        local_psel: calling presentation selector (`Psel`)
        remote_psel: called presentation selector
        user_data: CP user data (``None``: none); its name must be in
            `syntax_names`
        release_cb: answers the peer's P-RELEASE request (see `ReleaseCb`;
            ``None``: released without user data)
        kwargs: passed to `hat.drivers.cosp.connect` (``release_timeout``,
            ``connect_timeout``, ``ssl``, ...; ``receive_queue_size`` also
            bounds the PDVs kept for `Connection.read`)

    Raises:
        TypeError, ValueError, KeyError: malformed argument (KeyError: the
            user data's name is not in `syntax_names`)
        RefusedError: the responder refused with a CPR-PPDU (or the
            session layer refused)
        ConnectionError: any other failure (a malformed CPA, a context of
            `user_data` rejected, ...)

    """
    if not isinstance(syntax_names, common.SyntaxNames):
        raise TypeError(f'syntax_names must be SyntaxNames, not '
                        f'{type(syntax_names).__name__}')
    calling_psel = _psel_to_bytes(local_psel)
    called_psel = _psel_to_bytes(remote_psel)
    cp = common.CpPpdu(
        protocol_version=None,
        calling_presentation_selector=calling_psel,
        called_presentation_selector=called_psel,
        context_definition_list=[
            common.ContextDefinition(context_id, name, [common.BER])
            for context_id, name in syntax_names.items()],
        default_context_name=None,
        presentation_requirements=None,
        user_session_requirements=None,
        user_data=(None if user_data is None
                   else _user_data(syntax_names, user_data)))
    cp_octets = codec.encode_cp(cp)
    _check_release_cb(release_cb)

    try:
        conn = await cosp.connect(addr, local_tsel, remote_tsel, local_ssel,
                                  remote_ssel, cp_octets, **kwargs)
    except cosp.RefusedError as e:
        raise _refused(e, syntax_names) from e

    try:
        ac_octets = conn.conn_res_user_data
        if ac_octets is None:
            raise _Error('session AC without CPA-PPDU', b'')
        try:
            cpa = codec.decode_cpa(ac_octets)
        except codec.PpduDecodeError as e:
            raise _Error(str(e), ac_octets) from e

        if (called_psel is not None and
                cpa.responding_presentation_selector is not None and
                bytes(cpa.responding_presentation_selector) != called_psel):
            raise _Error('responding presentation selector does not match '
                         'the called one', ac_octets)

        accepted = _accepted_contexts(syntax_names, cpa, ac_octets)
        if user_data is not None:
            accepted.get_id(user_data[0])

        res_user_data = (None if cpa.user_data is None else
                         _first_entity(accepted, cpa.user_data, ac_octets))

    except _Error as e:
        _log_protocol_error(conn, e.msg, e.octets)
        _abort_provider(conn, common.AbortReason.INVALID_PPDU_PARAMETER_VALUE,
                        common.EventIdentifier.CPA_PPDU)
        raise ConnectionError(f'copp: {e.msg}') from None

    except KeyError:
        _abort_provider(conn, common.AbortReason.REASON_NOT_SPECIFIED,
                        common.EventIdentifier.CPA_PPDU)
        raise ConnectionError('copp: the context of the user data was '
                              'rejected') from None

    except BaseException:
        conn.close()
        raise

    info = ConnectionInfo(local_addr=conn.info.local_addr,
                          local_tsel=conn.info.local_tsel,
                          local_ssel=conn.info.local_ssel,
                          local_psel=local_psel,
                          remote_addr=conn.info.remote_addr,
                          remote_tsel=conn.info.remote_tsel,
                          remote_ssel=conn.info.remote_ssel,
                          remote_psel=remote_psel)
    return Connection(conn, info, accepted, user_data, res_user_data,
                      release_cb, kwargs.get('receive_queue_size',
                                 cosp.DEFAULT_RECEIVE_QUEUE_SIZE))


async def listen(validate_cb: ValidateCb,
                 connection_cb: ConnectionCb,
                 addr: tcp.Address = tpkt.DEFAULT_LISTEN_ADDRESS,
                 *,
                 release_cb: ReleaseCb | None = None,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create a listening presentation responder (X.226 7.1)

    Every session connection must start with a CP-type in normal mode.
    Its contexts proposing the transfer syntax BER are accepted, the others
    rejected (provider-rejection, proposed-transfer-syntaxes-not-supported);
    `validate_cb` is called with the accepted contexts and the CP's user
    data, and the connection is accepted with a CPA carrying the responding
    selector (the called one), the context results and the user data
    `validate_cb` returns; then `connection_cb` is called. A CP that cannot
    be decoded, user data in a rejected context, or `validate_cb` raising,
    refuse the connection with a CPR in a session RF (the first two logged
    at level ERROR; `RefuseError` puts its user data in the CPR, any other
    exception is logged as a warning).

    Args:
        validate_cb: see `ValidateCb`
        connection_cb: called with each established `Connection`
        addr: local address (default ``Address('0.0.0.0', 102)``)
        release_cb: answers the P-RELEASE requests of the peers of every
            accepted connection (see `ReleaseCb`; ``None``: released
            without user data); set on each session connection
            (`hat.drivers.cosp.Connection.release_cb`) to decode the user
            data with that connection's contexts
        kwargs: passed to `hat.drivers.cosp.listen`

    """
    _check_release_cb(release_cb)
    receive_queue_size = kwargs.get('receive_queue_size',
                                    cosp.DEFAULT_RECEIVE_QUEUE_SIZE)

    async def on_validate(cn_user_data: cosp.Data | None) -> bytes:
        cp_octets = b'' if cn_user_data is None else bytes(cn_user_data)
        try:
            cp = codec.decode_cp(cp_octets)
            syntax_names, results = _context_results(cp)
            req_user_data = (None if cp.user_data is None else
                             _first_entity(syntax_names, cp.user_data,
                                           cp_octets))
        except (codec.PpduDecodeError, _Error) as e:
            msg = e.msg if isinstance(e, _Error) else str(e)
            mlog.error('copp: CP refused: %s (%s)', msg,
                       _hex(cp_octets))
            raise cosp.RefuseError(codec.encode_cpr(common.CprPpdu(
                None, None, None, None,
                common.ProviderReason.REASON_NOT_SPECIFIED, None))) from e

        try:
            res_user_data: ValidateResult = await aio.call(
                validate_cb, syntax_names, req_user_data)
            cpa_user_data = (None if res_user_data is None else
                             _user_data(syntax_names, res_user_data))
        except RefuseError as e:
            try:
                cpr_user_data = (None if e.user_data is None else
                                 _user_data(syntax_names, e.user_data))
            except (TypeError, ValueError, KeyError) as error:
                mlog.warning('copp: CPR user data not sent: %s', error)
                cpr_user_data = None
            raise cosp.RefuseError(codec.encode_cpr(common.CprPpdu(
                None, cp.called_presentation_selector, results, None, None,
                cpr_user_data))) from e

        except Exception as e:
            mlog.warning('copp: CP refused by validate_cb: %s', e,
                         exc_info=e)
            raise cosp.RefuseError(codec.encode_cpr(common.CprPpdu(
                None, cp.called_presentation_selector, results, None, None,
                None))) from e

        return codec.encode_cpa(common.CpaPpdu(
            protocol_version=None,
            responding_presentation_selector=(
                cp.called_presentation_selector),
            context_definition_result_list=results,
            presentation_requirements=None,
            user_session_requirements=None,
            user_data=cpa_user_data))

    async def on_connection(conn: cosp.Connection) -> None:
        cp = codec.decode_cp(conn.conn_req_user_data or b'')
        cpa_octets = conn.conn_res_user_data or b''
        cpa = codec.decode_cpa(cpa_octets)
        syntax_names, _ = _context_results(cp)
        req_user_data = (None if cp.user_data is None else
                         _first_entity(syntax_names, cp.user_data, b''))
        res_user_data = (None if cpa.user_data is None else
                         _first_entity(syntax_names, cpa.user_data, b''))
        info = ConnectionInfo(
            local_addr=conn.info.local_addr,
            local_tsel=conn.info.local_tsel,
            local_ssel=conn.info.local_ssel,
            local_psel=_psel_from_bytes(cp.called_presentation_selector),
            remote_addr=conn.info.remote_addr,
            remote_tsel=conn.info.remote_tsel,
            remote_ssel=conn.info.remote_ssel,
            remote_psel=_psel_from_bytes(cp.calling_presentation_selector))
        copp_conn = Connection(conn, info, syntax_names, req_user_data,
                               res_user_data, release_cb, receive_queue_size)
        try:
            await aio.call(connection_cb, copp_conn)
        except BaseException:
            copp_conn.abort()
            raise

    srv = await cosp.listen(on_validate, on_connection, addr, **kwargs)
    return Server(srv)


class Server(aio.Resource):
    """Presentation server created by `listen`; closing it leaves
    established connections open"""

    def __init__(self, srv: cosp.Server):
        self._srv = srv

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[tpkt.Address]:
        """Addresses the server listens on (with the real bound ports)"""
        return self._srv.addresses


class Connection(aio.Resource):
    """Presentation connection created by `connect` and `listen`

    Its `async_group` is that of the session connection below; its receive
    task (see the module documentation) runs in it.

    """

    def __init__(self,
                 conn: cosp.Connection,
                 info: ConnectionInfo,
                 syntax_names: common.SyntaxNames,
                 conn_req_user_data: common.IdentifiedEntity | None,
                 conn_res_user_data: common.IdentifiedEntity | None,
                 release_cb: ReleaseCb | None,
                 receive_queue_size: int):
        # established by `connect` or `listen`: not for users
        self._conn = conn
        self._info = info
        self._syntax_names = syntax_names
        self._conn_req_user_data = conn_req_user_data
        self._conn_res_user_data = conn_res_user_data
        # decoded PDVs, at most receive_queue_size: the receive task
        # decodes the next PDV of a P-DATA only when there is room, and
        # reads the next P-DATA only once every PDV of the last is queued
        self._queue: aio.Queue[common.IdentifiedEntity] = aio.Queue(
            receive_queue_size)
        self._error: str | None = None
        self._release_cb = release_cb
        self._putting = False
        # set before the first session read: no FN is processed earlier
        conn.release_cb = self._on_release
        if self.async_group.is_open:
            self.async_group.spawn(self._receive_loop)
        else:
            # the session connection closed in the meantime
            self._queue.close()

    @property
    def async_group(self) -> aio.Group:
        """Async group (that of the session connection)"""
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
    def syntax_names(self) -> common.SyntaxNames:
        """Accepted presentation contexts"""
        return self._syntax_names

    @property
    def conn_req_user_data(self) -> common.IdentifiedEntity | None:
        """User data of the CP (its first PDV; ``None`` if none)"""
        return self._conn_req_user_data

    @property
    def conn_res_user_data(self) -> common.IdentifiedEntity | None:
        """User data of the CPA (its first PDV; ``None`` if none)"""
        return self._conn_res_user_data

    def close(self, user_data: common.IdentifiedEntity | None = None
              ) -> None:
        """Release the connection in the background (P-RELEASE: session FN
        with `user_data`, then DN) and close it; never raises. 0.6.23 sent
        an ARU here (an abort)."""
        try:
            data = (None if user_data is None else codec.encode_user_data(
                _user_data(self._syntax_names, user_data)))
        except (TypeError, ValueError, KeyError) as e:
            mlog.warning('copp: release user data not sent: %s', e)
            data = None
        self._conn.close(data)

    async def async_close(self,
                          user_data: common.IdentifiedEntity | None = None
                          ) -> None:
        """As `close`, and wait until the connection is closed"""
        self.close(user_data)
        await self.wait_closed()

    async def release(self, user_data: common.IdentifiedEntity | None = None
                      ) -> common.IdentifiedEntity | None:
        """Release the connection (P-RELEASE) and return the response's
        user data (``None`` if none)

        Raises:
            KeyError: the user data's name is not an accepted context
            ConnectionError: not open, no answer in time (see
                `hat.drivers.cosp.Connection.release`), or an answer that
                cannot be decoded

        """
        data = (None if user_data is None else codec.encode_user_data(
            _user_data(self._syntax_names, user_data)))
        dn_data = await self._conn.release(data)
        if dn_data is None:
            return None
        try:
            return _first_entity(self._syntax_names,
                                 codec.decode_user_data(dn_data), dn_data)
        except (codec.PpduDecodeError, _Error) as e:
            raise ConnectionError(f'copp: release response: {e}') from e

    def abort(self, user_data: common.IdentifiedEntity | None = None
              ) -> None:
        """Abort the connection (P-U-ABORT: ARU-PPDU in a session AB, with
        `user_data`); never raises"""
        try:
            ppdu = common.AruPpdu(
                None, None if user_data is None else _user_data(
                    self._syntax_names, user_data))
            data = codec.encode_abort(ppdu)
        except (TypeError, ValueError, KeyError) as e:
            mlog.warning('copp: abort user data not sent: %s', e)
            data = codec.encode_abort(common.AruPpdu(None, None))
        self._error = self._error or 'copp: connection aborted locally'
        self._conn.abort(data)

    def write(self, data: common.IdentifiedEntity) -> None:
        """Send one P-DATA with one PDV (single-ASN1-type)

        Raises:
            KeyError: the name is not an accepted context
            TypeError, ValueError: not an (abstract syntax name,
                `hat.drivers.ber.Element`) pair
            ConnectionError: connection not open

        """
        self._conn.write(_encode_entity(self._syntax_names, data))

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the layers below have taken the written data (see
        `hat.drivers.cosp.Connection.drain`, `coalesce` as there)"""
        await self._conn.drain(coalesce=coalesce)

    async def read(self) -> common.IdentifiedEntity:
        """Next received presentation data value (every PDV of every
        P-DATA, in order)

        Raises:
            ConnectionError: the connection is closed, or a protocol error
                ended it (`hat.drivers.cosp.ConnectionClosedError`, also a
                `hat.aio.QueueClosedError` as 0.6.23 raised); the values
                received before are returned first

        """
        queue = self._queue
        if not queue.empty():
            # no coroutine when a PDV is waiting (rows read, read-16 of
            # bench_mms.py)
            return queue.get_nowait()
        try:
            return await queue.get()

        except aio.QueueClosedError:
            raise cosp.ConnectionClosedError(
                self._error or 'copp: connection closed') from None

    async def _on_release(self, data: cosp.Data | None) -> bytes | None:
        # session release callback: the peer's P-RELEASE request
        try:
            if self._release_cb is None:
                return None

            entity = None
            if data is not None:
                try:
                    entity = _first_entity(self._syntax_names,
                                           codec.decode_user_data(data), data)

                except (codec.PpduDecodeError, _Error) as e:
                    msg = e.msg if isinstance(e, _Error) else str(e)
                    _log_protocol_error(self._conn, f'P-RELEASE request '
                                        f'user data: {msg}', data)

            result: common.IdentifiedEntity | None = await aio.call(
                self._release_cb, entity)
            if result is None:
                return None

            return codec.encode_user_data(
                _user_data(self._syntax_names, result))

        finally:
            # readers get ConnectionClosedError now, before the session
            # closes the transport (and with it the async group, whose
            # tasks are cancelled); not while the receive task holds a
            # P-DATA for the queue (a release collision): nothing read is
            # dropped
            self._error = self._error or 'copp: released by the peer'
            if not self._putting:
                self._queue.close()

    async def _receive_loop(self) -> None:
        try:
            while True:
                try:
                    data = await self._conn.read()

                except ConnectionError as e:
                    self._error = self._error or str(e)
                    return

                # one PDV decoded at a time, queued before the next is
                # decoded: what the connection holds is bounded in PDVs
                queue = self._queue
                try:
                    entities = _iter_entities(self._syntax_names, data)
                    entity = next(entities, None)
                    while entity is not None:
                        if queue.full():
                            self._putting = True
                            try:
                                await queue.put(entity)

                            finally:
                                self._putting = False
                        else:
                            # no coroutine while there is room (rows
                            # read, read-16 of bench_mms.py)
                            queue.put_nowait(entity)
                        entity = next(entities, None)

                except (codec.PpduDecodeError, _Error) as e:
                    msg = e.msg if isinstance(e, _Error) else str(e)
                    _log_protocol_error(self._conn, msg, data)
                    self._error = f'copp: protocol error: {msg}'
                    _abort_provider(
                        self._conn,
                        common.AbortReason.INVALID_PPDU_PARAMETER_VALUE,
                        None)
                    return

        except aio.QueueClosedError:
            pass

        except Exception as e:
            self._error = self._error or f'copp: receiving failed: {e!r}'
            mlog.error('%s', self._error, exc_info=e)
            self._conn.abort()

        finally:
            self._queue.close()


# --- helpers ----------------------------------------------------------------

class _Error(Exception):
    """Protocol error: message and the offending octets"""

    def __init__(self, msg: str, octets: ber.Bytes):
        super().__init__(msg)
        self.msg = msg
        self.octets = bytes(octets)


def _hex(octets: ber.Bytes) -> str:
    text = bytes(octets[:_LOGGED_OCTETS]).hex(' ')
    return text + (' ...' if len(octets) > _LOGGED_OCTETS else '')


def _log_protocol_error(conn: cosp.Connection,
                        msg: str,
                        octets: ber.Bytes) -> None:
    mlog.error('copp: %s -> %s: protocol error: %s (%d octets: %s)',
               conn.info.local_addr, conn.info.remote_addr, msg,
               len(octets), _hex(octets))


def _abort_provider(conn: cosp.Connection,
                    reason: common.AbortReason,
                    event: common.EventIdentifier | None) -> None:
    conn.abort(codec.encode_abort(common.ArpPpdu(reason, event)))


def _psel_to_bytes(psel: Psel | None) -> bytes | None:
    if psel is None:
        return None
    if isinstance(psel, bool) or not isinstance(psel, (int, bytes)):
        raise TypeError(f'presentation selector must be int, bytes or '
                        f'None, not {type(psel).__name__}')
    if isinstance(psel, bytes):
        return psel
    if not 0 <= psel < 1 << 32:
        raise ValueError(f'presentation selector out of range 0 to '
                         f'2**32 - 1: {psel}')
    return psel.to_bytes(4, 'big')


def _psel_from_bytes(psel: ber.Bytes | None) -> Psel | None:
    if psel is None:
        return None
    psel = bytes(psel)
    return int.from_bytes(psel, 'big') if len(psel) == 4 else psel


def _user_data(syntax_names: common.SyntaxNames,
               entity: common.IdentifiedEntity) -> common.FullyEncodedData:
    return common.FullyEncodedData([common.PdvList(
        None, *_context_pdv(syntax_names, entity))])


def _context_pdv(syntax_names: common.SyntaxNames,
                 entity: common.IdentifiedEntity
                 ) -> tuple[int, ber.Element]:
    """(presentation-context-identifier, data) of a PDV to send"""
    name, element = entity
    if not isinstance(element, ber.Element):
        raise TypeError(f'presentation data value must be a ber.Element, '
                        f'not {type(element).__name__}')
    return syntax_names.get_id(name), element


def _entities(syntax_names: common.SyntaxNames,
              user_data: common.UserData,
              octets: ber.Bytes) -> list[common.IdentifiedEntity]:
    if isinstance(user_data, common.SimplyEncodedData):
        raise _Error('simply-encoded data (no default context)', octets)
    result = []
    for pdv_list in user_data.pdv_lists:
        try:
            name = syntax_names.get_name(pdv_list.context_id)
        except KeyError:
            raise _Error(f'PDV of unknown presentation context '
                         f'{ber.integer_text(pdv_list.context_id)}',
                         octets) from None
        data = pdv_list.data
        if isinstance(data, ber.Element):
            result.append((name, data))
        elif isinstance(data, (bytes, bytearray, memoryview)):
            try:
                result.extend((name, element)
                              for element in ber.decode_all(data))
            except ber.DecodeError as e:
                raise _Error(f'octet-aligned PDV: {e}', octets) from e
        else:
            raise _Error('arbitrary (BIT STRING) PDV not supported', octets)
    return result


def _encode_entity(syntax_names: common.SyntaxNames,
                   entity: common.IdentifiedEntity) -> bytes:
    """The P-DATA user data of one PDV (as `codec.encode_user_data` of
    `_user_data`, through `codec.encode_single_pdv` where it can)"""
    context_id, element = _context_pdv(syntax_names, entity)
    octets = codec.encode_single_pdv(context_id, element)
    if octets is not None:
        return octets
    return codec.encode_user_data(common.FullyEncodedData([common.PdvList(
        None, context_id, element)]))


def _iter_entities(syntax_names: common.SyntaxNames,
                   octets: ber.Bytes
                   ) -> typing.Iterator[common.IdentifiedEntity]:
    """The PDVs of a P-DATA's user data, each decoded when reached

    Raises `codec.PpduDecodeError` or `_Error` when it reaches one that
    is malformed, simply-encoded data or a PDV it cannot deliver (a P-DATA
    of one single-ASN1-type PDV, every MMS PDU, at once).
    """
    single = codec.decode_single_pdv(octets)
    if single is not None:
        return iter(((_context_name(syntax_names, single[0], octets),
                      single[1]),))
    return _iter_general(syntax_names, octets)


def _context_name(syntax_names: common.SyntaxNames,
                  context_id: int,
                  octets: ber.Bytes) -> common.ObjectIdentifier:
    try:
        return syntax_names.get_name(context_id)
    except KeyError:
        raise _Error(f'PDV of unknown presentation context '
                     f'{ber.integer_text(context_id)}', octets) from None


def _iter_general(syntax_names: common.SyntaxNames,
                  octets: ber.Bytes
                  ) -> typing.Iterator[common.IdentifiedEntity]:
    for pdv_list in codec.iter_pdv_lists(octets):
        name = _context_name(syntax_names, pdv_list.context_id, octets)
        data = pdv_list.data
        if isinstance(data, ber.Element):
            yield name, data
        elif isinstance(data, (bytes, bytearray, memoryview)):
            elements = ber.iter_decode(data)
            while True:
                try:
                    element = next(elements, None)
                except ber.DecodeError as e:
                    raise _Error(f'octet-aligned PDV: {e}', octets) from e
                if element is None:
                    break
                yield name, element
        else:
            raise _Error('arbitrary (BIT STRING) PDV not supported', octets)


def _first_entity(syntax_names: common.SyntaxNames,
                  user_data: common.UserData,
                  octets: ber.Bytes) -> common.IdentifiedEntity | None:
    entities = _entities(syntax_names, user_data, octets)
    return entities[0] if entities else None


def _context_results(cp: common.CpPpdu
                     ) -> tuple[common.SyntaxNames,
                                list[common.ContextResult]]:
    """Accepted contexts (those proposing BER) and the result list"""
    accepted = []
    results = []
    for definition in cp.context_definition_list or []:
        if tuple(common.BER) in (tuple(name) for name in
                                 definition.transfer_syntax_names):
            accepted.append((definition.context_id,
                             definition.abstract_syntax_name))
            results.append(common.ContextResult(
                common.Result.ACCEPTANCE, common.BER, None))
        else:
            results.append(common.ContextResult(
                common.Result.PROVIDER_REJECTION, None,
                common.ContextRejectReason.
                PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED))
    try:
        syntax_names = common.SyntaxNames.from_ids(accepted)
    except ValueError as e:
        raise _Error(f'presentation-context-definition-list: {e}',
                     b'') from e
    return syntax_names, results


def _accepted_contexts(syntax_names: common.SyntaxNames,
                       cpa: common.CpaPpdu,
                       octets: ber.Bytes) -> common.SyntaxNames:
    items = syntax_names.items()
    results = cpa.context_definition_result_list
    if results is None:
        return syntax_names
    if len(results) != len(items):
        raise _Error(f'{len(results)} context results for {len(items)} '
                     f'proposed contexts', octets)
    return common.SyntaxNames.from_ids(
        item for item, result in zip(items, results, strict=True)
        if result.result == common.Result.ACCEPTANCE)


def _refused(e: cosp.RefusedError,
             syntax_names: common.SyntaxNames) -> RefusedError:
    if e.user_data is None:
        return RefusedError(f'copp: {e}', None, None)
    try:
        cpr = codec.decode_cpr(e.user_data)
        user_data = (None if cpr.user_data is None else
                     _first_entity(syntax_names, cpr.user_data, e.user_data))
    except (codec.PpduDecodeError, _Error) as error:
        return RefusedError(f'copp: {e} (user data not a CPR-PPDU: '
                            f'{error})', None, None)
    reason = ('' if cpr.provider_reason is None
              else f': {cpr.provider_reason.name}')
    return RefusedError(f'copp: connection refused (CPR{reason})',
                        cpr.provider_reason, user_data)


def _check_release_cb(release_cb: typing.Any) -> None:
    if release_cb is not None and not callable(release_cb):
        raise TypeError(f'release_cb must be callable or None, not '
                        f'{type(release_cb).__name__}')
