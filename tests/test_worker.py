"""Retries, decided in the worker by urllib3's ``Retry``, timed by the scheduler.

Each test checks what the future gives and what the server received; where
it matters, what plain ``requests`` does with the same ``Retry`` mounted on
its adapter.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from concurrent.futures import wait
from email.utils import formatdate
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProxyError,
    ResponseError,
    SSLError,
)
from urllib3.util import Retry

from requests_futures import FuturesSession
from requests_futures._scheduling.retries import _Answer, _as_requests_error

from .conftest import LONG
from .server import LoopbackServer

NO_WAIT = {"backoff_factor": 0, "status_forcelist": {503}}


def mounted(retry: Retry) -> requests.Session:
    """A plain requests.Session with ``retry`` on its adapters: what we match."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def test_retries_n_retries_a_503_and_counts_the_attempts(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, retries=3) as session:
        future = session.get(server.url + "/flaky/n/1")
        assert future.result(timeout=LONG).status_code == 200
    assert future.attempts == 2
    assert server.counters.hits["n"] == 2


def test_exhausted_on_a_status_the_last_response_is_the_result(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, retries=1) as session:
        future = session.get(server.url + "/status/500")
        assert future.result(timeout=LONG).status_code == 500
    assert future.attempts == 2
    assert server.counters.requests == 2


def test_exhausted_with_raise_on_status_raises_what_requests_raises(
    server: LoopbackServer,
) -> None:
    retry = Retry(total=1, raise_on_status=True, **NO_WAIT)
    url = server.url + "/status/503"
    with mounted(retry) as plain, pytest.raises(requests.RequestException) as theirs:
        plain.get(url, timeout=LONG)
    with FuturesSession(max_workers=2, retries=retry) as session:
        future = session.get(url)
        with pytest.raises(requests.exceptions.RetryError) as ours:
            future.result(timeout=LONG)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)
    assert future.attempts == 2
    assert server.counters.requests == 2 + 2


def test_a_post_is_not_retried(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=2, retries=3) as session:
        future = session.post(server.url + "/flaky/p/1", data=b"x")
        assert future.result(timeout=LONG).status_code == 503
    assert future.attempts == 1
    assert server.counters.hits["p"] == 1


