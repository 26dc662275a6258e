from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..faults import FaultServer

SEED = 20261125


@pytest.fixture(scope="session")
def _fault_server() -> Iterator[FaultServer]:
    with FaultServer(SEED) as server:
        yield server


@pytest.fixture
def faults(_fault_server: FaultServer) -> FaultServer:
    """The fault server (a subprocess), its counters zeroed for this test."""
    _fault_server.reset()
    return _fault_server
