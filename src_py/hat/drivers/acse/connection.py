"""Association (ISO 8650-1 / ITU-T X.227, normal mode) on the presentation
layer `hat.drivers.copp`.

hat-drivers 0.6.23's ``acse`` API (`connect`, `listen`, `Connection`,
`Server`, `ConnectionInfo`, `ValidateCb`, ...) with keyword-only additions.
APDUs are those of `hat.drivers.acse.codec`; the ACSE abstract syntax
(`hat.drivers.acse.common.ACSE_ABSTRACT_SYNTAX`) gets presentation context
1 and the user's abstract syntaxes 3, 5, 7, ...

Service mapping (X.227 clause 7.2):

* A-ASSOCIATE: AARQ in the P-CONNECT request, AARE (accepted) in the
  P-CONNECT response, AARE (rejected) in the presentation refusal (CPR);
* user data: P-DATA of the user's contexts (`Connection.read`, `write`);
* A-RELEASE: RLRQ / RLRE in the P-RELEASE request / response
  (`Connection.close`, `Connection.release`);
* A-ABORT: ABRT in the P-U-ABORT (`Connection.abort`, protocol errors).

Differences from 0.6.23, which follow X.227: the AARE's
application-context-name is the one the AARQ proposed (0.6.23: the user
data's abstract syntax); AP titles (form 2) and AE qualifiers (form 2) are
read from the AARQ and the AARE into `ConnectionInfo` (0.6.23 never
recognised them); a refused association is a rejecting AARE (result
rejected-permanent) in a CPR (0.6.23: session abort); `close` releases the
association (RLRQ, RLRE; 0.6.23 sent ABRT) and a peer's RLRQ is answered
with RLRE in the session DN, on the initiator and on the responder (X.227
7.2.2; 0.6.23 answered without RLRE); an ACSE APDU in P-DATA
is a protocol error (one ERROR record with the octets as hex, ABRT with
abort-source acse-service-provider, later calls raise `ConnectionError`).

Receiving: `Connection.read` reads the presentation connection on demand;
the presentation layer's receive task, with its bounded queue, keeps a
session read pending, so a peer's RLRQ is answered even when the user is
not reading (see `hat.drivers.copp`). ACSE adds no task and no queue of
its own.

Release and the data before the RLRE: after our RLRQ the peer may still
send user data until it receives it (an IEC 61850 server streaming reports
while its client closes); X.227 passes them to the user (P-DATA
indications while awaiting the A-RELEASE response), so `Connection.read`
returns them in order while `Connection.release` waits. The release never
waits for them to be read: it completes when the RLRE arrives (at most the
session's ``release_timeout``), and with nobody reading, what exceeds the
bounds of the layers below (``receive_queue_size`` PDVs in copp, one
P-DATA being decoded, ``receive_queue_size`` TSDUs in cosp; 16 each by
default) is discarded with one WARNING record of `hat.drivers.cosp`. It
takes the time to read what was in transit (measured: 6 to 9 MB in flight,
read in 0.07 to 1.1 s depending on the size of each P-DATA), whatever the
amount the peer had queued unread; memory stays within those bounds.

"""

import logging
import typing

from hat import aio

from hat.drivers import ber
from hat.drivers import copp
from hat.drivers import cosp
from hat.drivers import cotp
from hat.drivers import tcp
from hat.drivers import tpkt
from hat.drivers.acse import codec
from hat.drivers.acse import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

_ACSE = common.ACSE_ABSTRACT_SYNTAX

_LOGGED_OCTETS = 64


