"""MMS associations against libiec61850, both directions

libiec61850 (the C library inside many IEDs, simulators and gateways)
through its Python bindings ``pyiec61850`` (PyPI ``pyiec61850-ng``, GPLv3:
a test-only dependency, never imported by ``src_py``), with the peers of
`iec61850_peer` (marked ``iec61850``; they skip without the bindings and
fail instead with ``HAT_DRIVERS_REQUIRE_IEC61850=1``, as in CI):

* our client (`hat.drivers.mms.connect`) against a libiec61850
  ``IedServer`` (`Iec61850Server`, in this process on libiec61850's own
  threads, with the model's GGIO2.Types1 of every basic type and a bulk
  logical device of 1000 floats, whose names need GetNameList
  continuation): identify, status, name lists, reads of every basic type
  and of structures, several variables with one missing, variable access
  attributes, writes accepted and denied (write access policy), named
  variable lists defined, read and deleted, reports enabled by writes to
  the report control block and received as InformationReports, 20
  concurrent reads (1, 5 and 10 outstanding proposed), libiec61850's
  RejectPDU and a request it leaves unanswered (the association stays
  up), a smaller PDU size negotiated, a refused 6th association, release
  (conclude, then ACSE release, seen on the wire through a recording
  relay);
* a libiec61850 client (`Iec61850Client`, a subprocess running
  ``iec61850_client.py``) against our server (`hat.drivers.mms.listen` on
  127.0.0.1 answering from `Model`, a small IEC 61850-style model written
  here): connect (checked with Identify), identify, name lists with
  continuation, reads, writes accepted and denied, variable access
  attributes, named-list reads, information reports (IEC 61850 reports
  and plain MMS InformationReports), conclude and release.

"""

import asyncio
import bisect
import datetime
import logging
import time

import pytest

from hat.drivers import mms
from hat.drivers.acse import codec as acse_codec
from hat.drivers.acse import common as acse_common
from hat.drivers.copp import codec as copp_codec
from hat.drivers.cosp import codec as cosp_codec
from hat.drivers.cosp import common as cosp_common
from hat.drivers.cotp import codec as cotp_codec
from hat.drivers.cotp import common as cotp_common
from hat.drivers import ber
from hat.drivers.mms import codec as mms_codec

import iec61850_peer as peer
from chaos import bounded
from iec61850_peer import Iec61850Client, Iec61850Server

iec = peer.pyiec61850_or_skip()


pytestmark = [pytest.mark.iec61850, pytest.mark.timeout(60)]

timeout = 10  # seconds: bound of every single wait

BULK_FLOATS = 1000   # 5003 names (about 110 kB): more than one PDU of 65000
LD = peer.LD
UTC = datetime.timezone.utc


def name(item, domain=LD):
    return mms.DomainSpecificObjectName(domain, item)


def var(item, domain=LD):
    return mms.NameVariableSpecification(name(item, domain))


def item(ref, fc):
    """MMS item name of a reference 'LD/LN.DO.DA' and its FC"""
    ln, do, *da = ref.split('/', 1)[1].split('.')
    return '$'.join([ln, fc, do, *da])


async def wait_until(predicate, what):
    """Polls `predicate` (state of libiec61850's threads, which signal
    nothing to the event loop) until true, bounded by `timeout`"""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f'timeout ({timeout} s) waiting for {what}')
        await asyncio.sleep(0.01)


@pytest.fixture(autouse=True)
def no_errors(caplog):
    """No test here logs an ERROR (a malformed PDU, a failed callback)"""
    caplog.set_level(logging.WARNING, logger='hat.drivers')
    yield
    errors = [r.getMessage() for r in caplog.records
              if r.levelno >= logging.ERROR]
    assert errors == []


# --------------------------------------------------------------- helpers


class Relay:
    """TCP relay on 127.0.0.1 to `target`, recording the octets of each
    direction of each connection: `links`, in the order accepted, each
    with ``to_server``, ``to_client`` and ``done`` (an event set once both
    directions have ended)"""

    class Link:

        def __init__(self):
            self.to_server = bytearray()
            self.to_client = bytearray()
            self.done = asyncio.Event()

    def __init__(self, target):
        self._target = target
        self._server = None
        self._tasks = set()
        self._writers = []
        self.links = []

    async def start(self):
        self._server = await asyncio.start_server(self._on_client,
                                                  peer.HOST, 0)
        return mms.Address(peer.HOST,
                           self._server.sockets[0].getsockname()[1])

    async def close(self):
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        await self._server.wait_closed()

    async def _on_client(self, client_reader, client_writer):
        self._tasks.add(asyncio.current_task())
        self._writers.append(client_writer)
        link = Relay.Link()
        self.links.append(link)
        try:
            server_reader, server_writer = await asyncio.open_connection(
                *self._target)
            self._writers.append(server_writer)
            await asyncio.gather(
                self._pump(client_reader, server_writer, link.to_server),
                self._pump(server_reader, client_writer, link.to_client))

        finally:
            link.done.set()
            self._tasks.discard(asyncio.current_task())

    async def _pump(self, reader, writer, record):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                record.extend(data)
                writer.write(data)
                await writer.drain()

        except ConnectionError:
            pass

        finally:
            if not writer.transport.is_closing() and writer.can_write_eof():
                writer.write_eof()


def trace(octets):
    """The recorded `octets` of one direction, decoded layer by layer: a
    list of (SPDU or TPDU name, [ACSE APDUs and MMS PDUs it carries])"""
    result = []
    view = memoryview(bytes(octets))
    tsdu = bytearray()
    while view:
        assert view[0] == 3, bytes(view[:4]).hex()
        length = int.from_bytes(view[2:4], 'big')
        tpdu = cotp_codec.decode(view[4:length])
        view = view[length:]
        if not isinstance(tpdu, cotp_common.DT):
            result.append((type(tpdu).__name__, []))
            continue
        tsdu += tpdu.data
        if not tpdu.eot:
            continue
        spdu = cosp_codec.decode(bytes(tsdu))
        tsdu = bytearray()
        pdus = []
        user_data = getattr(spdu, 'user_data', None)
        if isinstance(spdu, cosp_common.DT):
            user_data = spdu.data
        if isinstance(spdu, (cosp_common.DT, cosp_common.FN,
                             cosp_common.DN)) and user_data:
            for pdv_list in copp_codec.decode_user_data(user_data).pdv_lists:
                if pdv_list.context_id == 1:
                    pdus.append(acse_codec.decode_entity(pdv_list.data))
                else:
                    pdus.append(mms_codec.decode_pdu(
                        ber.encode(pdv_list.data)))
        result.append((type(spdu).__name__, pdus))
    return result


