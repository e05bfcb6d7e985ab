"""MMS codec against libiec61850: PDUs encoded by `hat.drivers.mms.codec`
sent to a libiec61850 ``IedServer`` over our `hat.drivers.acse`, and its
answers decoded by the codec

libiec61850 through its Python bindings pyiec61850-ng (GPL: test-only,
never imported by src_py). The server's model: logical device ``LD0`` of
IED ``test`` (MMS domain ``testLD0``) with LLN0 and GGIO1, and in GGIO1 an
MV (float), an SPS, an INS and a VSS with known values.

"""

import datetime

import pytest

from hat.drivers import acse
from hat.drivers import ber
from hat.drivers import mms
from hat.drivers.mms import codec

from chaos import bounded
from iec61850_peer import start_ied_server


iec = pytest.importorskip(
    'pyiec61850.pyiec61850',
    reason='pyiec61850-ng (libiec61850 bindings) is not installed')

pytestmark = pytest.mark.timeout(60)

MMS = (1, 0, 9506, 2, 1)
MMS_CONTEXT = (1, 0, 9506, 2, 3)

localhost = '127.0.0.1'

DOMAIN = 'testLD0'
T = datetime.datetime(2024, 5, 6, 7, 8, 9, 250000,
                      tzinfo=datetime.timezone.utc)

SERVICES = frozenset(codec.ServiceSupport)
CBB = frozenset([codec.ParameterCbb.STR1, codec.ParameterCbb.STR2,
                 codec.ParameterCbb.VNAM, codec.ParameterCbb.VALT,
                 codec.ParameterCbb.VLIS])


@pytest.fixture
def iec_server():
    model = iec.IedModel_create('test')
    device = iec.LogicalDevice_create('LD0', model)
    iec.LogicalNode_create('LLN0', device)
    ggio = iec.toModelNode(iec.LogicalNode_create('GGIO1', device))
    iec.CDC_MV_create('AnIn1', ggio, 0, False)
    iec.CDC_SPS_create('Ind1', ggio, 0)
    iec.CDC_INS_create('IntIn1', ggio, 0)
    iec.CDC_VSS_create('Str1', ggio, 0)

    def attribute(ref):
        node = iec.IedModel_getModelNodeByObjectReference(model,
                                                          f'{DOMAIN}/{ref}')
        assert node is not None, ref
        return iec.toDataAttribute(node)

    def configure(server):
        iec.IedServer_updateFloatAttributeValue(
            server, attribute('GGIO1.AnIn1.mag.f'), 1.5)
        iec.IedServer_updateUTCTimeAttributeValue(
            server, attribute('GGIO1.AnIn1.t'), int(T.timestamp() * 1000))
        iec.IedServer_updateBooleanAttributeValue(
            server, attribute('GGIO1.Ind1.stVal'), True)
        iec.IedServer_updateInt32AttributeValue(
            server, attribute('GGIO1.IntIn1.stVal'), -42)
        iec.IedServer_updateVisibleStringAttributeValue(
            server, attribute('GGIO1.Str1.stVal'), 'hello')

    try:
        server, port = start_ied_server(iec, model, localhost, configure)
    except OSError:
        iec.IedModel_destroy(model)
        raise
    try:
        yield acse.Address(localhost, port)
    finally:
        iec.IedServer_stop(server)
        iec.IedServer_destroy(server)
        iec.IedModel_destroy(model)


class Client:

    def __init__(self, conn):
        self.conn = conn
        self.invoke_id = 0

    async def send(self, pdu):
        self.conn.write((MMS, ber.decode(codec.encode_pdu(pdu))))
        name, element = await bounded(self.conn.read())
        assert name == MMS
        return codec.decode_pdu(ber.encode(element))

    async def request(self, req):
        self.invoke_id += 1
        res = await self.send(codec.ConfirmedRequestPdu(self.invoke_id,
                                                        req))
        assert isinstance(res, codec.ConfirmedResponsePdu), res
        assert res.invoke_id == self.invoke_id
        return res.response


def name(item):
    return mms.DomainSpecificObjectName(DOMAIN, item)


def var(item):
    return mms.NameVariableSpecification(name(item))