def test_connection_refused_then_recovered() -> None:
    """The first connect is refused; the retry finds the server listening."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound, not listening: connects are refused
    port = listener.getsockname()[1]
    served: list[bytes] = []

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            served.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    class ListenOnRetry(Retry):
        def increment(self, *args: Any, **kwargs: Any) -> Retry:
            if not served and listener.fileno() != -1:
                listener.listen()
                threading.Thread(target=answer_once, daemon=True).start()
            return super().increment(*args, **kwargs)

    try:
        with FuturesSession(max_workers=1, retries=ListenOnRetry(connect=2, **NO_WAIT)) as s:
            future = s.get(f"http://127.0.0.1:{port}/")
            assert future.result(timeout=LONG).text == "ok"
        assert future.attempts == 2
        assert len(served) == 1
    finally:
        listener.close()


def test_connection_refused_exhausted_raises_what_requests_raises(refused_url: str) -> None:
    retry = Retry(total=1, **NO_WAIT)
    with mounted(retry) as plain, pytest.raises(requests.RequestException) as theirs:
        plain.get(refused_url, timeout=LONG)
    with FuturesSession(max_workers=1, retries=retry) as session:
        future = session.get(refused_url)
        with pytest.raises(requests.ConnectionError) as ours:
            future.result(timeout=LONG)
    assert type(ours.value) is type(theirs.value)
    assert isinstance(ours.value.args[0], MaxRetryError)
    assert str(ours.value).split(" (Caused by")[0] == str(theirs.value).split(" (Caused by")[0]
    assert future.attempts == 2


def test_a_read_timeout_is_retried_for_a_get_not_for_a_post(server: LoopbackServer) -> None:
    retry = Retry(total=2, **NO_WAIT)
    with FuturesSession(max_workers=2, retries=retry, timeout=(LONG, 0.2)) as session:
        get = session.get(server.url + "/flaky/g/1?ms=600")
        post = session.post(server.url + "/flaky/q/1?ms=600")
        assert get.result(timeout=LONG).status_code == 200
        with pytest.raises(requests.exceptions.ReadTimeout):
            post.result(timeout=LONG)
    assert (get.attempts, post.attempts) == (2, 1)
    assert server.counters.hits == {"g": 2, "q": 1}


@pytest.mark.waits
def test_retry_after_as_an_http_date_and_the_worker_stays_free(
    server: LoopbackServer, server_b: LoopbackServer
) -> None:
    """One worker: a request waiting ~1.5-2.5 s for its retry lets another run meanwhile."""
    when = formatdate(time.time() + 2.5, usegmt=True)  # whole seconds: 1.5-2.5 s away
    with FuturesSession(max_workers=1, retries=Retry(total=1, **NO_WAIT)) as session:
        waiting = session.get(server.url + "/flaky/d/1", params={"retry_after": when})
        # Not wait_in_flight: the 503 may have been answered before this thread looks.
        assert server.counters.wait_for_path("/flaky/d/1", LONG)
        other = session.get(server_b.url + "/echo")
        assert other.result(timeout=LONG).status_code == 200
        assert not waiting.done()
        assert waiting.result(timeout=LONG).status_code == 200
    first, second = server.counters.starts
    assert second - first > 0.7
    assert first < server_b.counters.starts[0] < second


def test_hooks_see_every_attempt_the_callback_only_the_final_one(
    server: LoopbackServer,
) -> None:
    hooked: list[int] = []
    called: list[int] = []

    def callback(session: FuturesSession, response: requests.Response) -> str:
        called.append(response.status_code)
        return "final"

    with FuturesSession(max_workers=2, retries=Retry(total=3, **NO_WAIT)) as session:
        session.hooks["response"].append(lambda r, **kw: hooked.append(r.status_code))
        future = session.get(server.url + "/flaky/h/2", background_callback=callback)
        assert future.result(timeout=LONG) == "final"
    assert hooked == [503, 503, 200]
    assert called == [200]
    assert future.attempts == 3


def test_a_retried_streamed_response_gives_its_connection_back(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1, retries=Retry(total=1, **NO_WAIT)) as session:
        future = session.get(server.url + "/flaky/s/1", stream=True)
        response = future.result(timeout=LONG)
        assert response.status_code == 200
        response.close()
    assert server.counters.connections == 1  # the 503's connection was reused


def test_a_retry_sends_a_file_body_again_from_where_it_started(server: LoopbackServer) -> None:
    """As urllib3 rewinds a body it retries: data=, files= and a prepared request's."""
    with FuturesSession(max_workers=2, retries=Retry(total=1, **NO_WAIT)) as session:
        data = io.BytesIO(b"skip:hello")
        data.seek(5)
        by_data = session.put(server.url + "/flaky/d/1", data=data)
        by_files = session.put(
            server.url + "/flaky/f/1", files={"f": ("f.txt", io.BytesIO(b"hello"))}
        )
        prepared = session.prepare_request(
            requests.Request("PUT", server.url + "/flaky/p/1", data=io.BytesIO(b"hello"))
        )
        by_send = session.send(prepared, timeout=LONG)
        bodies = [f.result(timeout=2 * LONG).json()["body"] for f in (by_data, by_files, by_send)]
    assert bodies[0] == bodies[2] == "hello"
    assert 'filename="f.txt"' in bodies[1] and "hello" in bodies[1]
    assert server.counters.requests == 6