class ConnectionInfo(typing.NamedTuple):
    """Addresses, selectors, AP titles and AE qualifiers (0.6.23 fields)

    AP titles and AE qualifiers are ``None`` when absent; forms other than
    form 2 are the opaque `hat.drivers.ber.Element` (see
    `hat.drivers.acse.common`). The initiator's remote values are those of
    the AARE (the responding AP title and AE qualifier), or the requested
    called ones if the AARE has none; the responder's are those of the
    AARQ (local: called, remote: calling).

    """
    local_addr: tpkt.Address
    local_tsel: cotp.Tsel | None
    local_ssel: cosp.Ssel | None
    local_psel: copp.Psel | None
    local_ap_title: common.ApTitle | None
    local_ae_qualifier: common.AeQualifier | None
    remote_addr: tpkt.Address
    remote_tsel: cotp.Tsel | None
    remote_ssel: cosp.Ssel | None
    remote_psel: copp.Psel | None
    remote_ap_title: common.ApTitle | None
    remote_ae_qualifier: common.AeQualifier | None


ValidateResult: typing.TypeAlias = common.IdentifiedEntity | None
"""Result of a validate callback: the AARE's user information (``None``:
reject the association)"""

ValidateCb: typing.TypeAlias = aio.AsyncCallable[
    [common.SyntaxNames, common.IdentifiedEntity | None], ValidateResult]
