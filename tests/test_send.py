"""``FuturesSession.send``: a prepared request in, a future of its response out."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from requests import PreparedRequest, Request, Response, Session
from requests.auth import HTTPDigestAuth

from requests_futures import Future, FuturesSession

from .conftest import LONG, SHORT
from .server import LoopbackServer


def _prepared_post(session: Session, url: str) -> PreparedRequest:
    return session.prepare_request(Request("POST", url, data=b"the body"))


@pytest.mark.parametrize("status", [302, 303, 307])
def test_prepared_post_follows_a_redirect_as_requests_does(
    server: LoopbackServer, status: int
) -> None:
    url = f"{server.url}/redirect-to?url=/echo&status={status}"
    with Session() as plain:
        expected = plain.send(_prepared_post(plain, url))
    server.counters.reset()
    with FuturesSession() as session:
        future = session.send(_prepared_post(session, url))
        assert isinstance(future, Future)
        response = future.result(timeout=LONG)
    assert isinstance(response, Response)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [status]
    # 302 and 303 turn the POST into a body-less GET; 307 keeps both.
    assert response.json()["method"] == expected.json()["method"]
    assert response.json()["body"] == expected.json()["body"]
    assert (response.json()["method"], response.json()["body"]) == (
        ("POST", "the body") if status == 307 else ("GET", "")
    )
    assert server.counters.paths == ["/redirect-to", "/echo"]


class _RecordingSession(FuturesSession):
    """Records the type of every response requests' redirect logic is handed."""

    seen: list[type]

    def get_redirect_target(self, resp: Response) -> str | None:
        self.seen.append(type(resp))
        return super().get_redirect_target(resp)


@pytest.mark.parametrize("verb", ["request", "send"])
def test_requests_internals_never_receive_a_future(server: LoopbackServer, verb: str) -> None:
    with _RecordingSession() as session:
        session.seen = []
        url = server.url + "/redirect/3"
        if verb == "send":
            future = session.send(session.prepare_request(Request("GET", url)))
        else:
            future = session.get(url)
        response = future.result(timeout=LONG)
    assert len(response.history) == 3
    assert session.seen  # the redirect logic did run, in the worker
    assert set(session.seen) == {Response}


def test_hooks_run_in_the_worker_on_responses(server: LoopbackServer) -> None:
    hooked: list[object] = []

    def hook(response: Response, **kwargs: Any) -> None:
        hooked.append(response)

    with FuturesSession() as session:
        session.hooks["response"].append(hook)
        prepared = session.prepare_request(Request("GET", server.url + "/redirect/2"))
        response = session.send(prepared).result(timeout=LONG)
    assert len(hooked) == 3  # two redirects and the final answer
    assert all(isinstance(r, Response) for r in hooked)
    assert hooked[-1] is response


@pytest.mark.parametrize("verb", ["request", "send"])
def test_digest_auth_answers_its_challenge_in_the_worker(
    server: LoopbackServer, verb: str
) -> None:
    # HTTPDigestAuth keeps per-thread state: for send() it was set up in this
    # thread, while preparing, and its hook answers the 401 in the worker.
    url = server.url + "/digest/alice/secret"
    hooked: list[object] = []
    with FuturesSession() as session:
        session.auth = HTTPDigestAuth("alice", "secret")
        session.hooks["response"].append(lambda r, **kwargs: hooked.append(r))
        if verb == "send":
            prepared = session.prepare_request(Request("GET", url))
            hooks = {event: list(hooks) for event, hooks in prepared.hooks.items()}
            future = session.send(prepared)
        else:
            future = session.get(url)
        response = future.result(timeout=LONG)
    if verb == "send":
        assert prepared.hooks == hooks  # the caller's request is left as it was
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [401]
    assert response.json()["headers"]["Authorization"].startswith("Digest ")
    assert [r.status_code for r in hooked if isinstance(r, Response)] == [200]


def test_digest_auth_across_a_redirect_with_send(server: LoopbackServer) -> None:
    # The hooks run once per hop: the state is carried over once, then kept.
    url = server.url + "/redirect-to?url=/digest/alice/secret"
    with FuturesSession() as session:
        prepared = session.prepare_request(
            Request("GET", url, auth=HTTPDigestAuth("alice", "secret"))
        )
        response = session.send(prepared).result(timeout=LONG)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [302]  # as requests reports it
    assert server.counters.paths == [
        "/redirect-to",
        "/digest/alice/secret",  # the challenge
        "/digest/alice/secret",  # the answer
    ]


