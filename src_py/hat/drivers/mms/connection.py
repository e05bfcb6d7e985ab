"""MMS association (ISO 9506-2) on `hat.drivers.acse`: client and server

hat-drivers 0.6.23's association API (`connect`, `listen`, `Server`,
`Connection`, `RequestCb`, `ConnectionCb`) with keyword-only additions and
new members (`ResponseTimeoutError`, `RejectedError`,
`DEFAULT_RESPONSE_TIMEOUT`, `DEFAULT_CONCLUDE_TIMEOUT`,
`DEFAULT_UNCONFIRMED_QUEUE_SIZE`). MMS PDUs are those of the pure codec
`hat.drivers.mms.codec`; this module is the state machine and the asyncio
connection on the public API of `hat.drivers.acse`.

Association establishment
-------------------------

As 0.6.23 on the wire (mms-api.md 1.6): presentation contexts ACSE
``2.2.1.0.1`` (id 1) and MMS ``1.0.9506.2.1`` (id 3), BER; the AARQ names
the application context ``1.0.9506.2.3`` (the AARE echoes it:
`hat.drivers.acse`) and carries the initiate-RequestPDU as user
information. The initiator proposes ``max_serv_outstanding_calling``,
``max_serv_outstanding_called`` and ``local_detail`` (its maximum PDU size
in octets, ``None``: none proposed), version 1, the parameter CBBs str1,
str2, vnam, vadr, vlis and real (`SUPPORTED_PARAMETER_CBB`; valt and tpy,
which 0.6.23 advertised, are
not implemented by the codec) and the services of
`SUPPORTED_SERVICES` (the nine confirmed services, informationReport,
unsolicitedStatus, eventNotification and conclude; 0.6.23 advertised
output, which nobody implements). The responder answers each
maxServOutstanding with min(proposed, its own) (never more than proposed;
0.6.23 answered 5/5 whatever was proposed), localDetailCalled with
min(proposed, own) (its own if none was proposed), the nesting level
min(proposed, `hat.drivers.mms.codec.MAX_DEPTH`) when one was proposed,
version 1 and the intersection of the CBBs. An initiate-RequestPDU that
cannot be decoded, or proposes a maxServOutstanding below 1, a
localDetailCalling below 1 or a negative nesting level (which would be
answered back), is refused with a rejecting AARE (and one ERROR record
with the octets as hex).

The initiator accepts an initiate-ResponsePDU whose negotiated values
exceed its proposal (0.6.23 responders answer 5/5 to every proposal) by
keeping its own proposal (a WARNING record), and fails the connection with
`ConnectionError` naming the cause for an initiate-ErrorPDU (in an
accepted or a rejecting AARE), an initiate-ResponsePDU that cannot be
decoded, a negotiated maxServOutstanding below 1 or user information that
is not MMS. The negotiated values are the `Connection` properties
`max_serv_outstanding_calling`, `max_serv_outstanding_called` and
`local_detail` (``local_detail`` is negotiated and exposed, not enforced).

Confirmed requests (client role; both sides may send)
-----------------------------------------------------

`Connection.send_confirmed` encodes the request at once (`TypeError` /
`ValueError` from the codec, `ValueError` for data nested too deeply to
encode and for a ``timeout`` that is not finite and positive: nothing
sent, the connection stays open) and
numbers it with the next invoke ID (1, 2, ...; wrapping at 2**32 - 1 and
skipping IDs still in use; a number is used up only by a request that
encodes). At most the negotiated outstanding limit is in flight in each
direction (the initiator sends at most maxServOutstandingCalling, the
responder at most maxServOutstandingCalled; 0.6.23 sent any number); the
others wait in first-in first-out order. The answer is matched by invoke
ID: a confirmed-ResponsePDU returns its `Response`, a confirmed-ErrorPDU
returns `ErrorResponse` (as 0.6.23, returned, never raised), a RejectPDU
for it (confirmed-requestPDU, or pdu-error with its invoke ID) raises
`RejectedError`. A response of another service than the
request's (0.6.23 returned it), or one that cannot be decoded, is rejected
to the peer (RejectPDU confirmed-responsePDU invalid-result / the codec's
code) and raises `RejectedError` with ``by_peer`` ``False``.

A response timeout (``response_timeout`` of `connect` / `listen`, default
`DEFAULT_RESPONSE_TIMEOUT` seconds, ``None`` for none; ``timeout`` of each
call) bounds the whole call, time waiting for a free slot included (a
request still waiting when it expires is never sent): then
`ResponseTimeoutError` (an ``asyncio.TimeoutError``) is raised, the slot
is freed and the association stays up; a late answer is logged (WARNING)
and dropped. The invoke IDs of the last 1024 timed-out requests are
remembered to name late answers; an answer with any other unknown invoke
ID is one WARNING record and dropped (0.6.23 had no timeout at all).

Serving requests (server role; both sides may serve)
----------------------------------------------------

``request_cb(conn, request)`` is called as each confirmed request arrives;
when it returns an awaitable (a coroutine function), that is awaited in a
task of its own, so one slow request never holds up the others, responses,
unconfirmed PDUs or conclude (0.6.23 served one at a time inside its
receive loop), and a handler may call `Connection.send_confirmed` on its
own connection (0.6.23 deadlocked); a plain function's result is answered
at once. At most the negotiated number of the peer's requests is served at
a time (the responder: maxServOutstandingCalling, the initiator:
maxServOutstandingCalled). Reading goes on while that many are served
(responses, unconfirmed PDUs and conclude are still received); a request
beyond that number (a peer exceeding the negotiated maximum, as 0.6.23
peers do) is not rejected: it is held and reading pauses until a served
request is answered, so the peer is held back by TCP flow control.

``request_cb`` returning an `ErrorResponse` sends a confirmed-ErrorPDU.
``request_cb`` raising, returning something that is not a `Response`, a
response of another service than the request's, or a response that cannot
be encoded, is logged (one ERROR record with the traceback) and answered
with a confirmed-ErrorPDU of class service, value 0 (other); the
association stays up (0.6.23 closed it without an answer). A confirmed
request that cannot be decoded or is not supported (getCapabilityList,
file services, ...) is answered with the codec's RejectPDU
(`hat.drivers.mms.codec.DecodeError.reject`, with the invoke ID) and one
ERROR record with the octets as hex; the association stays up (0.6.23
closed it). The same for every other PDU that cannot be decoded (a
RejectPDU itself is never rejected).

Cancel: a cancel-RequestPDU is answered with a cancel-ErrorPDU (class
cancel, value 2 cancel-not-possible; 1 invalid-invokeID if no request
with that invoke ID is being served); the request itself is answered
normally. Cancel is not advertised in the services supported; this
connection never sends cancel-RequestPDUs.

Unconfirmed services
--------------------

`Connection.send_unconfirmed` writes at once (`ConnectionError` once the
association is closing or concluded; 0.6.23 dropped the PDU silently).
Received unconfirmed PDUs go into a queue of at most
``unconfirmed_queue_size`` PDUs and at most ``unconfirmed_queue_octets``
octets of their encoding (keywords of `connect` / `listen`, defaults
`DEFAULT_UNCONFIRMED_QUEUE_SIZE` and `DEFAULT_UNCONFIRMED_QUEUE_OCTETS`,
1024 PDUs and 1 MiB; a PDU alone in the queue may be larger; 0.6.23:
unbounded) read by `Connection.receive_unconfirmed`. A decoded PDU takes
up to about 21 times its octets (an InformationReport of BOOLEANs), so
the queue holds about 21 MiB at most with the defaults (plus one larger
PDU alone). While it is full,
reading pauses: the
association receives nothing (responses included, so pending
`send_confirmed` calls may time out) until the user reads, and the peer is
held back by TCP flow control. PDUs still queued are returned after the
association closed, then `ConnectionError` is raised. If the peer releases
or aborts while the queue is full, the unconfirmed PDUs it sent before
(those the layers below still hold) are kept beyond the queue size, at
most ``unconfirmed_queue_size`` more (beyond that, one WARNING record with
their number); the others received while it closes are dropped.

Backpressure and memory
-----------------------

Every reply produced from received input (responses and error PDUs of
served requests, rejects, cancel errors, the conclude response) is written
and then drained (`hat.drivers.acse.Connection.drain` with
``coalesce=True``) before the receive loop reads more: a peer that sends
requests without reading the answers stops being read once tcp's write
buffer is above its high-water mark, and TCP flow control stops it. The
first reply to a batch of requests received together goes out at once,
the rest together at the next event loop iteration
(`hat.drivers.tcp.Connection.drain`: at most
`hat.drivers.tcp.COALESCE_LIMIT` octets, 64 KiB, wait coalesced; beyond
the high-water mark less than that plus one reply waits unsent).
Memory per association is therefore bounded by
the negotiated number of requests being served (each holding its request,
its response and one PDU written but not yet taken by tcp), plus the
unconfirmed queue (``unconfirmed_queue_size`` PDUs,
``unconfirmed_queue_octets`` octets), plus the lower layers' bounds
(copp's receive queue, tcp's buffers). Our own requests are bounded by the
callers (one PDU per waiting `send_confirmed` call).

Release and abort
-----------------

`Connection.close` (``async_close``, the async group closing) never raises:
it fails pending `send_confirmed` calls with `ConnectionError`, cancels the
requests being served (their requests stay unanswered), sends a
conclude-RequestPDU, waits at most ``conclude_timeout`` seconds (keyword of
`connect` / `listen`, default `DEFAULT_CONCLUDE_TIMEOUT`) for the
conclude-ResponsePDU, conclude-ErrorPDU or a RejectPDU without invoke ID
(conclude-requestPDU or pdu-error) (a conclude-RequestPDU of a peer
closing at the same time is answered with a conclude-ResponsePDU; anything
else received meanwhile is dropped), then releases the ACSE association
(RLRQ / RLRE, bounded by the session's ``release_timeout``) and closes the
transport (bounded by tcp's ``close_timeout``): at most
``conclude_timeout`` + ``release_timeout`` + ``close_timeout`` seconds in
all (5 + 10 + 10 by default) against a peer that answers nothing. 0.6.23
sent the conclude request and then aborted at once. A peer's
conclude-RequestPDU is answered with a conclude-ResponsePDU, or with a
conclude-ErrorPDU (class conclude, value 1 further-communication-required)
while our own requests are outstanding or the peer's are being served (ISO
9506-1: no conclude with transactions outstanding; a repeated
conclude-RequestPDU is answered again); after a
conclude-ResponsePDU the association accepts no new requests
(`ConnectionError`) and the peer's RLRQ is answered with an RLRE by
`hat.drivers.acse`; if the peer does not release within
``conclude_timeout`` seconds, we release. `Connection.abort` sends an ACSE
ABRT (for errors only). A peer's release, abort or a lost transport closes
the association: pending calls raise `ConnectionError`.

Differences from 0.6.23 (summary)
---------------------------------

* close concludes (waiting for the answer) and releases (RLRQ / RLRE)
  instead of aborting; a peer's conclude and release are answered
  properly; ``abort`` is new;
* the AARE names the application context ``1.0.9506.2.3`` (acse);
* Initiate: negotiated values are min(proposed, own) and are enforced
  (0.6.23 answered 5/5 and ignored them), ``local_detail`` is proposed,
  the CBB and service bits say what is implemented;
* requests are served concurrently (a task each) up to the negotiated
  number, a handler may call ``send_confirmed``; our requests are limited
  to the negotiated number (the rest queued in order);
* response timeouts (`ResponseTimeoutError`), `RejectedError` for a
  rejected request, a response of another service is rejected;
* undecodable or unsupported requests and failing handlers are answered
  (RejectPDU, confirmed-ErrorPDU) and the association stays up; a received
  RejectPDU, cancel or conclude-ErrorPDU fails at most one request;
* the unconfirmed queue is bounded, replies are flow controlled;
* ``send_unconfirmed`` and ``send_confirmed`` raise `ConnectionError` once
  the association is closing (0.6.23 dropped unconfirmed PDUs silently);
  encoding errors are the codec's `TypeError` / `ValueError` naming the
  problem (0.6.23: bare ``ValueError()``, ``AttributeError``, ...).

Errors: `ConnectionError` for everything once the association is gone or
closing; `TypeError` / `ValueError` from the codec for bad requests;
`ResponseTimeoutError` and `RejectedError` for one request, the
association staying up.

"""

