import sys, traceback
from hat.drivers import ber
from hat.drivers.copp import codec as copp
from hat.drivers.acse import codec as acse
from hat.drivers.mms import codec as mms

def nest_def(n, cls_tag=0xa1, inner=b'\x80\x00'):
    d = inner
    for _ in range(n):
        L = ber.encode_length(len(d))
        d = bytes([cls_tag]) + L + d
    return d

def nest_indef(n, t=0x30):
    return bytes([t, 0x80]) * n + b'\x00\x00' * n

cases = {}
for n in (100, 1000, 20000):
    # structure data nested: confirmed-response read (a4) -> listOfAccessResult a1 -> structure a2 ...
    data = nest_def(n, 0xa2, b'\x83\x01\x00')
    read_resp = b'\xa4' + ber.encode_length(len(data) + 2 + 2) + b'\xa1' + ber.encode_length(len(data)) + data
    inv = b'\x02\x01\x01'
    body = inv + read_resp
    cases[f'mms struct nest def {n}'] = (mms.decode_pdu, b'\xa1' + ber.encode_length(len(body)) + body)
    cases[f'mms nest indef {n}'] = (mms.decode_pdu, b'\xa1\x80' + inv + b'\xa4\x80\xa1\x80' + nest_indef(n, 0xa2) + b'\0\0' * 3)
    cases[f'ber constructed string def {n}'] = (lambda d: ber.string_contents(ber.decode(d)), nest_def(n, 0x24, b'\x04\x01a'))
    cases[f'acse deep {n}'] = (acse.decode, b'\x60' + ber.encode_length(len(nest_def(n, 0xbe))) + nest_def(n, 0xbe))
    cases[f'copp deep {n}'] = (copp.decode_user_data, b'\x61' + ber.encode_length(len(nest_def(n, 0x30))) + nest_def(n, 0x30))
    # type spec nesting: getVariableAccessAttributes response a6 -> typeSpec a2 ... structure/array
    ts = nest_def(n, 0xa1, b'\x83\x00')  # array elementType?
    cases[f'mms typespec {n}'] = (mms.decode_pdu, b'\xa1' + ber.encode_length(len(ts) + 3 + 2 + 6) + inv + b'\xa6' + ber.encode_length(len(ts)+6) + b'\x80\x01\x00' + b'\xa2' + ber.encode_length(len(ts)) + ts)
cases['ber huge length'] = (ber.decode, b'\x04\x88' + (2**60).to_bytes(8, 'big'))
cases['ber 9 length octets'] = (ber.decode, b'\x04\x89' + b'\x01' * 9)
cases['ber huge tag'] = (ber.decode, b'\x1f' + b'\xff' * 100 + b'\x7f\x00')
cases['ber huge oid arc'] = (lambda d: ber.decode_object_identifier(ber.decode(d).contents), b'\x06\x7f' + b'\xff' * 126 + b'\x01')
cases['ber huge integer'] = (lambda d: ber.decode_integer(ber.decode(d).contents), b'\x02\x82\x10\x00' + b'\x7f' * 4096)
sys.setrecursionlimit(1000)
for name, (f, d) in cases.items():
    try:
        r = f(d); print('OK decoded', name, str(r)[:80])
    except (ber.DecodeError, mms.DecodeError) as e:
        print('ok err', name, type(e).__name__, str(e)[:100])
    except Exception as e:
        print('BUG', name, type(e).__name__, str(e)[:200])
