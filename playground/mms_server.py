"""MMS server simulator (ISO 9506) with a small IEC 61850-style model,
built on `hat.drivers.mms`.

Run from the repository root, after the README's Quick start::

    .venv/bin/python playground/mms_server.py [--host HOST]
        [--period SECONDS] [-v] [PORT]

Listens on HOST:PORT (default 127.0.0.1:10102: MMS's own port 102, like
every port below 1024, needs privileges; port 0 picks a free port) and
prints ``listening on HOST:PORT``.

The model is one logical device, MMS domain SIMLD0, with the IEC
61850-8-1 mapping of logical nodes to named variables (LN, functional
constraint and data object joined by ``$``)::

    variable                          CDC  content
    MMXU1$MX$TotW                     MV   total active power (W), mag.f,
                                           q, t: changes every PERIOD
    MMXU1$MX$Hz                       MV   frequency (Hz), changes too
    GGIO1$ST$Ind1                     SPS  stVal toggles every 5 periods
    GGIO1$ST$IntIn1                   INS  stVal counts up every period
    GGIO1$ST$StrIn1                   VSS  stVal "step N"
    GGIO1$ST$SPCSO1 / $CO$ / $CF$     SPC  stVal, q, t (ST), Oper (CO),
                                           ctlModel 1 (CF): direct control
    LLN0$RP$urcb01                    URCB unbuffered report control block
                                           of the data set LLN0$Events
    LLN0$Events (named variable list) the data set: TotW and Hz mag.f,
                                           Ind1, IntIn1, SPCSO1 stVal

Services: Identify, Status, GetNameList (domains, named variables, named
variable lists; at most 20 names per response, the rest with
continueAfter), Read (variables, components and the data set by its
name), Write, GetVariableAccessAttributes and
GetNamedVariableListAttributes. Writes are denied (DataAccessError
OBJECT_ACCESS_DENIED) except two: the SPC's control value,
``GGIO1$CO$SPCSO1$Oper$ctlVal`` (a boolean) or the whole
``GGIO1$CO$SPCSO1$Oper`` structure (its ctlVal first), which sets
``GGIO1$ST$SPCSO1$stVal``; and the report control block's ``RptEna``,
``OptFlds``, ``TrgOps`` (these two only while disabled) and ``GI`` (a
general interrogation: a report of every member) under
``LLN0$RP$urcb01``. Each association has its own instance of the report
control block, as IEC 61850 unbuffered reports are per client. Writing
RptEna = true enables it; from then on the server sends InformationReports
(IEC 61850-8-1 report format: RptID ``SIMLD0/LLN0$urcb01``, OptFlds, the
fields the OptFlds select - by default SeqNum, TimeOfEntry as BinaryTime,
the data set name and the data references -, the inclusion bit string and
the values of the members that changed) every PERIOD seconds (default 1)
and after each control, while TrgOps has data change set. Reports a slow
client does not take are dropped (unbuffered): at most 16 wait to be
written per association.

Prints a line for every association and control, and one when an
association ends. ``-v`` logs the libraries' warnings and errors on
standard error. Stops on Ctrl-C or SIGTERM (exit status 0), after
concluding and releasing its associations; a bad argument or a port in
use gives one line ``error: ...`` and exit status 1.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from collections.abc import Iterator
import argparse
import asyncio
import datetime
import math
import typing

import cli
from hat.drivers import mms


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 10102
DEFAULT_PERIOD = 1.0

DOMAIN = 'SIMLD0'
REPORTS_PENDING = 16
"""Reports sent to an association while the layers below have not taken
the earlier ones (more are dropped)"""
NAMES_PER_RESPONSE = 20

DATA_SET = 'LLN0$Events'
RCB = 'LLN0$RP$urcb01'
RPT_ID = f'{DOMAIN}/LLN0$urcb01'
CONTROL = 'GGIO1$CO$SPCSO1$Oper'
CONTROL_STATUS = 'GGIO1$ST$SPCSO1'

DATA_SET_MEMBERS = ['MMXU1$MX$TotW$mag$f',
                    'MMXU1$MX$Hz$mag$f',
                    'GGIO1$ST$Ind1$stVal',
                    'GGIO1$ST$IntIn1$stVal',
                    'GGIO1$ST$SPCSO1$stVal']

# OptFlds (IEC 61850-8-1 clause 17.1.2, bit 0 reserved)
OPT_SEQ_NUM = 1
OPT_TIME_STAMP = 2
OPT_REASON = 3
OPT_DATA_SET = 4
OPT_DATA_REF = 5
OPT_BUF_OVFL = 6
OPT_ENTRY_ID = 7
OPT_CONF_REV = 8
OPT_SEGMENTATION = 9
OPT_FLDS = [i in (OPT_SEQ_NUM, OPT_TIME_STAMP, OPT_DATA_SET, OPT_DATA_REF)
            for i in range(10)]
# not in reports of an unbuffered RCB (IEC 61850-7-2 17.2.2)
OPT_BUFFERED = (0, OPT_BUF_OVFL, OPT_ENTRY_ID)

# TrgOps (bit 0 reserved): data change (1), integrity (4) and general
# interrogation (5) as default; ReasonCode bits of a report
TRG_DATA_CHANGE = 1
TRG_OPS = [i in (TRG_DATA_CHANGE, 4, 5) for i in range(6)]
REASON_DATA_CHANGE = 1
REASON_GI = 5

ACCESS_OBJECT_NON_EXISTENT = 2
DEFINITION_OBJECT_UNDEFINED = 1


# --- the model -------------------------------------------------------------

class Leaf(typing.NamedTuple):
    """A basic attribute: its MMS type and its initial value"""
    type: mms.TypeDescription
    value: mms.Data


Tree = dict[str, typing.Union['Tree', Leaf]]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _timestamp() -> Leaf:
    return Leaf(mms.UtcTimeTypeDescription(),
                mms.UtcTimeData(_utc_now(), leap_second=False,
                                clock_failure=False, not_synchronized=False,
                                accuracy=10))


def _quality() -> Leaf:
    # IEC 61850-8-1 Quality: BIT STRING (SIZE(13)), all clear: good
    return Leaf(mms.BitStringTypeDescription(13),
                mms.BitStringData([False] * 13))


def _float(value: float) -> Leaf:
    return Leaf(mms.FloatingPointTypeDescription(32, 8),
                mms.FloatingPointData(value))


def _boolean(value: bool) -> Leaf:
    return Leaf(mms.BooleanTypeDescription(), mms.BooleanData(value))


def _integer(value: int, bits: int = 32) -> Leaf:
    return Leaf(mms.IntegerTypeDescription(bits), mms.IntegerData(value))


def _unsigned(value: int, bits: int = 32) -> Leaf:
    return Leaf(mms.UnsignedTypeDescription(bits), mms.UnsignedData(value))


def _visible(value: str, size: int) -> Leaf:
    return Leaf(mms.VisibleStringTypeDescription(size),
                mms.VisibleStringData(value))


def _status(value: Leaf) -> Tree:
    return {'stVal': value, 'q': _quality(), 't': _timestamp()}


def _mv(value: float) -> Tree:
    return {'mag': {'f': _float(value)}, 'q': _quality(), 't': _timestamp()}


def build_model() -> dict[str, Tree]:
    """Logical nodes of the logical device (LN: functional constraint: data
    object: attributes), as IEC 61850-8-1 maps them to MMS structures"""
    return {
        'GGIO1': {
            'ST': {'Ind1': _status(_boolean(False)),
                   'IntIn1': _status(_integer(0)),
                   'SPCSO1': _status(_boolean(False)),
                   'StrIn1': _status(_visible('step 0', -255))},
            'CO': {'SPCSO1': {'Oper': {
                'ctlVal': _boolean(False),
                'origin': {'orCat': _integer(0, 8),
                           'orIdent': Leaf(mms.OctetStringTypeDescription(-64),
                                           mms.OctetStringData(b''))},
                'ctlNum': _unsigned(0, 8),
                'T': _timestamp(),
                'Test': _boolean(False),
                'Check': Leaf(mms.BitStringTypeDescription(2),
                              mms.BitStringData([False, False]))}}},
            'CF': {'SPCSO1': {'ctlModel': _integer(1, 8)}}},
        'LLN0': {
            # the URCB's attributes in the order of IEC 61850-8-1 ed. 2
            'RP': {'urcb01': {
                'RptID': _visible(RPT_ID, -129),
                'RptEna': _boolean(False),
                'Resv': _boolean(False),
                'DatSet': _visible(f'{DOMAIN}/{DATA_SET}', -129),
                'ConfRev': _unsigned(1),
                'OptFlds': Leaf(mms.BitStringTypeDescription(10),
                                mms.BitStringData(OPT_FLDS)),
                'BufTm': _unsigned(0),
                'SqNum': _unsigned(0, 8),
                'TrgOps': Leaf(mms.BitStringTypeDescription(6),
                               mms.BitStringData(TRG_OPS)),
                'IntgPd': _unsigned(0),
                'GI': _boolean(False),
                'Owner': Leaf(mms.OctetStringTypeDescription(-64),
                              mms.OctetStringData(b''))}}},
        'MMXU1': {
            'MX': {'TotW': _mv(1000.0),
                   'Hz': _mv(50.0)}}}


class Model:
    """Named variables of the logical device: every node of the tree is a
    named variable (``LN$FC$DO$DA``), a structure or a basic value"""

    def __init__(self) -> None:
        self.tree = build_model()
        self.names = sorted(self._paths(self.tree))

    def _paths(self, tree: Tree, prefix: str = '') -> Iterator[str]:
        for name, node in tree.items():
            path = f'{prefix}{name}'
            yield path
            if isinstance(node, dict):
                yield from self._paths(node, f'{path}$')

    def node(self, path: str) -> Tree | Leaf | None:
        """Node of `path` or ``None``"""
        node: Tree | Leaf = self.tree
        for part in path.split('$'):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    def type_description(self, node: Tree | Leaf) -> mms.TypeDescription:
        if isinstance(node, Leaf):
            return node.type
        return mms.StructureTypeDescription(
            [(name, self.type_description(child))
             for name, child in node.items()])

    def data(self, node: Tree | Leaf) -> mms.Data:
        if isinstance(node, Leaf):
            return node.value
        return mms.StructureData([self.data(child)
                                  for child in node.values()])

    def value(self, path: str) -> mms.Data:
        node = self.node(path)
        assert node is not None
        return self.data(node)

    def set(self, path: str, value: mms.Data) -> None:
        parent, _, name = path.rpartition('$')
        node = self.node(parent)
        assert isinstance(node, dict) and isinstance(node[name], Leaf)
        node[name] = node[name]._replace(value=value)

    def set_status(self, data_object: str, value: mms.Data) -> None:
        """Set ``stVal`` of `data_object` and its time stamp"""
        self.set(f'{data_object}$stVal', value)
        self.set(f'{data_object}$t', _timestamp().value)


# --- the server ------------------------------------------------------------

class Association:
    """An association's own instance of the report control block: its
    RptEna, OptFlds, TrgOps and SqNum"""

    def __init__(self, conn: mms.Connection):
        self.conn = conn
        self.enabled = False
        self.opt_flds = list(OPT_FLDS)
        self.trg_ops = list(TRG_OPS)
        self.seq_num = 0
        self.drain: asyncio.Future[None] | None = None
        self.pending = 0
        self.dropped = 0


class Simulator:
    """The model, its changes and the associations"""

    def __init__(self) -> None:
        self.model = Model()
        self.associations: dict[mms.Connection, Association] = {}
        self.step = 0

    # connections

    async def on_connection(self, conn: mms.Connection) -> None:
        remote = f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'
        print(f'association from {remote}', flush=True)
        self.associations.setdefault(conn, Association(conn))

        async def wait_closed() -> None:
            try:
                await conn.wait_closing()

            finally:
                self.associations.pop(conn, None)
                print(f'association from {remote} closed', flush=True)

        conn.async_group.spawn(wait_closed)

    async def close_all(self) -> None:
        """Conclude and release every association"""
        conns = list(self.associations)
        await asyncio.gather(*(conn.async_close() for conn in conns))

    # requests

    def on_request(self,
                   conn: mms.Connection,
                   request: mms.Request
                   ) -> mms.Response:
        association = self.associations.get(conn)
        if association is None:
            association = self.associations[conn] = Association(conn)

        if isinstance(request, mms.IdentifyRequest):
            return mms.IdentifyResponse(vendor='Hat Open',
                                        model='hat-drivers mms_server.py',
                                        revision='1', syntaxes=None)

        if isinstance(request, mms.StatusRequest):
            return mms.StatusResponse(logical=0, physical=0)

        if isinstance(request, mms.GetNameListRequest):
            return self._name_list(request)

        if isinstance(request, mms.ReadRequest):
            return mms.ReadResponse(
                [self._read(association, name)
                 for name in self._names(request.value)])

        if isinstance(request, mms.WriteRequest):
            names = self._names(request.specification)
            if len(names) != len(request.data):
                return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)
            return mms.WriteResponse(
                [self._write(association, name, data)
                 for name, data in zip(names, request.data,
                                        strict=True)])

        if isinstance(request, mms.GetVariableAccessAttributesRequest):
            name = request.value
            node = (self.model.node(name.item_id)
                    if isinstance(name, mms.DomainSpecificObjectName) and
                    name.domain_id == DOMAIN else None)
            if node is None:
                return mms.ErrorResponse(mms.ErrorClass.ACCESS,
                                         ACCESS_OBJECT_NON_EXISTENT)
            return mms.GetVariableAccessAttributesResponse(
                mms_deletable=False,
                type_description=self.model.type_description(node))

        if isinstance(request, mms.GetNamedVariableListAttributesRequest):
            if request.value != mms.DomainSpecificObjectName(DOMAIN,
                                                             DATA_SET):
                return mms.ErrorResponse(mms.ErrorClass.ACCESS,
                                         ACCESS_OBJECT_NON_EXISTENT)
            return mms.GetNamedVariableListAttributesResponse(
                mms_deletable=False,
                specification=[_spec(member)
                               for member in DATA_SET_MEMBERS])

        # Define/DeleteNamedVariableList: no dynamic data sets here
        return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)

    def _name_list(self, request: mms.GetNameListRequest
                   ) -> mms.Response:
        scope = request.object_scope
        if request.object_class == mms.ObjectClass.DOMAIN:
            names = [DOMAIN]

        elif isinstance(scope, mms.DomainSpecificObjectScope):
            if scope.identifier != DOMAIN:
                return mms.ErrorResponse(mms.ErrorClass.DEFINITION,
                                         DEFINITION_OBJECT_UNDEFINED)
            if request.object_class == mms.ObjectClass.NAMED_VARIABLE:
                names = self.model.names
            elif request.object_class == \
                    mms.ObjectClass.NAMED_VARIABLE_LIST:
                names = [DATA_SET]
            else:
                names = []

        else:
            names = []

        if request.continue_after is not None:
            names = [name for name in names
                     if name > request.continue_after]
        return mms.GetNameListResponse(
            identifiers=names[:NAMES_PER_RESPONSE],
            more_follows=len(names) > NAMES_PER_RESPONSE)

    def _names(self, specification: typing.Any) -> list[str | None]:
        """Item IDs in the domain of a list of variable specifications or
        of the data set's name (``None``: not a variable of the domain)"""
        if not isinstance(specification, list):
            if specification == mms.DomainSpecificObjectName(DOMAIN,
                                                             DATA_SET):
                return list(DATA_SET_MEMBERS)
            return [None]

        return [spec.name.item_id
                if (isinstance(spec, mms.NameVariableSpecification) and
                    isinstance(spec.name, mms.DomainSpecificObjectName) and
                    spec.name.domain_id == DOMAIN)
                else None
                for spec in specification]

    def _read(self,
              association: Association,
              name: str | None
              ) -> mms.DataAccessError | mms.Data:
        if name is None or self.model.node(name) is None:
            return mms.DataAccessError.OBJECT_NON_EXISTENT

        # the association's own instance of the RCB
        own = association_rcb(association)
        if name.startswith(f'{RCB}$') and name[len(RCB) + 1:] in own:
            return own[name[len(RCB) + 1:]]
        value = self.model.value(name)
        if name in (RCB, 'LLN0$RP', 'LLN0'):
            return self._with_rcb(name, value, own)
        return value

    def _with_rcb(self,
                  name: str,
                  value: mms.Data,
                  own: dict[str, mms.Data]
                  ) -> mms.Data:
        # the structure `name` (RCB or one containing it) with the RCB's
        # attributes of the association
        node = self.model.node(name)
        assert isinstance(node, dict) and isinstance(value,
                                                     mms.StructureData)
        elements = list(value.elements)
        for i, key in enumerate(node):
            path = f'{name}${key}'
            if path == RCB:
                elements[i] = self._with_rcb(path, elements[i], own)
            elif name == RCB and key in own:
                elements[i] = own[key]
            elif RCB.startswith(f'{path}$'):
                elements[i] = self._with_rcb(path, elements[i], own)
        return mms.StructureData(elements)

    def _write(self,
               association: Association,
               name: str | None,
               data: mms.Data
               ) -> mms.DataAccessError | None:
        if name is None or self.model.node(name) is None:
            return mms.DataAccessError.OBJECT_NON_EXISTENT

        if name == f'{RCB}$RptEna':
            if not isinstance(data, mms.BooleanData):
                return mms.DataAccessError.TYPE_INCONSISTENT
            association.enabled = data.value
            print(f'reports {"enabled" if data.value else "disabled"} for '
                  f'{_remote(association.conn)}', flush=True)
            return None

        if name in (f'{RCB}$OptFlds', f'{RCB}$TrgOps'):
            size = 10 if name.endswith('OptFlds') else 6
            if not isinstance(data, mms.BitStringData) or \
                    len(data.value) != size:
                return mms.DataAccessError.TYPE_INCONSISTENT
            if association.enabled:
                # IEC 61850-7-2: not while the RCB is enabled
                return mms.DataAccessError.TEMPORARILY_UNAVAILABLE
            bits = [bool(bit) for bit in data.value]
            if size == 10:
                association.opt_flds = [
                    bit and i not in OPT_BUFFERED
                    for i, bit in enumerate(bits)]
            else:
                association.trg_ops = bits
            return None

        if name == f'{RCB}$GI':
            if not isinstance(data, mms.BooleanData):
                return mms.DataAccessError.TYPE_INCONSISTENT
            if data.value and association.enabled:
                # general interrogation: every member, once
                self.report(DATA_SET_MEMBERS, [association], REASON_GI)
            return None

        if name in (CONTROL, f'{CONTROL}$ctlVal'):
            if isinstance(data, mms.StructureData) and data.elements:
                data = data.elements[0]
            if not isinstance(data, mms.BooleanData):
                return mms.DataAccessError.TYPE_INCONSISTENT
            print(f'control: {CONTROL_STATUS} '
                  f'{"on" if data.value else "off"} from '
                  f'{_remote(association.conn)}', flush=True)
            self.model.set_status(CONTROL_STATUS, data)
            self.report([f'{CONTROL_STATUS}$stVal'])
            return None

        return mms.DataAccessError.OBJECT_ACCESS_DENIED

    # changes and reports

    async def change(self, period: float) -> None:
        """Change the values every `period` seconds and report them"""
        while True:
            await asyncio.sleep(period)
            self.step += 1
            step = self.step
            self.model.set('MMXU1$MX$TotW$mag$f', mms.FloatingPointData(
                round(1000.0 + 250.0 * math.sin(step / 5), 1)))
            self.model.set('MMXU1$MX$TotW$t', _timestamp().value)
            self.model.set('MMXU1$MX$Hz$mag$f', mms.FloatingPointData(
                round(50.0 + 0.05 * math.sin(step / 3), 3)))
            self.model.set('MMXU1$MX$Hz$t', _timestamp().value)
            self.model.set_status('GGIO1$ST$IntIn1', mms.IntegerData(step))
            self.model.set_status('GGIO1$ST$StrIn1',
                                  mms.VisibleStringData(f'step {step}'))
            changed = DATA_SET_MEMBERS[:2] + ['GGIO1$ST$IntIn1$stVal']
            if step % 5 == 0:
                self.model.set_status('GGIO1$ST$Ind1', mms.BooleanData(
                    (step // 5) % 2 == 1))
                changed.append('GGIO1$ST$Ind1$stVal')
            self.report(changed)

    def report(self,
               changed: list[str],
               associations: list[Association] | None = None,
               reason: int = REASON_DATA_CHANGE
               ) -> None:
        """Send a report of the `changed` data set members to every
        association (of `associations`) with the report control block
        enabled (for a data change: and TrgOps data change set)"""
        if associations is None:
            associations = list(self.associations.values())
        included = [member in changed for member in DATA_SET_MEMBERS]
        members = [member for member in DATA_SET_MEMBERS
                   if member in changed]
        for association in associations:
            if not association.enabled or not association.conn.is_open:
                continue

            if reason == REASON_DATA_CHANGE and \
                    not association.trg_ops[TRG_DATA_CHANGE]:
                continue

            draining = (association.drain is not None and
                        not association.drain.done())
            if draining and association.pending >= REPORTS_PENDING:
                # unbuffered: the client does not take them, drop
                association.dropped += 1
                continue

            report = self._report(association, included, members,
                                  reason)
            association.seq_num = (association.seq_num + 1) % 256
            try:
                association.conn.send_unconfirmed(report)

            except ConnectionError:
                continue

            if draining:
                association.pending += 1
            else:
                association.pending = 1
                association.drain = association.conn.async_group.spawn(
                    association.conn.drain)


    def _report(self,
                association: Association,
                included: list[bool],
                members: list[str],
                reason: int
                ) -> mms.InformationReportUnconfirmed:
        # IEC 61850-8-1 clause 17.2 (report format), the fields the
        # association's OptFlds select
        opt = association.opt_flds
        data: list[mms.Data] = [mms.VisibleStringData(RPT_ID),
                                mms.BitStringData(list(opt))]
        if opt[OPT_SEQ_NUM]:
            data.append(mms.UnsignedData(association.seq_num))
        if opt[OPT_TIME_STAMP]:
            data.append(mms.BinaryTimeData(_utc_now()))
        if opt[OPT_DATA_SET]:
            data.append(mms.VisibleStringData(f'{DOMAIN}/{DATA_SET}'))
        if opt[OPT_CONF_REV]:
            data.append(mms.UnsignedData(1))
        if opt[OPT_SEGMENTATION]:
            data.extend([mms.UnsignedData(0), mms.BooleanData(False)])
        data.append(mms.BitStringData(included))
        if opt[OPT_DATA_REF]:
            data.extend(mms.VisibleStringData(f'{DOMAIN}/{member}')
                        for member in members)
        data.extend(self.model.value(member) for member in members)
        if opt[OPT_REASON]:
            data.extend(mms.BitStringData([i == reason for i in range(7)])
                        for _ in members)
        return mms.InformationReportUnconfirmed(
            specification=mms.VmdSpecificObjectName('RPT'),
            data=typing.cast(list[mms.DataAccessError | mms.Data], data))


def association_rcb(association: Association) -> dict[str, mms.Data]:
    """The RCB attributes of an association's own instance"""
    return {'RptEna': mms.BooleanData(association.enabled),
            'OptFlds': mms.BitStringData(list(association.opt_flds)),
            'SqNum': mms.UnsignedData(association.seq_num),
            'TrgOps': mms.BitStringData(list(association.trg_ops)),
            'GI': mms.BooleanData(False)}


def _spec(item_id: str) -> mms.NameVariableSpecification:
    return mms.NameVariableSpecification(
        mms.DomainSpecificObjectName(DOMAIN, item_id))


def _remote(conn: mms.Connection) -> str:
    return f'{conn.info.remote_addr.host}:{conn.info.remote_addr.port}'


async def serve(addr: mms.Address,
                simulator: Simulator,
                **kwargs: typing.Any
                ) -> mms.Server:
    """Start the simulator's MMS server on `addr` (port 0: a free port)"""
    return await mms.listen(simulator.on_connection, simulator.on_request,
                            addr, **kwargs)


async def async_main(addr: mms.Address, period: float) -> None:
    simulator = Simulator()
    srv = await serve(addr, simulator)
    try:
        for a in srv.addresses:
            print(f'listening on {a.host}:{a.port}', flush=True)
        await simulator.change(period)

    finally:
        await srv.async_close()
        await simulator.close_all()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='MMS server simulator with a small IEC 61850-style '
                    'model',
        epilog=MODEL_TABLE,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--period', type=period_arg, default=DEFAULT_PERIOD,
                        metavar='SECONDS',
                        help=f'seconds between changes (and reports), '
                             f'default {DEFAULT_PERIOD}')
    parser.add_argument('port', nargs='?', type=cli.port,
                        default=DEFAULT_PORT, metavar='PORT',
                        help=f'default {DEFAULT_PORT}; 0 picks a free port')
    cli.add_verbose(parser, "the libraries' warnings and errors")
    args = parser.parse_args(argv)
    cli.setup_logging(args.verbose, [])

    return cli.run(lambda: async_main(mms.Address(args.host, args.port),
                                      args.period))


MODEL_TABLE: str = 'The m' + (__doc__ or '')[
    (__doc__ or '').index('odel is one logical device'):
    (__doc__ or '').index('Services:')].replace('::\n', ':\n', 1).replace(
    '``', '')
"""The model (also the epilog of ``-h``)"""


def period_arg(text: str) -> float:
    """Argument type of the change period: seconds > 0"""
    try:
        value = float(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid period {text!r}: not a number') from None

    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f'invalid period {value}: must be more than 0 seconds')
    return value


if __name__ == '__main__':
    cli.main(main)