import asyncio
import collections
import heapq
import inspect
import itertools
import logging
import sys
import types
import typing

from hat import aio

from hat.drivers import _seconds
from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import tpkt
from hat.drivers.cotp import common as cotp_common
from hat.drivers.mms import codec
from hat.drivers.mms import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

DEFAULT_RESPONSE_TIMEOUT: float = 30
"""Default response timeout of a confirmed request (seconds)"""

DEFAULT_CONCLUDE_TIMEOUT: float = 5
"""Default bound of the wait for the conclude answer on close, and for the
peer's release after we answered its conclude (seconds)"""

DEFAULT_UNCONFIRMED_QUEUE_SIZE: int = 1024
"""Default number of received unconfirmed PDUs kept for
`Connection.receive_unconfirmed`"""

DEFAULT_UNCONFIRMED_QUEUE_OCTETS: int = 1 << 20
"""Default bound of the received unconfirmed PDUs kept for
`Connection.receive_unconfirmed`, in octets of their encoding (1 MiB)"""

MMS_ABSTRACT_SYNTAX: acse.ObjectIdentifier = (1, 0, 9506, 2, 1)
"""Abstract syntax name of MMS PDUs (presentation context 3)"""

MMS_APPLICATION_CONTEXT: acse.ObjectIdentifier = (1, 0, 9506, 2, 3)
"""Application context name of the AARQ"""

SUPPORTED_PARAMETER_CBB: frozenset[int] = frozenset({
    codec.ParameterCbb.STR1, codec.ParameterCbb.STR2,
    codec.ParameterCbb.VNAM, codec.ParameterCbb.VADR,
    codec.ParameterCbb.VLIS, codec.ParameterCbb.REAL})
"""Parameter CBBs proposed and accepted
(`hat.drivers.mms.codec.ParameterCbb`)"""

SUPPORTED_SERVICES: frozenset[int] = frozenset({
    codec.ServiceSupport.STATUS, codec.ServiceSupport.GET_NAME_LIST,
    codec.ServiceSupport.IDENTIFY, codec.ServiceSupport.READ,
    codec.ServiceSupport.WRITE,
    codec.ServiceSupport.GET_VARIABLE_ACCESS_ATTRIBUTES,
    codec.ServiceSupport.DEFINE_NAMED_VARIABLE_LIST,
    codec.ServiceSupport.GET_NAMED_VARIABLE_LIST_ATTRIBUTES,
    codec.ServiceSupport.DELETE_NAMED_VARIABLE_LIST,
    codec.ServiceSupport.UNSOLICITED_STATUS,
    codec.ServiceSupport.INFORMATION_REPORT,
    codec.ServiceSupport.EVENT_NOTIFICATION,
    codec.ServiceSupport.CONCLUDE})
