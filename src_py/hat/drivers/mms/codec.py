"""MMS PDU codec (ISO 9506-2): PDUs to BER octets and back.

Pure functions, no I/O, no logging, on the BER core `hat.drivers.ber`.
`encode_pdu` turns one PDU into the octets of one ``MMSpdu`` (the value a
presentation data value of abstract syntax ``1.0.9506.2.1`` carries);
`decode_pdu` turns those octets into one PDU or raises `DecodeError`, the one
error class of decoding: nothing else is ever raised by `decode_pdu`.

PDUs (ISO 9506-2 clause 7, ``MMSpdu``): `ConfirmedRequestPdu` [0],
`ConfirmedResponsePdu` [1], `ConfirmedErrorPdu` [2], `UnconfirmedPdu` [3],
`RejectPdu` [4], `CancelRequestPdu` [5], `CancelResponsePdu` [6],
`CancelErrorPdu` [7], `InitiateRequestPdu` [8], `InitiateResponsePdu` [9],
`InitiateErrorPdu` [10], `ConcludeRequestPdu` [11], `ConcludeResponsePdu`
[12], `ConcludeErrorPdu` [13].

Services: the confirmed services status [0], getNameList [1], identify [2],
read [4], write [5], getVariableAccessAttributes [6],
defineNamedVariableList [11], getNamedVariableListAttributes [12] and
deleteNamedVariableList [13], both ways; the unconfirmed services
informationReport [0], unsolicitedStatus [1] and eventNotification [2].
The message types are those of `hat.drivers.mms.common` (the 0.6.23 API).

Unsupported input
-----------------

`DecodeError` carries what the connection layer needs to answer instead of
closing the association (ISO 9506-2 clause 7.4, RejectPDU): `reject`, the
`RejectPdu` to send (with the invoke ID when it could be read), and
`invoke_id`. Examples: a confirmed request for another service (for example
getCapabilityList) gives reason `RejectReason.CONFIRMED_REQUEST` code 1
(unrecognized-service) with its invoke ID; a request with an unknown data
type or a malformed argument gives code 4 (invalid-argument); nesting
deeper than `MAX_DEPTH` gives max-recursion-exceeded; a response that
cannot be decoded gives `RejectReason.CONFIRMED_RESPONSE` (the connection
also fails the request with that invoke ID); an unknown PDU type gives
`RejectReason.PDU_ERROR` code 0 (unknown-pdu-type), octets that are not one
BER element give code 1 (invalid-pdu). An undecodable RejectPDU has no
answer (``reject`` is ``None``: a reject is never rejected). Reject codes
are those of ISO 9506-2 RejectPDU.rejectReason (`RejectPdu.code`).

Encoding choices
----------------

* FloatingPoint (clause 14.4.2, ``FloatingPoint``: exponent width octet,
  then the IEEE 754 value): decoding takes single (5 octets) and double
  precision (9 octets); the exponent-width octet is not checked. Encoding
  sends single precision (``08`` + 4 octets, as 0.6.23) unless the value
  needs double precision, that is when it is finite and beyond the float32
  range or non-zero and rounds to zero in float32 (0.6.23 raised
  `OverflowError`); ``double_floats=True`` sends every value in double
  precision (``0b`` + 8 octets). A value sent in single precision is
  rounded to the nearest float32 (0.1 comes back as 0.10000000149...).
* BinaryTime (``TimeOfDay``): milliseconds since midnight (4 octets) and
  days since 1984-01-01 (2 octets), as the standard says. Encoding always
  sends the 6-octet form; the datetime must be timezone-aware (`TypeError`),
  between 1984-01-01 and 2163-06-06 UTC (`ValueError`), and its
  sub-millisecond part is dropped. Decoding takes both forms: the 4-octet
  form (time of day only) decodes on the epoch date 1984-01-01 UTC. 0.6.23
  sent and read seconds instead of milliseconds (its reports' TimeOfEntry
  decoded years off) and failed on the 4-octet form.
* UtcTime (IEC 61850-8-1 clause 8.1.3.7): seconds since 1970 (4 octets), a
  24-bit binary fraction of a second, quality octet (0x80 leap second
  known, 0x40 clock failure, 0x20 not synchronized, bits 0-4 time
  accuracy). Microseconds round-trip exactly. ``accuracy`` ``None`` is sent
  as 31 (unspecified) and 25..31 decode as ``None``; other values must be
  0..24 (`ValueError('invalid UtcTime accuracy')`).
* Unsigned and BCD refuse negative values both ways (`ValueError` on
  encoding, `DecodeError` value-out-of-range on decoding; 0.6.23 sent them).
* `ObjectClass.UNDEFINED` (255, not an MMS value) is never put on the wire:
  encoding raises `ValueError` (0.6.23 sent 255). On decoding, every object
  class the enum does not name (basicObjectClass 1, 3-7, 10..., or a
  csObjectClass) becomes `ObjectClass.UNDEFINED`, so a server can answer it
  with an error instead of losing the association.
* VisibleString, Identifier and MMSString are sent as UTF-8 (plain ASCII
  for the usual IEC 61850 names); decoding takes UTF-8, and octets that are
  not UTF-8 decode as ISO 8859-1 (devices send "°C" that way), so decoding
  a string never fails.
* TypeDescription mMSString [16] is sent primitive (implicit Integer32, as
  the standard and libiec61850); the constructed form 0.6.23 sent (an
  explicit INTEGER) is also decoded.
* Confirmed-ErrorPDU keeps modifierPosition, additionalCode and
  additionalDescription (`ServiceError`; 0.6.23 dropped them);
  serviceSpecificInformation is accepted and dropped.
* EventNotification transitionTime: ``None`` is undefined, an int a
  timeSequenceIdentifier, a `BinaryTimeData` (or its 4 or 6 raw octets, as
  0.6.23 took them) a timeOfDay; decoded as ``None``, an int or a
  `BinaryTimeData` (0.6.23 gave the raw octets and could not send `Data`).
  currentState, notificationLost, alarmAcknowledgmentRule and actionResult
  are dropped on decoding and not sent. eventConditionName is sent as its
  eventCondition [0] alternative; the undefined [1] alternative cannot be
  represented by `EventNotificationUnconfirmed` and is rejected
  (invalid-argument).
* Not supported: alternate access, ``specificationWithResult``, component
  names of scattered access, ``packed``, listOfModifiers (a request with
  modifiers is rejected with unrecognized-modifier), the
  service-ext extensions (dropped on decoding). Octet strings decode as
  `memoryview` (as 0.6.23).

Encoding raises `TypeError` for a value of the wrong type and `ValueError`
for a value out of its range or a class that is not a PDU, request,
response, data... of this API, naming the problem; nothing is encoded
partially.

"""

import datetime
import enum
import struct
import typing

from hat.drivers import ber
from hat.drivers.mms import common


MAX_DEPTH: int = 64
"""Deepest nesting of data, type descriptions and variable specifications
decoded (deeper input: `DecodeError`, max-recursion-exceeded)"""


# --- PDU types -------------------------------------------------------------

class ParameterCbb(enum.IntEnum):
    """Bits of ParameterSupportOptions (conformance building blocks)"""
    STR1 = 0
    STR2 = 1
    VNAM = 2
    VALT = 3
    VADR = 4
    VSCA = 5
    TPY = 6
    VLIS = 7
    REAL = 8
    CEI = 10


class ServiceSupport(enum.IntEnum):
    """Bits of ServiceSupportOptions used by this API (ISO 9506-2
    ``ServiceSupportOptions``)"""
    STATUS = 0
    GET_NAME_LIST = 1
    IDENTIFY = 2
    READ = 4
    WRITE = 5
    GET_VARIABLE_ACCESS_ATTRIBUTES = 6
    DEFINE_NAMED_VARIABLE_LIST = 11
    GET_NAMED_VARIABLE_LIST_ATTRIBUTES = 12
    DELETE_NAMED_VARIABLE_LIST = 13
    UNSOLICITED_STATUS = 78
    INFORMATION_REPORT = 79
    EVENT_NOTIFICATION = 80
    CONCLUDE = 83
    CANCEL = 84


PARAMETER_CBB_SIZE: int = 11
"""Bits sent in a ParameterSupportOptions (at least)"""

SERVICES_SIZE: int = 85
"""Bits sent in a ServiceSupportOptions (at least; as libiec61850 and
0.6.23)"""


class RejectReason(enum.IntEnum):
    """RejectPDU.rejectReason alternative: the kind of PDU rejected"""
    CONFIRMED_REQUEST = 1
    CONFIRMED_RESPONSE = 2
    CONFIRMED_ERROR = 3
    UNCONFIRMED = 4
    PDU_ERROR = 5
    CANCEL_REQUEST = 6
    CANCEL_RESPONSE = 7
    CANCEL_ERROR = 8
    CONCLUDE_REQUEST = 9
    CONCLUDE_RESPONSE = 10
    CONCLUDE_ERROR = 11


class ServiceError(typing.NamedTuple):
    """ServiceError (ISO 9506-2 clause 7.5.2)"""
    error_class: common.ErrorClass
    value: int
    """the integer of the errorClass alternative"""
    additional_code: typing.Optional[int]
    additional_description: typing.Optional[str]

    @property
    def response(self) -> common.ErrorResponse:
        """As the API's `ErrorResponse` (class and value)"""
        return common.ErrorResponse(self.error_class, self.value)


class InitiateRequestPdu(typing.NamedTuple):
    """initiate-RequestPDU [8]"""
    local_detail_calling: typing.Optional[int]
    """proposed maximum MMS PDU size in octets (Integer32), ``None``:
    absent"""
    max_serv_outstanding_calling: int
    """Integer16"""
    max_serv_outstanding_called: int
    """Integer16"""
    data_structure_nesting_level: typing.Optional[int]
    """Integer8, ``None``: absent"""
    version_number: int
    """proposedVersionNumber (Integer16)"""
    parameter_cbb: typing.FrozenSet[int]
    """numbers of the bits set (`ParameterCbb`)"""
    services_supported: typing.FrozenSet[int]
    """numbers of the bits set (`ServiceSupport`)"""


class InitiateResponsePdu(typing.NamedTuple):
    """initiate-ResponsePDU [9] (fields as `InitiateRequestPdu`, negotiated
    values)"""
    local_detail_called: typing.Optional[int]
    max_serv_outstanding_calling: int
    max_serv_outstanding_called: int
    data_structure_nesting_level: typing.Optional[int]
    version_number: int
    parameter_cbb: typing.FrozenSet[int]
    services_supported: typing.FrozenSet[int]


class InitiateErrorPdu(typing.NamedTuple):
    """initiate-ErrorPDU [10]"""
    error: ServiceError


class ConcludeRequestPdu(typing.NamedTuple):
    """conclude-RequestPDU [11]"""


class ConcludeResponsePdu(typing.NamedTuple):
    """conclude-ResponsePDU [12]"""


class ConcludeErrorPdu(typing.NamedTuple):
    """conclude-ErrorPDU [13]"""
    error: ServiceError


