"""The worker's body stage: one large read, with exactly what plain ``requests`` gives.

Every behaviour is checked against a plain ``requests.Session`` fetching the
same URL from the same loopback server: same content, text, headers,
history, exceptions and connection reuse.  The mechanism itself is counted
(calls to urllib3's read methods) and the memory peak traced.
"""

from __future__ import annotations

import gc
import http.client
import io
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
import requests_mock
import responses
from requests.adapters import BaseAdapter
from requests.auth import HTTPDigestAuth
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectionError,
    ContentDecodingError,
    SSLError,
)
from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.response import HTTPResponse

from requests_futures import FuturesSession

from .conftest import LONG, SHORT
from .server import LoopbackServer, payload

MIB = 2**20

#: Plain sessions and the scheduled kinds: each must read bodies alike.
SESSIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "per_host": {"per_host": 2},
    "rate": {"rate": 1000.0},
    "retries": {"retries": 2},
}


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every call to urllib3's ``HTTPResponse.read``, ``read1`` and ``read_chunked``."""
    calls: list[str] = []
    for name in ("read", "read1", "read_chunked"):
        original = getattr(HTTPResponse, name)

        def counted(
            self: HTTPResponse,
            *args: Any,
            _name: str = name,
            _original: Any = original,
            **kwargs: Any,
        ) -> Any:
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(HTTPResponse, name, counted)
    yield calls


def body(**recipe: object) -> str:
    """The path of a ``/body`` answer made to ``recipe`` (see tests/server.py)."""
    return "/body?" + "&".join(
        f"{key}={quote(str(value), safe='')}" for key, value in recipe.items()
    )


def redirect_to(path: str, status: int = 302) -> str:
    return f"/redirect-to?url={quote(path, safe='')}&status={status}"


def snapshot(response: requests.Response) -> dict[str, Any]:
    """What a caller can see of a response (the Date header aside)."""
    seen: dict[str, Any] = {
        "status": response.status_code,
        "url": response.url,
        "reason": response.reason,
        "headers": {k: v for k, v in response.headers.items() if k.lower() != "date"},
        "content": response.content,
        "text": response.text,
        "encoding": response.encoding,
        "apparent_encoding": response.apparent_encoding,
        "history": [(r.status_code, r.url, r.content) for r in response.history],
        "next": response.next.url if response.next is not None else None,
        "cookies": response.cookies.get_dict(),
        "consumed": vars(response)["_content_consumed"],
    }
    try:
        seen["json"] = response.json()
    except requests.JSONDecodeError as exc:
        seen["json"] = type(exc)
    return seen


# Every kind of body the issue lists (point 1), as (method, path, keyword arguments).
CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "identity": ("GET", body(n=MIB), {}),
    "odd size": ("GET", body(n=1_000_003), {}),
    "empty": ("GET", body(n=0), {}),
    "chunked small chunks": ("GET", body(n=5000, chunk=7), {}),
    "chunked large chunks": ("GET", body(n=MIB + 5, chunk=300_000), {}),
    "gzip": ("GET", body(n=300_000, kind="text", enc="gzip"), {}),
    "gzip chunked": ("GET", body(n=300_000, kind="text", enc="gzip", chunk=4096), {}),
    "deflate zlib": ("GET", body(n=300_000, kind="text", enc="deflate"), {}),
    "deflate raw": ("GET", body(n=300_000, kind="text", enc="rawdeflate"), {}),
    "204 with a length": ("GET", body(n=1000, status=204), {}),
    "304 with a length": ("GET", body(n=1000, status=304), {}),
    "HEAD with a length": ("HEAD", body(n=100_000), {}),
    "HEAD chunked": ("HEAD", body(n=100_000, chunk=1000), {}),
    "404": ("GET", body(n=3000, kind="text", status=404, type="text/plain"), {}),
    "text, no charset": ("GET", body(n=4000, kind="latin1"), {}),
    "text/plain, latin-1": ("GET", body(n=4000, kind="latin1", type="text/plain"), {}),
    "text/html; charset": (
        "GET",
        body(n=4000, kind="latin1", type="text/html; charset=iso-8859-1"),
        {},
    ),
    "json": ("GET", body(n=50_000, kind="json", type="application/json"), {}),
    "redirects followed": (
        "GET",
        redirect_to(redirect_to(body(n=2000, kind="text"), 301), 303),
        {},
    ),
    "redirect to a large body": ("GET", redirect_to(body(n=MIB)), {}),
    "307 to gzip": ("GET", redirect_to(body(n=9000, kind="text", enc="gzip"), 307), {}),
    "302 kept": ("GET", body(n=5000, status=302, location="/echo"), {"allow_redirects": False}),
    "302 with a body followed": ("GET", body(n=5000, status=302, location=body(n=7000)), {}),
    "cookies": ("GET", "/cookies/set?flavour=oat", {}),
    "POST": ("POST", body(n=200_000), {"data": b"x" * 1000}),
}


