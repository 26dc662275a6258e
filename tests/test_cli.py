"""The ``requests-futures`` command, run as a subprocess and in-process through ``main``."""

from __future__ import annotations

import _thread
import base64
import importlib
import io
import itertools
import json
import os
import pty
import queue
import re
import runpy
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
import trustme

from requests_futures._cli import demo as _demo
from requests_futures._cli import fetch as _fetch
from requests_futures._cli import main
from requests_futures._cli import report as _report

from .conftest import LONG
from .reliability.test_tls import TLSServer
from .server import LoopbackServer, ManyOrigins, file_body

KEYS = ["url", "status", "elapsed_ms", "bytes", "final_url", "error", "message", "attempts"]

# Python leaves SIGINT ignored in a child whose parent ignores it (a CI job
# started in the background does); the interrupt test wants the usual handler.
RUN_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('requests_futures', run_name='__main__', alter_sys=True)"
)
# The same tool on a machine without tqdm.
RUN_WITHOUT_TQDM = (
    "import runpy, sys; sys.modules['tqdm'] = None; "
    "runpy.run_module('requests_futures', run_name='__main__', alter_sys=True)"
)


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m requests_futures ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "requests_futures", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=4 * LONG,
        check=False,
    )


def records(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def by_url(stdout: str) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in records(stdout)}


class LineReader:
    """Lines of a child's pipe, read in a thread, so a test can wait with a timeout."""

    def __init__(self, stream: io.TextIOBase) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: io.TextIOBase) -> None:
        for line in stream:
            self.lines.put(line)

    def next(self) -> str:
        return self.lines.get(timeout=2 * LONG)  # a child starts slowly on a busy machine


# --- fetch, as a subprocess ----------------------------------------------------------------


def test_fetch_urls_from_arguments(server: LoopbackServer) -> None:
    urls = [f"{server.url}/echo", f"{server.url}/bytes?n=123", f"{server.url}/redirect/2"]
    result = cli("fetch", *urls)
    assert result.returncode == 0, result.stderr
    lines = records(result.stdout)
    assert [list(line) for line in lines] == [KEYS] * 3
    got = {line["url"]: line for line in lines}
    assert set(got) == set(urls)
    assert got[urls[1]]["bytes"] == 123
    assert got[urls[2]]["final_url"] == f"{server.url}/echo"
    for line in lines:
        assert line["status"] == 200
        assert line["error"] is None and line["message"] is None
        assert line["elapsed_ms"] >= 0
    assert server.counters.requests == 5  # three URLs, two redirect hops


def test_fetch_urls_from_a_file_skips_blank_lines_and_comments(
    server: LoopbackServer, tmp_path: Path
) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(
        f"# the first two\n{server.url}/echo?n=1\n\n   {server.url}/echo?n=2  \n"
        f"  # {server.url}/echo?n=commented\n{server.url}/echo?n=3\n"
    )
    result = cli("fetch", f"{server.url}/echo?n=0", "-i", str(listing))
    assert result.returncode == 0, result.stderr
    assert sorted(by_url(result.stdout)) == [f"{server.url}/echo?n={n}" for n in range(4)]
    assert server.counters.requests == 4


def test_fetch_urls_from_stdin(server: LoopbackServer) -> None:
    result = cli("fetch", "-i", "-", stdin=f"{server.url}/status/201\n\n{server.url}/echo\n")
    assert result.returncode == 0, result.stderr
    assert {u: r["status"] for u, r in by_url(result.stdout).items()} == {
        f"{server.url}/status/201": 201,
        f"{server.url}/echo": 200,
    }