class ConfirmedRequestPdu(typing.NamedTuple):
    """confirmed-RequestPDU [0]"""
    invoke_id: int
    """Unsigned32"""
    request: common.Request


class ConfirmedResponsePdu(typing.NamedTuple):
    """confirmed-ResponsePDU [1] (an `ErrorResponse` is not a response
    here: send a `ConfirmedErrorPdu`)"""
    invoke_id: int
    response: common.Response


class ConfirmedErrorPdu(typing.NamedTuple):
    """confirmed-ErrorPDU [2]"""
    invoke_id: int
    modifier_position: typing.Optional[int]
    error: ServiceError


class UnconfirmedPdu(typing.NamedTuple):
    """unconfirmed-PDU [3]"""
    unconfirmed: common.Unconfirmed


class RejectPdu(typing.NamedTuple):
    """rejectPDU [4]"""
    original_invoke_id: typing.Optional[int]
    reason: RejectReason
    code: int
    """the reason's code, for example for `RejectReason.CONFIRMED_REQUEST`:
    0 other, 1 unrecognized-service, 2 unrecognized-modifier, 3
    invalid-invokeID, 4 invalid-argument, 5 invalid-modifier, 6
    max-serv-outstanding-exceeded, 8 max-recursion-exceeded, 9
    value-out-of-range"""


class CancelRequestPdu(typing.NamedTuple):
    """cancel-RequestPDU [5]"""
    invoke_id: int


class CancelResponsePdu(typing.NamedTuple):
    """cancel-ResponsePDU [6]"""
    invoke_id: int


class CancelErrorPdu(typing.NamedTuple):
    """cancel-ErrorPDU [7]"""
    invoke_id: int
    error: ServiceError


Pdu: typing.TypeAlias = typing.Union[
    ConfirmedRequestPdu, ConfirmedResponsePdu, ConfirmedErrorPdu,
    UnconfirmedPdu, RejectPdu, CancelRequestPdu, CancelResponsePdu,
    CancelErrorPdu, InitiateRequestPdu, InitiateResponsePdu,
    InitiateErrorPdu, ConcludeRequestPdu, ConcludeResponsePdu,
    ConcludeErrorPdu]
"""MMSpdu"""


class DecodeError(ValueError):
    """Octets that are not an MMS PDU this codec decodes

    The one error class of `decode_pdu` (a `ValueError`); the message names
    the problem.

    """

    def __init__(self,
                 message: str,
                 invoke_id: typing.Optional[int] = None,
                 reject: typing.Optional[RejectPdu] = None):
        super().__init__(message)
        self.invoke_id = invoke_id
        """invoke ID of the PDU, when it could be read"""
        self.reject = reject
        """the RejectPDU answering it (``None`` for a RejectPDU)"""


# --- internal faults -------------------------------------------------------

class _Kind(enum.Enum):
    OTHER = 0
    SERVICE = 1      # unrecognized service
    MODIFIER = 2     # unrecognized modifier
    ARGUMENT = 3     # invalid argument / result / service error
    RECURSION = 4    # max recursion exceeded
    RANGE = 5        # value out of range
    INVOKE_ID = 6    # invalid invoke ID


class _Fault(Exception):

    def __init__(self, kind: _Kind, message: str):
        super().__init__(message)
        self.kind = kind


# reject code of each fault kind, per rejected PDU kind (ISO 9506-2
# RejectPDU); kinds not listed give the reason's "other" or nearest code
_REJECT_CODES: dict[RejectReason, dict[_Kind, int]] = {
    RejectReason.CONFIRMED_REQUEST: {
        _Kind.OTHER: 0, _Kind.SERVICE: 1, _Kind.MODIFIER: 2,
        _Kind.INVOKE_ID: 3, _Kind.ARGUMENT: 4, _Kind.RECURSION: 8,
        _Kind.RANGE: 9},
    RejectReason.CONFIRMED_RESPONSE: {
        _Kind.OTHER: 0, _Kind.SERVICE: 1, _Kind.INVOKE_ID: 2,
        _Kind.ARGUMENT: 3, _Kind.RECURSION: 5, _Kind.RANGE: 6},
    RejectReason.CONFIRMED_ERROR: {
        _Kind.OTHER: 0, _Kind.SERVICE: 1, _Kind.INVOKE_ID: 2,
        _Kind.ARGUMENT: 3, _Kind.RANGE: 4},
    RejectReason.UNCONFIRMED: {
        _Kind.OTHER: 0, _Kind.SERVICE: 1, _Kind.ARGUMENT: 2,
        _Kind.RECURSION: 3, _Kind.RANGE: 4},
    RejectReason.CANCEL_REQUEST: {_Kind.OTHER: 0, _Kind.INVOKE_ID: 1},
    RejectReason.CANCEL_RESPONSE: {_Kind.OTHER: 0, _Kind.INVOKE_ID: 1},
    RejectReason.CANCEL_ERROR: {
        _Kind.OTHER: 0, _Kind.INVOKE_ID: 1, _Kind.ARGUMENT: 2,
        _Kind.RANGE: 3},
    RejectReason.CONCLUDE_REQUEST: {_Kind.OTHER: 0, _Kind.ARGUMENT: 1},
    RejectReason.CONCLUDE_RESPONSE: {_Kind.OTHER: 0, _Kind.ARGUMENT: 1},
    RejectReason.CONCLUDE_ERROR: {
        _Kind.OTHER: 0, _Kind.ARGUMENT: 1, _Kind.RANGE: 2}}

# MMSpdu tag -> reason of a reject answering it
_PDU_REASONS: dict[int, typing.Optional[RejectReason]] = {
    0: RejectReason.CONFIRMED_REQUEST,
    1: RejectReason.CONFIRMED_RESPONSE,
    2: RejectReason.CONFIRMED_ERROR,
    3: RejectReason.UNCONFIRMED,
    4: None,
    5: RejectReason.CANCEL_REQUEST,
    6: RejectReason.CANCEL_RESPONSE,
    7: RejectReason.CANCEL_ERROR,
    8: RejectReason.PDU_ERROR,
    9: RejectReason.PDU_ERROR,
    10: RejectReason.PDU_ERROR,
    11: RejectReason.CONCLUDE_REQUEST,
    12: RejectReason.CONCLUDE_RESPONSE,
    13: RejectReason.CONCLUDE_ERROR}

_CONTEXT = ber.Class.CONTEXT
_UNIVERSAL = ber.Class.UNIVERSAL

_UNSIGNED32_MAX = 0xFFFF_FFFF


# --- encoding helpers ------------------------------------------------------


def _tlv(head: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 128:
        return bytes((head, n)) + contents
    return bytes((head, )) + ber.encode_length(n) + contents


def _int(value: int, what: str) -> bytes:
    if not isinstance(value, int):
        raise TypeError(f'{what}: {value!r} is not an int')
    return ber.encode_integer(value)


def _ranged(value: int, low: int, high: int, what: str) -> bytes:
    if not isinstance(value, int):
        raise TypeError(f'{what}: {value!r} is not an int')
    if not low <= value <= high:
        raise ValueError(f'{what}: {value!r} outside {low}..{high}')
    return ber.encode_integer(value)


def _unsigned32(value: int, what: str) -> bytes:
    return _ranged(value, 0, _UNSIGNED32_MAX, what)


def _bool(value: bool, what: str) -> bytes:
    if not isinstance(value, bool):
        raise TypeError(f'{what}: {value!r} is not a bool')
    return b'\xff' if value else b'\x00'


def _str(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f'{what}: {value!r} is not a str')
    try:
        return value.encode('utf-8')
    except UnicodeEncodeError as e:
        raise ValueError(f'{what}: {e}') from e


def _bits(value: typing.Sequence[bool], what: str) -> bytes:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f'{what}: {value!r} is not a list of bool')
    for bit in value:
        if not isinstance(bit, bool):
            raise TypeError(f'{what}: {bit!r} is not a bool')
    return ber.encode_bit_string(value)


def _bit_set(value: typing.AbstractSet[int], size: int, what: str) -> bytes:
    if not isinstance(value, (set, frozenset)):
        raise TypeError(f'{what}: {value!r} is not a set of bit numbers')
    for bit in value:
        if not isinstance(bit, int) or bit < 0:
            raise ValueError(f'{what}: invalid bit number {bit!r}')
    count = max(size, max(value, default=-1) + 1)
    return ber.encode_bit_string([i in value for i in range(count)])


def _octets(value: common.Bytes, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f'{what}: {value!r} is not bytes-like')
    return bytes(value)


def _oid(value: common.ObjectIdentifier, what: str) -> bytes:
    if not isinstance(value, tuple) or not all(isinstance(i, int)
                                               for i in value):
        raise TypeError(f'{what}: {value!r} is not a tuple of int')
    return ber.encode_object_identifier(value)


# --- decoding helpers ------------------------------------------------------

def _children(e: ber.Element) -> list[ber.Element]:
    if not e.constructed:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not constructed')
    return ber.decode_all(e.contents)


def _name(e: ber.Element) -> str:
    return f'[{e.tag_class.name} {e.tag}]'


def _prim(e: ber.Element) -> memoryview:
    if e.constructed:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not primitive')
    return typing.cast(memoryview, e.contents)


def _d_int(e: ber.Element) -> int:
    c = _prim(e)
    if not c:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)}: empty INTEGER')
    return int.from_bytes(c, 'big', signed=True)


def _d_unsigned(e: ber.Element, high: int = -1) -> int:
    value = _d_int(e)
    if value < 0 or (high >= 0 and value > high):
        raise _Fault(_Kind.RANGE, f'{_name(e)}: {ber.integer_text(value)} '
                                   f'out of range')
    return value


def _d_bool(e: ber.Element) -> bool:
    c = _prim(e)
    if len(c) != 1:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)}: BOOLEAN of {len(c)} '
                                     f'octets')
    return c[0] != 0


def _d_null(e: ber.Element) -> None:
    if _prim(e):
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)}: NULL with contents')


def _d_octets(e: ber.Element) -> memoryview:
    if e.constructed:
        return memoryview(bytes(ber.string_contents(e)))
    return typing.cast(memoryview, e.contents)


def _d_str(e: ber.Element) -> str:
    c = bytes(_d_octets(e))
    try:
        return c.decode('utf-8')
    except UnicodeDecodeError:
        return c.decode('latin-1')


def _d_identifier(e: ber.Element) -> str:
    if e.tag_class != _UNIVERSAL or e.tag != 26:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a VisibleString')
    return _d_str(e)


def _d_oid(e: ber.Element) -> common.ObjectIdentifier:
    return ber.decode_object_identifier(_prim(e))


def _d_bits(e: ber.Element) -> list[bool]:
    return ber.decode_bit_string(_prim(e))


def _d_bit_set(e: ber.Element) -> frozenset[int]:
    return frozenset(i for i, bit in enumerate(_d_bits(e)) if bit)


