import asyncio, socket, struct, sys, threading, time, logging, os, resource
from hat.drivers import iec104, tcp

records = []
class H(logging.Handler):
    def emit(self, r): records.append(r)
logging.getLogger().addHandler(H()); logging.getLogger().setLevel(logging.WARNING)

def iframe(ns, nr, asdu):
    return bytes([0x68, len(asdu) + 4]) + struct.pack('<HH', (ns << 1) & 0xFFFF, (nr << 1) & 0xFFFF) + asdu

def cic(ioa):
    return bytes([100, 1, 6, 0, 1, 0]) + ioa.to_bytes(3, 'little') + bytes([20])

async def main():
    loop = asyncio.get_running_loop()
    excs = []
    loop.set_exception_handler(lambda l, c: excs.append(c))
    got = []
    conns = []
    async def on_conn(conn):
        conns.append(conn)
        try:
            while True:
                got.append(await conn.receive())
        except ConnectionError:
            pass
    srv = await iec104.listen(on_conn, tcp.Address('127.0.0.1', 0), response_timeout=30, supervisory_timeout=10, test_timeout=60)
    port = srv.addresses[0].port
    stop = threading.Event()
    sent = [0]
    def peer():
        s = socket.create_connection(('127.0.0.1', port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(bytes([0x68, 4, 7, 0, 0, 0]))
        s.settimeout(0.5)
        ns = 0
        try:
            while not stop.is_set():
                # blind ack: N(R) = ns (mirrors answered so far, roughly)
                s.sendall(iframe(ns, 0, cic(5)))
                ns = (ns + 1) % 32768
                sent[0] += 1
        except (socket.timeout, OSError) as e:
            print('peer stopped sending after', sent[0], repr(e))
        stop.wait()
        s.close()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = threading.Thread(target=peer); t.start()
    await asyncio.sleep(8)
    c = conns[0]
    tr = c.conn._conn._transport
    print('sent', sent[0], 'slave write buf', tr.get_write_buffer_size(), 'maxrss delta KiB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0, 'errors logged', len(records))
    stop.set(); t.join()
    await srv.async_close()
    print('excs', excs[:3])
    print({r.getMessage()[:150] for r in records if 'IOA' not in r.getMessage() and 'information object address' not in r.getMessage()})

if sys.argv[1] == 'uvloop':
    import uvloop; uvloop.install()
asyncio.run(main())
