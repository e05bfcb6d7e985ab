"""Presentation protocol (ISO 8823-1 / ITU-T X.226) PPDU codec.

Pure functions, no I/O, no logging, on the BER core `hat.drivers.ber`
(X.226 clause 8 and its ASN.1 module, normal mode). Each PPDU of
`hat.drivers.copp.common` has an ``encode_*`` function returning octets and
a ``decode_*`` function taking the octets a session SPDU carried (which
SPDU tells which PPDU to expect: see `hat.drivers.copp.common`)::

    CP-type       encode_cp / decode_cp          (31 ...: SET)
    CPA-PPDU      encode_cpa / decode_cpa        (31 ...: SET)
    CPR-PPDU      encode_cpr / decode_cpr        (30 ...: normal mode)
    Abort-type    encode_abort / decode_abort    (a0 ...: ARU, 30 ...: ARP)
    User-data     encode_user_data / decode_user_data
                                                 (61 ...: fully encoded,
                                                  40 ...: simply encoded)
                  iter_pdv_lists                 (61 ...: one PDV-list at
                                                  a time)

Encoding writes definite lengths, components in the order of the ASN.1
module, and omits absent (``None``) components; a bad field raises
`TypeError` or `ValueError` naming it (for example an empty
fully-encoded-data, which X.226 gives at least one PDV-list).

Decoding raises `PpduDecodeError` (a `hat.drivers.ber.DecodeError`, so a
`ValueError`), naming the PPDU and the problem, for every input that is
not that PPDU in normal mode; nothing else. It accepts what BER allows
(indefinite lengths, segmented strings, SEQUENCE components in any order,
as they have distinct tags) and ignores the normal-mode parameters of
later editions of X.226 that this protocol machine does not negotiate:
protocol-options [11], initiators- and responders-nominated-context [12]
[13] and extensions [14]. It rejects the X.410-1984 mode (mode-selector 0
and the X.410 parameters), unknown or repeated components, and values
outside the enumerations of X.226 (results, reasons, event identifiers).

"""

import enum
import typing

from hat.drivers import ber
from hat.drivers.copp import common


class PpduDecodeError(ber.DecodeError):
    """Octets that are not the expected PPDU (a `ValueError`)"""


_U = ber.Class.UNIVERSAL
_A = ber.Class.APPLICATION
_C = ber.Class.CONTEXT

_Key = tuple[ber.Class, int]

_IGNORED = frozenset({(_C, 11), (_C, 12), (_C, 13), (_C, 14)})


# --- public API -------------------------------------------------------------

def encode_cp(ppdu: common.CpPpdu) -> bytes:
    """Encode a CP-type (normal mode)

    Raises:
        TypeError: a field of the wrong type
        ValueError: a field value that cannot be encoded

    """
    params = [
        _opt_bits(0, ppdu.protocol_version),
        _opt_octets(1, ppdu.calling_presentation_selector),
        _opt_octets(2, ppdu.called_presentation_selector),
        (b'' if ppdu.context_definition_list is None else
         _tlv(_C, 4, True, _encode_definition_list(
             ppdu.context_definition_list))),
        (b'' if ppdu.default_context_name is None else
         _tlv(_C, 6, True, _encode_default_context_name(
             ppdu.default_context_name))),
        _opt_bits(8, ppdu.presentation_requirements),
        _opt_bits(9, ppdu.user_session_requirements),
        (b'' if ppdu.user_data is None else
         encode_user_data(ppdu.user_data))]
    return _tlv(_U, ber.UniversalTag.SET, True,
                _MODE_SELECTOR + _tlv(_C, 2, True, b''.join(params)))


def decode_cp(data: ber.Bytes) -> common.CpPpdu:
    """Decode a CP-type (normal mode)

    Raises:
        PpduDecodeError: not a normal-mode CP-type

    """
    with _errors('CP-type'):
        fields = _decode_connect_set(data, 'CP-type')
        return common.CpPpdu(
            protocol_version=_get_bits(fields, 0),
            calling_presentation_selector=_get_octets(fields, 1),
            called_presentation_selector=_get_octets(fields, 2),
            context_definition_list=_get(
                fields, 4, _decode_definition_list),
            default_context_name=_get(
                fields, 6, _decode_default_context_name),
            presentation_requirements=_get_bits(fields, 8),
            user_session_requirements=_get_bits(fields, 9),
            user_data=_get_user_data(fields))


