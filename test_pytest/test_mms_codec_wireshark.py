"""MMS codec output read by Wireshark's MMS dissector (tshark)

PDUs encoded by `hat.drivers.mms.codec` are wrapped the way they travel in
an association (TPKT, COTP DT, session Give-Tokens + DT, presentation
fully-encoded-data with presentation context 3) into packets of a pcap file
written here (no capture needed), and read back by tshark with context 3
mapped to the MMS abstract syntax ``1.0.9506.2.1``. Every frame must
dissect down to MMS with no malformed packet and no expert error, and
Wireshark must see the same invoke ID, service choice, Data choices (in
the order of the data tree) and times (BinaryTime to the millisecond,
UtcTime to the microsecond, EventNotification timeOfDay) as the encoded
PDU: an ASN.1 implementation independent of ours checks the tags, the
lengths and the time encodings (milliseconds since midnight and days since
1984-01-01).

The generated PDUs come in `BATCHES` batches (see there).

Without tshark the tests are skipped (failed if
``HAT_DRIVERS_REQUIRE_TSHARK`` is set, as in CI).

"""

import datetime
import shutil
import struct
import subprocess

import hypothesis
from hypothesis import strategies as st
import pytest

from hat.drivers import mms
from hat.drivers.mms import codec

import test_mms_codec
import tshark


EXPERT_ERROR = 0x00800000

# batches of up to 30 generated PDUs, one tshark run each: 10, or one per
# 200 examples of HAT_DRIVERS_MMS_EXAMPLES (test_mms_codec.py)
BATCHES = max(10, test_mms_codec.EXAMPLES // 200)

DATA_CHOICES = {mms.ArrayData: 1, mms.StructureData: 2, mms.BooleanData: 3,
                mms.BitStringData: 4, mms.IntegerData: 5,
                mms.UnsignedData: 6, mms.FloatingPointData: 7,
                mms.OctetStringData: 9, mms.VisibleStringData: 10,
                mms.GeneralizedTimeData: 11, mms.BinaryTimeData: 12,
                mms.BcdData: 13, mms.BooleanArrayData: 14, mms.ObjIdData: 15,
                mms.MmsStringData: 16, mms.UtcTimeData: 17}

REQUEST_CHOICES = {mms.StatusRequest: 0, mms.GetNameListRequest: 1,
                   mms.IdentifyRequest: 2, mms.ReadRequest: 4,
                   mms.WriteRequest: 5,
                   mms.GetVariableAccessAttributesRequest: 6,
                   mms.DefineNamedVariableListRequest: 11,
                   mms.GetNamedVariableListAttributesRequest: 12,
                   mms.DeleteNamedVariableListRequest: 13}

RESPONSE_CHOICES = {mms.StatusResponse: 0, mms.GetNameListResponse: 1,
                    mms.IdentifyResponse: 2, mms.ReadResponse: 4,
                    mms.WriteResponse: 5,
                    mms.GetVariableAccessAttributesResponse: 6,
                    mms.DefineNamedVariableListResponse: 11,
                    mms.GetNamedVariableListAttributesResponse: 12,
                    mms.DeleteNamedVariableListResponse: 13}

UNCONFIRMED_CHOICES = {mms.InformationReportUnconfirmed: 0,
                       mms.UnsolicitedStatusUnconfirmed: 1,
                       mms.EventNotificationUnconfirmed: 2}


def _tlv(head, contents):
    n = len(contents)
    if n < 128:
        return bytes([head, n]) + contents
    return bytes([head, 0x82]) + n.to_bytes(2, 'big') + contents


def _tpkt(mms_octets):
    # PDV-list {presentation-context-identifier 3, single-ASN1-type [0]}
    ppdu = _tlv(0x61, _tlv(0x30, b'\x02\x01\x03' + _tlv(0xa0, mms_octets)))
    cotp = b'\x02\xf0\x80' + b'\x01\x00\x01\x00' + ppdu
    return b'\x03\x00' + (len(cotp) + 4).to_bytes(2, 'big') + cotp


def _pcap(payloads, path):
    out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 0x40000, 1)]
    seq = 1
    for i, payload in enumerate(payloads):
        tcp = struct.pack('>HHIIBBHHH', 40000, 102, seq, 0, 0x50, 0x18,
                          65535, 0, 0)
        ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + len(payload), 0, 0,
                         64, 6, 0, b'\x7f\x00\x00\x01', b'\x7f\x00\x00\x01')
        frame = b'\x00' * 12 + b'\x08\x00' + ip + tcp + payload
        out.append(struct.pack('<IIII', i, 0, len(frame), len(frame)))
        out.append(frame)
        seq += len(payload)
    path.write_bytes(b''.join(out))


FIELDS = ['frame.protocols', '_ws.malformed', '_ws.expert.severity',
          'mms.invokeID', 'mms.confirmedServiceRequest',
          'mms.confirmedServiceResponse', 'mms.unconfirmedService',
          'mms.success', 'mms.Data', 'mms.data.binary-time', 'mms.utc_time',
          'mms.timeOfDayT']


def _dissect(pdus, tmp_path):
    if not shutil.which('tshark'):
        tshark.unavailable('tshark not installed')
    path = tmp_path / 'mms.pcap'
    _pcap([_tpkt(codec.encode_pdu(pdu)) for pdu in pdus], path)
    args = ['tshark', '-n', '-r', str(path),
            '-o', 'uat:pres_context_list:"3","1.0.9506.2.1"',
            '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=|']
    for field in FIELDS:
        args += ['-e', field]
    result = subprocess.run(args, capture_output=True, text=True,
                            timeout=50, check=True)
    lines = result.stdout.splitlines()
    assert len(lines) == len(pdus)
    return [dict(zip(FIELDS, line.split('\t'), strict=True)) for line in lines]


