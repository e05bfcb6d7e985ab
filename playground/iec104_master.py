"""IEC 60870-5-104 master (controlling station), built on
`hat.drivers.iec104`.

Run from the repository root (with ``iec104_outstation.py`` running)::

    .venv/bin/python playground/iec104_master.py [--host HOST]
        [--port PORT] [--asdu-address CA] [--ioa IOA] [--value on|off]
        [--select] [--count N]

Connects to HOST:PORT (default 127.0.0.1:2404), sends a station
interrogation (C_IC_NA_1) to common address CA (default 1), then, once
the interrogation has ended, a single command (C_SC_NA_1) with VALUE
(default ``on``) to IOA (default 1000, the outstation's breaker); with
``--select`` the command is selected first and executed once the select
is confirmed. Prints ``sent: ...`` for every request and ``received: ...``
for every message that arrives (interrogated and spontaneous data,
confirmations). With ``--count N`` it exits after N spontaneous data
messages; otherwise it runs until Ctrl-C or SIGTERM (exit status 0). A
refused or lost connection, or a bad argument, gives one line
``error: ...`` and exit status 1.

"""

from collections.abc import Callable
import argparse
import sys

import cli
from hat.drivers import iec104, tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 2404
DEFAULT_ASDU_ADDRESS = 1
DEFAULT_IOA = 1000


def describe(msg: iec104.Msg) -> str:
    """One line describing `msg`"""
    kind = type(msg).__name__.removesuffix('Msg')
    cause = getattr(msg.cause, 'name', msg.cause)
    parts = [kind, f'cause={cause}', f'ca={msg.asdu_address}']

    if isinstance(msg, (iec104.DataMsg, iec104.CommandMsg)):
        parts.append(f'ioa={msg.io_address}')
        payload = (msg.data if isinstance(msg, iec104.DataMsg)
                   else msg.command)
        parts.append(f'{type(payload).__name__}={_value(payload.value)}')
        if (isinstance(msg, iec104.CommandMsg) and
                getattr(msg.command, 'select', False)):
            parts.append('select')
        if msg.time is not None:
            dt = iec104.time_to_datetime(msg.time).astimezone()
            parts.append(f'time={dt.isoformat(timespec="milliseconds")}')

    elif isinstance(msg, iec104.InterrogationMsg):
        parts.append(f'qoi={msg.request}')

    if getattr(msg, 'is_negative_confirm', False):
        parts.append('NEGATIVE')

    return ' '.join(parts)


def _value(value: object) -> str:
    name = getattr(value, 'name', None)
    if name is not None:
        return str(name)
    inner = getattr(value, 'value', value)
    if isinstance(inner, float):
        return f'{inner:g}'
    return str(inner)


async def run(addr: tcp.Address,
              asdu_address: int,
              io_address: int,
              value: iec104.SingleValue,
              select: bool,
              count: int | None
              ) -> int:
    """Interrogate, command, print; returns the exit status"""
    conn = await iec104.connect(addr)
    try:
        print(f'connected to {addr.host}:{addr.port}', flush=True)

        def send(msg: iec104.Msg) -> None:
            print(f'sent: {describe(msg)}', flush=True)
            conn.send([msg])

        send(iec104.InterrogationMsg(
            is_test=False, originator_address=0, asdu_address=asdu_address,
            request=20, is_negative_confirm=False,
            cause=iec104.CommandReqCause.ACTIVATION))

        def command(select: bool) -> iec104.CommandMsg:
            return iec104.CommandMsg(
                is_test=False, originator_address=0,
                asdu_address=asdu_address, io_address=io_address,
                command=iec104.SingleCommand(value=value, select=select,
                                             qualifier=0),
                is_negative_confirm=False, time=None,
                cause=iec104.CommandReqCause.ACTIVATION)

        spontaneous = 0
        while count is None or spontaneous < count:
            for msg in await conn.receive():
                print(f'received: {describe(msg)}', flush=True)

                if isinstance(msg, iec104.InterrogationMsg):
                    if (msg.cause ==
                            iec104.CommandResCause.ACTIVATION_TERMINATION):
                        send(command(select))

                elif isinstance(msg, iec104.CommandMsg):
                    # a confirmed select: execute
                    if (msg.cause ==
                            iec104.CommandResCause.ACTIVATION_CONFIRMATION and
                            msg.io_address == io_address and
                            isinstance(msg.command, iec104.SingleCommand) and
                            msg.command.select and
                            not msg.is_negative_confirm):
                        send(command(False))

                elif isinstance(msg, iec104.DataMsg):
                    if msg.cause == iec104.DataResCause.SPONTANEOUS:
                        spontaneous += 1

        return 0

    finally:
        await conn.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='IEC 60870-5-104 master (controlling station)')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--port', type=cli.port, default=DEFAULT_PORT,
                        help=f'default {DEFAULT_PORT}')
    parser.add_argument('--asdu-address', type=int_arg(0, 0xFFFF),
                        default=DEFAULT_ASDU_ADDRESS, metavar='CA',
                        help=f'common address, default '
                             f'{DEFAULT_ASDU_ADDRESS}')
    parser.add_argument('--ioa', type=int_arg(0, 0xFFFFFF),
                        default=DEFAULT_IOA,
                        help=f'IOA of the single command, default '
                             f'{DEFAULT_IOA}')
    parser.add_argument('--value', choices=['on', 'off'], default='on',
                        help='value of the single command, default on')
    parser.add_argument('--select', action='store_true',
                        help='select before execute')
    parser.add_argument('--count', type=int_arg(1, sys.maxsize),
                        metavar='N',
                        help='exit after N spontaneous data messages')
    args = parser.parse_args(argv)

    value = (iec104.SingleValue.ON if args.value == 'on'
             else iec104.SingleValue.OFF)

    async def async_main() -> int:
        try:
            return await run(tcp.Address(args.host, args.port),
                             args.asdu_address, args.ioa, value,
                             args.select, args.count)

        except ConnectionError as e:
            raise cli.Error(cli.error_text(
                e, f'{args.host}:{args.port}')) from e

    return cli.run(async_main)


def int_arg(minimum: int, maximum: int) -> Callable[[str], int]:
    """Argument type of an integer `minimum`..`maximum`"""
    def parse(text: str) -> int:
        try:
            value = int(text)

        except ValueError:
            raise argparse.ArgumentTypeError(
                f'invalid value {text!r}: not an integer') from None

        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f'invalid value {value}: must be {minimum}..{maximum}')
        return value

    return parse


if __name__ == '__main__':
    cli.main(main)
