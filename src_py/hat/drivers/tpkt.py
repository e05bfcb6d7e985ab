"""ISO transport service on top of TCP (TPKT, RFC 1006).

A TPKT packet is a 4 byte header followed by a payload (usually an ISO 8073
TPDU):

    +---------+----------+--------------------+----------------+
    | version | reserved | length (16 bit BE) | payload        |
    | 3       | 0        | 4 + len(payload)   | 3..65531 bytes |
    +---------+----------+--------------------+----------------+

The length counts the header, so a packet is 7 (RFC 1006's minimum) to
65535 bytes long. The standard port is `DEFAULT_PORT` (102).

`connect` and `listen` create `Connection` objects on top of
`hat.drivers.tcp` connections: `Connection.write` sends one packet,
`Connection.read` returns the payload of one received packet. Addresses
are `hat.drivers.tcp.Address` or `Address` (a `hat.drivers.tcp.Address`
whose port defaults to 102, the address class of the OSI layers built on
TPKT); keyword arguments of `connect` and `listen`
(``name``, ``ssl``, ``input_buffer_limit``, ...) are passed to
`hat.drivers.tcp.connect` and `hat.drivers.tcp.listen`.

Malformed input (a version other than 3, a length below 7, or a packet cut
short by the end of the stream) is a protocol error: it is logged with the
``hat.drivers.tpkt`` logger, the connection is closed and every read raises
`ConnectionError` from then on. A partial payload is never returned.

"""

import logging
import typing

from hat import aio

from hat.drivers import _turn
from hat.drivers import tcp


mlog: logging.Logger = logging.getLogger(__name__)
"""Module logger"""

DEFAULT_PORT: int = 102
"""Standard TPKT port (ISO-TSAP)"""

VERSION: int = 3
"""TPKT version (the only one defined)"""

HEADER_SIZE: int = 4
"""Size of a TPKT header (bytes)"""

MIN_PAYLOAD_SIZE: int = 3
"""Smallest payload (bytes): packet length 7, RFC 1006's minimum"""

MAX_PAYLOAD_SIZE: int = 0xFFFF - HEADER_SIZE
"""Largest payload (bytes) that fits in one packet (65531)"""


class Address(tcp.Address):
    """TPKT address: host name or IP address and port (default
    `DEFAULT_PORT`, 102).

    A subclass of `hat.drivers.tcp.Address` (a NamedTuple ``(host,
    port)``), so it is accepted wherever a TCP address is, and equal to the
    `hat.drivers.tcp.Address` with the same host and port. The only
    difference is the default port: ``Address('10.0.0.1')`` is
    ``Address('10.0.0.1', 102)``. The layers above TPKT (`hat.drivers.cotp`,
    `hat.drivers.cosp`, ...) use this same class as their ``Address``, as
    hat-drivers 0.6.23 did.

    """

    __slots__ = ()

    _field_defaults = {'port': DEFAULT_PORT}

    def __new__(cls, host: str, port: int = DEFAULT_PORT) -> 'Address':
        return super().__new__(cls, host, port)


DEFAULT_LISTEN_ADDRESS: Address = Address('0.0.0.0', DEFAULT_PORT)
"""Default address of `listen`: every IPv4 interface, port 102"""


ConnectionCb: typing.TypeAlias = aio.AsyncCallable[['Connection'], None]
"""Connection callback (plain function or coroutine function)"""


async def connect(addr: tcp.Address,
                  **kwargs: typing.Any
                  ) -> 'Connection':
    """Connect to a TPKT server.

    Args:
        addr: remote address (the standard port is `DEFAULT_PORT`)
        kwargs: passed to `hat.drivers.tcp.connect`

    Raises:
        TypeError, ValueError: malformed address or argument
        ConnectionError: the connection could not be established

    """
    conn = await tcp.connect(addr, **kwargs)
    return Connection(conn)


async def listen(connection_cb: ConnectionCb,
                 addr: tcp.Address = DEFAULT_LISTEN_ADDRESS,
                 *,
                 bind_connections: bool = False,
                 **kwargs: typing.Any
                 ) -> 'Server':
    """Create a listening TPKT server.

    `connection_cb` is called with every accepted `Connection`. If it
    raises, or it is a coroutine function whose coroutine raises or is
    cancelled, that connection is closed and the error is logged; the
    server keeps serving.

    Closing the server cancels `connection_cb` coroutines that are still
    running, and each cancellation closes that callback's connection.
    Connections whose callback has returned are closed too if
    `bind_connections` is ``True``, and stay open if it is ``False``.

    Args:
        connection_cb: called with each new `Connection` (plain function or
            coroutine function)
        addr: local address (port 0 picks a free port, see
            `Server.addresses`; default ``Address('0.0.0.0', 102)``, as in
            hat-drivers 0.6.23)
        bind_connections: if ``True``, closing the server also closes every
            connection it accepted (default ``False``: see above)
        kwargs: passed to `hat.drivers.tcp.listen`

    Raises:
        TypeError, ValueError: malformed address or argument
        OSError: the address could not be bound

    """

    server = Server.__new__(Server)
    server._srv = None

    def on_connection(conn: tcp.Connection) -> typing.Awaitable[None] | None:
        tpkt_conn = Connection(conn)
        if bind_connections:
            # the server closing it is a local close, not the peer's doing
            tpkt_conn._server = server
        # a coroutine returned here is awaited by tcp's server
        result: typing.Awaitable[None] | None = connection_cb(tpkt_conn)
        return result

    server._srv = await tcp.listen(on_connection, addr,
                                   bind_connections=bind_connections,
                                   **kwargs)
    return server


