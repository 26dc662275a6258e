"""What a request is scheduled by: its origin, and the limits that apply to it.

::

    origin_of("HTTP://Example.com/a")  # ('http', 'example.com', 80)
    Politeness(Limits(per_host=2)).limits_for(origin_of(url)).per_host  # 2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from urllib3.util import Retry

#: (scheme, host, port) of a URL: what limits, rates and pauses apply to.
Origin = tuple[str, str, int]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: object) -> Origin:
    """The origin of ``url``: lower-cased scheme and host, the port filled in (80, 443)."""
    text = url.decode("utf-8", "replace") if isinstance(url, bytes) else str(url)
    # Parsed once per scheme://authority: requests to one site share it.
    head = text[: text.find("/", text.find("//") + 2) + 1 or len(text)]
    origin = _origins_seen.get(head)
    if origin is None:
        origin = _parse_origin(head)
        if len(_origins_seen) >= _ORIGINS_SEEN:
            _origins_seen.clear()
        _origins_seen[head] = origin
    return origin


def origin_url(origin: Origin) -> str:
    """``scheme://host:port``, an IPv6 address in brackets as in a URL."""
    scheme, host, port = origin
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _parse_origin(text: str) -> Origin:
    try:
        split = urlsplit(text.strip())
        port = split.port
    except ValueError:  # a bad port: requests reports it when the request runs
        return ("", text, 0)
    scheme = split.scheme.lower()
    if port is None:
        port = _DEFAULT_PORTS.get(scheme, 0)
    return (scheme, split.hostname or "", port)


#: Origins of recently seen URL heads (``scheme://authority/``), and how many are kept.
_origins_seen: dict[str, Origin] = {}
_ORIGINS_SEEN = 4096  # a crawl going round thousands of hosts still hits


@dataclass(frozen=True)
class Limits:
    """The limits of one origin: most requests in flight, and most starts per second."""

    per_host: int | None = None
    rate: float | None = None


@dataclass(frozen=True)
class Politeness:
    """A session's validated scheduling settings (see ``FuturesSession``)."""

    limits: Limits = Limits()
    retry: Retry | None = None
    #: Limits for particular origins (keyed by :data:`Origin`) or hosts (by name).
    overrides: Mapping[Origin | str, Limits] = field(default_factory=dict)
    #: Each origin's ``per_host`` is a ceiling its limit moves under (``_adaptive``).
    adaptive: bool = False

    def limits_for(self, origin: Origin) -> Limits:
        """What applies to ``origin``: its own entry, its host's, or the default."""
        overrides = self.overrides
        if overrides:
            found = overrides.get(origin) or overrides.get(origin[1])
            if found is not None:
                return found
        return self.limits
