"""Malformed PDU at a lower layer under an acse connection: exactly one
ERROR in total across layers; read cancellation midway; 100 sequences leak check."""
import asyncio, gc, logging, sys
sys.path.insert(0, 'scratch')
import attack_layers as A

async def lower(name, which, payload):
    A.rec.records.clear()
    srv, c, s = await A.layer_pair('acse')
    copp_c = c._conn; cosp_c = copp_c._conn; cotp_c = cosp_c._conn; tpkt_c = cotp_c._conn
    {'tpkt': tpkt_c, 'cotp': cotp_c, 'cosp': cosp_c}[which].write(payload)
    r = await A.expect_closed_read(s, 3)
    await asyncio.sleep(0.2)
    er = A.errors()
    A.check(f'acse over bad {which} ({name}): read raises', r is True, r)
    A.check(f'acse over bad {which} ({name}): exactly one ERROR total', len(er) == 1, [(x.name, x.getMessage()[:120]) for x in er])
    for x in (c, s, srv):
        await x.async_close()

async def cancel_reads():
    srv, c, s = await A.layer_pair('acse')
    for i in range(50):
        t = asyncio.create_task(s.read())
        await asyncio.sleep(0)
        t.cancel()
        try: await t
        except asyncio.CancelledError: pass
    c.write(A.ENT())
    r = await asyncio.wait_for(s.read(), 3)
    A.check('acse read after 50 cancelled reads gets data', r[0] == A.MMS, r)
    # cosp
    await c.async_close(); await s.async_close(); await srv.async_close()
    srv, c, s = await A.layer_pair('cosp')
    for i in range(50):
        t = asyncio.create_task(s.read())
        await asyncio.sleep(0.001 * (i % 3))
        if i == 25:
            c.write(b'x' * 100000)
        t.cancel()
        try:
            r = await t
            print('cosp read completed before cancel', len(r))
        except asyncio.CancelledError: pass
    c.write(b'y')
    got = []
    try:
        while True:
            got.append(await asyncio.wait_for(s.read(), 1))
            if got[-1] == b'y': break
    except Exception as e:
        got.append(repr(e))
    A.check('cosp read after cancelled reads: no loss/corruption', got[-1] == b'y' and all(g in (b'x' * 100000, b'y') for g in got), [len(g) if isinstance(g, bytes) else g for g in got])
    await c.async_close(); await s.async_close(); await srv.async_close()

async def main():
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, ctx: A.loop_errors.append(ctx))
    await lower('garbage TPDU', 'tpkt', b'\x05\xff\x00\x00\x00\x00')
    await lower('DR', 'tpkt', b'\x06\x80\x00\x01\x00\x01\x00')
    await lower('garbage SPDU', 'cotp', b'\xff\x00')
    await lower('garbage PPDU', 'cosp', b'\x00\x01\x02\x03')
    await lower('ACSE ABRT bad', 'cosp', bytes.fromhex('610a3008020101a003640100'))
    await cancel_reads()
    await asyncio.sleep(0.1)
    A.check('no loop exceptions', not A.loop_errors, A.loop_errors[:3])
    print('FAILED:', [n for n, ok in A.results if not ok])

if len(sys.argv) > 1:
    import uvloop; uvloop.install()
asyncio.run(main())
