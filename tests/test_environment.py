"""The environment lookups FuturesSession caches still follow every change.

Each test warms the cache with two requests, changes one input (a proxy
variable, NO_PROXY, a CA-bundle variable, the netrc file), and checks that the
very next request follows the change, as plain ``requests`` would.
"""

from __future__ import annotations

import base64
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import requests.sessions
import trustme

from requests_futures import FuturesSession, _environment

from .conftest import LONG
from .server import LoopbackServer

_PROXY_VARIABLES = [k for k in os.environ if k.lower().endswith("_proxy")]
_VARIABLES = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC", *_PROXY_VARIABLES]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, CA-bundle or netrc setting from the machine running the tests."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="module")
def _proxy() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    yield server
    server.stop()


@pytest.fixture
def proxy(_proxy: LoopbackServer) -> LoopbackServer:
    """A second loopback server, standing in for an HTTP proxy.

    A plain HTTP proxy is sent the request line with the absolute URL; this
    server answers it itself, so its request counter shows what went through.
    """
    _proxy.reset()
    return _proxy


@pytest.fixture
def session() -> Iterator[FuturesSession]:
    with FuturesSession(max_workers=2) as session:
        yield session


def _get(session: FuturesSession, url: str) -> requests.Response:
    return session.get(url).result(timeout=LONG)


def _seen(server: LoopbackServer, proxy: LoopbackServer) -> tuple[int, int]:
    return server.counters.requests, proxy.counters.requests


