"""ASN.1 Basic Encoding Rules (BER, ITU-T X.690 / ISO 8825-1) core.

A small sans-IO core shared by the OSI upper layers (`hat.drivers.copp`,
`hat.drivers.acse`) and MMS: pure functions, no I/O, no logging, one error
class (`DecodeError`). It works on the TLV level (identifier octets, length
octets, contents octets: X.690 clause 8.1) and has helpers for the contents
of the universal types those protocols use. It knows no ASN.1 module: the
codecs above it map their PDUs onto elements themselves (that is the hot
path of every MMS read, so it is kept free of schema interpretation; see
``benchmarks/bench_ber.py`` for the figures that chose this core over an
ASN.1 library).

Elements
--------

A decoded element is an `Element`: tag class, tag number, primitive or
constructed, and its contents octets. Decoding is one level at a time and
copies nothing: ``contents`` is a `memoryview` into the decoded buffer, and
the children of a constructed element are decoded on demand with
`Element.children` (or `decode_all` on its contents). `Element` is also the
opaque "BER entity" of the upper layers: hat-drivers 0.6.23 typed user data
as ``IdentifiedEntity = Tuple[asn1.ObjectIdentifier, asn1.Entity]`` with
hat-asn1's ``Entity``; here an `Element` takes that role (a presentation
data value of abstract syntax ``name`` is ``(name, element)``).

Encoding
--------

`encode_tlv` (and `encode` for an `Element`) writes definite lengths in
their shortest form (X.690 clause 10.1: the DER length) and tag numbers
above 30 in the high-tag-number form. A constructed value is encoded from
its encoded children: ``encode_tlv(Class.CONTEXT, 1, True,
b''.join(children))``. The ``encode_*`` helpers return contents octets in
their canonical (DER) form; the caller adds the identifier and length (the
tag depends on the ASN.1 type, which may be implicitly tagged).

Decoding
--------

`decode` (exactly one element) and `decode_all` (a sequence of elements,
for example the contents of a SEQUENCE) accept what X.690 allows a BER
sender to send:

* definite lengths in the short or the long form, the long form with
  leading zero octets or used for short lengths (X.690 8.1.3.2, 8.1.3.5);
  at most 8 length octets, and the length must fit in the buffer;
* the indefinite length (X.690 8.1.3.6) for constructed elements: the
  element ends at its matching end-of-contents octets; nested
  indefinite-length elements are followed iteratively up to `MAX_DEPTH`
  levels. The decoded contents are the octets before the end-of-contents,
  so re-encoding gives the definite form;
* tag numbers in the high-tag-number form up to 2**28 - 1 (4 octets).

They reject, with `DecodeError`: a buffer that ends inside an element, a
length beyond the buffer, the reserved length octet 0xFF, an indefinite
length on a primitive element, an end-of-contents (universal tag 0) where
no indefinite-length element is open, a high-tag-number form with a
leading 0x80 octet or for a tag below 31 (X.690 8.1.2.4.2) and, for
`decode`, octets after the element. Work is linear in the input size (no
copies; an indefinite-length element is scanned once per level at which it
is opened, at most `MAX_DEPTH` levels).

The ``decode_*`` helpers read contents octets and raise `DecodeError` for
contents their type does not allow (an empty INTEGER, a BOOLEAN that is
not one octet, a BIT STRING with more than 7 unused bits, ...). They are
lenient where BER is: an INTEGER with redundant leading octets and a
BOOLEAN true other than 0xFF decode, but encode back in the canonical form.

Example::

    from hat.drivers import ber

    data = ber.encode_tlv(ber.Class.UNIVERSAL, ber.UniversalTag.SEQUENCE,
                          True,
                          ber.encode_tlv(ber.Class.UNIVERSAL,
                                         ber.UniversalTag.INTEGER, False,
                                         ber.encode_integer(300)))
    assert data == b'\\x30\\x04\\x02\\x02\\x01\\x2c'
    seq = ber.decode(data)
    [item] = seq.children()
    assert ber.decode_integer(item.contents) == 300

"""

