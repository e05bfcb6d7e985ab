import asyncio, ssl, sys, logging, os
from hat.drivers import tcp
records = []
class H(logging.Handler):
    def emit(self, r):
        if r.levelno >= logging.WARNING: records.append(r.getMessage()[:150])
logging.getLogger().addHandler(H()); logging.getLogger().setLevel(logging.WARNING)
srv_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
srv_ctx.load_cert_chain('/tmp/hcert/cert.pem', '/tmp/hcert/key.pem')
cli_ctx = ssl.create_default_context(cafile='/tmp/hcert/cert.pem')
SIZE = 1024 * 1024
async def run(tls, delay):
    kw_s = dict(ssl=srv_ctx) if tls else {}
    kw_c = dict(ssl=cli_ctx, server_hostname='127.0.0.1') if tls else {}
    async def cb(conn):
        await conn.read()
        conn.write(b'r' * SIZE)
        conn.close()
    srv = await tcp.listen(cb, tcp.Address('127.0.0.1', 0), close_timeout=5, **kw_s)
    c = await tcp.connect(srv.addresses[0], **kw_c)
    async def upload():
        n = 0
        try:
            while True:
                c.write(os.urandom(16384)); await c.drain(); n += 1
                if delay: await asyncio.sleep(delay)
        except ConnectionError as e:
            return n, type(e).__name__
    async def download():
        got = 0
        await asyncio.sleep(0.2)
        try:
            while True:
                got += len(await c.read())
        except ConnectionError as e:
            return got, type(e).__name__, str(e)[-40:]
    up = asyncio.ensure_future(upload())
    res = await asyncio.wait_for(download(), 20)
    up.cancel()
    try: upres = await up
    except asyncio.CancelledError: upres = 'cancelled'
    await c.async_close(); await srv.async_close()
    print('tls' if tls else 'tcp', 'delay', delay, 'downloaded', res, 'complete' if res[0] == SIZE else 'TRUNCATED', 'upload', upres)
async def main():
    for tls in [bool(int(x)) for x in sys.argv[2].split(',')]:
        for delay in [float(x) for x in sys.argv[3].split(',')]:
            for _ in range(int(sys.argv[4])):
                await run(tls, delay)
    print(records[:5])
if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
