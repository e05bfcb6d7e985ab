"""libiec61850 peers for the MMS tests: an IEC 61850 server and a client

libiec61850 (the C library inside many IEDs, simulators and gateways) is
driven through its Python bindings ``pyiec61850`` (PyPI ``pyiec61850-ng``,
GPLv3: a test-only dependency; ``src_py`` never imports it). This module is
a helper, not a test file:

* `Iec61850Server` - a libiec61850 ``IedServer`` on 127.0.0.1 with the small
  IEC 61850 model below, built in code; it runs on libiec61850's own
  threads (which never call into Python), so it can live in the test's
  process beside the event loop. Values are changed from Python with
  `Iec61850Server.update` (reports follow).
* `Iec61850Client` - a libiec61850 client in a subprocess
  (``iec61850_client.py``: the bindings' blocking calls hold the GIL, so
  they must never run in the test's process), driven over its stdin and
  stdout: ``await client.op('read', ref, 'MX')`` gives the JSON result.
* `pyiec61850_or_skip` - the bindings, or a skip naming the install step
  (a failure instead if ``HAT_DRIVERS_REQUIRE_IEC61850`` is set, as in CI).

The model (IED name ``TEST``; MMS domain = IED name + LD instance)::

    TESTLD0                        domain (logical device LD0)
      LLN0
        Events                     data set: GGIO1.AnIn1.mag.f [MX],
                                   GGIO1.Ind1.stVal, GGIO1.IntIn1.stVal,
                                   GGIO1.Str1.stVal [ST]
        RP.urcbEvents01            unbuffered report control block on
                                   Events (rptID "Events", TrgOps dchg+GI)
      GGIO1
        AnIn1   MV   mag.f float32 [MX], q, t; d (description) [DC]
        Ind1    SPS  stVal bool [ST], q, t
        IntIn1  INS  stVal int32 [ST], q, t
        Str1    VSS  stVal visible string 255 [ST], q, t
        SPCSO1  SPC  stVal bool [ST], q, t; ctlModel [CF] (status only)
      GGIO2                        only with types=True
        Types1  one data attribute of each basic type (FC CF,
                writable), `TYPES`: boolean, integers of 8, 32 and 64
                bits, unsigned of 8 and 32 bits, float32, float64,
                enumerated, coded enum (bit string 2), octet string 64,
                visible string 255, unicode string 255 (MMS string),
                timestamp (UtcTime), quality (bit string 13), entry time
                (BinaryTime, 6 octets), array of 3 int32
    TESTBULK                       only with bulk_floats=N > 0
      LLN0
        Floats                     data set of the N floats below
      GGIO1
        AnIn1 .. AnInN  MV  mag.f = float(i) [MX]

Writes: libiec61850 allows writes to FC DC and CF here (write access
policy ALLOW, `WRITABLE_FCS`); writes to ST and MX are always denied
(object-access-denied), as the standard says for status and measured
values. Notes from using the bindings are in ``test_pytest/README.md``
("libiec61850 peer").

"""

import asyncio
import contextlib
import datetime
import json
import os
import socket
import sys
from pathlib import Path

import pytest


REQUIRE_IEC61850 = 'HAT_DRIVERS_REQUIRE_IEC61850'
INSTALL_STEP = ("pip install -e '.[dev]' (installs pyiec61850-ng, "
                "libiec61850's Python bindings, where PyPI has a wheel)")

HOST = '127.0.0.1'
IED_NAME = 'TEST'
LD = 'TESTLD0'                    # MMS domain of LD0
BULK_LD = 'TESTBULK'              # MMS domain of the bulk LD
IDENTITY = ('hat-test', 'libiec61850-peer', '1.0')  # vendor, model, revision

