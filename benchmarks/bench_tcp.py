"""Benchmark of `hat.drivers.tcp` against asyncio streams and a bare
`asyncio.Protocol` reference.

Implementations (same message sizes, same workload shape):

* ``protocol`` - the ceiling, written here: callback-style `asyncio.Protocol`
  whose `data_received` processes bytes directly, ``transport.write`` per
  message, drain via pause_writing/resume_writing futures
* ``streams`` - `asyncio.start_server` / `asyncio.open_connection`
* ``hat`` - `hat.drivers.tcp` (listen / connect / write / drain / read /
  readexactly / async_close)

Workloads: pingpong (100 B request/response, one connection), pipeline
(100 B writes, drain every 1000, peer reads each message), bulk (64 KiB
write+drain, peer read(65536)), churn (sequential connect/accept/close,
server stays open), fanin (many connections doing pingpong concurrently),
memory (RSS per idle connection pair).

Methodology:

* one process, one event loop: each implementation's server and client run
  in the same loop on 127.0.0.1 (listening port 0, real port read back)
* each row runs one discarded warm-up round, then ``--rounds`` rounds,
  interleaved (round r runs protocol, streams, hat); the median is reported
* connections are opened and closed outside the timed section (except in
  churn, which times exactly that); ``gc.collect()`` runs right before every
  timed section; time is `time.perf_counter`
* every implementation uses its default settings (buffer limits, water
  marks) and only its public API; streams and hat run the same workload
  code through bound methods (no wrapper calls in the hot path)
* memory: for every implementation and round a fresh subprocess (so other
  rows cannot fragment its heap) opens a few warm-up pairs, measures RSS
  from /proc/self/statm after ``gc.collect()``, opens N idle pairs (no read
  pending; the objects the API returned are kept in lists), collects again
  and reports RSS delta / N
* ratio = impl / protocol; higher is better, except for memory

Run::

    PYTHONPATH=src_py python benchmarks/bench_tcp.py [--uvloop] [--quick]
        [--rounds N] [--only ROW[,ROW]] [--impls IMPL[,IMPL]] [--check]
        [--verbose]

"""

import argparse
import asyncio
import collections
import gc
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

from hat.drivers import tcp


HOST = '127.0.0.1'
MSG = 100
BACKLOG = 4096      # protocol, streams (as hat.drivers.tcp default)
IMPLS = ['protocol', 'streams', 'hat']
ROWS = ['pingpong', 'pipeline', 'bulk', 'churn', 'fanin', 'memory']
UNITS = {'pingpong': 'rt/s', 'pipeline': 'msg/s', 'bulk': 'MiB/s',
         'churn': 'conn/s', 'fanin': 'rt/s', 'memory': 'KiB/pair'}
# minimal hat/protocol ratio; memory: maximal hat KiB per pair
TARGETS = {'pingpong': 0.75, 'pipeline': 1.0, 'bulk': 0.90, 'churn': 0.85,
           'fanin': 0.85, 'memory': 8.0}
FULL = dict(pingpong=20_000, pipeline=100_000, drain_every=1000,
            bulk=256 * 2**20, chunk=65536, churn=1000,
            fanin_conns=200, fanin_trips=50, pairs=3000)
PASS_FAIL = {True: 'PASS', False: 'FAIL', None: 'n/a'}
QUICK = dict(FULL, pingpong=2000, pipeline=10_000, bulk=32 * 2**20,
             churn=100, fanin_conns=50, fanin_trips=20, pairs=300)


def t_start():
    gc.collect()
    return time.perf_counter()


class Accepted(list):
    """Accept callback collecting server-side connections"""

    _want, _fut = 0, None

    def __call__(self, conn):
        self.append(conn)
        if self._fut and len(self) >= self._want and not self._fut.done():
            self._fut.set_result(None)

    async def wait(self, n):
        if len(self) < n:
            self._want = n
            self._fut = asyncio.get_running_loop().create_future()
            await self._fut


# ------------------------------------------------- protocol reference

class RefProto(asyncio.Protocol):
    """Reference base: accept hook, write, drain and close"""

    def __init__(self, on_accept=None):
        self.on_accept = on_accept
        self.paused = self.lost = False
        self.waiter = None          # drain / close future, made on demand

    def connection_made(self, transport):
        self.transport = transport
        self.write = transport.write
        if self.on_accept is not None:
            self.on_accept(self)

    def connection_lost(self, exc):
        self.lost = True
        self.resume_writing()

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def drain(self):
        if self.paused:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter

    async def close(self):
        self.transport.close()
        if not self.lost:
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


