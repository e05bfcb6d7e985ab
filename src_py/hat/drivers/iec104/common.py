"""IEC 60870-5-104 message types (plain data).

The types of the application layer as the published Hat API (hat-drivers
0.6.23) defines them: every NamedTuple keeps its field names and order and
has no defaults, every enum keeps its values (including the odd
``Function.DATA == ('data',)``), and the ``*Cause``, ``Quality``, ``Data``,
``Command``, ``Parameter`` and ``Msg`` names are `typing.Union` aliases.

Sources: IEC 60870-5-101 clause 7.2 (data unit identifier: type
identification, variable structure qualifier, cause of transmission (COT),
common address) and clause 7.2.6 (information elements: SIQ, DIQ, QDS, VTI,
BSI, NVA, SVA, BCR, SEP, SPE, QDP, OCI, SCD, SCO, DCO, RCO, QOS, QOI, QCC,
QRP, QPM, QPA, COI, CP56Time2a); IEC 60870-5-104 clause 6 (the subset of
type identifications used over TCP, with 2-octet COT, 2-octet common address
and 3-octet information object address (IOA)).

How messages map to type identifications (TypeID) on the wire is the
business of `hat.drivers.iec104.codec`.

"""

import datetime
import enum
import time as _time
import typing


Bytes: typing.TypeAlias = typing.Union[bytes, bytearray, memoryview]
"""Binary data"""

OriginatorAddress: typing.TypeAlias = int
"""Originator address 0..255 (second COT octet; 0: not available)"""

AsduAddress: typing.TypeAlias = int
"""Common address of ASDU 0..65535 (2 octets)"""

IoAddress: typing.TypeAlias = int
"""Information object address (IOA) 0..16777215 (3 octets)"""

OtherCause: typing.TypeAlias = int
"""Raw cause value 0..63, used when no enum member applies"""


# --- time ------------------------------------------------------------------

class TimeSize(enum.Enum):
    """Size of a binary time in octets (IEC 60870-5-101 clause
    7.2.6.18-20); only SEVEN (CP56Time2a) is used by IEC 60870-5-104"""
    TWO = 2
    THREE = 3
    FOUR = 4
    SEVEN = 7


class Time(typing.NamedTuple):
    """Binary time (CP56Time2a when `size` is `TimeSize.SEVEN`)

    Fields that the size does not carry are ``None``: `invalid` and
    `minutes` from THREE on, `summer_time` and `hours` from FOUR on,
    `day_of_week`, `day_of_month`, `months` and `years` only in SEVEN.

    """
    size: TimeSize
    milliseconds: int
    """0..59999 (seconds * 1000 + milliseconds)"""
    invalid: typing.Optional[bool]
    """IV bit"""
    minutes: typing.Optional[int]
    """0..59"""
    summer_time: typing.Optional[bool]
    """SU bit"""
    hours: typing.Optional[int]
    """0..23"""
    day_of_week: typing.Optional[int]
    """1..7 (Monday 1; 0: not used)"""
    day_of_month: typing.Optional[int]
    """1..31"""
    months: typing.Optional[int]
    """1..12"""
    years: typing.Optional[int]
    """0..99"""


# --- qualities -------------------------------------------------------------

class IndicationQuality(typing.NamedTuple):
    """Quality bits of SIQ/DIQ (IV 0x80, NT 0x40, SB 0x20, BL 0x10)"""
    invalid: bool
    not_topical: bool
    substituted: bool
    blocked: bool


class MeasurementQuality(typing.NamedTuple):
    """Quality descriptor QDS (IV, NT, SB, BL, OV 0x01)"""
    invalid: bool
    not_topical: bool
    substituted: bool
    blocked: bool
    overflow: bool


class CounterQuality(typing.NamedTuple):
    """Fifth octet of BCR (IV 0x80, CA 0x40, CY 0x20, sequence bits 0-4)"""
    invalid: bool
    adjusted: bool
    overflow: bool
    sequence: int
    """0..31"""


class ProtectionQuality(typing.NamedTuple):
    """Quality of protection events QDP (IV, NT, SB, BL, EI 0x08)"""
    invalid: bool
    not_topical: bool
    substituted: bool
    blocked: bool
    time_invalid: bool