"""Services advertised (`hat.drivers.mms.codec.ServiceSupport`)"""

_LOGGED_OCTETS = 64
_LATE_IDS = 1024
_UNSIGNED32_MAX = 0xFFFF_FFFF

RequestCb: typing.TypeAlias = aio.AsyncCallable[
    ['Connection', common.Request], common.Response]
"""Request callback: ``request_cb(conn, request)`` returns the `Response`
(or `ErrorResponse`); plain or coroutine function"""

ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""


class ResponseTimeoutError(asyncio.TimeoutError):
    """No answer to a confirmed request within its timeout (the
    association stays up)"""


class RejectedError(Exception):
    """A confirmed request ended with a RejectPDU

    ``by_peer``: the peer rejected our request (``True``), or we rejected
    the peer's response to it (``False``: a response of another service,
    or one that cannot be decoded). ``reason`` and ``code`` are those of
    the RejectPDU (`hat.drivers.mms.codec.RejectPdu`).

    """

    def __init__(self,
                 msg: str,
                 reason: codec.RejectReason,
                 code: int,
                 by_peer: bool = True):
        super().__init__(msg)
        self.reason = reason
        self.code = code
        self.by_peer = by_peer


class _Settings(typing.NamedTuple):
    max_serv_outstanding_calling: int
    max_serv_outstanding_called: int
    local_detail: int | None
    response_timeout: float | None
    conclude_timeout: float
    unconfirmed_queue_size: int
    unconfirmed_queue_octets: int


