"""Connection oriented transport protocol: ISO 8073 class 0 over RFC 1006

COTP is the ISO transport layer of the OSI stack under MMS (IEC 61850),
ICCP and S7, carried in TPKT packets (`hat.drivers.tpkt`) over TCP port
102. Public API of hat-drivers 0.6.23's ``hat.drivers.cotp`` (`Address`,
`ConnectionInfo`, `ConnectionCb`, `connect`, `listen`, `Server`,
`Connection`, `mlog`), with keyword-only additions. Layers, each a module of
its own: `hat.drivers.cotp.common` (TPDU types), `hat.drivers.cotp.codec`
(TPDU codec, ISO 8073 clause 13) and `hat.drivers.cotp.connection`
(connection establishment, data transfer and release on TPKT).

Differences from 0.6.23, which follow ISO 8073: class negotiation (a CR
proposing class 1, or another class with alternative class 0 or 1, is
accepted with class 0; a CR class 0 cannot answer gets a DR with reason
0x82 instead of a dropped TCP connection), TPDU sizes above 2048 octets
are not used (the CC selects at most 2048) and received DT TPDUs larger
than the negotiated size are protocol errors, a CC without a TPDU size
means 128 octets, TSELs are kept as the octets received (any length,
echoed unchanged in the CC), `Connection.write` after close raises
`ConnectionError` instead of dropping the data, and `Connection.read`
after close raises `ConnectionClosedError`, both a `ConnectionError` and
the `hat.aio.QueueClosedError` 0.6.23 raised.

"""

import logging

from hat.drivers.cotp.common import (Address,
                                     ConnectionClosedError,
                                     Tsel)
from hat.drivers.cotp.connection import (ConnectionInfo,
                                         ConnectionCb,
                                         connect,
                                         listen,
                                         Server,
                                         Connection,
                                         DEFAULT_MAX_TSDU_SIZE)


mlog: logging.Logger = logging.getLogger(__name__)
"""Package logger: records of `hat.drivers.cotp.connection` propagate to
it"""


__all__ = ['Address',
           'ConnectionInfo',
           'ConnectionCb',
           'connect',
           'listen',
           'Server',
           'Connection',
           'mlog',
           'ConnectionClosedError',
           'Tsel',
           'DEFAULT_MAX_TSDU_SIZE']
