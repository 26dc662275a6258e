"""The interpreter-exit hook of ``_lifecycle.at_exit``: when it cancels, when it must not.

Leaving with requests queued against a hanging server is proven in
``tests/reliability/test_shutdown.py``; here, a program whose main thread ends
while another thread still uses the session.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import requests

from requests_futures import FuturesSession
from requests_futures._lifecycle import at_exit as _shutdown

from .conftest import LONG
from .server import LoopbackServer

CRAWLER = """
    import sys
    import threading
    from requests_futures import FuturesSession

    url = sys.argv[1]
    session = FuturesSession(max_workers=1)
    submitted = threading.Event()

    def crawl():
        futures = [session.get(url) for _ in range(4)]
        submitted.set()
        for future in futures:
            print(future.result(timeout=60).status_code, flush=True)

    threading.Thread(target=crawl).start()
    submitted.wait(60)
    # The main thread ends here, three requests still queued.
"""


def test_queued_requests_run_while_another_thread_waits_for_them(
    server: LoopbackServer, tmp_path: Path
) -> None:
    script = tmp_path / "crawler.py"
    script.write_text(textwrap.dedent(CRAWLER))
    done = subprocess.run(
        [sys.executable, str(script), server.url + "/delay?ms=100"],
        capture_output=True,
        text=True,
        timeout=6 * LONG,
        check=False,
    )
    assert done.stdout.split() == ["200"] * 4, done.stderr
    assert "cancelled at interpreter exit" not in done.stderr
    assert done.returncode == 0
    assert server.counters.requests == 4


WAITING = """
    import sys
    from requests_futures import FuturesSession

    session = FuturesSession(max_workers=2, rate=0.1)
    futures = [session.get(sys.argv[1]) for _ in range(5)]
    print(futures[0].result(timeout=60).status_code, flush=True)
    # The main thread ends here, four requests waiting 10 s apart for their rate.
"""


def test_the_exit_hook_cancels_the_requests_the_scheduler_holds(
    server: LoopbackServer, tmp_path: Path
) -> None:
    script = tmp_path / "waiting.py"
    script.write_text(textwrap.dedent(WAITING))
    done = subprocess.run(
        [sys.executable, str(script), server.url + "/echo"],
        capture_output=True,
        text=True,
        timeout=6 * LONG,
        check=False,
    )
    assert done.stdout.split() == ["200"], done.stderr
    assert "4 queued requests cancelled at interpreter exit" in done.stderr
    assert done.returncode == 0
    assert server.counters.requests == 1


def _thread(daemon: bool, release: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=release.wait, args=(LONG,), daemon=daemon)
    thread.start()
    return thread


def test_which_threads_keep_the_program_going(
    monkeypatch: pytest.MonkeyPatch, refused_url: str
) -> None:
    release = threading.Event()
    daemon, user = _thread(True, release), _thread(False, release)
    session = FuturesSession(max_workers=1)
    session.executor.submit(int).result(timeout=LONG)  # starts its worker
    workers = list(getattr(session.executor, "_threads", ()))
    main = threading.main_thread()
    monkeypatch.setattr(_shutdown, "_sessions", {session})
    try:
        monkeypatch.setattr(threading, "enumerate", lambda: [main, daemon, *workers])
        assert not _shutdown._others_still_running()
        monkeypatch.setattr(threading, "enumerate", lambda: [main, daemon, user, *workers])
        assert _shutdown._others_still_running()
        # The hook then leaves the session alone.
        _shutdown._exit_hook()
        with pytest.raises(requests.ConnectionError):  # it still runs requests
            session.get(refused_url).result(timeout=LONG)
    finally:
        release.set()
        session.close()
    monkeypatch.setattr(threading, "enumerate", lambda: [main])
    open_session = FuturesSession()
    monkeypatch.setattr(_shutdown, "_sessions", {open_session})
    _shutdown._exit_hook()
    with pytest.raises(RuntimeError, match="closed"):
        open_session.get(refused_url)
    open_session.close()


def test_the_hook_cancels_when_it_cannot_tell_which_threads_run(
    monkeypatch: pytest.MonkeyPatch, refused_url: str
) -> None:
    def broken() -> list[threading.Thread]:
        raise RuntimeError("no threads for you")

    session = FuturesSession()
    monkeypatch.setattr(_shutdown, "_sessions", {session})
    monkeypatch.setattr(threading, "enumerate", broken)
    _shutdown._exit_hook()
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="closed"):
        session.get(refused_url)
    session.close()
