"""G, polite: a rate-limited host, a 429 storm, and what the scheduler costs.

- G1: host A serves 2 requests a second (429 + ``Retry-After`` otherwise),
  host B none slower than 20 ms; A's requests are submitted first.  ``host B
  time`` is until B's are all done: a client that waits for A's rate inside a
  worker holds B's requests back.
- G2: the server answers 429 + ``Retry-After: 1`` to the first request for
  one id in 25; ``asleep`` is what the workers spent in ``time.sleep``.
- G3: limits on but never binding (``per_host`` = C), against none at all.
"""

from __future__ import annotations

from ..contenders import HOL_RATE, HOL_SHARE, STORM_EVERY
from . import Scenario

_N1 = 13 * HOL_SHARE

SCENARIOS = [
    Scenario(
        key="G1",
        title=(
            f"G1 head-of-line, C=8 ({_N1 // HOL_SHARE} requests to host A at {HOL_RATE}/s, "
            f"then {_N1 - _N1 // HOL_SHARE} to host B, 20 ms delay)"
        ),
        n=_N1,
        quick_n=2 * HOL_SHARE,
        c=8,
        path="/?delay_ms=20",
        size=2,
        contenders=("futures-polite-hol", "ratelimiter-hol", "retry-hol"),
        baseline="ratelimiter-hol",
        columns=("host B time", "ratio", "time", "asleep", "429s", "early", "CPU/wall"),
        ratio_of="b_elapsed",
    ),
    Scenario(
        key="G2",
        title=f"G2 429 storm, C=8 (Retry-After: 1 to one request in {STORM_EVERY})",
        n=200,
        quick_n=2 * STORM_EVERY,
        c=8,
        path="/storm",
        size=2,
        contenders=("futures-polite-storm", "retry-storm"),
        baseline="retry-storm",
        columns=("time", "ratio", "asleep", "429s", "early", "CPU us/req", "CPU/wall"),
    ),
    Scenario(
        key="G3",
        title="G3 scheduler cost, C=8 (N=3,000, no delay, limits that never bind)",
        n=3000,
        quick_n=200,
        c=8,
        path="/?delay_ms=0",
        size=2,
        contenders=("futures-polite-off", "futures-polite-idle", "futures-polite-all"),
        baseline="futures-polite-off",
        columns=("time", "req/s", "ratio", "CPU us/req", "switches/req", "connections"),
        runs=5,
    ),
]
