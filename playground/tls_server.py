"""Playground TLS echo server built on `hat.drivers.tcp`.

Run from the repository root, after the README's Quick start::

    .venv/bin/python playground/tls_server.py [--host 127.0.0.1] [--port 0]
                                              [--cert cert.pem --key key.pem]

Without ``--cert``/``--key`` a throwaway self-signed certificate for
localhost / 127.0.0.1 is created in a temporary directory; its path is
printed so that ``tls_client.py --cafile`` can trust it. The first line
printed is ``listening on HOST:PORT``. Every byte received is echoed back.
Stops on Ctrl-C or SIGTERM (exit status 0). A port out of range or in use,
or an unreadable certificate, gives one line ``error: ...`` and status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from pathlib import Path
import ssl
import tempfile

import cli
from hat.drivers import tcp
from tls_common import file_error, make_self_signed_cert


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    for option, path in (('--cert', cert), ('--key', key)):
        try:
            path.read_bytes()

        except OSError as e:
            raise file_error(option, path, e) from e

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)

    except OSError as e:
        raise file_error('--cert', cert, e) from e

    return ctx


async def echo(conn: tcp.Connection) -> None:
    try:
        while True:
            data = await conn.read()
            conn.write(data)
            await conn.drain()

    except ConnectionError:
        pass

    finally:
        conn.close()


async def serve(host: str, port: int, cert: Path, key: Path) -> tcp.Server:
    """Start the echo server (close the returned server to stop it)"""
    return await tcp.listen(echo, tcp.Address(host, port),
                            bind_connections=True,
                            name='tls-echo-server',
                            ssl=server_context(cert, key))


async def async_main(host: str, port: int, cert: Path, key: Path) -> None:
    server = await serve(host, port, cert, key)
    try:
        for addr in server.addresses:
            print(f'listening on {addr.host}:{addr.port}', flush=True)
        print(f'certificate: {cert}', flush=True)
        await server.wait_closing()

    finally:
        await server.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(description='TLS echo server')
    parser.add_argument('--host', default='127.0.0.1',
                        help='default 127.0.0.1')
    parser.add_argument('--port', type=cli.port, default=0,
                        help='0 picks a free port (default)')
    parser.add_argument('--cert', type=Path,
                        help='PEM certificate (default: throwaway one)')
    parser.add_argument('--key', type=Path, help='PEM private key')
    args = parser.parse_args(argv)
    if (args.cert is None) != (args.key is None):
        parser.error('--cert and --key go together')

    with tempfile.TemporaryDirectory(prefix='hat-tls-') as tmp:
        cert, key = args.cert, args.key
        if cert is None:
            cert, key = make_self_signed_cert(Path(tmp))
        return cli.run(lambda: async_main(args.host, args.port, cert, key))


if __name__ == '__main__':
    cli.main(main)
