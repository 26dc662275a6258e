"""The future returned by :class:`~requests_futures.sessions.FuturesSession`."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
from collections.abc import Generator
from typing import Any, NoReturn, TypeVar, cast

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

    #: How many times the request was sent: more than 1 when it was retried
    #: (``FuturesSession(retries=...)``), 0 when a session that schedules its
    #: requests cancelled it in its own queue, before a first attempt was
    #: handed to the executor (one cancelled in the executor's queue counts 1).
    #:
    #: .. versionadded:: 2.0
    attempts: int = 1

    def __await__(self) -> Generator[Any, None, _T]:
        # Imported here: asyncio costs every ``import requests_futures`` ~30 ms.
        import asyncio

        return asyncio.wrap_future(self).__await__()


def _missing_attribute(self: Future[Any], name: str) -> NoReturn:
    """``Future.__getattr__``: only reached for a name the future does not have.

    Normal attribute access never comes here, so it costs nothing.  Set with
    ``setattr`` below, out of sight of type checkers, which keep reporting
    unknown attributes of a future as errors.
    """
    message = f"{type(self).__name__!r} object has no attribute {name!r}"
    if name in _response_names():
        message += (
            f"; this is a future of the response: call .result() first "
            f"(future.result().{name}), or 'await' it in a coroutine"
        )
    raise AttributeError(message, name=name, obj=self)


@functools.cache
def _response_names() -> frozenset[str]:
    """The public attribute names of a :class:`requests.Response` (class and instance)."""
    from requests import Response

    names = {*dir(Response), *vars(Response())}
    return frozenset(name for name in names if not name.startswith("_"))


setattr(Future, "__getattr__", _missing_attribute)  # noqa: B010 - hidden from type checkers


#: For each future class of a foreign executor, its awaitable subclass.
_awaitable_classes: dict[type[concurrent.futures.Future[Any]], type[Future[Any]]] = {}


def _awaitable_class(cls: type[concurrent.futures.Future[Any]]) -> type[Future[Any]]:
    awaitable = _awaitable_classes.get(cls)
    if awaitable is None:
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        awaitable = type(cls.__name__, (cls, Future), namespace)
        _awaitable_classes[cls] = awaitable
    return awaitable


def adopt(future: concurrent.futures.Future[_T]) -> Future[_T]:
    """Make an executor's future awaitable, in place: the same object.

    Executors in the standard library (and Dask's ``ClientExecutor``) hand out
    exact ``concurrent.futures.Future`` instances.  Our subclass adds methods
    and no state, so switching the class of such an instance changes nothing
    but what it can do.  A future of another executor's own subclass becomes
    an instance of a subclass of both, so it keeps its class's behaviour.  In
    the unlikely case Python refuses the switch, the future is returned as it
    is (still a ``concurrent.futures.Future``, just not awaitable).
    """
    if isinstance(future, Future):
        return future
    cls = type(future)
    # TypeError: a class that refuses subclasses, or a layout Python will not switch.
    with contextlib.suppress(TypeError):
        future.__class__ = Future if cls is concurrent.futures.Future else _awaitable_class(cls)
    return cast("Future[_T]", future)
