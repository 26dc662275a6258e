"""The command line's option types (the parser as a whole is tested through ``main``)."""

from __future__ import annotations

import pytest

from requests_futures._cli import parser as _arguments


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("4", 4.0), ("0.5", 0.5), ("4/s", 4.0), ("120/m", 2.0), ("7200/H", 2.0), ("1 / m", 1 / 60)],
)
def test_rate_units(text: str, per_second: float) -> None:
    assert _arguments._rate(text) == pytest.approx(per_second)
