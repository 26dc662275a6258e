"""A Sphinx directive that writes a command-line reference from an argparse parser.

::

    .. cli-reference:: requests_futures._arguments:build_parser

imports the module, calls the function for the parser and writes, for the
program and then for each sub-command: the usage line, the description, every
argument and option (as ``.. option::`` entries, so ``:option:`` links work)
and the epilog.  The page is made from the parser each time the docs are
built, so it cannot drift from what ``--help`` says.  argparse has no public
way to list a parser's arguments: this reads ``_actions``, as its own help does.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.parsing import nested_parse_to_nodes

#: Width of the usage lines: fixed, so the page does not depend on the terminal.
USAGE_WIDTH = 79
_RST_SPECIAL = str.maketrans({c: "\\" + c for c in "\\*`|_"})


def _escape(text: str) -> str:
    return text.translate(_RST_SPECIAL)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)
    formatter.add_usage(
        parser.usage,
        parser._actions,
        parser._mutually_exclusive_groups,
    )
    return formatter.format_help().strip()


def _help(action: argparse.Action, prog: str) -> str:
    """The action's help with ``%(default)s`` and friends filled in, as argparse does."""
    if not action.help:
        return ""
    params: dict[str, Any] = {**vars(action), "prog": prog}
    if action.choices is not None:
        params["choices"] = ", ".join(str(choice) for choice in action.choices)
    return action.help % params


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest)
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = action.metavar
    if metavar is None and action.choices is not None:
        metavar = "{" + ",".join(str(choice) for choice in action.choices) + "}"
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    metavar = metavar or action.dest.upper()
    return ", ".join(f"{option} {metavar}" for option in action.option_strings)


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def reference(parser: argparse.ArgumentParser, underline: str = "-") -> list[str]:
    """The reStructuredText of ``parser``'s reference: one section per sub-command."""
    lines: list[str] = []

    def describe(command: argparse.ArgumentParser) -> None:
        lines.extend(["", ".. code-block:: text", ""])
        lines.extend("   " + line for line in _usage(command).splitlines())
        if command.description:
            lines.extend(["", _escape(" ".join(command.description.split()))])
        lines.extend(["", f".. program:: {command.prog}", ""])
        for action in command._actions:
            if action.help == argparse.SUPPRESS or isinstance(
                action,
                argparse._SubParsersAction,
            ):
                continue
            lines.extend([f".. option:: {_invocation(action)}", ""])
            text = _escape(" ".join(_help(action, command.prog).split()))
            lines.extend([f"   {text}" if text else "   (no description)", ""])
        if command.epilog:
            lines.extend([".. code-block:: text", ""])
            lines.extend(f"   {line}".rstrip() for line in command.epilog.splitlines())
            lines.append("")

    describe(parser)
    for name, command in _subcommands(parser):
        title = f"``{parser.prog} {name}``"
        lines.extend(["", title, underline * len(title)])
        describe(command)
    return lines


class CliReference(SphinxDirective):
    """``.. cli-reference:: module:function``, the function returning the parser."""

    required_arguments = 1
    option_spec = {"underline": str}  # noqa: RUF012 - docutils' own form

    def run(self) -> list[nodes.Node]:
        module_name, _, function_name = self.arguments[0].partition(":")
        module = importlib.import_module(module_name)
        build: Callable[[], argparse.ArgumentParser] = getattr(module, function_name)
        source = inspect.getsourcefile(module)
        if source:
            self.env.note_dependency(source)
        text = reference(build(), self.options.get("underline", "-"))
        return nested_parse_to_nodes(
            self.state,
            "\n".join(text),
            source=self.get_source_info()[0],
            allow_section_headings=True,
        )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("cli-reference", CliReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
