"""The future returned by :class:`~requests_futures.sessions.FuturesSession`."""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
from collections.abc import Generator
from concurrent.futures._base import (
    CANCELLED_AND_NOTIFIED,
    FINISHED,
    PENDING,
    RUNNING,
)
from typing import Any, NoReturn, TypeVar, cast

from . import _watchdog

_T = TypeVar("_T")

logger = logging.getLogger(__name__)


class Future(concurrent.futures.Future[_T]):
    """A :class:`concurrent.futures.Future` that can also be awaited.

    It is a plain ``concurrent.futures.Future`` in every other respect, so
    ``result()``, ``add_done_callback()``, ``wait()`` and ``as_completed()``
    work as usual.  Inside a coroutine, ``await future`` suspends the task (not
    the event loop) until the request is done::

        response = await session.get(url)

    Cancelling the awaiting task gives up on the request as :meth:`abort`
    does: at once, whether it was waiting or running.

    A done-callback that raises, even ``SystemExit`` or ``KeyboardInterrupt``,
    is logged and dropped (``concurrent.futures`` drops only an
    ``Exception``): the worker or timer that settled the future goes on.

    .. versionadded:: 2.0
    """

    #: How many times the request was sent: more than 1 when it was retried
    #: (``FuturesSession(retries=...)``), 0 when a session that schedules its
    #: requests cancelled it in its own queue, before a first attempt was
    #: handed to the executor (one cancelled in the executor's queue counts 1).
    #:
    #: .. versionadded:: 2.0
    attempts: int = 1

    #: Settled before its worker was done with it (a deadline, an abort):
    #: what the worker sets later is dropped.
    _early = False

    def __await__(self) -> Generator[Any, None, _T]:
        # Imported here: asyncio costs every ``import requests_futures`` ~30 ms.
        import asyncio

        waiting = asyncio.wrap_future(self)
        waiting.add_done_callback(self._awaited)
        return waiting.__await__()

    def _awaited(self, waiting: Any) -> None:
        if waiting.cancelled():  # the awaiting task was cancelled: give up on the request
            self.abort()

    def abort(self) -> bool:
        """Give up on the request now, even if it is running: end it cancelled.

        A request still waiting is cancelled as ``cancel()`` would.  One
        running is stopped where it is: the socket it uses is shut down (the
        server sees the connection closed, and the connection is not reused),
        its worker is free again at once, and the future ends cancelled
        (``cancelled()`` is True, ``result()`` raises
        :class:`~concurrent.futures.CancelledError`) right away, without
        waiting for the worker.  What the request does after that is
        dropped.  Only a request in a thread of this process can be stopped:
        with a process pool or Dask, the future ends cancelled and the
        request goes on in its worker until its own ``timeout``.

        :returns: True if the future ends cancelled by this call (or had been
            cancelled already), False if it was done already.

        .. versionadded:: 2.0
        """
        if self.cancel():
            return True
        if not self._settle_early(None):
            return self.cancelled()
        _watchdog.keep_aborting([self])
        return True

    def _give_up(self, error: BaseException | None) -> list[object]:
        """Settle with ``error`` (None: cancelled) unless done; return what may run it."""
        return [self] if self._settle_early(error) else []

    def _settle_early(self, error: BaseException | None) -> bool:
        """Settle the future now, pending or running (None: cancelled); False if done."""
        with self._condition:
            if self._state not in (PENDING, RUNNING):
                return False
            self._early = True
            if error is None:
                self._state = CANCELLED_AND_NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
            else:
                self._exception = error
                self._state = FINISHED
                for waiter in self._waiters:
                    waiter.add_exception(self)
            self._condition.notify_all()
        self._invoke_callbacks()
        return True

    # The executor's worker (or a process pool's thread) settles the future
    # when the call returns; after an early settlement that is dropped, since
    # an InvalidStateError there would end the worker thread.

    def set_running_or_notify_cancel(self) -> bool:
        """As :class:`concurrent.futures.Future`'s; False once settled early (never run)."""
        with self._condition:  # reentrant: the base class takes it again
            if self._early:
                return False
            return super().set_running_or_notify_cancel()

    def set_result(self, result: _T) -> None:
        """As :class:`concurrent.futures.Future`'s; ignored once settled early."""
        try:
            super().set_result(result)
        except concurrent.futures.InvalidStateError:
            if not self._early:
                raise

    def set_exception(self, exception: BaseException | None) -> None:
        """As :class:`concurrent.futures.Future`'s; ignored once settled early."""
        try:
            super().set_exception(exception)
        except concurrent.futures.InvalidStateError:
            if not self._early:
                raise

    def _invoke_callbacks(self) -> None:
        for callback in self._done_callbacks:  # type: ignore[attr-defined]
            try:
                callback(self)
            except BaseException:  # logged and dropped: see the class docstring
                logger.exception("exception calling callback for %r", self)


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
