"""The benchmark HTTP server: asyncio, HTTP/1.1 keep-alive, its own process.

It runs apart from the clients so that it does not share their GIL, holds
thousands of idle keep-alive connections at no cost, and answers:

- ``GET /?delay_ms=N``: a 2-byte body (``ok``) after N milliseconds;
- ``GET /bytes?n=N``: a body of N bytes;
- ``GET /hang``: never answered; the connection stays open until the client
  closes it (``hanging`` counts those open now, ``hung_up`` those the
  client closed);
- ``GET /json?records=N``: :func:`json_document` of N records;
- ``GET /limited?per_s=R``: ``ok``, or ``429`` with ``Retry-After`` when it
  arrives less than 0.9 / R s after the last request this route served on
  this port (a server enforcing R requests a second);
- ``GET /storm?id=I&every=K``: ``ok``, but ``429`` with ``Retry-After: 1``
  to the first request for every ``I`` divisible by K;
- ``GET /capacity?cap=K&ms=N&cores=J``: a host of limited means.  With K
  requests of this route already in the port's hands it answers ``429`` at
  once (no ``Retry-After``); otherwise ``ok`` after N ms, or with ``cores``
  after N ms x ceil(in hand / J), itself included (a host that queues).
  ``cap`` and ``cores`` are optional and read per request, so a client
  changes them mid-run by changing the URL (a host that recovers).

It listens on :data:`ORIGINS` main ports (``--origins N``: more), which answer
alike: each port is an origin of its own (scheme, host and port) for clients
that limit or pause per origin.  Each port keeps its own ``/limited`` and ``/storm`` state.

A further port, the *control* port, answers ``GET /stats`` with a JSON object
(``connections`` accepted, ``requests`` served, ``open`` and ``max_open``
connections, ``refused``: 429s sent, ``early``: requests that arrived on a
port more than :data:`GRACE` s into a ``Retry-After`` pause it had asked for,
``busiest``: the most ``/capacity`` requests one port held at once,
``held_p95_us``: the 95th percentile of how long it held the ``/capacity``
requests it answered ``ok``, in microseconds)
and ``GET /reset``, which zeroes those counters and the ports' state.
Keeping the control traffic off the main ports keeps the counts exact.

Run it as ``python -m benchmarks.server``: it prints one JSON line with the
ports, then serves until its standard input closes (so it never outlives the
suite that started it).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

from ._system import raise_fd_limit

#: Largest body ``/bytes`` serves, so a typo cannot exhaust memory.
MAX_BYTES = 64 * 1024 * 1024
#: How many main ports (origins) the server listens on.
ORIGINS = 2
#: A request arriving this soon (s) after a 429 may have been sent before the
#: client read it: it is not counted as ``early``.
GRACE = 0.1


class Stats:
    """Counters the suite reads after each run."""

    def __init__(self) -> None:
        self.reset()
        self.open = 0

    def reset(self) -> None:
        self.connections = 0
        self.requests = 0
        self.refused = 0
        self.early = 0
        self.max_open = getattr(self, "open", 0)
        self.busiest = 0
        self.held: list[float] = []  # /capacity: seconds each ok answer was held
        self.hanging = getattr(self, "hanging", 0)  # /hang connections open now
        self.hung_up = 0  # /hang connections the client closed

    def as_dict(self) -> dict[str, int]:
        held = sorted(self.held)
        p95 = held[math.ceil(0.95 * len(held)) - 1] if held else 0.0
        return {
            "connections": self.connections,
            "requests": self.requests,
            "open": self.open,
            "max_open": self.max_open,
            "refused": self.refused,
            "early": self.early,
            "busiest": self.busiest,
            "held_p95_us": round(p95 * 1e6),
            "hanging": self.hanging,
            "hung_up": self.hung_up,
        }


class Answer(NamedTuple):
    """What a route answers: status line, body, delay in s, extra headers."""

    status: str
    body: bytes
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()


Route = Callable[[str, str], Answer]


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


def _response(answer: Answer, close: bool) -> bytes:
    extra = "".join(f"{name}: {value}\r\n" for name, value in answer.headers)
    head = (
        f"HTTP/1.1 {answer.status}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(answer.body)}\r\n{extra}"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    )
    return head.encode("latin-1") + answer.body


class _HTTP(asyncio.Protocol):
    """One connection: parses requests one at a time, answers in order."""

    def __init__(self, stats: Stats, route: Route) -> None:
        self.stats = stats
        self.route = route
        self.buffer = b""
        self.busy = False  # a delayed answer is pending: parse nothing more yet
        self.hanging = False  # a /hang request: never answered
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
        if self.hanging:
            self.stats.hanging -= 1
            self.stats.hung_up += 1

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
                self.transport.write(_response(Answer("400 Bad Request", b"bad request"), True))
                self.transport.close()
                return
            method, target, version = parts
            close = close or version == "HTTP/1.0"
            self.stats.requests += 1
            answer = self.route(method, target)
            if answer.delay == math.inf:  # /hang
                self.busy = self.hanging = True
                self.stats.hanging += 1
                return
            response = _response(answer, close)
            if answer.delay > 0:
                self.busy = True
                asyncio.get_running_loop().call_later(
                    answer.delay, self._send_late, response, close
                )
                return
            self._send(response, close)

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


def benchmark_route(method: str, target: str) -> Answer:
    """Answer one request for a stateless path on a main port."""
    split = urlsplit(target)
    query = dict(parse_qsl(split.query))
    try:
        if split.path == "/":
            return Answer("200 OK", b"ok", int(query.get("delay_ms", "0")) / 1000)
        if split.path == "/hang":
            return Answer("200 OK", b"", math.inf)
        if split.path == "/bytes":
            n = int(query.get("n", "0"))
            if not 0 <= n <= MAX_BYTES:
                return Answer("400 Bad Request", b"n out of range")
            return Answer("200 OK", _body(n))
        if split.path == "/json":
            records = int(query.get("records", "0"))
            if not 0 <= records <= MAX_BYTES // 100:
                return Answer("400 Bad Request", b"records out of range")
            return Answer("200 OK", json_document(records))
    except ValueError:
        return Answer("400 Bad Request", b"bad number")
    return Answer("404 Not Found", b"not found")


class Origin:
    """One main port: its ``/limited``, ``/storm`` and ``/capacity`` state, and its pauses."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        # /capacity requests held now: a live count, which a reset leaves alone
        # (a stopped run's requests still end, and each one's end counts down).
        self.in_hand = 0
        self.reset()

    def reset(self) -> None:
        self.next_allowed = 0.0  # /limited: the earliest arrival it serves
        self.paused_from = 0.0  # the last Retry-After sent, and when it ends
        self.paused_until = 0.0
        self.refused_ids: set[str] = set()  # /storm: ids answered 429 once

    def route(self, method: str, target: str) -> Answer:
        now = time.monotonic()
        if self.paused_from + GRACE < now < self.paused_until:
            self.stats.early += 1
        split = urlsplit(target)
        query = dict(parse_qsl(split.query))
        try:
            if split.path == "/limited":
                per_s = float(query["per_s"])
                if not per_s > 0:
                    return Answer("400 Bad Request", b"per_s must be above 0")
                if now < self.next_allowed:
                    return self._refuse(now, math.ceil(self.next_allowed - now))
                self.next_allowed = now + 0.9 / per_s
                return Answer("200 OK", b"ok")
            if split.path == "/storm":
                id_ = query["id"]
                if int(id_) % int(query["every"]) == 0 and id_ not in self.refused_ids:
                    self.refused_ids.add(id_)
                    return self._refuse(now, 1)
                return Answer("200 OK", b"ok")
            if split.path == "/capacity":
                return self._capacity(query)
        except (KeyError, ValueError, ZeroDivisionError):
            return Answer("400 Bad Request", b"missing or bad parameter")
        return benchmark_route(method, target)

    def _capacity(self, query: dict[str, str]) -> Answer:
        cap = int(query["cap"]) if "cap" in query else None
        cores = int(query["cores"]) if "cores" in query else None
        delay = int(query.get("ms", "0")) / 1000
        if (cap is not None and cap < 1) or (cores is not None and cores < 1) or delay < 0:
            return Answer("400 Bad Request", b"cap and cores must be 1 or more, ms 0 or more")
        if cap is not None and self.in_hand >= cap:
            self.stats.refused += 1
            return Answer("429 Too Many Requests", b"busy")
        self.in_hand += 1
        stats = self.stats
        stats.busiest = max(stats.busiest, self.in_hand)
        if cores is not None:
            delay *= math.ceil(self.in_hand / cores)
        stats.held.append(delay)
        asyncio.get_running_loop().call_later(delay, self._release)
        return Answer("200 OK", b"ok", delay)

    def _release(self) -> None:
        self.in_hand -= 1

    def _refuse(self, now: float, seconds: int) -> Answer:
        self.stats.refused += 1
        self.paused_from = now
        self.paused_until = max(self.paused_until, now + seconds)
        return Answer("429 Too Many Requests", b"slow down", 0.0, (("Retry-After", str(seconds)),))


