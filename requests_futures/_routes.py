"""How a call reaches the executor: straight to a thread, or by another route.

A session on a thread pool with no limits submits :func:`~._worker.run`
itself, through :func:`enqueue`.  Otherwise its ``_submit`` is
:func:`submit_elsewhere`, chosen when the session opens (so the plain path
pays nothing per request): a process pool or Dask gets the request checked
and pickled at the call; limits or retries hand it to the session's
:class:`~._scheduling.scheduler.Scheduler`::

    future = submit_elsewhere(session, "request", None, ("GET", url), {})
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _remote
from ._future import adopt
from ._handoff import InCallerContext
from ._scheduling.retries import attempt

if TYPE_CHECKING:  # pragma: no cover
    from ._future import Future
    from ._scheduling.queues import Expiry
    from ._state import BackgroundCallback, DeferringSession


def ensure_open(session: DeferringSession) -> None:
    """``session._ensure_open``: :raises RuntimeError: if the session is closed."""
    if session._closed:
        raise RuntimeError(session._why_closed)


def enqueue(session: DeferringSession, fn: Callable[..., Any], *task: Any) -> Future[Any]:
    """``session._enqueue``: submit ``fn(*task)`` unless closed; track the future for close()."""
    with session._lock:
        session._ensure_open()
        future = adopt(session.executor.submit(fn, *task))
        if session._owns_executor:
            # close() shuts our executor down with cancel_futures=True:
            # no need to track the future (that would cost every request
            # a callback and every held future ~150 bytes).
            return future
        session._pending.add(future)
    future.add_done_callback(session._forget)
    return future


def submit_elsewhere(
    session: DeferringSession,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    deadline: Expiry | None = None,
) -> Future[Any]:
    """``session._submit`` for another process, or when the scheduler decides when.

    With a ``deadline`` (:class:`._deadline.Deadline`), the scheduler gives up on
    the request when it passes, and each local attempt runs within it.
    """
    session._ensure_open()
    scheduler = session._scheduler
    dumps = session._dumps
    if dumps is not None:
        task = _remote.prepare(session, dumps, verb, callback, args, kwargs)
        if scheduler is None:
            return session._enqueue(_remote.run, *task)
        return scheduler.submit(_url_of(verb, args, kwargs), _remote.attempt, task, deadline)
    assert scheduler is not None
    starts = _body_starts(verb, args, kwargs) if scheduler.retries else ()
    call = (session, session._target, verb, callback, args, kwargs, starts)
    # Every attempt, whichever thread dispatches it, runs in the caller's context (its copy).
    in_context = partial(InCallerContext(), attempt if deadline is None else deadline.attempt)
    return scheduler.submit(_url_of(verb, args, kwargs), in_context, call, deadline)


def _url_of(verb: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The URL of a call to ``send(prepared)`` or ``request(method, url, ...)``."""
    if verb == "send":
        return args[0].url
    if len(args) > 1:
        return args[1]
    return kwargs.get("url")


_DATA = _remote.REQUEST_PARAMETERS.index("data")
_FILES = _remote.REQUEST_PARAMETERS.index("files")


def _body_starts(
    verb: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, int], ...]:
    """Each seekable file of a call's body, and where it starts: each attempt sends it from there.

    urllib3 rewinds a body so when a ``Retry`` mounted on the adapter sends it again.
    """
    if verb == "send":
        found = [args[0].body]
    else:
        data = args[_DATA] if len(args) > _DATA else kwargs.get("data")
        files = args[_FILES] if len(args) > _FILES else kwargs.get("files")
        if data is None and not files:
            return ()  # no body (most GETs): nothing to rewind
        found = [data]
        if isinstance(files, Mapping):
            files = list(files.items())
        for pair in files if isinstance(files, list | tuple) else ():
            value = pair[1] if isinstance(pair, tuple | list) and len(pair) == 2 else None
            # A file, or (filename, file[, content type[, headers]]).
            found.append(value[1] if isinstance(value, tuple | list) and len(value) > 1 else value)
    starts = []
    for body in found:
        if callable(getattr(body, "seek", None)) and callable(getattr(body, "tell", None)):
            with contextlib.suppress(OSError, ValueError):  # unseekable or closed: as it is
                starts.append((body, body.tell()))
    return tuple(starts)
