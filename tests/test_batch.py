"""``FuturesSession.map``: a lazy, bounded window over any iterable of requests."""

from __future__ import annotations

import gc
import itertools
import time
import tracemalloc
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
import requests
from requests import PreparedRequest, Request, Response
from requests.adapters import BaseAdapter

from requests_futures import FuturesSession
from requests_futures._batch import DEFAULT_WINDOW

from .conftest import LONG
from .server import LoopbackServer

T = TypeVar("T")


class Counting:
    """An iterable that counts how many items were pulled from it."""

    def __init__(self, items: Iterable[T]) -> None:
        self.pulled = 0
        self._items = iter(items)

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            self.pulled += 1
            yield item


def test_ordered_yields_in_input_order(server: LoopbackServer) -> None:
    # The first item finishes last: ordered=True still yields it first.
    urls = [f"{server.url}/delay?ms={ms}&i={i}" for i, ms in enumerate([450, 300, 150, 0])]
    with FuturesSession(max_workers=4) as session:
        pairs = list(session.map(urls, window=4))
    assert [item for item, _ in pairs] == urls
    assert all(future.done() for _, future in pairs)
    answers = [f.result(timeout=0).json()["query"]["i"] for _, f in pairs]
    assert answers == [["0"], ["1"], ["2"], ["3"]]


def test_unordered_yields_in_completion_order(server: LoopbackServer) -> None:
    # Each request is held until the test lets it go: c, then a, then b.
    urls = {name: f"{server.url}/hold/{name}" for name in "abc"}
    order = ["c", "a", "b"]
    with FuturesSession(max_workers=3) as session:
        results = session.map(urls.values(), window=3, ordered=False)
        seen = []
        for name in order:
            server.release(name)
            item, future = next(results)
            assert future.done()
            seen.append(item)
        assert next(results, None) is None
    assert seen == [urls[name] for name in order]


def test_each_future_is_done_when_yielded(server: LoopbackServer) -> None:
    urls = [f"{server.url}/delay?ms={ms}" for ms in (200, 0, 100)]
    with FuturesSession(max_workers=3) as session:
        for ordered in (True, False):
            for _, future in session.map(urls, ordered=ordered):
                assert future.done()


@pytest.mark.parametrize("ordered", [True, False])
def test_mixed_item_kinds(server: LoopbackServer, ordered: bool) -> None:
    url = server.url + "/echo"
    request = Request("POST", url, json={"kind": "request"}, headers={"X-Kind": "request"})
    mapping = {"method": "PUT", "url": url, "json": {"kind": "mapping"}, "params": {"q": "1"}}
    items: list[Any] = [url, url.encode(), request, mapping, {"url": url}]
    with FuturesSession() as session:
        pairs = list(session.map(items, ordered=ordered))
    by_item = {id(item): future.result(timeout=0).json() for item, future in pairs}
    assert sorted(by_item) == sorted(id(item) for item in items)  # the very objects
    assert by_item[id(items[0])]["method"] == "GET"
    assert by_item[id(items[1])]["method"] == "GET"
    assert by_item[id(request)]["method"] == "POST"
    assert by_item[id(request)]["body"] == '{"kind": "request"}'
    assert by_item[id(request)]["headers"]["X-Kind"] == "request"
    assert by_item[id(mapping)]["method"] == "PUT"
    assert by_item[id(mapping)]["body"] == '{"kind": "mapping"}'
    assert by_item[id(mapping)]["query"] == {"q": ["1"]}
    assert by_item[id(items[4])]["method"] == "GET"


