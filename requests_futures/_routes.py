"""How a call reaches the executor when it does not go straight to a thread.

A session on a thread pool with no limits submits :func:`~._worker.run`
itself.  Otherwise its ``_submit`` is :func:`submit_elsewhere`, chosen when
the session opens (so the plain path pays nothing per request): a process
pool or Dask gets the request checked and pickled at the call; limits or
retries hand it to the session's :class:`~._scheduler.Scheduler`::

    future = submit_elsewhere(session, "request", None, ("GET", url), {})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _remote
from ._worker import attempt

if TYPE_CHECKING:  # pragma: no cover
    from ._future import Future
    from .sessions import BackgroundCallback, FuturesSession


def submit_elsewhere(
    session: FuturesSession,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Future[Any]:
    """``session._submit`` for another process, or when the scheduler decides when."""
    session._ensure_open()
    scheduler = session._scheduler
    dumps = session._dumps
    if dumps is not None:
        task = _remote.prepare(session, dumps, verb, callback, args, kwargs)
        if scheduler is None:
            return session._enqueue(_remote.run, *task)
        return scheduler.submit(_url_of(verb, args, kwargs), _remote.attempt, task)
    assert scheduler is not None
    call = (session, session._target, verb, callback, args, kwargs)
    return scheduler.submit(_url_of(verb, args, kwargs), attempt, call)


def _url_of(verb: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The URL of a call to ``send(prepared)`` or ``request(method, url, ...)``."""
    if verb == "send":
        return args[0].url
    if len(args) > 1:
        return args[1]
    return kwargs.get("url")
