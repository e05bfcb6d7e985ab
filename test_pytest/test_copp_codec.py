"""Tests of the presentation PPDU codec (hat.drivers.copp.codec).

Example-based tests compare with octets written by hand from the ASN.1 of
ISO 8823-1 / ITU-T X.226 (normal mode) in the shape hat-drivers 0.6.23 and
libiec61850 put on the wire (contexts 1 = ACSE and 3 = MMS with BER,
4-octet selectors), not produced by the encoder. Property tests
(hypothesis) check that every PPDU encodes to octets that decode back to
it, and that arbitrary octets (random, and valid encodings with octets
changed or cut) decode to a PPDU or raise `codec.PpduDecodeError`, nothing
else.

Number of examples per property test: 2000 by default (a quarter for
round trips, whose strategies are slow); set ``HAT_DRIVERS_COPP_EXAMPLES``
for a longer run.

"""

import os
import unittest.mock

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import ber
from hat.drivers import copp
from hat.drivers.copp import codec
from hat.drivers.copp import common


EXAMPLES = int(os.environ.get('HAT_DRIVERS_COPP_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 40))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])

round_trip_settings = hypothesis.settings(settings,
                                          max_examples=EXAMPLES // 4)

ACSE = (2, 2, 1, 0, 1)
MMS = (1, 0, 9506, 2, 1)
BER = (2, 1, 1)
SEL = b'\x00\x00\x00\x01'


def h(text):
    return bytes.fromhex(''.join(text.split()))


# an opaque user element: [APPLICATION 0] { [0] 0 }
USER = ber.decode(h('60 03 800100'))


# --- vectors ----------------------------------------------------------------

CP = h('''
    31 46
       a0 03 80 01 01
       a2 3f
          81 04 00000001
          82 04 00000001
          a4 23
             30 0f 02 01 01 06 04 52010001 30 04 06 02 5101
             30 10 02 01 03 06 05 28ca220201 30 04 06 02 5101
          61 0c
             30 0a 02 01 01 a0 05 60 03 80 01 00
''')

CP_PPDU = common.CpPpdu(
    protocol_version=None,
    calling_presentation_selector=SEL,
    called_presentation_selector=SEL,
    context_definition_list=[
        common.ContextDefinition(1, ACSE, [BER]),
        common.ContextDefinition(3, MMS, [BER])],
    default_context_name=None,
    presentation_requirements=None,
    user_session_requirements=None,
    user_data=common.FullyEncodedData([common.PdvList(None, 1, USER)]))

CPA = h('''
    31 33
       a0 03 80 01 01
       a2 2c
          80 02 07 80
          83 04 00000001
          a5 12
             30 07 80 01 00 81 02 5101
             30 07 80 01 00 81 02 5101
          61 0c
             30 0a 02 01 01 a0 05 60 03 80 01 00
''')

CPA_PPDU = common.CpaPpdu(
    protocol_version=[True],
    responding_presentation_selector=SEL,
    context_definition_result_list=[
        common.ContextResult(common.Result.ACCEPTANCE, BER, None),
        common.ContextResult(common.Result.ACCEPTANCE, BER, None)],
    presentation_requirements=None,
    user_session_requirements=None,
    user_data=common.FullyEncodedData([common.PdvList(None, 1, USER)]))

def test_cp_vector():
    assert codec.encode_cp(CP_PPDU) == CP
    assert codec.decode_cp(CP) == CP_PPDU


def test_cpa_vector():
    assert codec.encode_cpa(CPA_PPDU) == CPA
    assert codec.decode_cpa(CPA) == CPA_PPDU


def test_cpr_vector():
    data = h('''
        30 13
           83 04 00000001
           a5 08 30 06 80 01 02 82 01 01
           8a 01 02
    ''')
    ppdu = common.CprPpdu(
        protocol_version=None,
        responding_presentation_selector=SEL,
        context_definition_result_list=[common.ContextResult(
            common.Result.PROVIDER_REJECTION, None,
            common.ContextRejectReason.ABSTRACT_SYNTAX_NOT_SUPPORTED)],
        default_context_result=None,
        provider_reason=common.ProviderReason.LOCAL_LIMIT_EXCEEDED,
        user_data=None)
    assert codec.encode_cpr(ppdu) == data
    decoded = codec.decode_cpr(data)
    assert decoded == ppdu
    assert isinstance(decoded.provider_reason, common.ProviderReason)


def test_aru_vector():
    # ARU carrying an ACSE ABRT (abort-source acse-service-user) in context 1
    abrt = ber.decode(h('64 03 80 01 00'))
    data = h('a0 0e 61 0c 30 0a 02 01 01 a0 05 64 03 80 01 00')
    ppdu = common.AruPpdu(
        context_identifier_list=None,
        user_data=common.FullyEncodedData([common.PdvList(None, 1, abrt)]))
    assert codec.encode_abort(ppdu) == data
    assert codec.decode_abort(data) == ppdu

    data = h('a0 0b a0 09 30 07 02 01 01 06 02 5101')
    ppdu = common.AruPpdu(
        context_identifier_list=[common.ContextIdentifier(1, BER)],
        user_data=None)
    assert codec.encode_abort(ppdu) == data
    assert codec.decode_abort(data) == ppdu


def test_arp_vector():
    data = h('30 06 80 01 01 81 01 00')
    ppdu = common.ArpPpdu(common.AbortReason.UNRECOGNIZED_PPDU,
                          common.EventIdentifier.CP_PPDU)
    assert codec.encode_abort(ppdu) == data
    assert codec.decode_abort(data) == ppdu
    assert codec.decode_abort(h('3000')) == common.ArpPpdu(None, None)


def test_user_data_several_pdv_lists():
    # P-DATA of three PDV-lists: single-ASN1-type, octet-aligned (with a
    # transfer syntax name) and arbitrary
    data = h('''
        61 23
           30 0a 02 01 03 a0 05 60 03 80 01 00
           30 0b 06 02 5101 02 01 03 81 02 abcd
           30 08 02 01 05 82 03 06 ffc0
    ''')
    user_data = common.FullyEncodedData([
        common.PdvList(None, 3, USER),
        common.PdvList(BER, 3, b'\xab\xcd'),
        common.PdvList(None, 5, [True] * 10)])
    assert codec.encode_user_data(user_data) == data
    decoded = codec.decode_user_data(data)
    assert decoded == user_data
    assert isinstance(decoded.pdv_lists[1].data, memoryview)
    assert isinstance(decoded.pdv_lists[0].data, ber.Element)


def test_simply_encoded_data():
    data = h('40 02 abcd')
    assert codec.encode_user_data(common.SimplyEncodedData(b'\xab\xcd')) \
        == data
    assert codec.decode_user_data(data) == common.SimplyEncodedData(
        b'\xab\xcd')
    # segmented (constructed) form
    assert codec.decode_user_data(h('60 07 04 01 ab 04 02 cdef')) == \
        common.SimplyEncodedData(b'\xab\xcd\xef')


def test_cp_without_user_data_and_extensions_ignored():
    # protocol-options [11] and initiators-nominated-context [12] (later
    # editions) are ignored
    data = h('31 0e a0 03 80 01 01 a2 07 8b 02 07 80 8c 01 01')
    assert codec.decode_cp(data) == common.CpPpdu(
        None, None, None, None, None, None, None, None)
    # normal-mode-parameters absent
    assert codec.decode_cp(h('31 05 a0 03 80 01 01')) == common.CpPpdu(
        None, None, None, None, None, None, None, None)


def test_cp_all_fields():
    ppdu = common.CpPpdu(
        protocol_version=[True],
        calling_presentation_selector=b'\x01',
        called_presentation_selector=b'',
        context_definition_list=[],
        default_context_name=common.DefaultContextName(ACSE, BER),
        presentation_requirements=[False, False],
        user_session_requirements=[False, True],
        user_data=common.SimplyEncodedData(b'x'))
    data = codec.encode_cp(ppdu)
    assert data == h('''
        31 29 a0 03 80 01 01
        a2 22
           80 02 07 80
           81 01 01
           82 00
           a4 00
           a6 0a 80 04 52010001 81 02 5101
           88 02 06 00
           89 02 06 40
           40 01 78
    ''')
    assert codec.decode_cp(data) == ppdu


@pytest.mark.parametrize('decode, octets, match', [
    (codec.decode_cp, '', 'cut short'),
    (codec.decode_cp, '30 00', 'unexpected'),
    (codec.decode_cp, '31 00', 'no mode-selector'),
    (codec.decode_cp, '31 05 a0 03 80 01 00', 'X.410'),
    (codec.decode_cp, '31 07 a0 03 80 01 01 a1 00', 'X.410'),
    (codec.decode_cp, '31 05 a0 03 80 01 02', 'mode-value'),
    (codec.decode_cp, '31 02 a0 00', 'without mode-value'),
    (codec.decode_cp, '31 0a a0 03 80 01 01 a0 03 80 01 01', 'repeated'),
    (codec.decode_cp, '31 09 a0 03 80 01 01 a2 02 83 00', 'unknown'),
    (codec.decode_cp, '31 09 a0 03 80 01 01 a2 02 a4 01', 'exceeds'),
    (codec.decode_cp, '31 0b a0 03 80 01 01 a2 04 a4 02 30 00',
     'item of 0'),
    (codec.decode_cp, '31 09 a0 03 80 01 01 a2 02 61 00', 'without PDV'),
    (codec.decode_cp, '31 0d a0 03 80 01 01 a2 06 61 04 30 02 02 00',
     'of 1 components'),
    (codec.decode_cp,
     '31 11 a0 03 80 01 01 a2 0a 61 08 30 06 02 00 a0 02 05 00',
     'INTEGER without'),
    (codec.decode_cp, '31 0b a0 03 80 01 01 a2 04 40 00 61 00',
     'both'),
    (codec.decode_cpa, '31 09 a0 03 80 01 01 a2 02 81 00', 'unknown'),
    (codec.decode_cpa, '31 0d a0 03 80 01 01 a2 06 a5 04 30 02 80 00',
     'INTEGER'),
    (codec.decode_cpa, '31 0e a0 03 80 01 01 a2 07 a5 05 30 03 80 01 05',
     'invalid Result'),
    (codec.decode_cpa, '31 0c a0 03 80 01 01 a2 05 a5 03 30 01 00',
     'end-of-contents|without result'),
    (codec.decode_cpr, '31 00', 'X.410'),
    (codec.decode_cpr, '30 03 8a 01 09', 'invalid ProviderReason'),
    (codec.decode_abort, '31 00', 'X.410'),
    (codec.decode_abort, '61 00', 'unknown PPDU'),
    (codec.decode_abort, '30 03 80 01 07', 'invalid AbortReason'),
    (codec.decode_abort, '30 03 81 01 21', 'invalid EventIdentifier'),
    (codec.decode_abort, '30 03 a0 01 00', 'must be primitive'),
    (codec.decode_user_data, '30 00', 'unexpected'),
    (codec.decode_user_data, '61 04 30 02 02 01', 'exceeds'),
    (codec.decode_user_data, '61 05 30 03 02 01 01', 'of 1 components'),
    (codec.decode_user_data, '61 07 30 05 02 01 01 80 00',
     'must be constructed'),
    (codec.decode_user_data, '61 07 30 05 02 01 01 83 00',
     'presentation-data-values'),
    (codec.decode_user_data, '61 09 30 07 02 01 01 a0 02 05 00 00',
     'after'),
    (codec.decode_user_data, '61 07 30 05 02 01 01 a2 00',
     'constructed arbitrary'),
])
def test_decode_invalid(decode, octets, match):
    with pytest.raises(codec.PpduDecodeError, match=match):
        decode(h(octets))


def test_decode_error_classes():
    assert issubclass(codec.PpduDecodeError, ber.DecodeError)
    assert issubclass(codec.PpduDecodeError, ValueError)
    with pytest.raises(codec.PpduDecodeError, match='^CP-type: '):
        codec.decode_cp(b'')


@pytest.mark.parametrize('encode, ppdu, error', [
    (codec.encode_user_data, common.FullyEncodedData([]), ValueError),
    (codec.encode_user_data, b'x', TypeError),
    (codec.encode_user_data,
     common.FullyEncodedData([common.PdvList(None, 1, 5)]), TypeError),
    (codec.encode_user_data,
     common.FullyEncodedData([common.PdvList(None, True, b'')]), TypeError),
    (codec.encode_abort, common.CpPpdu(*[None] * 8), TypeError),
    (codec.encode_abort, common.ArpPpdu(99, None), ValueError),
    (codec.encode_cp, CP_PPDU._replace(calling_presentation_selector=1),
     TypeError),
    (codec.encode_cp, CP_PPDU._replace(presentation_requirements='1'),
     TypeError),
    (codec.encode_cp, CP_PPDU._replace(context_definition_list=[
        common.ContextDefinition(1, (5, 5), [BER])]), ValueError),
])
def test_encode_invalid(encode, ppdu, error):
    with pytest.raises(error):
        encode(ppdu)


# --- SyntaxNames ------------------------------------------------------------

def test_syntax_names():
    names = copp.SyntaxNames([ACSE, MMS, (1, 2, 3)])
    assert [names.get_id(n) for n in (ACSE, MMS, (1, 2, 3))] == [1, 3, 5]
    assert names.get_name(3) == MMS
    assert names.get_id([1, 0, 9506, 2, 1]) == 3
    assert names.items() == [(1, ACSE), (3, MMS), (5, (1, 2, 3))]
    with pytest.raises(KeyError):
        names.get_name(2)
    with pytest.raises(KeyError):
        names.get_id((1, 1))
    peer = copp.SyntaxNames.from_ids([(7, MMS), (2, ACSE)])
    assert peer.get_id(ACSE) == 2
    assert peer.get_name(7) == MMS
    assert peer != names
    assert eval(repr(peer), {'SyntaxNames': copp.SyntaxNames}) == peer
    with pytest.raises(ValueError):
        copp.SyntaxNames([ACSE, ACSE])
    with pytest.raises(ValueError):
        copp.SyntaxNames.from_ids([(1, ACSE), (1, MMS)])


# --- properties -------------------------------------------------------------

oids = st.builds(lambda first, second, rest: (first, second, *rest),
                 st.integers(0, 2), st.integers(0, 39),
                 st.lists(st.integers(0, 2 ** 40), max_size=5))
bits = st.lists(st.booleans(), max_size=12)
context_ids = st.integers(0, 2 ** 31)
elements = st.builds(
    lambda cls, tag, constructed, contents: ber.decode(
        ber.encode_tlv(cls, tag, constructed, contents)),
    st.sampled_from(list(ber.Class)), st.integers(1, 100), st.booleans(),
    st.binary(max_size=20))
pdv_data = st.one_of(elements, st.binary(max_size=20),
                     st.lists(st.booleans(), max_size=20))
pdv_lists = st.builds(common.PdvList, st.none() | oids, context_ids,
                      pdv_data)
user_data = st.one_of(
    st.builds(common.FullyEncodedData,
              st.lists(pdv_lists, min_size=1, max_size=3)),
    st.builds(common.SimplyEncodedData, st.binary(max_size=20)))
selectors = st.none() | st.binary(max_size=6)
context_results = st.builds(
    common.ContextResult, st.sampled_from(list(common.Result)),
    st.none() | oids, st.none() | st.sampled_from(
        list(common.ContextRejectReason)))

cp_ppdus = st.builds(
    common.CpPpdu,
    st.none() | bits, selectors, selectors,
    st.none() | st.lists(st.builds(common.ContextDefinition, context_ids,
                                   oids, st.lists(oids, max_size=3)),
                         max_size=3),
    st.none() | st.builds(common.DefaultContextName, oids, oids),
    st.none() | bits, st.none() | bits, st.none() | user_data)
cpa_ppdus = st.builds(
    common.CpaPpdu,
    st.none() | bits, selectors,
    st.none() | st.lists(context_results, max_size=3),
    st.none() | bits, st.none() | bits, st.none() | user_data)
cpr_ppdus = st.builds(
    common.CprPpdu,
    st.none() | bits, selectors,
    st.none() | st.lists(context_results, max_size=3),
    st.none() | st.sampled_from(list(common.Result)),
    st.none() | st.sampled_from(list(common.ProviderReason)),
    st.none() | user_data)
abort_ppdus = st.one_of(
    st.builds(common.AruPpdu,
              st.none() | st.lists(st.builds(common.ContextIdentifier,
                                             context_ids, oids),
                                   max_size=3),
              st.none() | user_data),
    st.builds(common.ArpPpdu,
              st.none() | st.sampled_from(list(common.AbortReason)),
              st.none() | st.sampled_from(list(common.EventIdentifier))))

CODECS = {
    'cp': (cp_ppdus, codec.encode_cp, codec.decode_cp),
    'cpa': (cpa_ppdus, codec.encode_cpa, codec.decode_cpa),
    'cpr': (cpr_ppdus, codec.encode_cpr, codec.decode_cpr),
    'abort': (abort_ppdus, codec.encode_abort, codec.decode_abort),
    'user-data': (user_data, codec.encode_user_data,
                  codec.decode_user_data),
}


@property_timeout
@pytest.mark.parametrize('name', list(CODECS))
@round_trip_settings
@hypothesis.given(data=st.data())
def test_round_trip(name, data):
    strategy, encode, decode = CODECS[name]
    ppdu = data.draw(strategy)
    encoded = encode(ppdu)
    decoded = decode(encoded)
    assert decoded == ppdu
    assert encode(decoded) == encoded


# valid encodings to mutate: the vectors above and a PPDU of each kind with
# every component present
CORPUS = [
    CP, CPA,
    codec.encode_cp(common.CpPpdu(
        [True], b'\x01', b'\x02',
        [common.ContextDefinition(1, ACSE, [BER, BER])],
        common.DefaultContextName(ACSE, BER), [True], [False, True],
        common.SimplyEncodedData(b'ab'))),
    codec.encode_cpa(CPA_PPDU._replace(
        presentation_requirements=[True], user_session_requirements=[True],
        context_definition_result_list=[common.ContextResult(
            common.Result.USER_REJECTION, BER,
            common.ContextRejectReason.REASON_NOT_SPECIFIED)])),
    codec.encode_cpr(common.CprPpdu(
        [True], SEL, [common.ContextResult(common.Result.ACCEPTANCE, BER,
                                           None)],
        common.Result.ACCEPTANCE, common.ProviderReason.TEMPORARY_CONGESTION,
        common.FullyEncodedData([common.PdvList(BER, 1, USER)]))),
    codec.encode_abort(common.AruPpdu(
        [common.ContextIdentifier(1, BER)],
        common.FullyEncodedData([common.PdvList(None, 1, b'xy'),
                                 common.PdvList(None, 3, [True])]))),
    codec.encode_abort(common.ArpPpdu(common.AbortReason.UNEXPECTED_PPDU,
                                      common.EventIdentifier.AC_PPDU)),
]


def _mutate(args):
    """A corpus encoding with octets changed, inserted or cut"""
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
    for _, encode, decode in CODECS.values():
        try:
            ppdu = decode(octets)
        except codec.PpduDecodeError:
            continue
        assert decode(encode(ppdu)) == ppdu


def _iter_result(octets):
    """PDV-lists yielded by iter_pdv_lists before it raised, and the error
    (None: it ended)"""
    result = []
    try:
        for pdv_list in codec.iter_pdv_lists(octets):
            result.append(pdv_list)
    except codec.PpduDecodeError as e:
        return result, e
    return result, None


# --- the fast paths of P-DATA agree with the general path --------------------
#
# encode_user_data and decode_user_data handle one PDV-list of a small
# context with single-ASN1-type (every MMS PDU) through a duplicated fast
# path for benchmarks/bench_mms.py; it must give what the general path gives.

def _outcome(fn, arg):
    try:
        return fn(arg)
    except (codec.PpduDecodeError, TypeError, ValueError) as e:
        return type(e), str(e)


def _general(fn, arg):
    with unittest.mock.patch.object(codec, '_decode_one_pdv',
                                    lambda data: None), \
            unittest.mock.patch.object(codec, '_encode_one_pdv',
                                       lambda data: None):
        return _outcome(fn, arg)


def _mms_element(size):
    # an MMS-like PDU of `size` contents octets
    return ber.decode(ber.encode_tlv(ber.Class.CONTEXT, 1, True,
                                     bytes(size)))


one_pdv = st.builds(
    lambda context_id, element: common.FullyEncodedData(
        [common.PdvList(None, context_id, element)]),
    st.integers(0, 200),
    st.one_of(elements, st.integers(0, 70000).map(_mms_element)))


@property_timeout
@settings
@hypothesis.given(st.one_of(st.binary(max_size=80), mutated))
def test_iter_pdv_lists_arbitrary_octets(octets):
    """iter_pdv_lists yields the PDV-lists of decode_user_data, one at a
    time, or raises its one error once it reaches a malformed one"""
    pdv_lists, error = _iter_result(octets)
    try:
        decoded = codec.decode_user_data(octets)
    except codec.PpduDecodeError:
        decoded = None
    if isinstance(decoded, common.FullyEncodedData):
        assert error is None
        assert pdv_lists == decoded.pdv_lists
    else:
        # simply-encoded or not User-data: an error, after at most the
        # valid PDV-lists before the malformed one
        assert error is not None


@round_trip_settings
@hypothesis.given(user_data)
def test_iter_pdv_lists_round_trip(data):
    encoded = codec.encode_user_data(data)
    pdv_lists, error = _iter_result(encoded)
    if isinstance(data, common.FullyEncodedData):
        assert error is None
        assert pdv_lists == data.pdv_lists
    else:
        assert 'simply-encoded' in str(error)


def test_iter_pdv_lists_decodes_on_demand():
    """The PDV-lists before a malformed one are yielded; the error comes
    when the iteration reaches it"""
    good = h('30 07 02 01 01 a0 02 05 00')
    bad = h('30 03 02 01 01')
    octets = ber.encode_tlv(ber.Class.APPLICATION, 1, True,
                            good * 2 + bad + good)
    pdv_lists = codec.iter_pdv_lists(octets)
    expected = common.PdvList(None, 1, ber.Element(ber.Class.UNIVERSAL, 5,
                                                   False, b''))
    assert next(pdv_lists) == expected
    assert next(pdv_lists) == expected
    with pytest.raises(codec.PpduDecodeError, match='PDV-list'):
        next(pdv_lists)


@pytest.mark.parametrize('octets, match', [
    ('61 00', 'without PDV-list'),
    ('40 01 00', 'simply-encoded'),
    ('30 00', 'unexpected'),
    ('61 04 30 02 02 01', 'exceeds'),
    ('61 09 30 07 02 01 01 a0 02 05 00 00', 'after'),
])
def test_iter_pdv_lists_invalid_first(octets, match):
    with pytest.raises(codec.PpduDecodeError, match=match):
        next(codec.iter_pdv_lists(h(octets)))


@hypothesis.settings(deadline=None)  # a wall-clock bound: flaky under load
@hypothesis.given(st.one_of(one_pdv, user_data), st.data())
def test_user_data_fast_path_agrees(ppdu, data):
    encoded = codec.encode_user_data(ppdu)
    assert encoded == _general(codec.encode_user_data, ppdu)
    assert codec.decode_user_data(encoded) == ppdu
    changed = bytearray(encoded)
    for _ in range(data.draw(st.integers(0, 3))):
        i = data.draw(st.integers(0, len(changed) - 1))
        changed[i] = data.draw(st.integers(0, 255))
    cut = bytes(changed[:data.draw(st.integers(0, len(changed)))])
    for octets in (bytes(changed), cut):
        assert (_outcome(codec.decode_user_data, octets) ==
                _general(codec.decode_user_data, octets))


def test_user_data_fast_path_taken():
    # the P-DATA of an MMS read takes the fast path both ways
    ppdu = common.FullyEncodedData([common.PdvList(None, 3, USER)])
    octets = codec._encode_one_pdv(ppdu)
    assert octets == _general(codec.encode_user_data, ppdu)
    assert codec._decode_one_pdv(octets) == ppdu


@property_timeout
@settings
@hypothesis.given(st.one_of(st.binary(max_size=80), mutated))
def test_decode_single_pdv_agrees_with_the_general_path(octets):
    """decode_single_pdv returns (context id, element) exactly where the
    general path decodes one single-ASN1-type PDV-list without
    transfer-syntax-name of that context and element, else None"""
    single = codec.decode_single_pdv(octets)
    if single is None:
        return
    assert _general(codec.decode_user_data, octets) == \
        common.FullyEncodedData([common.PdvList(None, *single)])


@round_trip_settings
@hypothesis.given(one_pdv)
def test_encode_single_pdv_gives_the_general_octets(data):
    """encode_single_pdv gives the octets of encode_user_data's general
    path (or None beyond its form), and decode_single_pdv reads them
    back"""
    [pdv_list] = data.pdv_lists
    octets = codec.encode_single_pdv(pdv_list.context_id, pdv_list.data)
    if octets is None:
        assert (pdv_list.context_id >= 0x80 or
                not isinstance(pdv_list.data, ber.Element) or
                len(ber.encode(pdv_list.data)) > 0xfff0)
        return
    assert octets == _general(codec.encode_user_data, data)
    assert codec.decode_single_pdv(octets) == (pdv_list.context_id,
                                               pdv_list.data)


def test_single_pdv_rejects_other_forms():
    element = ber.decode(bytes.fromhex('a0 03 02 01 05'))
    assert codec.encode_single_pdv(0x80, element) is None
    assert codec.encode_single_pdv(True, element) is None
    assert codec.encode_single_pdv(3, b'\x02\x01\x05') is None
    # a transfer-syntax-name: general path only
    octets = codec.encode_user_data(common.FullyEncodedData([
        common.PdvList((2, 1, 1), 3, element)]))
    assert codec.decode_single_pdv(octets) is None
    assert codec.decode_single_pdv(bytearray(
        codec.encode_single_pdv(3, element))) is None
