"""A session's life: opened (new, copied, unpickled, forked), then closed.

What a :class:`~requests_futures.FuturesSession` runs its requests with (the
executor, the scheduler, the submit path) is set up here, in the same way for
a new session, a copy, an unpickled one and one in a child made by
``os.fork()``, and torn down here by ``close()``::

    open_session(session, None, 8, None, None)  # its own pool of 8, nothing more
    close_session(session)
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor, ThreadPoolExecutor, wait
from types import MethodType
from typing import TYPE_CHECKING, Any

from .. import _remote
from .._coalesce import Coalescer
from .._pools import keep_session_pools, worker_count
from .._routes import submit_elsewhere
from .._scheduling.origins import Politeness
from .._scheduling.scheduler import CLOSED, Scheduler
from .._worker import worker_state
from . import at_exit, fork

if TYPE_CHECKING:  # pragma: no cover
    from requests import Session

    from .._future import Future
    from .._state import DeferringSession

#: The size of the session's own thread pool when ``max_workers`` is not given.
DEFAULT_MAX_WORKERS = 2


def open_session(
    session: DeferringSession,
    executor: Executor | None,
    max_workers: int,
    inner: Session | None,
    polite: Politeness | None,
) -> None:
    """Set up what runs ``session``'s requests (``inner``: its ``session=``)."""
    session._owns_executor = executor is None
    # No thread starts before the first request: a copy that is never
    # used (a process-pool or Dask worker's) costs no thread.
    session.executor = executor or ThreadPoolExecutor(
        max_workers=max_workers, thread_name_prefix="requests-futures"
    )
    session.session = inner  # also finds who makes the calls (resolve)
    session._lock = threading.Lock()
    session._closed = False
    session._why_closed = CLOSED
    session._pending = set()  # only with a supplied executor
    session._forget = session._pending.discard
    if session._owns_executor:
        at_exit.track(session)  # its queued requests are cancelled at exit
    fork.track(session)  # a forked child starts afresh
    session._dumps = _remote.serializer_for(session.executor)
    session._polite = polite
    # A copy gets a fresh scheduler: nothing waiting, no timer thread yet.
    session._scheduler = None
    if polite is not None:
        workers = worker_count(session.executor)
        chain = session._owns_executor  # its workers serve this session alone
        session._scheduler = Scheduler(session.executor, polite, workers, chain)
    vars(session).pop("_submit", None)  # chosen afresh (a forked child reopens)
    if polite is not None or session._dumps is not None:
        # Chosen once here, so that the plain thread path pays nothing per request.
        session._submit = MethodType(submit_elsewhere, session)  # type: ignore[method-assign]
    if session._coalesce:  # identical requests in flight, sent once: before any route
        session._submit = Coalescer(session, session._submit).submit  # type: ignore[method-assign]


def state_of(session: DeferringSession) -> dict[str, Any]:
    """What :mod:`pickle` and :func:`copy.copy` keep of ``session``."""
    # What requests.Session.__getstate__ does (not in its type stubs).
    state = {name: getattr(session, name, None) for name in session.__attrs__}
    state["session"] = session._session
    state["max_workers"] = worker_count(session.executor) or DEFAULT_MAX_WORKERS
    return state


def restore(session: DeferringSession, state: dict[str, Any]) -> None:
    """Make ``session`` an open copy of the one ``state`` was taken from."""
    state = dict(state)
    inner = state.pop("session", None)
    max_workers = state.pop("max_workers", DEFAULT_MAX_WORKERS)
    # What requests.Session.__setstate__ does (not in its type stubs).
    for name, value in state.items():
        setattr(session, name, value)
    session.timeout = state.get("timeout")
    session.deadline = state.get("deadline")
    for each in (session, inner):  # unpickled adapters have plain pool managers
        if each is not None:
            keep_session_pools(each)
    open_session(session, None, max_workers, inner, state.get("_polite"))


def after_fork(session: DeferringSession) -> None:
    """In a forked child: a new pool where ``session`` owned one, else refuse every call."""
    fork.drop_pools(session)
    keep_session_pools(session)
    if session._session is not None:
        fork.drop_pools(session._session)
        keep_session_pools(session._session)
    if session._closed:
        return
    supplied = None if session._owns_executor else session.executor
    workers = worker_count(session.executor) or DEFAULT_MAX_WORKERS
    open_session(session, supplied, workers, session._session, session._polite)
    if supplied is not None:
        session._mark_closed()
        session._why_closed = fork.FORKED


def mark_closed(session: DeferringSession) -> list[Future[Any]]:
    """Refuse ``session``'s new requests; cancel those its scheduler holds.

    Returns the futures of its requests in the executor that are tracked.
    """
    with session._lock:
        session._closed = True
        pending = list(session._pending)
    if session._scheduler is not None:
        pending += session._scheduler.close()
    return pending


def close_session(session: DeferringSession) -> None:
    """``session.close()`` but for ``requests``' own part: see its docstring."""
    # Called from a hook or callback of one of our own requests, or from a
    # future's done-callback (run by the worker once _run has returned),
    # this very thread is one the executor would wait for: never ending.
    inside = getattr(worker_state, "running_for", None) is session or (
        threading.current_thread() in getattr(session.executor, "_threads", ())
    )
    pending = session._mark_closed()
    try:
        for future in pending:
            future.cancel()
        if session._owns_executor:
            # Cancelled here rather than by shutdown(cancel_futures=True), which
            # would leave them where concurrent.futures.wait() never sees them.
            at_exit.cancel_queued(session.executor)
            session.executor.shutdown(wait=not inside, cancel_futures=True)
        elif not inside:
            wait([f for f in pending if not f.cancelled()])
        if session._scheduler is not None and not inside:
            session._scheduler.join()
    finally:
        if session._owns_executor:
            at_exit.untrack(session)
