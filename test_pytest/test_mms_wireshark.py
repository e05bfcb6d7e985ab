"""Wireshark's dissectors read a live association of our MMS client and
server

Our `hat.drivers.mms` client and server talk on loopback while tshark
captures the port (`tshark.capture`): initiate (AARQ/AARE carrying the
MMS initiate PDUs), identify, getNameList, read, write, an information
report from the server, conclude, and the ACSE release (RLRQ in the
session FINISH, RLRE in the DISCONNECT). The capture is then dissected
with ``-d tcp.port==PORT,tpkt`` (`tshark.decode`): every frame with session
data must decode as tpkt:cotp:ses:pres[:acse][:mms], in the order of the
exchange, with Wireshark reading the services we sent, and no frame may
be malformed or carry an expert error (session frames no expert warning
either; a live close can draw TCP warnings on frames without data).

Skipped without tshark; failed instead when ``HAT_DRIVERS_REQUIRE_TSHARK``
is set (CI).

"""

import asyncio
import contextlib
import logging

import pytest

from hat import aio

from hat.drivers import mms

from chaos import bounded
import tshark


FIELDS = ['frame.protocols', '_ws.col.Info', '_ws.malformed',
          '_ws.expert.severity', 'acse.aSO_context_name',
          'mms.confirmedServiceRequest', 'mms.confirmedServiceResponse',
          'mms.unconfirmedService', 'mms.invokeID']

# expert severities PI_WARN and PI_ERROR
WARN = 0x00600000
ERROR = 0x00800000

STACK = 'eth:ethertype:ip:tcp:tpkt:cotp:ses:pres'

NAME = mms.DomainSpecificObjectName('LD0', 'MMXU1$MX$TotW$mag$f')
REPORT = mms.InformationReportUnconfirmed(
    mms.VmdSpecificObjectName('RPT'),
    [mms.VisibleStringData('LD0/LLN0$RP$urcb01'), mms.FloatingPointData(2.5)])


def on_request(conn, request):
    if isinstance(request, mms.IdentifyRequest):
        return mms.IdentifyResponse('hat', 'test', '1', None)
    if isinstance(request, mms.GetNameListRequest):
        return mms.GetNameListResponse(['LD0'], False)
    if isinstance(request, mms.ReadRequest):
        return mms.ReadResponse([mms.FloatingPointData(1.5)])
    if isinstance(request, mms.WriteRequest):
        return mms.WriteResponse([None])
    return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)


def on_client_request(conn, request):
    return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)


@pytest.mark.timeout(120)
async def test_wireshark_decodes_mms_association(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    pcap_path = tmp_path / 'mms.pcap'
    conn_queue = aio.Queue()
    srv = await mms.listen(conn_queue.put_nowait, on_request,
                           mms.Address('127.0.0.1', 0))
    port = srv.addresses[0].port
    try:
        async with tshark.capture(port, pcap_path, 'tpkt',
                                  FIELDS[:1]) as lines:
            client = await bounded(mms.connect(
                on_client_request, mms.Address('127.0.0.1', port)))
            server_conn = await bounded(conn_queue.get())
            try:
                assert await bounded(client.send_confirmed(
                    mms.IdentifyRequest())) == mms.IdentifyResponse(
                        'hat', 'test', '1', None)
                assert await bounded(client.send_confirmed(
                    mms.GetNameListRequest(
                        mms.ObjectClass.DOMAIN,
                        mms.VmdSpecificObjectScope(), None))) == \
                    mms.GetNameListResponse(['LD0'], False)
                assert await bounded(client.send_confirmed(
                    mms.ReadRequest([mms.NameVariableSpecification(
                        NAME)]))) == mms.ReadResponse(
                            [mms.FloatingPointData(1.5)])
                assert await bounded(client.send_confirmed(
                    mms.WriteRequest(
                        [mms.NameVariableSpecification(NAME)],
                        [mms.FloatingPointData(3.0)]))) == \
                    mms.WriteResponse([None])
                server_conn.send_unconfirmed(REPORT)
                assert await bounded(client.receive_unconfirmed()) == REPORT

            finally:
                # conclude, then release (RLRQ/RLRE)
                await bounded(client.async_close())
                await bounded(server_conn.wait_closed())

            async def wait_session_frames(count):
                # the capture is complete once tshark has shown them
                while count:
                    line = await lines.get()
                    if ':ses' in line:
                        count -= 1

            with contextlib.suppress(asyncio.TimeoutError,
                                     aio.QueueClosedError):
                await asyncio.wait_for(wait_session_frames(15), 30)

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
        limit = WARN if ':ses' in row['frame.protocols'] else ERROR
        assert all(s < limit for s in severities), row

    session = [row for row in rows if ':ses' in row['frame.protocols']]
    assert [row['frame.protocols'] for row in session] == [
        f'{STACK}:acse:mms', f'{STACK}:acse:mms',
        *[f'{STACK}:mms'] * 11,
        f'{STACK}:acse', f'{STACK}:acse']

    cp, cpa = session[:2]
    assert cp['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert 'initiate-RequestPDU' in cp['_ws.col.Info']
    assert cpa['acse.aSO_context_name'] == '1.0.9506.2.3'
    assert 'initiate-ResponsePDU' in cpa['_ws.col.Info']

    # confirmed services (ISO 9506-2 ConfirmedServiceRequest/Response
    # choices: getNameList 1, identify 2, read 4, write 5), request then
    # response with the same invoke ID
    confirmed = session[2:10]
    assert [(row['mms.confirmedServiceRequest'],
             row['mms.confirmedServiceResponse']) for row in confirmed] == [
        ('2', ''), ('', '2'), ('1', ''), ('', '1'),
        ('4', ''), ('', '4'), ('5', ''), ('', '5')]
    invoke_ids = [row['mms.invokeID'] for row in confirmed]
    assert all(invoke_ids)
    assert invoke_ids[0::2] == invoke_ids[1::2]
    assert len(set(invoke_ids)) == 4
    assert '1.500000' in confirmed[5]['_ws.col.Info']

    report = session[10]
    assert report['mms.unconfirmedService'] == '0'  # informationReport
    assert 'unconfirmed-PDU' in report['_ws.col.Info']

    conclude_request, conclude_response = session[11:13]
    assert 'conclude-RequestPDU' in conclude_request['_ws.col.Info']
    assert 'conclude-ResponsePDU' in conclude_response['_ws.col.Info']

    rlrq, rlre = session[13:]
    assert rlrq['_ws.col.Info'] == 'Release-Request (normal)'
    assert rlre['_ws.col.Info'] == 'Release-Response (normal)'

    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
