"""The scheduler: per-origin limits, rates and pauses that never hold a worker.

Each loopback server is one origin (its own port).  Its counters show what it
received: how many requests at once, and when each one arrived.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import copy
import itertools
import multiprocessing
import pickle
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import (
    CancelledError,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from typing import Any

import pytest
import requests
from urllib3.util import Retry

from requests_futures import Future, FuturesSession
from requests_futures._lifecycle import at_exit as _shutdown
from requests_futures._scheduling import origins as _origins
from requests_futures._scheduling import scheduler as _scheduler
from requests_futures._scheduling.origins import Limits, Politeness, origin_of
from requests_futures._scheduling.retries import Outcome
from requests_futures._scheduling.scheduler import Scheduler

from .conftest import LONG, SHORT, eventually
from .server import LoopbackServer


def scheduler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "requests-futures-scheduler"]


def gaps(starts: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("HTTP://Example.INVALID/x?y=1", ("http", "example.invalid", 80)),
        ("https://example.com", ("https", "example.com", 443)),
        ("HTTPS://example.com:8443/", ("https", "example.com", 8443)),
        (b"http://127.0.0.1:81/", ("http", "127.0.0.1", 81)),
        ("http://[::1]:8080/", ("http", "::1", 8080)),
        ("http://:pw@example.invalid/", ("http", "example.invalid", 80)),
        ("http://example.com:bad/", ("", "http://example.com:bad/", 0)),
    ],
)
def test_the_origin_of_a_url(url: str | bytes, origin: tuple[str, str, int]) -> None:
    assert origin_of(url) == origin


def test_without_limits_or_retries_the_request_path_is_unchanged(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2) as session:
        assert session._scheduler is None
        assert session._submit.__func__ is FuturesSession._submit  # type: ignore[attr-defined]
        future = session.get(server.url + "/echo")
        assert type(future) is Future  # the executor's own future, made awaitable
        assert future.result(timeout=LONG).status_code == 200
        assert future.attempts == 1
    assert scheduler_threads() == []


def test_per_host_is_never_exceeded_and_used_fully(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    with FuturesSession(max_workers=8, per_host=2) as session:
        futures = [session.get(s.url + "/delay?ms=100") for s in (server, server_b) * 6]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.max_in_flight == 2
    assert server_b.counters.max_in_flight == 2
    assert all(f.attempts == 1 for f in futures)


@pytest.mark.waits
def test_a_full_origin_holds_no_worker(server: LoopbackServer, server_b: LoopbackServer) -> None:
    """Six requests held by origin A (one at a time) do not stop forty to B."""
    with FuturesSession(max_workers=4, per_host=1) as session:
        held = [session.get(server.url + "/hold/a") for _ in range(6)]
        quick = [session.get(server_b.url + "/delay?ms=20") for _ in range(40)]
        done, _ = wait(quick, timeout=LONG)
        assert len(done) == 40
        assert all(f.result().status_code == 200 for f in quick)
        assert server.counters.requests == 1  # A's others still wait, in no worker
        server.release("a")
        assert all(f.result(timeout=LONG).status_code == 200 for f in held)
    assert server.counters.max_in_flight == 1
    assert server_b.counters.max_in_flight == 1


@pytest.mark.parametrize("pickled", [False, True], ids=["copy", "pickle"])
def test_a_copy_keeps_the_limits_with_a_fresh_scheduler(
    server: LoopbackServer, pickled: bool
) -> None:
    with FuturesSession(max_workers=4, per_host=1) as original:
        held = original.get(server.url + "/hold/a")
        waiting = original.get(server.url + "/echo/original-waiting")
        assert server.counters.wait_in_flight(1, LONG)
        duplicate = pickle.loads(pickle.dumps(original)) if pickled else copy.copy(original)
        with duplicate:
            # Not queued behind the original's held request: a scheduler of its own.
            assert duplicate.get(server.url + "/echo").result(timeout=LONG).status_code == 200
            # Its own limit of 1: the next request waits for the held one.
            second_hold = duplicate.get(server.url + "/hold/b")
            assert server.counters.wait_in_flight(2, LONG)
            behind = duplicate.get(server.url + "/echo/copy-behind")
            assert not eventually(lambda: "/echo/copy-behind" in server.counters.paths, SHORT)
            server.release("b")
            assert behind.result(timeout=LONG).status_code == 200
            assert second_hold.result(timeout=LONG).status_code == 200
        server.release("a")
        assert waiting.result(timeout=LONG).status_code == 200
        assert held.result(timeout=LONG).status_code == 200
    assert server.counters.paths.count("/echo/original-waiting") == 1  # run once, by its own


def test_rate_spaces_the_starts_and_two_origins_go_side_by_side(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    rate = 5  # one start every 0.2 s per origin
    with FuturesSession(max_workers=2, rate=rate) as session:
        futures = [session.get(server.url + "/echo") for _ in range(3)]
        futures += [session.get(server_b.url + "/echo") for _ in range(3)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    starts_a, starts_b = server.counters.starts, server_b.counters.starts
    for starts in (starts_a, starts_b):
        # Arrivals, not starts: the first of each origin also opens its connection.
        assert all(gap > 0.5 / rate for gap in gaps(starts))
        assert starts[-1] - starts[0] < 2 * 2 / rate  # not much slower than asked
    assert starts_b[0] < starts_a[1]  # B did not wait for A's rate


def test_the_rate_holds_at_the_server_while_the_workers_are_busy(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """A request is handed to the executor only when a worker is free to start it.

    Were A's second request queued behind B's slow one, it would start late
    (at 0.45 s) and its successor on time (0.5 s): 0.05 s apart, where the
    rate keeps them 0.25 s apart.  The bound lies between the two, wide of
    both, for a client delayed under load.
    """
    rate = 4
    with FuturesSession(max_workers=1, rate=rate) as session:
        futures = [session.get(server.url + "/echo")]
        futures.append(session.get(server_b.url + "/delay?ms=450"))
        futures += [session.get(server.url + "/echo") for _ in range(2)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert all(gap > 0.55 / rate for gap in gaps(server.counters.starts))


@pytest.mark.waits
def test_a_429_with_retry_after_pauses_its_whole_origin(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    with FuturesSession(max_workers=2, per_host=4) as session:
        answer = session.get(server.url + "/status/429?retry_after=1").result(timeout=LONG)
        assert answer.status_code == 429  # no retries: the answer is the result
        paused = session.get(server.url + "/echo")
        other = session.get(server_b.url + "/echo")
        assert other.result(timeout=LONG).status_code == 200
        assert not paused.done()
        assert paused.result(timeout=LONG).status_code == 200
    first, second = server.counters.starts
    assert second - first > 0.7
    assert server_b.counters.starts[0] < second


@pytest.mark.waits
def test_a_429_that_exhausts_the_retries_still_pauses_its_origin(server: LoopbackServer) -> None:
    retry = Retry(total=1, status_forcelist={429})  # raise_on_status: a RetryError at the end
    with FuturesSession(max_workers=2, per_host=4, retries=retry) as session:
        given_up = session.get(server.url + "/status/429?retry_after=1")
        with pytest.raises(requests.exceptions.RetryError):
            given_up.result(timeout=LONG)
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
        stats = session.host_stats()[server.url]
    first, second, third = server.counters.starts
    assert second - first > 0.7  # the retry waited for its Retry-After
    assert third - second > 0.7  # so did the next request to the origin
    assert (stats.completed, stats.overload_signals) == (3, 2)


def test_a_429_without_retry_after_does_not_pause(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, per_host=4) as session:
        assert session.get(server.url + "/status/429").result(timeout=LONG).status_code == 429
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
    first, second = server.counters.starts
    assert second - first < 0.5


def test_host_limits_override_the_session_wide_values(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    limits = {server.url: {"per_host": 1}, "127.0.0.1": {"per_host": 3}}
    with FuturesSession(max_workers=8, per_host=2, host_limits=limits) as session:
        futures = [session.get(s.url + "/delay?ms=100") for s in (server, server_b) * 6]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.max_in_flight == 1  # its origin's own entry
    assert server_b.counters.max_in_flight == 3  # its host's entry


# -- cancel and close ---------------------------------------------------------


def test_cancel_while_waiting_for_a_slot(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, per_host=1) as session:
        running = session.get(server.url + "/hold/c")
        assert server.counters.wait_in_flight(1, LONG)
        waiting = session.get(server.url + "/echo")
        assert not running.cancel()  # running: too late
        assert waiting.cancel()
        assert waiting.cancelled()
        assert waiting.attempts == 0
        assert wait([waiting], timeout=0).done == {waiting}
        server.release("c")
        assert running.result(timeout=LONG).status_code == 200
    assert server.counters.paths == ["/hold/c"]


@pytest.mark.parametrize("supplied", [False, True])
def test_running_says_which_request_runs(server: LoopbackServer, supplied: bool) -> None:
    """As an executor's future: running() while it runs (and cannot be cancelled)."""
    executor = ThreadPoolExecutor(2) if supplied else None
    with FuturesSession(executor, max_workers=2, per_host=1) as session:
        running = session.get(server.url + "/hold/r")
        assert server.counters.wait_in_flight(1, LONG)
        waiting = session.get(server.url + "/echo")
        assert (running.running(), waiting.running()) == (True, False)
        server.release("r")
        assert waiting.result(timeout=LONG).status_code == 200
        assert not running.running() and running.done()
    if executor is not None:
        executor.shutdown()