"""Validate callback: called with the accepted presentation contexts and
the AARQ's user information (its first EXTERNAL; ``None`` if absent),
returns the AARE's user information; returning ``None`` or raising rejects
the association"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""


class RefusedError(ConnectionRefusedError):
    """The responder rejected the association: its AARE's ``result`` and
    ``result_source_diagnostic`` and user information ``user_data``
    (``None`` if none)"""

    def __init__(self,
                 msg: str,
                 result: common.AssociateResult,
                 result_source_diagnostic: common.ResultSourceDiagnostic,
                 user_data: common.IdentifiedEntity | None):
        super().__init__(msg)
        self.result = result
        self.result_source_diagnostic = result_source_diagnostic
        self.user_data = user_data


async def connect(syntax_name_list: list[common.ObjectIdentifier],
                  app_context_name: common.ObjectIdentifier,
                  addr: tcp.Address,
                  local_tsel: cotp.Tsel | None = None,
                  remote_tsel: cotp.Tsel | None = None,
                  local_ssel: cosp.Ssel | None = None,
                  remote_ssel: cosp.Ssel | None = None,
                  local_psel: copp.Psel | None = None,
                  remote_psel: copp.Psel | None = None,
                  local_ap_title: common.ApTitle | None = None,
                  remote_ap_title: common.ApTitle | None = None,
                  local_ae_qualifier: common.AeQualifier | None = None,
                  remote_ae_qualifier: common.AeQualifier | None = None,
                  user_data: common.IdentifiedEntity | None = None,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Establish an association (A-ASSOCIATE, X.227 7.1)

    Args:
        syntax_name_list: the user's abstract syntaxes (presentation
            contexts 3, 5, ...; ACSE's own is 1)
        app_context_name: application-context-name of the AARQ (MMS:
            ``(1, 0, 9506, 2, 3)``)
        addr: remote address (port 102 by default)
        local_tsel, remote_tsel: TSELs (`hat.drivers.cotp.connect`)
        local_ssel, remote_ssel: SSELs (`hat.drivers.cosp.connect`)
        local_psel, remote_psel: presentation selectors
            (`hat.drivers.copp.connect`)
        local_ap_title, remote_ap_title: calling and called AP titles
        local_ae_qualifier, remote_ae_qualifier: calling and called AE
            qualifiers
        user_data: AARQ user information (one EXTERNAL, single-ASN1-type;
            its name must be in `syntax_name_list`)
        kwargs: passed to `hat.drivers.copp.connect`

    Raises:
        TypeError, ValueError, KeyError: malformed argument
        RefusedError: the responder rejected the association (AARE)
        ConnectionError: any other failure

    """
    syntax_names = copp.SyntaxNames([_ACSE, *syntax_name_list])
    aarq = common.AarqApdu(
        protocol_version=None,
        application_context_name=tuple(app_context_name),
        called_ap_title=remote_ap_title,
        called_ae_qualifier=remote_ae_qualifier,
        called_ap_invocation_identifier=None,
        called_ae_invocation_identifier=None,
        calling_ap_title=local_ap_title,
        calling_ae_qualifier=local_ae_qualifier,
        calling_ap_invocation_identifier=None,
        calling_ae_invocation_identifier=None,
        sender_acse_requirements=None,
        mechanism_name=None,
        calling_authentication_value=None,
        application_context_name_list=None,
        implementation_information=None,
        user_information=(None if user_data is None
                          else [_external(syntax_names, user_data)]))
    aarq_element = codec.encode_entity(aarq)

    try:
        conn = await copp.connect(syntax_names, addr, local_tsel,
                                  remote_tsel, local_ssel, remote_ssel,
                                  local_psel, remote_psel,
                                  (_ACSE, aarq_element),
                                  release_cb=_on_release, **kwargs)
    except copp.RefusedError as e:
        aare = _decode_aare(e.user_data)
        if aare is None:
            raise
        raise RefusedError(
            f'acse: association rejected ({aare.result.name}, '
            f'{aare.result_source_diagnostic.diagnostic.name})',
            aare.result, aare.result_source_diagnostic,
            _user_entity(syntax_names, aare.user_information)) from e

    try:
        aare = _decode_aare(conn.conn_res_user_data)
        if aare is None:
            raise _Error('P-CONNECT response without AARE', b'')
        if aare.result != common.AssociateResult.ACCEPTED:
            raise _Error(f'AARE with result {aare.result.name} in an '
                         f'accepted P-CONNECT', b'')
        res_user_data = _user_entity(conn.syntax_names,
                                     aare.user_information)

    except (_Error, codec.ApduDecodeError, KeyError) as e:
        msg = e.msg if isinstance(e, _Error) else str(e)
        octets = e.octets if isinstance(e, _Error) else b''
        _log_protocol_error(conn, msg, octets)
        _abort(conn, common.AbortSource.ACSE_SERVICE_PROVIDER,
               common.AbortDiagnostic.PROTOCOL_ERROR)
        raise ConnectionError(f'acse: {msg}') from None

    except BaseException:
        conn.abort()
        raise

    info = ConnectionInfo(
        local_addr=conn.info.local_addr,
        local_tsel=conn.info.local_tsel,
        local_ssel=conn.info.local_ssel,
        local_psel=conn.info.local_psel,
        local_ap_title=local_ap_title,
        local_ae_qualifier=local_ae_qualifier,
        remote_addr=conn.info.remote_addr,
        remote_tsel=conn.info.remote_tsel,
        remote_ssel=conn.info.remote_ssel,
        remote_psel=conn.info.remote_psel,
        remote_ap_title=(remote_ap_title if aare.responding_ap_title is None
                         else aare.responding_ap_title),
        remote_ae_qualifier=(remote_ae_qualifier
                             if aare.responding_ae_qualifier is None
                             else aare.responding_ae_qualifier))
    return Connection(conn, info, user_data, res_user_data)


