"""The benchmarks: scenario I (the ``/capacity`` route, targets, a smoke run) and J (targets).

The benchmarks assert no timing; these tests make sure that scenario I still
runs and that its measures and targets mean what docs/benchmarks.rst says.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import runner
from benchmarks.adaptive_trace import Sample, recovery
from benchmarks.server import Origin, Stats
from benchmarks.targets import evaluate


def _answers(*targets: str) -> tuple[list[tuple[str, float]], dict[str, int], int]:
    """Route ``targets`` in a running loop (none ends meanwhile): answers, stats, in hand."""
    stats = Stats()
    origin = Origin(stats)

    async def route() -> list[tuple[str, float]]:
        answers = [origin.route("GET", target) for target in targets]
        return [(answer.status.split()[0], answer.delay) for answer in answers]

    answers = asyncio.run(route())
    return answers, stats.as_dict(), origin.in_hand


def test_capacity_refuses_above_cap_at_once() -> None:
    answers, stats, _ = _answers(*["/capacity?cap=2&ms=1000"] * 3)
    assert answers == [("200", 1.0), ("200", 1.0), ("429", 0.0)]
    assert (stats["refused"], stats["busiest"], stats["held_p95_us"]) == (1, 2, 1_000_000)


def test_capacity_cores_queue_the_rest() -> None:
    answers, stats, in_hand = _answers(*["/capacity?cores=2&ms=10"] * 5)
    assert [delay for _, delay in answers] == pytest.approx([0.01, 0.01, 0.02, 0.02, 0.03])
    assert (stats["refused"], stats["busiest"], in_hand) == (0, 5, 5)
    assert stats["held_p95_us"] == 30_000


@pytest.mark.parametrize(
    "query", ["cap=0&ms=1", "cores=0&ms=1", "ms=-1", "cap=x", "cores=1.5&ms=1"]
)
def test_capacity_rejects_bad_parameters(query: str) -> None:
    answers, stats, in_hand = _answers(f"/capacity?{query}")
    assert answers == [("400", 0.0)]
    assert (stats["busiest"], in_hand) == (0, 0)


def test_capacity_releases_what_it_served() -> None:
    """An answered request leaves the host's hands: the cap admits the next one."""
    stats = Stats()
    origin = Origin(stats)

    async def route() -> list[str]:
        first = origin.route("GET", "/capacity?cap=1&ms=0").status
        refused = origin.route("GET", "/capacity?cap=1&ms=0").status
        for _ in range(100):  # the release is a loop callback: let the loop run it
            if origin.in_hand == 0:
                break
            await asyncio.sleep(0)
        return [first, refused, origin.route("GET", "/capacity?cap=1&ms=0").status]

    statuses = asyncio.run(route())
    assert [s.split()[0] for s in statuses] == ["200", "429", "200"]


def _report(i1: dict[str, Any], i2: dict[str, Any] | None = None) -> dict[str, Any]:
    scenarios = {"I1": {"n": 300, "c": 16, "results": i1}}
    if i2 is not None:
        scenarios["I2"] = {"n": 800, "c": 16, "results": i2}
    return {"scenarios": scenarios}


def _result(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"runs": list(runs), "error": None, "missing": None, "once": False}


def _targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"].split()[0]: t for t in evaluate(report)}


def _i1_run(share: float, failed: int) -> dict[str, Any]:
    return {"elapsed": 1.0, "refused_share": share, "failed": failed}


@pytest.mark.parametrize(
    ("runs", "status"),
    [
        ([(0.05, 0), (0.08, 0), (0.02, 0)], "met"),
        ([(0.05, 0), (0.12, 0), (0.02, 0)], "missed"),  # one run over 10%
        ([(0.01, 0), (0.01, 1), (0.01, 0)], "missed"),  # one request failed
    ],
)
def test_i1_target_holds_every_run(runs: list[tuple[float, int]], status: str) -> None:
    i1 = {
        "futures-adaptive": _result(*(_i1_run(s, f) for s, f in runs)),
        "futures-per-host-16": _result(_i1_run(0.6, 0)),
    }
    target = _targets(_report(i1))["I1"]
    assert target["status"] == status
    assert "fixed per_host=16: 60.0% 429" in target["detail"]


def _i2_run(elapsed: float, p95: float) -> dict[str, Any]:
    return {"elapsed": elapsed, "p95_ms": p95}


