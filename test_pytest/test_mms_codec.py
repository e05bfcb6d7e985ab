"""Tests of the MMS PDU codec (hat.drivers.mms.codec).

Example-based tests compare with octets written by hand from the ASN.1 of
ISO 9506-2 (tags noted beside each vector), not produced by the encoder, and
with an Initiate-Request as libiec61850 sends it. Property tests
(hypothesis) check that

* decoding arbitrary octets, and valid PDUs with octets changed, returns a
  PDU or raises `DecodeError`, nothing else;
* every PDU built from the types encodes and decodes back to itself
  (floats: exactly, for values representable in the precision sent).

Number of examples per property test: 2000 by default; set the environment
variable ``HAT_DRIVERS_MMS_EXAMPLES`` for a longer run, for example::

    HAT_DRIVERS_MMS_EXAMPLES=100000 .venv/bin/python -m pytest \\
        test_pytest/test_mms_codec.py

"""

import datetime
import math
import os
import re
import struct
import unittest.mock

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import mms
from hat.drivers.mms import codec


EXAMPLES = int(os.environ.get('HAT_DRIVERS_MMS_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 20))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow,
                           hypothesis.HealthCheck.data_too_large])

UTC = datetime.timezone.utc


# --- strategies ------------------------------------------------------------

texts = st.text(max_size=20)
identifiers = st.text(alphabet='abcXYZ09$_', min_size=1, max_size=12)
unsigned32 = st.integers(0, 2**32 - 1)
integer32 = st.integers(-2**31, 2**31 - 1)
unsigned8 = st.integers(0, 255)
big_ints = st.integers(-2**70, 2**70)
octets = st.binary(max_size=20)
bit_lists = st.lists(st.booleans(), max_size=20)


@st.composite
def oids(draw):
    first = draw(st.integers(0, 2))
    second = draw(st.integers(0, 39 if first < 2 else 2**40))
    rest = draw(st.lists(st.integers(0, 2**40), max_size=5))
    return (first, second, *rest)


object_names = st.one_of(
    st.builds(mms.VmdSpecificObjectName, identifiers),
    st.builds(mms.DomainSpecificObjectName, identifiers, identifiers),
    st.builds(mms.AaSpecificObjectName, identifiers))

object_scopes = st.one_of(
    st.builds(mms.VmdSpecificObjectScope),
    st.builds(mms.DomainSpecificObjectScope, identifiers),
    st.builds(mms.AaSpecificObjectScope))

object_classes = st.sampled_from([c for c in mms.ObjectClass
                                  if c != mms.ObjectClass.UNDEFINED])

addresses = st.one_of(unsigned32, texts, octets)

# floats exactly representable in single precision (sent as 5 octets) or
# beyond float32 (sent as 9 octets): both round-trip exactly
single_floats = st.floats(width=32, allow_nan=False)
double_only_floats = st.floats(allow_nan=False, allow_infinity=False).filter(
    lambda x: abs(x) > 3.5e38 or 0 < abs(x) < 1e-46)
floats = st.one_of(single_floats, double_only_floats)

binary_times = st.datetimes(
    min_value=datetime.datetime(1984, 1, 1),
    max_value=datetime.datetime(2163, 6, 5),
    timezones=st.just(UTC)).map(
        lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))

utc_times = st.datetimes(
    min_value=datetime.datetime(1970, 1, 1),
    max_value=datetime.datetime(2106, 2, 6),
    timezones=st.just(UTC))

scalar_data = st.one_of(
    st.builds(mms.BooleanData, st.booleans()),
    st.builds(mms.BitStringData, bit_lists),
    st.builds(mms.IntegerData, big_ints),
    st.builds(mms.UnsignedData, st.integers(0, 2**70)),
    st.builds(mms.FloatingPointData, floats),
    st.builds(mms.OctetStringData, octets),
    st.builds(mms.VisibleStringData, texts),
    # valid GeneralizedTime strings (the codec sends any string as given;
    # Wireshark, in test_mms_codec_wireshark.py, checks the syntax)
    st.builds(mms.GeneralizedTimeData, st.datetimes().map(
        lambda t: f'{t.year:04}{t.month:02}{t.day:02}{t.hour:02}'
                  f'{t.minute:02}{t.second:02}.{t.microsecond // 1000:03}Z')),
    st.builds(mms.BinaryTimeData, binary_times),
    st.builds(mms.BcdData, st.integers(0, 2**40)),
    st.builds(mms.BooleanArrayData, bit_lists),
    st.builds(mms.ObjIdData, oids()),
    st.builds(mms.MmsStringData, texts),
    st.builds(mms.UtcTimeData, utc_times, st.booleans(), st.booleans(),
              st.booleans(), st.one_of(st.none(), st.integers(0, 24))))

data = st.recursive(
    scalar_data,
    lambda children: st.one_of(
        st.builds(mms.ArrayData, st.lists(children, max_size=4)),
        st.builds(mms.StructureData, st.lists(children, max_size=4))),
    max_leaves=12)

