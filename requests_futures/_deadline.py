"""The deadline stage: a bound on the whole request, from the call to its end.

``deadline=`` (seconds) counts from the call and covers everything: time
queued in the executor or the scheduler (slot, rate, pause, retry backoff),
connecting, sending, the headers and the body (with ``stream=True``, only up
to the headers).  When it passes, the watchdog (:mod:`._watchdog`) fails the
future with :class:`DeadlineExceeded` at once, a request not yet started is
never sent, and a running one is aborted (:mod:`._abort`), connecting or
reading.  In the worker, the connect part of ``timeout=`` is capped at the
time left too::

    future = submit_within(session, 0.5, "request", None, ("GET", url), {})
"""

from __future__ import annotations

import math
import numbers
import threading
from time import monotonic
from typing import TYPE_CHECKING, Any

from requests import Response
from requests.exceptions import Timeout
from urllib3.util import Timeout as _Urllib3Timeout

from . import _watchdog
from ._handoff import InCallerContext
from ._routes import submit_elsewhere
from ._scheduling.retries import attempt as _attempt
from ._worker import close_quietly
from ._worker import run as _run

if TYPE_CHECKING:  # pragma: no cover
    from ._future import Future
    from ._state import BackgroundCallback, DeferringSession

__all__ = ["SESSION_DEFAULT", "DeadlineExceeded", "check_deadline", "submit_within"]

#: Added to the time left when ``timeout=`` is capped: the watchdog, firing
#: at the deadline, settles the future first, whatever the socket does.
_GRACE = 0.1


class DeadlineExceeded(Timeout):
    """The request's ``deadline=`` passed before it was done.

    A :class:`requests.exceptions.Timeout`, so code that catches timeouts
    catches it.  Its message gives the deadline as it was given, in
    seconds.  Raised by ``future.result()`` as soon as the deadline passes:
    the request was either never sent, or aborted where it was.

    .. versionadded:: 2.0
    """


class _SessionDefault:
    """The ``deadline`` a call gets when it passes none: its session's."""

    def __repr__(self) -> str:
        return "<the session's deadline>"


SESSION_DEFAULT: Any = _SessionDefault()


def check_deadline(value: object) -> float | None:
    """``value`` as a deadline in seconds: a finite number above 0, or None.

    :raises TypeError: for anything but a real number (a ``bool`` included) or None.
    :raises ValueError: for 0, a negative number, NaN or infinity.
    """
    if value is None:
        return None
    if type(value) is float or type(value) is int:  # the usual: skip the ABC check
        seconds = float(value)
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            "deadline must be a number of seconds (e.g. 10 or 0.5) or None, "
            f"got {type(value).__name__}: {value!r}"
        )
    else:
        seconds = float(value)
    if not (math.isfinite(seconds) and 0 < seconds <= threading.TIMEOUT_MAX):
        raise ValueError(
            f"deadline must be a finite number of seconds above 0 (or None for none), "
            f"got {value!r}"
        )
    return seconds


class Deadline:
    """One request's deadline: when it falls, and what it does then.

    The watchdog (firing) and the worker (ending the call) race to decide
    the outcome: whichever takes the one token of ``_armed`` first (an atomic
    ``list.pop``, no lock for workers to queue on) does.
    """

    __slots__ = ("_armed", "_future", "at", "given")

    def __init__(self, given: object, seconds: float) -> None:
        self.at = monotonic() + seconds
        self.given = given
        self._armed = [True]
        self._future: Future[Any] | None = None

    def __repr__(self) -> str:
        return f"<Deadline of {self.given} s{', armed' if self._armed else ''}>"

    def _claim(self) -> bool:
        """Take the token: True for the first caller only."""
        try:
            self._armed.pop()
        except IndexError:
            return False
        return True

    def error(self, sent: bool = True) -> DeadlineExceeded:
        """The future's exception (``sent``: whether an attempt was sent)."""
        error = DeadlineExceeded(f"deadline of {self.given} s exceeded")
        error.sent = sent  # type: ignore[attr-defined]
        return error

    def arm(self, future: Future[Any]) -> None:
        self._future = future
        if not self._armed:
            # The request ended before it was armed (a worker quicker than
            # its submitter): no heap entry to hold the future until ``at``.
            self._future = None
            return
        _watchdog.call_at(self.at, self)

    @property
    def stale(self) -> bool:
        future = self._future
        return not self._armed or future is None or future.done()

    def fire(self) -> None:
        """In the watchdog: fail the future, give up on its request."""
        if not self._claim():
            return
        future = self._future
        if future is not None:
            _watchdog.keep_aborting(future._give_up(self.error()))

    def _met(self) -> bool:
        """At the end of the call: whether it ended in time (else the deadline decides)."""
        # Late: the watchdog will not fire now, the worker raises DeadlineExceeded.
        met = self._claim() and monotonic() < self.at
        self._future = None  # its heap entry keeps no future (and response) alive
        return met

    def disarm(self) -> None:
        """The request ended (the scheduler settled it): the deadline can no longer fire."""
        self._armed.clear()
        self._future = None

    def left(self) -> float:
        """Seconds left; :raises DeadlineExceeded: (not sent) if none."""
        left = self.at - monotonic()
        if left <= 0:
            raise self.error(sent=False)
        return left

    def attempt(self, retry: Any, *call: Any) -> Any:
        """One attempt of a scheduled request within the deadline: :func:`.retries.attempt`."""
        owner, target, verb, callback, args, kwargs, *rest = call
        args, kwargs = capped(verb, args, kwargs, self.left())
        try:
            return _attempt(retry, owner, target, verb, callback, args, kwargs, *rest)
        except BaseException as exc:
            if monotonic() >= self.at:
                raise self.error() from exc
            raise