def encode_cpa(ppdu: common.CpaPpdu) -> bytes:
    """Encode a CPA-PPDU (normal mode)

    Raises:
        TypeError: a field of the wrong type
        ValueError: a field value that cannot be encoded

    """
    params = [
        _opt_bits(0, ppdu.protocol_version),
        _opt_octets(3, ppdu.responding_presentation_selector),
        (b'' if ppdu.context_definition_result_list is None else
         _tlv(_C, 5, True, _encode_result_list(
             ppdu.context_definition_result_list))),
        _opt_bits(8, ppdu.presentation_requirements),
        _opt_bits(9, ppdu.user_session_requirements),
        (b'' if ppdu.user_data is None else
         encode_user_data(ppdu.user_data))]
    return _tlv(_U, ber.UniversalTag.SET, True,
                _MODE_SELECTOR + _tlv(_C, 2, True, b''.join(params)))


def decode_cpa(data: ber.Bytes) -> common.CpaPpdu:
    """Decode a CPA-PPDU (normal mode)

    Raises:
        PpduDecodeError: not a normal-mode CPA-PPDU

    """
    with _errors('CPA-PPDU'):
        fields = _decode_connect_set(data, 'CPA-PPDU')
        return common.CpaPpdu(
            protocol_version=_get_bits(fields, 0),
            responding_presentation_selector=_get_octets(fields, 3),
            context_definition_result_list=_get(
                fields, 5, _decode_result_list),
            presentation_requirements=_get_bits(fields, 8),
            user_session_requirements=_get_bits(fields, 9),
            user_data=_get_user_data(fields))


def encode_cpr(ppdu: common.CprPpdu) -> bytes:
    """Encode a CPR-PPDU (normal mode)

    Raises:
        TypeError: a field of the wrong type
        ValueError: a field value that cannot be encoded

    """
    params = [
        _opt_bits(0, ppdu.protocol_version),
        _opt_octets(3, ppdu.responding_presentation_selector),
        (b'' if ppdu.context_definition_result_list is None else
         _tlv(_C, 5, True, _encode_result_list(
             ppdu.context_definition_result_list))),
        _opt_enum(7, ppdu.default_context_result, common.Result),
        _opt_enum(10, ppdu.provider_reason, common.ProviderReason),
        (b'' if ppdu.user_data is None else
         encode_user_data(ppdu.user_data))]
    return _tlv(_U, ber.UniversalTag.SEQUENCE, True, b''.join(params))


def decode_cpr(data: ber.Bytes) -> common.CprPpdu:
    """Decode a CPR-PPDU (normal mode)

    Raises:
        PpduDecodeError: not a normal-mode CPR-PPDU

    """
    with _errors('CPR-PPDU'):
        element = ber.decode(data)
        if (element.tag_class, element.tag) == (_U, ber.UniversalTag.SET):
            raise ber.DecodeError('X.410-1984 mode not supported')
        _expect(element, _U, ber.UniversalTag.SEQUENCE, True,
                'normal-mode-parameters')
        fields = _fields(element, 'normal-mode-parameters',
                         {(_C, 0), (_C, 3), (_C, 5), (_C, 7), (_C, 10),
                          (_A, 0), (_A, 1)})
        return common.CprPpdu(
            protocol_version=_get_bits(fields, 0),
            responding_presentation_selector=_get_octets(fields, 3),
            context_definition_result_list=_get(
                fields, 5, _decode_result_list),
            default_context_result=_get_enum(fields, 7, common.Result),
            provider_reason=_get_enum(fields, 10, common.ProviderReason),
            user_data=_get_user_data(fields))


