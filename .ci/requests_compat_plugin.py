"""A pytest plugin: requests' own suite, with every Session a FuturesSession.

Loaded with ``-p requests_compat_plugin`` by ``.ci/requests_compat.py``.  At
load time, before any test module imports ``requests``' names, it replaces
``requests.Session``, ``requests.sessions.Session`` and ``requests.session()``
(and with them ``requests.get()`` and friends, which make a session per call)
by :class:`SyncFuturesSession`: a FuturesSession whose ``request()`` and
``send()`` wait for their future, so tests written for ``requests`` see a
``Response`` (or the very exception) where they expect one.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import requests
import requests.sessions

from requests_futures import FuturesSession


def _waited(value: Any) -> Any:
    # Inside a worker, requests' own calls of send() stay synchronous and
    # return the Response itself.
    return value.result() if isinstance(value, Future) else value


class SyncFuturesSession(FuturesSession):
    """A FuturesSession that waits for each call: a drop-in for requests.Session."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        return _waited(super().request(*args, **kwargs))

    def send(self, request: Any, **kwargs: Any) -> Any:
        return _waited(super().send(request, **kwargs))


def _session() -> SyncFuturesSession:
    return SyncFuturesSession()


requests.Session = requests.sessions.Session = SyncFuturesSession  # type: ignore[misc]
requests.session = requests.sessions.session = _session
