"""The host pools a session keeps: many origins reused, no socket leaked.

requests' adapter keeps the pools of ``pool_connections`` hosts in urllib3's
``PoolManager``, and urllib3 drops a pool it evicts without closing it: it
once closed them, but a pool just handed to a worker could then be closed
under it (urllib3 issue 1252), so it stopped.  An evicted pool's sockets
then stay open for as long as anything (a ``Response``) refers to the pool.

:func:`keep_pools` gives a ``PoolManager`` a :class:`PoolCache` instead:

- it keeps as many host pools as it is told (the session's open-file budget,
  :func:`open_file_budget`, unless ``pool_connections`` says otherwise);
- it keeps at most ``idle_limit`` idle connections over all its pools: one
  handed back beyond that is closed, so the process's open files stay bounded
  however the requests spread over the hosts;
- a pool it drops is *retired*, never closed: its idle connections are
  closed at once, and one still in use is closed when it comes back.  The
  pool itself stays usable, so a worker that was handed it a moment before
  simply opens a connection of its own (closed in turn when handed back),
  and the pool is freed with the last thing that refers to it::

    keep_pools(adapter.poolmanager, pools=1024, idle_limit=1024)
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from typing import Any, cast

from urllib3 import PoolManager, ProxyManager

__all__ = ["MAX_BUDGET", "PoolCache", "keep_pools", "open_file_budget"]

#: The most host pools (and idle connections) a session keeps by default.
MAX_BUDGET = 4096
#: The fewest, however low the open-file limit (requests' own default).
MIN_BUDGET = 10
#: The budget where the open-file limit cannot be read (Windows).
UNKNOWN_LIMIT_BUDGET = 512


def open_file_budget() -> int:
    """How many connections a session keeps open for later by default.

    A quarter of the process's soft ``RLIMIT_NOFILE`` (1,024 → 256), at
    least :data:`MIN_BUDGET` and at most :data:`MAX_BUDGET`, read when the
    session is made; :data:`UNKNOWN_LIMIT_BUDGET` where there is no such
    limit to read.
    """
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return UNKNOWN_LIMIT_BUDGET
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return MAX_BUDGET
    return max(MIN_BUDGET, min(MAX_BUDGET, soft // 4))


class _IdleCount:
    """Idle connections over every pool of a cache, and how many it allows.

    Apart from :class:`PoolCache` so that the pools' queues can count into it
    without a reference cycle: a dropped session's pools, and their sockets,
    are then freed at once, not at some later garbage collection.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.idle = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.idle >= self.limit:
                return False
            self.idle += 1
            return True

    def give(self, count: int) -> None:
        if count:
            with self._lock:
                self.idle -= count


class _ReturnQueue(queue.LifoQueue[Any]):
    """A host pool's queue of connections that counts the idle ones.

    ``queue.Queue`` calls ``_put`` and ``_get`` with its mutex held, so a
    connection handed back is either kept (counted) or closed, atomically
    with respect to :meth:`retire`.
    """

    def __init__(self, count: _IdleCount, maxsize: int) -> None:
        super().__init__(maxsize)
        self._count = count
        self.retired = False
        self.queue.extend([None] * maxsize)  # urllib3's "no connection yet"

    def _put(self, conn: Any) -> None:
        if conn is not None and (self.retired or not self._count.take()):
            conn.close()
            conn = None  # the place stays, so that a blocking pool never waits for it
        self.queue.append(conn)

    def _get(self) -> Any:
        conn = self.queue.pop()
        if conn is not None:
            self._count.give(1)
        return conn

    def retire(self) -> list[Any]:
        """From now on close what is handed back; return the idle connections."""
        with self.mutex:
            self.retired = True
            idle = [conn for conn in self.queue if conn is not None]
            self.queue[:] = [None] * len(self.queue)
        self._count.give(len(idle))
        return idle


def _close_idle(held: _ReturnQueue) -> None:
    for conn in held.retire():
        conn.close()


def retire(pool: Any) -> None:
    """Close ``pool``'s idle connections now and, if it is ours, the rest on return.

    Never ``pool.close()``: a worker may hold the pool (issue 1252 above).
    A pool made elsewhere has its idle connections closed; one in use goes
    back to it and lives as long as the pool.
    """
    held = getattr(pool, "pool", None)
    if isinstance(held, _ReturnQueue):
        idle = held.retire()
    elif isinstance(held, queue.Queue):
        with held.mutex:
            idle = [conn for conn in held.queue if conn is not None]
            places = len(held.queue)
            held.queue.clear()
            held.queue.extend([None] * places)
    else:
        return
    for conn in idle:
        conn.close()


