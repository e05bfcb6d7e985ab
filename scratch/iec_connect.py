import asyncio, socket, struct, sys, logging, os, time, gc
from hat.drivers import iec104, tcp
logging.basicConfig(level=logging.CRITICAL)
def fds(): return len(os.listdir('/proc/self/fd'))
async def server(behaviour):
    async def handle(r, w):
        try:
            if behaviour == 'close':
                w.close()
            elif behaviour == 'rst':
                s = w.get_extra_info('socket'); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); w.transport.abort()
            elif behaviour == 'con_close':
                await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00'); w.close()
            elif behaviour == 'con_rst':
                await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00'); await w.drain()
                s = w.get_extra_info('socket'); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); w.transport.abort()
            elif behaviour == 'con_garbage':
                await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00\x69'); await w.drain()
            elif behaviour == 'half':
                await r.readexactly(6); w.write(b'\x68\x04\x0b'); w.close()
            elif behaviour == 'silent':
                await asyncio.sleep(5)
            elif behaviour == 'echo':
                while (d := await r.read(100)): w.write(d)
        except Exception: pass
    return await asyncio.start_server(handle, '127.0.0.1', 0)

async def main():
    loop = asyncio.get_running_loop(); excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    gc.collect(); f0 = fds(); t0 = len(asyncio.all_tasks())
    for b in ['close', 'rst', 'con_close', 'con_rst', 'con_garbage', 'half', 'silent', 'echo']:
        s = await server(b)
        port = s.sockets[0].getsockname()[1]
        t = time.monotonic()
        try:
            conn = await iec104.connect(tcp.Address('127.0.0.1', port), response_timeout=1, supervisory_timeout=0.5)
            res = f'connected enabled={conn.is_enabled}'
            try:
                res += ' receive-> ' + repr(await asyncio.wait_for(conn.receive(), 2))
            except Exception as e:
                res += ' receive raised ' + repr(e)[:400]
            await conn.async_close()
        except Exception as e:
            res = repr(e)[:400]
        print(f'{b:12} {time.monotonic()-t:.2f}s {res}')
        s.close()
    await asyncio.sleep(0.2); gc.collect()
    print('fds', f0, fds(), 'tasks', t0, len(asyncio.all_tasks()), 'excs', excs)
if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
