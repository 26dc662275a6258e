"""FuturesSession over real sockets, against the loopback test server.

Concurrency, pool sizing, redirects, refused connections, timeouts, closing
and thread safety: what ``responses`` cannot show because it bypasses the
connection pool.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed, wait
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from requests_futures import Future, FuturesSession

from .conftest import LONG, SHORT, worker_threads
from .server import LoopbackServer

POOL_FULL = "Connection pool is full, discarding connection"


def _signal(event: threading.Event) -> Callable[[requests.PreparedRequest], Any]:
    """An ``auth`` callable: sets ``event`` once the worker starts the request.

    requests calls ``auth`` while preparing the request, inside the worker, so
    this tells a test that the request is running, not queued.
    """

    def auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
        event.set()
        return request

    return auth


def _on_done(future: Future[Any]) -> threading.Event:
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    return done


# --- basics and concurrency ------------------------------------------------


def test_get_returns_a_future_of_the_response(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        future = session.get(server.url + "/echo?x=1")
        assert isinstance(future, Future)
        response = future.result(timeout=LONG)
    assert isinstance(response, requests.Response)
    assert response.json()["query"] == {"x": ["1"]}


def test_eight_slow_requests_overlap(server: LoopbackServer) -> None:
    delay = 0.3
    with FuturesSession(max_workers=8) as session:
        # Proof by events: all eight are in the server at once, held there.
        held = [session.get(f"{server.url}/hold/overlap") for _ in range(8)]
        try:
            assert server.counters.wait_in_flight(8, LONG)
        finally:
            server.release("overlap")
        assert all(f.result(timeout=LONG).status_code == 200 for f in held)
        assert server.counters.max_in_flight == 8
        # And in time, with a wide margin: far less than one after the other.
        start = time.monotonic()
        futures = [session.get(f"{server.url}/delay?ms={int(delay * 1000)}") for _ in range(8)]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
        elapsed = time.monotonic() - start
    assert elapsed < 8 * delay / 2


def test_the_call_returns_before_the_response_arrives(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        future = session.get(server.url + "/hold/slow")
        assert not future.done()
        server.release("slow")
        assert future.result(timeout=LONG).status_code == 200


# --- pool sizing -----------------------------------------------------------


def _rounds(session: FuturesSession, server: LoopbackServer, rounds: int, size: int) -> None:
    for _ in range(rounds):
        futures = [session.get(server.url + "/delay?ms=250") for _ in range(size)]
        for future in futures:
            assert future.result(timeout=LONG).status_code == 200


@pytest.mark.parametrize("supplied", ["nothing", "executor", "session"])
@pytest.mark.waits
def test_every_worker_keeps_a_pooled_connection(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture, supplied: str
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    workers = 24
    executor = ThreadPoolExecutor(workers) if supplied == "executor" else None
    own_session = requests.Session() if supplied == "session" else None
    with FuturesSession(executor=executor, max_workers=workers, session=own_session) as session:
        _rounds(session, server, rounds=3, size=workers)
    if executor is not None:
        executor.shutdown()
    if own_session is not None:
        own_session.close()
    # More requests in flight than requests' default pool of 10, so a default
    # pool would have had to discard connections.
    assert server.counters.max_in_flight > 10
    assert server.counters.requests == 3 * workers
    assert server.counters.connections <= workers
    assert POOL_FULL not in caplog.text


def test_an_undersized_pool_does_log_pool_full(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The check above can fail: with a pool of 2 the warning shows up."""
    caplog.set_level(logging.WARNING, logger="urllib3")
    workers = 12
    with FuturesSession(max_workers=workers, adapter_kwargs={"pool_maxsize": 2}) as session:
        _rounds(session, server, rounds=2, size=workers)
    assert server.counters.max_in_flight > 2
    assert POOL_FULL in caplog.text
    assert server.counters.connections > workers


