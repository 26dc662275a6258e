"""What is taken at the call, in the submitting thread, for the worker to run with.

The caller's :mod:`contextvars`: each call takes a copy of the submitting
thread's context (:class:`InCallerContext`), and everything the request runs in
the worker (the session's ``request``/``send``, auth, adapters, hooks,
``background_callback``, each attempt of a scheduled request) runs inside that
copy, its own: what it sets there is seen by neither the caller nor another
request.  Tracing (OpenTelemetry) and logging (structlog's contextvars, a
``logging.Filter``) see the caller's values::

    future = executor.submit(InCallerContext(), run, session, ...)

Per-thread auth state: some auth handlers keep what they set up while a
request is prepared in a ``threading.local`` and read it back in a response
hook: ``requests``' :class:`~requests.auth.HTTPDigestAuth` does.  A request handed to
:meth:`FuturesSession.send` was prepared in the caller's thread and its hooks
run in a worker, where that state does not exist.  :func:`carry_thread_state`
snapshots it at the call and restores it in the worker before such a hook runs.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    from requests.models import PreparedRequest

_T = TypeVar("_T")


class InCallerContext:
    """Calls a task inside a copy of the context of the thread that made it.

    Made at the call, in the caller's thread (or coroutine); not used for
    requests sent to other processes.  A task is still plain data: a pickled
    copy (an executor that pickles its tasks) runs it as it is, without the
    context, which may hold what pickle refuses.
    """

    __slots__ = ("_context",)

    def __init__(self) -> None:
        self._context = contextvars.copy_context()

    def __call__(self, fn: Callable[..., _T], /, *args: Any) -> _T:
        return self._context.run(fn, *args)

    def __reduce__(self) -> tuple[Callable[[], Callable[..., Any]], tuple[()]]:
        return _as_is, ()


def _as_is() -> Callable[..., Any]:
    """What a pickled :class:`InCallerContext` becomes."""
    return _call


def _call(fn: Callable[..., _T], /, *args: Any) -> _T:
    return fn(*args)


def _thread_local_of(hook: Callable[..., Any]) -> threading.local | None:
    """The thread-local state of the object ``hook`` is a method of, if set up here."""
    local = getattr(getattr(hook, "__self__", None), "_thread_local", None)
    if isinstance(local, threading.local) and vars(local):
        return local
    return None


class _Snapshot:
    """The state one ``threading.local`` holds in the caller's thread, to restore once."""

    def __init__(self, local: threading.local) -> None:
        self._local = local
        self._state = dict(vars(local))
        self._restored = False

    def restore(self) -> None:
        # Once per send: the hooks sharing this state then update it as usual.
        if not self._restored:
            self._restored = True
            for name, value in self._state.items():
                setattr(self._local, name, value)


class _WithThreadState:
    """A response hook that first restores its owner's state from the caller's thread."""

    def __init__(self, hook: Callable[..., Any], snapshot: _Snapshot) -> None:
        self._hook = hook
        self._snapshot = snapshot

    def __call__(self, response: Any, **kwargs: Any) -> Any:
        self._snapshot.restore()
        return self._hook(response, **kwargs)


def carry_thread_state(request: PreparedRequest) -> PreparedRequest:
    """``request``, or a copy whose stateful hooks will find their state in any thread."""
    hooks = request.hooks
    if not any(_thread_local_of(hook) for event in hooks.values() for hook in event):
        return request
    carried = request.copy()
    snapshots: dict[int, _Snapshot] = {}
    wrapped: dict[str, list[Callable[..., Any]]] = {}
    for name, event in hooks.items():
        wrapped[name] = []
        for hook in event:
            local = _thread_local_of(hook)
            if local is None:
                wrapped[name].append(hook)
                continue
            snapshot = snapshots.setdefault(id(local), _Snapshot(local))
            wrapped[name].append(_WithThreadState(hook, snapshot))
    carried.hooks = wrapped
    return carried
