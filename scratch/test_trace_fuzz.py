import logging, sys
sys.path.insert(0, 'test_pytest')
import hypothesis
from hypothesis import strategies as st
from test_iec104_codec import mutated_asdus, headed_asdus
from hat.drivers.iec104 import trace, codec

@hypothesis.settings(max_examples=20000, deadline=None)
@hypothesis.given(st.one_of(st.binary(max_size=249), mutated_asdus(), headed_asdus()))
def test_trace_never_raises(asdu):
    trace.mlog.setLevel(logging.DEBUG)
    asdu = asdu[:249]
    frame = bytes([0x68, len(asdu) + 4, 0, 0, 0, 0]) + asdu
    trace.log_data('x', 'received', frame)
    trace.format_asdu(asdu)
