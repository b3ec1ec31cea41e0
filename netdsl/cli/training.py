"""The `netdsl train` and `netdsl experiment` commands (their arguments are in netdsl.cli.train, which calls these)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from netdsl.api import Spec
from netdsl.cli.common import EXIT_OK, EXIT_SPEC, EXIT_USAGE
from netdsl.data.sources import DataError, Dataset, load_data
from netdsl.training.heads import HeadError, head_of
from netdsl.training.loop import (
    Quiet,
    Reporter,
    TrainConfig,
    TrainError,
    architecture_hash,
    distributed_from_env,
    load_checkpoint,
    train,
)
from netdsl.training.protocols import PROTOCOLS

Checker = Callable[[str, str | None], "Spec | int"]  # spec path, network → checked spec or an exit status


def config_of(args: argparse.Namespace, out: str, seed: int | None = None) -> TrainConfig:
    """The run's settings: each option given, else the value of --protocol's preset."""
    preset = PROTOCOLS[args.protocol]

    def given(name: str) -> Any:
        value = getattr(args, name)
        return getattr(preset, name) if value is None else value

    return TrainConfig(
        data=args.data,
        out=out,
        epochs=given("epochs"),
        batch_size=given("batch_size"),
        lr=given("lr"),
        optimizer=given("optimizer"),
        schedule=given("schedule"),
        weight_decay=args.weight_decay,
        seed=args.seed if seed is None else seed,
        device=args.device,
        resume=getattr(args, "resume", False),
        label_offset=args.label_offset,
        importance=given("importance"),
        select=preset.select if getattr(args, "select", "auto") == "auto" else args.select,
        opset=args.opset,
        head_bias_lr=given("head_bias_lr"),
        head_bias_init=args.head_bias_init,
        protocol=args.protocol,
        resize=given("resize"),
        flip=args.flip,
        loader=args.loader,
        workers=args.workers,
        precision=args.precision,
        compile=args.compile,
    )


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


def _load(
    spec: Spec, classes: int, args: argparse.Namespace, config: TrainConfig, err: Console, main: bool
) -> Dataset | int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("loading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err,
        transient=True,
        disable=not main or not err.is_terminal,  # off a terminal rich prints a blank line when it stops
    ) as progress:
        task = progress.add_task(args.data, total=None)

        def show(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            data = load_data(
                args.data,
                spec.checked.input_shape,
                classes,
                label_offset=args.label_offset,
                progress=show,
                size=config.resize,
                loader=config.loader,
            )
        except DataError as exc:
            err.print(f"netdsl: error: {exc}", markup=False, soft_wrap=True)
            return EXIT_USAGE
    if main:
        for warning in data.warnings:
            err.print(f"netdsl: warning: {warning}", markup=False, soft_wrap=True)
    return data


def run_train(args: argparse.Namespace, check: Checker, out: Console, err: Console) -> int:
    dist = distributed_from_env()
    spec = check(args.spec, args.network)
    if isinstance(spec, int):
        return spec
    if args.out is None and (args.resume or dist.world > 1):
        why = (
            "--resume continues the run in --out DIR"
            if args.resume
            else ("under torchrun every process must name the same run folder")
        )
        err.print(f"netdsl: error: give --out DIR: {why}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    classes = _classes(spec, err)
    if classes is None:
        return EXIT_SPEC
    config = config_of(args, args.out or default_out(spec.network))
    data = _load(spec, classes, args, config, err, dist.main)
    if isinstance(data, int):
        return data
    reporter: Reporter = _reporter(out) if dist.main and not args.quiet else Quiet()
    try:
        result = train(spec, data, config, reporter)
    except TrainError as exc:
        err.print(f"netdsl: error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if dist.main and (Path(config.out) / "last.pt").exists():
            err.print(
                f"netdsl: interrupted; the last finished epoch is kept: add --resume --out {config.out} to continue",
                markup=False,
                soft_wrap=True,
            )
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


class _Stop(Exception):
    """An experiment cannot go on: the message is for the user, the status for the shell."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


