"""Saving a body straight from the socket to its file, on Linux: no copy through Python.

``fetch --save`` uses it for a body it can take as it is on the wire: plain
HTTP (no TLS), a ``Content-Length``, not chunked, no ``Content-Encoding``.
The bytes go socket -> pipe -> file with :func:`os.splice`, in the kernel,
without the interpreter lock; any other body is read as ``requests`` reads it::

    size = splice_body(response, fd, count)  # None: not a body for this path

It keeps what the ordinary path gives: the bytes ``http.client`` already read
past the headers are written first; the socket's timeout applies to each wait
for data; a body cut short raises :class:`~requests.exceptions.ChunkedEncodingError`,
a stall past the timeout :class:`~requests.exceptions.ConnectionError` (what
``iter_content`` raises); an error writing the file is the ``OSError`` it is.
The connection goes back to the pool once the whole body is in, and is closed
after any error.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import io
import os
import select
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from requests.exceptions import ChunkedEncodingError, ConnectionError
from urllib3.exceptions import ProtocolError, ReadTimeoutError
from urllib3.response import HTTPResponse

if TYPE_CHECKING:  # pragma: no cover
    from requests import Response

#: Whether this system has :func:`os.splice` (Linux, Python 3.10 and later).
AVAILABLE = hasattr(os, "splice")

#: Bytes moved at a time: the size asked of each pipe (the most an
#: unprivileged process may ask by default).
PIPE_SIZE = 2**20


def splice_body(response: Response, fd: int, count: Callable[[int], None]) -> int | None:
    """Write ``response``'s body to the file open at ``fd``; its size, or None.

    None, with nothing read or written, when the body is not one this path
    takes (see the module's docstring).  ``count`` is called with the size of
    each piece written.

    :raises requests.exceptions.ChunkedEncodingError: the body was cut short.
    :raises requests.exceptions.ConnectionError: it stalled past the read timeout.
    :raises OSError: the file could not be written.
    """
    source = _source(response)
    if source is None:
        return None
    message, sock = source
    raw: HTTPResponse = response.raw
    length = message.length or 0
    try:
        size = _move(message, sock, fd, length, count)
    except BaseException:
        raw.close()  # the connection is not handed out again
        raise
    # The body is in: http.client closes its side, and urllib3 puts the
    # connection back in its pool, as after the last read of the ordinary path.
    message.length = 0
    raw.read()
    vars(response)["_content_consumed"] = True  # as iter_content leaves it
    return size


def _source(response: Response) -> tuple[http.client.HTTPResponse, socket.socket] | None:
    """The http.client response and the plain socket of ``response``, if it can be spliced."""
    raw = response.raw
    if not AVAILABLE or type(raw) is not HTTPResponse or raw.tell() != 0:
        return None
    message = raw._fp
    if not isinstance(message, http.client.HTTPResponse) or not isinstance(
        message.fp, io.BufferedReader
    ):
        return None
    # The socket http.client reads the body from (the connection's, which
    # http.client lets go of when the answer says "Connection: close").
    sock = getattr(message.fp.raw, "_sock", None)
    if (
        # A plain socket: TLS (ssl.SSLSocket, a subclass) decrypts in Python.
        type(sock) is not socket.socket
        or message.chunked
        or not message.length  # unknown (read to the end), or no body at all
        or response.headers.get("Content-Encoding", "identity").lower() != "identity"
    ):
        return None
    return message, sock


def _move(
    message: http.client.HTTPResponse,
    sock: socket.socket,
    fd: int,
    length: int,
    count: Callable[[int], None],
) -> int:
    """Write ``length`` bytes of body to ``fd``: those buffered first, then from ``sock``."""
    assert message.fp is not None  # checked by _source
    with _socket_errors():
        buffered = message.fp.peek()  # what http.client read past the headers (or one read)
        head = message.fp.read(min(len(buffered), length))
    _write_all(fd, head)
    count(len(head))
    done = len(head)
    if done == length:
        return done
    read_end, write_end = _pipe()
    try:
        source, timeout = sock.fileno(), sock.gettimeout()
        while done < length:
            with _socket_errors():
                moved = _from_socket(source, write_end, length - done, timeout)
            if not moved:
                raise ChunkedEncodingError(
                    ProtocolError(
                        f"the body ended after {done} of {length} bytes (Content-Length)"
                    )
                )
            while moved:  # into the file, all of it
                written = os.splice(read_end, fd, moved)
                moved -= written
                done += written
                count(written)
    finally:
        os.close(read_end)
        os.close(write_end)
    return done


def _pipe() -> tuple[int, int]:
    """A new pipe, its read end and write end, holding up to :data:`PIPE_SIZE` if allowed."""
    import fcntl  # Unix only, as os.splice is

    read_end, write_end = os.pipe()
    # Fewer calls with a larger pipe; past the system's limit, keep the default.
    with contextlib.suppress(OSError):
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    return read_end, write_end


def _from_socket(source: int, pipe: int, wanted: int, timeout: float | None) -> int:
    """Move up to ``wanted`` bytes from the socket into the pipe; 0 at the end of the stream.

    A socket with a timeout is non-blocking: wait for it to be readable, at
    most ``timeout`` seconds each time, as a read of the socket would.
    """
    while True:
        try:
            return os.splice(source, pipe, min(wanted, PIPE_SIZE))
        except BlockingIOError:
            poller = select.poll()
            poller.register(source, select.POLLIN)
            wait = None if timeout is None else max(int(timeout * 1000), 1)
            if not poller.poll(wait):
                raise TimeoutError(errno.ETIMEDOUT, "timed out") from None


@contextlib.contextmanager
def _socket_errors() -> Iterator[None]:
    """Raise what ``iter_content`` raises for an error of the socket (urllib3's mapping)."""
    try:
        yield
    except TimeoutError as exc:
        raise ConnectionError(ReadTimeoutError(None, None, "Read timed out.")) from exc  # type: ignore[arg-type]
    except (OSError, http.client.HTTPException) as exc:
        raise ChunkedEncodingError(ProtocolError(f"Connection broken: {exc!r}", exc)) from exc


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
