"""deadline=: a bound on the whole request, and requests really given up on.

A :class:`~tests.stall.StallServer` never answers (or trickles its body), and
records when the client closed each connection: an aborted request must show
up there, not only in the future.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import logging
import math
import os
import pickle
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from urllib3.util import Timeout as Urllib3Timeout

from requests_futures import DeadlineExceeded, FuturesSession
from requests_futures._deadline import capped, check_deadline

from .conftest import LONG, eventually
from .server import LoopbackServer
from .stall import StallServer

DEADLINE = 0.3
#: How late after its deadline a future may fail: the issue's bound (wider on a
#: loaded CI machine; benchmarks/deadline_hang.py measures it).
LATE = 1.5 if os.environ.get("CI") else 0.5


@pytest.fixture
def stall() -> Iterator[StallServer]:
    server = StallServer()
    yield server
    server.stop()


def _fails_in_time(future: Any, started: float, deadline: float = DEADLINE) -> DeadlineExceeded:
    with pytest.raises(DeadlineExceeded) as caught:
        future.result(timeout=LONG)
    took = time.monotonic() - started
    assert deadline <= took < deadline + LATE, took
    return caught.value


def test_a_hung_request_fails_at_its_deadline_and_its_connection_is_closed(
    stall: StallServer, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="concurrent.futures")
    with FuturesSession(max_workers=1) as session:
        started = time.monotonic()
        future = session.get(stall.url + "/hang", deadline=DEADLINE)
        error = _fails_in_time(future, started)
        assert str(error) == "deadline of 0.3 s exceeded"
        assert isinstance(error, requests.Timeout)
        # The server saw the connection closed, right then.
        assert stall.wait_closed(1, LONG)
        assert stall.closed[0] - started < DEADLINE + LATE
        # The only worker is free again, and was not killed.
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_message_gives_the_deadline_as_given(stall: StallServer) -> None:
    with FuturesSession(deadline=1) as session:
        started = time.monotonic()
        future = session.get(stall.url + "/hang", deadline=0.25)
        assert str(_fails_in_time(future, started, 0.25)) == "deadline of 0.25 s exceeded"
    assert pickle.loads(pickle.dumps(DeadlineExceeded("deadline of 1 s exceeded"))).args == (
        "deadline of 1 s exceeded",
    )


def test_a_trickling_body_is_cut_at_the_deadline(stall: StallServer) -> None:
    stall.mode = "trickle"
    with FuturesSession() as session:
        started = time.monotonic()
        future = session.get(stall.url + "/trickle", deadline=DEADLINE)
        _fails_in_time(future, started)
        assert stall.wait_closed(1, LONG)


def test_with_stream_the_deadline_ends_at_the_headers(stall: StallServer) -> None:
    stall.mode = "trickle"
    with FuturesSession() as session:
        response = session.get(stall.url + "/trickle", stream=True, deadline=DEADLINE).result(
            timeout=LONG
        )
        with response:
            time.sleep(DEADLINE + 0.1)  # past the deadline: the body is still ours to read
            assert response.raw.read(3) == b"xxx"
            assert stall.closed == []


def test_a_request_queued_past_its_deadline_is_never_sent(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1) as session:
        blocker = session.get(server.url + "/hold/deadline-blocker")
        assert server.counters.wait_for_path("/hold/deadline-blocker", LONG)
        started = time.monotonic()
        queued = session.get(server.url + "/never", deadline=DEADLINE)
        _fails_in_time(queued, started)
        server.release("deadline-blocker")
        assert blocker.result(timeout=LONG).ok
        assert session.get(server.url + "/after").result(timeout=LONG).ok
    assert server.counters.paths == ["/hold/deadline-blocker", "/after"]


def test_a_request_in_time_is_untouched_and_its_connection_reused(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=1, deadline=DEADLINE) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
        time.sleep(DEADLINE + 0.1)  # its deadline passes while the connection is pooled
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
    assert server.counters.connections == 1


def test_the_call_s_deadline_beats_the_session_s_and_none_turns_it_off(
    server: LoopbackServer,
) -> None:
    slow = server.url + "/delay?ms=500"
    with FuturesSession(max_workers=3, deadline=0.2) as session:
        longer = session.get(slow, deadline=5)
        off = session.get(slow, deadline=None)
        default = session.get(slow)
        assert longer.result(timeout=LONG).ok
        assert off.result(timeout=LONG).ok
        with pytest.raises(DeadlineExceeded, match=r"deadline of 0\.2 s"):
            default.result(timeout=LONG)
    with FuturesSession() as session, pytest.raises(DeadlineExceeded):
        session.get(slow, deadline=0.2).result(timeout=LONG)


@pytest.mark.parametrize("verb", ["get", "options", "head", "post", "put", "patch", "delete"])
def test_every_verb_takes_a_deadline(verb: str, stall: StallServer) -> None:
    with FuturesSession() as session:
        started = time.monotonic()
        _fails_in_time(getattr(session, verb)(stall.url + "/hang", deadline=DEADLINE), started)


def test_request_and_send_take_a_deadline(stall: StallServer) -> None:
    with FuturesSession(max_workers=2) as session:
        started = time.monotonic()
        by_request = session.request("GET", stall.url + "/hang", deadline=DEADLINE)
        prepared = session.prepare_request(requests.Request("GET", stall.url + "/hang"))
        by_send = session.send(prepared, deadline=DEADLINE)
        _fails_in_time(by_request, started)
        _fails_in_time(by_send, started)
        assert stall.wait_closed(2, LONG)


BAD = [
    (0, ValueError),
    (-1, ValueError),
    (math.nan, ValueError),
    (math.inf, ValueError),
    ("1", TypeError),
    (True, TypeError),
]


@pytest.mark.parametrize(("value", "error"), BAD)
def test_a_bad_deadline_fails_at_the_call_with_nothing_sent(
    value: object, error: type[Exception], server: LoopbackServer
) -> None:
    with pytest.raises(error, match="deadline"):
        FuturesSession(deadline=value)  # type: ignore[arg-type]
    with FuturesSession() as session:
        with pytest.raises(error, match="deadline"):
            session.get(server.url + "/echo", deadline=value)
        prepared = session.prepare_request(requests.Request("GET", server.url + "/echo"))
        with pytest.raises(error, match="deadline"):
            session.send(prepared, deadline=value)  # type: ignore[arg-type]
    assert server.counters.requests == 0


def test_requests_own_signature_errors_are_untouched(server: LoopbackServer) -> None:
    with FuturesSession() as session, pytest.raises(TypeError, match="unexpected keyword"):
        session.get(server.url + "/echo", deadline=1, bogus=1)


def test_check_deadline() -> None:
    assert check_deadline(None) is None
    assert check_deadline(2) == 2.0
    assert check_deadline(0.5) == 0.5


def test_connect_and_read_timeouts_are_capped_at_the_time_left() -> None:
    def timeout_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return kwargs["timeout"] if "timeout" in kwargs else args[8]

    left = 1.0
    # The connect part; the read part too for another process (read=True).
    assert timeout_of(*capped("request", ("GET", "u"), {}, left)) is None  # the watchdog's
    assert timeout_of(*capped("send", ("p",), {"timeout": (None, 5)}, left)) == (None, 5)
    assert timeout_of(*capped("request", ("GET", "u"), {}, left, read=True)) == (1.1, 1.1)
    assert timeout_of(*capped("request", ("GET", "u"), {"timeout": 0.5}, left)) == (0.5, 0.5)
    assert timeout_of(*capped("send", ("p",), {"timeout": (5, None)}, left)) == (1.1, None)
    assert timeout_of(*capped("send", ("p",), {"timeout": (0.2, 9)}, left, read=True)) == (
        0.2,
        1.1,
    )
    positional = ("GET", "u", None, None, None, None, None, None, 30)
    assert timeout_of(*capped("request", positional, {}, left)) == (1.1, 30)
    positional = ("GET", "u", None, None, None, None, None, None, 0.5)
    assert timeout_of(*capped("request", positional, {}, left)) == (0.5, 0.5)
    urllib3 = timeout_of(*capped("send", ("p",), {"timeout": Urllib3Timeout(connect=7)}, left))
    assert urllib3.connect_timeout == 1.1
    urllib3 = timeout_of(
        *capped(
            "send",
            ("p",),
            {"timeout": Urllib3Timeout(total=9, connect=7, read=8)},
            left,
            read=True,
        )
    )
    assert (urllib3.total, urllib3._connect, urllib3._read) == (1.1, 1.1, 1.1)
    # A timeout requests will refuse is left for it to refuse.
    assert capped("send", ("p",), {"timeout": "x"}, left) == (("p",), {"timeout": "x"})


@pytest.fixture
def unaccepted() -> Iterator[str]:
    """A loopback URL whose listener's backlog is full: a connect there waits."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):  # more than the backlog holds, whatever the kernel rounds it to
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/"
    for sock in [*fillers, listener]:
        sock.close()


