"""The targets of the benchmark issue, checked on one run's numbers."""

from __future__ import annotations

import statistics
from typing import Any


def _rate(report: dict[str, Any], key: str, contender: str) -> float | None:
    scenario = report["scenarios"].get(key)
    if scenario is None:
        return None
    result = scenario["results"].get(contender)
    if not result or not result["runs"] or result["error"] or result["missing"]:
        return None
    return float(scenario["n"] / statistics.median(r["elapsed"] for r in result["runs"]))


def _ratio(report: dict[str, Any], key: str, ours: str, theirs: str) -> float | None:
    a, b = _rate(report, key, ours), _rate(report, key, theirs)
    return None if a is None or b is None else a / b


def _check(name: str, value: float | None, goal: float, detail: str) -> dict[str, Any]:
    if value is None:
        return {"name": name, "status": "n/a", "value": None, "detail": "not measured in this run"}
    status = "met" if value >= goal else "missed"
    return {"name": name, "status": status, "value": value, "detail": detail.format(value)}


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: its name, met / missed / n/a, the measured value."""
    out = [
        _check(
            "1 no cost for the future",
            _ratio(report, "B-C1", "futures", "sequential"),
            1.0,
            "FuturesSession(max_workers=1) at {:.2f}x sequential requests.Session (goal 1.00x)",
        ),
        _check(
            "2 faster than requests",
            _ratio(report, "B-C1", "futures", "sequential"),
            1.25,
            "FuturesSession at C=1 at {:.2f}x sequential requests.Session (goal 1.25x)",
        ),
        _check(
            "3 concurrency costs nothing",
            _ratio(report, "B-C8", "futures", "sequential"),
            1.0,
            "FuturesSession at C=8 at {:.2f}x sequential (goal 1.00x)",
        ),
    ]
    return out
