"""Association control (ISO 8650-1 / ITU-T X.227) APDU codec.

Pure functions, no I/O, no logging, on the BER core `hat.drivers.ber`
(X.227 clause 7 and its ASN.1 module ACSE-1): `encode` turns an APDU of
`hat.drivers.acse.common` into octets, `decode` turns the octets of one
ACSE-apdu (a presentation data value of the ACSE abstract syntax) back
into an APDU. `encode_entity` / `decode_entity` do the same from and to the
`hat.drivers.ber.Element` that the presentation layer carries.

Encoding writes definite lengths, components in the order of the ASN.1
module, and omits absent (``None``) components; the tags of the module are
kept (explicit where it has them: application-context-name [1], AP titles,
AE qualifiers, invocation identifiers, the result and its diagnostic, the
authentication values). A bad field raises `TypeError` or `ValueError`
naming it.

Decoding raises `ApduDecodeError` (a `hat.drivers.ber.DecodeError`, so a
`ValueError`), naming the APDU and the problem, for every input that is not
an ACSE-apdu; nothing else. It accepts what BER allows (indefinite lengths,
segmented strings, components in any order: their tags are distinct) and
ignores the components after the extension marker that this protocol
machine does not use (AARQ p-context-definition-list [14], called and
calling asoi-tag [15] [16]; AARE p-context-result-list [12] and asoi-tags
[13] [14]; RLRQ, RLRE and ABRT aso-qualifier [13] and asoi-identifier
[14]). It rejects unknown or repeated components, missing mandatory ones
(application-context-name, result, result-source-diagnostic,
abort-source) and values outside the enumerations of X.227.

"""

import enum
import typing

from hat.drivers import ber
from hat.drivers.acse import common


class ApduDecodeError(ber.DecodeError):
    """Octets that are not an ACSE-apdu (a `ValueError`)"""


_U = ber.Class.UNIVERSAL
_A = ber.Class.APPLICATION
_C = ber.Class.CONTEXT

_Key = tuple[ber.Class, int]

_NAMES = {0: 'AARQ', 1: 'AARE', 2: 'RLRQ', 3: 'RLRE', 4: 'ABRT'}


# --- public API -------------------------------------------------------------

def encode(apdu: common.Apdu) -> bytes:
    """Encode an ACSE-apdu

    Raises:
        TypeError: not an APDU of `hat.drivers.acse.common`, or a field of
            the wrong type
        ValueError: a field value that cannot be encoded

    """
    element = encode_entity(apdu)
    return ber.encode(element)


def decode(data: ber.Bytes) -> common.Apdu:
    """Decode an ACSE-apdu

    Raises:
        ApduDecodeError: not an ACSE-apdu

    """
    try:
        element = ber.decode(data)
    except ber.DecodeError as e:
        raise ApduDecodeError(f'ACSE-apdu: {e}') from e
    return decode_entity(element)


def encode_entity(apdu: common.Apdu) -> ber.Element:
    """Encode an ACSE-apdu as a BER element (see `encode`)"""
    if isinstance(apdu, common.AarqApdu):
        return ber.Element(_A, 0, True, _encode_aarq(apdu))
    if isinstance(apdu, common.AareApdu):
        return ber.Element(_A, 1, True, _encode_aare(apdu))
    if isinstance(apdu, common.RlrqApdu):
        return ber.Element(_A, 2, True, b''.join([
            _opt_enum(0, apdu.reason, common.ReleaseRequestReason),
            _opt_user_information(apdu.user_information)]))
    if isinstance(apdu, common.RlreApdu):
        return ber.Element(_A, 3, True, b''.join([
            _opt_enum(0, apdu.reason, common.ReleaseResponseReason),
            _opt_user_information(apdu.user_information)]))
    if isinstance(apdu, common.AbrtApdu):
        if apdu.abort_source is None:
            raise ValueError('ABRT: abort-source is mandatory')
        return ber.Element(_A, 4, True, b''.join([
            _opt_enum(0, apdu.abort_source, common.AbortSource),
            _opt_enum(1, apdu.abort_diagnostic, common.AbortDiagnostic),
            _opt_user_information(apdu.user_information)]))
    raise TypeError(f'not an ACSE APDU: {type(apdu).__name__}')