def _ctx(elements: list[ber.Element]) -> dict[int, ber.Element]:
    """Context-tagged elements of a SEQUENCE by tag number (the first of
    each); other classes are dropped"""
    result: dict[int, ber.Element] = {}
    for e in elements:
        if e.tag_class == _CONTEXT:
            result.setdefault(e.tag, e)
    return result


def _need(elements: dict[int, ber.Element], tag: int,
          what: str) -> ber.Element:
    e = elements.get(tag)
    if e is None:
        raise _Fault(_Kind.ARGUMENT, f'{what} [{tag}] missing')
    return e


def _one(e: ber.Element) -> ber.Element:
    """The single element inside an explicit tag"""
    children = _children(e)
    if len(children) != 1:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)}: {len(children)} elements '
                                     f'in an explicit tag')
    return children[0]


# --- object names and scopes -----------------------------------------------

def _enc_object_name(name: common.ObjectName) -> bytes:
    t = type(name)
    if t is common.DomainSpecificObjectName:
        n = typing.cast(common.DomainSpecificObjectName, name)
        return _tlv(0xa1, _tlv(0x1a, _str(n.domain_id, 'domain_id')) +
                    _tlv(0x1a, _str(n.item_id, 'item_id')))
    if t is common.VmdSpecificObjectName:
        v = typing.cast(common.VmdSpecificObjectName, name)
        return _tlv(0x80, _str(v.identifier, 'identifier'))
    if t is common.AaSpecificObjectName:
        a = typing.cast(common.AaSpecificObjectName, name)
        return _tlv(0x82, _str(a.identifier, 'identifier'))
    raise ValueError(f'not an ObjectName: {name!r}')


def _dec_object_name(e: ber.Element) -> common.ObjectName:
    if e.tag_class == _CONTEXT:
        if e.tag == 1:
            children = _children(e)
            if len(children) != 2:
                raise _Fault(_Kind.ARGUMENT, 'domain-specific name of '
                                             f'{len(children)} elements')
            return common.DomainSpecificObjectName(
                _d_identifier(children[0]), _d_identifier(children[1]))
        if e.tag == 0:
            return common.VmdSpecificObjectName(_d_str(e))
        if e.tag == 2:
            return common.AaSpecificObjectName(_d_str(e))
    raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not an ObjectName')


def _enc_object_scope(scope: common.ObjectScope) -> bytes:
    t = type(scope)
    if t is common.VmdSpecificObjectScope:
        return b'\x80\x00'
    if t is common.DomainSpecificObjectScope:
        d = typing.cast(common.DomainSpecificObjectScope, scope)
        return _tlv(0x81, _str(d.identifier, 'identifier'))
    if t is common.AaSpecificObjectScope:
        return b'\x82\x00'
    raise ValueError(f'not an ObjectScope: {scope!r}')


def _dec_object_scope(e: ber.Element) -> common.ObjectScope:
    if e.tag_class == _CONTEXT:
        if e.tag == 0:
            _d_null(e)
            return common.VmdSpecificObjectScope()
        if e.tag == 1:
            return common.DomainSpecificObjectScope(_d_str(e))
        if e.tag == 2:
            _d_null(e)
            return common.AaSpecificObjectScope()
    raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not an object scope')


_OBJECT_CLASSES = {c.value: c for c in common.ObjectClass
                   if c != common.ObjectClass.UNDEFINED}


def _enc_object_class(object_class: common.ObjectClass) -> bytes:
    if not isinstance(object_class, common.ObjectClass):
        raise TypeError(f'object_class: {object_class!r} is not an '
                        f'ObjectClass')
    if object_class == common.ObjectClass.UNDEFINED:
        raise ValueError('object_class: ObjectClass.UNDEFINED cannot be '
                         'sent (not an MMS object class)')
    return _tlv(0xa0, _tlv(0x80, ber.encode_integer(object_class.value)))


def _dec_object_class(e: ber.Element) -> common.ObjectClass:
    inner = _one(e)
    if inner.tag_class == _CONTEXT and inner.tag == 0:
        return _OBJECT_CLASSES.get(_d_int(inner),
                                   common.ObjectClass.UNDEFINED)
    return common.ObjectClass.UNDEFINED


# --- addresses and type specifications -------------------------------------

def _enc_address(address: typing.Union[int, str, common.Bytes]) -> bytes:
    if isinstance(address, bool):
        raise TypeError(f'address: {address!r} is not int, str or bytes')
    if isinstance(address, int):
        return _tlv(0x80, _unsigned32(address, 'numeric address'))
    if isinstance(address, str):
        return _tlv(0x81, _str(address, 'symbolic address'))
    if isinstance(address, (bytes, bytearray, memoryview)):
        return _tlv(0x82, bytes(address))
    raise TypeError(f'address: {address!r} is not int, str or bytes')


def _dec_address(e: ber.Element) -> typing.Union[int, str, bytes]:
    if e.tag_class == _CONTEXT:
        if e.tag == 0:
            return _d_unsigned(e, _UNSIGNED32_MAX)
        if e.tag == 1:
            return _d_str(e)
        if e.tag == 2:
            return bytes(_d_octets(e))
    raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not an Address')


_OBJECT_NAME_TYPES = (common.VmdSpecificObjectName,
                      common.DomainSpecificObjectName,
                      common.AaSpecificObjectName)


def _enc_type_spec(spec: typing.Union[common.TypeDescription,
                                      common.ObjectName]) -> bytes:
    if type(spec) in _OBJECT_NAME_TYPES:
        return _tlv(0xa0, _enc_object_name(
            typing.cast(common.ObjectName, spec)))
    return _enc_type_description(
        typing.cast(common.TypeDescription, spec))


def _dec_type_spec(e: ber.Element, depth: int
                   ) -> typing.Union[common.TypeDescription,
                                     common.ObjectName]:
    if e.tag_class == _CONTEXT and e.tag == 0:
        return _dec_object_name(_one(e))
    return _dec_type_description(e, depth)


def _enc_type_description(t: common.TypeDescription) -> bytes:
    cls = type(t)
    if cls is common.ArrayTypeDescription:
        a = typing.cast(common.ArrayTypeDescription, t)
        return _tlv(0xa1, _tlv(0x81, _unsigned32(a.number_of_elements,
                                                 'number_of_elements')) +
                    _tlv(0xa2, _enc_type_spec(a.element_type)))
    if cls is common.StructureTypeDescription:
        s = typing.cast(common.StructureTypeDescription, t)
        if not isinstance(s.components, (list, tuple)):
            raise TypeError(f'components: {s.components!r} is not a list')
        components = []
        for component in s.components:
            name, spec = component
            item = b'' if name is None else _tlv(0x80, _str(name, 'name'))
            item += _tlv(0xa1, _enc_type_spec(spec))
            components.append(_tlv(0x30, item))
        return _tlv(0xa2, _tlv(0xa1, b''.join(components)))
    if cls is common.FloatingPointTypeDescription:
        f = typing.cast(common.FloatingPointTypeDescription, t)
        return _tlv(0xa7, _tlv(0x02, _ranged(f.format_width, 0, 255,
                                             'format_width')) +
                    _tlv(0x02, _ranged(f.exponent_width, 0, 255,
                                       'exponent_width')))
    if cls is common.BinaryTimeTypeDescription:
        return _tlv(0x8c, _bool(
            typing.cast(common.BinaryTimeTypeDescription, t).xyz, 'xyz'))
    simple = _SIMPLE_TYPES.get(cls)
    if simple is None:
        raise ValueError(f'not a TypeDescription: {t!r}')
    head, size = simple
    if size is None:
        return bytes((head, 0))
    xyz = typing.cast(int, typing.cast(tuple[typing.Any, ...], t)[0])
    if size == 8:
        return _tlv(head, _ranged(xyz, 0, 255, 'xyz'))
    return _tlv(head, _ranged(xyz, -0x8000_0000, 0x7fff_ffff, 'xyz'))


# TypeDescription class -> (identifier octet, xyz kind: None NULL, 8
# Unsigned8, 32 Integer32)
_SIMPLE_TYPES: dict[type, tuple[int, typing.Optional[int]]] = {
    common.BooleanTypeDescription: (0x83, None),
    common.BitStringTypeDescription: (0x84, 32),
    common.IntegerTypeDescription: (0x85, 8),
    common.UnsignedTypeDescription: (0x86, 8),
    common.OctetStringTypeDescription: (0x89, 32),
    common.VisibleStringTypeDescription: (0x8a, 32),
    common.GeneralizedTimeTypeDescription: (0x8b, None),
    common.BcdTypeDescription: (0x8d, 8),
    common.ObjIdTypeDescription: (0x8f, None),
    common.MmsStringTypeDescription: (0x90, 32),
    common.UtcTimeTypeDescription: (0x91, None)}

_SIMPLE_TYPE_TAGS: dict[int, tuple[type, typing.Optional[int]]] = {
    head & 0x1f: (cls, size) for cls, (head, size) in _SIMPLE_TYPES.items()}


def _dec_type_description(e: ber.Element,
                          depth: int) -> common.TypeDescription:
    if depth <= 0:
        raise _Fault(_Kind.RECURSION, 'type description nested too deep')
    if e.tag_class != _CONTEXT:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a TypeDescription')
    tag = e.tag
    if tag == 1:
        c = _ctx(_children(e))
        return common.ArrayTypeDescription(
            _d_unsigned(_need(c, 1, 'numberOfElements'), _UNSIGNED32_MAX),
            _dec_type_spec(_one(_need(c, 2, 'elementType')), depth - 1))
    if tag == 2:
        c = _ctx(_children(e))
        components: list[tuple[typing.Optional[str],
                               typing.Union[common.TypeDescription,
                                            common.ObjectName]]] = []
        for item in _children(_need(c, 1, 'components')):
            ic = _ctx(_children(item))
            name_e = ic.get(0)
            name = None if name_e is None else _d_str(name_e)
            components.append((name, _dec_type_spec(
                _one(_need(ic, 1, 'componentType')), depth - 1)))
        return common.StructureTypeDescription(components)
    if tag == 7:
        children = _children(e)
        if len(children) != 2:
            raise _Fault(_Kind.ARGUMENT, 'floating-point type of '
                                         f'{len(children)} elements')
        return common.FloatingPointTypeDescription(
            _d_unsigned(children[0], 255), _d_unsigned(children[1], 255))
    if tag == 12:
        return common.BinaryTimeTypeDescription(_d_bool(e))
    simple = _SIMPLE_TYPE_TAGS.get(tag)
    if simple is None:
        raise _Fault(_Kind.ARGUMENT, f'unsupported type description '
                                     f'{_name(e)}')
    cls, size = simple
    if size is None:
        _d_null(e)
        return typing.cast(common.TypeDescription, cls())
    if tag == 16 and e.constructed:
        # the explicit form 0.6.23 sent
        value = _d_int(_one(e))
    elif size == 8:
        value = _d_unsigned(e, 255)
    else:
        value = _d_int(e)
    return typing.cast(common.TypeDescription, cls(value))


# --- variable specifications -----------------------------------------------