def parse_report(data):
    """An IEC 61850-8-1 report (InformationReport of 'RPT'): dict of
    rpt_id, opt_flds, seq_num, time_of_entry, data_set, inclusion,
    values (None where not included), reasons (bit lists, idem)"""
    rpt_id, opt_flds, *rest = data
    report = {'rpt_id': rpt_id.value, 'opt_flds': opt_flds.value}
    bits = opt_flds.value
    for bit, key in [(1, 'seq_num'), (2, 'time_of_entry'),
                     (4, 'data_set'), (6, 'buf_ovfl'), (7, 'entry_id'),
                     (8, 'conf_rev')]:
        if bits[bit]:
            report[key] = rest.pop(0).value
    if bits[9]:
        rest = rest[2:]
    inclusion = rest.pop(0).value
    report['inclusion'] = inclusion
    included = sum(inclusion)
    if bits[5]:
        rest = rest[included:]
    values, rest = rest[:included], rest[included:]
    values = iter(values)
    report['values'] = [next(values) if i else None for i in inclusion]
    if bits[3]:
        reasons = iter(rest[:included])
        report['reasons'] = [next(reasons).value if i else None
                             for i in inclusion]
    return report


def expected_data(type_name, value):
    """Our `mms.Data` of a value of `peer.TYPES`"""
    if type_name == 'BOOLEAN':
        return mms.BooleanData(value)
    if type_name in ('INT8', 'INT32', 'INT64', 'ENUMERATED'):
        if isinstance(value, list):
            return mms.ArrayData([mms.IntegerData(i) for i in value])
        return mms.IntegerData(value)
    if type_name in ('INT8U', 'INT32U'):
        return mms.UnsignedData(value)
    if type_name in ('FLOAT32', 'FLOAT64'):
        return mms.FloatingPointData(value)
    if type_name in ('CODEDENUM', 'QUALITY'):
        return mms.BitStringData(value)
    if type_name == 'OCTET_STRING_64':
        return mms.OctetStringData(value)
    if type_name == 'VISIBLE_STRING_255':
        return mms.VisibleStringData(value)
    if type_name == 'UNICODE_STRING_255':
        return mms.MmsStringData(value)
    if type_name == 'ENTRY_TIME':
        return mms.BinaryTimeData(value)
    raise ValueError(type_name)


def same_data(result, expected):
    """`result` equals `expected`; UtcTime by value only (its quality
    flags and accuracy are libiec61850's)"""
    if isinstance(expected, mms.UtcTimeData):
        return (isinstance(result, mms.UtcTimeData) and
                result.value == expected.value)
    if isinstance(expected, mms.StructureData):
        return (isinstance(result, mms.StructureData) and
                len(result.elements) == len(expected.elements) and
                all(same_data(r, e) for r, e in zip(result.elements,
                                                    expected.elements,
                                                    strict=True)))
    return type(result) is type(expected) and result == expected


def types_expected():
    """{item name of GGIO2.Types1.X: expected Data}"""
    result = {}
    for da, type_name, value in peer.TYPES:
        key = item(peer.types_ref(da), 'CF')
        if type_name == 'TIMESTAMP':
            result[key] = mms.UtcTimeData(value, False, False, False, None)
        else:
            result[key] = expected_data(type_name, value)
    return result


def client_request_cb(conn, req):
    # libiec61850's server never sends confirmed requests
    return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)


# ------------------------------------- our client, libiec61850's server


@pytest.fixture
async def iec_server():
    async with Iec61850Server(bulk_floats=BULK_FLOATS, types=True) as server:
        yield server


@pytest.fixture
async def conn(iec_server):
    conn = await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port)),
        timeout=timeout)
    try:
        yield conn

    finally:
        await bounded(conn.async_close(), timeout=timeout)


async def test_client_identify_status(iec_server, conn):
    res = await conn.send_confirmed(mms.IdentifyRequest())
    assert isinstance(res, mms.IdentifyResponse)
    assert (res.vendor, res.model, res.revision) == peer.IDENTITY

    # VMD state-changes-allowed (0), operational (0)
    res = await conn.send_confirmed(mms.StatusRequest())
    assert res == mms.StatusResponse(0, 0)

    # the Initiate exchange: libiec61850 answers within what we proposed
    assert 1 <= conn.max_serv_outstanding_calling <= 5
    assert 1 <= conn.max_serv_outstanding_called <= 5
    assert conn.local_detail == 65000
    await wait_until(lambda: iec_server.open_connections == 1,
                     'libiec61850 to count the association')


async def test_client_selectors_and_titles(iec_server):
    # selectors, AP titles and AE qualifiers as libiec61850's own client
    # sends them: accepted
    conn = await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port),
        local_tsel=1, remote_tsel=1, local_ssel=1, remote_ssel=1,
        local_psel=1, remote_psel=1,
        local_ap_title=(1, 1, 1, 999), remote_ap_title=(1, 1, 1, 999, 1),
        local_ae_qualifier=12, remote_ae_qualifier=12), timeout=timeout)
    try:
        assert (conn.info.local_tsel, conn.info.remote_tsel) == (1, 1)
        assert (conn.info.local_psel, conn.info.remote_psel) == (1, 1)
        res = await conn.send_confirmed(mms.IdentifyRequest())
        assert isinstance(res, mms.IdentifyResponse)

    finally:
        await bounded(conn.async_close(), timeout=timeout)


async def test_client_name_lists(conn):
    res = await conn.send_confirmed(mms.GetNameListRequest(
        mms.ObjectClass.DOMAIN, mms.VmdSpecificObjectScope(), None))
    assert res == mms.GetNameListResponse(sorted([LD, peer.BULK_LD]), False)

    res = await conn.send_confirmed(mms.GetNameListRequest(
        mms.ObjectClass.NAMED_VARIABLE_LIST,
        mms.DomainSpecificObjectScope(LD), None))
    assert res == mms.GetNameListResponse(['LLN0$Events'], False)

    res = await conn.send_confirmed(mms.GetNameListRequest(
        mms.ObjectClass.NAMED_VARIABLE,
        mms.DomainSpecificObjectScope(LD), None))
    assert not res.more_follows
    assert {'GGIO1$MX$AnIn1$mag$f', 'GGIO1$ST$Ind1$stVal',
            'GGIO2$CF$Types1$f64', 'GGIO2$CF$Types1$et',
            'LLN0$RP$urcbEvents01$RptEna'} <= set(res.identifiers)


async def test_client_name_list_continuation(iec_server, conn):
    # 5003 names of about 22 octets: more than one MMS PDU of 65000
    # octets; each request continues after the last name received
    names = []
    continue_after = None
    responses = 0
    while True:
        res = await conn.send_confirmed(mms.GetNameListRequest(
            mms.ObjectClass.NAMED_VARIABLE,
            mms.DomainSpecificObjectScope(peer.BULK_LD), continue_after))
        assert isinstance(res, mms.GetNameListResponse), res
        assert res.identifiers
        responses += 1
        names.extend(res.identifiers)
        if not res.more_follows:
            break
        continue_after = res.identifiers[-1]
    assert responses >= 2
    assert len(names) == len(set(names)) == 5 * BULK_FLOATS + 3

    # the same list as libiec61850's own client gathers
    async with Iec61850Client(iec_server.host, iec_server.port,
                              timeout) as client:
        await client.op_ok('connect')
        answer = await client.op_ok('variables', peer.BULK_LD)
        await client.op_ok('release')
    assert names == answer['names']


