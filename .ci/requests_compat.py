"""requests' own test suite as a compatibility check for FuturesSession.

Usage: ``python .ci/requests_compat.py [WORKDIR]`` (``tox -e requests-compat``).

1. Downloads the sdist of the ``requests`` installed here (``pip download
   --no-binary :all:``) and unpacks its ``tests/``.
2. Makes a venv in WORKDIR (default ``.ci/out/requests-compat``) with that
   ``requests``, the packages its tests use (its ``test`` dependency group:
   pytest-httpbin serves httpbin on 127.0.0.1, trustme makes certificates)
   and this package.
3. Runs the suite twice: plain, and with ``requests.Session`` (and
   ``requests.sessions.Session``, ``requests.session()``) replaced by a thin
   FuturesSession subclass whose ``request()``/``send()`` return
   ``.result()`` (``.ci/requests_compat_plugin.py``).
4. Compares the two lists of failures.  Tests that need the internet fail in
   both runs.  Exits 1 if a test that passes plain fails with FuturesSession.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "requests_compat_plugin"

# What the tests need when the sdist names no dependency group (older requests).
FALLBACK_DEPS = [
    "pytest",
    "pytest-httpbin",
    "httpbin",
    "pytest-mock",
    "trustme",
    "PySocks",
]


def run(*command: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(part) for part in command), flush=True)
    subprocess.run([str(part) for part in command], check=True, **kwargs)  # type: ignore[call-overload]


def fetch_tests(version: str, workdir: Path) -> Path:
    """The unpacked sdist of ``requests==version``; download it if need be."""
    unpacked = workdir / f"requests-{version}"
    if (unpacked / "tests").is_dir():
        return unpacked
    run(
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", ":all:", f"requests=={version}", "-d", workdir,
    )  # fmt: skip
    (sdist,) = workdir.glob(f"requests-{version}.tar.gz")
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+: no paths outside workdir
            archive.extractall(workdir, filter="data")
        else:
            archive.extractall(workdir)
    return unpacked


def test_dependencies(sdist: Path, version: str) -> list[str]:
    """The sdist's ``test`` dependency group, with the installed requests pinned."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return [f"requests[socks]=={version}", "pytest-timeout", *FALLBACK_DEPS]
    with (sdist / "pyproject.toml").open("rb") as file:
        groups = tomllib.load(file).get("dependency-groups", {})
    deps = [d for d in groups.get("test", []) if isinstance(d, str)] or FALLBACK_DEPS
    # Coverage and xdist are not needed to run the tests once.
    deps = [d for d in deps if not d.startswith(("pytest-cov", "pytest-xdist", "requests"))]
    pinned = [f"requests[socks]=={version}", "pytest-mock", "pytest-timeout", *deps]
    return list(dict.fromkeys(pinned))


def make_venv(workdir: Path, sdist: Path, version: str) -> Path:
    venv = workdir / "venv"
    python = venv / "bin" / "python"
    marker = venv / f"ready-{version}"
    if not marker.exists():
        run(sys.executable, "-m", "venv", "--clear", venv)
        run(python, "-m", "pip", "install", "--quiet", *test_dependencies(sdist, version))
        marker.touch()
    # This package as it is now, every time.
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", ROOT)
    return python


def _node_id(case: ET.Element) -> str:
    """``tests/test_x.py::TestClass::test_name[param]`` from a junit (xunit1) test case."""
    path = case.get("file") or ""
    module = path.removesuffix(".py").replace("/", ".")
    classes = (case.get("classname") or "").removeprefix(module).strip(".")
    return "::".join(part for part in (path, *classes.split("."), case.get("name")) if part)


def failures(report: Path) -> tuple[int, set[str]]:
    """How many tests ran, and the node ids of those that failed or errored."""
    failed: set[str] = set()
    count = 0
    for case in ET.parse(report).iter("testcase"):
        if case.find("skipped") is not None:
            continue
        count += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed.add(_node_id(case))
    return count, failed


def run_suite(
    python: Path, sdist: Path, report: Path, *, ours: bool, only: list[str] | None = None
) -> tuple[int, set[str]]:
    env = dict(os.environ)
    command: list[str | Path] = [python, "-m", "pytest", *(only or ["tests"])]
    command += ["-q", "-p", "no:cacheprovider", "--timeout", "60"]
    command += ["--junitxml", report, "-o", "junit_family=xunit1"]
    if ours:
        env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
        command += ["-p", PLUGIN]
    started = time.monotonic()
    # Failing tests are expected (those that need the internet): not an error here.
    subprocess.run([str(part) for part in command], cwd=sdist, env=env, check=False)
    print(f"-- {'FuturesSession' if ours else 'plain'} run: {time.monotonic() - started:.0f} s")
    return failures(report)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", nargs="?", type=Path, default=ROOT / ".ci/out/requests-compat")
    workdir = parser.parse_args(argv).workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    version = requests.__version__
    sdist = fetch_tests(version, workdir)
    python = make_venv(workdir, sdist, version)
    plain_count, plain = run_suite(python, sdist, workdir / "plain.xml", ours=False)
    ours_count, ours = run_suite(python, sdist, workdir / "ours.xml", ours=True)
    print(f"requests {version}'s tests, plain requests.Session: "
          f"{plain_count - len(plain)} passed, {len(plain)} failed")  # fmt: skip
    print(f"requests {version}'s tests, FuturesSession:        "
          f"{ours_count - len(ours)} passed, {len(ours)} failed")  # fmt: skip
    for name in sorted(ours & plain):
        print(f"  fails in both (needs the internet, or the machine): {name}")
    for name in sorted(plain - ours):
        print(f"  fails only plain: {name}")
    regressions = sorted(ours - plain)
    if regressions:
        # Once more, those alone: a test that failed by chance under load passes now.
        _, again = run_suite(python, sdist, workdir / "again.xml", ours=True, only=regressions)
        for name in sorted(set(regressions) - again):
            print(f"  failed once with FuturesSession, passed when run again: {name}")
        regressions = sorted(again)
    for name in regressions:
        print(f"  FAILS ONLY WITH FuturesSession: {name}")
    if plain_count != ours_count:
        print(f"different numbers of tests ran: {plain_count} and {ours_count}")
        return 1
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
