"""Wireshark's COTP dissector decodes what `hat.drivers.cotp` sends

A real exchange on loopback is captured with tshark and read back with
Wireshark's ``tpkt`` and ``cotp`` dissectors (``-d tcp.port==PORT,tpkt``):

* our initiator and our responder: CR and CC with TSELs and TPDU size,
  TSDUs of 5000 octets segmented into DT TPDUs both ways, close;
* a raw initiator proposing class 2 only: our DR (negotiation failed);
* a raw initiator sending a second CR on an established connection: our
  ER.

Wireshark must find no malformed packet and no expert error, and decode
each TPDU type, the TPDU size, EOT flags, the DR reason and the ER cause.

tshark missing or unable to capture: skipped, or failed when
``HAT_DRIVERS_REQUIRE_TSHARK`` is set (CI); see `tshark`.

"""

import asyncio
import contextlib

import pytest

from hat import aio

from hat.drivers import cotp
from hat.drivers import tpkt

from chaos import bounded
import tshark


pytestmark = pytest.mark.timeout(120)

localhost = '127.0.0.1'

CR, CC, DR, DT, ER = 0x0e, 0x0d, 0x08, 0x0f, 0x07

fields = ['tcp.srcport', 'cotp.type', 'cotp.tpdu_size', 'cotp.eot',
          'cotp.cause', 'cotp.reject_cause', 'cotp.src-tsap-bytes',
          'cotp.dst-tsap-bytes', '_ws.malformed', '_ws.expert.severity']

EXPERT_ERROR = 0x00800000


async def test_wireshark_decodes_cotp(tmp_path, caplog):
    pcap_path = tmp_path / 'cotp.pcap'
    conn_queue = aio.Queue()
    srv = await cotp.listen(conn_queue.put_nowait,
                            cotp.Address(localhost, 0),
                            bind_connections=True)
    port = srv.addresses[0].port
    data = b'hello cotp ' * 455  # 5005 octets: 3 DT TPDUs of 2048 octets
    try:
        async with tshark.capture(port, pcap_path, 'tpkt',
                                  fields) as lines:
            conn1 = await bounded(cotp.connect(srv.addresses[0],
                                               local_tsel=1,
                                               remote_tsel=b'\x00\x01\x02'))
            conn2 = await bounded(conn_queue.get())
            conn1.write(data)
            assert await bounded(conn2.read()) == data
            conn2.write(data)
            assert await bounded(conn1.read()) == data
            client_port = conn1.info.local_addr.port
            await bounded(conn1.async_close())

            # class 2 only: DR
            raw = await bounded(tpkt.connect(srv.addresses[0]))
            raw.write(bytes.fromhex('06 e0 00 00 00 05 20'))
            dr = await bounded(raw.read())
            dr_port = raw.info.local_addr.port
            await bounded(raw.async_close())

            # a second CR on an established connection: ER
            raw = await bounded(tpkt.connect(srv.addresses[0]))
            raw.write(bytes.fromhex('06 e0 00 00 00 06 00'))
            await bounded(raw.read())
            raw.write(bytes.fromhex('06 e0 00 00 00 07 00'))
            conn3 = await bounded(conn_queue.get())
            with pytest.raises(cotp.ConnectionClosedError):
                await bounded(conn3.read())
            er = await bounded(raw.read())
            er_port = raw.info.local_addr.port
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
            await bounded(raw.async_close())
            assert dr[1] == 0x80 and er[1] == 0x70

            # wait until the live capture has seen the ER
            async def wait_er():
                while True:
                    line = await lines.get()
                    if f'0x{ER:02x}' in line.split('\t')[2].split(','):
                        return

            with contextlib.suppress(asyncio.TimeoutError,
                                     aio.QueueClosedError):
                await asyncio.wait_for(wait_er(), 30)

    finally:
        await bounded(srv.async_close())

    rows = await tshark.decode(
        pcap_path, port, 'tpkt', fields,
        ['-o', 'tcp.desegment_tcp_streams:TRUE',
         '-o', 'tpkt.desegment:TRUE'])

    def values(text):
        return text.split(',') if text else []

    decoded = {}  # srcport: {field: [values, in order]}
    for row in rows:
        malformed, severities = row[-2:]
        assert not malformed, rows
        assert not any(int(s, 0) >= EXPERT_ERROR
                       for s in values(severities)), rows
        port_fields = decoded.setdefault(int(row[0]), {})
        for field, text in zip(fields[1:-2], row[1:-2], strict=True):
            port_fields.setdefault(field, []).extend(values(text))

    client = decoded[client_port]
    assert client['cotp.type'] == [f'0x{t:02x}' for t in (CR, DT, DT, DT)]
    assert client['cotp.tpdu_size'] == ['2048']
    assert client['cotp.eot'] == ['0', '0', '1']
    assert client['cotp.src-tsap-bytes'] == ['0001']
    assert client['cotp.dst-tsap-bytes'] == ['000102']

    server = decoded[port]
    assert server['cotp.type'] == [f'0x{t:02x}'
                                   for t in (CC, DT, DT, DT, DR, CC, ER)]
    # the second CC answers a CR without TPDU size: it has none either
    assert server['cotp.tpdu_size'] == ['2048']
    assert server['cotp.eot'] == ['0', '0', '1']
    # the ER's invalid TPDU parameter has the code of a calling TSEL (C1):
    # Wireshark shows it as one (the rejected CR's LI and code)
    assert server['cotp.src-tsap-bytes'] == ['0001', '06e0']
    assert server['cotp.dst-tsap-bytes'] == ['000102']
    assert server['cotp.cause'] == [str(0x82)]
    assert server['cotp.reject_cause'] == ['0']
    assert dr_port != er_port
