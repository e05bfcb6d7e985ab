"""MMS client (ISO 9506, IEC 61850 style browsing), built on
`hat.drivers.mms`.

Run from the repository root (with ``mms_server.py`` running)::

    .venv/bin/python playground/mms_client.py [--host HOST] [--port PORT]
        [--read DOMAIN/ITEM]... [--write DOMAIN/ITEM=VALUE]... [--reports]
        [--count N] [--timeout SECONDS] [-v]

Connects to HOST:PORT (default 127.0.0.1:10102, the simulator's; an IED
listens on MMS's port 102: ``--port 102``) within ``--timeout`` seconds
(default 10), and prints:

* ``identify: ...``: the server's vendor, model and revision (Identify);
* ``domain: NAME``, then ``variable: DOMAIN/ITEM`` for every named
  variable and ``list: DOMAIN/ITEM`` for every named variable list of
  every domain (GetNameList, following continueAfter until the server has
  no more);
* ``read: DOMAIN/ITEM = VALUE`` for every basic variable (a name without
  components: ``MMXU1$MX$TotW$mag$f``, not ``MMXU1``), read in requests
  of 16 variables kept in flight together, or only for the variables given
  with ``--read`` (Read).

It is read-only by default: safe to point at a real IED. Only with
``--write DOMAIN/ITEM=VALUE`` does it write: VALUE is converted to the
variable's type, which the client asks the server first
(GetVariableAccessAttributes): ``true``/``false`` (or on/off, 1/0) for a
boolean, a number for an integer, unsigned or floating point, text for a
string. A write the server refuses (``write: ... refused: OBJECT_ACCESS_
DENIED``) gives one line ``error: ...`` and exit status 1.

With ``--reports`` it enables the unbuffered reports of every report
control block it found (writes ``RptEna`` = true of each
``...$RP$...`` block: the only other write it does) and prints ``report:
...`` for every InformationReport (IEC 61850-8-1 reports: RptID, SeqNum,
TimeOfEntry, data set and the values with their references), until
``--count`` reports have arrived or Ctrl-C or SIGTERM (exit status 0). It
ends by concluding and releasing the association.

Every request must be answered within ``--timeout`` seconds. A refused,
lost or timed-out connection, or a bad argument, gives one line ``error:
...`` and exit status 1. ``-v`` logs the libraries' warnings and errors on
standard error.

"""

import quiet_start  # NOQA: F401 (first: Ctrl-C quiet from here on)

from collections.abc import Sequence
import argparse
import asyncio
import math
import typing

import cli
from hat.drivers import mms


DEFAULT_HOST = '127.0.0.1'
DEFAULT_PORT = 10102
DEFAULT_TIMEOUT = 10.0
READ_BATCH = 16

R = typing.TypeVar('R')

# OptFlds of an IEC 61850-8-1 report (bit 0 reserved)
OPT_NAMES = ['reserved', 'sequence-number', 'report-time-stamp',
             'reason-for-inclusion', 'data-set-name', 'data-reference',
             'buffer-overflow', 'entryID', 'conf-revision', 'segmentation']


class Reference(typing.NamedTuple):
    """A variable's reference ``DOMAIN/ITEM``"""
    domain: str
    item: str

    def __str__(self) -> str:
        return f'{self.domain}/{self.item}'

    @property
    def spec(self) -> mms.NameVariableSpecification:
        return mms.NameVariableSpecification(
            mms.DomainSpecificObjectName(self.domain, self.item))


class Write(typing.NamedTuple):
    """``--write DOMAIN/ITEM=VALUE``"""
    reference: Reference
    text: str


# --- printing --------------------------------------------------------------

