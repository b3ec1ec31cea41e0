"""`netdsl build SPEC --target torch|onnx`: the generated module's source, or an ONNX model
(float, or static int8 with --quantize)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from netdsl.cli.common import (
    EXIT_OK,
    add_opset,
    add_spec_arguments,
    add_weights,
    cannot_write,
    consoles,
    error,
    refused_opset,
    seed_with_weights,
    weights_status,
)
from netdsl.cli.specs import load_spec

if TYPE_CHECKING:
    from rich.console import Console

    from netdsl.api import Spec


def add_arguments(build: argparse.ArgumentParser) -> None:
    add_spec_arguments(build)
    build.add_argument(
        "--target", choices=("torch", "onnx"), help="what to build (default: onnx for -o FILE.onnx, else torch)"
    )
    build.add_argument("-o", "--output", metavar="FILE", help="write here (torch: default standard output)")
    add_weights(build)
    add_opset(build, "ONNX opset (default 18; 17 up to the newest onnx knows)")
    # the choices of netdsl.backends.onnx.emit.GRAPHS and netdsl.runtime.quantize.FORMATS (check imports no backend)
    build.add_argument(
        "--graph",
        choices=("inference", "training"),
        help="ONNX: inference (default: batchnorms folded into their convs, no dropout) or training (every layer)",
    )
    # the choices of netdsl.backends.onnx.lowerings.TARGETS
    build.add_argument(
        "--for",
        dest="target_for",
        choices=("cpu", "cuda"),
        help="ONNX: the onnxruntime provider to build for, whose faster lowerings it takes (default cpu); "
        "written into the model as netdsl.for",
    )
    build.add_argument("--quantize", choices=("int8",), help="ONNX: static int8 quantization (QDQ), see --calibrate")
    build.add_argument(
        "--calibrate", metavar="SOURCE", help="images to calibrate --quantize on: a data source of netdsl train"
    )


def run(args: argparse.Namespace) -> int:
    from netdsl.core.files import STDOUT, write_atomic

    _, err = consoles(args)
    mismatch = _resolve_target(args)
    if mismatch:
        return error(err, mismatch)
    idle = _idle_build_option(args)
    if idle:
        return error(err, idle)
    refused = refused_opset(args.opset, err)
    if refused is not None:
        return refused
    spec = load_spec(args, err, args.spec, args.network, args.input_shape, "nothing written")
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
        return cannot_write(err, args.output, exc)
    err.print(
        f"wrote {args.output}: class {source.class_name}, {spec.checked.total_params:,} parameters",
        markup=False,
        soft_wrap=True,
    )
    return EXIT_OK


_SUFFIXES = {".onnx": "onnx", ".py": "torch"}


def _resolve_target(args: argparse.Namespace) -> str | None:
    """Set args.target from -o's extension when not given (.onnx: onnx, else torch); a target
    that contradicts the extension is refused, said with what to do instead."""
    from pathlib import PurePath

    suffix = PurePath(args.output).suffix.lower() if args.output else ""
    implied = _SUFFIXES.get(suffix)
    if args.target is None:
        args.target = implied or "torch"
        return None
    if implied is not None and implied != args.target:
        writes = "an ONNX model" if args.target == "onnx" else "Python source"
        other = ".onnx" if args.target == "onnx" else ".py"
        return (
            f"--target {args.target} writes {writes}, but -o {args.output} ends in {suffix}: "
            f"give -o FILE{other}, or leave out --target"
        )
    return None


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
        given += ["--for"] if args.target_for is not None else []
        if given:
            return f"{given[0]} applies to --target onnx; the torch target writes Python source"
    return seed_with_weights(args) or _idle_quantize_option(args)


def _idle_quantize_option(args: argparse.Namespace) -> str | None:
    if args.calibrate is not None and args.quantize is None:
        return "--calibrate gives --quantize int8 its images; without --quantize it does nothing"
    if args.quantize is not None and args.calibrate is None:
        return (
            "--quantize int8 needs --calibrate SOURCE: images read as netdsl train reads them (digits, "
            "ordinal-synth, a folder of class folders, a CSV manifest), with the normalization of --weights"
        )
    if args.quantize is not None and args.target_for == "cuda":
        return "--quantize int8 writes a model for onnxruntime's CPU provider: leave out --for cuda"
    if args.quantize is not None and args.graph == "training":
        return "--quantize writes a model for inference, from the inference graph: leave out --graph training"
    return None


def _build_onnx(spec: Spec, args: argparse.Namespace, err: Console) -> int:
    from netdsl.backends.onnx.emit import PROTOBUF_LIMIT, WeightsError
    from netdsl.core.files import STDOUT

    if args.output is None:
        return error(err, "--target onnx needs -o FILE.onnx (or -o - for standard output)")
    if args.output == STDOUT and sys.stdout.isatty():
        return error(
            err,
            "-o -: standard output is a terminal, and an ONNX model is binary; redirect it "
            "(-o - > model.onnx) or give -o FILE.onnx",
        )
    if args.output == STDOUT and 4 * spec.checked.total_params > PROTOBUF_LIMIT:
        return error(
            err,
            "-o -: weights past 2 GB go to an external data file beside the model, which standard "
            "output cannot have; give -o FILE.onnx",
        )
    from netdsl.runtime.quantize import QuantizeError
    from netdsl.runtime.session import cuda_opset_warning

    seed = 0 if args.seed is None else args.seed
    if args.target_for == "cuda" and cuda_opset_warning(args.opset):
        err.print(f"netdsl: warning: {cuda_opset_warning(args.opset)}", markup=False, soft_wrap=True)
    try:
        opset, written, kind = _write_onnx(spec, args, seed)
    except WeightsError as exc:
        return error(err, f"{exc}; nothing written", weights_status(exc))
    except QuantizeError as exc:
        return error(err, f"{exc}; nothing written")
    except OSError as exc:
        return cannot_write(err, args.output, exc)
    origin = f"weights {args.weights}" if args.weights else f"initial weights, seed {seed}"
    files = "standard output" if args.output == STDOUT else ", ".join(map(str, written))
    err.print(f"wrote {files}: {spec.network}, opset {opset}{kind}, {origin}", markup=False, soft_wrap=True)
    if args.quantize:
        from netdsl.runtime.quantize import int8_expectation

        expectation = int8_expectation(spec.checked)
        if expectation:
            err.print(f"netdsl: note: {expectation}", markup=False, soft_wrap=True)
    return EXIT_OK


def _write_onnx(spec: Spec, args: argparse.Namespace, seed: int) -> tuple[int, list[Any], str]:
    """Write the model: its opset, the files written, and what it is beyond a float inference graph."""
    from netdsl.backends.onnx.emit import save_model
    from netdsl.runtime.quantize import quantize_spec

    if args.quantize:
        quantized = quantize_spec(spec, args.calibrate, args.weights, seed, args.opset)
        kind = f", int8 (QDQ) calibrated on {quantized.images} images of {args.calibrate}"
        return quantized.model.opset_import[0].version, save_model(quantized.model, args.output), kind
    target = args.target_for or "cpu"
    parts = spec.onnx_parts(args.weights, seed, args.opset, graph=args.graph or "inference", target=target)
    kind = (", training graph" if args.graph == "training" else "") + (", for CUDA" if target == "cuda" else "")
    return parts.skeleton.opset_import[0].version, parts.save(args.output), kind
