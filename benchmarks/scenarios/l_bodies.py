"""L, bodies: 100 bodies of 1 MiB, 8 threads, FuturesSession against the hand-rolled pool.

Issue 20's comparison: ``FuturesSession(max_workers=8)`` against a
``ThreadPoolExecutor(8)`` sharing one ``requests.Session`` (its pool sized 8)
and reading ``.content``; each contender's best of 3 runs, in alternating
order.  The target: at most half the wall time and half the CPU time.
"""

from __future__ import annotations

from . import Scenario

MIB = 2**20

SCENARIOS = [
    Scenario(
        key="L",
        title="L bodies, C=8 (N=100 bodies of 1 MiB, best run)",
        n=100,
        quick_n=16,
        c=8,
        path=f"/bytes?n={MIB}",
        size=MIB,
        contenders=("threadpool", "futures"),
        baseline="threadpool",
        columns=("time", "MB/s", "ratio", "CPU us/req", "CPU ratio", "CPU/wall", "connections"),
        best=True,
    )
]
