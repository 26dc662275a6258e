"""Helpers of :class:`~requests_futures.sessions.FuturesSession` that need no session."""

from __future__ import annotations

from concurrent.futures import Executor


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