async def test_client_small_pdu_size(iec_server, conn):
    # proposing a maximum PDU size of 1000 octets: libiec61850 takes it and
    # pages GetNameList by it; continuation gives the same names
    small = await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port),
        local_detail=1000), timeout=timeout)
    try:
        assert small.local_detail == 1000
        lists = []
        for c in (small, conn):
            names = []
            continue_after = None
            while True:
                res = await c.send_confirmed(mms.GetNameListRequest(
                    mms.ObjectClass.NAMED_VARIABLE,
                    mms.DomainSpecificObjectScope(LD), continue_after))
                names.extend(res.identifiers)
                if not res.more_follows:
                    break
                continue_after = res.identifiers[-1]
            lists.append(names)
        assert lists[0] == lists[1]
        assert len(lists[0]) > 60

    finally:
        await bounded(small.async_close(), timeout=timeout)


async def test_client_associations_refused(iec_server, conn):
    # libiec61850 serves at most 5 associations: a 6th is closed before
    # COTP's CC, connect raises ConnectionError at once; the others work
    others = [await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port)),
        timeout=timeout) for _ in range(4)]
    try:
        await wait_until(lambda: iec_server.open_connections == 5,
                         'libiec61850 to count 5 associations')
        with pytest.raises(ConnectionError):
            await bounded(mms.connect(
                client_request_cb,
                mms.Address(iec_server.host, iec_server.port)),
                timeout=timeout)
        for c in [conn, *others]:
            res = await c.send_confirmed(mms.IdentifyRequest())
            assert isinstance(res, mms.IdentifyResponse)

    finally:
        for c in others:
            await bounded(c.async_close(), timeout=timeout)


async def test_client_read_every_basic_type(iec_server, conn):
    expected = types_expected()
    stamp = datetime.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    iec_server.update(peer.AN_IN, -12.625, timestamp=stamp)
    iec_server.update(peer.IND, True)
    iec_server.update(peer.INT_IN, -123456)
    iec_server.update(peer.STR, 'changed')
    expected.update({
        item(peer.AN_IN, 'MX'): mms.FloatingPointData(-12.625),
        'GGIO1$MX$AnIn1$t': mms.UtcTimeData(stamp, False, False, False,
                                            None),
        'GGIO1$MX$AnIn1$q': mms.BitStringData([False] * 13),
        item(peer.IND, 'ST'): mms.BooleanData(True),
        item(peer.INT_IN, 'ST'): mms.IntegerData(-123456),
        item(peer.STR, 'ST'): mms.VisibleStringData('changed')})

    # all in one Read, then each alone
    res = await conn.send_confirmed(mms.ReadRequest(
        [var(i) for i in expected]))
    assert isinstance(res, mms.ReadResponse), res
    for (i, data), result in zip(expected.items(), res.results,
                                 strict=True):
        assert same_data(result, data), (i, result, data)
    for i, data in expected.items():
        res = await conn.send_confirmed(mms.ReadRequest([var(i)]))
        [result] = res.results
        assert same_data(result, data), (i, result, data)

    # double precision kept; BinaryTime in milliseconds
    assert expected['GGIO2$CF$Types1$f64'] == mms.FloatingPointData(1 / 3)
    assert expected['GGIO2$CF$Types1$et'].value.microsecond == 250000


async def test_client_read_structures(iec_server, conn):
    stamp = datetime.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    iec_server.update(peer.AN_IN, 2.5, timestamp=stamp)
    res = await conn.send_confirmed(mms.ReadRequest([
        var('GGIO1$MX$AnIn1'), var('GGIO2$CF$Types1'),
        var('LLN0$RP$urcbEvents01')]))
    mv, types, rcb = res.results
    assert same_data(mv, mms.StructureData([
        mms.StructureData([mms.FloatingPointData(2.5)]),
        mms.BitStringData([False] * 13),
        mms.UtcTimeData(stamp, False, False, False, None)]))
    assert same_data(types, mms.StructureData(list(
        types_expected().values())))
    # the report control block: RptID, RptEna, Resv, DatSet, ConfRev, ...
    assert rcb.elements[:5] == [
        mms.VisibleStringData(peer.RPT_ID), mms.BooleanData(False),
        mms.BooleanData(False), mms.VisibleStringData(f'{LD}/LLN0$Events'),
        mms.UnsignedData(1)]


async def test_client_read_several_one_missing(conn):
    res = await conn.send_confirmed(mms.ReadRequest([
        var(item(peer.AN_IN, 'MX')), var('GGIO1$ST$Nope1$stVal'),
        var(item(peer.STR, 'ST')), var('Nothing', 'NOLD')]))
    assert res == mms.ReadResponse([
        mms.FloatingPointData(peer.INITIAL[peer.AN_IN]),
        mms.DataAccessError.OBJECT_NON_EXISTENT,
        mms.VisibleStringData(peer.INITIAL[peer.STR]),
        mms.DataAccessError.OBJECT_NON_EXISTENT])


async def test_client_variable_access_attributes(conn):
    res = await conn.send_confirmed(mms.GetVariableAccessAttributesRequest(
        name('GGIO2$CF$Types1')))
    assert isinstance(res, mms.GetVariableAccessAttributesResponse), res
    assert res.type_description == mms.StructureTypeDescription([
        ('b', mms.BooleanTypeDescription()),
        ('i8', mms.IntegerTypeDescription(8)),
        ('i32', mms.IntegerTypeDescription(32)),
        ('i64', mms.IntegerTypeDescription(64)),
        ('u8', mms.UnsignedTypeDescription(8)),
        ('u32', mms.UnsignedTypeDescription(32)),
        ('f32', mms.FloatingPointTypeDescription(32, 8)),
        ('f64', mms.FloatingPointTypeDescription(64, 11)),
        ('enum', mms.IntegerTypeDescription(8)),
        ('dbpos', mms.BitStringTypeDescription(2)),
        ('oct', mms.OctetStringTypeDescription(-64)),
        ('vis', mms.VisibleStringTypeDescription(-255)),
        ('uni', mms.MmsStringTypeDescription(-255)),
        ('ts', mms.UtcTimeTypeDescription()),
        ('q', mms.BitStringTypeDescription(-13)),
        ('et', mms.BinaryTimeTypeDescription(True)),
        ('arr', mms.ArrayTypeDescription(3, mms.IntegerTypeDescription(32)))])

    res = await conn.send_confirmed(mms.GetVariableAccessAttributesRequest(
        name('GGIO1$MX$AnIn1')))
    assert res.type_description == mms.StructureTypeDescription([
        ('mag', mms.StructureTypeDescription([
            ('f', mms.FloatingPointTypeDescription(32, 8))])),
        ('q', mms.BitStringTypeDescription(-13)),
        ('t', mms.UtcTimeTypeDescription())])

    # a variable that does not exist: access error object-non-existent
    res = await conn.send_confirmed(mms.GetVariableAccessAttributesRequest(
        name('GGIO1$MX$Nope1')))
    assert res == mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)