def plain_fetch(
    server: LoopbackServer, case: str, then: str = "/echo"
) -> tuple[dict[str, Any], int]:
    """The case through plain requests, then ``then`` on the same session; connections used."""
    method, path, kwargs = CASES[case]
    server.reset()
    with requests.Session() as session:
        seen = snapshot(session.request(method, server.url + path, timeout=LONG, **kwargs))
        session.get(server.url + then, timeout=LONG).raise_for_status()
    return seen, server.counters.connections


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("kind", list(SESSIONS))
def test_every_kind_of_body_is_what_requests_gives(
    server: LoopbackServer, case: str, kind: str
) -> None:
    method, path, kwargs = CASES[case]
    expected, connections = plain_fetch(server, case)
    server.reset()
    with FuturesSession(max_workers=1, **SESSIONS[kind]) as session:
        response = session.request(method, server.url + path, **kwargs).result(LONG)
        # As Response.content leaves them, before anybody asks for the content.
        assert type(vars(response)["_content"]) is bytes
        assert vars(response)["_content_consumed"] is True
        assert snapshot(response) == expected
        session.get(server.url + "/echo").result(LONG).raise_for_status()
    assert server.counters.connections == connections


VERBS = ("get", "options", "head", "post", "put", "patch", "delete")


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("kind", list(SESSIONS))
def test_every_verb_reads_as_requests_does(server: LoopbackServer, verb: str, kind: str) -> None:
    url = server.url + body(n=300_001, kind="text", enc="gzip", type="text/plain")
    with requests.Session() as plain:
        expected = snapshot(getattr(plain, verb)(url))
    with FuturesSession(**SESSIONS[kind]) as session:
        assert snapshot(getattr(session, verb)(url).result(LONG)) == expected


@pytest.mark.parametrize("kind", list(SESSIONS))
def test_send_of_a_prepared_request_reads_as_requests_does(
    server: LoopbackServer, kind: str
) -> None:
    url = server.url + body(n=MIB, chunk=65536)
    with requests.Session() as plain:
        expected = snapshot(plain.send(plain.prepare_request(requests.Request("GET", url))))
    with FuturesSession(**SESSIONS[kind]) as session:
        prepared = session.prepare_request(requests.Request("GET", url))
        assert snapshot(session.send(prepared).result(LONG)) == expected


# --- point 8 and 7: the mechanism, counted; the memory, traced ------------------------------


def test_an_8_mib_body_is_read_in_at_most_32_calls(
    server: LoopbackServer, reads: list[str]
) -> None:
    url = server.url + body(n=8 * MIB)
    with FuturesSession(max_workers=1) as session:
        response = session.get(url).result(LONG)
    assert response.content == payload("bin", 8 * MIB)
    assert 1 <= len(reads) <= 32, reads
    reads.clear()
    with requests.Session() as plain:
        plain.get(url)
    assert len(reads) > 32  # the counter sees requests' own 10 KiB reads


