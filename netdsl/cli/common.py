"""What every command shares: exit codes, consoles, messages, argument types and the options that
several commands take (`--set`, `--network`, `--input`, `--no-color`, `--weights`/`--seed`,
`--opset`, `--depth`), each defined once here. Command modules import this; it imports none of them.

Exit status: 0 clean (warnings allowed), 1 errors in the spec (or a network too big to allocate),
2 a usage error (missing file, unknown flag or parameter, an option that would do nothing), 3 a
bug in netdsl itself (set NETDSL_DEBUG=1 for the traceback), 141 standard output closed early
(`netdsl check … | head`): netdsl stops quietly with the status of a Unix tool ended by SIGPIPE
(128 + 13), as `cat` and `seq` report under `set -o pipefail`.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_INTERNAL, EXIT_PIPE = 0, 1, 2, 3, 141


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's usage errors: exit 2, no traceback
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


# ---- argument types -----------------------------------------------------------------------


def parse_set(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got '{text}'")
    return name.strip(), literal(raw.strip())


def literal(raw: str) -> Any:
    if raw in ("true", "false"):
        return raw == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"'{raw}' is not an integer, a number, true or false")


def depth(text: str) -> int | str:
    from netdsl.checker.tree import parse_depth

    try:
        return parse_depth(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, all or auto, got '{text}'") from None


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def parse_shape(text: str) -> tuple[int, ...]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if not 1 <= len(dims) <= 3 or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"expected CxHxW (or F) of positive integers, got '{text}'")
    return dims


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got '{text}'")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got '{text}'")
    return value


def non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got '{text}'")
    return int(text)


def image_size(text: str) -> tuple[int, int]:
    """H or HxW: an image size in pixels."""
    parts = text.lower().split("x")
    if len(parts) > 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected a size H or HxW in pixels, like 128 or 128x96, got '{text}'")
    return int(parts[0]), int(parts[-1])


def seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(","))
    except ValueError:
        seeds = ()
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct integer seeds separated by commas, got '{text}'")
    return seeds


# ---- options shared by several commands ---------------------------------------------------


def add_set(command: argparse.ArgumentParser, help: str = "override a network parameter (repeatable)") -> None:
    command.add_argument(
        "--set",
        dest="overrides",
        metavar="NAME=VALUE",
        type=parse_set,
        action="append",
        default=[],
        help=help,
    )


def add_network(command: argparse.ArgumentParser, help: str = "which network of the file (default: the first)") -> None:
    command.add_argument("--network", help=help)


def add_no_color(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-color", action="store_true", help="plain output, no colours")


def add_opset(command: argparse.ArgumentParser, help: str, metavar: str | None = None) -> None:
    command.add_argument("--opset", type=int, metavar=metavar, help=help)


def add_depth(command: argparse.ArgumentParser, what: str) -> None:
    command.add_argument(
        "--depth",
        type=depth,
        default="auto",
        metavar="N|all",
        help=f"fold blocks, repeats and seqs nested deeper than N into one of the {what} each; all: every layer "
        "(default auto: the deepest that fits in 80 rows)",
    )


def add_seed(
    command: argparse.ArgumentParser, help: str, default: int | None = None, metavar: str | None = None
) -> None:
    command.add_argument("--seed", type=int, default=default, metavar=metavar, help=help)


def add_weights(command: argparse.ArgumentParser) -> None:
    command.add_argument("--weights", metavar="FILE", help="a state_dict or netdsl checkpoint (default: seeded init)")
    add_seed(command, "seed of the initial weights without --weights (default 0)")


def add_input_shape(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--input",
        dest="input_shape",
        metavar="CxHxW",
        type=parse_shape,
        help="override the input shape, e.g. 3x224x224",
    )


def add_spec_arguments(command: argparse.ArgumentParser) -> None:
    """A spec file and the options that say which network of it, and how: --set, --input,
    --network, --no-color."""
    command.add_argument("spec", help="a .net spec file")
    add_set(command)
    add_input_shape(command)
    add_network(command)
    add_no_color(command)


# ---- consoles and messages ----------------------------------------------------------------


def consoles(args: argparse.Namespace) -> tuple[Console, Console]:
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich's own handler exits 1; let main() end it as for print()
            raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))

    # --no-color or NO_COLOR (no-color.org): plain text, neither colour nor bold nor dim; a pipe
    # or a file gets no escapes either way (rich writes them only to a terminal)
    plain = getattr(args, "no_color", False) or bool(os.environ.get("NO_COLOR"))
    options: dict[str, Any] = {"no_color": True, "color_system": None} if plain else {}
    return _Console(highlight=False, **options), _Console(stderr=True, highlight=False, **options)


def error(err: Console, message: str, status: int = EXIT_USAGE) -> int:
    err.print(f"netdsl: error: {message}", markup=False, soft_wrap=True)
    return status


def cannot_write(err: Console, path: str, exc: OSError) -> int:
    return error(err, f"cannot write '{path}': {exc.strerror or exc}")


def reader_gone() -> int:
    """Standard output's reader closed the pipe (`| head`): stop quietly, as the Python docs
    advise: point stdout at /dev/null so that the flush at exit has nowhere to fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is no file (an embedding program's): nothing to redirect
        pass
    return EXIT_PIPE


def weights_status(exc: Exception) -> int:
    """A weights file that is missing or holds no weights is a usage error (2); weights that do
    not fit the spec, an error in it (1)."""
    from netdsl.backends.onnx.emit import WeightsFileError

    return EXIT_USAGE if isinstance(exc, WeightsFileError) else EXIT_SPEC


def seed_with_weights(args: argparse.Namespace) -> str | None:
    if args.weights is not None and args.seed is not None:
        return "--seed draws initial weights; with --weights it does nothing: give one of them"
    return None


def refused_opset(opset: int | None, err: Console) -> int | None:
    """The exit status of an --opset outside what netdsl writes (build, train and experiment
    alike), else None, after a warning when the installed onnxruntime cannot run it."""
    if opset is None:
        return None
    from netdsl.runtime.session import RuntimeUsageError, check_opset

    try:
        warning = check_opset(opset)
    except RuntimeUsageError as exc:
        return error(err, str(exc))
    if warning:
        err.print(f"netdsl: warning: {warning}", markup=False, soft_wrap=True)
    return None
