"""playground/tpkt_server.py and playground/tpkt_client.py, run as
processes from the repository root"""

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.timeout(60)

REPO = Path(__file__).resolve().parent.parent
PLAYGROUND = REPO / 'playground'
TIMEOUT = 20


async def run_client(*args, stdin=None):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(PLAYGROUND / 'tpkt_client.py'), *args,
        cwd=REPO,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), TIMEOUT)

    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    return proc.returncode, out.decode(), err.decode()


async def test_echo_pair():
    server = await asyncio.create_subprocess_exec(
        sys.executable, str(PLAYGROUND / 'tpkt_server.py'), '0',
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        line = (await asyncio.wait_for(server.stdout.readline(),
                                       TIMEOUT)).decode()
        match = re.search(r'listening on (\S+):(\d+)', line)
        assert match, line
        port = match.group(2)

        rc, out, err = await run_client('--port', port, 'hello', '', 'wörld')
        assert rc == 0, err
        assert out.splitlines() == ['sent: hello', 'received: hello',
                                    'sent: ', 'received: ',
                                    'sent: wörld', 'received: wörld']

        rc, out, err = await run_client('--port', port,
                                        stdin='one\ntwo\n'.encode())
        assert rc == 0, err
        assert out.splitlines() == ['sent: one', 'received: one',
                                    'sent: two', 'received: two']

        server.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(server.communicate(), TIMEOUT)
        assert server.returncode == 0, err.decode()
        out = out.decode()
        assert '(3 packets echoed)' in out, out
        assert '(2 packets echoed)' in out, out
        assert 'packet of 8 bytes' in out, out

    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()


async def test_client_connection_refused():
    # a port nothing listens on: bound once, then released
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]

    rc, out, err = await run_client('--port', str(port), 'hello')
    assert rc == 1
    assert 'error:' in err
