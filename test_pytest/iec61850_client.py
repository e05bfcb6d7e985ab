"""A libiec61850 MMS client driven from the command line, for the tests

Run as a script in its own process (never imported by a test's process:
the blocking calls of the libiec61850 bindings ``pyiec61850`` hold the GIL
and would stop the test's event loop)::

    python iec61850_client.py HOST PORT [OP...] [--stdin]

Each OP is one command line argument ``NAME[:ARG[:ARG...]]``. The OPs are
run in order, then, with ``--stdin``, further OPs are read from standard
input, one a line, until end of file or the OP ``exit``. For every OP one
JSON object is printed on its own line (flushed) with at least ``op``
(the NAME) and ``ok`` (bool); a failed OP has ``error`` (the libiec61850
error code, an int) and ``error_name`` (its constant, ``IED_ERROR_...`` or
``MMS_ERROR_...``) or ``exception`` (a text) and does not stop the run.

OPs (object references are IEC 61850 references ``LD/LN.DO.DA``; ``FC``
is a functional constraint name such as ``MX``, ``ST``, ``DC``):

``connect[:verify]``
    TCP, COTP, session, presentation, ACSE and MMS Initiate, then (unless
    the argument is ``noverify``) an MMS Identify: libiec61850 can report a
    connection under load as made and then fail every request, so a
    connection whose Identify fails is closed and made again (up to 5
    attempts). Gives ``attempts``.
``identify``
    MMS Identify: ``vendor``, ``model``, ``revision``.
``domains`` / ``variables:DOMAIN`` / ``lists:DOMAIN``
    MMS GetNameList of domains (logical devices), of the named variables
    of a domain, of the named variable lists of a domain (libiec61850
    follows ``moreFollows`` itself): ``names``.
``ld-list`` / ``ld-dir:LD`` / ``ln-dir:LD/LN``
    IEC 61850 GetServerDirectory / GetLogicalDeviceDirectory /
    GetLogicalNodeDirectory (data objects): ``names``.
``read:REF:FC``
    IEC 61850 read (MMS Read of one named variable): ``value`` (see
    *Values* below).
``mms-read:DOMAIN:ITEM``
    MMS Read of the variable ``ITEM`` (an MMS name such as
    ``GGIO1$MX$AnIn1$mag$f``) of ``DOMAIN``: ``value``.
``write:REF:FC:TYPE:VALUE``
    MMS Write of one value; ``TYPE`` is ``bool`` (``true``/``false``),
    ``int``, ``uint``, ``float``, ``double``, ``str`` (visible string) or
    ``octets`` (hex).
``spec:REF:FC``
    MMS GetVariableAccessAttributes: ``spec``, a type description
    ``{"type": ..., ...}`` (structures with ``components``).
``dataset:DSREF``
    MMS Read of a named variable list (IEC 61850 data set, reference
    ``LD/LN.NAME``): ``values``.
``define-dataset:DSREF:REF[FC],...`` / ``delete-dataset:DSREF``
    MMS DefineNamedVariableList / DeleteNamedVariableList; members are
    functional-constrained references such as ``LD0/GGIO1.AnIn1.mag.f[MX]``.
``report-enable:RCBREF`` / ``report-disable:RCBREF``
    installs a report handler and writes RptEna true (with TrgOps data
    change and integrity, OptFlds sequence number, time stamp, data set and
    reason) to the (unbuffered) report control block ``LD/LN.RP.NAME``;
    ``report-disable`` writes RptEna false: ``rpt_id``, ``data_set``.
``report-subscribe:RCBREF:RPTID``
    installs a report handler for reports with ``RPTID`` of the report
    control block ``RCBREF`` without reading or writing the block (for a
    server that sends reports on its own); reports are taken by
    ``reports``.
``reports:COUNT:TIMEOUT``
    waits up to ``TIMEOUT`` seconds for ``COUNT`` received reports (queued
    since ``report-enable``) and gives them in ``reports``: each with
    ``rcb``, ``rpt_id``, ``data_set``, ``seq_num``, ``time_of_entry_ms``
    (the TimeOfEntry, ms since 1970 UTC, ``None`` if absent), ``values``
    and ``reasons`` (reason-for-inclusion bits per member, ``None`` where
    the member is not included).
``info-subscribe`` / ``info-reports:COUNT:TIMEOUT``
    installs an MMS InformationReport handler on the association (in place
    of libiec61850's IEC 61850 report handling: ``report-*`` no longer
    receive on this association); ``info-reports`` waits up to
    ``TIMEOUT`` seconds for ``COUNT`` received reports, given in
    ``reports``: each with ``domain`` (``None`` for VMD-specific names),
    ``name`` and ``list`` (true: ``name`` is a named variable list and
    ``value`` the list of its values; false: ``name`` is a variable and
    ``value`` its value; libiec61850 calls the handler once per variable
    of a report given as a list of variables).
``mms-read-multi:DOMAIN:ITEM,ITEM...``
    one MMS Read of several variables of ``DOMAIN``: ``values`` (a data
    access error in place of a variable that could not be read).
``bench-read:REF:FC:N`` / ``bench-dataset:DSREF:N``
    N reads one at a time, timed: ``count``, ``seconds``, ``per_second``.
``conclude`` / ``release`` / ``abort`` / ``close``
    MMS Conclude; libiec61850's release of the association (seen on the
    wire: conclude-Request/Response, then ACSE RLRQ/RLRE, then the server
    closes TCP); abort; close (libiec61850's IedConnection_close: TCP
    closed at once, no conclude and no release - also what ``exit`` and
    the end of input do).
``state``
    libiec61850's connection state (``IED_STATE_...``; 0 closed,
    2 connected): ``state``.
``sleep:SECONDS``, ``exit``

Values: bool, int, float, str for the basic types; structures and arrays
as lists; bit strings as ``{"bits": "0101..."}``; octet strings as
``{"octets": HEX}``; UTC time as ``{"utc_ms": ms, "quality": int}``;
binary time as ``{"binary_ms": ms}``; a data access error as
``{"access_error": CODE}``.

The script depends on nothing but pyiec61850 (GPLv3, a test-only
dependency of hat-drivers) and the standard library.

"""