# object references (IEC 61850: LD/LN.DO.DA) and their FCs
AN_IN = f'{LD}/GGIO1.AnIn1.mag.f'            # MX, float32
AN_IN_DESC = f'{LD}/GGIO1.AnIn1.d'           # DC, visible string 255
IND = f'{LD}/GGIO1.Ind1.stVal'               # ST, bool
INT_IN = f'{LD}/GGIO1.IntIn1.stVal'          # ST, int32
STR = f'{LD}/GGIO1.Str1.stVal'               # ST, visible string 255
SPC = f'{LD}/GGIO1.SPCSO1.stVal'             # ST, bool
SPC_CTL_MODEL = f'{LD}/GGIO1.SPCSO1.ctlModel'  # CF, enum (int)
DATA_SET = f'{LD}/LLN0.Events'
DATA_SET_MEMBERS = [AN_IN, IND, INT_IN, STR]
RCB = f'{LD}/LLN0.RP.urcbEvents01'
RPT_ID = 'Events'
BULK_DATA_SET = f'{BULK_LD}/LLN0.Floats'


# GGIO2.Types1 (types=True): (DA name, libiec61850 type IEC61850_..., FC CF
# value). Values as given to `Iec61850Server.update`: bytes for octet
# strings, lists of bools for bit strings, aware datetimes for UtcTime and
# BinaryTime, a list of ints for the array
TYPES_T = datetime.datetime(2024, 5, 6, 7, 8, 9, 250000,
                            tzinfo=datetime.timezone.utc)
TYPES = [
    ('b', 'BOOLEAN', True),
    ('i8', 'INT8', -7),
    ('i32', 'INT32', -100_000),
    ('i64', 'INT64', -(2 ** 40)),
    ('u8', 'INT8U', 200),
    ('u32', 'INT32U', 4_000_000_000),
    ('f32', 'FLOAT32', -0.5),
    ('f64', 'FLOAT64', 1 / 3),
    ('enum', 'ENUMERATED', 3),
    ('dbpos', 'CODEDENUM', [True, False]),
    ('oct', 'OCTET_STRING_64', b'\x00\x01hat\xff'),
    ('vis', 'VISIBLE_STRING_255', 'visible'),
    ('uni', 'UNICODE_STRING_255', 'ünïcode €'),
    ('ts', 'TIMESTAMP', TYPES_T),
    ('q', 'QUALITY', [False] * 11 + [True, False]),
    ('et', 'ENTRY_TIME', TYPES_T),
    ('arr', 'INT32', [1, -2, 3]),
]
TYPES_ARRAY_SIZE = 3


def types_ref(name):
    """Reference of the data attribute `name` of GGIO2.Types1 (FC CF)"""
    return f'{LD}/GGIO2.Types1.{name}'


def bulk_float(i):
    """Reference of float ``i`` (1-based) of the bulk LD (MX)"""
    return f'{BULK_LD}/GGIO1.AnIn{i}.mag.f'


WRITABLE_FCS = ('DC', 'CF')

INITIAL = {AN_IN: 1.5, IND: False, INT_IN: 7, STR: 'initial', SPC: False}

client_script = Path(__file__).resolve().parent / 'iec61850_client.py'


def pyiec61850_or_skip():
    """The module ``pyiec61850.pyiec61850``; skips the calling test (or
    module, at import) naming the install step if it cannot be imported,
    or fails if the environment variable `REQUIRE_IEC61850` is set to
    anything but ``''``/``'0'`` (CI: these tests must run there)"""
    try:
        import pyiec61850.pyiec61850 as iec
        return iec

    except ImportError as e:
        reason = (f'libiec61850 bindings not available ({e}): '
                  f'{INSTALL_STEP}')
        if os.environ.get(REQUIRE_IEC61850, '') not in ('', '0'):
            pytest.fail(f'{reason} ({REQUIRE_IEC61850} is set: the '
                        f'libiec61850 tests must run)', pytrace=False)
        pytest.skip(reason, allow_module_level=True)


def _free_port(host):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_ied_server(iec, model, host=HOST, configure=None, attempts=5):
    """A libiec61850 ``IedServer`` of `model` listening on `host`, on a
    free port: ``(server, port)``. `configure(server)` is called before it
    starts. The port freed by the search may be taken before the server
    binds it, and a server that failed to start does not start again: up
    to `attempts` servers are made, each on another port (`OSError` if
    none listens)."""
    for _ in range(attempts):
        server = iec.IedServer_create(model)
        iec.IedServer_setLocalIpAddress(server, host)
        if configure is not None:
            configure(server)
        port = _free_port(host)
        iec.IedServer_start(server, port)
        if iec.IedServer_isRunning(server):
            return server, port
        iec.IedServer_destroy(server)
    raise OSError(f'libiec61850 server could not listen on {host} '
                  f'({attempts} ports tried)')


