"""Threads vs processes vs a Dask LocalCluster for a CPU-heavy background_callback.

Every request fetches the same large JSON document (about 370 KiB, 5,000
records) from a loopback server in its own process, and its
``background_callback`` parses it and sums a field over the records: pure
Python work that holds the interpreter lock.  Threads take turns on that lock;
worker processes and Dask workers run it on every core at once and send back
only the small result.

::

    python -m benchmarks.scale_out            # 3 runs of 200 requests each
    python -m benchmarks.scale_out --quick    # 1 run of 60 (a smoke test)

The pools and the cluster are started (and warmed up) before the clock starts;
their start-up time is printed apart.  The table shows the median run, the
speed-up over threads measured in the same run, and the connections the server
accepted from that executor, warm-up included (the workers reuse theirs).
Nothing here is asserted: the numbers depend on the machine and on what else
runs on it, so the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

import requests_futures
from requests_futures import FuturesSession

RECORDS = 5000
WORKERS = os.cpu_count() or 2


# --- the server, in a process of its own ---------------------------------------------------


def _document() -> bytes:
    records = [
        {"id": i, "name": f"item-{i}", "price": i % 97 + 0.5, "tags": ["a", "b", str(i % 7)]}
        for i in range(RECORDS)
    ]
    return json.dumps({"records": records}).encode()


def _serve(port: Any, connections: Any, stop: Any) -> None:
    body = _document()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def setup(self) -> None:
            with connections.get_lock():
                connections.value += 1
            super().setup()

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    server = Server(("127.0.0.1", 0), Handler)
    server.timeout = 0.2
    port.value = server.server_address[1]
    while not stop.is_set():
        server.handle_request()
    server.server_close()


@contextmanager
def _server(context: Any) -> Iterator[tuple[str, Any]]:
    port = context.Value("i", 0)
    connections = context.Value("i", 0)
    stop = context.Event()
    process = context.Process(target=_serve, args=(port, connections, stop), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while not port.value:
        if time.monotonic() > deadline or not process.is_alive():
            raise RuntimeError("the benchmark server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port.value}/", connections
    finally:
        stop.set()
        process.join(10)


# --- the work: module level, so worker processes can import it ----------------------------


def summarise(session: FuturesSession, response: requests.Response) -> float:
    """Parse the JSON body and add up the prices: CPU work in Python."""
    records = response.json()["records"]
    total = 0.0
    for record in records:
        if "a" in record["tags"] and record["name"].startswith("item-"):
            total += record["price"] * sum(ord(c) for c in record["name"]) / 1000
    return total


# --- the contenders ---------------------------------------------------------------------------


@contextmanager
def _threads() -> Iterator[Executor]:
    with ThreadPoolExecutor(max_workers=2 * WORKERS) as pool:
        yield pool


@contextmanager
def _processes() -> Iterator[Executor]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        yield pool


@contextmanager
def _dask() -> Iterator[Executor]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # no fixed port (8787) to collide on
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client.get_executor()


CONTENDERS: dict[str, tuple[str, Callable[[], Any]]] = {
    "threads": (f"ThreadPoolExecutor({2 * WORKERS})", _threads),
    "processes": (f"ProcessPoolExecutor({WORKERS})", _processes),
    "dask": (f"LocalCluster({WORKERS} workers x 1 thread)", _dask),
}


def _batch(session: FuturesSession, url: str, n: int) -> float:
    futures = [session.get(url, background_callback=summarise) for _ in range(n)]
    totals = {round(f.result(timeout=120), 6) for f in futures}
    if len(totals) != 1:
        raise RuntimeError(f"the callbacks disagree: {sorted(totals)[:3]}")
    return totals.pop()


def _measure(
    names: list[str], url: str, connections: Any, n: int, runs: int
) -> list[dict[str, Any]]:
    """Start every executor, then time the runs in turn: A B C, A B C, ...

    Interleaving spreads a change in the machine's load (other programs)
    over every contender instead of landing on one.
    """
    results = []
    with ExitStack() as stack:
        for name in names:
            label, make = CONTENDERS[name]
            with connections.get_lock():
                connections.value = 0
            started = time.perf_counter()
            executor = stack.enter_context(make())
            session = stack.enter_context(FuturesSession(executor=executor, timeout=60))
            _batch(session, url, 2 * WORKERS)  # start every worker, open connections
            startup = time.perf_counter() - started
            results.append(
                {
                    "name": name,
                    "label": label,
                    "session": session,
                    "startup": startup,
                    "times": [],
                    "connections": connections.value,
                }
            )
        for _ in range(runs):
            for result in results:
                with connections.get_lock():
                    before = connections.value
                started = time.perf_counter()
                _batch(result["session"], url, n)
                result["times"].append(time.perf_counter() - started)
                result["connections"] += connections.value - before
            print(".", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    return results


def _versions() -> str:
    parts = [
        f"Python {platform.python_version()}",
        f"requests {requests.__version__}",
        f"requests-futures {requests_futures.__version__}",
    ]
    try:
        import distributed

        parts.append(f"distributed {distributed.__version__}")
    except ImportError:
        pass
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scale_out", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("-n", "--requests", type=int, default=200, help="requests per run")
    parser.add_argument("--runs", type=int, default=3, help="runs per contender (median shown)")
    parser.add_argument("--quick", action="store_true", help="1 run of 60 requests")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(CONTENDERS), help="run only these contenders"
    )
    args = parser.parse_args(argv)
    n, runs = (60, 1) if args.quick else (args.requests, args.runs)
    names = args.only or list(CONTENDERS)
    if "dask" in names:
        try:
            import distributed  # noqa: F401
        except ImportError:
            print("distributed is not installed: skipping dask (pip install '.[dask]')")
            names = [name for name in names if name != "dask"]

    print(f"scale_out: {n} requests x {runs} run(s), a {len(_document()) // 1024} KiB JSON body")
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}; {_versions()}")
    load_before = os.getloadavg()[0]
    with _server(multiprocessing.get_context("spawn")) as (url, connections):
        results = _measure(names, url, connections, n, runs)
    print(f"load average (1 min) before: {load_before:.1f}, after: {os.getloadavg()[0]:.1f}")

    base = statistics.median(results[0]["times"]) if results[0]["name"] == "threads" else None
    header = (
        f"{'executor':<34} {'time':>8} {'req/s':>8} {'vs threads':>11} {'conns':>6} {'start':>7}"
    )
    print(header)
    print("-" * len(header))
    for result in results:
        median = statistics.median(result["times"])
        ratio = f"{base / median:.2f}x" if base else "-"
        print(
            f"{result['label']:<34} {median:>7.2f}s {n / median:>8.0f} {ratio:>11} "
            f"{result['connections']:>6} {result['startup']:>6.2f}s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
