"""Benchmark of MMS reads: `hat.drivers.mms` against hat-drivers 0.6.23 and
libiec61850

Rows (every one a rate, higher is better):

* ``read`` - a client reads one floating-point variable (MMS Read,
  listOfVariable with one domain-specific name, answered with one
  FloatingPointData), one request at a time: reads/s
* ``read-16`` - the same reads with 16 in flight (16 tasks, each one read
  at a time, on one association): reads/s
* ``list-500`` - a client reads a named variable list of 500 floats (MMS
  Read by variableListName, answered with 500 FloatingPointData), one at
  a time: list reads/s

Implementations:

* ``ours`` - this repository's `hat.drivers.mms` client and server (from
  src_py), both in one process on one event loop, through the 0.6.23 API
  it keeps; the only difference in the workload is that ours negotiates 16
  outstanding requests both ways (``max_serv_outstanding_calling`` and
  ``_called``, default 5: the client queues requests beyond the
  negotiated number, 0.6.23 sends them all whatever it negotiated), and
  the worker checks that 16 were agreed. (Its column says ``todo`` in a
  tree without the association layer.) Rows of ours only go where
  ``OURS_ONLY_ROWS`` is marked.
* ``0.6.23`` - the released hat-drivers 0.6.23 mms client and server,
  installed from PyPI into their own virtual environment
  ``build/bench-mms-venv`` (created on first use; never a dependency of
  this project), running the same workload code
* ``libiec61850`` - the C stack's ceiling: a libiec61850 client against a
  libiec61850 ``IedServer`` through the Python bindings pyiec61850-ng
  (test-only, GPLv3), both in one process (the server on libiec61850's
  threads, the client's blocking calls in the worker's main thread), with
  the model of ``test_pytest/iec61850_peer.py`` (``bulk_floats=500``):
  ``read`` is ``IedConnection_readObject`` of ``TESTLD0/GGIO1.AnIn1.mag.f``
  [MX], ``list-500`` is ``MmsConnection_readNamedVariableListValues`` of
  ``TESTBULK/LLN0$Floats``. ``read-16`` is not measured for it (its
  asynchronous API needs callbacks from libiec61850's thread into Python,
  which would measure the bindings, not the C stack).

The hat server's request callback answers from a dict of prebuilt
responses keyed by the requested name (the cost of a real data model is
left out, as it is for libiec61850's in-memory model).

Methodology (as ``bench_iec104.py``): every measurement runs in a fresh
subprocess (``--worker``) with both ends on 127.0.0.1 in one process,
after one discarded warm-up of 1/10 of the size; rounds are interleaved
(round r runs every implementation, so load from elsewhere on the machine
hits them alike) and the median of ``--rounds`` rounds is reported. Each
measurement opens a new association (not timed), then times ``--count``
reads (``--lists`` list reads) with `time.perf_counter`, then closes it.
Ratio = ours / 0.6.23; targets (issue 16): read >= 4, read-16 >= 10,
list-500 >= 8.

Run::

    python benchmarks/bench_mms.py [--uvloop] [--quick] [--rounds N]
        [--impls ours,0.6.23,libiec61850] [--only read,read-16,list-500]
        [--count N] [--lists N] [--check] [--verbose]

"""

import argparse
import asyncio
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


HOST = '127.0.0.1'
IMPLS = ['ours', '0.6.23', 'libiec61850']
ROWS = ['read', 'read-16', 'list-500']
# OURS_ONLY_ROWS: rows measured for ours only (e.g. 'codec-read' for the
# BER codec alone); add them to ROWS, UNITS and hat_worker, and list them
# here so that the other implementations skip them
OURS_ONLY_ROWS = []
UNITS = {'read': 'reads/s', 'read-16': 'reads/s', 'list-500': 'lists/s'}
TARGETS = {'read': 4, 'read-16': 10, 'list-500': 8}  # ours / 0.6.23
IN_FLIGHT = 16
LIST_SIZE = 500
RELEASED = 'hat-drivers==0.6.23'
TODO = 'todo'  # worker answer: the implementation is not built yet

