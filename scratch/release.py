"""acse/copp/cosp release collisions via release(); release against a silent
peer (release_timeout); leak check over 100 sequences."""
import asyncio, gc, logging, sys, time
sys.path.insert(0, 'scratch')
import attack_layers as A
from hat.drivers import tcp, tpkt, cotp, cosp, copp, acse

async def collisions(layer, n=30):
    A.rec.records.clear()
    f0 = A.fds(); t0 = len(asyncio.all_tasks())
    outcomes = {}
    for i in range(n):
        srv, c, s = await A.layer_pair(layer)
        if i % 2:
            c.write(A.ENT() if layer != 'cosp' else b'x')
        res = await asyncio.gather(asyncio.wait_for(c.release(), 15), asyncio.wait_for(s.release(), 15), return_exceptions=True)
        key = tuple(type(r).__name__ for r in res)
        outcomes[key] = outcomes.get(key, 0) + 1
        for x in (c, s, srv):
            await x.async_close()
    await asyncio.sleep(0.2); gc.collect()
    print(layer, 'release collision outcomes', outcomes)
    A.check(f'{layer} release collision: no timeouts', not any('TimeoutError' in k for k in outcomes), outcomes)
    A.check(f'{layer} release collision: no ERROR', not A.errors(), [r.getMessage()[:150] for r in A.errors()][:3])
    A.check(f'{layer} release collisions: no fd leak', A.fds() <= f0 + 1, (f0, A.fds()))
    A.check(f'{layer} release collisions: no task leak', len(asyncio.all_tasks()) <= t0, (t0, len(asyncio.all_tasks())))

async def silent_release():
    # cosp client against a cotp server that accepts CN with a hand AC and then never answers FN
    q = asyncio.Queue()
    srv = await cotp.listen(q.put_nowait, A.ADDR)
    async def peer():
        conn = await q.get()
        cn = await conn.read()
        from hat.drivers.cosp import codec as cc, common as cm
        conn.write(cc.encode(cm.AC(versions=cm.VERSION_2, requirements=2, calling_ssel=None, responding_ssel=None, user_data=None)))
        try:
            while True:
                await conn.read()
        except ConnectionError:
            pass
        return conn
    pt = asyncio.create_task(peer())
    c = await cosp.connect(tcp.Address('127.0.0.1', srv.addresses[0].port), release_timeout=0.3)
    t = time.monotonic()
    try:
        await asyncio.wait_for(c.release(b'bye'), 5)
        r = 'returned'
    except Exception as e:
        r = repr(e)[:120]
    dt = time.monotonic() - t
    A.check('cosp release vs silent peer ends by release_timeout', dt < 1.5 and not c.is_open, (r, dt, c.is_open))
    try:
        c.write(b'x'); A.check('cosp write after timed-out release raises', False)
    except ConnectionError:
        A.check('cosp write after timed-out release raises', True)
    conn = await asyncio.wait_for(pt, 3)
    await conn.async_close(); await c.async_close(); await srv.async_close()

async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, ctx: A.loop_errors.append(ctx))
    for layer in ('cosp', 'copp', 'acse'):
        try:
            await collisions(layer)
        except Exception as e:
            import traceback; traceback.print_exc()
    await silent_release()
    A.check('no loop exceptions', not A.loop_errors, A.loop_errors[:3])
    print('FAILED:', [n for n, ok in A.results if not ok])

if len(sys.argv) > 1:
    import uvloop; uvloop.install()
asyncio.run(main())
