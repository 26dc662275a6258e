"""The deadline stage's parts on their own: the watchdog, Deadline, the future's early settling."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from fractions import Fraction
from typing import Any

import pytest
import requests

from requests_futures import DeadlineExceeded, FuturesSession, _deadline, _watchdog
from requests_futures._future import Future
from requests_futures._scheduling.origins import Limits, Politeness
from requests_futures._scheduling.queues import ScheduledFuture
from requests_futures._scheduling.retries import Outcome
from requests_futures._scheduling.scheduler import Scheduler

from .conftest import LONG, eventually
from .server import LoopbackServer


class _Entry:
    def __init__(self, stale: bool = False, error: BaseException | None = None) -> None:
        self.stale = stale
        self.error = error
        self.fired = threading.Event()

    def fire(self) -> None:
        self.fired.set()
        if self.error is not None:
            raise self.error


def test_an_entry_that_raises_is_logged_and_the_watchdog_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad, good = _Entry(error=SystemExit(3)), _Entry()
    _watchdog.call_at(time.monotonic(), bad)
    _watchdog.call_at(time.monotonic() + 0.05, good)
    assert good.fired.wait(LONG)
    assert bad.fired.is_set()
    assert any("error firing" in r.getMessage() for r in caplog.records)


def test_stale_entries_are_swept_and_never_fired() -> None:
    watchdog = _watchdog._Watchdog()  # one of its own: no thread until due
    far = time.monotonic() + 3600
    stale = [_Entry(stale=True) for _ in range(_watchdog._SWEEP_AT)]
    for entry in stale:
        watchdog.call_at(far, entry)
    live = _Entry()
    watchdog.call_at(far, live)  # the heap is full: the stale ones go
    assert [item[2] for item in watchdog._heap] == [live]
    assert watchdog._thread is not None and not any(e.fired.is_set() for e in stale)


def test_a_forked_child_gets_a_watchdog_of_its_own() -> None:
    before = _watchdog._watchdog
    try:
        _watchdog._after_fork()
        assert _watchdog._watchdog is not before
        entry = _Entry()
        _watchdog.call_at(time.monotonic(), entry)
        assert entry.fired.wait(LONG)
    finally:
        _watchdog._watchdog = before


def test_deadline_odds_and_ends() -> None:
    assert repr(_deadline.SESSION_DEFAULT) == "<the session's deadline>"
    assert _deadline.check_deadline(Fraction(1, 2)) == 0.5
    deadline = _deadline.Deadline(0.01, 0.01)
    assert repr(deadline) == "<Deadline of 0.01 s, armed>"
    deadline.fire()  # not armed on any future: nothing to do
    deadline.fire()  # and once only
    assert repr(deadline) == "<Deadline of 0.01 s>"
    time.sleep(0.02)
    with pytest.raises(DeadlineExceeded) as caught:
        deadline.left()
    assert caught.value.sent is False  # type: ignore[attr-defined]


def test_an_error_before_the_deadline_stays_itself(refused_url: str) -> None:
    for limits in ({}, {"per_host": 1}):
        with FuturesSession(deadline=LONG, **limits) as session:  # type: ignore[arg-type]
            with pytest.raises(requests.ConnectionError) as caught:
                session.get(refused_url).result(timeout=LONG)
            assert not isinstance(caught.value, DeadlineExceeded)


def test_a_response_the_deadline_beat_is_closed(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="concurrent.futures")
    seen: list[requests.Response] = []
    done = threading.Event()

    def slow(session: Any, response: requests.Response) -> None:
        seen.append(response)
        time.sleep(0.4)  # the deadline passes here
        done.set()

    with FuturesSession(max_workers=1) as session:
        future = session.get(server.url + "/echo", background_callback=slow, deadline=0.2)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        assert done.wait(LONG)
        assert eventually(lambda: seen[0].raw is None or seen[0].raw.closed)
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_waiters_see_an_early_settlement() -> None:
    for error in (None, DeadlineExceeded("deadline of 1 s exceeded")):
        future: Future[Any] = Future()
        assert future.set_running_or_notify_cancel()
        waited: list[Any] = []
        waiter = threading.Thread(
            target=lambda f=future, w=waited: w.append(concurrent.futures.wait([f], timeout=LONG))
        )
        waiter.start()
        assert eventually(lambda f=future: bool(f._waiters))
        assert future._settle_early(error)
        waiter.join(LONG)
        assert waited[0].done == {future}
        # What the worker sets afterwards is dropped; a second settling is refused.
        future.set_result(None)
        future.set_exception(ValueError())
        assert not future.set_running_or_notify_cancel()
        assert not future._settle_early(None)


def test_setting_a_done_future_again_still_raises() -> None:
    future: Future[Any] = Future()
    future.set_result(1)
    with pytest.raises(concurrent.futures.InvalidStateError):
        future.set_result(2)
    with pytest.raises(concurrent.futures.InvalidStateError):
        future.set_exception(ValueError())


class _Expiry:
    """A deadline as the scheduler sees it, without the watchdog."""

    def __init__(self, at: float) -> None:
        self.at = at

    def error(self, sent: bool = True) -> BaseException:
        error = DeadlineExceeded("deadline of 1 s exceeded")
        error.sent = sent  # type: ignore[attr-defined]
        return error

    def attempt(self, retry: Any, *call: Any) -> Any:  # pragma: no cover - not used here
        raise NotImplementedError

    def disarm(self) -> None:
        self.disarmed = True


def test_the_scheduler_never_sends_what_is_past_its_deadline() -> None:
    ran: list[str] = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        scheduler = Scheduler(pool, Politeness(Limits(per_host=1)), workers=1)
        past = _Expiry(time.monotonic() - 1)
        future = scheduler.submit("http://h.invalid/", lambda retry: ran.append("x"), (), past)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        assert future.attempts == 0 and ran == []

        # An attempt that found its deadline passed was never sent: not counted.
        def unsent(retry: Any) -> Outcome:
            raise past.error(sent=False)

        soon = _Expiry(time.monotonic() + LONG)
        future = scheduler.submit("http://h.invalid/", unsent, (), soon)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        assert future.attempts == 0
        assert soon.disarmed  # settled by the scheduler: it can no longer fire

        # An error met once the deadline passed is the deadline's.
        # (Well ahead at the submit, so that a slow start under load still sends it.)
        expiry = _Expiry(time.monotonic() + 0.3)

        def late(retry: Any) -> Outcome:
            while time.monotonic() <= expiry.at:
                time.sleep(0.01)
            raise requests.ConnectionError("reset")

        future = scheduler.submit("http://h.invalid/", late, (), expiry)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        assert future.attempts == 1
        scheduler.close()


def test_an_attempt_cancelled_in_the_executor_is_not_counted() -> None:
    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, LONG)  # the only worker is busy elsewhere
        scheduler = Scheduler(pool, Politeness(Limits(per_host=2)), workers=2)
        future = scheduler.submit("http://h.invalid/", lambda retry: Outcome("ok"), ())
        assert future._attempt is not None  # handed to the executor, queued there
        assert scheduler.give_up(future, DeadlineExceeded("late")) == []
        assert future.attempts == 0
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        release.set()
        scheduler.close()


def test_an_attempt_followed_twice_ends_once() -> None:
    ended: list[Any] = []

    class Owner:
        def attempt_done(self, future: Any, attempt: Any) -> None:
            ended.append(attempt)

    future = ScheduledFuture(Owner(), None, (), None)  # type: ignore[arg-type]
    attempt: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future._attempt_done(attempt)
    future._attempt_done(attempt)
    assert ended == [attempt]
