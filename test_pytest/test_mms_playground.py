"""The MMS playground programs, as processes and in-process

``playground/mms_server.py`` serves its IEC 61850-style model and
``playground/mms_client.py`` run against it identifies the server, browses
it (domains, named variables across GetNameList continuations, named
variable lists), reads every basic variable and prints them; only with
``--write`` does it write (the SPC's control value is accepted, other
variables are denied and the client says so in one ``error: ...`` line)
and only with ``--reports`` does it enable the report control block and
print the reports (RptID, SeqNum, TimeOfEntry, data set, values), exiting
after ``--count`` of them. SIGINT and SIGTERM end both quietly (0,
nothing on standard error); bad arguments, a port in use and a refused
connection give one line ``error: ...`` naming the address and errno once.

In-process, the simulator answers the API directly: name lists with
continuation, reads of variables, structures and the data set by name,
writes accepted and denied, type descriptions, and reports whose
TimeOfEntry (BinaryTime, milliseconds) is the current time.

Against libiec61850 (``pyiec61850``, see ``iec61850_peer.py``): its client
browses the simulator, reads, writes, reads the data set, enables the
report control block its way and receives the reports; ``mms_client.py``
browses, reads and writes a libiec61850 ``IedServer`` and prints its
reports. With ``--uvloop`` everything runs on uvloop
(``PLAYGROUND_LOOP=uvloop`` for the processes).

"""

from pathlib import Path
import asyncio
import contextlib
import datetime
import errno
import os
import re
import signal
import socket
import sys

import pytest

from chaos import count_number
import iec61850_peer
from hat.drivers import mms


pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
PLAYGROUND = REPO / 'playground'

SERVER = 'mms_server.py'
CLIENT = 'mms_client.py'

START_TIMEOUT = 30
RUN_TIMEOUT = 30
EXIT_TIMEOUT = 10

sys.path.insert(0, str(PLAYGROUND))

import mms_client  # NOQA: E402
import mms_server  # NOQA: E402


@pytest.fixture
def env(request):
    env = dict(os.environ)
    env['PYTHONUNBUFFERED'] = '1'
    env['PLAYGROUND_GRACE'] = '60'
    if request.config.getoption('--uvloop'):
        env['PLAYGROUND_LOOP'] = 'uvloop'
    return env


@contextlib.asynccontextmanager
async def program(env, name, *args):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PLAYGROUND / name), *args,
        cwd=REPO, env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        yield proc

    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def finish(proc, timeout):
    """(status, stdout, stderr) of `proc` once it exits (bounded)"""
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)

    except asyncio.TimeoutError:
        raise AssertionError(f'still running after {timeout} s') from None

    return proc.returncode, out.decode(), err.decode()


async def run(env, name, *args):
    async with program(env, name, *args) as proc:
        return await finish(proc, RUN_TIMEOUT)


async def expect_line(proc, pattern):
    """Read stdout lines until one matches `pattern` (bounded)"""
    lines = []
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
        assert line, f'no line matching {pattern!r}; got {lines}'
        lines.append(line.decode())
        match = re.search(pattern, lines[-1])
        if match:
            return match


@contextlib.asynccontextmanager
async def server(env, *args):
    """Running simulator (on a free port) and its port"""
    async with program(env, SERVER, *args, '0') as proc:
        match = await expect_line(proc, r'listening on (\S+):(\d+)')
        yield proc, int(match.group(2))


def assert_error(status, err, *words):
    assert status == 1, (status, err)
    assert 'Traceback' not in err, err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    for word in words:
        assert word in err, err


def lines_of(out, prefix):
    return [line.removeprefix(prefix) for line in out.splitlines()
            if line.startswith(prefix)]


# --- the two programs ------------------------------------------------------

