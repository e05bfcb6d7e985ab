"""Tests of the IEC 60870-5-104 ASDU codec (hat.drivers.iec104.codec).

Example-based tests compare with octets written by hand from the layouts of
IEC 60870-5-101 clause 7.2/7.3 (with the IEC 60870-5-104 clause 6 sizes: COT
2 octets, common address 2, IOA 3), not produced by the encoder. Property
tests (hypothesis) check that

* decoding arbitrary octets returns messages or raises `AsduDecodeError`,
  nothing else;
* every message the codec encodes decodes back to itself (alone, and packed
  with others of its TypeID into SQ=0 and SQ=1 ASDUs).

Number of examples per property test: 2000 by default (the file runs in
well under 20 s); set the environment variable
``HAT_DRIVERS_IEC104_EXAMPLES`` for a longer run, for example::

    HAT_DRIVERS_IEC104_EXAMPLES=100000 .venv/bin/python -m pytest \\
        test_pytest/test_iec104_codec.py

"""

import datetime
import math
import os
import struct

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import iec104
from hat.drivers.iec104 import codec
from hat.drivers.iec104 import common


EXAMPLES = int(os.environ.get('HAT_DRIVERS_IEC104_EXAMPLES', '2000'))

# property tests get a pytest-timeout proportional to their examples
property_timeout = pytest.mark.timeout(max(60, EXAMPLES // 50))

settings = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])


# --- strategies ------------------------------------------------------------

def causes(*enums):
    members = [m for e in enums for m in e]
    values = {m.value for m in members}
    return st.one_of(st.sampled_from(members),
                     st.integers(1, 63).filter(lambda i: i not in values))


times = st.builds(common.Time,
                  size=st.just(common.TimeSize.SEVEN),
                  milliseconds=st.integers(0, 59999),
                  invalid=st.booleans(),
                  minutes=st.integers(0, 59),
                  summer_time=st.booleans(),
                  hours=st.integers(0, 23),
                  day_of_week=st.integers(0, 7),
                  day_of_month=st.integers(1, 31),
                  months=st.integers(1, 12),
                  years=st.integers(0, 99))

b = st.booleans()
indication_qualities = st.builds(common.IndicationQuality, b, b, b, b)
measurement_qualities = st.builds(common.MeasurementQuality, b, b, b, b, b)
counter_qualities = st.builds(common.CounterQuality, b, b, b,
                              st.integers(0, 31))
protection_qualities = st.builds(common.ProtectionQuality, b, b, b, b, b)

normalized_values = st.builds(common.NormalizedValue,
                              st.integers(-32768, 32767).map(
                                  lambda i: i / 32767))
scaled_values = st.builds(common.ScaledValue, st.integers(-32768, 32767))
floating_values = st.builds(common.FloatingValue,
                            st.floats(width=32, allow_nan=False))
bitstring_values = st.builds(common.BitstringValue,
                             st.binary(min_size=4, max_size=4))
bits16 = st.lists(b, min_size=16, max_size=16)
cp16 = st.integers(0, 0xFFFF)

untimed_data = st.one_of(
    st.builds(common.SingleData, st.sampled_from(common.SingleValue),
              indication_qualities),
    st.builds(common.DoubleData, st.sampled_from(common.DoubleValue),
              indication_qualities),
    st.builds(common.StepPositionData,
              st.builds(common.StepPositionValue, st.integers(-64, 63), b),
              measurement_qualities),
    st.builds(common.BitstringData, bitstring_values, measurement_qualities),
    st.builds(common.NormalizedData, normalized_values,
              st.one_of(st.none(), measurement_qualities)),
    st.builds(common.ScaledData, scaled_values, measurement_qualities),
    st.builds(common.FloatingData, floating_values, measurement_qualities),
    st.builds(common.BinaryCounterData,
              st.builds(common.BinaryCounterValue,
                        st.integers(-2**31, 2**31 - 1)),
              counter_qualities),
    st.builds(common.StatusData,
              st.builds(common.StatusValue, bits16, bits16),
              measurement_qualities))

timed_data = st.one_of(
    untimed_data.filter(
        lambda d: not isinstance(d, common.StatusData) and
        not (isinstance(d, common.NormalizedData) and d.quality is None)),
    st.builds(common.ProtectionData, st.sampled_from(common.ProtectionValue),
              protection_qualities, cp16),
    st.builds(common.ProtectionStartData,
              st.builds(common.ProtectionStartValue, b, b, b, b, b, b),
              protection_qualities, cp16),
    st.builds(common.ProtectionCommandData,
              st.builds(common.ProtectionCommandValue, b, b, b, b),
              protection_qualities, cp16))

qualifiers = st.integers(0, 31)
commands = st.one_of(
    st.builds(common.SingleCommand, st.sampled_from(common.SingleValue), b,
              qualifiers),
    st.builds(common.DoubleCommand, st.sampled_from(common.DoubleValue), b,
              qualifiers),
    st.builds(common.RegulatingCommand,
              st.sampled_from(common.RegulatingValue), b, qualifiers),
    st.builds(common.NormalizedCommand, normalized_values, b),
    st.builds(common.ScaledCommand, scaled_values, b),
    st.builds(common.FloatingCommand, floating_values, b),
    st.builds(common.BitstringCommand, bitstring_values))