class _PoolMaker:
    """Makes a pool of ``cls`` (what urllib3's ``pool_classes_by_scheme`` holds)
    whose queue counts into ``cache``."""

    def __init__(self, cls: type[Any], cache: PoolCache) -> None:
        self.cls = cls
        self.cache = cache

    def __call__(self, host: str, port: int | None = None, **kwargs: Any) -> Any:
        pool = self.cls(host, port, **kwargs)
        # Swapped before anything else sees the pool; a queue of another
        # kind (a pool class's own QueueCls) is left as it is.
        if type(pool.pool) is queue.LifoQueue:
            pool.pool = held = _ReturnQueue(self.cache.count, pool.pool.maxsize)
            # urllib3 closes the idle connections of a pool that is garbage
            # collected unclosed, in the queue it made: this one now.
            weakref.finalize(pool, _close_idle, held)
        return pool


class PoolCache(MutableMapping[Any, Any]):
    """What a ``PoolManager`` keeps its host pools in: the most recently used
    ``size``, retiring the others (see the module docstring).

    ``PoolManager`` uses it as it uses urllib3's own: ``lock`` held around a
    look-up and an insertion, ``get``, item assignment and ``clear``.
    """

    def __init__(self, size: int, idle_limit: int) -> None:
        self.lock = threading.RLock()
        self.size = size
        self.count = _IdleCount(idle_limit)
        self._pools: OrderedDict[Any, Any] = OrderedDict()
        self._retired_connections = 0  # opened by the pools already dropped

    @property
    def idle(self) -> int:
        """How many idle connections the pools keep now."""
        return self.count.idle

    def connections_opened(self) -> int:
        """How many connections the pools have opened (those dropped included)."""
        with self.lock:
            live = sum(getattr(pool, "num_connections", 0) for pool in self._pools.values())
            return self._retired_connections + live

    def _drop(self, pool: Any) -> None:
        self._retired_connections += getattr(pool, "num_connections", 0)
        retire(pool)

    def __getitem__(self, key: Any) -> Any:
        with self.lock:
            pool = self._pools[key]
            self._pools.move_to_end(key)
            return pool

    def __setitem__(self, key: Any, pool: Any) -> None:
        with self.lock:
            old = self._pools.pop(key, None)
            self._pools[key] = pool
            dropped = [old] if old is not None and old is not pool else []
            while len(self._pools) > self.size:
                dropped.append(self._pools.popitem(last=False)[1])
            for each in dropped:
                self._drop(each)

    def __delitem__(self, key: Any) -> None:
        with self.lock:
            self._drop(self._pools.pop(key))

    def __len__(self) -> int:
        return len(self._pools)

    def __iter__(self) -> Iterator[Any]:
        with self.lock:
            return iter(list(self._pools))

    def clear(self) -> None:
        """Retire every pool (``PoolManager.clear()``, the adapter's ``close()``)."""
        with self.lock:
            pools = list(self._pools.values())
            self._pools.clear()
            for pool in pools:
                self._drop(pool)


def keep_pools(manager: Any, pools: int, idle_limit: int) -> PoolCache | None:
    """Give ``manager`` (a ``PoolManager``) a :class:`PoolCache`, or resize its own.

    The pools it holds already move into the cache.  A proxy manager, or
    anything that is no ``PoolManager``, is left alone (None).
    """
    if not isinstance(manager, PoolManager) or isinstance(manager, ProxyManager):
        return None
    current = manager.pools
    if isinstance(current, PoolCache):
        with current.lock:
            current.size, current.count.limit = pools, idle_limit
        return current
    cache = PoolCache(pools, idle_limit)
    with current.lock:
        for key in list(current.keys()):
            cache[key] = current[key]
    makers = {
        scheme: _PoolMaker(cls.cls if isinstance(cls, _PoolMaker) else cls, cache)
        for scheme, cls in manager.pool_classes_by_scheme.items()
    }
    writable = cast(Any, manager)  # its declared types are urllib3's own classes
    writable.pool_classes_by_scheme = makers
    writable.pools = cache
    return cache


def cache_of(manager: Any) -> PoolCache | None:
    """``manager``'s :class:`PoolCache`, if it has one."""
    pools = getattr(manager, "pools", None)
    return pools if isinstance(pools, PoolCache) else None
