"""`netdsl infer MODEL --input FILE...`: a model (.onnx, or a spec built on the fly) run through
onnxruntime on images or arrays, its outputs read as classes or ranks."""

from __future__ import annotations

import argparse

from netdsl.cli.common import (
    EXIT_OK,
    add_network,
    add_no_color,
    add_set,
    add_weights,
    cannot_write,
    consoles,
    error,
    positive,
    seed_with_weights,
    weights_status,
)
from netdsl.cli.specs import load_spec


def add_arguments(infer: argparse.ArgumentParser) -> None:
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
    infer.add_argument("--top-k", type=positive, default=5, help="classes to show per sample (default 5)")
    infer.add_argument("--save", metavar="OUT.npy", help="keep the raw outputs")
    add_set(infer, "with a spec: override a network parameter")
    add_network(infer, "with a spec: which network of the file")
    add_weights(infer)
    add_no_color(infer)


def run(args: argparse.Namespace) -> int:
    from netdsl.backends.onnx.emit import WeightsError
    from netdsl.runtime.session import (
        CUDA,
        RuntimeUsageError,
        interpret,
        normalization_warning,
        open_session,
        read_inputs,
    )

    out, err = consoles(args)
    idle = _idle_infer_option(args)
    if idle:
        return error(err, idle)
    try:
        if args.model.endswith(".onnx"):
            session = open_session(args.model, args.provider)
        else:
            not_text = (
                "an ONNX model or a .net spec",
                f"to run trained weights, build a model: netdsl build SPEC "
                f"--target onnx --weights {args.model} -o model.onnx",
            )
            spec = load_spec(args, err, args.model, args.network, None, "nothing run", not_text)
            if isinstance(spec, int):
                return spec
            seed = 0 if args.seed is None else args.seed
            target = "cuda" if args.provider == "cuda" else "cpu"
            session = open_session(spec.to_onnx(args.weights, seed, target=target), args.provider)
            if session.provider == CUDA and target == "cpu":  # auto found CUDA working: built again for it
                session = open_session(spec.to_onnx(args.weights, seed, target="cuda"), args.provider)
        batch, labels = read_inputs(args.inputs, session.input_shape, session.normalize)
        outputs = session.run(batch)
    except WeightsError as exc:
        return error(err, str(exc), weights_status(exc))
    except RuntimeUsageError as exc:
        return error(err, str(exc))
    if not args.model.endswith(".onnx") and args.weights is None:
        err.print(
            f"netdsl: warning: no --weights: these are the outputs of untrained weights (seed {args.seed or 0}); "
            "give --weights runs/NAME/best.pt for a trained network",
            markup=False,
            soft_wrap=True,
        )
    if session.notice:
        err.print(f"netdsl: {session.notice}", markup=False, soft_wrap=True)
    if session.placement:
        err.print(f"netdsl: warning: {session.placement}", markup=False, soft_wrap=True)
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

        from netdsl.core.files import write_atomic

        buffer = io.BytesIO()
        np.save(buffer, outputs)
        try:
            write_atomic(args.save, buffer.getvalue())
        except OSError as exc:
            return cannot_write(err, args.save, exc)
    return EXIT_OK


def _idle_infer_option(args: argparse.Namespace) -> str | None:
    """A missing model, or an option given to `infer` that would do nothing, with what to do instead."""
    from netdsl.core.files import STDOUT

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
        return seed_with_weights(args)
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
