"""MMS message types (plain data).

The types of ISO 9506-2 (Manufacturing Message Specification, protocol) as
the published Hat API (hat-drivers 0.6.23) defines them: every NamedTuple
keeps its field names and order and has no defaults, every enum keeps its
values (including ``ObjectClass.UNDEFINED == 255`` and the ASN.1 alternative
names as the values of `ErrorClass`).

The "union" names `Request`, `Response`, `Unconfirmed`, `Data`,
`TypeDescription`, `ObjectName`, `ObjectScope` and `VariableSpecification`
are, at run time, empty `abc.ABC` classes with the concrete NamedTuples
registered as virtual subclasses, as in 0.6.23: ``isinstance(x, Data)`` and
``issubclass(IntegerData, Data)`` work, and they are not in the
NamedTuples' MRO. For static type checkers (``typing.TYPE_CHECKING``) the
same names are `typing.TypeAlias` unions of the concrete classes (``A | B``
form), so that ``x: Data = IntegerData(1)`` type-checks and
``isinstance(x, Data)`` narrows; mypy does not follow ``ABC.register``.

How these types map to the PDUs of ISO 9506-2 is the business of
`hat.drivers.mms.codec`.

"""

import abc
import datetime
import enum
import typing

from hat.drivers import acse
from hat.drivers import tpkt


Address = tpkt.Address
"""Address of an association's TCP connection (`hat.drivers.tpkt.Address`,
the same class in every layer; port 102 by default)"""

ConnectionInfo = acse.ConnectionInfo
"""Association information (`hat.drivers.acse.ConnectionInfo`)"""

Bytes: typing.TypeAlias = typing.Union[bytes, bytearray, memoryview]
"""Binary data (``hat.asn1.Bytes`` in 0.6.23)"""

ObjectIdentifier: typing.TypeAlias = typing.Tuple[int, ...]
"""Object identifier as a tuple of arcs, for example ``(1, 0, 9506, 2, 1)``
(``hat.asn1.ObjectIdentifier`` in 0.6.23)"""


# --- enums -----------------------------------------------------------------

class DataAccessError(enum.Enum):
    """DataAccessError (ISO 9506-2 clause 14.4.2): why one variable of a
    Read, Write or InformationReport failed"""
    OBJECT_INVALIDATED = 0
    HARDWARE_FAULT = 1
    TEMPORARILY_UNAVAILABLE = 2
    OBJECT_ACCESS_DENIED = 3
    OBJECT_UNDEFINED = 4
    INVALID_ADDRESS = 5
    TYPE_UNSUPPORTED = 6
    TYPE_INCONSISTENT = 7
    OBJECT_ATTRIBUTE_INCONSISTENT = 8
    OBJECT_ACCESS_UNSUPPORTED = 9
    OBJECT_NON_EXISTENT = 10
    OBJECT_VALUE_INVALID = 11


class ObjectClass(enum.Enum):
    """Object class of GetNameList (ISO 9506-2 ObjectClass,
    ``basicObjectClass``)

    `UNDEFINED` (255) is not an MMS value: it stands for every object class
    this API does not name (a received ``basicObjectClass`` 1, 3-7 or 10-13,
    or a ``csObjectClass``). It is never put on the wire: the codec refuses
    to encode it (0.6.23 sent 255, outside 0..13).

    """
    NAMED_VARIABLE = 0
    NAMED_VARIABLE_LIST = 2
    JOURNAL = 8
    DOMAIN = 9
    UNDEFINED = 255


class ErrorClass(enum.Enum):
    """Class of a ServiceError (ISO 9506-2 clause 7.5.2, ``errorClass``):
    the values are the ASN.1 alternative names"""
    ACCESS = 'access'
    APPLICATION_REFERENCE = 'application-reference'
    CANCEL = 'cancel'
    CONCLUDE = 'conclude'
    DEFINITION = 'definition'
    FILE = 'file'
    INITIATE = 'initiate'
    OTHERS = 'others'
    RESOURCE = 'resource'
    SERVICE = 'service'
    SERVICE_PREEMPT = 'service-preempt'
    TIME_RESOLUTION = 'time-resolution'
    VMD_STATE = 'vmd-state'


# --- the "union" names -----------------------------------------------------

