"""Hostile findings on the OSI layers (cotp, cosp, copp, acse, ber, mms codec).

Each test reproduces one bug a hostile tester found; fixed bugs keep their
test passing. An INTEGER of more than 4300 decimal digits (about 1786
octets) cannot be turned into a ``str`` in CPython (``int_max_str_digits``),
so error messages that format a peer's INTEGER raised a plain `ValueError`
instead of the codec's one error class (or, in copp, made the receive task
fail without naming the octets). copp's receive queue was bounded by
P-DATA, not their size (a P-DATA of tiny PDVs decoded to 45 times its
octets; now PDVs are decoded one at a time into a queue bounded in PDVs),
and our release waited behind unread P-DATA until ``release_timeout`` (now
it reads on to the DN, discarding what nobody reads beyond the bounds).

"""

import contextlib
import logging

import pytest

from hat import aio

from hat.drivers import ber
from hat.drivers import copp
from hat.drivers import cosp
from hat.drivers.acse import codec as acse_codec
from hat.drivers.copp import codec as copp_codec
from hat.drivers.mms import codec as mms_codec

from chaos import bounded


pytestmark = pytest.mark.timeout(30)

# INTEGER contents of 2048 octets: about 4930 decimal digits
BIG = ber.encode_length(2048) + b'\x7f' * 2048


def tlv(identifier, contents):
    return bytes([identifier]) + ber.encode_length(len(contents)) + contents


def test_copp_cp_huge_mode_value_raises_ppdu_decode_error():
    # CP-type: SET { mode-selector [0] { mode-value [0] INTEGER } }
    cp = tlv(0x31, tlv(0xa0, b'\x80' + BIG))
    with pytest.raises(copp_codec.PpduDecodeError, match='mode-value'):
        copp_codec.decode_cp(cp)


def test_copp_arp_huge_provider_reason_raises_ppdu_decode_error():
    # ARP-PPDU: SEQUENCE { provider-reason [0] INTEGER }
    with pytest.raises(copp_codec.PpduDecodeError):
        copp_codec.decode_abort(tlv(0x30, b'\x80' + BIG))


def test_acse_abrt_huge_abort_source_raises_apdu_decode_error():
    # ABRT-apdu: [APPLICATION 4] { abort-source [0] INTEGER }
    with pytest.raises(acse_codec.ApduDecodeError):
        acse_codec.decode(tlv(0x64, b'\x80' + BIG))


def test_mms_huge_invoke_id_rejected_as_invalid_invoke_id():
    # confirmed-RequestPDU [0] { invokeID INTEGER, status [4] NULL }
    small = tlv(0xa0, b'\x02\x05\x7f\x00\x00\x00\x00' + b'\x84\x00')
    huge = tlv(0xa0, b'\x02' + BIG + b'\x84\x00')
    with pytest.raises(mms_codec.DecodeError) as small_error:
        mms_codec.decode_pdu(small)
    with pytest.raises(mms_codec.DecodeError) as huge_error:
        mms_codec.decode_pdu(huge)
    # the same reject (invalid-invokeID) whatever the size of the INTEGER
    assert huge_error.value.reject == small_error.value.reject
    assert 'invokeID' in str(huge_error.value)


@contextlib.asynccontextmanager
async def copp_server():
    conn_queue = aio.Queue()
    srv = await copp.listen(lambda names, data: data, conn_queue.put_nowait,
                            copp.Address('127.0.0.1', 0))
    try:
        yield srv, conn_queue
    finally:
        while not conn_queue.empty():
            conn_queue.get_nowait().async_group.close()
        await srv.async_close()


async def test_copp_pdv_of_huge_context_id_is_one_protocol_error(caplog):
    cp = bytes.fromhex('31 1a a0 03 80 01 01 a2 13 a4 11 30 0f 02 01 01 06 04'
                       ' 52 01 00 01 30 04 06 02 51 01')
    # User-data: fully-encoded-data [APPLICATION 1] { PDV-list {
    #   presentation-context-identifier INTEGER (2048 octets),
    #   single-ASN1-type [0] NULL-ish [0] } }
    pdv = tlv(0x30, b'\x02' + BIG + b'\xa0\x03\x80\x01\x00')
    user_data = tlv(0x61, pdv)
    async with copp_server() as (srv, conn_queue):
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        try:
            server_conn = await bounded(conn_queue.get())
            raw.write(user_data)
            with pytest.raises(ConnectionError):
                await bounded(server_conn.read())
            # the peer gets an ARP (provider abort) in a session AB
            with pytest.raises(ConnectionError):
                await bounded(raw.read())
            assert raw.abort_user_data is not None
            assert raw.abort_user_data.startswith(b'\x30')
            await bounded(server_conn.async_close())
        finally:
            await bounded(raw.async_close())
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    message = record.getMessage()
    assert 'copp' in message
    assert 'unknown presentation context' in message
    assert user_data[:8].hex(' ') in message
    assert record.exc_info is None


async def test_copp_p_data_of_tiny_pdvs_is_not_amplified_in_memory():
    import tracemalloc
    cp = bytes.fromhex('31 1a a0 03 80 01 01 a2 13 a4 11 30 0f 02 01 01 06 04'
                       ' 52 01 00 01 30 04 06 02 51 01')
    pdv = bytes.fromhex('30 07 02 01 01 a0 02 05 00')  # context 1: NULL
    body = pdv * ((1 << 18) // len(pdv))  # 256 KiB: the ratio matters
    user_data = tlv(0x61, body)
    async with copp_server() as (srv, conn_queue):
        raw = await bounded(cosp.connect(srv.addresses[0], user_data=cp))
        try:
            server_conn = await bounded(conn_queue.get())
            tracemalloc.start()
            try:
                before, _ = tracemalloc.get_traced_memory()
                raw.write(user_data)
                await bounded(server_conn.read())
                held, _ = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            server_conn.abort()
            await bounded(server_conn.wait_closed())
        finally:
            await bounded(raw.async_close())
    # what the connection holds for one received P-DATA: at most a small
    # multiple of its octets
    assert held - before < 8 * len(user_data)


async def test_acse_release_with_many_unread_p_data_is_not_held_back():
    from hat.drivers import acse
    mms = (1, 0, 9506, 2, 1)

    def ent():
        return mms, ber.Element(ber.Class.CONTEXT, 5, False, b'')

    conn_queue = aio.Queue()
    srv = await acse.listen(lambda names, data: ent(), conn_queue.put_nowait,
                            acse.Address('127.0.0.1', 0), release_timeout=3)
    try:
        conn = await bounded(acse.connect([mms], (1, 0, 9506, 2, 3),
                                          srv.addresses[0], user_data=ent()))
        try:
            server_conn = await bounded(conn_queue.get())
            try:
                # the responder's user does not read these
                for _ in range(40):
                    conn.write(ent())
                await bounded(conn.drain())
                await bounded(server_conn.release(), timeout=10)
            finally:
                await bounded(server_conn.async_close(), timeout=10)
        finally:
            await bounded(conn.async_close(), timeout=10)
    finally:
        await srv.async_close()


async def test_copp_connect_with_a_list_of_names_raises_type_error():
    # 0.6.23's copp.connect takes a SyntaxNames; a plain list gave an
    # AttributeError from inside connect
    with pytest.raises(TypeError, match='syntax_names'):
        await copp.connect([(1, 0, 9506, 2, 1)],
                           copp.Address('127.0.0.1', 1))
