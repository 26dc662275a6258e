"""The future returned by :class:`~requests_futures.sessions.FuturesSession`."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Generator
from typing import Any, TypeVar

_T = TypeVar("_T")


class Future(concurrent.futures.Future[_T]):
    """A :class:`concurrent.futures.Future` that can also be awaited.

    It is a plain ``concurrent.futures.Future`` in every other respect, so
    ``result()``, ``add_done_callback()``, ``wait()`` and ``as_completed()``
    work as usual.  Inside a coroutine, ``await future`` suspends the task (not
    the event loop) until the request is done::

        response = await session.get(url)

    Cancelling the awaiting task cancels the request if it has not started yet.

    .. versionadded:: 2.0
    """

    def __await__(self) -> Generator[Any, None, _T]:
        return asyncio.wrap_future(self).__await__()


def adopt(future: concurrent.futures.Future[_T]) -> concurrent.futures.Future[_T]:
    """Make an executor's plain future awaitable, in place, when it is safe.

    Executors in the standard library (and Dask's ``ClientExecutor``) hand out
    exact ``concurrent.futures.Future`` instances.  Our subclass adds methods
    and no state, so switching the class of such an instance changes nothing
    but what it can do.  A future of any other class is returned untouched.
    """
    if type(future) is concurrent.futures.Future:
        future.__class__ = Future
    return future
