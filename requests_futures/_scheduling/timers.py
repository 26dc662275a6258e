"""Timers and pauses: retries due later, and the one thread that wakes the scheduler.

A request whose retry is due later waits here; so does the scheduler's next
look at an origin held back by its rate or a ``Retry-After`` pause.  One
daemon thread per session, started the first time something must wait,
calls ``wake()`` (the scheduler's dispatch) when the earliest of them comes::

    timers = Timers(lock, scheduler.wake)
    with lock:
        timers.retry_at(monotonic() + 0.5, future)
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from math import inf
from time import monotonic

from .queues import ScheduledFuture


class Timers:
    """The retry timers and wake-up time of one scheduler, and its timer thread.

    Shares the scheduler's ``lock``: every method but :meth:`join` is called
    with it held.  ``wake`` is called without it.
    """

    def __init__(self, lock: threading.Lock, wake: Callable[[], None]) -> None:
        self._wakeup = threading.Condition(lock)
        self._wake = wake
        self._retries: list[tuple[float, int, ScheduledFuture]] = []  # by due time
        self._order = itertools.count()
        self._wake_at = inf  # earliest rate slot or pause end seen blocking a request
        self._thread: threading.Thread | None = None
        self._closed = False

    def retry_at(self, due: float, future: ScheduledFuture) -> None:
        """Hand ``future`` back to the scheduler at ``due`` (monotonic seconds)."""
        heapq.heappush(self._retries, (due, next(self._order), future))
        if self._retries[0][2] is future:
            self._wanted()

    def due(self, now: float) -> list[ScheduledFuture]:
        """Take the retries due by ``now``, earliest first."""
        retries = self._retries
        found = []
        while retries and retries[0][0] <= now:
            found.append(heapq.heappop(retries)[2])
        return found

    def pending(self) -> list[ScheduledFuture]:
        """The futures waiting for their retry."""
        return [entry[2] for entry in self._retries]

    def wake_at(self, when: float) -> None:
        """Have the scheduler look again at ``when`` (a rate slot or a pause's end)."""
        if when < self._wake_at:
            self._wake_at = when
            self._wanted()

    def close(self) -> None:
        """Drop every retry and end the thread."""
        self._closed = True
        self._retries.clear()
        self._wakeup.notify_all()

    def join(self) -> None:
        """Wait for the thread to end (after :meth:`close`); called without the lock."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _wanted(self) -> None:
        """Make the thread see the new earliest due time, starting it if need be."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="requests-futures-scheduler", daemon=True
            )
            self._thread.start()
        else:
            self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while True:
                    if self._closed:
                        return
                    now = monotonic()
                    due = self._wake_at
                    if self._retries:
                        due = min(due, self._retries[0][0])
                    if due <= now:
                        break
                    self._wakeup.wait(min(due - now, threading.TIMEOUT_MAX))
                self._wake_at = inf
            self._wake()