def test_cancel_while_waiting_for_the_rate(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, rate=0.5) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
        waiting = session.get(server.url + "/echo")  # due in 2 s
        assert waiting.cancel()
        with pytest.raises(CancelledError):
            waiting.result(timeout=0)
    assert server.counters.requests == 1


def test_cancel_while_the_origin_is_paused(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, per_host=4) as session:
        session.get(server.url + "/status/503?retry_after=30").result(timeout=LONG)
        waiting = session.get(server.url + "/echo")
        assert waiting.cancel()
        assert waiting.cancelled()
    assert server.counters.requests == 1


def test_cancel_while_waiting_for_a_retry(server: LoopbackServer) -> None:
    retry = Retry(total=3, status_forcelist={503})
    with FuturesSession(max_workers=2, retries=retry) as session:
        future = session.get(server.url + "/status/503?retry_after=30")
        assert eventually(future.cancel)  # True once the attempt is over and it waits
        assert future.cancelled()
        assert future.attempts == 1
    assert server.counters.requests == 1


def test_cancel_while_queued_in_a_busy_supplied_executor(server: LoopbackServer) -> None:
    blocker = threading.Event()
    with ThreadPoolExecutor(1) as executor:
        busy = executor.submit(blocker.wait, LONG)  # not the session's: not counted
        with FuturesSession(executor=executor, per_host=2) as session:
            queued = session.get(server.url + "/echo")
            assert queued.attempts == 1  # handed to the executor, not started
            assert queued.cancel()
            assert queued.cancelled()
            blocker.set()
        assert busy.result(timeout=LONG)
    assert server.counters.requests == 0


