"""D, pool churn: a supplied executor of 64 threads; does the pool keep up?

An undersized connection pool shows as extra TCP connections (each request
that finds no free connection opens one, and urllib3 drops it afterwards with
a "Connection pool is full" warning).  Ideal: C connections, no warning.
"""

from __future__ import annotations

from . import Scenario

SCENARIOS = [
    Scenario(
        key="D",
        title="D pool churn, C=64 supplied executor (N=2,000, 5 ms delay)",
        n=2000,
        quick_n=256,
        c=64,
        path="/?delay_ms=5",
        size=2,
        contenders=("threadpool", "futures-executor", "futures", "rf110-executor", "rf110"),
        baseline="threadpool",
        columns=("time", "req/s", "ratio", "connections", "pool full"),
        delay_ms=5,
    )
]
