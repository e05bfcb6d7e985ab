"""COTP codec: class 0 TPDUs (ISO 8073 clause 13) to octets and back.

Pure functions, no I/O, no logging. `encode` turns one TPDU of
`hat.drivers.cotp.common` into the octets of one TPKT payload; `decode`
turns one TPKT payload into one TPDU.

Every TPDU starts with a header: the length indicator (LI, octet 0: the
header's length without the LI itself, at most 254), the TPDU code
(octet 1, high 4 bits), a fixed part and a variable part of parameters,
each ``code, length, value``. Layouts (normal formats)::

    CR   LI E0 | 00 00 | SRC-REF (2) | class/options | parameters
    CC   LI D0 | DST-REF (2) | SRC-REF (2) | class/options | parameters
    DR   LI 80 | DST-REF (2) | SRC-REF (2) | reason | parameters
    DT   02 F0 | EOT/TPDU-NR | user data (class 0 and 1 format)
    ER   LI 70 | DST-REF (2) | reject cause | parameters

Parameters: C0 TPDU size (1 octet, 2 to the power of the value octets),
C1 calling TSEL, C2 called TSEL, C7 alternative protocol classes (one
octet per class, the class in the high 4 bits), F0 preferred maximum TPDU
size (1 to 4 octets, in units of 128 octets), E0 additional information
(DR), C1 invalid TPDU (ER). Parameters a TPDU does not define (for example
a checksum, C3, or a version, C4) are skipped when decoding, as ISO 8073
clause 13.2.3 allows; a parameter that occurs twice, a length that runs
past the header, a TPDU size value outside 7 to 13 (128 to 8192 octets),
a preferred TPDU size of 0 or of more than 4 octets are errors.

`decode` raises `DecodeError` (a `ValueError`) naming the problem for any
input that is not one of these TPDUs: an unknown or class 1 to 4 only TPDU
code (ED, AK, EA, RJ, DC), an LI of 255 or one that does not match the
octets, a header shorter than its fixed part, octets after the header of a
TPDU other than DT (class 0 carries no user data in CR, CC, DR or ER), a
DT whose LI is not 2. Nothing else is ever raised. The TPDU-NR of a DT
and the CDT bits of CR and CC are not significant in class 0 and are
ignored.

`encode` checks every field first and raises `TypeError` or `ValueError`
naming it; every TPDU it encodes decodes back to itself.

"""

import typing

from hat.drivers.cotp import common


class DecodeError(ValueError):
    """Octets are not a valid class 0 TPDU; the message names the
    problem"""


CR_CODE = 0xE0
CC_CODE = 0xD0
DR_CODE = 0x80
DC_CODE = 0xC0
DT_CODE = 0xF0
ED_CODE = 0x10
AK_CODE = 0x60
EA_CODE = 0x20
RJ_CODE = 0x50
ER_CODE = 0x70

MAX_LI = 254
"""Largest length indicator (255 is reserved)"""

TPDU_SIZE_PARAM = 0xC0
CALLING_TSEL_PARAM = 0xC1
CALLED_TSEL_PARAM = 0xC2
ALT_CLASSES_PARAM = 0xC7
PREF_TPDU_SIZE_PARAM = 0xF0
ADDITIONAL_INFO_PARAM = 0xE0
INVALID_TPDU_PARAM = 0xC1

DT_EOT = 0x80

_CODE_NAMES = {CR_CODE: 'CR', CC_CODE: 'CC', DR_CODE: 'DR', DC_CODE: 'DC',
               DT_CODE: 'DT', ED_CODE: 'ED', AK_CODE: 'AK', EA_CODE: 'EA',
               RJ_CODE: 'RJ', ER_CODE: 'ER'}


# === encoding ===============================================================

