"""`netdsl train SPEC --data SOURCE` and `netdsl experiment SPEC... --data SOURCE`: their arguments,
and the step from the command line to `netdsl.cli.training`, which loads torch."""

from __future__ import annotations

import argparse

from netdsl.cli.common import (
    add_no_color,
    add_opset,
    add_seed,
    add_set,
    add_spec_arguments,
    consoles,
    image_size,
    non_negative_float,
    non_negative_int,
    positive,
    positive_float,
    refused_opset,
    seeds,
)
from netdsl.cli.specs import load_spec


def add_train_arguments(train: argparse.ArgumentParser) -> None:
    add_spec_arguments(train)
    _training_arguments(train)
    add_seed(train, "seed of the initial weights and the shuffling (default 0)", default=0, metavar="N")
    train.add_argument("--out", metavar="DIR", help="the run folder (default: runs/NETWORK, or -2, -3 … if taken)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument(
        "--select",
        choices=("auto", "accuracy", "mae", "loss"),
        default="auto",
        help="the validation figure that picks the best epoch (auto: accuracy, MAE for ordinal heads)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress; print the result as one JSON line")


def add_experiment_arguments(experiment: argparse.ArgumentParser) -> None:
    experiment.add_argument(
        "specs", nargs="+", metavar="SPEC[:NETWORK]", help="spec files (every network in each), or SPEC:NETWORK for one"
    )
    experiment.add_argument("--seeds", type=seeds, default=(0, 1, 2), help="comma-separated seeds (default 0,1,2)")
    experiment.add_argument(
        "--out",
        metavar="DIR",
        default="runs/experiment",
        help="runs go to DIR/NETWORK/seed-S; the table to DIR/results.md (default runs/experiment)",
    )
    add_set(experiment, "override a parameter of every network")
    add_no_color(experiment)
    _training_arguments(experiment)


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
    command.add_argument("--epochs", type=positive, metavar="N", help="default 10")
    command.add_argument("--batch-size", type=positive, metavar="N", help="per process (default 64)")
    command.add_argument(
        "--lr", type=positive_float, metavar="X", help="learning rate (default 1e-3 for adam, 1e-2 for sgd)"
    )
    command.add_argument("--optimizer", choices=("adam", "sgd"), help="adam, or sgd with momentum 0.9 (default adam)")
    command.add_argument(
        "--schedule",
        choices=("cosine", "constant"),
        help="learning rate: cosine decay to 0 over the run, step by step (default), or constant",
    )
    command.add_argument("--weight-decay", type=non_negative_float, default=0.0, metavar="X", help="default 0")
    command.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="auto: CUDA where PyTorch sees a GPU, else the CPU",
    )
    command.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="the training step's arithmetic: bf16 autocast, or fp32 (auto: bf16 on a CUDA GPU that supports it, "
        "fp32 on the CPU)",
    )
    command.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the network before training (its compile time is reported apart from the epochs')",
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
        type=positive_float,
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
        type=image_size,
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
        "--workers",
        type=non_negative_int,
        metavar="N",
        help="streaming: decoding processes (default: CPUs - 1, ≤ 8 on the CPU, ≤ 16 on CUDA)",
    )
    add_opset(command, "opset of model.onnx (default 18)", metavar="N")


def run_train(args: argparse.Namespace) -> int:
    from netdsl.cli import training

    out, err = consoles(args)
    refused = refused_opset(args.opset, err)
    if refused is not None:
        return refused
    return training.run_train(
        args, lambda path, network: load_spec(args, err, path, network, args.input_shape, "nothing trained"), out, err
    )


def run_experiment(args: argparse.Namespace) -> int:
    from netdsl.cli import training

    out, err = consoles(args)
    refused = refused_opset(args.opset, err)
    if refused is not None:
        return refused
    return training.run_experiment(
        args, lambda path, network: load_spec(args, err, path, network, None, "nothing trained"), out, err
    )
