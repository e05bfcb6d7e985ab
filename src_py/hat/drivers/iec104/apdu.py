"""IEC 60870-5-104 APDU framing (APCI): pure functions, no I/O.

An APDU (IEC 60870-5-104 clause 5) is the start octet 0x68,
the length of the APDU (the octets after the length octet: 4 control
octets plus the ASDU, so 4..253) and four control octets, followed in the
I format by an ASDU of at most 249 octets. The control field has three
formats (clause 5):

* I format (numbered information transfer): bit 0 of octet 1 is 0; octets
  1-2 hold the send sequence number N(S) and octets 3-4 the receive
  sequence number N(R), each 15 bits shifted left by one bit, least
  significant octet first.
* S format (numbered supervisory functions): octets ``01 00`` followed by
  N(R) as in the I format.
* U format (unnumbered control functions): octet 1 holds ``0x03`` and
  exactly one of the function bits STARTDT, STOPDT, TESTFR (act or con);
  octets 2-4 are 0 (see `UFunction`).

Sequence numbers are counted modulo 32768 (`SN_MODULO`, clause 5.1).
The procedures that use these frames (acknowledgement, k and w, timers,
STARTDT/STOPDT/TESTFR) are in `hat.drivers.iec104.link`.

Decoding is strict: anything not described above (a start octet other than
0x68, a length below 4 or above 253, an S or U frame that is not 4 octets
long, reserved control bits set, an unknown U function) raises `ApduError`.
Every APDU that decodes encodes back to the same octets.

Example:

    data = encode_apdu(IFrame(send_sn=0, receive_sn=0, asdu=asdu))
    result = decode_apdu(data)
    if result is not None:
        frame, next_offset = result

"""

import enum
import typing


START: int = 0x68
"""Start octet of every APDU (clause 5)"""

MIN_LENGTH: int = 4
"""Smallest value of the APDU length octet (control field only)"""

MAX_LENGTH: int = 253
"""Largest value of the APDU length octet (clause 5)"""

MAX_ASDU_SIZE: int = MAX_LENGTH - 4
"""Largest ASDU carried by an I-format APDU (249 octets)"""

SN_MODULO: int = 32768
"""Sequence numbers N(S) and N(R) are counted modulo 2**15"""


class UFunction(enum.Enum):
    """U-format function: octet 1 of the control field (clause 5; used
    by the test procedure of clause 5.2 and the start/stop procedure of
    clause 5.3)"""
    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


class IFrame(typing.NamedTuple):
    """I-format APDU: numbered information transfer (clause 5)"""
    send_sn: int
    """N(S): send sequence number, 0..32767"""
    receive_sn: int
    """N(R): receive sequence number, 0..32767"""
    asdu: bytes
    """ASDU, 0..249 octets"""


class SFrame(typing.NamedTuple):
    """S-format APDU: numbered supervisory function (clause 5)"""
    receive_sn: int
    """N(R): receive sequence number, 0..32767"""


class UFrame(typing.NamedTuple):
    """U-format APDU: unnumbered control function (clause 5)"""
    function: UFunction


Frame: typing.TypeAlias = IFrame | SFrame | UFrame
"""Any APDU"""


class ApduError(ValueError):
    """Malformed APDU received.

    The message names the cause and ends with the offending octets as hex.

    Attributes:
        cause: what is wrong, without the octets
        data: the offending octets (the frame, as far as it was received)

    """

    def __init__(self, cause: str, data: bytes):
        super().__init__(f'{cause}: {data.hex(" ") or "(no data)"}')
        self.cause = cause
        self.data = data


_U_FUNCTIONS: dict[int, UFunction] = {f.value: f for f in UFunction}

_U_FRAMES: dict[UFunction, UFrame] = {f: UFrame(f) for f in UFunction}

_U_APDUS: dict[UFunction, bytes] = {
    f: bytes((START, 4, f.value, 0, 0, 0)) for f in UFunction}


