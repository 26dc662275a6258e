"""Many origins: their connections kept within the open-file budget, none leaked."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import requests
import urllib3

from requests_futures import FuturesSession
from requests_futures._pool_cache import (
    MAX_BUDGET,
    MIN_BUDGET,
    PoolCache,
    cache_of,
    keep_pools,
    open_file_budget,
)

from .conftest import LONG
from .server import ManyOrigins

resource = pytest.importorskip("resource")

ORIGINS = 300


@pytest.fixture(scope="module")
def _origins() -> Iterator[ManyOrigins]:
    origins = ManyOrigins(ORIGINS).start()
    yield origins
    origins.stop()


@pytest.fixture
def origins(_origins: ManyOrigins) -> Iterator[ManyOrigins]:
    """300 origins (ports) of one loopback server; counters zeroed, no connection left."""
    assert _origins.server.counters.wait_open(0, LONG)
    _origins.server.reset()
    yield _origins
    _origins.server.reset()


@pytest.fixture
def roomy_limit() -> Iterator[None]:
    """A soft open-file limit whose budget covers 300 origins (the default, on most machines)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * (ORIGINS + 100)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the hard open-file limit ({hard}) is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _crawl(session: FuturesSession, urls: list[str], rounds: int) -> None:
    futures = [session.get(f"{url}/echo") for _ in range(rounds) for url in urls]
    assert all(f.result(LONG).status_code == 200 for f in futures)


@pytest.mark.usefixtures("roomy_limit")
def test_300_origins_about_one_connection_each(origins: ManyOrigins) -> None:
    with FuturesSession(max_workers=8) as session:
        _crawl(session, origins.urls, 6)
    counters = origins.server.counters
    assert counters.requests == ORIGINS * 6
    assert counters.connections <= ORIGINS + 2 * 8


@pytest.mark.usefixtures("roomy_limit")
@pytest.mark.parametrize(
    "how", ["map", "per_host", "adaptive", "session", "rate", "retries", "threads"]
)
def test_reuse_across_origins_on_every_path(origins: ManyOrigins, how: str) -> None:
    urls = origins.urls[:60]
    options = {
        "per_host": {"per_host": 2},
        "adaptive": {"adaptive": True, "per_host": 4},
        "rate": {"rate": 100_000.0},
        "retries": {"retries": 2},
        "session": {"session": requests.Session()},
    }.get(how, {})
    with FuturesSession(max_workers=8, **options) as session:  # type: ignore[arg-type]
        if how == "map":
            items = [f"{url}/echo" for _ in range(2) for url in urls]
            assert all(f.result(LONG).status_code == 200 for _, f in session.map(items))
        else:
            _crawl(session, urls, 2)
        if session.session is not None:
            session.session.close()
    assert origins.server.counters.connections <= len(urls) + 2 * 8


def test_explicit_pool_connections_is_obeyed(origins: ManyOrigins) -> None:
    urls = origins.urls[:3]
    with FuturesSession(max_workers=1, adapter_kwargs={"pool_connections": 2}) as session:
        for _ in range(2):
            for url in urls:
                assert session.get(f"{url}/echo").result(LONG).ok
        # Round-robin over 3 origins with 2 pools kept: every request connects.
        assert origins.server.counters.connections == 6
        # ... and each pool dropped closed its connection at once.
        assert origins.server.counters.wait_open(2, LONG)


def _manager(session: requests.Session) -> urllib3.PoolManager:
    manager = session.get_adapter("http://example.invalid").poolmanager  # type: ignore[attr-defined]
    assert isinstance(manager, urllib3.PoolManager)
    return manager


def test_a_pool_handed_out_is_never_closed_under_its_user(origins: ManyOrigins) -> None:
    # urllib3 issue 1252: a worker holds a pool that is evicted before it sends.
    a, b = origins.urls[:2]
    with FuturesSession(max_workers=1, adapter_kwargs={"pool_connections": 1}) as session:
        assert session.get(f"{a}/echo").result(LONG).ok
        pool = _manager(session).connection_from_url(a)  # what a worker is handed
        assert session.get(f"{b}/echo").result(LONG).ok  # evicts it
        assert origins.server.counters.wait_open(1, LONG)  # its idle connection closed
        response = pool.urlopen("GET", "/echo")  # still works, on a new connection
        assert response.status == 200
        assert origins.server.counters.connections == 3
        # The connection went back to a retired pool, which closed it.
        assert origins.server.counters.wait_open(1, LONG)


def test_a_connection_in_use_is_closed_when_it_comes_back(origins: ManyOrigins) -> None:
    a, b = origins.urls[:2]
    with FuturesSession(max_workers=1, adapter_kwargs={"pool_connections": 1}) as session:
        streamed = session.get(f"{a}/bytes?n=100000", stream=True).result(LONG)
        assert session.get(f"{b}/echo").result(LONG).ok  # A's pool dropped, in use
        assert origins.server.counters.open == 2
        assert len(streamed.content) == 100000  # the body read: handed back, closed
        assert origins.server.counters.wait_open(1, LONG)


def test_idle_connections_are_bounded_over_all_pools(origins: ManyOrigins) -> None:
    manager = urllib3.PoolManager(num_pools=10, maxsize=4)
    cache = keep_pools(manager, pools=10, idle_limit=2)
    assert cache is not None
    held = [
        manager.request("GET", f"{url}/echo", preload_content=False)
        for url in (origins.urls[0], origins.urls[0], origins.urls[0], origins.urls[1])
    ]
    assert origins.server.counters.open == 4
    for response in held:
        response.read()
        response.release_conn()
    assert cache.idle == 2
    assert origins.server.counters.wait_open(2, LONG)
    manager.clear()
    assert cache.idle == 0
    assert origins.server.counters.wait_open(0, LONG)


