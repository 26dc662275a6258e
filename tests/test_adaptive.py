"""Adaptive per-host limits: each origin's limit follows what it sustains.

The loopback servers' ``/capacity`` route plays a host of limited means: it
answers 429 above ``server.capacity`` requests at once, or works longer the
more it holds (``server.cores``).  What the server counted (429 answers, most
in flight) is what the tests assert on, with wide margins.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import wait

import pytest
import requests
from urllib3.util import Retry

from requests_futures import FuturesSession, HostStats
from requests_futures._scheduling.adaptive import CONFIRM_ROUND_TRIPS, PROBE_ROUND_TRIPS, Meter

from .conftest import LONG, eventually
from .server import LoopbackServer


def run(session: FuturesSession, url: str, count: int) -> list[requests.Response]:
    futures = [session.get(url) for _ in range(count)]
    done, _ = wait(futures, timeout=6 * LONG)
    assert len(done) == count
    return [f.result() for f in futures]


def share_rejected(server: LoopbackServer) -> float:
    return server.counters.rejected / server.counters.requests


def stats_of(session: FuturesSession, server: LoopbackServer) -> HostStats:
    return session.host_stats()[server.url]


# -- the API -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_adaptive_must_be_a_bool(value: object) -> None:
    with pytest.raises(TypeError, match="adaptive must be True or False"):
        FuturesSession(per_host=4, adaptive=value)  # type: ignore[arg-type]


def test_adaptive_needs_a_ceiling() -> None:
    with pytest.raises(ValueError, match="needs per_host"):
        FuturesSession(adaptive=True)
    with pytest.raises(ValueError, match="needs per_host"):
        FuturesSession(rate=5, retries=2, adaptive=True)


def test_host_stats_of_a_fixed_limit(server: LoopbackServer, server_b: LoopbackServer) -> None:
    with FuturesSession(max_workers=4) as plain:
        plain.get(server.url + "/echo").result(timeout=LONG)
        assert plain.host_stats() == {}  # nothing scheduled, nothing counted
    with FuturesSession(max_workers=4, per_host=3) as session:
        assert session.host_stats() == {}
        run(session, server.url + "/delay?ms=20", 6)
        run(session, server_b.url + "/status/503", 2)
        stats = session.host_stats()
    assert set(stats) == {server.url, server_b.url}
    a, b = stats[server.url], stats[server_b.url]
    assert (a.limit, a.ceiling, a.in_flight, a.completed, a.overload_signals) == (3, 3, 0, 6, 0)
    assert a.pushback_level is None
    assert a.min_latency is not None and a.latency is not None
    assert 0.015 < a.min_latency <= a.latency < LONG
    assert (b.limit, b.completed, b.overload_signals) == (3, 2, 2)  # a fixed limit stays


def test_the_capacity_route(server: LoopbackServer) -> None:
    """The test host itself: 429 above its capacity, at once, and counted."""
    server.capacity = 1
    with FuturesSession(max_workers=4) as session:
        held = session.get(server.url + "/capacity?hold=cap")
        assert server.counters.wait_in_flight(1, LONG)
        assert session.get(server.url + "/capacity").result(timeout=LONG).status_code == 429
        server.release("cap")
        assert held.result(timeout=LONG).status_code == 200
    assert server.counters.rejected == 1


# -- must hold (issue 15) ------------------------------------------------------


@pytest.mark.waits
def test_a_hard_capacity_sees_few_overload_answers(server: LoopbackServer) -> None:
    """Point 1: capacity 3, ceiling 16, 16 workers: every request succeeds, < 10% are 429."""
    server.capacity = 3
    with FuturesSession(max_workers=16, per_host=16, adaptive=True, retries=5) as session:
        responses = run(session, server.url + "/capacity?ms=10", 300)
        stats = stats_of(session, server)
    assert all(r.status_code == 200 for r in responses)
    assert share_rejected(server) < 0.10
    assert stats.overload_signals == server.counters.rejected
    # Near the capacity.  A client too slow to put 4 requests on the server at
    # once may have passed a probe and be growing again, so not exactly 3.
    assert stats.limit is not None and stats.limit <= 8


@pytest.mark.waits
def test_a_small_origin_does_not_hold_back_a_big_one(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """Points 1 and 3: capacities 2 and 12 behind one session converge apart."""
    server.capacity, server_b.capacity = 2, 12
    small_url = server.url + "/capacity?ms=20"
    with FuturesSession(max_workers=16, per_host=16, adaptive=True, retries=5) as session:
        futures = [
            session.get(url)
            for _ in range(150)
            for url in (small_url, server_b.url + "/capacity?ms=60")
        ]
        done, _ = wait(futures, timeout=6 * LONG)
        stats = session.host_stats()
    assert len(done) == len(futures)
    assert all(f.result().status_code == 200 for f in futures)
    assert share_rejected(server) < 0.15
    assert server_b.counters.max_in_flight >= 8
    small, big = stats[server.url], stats[server_b.url]
    assert small.limit is not None and big.limit is not None
    assert small.limit <= 3 < 6 <= big.limit


@pytest.mark.waits
def test_an_overloaded_origin_never_lowers_another(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """Point 3: refusals from one origin leave a healthy one at its ceiling."""
    with FuturesSession(max_workers=8, per_host=4, adaptive=True) as session:
        futures = [session.get(server.url + "/status/429") for _ in range(20)]
        futures += [session.get(server_b.url + "/delay?ms=100") for _ in range(40)]
        wait(futures, timeout=LONG)
        stats = session.host_stats()
    bad, good = stats[server.url], stats[server_b.url]
    assert (bad.limit, bad.overload_signals) == (1, 20)
    assert (good.limit, good.overload_signals, good.pushback_level) == (4, 0, None)
    assert server_b.counters.max_in_flight == 4


@pytest.mark.waits
def test_a_queueing_host_is_not_pushed_further(server: LoopbackServer) -> None:
    """Point 2: 4 "cores" (40 ms x ceil(in flight / 4)): near the best fixed limit, lower p95."""

    def measure(**limits: object) -> tuple[float, float]:
        server.reset()
        server.cores = 4
        with FuturesSession(max_workers=16, **limits) as session:  # type: ignore[arg-type]
            start = time.monotonic()
            responses = run(session, server.url + "/capacity?ms=40", 120)
            took = time.monotonic() - start
        elapsed = sorted(r.elapsed.total_seconds() for r in responses)
        return 1 / took, elapsed[int(0.95 * len(elapsed))]

    best, _ = measure(per_host=4)
    _, p95_fixed_16 = measure(per_host=16)
    throughput, p95 = measure(per_host=16, adaptive=True)
    assert throughput > 0.6 * best  # the benchmark measures it: over 0.9
    assert p95 < 0.8 * p95_fixed_16
    assert server.counters.max_in_flight < 16


def test_the_limit_grows_back_when_the_host_recovers(server: LoopbackServer) -> None:
    """Point 4: capacity 2, then 12: the limit climbs back within the documented round trips.

    At limit 2 the probe to 3 waits 8 round trips (16 answers), 3 is
    confirmed in 4 more (12 answers), then slow start adds one per answer.
    The first phase may end with that probe to 3 under way: a slow client
    need not put 3 requests on the server at once, so it has no 429 yet.
    """
    server.capacity = 2
    with FuturesSession(max_workers=16, per_host=12, adaptive=True, retries=5) as session:
        run(session, server.url + "/capacity?ms=10", 60)
        low = stats_of(session, server)
        server.capacity = 12
        # The counts when the limit is back at 8, taken in the workers after each
        # answer: a poll from here would count the answers of its own delay.
        reached: list[HostStats] = []

        def watch(response: requests.Response, **kwargs: object) -> None:
            stats = stats_of(session, server)
            if stats.limit is not None and stats.limit >= 8:
                reached.append(stats)

        session.hooks["response"].append(watch)
        futures = [session.get(server.url + "/capacity?ms=10") for _ in range(300)]
        assert eventually(lambda: bool(reached))
        high = reached[0]
        for future in futures:
            future.cancel()
    assert low.limit is not None and low.limit <= 3
    assert low.pushback_level is not None and low.pushback_level <= 3
    expected = (PROBE_ROUND_TRIPS + CONFIRM_ROUND_TRIPS) * 3 + 8
    assert high.completed - low.completed < 3 * expected


@pytest.mark.waits
def test_a_healthy_host_costs_nothing(server: LoopbackServer) -> None:
    """Point 5: no overload, no queueing: as fast as the fixed limit, at its ceiling."""

    def measure(**limits: object) -> float:
        with FuturesSession(max_workers=8, **limits) as session:  # type: ignore[arg-type]
            start = time.monotonic()
            run(session, server.url + "/delay?ms=50", 160)
            return time.monotonic() - start

    fixed = measure(per_host=8)
    server.reset()
    adaptive = measure(per_host=8, adaptive=True)
    assert server.counters.max_in_flight == 8
    assert adaptive < 1.5 * fixed  # the benchmark measures it: within 5%


def test_refused_connections_are_overload_signals(refused_url: str) -> None:
    with FuturesSession(max_workers=4, per_host=8, adaptive=True) as session:
        futures = [session.get(refused_url) for _ in range(6)]
        wait(futures, timeout=LONG)
        assert all(isinstance(f.exception(), requests.ConnectionError) for f in futures)
        stats = session.host_stats()[refused_url.rstrip("/")]
    assert (stats.limit, stats.overload_signals, stats.completed) == (1, 6, 6)
    assert stats.latency is None and stats.min_latency is None


@pytest.mark.parametrize("retries", [None, 2])
def test_a_name_that_does_not_resolve_is_no_overload_signal(
    monkeypatch: pytest.MonkeyPatch, retries: int | None
) -> None:
    """A DNS failure is the caller's error: it lowers no limit, pauses nothing."""
    resolve = socket.getaddrinfo

    def no_such_name(host: object, *args: object, **kwargs: object) -> object:
        if host == "nowhere.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    url = "http://nowhere.invalid:8080"
    retry = None if retries is None else Retry(retries, backoff_factor=0)
    with FuturesSession(max_workers=4, per_host=8, adaptive=True, retries=retry) as session:
        futures = [session.get(f"{url}/") for _ in range(6)]
        wait(futures, timeout=LONG)
        assert all(isinstance(f.exception(), requests.ConnectionError) for f in futures)
        stats = session.host_stats()[url]
    attempts = 6 * (1 + (retries or 0))
    assert (stats.limit, stats.overload_signals, stats.completed) == (2, 0, attempts)
    assert stats.latency is None and stats.min_latency is None