@pytest.mark.parametrize(
    ("ours", "status"),
    [
        (_i2_run(4.2, 40.0), "met"),  # 0.95x the best (per_host=4), p95 below 80 ms
        (_i2_run(5.0, 40.0), "missed"),  # 0.8x the best
        (_i2_run(4.2, 80.0), "missed"),  # p95 not below fixed 16's
    ],
)
def test_i2_target_against_the_best_fixed_limit(ours: dict[str, Any], status: str) -> None:
    i2 = {
        "futures-adaptive": _result(ours),
        "futures-per-host-3": _result(_i2_run(5.4, 20.0)),
        "futures-per-host-4": _result(_i2_run(4.0, 20.0)),
        "futures-per-host-16": _result(_i2_run(4.1, 80.0)),
    }
    target = _targets(_report({}, i2))["I2"]
    assert target["status"] == status
    assert "best fixed (futures-per-host-4)" in target["detail"]
    assert "some fixed limits not measured" in target["detail"]  # per_host=8 is not


def test_i_targets_not_measured_are_shown_as_such() -> None:
    targets = _targets({"scenarios": {}})
    assert [targets[k]["status"] for k in ("I1", "I2", "I3")] == ["n/a"] * 3


def test_scenario_i1_runs(tmp_path: Path) -> None:
    """A quick I1 run of ours, adaptive and at the host's capacity, end to end."""
    out = tmp_path / "i1.json"
    contenders = "futures-adaptive,futures-per-host-3"
    argv = ["--quick", "--scenario", "I1", "--contender", contenders, "--no-install"]
    assert runner.main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    results = report["scenarios"]["I1"]["results"]
    for name in contenders.split(","):
        assert results[name]["error"] is None
        (run,) = results[name]["runs"]
        assert run["failed"] == 0
        assert run["busiest"] == 3  # the host never held more than its capacity
        assert run["p95_ms"] == pytest.approx(10, abs=1)
    fixed = results["futures-per-host-3"]["runs"][0]
    assert (fixed["refused"], fixed["limit"]) == (0, 3)
    assert 1 <= results["futures-adaptive"]["runs"][0]["limit"] <= 16
    assert _targets(report)["I1"]["status"] in ("met", "missed")


def test_trace_counts_the_answers_recovery_took() -> None:
    samples = [Sample(0.5, 3, 3, 100), Sample(1.0, 3, 3, 120), Sample(1.5, 9, 9, 160)]
    assert recovery(samples, 0.8) == (
        "recovery: the limit reached 8 0.70 s and 40 answers after the host recovered"
    )
    assert recovery(samples[:2], 0.8) == "recovery: the limit never reached 8"


def test_job_urls_go_round_robin_over_the_spread_origins() -> None:
    from benchmarks.contenders import Job

    origins = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]
    job = Job(origins[0] + "/?delay_ms=2", 5, 2, 2, origins)
    assert set(job.urls()) == {origins[0] + "/?delay_ms=2"}
    job.spread = 2
    assert [url.split("/?")[0][-1] for url in job.urls()] == ["1", "2", "1", "2", "1"]


def _j_run(elapsed: float, cpu: float, connections: int, rss: float = 0.0) -> dict[str, Any]:
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "connections": connections,
        "rss_base_kib": 0.0,
        "rss_peak_kib": rss * 1024,
    }


@pytest.mark.parametrize(
    ("many", "per_host_mib", "statuses"),
    [
        (_j_run(1.3, 1.2, 1016), 50.0, ["met", "met", "met"]),
        (_j_run(1.6, 1.2, 1016), 50.0, ["missed", "met", "met"]),  # 0.63x the speed
        (_j_run(1.3, 1.4, 1016), 50.0, ["met", "missed", "met"]),  # 1.4x the CPU
        (_j_run(1.3, 1.2, 1017), 50.0, ["met", "missed", "met"]),  # one connection over
        (_j_run(1.3, 1.2, 1016), 51.0, ["met", "met", "missed"]),  # 31 MiB over
    ],
)
def test_j_targets(many: dict[str, Any], per_host_mib: float, statuses: list[str]) -> None:
    j = {"futures-one-origin": _result(_j_run(1.0, 1.0, 16)), "futures": _result(many)}
    per_host = {
        "futures": _result(_j_run(1.0, 1.0, 2000, 20.0)),
        "futures-crawl-per-host-2": _result(_j_run(1.0, 1.0, 2000, per_host_mib)),
    }
    report = {
        "scenarios": {
            "J": {"n": 10_000, "c": 16, "results": j},
            "J-per-host": {"n": 10_000, "c": 16, "results": per_host},
        }
    }
    targets = _targets(report)
    assert [targets[k]["status"] for k in ("J1", "J2", "J3")] == statuses
