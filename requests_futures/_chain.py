"""Which session makes the calls when FuturesSessions wrap each other.

``FuturesSession(session=other)`` makes its calls through ``other``.  If
``other`` is itself a FuturesSession, its own verbs would hand the call to its
executor and the result would be a future of a future: the call goes to the
session it wraps (in turn), or to it synchronously if it wraps none.

A FuturesSession is recognised by its base class,
:class:`~._state.DeferringSession`::

    target, chain = resolve(owner, session)
"""

from __future__ import annotations

from typing import Any

from requests import Session

from ._state import DeferringSession


def resolve(
    owner: DeferringSession, session: Session | None
) -> tuple[Session | None, tuple[DeferringSession, ...]]:
    """The session that makes the calls for ``session=``, and the FuturesSessions on the way.

    :raises ValueError: if the sessions wrap each other in a cycle.
    """
    chain: list[DeferringSession] = []
    runner = session
    while isinstance(runner, DeferringSession):
        if runner is owner or any(runner is seen for seen in chain):
            raise ValueError("session= makes a cycle of FuturesSessions")
        chain.append(runner)
        if runner.session is None:
            break
        runner = runner.session
    return runner, tuple(chain)


def inner_timeout(chain: tuple[DeferringSession, ...]) -> Any:
    """The default timeout the first FuturesSession in ``chain`` that has one applies."""
    for session in chain:
        if session.timeout is not None:
            return session.timeout
    return None


def default_timeout(own: Any, chain: tuple[DeferringSession, ...]) -> Any:
    """The default timeout of a session (``own``) whose ``session=`` chain is ``chain``."""
    return inner_timeout(chain) if own is None and chain else own
