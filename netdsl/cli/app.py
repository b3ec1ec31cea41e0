"""`netdsl COMMAND ...`: the argument parser and the dispatch to each command's module.

Only the module of the command asked for is imported, and only its arguments are built: `netdsl
check` loads neither the backends nor the trainer's options. Exit statuses are in `common`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from netdsl.cli.common import EXIT_INTERNAL, EXIT_SPEC, Parser, reader_gone
from netdsl.core.gcpause import paused_gc
from netdsl.core.version import __version__

# name → (module under netdsl.cli, its function that adds the arguments, its function that runs, help)
COMMANDS: dict[str, tuple[str, str, str, str]] = {
    "check": ("check", "add_arguments", "run", "check a spec statically: shapes, parameters, MACs, receptive fields"),
    "build": ("build", "add_arguments", "run", "compile a spec: a PyTorch module (--target torch) or an ONNX model"),
    "infer": ("infer", "add_arguments", "run", "run a model (.onnx, or a spec) through onnxruntime"),
    "train": ("train", "add_train_arguments", "run_train", "train a spec's network in PyTorch (torchrun: distributed)"),
    "experiment": (
        "train",
        "add_experiment_arguments",
        "run_experiment",
        "train specs under several seeds; a table of test MAE/RMSE",
    ),
    "import": ("imports", "add_arguments", "run", "a PyTorch module (FILE.py:Factory) or an ONNX model as a spec"),
    "fmt": ("fmt", "add_arguments", "run_command", "lay specs out in the one canonical layout (comments kept)"),
    "lsp": ("fmt", "", "run_lsp", "the language server, over standard input and output (editors start it)"),
    "draw": ("pictures", "add_draw_arguments", "run", "draw a spec's network: boxes and arrows, or LeNet-5's planes"),
    "compare": (
        "pictures",
        "add_compare_arguments",
        "run",
        "networks side by side: a table, and Canziani's chart with -o",
    ),
    "features": ("pictures", "add_features_arguments", "run", "a layer's feature maps for one image, as a grid"),
}


def _module(name: str) -> object:
    return importlib.import_module(f"netdsl.cli.{COMMANDS[name][0]}")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `only`, the arguments of that command alone (the others are named,
    with their help, but built empty: enough for argparse to dispatch and to list them)."""
    parser = Parser(prog="netdsl", description="A declarative language and compiler for CNNs.")
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    # prog given, as argparse would work it out: it would build a help formatter (and import shutil)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser, prog="netdsl")
    parser.commands = {}  # type: ignore[attr-defined]
    for name, (_, adder, _, help) in COMMANDS.items():
        command = commands.add_parser(name, help=help)
        parser.commands[name] = command  # type: ignore[attr-defined]
        if adder and only in (None, name):
            getattr(_module(name), adder)(command)
    return parser


def _asked(argv: Sequence[str]) -> str | None:
    """The command named on the command line, if it is one (the first word that is no option)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    asked = _asked(argv)
    if asked != "check":
        return _run(argv, asked)
    # check runs on every save and is over in a moment: the cyclic collector would only walk the
    # modules it imports again and again (its stages pause the collector anyway, core.gcpause)
    with paused_gc():
        return _run(argv, asked)


def _unknown_options(command: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The options on the command line that the command has not (nor is any the start of one:
    argparse takes `--dep 2` for `--depth 2`), each with the option it is closest to, if any."""
    import difflib

    known = [o for action in command._actions for o in action.option_strings]
    words = list(argv[: argv.index("--")] if "--" in argv else argv)
    out = []
    for word in words:
        name = word.split("=", 1)[0]
        if name.startswith("--") and len(name) > 2 and not any(o.startswith(name) for o in known):
            close = difflib.get_close_matches(name, [o for o in known if o.startswith("--")], n=1, cutoff=0.75)
            out.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return out


def _run(argv: list[str], asked: str | None) -> int:
    parser = build_parser(asked)
    if asked is not None:  # named before argparse would ask for a missing SPEC: `train --sett` is a typo
        strange = _unknown_options(parser.commands[asked], argv)  # type: ignore[attr-defined]
        if strange:
            parser.commands[asked].error(f"unrecognized arguments: {', '.join(strange)}")  # type: ignore[attr-defined]
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # said by the command's parser, with its usage (argparse would leave it to the top one)
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")  # type: ignore[attr-defined]
    try:
        status = getattr(_module(args.command), COMMANDS[args.command][2])(args)
        sys.stdout.flush()  # a reader gone shows here, in the handler below, not at interpreter exit
        return int(status)
    except BrokenPipeError:
        return reader_gone()
    except KeyboardInterrupt:
        print("netdsl: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        spec = getattr(args, "spec", None) or getattr(args, "model", None) or "the spec"
        print(f"netdsl: error: {spec} nests blocks or expressions too deeply to follow", file=sys.stderr)
        return EXIT_SPEC
    except Exception as exc:  # a bug of ours: say so plainly; NETDSL_DEBUG=1 shows the traceback
        if os.environ.get("NETDSL_DEBUG"):
            raise
        print(
            f"netdsl: internal error: {type(exc).__name__}: {exc}\n"
            "this is a bug in netdsl; run again with NETDSL_DEBUG=1 for the traceback",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
