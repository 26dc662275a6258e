"""Sessions in a child made by ``os.fork()``: a fresh pool, no shared sockets.

The children are real forks of the test process; each reports back with its
exit status, and the loopback server (in this process) counts what they sent.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from requests.adapters import BaseAdapter

from requests_futures import FuturesSession
from requests_futures._lifecycle import fork as _fork

from .conftest import LONG
from .server import LoopbackServer

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork() on this platform"),
    # Python 3.12+ warns that forking a process with threads may deadlock; the
    # children here only use what the fork hook gives them.
    pytest.mark.filterwarnings("ignore:This process:DeprecationWarning"),
]

# Made at import, as a web app's or a worker's module-level session is.
MODULE_SESSION = FuturesSession(max_workers=2, timeout=LONG)


@pytest.fixture(scope="module", autouse=True)
def _close_the_module_session() -> Iterator[None]:
    yield
    MODULE_SESSION.close()


def in_child(check: Callable[[], bool]) -> int:
    """Run ``check`` in a forked child; its exit status: 0 true, 1 false, 2 raised."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not recorded
        code = 2
        try:
            code = 0 if check() else 1
        except BaseException:  # noqa: BLE001 - reported by the exit status
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def fetch_path(url: str) -> str:
    """The path the server saw, fetched with the module-level session."""
    path: str = MODULE_SESSION.get(url).result(timeout=LONG).json()["path"]
    return path


def test_a_module_level_session_works_in_a_multiprocessing_fork_child(
    server: LoopbackServer,
) -> None:
    assert fetch_path(server.url + "/echo/parent") == "/echo/parent"  # its workers started
    with multiprocessing.get_context("fork").Pool(1) as pool:
        child = pool.apply_async(fetch_path, (server.url + "/echo/child",))
        assert child.get(timeout=LONG) == "/echo/child"
    assert fetch_path(server.url + "/echo/parent") == "/echo/parent"


def test_the_child_opens_its_own_connection_and_the_parent_keeps_its_own(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=1) as session:
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
        assert server.counters.connections == 1

        def child() -> bool:
            echoed = session.get(server.url + "/echo/child").result(timeout=LONG).json()
            return bool(echoed["path"] == "/echo/child")

        assert in_child(child) == 0
        assert server.counters.connections == 2  # the child's own
        echoed = session.get(server.url + "/echo/parent").result(timeout=LONG).json()
        assert echoed["path"] == "/echo/parent"
        assert server.counters.connections == 2  # the parent's old one, still good


def test_a_supplied_pool_from_before_the_fork_refuses_in_the_child(
    server: LoopbackServer,
) -> None:
    with (
        ThreadPoolExecutor(max_workers=2) as pool,
        FuturesSession(executor=pool) as session,
        FuturesSession(executor=pool, per_host=1) as polite,
    ):
        assert session.get(server.url).result(timeout=LONG).status_code == 200

        def child() -> bool:
            for call in (
                lambda: session.get(server.url),
                lambda: polite.get(server.url),
                lambda: session.map([server.url]),
            ):
                try:
                    call()
                except RuntimeError as exc:
                    if "os.fork()" not in str(exc):
                        return False
                else:
                    return False
            session.close()  # waits for nothing of the parent's
            return True

        assert in_child(child) == 0
        assert session.get(server.url).result(timeout=LONG).status_code == 200
    assert server.counters.requests == 2


def test_queued_work_of_the_parent_is_not_run_in_the_child(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1) as session:
        held = session.get(server.url + "/hold/parent")
        queued = session.get(server.url + "/echo/queued")
        assert server.counters.wait_in_flight(1, LONG)

        def child() -> bool:
            return bool(session.get(server.url + "/echo/child").result(timeout=LONG).ok)

        assert in_child(child) == 0
        server.release("parent")
        assert held.result(timeout=LONG).ok
        assert queued.result(timeout=LONG).ok
    assert server.counters.paths.count("/echo/queued") == 1
    assert server.counters.paths.count("/echo/child") == 1


EXITING_CHILD = """
    import os
    import sys
    import warnings
    from requests_futures import FuturesSession

    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads

    url = sys.argv[1]
    session = FuturesSession(max_workers=1, timeout=60)
    print("parent", session.get(url + "/echo").result().status_code, flush=True)
    pid = os.fork()
    if pid == 0:
        session.get(url + "/hold/child")
        for _ in range(3):
            session.get(url + "/echo/never")
        sys.exit()  # the child's main thread ends, three requests queued
    os.waitpid(pid, 0)
    print("parent", session.get(url + "/echo").result().status_code, flush=True)
"""


def test_the_exit_hook_works_in_the_child(server: LoopbackServer, tmp_path: Path) -> None:
    script = tmp_path / "forking.py"
    script.write_text(textwrap.dedent(EXITING_CHILD))
    with subprocess.Popen(
        [sys.executable, str(script), server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        for warning in process.stderr:  # the child's, while its request is held
            if "cancelled" in warning:
                break
        server.release("child")
        out, err = process.communicate(timeout=3 * LONG)
    assert "3 queued requests cancelled at interpreter exit" in warning, warning + err
    assert out.split() == ["parent", "200", "parent", "200"]
    assert process.returncode == 0
    assert "/echo/never" not in server.counters.paths


# -- the hook itself, called here as the child would ---------------------------


def test_after_fork_gives_an_owned_pool_a_new_one_and_drops_the_pools(
    server: LoopbackServer,
) -> None:
    with FuturesSession(max_workers=3) as session:
        assert session.get(server.url).result(timeout=LONG).ok
        executor, manager = session.executor, session.get_adapter(server.url).poolmanager
        session._after_fork()
        assert session.executor is not executor
        assert session.executor._max_workers == 3  # type: ignore[attr-defined]
        assert session.get_adapter(server.url).poolmanager is not manager
        assert any(old is manager for old, _ in _fork._inherited)  # kept, not closed
        assert session.get(server.url).result(timeout=LONG).ok
    executor.shutdown()
    assert server.counters.connections == 2


def test_after_fork_a_session_on_a_supplied_pool_refuses_at_the_call() -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        session = FuturesSession(executor=pool)
        session._after_fork()
        with pytest.raises(RuntimeError, match=r"made before os\.fork\(\)"):
            session.get("http://127.0.0.1:1/")
        session.close()
        assert session.executor is pool
        assert pool.submit(sum, [1, 2]).result(timeout=LONG) == 3  # left alone


def test_after_fork_leaves_a_closed_session_closed_and_drops_a_supplied_sessions_pools(
    server: LoopbackServer,
) -> None:
    supplied = requests.Session()
    supplied.mount("custom://", BaseAdapter())  # no pools to replace
    session = FuturesSession(session=supplied)
    manager = supplied.get_adapter(server.url).poolmanager
    session.close()
    session._after_fork()
    assert supplied.get_adapter(server.url).poolmanager is not manager
    with pytest.raises(RuntimeError, match="closed"):
        session.get(server.url)


def test_a_session_that_fails_to_reset_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reset: list[str] = []

    class Broken:
        def _after_fork(self) -> None:
            raise OSError("no")

    class Fine:
        def _after_fork(self) -> None:
            reset.append("fine")

    broken, fine = Broken(), Fine()
    saved = set(_fork._sessions)
    _fork._sessions.clear()
    try:
        _fork.track(broken)
        _fork.track(fine)
        with caplog.at_level(logging.WARNING, logger="requests_futures._lifecycle.fork"):
            _fork._in_child()
    finally:
        _fork._sessions.clear()
        _fork._sessions.update(saved)
    assert reset == ["fine"]
    assert "could not reset a session after fork" in caplog.text