async def test_client_write_accepted_and_denied(iec_server, conn):
    # FC CF and DC are writable (write access policy ALLOW), MX is not
    writes = [
        (var('GGIO2$CF$Types1$vis'), mms.VisibleStringData('written'),
         None),
        (var('GGIO2$CF$Types1$i64'), mms.IntegerData(2 ** 40 + 1), None),
        (var('GGIO2$CF$Types1$u32'), mms.UnsignedData(3), None),
        (var('GGIO2$CF$Types1$f32'), mms.FloatingPointData(0.125), None),
        # beyond float32: sent in double precision, as FLOAT64 wants
        (var('GGIO2$CF$Types1$f64'), mms.FloatingPointData(1e300), None),
        (var('GGIO2$CF$Types1$b'), mms.BooleanData(False), None),
        (var('GGIO2$CF$Types1$dbpos'), mms.BitStringData([False, True]),
         None),
        (var('GGIO2$CF$Types1$uni'), mms.MmsStringData('ÿ written'), None),
        (var(item(peer.AN_IN_DESC, 'DC')),
         mms.VisibleStringData('feeder 1: current'), None),
        (var(item(peer.AN_IN, 'MX')), mms.FloatingPointData(3.5),
         mms.DataAccessError.OBJECT_ACCESS_DENIED),
        (var(item(peer.IND, 'ST')), mms.BooleanData(True),
         mms.DataAccessError.OBJECT_ACCESS_DENIED),
        # writable, but of the wrong type
        (var('GGIO2$CF$Types1$i32'), mms.VisibleStringData('x'),
         mms.DataAccessError.TYPE_INCONSISTENT),
        (var('GGIO2$CF$Types1$nope'), mms.IntegerData(1),
         mms.DataAccessError.OBJECT_NON_EXISTENT)]
    res = await conn.send_confirmed(mms.WriteRequest(
        [spec for spec, _, _ in writes], [data for _, data, _ in writes]))
    assert res == mms.WriteResponse([result for _, _, result in writes])

    res = await conn.send_confirmed(mms.ReadRequest(
        [spec for spec, _, _ in writes[:-1]]))
    for (spec, data, result), value in zip(writes[:-1], res.results,
                                           strict=True):
        if result is None:
            assert value == data, spec
        else:
            assert value != data, spec
    assert iec_server.get_string(peer.AN_IN_DESC) == 'feeder 1: current'
    assert iec_server.get_float(peer.AN_IN) == peer.INITIAL[peer.AN_IN]

    # a single denied write: the same per-variable result
    res = await conn.send_confirmed(mms.WriteRequest(
        [var(item(peer.STR, 'ST'))], [mms.VisibleStringData('no')]))
    assert res == mms.WriteResponse(
        [mms.DataAccessError.OBJECT_ACCESS_DENIED])


async def test_client_named_variable_lists(iec_server, conn):
    # the model's data set: attributes and read
    iec_server.update(peer.AN_IN, 0.25)
    res = await conn.send_confirmed(
        mms.GetNamedVariableListAttributesRequest(name('LLN0$Events')))
    assert res == mms.GetNamedVariableListAttributesResponse(
        False, [var(item(ref, 'MX' if ref == peer.AN_IN else 'ST'))
                for ref in peer.DATA_SET_MEMBERS])
    res = await conn.send_confirmed(mms.ReadRequest(name('LLN0$Events')))
    assert res == mms.ReadResponse([
        mms.FloatingPointData(0.25), mms.BooleanData(False),
        mms.IntegerData(7), mms.VisibleStringData('initial')])

    # defined by us
    members = [var('GGIO2$CF$Types1$et'), var(item(peer.INT_IN, 'ST')),
               var('GGIO2$CF$Types1$f64'), var('GGIO1$MX$AnIn1')]
    res = await conn.send_confirmed(mms.DefineNamedVariableListRequest(
        name('LLN0$dyn1'), members))
    assert res == mms.DefineNamedVariableListResponse()

    res = await conn.send_confirmed(mms.GetNameListRequest(
        mms.ObjectClass.NAMED_VARIABLE_LIST,
        mms.DomainSpecificObjectScope(LD), None))
    assert sorted(res.identifiers) == ['LLN0$Events', 'LLN0$dyn1']
    assert not res.more_follows

    res = await conn.send_confirmed(
        mms.GetNamedVariableListAttributesRequest(name('LLN0$dyn1')))
    assert res == mms.GetNamedVariableListAttributesResponse(True, members)

    res = await conn.send_confirmed(mms.ReadRequest(name('LLN0$dyn1')))
    et, int_in, f64, mv = res.results
    assert et == mms.BinaryTimeData(peer.TYPES_T)
    assert int_in == mms.IntegerData(7)
    assert f64 == mms.FloatingPointData(1 / 3)
    assert mv.elements[0] == mms.StructureData([mms.FloatingPointData(0.25)])

    res = await conn.send_confirmed(mms.DeleteNamedVariableListRequest(
        [name('LLN0$dyn1')]))
    assert res == mms.DeleteNamedVariableListResponse(1, 1)

    res = await conn.send_confirmed(mms.ReadRequest(name('LLN0$dyn1')))
    assert res == mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
    res = await conn.send_confirmed(mms.GetNameListRequest(
        mms.ObjectClass.NAMED_VARIABLE_LIST,
        mms.DomainSpecificObjectScope(LD), None))
    assert res == mms.GetNameListResponse(['LLN0$Events'], False)


async def test_client_reports(iec_server, conn):
    rcb = 'LLN0$RP$urcbEvents01'
    # TrgOps: data change and GI; OptFlds: sequence number, time stamp,
    # reason, data set; then RptEna
    res = await conn.send_confirmed(mms.WriteRequest(
        [var(f'{rcb}$TrgOps'), var(f'{rcb}$OptFlds'), var(f'{rcb}$RptEna')],
        [mms.BitStringData([False, True, False, False, False, True]),
         mms.BitStringData([False, True, True, True, True,
                            False, False, False, False, False]),
         mms.BooleanData(True)]))
    assert res == mms.WriteResponse([None, None, None])
    res = await conn.send_confirmed(mms.ReadRequest([var(f'{rcb}$RptEna')]))
    assert res == mms.ReadResponse([mms.BooleanData(True)])

    def check(report, values, reason_bit):
        assert report['rpt_id'] == peer.RPT_ID
        assert report['data_set'] == f'{LD}/LLN0$Events'
        assert report['values'] == values
        # ReasonCode bits: 1 data change, 5 general interrogation
        assert report['reasons'] == [
            None if value is None else [i == reason_bit for i in range(6)]
            for value in values]
        # TimeOfEntry (BinaryTime, milliseconds): when the server made
        # the report, within a few seconds of now
        now = datetime.datetime.now(UTC)
        assert abs((report['time_of_entry'] - now).total_seconds()) < 5

    async def receive():
        unconfirmed = await bounded(conn.receive_unconfirmed(),
                                    timeout=timeout)
        assert isinstance(unconfirmed, mms.InformationReportUnconfirmed)
        assert unconfirmed.specification == \
            mms.VmdSpecificObjectName('RPT')
        return parse_report(unconfirmed.data)

    # general interrogation: every member, reason GI (bit 5)
    res = await conn.send_confirmed(mms.WriteRequest(
        [var(f'{rcb}$GI')], [mms.BooleanData(True)]))
    assert res == mms.WriteResponse([None])
    report = await receive()
    check(report, [mms.FloatingPointData(1.5), mms.BooleanData(False),
                   mms.IntegerData(7), mms.VisibleStringData('initial')], 5)
    seq_num = report['seq_num']

    # a data change (reason bit 1): only the changed member
    iec_server.update(peer.AN_IN, 42.25)
    report = await receive()
    check(report, [mms.FloatingPointData(42.25), None, None, None], 1)
    assert report['seq_num'] == (seq_num + 1) % 256

    iec_server.update(peer.STR, 'reported')
    report = await receive()
    check(report, [None, None, None, mms.VisibleStringData('reported')], 1)
    assert report['seq_num'] == (seq_num + 2) % 256

    # RptEna false: no further report (the Read after the change is
    # answered after any report the change made)
    res = await conn.send_confirmed(mms.WriteRequest(
        [var(f'{rcb}$RptEna')], [mms.BooleanData(False)]))
    assert res == mms.WriteResponse([None])
    iec_server.update(peer.INT_IN, 99)
    res = await conn.send_confirmed(mms.ReadRequest([var(f'{rcb}$RptEna')]))
    assert res == mms.ReadResponse([mms.BooleanData(False)])
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(conn.receive_unconfirmed(), 0.3)


