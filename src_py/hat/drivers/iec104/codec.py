"""IEC 60870-5-104 ASDU codec: messages to bytes and back.

Pure functions, no I/O, no logging. `encode_asdu` turns one message into one
ASDU (application service data unit); `decode_asdu` turns one ASDU into the
list of messages it carries, one per information object.

ASDU layout (IEC 60870-5-101 clause 7.2 with the IEC 60870-5-104 clause 6
field sizes)::

    octet 0      type identification (TypeID)
    octet 1      variable structure qualifier (VSQ): SQ 0x80, number 0-6
    octet 2      cause of transmission (COT): cause bits 0-5,
                 P/N 0x40 (negative confirmation), T 0x80 (test)
    octet 3      originator address
    octets 4-5   common address of ASDU, little endian
    objects      SQ=0: N x (IOA (3 octets LE), element[, CP56Time2a])
                 SQ=1: IOA of the first element, then N x (element
                 [, CP56Time2a]); element i has IOA + i

Information elements follow IEC 60870-5-101 clause 7.2.6 and the type
definitions of clause 7.3. Supported TypeIDs, both directions:

* monitor direction: 1, 3, 5, 7, 9, 11, 13, 15, 20, 21 and their
  CP56Time2a-tagged forms 30..37; protection equipment 38, 39, 40 (these
  exist only with CP56Time2a in IEC 60870-5-104)
* control direction: 45..51 and with CP56Time2a 58..64
* system: 70 (M_EI_NA_1), 100 (C_IC_NA_1), 101 (C_CI_NA_1), 102 (C_RD_NA_1),
  103 (C_CS_NA_1), 105 (C_RP_NA_1), 107 (C_TS_TA_1)
* parameters: 110, 111, 112 (P_ME_NA/NB/NC_1), 113 (P_AC_NA_1)

TypeIDs 104 (C_TS_NA_1) and 106 (C_CD_NA_1) and the CP24Time2a types
(2, 4, 6, 8, 10, 12, 14, 16, 17..19) are not used by IEC 60870-5-104
(clause 6) and are rejected on decode, as are file transfer (120..127) and
unknown TypeIDs.

Encoding: one message is one ASDU with VSQ 0x01 (SQ=0, one object), byte for
byte as hat-drivers 0.6.23. The TypeID follows from the payload class and from
``time is None``. Every field is checked first: a field of the wrong type
raises `TypeError`, a value out of its range raises `ValueError`, both naming
the field (0.6.23 masked some fields, took any object as a bool by its truth
value and raised `OverflowError` or `struct.error` for others). A bool field
(``is_test``, ``is_negative_confirm``, ``select``, ``param_change``, quality
flags, ``Time.invalid`` / ``summer_time``, ...) takes only `bool`; an int
field does not take `bool`; a float field takes int or float (not `bool`),
and a number it cannot represent (an int too large for a float, a value
beyond float32 or beyond -1.0..1.0 for normalized values) raises
`ValueError`; ``Time.size`` must be a `TimeSize` (`TypeError`). Causes
are written as the enum's value or as the int given (1..63; 0 is "not
defined" in IEC 60870-5-101 clause 7.2.3).

Decoding: SQ=0 and SQ=1 with any number of objects. Causes are decoded as
the message's request enum, then its response enum, then a plain int (so
``DataMsg(cause=3)`` decodes with ``DataResCause.SPONTANEOUS``). Times are
always `TimeSize.SEVEN`; calendar ranges of received times are not checked.
Every input that is not a valid ASDU raises `AsduDecodeError` (a
`ValueError`) naming the problem; nothing else is ever raised. Differences
from 0.6.23, which follow IEC 60870-5-101 clause 7.2: an ASDU whose length
does not match its TypeID and number of objects is rejected (0.6.23 ignored
trailing octets and raised `IndexError` on short ones), COT 0 is rejected,
with SQ=1 every element of a time-tagged type carries its own CP56Time2a
(0.6.23 expected one time after all elements), and `BitstringValue.value` is
`bytes` (0.6.23: a `memoryview`).

Negative replies (IEC 60870-5-101 clause 7.2.3): `unknown_cause` tells
whether an ASDU is undecodable for an unknown TypeID (COT 44) or an
undefined cause (COT 45), and `mirror_unknown` builds the reply from the
raw octets: the received ASDU with that cause and the P/N bit set (new, not
in 0.6.23).

Information object address of system commands: the message classes of
C_IC_NA_1, C_CI_NA_1, C_CS_NA_1, C_RP_NA_1 and C_TS_TA_1
(`ZERO_IOA_TYPE_IDS`) have no ``io_address`` (as in 0.6.23): they are
encoded with IOA 0 (IEC 60870-5-101 clause 7.3.4) and `decode_asdu` does
not report the IOA received. `decode_objects` does: it pairs each message
with its object's IOA, so that a receiver can refuse such a command with
another IOA (COT 47, `UNKNOWN_IO_ADDRESS_CAUSE`, IEC TS 60870-5-604) instead
of taking it for one addressed to IOA 0 (0.6.23 dropped the IOA).

"""

import enum
import math
import struct
import typing

from hat.drivers.iec104 import common


class AsduDecodeError(ValueError):
    """Received octets are not a valid ASDU (unknown TypeID, length that
    does not match the TypeID and number of objects, undefined cause or
    element value); the message names the problem"""


_TYPE_NAMES: dict[int, str] = {
    1: 'M_SP_NA_1', 2: 'M_SP_TA_1', 3: 'M_DP_NA_1', 4: 'M_DP_TA_1',
    5: 'M_ST_NA_1', 6: 'M_ST_TA_1', 7: 'M_BO_NA_1', 8: 'M_BO_TA_1',
    9: 'M_ME_NA_1', 10: 'M_ME_TA_1', 11: 'M_ME_NB_1', 12: 'M_ME_TB_1',
    13: 'M_ME_NC_1', 14: 'M_ME_TC_1', 15: 'M_IT_NA_1', 16: 'M_IT_TA_1',
    17: 'M_EP_TA_1', 18: 'M_EP_TB_1', 19: 'M_EP_TC_1', 20: 'M_PS_NA_1',
    21: 'M_ME_ND_1', 30: 'M_SP_TB_1', 31: 'M_DP_TB_1', 32: 'M_ST_TB_1',
    33: 'M_BO_TB_1', 34: 'M_ME_TD_1', 35: 'M_ME_TE_1', 36: 'M_ME_TF_1',
    37: 'M_IT_TB_1', 38: 'M_EP_TD_1', 39: 'M_EP_TE_1', 40: 'M_EP_TF_1',
    45: 'C_SC_NA_1', 46: 'C_DC_NA_1', 47: 'C_RC_NA_1', 48: 'C_SE_NA_1',
    49: 'C_SE_NB_1', 50: 'C_SE_NC_1', 51: 'C_BO_NA_1', 58: 'C_SC_TA_1',
    59: 'C_DC_TA_1', 60: 'C_RC_TA_1', 61: 'C_SE_TA_1', 62: 'C_SE_TB_1',
    63: 'C_SE_TC_1', 64: 'C_BO_TA_1', 70: 'M_EI_NA_1', 100: 'C_IC_NA_1',
    101: 'C_CI_NA_1', 102: 'C_RD_NA_1', 103: 'C_CS_NA_1', 104: 'C_TS_NA_1',
    105: 'C_RP_NA_1', 106: 'C_CD_NA_1', 107: 'C_TS_TA_1', 110: 'P_ME_NA_1',
    111: 'P_ME_NB_1', 112: 'P_ME_NC_1', 113: 'P_AC_NA_1', 120: 'F_FR_NA_1',
    121: 'F_SR_NA_1', 122: 'F_SC_NA_1', 123: 'F_LS_NA_1', 124: 'F_AF_NA_1',
    125: 'F_SG_NA_1', 126: 'F_DR_TA_1', 127: 'F_SC_NB_1'}

