"""Asynchronous Python HTTP for humans: requests that return futures.

::

    from requests_futures import FuturesSession

    session = FuturesSession()
    future = session.get("http://127.0.0.1:8000/")
    print(future.result().status_code)
"""

from __future__ import annotations

from ._deadline import DeadlineExceeded
from ._future import Future
from ._scheduling.adaptive import HostStats
from .sessions import FuturesSession

__version__ = "2.0.0.dev0"

__all__ = ["DeadlineExceeded", "Future", "FuturesSession", "HostStats", "__version__"]