def encode(tpdu: common.Tpdu) -> bytes:
    """Octets of `tpdu` (one TPKT payload)

    Raises:
        TypeError: not a TPDU, or a field of the wrong type
        ValueError: a field out of range (references and TPDU sizes), or a
            header longer than 254 octets (long TSELs)

    """
    if isinstance(tpdu, common.DT):
        _check_bool('DT.eot', tpdu.eot)
        _check_bytes('DT.data', tpdu.data, optional=False)
        return b''.join((bytes((2, DT_CODE, DT_EOT if tpdu.eot else 0)),
                         tpdu.data))

    if isinstance(tpdu, common.CR):
        fixed = bytes((CR_CODE, 0, 0, *_ref('CR.src', tpdu.src),
                       _class_option('CR', tpdu.cls, tpdu.options)))
        params = _conn_params('CR', tpdu)
        alt = _check_alt_classes(tpdu.alt_classes)
        if alt:
            params.append(_param(ALT_CLASSES_PARAM,
                                 bytes(cls << 4 for cls in alt)))

    elif isinstance(tpdu, common.CC):
        fixed = bytes((CC_CODE, *_ref('CC.dst', tpdu.dst),
                       *_ref('CC.src', tpdu.src),
                       _class_option('CC', tpdu.cls, tpdu.options)))
        params = _conn_params('CC', tpdu)

    elif isinstance(tpdu, common.DR):
        fixed = bytes((DR_CODE, *_ref('DR.dst', tpdu.dst),
                       *_ref('DR.src', tpdu.src),
                       _octet('DR.reason', tpdu.reason)))
        params = []
        _check_bytes('DR.additional_info', tpdu.additional_info)
        if tpdu.additional_info is not None:
            params.append(_param(ADDITIONAL_INFO_PARAM,
                                 tpdu.additional_info))

    elif isinstance(tpdu, common.ER):
        fixed = bytes((ER_CODE, *_ref('ER.dst', tpdu.dst),
                       _octet('ER.cause', tpdu.cause)))
        params = []
        _check_bytes('ER.invalid_tpdu', tpdu.invalid_tpdu)
        if tpdu.invalid_tpdu is not None:
            params.append(_param(INVALID_TPDU_PARAM, tpdu.invalid_tpdu))

    else:
        raise TypeError(f'not a TPDU: {type(tpdu).__name__}')

    header = b''.join((fixed, *params))
    if len(header) > MAX_LI:
        raise ValueError(f'{type(tpdu).__name__} header of {len(header)} '
                         f'octets is longer than {MAX_LI} (TSELs too long)')

    return bytes((len(header),)) + header


def _conn_params(name: str, tpdu: common.CR | common.CC) -> list[bytes]:
    params = []
    for field, code in (('calling_tsel', CALLING_TSEL_PARAM),
                        ('called_tsel', CALLED_TSEL_PARAM)):
        value = getattr(tpdu, field)
        _check_bytes(f'{name}.{field}', value)
        if value is not None:
            params.append(_param(code, value))

    if tpdu.tpdu_size is not None:
        _check_int(f'{name}.tpdu_size', tpdu.tpdu_size)
        if tpdu.tpdu_size not in common.TPDU_SIZES:
            raise ValueError(f'{name}.tpdu_size must be one of '
                             f'{common.TPDU_SIZES}, not {tpdu.tpdu_size}')
        params.append(_param(TPDU_SIZE_PARAM,
                             bytes((tpdu.tpdu_size.bit_length() - 1,))))

    if tpdu.pref_tpdu_size is not None:
        size = tpdu.pref_tpdu_size
        _check_int(f'{name}.pref_tpdu_size', size)
        if size <= 0 or size % 128 or size // 128 > 0xFFFFFFFF:
            raise ValueError(f'{name}.pref_tpdu_size must be a positive '
                             f'multiple of 128 up to 128 * (2^32 - 1), '
                             f'not {size}')
        units = size // 128
        params.append(_param(PREF_TPDU_SIZE_PARAM,
                             units.to_bytes((units.bit_length() + 7) // 8,
                                            'big')))

    return params


