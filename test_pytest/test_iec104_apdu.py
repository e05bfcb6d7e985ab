"""Tests of hat.drivers.iec104.apdu: APCI framing (IEC 60870-5-104 clause 5).

Property tests run 2000 examples each; set the environment variable
``HAT_DRIVERS_IEC104_EXAMPLES`` (for example to 100000) for a longer run
(the same variable as the ASDU codec tests).

"""

import os

import hypothesis
import hypothesis.strategies as st
import pytest

from hat.drivers.iec104 import apdu


_EXAMPLES = int(os.environ.get('HAT_DRIVERS_IEC104_EXAMPLES', '2000'))

_settings = hypothesis.settings(max_examples=_EXAMPLES, deadline=None,
                                database=None)

sns = st.integers(0, apdu.SN_MODULO - 1)
frames = st.one_of(
    st.builds(apdu.IFrame, sns, sns, st.binary(max_size=apdu.MAX_ASDU_SIZE)),
    st.builds(apdu.SFrame, sns),
    st.builds(apdu.UFrame, st.sampled_from(apdu.UFunction)))


def decode_all(data):
    result = []
    offset = 0
    while True:
        decoded = apdu.decode_apdu(data, offset)
        if decoded is None:
            return result, offset
        frame, offset = decoded
        result.append(frame)


@pytest.mark.parametrize('frame, data', [
    (apdu.IFrame(0, 0, b'\x01'), '68 05 00 00 00 00 01'),
    (apdu.IFrame(1, 2, b''), '68 04 02 00 04 00'),
    (apdu.IFrame(32767, 128, b'ab'), '68 06 fe ff 00 01 61 62'),
    (apdu.SFrame(5), '68 04 01 00 0a 00'),
    (apdu.SFrame(32767), '68 04 01 00 fe ff'),
    (apdu.UFrame(apdu.UFunction.STARTDT_ACT), '68 04 07 00 00 00'),
    (apdu.UFrame(apdu.UFunction.STARTDT_CON), '68 04 0b 00 00 00'),
    (apdu.UFrame(apdu.UFunction.STOPDT_ACT), '68 04 13 00 00 00'),
    (apdu.UFrame(apdu.UFunction.STOPDT_CON), '68 04 23 00 00 00'),
    (apdu.UFrame(apdu.UFunction.TESTFR_ACT), '68 04 43 00 00 00'),
    (apdu.UFrame(apdu.UFunction.TESTFR_CON), '68 04 83 00 00 00'),
])
def test_known_octets(frame, data):
    data = bytes.fromhex(data)
    assert apdu.encode_apdu(frame) == data
    assert apdu.decode_apdu(data) == (frame, len(data))


def test_u_function_values():
    assert {f.name: f.value for f in apdu.UFunction} == {
        'STARTDT_ACT': 0x07, 'STARTDT_CON': 0x0B, 'STOPDT_ACT': 0x13,
        'STOPDT_CON': 0x23, 'TESTFR_ACT': 0x43, 'TESTFR_CON': 0x83}


def test_max_asdu():
    frame = apdu.IFrame(0, 0, bytes(249))
    data = apdu.encode_apdu(frame)
    assert len(data) == 255 and data[1] == 253
    assert apdu.decode_apdu(data) == (frame, 255)


@pytest.mark.parametrize('frame, exc, word', [
    (apdu.IFrame(0, 0, bytes(250)), ValueError, 'asdu'),
    (apdu.IFrame(32768, 0, b''), ValueError, 'send_sn'),
    (apdu.IFrame(0, -1, b''), ValueError, 'receive_sn'),
    (apdu.IFrame(0.0, 0, b''), TypeError, 'send_sn'),
    (apdu.IFrame(0, 0, 'text'), TypeError, 'asdu'),
    (apdu.SFrame(32768), ValueError, 'receive_sn'),
    (apdu.UFrame(0x07), TypeError, 'function'),
    ((1, 2, 3), TypeError, 'frame'),
])
def test_encode_invalid(frame, exc, word):
    with pytest.raises(exc, match=word):
        apdu.encode_apdu(frame)


@pytest.mark.parametrize('data', ['', '68', '68 04', '68 04 01 00 00',
                                  '68 06 00 00 00 00 01'])