Quality: typing.TypeAlias = typing.Union[IndicationQuality,
                                         MeasurementQuality,
                                         CounterQuality,
                                         ProtectionQuality]


class FreezeCode(enum.Enum):
    """FRZ bits of the qualifier of counter interrogation QCC"""
    READ = 0
    FREEZE = 1
    FREEZE_AND_RESET = 2
    RESET = 3


# --- values ----------------------------------------------------------------

class SingleValue(enum.Enum):
    """SPI / SCS"""
    OFF = 0
    ON = 1


class DoubleValue(enum.Enum):
    """DPI / DCS (3 is "indeterminate" in the standard)"""
    INTERMEDIATE = 0
    OFF = 1
    ON = 2
    FAULT = 3


class RegulatingValue(enum.Enum):
    """RCS (wire values 0 and 3 are not permitted)"""
    LOWER = 1
    HIGHER = 2


class StepPositionValue(typing.NamedTuple):
    """VTI"""
    value: int
    """-64..63"""
    transient: bool


class BitstringValue(typing.NamedTuple):
    """BSI"""
    value: Bytes
    """exactly 4 octets"""


class NormalizedValue(typing.NamedTuple):
    """NVA: int16 on the wire as ``round(value * 32767)``"""
    value: float
    """-1.0..1.0 (decoded as int16 / 32767)"""


class ScaledValue(typing.NamedTuple):
    """SVA"""
    value: int
    """-32768..32767"""


class FloatingValue(typing.NamedTuple):
    """IEEE 754 short floating point number (float32)"""
    value: float


class BinaryCounterValue(typing.NamedTuple):
    """Counter reading of BCR"""
    value: int
    """int32"""


class ProtectionValue(enum.Enum):
    """ES of SEP (wire values 0 and 3 are indeterminate)"""
    OFF = 1
    ON = 2


class ProtectionStartValue(typing.NamedTuple):
    """SPE bits 0x01..0x20"""
    general: bool
    l1: bool
    l2: bool
    l3: bool
    ie: bool
    reverse: bool


class ProtectionCommandValue(typing.NamedTuple):
    """OCI bits 0x01..0x08"""
    general: bool
    l1: bool
    l2: bool
    l3: bool


class StatusValue(typing.NamedTuple):
    """SCD: 16 status bits and 16 change detection bits, LSB first"""
    value: list[bool]
    change: list[bool]


# --- causes ----------------------------------------------------------------

class DataResCause(enum.Enum):
    PERIODIC = 1
    BACKGROUND_SCAN = 2
    SPONTANEOUS = 3
    REQUEST = 5
    REMOTE_COMMAND = 11
    LOCAL_COMMAND = 12
    INTERROGATED_STATION = 20
    INTERROGATED_GROUP01 = 21
    INTERROGATED_GROUP02 = 22
    INTERROGATED_GROUP03 = 23
    INTERROGATED_GROUP04 = 24
    INTERROGATED_GROUP05 = 25
    INTERROGATED_GROUP06 = 26
    INTERROGATED_GROUP07 = 27
    INTERROGATED_GROUP08 = 28
    INTERROGATED_GROUP09 = 29
    INTERROGATED_GROUP10 = 30
    INTERROGATED_GROUP11 = 31
    INTERROGATED_GROUP12 = 32
    INTERROGATED_GROUP13 = 33
    INTERROGATED_GROUP14 = 34
    INTERROGATED_GROUP15 = 35
    INTERROGATED_GROUP16 = 36
    INTERROGATED_COUNTER = 37
    INTERROGATED_COUNTER01 = 38
    INTERROGATED_COUNTER02 = 39
    INTERROGATED_COUNTER03 = 40
    INTERROGATED_COUNTER04 = 41


DataCause: typing.TypeAlias = typing.Union[DataResCause, OtherCause]


class CommandReqCause(enum.Enum):
    ACTIVATION = 6
    DEACTIVATION = 8


class CommandResCause(enum.Enum):
    ACTIVATION_CONFIRMATION = 7
    DEACTIVATION_CONFIRMATION = 9
    ACTIVATION_TERMINATION = 10
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


