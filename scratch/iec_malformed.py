import asyncio, struct, sys, logging
from hat.drivers import iec104, tcp
records = []
class H(logging.Handler):
    def emit(self, r):
        records.append(r); self.format(r)
h = H(); h.setFormatter(logging.Formatter('%(message)s'))
logging.getLogger().addHandler(h); logging.getLogger().setLevel(logging.DEBUG)
logging.getLogger('hat.drivers.iec104.trace').setLevel(logging.DEBUG)
def iframe(ns, nr, asdu):
    return bytes([0x68, len(asdu) + 4]) + struct.pack('<HH', ns << 1, nr << 1) + asdu
cases = {
 'start': b'\x69\x04\x07\x00\x00\x00',
 'len3': b'\x68\x03\x07\x00\x00',
 'len255': b'\x68\xff' + bytes(255),
 'ufunc': b'\x68\x04\x03\x00\x00\x00',
 'u_two': b'\x68\x04\x0f\x00\x00\x00',
 'u_nonzero': b'\x68\x04\x07\x00\x01\x00',
 'u_withdata': b'\x68\x05\x07\x00\x00\x00\x00',
 's_len': b'\x68\x05\x01\x00\x00\x00\x00',
 'sframe_bad_nr': b'\x68\x04\x01\x00\x10\x00',
 'ns_wrong': iframe(5, 0, bytes([100, 1, 6, 0, 1, 0, 0, 0, 0, 20])),
 'empty_i': iframe(0, 0, b''),
 'cut': iframe(0, 0, bytes([100, 1, 6, 0, 1, 0, 0, 0, 0, 20]))[:7],
 'bad_asdu_then_ok': iframe(0, 0, bytes([1, 0x85, 3, 0, 1, 0])) + iframe(1, 0, bytes([100, 1, 6, 0, 1, 0, 0, 0, 0, 20])),
}
async def run(name, payload, split):
    got = []; done = asyncio.Event()
    async def on_conn(conn):
        try:
            while True: got.append(await conn.receive())
        except ConnectionError: pass
        finally: done.set()
    srv = await iec104.listen(on_conn, tcp.Address('127.0.0.1', 0))
    r, w = await asyncio.open_connection('127.0.0.1', srv.addresses[0].port)
    w.write(b'\x68\x04\x07\x00\x00\x00'); await r.readexactly(6)
    n0 = len(records)
    if split:
        try:
            for i in range(len(payload)):
                w.write(payload[i:i+1]); await w.drain(); await asyncio.sleep(0.001)
        except ConnectionError: pass
    else:
        w.write(payload)
    try: await w.drain()
    except ConnectionError: pass
    if name == 'cut': w.close()
    try: await asyncio.wait_for(done.wait(), 0.5)
    except asyncio.TimeoutError: pass
    w.close()
    await srv.async_close()
    errs = [r for r in records[n0:] if r.levelno >= logging.ERROR]
    traces = [r for r in records[n0:] if r.name.endswith('trace') and 'malformed' in r.getMessage()]
    print(name, 'split' if split else '', 'errors', len(errs), 'trace-malformed', len(traces), 'got', got, [e.getMessage()[60:170] for e in errs])

async def main():
    loop = asyncio.get_running_loop(); excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    for split in (False, True):
        for k, v in cases.items(): await run(k, v, split)
    print('excs', excs)
if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
