"""Queues and slots: each origin's waiting requests and clocks, and their futures.

The :class:`~.scheduler.Scheduler` keeps an :class:`OriginState` per origin;
each request waits in one as a :class:`ScheduledFuture`, which stays pending
until its final result::

    origin = OriginState(Limits(per_host=2))
    origin.blocked_until(monotonic())  # 0.0: a request may start now
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future as _ExecutorFuture
from math import inf
from typing import Any, Protocol

from urllib3.util import Retry

from .. import _watchdog
from .._future import Future
from .adaptive import Meter
from .origins import Limits

# The stages of a request in the scheduler.
WAITING = "waiting"  # in its origin's queue or on the retry timer
SENT = "sent"  # an attempt is in the executor
DONE = "done"  # its future has its final state


class Expiry(Protocol):
    """A request's deadline, as the scheduler sees it (:class:`.._deadline.Deadline`)."""

    #: When it falls (monotonic seconds).
    at: float

    def error(self, sent: bool = True) -> BaseException: ...

    def attempt(self, retry: Retry | None, *call: Any) -> Any: ...

    def disarm(self) -> None: ...


class Owner(Protocol):
    """What a :class:`ScheduledFuture` asks of the scheduler that holds it."""

    def cancel(self, future: ScheduledFuture) -> bool: ...

    def give_up(self, future: ScheduledFuture, error: BaseException | None) -> list[object]: ...

    def attempt_done(self, future: ScheduledFuture, attempt: _ExecutorFuture[Any]) -> None: ...


class OriginState:
    """One origin's queue, clocks and :class:`~.adaptive.Meter`.

    ``per_host`` may be changed while requests run (the meter's adaptive
    limit); the change applies from the next dispatch, which any finishing
    request or :meth:`.scheduler.Scheduler.wake` triggers.
    """

    __slots__ = (
        "active",
        "in_flight",
        "interval",
        "meter",
        "next_start",
        "paused_until",
        "per_host",
        "waiting",
    )

    def __init__(self, limits: Limits, adaptive: bool = False) -> None:
        self.meter = Meter(limits.per_host, adaptive)
        self.per_host: int | None = self.meter.limit
        self.interval = 1.0 / limits.rate if limits.rate else 0.0
        self.waiting: deque[ScheduledFuture] = deque()
        self.active = False  # in the scheduler's turns
        self.in_flight = 0
        self.next_start = 0.0  # monotonic time before which none may start (rate)
        self.paused_until = 0.0  # monotonic end of a Retry-After pause

    def blocked_until(self, now: float) -> float:
        """0 if a request may start now, else when it may (``inf``: when a slot frees)."""
        if self.per_host is not None and self.in_flight >= self.per_host:
            return inf
        until = max(self.next_start, self.paused_until)
        return until if until > now else 0.0

    def idle(self, now: float) -> bool:
        clocks = max(self.next_start, self.paused_until)
        return not self.in_flight and not self.active and clocks <= now


class ScheduledFuture(Future[Any]):
    """The future of a scheduled request: pending until its final result.

    :meth:`cancel` works while the request waits in the scheduler (for a
    slot, its rate, a pause or its retry delay), and while an attempt is
    queued in the executor; not while it runs.
    """

    #: Its origin's state, once the scheduler has queued it there.
    _origin: OriginState

    def __init__(
        self,
        scheduler: Owner,
        fn: Callable[..., Any],
        task: tuple[Any, ...],
        retry: Retry | None,
        deadline: Expiry | None = None,
    ) -> None:
        super().__init__()
        self._deadline = deadline
        self._scheduler = scheduler
        self._fn = fn
        self._task = task
        self._retry = retry
        self._stage = WAITING
        self._attempt: _ExecutorFuture[Any] | None = None
        #: The attempt that ended last, weakly: it holds this future's callback.
        self._followed: weakref.ref[_ExecutorFuture[Any]] | None = None
        self._sent_at = 0.0  # monotonic start of the latest attempt
        self.attempts = 0

    def cancel(self) -> bool:
        """Cancel the request unless an attempt of it is running; True if cancelled."""
        return self._scheduler.cancel(self)

    def abort(self) -> bool:
        """Give up on the request now, waiting or running: see :meth:`.Future.abort`."""
        _watchdog.keep_aborting(self._scheduler.give_up(self, None))
        return self.cancelled()

    def _give_up(self, error: BaseException | None) -> list[object]:
        return self._scheduler.give_up(self, error)

    def running(self) -> bool:
        """Whether an attempt of the request is running (it cannot be cancelled now)."""
        attempt = self._attempt  # None: a worker of the session's own pool took it
        return self._stage is SENT and (attempt is None or attempt.running())

    def _attempt_done(self, attempt: _ExecutorFuture[Any]) -> None:
        followed = self._followed
        if followed is not None and followed() is attempt:
            return  # followed twice after an interruption: once is enough
        self._followed = weakref.ref(attempt)
        self._scheduler.attempt_done(self, attempt)


def settle_cancelled(future: ScheduledFuture) -> None:
    """Put a future the scheduler has let go of in its final, cancelled state."""
    Future.cancel(future)
    # What an executor's worker does for a cancelled item: wait() and
    # as_completed() count the future as done only from here on.
    future.set_running_or_notify_cancel()
