"""CallCheck raises, at the call, the TypeError the checked function would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from requests_futures._signature import CallCheck


def one(a: Any) -> None:
    pass


def two_defaults(a: Any, b: Any = 1, c: Any = 2) -> None:
    pass


def three_required(a: Any, b: Any, c: Any, *, key: Any = None) -> None:
    pass


def starred(a: Any, *rest: Any, key: Any = None) -> None:
    pass


def anything(*args: Any, **kwargs: Any) -> None:
    pass


class Thing:
    def method(self, a: Any, b: Any = None) -> None:
        pass


FUNCTIONS: list[Callable[..., Any]] = [
    one,
    two_defaults,
    three_required,
    starred,
    anything,
    Thing().method,
]

CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}),
    ((1,), {}),
    ((1, 2), {}),
    ((1, 2, 3), {}),
    ((1, 2, 3, 4), {}),
    ((), {"a": 1}),
    ((1,), {"a": 1}),
    ((1,), {"bogus": 1, "other": 2}),
    ((), {"b": 1}),
    ((), {"b": 1, "c": 2}),
    ((1,), {"key": 1}),
]


def _raised(function: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    try:
        function(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.__qualname__)
@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_the_check_says_what_the_call_would(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    expected = _raised(function, *args, **kwargs)
    assert _raised(CallCheck(function), args, kwargs) == expected


def test_a_callable_without_a_signature_accepts_anything() -> None:
    check = CallCheck(max)  # a builtin whose signature Python cannot tell
    check((), {"bogus": 1})
    check(tuple(range(30)), {})


REQUESTS_MISTAKES: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("GET", "http://x.invalid/"), {"bogus": 1}),
    (("GET", "http://x.invalid/"), {"timeout_s": 5, "bogus": 1}),
    (("GET",), {}),
    ((), {"url": "http://x.invalid/"}),
    ((), {}),
    (("GET", "http://x.invalid/"), {"url": "http://x.invalid/"}),
    (("GET", "http://x.invalid/", *[None] * 20), {}),
]


@pytest.mark.parametrize(("args", "kwargs"), REQUESTS_MISTAKES)
def test_the_check_of_session_request_says_what_requests_says(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    # Each call fails while Python binds its arguments, before requests runs.
    with requests.Session() as session:
        expected = _raised(session.request, *args, **kwargs)
        assert expected is not None
        assert _raised(CallCheck(session.request), args, kwargs) == expected
