"""TCP echo client, built on `hat.drivers.tcp`.

Run from the repository root (with ``echo_server.py`` running)::

    .venv/bin/python playground/echo_client.py [--host HOST] [--port PORT]
                                               [LINE ...]

Connects to HOST:PORT (default 127.0.0.1:23456), sends every LINE (or, with
no LINE arguments, every line typed on standard input until EOF) and prints
what was sent and what came back. Exits with 1 if an echo differs, and with
one line ``error: ...`` and 1 if the connection fails. Ctrl-C or SIGTERM
ends it at once, even while it waits for input (exit status 0).

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from collections.abc import AsyncIterable, Iterable

import cli
from hat.drivers import tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 23456
CONNECT_TIMEOUT = 10  # seconds


async def echo_line(conn: tcp.Connection, line: str) -> str:
    """Send `line` (plus newline) and return what the server echoed"""
    data = f'{line}\n'.encode()
    conn.write(data)
    await conn.drain()
    received = await conn.readexactly(len(data))
    return received.decode(errors='replace').removesuffix('\n')


async def run(addr: tcp.Address,
              lines: Iterable[str] | AsyncIterable[str]
              ) -> bool:
    """Send `lines` to an echo server

    Prints ``sent: ...`` and ``received: ...`` for every line. Returns
    ``True`` if every line came back unchanged.

    """
    conn = await tcp.connect(addr, name='echo-client',
                             connect_timeout=CONNECT_TIMEOUT)
    ok = True
    try:
        async for line in _aiter(lines):
            print(f'sent: {line}', flush=True)
            received = await echo_line(conn, line)
            print(f'received: {received}', flush=True)
            if received != line:
                ok = False

    finally:
        await conn.async_close()

    return ok


async def _aiter(lines: Iterable[str] | AsyncIterable[str]):
    if isinstance(lines, AsyncIterable):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description='TCP echo client')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--port', type=cli.port, default=DEFAULT_PORT,
                        help=f'default {DEFAULT_PORT}')
    parser.add_argument('lines', nargs='*', metavar='LINE',
                        help='lines to send (default: read standard input)')
    args = parser.parse_args(argv)

    async def async_main() -> int:
        lines = args.lines or cli.stdin_lines()
        ok = await run(tcp.Address(args.host, args.port), lines)
        return 0 if ok else 1

    return cli.run(async_main)


if __name__ == '__main__':
    cli.main(main)