# At run time empty ABC classes (B024: no abstract methods, by design), the
# NamedTuples are registered at the end of the module; for type checkers
# unions of the NamedTuples.
if typing.TYPE_CHECKING:
    ObjectName: typing.TypeAlias = (
        'VmdSpecificObjectName | DomainSpecificObjectName | '
        'AaSpecificObjectName')
    ObjectScope: typing.TypeAlias = (
        'VmdSpecificObjectScope | DomainSpecificObjectScope | '
        'AaSpecificObjectScope')
    TypeDescription: typing.TypeAlias = (
        'ArrayTypeDescription | StructureTypeDescription | '
        'BooleanTypeDescription | BitStringTypeDescription | '
        'IntegerTypeDescription | UnsignedTypeDescription | '
        'FloatingPointTypeDescription | OctetStringTypeDescription | '
        'VisibleStringTypeDescription | '
        'GeneralizedTimeTypeDescription | BinaryTimeTypeDescription | '
        'BcdTypeDescription | ObjIdTypeDescription | '
        'MmsStringTypeDescription | UtcTimeTypeDescription')
    Data: typing.TypeAlias = (
        'ArrayData | StructureData | BooleanData | BitStringData | '
        'IntegerData | UnsignedData | FloatingPointData | '
        'OctetStringData | VisibleStringData | GeneralizedTimeData | '
        'BinaryTimeData | BcdData | BooleanArrayData | ObjIdData | '
        'MmsStringData | UtcTimeData')
    VariableSpecification: typing.TypeAlias = (
        'NameVariableSpecification | AddressVariableSpecification | '
        'VariableDescriptionVariableSpecification | '
        'ScatteredAccessDescriptionVariableSpecification | '
        'InvalidatedVariableSpecification')
    Request: typing.TypeAlias = (
        'StatusRequest | GetNameListRequest | IdentifyRequest | '
        'GetVariableAccessAttributesRequest | '
        'GetNamedVariableListAttributesRequest | ReadRequest | '
        'WriteRequest | DefineNamedVariableListRequest | '
        'DeleteNamedVariableListRequest')
    Response: typing.TypeAlias = (
        'ErrorResponse | StatusResponse | GetNameListResponse | '
        'IdentifyResponse | GetVariableAccessAttributesResponse | '
        'GetNamedVariableListAttributesResponse | ReadResponse | '
        'WriteResponse | DefineNamedVariableListResponse | '
        'DeleteNamedVariableListResponse')
    Unconfirmed: typing.TypeAlias = (
        'InformationReportUnconfirmed | UnsolicitedStatusUnconfirmed '
        '| EventNotificationUnconfirmed')

else:
    class ObjectName(abc.ABC):  # noqa: B024
        """Object name (ISO 9506-2 ObjectName)"""

    class ObjectScope(abc.ABC):  # noqa: B024
        """Object scope of GetNameList"""

    class TypeDescription(abc.ABC):  # noqa: B024
        """Type description (ISO 9506-2 TypeDescription)"""

    class Data(abc.ABC):  # noqa: B024
        """Value of a variable (ISO 9506-2 Data)"""

    class VariableSpecification(abc.ABC):  # noqa: B024
        """Variable specification (ISO 9506-2 VariableSpecification)"""

    class Request(abc.ABC):  # noqa: B024
        """Confirmed service request"""

    class Response(abc.ABC):  # noqa: B024
        """Confirmed service response (or `ErrorResponse`)"""

    class Unconfirmed(abc.ABC):  # noqa: B024
        """Unconfirmed service"""


# --- object names and scopes ----------------------------------------------

class VmdSpecificObjectName(typing.NamedTuple):
    """ObjectName vmd-specific [0]"""
    identifier: str


class DomainSpecificObjectName(typing.NamedTuple):
    """ObjectName domain-specific [1] (domainID, itemID)"""
    domain_id: str
    item_id: str


class AaSpecificObjectName(typing.NamedTuple):
    """ObjectName aa-specific [2]"""
    identifier: str


class VmdSpecificObjectScope(typing.NamedTuple):
    """GetNameList objectScope vmdSpecific [0]"""


class DomainSpecificObjectScope(typing.NamedTuple):
    """GetNameList objectScope domainSpecific [1] (domain identifier)"""
    identifier: str


class AaSpecificObjectScope(typing.NamedTuple):
    """GetNameList objectScope aaSpecific [2]"""


# --- type descriptions -----------------------------------------------------

class ArrayTypeDescription(typing.NamedTuple):
    """TypeDescription array [1] (``packed`` is not supported: sent as the
    default FALSE, ignored on receipt)"""
    number_of_elements: int
    element_type: typing.Union[TypeDescription, ObjectName]
    """typeDescription, or typeName as an object name"""


