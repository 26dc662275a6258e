"""Saving bodies to files: ``fetch --save DIR`` end to end, and the ``_save`` module."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

from requests_futures._cli import main, naming, splicing, unnamed
from requests_futures._cli import saving as _save
from requests_futures._cli.naming import relative_path, safe_name
from requests_futures._cli.saving import Saver

from .conftest import LONG
from .faults import FaultServer
from .server import LoopbackServer, file_body
from .test_cli import RUN_WITH_CTRL_C, LineReader, records


def fetch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    """Run ``fetch --no-progress ARGS`` in-process; its exit status and JSON lines."""
    status = main(["fetch", "--no-progress", *args])
    return status, records(capsys.readouterr().out)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def every_file(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


def temporary_files(root: Path) -> list[Path]:
    return [p for p in every_file(root) if p.name.startswith(_save.TEMP_PREFIX)]


def sizes_being_written(root: Path, pid: int) -> list[int]:
    """The sizes of the files process ``pid`` is writing under ``root``, named or not.

    A temporary file shows in the directory; an unnamed one (Linux) only
    among the process's descriptors, as ``root/#inode (deleted)``.
    """
    sizes = []
    for path in temporary_files(root):
        with contextlib.suppress(FileNotFoundError):  # renamed meanwhile
            sizes.append(path.stat().st_size)
    descriptors = Path(f"/proc/{pid}/fd")
    for fd in descriptors.iterdir() if descriptors.is_dir() else ():
        with contextlib.suppress(OSError):  # closed meanwhile
            target = os.readlink(fd)
            if target.startswith(f"{root}{os.sep}") and target.endswith(" (deleted)"):
                sizes.append(fd.stat().st_size)
    return sizes


#: Whether this system writes bodies to unnamed files (Linux, and a file system that can).
# --- fetch --save, end to end --------------------------------------------------------------


def test_bodies_are_saved_byte_exact(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sizes = [0, 1, 1000, _save.CHUNK - 1, _save.CHUNK, _save.CHUNK + 1, 3 * _save.CHUNK + 7]
    urls = [f"{server.url}/files/f{size}.bin?n={size}" for size in sizes]
    out = tmp_path / "out"
    status, lines = fetch(capsys, "-w", "4", "-O", str(out), *urls)
    assert status == 0
    got = {line["url"]: line for line in lines}
    for size, url in zip(sizes, urls, strict=True):
        line = got[url]
        assert line["path"] == str(out / f"f{size}.bin")
        assert line["bytes"] == size and line["skipped"] is False
        assert sha256(Path(line["path"]).read_bytes()) == sha256(
            file_body(f"/files/f{size}.bin", size)
        )
    assert len(every_file(out)) == len(sizes)  # no temporary file left


def test_memory_stays_flat_for_a_large_body(server: LoopbackServer, tmp_path: Path) -> None:
    # The peak of Python's allocations while saving a small body, then a large
    # one: the same, give or take a little (requests itself allocates ~12 MB
    # for each new session, whatever the body).
    size = 48 * 2**20
    code = (
        "import sys, tracemalloc; tracemalloc.start(); "
        "from requests_futures._cli import main\n"
        "for url in sys.argv[3:]:\n"
        "    tracemalloc.reset_peak(); assert main([*sys.argv[1:3], url]) == 0\n"
        "    print(tracemalloc.get_traced_memory()[1], file=sys.stderr)"
    )
    urls = [f"{server.url}/files/small.bin?n=10", f"{server.url}/files/large.bin?n={size}"]
    result = subprocess.run(
        [sys.executable, "-c", code, "fetch", f"--save={tmp_path}", *urls],
        capture_output=True,
        text=True,
        timeout=6 * LONG,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "large.bin").stat().st_size == size
    small, large = (int(line) for line in result.stderr.splitlines() if line.isdigit())
    assert large - small < size / 8, f"peaks: {small} bytes for 10, {large} for {size}"


def test_bodies_are_streamed_in_reads_of_at_least_1_mib(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The ordinary path, as on systems without os.splice (see the splicing tests).
    monkeypatch.setattr(splicing, "AVAILABLE", False)
    sizes: list[int | None] = []
    original = urllib3.response.HTTPResponse.read

    def read(self: urllib3.response.HTTPResponse, amt: int | None = None, **kwargs: Any) -> bytes:
        sizes.append(amt)
        return original(self, amt, **kwargs)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read", read)
    size = 8 * 2**20 + 5
    status, lines = fetch(capsys, "-O", str(tmp_path), f"{server.url}/files/big.bin?n={size}")
    assert status == 0 and lines[0]["bytes"] == size
    # Nine reads of 1 MiB (the last one gets 5 bytes and ends the body).
    assert sizes == [2**20] * 9


def test_urls_that_map_to_one_name_get_distinct_names_in_input_order(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [
        f"{server.url}/files/a/report.pdf?n=10",
        f"{server.url}/files/b/report.pdf?n=20",
        f"{server.url}/files/c/REPORT.pdf?n=30",  # one file on case-insensitive systems
        f"{server.url}/files/d/?n=1",
        f"{server.url}/files/e/?n=2",
    ]
    status, lines = fetch(capsys, "-w", "3", "--save", str(tmp_path), *urls)
    assert status == 0
    paths = {line["url"]: Path(line["path"]).name for line in lines}
    assert [paths[url] for url in urls] == [
        "report.pdf",
        "report.1.pdf",
        "REPORT.2.pdf",
        "index.html",
        "index.1.html",
    ]
    assert (tmp_path / "report.1.pdf").read_bytes() == file_body("/files/b/report.pdf", 20)


def test_save_as_path_mirrors_host_and_path(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"{server.url}/files/x/a.txt?n=5", f"{server.url}/files/x/?n=6"]
    status, lines = fetch(capsys, "--save", str(tmp_path), "--save-as", "path", *urls)
    assert status == 0
    host = server.url.removeprefix("http://").replace(":", "_")
    assert every_file(tmp_path) == [
        tmp_path / host / "files" / "x" / "a.txt",
        tmp_path / host / "files" / "x" / "index.html",
    ]
    assert {line["path"] for line in lines} == {str(p) for p in every_file(tmp_path)}


UNSAFE = [
    "..",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fescaped",
    "..%2f..%2f..%2fescaped",
    "%2fetc%2fescaped",
    "..%5c..%5cescaped",
    "C:%5cescaped",
    "a%00b",
    "new%0aline%0d%09tab%1b",
    "x" * 300 + ".bin",
    "%c3%a9" * 150,
    "%ff%fe",
    "CON",
    "nul.txt",
    "trailing.. ",
]


@pytest.mark.parametrize("layout", ["name", "path"])
def test_no_file_is_ever_written_outside_the_directory(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    out = tmp_path / "deep" / "out"
    urls = [f"{server.url}/files/{name}?n=3" for name in UNSAFE]
    urls += [f"{server.url}/files/{name}/last?n=4" for name in UNSAFE[:8]]
    status, lines = fetch(capsys, "-w", "4", "--save", str(out), "--save-as", layout, *urls)
    assert status == 0, [line for line in lines if line["error"]]
    saved = every_file(tmp_path)
    assert len(saved) == len(urls)
    for path in saved:
        assert path.resolve().is_relative_to(out.resolve())
        assert len(path.name.encode()) <= 255
        assert not any(ord(c) < 32 or c in "\\:" for c in path.name), path.name
    assert {line["path"] for line in lines} == {str(p) for p in saved}


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_a_body_that_breaks_off_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    with FaultServer() as faults:
        urls = [f"{faults.url}/{kind}/{n}" for n in range(4)] + [f"{faults.url}/ok/9"]
        status, lines = fetch(capsys, "--save", str(tmp_path), *urls)
    assert status == 1
    got = {line["url"]: line for line in lines}
    for url in urls[:4]:
        assert got[url]["error"] in ("ChunkedEncodingError", "ConnectionError"), got[url]
        assert got[url]["path"] is None
    assert got[urls[4]]["path"] == str(tmp_path / "9")
    assert every_file(tmp_path) == [tmp_path / "9"]


def test_error_statuses_are_saved_only_when_asked(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"{server.url}/status/404", f"{server.url}/files/ok?n=7"]
    status, lines = fetch(capsys, "--save", str(tmp_path / "a"), *urls)
    assert status == 0  # a 404 is a response, as without --save
    got = {line["url"]: line for line in lines}
    assert got[urls[0]]["status"] == 404
    assert got[urls[0]]["path"] is None and got[urls[0]]["bytes"] == len(b"status")
    assert every_file(tmp_path / "a") == [tmp_path / "a" / "ok"]

    status, lines = fetch(capsys, "--save", str(tmp_path / "b"), "--save-errors", *urls)
    assert (tmp_path / "b" / "404").read_bytes() == b"status"


def test_skip_existing_fetches_only_what_is_missing(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [f"{server.url}/files/f{n}?n={100 * n}" for n in range(1, 7)]
    assert fetch(capsys, "--save", str(tmp_path), *urls[::2])[0] == 0
    assert server.counters.requests == 3
    server.counters.reset()

    status, lines = fetch(capsys, "--save", str(tmp_path), "--skip-existing", *urls)
    assert status == 0
    assert sorted(server.counters.paths) == ["/files/f2", "/files/f4", "/files/f6"]
    got = {line["url"]: line for line in lines}
    for n, url in enumerate(urls, 1):
        assert got[url]["skipped"] is (n % 2 == 1)
        assert got[url]["path"] == str(tmp_path / f"f{n}")
        assert got[url]["bytes"] == 100 * n


def test_skip_existing_summary(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "there").write_bytes(b"old")
    argv = ["--save", str(tmp_path), "--skip-existing", f"{server.url}/files/there?n=9"]
    assert main(["fetch", "--no-progress", *argv, f"{server.url}/files/new?n=2"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("summary: 1 request in ")
    assert "  saved: 1 file, 0.0 MiB" in err
    assert "  skipped, already saved: 1\n" in err
    assert (tmp_path / "there").read_bytes() == b"old"


def test_without_skip_existing_a_file_is_replaced(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "there").write_bytes(b"old")
    assert fetch(capsys, "--save", str(tmp_path), f"{server.url}/files/there?n=9")[0] == 0
    assert (tmp_path / "there").read_bytes() == file_body("/files/there", 9)


def test_a_write_error_fails_that_url_only(server: LoopbackServer, tmp_path: Path) -> None:
    # A file-size limit makes the large file's write fail (EFBIG), as a full disk would.
    code = (
        "import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20)); "
        "from requests_futures._cli import main; sys.exit(main(sys.argv[1:]))"
    )
    urls = [f"{server.url}/files/big?n={3 * 2**20}"]
    urls += [f"{server.url}/files/small{n}?n=1000" for n in range(3)]
    result = subprocess.run(
        [sys.executable, "-c", code, "fetch", "-w", "2", "--save", str(tmp_path), *urls],
        capture_output=True,
        text=True,
        timeout=4 * LONG,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    got = {line["url"]: line for line in records(result.stdout)}
    assert got[urls[0]]["error"] == "OSError"
    assert "File too large" in got[urls[0]]["message"]
    assert got[urls[0]]["path"] is None
    assert every_file(tmp_path) == [tmp_path / f"small{n}" for n in range(3)]


def test_ctrl_c_leaves_no_partial_file_and_complete_lines(
    server: LoopbackServer, tmp_path: Path, child: list[subprocess.Popen[str]]
) -> None:
    urls = [f"{server.url}/files/done?n=10"]
    # Large enough that the half sent first holds a whole chunk, which is written.
    urls += [f"{server.url}/partial/p{n}?n={3 * _save.CHUNK}" for n in range(2)]
    urls += [f"{server.url}/files/later{n}?n=10" for n in range(4)]
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_WITH_CTRL_C, "fetch", "-w", "3", "-O", str(tmp_path), *urls],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.append(process)
    assert process.stdout is not None and process.stderr is not None

    # Both partial bodies are being written: their first chunk is in their
    # files, not yet named (those of the small files come and go).
    def partial() -> list[int]:
        return [size for size in sizes_being_written(tmp_path, process.pid) if size >= _save.CHUNK]

    out = LineReader(process.stdout)  # type: ignore[arg-type]
    first = json.loads(out.next())
    assert first["path"] == str(tmp_path / "done")

    deadline = time.monotonic() + 2 * LONG
    while len(partial()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(partial()) == 2
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    assert process.wait(LONG) == 130
    assert time.monotonic() - start < LONG / 2
    assert "interrupted: " in process.stderr.read()
    out.thread.join(LONG)
    assert all(line.endswith("\n") for line in out.lines.queue)  # each one whole
    lines = [first, *(json.loads(line) for line in out.lines.queue)]
    reported = {Path(line["path"]) for line in lines}
    saved = set(every_file(tmp_path))
    # A download may have ended just before its line could be written: its
    # file is whole all the same.  No file of a partial body, no temporary file.
    assert reported <= saved
    for path in saved:
        assert path.read_bytes() == file_body(f"/files/{path.name}", 10)

    # The run again, to its end: only what is missing is fetched.
    for n in range(2):
        server.release(f"p{n}")
    server.counters.reset()
    assert main(["fetch", "--no-progress", "-O", str(tmp_path), "--skip-existing", *urls]) == 0
    missing = [u for u in urls if tmp_path / u.split("?")[0].rsplit("/", 1)[1] not in saved]
    assert sorted(server.counters.paths) == sorted(
        u.split("?")[0].removeprefix(server.url) for u in missing
    )
    assert len(every_file(tmp_path)) == len(urls)
    assert (tmp_path / "p0").read_bytes() == b"p" * 3 * _save.CHUNK


# --- the _save module ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("report.pdf", "report.pdf"),
        (".bashrc", ".bashrc"),
        ("", "_"),
        (".", "_"),
        ("..", "_"),
        ("...", "_"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("/etc/passwd", "_etc_passwd"),
        ("..\\..\\x", ".._.._x"),
        ("C:\\x", "C__x"),
        ("a\x00b\nc\td\x7f", "a_b_c_d_"),
        ("what?*|<>", "what_____"),
        ("name. . ", "name"),
        ("CON", "_CON"),
        ("com1.txt", "_com1.txt"),
        ("console", "console"),
        ("bad\udcffbyte", "bad_byte"),
    ],
)
def test_safe_name(text: str, expected: str) -> None:
    assert safe_name(text) == expected


def test_safe_name_cuts_long_names_keeping_the_extension() -> None:
    assert safe_name("x" * 300 + ".tar") == "x" * (naming.MAX_NAME - 4) + ".tar"
    long_extension = "x." + "y" * 300
    assert safe_name(long_extension) == long_extension[: naming.MAX_NAME]
    two_bytes = safe_name("é" * 300)
    assert len(two_bytes.encode()) <= naming.MAX_NAME and set(two_bytes) == {"é"}


def test_relative_path() -> None:
    url = "https://:pw@Example.INVALID:8443/a/%2e%2e//b%2fc/file%20name.txt?x=1#top"
    assert relative_path(url, "name") == ["file name.txt"]
    assert relative_path(url, "path") == ["example.invalid_8443", "a", "_", "b_c", "file name.txt"]
    assert relative_path("http://example.com", "name") == ["index.html"]
    assert relative_path("http://example.com", "path") == ["example.com", "index.html"]
    assert relative_path("not-a-url", "path") == ["_", "not-a-url"]


def test_reserve_gives_distinct_files_and_directories(tmp_path: Path) -> None:
    saver = Saver(str(tmp_path), "path")
    paths = [
        saver.reserve("http://h.invalid/x"),
        saver.reserve("http://h.invalid/x/y"),  # the directory x would be the file x
        saver.reserve("http://h.invalid/x.1/"),  # x.1 is a directory now
        saver.reserve("http://h.invalid/z/y"),
        saver.reserve("http://h.invalid/z"),  # z is a directory
    ]
    names = [os.path.relpath(p, tmp_path) for p in paths]
    assert names == [
        "h.invalid/x",
        "h.invalid/x.1/y",
        "h.invalid/x.1/index.html",
        "h.invalid/z/y",
        "h.invalid/z.1",
    ]


def test_reserving_one_name_many_times_takes_a_step_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 200 URLs ending in /bytes took 20,000 tries (a tenth of fetch --save's time).
    tries = 0
    original = _save.numbered

    def numbered(name: str, n: int) -> str:
        nonlocal tries
        tries += 1
        return original(name, n)

    monkeypatch.setattr(_save, "numbered", numbered)
    for layout in ("name", "path"):
        saver = Saver(str(tmp_path), layout)  # type: ignore[arg-type]
        names = [saver.reserve(f"http://h.invalid/d/bytes?file={n}") for n in range(2000)]
        assert [os.path.basename(name) for name in names[:3]] == ["bytes", "bytes.1", "bytes.2"]
        assert os.path.basename(names[-1]) == "bytes.1999"
        assert len(set(names)) == 2000
    assert tries <= 2 * 2 * 2000


def test_prepare_refuses_what_is_not_a_writable_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        Saver(str(tmp_path / "file")).prepare()
    with pytest.raises(OSError, match="cannot create"):
        Saver(str(tmp_path / "file" / "sub")).prepare()
    if os.path.isdir("/proc/self"):  # not even root may create files there
        with pytest.raises(OSError, match="cannot write in /proc/self"):
            Saver("/proc/self").prepare()
    saver = Saver(str(tmp_path / "new" / "dir"))
    saver.prepare()
    assert os.listdir(tmp_path / "new" / "dir") == []


#: Each way a body is kept until whole: an unnamed file (Linux), or a temporary name.
BOTH_WAYS = pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed", "temporary-name"])


def _prepared(root: Path, unnamed: bool) -> Saver:
    """A prepared Saver over ``root``: with unnamed files if asked and they work here."""
    saver = Saver(str(root))
    saver.prepare()  # finds out whether unnamed files work here
    saver.unnamed = saver.unnamed and unnamed
    return saver


def _response(body: bytes, headers: dict[str, str], status: int = 200) -> requests.Response:
    """A streamed response over ``body``, urllib3 not checking its length (as 1.26 does not)."""
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(body),
        headers=headers,
        status=status,
        preload_content=False,
        enforce_content_length=False,
    )
    response.request = requests.Request("GET", "http://h.invalid/").prepare()
    response.url = "http://h.invalid/f"
    return response


def test_a_short_body_is_caught_without_urllib3s_check(tmp_path: Path) -> None:
    saver = Saver(str(tmp_path))
    saver.prepare()
    short = _response(b"abc", {"Content-Length": "10"})
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="after 3 of 10 bytes"):
        saver.save(short, str(tmp_path / "f"))
    assert os.listdir(tmp_path) == []
    whole = _response(b"abc", {"Content-Length": "3"})
    assert saver.save(whole, str(tmp_path / "f")) == _save.Saved(
        200, "http://h.invalid/f", 3, str(tmp_path / "f")
    )
    head = _response(b"", {"Content-Length": "10"})
    head.request = requests.Request("HEAD", "http://h.invalid/").prepare()
    assert saver.save(head, str(tmp_path / "g")).bytes == 0


@BOTH_WAYS
def test_abandon_removes_temporary_files_and_refuses_new_ones(
    tmp_path: Path, unnamed: bool
) -> None:
    saver = _prepared(tmp_path, unnamed)
    response = _response(b"x" * 10, {})
    named = not saver.unnamed

    def interrupted(chunk_size: int) -> Any:
        yield b"12345"
        assert len(temporary_files(tmp_path)) == (1 if named else 0)
        saver.abandon()  # as Ctrl-C does, while this body is being written
        assert temporary_files(tmp_path) == []
        yield b"67890"

    response.iter_content = interrupted  # type: ignore[method-assign]
    with pytest.raises(InterruptedError):
        saver.save(response, str(tmp_path / "f"))
    with pytest.raises(InterruptedError):
        saver.save(_response(b"x", {}), str(tmp_path / "g"))
    assert os.listdir(tmp_path) == []


def _watched(body: list[bytes], look: Any) -> requests.Response:
    """A response whose body calls ``look()`` after its first piece."""
    response = _response(b"".join(body), {})

    def pieces(chunk_size: int) -> Any:
        yield body[0]
        look()
        yield from body[1:]

    response.iter_content = pieces  # type: ignore[method-assign]
    return response


def test_a_body_has_no_name_in_the_directory_until_it_is_whole(tmp_path: Path) -> None:
    saver = Saver(str(tmp_path))
    saver.prepare()
    if not saver.unnamed:
        pytest.skip("no unnamed files (O_TMPFILE, linked through /proc) here")
    seen: list[list[str]] = []
    response = _watched([b"12345", b"67890"], lambda: seen.append(os.listdir(tmp_path)))
    saved = saver.save(response, str(tmp_path / "f"))
    assert seen == [[]]  # half written: nothing in the directory, not even a temporary name
    assert saved.path == str(tmp_path / "f")
    assert os.listdir(tmp_path) == ["f"]
    assert (tmp_path / "f").read_bytes() == b"1234567890"
    assert oct((tmp_path / "f").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


@BOTH_WAYS
def test_a_file_there_is_replaced_whole_or_kept(tmp_path: Path, unnamed: bool) -> None:
    saver = _prepared(tmp_path, unnamed)
    target = tmp_path / "f"
    target.write_bytes(b"old")
    seen: list[bytes] = []
    response = _watched([b"new ", b"body"], lambda: seen.append(target.read_bytes()))
    saver.save(response, str(target))
    assert seen == [b"old"]  # until the new body is whole, the old file is there as it was
    assert target.read_bytes() == b"new body"
    assert every_file(tmp_path) == [target]

    broken = _response(b"abc", {"Content-Length": "10"})
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        saver.save(broken, str(target))
    assert target.read_bytes() == b"new body"
    assert every_file(tmp_path) == [target]


def test_where_unnamed_files_cannot_be_made_a_temporary_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unnamed, "_O_TMPFILE", 0)  # a system without them
    saver = Saver(str(tmp_path))
    saver.prepare()
    seen: list[list[Path]] = []
    response = _watched([b"12345", b"67890"], lambda: seen.append(temporary_files(tmp_path)))
    saver.save(response, str(tmp_path / "f"))
    assert len(seen[0]) == 1
    assert every_file(tmp_path) == [tmp_path / "f"]
    assert (tmp_path / "f").read_bytes() == b"1234567890"


@BOTH_WAYS
def test_a_directory_under_the_name_fails_that_url_and_leaves_nothing(
    tmp_path: Path, unnamed: bool
) -> None:
    saver = _prepared(tmp_path, unnamed)
    (tmp_path / "f").mkdir()
    with pytest.raises(OSError):  # IsADirectoryError, from the rename over it
        saver.save(_response(b"abc", {}), str(tmp_path / "f"))
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary name left
    assert list((tmp_path / "f").iterdir()) == []


def test_a_saver_told_not_to_use_unnamed_files_does_not_probe(tmp_path: Path) -> None:
    saver = Saver(str(tmp_path) + os.sep)  # a trailing separator: the same directory
    saver.unnamed = False
    saver.prepare()
    assert saver.unnamed is False
    seen: list[list[Path]] = []
    response = _watched([b"12", b"34"], lambda: seen.append(temporary_files(tmp_path)))
    path = saver.reserve("http://h.invalid/f")
    assert saver.save(response, path).path == path
    assert len(seen[0]) == 1
    assert every_file(tmp_path) == [tmp_path / "f"]


def test_no_unnamed_file_where_it_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    assert unnamed.create_unnamed(str(tmp_path / "a-file")) is None  # not a directory
    assert unnamed.create_unnamed(str(tmp_path / "missing")) is None


def _umask() -> int:
    # Read, not set and put back: another thread may create a file meanwhile.
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^Umask:\s*(\d+)", status, re.MULTILINE)[1], 8)  # type: ignore[index]


def test_where_unnamed_files_cannot_be_named_a_temporary_name_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(descriptors: int, fd: int, path: str) -> None:
        raise PermissionError(1, "Operation not permitted")  # as some sandboxes answer

    monkeypatch.setattr(unnamed, "_link", refused)
    saver = Saver(str(tmp_path))
    saver.prepare()
    assert saver.unnamed is False  # found out once, before any body is fetched
    assert every_file(tmp_path) == []  # the probe left nothing
    saver.save(_response(b"abc", {}), str(tmp_path / "f"))
    assert (tmp_path / "f").read_bytes() == b"abc"


class _CloseFails:
    """The ``os`` module, but ``close`` reports an error after closing (as NFS may)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def close(self, fd: int) -> None:
        os.close(fd)
        raise OSError(5, "Input/output error")


