"""Association Control Service Element (ISO 8650-1 / ITU-T X.227)

The association layer of the MMS stack (`hat.drivers.copp` below,
`hat.drivers.mms` above). Public API of hat-drivers 0.6.23's
``hat.drivers.acse`` (`IdentifiedEntity`, `Address`, `SyntaxNames` (the
same objects as `hat.drivers.copp`'s), `ConnectionInfo`, `ValidateResult`,
`ValidateCb`, `ConnectionCb`, `connect`, `listen`, `Server`, `Connection`,
`mlog`) with additions. Layers, each a module of its own:
`hat.drivers.acse.common` (APDU types: AARQ, AARE, RLRQ, RLRE, ABRT),
`hat.drivers.acse.codec` (APDU codec on the BER core `hat.drivers.ber`)
and `hat.drivers.acse.connection` (associations on `hat.drivers.copp`,
whose docstring lists the differences from 0.6.23).

"""

import logging

from hat.drivers.tpkt import Address as Address
from hat.drivers.acse import codec as codec
from hat.drivers.acse.connection import (
    ConnectionInfo as ConnectionInfo,
    ValidateResult as ValidateResult,
    ValidateCb as ValidateCb,
    ConnectionCb as ConnectionCb,
    RefusedError as RefusedError,
    connect as connect,
    listen as listen,
    Server as Server,
    Connection as Connection)
from hat.drivers.acse.common import (
    IdentifiedEntity as IdentifiedEntity,
    ObjectIdentifier as ObjectIdentifier,
    SyntaxNames as SyntaxNames,
    ACSE_ABSTRACT_SYNTAX as ACSE_ABSTRACT_SYNTAX,
    ApTitle as ApTitle,
    AeQualifier as AeQualifier,
    AssociateResult as AssociateResult,
    ResultSource as ResultSource,
    UserDiagnostic as UserDiagnostic,
    ProviderDiagnostic as ProviderDiagnostic,
    ResultSourceDiagnostic as ResultSourceDiagnostic,
    AarqApdu as AarqApdu,
    AareApdu as AareApdu,
    ReleaseRequestReason as ReleaseRequestReason,
    ReleaseResponseReason as ReleaseResponseReason,
    RlrqApdu as RlrqApdu,
    RlreApdu as RlreApdu,
    AbortSource as AbortSource,
    AbortDiagnostic as AbortDiagnostic,
    AbrtApdu as AbrtApdu,
    Apdu as Apdu)


mlog: logging.Logger = logging.getLogger(__name__)
"""Package logger: records of `hat.drivers.acse.connection` propagate to
it"""


__all__ = ['ConnectionInfo',
           'ValidateResult',
           'ValidateCb',
           'ConnectionCb',
           'RefusedError',
           'connect',
           'listen',
           'Server',
           'Connection',
           'IdentifiedEntity',
           'ObjectIdentifier',
           'SyntaxNames',
           'ACSE_ABSTRACT_SYNTAX',
           'ApTitle',
           'AeQualifier',
           'AssociateResult',
           'ResultSource',
           'UserDiagnostic',
           'ProviderDiagnostic',
           'ResultSourceDiagnostic',
           'AarqApdu',
           'AareApdu',
           'ReleaseRequestReason',
           'ReleaseResponseReason',
           'RlrqApdu',
           'RlreApdu',
           'AbortSource',
           'AbortDiagnostic',
           'AbrtApdu',
           'Apdu',
           'mlog']
