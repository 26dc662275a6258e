"""What users' type checkers see: checked by mypy in CI, never run.

Each ``assert_type`` pins the static type of an expression; a change in the
annotations of ``requests_futures`` that changes what users see fails here.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import requests
from requests import PreparedRequest, Request, Response
from urllib3.util import Retry

from requests_futures import DeadlineExceeded, Future, FuturesSession, HostStats
from requests_futures.sessions import FuturesSession as ClassicFuturesSession

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type

URL = "http://127.0.0.1:8000/echo"

session = FuturesSession()
assert_type(ClassicFuturesSession(), FuturesSession)
assert_type(FuturesSession(executor=ThreadPoolExecutor(4)), FuturesSession)
assert_type(
    FuturesSession(
        per_host=4,
        rate=2.5,
        retries=3,
        host_limits={"api.example.invalid": {"per_host": 1, "rate": 0.5}},
    ),
    FuturesSession,
)
assert_type(FuturesSession(retries=Retry(total=2, raise_on_status=True)), FuturesSession)
assert_type(session.get(URL).attempts, int)
adaptive = FuturesSession(per_host=16, adaptive=True, retries=5)
assert_type(adaptive.host_stats(), dict[str, HostStats])
assert_type(adaptive.host_stats()["http://127.0.0.1:8000"].limit, int | None)
assert_type(adaptive.host_stats()["http://127.0.0.1:8000"].latency, float | None)
assert_type(adaptive.host_stats()["http://127.0.0.1:8000"].overload_signals, int)
shared = FuturesSession(coalesce=True, max_workers=16)
assert_type(shared.get(URL), Future[Response])
assert_type(shared.get(URL).attempts, int)

# The verbs, request() and send() return futures of responses.
assert_type(session.get(URL), Future[Response])
assert_type(session.get(URL).result(), Response)
assert_type(session.get(URL).result(timeout=1.0), Response)
assert_type(session.post(URL, json={"a": 1}), Future[Response])
assert_type(session.put(URL, data=b""), Future[Response])
assert_type(session.patch(URL), Future[Response])
assert_type(session.delete(URL), Future[Response])
assert_type(session.head(URL), Future[Response])
assert_type(session.options(URL), Future[Response])
assert_type(session.request("GET", URL), Future[Response])
assert_type(session.request("GET", URL).result(), Response)

# The classic slip stays a type error (the run-time hint is hidden from checkers);
# with warn_unused_ignores, this ignore would fail if the error went away.
_ = session.get(URL).status_code  # type: ignore[attr-defined]

prepared = session.prepare_request(Request("GET", URL))
assert_type(prepared, PreparedRequest)
assert_type(session.send(prepared), Future[Response])
assert_type(session.send(prepared, timeout=1.0).result(), Response)

# deadline=: on the session, every verb, request() and send(); abort().
within = FuturesSession(deadline=30)
assert_type(within.get(URL, deadline=0.5), Future[Response])
assert_type(within.request("GET", URL, deadline=None).abort(), bool)
assert_type(within.send(prepared, deadline=2), Future[Response])
timeout_error: requests.exceptions.Timeout = DeadlineExceeded("deadline of 2 s exceeded")


def count_redirects(session: FuturesSession, response: Response) -> int:
    return len(response.history)


# A background callback that returns a value changes the result at run time;
# statically the future stays a Future[Response].
assert_type(session.get(URL, background_callback=count_redirects), Future[Response])

# They are concurrent.futures futures as well.
for done in as_completed([session.get(URL), session.get(URL)]):
    assert_type(done.result(), Response)


async def awaiting() -> None:
    assert_type(await session.get(URL), Response)
    assert_type(await session.request("GET", URL), Response)
    assert_type(await session.send(prepared), Response)


# map() hands each item back with its own static type.
urls = [URL, URL]
assert_type(session.map(urls), Generator[tuple[str, Future[Response]], None, None])
for url, future in session.map(urls, window=4, ordered=False):
    assert_type(url, str)
    assert_type(future, Future[Response])
    assert_type(future.result(), Response)

requests_ = [Request("GET", URL)]
for request, _ in session.map(requests_):
    assert_type(request, Request)

mappings: list[Mapping[str, Any]] = [{"url": URL, "method": "POST", "json": {}}]
for mapping, _ in session.map(mappings):
    assert_type(mapping, Mapping[str, Any])

mixed: list[str | Request] = [URL, Request("GET", URL)]
for item, _ in session.map(mixed):
    assert_type(item, str | Request)

results = session.map(iter(urls))
results.close()  # a generator: close() ends it early

with FuturesSession(max_workers=4) as managed:
    assert_type(managed, FuturesSession)
