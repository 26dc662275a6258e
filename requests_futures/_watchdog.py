"""The watchdog: one thread per process that fires deadlines and aborts.

Started the first time something is armed (a session that never sets a
deadline nor aborts a request starts no thread), it sleeps until the earliest
entry is due and calls its ``fire()``.  An entry that no longer matters (its
request finished in time) says so through ``stale`` and is skipped, or swept
once the heap has doubled::

    watchdog.call_at(monotonic() + 0.5, entry)  # entry.fire() in the watchdog's thread
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
from collections.abc import Iterable
from math import inf
from time import monotonic
from typing import Protocol

from . import _abort

__all__ = ["Entry", "call_at", "keep_aborting"]

logger = logging.getLogger(__name__)

#: Heap size from which entries that no longer matter are swept.
_SWEEP_AT = 1024
#: How often, and how many times, a call given up on is looked for again.
RECHECK = 0.1
RECHECKS = 300


class Entry(Protocol):
    """What the watchdog holds: something to fire at its time."""

    @property
    def stale(self) -> bool:
        """True once firing would do nothing: it may be dropped unfired."""
        ...

    def fire(self) -> None: ...


class _Watchdog:
    def __init__(self) -> None:
        self._wakeup = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Entry]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._sweep_at = _SWEEP_AT

    def call_at(self, when: float, entry: Entry) -> None:
        with self._wakeup:
            heap = self._heap
            if len(heap) >= self._sweep_at:
                heap[:] = [item for item in heap if not item[2].stale]
                heapq.heapify(heap)
                self._sweep_at = max(_SWEEP_AT, 2 * len(heap))
            heapq.heappush(heap, (when, next(self._order), entry))
            if heap[0][2] is not entry:
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="requests-futures-watchdog", daemon=True
                )
                self._thread.start()
            else:
                self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                heap = self._heap
                while True:
                    now = monotonic()
                    due = heap[0][0] if heap else inf
                    if due <= now:
                        break
                    self._wakeup.wait(min(due - now, threading.TIMEOUT_MAX))
                entries = []
                while heap and heap[0][0] <= now:
                    entries.append(heapq.heappop(heap)[2])
            for entry in entries:
                try:
                    if not entry.stale:
                        entry.fire()
                except BaseException:  # the watchdog serves every session: it goes on
                    logger.exception("error firing %r", entry)
            del entries


_watchdog = _Watchdog()


def call_at(when: float, entry: Entry) -> None:
    """Call ``entry.fire()`` in the watchdog's thread at ``when`` (monotonic seconds)."""
    _watchdog.call_at(when, entry)


def _after_fork() -> None:
    global _watchdog
    _watchdog = _Watchdog()  # the thread stayed in the parent


if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=_after_fork)


class _Aborting:
    """Looks again for a call given up on, and shuts its sockets down, until it ends."""

    __slots__ = ("_left", "_targets")

    def __init__(self, targets: list[object]) -> None:
        self._targets = targets
        self._left = RECHECKS

    @property
    def stale(self) -> bool:
        return False

    def fire(self) -> None:
        self._left -= 1
        if _abort.shut_down(self._targets) and self._left > 0:
            call_at(monotonic() + RECHECK, self)


def keep_aborting(targets: Iterable[object]) -> None:
    """Shut down the sockets of the calls running ``targets`` now, and again while they run.

    A worker caught between two socket calls (or connecting again to follow a
    redirect) is looked at again every :data:`RECHECK` seconds.
    """
    targets = [target for target in targets if target is not None]
    if targets and _abort.shut_down(targets):
        call_at(monotonic() + RECHECK, _Aborting(targets))