import enum
import typing


Bytes: typing.TypeAlias = bytes | bytearray | memoryview
"""Octets accepted as input (`memoryview` of format ``B``)"""

ObjectIdentifier: typing.TypeAlias = tuple[int, ...]
"""OBJECT IDENTIFIER value, for example ``(1, 0, 9506, 2, 1)``"""

MAX_DEPTH: int = 64
"""Default limit of nested indefinite-length elements (`decode`,
`decode_all`) and of nested segments of a constructed string
(`string_contents`)"""

MAX_TAG: int = (1 << 28) - 1
"""Largest tag number decoded (4 octets of the high-tag-number form)"""


MAX_ARC_OCTETS: int = 20
"""Longest OBJECT IDENTIFIER arc decoded (octets; 140 bits, enough for the
128-bit UUID arcs of X.667), keeping decoding linear"""


class DecodeError(ValueError):
    """Octets that are not a valid BER encoding (of the expected type)

    The one error class of this module's decoders; a `ValueError`.

    """


class Class(enum.IntEnum):
    """Tag class (X.680 clause 8.1, X.690 8.1.2.2)"""
    UNIVERSAL = 0
    APPLICATION = 1
    CONTEXT = 2
    PRIVATE = 3


class UniversalTag(enum.IntEnum):
    """Tag numbers of the universal class (X.680 clause 8.4) used here"""
    END_OF_CONTENTS = 0
    BOOLEAN = 1
    INTEGER = 2
    BIT_STRING = 3
    OCTET_STRING = 4
    NULL = 5
    OBJECT_IDENTIFIER = 6
    OBJECT_DESCRIPTOR = 7
    EXTERNAL = 8
    REAL = 9
    ENUMERATED = 10
    EMBEDDED_PDV = 11
    UTF8_STRING = 12
    SEQUENCE = 16
    SET = 17
    NUMERIC_STRING = 18
    PRINTABLE_STRING = 19
    IA5_STRING = 22
    UTC_TIME = 23
    GENERALIZED_TIME = 24
    GRAPHIC_STRING = 25
    VISIBLE_STRING = 26
    GENERAL_STRING = 27


class Element(typing.NamedTuple):
    """One BER element (identifier, length and contents octets)

    For a constructed element, ``contents`` holds the encodings of its
    children (decode them with `children`). A decoded element's
    ``contents`` is a `memoryview` into the decoded buffer; one built for
    encoding may use any `Bytes`. Elements compare by value (a `memoryview`
    equals `bytes` with the same octets).

    """
    tag_class: Class
    """tag class"""
    tag: int
    """tag number (0 or more)"""
    constructed: bool
    """constructed (``True``) or primitive (``False``) encoding"""
    contents: Bytes
    """contents octets"""

    def __repr__(self) -> str:
        tag_class = (f'Class.{self.tag_class.name}'
                     if isinstance(self.tag_class, Class)
                     else repr(self.tag_class))
        return (f'Element(tag_class={tag_class}, tag={self.tag!r}, '
                f'constructed={self.constructed!r}, '
                f'contents=bytes.fromhex({bytes(self.contents).hex()!r}))')

    def children(self, max_depth: int = MAX_DEPTH) -> list['Element']:
        """Decode the children of a constructed element

        Same as ``decode_all(self.contents, max_depth)``; decoded again at
        every call.

        Raises:
            DecodeError: the element is primitive, or its contents are not
                a sequence of BER elements

        """
        if not self.constructed:
            raise DecodeError(f'primitive element {_name(self)} '
                              f'has no children')
        return decode_all(self.contents, max_depth)


