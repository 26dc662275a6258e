"""The logic behind :meth:`FuturesSession.map`: a bounded, lazy window."""

from __future__ import annotations

import concurrent.futures
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, wait
from typing import TYPE_CHECKING, Any

from requests import Request

from ._future import Future

if TYPE_CHECKING:  # pragma: no cover
    from requests.models import Response

    from .sessions import FuturesSession

#: The window when the executor's worker count cannot be learned.
DEFAULT_WINDOW = 32


def _failed(exc: BaseException) -> Future[Response]:
    future: Future[Response] = Future()
    future.set_exception(exc)
    return future


def _submit(session: FuturesSession, item: Any) -> Future[Response]:
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
    session: FuturesSession,
    items: Iterable[Any],
    *,
    window: int | None = None,
    ordered: bool = True,
) -> Iterator[tuple[Any, Future[Response]]]:
    """Validate at the call, then return the lazy generator."""
    if window is None:
        workers = getattr(session.executor, "_max_workers", None)
        window = 2 * workers if isinstance(workers, int) and workers > 0 else DEFAULT_WINDOW
    if isinstance(window, bool) or not isinstance(window, int):
        raise TypeError(f"window must be an int, got {type(window).__name__}")
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if session._closed:
        raise RuntimeError("this FuturesSession is closed; create a new one")
    iterator = iter(items)
    if ordered:
        return _ordered(session, iterator, window)
    return _unordered(session, iterator, window)


def _ordered(
    session: FuturesSession, items: Iterator[Any], window: int
) -> Iterator[tuple[Any, Future[Response]]]:
    pending: deque[tuple[Any, Future[Response]]] = deque()
    try:
        while True:
            while len(pending) < window:
                item = next(items, _END)
                if item is _END:
                    break
                pending.append((item, _submit(session, item)))
            if not pending:
                return
            item, future = pending.popleft()
            wait((future,))
            yield item, future
    finally:
        _cancel(f for _, f in pending)


def _unordered(
    session: FuturesSession, items: Iterator[Any], window: int
) -> Iterator[tuple[Any, Future[Response]]]:
    pending: dict[concurrent.futures.Future[Any], Any] = {}
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                item = next(items, _END)
                if item is _END:
                    exhausted = True
                    break
                pending[_submit(session, item)] = item
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future  # type: ignore[misc]
    finally:
        _cancel(pending)


def _cancel(futures: Iterable[concurrent.futures.Future[Any]]) -> None:
    for future in futures:
        future.cancel()


_END = object()