def test_an_error_without_a_urllib3_cause_is_not_retried(server: LoopbackServer) -> None:
    def hook(response: requests.Response, **kwargs: Any) -> None:
        response.close()  # its body is not read yet: this frees the connection
        raise requests.ConnectionError("from a hook")

    with FuturesSession(max_workers=1, retries=3) as session:
        future = session.get(server.url + "/echo", hooks={"response": hook})
        with pytest.raises(requests.ConnectionError, match="from a hook"):
            future.result(timeout=LONG)
    assert future.attempts == 1


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (ConnectTimeoutError("slow"), requests.exceptions.ConnectTimeout),
        (NewConnectionError(None, "refused"), requests.exceptions.ConnectionError),  # type: ignore[arg-type]
        (ResponseError("too many 503"), requests.exceptions.RetryError),
        (ProxyError("proxy", OSError()), requests.exceptions.ProxyError),
        (SSLError("bad certificate"), requests.exceptions.SSLError),
        (OSError("other"), requests.exceptions.ConnectionError),
    ],
)
def test_exhausted_errors_map_as_the_adapter_maps_them(
    reason: Exception, expected: type[Exception]
) -> None:
    request = requests.Request("GET", "http://127.0.0.1/").prepare()
    error = _as_requests_error(MaxRetryError(None, "/", reason), request)  # type: ignore[arg-type]
    assert type(error) is expected
    assert error.request is request


def test_wait_returns_for_requests_that_end_in_retries(server: LoopbackServer) -> None:
    retry = Retry(total=1, raise_on_status=False, **NO_WAIT)
    with FuturesSession(max_workers=4, retries=retry) as session:
        futures = [session.get(server.url + "/status/503") for _ in range(8)]
        done, not_done = wait(futures, timeout=LONG)
    assert not not_done
    assert all(f.result().status_code == 503 and f.attempts == 2 for f in done)


def test_a_retry_that_ignores_retry_after_neither_waits_nor_pauses(
    server: LoopbackServer,
) -> None:
    retry = Retry(total=1, respect_retry_after_header=False, **NO_WAIT)
    with FuturesSession(max_workers=1, retries=retry) as session:
        future = session.get(server.url + "/flaky/i/1?retry_after=30")
        assert future.result(timeout=LONG).status_code == 200
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
    assert future.attempts == 2


def test_a_bad_retry_after_is_ignored(server: LoopbackServer) -> None:
    with FuturesSession(max_workers=1, retries=Retry(total=1, **NO_WAIT)) as session:
        retried = session.get(server.url + "/flaky/bad/1?retry_after=soon")
        assert retried.result(timeout=LONG).status_code == 200
        plain = session.get(server.url + "/status/503?retry_after=soon")
        with pytest.raises(requests.exceptions.RetryError):
            plain.result(timeout=LONG)
    with FuturesSession(max_workers=1, per_host=1) as session:
        answer = session.get(server.url + "/status/429?retry_after=soon").result(timeout=LONG)
        assert answer.status_code == 429
        assert session.get(server.url + "/echo").result(timeout=LONG).status_code == 200
    assert retried.attempts == 2


def test_a_redirect_shows_its_location_to_the_retry(server: LoopbackServer) -> None:
    response = requests.Response()
    response.status_code = 302
    response.headers["Location"] = "/elsewhere"
    assert _Answer(response).get_redirect_location() == "/elsewhere"
    response.status_code = 200
    assert _Answer(response).get_redirect_location() is False


def test_without_retries_a_transport_error_is_the_result(refused_url: str) -> None:
    with FuturesSession(max_workers=1, per_host=1) as session:
        future = session.get(refused_url)
        with pytest.raises(requests.ConnectionError):
            future.result(timeout=LONG)
    assert future.attempts == 1


def test_a_supplied_plain_session_makes_the_scheduled_calls(server: LoopbackServer) -> None:
    with requests.Session() as plain, FuturesSession(session=plain, per_host=1) as session:
        plain.headers["X-Plain"] = "yes"
        echoed = session.get(server.url + "/echo").result(timeout=LONG).json()
    assert echoed["headers"]["X-Plain"] == "yes"
