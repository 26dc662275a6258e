"""J, many origins: one job spread round-robin over 1,000 (or 2,000) origins.

Every origin is a port of the benchmark server (scheme, host and port make an
origin).  ``J`` compares the job spread over 1,000 origins with the same job
on one origin (the baseline) and with the peers doing the spread job:
connections opened, the most open at once, CPU per request.  ``J-per-host``
measures the memory that per-origin scheduling costs over 2,000 origins:
its peak RSS against the same job without ``per_host``.
"""

from __future__ import annotations

from . import Scenario

ORIGINS = 1000
ROUNDS = 10

SCENARIOS = [
    Scenario(
        key="J",
        title=f"J many origins, {ORIGINS:,} x {ROUNDS} rounds (C=16, 2 ms)",
        n=ORIGINS * ROUNDS,
        quick_n=ORIGINS * 2,
        c=16,
        path="/?delay_ms=2",
        size=2,
        contenders=(
            "futures-one-origin",
            "futures",
            "futures-map",
            "threadpool",
            "grequests",
            "httpx-threads",
            "httpx-async",
            "aiohttp",
        ),
        baseline="futures-one-origin",
        columns=("time", "req/s", "ratio", "connections", "most open", "CPU us/req"),
        origins=ORIGINS,
        delay_ms=2,
        timeout=120.0,
        note="ratio: req/s over the same job on one origin",
    ),
    Scenario(
        key="J-per-host",
        title="J many origins, 2,000 x 5 rounds, per_host=2 against none (C=16)",
        n=2000 * 5,
        quick_n=2000,
        c=16,
        path="/?delay_ms=0",
        size=2,
        contenders=("futures", "futures-crawl-per-host-2"),
        baseline="futures",
        columns=("time", "req/s", "ratio", "connections", "RSS MiB"),
        origins=2000,
        runs=1,
        timeout=120.0,
    ),
]
