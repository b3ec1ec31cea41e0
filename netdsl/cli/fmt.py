"""`netdsl fmt SPEC... [--check] [--diff]`: the command's rendering (the layout is `netdsl.format`).

Exit status: 0 every file formatted (or, with --check, already formatted); 1 a file would
change (--check) or does not parse; 2 a file cannot be read or written; 3 a bug in the
formatter (it refuses to write a result that would change a spec's meaning).
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import TextIO

from netdsl.core.diagnostics import SpecError
from netdsl.core.files import write_atomic
from netdsl.format import FormatError, format_text

OK, CHANGED, UNREADABLE, BUG = 0, 1, 2, 3


def run(
    paths: Sequence[str], check: bool = False, diff: bool = False, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Format each file in place (or only report, with `check`/`diff`); `-` is standard input."""
    out, err = out or sys.stdout, err or sys.stderr
    status = OK
    for path in paths:
        status = max(status, _one(path, check, diff, out, err))
    return status


def _one(path: str, check: bool, diff: bool, out: TextIO, err: TextIO) -> int:
    try:
        text = sys.stdin.read() if path == "-" else _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = (
            "it is not a text spec (not UTF-8)"
            if isinstance(exc, UnicodeDecodeError)
            else ((exc.strerror or str(exc)).lower())
        )
        err.write(f"netdsl fmt: cannot read {path}: {reason}\n")
        return UNREADABLE
    try:
        formatted = format_text(text, "<stdin>" if path == "-" else path)
    except SpecError as exc:
        err.writelines(f"{d}\n" for d in exc.diagnostics)
        return CHANGED
    except FormatError as exc:
        err.write(f"netdsl fmt: internal error: {exc}\n")
        return BUG
    if path == "-" and not (check or diff):
        out.write(formatted)
        return OK
    if formatted == text:
        return OK
    if diff:
        out.writelines(_diff(text, formatted, path))
    if check or diff:
        err.write(f"would reformat {path}\n")
        return CHANGED if check else OK
    try:
        write_atomic(path, formatted)
    except OSError as exc:
        err.write(f"netdsl fmt: cannot write {path}: {(exc.strerror or str(exc)).lower()}\n")
        return UNREADABLE
    err.write(f"reformatted {path}\n")
    return OK


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as f:  # line ends as written: they are kept
        return f.read()


def _diff(before: str, after: str, path: str) -> list[str]:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"{path} (original)", f"{path} (formatted)"
    )
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]


def add_arguments(fmt: argparse.ArgumentParser) -> None:
    fmt.add_argument("specs", nargs="+", metavar="SPEC", help="spec files ('-': standard input to standard output)")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    fmt.add_argument("--diff", action="store_true", help="change nothing; print what would change")


def run_command(args: argparse.Namespace) -> int:
    return run(args.specs, check=args.check, diff=args.diff)


def run_lsp(args: argparse.Namespace) -> int:
    """`netdsl lsp`: the language server (editors start it)."""
    from netdsl.lsp.server import serve

    return serve()
