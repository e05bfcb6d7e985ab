"""Tests of the COTP TPDU codec (hat.drivers.cotp.codec).

Example-based tests compare with octets written by hand from the layouts of
ISO 8073 clause 13 (class 0 formats, as RFC 1006 carries them), not
produced by the encoder. Property tests (hypothesis) check that

* decoding arbitrary octets returns a TPDU or raises `DecodeError`,
  nothing else, and that a decoded TPDU encodes to octets that decode to
  it again;
* every TPDU the codec encodes decodes back to itself.

Number of examples per property test: 2000 by default; set the environment
variable ``HAT_DRIVERS_OSI_EXAMPLES`` for a longer run (it also applies to
the cosp codec tests), for example::

    HAT_DRIVERS_OSI_EXAMPLES=100000 .venv/bin/python -m pytest \\
        test_pytest/test_cotp_codec.py

"""

import os

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers.cotp import codec
from hat.drivers.cotp import common


EXAMPLES = int(os.environ.get('HAT_DRIVERS_OSI_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 50))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])


def h(text):
    return bytes.fromhex(text)


VECTORS = [
    # CR, class 0, SRC-REF 1, calling and called TSEL 00 01, TPDU size 1024
    ('11 e0 00 00 00 01 00 c1 02 00 01 c2 02 00 01 c0 01 0a',
     common.CR(src=1, cls=0, options=0, alt_classes=(),
               calling_tsel=h('00 01'), called_tsel=h('00 01'),
               tpdu_size=1024, pref_tpdu_size=None)),
    # CR without parameters (TPDU size 128 applies)
    ('06 e0 00 00 12 34 00',
     common.CR(src=0x1234, cls=0, options=0, alt_classes=(),
               calling_tsel=None, called_tsel=None, tpdu_size=None,
               pref_tpdu_size=None)),
    # CR, preferred class 2 with alternative class 0, 1-octet TSELs
    ('0f e0 00 00 00 07 20 c1 01 05 c2 01 06 c7 01 00',
     common.CR(src=7, cls=2, options=0, alt_classes=(0,),
               calling_tsel=h('05'), called_tsel=h('06'), tpdu_size=None,
               pref_tpdu_size=None)),
    # CR, preferred maximum TPDU size (F0) 16 x 128 octets, class 4 with
    # extended formats option
    ('09 e0 00 00 00 02 42 f0 01 10',
     common.CR(src=2, cls=4, options=2, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=2048)),
    # CC, DST-REF 1, SRC-REF 2, class 0, TPDU size 2048
    ('09 d0 00 01 00 02 00 c0 01 0b',
     common.CC(dst=1, src=2, cls=0, options=0, calling_tsel=None,
               called_tsel=None, tpdu_size=2048, pref_tpdu_size=None)),
    # CC echoing 4-octet TSELs
    ('12 d0 00 01 00 02 00 c1 04 00 00 00 01 c2 04 ff ff ff ff',
     common.CC(dst=1, src=2, cls=0, options=0,
               calling_tsel=h('00 00 00 01'), called_tsel=h('ff ff ff ff'),
               tpdu_size=None, pref_tpdu_size=None)),
    # DR, reason 0x82 (negotiation failed)
    ('06 80 00 07 00 00 82',
     common.DR(dst=7, src=0, reason=0x82, additional_info=None)),
    # DR with additional information
    ('09 80 00 07 00 03 80 e0 01 aa',
     common.DR(dst=7, src=3, reason=0x80, additional_info=h('aa'))),
    # DT with EOT and data; DT without EOT; DT with EOT and no data
    ('02 f0 80 01 02 03', common.DT(eot=True, data=h('01 02 03'))),
    ('02 f0 00 ff', common.DT(eot=False, data=h('ff'))),
    ('02 f0 80', common.DT(eot=True, data=b'')),
    # ER, cause 2 (invalid TPDU type), invalid TPDU 05 ee
    ('08 70 00 01 02 c1 02 05 ee',
     common.ER(dst=1, cause=2, invalid_tpdu=h('05 ee'))),
    ('04 70 00 00 00', common.ER(dst=0, cause=0, invalid_tpdu=None)),
]


@pytest.mark.parametrize('octets, tpdu', VECTORS)
def test_decode_vectors(octets, tpdu):
    assert codec.decode(h(octets)) == tpdu


@pytest.mark.parametrize('octets, tpdu', VECTORS)
def test_encode_vectors(octets, tpdu):
    assert codec.encode(tpdu) == h(octets)


@pytest.mark.parametrize('octets, tpdu', [
    # unknown parameters (checksum C3, version C4) are skipped
    ('0d e0 00 00 00 01 00 c3 02 12 34 c4 01 01',
     common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None)),
    # TPDU-NR and CDT bits are not significant in class 0
    ('02 f0 85 aa', common.DT(eot=True, data=h('aa'))),
    ('06 e3 00 00 00 01 00',
     common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None)),
    # TPDU size 8192 decodes (the connection caps it for class 0)
    ('09 d0 00 01 00 02 00 c0 01 0d',
     common.CC(dst=1, src=2, cls=0, options=0, calling_tsel=None,
               called_tsel=None, tpdu_size=8192, pref_tpdu_size=None)),
    # empty TSEL
    ('08 e0 00 00 00 01 00 c2 00',
     common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=b'', tpdu_size=None, pref_tpdu_size=None)),
])
def test_decode_lenient(octets, tpdu):
    assert codec.decode(h(octets)) == tpdu