simple_type_descriptions = st.one_of(
    st.builds(mms.BooleanTypeDescription),
    st.builds(mms.BitStringTypeDescription, integer32),
    st.builds(mms.IntegerTypeDescription, unsigned8),
    st.builds(mms.UnsignedTypeDescription, unsigned8),
    st.builds(mms.FloatingPointTypeDescription, unsigned8, unsigned8),
    st.builds(mms.OctetStringTypeDescription, integer32),
    st.builds(mms.VisibleStringTypeDescription, integer32),
    st.builds(mms.GeneralizedTimeTypeDescription),
    st.builds(mms.BinaryTimeTypeDescription, st.booleans()),
    st.builds(mms.BcdTypeDescription, unsigned8),
    st.builds(mms.ObjIdTypeDescription),
    st.builds(mms.MmsStringTypeDescription, integer32),
    st.builds(mms.UtcTimeTypeDescription))

type_descriptions = st.recursive(
    simple_type_descriptions,
    lambda children: st.one_of(
        st.builds(mms.ArrayTypeDescription, unsigned32,
                  st.one_of(children, object_names)),
        st.builds(mms.StructureTypeDescription,
                  st.lists(st.tuples(st.one_of(st.none(), identifiers),
                                     st.one_of(children, object_names)),
                           max_size=4))),
    max_leaves=8)

type_specifications = st.one_of(type_descriptions, object_names)

variable_specifications = st.recursive(
    st.one_of(
        st.builds(mms.NameVariableSpecification, object_names),
        st.builds(mms.AddressVariableSpecification, addresses),
        st.builds(mms.VariableDescriptionVariableSpecification, addresses,
                  type_specifications),
        st.builds(mms.InvalidatedVariableSpecification)),
    lambda children: st.builds(
        mms.ScatteredAccessDescriptionVariableSpecification,
        st.lists(children, max_size=3)),
    max_leaves=6)

var_lists = st.lists(variable_specifications, max_size=4)
var_access = st.one_of(var_lists, object_names)
access_results = st.lists(st.one_of(st.sampled_from(mms.DataAccessError),
                                    data),
                          max_size=5)

requests = st.one_of(
    st.builds(mms.StatusRequest),
    st.builds(mms.GetNameListRequest, object_classes, object_scopes,
              st.one_of(st.none(), identifiers)),
    st.builds(mms.IdentifyRequest),
    st.builds(mms.GetVariableAccessAttributesRequest,
              st.one_of(object_names, addresses)),
    st.builds(mms.GetNamedVariableListAttributesRequest, object_names),
    st.builds(mms.ReadRequest, var_access),
    st.builds(mms.WriteRequest, var_access, st.lists(data, max_size=4)),
    st.builds(mms.DefineNamedVariableListRequest, object_names, var_lists),
    st.builds(mms.DeleteNamedVariableListRequest,
              st.lists(object_names, max_size=4)))

responses = st.one_of(
    st.builds(mms.StatusResponse, big_ints, big_ints),
    st.builds(mms.GetNameListResponse, st.lists(identifiers, max_size=5),
              st.booleans()),
    st.builds(mms.IdentifyResponse, texts, texts, texts,
              st.one_of(st.none(), st.lists(oids(), max_size=3))),
    st.builds(mms.GetVariableAccessAttributesResponse, st.booleans(),
              type_descriptions),
    st.builds(mms.GetNamedVariableListAttributesResponse, st.booleans(),
              var_lists),
    st.builds(mms.ReadResponse, access_results),
    st.builds(mms.WriteResponse,
              st.lists(st.one_of(st.none(),
                                 st.sampled_from(mms.DataAccessError)),
                       max_size=5)),
    st.builds(mms.DefineNamedVariableListResponse),
    st.builds(mms.DeleteNamedVariableListResponse, unsigned32, unsigned32))

unconfirmeds = st.one_of(
    st.builds(mms.InformationReportUnconfirmed, var_access, access_results),
    st.builds(mms.UnsolicitedStatusUnconfirmed, big_ints, big_ints),
    st.builds(mms.EventNotificationUnconfirmed, object_names, object_names,
              unsigned8,
              st.one_of(st.none(), unsigned32,
                        st.builds(mms.BinaryTimeData, binary_times))))

service_errors = st.builds(codec.ServiceError,
                           st.sampled_from(mms.ErrorClass), big_ints,
                           st.one_of(st.none(), big_ints),
                           st.one_of(st.none(), texts))

bit_sets = st.frozensets(st.integers(0, 100), max_size=20)


def initiates(cls, detail):
    return st.builds(cls, st.one_of(st.none(), integer32),
                     st.integers(-2**15, 2**15 - 1),
                     st.integers(-2**15, 2**15 - 1),
                     st.one_of(st.none(), st.integers(-128, 127)),
                     st.integers(-2**15, 2**15 - 1), bit_sets, bit_sets)


pdus = st.one_of(
    st.builds(codec.ConfirmedRequestPdu, unsigned32, requests),
    st.builds(codec.ConfirmedResponsePdu, unsigned32, responses),
    st.builds(codec.ConfirmedErrorPdu, unsigned32,
              st.one_of(st.none(), unsigned32), service_errors),
    st.builds(codec.UnconfirmedPdu, unconfirmeds),
    st.builds(codec.RejectPdu, st.one_of(st.none(), unsigned32),
              st.sampled_from(codec.RejectReason), st.integers(0, 20)),
    st.builds(codec.CancelRequestPdu, unsigned32),
    st.builds(codec.CancelResponsePdu, unsigned32),
    st.builds(codec.CancelErrorPdu, unsigned32, service_errors),
    initiates(codec.InitiateRequestPdu, None),
    initiates(codec.InitiateResponsePdu, None),
    st.builds(codec.InitiateErrorPdu, service_errors),
    st.builds(codec.ConcludeRequestPdu),
    st.builds(codec.ConcludeResponsePdu),
    st.builds(codec.ConcludeErrorPdu, service_errors))