def describe(data: mms.DataAccessError | mms.Data) -> str:
    """One line describing a value (or a variable's access error)"""
    if isinstance(data, mms.DataAccessError):
        return f'<{data.name}>'
    if isinstance(data, (mms.StructureData, mms.ArrayData)):
        inner = ', '.join(describe(e) for e in data.elements)
        return (f'{{{inner}}}' if isinstance(data, mms.StructureData)
                else f'[{inner}]')
    if isinstance(data, mms.BooleanData):
        return 'true' if data.value else 'false'
    if isinstance(data, mms.FloatingPointData):
        return f'{data.value:.7g}'
    if isinstance(data, (mms.BitStringData, mms.BooleanArrayData)):
        return "'" + ''.join('1' if bit else '0' for bit in data.value) + \
            "'B"
    if isinstance(data, mms.OctetStringData):
        return f"'{bytes(data.value).hex()}'H"
    if isinstance(data, (mms.VisibleStringData, mms.MmsStringData)):
        return repr(data.value)
    if isinstance(data, mms.BinaryTimeData):
        return data.value.isoformat(timespec='milliseconds')
    if isinstance(data, mms.UtcTimeData):
        flags = [name for name in ('leap_second', 'clock_failure',
                                   'not_synchronized')
                 if getattr(data, name)]
        text = data.value.isoformat(timespec='microseconds')
        return ' '.join([text, *flags])
    if isinstance(data, mms.ObjIdData):
        return '.'.join(str(i) for i in data.value)
    return str(data.value)


def describe_report(report: mms.InformationReportUnconfirmed,
                    members: dict[str, list[str]]
                    ) -> str:
    """One line describing an InformationReport: an IEC 61850-8-1 report
    (`members`: known data set members by data set name) or any other"""
    data = list(report.data)
    if (report.specification != mms.VmdSpecificObjectName('RPT') or
            len(data) < 2 or
            not isinstance(data[0], mms.VisibleStringData) or
            not isinstance(data[1], mms.BitStringData)):
        return (f'{_spec_text(report.specification)}: '
                f'{", ".join(describe(d) for d in data)}')

    rpt_id = data[0].value
    opt = list(data[1].value) + [False] * 10
    parts = [f'RptID={rpt_id}']
    data = data[2:]

    def take() -> mms.DataAccessError | mms.Data:
        if not data:
            raise ValueError('report too short')
        return data.pop(0)

    try:
        data_set = None
        if opt[1]:
            parts.append(f'SeqNum={describe(take())}')
        if opt[2]:
            parts.append(f'TimeOfEntry={describe(take())}')
        if opt[4]:
            value = take()
            data_set = getattr(value, 'value', None)
            parts.append(f'DatSet={data_set}')
        if opt[6]:
            parts.append(f'BufOvfl={describe(take())}')
        if opt[7]:
            parts.append(f'EntryID={describe(take())}')
        if opt[8]:
            parts.append(f'ConfRev={describe(take())}')
        if opt[9]:
            take()
            take()
        inclusion = take()
        if not isinstance(inclusion, mms.BitStringData):
            raise ValueError('no inclusion bit string')
        indexes = [i for i, bit in enumerate(inclusion.value) if bit]
        if opt[5]:
            references = [getattr(take(), 'value', '?') for _ in indexes]
        else:
            known = members.get(data_set or '', [])
            references = [known[i] if i < len(known) else f'#{i}'
                          for i in indexes]
        values = [take() for _ in indexes]

    except ValueError as e:
        return ' '.join([*parts, f'(malformed: {e})'])

    parts.extend(f'{reference}={describe(value)}'
                 for reference, value in zip(references, values,
                                             strict=True))
    return ' '.join(parts)


def _spec_text(spec: typing.Any) -> str:
    if isinstance(spec, mms.VmdSpecificObjectName):
        return spec.identifier
    if isinstance(spec, mms.DomainSpecificObjectName):
        return f'{spec.domain_id}/{spec.item_id}'
    return str(spec)


# --- the client ------------------------------------------------------------

