"""Pairing a call's arguments with parameter names: positional in order, then by keyword.

One rule for ops and blocks, used by `elaborate` (which reports the problems) and by the
backends (which emit code for calls that elaboration accepted).
"""

from __future__ import annotations

from collections.abc import Sequence

from netdsl.core.diagnostics import Diagnostic, did_you_mean, error
from netdsl.language import ast


def pair_args(args: Sequence[ast.Arg], names: Sequence[str], what: str) -> tuple[dict[str, ast.Arg], list[Diagnostic]]:
    """The arguments by parameter name, and a diagnostic for each one that does not fit."""
    matched: dict[str, ast.Arg] = {}
    problems: list[Diagnostic] = []
    seen_keyword = False
    for index, arg in enumerate(args):
        if arg.name is None:
            if seen_keyword:
                problems.append(error("a positional argument cannot follow a keyword argument", arg.span))
                continue
            if index >= len(names):
                plural = "s" * (len(names) != 1)
                problems.append(error(f"{what} takes at most {len(names)} argument{plural}", arg.span))
                continue
            name = names[index]
        else:
            seen_keyword, name = True, arg.name
            if name not in names:
                hint = did_you_mean(name, names) or (f"its arguments: {', '.join(names)}" if names else None)
                problems.append(error(f"{what} has no argument '{name}'", arg.span, hint))
                continue
        if name in matched:
            problems.append(error(f"argument '{name}' is given twice", arg.span))
            continue
        matched[name] = arg
    return matched, problems
