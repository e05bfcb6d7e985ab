import asyncio, sys, socket, struct, collections
from hat.drivers import iec104, tcp
async def main():
    c = collections.Counter()
    for i in range(40):
        async def handle(r, w):
            await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00')
            s = w.get_extra_info('socket'); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            if i % 2: w.transport.abort()
            else: w.close()
        s = await asyncio.start_server(handle, '127.0.0.1', 0)
        try:
            conn = await iec104.connect(tcp.Address('127.0.0.1', s.sockets[0].getsockname()[1]))
        except ConnectionError as e:
            c['connect ' + type(e).__name__ + ' ' + str(e).split('closed: ')[-1][-30:]] += 1
            s.close(); continue
        try:
            await asyncio.wait_for(conn.receive(), 2)
        except ConnectionError as e:
            c['receive ' + type(e).__name__ + ' ' + str(e).split('closed: ')[-1][-30:]] += 1
        await conn.async_close(); s.close()
    for k, v in c.items(): print(v, k)
if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
