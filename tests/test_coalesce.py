"""FuturesSession(coalesce=True): identical requests in flight are sent once.

The server holds the first request (/hold/NAME) until the test has made the
others, so "in flight" is a fact, not a race; the server's counters say how
many requests reached it.
"""

from __future__ import annotations

import contextvars
import copy
import http.cookiejar
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import pytest
import requests
from requests.auth import HTTPBasicAuth
from urllib3.util import Timeout

from requests_futures import FuturesSession
from requests_futures._coalesce import identity, own_copy

from .conftest import LONG, eventually
from .server import LoopbackServer

CALLER: contextvars.ContextVar[str] = contextvars.ContextVar("CALLER", default="none")


@pytest.fixture
def session() -> Iterator[FuturesSession]:
    with FuturesSession(max_workers=4, timeout=LONG, coalesce=True) as session:
        yield session


def burst(session: FuturesSession, server: LoopbackServer, name: str, n: int, **kw: Any) -> list:
    """``n`` identical GETs of /hold/NAME, made while the first is held at the server."""
    url = server.url + f"/hold/{name}"
    futures = [session.get(url, **kw)]
    assert server.counters.wait_for_path(f"/hold/{name}", LONG)
    futures += [session.get(url, **kw) for _ in range(n - 1)]
    server.release(name)
    return [f.result(timeout=LONG) for f in futures]


def test_identical_gets_in_flight_reach_the_server_once(
    session: FuturesSession, server: LoopbackServer
) -> None:
    responses = burst(session, server, "co-once", 10)
    assert server.counters.requests == 1
    assert len({id(r) for r in responses}) == 10
    assert all(r.status_code == 200 and r.json()["path"] == "/hold/co-once" for r in responses)
    # Each caller's response is its own.
    first, second = responses[0], responses[1]
    first.headers["X-Changed"] = "1"
    first.encoding = "latin-1"
    first.status_code = 599
    first.request.headers["X-Changed"] = "1"
    assert "X-Changed" not in second.headers
    assert "X-Changed" not in second.request.headers
    assert (second.status_code, second.encoding) == (200, "utf-8")
    assert second.content == first.content


def test_it_is_not_a_cache(session: FuturesSession, server: LoopbackServer) -> None:
    url = server.url + "/echo"
    session.get(url).result(timeout=LONG)
    session.get(url).result(timeout=LONG)
    assert server.counters.requests == 2


@pytest.mark.parametrize(
    "other",
    [
        {"params": {"q": "2"}},
        {"headers": {"X-Other": "1"}},
        {"cookies": {"c": "2"}},
        {"auth": ("u", "other")},
        {"timeout": 99},
        {"allow_redirects": False},
        {"verify": False},
        {"proxies": {"ftp": "http://127.0.0.1:9"}},
    ],
    ids=lambda other: next(iter(other)),
)
def test_a_difference_in_identity_sends_again(
    session: FuturesSession, server: LoopbackServer, other: dict[str, Any]
) -> None:
    url = server.url + "/hold/co-diff"
    base = {"params": {"q": "1"}, "cookies": {"c": "1"}, "auth": ("u", "p"), "timeout": LONG}
    first = session.get(url, **base)
    assert server.counters.wait_for_path("/hold/co-diff", LONG)
    same = session.get(url, **base)
    different = session.get(url, **(base | other))
    assert server.counters.wait_in_flight(2, LONG)
    server.release("co-diff")
    for future in (first, same, different):
        future.result(timeout=LONG)
    assert server.counters.requests == 2


def test_the_sessions_settings_at_the_call_count(
    session: FuturesSession, server: LoopbackServer
) -> None:
    url = server.url + "/hold/co-session"
    first = session.get(url)
    assert server.counters.wait_for_path("/hold/co-session", LONG)
    session.headers["X-Now"] = "1"
    with_header = session.get(url)
    session.cookies.set("now", "1")
    with_cookie = session.get(url, headers={"X-Now": "1"})
    assert server.counters.wait_in_flight(3, LONG)
    server.release("co-session")
    for future in (first, with_header, with_cookie):
        future.result(timeout=LONG)
    assert server.counters.requests == 3


def test_same_identity_spelled_differently_is_shared(
    session: FuturesSession, server: LoopbackServer
) -> None:
    url = server.url + "/hold/co-spelling"
    futures = [
        session.get(url + "?q=1", auth=HTTPBasicAuth("u", "p"), timeout=Timeout(LONG)),
        session.request(
            "get",
            url,
            params={"q": "1"},
            auth=HTTPBasicAuth("u", "p"),
            timeout=Timeout(LONG),
            hooks={"response": []},
            data=[],
            files=[],
        ),
    ]
    server.release("co-spelling")
    assert [f.result(timeout=LONG).status_code for f in futures] == [200, 200]
    assert server.counters.requests == 1


