"""Release while our receive queue is full (user stopped reading) and more
P-DATA waits in TCP: does release finish promptly, does the peer see a
release (not an abort)?"""
import asyncio, sys, time
sys.path.insert(0, 'scratch')
import attack_layers as A

async def run(layer, n):
    A.rec.records.clear()
    srv, c, s = await A.layer_pair(layer)
    for i in range(n):
        c.write(A.ENT() if layer != 'cosp' else b'x' * 1000)
    await c.drain()
    await asyncio.sleep(0.3)
    t = time.monotonic()
    try:
        await asyncio.wait_for(s.release() if hasattr(s, 'release') else s.async_close(), 30)
        r = 'released'
    except Exception as e:
        r = repr(e)[:100]
    dt = time.monotonic() - t
    # the peer's view
    got = 0
    try:
        while True:
            await asyncio.wait_for(c.read(), 2); got += 1
    except Exception as e:
        peer = repr(e)[:120]
    A.check(f'{layer} release with {n} unread P-DATA finishes promptly', dt < 2, (r, f'{dt:.2f}s', peer))
    print(layer, n, r, f'{dt:.2f}s', 'peer:', peer, 'errors:', [x.getMessage()[:100] for x in A.errors()])
    for x in (c, s, srv):
        await x.async_close()

async def main():
    for layer in ('cosp', 'copp', 'acse'):
        for n in (5, 40):
            await run(layer, n)
    print('FAILED:', [n for n, ok in A.results if not ok])
asyncio.run(main())
