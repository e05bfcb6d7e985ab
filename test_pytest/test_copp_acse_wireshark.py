"""Wireshark's dissectors read the presentation and ACSE PPDUs/APDUs

The PPDUs of `hat.drivers.copp.codec` and APDUs of
`hat.drivers.acse.codec`, wrapped in hand-made session SPDUs (ISO 8327-1),
COTP DT TPDUs and TPKT (the layers being written elsewhere are not used),
are written to a pcap file as TCP streams on port 102 and dissected by
tshark (no live capture): an association with AARQ/AARE carrying MMS
initiate PDUs, P-DATA carrying a Read request and response, release with
RLRQ/RLRE; an abort by ARU carrying ABRT; a refusal by CPR carrying a
rejected AARE; an abort by ARP. Wireshark must decode every frame as
tpkt:cotp:ses:pres[:acse][:mms] with no malformed frame and no expert
warning or error, and read back the values we encoded.

A second test captures a live association between our `hat.drivers.acse`
initiator and responder on loopback (AARQ/AARE with MMS initiate PDUs,
P-DATA both ways, release RLRQ in the session FINISH answered by the RLRE
in the DISCONNECT) and checks the same.

Skipped without tshark (failed instead when ``HAT_DRIVERS_REQUIRE_TSHARK``
is set).

"""

import asyncio
import contextlib
import shutil
import struct

import pytest

from hat import aio

from hat.drivers import acse as acse_connection
from hat.drivers import ber
from hat.drivers.acse import codec as acse_codec
from hat.drivers.acse import common as acse
from hat.drivers.copp import codec as copp_codec
from hat.drivers.copp import common as copp

from chaos import bounded
import tshark


def h(text):
    return bytes.fromhex(''.join(text.split()))


ACSE_AS = (2, 2, 1, 0, 1)
MMS_AS = (1, 0, 9506, 2, 1)
BER = (2, 1, 1)
MMS_CONTEXT = (1, 0, 9506, 2, 3)
SEL = b'\x00\x00\x00\x01'

# MMS PDUs (ISO 9506-2), as libiec61850 sends them
INITIATE_REQ = h('a8 26 800300fde8 810105 820105 83010a a416 800101 '
                 '810305f100 820c03ee1c00000408000079ef18')
INITIATE_RES = h('a9 26 800300fde8 810105 820105 83010a a416 800101 '
                 '810305f100 820c03ee1c00000408000079ef18')
READ_REQ = h('a0 2a 020204d2 a424 a122 a020 301e a01c a11a 1a034c4430 '
             '1a134d4d585531244d5824546f7457246d61672466')
READ_RES = h('a1 0f 020204d2 a409 a107 8705083fc00000')


def _user_data(context_id, element):
    return copp.FullyEncodedData([copp.PdvList(None, context_id, element)])


def _mms(octets):
    return ber.External(ber.decode(octets), BER, 3)


AARQ = acse.AarqApdu(
    None, MMS_CONTEXT, (1, 1, 1, 999, 1), 12, None, None, (1, 1, 1, 999), 12,
    None, None, None, None, None, None, None, [_mms(INITIATE_REQ)])
AARE = acse.AareApdu(
    [True], MMS_CONTEXT, acse.AssociateResult.ACCEPTED,
    acse.ResultSourceDiagnostic(acse.ResultSource.ACSE_SERVICE_USER,
                                acse.UserDiagnostic.NULL),
    (1, 1, 1, 999, 1), 12, None, None, None, None, None, None, None,
    [_mms(INITIATE_RES)])
AARE_REJECTED = acse.AareApdu(
    [True], MMS_CONTEXT, acse.AssociateResult.REJECTED_PERMANENT,
    acse.ResultSourceDiagnostic(
        acse.ResultSource.ACSE_SERVICE_USER,
        acse.UserDiagnostic.CALLED_AP_TITLE_NOT_RECOGNIZED),
    *[None] * 10)
RESULTS = [copp.ContextResult(copp.Result.ACCEPTANCE, BER, None)] * 2

