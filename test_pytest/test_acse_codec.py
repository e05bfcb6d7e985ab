"""Tests of the ACSE APDU codec (hat.drivers.acse.codec).

Example-based tests compare with octets written by hand from the ASN.1 of
ISO 8650-1 / ITU-T X.227 (module ACSE-1) in the shape IEC 61850 peers
(libiec61850) put on the wire: application context 1.0.9506.2.3, AP
titles of form 2, AE qualifiers of form 2, user information as one
EXTERNAL with indirect-reference 3 (the MMS presentation context) and
single-ASN1-type encoding. Property tests (hypothesis) check that every
APDU encodes to octets that decode back to it, and that arbitrary octets
(random, and valid encodings with octets changed or cut) decode to an APDU
or raise `codec.ApduDecodeError`, nothing else.

Number of examples per property test: 2000 by default (a quarter for
round trips); set ``HAT_DRIVERS_ACSE_EXAMPLES`` for a longer run.

"""

import os

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import copp
from hat.drivers.acse import codec
from hat.drivers.acse import common


EXAMPLES = int(os.environ.get('HAT_DRIVERS_ACSE_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 40))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])

round_trip_settings = hypothesis.settings(settings,
                                          max_examples=EXAMPLES // 4)

MMS_CONTEXT = (1, 0, 9506, 2, 3)


def h(text):
    return bytes.fromhex(''.join(text.split()))


def external(element_octets):
    return ber.External(data=ber.decode(h(element_octets)),
                        direct_ref=None, indirect_ref=3)


# --- vectors ----------------------------------------------------------------

AARQ = h('''
    60 32
       a1 07 06 05 28ca220203
       a2 07 06 05 29018767 01
       a3 03 02 01 0c
       a6 06 06 04 29018767
       a7 03 02 01 0c
       be 0c 28 0a 02 01 03 a0 05 a8 03 80 01 05
''')

AARQ_APDU = common.AarqApdu(
    protocol_version=None,
    application_context_name=MMS_CONTEXT,
    called_ap_title=(1, 1, 1, 999, 1),
    called_ae_qualifier=12,
    called_ap_invocation_identifier=None,
    called_ae_invocation_identifier=None,
    calling_ap_title=(1, 1, 1, 999),
    calling_ae_qualifier=12,
    calling_ap_invocation_identifier=None,
    calling_ae_invocation_identifier=None,
    sender_acse_requirements=None,
    mechanism_name=None,
    calling_authentication_value=None,
    application_context_name_list=None,
    implementation_information=None,
    user_information=[external('a8 03 80 01 05')])

AARE = h('''
    61 35
       80 02 07 80
       a1 07 06 05 28ca220203
       a2 03 02 01 00
       a3 05 a1 03 02 01 00
       a4 07 06 05 29018767 01
       a5 03 02 01 0c
       be 0c 28 0a 02 01 03 a0 05 a9 03 80 01 05
''')

AARE_APDU = common.AareApdu(
    protocol_version=[True],
    application_context_name=MMS_CONTEXT,
    result=common.AssociateResult.ACCEPTED,
    result_source_diagnostic=common.ResultSourceDiagnostic(
        common.ResultSource.ACSE_SERVICE_USER, common.UserDiagnostic.NULL),
    responding_ap_title=(1, 1, 1, 999, 1),
    responding_ae_qualifier=12,
    responding_ap_invocation_identifier=None,
    responding_ae_invocation_identifier=None,
    responder_acse_requirements=None,
    mechanism_name=None,
    responding_authentication_value=None,
    application_context_name_list=None,
    implementation_information=None,
    user_information=[external('a9 03 80 01 05')])


def test_aarq_vector():
    assert codec.encode(AARQ_APDU) == AARQ
    assert codec.decode(AARQ) == AARQ_APDU
    assert codec.encode_entity(AARQ_APDU) == ber.decode(AARQ)
    assert codec.decode_entity(ber.decode(AARQ)) == AARQ_APDU


def test_aare_vector():
    assert codec.encode(AARE_APDU) == AARE
    decoded = codec.decode(AARE)
    assert decoded == AARE_APDU
    assert isinstance(decoded.result, common.AssociateResult)
    assert isinstance(decoded.result_source_diagnostic.diagnostic,
                      common.UserDiagnostic)


def test_aare_rejected():
    data = h('''
        61 15
           a1 07 06 05 28ca220203
           a2 03 02 01 01
           a3 05 a1 03 02 01 02
    ''')
    apdu = common.AareApdu(
        None, MMS_CONTEXT, common.AssociateResult.REJECTED_PERMANENT,
        common.ResultSourceDiagnostic(
            common.ResultSource.ACSE_SERVICE_USER,
            common.UserDiagnostic.APPLICATION_CONTEXT_NAME_NOT_SUPPORTED),
        *[None] * 10)
    assert codec.encode(apdu) == data
    assert codec.decode(data) == apdu

    data = h('''
        61 15
           a1 07 06 05 28ca220203
           a2 03 02 01 02
           a3 05 a2 03 02 01 02
    ''')
    apdu = apdu._replace(
        result=common.AssociateResult.REJECTED_TRANSIENT,
        result_source_diagnostic=common.ResultSourceDiagnostic(
            common.ResultSource.ACSE_SERVICE_PROVIDER,
            common.ProviderDiagnostic.NO_COMMON_ACSE_VERSION))
    assert codec.encode(apdu) == data
    decoded = codec.decode(data)
    assert decoded == apdu
    assert isinstance(decoded.result_source_diagnostic.diagnostic,
                      common.ProviderDiagnostic)


def test_aarq_authentication_and_invocation_identifiers():
    # password authentication as libiec61850 sends it: sender-acse-
    # requirements authentication, mechanism-name 2.2.3.1, charstring
    data = h('''
        60 3d
           a1 07 06 05 28ca220203
           a4 03 02 01 07
           a5 04 02 02 00 ff
           a8 03 02 01 ff
           a9 03 02 01 80
           8a 02 07 80
           8b 03 52 03 01
           ac 0a 80 08 70617373776f7264
           ad 04 06 02 51 01
           9d 02 68 69
    ''')
    apdu = common.AarqApdu(
        protocol_version=None,
        application_context_name=MMS_CONTEXT,
        called_ap_title=None,
        called_ae_qualifier=None,
        called_ap_invocation_identifier=7,
        called_ae_invocation_identifier=255,
        calling_ap_title=None,
        calling_ae_qualifier=None,
        calling_ap_invocation_identifier=-1,
        calling_ae_invocation_identifier=-128,
        sender_acse_requirements=[True],
        mechanism_name=(2, 2, 3, 1),
        calling_authentication_value=ber.Element(ber.Class.CONTEXT, 0,
                                                 False, b'password'),
        application_context_name_list=[(2, 1, 1)],
        implementation_information='hi',
        user_information=None)
    assert codec.encode(apdu) == data
    assert codec.decode(data) == apdu


def test_ap_title_and_ae_qualifier_form_1_kept_opaque():
    # AP title form 1: Name (RDNSequence, a SEQUENCE); AE qualifier form 1:
    # RelativeDistinguishedName (a SET)
    name = h('30 0b 31 09 30 07 06 03 550403 13 00')
    rdn = h('31 09 30 07 06 03 550403 13 00')
    data = (h('60 25 a1 07 06 05 28ca220203') +
            h('a2 0d') + name + h('a3 0b') + rdn)
    apdu = codec.decode(data)
    assert apdu.called_ap_title == ber.decode(name)
    assert apdu.called_ae_qualifier == ber.decode(rdn)
    assert isinstance(apdu.called_ap_title, ber.Element)
    assert codec.encode(apdu) == data


@pytest.mark.parametrize('octets, apdu', [
    ('62 03 80 01 00', common.RlrqApdu(
        common.ReleaseRequestReason.NORMAL, None)),
    ('62 00', common.RlrqApdu(None, None)),
    ('62 03 80 01 1e', common.RlrqApdu(
        common.ReleaseRequestReason.USER_DEFINED, None)),
    ('63 03 80 01 00', common.RlreApdu(
        common.ReleaseResponseReason.NORMAL, None)),
    ('63 03 80 01 01', common.RlreApdu(
        common.ReleaseResponseReason.NOT_FINISHED, None)),
    ('64 03 80 01 00', common.AbrtApdu(
        common.AbortSource.ACSE_SERVICE_USER, None, None)),
    ('64 06 80 01 01 81 01 02', common.AbrtApdu(
        common.AbortSource.ACSE_SERVICE_PROVIDER,
        common.AbortDiagnostic.PROTOCOL_ERROR, None)),
    # RLRQ with user information: an MMS conclude-RequestPDU
    ('62 0e 80 01 00 be 09 28 07 02 01 03 a0 02 8b 00', common.RlrqApdu(
        common.ReleaseRequestReason.NORMAL,
        [ber.External(ber.Element(ber.Class.CONTEXT, 11, False, b''),
                      None, 3)])),
])
def test_release_and_abort_vectors(octets, apdu):
    data = h(octets)
    assert codec.encode(apdu) == data
    assert codec.decode(data) == apdu


def test_extensions_ignored():
    # AARQ called-asoi-tag [15] and AARE p-context-result-list [12]
    data = h('60 0c a1 07 06 05 28ca220203 8f 01 01')
    assert codec.decode(data) == common.AarqApdu(
        None, MMS_CONTEXT, *[None] * 14)
    data = h('61 17 a1 07 06 05 28ca220203 a2 03 02 01 00 '
             'a3 05 a2 03 02 01 00 ac 00')
    assert codec.decode(data).result_source_diagnostic == \
        common.ResultSourceDiagnostic(
            common.ResultSource.ACSE_SERVICE_PROVIDER,
            common.ProviderDiagnostic.NULL)


def test_shared_names():
    assert acse.SyntaxNames is copp.SyntaxNames
    assert acse.IdentifiedEntity == copp.IdentifiedEntity
    assert acse.ACSE_ABSTRACT_SYNTAX == copp.ACSE_ABSTRACT_SYNTAX


@pytest.mark.parametrize('octets, match', [
    ('', 'cut short'),
    ('30 00', 'unknown APDU'),
    ('65 00', 'unknown APDU'),
    ('40 00', 'must be constructed'),
    ('60 00', '^AARQ: no application-context-name'),
    ('60 02 80 00', 'BIT STRING'),
    ('60 12 a1 07 06 05 28ca220203 a1 07 06 05 28ca220203', 'repeated'),
    ('60 0b a1 07 06 05 28ca220203 84 00', 'explicit tag must be'),
    ('60 0d a1 07 06 05 28ca220203 a4 02 04 00', 'not a primitive INTEGER'),
    ('60 0b a1 07 06 05 28ca220203 9e 00',
     'user-information must be constructed'),
    ('60 0d a1 07 06 05 28ca220203 be 02 30 00', 'not an EXTERNAL'),
    ('60 0d a1 07 06 05 28ca220203 be 02 28 00', 'EXTERNAL'),
    ('60 0b a1 07 06 05 28ca220203 91 00', 'unknown component'),
    ('60 09 a1 07 04 05 28ca220203', 'not a primitive OBJECT'),
    ('60 0b a1 09 06 05 28ca220203 05 00', 'values in an'),
    ('61 09 a1 07 06 05 28ca220203', 'no result'),
    ('61 0e a1 07 06 05 28ca220203 a2 03 02 01 00', 'no result-source'),
    ('61 0e a1 07 06 05 28ca220203 a2 03 02 01 03', 'invalid Associate'),
    ('61 13 a1 07 06 05 28ca220203 a2 03 02 01 00 a3 03 a3 01 00',
     'unknown alternative'),
    ('61 15 a1 07 06 05 28ca220203 a2 03 02 01 00 a3 05 a1 03 02 01 0f',
     'invalid UserDiagnostic'),
    ('61 15 a1 07 06 05 28ca220203 a2 03 02 01 00 a3 05 a2 03 02 01 03',
     'invalid ProviderDiagnostic'),
    ('62 03 80 01 02', 'invalid ReleaseRequestReason'),
    ('63 03 80 01 1f', 'invalid ReleaseResponseReason'),
    ('64 00', 'no abort-source'),
    ('64 03 80 01 02', 'invalid AbortSource'),
    ('64 06 80 01 00 81 01 00', 'invalid AbortDiagnostic'),
    ('64 03 a0 01 00', 'must be primitive'),
])
def test_decode_invalid(octets, match):
    with pytest.raises(codec.ApduDecodeError, match=match):
        codec.decode(h(octets))


def test_decode_error_classes():
    assert issubclass(codec.ApduDecodeError, ber.DecodeError)
    with pytest.raises(codec.ApduDecodeError, match='^RLRQ: '):
        codec.decode(h('62 03 80 01 09'))
    with pytest.raises(codec.ApduDecodeError):
        codec.decode_entity(ber.Element(ber.Class.APPLICATION, 2, True,
                                        b'\x80'))


@pytest.mark.parametrize('apdu, error', [
    ('AARQ', TypeError),
    (AARQ_APDU._replace(application_context_name=None), ValueError),
    (AARQ_APDU._replace(application_context_name=[1, 2]), TypeError),
    (AARQ_APDU._replace(called_ae_qualifier='x'), TypeError),
    (AARQ_APDU._replace(called_ap_invocation_identifier=True), TypeError),
    (AARQ_APDU._replace(user_information=[b'x']), TypeError),
    (AARQ_APDU._replace(calling_authentication_value=b'x'), TypeError),
    (AARQ_APDU._replace(implementation_information='\u20ac'), ValueError),
    (AARQ_APDU._replace(sender_acse_requirements='1'), TypeError),
    (AARE_APDU._replace(result=5), ValueError),
    (AARE_APDU._replace(result_source_diagnostic=(1, 0)), TypeError),
    (AARE_APDU._replace(result_source_diagnostic=common.ResultSourceDiagnostic(
        common.ResultSource.ACSE_SERVICE_PROVIDER, 14)), ValueError),
    (common.AbrtApdu(None, None, None), ValueError),
    (common.RlrqApdu(3, None), ValueError),
])
def test_encode_invalid(apdu, error):
    with pytest.raises(error):
        codec.encode(apdu)


# --- properties -------------------------------------------------------------

oids = st.builds(lambda first, second, rest: (first, second, *rest),
                 st.integers(0, 2), st.integers(0, 39),
                 st.lists(st.integers(0, 2 ** 40), max_size=5))
bits = st.lists(st.booleans(), max_size=12)
elements = st.builds(
    lambda cls, tag, constructed, contents: ber.decode(
        ber.encode_tlv(cls, tag, constructed, contents)),
    st.sampled_from([ber.Class.APPLICATION, ber.Class.CONTEXT,
                     ber.Class.PRIVATE]),
    st.integers(0, 100), st.booleans(), st.binary(max_size=20))
ap_titles = st.none() | oids | elements
ae_qualifiers = st.none() | st.integers() | elements
ints = st.none() | st.integers()
externals = st.builds(ber.External,
                      data=st.one_of(elements, st.binary(max_size=10),
                                     st.lists(st.booleans(), max_size=10)),
                      direct_ref=st.none() | oids,
                      indirect_ref=st.none() | st.integers(0, 127),
                      data_value_descriptor=st.none() | st.text(
                          st.characters(max_codepoint=255), max_size=5))
user_information = st.none() | st.lists(externals, max_size=3)
strings = st.none() | st.text(st.characters(max_codepoint=255), max_size=10)


def _diagnostics():
    return st.one_of(
        st.builds(common.ResultSourceDiagnostic,
                  st.just(common.ResultSource.ACSE_SERVICE_USER),
                  st.sampled_from(list(common.UserDiagnostic))),
        st.builds(common.ResultSourceDiagnostic,
                  st.just(common.ResultSource.ACSE_SERVICE_PROVIDER),
                  st.sampled_from(list(common.ProviderDiagnostic))))


apdus = st.one_of(
    st.builds(common.AarqApdu, st.none() | bits, oids, ap_titles,
              ae_qualifiers, ints, ints, ap_titles, ae_qualifiers, ints,
              ints, st.none() | bits, st.none() | oids, st.none() | elements,
              st.none() | st.lists(oids, max_size=3), strings,
              user_information),
    st.builds(common.AareApdu, st.none() | bits, oids,
              st.sampled_from(list(common.AssociateResult)), _diagnostics(),
              ap_titles, ae_qualifiers, ints, ints, st.none() | bits,
              st.none() | oids, st.none() | elements,
              st.none() | st.lists(oids, max_size=3), strings,
              user_information),
    st.builds(common.RlrqApdu,
              st.none() | st.sampled_from(list(common.ReleaseRequestReason)),
              user_information),
    st.builds(common.RlreApdu,
              st.none() | st.sampled_from(list(common.ReleaseResponseReason)),
              user_information),
    st.builds(common.AbrtApdu, st.sampled_from(list(common.AbortSource)),
              st.none() | st.sampled_from(list(common.AbortDiagnostic)),
              user_information))


@property_timeout
@round_trip_settings
@hypothesis.given(apdus)
def test_round_trip(apdu):
    data = codec.encode(apdu)
    decoded = codec.decode(data)
    assert decoded == apdu
    assert codec.encode(decoded) == data


CORPUS = [
    AARQ, AARE,
    codec.encode(AARQ_APDU._replace(
        protocol_version=[True], called_ap_invocation_identifier=1,
        called_ae_invocation_identifier=2,
        calling_ap_invocation_identifier=3,
        calling_ae_invocation_identifier=4, sender_acse_requirements=[True],
        mechanism_name=(2, 2, 3, 1),
        calling_authentication_value=ber.Element(ber.Class.CONTEXT, 0,
                                                 False, b'pw'),
        application_context_name_list=[MMS_CONTEXT],
        implementation_information='x',
        user_information=[ber.External(b'ab', (2, 1, 1), 3, 'd'),
                          ber.External([True], None, 1)])),
    codec.encode(AARE_APDU._replace(
        responding_ap_invocation_identifier=1,
        responding_ae_invocation_identifier=2,
        responder_acse_requirements=[True], mechanism_name=(2, 2, 3, 1),
        responding_authentication_value=ber.Element(ber.Class.CONTEXT, 0,
                                                    False, b'pw'),
        application_context_name_list=[MMS_CONTEXT],
        implementation_information='x')),
    h('62 0e 80 01 00 be 09 28 07 02 01 03 a0 02 8b 00'),
    h('63 03 80 01 00'),
    h('64 06 80 01 01 81 01 02'),
]


def _mutate(args):
    data, changes = args
    data = bytearray(data)
    for position, value, kind in changes:
        if not data:
            break
        position %= len(data)
        if kind == 0:
            data[position] = value
        elif kind == 1:
            data.insert(position, value)
        else:
            del data[position:]
    return bytes(data)


mutated = st.tuples(st.sampled_from(CORPUS),
                    st.lists(st.tuples(st.integers(0, 10000),
                                       st.integers(0, 255),
                                       st.integers(0, 2)),
                             min_size=1, max_size=3)).map(_mutate)


@property_timeout
@settings
@hypothesis.given(st.one_of(st.binary(max_size=80), mutated))
def test_arbitrary_octets(octets):
    try:
        apdu = codec.decode(octets)
    except codec.ApduDecodeError:
        return
    assert codec.decode(codec.encode(apdu)) == apdu
