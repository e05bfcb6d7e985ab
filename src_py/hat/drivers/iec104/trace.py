"""IEC 60870-5-104 communication log: every APDU sent and received, decoded.

The logger ``hat.drivers.iec104.trace`` (`mlog`) records, at DEBUG level,
one line per APDU that a `hat.drivers.iec104.apci.Connection` (and so every
`hat.drivers.iec104.Connection`) writes or reads, decoded the way SCADA
tools and Wireshark's IEC 104 dissector show them:

* the connection (its name, local and remote address) and ``sent`` or
  ``received``;
* the frame format with its control field: ``I(N(S)=3, N(R)=5)``,
  ``S(N(R)=5)``, ``U(STARTDT act)`` (IEC 60870-5-104 clause 5);
* for I-frames the data unit identifier of the ASDU (IEC 60870-5-101 clause
  7.2): the TypeID name and number (``M_ME_NC_1 (13)``), ``SQ`` and the
  number of objects, the cause of transmission with its abbreviation as
  Wireshark shows it (``COT=Spont (3)``), ``P/N``, ``T`` (test), ``OA``
  (originator address) and ``CA`` (common address);
* then every information object: ``IOA=...``, the payload class and its
  values (enums by name, qualities as the flags that are set or ``-``,
  CP56Time2a as the wall-clock fields on the wire, with ``IV`` and ``SU``
  when set). An ASDU the codec cannot decode shows its header and the
  decoding error with its octets as hex.

Example of records (the message of each; long ones wrapped here)::

    127.0.0.1:50312 -> 127.0.0.1:2404: sent U(STARTDT act)
    127.0.0.1:50312 -> 127.0.0.1:2404: received U(STARTDT con)
    127.0.0.1:50312 -> 127.0.0.1:2404: sent I(N(S)=0, N(R)=0)
        C_IC_NA_1 (100) SQ=0 N=1 COT=Act (6) P/N=0 T=0 OA=0 CA=1:
        IOA=0 request=20
    127.0.0.1:50312 -> 127.0.0.1:2404: received I(N(S)=1, N(R)=1)
        M_ME_TF_1 (36) SQ=0 N=1 COT=Spont (3) P/N=0 T=0 OA=0 CA=1:
        IOA=1 FloatingData value=230.5 quality=-
        time=2026-12-03 12:00:00.250
    127.0.0.1:50312 -> 127.0.0.1:2404: sent S(N(R)=8)

Switching: the level of the logger is checked once per chunk of octets
written to or read from TCP (one chunk holds one or more APDUs), so the
log can be switched on and off at run time, also for connections already
open::

    logging.getLogger('hat.drivers.iec104.trace').setLevel(logging.DEBUG)

While it is off (the default: the logger's effective level is above
DEBUG), that check is one dictionary lookup per chunk and nothing is
decoded or formatted. Received APDUs are recorded before they are
processed (a reply they cause comes after them in the log), sent ones when
they are handed to TCP. The records carry no hex dump: `hat.drivers.tcp`'s
``hat.drivers.tcp.comm`` logger gives the octets of every chunk.

"""

import enum
import logging
import typing

from hat.drivers.iec104 import apdu
from hat.drivers.iec104 import codec
from hat.drivers.iec104 import common


mlog: logging.Logger = logging.getLogger(__name__)
"""Communication logger ``hat.drivers.iec104.trace`` (DEBUG: one record per
APDU sent or received)"""

# Checked per chunk: `Logger.isEnabledFor` costs a Python call; a logger's
# own cache of its answers (cleared in place by logging whenever a level
# changes) settles the usual case, logging off, without one (as
# hat.drivers.tcp does for its comm log). Only a hint: anything but a
# cached False asks isEnabledFor.
_cache: dict[int, bool] = getattr(mlog, '_cache', {})
_DEBUG = logging.DEBUG


def is_enabled() -> bool:
    """Whether the communication log is on (`mlog` enabled for DEBUG)"""
    return _cache.get(_DEBUG, True) and mlog.isEnabledFor(_DEBUG)


# Cause of transmission abbreviations (IEC 60870-5-101 clause 7.2.3), as
# Wireshark's IEC 104 dissector shows them
_COT_NAMES: dict[int, str] = {
    1: 'Per/Cyc', 2: 'Back', 3: 'Spont', 4: 'Init', 5: 'Req', 6: 'Act',
    7: 'ActCon', 8: 'Deact', 9: 'DeactCon', 10: 'ActTerm', 11: 'Retrem',
    12: 'Retloc', 13: 'File', 20: 'Inrogen',
    **{20 + i: f'Inro{i}' for i in range(1, 17)},
    37: 'Reqcogen', **{37 + i: f'Reqco{i}' for i in range(1, 5)},
    44: 'UkTypeId', 45: 'UkCauseTx', 46: 'UkComAdrASDU', 47: 'UkIOA'}

_U_NAMES: dict[apdu.UFunction, str] = {
    apdu.UFunction.STARTDT_ACT: 'STARTDT act',
    apdu.UFunction.STARTDT_CON: 'STARTDT con',
    apdu.UFunction.STOPDT_ACT: 'STOPDT act',
    apdu.UFunction.STOPDT_CON: 'STOPDT con',
    apdu.UFunction.TESTFR_ACT: 'TESTFR act',
    apdu.UFunction.TESTFR_CON: 'TESTFR con'}

