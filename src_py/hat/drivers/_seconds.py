"""A duration argument checked one way everywhere (internal helper of
`hat.drivers.tcp`, `hat.drivers.iec104`, `hat.drivers.cotp`,
`hat.drivers.cosp` and `hat.drivers.mms`)

A number of seconds must be an int or a float (not a bool), positive and
finite; an int too large for a float counts as infinite, so that it is
refused here with a `ValueError` rather than raising `OverflowError` where
it is first added to the loop's time.

"""

import math
import typing


def check_seconds(name: str, value: typing.Any, *,
                  none_allowed: bool = False) -> float:
    """`value` as float seconds; `none_allowed` only words the TypeError
    for an argument whose ``None`` the caller has handled

    Raises:
        TypeError: `value` is not an int or float (or is a bool)
        ValueError: `value` is not positive and finite

    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'{name} must be a number of seconds'
                        f'{" or None" if none_allowed else ""}, not '
                        f'{type(value).__name__}')
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not 0 < seconds < math.inf:
        raise ValueError(f'{name} must be a finite positive number of '
                         f'seconds, not {value!r:.40}')
    return seconds
