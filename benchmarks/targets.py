"""The targets of the benchmark issue, checked on one run's numbers.

Every comparison is between contenders measured in the same run (and, but
for target 4's reference to scenario B, in the same scenario).  Targets 1-7
are the benchmark issue's; G1-G3 are issue 11's (polite scheduling; G3's goal
is issue 23's 0.97x); I1-I3 are issue 15's (adaptive per-host concurrency);
J1-J3 issue 24's (many origins); L1-L3 issue 20's (bodies read in one call;
L2 and L3 on scenarios C and H).
"""

from __future__ import annotations

import statistics
from typing import Any

from .contenders import FIXED_PER_HOST
from .scenarios.j_many_origins import ORIGINS as J_ORIGINS

#: Requests-based peers target 3 compares against.
REQUESTS_PEERS = ("threadpool", "rf110", "grequests")


def _result(report: dict[str, Any], key: str, contender: str) -> dict[str, Any] | None:
    scenario = report["scenarios"].get(key)
    if scenario is None:
        return None
    result: dict[str, Any] | None = scenario["results"].get(contender)
    if not result or not result["runs"] or result["error"] or result["missing"]:
        return None
    return result


def _median(report: dict[str, Any], key: str, contender: str, field: str) -> float | None:
    result = _result(report, key, contender)
    if result is None:
        return None
    return float(statistics.median(r[field] for r in result["runs"]))


def _best_ratio(report: dict[str, Any], key: str, field: str) -> float | None:
    """The hand-rolled pool's best ``field`` over ours, in scenario ``key``."""
    results = [_result(report, key, name) for name in ("threadpool", "futures")]
    if results[0] is None or results[1] is None:
        return None
    theirs, ours = (min(r[field] for r in result["runs"]) for result in results)
    return float(theirs / ours)


def _rate(report: dict[str, Any], key: str, contender: str) -> float | None:
    elapsed = _median(report, key, contender, "elapsed")
    return None if elapsed is None else report["scenarios"][key]["n"] / elapsed


def _ratio(report: dict[str, Any], key: str, ours: str, theirs: str) -> float | None:
    a, b = _rate(report, key, ours), _rate(report, key, theirs)
    return None if a is None or b is None else a / b


def _target(name: str, parts: list[tuple[str, float | None, float]]) -> dict[str, Any]:
    """``parts``: (what, measured ratio, goal); met when every measured one is."""
    measured = [(what, value, goal) for what, value, goal in parts if value is not None]
    if not measured:
        return {"name": name, "status": "n/a", "detail": "not measured in this run", "parts": []}
    met = all(value >= goal for _, value, goal in measured)
    detail = "; ".join(f"{what} {value:.2f}x (goal {goal:.2f}x)" for what, value, goal in measured)
    if len(measured) < len(parts):
        detail += "; some parts not measured"
    return {
        "name": name,
        "status": "met" if met else "missed",
        "detail": detail,
        "parts": [{"what": w, "value": v, "goal": g} for w, v, g in parts],
    }


def _kib_per_request(report: dict[str, Any], contender: str) -> float | None:
    peak = _median(report, "E-hold", contender, "rss_peak_kib")
    base = _median(report, "E-hold", contender, "rss_base_kib")
    if peak is None or base is None:
        return None
    return (peak - base) / report["scenarios"]["E-hold"]["n"]


def _pool(report: dict[str, Any], key: str) -> tuple[str, float | None, float]:
    """Target 6 for one scenario, as a ratio: (C + 5) / connections, 0 if warned."""
    connections = _median(report, key, "futures-executor", "connections")
    warnings = _median(report, key, "futures-executor", "pool_full")
    if connections is None or warnings is None:
        return (f"{key} supplied executor", None, 1.0)
    c = report["scenarios"][key]["c"]
    value = 0.0 if warnings else (c + 5) / max(connections, 1)
    what = f"{key}: {connections:.0f} connections for C={c}, {warnings:.0f} pool-full warnings;"
    return (what, value, 1.0)