def _enc_var_spec(spec: common.VariableSpecification) -> bytes:
    t = type(spec)
    if t is common.NameVariableSpecification:
        return _tlv(0xa0, _enc_object_name(
            typing.cast(common.NameVariableSpecification, spec).name))
    if t is common.AddressVariableSpecification:
        return _tlv(0xa1, _enc_address(
            typing.cast(common.AddressVariableSpecification, spec).address))
    if t is common.VariableDescriptionVariableSpecification:
        v = typing.cast(common.VariableDescriptionVariableSpecification,
                        spec)
        return _tlv(0xa2, _enc_address(v.address) +
                    _enc_type_spec(v.type_specification))
    if t is common.ScatteredAccessDescriptionVariableSpecification:
        s = typing.cast(
            common.ScatteredAccessDescriptionVariableSpecification, spec)
        return _tlv(0xa3, b''.join(
            _tlv(0x30, _tlv(0xa1, _enc_var_spec(i)))
            for i in _list(s.specifications, 'specifications')))
    if t is common.InvalidatedVariableSpecification:
        return b'\x84\x00'
    raise ValueError(f'not a VariableSpecification: {spec!r}')


def _dec_var_spec(e: ber.Element,
                  depth: int) -> common.VariableSpecification:
    if depth <= 0:
        raise _Fault(_Kind.RECURSION, 'variable specification nested too '
                                      'deep')
    if e.tag_class == _CONTEXT:
        tag = e.tag
        if tag == 0:
            return common.NameVariableSpecification(
                _dec_object_name(_one(e)))
        if tag == 1:
            return common.AddressVariableSpecification(
                _dec_address(_one(e)))
        if tag == 2:
            children = _children(e)
            if len(children) != 2:
                raise _Fault(_Kind.ARGUMENT, 'variable description of '
                                             f'{len(children)} elements')
            return common.VariableDescriptionVariableSpecification(
                _dec_address(children[0]),
                _dec_type_spec(children[1], depth - 1))
        if tag == 3:
            specs = []
            for item in _children(e):
                c = _ctx(_children(item))
                if 2 in c:
                    raise _Fault(_Kind.ARGUMENT, 'alternate access is not '
                                                 'supported')
                specs.append(_dec_var_spec(
                    _one(_need(c, 1, 'variableSpecification')), depth - 1))
            return common.ScatteredAccessDescriptionVariableSpecification(
                specs)
        if tag == 4:
            _d_null(e)
            return common.InvalidatedVariableSpecification()
    raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a '
                                 f'VariableSpecification')


def _list(value: typing.Any, what: str) -> list[typing.Any]:
    if not isinstance(value, (list, tuple)):
        raise TypeError(f'{what}: {value!r} is not a list')
    return list(value)


def _enc_list_of_variable(specs: typing.Any) -> bytes:
    # SEQUENCE OF SEQUENCE {variableSpecification, alternateAccess OPT}
    return b''.join(_tlv(0x30, _enc_var_spec(i))
                    for i in _list(specs, 'specification'))


def _dec_list_of_variable(e: ber.Element
                          ) -> list[common.VariableSpecification]:
    result = []
    for item in _children(e):
        children = _children(item)
        if not children:
            raise _Fault(_Kind.ARGUMENT, 'empty listOfVariable item')
        if len(children) > 1:
            raise _Fault(_Kind.ARGUMENT, 'alternate access is not '
                                         'supported')
        result.append(_dec_var_spec(children[0], MAX_DEPTH))
    return result


def _enc_var_access(spec: typing.Any) -> bytes:
    """VariableAccessSpecification (untagged CHOICE)"""
    if type(spec) in _OBJECT_NAME_TYPES:
        return _tlv(0xa1, _enc_object_name(spec))
    if isinstance(spec, (list, tuple)):
        return _tlv(0xa0, _enc_list_of_variable(spec))
    raise TypeError(f'specification: {spec!r} is neither a list of '
                    f'VariableSpecification nor an ObjectName')


def _dec_var_access(e: ber.Element
                    ) -> typing.Union[list[common.VariableSpecification],
                                      common.ObjectName]:
    if e.tag_class == _CONTEXT:
        if e.tag == 0:
            return _dec_list_of_variable(e)
        if e.tag == 1:
            return _dec_object_name(_one(e))
    raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a '
                                 f'VariableAccessSpecification')


# --- data ------------------------------------------------------------------

_F32 = struct.Struct('>Bf')
_F64 = struct.Struct('>Bd')
_UNPACK_F32 = struct.Struct('>f').unpack_from
_UNPACK_F64 = struct.Struct('>d').unpack_from
_U32 = struct.Struct('>I')
_U16 = struct.Struct('>H')
_UTC_HEAD = struct.Struct('>I')

_EPOCH_1984 = datetime.datetime(1984, 1, 1, tzinfo=datetime.timezone.utc)
_EPOCH_1970 = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MS_PER_DAY = 86_400_000

_DataEncoder = typing.Callable[[typing.Any, bool], bytes]


def _enc_data(data: common.Data, double: bool) -> bytes:
    encoder = _DATA_ENCODERS.get(type(data))
    if encoder is None:
        raise ValueError(f'not a Data: {data!r}')
    return encoder(data, double)


def _enc_items(items: typing.Any, double: bool, failures: bool) -> bytes:
    """Encode a SEQUENCE OF Data (of AccessResult if `failures`) contents

    Single-precision floats, the common case, are packed here.

    """
    parts: list[bytes] = []
    append = parts.append
    pack = _FLOAT_DATA.pack
    for i in _list(items, 'data'):
        if type(i) is common.FloatingPointData and not double:
            value = i[0]
            if type(value) is float and (value == 0 or
                                         not -1.2e-38 < value < 1.2e-38):
                try:
                    append(pack(0x87, 5, 8, value))
                    continue
                except OverflowError:
                    pass
        elif failures and isinstance(i, common.DataAccessError):
            append(_enc_data_access_error(i))
            continue
        append(_enc_data(i, double))
    return b''.join(parts)


_FLOAT_DATA = struct.Struct('>BBBf')


def _enc_array(data: common.ArrayData, double: bool) -> bytes:
    return _tlv(0xa1, _enc_items(data.elements, double, False))


def _enc_structure(data: common.StructureData, double: bool) -> bytes:
    return _tlv(0xa2, _enc_items(data.elements, double, False))


def _enc_boolean(data: common.BooleanData, double: bool) -> bytes:
    return b'\x83\x01' + _bool(data.value, 'BooleanData.value')


def _enc_bit_string(data: common.BitStringData, double: bool) -> bytes:
    return _tlv(0x84, _bits(data.value, 'BitStringData.value'))


def _enc_integer(data: common.IntegerData, double: bool) -> bytes:
    value = data.value
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f'IntegerData.value: {value!r} is not an int')
    return _tlv(0x85, ber.encode_integer(value))


def _non_negative(value: int, what: str) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{what}: {value!r} is not an int')
    if value < 0:
        raise ValueError(f'{what}: {value!r} is negative')
    return ber.encode_integer(value)


def _enc_unsigned(data: common.UnsignedData, double: bool) -> bytes:
    return _tlv(0x86, _non_negative(data.value, 'UnsignedData.value'))


def _enc_floating_point(data: common.FloatingPointData,
                        double: bool) -> bytes:
    value = data.value
    if type(value) is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f'FloatingPointData.value: {value!r} is not a '
                            f'float')
        try:
            value = float(value)
        except OverflowError as e:
            raise ValueError(f'FloatingPointData.value: {e}') from e
    if not double:
        try:
            single = _F32.pack(8, value)
        except OverflowError:
            pass
        else:
            if value == 0 or not -1.2e-38 < value < 1.2e-38:
                return b'\x87\x05' + single
            # subnormal in float32: single precision unless it is lost
            if _UNPACK_F32(single, 1)[0] != 0:
                return b'\x87\x05' + single
    return b'\x87\x09' + _F64.pack(11, value)


def _enc_octet_string(data: common.OctetStringData, double: bool) -> bytes:
    return _tlv(0x89, _octets(data.value, 'OctetStringData.value'))


def _enc_visible_string(data: common.VisibleStringData,
                        double: bool) -> bytes:
    return _tlv(0x8a, _str(data.value, 'VisibleStringData.value'))


def _enc_generalized_time(data: common.GeneralizedTimeData,
                          double: bool) -> bytes:
    return _tlv(0x8b, _str(data.value, 'GeneralizedTimeData.value'))


def _time_of_day(value: datetime.datetime, what: str) -> bytes:
    if not isinstance(value, datetime.datetime):
        raise TypeError(f'{what}: {value!r} is not a datetime')
    if value.tzinfo is None or value.utcoffset() is None:
        raise TypeError(f'{what}: {value!r} is not timezone-aware')
    delta = value - _EPOCH_1984
    days = delta.days
    if not 0 <= days <= 0xffff:
        raise ValueError(f'{what}: {value!r} outside 1984-01-01..'
                         f'2163-06-06 (BinaryTime days)')
    ms = delta.seconds * 1000 + delta.microseconds // 1000
    return _U32.pack(ms) + _U16.pack(days)


def _enc_binary_time(data: common.BinaryTimeData, double: bool) -> bytes:
    return b'\x8c\x06' + _time_of_day(data.value, 'BinaryTimeData.value')


def _enc_bcd(data: common.BcdData, double: bool) -> bytes:
    return _tlv(0x8d, _non_negative(data.value, 'BcdData.value'))


def _enc_boolean_array(data: common.BooleanArrayData,
                       double: bool) -> bytes:
    return _tlv(0x8e, _bits(data.value, 'BooleanArrayData.value'))


def _enc_obj_id(data: common.ObjIdData, double: bool) -> bytes:
    return _tlv(0x8f, _oid(data.value, 'ObjIdData.value'))


def _enc_mms_string(data: common.MmsStringData, double: bool) -> bytes:
    return _tlv(0x90, _str(data.value, 'MmsStringData.value'))


def _enc_utc_time(data: common.UtcTimeData, double: bool) -> bytes:
    value = data.value
    if not isinstance(value, datetime.datetime):
        raise TypeError(f'UtcTimeData.value: {value!r} is not a datetime')
    accuracy = data.accuracy
    if accuracy is None:
        quality = 31
    elif (isinstance(accuracy, int) and not isinstance(accuracy, bool) and
            0 <= accuracy <= 24):
        quality = accuracy
    else:
        raise ValueError('invalid UtcTime accuracy')
    if data.leap_second:
        quality |= 0x80
    if data.clock_failure:
        quality |= 0x40
    if data.not_synchronized:
        quality |= 0x20
    if value.tzinfo is None or value.utcoffset() is None:
        # naive: local time, as 0.6.23 (datetime.timestamp)
        value = value.astimezone(datetime.timezone.utc)
    delta = value - _EPOCH_1970
    seconds = delta.days * 86400 + delta.seconds
    fraction = (delta.microseconds * 0x1000000 + 500_000) // 1_000_000
    if fraction > 0xffffff:
        fraction = 0xffffff
    if not 0 <= seconds <= _UNSIGNED32_MAX:
        raise ValueError(f'UtcTimeData.value: {data.value!r} outside '
                         f'1970..2106')
    return (b'\x91\x08' + _U32.pack(seconds) + fraction.to_bytes(3, 'big') +
            bytes((quality, )))