class Iec61850Server:
    """libiec61850 ``IedServer`` with the model of this module's docstring

    Args:
        bulk_floats: number of floats (and data set members) of the bulk
            LD; 0 leaves it out
        types: whether LD0 has GGIO2.Types1 (`TYPES`)
        host: listening address (always a loopback address here)

    `start` binds a free port (`port`); `stop` (also by ``with`` /
    ``async with``) stops the server's threads and frees the model. Every
    method may be called from any thread; none calls back into Python.

    """

    def __init__(self, bulk_floats=0, host=HOST, types=False):
        self._iec = pyiec61850_or_skip()
        self.host = host
        self.port = None
        self.bulk_floats = bulk_floats
        self.types = types
        self._model = None
        self._server = None
        self._attributes = {}   # reference -> DataAttribute
        self._build()

    # --- model ---

    def _build(self):
        iec = self._iec
        self._model = iec.IedModel_create(IED_NAME)
        ld = iec.LogicalDevice_create('LD0', self._model)
        lln0 = iec.LogicalNode_create('LLN0', ld)
        ggio = iec.toModelNode(iec.LogicalNode_create('GGIO1', ld))
        iec.CDC_MV_create('AnIn1', ggio, iec.CDC_OPTION_DESC, False)
        iec.CDC_SPS_create('Ind1', ggio, 0)
        iec.CDC_INS_create('IntIn1', ggio, 0)
        iec.CDC_VSS_create('Str1', ggio, 0)
        iec.CDC_SPC_create('SPCSO1', ggio, 0, iec.CDC_CTL_MODEL_NONE)

        data_set = iec.DataSet_create('Events', lln0)
        for ref in DATA_SET_MEMBERS:
            iec.DataSetEntry_create(data_set, _mms_item(ref), -1, None)
        iec.ReportControlBlock_create(
            'urcbEvents01', lln0, RPT_ID, False, 'Events', 1,
            iec.TRG_OPT_DATA_CHANGED | iec.TRG_OPT_GI,
            iec.RPT_OPT_SEQ_NUM | iec.RPT_OPT_TIME_STAMP |
            iec.RPT_OPT_DATA_SET | iec.RPT_OPT_REASON_FOR_INCLUSION, 0, 0)

        if self.types:
            ggio2 = iec.toModelNode(iec.LogicalNode_create('GGIO2', ld))
            types = iec.toModelNode(iec.DataObject_create('Types1', ggio2,
                                                          0))
            for name, type_name, value in TYPES:
                iec.DataAttribute_create(
                    name, types, getattr(iec, f'IEC61850_{type_name}'),
                    iec.IEC61850_FC_CF, 0,
                    len(value) if name == 'arr' else 0, 0)

        if self.bulk_floats > 0:
            bulk = iec.LogicalDevice_create('BULK', self._model)
            bulk_lln0 = iec.LogicalNode_create('LLN0', bulk)
            bulk_ggio = iec.toModelNode(iec.LogicalNode_create('GGIO1', bulk))
            floats = iec.DataSet_create('Floats', bulk_lln0)
            for i in range(1, self.bulk_floats + 1):
                iec.CDC_MV_create(f'AnIn{i}', bulk_ggio, 0, False)
                iec.DataSetEntry_create(floats, _mms_item(bulk_float(i)),
                                        -1, None)

    def _attribute(self, ref):
        attribute = self._attributes.get(ref)
        if attribute is None:
            node = self._iec.IedModel_getModelNodeByObjectReference(
                self._model, ref)
            if node is None:
                raise KeyError(f'no data attribute {ref!r} in the model')
            attribute = self._iec.toDataAttribute(node)
            self._attributes[ref] = attribute
        return attribute

    # --- lifetime ---

    def start(self, attempts=5):
        """Starts listening on `host`, on a free port (`port`)"""
        iec = self._iec

        def configure(server):
            iec.IedServer_setServerIdentity(server, *IDENTITY)
            for fc in WRITABLE_FCS:
                iec.IedServer_setWriteAccessPolicy(
                    server, iec.FunctionalConstraint_fromString(fc),
                    iec.ACCESS_POLICY_ALLOW)

        self._server, self.port = start_ied_server(
            iec, self._model, self.host, configure, attempts)

        for ref, value in INITIAL.items():
            self.update(ref, value)
        for i in range(1, self.bulk_floats + 1):
            self.update(bulk_float(i), float(i))
        if self.types:
            for name, type_name, value in TYPES:
                self.update_typed(types_ref(name), type_name, value)

    def stop(self):
        """Stops the server (closing its connections) and frees the model;
        never raises, may be called more than once"""
        iec = self._iec
        if self._server is not None:
            iec.IedServer_stop(self._server)
            iec.IedServer_destroy(self._server)
            self._server = None
        if self._model is not None:
            self._attributes.clear()
            iec.IedModel_destroy(self._model)
            self._model = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *args):
        self.stop()

    async def __aenter__(self):
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *args):
        # IedServer_stop joins libiec61850's threads: not in the loop
        await asyncio.to_thread(self.stop)

    @property
    def open_connections(self):
        """Number of MMS associations the server has open"""
        return self._iec.IedServer_getNumberOfOpenConnections(self._server)

    # --- values ---

    def update(self, ref, value, timestamp=None):
        """Sets the data attribute `ref` to `value` (bool, int, float or
        str, as the attribute's type) and, for ``...stVal`` / ``...mag.f``,
        the data object's ``t`` to `timestamp` (a timezone-aware datetime,
        default now); a change triggers reports as the model says"""
        iec = self._iec
        attribute = self._attribute(ref)
        t_attribute = self._timestamp_attribute(ref)
        ms = round((timestamp or datetime.datetime.now(
            datetime.timezone.utc)).timestamp() * 1000)
        iec.IedServer_lockDataModel(self._server)
        try:
            if t_attribute is not None:
                iec.IedServer_updateUTCTimeAttributeValue(
                    self._server, t_attribute, ms)
            if isinstance(value, bool):
                iec.IedServer_updateBooleanAttributeValue(
                    self._server, attribute, value)
            elif isinstance(value, int):
                iec.IedServer_updateInt32AttributeValue(
                    self._server, attribute, value)
            elif isinstance(value, float):
                iec.IedServer_updateFloatAttributeValue(
                    self._server, attribute, value)
            elif isinstance(value, str):
                iec.IedServer_updateVisibleStringAttributeValue(
                    self._server, attribute, value)
            else:
                raise TypeError(f'unsupported value {value!r}')

        finally:
            iec.IedServer_unlockDataModel(self._server)

    def update_typed(self, ref, type_name, value):
        """Sets the data attribute `ref` of libiec61850 type `type_name`
        (as in `TYPES`) to `value`; an array attribute gets a list"""
        iec = self._iec
        attribute = self._attribute(ref)
        if isinstance(value, list) and type_name == 'INT32':
            values = [_new_mms_value(iec, type_name, v) for v in value]
            targets = [self._attribute(f'{ref}({i})')
                       for i in range(len(value))]
        else:
            values = [_new_mms_value(iec, type_name, value)]
            targets = [attribute]
        iec.IedServer_lockDataModel(self._server)
        try:
            for target, mms_value in zip(targets, values, strict=True):
                iec.IedServer_updateAttributeValue(self._server, target,
                                                   mms_value)
        finally:
            iec.IedServer_unlockDataModel(self._server)
            for mms_value in values:
                iec.MmsValue_delete(mms_value)

    def _timestamp_attribute(self, ref):
        for suffix in ('.stVal', '.mag.f'):
            if ref.endswith(suffix):
                return self._attribute(ref[:-len(suffix)] + '.t')
        return None

    def get_float(self, ref):
        return self._iec.IedServer_getFloatAttributeValue(
            self._server, self._attribute(ref))

    def get_string(self, ref):
        return self._iec.IedServer_getStringAttributeValue(
            self._server, self._attribute(ref))


