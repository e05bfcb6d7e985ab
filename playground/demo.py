"""One-command demo of `hat.drivers.tcp`: echo server and client.

Run from the repository root, as the README's Quick start does::

    .venv/bin/python playground/demo.py

Starts the echo server of ``echo_server.py`` in this process on a free
loopback port, sends a few lines with the client of ``echo_client.py``,
prints ``sent: ...`` / ``received: ...`` for each and exits with 0 if every
line came back unchanged (1 otherwise, with ``demo FAILED: ...``).

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from pathlib import Path
import asyncio
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cli  # NOQA: E402
import echo_client  # NOQA: E402
import echo_server  # NOQA: E402
from hat.drivers import tcp  # NOQA: E402


LINES = ['hello, hat-drivers',
         'asyncio TCP echo',
         'bye']

TIMEOUT = 30


async def async_main() -> bool:
    srv = await echo_server.serve(tcp.Address('127.0.0.1', 0), verbose=False)
    try:
        addr = srv.addresses[0]
        print(f'echo server listening on {addr.host}:{addr.port}', flush=True)
        ok = await echo_client.run(addr, LINES)

    finally:
        await srv.async_close()

    print('demo ok' if ok else 'demo FAILED: echo differs', flush=True)
    return ok


async def run_demo() -> int:
    try:
        ok = await asyncio.wait_for(async_main(), TIMEOUT)

    except (ConnectionError, asyncio.TimeoutError) as e:
        print(f'demo FAILED: {e!r}', file=sys.stderr)
        return 1

    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='echo server and client on a free loopback port')
    parser.parse_args(argv)
    return cli.run(run_demo)


if __name__ == '__main__':
    cli.main(main)
