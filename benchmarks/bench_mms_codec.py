"""Benchmark of the MMS PDU codec (hat.drivers.mms.codec).

Time per PDU of `codec.encode_pdu` and `codec.decode_pdu`, the hot path of
every MMS read, on the PDUs of the rows of ``bench_ber.py``:

* ``read-req`` - confirmed-RequestPDU Read of one variable by
  domain-specific name (``LD0`` / ``MMXU1$MX$TotW$mag$f``)
* ``read-res`` - confirmed-ResponsePDU Read with one floating-point
  success (single precision)
* ``read-res-500`` - confirmed-ResponsePDU Read with 500 floating-point
  successes (a named variable list of 500 floats)
* ``read-res-500-double`` - the same, encoded with ``double_floats=True``
* ``report-20`` - an InformationReport of 20 structures (float, quality
  bit string, UtcTime), as an IEC 61850 report of 20 measured values

Methodology: each operation runs in a loop long enough for about
``--time`` seconds (default 0.2), repeated ``--rounds`` times (default 5)
after one discarded warm-up round; the fastest round's time per PDU is
reported in microseconds (the minimum: the machine is shared, and other
load only adds time). Time is `time.perf_counter`; garbage collection stays
on.

Run::

    PYTHONPATH=src_py python benchmarks/bench_mms_codec.py [--rounds N]
        [--time S]

"""

import argparse
import datetime
import functools
import platform
import sys
import time

from hat.drivers import mms
from hat.drivers.mms import codec


def _pdus():
    name = mms.DomainSpecificObjectName('LD0', 'MMXU1$MX$TotW$mag$f')
    read_req = codec.ConfirmedRequestPdu(
        1, mms.ReadRequest([mms.NameVariableSpecification(name)]))
    read_res = codec.ConfirmedResponsePdu(
        1, mms.ReadResponse([mms.FloatingPointData(1.5)]))
    read_res_500 = codec.ConfirmedResponsePdu(
        1, mms.ReadResponse([mms.FloatingPointData(i * 0.5)
                             for i in range(500)]))
    t = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    report = codec.UnconfirmedPdu(mms.InformationReportUnconfirmed(
        mms.VmdSpecificObjectName('RPT'),
        [mms.VisibleStringData('LD0/LLN0$RP$urcb01')] +
        [mms.StructureData([mms.FloatingPointData(i * 0.5),
                            mms.BitStringData([False] * 13),
                            mms.UtcTimeData(t, False, False, False, 10)])
         for i in range(20)]))
    return [('read-req', read_req, False),
            ('read-res', read_res, False),
            ('read-res-500', read_res_500, False),
            ('read-res-500-double', read_res_500, True),
            ('report-20', report, False)]


def _measure(fn, seconds, rounds):
    # calibrate the loop count to about `seconds`
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        n *= 2
    n = max(1, int(n * seconds / elapsed))
    results = []
    for i in range(rounds + 1):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        if i:
            results.append((time.perf_counter() - start) / n)
    return min(results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--time', type=float, default=0.2)
    args = parser.parse_args()
    print(f'python {platform.python_version()} '
          f'({sys.implementation.name}), {platform.machine()}')
    print(f'{"row":<22}{"octets":>8}{"encode us":>12}{"decode us":>12}')
    for row, pdu, double in _pdus():
        octets = codec.encode_pdu(pdu, double_floats=double)
        assert codec.decode_pdu(octets) == pdu
        encode = _measure(functools.partial(codec.encode_pdu, pdu,
                                            double_floats=double),
                          args.time, args.rounds)
        decode = _measure(functools.partial(codec.decode_pdu, octets),
                          args.time, args.rounds)
        print(f'{row:<22}{len(octets):>8}{encode * 1e6:>12.1f}'
              f'{decode * 1e6:>12.1f}')


if __name__ == '__main__':
    main()
