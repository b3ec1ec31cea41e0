"""The `netdsl draw`, `netdsl compare` and `netdsl features` commands (their arguments are in
netdsl.cli.app). Each writes one picture, atomically, and says on standard error what it wrote."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from netdsl.cli.common import (
    EXIT_OK,
    EXIT_SPEC,
    EXIT_USAGE,
    add_network,
    add_no_color,
    add_set,
    add_spec_arguments,
    add_weights,
    consoles,
    positive,
    weights_status,
)
from netdsl.cli.common import (
    depth as depth_argument,
)
from netdsl.cli.specs import load_spec
from netdsl.core.files import STDOUT, write_atomic
from netdsl.pictures.plot import DPI, picture_format

if TYPE_CHECKING:
    from netdsl.api import Spec
    from netdsl.pictures.compare import Entry

Checker = Callable[[str, "str | None"], "Spec | int"]  # spec path, network → checked spec or an exit status
PICTURES = ("svg", "png", "pdf")  # what every picture command writes


def _say(err: Console, text: str) -> None:
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def _error(err: Console, message: str, status: int = EXIT_USAGE) -> int:
    _say(err, f"netdsl: error: {message}")
    return status


def _format(path: str, err: Console, allowed: tuple[str, ...] = ("svg", "png")) -> str | None:
    """The picture format of `-o`: by its suffix (standard output: SVG)."""
    kind = "svg" if path == STDOUT else picture_format(path)
    if kind not in allowed:
        suffixes = [f".{a}" for a in allowed]
        _error(err, f"-o {path}: give a file ending in {', '.join(suffixes[:-1])} or {suffixes[-1]}")
        return None
    return kind


def _write(path: str, data: bytes | str, err: Console) -> bool:
    import sys

    if path == STDOUT:
        if isinstance(data, bytes) and sys.stdout.isatty():
            _error(err, "-o -: standard output is a terminal, and a PNG is binary; give -o FILE.png")
            return False
        if isinstance(data, bytes):
            sys.stdout.buffer.write(data)
        else:
            sys.stdout.write(data)
        return True
    try:
        write_atomic(path, data)
    except OSError as exc:
        _error(err, f"cannot write '{path}': {exc.strerror or exc}")
        return False
    return True


def run_draw(args: argparse.Namespace, check: Checker, err: Console) -> int:
    from netdsl.checker import tree
    from netdsl.pictures import canvas, graph, planes

    kind = _format(args.output, err, PICTURES)
    if kind is None:
        return EXIT_USAGE
    spec = check(args.spec, args.network)
    if isinstance(spec, int):
        return spec
    checked = spec.checked
    if args.style == "planes":
        for flag, given in (
            ("--depth", args.depth != "auto"),
            ("--unfold", args.unfold),
            ("--direction", args.direction != "TB"),
        ):
            if given:
                return _error(err, f"{flag} is for --style graph; the planes style draws every stage, left to right")
        try:
            laid_planes = planes.layout(checked)
        except planes.NotAChain as exc:
            return _error(err, str(exc), EXIT_SPEC)
        picture = planes.draw(laid_planes)
        what = f"{len(laid_planes.placed)} stages"
    else:
        fold = not args.unfold
        if args.depth == "auto":
            depth = graph.fit_depth(checked, fold, args.direction)
        else:
            depth = tree.resolve_depth(args.depth, checked)
        laid = graph.layout(checked, depth, fold, args.direction)
        row = graph.fit_row(laid)
        if row is not None:
            laid = graph.layout(checked, depth, fold, args.direction, row)
        picture = graph.draw(laid)
        folded = f", blocks folded at depth {depth}" if any(b.kind == "block" for b in laid.boxes) else ""
        rows = f" in {laid.rows} rows" if laid.rows > 1 else ""
        what = f"{len(laid.boxes)} boxes, {len(laid.frames)} frames{folded}{rows}"
    data = canvas.encode(picture, kind, args.dpi)
    if not _write(args.output, data, err):
        return EXIT_USAGE
    if args.output != STDOUT:
        _say(err, f"wrote {args.output}: {spec.network}, {what} ({args.style})")
    return EXIT_OK


def _jobs(items: list[str], check: Checker) -> list[Spec] | int:
    """The networks named on the command line: SPEC (every network in it) or SPEC:NETWORK."""
    from netdsl.importer.sources import is_import_source
    from netdsl.language.program import load

    jobs: list[Spec] = []
    for item in items:
        whole = Path(item).exists() or is_import_source(item)  # FILE.py:Factory is imported, not split
        path, _, network = (item, "", "") if whole else item.partition(":")
        try:
            names = [network] if network or is_import_source(path) else load(path).networks()
        except (OSError, UnicodeDecodeError, ValueError):
            names = [""]  # the check says what is wrong
        for name in names or [""]:
            spec = check(path, name or None)
            if isinstance(spec, int):
                return spec
            jobs.append(spec)
    return jobs


def run_compare(args: argparse.Namespace, check: Checker, out: Console, err: Console) -> int:
    from netdsl.pictures import compare

    kind = _format(args.output, err, PICTURES) if args.output else None
    if args.output and kind is None:
        return EXIT_USAGE
    jobs = _jobs(args.specs, check)
    if isinstance(jobs, int):
        return jobs
    entries = [compare.entry(spec.checked, spec.program.main.file) for spec in jobs]
    metric = None
    try:
        if args.results:
            results, metric = compare.read_results(args.results)
            entries = compare.with_results(entries, results)
            missing = [e.network for e in entries if e.metric is None]
            if missing:
                _say(err, f"netdsl: warning: no run of {', '.join(missing)} in --results: left out of the chart")
        chart = compare.chart(entries, metric, kind, args.dpi or DPI) if kind else None
    except compare.CompareError as exc:
        return _error(err, str(exc))
    if args.output != STDOUT:
        _print_table(out, entries, metric, args.format)
    if chart is not None and args.output:
        if not _write(args.output, chart, err):
            return EXIT_USAGE
        if args.output != STDOUT:
            shown = sum(metric is None or e.metric is not None for e in entries)
            _say(
                err,
                f"wrote {args.output}: {shown} network{'s' * (shown != 1)}, "
                f"y: {'test ' + metric if metric else 'parameters'}",
            )
    return EXIT_OK


def _print_table(out: Console, entries: list[Entry], metric: str | None, form: str | None) -> None:
    """JSON or markdown as asked; by default a table to a terminal and markdown to a pipe or file."""
    from netdsl.pictures import compare

    if form == "json":
        out.file.write(compare.to_json(entries, metric))
    elif form == "markdown" or (form is None and not out.is_terminal):
        out.file.write(compare.to_markdown(entries, metric))
    else:
        out.print(_rich_table(entries, metric))


def _rich_table(entries: list[Entry], metric: str | None) -> object:
    """The comparison for a terminal: counts with SI prefixes and no spec paths (a name that two
    specs give gains its folder or file, as on the chart), so that it fits 80 columns."""
    from rich import box
    from rich.table import Table

    from netdsl.pictures.compare import metric_text, names, si
    from netdsl.report.render import field_text, human_bytes

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, header_style="bold")
    table.add_column("network", overflow="fold")
    for name in ("params", "MACs", "memory", "field"):
        table.add_column(name, justify="right", no_wrap=True)
    if metric:
        table.add_column("test acc." if metric == "accuracy" else f"test {metric}", justify="right", no_wrap=True)
        table.add_column("runs", justify="right", no_wrap=True)
    for e, name in zip(entries, names(entries), strict=True):  # a name two specs give: with its folder
        row = [name, si(e.params), si(e.macs), human_bytes(e.activation_bytes)]
        row.append(field_text(e.receptive_field))
        if metric:
            row += [metric_text(e.metric, metric, e.spread), str(e.runs)]
        table.add_row(*row)
    return table


def run_features(args: argparse.Namespace, check: Checker, err: Console) -> int:
    from netdsl.backends.onnx.emit import WeightsError
    from netdsl.pictures import features
    from netdsl.runtime.session import RuntimeUsageError

    kind = _format(args.output, err, PICTURES)
    if kind is None:
        return EXIT_USAGE
    if args.weights is not None and args.seed is not None:
        return _error(err, "--seed draws initial weights; with --weights it does nothing: give one of them")
    spec = check(args.spec, args.network)
    if isinstance(spec, int):
        return spec
    try:
        layer = features.pick_layer(spec.checked, args.layer)
        maps = features.feature_maps(spec, layer, args.input, args.weights, args.seed or 0)
    except features.FeatureError as exc:
        return _error(err, str(exc))
    except WeightsError as exc:
        return _error(err, str(exc), weights_status(exc))
    except RuntimeUsageError as exc:
        return _error(err, str(exc))
    names = features.channel_names(spec.checked.graph, layer)
    data = features.draw(maps, spec.network, kind, args.max_maps, names, args.dpi or DPI)
    if not _write(args.output, data, err):
        return EXIT_USAGE
    if args.weights is None and spec.checked.trainable_params:
        _say(err, f"netdsl: note: no --weights: these are the maps of untrained weights (seed {args.seed or 0})")
    if args.output != STDOUT:
        channels = maps.maps.shape[0]
        _say(
            err,
            f"wrote {args.output}: {layer}, {min(channels, args.max_maps)} of {channels} maps of "
            f"{maps.maps.shape[1]}×{maps.maps.shape[2]}",
        )
    return EXIT_OK


# ---- arguments ----------------------------------------------------------------------------


def add_draw_arguments(draw: argparse.ArgumentParser) -> None:
    add_spec_arguments(draw)
    draw.add_argument(
        "-o", "--output", required=True, metavar="FILE", help="FILE.svg, FILE.png or FILE.pdf (-: SVG to stdout)"
    )
    add_dpi(draw)
    draw.add_argument("--style", choices=("graph", "planes"), default="graph", help="default graph")
    draw.add_argument(
        "--depth",
        type=depth_argument,
        default="auto",
        metavar="N|all",
        help="fold blocks, repeats and seqs nested deeper than N into one box each; all: every block open "
        "(default auto: the deepest whose picture fits 2.5 A4 pages)",
    )
    draw.add_argument(
        "--unfold",
        action="store_true",
        help="a box for every layer (default: activations, normalizations, dropouts and flattens "
        "join the box of the layer before them)",
    )
    draw.add_argument(
        "--direction", choices=("TB", "LR"), default="TB", help="top to bottom (default) or left to right"
    )


MAX_DPI = 1200  # a 12-inch chart at 1200 dpi is 14,400 pixels wide: past that Agg runs out of room


def _dpi(text: str) -> int:
    value = positive(text)
    if value > MAX_DPI:
        raise argparse.ArgumentTypeError(f"at most {MAX_DPI} pixels per inch, got {value}")
    return value


def add_dpi(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--dpi", type=_dpi, metavar="N", help=f"pixels per inch of a PNG (default {DPI}); SVG and PDF are vector"
    )


def add_compare_arguments(compare: argparse.ArgumentParser) -> None:
    compare.add_argument("specs", nargs="+", metavar="SPEC[:NETWORK]", help="spec files, or SPEC:NETWORK for one")
    compare.add_argument(
        "--results", nargs="+", action="extend", metavar="DIR", help="run folders of netdsl train or experiment"
    )
    compare.add_argument("-o", "--output", metavar="FILE", help="the chart: FILE.svg, FILE.png or FILE.pdf")
    compare.add_argument(
        "--format",
        choices=("table", "markdown", "json"),
        help="the table's format (default: a table on a terminal, markdown to a pipe or file)",
    )
    add_dpi(compare)
    add_set(compare, "override a parameter of every network")
    add_no_color(compare)


def add_features_arguments(features: argparse.ArgumentParser) -> None:
    features.add_argument("spec", help="a .net spec file")
    add_set(features)
    add_network(features)
    add_no_color(features)
    # --input is the image here, as for infer (the input shape follows the spec and --set)
    features.add_argument("--input", required=True, metavar="IMAGE", help="an image, or a .npy array [C, H, W]")
    features.add_argument("--layer", help="the layer to show (default: the first conv)")
    features.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.png, FILE.svg or FILE.pdf")
    add_dpi(features)
    features.add_argument("--max-maps", type=positive, default=64, metavar="N", help="show at most N maps (64)")
    add_weights(features)


def run(args: argparse.Namespace) -> int:
    """`draw`, `compare` or `features`, as args.command says."""
    out, err = consoles(args)
    shape = getattr(args, "input_shape", None)
    refusal = f"nothing {'compared' if args.command == 'compare' else 'drawn'}"

    def check(path: str, network: str | None) -> Spec | int:
        return load_spec(args, err, path, network, shape, refusal)

    if args.command == "draw":
        return run_draw(args, check, err)
    if args.command == "compare":
        return run_compare(args, check, out, err)
    return run_features(args, check, err)
