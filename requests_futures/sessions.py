"""FuturesSession: a ``requests.Session`` whose requests run in an executor.

::

    from requests_futures.sessions import FuturesSession

    with FuturesSession(max_workers=8) as session:
        futures = [session.get(url) for url in urls]
        for future in futures:
            print(future.result().status_code)

The path of one request, one module a stage, data flowing one way:

1. The call and its checks: this module (the API), :mod:`._checks`,
   :mod:`._signature` (requests' own signature), :mod:`._deadline`'s value.
2. What is taken at the call: :mod:`._handoff` (the caller's context, thread
   state of auth hooks), :mod:`._copies` (the arguments the caller may change).
3. Coalescing (``coalesce=True``): :mod:`._coalesce` joins a call to an
   identical one in flight.
4. The deadline: :mod:`._deadline` arms the :mod:`._watchdog`, which gives
   up on the request when it passes (:mod:`._abort` shuts its socket).
5. The route: :mod:`._routes` picks the session's own pool, the scheduler
   (:mod:`._scheduling`: origins, queues and slots, timers and pauses,
   retries, adaptive limits, stopping), or another process (:mod:`._remote`).
6. The worker: :mod:`._worker` sends with requests' own ``Session`` methods;
   :mod:`._body` reads the body in one call after the response hooks; then
   ``background_callback`` runs.
7. The future: :mod:`._future` (awaitable; ``abort()``).

Beside the path: :mod:`._state` (what those modules know of a session),
:mod:`._lifecycle` (open, copy, fork, close, exit), :mod:`._pools` and
:mod:`._pool_cache` (connections kept per host), :mod:`._environment`,
:mod:`._batch` (``map``), :mod:`._cli` (the tool, never imported here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, cast

from requests import Request, Session
from urllib3.util import Timeout as _Urllib3Timeout

from ._batch import ItemT, MapResults, map_requests
from ._body import BodyReading
from ._chain import default_timeout, resolve
from ._checks import check_callback, check_executor_and_session, check_timeout, politeness
from ._coalesce import check_coalesce
from ._copies import take_arguments
from ._deadline import SESSION_DEFAULT, check_deadline, submit_within
from ._environment import CachedEnvironment
from ._future import Future
from ._handoff import InCallerContext, carry_thread_state
from ._lifecycle import session as _lifecycle
from ._lifecycle.session import DEFAULT_MAX_WORKERS as _DEFAULT_MAX_WORKERS
from ._pools import configure_adapters, worker_count
from ._routes import enqueue, ensure_open
from ._scheduling.adaptive import HostStats
from ._signature import CallCheck
from ._state import BackgroundCallback, DeferringSession
from ._worker import run, worker_state

if TYPE_CHECKING:  # pragma: no cover
    from requests.models import PreparedRequest, Response
    from urllib3.util import Retry


__all__ = ["FuturesSession"]


class FuturesSession(DeferringSession, CachedEnvironment, BodyReading):
    """A :class:`requests.Session` whose requests return futures.

    Every verb (``get``, ``post``, …), :meth:`request` and :meth:`send` hands
    the real call to an executor and returns a :class:`~requests_futures.Future`
    at once.  ``future.result()`` gives the :class:`requests.Response` or raises
    the exception ``requests`` raised.  The session's own settings (headers,
    auth, cookies, hooks, mounted adapters) apply as they do on any session.

    :param executor: the :class:`concurrent.futures.Executor` to run requests
        in.  It is used as is and never shut down by the session.  When
        omitted, the session creates (and on :meth:`close` shuts down) a
        :class:`~concurrent.futures.ThreadPoolExecutor` of ``max_workers``.
        With a :class:`~concurrent.futures.ProcessPoolExecutor` or a Dask
        ``client.get_executor()``, each request is pickled at the call
        (``TypeError`` names what cannot be) and workers reuse connections;
        this is decided here, so replace the session rather than its
        ``executor`` attribute (see "Scaling out" in the documentation).
    :param max_workers: size of the session's own thread pool (default 2);
        ignored when ``executor`` is given.
    :param session: an existing :class:`requests.Session` to make the calls
        through, with its headers, auth, cookies, adapters and hooks.  It is
        never closed by this session.
    :param adapter_kwargs: ``pool_connections``, ``pool_maxsize``,
        ``pool_block`` and ``max_retries`` for the HTTP adapters that serve the
        requests (those of ``session`` when given).  By default the pools are
        grown to hold one connection per worker thread.
    :param timeout: default ``timeout`` for every request that does not pass
        its own (``requests`` has none: a server that never answers would hold
        a worker forever).  Seconds, a ``(connect, read)`` tuple, or a
        :class:`urllib3.util.Timeout`.
    :param per_host: most requests in flight at once to one origin (scheme,
        host and port of the URL), or None for no limit.  A ``stream=True``
        request counts until its headers are in, not while its body is read.
    :param rate: most request starts per second to one origin, evenly spaced
        (at least ``1 / rate`` seconds apart), or None for no limit.
    :param retries: how to retry failed requests: an int ``N`` for
        ``Retry(total=N, backoff_factor=0.5, status_forcelist={429, 500, 502,
        503, 504}, respect_retry_after_header=True, raise_on_status=False)``,
        a :class:`urllib3.util.Retry` used as configured, or None.
    :param host_limits: other ``per_host``/``rate`` values for particular
        hosts or origins: ``{"api.example.com": {"per_host": 1, "rate": 0.5}}``;
        a key is a host name or ``"scheme://host:port"``, and a value it
        leaves out is the session-wide one.
    :param deadline: default ``deadline`` of each request (see :meth:`request`), or None.
    :param adaptive: treat each origin's ``per_host`` as a ceiling: its limit
        starts at 2 and follows what the origin sustains, down on 429, 503,
        refused or reset connections, timeouts and rising latency, up while
        it answers well (docs: "Adaptive concurrency"); see
        :meth:`host_stats`.  Needs ``per_host``.
    :param coalesce: a GET or HEAD identical to one still in flight is not sent again: each
        caller gets its own future and response, or the error (docs: "Coalescing").
    :raises TypeError, ValueError: for a bad ``max_workers``, ``timeout``,
        ``adapter_kwargs``, ``per_host``, ``rate``, ``retries``,
        ``host_limits``, ``adaptive`` (``ValueError``: True without
        ``per_host``), ``deadline`` or ``coalesce`` (a bool only).

    With ``per_host``, ``rate``, ``retries`` or ``host_limits``, the session
    schedules its requests: one that must wait (for a slot, its rate, a
    ``Retry-After`` pause of its origin or its next retry) waits in a queue,
    not in a worker, and its future stays pending until the final result
    (see "Being polite" in the documentation).

    .. versionadded:: 2.0
       ``per_host``, ``rate``, ``retries``, ``host_limits``, ``adaptive``,
       ``deadline`` and ``coalesce``.

    A FuturesSession given as ``session=`` lends its settings and its default
    ``timeout`` (used when this session has none), not its executor.

    A copy (:func:`copy.copy`, :mod:`pickle`) is an open session with the
    ``requests`` settings (headers, auth, cookies, adapters, hooks, …),
    ``session`` and ``timeout`` of the original, as a copy of a
    :class:`requests.Session` is.  It never shares the executor: it gets its
    own thread pool of the original's ``max_workers`` (when the executor
    tells it, else the default), which starts no thread before its first
    request, and which its own :meth:`close` shuts down.  ``per_host``, ``rate``,
    ``retries``, ``host_limits``, ``adaptive`` and ``coalesce`` are kept, with a
    scheduler of its own (adaptive limits start afresh): the original's
    waiting requests stay with the original.  A copy is open even if the
    original was closed.

    In a child made by :func:`os.fork`, the session gets a new thread pool
    and empty connection pools; one on a supplied executor raises
    ``RuntimeError`` at every call instead (that executor's workers stayed in
    the parent).

    .. versionadded:: 2.0
       Working copies and forked children.
    """

    #: What pickle and copy keep (requests' list, plus the default timeout).
    __attrs__ = [*Session.__attrs__, "timeout", "deadline", "_polite", "_coalesce"]  # noqa: RUF012 - a list, as requests' is

    def __init__(
        self,
        executor: Executor | None = None,
        max_workers: int = _DEFAULT_MAX_WORKERS,
        session: Session | None = None,
        adapter_kwargs: Mapping[str, Any] | None = None,
        *args: Any,
        timeout: float | tuple[float | None, float | None] | _Urllib3Timeout | None = None,
        per_host: int | None = None,
        rate: float | None = None,
        retries: int | Retry | None = None,
        host_limits: Mapping[str, Mapping[str, float | None]] | None = None,
        adaptive: bool = False,
        deadline: float | None = None,
        coalesce: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        polite = politeness(per_host, rate, retries, host_limits, adaptive)
        check_executor_and_session(executor, max_workers, session)
        check_timeout(timeout)
        check_deadline(deadline)
        self.timeout, self.deadline = timeout, deadline
        self._coalesce = check_coalesce(coalesce)
        _lifecycle.open_session(self, executor, max_workers, session, polite)
        # Grow any pool smaller than the worker count (requests' default is 10),
        # including a small one mounted on a supplied session.
        configure_adapters(session or self, worker_count(self.executor), adapter_kwargs or {})

    @property
    def session(self) -> Session | None:
        """The session given as ``session=``, or None."""
        return self._session

    @session.setter
    def session(self, session: Session | None) -> None:
        self._target, self._inner = resolve(self, session)
        self._session = session
        # Arguments are checked at the call against what makes it, as it would check them.
        self._check_call = CallCheck(session.request if session is not None else super().request)

    # What pickle and copy keep (see the class docstring); a copy is open, with
    # its own executor.  Then for the fork and exit hooks, and close().
    __getstate__ = _lifecycle.state_of
    __setstate__ = _lifecycle.restore
    _after_fork = _lifecycle.after_fork
    _mark_closed = _lifecycle.mark_closed

    def host_stats(self) -> dict[str, HostStats]:
        """What the scheduler knows of each origin it has served: a snapshot.

        Keyed by origin, ``"scheme://host:port"``; each value is a
        :class:`~requests_futures.HostStats`: the current ``limit`` (it moves
        with ``adaptive=True``), ``in_flight``, ``completed`` attempts,
        ``overload_signals``, smoothed and minimum ``latency`` in seconds,
        the ``pushback_level`` and the ``ceiling``.  Empty for a session that
        schedules nothing (no ``per_host``, ``rate``, ``retries`` or
        ``host_limits``).  Origins idle for a while may be forgotten once a
        session has served more than a thousand.

        .. versionadded:: 2.0
        """
        return {} if self._scheduler is None else self._scheduler.host_stats()

    def _submit(
        self,
        verb: str,
        callback: BackgroundCallback | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Future[Any]:
        task = (self, self._target, verb, callback, args, kwargs)
        return self._enqueue(InCallerContext(), run, *task)  # in a copy of the caller's context

    _enqueue = enqueue  # submit one task to the executor: see _routes
    _ensure_open = ensure_open

    def request(  # type: ignore[override]
        self,
        *args: Any,
        background_callback: BackgroundCallback | None = None,
        deadline: float | None = SESSION_DEFAULT,
        **kwargs: Any,
    ) -> Future[Response]:
        """Submit a request; return a future of its :class:`~requests.Response`.

        Takes the arguments of :meth:`requests.Session.request`, plus:

        :param background_callback: ``callback(session, response)``, called in
            the worker once the response is in and before the future resolves.
            If it returns something other than ``None``, that becomes the
            future's result.  If it raises, ``result()`` raises that error.
        :param deadline: seconds from this call to the end of the request, all
            included (see :class:`~requests_futures.DeadlineExceeded`), or None;
            default: the session's.
        :raises TypeError, ValueError: for a bad ``background_callback`` or
            ``deadline``, or arguments ``requests`` would refuse (its message, at the call).
        :raises RuntimeError: if the session is closed.
        """
        if background_callback is not None:
            check_callback(background_callback)
        self._check_call(args, kwargs)
        args, kwargs = take_arguments(args, kwargs)  # copies, before the caller changes them
        # ``timeout`` is request()'s ninth parameter, after method and url.
        timeout = default_timeout(self.timeout, self._inner)
        if timeout is not None and "timeout" not in kwargs and len(args) < 9:
            kwargs["timeout"] = timeout
        return submit_within(self, deadline, "request", background_callback, args, kwargs)

    def send(  # type: ignore[override]
        self,
        request: PreparedRequest,
        *,
        background_callback: BackgroundCallback | None = None,
        deadline: float | None = SESSION_DEFAULT,
        **kwargs: Any,
    ) -> Future[Response]:
        """Submit a prepared request; return a future of its response.

        Takes the arguments of :meth:`requests.Session.send` (``stream``,
        ``timeout``, ``allow_redirects``, …), ``background_callback`` and
        ``deadline`` as :meth:`request` does.  The session's default ``timeout`` applies here
        too.  Like ``requests``' own ``send``, it does not merge the session's
        settings into ``request``: prepare it with :meth:`prepare_request` for
        that.

        Inside the worker, while ``requests`` runs a request of this session
        (its ``request()``, redirects, hooks and auth handlers), ``send`` stays
        synchronous and returns the :class:`~requests.Response` that code
        expects.  Auth handlers that keep per-thread state while a request is
        prepared (:class:`~requests.auth.HTTPDigestAuth`) find it in the worker.

        :raises TypeError, ValueError: for a non-callable ``background_callback``,
            a bad ``deadline``, or a :class:`requests.Request` not prepared.
        :raises RuntimeError: if the session is closed.

        .. versionadded:: 2.0
        """
        if getattr(worker_state, "owner", None) is self:
            # requests itself, in our worker (Session.request, redirects).
            return cast("Future[Response]", super().send(request, **kwargs))
        if isinstance(request, Request):
            # requests' own words: its test suite and users' code compare them.
            raise ValueError("You can only send PreparedRequests.")
        if background_callback is not None:
            check_callback(background_callback)
        timeout = default_timeout(self.timeout, self._inner)
        if timeout is not None:
            kwargs.setdefault("timeout", timeout)
        request = carry_thread_state(request)
        return submit_within(self, deadline, "send", background_callback, (request,), kwargs)

    def get(self, url: str | bytes, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit a GET request.  Takes :meth:`request`'s keyword arguments."""
        kwargs.setdefault("allow_redirects", True)
        return self.request("GET", url, **kwargs)

    def options(self, url: str | bytes, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit an OPTIONS request.  Takes :meth:`request`'s keyword arguments."""
        kwargs.setdefault("allow_redirects", True)
        return self.request("OPTIONS", url, **kwargs)

    def head(self, url: str | bytes, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit a HEAD request (redirects not followed unless asked)."""
        kwargs.setdefault("allow_redirects", False)
        return self.request("HEAD", url, **kwargs)

    def post(  # type: ignore[override]
        self, url: str | bytes, data: Any = None, json: Any = None, **kwargs: Any
    ) -> Future[Response]:
        """Submit a POST request with a ``data`` or ``json`` body."""
        return self.request("POST", url, data=data, json=json, **kwargs)

    def put(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit a PUT request."""
        return self.request("PUT", url, data=data, **kwargs)

    def patch(self, url: str | bytes, data: Any = None, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit a PATCH request."""
        return self.request("PATCH", url, data=data, **kwargs)

    def delete(self, url: str | bytes, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
        """Submit a DELETE request."""
        return self.request("DELETE", url, **kwargs)

    def map(
        self,
        items: Iterable[ItemT],
        *,
        window: int | None = None,
        ordered: bool = True,
    ) -> MapResults[ItemT]:
        """Run many requests, at most ``window`` at a time; yield each one done.

        Items are pulled from ``items`` (any iterable, lazy or endless) only as
        room frees up, so memory stays flat however many there are.  Each item
        is a URL (fetched with GET), a :class:`requests.Request`, or a mapping
        of :meth:`request` keyword arguments (``method`` defaults to GET).

        Yields ``(item, future)`` pairs whose future is already done: in input
        order when ``ordered`` is true, in completion order otherwise.  A failed
        request does not stop the others: its future holds the exception, and
        so does the future of an item that is not a valid request.  Closing
        the generator early (``break`` out of the loop, or ``.close()``)
        cancels the requests not yet started and returns at once; the few that
        are running finish in the background.  The item is handed back as
        given, so its static type is kept (``ItemT``).

        :param window: most requests submitted and not yet yielded; default
            twice the executor's ``max_workers`` (thread and process pools
            tell it), or 32 when that is unknown (Dask).
        :param ordered: yield in input order (default) or as they finish.
        :raises TypeError, ValueError: for a bad ``window``, at the call.
        :raises RuntimeError: if the session is closed, at the call.

        .. versionadded:: 2.0
        """
        return map_requests(self, items, window=window, ordered=ordered)

    def close(self) -> None:
        """Cancel queued requests, wait for running ones, release resources.

        The session's own executor is shut down and its connections closed.
        A supplied executor and a supplied session are left running.  Calling
        it again does nothing; submitting afterwards raises ``RuntimeError``.
        Called from a hook or ``background_callback`` of this session, it
        does not wait (it cannot wait for the request it is part of).
        """
        try:
            _lifecycle.close_session(self)
        finally:
            super().close()  # whatever happened there, the connections are released
