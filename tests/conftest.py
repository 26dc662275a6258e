from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

from .server import LoopbackServer

if TYPE_CHECKING:
    import requests

    from requests_futures import FuturesSession

# Timing allowances: generous, and more so on a loaded CI machine.
SHORT = 0.3
LONG = 10.0 if os.environ.get("CI") else 5.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The long runs first, then the tests that mostly wait, then the rest.

    ``--dist loadgroup`` hands the tests out one at a time in this order: the
    two ``reliability`` runs (~20 s of CPU each) start at once on workers of
    their own, the ``waits`` tests overlap them at little CPU cost, and the
    rest fill in.  A plain run is only reordered, never changed.
    """

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("reliability") is not None:
            return 0
        return 1 if item.get_closest_marker("waits") is not None else 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def _server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(_server: LoopbackServer) -> Iterator[LoopbackServer]:
    """The loopback test server, its counters zeroed for this test."""
    _server.reset()
    yield _server
    _server.reset()


@pytest.fixture(scope="session")
def _server_b() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def server_b(_server_b: LoopbackServer) -> Iterator[LoopbackServer]:
    """A second loopback server: another port, so another origin."""
    _server_b.reset()
    yield _server_b
    _server_b.reset()


def eventually(condition: Callable[[], bool], timeout: float = LONG) -> bool:
    """Whether ``condition()`` becomes true within ``timeout`` (polled every 5 ms).

    For states no event announces (a future waiting in the scheduler).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def child() -> Iterator[list[subprocess.Popen[str]]]:
    """Children started by a test; killed if the test leaves one running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(LONG)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("requests-futures")]


def threads_of_ours(session: FuturesSession, response: requests.Response) -> list[str]:
    """A background_callback: our threads where it runs (a worker process, a Dask worker)."""
    started = getattr(session.executor, "_threads", ())
    return [t.name for t in worker_threads()] + [
        f"started by {session!r}: {t.name}" for t in started
    ]
