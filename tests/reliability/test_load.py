"""20,000 requests through 128 workers against a server that misbehaves on ~40 % of them.

Every future must resolve exactly once, with the response or the ``requests``
exception its fault calls for, and the responses must match what the server
says it answered in full.  ``pytest -m reliability`` runs these alone.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, wait
from typing import Any

import pytest
import requests

from requests_futures import FuturesSession

from ..conftest import LONG, worker_threads
from ..faults import FAULTS, FaultServer, plan
from .conftest import SEED
from .test_faults import OUTCOMES

pytestmark = [pytest.mark.reliability, pytest.mark.timeout(240)]


@pytest.fixture(autouse=True)
def _without_coverage() -> Iterator[None]:
    """Coverage tracing would cost half as much again; these runs add no lines.

    Every measurement running is paused: an xdist worker has two (pytest-cov
    starts one early and one for the worker), and stopping only the latest
    resumes the other.  (pytest-cov's ``no_cover`` marker fails under ``--no-cov``.)
    """
    coverage = sys.modules.get("coverage")
    paused: list[Any] = []
    while coverage is not None and (current := coverage.Coverage.current()) is not None:
        current.stop()
        assert coverage.Coverage.current() is not current
        paused.append(current)
    try:
        yield
    finally:
        for measurement in reversed(paused):
            measurement.start()


@pytest.fixture(autouse=True)
def _fewer_collections() -> Iterator[None]:
    """Rarer cyclic garbage collections: the checks keep all 20,000 futures and their
    answers alive, and each full collection walks them all (~2,000 collections, 3 s of
    CPU on two cores).  Nothing here waits on a collection: sockets and threads are
    given back by reference counting and close(), which the checks assert.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


REQUESTS = 20_000
WORKERS = 128
READ_TIMEOUT = 0.5  # what a ``hang`` costs a worker
MAX_REDIRECTS = 3  # what a ``loop`` costs: four exchanges
BOUND = 150.0  # seconds a run may take, far above what it needs


def _session() -> FuturesSession:
    session = FuturesSession(max_workers=WORKERS, timeout=(LONG, READ_TIMEOUT))
    session.max_redirects = MAX_REDIRECTS
    # No proxy or netrc look-ups from the environment: they cost more CPU per
    # request than the request itself on this two-core machine.
    session.trust_env = False
    return session


def _result(future: Future[requests.Response]) -> int | type[Exception]:
    exc = future.exception(timeout=0)
    if exc is not None:
        return type(exc)
    return future.result(timeout=0).status_code


def _check(faults: FaultServer, kinds: list[str], seen: Counter[tuple[str, object]]) -> None:
    """Each request got its fault's outcome; responses match what was answered."""
    expected = Counter((kind, OUTCOMES[kind]) for kind in kinds)
    assert seen == expected
    stats = faults.stats()
    per_fault = REQUESTS // 20
    answered = {kind: count for (kind, result), count in seen.items() if isinstance(result, int)}
    assert {k: v for k, v in stats["answered"].items() if k != "loop"} == answered
    assert stats["answered"]["loop"] == per_fault * (MAX_REDIRECTS + 1)
    assert stats["received"]["hang"] == per_fault
    assert sum(answered.values()) == REQUESTS - per_fault * (len(FAULTS) - 3)


def test_20000_requests_with_faults_lose_nothing(faults: FaultServer) -> None:
    kinds = plan(SEED, REQUESTS)
    calls: Counter[int] = Counter()
    lock = threading.Lock()

    def count(index: int) -> object:
        def done(_: object) -> None:
            with lock:
                calls[index] += 1

        return done

    start = time.monotonic()
    with _session() as session:
        futures = []
        for index, kind in enumerate(kinds):
            future = session.get(f"{faults.url}/{kind}/{index}")
            future.add_done_callback(count(index))
            futures.append(future)
        not_done = wait(futures, timeout=BOUND).not_done
        elapsed = time.monotonic() - start
        assert not not_done
    assert elapsed < BOUND
    assert calls == Counter(range(REQUESTS))  # each future resolved exactly once
    assert not worker_threads()
    _check(faults, kinds, Counter(zip(kinds, map(_result, futures), strict=True)))


def test_20000_requests_with_faults_through_map(faults: FaultServer) -> None:
    kinds = plan(SEED + 1, REQUESTS)
    urls = {f"{faults.url}/{kind}/{index}": kind for index, kind in enumerate(kinds)}

    def items() -> Iterator[str]:
        yield from urls

    seen: Counter[tuple[str, object]] = Counter()
    yielded: Counter[str] = Counter()
    start = time.monotonic()
    with _session() as session:
        for url, future in session.map(items(), window=4 * WORKERS, ordered=False):
            assert future.done()
            yielded[url] += 1
            seen[urls[url], _result(future)] += 1
            assert time.monotonic() - start < BOUND
    assert set(yielded.values()) == {1} and len(yielded) == REQUESTS
    assert not worker_threads()
    _check(faults, kinds, seen)
