"""Callbacks and hooks that raise, return odd things or are slow harm no later request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from requests_futures import FuturesSession
from requests_futures._worker import close_quietly

from ..conftest import LONG
from ..server import LoopbackServer

AFTER = 100  # requests that must then succeed on the same session


class Boom(Exception):
    pass


def _next_requests_succeed(session: FuturesSession, url: str) -> None:
    futures = [session.get(f"{url}/echo?n={n}") for n in range(AFTER)]
    assert [f.result(timeout=LONG).json()["query"]["n"] for f in futures] == [
        [str(n)] for n in range(AFTER)
    ]


def _raise(session: FuturesSession, response: requests.Response) -> None:
    raise Boom("callback failed")


def test_a_raising_background_callback_fails_only_its_future(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=4) as session:
        failed = [session.get(server.url + "/echo", background_callback=_raise) for _ in range(8)]
        for future in failed:
            with pytest.raises(Boom):
                future.result(timeout=LONG)
        _next_requests_succeed(session, server.url)


ODD = [False, 0, "", [], Boom("returned, not raised"), object(), (x for x in ())]


@pytest.mark.parametrize("value", ODD, ids=[type(v).__name__ for v in ODD])
def test_an_odd_callback_result_becomes_the_result(server: LoopbackServer, value: object) -> None:
    with FuturesSession(max_workers=2) as session:
        future = session.get(server.url + "/echo", background_callback=lambda s, r: value)
        assert future.result(timeout=LONG) is value
        _next_requests_succeed(session, server.url)


def test_a_slow_callback_holds_only_its_worker(server: LoopbackServer) -> None:
    release = threading.Event()
    started = threading.Event()

    def slow(session: FuturesSession, response: requests.Response) -> None:
        started.set()
        release.wait(LONG)

    with FuturesSession(max_workers=2) as session:
        held = session.get(server.url + "/echo", background_callback=slow)
        assert started.wait(LONG)
        _next_requests_succeed(session, server.url)  # on the other worker
        assert not held.done()
        release.set()
        assert held.result(timeout=LONG).status_code == 200


def _plain(hook: Callable[..., Any], url: str) -> object:
    """What requests.Session does with the same hook: the exception type or status."""
    with requests.Session() as plain:
        try:
            return plain.get(url, hooks={"response": hook}, timeout=LONG).status_code
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            return type(exc)


HOOKS: dict[str, Callable[..., Any]] = {
    "raises": lambda r, **kw: _raise(None, r),  # type: ignore[arg-type]
    "returns-int": lambda r, **kw: 42,
    "returns-None": lambda r, **kw: None,
    "returns-other-response": lambda r, **kw: requests.Response(),
}


@pytest.mark.parametrize("name", HOOKS)
def test_a_failing_hook_fails_as_with_requests_and_only_its_future(
    server: LoopbackServer, name: str
) -> None:
    hook = HOOKS[name]
    url = server.url + "/echo"
    with FuturesSession(max_workers=2) as session:
        future = session.get(url, hooks={"response": hook})
        try:
            got: object = future.result(timeout=LONG).status_code
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            got = type(exc)
        assert got == _plain(hook, url)
        _next_requests_succeed(session, url=server.url)


def test_a_raising_session_hook_stops_nothing_once_removed(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=4) as session:
        session.hooks["response"].append(HOOKS["raises"])
        failed = [session.get(server.url + "/echo") for _ in range(8)]
        assert all(isinstance(f.exception(timeout=LONG), Boom) for f in failed)
        session.hooks["response"].clear()
        _next_requests_succeed(session, server.url)


def test_a_raising_done_callback_is_logged_and_harms_nothing(
    server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    with FuturesSession(max_workers=2) as session, caplog.at_level(logging.ERROR):
        futures = [session.get(server.url + "/echo") for _ in range(8)]
        for future in futures:
            future.add_done_callback(lambda f: _raise(None, f))  # type: ignore[arg-type]
        assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
        _next_requests_succeed(session, server.url)
    assert "exception calling callback" in caplog.text


def test_a_raising_callback_on_a_streamed_response_gives_its_connection_back(
    server: LoopbackServer,
) -> None:
    """With ``stream=True`` only the callback could close the response; if it
    raises, nobody can.  With ``pool_block=True`` two such leaks used to leave
    every later request waiting for a connection for ever."""
    url = server.url + "/bytes?n=100000"
    adapter_kwargs = {"pool_maxsize": 2, "pool_block": True}
    with FuturesSession(max_workers=2, adapter_kwargs=adapter_kwargs) as session:
        # As many as the pool holds, so that a leak shows without a hang.
        failed = [session.get(url, stream=True, background_callback=_raise) for _ in range(2)]
        assert all(isinstance(f.exception(timeout=LONG), Boom) for f in failed)
        pools = session.get_adapter(url).poolmanager.pools
        (pool,) = (pools[key] for key in pools.keys())  # noqa: SIM118 - keys() only
        assert pool.pool is not None
        assert pool.pool.qsize() == 2  # both connections are back in the pool
        _next_requests_succeed(session, server.url)


def test_closing_what_a_failed_callback_got_never_raises() -> None:
    class BadClose:
        closed = False

        def close(self) -> None:
            self.closed = True
            raise OSError("already gone")

    bad = BadClose()
    close_quietly(bad)
    assert bad.closed
    close_quietly(object())  # nothing to close
