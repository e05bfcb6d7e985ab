"""TCP echo server on loopback, built on `hat.drivers.tcp`.

Run from the repository root, after the README's Quick start::

    .venv/bin/python playground/echo_server.py [--host HOST] [PORT]

Listens on HOST:PORT (default 127.0.0.1:23456; port 0 picks a free port),
prints ``listening on HOST:PORT`` and sends every received byte back.
Stops on Ctrl-C or SIGTERM (exit status 0). A port out of range or already
in use gives one line ``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

import cli
from hat.drivers import tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 23456


async def serve(addr: tcp.Address, verbose: bool = True) -> tcp.Server:
    """Start an echo server; closing it closes all its connections"""

    async def on_connection(conn: tcp.Connection) -> None:
        await _echo(conn, verbose)

    return await tcp.listen(on_connection, addr,
                            bind_connections=True,
                            name='echo-server')


async def _echo(conn: tcp.Connection, verbose: bool) -> None:
    remote = f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'
    if verbose:
        print(f'connection from {remote}', flush=True)

    try:
        while True:
            data = await conn.read()
            conn.write(data)
            await conn.drain()

    except ConnectionError:
        pass

    finally:
        await conn.async_close()
        if verbose:
            print(f'connection from {remote} closed '
                  f'({conn.bytes_received} bytes echoed)', flush=True)


async def async_main(addr: tcp.Address) -> None:
    srv = await serve(addr)
    try:
        for a in srv.addresses:
            print(f'listening on {a.host}:{a.port}', flush=True)
        await srv.wait_closing()

    finally:
        await srv.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description='TCP echo server')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('port', nargs='?', type=cli.port,
                        default=DEFAULT_PORT, metavar='PORT',
                        help=f'default {DEFAULT_PORT}; 0 picks a free port')
    args = parser.parse_args(argv)

    return cli.run(lambda: async_main(tcp.Address(args.host, args.port)))


if __name__ == '__main__':
    cli.main(main)