def decode_or_error(octets):
    try:
        return codec.decode_pdu(octets)
    except codec.DecodeError as e:
        assert str(e)
        if e.reject is not None:
            # the answer to it can be sent
            codec.encode_pdu(e.reject)
        return e


# --- properties ------------------------------------------------------------

@property_timeout
@settings
@hypothesis.given(pdus)
def test_round_trip(pdu):
    encoded = codec.encode_pdu(pdu)
    assert codec.decode_pdu(encoded) == pdu
    # decoding does not depend on the buffer type
    assert codec.decode_pdu(memoryview(bytearray(encoded))) == pdu


@property_timeout
@settings
@hypothesis.given(pdus)
def test_association_pdu_element_matches_ber_decode(pdu):
    # the association's fast path from encoded PDU to BER element (bench
    # rows read, read-16) gives what ber.decode gives
    from hat.drivers import ber
    from hat.drivers.mms import connection
    encoded = codec.encode_pdu(pdu)
    element = connection._pdu_element(encoded)
    assert element == ber.decode(encoded)
    assert type(element) is ber.Element
    assert type(element.tag_class) is ber.Class
    assert ber.encode(element) == encoded


@property_timeout
@settings
@hypothesis.given(pdus)
def test_round_trip_double_floats(pdu):
    assert codec.decode_pdu(codec.encode_pdu(pdu,
                                             double_floats=True)) == pdu


@property_timeout
@settings
@hypothesis.given(st.binary(max_size=200))
def test_arbitrary_octets(octets):
    decode_or_error(octets)


@property_timeout
@settings
@hypothesis.given(st.binary(max_size=100))
def test_arbitrary_octets_in_a_pdu(octets):
    # arbitrary contents under each PDU tag and each confirmed service tag
    for head in [*range(0x80, 0x8e), *range(0xa0, 0xae)]:
        result = decode_or_error(bytes([head, len(octets)]) + octets)
        if isinstance(result, codec.DecodeError):
            assert (result.reject is None) == (head & 0x1f == 4)
    for tag in range(0x80, 0xb2):
        body = b'\x02\x01\x07' + bytes([tag, len(octets)]) + octets
        for pdu_head in (0xa0, 0xa1, 0xa3):
            decode_or_error(bytes([pdu_head, len(body)]) + body)


@property_timeout
@settings
@hypothesis.given(pdus, st.data())
def test_changed_octets(pdu, draw):
    encoded = bytearray(codec.encode_pdu(pdu))
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, len(encoded) - 1))
        encoded[i] = draw.draw(st.integers(0, 255))
    cut = draw.draw(st.integers(0, len(encoded)))
    decode_or_error(bytes(encoded))
    decode_or_error(bytes(encoded[:cut]))


# --- byte vectors (hand-encoded from the ISO 9506-2 ASN.1) -----------------

def domain(item):
    return mms.DomainSpecificObjectName('LD', item)


