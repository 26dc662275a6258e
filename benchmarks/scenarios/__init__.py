"""The scenario registry: one module per scenario, found at run time.

Every module in this package whose name does not start with ``_`` is imported
and must define ``SCENARIOS``, a list of :class:`Scenario`.  Each scenario is
one table in the output (scenario A is three: one per concurrency).

To add a benchmark, drop a module here, e.g. ``f_callbacks.py``::

    from benchmarks.scenarios import Scenario

    SCENARIOS = [
        Scenario(
            key="F",
            title="F CPU-heavy background_callback",
            n=400, quick_n=40, c=8,
            path="/?delay_ms=0", size=2,
            contenders=("futures", "my-new-contender"),
            baseline="futures",
            columns=("time", "req/s"),
        )
    ]

and, if it needs a new client, register one in ``benchmarks/contenders.py``
with the ``@contender(name, label, peer)`` decorator (a function that makes
``job.n`` requests with ``job.c`` in flight and calls ``job.tally.check`` for
each response).  ``python -m benchmarks --scenario F`` then runs it alone.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One table: every contender makes ``n`` requests for ``path`` at ``c``."""

    key: str  # unique; ``--scenario`` selects by this key or its prefix
    title: str
    n: int
    quick_n: int  # n with --quick
    c: int
    path: str  # on the benchmark server, e.g. "/?delay_ms=20"
    size: int  # body length every response must have
    contenders: tuple[str, ...]
    baseline: str  # the contender every ratio is taken against
    #: Measures shown: time, req/s, ratio, efficiency, MB/s, MiB/s, connections,
    #: pool full, RSS MiB, KiB/req, CPU us/req (the client process's CPU time
    #: per request, which the machine's other load disturbs less than time),
    #: switches/req (the client process's context switches per request),
    #: CPU/wall (the client process's CPU time over wall time), CPU ratio
    #: (the baseline's CPU time over each contender's); and from
    #: scenario G: host B time (G1: until host B's requests are done),
    #: asleep (seconds threads other than the main one spent in time.sleep),
    #: 429s (answered by the server), early (requests the server received
    #: during a Retry-After pause it had asked for, see benchmarks/server.py);
    #: and from scenario I (the server's ``/capacity`` route): 429 share (of
    #: the server's answers), failed (still 429 after the retries), most in
    #: flight (at the server), final limit (ours: the origin's limit at the
    #: end), p95 (of the time the server held the requests it served); and
    #: most open (the most connections the server had open at once).
    columns: tuple[str, ...] = ("time", "req/s", "ratio", "connections")
    #: The measure ``ratio`` compares: the baseline's over each contender's.
    ratio_of: str = "elapsed"
    delay_ms: int = 0  # for the efficiency column: ideal = ceil(n / c) * delay
    runs: int | None = None  # None: the suite's default (3; 1 with --quick)
    #: Show each contender's best run (lowest time, lowest CPU) instead of the median.
    best: bool = False
    #: Longest one run may take (s); a slower contender is shown as timed out
    #: and not run again (--quick allows 8 s).
    timeout: float = 45.0
    note: str = ""
    #: How many origins (server ports) the ``n`` requests go round-robin over:
    #: ``job.urls()`` spreads them; 1 keeps them all on the first.
    origins: int = 1


def load() -> list[Scenario]:
    """Every scenario of every module in this package, in module name order."""
    scenarios: list[Scenario] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        scenarios.extend(loaded.SCENARIOS)
    keys = [s.key for s in scenarios]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"scenario keys must be unique: {sorted(duplicates)}")
    return scenarios


def select(scenarios: list[Scenario], patterns: list[str] | None) -> list[Scenario]:
    """The scenarios whose key equals or starts with one of ``patterns``."""
    if not patterns:
        return scenarios
    chosen = [s for s in scenarios if any(s.key.startswith(p) for p in patterns)]
    if not chosen:
        known = ", ".join(s.key for s in scenarios)
        raise SystemExit(f"no scenario matches {patterns}; known: {known}")
    return chosen
