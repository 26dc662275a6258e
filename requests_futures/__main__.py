"""``python -m requests_futures``: the command-line tool (see :mod:`requests_futures._cli`)."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