CommandCause: typing.TypeAlias = typing.Union[CommandReqCause,
                                              CommandResCause,
                                              OtherCause]


class InitializationResCause(enum.Enum):
    """Cause of initialization (COI value, not COT)"""
    LOCAL_POWER = 0
    LOCAL_RESET = 1
    REMOTE_RESET = 2


InitializationCause: typing.TypeAlias = typing.Union[InitializationResCause,
                                                     OtherCause]


class ReadReqCause(enum.Enum):
    REQUEST = 5


class ReadResCause(enum.Enum):
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


ReadCause: typing.TypeAlias = typing.Union[ReadReqCause,
                                           ReadResCause,
                                           OtherCause]


class ClockSyncReqCause(enum.Enum):
    ACTIVATION = 6


class ClockSyncResCause(enum.Enum):
    SPONTANEOUS = 3
    ACTIVATION_CONFIRMATION = 7
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


ClockSyncCause: typing.TypeAlias = typing.Union[ClockSyncReqCause,
                                                ClockSyncResCause,
                                                OtherCause]


class ActivationReqCause(enum.Enum):
    ACTIVATION = 6


class ActivationResCause(enum.Enum):
    ACTIVATION_CONFIRMATION = 7
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


ActivationCause: typing.TypeAlias = typing.Union[ActivationReqCause,
                                                 ActivationResCause,
                                                 OtherCause]


class DelayReqCause(enum.Enum):
    SPONTANEOUS = 3
    ACTIVATION = 6


class DelayResCause(enum.Enum):
    ACTIVATION_CONFIRMATION = 7
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


DelayCause: typing.TypeAlias = typing.Union[DelayReqCause,
                                            DelayResCause,
                                            OtherCause]


class ParameterReqCause(enum.Enum):
    SPONTANEOUS = 3
    ACTIVATION = 6


class ParameterResCause(enum.Enum):
    ACTIVATION_CONFIRMATION = 7
    INTERROGATED_STATION = 20
    INTERROGATED_GROUP01 = 21
    INTERROGATED_GROUP02 = 22
    INTERROGATED_GROUP03 = 23
    INTERROGATED_GROUP04 = 24
    INTERROGATED_GROUP05 = 25
    INTERROGATED_GROUP06 = 26
    INTERROGATED_GROUP07 = 27
    INTERROGATED_GROUP08 = 28
    INTERROGATED_GROUP09 = 29
    INTERROGATED_GROUP10 = 30
    INTERROGATED_GROUP11 = 31
    INTERROGATED_GROUP12 = 32
    INTERROGATED_GROUP13 = 33
    INTERROGATED_GROUP14 = 34
    INTERROGATED_GROUP15 = 35
    INTERROGATED_GROUP16 = 36
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


ParameterCause: typing.TypeAlias = typing.Union[ParameterReqCause,
                                                ParameterResCause,
                                                OtherCause]


class ParameterActivationReqCause(enum.Enum):
    ACTIVATION = 6
    DEACTIVATION = 8


class ParameterActivationResCause(enum.Enum):
    ACTIVATION_CONFIRMATION = 7
    DEACTIVATION_CONFIRMATION = 9
    UNKNOWN_TYPE = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_ASDU_ADDRESS = 46
    UNKNOWN_IO_ADDRESS = 47


ParameterActivationCause: typing.TypeAlias = typing.Union[
    ParameterActivationReqCause,
    ParameterActivationResCause,
    OtherCause]


# --- data ------------------------------------------------------------------

class SingleData(typing.NamedTuple):
    value: SingleValue
    quality: IndicationQuality


class DoubleData(typing.NamedTuple):
    value: DoubleValue
    quality: IndicationQuality


class StepPositionData(typing.NamedTuple):
    value: StepPositionValue
    quality: MeasurementQuality


class BitstringData(typing.NamedTuple):
    value: BitstringValue
    quality: MeasurementQuality


class NormalizedData(typing.NamedTuple):
    value: NormalizedValue
    quality: typing.Optional[MeasurementQuality]
    """``None`` selects M_ME_ND_1 (normalized value without quality)"""


class ScaledData(typing.NamedTuple):
    value: ScaledValue
    quality: MeasurementQuality