_HEADER = struct.Struct('<BBBBH')
_IOA_SIZE = 3
_TIME_SIZE = 7
_S_U16 = struct.Struct('<H')
_S_I16 = struct.Struct('<h')
_S_I32 = struct.Struct('<i')
_S_F32 = struct.Struct('<f')


def type_name(type_id: int) -> str:
    """Standard name of a TypeID (``'M_SP_NA_1'``), or ``'unknown'``"""
    return _TYPE_NAMES.get(type_id, 'unknown')


# === encoding ===============================================================

def encode_asdu(msg: common.Msg) -> bytes:
    """Encode one message as one ASDU (VSQ 0x01: SQ=0, one object).

    Args:
        msg: message (see the module docstring for the TypeID chosen)

    Returns:
        ASDU octets (at most 6 + 3 + 16 octets)

    Raises:
        TypeError: a field has the wrong type (the message names it)
        ValueError: a field is out of range, the message type is not
            supported (``'unsupported message'``), the payload has no TypeID
            with or without time (``'unsupported data'``), or a time is not
            CP56Time2a (``'unsupported time size'``)

    """
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        raise ValueError(f'unsupported message: {type(msg).__name__}')

    type_id, pn, cause, ioa, element = encoder(msg)
    cot = _encode_cause(cause)
    # bool fields: identity tests, `_check_bool` raises for the others
    is_test = msg.is_test
    if is_test is True:
        cot |= 0x80
    elif is_test is not False:
        _check_bool('is_test', is_test)
    if pn is True:
        cot |= 0x40
    elif pn is not False:
        _check_bool('is_negative_confirm', pn)
    orig = _check_int('originator_address', msg.originator_address, 0, 0xFF)
    ca = _check_int('asdu_address', msg.asdu_address, 0, 0xFFFF)
    ioa = _check_int('io_address', ioa, 0, 0xFFFFFF)
    return b''.join((_HEADER.pack(type_id, 0x01, cot, orig, ca),
                     ioa.to_bytes(3, 'little'),
                     element))


_Encoded = tuple[int, bool, typing.Any, int, bytes]
"""TypeID, P/N bit, cause, IOA, element octets (with time tag)"""


def _encode_data_msg(msg: common.DataMsg) -> _Encoded:
    data = msg.data
    encoder = _DATA_ENCODERS.get(type(data))
    if encoder is None:
        raise TypeError(f'data: unsupported type {type(data).__name__}')

    type_id, type_id_time, element = encoder(data)
    if msg.time is None:
        if type_id is None:
            raise ValueError(f'unsupported data: {type(data).__name__} '
                             f'needs a time tag (time is None)')
    else:
        if type_id_time is None:
            raise ValueError(f'unsupported data: {type(data).__name__} '
                             f'cannot have a time tag')
        type_id = type_id_time
        element += _encode_time('time', msg.time)
    return type_id, False, msg.cause, msg.io_address, element


def _encode_command_msg(msg: common.CommandMsg) -> _Encoded:
    cmd = msg.command
    encoder = _COMMAND_ENCODERS.get(type(cmd))
    if encoder is None:
        raise TypeError(f'command: unsupported type {type(cmd).__name__}')

    type_id, element = encoder(cmd)
    if msg.time is not None:
        type_id += 13
        element += _encode_time('time', msg.time)
    return (type_id, msg.is_negative_confirm, msg.cause, msg.io_address,
            element)


def _encode_initialization_msg(msg: common.InitializationMsg) -> _Encoded:
    coi = _encode_cause_value('cause', msg.cause, 0, 0x7F)
    if _check_bool('param_change', msg.param_change):
        coi |= 0x80
    return 70, False, 4, 0, bytes([coi])


def _encode_interrogation_msg(msg: common.InterrogationMsg) -> _Encoded:
    qoi = _check_int('request', msg.request, 0, 0xFF)
    return 100, msg.is_negative_confirm, msg.cause, 0, bytes([qoi])


def _encode_counter_interrogation_msg(msg: common.CounterInterrogationMsg
                                      ) -> _Encoded:
    rqt = _check_int('request', msg.request, 0, 0x3F)
    frz = _check_enum('freeze', msg.freeze, common.FreezeCode)
    qcc = rqt | (frz << 6)
    return 101, msg.is_negative_confirm, msg.cause, 0, bytes([qcc])


def _encode_read_msg(msg: common.ReadMsg) -> _Encoded:
    return 102, False, msg.cause, msg.io_address, b''


def _encode_clock_sync_msg(msg: common.ClockSyncMsg) -> _Encoded:
    return (103, msg.is_negative_confirm, msg.cause, 0,
            _encode_time('time', msg.time))


def _encode_reset_msg(msg: common.ResetMsg) -> _Encoded:
    qrp = _check_int('qualifier', msg.qualifier, 0, 0xFF)
    return 105, False, msg.cause, 0, bytes([qrp])


def _encode_test_msg(msg: common.TestMsg) -> _Encoded:
    tsc = _check_int('counter', msg.counter, 0, 0xFFFF)
    return (107, False, msg.cause, 0,
            _S_U16.pack(tsc) + _encode_time('time', msg.time))


def _encode_parameter_msg(msg: common.ParameterMsg) -> _Encoded:
    param = msg.parameter
    if isinstance(param, common.NormalizedParameter):
        type_id = 110
        value = _encode_nva('parameter.value', param.value)
    elif isinstance(param, common.ScaledParameter):
        type_id = 111
        value = _encode_sva('parameter.value', param.value)
    elif isinstance(param, common.FloatingParameter):
        type_id = 112
        value = _encode_float('parameter.value', param.value)
    else:
        raise TypeError(
            f'parameter: unsupported type {type(param).__name__}')
    qpm = _check_int('parameter.qualifier', param.qualifier, 0, 0xFF)
    return type_id, False, msg.cause, msg.io_address, value + bytes([qpm])


def _encode_parameter_activation_msg(msg: common.ParameterActivationMsg
                                     ) -> _Encoded:
    qpa = _check_int('qualifier', msg.qualifier, 0, 0xFF)
    return 113, False, msg.cause, msg.io_address, bytes([qpa])


_ENCODERS: dict[type, typing.Callable[[typing.Any], _Encoded]] = {
    common.DataMsg: _encode_data_msg,
    common.CommandMsg: _encode_command_msg,
    common.InitializationMsg: _encode_initialization_msg,
    common.InterrogationMsg: _encode_interrogation_msg,
    common.CounterInterrogationMsg: _encode_counter_interrogation_msg,
    common.ReadMsg: _encode_read_msg,
    common.ClockSyncMsg: _encode_clock_sync_msg,
    common.ResetMsg: _encode_reset_msg,
    common.TestMsg: _encode_test_msg,
    common.ParameterMsg: _encode_parameter_msg,
    common.ParameterActivationMsg: _encode_parameter_activation_msg}


# --- data elements (IEC 60870-5-101 clause 7.2.6) ---------------------------

