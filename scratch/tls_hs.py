import asyncio, os, socket, ssl, sys, logging, gc
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

async def main():
    loop = asyncio.get_running_loop()
    excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    gc.collect(); f0, t0 = fds(), len(asyncio.all_tasks())
    for i in range(30):
        # 1: server closed while raw clients stall in the handshake
        cbs = []
        srv = await tcp.listen(lambda c: cbs.append(c), tcp.Address('127.0.0.1', 0), ssl=srv_ctx)
        port = srv.addresses[0].port
        raws = [socket.create_connection(('127.0.0.1', port)) for _ in range(3)]
        raws[1].sendall(b'\x16\x03\x01\x00\xff')  # partial ClientHello
        await asyncio.sleep(0.05)
        await asyncio.wait_for(srv.async_close(), 3)
        for s in raws: s.close()
        # 2: client connect cancelled while server never answers
        ls = socket.socket(); ls.bind(('127.0.0.1', 0)); ls.listen()
        t = asyncio.ensure_future(tcp.connect(tcp.Address('127.0.0.1', ls.getsockname()[1]), ssl=cli_ctx, server_hostname='127.0.0.1'))
        await asyncio.sleep(0.05)
        t.cancel()
        try: await t
        except asyncio.CancelledError: pass
        # 3: connect_timeout during TLS handshake
        try:
            await tcp.connect(tcp.Address('127.0.0.1', ls.getsockname()[1]), ssl=cli_ctx, server_hostname='127.0.0.1', connect_timeout=0.05)
        except tcp.ConnectTimeoutError: pass
        a, _ = ls.accept(); a.close()
        try:
            while True:
                ls.settimeout(0); a, _ = ls.accept(); a.close()
        except (BlockingIOError, OSError): pass
        ls.close()
        # 4: TLS server: client closes during server's handshake with data
        srv = await tcp.listen(lambda c: cbs.append(c), tcp.Address('127.0.0.1', 0), ssl=srv_ctx)
        c = await tcp.connect(tcp.Address('127.0.0.1', srv.addresses[0].port), ssl=cli_ctx, server_hostname='127.0.0.1')
        c.write(b'x' * 100000); c.close(); c.close()
        await asyncio.wait_for(c.async_close(), 3)
        await asyncio.sleep(0.01)
        await asyncio.wait_for(srv.async_close(), 3)
        for cc in cbs:
            cc.close(); await asyncio.wait_for(cc.wait_closed(), 3)
    await asyncio.sleep(0.3); gc.collect()
    print(sys.argv[1], 'fds', f0, fds(), 'tasks', t0, len(asyncio.all_tasks()), [t for t in asyncio.all_tasks()][:3])
    print('excs', len(excs), [ (c.get('message'), repr(c.get('exception'))) for c in excs[:4]])
    print({r.getMessage()[:140] for r in records})

if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
