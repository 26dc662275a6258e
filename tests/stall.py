"""A raw-socket server on 127.0.0.1 that stalls: for deadline and abort tests.

Each connection reads one request head, then does what ``mode`` says:

- ``silent``: never answers.
- ``trickle``: sends the headers of a 1000-byte body at once, then one byte
  every ``interval`` seconds.
- ``ok``: answers 200 with a 2-byte body, keeping the connection alive
  (and answers the next request on it the same way).

It counts connections accepted and request heads received, and records
when each connection was closed by the client (an end of file or a reset),
so a test can wait for :attr:`closed` and see that an aborted request's
socket really was shut.  The mode can change between requests.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time


class StallServer:
    def __init__(self, mode: str = "silent", interval: float = 0.05) -> None:
        self.mode = mode
        self.interval = interval
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self._listener.getsockname()[1]
        self.lock = threading.Condition()
        self.connections = 0
        self.requests = 0
        self.closed: list[float] = []  # time.monotonic() of each hang-up seen
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, name="stall-server", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_closed(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` connections were closed by the client."""
        with self.lock:
            return self.lock.wait_for(lambda: len(self.closed) >= count, timeout)

    def wait_requests(self, count: int, timeout: float) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: self.requests >= count, timeout)

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        with self.lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self._sockets.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _hung_up(self) -> None:
        with self.lock:
            self.closed.append(time.monotonic())
            self.lock.notify_all()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            buffered = b""
            while not self._stopping.is_set():
                try:
                    while b"\r\n\r\n" not in buffered:
                        chunk = sock.recv(65536)
                        if not chunk:
                            self._hung_up()
                            return
                        buffered += chunk
                    buffered = buffered.partition(b"\r\n\r\n")[2]
                    with self.lock:
                        self.requests += 1
                        self.lock.notify_all()
                    if self.mode == "ok":
                        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        continue
                    if self.mode == "trickle":
                        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                        sock.settimeout(self.interval)
                    # Silent (or trickling): until the client hangs up.
                    while not self._stopping.is_set():
                        try:
                            if not sock.recv(65536):
                                break
                        except TimeoutError:
                            sock.sendall(b"x")
                    self._hung_up()
                    return
                except OSError:  # a reset, or a send into a closed connection
                    self._hung_up()
                    return