def run(
    deadline: Deadline,
    owner: DeferringSession,
    target: Any,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """:func:`._worker.run` within ``deadline``: the task of a plain pool's request."""
    args, kwargs = capped(verb, args, kwargs, deadline.left())
    try:
        result = _run(owner, target, verb, callback, args, kwargs)
    except BaseException as exc:
        if deadline._met():
            raise
        raise deadline.error() from exc
    if not deadline._met():
        if isinstance(result, Response):
            close_quietly(result)
        raise deadline.error()
    return result


#: ``timeout`` is ``Session.request``'s ninth parameter, after method and url.
_TIMEOUT_AT = 8


def capped(
    verb: str, args: tuple[Any, ...], kwargs: dict[str, Any], left: float, read: bool = False
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call's arguments with its ``timeout`` capped at ``left`` seconds (and a little).

    The connect part only, unless ``read``, and only a connect timeout that was
    given: in this process the watchdog shuts a socket down, connecting or
    reading, and a socket without a timeout sends and reads without polling
    first (a timeout added to every request costs ~5 % of its CPU time).
    """
    positional = verb == "request" and len(args) > _TIMEOUT_AT
    timeout = args[_TIMEOUT_AT] if positional else kwargs.get("timeout")
    cap = left + _GRACE
    try:
        timeout = _capped(timeout, cap, read)
    except (TypeError, ValueError):
        return args, kwargs  # requests will say what is wrong with it
    if positional:
        return (*args[:_TIMEOUT_AT], timeout, *args[_TIMEOUT_AT + 1 :]), kwargs
    return args, {**kwargs, "timeout": timeout}


def _capped(timeout: Any, cap: float, read: bool) -> Any:
    def least(value: Any) -> Any:
        if value is None or not isinstance(value, numbers.Real):
            return cap if read else value  # None, or urllib3's "the socket's default"
        return min(float(value), cap)

    if isinstance(timeout, _Urllib3Timeout):
        total = timeout.total if isinstance(timeout.total, numbers.Real) else None
        return _Urllib3Timeout(
            total=None if total is None or not read else least(total),
            connect=least(timeout._connect),
            read=least(timeout._read) if read else timeout._read,
        )
    if isinstance(timeout, tuple):
        connect, then = timeout
        return (least(connect), least(then) if read else then)
    if timeout is None and not read:
        return None
    if timeout is None or (isinstance(timeout, numbers.Real) and not isinstance(timeout, bool)):
        return (least(timeout), least(timeout) if read else timeout)
    raise TypeError(timeout)


def submit_within(
    session: DeferringSession,
    given: object,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Future[Any]:
    """``session._submit`` within the call's ``deadline`` (``given``), or the session's.

    :raises TypeError, ValueError: for a bad ``deadline``, with nothing sent.
    """
    given = session.deadline if given is SESSION_DEFAULT else given
    seconds = check_deadline(given)
    if seconds is None:
        return session._submit(verb, callback, args, kwargs)
    deadline = Deadline(given, seconds)
    if session._scheduler is None and session._dumps is None:
        task = (deadline, session, session._target, verb, callback, args, kwargs)
        future = session._enqueue(InCallerContext(), run, *task)
    else:
        if session._dumps is not None:
            # Another process: capped from here, as there is no worker-side stage.
            args, kwargs = capped(verb, args, kwargs, seconds, read=True)
        future = submit_elsewhere(session, verb, callback, args, kwargs, deadline)
    deadline.arm(future)
    return future
