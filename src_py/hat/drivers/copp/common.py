"""Presentation protocol (ISO 8823-1 / ITU-T X.226) PPDU types (plain data).

The PPDUs of the connection-oriented presentation protocol in normal mode,
as NamedTuples without defaults, and the names kept from hat-drivers 0.6.23
(`IdentifiedEntity`, `SyntaxNames`). How they map to octets (BER, X.226
clause 8) is the business of `hat.drivers.copp.codec`.

Which session service carries which PPDU (X.226 clause 7):

=====================================  ===================================
session service (SPDU)                 presentation data
=====================================  ===================================
S-CONNECT request (CN)                 `CpPpdu` (CP-type)
S-CONNECT accept (AC)                  `CpaPpdu` (CPA-PPDU)
S-CONNECT reject (RF)                  `CprPpdu` (CPR-PPDU)
S-U-ABORT (AB)                         `AruPpdu` or `ArpPpdu` (Abort-type)
S-DATA (DT), S-RELEASE (FN, DN), ...   `UserData` (User-data, no PPDU
                                       wrapper: P-DATA, P-RELEASE)
=====================================  ===================================

Presentation selectors are octet strings here (`Bytes`); hat-drivers 0.6.23
exposes them as integers of 4 octets (the IEC 61850 convention) at its
connection API.

"""

import enum
import typing

from hat.drivers import ber


Bytes: typing.TypeAlias = ber.Bytes
"""Binary data"""

ObjectIdentifier: typing.TypeAlias = ber.ObjectIdentifier
"""OBJECT IDENTIFIER value (abstract and transfer syntax names)"""

IdentifiedEntity: typing.TypeAlias = typing.Tuple[ObjectIdentifier,
                                                  ber.Element]
"""(abstract syntax name, BER element): a presentation data value named by
its abstract syntax (hat-drivers 0.6.23's name; 0.6.23 used a hat-asn1
``Entity`` where this uses a `hat.drivers.ber.Element`)"""

BER: ObjectIdentifier = (2, 1, 1)
"""Transfer syntax name of the basic encoding rules ({joint-iso-itu-t
asn1(1) basic-encoding(1)}, X.690 clause 8)"""

ACSE_ABSTRACT_SYNTAX: ObjectIdentifier = (2, 2, 1, 0, 1)
"""Abstract syntax name of ACSE (ISO 8650-1 / X.227 acse-as-id)"""


class SyntaxNames:
    """Presentation context identifiers and their abstract syntax names

    hat-drivers 0.6.23 API: ``SyntaxNames(syntax_names)`` assigns the
    context identifiers 1, 3, 5, ... (odd: proposed by the initiator, X.226
    clause 6.2.2.3) to the names in list order. `from_ids` builds one with
    the identifiers a peer chose.

    Args:
        syntax_names: abstract syntax names

    Raises:
        ValueError: a name appears more than once

    """

    def __init__(self, syntax_names: typing.Iterable[ObjectIdentifier]):
        self._ids: dict[ObjectIdentifier, int] = {}
        self._names: dict[int, ObjectIdentifier] = {}
        for index, name in enumerate(syntax_names):
            self._add(index * 2 + 1, tuple(name))

    @classmethod
    def from_ids(cls,
                 names: typing.Iterable[tuple[int, ObjectIdentifier]]
                 ) -> 'SyntaxNames':
        """Syntax names with given context identifiers

        Args:
            names: (presentation context identifier, abstract syntax name)
                pairs

        Raises:
            ValueError: an identifier or a name appears more than once

        """
        syntax_names = cls([])
        for context_id, name in names:
            syntax_names._add(context_id, tuple(name))
        return syntax_names

    def _add(self, context_id: int, name: ObjectIdentifier) -> None:
        if context_id in self._names:
            raise ValueError(f'presentation context identifier '
                             f'{context_id} given twice')
        if name in self._ids:
            raise ValueError(f'abstract syntax name {name} given twice')
        self._names[context_id] = name
        self._ids[name] = context_id

    def get_name(self, syntax_id: int) -> ObjectIdentifier:
        """Abstract syntax name of a presentation context identifier

        Raises:
            KeyError: unknown identifier

        """
        return self._names[syntax_id]

    def get_id(self, syntax_name: ObjectIdentifier) -> int:
        """Presentation context identifier of an abstract syntax name

        Raises:
            KeyError: unknown name

        """
        return self._ids[tuple(syntax_name)]

    def items(self) -> list[tuple[int, ObjectIdentifier]]:
        """(identifier, name) pairs in the order they were added"""
        return list(self._names.items())

    def __repr__(self) -> str:
        return f'SyntaxNames.from_ids({self.items()!r})'

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SyntaxNames):
            return NotImplemented
        return self.items() == other.items()

    __hash__ = None  # type: ignore[assignment]


