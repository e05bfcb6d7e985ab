"""IEC 60870-5-104 outstation simulator (slave), built on
`hat.drivers.iec104`.

Run from the repository root, after the README's Quick start::

    .venv/bin/python playground/iec104_outstation.py [--host HOST]
        [--asdu-address CA] [--period SECONDS] [--utc] [-v] [PORT]

Listens on HOST:PORT (default 127.0.0.1:2404; port 0 picks a free port)
and prints ``listening on HOST:PORT``. Its station, common address CA
(default 1), has these points (IOA: information object address)::

    IOA   TypeID     point
    1, 2  M_ME_NC_1  reported: measurements (short float); they change
                     every PERIOD seconds and are sent spontaneously with
                     a CP56Time2a time tag (M_ME_TF_1)
    3     M_ME_NC_1  reported: the set-point's value, set by IOA 2000
    100   M_SP_NA_1  reported: breaker position (single point), set by
                     IOA 1000
    200   M_IT_NA_1  reported: energy counter (integrated total), counts
                     up every PERIOD seconds
    1000  C_SC_NA_1  accepted: single command ON/OFF, sets IOA 100
    2000  C_SE_NC_1  accepted: set-point command (short float), sets IOA 3

A station interrogation returns IOA 1, 2, 3 and 100, a counter
interrogation IOA 200. An executed command is confirmed (ACT_CON), its
point is sent with cause REMOTE_COMMAND, then ACT_TERM; a select
(select before execute) is only confirmed. A command to any other IOA,
or of another type to IOA 1000 or 2000 (a set-point to 1000, a single
command to 2000), is confirmed negatively (P/N = 1) with cause
UNKNOWN_IO_ADDRESS (47): the station has no such information object.
IEC 60870-5-101/104 has no cause for "wrong type for this IOA", and
UNKNOWN_TYPE (44) would say the station does not support the type at
all, which is not true. The printed line tells the two apart: ``unknown
IOA`` or ``wrong command type``.

Time tags (CP56Time2a) are in the process's local time zone (the ``TZ``
environment variable), or in UTC with ``--utc``; a master must read them
in the same zone (``iec104_master.py --utc``).

Answers station interrogations (C_IC_NA_1, QOI 20), counter
interrogations (C_CI_NA_1) and clock synchronisations (C_CS_NA_1);
commands to other common addresses are confirmed negatively with cause
UNKNOWN_ASDU_ADDRESS. Prints a line for every connection and every
command, and one when a connection ends (with the reason, for example
malformed data, unless the master closed it); ``-v`` logs every APDU
sent and received, decoded, on standard error (the communication log
``hat.drivers.iec104.trace``). Stops on
Ctrl-C or SIGTERM (exit status 0); a bad argument or a port in use gives
one line ``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

import argparse
import asyncio
import datetime
import math
import random

import cli
from hat.drivers import iec104, tcp


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 2404
DEFAULT_ASDU_ADDRESS = 1
DEFAULT_PERIOD = 1.0

MEASUREMENTS = (1, 2, 3)
BREAKER = 100
COUNTER = 200
BREAKER_COMMAND = 1000
SETPOINT_COMMAND = 2000

# command IOA: (command type it takes, its description)
COMMAND_TYPES: dict[int, tuple[type[iec104.Command], str]] = {
    BREAKER_COMMAND: (iec104.SingleCommand, 'single commands (C_SC_NA_1)'),
    SETPOINT_COMMAND: (iec104.FloatingCommand,
                       'set-point commands, short float (C_SE_NC_1)')}

POINT_MAP: str = 'The s' + (__doc__ or '')[
    (__doc__ or '').index('tation, common address CA'):
    (__doc__ or '').index('Time tags')].replace('::\n', ':\n', 1)
"""Points of the station (also the epilog of ``-h``)"""

ACT_CON = iec104.CommandResCause.ACTIVATION_CONFIRMATION
ACT_TERM = iec104.CommandResCause.ACTIVATION_TERMINATION

GOOD_INDICATION = iec104.IndicationQuality(
    invalid=False, not_topical=False, substituted=False, blocked=False)
GOOD_MEASUREMENT = iec104.MeasurementQuality(
    invalid=False, not_topical=False, substituted=False, blocked=False,
    overflow=False)
GOOD_COUNTER = iec104.CounterQuality(
    invalid=False, adjusted=False, overflow=False, sequence=0)


class Station:
    """Point values of the simulated station and its connections"""

    def __init__(self,
                 asdu_address: int,
                 tz: datetime.tzinfo | None = None):
        self.asdu_address = asdu_address
        self.tz = tz
        self.measurements = {ioa: 10.0 * ioa for ioa in MEASUREMENTS}
        self.breaker = iec104.SingleValue.OFF
        self.counter = 0
        self.connections: set[iec104.Connection] = set()

    def data_msg(self,
                 io_address: int,
                 cause: iec104.DataCause,
                 time: iec104.Time | None = None
                 ) -> iec104.DataMsg:
        """Current value of the point `io_address` as a message"""
        data: iec104.Data
        if io_address == BREAKER:
            data = iec104.SingleData(value=self.breaker,
                                     quality=GOOD_INDICATION)
        elif io_address == COUNTER:
            data = iec104.BinaryCounterData(
                value=iec104.BinaryCounterValue(self.counter),
                quality=GOOD_COUNTER)
        else:
            data = iec104.FloatingData(
                value=iec104.FloatingValue(self.measurements[io_address]),
                quality=GOOD_MEASUREMENT)
        return iec104.DataMsg(is_test=False,
                              originator_address=0,
                              asdu_address=self.asdu_address,
                              io_address=io_address,
                              data=data,
                              time=time,
                              cause=cause)

    def broadcast(self, msgs: list[iec104.Msg]) -> None:
        """Send `msgs` on every connection with data transfer started"""
        for conn in list(self.connections):
            if conn.is_enabled:
                try:
                    conn.send(msgs)

                except ConnectionError:
                    pass

    async def change(self, period: float) -> None:
        """Change the measurements and the counter every `period` s"""
        step = 0
        while True:
            await asyncio.sleep(period)
            step += 1
            self.counter += 1
            now = iec104.time_from_datetime(
                datetime.datetime.now(datetime.timezone.utc), tz=self.tz)
            msgs: list[iec104.Msg] = []
            for ioa in MEASUREMENTS[:2]:
                value = 10.0 * ioa + math.sin(step / 5 + ioa) + \
                    random.uniform(-0.05, 0.05)
                self.measurements[ioa] = round(value, 3)
                msgs.append(self.data_msg(
                    ioa, iec104.DataResCause.SPONTANEOUS, now))
            self.broadcast(msgs)

    def answer(self, msg: iec104.Msg) -> list[iec104.Msg]:
        """Response to a request `msg` received from a master"""
        if msg.asdu_address not in (self.asdu_address, 0xFFFF):
            if isinstance(msg, iec104.ClockSyncMsg):
                return [msg._replace(
                    is_negative_confirm=True,
                    cause=iec104.ClockSyncResCause.UNKNOWN_ASDU_ADDRESS)]
            if isinstance(msg, (iec104.InterrogationMsg,
                                iec104.CounterInterrogationMsg,
                                iec104.CommandMsg)):
                return [msg._replace(
                    is_negative_confirm=True,
                    cause=iec104.CommandResCause.UNKNOWN_ASDU_ADDRESS)]
            return []

        if isinstance(msg, iec104.InterrogationMsg):
            if msg.request != 20:
                return [msg._replace(is_negative_confirm=True,
                                     cause=ACT_CON)]
            cause = iec104.DataResCause.INTERROGATED_STATION
            return [msg._replace(cause=ACT_CON),
                    *(self.data_msg(ioa, cause)
                      for ioa in (*MEASUREMENTS, BREAKER)),
                    msg._replace(cause=ACT_TERM)]

        if isinstance(msg, iec104.CounterInterrogationMsg):
            return [msg._replace(cause=ACT_CON),
                    self.data_msg(COUNTER,
                                  iec104.DataResCause.INTERROGATED_COUNTER),
                    msg._replace(cause=ACT_TERM)]

        if isinstance(msg, iec104.ClockSyncMsg):
            return [msg._replace(
                cause=iec104.ClockSyncResCause.ACTIVATION_CONFIRMATION)]

        if isinstance(msg, iec104.CommandMsg):
            return self._command(msg)

        return []

    def _command(self, msg: iec104.CommandMsg) -> list[iec104.Msg]:
        command = msg.command
        if (msg.io_address == BREAKER_COMMAND and
                isinstance(command, iec104.SingleCommand)):
            print(f'command: breaker {command.value.name}'
                  f'{" (select)" if command.select else ""}', flush=True)
            if command.select:
                return [msg._replace(cause=ACT_CON)]
            self.breaker = command.value
            return [msg._replace(cause=ACT_CON),
                    self.data_msg(BREAKER,
                                  iec104.DataResCause.REMOTE_COMMAND),
                    msg._replace(cause=ACT_TERM)]

        if (msg.io_address == SETPOINT_COMMAND and
                isinstance(command, iec104.FloatingCommand)):
            print(f'command: set-point {command.value.value}'
                  f'{" (select)" if command.select else ""}', flush=True)
            if command.select:
                return [msg._replace(cause=ACT_CON)]
            self.measurements[MEASUREMENTS[2]] = command.value.value
            return [msg._replace(cause=ACT_CON),
                    self.data_msg(MEASUREMENTS[2],
                                  iec104.DataResCause.REMOTE_COMMAND),
                    msg._replace(cause=ACT_TERM)]

        if msg.io_address in COMMAND_TYPES:
            print(f'command: {type(command).__name__} to IOA '
                  f'{msg.io_address} refused: wrong command type, IOA '
                  f'{msg.io_address} takes '
                  f'{COMMAND_TYPES[msg.io_address][1]}', flush=True)
        else:
            print(f'command: unknown IOA {msg.io_address} (refused)',
                  flush=True)
        return [msg._replace(is_negative_confirm=True,
                             cause=iec104.CommandResCause.UNKNOWN_IO_ADDRESS)]

    async def serve(self, conn: iec104.Connection) -> None:
        """Answer the requests of one master until the connection closes"""
        remote = f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'
        print(f'connection from {remote}', flush=True)
        self.connections.add(conn)
        why = ''
        try:
            while True:
                for msg in await conn.receive():
                    response = self.answer(msg)
                    if response:
                        conn.send(response)

        except ConnectionError as e:
            # the library's log records are printed only with -v: say why
            # a connection ended unless it is the normal end
            # (the error names the connection: the line does already)
            text = cli.error_text(e).partition(' closed: ')[2] or \
                cli.error_text(e)
            if not text.endswith(('closed by peer', 'closed locally')):
                why = f': {text}'

        finally:
            self.connections.discard(conn)
            await conn.async_close()
            print(f'connection from {remote} closed{why}', flush=True)


async def async_main(addr: tcp.Address,
                     asdu_address: int,
                     period: float,
                     tz: datetime.tzinfo | None = None
                     ) -> None:
    station = Station(asdu_address, tz)
    srv = await iec104.listen(station.serve, addr)
    try:
        for a in srv.addresses:
            print(f'listening on {a.host}:{a.port}', flush=True)
        await station.change(period)

    finally:
        await srv.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='IEC 60870-5-104 outstation simulator (slave)',
        epilog=POINT_MAP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--asdu-address', type=asdu_address_arg,
                        default=DEFAULT_ASDU_ADDRESS, metavar='CA',
                        help=f'common address (1..65534), default '
                             f'{DEFAULT_ASDU_ADDRESS}')
    parser.add_argument('--period', type=period_arg, default=DEFAULT_PERIOD,
                        metavar='SECONDS',
                        help=f'seconds between changes, default '
                             f'{DEFAULT_PERIOD}')
    parser.add_argument('--utc', action='store_true',
                        help='time tags (CP56Time2a) in UTC; default: in '
                             'the local time zone (TZ)')
    parser.add_argument('port', nargs='?', type=cli.port,
                        default=DEFAULT_PORT, metavar='PORT',
                        help=f'default {DEFAULT_PORT}; 0 picks a free port')
    cli.add_verbose(parser, 'every APDU sent and received (decoded)')
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose, ['hat.drivers.iec104.trace'])

    return cli.run(lambda: async_main(tcp.Address(args.host, args.port),
                                      args.asdu_address, args.period,
                                      datetime.timezone.utc if args.utc
                                      else None))


def asdu_address_arg(text: str) -> int:
    """Argument type of a common address: 1..65534"""
    try:
        value = int(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid common address {text!r}: not an integer') from None

    if not 1 <= value <= 0xFFFE:
        raise argparse.ArgumentTypeError(
            f'invalid common address {value}: must be 1..65534')
    return value


def period_arg(text: str) -> float:
    """Argument type of the change period: seconds > 0"""
    try:
        value = float(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid period {text!r}: not a number') from None

    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f'invalid period {value}: must be more than 0 seconds')
    return value


if __name__ == '__main__':
    cli.main(main)