VECTORS = [
    # confirmed-RequestPDU [0] {invokeID 1, read [4] {
    #   variableAccessSpecification [1] {listOfVariable [0] {SEQUENCE {
    #   name [0] {domain-specific [1] {"LD", "LLN0$ST"}}}}}}}
    ('a01c020101'
     'a417a115a0133011a00fa10d1a024c441a074c4c4e30245354',
     codec.ConfirmedRequestPdu(1, mms.ReadRequest(
         [mms.NameVariableSpecification(domain('LLN0$ST'))]))),
    # read by variableListName [1] {vmd-specific [0] "DS"}
    ('a00d020102a408a106a10480024453',
     codec.ConfirmedRequestPdu(2, mms.ReadRequest(
         mms.VmdSpecificObjectName('DS')))),
    # status [0] IMPLICIT BOOLEAN false
    ('a006020103800100',
     codec.ConfirmedRequestPdu(3, mms.StatusRequest())),
    # identify [2] IMPLICIT NULL
    ('a0050201048200',
     codec.ConfirmedRequestPdu(4, mms.IdentifyRequest())),
    # getNameList [1] {objectClass [0] {basicObjectClass [0] 9 (domain)},
    #   objectScope [1] {vmdSpecific [0] NULL}}
    ('a00e020105a109a003800109a1028000',
     codec.ConfirmedRequestPdu(5, mms.GetNameListRequest(
         mms.ObjectClass.DOMAIN, mms.VmdSpecificObjectScope(), None))),
    # getNameList: namedVariable (0) in domainSpecific [1] "LD",
    #   continueAfter [2] "x"
    ('a013020106a10ea003800100a10481024c44820178',
     codec.ConfirmedRequestPdu(6, mms.GetNameListRequest(
         mms.ObjectClass.NAMED_VARIABLE,
         mms.DomainSpecificObjectScope('LD'), 'x'))),
    # getVariableAccessAttributes [6] {name [0] {domain-specific [1]}}
    ('a014020107a60fa00da10b1a024c441a054c4c4e3024',
     codec.ConfirmedRequestPdu(7, mms.GetVariableAccessAttributesRequest(
         domain('LLN0$')))),
    # write [5] {listOfVariable [0] {...name "LD"/"X"}, listOfData [0]
    #   {boolean [3] TRUE}}
    ('a01a020108a515a00e300ca00aa1081a024c441a025859a0038301ff',
     codec.ConfirmedRequestPdu(8, mms.WriteRequest(
         [mms.NameVariableSpecification(domain('XY'))],
         [mms.BooleanData(True)]))),
    # confirmed-ResponsePDU [1] {invokeID 1, read [4] {listOfAccessResult
    #   [1] {floating-point [7] 08 3fc00000 (1.5), failure [0] 10,
    #   bit-string [4] 06 ffc0 (10 bits), binary-time [12] ms 43200123
    #   days 14610 (2024-01-01 12:00:00.123)}}}
    ('a11e020101a419a1178705083fc0000080010a840306ffc08c0602932e7b3912',
     codec.ConfirmedResponsePdu(1, mms.ReadResponse([
         mms.FloatingPointData(1.5),
         mms.DataAccessError.OBJECT_NON_EXISTENT,
         mms.BitStringData([True] * 10),
         mms.BinaryTimeData(datetime.datetime(2024, 1, 1, 12, 0, 0, 123000,
                                              tzinfo=UTC))]))),
    # read response: utc-time [17] 2024-01-01T00:00:00.5Z (1704067200 =
    #   0x65920080, fraction 0x800000), quality 0x2a (not synchronized,
    #   accuracy 10); unsigned [6] 255 (00 ff); integer [5] -1
    ('a118020101a413a1119108659200808000002a860200ff8501ff',
     codec.ConfirmedResponsePdu(1, mms.ReadResponse([
         mms.UtcTimeData(datetime.datetime(2024, 1, 1, 0, 0, 0, 500000,
                                           tzinfo=UTC),
                         False, False, True, 10),
         mms.UnsignedData(255),
         mms.IntegerData(-1)]))),
    # write response [5] {success [1] NULL, failure [0] 3}
    ('a10a020101a5058100800103',
     codec.ConfirmedResponsePdu(1, mms.WriteResponse(
         [None, mms.DataAccessError.OBJECT_ACCESS_DENIED]))),
    # getNameList response [1] {listOfIdentifier [0] {"A", "B"},
    #   moreFollows [1] FALSE}
    ('a110020109a10ba0061a01411a0142810100',
     codec.ConfirmedResponsePdu(9, mms.GetNameListResponse(['A', 'B'],
                                                           False))),
    # identify response [2] {vendorName [0] "v", modelName [1] "m",
    #   revision [2] "1"}
    ('a10e020101a20980017681016d820131',
     codec.ConfirmedResponsePdu(1, mms.IdentifyResponse('v', 'm', '1',
                                                        None))),
    # getVariableAccessAttributes response [6] {mmsDeletable [0] FALSE,
    #   typeDescription [2] {structure [2] {components [1] {SEQUENCE {
    #   componentName [0] "f", componentType [1] {floating-point [7]
    #   {32, 8}}}}}}}
    ('a11d020101a618800100a213a211a10f300d800166a108a706020120020108',
     codec.ConfirmedResponsePdu(1, mms.GetVariableAccessAttributesResponse(
         False, mms.StructureTypeDescription([
             ('f', mms.FloatingPointTypeDescription(32, 8))])))),
    # mMSString [16] IMPLICIT Integer32 -255, visible-string [10] 65
    ('a10e020101a6098001ffa2049002ff01',
     codec.ConfirmedResponsePdu(1, mms.GetVariableAccessAttributesResponse(
         True, mms.MmsStringTypeDescription(-255)))),
    # confirmed-ErrorPDU [2] {invokeID [0] 1, serviceError [2] {errorClass
    #   [0] {access [7] 2}, additionalCode [1] 5, additionalDescription [2]
    #   "d"}}
    ('a210800101a20ba003870102810105820164',
     codec.ConfirmedErrorPdu(1, None, codec.ServiceError(
         mms.ErrorClass.ACCESS, 2, 5, 'd'))),
    # unconfirmed-PDU [3] {informationReport [0] {variableListName [1]
    #   {vmd-specific [0] "RPT"}, listOfAccessResult [0] {visible-string
    #   [10] "id"}}}
    ('a30fa00da1058003525054a0048a026964',
     codec.UnconfirmedPdu(mms.InformationReportUnconfirmed(
         mms.VmdSpecificObjectName('RPT'),
         [mms.VisibleStringData('id')]))),
    # unconfirmed-PDU [3] {eventNotification [2] {eventEnrollmentName [0]
    #   {vmd-specific [0] "e"}, eventConditionName [1] {eventCondition [0]
    #   {vmd-specific [0] "c"}}, severity [2] 1, transitionTime [4]
    #   {undefined [2] NULL}}}
    ('a315a213a003800165a105a003800163820101a4028200',
     codec.UnconfirmedPdu(mms.EventNotificationUnconfirmed(
         mms.VmdSpecificObjectName('e'), mms.VmdSpecificObjectName('c'), 1,
         None))),
    # rejectPDU [4] {originalInvokeID [0] 5, confirmed-requestPDU [1] 1}
    ('a406800105810101',
     codec.RejectPdu(5, codec.RejectReason.CONFIRMED_REQUEST, 1)),
    ('8b00', codec.ConcludeRequestPdu()),
    ('8c00', codec.ConcludeResponsePdu()),
    ('850107', codec.CancelRequestPdu(7)),
    ('860107', codec.CancelResponsePdu(7)),
    # initiate-RequestPDU [8] modelled on libiec61850's: localDetailCalling
    #   [0] 65000, maxServOutstandingCalling [1] 5, ...Called [2] 5,
    #   nesting [3] 10, initRequestDetail [4] {version [0] 1, CBB [1] f100
    #   (11 bits: str1 str2 vnam valt vlis), services [2]
    #   ee1c00000408000079ef18 (85 bits)}
    ('a826800300fde881010582010583010aa416800101810305f100'
     '820c03ee1c00000408000079ef18',
     codec.InitiateRequestPdu(
         65000, 5, 5, 10, 1, frozenset([0, 1, 2, 3, 7]),
         frozenset(i for i, bit in enumerate(
             bin(int('ee1c00000408000079ef18', 16))[2:].zfill(88)[:85])
             if bit == '1'))),
]


