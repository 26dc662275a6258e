"""The ``requests-futures`` command: ``fetch`` many URLs at once, or run the ``demo``.

::

    requests-futures fetch -i urls.txt -w 16 -o results.jsonl
    python -m requests_futures demo

:func:`main` takes the arguments as a list, so it can be called in-process.
Its parts: :mod:`.parser` (the options and their checks), :mod:`.fetch` (the
``fetch`` command), :mod:`.saving` (``--save``, names from :mod:`.naming`; :mod:`.splicing` and
:mod:`.unnamed` on Linux),
:mod:`.report` (progress and the summary), :mod:`.ctrl_c` (what makes
Ctrl-C stop at once) and :mod:`.demo`.  Nothing here is imported by ``import requests_futures``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import fetch
from .parser import INTERRUPTED, USAGE, build_parser

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.n, args.delay_ms, args.workers, sys.stdout)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"fetch": fetch.run, "demo": _demo}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    0: success; 1: some requests failed; 2: bad usage; 130: interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return USAGE
        status = _COMMANDS[args.command](args)
    except SystemExit as exc:  # argparse: --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else USAGE
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return INTERRUPTED
    return status
