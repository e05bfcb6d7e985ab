import asyncio, random, socket, sys
from hat.drivers import tcp

def ref(buf, sep, limit):
    lim = limit or sys.maxsize
    i = buf.find(sep)
    if i >= 0 and i <= lim:
        return ('ok', i + len(sep))
    if i >= 0:
        return ('overrun', i)
    if len(buf) - len(sep) >= lim:
        return ('overrun', len(buf) + 1 - len(sep))
    return ('wait', None)

async def one(rng, loop_name):
    a, b = socket.socketpair()
    limit = rng.choice([0, 1, 2, 3, 5, 8, 16])
    r, w = await asyncio.open_connection(sock=a)
    conn = tcp.Connection(r, w, input_buffer_limit=limit, close_timeout=0.1)
    try:
        alphabet = b'ab'
        sep = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))
        data = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        # chunks
        chunks = []
        i = 0
        while i < len(data):
            k = rng.randint(1, 5)
            chunks.append(data[i:i+k]); i += k
        pre = rng.randint(0, len(chunks))
        for c in chunks[:pre]:
            conn._on_data(c)
        buf = b''.join(chunks[:pre])
        task = asyncio.ensure_future(conn.readuntil(sep))
        await asyncio.sleep(0)
        for c in chunks[pre:]:
            if task.done():
                break
            asyncio.get_running_loop().call_soon(conn._on_data, c); buf += c
            await asyncio.sleep(0); await asyncio.sleep(0)
        await asyncio.sleep(0)
        exp = ref(buf, sep, limit)
        # what ref says given whole buffer received
        if task.done():
            e = task.exception()
            if e is None:
                res = task.result()
                # result must be first sep within limit of data
                full = ref(buf, sep, limit)
                assert full[0] == 'ok' and res == buf[:full[1]], (sep, chunks, pre, limit, res, full)
                rest = buf[len(res):]
            elif isinstance(e, tcp.LimitOverrunError):
                full = ref(buf, sep, limit)
                assert full[0] == 'overrun', (sep, chunks, pre, limit, e, full)
                rest = buf
            else:
                raise e
        else:
            assert exp[0] == 'wait', (sep, chunks, pre, limit, exp)
            task.cancel()
            try: await task
            except asyncio.CancelledError: pass
            rest = buf
        # remaining must be readable
        got = b''
        while conn._avail:
            got += await conn.read()
        assert got == rest, (got, rest, sep, chunks, pre, limit)
    finally:
        await conn.async_close()
        b.close()

async def main(loop_name, n):
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    for i in range(n):
        await one(rng, loop_name)
    print('ok', n)

if __name__ == '__main__':
    if sys.argv[1] == 'uvloop':
        import uvloop; uvloop.install()
    asyncio.run(main(sys.argv[1], int(sys.argv[3]) if len(sys.argv)>3 else 3000))
