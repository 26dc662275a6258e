"""One host's adaptive limit over time: ``python -m benchmarks.adaptive_trace [FILE.png]``.

A ``FuturesSession(max_workers=16, per_host=16, adaptive=True, retries=5)``
fetches from the benchmark server's ``/capacity`` route (the server in its
own process, the session in this one) through three phases, while a thread
reads ``session.host_stats()`` every :data:`EVERY` seconds:

1. the host takes 3 requests at once and answers 429 to a fourth;
2. it recovers and takes 10 (the URLs change, the origin does not);
3. it has 4 "cores" and no hard limit: a request takes 10 ms x ceil(in hand /
   4), so beyond 4 at once only latency grows.

Every phase's requests take the same 10 ms alone: the latency rule compares
an answer's time with the origin's recent minimum, and a kind of request
more than twice as slow as the last phase's would read as queueing until that
minimum ages out (see docs/guide/adaptive.rst).

It prints each phase's 429 share, throughput and p95 (of the time the server
held its requests), then how many answers after the recovery the limit took
to reach :data:`RECOVERED`.  With a file name it also draws the limit and the
requests in flight over time (needs matplotlib: the extra ``bench``).
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import wait
from typing import Any, NamedTuple

from .runner import running_server

#: (label, path, requests, the host's capacity or cores, for the plot)
PHASES = [
    ("capacity 3", "/capacity?cap=3&ms=10", 600, 3),
    ("recovered: capacity 10", "/capacity?cap=10&ms=10", 1500, 10),
    ("4 cores", "/capacity?cores=4&ms=10", 1200, 4),
]
#: Seconds between two reads of ``host_stats()``.
EVERY = 0.005
#: The limit that counts as recovered in phase 2: most of its new capacity.
RECOVERED = 8
CEILING = 16


class Sample(NamedTuple):
    at: float  # seconds since the first phase began
    limit: int
    in_flight: int
    completed: int  # attempts that ended so far


def trace(argv: list[str]) -> int:
    from requests_futures import FuturesSession

    samples: list[Sample] = []
    starts: list[float] = []
    with (
        running_server() as server,
        FuturesSession(max_workers=CEILING, per_host=CEILING, adaptive=True, retries=5) as session,
    ):
        stop = threading.Event()
        origin = server.url  # scheme://host:port, as host_stats() names it
        start = time.monotonic()

        def sample() -> None:
            while not stop.wait(EVERY):
                stats = session.host_stats().get(origin)
                if stats is not None:
                    at = time.monotonic() - start
                    samples.append(Sample(at, stats.limit or 0, stats.in_flight, stats.completed))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            for label, path, count, _ in PHASES:
                server.reset()
                began = time.monotonic()
                starts.append(began - start)
                futures = [session.get(server.url + path) for _ in range(count)]
                wait(futures)
                took = time.monotonic() - began
                failed = sum(f.result().status_code != 200 for f in futures)
                seen = server.stats()
                print(
                    f"{label}: {count} requests in {took:.2f} s ({count / took:,.0f}/s), "
                    f"429 share {seen['refused'] / seen['requests']:.1%}, {failed} failed, "
                    f"p95 {seen['held_p95_us'] / 1000:.0f} ms, most in flight {seen['busiest']}"
                )
        finally:
            stop.set()
            sampler.join()
    print(recovery(samples, starts[1]))
    if argv:
        plot(samples, starts, argv[0])
    return 0


def recovery(samples: list[Sample], at: float) -> str:
    """How long after ``at`` the limit first reached :data:`RECOVERED`, in answers."""
    before = next((s for s in samples if s.at >= at), None)
    reached = next((s for s in samples if s.at >= at and s.limit >= RECOVERED), None)
    if before is None or reached is None:
        return f"recovery: the limit never reached {RECOVERED}"
    return (
        f"recovery: the limit reached {RECOVERED} {reached.at - at:.2f} s and "
        f"{reached.completed - before.completed} answers after the host recovered"
    )


def plot(samples: list[Sample], starts: list[float], path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("a plot needs matplotlib: pip install -e '.[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure: Any
    figure, axes = plt.subplots(figsize=(10, 4))
    times = [s.at for s in samples]
    in_flight = [s.in_flight for s in samples]
    axes.step(times, in_flight, where="post", color="#bbbbbb", label="in flight")
    axes.step(times, [s.limit for s in samples], where="post", color="#1f5fa6", label="limit")
    ends = [*starts[1:], times[-1] if times else 0.0]
    for number, ((label, _, _, takes), began, end) in enumerate(
        zip(PHASES, starts, ends, strict=True)
    ):
        axes.axvline(began, color="#888888", linewidth=0.5)
        axes.text(began, CEILING + 0.3 - 0.9 * (number % 2), f" {label}", fontsize=8)
        axes.hlines(
            takes,
            began,
            end,
            colors="#c0392b",
            linestyles="dashed",
            linewidth=1,
            label="capacity (phase 3: cores)" if number == 0 else "_nolegend_",
        )
    axes.legend(loc="center right", fontsize=8)
    axes.set_ylim(0, CEILING + 1.5)
    axes.set_xlabel("seconds")
    axes.set_ylabel("requests to the host")
    axes.set_title(
        f"FuturesSession(per_host={CEILING}, adaptive=True): one host's limit over time",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=80, pil_kwargs={"optimize": True})
    plt.close(figure)
    print(f"plot written to {path}")


if __name__ == "__main__":
    sys.exit(trace(sys.argv[1:]))