async def connect(request_cb: RequestCb,
                  addr: tpkt.Address,
                  local_tsel: int | None = None,
                  remote_tsel: int | None = None,
                  local_ssel: int | None = None,
                  remote_ssel: int | None = None,
                  local_psel: int | None = None,
                  remote_psel: int | None = None,
                  local_ap_title: acse.ObjectIdentifier | None = None,
                  remote_ap_title: acse.ObjectIdentifier | None = None,
                  local_ae_qualifier: int | None = None,
                  remote_ae_qualifier: int | None = None,
                  user_data: acse.IdentifiedEntity | None = None,
                  *,
                  max_serv_outstanding_calling: int = 5,
                  max_serv_outstanding_called: int = 5,
                  local_detail: int | None = 65000,
                  response_timeout: float | None = DEFAULT_RESPONSE_TIMEOUT,
                  conclude_timeout: float = DEFAULT_CONCLUDE_TIMEOUT,
                  unconfirmed_queue_size: int = (
                      DEFAULT_UNCONFIRMED_QUEUE_SIZE),
                  unconfirmed_queue_octets: int = (
                      DEFAULT_UNCONFIRMED_QUEUE_OCTETS),
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to an MMS server (association with Initiate, ISO 9506-2)

    Args:
        request_cb: serves the confirmed requests the server sends
        addr: remote address (``Address(host)``: port 102)
        local_tsel, remote_tsel: TSELs (`hat.drivers.cotp`)
        local_ssel, remote_ssel: SSELs (`hat.drivers.cosp`)
        local_psel, remote_psel: presentation selectors (`hat.drivers.copp`)
        local_ap_title, remote_ap_title: calling / called AP titles
        local_ae_qualifier, remote_ae_qualifier: calling / called AE
            qualifiers
        user_data: accepted and ignored (as 0.6.23: the AARQ carries the
            initiate-RequestPDU)
        max_serv_outstanding_calling: proposed proposedMaxServOutstanding
            Calling (our requests in flight; 1 to 32767)
        max_serv_outstanding_called: proposed ...Called (the server's
            requests served at a time; 1 to 32767)
        local_detail: proposed localDetailCalling (maximum PDU size in
            octets, ``None``: not proposed)
        response_timeout: default timeout of `Connection.send_confirmed`
            (seconds, ``None``: none)
        conclude_timeout: bound of the conclude exchange on close (seconds)
        unconfirmed_queue_size: received unconfirmed PDUs kept for
            `Connection.receive_unconfirmed` (reading pauses when full)
        unconfirmed_queue_octets: bound of those PDUs in octets of their
            encoding (reading pauses when the next PDU would exceed it;
            a PDU alone in the queue may be larger)
        kwargs: passed to `hat.drivers.acse.connect` and on down to
            `hat.drivers.tcp.connect` (``connect_timeout``,
            ``release_timeout``, ``close_timeout``, ``ssl`` and
            ``server_hostname`` for TLS, ...)

    Raises:
        TypeError, ValueError: a bad argument
        ConnectionError: connection or association failed (an
            initiate-ErrorPDU or an invalid initiate-ResponsePDU named in
            the message)

    """
    _check_callback('request_cb', request_cb)
    settings = _settings(max_serv_outstanding_calling,
                         max_serv_outstanding_called, local_detail,
                         response_timeout, conclude_timeout,
                         unconfirmed_queue_size, unconfirmed_queue_octets)
    req = codec.InitiateRequestPdu(
        local_detail_calling=local_detail,
        max_serv_outstanding_calling=max_serv_outstanding_calling,
        max_serv_outstanding_called=max_serv_outstanding_called,
        data_structure_nesting_level=None,
        version_number=1,
        parameter_cbb=SUPPORTED_PARAMETER_CBB,
        services_supported=SUPPORTED_SERVICES)
    req_entity = (MMS_ABSTRACT_SYNTAX, ber.decode(codec.encode_pdu(req)))

    try:
        conn = await acse.connect([MMS_ABSTRACT_SYNTAX],
                                  MMS_APPLICATION_CONTEXT, addr,
                                  local_tsel, remote_tsel, local_ssel,
                                  remote_ssel, local_psel, remote_psel,
                                  local_ap_title, remote_ap_title,
                                  local_ae_qualifier, remote_ae_qualifier,
                                  req_entity, **kwargs)

    except acse.RefusedError as e:
        pdu = _decode_entity(e.user_data)
        if isinstance(pdu, codec.InitiateErrorPdu):
            raise ConnectionRefusedError(
                f'mms: initiate refused: initiate-ErrorPDU '
                f'({_error_text(pdu.error)})') from e
        raise

    try:
        pdu = _decode_entity(conn.conn_res_user_data)
        if isinstance(pdu, codec.InitiateErrorPdu):
            raise _Error(f'initiate-ErrorPDU ({_error_text(pdu.error)})')
        if not isinstance(pdu, codec.InitiateResponsePdu):
            raise _Error(f'invalid initiate-ResponsePDU: '
                         f'{_pdu_text(conn.conn_res_user_data, pdu)}')
        try:
            calling = _negotiated('maxServOutstandingCalling',
                                  pdu.max_serv_outstanding_calling,
                                  max_serv_outstanding_calling)
            called = _negotiated('maxServOutstandingCalled',
                                 pdu.max_serv_outstanding_called,
                                 max_serv_outstanding_called)
        except _Error as e:
            raise _Error(f'{e}: {_pdu_text(conn.conn_res_user_data, pdu)}'
                         ) from None

    except _Error as e:
        mlog.error('mms: %s -> %s: association failed: %s',
                   conn.info.local_addr, conn.info.remote_addr, e)
        conn.abort()
        raise ConnectionError(f'mms: {e}') from None

    except BaseException:
        conn.abort()
        raise

    return Connection(conn, request_cb, settings, True, calling, called,
                      pdu.local_detail_called)


async def listen(connection_cb: ConnectionCb,
                 request_cb: RequestCb,
                 addr: tpkt.Address = tpkt.DEFAULT_LISTEN_ADDRESS,
                 *,
                 max_serv_outstanding_calling: int = 5,
                 max_serv_outstanding_called: int = 5,
                 local_detail: int | None = 65000,
                 response_timeout: float | None = DEFAULT_RESPONSE_TIMEOUT,
                 conclude_timeout: float = DEFAULT_CONCLUDE_TIMEOUT,
                 unconfirmed_queue_size: int = (
                     DEFAULT_UNCONFIRMED_QUEUE_SIZE),
                 unconfirmed_queue_octets: int = (
                     DEFAULT_UNCONFIRMED_QUEUE_OCTETS),
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create an MMS server (responder of the Initiate, ISO 9506-2)

    Args:
        connection_cb: called with each established `Connection`; if it
            raises, that association is closed (conclude, release)
        request_cb: serves the confirmed requests of every association
        addr: local address (default ``Address('0.0.0.0', 102)``)
        max_serv_outstanding_calling: most client requests served at a
            time we accept (negotiated: min(proposed, this))
        max_serv_outstanding_called: most of our requests in flight we
            accept (negotiated: min(proposed, this))
        local_detail: our maximum PDU size (octets; negotiated:
            min(proposed, this); ``None``: the proposal)
        response_timeout, conclude_timeout: as in `connect`, for every
            association
        unconfirmed_queue_size, unconfirmed_queue_octets: as in `connect`,
            for every association
        kwargs: passed to `hat.drivers.acse.listen` and on down to
            `hat.drivers.tcp.listen` (``release_timeout``,
            ``close_timeout``, ``ssl`` for TLS, ...)

    Raises:
        TypeError, ValueError: a bad argument
        ConnectionError: cannot listen

    """
    _check_callback('connection_cb', connection_cb)
    _check_callback('request_cb', request_cb)
    settings = _settings(max_serv_outstanding_calling,
                         max_serv_outstanding_called, local_detail,
                         response_timeout, conclude_timeout,
                         unconfirmed_queue_size, unconfirmed_queue_octets)

    def on_validate(syntax_names: acse.SyntaxNames,
                    user_data: acse.IdentifiedEntity | None
                    ) -> acse.IdentifiedEntity:
        pdu = _decode_entity(user_data)
        if not isinstance(pdu, codec.InitiateRequestPdu):
            msg = (f'association refused: invalid initiate-RequestPDU: '
                   f'{_pdu_text(user_data, pdu)}')
            mlog.error('mms: %s', msg)
            raise Exception(msg)
        if (pdu.max_serv_outstanding_calling < 1 or
                pdu.max_serv_outstanding_called < 1):
            msg = (f'association refused: proposed maxServOutstanding '
                   f'{pdu.max_serv_outstanding_calling}/'
                   f'{pdu.max_serv_outstanding_called}: '
                   f'{_pdu_text(user_data, pdu)}')
            mlog.error('mms: %s', msg)
            raise Exception(msg)
        if ((pdu.local_detail_calling is not None and
                pdu.local_detail_calling < 1) or
                (pdu.data_structure_nesting_level is not None and
                 pdu.data_structure_nesting_level < 0)):
            msg = (f'association refused: proposed localDetailCalling '
                   f'{pdu.local_detail_calling}, '
                   f'dataStructureNestingLevel '
                   f'{pdu.data_structure_nesting_level}: '
                   f'{_pdu_text(user_data, pdu)}')
            mlog.error('mms: %s', msg)
            raise Exception(msg)
        return MMS_ABSTRACT_SYNTAX, ber.decode(codec.encode_pdu(
            _initiate_response(pdu, settings)))

    async def on_connection(conn: acse.Connection) -> None:
        res = _decode_entity(conn.conn_res_user_data)
        assert isinstance(res, codec.InitiateResponsePdu)
        mms_conn = Connection(conn, request_cb, settings, False,
                              res.max_serv_outstanding_calling,
                              res.max_serv_outstanding_called,
                              res.local_detail_called)
        if connection_cb is None:
            return
        try:
            await aio.call(connection_cb, mms_conn)

        except Exception as e:
            mlog.error('mms: connection callback failed: %s', e, exc_info=e)
            mms_conn.async_group.close()

        except BaseException:
            mms_conn.async_group.close()
            raise

    srv = await acse.listen(on_validate, on_connection, addr, **kwargs)
    return Server(srv)


class Server(cotp_common.Resource):
    """MMS server created by `listen`; closing it stops listening and
    leaves the accepted associations open (as 0.6.23)"""

    def __init__(self, srv: acse.Server):
        self._srv = srv

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._srv.async_group

    @property
    def addresses(self) -> list[tpkt.Address]:
        """Listening addresses (with the real bound ports)"""
        return self._srv.addresses





    def close(self) -> None:
        """Stop listening (accepted associations stay open); never raises"""
        self.async_group.close()

    async def async_close(self) -> None:
        """As `close`, and wait until closed"""
        self.async_group.close()
        await self.async_group.wait_closed()


class _Pending(typing.NamedTuple):
    future: asyncio.Future[common.Response]
    request_type: type


class Connection(cotp_common.Resource):
    """MMS association created by `connect` and `listen` (see the module
    documentation)"""

    def __init__(self,
                 conn: acse.Connection,
                 request_cb: RequestCb | None,
                 settings: _Settings,
                 initiator: bool,
                 max_serv_outstanding_calling: int,
                 max_serv_outstanding_called: int,
                 local_detail: int | None):
        # established by `connect` or `listen`: not for users
        self._conn = conn
        self._request_cb = request_cb
        self._settings = settings
        self._calling = max_serv_outstanding_calling
        self._called = max_serv_outstanding_called
        self._local_detail = local_detail
        self._loop = asyncio.get_running_loop()
        self._async_group = aio.Group()
        self._out_limit = (max_serv_outstanding_calling if initiator
                           else max_serv_outstanding_called)
        self._in_limit = (max_serv_outstanding_called if initiator
                          else max_serv_outstanding_calling)
        self._next_invoke_id = 1
        self._pending: dict[int, _Pending] = {}
        self._late: collections.OrderedDict[int, None] = \
            collections.OrderedDict()
        self._in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = \
            collections.deque()
        # response timeouts: the deadline (loop time) of every waiting
        # future that has one, and one timer at the earliest (see
        # `_expire_at`)
        self._deadlines: dict[asyncio.Future[typing.Any], float] = {}
        # the same deadlines by time, for the timer (entries of futures
        # done before their deadline are dropped lazily)
        self._deadline_heap: list[
            tuple[float, int, asyncio.Future[typing.Any]]] = []
        self._deadline_seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._serving: dict[int, asyncio.Task[None]] = {}
        self._serving_count = 0
        self._slot_freed = asyncio.Event()
        self._unconfirmed: aio.Queue[common.Unconfirmed] = aio.Queue(
            settings.unconfirmed_queue_size)
        # encoded sizes of the queued unconfirmed PDUs, and their sum
        self._unconfirmed_sizes: collections.deque[int] = collections.deque()
        self._unconfirmed_octets = 0
        self._unconfirmed_taken = asyncio.Event()
        self._error: str | None = None
        self._concluded = False
        self._async_group.spawn(self._run)

    @property
    def async_group(self) -> aio.Group:
        """Async group (closing it concludes and releases)"""
        return self._async_group





    def close(self) -> None:
        """Close in the background: conclude (bounded by
        ``conclude_timeout``), ACSE release, close (see the module
        documentation); never raises"""
        self.async_group.close()

    async def async_close(self) -> None:
        """As `close`, and wait until closed"""
        self.async_group.close()
        await self.async_group.wait_closed()

    @property
    def info(self) -> acse.ConnectionInfo:
        """Connection info (`hat.drivers.acse.ConnectionInfo`)"""
        return self._conn.info

    @property
    def max_serv_outstanding_calling(self) -> int:
        """Negotiated maxServOutstandingCalling (the initiator's requests
        in flight)"""
        return self._calling

    @property
    def max_serv_outstanding_called(self) -> int:
        """Negotiated maxServOutstandingCalled (the responder's requests in
        flight)"""
        return self._called

    @property
    def local_detail(self) -> int | None:
        """Negotiated localDetailCalled (maximum PDU size, octets;
        ``None``: none negotiated); not enforced"""
        return self._local_detail

    def abort(self) -> None:
        """Abort the association (ACSE ABRT) and close; never raises"""
        if self._error is None:
            self._error = 'mms: association aborted locally'
        try:
            self._conn.abort()
        except Exception as e:
            mlog.warning('mms: abort: %s', e, exc_info=e)
        self._async_group.close()

    async def drain(self) -> None:
        """Wait until the written PDUs were taken by the layers below

        Raises:
            ConnectionError: association closed

        """
        await self._conn.drain()

    async def send_confirmed(self,
                             req: common.Request,
                             *,
                             timeout: float | None | types.EllipsisType = ...
                             ) -> common.Response:
        """Send a confirmed request and wait for its answer

        Args:
            req: the request
            timeout: seconds, finite and positive (``None``: no timeout;
                ``...``, the default: the connection's ``response_timeout``)

        Returns:
            the response, or `ErrorResponse` for a confirmed-ErrorPDU

        Raises:
            TypeError, ValueError: bad request or timeout (nothing sent,
                the association stays open; data nested too deeply to
                encode is a `ValueError`)
            ConnectionError: association closing, concluded or closed
            ResponseTimeoutError: no answer within the timeout
            RejectedError: the request ended with a RejectPDU

        """
        if timeout is ...:
            timeout = self._settings.response_timeout
        elif timeout is not None:
            _seconds.check_seconds('timeout', timeout)
        self._check_open()
        invoke_id = self._next_invoke_id
        while invoke_id in self._pending:
            invoke_id = _next_id(invoke_id)
        octets = _encode(codec.ConfirmedRequestPdu(invoke_id, req))
        self._next_invoke_id = _next_id(invoke_id)
        deadline = None if timeout is None else self._loop.time() + timeout
        try:
            return await self._transact(invoke_id, type(req), octets,
                                        deadline)

        except _Expired:
            self._late[invoke_id] = None
            while len(self._late) > _LATE_IDS:
                self._late.popitem(last=False)
            raise ResponseTimeoutError(
                f'mms: no answer to invoke ID {invoke_id} within '
                f'{timeout} s') from None

    def send_unconfirmed(self, unconfirmed: common.Unconfirmed) -> None:
        """Send an unconfirmed PDU

        Raises:
            TypeError, ValueError: bad PDU (nothing sent; data nested too
                deeply to encode is a `ValueError`)
            ConnectionError: association closing, concluded or closed
                (0.6.23 dropped the PDU silently)

        """
        self._check_open()
        self._write(_encode(codec.UnconfirmedPdu(unconfirmed)))

    async def receive_unconfirmed(self) -> common.Unconfirmed:
        """Next received unconfirmed PDU (in order; those received before
        the association closed are returned first)

        Raises:
            ConnectionError: association closed and nothing left

        """
        try:
            unconfirmed = await self._unconfirmed.get()

        except aio.QueueClosedError:
            raise ConnectionError(self._error or
                                  'mms: connection is not open') from None

        if self._unconfirmed_sizes:
            self._unconfirmed_octets -= self._unconfirmed_sizes.popleft()
        self._unconfirmed_taken.set()
        return unconfirmed

    # --- sending ---------------------------------------------------------

    def _check_open(self) -> None:
        if not self._async_group.is_open or self._concluded:
            raise ConnectionError(self._error or
                                  'mms: connection is not open')

    def _write(self, octets: bytes) -> None:
        self._conn.write((MMS_ABSTRACT_SYNTAX, _pdu_element(octets)))

    async def _transact(self,
                        invoke_id: int,
                        request_type: type,
                        octets: bytes,
                        deadline: float | None
                        ) -> common.Response:
        await self._acquire(deadline)
        try:
            self._check_open()
            future: asyncio.Future[common.Response] = \
                self._loop.create_future()
            self._pending[invoke_id] = _Pending(future, request_type)
            if deadline is not None:
                self._expire_at(future, deadline)
            try:
                self._write(octets)
                return await future

            finally:
                self._pending.pop(invoke_id, None)
                if deadline is not None:
                    self._deadlines.pop(future, None)

        finally:
            self._release()

    async def _acquire(self, deadline: float | None) -> None:
        if self._in_flight < self._out_limit and not self._waiters:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._waiters.append(waiter)
        if deadline is not None:
            self._expire_at(waiter, deadline)
        try:
            await waiter

        except BaseException:
            if waiter.done() and not waiter.cancelled() and \
                    waiter.exception() is None:
                # the slot was handed over: pass it on
                self._release()
            else:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            raise

        finally:
            if deadline is not None:
                self._deadlines.pop(waiter, None)

    def _expire_at(self, future: asyncio.Future[typing.Any],
                   deadline: float) -> None:
        # `future` fails with _Expired at `deadline` unless done before
        # (and removed from _deadlines). One timer for all, at the earliest
        # deadline: with the same timeout for every request it is set again
        # about once per timeout, not per request (a timer per request cost
        # about 3 us: bench_mms.py rows read and read-16)
        deadlines = self._deadlines
        deadlines[future] = deadline
        heap = self._deadline_heap
        heapq.heappush(heap, (deadline, next(self._deadline_seq), future))
        if len(heap) > 2 * len(deadlines) + 64:
            # mostly entries of answered requests: keep the heap within
            # twice the waiting ones
            heap[:] = [e for e in heap if e[2] in deadlines]
            heapq.heapify(heap)
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _on_timer(self) -> None:
        # only the expired entries and those of futures done before their
        # deadline are visited (not every waiting request: a scan of all
        # made each expiry cost O(waiting requests))
        self._timer = None
        now = self._loop.time()
        deadlines = self._deadlines
        heap = self._deadline_heap
        while heap and (heap[0][0] <= now or heap[0][2] not in deadlines):
            future = heapq.heappop(heap)[2]
            if deadlines.pop(future, None) is not None and \
                    not future.done():
                future.set_exception(_Expired())
        if heap:
            # never less than a millisecond ahead: uvloop rounds a timer's
            # delay to the nearest millisecond, so a timer can fire up to
            # half a millisecond before its deadline (or, by a float
            # rounding error, just short of it); armed at that deadline
            # again, it would run at every loop iteration until the clock
            # reaches it (a deadline is met up to 1 ms late instead)
            earliest = heap[0][0]
            self._timer = self._loop.call_at(max(earliest, now + 1e-3),
                                             self._on_timer)
            self._timer_at = earliest

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._in_flight -= 1

    # --- receiving -------------------------------------------------------

    async def _run(self) -> None:
        local_close = False
        try:
            await self._receive_loop()

        except asyncio.CancelledError:
            local_close = True

        except Exception as e:
            self._error = self._error or f'mms: receiving failed: {e!r}'
            mlog.error('%s', self._error, exc_info=e)
            self._conn.abort()

        finally:
            self._error = self._error or 'mms: connection is not open'
            self._fail_all()
            # what is queued stays readable, then ConnectionError
            self._unconfirmed.close()
            if local_close:
                await self._close_association()
            elif self._conn.is_open:
                self._conn.close()
            self._async_group.close()

    def _fail_all(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadline_heap.clear()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionError(self._error))
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError(self._error))

    async def _close_association(self) -> None:
        # conclude (bounded), then ACSE release (bounded by the session's
        # release timeout); never raises
        try:
            if self._conn.is_open and not self._concluded:
                self._concluded = True
                self._write(codec.encode_pdu(codec.ConcludeRequestPdu()))
                try:
                    await _wait_for(self._await_conclude_answer(),
                                    self._settings.conclude_timeout)

                except asyncio.TimeoutError:
                    mlog.info('mms: no conclude answer within %s s',
                              self._settings.conclude_timeout)

            if self._conn.is_open:
                self._conn.close()
                # read what is left so that the layers below see the RLRE
                while True:
                    await self._conn.read()

        except ConnectionError:
            pass

        except Exception as e:
            mlog.warning('mms: close: %s', e, exc_info=e)

        finally:
            if not self._conn.is_closed:
                self._conn.close()
                await self._conn.wait_closed()

    async def _await_conclude_answer(self) -> None:
        while True:
            name, element = await self._conn.read()
            try:
                pdu = codec.decode_pdu(ber.encode(element))
            except codec.DecodeError:
                continue
            if isinstance(pdu, codec.ConcludeResponsePdu):
                return
            if isinstance(pdu, codec.ConcludeErrorPdu):
                mlog.info('mms: conclude refused by the peer (%s)',
                          _error_text(pdu.error))
                return
            if (isinstance(pdu, codec.RejectPdu) and
                    pdu.original_invoke_id is None and
                    pdu.reason in (codec.RejectReason.CONCLUDE_REQUEST,
                                   codec.RejectReason.PDU_ERROR)):
                mlog.info('mms: conclude rejected by the peer (%s, code '
                          '%s)', pdu.reason.name, pdu.code)
                return
            if isinstance(pdu, codec.ConcludeRequestPdu):
                # both sides close at once: answer, wait for our answer
                self._write(codec.encode_pdu(codec.ConcludeResponsePdu()))
                continue
            mlog.debug('mms: dropped while concluding: %s',
                       type(pdu).__name__)

    async def _receive_loop(self) -> None:
        while True:
            try:
                name, element = await self._conn.read()
            except ConnectionError as e:
                self._error = self._error or str(e) or None
                return

            octets = ber.encode(element)
            reply: codec.Pdu | bytes | None
            try:
                pdu = codec.decode_pdu(octets)

            except codec.DecodeError as e:
                reply = self._on_decode_error(e, octets)

            else:
                try:
                    reply = await self._on_pdu(pdu, octets)
                except _Closed:
                    return

            if reply is not None:
                try:
                    self._write(reply if isinstance(reply, bytes)
                                else codec.encode_pdu(reply))
                    await self._conn.drain(coalesce=True)

                except ConnectionError as e:
                    self._error = self._error or str(e) or None
                    return

    async def _paused(self, aw: typing.Awaitable[typing.Any]) -> bool:
        # await `aw` while reading is paused, unless the association below
        # closes first (False): a paused reader never sees it close
        task = asyncio.ensure_future(aw)
        closing = asyncio.ensure_future(self._conn.wait_closing())
        try:
            await asyncio.wait([task, closing],
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not task.done():
                task.cancel()
        return task.done() and not task.cancelled()

    async def _keep_unconfirmed(self, first: common.Unconfirmed) -> None:
        # the association below is closing: keep `first` and the
        # unconfirmed PDUs the layers below still deliver, at most
        # unconfirmed_queue_size beyond the full queue
        limit = self._settings.unconfirmed_queue_size
        # moved to an unbounded queue (no reader waits on a full queue;
        # the sizes no longer matter: nothing more is read after these)
        queue: aio.Queue[common.Unconfirmed] = aio.Queue()
        while not self._unconfirmed.empty():
            queue.put_nowait(self._unconfirmed.get_nowait())
        self._unconfirmed.close()
        self._unconfirmed = queue
        self._unconfirmed_sizes.clear()
        kept, dropped = 0, 0
        unconfirmed: common.Unconfirmed | None = first
        while True:
            if unconfirmed is not None:
                if kept < limit:
                    self._unconfirmed.put_nowait(unconfirmed)
                    kept += 1
                else:
                    dropped += 1
            try:
                name, element = await self._conn.read()
            except ConnectionError:
                break
            try:
                pdu = codec.decode_pdu(ber.encode(element))
            except codec.DecodeError:
                pdu = None
            unconfirmed = (pdu.unconfirmed
                           if isinstance(pdu, codec.UnconfirmedPdu) else None)
        if dropped:
            mlog.warning('mms: association closed while the unconfirmed '
                         'queue was full: %s PDUs beyond %s kept not '
                         'delivered', dropped, limit)

    def _on_decode_error(self,
                         e: codec.DecodeError,
                         octets: bytes
                         ) -> codec.Pdu | None:
        mlog.error('mms: %s -> %s: %s (%d octets: %s)',
                   self.info.local_addr, self.info.remote_addr, e,
                   len(octets), _hex(octets))
        reject = e.reject
        if (reject is not None and e.invoke_id is not None and
                reject.reason in (codec.RejectReason.CONFIRMED_RESPONSE,
                                  codec.RejectReason.CONFIRMED_ERROR)):
            pending = self._pending.get(e.invoke_id)
            if pending is not None and not pending.future.done():
                pending.future.set_exception(RejectedError(
                    f'mms: answer to invoke ID {e.invoke_id} rejected: '
                    f'{e}', reject.reason, reject.code, False))
        return reject

    async def _on_pdu(self, pdu: codec.Pdu,
                      octets: bytes) -> codec.Pdu | bytes | None:
        if isinstance(pdu, codec.ConfirmedRequestPdu):
            # a request beyond the negotiated number being served (the
            # peer exceeds it): reading pauses until one is answered
            while self._serving_count >= self._in_limit:
                self._slot_freed.clear()
                if not await self._paused(self._slot_freed.wait()):
                    raise _Closed()
            return self._on_request(pdu)

        if isinstance(pdu, (codec.ConfirmedResponsePdu,
                            codec.ConfirmedErrorPdu)):
            return self._on_response(pdu, octets)

        if isinstance(pdu, codec.UnconfirmedPdu):
            # bounded in PDUs and in octets (a PDU alone may be larger)
            size = len(octets)
            limit = self._settings.unconfirmed_queue_octets
            while (self._unconfirmed.full() or
                   (not self._unconfirmed.empty() and
                    self._unconfirmed_octets + size > limit)):
                self._unconfirmed_taken.clear()
                if not await self._paused(self._unconfirmed_taken.wait()):
                    # the peer released or aborted while the queue was
                    # full: what it sent before stays readable
                    await self._keep_unconfirmed(pdu.unconfirmed)
                    raise _Closed()
            self._unconfirmed.put_nowait(pdu.unconfirmed)
            self._unconfirmed_sizes.append(size)
            self._unconfirmed_octets += size
            return None

        if isinstance(pdu, codec.RejectPdu):
            self._on_reject(pdu)
            return None

        if isinstance(pdu, codec.CancelRequestPdu):
            value = 2 if pdu.invoke_id in self._serving else 1
            return codec.CancelErrorPdu(pdu.invoke_id, codec.ServiceError(
                common.ErrorClass.CANCEL, value, None, None))

        if isinstance(pdu, codec.ConcludeRequestPdu):
            if self._concluded:
                # the peer concludes again (its answer lost or ignored)
                return codec.ConcludeResponsePdu()
            if self._pending or self._waiters or self._serving:
                return codec.ConcludeErrorPdu(codec.ServiceError(
                    common.ErrorClass.CONCLUDE, 1, None, None))
            self._concluded = True
            self._error = 'mms: association concluded by the peer'
            self._fail_all()
            if self._async_group.is_open:
                self._async_group.spawn(self._wait_peer_release)
            return codec.ConcludeResponsePdu()

        mlog.warning('mms: %s -> %s: unexpected %s: rejected',
                     self.info.local_addr, self.info.remote_addr,
                     type(pdu).__name__)
        if isinstance(pdu, codec.CancelResponsePdu):
            return codec.RejectPdu(pdu.invoke_id,
                                   codec.RejectReason.CANCEL_RESPONSE, 1)
        if isinstance(pdu, codec.CancelErrorPdu):
            return codec.RejectPdu(pdu.invoke_id,
                                   codec.RejectReason.CANCEL_ERROR, 1)
        if isinstance(pdu, codec.ConcludeResponsePdu):
            return codec.RejectPdu(None,
                                   codec.RejectReason.CONCLUDE_RESPONSE, 0)
        if isinstance(pdu, codec.ConcludeErrorPdu):
            return codec.RejectPdu(None, codec.RejectReason.CONCLUDE_ERROR,
                                   0)
        # initiate PDUs after the association is established
        return codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 0)

    def _on_request(self, pdu: codec.ConfirmedRequestPdu
                    ) -> codec.Pdu | bytes | None:
        if not self._async_group.is_open:
            return None
        if self._request_cb is None or self._concluded:
            return codec.RejectPdu(pdu.invoke_id,
                                   codec.RejectReason.CONFIRMED_REQUEST, 1)
        if pdu.invoke_id in self._serving:
            return codec.RejectPdu(pdu.invoke_id,
                                   codec.RejectReason.CONFIRMED_REQUEST, 3)
        try:
            result = self._request_cb(self, pdu.request)
            # responses are tuples, never awaitable: no ABC check for them
            if isinstance(result, tuple) or not inspect.isawaitable(result):
                # a plain function: answered here, no task needed
                return _encode_response(pdu.invoke_id, pdu.request,
                                        typing.cast(common.Response, result))

        except Exception as e:
            return self._request_failed(pdu, e)

        self._serving_count += 1
        task = self._async_group.spawn(self._serve, pdu, result)
        self._serving[pdu.invoke_id] = task
        return None

    def _request_failed(self, pdu: codec.ConfirmedRequestPdu,
                        e: Exception) -> bytes:
        mlog.error('mms: %s -> %s: request %s (invoke ID %s) failed: %s',
                   self.info.local_addr, self.info.remote_addr,
                   type(pdu.request).__name__, pdu.invoke_id, e,
                   exc_info=e)
        return codec.encode_pdu(codec.ConfirmedErrorPdu(
            pdu.invoke_id, None, codec.ServiceError(
                common.ErrorClass.SERVICE, 0, None, None)))

    async def _serve(self, pdu: codec.ConfirmedRequestPdu,
                     result: typing.Awaitable[common.Response]) -> None:
        invoke_id = pdu.invoke_id
        try:
            try:
                res = await result
                octets = _encode_response(invoke_id, pdu.request, res)

            except Exception as e:
                octets = self._request_failed(pdu, e)

            self._serving.pop(invoke_id, None)
            try:
                self._write(octets)
                await self._conn.drain(coalesce=True)

            except ConnectionError:
                pass

        finally:
            self._serving.pop(invoke_id, None)
            self._serving_count -= 1
            self._slot_freed.set()

    def _on_response(self,
                     pdu: codec.ConfirmedResponsePdu | codec.ConfirmedErrorPdu,
                     octets: bytes
                     ) -> codec.Pdu | None:
        pending = self._pending.get(pdu.invoke_id)
        if pending is None or pending.future.done():
            # expired, its caller not yet resumed to note it in _late (the
            # answer and the expiry in the same loop iteration): late too
            if pdu.invoke_id in self._late or (
                    pending is not None and
                    not pending.future.cancelled() and
                    isinstance(pending.future.exception(), _Expired)):
                mlog.warning('mms: %s -> %s: late answer to invoke ID %s '
                             '(timed out): dropped', self.info.local_addr,
                             self.info.remote_addr, pdu.invoke_id)
            else:
                mlog.warning('mms: %s -> %s: answer to unknown invoke ID '
                             '%s: dropped', self.info.local_addr,
                             self.info.remote_addr, pdu.invoke_id)
            return None

        if isinstance(pdu, codec.ConfirmedErrorPdu):
            pending.future.set_result(pdu.error.response)
            return None

        expected = _RESPONSE_TYPES.get(pending.request_type)
        if type(pdu.response) is not expected:
            reason, code = codec.RejectReason.CONFIRMED_RESPONSE, 3
            msg = (f'mms: answer to invoke ID {pdu.invoke_id} is a '
                   f'{type(pdu.response).__name__}, not a '
                   f'{getattr(expected, "__name__", expected)}: rejected')
            mlog.error('%s (%d octets: %s)', msg, len(octets), _hex(octets))
            pending.future.set_exception(RejectedError(msg, reason, code,
                                                       False))
            return codec.RejectPdu(pdu.invoke_id, reason, code)

        pending.future.set_result(pdu.response)
        return None

    def _on_reject(self, pdu: codec.RejectPdu) -> None:
        pending = (None if pdu.original_invoke_id is None
                   else self._pending.get(pdu.original_invoke_id))
        if (pending is not None and not pending.future.done() and
                pdu.reason in (codec.RejectReason.CONFIRMED_REQUEST,
                               codec.RejectReason.PDU_ERROR)):
            pending.future.set_exception(RejectedError(
                f'mms: request with invoke ID {pdu.original_invoke_id} '
                f'rejected by the peer ({pdu.reason.name}, code '
                f'{pdu.code})', pdu.reason, pdu.code))
            return None
        mlog.warning('mms: %s -> %s: RejectPDU received (invoke ID %s, '
                     '%s, code %s)', self.info.local_addr,
                     self.info.remote_addr, pdu.original_invoke_id,
                     pdu.reason.name, pdu.code)

    async def _wait_peer_release(self) -> None:
        # after our conclude-ResponsePDU the peer releases; if it does not,
        # we do
        await asyncio.sleep(self._settings.conclude_timeout)
        mlog.info('mms: peer did not release within %s s after conclude',
                  self._settings.conclude_timeout)
        self._conn.close()


