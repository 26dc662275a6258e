from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from .server import LoopbackServer

# Timing allowances: generous, and more so on a loaded CI machine.
SHORT = 0.3
LONG = 10.0 if os.environ.get("CI") else 5.0


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


@pytest.fixture
def refused_url() -> str:
    """A loopback URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("requests-futures")]
