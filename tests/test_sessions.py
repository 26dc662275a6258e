"""FuturesSession's call plumbing and construction, without a wire.

``responses`` patches ``HTTPAdapter.send`` for the whole process, so it also
answers the requests that worker threads make.  Everything that needs real
sockets (pools, concurrency, timeouts, closing) is in ``test_loopback.py``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import copy
import json
import pickle
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import pytest
import requests
import responses
import urllib3
from requests.adapters import DEFAULT_POOLSIZE, BaseAdapter, HTTPAdapter

from requests_futures import Future, FuturesSession
from requests_futures._pool_cache import PoolCache, open_file_budget

from .conftest import LONG, worker_threads

URL = "http://api.example.invalid/thing"


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def session() -> Iterator[FuturesSession]:
    with FuturesSession() as s:
        yield s


def _sent(mock: responses.RequestsMock, index: int = -1) -> requests.PreparedRequest:
    request = mock.calls[index].request
    assert isinstance(request, requests.PreparedRequest)
    return request


def _sent_kwargs(mock: responses.RequestsMock, index: int = -1) -> dict[str, Any]:
    kwargs: dict[str, Any] = mock.calls[index].request.req_kwargs  # type: ignore[attr-defined]
    return kwargs


# --- construction ----------------------------------------------------------


def test_default_executor_is_an_owned_pool_of_two_workers() -> None:
    with FuturesSession() as session:
        assert isinstance(session.executor, ThreadPoolExecutor)
        assert session.executor._max_workers == 2
        assert session.session is None


def test_max_workers_sizes_the_owned_pool() -> None:
    with FuturesSession(max_workers=5) as session:
        assert isinstance(session.executor, ThreadPoolExecutor)
        assert session.executor._max_workers == 5


@pytest.mark.parametrize(
    ("max_workers", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        ("2", TypeError),
        (True, TypeError),
        (2.5, TypeError),
        (None, TypeError),
    ],
)
def test_bad_max_workers_fails_at_construction(max_workers: Any, error: type[Exception]) -> None:
    before = set(worker_threads())
    with pytest.raises(error, match="max_workers"):
        FuturesSession(max_workers=max_workers)
    assert set(worker_threads()) == before


def test_max_workers_is_ignored_when_an_executor_is_given() -> None:
    with ThreadPoolExecutor(max_workers=3) as executor:
        session = FuturesSession(executor=executor, max_workers=0)
        assert session.executor is executor
        session.close()


@pytest.mark.parametrize("executor", [object(), ThreadPoolExecutor, "pool", 4])
def test_executor_that_is_not_an_executor_is_refused(executor: Any) -> None:
    with pytest.raises(TypeError, match=r"executor must be a concurrent\.futures\.Executor"):
        FuturesSession(executor=executor)


@pytest.mark.parametrize("supplied", [object(), requests.Session, {"headers": {}}])
def test_session_that_is_not_a_requests_session_is_refused(supplied: Any) -> None:
    with pytest.raises(TypeError, match=r"session must be a requests\.Session"):
        FuturesSession(session=supplied)


@pytest.mark.parametrize(
    ("timeout", "error"),
    [
        (0, ValueError),
        (-1, ValueError),
        (True, ValueError),
        ("5", ValueError),
        ((1, 2, 3), ValueError),
        ((1, -2), ValueError),
        ((0, 1), ValueError),
        (object(), ValueError),
    ],
)
def test_bad_timeout_fails_at_construction(timeout: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="timeout must be None"):
        FuturesSession(timeout=timeout)


@pytest.mark.parametrize("timeout", [None, 0.5, 3, (1, 2), (None, 2), (1, None)])
def test_good_timeouts_are_accepted(timeout: Any) -> None:
    with FuturesSession(timeout=timeout) as session:
        assert session.timeout == timeout


def test_extra_positional_and_keyword_arguments_reach_requests_session() -> None:
    with pytest.raises(TypeError):
        FuturesSession(None, 2, None, None, "surplus")
    with pytest.raises(TypeError):
        FuturesSession(bogus=1)


# --- verbs and arguments ---------------------------------------------------


@pytest.mark.parametrize("verb", ["get", "options", "head", "post", "put", "patch", "delete"])
def test_every_verb_returns_a_future_of_the_response(
    mock: responses.RequestsMock, session: FuturesSession, verb: str
) -> None:
    mock.add(verb.upper(), URL, body="" if verb == "head" else "ok", status=201)
    future = getattr(session, verb)(URL)
    assert isinstance(future, Future)
    assert isinstance(future, concurrent.futures.Future)
    response = future.result(timeout=LONG)
    assert isinstance(response, requests.Response)
    assert response.status_code == 201
    assert _sent(mock).method == verb.upper()


def test_request_takes_the_method_and_url(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("PROPFIND", URL, body="dav")
    response = session.request("PROPFIND", URL).result(timeout=LONG)
    assert response.text == "dav"
    assert _sent(mock).method == "PROPFIND"


def test_head_does_not_follow_redirects_by_default(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("HEAD", URL, status=302, headers={"Location": URL + "/moved"})
    mock.add("HEAD", URL + "/moved", status=200)
    response = session.head(URL).result(timeout=LONG)
    assert response.status_code == 302
    assert len(mock.calls) == 1
    followed = session.head(URL, allow_redirects=True).result(timeout=LONG)
    assert followed.status_code == 200
    assert [r.status_code for r in followed.history] == [302]


@pytest.mark.parametrize("verb", ["get", "options"])
def test_get_and_options_follow_redirects_by_default(
    mock: responses.RequestsMock, session: FuturesSession, verb: str
) -> None:
    # 307 keeps the method (a 302 turns everything but HEAD into GET).
    mock.add(verb.upper(), URL, status=307, headers={"Location": URL + "/moved"})
    mock.add(verb.upper(), URL + "/moved", status=200, body="here")
    response = getattr(session, verb)(URL).result(timeout=LONG)
    assert response.status_code == 200
    assert response.url == URL + "/moved"
    not_followed = getattr(session, verb)(URL, allow_redirects=False).result(timeout=LONG)
    assert not_followed.status_code == 307


def test_params_headers_and_cookies_reach_requests(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    session.get(
        URL, params={"q": "x y", "n": 2}, headers={"X-Test": "1"}, cookies={"c": "v"}
    ).result(timeout=LONG)
    sent = _sent(mock)
    assert sent.url == URL + "?q=x+y&n=2"
    assert sent.headers["X-Test"] == "1"
    assert sent.headers["Cookie"] == "c=v"


def test_data_reaches_requests(mock: responses.RequestsMock, session: FuturesSession) -> None:
    for verb in ("POST", "PUT", "PATCH"):
        mock.add(verb, URL)
    session.post(URL, data={"a": "1"}).result(timeout=LONG)
    session.put(URL, data=b"raw").result(timeout=LONG)
    session.patch(URL, data="text").result(timeout=LONG)
    assert [_sent(mock, i).body for i in range(3)] == ["a=1", b"raw", "text"]
    assert _sent(mock, 0).headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_json_reaches_requests(mock: responses.RequestsMock, session: FuturesSession) -> None:
    mock.add("POST", URL)
    session.post(URL, json={"k": [1, 2]}).result(timeout=LONG)
    sent = _sent(mock)
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body is not None
    assert json.loads(sent.body) == {"k": [1, 2]}


def test_auth_reaches_requests(mock: responses.RequestsMock, session: FuturesSession) -> None:
    mock.add("GET", URL)
    session.get(URL, auth=("user", "pass")).result(timeout=LONG)
    expected = "Basic " + base64.b64encode(b"user:pass").decode()
    assert _sent(mock).headers["Authorization"] == expected


def test_send_options_reach_the_adapter(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    session.get(URL, timeout=(1, 2), verify=False, stream=True).result(timeout=LONG)
    kwargs = _sent_kwargs(mock)
    assert kwargs["timeout"] == (1, 2)
    assert kwargs["verify"] is False
    assert kwargs["stream"] is True


def test_session_headers_auth_and_cookies_apply(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    session.headers["X-Session"] = "s"
    session.auth = ("u", "p")
    session.cookies.set("sc", "1")
    session.get(URL, cookies={"call": "2"}).result(timeout=LONG)
    sent = _sent(mock)
    assert sent.headers["X-Session"] == "s"
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert sorted(sent.headers["Cookie"].split("; ")) == ["call=2", "sc=1"]


def test_cookies_set_by_a_response_are_kept_by_the_session(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, headers={"Set-Cookie": "token=abc; Path=/"})
    mock.add("GET", URL + "/next")
    session.get(URL).result(timeout=LONG)
    session.get(URL + "/next").result(timeout=LONG)
    assert _sent(mock).headers["Cookie"] == "token=abc"


def _type_error(call: Any) -> str:
    with pytest.raises(TypeError) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize(
    "mistake",
    [
        lambda s: s.get(URL, bogus=1),
        lambda s: s.request("GET", URL, bogus=1),
        lambda s: s.post(URL, json={}, bogus=1),
        lambda s: s.request("GET", URL, *([None] * 20)),
        lambda s: s.request("GET"),
        lambda s: s.request(url=URL),
        lambda s: s.request("GET", URL, url=URL),
    ],
)
def test_argument_mistakes_raise_at_the_call_what_requests_raises(
    mistake: Any, mock: responses.RequestsMock, session: FuturesSession
) -> None:
    with requests.Session() as plain:
        expected = _type_error(lambda: mistake(plain))
    assert _type_error(lambda: mistake(session)) == expected
    assert len(mock.calls) == 0


def test_call_errors_submit_nothing(mock: responses.RequestsMock) -> None:
    with FuturesSession() as session:
        with pytest.raises(TypeError):
            session.get(URL, bogus=1)
        with pytest.raises(TypeError):
            session.get(URL, background_callback=42)
        assert session._pending == set()
    assert len(mock.calls) == 0


# --- background_callback ---------------------------------------------------


def test_callback_returning_none_leaves_the_response_as_result(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, json={"n": 1})
    seen: list[tuple[Any, Any]] = []

    def callback(sess: FuturesSession, response: requests.Response) -> None:
        seen.append((sess, response))
        response.data = response.json()  # type: ignore[attr-defined]

    response = session.get(URL, background_callback=callback).result(timeout=LONG)
    assert isinstance(response, requests.Response)
    assert seen == [(session, response)]
    assert response.data == {"n": 1}  # type: ignore[attr-defined]


def test_callback_return_value_becomes_the_result(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, json={"n": 1})
    future = session.get(URL, background_callback=lambda s, r: r.json()["n"] + 1)
    assert future.result(timeout=LONG) == 2


@pytest.mark.parametrize("value", [0, False, "", []])
def test_a_falsy_callback_value_other_than_none_is_still_the_result(
    mock: responses.RequestsMock, session: FuturesSession, value: Any
) -> None:
    mock.add("GET", URL)
    assert session.get(URL, background_callback=lambda s, r: value).result(timeout=LONG) == value


def test_callback_exception_surfaces_from_result(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)

    class Boom(Exception):
        pass

    def callback(sess: FuturesSession, response: requests.Response) -> None:
        raise Boom("in the worker")

    future = session.get(URL, background_callback=callback)
    with pytest.raises(Boom, match="in the worker"):
        future.result(timeout=LONG)


def test_callback_runs_in_a_worker_before_the_future_resolves(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    entered = threading.Event()
    proceed = threading.Event()
    threads: list[threading.Thread] = []

    def callback(sess: FuturesSession, response: requests.Response) -> str:
        threads.append(threading.current_thread())
        entered.set()
        assert proceed.wait(LONG)
        return "done"

    future = session.get(URL, background_callback=callback)
    assert entered.wait(LONG)
    assert not future.done()
    proceed.set()
    assert future.result(timeout=LONG) == "done"
    assert threads[0] is not threading.current_thread()
    assert threads[0] in worker_threads()


@pytest.mark.parametrize("verb", ["get", "options", "head", "post", "put", "patch", "delete"])
def test_every_verb_takes_a_background_callback(
    mock: responses.RequestsMock, session: FuturesSession, verb: str
) -> None:
    mock.add(verb.upper(), URL)
    future = getattr(session, verb)(URL, background_callback=lambda s, r: r.request.method)
    assert future.result(timeout=LONG) == verb.upper()


@pytest.mark.parametrize("callback", [42, "callback", object()])
def test_non_callable_callback_is_a_type_error_at_the_call(
    session: FuturesSession, callback: Any
) -> None:
    with pytest.raises(TypeError, match="background_callback must be callable"):
        session.get(URL, background_callback=callback)


def test_callback_does_not_run_when_the_request_fails(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, body=requests.ConnectionError("refused"))
    calls: list[object] = []
    future = session.get(URL, background_callback=lambda s, r: calls.append(r))
    with pytest.raises(requests.ConnectionError):
        future.result(timeout=LONG)
    assert calls == []


# --- hooks -----------------------------------------------------------------


def test_response_hook_on_the_call_runs_in_the_worker(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, json={"n": 3})
    threads: list[threading.Thread] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        threads.append(threading.current_thread())
        response.parsed = response.json()  # type: ignore[attr-defined]

    response = session.get(URL, hooks={"response": hook}).result(timeout=LONG)
    assert response.parsed == {"n": 3}  # type: ignore[attr-defined]
    assert len(threads) == 1
    assert threads[0] in worker_threads()


def test_response_hook_on_the_session_runs_in_the_worker(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    threads: list[threading.Thread] = []
    session.hooks["response"].append(lambda r, *a, **k: threads.append(threading.current_thread()))
    session.get(URL).result(timeout=LONG)
    assert len(threads) == 1
    assert threads[0] in worker_threads()


def test_hook_replacing_the_response_and_then_the_callback(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, body="original")
    replacement = requests.Response()
    replacement.status_code = 299
    order: list[str] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        order.append("hook")
        return replacement

    def callback(sess: FuturesSession, response: requests.Response) -> None:
        order.append("callback")
        assert response is replacement

    result = session.get(URL, hooks={"response": hook}, background_callback=callback)
    assert result.result(timeout=LONG) is replacement
    assert order == ["hook", "callback"]


def test_hook_exception_surfaces_from_result(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        raise LookupError("hook failed")

    with pytest.raises(LookupError, match="hook failed"):
        session.get(URL, hooks={"response": hook}).result(timeout=LONG)


# --- errors ----------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError("refused"),
        requests.Timeout("slow"),
        requests.ConnectTimeout("connect"),
        requests.ReadTimeout("read"),
        requests.exceptions.SSLError("tls"),
        requests.exceptions.ChunkedEncodingError("chunked"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transport_errors_come_out_of_result_unchanged(
    mock: responses.RequestsMock, session: FuturesSession, error: Exception
) -> None:
    mock.add("GET", URL, body=error)
    future = session.get(URL)
    with pytest.raises(type(error)) as raised:
        future.result(timeout=LONG)
    assert type(raised.value) is type(error)
    assert future.exception(timeout=LONG) is raised.value


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("api.example.invalid/no-scheme", requests.exceptions.MissingSchema),
        ("http://", requests.exceptions.InvalidURL),
        ("ftp://api.example.invalid/file", requests.exceptions.InvalidSchema),
        ("http://api.example.invalid:notaport/", requests.exceptions.InvalidURL),
    ],
)
def test_url_errors_come_out_of_result_as_requests_raises_them(
    mock: responses.RequestsMock, session: FuturesSession, url: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as plain:
        requests.Session().get(url)
    future = session.get(url)
    assert isinstance(future, Future)
    with pytest.raises(error) as raised:
        future.result(timeout=LONG)
    assert type(raised.value) is type(plain.value)
    assert len(mock.calls) == 0


def test_raise_for_status_works_on_the_result(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, status=503)
    response = session.get(URL).result(timeout=LONG)
    with pytest.raises(requests.HTTPError):
        response.raise_for_status()


# --- default timeout -------------------------------------------------------


def test_default_timeout_reaches_the_adapter(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL)
    with FuturesSession(timeout=7) as session:
        session.get(URL).result(timeout=LONG)
        session.get(URL, timeout=3).result(timeout=LONG)
        session.get(URL, timeout=None).result(timeout=LONG)
        # timeout given positionally: method, url, params, data, headers,
        # cookies, files, auth, timeout.
        session.request("GET", URL, None, None, None, None, None, None, 4).result(timeout=LONG)
    assert [_sent_kwargs(mock, i)["timeout"] for i in range(4)] == [7, 3, None, 4]


def test_a_urllib3_timeout_is_a_valid_default(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL)
    default = urllib3.Timeout(connect=2, read=5)
    with FuturesSession(timeout=default) as session:
        assert session.timeout is default
        session.get(URL).result(timeout=LONG)
    assert _sent_kwargs(mock)["timeout"] is default


def test_a_wrapped_futures_session_lends_its_default_timeout(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", URL)
    with (
        FuturesSession(timeout=7) as inner,
        FuturesSession(session=inner) as outer,
        FuturesSession(session=inner, timeout=3) as own,
        FuturesSession(session=FuturesSession(session=inner)) as twice,
    ):
        outer.get(URL).result(timeout=LONG)
        outer.get(URL, timeout=2).result(timeout=LONG)
        outer.request("GET", URL, None, None, None, None, None, None, 4).result(timeout=LONG)
        outer.send(outer.prepare_request(requests.Request("GET", URL))).result(timeout=LONG)
        own.get(URL).result(timeout=LONG)
        twice.get(URL).result(timeout=LONG)
        inner.timeout = None  # read per request, as the session's own is
        outer.get(URL).result(timeout=LONG)
    timeouts = [_sent_kwargs(mock, i)["timeout"] for i in range(7)]
    assert timeouts == [7, 2, 4, 7, 3, 7, None]


def test_session_is_resolved_again_when_replaced(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL)
    with FuturesSession(timeout=5) as inner, FuturesSession() as outer:
        outer.session = inner
        assert outer.session is inner
        outer.get(URL).result(timeout=LONG)
        outer.session = None
        outer.get(URL).result(timeout=LONG)
    assert [_sent_kwargs(mock, i)["timeout"] for i in range(2)] == [5, None]


def test_a_cycle_of_sessions_is_refused() -> None:
    with (
        FuturesSession() as first,
        FuturesSession(session=first) as second,
        pytest.raises(ValueError, match="cycle"),
    ):
        first.session = second


COPIES = pytest.mark.parametrize(
    "make",
    [copy.copy, lambda s: pickle.loads(pickle.dumps(s))],
    ids=["copy", "pickle"],
)


@COPIES
def test_a_copy_works_with_the_settings_and_its_own_executor(
    make: Any, mock: responses.RequestsMock
) -> None:
    mock.add("GET", URL)
    inner = requests.Session()
    inner.headers["X-Inner"] = "yes"
    with FuturesSession(max_workers=3, timeout=5, session=inner) as original:
        original.headers["X-Copied"] = "yes"  # not used: the calls go through inner
        duplicate = make(original)
        assert duplicate.executor is not original.executor
    with duplicate:
        assert duplicate.headers["X-Copied"] == "yes"
        assert duplicate.timeout == 5
        assert isinstance(duplicate.session, requests.Session)
        assert isinstance(duplicate.executor, ThreadPoolExecutor)
        assert duplicate.executor._max_workers == 3
        assert duplicate.get(URL).result(timeout=LONG).status_code == 200
        assert _sent(mock).headers["X-Inner"] == "yes"
        assert _sent_kwargs(mock)["timeout"] == 5
        prepared = duplicate.prepare_request(requests.Request("GET", URL))
        assert duplicate.send(prepared).result(timeout=LONG).status_code == 200
        assert [f.result(timeout=LONG).status_code for _, f in duplicate.map([URL])] == [200]
    assert len(mock.calls) == 3


@COPIES
def test_closing_a_copy_or_its_original_leaves_the_other_working(
    make: Any, mock: responses.RequestsMock
) -> None:
    mock.add("GET", URL)
    original = FuturesSession()
    first = make(original)
    first.close()
    assert original.get(URL).result(timeout=LONG).status_code == 200
    second = make(original)
    original.close()
    assert second.get(URL).result(timeout=LONG).status_code == 200
    third = make(original)  # a copy of a closed session is open, like a new one
    assert third.get(URL).result(timeout=LONG).status_code == 200
    second.close()
    third.close()
    with pytest.raises(RuntimeError, match="closed"):
        first.get(URL)


@COPIES
def test_a_copy_starts_no_thread_before_its_first_request(
    make: Any, mock: responses.RequestsMock
) -> None:
    mock.add("GET", URL)
    with ThreadPoolExecutor(max_workers=5) as supplied, FuturesSession(supplied) as original:
        original.get(URL).result(timeout=LONG)
        before = len(worker_threads())
        duplicate = make(original)
        with duplicate:
            assert duplicate.executor is not supplied
            assert duplicate.executor._max_workers == 5  # the supplied pool's size
            assert len(worker_threads()) == before
            duplicate.get(URL).result(timeout=LONG)
            assert len(worker_threads()) == before + 1
        assert not supplied._shutdown  # only the copy's own pool is shut down


def test_no_default_timeout_unless_asked(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL)
    session.get(URL).result(timeout=LONG)
    assert _sent_kwargs(mock)["timeout"] is None


# --- adapter_kwargs and pool sizing -----------------------------------------


def _pool_settings(adapter: HTTPAdapter) -> tuple[int, int, bool]:
    manager = adapter.poolmanager
    pools = manager.pools
    return (
        pools.size if isinstance(pools, PoolCache) else pools._maxsize,
        manager.connection_pool_kw["maxsize"],
        manager.connection_pool_kw["block"],
    )


def test_adapter_kwargs_apply_to_the_session_adapters_in_place() -> None:
    plain = requests.Session()
    originals = dict(plain.adapters)
    with FuturesSession(
        adapter_kwargs={
            "pool_connections": 3,
            "pool_maxsize": 7,
            "pool_block": True,
            "max_retries": 4,
        }
    ) as session:
        assert set(session.adapters) == set(originals)
        for adapter in session.adapters.values():
            assert isinstance(adapter, HTTPAdapter)
            assert _pool_settings(adapter) == (3, 7, True)
            assert adapter.max_retries.total == 4


def test_pools_grow_to_the_worker_count_past_the_default() -> None:
    with FuturesSession(max_workers=24) as session:
        adapter = session.get_adapter("http://api.example.invalid/")
        assert isinstance(adapter, HTTPAdapter)
        assert _pool_settings(adapter) == (max(open_file_budget(), 24), 24, False)


def test_pools_keep_requests_default_size_for_few_workers() -> None:
    # As many host pools as the open-file budget allows, each of requests' size.
    with FuturesSession(max_workers=4) as session:
        adapter = session.get_adapter("http://api.example.invalid/")
        assert isinstance(adapter, HTTPAdapter)
        assert _pool_settings(adapter) == (open_file_budget(), DEFAULT_POOLSIZE, False)


def test_pools_grow_for_a_supplied_thread_pool() -> None:
    with ThreadPoolExecutor(max_workers=16) as executor:
        session = FuturesSession(executor=executor)
        adapter = session.get_adapter("https://api.example.invalid/")
        assert isinstance(adapter, HTTPAdapter)
        assert _pool_settings(adapter) == (max(open_file_budget(), 16), 16, False)
        session.close()


def test_explicit_pool_maxsize_wins_over_the_worker_count() -> None:
    with FuturesSession(max_workers=24, adapter_kwargs={"pool_maxsize": 2}) as session:
        adapter = session.get_adapter("http://api.example.invalid/")
        assert isinstance(adapter, HTTPAdapter)
        assert _pool_settings(adapter) == (max(open_file_budget(), 24), 2, False)


class _TaggingAdapter(HTTPAdapter):
    """A custom adapter: adds a header to every request it sends."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.headers["X-Adapter"] = "custom"
        return super().send(request, *args, **kwargs)