class StructureTypeDescription(typing.NamedTuple):
    """TypeDescription structure [2] (``packed`` as for arrays)"""
    components: typing.List[typing.Tuple[
        typing.Optional[str],
        typing.Union[TypeDescription, ObjectName]]]
    """(componentName or ``None``, componentType) pairs"""


class BooleanTypeDescription(typing.NamedTuple):
    """TypeDescription boolean [3]"""


class BitStringTypeDescription(typing.NamedTuple):
    """TypeDescription bit-string [4]"""
    xyz: int
    """size in bits (Integer32; negative: variable length up to -xyz)"""


class IntegerTypeDescription(typing.NamedTuple):
    """TypeDescription integer [5]"""
    xyz: int
    """width in bits (Unsigned8)"""


class UnsignedTypeDescription(typing.NamedTuple):
    """TypeDescription unsigned [6]"""
    xyz: int
    """width in bits (Unsigned8)"""


class FloatingPointTypeDescription(typing.NamedTuple):
    """TypeDescription floating-point [7] (32 and 8 for single, 64 and 11
    for double precision)"""
    format_width: int
    exponent_width: int


class OctetStringTypeDescription(typing.NamedTuple):
    """TypeDescription octet-string [9]"""
    xyz: int
    """size in octets (Integer32; negative: variable length)"""


class VisibleStringTypeDescription(typing.NamedTuple):
    """TypeDescription visible-string [10]"""
    xyz: int
    """size in characters (Integer32; negative: variable length)"""


class GeneralizedTimeTypeDescription(typing.NamedTuple):
    """TypeDescription generalized-time [11]"""


class BinaryTimeTypeDescription(typing.NamedTuple):
    """TypeDescription binary-time [12]"""
    xyz: bool
    """``True``: the date is included (6 octets), ``False``: time of day
    only (4 octets)"""


class BcdTypeDescription(typing.NamedTuple):
    """TypeDescription bcd [13]"""
    xyz: int
    """number of digits (Unsigned8)"""


class ObjIdTypeDescription(typing.NamedTuple):
    """TypeDescription objId [15]"""


class MmsStringTypeDescription(typing.NamedTuple):
    """TypeDescription mMSString [16]"""
    xyz: int
    """size in characters (Integer32; negative: variable length)"""


class UtcTimeTypeDescription(typing.NamedTuple):
    """TypeDescription utc-time [17]"""


# --- data ------------------------------------------------------------------

class ArrayData(typing.NamedTuple):
    """Data array [1]"""
    elements: typing.List[Data]


class StructureData(typing.NamedTuple):
    """Data structure [2]"""
    elements: typing.List[Data]


class BooleanData(typing.NamedTuple):
    """Data boolean [3]"""
    value: bool


class BitStringData(typing.NamedTuple):
    """Data bit-string [4] (bit 0 first)"""
    value: typing.List[bool]


class IntegerData(typing.NamedTuple):
    """Data integer [5] (any size)"""
    value: int


class UnsignedData(typing.NamedTuple):
    """Data unsigned [6] (any size, not negative)"""
    value: int


class FloatingPointData(typing.NamedTuple):
    """Data floating-point [7] (IEEE 754 single or double precision on the
    wire: see `hat.drivers.mms.codec`)"""
    value: float


class OctetStringData(typing.NamedTuple):
    """Data octet-string [9] (decoded as a `memoryview`)"""
    value: Bytes


class VisibleStringData(typing.NamedTuple):
    """Data visible-string [10]"""
    value: str


class GeneralizedTimeData(typing.NamedTuple):
    """Data generalized-time [11] (the string as sent, not parsed)"""
    value: str


class BinaryTimeData(typing.NamedTuple):
    """Data binary-time [12] (TimeOfDay: milliseconds since midnight and
    days since 1984-01-01)"""
    value: datetime.datetime
    """timezone-aware; decoded values are UTC"""


class BcdData(typing.NamedTuple):
    """Data bcd [13] (not negative)"""
    value: int


class BooleanArrayData(typing.NamedTuple):
    """Data booleanArray [14]"""
    value: typing.List[bool]


class ObjIdData(typing.NamedTuple):
    """Data objId [15]"""
    value: ObjectIdentifier


class MmsStringData(typing.NamedTuple):
    """Data mMSString [16] (UTF-8 on the wire)"""
    value: str