def _faster_for_b(report: dict[str, Any], theirs: str) -> tuple[str, float | None, float]:
    ours = _median(report, "G1", "futures-polite-hol", "b_elapsed")
    other = _median(report, "G1", theirs, "b_elapsed")
    value = None if ours is None or other is None else other / ours
    return (f"host B's time, {theirs} / ours", value, 3.0)


def _never_asleep(report: dict[str, Any]) -> dict[str, Any]:
    """G2's target: our workers spend no time in ``time.sleep`` (theirs for reference)."""
    name = "G2 no worker sleeps (429 storm)"
    ours = _result(report, "G2", "futures-polite-storm")
    if ours is None:
        return {"name": name, "status": "n/a", "detail": "not measured in this run", "parts": []}
    asleep = max(r["asleep"] for r in ours["runs"])
    detail = f"ours {asleep:.2f} worker-s asleep at most (goal 0)"
    theirs = _median(report, "G2", "retry-storm", "asleep")
    if theirs is not None:
        detail += f"; Retry on the adapter {theirs:.1f} worker-s"
    # A worker that never calls time.sleep measures exactly 0.
    met = asleep == 0
    return {
        "name": name,
        "status": "met" if met else "missed",
        "detail": detail,
        "parts": [{"what": "worker-seconds asleep, ours", "value": asleep, "goal": 0.0}],
    }


#: Scenario I's contenders: ours adaptive, and ours with a fixed per_host.
ADAPTIVE = "futures-adaptive"
FIXED = tuple(f"futures-per-host-{n}" for n in FIXED_PER_HOST)


def _worst(report: dict[str, Any], key: str, contender: str, field: str) -> float | None:
    result = _result(report, key, contender)
    return None if result is None else float(max(r[field] for r in result["runs"]))


def _verdict(
    name: str, parts: list[tuple[str, float, float, bool]], detail: str
) -> dict[str, Any]:
    """``parts``: (what, measured, goal, whether it is met), all measured."""
    return {
        "name": name,
        "status": "met" if all(met for *_, met in parts) else "missed",
        "detail": detail,
        "parts": [{"what": w, "value": v, "goal": g} for w, v, g, _ in parts],
    }


def _not_measured(name: str) -> dict[str, Any]:
    return {"name": name, "status": "n/a", "detail": "not measured in this run", "parts": []}


def _few_overloads(report: dict[str, Any]) -> dict[str, Any]:
    """I1: under 10% of the server's answers 429, none failed, in every run of ours."""
    name = "I1 adaptive finds a hard capacity (under 10% 429s, none failed)"
    share = _worst(report, "I1", ADAPTIVE, "refused_share")
    failed = _worst(report, "I1", ADAPTIVE, "failed")
    if share is None or failed is None:
        return _not_measured(name)
    median = _median(report, "I1", ADAPTIVE, "refused_share")
    detail = (
        f"ours {share:.1%} of answers 429 in its worst run, median {median:.1%} (goal under "
        f"10%), {failed:.0f} failed (goal 0)"
    )
    fixed = _median(report, "I1", "futures-per-host-16", "refused_share")
    if fixed is not None:
        detail += f"; fixed per_host=16: {fixed:.1%} 429"
    return _verdict(
        name,
        [
            ("worst 429 share, ours", share, 0.10, share < 0.10),
            ("most failed requests, ours", failed, 0.0, failed == 0),
        ],
        detail,
    )


