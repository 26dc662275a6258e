"""Identical requests in flight are sent once: ``FuturesSession(coalesce=True)``.

A GET or HEAD without a body, files, ``stream=True``, hooks of its own or a
``background_callback`` that is identical to one still in flight (from its
submission until its result is set) is not sent again: it waits for that
one's outcome.  Identical: the same method, full URL (params included),
effective headers, auth, cookies, ``timeout``, ``verify``, ``cert``,
``proxies`` and ``allow_redirects`` (see :func:`identity`).  The shared
request runs once, as the first caller submitted it (in its context), by the
session's usual route; every caller has a future of its own and gets a
:class:`~requests.Response` of its own (:func:`own_copy`).  It is not a cache:
once the result is set, the next identical call sends again::

    coalescer = Coalescer(session, session._submit)
    session._submit = coalescer.submit
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Hashable, Mapping
from concurrent.futures import Future as _ExecutorFuture
from concurrent.futures import InvalidStateError
from typing import TYPE_CHECKING, Any

from requests import PreparedRequest, Response
from requests.auth import HTTPBasicAuth
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from urllib3.util import Timeout

from ._future import Future
from ._worker import close_quietly

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from requests import Session

    from ._state import BackgroundCallback, DeferringSession

    Route = Callable[
        [str, BackgroundCallback | None, tuple[Any, ...], dict[str, Any]], Future[Any]
    ]

#: The methods whose identical requests may share one answer.
_SHARED_METHODS = frozenset({"GET", "HEAD"})


def check_coalesce(coalesce: object) -> bool:
    """:raises TypeError: unless ``coalesce`` is a bool (``1`` is not)."""
    if not isinstance(coalesce, bool):
        raise TypeError(f"coalesce must be True or False, got {coalesce!r}")
    return coalesce


def _frozen(value: Any) -> Hashable:
    """A hashable stand-in for a mapping, list or value of a request's settings."""
    if isinstance(value, Mapping):
        return frozenset((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    if isinstance(value, HTTPBasicAuth):  # equal by value, not hashable
        return (type(value), value.username, value.password)
    if isinstance(value, Timeout):  # hashable by identity only
        return str(value)
    hash(value)  # TypeError: not coalesced
    return value  # type: ignore[no-any-return]


def _merged(call: Any, session: Any, kind: type[Any]) -> Any:
    """A call's setting merged over the session's, as ``requests`` merges them."""
    if session is None or not isinstance(call, Mapping) or not isinstance(session, Mapping):
        return session if call is None else call
    merged = kind(session)
    merged.update(call)
    for name in [name for name, value in call.items() if value is None]:
        del merged[name]
    return merged


def identity(runner: Session, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable | None:
    """What makes a ``request()`` call identical to another, or None: it is sent on its own.

    ``runner`` is the session that makes the call: its headers, params,
    cookies, auth, proxies, ``verify`` and ``cert`` as they are now take part.
    """
    if len(args) != 2 or not isinstance(args[0], str):
        return None
    method, url = args[0].upper(), args[1]
    if method not in _SHARED_METHODS:
        return None
    get = kwargs.get
    try:
        if get("stream") or runner.stream or get("data") or get("files"):
            return None
        hooks = get("hooks")
        if get("json") is not None or (hooks and any(hooks.values())):
            return None
        prepared = PreparedRequest()
        prepared.prepare_url(url, _merged(get("params"), runner.params, dict))
        headers = _merged(get("headers"), runner.headers, CaseInsensitiveDict)
        jar = RequestsCookieJar()
        jar.update(runner.cookies)
        cookies = get("cookies")
        if isinstance(cookies, Mapping):
            for name, value in cookies.items():
                jar.set(name, value)
        elif cookies is not None:
            jar.update(cookies)
        return (
            method,
            prepared.url,
            frozenset(headers.lower_items()),
            _frozen(get("auth") or runner.auth),
            frozenset((c.name, c.value, c.domain, c.path) for c in jar),
            _frozen(get("timeout")),
            _frozen((get("verify"), get("cert"), get("proxies"), get("allow_redirects", True))),
            _frozen((runner.verify, runner.cert, runner.proxies)),
        )
    except Exception:  # noqa: BLE001 - a bad URL or odd setting: the request says so on its own
        return None


def own_copy(response: Response) -> Response:
    """A response of its own: changing its headers, encoding or status changes no other."""
    clone = object.__new__(type(response))
    clone.__dict__.update(response.__dict__)
    clone.headers = response.headers.copy()
    clone.cookies = response.cookies.copy()
    clone.history = list(response.history)
    request = response.request
    if request is not None:
        clone.request = request.copy()
    return clone


def _settle_one(future: Future[Any], result: Any, error: BaseException | None) -> None:
    """Set a caller's future, unless it was cancelled meanwhile."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


class _Flight:
    """One request in flight and the futures of everyone waiting for it."""

    __slots__ = ("callers", "key", "shared")

    def __init__(self, key: Hashable) -> None:
        self.key = key
        self.callers: list[Future[Any]] = []
        self.shared: Future[Any] | None = None


class Coalescer:
    """``session._submit`` for ``coalesce=True``: identical requests in flight sent once.

    :param session: the FuturesSession.
    :param route: how its requests reach the executor (its ``_submit`` before).
    """

    def __init__(self, session: DeferringSession, route: Route) -> None:
        self._session = session
        self._route = route
        self._lock = threading.Lock()
        self._flights: dict[Hashable, _Flight] = {}

    def submit(
        self,
        verb: str,
        callback: BackgroundCallback | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Future[Any]:
        """Join an identical request in flight, or send this one for all who come."""
        key = None
        if verb == "request" and callback is None:
            session = self._session
            key = identity(session._target or session, args, kwargs)
        if key is None:
            return self._route(verb, callback, args, kwargs)
        with self._lock:
            flight = self._flights.get(key)
            first = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight(key)
            mine = self._join(flight)
        if not first:
            return mine
        try:
            shared = self._route(verb, callback, args, kwargs)
        except BaseException as exc:
            mine.cancel()  # the caller gets the error itself; others who joined get it too
            self._settle(flight, None, exc)
            raise
        with self._lock:
            # Nobody can have cancelled ``mine`` yet: the flight is not abandoned.
            flight.shared = shared
        shared.add_done_callback(lambda done: self._settle(flight, done, None))
        return mine

    def _join(self, flight: _Flight) -> Future[Any]:
        """A caller's own future for ``flight`` (with the lock held)."""
        future: Future[Any] = Future()
        flight.callers.append(future)
        future.add_done_callback(lambda done: self._left(flight, done))
        return future

    def _left(self, flight: _Flight, future: _ExecutorFuture[Any]) -> None:
        """A caller's future is done: cancelled, and nobody waits any more? Cancel the request."""
        if not future.cancelled():
            return
        with self._lock:
            if any(not caller.done() for caller in flight.callers):
                return
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            shared = flight.shared
        if shared is not None:
            shared.cancel()  # if it has not started; else it finishes for nobody

    def _settle(
        self, flight: _Flight, shared: _ExecutorFuture[Any] | None, error: BaseException | None
    ) -> None:
        """The shared request is done: each caller still waiting gets the outcome."""
        with self._lock:
            if self._flights.get(flight.key) is flight:
                del self._flights[flight.key]
            waiting = [caller for caller in flight.callers if not caller.done()]
        result = None
        if shared is not None:
            if shared.cancelled():
                for caller in waiting:
                    caller.cancel()
                return
            error = shared.exception()
            if error is None:
                result = shared.result()
        if error is not None or not isinstance(result, Response):
            for caller in waiting:
                _settle_one(caller, result, error)
            return
        if not waiting:
            close_quietly(result)
            return
        # Every copy made before any caller can see (and change) one.
        results = [result, *(own_copy(result) for _ in waiting[1:])]
        attempts = getattr(shared, "attempts", 1)
        for caller, response in zip(waiting, results, strict=True):
            caller.attempts = attempts
            _settle_one(caller, response, None)