_DATA_ENCODERS: dict[type, _DataEncoder] = {
    common.ArrayData: _enc_array,
    common.StructureData: _enc_structure,
    common.BooleanData: _enc_boolean,
    common.BitStringData: _enc_bit_string,
    common.IntegerData: _enc_integer,
    common.UnsignedData: _enc_unsigned,
    common.FloatingPointData: _enc_floating_point,
    common.OctetStringData: _enc_octet_string,
    common.VisibleStringData: _enc_visible_string,
    common.GeneralizedTimeData: _enc_generalized_time,
    common.BinaryTimeData: _enc_binary_time,
    common.BcdData: _enc_bcd,
    common.BooleanArrayData: _enc_boolean_array,
    common.ObjIdData: _enc_obj_id,
    common.MmsStringData: _enc_mms_string,
    common.UtcTimeData: _enc_utc_time}


def _dec_time_of_day(c: memoryview) -> datetime.datetime:
    size = len(c)
    if size == 6:
        ms = _U32.unpack_from(c)[0]
        days = _U16.unpack_from(c, 4)[0]
    elif size == 4:
        ms = _U32.unpack_from(c)[0]
        days = 0
    else:
        raise _Fault(_Kind.ARGUMENT, f'TimeOfDay of {size} octets')
    if ms >= _MS_PER_DAY:
        raise _Fault(_Kind.RANGE, f'TimeOfDay of {ms} ms')
    return _EPOCH_1984 + datetime.timedelta(days=days, milliseconds=ms)


def _dec_data(e: ber.Element, depth: int) -> common.Data:
    tag = e.tag
    if e.tag_class != _CONTEXT:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a Data')
    if e.constructed:
        if tag == 1 or tag == 2:
            if depth <= 0:
                raise _Fault(_Kind.RECURSION, 'data nested too deep')
            elements = _dec_items(typing.cast(memoryview, e.contents),
                                  depth - 1, False)
            if tag == 1:
                return common.ArrayData(elements)
            return common.StructureData(elements)
        if tag in (9, 10, 11, 16):
            # segmented strings (X.690 8.7.3)
            e = ber.Element(e.tag_class, tag, False,
                            ber.string_contents(e))
        else:
            raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not a Data')
    c = typing.cast(memoryview, e.contents)
    if tag == 7:
        size = len(c)
        if size == 5:
            return common.FloatingPointData(_UNPACK_F32(c, 1)[0])
        if size == 9:
            return common.FloatingPointData(_UNPACK_F64(c, 1)[0])
        raise _Fault(_Kind.ARGUMENT, f'FloatingPoint of {size} octets')
    if tag == 5:
        if not c:
            raise _Fault(_Kind.ARGUMENT, 'empty integer')
        return common.IntegerData(int.from_bytes(c, 'big', signed=True))
    if tag == 3:
        return common.BooleanData(_d_bool(e))
    if tag == 6:
        return common.UnsignedData(_d_unsigned(e))
    if tag == 4:
        return common.BitStringData(_d_bits(e))
    if tag == 9:
        return common.OctetStringData(c)
    if tag == 10:
        return common.VisibleStringData(_d_str(e))
    if tag == 12:
        return common.BinaryTimeData(_dec_time_of_day(c))
    if tag == 17:
        if len(c) != 8:
            raise _Fault(_Kind.ARGUMENT, f'UtcTime of {len(c)} octets')
        seconds = _U32.unpack_from(c)[0]
        fraction = int.from_bytes(c[4:7], 'big')
        quality = c[7]
        us = (fraction * 1_000_000 + 0x800000) >> 24
        accuracy = quality & 0x1f
        return common.UtcTimeData(
            value=_EPOCH_1970 + datetime.timedelta(seconds=seconds,
                                                   microseconds=us),
            leap_second=bool(quality & 0x80),
            clock_failure=bool(quality & 0x40),
            not_synchronized=bool(quality & 0x20),
            accuracy=accuracy if accuracy <= 24 else None)
    if tag == 16:
        return common.MmsStringData(_d_str(e))
    if tag == 11:
        return common.GeneralizedTimeData(_d_str(e))
    if tag == 13:
        return common.BcdData(_d_unsigned(e))
    if tag == 14:
        return common.BooleanArrayData(_d_bits(e))
    if tag == 15:
        return common.ObjIdData(_d_oid(e))
    raise _Fault(_Kind.ARGUMENT, f'unsupported data type {_name(e)}')


_DATA_ACCESS_ERRORS = {i.value: i for i in common.DataAccessError}


def _dec_data_access_error(e: ber.Element) -> common.DataAccessError:
    value = _d_int(e)
    error = _DATA_ACCESS_ERRORS.get(value)
    if error is None:
        raise _Fault(_Kind.RANGE, f'unknown DataAccessError '
                                   f'{ber.integer_text(value)}')
    return error


def _enc_data_access_error(error: common.DataAccessError) -> bytes:
    return _tlv(0x80, ber.encode_integer(error.value))


def _enc_access_results(results: typing.Any, double: bool) -> bytes:
    return _enc_items(results, double, True)


def _dec_access_results(e: ber.Element
                        ) -> list[typing.Union[common.DataAccessError,
                                               common.Data]]:
    if not e.constructed:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not constructed')
    return _dec_items(typing.cast(memoryview, e.contents), MAX_DEPTH, True)


def _dec_data_list(e: ber.Element) -> list[common.Data]:
    if not e.constructed:
        raise _Fault(_Kind.ARGUMENT, f'{_name(e)} is not constructed')
    return typing.cast(list[common.Data],
                       _dec_items(typing.cast(memoryview, e.contents),
                                  MAX_DEPTH, False))


_new = tuple.__new__


def _dec_items(mv: memoryview,
               depth: int,
               failures: bool
               ) -> list[typing.Any]:
    """Decode a SEQUENCE OF Data (or of AccessResult if `failures`)

    The hot path of every read: the common elements (context class, tag
    below 31, definite length of up to 2 length octets) are read here from
    the octets without building `ber.Element` values; anything else (the
    rest of the list from there on) goes through `ber.decode_all`.

    """
    result: list[typing.Any] = []
    append = result.append
    end = len(mv)
    i = 0
    while i + 1 < end:
        b = mv[i]
        n = mv[i + 1]
        start = i + 2
        if n >= 0x80:
            if n == 0x81 and start < end:
                n = mv[start]
                start += 1
            elif n == 0x82 and start + 1 < end:
                n = (mv[start] << 8) | mv[start + 1]
                start += 2
            else:
                break
        stop = start + n
        if stop > end or b & 0xc0 != 0x80 or b & 0x1f == 0x1f:
            break
        if b == 0x87:
            if n == 5:
                append(_new(common.FloatingPointData,
                            _UNPACK_F32(mv, start + 1)))
            elif n == 9:
                append(_new(common.FloatingPointData,
                            _UNPACK_F64(mv, start + 1)))
            else:
                raise _Fault(_Kind.ARGUMENT, f'FloatingPoint of {n} octets')
        elif b == 0x85 and n:
            append(_new(common.IntegerData, (
                int.from_bytes(mv[start:stop], 'big', signed=True), )))
        elif b == 0x83 and n == 1:
            append(_new(common.BooleanData, (mv[start] != 0, )))
        elif b == 0xa2 or b == 0xa1:
            if depth <= 0:
                raise _Fault(_Kind.RECURSION, 'data nested too deep')
            elements = _dec_items(mv[start:stop], depth - 1, False)
            append(_new(common.StructureData if b == 0xa2
                        else common.ArrayData, (elements, )))
        elif b == 0x80 and failures:
            append(_dec_data_access_error(
                _new(ber.Element, (_CONTEXT, 0, False, mv[start:stop]))))
        else:
            append(_dec_data(_new(ber.Element, (_CONTEXT, b & 0x1f,
                                                b & 0x20 != 0,
                                                mv[start:stop])),
                             depth))
        i = stop
    if i < end:
        for e in ber.decode_all(mv[i:]):
            if failures and e.tag == 0 and e.tag_class == _CONTEXT:
                append(_dec_data_access_error(e))
            else:
                append(_dec_data(e, depth))
    return result


# --- service errors ----------------------------------------------------------

_ERROR_CLASSES = [common.ErrorClass.VMD_STATE,
                  common.ErrorClass.APPLICATION_REFERENCE,
                  common.ErrorClass.DEFINITION,
                  common.ErrorClass.RESOURCE,
                  common.ErrorClass.SERVICE,
                  common.ErrorClass.SERVICE_PREEMPT,
                  common.ErrorClass.TIME_RESOLUTION,
                  common.ErrorClass.ACCESS,
                  common.ErrorClass.INITIATE,
                  common.ErrorClass.CONCLUDE,
                  common.ErrorClass.CANCEL,
                  common.ErrorClass.FILE,
                  common.ErrorClass.OTHERS]
_ERROR_CLASS_TAGS = {c: i for i, c in enumerate(_ERROR_CLASSES)}


def _enc_service_error(error: ServiceError) -> bytes:
    if not isinstance(error, ServiceError):
        raise TypeError(f'error: {error!r} is not a ServiceError')
    tag = _ERROR_CLASS_TAGS.get(error.error_class)
    if tag is None:
        raise TypeError(f'error_class: {error.error_class!r} is not an '
                        f'ErrorClass')
    result = _tlv(0xa0, _tlv(0x80 | tag, _int(error.value, 'value')))
    if error.additional_code is not None:
        result += _tlv(0x81, _int(error.additional_code, 'additional_code'))
    if error.additional_description is not None:
        result += _tlv(0x82, _str(error.additional_description,
                                  'additional_description'))
    return result


def _dec_service_error(e: ber.Element) -> ServiceError:
    c = _ctx(_children(e))
    error_class = _one(_need(c, 0, 'errorClass'))
    if (error_class.tag_class != _CONTEXT or
            error_class.tag >= len(_ERROR_CLASSES)):
        raise _Fault(_Kind.ARGUMENT, f'unknown error class '
                                     f'{_name(error_class)}')
    code = c.get(1)
    description = c.get(2)
    return ServiceError(
        error_class=_ERROR_CLASSES[error_class.tag],
        value=_d_int(error_class),
        additional_code=None if code is None else _d_int(code),
        additional_description=(None if description is None
                                else _d_str(description)))


# --- requests --------------------------------------------------------------