@pytest.mark.parametrize("timeout", [None, 30, (30, 30)])
def test_a_connect_never_outlasts_the_deadline(timeout: Any, unaccepted: str) -> None:
    """Capped when given a connect timeout; else the watchdog shuts the socket down."""
    with FuturesSession(timeout=timeout) as session:
        started = time.monotonic()
        _fails_in_time(session.get(unaccepted, deadline=DEADLINE), started)
        # The worker is free again soon: the session closes without waiting long.
    assert time.monotonic() - started < DEADLINE + 2 * LATE


def test_the_adapter_gets_the_capped_timeout(server: LoopbackServer) -> None:
    seen: list[Any] = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            seen.append(kwargs["timeout"])
            return super().send(request, **kwargs)

    with FuturesSession(timeout=60) as session:
        session.mount("http://", Recording())
        assert session.get(server.url + "/echo", deadline=2).result(timeout=LONG).ok
    ((connect, read),) = seen
    assert 1.5 < connect <= 2.1
    assert read == 60  # a read is shut down by the watchdog instead


def test_copies_keep_the_deadline() -> None:
    with FuturesSession(deadline=3) as session:
        for other in (copy.copy(session), pickle.loads(pickle.dumps(session))):
            with other:
                assert other.deadline == 3


def test_no_thread_is_started_without_a_deadline(server: LoopbackServer) -> None:
    code = f"""
import threading
from requests_futures import FuturesSession
def ours():
    return sorted(t.name for t in threading.enumerate() if t.name.endswith("watchdog"))
with FuturesSession(per_host=2) as session:
    session.get({server.url + "/echo"!r}).result(10)
    before = ours()
    session.get({server.url + "/echo"!r}, deadline=5).result(10)
    print(before, ours())
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == ["[]", "['requests-futures-watchdog']"]


# The scheduler: waits count, and what waits past the deadline is never sent.


def test_a_request_waiting_for_a_per_host_slot_is_never_sent(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, per_host=1) as session:
        blocker = session.get(server.url + "/hold/slot-blocker")
        assert server.counters.wait_for_path("/hold/slot-blocker", LONG)
        started = time.monotonic()
        waiting = session.get(server.url + "/never", deadline=DEADLINE)
        _fails_in_time(waiting, started)
        assert waiting.attempts == 0
        server.release("slot-blocker")
        assert blocker.result(timeout=LONG).ok
        assert session.get(server.url + "/after").result(timeout=LONG).ok
    assert server.counters.paths == ["/hold/slot-blocker", "/after"]


def test_a_retry_after_pause_counts_and_no_retry_is_squeezed_in(server: LoopbackServer) -> None:
    with FuturesSession(retries=3) as session:
        started = time.monotonic()
        paused = session.get(server.url + "/flaky/pause/1?retry_after=60", deadline=DEADLINE)
        _fails_in_time(paused, started)
        assert paused.attempts == 1
        # The origin stays paused: a request with a deadline waits and is never sent.
        started = time.monotonic()
        _fails_in_time(session.get(server.url + "/echo", deadline=DEADLINE), started)
    assert server.counters.paths == ["/flaky/pause/1"]


def test_a_retry_due_after_the_deadline_is_never_sent(server: LoopbackServer) -> None:
    from urllib3.util import Retry

    retry = Retry(total=3, backoff_factor=10, status_forcelist={503})
    with FuturesSession(retries=retry) as session:
        started = time.monotonic()
        # urllib3 waits before the second retry only: 20 s.
        future = session.get(server.url + "/flaky/backoff/3", deadline=DEADLINE)
        _fails_in_time(future, started)
        assert future.attempts == 2
    assert server.counters.requests == 2


def test_a_running_scheduled_request_is_aborted_at_its_deadline(
    stall: StallServer, server: LoopbackServer
) -> None:
    with FuturesSession(max_workers=1, per_host=1, retries=2) as session:
        started = time.monotonic()
        future = session.get(stall.url + "/hang", deadline=DEADLINE)
        _fails_in_time(future, started)
        assert stall.wait_closed(1, LONG)
        assert future.attempts == 1
        # The one worker is free, and no retry went out after the deadline.
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
        assert stall.requests == 1


def test_with_a_supplied_executor_the_attempt_is_aborted(stall: StallServer) -> None:
    with ThreadPoolExecutor(1) as pool:
        for limits in ({}, {"per_host": 1}):
            with FuturesSession(pool, deadline=DEADLINE, **limits) as session:  # type: ignore[arg-type]
                started = time.monotonic()
                _fails_in_time(session.get(stall.url + "/hang"), started)
        assert stall.wait_closed(2, LONG)


# abort(): giving up on a request explicitly.


@pytest.mark.parametrize("limits", [{}, {"per_host": 2}], ids=["plain", "scheduled"])
def test_abort_stops_a_running_request(
    limits: dict[str, Any], stall: StallServer, server: LoopbackServer
) -> None:
    with FuturesSession(max_workers=1, **limits) as session:
        future = session.get(stall.url + "/hang")
        assert stall.wait_requests(1, LONG)
        assert future.abort() is True
        assert future.cancelled()
        assert stall.wait_closed(1, LONG)
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
        assert future.abort() is True  # still cancelled
        done = session.get(server.url + "/echo")
        done.result(timeout=LONG)
        assert done.abort() is False
        assert not done.cancelled()


@pytest.mark.parametrize("limits", [{}, {"per_host": 1}], ids=["plain", "scheduled"])
def test_abort_cancels_a_waiting_request(limits: dict[str, Any], server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1, **limits) as session:
        blocker = session.get(server.url + "/hold/abort-blocker")
        assert server.counters.wait_for_path("/hold/abort-blocker", LONG)
        waiting = session.get(server.url + "/never")
        assert waiting.abort() is True
        assert waiting.cancelled()
        server.release("abort-blocker")
        assert blocker.result(timeout=LONG).ok
    assert server.counters.paths == ["/hold/abort-blocker"]


# Done-callbacks that raise SystemExit or KeyboardInterrupt strand nothing.


@pytest.mark.parametrize("limits", [{}, {"per_host": 1}], ids=["plain", "scheduled"])
@pytest.mark.parametrize("error", [SystemExit, KeyboardInterrupt])
def test_a_done_callback_raising_base_exceptions_strands_nothing(
    limits: dict[str, Any],
    error: type[BaseException],
    server: LoopbackServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def explode(future: Any) -> None:
        raise error("from a callback")

    name = f"callback-{error.__name__}-{len(limits)}"
    with FuturesSession(max_workers=1, **limits) as session:
        # All pending while the callbacks are added: they run in the worker.
        futures = [session.get(server.url + f"/hold/{name}")]
        futures += [session.get(server.url + f"/echo?n={n}") for n in range(3)]
        for future in futures:
            future.add_done_callback(explode)
        server.release(name)
        for future in futures:
            assert future.result(timeout=LONG).ok
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
    logged = [r for r in caplog.records if "exception calling callback" in r.getMessage()]
    assert logged and all(r.exc_info and r.exc_info[0] is error for r in logged)


# close() racing cancel(), and Ctrl-C while a request is being registered.


@pytest.mark.parametrize("limits", [{}, {"per_host": 2}, {"retries": 1}])
def test_close_racing_cancel_leaves_nothing_pending_and_cancel_tells_the_truth(
    limits: dict[str, Any], server: LoopbackServer
) -> None:
    for _ in range(5):
        session = FuturesSession(max_workers=2, **limits)
        futures = [session.get(server.url + "/delay?ms=2") for _ in range(30)]
        said: dict[int, bool] = {}
        go = threading.Barrier(2)

        def cancel_all(
            futures: list[Any] = futures,
            said: dict[int, bool] = said,
            go: threading.Barrier = go,
        ) -> None:
            go.wait()
            for future in reversed(futures):
                said[id(future)] = future.cancel()

        canceller = threading.Thread(target=cancel_all)
        canceller.start()
        go.wait()
        session.close()
        canceller.join(LONG)
        for future in futures:
            concurrent.futures.wait([future], timeout=LONG)
            assert future.done()
            assert said[id(future)] == future.cancelled()
            if not future.cancelled():
                assert future.result().ok  # close() let the running ones finish


class _Interrupted(ThreadPoolExecutor):
    """A thread pool interrupted once (Ctrl-C) in ``submit``, or in following its future."""

    def __init__(self, where: str) -> None:
        super().__init__(max_workers=2)
        self.where = where

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self.where == "submit":
            self.where = ""
            raise KeyboardInterrupt
        future = super().submit(fn, *args, **kwargs)
        if self.where == "follow":
            self.where = ""
            add = future.add_done_callback

            def interrupted(callback: Any) -> None:
                future.add_done_callback = add  # type: ignore[method-assign]
                raise KeyboardInterrupt

            future.add_done_callback = interrupted  # type: ignore[method-assign]
        return future


@pytest.mark.parametrize("where", ["submit", "follow"])
def test_ctrl_c_while_registering_leaves_no_phantom_slot_nor_pending_future(
    where: str, server: LoopbackServer
) -> None:
    with _Interrupted(where) as executor, FuturesSession(executor, per_host=1) as session:
        with pytest.raises(KeyboardInterrupt):
            session.get(server.url + "/echo?interrupted")
        # The interrupted request still goes out (nobody waits for it), and the slot is free.
        assert session.get(server.url + "/echo?after").result(timeout=LONG).ok
        assert eventually(lambda: session.host_stats()[server.url].in_flight == 0)
        assert eventually(lambda: server.counters.requests == 2)
        assert not session._scheduler._sent  # type: ignore[union-attr]


def test_the_cli_s_daemon_executor_is_aborted_too(stall: StallServer) -> None:
    from requests_futures._cli.ctrl_c import DaemonExecutor

    executor = DaemonExecutor(1)
    with FuturesSession(executor, deadline=DEADLINE) as session:
        started = time.monotonic()
        _fails_in_time(session.get(stall.url + "/hang"), started)
        assert stall.wait_closed(1, LONG)
    executor.shutdown()


def test_a_deadline_met_keeps_no_response_alive(server: LoopbackServer) -> None:
    """Its watchdog entry stays until the deadline: it must not hold the future."""
    import gc
    import weakref

    for limits in ({}, {"per_host": 2}):
        with FuturesSession(**limits) as session:  # type: ignore[arg-type]
            future = session.get(server.url + "/echo", deadline=60)
            response = weakref.ref(future.result(timeout=LONG))
            assert eventually(lambda f=future: f.done())
            del future
            # Collected each time round: the worker may still hold it at the first look.
            assert eventually(lambda r=response: gc.collect() >= 0 and r() is None)


class _AtSubmission(concurrent.futures.Executor):
    """Runs each request in ``submit()``: it ends before its deadline is armed."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the future, like any executor
            future.set_exception(exc)
        return future


def test_a_request_ending_before_its_deadline_is_armed_is_not_held(
    server: LoopbackServer,
) -> None:
    # Without the garbage collector: the watchdog's entry must not keep the
    # future (and its response) until the deadline, 60 s away.
    import gc
    import weakref

    gc.disable()
    try:
        with FuturesSession(executor=_AtSubmission()) as session:
            future = session.get(server.url + "/echo", deadline=60)
            response = weakref.ref(future.result(timeout=0))
            del future
            assert response() is None
    finally:
        gc.enable()


def test_an_aborted_connection_is_never_reused(stall: StallServer) -> None:
    with FuturesSession(max_workers=1) as session:
        stall.mode = "trickle"  # headers in, the body never finishes: a pooled-looking socket
        started = time.monotonic()
        _fails_in_time(session.get(stall.url + "/slow", deadline=DEADLINE), started)
        assert stall.wait_closed(1, LONG)
        stall.mode = "ok"
        assert session.get(stall.url + "/next").result(timeout=LONG).ok
        assert session.get(stall.url + "/again").result(timeout=LONG).ok
    # One connection for the aborted request, one new one for the next two.
    assert stall.connections == 2
