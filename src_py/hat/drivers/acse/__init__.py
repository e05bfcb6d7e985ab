"""Association Control Service Element (ISO 8650-1 / ITU-T X.227)

The association layer of the MMS stack (`hat.drivers.copp` below,
`hat.drivers.mms` above). This change brings its message types
(`hat.drivers.acse.common`: AARQ, AARE, RLRQ, RLRE and ABRT APDUs, and the
hat-drivers 0.6.23 names `IdentifiedEntity` and `SyntaxNames`, the same
objects as `hat.drivers.copp`'s) and its codec (`hat.drivers.acse.codec`:
APDUs to octets and back, on the BER core `hat.drivers.ber`). The asyncio
connection (0.6.23's `connect`, `listen`, `Connection`, `Server`,
`ConnectionInfo`, `ValidateCb`, ...) comes in a later change, on the
presentation layer.

"""

from hat.drivers.acse import codec as codec
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
