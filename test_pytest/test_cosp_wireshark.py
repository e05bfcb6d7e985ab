"""Wireshark's session dissector decodes what `hat.drivers.cosp` sends

A real exchange on loopback is captured with tshark and read back with
Wireshark's ``tpkt``, ``cotp`` and ``ses`` dissectors
(``-d tcp.port==PORT,tpkt``; the presentation dissector is disabled: the
user data here is not presentation PDUs):

* our initiator and our responder: CN with SSELs and extended user data
  (over 512 octets), AC, DT both ways, FN and DN with user data (release);
* a refusal: CN, RF (reason 2 with user data);
* a protocol error: a raw initiator's unknown SPDU after CN/AC, our AB.

Wireshark must find no malformed packet and no expert error, and decode
each SPDU type (CN 13, AC 14, RF 12, FN 9, DN 10, AB 25, GT/DT 1).

tshark missing or unable to capture: skipped, or failed when
``HAT_DRIVERS_REQUIRE_TSHARK`` is set (CI); see `tshark`.

"""

import asyncio
import contextlib

import pytest

from hat import aio

from hat.drivers import cosp
from hat.drivers import cotp

from chaos import bounded
import tshark


pytestmark = pytest.mark.timeout(120)

localhost = '127.0.0.1'

fields = ['tcp.srcport', 'cotp.type', 'ses.type', 'ses.protocol_version2',
          'ses.duplex', 'ses.calling_session_selector',
          'ses.called_session_selector', '_ws.malformed',
          '_ws.expert.severity']

EXPERT_ERROR = 0x00800000
CN, AC, RF, FN, DN, AB, DT = 13, 14, 12, 9, 10, 25, 1


async def test_wireshark_decodes_cosp(tmp_path, caplog):
    pcap_path = tmp_path / 'cosp.pcap'
    conn_queue = aio.Queue()

    def validate(data):
        if data == b'refuse':
            raise cosp.RefuseError(b'no')
        return b'accepted'

    srv = await cosp.listen(validate, conn_queue.put_nowait,
                            cosp.Address(localhost, 0),
                            release_cb=lambda data: b'dn data',
                            bind_connections=True)
    port = srv.addresses[0].port
    try:
        async with tshark.capture(port, pcap_path, 'tpkt',
                                  fields) as lines:
            conn1 = await bounded(cosp.connect(
                srv.addresses[0], local_ssel=1, remote_ssel=2,
                user_data=b'cn data ' * 100))
            conn2 = await bounded(conn_queue.get())
            conn1.write(b'hello session')
            assert await bounded(conn2.read()) == b'hello session'
            conn2.write(b'hello back')
            assert await bounded(conn1.read()) == b'hello back'
            assert await bounded(conn1.release(b'fn data')) == b'dn data'
            client_port = conn1.info.local_addr.port

            with pytest.raises(cosp.RefusedError):
                await bounded(cosp.connect(srv.addresses[0],
                                           user_data=b'refuse'))

            raw = await bounded(cotp.connect(srv.addresses[0]))
            raw.write(bytes.fromhex('0d 0c 05 06 13 01 00 16 01 02 14 02 '
                                    '00 02'))
            await bounded(raw.read())
            raw.write(bytes.fromhex('63 00'))
            ab = await bounded(raw.read())
            assert ab[0] == AB
            await bounded(raw.async_close())

            async def wait_ab():
                while True:
                    line = await lines.get()
                    if str(AB) in line.split('\t')[3].split(','):
                        return

            with contextlib.suppress(asyncio.TimeoutError,
                                     aio.QueueClosedError):
                await asyncio.wait_for(wait_ab(), 30)

    finally:
        await bounded(srv.async_close())

    rows = await tshark.decode(
        pcap_path, port, 'tpkt', fields,
        ['-o', 'tcp.desegment_tcp_streams:TRUE',
         '-o', 'tpkt.desegment:TRUE', '--disable-protocol', 'pres'])

    def values(text):
        return text.split(',') if text else []

    decoded = {}
    for row in rows:
        malformed, severities = row[-2:]
        assert not malformed, rows
        assert not any(int(s, 0) >= EXPERT_ERROR
                       for s in values(severities)), rows
        port_fields = decoded.setdefault(int(row[0]), {})
        for field, text in zip(fields[1:-2], row[1:-2], strict=True):
            port_fields.setdefault(field, []).extend(values(text))

    client = decoded[client_port]
    # GT and DT share SPDU type 1: Wireshark shows both
    assert [int(t) for t in client['ses.type']] == [CN, DT, DT, FN]
    assert client['ses.calling_session_selector'] == ['0001']
    assert client['ses.called_session_selector'] == ['0002']

    server_types = [int(t) for t in decoded[port]['ses.type']]
    assert server_types == [AC, DT, DT, DN, RF, AC, AB]
