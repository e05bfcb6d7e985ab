"""TPKT (RFC 1006) echo server on loopback, built on `hat.drivers.tpkt`.

Run from the repository root (no installation of hat-drivers needed, only
hat-aio and hat-util)::

    python playground/tpkt_server.py [PORT]

Listens on 127.0.0.1:PORT (default 10102: the standard TPKT port 102 needs
privileges; 0 picks a free port) and sends every received packet back as
one packet with the same payload. Stops on Ctrl+C or SIGTERM.

"""

from pathlib import Path
import asyncio
import contextlib
import signal
import sys

try:
    from hat.drivers import tcp, tpkt
except ImportError:
    # source checkout without installation: use src_py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'src_py'))
    from hat.drivers import tcp, tpkt


DEFAULT_PORT = 10102


async def serve(addr: tcp.Address, verbose: bool = True) -> tpkt.Server:
    """Start a TPKT echo server; closing it closes all its connections"""

    async def on_connection(conn):
        await _echo(conn, verbose)

    return await tpkt.listen(on_connection, addr,
                             bind_connections=True,
                             name='tpkt-echo-server')


async def _echo(conn: tpkt.Connection, verbose: bool):
    remote = f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'
    if verbose:
        print(f'connection from {remote}', flush=True)

    count = 0
    try:
        while True:
            payload = await conn.read()
            if verbose:
                print(f'{remote}: packet of {len(payload)} bytes',
                      flush=True)
            conn.write(payload)
            await conn.drain()
            count += 1

    except ConnectionError as e:
        if verbose:
            print(f'{remote}: {e}', flush=True)

    finally:
        await conn.async_close()
        if verbose:
            print(f'connection from {remote} closed '
                  f'({count} packets echoed)', flush=True)


async def async_main(port: int):
    srv = await serve(tcp.Address('127.0.0.1', port))
    for addr in srv.addresses:
        print(f'listening on {addr.host}:{addr.port}', flush=True)

    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError):  # not on Windows
        loop.add_signal_handler(signal.SIGTERM, srv.close)

    try:
        await srv.wait_closing()

    finally:
        await srv.async_close()


def main(argv: list[str]) -> int:
    if len(argv) > 2 or (len(argv) == 2 and not argv[1].isdigit()):
        print(f'usage: {argv[0]} [PORT]', file=sys.stderr)
        return 2

    port = int(argv[1]) if len(argv) == 2 else DEFAULT_PORT
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(async_main(port))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
