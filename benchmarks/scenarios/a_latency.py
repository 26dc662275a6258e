"""A, latency-bound: every answer takes 20 ms; concurrency should hide it."""

from __future__ import annotations

from . import Scenario

CONTENDERS = (
    "threadpool",
    "futures",
    "futures-executor",
    "futures-map",
    "futures-await",
    "rf110",
    "rf110-executor",
    "grequests",
    "httpx-threads",
    "httpx-async",
    "aiohttp",
    "niquests-async",
)

SCENARIOS = [
    Scenario(
        key=f"A-C{c}",
        title=f"A latency-bound, C={c} (N=2,000, 20 ms server delay)",
        n=2000,
        quick_n=max(64, c),
        c=c,
        path="/?delay_ms=20",
        size=2,
        contenders=CONTENDERS,
        baseline="threadpool",
        columns=(
            "time",
            "req/s",
            "ratio",
            "efficiency",
            "CPU us/req",
            "switches/req",
            "connections",
            "pool full",
        ),
        delay_ms=20,
    )
    for c in (16, 128, 512)
]
