"""The IEC 104 playground programs run as processes from the repository root

``playground/iec104_outstation.py`` serves its points, and
``playground/iec104_master.py`` run against it prints the interrogated
points, and only with ``--command`` its command's confirmations (direct and
select before execute), and spontaneous data, then exits with 0 after
``--count`` of them; without ``--command`` it sends no command. A refused
command, a command not confirmed within ``--timeout`` and a connection not
established within ``--timeout`` give one line ``error: ...`` and status
1 within that bound; ``-v`` logs every APDU decoded on standard error.
SIGINT and SIGTERM end the outstation quietly (0, nothing on standard
error); bad arguments, a port in use and a refused connection give one line
``error: ...`` and status 1. With ``--uvloop`` the programs run on uvloop
(``PLAYGROUND_LOOP=uvloop``).

"""

from pathlib import Path
import asyncio
import contextlib
import datetime
import os
import re
import signal
import socket
import sys

import pytest

from hat.drivers import iec104, tcp


pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
PLAYGROUND = REPO / 'playground'

OUTSTATION = 'iec104_outstation.py'
MASTER = 'iec104_master.py'

# bounds: start-up (interpreter and imports on a busy machine), a run of
# the master, the exit after a signal
START_TIMEOUT = 30
RUN_TIMEOUT = 30
EXIT_TIMEOUT = 10


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
async def outstation(env, *args):
    """Running outstation (on a free port) and its port"""
    async with program(env, OUTSTATION, *args, '0') as proc:
        match = await expect_line(proc, r'listening on (\S+):(\d+)')
        yield proc, int(match.group(2))


def assert_error(status, err, *words):
    assert status == 1, (status, err)
    assert 'Traceback' not in err, err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    for word in words:
        assert word in err, err


def received(out):
    return [line.removeprefix('received: ') for line in out.splitlines()
            if line.startswith('received: ')]


@pytest.mark.parametrize('select', [False, True], ids=['direct', 'select'])
async def test_master_against_outstation(env, select):
    """The master prints the interrogated points, the confirmed command
    and the outstation's reaction, then spontaneous data with time tags;
    the outstation prints the command"""
    async with outstation(env, '--period', '0.2') as (station, port):
        args = ['--port', str(port), '--count', '3', '--command', '1000=on']
        status, out, err = await run(env, MASTER, *args,
                                     *(['--select'] if select else []))
        assert status == 0, err
        assert err == ''

        lines = received(out)
        # spontaneous data may arrive at any point
        requested = [line for line in lines
                     if not line.startswith('Data cause=SPONTANEOUS')]
        interrogation = [
            'Interrogation cause=ACTIVATION_CONFIRMATION ca=1 qoi=20',
            r'Data cause=INTERROGATED_STATION ca=1 ioa=1 FloatingData=\S+',
            r'Data cause=INTERROGATED_STATION ca=1 ioa=2 FloatingData=\S+',
            'Data cause=INTERROGATED_STATION ca=1 ioa=3 FloatingData=30',
            'Data cause=INTERROGATED_STATION ca=1 ioa=100 SingleData=OFF',
            'Interrogation cause=ACTIVATION_TERMINATION ca=1 qoi=20']
        for pattern, line in zip(interrogation,
                                 requested[:len(interrogation)],
                                 strict=True):
            assert re.fullmatch(pattern, line), (pattern, lines)

        command = requested[len(interrogation):]
        command_lines = [
            'Command cause=ACTIVATION_CONFIRMATION ca=1 ioa=1000 '
            'SingleCommand=ON',
            'Data cause=REMOTE_COMMAND ca=1 ioa=100 SingleData=ON',
            'Command cause=ACTIVATION_TERMINATION ca=1 ioa=1000 '
            'SingleCommand=ON']
        if select:
            command_lines.insert(0, 'Command cause=ACTIVATION_CONFIRMATION '
                                    'ca=1 ioa=1000 SingleCommand=ON select')
        assert command == command_lines

        spontaneous = [line for line in lines
                       if line.startswith('Data cause=SPONTANEOUS')]
        assert len(spontaneous) == 3
        for line in spontaneous:
            assert re.fullmatch(r'Data cause=SPONTANEOUS ca=1 ioa=[12] '
                                r'FloatingData=\S+ time=\S+', line), line

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        assert ('command: breaker ON (select)' in out.splitlines()) == select
        assert 'command: breaker ON' in out.splitlines()