def _enc_request(req: common.Request, double: bool) -> bytes:
    t = type(req)
    if t is common.ReadRequest:
        r = typing.cast(common.ReadRequest, req)
        return _tlv(0xa4, _tlv(0xa1, _enc_var_access(r.value)))
    if t is common.WriteRequest:
        w = typing.cast(common.WriteRequest, req)
        return _tlv(0xa5, _enc_var_access(w.specification) +
                    _tlv(0xa0, _enc_items(w.data, double, False)))
    if t is common.StatusRequest:
        return b'\x80\x01\x00'
    if t is common.GetNameListRequest:
        g = typing.cast(common.GetNameListRequest, req)
        contents = (_enc_object_class(g.object_class) +
                    _tlv(0xa1, _enc_object_scope(g.object_scope)))
        if g.continue_after is not None:
            contents += _tlv(0x82, _str(g.continue_after, 'continue_after'))
        return _tlv(0xa1, contents)
    if t is common.IdentifyRequest:
        return b'\x82\x00'
    if t is common.GetVariableAccessAttributesRequest:
        value = typing.cast(common.GetVariableAccessAttributesRequest,
                            req).value
        if type(value) in _OBJECT_NAME_TYPES:
            return _tlv(0xa6, _tlv(0xa0, _enc_object_name(
                typing.cast(common.ObjectName, value))))
        return _tlv(0xa6, _tlv(0xa1, _enc_address(
            typing.cast(typing.Union[int, str, common.Bytes], value))))
    if t is common.GetNamedVariableListAttributesRequest:
        return _tlv(0xac, _enc_object_name(typing.cast(
            common.GetNamedVariableListAttributesRequest, req).value))
    if t is common.DefineNamedVariableListRequest:
        d = typing.cast(common.DefineNamedVariableListRequest, req)
        return _tlv(0xab, _enc_object_name(d.name) +
                    _tlv(0xa0, _enc_list_of_variable(d.specification)))
    if t is common.DeleteNamedVariableListRequest:
        names = _list(typing.cast(common.DeleteNamedVariableListRequest,
                                  req).names, 'names')
        return _tlv(0xad, _tlv(0xa1, b''.join(_enc_object_name(i)
                                              for i in names)))
    raise ValueError(f'not a Request: {req!r}')


def _dec_request(e: ber.Element) -> common.Request:
    if e.tag_class != _CONTEXT:
        raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')
    tag = e.tag
    if tag == 4:
        c = _ctx(_children(e))
        if 0 in c and _d_bool(c[0]):
            raise _Fault(_Kind.ARGUMENT, 'specificationWithResult is not '
                                         'supported')
        return common.ReadRequest(_dec_var_access(
            _one(_need(c, 1, 'variableAccessSpecification'))))
    if tag == 5:
        children = _children(e)
        if len(children) != 2:
            raise _Fault(_Kind.ARGUMENT, f'write request of '
                                         f'{len(children)} elements')
        spec, data = children
        if data.tag_class != _CONTEXT or data.tag != 0:
            raise _Fault(_Kind.ARGUMENT, 'write request without listOfData')
        return common.WriteRequest(_dec_var_access(spec),
                                   _dec_data_list(data))
    if tag == 0:
        _d_bool(e)
        return common.StatusRequest()
    if tag == 1:
        c = _ctx(_children(e))
        after = c.get(2)
        return common.GetNameListRequest(
            object_class=_dec_object_class(_need(c, 0, 'objectClass')),
            object_scope=_dec_object_scope(_one(_need(c, 1,
                                                      'objectScope'))),
            continue_after=None if after is None else _d_str(after))
    if tag == 2:
        _d_null(e)
        return common.IdentifyRequest()
    if tag == 6:
        inner = _one(e)
        if inner.tag_class == _CONTEXT and inner.tag == 0:
            return common.GetVariableAccessAttributesRequest(
                _dec_object_name(_one(inner)))
        if inner.tag_class == _CONTEXT and inner.tag == 1:
            return common.GetVariableAccessAttributesRequest(
                _dec_address(_one(inner)))
        raise _Fault(_Kind.ARGUMENT, f'{_name(inner)} is not a '
                                     f'GetVariableAccessAttributes request')
    if tag == 12:
        return common.GetNamedVariableListAttributesRequest(
            _dec_object_name(_one(e)))
    if tag == 11:
        children = _children(e)
        if len(children) != 2:
            raise _Fault(_Kind.ARGUMENT, 'DefineNamedVariableList request '
                                         f'of {len(children)} elements')
        name, specs = children
        if specs.tag_class != _CONTEXT or specs.tag != 0:
            raise _Fault(_Kind.ARGUMENT, 'DefineNamedVariableList request '
                                         'without listOfVariable')
        return common.DefineNamedVariableListRequest(
            _dec_object_name(name), _dec_list_of_variable(specs))
    if tag == 13:
        c = _ctx(_children(e))
        names = c.get(1)
        return common.DeleteNamedVariableListRequest(
            [] if names is None else
            [_dec_object_name(i) for i in _children(names)])
    raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')


# --- responses -------------------------------------------------------------

def _enc_response(res: common.Response, double: bool) -> bytes:
    t = type(res)
    if t is common.ReadResponse:
        return _tlv(0xa4, _tlv(0xa1, _enc_access_results(
            typing.cast(common.ReadResponse, res).results, double)))
    if t is common.WriteResponse:
        parts = []
        for i in _list(typing.cast(common.WriteResponse, res).results,
                       'results'):
            if i is None:
                parts.append(b'\x81\x00')
            elif isinstance(i, common.DataAccessError):
                parts.append(_enc_data_access_error(i))
            else:
                raise TypeError(f'results: {i!r} is neither None nor a '
                                f'DataAccessError')
        return _tlv(0xa5, b''.join(parts))
    if t is common.StatusResponse:
        s = typing.cast(common.StatusResponse, res)
        return _tlv(0xa0, _tlv(0x80, _int(s.logical, 'logical')) +
                    _tlv(0x81, _int(s.physical, 'physical')))
    if t is common.GetNameListResponse:
        g = typing.cast(common.GetNameListResponse, res)
        return _tlv(0xa1, _tlv(0xa0, b''.join(
            _tlv(0x1a, _str(i, 'identifiers'))
            for i in _list(g.identifiers, 'identifiers'))) +
            _tlv(0x81, _bool(g.more_follows, 'more_follows')))
    if t is common.IdentifyResponse:
        i = typing.cast(common.IdentifyResponse, res)
        contents = (_tlv(0x80, _str(i.vendor, 'vendor')) +
                    _tlv(0x81, _str(i.model, 'model')) +
                    _tlv(0x82, _str(i.revision, 'revision')))
        if i.syntaxes is not None:
            contents += _tlv(0xa3, b''.join(
                _tlv(0x06, _oid(s, 'syntaxes'))
                for s in _list(i.syntaxes, 'syntaxes')))
        return _tlv(0xa2, contents)
    if t is common.GetVariableAccessAttributesResponse:
        g2 = typing.cast(common.GetVariableAccessAttributesResponse, res)
        return _tlv(0xa6, _tlv(0x80, _bool(g2.mms_deletable,
                                           'mms_deletable')) +
                    _tlv(0xa2, _enc_type_description(g2.type_description)))
    if t is common.GetNamedVariableListAttributesResponse:
        g3 = typing.cast(common.GetNamedVariableListAttributesResponse, res)
        return _tlv(0xac, _tlv(0x80, _bool(g3.mms_deletable,
                                           'mms_deletable')) +
                    _tlv(0xa1, _enc_list_of_variable(g3.specification)))
    if t is common.DefineNamedVariableListResponse:
        return b'\x8b\x00'
    if t is common.DeleteNamedVariableListResponse:
        d = typing.cast(common.DeleteNamedVariableListResponse, res)
        return _tlv(0xad, _tlv(0x80, _unsigned32(d.matched, 'matched')) +
                    _tlv(0x81, _unsigned32(d.deleted, 'deleted')))
    if t is common.ErrorResponse:
        raise ValueError('an ErrorResponse is sent as a ConfirmedErrorPdu')
    raise ValueError(f'not a Response: {res!r}')


def _dec_response(e: ber.Element) -> common.Response:
    if e.tag_class != _CONTEXT:
        raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')
    tag = e.tag
    if tag == 4:
        c = _ctx(_children(e))
        return common.ReadResponse(_dec_access_results(
            _need(c, 1, 'listOfAccessResult')))
    if tag == 5:
        results: list[typing.Optional[common.DataAccessError]] = []
        for i in _children(e):
            if i.tag_class == _CONTEXT and i.tag == 1:
                _d_null(i)
                results.append(None)
            elif i.tag_class == _CONTEXT and i.tag == 0:
                results.append(_dec_data_access_error(i))
            else:
                raise _Fault(_Kind.ARGUMENT, f'{_name(i)} is not a write '
                                             f'result')
        return common.WriteResponse(results)
    if tag == 0:
        c = _ctx(_children(e))
        return common.StatusResponse(
            _d_int(_need(c, 0, 'vmdLogicalStatus')),
            _d_int(_need(c, 1, 'vmdPhysicalStatus')))
    if tag == 1:
        c = _ctx(_children(e))
        more = c.get(1)
        return common.GetNameListResponse(
            [_d_identifier(i)
             for i in _children(_need(c, 0, 'listOfIdentifier'))],
            True if more is None else _d_bool(more))
    if tag == 2:
        c = _ctx(_children(e))
        syntaxes = c.get(3)
        return common.IdentifyResponse(
            vendor=_d_str(_need(c, 0, 'vendorName')),
            model=_d_str(_need(c, 1, 'modelName')),
            revision=_d_str(_need(c, 2, 'revision')),
            syntaxes=(None if syntaxes is None else
                      [_d_oid(i) for i in _children(syntaxes)]))
    if tag == 6:
        c = _ctx(_children(e))
        return common.GetVariableAccessAttributesResponse(
            _d_bool(_need(c, 0, 'mmsDeletable')),
            _dec_type_description(_one(_need(c, 2, 'typeDescription')),
                                  MAX_DEPTH))
    if tag == 12:
        c = _ctx(_children(e))
        return common.GetNamedVariableListAttributesResponse(
            _d_bool(_need(c, 0, 'mmsDeletable')),
            _dec_list_of_variable(_need(c, 1, 'listOfVariable')))
    if tag == 11:
        _d_null(e)
        return common.DefineNamedVariableListResponse()
    if tag == 13:
        c = _ctx(_children(e))
        return common.DeleteNamedVariableListResponse(
            _d_unsigned(_need(c, 0, 'numberMatched'), _UNSIGNED32_MAX),
            _d_unsigned(_need(c, 1, 'numberDeleted'), _UNSIGNED32_MAX))
    raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')


# --- unconfirmed -----------------------------------------------------------