def _param(code: int, value: bytes) -> bytes:
    if len(value) > 0xFF:
        raise ValueError(f'parameter {code:#04x} value of {len(value)} '
                         f'octets is longer than 255')
    return b''.join((bytes((code, len(value))), value))


def _check_alt_classes(alt: typing.Any) -> tuple[int, ...]:
    if not isinstance(alt, tuple):
        raise TypeError(f'CR.alt_classes must be a tuple, not '
                        f'{type(alt).__name__}')
    for cls in alt:
        _check_int('CR.alt_classes item', cls)
        if not 0 <= cls <= 4:
            raise ValueError(f'CR.alt_classes item out of range 0 to 4: '
                             f'{cls}')
    return alt


def _class_option(name: str, cls: typing.Any, options: typing.Any) -> int:
    _check_int(f'{name}.cls', cls)
    _check_int(f'{name}.options', options)
    if not 0 <= cls <= 4:
        raise ValueError(f'{name}.cls out of range 0 to 4: {cls}')
    if not 0 <= options <= 0x0F:
        raise ValueError(f'{name}.options out of range 0 to 15: {options}')
    return int((cls << 4) | options)


def _ref(name: str, ref: typing.Any) -> bytes:
    _check_int(name, ref)
    if not 0 <= ref <= 0xFFFF:
        raise ValueError(f'{name} out of range 0 to 65535: {ref}')
    return int(ref).to_bytes(2, 'big')


def _octet(name: str, value: typing.Any) -> int:
    _check_int(name, value)
    if not 0 <= value <= 0xFF:
        raise ValueError(f'{name} out of range 0 to 255: {value}')
    return int(value)


def _check_int(name: str, value: typing.Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be int, not {type(value).__name__}')


def _check_bool(name: str, value: typing.Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f'{name} must be bool, not {type(value).__name__}')


def _check_bytes(name: str, value: typing.Any, optional: bool = True
                 ) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bytes):
        raise TypeError(f'{name} must be bytes{" or None" if optional else ""}'
                        f', not {type(value).__name__}')


# === decoding ===============================================================