class External(typing.NamedTuple):
    """Value of the EXTERNAL type (X.690 clause 8.18, X.208 form)

    The type of ``data`` gives the encoding alternative: an `Element` is
    ``single-ASN1-type`` (an ASN.1 value of the referenced abstract
    syntax), a bytes-like value ``octet-aligned`` and a `list` of `bool`
    ``arbitrary`` (a BIT STRING). hat-drivers 0.6.23 used hat-asn1's
    ``External(data, direct_ref, indirect_ref)``: the same fields, plus the
    optional data-value-descriptor.

    """
    data: Element | Bytes | list[bool]
    """encoding: single-ASN1-type, octet-aligned or arbitrary"""
    direct_ref: ObjectIdentifier | None
    """direct-reference (transfer syntax name), ``None`` if absent"""
    indirect_ref: int | None
    """indirect-reference (presentation context identifier), ``None`` if
    absent"""
    data_value_descriptor: str | None = None
    """data-value-descriptor (ObjectDescriptor), ``None`` if absent"""


# --- TLV encoding -----------------------------------------------------------

_SHORT_LENGTHS = [bytes((i,)) for i in range(128)]


def encode_identifier(tag_class: int, tag: int, constructed: bool) -> bytes:
    """Identifier octets (X.690 8.1.2)

    Args:
        tag_class: tag class (`Class` or its int value 0..3)
        tag: tag number, 0 or more (above 30: high-tag-number form)
        constructed: constructed (``True``) or primitive

    Raises:
        ValueError: class outside 0..3 or negative tag number

    """
    if not 0 <= tag_class <= 3:
        raise ValueError(f'invalid tag class {tag_class!r}')
    if tag < 0:
        raise ValueError(f'invalid tag number {tag!r}')
    first = (tag_class << 6) | (0x20 if constructed else 0)
    if tag < 31:
        return bytes((first | tag,))
    octets = [tag & 0x7f]
    tag >>= 7
    while tag:
        octets.append(0x80 | (tag & 0x7f))
        tag >>= 7
    octets.append(first | 0x1f)
    return bytes(reversed(octets))


def encode_length(length: int) -> bytes:
    """Length octets of the definite form, shortest (X.690 8.1.3, 10.1)

    Args:
        length: number of contents octets (0 or more)

    Raises:
        ValueError: negative length

    """
    if length < 128:
        if length < 0:
            raise ValueError(f'invalid length {length!r}')
        return _SHORT_LENGTHS[length]
    size = (length.bit_length() + 7) // 8
    return bytes((0x80 | size,)) + length.to_bytes(size, 'big')


def encode_tlv(tag_class: int,
               tag: int,
               constructed: bool,
               contents: Bytes) -> bytes:
    """Encode one element: identifier, definite length and contents

    Args:
        tag_class: tag class (`Class` or its int value 0..3)
        tag: tag number (0 or more)
        constructed: constructed (``True``, ``contents`` are the encoded
            children) or primitive
        contents: contents octets

    Raises:
        ValueError: class outside 0..3 or negative tag number

    """
    n = len(contents)
    if 0 <= tag < 31 and 0 <= tag_class <= 3:
        head = (tag_class << 6) | (0x20 if constructed else 0) | tag
        if n < 128:
            return bytes((head, n)) + contents
        return bytes((head,)) + encode_length(n) + contents
    return (encode_identifier(tag_class, tag, constructed) +
            encode_length(n) + contents)


def encode(element: Element) -> bytes:
    """Encode an `Element` (definite length; see `encode_tlv`)"""
    return encode_tlv(element.tag_class, element.tag, element.constructed,
                      element.contents)


# --- TLV decoding -----------------------------------------------------------

_CLASSES = tuple(Class)
_new_element = tuple.__new__

# (tag class, tag, constructed) of a first identifier octet with a low tag
# number, None for the high-tag-number form and end-of-contents
_HEADS: list[tuple[Class, int, bool] | None] = [
    None if b & 0x1f == 0x1f or not b & 0xdf else
    (_CLASSES[b >> 6], b & 0x1f, b & 0x20 != 0)
    for b in range(256)]