def test_incomplete(data):
    assert apdu.decode_apdu(bytes.fromhex(data)) is None


def test_offset():
    data = (apdu.encode_apdu(apdu.SFrame(1)) +
            apdu.encode_apdu(apdu.IFrame(2, 3, b'xyz')) + b'\x68')
    frames, offset = decode_all(data)
    assert frames == [apdu.SFrame(1), apdu.IFrame(2, 3, b'xyz')]
    assert offset == len(data) - 1


@pytest.mark.parametrize('data, cause', [
    ('69', 'start octet 0x69 is not 0x68'),
    ('00 04 01 00 00 00', 'start octet 0x00 is not 0x68'),
    ('68 03 01 00 00', 'APDU length 3 is below 4'),
    ('68 00', 'APDU length 0 is below 4'),
    ('68 fe' + ' 00' * 254, 'APDU length 254 is above 253'),
    ('68 ff', 'APDU length 255 is above 253'),
    ('68 04 03 00 00 00', 'unknown U-format function 0x03'),
    ('68 04 0f 00 00 00', 'unknown U-format function 0x0f'),
    ('68 04 c3 00 00 00', 'unknown U-format function 0xc3'),
    ('68 04 07 00 00 01', 'U-format APDU with control octets 2..4 not 0'),
    ('68 05 07 00 00 00 00', 'U-format APDU of length 5 (must be 4)'),
    ('68 05 01 00 00 00 00', 'S-format APDU of length 5 (must be 4)'),
    ('68 04 01 01 00 00', 'S-format APDU with reserved control bits set'),
    ('68 04 01 00 01 00', 'S-format APDU with reserved control bits set'),
    ('68 04 05 00 00 00', 'bad control octet 1 0x05'),
    ('68 05 00 00 01 00 00', 'I-format APDU with bit 0 of control octet 3'),
])
def test_decode_invalid(data, cause):
    data = bytes.fromhex(data)
    with pytest.raises(apdu.ApduError) as e:
        apdu.decode_apdu(data)
    assert str(e.value).startswith(cause)
    assert isinstance(e.value, ValueError)
    # the frame as hex ends the message
    assert e.value.data == data[:len(e.value.data)]
    assert str(e.value).endswith(e.value.data.hex(' '))
    assert e.value.cause == cause or e.value.cause.startswith(cause)


@_settings
@hypothesis.given(frames)
def test_round_trip(frame):
    data = apdu.encode_apdu(frame)
    assert 6 <= len(data) <= 255
    assert data[0] == 0x68 and data[1] == len(data) - 2
    assert apdu.decode_apdu(data) == (frame, len(data))
    # a prefix is never enough, never an error
    assert apdu.decode_apdu(data[:-1]) is None


@_settings
@hypothesis.given(st.lists(frames, max_size=20), st.data())
def test_stream_round_trip(frame_list, data):
    stream = b''.join(apdu.encode_apdu(f) for f in frame_list)
    cut = data.draw(st.integers(0, len(stream)))
    first, offset = decode_all(stream[:cut])
    rest, end = decode_all(stream[offset:])
    assert first + rest == frame_list
    assert offset + end == len(stream)


# arbitrary octets, half of them starting like an APDU
streams = st.one_of(
    st.binary(max_size=600),
    st.builds(lambda length, rest: bytes([0x68, length]) + rest,
              st.integers(0, 255), st.binary(max_size=300)))


@_settings
@hypothesis.given(streams, st.integers(0, 10))
def test_arbitrary_bytes(data, offset):
    # frames or ApduError, nothing else; a frame re-encodes to its octets
    try:
        result = apdu.decode_apdu(data, offset)
    except apdu.ApduError as e:
        assert e.data
        return
    if result is None:
        return
    frame, end = result
    assert apdu.encode_apdu(frame) == data[offset:end]


@_settings
@hypothesis.given(st.binary(min_size=6, max_size=6))
def test_arbitrary_header(data):
    # every 4-octet control field, with a valid header
    data = b'\x68\x04' + data[2:]
    try:
        frame, end = apdu.decode_apdu(data)
    except apdu.ApduError:
        return
    assert end == 6
    assert apdu.encode_apdu(frame) == data