def test_a_chunked_body_is_read_a_whole_chunk_at_a_time(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces: list[int] = []
    original = http.client.HTTPResponse._safe_read

    def counted(self: http.client.HTTPResponse, amt: int) -> bytes:
        pieces.append(amt)
        return original(self, amt)  # type: ignore[no-any-return]

    monkeypatch.setattr(http.client.HTTPResponse, "_safe_read", counted)
    url = server.url + body(n=8 * MIB, chunk=MIB)
    with FuturesSession(max_workers=1) as session:
        assert session.get(url).result(LONG).content == payload("bin", 8 * MIB)
    assert sorted(pieces) == [2] * 8 + [MIB] * 8  # each chunk, then its CRLF
    pieces.clear()
    with requests.Session() as plain:
        plain.get(url)
    assert len(pieces) > 800  # requests reads 10 KiB at a time


def peak(fetch: Callable[[], requests.Response]) -> int:
    """The traced memory peak while ``fetch()`` runs (the response dropped after)."""
    gc.collect()
    tracemalloc.start()
    try:
        response = fetch()
        top = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del response
    return top


def test_a_64_mib_body_peaks_under_one_and_a_half_times_its_size(server: LoopbackServer) -> None:
    size = 64 * MIB
    url = server.url + body(n=size)
    payload("bin", size)  # the server's copy exists before tracing starts
    with FuturesSession(max_workers=1) as session:
        ours = peak(lambda: session.get(url).result(LONG))
    with requests.Session() as plain:
        theirs = peak(lambda: plain.get(url))
    assert ours <= 1.5 * size, ours / size
    assert theirs >= 1.9 * size  # what it would be without the stage


# --- point 2: errors, the class requests raises exactly -----------------------------------

BROKEN = {
    "short of its length": (body(n=100_000, cut=50_000), ChunkedEncodingError),
    "chunked, cut between chunks": (
        body(n=100_000, chunk=10_000, cut=3 * 10_008),
        ChunkedEncodingError,
    ),
    "chunked, cut mid-chunk": (body(n=100_000, chunk=10_000, cut=15_000), ChunkedEncodingError),
    "chunked, no last chunk": (
        body(n=100_000, chunk=10_000, cut=10 * 10_008),
        ChunkedEncodingError,
    ),
    "gzip, corrupt": (body(n=100_000, kind="text", enc="gzip", corrupt=1), ContentDecodingError),
    "gzip chunked, corrupt": (
        body(n=100_000, kind="text", enc="gzip", chunk=999, corrupt=1),
        ContentDecodingError,
    ),
    "gzip, short": (body(n=100_000, enc="gzip", cut=30_000), ChunkedEncodingError),
    "deflate, corrupt": (
        body(n=100_000, kind="text", enc="deflate", corrupt=1),
        ContentDecodingError,
    ),
}


def failure(call: Callable[[], object]) -> BaseException:
    with pytest.raises(requests.RequestException) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("kind", list(SESSIONS))
def test_a_broken_body_raises_what_requests_raises(
    server: LoopbackServer, case: str, kind: str
) -> None:
    path, expected = BROKEN[case]
    with requests.Session() as plain:
        theirs = failure(lambda: plain.get(server.url + path, timeout=LONG))
        plain.get(server.url + "/echo", timeout=LONG).raise_for_status()
    connections = server.counters.connections
    server.reset()
    with FuturesSession(max_workers=1, **SESSIONS[kind]) as session:
        ours = failure(lambda: session.get(server.url + path).result(LONG))
        session.get(server.url + "/echo").result(LONG).raise_for_status()
    assert type(theirs) is expected
    assert type(ours) is expected
    assert type(ours.__context__) is type(theirs.__context__)
    # A broken connection is not handed out again, a sound one is, as requests does.
    assert server.counters.connections == connections


@pytest.mark.parametrize("kind", list(SESSIONS))
def test_a_body_stalled_past_the_read_timeout_raises_connection_error(
    server: LoopbackServer, kind: str
) -> None:
    timeout = (LONG, SHORT)
    with requests.Session() as plain:
        theirs = failure(
            lambda: plain.get(server.url + body(n=400_000, stall="plain"), timeout=timeout)
        )
    server.release("plain")
    server.reset()
    with FuturesSession(max_workers=1, **SESSIONS[kind]) as session:
        ours = failure(
            lambda: session.get(
                server.url + body(n=400_000, stall="ours"), timeout=timeout
            ).result(LONG)
        )
        server.release("ours")
        assert session.get(server.url + "/echo").result(LONG).ok
    assert type(theirs) is ConnectionError
    assert type(ours) is ConnectionError
    assert server.counters.connections == 2  # the stalled one was not reused


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ProtocolError("cut"), ChunkedEncodingError),
        (DecodeError("bad"), ContentDecodingError),
        (ReadTimeoutError(None, None, "slow"), ConnectionError),  # type: ignore[arg-type]
        (Urllib3SSLError("tls"), SSLError),
    ],
)
def test_urllib3_errors_are_mapped_as_iter_content_maps_them(
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    raised: Exception,
    expected: type[Exception],
) -> None:
    def fail(self: HTTPResponse, *args: Any, **kwargs: Any) -> bytes:
        raise raised

    monkeypatch.setattr(HTTPResponse, "read", fail)
    url = server.url + body(n=1000)
    with requests.Session() as plain:
        theirs = failure(lambda: plain.get(url))
    with FuturesSession() as session:
        ours = failure(lambda: session.get(url).result(LONG))
    assert type(theirs) is type(ours) is expected
    assert ours.args[0] is raised
    assert ours.__context__ is raised and ours.__cause__ is None  # raised as requests raises it