@pytest.mark.parametrize("ordered", [True, False])
def test_failing_items_do_not_stop_the_others(
    server: LoopbackServer, refused_url: str, ordered: bool
) -> None:
    good = server.url + "/echo"
    items: list[Any] = [
        refused_url,
        good,
        "no-scheme.test/path",
        42,
        {"method": "GET"},
        {"url": good, "no_such_argument": 1},
        good,
    ]
    with FuturesSession() as session:
        pairs = list(session.map(items, ordered=ordered))
    assert len(pairs) == len(items)
    errors = {id(item): future.exception(timeout=0) for item, future in pairs}
    assert isinstance(errors[id(items[0])], requests.ConnectionError)
    assert isinstance(errors[id(items[2])], requests.exceptions.MissingSchema)
    assert isinstance(errors[id(items[3])], TypeError)
    assert "url" in str(errors[id(items[4])])
    assert isinstance(errors[id(items[4])], TypeError)
    assert isinstance(errors[id(items[5])], TypeError)
    oks = [future.result(timeout=0) for item, future in pairs if item == good]
    assert [r.status_code for r in oks] == [200, 200]
    assert server.counters.requests == 2


@pytest.mark.parametrize("ordered", [True, False])
def test_items_are_pulled_only_as_the_window_frees_up(
    server: LoopbackServer, ordered: bool
) -> None:
    window = 3
    items = Counting(f"{server.url}/echo?i={i}" for i in range(20))
    with FuturesSession(max_workers=2) as session:
        results = session.map(items, window=window, ordered=ordered)
        assert items.pulled == 0  # nothing before the first next()
        yielded = 0
        for _ in results:
            yielded += 1
            assert items.pulled <= window + yielded
    assert yielded == items.pulled == 20


@pytest.mark.parametrize("ordered", [True, False])
def test_the_server_never_sees_more_than_window_at_once(
    server: LoopbackServer, ordered: bool
) -> None:
    window = 3
    urls = [f"{server.url}/delay?ms=60" for _ in range(12)]
    with FuturesSession(max_workers=8) as session:
        assert all(
            f.result(timeout=0).ok for _, f in session.map(urls, window=window, ordered=ordered)
        )
    assert server.counters.requests == 12
    assert 2 <= server.counters.max_in_flight <= window


def _pulled_at_first_yield(session: FuturesSession, server: LoopbackServer) -> int:
    items = Counting(itertools.repeat(server.url + "/echo", 100))
    results = session.map(items)
    next(results)
    results.close()
    return items.pulled


def test_default_window_is_twice_the_worker_count(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=3) as session:
        assert _pulled_at_first_yield(session, server) == 6
    with ThreadPoolExecutor(max_workers=5) as executor, FuturesSession(executor) as session:
        assert _pulled_at_first_yield(session, server) == 10


class _Opaque(Executor):
    """An executor whose worker count cannot be learned."""

    def __init__(self) -> None:
        self._inner = ThreadPoolExecutor(max_workers=2)

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_default_window_without_a_worker_count(server: LoopbackServer) -> None:
    with _Opaque() as executor, FuturesSession(executor) as session:
        assert _pulled_at_first_yield(session, server) == DEFAULT_WINDOW == 32


@pytest.mark.parametrize("how", ["break", "close"])
@pytest.mark.parametrize("ordered", [True, False])
def test_closing_early_cancels_what_is_queued_and_returns_promptly(
    server: LoopbackServer, how: str, ordered: bool
) -> None:
    # One worker: /echo answers, /hold/busy then keeps the worker busy and
    # /queued-N wait behind it when the consumer stops.
    items = [server.url + "/echo", server.url + "/hold/busy"]
    items += [f"{server.url}/queued-{i}" for i in range(4)]
    with FuturesSession(max_workers=1) as session:
        results = session.map(items, window=6, ordered=ordered)
        start = time.monotonic()
        if how == "break":
            for item, _ in results:
                assert item == items[0]
                break
            del results  # what leaving the loop's scope does
        else:
            item, _ = next(results)
            assert item == items[0]
            results.close()
        elapsed = time.monotonic() - start
        server.release("busy")
        # First in, first out: any /queued-N not cancelled would run before this.
        assert session.get(server.url + "/after").result(timeout=LONG).ok
    assert elapsed < LONG / 2  # not held up by the request held at the server
    assert not [p for p in server.counters.paths if p.startswith("/queued")]
    assert server.counters.paths[-1] == "/after"


