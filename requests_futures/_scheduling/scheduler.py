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
after an attempt was cancelled in the executor).  While every worker is busy,
a new request only joins an inbox, without the lock: the next attempt to end
takes it in.  No lock of this module is held while a callback of someone
else's future can run.  The per-origin queues are in :mod:`.queues`, what
follows an attempt's end in :mod:`.ending`, the retry decisions in
:mod:`.retries`, cancelling and giving up (a deadline, an abort) in
:mod:`.stopping`.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from math import inf
from time import monotonic
from typing import Any

from .adaptive import HostStats
from .ending import Ending, Sent
from .origins import Origin, Politeness, origin_of, origin_url
from .queues import DONE, SENT, WAITING, Expiry, OriginState, ScheduledFuture
from .stopping import expired
from .timers import Timers

CLOSED = "this FuturesSession is closed; create a new one"

#: Origins remembered before forgetting those with nothing waiting or running.
_SWEEP_AT = 1024


class Scheduler(Ending):
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
        #: Requests submitted, not yet in their origin's queue (see :meth:`submit`).
        self._inbox: deque[tuple[Origin, ScheduledFuture]] = deque()
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
        if self._closed:
            raise RuntimeError(CLOSED)
        future = ScheduledFuture(self, fn, task, self._politeness.retry, deadline)
        self._inbox.append((origin_of(url), future))
        # Read after the append, as _ended frees a slot before it takes the
        # inbox in: one of the two sees the other.  All workers busy: the
        # next to end takes this request in, so no need for the lock here.
        cap = self._cap
        if cap is not None and len(self._sent) >= cap and not self._closed:
            return future
        sent: Sent = []
        try:
            with self._lock:
                if self._closed:  # since the check above: close() did not see it, or cancelled it
                    future._stage = DONE
                    raise RuntimeError(CLOSED)
                self._dispatch(monotonic(), sent=sent)
        finally:
            # Even when interrupted (Ctrl-C in this thread): an attempt sent
            # and not followed would hold its slot and never settle its future.
            self._watch(sent)
        return future

    def _take_in(self) -> None:
        """With the lock held: queue each request submitted since, in its origin's queue."""
        inbox, origins = self._inbox, self._origins
        while inbox:
            key, future = inbox.popleft()
            if future._stage is not WAITING:
                continue  # cancelled before it got here
            origin = origins.get(key)
            if origin is None:
                if len(origins) >= self._sweep_at:
                    self._sweep()
                    origins = self._origins
                polite = self._politeness
                origin = origins[key] = OriginState(polite.limits_for(key), polite.adaptive)
            future._origin = origin
            origin.waiting.append(future)
            if not origin.active:
                origin.active = True
                self._turns.append(origin)

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
        sent: Sent | None = None,
    ) -> tuple[Sent, ScheduledFuture | None]:
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
        if self._inbox:
            self._take_in()
        for future in self._timers.due(now):
            if future._stage is WAITING:  # not cancelled while it waited
                self._queue_first(future)
        turns, cap, running = self._turns, self._cap, self._sent
        progress = True
        while progress and turns:
            progress = False
            for _ in range(len(turns)):
                if cap is not None and len(running) >= cap:
                    return sent, kept
                origin = turns.popleft()
                waiting = origin.waiting
                while waiting:
                    first = waiting[0]
                    if first._stage is WAITING and (
                        first._deadline is None or not expired(first, now, sent)
                    ):
                        break
                    waiting.popleft()  # cancelled or given up on while waiting
                else:
                    origin.active = False
                    continue
                limit = origin.per_host
                if (limit is not None and origin.in_flight >= limit) or (
                    origin.next_start > now or origin.paused_until > now
                ):
                    blocked = origin.blocked_until(now)
                    if blocked != inf:
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
        """With the lock held: hand ``future``'s attempt to the executor."""
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

    def join(self) -> None:
        """Wait for the timer thread to end (after :meth:`close`)."""
        self._timers.join()