class Server(aio.Resource):
    """TPKT server created by `listen`.

    Wraps a `hat.drivers.tcp.Server`; closing it stops accepting
    connections.

    """

    def __init__(self, srv: tcp.Server):
        self._srv: tcp.Server | None = srv

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        # None while `listen` is still starting it
        return self._srv is None or self._srv.is_open

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self.async_group.is_closing

    @property
    def is_closed(self) -> bool:
        """``True`` once closed: not listening and, with
        ``bind_connections``, every accepted connection closed"""
        return self.async_group.is_closed

    async def wait_closing(self) -> None:
        """Wait until the server is closing or closed"""
        await self.async_group.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until the server is closed"""
        await self.async_group.wait_closed()

    def close(self) -> None:
        """Start closing the server (see `listen` for what happens to the
        connections it accepted)"""
        self.async_group.close()

    async def async_close(self) -> None:
        """Close the server and wait until it is closed"""
        await self.async_group.async_close()

    @property
    def async_group(self) -> aio.Group:
        """Async group"""
        return self._tcp_server.async_group

    @property
    def addresses(self) -> list[tcp.Address]:
        """Addresses the server listens on (with the real bound ports)"""
        return self._tcp_server.addresses

    @property
    def name(self) -> str | None:
        """Name given to `listen`"""
        return self._tcp_server.name

    @property
    def _tcp_server(self) -> tcp.Server:
        assert self._srv is not None
        return self._srv


class Connection(aio.Resource):
    """TPKT connection.

    Usually created by `connect` and `listen`; it can also wrap an open
    `hat.drivers.tcp.Connection` (which must not be used directly
    afterwards). Closing one closes the other. `async_group` is a subgroup
    of the TCP connection's (created when first asked for): closing it
    closes the connection.

    Reads need no background task: `read` reads directly from the TCP
    connection. Concurrent reads are served one at a time in call order,
    each getting a whole packet. A read that is cancelled loses nothing: a
    packet it had started to receive is completed by the next read.

    """

    def __init__(self, conn: tcp.Connection):
        self._conn = conn
        self._read_turn = _turn.Turn()
        # state of the packet being received, kept across cancelled reads:
        # header bytes received so far and, once the header is complete,
        # the payload size
        self._header = b''
        self._payload_size: int | None = None
        self._error: str | None = None
        # the class of the tcp error that cut a packet short (a reset
        # stays a ConnectionResetError)
        self._error_cls: type[ConnectionError] = ConnectionError
        # closed by this side (close, async_group or a server with
        # bind_connections): a packet cut short is then no protocol error
        self._closed_locally = False
        self._server: Server | None = None
        self._group: aio.Group | None = None

    @property
    def async_group(self) -> aio.Group:
        """Async group (a subgroup of the TCP connection's, created on
        first use; closing it closes the connection)"""
        if self._group is None:
            self._group = self._conn.async_group.create_subgroup()
            self._group.spawn(aio.call_on_cancel, self._on_group_closed)
        return self._group

    def _on_group_closed(self) -> None:
        # the TCP connection closing closes this group too: only a group
        # closed while the connection is still open is closed locally
        if self._conn.is_open:
            self.close()

    @property
    def is_open(self) -> bool:
        """``True`` if not closing or closed"""
        return self._conn.is_open

    @property
    def is_closing(self) -> bool:
        """``True`` if closing or closed"""
        return self._conn.is_closing

    @property
    def is_closed(self) -> bool:
        """``True`` once the socket is released"""
        return self._conn.is_closed

    async def wait_closing(self) -> None:
        """Wait until the connection is closing or closed"""
        await self._conn.wait_closing()

    async def wait_closed(self) -> None:
        """Wait until the connection is closed"""
        await self._conn.wait_closed()

    def close(self) -> None:
        """Start closing the connection (data already written is sent)"""
        self._closed_locally = True
        self._conn.close()

    async def async_close(self) -> None:
        """Close the connection and wait until it is closed"""
        self.close()
        await self._conn.wait_closed()

    @property
    def info(self) -> tcp.ConnectionInfo:
        """Connection info"""
        return self._conn.info

    @property
    def name(self) -> str | None:
        """Name given to `connect` or `listen`"""
        return self._conn.name

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send `data` as the payload of one TPKT packet.

        The data is copied; header and payload are handed to the TCP
        connection as one write. Call `drain` to apply backpressure.

        Raises:
            TypeError: data is not bytes, bytearray or memoryview
            ValueError: payload shorter than `MIN_PAYLOAD_SIZE` (including
                empty) or longer than `MAX_PAYLOAD_SIZE`
            ConnectionError: connection is closing or closed

        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data must be bytes, bytearray or memoryview, '
                            f'not {type(data).__name__}')

        if isinstance(data, memoryview):
            size = data.nbytes
            if not data.contiguous:
                data = data.tobytes()
        else:
            size = len(data)

        if size < MIN_PAYLOAD_SIZE:
            raise ValueError(f'TPKT payload must have at least '
                             f'{MIN_PAYLOAD_SIZE} bytes, not {size}')

        if size > MAX_PAYLOAD_SIZE:
            raise ValueError(f'TPKT payload must have at most '
                             f'{MAX_PAYLOAD_SIZE} bytes, not {size}')

        length = size + HEADER_SIZE
        header = bytes((VERSION, 0, length >> 8, length & 0xFF))
        self._conn.write(b''.join((header, data)))

    async def drain(self, *, coalesce: bool = False) -> None:
        """Wait until the peer has accepted enough of the written data.

        `coalesce`: see `hat.drivers.tcp.Connection.drain` (default
        ``False``: coalesced writes are sent now).

        Raises:
            ConnectionError: connection is closing or closed

        """
        await self._conn.drain(coalesce=coalesce)

    async def read(self) -> bytes:
        """Read one packet and return its payload.

        Returns:
            the payload, 3 to 65531 bytes (without the 4 byte header)

        Raises:
            ConnectionError: the connection got EOF or was closed before
                another complete packet, or a protocol error occurred; the
                class of the tcp error where the connection was lost (a
                reset raises `ConnectionResetError`)

        """
        turn = self._read_turn
        if not turn.take():
            await turn.wait()
        try:
            if self._error is not None:
                raise self._error_cls(self._error)

            if self._payload_size is None:
                await self._read_header()

            size = self._payload_size
            assert size is not None
            try:
                data = await self._conn.readexactly(size)

            except ConnectionError as e:
                self._truncated(HEADER_SIZE, size, e)
                raise self._error_cls(self._error) from e

            self._payload_size = None
            return data
        finally:
            turn.release()

    async def _read_header(self) -> None:
        header = self._header
        while len(header) < HEADER_SIZE:
            try:
                header += await self._conn.read(HEADER_SIZE - len(header))

            except ConnectionError as e:
                if not header:
                    raise
                self._truncated(len(header), None, e)
                raise self._error_cls(self._error) from e

            self._header = header

        version = header[0]
        length = int.from_bytes(header[2:4], 'big')
        if version != VERSION:
            self._protocol_error(f'invalid TPKT version {version} '
                                 f'(expected {VERSION}), header '
                                 f'{header.hex(" ")}')

        if length < HEADER_SIZE + MIN_PAYLOAD_SIZE:
            self._protocol_error(f'invalid TPKT length {length} (minimum '
                                 f'{HEADER_SIZE + MIN_PAYLOAD_SIZE}), '
                                 f'header {header.hex(" ")}')

        # the reserved byte is ignored
        self._header = b''
        self._payload_size = length - HEADER_SIZE

    def _truncated(self,
                   received: int,
                   payload_size: int | None,
                   cause: ConnectionError
                   ) -> None:
        # EOF, reset or closing before a packet was complete: its bytes
        # are gone
        self._error_cls = type(cause)
        if payload_size is None:
            what = f'header ({received} of {HEADER_SIZE} bytes received)'
        else:
            what = f'packet of length {HEADER_SIZE + payload_size}'
        msg = f'connection closed in the middle of a TPKT {what}'

        if self._closed_locally or (self._server is not None and
                                    not self._server.is_open):
            # our own close interrupted the packet: not a peer's fault
            self._fail(msg, logging.DEBUG)
        else:
            self._fail(msg, logging.ERROR)

    def _protocol_error(self, msg: str) -> typing.NoReturn:
        self._fail(msg, logging.ERROR)
        raise ConnectionError(self._error)

    def _fail(self, msg: str, level: int) -> None:
        self._error = f'{self._describe()}: {msg}'
        self._header = b''
        self._payload_size = None
        if mlog.isEnabledFor(level):
            info = self.info
            mlog.log(level, '%s; closing connection', self._error,
                     extra={'meta': {'type': 'TpktConnection',
                                     'name': self.name,
                                     'local_addr': info.local_addr,
                                     'remote_addr': info.remote_addr}})
        self._conn.close()

    def _describe(self) -> str:
        local, remote = self.info
        name = f'{self.name} ' if self.name else ''
        return (f'{name}{local.host}:{local.port} -> '
                f'{remote.host}:{remote.port}')