def test_a_small_pool_of_a_supplied_session_grows_to_the_workers(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="urllib3")
    supplied = requests.Session()
    adapter = HTTPAdapter(pool_maxsize=2)
    supplied.mount("http://", adapter)
    with FuturesSession(max_workers=6, session=supplied) as session:
        _rounds(session, server, rounds=2, size=6)
    supplied.close()
    assert supplied.get_adapter(server.url) is adapter
    assert server.counters.max_in_flight > 2
    assert POOL_FULL not in caplog.text
    assert server.counters.connections <= 6


# --- redirects, refused connections ------------------------------------------


def test_redirects_are_followed_in_the_worker(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        response = session.get(server.url + "/redirect/3").result(timeout=LONG)
    assert response.status_code == 200
    assert response.url == server.url + "/echo"
    assert [r.status_code for r in response.history] == [302, 302, 302]
    assert [r.url for r in response.history] == [
        server.url + "/redirect/3",
        server.url + "/redirect/2",
        server.url + "/redirect/1",
    ]
    assert server.counters.paths == ["/redirect/3", "/redirect/2", "/redirect/1", "/echo"]


def test_head_does_not_follow_redirects(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        response = session.head(server.url + "/redirect/1").result(timeout=LONG)
    assert response.status_code == 302
    assert server.counters.paths == ["/redirect/1"]


def test_too_many_redirects_comes_out_of_result(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        session.max_redirects = 2
        future = session.get(server.url + "/redirect/5")
        with pytest.raises(requests.TooManyRedirects):
            future.result(timeout=LONG)


def test_connection_refused_is_a_connection_error_from_result(refused_url: str) -> None:
    calls: list[object] = []
    with FuturesSession() as session:
        future = session.get(refused_url, background_callback=lambda s, r: calls.append(r))
        with pytest.raises(requests.ConnectionError):
            future.result(timeout=LONG)
    assert calls == []


# --- timeouts ----------------------------------------------------------------


def test_default_timeout_applies(server: LoopbackServer) -> None:
    with FuturesSession(timeout=SHORT) as session:
        start = time.monotonic()
        future = session.get(server.url + "/hold/never")
        with pytest.raises(requests.ReadTimeout):
            future.result(timeout=LONG)
        assert time.monotonic() - start < LONG
        server.release("never")


def test_default_connect_read_tuple_applies(server: LoopbackServer) -> None:
    with FuturesSession(timeout=(LONG, SHORT)) as session:
        future = session.get(server.url + "/hold/never")
        with pytest.raises(requests.ReadTimeout):
            future.result(timeout=LONG)
        server.release("never")


@pytest.mark.waits
def test_per_call_timeout_wins_over_the_default(server: LoopbackServer) -> None:
    slow = f"{server.url}/delay?ms={int(SHORT * 2000)}"
    with FuturesSession(timeout=SHORT) as session:
        # Longer than the default timeout, shorter than the call's own.
        assert session.get(slow, timeout=LONG).result(timeout=LONG).status_code == 200
        with pytest.raises(requests.ReadTimeout):
            session.get(slow).result(timeout=LONG)
    with FuturesSession(timeout=LONG) as session:
        future = session.get(server.url + "/hold/never", timeout=SHORT)
        with pytest.raises(requests.ReadTimeout):
            future.result(timeout=LONG)
        server.release("never")


# --- closing -------------------------------------------------------------------


def _close(session: FuturesSession) -> None:
    session.close()


def _leave(session: FuturesSession) -> None:
    with session:
        pass


@pytest.mark.parametrize("closing", [_close, _leave], ids=["close", "with"])
def test_closing_cancels_queued_requests_and_lets_running_ones_finish(
    server: LoopbackServer, closing: Callable[[FuturesSession], None]
) -> None:
    before = set(worker_threads())
    started = threading.Event()
    session = FuturesSession(max_workers=1)
    running = session.get(server.url + "/hold/running", auth=_signal(started))
    queued = [session.get(f"{server.url}/echo?i={i}") for i in range(3)]
    assert started.wait(LONG)
    mine = set(worker_threads()) - before
    assert len(mine) == 1

    cancelled = _on_done(queued[-1])
    closer = threading.Thread(target=closing, args=(session,))
    closer.start()
    assert cancelled.wait(LONG)
    assert all(f.cancelled() for f in queued)
    # close() waits for the running request, which the server still holds.
    assert not running.done()
    assert closer.is_alive()

    server.release("running")
    closer.join(LONG)
    assert not closer.is_alive()
    assert running.result(timeout=0).json()["path"] == "/hold/running"
    assert server.counters.paths == ["/hold/running"]
    assert not any(t.is_alive() for t in mine)


def test_no_worker_thread_survives_close(server: LoopbackServer) -> None:
    before = set(worker_threads())
    session = FuturesSession(max_workers=4)
    futures = [session.get(server.url + "/delay?ms=50") for _ in range(8)]
    wait(futures, timeout=LONG)
    mine = set(worker_threads()) - before
    assert len(mine) == 4
    session.close()
    assert not any(t.is_alive() for t in mine)
    assert set(worker_threads()) <= before


def test_close_closes_the_session_connections(server: LoopbackServer) -> None:
    session = FuturesSession()
    session.get(server.url + "/echo").result(timeout=LONG)
    adapter = session.get_adapter(server.url)
    assert isinstance(adapter, HTTPAdapter)
    assert len(adapter.poolmanager.pools) == 1
    session.close()
    assert len(adapter.poolmanager.pools) == 0


def test_a_supplied_executor_is_not_shut_down(server: LoopbackServer) -> None:
    started = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as executor:
        session = FuturesSession(executor=executor)
        running = session.get(server.url + "/hold/supplied", auth=_signal(started))
        queued = session.get(server.url + "/echo")
        assert started.wait(LONG)
        cancelled = _on_done(queued)
        closer = threading.Thread(target=session.close)
        closer.start()
        assert cancelled.wait(LONG)
        assert queued.cancelled()
        assert closer.is_alive()  # waiting for the running request
        server.release("supplied")
        closer.join(LONG)
        assert not closer.is_alive()
        assert running.result(timeout=0).status_code == 200
        # The executor still takes work after the session is closed.
        assert executor.submit(lambda: 42).result(timeout=LONG) == 42
        with pytest.raises(RuntimeError):
            session.get(server.url + "/echo")


class _RecordingSession(requests.Session):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


class _TaggingAdapter(HTTPAdapter):
    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.headers["X-Adapter"] = "mounted"
        return super().send(request, *args, **kwargs)


def test_a_supplied_session_is_used_and_not_closed(server: LoopbackServer) -> None:
    supplied = _RecordingSession()
    supplied.headers["X-Supplied"] = "yes"
    supplied.auth = ("user", "secret")
    supplied.cookies.set("jar", "full")
    supplied.mount(server.url, _TaggingAdapter())
    with FuturesSession(session=supplied) as session:
        echoed = session.get(server.url + "/cookies").result(timeout=LONG).json()
        session.get(server.url + "/cookies/set?flavour=oat").result(timeout=LONG)
    headers = echoed["headers"]
    assert headers["X-Supplied"] == "yes"
    assert headers["Authorization"].startswith("Basic ")
    assert headers["X-Adapter"] == "mounted"
    assert echoed["cookies"] == "jar=full"
    # Cookies the server sets land in the supplied session's jar.
    assert supplied.cookies["flavour"] == "oat"
    assert not supplied.closed
    assert supplied.get(server.url + "/echo", timeout=LONG).status_code == 200
    supplied.close()


def test_submitting_after_close_is_a_runtime_error(server: LoopbackServer) -> None:
    session = FuturesSession()
    prepared = session.prepare_request(requests.Request("GET", server.url + "/echo"))
    session.close()
    for call in (
        lambda: session.get(server.url),
        lambda: session.post(server.url, json={}),
        lambda: session.request("GET", server.url),
        lambda: session.send(prepared),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            call()
    session.close()  # a second close is harmless
    assert server.counters.requests == 0


def test_close_twice_is_fine(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        session.get(server.url + "/echo").result(timeout=LONG)
        session.close()
    session.close()


# --- volume and thread safety -------------------------------------------------


def test_a_thousand_requests_each_come_back_exactly_once(server: LoopbackServer) -> None:
    count = 1000
    with FuturesSession(max_workers=8) as session:
        futures = [
            session.get(
                f"{server.url}/echo?i={i}",
                background_callback=lambda s, r: int(r.json()["query"]["i"][0]),
            )
            for i in range(count)
        ]
        seen = collections.Counter(f.result(timeout=LONG) for f in as_completed(futures, 3 * LONG))
    assert seen == collections.Counter(range(count))
    assert server.counters.requests == count
    assert server.counters.connections <= 8


def test_submitting_from_several_threads_at_once(server: LoopbackServer) -> None:
    threads, per_thread = 6, 40
    barrier = threading.Barrier(threads)
    results: dict[int, list[Future[requests.Response]]] = {}

    def submit(n: int, session: FuturesSession) -> None:
        barrier.wait(LONG)
        results[n] = [session.get(f"{server.url}/echo?t={n}&i={i}") for i in range(per_thread)]

    with FuturesSession(max_workers=4) as session:
        workers = [threading.Thread(target=submit, args=(n, session)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(LONG)
        for n, futures in results.items():
            got = [f.result(timeout=LONG).json()["query"] for f in futures]
            assert got == [{"t": [str(n)], "i": [str(i)]} for i in range(per_thread)]
    assert sorted(results) == list(range(threads))
    assert server.counters.requests == threads * per_thread


def test_submitting_while_another_thread_closes(server: LoopbackServer) -> None:
    """Every submission either raises RuntimeError or gets a future that ends."""
    session = FuturesSession(max_workers=2)
    futures: list[Future[requests.Response]] = []
    refused = threading.Event()
    go = threading.Event()

    def submit() -> None:
        go.wait(LONG)
        for _ in range(200):
            try:
                futures.append(session.get(server.url + "/echo"))
            except RuntimeError:
                refused.set()
                return

    submitters = [threading.Thread(target=submit) for _ in range(3)]
    for submitter in submitters:
        submitter.start()
    go.set()
    session.close()
    for submitter in submitters:
        submitter.join(LONG)
    assert not any(s.is_alive() for s in submitters)
    done, not_done = wait(futures, timeout=LONG)
    assert not not_done
    for future in done:
        assert future.cancelled() or future.result(timeout=0).status_code == 200
    if len(futures) < 600:
        assert refused.is_set()


def test_hooks_run_for_every_hop_and_the_callback_once(server: LoopbackServer) -> None:
    hops: list[tuple[int, str]] = []
    callbacks: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        hops.append((response.status_code, response.request.path_url))

    with FuturesSession() as session:
        session.hooks["response"].append(hook)
        future = session.get(
            server.url + "/redirect/2",
            background_callback=lambda s, r: callbacks.append(r.request.path_url),
        )
        future.result(timeout=LONG)
    assert hops == [(302, "/redirect/2"), (302, "/redirect/1"), (200, "/echo")]
    assert callbacks == ["/echo"]


def test_a_streamed_body_is_read_in_the_calling_thread(server: LoopbackServer) -> None:
    size = 256 * 1024
    with FuturesSession() as session:
        response = session.get(f"{server.url}/bytes?n={size}", stream=True).result(timeout=LONG)
        assert not response.raw.closed  # the body has not been read yet
        read = sum(len(chunk) for chunk in response.iter_content(chunk_size=8192))
        again = session.get(server.url + "/echo").result(timeout=LONG)
    assert read == size
    assert again.status_code == 200
    # The streamed connection went back to the pool and was reused.
    assert server.counters.connections == 1


def _close_in_callback(session: FuturesSession, response: requests.Response) -> str:
    session.close()
    return "closed"


@pytest.mark.parametrize("supplied", [False, True], ids=["owned", "supplied"])
def test_close_from_a_background_callback_does_not_deadlock(
    server: LoopbackServer, supplied: bool
) -> None:
    before = set(worker_threads())
    executor = ThreadPoolExecutor(2, thread_name_prefix="requests-futures") if supplied else None
    session = FuturesSession(executor=executor)
    future = session.get(server.url + "/echo", background_callback=_close_in_callback)
    assert future.result(timeout=LONG) == "closed"
    with pytest.raises(RuntimeError, match="closed"):
        session.get(server.url + "/echo")
    mine = set(worker_threads()) - before
    if executor is not None:
        assert executor.submit(lambda: 1).result(timeout=LONG) == 1
        executor.shutdown()
    for thread in mine:
        thread.join(LONG)
    assert not any(t.is_alive() for t in mine)


@pytest.mark.parametrize("supplied", [False, True], ids=["own-session", "supplied-session"])
def test_close_from_a_hook_does_not_deadlock(server: LoopbackServer, supplied: bool) -> None:
    inner = requests.Session() if supplied else None
    with ThreadPoolExecutor(1) as executor:
        session = FuturesSession(executor=executor, session=inner)

        def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            session.close()

        future = session.get(server.url + "/echo", hooks={"response": hook})
        assert future.result(timeout=LONG).status_code == 200
        with pytest.raises(RuntimeError, match="closed"):
            session.get(server.url + "/echo")
    if inner is not None:
        inner.close()


@pytest.mark.parametrize("own", [True, False], ids=["own-executor", "supplied-executor"])
def test_close_from_a_done_callback_closes_everything(server: LoopbackServer, own: bool) -> None:
    """A done-callback runs in the worker after the request: close() must not join it."""
    supplied = None if own else ThreadPoolExecutor(max_workers=1)
    session = FuturesSession(executor=supplied)
    errors: list[BaseException] = []
    closed = threading.Event()

    def on_done(_: object) -> None:
        try:
            session.close()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)
        closed.set()

    future = session.get(server.url + "/echo")
    future.add_done_callback(on_done)
    assert future.result(timeout=LONG).status_code == 200
    assert closed.wait(LONG)
    assert errors == []
    adapter = session.get_adapter(server.url)
    assert isinstance(adapter, HTTPAdapter)
    assert len(adapter.poolmanager.pools) == 0  # the connections were released
    with pytest.raises(RuntimeError, match="closed"):
        session.get(server.url + "/echo")
    if supplied is not None:
        supplied.shutdown()


def test_close_releases_connections_even_if_waiting_fails(server: LoopbackServer) -> None:
    class Failing(ThreadPoolExecutor):
        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            super().shutdown(wait=wait, cancel_futures=cancel_futures)
            raise OSError("shutdown failed")

    session = FuturesSession(max_workers=1)
    session.executor.shutdown()
    session.executor = Failing(max_workers=1)
    session.get(server.url + "/echo").result(timeout=LONG)
    adapter = session.get_adapter(server.url)
    assert isinstance(adapter, HTTPAdapter)
    with pytest.raises(OSError, match="shutdown failed"):
        session.close()
    assert len(adapter.poolmanager.pools) == 0


def test_a_wrapped_futures_session_times_out_as_it_would_alone(server: LoopbackServer) -> None:
    with FuturesSession(timeout=SHORT) as inner, FuturesSession(session=inner) as outer:
        try:
            with pytest.raises(requests.ReadTimeout):
                outer.get(server.url + "/hold/wrapped").result(timeout=LONG)
        finally:
            server.release("wrapped")
