"""Tests of the ASN.1 BER core (hat.drivers.ber).

Example-based tests compare with octets written by hand from ITU-T X.690
(and its examples: the BIT STRING of 8.6.4.2, the OBJECT IDENTIFIER
{2 999 3} of 8.19.5), not produced by the encoder. Property tests
(hypothesis) check that

* decoding arbitrary octets (recursively, every constructed element's
  children) returns elements or raises `ber.DecodeError`, nothing else;
* every element tree encodes to octets that decode back to it and
  re-encode to the same octets (canonical for what we encode), and a
  non-canonical decodable input re-encodes to octets decoding to the same
  tree;
* every value helper round-trips its values, and its decoder gives a value
  or `ber.DecodeError` for arbitrary contents.

Number of examples per property test: 2000 by default (a quarter of that
for those generating element trees); set
``HAT_DRIVERS_BER_EXAMPLES`` for a longer run (for example 100000).

"""

import os

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import ber


EXAMPLES = int(os.environ.get('HAT_DRIVERS_BER_EXAMPLES', '2000'))

property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 50))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])

# generating element trees is slow: a quarter of the examples
tree_settings = hypothesis.settings(settings, max_examples=EXAMPLES // 4)

U = ber.Class.UNIVERSAL
C = ber.Class.CONTEXT


# --- strategies and helpers -------------------------------------------------

tags = st.one_of(st.integers(0, 30), st.integers(31, ber.MAX_TAG))
classes = st.sampled_from(list(ber.Class))


def _not_eoc(args):
    tag_class, tag, _ = args
    return not (tag_class == U and tag == 0)


def trees(max_leaves=10):
    """Element trees as (tag_class, tag, contents-or-children)"""
    heads = st.tuples(classes, tags, st.just(None)).filter(_not_eoc)
    leaves = st.builds(lambda h, contents: (h[0], h[1], contents),
                       heads, st.binary(max_size=150))
    return st.recursive(
        leaves,
        lambda children: st.builds(lambda h, cs: (h[0], h[1], cs),
                                   heads, st.lists(children, max_size=4)),
        max_leaves=max_leaves)


def encode_tree(tree):
    tag_class, tag, value = tree
    if isinstance(value, list):
        return ber.encode_tlv(tag_class, tag, True,
                              b''.join(encode_tree(c) for c in value))
    return ber.encode_tlv(tag_class, tag, False, value)


def to_tree(element):
    if element.constructed:
        return (element.tag_class, element.tag,
                [to_tree(c) for c in element.children()])
    return (element.tag_class, element.tag, bytes(element.contents))


def walk(element, depth=0):
    """Decode every level (raises DecodeError like the decoder)"""
    assert depth < 1000
    if element.constructed:
        for child in element.children():
            walk(child, depth + 1)


def encode_walk(element):
    """Re-encode an element tree with definite lengths everywhere"""
    if element.constructed:
        return ber.encode_tlv(element.tag_class, element.tag, True,
                              b''.join(encode_walk(c)
                                       for c in element.children()))
    return ber.encode(element)


# --- TLV: vectors -----------------------------------------------------------

@pytest.mark.parametrize('tag_class, tag, constructed, contents, octets', [
    (U, 2, False, b'\x05', '020105'),
    (U, 16, True, b'', '3000'),
    (ber.Class.APPLICATION, 0, True, b'', '6000'),
    (C, 7, False, b'\x08\x00\x00\x00\x00', '87050800000000'),
    (ber.Class.PRIVATE, 30, False, b'', 'de00'),
    (ber.Class.APPLICATION, 31, False, b'', '5f1f00'),
    (C, 127, True, b'', 'bf7f00'),
    (C, 128, True, b'', 'bf810000'),
    (C, 200, False, b'', '9f814800'),
    (U, 4, False, b'\xaa' * 127, '047f' + 'aa' * 127),
    (U, 4, False, b'\xaa' * 128, '048180' + 'aa' * 128),
    (U, 4, False, b'\xaa' * 256, '04820100' + 'aa' * 256),
])
def test_tlv_vectors(tag_class, tag, constructed, contents, octets):
    data = bytes.fromhex(octets)
    assert ber.encode_tlv(tag_class, tag, constructed, contents) == data
    element = ber.Element(tag_class, tag, constructed, contents)
    assert ber.encode(element) == data
    decoded = ber.decode(data)
    assert decoded == element
    assert isinstance(decoded.tag_class, ber.Class)
    assert isinstance(decoded.contents, memoryview)


def test_encode_length():
    assert ber.encode_length(0) == b'\x00'
    assert ber.encode_length(127) == b'\x7f'
    assert ber.encode_length(128) == b'\x81\x80'
    assert ber.encode_length(65535) == b'\x82\xff\xff'
    assert ber.encode_length(65536) == b'\x83\x01\x00\x00'
    with pytest.raises(ValueError):
        ber.encode_length(-1)


@pytest.mark.parametrize('args', [(4, 0, False), (-1, 0, False),
                                  (0, -1, False)])
def test_encode_invalid_identifier(args):
    with pytest.raises(ValueError):
        ber.encode_identifier(*args)
    with pytest.raises(ValueError):
        ber.encode_tlv(*args, b'')


def test_children():
    data = bytes.fromhex('a10a020101a4050403010203')
    pdu = ber.decode(data)
    invoke, service = pdu.children()
    assert invoke == ber.Element(U, 2, False, b'\x01')
    assert service.tag == 4 and service.constructed
    [octets] = service.children()
    assert octets.contents == b'\x01\x02\x03'
    with pytest.raises(ber.DecodeError):
        octets.children()


def test_decode_copies_nothing():
    data = bytes.fromhex('3008') + bytes.fromhex('3006') + bytes.fromhex(
        '0404deadbeef')
    element = ber.decode(data)
    [inner] = element.children()
    [leaf] = inner.children()
    assert leaf.contents.obj is data
    assert leaf.contents == b'\xde\xad\xbe\xef'


def test_decode_all():
    assert ber.decode_all(b'') == []
    assert ber.decode_all(bytes.fromhex('0500020100')) == [
        ber.Element(U, 5, False, b''), ber.Element(U, 2, False, b'\x00')]
    assert ber.decode_all(bytearray(b'\x05\x00')) == [
        ber.Element(U, 5, False, b'')]


def test_iter_decode_yields_before_the_error():
    elements = ber.iter_decode(bytes.fromhex('0500 020100 0205'))
    assert next(elements) == ber.Element(U, 5, False, b'')
    assert next(elements) == ber.Element(U, 2, False, b'\x00')
    with pytest.raises(ber.DecodeError, match='exceeds'):
        next(elements)
    assert list(ber.iter_decode(b'')) == []


def test_decode_long_form_lengths():
    # BER allows the long form for short lengths and leading zeros
    # (X.690 8.1.3.2, 8.1.3.5)
    for octets in ('04810301020 3', '0482000301020 3',
                   '0488000000000000000301020 3'):
        element = ber.decode(bytes.fromhex(octets.replace(' ', '')))
        assert element == ber.Element(U, 4, False, b'\x01\x02\x03')
        assert ber.encode(element) == bytes.fromhex('0403010203')


def test_decode_indefinite():
    # SEQUENCE { INTEGER 5, [0] { NULL } } with indefinite lengths
    data = bytes.fromhex('3080 020105 a080 0500 0000 0000'.replace(' ', ''))
    element = ber.decode(data)
    assert element.constructed
    assert bytes(element.contents) == bytes.fromhex('020105a08005000000')
    integer, tagged = element.children()
    assert integer == ber.Element(U, 2, False, b'\x05')
    assert tagged.children() == [ber.Element(U, 5, False, b'')]
    assert encode_walk(element) == bytes.fromhex('3007020105a0020500')
    # an end-of-contents inside a definite-length child does not end it
    data = bytes.fromhex('3080 04020000 0000'.replace(' ', ''))
    assert ber.decode(data).children() == [
        ber.Element(U, 4, False, b'\x00\x00')]


def test_decode_indefinite_depth_limit():
    depth = ber.MAX_DEPTH
    data = b'\x30\x80' * depth + b'\x00\x00' * depth
    element = ber.decode(data)
    assert element.tag == 16

    data = b'\x30\x80' * (depth + 1) + b'\x00\x00' * (depth + 1)
    with pytest.raises(ber.DecodeError, match='nested'):
        ber.decode(data)
    with pytest.raises(ber.DecodeError, match='nested'):
        ber.decode(b'\x30\x80' * 3 + b'\x00\x00' * 3, max_depth=2)


def test_decode_deep_definite_nesting_is_lazy():
    data = b''
    for _ in range(5000):
        data = ber.encode_tlv(U, 16, True, data)
    element = ber.decode(data)
    depth = 0
    while element.contents:
        [element] = element.children()
        depth += 1
    assert depth == 4999


@pytest.mark.parametrize('octets, match', [
    ('', 'cut short|no length|offset'),
    ('02', 'no length'),
    ('0201', 'exceeds'),
    ('020200', 'exceeds'),
    ('0203000000ff', 'after'),
    ('0500' + '00', 'after'),
    ('0000', 'end-of-contents'),
    ('2000', 'end-of-contents'),
    ('0480', 'indefinite length of a primitive'),
    ('3080', 'without end-of-contents'),
    ('30800500', 'without end-of-contents'),
    ('308000ff', 'end-of-contents with length'),
    ('04ff', 'reserved'),
    ('0489' + '00' * 9, 'length octets'),
    ('0482', 'cut short'),
    ('0484ffffffff00', 'exceeds'),
    ('1f', 'cut short'),
    ('1f81', 'cut short'),
    ('1f8001' + '00', 'leading 0x80'),
    ('1f1e00', 'high-tag-number form'),
    ('1f8181818100', 'above'),
    ('3080' + '0480', 'indefinite length of a primitive'),
    ('3080' + '04ff', 'reserved'),
])
def test_decode_invalid(octets, match):
    data = bytes.fromhex(octets)
    with pytest.raises(ber.DecodeError, match=match):
        ber.decode(data)
    if data:
        with pytest.raises(ber.DecodeError):
            ber.decode_all(data)


def test_decode_empty():
    with pytest.raises(ber.DecodeError):
        ber.decode(b'')


def test_decode_error_is_value_error():
    assert issubclass(ber.DecodeError, ValueError)


def test_repr_shows_octets():
    element = ber.decode(b'\x04\x02\xab\xcd')
    assert 'abcd' in repr(element)
    assert eval(repr(element), {'Element': ber.Element,
                                'Class': ber.Class}) == element


# --- TLV: properties --------------------------------------------------------

@property_timeout
@settings
@hypothesis.given(st.binary(max_size=400))
def test_arbitrary_octets_decode_or_raise(data):
    try:
        elements = ber.decode_all(data)
    except ber.DecodeError:
        return
    for element in elements:
        try:
            walk(element)
        except ber.DecodeError:
            continue
        # a fully decodable tree re-encodes canonically and decodes to
        # the same tree
        encoded = encode_walk(element)
        again = ber.decode(encoded)
        assert to_tree(again) == to_tree(element)
        assert encode_walk(again) == encoded


@property_timeout
@settings
@hypothesis.given(st.binary(max_size=400))
def test_iter_decode_is_decode_all(data):
    """iter_decode yields the elements of decode_all, or raises where
    decode_all raises"""
    result = []
    try:
        for element in ber.iter_decode(data):
            result.append(element)
    except ber.DecodeError:
        with pytest.raises(ber.DecodeError):
            ber.decode_all(data)
        return
    assert result == ber.decode_all(data)


@property_timeout
@tree_settings
@hypothesis.given(trees())
def test_trees_round_trip(tree):
    data = encode_tree(tree)
    element = ber.decode(data)
    assert to_tree(element) == tree
    assert encode_walk(element) == data
    assert ber.encode(element) == data
    assert ber.decode_all(data + data) == [element, element]


@property_timeout
@tree_settings
@hypothesis.given(trees(max_leaves=8))
def test_indefinite_form_decodes_to_same_tree(tree):

    def encode_indefinite(tree):
        tag_class, tag, value = tree
        if not isinstance(value, list):
            return ber.encode_tlv(tag_class, tag, False, value)
        identifier = ber.encode_identifier(tag_class, tag, True)
        return (identifier + b'\x80' +
                b''.join(encode_indefinite(c) for c in value) + b'\x00\x00')

    element = ber.decode(encode_indefinite(tree))
    assert to_tree(element) == tree
    assert encode_walk(element) == encode_tree(tree)


# --- contents of universal types --------------------------------------------

@pytest.mark.parametrize('value, octets', [
    (0, '00'), (1, '01'), (127, '7f'), (128, '0080'), (255, '00ff'),
    (256, '0100'), (-1, 'ff'), (-128, '80'), (-129, 'ff7f'),
    (-32768, '8000'), (2 ** 64, '010000000000000000'),
])
def test_integer_vectors(value, octets):
    assert ber.encode_integer(value) == bytes.fromhex(octets)
    assert ber.decode_integer(bytes.fromhex(octets)) == value
    assert ber.encode_enumerated(value) == bytes.fromhex(octets)
    assert ber.decode_enumerated(bytes.fromhex(octets)) == value


def test_integer_lenient_decode():
    assert ber.decode_integer(b'\x00\x00\x05') == 5
    assert ber.decode_integer(b'\xff\xff') == -1
    with pytest.raises(ber.DecodeError):
        ber.decode_integer(b'')


@settings
@hypothesis.given(st.integers())
def test_integer_round_trip(value):
    assert ber.decode_integer(ber.encode_integer(value)) == value


@settings
@hypothesis.given(st.binary(min_size=1, max_size=20))
def test_integer_canonical(contents):
    value = ber.decode_integer(contents)
    encoded = ber.encode_integer(value)
    assert len(encoded) <= len(contents)
    assert ber.decode_integer(encoded) == value


def test_boolean():
    assert ber.encode_boolean(True) == b'\xff'
    assert ber.encode_boolean(False) == b'\x00'
    assert ber.decode_boolean(b'\x00') is False
    assert ber.decode_boolean(b'\x01') is True
    assert ber.decode_boolean(b'\xff') is True
    for contents in (b'', b'\x00\x00'):
        with pytest.raises(ber.DecodeError):
            ber.decode_boolean(contents)


def test_null():
    assert ber.decode_null(b'') is None
    with pytest.raises(ber.DecodeError):
        ber.decode_null(b'\x00')


def test_bit_string_vectors():
    # X.690 8.6.4.2: '0A3B5F291CD'H
    bits = [bit == '1' for bit in format(0x0A3B5F291CD, '044b')]
    contents = bytes.fromhex('040a3b5f291cd0')
    assert ber.encode_bit_string(bits) == contents
    assert ber.decode_bit_string(contents) == bits
    assert ber.encode_bit_string([]) == b'\x00'
    assert ber.decode_bit_string(b'\x00') == []
    # MMS: 10 bits set as 0.6.23 put them on the wire
    assert ber.encode_bit_string([True] * 10) == bytes.fromhex('06ffc0')


@pytest.mark.parametrize('octets', ['', '08ff', '01', '07'])
def test_bit_string_invalid(octets):
    with pytest.raises(ber.DecodeError):
        ber.decode_bit_string(bytes.fromhex(octets))


@settings
@hypothesis.given(st.lists(st.booleans(), max_size=100))
def test_bit_string_round_trip(bits):
    assert ber.decode_bit_string(ber.encode_bit_string(bits)) == bits


@pytest.mark.parametrize('value, octets', [
    ((1, 0, 9506, 2, 1), '28ca220201'),
    ((1, 0, 9506, 2, 3), '28ca220203'),
    ((2, 2, 1, 0, 1), '52010001'),
    ((2, 1, 1), '5101'),
    ((2, 999, 3), '883703'),
    ((0, 0), '00'),
    ((1, 39), '4f'),
])
def test_object_identifier_vectors(value, octets):
    assert ber.encode_object_identifier(value) == bytes.fromhex(octets)
    assert ber.decode_object_identifier(bytes.fromhex(octets)) == value


@pytest.mark.parametrize('value', [(), (1,), (3, 0), (1, 40), (0, -1),
                                   (1, 2, -3)])
def test_object_identifier_invalid_encode(value):
    with pytest.raises(ValueError):
        ber.encode_object_identifier(value)


@pytest.mark.parametrize('octets', ['', '2880', '28ca', '80' + '01',
                                    '28' + 'ff' * 20 + '01'])
def test_object_identifier_invalid_decode(octets):
    with pytest.raises(ber.DecodeError):
        ber.decode_object_identifier(bytes.fromhex(octets))


oids = st.builds(lambda first, second, rest: (first, second, *rest),
                 st.integers(0, 2), st.integers(0, 39),
                 st.lists(st.integers(0, 2 ** 128), max_size=8)) | st.builds(
    lambda second, rest: (2, second, *rest),
    st.integers(0, 2 ** 64), st.lists(st.integers(0, 2 ** 64), max_size=8))


@settings
@hypothesis.given(oids)
def test_object_identifier_round_trip(oid):
    assert ber.decode_object_identifier(
        ber.encode_object_identifier(oid)) == oid


@settings
@hypothesis.given(st.binary(max_size=30))
def test_object_identifier_arbitrary(contents):
    try:
        oid = ber.decode_object_identifier(contents)
    except ber.DecodeError:
        return
    assert ber.encode_object_identifier(oid) == contents


def test_strings():
    U_ = ber.UniversalTag
    assert ber.encode_string('LD0') == b'LD0'
    assert ber.decode_string(memoryview(b'LD0')) == 'LD0'
    assert ber.encode_string('\u00e9', U_.GRAPHIC_STRING) == b'\xe9'
    assert ber.decode_string(b'\xe9', U_.GRAPHIC_STRING) == '\u00e9'
    assert ber.encode_string('\u20ac', U_.UTF8_STRING) == b'\xe2\x82\xac'
    assert ber.decode_string(b'20261203120000Z',
                             U_.GENERALIZED_TIME) == '20261203120000Z'
    assert ber.encode_string('261203120000Z', U_.UTC_TIME) == \
        b'261203120000Z'
    assert ber.decode_string(b'\xe2\x82\xac', U_.UTF8_STRING) == '\u20ac'
    with pytest.raises(ValueError):
        ber.encode_string('\u00e9')
    with pytest.raises(ValueError):
        ber.encode_string('\u20ac', U_.GRAPHIC_STRING)
    with pytest.raises(ber.DecodeError):
        ber.decode_string(b'\xe9', U_.VISIBLE_STRING)
    with pytest.raises(ber.DecodeError):
        ber.decode_string(b'\xe2\x82', U_.UTF8_STRING)
    with pytest.raises(ValueError):
        ber.encode_string('x', U_.INTEGER)
    with pytest.raises(ValueError):
        ber.decode_string(b'x', U_.INTEGER)


def test_string_contents():
    primitive = ber.decode(b'\x04\x02ab')
    assert ber.string_contents(primitive) == b'ab'
    # X.690 8.7.3.2 style segmented OCTET STRING, one level nested
    data = bytes.fromhex('2480 0402 6162 2406 0401 63 0401 64 0000'.replace(
        ' ', ''))
    assert ber.string_contents(ber.decode(data)) == b'abcd'
    with pytest.raises(ber.DecodeError):
        ber.string_contents(ber.decode(bytes.fromhex('24030201 00'.replace(
            ' ', ''))))
    nested = b'\x04\x00'
    for _ in range(5):
        nested = ber.encode_tlv(U, 4, True, nested)
    assert ber.string_contents(ber.decode(nested)) == b''
    with pytest.raises(ber.DecodeError):
        ber.string_contents(ber.decode(nested), max_depth=3)


# --- EXTERNAL ---------------------------------------------------------------

def test_external_vectors():
    mms = ber.decode(bytes.fromhex('a8 03 80 01 05'.replace(' ', '')))
    # ACSE user-information as sent by libiec61850 and 0.6.23:
    # direct-reference BER (2 1 1), indirect-reference 3, single-ASN1-type
    external = ber.External(data=mms, direct_ref=(2, 1, 1), indirect_ref=3)
    contents = bytes.fromhex('0602 5101 0201 03 a005 a803800105'.replace(
        ' ', ''))
    assert ber.encode_external(external) == contents
    assert ber.decode_external(contents) == external

    octets = ber.External(data=b'\x01\x02', direct_ref=None, indirect_ref=1,
                          data_value_descriptor='x')
    contents = bytes.fromhex('020101 0701 78 8102 0102'.replace(' ', ''))
    assert ber.encode_external(octets) == contents
    decoded = ber.decode_external(contents)
    assert decoded == octets
    assert isinstance(decoded.data, memoryview)

    arbitrary = ber.External(data=[True, False], direct_ref=None,
                             indirect_ref=None)
    assert ber.encode_external(arbitrary) == bytes.fromhex('820206 80')
    assert ber.decode_external(bytes.fromhex('82020680')) == arbitrary


@pytest.mark.parametrize('octets', [
    '',                    # no encoding
    '020103',              # no encoding
    '8000',                # single-ASN1-type primitive
    'a000',                # single-ASN1-type without a value
    'a0040500 0500',       # single-ASN1-type with two values
    '830100',              # unknown encoding
    '5000',                # not context-specific
    '810100 810100',       # two encodings
    '810100 020101',       # reference after the encoding
    '0600 810100',         # empty OBJECT IDENTIFIER
    'a203 030100',         # constructed arbitrary
])
def test_external_invalid(octets):
    with pytest.raises(ber.DecodeError):
        ber.decode_external(bytes.fromhex(octets.replace(' ', '')))


def test_external_invalid_data():
    with pytest.raises(TypeError):
        ber.encode_external(ber.External(data=1, direct_ref=None,
                                         indirect_ref=None))


externals = st.builds(
    ber.External,
    data=st.one_of(
        st.builds(lambda t: ber.decode(encode_tree(t)), trees(max_leaves=5)),
        st.binary(max_size=20),
        st.lists(st.booleans(), max_size=20)),
    direct_ref=st.none() | oids,
    indirect_ref=st.none() | st.integers(),
    data_value_descriptor=st.none() | st.text(
        st.characters(max_codepoint=255), max_size=10))


@tree_settings
@hypothesis.given(externals)
def test_external_round_trip(external):
    contents = ber.encode_external(external)
    assert ber.decode_external(contents) == external


@settings
@hypothesis.given(st.binary(max_size=60))
def test_external_arbitrary(contents):
    try:
        external = ber.decode_external(contents)
    except ber.DecodeError:
        return
    assert ber.decode_external(ber.encode_external(external)) == external