async def test_master_read_only_by_default(env):
    """Without --command the master interrogates and sends no command:
    the outstation sees none, the master prints no sent command"""
    async with outstation(env, '--period', '0.2') as (station, port):
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--count', '2')
        assert (status, err) == (0, '')
        sent = [line for line in out.splitlines()
                if line.startswith('sent: ')]
        assert sent == ['sent: Interrogation cause=ACTIVATION ca=1 qoi=20']
        assert not [line for line in received(out)
                    if line.startswith('Command')]

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        assert not [line for line in out.splitlines()
                    if line.startswith('command:')]


async def test_master_set_point(env):
    """--command IOA=NUMBER sends a set-point (C_SE_NC_1)"""
    async with outstation(env, '--period', '0.2') as (station, port):
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--count', '1', '--command', '2000=12.5')
        assert (status, err) == (0, ''), err
        assert ('Command cause=ACTIVATION_CONFIRMATION ca=1 ioa=2000 '
                'FloatingCommand=12.5') in received(out)

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert 'command: set-point 12.5' in out.splitlines()


async def test_master_refused_commands(env):
    """An unknown common address is confirmed negatively (read-only run:
    status 0); a command refused (unknown IOA) is an error line, status 1,
    with or without select"""
    async with outstation(env, '--period', '0.2') as (station, port):
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--count', '1', '--asdu-address', '7')
        assert status == 0, err
        # spontaneous data (period 0.2 s) may come first; --count 1 waits
        # for the interrogation's end
        assert ('Interrogation cause=UNKNOWN_ASDU_ADDRESS ca=7 qoi=20 '
                'NEGATIVE') in received(out)

        for select in [[], ['--select']]:
            status, out, err = await run(env, MASTER, '--port', str(port),
                                         '--count', '1', '--command', '5=on',
                                         *select)
            assert_error(status, err, 'IOA 5', 'refused',
                         'UNKNOWN_IO_ADDRESS')
            assert ('Command cause=UNKNOWN_IO_ADDRESS ca=1 ioa=5 '
                    'SingleCommand=ON') in ' '.join(received(out))

        station.send_signal(signal.SIGINT)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')


async def test_outstation_wrong_command_type(env):
    """A set-point to the breaker's IOA 1000 (and a single command to the
    set-point's IOA 2000) is refused with UNKNOWN_IO_ADDRESS; the
    outstation says the command type is wrong for that IOA"""
    async with outstation(env, '--period', '0.2') as (station, port):
        for command, words in [('1000=5', ['IOA 1000', 'refused',
                                           'UNKNOWN_IO_ADDRESS']),
                               ('2000=on', ['IOA 2000', 'refused',
                                            'UNKNOWN_IO_ADDRESS'])]:
            status, out, err = await run(env, MASTER, '--port', str(port),
                                         '--count', '1', '--command',
                                         command)
            assert_error(status, err, *words)

        station.send_signal(signal.SIGINT)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')
        lines = [line for line in out.splitlines()
                 if line.startswith('command:')]
        assert lines == [
            'command: FloatingCommand to IOA 1000 refused: wrong command '
            'type, IOA 1000 takes single commands (C_SC_NA_1)',
            'command: SingleCommand to IOA 2000 refused: wrong command '
            'type, IOA 2000 takes set-point commands, short float '
            '(C_SE_NC_1)'], out


async def test_outstation_help_lists_points(env):
    status, out, err = await run(env, OUTSTATION, '-h')
    assert (status, err) == (0, '')
    for words in ['1000  C_SC_NA_1  accepted', '100   M_SP_NA_1  reported',
                  '2000  C_SE_NC_1  accepted', '3     M_ME_NC_1  reported',
                  '200   M_IT_NA_1  reported', 'UNKNOWN_IO_ADDRESS',
                  '--utc']:
        assert words in out, out


