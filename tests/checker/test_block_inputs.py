"""Blocks with several tensor inputs, and recursive blocks, in the checker: figures through the
inputs (shapes, parameters, MACs, receptive fields), DLA-34 as one recursive tree against
timm's figures, the depth limit, and the warning for an input no layer reads."""

from __future__ import annotations

from netdsl.checker.check import check_file, check_text
from netdsl.checker.elaborate import MAX_RECURSION

from conftest import ROOT

FUSE = """
network N {
    input image: [3, 16, 16]
    a = stem: conv(8, 3, padding=1)
    b = side: conv(8, 1, stride=2)
    Fuse(8)(a, b)
}

block Fuse(out)(x, skip) {
    conv(out, 3, stride=2, padding=1) -> add(skip)
}
"""

TOWER = """
network N(depth = 3) {
    input image: [3, 8, 8]
    Tower(depth)
}

block Tower(levels)(x) {
    conv(4, 3, padding=1)
    if levels > 1 { Tower(levels - 1) }
}
"""


def _layers(text: str, **options: object) -> dict[str, object]:
    outcome = check_text(text, "t.net", **options)
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    return {node.name: layer for node, layer in zip(outcome.checked.graph.nodes, outcome.checked.layers, strict=True)}


def test_figures_follow_each_tensor_input() -> None:
    layers = _layers(FUSE)
    conv, add = layers["fuse_1.conv_1"], layers["fuse_1.add_1"]
    assert conv.output_shape == (8, 8, 8) and conv.params == 8 * 8 * 9 + 8
    assert conv.macs == 8 * 8 * 9 * 8 * 8
    assert conv.receptive_field == (5, 5) and conv.jump == (2, 2)  # over the stem's 3x3
    assert add.receptive_field == (5, 5)  # the larger of x's path and skip's (1x1)


def test_merge_inputs_are_the_named_tensors() -> None:
    outcome = check_text(FUSE, "t.net")
    graph = outcome.checked.graph
    add = graph.node("fuse_1.add_1")
    assert [graph.nodes[i].name for i in add.inputs] == ["fuse_1.conv_1", "side"]


def test_recursion_unrolls_to_the_given_depth() -> None:
    layers = _layers(TOWER, overrides={"depth": 4})
    assert [name for name in layers if name.endswith("conv_1")] == [
        "tower_1.conv_1",
        "tower_1.tower_1.conv_1",
        "tower_1.tower_1.tower_1.conv_1",
        "tower_1.tower_1.tower_1.tower_1.conv_1",
    ]
    assert layers["tower_1.tower_1.tower_1.tower_1.conv_1"].receptive_field == (9, 9)


def test_recursion_is_refused_past_the_limit_at_the_call() -> None:
    assert _layers(TOWER, overrides={"depth": MAX_RECURSION})  # 32 levels: fine
    outcome = check_text(TOWER, "t.net", overrides={"depth": MAX_RECURSION + 1})
    assert outcome.checked is None
    (diag,) = outcome.diagnostics
    assert (diag.span.line, diag.span.column) == (9, 21)
    assert diag.message == "block 'Tower' calls itself more than 32 deep here: no condition ends its recursion"


def test_an_input_no_layer_reads_is_warned_about_at_its_declaration() -> None:
    text = FUSE.replace("-> add(skip)", "")
    outcome = check_text(text, "t.net")
    assert outcome.checked is not None
    (diag,) = outcome.diagnostics
    assert (diag.severity, diag.span.line, diag.span.column) == ("warning", 9, 20)
    assert diag.message == "tensor input 'skip' of block 'Fuse' is never used"


def test_dla34_as_one_recursive_tree_has_timms_figures() -> None:
    outcome = check_file(ROOT / "tests" / "fixtures" / "lang" / "dla34.net")
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    net = outcome.checked
    assert outcome.diagnostics == ()
    assert net.total_params == 15_742_104  # timm's dla34, 1000 classes
    assert net.output_shape == (1000,)
    roots = {n.name: n.shape for n in net.graph.nodes if n.op == "concat"}
    # a root concatenates its two children, the children handed down, and at a stage's root its input
    # names spent by the branch not taken (`if level_root`) count too: concat_2 where the other came first
    assert roots == {
        "level2.concat_2": (128, 56, 56),  # tree2 + tree1, 64 each
        "level3.tree1.concat_2": (256, 28, 28),
        "level3.concat_3": (192, 28, 28),  # the children handed to tree2: bottom (64) + tree1 (128)
        "level3.tree2.concat_2": (448, 28, 28),  # timm's root_dim: 2 * 128 + 64 + 128
        "level4.tree1.concat_2": (512, 14, 14),
        "level4.concat_3": (384, 14, 14),
        "level4.tree2.concat_2": (896, 14, 14),
        "level5.concat_1": (1280, 7, 7),  # 2 * 512 + the stage's input, 256
    }