_DataEncoded = tuple[typing.Optional[int], typing.Optional[int], bytes]
"""TypeID without time, TypeID with CP56Time2a, element octets"""


def _encode_single(data: common.SingleData) -> _DataEncoded:
    spi = _check_enum('data.value', data.value, common.SingleValue)
    return 1, 30, bytes([spi | _encode_indication_quality(data.quality)])


def _encode_double(data: common.DoubleData) -> _DataEncoded:
    dpi = _check_enum('data.value', data.value, common.DoubleValue)
    return 3, 31, bytes([dpi | _encode_indication_quality(data.quality)])


def _encode_step_position(data: common.StepPositionData) -> _DataEncoded:
    value = data.value
    if not isinstance(value, common.StepPositionValue):
        raise TypeError('data.value: expected StepPositionValue')
    vti = _check_int('data.value.value', value.value, -64, 63) & 0x7F
    if _check_bool('data.value.transient', value.transient):
        vti |= 0x80
    return 5, 32, bytes([vti, _encode_measurement_quality(data.quality)])


def _encode_bitstring(data: common.BitstringData) -> _DataEncoded:
    return 7, 33, (_encode_bsi('data.value', data.value) +
                   bytes([_encode_measurement_quality(data.quality)]))


def _encode_normalized(data: common.NormalizedData) -> _DataEncoded:
    nva = _encode_nva('data.value', data.value)
    if data.quality is None:
        return 21, None, nva
    return 9, 34, nva + bytes([_encode_measurement_quality(data.quality)])


def _encode_scaled(data: common.ScaledData) -> _DataEncoded:
    return 11, 35, (_encode_sva('data.value', data.value) +
                    bytes([_encode_measurement_quality(data.quality)]))


def _encode_floating(data: common.FloatingData) -> _DataEncoded:
    return 13, 36, (_encode_float('data.value', data.value) +
                    bytes([_encode_measurement_quality(data.quality)]))


def _encode_binary_counter(data: common.BinaryCounterData) -> _DataEncoded:
    value = data.value
    if not isinstance(value, common.BinaryCounterValue):
        raise TypeError('data.value: expected BinaryCounterValue')
    counter = _check_int('data.value.value', value.value,
                         -0x80000000, 0x7FFFFFFF)
    quality = data.quality
    if not isinstance(quality, common.CounterQuality):
        raise _quality_error(quality, 'CounterQuality')
    octet = (_check_int('data.quality.sequence', quality.sequence, 0, 31) |
             _encode_flags('data.quality', quality, _COUNTER_QUALITY_BITS))
    return 15, 37, _S_I32.pack(counter) + bytes([octet])


def _encode_protection(data: common.ProtectionData) -> _DataEncoded:
    es = _check_enum('data.value', data.value, common.ProtectionValue)
    sep = es | _encode_protection_quality(data.quality)
    cp16 = _check_int('data.elapsed_time', data.elapsed_time, 0, 0xFFFF)
    return None, 38, bytes([sep]) + _S_U16.pack(cp16)


def _encode_protection_start(data: common.ProtectionStartData
                             ) -> _DataEncoded:
    value = data.value
    if not isinstance(value, common.ProtectionStartValue):
        raise TypeError('data.value: expected ProtectionStartValue')
    spe = _encode_flags('data.value', value, _PROTECTION_START_BITS)
    qdp = _encode_protection_quality(data.quality)
    cp16 = _check_int('data.duration_time', data.duration_time, 0, 0xFFFF)
    return None, 39, bytes([spe, qdp]) + _S_U16.pack(cp16)


def _encode_protection_command(data: common.ProtectionCommandData
                               ) -> _DataEncoded:
    value = data.value
    if not isinstance(value, common.ProtectionCommandValue):
        raise TypeError('data.value: expected ProtectionCommandValue')
    oci = _encode_flags('data.value', value, _PROTECTION_COMMAND_BITS)
    qdp = _encode_protection_quality(data.quality)
    cp16 = _check_int('data.operating_time', data.operating_time, 0, 0xFFFF)
    return None, 40, bytes([oci, qdp]) + _S_U16.pack(cp16)


def _encode_status(data: common.StatusData) -> _DataEncoded:
    value = data.value
    if not isinstance(value, common.StatusValue):
        raise TypeError('data.value: expected StatusValue')
    st = _encode_bit_list('data.value.value', value.value)
    cd = _encode_bit_list('data.value.change', value.change)
    return 20, None, (_S_U16.pack(st) + _S_U16.pack(cd) +
                      bytes([_encode_measurement_quality(data.quality)]))


_DATA_ENCODERS: dict[type, typing.Callable[[typing.Any], _DataEncoded]] = {
    common.SingleData: _encode_single,
    common.DoubleData: _encode_double,
    common.StepPositionData: _encode_step_position,
    common.BitstringData: _encode_bitstring,
    common.NormalizedData: _encode_normalized,
    common.ScaledData: _encode_scaled,
    common.FloatingData: _encode_floating,
    common.BinaryCounterData: _encode_binary_counter,
    common.ProtectionData: _encode_protection,
    common.ProtectionStartData: _encode_protection_start,
    common.ProtectionCommandData: _encode_protection_command,
    common.StatusData: _encode_status}


# --- command elements -------------------------------------------------------

def _encode_qualified(cmd: typing.Any, value: int) -> bytes:
    qu = _check_int('command.qualifier', cmd.qualifier, 0, 31)
    return bytes([value | (qu << 2) |
                  (0x80 if _check_bool('command.select', cmd.select)
                   else 0)])


def _encode_single_command(cmd: common.SingleCommand) -> tuple[int, bytes]:
    scs = _check_enum('command.value', cmd.value, common.SingleValue)
    return 45, _encode_qualified(cmd, scs)


def _encode_double_command(cmd: common.DoubleCommand) -> tuple[int, bytes]:
    dcs = _check_enum('command.value', cmd.value, common.DoubleValue)
    return 46, _encode_qualified(cmd, dcs)


def _encode_regulating_command(cmd: common.RegulatingCommand
                               ) -> tuple[int, bytes]:
    rcs = _check_enum('command.value', cmd.value, common.RegulatingValue)
    return 47, _encode_qualified(cmd, rcs)


def _qos(cmd: typing.Any) -> bytes:
    return (b'\x80' if _check_bool('command.select', cmd.select)
            else b'\x00')


def _encode_normalized_command(cmd: common.NormalizedCommand
                               ) -> tuple[int, bytes]:
    return 48, _encode_nva('command.value', cmd.value) + _qos(cmd)


def _encode_scaled_command(cmd: common.ScaledCommand) -> tuple[int, bytes]:
    return 49, _encode_sva('command.value', cmd.value) + _qos(cmd)


def _encode_floating_command(cmd: common.FloatingCommand
                             ) -> tuple[int, bytes]:
    return 50, _encode_float('command.value', cmd.value) + _qos(cmd)


def _encode_bitstring_command(cmd: common.BitstringCommand
                              ) -> tuple[int, bytes]:
    return 51, _encode_bsi('command.value', cmd.value)


_COMMAND_ENCODERS: dict[type,
                        typing.Callable[[typing.Any], tuple[int, bytes]]] = {
    common.SingleCommand: _encode_single_command,
    common.DoubleCommand: _encode_double_command,
    common.RegulatingCommand: _encode_regulating_command,
    common.NormalizedCommand: _encode_normalized_command,
    common.ScaledCommand: _encode_scaled_command,
    common.FloatingCommand: _encode_floating_command,
    common.BitstringCommand: _encode_bitstring_command}