async def test_client_against_server(env):
    """Browse, read, enable reports, write the SPC and print two reports
    (the control's, then a periodic one, unless the write took longer than
    the period); the server prints the control and the reports' switch"""
    async with server(env, '--period', '2') as (srv, port):
        status, out, err = await run(
            env, CLIENT, '--port', str(port), '--reports', '--count', '2',
            '--write', 'SIMLD0/GGIO1$CO$SPCSO1$Oper$ctlVal=true')
        assert (status, err) == (0, ''), err

        assert lines_of(out, 'identify: ') == [
            "vendor='Hat Open' model='hat-drivers mms_server.py' "
            "revision='1'"]
        assert lines_of(out, 'domain: ') == ['SIMLD0']
        model = mms_server.Model()
        # more names than one GetNameList response holds: continuation
        assert len(model.names) > mms_server.NAMES_PER_RESPONSE
        assert lines_of(out, 'variable: ') == [f'SIMLD0/{name}'
                                               for name in model.names]
        assert lines_of(out, 'list: ') == ['SIMLD0/LLN0$Events']

        reads = dict(line.split(' = ', 1)
                     for line in lines_of(out, 'read: '))
        assert 'SIMLD0/MMXU1' not in reads      # structures not read
        assert re.fullmatch(r'\d+(\.\d+)?',
                            reads['SIMLD0/MMXU1$MX$TotW$mag$f'])
        assert reads['SIMLD0/GGIO1$ST$SPCSO1$stVal'] == 'false'
        assert reads['SIMLD0/GGIO1$CF$SPCSO1$ctlModel'] == '1'
        assert reads['SIMLD0/GGIO1$ST$StrIn1$stVal'].startswith("'step ")
        assert reads['SIMLD0/LLN0$RP$urcb01$RptEna'] == 'false'

        assert lines_of(out, 'reports enabled: ') == [
            'SIMLD0/LLN0$RP$urcb01$RptEna']
        assert lines_of(out, 'write: ') == [
            'SIMLD0/GGIO1$CO$SPCSO1$Oper$ctlVal = true',
            'SIMLD0/GGIO1$CO$SPCSO1$Oper$ctlVal: ok']

        reports = lines_of(out, 'report: ')
        assert len(reports) == 2
        seq_nums = []
        for line in reports:
            match = re.fullmatch(
                r'RptID=SIMLD0/LLN0\$urcb01 SeqNum=(\d+) '
                r'TimeOfEntry=(\S+) DatSet=SIMLD0/LLN0\$Events( \S+=\S+)+',
                line)
            assert match, line
            seq_nums.append(int(match.group(1)))
            entry = datetime.datetime.fromisoformat(match.group(2))
            now = datetime.datetime.now(datetime.timezone.utc)
            assert abs((now - entry).total_seconds()) < 60, line
        assert seq_nums == [0, 1]
        # the control, enabled before the write, is reported
        assert any('SIMLD0/GGIO1$ST$SPCSO1$stVal=true' in line
                   for line in reports), reports

        srv.send_signal(signal.SIGTERM)
        status, out, err = await finish(srv, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        assert re.search(r'^association from 127\.0\.0\.1:\d+$', out, re.M)
        assert re.search(r'^control: GGIO1\$ST\$SPCSO1 on from ', out, re.M)
        assert re.search(r'^reports enabled for ', out, re.M)
        assert re.search(r'^association from 127\.0\.0\.1:\d+ closed$', out,
                         re.M)


async def test_client_read_only_by_default(env):
    """Without --write and --reports the client writes nothing: the server
    sees no control and no reports' switch"""
    async with server(env, '--period', '0.2') as (srv, port):
        status, out, err = await run(env, CLIENT, '--port', str(port))
        assert (status, err) == (0, ''), err
        assert lines_of(out, 'read: ')
        assert not lines_of(out, 'write: ')
        assert not lines_of(out, 'reports enabled: ')
        assert not lines_of(out, 'report: ')

        srv.send_signal(signal.SIGINT)
        status, out, err = await finish(srv, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        assert 'control:' not in out
        assert 'reports enabled' not in out


async def test_client_reads_given_variables(env):
    async with server(env) as (srv, port):
        status, out, err = await run(
            env, CLIENT, '--port', str(port),
            '--read', 'SIMLD0/MMXU1$MX$Hz$mag$f',
            '--read', 'SIMLD0/NoSuch')
        assert (status, err) == (0, ''), err
        reads = lines_of(out, 'read: ')
        assert len(reads) == 2
        assert re.fullmatch(r'SIMLD0/MMXU1\$MX\$Hz\$mag\$f = \d+(\.\d+)?',
                            reads[0]), reads
        assert reads[1] == 'SIMLD0/NoSuch = <OBJECT_NON_EXISTENT>'

        srv.send_signal(signal.SIGTERM)
        assert (await finish(srv, EXIT_TIMEOUT))[0] == 0


@pytest.mark.parametrize('write, words', [
    ('SIMLD0/MMXU1$MX$TotW$mag$f=5',
     ['SIMLD0/MMXU1$MX$TotW$mag$f', 'refused', 'OBJECT_ACCESS_DENIED']),
    ('SIMLD0/GGIO1$CO$SPCSO1$Oper$ctlVal=maybe',
     ['SIMLD0/GGIO1$CO$SPCSO1$Oper$ctlVal=maybe', 'true or false']),
    ('SIMLD0/NoSuch=1', ['GetVariableAccessAttributesRequest refused',
                         'ACCESS'])])
async def test_client_write_refused(env, write, words):
    """A write the server denies, a value that does not fit the type and
    an unknown variable: one error line, status 1"""
    async with server(env) as (srv, port):
        status, out, err = await run(env, CLIENT, '--port', str(port),
                                     '--write', write)
        assert_error(status, err, *words)

        srv.send_signal(signal.SIGTERM)
        status, out, err = await finish(srv, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        assert 'control:' not in out


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
async def test_client_waiting_for_reports_ends_on_signal(env, sig):
    async with server(env, '--period', '0.2') as (srv, port):
        async with program(env, CLIENT, '--port', str(port),
                           '--reports') as client:
            await expect_line(client, r'^report: ')
            client.send_signal(sig)
            status, out, err = await finish(client, EXIT_TIMEOUT)
            assert (status, err) == (0, '')

        # the client concluded and released: the server saw the end
        await expect_line(srv, r'^association from \S+ closed$')
        srv.send_signal(signal.SIGTERM)
        assert (await finish(srv, EXIT_TIMEOUT))[:1] == (0,)


async def test_server_ends_associations_on_signal(env):
    """SIGTERM with a client connected: the server concludes and releases
    the association and exits with 0; the client waiting for reports says
    in one line that the association ended"""
    async with server(env, '--period', '0.2') as (srv, port):
        async with program(env, CLIENT, '--port', str(port),
                           '--reports') as client:
            await expect_line(client, r'^report: ')
            srv.send_signal(signal.SIGTERM)
            status, out, err = await finish(srv, EXIT_TIMEOUT)
            assert (status, err) == (0, '')
            assert re.search(r'^association from \S+ closed$', out, re.M)
            status, out, err = await finish(client, EXIT_TIMEOUT)
            assert_error(status, err, f'127.0.0.1:{port}')


@pytest.mark.parametrize('name, args, words', [
    (SERVER, ['65536'], ['port']),
    (SERVER, ['--period', '0', '0'], ['period']),
    (CLIENT, ['--port', 'x'], ['port']),
    (CLIENT, ['--read', 'MMXU1'], ['DOMAIN/ITEM']),
    (CLIENT, ['--write', 'SIMLD0/x'], ['DOMAIN/ITEM=VALUE']),
    (CLIENT, ['--count', '0'], ['--count', 'must be a positive integer']),
    (CLIENT, ['--count', '2'], ['--count', '--reports']),
    (CLIENT, ['--timeout', '0'], ['timeout'])])
async def test_bad_arguments(env, name, args, words):
    status, out, err = await run(env, name, *args)
    assert_error(status, err, *words)


async def test_port_in_use(env):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        status, out, err = await run(env, SERVER, str(port))
    assert_error(status, err, 'in use')
    assert count_number(err, port) == 1, err
    assert count_number(err, errno.EADDRINUSE) == 1, err


async def test_connection_refused(env):
    """One line naming the address and the errno once each"""
    with socket.socket() as sock:
        # bound, not listening: nothing accepts, nobody else takes it
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        status, out, err = await run(env, CLIENT, '--port', str(port))
    assert_error(status, err, 'refused')
    assert err.count(f'127.0.0.1:{port}') == 1, err
    assert count_number(err, port) == 1, err
    assert count_number(err, errno.ECONNREFUSED) == 1, err


async def test_help_shows_model(env):
    status, out, err = await run(env, SERVER, '-h')
    assert (status, err) == (0, '')
    assert 'MMXU1$MX$TotW' in out and 'LLN0$RP$urcb01' in out


# --- in-process ------------------------------------------------------------

@contextlib.asynccontextmanager
async def simulator_connection():
    """A simulator listening on a free port, a connection to it"""
    simulator = mms_server.Simulator()
    srv = await mms_server.serve(mms.Address('127.0.0.1', 0), simulator)
    try:
        conn = await mms.connect(lambda conn, req: None, srv.addresses[0])
        try:
            yield simulator, conn

        finally:
            await conn.async_close()

    finally:
        await srv.async_close()
        await simulator.close_all()


def name(item):
    return mms.DomainSpecificObjectName(mms_server.DOMAIN, item)


async def test_name_list_continuation():
    async with simulator_connection() as (simulator, conn):
        names = []
        responses = 0
        continue_after = None
        while True:
            res = await conn.send_confirmed(mms.GetNameListRequest(
                mms.ObjectClass.NAMED_VARIABLE,
                mms.DomainSpecificObjectScope('SIMLD0'), continue_after))
            responses += 1
            assert len(res.identifiers) <= mms_server.NAMES_PER_RESPONSE
            names.extend(res.identifiers)
            if not res.more_follows:
                break
            continue_after = res.identifiers[-1]
        assert names == simulator.model.names
        assert responses > 1

        res = await conn.send_confirmed(mms.GetNameListRequest(
            mms.ObjectClass.NAMED_VARIABLE,
            mms.DomainSpecificObjectScope('NoSuch'), None))
        assert isinstance(res, mms.ErrorResponse)


async def test_read_write_attributes():
    async with simulator_connection() as (simulator, conn):
        res = await conn.send_confirmed(mms.ReadRequest(
            [mms.NameVariableSpecification(name('MMXU1$MX$Hz$mag')),
             mms.NameVariableSpecification(name('NoSuch'))]))
        [hz, missing] = res.results
        assert isinstance(hz, mms.StructureData)
        assert isinstance(hz.elements[0], mms.FloatingPointData)
        assert missing == mms.DataAccessError.OBJECT_NON_EXISTENT

        # the data set by its name: one value per member
        res = await conn.send_confirmed(mms.ReadRequest(
            name(mms_server.DATA_SET)))
        assert len(res.results) == len(mms_server.DATA_SET_MEMBERS)

        res = await conn.send_confirmed(mms.WriteRequest(
            [mms.NameVariableSpecification(name('GGIO1$CO$SPCSO1$Oper')),
             mms.NameVariableSpecification(name('GGIO1$ST$Ind1$stVal')),
             mms.NameVariableSpecification(
                 name('GGIO1$CO$SPCSO1$Oper$ctlVal'))],
            [simulator.model.value('GGIO1$CO$SPCSO1$Oper')._replace(
                elements=[mms.BooleanData(True),
                          *simulator.model.value(
                              'GGIO1$CO$SPCSO1$Oper').elements[1:]]),
             mms.BooleanData(True),
             mms.IntegerData(1)]))
        assert res.results == [None,
                               mms.DataAccessError.OBJECT_ACCESS_DENIED,
                               mms.DataAccessError.TYPE_INCONSISTENT]
        assert simulator.model.value('GGIO1$ST$SPCSO1$stVal') == \
            mms.BooleanData(True)

        res = await conn.send_confirmed(
            mms.GetVariableAccessAttributesRequest(name('MMXU1$MX$TotW')))
        assert res.type_description == mms.StructureTypeDescription([
            ('mag', mms.StructureTypeDescription(
                [('f', mms.FloatingPointTypeDescription(32, 8))])),
            ('q', mms.BitStringTypeDescription(13)),
            ('t', mms.UtcTimeTypeDescription())])

        res = await conn.send_confirmed(
            mms.GetNamedVariableListAttributesRequest(
                name(mms_server.DATA_SET)))
        assert [spec.name.item_id for spec in res.specification] == \
            mms_server.DATA_SET_MEMBERS


async def test_reports_in_process():
    """Reports only after RptEna = true, per association; TimeOfEntry is
    now (BinaryTime in milliseconds); the client's description names the
    values"""
    async with simulator_connection() as (simulator, conn):
        simulator.report(['MMXU1$MX$TotW$mag$f'])      # not enabled: none
        res = await conn.send_confirmed(mms.WriteRequest(
            [mms.NameVariableSpecification(
                name(f'{mms_server.RCB}$RptEna'))],
            [mms.BooleanData(True)]))
        assert res.results == [None]
        res = await conn.send_confirmed(mms.ReadRequest(
            [mms.NameVariableSpecification(
                name(f'{mms_server.RCB}$RptEna'))]))
        assert res.results == [mms.BooleanData(True)]

        before = datetime.datetime.now(datetime.timezone.utc)
        simulator.report(['MMXU1$MX$TotW$mag$f', 'GGIO1$ST$Ind1$stVal'])
        report = await asyncio.wait_for(conn.receive_unconfirmed(), 10)
        after = datetime.datetime.now(datetime.timezone.utc)

        assert report.specification == mms.VmdSpecificObjectName('RPT')
        rpt_id, opt_flds, seq_num, entry, data_set, inclusion, *rest = \
            report.data
        assert rpt_id == mms.VisibleStringData('SIMLD0/LLN0$urcb01')
        assert opt_flds == mms.BitStringData(mms_server.OPT_FLDS)
        assert seq_num == mms.UnsignedData(0)
        assert isinstance(entry, mms.BinaryTimeData)
        slack = datetime.timedelta(milliseconds=1)
        assert before - slack <= entry.value <= after + slack
        assert data_set == mms.VisibleStringData('SIMLD0/LLN0$Events')
        assert inclusion == mms.BitStringData([True, False, True, False,
                                               False])
        assert rest[:2] == [
            mms.VisibleStringData('SIMLD0/MMXU1$MX$TotW$mag$f'),
            mms.VisibleStringData('SIMLD0/GGIO1$ST$Ind1$stVal')]
        assert isinstance(rest[2], mms.FloatingPointData)
        assert rest[3] == mms.BooleanData(False)

        text = mms_client.describe_report(report, {})
        assert text.startswith('RptID=SIMLD0/LLN0$urcb01 SeqNum=0 '
                               'TimeOfEntry=')
        assert text.endswith(' SIMLD0/GGIO1$ST$Ind1$stVal=false')


async def test_client_run_in_process(capsys):
    """The client's `run` against the simulator in this process: the SPC
    write goes through and is reported"""
    simulator = mms_server.Simulator()
    srv = await mms_server.serve(mms.Address('127.0.0.1', 0), simulator)
    try:
        addr = srv.addresses[0]
        task = asyncio.ensure_future(mms_client.run(
            addr, None,
            [mms_client.Write(mms_client.Reference(
                'SIMLD0', 'GGIO1$CO$SPCSO1$Oper$ctlVal'), 'on')],
            True, 1, 10))
        status = await asyncio.wait_for(task, RUN_TIMEOUT)
        assert status == 0

    finally:
        await srv.async_close()
        await simulator.close_all()

    out = capsys.readouterr().out
    assert simulator.model.value('GGIO1$ST$SPCSO1$stVal') == \
        mms.BooleanData(True)
    [report] = lines_of(out, 'report: ')
    assert 'SIMLD0/GGIO1$ST$SPCSO1$stVal=true' in report
    assert not simulator.associations


def test_describe():
    utc = datetime.timezone.utc
    assert mms_client.describe(mms.StructureData(
        [mms.FloatingPointData(1.5), mms.BooleanData(True),
         mms.BitStringData([True, False]), mms.OctetStringData(b'\x01'),
         mms.VisibleStringData('x'),
         mms.BinaryTimeData(datetime.datetime(2024, 5, 17, 11, 45, 30,
                                              250000, utc)),
         mms.DataAccessError.OBJECT_INVALIDATED])) == (
        "{1.5, true, '10'B, '01'H, 'x', 2024-05-17T11:45:30.250+00:00, "
        "<OBJECT_INVALIDATED>}")


# --- against libiec61850 ---------------------------------------------------

async def test_libiec61850_client_against_simulator():
    """A libiec61850 client (in a subprocess) browses the simulator,
    reads, writes the SPC (and is denied a measured value), reads the data
    set, enables the report control block as libiec61850 does (TrgOps,
    OptFlds and RptEna in one write) and receives reports with the right
    RptID, SeqNum, TimeOfEntry (BinaryTime in milliseconds) and values"""
    iec61850_peer.pyiec61850_or_skip()
    simulator = mms_server.Simulator()
    srv = await mms_server.serve(mms.Address('127.0.0.1', 0), simulator)
    try:
        port = srv.addresses[0].port
        async with iec61850_peer.Iec61850Client('127.0.0.1', port,
                                                RUN_TIMEOUT) as client:
            await client.op_ok('connect')
            answer = await client.op_ok('identify')
            assert (answer['vendor'], answer['model'],
                    answer['revision']) == (
                'Hat Open', 'hat-drivers mms_server.py', '1')
            answer = await client.op_ok('domains')
            assert answer['names'] == ['SIMLD0']
            # more names than one response holds: libiec61850 continues
            answer = await client.op_ok('variables', 'SIMLD0')
            assert answer['names'] == simulator.model.names
            answer = await client.op_ok('lists', 'SIMLD0')
            assert answer['names'] == ['LLN0$Events']

            answer = await client.op_ok('read', 'SIMLD0/MMXU1.TotW.mag.f',
                                        'MX')
            assert answer['value'] == 1000.0

            await client.op_ok('write', 'SIMLD0/GGIO1.SPCSO1.Oper.ctlVal',
                               'CO', 'bool', 'true')
            answer = await client.op_ok('read', 'SIMLD0/GGIO1.SPCSO1.stVal',
                                        'ST')
            assert answer['value'] is True
            answer = await client.op('write', 'SIMLD0/MMXU1.TotW.mag.f',
                                     'MX', 'float', '5')
            assert not answer['ok'], answer
            assert 'ACCESS_DENIED' in answer.get('error_name', ''), answer

            answer = await client.op_ok('spec', 'SIMLD0/MMXU1.TotW', 'MX')
            assert answer['spec']['type'] == 'structure', answer

            answer = await client.op_ok('dataset', 'SIMLD0/LLN0.Events')
            assert len(answer['values']) == len(
                mms_server.DATA_SET_MEMBERS)
            assert answer['values'][-1] is True           # SPCSO1 stVal

            answer = await client.op_ok('report-enable',
                                        'SIMLD0/LLN0.RP.urcb01')
            assert answer['rpt_id'] == mms_server.RPT_ID
            [association] = simulator.associations.values()
            assert association.enabled

            now_ms = datetime.datetime.now(
                datetime.timezone.utc).timestamp() * 1000
            simulator.model.set('MMXU1$MX$TotW$mag$f',
                                mms.FloatingPointData(1500.0))
            simulator.report(['MMXU1$MX$TotW$mag$f'])
            simulator.model.set_status('GGIO1$ST$Ind1',
                                       mms.BooleanData(True))
            simulator.report(['GGIO1$ST$Ind1$stVal'])

            answer = await client.op_ok('reports', 2, 10)
            first, second = answer['reports']
            assert 'exception' not in first, first
            assert first['rpt_id'] == mms_server.RPT_ID
            assert [first['seq_num'], second['seq_num']] == [0, 1]
            assert abs(first['time_of_entry_ms'] - now_ms) < 60_000, first
            assert first['values'][0] == 1500.0
            assert second['values'][2] is True
            assert first['reasons'][0] is not None           # data change

            await client.op_ok('release')

    finally:
        await srv.async_close()
        await simulator.close_all()


async def test_client_against_libiec61850_server(env):
    """mms_client.py against a libiec61850 IedServer: identifies, browses,
    reads its values, writes a description (DC) and prints its reports,
    named by the data set's members (libiec61850 sends no references)"""
    iec61850_peer.pyiec61850_or_skip()
    ld = iec61850_peer.LD
    async with iec61850_peer.Iec61850Server() as server:
        async with program(env, CLIENT, '--port', str(server.port),
                           '--reports', '--count', '2', '--write',
                           f'{ld}/GGIO1$DC$AnIn1$d=hello') as proc:
            lines = []
            while not lines or not lines[-1].startswith('reports enabled'):
                line = await asyncio.wait_for(proc.stdout.readline(),
                                              START_TIMEOUT)
                assert line, lines
                lines.append(line.decode().rstrip('\n'))

            value = 2.5
            while proc.returncode is None:
                server.update(iec61850_peer.AN_IN, value)
                value += 1
                # the next change once the client took this one's report
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), 0.2)
            status, out, err = await finish(proc, RUN_TIMEOUT)

        out = '\n'.join(lines) + '\n' + out
        assert (status, err) == (0, ''), err
        identify = iec61850_peer.IDENTITY
        assert lines_of(out, 'identify: ') == [
            f'vendor={identify[0]!r} model={identify[1]!r} '
            f'revision={identify[2]!r}']
        assert ld in lines_of(out, 'domain: ')
        assert f'{ld}/LLN0$Events' in lines_of(out, 'list: ')
        reads = dict(line.split(' = ', 1)
                     for line in lines_of(out, 'read: '))
        assert reads[f'{ld}/GGIO1$MX$AnIn1$mag$f'] == '1.5'
        assert reads[f'{ld}/GGIO1$ST$IntIn1$stVal'] == '7'
        assert reads[f'{ld}/GGIO1$ST$Str1$stVal'] == "'initial'"
        assert lines_of(out, 'write: ')[-1] == \
            f'{ld}/GGIO1$DC$AnIn1$d: ok'
        assert server.get_string(iec61850_peer.AN_IN_DESC) == 'hello'

        reports = lines_of(out, 'report: ')
        assert len(reports) == 2
        for line in reports:
            assert f'{ld}/GGIO1$MX$AnIn1$mag$f=' in line, line
            match = re.search(r'TimeOfEntry=(\S+)', line)
            if match:
                entry = datetime.datetime.fromisoformat(match.group(1))
                now = datetime.datetime.now(datetime.timezone.utc)
                assert abs((now - entry).total_seconds()) < 60, line