CP = copp_codec.encode_cp(copp.CpPpdu(
    None, SEL, SEL,
    [copp.ContextDefinition(1, ACSE_AS, [BER]),
     copp.ContextDefinition(3, MMS_AS, [BER])],
    None, None, None, _user_data(1, acse_codec.encode_entity(AARQ))))
CPA = copp_codec.encode_cpa(copp.CpaPpdu(
    [True], SEL, RESULTS, None, None,
    _user_data(1, acse_codec.encode_entity(AARE))))
CPR = copp_codec.encode_cpr(copp.CprPpdu(
    [True], SEL, RESULTS, None, None,
    _user_data(1, acse_codec.encode_entity(AARE_REJECTED))))
P_DATA_REQ = copp_codec.encode_user_data(
    _user_data(3, ber.decode(READ_REQ)))
P_DATA_RES = copp_codec.encode_user_data(
    _user_data(3, ber.decode(READ_RES)))
RLRQ = copp_codec.encode_user_data(_user_data(1, acse_codec.encode_entity(
    acse.RlrqApdu(acse.ReleaseRequestReason.NORMAL, None))))
RLRE = copp_codec.encode_user_data(_user_data(1, acse_codec.encode_entity(
    acse.RlreApdu(acse.ReleaseResponseReason.NORMAL, None))))
ARU = copp_codec.encode_abort(copp.AruPpdu(None, _user_data(
    1, acse_codec.encode_entity(acse.AbrtApdu(
        acse.AbortSource.ACSE_SERVICE_USER, None, None)))))
ARP = copp_codec.encode_abort(copp.ArpPpdu(
    copp.AbortReason.UNRECOGNIZED_PPDU, copp.EventIdentifier.CP_PPDU))


# --- session, COTP, TPKT, TCP/IP wrapping (by hand) -------------------------

def _pi(code, data):
    n = len(data)
    length = bytes([n]) if n < 255 else b'\xff' + n.to_bytes(2, 'big')
    return bytes([code]) + length + data


_CONNECT_ITEMS = (_pi(5, h('130100 160102')) + _pi(20, h('0002')) +
                  _pi(51, h('0001')) + _pi(52, h('0001')))


def _cotp_dt(payload):
    data = h('02 f0 80') + payload
    return struct.pack('>BBH', 3, 0, len(data) + 4) + data


CN = _cotp_dt(_pi(13, _CONNECT_ITEMS + _pi(193, CP)))
AC = _cotp_dt(_pi(14, _CONNECT_ITEMS + _pi(193, CPA)))
RF = _cotp_dt(_pi(12, _pi(17, h('01')) + _pi(50, b'\x02' + CPR)))
DT_REQ = _cotp_dt(h('01 00 01 00') + P_DATA_REQ)
DT_RES = _cotp_dt(h('01 00 01 00') + P_DATA_RES)
FN = _cotp_dt(_pi(9, _pi(17, h('03')) + _pi(193, RLRQ)))
DN = _cotp_dt(_pi(10, _pi(193, RLRE)))
AB_ARU = _cotp_dt(_pi(25, _pi(17, h('03')) + _pi(193, ARU)))
AB_ARP = _cotp_dt(_pi(25, _pi(17, h('03')) + _pi(193, ARP)))
CR = h('0300 0016 11 e0 0000 0001 00 c0010a c2020001 c1020001')
CC = h('0300 0016 11 d0 0001 0002 00 c0010a c2020001 c1020001')


