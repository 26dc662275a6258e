"""FuturesSession over a ProcessPoolExecutor: pickling, errors, connection reuse.

The pool uses the "spawn" start method: its workers import this module afresh,
which is what a real program's workers do with callbacks defined at module
level (and "fork" from a threaded process warns on Python 3.12+).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, ClassVar

import pytest
import requests
from urllib3.util import Retry

from requests_futures import Future, FuturesSession, _remote

from .conftest import LONG, threads_of_ours
from .server import LoopbackServer
from .test_deadline import LATE

# -- things the workers import by name ---------------------------------------


def pid_of_worker(session: FuturesSession, response: requests.Response) -> tuple[str, int, int]:
    """A background_callback: what ran it, and where."""
    return type(session).__name__, os.getpid(), response.status_code


def count_words(session: FuturesSession, response: requests.Response) -> int:
    """The script example of docs/scaling-out.rst: only the count travels back."""
    return len(response.json()["body"].split())


def tag_response(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A response hook, run in the worker."""
    response.headers["X-Hooked-In"] = str(os.getpid())
    return response


def raise_for_status(session: FuturesSession, response: requests.Response) -> None:
    response.raise_for_status()


class TokenSession(FuturesSession):
    """A subclass with an attribute of its own, sent along with the session."""

    __attrs__: ClassVar[list[str]] = [*FuturesSession.__attrs__, "token"]

    def __init__(self, *args: Any, token: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.token = token


def read_token(session: TokenSession, response: requests.Response) -> str:
    return session.token


class CountingPool(ProcessPoolExecutor):
    """A process pool that counts submits (and never starts a worker here)."""

    submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        self.submitted += 1
        return super().submit(*args, **kwargs)


class InProcessPool(ProcessPoolExecutor):
    """Takes the process path (pickles everything) but runs the task here."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        future: Future[Any] = Future()
        sent = pickle.loads(pickle.dumps((fn, args, kwargs)))
        try:
            future.set_result(sent[0](*sent[1], **sent[2]))
        except Exception as exc:  # noqa: BLE001 - it belongs in the future
            future.set_exception(exc)
        return future


# -- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    executor = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"))
    yield executor
    executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def session(pool: ProcessPoolExecutor) -> Iterator[FuturesSession]:
    with FuturesSession(executor=pool, timeout=LONG) as session:
        yield session


# -- it works --------------------------------------------------------------------


def test_get_runs_in_a_worker_process_with_the_session_settings(
    session: FuturesSession, server: LoopbackServer
) -> None:
    session.headers["X-From-Parent"] = "yes"
    future = session.get(server.url + "/echo?x=1")
    assert isinstance(future, Future)
    response = future.result(timeout=LONG)
    assert response.json()["query"] == {"x": ["1"]}
    assert response.json()["headers"]["X-From-Parent"] == "yes"
    name, pid, status = session.get(
        server.url + "/echo", background_callback=pid_of_worker
    ).result(timeout=LONG)
    assert (name, status) == ("FuturesSession", 200)
    assert pid != os.getpid()


def test_workers_start_no_thread_pool(session: FuturesSession, server: LoopbackServer) -> None:
    inner = FuturesSession(timeout=LONG)  # unpickled in the worker too
    with FuturesSession(executor=session.executor, session=inner) as wrapping:
        for each in (session, wrapping):
            futures = [each.get(server.url, background_callback=threads_of_ours) for _ in range(4)]
            assert [f.result(timeout=LONG) for f in futures] == [[]] * 4
    inner.close()


def test_the_readme_script_example(pool: ProcessPoolExecutor, server: LoopbackServer) -> None:
    with FuturesSession(executor=pool) as session:
        texts = ["one two", "three four five"]
        url = server.url + "/echo"
        futures = [session.post(url, data=text, background_callback=count_words) for text in texts]
        assert sum(f.result(timeout=LONG) for f in futures) == 5


def test_an_existing_session_is_used_in_the_worker(
    pool: ProcessPoolExecutor, server: LoopbackServer
) -> None:
    base = requests.Session()
    base.headers["X-Base"] = "base"
    with FuturesSession(executor=pool, session=base, timeout=LONG) as session:
        echoed = session.get(server.url + "/echo").result(timeout=LONG).json()
    assert echoed["headers"]["X-Base"] == "base"


def test_module_level_hooks_run_in_the_worker(
    session: FuturesSession, server: LoopbackServer
) -> None:
    response = session.get(server.url + "/echo", hooks={"response": tag_response}).result(
        timeout=LONG
    )
    assert response.headers["X-Hooked-In"] not in ("", str(os.getpid()))
    session.hooks["response"].append(tag_response)
    response = session.get(server.url + "/echo").result(timeout=LONG)
    assert response.headers["X-Hooked-In"] != str(os.getpid())


def test_a_module_level_subclass_keeps_its_own_attributes(
    pool: ProcessPoolExecutor, server: LoopbackServer
) -> None:
    with TokenSession(executor=pool, token="abc", timeout=LONG) as session:
        future = session.get(server.url + "/echo", background_callback=read_token)
        assert future.result(timeout=LONG) == "abc"


def test_send_and_map_work_through_processes(
    session: FuturesSession, server: LoopbackServer
) -> None:
    prepared = requests.Request("POST", server.url + "/echo", data=b"body").prepare()
    assert session.send(prepared).result(timeout=LONG).json()["body"] == "body"
    urls = [f"{server.url}/echo?i={i}" for i in range(6)]
    got = [f.result(timeout=LONG).json()["query"]["i"][0] for _, f in session.map(urls)]
    assert got == [str(i) for i in range(6)]


def test_the_task_is_all_bytes_and_runs_the_same_anywhere(server: LoopbackServer) -> None:
    # Coverage of the worker side, run in this process.
    with InProcessPool(1) as pool, FuturesSession(executor=pool, timeout=LONG) as session:
        session.headers["X-Here"] = "1"
        echoed = session.get(server.url + "/echo").result(timeout=LONG).json()
        assert echoed["headers"]["X-Here"] == "1"
        name, pid, _ = session.get(server.url + "/echo", background_callback=pid_of_worker).result(
            timeout=LONG
        )
        assert (name, pid) == ("FuturesSession", os.getpid())
        with pytest.raises(requests.HTTPError):
            session.get(server.url + "/status/500", background_callback=raise_for_status).result(
                timeout=LONG
            )
    # The sessions this thread cached, as a worker would: close them now.
    for entry in _remote._local.cache.values():
        entry.close()
    _remote._local.cache.clear()


def test_transport_errors_come_back_unchanged(session: FuturesSession, refused_url: str) -> None:
    with pytest.raises(requests.ConnectionError):
        session.get(refused_url).result(timeout=LONG)


# -- connection reuse --------------------------------------------------------------


def test_a_thousand_requests_through_two_processes_open_a_handful_of_connections(
    session: FuturesSession, server: LoopbackServer
) -> None:
    futures = [session.get(f"{server.url}/echo?i={i}") for i in range(1000)]
    assert all(f.result(timeout=LONG).status_code == 200 for f in futures)
    assert server.counters.requests == 1000
    # One connection per worker (pool of 2) is the goal; a few more are fine,
    # one per request (1,000) is what happens without the worker's cache.
    assert server.counters.connections <= 6


def test_changes_to_the_parent_session_reach_the_workers(
    session: FuturesSession, server: LoopbackServer
) -> None:
    for version in ("1", "2", "3"):
        session.headers["X-Version"] = version
        session.auth = ("user", version)
        session.cookies.set("v", version)
        echoed = [
            f.result(timeout=LONG).json()
            for f in [session.get(server.url + "/cookies") for _ in range(4)]
        ]
        assert {e["headers"]["X-Version"] for e in echoed} == {version}
        assert {e["cookies"] for e in echoed} == {f"v={version}"}
        basic = requests.auth._basic_auth_str("user", version)
        assert {e["headers"]["Authorization"] for e in echoed} == {basic}
    # Each version costs at most one new session (and connection) per worker.
    assert server.counters.connections <= 2 * 3 + 2


def test_cookies_set_by_a_response_do_not_stick_in_a_worker(
    session: FuturesSession, server: LoopbackServer
) -> None:
    for _ in range(3):
        session.get(server.url + "/cookies/set?leak=1").result(timeout=LONG)
    echoed = [
        f.result(timeout=LONG).json()["cookies"]
        for f in [session.get(server.url + "/cookies") for _ in range(8)]
    ]
    assert echoed == [""] * 8


def test_the_worker_cache_keeps_a_few_sessions_and_closes_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # In this process: the cache is thread-local, so a fresh thread has none.
    states = []
    for i in range(_remote.CACHE_SIZE + 1):
        owner = FuturesSession(max_workers=1)
        owner.headers["X-I"] = str(i)
        target = None
        if i % 2:
            target = requests.Session()
            target.headers["X-I"] = f"{i}-target"
        states.append(pickle.dumps((owner, target)))
        owner.close()
    closed: list[str] = []
    monkeypatch.setattr(requests.Session, "close", lambda s: closed.append(s.headers["X-I"]))
    seen: list[Any] = []

    def work() -> None:
        seen.extend(_remote._sessions(state)[0] for state in states)
        seen.append(_remote._sessions(states[-1])[0])
        seen.append(_remote._sessions(states[0])[0])

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(LONG)
    assert len(seen) == len(states) + 2
    first, last, last_again, first_again = seen[0], seen[-3], seen[-2], seen[-1]
    assert last_again is last  # cached
    assert first_again is not first  # evicted, then unpickled anew
    assert first.headers["X-I"] == first_again.headers["X-I"] == "0"
    assert closed == ["0", "1", "1-target"]  # the least recently used, each time


# -- errors at the call ----------------------------------------------------------------


def local_function_factory() -> Any:
    def local_hook(response: requests.Response, **kwargs: Any) -> None:
        return None

    return local_hook


@pytest.mark.parametrize(
    ("kwargs", "named", "hint"),
    [
        (
            {"background_callback": lambda s, r: None},
            "background_callback <function <lambda>",
            "module level",
        ),
        ({"hooks": {"response": local_function_factory()}}, "hooks['response']", "module level"),
        ({"headers": {"X-Lock": threading.Lock()}}, "headers['X-Lock'] <unlocked", "picklable"),
    ],
    ids=["lambda-callback", "local-hook", "lock-in-headers"],
)
def test_unpicklable_arguments_fail_at_the_call_naming_them(
    kwargs: dict[str, Any], named: str, hint: str, server: LoopbackServer
) -> None:
    with CountingPool(1) as pool, FuturesSession(executor=pool) as session:
        with pytest.raises(TypeError) as caught:
            session.get(server.url + "/echo", **kwargs)
        assert pool.submitted == 0
    message = str(caught.value)
    assert message.startswith(named), message
    assert hint in message
    assert "CountingPool" in message
    assert server.counters.requests == 0


def test_an_open_file_as_data_fails_at_the_call(tmp_path: Any, server: LoopbackServer) -> None:
    path = tmp_path / "upload.txt"
    path.write_bytes(b"content")
    with (
        CountingPool(1) as pool,
        FuturesSession(executor=pool) as session,
        path.open("rb") as upload,
    ):
        with pytest.raises(TypeError, match=r"^data <_io.BufferedReader.*content \(bytes\)"):
            session.post(server.url + "/echo", data=upload)
        with pytest.raises(TypeError, match=r"^files\[0\]\[1\] <_io.BufferedReader"):
            session.post(server.url + "/echo", files=[("f", upload)])
        assert pool.submitted == 0


def test_unpicklable_session_state_is_named(server: LoopbackServer) -> None:
    with CountingPool(1) as pool:
        with FuturesSession(executor=pool) as session:
            session.hooks["response"].append(lambda r, **kw: r)
            with pytest.raises(TypeError, match=r"^FuturesSession\.hooks\['response'\]\[0\] "):
                session.get(server.url + "/echo")
        base = requests.Session()
        base.auth = local_function_factory()
        with FuturesSession(executor=pool, session=base) as session:
            with pytest.raises(TypeError, match=r"^session\.auth <function"):
                session.get(server.url + "/echo")
            prepared = requests.Request("GET", server.url, hooks={"response": [print]}).prepare()
            prepared.hooks["response"].append(local_function_factory())
            with pytest.raises(TypeError, match=r"^session\.auth"):
                session.send(prepared)
            base.auth = None
            with pytest.raises(TypeError, match=r"^request\.hooks\['response'\]\[1\] <function"):
                session.send(prepared)
        assert pool.submitted == 0


class FailsOnce:
    """Pickles on every try but the first: the whole fails, no part does."""

    tries = 0

    def __reduce__(self) -> Any:
        FailsOnce.tries += 1
        if FailsOnce.tries == 1:
            raise TypeError("not this time")
        return (FailsOnce, ())


def test_messages_stay_readable_when_the_culprit_is_odd(server: LoopbackServer) -> None:
    class Verbose:  # local: cannot be pickled
        def __repr__(self) -> str:
            return "<Verbose " + "x" * 200 + ">"

    with CountingPool(1) as pool, FuturesSession(executor=pool) as session:
        with pytest.raises(TypeError, match=r"^json <Verbose x{88}\.\.\. cannot be pickled"):
            session.post(server.url + "/echo", json=Verbose())
        deep: list[Any] = [threading.Lock()]
        for _ in range(10):
            deep = [deep]
        with pytest.raises(TypeError, match=r"^json(\[0\]){8} \[\[\[<unlocked"):
            session.post(server.url + "/echo", json=deep)
        with pytest.raises(TypeError, match=r"^the request None cannot be pickled \(TypeError"):
            session.post(server.url + "/echo", json=FailsOnce())
        assert pool.submitted == 0


def test_stream_true_fails_at_the_call(server: LoopbackServer) -> None:
    with CountingPool(1) as pool, FuturesSession(executor=pool) as session:
        with pytest.raises(ValueError, match=r"stream=True cannot be used with CountingPool"):
            session.get(server.url + "/echo", stream=True)
        session.stream = True
        with pytest.raises(ValueError, match=r"stream=True"):
            session.get(server.url + "/echo")
        with pytest.raises(ValueError, match=r"stream=True"):
            session.send(requests.Request("GET", server.url).prepare())
        with pytest.raises(ValueError, match=r"stream=True"):
            session.request("GET", server.url, *[None] * 10, True)
        assert pool.submitted == 0


def test_a_closed_session_refuses_before_pickling(pool: ProcessPoolExecutor) -> None:
    session = FuturesSession(executor=pool)
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.get("http://127.0.0.1:1/", background_callback=lambda s, r: None)


def test_what_only_the_parent_can_load_fails_in_the_future_with_advice(
    session: FuturesSession, server: LoopbackServer
) -> None:
    # Made at run time: the parent pickles it by name, a fresh worker
    # importing this module finds no such name.
    def made_later(session: FuturesSession, response: requests.Response) -> int:
        return 1

    made_later.__qualname__ = "made_later"
    globals()["made_later"] = made_later
    try:
        future = session.get(server.url + "/echo", background_callback=made_later)
        with pytest.raises(RuntimeError, match="could not unpickle the request's arguments"):
            future.result(timeout=LONG)
    finally:
        del globals()["made_later"]


def test_a_task_the_worker_cannot_load_raises_with_advice() -> None:
    with pytest.raises(RuntimeError, match=r"could not unpickle the request's session"):
        _remote.run(b"not a pickle", b"", "token")


def test_threads_still_take_what_cannot_be_pickled(server: LoopbackServer) -> None:
    with ThreadPoolExecutor(2) as pool, FuturesSession(executor=pool) as session:
        future = session.get(server.url + "/echo", background_callback=lambda s, r: "ok")
        assert future.result(timeout=LONG) == "ok"


def test_importing_the_package_imports_no_process_or_cluster_machinery() -> None:
    code = (
        "import sys, requests_futures;"
        "heavy = {'dask', 'distributed', 'cloudpickle', 'multiprocessing',"
        " 'concurrent.futures.process'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=LONG, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_retried_request_is_pickled_once_and_its_outcome_comes_back(
    server: LoopbackServer,
) -> None:
    retry = Retry(total=2, backoff_factor=0, status_forcelist={503})
    with (
        InProcessPool(1) as pool,
        FuturesSession(executor=pool, retries=retry, per_host=1, timeout=LONG) as session,
    ):
        future = session.get(server.url + "/flaky/remote/1")
        assert future.result(timeout=LONG).status_code == 200
    assert future.attempts == 2
    assert server.counters.hits["remote"] == 2
    # Every attempt ran in this thread (the pool runs tasks inline): close its cache.
    for entry in _remote._local.cache.values():
        entry.close()
    _remote._local.cache.clear()


# -- deadline= -----------------------------------------------------------------


@pytest.mark.parametrize("limits", [{}, {"per_host": 1}], ids=["plain", "scheduled"])
def test_a_deadline_fails_the_future_in_time_and_caps_the_timeout(
    limits: dict[str, Any], pool: ProcessPoolExecutor, server: LoopbackServer
) -> None:
    """The request cannot be aborted in the other process: its timeout ends it there."""
    from requests_futures import DeadlineExceeded

    with FuturesSession(executor=pool, timeout=LONG, **limits) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).ok  # a warm worker
        started = time.monotonic()
        future = session.get(server.url + "/hold/remote-deadline", deadline=0.5)
        with pytest.raises(DeadlineExceeded):
            future.result(timeout=LONG)
        assert 0.5 <= time.monotonic() - started < 0.5 + LATE
        # The worker process's own try ends at its capped read timeout (0.6 s), not LONG:
        # the next request gets a worker back soon, and the pool's worker survived.
        assert session.get(server.url + "/echo").result(timeout=LONG).ok
    server.release("remote-deadline")