class UtcTimeData(typing.NamedTuple):
    """Data utc-time [17] (IEC 61850-8-1 UtcTime: seconds since 1970, a
    24-bit binary fraction of a second and a quality octet)"""
    value: datetime.datetime
    """a naive value is taken as local time (as 0.6.23); decoded values
    are UTC"""
    leap_second: bool
    """quality bit 0x80 (IEC 61850: LeapSecondsKnown)"""
    clock_failure: bool
    """quality bit 0x40 (ClockFailure)"""
    not_synchronized: bool
    """quality bit 0x20 (ClockNotSynchronized)"""
    accuracy: typing.Optional[int]
    """number of significant bits of the fraction, 0..24; ``None``:
    unspecified (31 on the wire; 25..30 also decode as ``None``)"""


# --- variable specifications ----------------------------------------------

class NameVariableSpecification(typing.NamedTuple):
    """VariableSpecification name [0]"""
    name: ObjectName


class AddressVariableSpecification(typing.NamedTuple):
    """VariableSpecification address [1]"""
    address: typing.Union[int, str, Bytes]
    """int: numericAddress, str: symbolicAddress, bytes-like:
    unconstrainedAddress"""


class VariableDescriptionVariableSpecification(typing.NamedTuple):
    """VariableSpecification variableDescription [2]"""
    address: typing.Union[int, str, Bytes]
    """as `AddressVariableSpecification.address`"""
    type_specification: typing.Union[TypeDescription, ObjectName]
    """typeDescription, or typeName as an object name"""


class ScatteredAccessDescriptionVariableSpecification(typing.NamedTuple):
    """VariableSpecification scatteredAccessDescription [3] (component names
    and alternate access are not supported)"""
    specifications: typing.List[VariableSpecification]


class InvalidatedVariableSpecification(typing.NamedTuple):
    """VariableSpecification invalidated [4]"""


# --- requests --------------------------------------------------------------

class StatusRequest(typing.NamedTuple):
    """Status request (confirmed service status [0])"""


class GetNameListRequest(typing.NamedTuple):
    """GetNameList request (getNameList [1])"""
    object_class: ObjectClass
    object_scope: ObjectScope
    continue_after: typing.Optional[str]
    """``None``: from the start"""


class IdentifyRequest(typing.NamedTuple):
    """Identify request (identify [2])"""


class GetVariableAccessAttributesRequest(typing.NamedTuple):
    """GetVariableAccessAttributes request (getVariableAccessAttributes
    [6])"""
    value: typing.Union[ObjectName, int, str, Bytes]
    """an object name is sent as ``name``; int, str and bytes-like as an
    ``address`` (numeric, symbolic, unconstrained)"""


class GetNamedVariableListAttributesRequest(typing.NamedTuple):
    """GetNamedVariableListAttributes request
    (getNamedVariableListAttributes [12])"""
    value: ObjectName


class ReadRequest(typing.NamedTuple):
    """Read request (read [4])"""
    value: typing.Union[typing.List[VariableSpecification], ObjectName]
    """a list: listOfVariable; an object name: variableListName"""


class WriteRequest(typing.NamedTuple):
    """Write request (write [5])"""
    specification: typing.Union[typing.List[VariableSpecification],
                                ObjectName]
    """as `ReadRequest.value`"""
    data: typing.List[Data]


class DefineNamedVariableListRequest(typing.NamedTuple):
    """DefineNamedVariableList request (defineNamedVariableList [11])"""
    name: ObjectName
    specification: typing.List[VariableSpecification]


class DeleteNamedVariableListRequest(typing.NamedTuple):
    """DeleteNamedVariableList request (deleteNamedVariableList [13]; sent
    with scopeOfDelete specific)"""
    names: typing.List[ObjectName]


# --- responses -------------------------------------------------------------

class ErrorResponse(typing.NamedTuple):
    """Answer to a confirmed request by a confirmed-ErrorPDU"""
    error_class: ErrorClass
    value: int
    """the integer of the chosen errorClass alternative (for example
    `ErrorClass.ACCESS` 2: object-non-existent)"""


class StatusResponse(typing.NamedTuple):
    """Status response"""
    logical: int
    """vmdLogicalStatus"""
    physical: int
    """vmdPhysicalStatus"""


class GetNameListResponse(typing.NamedTuple):
    """GetNameList response"""
    identifiers: typing.List[str]
    more_follows: bool


class IdentifyResponse(typing.NamedTuple):
    """Identify response"""
    vendor: str
    model: str
    revision: str
    syntaxes: typing.Optional[typing.List[ObjectIdentifier]]
    """listOfAbstractSyntaxes; ``None``: left out"""