import json
import queue
import sys
import time

import pyiec61850.pyiec61850 as iec


CONNECT_ATTEMPTS = 5
REQUEST_TIMEOUT_MS = 10_000

_ied_errors = {getattr(iec, name): name for name in dir(iec)
               if name.startswith('IED_ERROR_')}
_mms_errors = {getattr(iec, name): name for name in dir(iec)
               if name.startswith('MMS_ERROR_')}


class OpError(Exception):

    def __init__(self, error, names=_ied_errors):
        super().__init__(names.get(error, str(error)))
        self.error = error
        self.error_name = names.get(error, str(error))


def _check(error):
    # some calls give the error alone, some (None, error)
    if isinstance(error, (list, tuple)):
        error = error[-1]
    if error != iec.IED_ERROR_OK:
        raise OpError(error)


def _fc(name):
    fc = iec.FunctionalConstraint_fromString(name)
    if fc == iec.IEC61850_FC_NONE:
        raise ValueError(f'unknown functional constraint {name!r}')
    return fc


def _names(linked_list):
    """Strings of a LinkedList (destroyed)"""
    names = []
    node = iec.LinkedList_getNext(linked_list)
    while node:
        names.append(iec.toCharP(node.data))
        node = iec.LinkedList_getNext(node)
    iec.LinkedList_destroy(linked_list)
    return names


