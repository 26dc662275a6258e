"""``fetch --save`` on Linux: bodies spliced from socket to file, saved as the ordinary path saves.

Each case saves a streamed response of the loopback server with the
:class:`~requests_futures._cli.saving.Saver` and compares it with what
``requests`` itself reads from the same URL: the same bytes, the same
exception class, and the connection reused (or not) as ``requests`` does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from requests.exceptions import ChunkedEncodingError, ConnectionError

from requests_futures._cli import main, splicing
from requests_futures._cli.saving import Saver

from .conftest import LONG, SHORT
from .server import LoopbackServer, payload
from .test_cli import records

pytestmark = pytest.mark.skipif(not splicing.AVAILABLE, reason="os.splice is Linux only")

MIB = 2**20


def body(**recipe: object) -> str:
    """The path of a ``/body`` answer made to ``recipe`` (see tests/server.py)."""
    return "/body?" + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in recipe.items())


@pytest.fixture
def splices(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The byte counts ``os.splice`` moved, every call."""
    moved: list[int] = []
    original = os.splice

    def counted(*args: Any, **kwargs: Any) -> int:
        result: int = original(*args, **kwargs)
        moved.append(result)
        return result

    monkeypatch.setattr(os, "splice", counted)
    yield moved


@pytest.fixture
def saver(tmp_path: Path) -> Saver:
    saver = Saver(str(tmp_path / "out"))
    saver.prepare()
    return saver


def save(session: requests.Session, saver: Saver, url: str, name: str = "f", **kw: Any) -> Any:
    response = session.get(url, stream=True, timeout=kw.pop("timeout", LONG), **kw)
    return saver.save(response, os.path.join(saver.root, name))


@pytest.mark.parametrize("size", [1, 1000, 65_537, MIB - 1, 3 * MIB + 7])
def test_a_body_is_spliced_byte_exact_and_its_connection_reused(
    server: LoopbackServer, saver: Saver, splices: list[int], size: int
) -> None:
    url = server.url + body(n=size)
    server.reset()
    with requests.Session() as session:
        expected = session.get(url, timeout=LONG).content
        for n in range(3):
            saved = save(session, saver, url, f"f{n}")
            assert saved.bytes == size
            assert Path(saved.path).read_bytes() == expected == payload("bin", size)
    assert server.counters.connections == 1  # requests' read and the three saves: one
    assert saver.written == 3 * size
    # What http.client had buffered is written first; the rest was spliced.
    if size > 64 * 1024:
        assert sum(splices) >= 3 * 2 * (size - 64 * 1024)  # into the pipe and out of it


@pytest.mark.parametrize(
    "recipe",
    [
        {"enc": "gzip"},  # urllib3 decodes it
        {"enc": "deflate"},
        {"chunk": 70_000},  # no Content-Length
        {"n": 0},  # nothing to move
        {"status": 204},
    ],
)
def test_other_bodies_take_the_ordinary_path(
    server: LoopbackServer, saver: Saver, splices: list[int], recipe: dict[str, Any]
) -> None:
    url = server.url + body(**{"n": 200_000, **recipe})
    with requests.Session() as session:
        expected = session.get(url, timeout=LONG).content
        saved = Saver(saver.root, save_errors=True).save(
            session.get(url, stream=True, timeout=LONG), os.path.join(saver.root, "f")
        )
    assert splices == []
    assert Path(saved.path).read_bytes() == expected


def test_a_mocked_body_takes_the_ordinary_path(saver: Saver, splices: list[int]) -> None:
    response = requests.Response()
    response.status_code = 200
    response.raw = io.BytesIO(b"abc")
    response.request = requests.Request("GET", "http://h.invalid/").prepare()
    response.url = "http://h.invalid/f"
    assert splicing.splice_body(response, -1, print) is None
    assert saver.save(response, os.path.join(saver.root, "f")).bytes == 3
    assert splices == []


def test_a_body_cut_short_raises_what_requests_raises(
    server: LoopbackServer, saver: Saver, splices: list[int]
) -> None:
    url = server.url + body(n=3 * MIB, cut=MIB + 5)
    with requests.Session() as session:
        with pytest.raises(ChunkedEncodingError):
            session.get(url, timeout=LONG)
        server.reset()
        with pytest.raises(ChunkedEncodingError, match="ended after 1048581 of 3145728"):
            save(session, saver, url)
        assert session.get(server.url + "/echo", timeout=LONG).ok
    assert splices  # the spliced path raised it
    assert os.listdir(saver.root) == []
    assert server.counters.connections == 2  # the cut one was not reused


def test_a_stall_past_the_read_timeout_raises_connection_error(
    server: LoopbackServer, saver: Saver, splices: list[int]
) -> None:
    url = server.url + body(n=3 * MIB, stall="splice")
    with requests.Session() as session:
        server.reset()
        try:
            with pytest.raises(ConnectionError, match="Read timed out"):
                save(session, saver, url, timeout=(LONG, SHORT))
        finally:
            server.release("splice")
        assert session.get(server.url + "/echo", timeout=LONG).ok
    assert splices
    assert os.listdir(saver.root) == []
    assert server.counters.connections == 2  # the stalled one was not reused


@pytest.mark.parametrize("size", [1000, 3 * MIB])  # all buffered, and mostly spliced
def test_a_file_that_cannot_be_written_raises_os_error_and_drops_the_connection(
    server: LoopbackServer, size: int
) -> None:
    url = server.url + body(n=size)
    with requests.Session() as session, open("/dev/full", "wb") as full:
        server.reset()
        response = session.get(url, stream=True, timeout=LONG)
        with pytest.raises(OSError) as raised:
            splicing.splice_body(response, full.fileno(), lambda n: None)
        assert not isinstance(raised.value, requests.RequestException)
        response.close()
        assert session.get(server.url + "/echo", timeout=LONG).ok
    assert server.counters.connections == 2


def test_the_body_written_is_the_one_requests_reads(server: LoopbackServer, saver: Saver) -> None:
    # Text, not only the generated bytes: a body of known content.
    url = server.url + body(kind="text", n=500_000)
    with requests.Session() as session:
        saved = save(session, saver, url)
    assert Path(saved.path).read_bytes() == payload("text", 500_000)


@pytest.mark.parametrize("spliced", [True, False])
def test_fetch_deadline_ends_a_stalled_body_on_either_path(
    server: LoopbackServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    splices: list[int],
    spliced: bool,
) -> None:
    monkeypatch.setattr(splicing, "AVAILABLE", spliced)
    name = f"deadline-{spliced}"
    try:
        url = server.url + body(n=3 * MIB, stall=name)
        argv = ["fetch", "--no-progress", "--deadline", str(SHORT), "-O", str(tmp_path)]
        status = main([*argv, url])
    finally:
        server.release(name)
    (line,) = records(capsys.readouterr().out)
    assert status == 1
    assert (line["error"], line["path"]) == ("DeadlineExceeded", None)
    assert bool(splices) is spliced
    assert os.listdir(tmp_path) == []