@pytest.mark.parametrize('octets, message', [
    ('', 'shorter than 2'),
    ('02', 'shorter than 2'),
    ('02 f0', 'no EOT'),
    ('03 f0 80 00', 'LI 3'),
    ('06 e0 00 00 00 01', 'runs past the end'),
    ('ff e0 00 00 00 01 00', 'LI 255'),
    ('02 10 80', 'ED TPDU'),
    ('02 60 80', 'AK TPDU'),
    ('06 c0 00 01 00 02 00', 'DC TPDU'),
    ('02 00 80', 'unknown TPDU code'),
    ('06 e0 00 00 00 01 50', 'protocol class 5'),
    ('06 e0 00 00 00 01 00 aa', 'user data'),
    ('04 e0 00 00 00', 'fixed part'),
    ('03 70 00 00', 'fixed part'),
    ('07 e0 00 00 00 01 00 c0', 'cut short'),
    ('08 e0 00 00 00 01 00 c0 05', 'runs past the header'),
    ('0c e0 00 00 00 01 00 c0 01 0a c0 01 0a', 'twice'),
    ('09 e0 00 00 00 01 00 c0 01 0e', 'TPDU size'),
    ('09 e0 00 00 00 01 00 c0 01 06', 'TPDU size'),
    ('0a e0 00 00 00 01 00 c0 02 0a 00', 'TPDU size'),
    ('08 e0 00 00 00 01 00 f0 00', 'preferred maximum TPDU size'),
    ('09 e0 00 00 00 01 00 f0 01 00', 'preferred maximum TPDU size'),
    ('0d e0 00 00 00 01 00 f0 05 00 00 00 00 01',
     'preferred maximum TPDU size'),
    ('09 e0 00 00 00 01 20 c7 01 50', 'alternative protocol class'),
])
def test_decode_errors(octets, message):
    with pytest.raises(codec.DecodeError, match=message):
        codec.decode(h(octets))


def test_decode_error_is_value_error():
    assert issubclass(codec.DecodeError, ValueError)