# --- field helpers ----------------------------------------------------------

# Every field goes through one of these checks (the codec's one mechanism
# for bad input): its type first (TypeError naming the field), then its
# value (ValueError naming the field). A bool field takes only bool; int
# and number fields do not take bool; a number that has no representation
# in the field gives ValueError.

def _check_bool(name: str, value: typing.Any) -> bool:
    if value is True or value is False:
        return value
    raise TypeError(f'{name}: expected bool, got {type(value).__name__}')


def _check_int(name: str, value: typing.Any, lo: int, hi: int) -> int:
    if value.__class__ is not int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f'{name}: expected int, '
                            f'got {type(value).__name__}')
        value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f'{name}: {_show_int(value)} out of range '
                         f'{lo}..{hi}')
    result: int = value
    return result


def _check_number(name: str, value: typing.Any) -> float:
    # int or float (not bool) as float
    if value.__class__ is float:
        return value
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f'{name}: expected float, '
                        f'got {type(value).__name__}')
    try:
        return float(value)

    except OverflowError:
        # only an int can be too large for a float
        raise ValueError(f'{name}: {_show_int(typing.cast(int, value))} '
                         f'out of float '
                         f'range') from None


def _show_int(value: int) -> str:
    # huge ints: their size (str() of one above 4300 digits raises)
    if value.bit_length() > 64:
        return f'int of {value.bit_length()} bits'
    return str(value)


def _encode_flags(name: str, value: typing.Any,
                  masks: tuple[int, ...]) -> int:
    """Pack the leading bool fields of NamedTuple `value` (the i-th with
    ``masks[i]``) into one octet; each goes through `_check_bool` (only
    when it is not a bool: its name is built on the error path only)"""
    octet = 0
    for bit, mask in zip(value, masks, strict=False):
        if bit is True:
            octet |= mask
        elif bit is not False:
            field = value._fields[masks.index(mask)]
            _check_bool(f'{name}.{field}', bit)
    return octet


_QUALITY_BITS: tuple[int, ...] = (0x80, 0x40, 0x20, 0x10)
"""IV, NT, SB, BL (IEC 60870-5-101 clause 7.2.6.3)"""
_MEASUREMENT_QUALITY_BITS: tuple[int, ...] = (*_QUALITY_BITS, 0x01)
_PROTECTION_QUALITY_BITS: tuple[int, ...] = (*_QUALITY_BITS, 0x08)
_COUNTER_QUALITY_BITS: tuple[int, ...] = (0x80, 0x40, 0x20)
_PROTECTION_START_BITS: tuple[int, ...] = (0x01, 0x02, 0x04, 0x08, 0x10,
                                           0x20)
_PROTECTION_COMMAND_BITS: tuple[int, ...] = (0x01, 0x02, 0x04, 0x08)


def _check_enum(name: str, value: typing.Any, cls: type[enum.Enum]) -> int:
    if not isinstance(value, cls):
        raise TypeError(f'{name}: expected {cls.__name__}, '
                        f'got {type(value).__name__}')
    result: int = value.value
    return result


def _encode_cause_value(name: str, cause: typing.Any, lo: int, hi: int
                        ) -> int:
    if isinstance(cause, int):
        return _check_int(name, cause, lo, hi)
    value = getattr(cause, 'value', None)
    if not isinstance(value, int):
        raise TypeError(f'{name}: expected cause enum or int, '
                        f'got {type(cause).__name__}')
    return _check_int(name, value, lo, hi)


def _encode_cause(cause: typing.Any) -> int:
    return _encode_cause_value('cause', cause, 1, 63)


def _encode_indication_quality(quality: typing.Any) -> int:
    if not isinstance(quality, common.IndicationQuality):
        raise _quality_error(quality, 'IndicationQuality')
    return _encode_flags('data.quality', quality, _QUALITY_BITS)


def _encode_measurement_quality(quality: typing.Any) -> int:
    if not isinstance(quality, common.MeasurementQuality):
        raise _quality_error(quality, 'MeasurementQuality')
    return _encode_flags('data.quality', quality, _MEASUREMENT_QUALITY_BITS)


def _encode_protection_quality(quality: typing.Any) -> int:
    if not isinstance(quality, common.ProtectionQuality):
        raise _quality_error(quality, 'ProtectionQuality')
    return _encode_flags('data.quality', quality, _PROTECTION_QUALITY_BITS)


def _quality_error(quality: typing.Any, expected: str) -> Exception:
    if quality is None:
        return ValueError('unsupported quality: data.quality is None')
    return TypeError(f'data.quality: expected {expected}, '
                     f'got {type(quality).__name__}')


def _encode_bit_list(name: str, bits: typing.Any) -> int:
    if not isinstance(bits, (list, tuple)) or len(bits) != 16:
        raise ValueError(f'{name}: expected 16 bools')
    word = 0
    for i, bit in enumerate(bits):
        if bit is True:
            word |= 1 << i
        elif bit is not False:
            _check_bool(f'{name}[{i}]', bit)
    return word


def _encode_bsi(name: str, value: typing.Any) -> bytes:
    if not isinstance(value, common.BitstringValue):
        raise TypeError(f'{name}: expected BitstringValue')
    octets = value.value
    if not isinstance(octets, (bytes, bytearray, memoryview)):
        raise TypeError(f'{name}.value: expected bytes, '
                        f'got {type(octets).__name__}')
    octets = bytes(octets)
    if len(octets) != 4:
        raise ValueError(f'{name}.value: expected 4 octets, '
                         f'got {len(octets)}')
    return octets


def _encode_nva(name: str, value: typing.Any) -> bytes:
    if not isinstance(value, common.NormalizedValue):
        raise TypeError(f'{name}: expected NormalizedValue')
    v = _check_number(f'{name}.value', value.value)
    if not math.isfinite(v):
        raise ValueError(f'{name}.value: {v} is not finite')
    # a huge finite value scales to inf (round would raise OverflowError)
    nva = round(v * 0x7FFF) if abs(v) <= 2 else 0x10000
    if not -0x8000 <= nva <= 0x7FFF:
        raise ValueError(f'{name}.value: {v} out of range -1.0..1.0')
    return _S_I16.pack(nva)


def _encode_sva(name: str, value: typing.Any) -> bytes:
    if not isinstance(value, common.ScaledValue):
        raise TypeError(f'{name}: expected ScaledValue')
    return _S_I16.pack(_check_int(f'{name}.value', value.value,
                                  -0x8000, 0x7FFF))


def _encode_float(name: str, value: typing.Any) -> bytes:
    if not isinstance(value, common.FloatingValue):
        raise TypeError(f'{name}: expected FloatingValue')
    v = _check_number(f'{name}.value', value.value)
    try:
        return _S_F32.pack(v)

    except OverflowError:
        raise ValueError(f'{name}.value: {v} out of float32 range') from None


