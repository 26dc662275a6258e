"""The fault server's own tests: each kind does what it says, reproducibly."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from requests_futures import FuturesSession

from ..conftest import LONG
from ..faults import FAULTS, KINDS, FaultServer, plan

OUTCOMES: dict[str, int | type[Exception]] = {
    "ok": 200,
    "delay": 200,
    "status500": 500,
    "status503": 503,
    "close": requests.ConnectionError,
    "reset": requests.exceptions.ChunkedEncodingError,
    "truncate": requests.exceptions.ChunkedEncodingError,
    "hang": requests.ReadTimeout,
    "loop": requests.TooManyRedirects,
}


def outcome(call: object) -> int | type[Exception]:
    """The status code of a response, or the type of the exception raised."""
    try:
        response = call()  # type: ignore[operator]
    except requests.RequestException as exc:
        return type(exc)
    assert isinstance(response, requests.Response)
    return response.status_code


def test_plan_holds_the_fraction_of_each_fault_and_is_reproducible() -> None:
    kinds = plan(1, 2000)
    assert Counter(kinds) == {**{f: 100 for f in FAULTS}, "ok": 2000 - 100 * len(FAULTS)}
    assert kinds == plan(1, 2000)
    assert kinds != plan(2, 2000)
    with pytest.raises(ValueError, match="cannot hold"):
        plan(1, 10, fraction=0.5)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_gives_its_outcome(faults: FaultServer, kind: str) -> None:
    with requests.Session() as session:
        result = outcome(lambda: session.get(f"{faults.url}/{kind}/1", timeout=(LONG, 0.3)))
    assert result == OUTCOMES[kind]
    stats = faults.stats()
    redirects = 31 if kind == "loop" else 1  # requests follows 30 redirects by default
    assert stats["received"] == {kind: redirects}
    answered = isinstance(OUTCOMES[kind], int) or kind == "loop"
    assert stats["answered"] == ({kind: redirects} if answered else {})


def test_answers_are_reproducible_per_request(faults: FaultServer) -> None:
    def body(server: FaultServer, n: int) -> bytes:
        return requests.get(f"{server.url}/ok/{n}", timeout=LONG).content

    first = body(faults, 5)
    assert body(faults, 5) == first
    assert body(faults, 6) != first
    with FaultServer(seed=faults.seed + 1) as other:
        assert body(other, 5) != first


def test_unknown_kind_is_a_404_and_not_counted(faults: FaultServer) -> None:
    assert requests.get(f"{faults.url}/nonsense/1", timeout=LONG).status_code == 404
    assert faults.stats()["received"] == {}


def test_sustains_128_concurrent_clients(faults: FaultServer) -> None:
    # Each request is held until all 128 are in the server at once (a 504
    # otherwise), so a 200 for each proves they overlapped, however loaded
    # the machine, and no fixed hold is waited out.
    with FuturesSession(max_workers=128) as session:
        futures = [session.get(f"{faults.url}/delay/{n}?together=128") for n in range(128)]
        assert [f.result(timeout=LONG * 2).status_code for f in futures] == [200] * 128
    stats = faults.stats()
    assert stats["answered"] == {"delay": 128}
    assert stats["max_open"] >= 128


def test_together_answers_504_if_the_requests_never_gather() -> None:
    with FaultServer(hang_max=0.2) as server:
        response = requests.get(f"{server.url}/delay/1?together=2", timeout=LONG)
        assert response.status_code == 504
        assert server.stats()["answered"] == {}


def _wait_for(server: FaultServer, kind: str, count: int) -> None:
    deadline = time.monotonic() + LONG
    while server.stats()["received"].get(kind, 0) < count:
        assert time.monotonic() < deadline, f"the server never saw {count} {kind}"
        time.sleep(0.01)


def test_a_hang_lets_go_on_its_own_after_hang_max() -> None:
    with FaultServer(hang_max=0.2) as server:
        start = time.monotonic()
        result = outcome(lambda: requests.get(f"{server.url}/hang/1", timeout=LONG))
        assert time.monotonic() - start < LONG
    assert result is requests.ConnectionError  # closed without an answer


def test_stopping_the_server_lets_hangs_go() -> None:
    server = FaultServer().start()
    results: list[object] = []
    client = threading.Thread(
        target=lambda: results.append(
            outcome(lambda: requests.get(f"{server.url}/hang/1", timeout=LONG * 2))
        )
    )
    client.start()
    try:
        _wait_for(server, "hang", 1)
    finally:
        server.stop()
    client.join(LONG)
    assert not client.is_alive()
    assert results == [requests.ConnectionError]
