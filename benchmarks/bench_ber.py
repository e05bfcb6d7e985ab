"""Benchmark of ASN.1 BER implementations on MMS-like PDUs.

Chooses the BER implementation of the OSI upper layers and MMS (issue 16):
`hat.drivers.ber` (this repository's small core, "ours") against the ASN.1
libraries asn1tools, hat-asn1 and pyasn1, where installed (they are
benchmark-only: ``pip install asn1tools hat-asn1 pyasn1``; a missing one is
reported and skipped; none is a dependency of hat-drivers).

Rows (ISO 9506-2 PDUs, byte for byte the same from every implementation,
checked before timing):

* ``read-req`` - confirmed-RequestPDU Read of one variable by
  domain-specific name (``LD0`` / ``MMXU1$MX$TotW$mag$f``)
* ``read-res`` - confirmed-ResponsePDU Read with one floating-point
  success (single precision, 5 octets)
* ``read-res-500`` - confirmed-ResponsePDU Read with 500 floating-point
  successes (a named variable list of 500 floats)

Each row is timed both ways, from Python values to octets (``encode``: the
invoke ID, names and floats; the libraries' value trees are built inside
the timed section, as a codec has to) and back (``decode``: to the same
Python values, floats unpacked with `struct`). The ASN.1 libraries work
from the same MMS subset (`ASN1_MODULE`, IMPLICIT TAGS as ISO 9506-2).

Methodology: for each row, direction and implementation, the operation runs
in a loop long enough for about ``--time`` seconds (default 0.2), repeated
``--rounds`` times (default 5) after one discarded warm-up round; the
median time per operation is reported in microseconds, with the ratio
``impl / ours`` (above 1: slower than ours). Time is `time.perf_counter`;
garbage collection stays enabled (a codec runs with it).

Run::

    python benchmarks/bench_ber.py [--rounds N] [--time S]
        [--impls ours,asn1tools,hat-asn1,pyasn1] [--quick]

"""

import argparse
import platform
import statistics
import struct
import sys
import time

from hat.drivers import ber


ASN1_MODULE = r"""
MMS-Bench DEFINITIONS IMPLICIT TAGS ::= BEGIN

MMSpdu ::= CHOICE {
    confirmed-RequestPDU [0] IMPLICIT Confirmed-RequestPDU,
    confirmed-ResponsePDU [1] IMPLICIT Confirmed-ResponsePDU
}

Confirmed-RequestPDU ::= SEQUENCE {
    invokeID Unsigned32,
    service ConfirmedServiceRequest
}

Confirmed-ResponsePDU ::= SEQUENCE {
    invokeID Unsigned32,
    service ConfirmedServiceResponse
}

ConfirmedServiceRequest ::= CHOICE {
    read [4] IMPLICIT Read-Request
}

ConfirmedServiceResponse ::= CHOICE {
    read [4] IMPLICIT Read-Response
}

Read-Request ::= SEQUENCE {
    specificationWithResult [0] IMPLICIT BOOLEAN DEFAULT FALSE,
    variableAccessSpecification [1] VariableAccessSpecification
}

Read-Response ::= SEQUENCE {
    variableAccessSpecification [0] VariableAccessSpecification OPTIONAL,
    listOfAccessResult [1] IMPLICIT SEQUENCE OF AccessResult
}

VariableAccessSpecification ::= CHOICE {
    listOfVariable [0] IMPLICIT SEQUENCE OF ListOfVariableItem,
    variableListName [1] ObjectName
}

ListOfVariableItem ::= SEQUENCE {
    variableSpecification VariableSpecification
}

VariableSpecification ::= CHOICE {
    name [0] ObjectName
}

ObjectName ::= CHOICE {
    vmd-specific [0] IMPLICIT Identifier,
    domain-specific [1] IMPLICIT DomainSpecific,
    aa-specific [2] IMPLICIT Identifier
}

DomainSpecific ::= SEQUENCE {
    domainID Identifier,
    itemID Identifier
}

Identifier ::= VisibleString

AccessResult ::= CHOICE {
    failure [0] IMPLICIT DataAccessError,
    success Data
}

DataAccessError ::= INTEGER

Data ::= CHOICE {
    array [1] IMPLICIT SEQUENCE OF Data,
    structure [2] IMPLICIT SEQUENCE OF Data,
    boolean [3] IMPLICIT BOOLEAN,
    bit-string [4] IMPLICIT BIT STRING,
    integer [5] IMPLICIT INTEGER,
    unsigned [6] IMPLICIT INTEGER,
    floating-point [7] IMPLICIT FloatingPoint,
    octet-string [9] IMPLICIT OCTET STRING,
    visible-string [10] IMPLICIT VisibleString
}

FloatingPoint ::= OCTET STRING

Unsigned32 ::= INTEGER

END
"""

