"""Closing under load, and leaving the interpreter with requests still queued."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from pathlib import Path

import pytest
import requests

from requests_futures import FuturesSession
from requests_futures._lifecycle import at_exit as _shutdown

from ..conftest import LONG, worker_threads
from ..faults import FaultServer
from .test_faults import _wait_for

HANG_TIMEOUT = 0.5


@pytest.mark.waits
def test_close_with_1000_queued_requests_cancels_them_at_once(faults: FaultServer) -> None:
    workers = 4
    # Long enough that no running request times out (freeing its worker for a
    # queued one) before close() has cancelled the queue, even under load.
    hang_timeout = 4 * HANG_TIMEOUT
    session = FuturesSession(max_workers=workers, timeout=(LONG, hang_timeout))
    futures = [session.get(f"{faults.url}/hang/{n}") for n in range(1000)]
    _wait_for(faults, "hang", workers)  # the first ones are running
    start = time.monotonic()
    session.close()
    elapsed = time.monotonic() - start
    assert elapsed < hang_timeout + 2
    assert not wait(futures, timeout=0).not_done
    cancelled = [f for f in futures if f.cancelled()]
    ran = [f for f in futures if not f.cancelled()]
    assert len(cancelled) >= 1000 - workers
    assert len(ran) <= workers
    assert all(isinstance(f.exception(timeout=0), requests.ReadTimeout) for f in ran)
    assert not worker_threads()
    assert faults.stats()["received"]["hang"] <= workers


SCRIPT = """
    import signal, sys
    from requests_futures import FuturesSession

    # A child inherits an ignored SIGINT from a parent started in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    url, how = sys.argv[1], sys.argv[2]
    session = FuturesSession(max_workers=2, timeout=1)
    futures = [session.get(f"{url}/hang/{n}") for n in range(200)]
    print("submitted", flush=True)
    if how == "sigint":
        futures[-1].result(timeout=120)  # interrupted by the test
"""


@pytest.mark.parametrize("how", ["end", "sigint"])
@pytest.mark.waits
def test_interpreter_exit_does_not_wait_for_queued_requests(
    faults: FaultServer, tmp_path: Path, how: str
) -> None:
    """200 requests to a server that never answers, 2 workers, timeout 1 s.

    Were the queue drained at exit, leaving would take 100 s.
    """
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(SCRIPT))
    process = subprocess.Popen(
        [sys.executable, str(script), faults.url, how],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "submitted\n"
        _wait_for(faults, "hang", 2)
        start = time.monotonic()
        if how == "sigint":
            process.send_signal(signal.SIGINT)
        code = process.wait(1 + LONG)
        elapsed = time.monotonic() - start
    finally:
        process.kill()
        _, stderr = process.communicate()
    assert elapsed < 1 + LONG
    assert faults.stats()["received"]["hang"] <= 4
    if how == "end":
        assert code == 0
    else:
        assert "KeyboardInterrupt" in stderr
    assert "198 queued requests" in stderr  # said, not dropped silently


def test_exit_hook_cancels_queued_requests_of_live_sessions_only(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The hook itself, in this process (the tests above run it at a real exit)."""
    session = FuturesSession(max_workers=1, timeout=(LONG, HANG_TIMEOUT))
    closed = FuturesSession()
    closed.close()

    class Broken:  # a tracked object the hook cannot handle must not stop it
        pass

    broken = Broken()
    tracked = weakref.WeakSet([broken, session, closed])
    monkeypatch.setattr(_shutdown, "_sessions", tracked)
    futures = [session.get(f"{faults.url}/hang/{n}") for n in range(10)]
    _wait_for(faults, "hang", 1)
    with caplog.at_level(logging.DEBUG, logger="requests_futures"):
        _shutdown._at_exit()
    assert "9 queued requests cancelled at interpreter exit" in caplog.text
    assert "could not cancel" in caplog.text
    assert sum(f.cancelled() for f in futures) == 9
    with pytest.raises(RuntimeError, match="closed"):
        session.get(faults.url + "/ok/1")
    assert isinstance(futures[0].exception(timeout=LONG), requests.ReadTimeout)
    session.close()
    assert not worker_threads()


def test_exit_hook_says_nothing_when_nothing_was_queued(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session = FuturesSession()
    monkeypatch.setattr(_shutdown, "_sessions", weakref.WeakSet([session]))
    with caplog.at_level(logging.DEBUG, logger="requests_futures"):
        _shutdown._at_exit()
    assert caplog.records == []
    session.close()


def test_another_executor_is_only_shut_down() -> None:
    class Plain(Executor):
        shut = False

        def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
            self.shut = cancel_futures

    executor = Plain()
    assert _shutdown.cancel_queued(executor) == 0
    assert executor.shut


def test_a_closed_session_is_no_longer_tracked() -> None:
    session = FuturesSession()
    assert session in _shutdown._sessions
    session.close()
    assert session not in _shutdown._sessions
    with FuturesSession(executor=ThreadPoolExecutor(1)) as supplied:
        assert supplied not in _shutdown._sessions
        supplied.executor.shutdown()