class FloatingData(typing.NamedTuple):
    value: FloatingValue
    quality: MeasurementQuality


class BinaryCounterData(typing.NamedTuple):
    value: BinaryCounterValue
    quality: CounterQuality


class ProtectionData(typing.NamedTuple):
    value: ProtectionValue
    quality: ProtectionQuality
    elapsed_time: int
    """milliseconds 0..65535 (CP16Time2a)"""


class ProtectionStartData(typing.NamedTuple):
    value: ProtectionStartValue
    quality: ProtectionQuality
    duration_time: int
    """milliseconds 0..65535 (CP16Time2a)"""


class ProtectionCommandData(typing.NamedTuple):
    value: ProtectionCommandValue
    quality: ProtectionQuality
    operating_time: int
    """milliseconds 0..65535 (CP16Time2a)"""


class StatusData(typing.NamedTuple):
    value: StatusValue
    quality: MeasurementQuality


Data: typing.TypeAlias = typing.Union[SingleData,
                                      DoubleData,
                                      StepPositionData,
                                      BitstringData,
                                      NormalizedData,
                                      ScaledData,
                                      FloatingData,
                                      BinaryCounterData,
                                      ProtectionData,
                                      ProtectionStartData,
                                      ProtectionCommandData,
                                      StatusData]


# --- commands --------------------------------------------------------------

class SingleCommand(typing.NamedTuple):
    value: SingleValue
    select: bool
    qualifier: int
    """QU 0..31"""


class DoubleCommand(typing.NamedTuple):
    value: DoubleValue
    select: bool
    qualifier: int
    """QU 0..31"""


class RegulatingCommand(typing.NamedTuple):
    value: RegulatingValue
    select: bool
    qualifier: int
    """QU 0..31"""


class NormalizedCommand(typing.NamedTuple):
    value: NormalizedValue
    select: bool


class ScaledCommand(typing.NamedTuple):
    value: ScaledValue
    select: bool


class FloatingCommand(typing.NamedTuple):
    value: FloatingValue
    select: bool


class BitstringCommand(typing.NamedTuple):
    value: BitstringValue


Command: typing.TypeAlias = typing.Union[SingleCommand,
                                         DoubleCommand,
                                         RegulatingCommand,
                                         NormalizedCommand,
                                         ScaledCommand,
                                         FloatingCommand,
                                         BitstringCommand]


# --- parameters ------------------------------------------------------------

class NormalizedParameter(typing.NamedTuple):
    value: NormalizedValue
    qualifier: int
    """QPM octet 0..255"""


class ScaledParameter(typing.NamedTuple):
    value: ScaledValue
    qualifier: int
    """QPM octet 0..255"""


class FloatingParameter(typing.NamedTuple):
    value: FloatingValue
    qualifier: int
    """QPM octet 0..255"""


Parameter: typing.TypeAlias = typing.Union[NormalizedParameter,
                                           ScaledParameter,
                                           FloatingParameter]


# --- messages --------------------------------------------------------------

class DataMsg(typing.NamedTuple):
    """Process information in monitor direction (TypeIDs 1..40)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    io_address: IoAddress
    data: Data
    time: typing.Optional[Time]
    cause: DataCause


class CommandMsg(typing.NamedTuple):
    """Process information in control direction (TypeIDs 45..51, 58..64)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    io_address: IoAddress
    command: Command
    is_negative_confirm: bool
    time: typing.Optional[Time]
    cause: CommandCause


class InitializationMsg(typing.NamedTuple):
    """End of initialization M_EI_NA_1 (TypeID 70)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    param_change: bool
    cause: InitializationCause


class InterrogationMsg(typing.NamedTuple):
    """Interrogation command C_IC_NA_1 (TypeID 100)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    request: int
    """QOI 0..255 (20: station, 21..36: groups 1..16)"""
    is_negative_confirm: bool
    cause: CommandCause


class CounterInterrogationMsg(typing.NamedTuple):
    """Counter interrogation command C_CI_NA_1 (TypeID 101)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    request: int
    """RQT 0..63 (5: general counter interrogation, 1..4: groups)"""
    freeze: FreezeCode
    is_negative_confirm: bool
    cause: CommandCause


class ReadMsg(typing.NamedTuple):
    """Read command C_RD_NA_1 (TypeID 102)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    io_address: IoAddress
    cause: ReadCause


