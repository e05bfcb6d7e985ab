"""Command-line plumbing shared by the playground programs.

The playground programs run from the repository root with the interpreter
of the README's Quick start::

    .venv/bin/python playground/echo_server.py

Each of them uses this module for:

* arguments: `ArgumentParser` reports bad arguments as one line
  ``error: ...`` on standard error and exits with status 1 (``-h`` prints
  the help and exits with 0); `port` is the argument type of a TCP port
  (0..65535);
* standard input: `stdin_lines` yields the lines typed or piped in without
  blocking the event loop, so Ctrl-C still works while it waits;
* logging: the libraries' log records are not printed (a program reports
  what failed in its own ``error: ...`` line, not twice); `add_verbose`
  adds the option ``-v`` / ``--verbose`` and `setup_logging` turns on, for
  ``-v``, WARNING and ERROR records and the communication logs the
  program names (records on standard error, so standard output keeps
  only the program's own lines);
* running: `main` runs the program's ``main()`` and `run` its coroutine on
  an event loop. Ctrl-C (SIGINT) and SIGTERM end the program promptly and
  quietly (exit status 0, no traceback) whatever it waits on: the running
  coroutine is cancelled (its ``finally`` clauses close connections and
  servers); a second signal, or cleanup taking longer than `GRACE`
  seconds, exits at once. `Error`, `OSError` (refused connect, port in
  use, TLS verification failure, ...), `ValueError` and timeouts become one
  line ``error: ...`` on standard error and exit status 1.

With ``PLAYGROUND_LOOP=uvloop`` in the environment, `run` uses uvloop;
``PLAYGROUND_GRACE`` sets `GRACE`.

Importing this module also makes `hat.drivers` importable from the source
checkout (``src_py``) when it is not installed; if the runtime dependencies
(hat-aio, hat-util) are missing, it exits with one ``error: ...`` line
naming the interpreter to use.

"""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
import argparse
import asyncio
import codecs
import contextlib
import os
import signal
import sys
import threading
import typing


REPO: Path = Path(__file__).resolve().parent.parent
"""Repository root"""

GRACE: float = float(os.environ.get('PLAYGROUND_GRACE', '5'))
"""Seconds a program may spend cleaning up after Ctrl-C or SIGTERM
(environment variable ``PLAYGROUND_GRACE``, default 5)"""

SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ('SIGINT', 'SIGTERM')
    if hasattr(signal, name))
"""Signals that end a playground program"""


class Error(Exception):
    """Error reported to the user as one line ``error: ...`` (status 1)"""


ERRORS: tuple[type[BaseException], ...] = (
    Error, OSError, ValueError, asyncio.TimeoutError)
"""Exceptions `run` and `main` report as ``error: ...`` with status 1"""


def _ensure_hat_drivers() -> None:
    try:
        import hat.drivers.tcp  # NOQA: F401
        return

    except ImportError:
        pass

    src_py = REPO / 'src_py'
    sys.path.insert(0, str(src_py))
    try:
        import hat
        # `hat` may already be imported without src_py in its path
        if str(src_py / 'hat') not in list(hat.__path__):
            hat.__path__.append(str(src_py / 'hat'))
        import hat.drivers.tcp  # NOQA: F401

    except ImportError as e:
        sys.stderr.write(
            f'error: {e} (with {sys.executable}); run the playground with '
            f'the virtual environment of the README Quick start: '
            f'.venv/bin/python playground/...\n')
        sys.exit(1)


_ensure_hat_drivers()


class ArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` whose errors are one line ``error: ...``
    on standard error with exit status 1 (``-h`` still exits with 0)"""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(1, f'error: {message}\n')


def add_verbose(parser: argparse.ArgumentParser, what: str) -> None:
    """Add ``-v`` / ``--verbose`` to `parser` (help: `what` it logs)"""
    parser.add_argument('-v', '--verbose', action='store_true',
                        help=f'log {what} on standard error')


def setup_logging(verbose: bool, loggers: list[str]) -> None:
    """With `verbose`, log on standard error WARNING records and the DEBUG
    records of `loggers` (communication logs such as
    ``hat.drivers.iec104.trace``); without it, log nothing (as `main`
    sets up: the program's own ``error: ...`` line says what failed)"""
    import logging
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, logging.NullHandler):
            root.removeHandler(handler)
    if not verbose:
        _quiet_logging()
        return

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='%(asctime)s %(name)s: %(message)s')
    for name in loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)


def _quiet_logging() -> None:
    # without any handler, Python prints WARNING and ERROR records on
    # standard error ("last resort"): a library's WARNING before the
    # program's own error line would say the same thing twice
    import logging
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())


def port(text: str) -> int:
    """Argument type of a TCP port: an integer 0..65535

    Raises:
        argparse.ArgumentTypeError: not an integer or out of range

    """
    try:
        value = int(text)

    except ValueError:
        raise argparse.ArgumentTypeError(
            f'invalid port {text!r}: not an integer') from None

    if not 0 <= value <= 0xFFFF:
        raise argparse.ArgumentTypeError(
            f'invalid port {value}: must be 0..65535')

    return value


def error_text(e: BaseException, address: str | None = None) -> str:
    """`e` as text on one line; with `address` (``host:port``), prefixed by
    ``connection to <address>:`` unless the text already names it (so an
    error line says the address once: tcp's errors name it)"""
    text = ' '.join(str(e).split()) or type(e).__name__
    if address is not None and address not in text:
        text = f'connection to {address}: {text}'
    return text


def error_line(e: BaseException) -> str:
    """One line describing `e` (``error: ...``)"""
    return f'error: {error_text(e)}'


def fail(e: BaseException) -> int:
    """Print `error_line` of `e` on standard error; returns 1"""
    print(error_line(e), file=sys.stderr, flush=True)
    return 1


def main(program: Callable[[], int | None]) -> typing.NoReturn:
    """Exit with the status returned by ``program()``

    Ctrl-C or SIGTERM outside the event loop (for example while the program
    prepares) exits quietly with 0; `ERRORS` give ``error: ...`` and 1.
    While the program still imports, its first import, ``quiet_start``,
    does the same.

    """
    _quiet_logging()

    # before the event loop takes over the signals, Ctrl-C raises
    # KeyboardInterrupt (quiet_start's handler exited at once while the
    # program imported) and SIGTERM acts as Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if hasattr(signal, 'SIGTERM'):
        signal.signal(signal.SIGTERM, _raise_interrupt)

    try:
        status = program() or 0

    except KeyboardInterrupt:
        status = 0

    except ERRORS as e:
        status = fail(e)

    _flush()
    sys.exit(status)


def run(coro_fn: Callable[[], Awaitable[int | None]]) -> int:
    """Run ``coro_fn()`` on a new event loop and return the exit status

    The status is what the coroutine returns (``None``: 0), 0 if SIGINT or
    SIGTERM ended it, 1 (after printing ``error: ...``) if it raised one
    of `ERRORS`.

    """
    try:
        return _run_loop(_main(coro_fn))

    except KeyboardInterrupt:
        return 0

    except ERRORS as e:
        return fail(e)


async def stdin_lines(prompt: str = '> ') -> AsyncIterator[str]:
    """Lines of standard input (without line ends), until EOF

    Standard input is read by a daemon thread, so neither the event loop
    nor Ctrl-C waits for it. `prompt` is printed before each line when
    standard input is a terminal. Call it once per program.

    """
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[bytes] = asyncio.Queue()
    fd = sys.stdin.fileno()
    interactive = os.isatty(fd)
    encoding = getattr(sys.stdin, 'encoding', None) or 'utf-8'
    decoder = codecs.getincrementaldecoder(encoding)(errors='replace')

    def read_chunks() -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)

            except OSError:
                chunk = b''

            try:
                loop.call_soon_threadsafe(chunks.put_nowait, chunk)

            except RuntimeError:
                return  # event loop closed

            if not chunk:
                return

    threading.Thread(target=read_chunks, name='stdin', daemon=True).start()

    pending = ''
    eof = False
    while True:
        while '\n' not in pending and not eof:
            if interactive and not pending:
                print(prompt, end='', flush=True)
            chunk = await chunks.get()
            eof = not chunk
            pending += decoder.decode(chunk, final=eof)

        line, newline, pending = pending.partition('\n')
        if not newline and not line:
            return

        yield line.removesuffix('\r')


def _run_loop(coro: typing.Coroutine[typing.Any, typing.Any, int]) -> int:
    uvloop = os.environ.get('PLAYGROUND_LOOP') == 'uvloop'
    if sys.version_info >= (3, 11):
        factory = None
        if uvloop:
            import uvloop as uvloop_module
            factory = uvloop_module.new_event_loop
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)

    if uvloop:
        import uvloop as uvloop_module
        asyncio.set_event_loop_policy(uvloop_module.EventLoopPolicy())
    return asyncio.run(coro)


async def _main(coro_fn: Callable[[], Awaitable[int | None]]) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopped = False

    def on_signal() -> None:
        nonlocal stopped
        if stopped:
            _exit_now(0)
        stopped = True
        task.cancel()
        loop.call_later(GRACE, _exit_now, 0)

    for sig in SIGNALS:
        # not on Windows: there Ctrl-C raises KeyboardInterrupt
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    try:
        return (await coro_fn()) or 0

    except asyncio.CancelledError:
        if stopped:
            return 0
        raise

    except ERRORS as e:
        if stopped:
            return 0
        return fail(e)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _exit_now(status: int) -> None:
    _flush()
    os._exit(status)
