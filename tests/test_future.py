"""Awaitable futures: ``await session.get(url)`` inside a running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import pytest
import requests

from requests_futures import Future, FuturesSession
from requests_futures._future import adopt

from .conftest import LONG
from .server import LoopbackServer
from .stall import StallServer

# How many ticks the ticker must count before it lets the held request go.
TICKS_BEFORE_RELEASE = 20


@pytest.fixture(params=["own", "supplied"])
def session(request: pytest.FixtureRequest) -> Iterator[FuturesSession]:
    """A session on its own executor, and one on a supplied ThreadPoolExecutor."""
    if request.param == "own":
        with FuturesSession(max_workers=4) as session:
            yield session
        return
    with ThreadPoolExecutor(max_workers=4) as executor, FuturesSession(executor) as session:
        yield session


def test_await_leaves_the_event_loop_running(
    server: LoopbackServer, session: FuturesSession
) -> None:
    # The request is held at the server until a ticker task, running on the
    # same loop, has ticked enough: a blocked loop could never release it.
    ticks = 0

    async def ticker(done: asyncio.Event) -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            if ticks == TICKS_BEFORE_RELEASE:
                server.release("ticker")
            await asyncio.sleep(0.005)

    async def main() -> requests.Response:
        done = asyncio.Event()
        task = asyncio.create_task(ticker(done))
        try:
            return await asyncio.wait_for(session.get(server.url + "/hold/ticker"), LONG)
        finally:
            done.set()
            await task

    response = asyncio.run(main())
    assert isinstance(response, requests.Response)
    assert response.json()["path"] == "/hold/ticker"
    assert ticks >= TICKS_BEFORE_RELEASE


def test_slow_requests_in_flight_do_not_stop_other_tasks(
    server: LoopbackServer, session: FuturesSession
) -> None:
    delay = 0.4
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> list[requests.Response]:
        task = asyncio.create_task(ticker())
        try:
            futures = [session.get(f"{server.url}/delay?ms={int(delay * 1000)}") for _ in range(4)]
            return await asyncio.gather(*futures)
        finally:
            task.cancel()

    start = time.monotonic()
    responses = asyncio.run(main())
    elapsed = time.monotonic() - start
    assert [r.status_code for r in responses] == [200] * 4
    assert server.counters.max_in_flight >= 2
    # A blocked loop would have ticked about once; a free one ~ delay / 10 ms.
    assert ticks >= 10, (ticks, elapsed)


def test_gather_returns_results_in_argument_order(
    server: LoopbackServer, session: FuturesSession
) -> None:
    # The first argument finishes last, the last one first.
    delays = [450, 300, 150, 0]

    async def main() -> list[requests.Response]:
        return await asyncio.gather(
            *(session.get(f"{server.url}/delay?ms={ms}&i={i}") for i, ms in enumerate(delays))
        )

    responses = asyncio.run(main())
    assert [r.json()["query"]["i"] for r in responses] == [["0"], ["1"], ["2"], ["3"]]


def test_await_raises_what_result_raises(refused_url: str, session: FuturesSession) -> None:
    async def main() -> None:
        await session.get(refused_url)

    with pytest.raises(requests.ConnectionError):
        asyncio.run(main())


def test_awaitable_futures_are_still_concurrent_futures(
    server: LoopbackServer, session: FuturesSession
) -> None:
    futures = [session.get(f"{server.url}/echo?i={i}") for i in range(3)]
    assert all(isinstance(f, concurrent.futures.Future) for f in futures)
    assert all(isinstance(f, Future) for f in futures)
    done = set(concurrent.futures.as_completed(futures, timeout=LONG))
    assert done == set(futures)
    finished, _ = concurrent.futures.wait(futures, timeout=LONG)
    assert finished == set(futures)

    async def main() -> list[requests.Response]:
        return [await f for f in futures]

    awaited = asyncio.run(main())
    # Awaiting changed nothing: result() gives the very same responses.
    assert awaited == [f.result(timeout=LONG) for f in futures]


def test_cancelling_the_awaiting_task_cancels_a_queued_request(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=1) as session:
        blocker = session.get(server.url + "/hold/blocker")  # takes the only worker
        queued = session.get(server.url + "/queued")

        async def main() -> None:
            task = asyncio.create_task(_await(queued))
            await asyncio.sleep(0)  # let the task start awaiting
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        asyncio.run(main())
        assert queued.cancelled()
        server.release("blocker")
        assert blocker.result(timeout=LONG).status_code == 200
        # One worker, first in first out: had it not been cancelled, /queued
        # would reach the server before /after.
        assert session.get(server.url + "/after").result(timeout=LONG).status_code == 200
    assert server.counters.paths == ["/hold/blocker", "/after"]


def test_a_timeout_on_await_cancels_a_queued_request(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1) as session:
        blocker = session.get(server.url + "/hold/timeout-blocker")
        queued = session.get(server.url + "/timeout-queued")

        async def main() -> None:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(queued, timeout=0.05)

        asyncio.run(main())
        assert queued.cancelled()
        server.release("timeout-blocker")
        assert blocker.result(timeout=LONG).ok
        assert session.get(server.url + "/timeout-after").result(timeout=LONG).ok
    assert server.counters.paths == ["/hold/timeout-blocker", "/timeout-after"]


@pytest.mark.parametrize("limits", [{}, {"per_host": 2}], ids=["plain", "scheduled"])
def test_cancelling_the_task_aborts_a_running_request(
    limits: dict[str, Any], server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="concurrent.futures")
    stall = StallServer()
    try:
        with FuturesSession(max_workers=1, **limits) as session:
            running = session.get(stall.url + "/hang")

            async def main() -> float:
                task = asyncio.create_task(_await(running))
                assert await asyncio.to_thread(stall.wait_requests, 1, LONG)
                assert running.running()
                task.cancel()
                cancelled = time.monotonic()
                with pytest.raises(asyncio.CancelledError):
                    await task  # at once: it neither waits for nor raises the request's error
                assert time.monotonic() - cancelled < 0.5
                return cancelled

            cancelled = asyncio.run(main())
            assert running.cancelled()  # settled, never left pending
            # The server saw the connection closed, and the only worker is free.
            assert stall.wait_closed(1, LONG)
            assert stall.closed[0] - cancelled < 1.0
            assert session.get(server.url + "/echo").result(timeout=LONG).ok
    finally:
        stall.stop()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def _await(future: Future[requests.Response]) -> requests.Response:
    return await future


class _TaggedFuture(concurrent.futures.Future[Any]):
    """The future class of an executor that has its own."""

    __slots__ = ("tag",)


class _OwnFutureExecutor(Executor):
    """Hands out _TaggedFutures, run by a thread pool; keeps what it created."""

    def __init__(self, max_workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers)
        self.created: list[_TaggedFuture] = []

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> _TaggedFuture:
        future = _TaggedFuture()
        future.tag = "mine"
        self.created.append(future)

        def run() -> None:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:  # noqa: BLE001 - handed to the future
                    future.set_exception(exc)

        self._pool.submit(run)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def test_futures_of_an_executor_with_its_own_future_class_are_awaitable(
    server: LoopbackServer,
) -> None:
    with _OwnFutureExecutor(max_workers=1) as executor, FuturesSession(executor) as session:
        blocker = session.get(server.url + "/hold/own-blocker")
        queued = session.get(server.url + "/own-queued")
        # The very objects the executor made, still of its class, now awaitable.
        assert executor.created[0] is blocker
        assert executor.created[1] is queued
        assert isinstance(queued, _TaggedFuture)
        assert isinstance(queued, Future)
        assert queued.tag == "mine"  # type: ignore[attr-defined]

        async def main() -> requests.Response:
            task = asyncio.create_task(_await(queued))
            await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            server.release("own-blocker")
            return await blocker

        assert asyncio.run(main()).status_code == 200
        assert queued.cancelled()
        assert session.get(server.url + "/own-after").result(timeout=LONG).ok
    assert server.counters.paths == ["/hold/own-blocker", "/own-after"]


def test_adopt_makes_futures_awaitable_in_place() -> None:
    plain: concurrent.futures.Future[int] = concurrent.futures.Future()
    assert adopt(plain) is plain
    assert type(plain) is Future
    assert adopt(plain) is plain  # adopting twice changes nothing
    assert type(plain) is Future

    class Custom(concurrent.futures.Future[int]):
        def kind(self) -> str:
            return "custom"

    first, second = Custom(), Custom()
    assert adopt(first) is first
    assert adopt(second) is second
    assert isinstance(first, Custom)
    assert isinstance(first, Future)
    assert first.kind() == "custom"
    assert type(first) is type(second)  # one awaitable class per future class
    assert type(first).__name__ == "Custom"


def test_adopt_leaves_a_future_class_that_refuses_subclasses() -> None:
    class Final(concurrent.futures.Future[int]):
        def __init_subclass__(cls) -> None:
            raise TypeError("Final cannot be subclassed")

    future = Final()
    assert adopt(future) is future
    assert type(future) is Final
    future.set_result(1)
    assert future.result(timeout=0) == 1


@pytest.mark.parametrize("name", ["status_code", "json", "text", "headers", "ok", "raw"])
def test_a_response_attribute_on_the_future_says_to_call_result(
    server: LoopbackServer, name: str
) -> None:
    with FuturesSession() as session:
        future = session.get(server.url)
        with pytest.raises(AttributeError, match=r"call \.result\(\) first.*'await' it") as info:
            getattr(future, name)
        assert info.value.name == name
        assert str(info.value).startswith(f"'Future' object has no attribute '{name}'; ")
        assert future.result(timeout=LONG).status_code == 200


def test_other_missing_attributes_stay_plain() -> None:
    future: Future[int] = Future()
    assert not hasattr(future, "anything_else")
    with pytest.raises(AttributeError) as info:
        future.anything_else  # type: ignore[attr-defined]  # noqa: B018
    assert str(info.value) == "'Future' object has no attribute 'anything_else'"
    assert not hasattr(future, "_status_code")  # requests' private names are not hinted