class ClockSyncMsg(typing.NamedTuple):
    """Clock synchronization command C_CS_NA_1 (TypeID 103)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    time: Time
    is_negative_confirm: bool
    cause: ClockSyncCause


class TestMsg(typing.NamedTuple):
    """Test command with time tag C_TS_TA_1 (TypeID 107)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    counter: int
    """TSC 0..65535"""
    time: Time
    cause: ActivationCause


class ResetMsg(typing.NamedTuple):
    """Reset process command C_RP_NA_1 (TypeID 105)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    qualifier: int
    """QRP 0..255"""
    cause: ActivationCause


class ParameterMsg(typing.NamedTuple):
    """Parameter of measured value (TypeIDs 110..112)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    io_address: IoAddress
    parameter: Parameter
    cause: ParameterCause


class ParameterActivationMsg(typing.NamedTuple):
    """Parameter activation P_AC_NA_1 (TypeID 113)"""
    is_test: bool
    originator_address: OriginatorAddress
    asdu_address: AsduAddress
    io_address: IoAddress
    qualifier: int
    """QPA 0..255"""
    cause: ParameterActivationCause


Msg: typing.TypeAlias = typing.Union[DataMsg,
                                     CommandMsg,
                                     InitializationMsg,
                                     InterrogationMsg,
                                     CounterInterrogationMsg,
                                     ReadMsg,
                                     ClockSyncMsg,
                                     TestMsg,
                                     ResetMsg,
                                     ParameterMsg,
                                     ParameterActivationMsg]


class Function(enum.Enum):
    """Functions of IEC 62351-5 secure authentication (used only in
    ``critical_functions``; ``DATA``'s value is the tuple ``('data',)`` as in
    hat-drivers 0.6.23)"""
    DATA = 'data',
    COMMAND = 'command'
    INITIALIZATION = 'initialization'
    INTERROGATION = 'interrogation'
    COUNTER_INTERROGATION = 'counter_interrogation'
    READ = 'read'
    CLOCK_SYNC = 'clock_sync'
    TEST = 'test'
    RESET = 'reset'
    PARAMETER = 'parameter'
    PARAMETER_ACTIVATION = 'parameter_activation'


# --- time conversion -------------------------------------------------------