def test_digest_auth_with_the_wrong_password_gives_the_401(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        prepared = session.prepare_request(
            Request("GET", server.url + "/digest/alice/secret", auth=HTTPDigestAuth("alice", "x"))
        )
        response = session.send(prepared).result(timeout=LONG)
    assert response.status_code == 401
    assert server.counters.requests == 2  # the challenge, then one wrong answer


def test_basic_auth_survives_a_same_host_redirect(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        session.auth = ("alice", "secret")
        prepared = session.prepare_request(Request("GET", server.url + "/redirect/1"))
        response = session.send(prepared).result(timeout=LONG)
    assert response.json()["headers"]["Authorization"].startswith("Basic ")


def test_background_callback_on_send(server: LoopbackServer) -> None:
    def callback(session: FuturesSession, response: Response) -> int:
        assert isinstance(response, Response)
        return len(response.history)

    with FuturesSession() as session:
        prepared = session.prepare_request(Request("GET", server.url + "/redirect/2"))
        future = session.send(prepared, background_callback=callback)
        assert future.result(timeout=LONG) == 2


@pytest.mark.waits
def test_send_applies_the_session_timeout(server: LoopbackServer) -> None:
    with FuturesSession(timeout=SHORT) as session:
        prepared = session.prepare_request(Request("GET", server.url + "/hold/timeout"))
        future = session.send(prepared)
        with pytest.raises(requests.ReadTimeout):
            future.result(timeout=LONG)
        server.release("timeout")
        # An explicit timeout still wins over the session's.
        prepared = session.prepare_request(Request("GET", server.url + "/delay?ms=600"))
        assert session.send(prepared, timeout=LONG).result(timeout=LONG).status_code == 200


def test_send_rejects_bad_arguments_at_the_call(server: LoopbackServer) -> None:
    with FuturesSession() as session:
        with pytest.raises(ValueError) as info:
            session.send(Request("GET", server.url))  # type: ignore[arg-type]
        assert str(info.value) == "You can only send PreparedRequests."  # requests' own words
        prepared = session.prepare_request(Request("GET", server.url))
        with pytest.raises(TypeError, match="background_callback"):
            session.send(prepared, background_callback=42)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="closed"):
        session.send(prepared)
    assert server.counters.requests == 0


def test_send_through_a_supplied_session(server: LoopbackServer) -> None:
    with Session() as plain, FuturesSession(session=plain) as session:
        plain.headers["X-Plain"] = "yes"
        prepared = plain.prepare_request(Request("POST", server.url + "/redirect/1", json={}))
        response = session.send(prepared).result(timeout=LONG)
    assert response.json()["headers"]["X-Plain"] == "yes"
    assert len(response.history) == 1


@pytest.mark.parametrize("verb", ["get", "send"])
def test_a_futures_session_given_as_session_runs_synchronously(
    server: LoopbackServer, verb: str
) -> None:
    # The inner session's settings apply, and the outer future holds a
    # Response, not a future of the inner session's executor.
    with FuturesSession() as inner, FuturesSession(session=inner) as outer:
        inner.headers["X-Inner"] = "yes"
        url = server.url + "/redirect/1"
        if verb == "send":
            future = outer.send(inner.prepare_request(Request("GET", url)))
        else:
            future = outer.get(url)
        response = future.result(timeout=LONG)
    assert isinstance(response, Response)
    assert response.json()["headers"]["X-Inner"] == "yes"
    assert len(response.history) == 1


def test_a_chain_of_wrapped_sessions_runs_through_the_innermost(server: LoopbackServer) -> None:
    with (
        Session() as plain,
        FuturesSession(session=plain) as middle,
        FuturesSession(session=middle) as outer,
    ):
        plain.headers["X-Plain"] = "yes"
        response = outer.get(server.url + "/echo").result(timeout=LONG)
    assert isinstance(response, Response)
    assert response.json()["headers"]["X-Plain"] == "yes"


class _PicklingExecutor(ThreadPoolExecutor):
    """Runs each task from a pickled copy, as a process pool would."""

    def submit(  # type: ignore[override]
        self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        return super().submit(_run_pickled, pickle.dumps((fn, args, kwargs)))


def _run_pickled(payload: bytes) -> Any:
    fn, args, kwargs = pickle.loads(payload)
    return fn(*args, **kwargs)


@pytest.mark.parametrize("verb", ["get", "send"])
def test_the_submitted_call_still_works_from_a_pickled_copy(
    server: LoopbackServer, verb: str
) -> None:
    with _PicklingExecutor(max_workers=2) as executor, FuturesSession(executor) as session:
        session.headers["X-Copied"] = "yes"
        url = server.url + "/redirect/2"
        if verb == "send":
            future = session.send(session.prepare_request(Request("GET", url)))
        else:
            future = session.get(url)
        response = future.result(timeout=LONG)
    assert isinstance(response, Response)
    assert len(response.history) == 2
    assert response.json()["headers"]["X-Copied"] == "yes"