def encode_abort(ppdu: common.AbortPpdu) -> bytes:
    """Encode an Abort-type: ARU-PPDU (normal mode) or ARP-PPDU

    Raises:
        TypeError: not an ARU-PPDU or ARP-PPDU, or a field of the wrong
            type
        ValueError: a field value that cannot be encoded

    """
    if isinstance(ppdu, common.AruPpdu):
        params = [
            (b'' if ppdu.context_identifier_list is None else
             _tlv(_C, 0, True, _encode_identifier_list(
                 ppdu.context_identifier_list))),
            (b'' if ppdu.user_data is None else
             encode_user_data(ppdu.user_data))]
        return _tlv(_C, 0, True, b''.join(params))
    if isinstance(ppdu, common.ArpPpdu):
        params = [_opt_enum(0, ppdu.provider_reason, common.AbortReason),
                  _opt_enum(1, ppdu.event_identifier,
                            common.EventIdentifier)]
        return _tlv(_U, ber.UniversalTag.SEQUENCE, True, b''.join(params))
    raise TypeError(f'not an abort PPDU: {type(ppdu).__name__}')


def decode_abort(data: ber.Bytes) -> common.AbortPpdu:
    """Decode an Abort-type: ARU-PPDU (normal mode) or ARP-PPDU

    Raises:
        PpduDecodeError: not an ARU-PPDU in normal mode or an ARP-PPDU

    """
    with _errors('Abort-type'):
        element = ber.decode(data)
        key = element.tag_class, element.tag
        if key == (_C, 0) and element.constructed:
            fields = _fields(element, 'ARU-PPDU',
                             {(_C, 0), (_A, 0), (_A, 1)})
            return common.AruPpdu(
                context_identifier_list=_get(fields, 0,
                                             _decode_identifier_list),
                user_data=_get_user_data(fields))
        if key == (_U, ber.UniversalTag.SEQUENCE) and element.constructed:
            fields = _fields(element, 'ARP-PPDU', {(_C, 0), (_C, 1)})
            return common.ArpPpdu(
                provider_reason=_get_enum(fields, 0, common.AbortReason),
                event_identifier=_get_enum(fields, 1,
                                           common.EventIdentifier))
        if key == (_U, ber.UniversalTag.SET):
            raise ber.DecodeError('X.410-1984 mode ARU-PPDU not supported')
        raise ber.DecodeError(f'unknown PPDU {_name(element)}')


def encode_user_data(user_data: common.UserData) -> bytes:
    """Encode User-data (P-DATA, P-RELEASE and the PPDUs' user data)

    Raises:
        TypeError: not `common.FullyEncodedData` or
            `common.SimplyEncodedData`, or PDV data of the wrong type
        ValueError: no PDV-list, or a field value that cannot be encoded

    """
    octets = _encode_one_pdv(user_data)
    if octets is not None:
        return octets
    if isinstance(user_data, common.FullyEncodedData):
        if not user_data.pdv_lists:
            raise ValueError('fully-encoded-data without PDV-list')
        return _tlv(_A, 1, True, b''.join(
            [_encode_pdv_list(pdv_list) for pdv_list in user_data.pdv_lists]))
    if isinstance(user_data, common.SimplyEncodedData):
        return _tlv(_A, 0, False, user_data.data)
    raise TypeError(f'not user data: {type(user_data).__name__}')


def decode_user_data(data: ber.Bytes) -> common.UserData:
    """Decode User-data (P-DATA, P-RELEASE)

    Raises:
        PpduDecodeError: not User-data

    """
    user_data = _decode_one_pdv(data)
    if user_data is not None:
        return user_data
    with _errors('User-data'):
        return _decode_user_data(ber.decode(data))