def test_pools_made_before_the_cache_move_in_and_are_retired(origins: ManyOrigins) -> None:
    a, b = origins.urls[:2]
    manager = urllib3.PoolManager(num_pools=10)
    assert manager.request("GET", f"{a}/echo").status == 200
    cache = keep_pools(manager, pools=1, idle_limit=1)
    assert cache is not None and len(cache) == 1
    assert keep_pools(manager, pools=1, idle_limit=1) is cache  # kept once
    assert manager.request("GET", f"{b}/echo").status == 200  # evicts A's pool
    assert origins.server.counters.wait_open(1, LONG)
    assert cache.connections_opened() == 2
    assert list(cache) == [next(iter(cache))]
    del cache[next(iter(cache))]
    assert origins.server.counters.wait_open(0, LONG)


class _OwnQueue(queue.LifoQueue):  # type: ignore[type-arg]
    pass


class _OwnQueuePool(urllib3.HTTPConnectionPool):
    QueueCls = _OwnQueue


def test_a_pool_with_a_queue_of_its_own_has_its_idle_connections_closed(
    origins: ManyOrigins,
) -> None:
    a, b, c = origins.urls[:3]
    manager = urllib3.PoolManager()
    manager.pool_classes_by_scheme = {"http": _OwnQueuePool}
    keep_pools(manager, pools=1, idle_limit=1)
    assert manager.request("GET", f"{a}/echo").status == 200
    assert type(manager.connection_from_url(a).pool) is _OwnQueue  # left as it is
    assert manager.request("GET", f"{b}/echo").status == 200  # evicts A's pool
    assert origins.server.counters.wait_open(1, LONG)
    manager.connection_from_url(b).close()  # a closed pool: nothing left to retire
    assert manager.request("GET", f"{c}/echo").status == 200
    manager.clear()
    assert origins.server.counters.wait_open(0, LONG)


def test_a_proxy_manager_is_left_alone() -> None:
    assert keep_pools(urllib3.ProxyManager("http://127.0.0.1:9"), 5, 5) is None
    assert keep_pools(object(), 5, 5) is None


def test_close_gives_every_socket_back(origins: ManyOrigins) -> None:
    session = FuturesSession(max_workers=4)
    futures = [session.get(f"{url}/echo") for url in origins.urls[:50]]
    assert all(f.result(LONG).ok for f in futures)
    cache = cache_of(_manager(session))
    assert cache is not None and cache.connections_opened() == 50
    session.close()
    assert origins.server.counters.wait_open(0, LONG)


def test_a_supplied_session_keeps_its_pools_too() -> None:
    inner = requests.Session()
    with FuturesSession(session=inner):
        assert isinstance(_manager(inner).pools, PoolCache)


@pytest.mark.parametrize(
    ("soft", "budget"),
    [(1024, 256), (20, MIN_BUDGET), (10**6, MAX_BUDGET), (-1, MAX_BUDGET)],
)
def test_open_file_budget(monkeypatch: pytest.MonkeyPatch, soft: int, budget: int) -> None:
    soft = resource.RLIM_INFINITY if soft == -1 else soft
    monkeypatch.setattr(resource, "getrlimit", lambda _: (soft, resource.RLIM_INFINITY))
    assert open_file_budget() == budget


_CLIENT = textwrap.dedent(
    """
    import json, os, resource, sys
    from requests_futures import FuturesSession

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    urls = json.load(sys.stdin)
    peak = [0]

    def count(_future):
        peak[0] = max(peak[0], len(os.listdir("/proc/self/fd")))

    before = len(os.listdir("/proc/self/fd"))
    session = FuturesSession(max_workers=8)
    futures = [session.get(url + "/echo") for _ in range(3) for url in urls]
    for future in futures:
        future.add_done_callback(count)
    ok = sum(future.result(30).status_code == 200 for future in futures)
    session.close()
    after = len(os.listdir("/proc/self/fd"))
    print(json.dumps({"ok": ok, "peak": peak[0], "before": before, "after": after}))
    """
)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
def test_500_origins_under_256_open_files() -> None:
    origins = ManyOrigins(500).start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CLIENT],
            input=json.dumps(origins.urls),
            capture_output=True,
            text=True,
            timeout=6 * LONG,
            check=False,
        )
    finally:
        origins.stop()
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["ok"] == 1500
    assert figures["peak"] <= 128, figures
    assert figures["after"] <= figures["before"], figures


def test_copies_and_forked_sessions_keep_their_pools() -> None:
    import pickle

    inner = requests.Session()
    with FuturesSession(session=inner) as session:
        copy = pickle.loads(pickle.dumps(session))
        try:
            assert isinstance(_manager(copy).pools, PoolCache)
            assert isinstance(_manager(copy.session).pools, PoolCache)
        finally:
            copy.close()
        session._after_fork()  # what a child process made by os.fork() runs
        assert isinstance(_manager(session).pools, PoolCache)
        assert isinstance(_manager(inner).pools, PoolCache)


def test_a_dropped_cache_closes_its_sockets_at_once(origins: ManyOrigins) -> None:
    # No reference cycle, and urllib3's finalizer closes our queue's connections:
    # a session dropped unclosed gives its sockets back with it (no ResourceWarning).
    import gc
    import weakref

    manager = urllib3.PoolManager()
    cache = keep_pools(manager, pools=4, idle_limit=4)
    assert manager.request("GET", f"{origins.urls[0]}/echo").status == 200
    assert origins.server.counters.open == 1
    gc.disable()
    try:
        freed = weakref.ref(cache)
        del manager, cache
        assert freed() is None
        assert origins.server.counters.wait_open(0, LONG)
    finally:
        gc.enable()
