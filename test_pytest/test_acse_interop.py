"""ACSE associations (and the cotp, cosp, copp layers under them) against
libiec61850, through its Python bindings pyiec61850-ng (GPL: test-only,
never imported by src_py).

* our `hat.drivers.acse` initiator against a libiec61850 ``IedServer``
  (bound to 127.0.0.1): AARQ with AP titles and AE qualifiers carrying an
  MMS initiate-RequestPDU, AARE with its initiate-ResponsePDU, P-DATA both
  ways (Identify, Conclude) and release with RLRQ/RLRE;
* a libiec61850 ``IedConnection`` client (in a subprocess: its blocking
  calls hold the GIL) against our `hat.drivers.acse` responder answering
  with canned MMS PDUs: the association is established (state connected),
  the AARQ's selectors, AP titles and AE qualifiers are read, Conclude is
  answered and the client's release succeeds.

The MMS PDUs are octets written by hand (ISO 9506-2), the MMS codec being
written elsewhere.

"""

import asyncio
import subprocess
import sys

import pytest

from hat.drivers import acse
from hat.drivers import ber

from chaos import bounded
from iec61850_peer import start_ied_server


iec = pytest.importorskip(
    'pyiec61850.pyiec61850',
    reason='pyiec61850-ng (libiec61850 bindings) is not installed')

pytestmark = pytest.mark.timeout(60)

localhost = '127.0.0.1'

MMS = (1, 0, 9506, 2, 1)
MMS_CONTEXT = (1, 0, 9506, 2, 3)


def h(text):
    return bytes.fromhex(''.join(text.split()))


INITIATE_REQ = h('a8 26 800300fde8 810105 820105 83010a a416 800101 '
                 '810305f100 820c03ee1c00000408000079ef18')
INITIATE_RES = h('a9 26 800300fde8 810105 820105 83010a a416 800101 '
                 '810305f100 820c03ee1c00000408000079ef18')
IDENTIFY_REQ = h('a0 05 020101 8200')
CONCLUDE_REQ = h('8b 00')
CONCLUDE_RES = h('8c 00')


@pytest.fixture
def iec_server():
    model = iec.IedModel_create('test')
    device = iec.LogicalDevice_create('LD0', model)
    iec.LogicalNode_create('LLN0', device)
    try:
        server, port = start_ied_server(iec, model, localhost)
    except OSError:
        iec.IedModel_destroy(model)
        raise
    try:
        yield acse.Address(localhost, port)
    finally:
        iec.IedServer_stop(server)
        iec.IedServer_destroy(server)
        iec.IedModel_destroy(model)


async def test_our_initiator_against_libiec61850_server(iec_server, caplog):
    conn = await bounded(acse.connect(
        [MMS], MMS_CONTEXT, iec_server,
        local_ap_title=(1, 1, 1, 999), remote_ap_title=(1, 1, 1, 999, 1),
        local_ae_qualifier=12, remote_ae_qualifier=12,
        user_data=(MMS, ber.decode(INITIATE_REQ))))
    try:
        name, initiate_res = conn.conn_res_user_data
        assert name == MMS
        assert (initiate_res.tag_class, initiate_res.tag) == (
            ber.Class.CONTEXT, 9)  # initiate-ResponsePDU

        conn.write((MMS, ber.decode(IDENTIFY_REQ)))
        name, res = await bounded(conn.read())
        assert name == MMS
        assert (res.tag, res.constructed) == (1, True)  # confirmed-Response
        invoke_id, service = res.children()
        assert ber.decode_integer(invoke_id.contents) == 1
        assert service.tag == 2  # identify
        vendor = service.children()[0]
        assert bytes(vendor.contents) == b'libiec61850.com'

        conn.write((MMS, ber.decode(CONCLUDE_REQ)))
        name, res = await bounded(conn.read())
        assert ber.encode(res) == CONCLUDE_RES

        # RLRQ answered with RLRE (release raises otherwise)
        await bounded(conn.release())
        assert conn.is_closed

    finally:
        conn.async_group.close()
        await bounded(conn.wait_closed())
    assert [r for r in caplog.records if r.levelname == 'ERROR'] == []


