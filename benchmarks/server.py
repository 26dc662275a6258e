"""The benchmark HTTP server: asyncio, HTTP/1.1 keep-alive, its own process.

It runs apart from the clients so that it does not share their GIL, holds
thousands of idle keep-alive connections at no cost, and answers:

- ``GET /?delay_ms=N``: a 2-byte body (``ok``) after N milliseconds;
- ``GET /bytes?n=N``: a body of N bytes;
- ``GET /json?records=N``: :func:`json_document` of N records.

A second port, the *control* port, answers ``GET /stats`` with a JSON object
(``connections`` accepted, ``requests`` served, ``open`` and ``max_open``
connections) and ``GET /reset``, which zeroes those counters.  Keeping the
control traffic off the main port keeps the connection count exact.

Run it as ``python -m benchmarks.server``: it prints one JSON line with both
ports, then serves until its standard input closes (so it never outlives the
suite that started it).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from ._system import raise_fd_limit

#: Largest body ``/bytes`` serves, so a typo cannot exhaust memory.
MAX_BYTES = 64 * 1024 * 1024


class Stats:
    """Counters the suite reads after each run."""

    def __init__(self) -> None:
        self.reset()
        self.open = 0

    def reset(self) -> None:
        self.connections = 0
        self.requests = 0
        self.max_open = getattr(self, "open", 0)

    def as_dict(self) -> dict[str, int]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "open": self.open,
            "max_open": self.max_open,
        }


_bodies: dict[int, bytes] = {}


def _body(n: int) -> bytes:
    body = _bodies.get(n)
    if body is None:
        body = _bodies[n] = b"x" * n
    return body


_documents: dict[int, bytes] = {}


def json_document(records: int) -> bytes:
    """A JSON object of ``records`` small records: work for a parser."""
    body = _documents.get(records)
    if body is None:
        items = [
            {"id": i, "name": f"item-{i}", "price": i % 97 + 0.5, "tags": ["a", "b", str(i % 7)]}
            for i in range(records)
        ]
        body = _documents[records] = json.dumps({"records": items}).encode()
    return body


def _response(status: str, body: bytes, close: bool, content_type: str = "text/plain") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
    )
    return head.encode("latin-1") + body


class _HTTP(asyncio.Protocol):
    """One connection: parses requests one at a time, answers in order."""

    def __init__(
        self, stats: Stats, route: Callable[[str, str], tuple[str, bytes, float]]
    ) -> None:
        self.stats = stats
        self.route = route
        self.buffer = b""
        self.busy = False  # a delayed answer is pending: parse nothing more yet
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        stats = self.stats
        stats.connections += 1
        stats.open += 1
        stats.max_open = max(stats.max_open, stats.open)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open -= 1
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        while self.transport is not None and not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 65536:
                    self.transport.close()
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lowered = name.strip().lower()
                if lowered == "content-length":
                    length = int(value.strip())
                elif lowered == "connection":
                    close = value.strip().lower() == "close"
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            self.buffer = self.buffer[end + 4 + length :]
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self.transport.write(_response("400 Bad Request", b"bad request", True))
                self.transport.close()
                return
            method, target, version = parts
            close = close or version == "HTTP/1.0"
            self.stats.requests += 1
            status, body, delay = self.route(method, target)
            answer = _response(status, body, close)
            if delay > 0:
                self.busy = True
                asyncio.get_running_loop().call_later(delay, self._send_late, answer, close)
                return
            self._send(answer, close)

    def _send(self, answer: bytes, close: bool) -> None:
        if self.transport is None:
            return
        self.transport.write(answer)
        if close:
            self.transport.close()

    def _send_late(self, answer: bytes, close: bool) -> None:
        self.busy = False
        self._send(answer, close)
        if self.buffer:
            self._next()


def benchmark_route(method: str, target: str) -> tuple[str, bytes, float]:
    """Answer one request on the main port: (status line, body, delay in s)."""
    split = urlsplit(target)
    query = dict(parse_qsl(split.query))
    try:
        if split.path == "/":
            return "200 OK", b"ok", int(query.get("delay_ms", "0")) / 1000
        if split.path == "/bytes":
            n = int(query.get("n", "0"))
            if not 0 <= n <= MAX_BYTES:
                return "400 Bad Request", b"n out of range", 0.0
            return "200 OK", _body(n), 0.0
        if split.path == "/json":
            records = int(query.get("records", "0"))
            if not 0 <= records <= MAX_BYTES // 100:
                return "400 Bad Request", b"records out of range", 0.0
            return "200 OK", json_document(records), 0.0
    except ValueError:
        return "400 Bad Request", b"bad number", 0.0
    return "404 Not Found", b"not found", 0.0


def _control_route(stats: Stats) -> Callable[[str, str], tuple[str, bytes, float]]:
    def route(method: str, target: str) -> tuple[str, bytes, float]:
        path = urlsplit(target).path
        if path == "/reset":
            stats.reset()
        elif path != "/stats":
            return "404 Not Found", b"not found", 0.0
        return "200 OK", json.dumps(stats.as_dict()).encode(), 0.0

    return route


async def serve(host: str = "127.0.0.1", port: int = 0, control_port: int = 0) -> None:
    """Serve both ports until standard input reaches its end."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    control_stats = Stats()  # the control port's own, never reported
    main = await loop.create_server(
        lambda: _HTTP(stats, benchmark_route), host, port, backlog=4096, reuse_address=True
    )
    control = await loop.create_server(
        lambda: _HTTP(control_stats, _control_route(stats)), host, control_port
    )
    ports = {
        "port": main.sockets[0].getsockname()[1],
        "control_port": control.sockets[0].getsockname()[1],
    }
    print(json.dumps(ports), flush=True)
    # Stop when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    main.close()
    control.close()


def main() -> None:
    raise_fd_limit()
    asyncio.run(serve())


if __name__ == "__main__":
    main()
