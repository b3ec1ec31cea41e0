"""Blocks with several tensor inputs, inputs left out and recursive blocks, in both backends:
the module agrees with the checker (parameters, output shape), its state_dict keys are the
IR's layer names, and onnxruntime's output matches the module's."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_language_v3 import assert_both_backends

import netdsl

from conftest import ROOT

torch = pytest.importorskip("torch")

# a two-input block, one called with a tensor list and one from the chain; an input left out;
# a recursive block whose depth is a parameter
MULTI = """
network Net(depth = 3) {
    input image: [3, 16, 16]
    a = stem: conv(8, 3, padding=1) -> relu
    b = side: conv(8, 1)
    fuse: Fuse(8)(a, b)                 @ [8, 16, 16]
    Join(16)                            @ [16, 16, 16]
    Join(16)(a, b)                      @ [16, 16, 16]
    tower: Tower(depth, 16)(a)          @ [16, 16, 16]
    global_avgpool -> flatten -> head: linear(10)
}

block Fuse(out)(x, skip) {
    conv(out, 3, padding=1, bias=false) -> batchnorm -> add(skip) -> relu
}

# `extra` may be left out: concat skips it
block Join(out)(x, extra = none) {
    y = conv(out // 2, 1)
    concat(y, extra, y) -> conv(out, 1)
}

# a tower of `levels` convolutions: each level is this block again, one level lower
block Tower(levels, out)(x) {
    conv(out, 3, padding=1) -> relu
    if levels > 1 { deeper: Tower(levels - 1, out) }
}
"""


def test_multi_input_blocks_in_both_backends(tmp_path: Path) -> None:
    spec = assert_both_backends(MULTI, tmp_path)
    names = [n.name for n in spec.checked.graph.nodes if n.op == "conv"]
    assert names == [
        "stem",
        "side",
        "fuse.conv_1",
        "join_1.conv_1",
        "join_1.conv_2",
        "join_2.conv_1",
        "join_2.conv_2",
        "tower.conv_1",
        "tower.deeper.conv_1",
        "tower.deeper.deeper.conv_1",
    ]
    module = spec.to_torch()
    keys = [k for k in module.state_dict() if k.startswith("tower")]
    assert keys == [
        "tower.conv_1.weight",
        "tower.conv_1.bias",
        "tower.deeper.conv_1.weight",
        "tower.deeper.conv_1.bias",
        "tower.deeper.deeper.conv_1.weight",
        "tower.deeper.deeper.conv_1.bias",
    ]
    # Join from the chain: concat(y, y) of 8 channels each; Join(a, b): concat(y, b, y), 24 channels
    join_1, join_2 = (spec.checked.graph.node(f"{j}.conv_2") for j in ("join_1", "join_2"))
    assert spec.checked.graph.nodes[join_1.inputs[0]].shape == (16, 16, 16)
    assert spec.checked.graph.nodes[join_2.inputs[0]].shape == (24, 16, 16)
    # fuse: 3x3x8x8 weights + batchnorm's 16
    assert sum(p.numel() for n, p in module.named_parameters() if n.startswith("fuse.")) == 8 * 8 * 9 + 16


def test_generated_source_reads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "spec.net"
    path.write_text(MULTI)
    text = netdsl.load(path).torch_source.text
    assert "def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:" in text
    assert (
        "def forward(\n        self, x: torch.Tensor, extra: torch.Tensor | None = None\n    ) -> torch.Tensor:" in text
    )
    assert "self.fuse = Fuse(a_shape, b_shape, 8)" in text
    assert "x = self.join_1(x)" in text and "self.join_2(a, b)" in text  # `extra` left out: forward's default
    assert "self.deeper = Tower(shape, levels - 1, out)" in text  # one class, calling itself


def test_depth_override_recurses_further(tmp_path: Path) -> None:
    spec = assert_both_backends(MULTI, tmp_path, depth=5)
    assert sum(1 for n in spec.checked.graph.nodes if n.name.startswith("tower.") and n.op == "conv") == 5


# a multi-input block repeated (its class takes the outer values), an inline block with inputs, and a
# recursive block whose labels follow its argument (a class per level, as for any such block)
FORMS = """
block Fuse(out)(x, skip) {
    conv(out, 3, padding=1) -> add(skip)
}
inline block IFuse(out)(x, skip) {
    c: conv(out, 3, padding=1) -> add(skip)
}
block Named(levels)(x) {
    "c{levels}": conv(4, 1)
    if levels > 1 { Named(levels - 1) }
}
block Join(out)(x, extra = none) {
    y = conv(out // 2, 1)
    concat(y, extra, y) -> conv(out, 1)
}
network N {
    input image: [3, 8, 8]
    a = conv(4, 1)
    b = conv(4, 1)
    stage: repeat 2 { Fuse(4)(a, b) }
    IFuse(4)(a, b)
    Named(3)
    joins: repeat 2 { Join(4) }
    seq { Join(4) -> relu }
}
"""


def test_repeated_inline_and_specialized_recursive_blocks(tmp_path: Path) -> None:
    spec = assert_both_backends(FORMS, tmp_path)
    keys = [k.rsplit(".", 1)[0] for k in spec.to_torch().state_dict() if k.endswith("weight")]
    assert keys == [
        "conv_1",
        "conv_2",
        "stage.0.fuse_1.conv_1",  # given tensors by name, an iteration is a scope of its own
        "stage.1.fuse_1.conv_1",
        "c",
        "named_1.c3",
        "named_1.named_1.c2",
        "named_1.named_1.named_1.c1",
        "joins.0.conv_1",  # a repeat of one block instance from the chain: each iteration is that instance
        "joins.0.conv_2",
        "joins.1.conv_1",
        "joins.1.conv_2",
        "seq_1.0.conv_1",
        "seq_1.0.conv_2",
    ]


@pytest.mark.slow
def test_dla34_as_one_recursive_tree(tmp_path: Path) -> None:
    """timm's dla34 (1000 classes, 3x224x224): 15,742,104 parameters."""
    text = (ROOT / "tests" / "fixtures" / "lang" / "dla34.net").read_text()
    spec = assert_both_backends(text, tmp_path)
    assert spec.checked.total_params == 15_742_104
    keys = list(spec.to_torch().state_dict())
    assert "level3.tree2.root.conv.weight" in keys and "level2.project.0.weight" in keys
    assert "level3.tree1.tree1.conv1.weight" in keys and "level3.tree2.tree2.bn2.running_mean" in keys
    assert "level3.project.0.weight" not in keys  # a tree of level 2 projects nothing: its trees do