def test_close_cancels_hundreds_of_waiting_requests_at_once(server: LoopbackServer) -> None:
    session = FuturesSession(max_workers=4, rate=1)
    futures = [session.get(server.url + "/echo") for _ in range(300)]  # 300 s of rate
    assert eventually(lambda: len(scheduler_threads()) == 1)
    started = time.monotonic()
    session.close()
    assert time.monotonic() - started < LONG / 2
    finished = list(as_completed(futures, timeout=LONG))
    assert len(finished) == 300
    assert sum(f.cancelled() for f in futures) >= 299
    assert server.counters.requests <= 1
    assert scheduler_threads() == []
    with pytest.raises(RuntimeError, match="closed"):
        session.get(server.url + "/echo")


@pytest.mark.parametrize("supplied", [False, True], ids=["own pool", "supplied pool"])
def test_a_done_callback_finds_the_next_requests_still_waiting(
    server: LoopbackServer, supplied: bool
) -> None:
    """First answer wins: its callback cancels the rest before any is sent (or
    closes the session, which does the same), whoever's pool runs them."""
    with ThreadPoolExecutor(1) as executor:
        own = executor if supplied else None
        session = FuturesSession(executor=own, max_workers=1, per_host=1)
        first = session.get(server.url + "/hold/first")
        rest = [session.get(server.url + "/echo") for _ in range(3)]
        first.add_done_callback(lambda _: [f.cancel() for f in rest[:2]])
        first.add_done_callback(lambda _: session.close())
        server.release("first")
        assert first.result(timeout=LONG).status_code == 200
        assert wait(rest, timeout=LONG).not_done == set()
        assert all(f.cancelled() for f in rest)
        session.close()
    assert server.counters.paths == ["/hold/first"]


