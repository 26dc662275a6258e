"""Checking a call's arguments at the call, with the messages Python gives.

``FuturesSession.request`` takes ``*args, **kwargs`` and hands them to the
``request`` method of the session that makes the calls, in a worker.  An
argument that method does not take would fail only in ``result()``; checked
here, it raises the ``TypeError`` that calling ``requests.Session.request``
itself raises, with the same text::

    check = CallCheck(requests.Session().request)
    check(("GET",), {"url": url, "bogus": 1})
    # TypeError: Session.request() got an unexpected keyword argument 'bogus'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CallCheck"]


def _quoted(names: list[str]) -> str:
    """``'a'``, ``'a' and 'b'``, ``'a', 'b', and 'c'``: as Python lists missing arguments."""
    quoted = [repr(name) for name in names]
    if len(quoted) == 1:
        return quoted[0]
    if len(quoted) == 2:
        return f"{quoted[0]} and {quoted[1]}"
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


class CallCheck:
    """What ``function`` accepts; calling the check raises what calling it would.

    Only the cheap part of binding is done: unknown keywords, too many or too
    few positional arguments and one given twice.  A function with
    ``**kwargs`` (or a signature Python cannot tell) accepts anything here.
    """

    __slots__ = ("_keywords", "_most", "_name", "_names", "_offset", "_required")

    def __init__(self, function: Callable[..., Any]) -> None:
        self._name = getattr(function, "__qualname__", getattr(function, "__name__", "function"))
        # A bound method counts its ``self`` in Python's messages.
        self._offset = 1 if inspect.ismethod(function) else 0
        try:
            params = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):  # a builtin or other callable without one
            params = [
                inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
            ]
        kinds = {p.kind for p in params}
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        #: Parameters that can be given positionally, in order.
        self._names = tuple(p.name for p in positional)
        #: The required ones: a prefix of those.
        self._required = tuple(p.name for p in positional if p.default is p.empty)
        self._most = None if inspect.Parameter.VAR_POSITIONAL in kinds else len(positional)
        self._keywords: frozenset[str] | None = None
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            self._keywords = frozenset(
                p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            )

    def __call__(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """:raises TypeError: as calling the function with these arguments would."""
        given = len(args)
        if self._most is not None and given > self._most:
            raise TypeError(self._too_many(given))
        keywords = self._keywords
        if keywords is not None and not keywords.issuperset(kwargs):
            unknown = next(name for name in kwargs if name not in keywords)
            raise TypeError(f"{self._name}() got an unexpected keyword argument {unknown!r}")
        if kwargs:
            for name in self._names[:given]:
                if name in kwargs:
                    raise TypeError(f"{self._name}() got multiple values for argument {name!r}")
        if given < len(self._required):
            missing = [name for name in self._required[given:] if name not in kwargs]
            if missing:
                plural = "s" if len(missing) > 1 else ""
                raise TypeError(
                    f"{self._name}() missing {len(missing)} required positional "
                    f"argument{plural}: {_quoted(missing)}"
                )

    def _too_many(self, given: int) -> str:
        least = len(self._required) + self._offset
        most = (self._most or 0) + self._offset
        takes = f"from {least} to {most}" if least != most else str(most)
        noun = "argument" if most == 1 else "arguments"
        was = "was" if given + self._offset == 1 else "were"
        return (
            f"{self._name}() takes {takes} positional {noun} but "
            f"{given + self._offset} {was} given"
        )
