"""``python -m benchmarks``: see benchmarks/runner.py and docs/benchmarks.rst."""

from __future__ import annotations

import sys

from .runner import main

sys.exit(main())
