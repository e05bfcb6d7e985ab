"""hat.drivers.mms published surface against the 0.6.23 reference

Every name of ``mms.__all__``, every NamedTuple's fields in order (no
defaults), every enum member and value, and the ABC "unions" with their
registered members, transcribed from mms-api.md sections 1, 2 and 9.

"""

import abc
import enum
import typing

import pytest

from hat.drivers import acse
from hat.drivers import mms
from hat.drivers import tpkt
from hat.drivers.mms import common
from hat.drivers.mms import connection


# section 1: the association names (Address and ConnectionInfo come from
# common, the others from the connection layer)
CONNECTION_NAMES = {'connect', 'listen', 'Server', 'Connection',
                    'ConnectionInfo', 'RequestCb', 'ConnectionCb',
                    'Address'}

ENUMS = {
    'DataAccessError': {
        'OBJECT_INVALIDATED': 0, 'HARDWARE_FAULT': 1,
        'TEMPORARILY_UNAVAILABLE': 2, 'OBJECT_ACCESS_DENIED': 3,
        'OBJECT_UNDEFINED': 4, 'INVALID_ADDRESS': 5, 'TYPE_UNSUPPORTED': 6,
        'TYPE_INCONSISTENT': 7, 'OBJECT_ATTRIBUTE_INCONSISTENT': 8,
        'OBJECT_ACCESS_UNSUPPORTED': 9, 'OBJECT_NON_EXISTENT': 10,
        'OBJECT_VALUE_INVALID': 11},
    'ObjectClass': {
        'NAMED_VARIABLE': 0, 'NAMED_VARIABLE_LIST': 2, 'JOURNAL': 8,
        'DOMAIN': 9, 'UNDEFINED': 255},
    'ErrorClass': {
        'ACCESS': 'access',
        'APPLICATION_REFERENCE': 'application-reference',
        'CANCEL': 'cancel', 'CONCLUDE': 'conclude',
        'DEFINITION': 'definition', 'FILE': 'file', 'INITIATE': 'initiate',
        'OTHERS': 'others', 'RESOURCE': 'resource', 'SERVICE': 'service',
        'SERVICE_PREEMPT': 'service-preempt',
        'TIME_RESOLUTION': 'time-resolution', 'VMD_STATE': 'vmd-state'}}

# ABC name -> {NamedTuple name: fields in order}
UNIONS = {
    'Request': {
        'StatusRequest': (),
        'GetNameListRequest': ('object_class', 'object_scope',
                               'continue_after'),
        'IdentifyRequest': (),
        'GetVariableAccessAttributesRequest': ('value', ),
        'GetNamedVariableListAttributesRequest': ('value', ),
        'ReadRequest': ('value', ),
        'WriteRequest': ('specification', 'data'),
        'DefineNamedVariableListRequest': ('name', 'specification'),
        'DeleteNamedVariableListRequest': ('names', )},
    'Response': {
        'ErrorResponse': ('error_class', 'value'),
        'StatusResponse': ('logical', 'physical'),
        'GetNameListResponse': ('identifiers', 'more_follows'),
        'IdentifyResponse': ('vendor', 'model', 'revision', 'syntaxes'),
        'GetVariableAccessAttributesResponse': ('mms_deletable',
                                                'type_description'),
        'GetNamedVariableListAttributesResponse': ('mms_deletable',
                                                   'specification'),
        'ReadResponse': ('results', ),
        'WriteResponse': ('results', ),
        'DefineNamedVariableListResponse': (),
        'DeleteNamedVariableListResponse': ('matched', 'deleted')},
    'Unconfirmed': {
        'InformationReportUnconfirmed': ('specification', 'data'),
        'UnsolicitedStatusUnconfirmed': ('logical', 'physical'),
        'EventNotificationUnconfirmed': ('enrollment', 'condition',
                                         'severity', 'time')},
    'Data': {
        'ArrayData': ('elements', ),
        'StructureData': ('elements', ),
        'BooleanData': ('value', ),
        'BitStringData': ('value', ),
        'IntegerData': ('value', ),
        'UnsignedData': ('value', ),
        'FloatingPointData': ('value', ),
        'OctetStringData': ('value', ),
        'VisibleStringData': ('value', ),
        'GeneralizedTimeData': ('value', ),
        'BinaryTimeData': ('value', ),
        'BcdData': ('value', ),
        'BooleanArrayData': ('value', ),
        'ObjIdData': ('value', ),
        'MmsStringData': ('value', ),
        'UtcTimeData': ('value', 'leap_second', 'clock_failure',
                        'not_synchronized', 'accuracy')},
    'TypeDescription': {
        'ArrayTypeDescription': ('number_of_elements', 'element_type'),
        'StructureTypeDescription': ('components', ),
        'BooleanTypeDescription': (),
        'BitStringTypeDescription': ('xyz', ),
        'IntegerTypeDescription': ('xyz', ),
        'UnsignedTypeDescription': ('xyz', ),
        'FloatingPointTypeDescription': ('format_width', 'exponent_width'),
        'OctetStringTypeDescription': ('xyz', ),
        'VisibleStringTypeDescription': ('xyz', ),
        'GeneralizedTimeTypeDescription': (),
        'BinaryTimeTypeDescription': ('xyz', ),
        'BcdTypeDescription': ('xyz', ),
        'ObjIdTypeDescription': (),
        'MmsStringTypeDescription': ('xyz', ),
        'UtcTimeTypeDescription': ()},
    'ObjectName': {
        'AaSpecificObjectName': ('identifier', ),
        'DomainSpecificObjectName': ('domain_id', 'item_id'),
        'VmdSpecificObjectName': ('identifier', )},
    'ObjectScope': {
        'AaSpecificObjectScope': (),
        'DomainSpecificObjectScope': ('identifier', ),
        'VmdSpecificObjectScope': ()},
    'VariableSpecification': {
        'NameVariableSpecification': ('name', ),
        'AddressVariableSpecification': ('address', ),
        'VariableDescriptionVariableSpecification': ('address',
                                                     'type_specification'),
        'ScatteredAccessDescriptionVariableSpecification': (
            'specifications', ),
        'InvalidatedVariableSpecification': ()}}