def _new_mms_value(iec, type_name, value):
    """A new MmsValue of libiec61850 type `type_name` (``IEC61850_...``
    without the prefix) holding `value`"""
    if type_name == 'BOOLEAN':
        return iec.MmsValue_newBoolean(value)
    if type_name in ('INT8', 'INT32', 'ENUMERATED'):
        return iec.MmsValue_newIntegerFromInt32(value)
    if type_name == 'INT64':
        return iec.MmsValue_newIntegerFromInt64(value)
    if type_name in ('INT8U', 'INT32U'):
        return iec.MmsValue_newUnsignedFromUint32(value)
    if type_name == 'FLOAT32':
        return iec.MmsValue_newFloat(value)
    if type_name == 'FLOAT64':
        return iec.MmsValue_newDouble(value)
    if type_name in ('CODEDENUM', 'QUALITY'):
        result = iec.MmsValue_newBitString(len(value))
        for i, bit in enumerate(value):
            iec.MmsValue_setBitStringBit(result, i, bit)
        return result
    if type_name == 'OCTET_STRING_64':
        result = iec.MmsValue_newOctetString(len(value), 64)
        for i, octet in enumerate(value):
            iec.MmsValue_setOctetStringOctet(result, i, octet)
        return result
    if type_name == 'VISIBLE_STRING_255':
        return iec.MmsValue_newVisibleString(value)
    if type_name == 'UNICODE_STRING_255':
        return iec.MmsValue_newMmsString(value)
    if type_name == 'TIMESTAMP':
        return iec.MmsValue_newUtcTimeByMsTime(
            round(value.timestamp() * 1000))
    if type_name == 'ENTRY_TIME':
        result = iec.MmsValue_newBinaryTime(False)
        iec.MmsValue_setBinaryTime(result, round(value.timestamp() * 1000))
        return result
    raise TypeError(f'unsupported type {type_name!r}')


