"""Hung servers and ``deadline=``: ``python -m benchmarks.deadline_hang [--json FILE]``.

Issue 22's scenario: 200 requests to the benchmark server (in its own
process), one in ten to ``/hang`` (never answered), the others to
``/?delay_ms=300``; 16 workers, at most 16 requests in flight (a new one is
submitted as one ends, so each deadline counts from its own call).  Three
runs, each with a fresh ``FuturesSession(max_workers=16)``:

1. ``healthy``: the 180 answered requests alone;
2. ``deadline``: all 200, ``deadline=1`` on each;
3. ``timeout``: all 200 with ``timeout=5`` and no deadline (a hung request
   holds its worker until the read timeout: as long as the longest hang).

For the deadline run it reports how late the latest hung future settled
after its deadline (target: under 0.5 s), how many hung connections the
server still held when the run ended (target: none: each was closed) and the
run's time over the healthy run's (target: at most 1.5).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import wait
from typing import Any

from ._system import machine
from .runner import running_server

COUNT = 200
HUNG_EVERY = 10  # one request in ten is never answered
WORKERS = 16
DEADLINE = 1.0
TIMEOUT = 5.0
HEALTHY = "/?delay_ms=300"


def _run(url: str, paths: list[str], **options: Any) -> dict[str, Any]:
    """Fetch ``paths``, at most WORKERS at once; what each future did, and when."""
    from requests_futures import FuturesSession

    slots = threading.BoundedSemaphore(WORKERS)
    settled: list[tuple[str, float, float, str]] = []  # path, submitted, settled, outcome
    lock = threading.Lock()
    futures = []
    session = FuturesSession(max_workers=WORKERS)
    started = time.monotonic()
    for path in paths:
        slots.acquire()
        submitted = time.monotonic()
        future = session.get(url + path, **options)

        def done(future: Any, path: str = path, submitted: float = submitted) -> None:
            ended = time.monotonic()
            error = future.exception()
            outcome = "ok" if error is None else type(error).__name__
            with lock:
                settled.append((path, submitted, ended, outcome))
            slots.release()

        future.add_done_callback(done)
        futures.append(future)
    wait(futures, timeout=60)
    elapsed = time.monotonic() - started
    closing = time.monotonic()
    session.close()
    hung = [s for s in settled if s[0] == "/hang"]
    return {
        "seconds": round(elapsed, 3),
        "close_seconds": round(time.monotonic() - closing, 3),
        "outcomes": {o: sum(1 for s in settled if s[3] == o) for o in {s[3] for s in settled}},
        "hung_latest_after_submit": round(max((s[2] - s[1] for s in hung), default=0.0), 3),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = ["/hang" if n % HUNG_EVERY == HUNG_EVERY - 1 else HEALTHY for n in range(COUNT)]
    results: dict[str, Any] = {"machine": machine()}
    with running_server() as server:
        for name, chosen, options in [
            ("healthy", [p for p in paths if p != "/hang"], {}),
            ("deadline", paths, {"deadline": DEADLINE}),
            ("timeout", paths, {"timeout": TIMEOUT}),
        ]:
            server.reset()
            run = _run(server.url, chosen, **options)
            stats = server.stats()
            run["server_hanging_after_close"] = stats["hanging"]
            run["server_hung_up"] = stats["hung_up"]
            results[name] = run
            print(name, json.dumps(run), flush=True)
    deadline, healthy = results["deadline"], results["healthy"]
    ratio = deadline["seconds"] / healthy["seconds"]
    late = deadline["hung_latest_after_submit"] - DEADLINE
    results["summary"] = {
        "ratio_to_healthy": round(ratio, 2),
        "latest_hung_settled_after_deadline_s": round(late, 3),
        "hung_connections_closed": deadline["server_hung_up"],
    }
    print(
        f"deadline run: {deadline['seconds']:.2f} s = {ratio:.2f}x the healthy run "
        f"({healthy['seconds']:.2f} s; timeout-only run: {results['timeout']['seconds']:.2f} s); "
        f"latest hung future settled {late * 1000:.0f} ms after its deadline; "
        f"hung connections closed by the client: {deadline['server_hung_up']} of "
        f"{COUNT // HUNG_EVERY}"
    )
    if "--json" in args:
        with open(args[args.index("--json") + 1], "w", encoding="utf-8") as out:
            json.dump(results, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
