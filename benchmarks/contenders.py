"""The clients under test, each run in a fresh process.

A contender is a function ``(job) -> None`` that makes ``job.n`` requests for
``job.url`` with at most ``job.c`` in flight, checks every response and counts
it in ``job.tally``.  It is registered with :func:`contender` under a short
name, a label for the tables and the peer package it needs (``None`` for
``requests`` and this repository's ``requests_futures``).

Each peer is given its best ordinary configuration: one shared session or
client per run, its connection pool sized to the concurrency.

The process entry point (``python -m benchmarks.contenders SPEC``) imports
what the contender needs, then times only the requests, and prints one JSON
line: wall time, responses, bytes, peak RSS before and after, and how many
"Connection pool is full" warnings urllib3 logged.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from ._system import raise_fd_limit

#: Folder (under the repository, git-ignored) where the suite installs the peers.
CACHE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".bench-cache")


@dataclass
class Tally:
    responses: int = 0
    bytes: int = 0
    bad: list[str] = field(default_factory=list)

    def check(self, status: int, size: int, expected: int) -> None:
        self.responses += 1
        self.bytes += size
        if (status != 200 or size != expected) and len(self.bad) < 5:
            self.bad.append(f"status {status}, {size} bytes (expected 200, {expected})")


@dataclass
class Job:
    url: str
    n: int
    c: int
    size: int  # expected body length
    #: The server's main ports as base URLs: distinct origins that answer alike
    #: (``url`` is on the first).
    origins: list[str] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    state: Any = None  # what the contender's setup made, if it has one
    #: Measures of the contender's own, added to the run's (e.g. ``asleep``).
    extra: dict[str, float] = field(default_factory=dict)
    #: How many of ``origins`` :meth:`urls` goes round-robin over (1: ``url`` only).
    spread: int = 1

    def urls(self) -> Iterator[str]:
        """``url`` ``n`` times, or its path on ``spread`` origins in turn."""
        if self.spread <= 1:
            return (self.url for _ in range(self.n))
        path = self.url[len(self.origins[0]) :]
        bases = self.origins[: self.spread]
        return (bases[i % len(bases)] + path for i in range(self.n))

    def on(self, origin: int, path: str) -> str:
        """``path`` on the server's main port number ``origin``."""
        return self.origins[origin] + path


@dataclass
class Contender:
    name: str
    label: str
    peer: str | None  # key in PEERS, or None when nothing extra is needed
    run: Callable[[Job], None]
    #: Entered before the clock starts and left after it stops; its value is
    #: ``job.state`` (pools, clusters: what a long-running program starts once).
    setup: Callable[[Job], AbstractContextManager[Any]] | None = None
    #: A program the contender runs (``curl``): "missing" where it is not on PATH.
    program: str | None = None


#: Peer packages: key -> (pip requirement, import name).  Each is installed
#: with its dependencies into its own folder, ``.bench-cache/KEY``, which goes
#: first on ``sys.path`` in that peer's processes only: the published
#: requests-futures has our import name, and niquests replaces ``urllib3``
#: with its fork wherever it is installed.
PEERS: dict[str, tuple[str, str]] = {
    "rf110": ("requests-futures==1.1.0", "requests_futures"),
    "grequests": ("grequests", "grequests"),
    "httpx": ("httpx", "httpx"),
    "aiohttp": ("aiohttp", "aiohttp"),
    "niquests": ("niquests", "niquests"),
    "dask": ("distributed", "distributed"),  # also this project's dask extra
    "ratelimiter": ("requests-ratelimiter", "requests_ratelimiter"),
}


#: No request waits longer than this (s): the runner stops a run before.
RUN_TIMEOUT = 300.0


def peer_folder(peer: str) -> str:
    return os.path.join(CACHE, peer)


RF110_TARGET = peer_folder("rf110")

CONTENDERS: dict[str, Contender] = {}