class EchoProto(RefProto):
    """Server: echoes every complete 100-byte message"""

    buf = b''

    def data_received(self, data):
        if not self.buf and len(data) == MSG:
            self.write(data)
            return
        buf = self.buf + data
        while len(buf) >= MSG:
            self.write(buf[:MSG])
            buf = buf[MSG:]
        self.buf = buf


class PingProto(RefProto):
    """Client: sends a message, on every complete reply the next one"""

    got = left = 0

    def start(self, trips):
        self.left = trips
        self.done = asyncio.get_running_loop().create_future()
        self.write(bytes(MSG))

    def data_received(self, data):
        self.got += len(data)
        while self.got >= MSG:
            self.got -= MSG
            self.left -= 1
            if self.left:
                self.write(bytes(MSG))
            else:
                self.done.set_result(None)


class CountProto(RefProto):
    """Server: counts complete units (100 B messages or bytes) to target"""

    def expect(self, target, unit):
        self.unit, self.target, self.count, self.rem = unit, target, 0, 0
        self.done = asyncio.get_running_loop().create_future()
        return self.done

    def data_received(self, data):
        k, self.rem = divmod(self.rem + len(data), self.unit)
        self.count += k
        if self.count >= self.target and not self.done.done():
            self.done.set_result(None)


# ------------------------------------------------------- adapters
# listen(on_accept, cls) -> (port, async close); connect(port, cls) -> conn.
# streams and hat connections are EP tuples of bound methods; protocol
# connections are the RefProto instances (same attribute names).

EP = collections.namedtuple('EP', 'write drain read readexactly close')


def streams_ep(reader, writer):
    async def close():
        writer.close()
        await writer.wait_closed()

    return EP(writer.write, writer.drain, reader.read, reader.readexactly,
              close)


def hat_ep(conn):
    return EP(conn.write, conn.drain, conn.read, conn.readexactly,
              conn.async_close)


async def proto_listen(on_accept, cls):
    srv = await asyncio.get_running_loop().create_server(
        lambda: cls(on_accept), HOST, 0, backlog=BACKLOG)
    return srv.sockets[0].getsockname()[1], aio_server_close(srv)


async def proto_connect(port, cls):
    loop = asyncio.get_running_loop()
    return (await loop.create_connection(cls, HOST, port))[1]


async def streams_listen(on_accept, cls, wrap=streams_ep):
    srv = await asyncio.start_server(lambda r, w: on_accept(wrap(r, w)),
                                     HOST, 0, backlog=BACKLOG)
    return srv.sockets[0].getsockname()[1], aio_server_close(srv)


async def streams_connect(port, cls, wrap=streams_ep):
    return wrap(*await asyncio.open_connection(HOST, port))


async def hat_listen(on_accept, cls, wrap=hat_ep):
    srv = await tcp.listen(lambda conn: on_accept(wrap(conn)),
                           tcp.Address(HOST, 0))
    return srv.addresses[0].port, srv.async_close


async def hat_connect(port, cls, wrap=hat_ep):
    return wrap(await tcp.connect(tcp.Address(HOST, port)))


def aio_server_close(srv):
    async def close():
        srv.close()
        await srv.wait_closed()

    return close


ADAPTERS = {'protocol': (proto_listen, proto_connect),
            'streams': (streams_listen, streams_connect),
            'hat': (hat_listen, hat_connect)}


async def open_pairs(impl, n, srv_cls=RefProto, cli_cls=RefProto,
                     batch=50, **kw):
    listen, connect = ADAPTERS[impl]
    acc = Accepted()
    port, srv_close = await listen(acc, srv_cls, **kw)
    clients = []
    for i in range(0, n, batch):
        clients += await asyncio.gather(*(connect(port, cli_cls, **kw)
                                          for _ in range(min(batch, n - i))))
    await acc.wait(n)
    return clients, list(acc), srv_close


async def close_pairs(clients, servers, srv_close):
    await asyncio.gather(*(c.close() for c in [*clients, *servers]))
    await srv_close()


# ------------------------------------------------------- workloads

async def echo(ep, trips):
    write, readexactly = ep.write, ep.readexactly
    for _ in range(trips):
        write(await readexactly(MSG))


async def ping(ep, trips):
    write, readexactly = ep.write, ep.readexactly
    msg = bytes(MSG)
    for _ in range(trips):
        write(msg)
        await readexactly(MSG)


