"""FuturesSession over a Dask cluster: ``Client.get_executor()`` as the executor.

One ``LocalCluster`` of two worker processes on 127.0.0.1 serves the module.
Skipped when the ``dask`` extra (``distributed``) is not installed; CI installs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from requests_futures import Future, FuturesSession

from .conftest import LONG, threads_of_ours
from .server import LoopbackServer

distributed = pytest.importorskip(
    "distributed", reason="the dask extra is not installed: pip install 'requests-futures[dask]'"
)

WORKERS = 2
THREADS = 2


def worker_pid(session: FuturesSession, response: requests.Response) -> tuple[int, int]:
    """A background_callback, run on a Dask worker."""
    return os.getpid(), response.status_code


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(
        n_workers=WORKERS,
        threads_per_worker=THREADS,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # no fixed port (8787) to collide on
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def session(client: Any) -> Iterator[FuturesSession]:
    with FuturesSession(executor=client.get_executor(), timeout=LONG) as session:
        yield session


def test_get_runs_on_a_dask_worker(session: FuturesSession, server: LoopbackServer) -> None:
    session.headers["X-From-Parent"] = "yes"
    future = session.get(server.url + "/echo?x=1")
    assert isinstance(future, Future)
    echoed = future.result(timeout=LONG).json()
    assert echoed["query"] == {"x": ["1"]}
    assert echoed["headers"]["X-From-Parent"] == "yes"
    pid, status = session.get(server.url + "/echo", background_callback=worker_pid).result(
        timeout=LONG
    )
    assert status == 200
    assert pid != os.getpid()


def test_workers_start_no_thread_pool(session: FuturesSession, server: LoopbackServer) -> None:
    futures = [session.get(server.url, background_callback=threads_of_ours) for _ in range(8)]
    assert [f.result(timeout=LONG) for f in futures] == [[]] * 8


def test_the_readme_example(client: Any, server: LoopbackServer) -> None:
    session = FuturesSession(executor=client.get_executor())
    texts = ["one two", "three four five"]
    url = server.url + "/echo"
    futures = [
        session.post(
            url, data=text, background_callback=lambda s, r: len(r.json()["body"].split())
        )
        for text in texts
    ]
    assert sum(f.result(timeout=LONG) for f in futures) == 5
    session.close()


def test_ten_identical_gets_are_ten_requests(
    session: FuturesSession, server: LoopbackServer
) -> None:
    futures = [session.get(server.url + "/echo") for _ in range(10)]
    assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.requests == 10


def test_hundreds_of_requests_open_a_connection_per_worker_thread_at_most(
    session: FuturesSession, server: LoopbackServer
) -> None:
    futures = [session.get(f"{server.url}/echo?i={i}") for i in range(300)]
    assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.requests == 300
    # Each worker thread keeps its session: at most WORKERS * THREADS
    # connections (fewer if a thread got no request), not one per request.
    assert server.counters.connections <= WORKERS * THREADS


def test_changes_to_the_parent_session_reach_the_workers(
    session: FuturesSession, server: LoopbackServer
) -> None:
    for version in ("1", "2"):
        session.headers["X-Version"] = version
        session.auth = ("user", version)
        echoed = [
            f.result(timeout=LONG).json() for f in [session.get(server.url) for _ in range(6)]
        ]
        assert {e["headers"]["X-Version"] for e in echoed} == {version}
        basic = requests.auth._basic_auth_str("user", version)
        assert {e["headers"]["Authorization"] for e in echoed} == {basic}


def test_an_existing_session_and_a_lambda_callback_work(
    client: Any, server: LoopbackServer
) -> None:
    # Dask pickles functions by value where it must (cloudpickle): a lambda
    # that would fail with a ProcessPoolExecutor goes through.
    base = requests.Session()
    base.headers["X-Base"] = "base"
    with FuturesSession(executor=client.get_executor(), session=base, timeout=LONG) as session:
        future = session.get(
            server.url + "/echo", background_callback=lambda s, r: r.json()["headers"]["X-Base"]
        )
        assert future.result(timeout=LONG) == "base"


def test_unpicklable_input_fails_at_the_call_naming_it(
    session: FuturesSession, server: LoopbackServer, tmp_path: Any
) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(b"content")
    with (
        path.open("rb") as upload,
        pytest.raises(TypeError, match=r"^data <_io.BufferedReader.*ClientExecutor"),
    ):
        session.post(server.url + "/echo", data=upload)
    with pytest.raises(TypeError, match=r"^headers\['X-Lock'\] <unlocked"):
        session.get(server.url + "/echo", headers={"X-Lock": threading.Lock()})
    with pytest.raises(ValueError, match=r"stream=True cannot be used with ClientExecutor"):
        session.get(server.url + "/echo", stream=True)
    assert server.counters.requests == 0


def test_limits_hold_across_dask_workers(client: Any, server: LoopbackServer) -> None:
    """Scheduling happens in this process, so per_host holds across the cluster."""
    executor = client.get_executor()
    with FuturesSession(executor=executor, per_host=1, retries=1, timeout=LONG) as session:
        futures = [session.get(server.url + "/delay?ms=50") for _ in range(4)]
        futures.append(session.get(server.url + "/flaky/dask/1"))
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.max_in_flight == 1
    assert futures[-1].attempts == 2