class Client:
    """Requests on one association, each answered within `timeout`"""

    def __init__(self, conn: mms.Connection, timeout: float):
        self.conn = conn
        self.timeout = timeout

    async def request(self,
                      request: mms.Request,
                      expected: type[R]
                      ) -> R:
        """Send `request`; an error response or a response that is not
        `expected` raises `cli.Error`"""
        try:
            response = await asyncio.wait_for(
                self.conn.send_confirmed(request), self.timeout)

        except asyncio.TimeoutError:
            raise cli.Error(f'{type(request).__name__}: no response within '
                            f'{self.timeout:g} s') from None

        except mms.RejectedError as e:
            raise cli.Error(f'{type(request).__name__} rejected: '
                            f'{e.reason.name} code {e.code}') from None

        if isinstance(response, mms.ErrorResponse):
            raise cli.Error(f'{type(request).__name__} refused: '
                            f'{response.error_class.name} '
                            f'{response.value}')
        if not isinstance(response, expected):
            raise cli.Error(f'{type(request).__name__}: unexpected '
                            f'{type(response).__name__}')
        return response

    async def name_list(self,
                        object_class: mms.ObjectClass,
                        scope: mms.ObjectScope
                        ) -> list[str]:
        """Every name of `object_class` in `scope`, following
        continueAfter"""
        names: list[str] = []
        continue_after = None
        while True:
            response = await self.request(
                mms.GetNameListRequest(object_class=object_class,
                                       object_scope=scope,
                                       continue_after=continue_after),
                mms.GetNameListResponse)
            names.extend(response.identifiers)
            if not response.more_follows or not response.identifiers:
                return names
            continue_after = response.identifiers[-1]

    async def read(self,
                   references: Sequence[Reference]
                   ) -> list[mms.DataAccessError | mms.Data]:
        """Values of `references`, in requests of `READ_BATCH` sent
        together (the connection keeps at most the negotiated number in
        flight)"""
        batches = [references[i:i + READ_BATCH]
                   for i in range(0, len(references), READ_BATCH)]
        responses = await asyncio.gather(
            *(self.request(mms.ReadRequest([r.spec for r in batch]),
                           mms.ReadResponse)
              for batch in batches))
        results: list[mms.DataAccessError | mms.Data] = []
        for batch, response in zip(batches, responses, strict=True):
            if len(response.results) != len(batch):
                raise cli.Error(f'read: {len(response.results)} results '
                                f'for {len(batch)} variables')
            results.extend(response.results)
        return results

    async def write(self, reference: Reference, data: mms.Data) -> None:
        """Write `data`; refused: `cli.Error`"""
        response = await self.request(
            mms.WriteRequest([reference.spec], [data]), mms.WriteResponse)
        [result] = response.results
        if result is not None:
            raise cli.Error(f'write: {reference} refused: {result.name}')

    async def type_of(self, reference: Reference) -> mms.TypeDescription:
        """Type of the variable; unknown or refused: `cli.Error` naming
        it"""
        try:
            response = await self.request(
                mms.GetVariableAccessAttributesRequest(
                    mms.DomainSpecificObjectName(reference.domain,
                                                 reference.item)),
                mms.GetVariableAccessAttributesResponse)

        except cli.Error as e:
            raise cli.Error(f'{reference}: type not known: {e}') from None

        return response.type_description


def value_of(text: str,
             type_description: mms.TypeDescription,
             reference: Reference
             ) -> mms.Data:
    """`text` as Data of `type_description`

    Raises:
        cli.Error: the text does not fit, or the type cannot be written
            from the command line

    """
    word = text.strip().lower()
    try:
        if isinstance(type_description, mms.BooleanTypeDescription):
            if word in ('true', 'on', '1'):
                return mms.BooleanData(True)
            if word in ('false', 'off', '0'):
                return mms.BooleanData(False)
            raise ValueError('expected true or false')
        if isinstance(type_description, mms.IntegerTypeDescription):
            return mms.IntegerData(int(word))
        if isinstance(type_description, mms.UnsignedTypeDescription):
            value = int(word)
            if value < 0:
                raise ValueError('expected a number 0 or more')
            return mms.UnsignedData(value)
        if isinstance(type_description, mms.FloatingPointTypeDescription):
            number = float(word)
            if not math.isfinite(number):
                raise ValueError('not a finite number')
            return mms.FloatingPointData(number)
        if isinstance(type_description, mms.VisibleStringTypeDescription):
            return mms.VisibleStringData(text)
        if isinstance(type_description, mms.MmsStringTypeDescription):
            return mms.MmsStringData(text)

    except ValueError as e:
        raise cli.Error(f'write: {reference}={text}: {e}') from None

    raise cli.Error(f'write: {reference} is of type '
                    f'{type(type_description).__name__}: not writable from '
                    f'the command line')


