"""Playground programs run as processes from the repository root

What a user meets in ``playground/``: the echo, TPKT and TLS pairs and the
demo work; Ctrl-C (SIGINT) and SIGTERM end every program promptly and
quietly (exit status 0, nothing on standard error) whatever it waits on,
including a client waiting on an open, silent standard input; bad input
(port out of range, port in use, refused connect, TLS verification
failure) gives one line ``error: ...`` on standard error and status 1;
``-h`` exits with 0. With ``--uvloop`` the programs run on uvloop too
(``PLAYGROUND_LOOP=uvloop``).

"""

from pathlib import Path
import asyncio
import contextlib
import errno
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import typing

import pytest

from chaos import count_number


pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
PLAYGROUND = REPO / 'playground'

# bounds: starting a program (interpreter start-up and imports on a busy
# machine), and ending it after a signal (well below its own fallback)
START_TIMEOUT = 30
EXIT_TIMEOUT = 10
GRACE = 60

SERVERS = {'echo_server.py': ['0'],
           'tpkt_server.py': ['0'],
           'tls_server.py': ['--port', '0']}

CLIENTS = ['echo_client.py', 'tpkt_client.py']

# every runnable program of the playground (helper modules excluded)
PROGRAMS = sorted(
    path.name for path in PLAYGROUND.glob('*.py')
    if "if __name__ == '__main__':" in path.read_text(encoding='utf-8'))


@pytest.fixture
def env(request):
    env = dict(os.environ)
    env['PLAYGROUND_GRACE'] = str(GRACE)
    env['PYTHONUNBUFFERED'] = '1'
    if request.config.getoption('--uvloop'):
        env['PLAYGROUND_LOOP'] = 'uvloop'
    return env


class Program(typing.NamedTuple):
    proc: asyncio.subprocess.Process

    async def expect_line(self, pattern: str) -> re.Match:
        """Read stdout lines until one matches `pattern`"""
        lines = []
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(),
                                          START_TIMEOUT)
            assert line, f'no line matching {pattern!r}; got {lines}'
            text = line.decode()
            lines.append(text)
            match = re.search(pattern, text)
            if match:
                return match

    async def finish(self, timeout: float = START_TIMEOUT
                     ) -> tuple[int, str, str]:
        """Wait (bounded) for exit; returns (status, stdout, stderr)

        Standard input is left as it is (open, if it is a pipe).

        """
        try:
            out, err, _ = await asyncio.wait_for(
                asyncio.gather(self.proc.stdout.read(),
                               self.proc.stderr.read(),
                               self.proc.wait()),
                timeout)

        except asyncio.TimeoutError:
            raise AssertionError(f'still running after {timeout} s') from None

        return self.proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def program(env, name, *args, stdin=asyncio.subprocess.DEVNULL):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PLAYGROUND / name), *args,
        cwd=REPO, env=env,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        yield Program(proc)

    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def run(env, name, *args, stdin=None):
    """Run a program to its end; returns (status, stdout, stderr)"""
    async with program(env, name, *args,
                       stdin=asyncio.subprocess.PIPE) as prog:
        try:
            out, err = await asyncio.wait_for(prog.proc.communicate(stdin),
                                              START_TIMEOUT)

        except asyncio.TimeoutError:
            raise AssertionError(f'{name} {args}: still running after '
                                 f'{START_TIMEOUT} s') from None

        return prog.proc.returncode, out.decode(), err.decode()


@contextlib.asynccontextmanager
async def server(env, name, *args):
    """Running server program and its port"""
    args = args or SERVERS[name]
    async with program(env, name, *args) as prog:
        match = await prog.expect_line(r'listening on (\S+):(\d+)')
        yield prog, int(match.group(2))


def assert_error(status, err, *words):
    assert status == 1, (status, err)
    assert 'Traceback' not in err, err
    assert err.startswith('error: ') and err.count('\n') == 1, err
    for word in words:
        assert word in err, err


def assert_quiet_exit(status, err):
    assert status == 0, (status, err)
    assert err == '', err


@pytest.fixture
def free_port():
    """A port bound, not listening: nothing accepts, nobody else takes it"""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        yield sock.getsockname()[1]


@pytest.fixture
def busy_port():
    """A port some other socket listens on"""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    """Two unrelated throwaway certificates (cert, key) for localhost"""
    sys.path.insert(0, str(PLAYGROUND))
    try:
        import tls_common
    finally:
        sys.path.remove(str(PLAYGROUND))

    return [tls_common.make_self_signed_cert(tmp_path_factory.mktemp(name))
            for name in ('server', 'other')]