def _value(v):
    """JSON value of an MmsValue (not deleted)"""
    if v is None:
        return None
    t = iec.MmsValue_getType(v)
    if t in (iec.MMS_STRUCTURE, iec.MMS_ARRAY):
        return [_value(iec.MmsValue_getElement(v, i))
                for i in range(iec.MmsValue_getArraySize(v))]
    if t == iec.MMS_BOOLEAN:
        return bool(iec.MmsValue_getBoolean(v))
    if t == iec.MMS_INTEGER:
        return iec.MmsValue_toInt64(v)
    if t == iec.MMS_UNSIGNED:
        return iec.MmsValue_toUint32(v)
    if t == iec.MMS_FLOAT:
        return iec.MmsValue_toDouble(v)
    if t in (iec.MMS_VISIBLE_STRING, iec.MMS_STRING):
        return iec.MmsValue_toString(v)
    if t == iec.MMS_BIT_STRING:
        return {'bits': ''.join(
            '1' if iec.MmsValue_getBitStringBit(v, i) else '0'
            for i in range(iec.MmsValue_getBitStringSize(v)))}
    if t == iec.MMS_OCTET_STRING:
        return {'octets': bytes(
            iec.MmsValue_getOctetStringOctet(v, i)
            for i in range(iec.MmsValue_getOctetStringSize(v))).hex()}
    if t == iec.MMS_UTC_TIME:
        return {'utc_ms': iec.MmsValue_getUtcTimeInMs(v),
                'quality': iec.MmsValue_getUtcTimeQuality(v)}
    if t == iec.MMS_BINARY_TIME:
        return {'binary_ms': iec.MmsValue_getBinaryTimeAsUtcMs(v)}
    if t == iec.MMS_DATA_ACCESS_ERROR:
        return {'access_error': iec.MmsValue_getDataAccessError(v)}
    return {'type': iec.MmsValue_getTypeString(v)}


def _new_value(type_name, text):
    if type_name == 'bool':
        if text not in ('true', 'false'):
            raise ValueError(f'bool value must be true or false: {text!r}')
        return iec.MmsValue_newBoolean(text == 'true')
    if type_name == 'int':
        return iec.MmsValue_newIntegerFromInt64(int(text))
    if type_name == 'uint':
        return iec.MmsValue_newUnsignedFromUint32(int(text))
    if type_name == 'float':
        return iec.MmsValue_newFloat(float(text))
    if type_name == 'double':
        return iec.MmsValue_newDouble(float(text))
    if type_name == 'str':
        return iec.MmsValue_newVisibleString(text)
    if type_name == 'octets':
        data = bytes.fromhex(text)
        value = iec.MmsValue_newOctetString(len(data), len(data))
        for i, octet in enumerate(data):
            iec.MmsValue_setOctetStringOctet(value, i, octet)
        return value
    raise ValueError(f'unknown value type {type_name!r}')


def _list_name(ref):
    """(domain, item) of a data set reference 'LD/LN.NAME'"""
    domain, rest = ref.split('/', 1)
    return domain, rest.replace('.', '$')


_spec_types = {getattr(iec, name): name[4:].lower() for name in
               ('MMS_ARRAY', 'MMS_STRUCTURE', 'MMS_BOOLEAN', 'MMS_BIT_STRING',
                'MMS_INTEGER', 'MMS_UNSIGNED', 'MMS_FLOAT',
                'MMS_OCTET_STRING', 'MMS_VISIBLE_STRING',
                'MMS_GENERALIZED_TIME', 'MMS_BINARY_TIME', 'MMS_BCD',
                'MMS_OBJ_ID', 'MMS_STRING', 'MMS_UTC_TIME')}


def _spec(spec):
    """JSON type description of an MmsVariableSpecification"""
    t = iec.MmsVariableSpecification_getType(spec)
    result = {'type': _spec_types.get(t, str(t))}
    if t == iec.MMS_STRUCTURE:
        result['components'] = [
            dict(name=iec.MmsVariableSpecification_getName(child),
                 **_spec(child))
            for child in (
                iec.MmsVariableSpecification_getChildSpecificationByIndex(
                    spec, i)
                for i in range(iec.MmsVariableSpecification_getSize(spec)))]
    elif t == iec.MMS_ARRAY:
        result['size'] = iec.MmsVariableSpecification_getSize(spec)
        result['element'] = _spec(
            iec.MmsVariableSpecification_getArrayElementSpecification(spec))
    elif t == iec.MMS_FLOAT:
        result['size'] = iec.MmsVariableSpecification_getSize(spec)
        result['exponent_width'] = \
            iec.MmsVariableSpecification_getExponentWidth(spec)
    elif t != iec.MMS_BOOLEAN:
        result['size'] = iec.MmsVariableSpecification_getSize(spec)
    return result


