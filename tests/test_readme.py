"""Every ``.. code-block:: python`` example in README.rst runs as written.

Each block runs in a fresh namespace with ``http://127.0.0.1:8000`` replaced
by the loopback test server's URL.  A block that truly cannot run is marked
with an RST comment starting ``.. not-run`` directly above it, saying why.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from .server import LoopbackServer

README = Path(__file__).resolve().parent.parent / "README.rst"
PLACEHOLDER = "http://127.0.0.1:8000"
DIRECTIVE = ".. code-block:: python"
NOT_RUN = ".. not-run"


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the directive in README.rst
    source: str  # padded with blank lines so tracebacks show README line numbers
    skipped: bool


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


def extract_blocks(text: str) -> list[Block]:
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
        blocks.append(Block(index + 1, source, _marked_not_run(lines, index)))
    return blocks


BLOCKS = extract_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_examples() -> None:
    assert len([b for b in BLOCKS if not b.skipped]) >= 10


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


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.rst:{b.line}" for b in BLOCKS])
def test_readme_example_runs(block: Block, server: LoopbackServer) -> None:
    if block.skipped:
        pytest.skip(f"README.rst:{block.line} is marked {NOT_RUN}")
    source = block.source.replace(PLACEHOLDER, server.url)
    code = compile(source, str(README), "exec")
    # Run as a script is: examples guarded by ``if __name__ == "__main__"`` run.
    namespace: dict[str, Any] = {"__name__": "__main__"}
    try:
        exec(code, namespace)
    except Exception as exc:
        raise AssertionError(
            f"the example at README.rst line {block.line} failed: {exc!r}"
        ) from exc
    finally:
        # Short examples may leave a session open, as scripts do; close it
        # here so its pooled sockets and worker threads do not outlive the test.
        for value in namespace.values():
            if isinstance(value, requests.Session):
                value.close()


SCRIPTS = [b for b in BLOCKS if not b.skipped and "ProcessPoolExecutor" in b.source]


@pytest.mark.parametrize("block", SCRIPTS, ids=[f"README.rst:{b.line}" for b in SCRIPTS])
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
