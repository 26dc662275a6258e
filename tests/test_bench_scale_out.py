"""A smoke run of benchmarks/scale_out.py: it runs and prints its table.

The numbers are not asserted (they depend on the machine and its load).
"""

from __future__ import annotations

import pytest

from benchmarks import scale_out


def test_the_scale_out_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert scale_out.main(["-n", "6", "--runs", "1", "--only", "threads", "processes"]) == 0
    out = capsys.readouterr().out
    assert "ThreadPoolExecutor(" in out
    assert "ProcessPoolExecutor(" in out
    assert "1.00x" in out  # threads, the baseline
