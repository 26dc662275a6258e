"""Sizing the connection pools of a session's adapters for its workers.

Each HTTP adapter keeps the pools of as many hosts as the open-file budget
allows (:func:`~requests_futures._pool_cache.open_file_budget`), each pool
as many connections as there are workers, and closes what it drops
(:mod:`requests_futures._pool_cache`)::

    configure_adapters(session, worker_count(executor), {"pool_block": True})
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from requests import Session
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter

from ._pool_cache import cache_of, keep_pools, open_file_budget

#: Keys accepted in ``adapter_kwargs``: the ones ``HTTPAdapter`` takes.
ADAPTER_KWARGS = frozenset({"pool_connections", "pool_maxsize", "pool_block", "max_retries"})


def configure_adapters(session: Session, workers: int | None, options: Mapping[str, Any]) -> None:
    """Size the pools of ``session``'s HTTP adapters for ``workers`` threads.

    Each adapter keeps the pools of at least as many hosts as the open-file
    budget allows (``pool_connections``, unless ``options`` gives it), and as
    many idle connections over all of them; a pool holds at least
    ``workers`` connections (``pool_maxsize``).  Adapters stay the objects
    they are (custom subclasses keep their behaviour); only their pool
    manager is rebuilt when its size changes.

    :raises TypeError: for a key of ``options`` that ``HTTPAdapter`` does not take.
    """
    unknown = set(options) - ADAPTER_KWARGS
    if unknown:
        raise TypeError(
            f"adapter_kwargs accepts {sorted(ADAPTER_KWARGS)}; got unknown {sorted(unknown)}"
        )
    budget = open_file_budget()
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        if not isinstance(adapter, HTTPAdapter):
            continue
        current = (
            getattr(adapter, "_pool_connections", DEFAULT_POOLSIZE),
            getattr(adapter, "_pool_maxsize", DEFAULT_POOLSIZE),
            getattr(adapter, "_pool_block", DEFAULT_POOLBLOCK),
        )
        connections, maxsize, block = current
        connections = max(connections, budget, workers or 0)
        if workers is not None:
            maxsize = max(maxsize, workers)
        connections = options.get("pool_connections", connections)
        maxsize = options.get("pool_maxsize", maxsize)
        block = options.get("pool_block", block)
        if "max_retries" in options:
            adapter.max_retries = HTTPAdapter(max_retries=options["max_retries"]).max_retries
        if (connections, maxsize, block) != current:
            adapter.poolmanager.clear()
            adapter.init_poolmanager(connections, maxsize, block=block)
        keep_adapter_pools(adapter)


def keep_adapter_pools(adapter: HTTPAdapter) -> None:
    """Give ``adapter``'s pool manager a cache that retires what it drops.

    It keeps ``pool_connections`` host pools, and as many idle connections
    over all of them (at least ``pool_maxsize``: what one busy host needs).
    """
    connections = getattr(adapter, "_pool_connections", DEFAULT_POOLSIZE)
    maxsize = getattr(adapter, "_pool_maxsize", DEFAULT_POOLSIZE)
    keep_pools(adapter.poolmanager, connections, max(connections, maxsize))


def connections_opened(session: Session) -> int | None:
    """How many connections ``session``'s HTTP adapters have opened, closed
    ones included; None if none of them keeps its pools in a cache of ours."""
    caches = [
        cache_of(adapter.poolmanager)
        for adapter in {id(a): a for a in session.adapters.values()}.values()
        if isinstance(adapter, HTTPAdapter)
    ]
    counts = [cache.connections_opened() for cache in caches if cache is not None]
    return sum(counts) if counts else None


def keep_session_pools(session: Session) -> None:
    """:func:`keep_adapter_pools` for each of ``session``'s HTTP adapters.

    For pool managers made afresh (after a fork, in an unpickled copy).
    """
    for adapter in {id(a): a for a in session.adapters.values()}.values():
        if isinstance(adapter, HTTPAdapter):
            keep_adapter_pools(adapter)


def worker_count(executor: Executor) -> int | None:
    """How many tasks ``executor`` runs at once, if it says; else None.

    That is its ``max_workers`` (the ``_max_workers`` attribute that
    ``ThreadPoolExecutor`` and ``ProcessPoolExecutor`` keep, and executors
    modelled on them), when it is a positive int.  Dask's executor and most
    others do not say.  It sizes the connection pools (one connection per
    worker; a process pool's workers get copies of the adapters),
    ``map()``'s default window (twice it) and how many requests the
    scheduler hands the executor at once.
    """
    count = getattr(executor, "_max_workers", None)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return count
    return None
