"""Playground TLS client built on `hat.drivers.tcp`.

Run from the repository root, against ``tls_server.py``::

    .venv/bin/python playground/tls_client.py --port PORT --cafile cert.pem
                                              [--host 127.0.0.1]
                                              [--message TEXT]

or self-contained (creates a throwaway certificate, starts the echo server
in-process, sends one line and exits)::

    .venv/bin/python playground/tls_client.py --demo

Prints what was sent and received and the TLS version and cipher. A failed
connection or TLS verification (for example a ``--cafile`` that does not
trust the server, or one that cannot be read, named in the line) gives one
line ``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from pathlib import Path
import asyncio
import ssl
import tempfile

import cli
from hat.drivers import tcp
from tls_common import file_error, make_self_signed_cert
import tls_server


TIMEOUT = 10
DEFAULT_HOST = '127.0.0.1'
DEFAULT_SERVER_HOSTNAME = 'localhost'
DEFAULT_MESSAGE = 'hello over TLS'


async def run_client(host: str, port: int, cafile: Path,
                     server_hostname: str, message: str) -> bool:
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=str(cafile))

    except OSError as e:
        raise file_error('--cafile', cafile, e) from e

    conn = await tcp.connect(tcp.Address(host, port), name='tls-client',
                             ssl=ctx, server_hostname=server_hostname,
                             connect_timeout=TIMEOUT)
    try:
        tls = conn.ssl_object
        assert tls is not None
        print(f'connected {conn.info.local_addr.host}:'
              f'{conn.info.local_addr.port} -> {host}:{port}')
        print(f'TLS version: {tls.version()}')
        cipher = tls.cipher()
        print(f'cipher: {cipher[0] if cipher else None}')

        data = (message + '\n').encode()
        conn.write(data)
        await conn.drain()
        print(f'sent: {message}')

        received = b''
        while not received.endswith(b'\n'):
            received += await asyncio.wait_for(conn.read(), TIMEOUT)
        print(f'received: {received.decode().rstrip()}')
        print(f'bytes sent: {conn.bytes_sent}, '
              f'bytes received: {conn.bytes_received}')
        return received == data

    finally:
        await conn.async_close()


async def demo(message: str) -> bool:
    with tempfile.TemporaryDirectory(prefix='hat-tls-') as tmp:
        cert, key = make_self_signed_cert(Path(tmp))
        server = await tls_server.serve('127.0.0.1', 0, cert, key)
        try:
            addr = server.addresses[0]
            print(f'demo server listening on {addr.host}:{addr.port}')
            return await run_client(addr.host, addr.port, cert, 'localhost',
                                    message)

        finally:
            await server.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description='TLS echo client')
    parser.add_argument('--demo', action='store_true',
                        help='start the echo server in-process')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f"server's host, default {DEFAULT_HOST}")
    parser.add_argument('--port', type=cli.port,
                        help="server's port (tls_server.py prints it); "
                             "needed unless --demo")
    parser.add_argument('--cafile', type=Path,
                        help="PEM certificate to trust: the server's "
                             "(tls_server.py prints it); needed unless "
                             "--demo")
    parser.add_argument('--server-hostname', default=DEFAULT_SERVER_HOSTNAME,
                        help=f'name the certificate must be for, default '
                             f'{DEFAULT_SERVER_HOSTNAME}')
    parser.add_argument('--message', default=DEFAULT_MESSAGE, metavar='TEXT',
                        help=f'line to send, default {DEFAULT_MESSAGE!r}')
    args = parser.parse_args(argv)

    if args.demo:
        async def async_main() -> int:
            return 0 if await demo(args.message) else 1

    else:
        if args.port is None or args.cafile is None:
            parser.error('--port and --cafile are needed (or use --demo)')

        async def async_main() -> int:
            ok = await run_client(args.host, args.port, args.cafile,
                                  args.server_hostname, args.message)
            return 0 if ok else 1

    return cli.run(async_main)


if __name__ == '__main__':
    cli.main(main)
