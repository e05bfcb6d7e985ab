"""Connection oriented presentation protocol (ISO 8823-1 / ITU-T X.226)

The presentation layer of the MMS stack (`hat.drivers.cosp` below,
`hat.drivers.acse` above). This change brings its message types
(`hat.drivers.copp.common`: PPDUs, user data, and the hat-drivers 0.6.23
names `IdentifiedEntity` and `SyntaxNames`) and its codec
(`hat.drivers.copp.codec`: PPDUs to octets and back, on the BER core
`hat.drivers.ber`). The asyncio connection (0.6.23's `connect`, `listen`,
`Connection`, `Server`, `ConnectionInfo`, `ValidateCb`, ...) comes in a
later change, on the session layer.

"""

from hat.drivers.copp import codec as codec
from hat.drivers.copp.common import (
    Bytes as Bytes,
    ObjectIdentifier as ObjectIdentifier,
    IdentifiedEntity as IdentifiedEntity,
    BER as BER,
    ACSE_ABSTRACT_SYNTAX as ACSE_ABSTRACT_SYNTAX,
    SyntaxNames as SyntaxNames,
    PdvList as PdvList,
    FullyEncodedData as FullyEncodedData,
    SimplyEncodedData as SimplyEncodedData,
    UserData as UserData,
    ContextDefinition as ContextDefinition,
    DefaultContextName as DefaultContextName,
    Result as Result,
    ContextRejectReason as ContextRejectReason,
    ContextResult as ContextResult,
    ProviderReason as ProviderReason,
    CpPpdu as CpPpdu,
    CpaPpdu as CpaPpdu,
    CprPpdu as CprPpdu,
    ContextIdentifier as ContextIdentifier,
    AruPpdu as AruPpdu,
    AbortReason as AbortReason,
    EventIdentifier as EventIdentifier,
    ArpPpdu as ArpPpdu,
    AbortPpdu as AbortPpdu)
