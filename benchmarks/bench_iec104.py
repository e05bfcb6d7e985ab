"""Benchmark of `hat.drivers.iec104` against hat-drivers 0.6.23 and c104.

Rows:

* ``spontaneous`` - a controlled station (slave) sends ``--count``
  spontaneous M_ME_NC_1 ASDUs (short float, one object per ASDU) to a
  controlling station (master) as fast as the k/w windows allow (default
  k = 12, w = 8, t2 = 10 s); ASDU/s from the first send until the master
  has received the last one
* ``interrogation`` - the master sends a station interrogation (C_IC_NA_1);
  the slave answers ACT_CON, ``--points`` M_ME_NC_1 objects with cause
  INTERROGATED_STATION and ACT_TERM; seconds from the request until the
  master has received ACT_TERM
* ``trace-off`` (ours only) - cost of the communication log
  ``hat.drivers.iec104.trace`` while it is off, as a share of the time of
  one ASDU of the ``spontaneous`` row: the checks of its level made per
  ASDU (counted in a run of that workload) times the time of one check
  (`timeit`, logger at INFO) times the ASDU/s of that run, in percent
* ``trace-on`` (ours only) - the ``spontaneous`` workload with the
  communication log on (DEBUG, records to a `logging.NullHandler`):
  ASDU/s while every APDU is decoded and formatted

Implementations:

* ``ours`` - this repository's `hat.drivers.iec104` (from src_py)
* ``0.6.23`` - the released hat-drivers 0.6.23 iec104, installed from PyPI
  into its own virtual environment ``build/bench-venv`` (created on first
  use; never a dependency of this project); the same workload code runs
  there, both APIs being the same
* ``c104`` - lib60870-C through its Python bindings c104: a c104 server
  sends to a c104 client (lib60870 on both ends; the client counts the
  objects in a Python callback). c104's server queue holds 100 spontaneous
  ASDUs and drops the oldest when full, so the sender keeps at most 100
  ASDUs outstanding (sent, not yet counted by the client); its threads run
  every 50 ms (``tick_rate_ms``, its minimum). Its interrogation answer
  packs several objects per ASDU (lib60870's choice; ours and 0.6.23 send
  one object per ASDU) and it queues the whole answer at once into a
  queue that holds about 115 ASDUs, dropping the rest (about 5400 objects
  arrive of 10000), so its points are spread over stations of 5000
  points, interrogated one after the other.

Methodology: every measurement runs in a fresh subprocess (``--worker``)
with both ends on 127.0.0.1 in one process (hat: one event loop; c104: its
own threads), after one discarded warm-up round (1/10 size); rounds are
interleaved (round r runs every implementation, so load from elsewhere on
the machine hits them alike) and the median of ``--rounds`` rounds is
reported. Messages are built before the
timed section; encoding and decoding are timed. Time is
`time.perf_counter`. Ratio = ours / 0.6.23 (target: spontaneous >= 10).

Run::

    python benchmarks/bench_iec104.py [--uvloop] [--quick] [--rounds N]
        [--impls ours,0.6.23,c104] [--count N] [--points N] [--check]

"""

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


HOST = '127.0.0.1'
IMPLS = ['ours', '0.6.23', 'c104']
ROWS = ['spontaneous', 'interrogation', 'trace-off', 'trace-on']
TRACE_ROWS = ['trace-off', 'trace-on']  # ours only
UNITS = {'spontaneous': 'ASDU/s', 'interrogation': 's', 'trace-off': '%',
         'trace-on': 'ASDU/s'}
TRACE_LOGGER = 'hat.drivers.iec104.trace'
TARGET = 10  # minimal ours / 0.6.23 ratio of spontaneous ASDU/s
RELEASED = 'hat-drivers==0.6.23'
C104_QUEUE = 100  # c104 server queue of spontaneous ASDUs
C104_TICK_MS = 50  # c104 thread period (its minimum)
C104_STATION_POINTS = 5000  # see c104_worker