ALL_NAMES = (CONNECTION_NAMES | set(ENUMS) |
             set(UNIONS) |
             {name for members in UNIONS.values() for name in members})

NAMED_TUPLES = {name: fields for members in UNIONS.values()
                for name, fields in members.items()}


def test_reference_counts():
    # the transcription itself: section 2.1 counts
    assert [len(UNIONS[name]) for name in ('Request', 'Response',
                                           'Unconfirmed', 'Data',
                                           'TypeDescription', 'ObjectName',
                                           'ObjectScope',
                                           'VariableSpecification')] == \
        [9, 10, 3, 16, 15, 3, 3, 5]
    assert len(CONNECTION_NAMES) == 8
    assert len(ALL_NAMES) == 83


# members added after 0.6.23 (hat.drivers.mms.connection)
NEW_NAMES = {'ResponseTimeoutError', 'RejectedError',
             'DEFAULT_RESPONSE_TIMEOUT'}


def test_all_names():
    published = set(mms.__all__)
    assert len(published) == len(mms.__all__)
    # every one of the 83 reference names is published, and the only
    # other names are the new members
    assert ALL_NAMES <= published
    assert published - ALL_NAMES == NEW_NAMES
    for name in published:
        assert hasattr(mms, name)
        if name in (CONNECTION_NAMES | NEW_NAMES) - {'Address',
                                                     'ConnectionInfo'}:
            assert getattr(mms, name) is getattr(connection, name)
        else:
            assert getattr(mms, name) is getattr(common, name)


def test_shared_objects():
    # section 9.3: one Address class, mms.ConnectionInfo is acse's
    assert mms.Address is tpkt.Address
    assert mms.Address('host') == ('host', 102)
    assert mms.Address._field_defaults == {'port': 102}
    assert mms.ConnectionInfo is acse.ConnectionInfo
    assert mms.ConnectionInfo._fields == (
        'local_addr', 'local_tsel', 'local_ssel', 'local_psel',
        'local_ap_title', 'local_ae_qualifier', 'remote_addr', 'remote_tsel',
        'remote_ssel', 'remote_psel', 'remote_ap_title',
        'remote_ae_qualifier')


@pytest.mark.parametrize('name, fields', sorted(NAMED_TUPLES.items()))
def test_named_tuple_fields(name, fields):
    cls = getattr(mms, name)
    assert issubclass(cls, tuple)
    assert cls._fields == fields
    assert cls._field_defaults == {}
    # constructible positionally from its fields
    assert cls(*range(len(fields))) == tuple(range(len(fields)))


@pytest.mark.parametrize('name, members', sorted(ENUMS.items()))
def test_enum_members(name, members):
    cls = getattr(mms, name)
    assert issubclass(cls, enum.Enum)
    assert {m.name: m.value for m in cls} == members
    for member_name, value in members.items():
        assert cls(value) is getattr(cls, member_name)


@pytest.mark.parametrize('name, members', sorted(UNIONS.items()))
def test_abc_unions(name, members):
    cls = getattr(mms, name)
    assert isinstance(cls, abc.ABCMeta)
    assert issubclass(cls, abc.ABC)
    # a class, not a typing.Union alias
    assert typing.get_origin(cls) is None
    for member_name, fields in members.items():
        member = getattr(mms, member_name)
        assert issubclass(member, cls)
        assert isinstance(member(*range(len(fields))), cls)
        # registered, not inherited
        assert cls not in member.__mro__
    # nothing else registered: no member of another union is an instance
    others = set(NAMED_TUPLES) - set(members)
    for other in others:
        assert not issubclass(getattr(mms, other), cls)


def test_error_response_is_a_response_not_a_request():
    res = mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
    assert isinstance(res, mms.Response)
    assert not isinstance(res, mms.Request)