class _ReportHandler(iec.RCBHandler):
    """Director called by libiec61850's thread for each received report"""

    def __init__(self, reports, rcb):
        super().__init__()
        self._reports = reports
        self._rcb = rcb

    def trigger(self):
        try:
            report = self._client_report
            values = iec.ClientReport_getDataSetValues(report)
            size = iec.MmsValue_getArraySize(values) if values else 0
            reasons = [
                iec.ClientReport_getReasonForInclusion(report, i)
                if iec.ClientReport_hasReasonForInclusion(report) else None
                for i in range(size)]
            self._reports.put({
                'rcb': self._rcb,
                'rpt_id': iec.ClientReport_getRptId(report),
                'data_set': (iec.ClientReport_getDataSetName(report)
                             if iec.ClientReport_hasDataSetName(report)
                             else None),
                'seq_num': (iec.ClientReport_getSeqNum(report)
                            if iec.ClientReport_hasSeqNum(report) else None),
                'time_of_entry_ms': (
                    iec.ClientReport_getTimestamp(report)
                    if iec.ClientReport_hasTimestamp(report) else None),
                # libiec61850 keeps the values of members not included
                # from earlier reports: only included members are given
                'values': [
                    _value(iec.MmsValue_getElement(values, i))
                    if reasons[i] is None or reasons[i] != 0 else None
                    for i in range(size)],
                'reasons': [None if r == 0 else r for r in reasons]})

        except Exception as e:  # noqa: BLE001 (reported, never raised in C)
            self._reports.put({'rcb': self._rcb, 'exception': repr(e)})


class _InformationReportHandler(iec.InformationReportHandler):
    """Director called by libiec61850's thread for each InformationReport
    (each variable of a list of variables)"""

    def __init__(self, reports):
        super().__init__()
        self._reports = reports

    def trigger(self):
        try:
            self._reports.put({
                'domain': self.getDomainName() or None,
                'name': self.getVariableListName(),
                'list': bool(self.getIsVariableListName()),
                'value': _value(self.getMmsValue())})

        except Exception as e:  # noqa: BLE001 (reported, never raised in C)
            self._reports.put({'exception': repr(e)})