def _view(data: Bytes) -> memoryview:
    if isinstance(data, memoryview):
        if data.format != 'B' or data.ndim != 1:
            return data.cast('B')
        return data
    return memoryview(data)


def decode(data: Bytes, max_depth: int = MAX_DEPTH) -> Element:
    """Decode exactly one element

    Args:
        data: the element's encoding, nothing before or after it
        max_depth: limit of nested indefinite-length elements

    Raises:
        DecodeError: `data` is not exactly one BER element

    """
    mv = _view(data)
    element, i = _decode_at(mv, 0, len(mv), max_depth)
    if i != len(mv):
        raise DecodeError(f'{len(mv) - i} octets after the element')
    return element


def decode_all(data: Bytes, max_depth: int = MAX_DEPTH) -> list[Element]:
    """Decode a sequence of elements filling `data` (none if empty)

    Args:
        data: concatenated element encodings, for example the contents of
            a constructed element
        max_depth: limit of nested indefinite-length elements

    Raises:
        DecodeError: `data` is not a sequence of BER elements

    """
    if type(data) is memoryview and data.format == 'B' and data.ndim == 1:
        mv = data
    else:
        mv = _view(data)
    end = len(mv)
    i = 0
    result: list[Element] = []
    append = result.append
    heads = _HEADS
    new = _new_element
    while i < end:
        # fast path: low tag number, short definite length
        head = heads[mv[i]]
        if head is not None and i + 2 <= end:
            n = mv[i + 1]
            if n < 0x80:
                cend = i + 2 + n
                if cend <= end:
                    append(new(Element, head + (mv[i + 2:cend],)))
                    i = cend
                    continue
        element, i = _decode_at(mv, i, end, max_depth)
        append(element)
    return result


def iter_decode(data: Bytes,
                max_depth: int = MAX_DEPTH
                ) -> typing.Iterator[Element]:
    """Decode a sequence of elements filling `data` one at a time

    The elements of `decode_all`, each decoded when the iteration reaches
    it, so that a long sequence of small elements is never held decoded at
    once (an `Element` takes some hundred octets of memory however short
    its encoding).

    Args:
        data: concatenated element encodings
        max_depth: limit of nested indefinite-length elements

    Raises:
        DecodeError: when the iteration reaches octets that are not a BER
            element (the elements before them have been yielded)

    """
    mv = _view(data)
    end = len(mv)
    i = 0
    while i < end:
        element, i = _decode_at(mv, i, end, max_depth)
        yield element


def _decode_at(mv: memoryview,
               i: int,
               end: int,
               max_depth: int
               ) -> tuple[Element, int]:
    """Decode the element at `i`; returns it and the index after it"""
    start = i
    b, tag, i = _decode_identifier(mv, i, end)
    if tag == 0 and b < 0x40:
        raise DecodeError(f'end-of-contents outside an indefinite-length '
                          f'element at offset {start}')
    constructed = b & 0x20 != 0
    if i >= end:
        raise DecodeError(f'element at offset {start} has no length octets')
    n = mv[i]
    i += 1
    if n == 0x80:
        if not constructed:
            raise DecodeError(f'indefinite length of a primitive element at '
                              f'offset {start}')
        cend = _scan_indefinite(mv, i, end, max_depth)
        return (_new_element(Element, (_CLASSES[b >> 6], tag, True,
                                       mv[i:cend])),
                cend + 2)
    if n > 0x80:
        k = n & 0x7f
        if k == 0x7f:
            raise DecodeError(f'reserved length octet 0xff at offset '
                              f'{i - 1}')
        if k > 8:
            raise DecodeError(f'{k} length octets at offset {i - 1} '
                              f'(at most 8)')
        if i + k > end:
            raise DecodeError(f'length octets cut short at offset {i - 1}')
        n = int.from_bytes(mv[i:i + k], 'big')
        i += k
    cend = i + n
    if cend > end:
        raise DecodeError(f'element at offset {start}: length {n} exceeds '
                          f'the {end - i} octets left')
    return (_new_element(Element, (_CLASSES[b >> 6], tag, constructed,
                                   mv[i:cend])),
            cend)