def iter_pdv_lists(data: ber.Bytes) -> typing.Iterator[common.PdvList]:
    """Decode the fully-encoded User-data of a P-DATA one PDV-list at a time

    The PDV-lists of `decode_user_data`, each decoded when the iteration
    reaches it, so that a P-DATA of many small PDVs is never held decoded
    at once (a receiver bounds what it holds by PDVs, not by P-DATA).

    Raises:
        PpduDecodeError: at the first iteration, for octets that are not
            one fully-encoded-data element (simply-encoded data included)
            or that have no PDV-list; later, at a malformed PDV-list (the
            PDV-lists before it have been yielded)

    """
    # the fast path of one PDV-list (see below: bench_mms.py's rows)
    user_data = _decode_one_pdv(data)
    if user_data is not None:
        yield from user_data.pdv_lists
        return
    with _errors('User-data'):
        element = ber.decode(data)
        if element.tag_class == _A and element.tag == 0:
            raise ber.DecodeError('simply-encoded data (not PDV-lists)')
        _expect(element, _A, 1, True, 'fully-encoded-data')
        items = ber.iter_decode(element.contents)
        item = next(items, None)
        if item is None:
            raise ber.DecodeError('fully-encoded-data without PDV-list')
    while item is not None:
        with _errors('User-data'):
            pdv_list = _decode_pdv_list(item)
        yield pdv_list
        with _errors('User-data'):
            item = next(items, None)


# --- fast paths of P-DATA -------------------------------------------------
#
# Duplicated hot path: every MMS request and response is one P-DATA with one
# PDV-list (no transfer-syntax-name, a small presentation-context-identifier,
# single-ASN1-type). These two functions handle exactly that form straight
# from the octets and return None for anything else, which then takes the
# general path (`_encode_pdv_list`, `_decode_user_data`); the result is the
# same either way (test_copp_codec.py checks both paths agree). They protect
# the rows read, read-16 and list-500 of benchmarks/bench_mms.py (about 5
# times faster than the general path for a 17-octet MMS PDU).

_Element = ber.Element
_PdvList = common.PdvList
_FullyEncodedData = common.FullyEncodedData
_encode_length = ber.encode_length
_decode_element = ber.decode


def encode_single_pdv(context_id: typing.Any,
                      element: typing.Any) -> bytes | None:
    """The fully-encoded User-data of one PDV-list without
    transfer-syntax-name, whose presentation-context-identifier
    `context_id` is below 128 and whose data is `element`
    (single-ASN1-type): the octets `encode_user_data` gives for that, or
    ``None`` for any other argument (then use `encode_user_data`).

    The form of every MMS request and response, straight to octets without
    the `common.FullyEncodedData` around it (benchmarks/bench_mms.py rows
    read, read-16 and list-500)."""
    if (type(context_id) is not int or not 0 <= context_id < 0x80 or
            type(element) is not _Element):
        return None
    value = ber.encode(element)
    n3 = len(value)
    n2 = n3 + 4 + (1 if n3 < 0x80 else 2 if n3 < 0x100 else 3)
    if n2 > 0xffff:
        return None
    head2 = _encode_length(n2)
    return b''.join((b'\x61', _encode_length(n2 + 1 + len(head2)),
                     b'\x30', head2, b'\x02\x01', bytes((context_id,)),
                     b'\xa0', _encode_length(n3), value))


def _encode_one_pdv(user_data: typing.Any) -> bytes | None:
    if type(user_data) is not _FullyEncodedData:
        return None
    pdv_lists = user_data.pdv_lists
    if type(pdv_lists) is not list or len(pdv_lists) != 1:
        return None
    pdv_list = pdv_lists[0]
    if type(pdv_list) is not _PdvList:
        return None
    transfer_syntax_name, context_id, element = pdv_list
    if transfer_syntax_name is not None:
        return None
    return encode_single_pdv(context_id, element)


def _length_at(data: bytes, i: int, end: int) -> tuple[int, int]:
    """(index after the length octets at `i`, length) of a definite length
    of at most 2 length octets, (-1, 0) for anything else"""
    if i >= end:
        return -1, 0
    n = data[i]
    if n < 0x80:
        return i + 1, n
    if n == 0x81 and i + 1 < end:
        return i + 2, data[i + 1]
    if n == 0x82 and i + 2 < end:
        return i + 3, (data[i + 1] << 8) | data[i + 2]
    return -1, 0