# --- point 3: stream=True, however it is asked for -------------------------------------------


def assert_unread(response: requests.Response) -> None:
    with response:
        assert type(response.raw) is HTTPResponse
        assert response.raw.tell() == 0
        assert vars(response)["_content"] is False


def test_stream_true_reads_nothing_however_it_is_asked(
    server: LoopbackServer, reads: list[str]
) -> None:
    url = server.url + body(n=MIB)
    with FuturesSession() as session:
        assert_unread(session.get(url, stream=True).result(LONG))
        assert_unread(session.request("GET", url, stream=True).result(LONG))
        prepared = session.prepare_request(requests.Request("GET", url))
        assert_unread(session.send(prepared, stream=True).result(LONG))
    with FuturesSession(per_host=1, retries=1) as session:
        assert_unread(session.get(url, stream=True).result(LONG))
    with FuturesSession() as session:
        session.stream = True
        assert_unread(session.get(url).result(LONG))
    with requests.Session() as supplied, FuturesSession(session=supplied) as session:
        supplied.stream = True
        assert_unread(session.get(url).result(LONG))
        assert reads == []
        with session.get(url).result(LONG) as response:
            assert response.content == payload("bin", MIB)


# --- point 4: hooks see what plain requests shows them ----------------------------------------


def spy(seen: list[dict[str, Any]]) -> Callable[..., None]:
    def hook(response: requests.Response, **kwargs: Any) -> None:
        seen.append({"tell": response.raw.tell(), "content": vars(response)["_content"], **kwargs})

    return hook


@pytest.mark.parametrize("stream", [None, False])
@pytest.mark.parametrize("where", ["call", "session"])
def test_hooks_run_before_the_body_is_read_and_see_the_callers_arguments(
    server: LoopbackServer, stream: bool | None, where: str
) -> None:
    url = server.url + redirect_to(body(n=MIB))
    kwargs: dict[str, Any] = {} if stream is None else {"stream": stream}

    def fetch(session: requests.Session, seen: list[dict[str, Any]]) -> Any:
        if where == "session":
            session.hooks["response"].append(spy(seen))
            return session.get(url, timeout=LONG, **kwargs)
        return session.get(url, hooks={"response": spy(seen)}, timeout=LONG, **kwargs)

    theirs: list[dict[str, Any]] = []
    with requests.Session() as plain:
        fetch(plain, theirs)
    ours: list[dict[str, Any]] = []
    with FuturesSession() as session:
        fetch(session, ours).result(LONG)
    assert ours == theirs
    assert [(seen["tell"], seen["content"], seen["stream"]) for seen in ours] == [
        (0, False, bool(stream))
    ] * 2  # the redirect, then the body