async def test_client_reports_read_slowly(iec_server):
    # with room for only 2 unread reports our client stops reading
    # (libiec61850 is held back by TCP flow control) until the user reads:
    # every report arrives, in order (consecutive SeqNum), none lost
    conn = await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port),
        unconfirmed_queue_size=2), timeout=timeout)
    try:
        res = await conn.send_confirmed(mms.WriteRequest(
            [var('LLN0$RP$urcbEvents01$RptEna')], [mms.BooleanData(True)]))
        assert res == mms.WriteResponse([None])
        count = 200
        for i in range(count):
            iec_server.update(peer.INT_IN, i)

        seq_nums = []
        values = []
        while not values or values[-1] != count - 1:
            unconfirmed = await bounded(conn.receive_unconfirmed(),
                                        timeout=timeout)
            report = parse_report(unconfirmed.data)
            seq_nums.append(report['seq_num'])
            values.append(report['values'][2].value)
        assert values == sorted(set(values))
        assert seq_nums == [(seq_nums[0] + i) % 256
                            for i in range(len(seq_nums))]

        res = await conn.send_confirmed(mms.IdentifyRequest())
        assert isinstance(res, mms.IdentifyResponse)

    finally:
        await bounded(conn.async_close(), timeout=timeout)


async def test_client_rejected_and_unanswered(conn):
    # a Read by address: libiec61850 answers with a RejectPDU
    # (confirmed-requestPDU, invalid-argument 4): that request raises
    # RejectedError, the association stays up
    with pytest.raises(mms.RejectedError) as e:
        await conn.send_confirmed(mms.ReadRequest(
            [mms.AddressVariableSpecification(5)]))
    assert e.value.by_peer
    assert (e.value.reason, e.value.code) == \
        (mms_codec.RejectReason.CONFIRMED_REQUEST, 4)

    # GetVariableAccessAttributes by symbolic address: libiec61850 never
    # answers; the response timeout ends the call, the association stays up
    with pytest.raises(mms.ResponseTimeoutError):
        await conn.send_confirmed(mms.GetVariableAccessAttributesRequest(
            'GGIO1$ST$Ind1$stVal'), timeout=0.3)

    # the model's data set cannot be deleted: matched 1, deleted 0
    res = await conn.send_confirmed(mms.DeleteNamedVariableListRequest(
        [name('LLN0$Events')]))
    assert res == mms.DeleteNamedVariableListResponse(1, 0)

    res = await conn.send_confirmed(mms.IdentifyRequest())
    assert isinstance(res, mms.IdentifyResponse)


@pytest.mark.parametrize('proposed', [1, 5, 10])
async def test_client_concurrent_reads(iec_server, proposed):
    # 20 reads in flight from one task; each answer matches its own
    # request; at most the negotiated number is sent at a time (libiec61850
    # answers min(proposed, 5)), the rest queued
    conn = await bounded(mms.connect(
        client_request_cb, mms.Address(iec_server.host, iec_server.port),
        max_serv_outstanding_calling=proposed), timeout=timeout)
    try:
        assert conn.max_serv_outstanding_calling == min(proposed, 5)
        for i in range(1, 21):
            iec_server.update(peer.bulk_float(i), float(-i))
        results = await bounded(asyncio.gather(*(
            conn.send_confirmed(mms.ReadRequest([var(
                item(peer.bulk_float(i), 'MX'), peer.BULK_LD)]))
            for i in range(1, 21))), timeout=timeout)
        assert results == [
            mms.ReadResponse([mms.FloatingPointData(float(-i))])
            for i in range(1, 21)]
        res = await conn.send_confirmed(mms.IdentifyRequest())
        assert isinstance(res, mms.IdentifyResponse)

    finally:
        await bounded(conn.async_close(), timeout=timeout)


async def test_client_release(iec_server):
    relay = Relay((iec_server.host, iec_server.port))
    addr = await relay.start()
    try:
        conn = await bounded(mms.connect(client_request_cb, addr),
                             timeout=timeout)
        res = await conn.send_confirmed(mms.IdentifyRequest())
        assert isinstance(res, mms.IdentifyResponse)
        await wait_until(lambda: iec_server.open_connections == 1,
                         'libiec61850 to count the association')

        await bounded(conn.async_close(), timeout=timeout)
        assert conn.is_closed
        with pytest.raises(ConnectionError):
            await conn.send_confirmed(mms.IdentifyRequest())
        [link] = relay.links
        await bounded(link.done.wait(), timeout=timeout)
        await wait_until(lambda: iec_server.open_connections == 0,
                         'libiec61850 to close the association')

    finally:
        await relay.close()

    to_server = trace(link.to_server)
    to_client = trace(link.to_client)
    # we: conclude-Request, then A-RELEASE (RLRQ in a session FINISH);
    # libiec61850: conclude-Response, then RLRE in a DISCONNECT - a
    # normal release, no abort either way
    assert to_server[-2:] == [
        ('DT', [mms_codec.ConcludeRequestPdu()]),
        ('FN', [acse_common.RlrqApdu(
            acse_common.ReleaseRequestReason.NORMAL, None)])]
    assert to_client[-2][1] == [mms_codec.ConcludeResponsePdu()]
    assert to_client[-1][0] == 'DN'
    assert [type(pdu) for pdu in to_client[-1][1]] == [acse_common.RlreApdu]
    for spdu, pdus in to_server + to_client:
        assert spdu not in ('AB', 'DR', 'ER'), (spdu, pdus)
        assert not any(isinstance(pdu, acse_common.AbrtApdu)
                       for pdu in pdus)


# ---------------------------------------- libiec61850's client, our server


IDENTITY = ('hat-test', 'hat-mms-model', '0.1')
T = datetime.datetime(2024, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)
Q = mms.BitStringData([False] * 13)
WRITABLE_FCS = ('DC', 'CF')
PAGE = 16   # names per GetNameList response: continuation is needed


def _utc(value):
    return mms.UtcTimeData(value, False, False, False, 10)


