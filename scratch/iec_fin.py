import asyncio, sys, logging
from hat.drivers import iec104, tcp
async def main():
    for delay in (None, 0, 0.05):
        go = asyncio.Event()
        async def handle(r, w):
            await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00')
            if delay is not None:
                await w.drain(); await asyncio.sleep(delay)
            w.close()
        s = await asyncio.start_server(handle, '127.0.0.1', 0)
        conn = await iec104.connect(tcp.Address('127.0.0.1', s.sockets[0].getsockname()[1]))
        try:
            await asyncio.wait_for(conn.receive(), 2) if len(sys.argv) > 2 else await conn.receive()
        except ConnectionError as e:
            print(delay, type(e).__name__, e)
        await conn.async_close(); s.close()
if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
