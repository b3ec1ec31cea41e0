"""`netdsl import SOURCE`: a PyTorch module (FILE.py:Factory) or an ONNX model as a spec, and
optionally its weights as a state_dict that `netdsl build --weights` takes."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from netdsl.cli.common import EXIT_OK, EXIT_SPEC, EXIT_USAGE, add_input_shape, add_no_color, consoles, error

if TYPE_CHECKING:
    from rich.console import Console


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("source", help="FILE.py:Factory, package.module:Factory(arg=value) or MODEL.onnx")
    command.add_argument("-o", "--output", metavar="OUT.net", help="write the spec here (default: standard output)")
    command.add_argument("--weights-out", metavar="FILE", help="write the source's weights as a state_dict (.pt)")
    command.add_argument("--name", help="the network's name (default: the factory's or the model's)")
    add_input_shape(command)
    add_no_color(command)


def run(args: argparse.Namespace) -> int:
    from netdsl.importer.sources import ImportRefused, UsageError, import_source

    out, err = consoles(args)
    if args.name is not None and not args.name.isidentifier():
        return error(err, f"--name '{args.name}' is not a name (letters, digits and _)")
    try:
        imported = import_source(args.source, args.input_shape, args.name)
    except UsageError as exc:
        return error(err, str(exc), EXIT_USAGE)
    except ImportRefused as exc:
        return error(err, f"cannot import {args.source}: {exc}", EXIT_SPEC)
    if args.weights_out:
        status = _write_weights(err, args.weights_out, imported.weights)
        if status:
            return status
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as file:
                file.write(imported.text)
        except OSError as exc:
            return error(err, f"cannot write '{args.output}': {exc.strerror or exc}")
        lines = len(imported.text.splitlines())
        out.print(f"wrote {args.output} ({lines} lines)", markup=False, soft_wrap=True)
    else:
        sys.stdout.write(imported.text)
    return EXIT_OK


def _write_weights(err: Console, path: str, weights: dict[str, Any]) -> int:
    import torch

    try:
        torch.save({k: torch.from_numpy(v.copy()) for k, v in weights.items()}, path)
    except OSError as exc:
        return error(err, f"cannot write '{path}': {exc.strerror or exc}")
    return EXIT_OK
