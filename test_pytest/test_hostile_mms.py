"""Hostile findings on the MMS association (`hat.drivers.mms.connection`).

Each test reproduces one fault a hostile tester found as a hostile peer or
a careless user; fixed faults keep their test passing, faults not yet
fixed are ``xfail(strict=True)`` with the finding as the reason.

* ``send_confirmed(timeout=...)`` was not checked: a timeout of 0 or below
  sent the request and then raised `mms.ResponseTimeoutError` (the answer
  logged as late), NaN meant "no timeout" on asyncio and a bare
  ``ValueError('cannot convert float NaN to integer')`` on uvloop.
* Data nested deeper than the interpreter's recursion limit made
  ``send_confirmed`` / ``send_unconfirmed`` raise `RecursionError` instead
  of the documented `ValueError`.
* The server accepted an initiate-RequestPDU proposing a negative or zero
  localDetailCalling or a negative dataStructureNestingLevel and answered
  them back (min(proposed, own)); a refused proposal of maxServOutstanding
  0 was logged without the octets.

"""

import asyncio
import logging
import math

import pytest

from hat.drivers import acse
from hat.drivers import mms
from hat.drivers.mms import codec

from chaos import bounded
from test_mms import (MMS, MMS_CONTEXT, entity, initiate_request,
                      mms_server, pair)


pytestmark = pytest.mark.timeout(30)


def error_records(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def status_cb(conn, req):
    return mms.StatusResponse(0, 0)


def deep_data(levels):
    data = mms.IntegerData(1)
    for _ in range(levels):
        data = mms.StructureData([data])
    return data


@pytest.mark.parametrize('timeout', [0, -1, math.nan, -math.inf])
async def test_send_confirmed_bad_timeout_is_value_error_nothing_sent(
        timeout, caplog):
    served = []

    def server_cb(conn, req):
        served.append(req)
        return mms.StatusResponse(0, 0)

    async with pair(server_cb=server_cb) as (conn, srv_conn):
        with pytest.raises(ValueError, match='timeout'):
            await bounded(conn.send_confirmed(mms.StatusRequest(),
                                              timeout=timeout))
        # nothing was sent: the next request is the first one served
        assert await bounded(conn.send_confirmed(
            mms.IdentifyRequest())) == mms.ErrorResponse(
                mms.ErrorClass.SERVICE, 0)
        assert served == [mms.IdentifyRequest()]
        assert conn.is_open
    assert not [r for r in caplog.records if 'late answer' in r.getMessage()]


async def test_send_confirmed_bad_timeout_type_is_type_error():
    async with pair() as (conn, srv_conn):
        for timeout in ('1', True, [1]):
            with pytest.raises(TypeError, match='timeout'):
                await bounded(conn.send_confirmed(mms.StatusRequest(),
                                                  timeout=timeout))
        assert conn.is_open


async def test_deeply_nested_data_is_value_error():
    data = deep_data(5000)
    name = mms.VmdSpecificObjectName('x')
    async with pair(server_cb=status_cb) as (conn, srv_conn):
        with pytest.raises(ValueError, match='nested'):
            await bounded(conn.send_confirmed(mms.WriteRequest(
                [mms.NameVariableSpecification(name)], [data])),
                what='send_confirmed')
        with pytest.raises(ValueError, match='nested'):
            conn.send_unconfirmed(mms.InformationReportUnconfirmed(
                name, [data]))
        # the association stays up
        assert await bounded(conn.send_confirmed(mms.StatusRequest())) == \
            mms.StatusResponse(0, 0)


@pytest.mark.parametrize('fields', [
    dict(local_detail_calling=-5),
    dict(local_detail_calling=0),
    dict(data_structure_nesting_level=-1),
    dict(max_serv_outstanding_calling=0)])
async def test_server_refuses_nonsense_initiate(fields, caplog):
    # 0.6.23 answered 5/5; we answered min(proposed, own): a negative
    # localDetailCalled or nesting level was echoed back and accepted
    pdu = initiate_request()._replace(**fields)
    async with mms_server() as (srv, conn_queue):
        with pytest.raises(ConnectionError):
            await bounded(acse.connect([MMS], MMS_CONTEXT, srv.addresses[0],
                                       user_data=entity(pdu)))
        assert conn_queue.empty()
        [record] = error_records(caplog)
        assert codec.encode_pdu(pdu).hex(' ') in record.getMessage()