def test_stdin_is_read_as_the_requests_go(
    server: LoopbackServer, child: list[subprocess.Popen[str]]
) -> None:
    # One worker: the first URL's line comes out while stdin is still open.
    process = subprocess.Popen(
        [sys.executable, "-m", "requests_futures", "fetch", "-w", "1", "-i", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.append(process)
    assert process.stdin is not None and process.stdout is not None
    out = LineReader(process.stdout)  # type: ignore[arg-type]
    process.stdin.write(f"{server.url}/echo?n=1\n")
    process.stdin.flush()
    assert json.loads(out.next())["url"] == f"{server.url}/echo?n=1"
    process.stdin.write(f"{server.url}/echo?n=2\n")
    process.stdin.close()
    assert json.loads(out.next())["url"] == f"{server.url}/echo?n=2"
    assert process.wait(LONG) == 0


def test_failures_are_reported_on_their_own_lines(
    server: LoopbackServer, refused_url: str
) -> None:
    good = [f"{server.url}/echo?n=1", f"{server.url}/echo?n=2"]
    bad = {refused_url: "ConnectionError", "not-a-url": "MissingSchema", "http://": "InvalidURL"}
    result = cli("fetch", good[0], *bad, good[1])
    assert result.returncode == 1
    got = by_url(result.stdout)
    assert set(got) == {*good, *bad}
    for url in good:
        assert got[url]["status"] == 200
        assert got[url]["error"] is None
    for url, error in bad.items():
        assert got[url]["status"] is None
        assert got[url]["bytes"] is None
        assert got[url]["final_url"] is None
        assert got[url]["error"] == error
        assert got[url]["message"]
    assert "  failed: 3\n" in result.stderr
    assert "    ConnectionError: 1\n" in result.stderr
    assert "    status 200: 2\n" in result.stderr


def test_deadline_ends_slow_requests_and_the_summary_counts_them(server: LoopbackServer) -> None:
    slow = [f"{server.url}/delay?ms=10000&n={n}" for n in range(2)]
    fast = f"{server.url}/echo"
    started = time.monotonic()
    result = cli("fetch", "--deadline", "0.3", "-w", "4", *slow, fast)
    assert time.monotonic() - started < 8  # not waiting for the slow ones
    assert result.returncode == 1
    got = by_url(result.stdout)
    assert got[fast]["status"] == 200
    for url in slow:
        assert got[url]["error"] == "DeadlineExceeded"
        assert got[url]["message"] == "deadline of 0.3 s exceeded"
    assert "  ended by their deadline: 2\n" in result.stderr
    assert "ended by their deadline" not in cli("fetch", fast).stderr


def test_summary_counts_statuses_and_latency(server: LoopbackServer) -> None:
    statuses = [200, 200, 200, 404, 404, 500]
    result = cli(
        "fetch", *(f"{server.url}/status/{code}?i={i}" for i, code in enumerate(statuses))
    )
    # Any HTTP status is a response: nothing failed.
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("summary: 6 requests in ")
    assert "  responses: 6\n" in result.stderr
    assert "    status 200: 3\n    status 404: 2\n    status 500: 1\n" in result.stderr
    assert "  failed: 0\n" in result.stderr
    latency = re.search(r"p50 ([\d.]+) ms, p95 ([\d.]+) ms, p99 ([\d.]+) ms", result.stderr)
    assert latency is not None
    p50, p95, p99 = map(float, latency.groups())
    assert 0 <= p50 <= p95 <= p99
    assert p99 == max(r["elapsed_ms"] for r in records(result.stdout))
    assert re.search(r"\(\d+\.\d requests/s\)", result.stderr)


def test_many_hosts_reuse_their_connections_and_the_summary_counts_them() -> None:
    origins = ManyOrigins(40).start()
    try:
        urls = [f"{url}/echo?round={r}" for r in range(3) for url in origins.urls]
        result = cli("fetch", "-w", "4", "-i", "-", stdin="\n".join(urls))
        opened = origins.server.counters.connections
    finally:
        origins.stop()
    assert result.returncode == 0, result.stderr
    # One connection per host, not one per request (the pools of 10 hosts were kept).
    assert opened <= 40 + 2 * 4
    assert f"  connections opened: {opened} for 120 requests\n" in result.stderr


def test_output_file(server: LoopbackServer, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = cli("fetch", "-o", str(out), f"{server.url}/echo")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert records(out.read_text())[0]["status"] == 200


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="no-command"),
        pytest.param(["fetch"], id="no-urls"),
        pytest.param(["fetch", "-H", "no colon", "http://127.0.0.1:9/"], id="bad-header"),
        pytest.param(["fetch", "--bogus"], id="unknown-option"),
    ],
)
def test_bad_usage_exits_2(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 2
    if args:  # one line: what is wrong, and where help is
        assert re.fullmatch(
            r"requests-futures( fetch)?: error: .+ \(see '.+ --help'\)\n", result.stderr
        )
    else:
        assert result.stderr.startswith("usage: requests-futures")
    assert result.stdout == ""


def test_ctrl_c_cancels_writes_what_finished_and_exits_130(
    server: LoopbackServer, child: list[subprocess.Popen[str]]
) -> None:
    held = [f"{server.url}/hold/never-{i}" for i in range(8)]  # answered at teardown only
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_WITH_CTRL_C, "fetch", "-w", "4", f"{server.url}/echo", *held],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.append(process)
    assert process.stdout is not None
    out = LineReader(process.stdout)  # type: ignore[arg-type]
    first = json.loads(out.next())
    assert first["url"] == f"{server.url}/echo"
    # The echo, then four held requests (one per worker) in flight.
    deadline = time.monotonic() + LONG
    while server.counters.requests < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    status = process.wait(LONG)
    assert time.monotonic() - start < LONG / 2
    assert status == 130
    assert process.stderr is not None
    err = process.stderr.read()
    assert "interrupted: 4 requests in flight abandoned" in err
    assert "summary: 1 request in " in err
    assert "    status 200: 1\n" in err
    out.thread.join(LONG)
    assert out.lines.empty()  # nothing more was written
    assert server.counters.requests == 5  # the rest of the URLs were never sent


