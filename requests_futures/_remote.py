"""Requests that run in other processes: ``ProcessPoolExecutor`` and Dask.

An executor whose workers are other processes needs everything a request uses
pickled: the session, the arguments, the hooks, ``background_callback``.  This
module does that pickling in the calling thread, before anything is submitted,
so that an unpicklable argument fails at the call with a message naming it.

The worker keeps the sessions it unpickles (a few per thread, keyed by the
pickled bytes of the session's state) so that their connection pools live on
from one request to the next.  The key is the state itself: change the
session's headers, auth, cookies or adapters in the parent and the next
request brings a different key, hence a freshly unpickled session.  Before each
request the cached copy's cookies are put back as they were received, so a
request sees the parent's session as it was at submit time and never cookies
that an earlier response set in that worker (those stay in the worker: they
cannot reach the parent's session).
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from requests import Session

from . import _worker as worker
from ._scheduling import retries

if TYPE_CHECKING:  # pragma: no cover
    from urllib3.util import Retry

    from ._state import DeferringSession

Dumps = Callable[[Any], bytes]

#: Sessions each worker thread keeps, most recently used first.
CACHE_SIZE = 4

#: Names of ``Session.request``'s positional parameters, for error messages.
REQUEST_PARAMETERS = (
    "method",
    "url",
    "params",
    "data",
    "headers",
    "cookies",
    "files",
    "auth",
    "timeout",
    "allow_redirects",
    "proxies",
    "hooks",
    "stream",
)
_STREAM_POSITION = REQUEST_PARAMETERS.index("stream")


def _pickle_dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _cloudpickle_dumps(obj: Any) -> bytes:
    # A dependency of distributed, so present where Dask is; imported only then.
    cloudpickle = importlib.import_module("cloudpickle")
    data: bytes = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def serializer_for(executor: Executor) -> Dumps | None:
    """How ``executor`` sends a task to another process, or None if it does not.

    Called once per session.  A ``ProcessPoolExecutor`` (or a subclass) uses
    pickle; Dask's ``ClientExecutor`` pickles functions by value where needed,
    as cloudpickle does.  Dask is recognised by the module of its class, so
    nothing is imported to find out.  Any other executor is taken to run
    requests in this process, and nothing is pickled.
    """
    # Not imported unless someone made a ProcessPoolExecutor: it imports
    # multiprocessing, which plain thread users should not pay for.
    process = sys.modules.get("concurrent.futures.process")
    if process is not None and isinstance(executor, process.ProcessPoolExecutor):
        return _pickle_dumps
    for cls in type(executor).__mro__:
        if cls.__module__.partition(".")[0] == "distributed":
            return _cloudpickle_dumps
    return None


def _executor_name(executor: Executor) -> str:
    return type(executor).__name__


def prepare(
    session: DeferringSession,
    dumps: Dumps,
    verb: str,
    callback: Callable[..., Any] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[bytes, bytes, str]:
    """Check and pickle one request; return the arguments for :func:`run`.

    :raises ValueError: for ``stream=True``.
    :raises TypeError: naming the first thing that cannot be pickled.
    """
    target = session._target  # the session that makes the calls
    _check_stream(target if target is not None else session, session, verb, args, kwargs)
    try:
        state = dumps((session, target))
    except Exception as exc:  # any pickling failure is reported the same way
        roots: list[tuple[str, Any]] = [(type(session).__name__, session)]
        if target is not None:
            roots.insert(0, ("session", target))
        raise _unpicklable(session, dumps, roots, exc) from exc
    try:
        call = dumps((verb, callback, args, kwargs))
    except Exception as exc:  # any pickling failure is reported the same way
        names = REQUEST_PARAMETERS if verb == "request" else ("request",)
        roots = [("background_callback", callback)]
        roots += [(names[i] if i < len(names) else f"args[{i}]", a) for i, a in enumerate(args)]
        roots += list(kwargs.items())
        raise _unpicklable(session, dumps, roots, exc) from exc
    # A fresh token per call: Dask gives identical "pure" tasks one key and
    # runs them once; every request submitted must reach the server.
    return state, call, os.urandom(16).hex()


def _check_stream(
    target: Session,
    session: DeferringSession,
    verb: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> None:
    if verb == "request" and len(args) > _STREAM_POSITION:
        stream = args[_STREAM_POSITION]
    else:
        stream = kwargs.get("stream")
    if stream is None:
        stream = target.stream
    if stream:
        raise ValueError(
            f"stream=True cannot be used with {_executor_name(session.executor)}: a streamed "
            "response keeps its connection open in the worker process, and a connection "
            "cannot be sent back to this one. Use stream=False (the default), or a "
            "ThreadPoolExecutor to stream."
        )


def _children(obj: Any) -> list[tuple[str, Any]]:
    """The parts of ``obj`` that pickle would pickle, with their path suffixes."""
    if isinstance(obj, Session):
        return [(f".{name}", getattr(obj, name, None)) for name in getattr(obj, "__attrs__", ())]
    if isinstance(obj, Mapping):
        return [(f"[{key!r}]", value) for key, value in list(obj.items())]
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [(f"[{index}]", value) for index, value in enumerate(obj)]
    if not inspect.isroutine(obj) and isinstance(getattr(obj, "__dict__", None), dict):
        return [(f".{name}", value) for name, value in list(vars(obj).items())]
    return []


def _culprit(dumps: Dumps, roots: list[tuple[str, Any]]) -> tuple[str, Any] | None:
    """The deepest path, under the first root that fails to pickle, that fails."""

    def fails(obj: Any) -> bool:
        try:
            dumps(obj)
        except Exception:  # noqa: BLE001 - we only ask whether it pickles
            return True
        return False

    for path, obj in roots:
        if not fails(obj):
            continue
        seen = {id(obj)}
        for _ in range(8):  # deep enough for hooks['response'][0] in a session
            for suffix, child in _children(obj):
                if id(child) not in seen and fails(child):
                    seen.add(id(child))
                    path, obj = path + suffix, child
                    break
            else:
                break
        return path, obj
    return None


def _hint(obj: Any) -> str:
    if inspect.isroutine(obj) or inspect.isclass(obj):
        return (
            "define it with 'def' at module level in a module the workers can import "
            "(lambdas, nested functions and things defined in an interactive session "
            "cannot be pickled)"
        )
    if hasattr(obj, "read"):
        return "pass its content (bytes) instead of an open file or stream"
    return "pass a picklable value instead"


def _unpicklable(
    session: DeferringSession, dumps: Dumps, roots: list[tuple[str, Any]], exc: Exception
) -> TypeError:
    found = _culprit(dumps, roots)
    path, obj = found if found is not None else ("the request", None)
    shown = repr(obj)
    if len(shown) > 100:
        shown = shown[:97] + "..."
    return TypeError(
        f"{path} {shown} cannot be pickled ({type(exc).__name__}: {exc}), so it cannot be "
        f"sent to the worker processes of {_executor_name(session.executor)}: "
        f"{_hint(obj)}, or use a ThreadPoolExecutor, which pickles nothing."
    )


# --- in the worker process ---------------------------------------------------

_local = threading.local()


class _Entry:
    """A cached (owner, target) pair with the cookies they arrived with."""

    __slots__ = ("cookies", "sessions")

    def __init__(self, sessions: tuple[Session, Session | None]) -> None:
        self.sessions = sessions
        self.cookies = [_pickle_dumps(s.cookies) for s in sessions if s is not None]

    def restore_cookies(self) -> None:
        live = [s for s in self.sessions if s is not None]
        for session, cookies in zip(live, self.cookies, strict=True):
            session.cookies = pickle.loads(cookies)

    def close(self) -> None:
        owner, target = self.sessions
        # The worker's copy of a FuturesSession has its own thread pool, never
        # started unless a callback used it: close() shuts it down too.
        owner.close()
        if target is not None:
            target.close()


def _load(data: bytes, what: str) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:
        raise RuntimeError(
            f"the worker process could not unpickle the request's {what} ({exc}); "
            "everything a request uses must be importable in the worker: define "
            "functions and classes at module level in a module the workers can import"
        ) from exc


def _sessions(state: bytes) -> tuple[Any, Session | None]:
    cache: OrderedDict[bytes, _Entry] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = OrderedDict()
    entry = cache.get(state)
    if entry is None:
        entry = cache[state] = _Entry(_load(state, "session"))
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)[1].close()
    else:
        cache.move_to_end(state)
        entry.restore_cookies()
    return entry.sessions


def run(state: bytes, call: bytes, token: str) -> Any:
    """Do one request in a worker process: the task every remote submit runs.

    :param state: the pickled ``(FuturesSession, session or None)`` pair, which
        is also the key of the worker's session cache.
    :param call: the pickled ``(verb, background_callback, args, kwargs)``.
    :param token: unused here; it makes every task unique (see :func:`prepare`).
    """
    owner, target = _sessions(state)
    verb, callback, args, kwargs = _load(call, "arguments")
    return worker.run(owner, target, verb, callback, args, kwargs)


def attempt(retry: Retry | None, state: bytes, call: bytes, token: str) -> retries.Outcome:
    """:func:`run` for a scheduled request: one attempt, its :class:`.retries.Outcome`.

    The request is pickled once, at submit; each retry sends the same bytes
    with the policy the previous attempt returned.
    """
    owner, target = _sessions(state)
    verb, callback, args, kwargs = _load(call, "arguments")
    return retries.attempt(retry, owner, target, verb, callback, args, kwargs)
