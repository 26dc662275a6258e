"""File names from URLs, made safe: nothing is ever written outside the directory.

::

    relative_path("https://example.com/files/report.pdf", "name")  # ["report.pdf"]
    relative_path("https://example.com/files/report.pdf", "path")
    # ["example.com", "files", "report.pdf"]
"""

from __future__ import annotations

import unicodedata
from typing import Literal
from urllib.parse import unquote, urlsplit

#: ``--save-as``: the URL's last path segment, or ``host/path/...``.
Layout = Literal["name", "path"]

#: The longest file name, in UTF-8 bytes; below the usual limit of 255, so
#: that a ``.N`` suffix still fits.
MAX_NAME = 200

#: The name given to a URL whose path ends in ``/``.
INDEX = "index.html"

# Characters no file name gets: path separators, and the ones Windows refuses.
# The same rules on every system, so a URL list gives the same names anywhere.
_UNSAFE = frozenset('/\\<>:"|?*')
_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL"] + [f"{kind}{n}" for kind in ("COM", "LPT") for n in range(1, 10)]
)


def safe_name(text: str) -> str:
    """``text`` made into one file name that stays where it is put.

    Separators, control characters and the characters some systems refuse
    become ``_``; names made only of dots, or naming a Windows device, gain
    a ``_``; trailing dots and spaces go; over-long names are cut (keeping a
    short extension).  An empty result is ``_``.
    """
    # Lone surrogates (undecodable bytes in a command-line argument) cannot be
    # encoded: they become "?", and so "_".
    text = text.encode("utf-8", "replace").decode("utf-8")
    name = "".join(
        "_" if char in _UNSAFE or unicodedata.category(char) == "Cc" else char for char in text
    )
    name = name.rstrip(". ")
    if not name.strip("."):
        return "_" + name
    if name.split(".")[0].strip().upper() in _DEVICES:
        name = "_" + name
    return _shorten(name, MAX_NAME)


def _shorten(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes, keeping an extension of up to 16 bytes."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode()) > 16:
        stem, extension = name, ""
    else:
        extension = "." + extension
    room = limit - len(extension.encode())
    cut = stem.encode()[:room].decode("utf-8", "ignore")  # never half a character
    return cut + extension


def relative_path(url: str, layout: Layout) -> list[str]:
    """Where the body of ``url`` goes, as safe path components under the directory.

    ``name``: the last segment of the URL's path, percent-decoded, or
    :data:`INDEX` when the path ends in ``/``.  ``path``: the host (with its
    port), then every non-empty segment of the path.  The query is not used.
    """
    split = urlsplit(url)
    segments = split.path.split("/")
    last = safe_name(unquote(segments[-1])) if segments[-1] else INDEX
    if layout == "name":
        return [last]
    host = safe_name(split.netloc.rpartition("@")[2].lower() or "_")
    return [host, *(safe_name(unquote(s)) for s in segments[:-1] if s), last]


def numbered(name: str, n: int) -> str:
    """``name`` with ``.n`` before its extension: ``report.1.pdf``, ``index.2.html``."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        return f"{name}.{n}"
    return f"{stem}.{n}.{extension}"