def _checksum(data):
    if len(data) % 2:
        data += b'\x00'
    total = sum(struct.unpack(f'>{len(data) // 2}H', data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def _frame(sport, dport, seq, ack, flags, payload):
    addr = bytes([127, 0, 0, 1])
    tcp = struct.pack('>HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0)
    pseudo = addr + addr + struct.pack('>BBH', 0, 6, len(tcp) + len(payload))
    tcp = (tcp[:16] + struct.pack('>H', _checksum(pseudo + tcp + payload)) +
           tcp[18:])
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(tcp) + len(payload),
                     1, 0, 64, 6, 0, addr, addr)
    ip = ip[:10] + struct.pack('>H', _checksum(ip)) + ip[12:]
    return bytes(12) + b'\x08\x00' + ip + tcp + payload


def _stream(port, messages):
    """TCP stream client port -> 102: handshake, then (from_client,
    payload) messages"""
    client_seq, server_seq = 1000, 5000
    frames = [_frame(port, 102, client_seq, 0, 0x02, b''),
              _frame(102, port, server_seq, client_seq + 1, 0x12, b''),
              _frame(port, 102, client_seq + 1, server_seq + 1, 0x10, b'')]
    client_seq += 1
    server_seq += 1
    for from_client, payload in messages:
        if from_client:
            frames.append(_frame(port, 102, client_seq, server_seq, 0x18,
                                 payload))
            client_seq += len(payload)
        else:
            frames.append(_frame(102, port, server_seq, client_seq, 0x18,
                                 payload))
            server_seq += len(payload)
    return frames


def _write_pcap(path, frames):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack('<IIII', i, 0, len(frame), len(frame)))
            f.write(frame)


FIELDS = ['frame.protocols', '_ws.col.Info', '_ws.malformed',
          '_ws.expert.severity', 'pres.presentation_context_identifier',
          'acse.aSO_context_name', 'acse.ap_title_form2',
          'acse.aso_qualifier_form2', 'acse.result', 'acse.service_user',
          'pres.provider_reason', 'pres.event_identifier']

# expert severities PI_WARN and PI_ERROR
WARN = 0x00600000
ERROR = 0x00800000


async def test_wireshark_decodes_ppdus_and_apdus(tmp_path):
    if shutil.which('tshark') is None:
        tshark.unavailable('tshark is not installed (apt-get install '
                           'tshark)')

    streams = [
        [(1, CR), (0, CC), (1, CN), (0, AC), (1, DT_REQ), (0, DT_RES),
         (1, FN), (0, DN)],
        [(1, CR), (0, CC), (1, CN), (0, AC), (1, AB_ARU)],
        [(1, CR), (0, CC), (1, CN), (0, RF)],
        [(1, CR), (0, CC), (1, CN), (0, AB_ARP)]]
    frames = [frame for i, messages in enumerate(streams)
              for frame in _stream(40000 + i, messages)]
    pcap = tmp_path / 'osi.pcap'
    _write_pcap(pcap, frames)

    rows = await tshark.decode(pcap, 102, 'tpkt', FIELDS)
    rows = [dict(zip(FIELDS, row, strict=True)) for row in rows]

    assert [row for row in rows if row['_ws.malformed']] == []
    for row in rows:
        severities = [int(s, 0) for s in row['_ws.expert.severity'].split(
            ',') if s]
        assert all(s < WARN for s in severities), row

    session = [row for row in rows if ':ses' in row['frame.protocols']]
    stack = 'eth:ethertype:ip:tcp:tpkt:cotp:ses:pres'
    assert [row['frame.protocols'] for row in session] == [
        f'{stack}:acse:mms', f'{stack}:acse:mms', f'{stack}:mms',
        f'{stack}:mms', f'{stack}:acse', f'{stack}:acse',
        f'{stack}:acse:mms', f'{stack}:acse:mms', f'{stack}:acse',
        f'{stack}:acse:mms', f'{stack}:acse',
        f'{stack}:acse:mms', stack]

    cp, cpa, read_req, read_res, rlrq, rlre = session[:6]
    assert cp['pres.presentation_context_identifier'] == '1,3,1'
    assert cp['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert cp['acse.ap_title_form2'] == '1.1.1.999.1,1.1.1.999'
    assert cp['acse.aso_qualifier_form2'] == '12,12'
    assert 'initiate-RequestPDU' in cp['_ws.col.Info']
    assert cpa['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert cpa['acse.result'] == '0'
    assert cpa['acse.ap_title_form2'] == '1.1.1.999.1'
    assert 'initiate-ResponsePDU' in cpa['_ws.col.Info']
    assert read_req['_ws.col.Info'] == ('1234 confirmed-RequestPDU LD0 '
                                        'MMXU1$MX$TotW$mag$f')
    assert read_res['_ws.col.Info'] == '1234 confirmed-ResponsePDU 1.500000'
    assert rlrq['_ws.col.Info'] == 'Release-Request (normal)'
    assert rlre['_ws.col.Info'] == 'Release-Response (normal)'

    aru = session[8]
    assert aru['_ws.col.Info'] == 'Abort (service-user)'

    cpr = session[10]
    assert cpr['acse.result'] == '1'
    assert cpr['acse.service_user'] == '7'

    arp = session[12]
    assert arp['pres.provider_reason'] == '1'
    assert arp['pres.event_identifier'] == '0'


@pytest.mark.timeout(120)
async def test_wireshark_decodes_live_association(tmp_path, caplog):
    pcap_path = tmp_path / 'acse.pcap'
    conn_queue = aio.Queue()
    mms = (1, 0, 9506, 2, 1)

    srv = await acse_connection.listen(
        lambda names, data: (mms, ber.decode(INITIATE_RES)),
        conn_queue.put_nowait, acse_connection.Address('127.0.0.1', 0),
        bind_connections=True)
    port = srv.addresses[0].port
    try:
        async with tshark.capture(port, pcap_path, 'tpkt',
                                  FIELDS[:1]) as lines:
            conn = await bounded(acse_connection.connect(
                [mms], MMS_CONTEXT, srv.addresses[0],
                local_ap_title=(1, 1, 1, 999),
                remote_ap_title=(1, 1, 1, 999, 1),
                local_ae_qualifier=12, remote_ae_qualifier=12,
                user_data=(mms, ber.decode(INITIATE_REQ))))
            server_conn = await bounded(conn_queue.get())
            conn.write((mms, ber.decode(READ_REQ)))
            await bounded(server_conn.read())
            server_conn.write((mms, ber.decode(READ_RES)))
            await bounded(conn.read())
            await bounded(conn.release())
            await bounded(server_conn.wait_closed())

            async def wait_session_frames(count):
                # the capture is complete once tshark has shown them
                while count:
                    line = await lines.get()
                    if ':ses' in line:
                        count -= 1

            with contextlib.suppress(asyncio.TimeoutError,
                                     aio.QueueClosedError):
                await asyncio.wait_for(wait_session_frames(6), 30)
    finally:
        await bounded(srv.async_close())

    rows = await tshark.decode(
        pcap_path, port, 'tpkt', FIELDS,
        ['-o', 'tcp.desegment_tcp_streams:TRUE', '-o', 'tpkt.desegment:TRUE'])
    rows = [dict(zip(FIELDS, row, strict=True)) for row in rows]
    assert [row for row in rows if row['_ws.malformed']] == []
    for row in rows:
        severities = [int(s, 0) for s in row['_ws.expert.severity'].split(
            ',') if s]
        # a live close can draw TCP warnings (a duplicate ACK after FIN):
        # warnings are allowed on frames without session data
        limit = WARN if ':ses' in row['frame.protocols'] else ERROR
        assert all(s < limit for s in severities), row

    stack = 'eth:ethertype:ip:tcp:tpkt:cotp:ses:pres'
    session = [row for row in rows if ':ses' in row['frame.protocols']]
    assert [row['frame.protocols'] for row in session] == [
        f'{stack}:acse:mms', f'{stack}:acse:mms', f'{stack}:mms',
        f'{stack}:mms', f'{stack}:acse', f'{stack}:acse']
    cp, cpa = session[:2]
    assert cp['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert cp['acse.ap_title_form2'] == '1.1.1.999.1,1.1.1.999'
    assert cpa['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert cpa['acse.ap_title_form2'] == '1.1.1.999.1'
    assert session[4]['_ws.col.Info'] == 'Release-Request (normal)'
    # the responder answers the RLRQ with an RLRE in the session DN
    assert session[5]['_ws.col.Info'] == 'Release-Response (normal)'
    assert [r for r in caplog.records if r.levelname == 'ERROR'] == []
