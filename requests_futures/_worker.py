"""What runs in the worker: one request, its hooks and ``background_callback``.

Every task a session submits to its executor calls :func:`run` (or, through
the scheduler, :func:`attempt`) in a worker thread or process::

    response_or_result = run(owner, None, "request", None, ("GET", url), {})
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from requests import Session

from ._chain import DeferringSession

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    BackgroundCallback = Callable[[Any, Any], Any]

# Which FuturesSession, if any, the current thread is running a request for.
# requests calls ``self.send`` from inside ``Session.request`` and while it
# follows redirects; in the worker that call must stay synchronous.
worker_state = threading.local()


def run(
    owner: DeferringSession,
    target: Session | None,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Do one request in a worker: the function every submitted task runs.

    ``target`` is the session that makes the call, as
    :func:`~requests_futures._chain.resolve` found it (None: ``owner`` itself).
    """
    runner: Session = owner if target is None else target
    previous = getattr(worker_state, "owner", None)
    outer = getattr(worker_state, "running_for", None)
    # Lets owner.close(), called from a hook or the callback, skip waiting
    # for the request this thread is in the middle of.
    worker_state.running_for = owner
    try:
        worker_state.owner = runner
        try:
            if isinstance(runner, DeferringSession):
                # Its own request() would hand the call to its executor.
                response = getattr(Session, verb)(runner, *args, **kwargs)
            else:
                response = getattr(runner, verb)(*args, **kwargs)
        finally:
            worker_state.owner = previous
        if callback is not None:
            try:
                result = callback(owner, response)
            except BaseException:
                # The future will hold only the error, so nobody else can close
                # a streamed response and give its connection back to the pool.
                close_quietly(response)
                raise
            if result is not None:
                return result
        return response
    finally:
        worker_state.running_for = outer


def close_quietly(response: object) -> None:
    """Close ``response`` if it can be closed, ignoring any error doing so."""
    close = getattr(response, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
