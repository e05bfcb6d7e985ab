"""TPKT (RFC 1006) echo server on loopback, built on `hat.drivers.tpkt`.

Run from the repository root, after the README's Quick start::

    .venv/bin/python playground/tpkt_server.py [--host HOST] [PORT]

Listens on HOST:PORT (default 127.0.0.1:10102: the standard TPKT port 102
needs privileges; 0 picks a free port), prints ``listening on HOST:PORT``
and sends every received packet back as one packet with the same payload.
Prints a line per connection and per packet (``packet of N bytes``: the
payload, which from ``tpkt_client.py`` is a 3 byte COTP header and the
text) and, when the client closes, ``connection from HOST:PORT closed by
peer (N packets echoed)``; a reset or a malformed packet is printed as
such.
Stops on Ctrl-C or SIGTERM (exit status 0). A port out of range or already
in use gives one line ``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

import cli
from hat.drivers import tcp, tpkt


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 10102


async def serve(addr: tcp.Address, verbose: bool = True) -> tpkt.Server:
    """Start a TPKT echo server; closing it closes all its connections"""

    async def on_connection(conn: tpkt.Connection) -> None:
        await _echo(conn, verbose)

    return await tpkt.listen(on_connection, addr,
                             bind_connections=True,
                             name='tpkt-echo-server')


async def _echo(conn: tpkt.Connection, verbose: bool) -> None:
    remote = f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'
    if verbose:
        print(f'connection from {remote}', flush=True)

    count = 0
    how = 'closed'
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
        if _closed_by_peer(e):
            # the normal end of a connection: the client is done
            how = 'closed by peer'
        elif verbose:
            print(f'{remote}: {cli.error_text(e)}', flush=True)

    finally:
        await conn.async_close()
        if verbose:
            print(f'connection from {remote} {how} '
                  f'({count} packets echoed)', flush=True)


def _closed_by_peer(e: ConnectionError) -> bool:
    # the peer closed between packets (not a reset, a packet cut short or
    # a protocol error: those are reported)
    text = str(e)
    return (type(e) is ConnectionError and
            ('closed by peer' in text or 'peer closed' in text) and
            'in the middle' not in text)


async def async_main(addr: tcp.Address) -> None:
    srv = await serve(addr)
    try:
        for a in srv.addresses:
            print(f'listening on {a.host}:{a.port}', flush=True)
        await srv.wait_closing()

    finally:
        await srv.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description='TPKT echo server')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('port', nargs='?', type=cli.port,
                        default=DEFAULT_PORT, metavar='PORT',
                        help=f'default {DEFAULT_PORT}; 0 picks a free port')
    args = parser.parse_args(argv)

    return cli.run(lambda: async_main(tcp.Address(args.host, args.port)))


if __name__ == '__main__':
    cli.main(main)
