"""``--plot FILE.png``: one horizontal bar chart per scenario (needs matplotlib)."""

from __future__ import annotations

import math
import statistics
from typing import Any

from .contenders import CONTENDERS, HOL_SHARE

#: Our contenders (their names start with this), drawn in their own colour.
OURS = "futures"


def _value(scenario: dict[str, Any], runs: list[dict[str, Any]]) -> tuple[float, str]:
    """What a bar shows: req/s, MB/s, MiB above baseline, seconds asleep or 429 share."""
    elapsed = statistics.median(r["elapsed"] for r in runs)
    key = scenario["key"]
    if key.startswith("E"):
        above = statistics.median(r["rss_peak_kib"] - r["rss_base_kib"] for r in runs)
        return above / 1024, "peak RSS above baseline, MiB (lower is better)"
    if key == "C":
        return statistics.median(r["bytes"] for r in runs) / elapsed / 1e6, "MB/s"
    if key == "G2":
        asleep = statistics.median(r["asleep"] for r in runs)
        return asleep, "worker-seconds in time.sleep (lower is better)"
    if key == "I1":
        share = statistics.median(r["refused_share"] for r in runs)
        return 100 * share, "% of the server's answers 429 (lower is better)"
    if key == "G1":
        host_b = scenario["n"] - scenario["n"] // HOL_SHARE
        return host_b / statistics.median(r["b_elapsed"] for r in runs), "host B requests/s"
    return scenario["n"] / elapsed, "requests/s"


def plot(report: dict[str, Any], path: str) -> None:
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install -e '.[bench]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = [{"key": k, **v} for k, v in report["scenarios"].items()]
    columns = 2 if len(scenarios) > 1 else 1
    rows = math.ceil(len(scenarios) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(scenarios) :]:
        ax.axis("off")
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        labels, values, colours = [], [], []
        unit = ""
        for name, result in scenario["results"].items():
            labels.append(CONTENDERS[name].label)
            if result["runs"] and not result["error"] and not result["missing"]:
                value, unit = _value(scenario, result["runs"])
                values.append(value)
            else:
                values.append(0.0)
            colours.append("tab:blue" if name.startswith(OURS) else "tab:gray")
        positions = range(len(labels))
        ax.barh(positions, values, color=colours)
        ax.set_yticks(list(positions), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(unit, fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{scenario['title']}", fontsize=8)
        for position, result in enumerate(scenario["results"].values()):
            if result["missing"] or result["error"]:
                note = "missing" if result["missing"] else "failed / timed out"
                ax.text(0, position, f" {note}", va="center", fontsize=6)
    machine = report["machine"]
    figure.suptitle(
        f"requests-futures benchmarks: {machine['cores']} cores, {machine['cpu']}, "
        f"Python {machine['python']}, {machine['date']} (blue: FuturesSession)",
        fontsize=9,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(path, dpi=60, pil_kwargs={"optimize": True})
    plt.close(figure)
