"""Sizing the connection pools of a session's adapters for its workers.

::

    configure_adapters(session, worker_count(executor), {"pool_block": True})
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from requests import Session
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter

#: Keys accepted in ``adapter_kwargs``: the ones ``HTTPAdapter`` takes.
ADAPTER_KWARGS = frozenset({"pool_connections", "pool_maxsize", "pool_block", "max_retries"})


def configure_adapters(session: Session, workers: int | None, options: Mapping[str, Any]) -> None:
    """Size the pools of ``session``'s HTTP adapters for ``workers`` threads.

    Adapters stay the objects they are (custom subclasses keep their
    behaviour); only their pool manager is rebuilt when its size changes.

    :raises TypeError: for a key of ``options`` that ``HTTPAdapter`` does not take.
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
