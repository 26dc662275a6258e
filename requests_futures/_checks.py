"""Argument checks done when a session is built or a request is submitted.

Bad input fails at the call that made the mistake, with a message that says
what to pass instead::

    positive_int(max_workers, "max_workers")  # TypeError / ValueError
"""

from __future__ import annotations

import threading

from urllib3.util import Timeout as _Urllib3Timeout


def positive_int(value: object, name: str) -> int:
    """``value`` if it is an int of at least 1.

    :raises TypeError: for anything but an int (``bool`` included).
    :raises ValueError: for 0 or less.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def check_callback(callback: object) -> None:
    """:raises TypeError: unless ``background_callback`` is callable."""
    if not callable(callback):
        raise TypeError(
            "background_callback must be callable as callback(session, response), "
            f"got {type(callback).__name__}"
        )


def check_timeout(timeout: object) -> None:
    """Raise at construction for a timeout that requests would refuse later."""
    if timeout is None or isinstance(timeout, _Urllib3Timeout):
        return  # urllib3 checked its values when it was made
    try:
        if isinstance(timeout, tuple):
            connect, read = timeout
            _Urllib3Timeout(connect=connect, read=read)
            values: tuple[object, ...] = (connect, read)
        else:
            _Urllib3Timeout(total=timeout)  # type: ignore[arg-type]
            values = (timeout,)
        # urllib3 lets NaN, infinity and 1e300 through; every request would
        # then fail in the socket layer (ValueError, OverflowError).
        for value in values:
            if value is not None and not 0 < float(value) <= threading.TIMEOUT_MAX:  # type: ignore[arg-type]
                raise ValueError(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"timeout must be None, a positive number of seconds or a "
            f"(connect, read) tuple of them; got {timeout!r}"
        ) from None
