"""What ``requests`` reads from the environment, remembered until it changes.

With ``trust_env`` on (the default), every ``Session.request`` looks up the
proxy variables and ``NO_PROXY`` (scanning all of ``os.environ`` twice), the
CA-bundle variables and the netrc file.  On a loopback request that is about
a fifth of the CPU time, and the answers almost never change.

:class:`Environment` keeps those answers together with the exact inputs they
came from: a copy of ``os.environ`` and the ``stat`` of the netrc file.
Comparing the copy with the live ``os.environ`` (one C-level dict
comparison) and calling ``stat`` on the netrc candidates costs a few
microseconds, so any change, between two requests or in another thread, is
seen by the next request.  Answers are computed by ``requests``' own
functions, so they are what ``requests`` would have found.

The cache stands aside (every call goes straight to ``requests``) when the
platform reads proxies from elsewhere than the environment (macOS and
Windows system settings) or when ``requests``' lookups have been replaced,
e.g. by a test's mock.
"""

from __future__ import annotations

import copy
import os
import time
import urllib.request
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests.sessions
import requests.utils
from requests.sessions import Session

if TYPE_CHECKING:  # pragma: no cover
    from requests.models import PreparedRequest, Request

#: A netrc file written this recently (ns) is read again on every request:
#: file systems store times coarsely, so a rewrite of the same size within
#: this window might not change the ``stat`` we compare.
RACY_NS = 2_000_000_000

#: Most hosts remembered per environment; the cache starts over beyond it.
#: As many as a session keeps the connections of (``_pool_cache.MAX_BUDGET``):
#: a job going round more hosts than this would miss on every request.
MAX_HOSTS = 4096

# Typed loosely: the stubs of requests and of the standard library differ
# between versions in what they declare here.
_utils: Any = requests.utils
_sessions: Any = requests.sessions
_urllib: Any = urllib.request
merge_setting: Any = requests.sessions.merge_setting

# requests' lookups as imported: the cache stands aside if they are replaced.
_ORIGINAL_GET_ENVIRON_PROXIES = requests.utils.get_environ_proxies
_ORIGINAL_SHOULD_BYPASS_PROXIES = requests.utils.should_bypass_proxies
_ORIGINAL_GET_NETRC_AUTH = requests.utils.get_netrc_auth
# What the cache calls on a miss (tests wrap these to count the misses).
_get_environ_proxies = _ORIGINAL_GET_ENVIRON_PROXIES
_get_netrc_auth = _ORIGINAL_GET_NETRC_AUTH
_NETRC_FILES = getattr(requests.utils, "NETRC_FILES", (".netrc", "_netrc"))

# (the stat of the netrc file in use, or None) as a tuple key
_FileKey = tuple[str, int, int, int, int, int] | None


def _unpatched() -> bool:
    """Whether requests' environment lookups are the ones this cache mimics."""
    return (
        _sessions.get_environ_proxies is _ORIGINAL_GET_ENVIRON_PROXIES
        and _utils.get_environ_proxies is _ORIGINAL_GET_ENVIRON_PROXIES
        and _utils.should_bypass_proxies is _ORIGINAL_SHOULD_BYPASS_PROXIES
        and _utils.getproxies is _urllib.getproxies_environment
        and _utils.proxy_bypass is _urllib.proxy_bypass_environment
        and _sessions.get_netrc_auth is _ORIGINAL_GET_NETRC_AUTH
    )


class _Snapshot:
    """Answers valid for one exact copy of ``os.environ``."""

    __slots__ = (
        "ca_bundle",
        "environ",
        "netrc",
        "netrc_absent",
        "netrc_folder",
        "netrc_paths",
        "proxies",
    )

    def __init__(self, environ: dict[Any, Any]) -> None:
        self.environ = environ
        get = os.environ.get
        self.ca_bundle = get("REQUESTS_CA_BUNDLE") or get("CURL_CA_BUNDLE")
        netrc_file = get("NETRC")
        names = (netrc_file,) if netrc_file is not None else tuple(f"~/{f}" for f in _NETRC_FILES)
        self.netrc_paths = tuple(os.path.expanduser(name) for name in names)
        self.proxies: dict[tuple[str, str | None], dict[str, str]] = {}
        self.netrc: dict[tuple[_FileKey, str], tuple[str, str] | None] = {}
        parents = {os.path.dirname(path) for path in self.netrc_paths}
        #: The one folder all netrc candidates are in, if they share one.
        self.netrc_folder = parents.pop() if len(parents) == 1 else ""
        #: (dev, ino, mtime, ctime) of that folder when no candidate was in it.
        self.netrc_absent: tuple[int, int, int, int] | None = None


def _folder_key(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)


