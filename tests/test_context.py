"""The caller's context follows each request into the worker (contextvars).

Everything a request runs in the worker (the session's request/send, a
supplied session's overrides, auth, adapters, hooks, background_callback,
every attempt of a scheduled request) sees the caller's ContextVars as they
were at the call, in a copy of its own.
"""

from __future__ import annotations

import asyncio
import contextvars
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from requests_futures import FuturesSession

from .conftest import LONG
from .server import LoopbackServer

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="unset")


def seen(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    """A response hook: note what it sees."""
    response.seen = REQUEST_ID.get()  # type: ignore[attr-defined]


def seen_by_callback(session: Any, response: requests.Response) -> tuple[str, str]:
    return response.seen, REQUEST_ID.get()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _unset() -> Iterator[None]:
    """What a test sets in the main thread's context is undone after it."""
    token = REQUEST_ID.set("unset")
    yield
    REQUEST_ID.reset(token)


@pytest.fixture
def session() -> Iterator[FuturesSession]:
    with FuturesSession(max_workers=2, timeout=LONG) as session:
        session.hooks["response"].append(seen)
        yield session


def test_hooks_and_background_callback_see_the_callers_value(
    session: FuturesSession, server: LoopbackServer
) -> None:
    token = REQUEST_ID.set("r-1")
    try:
        future = session.get(server.url + "/echo", background_callback=seen_by_callback)
    finally:
        REQUEST_ID.reset(token)
    assert future.result(timeout=LONG) == ("r-1", "r-1")


def test_the_value_at_the_call_counts_not_a_later_one(server: LoopbackServer) -> None:
    server.release("later")  # nothing holds it
    with FuturesSession(max_workers=1, timeout=LONG) as session:
        session.hooks["response"].append(seen)
        blocker = session.get(server.url + "/hold/ctx-block")  # the one worker is busy
        REQUEST_ID.set("at-the-call")
        future = session.get(server.url + "/echo")
        REQUEST_ID.set("after-the-call")
        server.release("ctx-block")
        blocker.result(timeout=LONG)
        assert future.result(timeout=LONG).seen == "at-the-call"


class Recording(HTTPAdapter):
    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        request.headers["X-Adapter-Saw"] = REQUEST_ID.get()
        return super().send(request, *args, **kwargs)


class Auth(requests.auth.AuthBase):
    """An auth handler: sees the value while preparing and in the hook it registers."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-Auth-Saw"] = REQUEST_ID.get()
        request.register_hook("response", self.hook)
        return request

    def hook(self, response: requests.Response, **kwargs: Any) -> None:
        response.auth_hook_saw = REQUEST_ID.get()  # type: ignore[attr-defined]


class Tracing(requests.Session):
    """A supplied session= whose request() and send() are overridden."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = super().request(*args, **kwargs)
        response.request_saw = REQUEST_ID.get()
        return response

    def send(self, request: Any, **kwargs: Any) -> Any:
        request.headers["X-Send-Saw"] = REQUEST_ID.get()
        return super().send(request, **kwargs)


def test_a_supplied_sessions_overrides_auth_and_adapters_see_it(server: LoopbackServer) -> None:
    inner = Tracing()
    inner.mount("http://", Recording())
    with FuturesSession(session=inner, timeout=LONG) as session:
        REQUEST_ID.set("r-2")
        response = session.get(server.url + "/echo", auth=Auth()).result(timeout=LONG)
    headers = response.json()["headers"]
    assert (headers["X-Adapter-Saw"], headers["X-Auth-Saw"], headers["X-Send-Saw"]) == (
        "r-2",
        "r-2",
        "r-2",
    )
    assert (response.auth_hook_saw, response.request_saw) == ("r-2", "r-2")


def test_send_of_a_prepared_request_and_a_supplied_executor(server: LoopbackServer) -> None:
    with (
        ThreadPoolExecutor(2) as executor,
        FuturesSession(executor=executor, timeout=LONG) as session,
    ):
        session.hooks["response"].append(seen)
        REQUEST_ID.set("r-3")
        prepared = session.prepare_request(requests.Request("GET", server.url + "/echo"))
        assert session.send(prepared).result(timeout=LONG).seen == "r-3"
        assert session.get(server.url + "/echo").result(timeout=LONG).seen == "r-3"


def set_in_hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    response.before = REQUEST_ID.get()  # type: ignore[attr-defined]
    REQUEST_ID.set(response.request.headers["X-Mine"])


def test_a_value_set_in_the_worker_stays_with_its_own_request(server: LoopbackServer) -> None:
    # Two requests at once, each setting its own value in a hook: neither sees the
    # other's, and the caller sees neither, though the caller set nothing itself.
    with FuturesSession(max_workers=2, timeout=LONG) as session:
        session.hooks["response"] = [set_in_hook, seen]
        futures = [
            session.get(server.url + f"/hold/ctx-both?n={n}", headers={"X-Mine": f"m{n}"})
            for n in range(2)
        ]
        assert server.counters.wait_in_flight(2, LONG)
        server.release("ctx-both")
        responses = [f.result(timeout=LONG) for f in futures]
        # The same worker thread serves a third one later: nothing left over.
        third = session.get(server.url + "/echo", headers={"X-Mine": "m3"}).result(timeout=LONG)
    assert [(r.before, r.seen) for r in responses] == [("unset", "m0"), ("unset", "m1")]
    assert third.before == "unset"
    assert REQUEST_ID.get() == "unset"


def test_requests_in_coroutines_run_in_their_tasks_context(server: LoopbackServer) -> None:
    async def fetch(session: FuturesSession, value: str) -> str:
        REQUEST_ID.set(value)
        await asyncio.sleep(0)
        response = await session.get(server.url + "/echo")
        return str(response.seen)

    async def main() -> list[str]:
        with FuturesSession(max_workers=2, timeout=LONG) as session:
            session.hooks["response"].append(seen)
            return list(await asyncio.gather(*(fetch(session, f"t{n}") for n in range(4))))

    assert asyncio.run(main()) == ["t0", "t1", "t2", "t3"]


def test_map_takes_the_context_when_called_not_when_iterated(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, timeout=LONG) as session:
        session.hooks["response"].append(seen)
        context = contextvars.copy_context()
        context.run(REQUEST_ID.set, "at-map")
        results = context.run(session.map, [server.url + f"/echo?n={n}" for n in range(6)])
        # Iterated later, from another thread with nothing set.
        out: list[str] = []
        thread = threading.Thread(target=lambda: out.extend(f.result().seen for _, f in results))
        thread.start()
        thread.join(LONG)
    assert out == ["at-map"] * 6


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("per_host", {"per_host": 1}),
        ("rate", {"rate": 50.0}),
        ("retries", {"retries": Retry(2, backoff_factor=0, status_forcelist={503})}),
    ],
)
def test_every_attempt_of_a_scheduled_request_sees_it(
    server: LoopbackServer, name: str, options: dict[str, Any]
) -> None:
    # Retries are dispatched by the timer thread, queued requests by the worker
    # whose attempt ended, rate slots by the timer: all in the caller's context.
    attempts: list[str] = []

    def note(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        attempts.append(REQUEST_ID.get())

    with FuturesSession(max_workers=2, timeout=LONG, **options) as session:
        session.hooks["response"].append(note)
        futures = []
        for n in range(3):
            REQUEST_ID.set(f"s{n}")
            futures.append(session.get(server.url + f"/flaky/ctx-{name}-{n}/1"))
        results = [f.result(timeout=LONG) for f in futures]
    if name == "retries":
        assert [r.status_code for r in results] == [200] * 3
        assert sorted(attempts) == ["s0", "s0", "s1", "s1", "s2", "s2"]
    else:
        assert [r.status_code for r in results] == [503] * 3
        assert sorted(attempts) == ["s0", "s1", "s2"]


class PicklingPool(ProcessPoolExecutor):
    """Takes the process path (everything pickled) but runs the task here."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future: Future[Any] = Future()
        sent = pickle.loads(pickle.dumps((fn, args, kwargs)))
        future.set_result(sent[0](*sent[1], **sent[2]))
        return future


def test_nothing_of_the_context_goes_to_another_process(server: LoopbackServer) -> None:
    REQUEST_ID.set(threading.Lock())  # type: ignore[arg-type] - pickle refuses a lock
    with FuturesSession(executor=PicklingPool(1), timeout=LONG) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
    with FuturesSession(executor=PicklingPool(1), timeout=LONG, retries=1) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
