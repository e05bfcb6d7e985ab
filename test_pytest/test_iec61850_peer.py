"""The libiec61850 test peers themselves: libiec61850 client against
libiec61850 server

These tests check the harness of `iec61850_peer` (marked ``iec61850``):
a libiec61850 ``IedServer`` with the module's model in this process and
the libiec61850 client script in a subprocess, talking MMS to each other.
They prove that the peers behave as the MMS interoperability tests expect
before our client or our server replaces one side: identify, name lists,
reads of each basic type and of a structure, variable access attributes,
writes accepted and denied, data set (named variable list) reads and
definitions, an unbuffered report after a value change (value, reason and
TimeOfEntry), release. The test's event loop (asyncio or uvloop) only
waits on the client's pipes; libiec61850 runs on its own threads and in
the subprocess.

Without the bindings these tests skip, naming the install step; with
``HAT_DRIVERS_REQUIRE_IEC61850=1`` (CI) they fail instead.

"""

import asyncio
import socket
import sys
import time

import pytest

import iec61850_peer
from iec61850_peer import Iec61850Client, Iec61850Server

iec = iec61850_peer.pyiec61850_or_skip()


pytestmark = [pytest.mark.iec61850, pytest.mark.timeout(60)]

timeout = 10  # seconds: bound of every single wait


async def wait_until(predicate, what):
    """Polls `predicate` (state of libiec61850's threads, which signal
    nothing to the event loop) until true, bounded by `timeout`"""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f'timeout ({timeout} s) waiting for {what}')
        await asyncio.sleep(0.01)


@pytest.fixture
async def server():
    async with Iec61850Server() as server:
        yield server


@pytest.fixture
async def client(server):
    async with Iec61850Client(server.host, server.port, timeout) as client:
        answer = await client.op_ok('connect')
        assert answer['attempts'] >= 1
        yield client


async def test_identify(client):
    answer = await client.op_ok('identify')
    assert (answer['vendor'], answer['model'], answer['revision']) == \
        iec61850_peer.IDENTITY


async def test_name_lists(client):
    domains = await client.op_ok('domains')
    assert domains['names'] == [iec61850_peer.LD]

    variables = await client.op_ok('variables', iec61850_peer.LD)
    assert {'GGIO1', 'GGIO1$MX$AnIn1$mag$f', 'GGIO1$ST$Ind1$stVal',
            'GGIO1$ST$IntIn1$stVal', 'GGIO1$ST$Str1$stVal',
            'GGIO1$DC$AnIn1$d', 'GGIO1$CF$SPCSO1$ctlModel',
            'LLN0$RP$urcbEvents01'} <= set(variables['names'])

    lists = await client.op_ok('lists', iec61850_peer.LD)
    assert lists['names'] == ['LLN0$Events']

    ld_dir = await client.op_ok('ld-dir', iec61850_peer.LD)
    assert sorted(ld_dir['names']) == ['GGIO1', 'LLN0']

    ln_dir = await client.op_ok('ln-dir', f'{iec61850_peer.LD}/GGIO1')
    assert sorted(ln_dir['names']) == ['AnIn1', 'Ind1', 'IntIn1', 'SPCSO1',
                                       'Str1']


async def test_read_initial_values(client):
    for ref, fc in [(iec61850_peer.AN_IN, 'MX'), (iec61850_peer.IND, 'ST'),
                    (iec61850_peer.INT_IN, 'ST'), (iec61850_peer.STR, 'ST')]:
        answer = await client.op_ok('read', ref, fc)
        assert answer['value'] == iec61850_peer.INITIAL[ref]


async def test_read_updated_values(server, client):
    # each basic type, changed from this process (float32: exact here)
    values = {iec61850_peer.AN_IN: -12.625, iec61850_peer.IND: True,
              iec61850_peer.INT_IN: -123456, iec61850_peer.STR: 'changed'}
    for ref, value in values.items():
        server.update(ref, value)
    for ref, fc in [(iec61850_peer.AN_IN, 'MX'), (iec61850_peer.IND, 'ST'),
                    (iec61850_peer.INT_IN, 'ST'), (iec61850_peer.STR, 'ST')]:
        answer = await client.op_ok('read', ref, fc)
        assert answer['value'] == values[ref]
        assert type(answer['value']) is type(values[ref])


