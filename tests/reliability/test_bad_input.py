"""Odd arguments never hang or break the pool (property-based, with hypothesis).

Each call is made twice, through ``FuturesSession`` and through a plain
``requests.Session``, against the loopback server.  The future must either be
refused at once with a ``TypeError``/``ValueError`` that says something (and
then requests must fail too), or resolve in bounded time with the same
response status or the same exception type as requests.
"""

from __future__ import annotations

import io
import math
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from requests_futures import FuturesSession

from ..conftest import LONG
from ..server import LoopbackServer

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# Names a generated header must not take: they would make the server wait for
# a body that never comes (and so both sides time out, slowly).
FRAMING = {"content-length", "transfer-encoding", "expect", "host", "connection"}


@pytest.fixture(autouse=True)
def _loopback_names_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A junk URL may name any host: resolve none but loopback, not even via DNS."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in LOOPBACK:
            raise socket.gaierror(socket.EAI_NONAME, f"not resolved in tests: {name!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def sessions() -> Iterator[tuple[FuturesSession, requests.Session]]:
    with FuturesSession(max_workers=4) as futures, requests.Session() as plain:
        yield futures, plain


Outcome = tuple[str, object]


def _plain_outcome(call: Callable[[], requests.Response]) -> Outcome:
    try:
        return "response", call().status_code
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return "error", type(exc)


def _future_outcome(submit: Callable[[], Any]) -> Outcome:
    try:
        future = submit()
    except (TypeError, ValueError) as exc:
        assert len(str(exc)) > 10, f"unclear message: {exc!r}"
        return "refused", type(exc)
    return _resolved(future)


def _resolved(future: Any) -> Outcome:
    exc = future.exception(timeout=LONG * 2)  # never a hang
    if exc is not None:
        return "error", type(exc)
    return "response", future.result(timeout=0).status_code


def _same(futures: Outcome, plain: Outcome) -> None:
    if futures[0] == "refused":
        assert plain[0] == "error", f"refused a call requests accepts: {futures} vs {plain}"
    else:
        assert futures == plain


# --- what to throw --------------------------------------------------------------

junk_text = st.text(max_size=12)
unpicklable = st.sampled_from([threading.Lock(), lambda: None, (x for x in ()), object()])


def urls(port: int) -> st.SearchStrategy[Any]:
    scheme = st.sampled_from(["http", "https", "HTTP", "ftp", "file", "", "http+unix"]) | junk_text
    host = st.sampled_from(
        [f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1:0", "127.0.0.1:99999", "[::1"]
    )
    path = st.text(max_size=16)
    built = st.builds(lambda s, h, p: f"{s}://{h}/echo/{p}", scheme, host, path)
    good = st.builds(lambda p: f"http://127.0.0.1:{port}/echo/{p}", path)
    junk = st.text(max_size=24) | st.binary(max_size=24) | st.integers() | st.none()
    return st.one_of(good, good, good, built, built, junk)  # weighted towards URLs


good_methods = st.sampled_from(["GET", "post", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"])
methods = (
    st.one_of(
        good_methods, good_methods, good_methods, junk_text | st.binary(max_size=8) | st.none()
    )
    | st.integers()
)
header_names = st.sampled_from(["Accept", "X-Odd", "User-Agent"]) | junk_text.filter(
    lambda name: name.strip().lower() not in FRAMING
)
header_values = junk_text | st.binary(max_size=12) | st.integers() | st.none() | unpicklable
headers = st.dictionaries(header_names, header_values, max_size=3) | st.none() | unpicklable

# Bodies as factories: a generator or a file can be read only once, and each
# call needs its own.
BODIES: list[Callable[[], object]] = [
    lambda: b"bytes",
    lambda: "text \u00e9",
    lambda: {"a": "1", "b": ["2", "3"]},
    lambda: [("a", "1")],
    lambda: (chunk for chunk in [b"a", b"b"]),
    lambda: (item for item in [1, 2]),
    lambda: io.BytesIO(b"file"),
    lambda: threading.Lock(),
    lambda: object(),
    lambda: 42,
    lambda: None,
]
JSON: list[Callable[[], object]] = [
    lambda: {"a": [1, 2]},
    lambda: {"a": object()},
    lambda: {"a": math.nan},
    lambda: {1, 2},
]
bodies = st.sampled_from(BODIES)
json_bodies = st.sampled_from(JSON)
# Per call, NaN, infinities and 1e300 are left out: urllib3 hands them to
# socket.settimeout() after creating the socket, which then leaks (and warns)
# in requests as in a future.  A session's default refuses them at
# construction (tests/reliability/test_timeouts.py).
timeouts = (
    st.sampled_from(
        [None, -1, 0, -0.5, -math.inf, "1", (1,), (1, 2, 3), (None, None), (LONG, LONG)]
    )
    | st.sampled_from([True, object(), (LONG, -1)])
    | st.floats(min_value=LONG, max_value=1e6)
)
params = st.dictionaries(junk_text, junk_text | st.integers() | st.none(), max_size=3) | (
    unpicklable | st.integers()
)


@st.composite
def calls(draw: st.DrawFn, port: int) -> tuple[tuple[Any, ...], Callable[[], dict[str, Any]]]:
    """(method, url) and a factory of fresh keyword arguments."""
    method, url = draw(methods), draw(urls(port))
    fixed: dict[str, Any] = {}
    for name, strategy in [("headers", headers), ("params", params), ("timeout", timeouts)]:
        if draw(st.booleans()):
            fixed[name] = draw(strategy)
    body = draw(st.none() | bodies)
    json_body = draw(st.none() | json_bodies)
    if "timeout" not in fixed:
        fixed["timeout"] = LONG

    def kwargs() -> dict[str, Any]:
        made = dict(fixed)
        if body is not None:
            made["data"] = body()
        if json_body is not None:
            made["json"] = json_body()
        return made

    return (method, url), kwargs


# --- the properties ----------------------------------------------------------------


@SETTINGS
@given(data=st.data())
def test_request_with_odd_arguments_fails_like_requests(
    server: LoopbackServer, sessions: tuple[FuturesSession, requests.Session], data: st.DataObject
) -> None:
    futures, plain = sessions
    args, kwargs = data.draw(calls(server.server_address[1]))
    got = _future_outcome(lambda: futures.request(*args, **kwargs()))
    event(f"{got[0]}: {getattr(got[1], '__name__', got[1])}")
    _same(got, _plain_outcome(lambda: plain.request(*args, **kwargs())))


@SETTINGS
@given(data=st.data())
def test_map_with_odd_items_yields_each_once_like_requests(
    server: LoopbackServer, sessions: tuple[FuturesSession, requests.Session], data: st.DataObject
) -> None:
    futures, plain = sessions
    port = server.server_address[1]
    mapping = st.fixed_dictionaries(
        {"url": urls(port)}, optional={"method": methods, "headers": headers, "timeout": timeouts}
    )
    item = urls(port) | mapping | st.dictionaries(junk_text, junk_text, max_size=2) | unpicklable
    items = data.draw(st.lists(item, max_size=6))
    yielded = list(futures.map(items, window=2))
    assert [it for it, _ in yielded] == items  # each item once, in order
    for it, future in yielded:
        assert future.done()
        _same(_resolved(future), _plain_outcome(lambda it=it: _plain_map_call(plain, it)))


def _plain_map_call(plain: requests.Session, item: object) -> requests.Response:
    """What map() does with an item, done with requests."""
    if isinstance(item, (str, bytes)):
        return plain.request("GET", item, timeout=LONG)
    if isinstance(item, dict):
        kwargs = dict(item)
        if "url" not in kwargs:
            raise TypeError("no url")
        kwargs.setdefault("timeout", LONG)
        return plain.request(kwargs.pop("method", "GET"), kwargs.pop("url"), **kwargs)
    raise TypeError(f"not an item: {item!r}")


@pytest.mark.parametrize("url", [1, None, 2.5, object()])
def test_a_url_that_is_not_a_string_fails_like_requests(
    sessions: tuple[FuturesSession, requests.Session], url: object
) -> None:
    """Found by the properties above: the cached netrc lookup raised AttributeError."""
    futures, plain = sessions
    _same(
        _future_outcome(lambda: futures.get(url)),
        _plain_outcome(lambda: plain.get(url, timeout=LONG)),  # type: ignore[arg-type]
    )
