"""The module-level machinery of :class:`~requests_futures.sessions.FuturesSession`.

What runs in the worker (:func:`_run`), finding the session that makes the
calls (:func:`_resolve`), and the checks and pool sizing done at construction;
``sessions.py`` keeps the class itself.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any

from requests import Session
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from urllib3.util import Timeout as _Urllib3Timeout

# The class, for isinstance checks at run time; ``sessions`` imports this
# module while it is being imported, which ``from . import`` allows.
from . import sessions

if TYPE_CHECKING:  # pragma: no cover
    from .sessions import BackgroundCallback, FuturesSession


#: Keys accepted in ``adapter_kwargs``: the ones ``HTTPAdapter`` takes.
ADAPTER_KWARGS = frozenset({"pool_connections", "pool_maxsize", "pool_block", "max_retries"})

# Which FuturesSession, if any, the current thread is running a request for.
# requests calls ``self.send`` from inside ``Session.request`` and while it
# follows redirects; in the worker that call must stay synchronous.
_worker_state = threading.local()


def _run(
    owner: FuturesSession,
    target: Session | None,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Do one request in a worker: the function every submitted task runs.

    ``target`` is the session that makes the call, as :func:`_resolve` found
    it (None: ``owner`` itself).
    """
    runner: Session = owner if target is None else target
    previous = getattr(_worker_state, "owner", None)
    outer = getattr(_worker_state, "running_for", None)
    # Lets owner.close(), called from a hook or the callback, skip waiting
    # for the request this thread is in the middle of.
    _worker_state.running_for = owner
    try:
        _worker_state.owner = runner
        try:
            if isinstance(runner, sessions.FuturesSession):
                # Its own request() would hand the call to its executor.
                response = getattr(Session, verb)(runner, *args, **kwargs)
            else:
                response = getattr(runner, verb)(*args, **kwargs)
        finally:
            _worker_state.owner = previous
        if callback is not None:
            try:
                result = callback(owner, response)
            except BaseException:
                # The future will hold only the error, so nobody else can close
                # a streamed response and give its connection back to the pool.
                _close_quietly(response)
                raise
            if result is not None:
                return result
        return response
    finally:
        _worker_state.running_for = outer


def _resolve(
    owner: FuturesSession, session: Session | None
) -> tuple[Session | None, tuple[FuturesSession, ...]]:
    """The session that makes the calls for ``session=``, and the FuturesSessions on the way.

    A FuturesSession given as ``session=`` would hand each call to its own
    executor and make the future's result a future: the call goes to the
    session it wraps (in turn), or to it synchronously if it wraps none.
    """
    chain: list[FuturesSession] = []
    runner = session
    while isinstance(runner, sessions.FuturesSession):
        if runner is owner or any(runner is seen for seen in chain):
            raise ValueError("session= makes a cycle of FuturesSessions")
        chain.append(runner)
        if runner.session is None:
            break
        runner = runner.session
    return runner, tuple(chain)


def _inner_timeout(chain: tuple[FuturesSession, ...]) -> Any:
    """The default timeout the first FuturesSession in ``chain`` that has one applies."""
    for session in chain:
        if session.timeout is not None:
            return session.timeout
    return None


def _close_quietly(response: object) -> None:
    close = getattr(response, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _check_callback(callback: object) -> None:
    """:raises TypeError: unless ``background_callback`` is callable."""
    if not callable(callback):
        raise TypeError(
            "background_callback must be callable as callback(session, response), "
            f"got {type(callback).__name__}"
        )


def _check_timeout(timeout: object) -> None:
    """Raise at construction for a timeout that requests would refuse later."""
    if timeout is None or isinstance(timeout, _Urllib3Timeout):
        return  # urllib3 checked its values when it was made
    try:
        if isinstance(timeout, tuple):
            connect, read = timeout
            _Urllib3Timeout(connect=connect, read=read)
            values: tuple[object, ...] = (connect, read)
        else:
            _Urllib3Timeout(total=timeout)  # type: ignore[arg-type]
            values = (timeout,)
        # urllib3 lets NaN, infinity and 1e300 through; every request would
        # then fail in the socket layer (ValueError, OverflowError).
        for value in values:
            if value is not None and not 0 < float(value) <= threading.TIMEOUT_MAX:  # type: ignore[arg-type]
                raise ValueError(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"timeout must be None, a positive number of seconds or a "
            f"(connect, read) tuple of them; got {timeout!r}"
        ) from None


def _configure_adapters(session: Session, workers: int | None, options: Mapping[str, Any]) -> None:
    """Size the pools of ``session``'s HTTP adapters for ``workers`` threads.

    Adapters stay the objects they are (custom subclasses keep their
    behaviour); only their pool manager is rebuilt when its size changes.
    """
    unknown = set(options) - ADAPTER_KWARGS
    if unknown:
        raise TypeError(
            f"adapter_kwargs accepts {sorted(ADAPTER_KWARGS)}; got unknown {sorted(unknown)}"
        )
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        if not isinstance(adapter, HTTPAdapter):
            continue
        current = (
            getattr(adapter, "_pool_connections", DEFAULT_POOLSIZE),
            getattr(adapter, "_pool_maxsize", DEFAULT_POOLSIZE),
            getattr(adapter, "_pool_block", DEFAULT_POOLBLOCK),
        )
        connections, maxsize, block = current
        if workers is not None:
            connections = max(connections, workers)
            maxsize = max(maxsize, workers)
        connections = options.get("pool_connections", connections)
        maxsize = options.get("pool_maxsize", maxsize)
        block = options.get("pool_block", block)
        if "max_retries" in options:
            adapter.max_retries = HTTPAdapter(max_retries=options["max_retries"]).max_retries
        if (connections, maxsize, block) != current:
            adapter.poolmanager.clear()
            adapter.init_poolmanager(connections, maxsize, block=block)


def _accepted_keywords(request: Callable[..., Any]) -> tuple[frozenset[str] | None, int | None]:
    """The keyword names and positional count ``request`` takes (None: any)."""
    params = list(inspect.signature(request).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None, None
    names = frozenset(p.name for p in params if p.kind is not p.VAR_POSITIONAL)
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return names, None
    return names, sum(p.kind is not p.KEYWORD_ONLY for p in params)


def worker_count(executor: Executor) -> int | None:
    """How many tasks ``executor`` runs at once, if it says; else None.

    That is its ``max_workers`` (the ``_max_workers`` attribute that
    ``ThreadPoolExecutor`` and ``ProcessPoolExecutor`` keep, and executors
    modelled on them), when it is a positive int.  Dask's executor and most
    others do not say.  It sizes the connection pools (one connection per
    worker; a process pool's workers get copies of the adapters) and
    ``map()``'s default window (twice it).
    """
    count = getattr(executor, "_max_workers", None)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    return None