class Leaf:
    """A variable of the model: its type description and value"""

    def __init__(self, type_description, value):
        self.type_description = type_description
        self.value = value


def _float(value):
    return Leaf(mms.FloatingPointTypeDescription(32, 8),
                mms.FloatingPointData(value))


def _q():
    return Leaf(mms.BitStringTypeDescription(-13), Q)


def _t():
    return Leaf(mms.UtcTimeTypeDescription(), _utc(T))


def _status(type_description, value):
    return {'stVal': Leaf(type_description, value), 'q': _q(), 't': _t()}


class Model:
    """A small IEC 61850-style model served by `request_cb`: domain
    `peer.LD` with the names of `iec61850_peer`'s model (so the libiec61850
    client's references work unchanged) and GGIO2.Types1 of every basic
    type, data set ``LLN0$Events``; writes allowed to FC DC and CF only
    (others: object-access-denied); GetNameList gives `PAGE` names a
    response"""

    def __init__(self):
        string = mms.VisibleStringTypeDescription(-255)
        self.tree = {
            'GGIO1': {
                'MX': {'AnIn1': {'mag': {'f': _float(1.5)}, 'q': _q(),
                                 't': _t()}},
                'ST': {
                    'Ind1': _status(mms.BooleanTypeDescription(),
                                    mms.BooleanData(False)),
                    'IntIn1': _status(mms.IntegerTypeDescription(32),
                                      mms.IntegerData(7)),
                    'Str1': _status(string,
                                    mms.VisibleStringData('initial'))},
                'DC': {'AnIn1': {'d': Leaf(string, mms.VisibleStringData(
                    'analogue input'))}}},
            'GGIO2': {'CF': {'Types1': {
                'b': Leaf(mms.BooleanTypeDescription(),
                          mms.BooleanData(True)),
                'i64': Leaf(mms.IntegerTypeDescription(64),
                            mms.IntegerData(-(2 ** 40))),
                'u32': Leaf(mms.UnsignedTypeDescription(32),
                            mms.UnsignedData(4_000_000_000)),
                'f32': _float(-0.5),
                # beyond float32: sent in double precision
                'f64': Leaf(mms.FloatingPointTypeDescription(64, 11),
                            mms.FloatingPointData(1e300)),
                'dbpos': Leaf(mms.BitStringTypeDescription(2),
                              mms.BitStringData([True, False])),
                'oct': Leaf(mms.OctetStringTypeDescription(-64),
                            mms.OctetStringData(b'\x00\x01hat\xff')),
                'vis': Leaf(string, mms.VisibleStringData('visible')),
                'uni': Leaf(mms.MmsStringTypeDescription(-255),
                            mms.MmsStringData('ünïcode €')),
                'ts': _t(),
                'et': Leaf(mms.BinaryTimeTypeDescription(True),
                           mms.BinaryTimeData(T)),
                'arr': Leaf(mms.ArrayTypeDescription(
                    3, mms.IntegerTypeDescription(32)), mms.ArrayData(
                        [mms.IntegerData(i) for i in (1, -2, 3)]))}}},
            'LLN0': {'ST': {'Mod': {'stVal': Leaf(
                mms.IntegerTypeDescription(8), mms.IntegerData(1))}}}}
        self.lists = {'LLN0$Events': [
            'GGIO1$MX$AnIn1$mag$f', 'GGIO1$ST$Ind1$stVal',
            'GGIO1$ST$IntIn1$stVal', 'GGIO1$ST$Str1$stVal']}
        self.names = sorted(self._names(self.tree, []))
        self.requests = []

    def _names(self, node, path):
        for key, child in node.items():
            yield '$'.join([*path, key])
            if isinstance(child, dict):
                yield from self._names(child, [*path, key])

    def node(self, object_name):
        if not (isinstance(object_name, mms.DomainSpecificObjectName) and
                object_name.domain_id == LD):
            return None
        node = self.tree
        for key in object_name.item_id.split('$'):
            if not isinstance(node, dict) or key not in node:
                return None
            node = node[key]
        return node

    def value(self, node):
        if isinstance(node, Leaf):
            return node.value
        return mms.StructureData([self.value(child)
                                  for child in node.values()])

    def type_description(self, node):
        if isinstance(node, Leaf):
            return node.type_description
        return mms.StructureTypeDescription(
            [(key, self.type_description(child))
             for key, child in node.items()])

    def read(self, spec):
        node = (self.node(spec.name)
                if isinstance(spec, mms.NameVariableSpecification) else None)
        if node is None:
            return mms.DataAccessError.OBJECT_NON_EXISTENT
        return self.value(node)

    def write(self, spec, data):
        node = (self.node(spec.name)
                if isinstance(spec, mms.NameVariableSpecification) else None)
        if node is None:
            return mms.DataAccessError.OBJECT_NON_EXISTENT
        if spec.name.item_id.split('$')[1:2] not in [[fc] for fc in
                                                     WRITABLE_FCS]:
            return mms.DataAccessError.OBJECT_ACCESS_DENIED
        if not isinstance(node, Leaf) or type(data) is not type(node.value):
            return mms.DataAccessError.TYPE_INCONSISTENT
        node.value = data
        return None

    def list_specs(self, object_name):
        if not (isinstance(object_name, mms.DomainSpecificObjectName) and
                object_name.domain_id == LD and
                object_name.item_id in self.lists):
            return None
        return [var(i) for i in self.lists[object_name.item_id]]

    def request_cb(self, conn, req):
        self.requests.append(type(req).__name__)
        if isinstance(req, mms.IdentifyRequest):
            return mms.IdentifyResponse(*IDENTITY, None)

        if isinstance(req, mms.StatusRequest):
            return mms.StatusResponse(0, 0)

        if isinstance(req, mms.GetNameListRequest):
            if req.object_class == mms.ObjectClass.DOMAIN:
                names = [LD]
            elif req.object_scope != mms.DomainSpecificObjectScope(LD):
                names = []
            elif req.object_class == mms.ObjectClass.NAMED_VARIABLE:
                names = self.names
            elif req.object_class == mms.ObjectClass.NAMED_VARIABLE_LIST:
                names = sorted(self.lists)
            else:
                names = []
            start = (0 if req.continue_after is None else
                     bisect.bisect_right(names, req.continue_after))
            page = names[start:start + PAGE]
            return mms.GetNameListResponse(page,
                                           start + PAGE < len(names))

        if isinstance(req, mms.ReadRequest):
            if isinstance(req.value, list):
                return mms.ReadResponse([self.read(spec)
                                         for spec in req.value])
            specs = self.list_specs(req.value)
            if specs is None:
                return mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
            return mms.ReadResponse([self.read(spec) for spec in specs])

        if isinstance(req, mms.WriteRequest):
            specs = (req.specification
                     if isinstance(req.specification, list) else
                     self.list_specs(req.specification))
            if specs is None or len(specs) != len(req.data):
                return mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
            return mms.WriteResponse([self.write(spec, data) for spec, data
                                      in zip(specs, req.data, strict=True)])

        if isinstance(req, mms.GetVariableAccessAttributesRequest):
            node = self.node(req.value)
            if node is None:
                return mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
            return mms.GetVariableAccessAttributesResponse(
                False, self.type_description(node))

        if isinstance(req, mms.GetNamedVariableListAttributesRequest):
            specs = self.list_specs(req.value)
            if specs is None:
                return mms.ErrorResponse(mms.ErrorClass.ACCESS, 2)
            return mms.GetNamedVariableListAttributesResponse(False, specs)

        return mms.ErrorResponse(mms.ErrorClass.SERVICE, 3)


