"""The `netdsl train` and `netdsl experiment` commands (their arguments are in netdsl.cli)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from netdsl.api import Spec
from netdsl.training.data import DataError, Dataset, load_data
from netdsl.training.heads import HeadError, head_of
from netdsl.training.loop import Quiet, Reporter, TrainConfig, TrainError, distributed_from_env, train

EXIT_OK, EXIT_SPEC, EXIT_USAGE = 0, 1, 2
Checker = Callable[[str, str | None], "Spec | int"]  # spec path, network → checked spec or an exit status


def config_of(args: argparse.Namespace, out: str, seed: int | None = None) -> TrainConfig:
    return TrainConfig(data=args.data, out=out, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       optimizer=args.optimizer, schedule=args.schedule, weight_decay=args.weight_decay,
                       seed=args.seed if seed is None else seed, device=args.device,
                       resume=getattr(args, "resume", False), label_offset=args.label_offset,
                       importance=args.importance, select=getattr(args, "select", "auto"), opset=args.opset)


def default_out(network: str) -> str:
    """runs/<network>, or the first of runs/<network>-2, -3 … that does not exist yet."""
    base = Path("runs") / network
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{network}-{n}")
    return str(candidate)


def _classes(spec: Spec, err: Console) -> int | None:
    """The number of classes the spec's head predicts (None after saying why it cannot train)."""
    try:
        return head_of(spec.checked).classes
    except HeadError as exc:
        err.print(f"netdsl: error: {exc}", markup=False, soft_wrap=True)
        return None


def _load(spec: Spec, args: argparse.Namespace, err: Console, main: bool) -> Dataset | int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    classes = _classes(spec, err)
    if classes is None:
        return EXIT_SPEC
    with Progress(TextColumn("loading {task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                  transient=True, disable=not main) as progress:
        task = progress.add_task(args.data, total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            return load_data(args.data, spec.checked.input_shape, classes, label_offset=args.label_offset,
                             progress=show)
        except DataError as exc:
            err.print(f"netdsl: error: {exc}", markup=False, soft_wrap=True)
            return EXIT_USAGE


def run_train(args: argparse.Namespace, check: Checker, out: Console, err: Console) -> int:
    dist = distributed_from_env()
    spec = check(args.spec, args.network)
    if isinstance(spec, int):
        return spec
    if args.out is None and (args.resume or dist.world > 1):
        why = "--resume continues the run in --out DIR" if args.resume else (
            "under torchrun every process must name the same run folder")
        err.print(f"netdsl: error: give --out DIR: {why}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    data = _load(spec, args, err, dist.main)
    if isinstance(data, int):
        return data
    config = config_of(args, args.out or default_out(spec.network))
    reporter: Reporter = _reporter(out) if dist.main and not args.quiet else Quiet()
    try:
        result = train(spec, data, config, reporter)
    except TrainError as exc:
        err.print(f"netdsl: error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if dist.main and (Path(config.out) / "last.pt").exists():
            err.print(f"netdsl: interrupted; the last finished epoch is kept: add --resume --out {config.out} to "
                      f"continue", markup=False, soft_wrap=True)
            return 130
        raise
    except OSError as exc:  # the run folder cannot be written (a file in the way, a full disk…)
        where = f" '{exc.filename}'" if exc.filename else ""
        err.print(f"netdsl: error: cannot write{where}: {exc.strerror or exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    if result is not None and args.quiet:
        out.print(json.dumps(result.to_json()), markup=False, soft_wrap=True, highlight=False)
    return EXIT_OK


def _reporter(console: Console, **options: Any) -> Reporter:
    from netdsl.training.report import RichReporter

    return RichReporter(console, **options)


def run_experiment(args: argparse.Namespace, check: Checker, out: Console, err: Console) -> int:
    from netdsl.files import write_atomic
    from netdsl.program import load
    from netdsl.training import experiment

    seeds = args.seeds
    jobs: list[Spec] = []
    for item in args.specs:
        path, _, network = item.partition(":") if not Path(item).exists() else (item, "", "")
        try:
            names = [network] if network else load(path).networks()
        except (OSError, UnicodeDecodeError):
            names = [""]  # let the check below report it
        for name in names or [""]:
            spec = check(path, name or None)
            if isinstance(spec, int):
                return spec
            jobs.append(spec)
    duplicate = [s.network for s in jobs if [j.network for j in jobs].count(s.network) > 1]
    if duplicate:
        err.print(f"netdsl: error: the network {duplicate[0]} is named twice; each method needs its own name",
                  markup=False, soft_wrap=True)
        return EXIT_USAGE
    root = Path(args.out)
    rows: list[experiment.Row] = []
    cache: dict[tuple[Any, ...], Dataset] = {}
    for spec in jobs:
        key = (spec.checked.input_shape, _classes(spec, err))
        if key[1] is None:
            return EXIT_SPEC
        if key not in cache:
            data = _load(spec, args, err, True)
            if isinstance(data, int):
                return data
            cache[key] = data
        for seed in seeds:
            folder = root / spec.network / f"seed-{seed}"
            done = folder / "result.json"
            if done.exists():
                found = json.loads(done.read_text())
                out.print(f"{spec.network} seed {seed}: finished earlier ({done})", markup=False, highlight=False)
            else:
                config = config_of(args, str(folder), seed)
                config.select = "mae"
                config.resume = (folder / "last.pt").exists()
                reporter = _reporter(out, epoch_lines=False, prefix=f"{spec.network} seed {seed} ")
                try:
                    found = train(spec, cache[key], config, reporter).to_json()
                except TrainError as exc:
                    err.print(f"netdsl: error: {spec.network} seed {seed}: {exc}", markup=False, soft_wrap=True)
                    return EXIT_USAGE
                out.print(f"{spec.network} seed {seed}: test MAE {found['test']['mae']:.3f}, RMSE "
                          f"{found['test']['rmse']:.3f} (best epoch {found['best_epoch']}, {found['wall_s']:.0f} s)",
                          markup=False, highlight=False)
            rows.append(experiment.Row(spec.network, seed, found["test"]["mae"], found["test"]["rmse"],
                                       found["test"]["accuracy"], found["best_epoch"]))
    out.print(experiment.rich_table(rows, args.data))
    write_atomic(root / "results.md", experiment.to_markdown(rows, args.data))
    write_atomic(root / "results.csv", experiment.to_csv(rows))
    out.print(f"wrote {root / 'results.md'} and {root / 'results.csv'}", markup=False, highlight=False)
    return EXIT_OK