async def test_codec_with_libiec61850_server(iec_server, caplog):
    initiate = codec.InitiateRequestPdu(
        local_detail_calling=65000, max_serv_outstanding_calling=5,
        max_serv_outstanding_called=5, data_structure_nesting_level=10,
        version_number=1, parameter_cbb=CBB, services_supported=SERVICES)
    conn = await bounded(acse.connect(
        [MMS], MMS_CONTEXT, iec_server,
        user_data=(MMS, ber.decode(codec.encode_pdu(initiate)))))
    try:
        _, element = conn.conn_res_user_data
        res = codec.decode_pdu(ber.encode(element))
        assert isinstance(res, codec.InitiateResponsePdu)
        assert res.version_number == 1
        assert 1 <= res.max_serv_outstanding_calling <= 5
        assert codec.ServiceSupport.READ in res.services_supported

        client = Client(conn)

        res = await client.request(mms.IdentifyRequest())
        assert res.vendor == 'libiec61850.com'

        res = await client.request(mms.GetNameListRequest(
            mms.ObjectClass.DOMAIN, mms.VmdSpecificObjectScope(), None))
        assert res == mms.GetNameListResponse([DOMAIN], False)

        res = await client.request(mms.GetNameListRequest(
            mms.ObjectClass.NAMED_VARIABLE,
            mms.DomainSpecificObjectScope(DOMAIN), None))
        assert 'GGIO1$MX$AnIn1$mag$f' in res.identifiers
        # continuation after the first name
        res2 = await client.request(mms.GetNameListRequest(
            mms.ObjectClass.NAMED_VARIABLE,
            mms.DomainSpecificObjectScope(DOMAIN), res.identifiers[0]))
        assert res2.identifiers[0] == res.identifiers[1]

        res = await client.request(mms.ReadRequest([
            var('GGIO1$MX$AnIn1$mag$f'),
            var('GGIO1$MX$AnIn1$t'),
            var('GGIO1$ST$Ind1$stVal'),
            var('GGIO1$ST$Ind1$q'),
            var('GGIO1$ST$IntIn1$stVal'),
            var('GGIO1$ST$Str1$stVal'),
            var('GGIO1$ST$Nothing$stVal')]))
        f, t, ind, q, int_in, string, missing = res.results
        assert f == mms.FloatingPointData(1.5)
        assert isinstance(t, mms.UtcTimeData)
        assert t.value == T
        assert ind == mms.BooleanData(True)
        assert q == mms.BitStringData([False] * 13)
        assert int_in == mms.IntegerData(-42)
        assert string == mms.VisibleStringData('hello')
        assert missing == mms.DataAccessError.OBJECT_NON_EXISTENT

        # a structure: MV mag, q, t
        res = await client.request(mms.ReadRequest([var('GGIO1$MX$AnIn1')]))
        [structure] = res.results
        assert structure.elements[0] == mms.StructureData(
            [mms.FloatingPointData(1.5)])

        res = await client.request(mms.GetVariableAccessAttributesRequest(
            name('GGIO1$MX$AnIn1')))
        assert [component for component, _ in
                res.type_description.components] == ['mag', 'q', 't']
        mag_type = res.type_description.components[0][1]
        assert mag_type == mms.StructureTypeDescription(
            [('f', mms.FloatingPointTypeDescription(32, 8))])

        # a service libiec61850 does not implement (rename [3]): rejected,
        # the association stays up
        client.invoke_id += 1
        octets = bytes.fromhex(f'a0050201{client.invoke_id:02x}a300')
        conn.write((MMS, ber.decode(octets)))
        _, element = await bounded(conn.read())
        res = codec.decode_pdu(ber.encode(element))
        # rejectPDU confirmed-requestPDU unrecognized-service
        assert res == codec.RejectPdu(client.invoke_id,
                                      codec.RejectReason.CONFIRMED_REQUEST, 1)

        res = await client.request(mms.IdentifyRequest())
        assert res.vendor == 'libiec61850.com'

        res = await client.send(codec.ConcludeRequestPdu())
        assert res == codec.ConcludeResponsePdu()
        await bounded(conn.release())
    finally:
        conn.async_group.close()
        await bounded(conn.wait_closed())
    assert [r for r in caplog.records if r.levelname == 'ERROR'] == []
