"""COSP (ISO 8327-1 session protocol): SPDU types and shared names.

The SPDUs of the kernel and duplex functional units (ISO 8327-1 clause 8)
as NamedTuples: `CN` (CONNECT), `AC` (ACCEPT), `RF` (REFUSE), `FN`
(FINISH), `DN` (DISCONNECT), `AB` (ABORT), `AA` (ABORT ACCEPT) and `DT`
(DATA TRANSFER, sent after a GIVE TOKENS SPDU as basic concatenation
requires). `hat.drivers.cosp.codec` turns them into octets and back.

Session selectors (SSELs) are kept as the octets that are on the wire
(``bytes`` of any length, ``None`` when absent); `ssel_to_bytes` and
`ssel_from_bytes` convert the ``int`` form of the API (2 octets, big
endian: the IEC 61850 convention and hat-drivers 0.6.23's encoding).

"""

import asyncio
import enum
import typing


from hat.drivers import cotp


Address = cotp.Address
"""Address of a COSP peer: `hat.drivers.tpkt.Address` (the same class;
port 102 by default)"""

Data: typing.TypeAlias = bytes | bytearray | memoryview
"""User data"""

Ssel: typing.TypeAlias = int | bytes
"""Session selector as given to the API: an ``int`` (0 to 65535, sent as
2 octets big endian) or ``bytes`` of any length (sent as they are)"""

ConnectionClosedError = cotp.ConnectionClosedError
"""Raised by `hat.drivers.cosp.Connection.read` once the connection is
closed: `hat.drivers.cotp.ConnectionClosedError` (the same class), both a
`ConnectionError` and a `hat.aio.QueueClosedError`"""


class ReleaseTimeoutError(ConnectionError, asyncio.TimeoutError):
    """No DN answered our FN in time (``release_timeout``); the transport
    is closed. A `ConnectionError` and an `asyncio.TimeoutError`."""


class RefuseError(Exception):
    """Raised by a ``validate_cb`` to refuse a connection with an RF SPDU
    (reason 2, rejection by the called SS-user) carrying `user_data`
    (``None``: no user data, reason 0)"""

    def __init__(self, user_data: Data | None = None):
        super().__init__('connection refused by the SS-user')
        self.user_data = None if user_data is None else bytes(user_data)


class RefusedError(ConnectionRefusedError):
    """The responder refused the connection with an RF SPDU: ``reason``
    (`RefuseReason` value or other int) and its ``user_data`` (``None`` if
    none)"""

    def __init__(self, msg: str, reason: int, user_data: bytes | None):
        super().__init__(msg)
        self.reason = reason
        self.user_data = user_data


class RefuseReason(enum.IntEnum):
    """Reason code of an RF SPDU (ISO 8327-1 clause 8.3.5, PI 50)"""
    USER_NOT_SPECIFIED = 0
    USER_CONGESTION = 1
    USER_WITH_DATA = 2
    SSEL_UNKNOWN = 129
    USER_NOT_ATTACHED = 130
    SPM_CONGESTION = 131
    VERSIONS_NOT_SUPPORTED = 132
    SPM_NOT_SPECIFIED = 133
    SPM_IMPLEMENTATION_RESTRICTION = 134


class AbortFlags(enum.IntFlag):
    """Bits of the transport disconnect parameter (PI 17) of an AB SPDU
    (ISO 8327-1 clause 8.3.9); FN and RF use `TRANSPORT_RELEASED` only"""
    TRANSPORT_RELEASED = 0x01
    USER_ABORT = 0x02
    PROTOCOL_ERROR = 0x04
    NO_REASON = 0x08
    IMPLEMENTATION_RESTRICTION = 0x10


VERSION_1: int = 0x01
"""Bit of protocol version 1 in the version number parameter (PI 22)"""

VERSION_2: int = 0x02
"""Bit of protocol version 2 in the version number parameter (PI 22)"""

DUPLEX: int = 0x0002
"""Duplex functional unit bit of the session user requirements (PI 20)"""