def test_each_origin_is_served_in_the_order_its_requests_came(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """Workers that go on with the next request themselves keep each queue's order."""
    with FuturesSession(max_workers=4, per_host=1) as session:
        futures = [
            session.get(f"{origin.url}/echo/{i}")
            for i in range(30)
            for origin in (server, server_b)
        ]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    expected = [f"/echo/{i}" for i in range(30)]
    assert server.counters.paths == expected
    assert server_b.counters.paths == expected


def test_a_supplied_pool_fails_a_request_with_its_error(refused_url: str) -> None:
    with (
        ThreadPoolExecutor(2) as executor,
        FuturesSession(executor=executor, per_host=2) as session,
    ):
        futures = [session.get(refused_url) for _ in range(3)]
        assert all(isinstance(f.exception(LONG), requests.ConnectionError) for f in futures)
        stats = session.host_stats()[refused_url.rstrip("/")]
    assert (stats.in_flight, stats.completed, stats.overload_signals) == (0, 3, 3)


def test_close_with_a_supplied_executor_waits_for_the_running_request(
    server: LoopbackServer,
) -> None:
    with ThreadPoolExecutor(2) as executor:
        session = FuturesSession(executor=executor, per_host=1)
        running = session.get(server.url + "/hold/running")
        waiting = session.get(server.url + "/echo")
        assert server.counters.wait_for_path("/hold/running", LONG)
        settled = threading.Event()
        waiting.add_done_callback(lambda _: settled.set())
        closer = threading.Thread(target=session.close, daemon=True)
        closer.start()
        assert settled.wait(LONG) and waiting.cancelled()
        # close() waits for the running request, which the server still holds.
        assert closer.is_alive() and not running.done()
        server.release("running")
        closer.join(LONG)
        assert not closer.is_alive()
        assert running.result(timeout=0).status_code == 200
    assert server.counters.requests == 1


# -- every way in -------------------------------------------------------------


def test_many_submitting_threads_keep_every_limit(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    threads, each = 8, 5
    start = threading.Barrier(threads)
    futures: list[Future[requests.Response]] = []
    with FuturesSession(max_workers=8, per_host=2) as session:

        def submit() -> None:
            start.wait(LONG)
            mine = [session.get(s.url + "/delay?ms=20") for s in (server, server_b) * each]
            futures.extend(mine)

        workers = [threading.Thread(target=submit) for _ in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(LONG)
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    for origin in (server, server_b):
        assert origin.counters.requests == threads * each
        assert origin.counters.max_in_flight == 2


def test_map_send_and_await_go_through_the_scheduler(server: LoopbackServer) -> None:
    url = server.url + "/delay?ms=30"
    with FuturesSession(max_workers=4, per_host=1) as session:
        assert [f.result().status_code for _, f in session.map([url] * 4)] == [200] * 4
        prepared = session.prepare_request(requests.Request("GET", url))
        sent = [session.send(prepared) for _ in range(4)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in sent)

        async def main() -> list[int]:
            responses = await asyncio.gather(*(session.get(url) for _ in range(4)))
            return [r.status_code for r in responses]

        assert asyncio.run(main()) == [200] * 4
    assert server.counters.requests == 12
    assert server.counters.max_in_flight == 1


def test_cancelling_the_awaiting_task_cancels_a_waiting_request(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, per_host=1) as session:
        running = session.get(server.url + "/hold/t")
        waiting = session.get(server.url + "/echo")

        async def main() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.ensure_future(waiting), SHORT / 3)

        asyncio.run(main())
        assert waiting.cancelled()
        server.release("t")
        assert running.result(timeout=LONG).status_code == 200
    assert server.counters.requests == 1


def test_a_process_pool_is_scheduled_in_the_calling_process(server: LoopbackServer) -> None:
    context = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(2, mp_context=context) as pool,
        FuturesSession(executor=pool, per_host=1, timeout=LONG) as session,
    ):
        futures = [session.get(server.url + "/delay?ms=50") for _ in range(4)]
        assert all(f.result(timeout=4 * LONG).status_code == 200 for f in futures)
    assert server.counters.requests == 4
    assert server.counters.max_in_flight == 1


def test_a_shut_down_supplied_executor_fails_the_request(server: LoopbackServer) -> None:
    executor = ThreadPoolExecutor(1)
    executor.shutdown()
    with FuturesSession(executor=executor, per_host=1) as session:
        future = session.get(server.url + "/echo")
        with pytest.raises(RuntimeError, match="shutdown"):
            future.result(timeout=LONG)


def test_shutting_the_supplied_executor_down_cancels_and_fails_without_hanging(
    server: LoopbackServer,
) -> None:
    """shutdown(cancel_futures=True) cancels the queued attempt under the executor's
    lock: the request that may start next must not be submitted from there."""
    blocker = threading.Event()
    executor = ThreadPoolExecutor(1)
    busy = executor.submit(blocker.wait, LONG)  # not the session's: not counted
    with FuturesSession(executor=executor, per_host=1) as session:
        queued = session.get(server.url + "/echo")  # in the executor, behind busy
        waiting = session.get(server.url + "/echo")  # in the scheduler: per_host
        shutdown = threading.Thread(
            target=executor.shutdown, kwargs={"wait": False, "cancel_futures": True}, daemon=True
        )
        shutdown.start()
        shutdown.join(LONG)
        blocker.set()
        assert not shutdown.is_alive()
        assert queued.cancelled()
        with pytest.raises(RuntimeError, match="shutdown"):
            waiting.result(timeout=LONG)
    assert busy.result(timeout=LONG)
    assert server.counters.requests == 0


# -- the scheduler on its own --------------------------------------------------


def test_per_host_can_change_while_requests_run(server: LoopbackServer) -> None:
    """The seam an adaptive limit uses: change an origin's limit, then wake()."""
    with ThreadPoolExecutor(4) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=4)
        held = [scheduler.submit(server.url, _get, (server.url + "/hold/w",)) for _ in range(3)]
        assert server.counters.wait_in_flight(1, LONG)
        state = scheduler.origin(server.url)
        assert state is not None
        state.per_host = 3
        scheduler.wake()
        assert server.counters.wait_in_flight(3, LONG)
        server.release("w")
        assert all(f.result(timeout=LONG).status_code == 200 for f in held)
        scheduler.close()
        scheduler.join()


