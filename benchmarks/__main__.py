"""``python -m benchmarks``: see benchmarks/runner.py and README.rst, "Benchmarks"."""

from __future__ import annotations

import sys

from .runner import main

sys.exit(main())