def decode_single_pdv(data: typing.Any) -> tuple[int, ber.Element] | None:
    """(presentation-context-identifier, data) of fully-encoded User-data
    `data` (``bytes``) of one PDV-list without transfer-syntax-name, with a
    presentation-context-identifier below 128 and single-ASN1-type data
    (definite lengths of at most two octets); ``None`` for anything else,
    valid or not (then use `decode_user_data` or `iter_pdv_lists`, which
    decode the same octets to the same PDV).

    The form of every MMS request and response, without the
    `common.FullyEncodedData` around it (benchmarks/bench_mms.py rows read,
    read-16 and list-500); the element's contents are a view of `data`."""
    if type(data) is not bytes:
        return None
    end = len(data)
    # fully-encoded-data [APPLICATION 1], filling data
    if end < 9 or data[0] != 0x61:
        return None
    i, n = _length_at(data, 1, end)
    if i < 0 or i + n != end or data[i] != 0x30:
        return None
    # one PDV-list, filling the fully-encoded-data
    i, n = _length_at(data, i + 1, end)
    if (i < 0 or i + n != end or i + 4 > end or data[i] != 0x02 or
            data[i + 1] != 1 or data[i + 2] >= 0x80 or data[i + 3] != 0xa0):
        return None
    context_id = data[i + 2]
    # single-ASN1-type [0], filling the PDV-list
    i, n = _length_at(data, i + 4, end)
    if i < 0 or i + n != end:
        return None
    try:
        element = _decode_element(memoryview(data)[i:])
    except ber.DecodeError:
        return None
    return context_id, element


def _decode_one_pdv(data: typing.Any) -> common.FullyEncodedData | None:
    single = decode_single_pdv(data)
    if single is None:
        return None
    return _FullyEncodedData([_PdvList(None, *single)])


# --- helpers ----------------------------------------------------------------

_tlv = ber.encode_tlv

# mode-selector [0] IMPLICIT SET { mode-value [0] IMPLICIT INTEGER
# normal-mode(1) }
_MODE_SELECTOR = bytes.fromhex('a003800101')


class _errors:
    """Context manager turning `ber.DecodeError` into `PpduDecodeError`
    naming the PPDU"""

    def __init__(self, what: str):
        self._what = what

    def __enter__(self) -> None:
        pass

    def __exit__(self,
                 exc_type: type[BaseException] | None,
                 exc: BaseException | None,
                 tb: typing.Any) -> None:
        if exc is None or isinstance(exc, PpduDecodeError):
            return
        if isinstance(exc, ber.DecodeError):
            raise PpduDecodeError(f'{self._what}: {exc}') from exc


def _name(element: ber.Element) -> str:
    return (f'[{element.tag_class.name} {element.tag}'
            f'{" constructed" if element.constructed else ""}]')


def _expect(element: ber.Element,
            tag_class: ber.Class,
            tag: int,
            constructed: bool | None,
            what: str) -> None:
    if element.tag_class != tag_class or element.tag != tag:
        raise ber.DecodeError(f'{what}: unexpected {_name(element)}')
    if constructed is not None and element.constructed != constructed:
        form = 'constructed' if constructed else 'primitive'
        raise ber.DecodeError(f'{what}: {_name(element)} must be {form}')


def _fields(element: ber.Element,
            what: str,
            known: set[_Key],
            ignored: frozenset[_Key] = frozenset()
            ) -> dict[_Key, ber.Element]:
    """Components of a SET or SEQUENCE by (class, tag)"""
    if not element.constructed:
        raise ber.DecodeError(f'{what} must be constructed')
    fields: dict[_Key, ber.Element] = {}
    for child in element.children():
        key = child.tag_class, child.tag
        if key in ignored:
            continue
        if key not in known:
            raise ber.DecodeError(f'{what}: unknown component '
                                  f'{_name(child)}')
        if key in fields:
            raise ber.DecodeError(f'{what}: repeated component '
                                  f'{_name(child)}')
        fields[key] = child
    return fields


_T = typing.TypeVar('_T')


def _get(fields: dict[_Key, ber.Element],
         tag: int,
         decode: typing.Callable[[ber.Element], _T]
         ) -> _T | None:
    element = fields.get((_C, tag))
    return None if element is None else decode(element)


