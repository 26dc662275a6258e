"""Every ``.. code-block:: python`` example in README.rst and docs/ runs as written.

Each block runs in a fresh namespace with ``http://127.0.0.1:8000`` replaced
by the loopback test server's URL.  A block that truly cannot run is marked
with an RST comment starting ``.. not-run`` directly above it, saying why.
The command-line reference that docs/_ext/cli_reference.py makes from the
argument parser is checked here too: it names every option.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from .server import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.rst"
DOCS = ROOT / "docs"
PLACEHOLDER = "http://127.0.0.1:8000"
DIRECTIVE = ".. code-block:: python"
NOT_RUN = ".. not-run"


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the directive in its file
    source: str  # padded with blank lines so tracebacks show the file's line numbers
    skipped: bool
    path: Path | None = None

    @property
    def where(self) -> str:
        name = self.path.relative_to(ROOT).as_posix() if self.path else "?"
        return f"{name}:{self.line}"


def _marked_not_run(lines: list[str], index: int) -> bool:
    """Whether the directive at ``index`` follows a ``.. not-run`` comment.

    Walks up over blank lines and the comment's indented continuation lines
    to the nearest unindented line.
    """
    for line in reversed(lines[:index]):
        if not line.strip() or line[0].isspace():
            continue
        return line.startswith(NOT_RUN)
    return False


def extract_blocks(text: str, path: Path | None = None) -> list[Block]:
    lines = text.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if line.strip() != DIRECTIVE:
            continue
        indent = len(line) - len(line.lstrip())
        body: list[str] = []
        cursor = index + 1
        # Directive options (":linenos:" and the like), then the content.
        while cursor < len(lines) and lines[cursor].strip().startswith(":"):
            cursor += 1
        for content in lines[cursor:]:
            if content.strip() and len(content) - len(content.lstrip()) <= indent:
                break
            body.append(content)
        source = "\n" * cursor + textwrap.dedent("\n".join(body)).rstrip("\n") + "\n"
        blocks.append(Block(index + 1, source, _marked_not_run(lines, index), path))
    return blocks


PAGES = [README, *sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)]
BLOCKS = [
    block for page in PAGES for block in extract_blocks(page.read_text(encoding="utf-8"), page)
]


def test_the_docs_have_examples() -> None:
    assert len([b for b in BLOCKS if not b.skipped]) >= 25
    assert any(b.path == README and not b.skipped for b in BLOCKS)


def test_extract_blocks_reads_directives_options_and_not_run_marks() -> None:
    text = textwrap.dedent(
        """\
        Intro.

        .. code-block:: python

            a = 1
            if a:
                b = 2

        back to prose

        .. not-run: it needs a database
           that the tests do not have.

        .. code-block:: python
           :linenos:

           c = 3
        """
    )
    first, second = extract_blocks(text)
    assert first == Block(3, "\n" * 3 + "\na = 1\nif a:\n    b = 2\n", skipped=False)
    assert second == Block(14, "\n" * 15 + "\nc = 3\n", skipped=True)


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_example_runs(block: Block, server: LoopbackServer) -> None:
    if block.skipped:
        pytest.skip(f"{block.where} is marked {NOT_RUN}")
    source = block.source.replace(PLACEHOLDER, server.url)
    code = compile(source, str(block.path), "exec")
    # Run as a script is: examples guarded by ``if __name__ == "__main__"`` run.
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(code, namespace)
    except Exception as exc:
        raise AssertionError(f"the example at {block.where} failed: {exc!r}") from exc
    finally:
        # Short examples may leave a session open, as scripts do; close it
        # here so its pooled sockets and worker threads do not outlive the test.
        for value in namespace.values():
            if isinstance(value, requests.Session):
                value.close()


SCRIPTS = [b for b in BLOCKS if not b.skipped and "ProcessPoolExecutor" in b.source]


@pytest.mark.parametrize("block", SCRIPTS, ids=[b.where for b in SCRIPTS])
def test_process_pool_example_runs_as_a_script(
    block: Block, server: LoopbackServer, tmp_path: Path
) -> None:
    """Worker processes import the script (spawn): it must guard its main code."""
    script = tmp_path / "example.py"
    script.write_text(block.source.replace(PLACEHOLDER, server.url), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip(), "the example printed nothing"


def _cli_reference() -> ModuleType:
    pytest.importorskip("sphinx", reason="the docs extra is not installed")
    spec = importlib.util.spec_from_file_location("cli_reference", DOCS / "_ext/cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_names_every_option_of_every_command() -> None:
    from requests_futures._cli.parser import build_parser

    parser = build_parser()
    text = "\n".join(_cli_reference().reference(parser))
    commands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert commands, "the parser has no sub-commands"
    for name, command in commands[0].choices.items():
        assert f"``requests-futures {name}``" in text
        assert f".. program:: requests-futures {name}" in text
        for action in command._actions:
            for option in action.option_strings:
                assert f".. option:: {option}" in text or f", {option}" in text, option
    assert "(default: 8)" in text  # argparse's %(default)s, filled in
    assert "%(" not in text


def test_cli_reference_of_a_small_parser() -> None:
    parser = argparse.ArgumentParser(prog="tool", description="Does  things\nwell.")
    parser.add_argument("name", help="who *to* greet")
    parser.add_argument(
        "-n", "--count", type=int, default=3, metavar="N", help="times (%(default)s)"
    )
    parser.add_argument("--quiet", action="store_true", help="say less")
    parser.add_argument("--as", dest="kind", choices=["a", "b"], help="one of %(choices)s")
    lines = _cli_reference().reference(parser)
    text = "\n".join(lines)
    assert "   usage: tool [-h] [-n N] [--quiet] [--as {a,b}] name" in lines
    assert "Does things well." in lines
    assert ".. option:: name" in lines
    assert "   who \\*to\\* greet" in lines  # RST markup in help is escaped
    assert ".. option:: -n N, --count N" in lines
    assert "   times (3)" in lines
    assert ".. option:: --quiet" in lines
    assert ".. option:: --as {a,b}" in lines  # argparse's own form for choices
    assert "   one of a, b" in lines
    assert text.index(".. option:: name") < text.index(".. option:: --quiet")