DOMAIN = 'LD0'
ITEM = 'MMXU1$MX$TotW$mag$f'
INVOKE_ID = 1234

_f32 = struct.Struct('>f')


def _floats(count):
    # exactly representable as float32, so decode gives the same values
    return [_f32.unpack(_f32.pack(1.5 + i * 0.25))[0] for i in range(count)]


# --- ours: hat.drivers.ber --------------------------------------------------

class Ours:
    name = 'ours'

    _C = ber.Class.CONTEXT
    _U = ber.Class.UNIVERSAL

    def encode_read_req(self, invoke_id, domain, item):
        tlv = ber.encode_tlv
        c = self._C
        u = self._U
        name = tlv(c, 1, True,
                   tlv(u, 26, False, domain.encode('ascii')) +
                   tlv(u, 26, False, item.encode('ascii')))
        spec = tlv(c, 1, True,
                   tlv(c, 0, True, tlv(u, 16, True, tlv(c, 0, True, name))))
        return tlv(c, 0, True,
                   tlv(u, 2, False, ber.encode_integer(invoke_id)) +
                   tlv(c, 4, True, spec))

    def decode_read_req(self, data):
        pdu = ber.decode(data)
        if pdu.tag_class != self._C or pdu.tag != 0:
            raise ber.DecodeError('not a confirmed-RequestPDU')
        invoke, service = pdu.children()
        if service.tag != 4:
            raise ber.DecodeError('not a read')
        spec = service.children()[-1]
        [list_of_variable] = spec.children()
        [item] = list_of_variable.children()
        [var_spec] = item.children()
        [object_name] = var_spec.children()
        domain, item_id = object_name.children()
        return (ber.decode_integer(invoke.contents),
                ber.decode_string(domain.contents),
                ber.decode_string(item_id.contents))

    def encode_read_res(self, invoke_id, values):
        tlv = ber.encode_tlv
        c = self._C
        pack = _f32.pack
        results = b''.join([tlv(c, 7, False, b'\x08' + pack(v))
                            for v in values])
        return tlv(c, 1, True,
                   tlv(self._U, 2, False, ber.encode_integer(invoke_id)) +
                   tlv(c, 4, True, tlv(c, 1, True, results)))

    def decode_read_res(self, data):
        pdu = ber.decode(data)
        if pdu.tag_class != self._C or pdu.tag != 1:
            raise ber.DecodeError('not a confirmed-ResponsePDU')
        invoke, service = pdu.children()
        if service.tag != 4:
            raise ber.DecodeError('not a read')
        results = service.children()[-1]
        values = []
        unpack = _f32.unpack_from
        for result in results.children():
            contents = result.contents
            if (result.tag != 7 or result.tag_class != self._C or
                    len(contents) != 5 or contents[0] != 8):
                raise ber.DecodeError('not a single-precision float')
            values.append(unpack(contents, 1)[0])
        return ber.decode_integer(invoke.contents), values


# --- asn1tools --------------------------------------------------------------

