"""Connection oriented presentation protocol (ISO 8823-1 / ITU-T X.226)

The presentation layer of the MMS stack (`hat.drivers.cosp` below,
`hat.drivers.acse` above). Public API of hat-drivers 0.6.23's
``hat.drivers.copp`` (`IdentifiedEntity`, `Address`, `ConnectionInfo`,
`ValidateResult`, `ValidateCb`, `ConnectionCb`, `SyntaxNames`, `connect`,
`listen`, `Server`, `Connection`, `mlog`) with additions. Layers, each a
module of its own: `hat.drivers.copp.common` (PPDU types),
`hat.drivers.copp.codec` (PPDU codec on the BER core `hat.drivers.ber`)
and `hat.drivers.copp.connection` (the connection on `hat.drivers.cosp`,
whose docstring lists the differences from 0.6.23).

"""

import logging

from hat.drivers.tpkt import Address as Address
from hat.drivers.copp import codec as codec
from hat.drivers.copp.connection import (
    Psel as Psel,
    ConnectionInfo as ConnectionInfo,
    ValidateResult as ValidateResult,
    ValidateCb as ValidateCb,
    ConnectionCb as ConnectionCb,
    ReleaseCb as ReleaseCb,
    RefuseError as RefuseError,
    RefusedError as RefusedError,
    connect as connect,
    listen as listen,
    Server as Server,
    Connection as Connection)
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


mlog: logging.Logger = logging.getLogger(__name__)
"""Package logger: records of `hat.drivers.copp.connection` propagate to
it"""


__all__ = ['Psel',
           'ConnectionInfo',
           'ValidateResult',
           'ValidateCb',
           'ConnectionCb',
           'ReleaseCb',
           'RefuseError',
           'RefusedError',
           'connect',
           'listen',
           'Server',
           'Connection',
           'Bytes',
           'ObjectIdentifier',
           'IdentifiedEntity',
           'BER',
           'ACSE_ABSTRACT_SYNTAX',
           'SyntaxNames',
           'PdvList',
           'FullyEncodedData',
           'SimplyEncodedData',
           'UserData',
           'ContextDefinition',
           'DefaultContextName',
           'Result',
           'ContextRejectReason',
           'ContextResult',
           'ProviderReason',
           'CpPpdu',
           'CpaPpdu',
           'CprPpdu',
           'ContextIdentifier',
           'AruPpdu',
           'AbortReason',
           'EventIdentifier',
           'ArpPpdu',
           'AbortPpdu',
           'mlog']
