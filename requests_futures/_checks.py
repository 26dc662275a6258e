"""Argument checks done when a session is built or a request is submitted.

Bad input fails at the call that made the mistake, with a message that says
what to pass instead::

    positive_int(max_workers, "max_workers")  # TypeError / ValueError
"""

from __future__ import annotations

import math
import numbers
import threading
from collections.abc import Mapping
from concurrent.futures import Executor

from requests import Session
from urllib3.util import Retry
from urllib3.util import Timeout as _Urllib3Timeout

from ._scheduling.origins import Limits, Origin, Politeness, origin_of


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


def check_executor_and_session(executor: object, max_workers: object, session: object) -> None:
    """Check ``FuturesSession``'s ``executor``, ``max_workers`` and ``session``.

    :raises TypeError, ValueError: for a bad one (``max_workers`` only counts
        without ``executor``).
    """
    if executor is None:
        positive_int(max_workers, "max_workers")
    elif not isinstance(executor, Executor):
        raise TypeError(
            f"executor must be a concurrent.futures.Executor, got {type(executor).__name__}"
        )
    if session is not None and not isinstance(session, Session):
        raise TypeError(f"session must be a requests.Session, got {type(session).__name__}")


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


def per_host_limit(value: object, name: str = "per_host") -> int | None:
    """``value`` as a per-origin concurrency limit: an int of at least 1, or None.

    :raises TypeError: for anything but an int or None.
    :raises ValueError: for 0 or less.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int (most requests in flight to one origin) or None, "
            f"got {type(value).__name__}: {value!r}"
        )
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (or None for no limit), got {value}")
    return value


def rate_limit(value: object, name: str = "rate") -> float | None:
    """``value`` as requests per second to one origin: a finite number above 0, or None.

    :raises TypeError: for anything but a real number or None.
    :raises ValueError: for 0, a negative number, NaN or infinity.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a number of requests per second (e.g. 10 or 0.5) or None, "
            f"got {type(value).__name__}: {value!r}"
        )
    rate = float(value)
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(
            f"{name} must be a finite number of requests per second above 0 "
            f"(or None for no limit), got {value!r}"
        )
    return rate


def retry_policy(value: object) -> Retry | None:
    """The ``Retry`` that ``retries=`` stands for.

    :raises TypeError: for anything but an int, a ``Retry`` or None.
    :raises ValueError: for a negative int.
    """
    if value is None or isinstance(value, Retry):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            "retries must be an int (how many times to retry), a urllib3.util.Retry or None, "
            f"got {type(value).__name__}: {value!r}"
        )
    if value < 0:
        raise ValueError(f"retries must be 0 or more (or None for no retries), got {value}")
    return Retry(
        total=value,
        backoff_factor=0.5,
        status_forcelist={429, 500, 502, 503, 504},
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def host_limits(value: object, default: Limits) -> dict[Origin | str, Limits]:
    """``host_limits=`` keyed by origin (``scheme://host[:port]``) or lower-cased host.

    A key that is not given a ``per_host`` or a ``rate`` keeps the
    session-wide value (``default``).

    :raises TypeError: for a value that is not such a mapping.
    :raises ValueError: for a bad limit or a key without a host.
    """
    if value is None:
        return {}
    shape = (
        "host_limits must map a host name or 'scheme://host:port' to a dict with "
        "'per_host' and/or 'rate', e.g. {'api.example.com': {'per_host': 1, 'rate': 0.5}}"
    )
    if not isinstance(value, Mapping):
        raise TypeError(f"{shape}; got {type(value).__name__}")
    found: dict[Origin | str, Limits] = {}
    for key, limits in value.items():
        if not isinstance(key, str) or not isinstance(limits, Mapping):
            raise TypeError(f"{shape}; got {key!r}: {limits!r}")
        unknown = set(limits) - {"per_host", "rate"}
        if unknown:
            raise TypeError(f"{shape}; got unknown {sorted(unknown)} for {key!r}")
        entry = Limits(
            per_host_limit(
                limits.get("per_host", default.per_host), f"host_limits[{key!r}]['per_host']"
            ),
            rate_limit(limits.get("rate", default.rate), f"host_limits[{key!r}]['rate']"),
        )
        where: Origin | str = origin_of(key) if "://" in key else key.strip("[]").lower()
        if not (where[1] if isinstance(where, tuple) else where) or key.count(":") == 1:
            raise ValueError(
                f"{shape}; {key!r} is neither a host name nor a 'scheme://host:port' origin"
            )
        found[where] = entry
    return found


def adaptive_flag(value: object, per_host: int | None) -> bool:
    """``adaptive=``: a bool, and True only with a ``per_host`` ceiling.

    :raises TypeError: for anything but a bool.
    :raises ValueError: for True without ``per_host``.
    """
    if not isinstance(value, bool):
        raise TypeError(f"adaptive must be True or False, got {type(value).__name__}: {value!r}")
    if value and per_host is None:
        raise ValueError(
            "adaptive=True needs per_host=N: the most requests in flight to one origin "
            "that its adaptive limit may grow to"
        )
    return value


def politeness(
    per_host: object, rate: object, retries: object, limits: object, adaptive: object = False
) -> Politeness | None:
    """The scheduling settings of a session, or None when it schedules nothing.

    :raises TypeError, ValueError: as the checks above.
    """
    default = Limits(per_host_limit(per_host), rate_limit(rate))
    adapt = adaptive_flag(adaptive, default.per_host)
    retry = retry_policy(retries)
    overrides = host_limits(limits, default)
    if default == Limits() and retry is None and not overrides:
        return None
    return Politeness(default, retry, overrides, adapt)