def _decode_identifier(mv: memoryview,
                       i: int,
                       end: int
                       ) -> tuple[int, int, int]:
    """First identifier octet, tag number and index after the identifier"""
    if i >= end:
        raise DecodeError(f'element cut short at offset {i}')
    b = mv[i]
    i += 1
    tag = b & 0x1f
    if tag != 0x1f:
        return b, tag, i
    tag = 0
    for count in range(4):
        if i >= end:
            raise DecodeError(f'tag number cut short at offset {i}')
        octet = mv[i]
        i += 1
        if count == 0 and octet == 0x80:
            raise DecodeError(f'tag number with a leading 0x80 octet at '
                              f'offset {i - 1}')
        tag = (tag << 7) | (octet & 0x7f)
        if not octet & 0x80:
            break
    else:
        raise DecodeError(f'tag number above {MAX_TAG} at offset {i - 4}')
    if tag < 31:
        raise DecodeError(f'tag number {tag} in the high-tag-number form '
                          f'at offset {i - 2}')
    return b, tag, i


def _scan_indefinite(mv: memoryview, i: int, end: int, max_depth: int) -> int:
    """Index of the end-of-contents closing the indefinite-length contents
    starting at `i`"""
    depth = 1
    if depth > max_depth:
        raise DecodeError(f'more than {max_depth} nested indefinite-length '
                          f'elements')
    while True:
        if i + 2 > end:
            raise DecodeError('indefinite-length element without '
                              'end-of-contents')
        if mv[i] == 0:
            if mv[i + 1] != 0:
                raise DecodeError(f'end-of-contents with length octet '
                                  f'{mv[i + 1]:#04x} at offset {i}')
            depth -= 1
            if depth == 0:
                return i
            i += 2
            continue
        start = i
        b, _, i = _decode_identifier(mv, i, end)
        if i >= end:
            raise DecodeError(f'element at offset {start} has no length '
                              f'octets')
        n = mv[i]
        i += 1
        if n == 0x80:
            if not b & 0x20:
                raise DecodeError(f'indefinite length of a primitive '
                                  f'element at offset {start}')
            depth += 1
            if depth > max_depth:
                raise DecodeError(f'more than {max_depth} nested '
                                  f'indefinite-length elements')
            continue
        if n > 0x80:
            k = n & 0x7f
            if k == 0x7f:
                raise DecodeError(f'reserved length octet 0xff at offset '
                                  f'{i - 1}')
            if k > 8:
                raise DecodeError(f'{k} length octets at offset {i - 1} '
                                  f'(at most 8)')
            if i + k > end:
                raise DecodeError(f'length octets cut short at offset '
                                  f'{i - 1}')
            n = int.from_bytes(mv[i:i + k], 'big')
            i += k
        if i + n > end:
            raise DecodeError(f'element at offset {start}: length {n} '
                              f'exceeds the {end - i} octets left')
        i += n


def _name(element: Element) -> str:
    return (f'[{element.tag_class.name} {element.tag}'
            f'{" constructed" if element.constructed else ""}]')


# --- contents of universal types --------------------------------------------

def encode_boolean(value: bool) -> bytes:
    """BOOLEAN contents (X.690 8.2, canonical 0xFF for true)"""
    return b'\xff' if value else b'\x00'


def decode_boolean(contents: Bytes) -> bool:
    """BOOLEAN contents: one octet, any non-zero octet is true

    Raises:
        DecodeError: not exactly one octet

    """
    if len(contents) != 1:
        raise DecodeError(f'BOOLEAN of {len(contents)} octets')
    return contents[0] != 0


def encode_integer(value: int) -> bytes:
    """INTEGER (or ENUMERATED) contents: two's complement, the fewest
    octets (X.690 8.3), any size"""
    size = (value if value >= 0 else ~value).bit_length() // 8 + 1
    return value.to_bytes(size, 'big', signed=True)