class OurServer:
    """`mms.listen` on 127.0.0.1 (a free port) answering from a `Model`;
    `connections` is a queue of the associations accepted"""

    def __init__(self):
        self.model = Model()
        self.connections = asyncio.Queue()
        self.accepted = []
        self.server = None

    async def __aenter__(self):
        self.server = await mms.listen(
            self.connections.put_nowait, self.model.request_cb,
            mms.Address(peer.HOST, 0))
        self.port = self.server.addresses[0].port
        return self

    async def __aexit__(self, *args):
        await self.server.async_close()
        while not self.connections.empty():
            self.accepted.append(self.connections.get_nowait())
        for conn in self.accepted:
            await conn.async_close()

    async def connection(self):
        """The libiec61850 client's association: the last one accepted
        that is open (its ``connect`` closes an association whose Identify
        fails and makes a new one); waits for one"""
        while True:
            while not self.connections.empty():
                self.accepted.append(self.connections.get_nowait())
            for conn in reversed(self.accepted):
                if conn.is_open:
                    return conn
            self.accepted.append(await bounded(self.connections.get(),
                                               timeout=timeout))


@pytest.fixture
async def our_server():
    async with OurServer() as server:
        yield server


@pytest.fixture
async def client(our_server):
    async with Iec61850Client(peer.HOST, our_server.port,
                              timeout) as client:
        # connect checks the association with Identify (libiec61850 under
        # load can report success and then fail every request)
        await client.op_ok('connect')
        yield client


async def test_server_identify(our_server, client):
    answer = await client.op_ok('identify')
    assert (answer['vendor'], answer['model'], answer['revision']) == \
        IDENTITY
    conn = await our_server.connection()
    assert conn.info.remote_addr.host == peer.HOST
    # libiec61850's client defaults, as read from its CR, CN, CP and AARQ:
    # TSEL, SSEL, PSEL 1, AP titles 1.1.1.999 (calling) and 1.1.1.999.1
    # (called), AE qualifiers 12
    info = conn.info
    assert (info.remote_tsel, info.remote_ssel, info.remote_psel) == \
        (1, 1, 1)
    assert (info.local_tsel, info.local_ssel, info.local_psel) == (1, 1, 1)
    assert info.remote_ap_title == (1, 1, 1, 999)
    assert info.local_ap_title == (1, 1, 1, 999, 1)
    assert (info.remote_ae_qualifier, info.local_ae_qualifier) == (12, 12)
    # the Initiate exchange: within what libiec61850 proposed and ours
    assert 1 <= conn.max_serv_outstanding_calling <= 5
    assert 1 <= conn.max_serv_outstanding_called <= 5


async def test_server_name_lists(our_server, client):
    # PAGE names a response: libiec61850 follows moreFollows
    model = our_server.model
    answer = await client.op_ok('domains')
    assert answer['names'] == [LD]
    answer = await client.op_ok('variables', LD)
    assert answer['names'] == model.names
    assert len(model.names) > 2 * PAGE
    assert model.requests.count('GetNameListRequest') >= \
        len(model.names) // PAGE + 1
    answer = await client.op_ok('lists', LD)
    assert answer['names'] == ['LLN0$Events']

    # IEC 61850 directories, from the same name lists
    answer = await client.op_ok('ld-list')
    assert answer['names'] == [LD]
    answer = await client.op_ok('ld-dir', LD)
    assert sorted(answer['names']) == ['GGIO1', 'GGIO2', 'LLN0']
    answer = await client.op_ok('ln-dir', f'{LD}/GGIO1')
    assert sorted(answer['names']) == ['AnIn1', 'Ind1', 'IntIn1', 'Str1']


async def test_server_reads(client):
    answer = await client.op_ok('read', peer.AN_IN, 'MX')
    assert answer['value'] == 1.5
    answer = await client.op_ok('read', peer.INT_IN, 'ST')
    assert answer['value'] == 7
    answer = await client.op_ok('read', peer.STR, 'ST')
    assert answer['value'] == 'initial'

    t_ms = round(T.timestamp() * 1000)
    answer = await client.op_ok('read', f'{LD}/GGIO2.Types1', 'CF')
    assert answer['value'] == [
        True, -(2 ** 40), 4_000_000_000, -0.5, 1e300, {'bits': '10'},
        {'octets': '000168617' '4ff'}, 'visible', 'ünïcode €',
        {'utc_ms': t_ms, 'quality': 10}, {'binary_ms': t_ms}, [1, -2, 3]]

    # a structure: mag {f}, q, t
    answer = await client.op_ok('read', f'{LD}/GGIO1.AnIn1', 'MX')
    assert answer['value'] == [[1.5], {'bits': '0' * 13},
                               {'utc_ms': t_ms, 'quality': 10}]

    # several variables in one Read, one missing
    answer = await client.op_ok('mms-read-multi', LD,
                                'GGIO1$MX$AnIn1$mag$f,GGIO1$ST$Nope$stVal,'
                                'GGIO2$CF$Types1$et')
    assert answer['values'] == [
        1.5, {'access_error': iec.DATA_ACCESS_ERROR_OBJECT_NONE_EXISTENT},
        {'binary_ms': t_ms}]

    # a single missing variable
    answer = await client.op_ok('read', f'{LD}/GGIO1.Nope1.stVal', 'ST')
    assert answer['value'] == {
        'access_error': iec.DATA_ACCESS_ERROR_OBJECT_NONE_EXISTENT}


async def test_server_writes(our_server, client):
    model = our_server.model
    # DC and CF are writable
    await client.op_ok('write', peer.AN_IN_DESC, 'DC', 'str',
                       'feeder 1: current')
    assert model.read(var('GGIO1$DC$AnIn1$d')) == \
        mms.VisibleStringData('feeder 1: current')
    await client.op_ok('write', f'{LD}/GGIO2.Types1.i64', 'CF', 'int',
                       str(2 ** 41))
    answer = await client.op_ok('read', f'{LD}/GGIO2.Types1.i64', 'CF')
    assert answer['value'] == 2 ** 41

    # MX is not; nor is a value of the wrong type
    answer = await client.op('write', peer.AN_IN, 'MX', 'float', '3.5')
    assert not answer['ok']
    assert answer['error_name'] == 'IED_ERROR_ACCESS_DENIED'
    assert model.read(var('GGIO1$MX$AnIn1$mag$f')) == \
        mms.FloatingPointData(1.5)
    answer = await client.op('write', peer.AN_IN_DESC, 'DC', 'int', '1')
    assert not answer['ok']
    assert answer['error_name'] == 'IED_ERROR_TYPE_INCONSISTENT'
    answer = await client.op('write', f'{LD}/GGIO1.Nope1.d', 'DC', 'int',
                             '1')
    assert not answer['ok']
    assert answer['error_name'] == 'IED_ERROR_OBJECT_DOES_NOT_EXIST'


