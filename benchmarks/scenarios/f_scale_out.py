"""F, scale-out: a CPU-heavy ``background_callback`` in threads, processes, Dask.

Every response is a JSON document of 5,000 records (about 360 KiB); its
callback parses it and adds up a field in Python, holding the interpreter
lock for milliseconds.  C threads take turns on that lock; C worker processes
(or a Dask LocalCluster of C single-threaded workers) run it on C cores at
once and send back only a tuple.  Pools and the cluster are started and
warmed up before the clock starts, as a long-running program would.  C is the
machine's core count: more workers than cores cannot help CPU-bound work.
"""

from __future__ import annotations

import os

from ..server import json_document
from . import Scenario

RECORDS = 5000
CORES = os.cpu_count() or 2

SCENARIOS = [
    Scenario(
        key="F",
        title=f"F CPU-heavy background_callback, C={CORES} (JSON of {RECORDS:,} records)",
        n=400,
        quick_n=40,
        c=CORES,
        path=f"/json?records={RECORDS}",
        size=len(json_document(RECORDS)),
        contenders=("futures-cpu-threads", "futures-cpu-processes", "futures-cpu-dask"),
        baseline="futures-cpu-threads",
        columns=("time", "req/s", "ratio", "connections", "CPU us/req"),
        note="ratio > 1: faster than threads; CPU us/req is the calling process's own",
    ),
]
