"""The arguments of a call are taken at the call: copies of what the caller may change.

A request runs later, in a worker.  A dict passed as ``json=`` and changed
after the call would be sent as changed (or break the worker while it is
serialized), so :meth:`FuturesSession.request` sends copies, taken at the
call, of ``json=`` (every dict, list and tuple in it), ``params=``,
``headers=``, ``cookies=`` and a dict or list ``data=``.  Files, generators,
file-like and streaming bodies are taken as they are, never copied or read
here.  A value that refers to itself is taken as it is (``requests`` will
say what it makes of it)::

    args, kwargs = take_arguments(("GET", url), {"json": {"a": [1]}})
"""

from __future__ import annotations

from typing import Any

from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict

#: Values that are never copied: immutable, or not ours to copy.
_ATOMS = frozenset({str, bytes, int, float, bool, type(None)})

#: request()'s parameters that are copied, and their places among its positional ones.
_POSITIONS = {"params": 2, "data": 3, "headers": 4, "cookies": 5, "json": 15}
_TAKEN = frozenset(_POSITIONS)


def _containers(value: Any) -> Any:
    """``value`` with every dict, list and tuple in it copied; anything else as it is."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if isinstance(value, dict):
        return {key: _containers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_containers(item) for item in value]
    if kind is tuple:
        return tuple(_containers(item) for item in value)
    if isinstance(value, CaseInsensitiveDict):
        return value.copy()
    if isinstance(value, RequestsCookieJar):
        return value.copy()
    return value


def _data(value: Any) -> Any:
    """A dict or list body copied; files, generators, strings, streams as they are."""
    if isinstance(value, dict | list):
        return _containers(value)
    return value


_COPY = {
    "params": _containers,
    "data": _data,
    "headers": _containers,
    "cookies": _containers,
    "json": _containers,  # every dict, list and tuple in it: what JSON is made of
}


def _copy(name: str, value: Any) -> Any:
    try:
        return _COPY[name](value)
    except RecursionError:  # it contains itself
        return value


def take_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copies of a ``request()`` call's arguments that the caller could change afterwards.

    ``kwargs`` is the call's own dict (``**kwargs``): it is updated in place.
    """
    if len(args) > 2:
        taken = list(args)
        for name, place in _POSITIONS.items():
            if place < len(taken) and taken[place] is not None:
                taken[place] = _copy(name, taken[place])
        args = tuple(taken)
    if not _TAKEN.isdisjoint(kwargs):
        for name in _TAKEN.intersection(kwargs):
            value = kwargs[name]
            if value is not None:
                kwargs[name] = _copy(name, value)
    return args, kwargs