def test_a_request_ending_after_the_generator_was_dropped_is_freed(
    server: LoopbackServer,
) -> None:
    # Without the garbage collector: nothing may sit in a reference cycle
    # (a future and the queue of finished ones holding each other).
    responses: list[weakref.ref[Response]] = []

    def keep(session: object, response: Response) -> None:
        responses.append(weakref.ref(response))

    items = [server.url + "/echo", {"url": server.url + "/hold/late", "background_callback": keep}]
    gc.disable()
    try:
        with FuturesSession(max_workers=2) as session:
            results = session.map(items, window=2, ordered=False)
            assert next(results)[0] == items[0]
            assert server.counters.wait_for_path("/hold/late", LONG)
            results.close()  # the held request runs on
            del results
            server.release("late")
        # The session is closed: the held request has ended.
        deadline = time.monotonic() + LONG
        while responses[0]() is not None and time.monotonic() < deadline:
            time.sleep(0.01)  # the worker may still hold its last task a moment
        assert responses[0]() is None
    finally:
        gc.enable()


def test_an_endless_generator_with_break(server: LoopbackServer) -> None:
    window = 4
    items = Counting(f"{server.url}/echo?i={i}" for i in itertools.count())
    statuses = []
    with FuturesSession(max_workers=2) as session:
        for _, future in session.map(items, window=window):
            statuses.append(future.result(timeout=0).status_code)
            if len(statuses) == 10:
                break
    assert statuses == [200] * 10
    assert items.pulled <= window + 10


class _MemoryAdapter(BaseAdapter):
    """Answers every request at once with a 4 KB body, without a socket."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        response = Response()
        response.status_code = 200
        response._content = b"x" * 4096
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def _peak_while_mapping(session: FuturesSession, count: int) -> tuple[int, int]:
    """Peak bytes traced, and most yielded futures alive, while mapping ``count`` items."""
    urls = (f"mem://{i}" for i in range(count))
    alive: weakref.WeakSet[Any] = weakref.WeakSet()
    most = ok = 0
    gc.collect()
    tracemalloc.start()
    try:
        for _, future in session.map(urls, window=8):
            ok += future.result(timeout=0).status_code == 200
            alive.add(future)
            del future
            most = max(most, len(alive))
        assert ok == count
        return tracemalloc.get_traced_memory()[1], most
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_items() -> None:
    # What is measured is map() itself: the requests are answered in memory.
    with FuturesSession(max_workers=4) as session:
        session.mount("mem://", _MemoryAdapter())
        _peak_while_mapping(session, 20)  # warm up
        small, _ = _peak_while_mapping(session, 100)
        large, most_alive = _peak_while_mapping(session, 500)
    # Five times the items, the same window: the same peak, give or take noise.
    # Keeping each response would add over 1.6 MB (the bodies alone).
    assert large < small * 1.25 + 128 * 1024, f"peak {small} B for 100 items, {large} B for 500"
    # Nothing keeps the futures already yielded: only the latest is alive.
    assert most_alive <= 2


@pytest.mark.parametrize(
    ("window", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError)],
)
def test_a_bad_window_fails_at_the_call(
    server: LoopbackServer, window: Any, error: type[Exception]
) -> None:
    with FuturesSession() as session, pytest.raises(error, match="window"):
        session.map([server.url], window=window)  # not iterated: raises at once
    assert server.counters.requests == 0


def test_items_that_are_not_iterable_fail_at_the_call() -> None:
    with FuturesSession() as session, pytest.raises(TypeError):
        session.map(42)  # type: ignore[arg-type]


def test_closing_the_session_during_a_map_stops_it(server: LoopbackServer) -> None:
    session = FuturesSession(max_workers=1)
    results = session.map(itertools.repeat(server.url + "/echo"), window=2)
    _, first = next(results)
    assert first.result(timeout=0).ok
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        for _ in range(3):  # what was submitted before close() may still come out
            next(results)


def test_map_on_a_closed_session_fails_at_the_call(server: LoopbackServer) -> None:
    session = FuturesSession()
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.map([server.url])
    assert server.counters.requests == 0