def decode_entity(element: ber.Element) -> common.Apdu:
    """Decode an ACSE-apdu from a BER element (see `decode`)

    Raises:
        ApduDecodeError: not an ACSE-apdu

    """
    name = (_NAMES.get(element.tag, 'ACSE-apdu')
            if element.tag_class == _A else 'ACSE-apdu')
    try:
        if element.tag_class != _A or element.tag not in _NAMES:
            raise ber.DecodeError(f'unknown APDU {_name(element)}')
        if not element.constructed:
            raise ber.DecodeError('APDU must be constructed')
        return _DECODERS[element.tag](element)
    except ApduDecodeError:
        raise
    except ber.DecodeError as e:
        raise ApduDecodeError(f'{name}: {e}') from e


# --- AARQ, AARE -------------------------------------------------------------

def _encode_aarq(apdu: common.AarqApdu) -> bytes:
    if apdu.application_context_name is None:
        raise ValueError('AARQ: application-context-name is mandatory')
    return b''.join([
        _opt_bits(0, apdu.protocol_version),
        _explicit(1, _oid(apdu.application_context_name)),
        _opt_ap_title(2, apdu.called_ap_title),
        _opt_ae_qualifier(3, apdu.called_ae_qualifier),
        _opt_explicit_int(4, apdu.called_ap_invocation_identifier),
        _opt_explicit_int(5, apdu.called_ae_invocation_identifier),
        _opt_ap_title(6, apdu.calling_ap_title),
        _opt_ae_qualifier(7, apdu.calling_ae_qualifier),
        _opt_explicit_int(8, apdu.calling_ap_invocation_identifier),
        _opt_explicit_int(9, apdu.calling_ae_invocation_identifier),
        _opt_bits(10, apdu.sender_acse_requirements),
        _opt_implicit_oid(11, apdu.mechanism_name),
        _opt_element(12, apdu.calling_authentication_value),
        _opt_oid_list(13, apdu.application_context_name_list),
        _opt_graphic_string(29, apdu.implementation_information),
        _opt_user_information(apdu.user_information)])


def _decode_aarq(element: ber.Element) -> common.AarqApdu:
    fields = _fields(element, {*range(14), 29, 30}, {14, 15, 16})
    return common.AarqApdu(
        protocol_version=_get(fields, 0, _decode_bits),
        application_context_name=_mandatory(
            fields, 1, _decode_explicit_oid, 'application-context-name'),
        called_ap_title=_get(fields, 2, _decode_ap_title),
        called_ae_qualifier=_get(fields, 3, _decode_ae_qualifier),
        called_ap_invocation_identifier=_get(fields, 4, _decode_explicit_int),
        called_ae_invocation_identifier=_get(fields, 5, _decode_explicit_int),
        calling_ap_title=_get(fields, 6, _decode_ap_title),
        calling_ae_qualifier=_get(fields, 7, _decode_ae_qualifier),
        calling_ap_invocation_identifier=_get(fields, 8,
                                              _decode_explicit_int),
        calling_ae_invocation_identifier=_get(fields, 9,
                                              _decode_explicit_int),
        sender_acse_requirements=_get(fields, 10, _decode_bits),
        mechanism_name=_get(fields, 11, _decode_implicit_oid),
        calling_authentication_value=_get(fields, 12, _decode_element),
        application_context_name_list=_get(fields, 13, _decode_oid_list),
        implementation_information=_get(fields, 29, _decode_graphic_string),
        user_information=_get(fields, 30, _decode_user_information))


def _encode_aare(apdu: common.AareApdu) -> bytes:
    if apdu.application_context_name is None:
        raise ValueError('AARE: application-context-name is mandatory')
    diagnostic = apdu.result_source_diagnostic
    if not isinstance(diagnostic, common.ResultSourceDiagnostic):
        raise TypeError('AARE: result-source-diagnostic must be a '
                        'ResultSourceDiagnostic')
    source = common.ResultSource(diagnostic.source)
    value_type = (common.UserDiagnostic
                  if source == common.ResultSource.ACSE_SERVICE_USER
                  else common.ProviderDiagnostic)
    return b''.join([
        _opt_bits(0, apdu.protocol_version),
        _explicit(1, _oid(apdu.application_context_name)),
        _explicit(2, _int(common.AssociateResult(apdu.result))),
        _explicit(3, _explicit(source, _int(value_type(
            diagnostic.diagnostic)))),
        _opt_ap_title(4, apdu.responding_ap_title),
        _opt_ae_qualifier(5, apdu.responding_ae_qualifier),
        _opt_explicit_int(6, apdu.responding_ap_invocation_identifier),
        _opt_explicit_int(7, apdu.responding_ae_invocation_identifier),
        _opt_bits(8, apdu.responder_acse_requirements),
        _opt_implicit_oid(9, apdu.mechanism_name),
        _opt_element(10, apdu.responding_authentication_value),
        _opt_oid_list(11, apdu.application_context_name_list),
        _opt_graphic_string(29, apdu.implementation_information),
        _opt_user_information(apdu.user_information)])


