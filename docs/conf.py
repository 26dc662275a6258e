"""Sphinx configuration of the requests-futures documentation.

Build it with ``tox -e docs``, or ``python -m sphinx -W -n docs docs/_build/html``
from the repository root.  The build never uses the network: the intersphinx
inventories are shipped in ``_intersphinx/`` (see its ``SOURCES.txt``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from docutils.nodes import Element
from sphinx.application import Sphinx

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The package from this checkout (installed or not), and our own extensions.
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

import requests_futures  # noqa: E402 - needs the path above

project = "requests-futures"
author = "requests-futures developers"
copyright = "requests-futures developers"
release = requests_futures.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.intersphinx",
    "myst_parser",
    "cli_reference",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_intersphinx"]
templates_path: list[str] = []

# Code blocks are Python unless they say otherwise.
highlight_language = "python3"

# -- API reference ------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
python_use_unqualified_type_names = True
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "show-inheritance": True}

# -- Links to the Python, requests and urllib3 documentation --------------------
# Each inventory is a file in the repository, never fetched: the build is
# offline and reproducible.  The URL is where the links point.
_INVENTORIES = DOCS / "_intersphinx"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", str(_INVENTORIES / "python.inv")),
    "requests": ("https://requests.readthedocs.io/en/latest", str(_INVENTORIES / "requests.inv")),
    "urllib3": ("https://urllib3.readthedocs.io/en/stable", str(_INVENTORIES / "urllib3.inv")),
}

# -- Broken references ----------------------------------------------------------
nitpicky = True
# Names in signatures that have no documentation page anywhere.
nitpick_ignore = [
    # Future's type parameter, in "Bases: concurrent.futures.Future[_T]".
    ("py:obj", "requests_futures._future._T"),
    ("py:class", "requests_futures._future._T"),
]
# Names in signatures, and what they link to: the public names of Python's
# own objects, and those the package imports only for type checking (so
# autodoc sees them as written) or keeps as private aliases.
_TARGETS = {
    "concurrent.futures._base.Executor": "concurrent.futures.Executor",
    "concurrent.futures._base.Future": "concurrent.futures.Future",
    "Executor": "concurrent.futures.Executor",
    "Session": "requests.Session",
    "Response": "requests.Response",
    "Retry": "urllib3.util.Retry",
    "Request": "requests.Request",
    "PreparedRequest": "requests.PreparedRequest",
    "BackgroundCallback": "requests_futures.sessions.BackgroundCallback",
    "MapResults": "requests_futures._batch.MapResults",
    "ItemT": "requests_futures._batch.ItemT",
}


def _public_name(app: Sphinx, env: Any, node: Element, contnode: Element) -> Element | None:
    """Point a link at the name it is documented under, then let it resolve."""
    target = _TARGETS.get(node.get("reftarget", ""))
    if target is None:
        return None
    node["reftarget"] = target
    if target.startswith("requests_futures."):
        domain = env.domains["py"]
        return domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], target, node, contnode
        )
    return None


# Private import aliases in signatures, written out as their public names.
_ALIASES = {"_Urllib3Timeout": "urllib3.util.Timeout"}


def _public_aliases(
    app: Sphinx, what: str, name: str, obj: Any, options: Any, args: str | None, ret: str | None
) -> tuple[str | None, str | None]:
    for alias, public in _ALIASES.items():
        args = args and re.sub(rf"\b{alias}\b", public, args)
        ret = ret and re.sub(rf"\b{alias}\b", public, ret)
    return args, ret


def _public_bases(app: Sphinx, name: str, obj: Any, options: Any, bases: list[Any]) -> None:
    """Show the bases a user can see: a private helper class gives way to its own bases."""

    def public(base: Any) -> list[Any]:
        if getattr(base, "__module__", "").startswith("requests_futures._"):
            return [b for parent in base.__bases__ for b in public(parent)]
        return [base]

    shown = [b for base in bases for b in public(base)]
    bases[:] = [b for i, b in enumerate(shown) if b not in shown[:i] and b is not object]


def setup(app: Sphinx) -> None:
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("autodoc-process-signature", _public_aliases)
    # Before intersphinx's own handler (priority 500), which then finds the name.
    app.connect("missing-reference", _public_name, priority=400)


# -- Markdown (the changelog) ----------------------------------------------------
myst_heading_anchors = 3

# -- HTML -----------------------------------------------------------------------
html_theme = "furo"
html_title = f"requests-futures {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "source_repository": "https://github.com/ross/requests-futures",
    "source_branch": "main",
    "source_directory": "docs/",
}
