"""Tests of the COSP SPDU codec (hat.drivers.cosp.codec).

Example-based tests compare with octets written by hand from ISO 8327-1
clause 8 (SPDU structure and parameter codes), not produced by the encoder.
Property tests (hypothesis) check that decoding arbitrary octets returns an
SPDU or raises `DecodeError` (and that what decodes re-encodes to the same
SPDU), and that every SPDU the codec encodes decodes back to itself.

Number of examples per property test: 2000 by default; set the environment
variable ``HAT_DRIVERS_OSI_EXAMPLES`` for a longer run, for example::

    HAT_DRIVERS_OSI_EXAMPLES=100000 .venv/bin/python -m pytest \\
        test_pytest/test_cosp_codec.py

"""

import os

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers.cosp import codec
from hat.drivers.cosp import common


EXAMPLES = int(os.environ.get('HAT_DRIVERS_OSI_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 50))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])


def h(text):
    return bytes.fromhex(text)


VECTORS = [
    # CN: connect/accept item (protocol options 0, version 2), session user
    # requirements duplex, calling and called SSEL 00 01, user data 2 octets
    ('0d 18 05 06 13 01 00 16 01 02 14 02 00 02 33 02 00 01 34 02 00 01'
     ' c1 02 aa bb',
     common.CN(versions=2, requirements=2, calling_ssel=h('00 01'),
               called_ssel=h('00 01'), user_data=h('aa bb'))),
    # CN with nothing
    ('0d 00', common.CN(versions=None, requirements=None, calling_ssel=None,
                        called_ssel=None, user_data=None)),
    # AC selecting version 2, duplex, 4-octet responding SSEL
    ('0e 14 05 06 13 01 00 16 01 02 14 02 00 02 34 04 00 00 00 01 c1 00',
     common.AC(versions=2, requirements=2, calling_ssel=None,
               responding_ssel=h('00 00 00 01'), user_data=b'')),
    # RF: transport released, reason 2 with user data
    ('0c 07 11 01 01 32 02 02 cc',
     common.RF(transport_disconnect=1, reason=2, user_data=h('cc'))),
    # RF: reason 132 (versions not supported)
    ('0c 03 32 01 84',
     common.RF(transport_disconnect=None, reason=132, user_data=None)),
    # FN: transport released, user data
    ('09 06 11 01 01 c1 01 61',
     common.FN(transport_disconnect=1, user_data=h('61'))),
    ('0a 03 c1 01 62', common.DN(user_data=h('62'))),
    ('0a 00', common.DN(user_data=None)),
    # AB: transport released + protocol error (0.6.23 sent 11 01 01)
    ('19 03 11 01 05',
     common.AB(transport_disconnect=5, reflect=None, user_data=None)),
    ('19 09 11 01 03 0b 01 00 c1 01 63',
     common.AB(transport_disconnect=3, reflect=h('00'), user_data=h('63'))),
    ('1a 00', common.AA()),
    # GT + DT + user information
    ('01 00 01 00 61 62 63', common.DT(data=b'abc')),
    ('01 00 01 00', common.DT(data=b'')),
]


@pytest.mark.parametrize('octets, spdu', VECTORS)
def test_decode_vectors(octets, spdu):
    assert codec.decode(h(octets)) == spdu


@pytest.mark.parametrize('octets, spdu', VECTORS)
def test_encode_vectors(octets, spdu):
    assert codec.encode(spdu) == h(octets)


def test_long_lengths():
    """Lengths of 255 and more take 3 octets (FF + 2 octets)"""
    data = bytes(range(256)) * 2
    fn = common.FN(transport_disconnect=None, user_data=data[:300])
    octets = codec.encode(fn)
    assert octets[:8] == h('09 ff 01 30 c1 ff 01 2c')
    assert octets[8:] == data[:300]
    assert codec.decode(octets) == fn

    # 254 octets: still one length octet
    dn = common.DN(user_data=bytes(252))
    assert codec.encode(dn)[:4] == h('0a fe c1 fc')

    # a 3-octet length for a short value is read too
    assert codec.decode(h('0a ff 00 04 c1 ff 00 00')) == common.DN(
        user_data=b'')


def test_cn_extended_user_data():
    """CN user data over 512 octets goes in PI 194 (up to 10240)"""
    for size, pi in ((512, 0xc1), (513, 0xc2), (10240, 0xc2)):
        cn = common.CN(versions=2, requirements=2, calling_ssel=None,
                       called_ssel=None, user_data=bytes(size))
        octets = codec.encode(cn)
        assert octets[-size - 4] == pi
        assert codec.decode(octets) == cn

    with pytest.raises(ValueError):
        codec.encode(common.CN(versions=2, requirements=2, calling_ssel=None,
                               called_ssel=None, user_data=bytes(10241)))

    # PI 194 read; a PI 193 of more than 512 octets too (0.6.23 sent those)
    assert codec.decode(h('0d 05 c2 03 01 02 03')).user_data == h('01 02 03')
    assert codec.decode(
        h('0d ff 03 e8 c1 ff 03 e4') + bytes(996)).user_data == bytes(996)


@pytest.mark.parametrize('octets, spdu', [
    # connection identifier PGI 1 and TSDU maximum size PI 21 are skipped
    ('0d 11 01 04 0a 02 41 42 05 09 13 01 00 15 04 00 00 00 00',
     common.CN(versions=None, requirements=None, calling_ssel=None,
               called_ssel=None, user_data=None)),
    # GT with a token item; PT before DT
    ('01 03 10 01 00 01 00 61', common.DT(data=b'a')),
    ('02 00 01 00 61', common.DT(data=b'a')),
])
def test_decode_lenient(octets, spdu):
    assert codec.decode(h(octets)) == spdu


@pytest.mark.parametrize('octets, message', [
    ('', 'cut short'),
    ('0d', 'cut short'),
    ('0d 05 c1 02 00', 'runs past'),
    ('0d 02 c1 02', 'runs past'),
    ('0d ff 00', 'cut short'),
    ('01 00', 'not followed by a DT'),
    ('01 00 05 00', 'after'),
    ('01 00 01 03 19 01 01', 'segmenting'),
    ('08 00', 'NF SPDU'),
    ('05 00', 'EX SPDU'),
    ('63 00', 'unknown SPDU identifier 99'),
    ('0a 00 00', 'followed by 1 octets'),
    ('0a 06 c1 01 00 c1 01 00', 'twice'),
    ('0d 06 05 04 16 02 02 02', 'version number of 2 octets'),
    ('0d 03 14 01 02', 'requirements of 1 octets'),
    ('0d 06 c1 01 00 c2 01 00', 'both'),
    ('0c 00', 'without reason'),
    ('09 04 11 02 01 01', 'parameter 17 of 2 octets'),
    ('0d 04 05 02 16 05', 'runs past'),
])
def test_decode_errors(octets, message):
    with pytest.raises(codec.DecodeError, match=message):
        codec.decode(h(octets))


@pytest.mark.parametrize('spdu, error', [
    ('not an spdu', TypeError),
    (common.DT(data=bytearray()), TypeError),
    (common.DN(user_data='x'), TypeError),
    (common.DN(user_data=bytes(0x10000)), ValueError),
    (common.CN(versions=256, requirements=None, calling_ssel=None,
               called_ssel=None, user_data=None), ValueError),
    (common.CN(versions=None, requirements=0x10000, calling_ssel=None,
               called_ssel=None, user_data=None), ValueError),
    (common.CN(versions=None, requirements=None, calling_ssel=1,
               called_ssel=None, user_data=None), TypeError),
    (common.RF(transport_disconnect=None, reason=256, user_data=None),
     ValueError),
    (common.AB(transport_disconnect=True, reflect=None, user_data=None),
     TypeError),
])
def test_encode_errors(spdu, error):
    with pytest.raises(error):
        codec.encode(spdu)


def test_ssel_conversion():
    assert common.ssel_to_bytes(1) == h('00 01')
    assert common.ssel_to_bytes(b'\x01') == b'\x01'
    assert common.ssel_from_bytes(h('00 01')) == 1
    assert common.ssel_from_bytes(h('00 00 00 01')) == h('00 00 00 01')
    for bad, error in ((-1, ValueError), (0x10000, ValueError),
                       (True, TypeError), ('1', TypeError)):
        with pytest.raises(error):
            common.ssel_to_bytes(bad)


# --- properties ------------------------------------------------------------

octet = st.integers(0, 0xFF)
optional_octet = st.none() | octet
ssels = st.none() | st.binary(max_size=40)
user_data = st.none() | st.binary(max_size=600)

spdus = st.one_of(
    st.builds(common.CN, versions=optional_octet,
              requirements=st.none() | st.integers(0, 0xFFFF),
              calling_ssel=ssels, called_ssel=ssels,
              user_data=st.none() | st.binary(max_size=2000)),
    st.builds(common.AC, versions=optional_octet,
              requirements=st.none() | st.integers(0, 0xFFFF),
              calling_ssel=ssels, responding_ssel=ssels,
              user_data=user_data),
    # an empty RF user data is no user data
    st.builds(common.RF, transport_disconnect=optional_octet, reason=octet,
              user_data=st.none() | st.binary(min_size=1, max_size=600)),
    st.builds(common.FN, transport_disconnect=optional_octet,
              user_data=user_data),
    st.builds(common.DN, user_data=user_data),
    st.builds(common.AB, transport_disconnect=optional_octet,
              reflect=st.none() | st.binary(max_size=9),
              user_data=user_data),
    st.just(common.AA()),
    st.builds(common.DT, data=st.binary(max_size=3000)))


@property_timeout
@settings
@hypothesis.given(spdus)
def test_encode_decode_round_trip(spdu):
    assert codec.decode(codec.encode(spdu)) == spdu


def param(code, value):
    return bytes((code, len(value))) + value


arbitrary = st.one_of(
    st.binary(max_size=300),
    # a known SI and a correct LI around arbitrary or plausible parameters
    st.builds(lambda si, body: bytes((si, len(body))) + body,
              st.sampled_from([1, 2, 9, 10, 12, 13, 14, 25, 26]),
              st.one_of(
                  st.binary(max_size=60),
                  st.lists(st.builds(param,
                                     st.sampled_from([1, 5, 11, 17, 19, 20,
                                                      22, 50, 51, 52, 193,
                                                      194]),
                                     st.binary(max_size=6)),
                           max_size=5).map(b''.join))),
    st.builds(lambda prefix, rest: prefix + rest,
              st.sampled_from([h('01 00'), h('01 00 01'), h('02 00 01 00'),
                               h('01 00 01 00')]),
              st.binary(max_size=20)))


@property_timeout
@settings
@hypothesis.given(arbitrary)
def test_decode_arbitrary(data):
    try:
        spdu = codec.decode(data)

    except codec.DecodeError:
        return

    assert isinstance(spdu, (common.CN, common.AC, common.RF, common.FN,
                             common.DN, common.AB, common.AA, common.DT))
    assert codec.decode(codec.encode(spdu)) == spdu