@pytest.mark.parametrize('hex_octets, pdu', VECTORS)
def test_vector_decode(hex_octets, pdu):
    assert codec.decode_pdu(bytes.fromhex(hex_octets)) == pdu


@pytest.mark.parametrize('hex_octets, pdu', VECTORS)
def test_vector_encode(hex_octets, pdu):
    assert codec.encode_pdu(pdu).hex() == hex_octets


def test_initiate_services_of_libiec61850():
    pdu = codec.decode_pdu(bytes.fromhex(VECTORS[-1][0]))
    supported = pdu.services_supported
    for service in (codec.ServiceSupport.STATUS,
                    codec.ServiceSupport.GET_NAME_LIST,
                    codec.ServiceSupport.IDENTIFY,
                    codec.ServiceSupport.READ,
                    codec.ServiceSupport.WRITE,
                    codec.ServiceSupport.GET_VARIABLE_ACCESS_ATTRIBUTES,
                    codec.ServiceSupport.DEFINE_NAMED_VARIABLE_LIST,
                    codec.ServiceSupport.GET_NAMED_VARIABLE_LIST_ATTRIBUTES,
                    codec.ServiceSupport.DELETE_NAMED_VARIABLE_LIST,
                    codec.ServiceSupport.INFORMATION_REPORT,
                    codec.ServiceSupport.CONCLUDE,
                    codec.ServiceSupport.CANCEL):
        assert service in supported


# --- data details ----------------------------------------------------------

def read_response_data(*data, double_floats=False):
    pdu = codec.ConfirmedResponsePdu(1, mms.ReadResponse(list(data)))
    encoded = codec.encode_pdu(pdu, double_floats=double_floats)
    return encoded, codec.decode_pdu(encoded).response.results


def test_float_single_by_default():
    encoded, [result] = read_response_data(mms.FloatingPointData(0.1))
    assert encoded.endswith(b'\x87\x05\x08' + struct.pack('>f', 0.1))
    assert result.value == struct.unpack('>f', struct.pack('>f', 0.1))[0]


def test_float_double_when_needed():
    for value in (1e300, -1e300, 1e-300):
        encoded, [result] = read_response_data(mms.FloatingPointData(value))
        assert encoded.endswith(b'\x87\x09\x0b' + struct.pack('>d', value))
        assert result.value == value


def test_float_double_option():
    encoded, [result] = read_response_data(mms.FloatingPointData(0.1),
                                           double_floats=True)
    assert encoded.endswith(b'\x87\x09\x0b' + struct.pack('>d', 0.1))
    assert result.value == 0.1


def test_float_infinities_and_nan():
    _, results = read_response_data(mms.FloatingPointData(math.inf),
                                    mms.FloatingPointData(-math.inf),
                                    mms.FloatingPointData(math.nan))
    assert results[0].value == math.inf
    assert results[1].value == -math.inf
    assert math.isnan(results[2].value)


def test_float_decode_double():
    # a double-precision value received (0.6.23 closed the association)
    octets = bytes.fromhex('a112020101a40da10b87090b') + \
        struct.pack('>d', 0.1)
    assert codec.decode_pdu(octets).response.results == \
        [mms.FloatingPointData(0.1)]


def test_binary_time_milliseconds():
    t = datetime.datetime(1984, 1, 2, 0, 0, 1, 1000, tzinfo=UTC)
    encoded, [result] = read_response_data(mms.BinaryTimeData(t))
    # 1001 ms, day 1
    assert encoded.endswith(bytes.fromhex('8c06000003e90001'))
    assert result.value == t


def test_binary_time_four_octets():
    octets = bytes.fromhex('a10d020101a408a1068c04000003e9')
    [result] = codec.decode_pdu(octets).response.results
    assert result.value == datetime.datetime(1984, 1, 1, 0, 0, 1, 1000,
                                             tzinfo=UTC)