async def test_demo(env):
    status, out, err = await run(env, 'demo.py')
    assert status == 0, err
    assert out.splitlines()[-1] == 'demo ok', out
    assert 'received: hello, hat-drivers' in out, out


async def test_echo_pair(env):
    async with server(env, 'echo_server.py') as (srv, port):
        status, out, err = await run(env, 'echo_client.py', '--port',
                                     str(port), 'hello', '', 'wörld')
        assert status == 0, err
        assert out.splitlines() == ['sent: hello', 'received: hello',
                                    'sent: ', 'received: ',
                                    'sent: wörld', 'received: wörld']

        # lines from standard input: CRLF line ends, last line unterminated
        status, out, err = await run(env, 'echo_client.py', '--port',
                                     str(port), stdin=b'one\r\ntwo')
        assert status == 0, err
        assert out.splitlines() == ['sent: one', 'received: one',
                                    'sent: two', 'received: two']

        srv.proc.send_signal(signal.SIGTERM)
        status, out, err = await srv.finish(EXIT_TIMEOUT)
        assert_quiet_exit(status, err)
        assert '(14 bytes echoed)' in out, out
        assert '(8 bytes echoed)' in out, out


async def test_tpkt_pair(env):
    async with server(env, 'tpkt_server.py') as (srv, port):
        status, out, err = await run(env, 'tpkt_client.py', '--port',
                                     str(port), 'hello', '', 'wörld')
        assert status == 0, err
        assert out.splitlines() == ['sent: hello', 'received: hello',
                                    'sent: ', 'received: ',
                                    'sent: wörld', 'received: wörld']

        status, out, err = await run(env, 'tpkt_client.py', '--port',
                                     str(port), stdin='one\ntwo\n'.encode())
        assert status == 0, err
        assert out.splitlines() == ['sent: one', 'received: one',
                                    'sent: two', 'received: two']

        srv.proc.send_signal(signal.SIGTERM)
        status, out, err = await srv.finish(EXIT_TIMEOUT)
        assert_quiet_exit(status, err)
        assert 'closed by peer (3 packets echoed)' in out, out
        assert 'closed by peer (2 packets echoed)' in out, out
        # payload: the 3 byte COTP DT header and the text
        assert 'packet of 8 bytes' in out, out
        assert 'packet of 3 bytes' in out, out
        # a client's close is the normal end, not an error
        assert 'cannot read' not in out, out


async def test_tls_pair(env, certs):
    (cert, key), _ = certs
    async with server(env, 'tls_server.py', '--port', '0',
                      '--cert', str(cert), '--key', str(key)) as (srv, port):
        status, out, err = await run(env, 'tls_client.py', '--port',
                                     str(port), '--cafile', str(cert),
                                     '--message', 'hi')
        assert status == 0, err
        assert 'TLS version: TLSv1' in out, out
        assert 'received: hi' in out, out


async def test_tls_client_demo(env):
    status, out, err = await run(env, 'tls_client.py', '--demo')
    assert status == 0, err
    assert 'received: hello over TLS' in out, out


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM],
                         ids=['SIGINT', 'SIGTERM'])
@pytest.mark.parametrize('client', CLIENTS)
async def test_client_signal_on_silent_stdin(env, client, sig):
    server_name = client.replace('client', 'server')
    async with server(env, server_name) as (srv, port):
        # standard input: a pipe kept open that never delivers a byte
        async with program(env, client, '--port', str(port),
                           stdin=asyncio.subprocess.PIPE) as cl:
            await srv.expect_line('connection from')
            # the signal ends it, not the end of its input
            assert not cl.proc.stdin.is_closing()
            cl.proc.send_signal(sig)
            status, out, err = await cl.finish(EXIT_TIMEOUT)
            assert_quiet_exit(status, err)
            assert out == '', out

        await srv.expect_line('closed')


def _read_until(fd, marker, count, deadline):
    """Read the pty `fd` until `marker` was seen `count` times"""
    data = b''
    while data.count(marker) < count:
        timeout = deadline - time.monotonic()
        assert timeout > 0, f'no {marker!r} x{count} in {data!r}'
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is gone
                chunk = b''
            assert chunk, f'terminal closed; got {data!r}'
            data += chunk
    return data


@pytest.mark.skipif(not hasattr(os, 'fork') or sys.platform != 'linux',
                    reason='needs a pseudo-terminal (Linux)')
