"""A clean check means a working build: random networks through the checker, PyTorch, and both backends.

Each network (tests/netgen.py) is spec text plus the generator's own description of it. The
description's meaning in PyTorch — layers built by hand, never through netdsl, run on the meta
device — is the judge:

- the checker accepts → PyTorch accepts with the checker's output shape and parameter counts;
  `netdsl.load(text).to_torch()` has the checker's parameters and trainable parameters, its
  parameters are named by the checker's layer names (state_dict keys), and it gives the
  checker's output shape; the generated source passes `ruff check` and `ruff format --check`;
  `to_onnx` passes `onnx.checker.check_model(full_check=True)` and strict shape inference with
  the checker's shapes; onnxruntime's output matches the module's (1e-4 of the largest output);
- the checker rejects (an error) → PyTorch rejects too, except for the deliberate differences
  of `DELIBERATE`, each with its reason.

Hypothesis draws the networks (derandomized: CI runs the same ones every time) and shrinks a
failing one to a small spec when NETDSL_FUZZ_SHRINK=1 (that takes minutes; without it the
failing network is shown as drawn). NETDSL_FUZZ_EXAMPLES sets how many (default 100; the long
mode runs NETDSL_FUZZ_EXAMPLES=100000). `python tests/test_differential.py [N] [SEED]` runs N
seeded networks without hypothesis and prints every failure, grouped, with counts per op.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

import netdsl
from netdsl.backends.pytorch.names import state_prefix
from netdsl.checker.check import check_text
from netdsl.checker.ops import OPS
from netdsl.runtime.session import max_opset

import netgen

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
np = pytest.importorskip("numpy")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES = int(os.environ.get("NETDSL_FUZZ_EXAMPLES", "100"))
SHRINK = os.environ.get("NETDSL_FUZZ_SHRINK") == "1"
MINIMIZE = os.environ.get("NETDSL_FUZZ_MINIMIZE") == "1"  # the census's reproducers, made small
OPSETS = range(17, max_opset() + 1)  # the oldest opset netdsl writes, to the newest onnxruntime runs

# Networks the checker rejects on purpose although PyTorch runs them; the reference notes each.
DELIBERATE = {
    "last_axis_needs_channels_last": "linear and layernorm act on the last axis: on a [C, H, W] value only once "
    "permute([1, 2, 0]) moved the channels last (nn.Linear and nn.LayerNorm take any tensor's last axis, here W)",
    "heads_need_flat_input": "coral and ordinal need a flat [features] input (their nn.Linear takes any tensor)",
    "head_needs_two_classes": "coral and ordinal need at least 2 classes; PyTorch makes an empty head for 1",
    "add_broadcasts": "add joins values of one shape; PyTorch broadcasts ([C, 1, 1] + [C, H, W])",
    "mul_needs_one_rank": "mul broadcasts sizes of 1 between values of one rank; PyTorch also across ranks",
    "pooling_needs_chw": "adaptive and global average pooling need [C, H, W]; nn.AdaptiveAvgPool2d also takes a "
    "2-D [N, F] tensor (as one unbatched [H, W] map, pooling the batch away)",
    "chunk_needs_equal_parts": "chunk splits the channels into equal parts; x.chunk gives unequal (or fewer) parts",
    "chunk_needs_chw": "chunk splits the channels of [C, H, W]; x.chunk(dim=1) splits any tensor's second axis",
    "batchnorm_rank": "batchnorm takes [C, H, W] or [features]; nn.BatchNorm1d also takes [C, L]",
}


class Mismatch(AssertionError):
    """A disagreement; `tag` names its kind (one exception class per kind, so that hypothesis
    tells the kinds apart and shrinks each)."""

    tag = "mismatch"


_KINDS: dict[str, type[Mismatch]] = {}


def _kind(tag: str) -> type[Mismatch]:
    if tag not in _KINDS:
        _KINDS[tag] = type(f"Mismatch_{tag.replace('-', '_')}", (Mismatch,), {"tag": tag})
    return _KINDS[tag]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


@dataclass
class Verdict:
    """What one network did: accepted (and checked through both backends), rejected, or a deliberate difference."""

    status: str
    ops: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (tag, message)

    def fail(self, tag: str, message: str) -> None:
        self.failures.append((tag, message))


def ruff_binary() -> str:
    found = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    return found if Path(found).exists() else "ruff"


def ruff_problems(source: str) -> list[tuple[str, str]]:
    """`ruff check` and `ruff format --check` (ruff's defaults, as a user runs them) on generated source."""
    found = []
    for tag, args in (
        ("ruff-check", ["check", "--isolated", "--output-format", "concise"]),
        ("ruff-format", ["format", "--isolated", "--diff"]),
    ):
        done = subprocess.run(
            [ruff_binary(), *args, "--stdin-filename", "generated.py", "-"],
            input=source,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            found.append((tag, (done.stdout + done.stderr).strip()[:2000]))
    return found


def _randomize_statistics(module: Any, seed: int) -> None:
    """Batchnorm running statistics away from 0 and 1, so that eval mode really uses them."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, buffer in module.named_buffers():
            if name.endswith("running_mean"):
                buffer.copy_(torch.randn(buffer.shape, generator=gen) * 0.5)
            elif name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=gen) + 0.5)


def verify(net: netgen.Net, lint: bool = True) -> Verdict:
    """Every check of the module docstring on one network; failures are collected, not raised."""
    text = net.text
    try:
        reference: netgen.Outcome | netgen.Rejected = netgen.reference(net)
    except netgen.Rejected as exc:
        reference = exc
    try:
        outcome = check_text(text, "fuzz.net")
    except Exception as exc:  # noqa: BLE001 - a checker crash is a finding
        return Verdict("crash", failures=[("checker-crash", _first_line(exc))])
    errors = [d for d in outcome.diagnostics if d.severity == "error"]
    if errors or outcome.checked is None:
        if isinstance(reference, netgen.Rejected):
            return Verdict("rejected")
        deliberate = sorted(reference.notes & DELIBERATE.keys())
        if deliberate:
            return Verdict("deliberate:" + ",".join(deliberate))
        message = str(errors[0]) if errors else "no network checked"
        return Verdict(
            "rejected",
            failures=[("checker-rejects-pytorch-accepts", f"{message}; PyTorch gives {list(reference.shape)}")],
        )
    verdict = Verdict("accepted")
    checked = outcome.checked
    verdict.ops.update(layer.op for layer in checked.layers[1:])
    if isinstance(reference, netgen.Rejected):
        verdict.fail("checker-accepts-pytorch-rejects", f"checker gives {list(checked.output_shape)}; {reference}")
        return verdict
    if tuple(checked.output_shape) != reference.shape:
        verdict.fail(
            "shape-checker-vs-pytorch", f"checker {list(checked.output_shape)}, PyTorch {list(reference.shape)}"
        )
    counts = (checked.total_params, checked.trainable_params)
    if counts != (reference.params, reference.trainable):
        verdict.fail(
            "params-checker-vs-pytorch",
            f"checker (total, trainable) {counts}, PyTorch {(reference.params, reference.trainable)}",
        )
    _backends(text, checked, verdict, lint)
    return verdict


def _backends(text: str, checked: Any, verdict: Verdict, lint: bool) -> None:
    try:
        spec = netdsl.load(text)
    except Exception as exc:  # noqa: BLE001
        verdict.fail("load-text", _first_line(exc))
        with tempfile.TemporaryDirectory() as folder:  # go on from a file, to find what else fails
            path = Path(folder) / "fuzz.net"
            path.write_text(text, encoding="utf-8")
            try:
                spec = netdsl.load(path)
            except Exception as exc:  # noqa: BLE001
                verdict.fail("load-file", _first_line(exc))
                return
    try:
        source = spec.torch_source.text
    except Exception as exc:  # noqa: BLE001
        verdict.fail("torch-emit", _first_line(exc))
        return
    if lint:
        for tag, message in ruff_problems(source):
            verdict.fail(tag, message)
    try:
        module = spec.to_torch()
    except Exception as exc:  # noqa: BLE001
        verdict.fail("torch-build", _first_line(exc))
        return
    params = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    naming = name_problems(checked, module)
    if naming:
        verdict.fail("names-checker-vs-module", naming)
    if (params, trainable) != (checked.total_params, checked.trainable_params):
        verdict.fail(
            "params-module-vs-checker",
            f"module (total, trainable) {(params, trainable)}, checker "
            f"{(checked.total_params, checked.trainable_params)}",
        )
    seed = zlib.crc32(text.encode())
    _randomize_statistics(module, seed)
    x = torch.randn((2, *checked.input_shape), generator=torch.Generator().manual_seed(seed))
    try:
        with torch.no_grad():
            expected = module.eval()(x)
    except Exception as exc:  # noqa: BLE001
        verdict.fail("torch-forward", _first_line(exc))
        return
    if tuple(expected.shape[1:]) != tuple(checked.output_shape):
        verdict.fail(
            "shape-module-vs-checker", f"module {list(expected.shape[1:])}, checker {list(checked.output_shape)}"
        )
        return
    _onnx(spec, module, x, expected.numpy(), checked, verdict, OPSETS[seed % len(OPSETS)])


def name_problems(checked: Any, module: Any) -> str:
    """Where the checker's layer names and the module's parameter names differ ('' where they agree):
    each checked layer with parameters owns the state_dict keys under its name, and every
    parameter of the module has such an owner."""
    owners = {state_prefix(layer.name) for layer in checked.layers if layer.params}
    keys = [key for key, _ in module.named_parameters()]

    def owned(key: str, prefix: str) -> bool:
        return key == prefix or key.startswith(prefix + ".")

    missing = sorted(p for p in owners if not any(owned(k, p) for k in keys))
    stray = sorted(k for k in keys if not any(owned(k, p) for p in owners))
    if not missing and not stray:
        return ""
    return f"checker names without module parameters {missing[:4]}; module parameters without a layer {stray[:4]}"


def _onnx(spec: Any, module: Any, x: Any, expected: Any, checked: Any, verdict: Verdict, opset: int) -> None:
    """The ONNX model at `opset` (each network gets one of the opsets netdsl writes, by its hash)."""

    def fail(tag: str, message: str) -> None:
        verdict.fail(tag, f"{message} (opset {opset})")

    try:
        model = spec.to_onnx(weights=module.state_dict(), opset=opset)
    except Exception as exc:  # noqa: BLE001
        fail("onnx-emit", _first_line(exc))
        return
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001
        fail("onnx-check-model", _first_line(exc))
        return
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:  # noqa: BLE001
        fail("onnx-shape-inference", _first_line(exc))
        return
    dims = [d.dim_param or d.dim_value for d in inferred.graph.output[0].type.tensor_type.shape.dim]
    if dims[1:] != list(checked.output_shape) or not isinstance(dims[0], str):
        fail("onnx-output-shape", f"ONNX {dims}, checker [N, {', '.join(map(str, checked.output_shape))}]")
    try:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    except Exception as exc:  # noqa: BLE001
        fail("onnxruntime", _first_line(exc))
        return
    if got.shape != expected.shape:
        fail("onnxruntime-shape", f"onnxruntime {list(got.shape)}, PyTorch {list(expected.shape)}")
        return
    scale = float(np.abs(expected).max()) if expected.size else 0.0
    error = float(np.abs(got - expected).max()) if expected.size else 0.0
    if not error <= 1e-4 * scale + 1e-5:
        fail("onnxruntime-vs-torch", f"max |difference| {error:.3g} (largest |output| {scale:.3g})")


def assert_verified(net: netgen.Net) -> Verdict:
    verdict = verify(net)
    if verdict.failures:
        tag = verdict.failures[0][0]
        lines = "\n".join(f"[{t}] {m}" for t, m in verdict.failures)
        raise _kind(tag)(f"{lines}\n--- spec ---\n{net.text}")
    return verdict


# ---- the tests ------------------------------------------------------------------------------------

from hypothesis import HealthCheck, Phase, given, note, settings  # noqa: E402 - after importorskip

_SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
    # shrinking a failure takes minutes (every candidate goes through both backends): on request only
    phases=tuple(Phase) if SHRINK else (Phase.explicit, Phase.reuse, Phase.generate),
    report_multiple_bugs=not SHRINK,
)


@_SETTINGS
@given(netgen.hypothesis_networks())
def test_random_networks_check_build_and_agree(net: netgen.Net) -> None:
    note(net.text)
    assert_verified(net)


def test_the_generator_writes_every_op_of_the_table() -> None:
    assert netgen.GENERATED_OPS == set(OPS), "add the new op to tests/netgen.py (and its reference)"
    assert set(netgen.OP_ARGS) == set(OPS)
    for name, op in OPS.items():  # the generator's argument order is netdsl's
        assert [n for n, _ in netgen.OP_ARGS[name]] == [a.name for a in op.args], name


def test_the_generator_writes_the_language_v3_forms() -> None:
    """Layer arguments (none among them), inline blocks, `def` functions, padding modes, blocks of
    tensor inputs (given as a list, one left out, or from the chain) and a block calling itself are
    in the random networks, so the differential test meets them."""
    nets = [netgen.Generator(netgen.RandomChooser(seed)).net() for seed in range(40)]
    given = [value for n in nets for step in _steps(n) if isinstance(step, netgen.Call) for _, value in step.args]
    defaults = [default for n in nets for b in n.blocks for _, default in b.params]
    layer_args = [value for value in given + defaults if isinstance(value, netgen.LayerExpr)]
    tensor_calls = [
        (step, n.blocks)
        for n in nets
        for step in _steps(n)
        if isinstance(step, netgen.Call) and any(b.name == step.block and b.inputs for b in n.blocks)
    ]
    found = {
        "layer argument": len(layer_args),
        "none": sum(value.op is None for value in layer_args),
        "inline block": sum(b.inline for n in nets for b in n.blocks),
        "def": sum(len(n.functions) for n in nets),
        "padding_mode": sum(n.text.count("padding_mode =") for n in nets),
        "tensor list": sum(step.inputs is not None and len(step.inputs) == 2 for step, _ in tensor_calls),
        "input left out": sum(step.inputs is not None and len(step.inputs) == 1 for step, _ in tensor_calls),
        "from the chain": sum(step.inputs is None for step, _ in tensor_calls),
        "calls itself": sum(
            any(isinstance(s, netgen.Call) and s.block == b.name for s in _body_steps(b.body))
            for n in nets
            for b in n.blocks
        ),
    }
    assert all(found.values()), found


def _body_steps(body: netgen.Body) -> Iterator[netgen.Step]:
    yield from _steps(netgen.Net("N", (), "x", (1,), body))


def _steps(net: netgen.Net) -> Iterator[netgen.Step]:
    bodies = [net.body, *(b.body for b in net.blocks)]
    while bodies:
        for st in bodies.pop():
            if isinstance(st, netgen.Let):
                continue
            for step in st.steps:
                yield step
                if isinstance(step, netgen.If):
                    branch: Any = step
                    while isinstance(branch, netgen.If):
                        bodies.append(branch.then)
                        branch = branch.orelse
                    if branch is not None:
                        bodies.append(branch)
                elif isinstance(step, (netgen.Repeat, netgen.For, netgen.Seq)):
                    bodies.append(step.body)


def _network_with(op: str) -> netgen.Net:
    """The shortest of the first seeded networks whose elaboration runs `op` and that PyTorch accepts."""
    assert op in netgen.GENERATED_OPS, f"tests/netgen.py cannot write {op} yet: add it (and its reference)"
    found = []
    for seed in range(400):
        net = netgen.Generator(netgen.RandomChooser(seed), force=op, plain=True).net()
        try:
            outcome = netgen.reference(net)
        except netgen.Rejected:
            continue
        if outcome.ops[op] and not outcome.notes:
            found.append(net)
            if len(found) == 3:
                break
    assert found, f"the generator made no valid network with {op} in 400 seeds"
    return min(found, key=lambda n: len(n.text))


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_op_through_both_backends(op: str) -> None:
    net = _network_with(op)
    verdict = assert_verified(net)
    assert verdict.status == "accepted", net.text
    assert verdict.ops[op] >= 1, f"{op} did not reach the backends:\n{net.text}"


def _value(v: Any) -> netgen.Expr:
    return v if isinstance(v, netgen.Expr) else netgen.Word(v) if v in ("same", "valid") else netgen.Lit(v)


def op(name: str, *args: Any, label: str | None = None, **keywords: Any) -> netgen.Op:
    """An op step as written by hand: `op("conv", 8, 3, stride=2)`."""
    given = tuple((None, _value(a)) for a in args) + tuple((k, _value(v)) for k, v in keywords.items())
    return netgen.Op(name, given, label)


def stmt(*steps: netgen.Step, bind: str | None = None) -> netgen.Stmt:
    return netgen.Stmt(tuple(steps), bind)


def net(
    shape: tuple[int, ...],
    *body: netgen.Stmt | netgen.Let,
    params: tuple[tuple[str, Any], ...] = (),
    blocks: tuple[netgen.Block, ...] = (),
    functions: tuple[netgen.Function, ...] = (),
) -> netgen.Net:
    return netgen.Net("N", tuple((n, _value(v)) for n, v in params), "x", shape, body, blocks, 0, functions)


def _word(word: str) -> netgen.Word:
    return netgen.Word(word)


REJECTED = {
    "kernel larger than the input": (net((4, 2, 2), stmt(op("conv", 8, 3))), "conv"),
    "same padding with a stride": (net((4, 6, 6), stmt(op("conv", 8, 3, stride=2, padding="same"))), "conv"),
    "channels not divisible by groups": (net((3, 6, 6), stmt(op("conv", 8, 3, groups=2))), "conv"),
    "pool padding over half the kernel": (net((4, 6, 6), stmt(op("maxpool", 2, padding=2))), "maxpool"),
    "concat of other sizes": (
        net(
            (4, 6, 6),
            stmt(op("conv", 4, 1), bind="a"),
            stmt(op("conv", 4, 3), bind="b"),
            stmt(netgen.Merge("concat", ("a", "b"))),
        ),
        "concat",
    ),
    "lrn on a flat input": (net((12,), stmt(op("lrn"))), "lrn"),
    "reflect padding as wide as the input": (
        net((2, 3, 8), stmt(op("conv", 4, 3, padding=3, padding_mode=_word("reflect")))),
        "conv",
    ),
    "circular padding wrapping twice": (
        net((2, 8, 2), stmt(op("conv", 4, 3, padding=[1, 3], padding_mode=_word("circular")))),
        "conv",
    ),
    "assertion": (
        net((4, 6, 6), netgen.Stmt((op("relu"),), None, (netgen.Lit(4), netgen.Lit(6), netgen.Lit(5)))),
        "assertion",
    ),
}


@pytest.mark.parametrize("name", sorted(REJECTED))
def test_the_checker_and_pytorch_both_reject(name: str) -> None:
    """The reference is no pushover: networks that PyTorch refuses, and the checker too."""
    case, reason = REJECTED[name]
    assert not check_text(case.text, "case.net").ok, case.text
    with pytest.raises(netgen.Rejected, match=reason):
        netgen.reference(case)
    assert verify(case).status == "rejected"


_STAGE = netgen.Block(
    "Block",
    (("c", None), ("stride", netgen.Lit(1)), ("groups", netgen.Lit(1)), ("base_width", netgen.Lit(4))),
    (stmt(op("conv", netgen.Var("c"), 3, stride=netgen.Var("stride"), padding=1, groups=netgen.Var("groups"))),),
)
# language v3: a layer parameter, an inline block with a named value, `def` functions
_ACT = netgen.Block(
    "Unit",
    (("c", None), ("act", netgen.LayerExpr("relu"))),
    (stmt(op("conv", netgen.Var("c"), 3, padding=1, padding_mode=_word("reflect"))), stmt(netgen.ParamLayer("act"))),
)
_SPLICED = netgen.Block(
    "Body",
    (("c", None),),
    (stmt(op("conv", netgen.Var("c"), 1), op("relu"), bind="a"), stmt(netgen.Merge("add", ("a", "in")))),
    inline=True,
)
_MINUS = netgen.Function(
    "shrink", (("v", None), ("d", netgen.Lit(2))), netgen.Bin("-", netgen.Var("v"), netgen.Var("d"))
)
_UNDO = netgen.Function(
    "width_of", (("v", None),), netgen.FnCall(_MINUS, ((None, netgen.Bin("+", netgen.Var("v"), netgen.Lit(2))),))
)
_EMPTY = netgen.Func(
    "len",
    (
        netgen.Comp(
            netgen.Var("k"),
            "k",
            netgen.Func("range", (netgen.Lit(3),)),
            netgen.Bin("<", netgen.Var("k"), netgen.Lit(0)),
        ),
    ),
)
_FIRST = netgen.Ternary(netgen.Lit(2), netgen.Bin("==", netgen.Var("i"), netgen.Lit(0)), netgen.Lit(1))


def _untaken_loop(count: int, then_loops: bool = False) -> netgen.Net:
    """Issue 20's naming bug: `block B(r) { if r == 4 { } else { for x in range(0) { conv(3, 1) } }
    out = conv(7, 1) }` named the last conv conv_2 in the checker (one set of names per loop body)
    and conv_1 in the module (the loop written out: no iteration, no name)."""
    loop = stmt(netgen.For(("x",), netgen.Func("range", (netgen.Lit(count),)), (stmt(op("conv", 3, 1)),)))
    branches = ((loop,), ()) if then_loops else ((), (loop,))
    block = netgen.Block(
        "B",
        (("r", None),),
        (
            stmt(netgen.If(netgen.Bin("==", netgen.Var("r"), netgen.Lit(4)), branches[0], branches[1])),
            stmt(op("conv", 7, 1)),
        ),
    )
    calls = [stmt(netgen.Call("B", ((None, netgen.Lit(r)),))) for r in (4, 5)]
    return net((3, 6, 6), *calls, blocks=(block,))


# The issue's examples (issue 9): each must check clean and then build and agree everywhere.
ACCEPTED = {
    "empty for loop in a branch not taken": _untaken_loop(0),
    "for loop of two in a branch not taken": _untaken_loop(2),
    "for loop of two in a branch taken or not": _untaken_loop(2, then_loops=True),
    "if without else": net(
        (3, 8, 8),
        stmt(op("conv", 8, 3)),
        stmt(netgen.If(netgen.Var("bn"), (stmt(op("batchnorm")),))),
        params=(("bn", False),),
    ),
    "parameter named max": net(
        (3, 8, 8), stmt(op("conv", netgen.Func("max", (netgen.Var("max"), netgen.Lit(4))), 3)), params=(("max", 3),)
    ),
    "repeat of a block with long arguments": net(
        (3, 8, 8),
        stmt(
            netgen.Repeat(
                netgen.Lit(2),
                "i",
                (
                    stmt(
                        netgen.Call(
                            "Block",
                            (
                                (None, netgen.Lit(64)),
                                ("stride", _FIRST),
                                ("groups", netgen.Lit(1)),
                                ("base_width", netgen.Lit(4)),
                            ),
                        )
                    ),
                ),
                "stage",
            )
        ),
        blocks=(_STAGE,),
    ),
    "repeat as range": net((3, 8, 8), stmt(netgen.Repeat(netgen.Lit(2), "range", (stmt(op("relu")),)))),
    "repeat as self": net((3, 8, 8), stmt(netgen.Repeat(netgen.Lit(2), "self", (stmt(op("relu")),)))),
    "parameter named super": net((3, 8, 8), stmt(op("conv", netgen.Var("super"), 1)), params=(("super", 4),)),
    "value named torch before concat": net(
        (3, 8, 8),
        stmt(op("conv", 4, 1), bind="torch"),
        stmt(op("conv", 4, 1), bind="b"),
        stmt(netgen.Merge("concat", ("torch", "b"))),
    ),
    "adaptive pooling that does not divide": net((1, 5, 5), stmt(op("adaptive_avgpool", 2))),
    "adaptive max pooling that does not divide": net((3, 7, 5), stmt(op("adaptive_maxpool", [3, 2]))),
    "ceil-mode pooling": net((1, 6, 3), stmt(op("maxpool", 2, stride=3, ceil=True))),
    "ceil-mode kernel past the input": net((4, 2, 2), stmt(op("maxpool", 5, ceil=True))),
    "padding modes": net(
        (3, 5, 6),
        stmt(op("conv", 4, 3, padding=[2, 1], padding_mode=_word("reflect"))),
        stmt(op("conv", 4, 4, padding="same", padding_mode=_word("circular"))),
        stmt(op("conv", 2, 3, padding=3, padding_mode=_word("replicate"))),
    ),
    "layers as block arguments": net(
        (3, 6, 6),
        stmt(netgen.Call("Unit", ((None, netgen.Lit(4)),))),
        stmt(netgen.Call("Unit", ((None, netgen.Lit(4)), ("act", netgen.LayerExpr("hardswish"))))),
        stmt(
            netgen.Call(
                "Unit", ((None, netgen.Lit(4)), ("act", netgen.LayerExpr("leaky_relu", ((None, netgen.Lit(0.2)),))))
            )
        ),
        stmt(netgen.Call("Unit", ((None, netgen.Lit(4)), ("act", netgen.LayerExpr(None))))),
        blocks=(_ACT,),
    ),
    "an inline block called twice": net(
        (4, 6, 6),
        stmt(netgen.Call("Body", ((None, netgen.Lit(4)),))),
        stmt(netgen.Call("Body", ((None, netgen.Lit(4)),))),
        blocks=(_SPLICED,),
    ),
    "def functions": net(
        (3, 6, 6),
        stmt(op("conv", netgen.FnCall(_UNDO, ((None, netgen.Var("w")),)), 1)),
        params=(("w", 5),),
        functions=(_MINUS, _UNDO),
    ),
    "comprehension variable named like a let": net(
        (4, 6, 6),
        stmt(op("chunk", 1, index=_EMPTY)),
        netgen.Let("k", netgen.Var("p")),
        stmt(op("flatten")),
        params=(("p", 2),),
    ),
    "computed label in a branch not taken": net(
        (3, 4, 4),
        stmt(
            netgen.For(
                ("i",),
                netgen.Func("range", (netgen.Lit(2),)),
                (
                    stmt(
                        netgen.If(
                            netgen.Bin("==", netgen.Var("i"), netgen.Lit(0)), (stmt(op("batchnorm", label='"f1_{i}"')),)
                        )
                    ),
                    stmt(op("batchnorm")),
                ),
            )
        ),
    ),
    "three-way concat": net(
        (3, 8, 8),
        *(stmt(op("conv", 2, 1), bind=n) for n in ("first", "second", "third")),
        stmt(netgen.Merge("concat", ("first", "second", "third"))),
    ),
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_the_issue_examples_build_and_agree(name: str) -> None:
    case = ACCEPTED[name]
    verdict = assert_verified(case)
    assert verdict.status == "accepted", case.text


# Code the checker does not elaborate (a branch not taken, a block called only there) is still
# written into the module: either the checker reports its mistakes, or the module builds.
UNTAKEN = {
    "unknown op": "network N(deep = false) { input x: [4, 6, 6]  if deep { nosuchop } }",
    "unknown value in a block": "block B { b = global_avgpool  y = mul(y, b) }\n"
    "network N(deep = false) { input x: [4, 6, 6]  if deep { B } }",
    "kernel too large": "network N(deep = false) { input x: [4, 6, 6]  if deep { conv(8, 9) } }",
}


@pytest.mark.parametrize("name", sorted(UNTAKEN))
def test_a_clean_check_builds_with_untaken_branches(name: str) -> None:
    text = UNTAKEN[name]
    if check_text(text, "case.net").ok:
        module = netdsl.load(text).to_torch()
        assert sum(p.numel() for p in module.parameters()) == netdsl.load(text).checked.total_params


# A branch not taken spends the automatic names that elaborating it would (its for loops written
# out per item, inline blocks and given layers as what they stand for): the checker and the
# module must agree (naming.Untaken is the one walker), here where the emitter decides the `if`
# as the file is written and where the module decides it in __init__.
UNTAKEN_NAMES = {
    "empty for loop": (
        "block B(r) { if r == 4 { } else { for x in range(0) { conv(3, 1) } }  out = conv(7, 1) -> relu }\n"
        "network N { input x: [3, 6, 6]  B(4) }",
        ["b_1.conv_1"],
    ),
    "lets and nested loops": (
        "block B(r) { if r == 4 { } else { let n = 2  for i in range(n) { for j in range(i + 1) { conv(3, 1) } } }"
        "  conv(7, 1) }\nnetwork N { input x: [3, 6, 6]  B(4) }",
        ["b_1.conv_4"],
    ),
    "a layer given as an argument": (
        "block B(r, act = conv(3, 1)) { if r == 4 { } else { act }  conv(7, 1) }\n"
        "network N { input x: [3, 6, 6]  B(4) }",
        ["b_1.conv_2"],
    ),
    "an inline block with a loop": (
        "inline block I(n) { for i in range(n) { conv(3, 1) } }\n"
        "block B(r) { if r == 4 { } else { I(2) }  conv(7, 1) }\nnetwork N { input x: [3, 6, 6]  B(4) }",
        ["b_1.conv_3"],
    ),
    "a loop over a shape, known to neither": (
        "block B(r) { for i in range(1) { if i == 1 { for j in range(in.channels) { conv(3, 1) } }  conv(3, 1) } }\n"
        "network N { input x: [3, 6, 6]  B(4) }",
        ["b_1.conv_2"],
    ),
    "a loop over a parameter the block's class does not know": (
        "block B(n) { for i in range(2) { if i == 1 { for j in range(n) { conv(3, 1) } }  conv(3, 1) } }\n"
        "network N { input x: [3, 6, 6]  B(2)  B(3) }",
        ["b_1.conv_3", "b_1.conv_4", "b_1.conv_5", "b_1.conv_6"] + [f"b_2.conv_{n}" for n in range(4, 9)],
    ),
    "decided as the file is written": (
        "network N(n = 2) { input x: [3, 6, 6]  for i in range(2) { if i == 1 { for j in range(n) { conv(3, 1) } }"
        "  conv(3, 1) } }",
        ["conv_3", "conv_4", "conv_5", "conv_6"],
    ),
}


@pytest.mark.parametrize("name", sorted(UNTAKEN_NAMES))
def test_branches_not_taken_spend_the_same_names_in_the_checker_and_the_module(name: str) -> None:
    text, expected = UNTAKEN_NAMES[name]
    spec = netdsl.load(text)
    assert [layer.name for layer in spec.checked.layers if layer.params] == expected
    assert name_problems(spec.checked, spec.to_torch()) == ""


# ---- a plain seeded run, for the long mode and the report -------------------------------------------


def census(count: int, first_seed: int = 0) -> dict[str, Any]:
    """Run `count` seeded networks; every failure grouped by its kind and message pattern."""
    statuses: collections.Counter[str] = collections.Counter()
    per_op: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    groups: dict[tuple[str, str], list[tuple[int, str]]] = collections.defaultdict(list)
    for seed in range(first_seed, first_seed + count):
        net = netgen.Generator(netgen.RandomChooser(seed)).net()
        verdict = verify(net)
        statuses[verdict.status.split(":")[0]] += 1
        for op in net.ops:
            per_op[op]["written"] += 1
        for op in verdict.ops:
            per_op[op]["through both backends" if not verdict.failures else "accepted, failing"] += 1
        for tag, message in verdict.failures:
            pattern = _pattern(tag, message)
            groups[(tag, pattern)].append((seed, net.text))
    return {"statuses": statuses, "per_op": per_op, "groups": groups}


def _pattern(tag: str, message: str) -> str:
    """A failure's message without its particulars (numbers, quoted text, spec excerpts), to group by."""
    if tag == "ruff-format":
        changed = [line for line in message.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")]
        message = " | ".join(line.strip() for line in changed[:2]) or message
    message = re.sub(r"'[^']*('|$)", "'…'", message.splitlines()[0] if message else "")
    message = re.sub(r"<netdsl generated [^>]*>", "<generated>", message)
    return re.sub(r"\d+", "N", message)[:140]


def _smaller_bodies(body: netgen.Body) -> Iterator[netgen.Body]:
    for i in range(len(body)):
        yield body[:i] + body[i + 1 :]
    for i, st in enumerate(body):
        for smaller in _smaller_stmts(st):
            yield body[:i] + (smaller,) + body[i + 1 :]


def _smaller_stmts(st: netgen.Stmt | netgen.Let) -> Iterator[netgen.Stmt | netgen.Let]:
    if isinstance(st, netgen.Let):
        return
    if len(st.steps) > 1:
        for j in range(len(st.steps)):
            yield replace(st, steps=st.steps[:j] + st.steps[j + 1 :])
    if st.check is not None:
        yield replace(st, check=None)
    for j, step in enumerate(st.steps):
        for smaller in _smaller_steps(step):
            yield replace(st, steps=st.steps[:j] + (smaller,) + st.steps[j + 1 :])


def _smaller_steps(step: netgen.Step) -> Iterator[netgen.Step]:
    if isinstance(step, netgen.If):
        yield from (replace(step, then=b) for b in _smaller_bodies(step.then))
        if step.orelse is not None:
            yield replace(step, orelse=None)
        if isinstance(step.orelse, tuple):
            yield from (replace(step, orelse=b) for b in _smaller_bodies(step.orelse))
    elif isinstance(step, netgen.Repeat):
        yield from (replace(step, body=b) for b in _smaller_bodies(step.body))
        if step.count != netgen.Lit(1):
            yield replace(step, count=netgen.Lit(1))
    elif isinstance(step, (netgen.For, netgen.Seq)):
        yield from (replace(step, body=b) for b in _smaller_bodies(step.body))
    elif isinstance(step, (netgen.Op, netgen.Call)):
        if step.label:
            yield replace(step, label=None)
        for j in range(len(step.args)):
            yield replace(step, args=step.args[:j] + step.args[j + 1 :])
    if isinstance(step, (netgen.Repeat, netgen.Merge, netgen.Seq)) and step.label:
        yield replace(step, label=None)


def _smaller_nets(net: netgen.Net) -> Iterator[netgen.Net]:
    yield from (replace(net, body=b) for b in _smaller_bodies(net.body))
    for i, block in enumerate(net.blocks):
        yield replace(net, blocks=net.blocks[:i] + net.blocks[i + 1 :])
        for b in _smaller_bodies(block.body):
            yield replace(net, blocks=net.blocks[:i] + (replace(block, body=b),) + net.blocks[i + 1 :])
    for i in range(len(net.params)):
        yield replace(net, params=net.params[:i] + net.params[i + 1 :])


def minimize(net: netgen.Net, tag: str) -> netgen.Net:
    """Greedily drop statements, steps, arguments, labels, blocks and parameters while `tag` still fails."""

    def still_fails(candidate: netgen.Net) -> bool:
        try:
            found = verify(candidate, lint=tag.startswith("ruff"))
        except Exception:  # noqa: BLE001 - the generator's own description went out of shape
            return False
        return any(t == tag for t, _ in found.failures)

    progress = True
    while progress:
        progress = False
        for candidate in _smaller_nets(net):
            if still_fails(candidate):
                net, progress = candidate, True
                break
    return net


def _print_census(result: dict[str, Any]) -> None:
    print("networks:", dict(result["statuses"]))
    print("per op:")
    for op, counts in sorted(result["per_op"].items()):
        print(f"  {op:18} {dict(counts)}")
    print("failures:")
    for (tag, pattern), cases in sorted(result["groups"].items(), key=lambda kv: -len(kv[1])):
        seed, text = min(cases, key=lambda c: len(c[1]))
        if MINIMIZE:
            small = minimize(netgen.Generator(netgen.RandomChooser(seed)).net(), tag)
            text = f"{small.text}\n  {[m for t, m in verify(small).failures if t == tag][0]}"
        print(f"\n[{tag}] x{len(cases)}: {pattern}\n  smallest (seed {seed}{', minimized' * MINIMIZE}):\n{text}")


if __name__ == "__main__":
    _print_census(
        census(int(sys.argv[1]) if len(sys.argv) > 1 else EXAMPLES, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    )