def _get(retry: Retry | None, url: str) -> object:
    from requests_futures._scheduling.retries import Outcome

    return Outcome(requests.get(url, timeout=LONG))


def test_a_done_future_cannot_be_cancelled_a_cancelled_one_stays_so(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=1, per_host=1) as session:
        done = session.get(server.url + "/echo")
        assert done.result(timeout=LONG).status_code == 200
        assert not done.cancel()
        session.get(server.url + "/hold/x")
        waiting = session.get(server.url + "/echo")
        assert waiting.cancel()
        assert waiting.cancel()
        server.release("x")


def test_idle_origins_are_forgotten_when_the_table_grows(
    monkeypatch: pytest.MonkeyPatch, server: LoopbackServer, server_b: LoopbackServer
) -> None:
    monkeypatch.setattr(_scheduler, "_SWEEP_AT", 2)
    limits = {server_b.url: {"rate": 0.01}}  # its clock runs for 100 s: kept
    with FuturesSession(max_workers=2, per_host=1, host_limits=limits) as session:
        scheduler = session._scheduler
        assert scheduler is not None
        for url in (server.url, server_b.url, "http://127.0.0.1:1/"):
            wait([session.get(url + "/echo")], timeout=LONG)
        assert scheduler.origin(server.url) is None  # idle: forgotten
        assert scheduler.origin(server_b.url) is not None
        assert scheduler.origin("http://127.0.0.1:1/") is not None