def contender(
    name: str,
    label: str,
    peer: str | None = None,
    setup: Callable[[Job], AbstractContextManager[Any]] | None = None,
    program: str | None = None,
) -> Callable[..., Any]:
    def register(run: Callable[[Job], None]) -> Callable[[Job], None]:
        CONTENDERS[name] = Contender(name, label, peer, run, setup, program)
        return run

    return register


# --- requests and hand-rolled pools -------------------------------------------------------


def _requests_session(pool: int) -> Any:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    if pool > 10:
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool)
        session.mount("http://", adapter)
    return session


@contender("sequential", "requests.Session, sequential")
def _sequential(job: Job) -> None:
    session = _requests_session(1)
    check = job.tally.check
    for url in job.urls():
        response = session.get(url)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("threadpool", "ThreadPoolExecutor + Session")
def _threadpool(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    session = _requests_session(job.c)
    check = job.tally.check
    with ThreadPoolExecutor(job.c) as pool:
        for response in pool.map(session.get, job.urls()):
            check(response.status_code, len(response.content), job.size)
    session.close()


# --- this repository's FuturesSession -----------------------------------------------------


def _ours() -> Any:
    import requests_futures

    if os.path.abspath(requests_futures.__file__).startswith(CACHE):
        raise RuntimeError("imported the published requests-futures, not this repository's")
    from requests_futures.sessions import FuturesSession

    return FuturesSession


@contender("futures", "FuturesSession")
def _futures(job: Job) -> None:
    session = _ours()(max_workers=job.c)
    check = job.tally.check
    futures = [session.get(url) for url in job.urls()]
    for future in futures:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("futures-deadline", "FuturesSession, deadline= on every request")
def _futures_deadline(job: Job) -> None:
    # What a deadline costs a request that meets it: arming it, the wrapper in
    # the worker, disarming (issue 22's Table B target: CPU/request within 5 %).
    session = _ours()(max_workers=job.c)
    check = job.tally.check
    futures = [session.get(url, deadline=60) for url in job.urls()]
    for future in futures:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("futures-no-context", "FuturesSession, no context capture (for its cost)")
def _futures_no_context(job: Job) -> None:
    # The plain pool path without the copy of the caller's context each request
    # takes at the call (issue 21): what "futures" costs more is that copy.
    import requests_futures.sessions as sessions

    class AsIs:
        __slots__ = ()

        def __call__(self, fn: Callable[..., Any], /, *args: Any) -> Any:
            return fn(*args)

    sessions.InCallerContext = AsIs  # type: ignore[assignment, misc]
    _futures(job)


def _hot(job: Job, coalesce: bool) -> None:
    session = _ours()(max_workers=job.c, coalesce=coalesce)
    check = job.tally.check
    futures = [session.get(f"{job.url}&hot={n % HOT_URLS}") for n in range(job.n)]
    for future in futures:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


#: How many distinct URLs the calls of scenario K spread over.
HOT_URLS = 10


@contender("futures-hot", f"FuturesSession, {HOT_URLS} hot URLs")
def _futures_hot(job: Job) -> None:
    _hot(job, coalesce=False)


@contender("futures-hot-coalesce", f"FuturesSession(coalesce=True), {HOT_URLS} hot URLs")
def _futures_hot_coalesce(job: Job) -> None:
    _hot(job, coalesce=True)


@contender("futures-executor", "FuturesSession, supplied executor")
def _futures_executor(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(job.c) as pool:
        session = _ours()(executor=pool)
        check = job.tally.check
        futures = [session.get(url) for url in job.urls()]
        for future in futures:
            response = future.result(timeout=120)
            check(response.status_code, len(response.content), job.size)
        session.close()


@contender("futures-map", "FuturesSession.map")
def _futures_map(job: Job) -> None:
    session = _ours()(max_workers=job.c)
    check = job.tally.check
    for _, future in session.map(job.urls()):
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("futures-await", "await FuturesSession futures")
def _futures_await(job: Job) -> None:
    import asyncio

    session = _ours()(max_workers=job.c)
    check = job.tally.check

    async def main() -> None:
        for response in await asyncio.gather(*(session.get(url) for url in job.urls())):
            check(response.status_code, len(response.content), job.size)

    asyncio.run(main())
    session.close()


# --- requests-futures 1.1.0 ---------------------------------------------------------------


def _published() -> Any:
    import requests_futures

    where = os.path.abspath(requests_futures.__file__)
    if requests_futures.__version__ != "1.1.0" or not where.startswith(RF110_TARGET):
        raise RuntimeError(f"expected requests-futures 1.1.0 from {RF110_TARGET}, got {where}")
    from requests_futures.sessions import FuturesSession

    return FuturesSession


@contender("rf110", "requests-futures 1.1.0", peer="rf110")
def _rf110(job: Job) -> None:
    session = _published()(max_workers=job.c)
    check = job.tally.check
    futures = [session.get(url) for url in job.urls()]
    for future in futures:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("rf110-executor", "requests-futures 1.1.0, supplied executor", peer="rf110")
def _rf110_executor(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(job.c) as pool:
        session = _published()(executor=pool)
        check = job.tally.check
        futures = [session.get(url) for url in job.urls()]
        for future in futures:
            response = future.result(timeout=120)
            check(response.status_code, len(response.content), job.size)
        session.close()


# --- other peers --------------------------------------------------------------------------


@contender("grequests", "grequests (gevent)", peer="grequests")
def _grequests(job: Job) -> None:
    import grequests  # monkey-patches the standard library: its own process only

    session = _requests_session(job.c)
    check = job.tally.check
    requests_ = (grequests.get(url, session=session) for url in job.urls())

    def failed(request: Any, exc: BaseException) -> None:
        if len(job.tally.bad) < 5:
            job.tally.bad.append(repr(exc))

    for response in grequests.imap(requests_, size=job.c, exception_handler=failed):
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("httpx-threads", "httpx.Client + threads", peer="httpx")
def _httpx_threads(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    limits = httpx.Limits(max_connections=job.c, max_keepalive_connections=job.c)
    check = job.tally.check
    # No 5 s default timeout: the other clients wait as long as it takes.
    with httpx.Client(limits=limits, timeout=RUN_TIMEOUT) as client:
        if job.c == 1:
            for url in job.urls():
                response = client.get(url)
                check(response.status_code, len(response.content), job.size)
            return
        with ThreadPoolExecutor(job.c) as pool:
            for response in pool.map(client.get, job.urls()):
                check(response.status_code, len(response.content), job.size)


def _async_workers(job: Job, fetch: Callable[[str], Any]) -> Any:
    """A coroutine running ``job.c`` workers that share the job's URLs."""
    import asyncio

    urls = job.urls()

    async def worker() -> None:
        for url in urls:
            await fetch(url)

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(job.c)))

    return main()


@contender("httpx-async", "httpx.AsyncClient", peer="httpx")
def _httpx_async(job: Job) -> None:
    import asyncio

    import httpx

    check = job.tally.check

    async def main() -> None:
        limits = httpx.Limits(max_connections=job.c, max_keepalive_connections=job.c)
        async with httpx.AsyncClient(limits=limits, timeout=RUN_TIMEOUT) as client:

            async def fetch(url: str) -> None:
                response = await client.get(url)
                check(response.status_code, len(response.content), job.size)

            await _async_workers(job, fetch)

    asyncio.run(main())


@contender("aiohttp", "aiohttp", peer="aiohttp")
def _aiohttp(job: Job) -> None:
    import asyncio

    import aiohttp

    check = job.tally.check

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=job.c)
        async with aiohttp.ClientSession(connector=connector) as client:

            async def fetch(url: str) -> None:
                async with client.get(url) as response:
                    body = await response.read()
                    check(response.status, len(body), job.size)

            await _async_workers(job, fetch)

    asyncio.run(main())


@contender("niquests-async", "niquests.AsyncSession", peer="niquests")
def _niquests_async(job: Job) -> None:
    import asyncio

    import niquests

    check = job.tally.check

    async def main() -> None:
        async with niquests.AsyncSession(pool_connections=1, pool_maxsize=job.c) as client:

            async def fetch(url: str) -> None:
                response = await client.get(url)
                check(response.status_code, len(response.content or b""), job.size)

            await _async_workers(job, fetch)

    asyncio.run(main())


# --- memory workloads (scenario E) --------------------------------------------------------


@contender("futures-hold", "FuturesSession, all submitted first")
def _futures_hold(job: Job) -> None:
    _hold(_ours()(max_workers=job.c), job)


@contender("rf110-hold", "requests-futures 1.1.0, all submitted first", peer="rf110")
def _rf110_hold(job: Job) -> None:
    _hold(_published()(max_workers=job.c), job)


def _hold(session: Any, job: Job) -> None:
    """Submit every request, wait for all, and only then read the results."""
    from concurrent.futures import wait

    futures = [session.get(url) for url in job.urls()]
    wait(futures, timeout=600)
    _rss.peak()  # every future holds its finished response now
    check = job.tally.check
    for future in futures:
        response = future.result(timeout=1)
        check(response.status_code, len(response.content), job.size)
    session.close()


@contender("threadpool-map", "ThreadPoolExecutor.map + Session")
def _threadpool_map(job: Job) -> None:
    _threadpool(job)


@contender("grequests-imap", "grequests.imap", peer="grequests")
def _grequests_imap(job: Job) -> None:
    _grequests(job)


# --- scale-out: a CPU-heavy background_callback (scenario F) -----------------------------


def summarise(session: Any, response: Any) -> tuple[int, int, float]:
    """The callback: parse the JSON body and add up a field, in Python.

    Module level, so that worker processes and Dask workers can import it.
    Only the status, the body's length and the total travel back.
    """
    total = 0.0
    for record in response.json()["records"]:
        if "a" in record["tags"] and record["name"].startswith("item-"):
            total += record["price"] * sum(ord(c) for c in record["name"]) / 1000
    return response.status_code, len(response.content), total


def _summarised(job: Job) -> None:
    session = job.state
    check = job.tally.check
    futures = [session.get(url, background_callback=summarise) for url in job.urls()]
    for future in futures:
        status, size, _ = future.result(timeout=120)
        check(status, size, job.size)


@contextmanager
def _warm(executor: Any, job: Job) -> Iterator[Any]:
    """A FuturesSession on ``executor``, every worker started and connected."""
    with _ours()(executor=executor, timeout=60) as session:
        for future in [session.get(job.url) for _ in range(2 * job.c)]:
            future.result(timeout=120)
        yield session


@contextmanager
def _thread_pool(job: Job) -> Iterator[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(job.c) as pool, _warm(pool, job) as session:
        yield session


@contextmanager
def _process_pool(job: Job) -> Iterator[Any]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(job.c, mp_context=spawn) as pool, _warm(pool, job) as session:
        yield session


@contextmanager
def _local_cluster(job: Job) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=job.c,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
        _warm(client.get_executor(), job) as session,
    ):
        yield session


@contender("futures-cpu-threads", "FuturesSession, C threads", setup=_thread_pool)
def _futures_cpu_threads(job: Job) -> None:
    _summarised(job)


@contender("futures-cpu-processes", "FuturesSession, C processes", setup=_process_pool)
def _futures_cpu_processes(job: Job) -> None:
    _summarised(job)


@contender(
    "futures-cpu-dask", "FuturesSession, Dask LocalCluster of C", peer="dask", setup=_local_cluster
)
def _futures_cpu_dask(job: Job) -> None:
    _summarised(job)


# --- polite: a rate-limited host, a 429 storm, the scheduler's cost (scenario G) ----------

#: G1: the first ``n // HOL_SHARE`` requests go to host A (the server's first
#: port), which serves HOL_RATE requests a second and answers 429 +
#: ``Retry-After`` to the rest; the others then go to host B (its second port).
HOL_SHARE = 13
HOL_RATE = 2
#: G2: the server answers 429 + ``Retry-After: 1`` to the first request for
#: every STORM_EVERY-th id.
STORM_EVERY = 25
#: The retry policy of ``FuturesSession(retries=3)``, for the clients that
#: mount it on their adapter instead.
BULK_RETRY = {
    "total": 3,
    "backoff_factor": 0.5,
    "status_forcelist": {429, 500, 502, 503, 504},
    "respect_retry_after_header": True,
    "raise_on_status": False,
}


class _SleepMeter:
    """Seconds spent in ``time.sleep`` by every thread but the main one.

    Installed over ``time.sleep`` and over each loaded module's own ``sleep``
    bound to it (``from time import sleep``, as pyrate-limiter does), so the
    workers' sleeping is measured the same way whichever client sleeps.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[_SleepMeter]:
        original = time.sleep
        main = threading.main_thread()

        def sleep(seconds: float) -> None:
            if threading.current_thread() is main:
                original(seconds)
                return
            start = time.perf_counter()
            try:
                original(seconds)
            finally:
                with self._lock:
                    self.seconds += time.perf_counter() - start

        modules = [m for m in list(sys.modules.values()) if vars(m).get("sleep", None) is original]
        for module in modules:
            module.sleep = sleep  # type: ignore[attr-defined]
        try:
            yield self
        finally:
            for module in modules:
                module.sleep = original  # type: ignore[attr-defined]


@contextmanager
def _metered(job: Job) -> Iterator[_SleepMeter]:
    with _SleepMeter().installed() as meter:
        yield meter


def polite(name: str, label: str, peer: str | None = None) -> Callable[..., Any]:
    """Register a scenario G contender: its workers' sleep is measured."""

    def register(run: Callable[[Job], None]) -> Callable[[Job], None]:
        def metered(job: Job) -> None:
            run(job)
            job.extra["asleep"] = job.state.seconds

        contender(name, label, peer, setup=_metered)(metered)
        return run

    return register


def _hol_urls(job: Job) -> tuple[list[str], list[str]]:
    """G1's requests: host A's, host B's."""
    a = job.n // HOL_SHARE
    path = job.url[len(job.origins[0]) :]
    return [job.on(0, f"/limited?per_s={HOL_RATE}")] * a, [job.on(1, path)] * (job.n - a)


def _head_of_line(job: Job, submit: Callable[[str], Any]) -> None:
    """Host A's requests first, then host B's; ``b_elapsed``: until B's are done."""
    from concurrent.futures import wait

    host_a, host_b = _hol_urls(job)
    start = time.perf_counter()
    futures_a = [submit(url) for url in host_a]
    futures_b = [submit(url) for url in host_b]
    wait(futures_b, timeout=RUN_TIMEOUT)
    job.extra["b_elapsed"] = time.perf_counter() - start
    check = job.tally.check
    for future in futures_b:
        response = future.result(timeout=RUN_TIMEOUT)
        check(response.status_code, len(response.content), job.size)
    for future in futures_a:
        response = future.result(timeout=RUN_TIMEOUT)
        check(response.status_code, len(response.content), 2)


def _retrying_session(job: Job, retry: Any) -> Any:
    """A requests.Session whose adapter retries as ``retry`` says, pool sized to C."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=job.c, max_retries=retry)
    session.mount("http://", adapter)
    return session


@polite("futures-polite-hol", "FuturesSession, host A's rate set")
def _polite_hol_futures(job: Job) -> None:
    host_a = job.origins[0]
    session = _ours()(max_workers=job.c, retries=3, host_limits={host_a: {"rate": HOL_RATE}})
    _head_of_line(job, session.get)
    session.close()


@polite(
    "ratelimiter-hol",
    "requests-ratelimiter on host A + ThreadPoolExecutor",
    peer="ratelimiter",
)
def _polite_hol_limiter(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from requests_ratelimiter import LimiterAdapter

    session = _requests_session(job.c)
    # One request per 1 / HOL_RATE s, evenly spaced as the server asks (the
    # default burst of one second would let HOL_RATE start at once).
    adapter = LimiterAdapter(per_second=HOL_RATE, burst=1 / HOL_RATE, pool_maxsize=job.c)
    session.mount(job.origins[0] + "/", adapter)
    with ThreadPoolExecutor(job.c) as pool:
        _head_of_line(job, lambda url: pool.submit(session.get, url))
    session.close()


@polite("retry-hol", "urllib3 Retry on the adapter + ThreadPoolExecutor")
def _polite_hol_retry(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from urllib3.util import Retry

    # Enough retries for the last of host A's requests, each waiting its turn.
    session = _retrying_session(job, Retry(**{**BULK_RETRY, "total": 4 * job.n}))
    with ThreadPoolExecutor(job.c) as pool:
        _head_of_line(job, lambda url: pool.submit(session.get, url))
    session.close()


def _storm(job: Job, submit: Callable[[str], Any]) -> None:
    """Ids 0 to n - 1: the server refuses every STORM_EVERY-th once."""
    urls = [job.on(0, f"/storm?id={i}&every={STORM_EVERY}") for i in range(job.n)]
    check = job.tally.check
    for future in [submit(url) for url in urls]:
        response = future.result(timeout=RUN_TIMEOUT)
        check(response.status_code, len(response.content), job.size)


@polite("futures-polite-storm", "FuturesSession(retries=3)")
def _polite_storm_futures(job: Job) -> None:
    session = _ours()(max_workers=job.c, retries=3)
    _storm(job, session.get)
    session.close()


@polite("retry-storm", "urllib3 Retry as retries=3, on the adapter + ThreadPoolExecutor")
def _polite_storm_retry(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from urllib3.util import Retry

    session = _retrying_session(job, Retry(**BULK_RETRY))
    with ThreadPoolExecutor(job.c) as pool:
        _storm(job, lambda url: pool.submit(session.get, url))
    session.close()


def _all_futures(job: Job, session: Any) -> None:
    check = job.tally.check
    for future in [session.get(url) for url in job.urls()]:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


@polite("futures-polite-off", "FuturesSession, no limits")
def _polite_off_futures(job: Job) -> None:
    _all_futures(job, _ours()(max_workers=job.c))


@polite("futures-polite-idle", "FuturesSession, per_host=C")
def _polite_idle_futures(job: Job) -> None:
    _all_futures(job, _ours()(max_workers=job.c, per_host=job.c))


@polite("futures-polite-all", "FuturesSession, per_host=C, rate=1e6, retries=3")
def _polite_all_futures(job: Job) -> None:
    _all_futures(job, _ours()(max_workers=job.c, per_host=job.c, rate=1e6, retries=3))


# --- scenario H: files saved to disk ------------------------------------------------------

#: Bytes read and written at a time by the hand-rolled writer (what our CLI read
#: until it read 1 MiB at a time; the baseline of target L3 is kept as it was).
SAVE_CHUNK = 64 * 1024


@contextmanager
def _download_folder(job: Job) -> Iterator[str]:
    """An empty folder for the run's files, removed once the clock has stopped."""
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="rf-bench-download-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _file_urls(job: Job) -> list[str]:
    """``job.n`` distinct URLs of the same body (the query tells them apart)."""
    return [f"{job.url}&file={i}" for i in range(job.n)]


def _check_files(job: Job) -> None:
    """Count each file saved as a response of its size: the run must leave ``job.n``."""
    folder: str = job.state
    for name in os.listdir(folder):
        job.tally.check(200, os.path.getsize(os.path.join(folder, name)), job.size)


@contextmanager
def _cli_download_folder(job: Job) -> Iterator[str]:
    """The folder, and the command's module imported before the clock starts."""
    _ours()
    import requests_futures._cli  # noqa: F401 - imported, as the peers' modules are

    with _download_folder(job) as folder:
        yield folder


@contender("cli-save", "requests-futures fetch --save", setup=_cli_download_folder)
def _cli_save(job: Job) -> None:
    from requests_futures._cli import main

    argv = ["fetch", "--no-progress", "-w", str(job.c), "-O", job.state, "-o", os.devnull]
    status = main([*argv, *_file_urls(job)])
    if status != 0:
        raise RuntimeError(f"requests-futures fetch exited with status {status}")
    _check_files(job)


@contender(
    "curl-parallel", "curl --parallel --parallel-max 8", setup=_download_folder, program="curl"
)
def _curl_parallel(job: Job) -> None:
    import subprocess

    command = ["curl", "--silent", "--show-error", "--fail", "--parallel"]
    command += ["--parallel-max", str(job.c)]
    for i, url in enumerate(_file_urls(job)):
        command += ["-o", os.path.join(job.state, f"file{i}"), url]
    subprocess.run(command, check=True)
    _check_files(job)
    # The memory and the CPU time are curl's: all of them, as it starts from nothing.
    curl = resource.getrusage(resource.RUSAGE_CHILDREN)
    job.extra.update(rss_base_kib=0, rss_peak_kib=curl.ru_maxrss)


@contender("threadpool-save", "ThreadPoolExecutor + requests iter_content", setup=_download_folder)
def _threadpool_save(job: Job) -> None:
    from concurrent.futures import ThreadPoolExecutor

    session = _requests_session(job.c)

    def save(numbered: tuple[int, str]) -> None:
        number, url = numbered
        with session.get(url, stream=True) as response:
            response.raise_for_status()
            with open(os.path.join(job.state, f"file{number}"), "wb") as file:
                for chunk in response.iter_content(SAVE_CHUNK):
                    file.write(chunk)

    with ThreadPoolExecutor(job.c) as pool:
        list(pool.map(save, enumerate(_file_urls(job))))
    session.close()
    _check_files(job)


# --- scenario I: adaptive per-host concurrency --------------------------------------------

#: I: the per-host ceiling the adaptive session is given, and the workers of
#: every contender (a user who does not know the host's capacity).
CEILING = 16
#: I: the fixed ``per_host`` values measured against it.
FIXED_PER_HOST = (3, 4, 8, 16)
#: I: requests-ratelimiter's rate: a round guess at a host one does not know.
GUESSED_RATE = 50
#: I: every client retries an overload answer up to this many times.
CAPACITY_RETRIES = 5


def _capacity_run(job: Job, submit: Callable[[str], Any]) -> None:
    """``job.n`` GETs of ``job.url``; ``failed``: those still ``429`` after the retries."""
    failed = 0
    check = job.tally.check
    for future in [submit(url) for url in job.urls()]:
        response = future.result(timeout=RUN_TIMEOUT)
        if response.status_code == 429:
            failed += 1
            job.tally.responses += 1
        else:
            check(response.status_code, len(response.content), job.size)
    job.extra["failed"] = failed


def _capacity_futures(job: Job, **settings: Any) -> None:
    session = _ours()(max_workers=CEILING, retries=CAPACITY_RETRIES, **settings)
    _capacity_run(job, session.get)
    (stats,) = session.host_stats().values()
    job.extra["limit"] = stats.limit
    session.close()


@contender("futures-adaptive", f"FuturesSession, per_host={CEILING}, adaptive=True")
def _adaptive_futures(job: Job) -> None:
    _capacity_futures(job, per_host=CEILING, adaptive=True)


def _register_fixed(per_host: int) -> None:
    @contender(f"futures-per-host-{per_host}", f"FuturesSession, per_host={per_host}")
    def run(job: Job) -> None:
        _capacity_futures(job, per_host=per_host)


for _per_host in FIXED_PER_HOST:
    _register_fixed(_per_host)


def _capacity_retry() -> Any:
    from urllib3.util import Retry

    return Retry(**{**BULK_RETRY, "total": CAPACITY_RETRIES})


def _capacity_threads(job: Job, session: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(CEILING) as pool:
        _capacity_run(job, lambda url: pool.submit(session.get, url))
    session.close()


@contender("retry-capacity", f"urllib3 Retry on the adapter + {CEILING} threads")
def _capacity_retry_adapter(job: Job) -> None:
    _capacity_threads(job, _retrying_session(job, _capacity_retry()))


@contender(
    "ratelimiter-capacity",
    f"requests-ratelimiter at {GUESSED_RATE}/s + Retry + {CEILING} threads",
    peer="ratelimiter",
)
def _capacity_ratelimiter(job: Job) -> None:
    from requests_ratelimiter import LimiterAdapter

    session = _requests_session(CEILING)
    adapter = LimiterAdapter(
        per_second=GUESSED_RATE, max_retries=_capacity_retry(), pool_maxsize=CEILING
    )
    session.mount("http://", adapter)
    _capacity_threads(job, session)


# --- scenario J: many origins -------------------------------------------------------------


@contender("futures-one-origin", "FuturesSession, the same job on one origin")
def _futures_one_origin(job: Job) -> None:
    job.spread = 1
    _futures(job)


@contender("futures-crawl-per-host-2", "FuturesSession, per_host=2")
def _futures_crawl_per_host(job: Job) -> None:
    session = _ours()(max_workers=job.c, per_host=2)
    check = job.tally.check
    futures = [session.get(url) for url in job.urls()]
    for future in futures:
        response = future.result(timeout=120)
        check(response.status_code, len(response.content), job.size)
    session.close()


# --- the process entry point --------------------------------------------------------------


class _PeakRSS:
    """Peak resident set size, in KiB (``ru_maxrss`` is KiB on Linux)."""

    def __init__(self) -> None:
        self.value = 0

    def peak(self) -> int:
        self.value = max(self.value, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return self.value


_rss = _PeakRSS()


class _PoolFull(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def _prepare(name: str) -> None:
    """Import what ``name`` needs before the clock starts."""
    peer = CONTENDERS[name].peer
    if peer is None:
        _ours()
        return
    sys.path.insert(0, peer_folder(peer))
    if peer == "rf110":
        _published()
    else:
        __import__(PEERS[peer][1])


def _has(distribution: str) -> bool:
    from importlib import metadata

    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one contender on one job in this process; return its measures."""
    raise_fd_limit()
    name = spec["contender"]
    _prepare(name)
    warnings = _PoolFull()
    logging.getLogger("urllib3").addHandler(warnings)
    job = Job(spec["url"], spec["n"], spec["c"], spec["size"], spec.get("origins", []))
    job.spread = spec.get("spread", 1)
    started = ExitStack()
    setup = CONTENDERS[name].setup
    if setup is not None:
        job.state = started.enter_context(setup(job))
    import gc

    gc.collect()
    base = _rss.peak()
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu = time.process_time()
    start = time.perf_counter()
    CONTENDERS[name].run(job)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = _rss.peak()
    started.close()
    from importlib import metadata

    return {
        "versions": {
            name: metadata.version(name)
            for name in ("requests", "urllib3", "urllib3-future", "gevent")
            if _has(name)
        },
        "elapsed": elapsed,
        "cpu": cpu,
        "cpu_system": after.ru_stime - before.ru_stime,
        # Context switches: a thread giving up the CPU (voluntary: waiting for
        # a lock, the GIL or I/O) or having it taken away (involuntary).
        "switches": (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw),
        "responses": job.tally.responses,
        "bytes": job.tally.bytes,
        "bad": job.tally.bad,
        "rss_base_kib": base,
        "rss_peak_kib": peak,
        "pool_full": warnings.count,
        **job.extra,
    }


def main(argv: list[str] | None = None) -> int:
    spec = json.loads((argv if argv is not None else sys.argv[1:])[0])
    print(json.dumps(run_one(spec)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
