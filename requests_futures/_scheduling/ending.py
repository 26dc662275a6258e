"""When an attempt ends: its future settled or its retry timed, then the next one.

The :class:`~.scheduler.Scheduler` hears of each attempt that ended, in the
worker that ran it (:meth:`Ending._run_chain`, on the session's own pool) or
from the attempt's done-callback (any other executor), and in one lock
section counts the answer, decides the future's fate and takes the next
request that may start::

    kept = scheduler._ended(future, outcome, None, cancelled=False, here=True)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future as _ExecutorFuture
from time import monotonic
from typing import Any

from .. import _abort
from .adaptive import overload_error
from .queues import DONE, SENT, WAITING, ScheduledFuture, settle_cancelled
from .stopping import Stopping
from .timers import Timers

#: What a dispatch sent to the executor, each with the error that stopped it, if any.
Sent = list[tuple[ScheduledFuture, BaseException | None]]

# How an attempt that ended settles its future.
_CANCELLED = "cancelled"
_FAILED = "failed"
_SUCCEEDED = "succeeded"


class Ending(Stopping):
    """The :class:`~.scheduler.Scheduler`'s side of an attempt that ended."""

    _lock: threading.Lock
    _closed: bool
    _chain: bool
    _timers: Timers
    _sent: set[ScheduledFuture]
    #: ``_dispatch(now, here=False)``: see :meth:`.scheduler.Scheduler._dispatch`.
    _dispatch: Callable[..., tuple[Sent, ScheduledFuture | None]]

    def _watch(self, sent: Sent) -> None:
        """Outside the lock: follow each attempt sent (its callback may run right here).

        Interrupted (Ctrl-C), it still follows every one, then re-raises.
        """
        interrupted: BaseException | None = None
        for future, error in sent:
            for _ in range(3):
                try:
                    if error is None:
                        attempt = future._attempt
                        assert attempt is not None
                        attempt.add_done_callback(future._attempt_done)  # once: see there
                    elif not future.done():
                        future.set_exception(error)
                    break
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted

    def _run_chain(self, future: ScheduledFuture | None) -> None:
        """In a worker of the session's own pool: ``future``'s attempt, then the next ones.

        Each time an attempt ends, the worker takes the next request that may
        start, which is from then on running (no more cancellable), rather
        than handing it to the executor: a hand-off, a future and a callback
        less per request.
        """
        while future is not None:
            error: BaseException | None = None
            outcome: Any = None
            future._sent_at = monotonic()
            try:
                outcome = future._fn(future._retry, *future._task)
            except BaseException as exc:  # noqa: BLE001 - as an executor would, for the future
                error = exc
            future = self._ended(future, outcome, error, cancelled=False, here=True)
            del error, outcome

    def attempt_done(self, future: ScheduledFuture, attempt: _ExecutorFuture[Any]) -> None:
        """An attempt ended: settle the future, or time its retry; then dispatch."""
        cancelled = attempt.cancelled()
        if self._chain and not cancelled:
            # The chain that ran it has done what follows.  (Not cancelled: no
            # executor's lock is held here, so the scheduler's may be taken.)
            with self._lock:
                self._let_go(future, attempt)
            return
        outcome: Any = None
        error: BaseException | None = None
        if not cancelled:
            error = attempt.exception()
            if error is None:
                outcome = attempt.result()
        self._ended(future, outcome, error, cancelled, attempt=attempt)

    @staticmethod
    def _let_go(future: ScheduledFuture, attempt: _ExecutorFuture[Any]) -> None:
        """With the lock held: forget ``future``'s ended ``attempt``, if still its current one.

        The attempt keeps the done-callback that names the future: letting go
        of it leaves no cycle, so the future and its response are freed as soon
        as the caller drops them, not at the next garbage collection.
        """
        if future._attempt is attempt:
            future._attempt = None

    def _ended(
        self,
        future: ScheduledFuture,
        outcome: Any,
        error: BaseException | None,
        cancelled: bool,
        here: bool = False,
        attempt: _ExecutorFuture[Any] | None = None,
    ) -> ScheduledFuture | None:
        """Settle ``future``, or time its retry; dispatch; return one to run ``here``.

        ``attempt``: the executor's future that ended, if it was one of its own.

        One lock section counts the answer (``host_stats()`` has it before
        ``result()`` returns) and dispatches.  A future with done-callbacks
        is settled between the two instead, so that they run before the next
        request is dispatched: one that cancels it (first answer wins) finds
        it waiting.
        """
        now = monotonic()
        with self._lock:
            if attempt is not None:
                self._let_go(future, attempt)
            origin = future._origin
            if outcome is not None and outcome.error is not None:
                error = outcome.error
            deadline = future._deadline
            if error is not None and deadline is not None:
                if getattr(error, "sent", True) is False:
                    future.attempts -= 1  # it found its deadline passed: never sent
                elif now >= deadline.at:
                    error = deadline.error()
            if not cancelled:
                overload = overload_error(error) if outcome is None else outcome.overload
                meter = origin.meter
                meter.answered(future._sent_at, now, origin.in_flight, overload)
                if meter.adaptive:
                    origin.per_host = meter.limit
            origin.in_flight -= 1
            # Before the dispatch below, which takes in what was submitted
            # while every worker was busy (see Scheduler.submit).
            self._sent.discard(future)
            if outcome is not None and outcome.pause > 0:
                origin.paused_until = max(origin.paused_until, now + outcome.pause)
            final = None  # None: cancel() already settled it, or it waits for a retry
            if future._stage is SENT:
                if cancelled or (error is None and outcome.retry is not None and self._closed):
                    final = _CANCELLED
                elif error is not None:
                    final = _FAILED
                elif outcome.retry is None:
                    final = _SUCCEEDED
                if final is None:
                    future._stage = WAITING
                    future._retry = outcome.retry
                    self._timers.retry_at(now + outcome.delay, future)
                else:
                    future._stage = DONE
            # A callback added from now on runs after the next dispatch, as
            # it would had it been added once the future was done.
            later = final is not None and bool(future._done_callbacks)  # type: ignore[attr-defined]
            if not later:
                sent, kept = self._dispatch_after(cancelled, now, here)
        if final is not None:
            if future._deadline is not None:
                future._deadline.disarm()  # settled here: it can no longer fire
            if final is _CANCELLED:
                settle_cancelled(future)
            elif final is _FAILED:
                future.set_exception(error)
            else:
                future.set_result(outcome.result)
            if later:
                with self._lock:
                    sent, kept = self._dispatch_after(cancelled, monotonic(), here)
        if sent:
            self._watch(sent)
        return kept

    def _dispatch_after(
        self, cancelled: bool, now: float, here: bool
    ) -> tuple[Sent, ScheduledFuture | None]:
        """With the lock held: :meth:`_dispatch` after an attempt ended, in this thread or not.

        After a cancelled one the timer thread dispatches instead: whoever
        cancels an executor's future may hold that executor's lock (as
        ``shutdown(cancel_futures=True)`` does), and a submit from here would
        wait for that lock for ever.
        """
        if not cancelled:
            return self._dispatch(now, here)
        if not self._closed:
            self._timers.wake_at(now)
        return [], None


# A worker running the chain runs the request its local ``future`` names.
_abort.runner(Ending._run_chain.__code__, "future")