# --- user data --------------------------------------------------------------

class PdvList(typing.NamedTuple):
    """PDV-list: presentation data values of one context (X.226 8.4.2)

    ``data`` gives the presentation-data-values alternative, as
    `hat.drivers.ber.External` does: an `hat.drivers.ber.Element` is
    ``single-ASN1-type`` (one value), a bytes-like value ``octet-aligned``
    (one or more values encoded in the transfer syntax) and a `list` of
    `bool` ``arbitrary``.

    """
    transfer_syntax_name: ObjectIdentifier | None
    """transfer-syntax-name (present only where the context is not yet
    established, X.226 8.4.2.2), ``None`` if absent"""
    context_id: int
    """presentation-context-identifier"""
    data: ber.Element | Bytes | list[bool]
    """presentation-data-values"""


class FullyEncodedData(typing.NamedTuple):
    """Fully-encoded-data: one or more PDV-lists"""
    pdv_lists: list[PdvList]


class SimplyEncodedData(typing.NamedTuple):
    """Simply-encoded-data (only where no context is defined: the default
    context, X.226 8.4.1)"""
    data: Bytes


UserData: typing.TypeAlias = FullyEncodedData | SimplyEncodedData
"""User-data (X.226 8.4): the data of P-DATA and P-RELEASE, and of the
connection and abort PPDUs"""


# --- connection establishment -----------------------------------------------

class ContextDefinition(typing.NamedTuple):
    """One item of a presentation-context-definition-list (X.226 8.2.1)"""
    context_id: int
    """presentation-context-identifier (odd: proposed by the initiator)"""
    abstract_syntax_name: ObjectIdentifier
    transfer_syntax_names: list[ObjectIdentifier]
    """transfer-syntax-name-list (proposed transfer syntaxes)"""


class DefaultContextName(typing.NamedTuple):
    """Default-context-name (X.226 8.2.1)"""
    abstract_syntax_name: ObjectIdentifier
    transfer_syntax_name: ObjectIdentifier


class Result(enum.IntEnum):
    """Result of a context definition (X.226 8.2.2)"""
    ACCEPTANCE = 0
    USER_REJECTION = 1
    PROVIDER_REJECTION = 2


class ContextRejectReason(enum.IntEnum):
    """provider-reason of a rejected context definition (X.226 8.2.2)"""
    REASON_NOT_SPECIFIED = 0
    ABSTRACT_SYNTAX_NOT_SUPPORTED = 1
    PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED = 2
    LOCAL_LIMIT_ON_DCS_EXCEEDED = 3


class ContextResult(typing.NamedTuple):
    """One item of a presentation-context-definition-result-list, in the
    order of the definition list (X.226 8.2.2)"""
    result: Result
    transfer_syntax_name: ObjectIdentifier | None
    """chosen transfer syntax (with acceptance), ``None`` if absent"""
    provider_reason: ContextRejectReason | None
    """with provider-rejection, ``None`` if absent"""


class ProviderReason(enum.IntEnum):
    """Provider-reason of a CPR-PPDU (X.226 8.2.3)"""
    REASON_NOT_SPECIFIED = 0
    TEMPORARY_CONGESTION = 1
    LOCAL_LIMIT_EXCEEDED = 2
    CALLED_PRESENTATION_ADDRESS_UNKNOWN = 3
    PROTOCOL_VERSION_NOT_SUPPORTED = 4
    DEFAULT_CONTEXT_NOT_SUPPORTED = 5
    USER_DATA_NOT_READABLE = 6
    NO_PSAP_AVAILABLE = 7


class CpPpdu(typing.NamedTuple):
    """CP-type, normal mode (X.226 8.2.1): connect presentation

    Bit strings are `list` of `bool` as on the wire (bit 0 first), ``None``
    where the parameter is absent: protocol-version (bit 0 version-1;
    absent means version-1), presentation-requirements (bit 0
    context-management, bit 1 restoration), user-session-requirements (the
    session functional units, ISO 8327-1: bit 0 half-duplex, bit 1 duplex,
    ...).

    """
    protocol_version: list[bool] | None
    calling_presentation_selector: Bytes | None
    called_presentation_selector: Bytes | None
    context_definition_list: list[ContextDefinition] | None
    default_context_name: DefaultContextName | None
    presentation_requirements: list[bool] | None
    user_session_requirements: list[bool] | None
    user_data: UserData | None