def _mms_item(ref):
    """MMS item name of an LD-relative reference: 'LD/GGIO1.AnIn1.mag.f'
    -> 'GGIO1$MX$AnIn1$mag$f' (FC from the model of this module)"""
    ln, do, *da = ref.split('/', 1)[1].split('.')
    fc = 'MX' if da[:2] == ['mag', 'f'] else 'ST'
    return '$'.join([ln, fc, do, *da])


class Iec61850Client:
    """libiec61850 client in a subprocess (``iec61850_client.py --stdin``)

    Use as ``async with Iec61850Client(host, port) as client`` (or call
    `start` and `close`): every `op` writes one OP line to the process and
    returns its JSON answer (a dict with ``ok``; see the script's
    docstring for the OPs), bounded by `timeout` seconds. `close` ends the
    process (``exit``, then kill after `timeout`); it never raises.

    """

    def __init__(self, host, port, timeout=20):
        pyiec61850_or_skip()
        self.host = host
        self.port = port
        self.timeout = timeout
        self._process = None

    async def start(self):
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, str(client_script), self.host, str(self.port),
            '--stdin', stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024)

    async def op(self, name, *args, timeout=None):
        """Runs OP ``name:args...`` and gives its answer (a dict)"""
        line = ':'.join([name, *(str(arg) for arg in args)])
        if '\n' in line:
            raise ValueError('an OP is one line')
        self._process.stdin.write(line.encode() + b'\n')
        try:
            await asyncio.wait_for(self._process.stdin.drain(),
                                   timeout or self.timeout)
            answer = await asyncio.wait_for(self._process.stdout.readline(),
                                            timeout or self.timeout)

        except asyncio.TimeoutError:
            pytest.fail(f'libiec61850 client: no answer to {line!r} in '
                        f'{timeout or self.timeout} s')
        if not answer:
            pytest.fail(f'libiec61850 client: process ended before '
                        f'answering {line!r} (exit status '
                        f'{await self._process.wait()})')
        return json.loads(answer)

    async def op_ok(self, name, *args, timeout=None):
        """`op`, asserting that it succeeded"""
        answer = await self.op(name, *args, timeout=timeout)
        assert answer['ok'], answer
        return answer

    async def close(self):
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            process.stdin.write(b'exit\n')
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), self.timeout)

        except (asyncio.TimeoutError, asyncio.CancelledError):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise

    async def __aenter__(self):
        await self.start()
        return self

    async def __aexit__(self, *args):
        await self.close()