@pytest.mark.parametrize(
    ("method", "kw"),
    [
        ("POST", {}),
        ("GET", {"stream": True}),
        ("GET", {"hooks": {"response": [lambda r, **k: r]}}),
        ("GET", {"background_callback": lambda s, r: r}),
        ("GET", {"data": "body"}),
        ("GET", {"json": {}}),
    ],
    ids=["post", "stream", "hooks", "callback", "data", "json"],
)
def test_what_is_never_shared(
    session: FuturesSession, server: LoopbackServer, method: str, kw: dict[str, Any]
) -> None:
    url = server.url + "/hold/co-never"
    futures = [session.request(method, url, **kw) for _ in range(2)]
    assert server.counters.wait_in_flight(2, LONG)
    server.release("co-never")
    for future in futures:
        future.result(timeout=LONG).close()
    assert server.counters.requests == 2


def test_a_bad_url_is_left_to_requests(session: FuturesSession) -> None:
    for future in [session.get("no-scheme") for _ in range(2)]:
        with pytest.raises(requests.exceptions.MissingSchema):
            future.result(timeout=LONG)


def test_an_error_reaches_every_caller(session: FuturesSession, refused_url: str) -> None:
    futures = [session.get(refused_url) for _ in range(5)]
    for future in futures:
        with pytest.raises(requests.ConnectionError):
            future.result(timeout=LONG)


def test_cancelling_one_caller_cancels_nobody_else(
    session: FuturesSession, server: LoopbackServer
) -> None:
    url = server.url + "/hold/co-cancel"
    futures = [session.get(url) for _ in range(3)]
    assert server.counters.wait_for_path("/hold/co-cancel", LONG)
    assert futures[0].cancel()  # the first caller's: the request goes on
    server.release("co-cancel")
    assert [f.result(timeout=LONG).status_code for f in futures[1:]] == [200, 200]
    assert futures[0].cancelled()
    assert server.counters.requests == 1


def test_when_every_caller_cancelled_a_queued_request_is_never_sent(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=1, timeout=LONG, coalesce=True) as session:
        busy = session.get(server.url + "/hold/co-busy")
        assert server.counters.wait_for_path("/hold/co-busy", LONG)
        queued = [session.get(server.url + "/echo?queued") for _ in range(2)]
        assert all(f.cancel() for f in queued)
        server.release("co-busy")
        busy.result(timeout=LONG)
        # A new identical call is a new request, sent.
        assert session.get(server.url + "/echo?queued").result(timeout=LONG).status_code == 200
    assert server.counters.paths == ["/hold/co-busy", "/echo"]


def test_a_request_nobody_waits_for_any_more_finishes_and_is_closed(
    session: FuturesSession, server: LoopbackServer
) -> None:
    future = session.get(server.url + "/hold/co-alone")
    assert server.counters.wait_for_path("/hold/co-alone", LONG)
    assert future.cancel()
    server.release("co-alone")
    assert eventually(lambda: server.counters.in_flight == 0)
    assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200


def test_runs_once_in_the_first_callers_context(server: LoopbackServer) -> None:
    seen: list[str] = []
    with FuturesSession(max_workers=4, timeout=LONG, coalesce=True) as session:
        session.hooks["response"].append(lambda r, **kw: seen.append(CALLER.get()))
        futures = []
        for name in ("first", "second", "third"):
            context = contextvars.copy_context()
            context.run(CALLER.set, name)
            futures.append(context.run(session.get, server.url + "/hold/co-ctx"))
            if name == "first":
                assert server.counters.wait_for_path("/hold/co-ctx", LONG)
        server.release("co-ctx")
        for future in futures:
            future.result(timeout=LONG)
    assert seen == ["first"]


@pytest.mark.parametrize(
    "options", [{"per_host": 1}, {"executor": "supplied"}], ids=["scheduled", "supplied"]
)
def test_scheduled_sessions_and_supplied_executors(
    server: LoopbackServer, options: dict[str, Any]
) -> None:
    with ThreadPoolExecutor(4) as executor:
        if "executor" in options:
            options = {"executor": executor}
        with FuturesSession(timeout=LONG, coalesce=True, **options) as session:
            responses = burst(session, server, "co-sched", 6)
            assert session.get(server.url + "/echo").result(timeout=LONG).ok
    assert [r.status_code for r in responses] == [200] * 6
    assert server.counters.requests == 2
    if "per_host" in options:
        assert {getattr(r, "attempts", 1) for r in responses} == {1}