# fields of the data unit identifier, shown once per ASDU
_HEADER_FIELDS = frozenset({'is_test', 'originator_address', 'asdu_address',
                            'cause', 'is_negative_confirm', 'io_address'})

_QUALITY_FLAGS: dict[str, str] = {
    'invalid': 'IV', 'not_topical': 'NT', 'substituted': 'SB',
    'blocked': 'BL', 'overflow': 'OV', 'adjusted': 'CA',
    'time_invalid': 'EI'}

_QUALITY_TYPES = (common.IndicationQuality, common.MeasurementQuality,
                  common.CounterQuality, common.ProtectionQuality)


def log_data(connection: str, direction: str, data: bytes) -> None:
    """Record every complete APDU in `data` (one record each).

    Octets after the last complete APDU (the start of one still to come)
    are not recorded; a malformed APDU gives one record naming the
    problem and ends the octets recorded.

    Args:
        connection: description of the connection (name and addresses)
        direction: ``'sent'`` or ``'received'``
        data: octets of zero or more APDUs, back to back

    """
    offset = 0
    size = len(data)
    while offset < size:
        try:
            result = apdu.decode_apdu(data, offset)

        except apdu.ApduError as e:
            mlog.debug('%s: %s malformed APDU: %s', connection, direction, e)
            return

        if result is None:
            return

        frame, offset = result
        mlog.debug('%s: %s %s', connection, direction, format_frame(frame))


def format_frame(frame: apdu.Frame) -> str:
    """One line describing an APDU (see the module docstring)"""
    if isinstance(frame, apdu.IFrame):
        return (f'I(N(S)={frame.send_sn}, N(R)={frame.receive_sn}) '
                f'{format_asdu(frame.asdu)}')

    if isinstance(frame, apdu.SFrame):
        return f'S(N(R)={frame.receive_sn})'

    return f'U({_U_NAMES[frame.function]})'


def format_asdu(data: bytes) -> str:
    """One line describing an ASDU: the data unit identifier, then each
    information object with its values (see the module docstring)"""
    if len(data) < 6:
        return f'ASDU too short: {data.hex(" ") or "(no octets)"}'

    type_id, vsq, cot, orig, ca_lo, ca_hi = data[:6]
    cause = cot & 0x3F
    cause_name = _COT_NAMES.get(cause, '?')
    header = (f'{codec.type_name(type_id)} ({type_id}) '
              f'SQ={vsq >> 7} N={vsq & 0x7F} '
              f'COT={cause_name} ({cause}) '
              f'P/N={(cot >> 6) & 1} T={cot >> 7} '
              f'OA={orig} CA={ca_lo | (ca_hi << 8)}')
    try:
        msgs = codec.decode_asdu(data)

    except codec.AsduDecodeError as e:
        return f'{header}: undecodable: {e}; ASDU: {data.hex(" ")}'

    # the IOA on the wire of the first object, for messages without one
    raw_ioa = (int.from_bytes(data[6:9], 'little') if len(data) >= 9
               else 0)
    objects = '; '.join(_format_msg(msg, raw_ioa) for msg in msgs)
    return f'{header}: {objects or "(no objects)"}'


def _format_msg(msg: common.Msg, raw_ioa: int) -> str:
    ioa = getattr(msg, 'io_address', raw_ioa)
    parts = [f'IOA={ioa}']
    value: typing.Any
    for name, value in zip(msg._fields, msg, strict=True):
        if name in _HEADER_FIELDS:
            continue

        if name in ('data', 'command', 'parameter'):
            parts.append(type(value).__name__)
            parts.extend(f'{n}={_format_value(v)}'
                         for n, v in zip(value._fields, value, strict=True))
            continue

        if name == 'time' and value is None:
            continue

        parts.append(f'{name}={_format_value(value)}')

    return ' '.join(parts)


def _format_value(value: typing.Any) -> str:
    if isinstance(value, enum.Enum):
        return value.name

    if isinstance(value, bool):
        return str(int(value))

    if isinstance(value, float):
        return f'{value:.7g}'

    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()

    if isinstance(value, common.Time):
        return _format_time(value)

    if isinstance(value, _QUALITY_TYPES):
        flags = [flag for name, flag in _QUALITY_FLAGS.items()
                 if getattr(value, name, False)]
        if isinstance(value, common.CounterQuality):
            flags.append(f'SQ={value.sequence}')
        return ','.join(flags) or '-'

    if isinstance(value, list):
        return ''.join('1' if bit else '0' for bit in value)

    if isinstance(value, tuple) and hasattr(value, '_fields'):
        if value._fields == ('value',):
            return _format_value(value[0])

        fields = zip(value._fields, value, strict=True)
        return '(' + ' '.join(f'{n}={_format_value(v)}'
                              for n, v in fields) + ')'

    return str(value)


def _format_time(t: common.Time) -> str:
    """CP56Time2a wall-clock fields as on the wire (no time zone)"""
    if t.size is not common.TimeSize.SEVEN or t.years is None:
        return str(t)

    ms = t.milliseconds
    text = (f'{2000 + t.years if t.years < 70 else 1900 + t.years:04}-'
            f'{t.months:02}-{t.day_of_month:02} '
            f'{t.hours:02}:{t.minutes:02}:{ms // 1000:02}.{ms % 1000:03}')
    if t.invalid:
        text += ' IV'
    if t.summer_time:
        text += ' SU'
    return text