def _encode_time(name: str, t: typing.Any) -> bytes:
    """CP56Time2a (IEC 60870-5-101 clause 7.2.6.18)"""
    if not isinstance(t, common.Time):
        raise TypeError(f'{name}: expected Time, got {type(t).__name__}')
    size = t.size
    if size is not common.TimeSize.SEVEN:
        _check_enum(f'{name}.size', size, common.TimeSize)
        raise ValueError(f'unsupported time size: {name}.size is {t.size}, '
                         f'IEC 60870-5-104 uses CP56Time2a (SEVEN)')
    ms = _check_int(f'{name}.milliseconds', t.milliseconds, 0, 59999)
    minutes = _check_int(f'{name}.minutes', t.minutes, 0, 59)
    hours = _check_int(f'{name}.hours', t.hours, 0, 23)
    dow = _check_int(f'{name}.day_of_week', t.day_of_week, 0, 7)
    dom = _check_int(f'{name}.day_of_month', t.day_of_month, 1, 31)
    months = _check_int(f'{name}.months', t.months, 1, 12)
    years = _check_int(f'{name}.years', t.years, 0, 99)
    invalid = t.invalid
    if invalid is not True and invalid is not False:
        _check_bool(f'{name}.invalid', invalid)
    summer_time = t.summer_time
    if summer_time is not True and summer_time is not False:
        _check_bool(f'{name}.summer_time', summer_time)
    return bytes([ms & 0xFF, ms >> 8,
                  minutes | (0x80 if invalid else 0),
                  hours | (0x80 if summer_time else 0),
                  dom | (dow << 5),
                  months,
                  years])


# === decoding ===============================================================

class _Header(typing.NamedTuple):
    type_id: int
    is_test: bool
    is_negative_confirm: bool
    cause: int
    originator_address: int
    asdu_address: int


_ElementDecoder = typing.Callable[
    [_Header, int, bytes, int, typing.Optional[common.Time]], common.Msg]
"""(header, IOA, ASDU, element offset, time) -> message"""


class _TypeSpec(typing.NamedTuple):
    size: int
    """element octets without time tag"""
    timed: bool
    decoder: _ElementDecoder


def decode_asdu(data: common.Bytes) -> list[common.Msg]:
    """Decode one ASDU into its messages, one per information object.

    Args:
        data: ASDU octets (the I-frame's payload after the APCI)

    Returns:
        messages in the order of their objects (empty if VSQ's number of
        objects is 0)

    Raises:
        AsduDecodeError: `data` is not a valid ASDU; the message names the
            problem. No other exception is raised for any input.

    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise AsduDecodeError(f'ASDU must be bytes, not {type(data).__name__}')
    try:
        return _decode_asdu(bytes(data))

    except AsduDecodeError:
        raise

    except Exception as e:
        # safety net: the checks below should leave nothing to reach here
        raise AsduDecodeError(f'malformed ASDU: {e!r}') from e


ZERO_IOA_TYPE_IDS: frozenset[int] = frozenset({100, 101, 103, 105, 107})
"""TypeIDs of the system commands addressed to no information object:
C_IC_NA_1 (100), C_CI_NA_1 (101), C_CS_NA_1 (103), C_RP_NA_1 (105) and
C_TS_TA_1 (107). IEC 60870-5-101 clause 7.3.4 fixes their information
object address at 0; IEC TS 60870-5-604 expects a controlled station to
answer one with another IOA with COT 47 (unknown information object
address) and P/N = 1. Their message classes have no ``io_address``:
`decode_objects` gives the IOA received."""


def decode_objects(data: common.Bytes
                   ) -> list[tuple[common.IoAddress, common.Msg]]:
    """Decode one ASDU as `decode_asdu` does, each message paired with the
    information object address (IOA) of its object as received.

    For the TypeIDs whose message class has an ``io_address`` field the
    pair's IOA equals it; for the others (`ZERO_IOA_TYPE_IDS` and 70
    M_EI_NA_1) it is the IOA `decode_asdu` does not report, which
    IEC 60870-5-101 clause 7.3.4 fixes at 0.

    Args:
        data: ASDU octets

    Returns:
        (IOA, message) pairs in the order of the objects

    Raises:
        AsduDecodeError: `data` is not a valid ASDU (as `decode_asdu`)

    """
    msgs = decode_asdu(data)
    if not msgs:
        return []
    data = bytes(data)
    spec = _DECODERS[data[0]]
    if data[1] & 0x80:
        ioa = int.from_bytes(data[6:9], 'little')
        return [(ioa + i, msg) for i, msg in enumerate(msgs)]
    step = _IOA_SIZE + spec.size + (_TIME_SIZE if spec.timed else 0)
    return [(int.from_bytes(data[offset:offset + 3], 'little'), msg)
            for offset, msg in zip(range(6, len(data), step), msgs,
                                   strict=True)]


UNKNOWN_TYPE_CAUSE: int = 44
"""COT 44, unknown type identification (IEC 60870-5-101 clause 7.2.3)"""

UNKNOWN_CAUSE_CAUSE: int = 45
"""COT 45, unknown cause of transmission (IEC 60870-5-101 clause 7.2.3)"""

UNKNOWN_IO_ADDRESS_CAUSE: int = 47
"""COT 47, unknown information object address (IEC 60870-5-101 clause
7.2.3)"""


def unknown_cause(data: common.Bytes) -> int | None:
    """Cause of transmission of the negative reply to an ASDU this codec
    cannot decode for lack of knowledge of its TypeID or cause
    (IEC 60870-5-101 clause 7.2.3).

    Args:
        data: ASDU octets

    Returns:
        `UNKNOWN_TYPE_CAUSE` (44) if the TypeID is not one `decode_asdu`
        supports, else `UNKNOWN_CAUSE_CAUSE` (45) if the cause is 0 (not
        defined), else ``None`` (the header is fine, or `data` is shorter
        than the 6-octet data unit identifier, or not bytes)

    """
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 6:
        return None
    if data[0] not in _DECODERS:
        return UNKNOWN_TYPE_CAUSE
    if data[2] & 0x3F == 0:
        return UNKNOWN_CAUSE_CAUSE
    return None


def mirror_unknown(data: common.Bytes, cause: int) -> bytes | None:
    """Negative mirror of a received ASDU (IEC 60870-5-101 clause 7.2.3):
    the same octets with the cause of transmission replaced by `cause` and
    the P/N bit set.

    Built from raw octets (the ASDU need not be decodable): TypeID, VSQ,
    the COT octet's T bit (0x80), originator address, common address and
    every octet after them are kept as received; only bits 0..5 (cause)
    and bit 6 (P/N) of octet 2 change.

    Args:
        data: received ASDU octets
        cause: cause of transmission (1..63), normally 44 (unknown type
            identification), 45 (unknown cause of transmission), 46
            (unknown common address of ASDU) or 47 (unknown information
            object address)

    Returns:
        the mirrored ASDU, or ``None`` if `data` is shorter than the
        6-octet data unit identifier (TypeID, VSQ, COT, originator
        address, common address)

    Raises:
        TypeError: `data` is not bytes or `cause` is not int
        ValueError: `cause` is not in 1..63

    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f'data must be bytes, not {type(data).__name__}')
    if isinstance(cause, bool) or not isinstance(cause, int):
        raise TypeError(f'cause must be int, not {type(cause).__name__}')
    if not 1 <= cause <= 0x3F:
        raise ValueError(f'cause must be 1..63, not {cause}')
    data = bytes(data)
    if len(data) < 6:
        return None
    cot = (data[2] & 0x80) | 0x40 | cause
    return b''.join((data[:2], bytes([cot]), data[3:]))