# --- helpers ----------------------------------------------------------------

_RESPONSE_TYPES: dict[type, type] = {
    common.StatusRequest: common.StatusResponse,
    common.GetNameListRequest: common.GetNameListResponse,
    common.IdentifyRequest: common.IdentifyResponse,
    common.GetVariableAccessAttributesRequest:
        common.GetVariableAccessAttributesResponse,
    common.GetNamedVariableListAttributesRequest:
        common.GetNamedVariableListAttributesResponse,
    common.ReadRequest: common.ReadResponse,
    common.WriteRequest: common.WriteResponse,
    common.DefineNamedVariableListRequest:
        common.DefineNamedVariableListResponse,
    common.DeleteNamedVariableListRequest:
        common.DeleteNamedVariableListResponse}


class _Error(Exception):
    pass


class _Closed(Exception):
    pass


class _Expired(Exception):
    # a request's response timeout expired (see Connection._expire_at)
    pass


_new_element = tuple.__new__
_CONTEXT = ber.Class.CONTEXT


def _pdu_element(octets: bytes) -> ber.Element:
    # Duplicated hot path (protects the rows read and read-16 of
    # benchmarks/bench_mms.py): `octets` are one MMSpdu our codec encoded,
    # a context-specific element with a low tag number and a definite
    # length; its element is built from the identifier and length octets,
    # the same `ber.decode` returns (anything else takes `ber.decode`;
    # test_mms_codec.py checks both agree)
    head = octets[0]
    if head & 0xc0 == 0x80 and head & 0x1f != 0x1f and len(octets) > 1:
        n = octets[1]
        i = 2 if n < 0x80 else 3 if n == 0x81 else 4 if n == 0x82 else 0
        if i:
            return _new_element(ber.Element, (
                _CONTEXT, head & 0x1f, head & 0x20 != 0,
                memoryview(octets)[i:]))
    return ber.decode(octets)