def test_closed_output_stops_the_run_quietly(
    server: LoopbackServer, child: list[subprocess.Popen[str]]
) -> None:
    # One worker; the second URL is answered only once the reader has gone.
    rest = [f"{server.url}/echo?n={n}" for n in range(20)]
    urls = [f"{server.url}/echo", f"{server.url}/hold/reader-gone", *rest]
    process = subprocess.Popen(
        [sys.executable, "-m", "requests_futures", "fetch", "-w", "1", *urls],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.append(process)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["url"] == urls[0]
    process.stdout.close()  # as `| head -1` does
    server.release("reader-gone")
    assert process.wait(2 * LONG) == 1
    err = process.stderr.read()
    assert "output closed" in err
    assert "Traceback" not in err
    assert server.counters.requests < len(urls)


# --- progress ------------------------------------------------------------------------------


def test_progress_bar_with_tqdm(server: LoopbackServer) -> None:
    pytest.importorskip("tqdm")
    result = cli("fetch", "--progress", f"{server.url}/echo", f"{server.url}/echo?n=2")
    assert result.returncode == 0
    assert "2/2" in result.stderr
    assert "failed=0" in result.stderr


def test_plain_progress_lines_without_tqdm(server: LoopbackServer) -> None:
    urls = [f"{server.url}/echo?n={n}" for n in range(3)]
    result = subprocess.run(
        [sys.executable, "-c", RUN_WITHOUT_TQDM, "fetch", "--progress", *urls],
        capture_output=True,
        text=True,
        timeout=4 * LONG,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "progress: 3/3 done, 0 failed, " in result.stderr


@pytest.mark.parametrize(("args", "shown"), [([], True), (["--no-progress"], False)])
def test_progress_shown_only_on_a_terminal(
    server: LoopbackServer, args: list[str], shown: bool
) -> None:
    controller, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", RUN_WITHOUT_TQDM, "fetch", *args, f"{server.url}/echo"],
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
            timeout=4 * LONG,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        written = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # Linux: EIO once the terminal side is closed and drained
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(controller)
        if terminal != -1:
            os.close(terminal)
    assert result.returncode == 0
    assert b"summary: 1 request in" in written
    assert (b"progress: 1/1 done" in written) is shown


# --- demo ----------------------------------------------------------------------------------


def speedup(table: str) -> float:
    match = re.search(r"^FuturesSession, \d+ workers .*\s([\d.]+)x$", table, re.MULTILINE)
    assert match is not None, table
    return float(match.group(1))


@pytest.mark.waits
def test_demo_with_its_defaults_shows_a_speedup() -> None:
    # The README's first command, through the installed script when there is one.
    script = Path(sys.executable).with_name("requests-futures")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "requests_futures"]
    result = subprocess.run(
        [*command, "demo"], capture_output=True, text=True, timeout=6 * LONG, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "32 GET requests" in result.stdout
    assert re.search(r"^requests\.Session .* 1\.0x$", result.stdout, re.MULTILINE)
    assert speedup(result.stdout) > 2


@pytest.mark.waits
def test_python_dash_m_demo() -> None:
    result = cli("demo", "-n", "6", "--delay-ms", "150", "-w", "3")
    assert result.returncode == 0, result.stderr
    assert "6 GET requests" in result.stdout
    assert speedup(result.stdout) > 1


@pytest.mark.waits
def test_demo_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "-n", "8", "--delay-ms", "150", "-w", "4"]) == 0
    assert speedup(capsys.readouterr().out) > 1