class Client:

    def __init__(self, host, port):
        self._host = host
        self._port = port
        self._conn = None
        self._reports = queue.Queue()
        self._info_reports = queue.Queue()
        self._subscribers = {}

    def close(self):
        if self._conn is not None:
            iec.IedConnection_close(self._conn)
            iec.IedConnection_destroy(self._conn)
            self._conn = None
        self._subscribers.clear()

    @property
    def _mms(self):
        return iec.IedConnection_getMmsConnection(self._conn)

    def op_connect(self, verify='verify'):
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            self.close()
            self._conn = iec.IedConnection_create()
            iec.IedConnection_setConnectTimeout(self._conn,
                                                REQUEST_TIMEOUT_MS)
            iec.IedConnection_setRequestTimeout(self._conn,
                                                REQUEST_TIMEOUT_MS)
            _, error = iec.IedConnection_connect(self._conn, self._host,
                                                 self._port)
            if error != iec.IED_ERROR_OK:
                raise OpError(error)
            if verify == 'noverify':
                return {'attempts': attempt}
            if iec.MmsConnection_identify(self._mms, None) is not None:
                return {'attempts': attempt}
        raise OpError(iec.IED_ERROR_UNKNOWN)

    def op_identify(self):
        identity = iec.MmsConnection_identify(self._mms, None)
        if identity is None:
            raise OpError(iec.IED_ERROR_UNKNOWN)
        result = {'vendor': identity.vendorName, 'model': identity.modelName,
                  'revision': identity.revision}
        iec.MmsServerIdentity_destroy(identity)
        return result

    def _mms_names(self, fn, *args):
        result = fn(self._mms, None, *args)
        if isinstance(result, (list, tuple)):
            result, error = result[0], result[-1]
            if error != iec.MMS_ERROR_NONE:
                raise OpError(error, _mms_errors)
        if result is None:
            raise OpError(iec.IED_ERROR_UNKNOWN)
        return {'names': _names(result)}

    def op_domains(self):
        return self._mms_names(iec.MmsConnection_getDomainNames)

    def op_variables(self, domain):
        return self._mms_names(iec.MmsConnection_getDomainVariableNames,
                               domain)

    def op_lists(self, domain):
        return self._mms_names(iec.MmsConnection_getDomainVariableListNames,
                               domain)

    def op_ld_list(self):
        names, error = iec.IedConnection_getLogicalDeviceList(self._conn)
        _check(error)
        return {'names': _names(names)}

    def op_ld_dir(self, ld):
        names, error = iec.IedConnection_getLogicalDeviceDirectory(
            self._conn, ld)
        _check(error)
        return {'names': _names(names)}

    def op_ln_dir(self, ln):
        names, error = iec.IedConnection_getLogicalNodeDirectory(
            self._conn, ln, iec.ACSI_CLASS_DATA_OBJECT)
        _check(error)
        return {'names': _names(names)}

    def op_read(self, ref, fc):
        value, error = iec.IedConnection_readObject(self._conn, ref, _fc(fc))
        _check(error)
        try:
            return {'value': _value(value)}

        finally:
            iec.MmsValue_delete(value)

    def op_mms_read(self, domain, item):
        result = iec.MmsConnection_readVariable(self._mms, None, domain,
                                                item)
        if isinstance(result, (list, tuple)):
            result, error = result[0], result[-1]
            if error != iec.MMS_ERROR_NONE:
                raise OpError(error, _mms_errors)
        if result is None:
            raise OpError(iec.IED_ERROR_UNKNOWN)
        try:
            return {'value': _value(result)}

        finally:
            iec.MmsValue_delete(result)

    def op_write(self, ref, fc, type_name, text):
        value = _new_value(type_name, text)
        try:
            _check(iec.IedConnection_writeObject(self._conn, ref, _fc(fc),
                                                 value))
            return {}

        finally:
            iec.MmsValue_delete(value)

    def op_spec(self, ref, fc):
        spec, error = iec.IedConnection_getVariableSpecification(
            self._conn, ref, _fc(fc))
        _check(error)
        try:
            return {'spec': _spec(spec)}

        finally:
            iec.MmsVariableSpecification_destroy(spec)

    def op_dataset(self, ref):
        # IedConnection_readDataSetValues cannot be given NULL (a new
        # ClientDataSet) through the bindings: the MMS call instead
        domain, item = _list_name(ref)
        values = iec.MmsConnection_readNamedVariableListValues(
            self._mms, None, domain, item, False)
        if values is None:
            raise OpError(iec.IED_ERROR_UNKNOWN)
        try:
            return {'values': _value(values)}

        finally:
            iec.MmsValue_delete(values)

    def op_define_dataset(self, ref, members):
        elements = iec.LinkedList_create()
        try:
            for member in members.split(','):
                iec.LinkedList_addStringCopy(elements, member)
            _check(iec.IedConnection_createDataSet(self._conn, ref,
                                                   elements))
            return {}

        finally:
            iec.LinkedList_destroyDeepStringFree(elements)

    def op_delete_dataset(self, ref):
        result = iec.IedConnection_deleteDataSet(self._conn, ref)
        if isinstance(result, (list, tuple)):
            deleted, error = result[0], result[-1]
            _check(error)
            return {'deleted': bool(deleted)}
        _check(result)
        return {}

    def _get_rcb(self, ref):
        # the bindings refuse NULL for updateRcb: a new one is given
        rcb = iec.ClientReportControlBlock_create(ref)
        _, error = iec.IedConnection_getRCBValues(self._conn, ref, rcb)
        if error != iec.IED_ERROR_OK:
            iec.ClientReportControlBlock_destroy(rcb)
            raise OpError(error)
        return rcb

    def _set_rcb(self, ref, enable):
        rcb = self._get_rcb(ref)
        try:
            rpt_id = iec.ClientReportControlBlock_getRptId(rcb)
            data_set = iec.ClientReportControlBlock_getDataSetReference(rcb)
            mask = iec.RCB_ELEMENT_RPT_ENA
            if enable:
                iec.ClientReportControlBlock_setTrgOps(
                    rcb, iec.TRG_OPT_DATA_CHANGED | iec.TRG_OPT_INTEGRITY)
                iec.ClientReportControlBlock_setOptFlds(
                    rcb, iec.RPT_OPT_SEQ_NUM | iec.RPT_OPT_TIME_STAMP |
                    iec.RPT_OPT_DATA_SET |
                    iec.RPT_OPT_REASON_FOR_INCLUSION)
                mask |= iec.RCB_ELEMENT_TRG_OPS | iec.RCB_ELEMENT_OPT_FLDS
            iec.ClientReportControlBlock_setRptEna(rcb, enable)
            _check(iec.IedConnection_setRCBValues(self._conn, rcb, mask,
                                                  True))
            return {'rpt_id': rpt_id, 'data_set': data_set}

        finally:
            iec.ClientReportControlBlock_destroy(rcb)

    def op_report_enable(self, ref):
        rcb = self._get_rcb(ref)
        rpt_id = iec.ClientReportControlBlock_getRptId(rcb)
        iec.ClientReportControlBlock_destroy(rcb)
        if ref not in self._subscribers:
            # the handler belongs to the C++ subscriber from here on
            # (__disown__), kept alive by the reference below
            handler = _ReportHandler(self._reports, ref)
            subscriber = iec.RCBSubscriber()
            subscriber.setIedConnection(self._conn)
            subscriber.setRcbReference(ref)
            subscriber.setRcbRptId(rpt_id)
            subscriber.setEventHandler(handler.__disown__())
            if not subscriber.subscribe():
                raise OpError(iec.IED_ERROR_UNKNOWN)
            self._subscribers[ref] = (subscriber, handler)
        return self._set_rcb(ref, True)

    def op_report_disable(self, ref):
        return self._set_rcb(ref, False)

    def op_report_subscribe(self, ref, rpt_id):
        if ref in self._subscribers:
            raise ValueError(f'already subscribed to {ref!r}')
        handler = _ReportHandler(self._reports, ref)
        subscriber = iec.RCBSubscriber()
        subscriber.setIedConnection(self._conn)
        subscriber.setRcbReference(ref)
        subscriber.setRcbRptId(rpt_id)
        subscriber.setEventHandler(handler.__disown__())
        if not subscriber.subscribe():
            raise OpError(iec.IED_ERROR_UNKNOWN)
        self._subscribers[ref] = (subscriber, handler)
        return {}

    def op_info_subscribe(self):
        if 'info' in self._subscribers:
            raise ValueError('already subscribed')
        # the handler belongs to the C++ subscriber (__disown__), both
        # kept referenced until the connection is closed
        handler = _InformationReportHandler(self._info_reports)
        subscriber = iec.InformationReportSubscriber()
        subscriber.setMmsConnection(self._mms)
        subscriber.setEventHandler(handler.__disown__())
        if not subscriber.subscribe():
            raise OpError(iec.IED_ERROR_UNKNOWN)
        self._subscribers['info'] = (subscriber, handler)
        return {}

    def op_reports(self, count, timeout):
        return {'reports': _take(self._reports, count, timeout)}

    def op_info_reports(self, count, timeout):
        return {'reports': _take(self._info_reports, count, timeout)}

    def op_mms_read_multi(self, domain, items):
        names = iec.LinkedList_create()
        try:
            for item in items.split(','):
                iec.LinkedList_addStringCopy(names, item)
            result = iec.MmsConnection_readMultipleVariables(
                self._mms, None, domain, names)

        finally:
            iec.LinkedList_destroyDeepStringFree(names)
        if isinstance(result, (list, tuple)):
            result, error = result[0], result[-1]
            if error != iec.MMS_ERROR_NONE:
                raise OpError(error, _mms_errors)
        if result is None:
            raise OpError(iec.IED_ERROR_UNKNOWN)
        try:
            return {'values': _value(result)}

        finally:
            iec.MmsValue_delete(result)

    def op_bench_read(self, ref, fc, n):
        fc = _fc(fc)
        read = iec.IedConnection_readObject
        delete = iec.MmsValue_delete
        conn = self._conn
        t = time.perf_counter()
        for _ in range(int(n)):
            value, error = read(conn, ref, fc)
            _check(error)
            delete(value)
        dt = time.perf_counter() - t
        return {'count': int(n), 'seconds': dt, 'per_second': int(n) / dt}

    def op_bench_dataset(self, ref, n):
        domain, item = _list_name(ref)
        read = iec.MmsConnection_readNamedVariableListValues
        delete = iec.MmsValue_delete
        mms = self._mms
        size = None
        t = time.perf_counter()
        for _ in range(int(n)):
            values = read(mms, None, domain, item, False)
            if values is None:
                raise OpError(iec.IED_ERROR_UNKNOWN)
            if size is None:
                size = iec.MmsValue_getArraySize(values)
            delete(values)
        dt = time.perf_counter() - t
        return {'count': int(n), 'seconds': dt, 'per_second': int(n) / dt,
                'size': size}

    def op_conclude(self):
        result = iec.MmsConnection_conclude(self._mms, None)
        if isinstance(result, int) and result != iec.MMS_ERROR_NONE:
            raise OpError(result, _mms_errors)
        return {}

    def op_release(self):
        result = iec.IedConnection_release(self._conn)
        error = result[-1] if isinstance(result, (list, tuple)) else result
        if error is not None:
            _check(error)
        return {}

    def op_abort(self):
        result = iec.IedConnection_abort(self._conn)
        error = result[-1] if isinstance(result, (list, tuple)) else result
        if error is not None:
            _check(error)
        return {}

    def op_close(self):
        self.close()
        return {}

    def op_state(self):
        return {'state': iec.IedConnection_getState(self._conn)
                if self._conn is not None else iec.IED_STATE_CLOSED}

    def op_sleep(self, seconds):
        time.sleep(float(seconds))
        return {}


