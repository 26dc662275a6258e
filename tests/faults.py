"""A misbehaving HTTP/1.1 server on 127.0.0.1 for reliability tests.

The server runs in its own process (so its work does not compete with the
client for the GIL) on an asyncio loop, which keeps hundreds of open
connections cheap.  The path picks what it does: ``/<kind>/<n>``, where
``kind`` is one of :data:`KINDS` and ``n`` any integer naming the request.
Whatever varies within a kind (how long a delay lasts, where a body is cut)
comes from a random generator seeded with ``(seed, kind, n)``, so a run is
reproducible request by request.

- ``ok``: 200 with a body, connection kept alive.
- ``delay``: the same after a short pause (well under the client timeout),
  or after ``?ms=N`` milliseconds, or (``?together=K``) once K such requests
  are held at once: all K are answered then (a 504 if they never gather
  within ``hang_max``).
- ``status500`` / ``status503``: that status, connection kept alive.
- ``close``: reads the request, closes the connection without answering.
- ``reset``: sends the headers and part of the body, then resets (RST).
- ``truncate``: announces a longer ``Content-Length`` than it sends, closes.
- ``hang``: never answers; lets go when the client hangs up or the server
  stops (or after ``hang_max`` seconds, so nothing waits forever).
- ``loop``: redirects to itself, for ever.

``/_stats`` answers with the counters as JSON and ``/_reset`` zeroes them.
``answered`` counts, per kind, the responses written in full (for ``loop``
each redirect is one).  :func:`plan` draws the kinds for a run of requests.

:class:`FaultServer` starts the process and stops it (closing its stdin,
which the server watches, so it also goes when the test process dies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import struct
import subprocess
import sys
import threading
from collections import Counter
from typing import Any

KINDS = ("ok", "delay", "status500", "status503", "close", "reset", "truncate", "hang", "loop")
FAULTS = KINDS[1:]

DELAY_MS = (5, 60)  # range of a ``delay`` pause, in milliseconds
HANG_MAX = 30.0  # a ``hang`` lets go after this long at most
MAX_HEAD = 65536


def plan(seed: int, count: int, fraction: float = 0.05) -> list[str]:
    """The kinds of ``count`` requests: ``fraction`` of each fault, the rest ``ok``.

    Shuffled by ``seed``: the same seed gives the same list.
    """
    per_fault = round(count * fraction)
    kinds = [kind for kind in FAULTS for _ in range(per_fault)]
    if len(kinds) > count:
        raise ValueError(f"{count} requests cannot hold {fraction:.0%} of each fault")
    kinds += ["ok"] * (count - len(kinds))
    random.Random(seed).shuffle(kinds)
    return kinds


def _body(rng: random.Random, kind: str, n: int) -> bytes:
    return f"{kind} {n} ".encode() + b"x" * rng.randrange(16, 2048)


class _Server:
    def __init__(self, seed: int, hang_max: float) -> None:
        self.seed = seed
        self.hang_max = hang_max
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        # ``?together=K``: how many are held now, and the event that lets them go.
        self.together: dict[int, tuple[list[None], asyncio.Event]] = {}
        self.open = 0
        self.reset()

    def reset(self) -> None:
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.connections = 0
        # ``open`` is not zeroed: the connections open now (this control one
        # among them) are counted out when they close.
        self.max_open = 0

    def stats(self) -> dict[str, Any]:
        return {
            "received": dict(self.received),
            "answered": dict(self.answered),
            "connections": self.connections,
            "open": self.open,
            "max_open": self.max_open,
        }

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.writers.add(writer)
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            while not self.stopping.is_set():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if lines[0].count(" ") >= 2 else "/"
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                keep = await self.answer(path, reader, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open -= 1
            self.writers.discard(writer)
            self.tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def stop(self) -> None:
        """Let every hang go and drop every connection."""
        self.stopping.set()
        for writer in list(self.writers):
            writer.transport.abort()
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=5)

    async def answer(
        self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; return whether the connection stays open."""
        parts = path.split("?")[0].strip("/").split("/")
        if parts[0] == "_stats":
            self.send(writer, 200, json.dumps(self.stats()).encode())
            return True
        if parts[0] == "_reset":
            self.reset()
            self.send(writer, 200, b"reset")
            return True
        kind = parts[0]
        n = int(parts[1]) if len(parts) > 1 and parts[1].lstrip("-").isdigit() else 0
        if kind not in KINDS:
            self.send(writer, 404, b"unknown kind")
            return True
        self.received[kind] += 1
        rng = random.Random(f"{self.seed}:{kind}:{n}")
        body = _body(rng, kind, n)
        together = path.partition("?together=")[2]
        if kind == "delay" and together.isdigit():
            if not await self.gather(int(together)):
                self.send(writer, 504, b"never gathered")
                return True
        elif kind == "delay":
            ms = path.partition("?ms=")[2]
            await asyncio.sleep((int(ms) if ms.isdigit() else rng.randint(*DELAY_MS)) / 1000)
        if kind in ("ok", "delay", "status500", "status503"):
            status = int(kind[6:]) if kind.startswith("status") else 200
            self.send(writer, status, body)
            self.answered[kind] += 1
            await writer.drain()
            return True
        if kind == "loop":
            self.send(writer, 302, b"", {"Location": path})
            self.answered[kind] += 1
            await writer.drain()
            return True
        if kind == "close":
            return False
        if kind == "reset":
            cut = rng.randrange(1, len(body))
            self.send(writer, 200, body[:cut], {"Content-Length": str(len(body))})
            await writer.drain()
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if kind == "truncate":
            cut = rng.randrange(1, len(body))
            self.send(writer, 200, body[:cut], {"Content-Length": str(len(body))})
            await writer.drain()
            return False
        # hang: until the client hangs up, the server stops, or hang_max passes.
        closed = asyncio.ensure_future(reader.read(1))
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait((closed, stop), timeout=self.hang_max, return_when="FIRST_COMPLETED")
        for task in (closed, stop):
            task.cancel()
        return False

    async def gather(self, count: int) -> bool:
        """Hold until ``count`` requests are held here at once; False after ``hang_max``."""
        held, gathered = self.together.setdefault(count, ([], asyncio.Event()))
        held.append(None)
        if len(held) >= count:
            del self.together[count]
            gathered.set()
        try:
            await asyncio.wait_for(gathered.wait(), self.hang_max)
        except asyncio.TimeoutError:
            held.pop()
            return False
        return True

    @staticmethod
    def send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        fields = {"Content-Length": str(len(body)), "Content-Type": "text/plain"}
        fields.update(headers or {})
        head = f"HTTP/1.1 {status} Fault\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        writer.write(head.encode("latin-1") + b"\r\n" + body)