class CpaPpdu(typing.NamedTuple):
    """CPA-PPDU, normal mode (X.226 8.2.2): connect presentation accept"""
    protocol_version: list[bool] | None
    responding_presentation_selector: Bytes | None
    context_definition_result_list: list[ContextResult] | None
    presentation_requirements: list[bool] | None
    user_session_requirements: list[bool] | None
    user_data: UserData | None


class CprPpdu(typing.NamedTuple):
    """CPR-PPDU, normal mode (X.226 8.2.3): connect presentation reject

    Without ``provider_reason`` the presentation user rejected the
    connection (its user data then usually carries the reason, for example
    an ACSE AARE with a rejected result).

    """
    protocol_version: list[bool] | None
    responding_presentation_selector: Bytes | None
    context_definition_result_list: list[ContextResult] | None
    default_context_result: Result | None
    provider_reason: ProviderReason | None
    user_data: UserData | None


# --- abort ------------------------------------------------------------------

class ContextIdentifier(typing.NamedTuple):
    """One item of a presentation-context-identifier-list (X.226 8.3.1)"""
    context_id: int
    transfer_syntax_name: ObjectIdentifier


class AruPpdu(typing.NamedTuple):
    """ARU-PPDU, normal mode (X.226 8.3.1): abnormal release by the user"""
    context_identifier_list: list[ContextIdentifier] | None
    user_data: UserData | None


class AbortReason(enum.IntEnum):
    """Abort-reason of an ARP-PPDU (X.226 8.3.2)"""
    REASON_NOT_SPECIFIED = 0
    UNRECOGNIZED_PPDU = 1
    UNEXPECTED_PPDU = 2
    UNEXPECTED_SESSION_SERVICE_PRIMITIVE = 3
    UNRECOGNIZED_PPDU_PARAMETER = 4
    UNEXPECTED_PPDU_PARAMETER = 5
    INVALID_PPDU_PARAMETER_VALUE = 6


class EventIdentifier(enum.IntEnum):
    """Event-identifier of an ARP-PPDU (X.226 8.3.2)"""
    CP_PPDU = 0
    CPA_PPDU = 1
    CPR_PPDU = 2
    ARU_PPDU = 3
    ARP_PPDU = 4
    AC_PPDU = 5
    ACA_PPDU = 6
    TD_PPDU = 7
    TTD_PPDU = 8
    TE_PPDU = 9
    TC_PPDU = 10
    TCC_PPDU = 11
    RS_PPDU = 12
    RSA_PPDU = 13
    S_RELEASE_INDICATION = 14
    S_RELEASE_CONFIRM = 15
    S_TOKEN_GIVE_INDICATION = 16
    S_TOKEN_PLEASE_INDICATION = 17
    S_CONTROL_GIVE_INDICATION = 18
    S_SYNC_MINOR_INDICATION = 19
    S_SYNC_MINOR_CONFIRM = 20
    S_SYNC_MAJOR_INDICATION = 21
    S_SYNC_MAJOR_CONFIRM = 22
    S_P_EXCEPTION_REPORT_INDICATION = 23
    S_U_EXCEPTION_REPORT_INDICATION = 24
    S_ACTIVITY_START_INDICATION = 25
    S_ACTIVITY_RESUME_INDICATION = 26
    S_ACTIVITY_INTERRUPT_INDICATION = 27
    S_ACTIVITY_INTERRUPT_CONFIRM = 28
    S_ACTIVITY_DISCARD_INDICATION = 29
    S_ACTIVITY_DISCARD_CONFIRM = 30
    S_ACTIVITY_END_INDICATION = 31
    S_ACTIVITY_END_CONFIRM = 32


class ArpPpdu(typing.NamedTuple):
    """ARP-PPDU (X.226 8.3.2): abnormal release by the provider"""
    provider_reason: AbortReason | None
    event_identifier: EventIdentifier | None


AbortPpdu: typing.TypeAlias = AruPpdu | ArpPpdu
"""Abort-type: the user data of a session ABORT"""
