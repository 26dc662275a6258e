"""The session's default timeout against a server that never answers."""

from __future__ import annotations

import math
import time

import pytest
import requests

from requests_futures import FuturesSession

from ..conftest import LONG, SHORT
from ..faults import FaultServer


def _timed_out(future: object) -> bool:
    exc = future.exception(timeout=LONG)  # type: ignore[attr-defined]
    return isinstance(exc, requests.ReadTimeout)


@pytest.mark.waits
def test_the_default_timeout_frees_workers_held_by_a_hanging_server(
    faults: FaultServer,
) -> None:
    workers, hung = 8, 32
    with FuturesSession(max_workers=workers, timeout=SHORT) as session:
        start = time.monotonic()
        futures = [session.get(f"{faults.url}/hang/{n}") for n in range(hung)]
        assert all(_timed_out(f) for f in futures)
        elapsed = time.monotonic() - start
        # Then the same workers serve other requests at once.
        assert session.get(f"{faults.url}/ok/1").result(timeout=LONG).status_code == 200
    assert elapsed < hung / workers * SHORT + LONG
    assert faults.stats()["received"]["hang"] == hung


@pytest.mark.waits
def test_the_default_timeout_applies_to_send_map_and_a_supplied_session(
    faults: FaultServer,
) -> None:
    url = f"{faults.url}/hang/1"
    with FuturesSession(timeout=SHORT) as session:
        assert _timed_out(session.send(session.prepare_request(requests.Request("GET", url))))
        ((_, future),) = list(session.map([url]))
        assert _timed_out(future)
    with requests.Session() as plain, FuturesSession(session=plain, timeout=SHORT) as session:
        assert _timed_out(session.get(url))
        assert _timed_out(session.send(plain.prepare_request(requests.Request("GET", url))))


@pytest.mark.waits
def test_a_per_call_timeout_wins_either_way(faults: FaultServer) -> None:
    with FuturesSession(timeout=LONG) as session:
        start = time.monotonic()
        assert _timed_out(session.get(f"{faults.url}/hang/1", timeout=SHORT))
        assert time.monotonic() - start < LONG
    slow = f"{faults.url}/delay/1?ms={int(SHORT * 2000)}"
    with FuturesSession(timeout=SHORT) as session:
        assert session.get(slow, timeout=LONG).result(timeout=LONG * 2).status_code == 200
        assert _timed_out(session.get(slow))


@pytest.mark.parametrize(
    "timeout", [math.nan, math.inf, 1e300, 10**30, -1, 0, (1, math.nan), (math.inf, None)]
)
def test_a_timeout_no_request_could_use_is_refused_at_construction(timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout must be None, a positive number"):
        FuturesSession(timeout=timeout)  # type: ignore[arg-type]
