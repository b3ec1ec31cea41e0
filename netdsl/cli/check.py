"""`netdsl check SPEC`: the checker's table (or JSON, or markdown) and its diagnostics."""

from __future__ import annotations

import argparse

from netdsl.cli.common import EXIT_OK, EXIT_SPEC, add_depth, add_spec_arguments, consoles
from netdsl.cli.specs import check_spec


def add_arguments(check: argparse.ArgumentParser) -> None:
    add_spec_arguments(check)
    check.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    add_depth(check, "rows")


def run(args: argparse.Namespace) -> int:
    from netdsl.checker.tree import resolve_depth
    from netdsl.report import render

    out, err = consoles(args)
    found = check_spec(args, err, args.spec, args.network, args.input_shape)
    if isinstance(found, int):
        return found
    program, outcome = found
    status = EXIT_OK if outcome.ok else EXIT_SPEC
    if args.format == "json":
        print(render.to_json(outcome.checked, outcome.diagnostics))
        return status
    render.print_diagnostics(err, outcome.diagnostics, program.sources)
    if outcome.checked is None and outcome.ok:
        blocks = [d.name for d in program.main.definitions]
        out.print(
            f"{args.spec}: no network to check; names and arguments of its {len(blocks)} "
            f"definition{'s' * (len(blocks) != 1)} ({', '.join(blocks)}) are fine",
            markup=False,
            soft_wrap=True,
        )
        return status
    if outcome.checked is None:
        err.print(f"{args.spec}: {render.summary_line(outcome.diagnostics)}", markup=False, soft_wrap=True)
        return status
    depth = resolve_depth(args.depth, outcome.checked)
    if args.format == "markdown":
        print(render.to_markdown(outcome.checked, depth) + render.markdown_diagnostics(outcome.diagnostics), end="")
        return status
    # a terminal: fitted to its width; a pipe or a file: as wide as the table needs, never cut
    render.print_report(out, outcome.checked, depth, fit=out.is_terminal)
    others = [n for n in program.networks() if n != outcome.checked.graph.network]
    if others and args.network is None:
        out.print(f"(also in this file: {', '.join(others)}; pick one with --network)", markup=False, soft_wrap=True)
    return status