async def test_utc_time_tags_agree_across_time_zones(env):
    """Outstation and master both with --utc, in processes with different
    local time zones (TZ): the master prints the spontaneous data's time
    tags in UTC (offset +00:00) and they are the current time"""
    station_env = dict(env, TZ='EST+5')
    master_env = dict(env, TZ='JST-9')
    async with outstation(station_env, '--period', '0.1',
                          '--utc') as (station, port):
        before = datetime.datetime.now(datetime.timezone.utc)
        status, out, err = await run(master_env, MASTER, '--port',
                                     str(port), '--count', '2', '--utc')
        after = datetime.datetime.now(datetime.timezone.utc)
        assert (status, err) == (0, ''), err

        times = [datetime.datetime.fromisoformat(match.group(1))
                 for match in re.finditer(r'time=(\S+)', out)]
        assert len(times) >= 2, out
        for t in times:
            assert t.utcoffset() == datetime.timedelta(0), out
            # time tags have millisecond resolution
            assert (before - datetime.timedelta(milliseconds=1) <= t <=
                    after + datetime.timedelta(milliseconds=1)), out

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')


async def test_local_time_tags_printed_with_offset(env):
    """Without --utc, both in the same local time zone: the master prints
    time tags with the zone's offset"""
    local_env = dict(env, TZ='JST-9')
    async with outstation(local_env, '--period', '0.1') as (station, port):
        before = datetime.datetime.now(datetime.timezone.utc)
        status, out, err = await run(local_env, MASTER, '--port',
                                     str(port), '--count', '1')
        after = datetime.datetime.now(datetime.timezone.utc)
        assert (status, err) == (0, ''), err
        times = [datetime.datetime.fromisoformat(match.group(1))
                 for match in re.finditer(r'time=(\S+)', out)]
        assert times, out
        for t in times:
            assert t.utcoffset() == datetime.timedelta(hours=9), out
            assert (before - datetime.timedelta(milliseconds=1) <= t <=
                    after + datetime.timedelta(milliseconds=1)), out

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')


async def test_outstation_says_why_a_connection_ended(env):
    """Without -v the library logs nothing: the outstation's line for a
    connection ended by malformed data says why; a peer's close is the
    normal end (no reason)"""
    async with outstation(env, '--period', '60') as (station, port):
        for data, reason in [(bytes.fromhex('68 01 00'), 'malformed'),
                             (b'', None)]:
            reader, writer = await asyncio.open_connection('127.0.0.1', port)
            try:
                match = await expect_line(station,
                                          r'connection from (\S+)$')
                remote = match.group(1)
                writer.write(bytes.fromhex('68 04 07 00 00 00'))
                assert await asyncio.wait_for(reader.readexactly(6),
                                              RUN_TIMEOUT) == \
                    bytes.fromhex('68 04 0b 00 00 00')  # STARTDT con
                writer.write(data)

            finally:
                writer.close()
                with contextlib.suppress(ConnectionError):
                    await writer.wait_closed()

            match = await expect_line(
                station, rf'connection from {re.escape(remote)} closed')
            line = match.string.rstrip()
            if reason:
                assert reason in line, line
                assert line.count(remote) == 1, line
            else:
                assert line.endswith(' closed'), line

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert (status, err) == (0, '')


async def silent_slave(on_command):
    """iec104 slave answering interrogations; `on_command(conn, msg)` for
    every command received"""
    async def serve(conn):
        try:
            while True:
                for msg in await conn.receive():
                    if isinstance(msg, iec104.InterrogationMsg):
                        conn.send([msg._replace(
                            cause=iec104.CommandResCause.
                            ACTIVATION_TERMINATION)])
                    elif isinstance(msg, iec104.CommandMsg):
                        on_command(conn, msg)
        except ConnectionError:
            pass

    return await iec104.listen(serve, tcp.Address('127.0.0.1', 0))


@pytest.mark.parametrize('select', [False, True], ids=['direct', 'select'])
async def test_master_command_not_confirmed(env, select):
    """A command never confirmed is an error line and status 1 within
    --timeout (plus start-up)"""
    commands = []
    srv = await silent_slave(lambda conn, msg: commands.append(msg))
    try:
        port = srv.addresses[0].port
        loop = asyncio.get_running_loop()
        start = loop.time()
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--command', '1000=off',
                                     '--timeout', '1',
                                     *(['--select'] if select else []))
        assert_error(status, err, 'IOA 1000', 'no ',
                     'confirmation within 1 s')
        assert ('select' in err) == select
        assert loop.time() - start < START_TIMEOUT
        assert len(commands) == 1
        assert commands[0].command.select == select

    finally:
        await srv.async_close()