def _next_id(invoke_id: int) -> int:
    return 1 if invoke_id >= _UNSIGNED32_MAX else invoke_id + 1


def _hex(octets: bytes) -> str:
    text = octets[:_LOGGED_OCTETS].hex(' ')
    return text + (' ...' if len(octets) > _LOGGED_OCTETS else '')


def _error_text(error: codec.ServiceError) -> str:
    return f'{error.error_class.name} {error.value}'


async def _wait_for(aw: typing.Awaitable[None], timeout: float) -> None:
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(timeout):
            await aw
    else:
        await asyncio.wait_for(aw, timeout)


def _encode(pdu: codec.Pdu) -> bytes:
    # data nested too deeply for the codec's recursion is a bad argument
    try:
        return codec.encode_pdu(pdu)

    except RecursionError:
        raise ValueError('data nested too deeply to encode (a peer decodes '
                         f'at most {codec.MAX_DEPTH} levels)') from None


def _encode_response(invoke_id: int,
                     req: common.Request,
                     res: common.Response) -> bytes:
    if isinstance(res, common.ErrorResponse):
        return codec.encode_pdu(codec.ConfirmedErrorPdu(
            invoke_id, None, codec.ServiceError(res.error_class, res.value,
                                                None, None)))
    expected = _RESPONSE_TYPES.get(type(req))
    if type(res) is not expected:
        raise TypeError(f'request_cb returned a {type(res).__name__} '
                        f'for a {type(req).__name__} (expected a '
                        f'{getattr(expected, "__name__", expected)})')
    return codec.encode_pdu(codec.ConfirmedResponsePdu(invoke_id, res))


