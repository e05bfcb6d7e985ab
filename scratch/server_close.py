"""Silent peers mid-handshake, server closed, then peers go away: no leaked
tasks/fds; handshake read cancelled by server close?"""
import asyncio, gc, sys
sys.path.insert(0, 'scratch')
import attack_layers as A
from hat.drivers import tcp, acse, cotp, cosp

async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, ctx: A.loop_errors.append(ctx))
    f0 = A.fds(); t0 = len(asyncio.all_tasks())
    for layer in ('cotp', 'cosp', 'acse'):
        if layer == 'cotp':
            srv = await cotp.listen(lambda c: None, A.ADDR)
        elif layer == 'cosp':
            srv = await cosp.listen(lambda *a: None, lambda c: None, A.ADDR)
        else:
            srv = await acse.listen(lambda *a: None, lambda c: None, A.ADDR)
        addr = tcp.Address('127.0.0.1', srv.addresses[0].port)
        raws = [await tcp.connect(addr) for _ in range(20)]
        # half of them send a partial TPKT header
        for r in raws[::2]:
            r.write(b'\x03\x00\x00')
        await asyncio.sleep(0.1)
        await srv.async_close()
        await asyncio.sleep(0.1)
        for r in raws:
            await r.async_close()
    await asyncio.sleep(0.5); gc.collect()
    A.check('silent handshakes + server close: no fd leak', A.fds() <= f0 + 1, (f0, A.fds()))
    A.check('silent handshakes + server close: no task leak', len(asyncio.all_tasks()) <= t0, (t0, len(asyncio.all_tasks())))
    A.check('no loop exceptions', not A.loop_errors, A.loop_errors[:3])
    print('warnings+', [(r.levelname, r.getMessage()[:100]) for r in A.rec.records if r.levelno >= 30][:5])

if len(sys.argv) > 1:
    import uvloop; uvloop.install()
asyncio.run(main())