class Asn1tools:
    name = 'asn1tools'

    def __init__(self):
        import asn1tools
        self._spec = asn1tools.compile_string(ASN1_MODULE, 'ber')

    def encode_read_req(self, invoke_id, domain, item):
        name = ('domain-specific', {'domainID': domain, 'itemID': item})
        value = ('confirmed-RequestPDU', {
            'invokeID': invoke_id,
            'service': ('read', {
                'variableAccessSpecification': (
                    'listOfVariable',
                    [{'variableSpecification': ('name', name)}])})})
        return self._spec.encode('MMSpdu', value)

    def decode_read_req(self, data):
        _, pdu = self._spec.decode('MMSpdu', data)
        _, read = pdu['service']
        _, variables = read['variableAccessSpecification']
        _, name = variables[0]['variableSpecification']
        _, domain_specific = name
        return (pdu['invokeID'], domain_specific['domainID'],
                domain_specific['itemID'])

    def encode_read_res(self, invoke_id, values):
        pack = _f32.pack
        value = ('confirmed-ResponsePDU', {
            'invokeID': invoke_id,
            'service': ('read', {
                'listOfAccessResult': [
                    ('success', ('floating-point', b'\x08' + pack(v)))
                    for v in values]})})
        return self._spec.encode('MMSpdu', value)

    def decode_read_res(self, data):
        _, pdu = self._spec.decode('MMSpdu', data)
        _, read = pdu['service']
        unpack = _f32.unpack_from
        return pdu['invokeID'], [unpack(data, 1)[0]
                                 for _, (_, data)
                                 in read['listOfAccessResult']]


# --- hat-asn1 ---------------------------------------------------------------

class HatAsn1:
    name = 'hat-asn1'

    def __init__(self):
        from hat import asn1
        import hat.asn1.ber
        # hat-asn1 tags a CHOICE implicitly unless told (X.680 31.2.7
        # makes those tags explicit): the same module with EXPLICIT there
        module = ASN1_MODULE
        for component in ('variableAccessSpecification [1]',
                          'variableAccessSpecification [0]',
                          'variableListName [1]', 'name [0]'):
            module = module.replace(component, f'{component} EXPLICIT')
        repo = asn1.create_repository(module)
        self._encoder = hat.asn1.ber.BerEncoder(repo)
        self._pdu = asn1.TypeRef('MMS-Bench', 'MMSpdu')

    def encode_read_req(self, invoke_id, domain, item):
        name = ('domain-specific', {'domainID': domain, 'itemID': item})
        value = ('confirmed-RequestPDU', {
            'invokeID': invoke_id,
            'service': ('read', {
                'variableAccessSpecification': (
                    'listOfVariable',
                    [{'variableSpecification': ('name', name)}])})})
        return bytes(self._encoder.encode(self._pdu, value))

    def decode_read_req(self, data):
        (_, pdu), _ = self._encoder.decode(self._pdu, data)
        _, read = pdu['service']
        _, variables = read['variableAccessSpecification']
        _, name = variables[0]['variableSpecification']
        _, domain_specific = name
        return (pdu['invokeID'], domain_specific['domainID'],
                domain_specific['itemID'])

    def encode_read_res(self, invoke_id, values):
        pack = _f32.pack
        value = ('confirmed-ResponsePDU', {
            'invokeID': invoke_id,
            'service': ('read', {
                'listOfAccessResult': [
                    ('success', ('floating-point', b'\x08' + pack(v)))
                    for v in values]})})
        return bytes(self._encoder.encode(self._pdu, value))

    def decode_read_res(self, data):
        (_, pdu), _ = self._encoder.decode(self._pdu, data)
        _, read = pdu['service']
        unpack = _f32.unpack_from
        return pdu['invokeID'], [unpack(data, 1)[0]
                                 for _, (_, data)
                                 in read['listOfAccessResult']]


# --- pyasn1 -----------------------------------------------------------------