def test_demo_reports_unexpected_statuses(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_demo, "_sequential", lambda urls: [500] * len(urls))
    assert main(["demo", "-n", "2", "--delay-ms", "0"]) == 1
    assert "unexpected statuses from requests.Session: [500]" in capsys.readouterr().out


# --- help, version, imports ----------------------------------------------------------------


def test_help_texts() -> None:
    top = cli("--help")
    assert top.returncode == 0
    assert "fetch" in top.stdout and "demo" in top.stdout
    fetch = cli("fetch", "--help")
    assert fetch.returncode == 0
    for text in ("-i FILE", "--no-progress", "examples:", "exit status:", "130 interrupted"):
        assert text in fetch.stdout


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import requests_futures

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"requests-futures {requests_futures.__version__}\n"


def test_importing_the_library_does_not_import_the_cli() -> None:
    code = (
        "import sys, requests_futures; "
        "print(sorted(m for m in ('requests_futures._cli', 'requests_futures._cli.demo', "
        "'tqdm', 'argparse') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=LONG, check=True
    )
    assert result.stdout == "[]\n"


# --- in-process: arguments and plumbing ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-H", "X Bad: 1"], "expected 'Name: value'"),
        (["-H", "X-Ok: a\nb"], "expected 'Name: value'"),
        (["-X", "GE T"], "not an HTTP method"),
        (["-w", "0"], "must be at least 1"),
        (["-w", "many"], "expected a whole number"),
        (["--timeout", "0"], "must be a positive number of seconds"),
        (["--timeout", "nan"], "must be a positive number of seconds"),
        (["--timeout", "soon"], "expected a number of seconds"),
        (["--deadline", "0"], "must be a positive number of seconds"),
        (["--deadline", "inf"], "must be a positive number of seconds"),
        (["--progress", "--no-progress"], "not allowed with argument"),
        (["-i", "/nonexistent/urls.txt"], "cannot read /nonexistent/urls.txt"),
        (["-o", "/nonexistent/out.jsonl"], "cannot write /nonexistent/out.jsonl"),
    ],
)
def test_bad_fetch_arguments(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["fetch", *args, "http://127.0.0.1:9/"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "0"], "must be at least 1"),
        (["--delay-ms", "-1"], "must be at least 0"),
        (["--delay-ms", "soon"], "expected a whole number"),
    ],
)
def test_bad_demo_arguments(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["demo", *args]) == 2
    assert message in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "requests-futures fetch -i urls.txt" in capsys.readouterr().err


def test_fetch_needs_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", "--no-progress"]) == 2
    assert "give URLs as arguments, or a file of them" in capsys.readouterr().err