def time_from_datetime(dt: datetime.datetime,
                       invalid: bool = False,
                       *,
                       tz: datetime.tzinfo | None = None
                       ) -> Time:
    """CP56Time2a from a datetime, in local time or in the time zone `tz`.

    The fields are written as wall-clock time in the process's local time
    zone (default) or in `tz` if given. A naive `dt` is taken as
    wall-clock time in that zone (local time, or `tz` if given: a naive
    ``datetime.now()`` with ``tz=datetime.timezone.utc`` is therefore
    wrong unless the process runs in UTC; pass an aware datetime such as
    ``datetime.now(datetime.timezone.utc)``); an aware `dt` is converted
    to that zone.
    Microseconds are rounded to the nearest millisecond first.

    The message types carry a `Time` as its wall-clock fields on the wire;
    neither the codec nor the connection converts them. Which time zone
    they are in is an agreement with the peer: many RTUs run in UTC
    (``tz=datetime.timezone.utc``), others in the local time of their
    substation (hat-drivers 0.6.23 and the default here: the process's
    local time, `time.localtime`).

    Args:
        dt: point in time
        invalid: IV bit of the result
        tz: time zone of the result (keyword only; for example
            ``datetime.timezone.utc`` or a `zoneinfo.ZoneInfo`); ``None``
            (default, as 0.6.23): the process's local time zone

    Returns:
        `Time` of size `TimeSize.SEVEN` (`day_of_week`: ISO weekday, Monday
        1 .. Sunday 7; `years`: year modulo 100; `summer_time`: the time
        zone's daylight saving time is in effect; always ``False`` for UTC)

    Raises:
        TypeError: `dt` is not a `datetime.datetime`, `invalid` not a bool
            or `tz` not a `datetime.tzinfo` or ``None``

    """
    if not isinstance(dt, datetime.datetime):
        raise TypeError(f'dt must be datetime.datetime, not '
                        f'{type(dt).__name__}')
    if invalid is not True and invalid is not False:
        raise TypeError(f'invalid must be bool, not {type(invalid).__name__}')
    if tz is not None and not isinstance(tz, datetime.tzinfo):
        raise TypeError(f'tz must be datetime.tzinfo or None, not '
                        f'{type(tz).__name__}')

    ms = round(dt.microsecond / 1000)
    # adding a timedelta resets fold: keep it, or the second occurrence of
    # the hour repeated at the end of summer time is taken for the first
    dt = (dt.replace(microsecond=0) +
          datetime.timedelta(milliseconds=ms)).replace(fold=dt.fold)
    ms = dt.microsecond // 1000
    if tz is not None:
        local = (dt.replace(tzinfo=tz) if dt.tzinfo is None
                 else dt.astimezone(tz))
        return Time(size=TimeSize.SEVEN,
                    milliseconds=local.second * 1000 + ms,
                    invalid=invalid,
                    minutes=local.minute,
                    summer_time=bool(local.dst()),
                    hours=local.hour,
                    day_of_week=local.isoweekday(),
                    day_of_month=local.day,
                    months=local.month,
                    years=local.year % 100)

    t = _time.localtime(int(dt.replace(microsecond=0).timestamp()))
    return Time(size=TimeSize.SEVEN,
                milliseconds=t.tm_sec * 1000 + ms,
                invalid=invalid,
                minutes=t.tm_min,
                summer_time=t.tm_isdst == 1,
                hours=t.tm_hour,
                day_of_week=t.tm_wday + 1,
                day_of_month=t.tm_mday,
                months=t.tm_mon,
                years=t.tm_year % 100)


def time_to_datetime(t: Time,
                     *,
                     tz: datetime.tzinfo | None = None
                     ) -> datetime.datetime:
    """Aware UTC datetime from a CP56Time2a in local time or in the time
    zone `tz`.

    The fields are read as wall-clock time in the process's local time
    zone (default) or in `tz` if given: year 2000 + `years` if `years` <
    70, else 1900 + `years`; in the ambiguous hour at the end of summer
    time `summer_time` tells the two apart. `day_of_week` and `invalid` are
    ignored. Whatever the zone read in, the result is the same instant
    expressed in UTC (``tzinfo`` is ``datetime.timezone.utc``): use
    ``.astimezone()`` for local time or ``.astimezone(tz)`` for the
    peer's wall-clock time. See `time_from_datetime` on time zones.

    Args:
        t: time of size `TimeSize.SEVEN`
        tz: time zone of `t` (keyword only; for example
            ``datetime.timezone.utc``); ``None`` (default, as 0.6.23): the
            process's local time zone

    Returns:
        timezone-aware datetime with ``tzinfo=datetime.timezone.utc``
        (not in `tz` nor in local time)

    Raises:
        TypeError: `t` is not a `Time` or `tz` not a `datetime.tzinfo` or
            ``None``
        ValueError: ``'unsupported time size'`` if `t` is not of size
            SEVEN, or a field is missing or out of its calendar range

    """
    if not isinstance(t, Time):
        raise TypeError(f't must be Time, not {type(t).__name__}')
    if tz is not None and not isinstance(tz, datetime.tzinfo):
        raise TypeError(f'tz must be datetime.tzinfo or None, not '
                        f'{type(tz).__name__}')
    if t.size != TimeSize.SEVEN:
        raise ValueError('unsupported time size')

    if (t.minutes is None or t.hours is None or t.day_of_month is None or
            t.months is None or t.years is None):
        raise ValueError('time fields missing')

    year = 2000 + t.years if t.years < 70 else 1900 + t.years
    local = datetime.datetime(year=year,
                              month=t.months,
                              day=t.day_of_month,
                              hour=t.hours,
                              minute=t.minutes,
                              second=t.milliseconds // 1000,
                              microsecond=(t.milliseconds % 1000) * 1000,
                              tzinfo=tz,
                              fold=0 if t.summer_time else 1)
    return local.astimezone(datetime.timezone.utc)
