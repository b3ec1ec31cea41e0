"""A spec named on the command line, loaded and checked: the diagnostics printed, and either the
checked `Spec` or the exit status that ends the command."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from netdsl.cli.common import EXIT_SPEC, EXIT_USAGE, error
from netdsl.importer.refusal import ImportRefused
from netdsl.importer.refusal import UsageError as ImportUsage

if TYPE_CHECKING:
    from rich.console import Console

    from netdsl.api import Spec
    from netdsl.checker.check import Outcome
    from netdsl.language.program import Program

SPEC_TEXT = ("a text spec", "expected a .net file written in the netdsl language")


def check_spec(
    args: argparse.Namespace,
    err: Console,
    path: str,
    network: str | None,
    input_shape: tuple[int, ...] | None,
    not_text: tuple[str, str] = SPEC_TEXT,
) -> tuple[Program, Outcome] | int:
    """Load and check the spec named on the command line, or the exit status of a usage error;
    `not_text`: what the file is not, and what was expected, when it is not UTF-8 text."""
    from netdsl.checker.check import check_program
    from netdsl.checker.elaborate import UsageError
    from netdsl.language.program import load

    try:
        program = _imported(path, input_shape) or load(path)
        outcome = check_program(program, network, dict(args.overrides), input_shape)
        return program, blame_flags(outcome, program, network, args.overrides, input_shape)
    except UnicodeDecodeError as exc:
        where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
        return error(err, f"'{path}' is not {not_text[0]} (not UTF-8 text: {where}); {not_text[1]}")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return error(err, f"cannot read '{path}': {reason}")
    except UsageError as exc:
        return error(err, str(exc))
    except ImportRefused as exc:  # an .onnx or FILE.py:Factory netdsl cannot say (its usage errors: 2)
        return error(err, f"cannot import {path}: {exc}", EXIT_USAGE if isinstance(exc, ImportUsage) else EXIT_SPEC)


def _imported(path: str, input_shape: tuple[int, ...] | None) -> Program | None:
    """An .onnx file or FILE.py:Factory, imported in memory (the importer, and torch or onnx with it,
    loaded only then: `netdsl check x.net` loads neither)."""
    from netdsl.importer.sources import import_program, is_import_source

    return import_program(path, input_shape) if is_import_source(path) else None


def blame_flags(
    outcome: Outcome,
    program: Program,
    network: str | None,
    overrides: list[tuple[str, object]],
    input_shape: tuple[int, ...] | None,
) -> Outcome:
    """The diagnostics said of the flags that caused them: an error whose span is the name of a
    parameter given by --set is the flag's (`--set classes=2.5: ...`, the use named in a hint);
    errors under --input get a note that the input shape is the flag's, and the spec's own."""
    import dataclasses

    from netdsl.checker.check import check_program
    from netdsl.core.diagnostics import Diagnostic, Span, source_line

    if outcome.ok:
        return outcome
    given = {name: value for name, value in overrides}
    diagnostics = []
    for d in outcome.diagnostics:
        span = d.span
        line = source_line(program.sources.get(span.file, ""), span.line) if span.line == span.end_line else ""
        name = line[span.column - 1 : span.end_column - 1]
        if d.severity == "error" and name in given:
            flag = f"--set {name}={_flag_value(given[name])}"
            d = Diagnostic(d.severity, d.message, Span(flag, 0, 0, 0, 0), f"{name} is used at {span}")
        diagnostics.append(d)
    if input_shape is not None:
        flag = f"--input {'x'.join(map(str, input_shape))}"
        declared = check_program(program, network, dict(overrides), None).checked
        own = f" (the spec's is {'×'.join(map(str, declared.graph.nodes[0].shape))})" if declared else ""
        message = f"the input shape is this flag's{own}: the errors above follow from it"
        diagnostics.append(Diagnostic("note", message, Span(flag, 0, 0, 0, 0)))
    return dataclasses.replace(outcome, diagnostics=tuple(diagnostics))


def _flag_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def load_spec(
    args: argparse.Namespace,
    err: Console,
    path: str,
    network: str | None,
    input_shape: tuple[int, ...] | None,
    refusal: str,
    not_text: tuple[str, str] = SPEC_TEXT,
) -> Spec | int:
    """The checked spec for build, infer, train and experiment, or the exit status after its
    diagnostics: refused when it has errors, defines no network, or is too big to allocate."""
    from netdsl.api import Spec
    from netdsl.checker.budget import oversize
    from netdsl.report import render

    found = check_spec(args, err, path, network, input_shape, not_text)
    if isinstance(found, int):
        return found
    program, outcome = found
    render.print_diagnostics(err, outcome.diagnostics, program.sources)
    if outcome.checked is None and outcome.ok:
        return error(err, f"{path} {no_network(program)}; {refusal}", EXIT_SPEC)
    if outcome.checked is None or not outcome.ok:
        summary = render.summary_line(outcome.diagnostics)
        err.print(f"{path}: {summary}; {refusal}", markup=False, soft_wrap=True)
        return EXIT_SPEC
    too_big = oversize(outcome.checked)
    if too_big is not None:
        return error(err, f"{too_big}; {refusal}", EXIT_SPEC)
    return Spec(program, outcome.checked, dict(args.overrides), input_shape)


def no_network(program: Program) -> str:
    """What a file without a network holds instead: 'defines no network, only the blocks A, B'."""
    blocks = [d.name for d in program.main.definitions]
    return f"defines no network, only the block{'s' * (len(blocks) != 1)} {', '.join(blocks)}"
