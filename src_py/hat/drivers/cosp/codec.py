"""COSP codec: SPDUs of the kernel and duplex functional units (ISO 8327-1
clause 8) to octets and back.

Pure functions, no I/O, no logging. `encode` turns one SPDU of
`hat.drivers.cosp.common` into the octets of one TSDU; `decode` turns one
TSDU into one SPDU.

An SPDU is ``SI, LI, parameters`` (ISO 8327-1 clause 8.2): the SPDU
identifier, the length of the parameter field and the parameters, each
``code, length, value``; a parameter group (PGI) holds parameters (PI) in
its value. Every length (LI and parameter lengths) is one octet up to 254,
otherwise ``FF`` and two octets (big endian); both forms are decoded.
Category 1 SPDUs (CN, AC, RF, FN, DN, AB, AA) are alone in their TSDU;
a DT (category 2) follows a GIVE TOKENS (or PLEASE TOKENS) SPDU (category
0) as basic concatenation requires, and its user information is the rest of
the TSDU: `encode` writes ``01 00 01 00`` before the data.

Parameters encoded:

* CN: PGI 5 (connect/accept item) with PI 19 protocol options 0 and PI 22
  version number, PI 20 session user requirements, PI 51 calling and PI 52
  called session selector, user data in PI 193 up to 512 octets and in
  PI 194 (extended user data) up to 10240;
* AC: as CN, PI 52 being the responding session selector, user data in
  PI 193;
* RF: PI 17 transport disconnect, PI 50 reason code (the reason octet,
  followed by the user data);
* FN: PI 17, PI 193; DN: PI 193; AB: PI 17, PI 11 reflect parameter
  values, PI 193; AA: none.

Decoding skips parameters these SPDUs do not use (the connection
identifier PGI 1, token items, TSDU maximum size, serial numbers...). It
raises `DecodeError` (a `ValueError`) naming the problem for anything else:
an SPDU identifier outside the kernel and duplex functional units (PT
without DT, NF, EX, TD, CD...), a length running past the TSDU, octets
after a category 1 SPDU, a parameter that occurs twice or has the wrong
length, a DT with parameters (segmenting is not negotiated), both PI 193
and PI 194 in a CN. Nothing else is ever raised.

`encode` checks every field first and raises `TypeError` or `ValueError`
naming it; every SPDU it encodes decodes back to itself.

"""

import typing

from hat.drivers.cosp import common


class DecodeError(ValueError):
    """Octets are not a valid SPDU; the message names the problem"""


SI_DT = 1  # also GIVE TOKENS
SI_PT = 2
SI_FN = 9
SI_DN = 10
SI_RF = 12
SI_CN = 13
SI_AC = 14
SI_AB = 25
SI_AA = 26

PGI_CONNECTION_ID = 1
PGI_CONNECT_ACCEPT = 5
PI_REFLECT = 11
PI_TRANSPORT_DISCONNECT = 17
PI_PROTOCOL_OPTIONS = 19
PI_REQUIREMENTS = 20
PI_VERSION = 22
PI_REASON = 50
PI_CALLING_SSEL = 51
PI_CALLED_SSEL = 52
PI_USER_DATA = 193
PI_EXTENDED_USER_DATA = 194

MAX_LENGTH = 0xFFFF

_PGIS = {PGI_CONNECTION_ID, PGI_CONNECT_ACCEPT, 33, 41, 49}

_SPDU_NAMES = {1: 'DT/GT', 2: 'PT', 5: 'EX', 7: 'PR', 8: 'NF', 9: 'FN',
               10: 'DN', 12: 'RF', 13: 'CN', 14: 'AC', 15: 'CDO', 16: 'OA',
               21: 'ER', 22: 'RS', 25: 'AB', 26: 'AA', 33: 'TD', 34: 'RA',
               41: 'MIP', 42: 'MIA', 45: 'AR', 48: 'ED', 49: 'MAP',
               50: 'MAA', 53: 'AS', 57: 'AE', 61: 'CD', 62: 'CDA'}

_GT_DT = b'\x01\x00\x01\x00'


# === encoding ===============================================================