def _ints(value):
    return [int(i) for i in value.split('|')] if value else []


def _times(value):
    """Wireshark's times ("Jan  1, 2024 12:00:00.123000000 UTC"), to the
    microsecond (truncated)"""
    result = []
    for i in value.split('|') if value else []:
        main, fraction = i.rsplit('.', 1)
        t = datetime.datetime.strptime(' '.join(main.split()),
                                       '%b %d, %Y %H:%M:%S')
        result.append(t.replace(tzinfo=datetime.timezone.utc) +
                      datetime.timedelta(
                          microseconds=int(fraction.split()[0][:6])))
    return result


def _wireshark_time(t):
    # Wireshark 4.0 shows TimeOfDay in 32-bit seconds since 1970: later
    # dates wrap around
    seconds = int((t - _EPOCH_1970).total_seconds()) % 2**32
    return _EPOCH_1970 + datetime.timedelta(seconds=seconds,
                                            microseconds=t.microsecond)


_EPOCH_1970 = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class _Expected:
    """What Wireshark should show of a PDU"""

    def __init__(self, pdu):
        self.invoke_id = []
        self.request = []
        self.response = []
        self.unconfirmed = []
        self.success = []   # Data choices of AccessResult success
        self.data = []      # other Data choices, in tree order
        self.binary_times = []
        self.utc_times = []
        self.times_of_day = []
        if isinstance(pdu, codec.ConfirmedRequestPdu):
            self.invoke_id = [pdu.invoke_id]
            self.request = [REQUEST_CHOICES[type(pdu.request)]]
            if isinstance(pdu.request, mms.WriteRequest):
                self._data(pdu.request.data, False)
        elif isinstance(pdu, codec.ConfirmedResponsePdu):
            self.invoke_id = [pdu.invoke_id]
            self.response = [RESPONSE_CHOICES[type(pdu.response)]]
            if isinstance(pdu.response, mms.ReadResponse):
                self._data(pdu.response.results, True)
        elif isinstance(pdu, codec.UnconfirmedPdu):
            unconfirmed = pdu.unconfirmed
            self.unconfirmed = [UNCONFIRMED_CHOICES[type(unconfirmed)]]
            if isinstance(unconfirmed, mms.InformationReportUnconfirmed):
                self._data(unconfirmed.data, True)
            if (isinstance(unconfirmed, mms.EventNotificationUnconfirmed) and
                    isinstance(unconfirmed.time, mms.BinaryTimeData)):
                self.times_of_day = [_wireshark_time(unconfirmed.time.value)]
        elif isinstance(pdu, codec.ConfirmedErrorPdu):
            self.invoke_id = [pdu.invoke_id]

    def _data(self, items, access_results):
        for i in items:
            if isinstance(i, mms.DataAccessError):
                continue
            choices = self.success if access_results else self.data
            # Wireshark 4.0 shows no Data choice for generalized-time
            if not isinstance(i, mms.GeneralizedTimeData):
                choices.append(DATA_CHOICES[type(i)])
            if isinstance(i, mms.BinaryTimeData):
                self.binary_times.append(_wireshark_time(i.value))
            elif isinstance(i, mms.UtcTimeData):
                self.utc_times.append(i.value)
            elif isinstance(i, (mms.ArrayData, mms.StructureData)):
                self._data(i.elements, False)


def _check(pdus, tmp_path):
    for pdu, fields in zip(pdus, _dissect(pdus, tmp_path), strict=True):
        assert fields['frame.protocols'].endswith(':pres:mms'), pdu
        assert not fields['_ws.malformed'], pdu
        assert EXPERT_ERROR not in _ints(fields['_ws.expert.severity']), pdu
        expected = _Expected(pdu)
        if isinstance(pdu, (codec.ConfirmedRequestPdu,
                            codec.ConfirmedResponsePdu,
                            codec.ConfirmedErrorPdu)):
            # Wireshark's invokeID is an INT32
            assert _ints(fields['mms.invokeID']) == [
                i - 2**32 if i >= 2**31 else i
                for i in expected.invoke_id], pdu
        assert _ints(fields['mms.confirmedServiceRequest']) == \
            expected.request, pdu
        assert _ints(fields['mms.confirmedServiceResponse']) == \
            expected.response, pdu
        assert _ints(fields['mms.unconfirmedService']) == \
            expected.unconfirmed, pdu
        assert _ints(fields['mms.success']) == expected.success, pdu
        assert _ints(fields['mms.Data']) == expected.data, pdu
        assert _times(fields['mms.data.binary-time']) == \
            expected.binary_times, pdu
        assert _times(fields['mms.timeOfDayT']) == expected.times_of_day, pdu
        utc_times = _times(fields['mms.utc_time'])
        assert len(utc_times) == len(expected.utc_times), pdu
        for seen, sent in zip(utc_times, expected.utc_times, strict=True):
            assert abs(seen - sent) <= datetime.timedelta(microseconds=1), \
                pdu


def test_vectors(tmp_path):
    _check([pdu for _, pdu in test_mms_codec.VECTORS], tmp_path)


@pytest.mark.timeout(max(300, BATCHES * 10))
@hypothesis.settings(max_examples=BATCHES, deadline=None, database=None,
                     suppress_health_check=[
                         hypothesis.HealthCheck.too_slow,
                         hypothesis.HealthCheck.data_too_large,
                         hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(st.lists(test_mms_codec.pdus, min_size=1,
                           max_size=30))
def test_generated_pdus(tmp_path, pdus):
    _check(pdus, tmp_path)
