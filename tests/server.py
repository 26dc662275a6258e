"""A small threaded HTTP/1.1 server on 127.0.0.1 for tests, with counters.

Routes (GET, POST, PUT, PATCH, DELETE, OPTIONS and HEAD all dispatch here):

- ``/echo``: JSON of the method, path, query, headers and body received.
- ``/delay?ms=N``: waits N milliseconds (a simulated slow server), then echoes.
- ``/status/N``: answers with status N (``?retry_after=V``: with ``Retry-After: V``).
- ``/flaky/NAME/K``: the first K requests naming NAME get ``?status=`` (503 by
  default; ``&retry_after=V`` adds ``Retry-After: V``), after ``&ms=`` milliseconds
  when given; later ones are echoed.
- ``/redirect/N``: redirects N times, then lands on ``/echo``.
- ``/redirect-to?url=U``: one 302 to U (``&status=N`` for another 3xx).
- ``/hold/NAME``: answers only once the test calls ``server.release(NAME)``.
- ``/cookies/set?k=v``: sets cookie k=v; ``/cookies``: echoes the cookies sent.
- ``/bytes?n=N``: N bytes of body.
- ``/files/ANY/PATH?n=N``: N bytes drawn from a generator seeded with the path:
  the same path, the same bytes (see :func:`file_body`).
- ``/partial/NAME?n=N``: announces N bytes, sends the first half, and the rest
  only once the test calls ``server.release(NAME)``.
- ``/capacity?ms=N``: a host of limited means, set by the test (and changed
  mid-run if it likes) through ``server.capacity``: with more than that many
  requests in the server it answers 429 at once (counted in
  ``counters.rejected``); otherwise it works N ms, or N ms x ceil(in flight /
  ``server.cores``) when ``cores`` is set (a host that queues), or
  (``?hold=NAME``) until the test calls ``server.release(NAME)``.
- ``/body?n=N``: a body built by :func:`body_route` to the query's recipe (text or
  bytes, gzip or deflate, chunked, cut short, stalled, any status): see there.
- ``/digest/USER/PASS``: 401 with an HTTP Digest challenge (qop=auth, MD5)
  until the request carries a valid answer for USER and PASS, then echoes.

The counters (connections accepted, requests, most requests in flight at once,
when each request arrived) prove pooling, concurrency and rates; ``reset()``
zeroes them between tests.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import random
import selectors
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import parse_http_list, parse_keqv_list

MAX_HOLD = 30.0  # seconds a /hold request waits at most, so nothing hangs


DIGEST_REALM = "loopback"
DIGEST_NONCE = "5ca1ab1e"
DIGEST_CHALLENGE = f'Digest realm="{DIGEST_REALM}", nonce="{DIGEST_NONCE}", qop="auth"'


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest_ok(method: str, header: str, user: str, password: str) -> bool:
    """Whether ``header`` answers our Digest challenge (RFC 7616, qop=auth, MD5)."""
    if not header.startswith("Digest "):
        return False
    fields = parse_keqv_list(parse_http_list(header[len("Digest ") :]))
    try:
        ha1 = _md5(f"{user}:{DIGEST_REALM}:{password}")
        ha2 = _md5(f"{method}:{fields['uri']}")
        expected = _md5(
            f"{ha1}:{DIGEST_NONCE}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}"
        )
        return fields["username"] == user and fields["response"] == expected
    except KeyError:
        return False


def _retry_after(query: dict[str, str]) -> dict[str, str]:
    return {"Retry-After": query["retry_after"]} if "retry_after" in query else {}


def file_body(path: str, size: int) -> bytes:
    """The body ``/files/...`` answers ``path`` (without the query) with."""
    return random.Random(path).randbytes(size)


@functools.lru_cache(maxsize=4)
def payload(kind: str, size: int) -> bytes:
    """The ``/body`` payload: ``size`` bytes of ``kind`` (kept: large bodies cost no new memory).

    ``bin``: random bytes; ``text``: ASCII words; ``latin1``: words with accents,
    in ISO-8859-1; ``json``: a JSON list of numbers (about ``size`` bytes).
    """
    if kind == "bin":
        return random.Random(size).randbytes(size)
    if kind == "json":
        return json.dumps(list(range(max(1, size // 8)))).encode()
    word = "tête-à-tête, déjà vu " if kind == "latin1" else "lorem ipsum dolor "
    text = (word * (size // len(word) + 1))[:size]
    return text.encode("latin-1" if kind == "latin1" else "ascii")


def encode(data: bytes, encoding: str) -> bytes:
    """``data`` as ``/body?enc=`` sends it: identity, gzip, deflate (zlib) or rawdeflate."""
    if encoding == "gzip":
        return gzip.compress(data, mtime=0)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "rawdeflate":
        packer = zlib.compressobj(wbits=-15)
        return packer.compress(data) + packer.flush()
    return data


def chunked(data: bytes, size: int) -> bytes:
    """``data`` in chunked transfer coding, ``size`` bytes a chunk."""
    pieces = [b"%x\r\n%s\r\n" % (len(part), part) for part in _slices(data, size)]
    return b"".join(pieces) + b"0\r\n\r\n"


def _slices(data: bytes, size: int) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), size):
        yield view[start : start + size].tobytes() if size < len(data) else data


def body_route(handler: BaseHTTPRequestHandler, query: dict[str, str], wait: Any) -> None:
    """Answer ``/body``.  The query's recipe, all optional but ``n``:

    ``kind`` (:func:`payload`, ``bin``), ``type`` (the Content-Type, none by
    default), ``enc`` (:func:`encode`), ``status`` (200), ``location`` (a
    Location header), ``chunk=K`` (chunked, K bytes a chunk; else
    Content-Length), ``corrupt=1`` (bytes 20-40 of the encoded body zeroed),
    ``cut=C`` (only the first C bytes of the body on the wire, then the
    connection closes), ``stall=NAME`` (half the wire body, then the rest once
    the test calls ``server.release(NAME)``).  204, 304 and HEAD answers carry
    the Content-Length of the body but no body.
    """
    body = encode(
        payload(query.get("kind", "bin"), int(query.get("n", "0"))), query.get("enc", "")
    )
    if query.get("corrupt"):
        body = body[:20] + bytes(len(body[20:40])) + body[40:]
    status = int(query.get("status", "200"))
    handler.send_response(status)
    for header, name in (
        ("Content-Type", "type"),
        ("Content-Encoding", "enc"),
        ("Location", "location"),
    ):
        if name in query:
            handler.send_header(header, query[name])
    if "chunk" in query:
        handler.send_header("Transfer-Encoding", "chunked")
        wire = chunked(body, int(query["chunk"]))
    else:
        handler.send_header("Content-Length", str(len(body)))
        wire = body
    if handler.command == "HEAD" or status in (204, 304):
        wire = b""
    if "cut" in query:
        wire = wire[: int(query["cut"])]
        handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    if "stall" in query:
        handler.wfile.write(wire[: len(wire) // 2])
        handler.wfile.flush()
        wait(query["stall"])
        wire = wire[len(wire) // 2 :]
    handler.wfile.write(wire)


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Condition()  # notified when a request comes in
        self.open = 0  # connections open now (not zeroed by reset)
        self.generation = 0  # resets so far
        self.reset()

    def reset(self) -> None:
        with self.lock:
            # A request of an earlier test that leaves after this is not
            # counted out of this test's ``in_flight`` (see :meth:`leave`).
            self.generation += 1
            self.connections = 0
            self.requests = 0
            self.in_flight = 0
            self.max_in_flight = 0
            self.paths: list[str] = []
            self.starts: list[float] = []  # time.monotonic() of each arrival
            self.hits: dict[str, int] = {}  # requests per /flaky/NAME
            self.rejected = 0  # 429 answers of /capacity

    def enter(self, path: str) -> int:
        """Count a request in; return the generation to hand to :meth:`leave`."""
        with self.lock:
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.paths.append(path)
            self.starts.append(time.monotonic())
            self.lock.notify_all()
            return self.generation

    def wait_in_flight(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` requests are in the server at once; False at ``timeout``."""
        with self.lock:
            return self.lock.wait_for(lambda: self.in_flight >= count, timeout)

    def wait_for_path(self, path: str, timeout: float) -> bool:
        """Wait until a request for ``path`` has come in; False at ``timeout``.

        Unlike :meth:`wait_in_flight`, not thrown off by a request of an earlier
        test that comes in late, nor by one answered before the test looks.
        """
        with self.lock:
            return self.lock.wait_for(lambda: path in self.paths, timeout)

    def hit(self, name: str) -> int:
        """Count one more request naming ``name``; return how many there were."""
        with self.lock:
            self.hits[name] = self.hits.get(name, 0) + 1
            return self.hits[name]

    def admit(self, capacity: int | None) -> int:
        """In flight now if ``capacity`` allows this request, else 0 (counted rejected)."""
        with self.lock:
            if capacity is not None and self.in_flight > capacity:
                self.rejected += 1
                return 0
            return self.in_flight

    def leave(self, generation: int) -> None:
        with self.lock:
            if generation == self.generation:  # not one counted in before a reset
                self.in_flight -= 1

    def opened(self) -> None:
        with self.lock:
            self.connections += 1
            self.open += 1

    def closed(self) -> None:
        with self.lock:
            self.open -= 1
            self.lock.notify_all()

    def wait_open(self, at_most: int, timeout: float) -> bool:
        """Wait until at most ``at_most`` connections are open; False at ``timeout``."""
        with self.lock:
            return self.lock.wait_for(lambda: self.open <= at_most, timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on,
    # the body waits for the client's delayed ACK (~40 ms a request).
    disable_nagle_algorithm = True
    server: LoopbackServer

    def setup(self) -> None:
        self.server.counters.opened()
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.counters.closed()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _echo(self, body: bytes, extra: dict[str, Any] | None = None) -> None:
        split = urlsplit(self.path)
        data = {
            "method": self.command,
            "path": split.path,
            "query": parse_qs(split.query),
            "headers": dict(self.headers.items()),
            "body": body.decode("latin-1"),
            "thread": threading.get_ident(),
            **(extra or {}),
        }
        self._send(200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = split.path.strip("/").split("/")
        counters = self.server.counters
        generation = counters.enter(split.path)
        try:
            route = parts[0]
            if route == "delay":
                time.sleep(int(query.get("ms", "0")) / 1000)
                self._echo(body)
            elif route == "status":
                self._send(int(parts[1]), b"status", _retry_after(query))
            elif route == "flaky":
                self._flaky(parts[1], int(parts[2]), query, body)
            elif route == "redirect":
                left = int(parts[1])
                target = f"/redirect/{left - 1}" if left > 1 else "/echo"
                self._send(302, b"", {"Location": target})
            elif route == "redirect-to":
                self._send(int(query.get("status", "302")), b"", {"Location": query["url"]})
            elif route == "hold":
                self.server.event(parts[1]).wait(MAX_HOLD)
                self._echo(body)
            elif route == "cookies" and len(parts) > 1 and parts[1] == "set":
                headers = {"Set-Cookie": "; ".join(f"{k}={v}" for k, v in query.items())}
                self._send(200, b"set", headers)
            elif route == "cookies":
                self._echo(body, {"cookies": self.headers.get("Cookie", "")})
            elif route == "bytes":
                self._send(200, b"x" * int(query.get("n", "0")))
            elif route == "files":
                self._send(200, file_body(split.path, int(query.get("n", "0"))))
            elif route == "partial":
                size = int(query.get("n", "0"))
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.write(b"p" * (size // 2))
                self.wfile.flush()
                self.server.event(parts[1]).wait(MAX_HOLD)
                self.wfile.write(b"p" * (size - size // 2))
            elif route == "body":
                body_route(self, query, lambda name: self.server.event(name).wait(MAX_HOLD))
            elif route == "capacity":
                self._capacity(int(query.get("ms", "0")), query, body)
            elif route == "digest":
                if _digest_ok(self.command, self.headers.get("Authorization", ""), *parts[1:3]):
                    self._echo(body)
                else:
                    self._send(401, b"", {"WWW-Authenticate": DIGEST_CHALLENGE})
            else:
                self._echo(body)
        finally:
            counters.leave(generation)

    def _flaky(self, name: str, failures: int, query: dict[str, str], body: bytes) -> None:
        if self.server.counters.hit(name) > failures:
            self._echo(body)
            return
        time.sleep(int(query.get("ms", "0")) / 1000)
        self._send(int(query.get("status", "503")), b"flaky", _retry_after(query))

    def _capacity(self, ms: int, query: dict[str, str], body: bytes) -> None:
        server = self.server
        in_flight = server.counters.admit(server.capacity)
        if not in_flight:
            self._send(429, b"busy")
            return
        cores = server.cores
        if "hold" in query:
            server.event(query["hold"]).wait(MAX_HOLD)
        else:
            time.sleep(ms / 1000 * (math.ceil(in_flight / cores) if cores else 1))
        self._echo(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch


class LoopbackServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` on 127.0.0.1 with counters and named events."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.counters = Counters()
        self.capacity: int | None = None  # /capacity: most requests it serves at once
        self.cores: int | None = None  # /capacity: requests it works on in parallel
        self._events: dict[str, threading.Event] = {}
        self._events_lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, name="test-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def event(self, name: str) -> threading.Event:
        with self._events_lock:
            return self._events.setdefault(name, threading.Event())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test) breaks the pipe: expected.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def release(self, name: str) -> None:
        self.event(name).set()

    def reset(self) -> None:
        self.counters.reset()
        self.capacity = self.cores = None
        with self._events_lock:
            for event in self._events.values():
                event.set()  # free any request a failed test left waiting
            self._events.clear()

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.reset()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class ManyOrigins:
    """One :class:`LoopbackServer` answering on ``count`` ports: ``count`` origins.

    One thread accepts on every port; each connection gets a thread of its
    own, as in the server.  ``server.counters`` counts over all the ports.
    """

    def __init__(self, count: int) -> None:
        self.server = LoopbackServer()
        self.sockets = [self.server.socket]
        for _ in range(count - 1):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            self.sockets.append(sock)
        self.urls = [f"http://127.0.0.1:{int(s.getsockname()[1])}" for s in self.sockets]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-origins", daemon=True)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            for sock in self.sockets:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select(0.05):
                    try:
                        conn, address = key.fileobj.accept()  # type: ignore[union-attr]
                    except BlockingIOError:
                        continue
                    conn.setblocking(True)
                    self.server.process_request(conn, address)

    def start(self) -> ManyOrigins:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.reset()
        self._stop.set()
        self._thread.join(5)
        for sock in self.sockets:
            sock.close()