def _control_route(stats: Stats, origins: list[Origin]) -> Route:
    def route(method: str, target: str) -> Answer:
        path = urlsplit(target).path
        if path == "/reset":
            stats.reset()
            for origin in origins:
                origin.reset()
        elif path != "/stats":
            return Answer("404 Not Found", b"not found")
        return Answer("200 OK", json.dumps(stats.as_dict()).encode())

    return route


async def serve(host: str = "127.0.0.1", count: int = ORIGINS) -> None:
    """Serve ``count`` main ports and the control port until standard input ends."""
    loop = asyncio.get_running_loop()
    stats = Stats()
    control_stats = Stats()  # the control port's own, never reported
    origins = [Origin(stats) for _ in range(max(count, ORIGINS))]
    servers = [
        await loop.create_server(
            partial(_HTTP, stats, origin.route), host, 0, backlog=4096, reuse_address=True
        )
        for origin in origins
    ]
    control = await loop.create_server(
        lambda: _HTTP(control_stats, _control_route(stats, origins)), host, 0
    )
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(
        json.dumps(
            {
                "port": ports[0],
                "ports": ports,
                "control_port": control.sockets[0].getsockname()[1],
            }
        ),
        flush=True,
    )
    # Stop when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    for server in servers:
        server.close()
    control.close()


def main() -> None:
    raise_fd_limit()
    count = int(sys.argv[sys.argv.index("--origins") + 1]) if "--origins" in sys.argv else ORIGINS
    asyncio.run(serve(count=count))


if __name__ == "__main__":
    main()