def encode_apdu(frame: Frame) -> bytes:
    """Encode an APDU.

    Args:
        frame: I, S or U format frame

    Returns:
        the APDU octets (6..255 octets)

    Raises:
        TypeError: `frame` is not an IFrame, SFrame or UFrame, or a field
            has the wrong type
        ValueError: a sequence number is outside 0..32767 or the ASDU is
            longer than 249 octets

    """
    if isinstance(frame, IFrame):
        send_sn = _check_sn(frame.send_sn, 'send_sn')
        receive_sn = _check_sn(frame.receive_sn, 'receive_sn')
        asdu = frame.asdu
        if not isinstance(asdu, (bytes, bytearray, memoryview)):
            raise TypeError(f'asdu must be bytes, not {type(asdu).__name__}')
        size = len(asdu)
        if size > MAX_ASDU_SIZE:
            raise ValueError(f'asdu is {size} octets long: at most '
                             f'{MAX_ASDU_SIZE} fit in an APDU')
        return bytes((START, size + 4,
                      (send_sn << 1) & 0xFF, send_sn >> 7,
                      (receive_sn << 1) & 0xFF, receive_sn >> 7)) + asdu

    if isinstance(frame, SFrame):
        receive_sn = _check_sn(frame.receive_sn, 'receive_sn')
        return bytes((START, 4, 0x01, 0x00,
                      (receive_sn << 1) & 0xFF, receive_sn >> 7))

    if isinstance(frame, UFrame):
        if not isinstance(frame.function, UFunction):
            raise TypeError(f'function must be a UFunction, not '
                            f'{type(frame.function).__name__}')
        return _U_APDUS[frame.function]

    raise TypeError(f'frame must be IFrame, SFrame or UFrame, not '
                    f'{type(frame).__name__}')


def decode_apdu(data: bytes | bytearray | memoryview,
                offset: int = 0
                ) -> tuple[Frame, int] | None:
    """Decode the APDU that starts at `offset` of a received byte stream.

    Args:
        data: received octets
        offset: index in `data` where the APDU starts

    Returns:
        ``(frame, next_offset)`` where `next_offset` is the index just after
        the APDU, or ``None`` if `data` does not yet hold the whole APDU
        (more octets are needed; nothing is wrong so far)

    Raises:
        ApduError: the octets at `offset` are not a valid APDU (start octet
            other than 0x68, length below 4 or above 253, S or U format
            frame longer than 4 octets, reserved control bits set, unknown
            U function); its message gives the frame as hex

    """
    size = len(data)
    if size - offset < 2:
        if size > offset and data[offset] != START:
            raise ApduError(f'start octet 0x{data[offset]:02x} is not 0x68',
                            bytes(data[offset:offset + 1]))
        return None

    start = data[offset]
    length = data[offset + 1]
    if start != START:
        raise ApduError(f'start octet 0x{start:02x} is not 0x68',
                        bytes(data[offset:offset + 2 + length]))
    if length < MIN_LENGTH:
        raise ApduError(f'APDU length {length} is below {MIN_LENGTH}',
                        bytes(data[offset:offset + 2 + length]))
    if length > MAX_LENGTH:
        raise ApduError(f'APDU length {length} is above {MAX_LENGTH}',
                        bytes(data[offset:offset + 2 + length]))

    end = offset + 2 + length
    if end > size:
        return None

    c1 = data[offset + 2]
    if not c1 & 0x01:
        c3 = data[offset + 4]
        if c3 & 0x01:
            raise ApduError('I-format APDU with bit 0 of control octet 3 '
                            'set', bytes(data[offset:end]))
        frame: Frame = IFrame((c1 >> 1) | (data[offset + 3] << 7),
                              (c3 >> 1) | (data[offset + 5] << 7),
                              bytes(data[offset + 6:end]))
        return frame, end

    if length != 4:
        kind = 'S' if c1 == 0x01 else 'U'
        raise ApduError(f'{kind}-format APDU of length {length} (must be 4)',
                        bytes(data[offset:end]))

    if c1 == 0x01:
        c3 = data[offset + 4]
        if data[offset + 3] or c3 & 0x01:
            raise ApduError('S-format APDU with reserved control bits set',
                            bytes(data[offset:end]))
        return SFrame((c3 >> 1) | (data[offset + 5] << 7)), end

    function = _U_FUNCTIONS.get(c1)
    if function is None:
        if c1 & 0x03 == 0x03:
            cause = f'unknown U-format function 0x{c1:02x}'
        else:
            cause = f'bad control octet 1 0x{c1:02x}'
        raise ApduError(cause, bytes(data[offset:end]))
    if data[offset + 3] or data[offset + 4] or data[offset + 5]:
        raise ApduError('U-format APDU with control octets 2..4 not 0',
                        bytes(data[offset:end]))
    return _U_FRAMES[function], end


def _check_sn(sn: int, name: str) -> int:
    if not isinstance(sn, int) or isinstance(sn, bool):
        raise TypeError(f'{name} must be int, not {type(sn).__name__}')
    if not 0 <= sn < SN_MODULO:
        raise ValueError(f'{name} {sn} is outside 0..{SN_MODULO - 1}')
    return sn
