"""Sessions in a child process made by ``os.fork()``.

A session made before a fork (at import time in a web app, a gunicorn
``--preload`` master, a Celery or ``multiprocessing`` "fork" worker) is copied
into the child with its thread pool, whose threads are not: the copy believes
its workers are idle and a request would wait for ever.  Its connection pools
are copied too, and two processes reading one keep-alive connection would mix
up their responses.

So, in the child, every session registered here starts afresh (its own
``_after_fork``): a new thread pool where it owned one, nothing of the
parent's queued work, and empty connection pools.  The parent's pools are not
closed from the child: they are kept aside, unused, until the child exits,
because closing a connection (a TLS ``close_notify``, a ``shutdown()``) could
end it for the parent as well::

    track(session)  # done by every FuturesSession
"""

from __future__ import annotations

import logging
import os
import weakref
from typing import Any, Protocol

from requests import Session
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter

__all__ = ["FORKED", "drop_pools", "track"]

logger = logging.getLogger(__name__)

#: What a call raises in the child on a session whose executor was supplied.
FORKED = (
    "this FuturesSession's executor was made before os.fork(): its workers belong to the "
    "parent process and do not exist in this child; create the session (or the executor "
    "you pass it) in the child"
)


class _Forkable(Protocol):
    def _after_fork(self) -> None: ...


# Every open session; weak, so that tracking keeps nothing alive.
_sessions: weakref.WeakSet[_Forkable] = weakref.WeakSet()

# In a child: the pool managers inherited from the parent, kept referenced so
# that no garbage collection ever closes their sockets from this process.
_inherited: list[Any] = []


def track(session: _Forkable) -> None:
    _sessions.add(session)


def drop_pools(session: Session) -> None:
    """Give ``session``'s HTTP adapters empty pools; keep the old ones aside, open."""
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        if not isinstance(adapter, HTTPAdapter):
            continue  # no pools we know how to replace
        _inherited.append((adapter.poolmanager, adapter.proxy_manager))
        adapter.proxy_manager = {}
        adapter.init_poolmanager(
            getattr(adapter, "_pool_connections", DEFAULT_POOLSIZE),
            getattr(adapter, "_pool_maxsize", DEFAULT_POOLSIZE),
            block=getattr(adapter, "_pool_block", DEFAULT_POOLBLOCK),
        )


def _in_child() -> None:
    for session in list(_sessions):
        try:
            session._after_fork()
        except Exception:  # a fork hook must never break the child
            logger.warning("requests-futures: could not reset a session after fork", exc_info=True)


# Not on Windows, which has no fork.
getattr(os, "register_at_fork", lambda **hooks: None)(after_in_child=_in_child)