async def _serve(seed: int, hang_max: float) -> None:
    server = _Server(seed, hang_max)
    listener = await asyncio.start_server(
        server.handle, "127.0.0.1", 0, backlog=1024, limit=MAX_HEAD
    )
    port = listener.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    # Stop when the parent closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.buffer.read)
    listener.close()
    await server.stop()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    seed = int(args[0]) if args else 0
    hang_max = float(args[1]) if len(args) > 1 else HANG_MAX
    asyncio.run(_serve(seed, hang_max))


class FaultServer:
    """Run the fault server in a subprocess; ``with FaultServer(seed) as s:``."""

    def __init__(self, seed: int = 0, hang_max: float = HANG_MAX) -> None:
        self.seed = seed
        self.hang_max = hang_max
        self._process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultServer:
        self._process = subprocess.Popen(
            [sys.executable, __file__, str(self.seed), str(self.hang_max)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        # A watchdog, so a server that never starts cannot hang the test.
        timer = threading.Timer(30, self._process.kill)
        timer.start()
        try:
            line = self._process.stdout.readline()
        finally:
            timer.cancel()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"fault server did not start: {line!r}")
        self.port = int(line)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        assert process.stdout is not None
        process.stdout.close()

    def _control(self, what: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(f"GET /{what} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).partition(b"\r\n\r\n")[2]

    def stats(self) -> dict[str, Any]:
        """The server's counters: ``received``, ``answered``, ``connections``…"""
        stats: dict[str, Any] = json.loads(self._control("_stats"))
        return stats

    def reset(self) -> None:
        self._control("_reset")

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    main()
