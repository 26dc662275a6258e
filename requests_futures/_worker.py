"""What runs in the worker: one request, its hooks and ``background_callback``.

Every task a session submits to its executor calls :func:`run` (or, through
the scheduler, :func:`~._scheduling.retries.attempt`, which calls :func:`call`
and :func:`finish`) in a worker thread or process::

    response_or_result = run(owner, None, "request", None, ("GET", url), {})
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from requests import Session

from ._state import BackgroundCallback, DeferringSession

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from requests import Response

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
    with running_for(owner):
        response = call(owner, target, verb, args, kwargs)
        return response if callback is None else finish(owner, callback, response)


@contextlib.contextmanager
def running_for(owner: DeferringSession) -> Iterator[None]:
    """Mark this thread as running a request for ``owner`` until the block ends.

    Lets ``owner.close()``, called from a hook or the callback, skip waiting
    for the request this thread is in the middle of.
    """
    outer = getattr(worker_state, "running_for", None)
    worker_state.running_for = owner
    try:
        yield
    finally:
        worker_state.running_for = outer


def call(
    owner: DeferringSession,
    target: Session | None,
    verb: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Response:
    """Send the request once, with ``requests``' hooks, redirects and auth."""
    runner: Session = owner if target is None else target
    previous = getattr(worker_state, "owner", None)
    worker_state.owner = runner
    try:
        if isinstance(runner, DeferringSession):
            # Its own request() would hand the call to its executor.
            response: Response = getattr(Session, verb)(runner, *args, **kwargs)
        else:
            response = getattr(runner, verb)(*args, **kwargs)
        return response
    finally:
        worker_state.owner = previous


def finish(owner: DeferringSession, callback: BackgroundCallback, response: Response) -> Any:
    """The future's result: ``background_callback``'s value, or the response."""
    try:
        result = callback(owner, response)
    except BaseException:
        # The future will hold only the error, so nobody else can close
        # a streamed response and give its connection back to the pool.
        close_quietly(response)
        raise
    return response if result is None else result


def close_quietly(response: object) -> None:
    """Close ``response`` if it can be closed, ignoring any error doing so."""
    close = getattr(response, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()