def test_an_origin_with_a_retry_to_come_is_not_forgotten(
    monkeypatch: pytest.MonkeyPatch, server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """Else its retry and new requests to it would each have a limit of their own."""
    monkeypatch.setattr(_scheduler, "_SWEEP_AT", 1)
    retry = Retry(total=1, status_forcelist={413})  # 413: its Retry-After pauses no origin
    with FuturesSession(max_workers=2, per_host=1, retries=retry) as session:
        scheduler = session._scheduler
        assert scheduler is not None
        retried = session.get(server.url + "/status/413?retry_after=60")
        assert eventually(lambda: session.host_stats()[server.url].completed == 1)
        assert session.get(server_b.url + "/echo").result(timeout=LONG).status_code == 200
        assert scheduler.origin(server.url) is not None  # the sweep kept it
        assert retried.cancel()
    assert server.counters.requests == 1


def test_a_cancelled_retry_is_skipped_when_it_falls_due() -> None:
    calls: list[int] = []

    def fails_once(retry: Retry | None) -> Outcome:
        calls.append(1)
        return Outcome(retry=Retry(0), delay=0.05) if len(calls) == 1 else Outcome("again")

    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)
        future = scheduler.submit("http://127.0.0.1/", fails_once, ())
        later = scheduler.submit("http://127.0.0.1/", fails_once, ())
        assert eventually(future.cancel)
        assert later.result(timeout=LONG) == "again"
        assert eventually(lambda: not scheduler._timers.pending())  # fell due, and was skipped
        scheduler.close()
        scheduler.join()
    assert len(calls) == 2


def test_the_url_may_be_a_keyword(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1, per_host=1) as session:
        future = session.request("GET", url=server.url + "/echo")
        assert future.result(timeout=LONG).status_code == 200


def test_the_exit_hook_counts_what_the_scheduler_cancels(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, server: LoopbackServer
) -> None:
    session = FuturesSession(max_workers=1, rate=0.1)
    monkeypatch.setattr(_shutdown, "_sessions", weakref.WeakSet([session]))
    futures = [session.get(server.url + "/echo") for _ in range(3)]
    assert futures[0].result(timeout=LONG).status_code == 200
    _shutdown._at_exit()
    assert all(f.cancelled() for f in futures[1:])
    assert "2 queued requests cancelled" in caplog.text
    session.close()


def test_cancel_between_the_hand_off_and_the_watch() -> None:
    """cancel() in the instant after the executor took the attempt, before its
    done-callback is attached: the attempt is cancelled, the future settled once."""
    go = threading.Event()

    class LateWatch(concurrent.futures.Future[Any]):
        def add_done_callback(self, fn: Callable[[Any], object]) -> None:
            go.wait(LONG)
            super().add_done_callback(fn)

    class Holding(ThreadPoolExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            return LateWatch()  # never runs: stays pending until cancelled

    with Holding(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)
        submitted: list[Future[Any]] = []
        thread = threading.Thread(target=lambda: submitted.append(scheduler.submit("x", id, ())))
        thread.start()
        assert eventually(lambda: len(scheduler._sent) == 1)
        (future,) = scheduler._sent
        assert future.cancel()
        assert future.cancelled()
        go.set()
        thread.join(LONG)
        assert submitted == [future]
        assert future.cancelled()
        assert scheduler.origin("x") is not None
        assert scheduler.origin("x").in_flight == 0  # type: ignore[union-attr]
        scheduler.close()


def test_retries_fall_due_in_time_order_whatever_order_they_were_set() -> None:
    tries: dict[str, int] = {}

    def once_then_done(retry: Retry | None, name: str, delay: float) -> Outcome:
        tries[name] = tries.get(name, 0) + 1
        if tries[name] == 1:
            return Outcome(retry=Retry(0), delay=delay)
        return Outcome(name)

    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)
        soon = scheduler.submit("http://a.invalid/", once_then_done, ("soon", 0.05))
        late = scheduler.submit("http://b.invalid/", once_then_done, ("late", LONG * 10))
        assert soon.result(timeout=LONG) == "soon"
        assert eventually(late.cancel)
        scheduler.close()
        with pytest.raises(RuntimeError, match="closed"):
            scheduler.submit("http://a.invalid/", once_then_done, ("after", 0))
    assert tries == {"soon": 2, "late": 1}


