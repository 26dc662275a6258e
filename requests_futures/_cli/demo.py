"""``requests-futures demo``: the same URLs with ``requests.Session`` and ``FuturesSession``.

The server it talks to runs in this process on 127.0.0.1, so the demo needs
no network and its numbers show only what concurrency buys.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

import requests

from ..sessions import FuturesSession

_BODY = b'{"ok": true}\n'


class _SlowHandler(BaseHTTPRequestHandler):
    """Answer every GET after the server's delay, on a keep-alive connection."""

    protocol_version = "HTTP/1.1"
    # Buffer the response, sent in one write when the handler returns: headers
    # and body in two small packets would meet Nagle and delayed ACKs (+40 ms).
    wbufsize = 64 * 1024
    server: _SlowServer

    def do_GET(self) -> None:
        time.sleep(self.server.delay)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_BODY)))
        self.end_headers()
        self.wfile.write(_BODY)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the demo's output to its table


class _SlowServer(ThreadingHTTPServer):
    """A thread per connection, so concurrent keep-alive clients are served at once."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, delay: float) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.delay = delay

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _sequential(urls: list[str]) -> list[int]:
    with requests.Session() as session:
        return [session.get(url, timeout=30).status_code for url in urls]


def _concurrent(urls: list[str], workers: int) -> list[int]:
    with FuturesSession(max_workers=workers) as session:
        futures = [session.get(url, timeout=30) for url in urls]
        return [future.result().status_code for future in futures]


def run_demo(n: int, delay_ms: int, workers: int, out: IO[str]) -> int:
    """Time ``n`` GETs both ways against a local server; print the table; return 0."""
    server = _SlowServer(delay_ms / 1000)
    thread = threading.Thread(target=server.serve_forever, name="rf-demo-server", daemon=True)
    thread.start()
    try:
        urls = [f"{server.url}/item/{i}" for i in range(n)]
        out.write(
            f"{n} GET requests to a local server ({server.url}) "
            f"that takes {delay_ms} ms to answer each.\n\n"
        )
        futures_label = f"FuturesSession, {workers} workers"
        width = len(futures_label)
        out.write(f"{'':{width}}  {'time':>8}  {'requests/s':>10}  {'speedup':>7}\n")
        baseline = 0.0
        for label, fetch in (
            ("requests.Session", _sequential),
            (futures_label, lambda u: _concurrent(u, workers)),
        ):
            out.flush()
            start = time.perf_counter()
            statuses = fetch(urls)
            elapsed = time.perf_counter() - start
            if statuses != [200] * n:
                out.write(f"unexpected statuses from {label}: {sorted(set(statuses))}\n")
                return 1
            baseline = baseline or elapsed
            out.write(
                f"{label:{width}}  {elapsed:>6.2f} s  {n / elapsed:>10.1f}  "
                f"{baseline / elapsed:>6.1f}x\n"
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return 0