def _enc_unconfirmed(unconfirmed: common.Unconfirmed, double: bool) -> bytes:
    t = type(unconfirmed)
    if t is common.InformationReportUnconfirmed:
        r = typing.cast(common.InformationReportUnconfirmed, unconfirmed)
        return _tlv(0xa0, _enc_var_access(r.specification) +
                    _tlv(0xa0, _enc_access_results(r.data, double)))
    if t is common.UnsolicitedStatusUnconfirmed:
        s = typing.cast(common.UnsolicitedStatusUnconfirmed, unconfirmed)
        return _tlv(0xa1, _tlv(0x80, _int(s.logical, 'logical')) +
                    _tlv(0x81, _int(s.physical, 'physical')))
    if t is common.EventNotificationUnconfirmed:
        n = typing.cast(common.EventNotificationUnconfirmed, unconfirmed)
        time = n.time
        if time is None:
            event_time = b'\x82\x00'
        elif isinstance(time, common.BinaryTimeData):
            event_time = b'\x80\x06' + _time_of_day(time.value, 'time')
        elif isinstance(time, bool):
            raise TypeError(f'time: {time!r} is not a valid transition '
                            f'time')
        elif isinstance(time, int):
            event_time = _tlv(0x81, _unsigned32(time, 'time'))
        elif isinstance(time, (bytes, bytearray, memoryview)):
            if len(time) not in (4, 6):
                raise ValueError(f'time: {len(time)} octets (TimeOfDay: 4 '
                                 f'or 6)')
            event_time = _tlv(0x80, bytes(time))
        else:
            raise TypeError(f'time: {time!r} is not a valid transition '
                            f'time')
        return _tlv(0xa2, _tlv(0xa0, _enc_object_name(n.enrollment)) +
                    _tlv(0xa1, _tlv(0xa0, _enc_object_name(n.condition))) +
                    _tlv(0x82, _ranged(n.severity, 0, 255, 'severity')) +
                    _tlv(0xa4, event_time))
    raise ValueError(f'not an Unconfirmed: {unconfirmed!r}')


def _dec_unconfirmed(e: ber.Element) -> common.Unconfirmed:
    if e.tag_class != _CONTEXT:
        raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')
    tag = e.tag
    if tag == 0:
        children = _children(e)
        if len(children) != 2:
            raise _Fault(_Kind.ARGUMENT, 'information report of '
                                         f'{len(children)} elements')
        spec, results = children
        if results.tag_class != _CONTEXT or results.tag != 0:
            raise _Fault(_Kind.ARGUMENT, 'information report without '
                                         'listOfAccessResult')
        return common.InformationReportUnconfirmed(
            _dec_var_access(spec), _dec_access_results(results))
    if tag == 1:
        c = _ctx(_children(e))
        return common.UnsolicitedStatusUnconfirmed(
            _d_int(_need(c, 0, 'vmdLogicalStatus')),
            _d_int(_need(c, 1, 'vmdPhysicalStatus')))
    if tag == 2:
        c = _ctx(_children(e))
        event_time = _one(_need(c, 4, 'transitionTime'))
        time: typing.Union[None, int, common.BinaryTimeData]
        if event_time.tag_class == _CONTEXT and event_time.tag == 0:
            time = common.BinaryTimeData(
                _dec_time_of_day(_prim(event_time)))
        elif event_time.tag_class == _CONTEXT and event_time.tag == 1:
            time = _d_unsigned(event_time, _UNSIGNED32_MAX)
        elif event_time.tag_class == _CONTEXT and event_time.tag == 2:
            _d_null(event_time)
            time = None
        else:
            raise _Fault(_Kind.ARGUMENT, f'{_name(event_time)} is not an '
                                         f'EventTime')
        return common.EventNotificationUnconfirmed(
            enrollment=_dec_object_name(_one(_need(c, 0, 'enrollment'))),
            condition=_dec_event_condition(_one(_need(c, 1, 'condition'))),
            severity=_d_unsigned(_need(c, 2, 'severity'), 255),
            time=time)
    raise _Fault(_Kind.SERVICE, f'unrecognized service {_name(e)}')


def _dec_event_condition(e: ber.Element) -> common.ObjectName:
    # eventConditionName [1] CHOICE {eventCondition [0] ObjectName,
    # undefined [1] IMPLICIT NULL}
    if e.tag_class == _CONTEXT and e.tag == 0:
        return _dec_object_name(_one(e))
    raise _Fault(_Kind.ARGUMENT, 'eventConditionName undefined is not '
                                 'supported')


# --- initiate --------------------------------------------------------------

def _enc_initiate(pdu: typing.Union[InitiateRequestPdu,
                                    InitiateResponsePdu]) -> bytes:
    contents = b''
    if pdu[0] is not None:
        contents += _tlv(0x80, _ranged(pdu[0], -0x8000_0000, 0x7fff_ffff,
                                       'local_detail'))
    contents += _tlv(0x81, _ranged(pdu.max_serv_outstanding_calling,
                                   -0x8000, 0x7fff,
                                   'max_serv_outstanding_calling'))
    contents += _tlv(0x82, _ranged(pdu.max_serv_outstanding_called,
                                   -0x8000, 0x7fff,
                                   'max_serv_outstanding_called'))
    if pdu.data_structure_nesting_level is not None:
        contents += _tlv(0x83, _ranged(pdu.data_structure_nesting_level,
                                       -0x80, 0x7f,
                                       'data_structure_nesting_level'))
    detail = (_tlv(0x80, _ranged(pdu.version_number, -0x8000, 0x7fff,
                                 'version_number')) +
              _tlv(0x81, _bit_set(pdu.parameter_cbb, PARAMETER_CBB_SIZE,
                                  'parameter_cbb')) +
              _tlv(0x82, _bit_set(pdu.services_supported, SERVICES_SIZE,
                                  'services_supported')))
    return contents + _tlv(0xa4, detail)


def _dec_initiate(e: ber.Element) -> tuple[typing.Any, ...]:
    c = _ctx(_children(e))
    local_detail = c.get(0)
    nesting = c.get(3)
    detail = _ctx(_children(_need(c, 4, 'initDetail')))
    return (None if local_detail is None else _d_int(local_detail),
            _d_int(_need(c, 1, 'maxServOutstandingCalling')),
            _d_int(_need(c, 2, 'maxServOutstandingCalled')),
            None if nesting is None else _d_int(nesting),
            _d_int(_need(detail, 0, 'versionNumber')),
            _d_bit_set(_need(detail, 1, 'parameterCBB')),
            _d_bit_set(_need(detail, 2, 'servicesSupported')))


# --- PDUs ------------------------------------------------------------------

def encode_pdu(pdu: Pdu, *, double_floats: bool = False) -> bytes:
    """Encode one MMS PDU (ISO 9506-2 ``MMSpdu``, BER)

    Args:
        pdu: the PDU
        double_floats: send every `FloatingPointData` in double precision
            (default: single precision unless the value needs double; see
            the module documentation)

    Returns:
        the octets of the ``MMSpdu`` value

    Raises:
        TypeError: a field of the wrong type (named in the message)
        ValueError: a field value out of its range, `ObjectClass.UNDEFINED`,
            or an object that is not a PDU, request, response, data... of
            this API

    """
    t = type(pdu)
    if t is ConfirmedRequestPdu:
        p0 = typing.cast(ConfirmedRequestPdu, pdu)
        invoke_id = _unsigned32(p0.invoke_id, 'invoke_id')
        request = (_enc_read_request_fast(p0.request)
                   if type(p0.request) is common.ReadRequest else None)
        if request is None:
            request = _enc_request(p0.request, double_floats)
        return _tlv(0xa0, _tlv(0x02, invoke_id) + request)
    if t is ConfirmedResponsePdu:
        p1 = typing.cast(ConfirmedResponsePdu, pdu)
        return _tlv(0xa1, _tlv(0x02, _unsigned32(p1.invoke_id, 'invoke_id')) +
                    _enc_response(p1.response, double_floats))
    if t is ConfirmedErrorPdu:
        p2 = typing.cast(ConfirmedErrorPdu, pdu)
        contents = _tlv(0x80, _unsigned32(p2.invoke_id, 'invoke_id'))
        if p2.modifier_position is not None:
            contents += _tlv(0x81, _unsigned32(p2.modifier_position,
                                               'modifier_position'))
        return _tlv(0xa2, contents +
                    _tlv(0xa2, _enc_service_error(p2.error)))
    if t is UnconfirmedPdu:
        return _tlv(0xa3, _enc_unconfirmed(
            typing.cast(UnconfirmedPdu, pdu).unconfirmed, double_floats))
    if t is RejectPdu:
        p4 = typing.cast(RejectPdu, pdu)
        contents = b''
        if p4.original_invoke_id is not None:
            contents += _tlv(0x80, _unsigned32(p4.original_invoke_id,
                                               'original_invoke_id'))
        if not isinstance(p4.reason, RejectReason):
            raise TypeError(f'reason: {p4.reason!r} is not a RejectReason')
        return _tlv(0xa4, contents + _tlv(0x80 | p4.reason,
                                          _int(p4.code, 'code')))
    if t is CancelRequestPdu:
        return _tlv(0x85, _unsigned32(
            typing.cast(CancelRequestPdu, pdu).invoke_id, 'invoke_id'))
    if t is CancelResponsePdu:
        return _tlv(0x86, _unsigned32(
            typing.cast(CancelResponsePdu, pdu).invoke_id, 'invoke_id'))
    if t is CancelErrorPdu:
        p7 = typing.cast(CancelErrorPdu, pdu)
        return _tlv(0xa7, _tlv(0x80, _unsigned32(p7.invoke_id,
                                                 'invoke_id')) +
                    _tlv(0xa1, _enc_service_error(p7.error)))
    if t is InitiateRequestPdu:
        return _tlv(0xa8, _enc_initiate(typing.cast(InitiateRequestPdu,
                                                    pdu)))
    if t is InitiateResponsePdu:
        return _tlv(0xa9, _enc_initiate(typing.cast(InitiateResponsePdu,
                                                    pdu)))
    if t is InitiateErrorPdu:
        return _tlv(0xaa, _enc_service_error(
            typing.cast(InitiateErrorPdu, pdu).error))
    if t is ConcludeRequestPdu:
        return b'\x8b\x00'
    if t is ConcludeResponsePdu:
        return b'\x8c\x00'
    if t is ConcludeErrorPdu:
        return _tlv(0xad, _enc_service_error(
            typing.cast(ConcludeErrorPdu, pdu).error))
    raise ValueError(f'not an MMS PDU: {pdu!r}')


# --- fast path of confirmed requests and responses --------------------------
#
# Duplicated hot path: it protects the rows read, read-16 and list-500 of
# benchmarks/bench_mms.py (a Read request and response decode about 3 times
# faster than through the general path). A confirmed-RequestPDU or
# confirmed-ResponsePDU (invokeID of 1 to 5 octets, then one service
# element, definite lengths of at most 2 length octets) is read straight
# from the octets and its service element handed to `_dec_request` /
# `_dec_response`; a Read request whose variableAccessSpecification is a
# listOfVariable of domain-specific names (what IEC 61850 clients send) is
# read here completely. Anything else, and anything that fails, returns
# None and goes through the general path of `decode_pdu`, which then gives
# the same PDU or the `DecodeError` (test_mms_codec.py checks that both
# paths agree).

def _length_at(data: bytes, i: int, end: int) -> tuple[int, int]:
    """(index after the length octets at `i`, length) of a definite length
    of at most 2 length octets, (-1, 0) for anything else"""
    if i >= end:
        return -1, 0
    n = data[i]
    if n < 0x80:
        return i + 1, n
    if n == 0x81 and i + 1 < end:
        return i + 2, data[i + 1]
    if n == 0x82 and i + 2 < end:
        return i + 3, (data[i + 1] << 8) | data[i + 2]
    return -1, 0