def test_adapter_kwargs_keep_a_custom_adapter_of_a_supplied_session(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", URL)
    supplied = requests.Session()
    custom = _TaggingAdapter()
    supplied.mount("http://api.example.invalid/", custom)
    old_manager = custom.poolmanager
    with FuturesSession(
        session=supplied, adapter_kwargs={"pool_maxsize": 9, "max_retries": 2}
    ) as session:
        assert supplied.get_adapter(URL) is custom
        assert custom.poolmanager is not old_manager
        assert custom.poolmanager.connection_pool_kw["maxsize"] == 9
        assert custom.max_retries.total == 2
        # The plain adapters of the supplied session are configured too.
        other = supplied.get_adapter("https://elsewhere.invalid/")
        assert isinstance(other, HTTPAdapter)
        assert other.poolmanager.connection_pool_kw["maxsize"] == 9
        # ... and the session's own adapters, unused, are left alone.
        own = session.adapters["http://"]
        assert isinstance(own, HTTPAdapter)
        assert own.poolmanager.connection_pool_kw["maxsize"] == 10
        session.get(URL).result(timeout=LONG)
    assert _sent(mock).headers["X-Adapter"] == "custom"


def test_adapter_mounted_twice_is_configured_once() -> None:
    supplied = requests.Session()
    shared = HTTPAdapter()
    supplied.mount("http://a.invalid/", shared)
    supplied.mount("http://b.invalid/", shared)
    calls: list[tuple[Any, ...]] = []
    original = shared.init_poolmanager

    def counting(*args: Any, **kwargs: Any) -> None:
        calls.append((*args, kwargs))
        original(*args, **kwargs)

    shared.init_poolmanager = counting  # type: ignore[method-assign]
    FuturesSession(session=supplied, adapter_kwargs={"pool_maxsize": 5}).close()
    assert calls == [(open_file_budget(), 5, {"block": False})]


def test_unchanged_pool_settings_keep_the_pool_manager() -> None:
    supplied = requests.Session()
    adapter = supplied.get_adapter(URL)
    assert isinstance(adapter, HTTPAdapter)
    manager = adapter.poolmanager
    options = {"max_retries": 3, "pool_connections": DEFAULT_POOLSIZE}
    FuturesSession(session=supplied, adapter_kwargs=options).close()
    assert adapter.poolmanager is manager
    assert adapter.max_retries.total == 3


def test_non_http_adapters_are_left_alone() -> None:
    class Custom(BaseAdapter):
        def send(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

        def close(self) -> None:
            pass

    supplied = requests.Session()
    custom = Custom()
    supplied.mount("custom://", custom)
    FuturesSession(session=supplied, adapter_kwargs={"pool_maxsize": 5}).close()
    assert supplied.get_adapter("custom://x") is custom
    assert not hasattr(custom, "poolmanager")


def test_unknown_adapter_kwargs_key_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"adapter_kwargs.*pool_size"):
        FuturesSession(adapter_kwargs={"pool_size": 3})


# --- supplied session (plumbing) ---------------------------------------------


def test_supplied_session_makes_the_calls(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL)
    supplied = requests.Session()
    supplied.headers["X-Supplied"] = "yes"
    supplied.hooks["response"].append(lambda r, *a, **k: setattr(r, "hooked", True))
    with FuturesSession(session=supplied) as session:
        response = session.get(URL).result(timeout=LONG)
        assert session.session is supplied
    assert _sent(mock).headers["X-Supplied"] == "yes"
    assert response.hooked  # type: ignore[attr-defined]


def test_unknown_keyword_with_a_supplied_session_is_a_type_error() -> None:
    with FuturesSession(session=requests.Session()) as session, pytest.raises(TypeError):
        session.get(URL, bogus=1)


def test_supplied_session_taking_any_keyword_gets_them(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL)

    class Lenient(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> requests.Response:
            kwargs.pop("trace_id", None)
            return super().request(*args, **kwargs)

    with FuturesSession(session=Lenient()) as session:
        response = session.get(URL, trace_id="abc").result(timeout=LONG)
        assert response.status_code == 200
        many = session.request("GET", URL, *([None] * 7)).result(timeout=LONG)
        assert many.status_code == 200


def test_supplied_session_with_var_positional_checks_keywords_only(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", URL)

    class Positional(requests.Session):
        def request(  # type: ignore[override]
            self, method: str, url: str, *args: Any, allow_redirects: bool = True
        ) -> requests.Response:
            return super().request(method, url, allow_redirects=allow_redirects)

    with FuturesSession(session=Positional()) as session:
        assert session.get(URL).result(timeout=LONG).status_code == 200
        assert session.request("GET", URL, *([None] * 20)).result(timeout=LONG).ok
        with pytest.raises(TypeError, match="headers"):
            session.get(URL, headers={})


# --- send() ----------------------------------------------------------------


def test_send_returns_a_future_and_takes_a_callback(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", URL, body="sent")
    with FuturesSession(timeout=6) as session:
        prepared = session.prepare_request(requests.Request("GET", URL))
        future = session.send(prepared, background_callback=lambda s, r: r.text)
        assert isinstance(future, Future)
        assert future.result(timeout=LONG) == "sent"
        with pytest.raises(TypeError, match="background_callback must be callable"):
            session.send(prepared, background_callback=1)
    assert _sent_kwargs(mock)["timeout"] == 6


# --- executors and futures ----------------------------------------------------


class _InlineExecutor(Executor):
    """Runs each call at submission; returns futures of its own subclass."""

    class OwnFuture(concurrent.futures.Future[Any]):
        pass

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future = self.OwnFuture()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed to the future, like any executor
            future.set_exception(exc)
        return future


def test_any_executor_works_and_keeps_its_own_future_class(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL, body="inline")
    executor = _InlineExecutor()
    with FuturesSession(executor=executor) as session:
        future = session.get(URL)
        # Still of its own class (and the very object the executor made),
        # made awaitable by a class derived from it and ours.
        assert isinstance(future, _InlineExecutor.OwnFuture)
        assert isinstance(future, Future)
        assert future.result(timeout=0).text == "inline"
        adapter = session.get_adapter(URL)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 10


def test_futures_of_the_owned_pool_are_awaitable(
    mock: responses.RequestsMock, session: FuturesSession
) -> None:
    mock.add("GET", URL, body="awaited")

    async def main() -> str:
        response = await session.get(URL)
        return response.text

    assert asyncio.run(main()) == "awaited"


def test_pools_are_left_alone_when_the_worker_count_is_unknown() -> None:
    executor = ThreadPoolExecutor(max_workers=32)
    executor._max_workers = None  # type: ignore[assignment]  # an odd subclass
    with FuturesSession(executor=executor) as session:
        adapter = session.get_adapter(URL)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == 10
    executor.shutdown()


class _Counted(Executor):
    """An executor of another kind that tells its worker count, as the CLI's does."""

    def __init__(self, workers: object) -> None:
        self._max_workers = workers


@pytest.mark.parametrize(("workers", "maxsize"), [(16, 16), (True, 10), (0, 10), ("16", 10)])
def test_any_executor_that_tells_its_worker_count_sizes_the_pools(
    workers: object, maxsize: int
) -> None:
    with FuturesSession(executor=_Counted(workers)) as session:
        adapter = session.get_adapter(URL)
        assert isinstance(adapter, HTTPAdapter)
        assert adapter.poolmanager.connection_pool_kw["maxsize"] == maxsize


def test_map_is_the_batch_of_the_session(mock: responses.RequestsMock) -> None:
    mock.add("GET", URL, body="mapped")
    with FuturesSession() as session:
        pairs = list(session.map([URL, URL]))
    assert [(item, future.result(timeout=0).text) for item, future in pairs] == [
        (URL, "mapped"),
        (URL, "mapped"),
    ]


def test_method_and_url_may_be_keywords(mock: responses.RequestsMock) -> None:
    mock.add("PUT", URL)
    with FuturesSession(timeout=5) as session:
        response = session.request(method="PUT", url=URL).result(timeout=LONG)
        assert response.status_code == 200
        future = session.put(url=URL, data="body", background_callback=lambda s, r: r.url)
        assert future.result(timeout=LONG) == URL
    assert _sent_kwargs(mock, 0)["timeout"] == 5
    assert _sent(mock, 1).body == "body"


def test_callback_gets_the_futures_session_even_with_a_supplied_one(
    mock: responses.RequestsMock,
) -> None:
    mock.add("GET", URL)
    supplied = requests.Session()
    with FuturesSession(session=supplied) as session:
        got = session.get(URL, background_callback=lambda s, r: s).result(timeout=LONG)
    assert got is session
