"""Language v3 in the checker: zoo networks that take their design parameters (EfficientNet's
width, depth and resolution; RegNet's w0, wa, wm, depth and group width) give torchvision's
figures for other members of their families; compile-time arithmetic gives Python's values."""

from __future__ import annotations

import pytest

from netdsl.checker.check import check_file, check_text
from netdsl.checker.values import evaluate, functions_in_scope
from netdsl.language.parser import parse

from conftest import ROOT, checked

ZOO = ROOT / "specs" / "zoo"


def test_efficientnet_b3_is_b0_with_torchvisions_multipliers() -> None:
    outcome = check_file(ZOO / "efficientnet_b0.net", overrides={"width": 1.2, "depth": 1.4, "resolution": 300})
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    net = outcome.checked
    assert net.total_params == 12_233_232  # torchvision's efficientnet_b3
    assert net.input_shape == (3, 300, 300)
    stages = {n.name.split(".")[1] for n in net.graph.nodes if n.name.startswith("features.") and n.name.count(".") > 2}
    assert stages == {str(i) for i in range(1, 8)}
    blocks = {".".join(n.name.split(".")[:3]) for n in net.graph.nodes if n.name.count(".") > 3}
    assert len(blocks) == 26  # ceil(1.4 * n) over B0's 1, 2, 2, 3, 3, 4, 1 blocks
    last = next(n for n in net.graph.nodes if n.name == "features.8.0")
    assert last.shape == (1536, 10, 10)  # 4 * make_divisible(320 * 1.2) = 4 * 384, at 300 / 32
    drops = [n.attrs["p"] for n in net.graph.nodes if n.op == "stochastic_depth"]
    assert drops[0] == pytest.approx(0.2 * 1 / 26)  # block 1 (stage 1's second) is the first to add its input


def test_regnet_x_400mf_is_regnet_y_400mfs_body_with_other_arguments() -> None:
    outcome = check_file(ZOO / "regnet_y_400mf.net", network="RegNetX_400MF")
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    net = outcome.checked
    assert net.total_params == 5_495_976  # torchvision's regnet_x_400mf
    names = [n.name for n in net.graph.nodes]
    assert names[1] == "stem.0" and names[-1] == "fc"  # the inline body adds no name level
    stages = [n.shape[0] for n in net.graph.nodes if n.name.endswith("-0.f.a.0")]
    assert stages == [32, 64, 160, 400]
    assert sum(1 for n in names if n.endswith(".f.c.0")) == 22  # depths 1, 2, 7, 12
    assert not any(".se." in n for n in names)
    grouped = next(n for n in net.graph.nodes if n.name == "trunk_output.block2.block2-0.f.b.0")
    assert grouped.attrs["groups"] == 64 // 16


@pytest.mark.parametrize(("expr", "value"), [
    ("round(2.5)", 2), ("round(3.5)", 4), ("round(2.675, 2)", 2.67), ("int(-2.7)", -2), ("floor(-2.5)", -3),
    ("ceil(2.1)", 3), ("abs(-3)", 3), ("sum([1, 2, 3][:2])", 3), ("2 ** 3 ** 2", 512), ("-2 ** 2", -4),
    ("(-2) ** 2", 4), ("pow(2, -1)", 0.5), ("sqrt(16)", 4.0), ("log(8, 2)", 3.0), ("min(3, 1, 2)", 1),
    ("len([x for x in range(10) if x % 3 == 0])", 4), ("[i * j for i, j in [[1, 2], [3, 4]]][1]", 12),
    ("[1, 2, 3, 4][1:3][1]", 3), ("[1, 2, 3][-2:][0]", 2), ("twice(3)", 6), ("scaled(10)", 20), ("scaled(10, 3)", 30),
])
def test_compile_time_values_are_pythons(expr: str, value: object) -> None:
    module = parse(f"def twice(x) = 2 * x\ndef scaled(x, k = 2) = twice(x) * k // 2\nnetwork N {{ input x: [1]  f({expr}) }}")
    with functions_in_scope({f.name: f for f in module.functions}):
        got = evaluate(module.definitions[0].body.statements[1].chain.steps[0].args[0].value, {})  # type: ignore[union-attr]
    assert got == value and type(got) is type(value)


def test_a_float_never_becomes_a_size_silently() -> None:
    outcome = check_text("network N(w = 1.5) {\n  input x: [3, 8, 8]\n  conv(16 * w, 1)\n}", "t.net")
    assert [(d.span.line, d.span.column, d.message) for d in outcome.diagnostics] == [
        (3, 8, "conv argument 'out' expects a positive integer, got 24.0")
    ]
    net = checked("network N(w = 1.5) { input x: [3, 8, 8]  conv(int(16 * w), 1) }")
    assert net.total_params == 3 * 24 + 24