def _decode_entity(entity: acse.IdentifiedEntity | None
                   ) -> codec.Pdu | None:
    if entity is None or tuple(entity[0]) != MMS_ABSTRACT_SYNTAX:
        return None
    try:
        return codec.decode_pdu(ber.encode(entity[1]))
    except codec.DecodeError:
        return None


def _pdu_text(entity: acse.IdentifiedEntity | None,
              pdu: codec.Pdu | None) -> str:
    if entity is None:
        return 'no user information'
    if tuple(entity[0]) != MMS_ABSTRACT_SYNTAX:
        return f'user information of abstract syntax {entity[0]}'
    octets = ber.encode(entity[1])
    if pdu is None:
        return f'undecodable ({len(octets)} octets: {_hex(octets)})'
    return f'{type(pdu).__name__} ({len(octets)} octets: {_hex(octets)})'


def _negotiated(name: str, value: int, proposed: int) -> int:
    if value < 1:
        raise _Error(f'invalid initiate-ResponsePDU: {name} {value}')
    if value > proposed:
        mlog.warning('mms: initiate-ResponsePDU: %s %s above the proposed '
                     '%s: %s used', name, value, proposed, proposed)
        return proposed
    return value


def _initiate_response(req: codec.InitiateRequestPdu,
                       settings: _Settings) -> codec.InitiateResponsePdu:
    if req.local_detail_calling is None:
        local_detail = settings.local_detail
    elif settings.local_detail is None:
        local_detail = req.local_detail_calling
    else:
        local_detail = min(req.local_detail_calling, settings.local_detail)
    return codec.InitiateResponsePdu(
        local_detail_called=local_detail,
        max_serv_outstanding_calling=min(
            req.max_serv_outstanding_calling,
            settings.max_serv_outstanding_calling),
        max_serv_outstanding_called=min(
            req.max_serv_outstanding_called,
            settings.max_serv_outstanding_called),
        data_structure_nesting_level=(
            None if req.data_structure_nesting_level is None
            else min(req.data_structure_nesting_level, codec.MAX_DEPTH)),
        version_number=1,
        parameter_cbb=SUPPORTED_PARAMETER_CBB & req.parameter_cbb,
        services_supported=SUPPORTED_SERVICES)


