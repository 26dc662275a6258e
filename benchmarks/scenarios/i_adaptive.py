"""I, adaptive: a host of unknown capacity, and how each client copes with it.

Every client has 16 workers and retries an overload answer 5 times
(``retries=5``, or that policy as a :class:`urllib3.util.Retry`):
``FuturesSession(per_host=16, adaptive=True)``, where 16 is a ceiling;
``FuturesSession`` with a fixed ``per_host`` of 3, 4, 8 or 16; the ``Retry``
mounted on the adapter of a ``requests.Session`` shared by 16 threads; and
requests-ratelimiter's ``LimiterAdapter`` at 50 requests a second (its
default burst: up to 50 in any second), a round guess by a user who does not
know the host, with the same ``Retry`` under it.

- I1: the host answers 429 (no ``Retry-After``) to a request that finds 3 of
  its requests in hand; each takes 10 ms.
- I2: the host has 4 "cores": a request takes 20 ms x ceil(in hand / 4), so
  beyond 4 at once only latency grows.
- I3: a healthy host (20 ms a request, no limit): what adapting costs.

``429 share``: the server's 429 answers over all its answers; ``failed``:
requests still 429 after the retries; ``most in flight``: the most the server
held at once; ``final limit``: our session's limit for the host at the end;
``p95``: the 95th percentile of the time the server held the requests it
served (its queueing, which every client of the host shares).
"""

from __future__ import annotations

from ..targets import ADAPTIVE, FIXED
from . import Scenario

_COLUMNS = ("time", "ratio", "429 share", "failed", "most in flight", "final limit", "p95")
_ALL = (ADAPTIVE, *FIXED, "retry-capacity", "ratelimiter-capacity")

SCENARIOS = [
    Scenario(
        key="I1",
        title="I1 hard capacity 3, 16 workers (429 above it, 10 ms a request, retries=5)",
        n=300,
        quick_n=60,
        c=16,
        path="/capacity?cap=3&ms=10",
        size=2,
        contenders=_ALL,
        baseline="futures-per-host-16",
        columns=_COLUMNS,
    ),
    Scenario(
        key="I2",
        title="I2 four cores, 16 workers (20 ms x ceil(in hand / 4) a request)",
        n=800,
        quick_n=100,
        c=16,
        path="/capacity?cores=4&ms=20",
        size=2,
        contenders=_ALL,
        baseline="futures-per-host-16",
        columns=_COLUMNS,
    ),
    Scenario(
        key="I3",
        title="I3 healthy host, 16 workers (20 ms a request, no limit)",
        n=1600,
        quick_n=100,
        c=16,
        path="/capacity?ms=20",
        size=2,
        contenders=(ADAPTIVE, "futures-per-host-16", "retry-capacity"),
        baseline="futures-per-host-16",
        columns=(*_COLUMNS, "CPU us/req"),
    ),
]
