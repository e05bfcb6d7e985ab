from hat.drivers.iec104 import codec, common
import traceback
Q = common.MeasurementQuality(False,False,False,False,False)
for v in [1e308, 1.0000001, -1.0000001, 1e10, 0.99999999, -1.0]:
    m = common.DataMsg(is_test=False, originator_address=0, asdu_address=1, io_address=1,
        data=common.NormalizedData(value=common.NormalizedValue(v), quality=Q), time=None, cause=common.DataResCause.SPONTANEOUS)
    try:
        d = codec.encode_asdu(m); print(v, 'ok', codec.decode_asdu(d)[0].data.value)
    except Exception as e:
        print(v, type(e).__name__, e)
traceback.print_exc