parameters = st.one_of(
    st.builds(common.NormalizedParameter, normalized_values,
              st.integers(0, 255)),
    st.builds(common.ScaledParameter, scaled_values, st.integers(0, 255)),
    st.builds(common.FloatingParameter, floating_values,
              st.integers(0, 255)))

orig = st.integers(0, 255)
ca = st.integers(0, 0xFFFF)
ioa = st.integers(0, 0xFFFFFF)

data_msgs = st.one_of(
    st.builds(common.DataMsg, b, orig, ca, ioa, untimed_data, st.none(),
              causes(common.DataResCause)),
    st.builds(common.DataMsg, b, orig, ca, ioa, timed_data, times,
              causes(common.DataResCause)))

command_causes = causes(common.CommandReqCause, common.CommandResCause)

io_msgs = st.one_of(
    data_msgs,
    st.builds(common.CommandMsg, b, orig, ca, ioa, commands, b,
              st.one_of(st.none(), times), command_causes),
    st.builds(common.ReadMsg, b, orig, ca, ioa,
              causes(common.ReadReqCause, common.ReadResCause)),
    st.builds(common.ParameterMsg, b, orig, ca, ioa, parameters,
              causes(common.ParameterReqCause, common.ParameterResCause)),
    st.builds(common.ParameterActivationMsg, b, orig, ca, ioa,
              st.integers(0, 255),
              causes(common.ParameterActivationReqCause,
                     common.ParameterActivationResCause)))
"""Messages with an IOA"""

msgs = st.one_of(
    io_msgs,
    st.builds(common.InitializationMsg, b, orig, ca, b,
              st.one_of(st.sampled_from(common.InitializationResCause),
                        st.integers(3, 127))),
    st.builds(common.InterrogationMsg, b, orig, ca, st.integers(0, 255), b,
              command_causes),
    st.builds(common.CounterInterrogationMsg, b, orig, ca,
              st.integers(0, 63), st.sampled_from(common.FreezeCode), b,
              command_causes),
    st.builds(common.ClockSyncMsg, b, orig, ca, times, b,
              causes(common.ClockSyncReqCause, common.ClockSyncResCause)),
    st.builds(common.TestMsg, b, orig, ca, cp16, times,
              causes(common.ActivationReqCause, common.ActivationResCause)),
    st.builds(common.ResetMsg, b, orig, ca, st.integers(0, 255),
              causes(common.ActivationReqCause, common.ActivationResCause)))
"""Every message type"""