def run_experiment(args: argparse.Namespace, check: Checker, out: Console, err: Console) -> int:
    from netdsl.core.files import write_atomic
    from netdsl.training import experiment

    jobs = _jobs(args, check, err)
    if isinstance(jobs, int):
        return jobs
    root = Path(args.out)
    rows: list[experiment.Row] = []
    cache: dict[tuple[Any, ...], Dataset] = {}
    try:
        for spec in jobs:
            classes = _classes(spec, err)
            if classes is None:
                return EXIT_SPEC
            key = (spec.checked.input_shape, classes)
            if key not in cache:
                data = _load(spec, classes, args, config_of(args, str(root), 0), err, True)
                if isinstance(data, int):
                    return data
                cache[key] = data
            for seed in args.seeds:
                found = _one_run(spec, cache[key], seed, root / spec.network / f"seed-{seed}", args, out)
                rows.append(
                    experiment.Row(
                        spec.network,
                        seed,
                        found["test"]["mae"],
                        found["test"]["rmse"],
                        found["test"]["accuracy"],
                        found["best_epoch"],
                    )
                )
    except _Stop as stop:
        err.print(f"netdsl: error: {stop}", markup=False, soft_wrap=True)
        return stop.status
    out.print(experiment.rich_table(rows, args.data))
    for name, text in (
        ("results.md", experiment.to_markdown(rows, args.data)),
        ("results.csv", experiment.to_csv(rows)),
    ):
        try:
            write_atomic(root / name, text)
        except OSError as exc:  # a folder, a full disk …: the runs themselves are kept
            err.print(
                f"netdsl: error: cannot write '{root / name}': {exc.strerror or exc}", markup=False, soft_wrap=True
            )
            return EXIT_USAGE
    out.print(f"wrote {root / 'results.md'} and {root / 'results.csv'}", markup=False, highlight=False)
    return EXIT_OK


def _jobs(args: argparse.Namespace, check: Checker, err: Console) -> list[Spec] | int:
    """The checked networks named on the command line: SPEC (all its networks) or SPEC:NETWORK."""
    from netdsl.language.program import load

    jobs: list[Spec] = []
    for item in args.specs:
        path, _, network = item.partition(":") if not Path(item).exists() else (item, "", "")
        try:
            names = [network] if network else load(path).networks()
        except (OSError, UnicodeDecodeError):
            names = [""]  # the check below reports it
        for name in names or [""]:
            spec = check(path, name or None)
            if isinstance(spec, int):
                return spec
            jobs.append(spec)
    names = [s.network for s in jobs]
    twice = next((n for n in names if names.count(n) > 1), None)
    if twice:
        err.print(
            f"netdsl: error: the network {twice} is named twice; each method needs its own name",
            markup=False,
            soft_wrap=True,
        )
        return EXIT_USAGE
    return jobs


def _one_run(
    spec: Spec, data: Dataset, seed: int, folder: Path, args: argparse.Namespace, out: Console
) -> dict[str, Any]:
    """One method under one seed: read back when finished, resumed when interrupted, else trained."""
    config = config_of(args, str(folder), seed)
    config.select = "mae"
    architecture = architecture_hash(spec)
    done = folder / "result.json"
    if done.exists():
        found: dict[str, Any] = json.loads(done.read_text())
        differs = _differs(found.get("architecture"), found.get("settings", {}), config.settings(), architecture)
        if differs:
            raise _Stop(
                f"'{done}' holds a finished run with other settings ({differs}); pick another --out, "
                f"or remove that folder"
            )
        out.print(f"{spec.network} seed {seed}: finished earlier ({done})", markup=False, highlight=False)
        return found
    config.resume = (folder / "last.pt").exists()
    try:
        if config.resume:
            checkpoint = load_checkpoint(folder / "last.pt")
            differs = _differs(
                checkpoint.get("architecture"), checkpoint.get("config", {}), config.settings(), architecture
            )
            if differs:
                raise _Stop(
                    f"'{folder}' holds an unfinished run with other settings ({differs}); pick another "
                    f"--out, or remove that folder"
                )
        reporter = _reporter(out, epoch_lines=False, prefix=f"{spec.network} seed {seed} ")
        found = train(spec, data, config, reporter).to_json()
    except TrainError as exc:
        raise _Stop(f"{spec.network} seed {seed}: {exc}") from None
    out.print(
        f"{spec.network} seed {seed}: test MAE {found['test']['mae']:.3f}, RMSE {found['test']['rmse']:.3f} "
        f"(best epoch {found['best_epoch']}, {found['wall_s']:.0f} s)",
        markup=False,
        highlight=False,
    )
    return found


def _differs(architecture: Any, old: dict[str, Any], settings: dict[str, Any], wanted: str) -> str:
    """How a run's architecture and settings differ from the ones asked for ('' when they agree)."""
    if architecture != wanted:
        return "another architecture"
    keys = [k for k in settings if old.get(k) != settings[k]]
    return ", ".join(f"{k} {old.get(k)!r} there, {settings[k]!r} now" for k in keys)
