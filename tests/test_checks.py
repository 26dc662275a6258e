"""Bad scheduling settings fail at construction, saying what to pass instead."""

from __future__ import annotations

import math
from typing import Any

import pytest
from urllib3.util import Retry

from requests_futures import FuturesSession
from requests_futures._checks import politeness
from requests_futures._scheduling.origins import Limits


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"per_host": 0}, ValueError, "per_host must be at least 1"),
        ({"per_host": -2}, ValueError, "per_host must be at least 1"),
        ({"per_host": 1.5}, TypeError, "per_host must be an int"),
        ({"per_host": "4"}, TypeError, "per_host must be an int"),
        ({"per_host": True}, TypeError, "per_host must be an int"),
        ({"rate": 0}, ValueError, "rate must be a finite number"),
        ({"rate": -1.0}, ValueError, "rate must be a finite number"),
        ({"rate": math.nan}, ValueError, "rate must be a finite number"),
        ({"rate": math.inf}, ValueError, "rate must be a finite number"),
        ({"rate": "10/s"}, TypeError, "rate must be a number of requests per second"),
        ({"rate": False}, TypeError, "rate must be a number"),
        ({"retries": -1}, ValueError, "retries must be 0 or more"),
        ({"retries": "3"}, TypeError, "retries must be an int"),
        ({"retries": 2.0}, TypeError, "retries must be an int"),
        ({"retries": True}, TypeError, "retries must be an int"),
        ({"host_limits": ["a.invalid"]}, TypeError, "host_limits must map a host name"),
        ({"host_limits": {"a.invalid": 1}}, TypeError, "host_limits must map"),
        ({"host_limits": {1: {"rate": 1}}}, TypeError, "host_limits must map"),
        ({"host_limits": {"a.invalid": {"burst": 1}}}, TypeError, r"unknown \['burst'\]"),
        ({"host_limits": {"a.invalid:81": {"rate": 1}}}, ValueError, "scheme://host:port"),
        ({"host_limits": {"http://": {"rate": 1}}}, ValueError, "neither a host name"),
        (
            {"host_limits": {"a.invalid": {"per_host": 0}}},
            ValueError,
            r"host_limits\['a.invalid'\]\['per_host'\] must be at least 1",
        ),
        (
            {"host_limits": {"a.invalid": {"rate": math.nan}}},
            ValueError,
            r"host_limits\['a.invalid'\]\['rate'\] must be a finite number",
        ),
    ],
)
def test_bad_values_raise_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FuturesSession(**options)


def test_nothing_set_schedules_nothing() -> None:
    assert politeness(None, None, None, None) is None
    assert politeness(None, None, None, {}) is None


def test_retries_n_is_the_bulk_policy_the_issue_gives() -> None:
    polite = politeness(None, None, 3, None)
    assert polite is not None
    retry = polite.retry
    assert retry is not None
    assert retry.total == 3
    assert retry.backoff_factor == 0.5
    assert set(retry.status_forcelist or ()) == {429, 500, 502, 503, 504}
    assert retry.respect_retry_after_header
    assert not retry.raise_on_status
    assert retry.allowed_methods == Retry.DEFAULT_ALLOWED_METHODS
    assert "POST" not in (retry.allowed_methods or ())


def test_retries_zero_still_schedules_and_a_retry_is_kept_as_given() -> None:
    zero = politeness(None, None, 0, None)
    assert zero is not None and zero.retry is not None and zero.retry.total == 0
    mine = Retry(total=1, raise_on_status=True)
    given = politeness(None, None, mine, None)
    assert given is not None and given.retry is mine


def test_host_limits_keys_and_defaults() -> None:
    polite = politeness(
        2,
        10,
        None,
        {
            "API.example.invalid": {"rate": 0.5},
            "https://api.example.invalid:8443": {"per_host": 1, "rate": None},
            "[::1]": {"per_host": 4},
        },
    )
    assert polite is not None
    assert polite.limits_for(("https", "api.example.invalid", 443)) == Limits(2, 0.5)
    assert polite.limits_for(("https", "api.example.invalid", 8443)) == Limits(1, None)
    assert polite.limits_for(("http", "::1", 80)) == Limits(4, 10.0)
    assert polite.limits_for(("http", "other.invalid", 80)) == Limits(2, 10.0)
