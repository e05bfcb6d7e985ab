"""Wireshark (tshark) helpers for tests: live capture on loopback, decoding

A test captures the TCP traffic of one port on ``lo`` into a pcap file
(`capture`), then reads it back with Wireshark's dissectors (`decode`),
asserting what Wireshark makes of our bytes.

Without tshark (or without permission to capture) the test is skipped,
unless the environment variable `REQUIRE_TSHARK` is set (``.ci/run`` sets
it once it has installed tshark): then it fails, so CI cannot pass without
the check.

"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess

import pytest

from hat import aio

from hat.drivers import tcp

from chaos import bounded


REQUIRE_TSHARK = 'HAT_DRIVERS_REQUIRE_TSHARK'

localhost = '127.0.0.1'


def unavailable(reason):
    """Skip the test, or fail it if `REQUIRE_TSHARK` is set"""
    if os.environ.get(REQUIRE_TSHARK, '') not in ('', '0'):
        pytest.fail(f'{reason} ({REQUIRE_TSHARK} is set: tshark must run '
                    f'here)', pytrace=False)
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def capture(port, pcap_path, protocol, fields):
    """Capture TCP traffic of `port` on loopback into `pcap_path`

    Something must be listening on `port`: capturing is known to have
    started once a probe connection to it shows up in tshark's live output
    (tshark announces capturing before its capture process has started).
    The probe connection closes at once (the server sees a connection that
    its peer closes). Traffic of `port` is dissected as `protocol` (a
    Wireshark protocol name for ``-d tcp.port==PORT,PROTOCOL``).

    Yields an `aio.Queue` of live dissected lines (str), each the
    tab-separated values of ``tcp.srcport`` and `fields` (names of
    Wireshark fields) of one captured packet. On exit capturing stops and
    the pcap file is complete. Skips the test if tshark is missing or
    cannot capture (fails it instead if `REQUIRE_TSHARK` is set).

    """
    tshark = shutil.which('tshark')
    if tshark is None:
        unavailable('tshark is not installed (apt-get install tshark)')

    field_args = [arg for field in ['tcp.srcport', *fields]
                  for arg in ('-e', field)]
    try:
        proc = await asyncio.create_subprocess_exec(
            tshark, '-i', 'lo', '-f', f'tcp port {port}',
            '-w', str(pcap_path), '-P', '-l',
            '-d', f'tcp.port=={port},{protocol}',
            '-T', 'fields', *field_args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)

    except OSError as e:
        unavailable(f'tshark cannot be started: {e}')

    lines = aio.Queue()
    stderr = []

    async def read_stdout():
        while (line := await proc.stdout.readline()):
            lines.put_nowait(line.decode(errors='replace').rstrip('\n'))
        lines.close()

    async def read_stderr():
        while (line := await proc.stderr.readline()):
            stderr.append(line.decode(errors='replace').rstrip())

    def stderr_text():
        return '; '.join(line for line in stderr
                         if line and 'dangerous' not in line)

    async def wait_capturing():
        while True:
            probe = await bounded(tcp.connect(tcp.Address(localhost, port)))
            await bounded(probe.async_close())
            try:
                await asyncio.wait_for(lines.get(), 1)
                return

            except asyncio.TimeoutError:
                pass

    group = aio.Group()
    try:
        group.spawn(read_stdout)
        stderr_task = group.spawn(read_stderr)
        try:
            await asyncio.wait_for(wait_capturing(), 30)

        except aio.QueueClosedError:
            # tshark exited, for example without permission to capture
            await asyncio.wait_for(proc.wait(), 30)
            await asyncio.wait_for(stderr_task, 30)
            unavailable(f'tshark cannot capture on lo (exit status '
                        f'{proc.returncode}): {stderr_text()}')

        except asyncio.TimeoutError:
            pytest.fail(f'tshark captures nothing on lo: {stderr_text()}')

        yield lines

        # stop capturing (SIGINT: dumpcap completes the pcap file)
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)
        assert proc.returncode == 0, stderr_text()

    finally:
        if proc.returncode is None:
            proc.kill()
            await bounded(proc.wait())
        await bounded(group.async_close())


async def decode(pcap_path, port, protocol, fields, options=()):
    """Rows of tab-separated field values, one per packet of `pcap_path`

    Traffic of `port` is dissected as `protocol`; `options` are tshark
    arguments (e.g. ``['-o', 'tcp.desegment_tcp_streams:TRUE']``). Each
    row is a list of str, one per field of `fields`; a field that occurs
    several times in a packet holds its values joined by ``,``
    (``-E occurrence=a -E aggregator=,``); an absent field is ``''``.

    """
    field_args = [arg for field in fields for arg in ('-e', field)]
    proc = await asyncio.create_subprocess_exec(
        'tshark', '-r', str(pcap_path),
        '-d', f'tcp.port=={port},{protocol}', *options,
        '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,',
        *field_args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)

    finally:
        if proc.returncode is None:
            proc.kill()
            await bounded(proc.wait())

    assert proc.returncode == 0, (
        f'tshark -r failed (exit status {proc.returncode}): '
        f'{stderr.decode(errors="replace")}')

    rows = []
    for line in stdout.decode().splitlines():
        row = line.split('\t')
        assert len(row) == len(fields), line
        rows.append(row)
    return rows
