from __future__ import annotations

import concurrent.futures
import subprocess
import sys

import requests

import requests_futures
from requests_futures import FuturesSession
from requests_futures.sessions import FuturesSession as ClassicFuturesSession


def test_all_is_exactly_the_public_surface() -> None:
    assert sorted(requests_futures.__all__) == [
        "DeadlineExceeded",
        "Future",
        "FuturesSession",
        "HostStats",
        "__version__",
    ]


def test_classic_and_new_import_paths_are_the_same_class() -> None:
    assert ClassicFuturesSession is FuturesSession
    assert issubclass(FuturesSession, requests.Session)


def test_version_is_a_string() -> None:
    assert isinstance(requests_futures.__version__, str)
    assert requests_futures.__version__[0].isdigit()


def test_deadline_exceeded_is_a_requests_timeout() -> None:
    assert issubclass(requests_futures.DeadlineExceeded, requests.exceptions.Timeout)


def test_future_is_a_concurrent_future() -> None:
    assert issubclass(requests_futures.Future, concurrent.futures.Future)


def test_import_stays_light() -> None:
    """``import requests_futures`` loads no optional extra, no CLI, no asyncio."""
    cli = ["requests_futures._cli", "requests_futures._cli.parser", "requests_futures._cli.ctrl_c"]
    heavy = ["asyncio", "dask", "distributed", "tqdm", *cli, "multiprocessing"]
    code = (
        f"import sys, requests_futures; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == []
