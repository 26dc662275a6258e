"""The worker's body stage: a non-streamed body read in one call, as requests reads it.

``requests`` reads a body with ``b"".join(response.iter_content(10240))``:
about a hundred reads a megabyte, each taking and dropping the GIL, and two
copies of the body at the peak.  A FuturesSession reads it instead with one
call to urllib3 (``HTTPResponse.read()``, or ``read_chunked()`` for a chunked
body), at the point where ``requests`` would: after the response hooks, just
before the redirects are followed (``Session.send`` calls
``resolve_redirects``, which :class:`BodyReading`, a base of FuturesSession,
turns into a call here first)::

    read_body(session, response, stream=False)  # response.content is now set

It reads only what ``requests`` would have read right after, with the same
urllib3 response, and raises what ``Response.iter_content`` raises.  Anything
it does not recognise (a mocked or custom transport, a hook that began the
body, a redirect, whose body requests reads its own way) is left to
``requests``.
"""

from __future__ import annotations

import http.client
from typing import TYPE_CHECKING, Any

from requests import Session
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectionError,
    ContentDecodingError,
)
from requests.exceptions import SSLError as _RequestsSSLError
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
from urllib3.response import HTTPResponse

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Generator

    from requests import PreparedRequest, Response


class BodyReading(Session):
    """A :class:`requests.Session` that reads a non-streamed body in one call.

    A base of :class:`~requests_futures.FuturesSession`.
    """

    def resolve_redirects(
        self, resp: Response, req: PreparedRequest, *args: Any, **kwargs: Any
    ) -> Generator[Response, None, None]:
        """As :meth:`requests.Session.resolve_redirects`, after reading ``resp``'s body.

        ``requests``' ``send`` calls it once the response hooks have run, just
        before it reads the body itself with 10 KiB reads: the body is read
        here first, in one call to urllib3, with what ``requests`` would give
        (see "Response bodies" in the guide).

        .. versionadded:: 2.0
        """
        read_body(self, resp, args[0] if args else kwargs.get("stream", False))
        redirects: Generator[Response, None, None]
        redirects = super().resolve_redirects(resp, req, *args, **kwargs)
        return redirects


def read_body(session: Session, response: Response, stream: object) -> None:
    """Read ``response``'s body into ``response.content`` if requests is about to.

    ``session`` is the session whose ``send`` is running, ``stream`` the
    ``stream`` argument ``requests`` passed on.

    :raises requests.exceptions.ChunkedEncodingError: the body was cut short.
    :raises requests.exceptions.ContentDecodingError: it could not be decoded.
    :raises requests.exceptions.ConnectionError: it stalled past the read timeout.
    :raises requests.exceptions.SSLError: TLS failed while it was read.
    """
    if stream or not _readable(session, response):
        return
    raw: HTTPResponse = response.raw
    try:
        if raw.chunked and raw.supports_chunked_reads():
            # One chunk at a time, whatever its size: chunked bodies peak at 2x.
            content = b"".join(raw.read_chunked(decode_content=True))
        else:
            # http.client reads a Content-Length body into one buffer.
            content = raw.read(decode_content=True)
    # The mapping of Response.iter_content, raised the same way (no ``from``).
    except ProtocolError as exc:
        raise ChunkedEncodingError(exc)  # noqa: B904
    except DecodeError as exc:
        raise ContentDecodingError(exc)  # noqa: B904
    except ReadTimeoutError as exc:
        raise ConnectionError(exc)  # noqa: B904
    except SSLError as exc:
        raise _RequestsSSLError(exc)  # noqa: B904
    # What Response.content leaves (its attributes are not in every stub).
    vars(response).update(_content=content or b"", _content_consumed=True)


def _readable(session: Session, response: Response) -> bool:
    """Whether ``requests``' next step is ``response.content`` over a real socket, unread."""
    raw = response.raw
    state = vars(response)
    return (
        state.get("_content") is False
        and not state.get("_content_consumed", True)
        and response.status_code != 0
        # urllib3's own class (a subclass may read its own way) over http.client:
        # not a mock's in-memory buffer, nor a custom adapter's file.
        and type(raw) is HTTPResponse
        and isinstance(raw._fp, http.client.HTTPResponse)
        and raw.tell() == 0
        # resolve_redirects reads a redirect's body itself, forgiving errors.
        and not response.is_redirect
        and type(session).get_redirect_target is Session.get_redirect_target
    )