@pytest.mark.parametrize('client', CLIENTS)
def test_client_ctrl_c_at_terminal(env, client):
    """Ctrl-C typed at the terminal where a client waits for a line"""
    import pty
    server_name = client.replace('client', 'server')
    srv = subprocess.Popen([sys.executable, str(PLAYGROUND / server_name),
                            '0'], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, text=True)
    try:
        match = re.search(r'listening on \S+:(\d+)', srv.stdout.readline())
        assert match
        deadline = time.monotonic() + START_TIMEOUT
        pid, fd = pty.fork()
        if pid == 0:  # child: the client, on the terminal
            os.chdir(REPO)
            os.execve(sys.executable,
                      [sys.executable, str(PLAYGROUND / client),
                       '--port', match.group(1)], env)

        try:
            _read_until(fd, b'> ', 1, deadline)
            os.write(fd, b'hello\n')
            out = _read_until(fd, b'> ', 1, deadline)
            assert b'received: hello' in out, out
            os.write(fd, b'\x03')  # Ctrl-C: the terminal sends SIGINT

            deadline = time.monotonic() + EXIT_TIMEOUT
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                assert time.monotonic() < deadline, 'still running'
                select.select([fd], [], [], 0.05)  # poll, bounded
                with contextlib.suppress(OSError):
                    os.read(fd, 4096)
            assert os.waitstatus_to_exitcode(status) == 0

        finally:
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG) == (0, 0):
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            os.close(fd)

    finally:
        srv.kill()
        srv.communicate()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM],
                         ids=['SIGINT', 'SIGTERM'])
@pytest.mark.parametrize('name', sorted(SERVERS))
async def test_server_signal(env, name, sig):
    async with server(env, name) as (srv, port):
        # with a client connected: the server closes it on its way out
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection('127.0.0.1', port), START_TIMEOUT)
        try:
            srv.proc.send_signal(sig)
            status, out, err = await srv.finish(EXIT_TIMEOUT)
            assert_quiet_exit(status, err)

        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM],
                         ids=['SIGINT', 'SIGTERM'])
@pytest.mark.parametrize('name, args', [
    *((name, args) for name, args in sorted(SERVERS.items())),
    ('iec104_outstation.py', ['0'])])
async def test_signal_while_importing(env, name, args, sig):
    """A signal while the program still imports (right after its first
    import, quiet_start, seen in the -X importtime lines on standard
    error) ends it quietly with 0: no KeyboardInterrupt traceback"""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, '-X', 'importtime', str(PLAYGROUND / name), *args,
        cwd=REPO, env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        lines = []
        while not lines or not lines[-1].rstrip().endswith('| quiet_start'):
            line = await asyncio.wait_for(proc.stderr.readline(),
                                          START_TIMEOUT)
            assert line, lines
            lines.append(line.decode())
        proc.send_signal(sig)
        out, err = await asyncio.wait_for(proc.communicate(), EXIT_TIMEOUT)
        err_lines = [line for line in err.decode().splitlines()
                     if not line.startswith('import time:')]
        assert (proc.returncode, err_lines) == (0, []), err.decode()

    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()


async def test_signal_while_cleanup_hangs(env, tmp_path):
    """A program whose coroutine ignores cancellation still exits: at a
    second signal at once, or after PLAYGROUND_GRACE seconds"""
    script = tmp_path / 'stubborn.py'
    script.write_text(
        'import asyncio, sys\n'
        f'sys.path.insert(0, {str(PLAYGROUND)!r})\n'
        'import cli\n'
        'async def stubborn():\n'
        '    print("ready", flush=True)\n'
        '    while True:\n'
        '        try:\n'
        '            await asyncio.sleep(3600)\n'
        '        except asyncio.CancelledError:\n'
        '            print("cancelled", flush=True)\n'
        'cli.main(lambda: cli.run(stubborn))\n')

    for grace, signals in [(GRACE, [signal.SIGINT, signal.SIGINT]),
                           (1, [signal.SIGTERM])]:
        env = dict(env, PLAYGROUND_GRACE=str(grace))
        async with program(env, str(script)) as prog:
            await prog.expect_line('ready')
            prog.proc.send_signal(signals[0])
            await prog.expect_line('cancelled')
            for sig in signals[1:]:
                prog.proc.send_signal(sig)
            status, out, err = await prog.finish(EXIT_TIMEOUT)
            assert_quiet_exit(status, err)


@pytest.mark.parametrize('name', PROGRAMS)
async def test_help(env, name):
    status, out, err = await run(env, name, '-h')
    assert status == 0, err
    assert out.startswith('usage: '), out
    assert err == '', err


