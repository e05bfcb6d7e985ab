import asyncio, math
from hat.drivers import tcp
async def main():
    got = []
    srv = await tcp.listen(lambda c: got.append(c), tcp.Address('127.0.0.1', 0))
    addr = srv.addresses[0]
    cases = [dict(keepalive_idle=1.5), dict(keepalive_idle=True), dict(keepalive_idle=math.nan), dict(keepalive_idle=0.5),
             dict(close_timeout=math.nan), dict(close_timeout=-1), dict(close_timeout=math.inf), dict(close_timeout=0), dict(close_timeout=1e-300),
             dict(input_buffer_limit=-1), dict(input_buffer_limit=True), dict(input_buffer_limit=1.5), dict(input_buffer_limit=2**100),
             dict(name=b'x'), dict(name='%s%d'), dict(connect_timeout=math.nan), dict(connect_timeout=-1), dict(connect_timeout=0), dict(connect_timeout=math.inf),
             dict(keepalive_idle=5, keepalive_interval=None, keepalive_count=None), dict(keepalive_count=3), dict(half_close=None),
             dict(local_addr=('127.0.0.1', 70000)), dict(ssl=True), dict(server_hostname='x')]
    for kw in cases:
        try:
            c = await tcp.connect(addr, **kw)
            r = 'ok'
            c.write(b'x'); await c.async_close()
        except Exception as e:
            r = f'{type(e).__name__}: {str(e)[:90]}'
        print(kw, '->', r)
    for bad in [tcp.Address('127.0.0.1', -1), ('127.0.0.1', '80'), tcp.Address('127.0.0.1\x00', 1), tcp.Address(b'127.0.0.1', addr.port), tcp.Address('', addr.port), tcp.Address('256.0.0.1', addr.port), tcp.Address('x' * 300, 1)]:
        try:
            c = await tcp.connect(bad, connect_timeout=2); r = 'ok'; await c.async_close()
        except Exception as e:
            r = f'{type(e).__name__}: {str(e)[:90]}'
        print(bad, '->', r)
    for c in got: await c.async_close()
    await srv.async_close()
asyncio.run(main())
