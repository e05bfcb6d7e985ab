"""Quiet Ctrl-C from a playground program's first line.

Every playground program imports this module first, before anything slow
to import (asyncio, `hat.drivers`): from then on, until `cli.main` takes
over the signals, Ctrl-C (SIGINT) or SIGTERM ends the program at once,
quietly, with exit status 0, instead of a ``KeyboardInterrupt`` traceback
from the middle of an import. Nothing has been printed or opened yet, so
there is nothing to clean up.

It acts only when the program runs as a script from this directory
(``__main__``); importing a program module elsewhere (tests) changes no
signal handling.

"""

import os
import signal
import sys


def _exit_quietly(signum: int, frame: object) -> None:
    os._exit(0)


def _install() -> None:
    # os.path, not pathlib: this must import fast
    main_file = getattr(sys.modules.get('__main__'), '__file__', None)
    if not main_file or (os.path.dirname(os.path.realpath(main_file)) !=
                         os.path.dirname(os.path.realpath(__file__))):
        return

    for name in ('SIGINT', 'SIGTERM'):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _exit_quietly)


_install()
