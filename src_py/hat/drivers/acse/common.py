"""Association control (ISO 8650-1 / ITU-T X.227) APDU types (plain data).

The five APDUs of the ACSE protocol (kernel, normal mode) as NamedTuples
without defaults: `AarqApdu` (A-ASSOCIATE request), `AareApdu`
(A-ASSOCIATE response, accepting or rejecting), `RlrqApdu` and `RlreApdu`
(A-RELEASE request and response) and `AbrtApdu` (A-ABORT), and the names
kept from hat-drivers 0.6.23 (`IdentifiedEntity`, `SyntaxNames`, shared
with `hat.drivers.copp`). How they map to octets is the business of
`hat.drivers.acse.codec`.

Names (X.227 clause 7.1):

* AP titles: form 2 (OBJECT IDENTIFIER, the one IEC 61850 uses) as an
  `ObjectIdentifier` tuple; form 1 (a directory Name) and form 3 are kept
  opaque, as the `hat.drivers.ber.Element` of the chosen alternative, and
  encoded back unchanged;
* AE qualifiers: form 2 (INTEGER) as an `int`; the other forms as the
  opaque `hat.drivers.ber.Element`;
* AP and AE invocation identifiers: `int`.

User information (Association-information) is a list of EXTERNAL values,
`hat.drivers.ber.External`: the presentation layer identifies the
abstract syntax of each through its indirect-reference (presentation
context identifier) and/or direct-reference (transfer syntax name).

"""

import enum
import typing

from hat.drivers import ber
from hat.drivers.copp.common import (IdentifiedEntity,
                                     ObjectIdentifier,
                                     SyntaxNames)


__all__ = ['IdentifiedEntity', 'ObjectIdentifier', 'SyntaxNames',
           'ACSE_ABSTRACT_SYNTAX', 'ApTitle', 'AeQualifier',
           'AssociateResult', 'ResultSource', 'UserDiagnostic',
           'ProviderDiagnostic', 'ResultSourceDiagnostic',
           'AarqApdu', 'AareApdu', 'ReleaseRequestReason',
           'ReleaseResponseReason', 'RlrqApdu', 'RlreApdu', 'AbortSource',
           'AbortDiagnostic', 'AbrtApdu', 'Apdu']


ACSE_ABSTRACT_SYNTAX: ObjectIdentifier = (2, 2, 1, 0, 1)
"""Abstract syntax name of the ACSE APDUs (X.227 acse-as-id)"""

ApTitle: typing.TypeAlias = ObjectIdentifier | ber.Element
"""AP title: form 2 as an OBJECT IDENTIFIER, other forms as the opaque
element of the chosen alternative"""

AeQualifier: typing.TypeAlias = int | ber.Element
"""AE qualifier: form 2 as an INTEGER, other forms as the opaque element of
the chosen alternative"""


class AssociateResult(enum.IntEnum):
    """Associate-result of an AARE (X.227 7.1.4.3)"""
    ACCEPTED = 0
    REJECTED_PERMANENT = 1
    REJECTED_TRANSIENT = 2


class ResultSource(enum.IntEnum):
    """Alternative of the Associate-source-diagnostic (its context tag)"""
    ACSE_SERVICE_USER = 1
    ACSE_SERVICE_PROVIDER = 2


class UserDiagnostic(enum.IntEnum):
    """acse-service-user diagnostic values (X.227 7.1.4.4)"""
    NULL = 0
    NO_REASON_GIVEN = 1
    APPLICATION_CONTEXT_NAME_NOT_SUPPORTED = 2
    CALLING_AP_TITLE_NOT_RECOGNIZED = 3
    CALLING_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 4
    CALLING_AE_QUALIFIER_NOT_RECOGNIZED = 5
    CALLING_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 6
    CALLED_AP_TITLE_NOT_RECOGNIZED = 7
    CALLED_AP_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 8
    CALLED_AE_QUALIFIER_NOT_RECOGNIZED = 9
    CALLED_AE_INVOCATION_IDENTIFIER_NOT_RECOGNIZED = 10
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED = 11
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 12
    AUTHENTICATION_FAILURE = 13
    AUTHENTICATION_REQUIRED = 14


class ProviderDiagnostic(enum.IntEnum):
    """acse-service-provider diagnostic values (X.227 7.1.4.4)"""
    NULL = 0
    NO_REASON_GIVEN = 1
    NO_COMMON_ACSE_VERSION = 2


