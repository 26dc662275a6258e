from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from requests_futures import Future, FuturesSession

from .conftest import LONG
from .server import LoopbackServer


def test_get_returns_a_future_of_the_response(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        future = session.get(server.url + "/echo?x=1")
        assert isinstance(future, Future)
        response = future.result(timeout=LONG)
    assert isinstance(response, requests.Response)
    assert response.json()["query"] == {"x": ["1"]}


def test_default_executor_has_two_workers() -> None:
    with FuturesSession() as session:
        assert isinstance(session.executor, ThreadPoolExecutor)
        assert session.executor._max_workers == 2


def test_eight_slow_requests_overlap(server: LoopbackServer) -> None:
    delay = 0.3
    with FuturesSession(max_workers=8) as session:
        start = time.monotonic()
        futures = [session.get(f"{server.url}/delay?ms={int(delay * 1000)}") for _ in range(8)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
        elapsed = time.monotonic() - start
    assert elapsed < 8 * delay / 2
    assert server.counters.max_in_flight == 8
