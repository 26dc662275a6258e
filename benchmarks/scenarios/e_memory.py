"""E, memory: peak resident memory above the process's baseline.

``E-hold`` submits every request before reading any result, so all futures
and their responses are alive at once; ``E-map`` streams 200,000 URLs through
``FuturesSession.map`` (default window), whose memory should stay flat.
One run each: peak memory barely varies, and these runs are the longest (so
``E-map`` runs ours alone: grequests' ``imap`` stays as flat in ``E-hold``).
"""

from __future__ import annotations

from . import Scenario

SCENARIOS = [
    Scenario(
        key="E-hold",
        title="E memory, 50,000 requests submitted before any result is read (C=16)",
        n=50_000,
        quick_n=1_000,
        c=16,
        path="/?delay_ms=0",
        size=2,
        contenders=("futures-hold", "rf110-hold", "grequests-imap"),
        baseline="rf110-hold",
        columns=("time", "req/s", "RSS MiB", "KiB/req"),
        runs=1,
        timeout=600.0,
    ),
    Scenario(
        key="E-map",
        title="E memory, 200,000 items through map with its default window (C=16)",
        n=200_000,
        quick_n=2_000,
        c=16,
        path="/?delay_ms=0",
        size=2,
        contenders=("futures-map",),
        baseline="futures-map",
        columns=("time", "req/s", "RSS MiB", "KiB/req"),
        runs=1,
        timeout=600.0,
    ),
]