def test_a_hook_that_reads_the_content_itself(server: LoopbackServer) -> None:
    read: list[bytes] = []
    with FuturesSession() as session:
        hooks = {"response": lambda r, **kw: read.append(r.content)}
        response = session.get(server.url + body(n=MIB), hooks=hooks).result(LONG)
    assert read == [response.content] == [payload("bin", MIB)]


def test_a_hook_that_replaces_the_response_with_a_file_raw(server: LoopbackServer) -> None:
    def replace(response: requests.Response, **kwargs: Any) -> requests.Response:
        response.close()
        other = requests.Response()
        other.status_code = 200
        other.raw = io.BytesIO(b"replaced")
        return other

    with FuturesSession() as session:
        response = session.get(server.url + body(n=MIB), hooks={"response": replace}).result(LONG)
    assert response.content == b"replaced"


def test_digest_auth_sends_again_from_its_hook(server: LoopbackServer, reads: list[str]) -> None:
    with FuturesSession() as session:
        response = session.get(
            server.url + "/digest/user/pass", auth=HTTPDigestAuth("user", "pass")
        ).result(LONG)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.json()["path"] == "/digest/user/pass"


def test_background_callback_runs_after_the_body_is_in(server: LoopbackServer) -> None:
    seen: list[Any] = []

    def callback(session: FuturesSession, response: requests.Response) -> None:
        seen.append((vars(response)["_content_consumed"], vars(response)["_content"]))

    with FuturesSession() as session:
        session.get(server.url + body(n=MIB), background_callback=callback).result(LONG)
    assert seen == [(True, payload("bin", MIB))]


# --- point 5: connections go back to the pool ---------------------------------------------------


def test_200_sequential_bodies_of_1_mib_use_one_connection(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1) as session:
        for _ in range(200):
            assert len(session.get(server.url + body(n=MIB)).result(LONG).content) == MIB
    assert server.counters.connections == 1


# --- point 6: mocked and custom transports --------------------------------------------------


def test_responses_mocks_are_read_as_requests_reads_them() -> None:
    url = "http://mocked.invalid/data"
    with responses.RequestsMock() as mocked:
        mocked.get(url, body=b"mocked body", headers={"Content-Type": "text/plain"})
        with requests.Session() as plain:
            expected = snapshot(plain.get(url))
        with FuturesSession() as session:
            assert snapshot(session.get(url).result(LONG)) == expected


def test_requests_mock_adapter_and_mocker() -> None:
    url = "mock://mocked.invalid/data"
    adapter = requests_mock.Adapter()
    adapter.register_uri(
        "GET", url, content=b"from the adapter", headers={"Content-Encoding": "identity"}
    )
    with FuturesSession() as session:
        session.mount("mock://", adapter)
        assert session.get(url).result(LONG).content == b"from the adapter"
    with requests_mock.Mocker() as mocker:
        mocker.get("http://mocked.invalid/json", json={"a": [1, 2]})
        with FuturesSession() as session:
            response = session.get("http://mocked.invalid/json").result(LONG)
    assert response.json() == {"a": [1, 2]}


class FileAdapter(BaseAdapter):
    """A custom transport: ``raw`` is a plain file object, or None."""

    def __init__(self, raw: Any) -> None:
        super().__init__()
        self.raw = raw

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.raw = self.raw
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def test_a_custom_adapter_with_a_file_raw_or_none() -> None:
    with FuturesSession() as session:
        session.mount("file-like://", FileAdapter(io.BytesIO(b"from a file" * 5000)))
        session.mount("none://", FileAdapter(None))
        assert session.get("file-like://x/").result(LONG).content == b"from a file" * 5000
        assert session.get("none://x/").result(LONG).content is None