def decode(data: bytes | bytearray | memoryview) -> common.Tpdu:
    """TPDU in `data` (one TPKT payload)

    Raises:
        DecodeError: `data` is not a valid class 0 TPDU (see the module
            description)

    """
    data = bytes(data)
    if len(data) < 2:
        raise DecodeError(f'TPDU of {len(data)} octets is shorter than 2')

    li = data[0]
    code = data[1] & 0xF0
    if code == DT_CODE:
        if li != 2:
            raise DecodeError(f'DT TPDU with LI {li} (class 0: 2)')
        if len(data) < 3:
            raise DecodeError('DT TPDU cut short: no EOT octet')
        return common.DT(eot=bool(data[2] & DT_EOT), data=data[3:])

    if li == 255:
        raise DecodeError('LI 255 is reserved')

    if li + 1 > len(data):
        raise DecodeError(f'LI {li} runs past the end of a TPDU of '
                          f'{len(data)} octets')

    if li + 1 < len(data) and code in (CR_CODE, CC_CODE, DR_CODE, ER_CODE):
        raise DecodeError(f'{_CODE_NAMES[code]} TPDU with '
                          f'{len(data) - li - 1} octets of user data '
                          f'(not allowed in class 0)')

    if code == CR_CODE:
        _check_fixed('CR', li, 6)
        params = _decode_params('CR', data[7:li + 1])
        return common.CR(
            src=int.from_bytes(data[4:6], 'big'),
            cls=_decode_class('CR', data[6]),
            options=data[6] & 0x0F,
            alt_classes=_decode_alt_classes(
                params.get(ALT_CLASSES_PARAM, b'')),
            calling_tsel=params.get(CALLING_TSEL_PARAM),
            called_tsel=params.get(CALLED_TSEL_PARAM),
            tpdu_size=_decode_tpdu_size(params.get(TPDU_SIZE_PARAM)),
            pref_tpdu_size=_decode_pref_tpdu_size(
                params.get(PREF_TPDU_SIZE_PARAM)))

    if code == CC_CODE:
        _check_fixed('CC', li, 6)
        params = _decode_params('CC', data[7:li + 1])
        return common.CC(
            dst=int.from_bytes(data[2:4], 'big'),
            src=int.from_bytes(data[4:6], 'big'),
            cls=_decode_class('CC', data[6]),
            options=data[6] & 0x0F,
            calling_tsel=params.get(CALLING_TSEL_PARAM),
            called_tsel=params.get(CALLED_TSEL_PARAM),
            tpdu_size=_decode_tpdu_size(params.get(TPDU_SIZE_PARAM)),
            pref_tpdu_size=_decode_pref_tpdu_size(
                params.get(PREF_TPDU_SIZE_PARAM)))

    if code == DR_CODE:
        _check_fixed('DR', li, 6)
        params = _decode_params('DR', data[7:li + 1])
        return common.DR(dst=int.from_bytes(data[2:4], 'big'),
                         src=int.from_bytes(data[4:6], 'big'),
                         reason=data[6],
                         additional_info=params.get(ADDITIONAL_INFO_PARAM))

    if code == ER_CODE:
        _check_fixed('ER', li, 4)
        params = _decode_params('ER', data[5:li + 1])
        return common.ER(dst=int.from_bytes(data[2:4], 'big'),
                         cause=data[4],
                         invalid_tpdu=params.get(INVALID_TPDU_PARAM))

    name = _CODE_NAMES.get(code)
    if name is not None:
        raise DecodeError(f'{name} TPDU (code {data[1]:#04x}) is not used '
                          f'in class 0')
    raise DecodeError(f'unknown TPDU code {data[1]:#04x}')


def _check_fixed(name: str, li: int, size: int) -> None:
    if li < size:
        raise DecodeError(f'{name} TPDU with LI {li}: shorter than its '
                          f'fixed part ({size})')


def _decode_class(name: str, octet: int) -> int:
    cls = octet >> 4
    if cls > 4:
        raise DecodeError(f'{name} TPDU with protocol class {cls} '
                          f'(classes are 0 to 4)')
    return cls


def _decode_params(name: str, data: bytes) -> dict[int, bytes]:
    params: dict[int, bytes] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise DecodeError(f'{name} TPDU: parameter {data[i]:#04x} cut '
                              f'short (no length octet)')
        code, length = data[i], data[i + 1]
        if i + 2 + length > len(data):
            raise DecodeError(f'{name} TPDU: parameter {code:#04x} of '
                              f'length {length} runs past the header')
        if code in params:
            raise DecodeError(f'{name} TPDU: parameter {code:#04x} occurs '
                              f'twice')
        params[code] = data[i + 2:i + 2 + length]
        i += 2 + length
    return params


def _decode_tpdu_size(value: bytes | None) -> int | None:
    if value is None:
        return None
    if len(value) != 1 or not 7 <= value[0] <= 13:
        raise DecodeError(f'invalid TPDU size parameter value '
                          f'{value.hex(" ") or "(empty)"} (07 to 0d)')
    return 1 << value[0]


def _decode_pref_tpdu_size(value: bytes | None) -> int | None:
    if value is None:
        return None
    units = int.from_bytes(value, 'big')
    if not 1 <= len(value) <= 4 or units == 0:
        raise DecodeError(f'invalid preferred maximum TPDU size parameter '
                          f'value {value.hex(" ") or "(empty)"}')
    return units * 128


def _decode_alt_classes(value: bytes) -> tuple[int, ...]:
    classes = tuple(octet >> 4 for octet in value)
    if any(cls > 4 for cls in classes):
        raise DecodeError(f'invalid alternative protocol class parameter '
                          f'value {value.hex(" ")}')
    return classes