async def test_server_variable_access_attributes(client):
    answer = await client.op_ok('spec', f'{LD}/GGIO1.AnIn1', 'MX')
    assert answer['spec'] == {
        'type': 'structure',
        'components': [
            {'name': 'mag', 'type': 'structure',
             'components': [{'name': 'f', 'type': 'float', 'size': 32,
                             'exponent_width': 8}]},
            {'name': 'q', 'type': 'bit_string', 'size': -13},
            {'name': 't', 'type': 'utc_time', 'size': -1}]}
    answer = await client.op_ok('spec', f'{LD}/GGIO2.Types1.arr', 'CF')
    assert answer['spec'] == {'type': 'array', 'size': 3,
                              'element': {'type': 'integer', 'size': 32}}
    answer = await client.op_ok('spec', f'{LD}/GGIO2.Types1.f64', 'CF')
    assert answer['spec'] == {'type': 'float', 'size': 64,
                              'exponent_width': 11}
    answer = await client.op('spec', f'{LD}/GGIO1.Nope1', 'MX')
    assert not answer['ok']


async def test_server_named_list_read(our_server, client):
    model = our_server.model
    model.write(var('GGIO1$DC$AnIn1$d'), mms.VisibleStringData('x'))
    model.tree['GGIO1']['ST']['Str1']['stVal'].value = \
        mms.VisibleStringData('in the data set')
    answer = await client.op_ok('dataset', peer.DATA_SET)
    assert answer['values'] == [1.5, False, 7, 'in the data set']
    assert 'ReadRequest' in model.requests
    answer = await client.op('dataset', f'{LD}/LLN0.Nope')
    assert not answer['ok']


async def test_server_iec61850_reports(our_server, client):
    # an IEC 61850 unbuffered report (InformationReport of 'RPT') as our
    # server sends it: libiec61850 parses it, TimeOfEntry in milliseconds
    await client.op_ok('report-subscribe', peer.RCB, peer.RPT_ID)
    conn = await our_server.connection()
    entry_time = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    opt_flds = mms.BitStringData([False, True, True, True, True,
                                  False, False, False, False, False])

    def report(seq_num, included, values, reason_bit):
        reason = mms.BitStringData([i == reason_bit for i in range(6)])
        return mms.InformationReportUnconfirmed(
            mms.VmdSpecificObjectName('RPT'),
            [mms.VisibleStringData(peer.RPT_ID), opt_flds,
             mms.UnsignedData(seq_num), mms.BinaryTimeData(entry_time),
             mms.VisibleStringData(f'{LD}/LLN0$Events'),
             mms.BitStringData(included), *values,
             *([reason] * len(values))])

    conn.send_unconfirmed(report(
        7, [True] * 4,
        [mms.FloatingPointData(42.25), mms.BooleanData(True),
         mms.IntegerData(-3), mms.VisibleStringData('reported')], 5))
    conn.send_unconfirmed(report(
        8, [False, False, True, False], [mms.IntegerData(4)], 1))
    answer = await client.op_ok('reports', 2, timeout / 2)
    first, second = answer['reports']
    entry_ms = round(entry_time.timestamp() * 1000)
    assert first == {
        'rcb': peer.RCB, 'rpt_id': peer.RPT_ID,
        'data_set': f'{LD}/LLN0$Events', 'seq_num': 7,
        'time_of_entry_ms': entry_ms,
        'values': [42.25, True, -3, 'reported'],
        'reasons': [iec.IEC61850_REASON_GI] * 4}
    assert second['seq_num'] == 8
    assert second['values'] == [None, None, 4, None]
    assert second['reasons'] == [None, None,
                                 iec.IEC61850_REASON_DATA_CHANGE, None]
    assert second['time_of_entry_ms'] == entry_ms


async def test_server_information_reports(our_server, client):
    # plain MMS InformationReports: of a named variable list (VMD-specific:
    # libiec61850's client drops reports of a domain-specific list name),
    # and of a list of variables (its handler is called per variable)
    await client.op_ok('info-subscribe')
    conn = await our_server.connection()
    conn.send_unconfirmed(mms.InformationReportUnconfirmed(
        mms.VmdSpecificObjectName('Events'),
        [mms.FloatingPointData(0.5), mms.BooleanData(True),
         mms.IntegerData(3), mms.VisibleStringData('by list')]))
    conn.send_unconfirmed(mms.InformationReportUnconfirmed(
        [var('GGIO1$ST$IntIn1$stVal'), var('GGIO2$CF$Types1$et')],
        [mms.IntegerData(11), mms.BinaryTimeData(T)]))
    answer = await client.op_ok('info-reports', 3, timeout / 2)
    assert answer['reports'] == [
        {'domain': None, 'name': 'Events', 'list': True,
         'value': [0.5, True, 3, 'by list']},
        {'domain': LD, 'name': 'GGIO1$ST$IntIn1$stVal', 'list': False,
         'value': 11},
        {'domain': LD, 'name': 'GGIO2$CF$Types1$et', 'list': False,
         'value': {'binary_ms': round(T.timestamp() * 1000)}}]


@pytest.mark.parametrize('op', ['release', 'conclude'])
async def test_server_conclude_and_release(our_server, op):
    # libiec61850's release and its conclude both send conclude-Request,
    # then ACSE RLRQ (in a session FINISH); we answer conclude-Response and
    # RLRE (in a DISCONNECT), and our side of the association closes
    relay = Relay((peer.HOST, our_server.port))
    addr = await relay.start()
    try:
        async with Iec61850Client(peer.HOST, addr.port, timeout) as client:
            await client.op_ok('connect')
            conn = await our_server.connection()
            await client.op_ok('identify')

            await client.op_ok(op)
            await bounded(conn.wait_closed(), timeout=timeout)
            deadline = time.monotonic() + timeout
            while (await client.op_ok('state'))['state'] != \
                    iec.IED_STATE_CLOSED:
                assert time.monotonic() < deadline, 'client not closed'
                await asyncio.sleep(0.01)
            with pytest.raises(ConnectionError):
                await conn.send_confirmed(mms.IdentifyRequest())
            # the last association (connect may have retried)
            link = relay.links[-1]
            await bounded(link.done.wait(), timeout=timeout)

    finally:
        await relay.close()

    to_server = trace(link.to_server)
    to_client = trace(link.to_client)
    assert to_server[-2][1] == [mms_codec.ConcludeRequestPdu()]
    assert to_server[-1][0] == 'FN'
    assert [type(pdu) for pdu in to_server[-1][1]] == [acse_common.RlrqApdu]
    assert to_client[-2:] == [
        ('DT', [mms_codec.ConcludeResponsePdu()]),
        ('DN', [acse_common.RlreApdu(
            acse_common.ReleaseResponseReason.NORMAL, None)])]
    for spdu, pdus in to_server + to_client:
        assert spdu not in ('AB', 'DR', 'ER'), (spdu, pdus)
        assert not any(isinstance(pdu, acse_common.AbrtApdu)
                       for pdu in pdus)