def _decode_asdu(data: bytes) -> list[common.Msg]:
    if len(data) < 6:
        raise AsduDecodeError(f'ASDU of {len(data)} octets is shorter than '
                              f'its 6-octet data unit identifier')

    type_id, vsq, cot, orig, ca = _HEADER.unpack_from(data)
    spec = _DECODERS.get(type_id)
    if spec is None:
        name = _TYPE_NAMES.get(type_id)
        if name is None:
            raise AsduDecodeError(f'unknown TypeID {type_id}')
        raise AsduDecodeError(f'unsupported TypeID {type_id} ({name}): not '
                              f'used by IEC 60870-5-104 or by this driver')

    cause = cot & 0x3F
    if cause == 0:
        raise AsduDecodeError(f'TypeID {type_id}: cause of transmission 0 is '
                              f'not defined')

    header = _Header(type_id=type_id,
                     is_test=bool(cot & 0x80),
                     is_negative_confirm=bool(cot & 0x40),
                     cause=cause,
                     originator_address=orig,
                     asdu_address=ca)
    count = vsq & 0x7F
    sequence = bool(vsq & 0x80)
    step = spec.size + (_TIME_SIZE if spec.timed else 0)
    if count == 0:
        expected = 6
    elif sequence:
        expected = 6 + _IOA_SIZE + count * step
    else:
        expected = 6 + count * (_IOA_SIZE + step)
    if len(data) != expected:
        raise AsduDecodeError(
            f'wrong length: TypeID {type_id} ({_TYPE_NAMES[type_id]}) with '
            f'{count} objects (SQ={int(sequence)}) needs {expected} octets, '
            f'got {len(data)}')

    decoder = spec.decoder
    timed = spec.timed
    size = spec.size
    msgs: list[common.Msg] = []
    offset = 6
    if sequence and count:
        ioa = int.from_bytes(data[6:9], 'little')
        if ioa + count - 1 > 0xFFFFFF:
            raise AsduDecodeError(f'TypeID {type_id}: IOA {ioa} + {count} '
                                  f'elements (SQ=1) exceeds 3 octets')
        offset = 9
        for i in range(count):
            time = _decode_time(data, offset + size) if timed else None
            msgs.append(decoder(header, ioa + i, data, offset, time))
            offset += step
    else:
        for _ in range(count):
            ioa = int.from_bytes(data[offset:offset + 3], 'little')
            offset += 3
            time = _decode_time(data, offset + size) if timed else None
            msgs.append(decoder(header, ioa, data, offset, time))
            offset += step
    return msgs


def _decode_time(data: bytes, i: int) -> common.Time:
    """CP56Time2a (IEC 60870-5-101 clause 7.2.6.18); reserved bits are
    ignored"""
    return common.Time(size=common.TimeSize.SEVEN,
                       milliseconds=data[i] | (data[i + 1] << 8),
                       invalid=bool(data[i + 2] & 0x80),
                       minutes=data[i + 2] & 0x3F,
                       summer_time=bool(data[i + 3] & 0x80),
                       hours=data[i + 3] & 0x1F,
                       day_of_week=data[i + 4] >> 5,
                       day_of_month=data[i + 4] & 0x1F,
                       months=data[i + 5] & 0x0F,
                       years=data[i + 6] & 0x7F)


def _cause_map(*enums: type) -> dict[int, typing.Any]:
    result: dict[int, typing.Any] = {}
    for cls in enums:
        for member in cls:  # type: ignore[attr-defined]
            result.setdefault(member.value, member)
    return result


_DATA_CAUSES = _cause_map(common.DataResCause)
_COMMAND_CAUSES = _cause_map(common.CommandReqCause, common.CommandResCause)
_INITIALIZATION_CAUSES = _cause_map(common.InitializationResCause)
_READ_CAUSES = _cause_map(common.ReadReqCause, common.ReadResCause)
_CLOCK_SYNC_CAUSES = _cause_map(common.ClockSyncReqCause,
                                common.ClockSyncResCause)
_ACTIVATION_CAUSES = _cause_map(common.ActivationReqCause,
                                common.ActivationResCause)
_PARAMETER_CAUSES = _cause_map(common.ParameterReqCause,
                               common.ParameterResCause)
_PARAMETER_ACTIVATION_CAUSES = _cause_map(
    common.ParameterActivationReqCause,
    common.ParameterActivationResCause)


# --- quality and value octets ----------------------------------------------

def _indication_quality(octet: int) -> common.IndicationQuality:
    return common.IndicationQuality(invalid=bool(octet & 0x80),
                                    not_topical=bool(octet & 0x40),
                                    substituted=bool(octet & 0x20),
                                    blocked=bool(octet & 0x10))


def _measurement_quality(octet: int) -> common.MeasurementQuality:
    return common.MeasurementQuality(invalid=bool(octet & 0x80),
                                     not_topical=bool(octet & 0x40),
                                     substituted=bool(octet & 0x20),
                                     blocked=bool(octet & 0x10),
                                     overflow=bool(octet & 0x01))


def _protection_quality(octet: int) -> common.ProtectionQuality:
    return common.ProtectionQuality(invalid=bool(octet & 0x80),
                                    not_topical=bool(octet & 0x40),
                                    substituted=bool(octet & 0x20),
                                    blocked=bool(octet & 0x10),
                                    time_invalid=bool(octet & 0x08))


# quality NamedTuples for every octet value, built once
_MEASUREMENT_QUALITIES = [_measurement_quality(i) for i in range(256)]
_INDICATION_QUALITIES = [_indication_quality(i) for i in range(256)]


def _nva(data: bytes, i: int) -> common.NormalizedValue:
    return common.NormalizedValue(_S_I16.unpack_from(data, i)[0] / 0x7FFF)


def _sva(data: bytes, i: int) -> common.ScaledValue:
    return common.ScaledValue(_S_I16.unpack_from(data, i)[0])


def _float(data: bytes, i: int) -> common.FloatingValue:
    return common.FloatingValue(_S_F32.unpack_from(data, i)[0])


def _bits(word: int, count: int) -> list[bool]:
    return [bool(word & (1 << i)) for i in range(count)]


def _two_bit(header: _Header, name: str, value: int,
             cls: typing.Any) -> typing.Any:
    try:
        return cls(value)

    except ValueError:
        raise AsduDecodeError(
            f'TypeID {header.type_id} ({_TYPE_NAMES[header.type_id]}): '
            f'{name} {value} is not permitted') from None


# --- data -------------------------------------------------------------------

def _data_msg(header: _Header, ioa: int, data: common.Data,
              time: typing.Optional[common.Time]) -> common.DataMsg:
    return common.DataMsg(is_test=header.is_test,
                          originator_address=header.originator_address,
                          asdu_address=header.asdu_address,
                          io_address=ioa,
                          data=data,
                          time=time,
                          cause=_DATA_CAUSES.get(header.cause, header.cause))


def _dec_single(h: _Header, ioa: int, b: bytes, i: int,
                t: typing.Optional[common.Time]) -> common.Msg:
    siq = b[i]
    return _data_msg(h, ioa, common.SingleData(
        value=common.SingleValue(siq & 0x01),
        quality=_INDICATION_QUALITIES[siq]), t)


def _dec_double(h: _Header, ioa: int, b: bytes, i: int,
                t: typing.Optional[common.Time]) -> common.Msg:
    diq = b[i]
    return _data_msg(h, ioa, common.DoubleData(
        value=common.DoubleValue(diq & 0x03),
        quality=_INDICATION_QUALITIES[diq]), t)


