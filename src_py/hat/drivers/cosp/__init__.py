"""Connection oriented session protocol: ISO 8327-1 kernel and duplex

COSP is the OSI session layer under the presentation layer
(`hat.drivers.copp`) of MMS (IEC 61850) and ICCP, on the transport layer
`hat.drivers.cotp`. Public API of hat-drivers 0.6.23's
``hat.drivers.cosp`` (`Data`, `Address`, `ConnectionInfo`,
`ValidateResult`, `ValidateCb`, `ConnectionCb`, `connect`, `listen`,
`Server`, `Connection`, `mlog`), with keyword-only additions. Layers, each a
module of its own: `hat.drivers.cosp.common` (SPDU types),
`hat.drivers.cosp.codec` (SPDU codec, ISO 8327-1 clause 8) and
`hat.drivers.cosp.connection` (establishment, data transfer, release and
abort on COTP).

Differences from 0.6.23, which follow ISO 8327-1: close with FN waits for
the DN (bounded) before closing the transport; a FN's user data is passed
to ``release_cb`` and answered with a DN carrying its result; the AC
selects the highest common version (no version item means version 1) and
refuses with RF instead of always selecting version 2; refusals are RF
SPDUs, errors AB SPDUs (an unknown SPDU too); CN user data over 512 octets
goes in the extended user data parameter (PI 194), which is also read;
SSELs of any length are kept and echoed octet for octet; `Connection.write`
after close raises `ConnectionError`.

"""

import logging

from hat.drivers.cosp.common import (Data,
                                     Address,
                                     Ssel,
                                     ConnectionClosedError,
                                     RefuseError,
                                     RefusedError,
                                     RefuseReason,
                                     ReleaseTimeoutError)
from hat.drivers.cosp.connection import (ConnectionInfo,
                                         ValidateResult,
                                         ValidateCb,
                                         ConnectionCb,
                                         ReleaseCb,
                                         connect,
                                         listen,
                                         Server,
                                         Connection,
                                         DEFAULT_RELEASE_TIMEOUT,
                                         DEFAULT_RECEIVE_QUEUE_SIZE)


mlog: logging.Logger = logging.getLogger(__name__)
"""Package logger: records of `hat.drivers.cosp.connection` propagate to
it"""


__all__ = ['Data',
           'Address',
           'ConnectionInfo',
           'ValidateResult',
           'ValidateCb',
           'ConnectionCb',
           'connect',
           'listen',
           'Server',
           'Connection',
           'mlog',
           'Ssel',
           'ConnectionClosedError',
           'RefuseError',
           'RefusedError',
           'RefuseReason',
           'ReleaseTimeoutError',
           'ReleaseCb',
           'DEFAULT_RELEASE_TIMEOUT',
           'DEFAULT_RECEIVE_QUEUE_SIZE']
