"""H, downloads: 200 files of 1 MiB each, streamed to disk, 8 at a time.

``requests-futures fetch --save`` against ``curl --parallel --parallel-max 8``
(when curl is installed) and a hand-rolled ``ThreadPoolExecutor`` of
``requests`` with an ``iter_content`` writer.  ``RSS MiB`` is the peak memory
above the process's baseline; for curl, its whole peak (it starts from
nothing), so curl's figure is the larger one for that reason alone.

``H-8MiB`` moves the same 200 MiB as 25 files of 8 MiB: what a client costs
per request (about a millisecond of CPU for ``requests``, whatever the body)
weighs eight times less there, so it shows how fast each one moves bytes.
``--scenario H`` runs both; ``--scenario H-8`` only the second.
"""

from __future__ import annotations

from . import Scenario

SIZE = 2**20

SCENARIOS = [
    Scenario(
        key="H",
        title="H downloads, C=8 (1 MiB files streamed to disk)",
        n=200,
        quick_n=20,
        c=8,
        path=f"/bytes?n={SIZE}",
        size=SIZE,
        contenders=("cli-save", "curl-parallel", "threadpool-save"),
        baseline="threadpool-save",
        columns=("time", "MiB/s", "ratio", "RSS MiB", "connections"),
    ),
    Scenario(
        key="H-8MiB",
        title="H downloads, C=8 (8 MiB files streamed to disk)",
        n=25,
        quick_n=4,
        c=8,
        path=f"/bytes?n={8 * SIZE}",
        size=8 * SIZE,
        contenders=("cli-save", "curl-parallel", "threadpool-save"),
        baseline="threadpool-save",
        columns=("time", "MiB/s", "ratio", "RSS MiB", "connections"),
    ),
]