def _dec_step_position(h: _Header, ioa: int, b: bytes, i: int,
                       t: typing.Optional[common.Time]) -> common.Msg:
    vti = b[i]
    value = vti & 0x7F
    if value & 0x40:
        value -= 0x80
    return _data_msg(h, ioa, common.StepPositionData(
        value=common.StepPositionValue(value=value,
                                       transient=bool(vti & 0x80)),
        quality=_MEASUREMENT_QUALITIES[b[i + 1]]), t)


def _dec_bitstring(h: _Header, ioa: int, b: bytes, i: int,
                   t: typing.Optional[common.Time]) -> common.Msg:
    return _data_msg(h, ioa, common.BitstringData(
        value=common.BitstringValue(b[i:i + 4]),
        quality=_MEASUREMENT_QUALITIES[b[i + 4]]), t)


def _dec_normalized(h: _Header, ioa: int, b: bytes, i: int,
                    t: typing.Optional[common.Time]) -> common.Msg:
    return _data_msg(h, ioa, common.NormalizedData(
        value=_nva(b, i),
        quality=_MEASUREMENT_QUALITIES[b[i + 2]]), t)


def _dec_normalized_no_quality(h: _Header, ioa: int, b: bytes, i: int,
                               t: typing.Optional[common.Time]
                               ) -> common.Msg:
    return _data_msg(h, ioa, common.NormalizedData(value=_nva(b, i),
                                                   quality=None), t)


def _dec_scaled(h: _Header, ioa: int, b: bytes, i: int,
                t: typing.Optional[common.Time]) -> common.Msg:
    return _data_msg(h, ioa, common.ScaledData(
        value=_sva(b, i),
        quality=_MEASUREMENT_QUALITIES[b[i + 2]]), t)


def _dec_floating(h: _Header, ioa: int, b: bytes, i: int,
                  t: typing.Optional[common.Time]) -> common.Msg:
    return _data_msg(h, ioa, common.FloatingData(
        value=_float(b, i),
        quality=_MEASUREMENT_QUALITIES[b[i + 4]]), t)


def _dec_binary_counter(h: _Header, ioa: int, b: bytes, i: int,
                        t: typing.Optional[common.Time]) -> common.Msg:
    octet = b[i + 4]
    return _data_msg(h, ioa, common.BinaryCounterData(
        value=common.BinaryCounterValue(_S_I32.unpack_from(b, i)[0]),
        quality=common.CounterQuality(invalid=bool(octet & 0x80),
                                      adjusted=bool(octet & 0x40),
                                      overflow=bool(octet & 0x20),
                                      sequence=octet & 0x1F)), t)


def _dec_protection(h: _Header, ioa: int, b: bytes, i: int,
                    t: typing.Optional[common.Time]) -> common.Msg:
    sep = b[i]
    return _data_msg(h, ioa, common.ProtectionData(
        value=_two_bit(h, 'SEP event state', sep & 0x03,
                       common.ProtectionValue),
        quality=_protection_quality(sep),
        elapsed_time=_S_U16.unpack_from(b, i + 1)[0]), t)


def _dec_protection_start(h: _Header, ioa: int, b: bytes, i: int,
                          t: typing.Optional[common.Time]) -> common.Msg:
    spe = b[i]
    return _data_msg(h, ioa, common.ProtectionStartData(
        value=common.ProtectionStartValue(*_bits(spe, 6)),
        quality=_protection_quality(b[i + 1]),
        duration_time=_S_U16.unpack_from(b, i + 2)[0]), t)


def _dec_protection_command(h: _Header, ioa: int, b: bytes, i: int,
                            t: typing.Optional[common.Time]) -> common.Msg:
    oci = b[i]
    return _data_msg(h, ioa, common.ProtectionCommandData(
        value=common.ProtectionCommandValue(*_bits(oci, 4)),
        quality=_protection_quality(b[i + 1]),
        operating_time=_S_U16.unpack_from(b, i + 2)[0]), t)


def _dec_status(h: _Header, ioa: int, b: bytes, i: int,
                t: typing.Optional[common.Time]) -> common.Msg:
    return _data_msg(h, ioa, common.StatusData(
        value=common.StatusValue(
            value=_bits(_S_U16.unpack_from(b, i)[0], 16),
            change=_bits(_S_U16.unpack_from(b, i + 2)[0], 16)),
        quality=_MEASUREMENT_QUALITIES[b[i + 4]]), t)


# --- commands ---------------------------------------------------------------

def _command_msg(header: _Header, ioa: int, command: common.Command,
                 time: typing.Optional[common.Time]) -> common.CommandMsg:
    return common.CommandMsg(
        is_test=header.is_test,
        originator_address=header.originator_address,
        asdu_address=header.asdu_address,
        io_address=ioa,
        command=command,
        is_negative_confirm=header.is_negative_confirm,
        time=time,
        cause=_COMMAND_CAUSES.get(header.cause, header.cause))


def _dec_single_command(h: _Header, ioa: int, b: bytes, i: int,
                        t: typing.Optional[common.Time]) -> common.Msg:
    sco = b[i]
    return _command_msg(h, ioa, common.SingleCommand(
        value=common.SingleValue(sco & 0x01),
        select=bool(sco & 0x80),
        qualifier=(sco >> 2) & 0x1F), t)


def _dec_double_command(h: _Header, ioa: int, b: bytes, i: int,
                        t: typing.Optional[common.Time]) -> common.Msg:
    dco = b[i]
    return _command_msg(h, ioa, common.DoubleCommand(
        value=common.DoubleValue(dco & 0x03),
        select=bool(dco & 0x80),
        qualifier=(dco >> 2) & 0x1F), t)


def _dec_regulating_command(h: _Header, ioa: int, b: bytes, i: int,
                            t: typing.Optional[common.Time]) -> common.Msg:
    rco = b[i]
    return _command_msg(h, ioa, common.RegulatingCommand(
        value=_two_bit(h, 'RCO state', rco & 0x03, common.RegulatingValue),
        select=bool(rco & 0x80),
        qualifier=(rco >> 2) & 0x1F), t)


def _dec_normalized_command(h: _Header, ioa: int, b: bytes, i: int,
                            t: typing.Optional[common.Time]) -> common.Msg:
    return _command_msg(h, ioa, common.NormalizedCommand(
        value=_nva(b, i), select=bool(b[i + 2] & 0x80)), t)


def _dec_scaled_command(h: _Header, ioa: int, b: bytes, i: int,
                        t: typing.Optional[common.Time]) -> common.Msg:
    return _command_msg(h, ioa, common.ScaledCommand(
        value=_sva(b, i), select=bool(b[i + 2] & 0x80)), t)


def _dec_floating_command(h: _Header, ioa: int, b: bytes, i: int,
                          t: typing.Optional[common.Time]) -> common.Msg:
    return _command_msg(h, ioa, common.FloatingCommand(
        value=_float(b, i), select=bool(b[i + 4] & 0x80)), t)


def _dec_bitstring_command(h: _Header, ioa: int, b: bytes, i: int,
                           t: typing.Optional[common.Time]) -> common.Msg:
    return _command_msg(h, ioa, common.BitstringCommand(
        value=common.BitstringValue(b[i:i + 4])), t)


# --- system and parameters --------------------------------------------------

def _dec_initialization(h: _Header, ioa: int, b: bytes, i: int,
                        t: typing.Optional[common.Time]) -> common.Msg:
    coi = b[i]
    cause = coi & 0x7F
    return common.InitializationMsg(
        is_test=h.is_test,
        originator_address=h.originator_address,
        asdu_address=h.asdu_address,
        param_change=bool(coi & 0x80),
        cause=_INITIALIZATION_CAUSES.get(cause, cause))