def test_map_shares_identical_requests(session: FuturesSession, server: LoopbackServer) -> None:
    url = server.url + "/hold/co-map"
    items = [requests.Request("GET", url)] * 4 + [{"url": url}] * 4
    flights = session._submit.__self__._flights  # type: ignore[attr-defined]

    def release_when_all_joined() -> None:
        eventually(lambda: sum(len(f.callers) for f in list(flights.values())) == 8)
        server.release("co-map")

    releaser = threading.Thread(target=release_when_all_joined)
    releaser.start()
    statuses = [f.result(timeout=LONG).status_code for _, f in session.map(items, window=8)]
    releaser.join(LONG)
    assert statuses == [200] * 8
    assert server.counters.requests == 1


class Words(requests.Session):
    """A supplied session whose request() returns something else than a response."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return "words"


def test_a_result_that_is_no_response_is_shared_as_it_is() -> None:
    with FuturesSession(session=Words(), coalesce=True) as session:
        futures = [session.get("http://127.0.0.1:9/") for _ in range(3)]
        assert [f.result(timeout=LONG) for f in futures] == ["words"] * 3


def test_only_a_bool_is_accepted() -> None:
    for wrong in (1, "yes", None):
        with pytest.raises(TypeError, match="coalesce must be True or False"):
            FuturesSession(coalesce=wrong)  # type: ignore[arg-type]


def test_a_copy_coalesces_too_and_a_closed_session_refuses(server: LoopbackServer) -> None:
    with FuturesSession(coalesce=True) as original, copy.copy(original) as twin:
        assert twin._coalesce is True
        assert twin.get(server.url + "/echo").result(timeout=LONG).ok
    with pytest.raises(RuntimeError):
        original.get(server.url + "/echo")


def test_identity_merges_as_requests_does() -> None:
    plain = requests.Session()
    url = ("GET", "http://127.0.0.1:9/")
    bare = identity(plain, url, {})
    assert identity(plain, url, {"headers": {"Accept": None}}) != bare  # dropped, as requests does
    jar = requests.cookies.RequestsCookieJar()
    jar.set("c", "1")
    assert identity(plain, url, {"cookies": jar}) == identity(plain, url, {"cookies": {"c": "1"}})
    assert identity(plain, url, {"cookies": http.cookiejar.CookieJar()}) == bare
    assert identity(plain, ("GET", "http://127.0.0.1:9/", None), {}) is None
    assert identity(plain, (b"GET", "http://127.0.0.1:9/"), {}) is None
    assert identity(plain, ("DELETE", "http://127.0.0.1:9/"), {}) is None
    assert identity(plain, url, {"hooks": ["not", "a", "dict"]}) is None  # requests will say


def test_a_response_without_a_request_is_copied_too() -> None:
    response = requests.Response()
    assert own_copy(response).request is None


def test_closing_cancels_every_caller_of_a_queued_request(server: LoopbackServer) -> None:
    session = FuturesSession(max_workers=1, timeout=LONG, coalesce=True)
    busy = session.get(server.url + "/hold/co-close")
    assert server.counters.wait_for_path("/hold/co-close", LONG)
    queued = [session.get(server.url + "/echo") for _ in range(3)]
    server.release("co-close")
    session.close()
    busy.result(timeout=LONG)
    assert all(f.cancelled() for f in queued)


class PicklingPool(ProcessPoolExecutor):
    """Takes the process path (everything pickled) but runs each task in a thread here."""

    def __init__(self) -> None:
        super().__init__(1)
        self._runner = ThreadPoolExecutor(4)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        sent = pickle.dumps((fn, args, kwargs))
        return self._runner.submit(lambda: (lambda f, a, k: f(*a, **k))(*pickle.loads(sent)))

    def shutdown(self, *args: Any, **kwargs: Any) -> None:
        self._runner.shutdown()
        super().shutdown(*args, **kwargs)


def test_with_an_executor_of_other_processes(server: LoopbackServer) -> None:
    with PicklingPool() as pool, FuturesSession(executor=pool, coalesce=True) as session:
        responses = burst(session, server, "co-remote", 5)
    assert [r.status_code for r in responses] == [200] * 5
    assert len({id(r) for r in responses}) == 5
    assert server.counters.requests == 1
