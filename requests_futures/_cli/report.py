"""What ``requests-futures fetch`` reports: the counts, the summary, the progress display.

::

    stats = Stats(saver)
    progress = PlainProgress(sys.stderr, total=100)
    stats.add(record)  # each JSON line written
    progress.update(stats)
    print("\\n".join(stats.summary()), file=sys.stderr)
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from .saving import Saver


def requests_text(count: int) -> str:
    return f"{count} request" if count == 1 else f"{count} requests"


def percentile(ordered: Sequence[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


def mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


class Stats:
    """What the summary and the progress display report."""

    def __init__(
        self, saver: Saver | None = None, *, retrying: bool = False, deadline: bool = False
    ) -> None:
        self.started = time.perf_counter()
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.saver = saver
        self.saved = 0
        self.skipped = 0
        self.retrying = retrying
        self.retries = 0
        self.deadline = deadline  # whether requests have one: the summary counts those it ended
        self.connections: int | None = None  # opened by the session, once it is closed

    @property
    def done(self) -> int:
        return self.statuses.total() + self.errors.total() + self.skipped

    @property
    def failed(self) -> int:
        return self.errors.total()

    @property
    def bytes_saved(self) -> int:
        return 0 if self.saver is None else self.saver.written

    def add(self, record: dict[str, Any]) -> None:
        self.retries += max(0, record.get("attempts", 1) - 1)
        if record.get("skipped"):
            self.skipped += 1
        elif record["error"] is None:
            self.statuses[record["status"]] += 1
            self.latencies.append(record["elapsed_ms"])
            self.saved += record.get("path") is not None
        else:
            self.errors[record["error"]] += 1

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def summary(self) -> list[str]:
        elapsed = self.elapsed()
        sent = self.done - self.skipped
        rate = sent / elapsed if elapsed > 0 else 0.0
        responses = self.statuses.total()
        lines = [
            f"summary: {requests_text(sent)} in {elapsed:.2f} s ({rate:.1f} requests/s)",
            f"  responses: {responses}"
            + "".join(f"\n    status {code}: {n}" for code, n in sorted(self.statuses.items())),
            f"  failed: {self.failed}"
            + "".join(f"\n    {name}: {n}" for name, n in sorted(self.errors.items())),
        ]
        if self.connections is not None:
            lines.append(f"  connections opened: {self.connections} for {requests_text(sent)}")
        if self.retrying:
            lines.append(f"  retries: {self.retries}")
        if self.deadline:
            lines.append(f"  ended by their deadline: {self.errors['DeadlineExceeded']}")
        if self.saver is not None:
            size = self.bytes_saved
            speed = size / elapsed if elapsed > 0 else 0.0
            files = "1 file" if self.saved == 1 else f"{self.saved} files"
            lines.append(f"  saved: {files}, {mib(size)} ({mib(speed)}/s)")
        if self.skipped:
            lines.append(f"  skipped, already saved: {self.skipped}")
        if self.latencies:
            ordered = sorted(self.latencies)
            lines.append(
                "  latency of responses: "
                + ", ".join(f"p{p} {percentile(ordered, p):.1f} ms" for p in (50, 95, 99))
            )
        return lines


class Progress(Protocol):
    def update(self, stats: Stats) -> None:
        """A URL is done."""

    def tick(self, stats: Stats) -> None:
        """Nothing is done yet, but bytes may have been saved."""

    def close(self, stats: Stats) -> None: ...


class NoProgress:
    def update(self, stats: Stats) -> None:
        pass

    def tick(self, stats: Stats) -> None:
        pass

    def close(self, stats: Stats) -> None:
        pass


class PlainProgress:
    """One line to the stream at most every ``interval`` seconds, and one at the end."""

    def __init__(self, stream: IO[str], total: int | None, interval: float = 1.0) -> None:
        self.stream = stream
        self.total = total
        self.interval = interval
        self.last = time.monotonic()
        self.shown: tuple[int, int] | None = None

    def _show(self, stats: Stats) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        saved = ""
        if stats.saver is not None:
            elapsed = stats.elapsed()
            speed = stats.bytes_saved / elapsed if elapsed > 0 else 0.0
            saved = f", {mib(stats.bytes_saved)} saved ({mib(speed)}/s)"
        self.stream.write(
            f"progress: {stats.done}{of} done, {stats.failed} failed, "
            f"{stats.rate():.1f} requests/s{saved}\n"
        )
        self.stream.flush()
        self.shown = (stats.done, stats.bytes_saved)
        self.last = time.monotonic()

    def update(self, stats: Stats) -> None:
        if time.monotonic() - self.last >= self.interval:
            self._show(stats)

    tick = update

    def close(self, stats: Stats) -> None:
        if self.shown != (stats.done, stats.bytes_saved):
            self._show(stats)


class BarProgress:
    """A tqdm bar: done/total (when known), rate, and failures so far.

    When saving, a second bar counts the bytes saved and their rate.
    """

    def __init__(self, stream: IO[str], total: int | None, saving: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="req", file=stream, dynamic_ncols=True, desc="fetch")
        self.bytes = None
        if saving:
            self.bytes = tqdm(
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=stream,
                dynamic_ncols=True,
                desc="saved",
                position=1,
            )

    def tick(self, stats: Stats) -> None:
        if self.bytes is not None:
            self.bytes.update(stats.bytes_saved - self.bytes.n)

    def update(self, stats: Stats) -> None:
        self.tick(stats)
        self.bar.set_postfix(failed=stats.failed, refresh=False)
        self.bar.update(1)

    def close(self, stats: Stats) -> None:
        self.tick(stats)
        self.bar.close()
        if self.bytes is not None:
            self.bytes.close()