def _get_bits(fields: dict[_Key, ber.Element], tag: int) -> list[bool] | None:
    element = fields.get((_C, tag))
    if element is None:
        return None
    _expect(element, _C, tag, False, 'BIT STRING')
    return ber.decode_bit_string(element.contents)


def _get_octets(fields: dict[_Key, ber.Element],
                tag: int) -> ber.Bytes | None:
    element = fields.get((_C, tag))
    if element is None:
        return None
    return ber.string_contents(element)


_E = typing.TypeVar('_E', bound=enum.IntEnum)


def _get_enum(fields: dict[_Key, ber.Element],
              tag: int,
              enum_type: type[_E]) -> _E | None:
    element = fields.get((_C, tag))
    if element is None:
        return None
    return _decode_enum(element, enum_type)


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


def _get_user_data(fields: dict[_Key, ber.Element]
                   ) -> common.UserData | None:
    fully = fields.get((_A, 1))
    simply = fields.get((_A, 0))
    if fully is not None and simply is not None:
        raise ber.DecodeError('both simply- and fully-encoded-data')
    element = fully if fully is not None else simply
    return None if element is None else _decode_user_data(element)


def _opt_bits(tag: int, value: list[bool] | None) -> bytes:
    if value is None:
        return b''
    if not isinstance(value, list):
        raise TypeError(f'bit string [{tag}] must be a list of bool')
    return _tlv(_C, tag, False, ber.encode_bit_string(value))


def _opt_octets(tag: int, value: ber.Bytes | None) -> bytes:
    if value is None:
        return b''
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f'selector [{tag}] must be bytes, not '
                        f'{type(value).__name__}')
    return _tlv(_C, tag, False, value)


def _opt_enum(tag: int,
              value: int | None,
              enum_type: type[typing.Any]) -> bytes:
    if value is None:
        return b''
    return _tlv(_C, tag, False, ber.encode_integer(enum_type(value)))


def _integer(value: int, what: str) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f'{what} must be int, not {type(value).__name__}')
    return _tlv(_U, ber.UniversalTag.INTEGER, False,
                ber.encode_integer(value))


def _oid(value: common.ObjectIdentifier) -> bytes:
    return _tlv(_U, ber.UniversalTag.OBJECT_IDENTIFIER, False,
                ber.encode_object_identifier(value))


def _decode_int(element: ber.Element, what: str) -> int:
    _expect(element, _U, ber.UniversalTag.INTEGER, False, what)
    return ber.decode_integer(element.contents)


def _decode_oid(element: ber.Element, what: str) -> common.ObjectIdentifier:
    _expect(element, _U, ber.UniversalTag.OBJECT_IDENTIFIER, False, what)
    return ber.decode_object_identifier(element.contents)


def _decode_connect_set(data: ber.Bytes, what: str
                        ) -> dict[_Key, ber.Element]:
    """Normal-mode parameters of a CP-type or CPA-PPDU"""
    element = ber.decode(data)
    _expect(element, _U, ber.UniversalTag.SET, True, what)
    fields = _fields(element, what, {(_C, 0), (_C, 1), (_C, 2)})
    mode = fields.get((_C, 0))
    if mode is None:
        raise ber.DecodeError('no mode-selector')
    mode_fields = _fields(mode, 'mode-selector', {(_C, 0)})
    mode_value = mode_fields.get((_C, 0))
    if mode_value is None:
        raise ber.DecodeError('mode-selector without mode-value')
    _expect(mode_value, _C, 0, False, 'mode-value')
    value = ber.decode_integer(mode_value.contents)
    if value == 0 or (_C, 1) in fields:
        raise ber.DecodeError('X.410-1984 mode not supported')
    if value != 1:
        raise ber.DecodeError(f'invalid mode-value {ber.integer_text(value)}')
    params = fields.get((_C, 2))
    if params is None:
        return {}
    if what == 'CP-type':
        known = {(_C, 0), (_C, 1), (_C, 2), (_C, 4), (_C, 6), (_C, 8),
                 (_C, 9), (_A, 0), (_A, 1)}
    else:
        known = {(_C, 0), (_C, 3), (_C, 5), (_C, 8), (_C, 9), (_A, 0),
                 (_A, 1)}
    return _fields(params, 'normal-mode-parameters', known, _IGNORED)