def _decode_aare(element: ber.Element) -> common.AareApdu:
    fields = _fields(element, {*range(12), 29, 30}, {12, 13, 14})
    return common.AareApdu(
        protocol_version=_get(fields, 0, _decode_bits),
        application_context_name=_mandatory(
            fields, 1, _decode_explicit_oid, 'application-context-name'),
        result=_mandatory(fields, 2, _decode_result, 'result'),
        result_source_diagnostic=_mandatory(
            fields, 3, _decode_diagnostic, 'result-source-diagnostic'),
        responding_ap_title=_get(fields, 4, _decode_ap_title),
        responding_ae_qualifier=_get(fields, 5, _decode_ae_qualifier),
        responding_ap_invocation_identifier=_get(fields, 6,
                                                 _decode_explicit_int),
        responding_ae_invocation_identifier=_get(fields, 7,
                                                 _decode_explicit_int),
        responder_acse_requirements=_get(fields, 8, _decode_bits),
        mechanism_name=_get(fields, 9, _decode_implicit_oid),
        responding_authentication_value=_get(fields, 10, _decode_element),
        application_context_name_list=_get(fields, 11, _decode_oid_list),
        implementation_information=_get(fields, 29, _decode_graphic_string),
        user_information=_get(fields, 30, _decode_user_information))


def _decode_result(element: ber.Element) -> common.AssociateResult:
    value = _universal(_single(element, 'result'), ber.UniversalTag.INTEGER,
                       'result')
    return _decode_enum(value, common.AssociateResult)


def _decode_diagnostic(element: ber.Element) -> common.ResultSourceDiagnostic:
    choice = _single(element, 'result-source-diagnostic')
    if (choice.tag_class != _C or choice.tag not in (1, 2) or
            not choice.constructed):
        raise ber.DecodeError(f'result-source-diagnostic: unknown '
                              f'alternative {_name(choice)}')
    source = common.ResultSource(choice.tag)
    value_type: type[common.UserDiagnostic | common.ProviderDiagnostic] = (
        common.UserDiagnostic
        if source == common.ResultSource.ACSE_SERVICE_USER
        else common.ProviderDiagnostic)
    what = 'result-source-diagnostic'
    value = _decode_enum(_universal(_single(choice, what),
                                    ber.UniversalTag.INTEGER, what),
                         value_type)
    return common.ResultSourceDiagnostic(source=source, diagnostic=value)


# --- RLRQ, RLRE, ABRT -------------------------------------------------------

def _decode_rlrq(element: ber.Element) -> common.RlrqApdu:
    fields = _fields(element, {0, 30}, {13, 14})
    return common.RlrqApdu(
        reason=_get(fields, 0, lambda e: _decode_enum(
            _primitive(e, 'reason'), common.ReleaseRequestReason)),
        user_information=_get(fields, 30, _decode_user_information))


def _decode_rlre(element: ber.Element) -> common.RlreApdu:
    fields = _fields(element, {0, 30}, {13, 14})
    return common.RlreApdu(
        reason=_get(fields, 0, lambda e: _decode_enum(
            _primitive(e, 'reason'), common.ReleaseResponseReason)),
        user_information=_get(fields, 30, _decode_user_information))


def _decode_abrt(element: ber.Element) -> common.AbrtApdu:
    fields = _fields(element, {0, 1, 30}, {13, 14})
    return common.AbrtApdu(
        abort_source=_mandatory(fields, 0, lambda e: _decode_enum(
            _primitive(e, 'abort-source'), common.AbortSource),
            'abort-source'),
        abort_diagnostic=_get(fields, 1, lambda e: _decode_enum(
            _primitive(e, 'abort-diagnostic'), common.AbortDiagnostic)),
        user_information=_get(fields, 30, _decode_user_information))