@BOTH_WAYS
def test_an_error_closing_the_file_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    saver = _prepared(tmp_path, unnamed)
    monkeypatch.setattr(_save, "os", _CloseFails())
    with pytest.raises(OSError, match="Input/output error"):
        saver.save(_response(b"abc", {}), str(tmp_path / "f"))
    assert every_file(tmp_path) == []


@BOTH_WAYS
def test_abandon_waits_for_a_file_being_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, unnamed: bool
) -> None:
    saver = _prepared(tmp_path, unnamed)
    entered, release = threading.Event(), threading.Event()
    if saver.unnamed:
        original: Any = _save.give_name
        where, name = _save, "give_name"
    else:
        original = os.replace
        where, name = os, "replace"

    def held(*args: Any) -> None:
        entered.set()
        assert release.wait(LONG)
        original(*args)

    monkeypatch.setattr(where, name, held)
    saving = threading.Thread(target=saver.save, args=(_response(b"abc", {}), str(tmp_path / "f")))
    saving.start()
    assert entered.wait(LONG)
    abandoned = threading.Event()
    stopper = threading.Thread(target=lambda: (saver.abandon(), abandoned.set()))
    stopper.start()
    assert not abandoned.wait(0.2)  # the name is being given: abandon() waits for it
    release.set()
    stopper.join(LONG)
    saving.join(LONG)
    assert abandoned.is_set()
    # Named before abandon() returned: whole, and nothing else is left.
    assert every_file(tmp_path) == [tmp_path / "f"]
    assert (tmp_path / "f").read_bytes() == b"abc"
    with pytest.raises(InterruptedError):
        saver.save(_response(b"x", {}), str(tmp_path / "g"))
    assert every_file(tmp_path) == [tmp_path / "f"]


