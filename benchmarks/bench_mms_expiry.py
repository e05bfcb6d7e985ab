"""Benchmark of mms response-timeout expiry with many requests waiting

A `hat.drivers.mms` client (max_serv_outstanding_calling 5) against an
`hat.drivers.acse` responder that never answers: ``LONG`` requests wait
with a 600 s timeout (5 sent, the rest queued), then ``SHORT`` requests
with a 1 ms timeout are sent one after another and each expires while
queued behind them. Reports the CPU time per expiry (lower is better): it
must not grow with ``LONG`` beyond what queueing itself costs (a timer
that visits every waiting request on each expiry made it O(LONG)).

Run::

    python benchmarks/bench_mms_expiry.py [--uvloop] [LONG [SHORT]]

(defaults 10000 and 500; both ends in one process on 127.0.0.1)

"""

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / 'src_py'))

from hat import aio  # noqa: E402

from hat.drivers import acse  # noqa: E402
from hat.drivers import ber  # noqa: E402
from hat.drivers import mms  # noqa: E402
from hat.drivers.mms import codec  # noqa: E402

MMS = (1, 0, 9506, 2, 1)


async def run(long_count: int, short_count: int) -> float:
    conn_queue: aio.Queue = aio.Queue()
    initiate_response = (MMS, ber.decode(codec.encode_pdu(
        codec.InitiateResponsePdu(65000, 5, 5, None, 1,
                                  frozenset({0, 1, 2}),
                                  frozenset({0, 4, 83})))))
    srv = await acse.listen(lambda names, data: initiate_response,
                            conn_queue.put_nowait,
                            mms.Address('127.0.0.1', 0))
    conn = await mms.connect(lambda conn, req: None, srv.addresses[0],
                             max_serv_outstanding_calling=5,
                             conclude_timeout=0.1)
    loop = asyncio.get_running_loop()
    waiting = [loop.create_task(conn.send_confirmed(mms.StatusRequest(),
                                                    timeout=600))
               for _ in range(long_count)]
    await asyncio.sleep(0.1)
    start = time.process_time()
    for _ in range(short_count):
        try:
            await conn.send_confirmed(mms.StatusRequest(), timeout=0.001)
        except mms.ResponseTimeoutError:
            pass
    cpu = time.process_time() - start
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)
    await conn.async_close()
    await srv.async_close()
    while not conn_queue.empty():
        await conn_queue.get_nowait().async_close()
    return cpu / short_count


def main() -> None:
    args = [a for a in sys.argv[1:] if a != '--uvloop']
    if '--uvloop' in sys.argv[1:]:
        import uvloop
        uvloop.install()
    long_count = int(args[0]) if args else 10000
    short_count = int(args[1]) if len(args) > 1 else 500
    for count in (0, long_count):
        per_expiry = asyncio.run(run(count, short_count))
        print(f'{count:>6} waiting: {per_expiry * 1e6:8.0f} us CPU per '
              f'expiry ({short_count} expiries)')


if __name__ == '__main__':
    main()
