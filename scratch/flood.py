"""A peer that sends P-DATA / TSDUs without the user reading: bytes accepted
before the sender's drain blocks must be bounded."""
import asyncio, sys
sys.path.insert(0, 'scratch')
import attack_layers as A
from hat.drivers import ber

async def flood(layer):
    srv, c, s = await A.layer_pair(layer)
    if layer == 'cosp':
        payload = b'x' * 60000; w = lambda: c.write(payload)
    else:
        el = ber.Element(ber.Class.UNIVERSAL, 4, False, b'x' * 60000)
        w = lambda: c.write((A.MMS, el))
    sent = 0
    while sent < 500_000_000:
        w(); sent += 60000
        try:
            await asyncio.wait_for(c.drain(), 1.0)
        except asyncio.TimeoutError:
            break
    A.check(f'{layer} flood without reading is held back', sent < 50_000_000, f'{sent/1e6:.1f} MB accepted')
    print(layer, f'{sent/1e6:.1f} MB accepted before drain blocked')
    for x in (c, s, srv):
        await x.async_close()

async def main():
    for l in ('cosp', 'copp', 'acse'):
        await asyncio.wait_for(flood(l), 120)

asyncio.run(main())
