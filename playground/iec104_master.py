"""IEC 60870-5-104 master (controlling station), built on
`hat.drivers.iec104`.

Run from the repository root (with ``iec104_outstation.py`` running)::

    .venv/bin/python playground/iec104_master.py [--host HOST]
        [--port PORT] [--asdu-address CA] [--command IOA=VALUE]
        [--select] [--timeout SECONDS] [--count N] [--utc] [-v]

Connects to HOST:PORT (default 127.0.0.1:2404) within ``--timeout``
seconds (default 10), sends a station interrogation (C_IC_NA_1) to common
address CA (default 1) and prints ``received: ...`` for every message that
arrives (interrogated and spontaneous data, confirmations). It is
read-only by default: safe to point at a real RTU.

Only with ``--command IOA=VALUE`` does it send a command, once the
interrogation has ended (or has not ended within ``--timeout``): VALUE
``on`` or ``off`` is a single command (C_SC_NA_1), a number a set-point
command, short floating point (C_SE_NC_1); with ``--select`` the command
is selected first and executed once the select is confirmed. Each step
must be confirmed positively within ``--timeout`` seconds: a negative
confirmation (P/N = 1, or cause 44..47) or none in time gives one line
``error: ...`` and exit status 1. Prints ``sent: ...`` for every request.

Time tags (CP56Time2a) are read in the process's local time zone (the
``TZ`` environment variable), or in UTC with ``--utc`` (for an outstation
or RTU that runs in UTC, such as ``iec104_outstation.py --utc``); they are
printed in that zone with its UTC offset, for example
``time=2024-05-17T11:45:30.250+00:00``.

With ``--count N`` it exits after N spontaneous data messages, once the
interrogation has ended (or has not ended within ``--timeout``) and the
command is confirmed; otherwise it runs until Ctrl-C or SIGTERM
(exit status 0). ``-v`` logs every APDU sent and received, decoded, on
standard error (the communication log ``hat.drivers.iec104.trace``). A
refused, lost or timed-out connection, or a bad argument, gives one line
``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from collections.abc import Callable
import argparse
import asyncio
import datetime
import math
import typing

import cli
from hat.drivers import iec104, tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 2404
DEFAULT_ASDU_ADDRESS = 1
DEFAULT_TIMEOUT = 10.0

# causes of a refusal without the P/N bit (some devices leave it out)
REFUSAL_CAUSES = {44, 45, 46, 47}


class Command(typing.NamedTuple):
    """Command given by ``--command IOA=VALUE``"""
    io_address: int
    value: iec104.SingleValue | float


def describe(msg: iec104.Msg, tz: datetime.tzinfo | None = None) -> str:
    """One line describing `msg`; its time tag read in the time zone `tz`
    (``None``: local time) and printed in it with its UTC offset"""
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
            dt = iec104.time_to_datetime(msg.time, tz=tz).astimezone(tz)
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


def command_msg(asdu_address: int,
                command: Command,
                select: bool
                ) -> iec104.CommandMsg:
    """Command message: single command or set-point (short float)"""
    payload: iec104.Command
    if isinstance(command.value, iec104.SingleValue):
        payload = iec104.SingleCommand(value=command.value, select=select,
                                       qualifier=0)
    else:
        payload = iec104.FloatingCommand(
            value=iec104.FloatingValue(command.value), select=select)
    return iec104.CommandMsg(
        is_test=False, originator_address=0, asdu_address=asdu_address,
        io_address=command.io_address, command=payload,
        is_negative_confirm=False, time=None,
        cause=iec104.CommandReqCause.ACTIVATION)


async def run(addr: tcp.Address,
              asdu_address: int,
              command: Command | None,
              select: bool,
              timeout: float,
              count: int | None,
              tz: datetime.tzinfo | None = None
              ) -> int:
    """Interrogate, command if asked, print; returns the exit status

    Raises:
        cli.Error: no connection within `timeout`, or the command refused
            or not confirmed within `timeout`
        ConnectionError: the connection failed

    """
    try:
        conn = await asyncio.wait_for(
            iec104.connect(addr, connect_timeout=timeout), timeout)

    except asyncio.TimeoutError:
        raise cli.Error(f'connection to {addr.host}:{addr.port}: not '
                        f'established within {timeout:g} s (no STARTDT '
                        f'con)') from None

    loop = asyncio.get_running_loop()
    try:
        print(f'connected to {addr.host}:{addr.port}', flush=True)

        def send(msg: iec104.Msg) -> None:
            print(f'sent: {describe(msg, tz)}', flush=True)
            conn.send([msg])

        send(iec104.InterrogationMsg(
            is_test=False, originator_address=0, asdu_address=asdu_address,
            request=20, is_negative_confirm=False,
            cause=iec104.CommandReqCause.ACTIVATION))

        # command steps: 'interrogation' (waiting for its end), 'select'
        # or 'execute' (waiting for the confirmation), 'done'
        step = 'interrogation'
        deadline = loop.time() + timeout

        def send_command(select_step: bool) -> None:
            nonlocal step, deadline
            if command is None:
                step = 'done'
                return
            step = 'select' if select_step else 'execute'
            deadline = loop.time() + timeout
            send(command_msg(asdu_address, command, select_step))

        spontaneous = 0
        while count is None or spontaneous < count or step != 'done':
            if step == 'done':
                msgs = await conn.receive()

            else:
                try:
                    msgs = await asyncio.wait_for(
                        conn.receive(), max(deadline - loop.time(), 0))

                except asyncio.TimeoutError:
                    if step == 'interrogation':
                        send_command(select)
                        continue
                    assert command is not None
                    raise cli.Error(
                        f'command to IOA {command.io_address}: no '
                        f'{"select " if step == "select" else ""}'
                        f'confirmation within {timeout:g} s') from None

            for msg in msgs:
                print(f'received: {describe(msg, tz)}', flush=True)

                if isinstance(msg, iec104.InterrogationMsg):
                    if step == 'interrogation' and (
                            msg.is_negative_confirm or msg.cause ==
                            iec104.CommandResCause.ACTIVATION_TERMINATION):
                        send_command(select)

                elif isinstance(msg, iec104.CommandMsg):
                    if (command is not None and
                            step in ('select', 'execute') and
                            msg.io_address == command.io_address):
                        step = confirm(msg, command, step)
                        if step == 'execute':
                            send_command(False)

                elif isinstance(msg, iec104.DataMsg):
                    if msg.cause == iec104.DataResCause.SPONTANEOUS:
                        spontaneous += 1

        return 0

    finally:
        await conn.async_close()


def confirm(msg: iec104.CommandMsg, command: Command, step: str) -> str:
    """Next command step after `msg`, a reply to the command of `step`

    Raises:
        cli.Error: `msg` refuses the command

    """
    cause = msg.cause
    cause_value = cause.value if isinstance(cause, iec104.CommandResCause) \
        else cause
    if msg.is_negative_confirm or cause_value in REFUSAL_CAUSES:
        name = getattr(cause, 'name', cause)
        raise cli.Error(f'command to IOA {command.io_address} refused: '
                        f'negative {"select " if step == "select" else ""}'
                        f'confirmation, cause {name}')

    if cause != iec104.CommandResCause.ACTIVATION_CONFIRMATION:
        return step

    return 'execute' if step == 'select' else 'done'


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='IEC 60870-5-104 master (controlling station); '
                    'read-only unless --command is given')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--port', type=cli.port, default=DEFAULT_PORT,
                        help=f'default {DEFAULT_PORT}')
    parser.add_argument('--asdu-address', type=int_arg(0, 0xFFFF),
                        default=DEFAULT_ASDU_ADDRESS, metavar='CA',
                        help=f'common address, default '
                             f'{DEFAULT_ASDU_ADDRESS}')
    parser.add_argument('--command', type=command_arg, metavar='IOA=VALUE',
                        help='send one command after the interrogation: '
                             'VALUE on/off (single command C_SC_NA_1) or '
                             'a number (set-point C_SE_NC_1); default: '
                             'none (read-only)')
    parser.add_argument('--select', action='store_true',
                        help='select before execute (with --command)')
    parser.add_argument('--timeout', type=timeout_arg,
                        default=DEFAULT_TIMEOUT, metavar='SECONDS',
                        help=f'bound of connecting and of each command '
                             f'confirmation, default {DEFAULT_TIMEOUT:g}')
    parser.add_argument('--count', type=positive_int_arg,
                        metavar='N',
                        help='exit after N spontaneous data messages')
    parser.add_argument('--utc', action='store_true',
                        help='read time tags (CP56Time2a) in UTC; '
                             'default: in the local time zone (TZ)')
    cli.add_verbose(parser, 'every APDU sent and received (decoded)')
    args = parser.parse_args(argv)
    if args.select and args.command is None:
        parser.error('--select needs --command')
    cli.setup_logging(args.verbose, ['hat.drivers.iec104.trace'])

    async def async_main() -> int:
        try:
            return await run(tcp.Address(args.host, args.port),
                             args.asdu_address, args.command, args.select,
                             args.timeout, args.count,
                             datetime.timezone.utc if args.utc else None)

        except ConnectionError as e:
            raise cli.Error(cli.error_text(
                e, f'{args.host}:{args.port}')) from e

    return cli.run(async_main)


def command_arg(text: str) -> Command:
    """Argument type of ``--command IOA=VALUE``"""
    ioa_text, sep, value_text = text.partition('=')
    if not sep:
        raise argparse.ArgumentTypeError(
            f'invalid command {text!r}: expected IOA=VALUE (e.g. 1000=on)')
    io_address = int_arg(0, 0xFFFFFF)(ioa_text.strip())
    value_text = value_text.strip().lower()
    if value_text in ('on', 'off'):
        return Command(io_address, iec104.SingleValue.ON
                       if value_text == 'on' else iec104.SingleValue.OFF)
    try:
        value = float(value_text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid command value {value_text!r}: expected on, off or a '
            f'number') from None

    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(
            f'invalid command value {value_text!r}: not a finite number')
    return Command(io_address, value)


def timeout_arg(text: str) -> float:
    """Argument type of ``--timeout``: seconds > 0"""
    try:
        value = float(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid timeout {text!r}: not a number') from None

    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f'invalid timeout {value}: must be more than 0 seconds')
    return value


def positive_int_arg(text: str) -> int:
    """Argument type of a positive integer (``--count``)"""
    try:
        value = int(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid value {text!r}: not an integer') from None

    if value < 1:
        raise argparse.ArgumentTypeError(
            f'invalid value {value}: must be a positive integer')
    return value


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
