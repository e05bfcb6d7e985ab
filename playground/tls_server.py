"""Playground TLS echo server built on `hat.drivers.tcp`.

Run from the repository root::

    python playground/tls_server.py [--host 127.0.0.1] [--port 0]
                                    [--cert cert.pem --key key.pem]

Without ``--cert``/``--key`` a throwaway self-signed certificate for
localhost / 127.0.0.1 is created in a temporary directory; its path is
printed so that ``tls_client.py --cafile`` can trust it. The first line
printed is ``listening on HOST:PORT``. Every byte received is echoed back.
Stops on Ctrl+C or SIGTERM.

"""

from pathlib import Path
import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
import tempfile

from tls_common import ensure_hat_drivers, make_self_signed_cert

ensure_hat_drivers()

from hat.drivers import tcp  # NOQA


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def echo(conn: tcp.Connection):
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


async def async_main(args, cert, key):
    server = await serve(args.host, args.port, cert, key)
    try:
        for addr in server.addresses:
            print(f'listening on {addr.host}:{addr.port}', flush=True)
        print(f'certificate: {cert}', flush=True)

        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, server.close)
        await server.wait_closing()

    finally:
        await server.async_close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0,
                        help='0 picks a free port (default)')
    parser.add_argument('--cert', type=Path,
                        help='PEM certificate (default: throwaway one)')
    parser.add_argument('--key', type=Path, help='PEM private key')
    args = parser.parse_args()
    if (args.cert is None) != (args.key is None):
        parser.error('--cert and --key go together')

    with tempfile.TemporaryDirectory(prefix='hat-tls-') as tmp:
        cert, key = args.cert, args.key
        if cert is None:
            cert, key = make_self_signed_cert(Path(tmp))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(async_main(args, cert, key))


if __name__ == '__main__':
    sys.exit(main())