async def run(addr: mms.Address,
              reads: list[Reference] | None,
              writes: list[Write],
              reports: bool,
              count: int | None,
              timeout: float
              ) -> int:
    """Browse, read, write if asked, print reports; returns the exit
    status

    Raises:
        cli.Error: no association or no response within `timeout`, a
            request or write refused
        ConnectionError: the association failed

    """
    def on_request(conn: mms.Connection,
                   request: mms.Request
                   ) -> mms.Response:
        # this client serves no requests of the server
        return mms.ErrorResponse(mms.ErrorClass.SERVICE, 0)

    try:
        conn = await asyncio.wait_for(
            mms.connect(on_request, addr, response_timeout=timeout),
            timeout)

    except asyncio.TimeoutError:
        raise cli.Error(f'connection to {addr.host}:{addr.port}: not '
                        f'established within {timeout:g} s') from None

    try:
        print(f'connected to {addr.host}:{addr.port}', flush=True)
        client = Client(conn, timeout)

        identify = await client.request(mms.IdentifyRequest(),
                                        mms.IdentifyResponse)
        print(f'identify: vendor={identify.vendor!r} '
              f'model={identify.model!r} revision={identify.revision!r}',
              flush=True)

        variables: list[Reference] = []
        lists: list[Reference] = []
        for domain in await client.name_list(mms.ObjectClass.DOMAIN,
                                             mms.VmdSpecificObjectScope()):
            print(f'domain: {domain}', flush=True)
            scope = mms.DomainSpecificObjectScope(domain)
            for name in await client.name_list(
                    mms.ObjectClass.NAMED_VARIABLE, scope):
                variables.append(Reference(domain, name))
                print(f'variable: {variables[-1]}', flush=True)
            for name in await client.name_list(
                    mms.ObjectClass.NAMED_VARIABLE_LIST, scope):
                lists.append(Reference(domain, name))
                print(f'list: {lists[-1]}', flush=True)

        if reads is None:
            # basic variables: names no other name is a component of
            parents = {Reference(v.domain, v.item.rpartition('$')[0])
                       for v in variables if '$' in v.item}
            reads = [v for v in variables if v not in parents]
        for reference, value in zip(reads, await client.read(reads),
                                    strict=True):
            print(f'read: {reference} = {describe(value)}', flush=True)

        if reports:
            for rcb in [v for v in variables
                        if '$RP$' in v.item and v.item.endswith('$RptEna')]:
                await client.write(rcb, mms.BooleanData(True))
                print(f'reports enabled: {rcb}', flush=True)

        for write in writes:
            type_description = await client.type_of(write.reference)
            data = value_of(write.text, type_description, write.reference)
            print(f'write: {write.reference} = {describe(data)}',
                  flush=True)
            await client.write(write.reference, data)
            print(f'write: {write.reference}: ok', flush=True)

        if not reports:
            return 0

        # data set members, to name the values of reports without
        # data references
        members: dict[str, list[str]] = {}
        for reference in lists:
            try:
                response = await client.request(
                    mms.GetNamedVariableListAttributesRequest(
                        mms.DomainSpecificObjectName(reference.domain,
                                                     reference.item)),
                    mms.GetNamedVariableListAttributesResponse)

            except cli.Error:
                continue

            members[str(reference)] = [
                _spec_text(getattr(spec, 'name', spec))
                for spec in response.specification]

        received = 0
        while count is None or received < count:
            unconfirmed = await conn.receive_unconfirmed()
            if isinstance(unconfirmed, mms.InformationReportUnconfirmed):
                received += 1
                print(f'report: {describe_report(unconfirmed, members)}',
                      flush=True)
            else:
                print(f'unconfirmed: {unconfirmed}', flush=True)

        return 0

    finally:
        await conn.async_close()


