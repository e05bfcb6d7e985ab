import asyncio, sys, traceback
from hat.drivers import iec104, tcp
from hat.drivers.iec104 import apci
orig_close = apci.Connection.close
def close(self):
    print('apci.close called; reason', self._reason); traceback.print_stack(limit=6)
    return orig_close(self)
apci.Connection.close = close
orig_on_close = apci.Connection._on_close
def on_close(self):
    print('_on_close reason', self._reason, 'tcp closing', self._conn.is_closing, self._conn._reason)
    return orig_on_close(self)
apci.Connection._on_close = on_close
async def main():
    async def handle(r, w):
        await r.readexactly(6); w.write(b'\x68\x04\x0b\x00\x00\x00'); w.close()
    s = await asyncio.start_server(handle, '127.0.0.1', 0)
    conn = await iec104.connect(tcp.Address('127.0.0.1', s.sockets[0].getsockname()[1]))
    print('connected', conn.conn._reason, conn.conn._conn._reason)
    try:
        await asyncio.wait_for(conn.receive(), 2)
    except ConnectionError as e:
        print(e)
    await conn.async_close(); s.close()
asyncio.run(main())
