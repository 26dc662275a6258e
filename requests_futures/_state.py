"""What the helper modules know of a FuturesSession: the state it keeps.

:class:`~requests_futures.FuturesSession` subclasses :class:`DeferringSession`,
which declares the attributes and methods the other modules of the package
use (set up by :mod:`._lifecycle.session`), so that none of them imports
``sessions`` back and the package's imports flow one way::

    def close_session(session: DeferringSession) -> None:
        session._mark_closed()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from requests import Session

if TYPE_CHECKING:  # pragma: no cover
    import threading
    from concurrent.futures import Executor

    from requests import Response

    from ._future import Future
    from ._scheduling.origins import Politeness
    from ._scheduling.scheduler import Scheduler

#: ``background_callback(session, response)``: see FuturesSession.request.
BackgroundCallback = Callable[[Any, Any], Any]


class DeferringSession(Session):
    """A :class:`requests.Session` whose verbs hand the call to an executor.

    The base of :class:`~requests_futures.FuturesSession`: a worker calls
    :class:`requests.Session`'s own methods on such a session, never its
    verbs.  It adds no behaviour.
    """

    #: The default timeout the session applies (FuturesSession's ``timeout=``).
    timeout: Any
    #: The default deadline, in seconds as given (FuturesSession's ``deadline=``).
    deadline: float | None
    executor: Executor
    _owns_executor: bool
    _lock: threading.Lock
    _closed: bool
    _why_closed: str
    _pending: set[Future[Any]]  # only with a supplied executor
    _forget: Callable[[Any], None]
    _dumps: Callable[[Any], bytes] | None  # for executors whose workers are other processes
    _polite: Politeness | None
    _scheduler: Scheduler | None
    _session: Session | None
    _target: Session | None  # who makes the calls (see _chain.resolve)
    _coalesce: bool  # identical requests in flight sent once (see _coalesce)

    @property
    def session(self) -> Session | None:
        """The session the calls are made through (``session=``), or None."""
        raise NotImplementedError  # pragma: no cover - FuturesSession defines it

    @session.setter
    def session(self, session: Session | None) -> None:
        raise NotImplementedError  # pragma: no cover - FuturesSession defines it

    if TYPE_CHECKING:  # pragma: no cover

        def request(self, *args: Any, **kwargs: Any) -> Future[Response]:  # type: ignore[override]
            ...

        def _ensure_open(self) -> None: ...

        def _enqueue(self, fn: Callable[..., Any], *task: Any) -> Future[Any]: ...

        def _submit(
            self,
            verb: str,
            callback: BackgroundCallback | None,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Future[Any]: ...

        def _mark_closed(self) -> list[Future[Any]]: ...

        def _after_fork(self) -> None: ...
