import math, random, typing, itertools, enum
from hat.drivers.iec104 import codec, common
Q = common.IndicationQuality(False, False, False, False)
base = common.DataMsg(is_test=False, originator_address=0, asdu_address=1, io_address=1,
    data=common.SingleData(value=common.SingleValue.ON, quality=Q), time=None, cause=common.DataResCause.SPONTANEOUS)
weird = [None, -1, 2**24, 2**64, 1.5, math.nan, math.inf, -math.inf, 'x', b'x', True, [], (), {}, object(), 10**400, -0.0, 1e308]
bad = {}
def attempt(msg):
    try:
        codec.encode_asdu(msg)
    except (TypeError, ValueError) as e:
        return None
    except Exception as e:
        return type(e).__name__ + ': ' + str(e)[:100]
    return None
# fields of DataMsg and nested
def mutate(msg, depth=0):
    for f in msg._fields:
        v = getattr(msg, f)
        for w in weird:
            r = attempt(msg._replace(**{f: w}))
            if r: bad[(type(msg).__name__, f, repr(w)[:20])] = r
        if hasattr(v, '_fields') and depth < 3:
            for g in v._fields:
                for w in weird:
                    r = attempt(msg._replace(**{f: v._replace(**{g: w})}))
                    if r: bad[(type(msg).__name__, f + '.' + g, repr(w)[:20])] = r
                vv = getattr(v, g)
                if hasattr(vv, '_fields'):
                    for h in vv._fields:
                        for w in weird:
                            r = attempt(msg._replace(**{f: v._replace(**{g: vv._replace(**{h: w})})}))
                            if r: bad[(type(msg).__name__, f+'.'+g+'.'+h, repr(w)[:20])] = r
T = common.Time(size=common.TimeSize.SEVEN, milliseconds=0, invalid=False, minutes=0, summer_time=False, hours=0, day_of_week=1, day_of_month=1, months=1, years=24)
msgs = [base, base._replace(time=T),
  base._replace(data=common.FloatingData(value=common.FloatingValue(1.0), quality=common.MeasurementQuality(False,False,False,False,False))),
  base._replace(data=common.BitstringData(value=common.BitstringValue(b'\x00'*4), quality=common.MeasurementQuality(False,False,False,False,False))),
  base._replace(data=common.NormalizedData(value=common.NormalizedValue(0.5), quality=common.MeasurementQuality(False,False,False,False,False))),

  common.CommandMsg(is_test=False, originator_address=0, asdu_address=1, io_address=1, command=common.SetpointCommand(value=common.FloatingValue(1.0), select=False), is_negative_confirm=False, time=None, cause=common.CommandReqCause.ACTIVATION) if hasattr(common, 'SetpointCommand') else None,
  common.ClockSyncMsg(is_test=False, originator_address=0, asdu_address=1, time=T, is_negative_confirm=False, cause=common.ActivationReqCause.ACTIVATION),
  common.TestMsg(is_test=False, originator_address=0, asdu_address=1, counter=1, time=T, cause=common.ActivationReqCause.ACTIVATION) if 'counter' in common.TestMsg._fields else None,
  common.ParameterMsg(is_test=False, originator_address=0, asdu_address=1, io_address=1, parameter=common.ScaledParameter(value=common.ScaledValue(1), qualifier=1), cause=common.ParameterReqCause.ACTIVATION) if hasattr(common,'ScaledParameter') else None,
]
for m in msgs:
    if m is None: continue
    try: codec.encode_asdu(m)
    except Exception as e: print('base invalid', type(m).__name__, e); continue
    mutate(m)
for k, v in sorted(bad.items()): print(k, v)
print(len(bad))