CLIENT = r'''
import sys
import pyiec61850.pyiec61850 as iec
# libiec61850 (MmsConnection_connectAsync) sets its MMS state to
# "connecting" after its thread has started the association: under load
# the association can complete first, and the connection reports success,
# then fails every request with IED_ERROR_CONNECTION_LOST without sending
# it. Such a connection is dropped and made again (up to 5 attempts).
for attempt in range(1, 6):
    con = iec.IedConnection_create()
    iec.IedConnection_setConnectTimeout(con, 5000)
    error = iec.IedConnection_connect(con, '127.0.0.1', int(sys.argv[1]))
    connect = error[-1] if isinstance(error, tuple) else error
    state = iec.IedConnection_getState(con)
    error = iec.IedConnection_release(con)
    release = error[-1] if isinstance(error, tuple) else error
    iec.IedConnection_destroy(con)
    if connect != 0 or release != iec.IED_ERROR_CONNECTION_LOST:
        break
    print('attempt', attempt, 'failed at once (libiec61850 race)',
          file=sys.stderr, flush=True)
print('connect', connect, state, flush=True)
print('release', release, flush=True)
print('attempts', attempt, flush=True)
'''


async def test_libiec61850_client_against_our_responder(caplog):
    validated = []
    conns = []
    concluded = asyncio.Event()
    closed = asyncio.Event()

    def validate_cb(syntax_names, user_data):
        validated.append(user_data)
        return MMS, ber.decode(INITIATE_RES)

    async def serve(conn):
        conns.append(conn)
        try:
            while True:
                name, pdu = await conn.read()
                if ber.encode(pdu) == CONCLUDE_REQ:
                    conn.write((MMS, ber.decode(CONCLUDE_RES)))
                    concluded.set()
        except ConnectionError:
            closed.set()

    def connection_cb(conn):
        conn.async_group.spawn(serve, conn)

    srv = await acse.listen(validate_cb, connection_cb,
                            acse.Address(localhost, 0))
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, '-c', CLIENT, str(srv.addresses[0].port),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            stdout, stderr = await bounded(proc.communicate())
        finally:
            if proc.returncode is None:
                proc.kill()
                await bounded(proc.wait())
        assert proc.returncode == 0, stderr.decode(errors='replace')
        lines = stdout.decode().splitlines()
        # IED_ERROR_OK (0), IED_STATE_CONNECTED (2)
        assert lines[:2] == ['connect 0 2', 'release 0'], stderr.decode(
            errors='replace')
        attempts = int(lines[2].split()[1])

        # a connection the client dropped at once (see CLIENT) was
        # associated, then closed by the client without a conclude
        assert len(conns) == len(validated) == attempts
        for user_data in validated:
            assert user_data[0] == MMS
            assert (user_data[1].tag_class, user_data[1].tag) == (
                ber.Class.CONTEXT, 8)  # initiate-RequestPDU
        for dropped in conns[:-1]:
            await bounded(dropped.wait_closed())
        conn = conns[-1]
        # libiec61850's defaults: selectors 1 (TSEL, SSEL 2 octets, PSEL
        # 4 octets), AP title 1.1.1.999(.1), AE qualifier 12
        assert conn.info.remote_tsel == 1
        assert conn.info.remote_ssel == 1
        assert conn.info.remote_psel == 1
        assert conn.info.remote_ap_title == (1, 1, 1, 999)
        assert conn.info.local_ap_title == (1, 1, 1, 999, 1)
        assert conn.info.remote_ae_qualifier == 12
        assert concluded.is_set()
        await bounded(closed.wait())
        await bounded(conn.wait_closed())

    finally:
        for conn in conns:
            conn.async_group.close()
        await bounded(srv.async_close())
    assert [r for r in caplog.records if r.levelname == 'ERROR'] == []