def _take(reports, count, timeout):
    """`count` items of the queue `reports`, waiting up to `timeout`
    seconds (TimeoutError naming how many came)"""
    deadline = time.monotonic() + float(timeout)
    result = []
    while len(result) < int(count):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f'{len(result)} of {count} reports '
                               f'received in {timeout} s')
        try:
            result.append(reports.get(timeout=remaining))

        except queue.Empty:
            continue
    return result


def run_op(client, line):
    """Runs one OP (``NAME[:ARG...]``) and gives its JSON result"""
    name, *args = line.split(':')
    # a write's value (the last argument) may contain ':'
    if name == 'write' and len(args) > 4:
        args = [*args[:3], ':'.join(args[3:])]
    result = {'op': name, 'args': args}
    fn = getattr(client, 'op_' + name.replace('-', '_'), None)
    if fn is None:
        return {**result, 'ok': False, 'exception': f'unknown op {name!r}'}
    if name != 'connect' and name not in ('sleep', 'close', 'state') and \
            client._conn is None:
        return {**result, 'ok': False, 'exception': 'not connected'}
    try:
        return {**result, 'ok': True, **fn(*args)}

    except OpError as e:
        return {**result, 'ok': False, 'error': e.error,
                'error_name': e.error_name}

    except Exception as e:  # noqa: BLE001 (every failure is an answer)
        return {**result, 'ok': False, 'exception': repr(e)}


def main(argv):
    stdin = '--stdin' in argv
    argv = [arg for arg in argv if arg != '--stdin']
    if len(argv) < 2:
        sys.exit(__doc__)
    host, port, *ops = argv
    client = Client(host, int(port))

    def lines():
        yield from ops
        if stdin:
            for line in sys.stdin:
                yield line.strip()

    try:
        for line in lines():
            if not line:
                continue
            if line == 'exit':
                break
            print(json.dumps(run_op(client, line)), flush=True)

    finally:
        client.close()


if __name__ == '__main__':
    main(sys.argv[1:])