def test_a_symbolic_link_out_of_the_directory_is_not_followed(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    host = server.url.removeprefix("http://").replace(":", "_")
    (out / host).symlink_to(elsewhere)
    url = f"{server.url}/files/a?n=3"
    status, lines = fetch(capsys, "--save", str(out), "--save-as", "path", url)
    assert status == 1
    assert lines[0]["error"] == "PermissionError"
    assert "is a symbolic link" in lines[0]["message"]
    assert list(elsewhere.iterdir()) == []


def test_progress_counts_the_bytes_saved(server: LoopbackServer, tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    url = f"{server.url}/files/a?n=300000"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "requests_futures",
            "fetch",
            "--progress",
            "-O",
            str(tmp_path),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=4 * LONG,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "saved: 293k" in result.stderr  # 300,000 bytes in KiB
    assert "B/s" in result.stderr


def test_plain_progress_counts_the_bytes_saved(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    url = f"{server.url}/files/a?n={2**20}"
    assert main(["fetch", "--progress", "-O", str(tmp_path), url]) == 0
    assert re.search(
        r"^progress: 1/1 done, 0 failed, .*, 1\.0 MiB saved \([\d.]+ MiB/s\)$",
        capsys.readouterr().err,
        re.MULTILINE,
    )


def test_saver_counts_bytes_from_many_threads(tmp_path: Path) -> None:
    saver = Saver(str(tmp_path))
    saver.prepare()
    threads = [
        threading.Thread(
            target=saver.save,
            args=(_response(b"x" * 1000, {}), saver.reserve(f"http://h.invalid/{n}")),
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LONG)
    assert saver.written == 8000
    assert len(os.listdir(tmp_path)) == 8


def test_in_process_progress_bars_and_a_stopped_run(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tqdm")
    url = f"{server.url}/files/a?n={2**20}"
    assert main(["fetch", "--progress", "-O", str(tmp_path / "a"), url]) == 0
    assert re.search(r"saved: 1\.00M", capsys.readouterr().err)

    # The reader of the JSON lines goes away: the run stops as after Ctrl-C.
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as broken:
        monkeypatch.setattr(sys, "stdout", broken)
        assert main(["fetch", "--no-progress", "-O", str(tmp_path / "b"), url]) == 1
    assert temporary_files(tmp_path) == []


# --- the documentation's example -----------------------------------------------------------

CLI_DOCS = Path(__file__).resolve().parent.parent / "docs" / "cli.rst"


def console_session(text: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of the console blocks in ``text``, each with its output lines."""
    session: list[tuple[str, list[str]]] = []
    inside = False
    for line in text.splitlines():
        if line.strip() == ".. code-block:: console":
            inside = True
        elif inside and line and not line[0].isspace():
            inside = False
        elif inside and line.strip().startswith("$ "):
            session.append((line.strip()[2:], []))
        elif inside and line.strip():
            session[-1][1].append(line.strip())
    return session


def shape(lines: list[str]) -> list[str]:
    """Lines with every number made ``N``: what stays the same from run to run."""
    return [re.sub(r"\d+(\.\d+)?", "N", line) for line in lines]


def test_the_download_example_in_the_docs_runs_as_shown(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = CLI_DOCS.read_text(encoding="utf-8")
    text = text[text.index("\nDownloading files\n") : text.index("\nBeing polite\n")]
    text = text.replace("http://127.0.0.1:8000", server.url)
    monkeypatch.chdir(tmp_path)
    session = console_session(text)
    assert [command.split()[0] for command, _ in session] == [
        "cat", "requests-futures", "ls", "head", "requests-futures", "head"
    ]  # fmt: skip
    for command, shown in session:
        program, *args = shlex.split(command)
        if program == "cat":
            Path(args[0]).write_text("\n".join(shown) + "\n")
        elif program == "requests-futures":
            assert main(args) == 0
            summary = [line.strip() for line in capsys.readouterr().err.splitlines()]
            assert shape(summary) == shape(shown)
        elif program == "ls":
            assert sorted(os.listdir(args[0])) == shown
        else:  # head -1 FILE: that URL's line, as shown but for the time taken
            (line,) = records("\n".join(shown))
            got = {record["url"]: record for record in records(Path(args[1]).read_text())}
            assert {**got[line["url"]], "elapsed_ms": 0} == {**line, "elapsed_ms": 0}
