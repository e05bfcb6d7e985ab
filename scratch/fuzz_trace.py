import random, logging, sys, struct
from hat.drivers.iec104 import trace, codec
logging.basicConfig(level=logging.CRITICAL)
trace.mlog.setLevel(logging.DEBUG)
trace.mlog.addHandler(logging.NullHandler())
trace.mlog.propagate = False
rng = random.Random(int(sys.argv[1]))
n_ok = 0
for it in range(200000):
    tid = rng.randrange(256)
    l = rng.randint(0, 60)
    asdu = bytes([tid]) + bytes(rng.randrange(256) for _ in range(l))
    if rng.random() < 0.5 and len(asdu) > 2:
        # plausible VSQ
        asdu = asdu[:1] + bytes([rng.choice([1, 2, 0x81, 0x82, 0, 0x7f])]) + asdu[2:]
    asdu = asdu[:249]
    frame = bytes([0x68, len(asdu) + 4, 0, 0, 0, 0]) + asdu
    try:
        trace.log_data('x', 'received', frame)
        try:
            codec.decode_asdu(asdu); n_ok += 1
        except codec.AsduDecodeError:
            pass
    except Exception as e:
        print('FAIL', repr(e), frame.hex()); import traceback; traceback.print_exc(); break
print('decoded ok', n_ok)