async def listen(validate_cb: ValidateCb,
                 connection_cb: ConnectionCb,
                 addr: tcp.Address = tpkt.DEFAULT_LISTEN_ADDRESS,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Accept associations (X.227 7.1)

    The P-CONNECT request must carry an AARQ (in the ACSE context);
    `validate_cb` is called with the presentation contexts and the AARQ's
    user information. Its result is the user information of an accepting
    AARE (application context: the AARQ's; responding AP title and AE
    qualifier: the AARQ's called ones); ``None`` or an exception rejects the
    association with an AARE of result rejected-permanent (diagnostic
    no-reason-given) in a CPR. Then `connection_cb` is called. A peer's
    A-RELEASE request (RLRQ) is answered with an RLRE (reason normal).

    Args:
        validate_cb: see `ValidateCb`
        connection_cb: called with each established `Connection`
        addr: local address (default ``Address('0.0.0.0', 102)``)
        kwargs: passed to `hat.drivers.copp.listen`

    """
    async def on_validate(syntax_names: copp.SyntaxNames,
                          entity: common.IdentifiedEntity | None
                          ) -> common.IdentifiedEntity:
        try:
            aarq = _decode_aarq(entity)
            user_data = _user_entity(syntax_names, aarq.user_information)
        except (codec.ApduDecodeError, KeyError, _Error) as e:
            msg = e.msg if isinstance(e, _Error) else str(e)
            octets = b'' if entity is None else ber.encode(entity[1])
            mlog.error('acse: association refused: %s (%d octets: %s)',
                       msg, len(octets), _hex(octets))
            raise copp.RefuseError() from e
        try:
            result: ValidateResult = await aio.call(validate_cb,
                                                    syntax_names, user_data)
            if result is None:
                raise Exception('validate_cb returned None')
            user_information = [_external(syntax_names, result)]

        except Exception as e:
            mlog.warning('acse: association rejected: %s', e, exc_info=e)
            raise copp.RefuseError((_ACSE, codec.encode_entity(_aare(
                aarq, common.AssociateResult.REJECTED_PERMANENT,
                common.UserDiagnostic.NO_REASON_GIVEN, None)))) from e

        return _ACSE, codec.encode_entity(_aare(
            aarq, common.AssociateResult.ACCEPTED, common.UserDiagnostic.NULL,
            user_information))

    async def on_connection(conn: copp.Connection) -> None:
        aarq = _decode_aarq(conn.conn_req_user_data)
        aare = _decode_aare(conn.conn_res_user_data)
        assert aare is not None
        info = ConnectionInfo(
            local_addr=conn.info.local_addr,
            local_tsel=conn.info.local_tsel,
            local_ssel=conn.info.local_ssel,
            local_psel=conn.info.local_psel,
            local_ap_title=aarq.called_ap_title,
            local_ae_qualifier=aarq.called_ae_qualifier,
            remote_addr=conn.info.remote_addr,
            remote_tsel=conn.info.remote_tsel,
            remote_ssel=conn.info.remote_ssel,
            remote_psel=conn.info.remote_psel,
            remote_ap_title=aarq.calling_ap_title,
            remote_ae_qualifier=aarq.calling_ae_qualifier)
        acse_conn = Connection(
            conn, info,
            _user_entity(conn.syntax_names, aarq.user_information),
            _user_entity(conn.syntax_names, aare.user_information))
        try:
            await aio.call(connection_cb, acse_conn)
        except BaseException:
            acse_conn.abort()
            raise

    srv = await copp.listen(on_validate, on_connection, addr,
                            release_cb=_on_release, **kwargs)
    return Server(srv)


class Server(aio.Resource):
    """ACSE server created by `listen`; closing it leaves established
    associations open"""

    def __init__(self, srv: copp.Server):
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
    """Association created by `connect` and `listen`; its `async_group` is
    that of the presentation connection below"""

    def __init__(self,
                 conn: copp.Connection,
                 info: ConnectionInfo,
                 conn_req_user_data: common.IdentifiedEntity | None,
                 conn_res_user_data: common.IdentifiedEntity | None):
        # established by `connect` or `listen`: not for users
        self._conn = conn
        self._info = info
        self._conn_req_user_data = conn_req_user_data
        self._conn_res_user_data = conn_res_user_data
        self._error: str | None = None

    @property
    def async_group(self) -> aio.Group:
        """Async group (that of the presentation connection)"""
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
        """Wait until the association is closing or closed"""
        await self._conn.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until the association is closed"""
        await self._conn.wait_closed()

    @property
    def info(self) -> ConnectionInfo:
        """Connection info"""
        return self._info

    @property
    def conn_req_user_data(self) -> common.IdentifiedEntity | None:
        """AARQ user information (``None`` if none)"""
        return self._conn_req_user_data

    @property
    def conn_res_user_data(self) -> common.IdentifiedEntity | None:
        """AARE user information (``None`` if none)"""
        return self._conn_res_user_data

    def close(self) -> None:
        """Release the association in the background (RLRQ, then the RLRE
        within the session's release timeout) and close it; never raises.
        0.6.23 aborted (ABRT) instead."""
        self._conn.close(_RLRQ)

    async def async_close(self) -> None:
        """As `close`, and wait until the association is closed"""
        self.close()
        await self.wait_closed()

    async def release(self) -> None:
        """Release the association (A-RELEASE: RLRQ, wait for the RLRE)

        A P-RELEASE response without user data (a session DN without user
        data, as hat-drivers 0.6.23 answers) is accepted, for
        interoperability. User data received before the RLRE stays
        readable up to the bounds of the layers below; beyond them it is
        discarded rather than holding the release back (see the module
        documentation).

        Raises:
            ConnectionError: not open, no RLRE in time, or an answer other
                than an RLRE (the connection is closed in every case)

        """
        entity = await self._conn.release(_RLRQ)
        if entity is None:
            return
        name, element = entity
        try:
            apdu = codec.decode_entity(element) if name == _ACSE else None
        except codec.ApduDecodeError as e:
            raise ConnectionError(f'acse: release response: {e}') from e
        if not isinstance(apdu, common.RlreApdu):
            raise ConnectionError('acse: release answered without RLRE')

    def abort(self) -> None:
        """Abort the association (A-ABORT: ABRT with abort-source
        acse-service-user); never raises"""
        _abort(self._conn, common.AbortSource.ACSE_SERVICE_USER, None)

    def write(self, data: common.IdentifiedEntity) -> None:
        """Send one presentation data value (P-DATA)

        Raises:
            KeyError: the name is not an accepted presentation context
            ConnectionError: connection not open

        """
        self._conn.write(data)

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the layers below have taken the written data (see
        `hat.drivers.copp.Connection.drain`, `coalesce` as there)"""
        await self._conn.drain(coalesce=coalesce)

    async def read(self) -> common.IdentifiedEntity:
        """Next presentation data value of a user's context

        Raises:
            ConnectionError: the association is closed, or a protocol
                error (an ACSE APDU in P-DATA) ended it
                (`hat.drivers.cosp.ConnectionClosedError`, also a
                `hat.aio.QueueClosedError` as 0.6.23 raised)

        """
        if self._error is not None:
            raise cosp.ConnectionClosedError(self._error)
        entity = await self._conn.read()
        if entity[0] == _ACSE:
            octets = ber.encode(entity[1])
            msg = 'ACSE APDU in P-DATA'
            _log_protocol_error(self._conn, msg, octets)
            self._error = f'acse: protocol error: {msg}'
            _abort(self._conn, common.AbortSource.ACSE_SERVICE_PROVIDER,
                   common.AbortDiagnostic.PROTOCOL_ERROR)
            raise cosp.ConnectionClosedError(self._error)
        return entity


# --- helpers ----------------------------------------------------------------

_RLRQ: common.IdentifiedEntity = (_ACSE, codec.encode_entity(
    common.RlrqApdu(common.ReleaseRequestReason.NORMAL, None)))

_RLRE: common.IdentifiedEntity = (_ACSE, codec.encode_entity(
    common.RlreApdu(common.ReleaseResponseReason.NORMAL, None)))


class _Error(Exception):

    def __init__(self, msg: str, octets: ber.Bytes):
        super().__init__(msg)
        self.msg = msg
        self.octets = bytes(octets)


def _hex(octets: ber.Bytes) -> str:
    text = bytes(octets[:_LOGGED_OCTETS]).hex(' ')
    return text + (' ...' if len(octets) > _LOGGED_OCTETS else '')


def _log_protocol_error(conn: copp.Connection,
                        msg: str,
                        octets: ber.Bytes) -> None:
    mlog.error('acse: %s -> %s: protocol error: %s (%d octets: %s)',
               conn.info.local_addr, conn.info.remote_addr, msg,
               len(octets), _hex(octets))


def _abort(conn: copp.Connection,
           source: common.AbortSource,
           diagnostic: common.AbortDiagnostic | None) -> None:
    conn.abort((_ACSE, codec.encode_entity(common.AbrtApdu(
        source, diagnostic, None))))


async def _on_release(entity: common.IdentifiedEntity | None
                      ) -> common.IdentifiedEntity | None:
    """Answer the peer's RLRQ with RLRE (initiator and responder)"""
    if entity is None or entity[0] != _ACSE:
        mlog.warning('acse: P-RELEASE request without RLRQ')
        return None
    try:
        apdu = codec.decode_entity(entity[1])
    except codec.ApduDecodeError as e:
        mlog.error('acse: P-RELEASE request: %s', e)
        return None
    if not isinstance(apdu, common.RlrqApdu):
        mlog.error('acse: P-RELEASE request with %s instead of RLRQ',
                   type(apdu).__name__)
        return None
    return _RLRE


def _external(syntax_names: copp.SyntaxNames,
              entity: common.IdentifiedEntity) -> ber.External:
    name, element = entity
    if not isinstance(element, ber.Element):
        raise TypeError(f'user data must be a ber.Element, not '
                        f'{type(element).__name__}')
    return ber.External(data=element, direct_ref=copp.BER,
                        indirect_ref=syntax_names.get_id(name))


def _user_entity(syntax_names: copp.SyntaxNames,
                 user_information: list[ber.External] | None
                 ) -> common.IdentifiedEntity | None:
    """First EXTERNAL of user information, identified by its
    indirect-reference"""
    if not user_information:
        return None
    external = user_information[0]
    if external.indirect_ref is None:
        raise KeyError('EXTERNAL without indirect-reference')
    name = syntax_names.get_name(external.indirect_ref)
    data = external.data
    if isinstance(data, ber.Element):
        return name, data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return name, ber.decode(data)
    raise KeyError('EXTERNAL of arbitrary encoding')


def _decode_aarq(entity: common.IdentifiedEntity | None) -> common.AarqApdu:
    if entity is None or entity[0] != _ACSE:
        raise _Error('P-CONNECT request without AARQ', b'')
    apdu = codec.decode_entity(entity[1])
    if not isinstance(apdu, common.AarqApdu):
        raise _Error(f'P-CONNECT request with {type(apdu).__name__}', b'')
    return apdu


def _decode_aare(entity: common.IdentifiedEntity | None
                 ) -> common.AareApdu | None:
    if entity is None or entity[0] != _ACSE:
        return None
    apdu = codec.decode_entity(entity[1])
    return apdu if isinstance(apdu, common.AareApdu) else None


def _aare(aarq: common.AarqApdu,
          result: common.AssociateResult,
          diagnostic: common.UserDiagnostic,
          user_information: list[ber.External] | None) -> common.AareApdu:
    return common.AareApdu(
        protocol_version=None,
        application_context_name=aarq.application_context_name,
        result=result,
        result_source_diagnostic=common.ResultSourceDiagnostic(
            common.ResultSource.ACSE_SERVICE_USER, diagnostic),
        responding_ap_title=aarq.called_ap_title,
        responding_ae_qualifier=aarq.called_ae_qualifier,
        responding_ap_invocation_identifier=(
            aarq.called_ap_invocation_identifier),
        responding_ae_invocation_identifier=(
            aarq.called_ae_invocation_identifier),
        responder_acse_requirements=None,
        mechanism_name=None,
        responding_authentication_value=None,
        application_context_name_list=None,
        implementation_information=None,
        user_information=user_information)