@st.composite
def mutated_asdus(draw):
    """Valid encodings with octets changed, cut off or appended"""
    data = bytearray(codec.encode_asdu(draw(msgs)))
    for _ in range(draw(st.integers(0, 3))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(b):
        data = data[:draw(st.integers(0, len(data)))]
    else:
        data += draw(st.binary(max_size=20))
    return bytes(data)


@st.composite
def headed_asdus(draw):
    """A known TypeID and VSQ followed by arbitrary octets"""
    type_id = draw(st.sampled_from(sorted(codec._TYPE_NAMES)))
    return (bytes([type_id, draw(st.integers(0, 255))]) +
            draw(st.binary(max_size=250)))


# --- properties --------------------------------------------------------------

@property_timeout
@settings
@hypothesis.given(st.one_of(st.binary(max_size=260), mutated_asdus(),
                            headed_asdus()))
def test_decode_arbitrary_octets(data):
    try:
        result = codec.decode_asdu(data)

    except codec.AsduDecodeError as e:
        assert str(e)
        return

    assert isinstance(result, list)
    assert all(isinstance(msg, common.Msg.__args__) for msg in result)


@property_timeout
@settings
@hypothesis.given(msgs)
def test_roundtrip(msg):
    data = codec.encode_asdu(msg)
    assert data[1] == 0x01
    assert codec.decode_asdu(data) == [msg]
    assert codec.decode_asdu(bytearray(data)) == [msg]
    assert codec.decode_asdu(memoryview(data)) == [msg]


def _with_header(msg, first):
    """`msg` with the header fields (those in the data unit identifier) of
    `first`"""
    header = dict(is_test=first.is_test,
                  originator_address=first.originator_address,
                  asdu_address=first.asdu_address)
    if not isinstance(first, common.InitializationMsg):
        header['cause'] = first.cause
    if hasattr(first, 'is_negative_confirm'):
        header['is_negative_confirm'] = first.is_negative_confirm
    return msg._replace(**header)


@property_timeout
@settings
@hypothesis.given(st.lists(msgs, min_size=1, max_size=8),
                  st.integers(0, 3))
def test_roundtrip_several_objects_sq0(candidates, repeat):
    """SQ=0: N objects, each with its own IOA (IEC 60870-5-101 7.2.2)"""
    first = candidates[0]
    type_id = codec.encode_asdu(first)[0]
    group = [_with_header(msg, first) for msg in candidates
             if codec.encode_asdu(msg)[0] == type_id]
    group += [first] * repeat
    encoded = [codec.encode_asdu(msg) for msg in group]
    asdu = (bytes([type_id, len(group)]) + encoded[0][2:6] +
            b''.join(data[6:] for data in encoded))
    assert codec.decode_asdu(asdu) == group


@property_timeout
@settings
@hypothesis.given(io_msgs,
                  st.one_of(st.integers(1, 8), st.just(127)))
def test_roundtrip_several_elements_sq1(msg, count):
    """SQ=1: one IOA, N elements at IOA, IOA + 1, ... (IEC 60870-5-101
    7.2.2); time-tagged types carry a time with every element"""
    msg = msg._replace(io_address=min(msg.io_address, 0xFFFFFF - count + 1))
    data = codec.encode_asdu(msg)
    asdu = (data[:1] + bytes([0x80 | count]) + data[2:9] +
            data[9:] * count)
    assert codec.decode_asdu(asdu) == [
        msg._replace(io_address=msg.io_address + i) for i in range(count)]


# --- examples: octets by hand from IEC 60870-5-101 clause 7.3 ---------------

Q0 = common.MeasurementQuality(False, False, False, False, False)
IQ0 = common.IndicationQuality(False, False, False, False)
PQ0 = common.ProtectionQuality(False, False, False, False, False)

# 2024-05-17 (Friday) 13:45:30.250, summer time:
# ms 30250 = 0x762a, min 45 = 0x2d, SU|13 = 0x8d, dow 5 << 5 | 17 = 0xb1
TIME = common.Time(size=common.TimeSize.SEVEN, milliseconds=30250,
                   invalid=False, minutes=45, summer_time=True, hours=13,
                   day_of_week=5, day_of_month=17, months=5, years=24)
TIME_OCTETS = '2a762d8db10518'


def _data(ioa, data, cause=common.DataResCause.SPONTANEOUS, time=None,
          ca=1, orig=0, is_test=False):
    return common.DataMsg(is_test=is_test, originator_address=orig,
                          asdu_address=ca, io_address=ioa, data=data,
                          time=time, cause=cause)


def _command(ioa, command, cause=common.CommandReqCause.ACTIVATION,
             time=None, negative=False):
    return common.CommandMsg(is_test=False, originator_address=0,
                             asdu_address=1, io_address=ioa,
                             command=command, is_negative_confirm=negative,
                             time=time, cause=cause)


ONE_OBJECT_EXAMPLES = [
    # M_SP_NA_1, COT 3 spontaneous, CA 1, IOA 100, SIQ: IV | SPI on
    ('01 01 0300 0100 640000 81',
     _data(100, common.SingleData(
         common.SingleValue.ON,
         common.IndicationQuality(True, False, False, False)))),
    # M_DP_NA_1, T bit and originator 7, CA 0x1234, IOA 0x030201,
    # DIQ: BL | DPI off (1)
    ('03 01 8307 3412 010203 11',
     _data(0x030201, common.DoubleData(
         common.DoubleValue.OFF,
         common.IndicationQuality(False, False, False, True)),
         ca=0x1234, orig=7, is_test=True)),
    # M_ST_NA_1, COT 20 interrogated by station, VTI -3 transient, QDS SB
    ('05 01 1400 0100 0a0000 fd 20',
     _data(10, common.StepPositionData(
         common.StepPositionValue(-3, True),
         common.MeasurementQuality(False, False, True, False, False)),
         cause=common.DataResCause.INTERROGATED_STATION)),
    # M_BO_NA_1, BSI 01 02 03 04, QDS NT
    ('07 01 0300 0100 0b0000 01020304 40',
     _data(11, common.BitstringData(
         common.BitstringValue(b'\x01\x02\x03\x04'),
         common.MeasurementQuality(False, True, False, False, False)))),
    # M_ME_NA_1, NVA 0x4000 (16384 / 32767), QDS OV
    ('09 01 0300 0100 0c0000 0040 01',
     _data(12, common.NormalizedData(
         common.NormalizedValue(16384 / 32767),
         common.MeasurementQuality(False, False, False, False, True)))),
    # M_ME_NB_1, COT 1 periodic, SVA -2
    ('0b 01 0100 0100 0d0000 feff 00',
     _data(13, common.ScaledData(common.ScaledValue(-2), Q0),
           cause=common.DataResCause.PERIODIC)),
    # M_ME_NC_1, float32 1.5 = 0x3fc00000
    ('0d 01 0300 0100 640000 0000c03f 00',
     _data(100, common.FloatingData(common.FloatingValue(1.5), Q0))),
    # M_IT_NA_1, COT 37 counter interrogation, 100000 = 0x000186a0,
    # BCR octet 5: CA | sequence 3
    ('0f 01 2500 0100 0e0000 a0860100 43',
     _data(14, common.BinaryCounterData(
         common.BinaryCounterValue(100000),
         common.CounterQuality(False, True, False, 3)),
         cause=common.DataResCause.INTERROGATED_COUNTER)),
    # M_PS_NA_1, SCD status 0x0005 (bits 0, 2), change 0x8000 (bit 15)
    ('14 01 0300 0100 0f0000 0500 0080 00',
     _data(15, common.StatusData(
         common.StatusValue(
             [i in (0, 2) for i in range(16)],
             [i == 15 for i in range(16)]), Q0))),
    # M_ME_ND_1, NVA -32768
    ('15 01 0300 0100 100000 0080',
     _data(16, common.NormalizedData(
         common.NormalizedValue(-32768 / 32767), None))),
    # M_SP_TB_1 with CP56Time2a
    ('1e 01 0300 0100 110000 01' + TIME_OCTETS,
     _data(17, common.SingleData(common.SingleValue.ON, IQ0), time=TIME)),
    # M_ME_TF_1: float32 -2.5 = 0xc0200000, CP56Time2a
    ('24 01 0300 0100 120000 000020c0 00' + TIME_OCTETS,
     _data(18, common.FloatingData(common.FloatingValue(-2.5), Q0),
           time=TIME)),
    # M_EP_TD_1: SEP EI | ES on (2), CP16 500 ms = 0x01f4, CP56Time2a
    ('26 01 0300 0100 130000 0a f401' + TIME_OCTETS,
     _data(19, common.ProtectionData(
         common.ProtectionValue.ON,
         common.ProtectionQuality(False, False, False, False, True), 500),
         time=TIME)),
    # M_EP_TE_1: SPE GS | L2 | SRD, QDP IV, CP16 1000 ms = 0x03e8
    ('27 01 0300 0100 140000 25 80 e803' + TIME_OCTETS,
     _data(20, common.ProtectionStartData(
         common.ProtectionStartValue(True, False, True, False, False, True),
         common.ProtectionQuality(True, False, False, False, False), 1000),
         time=TIME)),
    # M_EP_TF_1: OCI L3, QDP 0, CP16 0
    ('28 01 0300 0100 150000 08 00 0000' + TIME_OCTETS,
     _data(21, common.ProtectionCommandData(
         common.ProtectionCommandValue(False, False, False, True), PQ0, 0),
         time=TIME)),
    # C_SC_NA_1, COT 6 activation, SCO: S/E select | SCS on
    ('2d 01 0600 0100 a00f00 81',
     _command(4000, common.SingleCommand(common.SingleValue.ON, True, 0))),
    # C_DC_NA_1, COT 0x47: P/N negative | 7 activation confirmation,
    # DCO: QU 1 (short pulse) << 2 | DCS off (1)
    ('2e 01 4700 0100 a10f00 05',
     _command(4001, common.DoubleCommand(common.DoubleValue.OFF, False, 1),
              cause=common.CommandResCause.ACTIVATION_CONFIRMATION,
              negative=True)),
    # C_RC_NA_1, COT 10 activation termination, RCO: QU 2 << 2 | higher
    ('2f 01 0a00 0100 a20f00 0a',
     _command(4002, common.RegulatingCommand(common.RegulatingValue.HIGHER,
                                             False, 2),
              cause=common.CommandResCause.ACTIVATION_TERMINATION)),
    # C_SE_NB_1, SVA 300 = 0x012c, QOS select (QL 0)
    ('31 01 0600 0100 a30f00 2c01 80',
     _command(4003, common.ScaledCommand(common.ScaledValue(300), True))),
    # C_SE_NC_1, float32 -2.5, QOS execute
    ('32 01 0800 0100 a40f00 000020c0 00',
     _command(4004, common.FloatingCommand(common.FloatingValue(-2.5),
                                           False),
              cause=common.CommandReqCause.DEACTIVATION)),
    # C_BO_NA_1, BSI
    ('33 01 0600 0100 a50f00 deadbeef',
     _command(4005, common.BitstringCommand(
         common.BitstringValue(b'\xde\xad\xbe\xef')))),
    # C_SC_TA_1 with CP56Time2a
    ('3a 01 0600 0100 a60f00 00' + TIME_OCTETS,
     _command(4006, common.SingleCommand(common.SingleValue.OFF, False, 0),
              time=TIME)),
    # M_EI_NA_1, COT 4 initialized, COI: param change | remote reset
    ('46 01 0400 0100 000000 82',
     common.InitializationMsg(False, 0, 1, True,
                              common.InitializationResCause.REMOTE_RESET)),
    # C_IC_NA_1, QOI 20 station interrogation
    ('64 01 0600 0100 000000 14',
     common.InterrogationMsg(False, 0, 1, 20, False,
                             common.CommandReqCause.ACTIVATION)),
    # C_CI_NA_1, QCC: FRZ freeze (1) << 6 | RQT 5 general
    ('65 01 0700 0100 000000 45',
     common.CounterInterrogationMsg(
         False, 0, 1, 5, common.FreezeCode.FREEZE, False,
         common.CommandResCause.ACTIVATION_CONFIRMATION)),
    # C_RD_NA_1, COT 5 request, IOA 100, no element
    ('66 01 0500 0100 640000',
     common.ReadMsg(False, 0, 1, 100, common.ReadReqCause.REQUEST)),
    # C_CS_NA_1, CP56Time2a is the element
    ('67 01 0600 0100 000000' + TIME_OCTETS,
     common.ClockSyncMsg(False, 0, 1, TIME, False,
                         common.ClockSyncReqCause.ACTIVATION)),
    # C_RP_NA_1, QRP 1 general reset
    ('69 01 0600 0100 000000 01',
     common.ResetMsg(False, 0, 1, 1, common.ActivationReqCause.ACTIVATION)),
    # C_TS_TA_1, TSC 0x1234, CP56Time2a
    ('6b 01 0600 0100 000000 3412' + TIME_OCTETS,
     common.TestMsg(False, 0, 1, 0x1234, TIME,
                    common.ActivationReqCause.ACTIVATION)),
    # P_ME_NB_1, SVA 300, QPM 1 (threshold)
    ('6f 01 0600 0100 c80000 2c01 01',
     common.ParameterMsg(False, 0, 1, 200,
                         common.ScaledParameter(common.ScaledValue(300), 1),
                         common.ParameterReqCause.ACTIVATION)),
    # P_ME_NC_1, float32 1.5, QPM 0x41 (LPC | threshold), COT 20
    ('70 01 1400 0100 c90000 0000c03f 41',
     common.ParameterMsg(False, 0, 1, 201,
                         common.FloatingParameter(common.FloatingValue(1.5),
                                                  0x41),
                         common.ParameterResCause.INTERROGATED_STATION)),
    # P_AC_NA_1, QPA 3, COT 8 deactivation
    ('71 01 0800 0100 ca0000 03',
     common.ParameterActivationMsg(
         False, 0, 1, 202, 3,
         common.ParameterActivationReqCause.DEACTIVATION)),
]


@pytest.mark.parametrize('octets, msg', ONE_OBJECT_EXAMPLES)
def test_example_decode(octets, msg):
    assert codec.decode_asdu(bytes.fromhex(octets)) == [msg]


@pytest.mark.parametrize('octets, msg', ONE_OBJECT_EXAMPLES)
def test_example_encode(octets, msg):
    assert codec.encode_asdu(msg).hex() == octets.replace(' ', '')


def test_decode_sq0_several_objects():
    # M_ME_NB_1, SQ=0, 2 objects: IOA 1 SVA -2 QDS OV; IOA 2 SVA 1000 QDS IV
    data = bytes.fromhex('0b 02 0300 0100 010000 feff 01 020000 e803 80')
    assert codec.decode_asdu(data) == [
        _data(1, common.ScaledData(
            common.ScaledValue(-2),
            common.MeasurementQuality(False, False, False, False, True))),
        _data(2, common.ScaledData(
            common.ScaledValue(1000),
            common.MeasurementQuality(True, False, False, False, False)))]


def test_decode_sq1_several_elements():
    # M_SP_NA_1, SQ=1, 3 elements from IOA 10, COT 20
    data = bytes.fromhex('01 83 1400 0100 0a0000 01 00 01')
    values = [common.SingleValue.ON, common.SingleValue.OFF,
              common.SingleValue.ON]
    assert codec.decode_asdu(data) == [
        _data(10 + i, common.SingleData(value, IQ0),
              cause=common.DataResCause.INTERROGATED_STATION)
        for i, value in enumerate(values)]


def test_decode_sq1_time_tag_per_element():
    data = bytes.fromhex('1e 82 0300 0100 0a0000'
                         '01' + TIME_OCTETS + '00' + TIME_OCTETS)
    assert codec.decode_asdu(data) == [
        _data(10, common.SingleData(common.SingleValue.ON, IQ0), time=TIME),
        _data(11, common.SingleData(common.SingleValue.OFF, IQ0),
              time=TIME)]


def test_decode_zero_objects():
    assert codec.decode_asdu(bytes.fromhex('0d 00 0300 0100')) == []
    assert codec.decode_asdu(bytes.fromhex('0d 80 0300 0100')) == []


@pytest.mark.parametrize('octets, cause', [
    # data: only DataResCause, else int (COT 6 is no data cause)
    ('0d 01 0600 0100 640000 0000c03f 00', 6),
    # interrogation: CommandReqCause, then CommandResCause, then int
    ('64 01 0300 0100 000000 14', 3),
    ('64 01 0a00 0100 000000 14',
     common.CommandResCause.ACTIVATION_TERMINATION),
    # private range
    ('64 01 3f00 0100 000000 14', 63),
])
def test_decode_cause(octets, cause):
    msg, = codec.decode_asdu(bytes.fromhex(octets))
    assert msg.cause == cause
    assert type(msg.cause) is type(cause)


def test_decode_ignores_pn_and_ioa_where_message_has_none():
    # M_SP_NA_1 with P/N set: DataMsg has no is_negative_confirm
    msg, = codec.decode_asdu(bytes.fromhex('01 01 4300 0100 640000 01'))
    assert msg == _data(100, common.SingleData(common.SingleValue.ON, IQ0))
    # C_IC_NA_1 with IOA 5: InterrogationMsg has no io_address
    msg, = codec.decode_asdu(bytes.fromhex('64 01 0600 0100 050000 14'))
    assert msg.request == 20


def test_decode_initialization_cause_from_coi():
    # COT on the wire ignored, cause from COI (private value 100)
    msg, = codec.decode_asdu(bytes.fromhex('46 01 0300 0100 000000 64'))
    assert msg == common.InitializationMsg(False, 0, 1, False, 100)


def test_decode_time_reserved_bits_ignored():
    # reserved bits set: minutes bit 6, hours bits 5-6, months bits 4-7,
    # years bit 7
    time = bytes.fromhex('2a76' '6d' 'ed' 'b1' 'f5' '98')
    msg, = codec.decode_asdu(bytes.fromhex('67 01 0600 0100 000000') + time)
    assert msg.time == TIME


@pytest.mark.parametrize('octets, problem', [
    ('', 'shorter'),
    ('01 01 0300 01', 'shorter'),
    ('00 01 0300 0100 640000 01', 'unknown TypeID 0'),
    ('c8 01 0300 0100 640000 01', 'unknown TypeID 200'),
    ('02 01 0300 0100 640000 01 000000', 'M_SP_TA_1'),
    ('68 01 0600 0100 000000 aa55', 'C_TS_NA_1'),
    ('6a 01 0600 0100 000000 0000', 'C_CD_NA_1'),
    ('78 01 0d00 0100 000000 0000', 'F_FR_NA_1'),
    ('01 01 0300 0100 640000', 'wrong length'),
    ('01 01 0300 0100 640000 01 00', 'wrong length'),
    ('01 02 0300 0100 640000 01', 'wrong length'),
    ('01 81 0300 0100 640000', 'wrong length'),
    ('1e 01 0300 0100 640000 01 2a762d8db105', 'wrong length'),
    ('01 01 0000 0100 640000 01', 'cause of transmission 0'),
    ('01 01 4000 0100 640000 01', 'cause of transmission 0'),
    ('2f 01 0600 0100 640000 00', 'RCO state 0'),
    ('2f 01 0600 0100 640000 03', 'RCO state 3'),
    ('26 01 0300 0100 640000 03 0000' + TIME_OCTETS, 'SEP event state 3'),
    ('26 01 0300 0100 640000 00 0000' + TIME_OCTETS, 'SEP event state 0'),
    ('01 82 0300 0100 ffffff 01 01', 'IOA'),
])
def test_decode_error(octets, problem):
    with pytest.raises(codec.AsduDecodeError, match=problem):
        codec.decode_asdu(bytes.fromhex(octets))


@pytest.mark.parametrize('data', [None, 5, 'abc', [1, 1, 3, 0, 1, 0]])
def test_decode_not_bytes(data):
    with pytest.raises(codec.AsduDecodeError, match='must be bytes'):
        codec.decode_asdu(data)


def test_decode_error_is_value_error():
    assert issubclass(codec.AsduDecodeError, ValueError)


# --- encoding errors ---------------------------------------------------------

FLOAT = common.FloatingData(common.FloatingValue(1.0), Q0)


@pytest.mark.parametrize('msg, exc, match', [
    (object(), ValueError, 'unsupported message'),
    (_data(1, common.NormalizedData(common.NormalizedValue(0.5), None),
           time=TIME), ValueError, 'unsupported data'),
    (_data(1, common.StatusData(common.StatusValue([False] * 16,
                                                   [False] * 16), Q0),
           time=TIME), ValueError, 'unsupported data'),
    (_data(1, common.ProtectionData(common.ProtectionValue.ON, PQ0, 0)),
     ValueError, 'unsupported data'),
    (_data(1, FLOAT, time=TIME._replace(size=common.TimeSize.FOUR)),
     ValueError, 'unsupported time size'),
    (_data(1, common.SingleData(common.SingleValue.ON, None)),
     ValueError, 'unsupported quality'),
    (_data(0x1000000, FLOAT), ValueError, 'io_address'),
    (_data(-1, FLOAT), ValueError, 'io_address'),
    (_data(1, FLOAT, ca=0x10000), ValueError, 'asdu_address'),
    (_data(1, FLOAT, orig=256), ValueError, 'originator_address'),
    (_data(1, FLOAT, cause=0), ValueError, 'cause'),
    (_data(1, FLOAT, cause=64), ValueError, 'cause'),
    (_data(1, FLOAT, cause='spontaneous'), TypeError, 'cause'),
    (_data('1', FLOAT), TypeError, 'io_address'),
    (_data(1, common.ScaledData(common.ScaledValue(32768), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.NormalizedData(common.NormalizedValue(1.1), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.NormalizedData(common.NormalizedValue(math.nan), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.FloatingData(common.FloatingValue(1e300), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.StepPositionData(common.StepPositionValue(64, False),
                                      Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.BitstringData(common.BitstringValue(b'123'), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.SingleData(1, IQ0)), TypeError, 'data.value'),
    (_data(1, common.BinaryCounterData(
        common.BinaryCounterValue(0),
        common.CounterQuality(False, False, False, 32))),
     ValueError, 'data.quality.sequence'),
    (_data(1, common.ProtectionData(common.ProtectionValue.ON, PQ0, 65536),
           time=TIME), ValueError, 'data.elapsed_time'),
    (_data(1, FLOAT, time=TIME._replace(minutes=60)),
     ValueError, 'time.minutes'),
    (_data(1, FLOAT, time=TIME._replace(milliseconds=60000)),
     ValueError, 'time.milliseconds'),
    (_data(1, FLOAT, time=TIME._replace(months=None)),
     TypeError, 'time.months'),
    (_command(1, common.SingleCommand(common.SingleValue.ON, False, 32)),
     ValueError, 'command.qualifier'),
    (_command(1, object()), TypeError, 'command'),
    (common.CounterInterrogationMsg(False, 0, 1, 64, common.FreezeCode.READ,
                                    False, 6),
     ValueError, 'request'),
    (common.InitializationMsg(False, 0, 1, False, 128), ValueError, 'cause'),
    (common.TestMsg(False, 0, 1, 65536, TIME, 6), ValueError, 'counter'),
    (common.ResetMsg(False, 0, 1, 256, 6), ValueError, 'qualifier'),
])
def test_encode_error(msg, exc, match):
    with pytest.raises(exc, match=match):
        codec.encode_asdu(msg)


def test_encode_cause_any_enum_or_int():
    # as 0.6.23: the enum's value is written, whatever its family
    data = codec.encode_asdu(_data(1, FLOAT,
                                   cause=common.CommandReqCause.ACTIVATION))
    assert data[2] == 6
    assert codec.encode_asdu(_data(1, FLOAT, cause=44))[2] == 44


def test_encode_initialization_cot_4():
    data = codec.encode_asdu(common.InitializationMsg(
        False, 0, 1, False, common.InitializationResCause.LOCAL_POWER))
    assert data.hex() == '460104000100000000' + '00'


def test_encode_normalized_rounding():
    # 0.5 * 32767 = 16383.5 rounds to 16384 (0x4000)
    data = codec.encode_asdu(_data(1, common.NormalizedData(
        common.NormalizedValue(0.5), None)))
    assert data[-2:] == b'\x00\x40'
    assert struct.unpack('<h', data[-2:])[0] == 16384


# --- public names and time conversion ----------------------------------------

EXPECTED_ALL = {
    'Bytes', 'OriginatorAddress', 'AsduAddress', 'IoAddress', 'OtherCause',
    'TimeSize', 'Time', 'IndicationQuality', 'MeasurementQuality',
    'CounterQuality', 'ProtectionQuality', 'Quality', 'FreezeCode',
    'SingleValue', 'DoubleValue', 'RegulatingValue', 'StepPositionValue',
    'BitstringValue', 'NormalizedValue', 'ScaledValue', 'FloatingValue',
    'BinaryCounterValue', 'ProtectionValue', 'ProtectionStartValue',
    'ProtectionCommandValue', 'StatusValue', 'DataResCause', 'DataCause',
    'CommandReqCause', 'CommandResCause', 'CommandCause',
    'InitializationResCause', 'InitializationCause', 'ReadReqCause',
    'ReadResCause', 'ReadCause', 'ClockSyncReqCause', 'ClockSyncResCause',
    'ClockSyncCause', 'ActivationReqCause', 'ActivationResCause',
    'ActivationCause', 'DelayReqCause', 'DelayResCause', 'DelayCause',
    'ParameterReqCause', 'ParameterResCause', 'ParameterCause',
    'ParameterActivationReqCause', 'ParameterActivationResCause',
    'ParameterActivationCause', 'SingleData', 'DoubleData',
    'StepPositionData', 'BitstringData', 'NormalizedData', 'ScaledData',
    'FloatingData', 'BinaryCounterData', 'ProtectionData',
    'ProtectionStartData', 'ProtectionCommandData', 'StatusData', 'Data',
    'SingleCommand', 'DoubleCommand', 'RegulatingCommand',
    'NormalizedCommand', 'ScaledCommand', 'FloatingCommand',
    'BitstringCommand', 'Command', 'NormalizedParameter', 'ScaledParameter',
    'FloatingParameter', 'Parameter', 'DataMsg', 'CommandMsg',
    'InitializationMsg', 'InterrogationMsg', 'CounterInterrogationMsg',
    'ReadMsg', 'ClockSyncMsg', 'TestMsg', 'ResetMsg', 'ParameterMsg',
    'ParameterActivationMsg', 'Msg', 'Function', 'time_from_datetime',
    'time_to_datetime', 'connect', 'listen', 'Server', 'Connection',
    'ConnectionCb'}


def test_all_names():
    assert len(EXPECTED_ALL) == 96
    assert len(iec104.__all__) == 96
    assert set(iec104.__all__) == EXPECTED_ALL
    for name in iec104.__all__:
        assert hasattr(iec104, name), name


@pytest.mark.parametrize('cls, fields', [
    (common.Time, ['size', 'milliseconds', 'invalid', 'minutes',
                   'summer_time', 'hours', 'day_of_week', 'day_of_month',
                   'months', 'years']),
    (common.DataMsg, ['is_test', 'originator_address', 'asdu_address',
                      'io_address', 'data', 'time', 'cause']),
    (common.CommandMsg, ['is_test', 'originator_address', 'asdu_address',
                         'io_address', 'command', 'is_negative_confirm',
                         'time', 'cause']),
    (common.CounterInterrogationMsg, ['is_test', 'originator_address',
                                      'asdu_address', 'request', 'freeze',
                                      'is_negative_confirm', 'cause']),
    (common.TestMsg, ['is_test', 'originator_address', 'asdu_address',
                      'counter', 'time', 'cause']),
    (common.CounterQuality, ['invalid', 'adjusted', 'overflow', 'sequence']),
    (common.ProtectionStartValue, ['general', 'l1', 'l2', 'l3', 'ie',
                                   'reverse']),
])
def test_fields(cls, fields):
    assert list(cls._fields) == fields
    assert cls._field_defaults == {}


def test_no_defaults_anywhere():
    for name in iec104.__all__:
        obj = getattr(iec104, name)
        if isinstance(obj, type) and issubclass(obj, tuple):
            assert obj._field_defaults == {}, name


def test_enum_values():
    assert iec104.Function.DATA.value == ('data',)
    assert iec104.Function.COMMAND.value == 'command'
    assert [m.name for m in iec104.Function][-1] == 'PARAMETER_ACTIVATION'
    assert iec104.DoubleValue.FAULT.value == 3
    assert iec104.DataResCause.INTERROGATED_COUNTER04.value == 41
    assert iec104.ParameterResCause.INTERROGATED_GROUP16.value == 36
    assert iec104.InitializationResCause.REMOTE_RESET.value == 2
    assert iec104.TimeSize.SEVEN.value == 7
    assert iec104.Msg.__args__[0] is iec104.DataMsg
    assert iec104.Msg.__args__[-1] is iec104.ParameterActivationMsg
    assert len(iec104.Msg.__args__) == 11


def test_time_from_datetime_local_fields():
    dt = datetime.datetime(2024, 5, 17, 13, 45, 30, 250400)
    t = iec104.time_from_datetime(dt)
    assert t._replace(summer_time=None) == TIME._replace(summer_time=None)
    assert t.invalid is False
    assert iec104.time_from_datetime(dt, True).invalid is True


def test_time_from_datetime_rounds_to_millisecond():
    dt = datetime.datetime(2024, 5, 17, 13, 45, 59, 999600)
    t = iec104.time_from_datetime(dt)
    assert (t.minutes, t.milliseconds) == (46, 0)


def test_time_roundtrip_utc():
    dt = datetime.datetime(2024, 1, 2, 3, 4, 5, 678000,
                           tzinfo=datetime.timezone.utc)
    assert iec104.time_to_datetime(iec104.time_from_datetime(dt)) == dt
    result = iec104.time_to_datetime(iec104.time_from_datetime(dt))
    assert result.tzinfo == datetime.timezone.utc


def test_time_to_datetime_rejects_other_sizes():
    with pytest.raises(ValueError, match='unsupported time size'):
        iec104.time_to_datetime(TIME._replace(size=common.TimeSize.FOUR))


# --- field types: one check for every bool, int and number field ----------

def _leaves(value, path=()):
    """(path, value) of every bool / int / float leaf of a message"""
    if isinstance(value, tuple) and hasattr(value, '_fields'):
        for field, v in zip(value._fields, value, strict=True):
            yield from _leaves(v, (*path, field))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path[:-1], f'{path[-1]}[{i}]'))
    elif isinstance(value, (bool, int, float)):
        yield path, value


def _replace(value, path, new):
    head, *rest = path
    if '[' in head:
        field, index = head[:-1].split('[')
        items = list(getattr(value, field))
        items[int(index)] = new
        return value._replace(**{field: items})
    if not rest:
        return value._replace(**{head: new})
    return value._replace(**{head: _replace(getattr(value, head), rest,
                                            new)})


@property_timeout
@settings
@hypothesis.given(msgs, st.data())
def test_encode_field_wrong_type_named(msg, data):
    # a bool field given anything but bool, an int or float field given
    # a bool: TypeError naming the field (never accepted by truthiness)
    leaves = list(_leaves(msg))
    path, value = data.draw(st.sampled_from(leaves))
    if isinstance(value, bool):
        wrong = data.draw(st.sampled_from([0, 1, 'no', None, 1.0]))
    else:
        wrong = data.draw(st.booleans())
    name = '.'.join(path)
    with pytest.raises(TypeError, match=name.replace('[', r'\[')
                       .replace(']', r'\]')):
        codec.encode_asdu(_replace(msg, path, wrong))


@pytest.mark.parametrize('msg, exc, match', [
    (_data(1, common.FloatingData(common.FloatingValue(10**400), Q0)),
     ValueError, 'data.value.value: int of 1329 bits out of float range'),
    (_data(1, common.FloatingData(common.FloatingValue(10**5000), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.FloatingData(common.FloatingValue(True), Q0)),
     TypeError, 'data.value.value'),
    (_data(1, common.NormalizedData(common.NormalizedValue(10**400), Q0)),
     ValueError, 'data.value.value'),
    (_data(1, common.NormalizedData(common.NormalizedValue(-10**400), Q0)),
     ValueError, 'data.value.value'),
    (_command(1, common.FloatingCommand(common.FloatingValue(10**400),
                                        False)),
     ValueError, 'command.value.value'),
    (_data(10**400, FLOAT), ValueError, 'io_address: int of 1329 bits'),
    (_data(True, FLOAT), TypeError, 'io_address'),
    (_data(1, FLOAT, cause=True), TypeError, 'cause'),
    (_data(1, FLOAT)._replace(is_test='no'), TypeError, 'is_test'),
    (_data(1, FLOAT, time=TIME._replace(size='SEVEN')),
     TypeError, 'time.size'),
    (_data(1, FLOAT, time=TIME._replace(size=7)), TypeError, 'time.size'),
    (_data(1, FLOAT, time=TIME._replace(invalid=1)),
     TypeError, 'time.invalid'),
    (_command(1, common.SingleCommand(common.SingleValue.ON, 'yes', 0)),
     TypeError, 'command.select'),
    (common.InitializationMsg(False, 0, 1, 0, 4), TypeError,
     'param_change'),
])
def test_encode_error_types_and_huge(msg, exc, match):
    with pytest.raises(exc, match=match):
        codec.encode_asdu(msg)


def test_encode_float_int_exact():
    # an int that has a float is accepted (as 0.6.23 did)
    msg = _data(1, common.FloatingData(common.FloatingValue(2), Q0))
    assert codec.decode_asdu(codec.encode_asdu(msg))[0].data.value.value == 2