async def test_master_connect_timeout(env):
    """A peer that accepts TCP but never confirms STARTDT: error line and
    status 1 after --timeout"""
    accepted = []

    async def on_connection(conn):
        accepted.append(conn)

    srv = await tcp.listen(on_connection, tcp.Address('127.0.0.1', 0),
                           bind_connections=True)
    try:
        port = srv.addresses[0].port
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--timeout', '0.5')
        assert_error(status, err, f'127.0.0.1:{port}', 'within 0.5 s')
        assert accepted

    finally:
        await srv.async_close()


@pytest.mark.parametrize('verbose', [False, True], ids=['quiet', '-v'])
async def test_master_against_startdt_echo_one_error_line(env, verbose):
    """A peer that echoes STARTDT act: the library's WARNING about it is
    not printed before the error line (only with -v)"""
    async def on_connection(conn):
        try:
            conn.write(await conn.readexactly(6))  # STARTDT act back
            await conn.drain()
            await conn.read()
        except ConnectionError:
            pass

    srv = await tcp.listen(on_connection, tcp.Address('127.0.0.1', 0),
                           bind_connections=True)
    try:
        port = srv.addresses[0].port
        args = ['-v'] if verbose else []
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--timeout', '0.5', *args)
        if verbose:
            assert status == 1, err
            assert 'STARTDT act received' in err, err
            assert err.splitlines()[-1].startswith('error: '), err
        else:
            assert_error(status, err, f'127.0.0.1:{port}', 'STARTDT con')

    finally:
        await srv.async_close()


async def test_verbose_comm_log(env):
    """-v logs every APDU decoded on standard error (outstation and
    master); standard output keeps only the program's lines"""
    async with outstation(env, '--period', '0.2', '-v') as (station, port):
        status, out, err = await run(env, MASTER, '--port', str(port),
                                     '--count', '1', '-v')
        assert status == 0, err
        assert 'hat.drivers.iec104.trace' not in out
        lines = err.splitlines()
        assert any('sent U(STARTDT act)' in line for line in lines), err
        assert any('received U(STARTDT con)' in line for line in lines)
        assert any(re.search(r'sent I\(N\(S\)=0, N\(R\)=0\) C_IC_NA_1 '
                             r'\(100\) .*COT=Act \(6\)', line)
                   for line in lines), err
        assert any(re.search(r'received I\(.*M_ME_TF_1 \(36\) .*'
                             r'COT=Spont \(3\).* IOA=[12] FloatingData '
                             r'value=\S+ quality=- time=', line)
                   for line in lines), err

        station.send_signal(signal.SIGTERM)
        status, out, err = await finish(station, EXIT_TIMEOUT)
        assert status == 0
        assert 'received U(STARTDT act)' in err
        assert 'sent U(STARTDT con)' in err


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM],
                         ids=['SIGINT', 'SIGTERM'])
async def test_master_signal(env, sig):
    """The master waiting for data ends quietly on a signal"""
    async with outstation(env, '--period', '60') as (station, port):
        async with program(env, MASTER, '--port', str(port)) as master:
            await expect_line(master, 'Interrogation cause=ACTIVATION_TERM')
            master.send_signal(sig)
            status, out, err = await finish(master, EXIT_TIMEOUT)
            assert (status, err) == (0, '')


@pytest.mark.parametrize('name, args, words', [
    (OUTSTATION, ['65536'], ['port']),
    (OUTSTATION, ['--asdu-address', '0', '0'], ['common address']),
    (OUTSTATION, ['--period', '0', '0'], ['period']),
    (MASTER, ['--port', 'x'], ['port']),
    (MASTER, ['--command', '16777216=on'], ['16777216']),
    (MASTER, ['--command', '1000=maybe'], ['maybe']),
    (MASTER, ['--command', '1000'], ['IOA=VALUE']),
    (MASTER, ['--command', '1000=nan'], ['nan']),
    (MASTER, ['--select'], ['--command']),
    (MASTER, ['--timeout', '0'], ['timeout']),
    (MASTER, ['--count', '0'], ['--count', 'must be a positive integer']),
    (MASTER, ['--ioa', '1000'], ['--ioa'])])
async def test_bad_arguments(env, name, args, words):
    status, out, err = await run(env, name, *args)
    assert_error(status, err, *words)


async def test_port_in_use(env):
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        status, out, err = await run(env, OUTSTATION, str(port))
    assert_error(status, err, str(port))


async def test_connection_refused(env):
    with socket.socket() as sock:
        # bound, not listening: nothing accepts, nobody else takes it
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
        status, out, err = await run(env, MASTER, '--port', str(port))
    assert_error(status, err, str(port))
