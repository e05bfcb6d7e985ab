"""COTP (ISO 8073 class 0 over RFC 1006): TPDU types and shared names.

The TPDUs of transport class 0 (ISO 8073 clause 13, the only class RFC
1006 uses) as NamedTuples: `CR` (connection request), `CC` (connection
confirm), `DR` (disconnect request), `DT` (data) and `ER` (TPDU error).
`hat.drivers.cotp.codec` turns them into octets and back.

References (``dst``, ``src``) are 16 bit integers. Transport selectors
(TSELs, "TSAP-IDs" in ISO 8073) are kept as the octets that are on the
wire (``bytes`` of any length, ``None`` when absent); `tsel_to_bytes` and
`tsel_from_bytes` convert the ``int`` form of the API (2 octets, big
endian: the IEC 61850 convention and hat-drivers 0.6.23's encoding).

"""

import enum
import typing

from hat import aio

from hat.drivers import tpkt


Address = tpkt.Address
"""Address of a COTP peer: `hat.drivers.tpkt.Address` (the same class;
port 102 by default)"""

Tsel: typing.TypeAlias = int | bytes
"""Transport selector as given to the API: an ``int`` (0 to 65535, sent as
2 octets big endian) or ``bytes`` of any length (sent as they are)"""


class ConnectionClosedError(ConnectionError, aio.QueueClosedError):
    """The connection is closed (locally, by the peer or after a protocol
    error): raised by ``read`` of `hat.drivers.cotp.Connection` and of the
    OSI layers built on it.

    It is a `ConnectionError`, the error class of every connection failure
    in this package, and a `hat.aio.QueueClosedError`, which ``read``
    raised after close in hat-drivers 0.6.23: code written for either
    catches it. The message says why the connection was closed.

    """


class TpduSize(enum.IntEnum):
    """TPDU sizes of the TPDU size parameter (code C0) of ISO 8073
    clause 13.3.4 b): value = parameter value, name = size in octets.
    Class 0 allows sizes up to 2048 octets."""
    SIZE_128 = 0x07
    SIZE_256 = 0x08
    SIZE_512 = 0x09
    SIZE_1024 = 0x0A
    SIZE_2048 = 0x0B
    SIZE_4096 = 0x0C
    SIZE_8192 = 0x0D


TPDU_SIZES: tuple[int, ...] = tuple(1 << i for i in range(7, 14))
"""TPDU sizes (octets) the TPDU size parameter can carry: 128 to 8192"""

DEFAULT_TPDU_SIZE: int = 128
"""TPDU size (octets) when a CR or CC carries no TPDU size parameter
(ISO 8073 clause 13.3.4 b)"""

CLASS0_MAX_TPDU_SIZE: int = 2048
"""Largest TPDU size (octets) of class 0 (ISO 8073 clause 14.5)"""


class DisconnectReason(enum.IntEnum):
    """Reason of a DR TPDU (ISO 8073 clause 13.5.3 e)"""
    NOT_SPECIFIED = 0x00
    CONGESTION_AT_TSAP = 0x01
    SESSION_ENTITY_NOT_ATTACHED = 0x02
    ADDRESS_UNKNOWN = 0x03
    NORMAL = 0x80
    REMOTE_CONGESTION = 0x81
    NEGOTIATION_FAILED = 0x82
    DUPLICATE_SOURCE_REFERENCE = 0x83
    MISMATCHED_REFERENCES = 0x84
    PROTOCOL_ERROR = 0x85
    REFERENCE_OVERFLOW = 0x87
    REFUSED_ON_THIS_NETWORK_CONNECTION = 0x88
    INVALID_LENGTH = 0x8A


class RejectCause(enum.IntEnum):
    """Reject cause of an ER TPDU (ISO 8073 clause 13.12.3 d)"""
    NOT_SPECIFIED = 0
    INVALID_PARAMETER_CODE = 1
    INVALID_TPDU_TYPE = 2
    INVALID_PARAMETER_VALUE = 3


class CR(typing.NamedTuple):
    """Connection request TPDU (ISO 8073 clause 13.3)

    ``cls``: preferred protocol class 0 to 4; ``alt_classes``: the
    alternative protocol classes (parameter C7, empty if absent);
    ``options``: the option bits of the class option octet (0 to 15);
    ``calling_tsel``/``called_tsel``: parameters C1/C2;
    ``tpdu_size``: proposed maximum TPDU size in octets (parameter C0, one
    of `TPDU_SIZES`, ``None`` if absent: 128 applies);
    ``pref_tpdu_size``: preferred maximum TPDU size in octets (parameter
    F0, a multiple of 128; not used by class 0).
    """
    src: int
    cls: int
    options: int
    alt_classes: tuple[int, ...]
    calling_tsel: bytes | None
    called_tsel: bytes | None
    tpdu_size: int | None
    pref_tpdu_size: int | None


class CC(typing.NamedTuple):
    """Connection confirm TPDU (ISO 8073 clause 13.4); fields as in `CR`,
    ``dst`` the CR's ``src``, ``cls`` the selected class"""
    dst: int
    src: int
    cls: int
    options: int
    calling_tsel: bytes | None
    called_tsel: bytes | None
    tpdu_size: int | None
    pref_tpdu_size: int | None


class DR(typing.NamedTuple):
    """Disconnect request TPDU (ISO 8073 clause 13.5); ``reason`` a
    `DisconnectReason` value (or another int 0 to 255),
    ``additional_info`` parameter E0"""
    dst: int
    src: int
    reason: int
    additional_info: bytes | None


class DT(typing.NamedTuple):
    """Data TPDU of class 0 (ISO 8073 clause 13.7): ``eot`` is set on the
    last TPDU of a TSDU"""
    eot: bool
    data: bytes


class ER(typing.NamedTuple):
    """TPDU error TPDU (ISO 8073 clause 13.12): ``cause`` a `RejectCause`
    value (or another int 0 to 255), ``invalid_tpdu`` parameter C1 (the
    header of the rejected TPDU)"""
    dst: int
    cause: int
    invalid_tpdu: bytes | None


Tpdu: typing.TypeAlias = CR | CC | DR | DT | ER
"""Any TPDU of class 0"""


def tsel_to_bytes(tsel: Tsel | None) -> bytes | None:
    """Wire octets of a TSEL given to the API (``int``: 2 octets big
    endian)

    Raises:
        TypeError: not ``int``, ``bytes`` or ``None``
        ValueError: ``int`` outside 0 to 65535

    """
    if tsel is None:
        return None

    if isinstance(tsel, bool) or not isinstance(tsel, (int, bytes)):
        raise TypeError(f'TSEL must be int, bytes or None, not '
                        f'{type(tsel).__name__}')

    if isinstance(tsel, bytes):
        return tsel

    if not 0 <= tsel <= 0xFFFF:
        raise ValueError(f'TSEL out of range 0 to 65535: {tsel}')

    return tsel.to_bytes(2, 'big')


def tsel_from_bytes(tsel: bytes | None) -> Tsel | None:
    """API form of received TSEL octets: 2 octets as an ``int`` (the form
    `tsel_to_bytes` encodes), any other length as ``bytes``"""
    if tsel is None:
        return None

    if len(tsel) == 2:
        return int.from_bytes(tsel, 'big')

    return bytes(tsel)
