"""Stopping scheduled requests early: cancelled, given up on, or past their deadline.

:meth:`Stopping.cancel` is :meth:`ScheduledFuture.cancel`: it stops a request
that has not started; :meth:`Stopping.close` cancels every one waiting.
:meth:`Stopping.give_up` stops one whatever its stage, for its deadline
(:mod:`.._deadline`) or ``abort()``; the running attempt's sockets are then
shut down by the caller (:mod:`.._watchdog`)::

    running = scheduler.give_up(future, None)  # cancelled; running: what to abort
"""

from __future__ import annotations

import threading
from collections import deque

from .origins import Origin
from .queues import DONE, SENT, WAITING, OriginState, ScheduledFuture, settle_cancelled
from .timers import Timers


def expired(
    future: ScheduledFuture,
    now: float,
    sent: list[tuple[ScheduledFuture, BaseException | None]],
) -> bool:
    """With the lock held: whether ``future``'s deadline has passed (it is then failed)."""
    deadline = future._deadline
    if deadline is None or deadline.at > now:
        return False
    future._stage = DONE
    sent.append((future, deadline.error()))  # its exception, set by _watch
    return True


class Stopping:
    """The :class:`~.scheduler.Scheduler`'s ways of stopping requests early."""

    _lock: threading.Lock
    _closed: bool
    _origins: dict[Origin, OriginState]
    _turns: deque[OriginState]
    _timers: Timers
    _sent: set[ScheduledFuture]
    _inbox: deque[tuple[Origin, ScheduledFuture]]
    #: How many waiting requests :meth:`close` cancelled.
    cancelled: int

    def cancel(self, future: ScheduledFuture) -> bool:
        """:meth:`ScheduledFuture.cancel`: True if it will never (again) be sent."""
        with self._lock:
            stage = future._stage
            if stage is WAITING:
                future._stage = DONE  # its queue or timer entry is skipped later
            attempt = future._attempt
        if stage is WAITING:
            settle_cancelled(future)
            return True
        if stage is DONE:
            return future.cancelled()
        # Outside the lock: a successful cancel runs attempt_done right here
        # when it is already attached, which settles the future.  None: a
        # worker took it, to run next.
        if attempt is None or not attempt.cancel():
            return False
        with self._lock:
            mine = future._stage is SENT
            if mine:
                future._stage = DONE
        if mine:
            settle_cancelled(future)
        return True

    def give_up(self, future: ScheduledFuture, error: BaseException | None) -> list[object]:
        """Settle ``future`` now with ``error`` (None: cancelled), waiting or running.

        For a deadline (:class:`.._deadline.Deadline`) or ``abort()``.  An
        attempt still queued in the executor is cancelled there and not
        counted in ``attempts``; one running is left to end (its sockets shut
        down here): what it returns is then dropped.  Returns what the
        running attempt's thread may be found by, to look for it again.
        """
        with self._lock:
            stage = future._stage
            if stage is DONE:
                return []
            future._stage = DONE  # a queue or timer entry is skipped; _ended only dispatches
            attempt = future._attempt
        running: list[object] = []
        if stage is SENT:
            if attempt is not None and attempt.cancel():
                future.attempts -= 1
            else:
                running = [future, attempt]
        if error is None:
            settle_cancelled(future)
        else:
            future.set_exception(error)
        return running

    def close(self) -> list[ScheduledFuture]:
        """Cancel every waiting request at once and stop the timer.

        Returns the futures whose attempt is in the executor: the caller
        cancels or waits for those as it does for any other.
        """
        with self._lock:
            self._closed = True
            waiting = [f for o in self._origins.values() for f in o.waiting]
            waiting += [f for _, f in self._inbox]
            self._inbox.clear()
            waiting += self._timers.pending()
            waiting = [f for f in waiting if f._stage is WAITING]
            for future in waiting:
                future._stage = DONE
            self.cancelled += len(waiting)
            for origin in self._origins.values():
                origin.waiting.clear()
                origin.active = False
            self._turns.clear()
            self._timers.close()
            sent = list(self._sent)
        for future in waiting:
            settle_cancelled(future)
        return sent
