"""When a request may start: the scheduler's dispatch over per-origin queues.

A session with ``per_host``, ``rate``, ``retries`` or ``host_limits`` hands
each request to its :class:`Scheduler` instead of straight to the executor.
A request that cannot start yet (its origin is full, its rate slot or a pause
has not come, its retry is not due) waits in a queue here, never in a worker
thread, so the workers only run requests that can run now::

    scheduler = Scheduler(executor, Politeness(per_host=2), workers=8)
    future = scheduler.submit(url, fn, task)  # fn(retry, *task) -> Outcome

Dispatch happens in whichever thread adds or frees work: the submitting
thread, the worker whose attempt ended (on the session's own thread pool it
runs the next request itself; elsewhere, the attempt's done-callback), or the
one timer thread (:mod:`.timers`) that wakes up when a delay runs out (and
after an attempt was cancelled in the executor).  No lock of this module is
held while a callback of someone else's future can run.  The per-origin
queues are in :mod:`.queues`, the retry decisions in :mod:`.retries`,
cancelling and giving up (a deadline, an abort) in :mod:`.stopping`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import Future as _ExecutorFuture
from math import inf
from time import monotonic
from typing import Any

from .. import _abort
from .adaptive import HostStats, overload_error
from .origins import Origin, Politeness, origin_of, origin_url
from .queues import DONE, SENT, WAITING, Expiry, OriginState, ScheduledFuture, settle_cancelled
from .stopping import Stopping, expired
from .timers import Timers

CLOSED = "this FuturesSession is closed; create a new one"

# How an attempt that ended settles its future.
_CANCELLED = "cancelled"
_FAILED = "failed"
_SUCCEEDED = "succeeded"

#: Origins remembered before forgetting those with nothing waiting or running.
_SWEEP_AT = 1024


class Scheduler(Stopping):
    """Decides when each request of one session starts.

    :param executor: where attempts run.
    :param politeness: the limits, rates and retry policy.
    :param workers: the executor's worker count, if known: never more
        attempts are in the executor than it has workers, so each starts as
        soon as it is dispatched and none waits there behind a blocked origin.
    :param chain: the executor is a thread pool of the session's own: a worker
        whose attempt ended goes on with the next request that may start,
        without handing it back to the executor.
    """

    def __init__(
        self, executor: Executor, politeness: Politeness, workers: int | None, chain: bool = False
    ) -> None:
        self._executor = executor
        self._chain = chain
        self._politeness = politeness
        #: Whether requests may be sent more than once (``retries=``).
        self.retries = politeness.retry is not None
        self._cap = workers
        self._lock = threading.Lock()
        self._origins: dict[Origin, OriginState] = {}
        self._turns: deque[OriginState] = deque()  # origins with waiting requests
        self._timers = Timers(self._lock, self.wake)
        self._sent: set[ScheduledFuture] = set()
        self._closed = False
        self._sweep_at = _SWEEP_AT
        #: How many waiting requests :meth:`close` cancelled.
        self.cancelled = 0

    def submit(
        self,
        url: object,
        fn: Callable[..., Any],
        task: tuple[Any, ...],
        deadline: Expiry | None = None,
    ) -> ScheduledFuture:
        """Queue ``fn(retry, *task)`` for the origin of ``url``; return its future.

        A request whose ``deadline`` has passed is never sent (see :meth:`give_up`).

        :raises RuntimeError: once :meth:`close` has been called.
        """
        key = origin_of(url)
        sent: list[tuple[ScheduledFuture, BaseException | None]] = []
        try:
            with self._lock:
                future = self._register(key, fn, task, deadline)
                self._dispatch(monotonic(), sent=sent)
        finally:
            # Even when interrupted (Ctrl-C in this thread): an attempt sent
            # and not followed would hold its slot and never settle its future.
            self._watch(sent)
        return future

    def _register(
        self, key: Origin, fn: Callable[..., Any], task: tuple[Any, ...], deadline: Expiry | None
    ) -> ScheduledFuture:
        """With the lock held: queue a new request for origin ``key``."""
        if self._closed:
            raise RuntimeError(CLOSED)
        origin = self._origins.get(key)
        if origin is None:
            if len(self._origins) >= self._sweep_at:
                self._sweep()
            polite = self._politeness
            origin = self._origins[key] = OriginState(polite.limits_for(key), polite.adaptive)
        future = ScheduledFuture(self, origin, fn, task, self._politeness.retry, deadline)
        origin.waiting.append(future)
        if not origin.active:
            origin.active = True
            self._turns.append(origin)
        return future

    def _sweep(self) -> None:
        """Forget the origins with nothing waiting, running or to be retried, and no clock running.

        With the lock held, when the table has doubled since the last sweep:
        a crawl over many hosts keeps only what still matters.
        """
        now = monotonic()
        retrying = {future._origin for future in self._timers.pending()}
        self._origins = {
            k: o for k, o in self._origins.items() if o in retrying or not o.idle(now)
        }
        self._sweep_at = max(_SWEEP_AT, 2 * len(self._origins))

    def origin(self, url: object) -> OriginState | None:
        """The state of ``url``'s origin while it has requests or clocks running."""
        with self._lock:
            return self._origins.get(origin_of(url))

    def host_stats(self) -> dict[str, HostStats]:
        """A snapshot of every origin remembered, keyed ``scheme://host:port``."""
        with self._lock:
            return {
                origin_url(key): origin.meter.stats(origin.per_host, origin.in_flight)
                for key, origin in self._origins.items()
            }

    def wake(self) -> None:
        """Dispatch what may start now (after a limit was changed from outside)."""
        with self._lock:
            sent, _ = self._dispatch(monotonic())
        self._watch(sent)

    def _dispatch(
        self,
        now: float,
        here: bool = False,
        sent: list[tuple[ScheduledFuture, BaseException | None]] | None = None,
    ) -> tuple[list[tuple[ScheduledFuture, BaseException | None]], ScheduledFuture | None]:
        """Hand the executor every request that may start now, fairly across origins.

        Called with the lock held.  Origins take turns (one request each per
        round); full, paused and rate-limited ones are skipped.  The caller
        passes the list to :meth:`_watch` once the lock is released.  With
        ``here``, the first request that may start is returned instead, for
        the calling worker to run.  ``sent``: the list to add to (so that
        what was sent before an interruption is still followed).
        """
        sent = [] if sent is None else sent
        kept = None
        if self._closed:
            return sent, kept
        for future in self._timers.due(now):
            if future._stage is WAITING:  # not cancelled while it waited
                self._queue_first(future)
        turns, cap = self._turns, self._cap
        progress = True
        while progress and turns:
            progress = False
            for _ in range(len(turns)):
                if cap is not None and len(self._sent) >= cap:
                    return sent, kept
                origin = turns.popleft()
                waiting = origin.waiting
                while waiting and (
                    waiting[0]._stage is not WAITING or expired(waiting[0], now, sent)
                ):
                    waiting.popleft()  # cancelled or given up on while waiting
                if not waiting:
                    origin.active = False
                    continue
                blocked = origin.blocked_until(now)
                if blocked and blocked != inf:
                    # A rate slot or pause may have come since ``now`` was read
                    # (at a high rate, within this very dispatch): not a timer's job.
                    now = monotonic()
                    blocked = origin.blocked_until(now)
                if blocked:
                    turns.append(origin)
                    self._timers.wake_at(blocked)
                    continue
                if here and kept is None:
                    kept = self._take(waiting.popleft(), origin, now)
                    kept._attempt = None  # not an earlier attempt's: see cancel()
                else:
                    sent.append(self._send(waiting.popleft(), origin, now))
                progress = True
                if waiting:
                    turns.append(origin)
                else:
                    origin.active = False
        return sent, kept

    def _queue_first(self, future: ScheduledFuture) -> None:
        """Put a retry due now at the head of its origin's queue (it is the oldest)."""
        origin = future._origin
        origin.waiting.appendleft(future)
        if not origin.active:
            origin.active = True
            self._turns.append(origin)

    def _send(
        self, future: ScheduledFuture, origin: OriginState, now: float
    ) -> tuple[ScheduledFuture, BaseException | None]:
        try:
            if self._chain:
                future._attempt = self._executor.submit(self._run_chain, future)
            else:
                future._attempt = self._executor.submit(future._fn, future._retry, *future._task)
        except Exception as exc:  # noqa: BLE001 - a shut-down executor: the request fails with it
            future._stage = DONE
            return future, exc
        except BaseException:
            # Interrupted (Ctrl-C) while handing it over: it waits again, first.
            origin.waiting.appendleft(future)
            if all(other is not origin for other in self._turns):
                self._turns.append(origin)
            origin.active = True
            self._timers.wake_at(now)
            raise
        return self._take(future, origin, now), None

    def _take(self, future: ScheduledFuture, origin: OriginState, now: float) -> ScheduledFuture:
        """Count ``future``'s attempt as sent (to the executor, or to run here)."""
        future._stage = SENT
        future.attempts += 1
        future._sent_at = now
        origin.in_flight += 1
        origin.next_start = now + origin.interval
        self._sent.add(future)
        return future

    def _watch(self, sent: list[tuple[ScheduledFuture, BaseException | None]]) -> None:
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

        Each time an attempt ends (and its future's callbacks have run), the
        worker takes the next request that may start, which is from then on
        running (no more cancellable), rather than handing it to the
        executor: a hand-off, a future and a callback less per request.
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
        if self._chain:
            if cancelled:  # else the chain that ran it has done what follows
                self._ended(future, None, None, cancelled=True)
            return
        outcome: Any = None
        error: BaseException | None = None
        if not cancelled:
            error = attempt.exception()
            if error is None:
                outcome = attempt.result()
        self._ended(future, outcome, error, cancelled)

    def _ended(
        self,
        future: ScheduledFuture,
        outcome: Any,
        error: BaseException | None,
        cancelled: bool,
        here: bool = False,
    ) -> ScheduledFuture | None:
        """Settle ``future``, or time its retry; dispatch; return one to run ``here``.

        A settled future's callbacks run before the next request is
        dispatched: one that cancels it (first answer wins) finds it waiting.
        """
        now = monotonic()
        with self._lock:
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
            if final is None:
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
            with self._lock:
                sent, kept = self._dispatch_after(cancelled, monotonic(), here)
        self._watch(sent)
        return kept

    def _dispatch_after(
        self, cancelled: bool, now: float, here: bool
    ) -> tuple[list[tuple[ScheduledFuture, BaseException | None]], ScheduledFuture | None]:
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

    def join(self) -> None:
        """Wait for the timer thread to end (after :meth:`close`)."""
        self._timers.join()


# A worker running the chain runs the request its local ``future`` names.
_abort.runner(Scheduler._run_chain.__code__, "future")
