"""How many requests one origin takes: a limit that follows its answers.

With ``FuturesSession(per_host=N, adaptive=True)`` every origin gets a
:class:`Meter`, which the scheduler tells, under its lock, how each attempt
ended; the meter moves the origin's limit between 1 and ``N`` (no threads,
constant work per answer)::

    meter = Meter(ceiling=16, adaptive=True)
    meter.answered(sent_at, now, in_flight=3, overload=False)
    meter.limit  # what the scheduler lets run at once

The algorithm (docs/guide/adaptive.rst):

- **Start** at ``min(2, N)`` and grow by one per good answer (TCP's slow
  start: the limit doubles every round trip) until the first answer slower
  than ``1.25 x minimum + 4 ms`` (the origin began to queue) or the first
  cut; from then on, one step per round trip.
- **Overload** (429, 503, a refused or reset connection, a timeout): halve the
  number in flight (at least 1) and remember it as the level where the origin
  pushed back.  Answers of requests that were already in flight then do not
  cut again: one cut per round trip.
- **Latency**: the smoothed response time of the origin is compared with its
  recent minimum; once it climbs above the bound ``2 x minimum + 4 ms``, the
  origin is queueing more than a round trip's worth of our requests: the
  limit is scaled by ``bound / smoothed`` (at least one step down) and that
  level remembered, as for an overload.  Below the bound a little queueing
  is welcome: it keeps the origin busy while the client turns an answer into
  the next request.  After a cut the smoothed time starts again from the
  minimum, so one slow answer (a client that stalled) does not cut again.
- **Growth** below the remembered level: one step per round trip of good
  answers (a slow answer, above that latency bound, is not a good one).
  The step *to* that level (a probe) waits for 8 round trips; a slow answer
  to the probe steps back at once, while 4 round trips of good answers show
  the origin has changed (it recovered): the level is forgotten and slow
  start resumes.

"Round trip" here is as many answers as the limit allows in flight.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

from requests.exceptions import ConnectionError, RetryError, Timeout

#: The limit an adaptive origin starts at (or its ceiling, if lower).
START = 2
#: On an overload signal the limit becomes this share of the requests in flight.
DECREASE = 0.5
#: Round trips of good answers before a step up to the remembered level.
PROBE_ROUND_TRIPS = 8
#: Round trips of good answers at or above it before that level is forgotten.
CONFIRM_ROUND_TRIPS = 4
#: The smoothed latency may reach ``TOLERANCE x minimum + SLACK`` seconds.
TOLERANCE = 2.0
SLACK = 0.004
#: Slow start ends at the first answer slower than ``SLOW_START_TOLERANCE x minimum + SLACK``.
SLOW_START_TOLERANCE = 1.25
#: Weight of a new answer in the smoothed latency.
SMOOTHING = 1 / 8
#: Good answers after which the oldest half of the minimum's history is dropped.
MINIMUM_EPOCH = 256


def unresolved_name(error: BaseException | None) -> bool:
    """Whether ``error`` comes of a host name that did not resolve (DNS).

    The caller's error, not the origin's: there is no origin to overload.
    That is a ``socket.gaierror`` somewhere in what requests and urllib3
    wrap (``args``, ``reason``, causes and contexts), a few levels deep:
    urllib3 2 raises its ``NameResolutionError`` from it, 1.26 its
    ``NewConnectionError`` while handling it.
    """
    pending = [error]
    for _ in range(16):
        if not pending:
            break
        found = pending.pop()
        if found is None:
            continue
        if isinstance(found, socket.gaierror):
            return True
        pending.extend((found.__cause__, found.__context__, getattr(found, "reason", None)))
        pending.extend(arg for arg in found.args if isinstance(arg, BaseException))
    return False


def overload_error(error: BaseException | None) -> bool | None:
    """Whether a request's final error says its origin is overloaded.

    Any connection error or timeout (``ConnectionError``, ``Timeout``), and a
    ``RetryError`` from a ``Retry`` mounted on the adapter, whose status is
    not known here (when ``retries=`` gives up, the worker tells the status).
    None for a host name that did not resolve: no answer at all, neither an
    overload signal nor a response time (:func:`unresolved_name`).
    """
    if not isinstance(error, ConnectionError | Timeout | RetryError):
        return False
    return None if unresolved_name(error) else True


class HostStats(NamedTuple):
    """What a session knows of one origin: see ``FuturesSession.host_stats()``.

    .. versionadded:: 2.0
    """

    #: Most requests allowed in flight to it now (None: no limit).
    limit: int | None
    #: Requests of this session running against it now.
    in_flight: int
    #: Attempts that ended (each retry counts), with any answer or error.
    completed: int
    #: Attempts that ended with an overload signal (429, 503, a connection error, a timeout).
    overload_signals: int
    #: Smoothed response time of its good answers, in seconds (None: none yet).
    latency: float | None
    #: Its shortest recent response time, in seconds (None: none yet).
    min_latency: float | None
    #: The level where it last pushed back, probed only slowly (None: none known).
    pushback_level: int | None
    #: The most ``limit`` may grow to (``per_host``).
    ceiling: int | None


class Meter:
    """One origin's statistics and, when adaptive, its limit.

    :param ceiling: the origin's ``per_host`` (None: no limit, nothing to adapt).
    :param adaptive: move :attr:`limit` with the answers.
    """

    __slots__ = (
        "_base",
        "_base_next",
        "_base_samples",
        "_cut_at",
        "_good",
        "_slow_start",
        "_step_at",
        "adaptive",
        "ceiling",
        "completed",
        "latency",
        "level",
        "limit",
        "signals",
    )

    def __init__(self, ceiling: int | None, adaptive: bool) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive and ceiling is not None
        self.limit = min(START, ceiling) if self.adaptive and ceiling else ceiling
        self.level: int | None = None  # where the origin last pushed back
        self.completed = 0
        self.signals = 0
        self.latency: float | None = None  # smoothed, since the last cut
        self._base = float("inf")  # minimum latency: two epochs, this one and the last
        self._base_next = float("inf")
        self._base_samples = 0
        self._cut_at = float("-inf")  # requests sent before this do not cut again
        self._good = 0  # good answers toward the next step
        self._step_at = float("-inf")  # when the limit last stepped up
        self._slow_start = True  # one step per good answer, not per round trip

    @property
    def min_latency(self) -> float | None:
        """The shortest response time of the recent good answers."""
        best = min(self._base, self._base_next)
        return None if best == float("inf") else best

    def answered(self, sent_at: float, now: float, in_flight: int, overload: bool | None) -> None:
        """An attempt sent at ``sent_at`` ended at ``now``.

        :param in_flight: attempts to the origin running when it ended, itself included.
        :param overload: it ended with an overload signal; None: with no
            answer that tells of the origin (its name did not resolve).
        """
        self.completed += 1
        if overload is None:
            return
        if overload:
            self.signals += 1
            if self.adaptive and sent_at >= self._cut_at:
                self._cut(now, in_flight, max(1, int(in_flight * DECREASE)))
            return
        took = now - sent_at
        if took < self._base_next:
            self._base_next = took
        self._base_samples += 1
        if self._base_samples >= MINIMUM_EPOCH:
            self._base, self._base_next, self._base_samples = self._base_next, float("inf"), 0
        if sent_at < self._cut_at:
            return  # it tells of the level before the cut
        smoothed = self.latency
        smoothed = took if smoothed is None else smoothed + SMOOTHING * (took - smoothed)
        self.latency = smoothed
        if self.adaptive:
            self._good_answer(sent_at, now, in_flight, took, smoothed)

    def _good_answer(
        self, sent_at: float, now: float, in_flight: int, took: float, smoothed: float
    ) -> None:
        limit = self.limit
        assert limit is not None and self.ceiling is not None
        base = min(self._base, self._base_next)
        allowed = TOLERANCE * base + SLACK
        level = self.level
        if smoothed > allowed and took > allowed and limit > 1:
            used = min(limit, in_flight)
            # As many as would answer within the bound, were latency proportional to load.
            self._cut(now, used, min(used - 1, int(used * allowed / smoothed)))
            return
        if took > SLOW_START_TOLERANCE * base + SLACK:
            self._slow_start = False  # the origin began to queue: from here, step by step
        probing = level is not None and limit >= level
        if took > allowed:
            if probing and sent_at >= self._step_at:
                self._cut(now, limit, limit - 1)  # the probe failed: one step back
            return  # a slow answer is no reason to grow
        if in_flight < limit:
            return  # the limit held nothing back: no evidence it could be higher
        if probing:
            self._good += 1
            if self._good >= CONFIRM_ROUND_TRIPS * limit:
                self.level = None  # the origin takes more now: back to slow start
                self._slow_start = True
                self._good = 0
            return
        if limit >= self.ceiling:
            return
        if self._slow_start:
            self.limit = limit + 1
            return
        self._good += 1
        probe = level is not None and limit + 1 >= level
        if self._good >= limit * (PROBE_ROUND_TRIPS if probe else 1):
            self.limit = limit + 1
            self._good = 0
            self._step_at = now

    def _cut(self, now: float, level: int, limit: int) -> None:
        self.level = level
        self.limit = max(1, min(limit, self.limit or 1))
        self._cut_at = now
        self._good = 0
        self._slow_start = False
        # Restarted from the floor, the smoothed latency needs a run of slow answers
        # (about a round trip) to cut again, not the first one after this cut.
        self.latency = self.min_latency

    def stats(self, limit: int | None, in_flight: int) -> HostStats:
        """A snapshot, for ``FuturesSession.host_stats()``."""
        return HostStats(
            limit=limit,
            in_flight=in_flight,
            completed=self.completed,
            overload_signals=self.signals,
            latency=self.latency,
            min_latency=self.min_latency,
            pushback_level=self.level,
            ceiling=self.ceiling,
        )
