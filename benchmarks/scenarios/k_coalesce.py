"""K, a burst over a few hot URLs: identical requests in flight, with and without coalesce."""

from __future__ import annotations

from . import Scenario

SCENARIOS = [
    Scenario(
        key="K",
        title="K 1,000 calls over 10 hot URLs, 50 ms server, C=8",
        n=1000,
        quick_n=100,
        c=8,
        path="/?delay_ms=50",
        size=2,
        contenders=("futures-hot", "futures-hot-coalesce"),
        baseline="futures-hot",
        columns=("time", "req/s", "ratio", "served", "CPU us/req"),
        delay_ms=50,
        note=(
            "All calls are made at once, each for one of 10 URLs; served: the "
            "requests that reached the server.  With coalesce=True, a call "
            "identical to one in flight waits for its answer instead of being sent."
        ),
    )
]