def test_python_dash_m(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    importlib.import_module("requests_futures.__main__")  # imported: runs nothing
    del sys.modules["requests_futures.__main__"]
    monkeypatch.setattr(sys, "argv", ["requests_futures", "--version"])
    with pytest.raises(SystemExit) as exit:
        runpy.run_module("requests_futures", run_name="__main__", alter_sys=True)
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("requests-futures ")


def test_in_process_progress_bar_and_plain_lines(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tqdm")
    assert main(["fetch", "--progress", f"{server.url}/echo"]) == 0
    assert "1/1" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tqdm", None)
    assert main(["fetch", "--progress", f"{server.url}/echo"]) == 0
    assert "progress: 1/1 done, 0 failed" in capsys.readouterr().err


def test_in_process_ctrl_c(server: LoopbackServer, capsys: pytest.CaptureFixture[str]) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's to handle in this process")
    interrupted = threading.Event()

    def update_then_ctrl_c(self: object, stats: object) -> None:
        if not interrupted.is_set():  # once, while the first line is being written
            interrupted.set()
            _thread.interrupt_main()

    held = [f"{server.url}/hold/in-process-{i}" for i in range(4)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_report.NoProgress, "update", update_then_ctrl_c)
        status = main(["fetch", "-w", "2", f"{server.url}/delay?ms=300", *held])
    assert status == 130
    captured = capsys.readouterr()
    assert [r["status"] for r in records(captured.out)] == [200]
    assert "interrupted: " in captured.err
    assert "    status 200: 1\n" in captured.err
    for url in held:
        server.release(url.rsplit("/", 1)[1])


def test_no_url_is_sent_after_ctrl_c(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("SIGINT is not Python's to handle in this process")

    def ctrl_c_once_held() -> None:
        if server.counters.wait_for_path("/hold/first", LONG):
            _thread.interrupt_main()

    earlier = set(threading.enumerate())  # other tests' threads may still be ending
    interrupter = threading.Thread(target=ctrl_c_once_held)
    interrupter.start()
    urls = [f"{server.url}/hold/first", f"{server.url}/echo?n=1", f"{server.url}/echo?n=2"]
    assert main(["fetch", "-w", "1", *urls]) == 130
    interrupter.join(LONG)
    # The held request ends; the thread that fed map() then finds the run
    # stopped and takes no more URLs.
    (feeder,) = [t for t in set(threading.enumerate()) - earlier if t.name == "rf-cli-map"]
    server.release("first")
    feeder.join(LONG)
    assert not feeder.is_alive()
    assert "/hold/first" in server.counters.paths
    assert not [path for path in server.counters.paths if path.startswith("/echo")]
    assert "interrupted: 1 request in flight abandoned" in capsys.readouterr().err


def test_unexpected_errors_propagate(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> dict[str, Any]:
        raise RuntimeError("bug")

    monkeypatch.setattr(_fetch, "_record", broken)
    with pytest.raises(RuntimeError, match="bug"):
        main(["fetch", f"{server.url}/echo"])


@responses.activate
def test_method_headers_and_data_are_sent(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.PUT, "http://127.0.0.1:9/a", status=204)
    argv = ["fetch", "-X", "put", "-H", "X-One: 1", "-H", "X-Two:  two words ", "-d", "a=é"]
    assert main([*argv, "http://127.0.0.1:9/a"]) == 0
    (call,) = responses.calls
    assert call.request.method == "PUT"
    assert call.request.headers["X-One"] == "1"
    assert call.request.headers["X-Two"] == "two words"
    assert call.request.body == "a=é".encode()
    assert records(capsys.readouterr().out)[0]["status"] == 204


@responses.activate
def test_data_alone_means_post(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, "http://127.0.0.1:9/a")
    assert main(["fetch", "-d", "x", "http://127.0.0.1:9/a"]) == 0
    assert responses.calls[0].request.method == "POST"


def test_in_process_fetch_from_file_and_stdin(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{server.url}/echo?n=1\n# no\n{server.url}/status/503\n")
    out = tmp_path / "out.jsonl"
    assert main(["fetch", "-i", str(listing), "-o", str(out), "--timeout", "5"]) == 0
    assert sorted(r["status"] for r in records(out.read_text())) == [200, 503]

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{server.url}/echo?n=2\n"))
    assert main(["fetch", "-i", "-", "-o", "-", "http://"]) == 1
    assert sorted(by_url(capsys.readouterr().out)) == ["http://", f"{server.url}/echo?n=2"]


def test_input_that_is_not_a_regular_file(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    read, write = os.pipe()
    os.write(write, f"{server.url}/echo\n".encode())
    os.close(write)
    try:
        assert main(["fetch", "-i", f"/dev/fd/{read}"]) == 0
    finally:
        os.close(read)
    assert len(records(capsys.readouterr().out)) == 1


def test_broken_pipe_in_process(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as broken:
        monkeypatch.setattr(sys, "stdout", broken)
        assert main(["fetch", f"{server.url}/echo"]) == 1


def test_keyboard_interrupt_outside_fetch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(_demo, "run_demo", interrupted)
    assert main(["demo"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_plain_progress_is_throttled() -> None:
    stream = io.StringIO()
    stats = _report.Stats()
    progress = _report.PlainProgress(stream, None, interval=3600)
    stats.add({"error": None, "status": 200, "elapsed_ms": 1.0})
    progress.update(stats)
    assert stream.getvalue() == ""
    progress.close(stats)
    progress.close(stats)  # already shown: nothing more
    assert stream.getvalue().startswith("progress: 1 done, 0 failed, ")
    assert stream.getvalue().count("\n") == 1
    progress.interval = 0
    progress.update(stats)
    assert stream.getvalue().count("\n") == 2


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [_report.percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert _report.percentile([7.0], 50) == 7.0


# --- downloads, bodies, credentials, TLS, proxies ------------------------------------------


def _bad_download_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    (tmp / "file").write_text("")
    cases = [
        (["--save", str(tmp / "file")], "is not a directory"),
        (["-O", str(tmp / "file" / "sub")], "cannot create"),
        (["-d", f"@{tmp / 'missing'}"], "cannot read the body from"),
        (["-d", "@-", "-i", "-"], "cannot both read stdin"),
        (["-u", "no-colon"], "expected USER:PASSWORD"),
        (["--proxy", "ftp://proxy.invalid"], "expected a proxy URL"),
        (["--proxy", "proxy.invalid:3128"], "expected a proxy URL"),
        (["--cacert", str(tmp / "missing.pem")], "cannot read the CA certificates"),
        (["--save-as", "path"], "--save-as needs --save DIR"),
        (["--save-errors"], "--save-errors needs --save DIR"),
        (["--skip-existing"], "--skip-existing needs --save DIR"),
        (["--save", str(tmp), "--save-as", "url"], "invalid choice: 'url'"),
        (["--per-host", "0"], "--per-host: must be at least 1"),
        (["--adaptive"], "--adaptive needs --per-host N"),
        (["--retries", "-1"], "--retries: must be at least 0"),
        (["--rate", "0"], "must be a positive rate"),
        (["--rate=-2/m"], "must be a positive rate"),
        (["--rate", "nan"], "must be a positive rate"),
        (["--rate", "inf/h"], "must be a positive rate"),
        (["--rate", "fast"], "expected requests per second, as R, R/s, R/m or R/h"),
        (["--rate", "5/d"], "expected requests per second"),
        (["--rate", "5/"], "expected requests per second"),
    ]
    if os.path.isdir("/proc/self"):  # a directory even root cannot create files in
        cases.append((["--save", "/proc/self"], "cannot write in /proc/self"))
    return cases


def test_bad_download_input_exits_2_with_one_line_before_any_request(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args, message in _bad_download_inputs(tmp_path):
        assert main(["fetch", *args, f"{server.url}/echo"]) == 2, args
        err = capsys.readouterr().err
        assert message in err, (args, err)
        assert err.count("\n") == 1 and err.startswith("requests-futures fetch: error: "), err
    assert server.counters.requests == 0


def saved_echo(path: Path) -> dict[str, Any]:
    echo: dict[str, Any] = json.loads(path.read_bytes())
    return echo


def test_data_from_a_file_and_from_stdin(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = bytes(range(256)) + b"\r\n\n"  # sent as is: no newline stripped
    (tmp_path / "body.bin").write_bytes(body)
    out = tmp_path / "out"
    assert (
        main(["fetch", "-d", f"@{tmp_path / 'body.bin'}", "-O", str(out), f"{server.url}/echo"])
        == 0
    )
    echo = saved_echo(out / "echo")
    assert echo["method"] == "POST"
    assert echo["body"].encode("latin-1") == body

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from stdin\n")))
    assert main(["fetch", "-X", "PUT", "-d", "@-", "-O", str(out), f"{server.url}/echo?n=2"]) == 0
    echo = saved_echo(out / "echo")  # the first run's file, replaced
    assert (echo["method"], echo["body"]) == ("PUT", "from stdin\n")
    capsys.readouterr()


def test_basic_auth(server: LoopbackServer, tmp_path: Path) -> None:
    assert main(["fetch", "-u", "user:pa:ss", "-O", str(tmp_path), f"{server.url}/echo"]) == 0
    authorization = saved_echo(tmp_path / "echo")["headers"]["Authorization"]
    assert authorization == "Basic " + base64.b64encode(b"user:pa:ss").decode()


def test_proxy(server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The loopback server answers a proxy's request line (an absolute URL) too;
    # the .invalid host proves the request went nowhere but to the proxy.
    proxy = LoopbackServer().start()
    try:
        url = "http://files.invalid/files/via-proxy?n=50"
        assert main(["fetch", "--proxy", proxy.url, "-O", str(tmp_path), url]) == 0
        assert proxy.counters.paths == ["/files/via-proxy"]
    finally:
        proxy.stop()
    assert (tmp_path / "via-proxy").read_bytes() == file_body("/files/via-proxy", 50)
    assert server.counters.requests == 0
    capsys.readouterr()


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[TLSServer, str, str]]:
    """A TLS server; the CA file that trusts it, and one that does not."""
    ca, other = trustme.CA(), trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    other.cert_pem.write_to_path(str(tmp_path / "other.pem"))
    server = TLSServer(context).start()
    yield server, str(tmp_path / "ca.pem"), str(tmp_path / "other.pem")
    server.stop()


def test_insecure_and_cacert(
    https: tuple[TLSServer, str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, ca, other = https
    url = f"{server.url}/echo"
    # requests would let these variables override a session's verify: the
    # command's -k and --cacert must win over them.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", other)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert main(["fetch", url]) == 1
    assert records(capsys.readouterr().out)[0]["error"] == "SSLError"
    assert main(["fetch", "--cacert", ca, url]) == 0
    assert records(capsys.readouterr().out)[0]["status"] == 200
    assert main(["fetch", "-k", url]) == 0  # and no InsecureRequestWarning (errors here)
    assert records(capsys.readouterr().out)[0]["status"] == 200


# --- being polite --------------------------------------------------------------------------


def test_per_host_limits_the_requests_in_flight_to_each_host(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    other = LoopbackServer().start()
    try:
        urls = [f"{s.url}/delay?ms=150&i={i}" for i in range(6) for s in (server, other)]
        assert main(["fetch", "-w", "8", "--per-host", "2", *urls]) == 0
        assert len(records(capsys.readouterr().out)) == 12
        # Eight workers, but never more than two requests at once on either
        # host, and two whenever there was work for them.
        assert other.counters.max_in_flight == 2
        assert server.counters.max_in_flight <= 2
        assert server.counters.requests == other.counters.requests == 6
    finally:
        other.stop()


def test_adaptive_finds_each_hosts_limit_and_the_summary_shows_it(
    server: LoopbackServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.capacity = 2  # 429 above two at once
    urls = [f"{server.url}/capacity?ms=10&i={i}" for i in range(60)]
    args = ["fetch", "-w", "8", "--per-host", "8", "--adaptive", "--retries", "5", *urls]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert [r["status"] for r in records(out)] == [200] * 60
    limit = re.search(rf"  final limits \(--adaptive\):\n    {server.url}: (\d) of 8, ", err)
    assert limit is not None, err
    assert int(limit.group(1)) <= 3
    assert server.counters.rejected < 20


def test_rate_spaces_the_starts_to_a_host(capsys: pytest.CaptureFixture[str]) -> None:
    target = LoopbackServer().start()  # its own: nothing else arrives there
    try:
        urls = [f"{target.url}/echo?i={i}" for i in range(5)]
        assert main(["fetch", "-w", "5", "--rate", "600/m", *urls]) == 0  # 10 a second
        starts = target.counters.starts
    finally:
        target.stop()
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(gaps) == 4
    assert min(gaps) > 0.05  # 0.1 s apart, less whatever jitter the machine adds
    assert starts[-1] - starts[0] > 0.3
    capsys.readouterr()


@pytest.mark.waits
def test_retries_reach_the_server_and_are_counted(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"{server.url}/flaky/twice/2", f"{server.url}/flaky/once/1", f"{server.url}/echo"]
    assert main(["fetch", "--retries", "3", "-O", str(tmp_path), *urls]) == 0
    captured = capsys.readouterr()
    got = by_url(captured.out)
    assert [got[url]["attempts"] for url in urls] == [3, 2, 1]
    assert [got[url]["status"] for url in urls] == [200, 200, 200]
    assert server.counters.hits == {"twice": 3, "once": 2}
    # The file holds the final answer, not a 503's body.
    assert saved_echo(tmp_path / "2")["path"] == "/flaky/twice/2"
    assert "  retries: 3\n" in captured.err


def test_no_retries_by_default(server: LoopbackServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fetch", f"{server.url}/flaky/no-retry/1"]) == 0
    captured = capsys.readouterr()
    assert records(captured.out)[0]["status"] == 503
    assert records(captured.out)[0]["attempts"] == 1
    assert "retries" not in captured.err


def test_the_summary_names_no_connections_when_none_were_counted() -> None:
    assert not any("connections" in line for line in _report.Stats().summary())
