"""Random/structured fuzz of OSI codecs' decode: any exception other than the
documented one is printed (with input hex) and counted."""
import random, sys, time, traceback, os
from hat.drivers import ber
from hat.drivers.cotp import codec as cotp
from hat.drivers.cosp import codec as cosp
from hat.drivers.copp import codec as copp
from hat.drivers.acse import codec as acse
from hat.drivers.mms import codec as mms

TARGETS = {
    'ber': ([ber.decode, ber.decode_all], ber.DecodeError),
    'cotp': ([cotp.decode], cotp.DecodeError),
    'cosp': ([cosp.decode], cosp.DecodeError),
    'copp': ([copp.decode_cp, copp.decode_cpa, copp.decode_cpr,
              copp.decode_abort, copp.decode_user_data], copp.PpduDecodeError),
    'acse': ([acse.decode], acse.ApduDecodeError),
    'mms': ([mms.decode_pdu], mms.DecodeError),
}

def rnd_tlv(r, depth):
    cls = r.choice([0, 0, 1, 2, 2, 2, 3])
    tag = r.choice([r.randrange(0, 31), r.randrange(0, 31), r.randrange(0, 16), r.randrange(31, 300)])
    if cls == 0 and r.random() < .7:
        tag = r.choice([1, 2, 3, 4, 5, 6, 8, 10, 16, 17, 26, 24, 23, 4, 2])
    cons = depth > 0 and r.random() < .5
    if cons:
        contents = b''.join(rnd_tlv(r, depth - 1) for _ in range(r.randrange(0, 4)))
    else:
        n = r.choice([0, 1, 1, 2, 4, 8, r.randrange(0, 40)])
        contents = bytes(r.randrange(256) for _ in range(n))
        if r.random() < .3:
            contents = bytes(r.choice([0, 1, 0xff, 0x7f, 0x80]) for _ in range(n))
    if cons and r.random() < .1:
        return ber.encode_identifier(cls, tag, True) + b'\x80' + contents + b'\0\0'
    return ber.encode_tlv(cls, tag, cons, contents)

def mutate(r, b):
    b = bytearray(b)
    for _ in range(r.randrange(1, 4)):
        if not b:
            b += bytes([r.randrange(256)]); continue
        op = r.randrange(5)
        i = r.randrange(len(b))
        if op == 0: b[i] = r.randrange(256)
        elif op == 1: del b[i:i + r.randrange(1, 4)]
        elif op == 2: b[i:i] = bytes(r.randrange(256) for _ in range(r.randrange(1, 4)))
        elif op == 3: b[i] ^= 1 << r.randrange(8)
        else: b = b[:i]
    return bytes(b)

def gen(name, r):
    k = r.random()
    if name in ('cotp', 'cosp') or k < .15:
        if k < .5 and name == 'cotp':
            li = r.randrange(0, 20)
            code = r.choice([0xe0, 0xd0, 0x80, 0xf0, 0x70, 0x10, 0x50])
            body = bytes(r.randrange(256) for _ in range(r.randrange(0, 24)))
            return bytes([li, code]) + body
        if name == 'cosp':
            si = r.choice([13, 14, 12, 9, 10, 25, 26, 1, 5, r.randrange(256)])
            params = b''
            for _ in range(r.randrange(0, 5)):
                pi = r.choice([5, 19, 22, 20, 51, 52, 193, 194, 17, 50, 11, 1, r.randrange(256)])
                v = bytes(r.randrange(256) for _ in range(r.randrange(0, 6)))
                params += bytes([pi, len(v)]) + v if r.random() < .9 else bytes([pi, 0xff, 0, len(v)]) + v
            s = bytes([si, len(params)]) + params
            if r.random() < .2:
                s = b'\x01\x00' + s
            return mutate(r, s) if r.random() < .3 else s
        return bytes(r.randrange(256) for _ in range(r.randrange(0, 64)))
    d = rnd_tlv(r, r.randrange(1, 6))
    if name == 'mms' and r.random() < .8:
        d = ber.encode_tlv(2, r.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]), True,
                           b''.join(rnd_tlv(r, 4) for _ in range(r.randrange(1, 4))))
    if name == 'acse' and r.random() < .8:
        d = ber.encode_tlv(1, r.randrange(0, 5), True,
                           b''.join(rnd_tlv(r, 3) for _ in range(r.randrange(0, 5))))
    if name == 'copp' and r.random() < .8:
        d = ber.encode_tlv(0, r.choice([16, 17]), True,
                           b''.join(rnd_tlv(r, 4) for _ in range(r.randrange(0, 5))))
    if r.random() < .4:
        d = mutate(r, d)
    return d

def main():
    name, seconds = sys.argv[1], float(sys.argv[2])
    funcs, err = TARGETS[name]
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else os.getpid())
    seen = set(); n = 0; t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        d = gen(name, r); n += 1
        for f in funcs:
            try:
                f(d)
            except err:
                pass
            except Exception as e:
                tb = traceback.extract_tb(e.__traceback__)[-1]
                key = (f.__name__, type(e).__name__, tb.filename, tb.lineno)
                if key not in seen:
                    seen.add(key)
                    print('BUG', name, f.__name__, type(e).__name__, e, tb.filename, tb.lineno, d.hex(), flush=True)
    print('done', name, n, 'inputs', len(seen), 'distinct bugs', flush=True)

main()