def test_retries_given_up_on_a_server_error_are_no_overload_signal(
    server: LoopbackServer,
) -> None:
    """Only the status tells of overload: a 500 is none, retried or given up on."""
    retry = Retry(total=1, status_forcelist={500})  # raise_on_status: a RetryError at the end
    with FuturesSession(max_workers=4, per_host=4, adaptive=True, retries=retry) as session:
        futures = [session.get(server.url + "/status/500") for _ in range(4)]
        wait(futures, timeout=LONG)
        stats = stats_of(session, server)
    assert all(isinstance(f.exception(), requests.exceptions.RetryError) for f in futures)
    assert (stats.completed, stats.overload_signals) == (8, 0)


# -- the meter on its own: a clock of our own, answers one by one ---------------


class Clock:
    """Feeds a :class:`Meter` answers as a host would give them."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.now = 100.0

    def answer(self, took: float = 0.02, overload: bool = False, full: bool = True) -> None:
        """One answer to a request sent ``took`` ago, with the limit in use (``full``)."""
        self.now += max(took, 0.001)
        limit = self.meter.limit or 1
        self.meter.answered(self.now - took, self.now, limit if full else limit - 1, overload)

    def answers(self, count: int, took: float = 0.02) -> None:
        for _ in range(count):
            self.answer(took)


def test_slow_start_then_a_cut_then_additive_growth() -> None:
    meter = Meter(ceiling=16, adaptive=True)
    clock = Clock(meter)
    assert meter.limit == 2
    clock.answers(4)
    assert meter.limit == 6  # one more per good answer
    clock.answer(full=False)
    assert meter.limit == 6  # nothing held back: no growth
    clock.answer(overload=True)
    assert (meter.limit, meter.level) == (3, 6)
    clock.meter.answered(clock.now - 0.5, clock.now, 3, True)  # sent before the cut
    assert (meter.limit, meter.level, meter.signals) == (3, 6, 2)
    clock.answers(3)
    assert meter.limit == 4  # one step per round trip
    clock.answers(4)
    assert meter.limit == 5
    clock.answers(5 * PROBE_ROUND_TRIPS - 1)
    assert meter.limit == 5  # the probe to the level waits
    clock.answer()
    assert meter.limit == 6


def test_a_probe_that_holds_forgets_the_level() -> None:
    meter = Meter(ceiling=16, adaptive=True)
    clock = Clock(meter)
    clock.answers(2)
    clock.answer(overload=True)  # 4 in flight: down to 2, level 4
    clock.answers(2 + 3 * PROBE_ROUND_TRIPS)
    assert (meter.limit, meter.level) == (4, 4)
    clock.answers(4 * CONFIRM_ROUND_TRIPS - 1)
    assert meter.level == 4
    clock.answer()
    assert meter.level is None
    clock.answers(3)
    assert meter.limit == 7  # slow start again


def test_a_slow_answer_to_a_probe_steps_back() -> None:
    meter = Meter(ceiling=16, adaptive=True)
    clock = Clock(meter)
    clock.answers(2)
    clock.answer(overload=True)
    clock.answers(2 + 3 * PROBE_ROUND_TRIPS)
    assert meter.limit == 4
    meter.answered(clock.now - 0.001, clock.now + 0.05, 4, False)  # sent before the step
    assert meter.limit == 4
    clock.answer(took=0.05)  # over 2 x 20 ms + 4 ms: slow
    assert (meter.limit, meter.level) == (3, 4)


def test_latency_ends_slow_start_then_scales_the_limit_down() -> None:
    meter = Meter(ceiling=16, adaptive=True)
    clock = Clock(meter)
    clock.answers(10)
    assert meter.limit == 12
    clock.answer(took=0.03)  # over 1.25 x 20 ms + 4 ms: the host began to queue
    assert (meter.limit, meter.level) == (12, None)  # no cut: the end of slow start
    clock.answers(10)
    assert meter.limit == 12  # one step per round trip now
    clock.answer()
    assert meter.limit == 13
    clock.answers(3, took=0.08)  # 4x the quickest answer: no growth, the smoothed one climbs
    assert (meter.limit, meter.level) == (13, None)
    clock.answer(took=0.08)  # the smoothed one is over 2 x 20 ms + 4 ms now
    assert (meter.limit, meter.level) == (12, 13)
    clock.answer(took=0.08)  # one slow answer after a cut is not enough for another
    assert meter.limit == 12
    clock.answer(took=0.5)  # far over the bound: scaled down in one cut
    assert meter.level == 12
    assert meter.limit is not None and meter.limit <= 8
    one = Meter(ceiling=1, adaptive=True)
    Clock(one).answers(5, took=1.0)
    assert one.limit == 1  # nothing below 1


def test_a_stall_of_the_client_costs_one_step() -> None:
    """Every answer in flight late at once (the client stalled): one small cut, not a halving."""
    meter = Meter(ceiling=16, adaptive=True)
    clock = Clock(meter)
    clock.answers(20)
    assert meter.limit == 16
    sent = clock.now
    for n in range(16):
        clock.now = sent + 0.08 + n * 0.001
        meter.answered(sent, clock.now, 16, False)  # all sent before the first cut
    assert (meter.limit, meter.level) == (15, 16)
    clock.answers(15 * PROBE_ROUND_TRIPS + 16 * CONFIRM_ROUND_TRIPS)
    assert (meter.limit, meter.level) == (16, None)


def test_the_minimum_latency_follows_the_host() -> None:
    meter = Meter(ceiling=4, adaptive=False)
    clock = Clock(meter)
    clock.answers(10, took=0.01)
    assert meter.min_latency == pytest.approx(0.01)
    clock.answers(2 * 256, took=0.05)
    assert meter.min_latency == pytest.approx(0.05)  # two epochs later
    assert (meter.limit, meter.level, meter.completed) == (4, None, 522)
