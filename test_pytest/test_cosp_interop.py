"""Interoperability of `hat.drivers.cotp` and `hat.drivers.cosp` with
libiec61850, driven through its Python bindings ``pyiec61850``
(``pyiec61850-ng``, GPL: test only, never imported by src_py)

* A libiec61850 MMS client (`IedConnection_connect`, in a subprocess: its
  blocking calls hold the GIL) connects to our COSP responder: its CR must
  be accepted by our COTP responder, its CN (with its connect/accept item,
  session user requirements, selectors and the presentation CP PPDU as user
  data) must decode and reach ``validate_cb``, and our RF refusing it, or
  our AC, must be understood (the client reports a failed connection, and
  nothing is logged as an error on our side).
* Our COSP initiator, sending the CP PPDU of that client, connects to a
  libiec61850 IedServer (AC with a CPA) and releases the connection: FN
  with an ACSE RLRQ answered by DN with an RLRE.

"""

import asyncio
import contextlib
import logging
import subprocess
import sys

import pytest

from hat import aio

from hat.drivers import cosp

from chaos import bounded
from iec61850_peer import start_ied_server


iec = pytest.importorskip('pyiec61850.pyiec61850',
                          reason='pyiec61850-ng (libiec61850) is not '
                                 'installed')

pytestmark = pytest.mark.timeout(60)

localhost = '127.0.0.1'

CLIENT = '''
import sys
from pyiec61850 import pyiec61850 as iec
conn = iec.IedConnection_create()
iec.IedConnection_setConnectTimeout(conn, 5000)
_, error = iec.IedConnection_connect(conn, sys.argv[1], int(sys.argv[2]))
print(error, iec.IedConnection_getState(conn))
iec.IedConnection_destroy(conn)
'''

# MMS abstract syntax 1.0.9506.2.1 as BER object identifier contents
MMS_ABSTRACT_SYNTAX = bytes.fromhex('28 ca 22 02 01')


async def run_client(port):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, '-c', CLIENT, localhost, str(port),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        stdout, stderr = await bounded(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await bounded(proc.wait())
    assert proc.returncode == 0, stderr.decode()
    error, _ = (int(i) for i in stdout.split())
    return error


async def test_libiec61850_client_cn_refused(caplog):
    cn_user_data = aio.Queue()

    def validate(data):
        cn_user_data.put_nowait(data)
        raise cosp.RefuseError()

    srv = await cosp.listen(validate, lambda conn: None,
                            cosp.Address(localhost, 0))
    try:
        error = await run_client(srv.addresses[0].port)
        # IED_ERROR_OK is 0: the refused connection must fail
        assert error != 0
        data = await bounded(cn_user_data.get())
        # the CP PPDU (a BER SET) offering the MMS abstract syntax
        assert data[0] == 0x31
        assert MMS_ABSTRACT_SYNTAX in data
        assert cn_user_data.empty()

    finally:
        await bounded(srv.async_close())

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_libiec61850_client_ac_accepted(caplog):
    """Our AC reaches libiec61850's presentation layer: with user data that
    is no CPA it gives up; our side sees its selectors (libiec61850's
    defaults: TSEL and SSEL 00 01) and the connection end"""
    conn_queue = aio.Queue()
    srv = await cosp.listen(lambda data: b'\x00\x00', conn_queue.put_nowait,
                            cosp.Address(localhost, 0))
    try:
        error = await run_client(srv.addresses[0].port)
        assert error != 0
        conn = await bounded(conn_queue.get())
        assert conn.info.local_tsel == 1
        assert conn.info.local_ssel == 1
        assert conn.info.remote_tsel == 1
        assert conn.info.remote_ssel == 1
        with pytest.raises(cosp.ConnectionClosedError):
            await bounded(conn.read())
        await bounded(conn.wait_closed())

    finally:
        await bounded(srv.async_close())

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@contextlib.contextmanager
def ied_server():
    """A libiec61850 IedServer (one logical device) on 127.0.0.1, on a free
    port (yielded)"""
    model = iec.IedModel_create('hat')
    device = iec.LogicalDevice_create('LD0', model)
    iec.LogicalNode_create('LLN0', device)
    server = None
    try:
        server, port = start_ied_server(iec, model, localhost)
        yield port
    finally:
        if server is not None:
            iec.IedServer_stop(server)
            iec.IedServer_destroy(server)
        iec.IedModel_destroy(model)


# ACSE RLRQ (reason normal) as P-DATA user data of presentation context 1
# (ACSE in libiec61850's CP): fully-encoded-data, one PDV, single ASN.1 type
RELEASE_REQUEST = bytes.fromhex('61 0c 30 0a 02 01 01 a0 05 62 03 80 01 00')


async def test_our_initiator_against_libiec61850_server(caplog):
    """Our COTP and session initiator, carrying the CP PPDU a libiec61850
    client sends, is accepted by a libiec61850 IedServer (AC with a CPA),
    and released: FN carrying an RLRQ is answered by DN carrying an RLRE"""
    cn_user_data = aio.Queue()

    def validate(data):
        cn_user_data.put_nowait(bytes(data))
        raise cosp.RefuseError()

    srv = await cosp.listen(validate, lambda conn: None,
                            cosp.Address(localhost, 0))
    try:
        await run_client(srv.addresses[0].port)
        cp = await bounded(cn_user_data.get())
    finally:
        await bounded(srv.async_close())

    with ied_server() as port:
        conn = await bounded(cosp.connect(cosp.Address(localhost, port),
                                          local_tsel=1, remote_tsel=1,
                                          local_ssel=1, remote_ssel=1,
                                          user_data=cp))
        try:
            cpa = conn.conn_res_user_data
            # CPA PPDU (a BER SET) carrying the AARE with the MMS
            # application context 1.0.9506.2.3
            assert cpa[0] == 0x31
            assert bytes.fromhex('28 ca 22 02 03') in cpa
            dn_user_data = await bounded(conn.release(RELEASE_REQUEST))
            # fully-encoded-data, PDV of context 1: an RLRE
            assert dn_user_data[0] == 0x61
            assert bytes.fromhex('02 01 01') in dn_user_data
            assert 0x63 in dn_user_data
            await bounded(conn.wait_closed())

        finally:
            conn.async_group.close()
            await bounded(conn.wait_closed())

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