def test_http_proxy_set_and_unset_between_requests(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    _get(session, url)
    _get(session, url)
    assert _seen(server, proxy) == (2, 0)

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    assert _get(session, url).status_code == 200
    assert _seen(server, proxy) == (2, 1)
    _get(session, url)
    assert _seen(server, proxy) == (2, 2)

    monkeypatch.delenv("HTTP_PROXY")
    _get(session, url)
    assert _seen(server, proxy) == (3, 2)


def test_lowercase_proxy_variable_changed_between_requests(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    monkeypatch.setenv("http_proxy", proxy.url)
    _get(session, url)
    _get(session, url)
    assert _seen(server, proxy) == (0, 2)
    # A proxy nobody listens on: the request now fails, as requests' would.
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with pytest.raises(requests.exceptions.ProxyError):
        _get(session, url)
    with pytest.raises(requests.exceptions.ProxyError):
        requests.Session().get(url, timeout=LONG)


def test_https_proxy_variable_is_read_for_https_urls_only(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    _get(session, server.url + "/echo")
    assert _seen(server, proxy) == (1, 0)
    monkeypatch.setenv("ALL_PROXY", proxy.url)
    _get(session, server.url + "/echo")
    assert _seen(server, proxy) == (1, 1)


def test_no_proxy_set_and_unset_between_requests(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    _get(session, url)
    _get(session, url)
    assert _seen(server, proxy) == (0, 2)

    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    _get(session, url)
    assert _seen(server, proxy) == (1, 2)

    monkeypatch.setenv("NO_PROXY", "localhost")
    _get(session, url)
    assert _seen(server, proxy) == (1, 3)


def test_no_proxy_passed_in_proxies_is_honoured_per_call(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    session.get(url, proxies={"no_proxy": "127.0.0.1"}).result(timeout=LONG)
    _get(session, url)
    session.get(url, proxies={"no_proxy": "127.0.0.1"}).result(timeout=LONG)
    assert _seen(server, proxy) == (2, 1)


def test_trust_env_off_ignores_the_environment(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    session.trust_env = False
    _get(session, server.url + "/echo")
    assert _seen(server, proxy) == (1, 0)


# --- CA bundles ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[str, trustme.CA]]:
    """An HTTPS loopback server whose certificate only a trustme CA signs."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = LoopbackServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/echo", ca
    server.stop()


def test_ca_bundle_variables_changed_between_requests(
    session: FuturesSession,
    tls: tuple[str, trustme.CA],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, ca = tls
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    assert _get(session, url).status_code == 200
    assert _get(session, url).status_code == 200

    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        _get(session, url)

    monkeypatch.setenv("CURL_CA_BUNDLE", str(bundle))
    assert _get(session, url).status_code == 200

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(OSError, match="CA certificate bundle"):
        _get(session, url)


# --- netrc --------------------------------------------------------------------------------


def _user(response: requests.Response) -> str | None:
    header = response.json()["headers"].get("Authorization")
    if header is None:
        return None
    return base64.b64decode(header.split()[1]).decode()


def _netrc(path: Path, login: str, password: str) -> None:
    path.write_text(f"machine 127.0.0.1 login {login} password {password}\n")


def test_netrc_contents_changed_between_requests(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    _netrc(netrc, "alice", "one")
    monkeypatch.setenv("NETRC", str(netrc))
    url = server.url + "/echo"
    assert _user(_get(session, url)) == "alice:one"
    assert _user(_get(session, url)) == "alice:one"

    _netrc(netrc, "alice", "two")  # same size, and most likely the same mtime tick
    assert _user(_get(session, url)) == "alice:two"

    # Same size, modification time put back: the change time still moves.
    stat = netrc.stat()
    _netrc(netrc, "alice", "six")
    os.utime(netrc, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _user(_get(session, url)) == "alice:six"

    netrc.unlink()
    assert _user(_get(session, url)) is None


def test_netrc_read_once_while_unchanged(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    _netrc(netrc, "alice", "one")
    old = netrc.stat().st_mtime_ns - 10 * _environment.RACY_NS
    os.utime(netrc, ns=(old, old))
    monkeypatch.setenv("NETRC", str(netrc))
    reads = []
    real = _environment._get_netrc_auth

    def counting(url: str) -> Any:
        reads.append(url)
        return real(url)

    monkeypatch.setattr(_environment, "_get_netrc_auth", counting)
    # The file's change time is recent (utime sets it): wait until it is not.
    monkeypatch.setattr(_environment, "RACY_NS", 0)
    for _ in range(3):
        assert _user(_get(session, server.url + "/echo")) == "alice:one"
    assert len(reads) == 1


def test_netrc_variable_and_home_changed_between_requests(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    home = tmp_path / "home"
    home.mkdir()
    _netrc(home / ".netrc", "home", "pw")
    assert _user(_get(session, url)) == "home:pw"
    assert _user(_get(session, url)) == "home:pw"

    other = tmp_path / "other"
    _netrc(other, "other", "pw")
    monkeypatch.setenv("NETRC", str(other))
    assert _user(_get(session, url)) == "other:pw"

    monkeypatch.delenv("NETRC")
    monkeypatch.setenv("HOME", str(tmp_path))  # no netrc there
    assert _user(_get(session, url)) is None


def test_explicit_auth_wins_over_netrc(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    _netrc(netrc, "alice", "one")
    monkeypatch.setenv("NETRC", str(netrc))
    response = session.get(server.url + "/echo", auth=("bob", "pw")).result(timeout=LONG)
    assert _user(response) == "bob:pw"
    session.auth = ("carol", "pw")
    assert _user(_get(session, server.url + "/echo")) == "carol:pw"


def test_url_credentials_still_apply_when_netrc_has_none(
    session: FuturesSession, server: LoopbackServer
) -> None:
    url = server.url.replace("//", "//dave:pw@", 1) + "/echo"
    assert _user(_get(session, url)) == "dave:pw"
    # A falsy auth is treated as none, as requests does.
    assert _user(session.get(url, auth=()).result(timeout=LONG)) == "dave:pw"


# --- stand-aside and agreement with requests ----------------------------------------------


def test_replaced_requests_lookup_is_used_not_the_cache(
    session: FuturesSession, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(requests.sessions, "get_netrc_auth", lambda url: ("mock", "pw"))
    assert _user(_get(session, server.url + "/echo")) == "mock:pw"


def test_proxies_looked_up_once_while_environment_unchanged(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    lookups = []
    real = _environment._get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> Any:
        lookups.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(_environment, "_get_environ_proxies", counting)
    for _ in range(3):
        _get(session, server.url + "/echo")
    assert len(lookups) == 1
    assert _seen(server, proxy) == (0, 3)


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"HTTP_PROXY": "http://127.0.0.1:3128", "NO_PROXY": "example.org"},
        {"https_proxy": "http://127.0.0.1:3128", "ALL_PROXY": "socks5://127.0.0.1:1080"},
        {"HTTP_PROXY": "http://127.0.0.1:3128", "no_proxy": "*"},
        {"REQUESTS_CA_BUNDLE": "/tmp/a.pem", "CURL_CA_BUNDLE": "/tmp/b.pem"},
        {"CURL_CA_BUNDLE": ""},
    ],
)
@pytest.mark.parametrize(
    "call",
    [
        {"url": "http://127.0.0.1:8000/x", "proxies": {}, "verify": None},
        {"url": "https://example.org/x", "proxies": {}, "verify": True},
        {"url": "http://example.org:81/", "proxies": {"no_proxy": "example.org"}, "verify": False},
        {"url": "http://[::1]:8000/", "proxies": {"http": "http://px.invalid:1"}, "verify": "/ca"},
        {"url": "file:///etc/hosts", "proxies": None, "verify": None},
    ],
)
def test_settings_equal_requests_own(
    environment: dict[str, str], call: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    ours = FuturesSession(max_workers=1)
    theirs = requests.Session()
    for session in (ours, theirs):
        session.proxies = {"ftp": "http://127.0.0.1:21"}
        session.verify = True

    def settings(session: requests.Session) -> Any:
        proxies = dict(call["proxies"]) if call["proxies"] is not None else None
        return session.merge_environment_settings(call["url"], proxies, None, call["verify"], None)

    for _ in range(2):  # the second call is answered from the cache
        assert settings(ours) == settings(theirs)
    ours.close()


def test_environment_changed_by_another_thread_is_seen(
    session: FuturesSession,
    server: LoopbackServer,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = server.url + "/echo"
    _get(session, url)
    changer = threading.Thread(target=monkeypatch.setenv, args=("HTTP_PROXY", proxy.url))
    changer.start()
    changer.join(LONG)
    _get(session, url)
    assert _seen(server, proxy) == (1, 1)


# --- the cache's own edges ----------------------------------------------------------------


def test_invalid_urls_fail_as_in_requests() -> None:
    ours, theirs = FuturesSession(max_workers=1), requests.Session()
    for session in (ours, theirs):
        with pytest.raises(ValueError):
            session.merge_environment_settings("http://[::1/", {}, None, None, None)
        with pytest.raises(ValueError):
            session.prepare_request(requests.Request("GET", "http://[::1/"))
    ours.close()


def test_environment_changed_during_a_lookup_is_not_remembered(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    session = FuturesSession(max_workers=1)
    url = "http://127.0.0.1:1/"
    lookups: list[str] = []
    real_proxies = _environment._get_environ_proxies

    def proxies_then_change(url: str, no_proxy: str | None = None) -> Any:
        lookups.append(url)
        os.environ["REQUESTS_FUTURES_TEST"] = str(len(lookups))
        return real_proxies(url, no_proxy=no_proxy)

    monkeypatch.setenv("REQUESTS_FUTURES_TEST", "0")
    monkeypatch.setattr(_environment, "_get_environ_proxies", proxies_then_change)
    session.merge_environment_settings(url, {}, None, None, None)
    session.merge_environment_settings(url, {}, None, None, None)
    assert len(lookups) == 2

    netrc = tmp_path / "netrc"
    _netrc(netrc, "alice", "one")
    old = netrc.stat().st_mtime_ns - 10 * _environment.RACY_NS
    monkeypatch.setattr(_environment, "RACY_NS", 0)
    monkeypatch.setenv("NETRC", str(netrc))
    reads: list[str] = []
    real_netrc = _environment._get_netrc_auth

    def netrc_then_touch(url: str) -> Any:
        reads.append(url)
        os.utime(netrc, ns=(old, old + len(reads)))
        return real_netrc(url)

    monkeypatch.setattr(_environment, "_get_netrc_auth", netrc_then_touch)
    for _ in range(2):
        prepared = session.prepare_request(requests.Request("GET", url))
        assert prepared.headers["Authorization"].startswith("Basic ")
    assert len(reads) == 2
    session.close()


def test_environment_changed_while_taking_the_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = os.path.expanduser

    def expand_and_change(path: str) -> str:
        os.environ["REQUESTS_FUTURES_TEST"] = path
        return real(path)

    monkeypatch.setenv("REQUESTS_FUTURES_TEST", "")
    monkeypatch.setattr(os.path, "expanduser", expand_and_change)
    monkeypatch.setattr(_environment.environment, "_snapshot", None)
    assert _environment.environment.current() is None
    monkeypatch.setattr(os.path, "expanduser", real)
    assert _environment.environment.current() is not None


def test_many_hosts_start_the_cache_over(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(_environment, "MAX_HOSTS", 2)
    netrc = tmp_path / "netrc"
    _netrc(netrc, "alice", "one")
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setattr(_environment, "RACY_NS", -(2**62))
    session = FuturesSession(max_workers=1)
    for port in range(1, 6):
        url = f"http://127.0.0.{port}:{port}/"
        session.merge_environment_settings(url, {}, None, None, None)
        auth = session.prepare_request(requests.Request("GET", url)).headers.get("Authorization")
        assert (auth is not None) == (port == 1)
    snapshot = _environment.environment.current()
    assert snapshot is not None
    assert 1 <= len(snapshot.proxies) <= 2
    assert 1 <= len(snapshot.netrc) <= 2
    session.close()


def test_netrc_created_in_home_after_requests_without_one(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_environment, "RACY_NS", -(2**62))  # trust every time stamp
    home = tmp_path / "home"
    home.mkdir()
    old = home.stat().st_mtime_ns - 10**10
    os.utime(home, ns=(old, old))
    url = server.url + "/echo"
    assert _user(_get(session, url)) is None
    assert _user(_get(session, url)) is None
    snapshot = _environment.environment.current()
    assert snapshot is not None
    assert snapshot.netrc_absent is not None  # one stat of home now stands for both

    _netrc(home / ".netrc", "late", "pw")
    os.utime(home, ns=(old + 10**9, old + 10**9))  # a distinct time, whatever the clock tick
    assert _user(_get(session, url)) == "late:pw"


def test_dangling_netrc_symlink_is_checked_every_time(
    session: FuturesSession,
    server: LoopbackServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_environment, "RACY_NS", -(2**62))
    home = tmp_path / "home"
    home.mkdir()
    target = tmp_path / "elsewhere" / "netrc"
    (home / ".netrc").symlink_to(target)
    url = server.url + "/echo"
    assert _user(_get(session, url)) is None
    assert _user(_get(session, url)) is None
    target.parent.mkdir()
    _netrc(target, "linked", "pw")  # home itself does not change
    assert _user(_get(session, url)) == "linked:pw"
