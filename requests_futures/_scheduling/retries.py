"""Retry decisions: one attempt of a scheduled request, and whether to send it again.

The scheduler runs :func:`attempt` for each try of a request; urllib3's
:class:`~urllib3.util.Retry` decides, through its own methods, as it would
mounted on the adapter, and the :class:`Outcome` tells the scheduler when to
send again and whether the origin must pause::

    outcome = attempt(Retry(3), owner, None, "request", None, ("GET", url), {})
    outcome.retry, outcome.delay  # None, 0.0: final (outcome.result is the response)
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import urlsplit

from requests import PreparedRequest, Session
from requests.exceptions import (
    ConnectionError,
    ConnectTimeout,
    ProxyError,
    RequestException,
    RetryError,
    SSLError,
    Timeout,
)
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ResponseError,
)
from urllib3.exceptions import ProxyError as _Urllib3ProxyError
from urllib3.exceptions import SSLError as _Urllib3SSLError
from urllib3.util import Retry

from .._state import BackgroundCallback, DeferringSession
from .._worker import call, close_quietly, finish, running_for
from .adaptive import unresolved_name

if TYPE_CHECKING:  # pragma: no cover
    from requests import Response


class Outcome(NamedTuple):
    """What one attempt of a scheduled request tells the scheduler (picklable)."""

    #: The future's result (when ``retry`` is None).
    result: Any = None
    #: Not None: send the request again, with this policy, ``delay`` seconds from now.
    retry: Retry | None = None
    delay: float = 0.0
    #: Seconds no request to this origin may start (429 or 503 with Retry-After).
    pause: float = 0.0
    #: The attempt met an overload signal: 429, 503, a connection error, a timeout;
    #: None: no answer that tells of the origin (a host name that did not resolve).
    overload: bool | None = False
    #: Not None: the request failed with it (retries exhausted on a status).
    error: BaseException | None = None


def attempt(
    retry: Retry | None,
    owner: DeferringSession,
    target: Session | None,
    verb: str,
    callback: BackgroundCallback | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    starts: tuple[tuple[Any, int], ...] = (),
) -> Outcome:
    """Send a scheduled request once; say whether and when to send it again.

    ``retry`` (urllib3's :class:`~urllib3.util.Retry`) decides, through its own
    methods, as it would mounted on the adapter.  ``background_callback``
    runs on the final result only.  An error that is final is raised, but
    for retries given up on a status: that error comes in the outcome, which
    says whether the status was an overload signal (429, 503) and how long
    its Retry-After pauses the origin.  ``starts`` are the files of the
    body with where they started: each attempt sends them from there.
    """
    for body, start in starts:
        body.seek(start)
    with running_for(owner):
        try:
            response = call(owner, target, verb, args, kwargs)
        except (ConnectionError, Timeout) as exc:
            if retry is None:
                raise
            return _after_error(retry, exc)._replace(
                overload=None if unresolved_name(exc) else True
            )
        pause = _pause(retry, response)
        overload = response.status_code in PAUSE_STATUSES
        if retry is not None:
            try:
                again = _after_response(retry, response)
            except RetryError as exhausted:  # the status, not the error type, tells of overload
                return Outcome(pause=pause, overload=overload, error=exhausted)
            if again is not None:
                return again._replace(pause=pause, overload=overload)
        result = response if callback is None else finish(owner, callback, response)
        return Outcome(result, pause=pause, overload=overload)


class _Answer:
    """What urllib3's ``Retry`` reads of a response, from a ``requests.Response``.

    Its ``raw`` is not always urllib3's (a copy from a process pool, a test
    double), so the policy is shown this view instead.
    """

    __slots__ = ("headers", "status")

    REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

    def __init__(self, response: Response) -> None:
        self.status = response.status_code
        self.headers = response.headers

    def get_redirect_location(self) -> str | Literal[False] | None:
        if self.status in self.REDIRECT_STATUSES:
            return self.headers.get("location")
        return False


class _PoolName:
    """Names the connection pool in urllib3's messages, as they read under ``requests``.

    ``MaxRetryError`` starts with its pool ("HTTPConnectionPool(host='h',
    port=80): Max retries exceeded with url: /path"); the real pool lives in
    the adapter, out of reach here.
    """

    __slots__ = ("_text",)

    def __init__(self, url: str | None) -> None:
        split = urlsplit(url or "")
        https = split.scheme == "https"
        port = split.port or (443 if https else 80)
        kind = "HTTPSConnectionPool" if https else "HTTPConnectionPool"
        self._text = f"{kind}(host={split.hostname!r}, port={port!r})"

    def __str__(self) -> str:
        return self._text


def _after_response(retry: Retry, response: Response) -> Outcome | None:
    """The retry ``retry`` asks for after ``response``, or None: it is the result."""
    status = response.status_code
    if (
        type(retry) is Retry
        and status not in retry.RETRY_AFTER_STATUS_CODES
        and status not in (retry.status_forcelist or ())
    ):
        return None  # what its is_retry() says, whatever the method and headers
    request = response.request
    method = request.method
    has_retry_after = bool(response.headers.get("Retry-After"))
    if method is None or not retry.is_retry(method, response.status_code, has_retry_after):
        return None
    answer = _Answer(response)
    try:
        again = retry.increment(
            method,
            request.path_url,
            response=answer,  # type: ignore[arg-type]
            _pool=_PoolName(request.url),  # type: ignore[arg-type]
        )
    except MaxRetryError as exhausted:
        if not retry.raise_on_status:
            return None
        _discard(response)
        raise _as_requests_error(exhausted, request) from exhausted
    _discard(response)
    delay = None
    if again.respect_retry_after_header:
        with contextlib.suppress(InvalidHeader):
            delay = again.get_retry_after(answer)  # type: ignore[arg-type]
    return Outcome(retry=again, delay=delay or again.get_backoff_time())


def _discard(response: Response) -> None:
    """Read the rest of a response nobody will see and close it: its connection is reused."""
    with contextlib.suppress(Exception):
        _ = response.content  # a streamed body, closed unread, would close the socket
    close_quietly(response)


def _after_error(retry: Retry, exc: RequestException) -> Outcome:
    """The retry ``retry`` asks for after ``exc``; raises what is final."""
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason  # what the adapter's own (single) try met
    request = exc.request
    if not (isinstance(cause, Exception) and isinstance(request, PreparedRequest)):
        raise exc
    method = request.method or "GET"  # requests always sets it
    try:
        again = retry.increment(
            method,
            request.path_url,
            error=cause,
            _pool=_PoolName(request.url),  # type: ignore[arg-type]
        )
    except MaxRetryError as exhausted:
        raise _as_requests_error(exhausted, request) from exhausted
    except Exception:  # noqa: BLE001 - urllib3 re-raised the error: it is not retried
        raise exc from None
    return Outcome(retry=again, delay=again.get_backoff_time())


def _as_requests_error(exhausted: MaxRetryError, request: Any) -> RequestException:
    """The exception ``HTTPAdapter.send`` makes of an exhausted ``Retry``."""
    reason = exhausted.reason
    if isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError):
        return ConnectTimeout(exhausted, request=request)
    if isinstance(reason, ResponseError):
        return RetryError(exhausted, request=request)
    if isinstance(reason, _Urllib3ProxyError):
        return ProxyError(exhausted, request=request)
    if isinstance(reason, _Urllib3SSLError):
        return SSLError(exhausted, request=request)
    return ConnectionError(exhausted, request=request)


#: Reads Retry-After for a session without retries (the origin still pauses).
_PLAIN = Retry(0)

#: Answers that pause their whole origin when they carry Retry-After.
PAUSE_STATUSES = frozenset({429, 503})


def _pause(retry: Retry | None, response: Response) -> float:
    """How long ``response`` asks its origin to pause (0: not at all)."""
    if response.status_code not in PAUSE_STATUSES:
        return 0.0
    value = response.headers.get("Retry-After")
    policy = _PLAIN if retry is None else retry
    if not value or not policy.respect_retry_after_header:
        return 0.0
    try:
        return policy.parse_retry_after(value)
    except InvalidHeader:
        return 0.0