def _follows_queueing(report: dict[str, Any]) -> dict[str, Any]:
    """I2: >= 0.9x the best fixed per_host's throughput, p95 below fixed 16's."""
    name = "I2 adaptive follows a queueing host (>= 0.9x best fixed, p95 below fixed 16)"
    rates = {f: rate for f in FIXED if (rate := _rate(report, "I2", f)) is not None}
    ours = _rate(report, "I2", ADAPTIVE)
    p95 = _median(report, "I2", ADAPTIVE, "p95_ms")
    theirs = _median(report, "I2", "futures-per-host-16", "p95_ms")
    if ours is None or p95 is None or theirs is None or not rates:
        return _not_measured(name)
    best = max(rates, key=rates.__getitem__)
    share = ours / rates[best]
    detail = (
        f"ours / best fixed ({best}) {share:.2f}x (goal 0.90x); p95 ours {p95:.0f} ms, "
        f"fixed per_host=16 {theirs:.0f} ms (goal: lower)"
    )
    if len(rates) < len(FIXED):
        detail += "; some fixed limits not measured"
    return _verdict(
        name,
        [
            (f"throughput, ours / {best}", share, 0.9, share >= 0.9),
            ("p95 ms, ours (goal: below fixed 16's)", p95, theirs, p95 < theirs),
        ],
        detail,
    )


def _many_origins(report: dict[str, Any]) -> list[dict[str, Any]]:
    """J1-J3: scenario J against the same job on one origin, and J-per-host's memory."""
    one, many = "futures-one-origin", "futures"
    cpu_one = _median(report, "J", one, "cpu")
    cpu_many = _median(report, "J", many, "cpu")
    cpu = None if cpu_one is None or cpu_many is None else cpu_one / cpu_many
    connections = _median(report, "J", many, "connections")
    bound: float | None = None
    what = "connections: origins + workers / ours"
    if connections is not None:
        scenario = report["scenarios"]["J"]
        origins = J_ORIGINS
        bound = (origins + scenario["c"]) / max(connections, 1)
        what = f"{connections:.0f} connections; ({origins} origins + C={scenario['c']}) / that"
    rss: list[float | None] = []
    for contender in ("futures", "futures-crawl-per-host-2"):
        peak = _median(report, "J-per-host", contender, "rss_peak_kib")
        base = _median(report, "J-per-host", contender, "rss_base_kib")
        rss.append(None if peak is None or base is None else (peak - base) / 1024)
    plain, limited = rss
    memory: tuple[str, float | None, float] = ("J-per-host", None, 1.0)
    if plain is not None and limited is not None:
        delta = limited - plain
        memory = (
            f"per_host=2 {delta:+.1f} MiB over none; 30 MiB / that",
            30 / max(delta, 1e-9),
            1.0,
        )
    return [
        _target(
            "J1 many origins at one origin's speed (J)",
            [("req/s, 1,000 origins / one origin", _ratio(report, "J", many, one), 0.7)],
        ),
        _target(
            "J2 one connection per origin, CPU per request within 1.35x (J)",
            [(what, bound, 1.0), ("CPU per request, one origin / 1,000", cpu, 1 / 1.35)],
        ),
        _target("J3 per-origin state costs little memory (J-per-host)", [memory]),
    ]


