import asyncio, os, socket, ssl, struct, sys, logging, gc, random
from hat.drivers import tcp

records = []
class H(logging.Handler):
    def emit(self, r):
        if r.levelno >= logging.WARNING: records.append(r)
logging.getLogger().addHandler(H()); logging.getLogger().setLevel(logging.WARNING)

def fds(): return len(os.listdir('/proc/self/fd'))

srv_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
srv_ctx.load_cert_chain('/tmp/hcert/cert.pem', '/tmp/hcert/key.pem')
cli_ctx = ssl.create_default_context(cafile='/tmp/hcert/cert.pem')

async def scenario(tls, rng):
    kw_s = dict(ssl=srv_ctx) if tls else {}
    kw_c = dict(ssl=cli_ctx, server_hostname='127.0.0.1') if tls else {}
    mode = rng.randrange(8)
    conns = []
    done = asyncio.get_running_loop().create_future()
    async def cb(conn):
        conns.append(conn)
        try:
            if mode == 0:
                conn.close(); conn.close(); await conn.async_close(); conn.close()
            elif mode == 1:
                t = asyncio.ensure_future(conn.readuntil(b'\r\n\r\n'))
                await asyncio.sleep(0.01)
                conn.close()
                try: await t
                except ConnectionError: pass
                try:
                    while True: await conn.read()
                except ConnectionError: pass
            elif mode == 2:
                # reading paused then close
                await asyncio.sleep(0.05)
                await conn.async_close()
            elif mode == 3:
                t = asyncio.ensure_future(conn.readexactly(10**6))
                await asyncio.sleep(0.01)
                t.cancel()
                conn.close()
                await conn.async_close()
            elif mode == 4:
                conn.write(b'x' * 300000)
                conn.close()
            elif mode == 5:
                # async_close cancelled
                t = asyncio.ensure_future(conn.async_close())
                await asyncio.sleep(0); t.cancel()
                await conn.wait_closed()
            elif mode == 6:
                raise RuntimeError('boom in cb (expected)')
            elif mode == 7:
                conn.write(b'hello\n'); await conn.drain()
                await conn.wait_closing()
        finally:
            if not done.done(): done.set_result(None)
    srv = await tcp.listen(cb, tcp.Address('127.0.0.1', 0), input_buffer_limit=16384, close_timeout=1, **kw_s)
    port = srv.addresses[0].port
    try:
        c = await tcp.connect(tcp.Address('127.0.0.1', port), close_timeout=1, input_buffer_limit=rng.choice([0, 1, 1024]), **kw_c)
        try:
            how = rng.randrange(4)
            if how == 0:
                c.write(os.urandom(200000))
            elif how == 1:
                for _ in range(50):
                    c.write(b'a' * 4096)
                    await c.drain()
            elif how == 2:
                sock = c._transport.get_extra_info('socket')
                c.write(b'x' * 1000)
                await asyncio.sleep(0.02)
                if not tls and not c.is_closing:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                c._transport.abort()
            try:
                await asyncio.wait_for(c.readuntil(b'\n'), 2)
            except (ConnectionError, asyncio.TimeoutError, tcp.LimitOverrunError):
                pass
        except ConnectionError:
            pass
        finally:
            c.close(); c.close()
            await asyncio.wait_for(c.async_close(), 5)
        await asyncio.wait_for(asyncio.shield(done), 5)
    finally:
        await asyncio.wait_for(srv.async_close(), 5)
    for conn in conns:
        await asyncio.wait_for(conn.wait_closed(), 5)
    return mode

async def main(loopname):
    loop = asyncio.get_running_loop()
    excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    rng = random.Random(int(sys.argv[2]))
    await scenario(False, rng)
    await scenario(True, rng)
    gc.collect()
    f0, t0 = fds(), len(asyncio.all_tasks())
    for i in range(int(sys.argv[3])):
        tls = bool(i % 2)
        try:
            await scenario(tls, rng)
        except Exception as e:
            print('scenario failed', i, tls, repr(e)); import traceback; traceback.print_exc()
    gc.collect(); await asyncio.sleep(0.5)
    print(loopname, 'fds', f0, fds(), 'tasks', t0, len(asyncio.all_tasks()))
    print('loop exceptions', len(excs), [str(c.get('message'))[:100] + ' ' + repr(c.get('exception'))[:150] for c in excs[:5]])
    msgs = {}
    for r in records:
        k = r.getMessage()[:110].split(': ', 1)[-1]
        msgs[k] = msgs.get(k, 0) + 1
    for k, v in sorted(msgs.items(), key=lambda x: -x[1])[:15]: print(v, k)

if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main(sys.argv[1]))