def integer_text(value: int) -> str:
    """Text of a decoded INTEGER for messages: the number, or for one wider
    than 64 bits ``(an INTEGER of N octets)`` (``str()`` of an int of more
    than 4300 digits raises ValueError, CPython's int_max_str_digits, so a
    peer's INTEGER is named by its size instead)"""
    if value.bit_length() > 64:
        return f'(an INTEGER of {value.bit_length() // 8 + 1} octets)'
    return str(value)


def decode_integer(contents: Bytes) -> int:
    """INTEGER (or ENUMERATED) contents: two's complement, any size

    Redundant leading octets are accepted.

    Raises:
        DecodeError: no contents octets

    """
    if not contents:
        raise DecodeError('INTEGER without contents octets')
    return int.from_bytes(contents, 'big', signed=True)


encode_enumerated = encode_integer
"""ENUMERATED contents (X.690 8.4: as INTEGER)"""

decode_enumerated = decode_integer
"""ENUMERATED contents (X.690 8.4: as INTEGER)"""


def encode_bit_string(value: typing.Sequence[bool]) -> bytes:
    """BIT STRING contents, primitive form (X.690 8.6)

    Args:
        value: bits, the first is bit 0 (the most significant bit of the
            first octet); trailing false bits are kept (named-bit lists
            that must drop them do so before calling)

    """
    count = len(value)
    unused = -count % 8
    number = 0
    for bit in value:
        number = (number << 1) | (1 if bit else 0)
    number <<= unused
    return bytes((unused,)) + number.to_bytes((count + 7) // 8, 'big')


def decode_bit_string(contents: Bytes) -> list[bool]:
    """BIT STRING contents, primitive form

    Raises:
        DecodeError: no initial octet, more than 7 unused bits, or unused
            bits without any octet of bits

    """
    if not contents:
        raise DecodeError('BIT STRING without its initial octet')
    unused = contents[0]
    if unused > 7 or (unused and len(contents) == 1):
        raise DecodeError(f'BIT STRING with {unused} unused bits in '
                          f'{len(contents) - 1} octets')
    count = (len(contents) - 1) * 8 - unused
    number = int.from_bytes(contents[1:], 'big') >> unused
    return [bool((number >> shift) & 1)
            for shift in range(count - 1, -1, -1)]


def decode_null(contents: Bytes) -> None:
    """NULL contents (X.690 8.8)

    Raises:
        DecodeError: contents not empty

    """
    if contents:
        raise DecodeError(f'NULL with {len(contents)} contents octets')


def encode_object_identifier(value: ObjectIdentifier) -> bytes:
    """OBJECT IDENTIFIER contents (X.690 8.19)

    Raises:
        ValueError: fewer than 2 arcs, a negative arc, a first arc above 2
            or a second arc above 39 under a first arc 0 or 1

    """
    if len(value) < 2:
        raise ValueError(f'object identifier {value!r}: fewer than 2 arcs')
    first, second = value[0], value[1]
    if (not 0 <= first <= 2 or second < 0 or
            (first < 2 and second > 39)):
        raise ValueError(f'object identifier {value!r}: invalid first arcs')
    result = bytearray()
    for arc in (first * 40 + second, *value[2:]):
        if arc < 0:
            raise ValueError(f'object identifier {value!r}: negative arc')
        if arc < 0x80:
            result.append(arc)
            continue
        octets = [arc & 0x7f]
        arc >>= 7
        while arc:
            octets.append(0x80 | (arc & 0x7f))
            arc >>= 7
        result.extend(reversed(octets))
    return bytes(result)


def decode_object_identifier(contents: Bytes) -> ObjectIdentifier:
    """OBJECT IDENTIFIER contents

    Raises:
        DecodeError: empty, an arc with a leading 0x80 octet or of more
            than `MAX_ARC_OCTETS` octets, or the last arc cut short

    """
    if not contents:
        raise DecodeError('OBJECT IDENTIFIER without contents octets')
    arcs = []
    arc = 0
    size = 0
    for octet in bytes(contents):
        if not size and octet == 0x80:
            raise DecodeError('OBJECT IDENTIFIER arc with a leading 0x80 '
                              'octet')
        arc = (arc << 7) | (octet & 0x7f)
        if octet & 0x80:
            size += 1
            if size >= MAX_ARC_OCTETS:
                raise DecodeError(f'OBJECT IDENTIFIER arc of more than '
                                  f'{MAX_ARC_OCTETS} octets')
            continue
        arcs.append(arc)
        arc = 0
        size = 0
    if size:
        raise DecodeError('OBJECT IDENTIFIER cut short')
    first = arcs[0]
    if first < 80:
        return (first // 40, first % 40, *arcs[1:])
    return (2, first - 80, *arcs[1:])


_STRING_CODECS = {UniversalTag.VISIBLE_STRING: 'ascii',
                  UniversalTag.IA5_STRING: 'ascii',
                  UniversalTag.NUMERIC_STRING: 'ascii',
                  UniversalTag.PRINTABLE_STRING: 'ascii',
                  UniversalTag.GENERALIZED_TIME: 'ascii',
                  UniversalTag.UTC_TIME: 'ascii',
                  UniversalTag.GRAPHIC_STRING: 'latin-1',
                  UniversalTag.GENERAL_STRING: 'latin-1',
                  UniversalTag.OBJECT_DESCRIPTOR: 'latin-1',
                  UniversalTag.UTF8_STRING: 'utf-8'}


def encode_string(value: str,
                  tag: UniversalTag = UniversalTag.VISIBLE_STRING) -> bytes:
    """Contents of a character string type (X.690 8.23)

    VisibleString, IA5String, NumericString, PrintableString and the time
    types GeneralizedTime and UTCTime (their text, not parsed) as ASCII;
    GraphicString, GeneralString and ObjectDescriptor as ISO 8859-1
    (their ISO 2022 default character sets G0 and G1, no escapes);
    UTF8String as UTF-8. Character ranges narrower than ASCII (control
    characters in VisibleString, ...) are not checked.

    Raises:
        ValueError: a character the encoding cannot represent, or `tag` is
            not one of those string types

    """
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        raise ValueError(f'{tag!r} is not a supported string type')
    try:
        return value.encode(codec)
    except UnicodeEncodeError as e:
        raise ValueError(f'{tag.name}: {e}') from e


def decode_string(contents: Bytes,
                  tag: UniversalTag = UniversalTag.VISIBLE_STRING) -> str:
    """Contents of a character string type (see `encode_string`)

    Raises:
        DecodeError: octets the type's encoding does not allow (above 0x7F
            in an ASCII type, invalid UTF-8)
        ValueError: `tag` is not a supported string type

    """
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        raise ValueError(f'{tag!r} is not a supported string type')
    try:
        return str(contents, codec)
    except UnicodeDecodeError as e:
        raise DecodeError(f'{tag.name}: {e}') from e


def string_contents(element: Element, max_depth: int = MAX_DEPTH) -> Bytes:
    """Octets of a string element, primitive or constructed (X.690 8.7.3)

    A primitive element gives its contents; a constructed one (the BER
    segmented form of OCTET STRING and the character string types) the
    concatenated contents of its segments, which must be primitive or
    constructed universal OCTET STRING elements, at most `max_depth`
    levels deep.

    Raises:
        DecodeError: invalid segments

    """
    if not element.constructed:
        return element.contents
    parts: list[Bytes] = []
    _collect_segments(element, parts, max_depth)
    return b''.join(parts)


def _collect_segments(element: Element,
                      parts: list[Bytes],
                      depth: int) -> None:
    if depth <= 0:
        raise DecodeError('constructed string nested too deep')
    for child in element.children():
        if (child.tag_class != Class.UNIVERSAL or
                child.tag != UniversalTag.OCTET_STRING):
            raise DecodeError(f'string segment {_name(child)} is not an '
                              f'OCTET STRING')
        if child.constructed:
            _collect_segments(child, parts, depth - 1)
        else:
            parts.append(child.contents)


def encode_external(value: External) -> bytes:
    """EXTERNAL contents (X.690 8.18): the caller wraps them, as universal
    8 constructed or under an implicit tag

    Raises:
        TypeError: ``data`` is not an `Element`, bytes-like or a list
        ValueError: invalid references

    """
    parts = []
    if value.direct_ref is not None:
        parts.append(encode_tlv(Class.UNIVERSAL,
                                UniversalTag.OBJECT_IDENTIFIER, False,
                                encode_object_identifier(value.direct_ref)))
    if value.indirect_ref is not None:
        parts.append(encode_tlv(Class.UNIVERSAL, UniversalTag.INTEGER, False,
                                encode_integer(value.indirect_ref)))
    if value.data_value_descriptor is not None:
        parts.append(encode_tlv(Class.UNIVERSAL,
                                UniversalTag.OBJECT_DESCRIPTOR, False,
                                encode_string(value.data_value_descriptor,
                                              UniversalTag.OBJECT_DESCRIPTOR)))
    data = value.data
    if isinstance(data, Element):
        parts.append(encode_tlv(Class.CONTEXT, 0, True, encode(data)))
    elif isinstance(data, (bytes, bytearray, memoryview)):
        parts.append(encode_tlv(Class.CONTEXT, 1, False, data))
    elif isinstance(data, list):
        parts.append(encode_tlv(Class.CONTEXT, 2, False,
                                encode_bit_string(data)))
    else:
        raise TypeError(f'invalid EXTERNAL data {type(data).__name__}')
    return b''.join(parts)


def decode_external(contents: Bytes,
                    max_depth: int = MAX_DEPTH) -> External:
    """EXTERNAL contents (X.690 8.18)

    The single-ASN1-type alternative gives the `Element` it holds,
    octet-aligned a `memoryview` (its segments joined if constructed),
    arbitrary a `list` of `bool`.

    Raises:
        DecodeError: not a valid EXTERNAL

    """
    children = decode_all(contents, max_depth)
    direct_ref = None
    indirect_ref = None
    descriptor = None
    index = 0

    def next_is(tag: UniversalTag) -> bool:
        if index >= len(children):
            return False
        child = children[index]
        return (child.tag_class == Class.UNIVERSAL and child.tag == tag and
                not child.constructed)

    if next_is(UniversalTag.OBJECT_IDENTIFIER):
        direct_ref = decode_object_identifier(children[index].contents)
        index += 1
    if next_is(UniversalTag.INTEGER):
        indirect_ref = decode_integer(children[index].contents)
        index += 1
    if next_is(UniversalTag.OBJECT_DESCRIPTOR):
        descriptor = decode_string(children[index].contents,
                                   UniversalTag.OBJECT_DESCRIPTOR)
        index += 1
    if index + 1 != len(children):
        raise DecodeError(f'EXTERNAL with {len(children) - index} encoding '
                          f'elements')
    encoding = children[index]
    if encoding.tag_class != Class.CONTEXT or encoding.tag > 2:
        raise DecodeError(f'EXTERNAL encoding {_name(encoding)}')
    data: Element | Bytes | list[bool]
    if encoding.tag == 0:
        if not encoding.constructed:
            raise DecodeError('EXTERNAL single-ASN1-type not constructed')
        data = decode(encoding.contents, max_depth)
    elif encoding.tag == 1:
        data = memoryview(string_contents(encoding, max_depth))
    else:
        if encoding.constructed:
            raise DecodeError('EXTERNAL arbitrary: constructed BIT STRING '
                              'not supported')
        data = decode_bit_string(encoding.contents)
    return External(data=data,
                    direct_ref=direct_ref,
                    indirect_ref=indirect_ref,
                    data_value_descriptor=descriptor)