class ResultSourceDiagnostic(typing.NamedTuple):
    """Associate-source-diagnostic of an AARE

    ``diagnostic`` is a `UserDiagnostic` with
    `ResultSource.ACSE_SERVICE_USER` and a `ProviderDiagnostic` with
    `ResultSource.ACSE_SERVICE_PROVIDER`.

    """
    source: ResultSource
    diagnostic: UserDiagnostic | ProviderDiagnostic


class AarqApdu(typing.NamedTuple):
    """AARQ-apdu: A-ASSOCIATE request (X.227 7.1.4.1)

    Bit strings are `list` of `bool` (bit 0 first), ``None`` where absent:
    protocol-version (bit 0 version1; absent means version1),
    sender-acse-requirements (bit 0 authentication, bit 1
    application-context-negotiation). The authentication value is the
    opaque element of the chosen Authentication-value alternative (for
    example ``[0] IMPLICIT GraphicString``, a password).

    """
    protocol_version: list[bool] | None
    application_context_name: ObjectIdentifier
    called_ap_title: ApTitle | None
    called_ae_qualifier: AeQualifier | None
    called_ap_invocation_identifier: int | None
    called_ae_invocation_identifier: int | None
    calling_ap_title: ApTitle | None
    calling_ae_qualifier: AeQualifier | None
    calling_ap_invocation_identifier: int | None
    calling_ae_invocation_identifier: int | None
    sender_acse_requirements: list[bool] | None
    mechanism_name: ObjectIdentifier | None
    calling_authentication_value: ber.Element | None
    application_context_name_list: list[ObjectIdentifier] | None
    implementation_information: str | None
    user_information: list[ber.External] | None


class AareApdu(typing.NamedTuple):
    """AARE-apdu: A-ASSOCIATE response, accepted or rejected (X.227
    7.1.4.2); bit strings and the authentication value as in `AarqApdu`"""
    protocol_version: list[bool] | None
    application_context_name: ObjectIdentifier
    result: AssociateResult
    result_source_diagnostic: ResultSourceDiagnostic
    responding_ap_title: ApTitle | None
    responding_ae_qualifier: AeQualifier | None
    responding_ap_invocation_identifier: int | None
    responding_ae_invocation_identifier: int | None
    responder_acse_requirements: list[bool] | None
    mechanism_name: ObjectIdentifier | None
    responding_authentication_value: ber.Element | None
    application_context_name_list: list[ObjectIdentifier] | None
    implementation_information: str | None
    user_information: list[ber.External] | None


class ReleaseRequestReason(enum.IntEnum):
    """Release-request-reason (X.227 7.1.4.5)"""
    NORMAL = 0
    URGENT = 1
    USER_DEFINED = 30


class ReleaseResponseReason(enum.IntEnum):
    """Release-response-reason (X.227 7.1.4.6)"""
    NORMAL = 0
    NOT_FINISHED = 1
    USER_DEFINED = 30


class RlrqApdu(typing.NamedTuple):
    """RLRQ-apdu: A-RELEASE request (X.227 7.1.4.5)"""
    reason: ReleaseRequestReason | None
    user_information: list[ber.External] | None


class RlreApdu(typing.NamedTuple):
    """RLRE-apdu: A-RELEASE response (X.227 7.1.4.6)"""
    reason: ReleaseResponseReason | None
    user_information: list[ber.External] | None


class AbortSource(enum.IntEnum):
    """ABRT-source (X.227 7.3.3.1)"""
    ACSE_SERVICE_USER = 0
    ACSE_SERVICE_PROVIDER = 1


class AbortDiagnostic(enum.IntEnum):
    """ABRT-diagnostic (X.227 7.3.3.1)"""
    NO_REASON_GIVEN = 1
    PROTOCOL_ERROR = 2
    AUTHENTICATION_MECHANISM_NAME_NOT_RECOGNIZED = 3
    AUTHENTICATION_MECHANISM_NAME_REQUIRED = 4
    AUTHENTICATION_FAILURE = 5
    AUTHENTICATION_REQUIRED = 6


class AbrtApdu(typing.NamedTuple):
    """ABRT-apdu: A-ABORT (X.227 7.1.4.7)"""
    abort_source: AbortSource
    abort_diagnostic: AbortDiagnostic | None
    user_information: list[ber.External] | None


Apdu: typing.TypeAlias = AarqApdu | AareApdu | RlrqApdu | RlreApdu | AbrtApdu
"""ACSE-apdu"""