async def test_read_mms_name_and_structure(server, client):
    # the same float by its MMS name, and the data object as a structure
    # (mag {f}, q bit string 13, t UtcTime with the update's time stamp)
    stamp_ms = 1_700_000_000_123
    server.update(iec61850_peer.AN_IN, 2.5,
                  timestamp=_datetime_ms(stamp_ms))

    answer = await client.op_ok('mms-read', iec61850_peer.LD,
                                'GGIO1$MX$AnIn1$mag$f')
    assert answer['value'] == 2.5

    answer = await client.op_ok('read', f'{iec61850_peer.LD}/GGIO1.AnIn1',
                                'MX')
    mag, q, t = answer['value']
    assert mag == [2.5]
    assert q == {'bits': '0' * 13}
    assert t['utc_ms'] == stamp_ms


async def test_read_missing(client):
    # the Read succeeds with a failure result for the variable
    # (DataAccessError object-non-existent, 10)
    answer = await client.op_ok('read',
                                f'{iec61850_peer.LD}/GGIO1.Nope1.stVal', 'ST')
    assert answer['value'] == {
        'access_error': iec.DATA_ACCESS_ERROR_OBJECT_NONE_EXISTENT}


async def test_variable_access_attributes(client):
    answer = await client.op_ok('spec', f'{iec61850_peer.LD}/GGIO1.AnIn1',
                                'MX')
    assert answer['spec'] == {
        'type': 'structure',
        'components': [
            {'name': 'mag', 'type': 'structure',
             'components': [{'name': 'f', 'type': 'float', 'size': 32,
                             'exponent_width': 8}]},
            {'name': 'q', 'type': 'bit_string', 'size': -13},
            {'name': 't', 'type': 'utc_time', 'size': -1}]}

    answer = await client.op_ok('spec', iec61850_peer.STR, 'ST')
    assert answer['spec'] == {'type': 'visible_string', 'size': -255}


async def test_write_accepted(server, client):
    # DC is writable (write access policy ALLOW); the value may hold ':'
    await client.op_ok('write', iec61850_peer.AN_IN_DESC, 'DC', 'str',
                       'feeder 1: current')
    assert server.get_string(iec61850_peer.AN_IN_DESC) == 'feeder 1: current'
    answer = await client.op_ok('read', iec61850_peer.AN_IN_DESC, 'DC')
    assert answer['value'] == 'feeder 1: current'


async def test_write_denied(server, client):
    # measured values (MX) are never writable
    answer = await client.op('write', iec61850_peer.AN_IN, 'MX', 'float',
                             '3.5')
    assert not answer['ok']
    assert answer['error_name'] == 'IED_ERROR_ACCESS_DENIED'
    assert server.get_float(iec61850_peer.AN_IN) == \
        iec61850_peer.INITIAL[iec61850_peer.AN_IN]

    # a write of the wrong type to a writable attribute
    answer = await client.op('write', iec61850_peer.AN_IN_DESC, 'DC', 'int',
                             '1')
    assert not answer['ok']
    assert answer['error_name'] == 'IED_ERROR_TYPE_INCONSISTENT'


async def test_data_set_read(server, client):
    server.update(iec61850_peer.AN_IN, 0.25)
    server.update(iec61850_peer.STR, 'in the data set')
    answer = await client.op_ok('dataset', iec61850_peer.DATA_SET)
    assert answer['values'] == [0.25, False, 7, 'in the data set']


async def test_data_set_define_read_delete(client):
    ref = f'{iec61850_peer.LD}/LLN0.dyn1'
    members = (f'{iec61850_peer.INT_IN}[ST],{iec61850_peer.AN_IN}[MX]')
    await client.op_ok('define-dataset', ref, members)
    lists = await client.op_ok('lists', iec61850_peer.LD)
    assert sorted(lists['names']) == ['LLN0$Events', 'LLN0$dyn1']

    answer = await client.op_ok('dataset', ref)
    assert answer['values'] == [7, 1.5]

    answer = await client.op_ok('delete-dataset', ref)
    assert answer['deleted']
    lists = await client.op_ok('lists', iec61850_peer.LD)
    assert lists['names'] == ['LLN0$Events']


