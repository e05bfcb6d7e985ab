"""TPKT (RFC 1006) echo client, built on `hat.drivers.tpkt`.

Run from the repository root (with ``tpkt_server.py`` running)::

    .venv/bin/python playground/tpkt_client.py [--host HOST] [--port PORT]
                                               [TEXT ...]

Connects to HOST:PORT (default 127.0.0.1:10102) and sends every TEXT (or,
with no TEXT arguments, every line typed on standard input until EOF) as one
TPKT packet. As on a real ISO transport connection, the payload is a COTP
data TPDU: the 3 byte header ``02 f0 80`` followed by the text (the server
prints ``hello`` as a packet of 8 bytes, an empty line as 3). Prints what
was sent and what came back; exits with 1 if an echo differs, and with one
line ``error: ...`` and 1 if the connection fails. Ctrl-C or SIGTERM ends
it at once, even while it waits for input (exit status 0).

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from collections.abc import AsyncIterable, Iterable

import cli
from hat.drivers import tcp, tpkt


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 10102
CONNECT_TIMEOUT = 10  # seconds

# COTP data TPDU header (ISO 8073): length indicator 2, DT, last data unit
COTP_DT_HEADER = bytes([0x02, 0xF0, 0x80])


async def echo_text(conn: tpkt.Connection, text: str) -> str:
    """Send `text` in one packet and return the text echoed back"""
    conn.write(COTP_DT_HEADER + text.encode())
    await conn.drain()
    payload = await conn.read()
    return payload.removeprefix(COTP_DT_HEADER).decode(errors='replace')


async def run(addr: tcp.Address,
              texts: Iterable[str] | AsyncIterable[str]
              ) -> bool:
    """Send `texts` to a TPKT echo server

    Prints ``sent: ...`` and ``received: ...`` for every text. Returns
    ``True`` if every text came back unchanged.

    """
    conn = await tpkt.connect(addr, name='tpkt-echo-client',
                              connect_timeout=CONNECT_TIMEOUT)
    ok = True
    try:
        async for text in _aiter(texts):
            print(f'sent: {text}', flush=True)
            received = await echo_text(conn, text)
            print(f'received: {received}', flush=True)
            if received != text:
                ok = False

    finally:
        await conn.async_close()

    return ok


async def _aiter(texts: Iterable[str] | AsyncIterable[str]):
    if isinstance(texts, AsyncIterable):
        async for text in texts:
            yield text
    else:
        for text in texts:
            yield text


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='TPKT echo client',
        epilog='Each TEXT is sent as one TPKT packet whose payload is a '
               'COTP data TPDU, as on a real ISO transport connection: the '
               '3 byte header 02 f0 80 followed by the text (so the server '
               'reports "hello" as a packet of 8 bytes and an empty text '
               'as 3 bytes).')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--port', type=cli.port, default=DEFAULT_PORT,
                        help=f'default {DEFAULT_PORT}')
    parser.add_argument('texts', nargs='*', metavar='TEXT',
                        help='texts to send (default: read standard input)')
    args = parser.parse_args(argv)

    async def async_main() -> int:
        texts = args.texts or cli.stdin_lines()
        ok = await run(tcp.Address(args.host, args.port), texts)
        return 0 if ok else 1

    return cli.run(async_main)


if __name__ == '__main__':
    cli.main(main)