class GetVariableAccessAttributesResponse(typing.NamedTuple):
    """GetVariableAccessAttributes response (a received ``address`` is not
    kept)"""
    mms_deletable: bool
    type_description: TypeDescription


class GetNamedVariableListAttributesResponse(typing.NamedTuple):
    """GetNamedVariableListAttributes response"""
    mms_deletable: bool
    specification: typing.List[VariableSpecification]


class ReadResponse(typing.NamedTuple):
    """Read response"""
    results: typing.List[typing.Union[DataAccessError, Data]]
    """one access result per variable: failure or success"""


class WriteResponse(typing.NamedTuple):
    """Write response"""
    results: typing.List[typing.Optional[DataAccessError]]
    """one result per variable; ``None``: success"""


class DefineNamedVariableListResponse(typing.NamedTuple):
    """DefineNamedVariableList response"""


class DeleteNamedVariableListResponse(typing.NamedTuple):
    """DeleteNamedVariableList response"""
    matched: int
    deleted: int


# --- unconfirmed -----------------------------------------------------------

class InformationReportUnconfirmed(typing.NamedTuple):
    """InformationReport (unconfirmed service informationReport [0])"""
    specification: typing.Union[typing.List[VariableSpecification],
                                ObjectName]
    """as `ReadRequest.value`"""
    data: typing.List[typing.Union[DataAccessError, Data]]
    """listOfAccessResult"""


class UnsolicitedStatusUnconfirmed(typing.NamedTuple):
    """UnsolicitedStatus (unsolicitedStatus [1])"""
    logical: int
    physical: int


class EventNotificationUnconfirmed(typing.NamedTuple):
    """EventNotification (eventNotification [2]; currentState,
    notificationLost, alarmAcknowledgmentRule and actionResult are not
    supported)"""
    enrollment: ObjectName
    condition: ObjectName
    severity: int
    time: typing.Optional[typing.Union[Data, int, Bytes]]
    """transitionTime: ``None`` undefined, an int timeSequenceIdentifier,
    a `BinaryTimeData` (or its 4 or 6 raw octets, as 0.6.23 took them)
    timeOfDay; decoded as ``None``, an int or a `BinaryTimeData`"""


if not typing.TYPE_CHECKING:
    _members: dict[type, list[type]] = {
        ObjectName: [VmdSpecificObjectName, DomainSpecificObjectName,
            AaSpecificObjectName],
        ObjectScope: [VmdSpecificObjectScope, DomainSpecificObjectScope,
            AaSpecificObjectScope],
        TypeDescription: [ArrayTypeDescription, StructureTypeDescription,
            BooleanTypeDescription, BitStringTypeDescription,
            IntegerTypeDescription, UnsignedTypeDescription,
            FloatingPointTypeDescription, OctetStringTypeDescription,
            VisibleStringTypeDescription, GeneralizedTimeTypeDescription,
            BinaryTimeTypeDescription, BcdTypeDescription,
            ObjIdTypeDescription, MmsStringTypeDescription,
            UtcTimeTypeDescription],
        Data: [ArrayData, StructureData, BooleanData, BitStringData,
            IntegerData, UnsignedData, FloatingPointData, OctetStringData,
            VisibleStringData, GeneralizedTimeData, BinaryTimeData, BcdData,
            BooleanArrayData, ObjIdData, MmsStringData, UtcTimeData],
        VariableSpecification: [NameVariableSpecification,
            AddressVariableSpecification,
            VariableDescriptionVariableSpecification,
            ScatteredAccessDescriptionVariableSpecification,
            InvalidatedVariableSpecification],
        Request: [StatusRequest, GetNameListRequest, IdentifyRequest,
            GetVariableAccessAttributesRequest,
            GetNamedVariableListAttributesRequest, ReadRequest, WriteRequest,
            DefineNamedVariableListRequest, DeleteNamedVariableListRequest],
        Response: [ErrorResponse, StatusResponse, GetNameListResponse,
            IdentifyResponse, GetVariableAccessAttributesResponse,
            GetNamedVariableListAttributesResponse, ReadResponse,
            WriteResponse, DefineNamedVariableListResponse,
            DeleteNamedVariableListResponse],
        Unconfirmed: [InformationReportUnconfirmed,
            UnsolicitedStatusUnconfirmed, EventNotificationUnconfirmed]}
    for _union, _union_members in _members.items():
        for _member in _union_members:
            _union.register(_member)
    del _members, _union, _union_members, _member