root_dir = Path(__file__).resolve().parent.parent
src_py_dir = root_dir / 'src_py'
test_dir = root_dir / 'test_pytest'
venv_dir = root_dir / 'build' / 'bench-mms-venv'


# --- hat.drivers.mms (ours and 0.6.23: the same public API) -----------------

def hat_worker(rows, count, lists, rounds, uvloop, impl):
    if importlib.util.find_spec('hat.drivers.mms') is None:
        return {row: TODO for row in rows}

    from hat import aio
    from hat import util
    from hat.drivers import mms

    if not hasattr(mms, 'connect'):
        # OURS: the association (hat.drivers.mms.connection) not built yet
        return {row: TODO for row in rows}

    # ours negotiates the outstanding requests (Initiate
    # maxServOutstandingCalling/Called, default 5) and queues the rest:
    # read-16 asks for IN_FLIGHT both ways; 0.6.23 sends every request at
    # once whatever it negotiated (and has no such arguments)
    outstanding = ({'max_serv_outstanding_calling': IN_FLIGHT,
                    'max_serv_outstanding_called': IN_FLIGHT}
                   if impl == 'ours' else {})

    float_name = mms.DomainSpecificObjectName(domain_id='TESTLD0',
                                              item_id='GGIO1$MX$AnIn1$mag$f')
    list_name = mms.DomainSpecificObjectName(domain_id='TESTBULK',
                                             item_id='LLN0$Floats')
    read_float = mms.ReadRequest(
        value=[mms.NameVariableSpecification(name=float_name)])
    read_list = mms.ReadRequest(value=list_name)
    responses = {
        float_name: mms.ReadResponse(
            results=[mms.FloatingPointData(value=1.5)]),
        list_name: mms.ReadResponse(
            results=[mms.FloatingPointData(value=float(i))
                     for i in range(LIST_SIZE)])}
    not_found = mms.ErrorResponse(
        error_class=mms.ErrorClass.ACCESS, value=2)  # object-non-existent

    def on_request(conn, request):
        if isinstance(request, mms.ReadRequest):
            value = request.value
            name = (value[0].name if isinstance(value, list) and
                    len(value) == 1 else value)
            response = responses.get(name)
            if response is not None:
                return response
        return not_found

    def on_client_request(conn, request):
        return not_found

    async def pair():
        # a free port is picked first (as bench_iec104.py does for 0.6.23)
        port = util.get_unused_tcp_port()
        conn_queue = aio.Queue()
        srv = await mms.listen(conn_queue.put_nowait, on_request,
                               mms.Address(HOST, port), **outstanding)
        client = await mms.connect(on_client_request,
                                   mms.Address(HOST, port), **outstanding)
        server_conn = await conn_queue.get()
        if impl == 'ours' and min(client.max_serv_outstanding_calling,
                                  server_conn.max_serv_outstanding_called
                                  ) < IN_FLIGHT:
            raise RuntimeError(f'fewer than {IN_FLIGHT} requests '
                               'outstanding negotiated')
        return srv, client, server_conn

    async def close(srv, client, server_conn):
        await client.async_close()
        await server_conn.async_close()
        await srv.async_close()

    def check(response, size):
        if not (isinstance(response, mms.ReadResponse) and
                len(response.results) == size):
            raise RuntimeError(f'unexpected response {response!r:.200}')

    async def read(n, in_flight):
        srv, client, server_conn = await pair()
        try:
            async def reads(k):
                for _ in range(k):
                    check(await client.send_confirmed(read_float), 1)

            shares = [n // in_flight + (1 if i < n % in_flight else 0)
                      for i in range(in_flight)]
            gc.collect()
            t = time.perf_counter()
            if in_flight == 1:
                await reads(n)
            else:
                await asyncio.gather(*(reads(k) for k in shares))
            return n / (time.perf_counter() - t)

        finally:
            await close(srv, client, server_conn)

    async def read_lists(n):
        srv, client, server_conn = await pair()
        try:
            gc.collect()
            t = time.perf_counter()
            for _ in range(n):
                check(await client.send_confirmed(read_list), LIST_SIZE)
            return n / (time.perf_counter() - t)

        finally:
            await close(srv, client, server_conn)

    async def main():
        results = {}
        for row in rows:
            fn, n = {'read': (lambda n: read(n, 1), count),
                     'read-16': (lambda n: read(n, IN_FLIGHT), count),
                     'list-500': (read_lists, lists)}[row]
            await fn(max(n // 10, 1))  # warm-up
            results[row] = [await fn(n) for _ in range(rounds)]
        return results

    if uvloop:
        import uvloop as uvloop_module
        return uvloop_module.run(main())
    return asyncio.run(main())


# --- libiec61850: libiec61850 client -> libiec61850 server ------------------

def libiec61850_worker(rows, count, lists, rounds, uvloop):
    sys.path.insert(0, str(test_dir))
    try:
        import iec61850_client
        import iec61850_peer
        import pyiec61850.pyiec61850  # noqa: F401

    except ImportError as e:
        sys.exit(f'libiec61850 not available: {e} '
                 f'({"pip install pyiec61850-ng"})')

    def run(row, n):
        with iec61850_peer.Iec61850Server(bulk_floats=LIST_SIZE) as server:
            client = iec61850_client.Client(server.host, server.port)
            try:
                client.op_connect()
                if row == 'read':
                    result = client.op_bench_read(iec61850_peer.AN_IN, 'MX',
                                                  n)
                else:
                    result = client.op_bench_dataset(
                        iec61850_peer.BULK_DATA_SET, n)
                    if result['size'] != LIST_SIZE:
                        raise RuntimeError(f'list of {result["size"]}')
                client.op_release()
                return result['per_second']

            finally:
                client.close()

    results = {}
    for row in rows:
        if row in OURS_ONLY_ROWS:
            continue
        if row == 'read-16':
            results[row] = None  # not measured (module docstring)
            continue
        n = count if row == 'read' else lists
        run(row, max(n // 10, 1))  # warm-up
        results[row] = [run(row, n) for _ in range(rounds)]
    return results


# --- driver -----------------------------------------------------------------

def ensure_venv(uvloop):
    """Interpreter of build/bench-mms-venv with hat-drivers 0.6.23 (created
    and installed on first use)"""
    bin_dir = venv_dir / ('Scripts' if sys.platform == 'win32' else 'bin')
    python = bin_dir / ('python.exe' if sys.platform == 'win32'
                        else 'python')
    packages = [RELEASED, *(['uvloop'] if uvloop else [])]
    check = ('import importlib.metadata as m; '
             'assert m.version("hat-drivers") == "0.6.23"; '
             'import hat.drivers.mms' +
             ('; import uvloop' if uvloop else ''))

    # without PYTHONPATH (doit sets it to src_py, whose egg-info would
    # shadow the installed 0.6.23's version), as the worker runs
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    if python.exists() and subprocess.run(
            [str(python), '-c', check], capture_output=True,
            env=env).returncode == 0:
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
            if impl == 'ours' or row not in OURS_ONLY_ROWS]
    if not only:
        return {}
    cmd = [python, str(Path(__file__).resolve()), '--worker', impl,
           '--only', ','.join(only), '--count', str(args.count),
           '--lists', str(args.lists), '--rounds', str(args.rounds),
           *(['--uvloop'] if args.uvloop else [])]
    proc = subprocess.run(cmd, env=env, cwd=str(root_dir),
                          stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt(value):
    if value is None:
        return 'n/a'
    if value == TODO:
        return TODO
    return f'{value:,.0f}' if value >= 100 else f'{value:,.1f}'


def main():
    args = parse_args()

    if args.worker:
        if args.worker == 'libiec61850':
            results = libiec61850_worker(args.only, args.count, args.lists,
                                         args.rounds, args.uvloop)
        else:
            results = hat_worker(args.only, args.count, args.lists,
                                 args.rounds, args.uvloop, args.worker)
        print(json.dumps(results))
        return

    loop_name = 'uvloop' if args.uvloop else 'asyncio'
    print(f'Python {platform.python_version()}, {loop_name} event loop, '
          f'{args.count} reads, {args.lists} reads of a list of '
          f'{LIST_SIZE} floats, {args.rounds} rounds (median)', flush=True)

    values = {}
    todo = set()
    worker_args = argparse.Namespace(**{**vars(args), 'rounds': 1})
    t = time.monotonic()
    for r in range(args.rounds):
        for impl in args.impls:
            if impl in todo:
                continue
            results = run_worker(impl, worker_args)
            if results is None:
                print(f'{impl}: failed (see above)', flush=True)
                continue
            for row, row_values in results.items():
                if row_values == TODO:
                    todo.add(impl)
                elif row_values is not None:
                    values.setdefault((impl, row), []).extend(row_values)
        print(f'round {r + 1} of {args.rounds} done '
              f'({time.monotonic() - t:.1f} s)', flush=True)

    medians = {key: statistics.median(row_values)
               for key, row_values in values.items()}
    if args.verbose:
        for (impl, row), row_values in values.items():
            print(f'  {impl} {row}: ' +
                  ', '.join(fmt(value) for value in row_values))

    print()
    impls = [impl for impl in IMPLS if impl in args.impls]
    ratio_title = 'ours/0.6.23'
    print(f'{"row":<11}{"unit":<9}' +
          ''.join(f'{impl:>13}' for impl in impls) +
          f'{ratio_title:>13}{"target":>8}')
    ok = True
    for row in args.only:
        line = f'{row:<11}{UNITS[row]:<9}'
        for impl in impls:
            value = TODO if impl in todo else medians.get((impl, row))
            line += f'{fmt(value):>13}'
        ours = medians.get(('ours', row))
        released = medians.get(('0.6.23', row))
        target = TARGETS.get(row)
        if ours and released:
            ratio = ours / released
            line += f'{ratio:>12.1f}x'
            if target and ratio < target:
                ok = False
        else:
            line += f'{"n/a":>13}'
            if 'ours' in args.impls:
                ok = False
        line += f'{f"{target}x" if target else "":>8}'
        print(line)
    print('\nratio: how many times faster ours is than 0.6.23 (target: '
          'the last column)')
    if 'ours' in todo:
        print('ours: todo - hat.drivers.mms is not built yet')
    if 'libiec61850' in args.impls:
        print('libiec61850: libiec61850 client -> libiec61850 server '
              '(pyiec61850-ng, one process; read-16 not measured)')

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
                   help='reads of one float per round (default 3000)')
    p.add_argument('--lists', type=int, default=None,
                   help=f'reads of the {LIST_SIZE}-float list per round '
                        f'(default 150)')
    p.add_argument('--impls', type=subset(IMPLS), default=IMPLS,
                   help='implementations (default: all)')
    p.add_argument('--only', type=subset(ROWS), default=ROWS,
                   help='rows (default: all)')
    p.add_argument('--quick', action='store_true',
                   help='smoke test: 1/10 sizes, 1 round')
    p.add_argument('--check', action='store_true',
                   help='exit 1 if ours misses a target (or is not built)')
    p.add_argument('--verbose', action='store_true', help='print all rounds')
    p.add_argument('--worker', choices=IMPLS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.count is None:
        args.count = 3000 // (10 if args.quick else 1)
    if args.lists is None:
        args.lists = 150 // (10 if args.quick else 1)
    if args.quick and not args.worker:
        args.rounds = 1
    for name in ('count', 'lists', 'rounds'):
        if getattr(args, name) < 1:
            p.error(f'--{name} must be at least 1')
    return args


if __name__ == '__main__':
    main()