def main(argv: list[str] | None = None) -> int:
    parser = cli.ArgumentParser(
        description='MMS client: browses, reads, prints reports; '
                    'read-only unless --write (or --reports) is given')
    parser.add_argument('--host', default=DEFAULT_HOST,
                        help=f'default {DEFAULT_HOST}')
    parser.add_argument('--port', type=cli.port, default=DEFAULT_PORT,
                        help=f'default {DEFAULT_PORT}')
    parser.add_argument('--read', type=reference_arg, action='append',
                        metavar='DOMAIN/ITEM',
                        help='read this variable (repeatable); default: '
                             'every basic variable found')
    parser.add_argument('--write', type=write_arg, action='append',
                        default=[], metavar='DOMAIN/ITEM=VALUE',
                        help='write VALUE, converted to the variable\'s '
                             'type (repeatable); default: none '
                             '(read-only)')
    parser.add_argument('--reports', action='store_true',
                        help='enable the reports of every report control '
                             'block found (writes RptEna) and print them')
    parser.add_argument('--count', type=positive_int_arg, metavar='N',
                        help='with --reports: exit after N reports; '
                             'default: run until Ctrl-C')
    parser.add_argument('--timeout', type=timeout_arg,
                        default=DEFAULT_TIMEOUT, metavar='SECONDS',
                        help=f'bound of connecting and of each request, '
                             f'default {DEFAULT_TIMEOUT:g}')
    cli.add_verbose(parser, "the libraries' warnings and errors")
    args = parser.parse_args(argv)
    if args.count is not None and not args.reports:
        # without --reports no report ever arrives: it would wait for ever
        parser.error('--count counts reports: use it with --reports')
    cli.setup_logging(args.verbose, [])

    async def async_main() -> int:
        try:
            return await run(mms.Address(args.host, args.port), args.read,
                             args.write, args.reports, args.count,
                             args.timeout)

        except ConnectionError as e:
            raise cli.Error(cli.error_text(
                e, f'{args.host}:{args.port}')) from e

    return cli.run(async_main)


def reference_arg(text: str) -> Reference:
    """Argument type of ``DOMAIN/ITEM``"""
    domain, sep, item = text.strip().partition('/')
    if not sep or not domain or not item:
        raise argparse.ArgumentTypeError(
            f'invalid variable {text!r}: expected DOMAIN/ITEM (e.g. '
            f'SIMLD0/MMXU1$MX$TotW$mag$f)')
    return Reference(domain, item)


def write_arg(text: str) -> Write:
    """Argument type of ``--write DOMAIN/ITEM=VALUE``"""
    name, sep, value = text.partition('=')
    if not sep:
        raise argparse.ArgumentTypeError(
            f'invalid write {text!r}: expected DOMAIN/ITEM=VALUE')
    return Write(reference_arg(name), value)


def timeout_arg(text: str) -> float:
    """Argument type of ``--timeout``: seconds > 0"""
    try:
        value = float(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid timeout {text!r}: not a number') from None

    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(
            f'invalid timeout {value}: must be more than 0 seconds')
    return value


def positive_int_arg(text: str) -> int:
    """Argument type of a positive integer (``--count``)"""
    try:
        value = int(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid value {text!r}: not an integer') from None

    if value < 1:
        raise argparse.ArgumentTypeError(
            f'invalid value {value}: must be a positive integer')
    return value


if __name__ == '__main__':
    cli.main(main)