def test_binary_time_other_timezone():
    tz = datetime.timezone(datetime.timedelta(hours=2))
    t = datetime.datetime(2000, 1, 1, 2, 0, tzinfo=tz)
    _, [result] = read_response_data(mms.BinaryTimeData(t))
    assert result.value == t
    assert result.value.tzinfo == UTC


@pytest.mark.parametrize('value, error', [
    (datetime.datetime(2000, 1, 1), TypeError),
    (datetime.datetime(1983, 12, 31, tzinfo=UTC), ValueError),
    (datetime.datetime(2200, 1, 1, tzinfo=UTC), ValueError)])
def test_binary_time_invalid(value, error):
    with pytest.raises(error):
        codec.encode_pdu(codec.UnconfirmedPdu(mms.InformationReportUnconfirmed(
            mms.VmdSpecificObjectName('x'), [mms.BinaryTimeData(value)])))


def test_utc_time_accuracy():
    t = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    for accuracy in (25, -1, 31):
        with pytest.raises(ValueError, match='invalid UtcTime accuracy'):
            read_response_data(mms.UtcTimeData(t, False, False, False,
                                               accuracy))
    # 25..31 on the wire decode as None
    for quality in (25, 30, 31, 0xff):
        octets = bytes.fromhex('a111020101a40ca10a9108') + \
            bytes.fromhex('65920080000000') + bytes([quality])
        [result] = codec.decode_pdu(octets).response.results
        assert result.accuracy is None
        assert result.leap_second == bool(quality & 0x80)


@pytest.mark.parametrize('data', [mms.UnsignedData(-1), mms.BcdData(-5)])
def test_unsigned_negative(data):
    with pytest.raises(ValueError, match='negative'):
        read_response_data(data)


@pytest.mark.parametrize('tag', [0x86, 0x8d])
def test_unsigned_negative_received(tag):
    octets = bytes.fromhex('a10a020101a405a103') + bytes([tag, 1, 0xff])
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    # value-out-of-range of confirmed-responsePDU
    assert e.value.reject == codec.RejectPdu(
        1, codec.RejectReason.CONFIRMED_RESPONSE, 6)


def test_octet_string_memoryview():
    _, [result] = read_response_data(mms.OctetStringData(b'\x01\x02'))
    assert isinstance(result.value, memoryview)
    assert result.value == b'\x01\x02'


def test_visible_string_latin1_received():
    octets = bytes.fromhex('a10b020101a406a1048a02b043')
    [result] = codec.decode_pdu(octets).response.results
    assert result == mms.VisibleStringData('\xb0C')


def test_mms_string_type_description_explicit_form():
    # 0.6.23 sent mMSString [16] as a constructed B0 wrapping an INTEGER
    octets = bytes.fromhex('a10f020101a60a800100a205b003020120')
    assert codec.decode_pdu(octets).response == \
        mms.GetVariableAccessAttributesResponse(
            False, mms.MmsStringTypeDescription(32))


# --- object class (M8) -----------------------------------------------------

def test_object_class_undefined_not_sent():
    pdu = codec.ConfirmedRequestPdu(1, mms.GetNameListRequest(
        mms.ObjectClass.UNDEFINED, mms.VmdSpecificObjectScope(), None))
    with pytest.raises(ValueError, match='UNDEFINED'):
        codec.encode_pdu(pdu)


@pytest.mark.parametrize('object_class', [
    'a003800101',      # scatteredAccess (1)
    'a00380010a',      # programInvocation (10)
    'a003800166',      # out of 0..13
    'a003810100'])     # csObjectClass [1]
def test_object_class_unnamed_received(object_class):
    body = object_class + 'a1028000'
    body = 'a1' + f'{len(body) // 2:02x}' + body
    body = '020101' + body
    octets = bytes.fromhex('a0' + f'{len(body) // 2:02x}' + body)
    assert codec.decode_pdu(octets).request.object_class == \
        mms.ObjectClass.UNDEFINED


# --- rejects ---------------------------------------------------------------

def test_reject_unrecognized_service():
    # getCapabilityList [71] (a high tag number) with invoke ID 9
    octets = bytes.fromhex('a007020109bf470100')
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.invoke_id == 9
    assert e.value.reject == codec.RejectPdu(
        9, codec.RejectReason.CONFIRMED_REQUEST, 1)
    # the reject itself encodes
    assert codec.encode_pdu(e.value.reject) == bytes.fromhex(
        'a406800109810101')


def test_reject_unknown_data_type():
    # write of a data type [8] (real, not in ISO 9506-2 Data)
    octets = bytes.fromhex('a01a020103a515a00e300ca00aa1081a024c441a025859'
                           'a003880100')
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.reject == codec.RejectPdu(
        3, codec.RejectReason.CONFIRMED_REQUEST, 4)


def test_reject_nesting():
    data = mms.IntegerData(1)
    for _ in range(codec.MAX_DEPTH + 1):
        data = mms.StructureData([data])
    octets = codec.encode_pdu(codec.ConfirmedRequestPdu(
        4, mms.WriteRequest(mms.VmdSpecificObjectName('x'), [data])))
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.reject == codec.RejectPdu(
        4, codec.RejectReason.CONFIRMED_REQUEST, 8)


def test_reject_modifiers():
    # listOfModifiers (an empty SEQUENCE OF) before read [4]
    octets = bytes.fromhex('a00d0201053000a406a104a1028000')
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.reject == codec.RejectPdu(
        5, codec.RejectReason.CONFIRMED_REQUEST, 2)


