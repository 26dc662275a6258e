"""What ``deadline=`` costs a request that meets it: ``python -m benchmarks.deadline_cost``.

Table B's two contenders (``futures`` and ``futures-deadline``) each run in a
process of their own, minutes apart, so the machine's other load moves their
figures by more than the few per cent to be measured.  Here one process
alternates batches with and without a deadline (``deadline=60``) on the same
session, against the benchmark server (its own process, ``/?delay_ms=0``),
and compares this process's CPU time per request, batch by batch: the median
of the ratios is the overhead (issue 22's target: at most 5 %).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from ._system import machine
from .runner import running_server

BATCH = 300
ROUNDS = 30


def _batch(session: Any, url: str, **options: Any) -> float:
    """CPU seconds of this process per request for one batch."""
    started = time.process_time()
    futures = [session.get(url, **options) for _ in range(BATCH)]
    for future in futures:
        response = future.result(timeout=60)
        assert response.status_code == 200 and response.content == b"ok"
    return (time.process_time() - started) / BATCH


def main(argv: list[str] | None = None) -> int:
    from requests_futures import FuturesSession

    args = sys.argv[1:] if argv is None else argv
    results: dict[str, Any] = {"machine": machine()}
    with running_server() as server:
        url = server.url + "/?delay_ms=0"
        for workers in (1, 8):
            with FuturesSession(max_workers=workers) as session:
                _batch(session, url)  # warm: connections, threads
                _batch(session, url, deadline=60)
                plain, within = [], []
                for n in range(ROUNDS):
                    # Alternate which goes first, so neither always follows the other.
                    first, second = ({}, {"deadline": 60}) if n % 2 else ({"deadline": 60}, {})
                    a = _batch(session, url, **first)
                    b = _batch(session, url, **second)
                    (plain if not first else within).append(a)
                    (within if not first else plain).append(b)
            ratios = [w / p for p, w in zip(plain, within, strict=True)]
            row = {
                "cpu_us_per_request": round(statistics.median(plain) * 1e6, 1),
                "with_deadline_us": round(statistics.median(within) * 1e6, 1),
                "overhead": round(statistics.median(ratios) - 1, 4),
                "overhead_of_medians": round(
                    statistics.median(within) / statistics.median(plain) - 1, 4
                ),
            }
            results[f"C={workers}"] = row
            print(
                f"C={workers}: {row['cpu_us_per_request']} us/request without, "
                f"{row['with_deadline_us']} with deadline=60: "
                f"{row['overhead'] * 100:+.1f} % (median of {ROUNDS} paired batches; "
                f"{row['overhead_of_medians'] * 100:+.1f} % between the medians)",
                flush=True,
            )
    if "--json" in args:
        with open(args[args.index("--json") + 1], "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