def _dec_interrogation(h: _Header, ioa: int, b: bytes, i: int,
                       t: typing.Optional[common.Time]) -> common.Msg:
    return common.InterrogationMsg(
        is_test=h.is_test,
        originator_address=h.originator_address,
        asdu_address=h.asdu_address,
        request=b[i],
        is_negative_confirm=h.is_negative_confirm,
        cause=_COMMAND_CAUSES.get(h.cause, h.cause))


def _dec_counter_interrogation(h: _Header, ioa: int, b: bytes, i: int,
                               t: typing.Optional[common.Time]
                               ) -> common.Msg:
    qcc = b[i]
    return common.CounterInterrogationMsg(
        is_test=h.is_test,
        originator_address=h.originator_address,
        asdu_address=h.asdu_address,
        request=qcc & 0x3F,
        freeze=common.FreezeCode(qcc >> 6),
        is_negative_confirm=h.is_negative_confirm,
        cause=_COMMAND_CAUSES.get(h.cause, h.cause))


def _dec_read(h: _Header, ioa: int, b: bytes, i: int,
              t: typing.Optional[common.Time]) -> common.Msg:
    return common.ReadMsg(is_test=h.is_test,
                          originator_address=h.originator_address,
                          asdu_address=h.asdu_address,
                          io_address=ioa,
                          cause=_READ_CAUSES.get(h.cause, h.cause))


def _dec_clock_sync(h: _Header, ioa: int, b: bytes, i: int,
                    t: typing.Optional[common.Time]) -> common.Msg:
    return common.ClockSyncMsg(
        is_test=h.is_test,
        originator_address=h.originator_address,
        asdu_address=h.asdu_address,
        time=_decode_time(b, i),
        is_negative_confirm=h.is_negative_confirm,
        cause=_CLOCK_SYNC_CAUSES.get(h.cause, h.cause))


def _dec_reset(h: _Header, ioa: int, b: bytes, i: int,
               t: typing.Optional[common.Time]) -> common.Msg:
    return common.ResetMsg(is_test=h.is_test,
                           originator_address=h.originator_address,
                           asdu_address=h.asdu_address,
                           qualifier=b[i],
                           cause=_ACTIVATION_CAUSES.get(h.cause, h.cause))


def _dec_test(h: _Header, ioa: int, b: bytes, i: int,
              t: typing.Optional[common.Time]) -> common.Msg:
    return common.TestMsg(is_test=h.is_test,
                          originator_address=h.originator_address,
                          asdu_address=h.asdu_address,
                          counter=_S_U16.unpack_from(b, i)[0],
                          time=_decode_time(b, i + 2),
                          cause=_ACTIVATION_CAUSES.get(h.cause, h.cause))


def _parameter_msg(h: _Header, ioa: int, parameter: common.Parameter
                   ) -> common.ParameterMsg:
    return common.ParameterMsg(is_test=h.is_test,
                               originator_address=h.originator_address,
                               asdu_address=h.asdu_address,
                               io_address=ioa,
                               parameter=parameter,
                               cause=_PARAMETER_CAUSES.get(h.cause, h.cause))


def _dec_normalized_parameter(h: _Header, ioa: int, b: bytes, i: int,
                              t: typing.Optional[common.Time]
                              ) -> common.Msg:
    return _parameter_msg(h, ioa, common.NormalizedParameter(
        value=_nva(b, i), qualifier=b[i + 2]))


def _dec_scaled_parameter(h: _Header, ioa: int, b: bytes, i: int,
                          t: typing.Optional[common.Time]) -> common.Msg:
    return _parameter_msg(h, ioa, common.ScaledParameter(
        value=_sva(b, i), qualifier=b[i + 2]))


def _dec_floating_parameter(h: _Header, ioa: int, b: bytes, i: int,
                            t: typing.Optional[common.Time]) -> common.Msg:
    return _parameter_msg(h, ioa, common.FloatingParameter(
        value=_float(b, i), qualifier=b[i + 4]))


def _dec_parameter_activation(h: _Header, ioa: int, b: bytes, i: int,
                              t: typing.Optional[common.Time]
                              ) -> common.Msg:
    return common.ParameterActivationMsg(
        is_test=h.is_test,
        originator_address=h.originator_address,
        asdu_address=h.asdu_address,
        io_address=ioa,
        qualifier=b[i],
        cause=_PARAMETER_ACTIVATION_CAUSES.get(h.cause, h.cause))


_DECODERS: dict[int, _TypeSpec] = {
    1: _TypeSpec(1, False, _dec_single),
    3: _TypeSpec(1, False, _dec_double),
    5: _TypeSpec(2, False, _dec_step_position),
    7: _TypeSpec(5, False, _dec_bitstring),
    9: _TypeSpec(3, False, _dec_normalized),
    11: _TypeSpec(3, False, _dec_scaled),
    13: _TypeSpec(5, False, _dec_floating),
    15: _TypeSpec(5, False, _dec_binary_counter),
    20: _TypeSpec(5, False, _dec_status),
    21: _TypeSpec(2, False, _dec_normalized_no_quality),
    30: _TypeSpec(1, True, _dec_single),
    31: _TypeSpec(1, True, _dec_double),
    32: _TypeSpec(2, True, _dec_step_position),
    33: _TypeSpec(5, True, _dec_bitstring),
    34: _TypeSpec(3, True, _dec_normalized),
    35: _TypeSpec(3, True, _dec_scaled),
    36: _TypeSpec(5, True, _dec_floating),
    37: _TypeSpec(5, True, _dec_binary_counter),
    38: _TypeSpec(3, True, _dec_protection),
    39: _TypeSpec(4, True, _dec_protection_start),
    40: _TypeSpec(4, True, _dec_protection_command),
    45: _TypeSpec(1, False, _dec_single_command),
    46: _TypeSpec(1, False, _dec_double_command),
    47: _TypeSpec(1, False, _dec_regulating_command),
    48: _TypeSpec(3, False, _dec_normalized_command),
    49: _TypeSpec(3, False, _dec_scaled_command),
    50: _TypeSpec(5, False, _dec_floating_command),
    51: _TypeSpec(4, False, _dec_bitstring_command),
    58: _TypeSpec(1, True, _dec_single_command),
    59: _TypeSpec(1, True, _dec_double_command),
    60: _TypeSpec(1, True, _dec_regulating_command),
    61: _TypeSpec(3, True, _dec_normalized_command),
    62: _TypeSpec(3, True, _dec_scaled_command),
    63: _TypeSpec(5, True, _dec_floating_command),
    64: _TypeSpec(4, True, _dec_bitstring_command),
    70: _TypeSpec(1, False, _dec_initialization),
    100: _TypeSpec(1, False, _dec_interrogation),
    101: _TypeSpec(1, False, _dec_counter_interrogation),
    102: _TypeSpec(0, False, _dec_read),
    103: _TypeSpec(7, False, _dec_clock_sync),
    105: _TypeSpec(1, False, _dec_reset),
    107: _TypeSpec(9, False, _dec_test),
    110: _TypeSpec(3, False, _dec_normalized_parameter),
    111: _TypeSpec(3, False, _dec_scaled_parameter),
    112: _TypeSpec(5, False, _dec_floating_parameter),
    113: _TypeSpec(1, False, _dec_parameter_activation)}
