"""The command line: `netdsl check SPEC`, `netdsl build SPEC --target torch|onnx`, `netdsl infer`.

Library code never prints; this module renders. Exit status: 0 clean (warnings allowed),
1 errors in the spec (or a network too big to allocate), 2 a usage error (missing file,
unknown flag or parameter, an option that would do nothing), 3 a bug in netdsl itself (set
NETDSL_DEBUG=1 for the traceback), 141 standard output closed early (`netdsl check … | head`):
netdsl stops quietly with the status of a Unix tool ended by SIGPIPE (128 + 13), as `cat`
and `seq` report under `set -o pipefail`.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netdsl import __version__

if TYPE_CHECKING:
    from rich.console import Console

    from netdsl.api import Spec
    from netdsl.check import Outcome
    from netdsl.program import Program

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL, EXIT_PIPE = 0, 1, 2, 3, 141


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's usage errors: exit 2, no traceback
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _parse_set(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name.strip(), _literal(raw.strip())


def _literal(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"'{raw}' is not an integer, a number, true or false")


def _depth(text: str) -> int | str:
    from netdsl.tree import parse_depth

    try:
        return parse_depth(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, all or auto, got '{text}'") from None


def _depth_argument(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--depth",
        type=_depth,
        default="auto",
        metavar="N|all",
        help=f"fold blocks, repeats and seqs nested deeper than N into one of the {what} each; all: every layer "
        "(default auto: the deepest that fits in 80 rows)",
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def _parse_shape(text: str) -> tuple[int, ...]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not 1 <= len(dims) <= 3 or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"expected CxHxW (or F) of positive integers, got '{text}'")
    return dims


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netdsl", description="A declarative language and compiler for CNNs.")
    parser.add_argument("--version", action="version", version=f"netdsl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    check = commands.add_parser("check", help="check a spec statically: shapes, parameters, MACs, receptive fields")
    _spec_arguments(check)
    check.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    _depth_argument(check, "rows")
    build = commands.add_parser("build", help="compile a spec: a PyTorch module (--target torch) or an ONNX model")
    _spec_arguments(build)
    build.add_argument("--target", choices=("torch", "onnx"), default="torch", help="what to build (default: torch)")
    build.add_argument("-o", "--output", metavar="FILE", help="write here (torch: default standard output)")
    _weight_arguments(build)
    build.add_argument("--opset", type=int, help="ONNX opset (default 18; 17 up to the newest onnx knows)")
    # the choices of netdsl.backends.onnx.GRAPHS and netdsl.quantize.FORMATS (check imports no backend)
    build.add_argument(
        "--graph",
        choices=("inference", "training"),
        help="ONNX: inference (default: batchnorms folded into their convs, no dropout) or training (every layer)",
    )
    build.add_argument("--quantize", choices=("int8",), help="ONNX: static int8 quantization (QDQ), see --calibrate")
    build.add_argument(
        "--calibrate", metavar="SOURCE", help="images to calibrate --quantize on: a data source of netdsl train"
    )
    infer = commands.add_parser("infer", help="run a model (.onnx, or a spec) through onnxruntime")
    # The model is positional and optional to argparse, so that `infer --input a.npy m.onnx` (the
    # inputs took the model) gets a message that says so rather than running without one.
    infer.add_argument("model", nargs="?", help="an .onnx file written by netdsl build, or a .net spec")
    infer.add_argument(
        "--input",
        dest="inputs",
        nargs="+",
        action="extend",
        required=True,
        metavar="FILE",
        help=".npy arrays ([C, H, W] or a batch [N, C, H, W]) and/or images (repeatable)",
    )
    infer.add_argument("--provider", choices=("auto", "cuda", "cpu"), default="auto")
    infer.add_argument("--top-k", type=_positive, default=5, help="classes to show per sample (default 5)")
    infer.add_argument("--save", metavar="OUT.npy", help="keep the raw outputs")
    infer.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=_parse_set,
        action="append",
        default=[],
        help="with a spec: override a network parameter",
    )
    infer.add_argument("--network", help="with a spec: which network of the file")
    _weight_arguments(infer)
    infer.add_argument("--no-color", action="store_true", help="plain output, no colours")
    train = commands.add_parser("train", help="train a spec's network in PyTorch (torchrun: distributed)")
    _spec_arguments(train)
    _training_arguments(train)
    train.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the initial weights and the shuffling (default 0)"
    )
    train.add_argument("--out", metavar="DIR", help="the run folder (default: runs/NETWORK, or -2, -3 … if taken)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--select",
        choices=("auto", "accuracy", "mae", "loss"),
        default="auto",
        help="the validation figure that picks the best epoch (auto: accuracy, MAE for ordinal heads)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress; print the result as one JSON line")
    experiment = commands.add_parser("experiment", help="train specs under several seeds; a table of test MAE/RMSE")
    experiment.add_argument(
        "specs", nargs="+", metavar="SPEC[:NETWORK]", help="spec files (every network in each), or SPEC:NETWORK for one"
    )
    experiment.add_argument("--seeds", type=_seeds, default=(0, 1, 2), help="comma-separated seeds (default 0,1,2)")
    experiment.add_argument(
        "--out",
        metavar="DIR",
        default="runs/experiment",
        help="runs go to DIR/NETWORK/seed-S; the table to DIR/results.md (default runs/experiment)",
    )
    experiment.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=_parse_set,
        action="append",
        default=[],
        help="override a parameter of every network",
    )
    experiment.add_argument("--no-color", action="store_true", help="plain output, no colours")
    _training_arguments(experiment)
    fmt = commands.add_parser("fmt", help="lay specs out in the one canonical layout (comments kept)")
    fmt.add_argument("specs", nargs="+", metavar="SPEC", help="spec files ('-': standard input to standard output)")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    fmt.add_argument("--diff", action="store_true", help="change nothing; print what would change")
    commands.add_parser("lsp", help="the language server, over standard input and output (editors start it)")
    _picture_commands(commands)
    return parser


def _picture_commands(commands: Any) -> None:
    draw = commands.add_parser("draw", help="draw a spec's network: boxes and arrows, or LeNet-5's planes")
    _spec_arguments(draw)
    draw.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.svg or FILE.png (-: SVG to stdout)")
    draw.add_argument("--style", choices=("graph", "planes"), default="graph", help="default graph")
    _depth_argument(draw, "boxes")
    compare = commands.add_parser("compare", help="networks side by side: a table, and Canziani's chart with -o")
    compare.add_argument("specs", nargs="+", metavar="SPEC[:NETWORK]", help="spec files, or SPEC:NETWORK for one")
    compare.add_argument(
        "--results", nargs="+", action="extend", metavar="DIR", help="run folders of netdsl train or experiment"
    )
    compare.add_argument("-o", "--output", metavar="FILE", help="the chart: FILE.svg or FILE.png")
    compare.add_argument("--format", choices=("markdown", "json"), default="markdown", help="the table's format")
    compare.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=_parse_set,
        action="append",
        default=[],
        help="override a parameter of every network",
    )
    compare.add_argument("--no-color", action="store_true", help="plain output, no colours")
    features = commands.add_parser("features", help="a layer's feature maps for one image, as a grid")
    features.add_argument("spec", help="a .net spec file")
    features.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=_parse_set,
        action="append",
        default=[],
        help="override a network parameter (repeatable)",
    )
    features.add_argument("--network", help="which network of the file (default: the first)")
    features.add_argument("--no-color", action="store_true", help="plain output, no colours")
    # --input is the image here, as for infer (the input shape follows the spec and --set)
    features.add_argument("--input", required=True, metavar="IMAGE", help="an image, or a .npy array [C, H, W]")
    features.add_argument("--layer", help="the layer to show (default: the first conv)")
    features.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png or FILE.svg")
    features.add_argument("--max-maps", type=_positive, default=64, metavar="N", help="show at most N maps (64)")
    _weight_arguments(features)


def _picture(args: argparse.Namespace) -> int:
    from netdsl.pictures import commands

    out, err = _consoles(args)
    shape = getattr(args, "input_shape", None)

    def check(path: str, network: str | None) -> Spec | int:
        return _spec(args, err, path, network, shape, f"nothing {'compared' if args.command == 'compare' else 'drawn'}")

    if args.command == "draw":
        return commands.run_draw(args, check, err)
    if args.command == "compare":
        return commands.run_compare(args, check, out, err)
    return commands.run_features(args, check, err)


def _training_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--data",
        required=True,
        metavar="SOURCE",
        help="digits, ordinal-synth[:N], ordinal-synth-noisy[:N[:SIGMA]], a folder of class folders, a folder of "
        "age-named images (23_1_0.jpg), or a CSV manifest path,label[,split]",
    )
    # a protocol's values fill in what is not given: these defaults are None, and the help says the real ones
    command.add_argument(
        "--protocol",
        choices=("netdsl", "coral-paper"),
        default="netdsl",
        help="preset settings: netdsl's (default), or the CORAL paper's (adam 5e-4 constant, batch 256, 200 epochs, "
        "uniform importance, resize 128 and random 120 crops); options given override it",
    )
    command.add_argument("--epochs", type=_positive, metavar="N", help="default 10")
    command.add_argument("--batch-size", type=_positive, metavar="N", help="per process (default 64)")
    command.add_argument(
        "--lr", type=_positive_float, metavar="X", help="learning rate (default 1e-3 for adam, 1e-2 for sgd)"
    )
    command.add_argument("--optimizer", choices=("adam", "sgd"), help="adam, or sgd with momentum 0.9 (default adam)")
    command.add_argument(
        "--schedule",
        choices=("cosine", "constant"),
        help="learning rate: cosine decay to 0 over the run, step by step (default), or constant",
    )
    command.add_argument("--weight-decay", type=_non_negative_float, default=0.0, metavar="X", help="default 0")
    command.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CUDA where PyTorch sees a GPU, else the CPU",
    )
    command.add_argument(
        "--label-offset",
        type=int,
        default=0,
        metavar="N",
        help="subtracted from every label read from the data (MORPH-2's ages start at 16)",
    )
    command.add_argument(
        "--importance",
        choices=("uniform", "balanced"),
        default="uniform",
        help="task-importance weights of the coral/ordinal losses (default uniform)",
    )
    command.add_argument(
        "--head-bias-lr",
        type=_positive_float,
        metavar="X",
        help="coral/ordinal heads: their biases' learning rate as a multiple of --lr (default 30 for coral, 1 for "
        "ordinal)",
    )
    command.add_argument(
        "--head-bias-init",
        choices=("prior", "module"),
        default="prior",
        help="coral/ordinal heads: biases start at the training labels' prior (default), or as the module builds them",
    )
    command.add_argument(
        "--resize",
        type=_image_size,
        metavar="H[xW]",
        help="read images at this size, then crop the spec's input from them: random crops in training, the centre "
        "in evaluation (default: read at the input size, no crop)",
    )
    command.add_argument("--flip", action="store_true", help="flip training images left-right at random")
    command.add_argument(
        "--loader",
        choices=("auto", "memory", "stream"),
        default="auto",
        help="images held in memory, or streamed from their files by DataLoader workers (auto: streamed when they "
        "would take more than a quarter of the memory)",
    )
    command.add_argument(
        "--workers", type=_non_negative_int, metavar="N", help="streaming: decoding processes (default: CPUs - 1, ≤ 8)"
    )
    command.add_argument("--opset", type=int, metavar="N", help="opset of model.onnx (default 18)")


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got '{text}'")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got '{text}'")
    return int(text)


def _image_size(text: str) -> tuple[int, int]:
    """H or HxW: an image size in pixels."""
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size H or HxW in pixels, like 128 or 128x96, got '{text}'")
    return int(parts[0]), int(parts[-1])


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        seeds = ()
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct integer seeds separated by commas, got '{text}'")
    return seeds


def _weight_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--weights", metavar="FILE", help="a state_dict or netdsl checkpoint (default: seeded init)")
    command.add_argument("--seed", type=int, help="seed of the initial weights without --weights (default 0)")


def _spec_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("spec", help="a .net spec file")
    command.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=_parse_set,
        action="append",
        default=[],
        help="override a network parameter (repeatable)",
    )
    command.add_argument(
        "--input",
        dest="input_shape",
        metavar="CxHxW",
        type=_parse_shape,
        help="override the input shape, e.g. 3x224x224",
    )
    command.add_argument("--network", help="which network of the file (default: the first)")
    command.add_argument("--no-color", action="store_true", help="plain output, no colours")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = {
            "build": _build,
            "infer": _infer,
            "train": _train,
            "experiment": _experiment,
            "fmt": _fmt,
            "lsp": _lsp,
            "draw": _picture,
            "compare": _picture,
            "features": _picture,
        }.get(args.command, _check)(args)
        sys.stdout.flush()  # a reader gone shows here, in the handler below, not at interpreter exit
        return status
    except BrokenPipeError:
        return _reader_gone()
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


def _fmt(args: argparse.Namespace) -> int:
    from netdsl.format.command import run

    return run(args.specs, check=args.check, diff=args.diff)


def _lsp(args: argparse.Namespace) -> int:
    from netdsl.lsp.server import serve

    return serve()


def _reader_gone() -> int:
    """Standard output's reader closed the pipe (`| head`): stop quietly, as the Python docs
    advise: point stdout at /dev/null so that the flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (an embedding program's): nothing to redirect
        pass
    return EXIT_PIPE


def _consoles(args: argparse.Namespace) -> tuple[Console, Console]:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own handler exits 1; let main() end it as for print()
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    # --no-color or NO_COLOR (no-color.org): plain text, neither colour nor bold nor dim; a pipe
    # or a file gets no escapes either way (rich writes them only to a terminal)
    plain = getattr(args, "no_color", False) or bool(os.environ.get("NO_COLOR"))
    options: dict[str, Any] = {"no_color": True, "color_system": None} if plain else {}
    return _Console(highlight=False, **options), _Console(stderr=True, highlight=False, **options)


_SPEC_TEXT = ("a text spec", "expected a .net file written in the netdsl language")


def _error(err: Console, message: str, status: int = EXIT_USAGE) -> int:
    err.print(f"netdsl: error: {message}", markup=False, soft_wrap=True)
    return status


def _outcome(
    args: argparse.Namespace,
    err: Console,
    path: str,
    network: str | None,
    input_shape: tuple[int, ...] | None,
    not_text: tuple[str, str] = _SPEC_TEXT,
) -> tuple[Program, Outcome] | int:
    """Load and check the spec named on the command line, or the exit status of a usage error;
    `not_text`: what the file is not, and what was expected, when it is not UTF-8 text."""
    from netdsl.check import check_program
    from netdsl.elaborate import UsageError
    from netdsl.program import load

    try:
        program = load(path)
        return program, check_program(program, network, dict(args.overrides), input_shape)
    except UnicodeDecodeError as exc:
        where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
        return _error(err, f"'{path}' is not {not_text[0]} (not UTF-8 text: {where}); {not_text[1]}")
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _error(err, f"cannot read '{path}': {reason}")
    except UsageError as exc:
        return _error(err, str(exc))


def _spec(
    args: argparse.Namespace,
    err: Console,
    path: str,
    network: str | None,
    input_shape: tuple[int, ...] | None,
    refusal: str,
    not_text: tuple[str, str] = _SPEC_TEXT,
) -> Spec | int:
    """The checked spec for build, infer, train and experiment, or the exit status after its
    diagnostics: refused when it has errors, defines no network, or is too big to allocate."""
    from netdsl import render
    from netdsl.api import Spec
    from netdsl.budget import oversize

    found = _outcome(args, err, path, network, input_shape, not_text)
    if isinstance(found, int):
        return found
    program, outcome = found
    render.print_diagnostics(err, outcome.diagnostics, program.sources)
    if outcome.checked is None and outcome.ok:
        return _error(err, f"{path} {_no_network(program)}; {refusal}", EXIT_SPEC)
    if outcome.checked is None or not outcome.ok:
        summary = render.summary_line(outcome.diagnostics)
        err.print(f"{path}: {summary}; {refusal}", markup=False, soft_wrap=True)
        return EXIT_SPEC
    too_big = oversize(outcome.checked)
    if too_big is not None:
        return _error(err, f"{too_big}; {refusal}", EXIT_SPEC)
    return Spec(program, outcome.checked, dict(args.overrides), input_shape)


def _no_network(program: Program) -> str:
    """What a file without a network holds instead: 'defines no network, only the blocks A, B'."""
    blocks = [d.name for d in program.main.definitions]
    return f"defines no network, only the block{'s' * (len(blocks) != 1)} {', '.join(blocks)}"


def _build(args: argparse.Namespace) -> int:
    from netdsl.files import STDOUT, write_atomic

    _, err = _consoles(args)
    idle = _idle_build_option(args)
    if idle:
        return _error(err, idle)
    refused = _refused_opset(args.opset, err)
    if refused is not None:
        return refused
    spec = _spec(args, err, args.spec, args.network, args.input_shape, "nothing written")
    if isinstance(spec, int):
        return spec
    if args.target == "onnx":
        return _build_onnx(spec, args, err)
    source = spec.torch_source
    if args.output in (None, STDOUT):
        sys.stdout.write(source.text)
        return EXIT_OK
    try:
        write_atomic(args.output, source.text)
    except OSError as exc:
        return _cannot_write(err, args.output, exc)
    err.print(
        f"wrote {args.output}: class {source.class_name}, {spec.checked.total_params:,} parameters",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_OK


def _idle_build_option(args: argparse.Namespace) -> str | None:
    """An option given to `build` that would do nothing, said with what to do instead."""
    if args.target == "torch":
        if args.weights is not None:
            return (
                "--weights: the torch target writes the module's source, which holds no weights; load them in "
                "Python (module.load_state_dict(torch.load(...))), or write an ONNX model with them: "
                "--target onnx --weights FILE -o model.onnx"
            )
        if args.seed is not None:
            return (
                "--seed: the torch target writes the module's source, whose weights are drawn when it is made; "
                "call torch.manual_seed(N) before making it, or write an ONNX model: --target onnx --seed N"
            )
        if args.opset is not None:
            return "--opset applies to --target onnx; the torch target writes Python source"
        given = [f"--{o}" for o in ("graph", "quantize", "calibrate") if getattr(args, o) is not None]
        if given:
            return f"{given[0]} applies to --target onnx; the torch target writes Python source"
    return _seed_with_weights(args) or _idle_quantize_option(args)


def _idle_quantize_option(args: argparse.Namespace) -> str | None:
    if args.calibrate is not None and args.quantize is None:
        return "--calibrate gives --quantize int8 its images; without --quantize it does nothing"
    if args.quantize is not None and args.calibrate is None:
        return (
            "--quantize int8 needs --calibrate SOURCE: images read as netdsl train reads them (digits, "
            "ordinal-synth, a folder of class folders, a CSV manifest), with the normalization of --weights"
        )
    if args.quantize is not None and args.graph == "training":
        return "--quantize writes a model for inference, from the inference graph: leave out --graph training"
    return None


def _seed_with_weights(args: argparse.Namespace) -> str | None:
    if args.weights is not None and args.seed is not None:
        return "--seed draws initial weights; with --weights it does nothing: give one of them"
    return None


def _refused_opset(opset: int | None, err: Console) -> int | None:
    """The exit status of an --opset outside what netdsl writes (build, train and experiment
    alike), else None, after a warning when the installed onnxruntime cannot run it."""
    if opset is None:
        return None
    from netdsl.runtime import RuntimeUsageError, check_opset

    try:
        warning = check_opset(opset)
    except RuntimeUsageError as exc:
        return _error(err, str(exc))
    if warning:
        err.print(f"netdsl: warning: {warning}", markup=False, soft_wrap=True)
    return None


def _cannot_write(err: Console, path: str, exc: OSError) -> int:
    return _error(err, f"cannot write '{path}': {exc.strerror or exc}")


def _build_onnx(spec: Spec, args: argparse.Namespace, err: Console) -> int:
    from netdsl.backends.onnx import PROTOBUF_LIMIT, WeightsError
    from netdsl.files import STDOUT

    if args.output is None:
        return _error(err, "--target onnx needs -o FILE.onnx (or -o - for standard output)")
    if args.output == STDOUT and sys.stdout.isatty():
        return _error(
            err,
            "-o -: standard output is a terminal, and an ONNX model is binary; redirect it "
            "(-o - > model.onnx) or give -o FILE.onnx",
        )
    if args.output == STDOUT and 4 * spec.checked.total_params > PROTOBUF_LIMIT:
        return _error(
            err,
            "-o -: weights past 2 GB go to an external data file beside the model, which standard "
            "output cannot have; give -o FILE.onnx",
        )
    from netdsl.quantize import QuantizeError

    seed = 0 if args.seed is None else args.seed
    try:
        opset, written, kind = _write_onnx(spec, args, seed)
    except WeightsError as exc:
        return _error(err, f"{exc}; nothing written", EXIT_SPEC)
    except QuantizeError as exc:
        return _error(err, f"{exc}; nothing written")
    except OSError as exc:
        return _cannot_write(err, args.output, exc)
    origin = f"weights {args.weights}" if args.weights else f"initial weights, seed {seed}"
    files = "standard output" if args.output == STDOUT else ", ".join(map(str, written))
    err.print(f"wrote {files}: {spec.network}, opset {opset}{kind}, {origin}", markup=False, soft_wrap=True)
    return EXIT_OK


def _write_onnx(spec: Spec, args: argparse.Namespace, seed: int) -> tuple[int, list[Any], str]:
    """Write the model: its opset, the files written, and what it is beyond a float inference graph."""
    from netdsl.backends.onnx import save_model
    from netdsl.quantize import quantize_spec

    if args.quantize:
        quantized = quantize_spec(spec, args.calibrate, args.weights, seed, args.opset)
        kind = f", int8 (QDQ) calibrated on {quantized.images} images of {args.calibrate}"
        return quantized.model.opset_import[0].version, save_model(quantized.model, args.output), kind
    parts = spec.onnx_parts(args.weights, seed, args.opset, graph=args.graph or "inference")
    kind = ", training graph" if args.graph == "training" else ""
    return parts.skeleton.opset_import[0].version, parts.save(args.output), kind


def _infer(args: argparse.Namespace) -> int:
    from netdsl.backends.onnx import WeightsError
    from netdsl.runtime import RuntimeUsageError, interpret, normalization_warning, open_session, read_inputs

    out, err = _consoles(args)
    idle = _idle_infer_option(args)
    if idle:
        return _error(err, idle)
    try:
        if args.model.endswith(".onnx"):
            session = open_session(args.model, args.provider)
        else:
            not_text = (
                "an ONNX model or a .net spec",
                f"to run trained weights, build a model: netdsl build SPEC "
                f"--target onnx --weights {args.model} -o model.onnx",
            )
            spec = _spec(args, err, args.model, args.network, None, "nothing run", not_text)
            if isinstance(spec, int):
                return spec
            seed = 0 if args.seed is None else args.seed
            session = open_session(spec.to_onnx(args.weights, seed), args.provider)
        batch, labels = read_inputs(args.inputs, session.input_shape, session.normalize)
        outputs = session.run(batch)
    except WeightsError as exc:
        return _error(err, str(exc), EXIT_SPEC)
    except RuntimeUsageError as exc:
        return _error(err, str(exc))
    if session.notice:
        err.print(f"netdsl: {session.notice}", markup=False, soft_wrap=True)
    unnormalized = normalization_warning(session, args.inputs)
    if unnormalized:
        err.print(f"netdsl: warning: {unnormalized}", markup=False, soft_wrap=True)
    for label, reading in zip(labels, interpret(outputs, session.head, args.top_k), strict=True):
        if reading.rank is not None:
            out.print(
                f"{label}: rank {reading.rank} ({reading.rank} of {reading.levels} cumulative probabilities above 0.5)",
                markup=False,
                soft_wrap=True,
            )
        else:
            classes = ", ".join(f"{c} ({p:.3f})" for c, p in reading.classes)
            out.print(f"{label}: {classes}", markup=False, soft_wrap=True)
    if args.save:
        import io

        import numpy as np

        from netdsl.files import write_atomic

        buffer = io.BytesIO()
        np.save(buffer, outputs)
        try:
            write_atomic(args.save, buffer.getvalue())
        except OSError as exc:
            return _cannot_write(err, args.save, exc)
    return EXIT_OK


def _idle_infer_option(args: argparse.Namespace) -> str | None:
    """A missing model, or an option given to `infer` that would do nothing, with what to do instead."""
    from netdsl.files import STDOUT

    if args.model is None:
        taken = next((f for f in args.inputs if f.endswith((".onnx", ".net"))), None)
        if taken:
            return (
                f"no model: '{taken}' was read as an input (--input takes every file after it); put the model "
                f"first: netdsl infer {taken} --input FILE..."
            )
        return "no model: netdsl infer MODEL.onnx|SPEC.net --input FILE..."
    if args.save == STDOUT:
        return "--save -: standard output carries the predictions; give a file name (--save out.npy)"
    if not args.model.endswith(".onnx"):
        return _seed_with_weights(args)
    given = _spec_options(args)
    if not given:
        return None
    names = list(dict.fromkeys(option.split()[0] for option in given))
    shown = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
    return (
        f"{shown} appl{'ies' if len(names) == 1 else 'y'} to a .net spec, not to '{args.model}', which holds "
        f"its network and weights as built: run the spec with {'it' if len(given) == 1 else 'them'} "
        f"(netdsl infer SPEC.net --input ... {' '.join(given)}), or build the model again "
        f"(netdsl build SPEC.net --target onnx {' '.join(given)} -o {args.model})"
    )


def _spec_options(args: argparse.Namespace) -> list[str]:
    """The options of `infer` that only a spec uses, as they were given ('--set classes=3')."""

    def text(value: object) -> str:
        return str(value).lower() if isinstance(value, bool) else str(value)

    return (
        [f"--weights {args.weights}"] * (args.weights is not None)
        + [f"--seed {args.seed}"] * (args.seed is not None)
        + [f"--set {name}={text(value)}" for name, value in args.overrides]
        + [f"--network {args.network}"] * (args.network is not None)
    )


def _train(args: argparse.Namespace) -> int:
    from netdsl.training.commands import run_train

    out, err = _consoles(args)
    refused = _refused_opset(args.opset, err)
    if refused is not None:
        return refused
    return run_train(
        args, lambda path, network: _spec(args, err, path, network, args.input_shape, "nothing trained"), out, err
    )


def _experiment(args: argparse.Namespace) -> int:
    from netdsl.training.commands import run_experiment

    out, err = _consoles(args)
    refused = _refused_opset(args.opset, err)
    if refused is not None:
        return refused
    return run_experiment(
        args, lambda path, network: _spec(args, err, path, network, None, "nothing trained"), out, err
    )


def _check(args: argparse.Namespace) -> int:
    from netdsl import render
    from netdsl.tree import resolve_depth

    out, err = _consoles(args)
    found = _outcome(args, err, args.spec, args.network, args.input_shape)
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


if __name__ == "__main__":
    sys.exit(main())