def _pyasn1_types():
    from pyasn1.type import char, namedtype, tag, univ

    def ctx(number, constructed=False):
        return tag.Tag(tag.tagClassContext,
                       tag.tagFormatConstructed if constructed
                       else tag.tagFormatSimple, number)

    def implicit(cls, number, constructed=False):
        return cls.tagImplicitly(ctx(number, constructed))

    class Identifier(char.VisibleString):
        pass

    class DomainSpecific(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('domainID', Identifier()),
            namedtype.NamedType('itemID', Identifier()))

    class ObjectName(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('vmd-specific', Identifier().subtype(
                implicitTag=ctx(0))),
            namedtype.NamedType('domain-specific', DomainSpecific().subtype(
                implicitTag=ctx(1, True))),
            namedtype.NamedType('aa-specific', Identifier().subtype(
                implicitTag=ctx(2))))

    class VariableSpecification(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('name', ObjectName().subtype(
                explicitTag=ctx(0, True))))

    class ListOfVariableItem(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('variableSpecification',
                                VariableSpecification()))

    class ListOfVariable(univ.SequenceOf):
        componentType = ListOfVariableItem()

    class VariableAccessSpecification(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('listOfVariable', ListOfVariable().subtype(
                implicitTag=ctx(0, True))),
            namedtype.NamedType('variableListName', ObjectName().subtype(
                explicitTag=ctx(1, True))))

    class Data(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('boolean', univ.Boolean().subtype(
                implicitTag=ctx(3))),
            namedtype.NamedType('integer', univ.Integer().subtype(
                implicitTag=ctx(5))),
            namedtype.NamedType('floating-point', univ.OctetString().subtype(
                implicitTag=ctx(7))),
            namedtype.NamedType('visible-string', char.VisibleString().subtype(
                implicitTag=ctx(10))))

    class AccessResult(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('failure', univ.Integer().subtype(
                implicitTag=ctx(0))),
            namedtype.NamedType('success', Data()))

    class ListOfAccessResult(univ.SequenceOf):
        componentType = AccessResult()

    class ReadRequest(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.DefaultedNamedType(
                'specificationWithResult',
                univ.Boolean(False).subtype(implicitTag=ctx(0))),
            namedtype.NamedType(
                'variableAccessSpecification',
                VariableAccessSpecification().subtype(
                    explicitTag=ctx(1, True))))

    class ReadResponse(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.OptionalNamedType(
                'variableAccessSpecification',
                VariableAccessSpecification().subtype(
                    explicitTag=ctx(0, True))),
            namedtype.NamedType(
                'listOfAccessResult',
                ListOfAccessResult().subtype(implicitTag=ctx(1, True))))

    class ConfirmedServiceRequest(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('read', ReadRequest().subtype(
                implicitTag=ctx(4, True))))

    class ConfirmedServiceResponse(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('read', ReadResponse().subtype(
                implicitTag=ctx(4, True))))

    class ConfirmedRequestPDU(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('invokeID', univ.Integer()),
            namedtype.NamedType('service', ConfirmedServiceRequest()))

    class ConfirmedResponsePDU(univ.Sequence):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('invokeID', univ.Integer()),
            namedtype.NamedType('service', ConfirmedServiceResponse()))

    class MMSpdu(univ.Choice):
        componentType = namedtype.NamedTypes(
            namedtype.NamedType('confirmed-RequestPDU',
                                ConfirmedRequestPDU().subtype(
                                    implicitTag=ctx(0, True))),
            namedtype.NamedType('confirmed-ResponsePDU',
                                ConfirmedResponsePDU().subtype(
                                    implicitTag=ctx(1, True))))

    del implicit
    return MMSpdu


class Pyasn1:
    name = 'pyasn1'

    def __init__(self):
        from pyasn1.codec.ber import decoder, encoder
        self._encode = encoder.encode
        self._decode = decoder.decode
        self._pdu_type = _pyasn1_types()

    def encode_read_req(self, invoke_id, domain, item):
        pdu = self._pdu_type()
        req = pdu['confirmed-RequestPDU']
        req['invokeID'] = invoke_id
        read = req['service']['read']
        variables = read['variableAccessSpecification']['listOfVariable']
        variable = variables.getComponentByPosition(0)
        name = variable['variableSpecification']['name']
        name['domain-specific']['domainID'] = domain
        name['domain-specific']['itemID'] = item
        return self._encode(pdu)

    def decode_read_req(self, data):
        pdu, _ = self._decode(data, asn1Spec=self._pdu_type())
        req = pdu['confirmed-RequestPDU']
        read = req['service']['read']
        variables = read['variableAccessSpecification']['listOfVariable']
        name = variables[0]['variableSpecification']['name']
        domain_specific = name['domain-specific']
        return (int(req['invokeID']), str(domain_specific['domainID']),
                str(domain_specific['itemID']))

    def encode_read_res(self, invoke_id, values):
        pdu = self._pdu_type()
        res = pdu['confirmed-ResponsePDU']
        res['invokeID'] = invoke_id
        results = res['service']['read']['listOfAccessResult']
        pack = _f32.pack
        for i, v in enumerate(values):
            results.getComponentByPosition(i)['success'][
                'floating-point'] = b'\x08' + pack(v)
        return self._encode(pdu)

    def decode_read_res(self, data):
        pdu, _ = self._decode(data, asn1Spec=self._pdu_type())
        res = pdu['confirmed-ResponsePDU']
        results = res['service']['read']['listOfAccessResult']
        unpack = _f32.unpack_from
        return int(res['invokeID']), [
            unpack(bytes(r['success']['floating-point']), 1)[0]
            for r in results]