def _encode_definition_list(items: list[common.ContextDefinition]) -> bytes:
    result = []
    for item in items:
        names = b''.join([_oid(name) for name in item.transfer_syntax_names])
        result.append(_tlv(_U, ber.UniversalTag.SEQUENCE, True,
                           _integer(item.context_id,
                                    'presentation-context-identifier') +
                           _oid(item.abstract_syntax_name) +
                           _tlv(_U, ber.UniversalTag.SEQUENCE, True, names)))
    return b''.join(result)


def _decode_definition_list(element: ber.Element
                            ) -> list[common.ContextDefinition]:
    what = 'presentation-context-definition-list'
    _expect(element, _C, 4, True, what)
    result = []
    for item in element.children():
        _expect(item, _U, ber.UniversalTag.SEQUENCE, True, what)
        children = item.children()
        if len(children) != 3:
            raise ber.DecodeError(f'{what}: item of {len(children)} '
                                  f'components')
        context_id = _decode_int(children[0],
                                 'presentation-context-identifier')
        abstract = _decode_oid(children[1], 'abstract-syntax-name')
        _expect(children[2], _U, ber.UniversalTag.SEQUENCE, True,
                'transfer-syntax-name-list')
        transfer = [_decode_oid(name, 'transfer-syntax-name')
                    for name in children[2].children()]
        result.append(common.ContextDefinition(
            context_id=context_id,
            abstract_syntax_name=abstract,
            transfer_syntax_names=transfer))
    return result


def _encode_default_context_name(value: common.DefaultContextName) -> bytes:
    return (_tlv(_C, 0, False, ber.encode_object_identifier(
                value.abstract_syntax_name)) +
            _tlv(_C, 1, False, ber.encode_object_identifier(
                value.transfer_syntax_name)))


def _decode_default_context_name(element: ber.Element
                                 ) -> common.DefaultContextName:
    what = 'default-context-name'
    fields = _fields(element, what, {(_C, 0), (_C, 1)})
    if len(fields) != 2:
        raise ber.DecodeError(f'{what}: missing syntax name')
    for field in fields.values():
        if field.constructed:
            raise ber.DecodeError(f'{what}: constructed syntax name')
    return common.DefaultContextName(
        abstract_syntax_name=ber.decode_object_identifier(
            fields[_C, 0].contents),
        transfer_syntax_name=ber.decode_object_identifier(
            fields[_C, 1].contents))


def _encode_result_list(items: list[common.ContextResult]) -> bytes:
    result = []
    for item in items:
        parts = [_tlv(_C, 0, False, ber.encode_integer(
            common.Result(item.result)))]
        if item.transfer_syntax_name is not None:
            parts.append(_tlv(_C, 1, False, ber.encode_object_identifier(
                item.transfer_syntax_name)))
        if item.provider_reason is not None:
            parts.append(_tlv(_C, 2, False, ber.encode_integer(
                common.ContextRejectReason(item.provider_reason))))
        result.append(_tlv(_U, ber.UniversalTag.SEQUENCE, True,
                           b''.join(parts)))
    return b''.join(result)


def _decode_result_list(element: ber.Element) -> list[common.ContextResult]:
    what = 'presentation-context-definition-result-list'
    _expect(element, _C, 5, True, what)
    result = []
    for item in element.children():
        _expect(item, _U, ber.UniversalTag.SEQUENCE, True, what)
        fields = _fields(item, what, {(_C, 0), (_C, 1), (_C, 2)})
        if (_C, 0) not in fields:
            raise ber.DecodeError(f'{what}: item without result')
        name = fields.get((_C, 1))
        if name is not None and name.constructed:
            raise ber.DecodeError(f'{what}: constructed '
                                  f'transfer-syntax-name')
        result.append(common.ContextResult(
            result=_decode_enum(fields[_C, 0], common.Result),
            transfer_syntax_name=(
                None if name is None else
                ber.decode_object_identifier(name.contents)),
            provider_reason=_get_enum(fields, 2,
                                      common.ContextRejectReason)))
    return result