MAX_USER_DATA: int = 512
"""Largest CN user data in the user data parameter (PI 193); up to
`MAX_EXTENDED_USER_DATA` octets go in the extended user data parameter
(PI 194, protocol version 2)"""

MAX_EXTENDED_USER_DATA: int = 10240
"""Largest CN user data (octets) without data overflow"""


class CN(typing.NamedTuple):
    """CONNECT SPDU (ISO 8327-1 clause 8.3.1)

    ``versions``: version number parameter (PI 22; bits `VERSION_1`,
    `VERSION_2`; ``None`` if absent: version 1); ``requirements``: session
    user requirements (PI 20, ``None`` if absent); ``calling_ssel`` /
    ``called_ssel``: PI 51 / 52; ``user_data``: PI 193, or PI 194 when
    longer than `MAX_USER_DATA`.
    """
    versions: int | None
    requirements: int | None
    calling_ssel: bytes | None
    called_ssel: bytes | None
    user_data: bytes | None


class AC(typing.NamedTuple):
    """ACCEPT SPDU (ISO 8327-1 clause 8.3.4); fields as in `CN`,
    ``versions`` the selected version, ``responding_ssel`` PI 52"""
    versions: int | None
    requirements: int | None
    calling_ssel: bytes | None
    responding_ssel: bytes | None
    user_data: bytes | None


class RF(typing.NamedTuple):
    """REFUSE SPDU (ISO 8327-1 clause 8.3.5): ``transport_disconnect``
    PI 17 (``None`` if absent), ``reason`` the first octet of PI 50 and
    ``user_data`` the rest (reason 2 only)"""
    transport_disconnect: int | None
    reason: int
    user_data: bytes | None


class FN(typing.NamedTuple):
    """FINISH SPDU (ISO 8327-1 clause 8.3.6)"""
    transport_disconnect: int | None
    user_data: bytes | None


class DN(typing.NamedTuple):
    """DISCONNECT SPDU (ISO 8327-1 clause 8.3.7)"""
    user_data: bytes | None


class AB(typing.NamedTuple):
    """ABORT SPDU (ISO 8327-1 clause 8.3.9): ``transport_disconnect``
    PI 17 (`AbortFlags`), ``reflect`` PI 11 (reflect parameter values)"""
    transport_disconnect: int | None
    reflect: bytes | None
    user_data: bytes | None


class AA(typing.NamedTuple):
    """ABORT ACCEPT SPDU (ISO 8327-1 clause 8.3.10)"""


class DT(typing.NamedTuple):
    """DATA TRANSFER SPDU (ISO 8327-1 clause 8.3.11) with its user
    information, concatenated after a GIVE TOKENS SPDU"""
    data: bytes


Spdu: typing.TypeAlias = CN | AC | RF | FN | DN | AB | AA | DT
"""Any SPDU of the kernel and duplex functional units"""


def ssel_to_bytes(ssel: Ssel | None) -> bytes | None:
    """Wire octets of an SSEL given to the API (``int``: 2 octets big
    endian)

    Raises:
        TypeError: not ``int``, ``bytes`` or ``None``
        ValueError: ``int`` outside 0 to 65535

    """
    if ssel is None:
        return None

    if isinstance(ssel, bool) or not isinstance(ssel, (int, bytes)):
        raise TypeError(f'SSEL must be int, bytes or None, not '
                        f'{type(ssel).__name__}')

    if isinstance(ssel, bytes):
        return ssel

    if not 0 <= ssel <= 0xFFFF:
        raise ValueError(f'SSEL out of range 0 to 65535: {ssel}')

    return ssel.to_bytes(2, 'big')


def ssel_from_bytes(ssel: bytes | None) -> Ssel | None:
    """API form of received SSEL octets: 2 octets as an ``int``, any other
    length as ``bytes``"""
    if ssel is None:
        return None

    if len(ssel) == 2:
        return int.from_bytes(ssel, 'big')

    return bytes(ssel)