def evaluate(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: met / missed / n/a, with the measured ratios."""
    c1_rate = _rate(report, "B-C1", "futures")
    latency: list[tuple[str, float | None, float]] = []
    for key in ("A-C128", "A-C512"):
        for peer in ("grequests", "niquests-async"):
            latency.append((f"{key} vs {peer}", _ratio(report, key, "futures", peer), 1.0))
        rate = _rate(report, key, "futures")
        own = None if rate is None or c1_rate is None else rate / c1_rate
        latency.append((f"{key} vs our B-C1 rate", own, 0.9))
    hold = _kib_per_request(report, "futures-hold")
    theirs = _kib_per_request(report, "rf110-hold")
    hold_part: tuple[str, float | None, float] = ("E-hold", None, 1.0)
    if hold is not None and theirs is not None:
        what = (
            f"E-hold: ours {hold:.2f} KiB, 1.1.0 {theirs:.2f} KiB per held request; 1.1.0 / ours"
        )
        hold_part = (what, theirs / max(hold, 1e-9), 1.0)
    map_peak = _median(report, "E-map", "futures-map", "rss_peak_kib")
    map_base = _median(report, "E-map", "futures-map", "rss_base_kib")
    map_part: tuple[str, float | None, float] = ("E-map", None, 1.0)
    if map_peak is not None and map_base is not None:
        above = max(map_peak - map_base, 1.0) / 1024
        map_part = (f"E-map: {above:.1f} MiB above baseline; 30 MiB / that", 30 / above, 1.0)
    return [
        _target(
            "1 no cost for the future (B, C=1)",
            [
                (
                    "FuturesSession(max_workers=1) / sequential",
                    _ratio(report, "B-C1", "futures", "sequential"),
                    1.0,
                )
            ],
        ),
        _target(
            "2 faster than requests itself (B, C=1)",
            [
                (
                    "FuturesSession / sequential",
                    _ratio(report, "B-C1", "futures", "sequential"),
                    1.25,
                )
            ],
        ),
        _target(
            "3 concurrency costs nothing (B, C=8)",
            [("FuturesSession / sequential", _ratio(report, "B-C8", "futures", "sequential"), 1.0)]
            + [
                (f"FuturesSession / {peer}", _ratio(report, "B-C8", "futures", peer), 1.0)
                for peer in REQUESTS_PEERS
            ],
        ),
        _target("4 latency-bound (A, C=128 and 512)", latency),
        _target(
            "5 bulk (C)",
            [
                (
                    "FuturesSession / hand-rolled pool",
                    _ratio(report, "C", "futures", "threadpool"),
                    1.0,
                )
            ],
        ),
        _target(
            "6 pool churn (D, A; supplied executor)",
            [_pool(report, key) for key in ("D", "A-C16", "A-C128", "A-C512")],
        ),
        _target(
            "7 memory (E)",
            [hold_part, map_part],
        ),
        _target(
            "G1 no head-of-line blocking (polite)",
            [
                _faster_for_b(report, "ratelimiter-hol"),
                _faster_for_b(report, "retry-hol"),
            ],
        ),
        _never_asleep(report),
        _target(
            "G3 limits that never bind cost nothing",
            [
                (
                    "FuturesSession per_host=C / no limits",
                    _ratio(report, "G3", "futures-polite-idle", "futures-polite-off"),
                    0.97,
                ),
                (
                    "FuturesSession per_host=C, rate, retries / no limits",
                    _ratio(report, "G3", "futures-polite-all", "futures-polite-off"),
                    0.97,
                ),
            ],
        ),
        _few_overloads(report),
        _follows_queueing(report),
        _target(
            "L1 8 threads read 1 MiB bodies (L, best runs)",
            [
                (
                    "hand-rolled pool / FuturesSession, wall",
                    _best_ratio(report, "L", "elapsed"),
                    2.0,
                ),
                ("hand-rolled pool / FuturesSession, CPU", _best_ratio(report, "L", "cpu"), 2.0),
            ],
        ),
        _target(
            "L2 bulk bodies (C, issue 20)",
            [
                (
                    "FuturesSession / hand-rolled pool",
                    _ratio(report, "C", "futures", "threadpool"),
                    3.0,
                ),
                ("FuturesSession / sequential", _ratio(report, "C", "futures", "sequential"), 1.3),
            ],
        ),
        _target(
            "L3 downloads (H, issue 20)",
            [
                ("fetch --save / curl", _ratio(report, "H", "cli-save", "curl-parallel"), 0.8),
                (
                    "fetch --save / hand-rolled pool",
                    _ratio(report, "H", "cli-save", "threadpool-save"),
                    1.5,
                ),
            ],
        ),
        _target(
            "I3 adapting costs nothing (healthy host)",
            [
                (
                    "adaptive / fixed per_host=16",
                    _ratio(report, "I3", ADAPTIVE, "futures-per-host-16"),
                    0.95,
                )
            ],
        ),
        *_many_origins(report),
    ]