@pytest.mark.parametrize('name, args', [
    *((name, [*SERVERS[name][:-1], port])
      for name in sorted(SERVERS) for port in ('65536', '-1', 'x')),
    *((name, ['--port', port, 'hello'])
      for name in CLIENTS for port in ('65536', 'x')),
    ('tls_client.py', ['--port', '65536', '--cafile', 'x.pem'])])
async def test_port_out_of_range(env, name, args):
    status, out, err = await run(env, name, *args)
    assert_error(status, err, 'port')


@pytest.mark.parametrize('name', sorted(SERVERS))
async def test_port_in_use(env, name, busy_port):
    args = [*SERVERS[name][:-1], str(busy_port)]
    status, out, err = await run(env, name, *args)
    assert_error(status, err, str(busy_port), 'in use')


@pytest.mark.parametrize('name', CLIENTS)
async def test_connection_refused(env, name, free_port):
    status, out, err = await run(env, name, '--port', str(free_port),
                                 'hello')
    assert_error(status, err, str(free_port))


@pytest.mark.parametrize('name, args', [
    *((name, ['hello']) for name in CLIENTS),
    ('iec104_master.py', [])])
async def test_connection_refused_says_address_and_errno_once(
        env, free_port, name, args):
    """The error line of a refused connect names the address and the errno
    once each (the event loop's message repeats both)"""
    status, out, err = await run(env, name, '--port', str(free_port), *args)
    assert_error(status, err, 'refused')
    assert err.count(f'127.0.0.1:{free_port}') == 1, err
    assert count_number(err, free_port) == 1, err
    assert count_number(err, errno.ECONNREFUSED) == 1, err


@pytest.mark.parametrize('name', sorted(SERVERS))
async def test_port_in_use_says_address_and_errno_once(env, name,
                                                       busy_port):
    args = [*SERVERS[name][:-1], str(busy_port)]
    status, out, err = await run(env, name, *args)
    assert_error(status, err, 'in use')
    assert count_number(err, busy_port) == 1, err
    assert count_number(err, errno.EADDRINUSE) == 1, err


async def test_tls_verification_failure(env, certs):
    (cert, key), (other_cert, _) = certs
    async with server(env, 'tls_server.py', '--port', '0',
                      '--cert', str(cert), '--key', str(key)) as (srv, port):
        status, out, err = await run(env, 'tls_client.py', '--port',
                                     str(port), '--cafile', str(other_cert))
        assert_error(status, err, 'certificate verify failed')


@pytest.mark.parametrize('args, words', [
    (['tls_client.py', '--port', '1', '--cafile', '{missing}'],
     ['--cafile {missing}', 'No such file']),
    (['tls_client.py', '--port', '1', '--cafile', '{bad}'],
     ['--cafile {bad}', 'PEM']),
    (['tls_server.py', '--cert', '{missing}', '--key', '{bad}'],
     ['--cert {missing}', 'No such file']),
    (['tls_server.py', '--cert', '{bad}', '--key', '{missing}'],
     ['--key {missing}', 'No such file'])])
async def test_tls_file_errors_name_the_file(env, tmp_path, args, words):
    paths = {'missing': tmp_path / 'missing.pem', 'bad': tmp_path / 'bad.pem'}
    paths['bad'].write_text('not PEM')
    status, out, err = await run(env, *(a.format(**paths) for a in args))
    assert_error(status, err, *(w.format(**paths) for w in words))


async def test_tls_client_help_describes_options(env):
    status, out, err = await run(env, 'tls_client.py', '-h')
    assert status == 0
    help_text = ' '.join(out.split())
    for words in ["--host HOST server's host, default 127.0.0.1",
                  "--port PORT server's port",
                  "--message TEXT line to send, default 'hello over TLS'"]:
        assert words in help_text, help_text


async def test_unknown_argument(env):
    status, out, err = await run(env, 'echo_client.py', '--bogus')
    assert_error(status, err, '--bogus')


def test_commands_use_venv_interpreter():
    """Commands given to users run with the Quick start's interpreter"""
    files = [REPO / 'README.md', *sorted((REPO / 'src_doc').glob('*.rst')),
             *(PLAYGROUND / name for name in PROGRAMS)]
    bare = re.compile(r'(?<![\w/.-])python3? +playground/')
    found = [f'{path.relative_to(REPO)}: {line.strip()}'
             for path in files
             for line in path.read_text(encoding='utf-8').splitlines()
             if bare.search(line)]
    assert not found, '\n'.join(found)
