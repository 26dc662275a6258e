"""C, bulk: 1 MiB bodies, where reading bytes costs more than the request."""

from __future__ import annotations

from . import Scenario

MIB = 1024 * 1024

SCENARIOS = [
    Scenario(
        key="C",
        title="C bulk, C=8 (N=200 bodies of 1 MiB)",
        n=200,
        quick_n=16,
        c=8,
        path=f"/bytes?n={MIB}",
        size=MIB,
        contenders=(
            "sequential",
            "threadpool",
            "futures",
            "futures-executor",
            "futures-map",
            "futures-await",
            "rf110",
            "grequests",
            "httpx-threads",
            "httpx-async",
            "aiohttp",
            "niquests-async",
        ),
        baseline="threadpool",
        columns=("time", "MB/s", "ratio", "CPU us/req", "switches/req", "connections"),
    )
]