def test_reject_response_keeps_invoke_id():
    octets = bytes.fromhex('a10702012abf470100')
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.invoke_id == 42
    assert e.value.reject == codec.RejectPdu(
        42, codec.RejectReason.CONFIRMED_RESPONSE, 1)


def test_reject_invalid_invoke_id():
    # invokeID -1: invalid-invokeID, and the reject has no invoke ID
    octets = bytes.fromhex('a0050201ff8200')
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(octets)
    assert e.value.invoke_id is None
    assert e.value.reject == codec.RejectPdu(
        None, codec.RejectReason.CONFIRMED_REQUEST, 3)


@pytest.mark.parametrize('hex_octets, reject', [
    ('', codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 1)),
    ('a0', codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 1)),
    ('8e00', codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 0)),
    ('3000', codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 0)),
    ('8b0100', codec.RejectPdu(None, codec.RejectReason.CONCLUDE_REQUEST,
                               1)),
    ('a800', codec.RejectPdu(None, codec.RejectReason.PDU_ERROR, 1)),
    ('a400', None)])
def test_reject_pdu_errors(hex_octets, reject):
    with pytest.raises(codec.DecodeError) as e:
        codec.decode_pdu(bytes.fromhex(hex_octets))
    assert e.value.reject == reject


# --- encoding errors -------------------------------------------------------

@pytest.mark.parametrize('pdu, error', [
    (mms.ReadRequest([]), ValueError),
    (codec.ConfirmedRequestPdu(1, mms.ReadResponse([])), ValueError),
    (codec.ConfirmedResponsePdu(1, mms.ErrorResponse(
        mms.ErrorClass.ACCESS, 1)), ValueError),
    (codec.ConfirmedRequestPdu(-1, mms.StatusRequest()), ValueError),
    (codec.ConfirmedRequestPdu(2**32, mms.StatusRequest()), ValueError),
    (codec.ConfirmedRequestPdu('1', mms.StatusRequest()), TypeError),
    (codec.ConfirmedResponsePdu(1, mms.ReadResponse([
        mms.IntegerData('1')])), TypeError),
    (codec.ConfirmedResponsePdu(1, mms.ReadResponse([
        mms.FloatingPointData('1')])), TypeError),
    (codec.ConfirmedResponsePdu(1, mms.ReadResponse([
        mms.BooleanData(1)])), TypeError),
    (codec.ConfirmedResponsePdu(1, mms.ReadResponse([1])), ValueError),
    (codec.ConfirmedResponsePdu(1, mms.ReadResponse([
        mms.ObjIdData((3, 1))])), ValueError),
    (codec.ConfirmedRequestPdu(1, mms.ReadRequest('x')), TypeError),
    (codec.UnconfirmedPdu(mms.EventNotificationUnconfirmed(
        mms.VmdSpecificObjectName('a'), mms.VmdSpecificObjectName('b'), 256,
        None)), ValueError),
    (codec.UnconfirmedPdu(mms.EventNotificationUnconfirmed(
        mms.VmdSpecificObjectName('a'), mms.VmdSpecificObjectName('b'), 1,
        b'\x00')), ValueError)])
def test_encode_errors(pdu, error):
    with pytest.raises(error):
        codec.encode_pdu(pdu)


def test_event_notification_time_forms():
    t = datetime.datetime(2020, 5, 5, 1, 2, 3, 4000, tzinfo=UTC)
    raw = codec.encode_pdu(codec.UnconfirmedPdu(
        mms.EventNotificationUnconfirmed(
            mms.VmdSpecificObjectName('a'), mms.VmdSpecificObjectName('b'),
            1, mms.BinaryTimeData(t))))
    # raw octets (0.6.23's form) give the same PDU
    octets = raw[-6:]
    assert codec.encode_pdu(codec.UnconfirmedPdu(
        mms.EventNotificationUnconfirmed(
            mms.VmdSpecificObjectName('a'), mms.VmdSpecificObjectName('b'),
            1, octets))) == raw
    assert codec.decode_pdu(raw).unconfirmed.time == mms.BinaryTimeData(t)


# --- the fast path of confirmed PDUs agrees with the general path ----------
#
# decode_pdu reads confirmed requests and responses (and Read requests of
# domain-specific names completely) through a duplicated fast path for
# benchmarks/bench_mms.py; whatever it returns must be what the general path
# gives, and whatever it declines must still be decoded (or refused) alike.

def general_decode_or_error(octets):
    with unittest.mock.patch.object(codec, '_decode_confirmed_fast',
                                    lambda data: None):
        return decode_or_error(octets)


def same_outcome(octets):
    fast = decode_or_error(octets)
    general = general_decode_or_error(octets)
    if isinstance(general, codec.DecodeError):
        assert isinstance(fast, codec.DecodeError)
        assert (str(fast), fast.invoke_id, fast.reject) == (
            str(general), general.invoke_id, general.reject)
    else:
        assert fast == general
        assert type(fast.request if isinstance(
            fast, codec.ConfirmedRequestPdu) else fast) is type(
            general.request if isinstance(
                general, codec.ConfirmedRequestPdu) else general)


