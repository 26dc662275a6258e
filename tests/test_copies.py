"""A call's arguments are taken at the call: changing them afterwards changes nothing sent.

Each test holds the only worker busy, changes what it passed, then lets the
request go and looks at what the server received.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

from requests_futures import FuturesSession
from requests_futures._copies import take_arguments

from .conftest import LONG
from .server import LoopbackServer


@pytest.fixture(params=[{}, {"per_host": 1}], ids=["pool", "scheduled"])
def session(request: pytest.FixtureRequest) -> Iterator[FuturesSession]:
    with FuturesSession(max_workers=1, timeout=LONG, **request.param) as session:
        yield session


def later(
    session: FuturesSession, server: LoopbackServer, name: str, *args: Any, **kw: Any
) -> Any:
    """Submit behind a held request; return (the future, a function that lets both go)."""
    held = session.get(server.url + f"/hold/{name}")
    assert server.counters.wait_for_path(f"/hold/{name}", LONG)
    future = session.request(*args, **kw)

    def go() -> dict[str, Any]:
        server.release(name)
        held.result(timeout=LONG)
        return future.result(timeout=LONG).json()  # type: ignore[no-any-return]

    return go


def test_json_is_what_it_was_at_the_call(session: FuturesSession, server: LoopbackServer) -> None:
    body: dict[str, Any] = {"tags": ["a"], "nested": {"n": 1}, "pair": ({"x": 1},)}
    go = later(session, server, "copies-json", "POST", server.url + "/echo", json=body)
    body["tags"].append("b")
    body["nested"]["n"] = 2
    body["pair"][0]["x"] = 2
    body["added"] = True
    assert json.loads(go()["body"]) == {"tags": ["a"], "nested": {"n": 1}, "pair": [{"x": 1}]}


def test_params_headers_and_cookies_are_copied(
    session: FuturesSession, server: LoopbackServer
) -> None:
    params: dict[str, Any] = {"q": "1", "many": ["a", "b"]}
    headers = {"X-One": "1"}
    cookies = {"c": "1"}
    go = later(
        session,
        server,
        "copies-dicts",
        "GET",
        server.url + "/cookies",
        params=params,
        headers=headers,
        cookies=cookies,
    )
    params["q"] = "2"
    params["many"].append("c")
    headers["X-One"] = "2"
    headers["X-Two"] = "2"
    cookies["c"] = "2"
    seen = go()
    assert seen["query"] == {"q": ["1"], "many": ["a", "b"]}
    assert seen["headers"]["X-One"] == "1"
    assert "X-Two" not in seen["headers"]
    assert seen["cookies"] == "c=1"


def test_a_case_insensitive_dict_and_a_cookie_jar_are_copied(
    session: FuturesSession, server: LoopbackServer
) -> None:
    headers = CaseInsensitiveDict({"X-One": "1"})
    jar = RequestsCookieJar()
    jar.set("c", "1")
    go = later(
        session, server, "copies-cid", "GET", server.url + "/cookies", headers=headers, cookies=jar
    )
    headers["x-one"] = "2"
    jar.set("c", "2")
    seen = go()
    assert (seen["headers"]["X-One"], seen["cookies"]) == ("1", "c=1")


@pytest.mark.parametrize("kind", [dict, list])
def test_a_form_body_is_copied(
    session: FuturesSession, server: LoopbackServer, kind: type
) -> None:
    body = kind([("a", "1")])
    go = later(session, server, "copies-form", "POST", server.url + "/echo", data=body)
    if isinstance(body, dict):
        body["a"] = "2"
    else:
        body.append(("b", "2"))
    assert go()["body"] == "a=1"


def test_positional_arguments_are_copied_too(
    session: FuturesSession, server: LoopbackServer
) -> None:
    params = {"q": "1"}
    go = later(session, server, "copies-positional", "GET", server.url + "/echo", params)
    params["q"] = "2"
    assert go()["query"] == {"q": ["1"]}


def test_files_and_generators_are_taken_as_they_are(
    session: FuturesSession, server: LoopbackServer
) -> None:
    started = []

    def chunks() -> Iterator[bytes]:
        started.append(True)
        yield b"gen"

    stream = io.BytesIO(b"file")
    # Sent chunked, which the test server does not read: never reuse that connection.
    close = {"Connection": "close"}
    go = later(
        session, server, "copies-gen", "POST", server.url + "/echo", data=chunks(), headers=close
    )
    assert not started  # not read at the call, but in the worker
    go()
    assert started
    go = later(session, server, "copies-file", "POST", server.url + "/echo", data=stream)
    stream.seek(2)  # the caller's file object is the one sent: from where it is now
    assert go()["body"] == "le"


class Opaque:
    def __deepcopy__(self, memo: Any) -> Any:
        raise AssertionError("never copied: only containers are")


def test_only_containers_are_copied() -> None:
    odd = Opaque()
    _, kwargs = take_arguments(("POST", "u"), {"json": {"odd": odd, "t": (1, [2])}})
    assert kwargs["json"]["odd"] is odd
    assert kwargs["json"]["t"] == (1, [2])
    _, kwargs = take_arguments(("POST", "u"), {"json": odd, "data": "text", "headers": None})
    assert kwargs == {"json": odd, "data": "text", "headers": None}
    _, kwargs = take_arguments(("GET", "u"), {"params": {"odd": odd}})
    assert kwargs["params"]["odd"] is odd


def test_a_value_that_contains_itself_is_taken_as_it_is() -> None:
    loop: list[Any] = []
    loop.append(loop)
    _, kwargs = take_arguments(("POST", "u"), {"json": loop})
    assert kwargs["json"] is loop
