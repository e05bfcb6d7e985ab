import asyncio, random, socket, sys
from hat.drivers import tcp

async def one(rng):
    a, b = socket.socketpair()
    limit = rng.choice([0, 1, 3, 8, 32])
    r, w = await asyncio.open_connection(sock=a)
    conn = tcp.Connection(r, w, input_buffer_limit=limit, close_timeout=0.1)
    loop = asyncio.get_running_loop()
    data = bytes(rng.choice(b'ab\n') for _ in range(rng.randint(0, 80)))
    ops = []
    tasks = []
    for _ in range(rng.randint(1, 6)):
        k = rng.randrange(3)
        if k == 0: op = ('read', rng.choice([-1, 1, 2, 5]))
        elif k == 1: op = ('readexactly', rng.randint(1, 6))
        else: op = ('readuntil', rng.choice([b'\n', b'ab', b'a\nb', b'bbb']))
        ops.append(op)
        tasks.append(asyncio.ensure_future(getattr(conn, op[0])(op[1])))
    i = 0
    cancelled = set()
    while i < len(data):
        k = rng.randint(1, 7)
        loop.call_soon(conn._on_data, data[i:i+k]); i += k
        await asyncio.sleep(0); await asyncio.sleep(0)
        if rng.random() < 0.2:
            j = rng.randrange(len(tasks))
            if not tasks[j].done():
                tasks[j].cancel(); cancelled.add(j)
        await asyncio.sleep(0)
    for _ in range(3): await asyncio.sleep(0)
    consumed = b''
    for j, (op, t) in enumerate(zip(ops, tasks)):
        if not t.done():
            t.cancel()
            try: await t
            except asyncio.CancelledError: pass
            continue
        if t.cancelled(): continue
        e = t.exception()
        if e is not None:
            assert isinstance(e, tcp.LimitOverrunError) and op[0] == 'readuntil', (op, e)
            continue
        res = t.result()
        if op[0] == 'readuntil':
            sep = op[1]
            assert res.endswith(sep) and res.find(sep) == len(res) - len(sep), (op, res)
        elif op[0] == 'readexactly':
            assert len(res) == op[1]
        consumed += res
    # completed reads, in order, form a prefix; remaining readable
    rest = b''
    while conn._avail: rest += await conn.read()
    assert consumed + rest == data, (ops, data, consumed, rest, limit)
    await conn.async_close(); b.close()

async def main(n):
    rng = random.Random(int(sys.argv[2]))
    for _ in range(n): await one(rng)
    print('ok', n)

if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main(int(sys.argv[3])))