_DECODERS: dict[int, typing.Callable[[ber.Element], common.Apdu]] = {
    0: _decode_aarq, 1: _decode_aare, 2: _decode_rlrq, 3: _decode_rlre,
    4: _decode_abrt}


# --- helpers ----------------------------------------------------------------

_tlv = ber.encode_tlv

_T = typing.TypeVar('_T')
_E = typing.TypeVar('_E', bound=enum.IntEnum)


def _name(element: ber.Element) -> str:
    return (f'[{element.tag_class.name} {element.tag}'
            f'{" constructed" if element.constructed else ""}]')


def _fields(element: ber.Element,
            known: set[int],
            ignored: set[int]) -> dict[int, ber.Element]:
    """Context-specific components of an APDU by tag"""
    fields: dict[int, ber.Element] = {}
    for child in element.children():
        if child.tag_class == _C and child.tag in ignored:
            continue
        if child.tag_class != _C or child.tag not in known:
            raise ber.DecodeError(f'unknown component {_name(child)}')
        if child.tag in fields:
            raise ber.DecodeError(f'repeated component {_name(child)}')
        fields[child.tag] = child
    return fields


def _get(fields: dict[int, ber.Element],
         tag: int,
         decode: typing.Callable[[ber.Element], _T]) -> _T | None:
    element = fields.get(tag)
    return None if element is None else decode(element)


def _mandatory(fields: dict[int, ber.Element],
               tag: int,
               decode: typing.Callable[[ber.Element], _T],
               what: str) -> _T:
    element = fields.get(tag)
    if element is None:
        raise ber.DecodeError(f'no {what}')
    return decode(element)


def _single(element: ber.Element, what: str) -> ber.Element:
    """The one element inside an explicit tag"""
    if not element.constructed:
        raise ber.DecodeError(f'{what}: explicit tag must be constructed')
    children = element.children()
    if len(children) != 1:
        raise ber.DecodeError(f'{what}: {len(children)} values in an '
                              f'explicit tag')
    return children[0]


def _primitive(element: ber.Element, what: str) -> ber.Element:
    if element.constructed:
        raise ber.DecodeError(f'{what} must be primitive')
    return element


def _universal(element: ber.Element,
               tag: ber.UniversalTag,
               what: str) -> ber.Element:
    if (element.tag_class != _U or element.tag != tag or
            element.constructed):
        raise ber.DecodeError(f'{what}: {_name(element)} is not a '
                              f'primitive {tag.name}')
    return element


def _decode_enum(element: ber.Element, enum_type: type[_E]) -> _E:
    if element.constructed:
        raise ber.DecodeError(f'{enum_type.__name__} must be primitive')
    value = ber.decode_integer(element.contents)
    try:
        return enum_type(value)
    except ValueError:
        raise ber.DecodeError(f'invalid {enum_type.__name__} '
                              f'{ber.integer_text(value)}'
                              ) from None


def _decode_bits(element: ber.Element) -> list[bool]:
    return ber.decode_bit_string(_primitive(element, 'BIT STRING').contents)


def _decode_explicit_oid(element: ber.Element) -> common.ObjectIdentifier:
    value = _universal(_single(element, 'OBJECT IDENTIFIER'),
                       ber.UniversalTag.OBJECT_IDENTIFIER,
                       'OBJECT IDENTIFIER')
    return ber.decode_object_identifier(value.contents)


def _decode_implicit_oid(element: ber.Element) -> common.ObjectIdentifier:
    return ber.decode_object_identifier(
        _primitive(element, 'mechanism-name').contents)


def _decode_explicit_int(element: ber.Element) -> int:
    value = _universal(_single(element, 'invocation identifier'),
                       ber.UniversalTag.INTEGER, 'invocation identifier')
    return ber.decode_integer(value.contents)


def _decode_ap_title(element: ber.Element) -> common.ApTitle:
    value = _single(element, 'AP-title')
    if (value.tag_class == _U and
            value.tag == ber.UniversalTag.OBJECT_IDENTIFIER):
        return ber.decode_object_identifier(
            _primitive(value, 'AP-title').contents)
    return value


def _decode_ae_qualifier(element: ber.Element) -> common.AeQualifier:
    value = _single(element, 'AE-qualifier')
    if value.tag_class == _U and value.tag == ber.UniversalTag.INTEGER:
        return ber.decode_integer(_primitive(value, 'AE-qualifier').contents)
    return value