root_dir = Path(__file__).resolve().parent.parent
src_py_dir = root_dir / 'src_py'
venv_dir = root_dir / 'build' / 'bench-venv'


# --- hat.drivers.iec104 (ours and 0.6.23: the same public API) --------------

def hat_worker(rows, count, points, rounds, uvloop):
    from hat import aio
    from hat import util
    from hat.drivers import iec104
    from hat.drivers import tcp

    quality = iec104.MeasurementQuality(invalid=False, not_topical=False,
                                        substituted=False, blocked=False,
                                        overflow=False)

    def data_msgs(n, cause):
        return [iec104.DataMsg(is_test=False,
                               originator_address=0,
                               asdu_address=1,
                               io_address=i + 1,
                               data=iec104.FloatingData(
                                   value=iec104.FloatingValue(float(i)),
                                   quality=quality),
                               time=None,
                               cause=cause)
                for i in range(n)]

    gi = iec104.InterrogationMsg(is_test=False,
                                 originator_address=0,
                                 asdu_address=1,
                                 request=20,
                                 is_negative_confirm=False,
                                 cause=iec104.CommandReqCause.ACTIVATION)
    act_con = gi._replace(
        cause=iec104.CommandResCause.ACTIVATION_CONFIRMATION)
    act_term = gi._replace(
        cause=iec104.CommandResCause.ACTIVATION_TERMINATION)

    async def pair():
        # 0.6.23's Server has no `addresses`: a free port is picked first
        port = util.get_unused_tcp_port()
        conn_queue = aio.Queue()
        srv = await iec104.listen(conn_queue.put_nowait,
                                  tcp.Address(HOST, port))
        master = await iec104.connect(tcp.Address(HOST, port))
        slave = await conn_queue.get()
        return srv, master, slave

    async def close(srv, master, slave):
        await master.async_close()
        await slave.async_close()
        await srv.async_close()

    async def spontaneous(n):
        srv, master, slave = await pair()
        try:
            msgs = data_msgs(n, iec104.DataResCause.SPONTANEOUS)
            gc.collect()
            t = time.perf_counter()
            slave.send(msgs)
            received = 0
            while received < n:
                received += len(await master.receive())
            dt = time.perf_counter() - t
            assert received == n
            return n / dt

        finally:
            await close(srv, master, slave)

    async def interrogation(n):
        srv, master, slave = await pair()
        response = [act_con,
                    *data_msgs(n, iec104.DataResCause.INTERROGATED_STATION),
                    act_term]

        async def serve():
            for msg in await slave.receive():
                assert msg == gi
                slave.send(response)

        task = asyncio.ensure_future(serve())
        try:
            gc.collect()
            t = time.perf_counter()
            master.send([gi])
            received = 0
            while True:
                msgs = await master.receive()
                received += len(msgs)
                if msgs and msgs[-1] == act_term:
                    break
            dt = time.perf_counter() - t
            assert received == n + 2
            await task
            return dt

        finally:
            task.cancel()
            await close(srv, master, slave)

    async def trace_off(n):
        # share (%) of an ASDU's time spent checking the log's level
        import logging
        import timeit
        from hat.drivers.iec104 import apci, trace

        logger = logging.getLogger(TRACE_LOGGER)
        logger.setLevel(logging.INFO)
        cache = apci._trace_cache

        class Counting(dict):
            checks = 0

            def get(self, *args):
                Counting.checks += 1
                return super().get(*args)

        apci._trace_cache = Counting()
        try:
            await spontaneous(n)
        finally:
            apci._trace_cache = cache
        checks_per_asdu = Counting.checks / n

        rate = await spontaneous(n)
        debug = logging.DEBUG
        is_enabled = trace.is_enabled
        trace.is_enabled()  # fill the logger's cache
        number = 1_000_000
        check = min(timeit.repeat(
            lambda: cache.get(debug, True) and is_enabled(),
            number=number, repeat=3)) / number
        return 100 * checks_per_asdu * check * rate

    async def trace_on(n):
        import logging

        logger = logging.getLogger(TRACE_LOGGER)
        handler = logging.NullHandler()
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        try:
            return await spontaneous(n)
        finally:
            logger.setLevel(logging.NOTSET)
            logger.propagate = True
            logger.removeHandler(handler)

    async def main():
        results = {}
        for row in rows:
            fn, n = {'spontaneous': (spontaneous, count),
                     'interrogation': (interrogation, points),
                     'trace-off': (trace_off, count),
                     'trace-on': (trace_on, count)}[row]
            await fn(max(n // 10, 1))  # warm-up
            results[row] = [await fn(n) for _ in range(rounds)]
        return results

    if uvloop:
        import uvloop as uvloop_module
        return uvloop_module.run(main())
    return asyncio.run(main())


# --- c104 (lib60870-C): c104 server -> c104 client --------------------------

def c104_worker(rows, count, points, rounds, uvloop):
    try:
        import c104

    except ImportError as e:
        sys.exit(f'c104 not available: {e} (pip install c104)')

    from hat import util

    def run(n, row):
        port = util.get_unused_tcp_port()
        server = c104.Server(ip=HOST, port=port, tick_rate_ms=C104_TICK_MS)
        station = server.add_station(common_address=1)
        if row == 'spontaneous':
            sent_point = station.add_point(io_address=1,
                                           type=c104.Type.M_ME_NC_1)
        else:
            # c104 2.2.1 ends its answer to an interrogation after about
            # 5400 objects (115 ASDUs): the points are spread over
            # stations of at most C104_STATION_POINTS, interrogated in turn
            stations = [station]
            for i in range(n):
                if i and i % C104_STATION_POINTS == 0:
                    stations.append(server.add_station(
                        common_address=len(stations) + 1))
                point = stations[-1].add_point(io_address=i + 1,
                                               type=c104.Type.M_ME_NC_1)
                point.value = float(i)

        client = c104.Client(tick_rate_ms=C104_TICK_MS)
        connection = client.add_connection(ip=HOST, port=port,
                                           init=c104.Init.MUTED)
        client_stations = [connection.add_station(common_address=1)]
        client_station = client_stations[0]
        cond = threading.Condition()
        received = [0]

        def on_point(point: c104.Point,
                     previous_info: c104.Information,
                     message: c104.IncomingMessage) -> c104.ResponseState:
            with cond:
                received[0] += 1
                cond.notify()
            return c104.ResponseState.NONE

        if row == 'spontaneous':
            client_point = client_station.add_point(io_address=1,
                                                    type=c104.Type.M_ME_NC_1)
            client_point.on_receive(callable=on_point)
        else:
            for i in range(n):
                if i and i % C104_STATION_POINTS == 0:
                    client_stations.append(connection.add_station(
                        common_address=len(client_stations) + 1))
                client_point = client_stations[-1].add_point(
                    io_address=i + 1, type=c104.Type.M_ME_NC_1)
                client_point.on_receive(callable=on_point)

        def wait_received(minimum, timeout=60):
            with cond:
                if not cond.wait_for(lambda: received[0] >= minimum,
                                     timeout):
                    raise TimeoutError(f'c104: {received[0]} of {minimum} '
                                       f'received')

        server.start()
        client.start()
        try:
            # connected muted, then STARTDT from here: c104 2.2.1's own
            # STARTDT task (Init.NONE) is sometimes never run
            def wait_state(state):
                deadline = time.monotonic() + 10
                while connection.state != state:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f'c104 client not {state}')
                    time.sleep(0.001)

            wait_state(c104.ConnectionState.OPEN_MUTED)
            if not connection.unmute():
                raise RuntimeError('c104 unmute failed')
            wait_state(c104.ConnectionState.OPEN)

            gc.collect()
            t = time.perf_counter()
            if row == 'spontaneous':
                for i in range(n):
                    if i - received[0] >= C104_QUEUE:
                        wait_received(i - C104_QUEUE + 1)
                    sent_point.value = float(i)
                    if not sent_point.transmit(cause=c104.Cot.SPONTANEOUS):
                        raise RuntimeError('c104 transmit failed')
                wait_received(n)
                return n / (time.perf_counter() - t)

            for i, client_station in enumerate(client_stations):
                if not connection.interrogation(
                        common_address=client_station.common_address,
                        wait_for_response=False):
                    raise RuntimeError('c104 interrogation failed')
                wait_received(min((i + 1) * C104_STATION_POINTS, n))
            wait_received(n)
            return time.perf_counter() - t

        finally:
            client.stop()
            server.stop()

    results = {}
    for row in rows:
        if row in TRACE_ROWS:
            continue
        n = count if row == 'spontaneous' else points
        run(max(n // 10, 1), row)  # warm-up
        results[row] = [run(n, row) for _ in range(rounds)]
    return results


# --- driver -----------------------------------------------------------------

def ensure_venv(uvloop):
    """Interpreter of build/bench-venv with hat-drivers 0.6.23 (created and
    installed on first use)"""
    bin_dir = venv_dir / ('Scripts' if sys.platform == 'win32' else 'bin')
    python = bin_dir / ('python.exe' if sys.platform == 'win32'
                        else 'python')
    packages = [RELEASED, *(['uvloop'] if uvloop else [])]
    check = ('import importlib.metadata as m; '
             'assert m.version("hat-drivers") == "0.6.23"' +
             ('; import uvloop' if uvloop else ''))

    if python.exists() and subprocess.run(
            [str(python), '-c', check], capture_output=True,
            env={k: v for k, v in os.environ.items()
                 if k != 'PYTHONPATH'}).returncode == 0:
        return python

    print(f'installing {" ".join(packages)} into {venv_dir}', flush=True)
    if not python.exists():
        subprocess.run([sys.executable, '-m', 'venv', str(venv_dir)],
                       check=True)
    proc = subprocess.run([str(python), '-m', 'pip', 'install', '-q',
                           '--disable-pip-version-check', *packages],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise RuntimeError(f'installing {RELEASED} failed')
    return python


def run_worker(impl, args):
    if impl == 'ours':
        python = sys.executable
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(src_py_dir), *filter(None, [os.environ.get('PYTHONPATH')])]))
    elif impl == '0.6.23':
        try:
            python = str(ensure_venv(args.uvloop))

        except (OSError, RuntimeError, subprocess.CalledProcessError) as e:
            print(f'0.6.23 not available: {e}', file=sys.stderr, flush=True)
            return None
        env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    else:
        python = sys.executable
        env = dict(os.environ)

    only = [row for row in args.only
            if impl == 'ours' or row not in TRACE_ROWS]
    if not only:
        return {}
    cmd = [python, str(Path(__file__).resolve()), '--worker', impl,
           '--only', ','.join(only), '--count', str(args.count),
           '--points', str(args.points), '--rounds', str(args.rounds),
           *(['--uvloop'] if args.uvloop else [])]
    proc = subprocess.run(cmd, env=env, cwd=str(root_dir),
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value, row):
    if value is None:
        return 'n/a'
    if row in ('spontaneous', 'trace-on'):
        return f'{value:,.0f}'
    return f'{value:.3f}'


def main():
    args = parse_args()

    if args.worker:
        worker = c104_worker if args.worker == 'c104' else hat_worker
        results = worker(args.only, args.count, args.points, args.rounds,
                         args.uvloop)
        print(json.dumps(results))
        return

    loop_name = 'uvloop' if args.uvloop else 'asyncio'
    print(f'Python {platform.python_version()}, {loop_name} event loop, '
          f'{args.count} spontaneous ASDUs, interrogation of '
          f'{args.points} points, {args.rounds} rounds (median)',
          flush=True)

    # rounds interleaved (round r runs every implementation), each in a
    # fresh worker process with its own warm-up: load from elsewhere on
    # the machine hits every implementation alike
    values = {}
    worker_args = argparse.Namespace(**{**vars(args), 'rounds': 1})
    t = time.monotonic()
    for r in range(args.rounds):
        for impl in args.impls:
            results = run_worker(impl, worker_args)
            if results is None:
                print(f'{impl}: failed (see above)', flush=True)
                continue
            for row, row_values in results.items():
                values.setdefault((impl, row), []).extend(row_values)
        print(f'round {r + 1} of {args.rounds} done '
              f'({time.monotonic() - t:.1f} s)', flush=True)

    medians = {key: statistics.median(row_values)
               for key, row_values in values.items()}
    if args.verbose:
        for (impl, row), row_values in values.items():
            print(f'  {impl} {row}: ' +
                  ', '.join(fmt(value, row) for value in row_values))

    print()
    header = f'{"row":<15}{"unit":<8}' + ''.join(
        f'{impl:>12}' for impl in IMPLS if impl in args.impls)
    ratio_title = 'ours/0.6.23'
    print(header + f'{ratio_title:>14}')
    ok = True
    for row in args.only:
        line = f'{row:<15}{UNITS[row]:<8}'
        for impl in IMPLS:
            if impl in args.impls:
                line += f'{fmt(medians.get((impl, row)), row):>12}'
        ours = medians.get(('ours', row))
        released = medians.get(('0.6.23', row))
        if ours and released and row not in TRACE_ROWS:
            # higher is better: ASDU/s as is, seconds inverted
            ratio = (ours / released if row == 'spontaneous'
                     else released / ours)
            line += f'{ratio:>13.1f}x'
            if row == 'spontaneous' and ratio < TARGET:
                ok = False
        else:
            line += f'{"n/a":>14}'
        print(line)
    print(f'\nratio: how many times faster ours is than 0.6.23; target: '
          f'spontaneous >= {TARGET}x')
    if ('ours', 'trace-off') in medians:
        print(f'trace-off: the communication log off costs '
              f'{medians["ours", "trace-off"]:.3f} % of the time of an '
              f'ASDU (checks of its level per ASDU x time of a check)')
    if ('ours', 'trace-on') in medians and ('ours', 'spontaneous') in medians:
        share = medians['ours', 'trace-on'] / medians['ours', 'spontaneous']
        print(f'trace-on: with the communication log on, {share:.2f} x the '
              f'spontaneous ASDU/s')
    print('c104: c104 server -> c104 client (lib60870-C on both ends, at '
          f'most {C104_QUEUE} spontaneous ASDUs outstanding)')

    if args.check and not ok:
        sys.exit(1)


def parse_args():
    def subset(choices):
        def parse(value):
            items = [i for i in value.split(',') if i]
            if not items or any(i not in choices for i in items):
                raise argparse.ArgumentTypeError(
                    f'choose from {",".join(choices)}')
            return items
        return parse

    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--uvloop', action='store_true', help='run on uvloop')
    p.add_argument('--rounds', type=int, default=3, help='measured rounds')
    p.add_argument('--count', type=int, default=None,
                   help='spontaneous ASDUs per round (default 20000)')
    p.add_argument('--points', type=int, default=10_000,
                   help='points of the interrogation (default 10000)')
    p.add_argument('--impls', type=subset(IMPLS), default=IMPLS,
                   help='implementations (default: all)')
    p.add_argument('--only', type=subset(ROWS), default=ROWS,
                   help='rows (default: all)')
    p.add_argument('--quick', action='store_true',
                   help='smoke test: 1/10 sizes, 1 round')
    p.add_argument('--check', action='store_true',
                   help='exit 1 if ours is not 10x 0.6.23 (spontaneous)')
    p.add_argument('--verbose', action='store_true', help='print all rounds')
    p.add_argument('--worker', choices=IMPLS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.count is None:
        args.count = 20_000
        if args.quick:
            args.count //= 10
    if args.quick and not args.worker:
        args.points //= 10
        args.rounds = 1
    for name in ('count', 'points', 'rounds'):
        if getattr(args, name) < 1:
            p.error(f'--{name} must be at least 1')
    return args


if __name__ == '__main__':
    main()
