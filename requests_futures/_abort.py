"""Giving up on a running request: shutting down the sockets its worker is using.

A running request spends its life blocked in a socket call of its worker
thread: connecting, sending, waiting for the headers, reading the body.
Another thread cannot stop that thread, but it can shut the socket down:
``shutdown(SHUT_RDWR)`` wakes the blocked call at once with an end of file or
an error, the server sees the connection closed, and urllib3, meeting the
error, closes that connection instead of pooling it (a socket shut down
after its response was read is found dropped and replaced before reuse).

The socket is found on the worker's stack, so a request costs nothing here
until someone gives up on it.  The frame of the runner that holds the
request's future (the executor's work item, or the scheduler's chain, which
registers itself with :func:`runner`) tells which thread runs it; the
sockets of the frames inside that one are the call's::

    found = shut_down([future])  # True: a thread was running it (look again later)
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import thread as _thread
from types import CodeType, FrameType

__all__ = ["runner", "shut_down"]

#: Code of a runner → the local (``name`` or ``name.attribute``) holding the future it runs.
_RUNNERS: dict[CodeType, tuple[str, ...]] = {}


def runner(code: CodeType, local: str) -> None:
    """Register a function whose frames run one request's future, held in ``local``."""
    _RUNNERS[code] = tuple(local.split("."))


runner(_thread._WorkItem.run.__code__, "self.future")


def _running(frame: FrameType, path: tuple[str, ...]) -> object:
    """The future the runner ``frame`` is running now."""
    value = frame.f_locals.get(path[0])
    for name in path[1:]:
        value = getattr(value, name, None)
    return value


def _socket_of(value: object) -> socket.socket | None:
    """The socket ``value`` is, or works on: a connection, a socket's file, a socket."""
    if isinstance(value, socket.socket):
        return value
    if isinstance(value, http.client.HTTPConnection):  # urllib3's subclasses it
        found = value.sock
    elif isinstance(value, socket.SocketIO):
        found = getattr(value, "_sock", None)
    else:
        return None
    return found if isinstance(found, socket.socket) else None


def _sockets_in(frames: list[FrameType]) -> list[socket.socket]:
    found: list[socket.socket] = []
    for frame in frames:
        local = frame.f_locals
        for name in ("self", "sock", "conn"):
            sock = _socket_of(local.get(name))
            if sock is not None and all(sock is not seen for seen in found):
                found.append(sock)
    return found


def shut_down(futures: Iterable[object]) -> bool:
    """Shut down the sockets of the calls running ``futures`` in other threads.

    Returns whether a thread was found running one of them: the caller may
    look again a little later (the worker may have been between two socket
    calls, or connecting again to follow a redirect).
    """
    targets = [future for future in futures if future is not None]
    me = threading.get_ident()
    found = False
    for ident, top in sys._current_frames().items():
        if ident == me:
            continue
        inner: list[FrameType] = []
        frame: FrameType | None = top
        while frame is not None:
            path = _RUNNERS.get(frame.f_code)
            if path is not None:
                # The innermost runner tells what this thread runs now.
                running = _running(frame, path)
                if any(running is target for target in targets):
                    found = True
                    for sock in _sockets_in(inner):
                        # socket.socket's own: an SSL socket's would also drop its TLS state.
                        with contextlib.suppress(OSError):
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                break
            inner.append(frame)
            frame = frame.f_back
        del inner, frame, top
    return found