def test_host_stats_keys_an_ipv6_origin_as_its_url_writes_it() -> None:
    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)
        future = scheduler.submit("http://[::1]:8080/x", lambda retry: Outcome("done"), ())
        assert future.result(timeout=LONG) == "done"
        assert list(scheduler.host_stats()) == ["http://[::1]:8080"]
        scheduler.close()


def test_the_origins_seen_are_kept_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_origins, "_ORIGINS_SEEN", 2)
    monkeypatch.setattr(_origins, "_origins_seen", {})
    for port in range(5):
        assert origin_of(f"http://a.invalid:{81 + port}/x") == ("http", "a.invalid", 81 + port)
    assert len(_origins._origins_seen) <= 2


def test_requests_submitted_while_every_worker_is_busy_keep_their_order() -> None:
    """They wait in the inbox, without the scheduler's lock, until an attempt ends."""
    release = threading.Event()
    ran: list[int] = []

    def task(retry: Retry | None, number: int) -> Outcome:
        if number == 0:
            release.wait(LONG)
        ran.append(number)
        return Outcome(number)

    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1, chain=True)
        futures = [scheduler.submit("http://a.invalid/", task, (n,)) for n in range(4)]
        assert len(scheduler._inbox) == 3  # not yet in their origin's queue
        assert futures[2].cancel()
        release.set()
        assert [f.result(timeout=LONG) for f in (futures[0], futures[1], futures[3])] == [0, 1, 3]
        assert ran == [0, 1, 3]
        scheduler.close()


def test_close_cancels_what_waits_in_the_inbox() -> None:
    release = threading.Event()
    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)
        busy = scheduler.submit("http://a.invalid/", lambda retry: Outcome(release.wait(LONG)), ())
        waiting = [
            scheduler.submit("http://b.invalid/", lambda retry: Outcome(1), ()) for _ in "ab"
        ]
        assert scheduler.close() == [busy]
        assert all(f.cancelled() for f in waiting)
        assert scheduler.cancelled == 2
        release.set()
        assert busy.result(timeout=LONG) is True


def test_a_submit_that_meets_close_midway_is_refused() -> None:
    """close() between the submit's first look and its hand-over: refused, never sent."""
    sent: list[object] = []
    with ThreadPoolExecutor(1) as executor:
        scheduler = Scheduler(executor, Politeness(Limits(per_host=1)), workers=1)

        class ClosingInbox(collections.deque[Any]):
            def append(self, item: Any) -> None:
                super().append(item)
                sent.append(item[1])
                scheduler.close()

        scheduler._inbox = ClosingInbox()
        with pytest.raises(RuntimeError, match="closed"):
            scheduler.submit("http://a.invalid/", lambda retry: Outcome(1), ())
        (future,) = sent
        assert future.cancelled()  # type: ignore[attr-defined]
        assert not scheduler._sent


@pytest.mark.parametrize("supplied", [False, True], ids=["own pool", "supplied executor"])
def test_a_scheduled_response_is_freed_once_the_caller_drops_it(
    server: LoopbackServer, supplied: bool
) -> None:
    """No reference cycle holds it for the garbage collector (a large body would wait)."""
    import gc

    executor = ThreadPoolExecutor(2) if supplied else None
    gc.disable()
    try:
        with FuturesSession(executor, max_workers=2, per_host=2, retries=1) as session:
            futures = [session.get(server.url + "/echo") for _ in range(6)]
            responses = [weakref.ref(f.result(timeout=LONG)) for f in futures]
            del futures
            assert eventually(lambda: all(r() is None for r in responses))
    finally:
        gc.enable()
        if executor is not None:
            executor.shutdown()