def _settings(max_serv_outstanding_calling: typing.Any,
              max_serv_outstanding_called: typing.Any,
              local_detail: typing.Any,
              response_timeout: typing.Any,
              conclude_timeout: typing.Any,
              unconfirmed_queue_size: typing.Any,
              unconfirmed_queue_octets: typing.Any) -> _Settings:
    for name, value in (('max_serv_outstanding_calling',
                         max_serv_outstanding_calling),
                        ('max_serv_outstanding_called',
                         max_serv_outstanding_called)):
        _check_int(name, value, 1, 0x7fff)
    if local_detail is not None:
        _check_int('local_detail', local_detail, 1, 0x7fff_ffff)
    _check_int('unconfirmed_queue_size', unconfirmed_queue_size, 1, None)
    _check_int('unconfirmed_queue_octets', unconfirmed_queue_octets, 1, None)
    if response_timeout is not None:
        _seconds.check_seconds('response_timeout', response_timeout)
    _seconds.check_seconds('conclude_timeout', conclude_timeout)
    return _Settings(max_serv_outstanding_calling,
                     max_serv_outstanding_called, local_detail,
                     response_timeout, conclude_timeout,
                     unconfirmed_queue_size, unconfirmed_queue_octets)


def _check_callback(name: str, value: typing.Any) -> None:
    if value is not None and not callable(value):
        raise TypeError(f'{name} must be callable or None, not '
                        f'{type(value).__name__}')


def _check_int(name: str, value: typing.Any, low: int,
               high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be an int, not '
                        f'{type(value).__name__}')
    if value < low or (high is not None and value > high):
        raise ValueError(f'{name} must be from {low} to {high}, not '
                         f'{value}' if high is not None else
                         f'{name} must be at least {low}, not {value}')
