import asyncio, struct, sys, logging
from hat.drivers import iec104, tcp

records = []
class H(logging.Handler):
    def emit(self, r): records.append(r)
logging.getLogger().addHandler(H()); logging.getLogger().setLevel(logging.DEBUG)

def iframe(ns, nr, asdu):
    return bytes([0x68, len(asdu) + 4]) + struct.pack('<HH', (ns << 1) & 0xFFFF, (nr << 1) & 0xFFFF) + asdu
U = lambda f: bytes([0x68, 4, f, 0, 0, 0])
STARTDT_ACT, STARTDT_CON = 0x07, 0x0B

async def read_frame(r):
    h = await r.readexactly(2)
    return h + await r.readexactly(h[1])

async def slave_side():
    """raw master against iec104 slave"""
    got = []
    async def on_conn(conn):
        try:
            while True: got.append(await conn.receive())
        except ConnectionError: pass
    srv = await iec104.listen(on_conn, tcp.Address('127.0.0.1', 0))
    r, w = await asyncio.open_connection('127.0.0.1', srv.addresses[0].port)
    w.write(U(STARTDT_ACT)); print('slave ->', (await read_frame(r)).hex())
    cases = [
        ('C_IC IOA5', bytes([100, 1, 6, 0, 1, 0, 5, 0, 0, 20])),
        ('C_CS IOA1', bytes([103, 1, 6, 0, 1, 0, 1, 0, 0]) + bytes(7)),
        ('C_TS_TA IOA9', bytes([107, 1, 6, 0, 1, 0, 9, 0, 0, 0x55, 0xAA]) + bytes(7)),
        ('C_IC SQ=1 N=2 IOA0', bytes([100, 0x82, 6, 0, 1, 0, 0, 0, 0, 20, 20])),
        ('C_IC N=0', bytes([100, 0, 6, 0, 1, 0])),
        ('C_IC SQ N=0x7f IOA 0xFFFFFF', bytes([100, 0xFF, 6, 0, 1, 0, 0xff, 0xff, 0xff]) + bytes([20]) * 127),
        ('type 255', bytes([255, 1, 6, 0, 1, 0, 1, 0, 0, 0])),
        ('type 127 big', bytes([127, 1, 6, 0, 1, 0]) + bytes(243)),
        ('C_IC neg IOA5 COT47', bytes([100, 1, 0x40 | 47, 0, 1, 0, 5, 0, 0, 20])),
        ('C_IC IOA5 cause 0', bytes([100, 1, 0, 0, 1, 0, 5, 0, 0, 20])),
        ('C_IC short', bytes([100, 1, 6, 0, 1])),
        ('C_IC ok', bytes([100, 1, 6, 0, 1, 0, 0, 0, 0, 20])),
    ]
    ns = 0
    for name, asdu in cases:
        w.write(iframe(ns, 0, asdu)); ns += 1
    await w.drain()
    # collect replies for 1s
    out = []
    try:
        while True:
            out.append(await asyncio.wait_for(read_frame(r), 1))
    except asyncio.TimeoutError: pass
    for f in out: print('slave reply', f.hex())
    print('slave app got', got)
    w.close(); await srv.async_close()

async def master_side():
    """raw slave against iec104 master"""
    step = asyncio.get_running_loop().create_future()
    async def handle(r, w):
        # send STARTDT act first (wrong direction), then answer the master
        w.write(U(STARTDT_ACT))
        f = await read_frame(r); print('master sent', f.hex())
        w.write(U(STARTDT_CON))
        ns = 0
        for asdu in [bytes([100, 1, 7, 0, 1, 0, 5, 0, 0, 20]),  # ACT_CON IOA 5
                     bytes([103, 1, 7, 0, 1, 0, 1, 0, 0]) + bytes(7),
                     bytes([100, 1, 7, 0, 1, 0, 0, 0, 0, 20])]:
            w.write(iframe(ns, 0, asdu)); ns += 1
        await w.drain()
        await step
        w.close()
    s = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = s.sockets[0].getsockname()[1]
    conn = await iec104.connect(tcp.Address('127.0.0.1', port), response_timeout=2)
    print('master enabled', conn.is_enabled)
    print('master got', await asyncio.wait_for(conn.receive(), 2))
    step.set_result(None)
    await conn.async_close(); s.close()

async def main():
    loop = asyncio.get_running_loop()
    excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    await slave_side()
    await master_side()
    print('excs', excs)
    for r in records:
        if r.levelno >= logging.WARNING or r.name.endswith('trace'):
            print(r.levelname, r.name, r.getMessage()[:230])

if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
