"""B, overhead-bound: no server delay, so each client's own CPU cost decides."""

from __future__ import annotations

from . import Scenario

_COMMON = {
    "n": 3000,
    "quick_n": 200,
    "path": "/?delay_ms=0",
    "size": 2,
    "baseline": "sequential",
    "columns": ("time", "req/s", "ratio", "CPU us/req", "switches/req", "connections"),
}

SCENARIOS = [
    Scenario(
        key="B-C1",
        title="B overhead-bound, C=1 (N=3,000, no delay)",
        c=1,
        contenders=(
            "sequential",
            "futures",
            "futures-no-context",
            "futures-deadline",
            "futures-map",
            "futures-await",
            "rf110",
            "threadpool",
            "httpx-threads",
        ),
        **_COMMON,  # type: ignore[arg-type]
    ),
    Scenario(
        key="B-C8",
        title="B overhead-bound, C=8 (N=3,000, no delay)",
        c=8,
        contenders=(
            "sequential",
            "futures",
            "futures-no-context",
            "futures-deadline",
            "futures-executor",
            "futures-map",
            "futures-await",
            "rf110",
            "threadpool",
            "grequests",
            "httpx-threads",
            "httpx-async",
            "aiohttp",
            "niquests-async",
        ),
        **_COMMON,  # type: ignore[arg-type]
    ),
]