class Environment:
    """The environment lookups of ``requests``, cached and checked per call."""

    def __init__(self) -> None:
        self._snapshot: _Snapshot | None = None

    def current(self) -> _Snapshot | None:
        """The snapshot matching ``os.environ`` now, or None: do not cache."""
        live = getattr(os.environ, "_data", None)
        if type(live) is not dict or not _unpatched():
            return None
        snapshot = self._snapshot
        if snapshot is None or snapshot.environ != live:
            snapshot = _Snapshot(live.copy())
            if snapshot.environ != live:
                return None  # it changed while the snapshot read it
            self._snapshot = snapshot
        return snapshot

    @staticmethod
    def _still(snapshot: _Snapshot) -> bool:
        """Whether ``os.environ`` still matches ``snapshot`` (after a lookup)."""
        return getattr(os.environ, "_data", None) == snapshot.environ

    def proxies(self, snapshot: _Snapshot, url: str, no_proxy: str | None) -> dict[str, str]:
        """``requests.utils.get_environ_proxies(url, no_proxy)``, remembered.

        The answer depends on the URL's host and port only, so it is kept per
        ``netloc``.  The returned dict is shared: read it, do not change it.
        """
        try:
            key = (urlsplit(url).netloc, no_proxy)
            found = snapshot.proxies.get(key)
        except (TypeError, ValueError):
            return _get_environ_proxies(url, no_proxy=no_proxy)  # raises as requests does
        if found is None:
            found = _get_environ_proxies(url, no_proxy=no_proxy)
            if self._still(snapshot):
                if len(snapshot.proxies) >= MAX_HOSTS:
                    snapshot.proxies.clear()
                snapshot.proxies[key] = found
        return found

    def netrc_auth(self, snapshot: _Snapshot, url: str) -> tuple[str, str] | None:
        """``requests.utils.get_netrc_auth(url)``, remembered per file state.

        The file's identity, size and times are checked on every call.
        """
        try:
            netloc = urlsplit(url).netloc
        except (AttributeError, TypeError, ValueError):  # not a str: as requests does
            return _get_netrc_auth(url)
        before = self._netrc_file(snapshot)
        key = (before, netloc)
        try:
            return snapshot.netrc[key]
        except KeyError:
            pass
        found = _get_netrc_auth(url)
        if before is not None and time.time_ns() - max(before[4], before[5]) < RACY_NS:
            return found  # too fresh to trust its stat: read it again next time
        if self._netrc_file(snapshot) == before and self._still(snapshot):
            if len(snapshot.netrc) >= MAX_HOSTS:
                snapshot.netrc.clear()
            snapshot.netrc[key] = found
        return found

    @staticmethod
    def _netrc_file(snapshot: _Snapshot) -> _FileKey:
        """The netrc file requests would read (the first that exists), as a key.

        When no candidate exists, one ``stat`` of their folder usually stands
        for one failed ``stat`` per candidate: a file cannot appear in a
        folder without changing the folder's modification time (unless the
        folder was changed too recently for its time to tell).
        """
        absent = snapshot.netrc_absent
        if absent is not None and _folder_key(snapshot.netrc_folder) == absent:
            return None
        for path in snapshot.netrc_paths:
            try:
                st = os.stat(path)
            except (OSError, ValueError):
                continue
            return (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        folder = _folder_key(snapshot.netrc_folder) if snapshot.netrc_folder else None
        if (
            folder is not None
            and time.time_ns() - max(folder[2], folder[3]) >= RACY_NS
            and not any(os.path.lexists(path) for path in snapshot.netrc_paths)
        ):
            # (lexists: a dangling symlink could come to life without the
            # folder changing, so its presence rules the shortcut out.)
            snapshot.netrc_absent = folder
        return None


#: One cache for the process: the environment is the process's.
environment = Environment()


class _Untrusting:
    """A session as ``Session.prepare_request`` sees it with ``trust_env`` off.

    Used once the netrc lookup is known to find nothing: ``trust_env`` only
    decides whether ``prepare_request`` looks up netrc.
    """

    __slots__ = ("_session",)
    trust_env = False

    def __init__(self, session: Session) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def prepare_request(session: Session, request: Request) -> PreparedRequest:
    """``Session.prepare_request`` with the netrc lookup cached."""
    prepare = Session.prepare_request
    if not session.trust_env or request.auth or session.auth:
        return prepare(session, request)
    snapshot = environment.current()
    if snapshot is None:
        return prepare(session, request)
    found = environment.netrc_auth(snapshot, cast(str, request.url))
    if found is not None or request.auth is not None:
        request = copy.copy(request)
        request.auth = found  # what requests would have put in place of a falsy auth
    if found is None:
        return prepare(cast(Session, _Untrusting(session)), request)
    return prepare(session, request)


def _merge(request_setting: Any, session_setting: Any) -> Any:
    """``merge_setting``, with the common case of two empty dicts made cheap."""
    if (
        type(request_setting) is dict
        and type(session_setting) is dict
        and not request_setting
        and not session_setting
    ):
        return OrderedDict()  # what merge_setting makes of them
    return merge_setting(request_setting, session_setting)


def merge_environment_settings(
    session: Session,
    url: str,
    proxies: dict[str, str] | None,
    stream: bool | None,
    verify: bool | str | None,
    cert: Any,
) -> Any:
    """``Session.merge_environment_settings``, its environment lookups cached."""
    snapshot = environment.current() if session.trust_env else None
    if snapshot is None:
        return Session.merge_environment_settings(session, url, proxies, stream, verify, cert)
    no_proxy = proxies.get("no_proxy") if proxies is not None else None
    env_proxies = environment.proxies(snapshot, url, no_proxy)
    if proxies is not None:
        for key, value in env_proxies.items():
            proxies.setdefault(key, value)
    if verify is True or verify is None:
        verify = snapshot.ca_bundle or verify
    return {
        "proxies": _merge(proxies, session.proxies),
        "stream": merge_setting(stream, session.stream),
        "verify": merge_setting(verify, session.verify),
        "cert": merge_setting(cert, session.cert),
    }


class CachedEnvironment(Session):
    """A :class:`requests.Session` whose environment lookups are remembered.

    A base of :class:`~requests_futures.FuturesSession`.
    """

    def prepare_request(self, request: Request) -> PreparedRequest:
        """As :meth:`requests.Session.prepare_request`; the netrc lookup is cached.

        The cache is checked against the environment and the netrc file on
        every call, so it finds what ``requests`` would.
        """
        return prepare_request(self, request)

    def merge_environment_settings(
        self,
        url: Any,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> Any:
        """As :meth:`requests.Session.merge_environment_settings`, cached.

        Proxy and CA-bundle variables are looked up again only when
        ``os.environ`` changed (a comparison costs far less than the lookup).
        """
        return merge_environment_settings(self, url, proxies, stream, verify, cert)