def _encode_identifier_list(items: list[common.ContextIdentifier]) -> bytes:
    return b''.join([
        _tlv(_U, ber.UniversalTag.SEQUENCE, True,
             _integer(item.context_id, 'presentation-context-identifier') +
             _oid(item.transfer_syntax_name))
        for item in items])


def _decode_identifier_list(element: ber.Element
                            ) -> list[common.ContextIdentifier]:
    what = 'presentation-context-identifier-list'
    _expect(element, _C, 0, True, what)
    result = []
    for item in element.children():
        _expect(item, _U, ber.UniversalTag.SEQUENCE, True, what)
        children = item.children()
        if len(children) != 2:
            raise ber.DecodeError(f'{what}: item of {len(children)} '
                                  f'components')
        result.append(common.ContextIdentifier(
            context_id=_decode_int(children[0],
                                   'presentation-context-identifier'),
            transfer_syntax_name=_decode_oid(children[1],
                                             'transfer-syntax-name')))
    return result


def _encode_pdv_list(pdv_list: common.PdvList) -> bytes:
    parts = []
    if pdv_list.transfer_syntax_name is not None:
        parts.append(_oid(pdv_list.transfer_syntax_name))
    parts.append(_integer(pdv_list.context_id,
                          'presentation-context-identifier'))
    data = pdv_list.data
    if isinstance(data, ber.Element):
        parts.append(_tlv(_C, 0, True, ber.encode(data)))
    elif isinstance(data, (bytes, bytearray, memoryview)):
        parts.append(_tlv(_C, 1, False, data))
    elif isinstance(data, list):
        parts.append(_tlv(_C, 2, False, ber.encode_bit_string(data)))
    else:
        raise TypeError(f'invalid presentation-data-values '
                        f'{type(data).__name__}')
    return _tlv(_U, ber.UniversalTag.SEQUENCE, True, b''.join(parts))


def _decode_user_data(element: ber.Element) -> common.UserData:
    if element.tag_class == _A and element.tag == 0:
        return common.SimplyEncodedData(
            data=memoryview(ber.string_contents(element)))
    _expect(element, _A, 1, True, 'User-data')
    pdv_lists = [_decode_pdv_list(item) for item in element.children()]
    if not pdv_lists:
        raise ber.DecodeError('fully-encoded-data without PDV-list')
    return common.FullyEncodedData(pdv_lists=pdv_lists)


def _decode_pdv_list(element: ber.Element) -> common.PdvList:
    what = 'PDV-list'
    _expect(element, _U, ber.UniversalTag.SEQUENCE, True, what)
    children = element.children()
    transfer_syntax_name = None
    index = 0
    if (children and children[0].tag_class == _U and
            children[0].tag == ber.UniversalTag.OBJECT_IDENTIFIER):
        transfer_syntax_name = _decode_oid(children[0],
                                           'transfer-syntax-name')
        index = 1
    if len(children) != index + 2:
        raise ber.DecodeError(f'{what} of {len(children)} components')
    context_id = _decode_int(children[index],
                             'presentation-context-identifier')
    values = children[index + 1]
    data: ber.Element | ber.Bytes | list[bool]
    if values.tag_class != _C or values.tag > 2:
        raise ber.DecodeError(f'{what}: presentation-data-values '
                              f'{_name(values)}')
    if values.tag == 0:
        if not values.constructed:
            raise ber.DecodeError(f'{what}: single-ASN1-type must be '
                                  f'constructed')
        data = ber.decode(values.contents)
    elif values.tag == 1:
        data = memoryview(ber.string_contents(values))
    else:
        if values.constructed:
            raise ber.DecodeError(f'{what}: constructed arbitrary not '
                                  f'supported')
        data = ber.decode_bit_string(values.contents)
    return common.PdvList(transfer_syntax_name=transfer_syntax_name,
                          context_id=context_id,
                          data=data)
