"""Connection pools sized for a supplied ``ThreadPoolExecutor``."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
from requests.adapters import HTTPAdapter

from requests_futures import FuturesSession

from .conftest import LONG
from .server import LoopbackServer

WORKERS = 24
ROUNDS = 3


def _pool_full_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Connection pool is full" in r.getMessage()]


def _rounds(session: FuturesSession, server: LoopbackServer, per_round: int) -> None:
    for _ in range(ROUNDS):
        # Slow enough that every request of a round holds its own connection.
        futures = [session.get(server.url + "/delay?ms=150") for _ in range(per_round)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)


def test_pools_grow_to_a_supplied_executor(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    with ThreadPoolExecutor(max_workers=WORKERS) as executor, FuturesSession(executor) as session:
        adapter = session.get_adapter(server.url)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter._pool_maxsize == WORKERS
        _rounds(session, server, WORKERS)
    assert server.counters.requests == ROUNDS * WORKERS
    assert server.counters.max_in_flight > 10  # more than requests' default pool
    # Connections are reused across rounds: one per worker, not one per request.
    assert server.counters.connections <= WORKERS + 2
    assert _pool_full_warnings(caplog) == []


def test_adapter_kwargs_still_override_the_supplied_executor_size(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    with (
        ThreadPoolExecutor(max_workers=WORKERS) as executor,
        FuturesSession(executor, adapter_kwargs={"pool_maxsize": 4}) as session,
    ):
        adapter = session.get_adapter(server.url)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter._pool_maxsize == 4
        _rounds(session, server, 8)
    # What the override asks for: a pool of 4 that 8 threads overflow.
    assert server.counters.connections > 8
    assert _pool_full_warnings(caplog)