async def run_pingpong(impl, conns, trips):
    cs, ss, close = await open_pairs(impl, conns, EchoProto, PingProto)
    if impl == 'protocol':
        t0 = t_start()
        for c in cs:
            c.start(trips)
        await asyncio.gather(*(c.done for c in cs))
    else:
        servers = [asyncio.create_task(echo(s, trips)) for s in ss]
        t0 = t_start()
        if conns == 1:
            await ping(cs[0], trips)
        else:
            await asyncio.gather(*(ping(c, trips) for c in cs))
    dt = time.perf_counter() - t0
    if impl != 'protocol':
        await asyncio.gather(*servers)
    await close_pairs(cs, ss, close)
    return conns * trips / dt


async def sink_msgs(ep, n):
    readexactly = ep.readexactly
    for _ in range(n):
        await readexactly(MSG)


async def sink_bytes(ep, total, chunk):
    read, got = ep.read, 0
    while got < total:
        got += len(await read(chunk))


async def send(impl, writes, chunk, drain_every, unit):
    """Client writes `writes` x `chunk` bytes, peer consumes them"""
    (c,), (s,), close = await open_pairs(impl, 1, CountProto)
    total = writes * chunk
    if impl == 'protocol':
        done = s.expect(total // unit, unit)
    elif unit == MSG:
        done = asyncio.create_task(sink_msgs(s, total // MSG))
    else:
        done = asyncio.create_task(sink_bytes(s, total, chunk))
    write, drain, data = c.write, c.drain, bytes(chunk)
    t0 = t_start()
    for i in range(writes):
        write(data)
        if i % drain_every == drain_every - 1:
            await drain()
    await done
    dt = time.perf_counter() - t0
    await close_pairs([c], [s], close)
    return dt


async def churn(impl, size):
    listen, connect = ADAPTERS[impl]
    acc = Accepted()
    port, srv_close = await listen(acc, RefProto)
    t0 = t_start()
    for _ in range(size['churn']):
        c = await connect(port, RefProto)
        await acc.wait(1)
        s = acc.pop()
        await c.close()
        await s.close()
    dt = time.perf_counter() - t0
    await srv_close()
    return size['churn'] / dt


ROW_FUNCS = {
    'pingpong': lambda i, s: run_pingpong(i, 1, s['pingpong']),
    'fanin': lambda i, s: run_pingpong(i, s['fanin_conns'], s['fanin_trips']),
    'pipeline': lambda i, s: rate(s['pipeline'], send(
        i, s['pipeline'], MSG, s['drain_every'], MSG)),
    'bulk': lambda i, s: rate(s['bulk'] / 2**20, send(
        i, s['bulk'] // s['chunk'], s['chunk'], 1, 1)),
    'churn': churn}


async def rate(amount, seconds):
    return amount / await seconds


# ---------------------------------------------------------- memory

def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


async def mem_child(impl, n):
    # keep what the API returns: (reader, writer), Connection, protocol
    kw = {'streams': {'wrap': lambda *rw: rw},
          'hat': {'wrap': lambda conn: conn}}.get(impl, {})
    keep = [await open_pairs(impl, 20, **kw)]        # warm-up, stays open
    await asyncio.sleep(0.05)
    gc.collect()
    before = rss()
    keep.append(await open_pairs(impl, n, **kw))
    await asyncio.sleep(0.05)
    gc.collect()
    print(f'{(rss() - before) / n / 1024:.3f}', flush=True)
    os._exit(0)


def memory(impl, args, size):
    cmd = [sys.executable, os.path.abspath(__file__), '--mem-child', impl,
           '--pairs', str(size['pairs'])] + ['--uvloop'] * args.uvloop
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f'memory child {impl} failed:\n{out.stderr}')
    return float(out.stdout.split()[-1])


# ---------------------------------------------------------- runner

async def run_rows(args, size, impls, rows):
    results = {}
    for row in rows:
        values = {impl: [] for impl in impls}
        if row == 'memory':     # fresh process each, warm-up inside
            for _ in range(args.rounds):
                for impl in impls:
                    values[impl].append(memory(impl, args, size))
        else:
            for r in range(args.rounds + 1):    # round 0: warm-up
                for impl in impls:
                    value = await ROW_FUNCS[row](impl, size)
                    if r:
                        values[impl].append(value)
        results[row] = values
    return results


def fmt(row, v):
    if v is None:
        return '-'
    if row == 'memory':
        return f'{v:.2f}'
    return f'{v:,.1f}' if row == 'bulk' else f'{v:,.0f}'


def report(results, loop_name, args):
    med = {row: {i: statistics.median(v) for i, v in values.items()}
           for row, values in results.items()}

    def ratio(row, impl):
        r = med[row]
        return r[impl] / r['protocol'] if {impl, 'protocol'} <= r.keys() \
            else None

    def fratio(x):
        return '-' if x is None else f'{x:.3f}'

    uname = platform.uname()
    print(f'hat.drivers.tcp benchmark | python {platform.python_version()} '
          f'({platform.python_implementation()}) | loop: {loop_name}')
    print(f'machine: {uname.machine} {platform.processor() or cpu_model()}'
          f' | {uname.system} {uname.release} | nproc '
          f'{len(os.sched_getaffinity(0))}/{os.cpu_count()}')
    print(f'rounds: {args.rounds} (+1 warm-up, interleaved), median | '
          f'sizes: {"quick" if args.quick else "full"}\n')
    head = (f'{"workload":20} {"protocol":>12} {"streams":>12} {"hat":>12} '
            f'{"hat/protocol":>13} {"streams/protocol":>17}')
    print(f'{head}\n{"-" * len(head)}')
    for row, r in med.items():
        print(f'{row + " [" + UNITS[row] + "]":20} ' +
              ' '.join(f'{fmt(row, r.get(i)):>12}' for i in IMPLS) +
              f' {fratio(ratio(row, "hat")):>13}'
              f' {fratio(ratio(row, "streams")):>17}')
    if args.verbose:
        print('\nall rounds:')
        for row, values in results.items():
            for impl, v in values.items():
                print(f'  {row:9} {impl:9}', ' '.join(fmt(row, x) for x in v))

    print('\ntargets (hat):')
    failed = False
    for row, r in med.items():
        if 'hat' not in r:
            continue
        if row == 'memory':
            ok = r['hat'] <= TARGETS[row]
            text = f'hat {r["hat"]:.2f} KiB/pair <= {TARGETS[row]:.0f}'
        else:
            hr = ratio(row, 'hat')
            ok = None if hr is None else hr >= TARGETS[row]
            text = f'hat/protocol {fratio(hr)} >= {TARGETS[row]:.2f}'
        line = f'  {row:9} {text:32} {PASS_FAIL[ok]}'
        failed |= ok is False
        if 'streams' in r:
            better = (r['hat'] <= r['streams'] if row == 'memory'
                      else r['hat'] >= r['streams'])
            failed |= not better
            line += (f' | hat beats streams ({fmt(row, r["hat"])} vs '
                     f'{fmt(row, r["streams"])}) '
                     f'{PASS_FAIL[better]}')
        print(line)
    return failed


def cpu_model():
    with open('/proc/cpuinfo') as f:
        return next((line.split(':', 1)[1].strip() for line in f
                     if line.startswith('model name')), '')


def subset(choices):
    def parse(text):
        items = text.split(',')
        if set(items) - set(choices):
            raise argparse.ArgumentTypeError(f'choose from {choices}')
        return [x for x in choices if x in items]

    return parse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--uvloop', action='store_true', help='run on uvloop')
    p.add_argument('--rounds', type=int, default=5, help='measured rounds')
    p.add_argument('--only', type=subset(ROWS), default=ROWS,
                   help=f'comma separated rows: {",".join(ROWS)}')
    p.add_argument('--impls', type=subset(IMPLS), default=IMPLS,
                   help=f'comma separated: {",".join(IMPLS)}')
    p.add_argument('--quick', action='store_true', help='1/10 sizes')
    p.add_argument('--check', action='store_true',
                   help='exit 1 if a target or "hat beats streams" fails')
    p.add_argument('--verbose', action='store_true', help='print all rounds')
    p.add_argument('--mem-child', choices=IMPLS, help=argparse.SUPPRESS)
    p.add_argument('--pairs', type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rounds < 1:
        p.error('--rounds must be >= 1')
    return args


def run(coro, use_uvloop):
    if not use_uvloop:
        return asyncio.run(coro)
    import uvloop
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(coro)


def main():
    args = parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.mem_child:
        return run(mem_child(args.mem_child, args.pairs), args.uvloop)

    async def bench():
        loop = asyncio.get_running_loop()
        name = f'{type(loop).__module__}.{type(loop).__name__}'
        if args.uvloop:
            import uvloop
            name += f' (uvloop {uvloop.__version__})'
        size = QUICK if args.quick else FULL
        return name, await run_rows(args, size, args.impls, args.only)

    loop_name, results = run(bench(), args.uvloop)
    failed = report(results, loop_name, args)
    return 1 if failed and args.check else 0


if __name__ == '__main__':
    sys.exit(main())
