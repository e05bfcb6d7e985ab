"""TCP echo client, built on `hat.drivers.tcp`.

Run from the repository root (with ``echo_server.py`` running)::

    python playground/echo_client.py [--host HOST] [--port PORT] [LINE ...]

Connects to HOST:PORT (default 127.0.0.1:23456), sends every LINE (or, with
no LINE arguments, every line typed on standard input until EOF) and prints
what was sent and what came back. Exits with 1 if an echo differs.

"""

from pathlib import Path
import argparse
import asyncio
import sys

try:
    from hat.drivers import tcp
except ImportError:
    # source checkout without installation: use src_py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'src_py'))
    from hat.drivers import tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 23456


async def echo_line(conn: tcp.Connection, line: str) -> str:
    """Send `line` (plus newline) and return what the server echoed"""
    data = f'{line}\n'.encode()
    conn.write(data)
    await conn.drain()
    received = await conn.readexactly(len(data))
    return received.decode(errors='replace').removesuffix('\n')


async def run(addr: tcp.Address, lines) -> bool:
    """Send `lines` (iterable or async iterable of str) to an echo server

    Prints ``sent: ...`` and ``received: ...`` for every line. Returns
    ``True`` if every line came back unchanged.

    """
    conn = await tcp.connect(addr, name='echo-client')
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


async def stdin_lines():
    """Lines typed on standard input, until EOF"""
    loop = asyncio.get_running_loop()
    while True:
        if sys.stdin.isatty():
            print('> ', end='', flush=True)
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        yield line.rstrip('\r\n')


async def _aiter(lines):
    if hasattr(lines, '__aiter__'):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description='TCP echo client')
    parser.add_argument('--host', default=DEFAULT_HOST)
    parser.add_argument('--port', type=int, default=DEFAULT_PORT)
    parser.add_argument('lines', nargs='*', metavar='LINE',
                        help='lines to send (default: read standard input)')
    args = parser.parse_args(argv)

    lines = args.lines or stdin_lines()
    try:
        ok = asyncio.run(run(tcp.Address(args.host, args.port), lines))

    except ConnectionError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    except KeyboardInterrupt:
        return 130

    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