@pytest.mark.parametrize('tpdu, error', [
    ('not a tpdu', TypeError),
    (common.DT(eot=1, data=b''), TypeError),
    (common.DT(eot=True, data=bytearray()), TypeError),
    (common.DR(dst=-1, src=0, reason=0, additional_info=None), ValueError),
    (common.DR(dst=0, src=0x10000, reason=0, additional_info=None),
     ValueError),
    (common.DR(dst=0, src=0, reason=256, additional_info=None), ValueError),
    (common.DR(dst=0, src=0, reason=True, additional_info=None), TypeError),
    (common.ER(dst=0, cause=0, invalid_tpdu='x'), TypeError),
    (common.CR(src=1, cls=5, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     ValueError),
    (common.CR(src=1, cls=0, options=16, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     ValueError),
    (common.CR(src=1, cls=0, options=0, alt_classes=[0], calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     TypeError),
    (common.CR(src=1, cls=0, options=0, alt_classes=(5,), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     ValueError),
    (common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=1000, pref_tpdu_size=None),
     ValueError),
    (common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=None,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=100),
     ValueError),
    (common.CR(src=1, cls=0, options=0, alt_classes=(), calling_tsel=5,
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     TypeError),
    # header over 254 octets
    (common.CR(src=1, cls=0, options=0, alt_classes=(),
               calling_tsel=bytes(125), called_tsel=bytes(125),
               tpdu_size=None, pref_tpdu_size=None), ValueError),
    (common.CC(dst=1, src=1, cls=0, options=0, calling_tsel=bytes(256),
               called_tsel=None, tpdu_size=None, pref_tpdu_size=None),
     ValueError),
])
def test_encode_errors(tpdu, error):
    with pytest.raises(error):
        codec.encode(tpdu)


def test_longest_header():
    """A header of 254 octets (the largest LI) encodes and decodes"""
    tpdu = common.CR(src=1, cls=0, options=0, alt_classes=(),
                     calling_tsel=bytes(range(124)),
                     called_tsel=bytes(range(120)),
                     tpdu_size=None, pref_tpdu_size=None)
    octets = codec.encode(tpdu)
    assert octets[0] == 254
    assert len(octets) == 255
    assert codec.decode(octets) == tpdu


def test_tsel_conversion():
    assert common.tsel_to_bytes(None) is None
    assert common.tsel_to_bytes(1) == h('00 01')
    assert common.tsel_to_bytes(0xFFFF) == h('ff ff')
    assert common.tsel_to_bytes(b'\x05') == b'\x05'
    assert common.tsel_from_bytes(h('00 01')) == 1
    assert common.tsel_from_bytes(h('05')) == h('05')
    assert common.tsel_from_bytes(h('00 00 00 01')) == h('00 00 00 01')
    assert common.tsel_from_bytes(None) is None
    for bad, error in ((-1, ValueError), (0x10000, ValueError),
                       (True, TypeError), ('1', TypeError),
                       (bytearray(b'1'), TypeError)):
        with pytest.raises(error):
            common.tsel_to_bytes(bad)


# --- properties ------------------------------------------------------------

refs = st.integers(0, 0xFFFF)
octets = st.integers(0, 0xFF)
tsels = st.none() | st.binary(max_size=100)
sizes = st.none() | st.sampled_from(common.TPDU_SIZES)
pref_sizes = st.none() | st.integers(1, 0xFFFFFFFF).map(lambda i: i * 128)
classes = st.integers(0, 4)
options = st.integers(0, 15)

tpdus = st.one_of(
    st.builds(common.CR, src=refs, cls=classes, options=options,
              alt_classes=st.lists(classes, max_size=8).map(tuple),
              calling_tsel=tsels, called_tsel=tsels, tpdu_size=sizes,
              pref_tpdu_size=pref_sizes),
    st.builds(common.CC, dst=refs, src=refs, cls=classes, options=options,
              calling_tsel=tsels, called_tsel=tsels, tpdu_size=sizes,
              pref_tpdu_size=pref_sizes),
    st.builds(common.DR, dst=refs, src=refs, reason=octets,
              additional_info=st.none() | st.binary(max_size=200)),
    st.builds(common.DT, eot=st.booleans(), data=st.binary(max_size=3000)),
    st.builds(common.ER, dst=refs, cause=octets,
              invalid_tpdu=st.none() | st.binary(max_size=200)))


@property_timeout
@settings
@hypothesis.given(tpdus)
def test_encode_decode_round_trip(tpdu):
    assert codec.decode(codec.encode(tpdu)) == tpdu


# arbitrary octets, and octets that start like a TPDU (a plausible LI and
# a known code) so that decoding gets past the first checks
arbitrary = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda code, rest: bytes((len(rest) + 1, code)) + rest,
              st.sampled_from([0xE0, 0xD0, 0x80, 0x70, 0xF0]),
              st.binary(max_size=60)),
    st.builds(lambda code, ref, cls, params: (
                  bytes((6 + len(params), code, 0, 0, *ref, cls)) + params),
              st.sampled_from([0xE0, 0xD0, 0x80]),
              st.binary(min_size=2, max_size=2),
              octets,
              st.lists(st.builds(lambda c, v: bytes((c, len(v))) + v,
                                 st.sampled_from([0xC0, 0xC1, 0xC2, 0xC7,
                                                  0xF0, 0xE0, 0xC3]),
                                 st.binary(max_size=5)),
                       max_size=4).map(b''.join)))


@property_timeout
@settings
@hypothesis.given(arbitrary)
def test_decode_arbitrary(data):
    try:
        tpdu = codec.decode(data)

    except codec.DecodeError:
        return

    assert isinstance(tpdu, (common.CR, common.CC, common.DR, common.DT,
                             common.ER))
    assert codec.decode(codec.encode(tpdu)) == tpdu