IMPLS = {'ours': Ours, 'asn1tools': Asn1tools, 'hat-asn1': HatAsn1,
         'pyasn1': Pyasn1}


def _rows(impl):
    one = _floats(1)
    many = _floats(500)
    req = (INVOKE_ID, DOMAIN, ITEM)
    return [
        ('read-req', lambda: impl.encode_read_req(*req),
         impl.decode_read_req, req),
        ('read-res', lambda: impl.encode_read_res(INVOKE_ID, one),
         impl.decode_read_res, (INVOKE_ID, one)),
        ('read-res-500', lambda: impl.encode_read_res(INVOKE_ID, many),
         impl.decode_read_res, (INVOKE_ID, many)),
    ]


def _time_op(op, seconds, rounds):
    # calibrate: loops for about `seconds`
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            op()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds / 4:
            break
        loops *= 2
    loops = max(1, int(loops * seconds / max(elapsed, 1e-9)))
    results = []
    for _ in range(rounds + 1):
        start = time.perf_counter()
        for _ in range(loops):
            op()
        results.append((time.perf_counter() - start) / loops)
    return statistics.median(results[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--time', type=float, default=0.2,
                        help='seconds per round of one measurement')
    parser.add_argument('--impls', default=','.join(IMPLS))
    parser.add_argument('--quick', action='store_true',
                        help='1 round of 0.02 s (smoke test)')
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.time = 1, 0.02

    impls = []
    for name in args.impls.split(','):
        try:
            impls.append(IMPLS[name]())
        except ImportError as e:
            print(f'{name}: not installed ({e}), skipped')

    # every implementation must produce the same octets and values
    reference = {row: (encode(), expected)
                 for row, encode, _, expected in _rows(Ours())}
    for impl in impls:
        for row, encode, decode, expected in _rows(impl):
            data = encode()
            if data != reference[row][0]:
                raise SystemExit(f'{impl.name} {row}: encodes '
                                 f'{data.hex()} instead of '
                                 f'{reference[row][0].hex()}')
            if tuple(decode(data)) != tuple(expected):
                raise SystemExit(f'{impl.name} {row}: decodes differently')

    print(f'Python {platform.python_version()} '
          f'({platform.python_implementation()}), {platform.machine()}; '
          f'median of {args.rounds} rounds of ~{args.time} s')
    for row, (data, _) in reference.items():
        print(f'{row}: {len(data)} octets')
    print()
    header = f'{"row":<14}{"op":<8}' + ''.join(
        f'{impl.name:>22}' for impl in impls)
    print(header)
    figures = {}
    for index, (row, _, _, _) in enumerate(_rows(Ours())):
        for op in ('encode', 'decode'):
            cells = []
            for impl in impls:
                _, encode, decode, _ = _rows(impl)[index]
                data = reference[row][0]
                func = (encode if op == 'encode' else
                        (lambda decode=decode, data=data: decode(data)))
                seconds = _time_op(func, args.time, args.rounds)
                figures[row, op, impl.name] = seconds
                ours = figures.get((row, op, 'ours'))
                ratio = f' ({seconds / ours:5.1f}x)' if ours else ''
                cells.append(f'{seconds * 1e6:11.1f} us{ratio}')
            print(f'{row:<14}{op:<8}' + ''.join(f'{c:>22}' for c in cells))
            sys.stdout.flush()


if __name__ == '__main__':
    main()