def _decode_element(element: ber.Element) -> ber.Element:
    return _single(element, 'authentication-value')


def _decode_oid_list(element: ber.Element) -> list[common.ObjectIdentifier]:
    if not element.constructed:
        raise ber.DecodeError('application-context-name-list must be '
                              'constructed')
    return [ber.decode_object_identifier(
                _universal(child, ber.UniversalTag.OBJECT_IDENTIFIER,
                           'application-context-name-list').contents)
            for child in element.children()]


def _decode_graphic_string(element: ber.Element) -> str:
    return ber.decode_string(ber.string_contents(element),
                             ber.UniversalTag.GRAPHIC_STRING)


def _decode_user_information(element: ber.Element) -> list[ber.External]:
    if not element.constructed:
        raise ber.DecodeError('user-information must be constructed')
    result = []
    for child in element.children():
        if (child.tag_class != _U or child.tag != ber.UniversalTag.EXTERNAL
                or not child.constructed):
            raise ber.DecodeError(f'user-information: {_name(child)} is not '
                                  f'an EXTERNAL')
        result.append(ber.decode_external(child.contents))
    return result


def _explicit(tag: int, contents: bytes) -> bytes:
    return _tlv(_C, tag, True, contents)


def _int(value: int) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f'INTEGER value must be int, not '
                        f'{type(value).__name__}')
    return _tlv(_U, ber.UniversalTag.INTEGER, False,
                ber.encode_integer(value))


def _oid(value: common.ObjectIdentifier) -> bytes:
    if not isinstance(value, tuple) or isinstance(value, ber.Element):
        raise TypeError(f'OBJECT IDENTIFIER must be a tuple of int, not '
                        f'{type(value).__name__}')
    return _tlv(_U, ber.UniversalTag.OBJECT_IDENTIFIER, False,
                ber.encode_object_identifier(value))


def _opt_bits(tag: int, value: list[bool] | None) -> bytes:
    if value is None:
        return b''
    if not isinstance(value, list):
        raise TypeError(f'bit string [{tag}] must be a list of bool')
    return _tlv(_C, tag, False, ber.encode_bit_string(value))


def _opt_enum(tag: int,
              value: int | None,
              enum_type: type[enum.IntEnum]) -> bytes:
    if value is None:
        return b''
    return _tlv(_C, tag, False, ber.encode_integer(enum_type(value)))


def _opt_explicit_int(tag: int, value: int | None) -> bytes:
    return b'' if value is None else _explicit(tag, _int(value))


def _opt_ap_title(tag: int, value: common.ApTitle | None) -> bytes:
    if value is None:
        return b''
    if isinstance(value, ber.Element):
        return _explicit(tag, ber.encode(value))
    return _explicit(tag, _oid(value))


def _opt_ae_qualifier(tag: int, value: common.AeQualifier | None) -> bytes:
    if value is None:
        return b''
    if isinstance(value, ber.Element):
        return _explicit(tag, ber.encode(value))
    return _explicit(tag, _int(value))


def _opt_implicit_oid(tag: int, value: common.ObjectIdentifier | None
                      ) -> bytes:
    if value is None:
        return b''
    return _tlv(_C, tag, False, ber.encode_object_identifier(value))


def _opt_element(tag: int, value: ber.Element | None) -> bytes:
    if value is None:
        return b''
    if not isinstance(value, ber.Element):
        raise TypeError(f'authentication-value [{tag}] must be a '
                        f'ber.Element')
    return _explicit(tag, ber.encode(value))


def _opt_oid_list(tag: int,
                  value: list[common.ObjectIdentifier] | None) -> bytes:
    if value is None:
        return b''
    return _tlv(_C, tag, True, b''.join([_oid(oid) for oid in value]))


def _opt_graphic_string(tag: int, value: str | None) -> bytes:
    if value is None:
        return b''
    return _tlv(_C, tag, False, ber.encode_string(
        value, ber.UniversalTag.GRAPHIC_STRING))


def _opt_user_information(value: list[ber.External] | None) -> bytes:
    if value is None:
        return b''
    parts = []
    for external in value:
        if not isinstance(external, ber.External):
            raise TypeError(f'user-information item must be a '
                            f'ber.External, not {type(external).__name__}')
        parts.append(_tlv(_U, ber.UniversalTag.EXTERNAL, True,
                          ber.encode_external(external)))
    return _tlv(_C, 30, True, b''.join(parts))