async def test_report_after_change(server, client):
    answer = await client.op_ok('report-enable', iec61850_peer.RCB)
    assert answer['rpt_id'] == iec61850_peer.RPT_ID
    assert answer['data_set'] == f'{iec61850_peer.LD}/LLN0$Events'

    before_ms = time.time() * 1000
    server.update(iec61850_peer.AN_IN, 42.25)
    answer = await client.op_ok('reports', 1, timeout)
    after_ms = time.time() * 1000
    [report] = answer['reports']
    assert report['rpt_id'] == iec61850_peer.RPT_ID
    assert report['data_set'] == f'{iec61850_peer.LD}/LLN0$Events'
    # only the changed member, reason data-change
    assert report['values'] == [42.25, None, None, None]
    assert report['reasons'] == [iec.IEC61850_REASON_DATA_CHANGE, None,
                                 None, None]
    # TimeOfEntry: when the server made the report (ms; 1 ms slack for
    # the two clocks' rounding)
    assert before_ms - 1 <= report['time_of_entry_ms'] <= after_ms + 1
    first_seq_num = report['seq_num']

    server.update(iec61850_peer.STR, 'reported')
    answer = await client.op_ok('reports', 1, timeout)
    [report] = answer['reports']
    assert report['values'] == [None, None, None, 'reported']
    assert report['seq_num'] == (first_seq_num + 1) % 256

    # after RptEna false no report comes
    await client.op_ok('report-disable', iec61850_peer.RCB)
    server.update(iec61850_peer.INT_IN, 99)
    answer = await client.op('reports', 1, 0.3)
    assert not answer['ok']
    assert 'TimeoutError' in answer['exception']


async def test_release(server, client):
    await wait_until(lambda: server.open_connections == 1,
                     'the server to count the association')
    await client.op_ok('release')
    # the client's state follows on libiec61850's thread
    deadline = time.monotonic() + timeout
    while (await client.op_ok('state'))['state'] != iec.IED_STATE_CLOSED:
        assert time.monotonic() < deadline, 'client not closed'
        await asyncio.sleep(0.01)
    await wait_until(lambda: server.open_connections == 0,
                     'the server to close the association')
    answer = await client.op('identify')
    assert not answer['ok']


async def test_bulk_data_set():
    # the benchmark's workload: a named variable list of 500 floats
    async with Iec61850Server(bulk_floats=500) as server:
        async with Iec61850Client(server.host, server.port,
                                  timeout) as client:
            await client.op_ok('connect')
            # 2500+ names (about 60 kB): libiec61850 follows moreFollows
            answer = await client.op_ok('variables', iec61850_peer.BULK_LD)
            names = answer['names']
            assert len(names) == len(set(names)) > 5 * 500
            assert {f'GGIO1$MX$AnIn{i}$mag$f'
                    for i in range(1, 501)} <= set(names)

            answer = await client.op_ok('dataset',
                                        iec61850_peer.BULK_DATA_SET)
            assert answer['values'] == [float(i) for i in range(1, 501)]

            server.update(iec61850_peer.bulk_float(500), -1.0)
            answer = await client.op_ok('read',
                                        iec61850_peer.bulk_float(500), 'MX')
            assert answer['value'] == -1.0
            await client.op_ok('release')


async def test_client_process_ends_at_close(server):
    client = Iec61850Client(server.host, server.port, timeout)
    await client.start()
    process = client._process
    await client.op_ok('connect')
    await client.close()
    assert process.returncode == 0
    await wait_until(lambda: server.open_connections == 0,
                     'the server to see the client gone')


async def test_connect_refused():
    # nothing listens on a port bound by a socket that does not listen (a
    # port just freed could be taken by another socket in between)
    with socket.socket() as sock:
        sock.bind((iec61850_peer.HOST, 0))
        port = sock.getsockname()[1]
        async with Iec61850Client(iec61850_peer.HOST, port,
                                  timeout) as client:
            answer = await client.op('connect')
            assert not answer['ok']
            assert answer['error_name'] == 'IED_ERROR_CONNECTION_REJECTED'
            answer = await client.op('identify')
            assert not answer['ok']


def test_missing_bindings_skip_or_fail(monkeypatch):
    # a missing pyiec61850 skips, naming the install step; with
    # HAT_DRIVERS_REQUIRE_IEC61850 set it fails
    for name in list(sys.modules):
        if name == 'pyiec61850' or name.startswith('pyiec61850.'):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, 'pyiec61850', None)

    monkeypatch.delenv(iec61850_peer.REQUIRE_IEC61850, raising=False)
    with pytest.raises(pytest.skip.Exception, match='pyiec61850-ng'):
        iec61850_peer.pyiec61850_or_skip()

    monkeypatch.setenv(iec61850_peer.REQUIRE_IEC61850, '0')
    with pytest.raises(pytest.skip.Exception):
        iec61850_peer.pyiec61850_or_skip()

    monkeypatch.setenv(iec61850_peer.REQUIRE_IEC61850, '1')
    with pytest.raises(pytest.fail.Exception,
                       match='HAT_DRIVERS_REQUIRE_IEC61850 is set'):
        iec61850_peer.pyiec61850_or_skip()


def _datetime_ms(ms):
    import datetime
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
