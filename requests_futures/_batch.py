"""The logic behind :meth:`FuturesSession.map`: a bounded, lazy window.

The caller's context is taken when ``map()`` is called: every item is
submitted inside it, so each request runs in a copy of it, however late and
from whichever thread the results are iterated.
"""

from __future__ import annotations

import weakref
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from concurrent.futures import Future as BaseFuture
from concurrent.futures import wait
from itertools import islice
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any, TypeVar, cast

from requests import Request

from ._future import Future
from ._handoff import InCallerContext
from ._pools import worker_count

if TYPE_CHECKING:  # pragma: no cover
    from requests.models import Response

    from ._state import DeferringSession

#: The window when the executor's worker count cannot be learned.
DEFAULT_WINDOW = 32

#: What ``map()`` accepts as one item.
MapItem = str | bytes | Request | Mapping[str, Any]

#: The item type of one ``map()`` call, handed back with each future.
ItemT = TypeVar("ItemT", bound=MapItem)

#: What ``map()`` returns.
MapResults = Generator[tuple[ItemT, "Future[Response]"], None, None]


def _failed(exc: BaseException) -> Future[Response]:
    future: Future[Response] = Future()
    future.set_exception(exc)
    return future


def _submit(session: DeferringSession, item: object) -> Future[Response]:
    """Submit one item; a bad item gives a future that holds the error."""
    try:
        if isinstance(item, (str, bytes)):
            return session.request("GET", item)
        if isinstance(item, Request):
            return session.request(
                item.method or "GET",
                item.url,
                params=item.params,
                data=item.data,
                headers=item.headers,
                cookies=item.cookies,
                files=item.files,
                auth=item.auth,
                hooks=item.hooks,
                json=item.json,
            )
        if isinstance(item, Mapping):
            kwargs = dict(item)
            return session.request(kwargs.pop("method", "GET"), kwargs.pop("url"), **kwargs)
        raise TypeError(
            "map() items must be URLs, requests.Request objects or mappings of "
            f"request() arguments; got {type(item).__name__}"
        )
    except RuntimeError:
        raise  # the session was closed under us: stop the whole map
    except Exception as exc:  # noqa: BLE001 - the item's error belongs in its future
        if isinstance(exc, KeyError) and isinstance(item, Mapping):
            exc = TypeError("map() mapping items need a 'url' key")
        return _failed(exc)


def map_requests(
    session: DeferringSession,
    items: Iterable[ItemT],
    *,
    window: int | None = None,
    ordered: bool = True,
) -> MapResults[ItemT]:
    """Validate at the call, then return the lazy generator."""
    if window is None:
        workers = worker_count(session.executor)
        window = DEFAULT_WINDOW if workers is None else 2 * workers
    if isinstance(window, bool) or not isinstance(window, int):
        raise TypeError(f"window must be an int, got {type(window).__name__}")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    session._ensure_open()
    iterator = iter(items)
    context = InCallerContext()  # now, not when the generator is iterated
    if ordered:
        return _ordered(session, iterator, window, context)
    return _unordered(session, iterator, window, context)


def _ordered(
    session: DeferringSession, items: Iterator[ItemT], window: int, context: InCallerContext
) -> MapResults[ItemT]:
    pending: deque[tuple[ItemT, Future[Response]]] = deque()
    try:
        while True:
            for item in islice(items, window - len(pending)):
                pending.append((item, context(_submit, session, item)))
            if not pending:
                return
            item, future = pending.popleft()
            wait((future,))
            yield item, future
    finally:
        _cancel(f for _, f in pending)


def _unordered(
    session: DeferringSession, items: Iterator[ItemT], window: int, context: InCallerContext
) -> MapResults[ItemT]:
    # Each future reports itself done on a queue: one wake-up per request,
    # not a wait() that hooks into every pending future each time round.
    pending: dict[Future[Response], ItemT] = {}
    finished: SimpleQueue[BaseFuture[Response]] = SimpleQueue()
    report = _reporter(weakref.ref(finished))
    exhausted = False
    try:
        while True:
            if not exhausted:
                room = window - len(pending)
                for item in islice(items, room):
                    future = context(_submit, session, item)
                    pending[future] = item
                    future.add_done_callback(report)
                    room -= 1
                exhausted = room > 0
            if not pending:
                return
            future = cast("Future[Response]", finished.get())  # one of ours, from pending
            yield pending.pop(future), future
    finally:
        _cancel(pending)


def _reporter(
    finished: weakref.ReferenceType[SimpleQueue[BaseFuture[Response]]],
) -> Callable[[BaseFuture[Response]], None]:
    """A done-callback that puts its future on ``finished`` while it exists.

    Weakly: a request that ends after the generator was dropped keeps
    neither the queue nor the futures on it alive.
    """

    def report(future: BaseFuture[Response]) -> None:
        queue = finished()
        if queue is not None:
            queue.put(future)

    return report


def _cancel(futures: Iterable[Future[Any]]) -> None:
    for future in futures:
        future.cancel()
