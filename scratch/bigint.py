"""copp/acse: a PDV whose presentation-context-identifier is an INTEGER of
more than 4300 decimal digits: the error path formats it with str()."""
import asyncio, logging, sys
sys.path.insert(0, 'scratch')
from hat.drivers import ber, tcp, copp, acse
logging.basicConfig(level=logging.ERROR)
MMS = (1, 0, 9506, 2, 1)
big = b'\x02\x82\x08\x00' + b'\x7f' * 2048
pdv = b'\x30' + ber.encode_length(len(big) + 5) + big + b'\xa0\x03\x80\x01\x00'
ud = b'\x61' + ber.encode_length(len(pdv)) + pdv

async def main():
    loop_errors = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda l, c: loop_errors.append(c))
    q = asyncio.Queue()
    srv = await copp.listen(lambda sn, u: None, q.put_nowait, tcp.Address('127.0.0.1', 0))
    c = await copp.connect(copp.SyntaxNames([MMS]), tcp.Address('127.0.0.1', srv.addresses[0].port))
    s = await q.get()
    c._conn.write(ud)
    try:
        r = await asyncio.wait_for(s.read(), 3)
        print('read returned', type(r))
    except ConnectionError as e:
        print('ok ConnectionError', str(e)[:150])
    except Exception as e:
        print('BUG read raised', type(e).__name__, str(e)[:150])
    await asyncio.sleep(0.2)
    print('loop errors', [(c_.get('message'), repr(c_.get('exception'))[:150]) for c_ in loop_errors])
    for x in (c, s, srv):
        await x.async_close()
asyncio.run(main())
