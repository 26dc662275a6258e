"""One session's cookie jar shared by 64 workers that receive and send cookies."""

from __future__ import annotations

from concurrent.futures import Future

import requests

from requests_futures import FuturesSession

from ..conftest import LONG
from ..server import LoopbackServer

WORKERS = 64
REQUESTS = 640
NAMES = 16  # cookies set, replaced and deleted over and over


def _sent(response: requests.Response) -> dict[str, str]:
    """The cookies the server received, from its echo."""
    header: str = response.json()["cookies"]
    pairs = [pair.split("=", 1) for pair in header.split("; ") if pair]
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a cookie was sent twice: {header}"
    return dict(pairs)  # type: ignore[arg-type]


def test_64_workers_share_one_cookie_jar(server: LoopbackServer) -> None:
    futures: list[tuple[int, Future[requests.Response]]] = []
    with FuturesSession(max_workers=WORKERS) as session:
        for i in range(REQUESTS):
            name, kind = f"k{i % NAMES}", i % 4
            if kind == 0:  # set or replace
                url = f"{server.url}/cookies/set?{name}=v{i}"
            elif kind == 1:  # send what the jar holds
                url = f"{server.url}/cookies"
            elif kind == 2:  # delete
                url = f"{server.url}/cookies/set?{name}=gone&Max-Age=0"
            else:  # a new cookie that stays
                url = f"{server.url}/cookies/set?fresh{i}=x"
            futures.append((kind, session.get(url)))
        for kind, future in futures:
            response = future.result(timeout=LONG)
            assert response.status_code == 200
            if kind == 1:
                sent = _sent(response)
                assert all(value == "x" for name, value in sent.items() if name[0] == "f")
                assert all(value[0] == "v" for name, value in sent.items() if name[0] == "k")

        jar = session.cookies
        keys = [(c.domain, c.path, c.name) for c in jar]
        assert len(keys) == len(set(keys)) == len(jar)
        held = jar.get_dict()  # one value per name: no conflicting duplicates
        fresh = {f"fresh{i}" for i in range(REQUESTS) if i % 4 == 3}
        assert {name for name in held if name.startswith("fresh")} == fresh
        assert {name for name in held if name.startswith("k")} <= {f"k{n}" for n in range(NAMES)}
        assert "gone" not in held.values()
        # What the jar holds is exactly what the next request sends.
        final = session.get(f"{server.url}/cookies").result(timeout=LONG)
        assert _sent(final) == held