def encode(spdu: common.Spdu) -> bytes:
    """Octets of `spdu` (one TSDU)

    Raises:
        TypeError: not an SPDU, or a field of the wrong type
        ValueError: a field out of range, or longer than its parameter
            allows

    """
    if isinstance(spdu, common.DT):
        _check_bytes('DT.data', spdu.data, optional=False)
        return _GT_DT + spdu.data

    if isinstance(spdu, common.CN):
        params = _connect_params('CN', spdu.versions, spdu.requirements,
                                 spdu.calling_ssel, spdu.called_ssel)
        data = spdu.user_data
        _check_bytes('CN.user_data', data)
        if data is not None:
            if len(data) > common.MAX_EXTENDED_USER_DATA:
                raise ValueError(
                    f'CN.user_data of {len(data)} octets is longer than '
                    f'{common.MAX_EXTENDED_USER_DATA} (data overflow is not '
                    f'supported)')
            params.append(_param(PI_USER_DATA
                                 if len(data) <= common.MAX_USER_DATA
                                 else PI_EXTENDED_USER_DATA, data))
        return _spdu(SI_CN, params)

    if isinstance(spdu, common.AC):
        params = _connect_params('AC', spdu.versions, spdu.requirements,
                                 spdu.calling_ssel, spdu.responding_ssel)
        _user_data_param('AC', spdu.user_data, params)
        return _spdu(SI_AC, params)

    if isinstance(spdu, common.RF):
        params = []
        _octet_param('RF.transport_disconnect', PI_TRANSPORT_DISCONNECT,
                     spdu.transport_disconnect, params)
        _check_int('RF.reason', spdu.reason)
        if not 0 <= spdu.reason <= 0xFF:
            raise ValueError(f'RF.reason out of range 0 to 255: '
                             f'{spdu.reason}')
        _check_bytes('RF.user_data', spdu.user_data)
        params.append(_param(PI_REASON, bytes((spdu.reason,)) +
                             (spdu.user_data or b'')))
        return _spdu(SI_RF, params)

    if isinstance(spdu, common.FN):
        params = []
        _octet_param('FN.transport_disconnect', PI_TRANSPORT_DISCONNECT,
                     spdu.transport_disconnect, params)
        _user_data_param('FN', spdu.user_data, params)
        return _spdu(SI_FN, params)

    if isinstance(spdu, common.DN):
        params = []
        _user_data_param('DN', spdu.user_data, params)
        return _spdu(SI_DN, params)

    if isinstance(spdu, common.AB):
        params = []
        _octet_param('AB.transport_disconnect', PI_TRANSPORT_DISCONNECT,
                     spdu.transport_disconnect, params)
        _check_bytes('AB.reflect', spdu.reflect)
        if spdu.reflect is not None:
            params.append(_param(PI_REFLECT, spdu.reflect))
        _user_data_param('AB', spdu.user_data, params)
        return _spdu(SI_AB, params)

    if isinstance(spdu, common.AA):
        return _spdu(SI_AA, [])

    raise TypeError(f'not an SPDU: {type(spdu).__name__}')


def _connect_params(name: str,
                    versions: typing.Any,
                    requirements: typing.Any,
                    calling_ssel: typing.Any,
                    other_ssel: typing.Any
                    ) -> list[bytes]:
    params = []
    if versions is not None:
        _check_int(f'{name}.versions', versions)
        if not 0 <= versions <= 0xFF:
            raise ValueError(f'{name}.versions out of range 0 to 255: '
                             f'{versions}')
        params.append(_param(PGI_CONNECT_ACCEPT, b''.join((
            _param(PI_PROTOCOL_OPTIONS, b'\x00'),
            _param(PI_VERSION, bytes((versions,)))))))

    if requirements is not None:
        _check_int(f'{name}.requirements', requirements)
        if not 0 <= requirements <= 0xFFFF:
            raise ValueError(f'{name}.requirements out of range 0 to 65535: '
                             f'{requirements}')
        params.append(_param(PI_REQUIREMENTS, requirements.to_bytes(2, 'big')))

    for field, code, value in (('calling_ssel', PI_CALLING_SSEL, calling_ssel),
                               ('called_ssel', PI_CALLED_SSEL, other_ssel)):
        _check_bytes(f'{name}.{field}', value)
        if value is not None:
            params.append(_param(code, value))

    return params


def _user_data_param(name: str, data: typing.Any, params: list[bytes]
                     ) -> None:
    _check_bytes(f'{name}.user_data', data)
    if data is not None:
        params.append(_param(PI_USER_DATA, data))


def _octet_param(name: str, code: int, value: typing.Any,
                 params: list[bytes]) -> None:
    if value is None:
        return
    _check_int(name, value)
    if not 0 <= value <= 0xFF:
        raise ValueError(f'{name} out of range 0 to 255: {value}')
    params.append(_param(code, bytes((value,))))


def _length(length: int) -> bytes:
    if length < 0xFF:
        return bytes((length,))
    if length > MAX_LENGTH:
        raise ValueError(f'length {length} is longer than {MAX_LENGTH}')
    return b'\xff' + length.to_bytes(2, 'big')


def _param(code: int, value: bytes) -> bytes:
    return b''.join((bytes((code,)), _length(len(value)), value))


def _spdu(si: int, params: list[bytes]) -> bytes:
    body = b''.join(params)
    return b''.join((bytes((si,)), _length(len(body)), body))


def _check_int(name: str, value: typing.Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{name} must be int, not {type(value).__name__}')


def _check_bytes(name: str, value: typing.Any, optional: bool = True
                 ) -> None:
    if value is None and optional:
        return
    if not isinstance(value, bytes):
        raise TypeError(f'{name} must be bytes{" or None" if optional else ""}'
                        f', not {type(value).__name__}')


# === decoding ===============================================================

def decode(data: bytes | bytearray | memoryview) -> common.Spdu:
    """SPDU in `data` (one TSDU)

    Raises:
        DecodeError: `data` is not a valid SPDU of the kernel and duplex
            functional units (see the module description)

    """
    data = bytes(data)
    if data[:4] == _GT_DT:
        # the common case first: GT and DT without parameters
        return common.DT(data=data[4:])

    si, body, end = _read_spdu(data, 0)

    if si in (SI_DT, SI_PT):
        # category 0 (GT or PT), then a category 2 DT
        _decode_params(_SPDU_NAMES[si], body)
        if end >= len(data):
            raise DecodeError(f'{_SPDU_NAMES[si]} SPDU not followed by a '
                              f'DT SPDU')
        si2, body2, end2 = _read_spdu(data, end)
        if si2 != SI_DT:
            raise DecodeError(f'{_SPDU_NAMES.get(si2, "unknown")} SPDU (SI '
                              f'{si2}) after {_SPDU_NAMES[si]} (only DT '
                              f'is supported)')
        if body2:
            raise DecodeError('DT SPDU with parameters (segmenting is not '
                              'negotiated)')
        return common.DT(data=data[end2:])

    name = _SPDU_NAMES.get(si)
    if si not in (SI_CN, SI_AC, SI_RF, SI_FN, SI_DN, SI_AB, SI_AA):
        if name is None:
            raise DecodeError(f'unknown SPDU identifier {si}')
        raise DecodeError(f'{name} SPDU (SI {si}) is not supported (kernel '
                          f'and duplex functional units only)')
    assert name is not None

    if end != len(data):
        raise DecodeError(f'{name} SPDU followed by {len(data) - end} '
                          f'octets')

    params = _decode_params(name, body)

    if si == SI_CN:
        versions, requirements = _connect_items(name, params)
        if PI_USER_DATA in params and PI_EXTENDED_USER_DATA in params:
            raise DecodeError('CN SPDU with both user data (PI 193) and '
                              'extended user data (PI 194)')
        user_data = params.get(PI_USER_DATA, params.get(
            PI_EXTENDED_USER_DATA))
        return common.CN(versions=versions,
                         requirements=requirements,
                         calling_ssel=params.get(PI_CALLING_SSEL),
                         called_ssel=params.get(PI_CALLED_SSEL),
                         user_data=user_data)

    if si == SI_AC:
        versions, requirements = _connect_items(name, params)
        return common.AC(versions=versions,
                         requirements=requirements,
                         calling_ssel=params.get(PI_CALLING_SSEL),
                         responding_ssel=params.get(PI_CALLED_SSEL),
                         user_data=params.get(PI_USER_DATA))

    if si == SI_RF:
        reason = params.get(PI_REASON)
        if not reason:
            raise DecodeError('RF SPDU without reason code (PI 50)')
        return common.RF(
            transport_disconnect=_octet(name, params,
                                        PI_TRANSPORT_DISCONNECT),
            reason=reason[0],
            user_data=reason[1:] if len(reason) > 1 else None)

    if si == SI_FN:
        return common.FN(
            transport_disconnect=_octet(name, params,
                                        PI_TRANSPORT_DISCONNECT),
            user_data=params.get(PI_USER_DATA))

    if si == SI_DN:
        return common.DN(user_data=params.get(PI_USER_DATA))

    if si == SI_AB:
        return common.AB(
            transport_disconnect=_octet(name, params,
                                        PI_TRANSPORT_DISCONNECT),
            reflect=params.get(PI_REFLECT),
            user_data=params.get(PI_USER_DATA))

    return common.AA()


def _read_spdu(data: bytes, offset: int) -> tuple[int, bytes, int]:
    # (SI, parameter field, offset after the parameter field)
    if offset + 2 > len(data):
        raise DecodeError(f'SPDU cut short at octet {offset}')
    si = data[offset]
    length, offset = _read_length(data, offset + 1, 'SPDU')
    end = offset + length
    if end > len(data):
        raise DecodeError(f'{_SPDU_NAMES.get(si, "SPDU")} (SI {si}) length '
                          f'{length} runs past the TSDU')
    return si, data[offset:end], end


def _read_length(data: bytes, offset: int, what: str) -> tuple[int, int]:
    if offset >= len(data):
        raise DecodeError(f'{what} cut short: no length')
    length = data[offset]
    if length != 0xFF:
        return length, offset + 1
    if offset + 3 > len(data):
        raise DecodeError(f'{what} cut short: 3-octet length incomplete')
    return int.from_bytes(data[offset + 1:offset + 3], 'big'), offset + 3


def _decode_params(name: str, body: bytes) -> dict[int, bytes]:
    params: dict[int, bytes] = {}
    offset = 0
    while offset < len(body):
        code = body[offset]
        length, offset = _read_length(body, offset + 1,
                                      f'{name} SPDU parameter {code}')
        if offset + length > len(body):
            raise DecodeError(f'{name} SPDU parameter {code} of length '
                              f'{length} runs past the parameter field')
        value = body[offset:offset + length]
        offset += length
        if code in params:
            raise DecodeError(f'{name} SPDU parameter {code} occurs twice')
        params[code] = value
        if code in _PGIS:
            # a parameter group: its parameters are checked and those of
            # the connect/accept item are kept beside the others
            group = _decode_params(f'{name} SPDU PGI {code}', value)
            if code == PGI_CONNECT_ACCEPT:
                for pi in (PI_PROTOCOL_OPTIONS, PI_VERSION):
                    if pi in group:
                        params[-pi] = group[pi]
    return params


def _connect_items(name: str, params: dict[int, bytes]
                   ) -> tuple[int | None, int | None]:
    version = params.get(-PI_VERSION)
    if version is not None and len(version) != 1:
        raise DecodeError(f'{name} SPDU version number of {len(version)} '
                          f'octets (1)')
    requirements = params.get(PI_REQUIREMENTS)
    if requirements is not None and len(requirements) != 2:
        raise DecodeError(f'{name} SPDU session user requirements of '
                          f'{len(requirements)} octets (2)')
    return (None if version is None else version[0],
            None if requirements is None
            else int.from_bytes(requirements, 'big'))


def _octet(name: str, params: dict[int, bytes], code: int) -> int | None:
    value = params.get(code)
    if value is None:
        return None
    if len(value) != 1:
        raise DecodeError(f'{name} SPDU parameter {code} of {len(value)} '
                          f'octets (1)')
    return value[0]