def _decode_confirmed_fast(data: bytes) -> typing.Optional[Pdu]:
    end = len(data)
    if end < 6:
        return None
    head = data[0]
    if head != 0xa0 and head != 0xa1:
        return None
    i, n = _length_at(data, 1, end)
    if i < 0 or i + n != end or i + 3 > end or data[i] != 0x02:
        return None
    k = data[i + 1]
    # INTEGER of 1 to 5 octets, 0 to 2**32 - 1
    if (not 1 <= k <= 5 or i + 2 + k >= end or data[i + 2] >= 0x80 or
            (k == 5 and data[i + 2])):
        return None
    invoke_id = int.from_bytes(data[i + 2:i + 2 + k], 'big')
    i += 2 + k
    b = data[i]
    if b & 0xc0 != 0x80 or b & 0x1f == 0x1f:
        return None
    j, n = _length_at(data, i + 1, end)
    if j < 0 or j + n != end:
        return None
    try:
        if head == 0xa0:
            request: typing.Optional[common.Request] = (
                _read_request_fast(data, j, end) if b == 0xa4 else None)
            if request is None:
                request = _dec_request(_new(ber.Element, (
                    _CONTEXT, b & 0x1f, b & 0x20 != 0,
                    memoryview(data)[j:end])))
            return _new(ConfirmedRequestPdu, (invoke_id, request))
        response = _dec_response(_new(ber.Element, (
            _CONTEXT, b & 0x1f, b & 0x20 != 0, memoryview(data)[j:end])))
        return _new(ConfirmedResponsePdu, (invoke_id, response))

    except (_Fault, ber.DecodeError, ValueError, IndexError, OverflowError,
            struct.error):
        return None


def _enc_read_request_fast(req: common.ReadRequest) -> typing.Optional[bytes]:
    """Read-Request of a list of NameVariableSpecification of
    DomainSpecificObjectName with short names (what IEC 61850 clients
    send), or None: the encoding side of `_read_request_fast` (the rows
    read and read-16 of benchmarks/bench_mms.py; test_mms_codec.py checks
    that it gives the octets of the general path)"""
    specs = req.value
    if type(specs) is not list:
        return None
    parts = []
    for spec in specs:
        if type(spec) is not common.NameVariableSpecification:
            return None
        name = spec.name
        if type(name) is not common.DomainSpecificObjectName:
            return None
        domain_id, item_id = name
        if type(domain_id) is not str or type(item_id) is not str:
            return None
        try:
            domain = domain_id.encode('utf-8')
            item = item_id.encode('utf-8')
        except UnicodeEncodeError:
            return None
        n = len(domain) + len(item) + 4
        if n > 0x7b:
            return None
        parts.append(bytes((0x30, n + 4, 0xa0, n + 2, 0xa1, n, 0x1a,
                            len(domain))) + domain +
                     bytes((0x1a, len(item))) + item)
    return _tlv(0xa4, _tlv(0xa1, _tlv(0xa0, b''.join(parts))))


def _text(octets: bytes) -> str:
    try:
        return octets.decode('utf-8')
    except UnicodeDecodeError:
        return octets.decode('latin-1')


def _read_request_fast(data: bytes, i: int, end: int
                       ) -> typing.Optional[common.ReadRequest]:
    """Read-Request contents at data[i:end]: [specificationWithResult
    FALSE,] variableAccessSpecification listOfVariable of
    NameVariableSpecification of DomainSpecificObjectName only"""
    if data[i] == 0x80:
        if i + 3 > end or data[i + 1] != 1 or data[i + 2] != 0:
            return None
        i += 3
    if i >= end or data[i] != 0xa1:
        return None
    i, n = _length_at(data, i + 1, end)
    if i < 0 or i + n != end or i >= end or data[i] != 0xa0:
        return None
    i, n = _length_at(data, i + 1, end)
    if i < 0 or i + n != end:
        return None
    specs = []
    while i < end:
        # SEQUENCE { variableSpecification name [0] { domain-specific [1]
        # { Identifier, Identifier } } }, short lengths only
        if (i + 8 > end or data[i] != 0x30 or data[i + 2] != 0xa0 or
                data[i + 4] != 0xa1 or data[i + 6] != 0x1a):
            return None
        stop = i + 2 + data[i + 1]
        if (data[i + 1] >= 0x80 or data[i + 3] + 2 != data[i + 1] or
                data[i + 5] + 2 != data[i + 3] or stop > end):
            return None
        domain_end = i + 8 + data[i + 7]
        if (data[i + 7] >= 0x80 or domain_end + 2 > stop or
                data[domain_end] != 0x1a or
                domain_end + 2 + data[domain_end + 1] != stop):
            return None
        specs.append(_new(common.NameVariableSpecification, (
            _new(common.DomainSpecificObjectName, (
                _text(data[i + 8:domain_end]),
                _text(data[domain_end + 2:stop]))),)))
        i = stop
    return _new(common.ReadRequest, (specs,))


def decode_pdu(data: common.Bytes) -> Pdu:
    """Decode one MMS PDU (ISO 9506-2 ``MMSpdu``, BER)

    Args:
        data: the octets of exactly one ``MMSpdu`` value

    Returns:
        the PDU

    Raises:
        DecodeError: anything that is not a PDU this codec decodes, with
            the `RejectPdu` that answers it (see the module documentation)

    """
    if type(data) is bytes:
        pdu = _decode_confirmed_fast(data)
        if pdu is not None:
            return pdu
    try:
        e = ber.decode(data)
    except (ber.DecodeError, ValueError, IndexError) as exc:
        raise DecodeError(
            f'not a BER element: {exc}',
            reject=RejectPdu(None, RejectReason.PDU_ERROR, 1)) from exc
    if e.tag_class != _CONTEXT or e.tag not in _PDU_REASONS:
        raise DecodeError(
            f'unknown PDU type {_name(e)}',
            reject=RejectPdu(None, RejectReason.PDU_ERROR, 0))
    tag = e.tag
    invoke_id: typing.Optional[int] = None
    try:
        if tag == 0 or tag == 1:
            children = _children(e)
            if not children:
                raise _Fault(_Kind.ARGUMENT, 'empty PDU')
            first = children[0]
            if first.tag_class != _UNIVERSAL or first.tag != 2:
                raise _Fault(_Kind.ARGUMENT, 'no invokeID')
            value = _d_int(first)
            if not 0 <= value <= _UNSIGNED32_MAX:
                raise _Fault(_Kind.INVOKE_ID, f'invokeID '
                                 f'{ber.integer_text(value)}')
            invoke_id = value
            rest = [i for i in children[1:]
                    if not (i.tag_class == _CONTEXT and i.tag == 79)]
            if tag == 0:
                if rest and rest[0].tag_class == _UNIVERSAL:
                    raise _Fault(_Kind.MODIFIER, 'listOfModifiers is not '
                                                 'supported')
                if len(rest) != 1:
                    raise _Fault(_Kind.ARGUMENT, 'no service')
                return ConfirmedRequestPdu(invoke_id, _dec_request(rest[0]))
            if len(rest) != 1:
                raise _Fault(_Kind.ARGUMENT, 'no service')
            return ConfirmedResponsePdu(invoke_id, _dec_response(rest[0]))
        if tag == 2:
            c = _ctx(_children(e))
            invoke_id = _d_unsigned(_need(c, 0, 'invokeID'),
                                    _UNSIGNED32_MAX)
            position = c.get(1)
            return ConfirmedErrorPdu(
                invoke_id,
                (None if position is None else
                 _d_unsigned(position, _UNSIGNED32_MAX)),
                _dec_service_error(_need(c, 2, 'serviceError')))
        if tag == 3:
            children = [i for i in _children(e)
                        if not (i.tag_class == _CONTEXT and i.tag == 79)]
            if len(children) != 1:
                raise _Fault(_Kind.ARGUMENT, 'no service')
            return UnconfirmedPdu(_dec_unconfirmed(children[0]))
        if tag == 4:
            children = _children(e)
            original = None
            if (children and children[0].tag_class == _CONTEXT and
                    children[0].tag == 0):
                original = _d_unsigned(children.pop(0), _UNSIGNED32_MAX)
                invoke_id = original
            if (len(children) != 1 or
                    children[0].tag_class != _CONTEXT or
                    not 1 <= children[0].tag <= 11):
                raise _Fault(_Kind.ARGUMENT, 'no reject reason')
            return RejectPdu(original, RejectReason(children[0].tag),
                             _d_int(children[0]))
        if tag == 5 or tag == 6:
            invoke_id = _d_unsigned(e, _UNSIGNED32_MAX)
            if tag == 5:
                return CancelRequestPdu(invoke_id)
            return CancelResponsePdu(invoke_id)
        if tag == 7:
            c = _ctx(_children(e))
            invoke_id = _d_unsigned(_need(c, 0, 'originalInvokeID'),
                                    _UNSIGNED32_MAX)
            return CancelErrorPdu(invoke_id, _dec_service_error(
                _need(c, 1, 'serviceError')))
        if tag == 8:
            return InitiateRequestPdu(*_dec_initiate(e))
        if tag == 9:
            return InitiateResponsePdu(*_dec_initiate(e))
        if tag == 10:
            return InitiateErrorPdu(_dec_service_error(e))
        if tag == 11:
            _d_null(e)
            return ConcludeRequestPdu()
        if tag == 12:
            _d_null(e)
            return ConcludeResponsePdu()
        return ConcludeErrorPdu(_dec_service_error(e))
    except _Fault as exc:
        kind = exc.kind
        message = str(exc)
    except (ber.DecodeError, ValueError, IndexError, OverflowError,
            struct.error) as exc:
        # BER contents the types do not allow, dates out of range, ...
        kind = _Kind.ARGUMENT
        message = str(exc) or type(exc).__name__
    reason = _PDU_REASONS[tag]
    if reason is None:
        reject = None
    elif reason == RejectReason.PDU_ERROR:
        reject = RejectPdu(None, reason, 1)
    else:
        reject = RejectPdu(invoke_id, reason,
                           _REJECT_CODES[reason].get(kind, 0))
    raise DecodeError(f'invalid {_PDU_NAMES[tag]}: {message}', invoke_id,
                      reject)


_PDU_NAMES = {0: 'confirmed-RequestPDU', 1: 'confirmed-ResponsePDU',
              2: 'confirmed-ErrorPDU', 3: 'unconfirmed-PDU',
              4: 'rejectPDU', 5: 'cancel-RequestPDU',
              6: 'cancel-ResponsePDU', 7: 'cancel-ErrorPDU',
              8: 'initiate-RequestPDU', 9: 'initiate-ResponsePDU',
              10: 'initiate-ErrorPDU', 11: 'conclude-RequestPDU',
              12: 'conclude-ResponsePDU', 13: 'conclude-ErrorPDU'}
