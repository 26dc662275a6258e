"""Run the scenarios: the server, peers, one process per contender run, tables."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.client import HTTPConnection
from typing import Any

from . import _system
from .contenders import CACHE, CONTENDERS, PEERS, peer_folder
from .scenarios import Scenario, load, select

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Longest one contender run may take with --quick (s) before it is stopped
#: and shown as timed out, so that the whole run stays within a few minutes; the
#: full run uses each scenario's own limit.
QUICK_RUN_TIMEOUT = 8.0
#: See run_scenario: how many times slower than the first round's median is
#: run only once.
SLOW = 5.0


# --- the server ---------------------------------------------------------------------------


class Server:
    """The benchmark server in its own process: its main ports, and its control port."""

    def __init__(self, origins: int = 2) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.server", "--origins", str(origins)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server did not start")
        ports = json.loads(line)
        self.port: int = ports["port"]
        self.control_port: int = ports["control_port"]
        self.url = f"http://127.0.0.1:{self.port}"
        #: One URL per main port: distinct origins that answer alike.
        self.origins = [f"http://127.0.0.1:{port}" for port in ports["ports"]]

    def _control(self, path: str) -> dict[str, int]:
        connection = HTTPConnection("127.0.0.1", self.control_port, timeout=10)
        try:
            connection.request("GET", path)
            result: dict[str, int] = json.loads(connection.getresponse().read())
            return result
        finally:
            connection.close()

    def reset(self) -> None:
        self._control("/reset")

    def stats(self) -> dict[str, int]:
        return self._control("/stats")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the server stops at the end of its stdin
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        finally:
            assert self.process.stdout is not None
            self.process.stdout.close()


@contextmanager
def running_server(origins: int = 2) -> Iterator[Server]:
    server = Server(origins)
    try:
        yield server
    finally:
        server.stop()


# --- peers --------------------------------------------------------------------------------


def _contender_env() -> dict[str, str]:
    """The environment of every contender: the suite's, minus proxy and CA settings.

    Every client must talk straight to the loopback server, and all of them
    get the same environment to read (requests reads it on every request).
    The CA-bundle variables go too, as on most machines: where they are set,
    requests passes the path as ``verify`` and checks it with ``isdir`` on
    every request, plain HTTP included, which is not what is measured here.
    """
    unset = {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    env = {
        k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k not in unset
    }
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _importable(peer: str) -> bool:
    """Whether a contender process can import ``peer`` (as it would)."""
    module = PEERS[peer][1]
    code = f"import sys; sys.path.insert(0, {peer_folder(peer)!r}); import {module}"
    if peer == "rf110":
        code += f"; assert {module}.__version__ == '1.1.0', {module}.__version__"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=_contender_env(), capture_output=True
    )
    return done.returncode == 0


def ensure_peers(peers: set[str], install: bool) -> dict[str, str]:
    """Make each peer importable (installing into .bench-cache/ if allowed).

    :returns: the peers that remain missing, with the reason.
    """
    missing: dict[str, str] = {}
    for peer in sorted(peers):
        if _importable(peer):
            continue
        if not install:
            missing[peer] = "not installed"
            continue
        requirement = PEERS[peer][0]
        target = peer_folder(peer)
        os.makedirs(CACHE, exist_ok=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--upgrade"]
        command += ["--target", target]
        if peer == "rf110":
            command.append("--no-deps")  # its only dependency is requests: the same as ours
        print(f"installing {requirement} into {os.path.relpath(target, ROOT)}/", flush=True)
        done = subprocess.run([*command, requirement], capture_output=True, text=True)
        if done.returncode != 0 or not _importable(peer):
            reason = (done.stderr.strip().splitlines() or ["import failed"])[-1]
            missing[peer] = f"could not install: {reason[:120]}"
    return missing


def versions(peers: set[str]) -> dict[str, str]:
    """Versions of requests, urllib3, this repository and each installed peer."""
    code = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "import requests_futures\n"
        "out = {n: metadata.version(n) for n in ('requests', 'urllib3')}\n"
        "out['requests-futures (this repository)'] = requests_futures.__version__\n"
        "for peer, folder, name in json.loads(sys.argv[1]):\n"
        "    found = list(metadata.distributions(name=name, path=[folder, *sys.path]))\n"
        "    out[peer] = found[0].version if found else 'missing'\n"
        "print(json.dumps(out))\n"
    )
    listed = [
        (PEERS[p][0].split("=")[0], peer_folder(p), PEERS[p][0].split("=")[0])
        for p in sorted(peers)
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(listed)],
        cwd=ROOT,
        env=_contender_env(),
        capture_output=True,
        text=True,
    )
    found: dict[str, str] = json.loads(done.stdout) if done.returncode == 0 else {}
    return found


# --- runs ---------------------------------------------------------------------------------


@dataclass
class Result:
    """Every run of one contender in one scenario."""

    contender: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    missing: str | None = None
    error: str | None = None
    once: bool = False  # run once only: far slower than the fastest
    best: bool = False  # shown by its best run (Scenario.best), not the median

    def median(self, key: str) -> float:
        """The median of ``key`` over the runs, or the lowest with ``best``."""
        values = [r[key] for r in self.runs]
        return min(values) if self.best else statistics.median(values)

    @property
    def ok(self) -> bool:
        return bool(self.runs) and self.missing is None and self.error is None


def run_contender(
    server: Server, scenario: Scenario, name: str, n: int, timeout: float
) -> dict[str, Any]:
    """One run in a fresh process; the measures, plus what the server saw."""
    spec = {
        "contender": name,
        "url": server.url + scenario.path,
        "origins": server.origins[: max(2, scenario.origins)],
        "spread": scenario.origins,
        "n": n,
        "c": scenario.c,
        "size": scenario.size,
    }
    server.reset()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.contenders", json.dumps(spec)],
        cwd=ROOT,
        env=_contender_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise RuntimeError(lines[-1])
    measures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # Let the server see the client's connections close before counting.
    time.sleep(0.05)
    stats = server.stats()
    measures["connections"] = stats["connections"]
    measures["served"] = stats["requests"]
    measures["refused"] = stats["refused"]
    measures["early"] = stats["early"]
    measures["busiest"] = stats["busiest"]
    measures["max_open"] = stats["max_open"]
    measures["refused_share"] = stats["refused"] / stats["requests"] if stats["requests"] else 0.0
    measures["p95_ms"] = stats["held_p95_us"] / 1000
    if measures["bad"] or measures["responses"] != n:
        raise RuntimeError(f"{measures['responses']} of {n} responses; bad: {measures['bad']}")
    return measures


def run_scenario(
    server: Server,
    scenario: Scenario,
    runs: int,
    quick: bool,
    missing: dict[str, str],
) -> list[Result]:
    """All contenders, ``runs`` rounds; each round in a rotated order."""
    n = scenario.quick_n if quick else scenario.n
    results = {name: Result(name, best=scenario.best) for name in scenario.contenders}
    for name, result in results.items():
        peer = CONTENDERS[name].peer
        program = CONTENDERS[name].program
        if peer in missing:
            result.missing = missing[peer]
        elif program is not None and shutil.which(program) is None:
            result.missing = f"{program} is not installed"
    names = [r.contender for r in results.values() if r.missing is None]
    for round_ in range(runs):
        shift = round_ % len(names) if names else 0
        if round_ == 1:
            # A contender over SLOW times the median of the first round is not
            # run again: its one run tells all, and the full run stays short.
            times = [r.runs[0]["elapsed"] for r in results.values() if r.runs]
            for result in results.values():
                if result.runs and result.runs[0]["elapsed"] > SLOW * statistics.median(times):
                    result.once = True
        for name in names[shift:] + names[:shift]:
            result = results[name]
            if result.error is not None or (result.once and result.runs):
                continue
            timeout = QUICK_RUN_TIMEOUT if quick else scenario.timeout
            try:
                result.runs.append(run_contender(server, scenario, name, n, timeout))
            except subprocess.TimeoutExpired:
                result.error = f"timed out (over {timeout:.0f} s)"
            except (RuntimeError, ValueError) as exc:
                result.error = str(exc)[:200]
    return list(results.values())


# --- tables -------------------------------------------------------------------------------


def measures(scenario: Scenario, result: Result, base: Result | None, n: int) -> dict[str, Any]:
    """The numbers shown for one contender (medians over its runs)."""
    elapsed = result.median("elapsed")
    row: dict[str, Any] = {
        "time": elapsed,
        "req/s": n / elapsed,
        "MB/s": result.median("bytes") / elapsed / 1e6,
        "MiB/s": result.median("bytes") / elapsed / 2**20,
        "connections": result.median("connections"),
        "pool full": max(r["pool_full"] for r in result.runs),
        "CPU us/req": result.median("cpu") / n * 1e6,
        "switches/req": result.median("switches") / n if "switches" in result.runs[0] else None,
    }
    above = statistics.median((r["rss_peak_kib"] - r["rss_base_kib"]) for r in result.runs)
    row["RSS MiB"] = above / 1024
    row["KiB/req"] = above / n
    if scenario.delay_ms:
        ideal = math.ceil(n / scenario.c) * scenario.delay_ms / 1000
        row["efficiency"] = ideal / elapsed
    if base is not None and base.ok:
        row["ratio"] = base.median(scenario.ratio_of) / result.median(scenario.ratio_of)
        row["CPU ratio"] = base.median("cpu") / result.median("cpu")
    row["CPU/wall"] = result.median("cpu") / elapsed
    for column, key in _EXTRA.items():
        if key in result.runs[0]:
            row[column] = result.median(key)
    return row


#: Columns read straight from a measure that only some contenders report,
#: or that only some scenarios' server routes count.
_EXTRA = {
    "served": "served",
    "host B time": "b_elapsed",
    "asleep": "asleep",
    "429s": "refused",
    "early": "early",
    "429 share": "refused_share",
    "failed": "failed",
    "most in flight": "busiest",
    "final limit": "limit",
    "p95": "p95_ms",
    "most open": "max_open",
}


_FORMATS = {
    "time": "{:.2f} s",
    "req/s": "{:,.0f}",
    "ratio": "{:.2f}x",
    "efficiency": "{:.0%}",
    "MB/s": "{:,.0f}",
    "MiB/s": "{:,.1f}",
    "connections": "{:,.0f}",
    "pool full": "{:,}",
    "RSS MiB": "{:,.1f}",
    "KiB/req": "{:,.2f}",
    "CPU us/req": "{:,.0f}",
    "switches/req": "{:,.1f}",
    "CPU/wall": "{:.0%}",
    "served": "{:,.0f}",
    "CPU ratio": "{:.2f}x",
    "host B time": "{:.2f} s",
    "asleep": "{:.1f} s",
    "429s": "{:,.0f}",
    "early": "{:,.0f}",
    "429 share": "{:.1%}",
    "failed": "{:,.0f}",
    "most in flight": "{:,.0f}",
    "final limit": "{:,.0f}",
    "p95": "{:,.0f} ms",
    "most open": "{:,.0f}",
}


def table(scenario: Scenario, results: list[Result], n: int) -> tuple[list[str], list[list[str]]]:
    """Header and rows, as text, for one scenario."""
    base = next((r for r in results if r.contender == scenario.baseline), None)
    columns = list(scenario.columns)
    header = ["contender", *columns]
    rows: list[list[str]] = []
    for result in results:
        label = CONTENDERS[result.contender].label
        if result.contender == scenario.baseline:
            label += " (baseline)"
        if result.once and result.ok:
            label += " (1 run)"
        if not result.ok:
            if result.missing:
                why = f"missing ({result.missing})"
            elif str(result.error).startswith("timed out"):
                why = str(result.error)
            else:
                why = f"failed: {result.error}"
            rows.append([label, why] + [""] * (len(columns) - 1))
            continue
        row = measures(scenario, result, base, n)
        cells = []
        for column in columns:
            value = row.get(column)
            cells.append("-" if value is None else _FORMATS[column].format(value))
        rows.append([label, *cells])
    return header, rows


def rst_table(header: list[str], rows: list[list[str]]) -> str:
    """The same table in reStructuredText (a simple table), for docs/benchmarks.rst."""
    cells = [[c.replace("*", "\\*") or ".." for c in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = " ".join("=" * w for w in widths)

    def line(row: list[str]) -> str:
        return " ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return "\n".join([rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule])


def format_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    widths[1] = max(widths[1], *(len(h) for h in header[1:2]))

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def write_rst(report: dict[str, Any], path: str) -> None:
    machine = report["machine"]
    parts = [
        f"Measured {machine['date']} on {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['platform']}, {machine['implementation']} {machine['python']}; "
        f"load average {machine['load_average']} before and "
        f"{machine['load_average_after']} after the run ({report['seconds']:.0f} s). "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in report["versions"].items()) + ". "
        f"Command: ``{report['command']}``.",
    ]
    for scenario in report["scenarios"].values():
        parts.append(
            f"**{scenario['title']}**, N={scenario['n']:,}, "
            f"{'best' if scenario.get('best') else 'median'} of {scenario['runs']}:"
        )
        parts.append(rst_table(scenario["table"]["header"], scenario["table"]["rows"]))
    parts.append("Targets, from the same run:")
    parts.append(
        "\n".join(f"- {t['name']}: **{t['status']}**; {t['detail']}" for t in report["targets"])
    )
    with open(path, "w", encoding="utf-8") as out:
        out.write("\n\n".join(parts) + "\n")


# --- the command --------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Benchmark FuturesSession against its peers on a loopback server.",
    )
    parser.add_argument("--quick", action="store_true", help="small N, one run (1-2 minutes)")
    parser.add_argument("--runs", type=int, help="runs per contender (default 3; 1 with --quick)")
    parser.add_argument(
        "--scenario", action="append", metavar="KEY", help="run only these (prefix, repeatable)"
    )
    parser.add_argument(
        "--contender",
        action="append",
        metavar="NAME",
        help="run only these contenders (repeatable, or comma-separated)",
    )
    parser.add_argument("--json", metavar="FILE", help="write every number to FILE")
    parser.add_argument("--rst", metavar="FILE", help="write the tables as reStructuredText")
    parser.add_argument("--plot", metavar="FILE.png", help="bar charts (needs matplotlib)")
    parser.add_argument(
        "--no-install", action="store_true", help="never install missing peers into .bench-cache/"
    )
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = select(load(), args.scenario)
    if args.contender:
        wanted = {name for names in args.contender for name in names.split(",")}
        unknown = wanted - set(CONTENDERS)
        if unknown:
            raise SystemExit(
                f"unknown contender(s) {sorted(unknown)}; known: {sorted(CONTENDERS)}"
            )
        scenarios = [
            replace(s, contenders=tuple(c for c in s.contenders if c in wanted)) for s in scenarios
        ]
        scenarios = [s for s in scenarios if s.contenders]
    if args.list:
        for scenario in scenarios:
            print(f"{scenario.key:8} {scenario.title}")
        return 0
    _system.raise_fd_limit()
    peers = {p for s in scenarios for c in s.contenders if (p := CONTENDERS[c].peer) is not None}
    missing = ensure_peers(peers, install=not args.no_install)
    info = {
        "machine": _system.machine(),
        "versions": versions(peers - set(missing)),
        "command": " ".join(
            ["python -m benchmarks", *(argv if argv is not None else sys.argv[1:])]
        ),
        "missing": missing,
    }
    print(json.dumps(info, indent=1), flush=True)
    default_runs = args.runs or (1 if args.quick else 3)
    report: dict[str, Any] = {**info, "scenarios": {}}
    started = time.perf_counter()
    with running_server(max((s.origins for s in scenarios), default=2)) as server:
        for scenario in scenarios:
            runs = scenario.runs or default_runs
            n = scenario.quick_n if args.quick else scenario.n
            results = run_scenario(server, scenario, runs, args.quick, missing)
            header, rows = table(scenario, results, n)
            kind = "best" if scenario.best else "median"
            print(f"\n{scenario.title} — N={n:,}, {kind} of {runs}", flush=True)
            print(format_table(header, rows), flush=True)
            report["scenarios"][scenario.key] = {
                "title": scenario.title,
                "n": n,
                "c": scenario.c,
                "runs": runs,
                "best": scenario.best,
                "baseline": scenario.baseline,
                "table": {"header": header, "rows": rows},
                "results": {
                    r.contender: {
                        "runs": r.runs,
                        "missing": r.missing,
                        "error": r.error,
                        "once": r.once,
                    }
                    for r in results
                },
            }
    report["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report["seconds"] = round(time.perf_counter() - started, 1)
    from .targets import evaluate

    report["targets"] = evaluate(report)
    print("\nTargets (ratios measured in this run)")
    for target in report["targets"]:
        print(f"  {target['status']:7} {target['name']}: {target['detail']}")
    after = report["machine"]["load_average_after"]
    print(f"\n{report['seconds']:.0f} s; load average after: {after}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=1)
    if args.rst:
        write_rst(report, args.rst)
    if args.plot:
        from .plot import plot

        plot(report, args.plot)
    return 0