domain_names = st.builds(mms.DomainSpecificObjectName,
                         st.text(max_size=70), st.text(max_size=70))
domain_reads = st.builds(
    codec.ConfirmedRequestPdu, unsigned32,
    st.builds(mms.ReadRequest, st.lists(
        st.builds(mms.NameVariableSpecification, domain_names),
        max_size=4)))
confirmed_pdus = st.one_of(
    domain_reads,
    st.builds(codec.ConfirmedRequestPdu, unsigned32, requests),
    st.builds(codec.ConfirmedResponsePdu, unsigned32, responses))


def general_encode(pdu):
    with unittest.mock.patch.object(codec, '_enc_read_request_fast',
                                    lambda req: None):
        return codec.encode_pdu(pdu)


@property_timeout
@settings
@hypothesis.given(confirmed_pdus, st.data())
def test_fast_path_agrees(pdu, draw):
    encoded = codec.encode_pdu(pdu)
    assert encoded == general_encode(pdu)
    assert codec.decode_pdu(encoded) == pdu
    same_outcome(encoded)
    changed = bytearray(encoded)
    for _ in range(draw.draw(st.integers(1, 3))):
        i = draw.draw(st.integers(0, len(changed) - 1))
        changed[i] = draw.draw(st.integers(0, 255))
    same_outcome(bytes(changed))
    same_outcome(bytes(changed[:draw.draw(st.integers(0, len(changed)))]))


@pytest.mark.parametrize('read', [
    mms.ReadRequest([mms.NameVariableSpecification(
        mms.DomainSpecificObjectName('LD0', 'x' * size))])
    for size in (0, 1, 115, 116, 117, 200)] + [
    mms.ReadRequest([mms.NameVariableSpecification(
        mms.DomainSpecificObjectName('\ud800', 'x'))]),
    mms.ReadRequest([mms.NameVariableSpecification(
        mms.DomainSpecificObjectName(b'LD0', 'x'))]),
    mms.ReadRequest(('not', 'a list')),
    mms.ReadRequest([mms.NameVariableSpecification(
        mms.VmdSpecificObjectName('x'))])])
def test_encode_fast_path_agrees(read):
    # names around the longest the fast path takes (fields of 123
    # octets), and requests it leaves to the general path (errors too)
    pdu = codec.ConfirmedRequestPdu(1, read)
    try:
        expected = general_encode(pdu)
    except (TypeError, ValueError) as e:
        with pytest.raises(type(e), match='^' + re.escape(str(e)) + '$'):
            codec.encode_pdu(pdu)
    else:
        assert codec.encode_pdu(pdu) == expected
        assert codec.decode_pdu(expected) == pdu


@pytest.mark.parametrize('hex_octets', [
    # Read of two domain-specific names (the fast path)
    'a0 2c 020101 a427 a125 a023 300f a00d a10b 1a024c44 1a05612462246' +
    '3 3010 a00e a10c 1a024c44 1a06782479247a31',
    # specificationWithResult FALSE, then the same
    'a0 1a 020101 a415 800100 a110 a00e 300c a00a a108 1a024c44 1a026162',
    # specificationWithResult TRUE: refused alike
    'a0 1a 020101 a415 8001ff a110 a00e 300c a00a a108 1a024c44 1a026162',
    # inner lengths that disagree
    'a0 1a 020101 a415 800100 a110 a00e 300c a00a a108 1a034c44 1a026162',
    # a name in latin-1
    'a0 16 020101 a411 a10f a00d 300b a009 a107 1a024c44 1a01b0',
    # invokeID of 5 octets (general path)
    'a0 17 02050012345678 a40e a10c a00a 3008 a006 a104 1a00 1a00',
    # negative invokeID
    'a0 13 0201ff a40e a10c a00a 3008 a006 a104 1a00 1a00',
    # long-form lengths
    'a1 81 0a 020101 a4 81 04 a1 02 8300',
    # a Read response of one float
    'a1 0f 020204d2 a409 a107 8705083fc00000'])
def test_fast_path_vectors(hex_octets):
    same_outcome(bytes.fromhex(''.join(hex_octets.split())))


def test_fast_path_taken():
    # the PDUs of benchmarks/bench_mms.py take the fast path (the tests
    # above would otherwise compare the general path with itself)
    name = mms.DomainSpecificObjectName('TESTLD0', 'GGIO1$MX$AnIn1$mag$f')
    pdus = [
        codec.ConfirmedRequestPdu(7, mms.ReadRequest([
            mms.NameVariableSpecification(name)])),
        codec.ConfirmedRequestPdu(2**32 - 1, mms.ReadRequest(name)),
        codec.ConfirmedResponsePdu(7, mms.ReadResponse([
            mms.FloatingPointData(1.5)])),
        codec.ConfirmedResponsePdu(7, mms.ReadResponse([
            mms.FloatingPointData(float(i)) for i in range(500)]))]
    for pdu in pdus:
        assert codec._decode_confirmed_fast(codec.encode_pdu(pdu)) == pdu
    assert codec._enc_read_request_fast(pdus[0].request) is not None
    # a0 L 02 01 07 a4 L: the Read-Request contents start at offset 7
    octets = codec.encode_pdu(pdus[0])
    assert codec._read_request_fast(octets, 7, len(octets)) == \
        pdus[0].request
