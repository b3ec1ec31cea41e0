"""Stage 2: parameters, blocks, repeats, conditionals, naming, imports → IR graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.checker.check import check_file, check_text
from netdsl.checker.elaborate import MAX_LAYERS, UsageError, elaborate
from netdsl.language.program import load_text

from conftest import checked, errors, layer

BASIC = """
block Basic(out, stride = 1) {
    main = conv1: conv(out, 3, stride=stride, padding=1, bias=false) -> bn1: batchnorm -> relu
        -> conv2: conv(out, 3, padding=1, bias=false) -> bn2: batchnorm
    skip = if stride != 1 or in.channels != out {
        downsample: conv(out, 1, stride=stride, bias=false) -> downsample_bn: batchnorm
    }
    add(main, skip) -> relu
}
"""


def test_automatic_names_are_per_op_and_stable() -> None:
    result = checked("network A { input [3, 8, 8] conv(4, 3) -> relu conv(4, 3) -> relu flatten }")
    assert [x.name for x in result.layers] == ["input", "conv_1", "relu_1", "conv_2", "relu_2", "flatten_1"]


def test_automatic_names_skip_labels_written_later() -> None:
    result = checked("network A { input [3, 8, 8] relu conv_1: conv(4, 3) }")
    assert [x.name for x in result.layers] == ["input", "relu_1", "conv_1"]
    result = checked("network A { input [3, 8, 8] conv(4, 1) relu_1: relu conv_1: conv(4, 1) }")
    assert [x.name for x in result.layers] == ["input", "conv_2", "relu_1", "conv_1"]


def test_shortcut_projects_only_when_shape_changes() -> None:
    result = checked(BASIC + """network R { input [64, 8, 8]
        keep: Basic(64)
        down: Basic(128, stride=2) @ [128, 4, 4] }""")
    names = [x.name for x in result.layers]
    assert "keep.downsample" not in names and "down.downsample" in names
    assert layer(result, "keep.conv1").params == 64 * 64 * 9
    assert layer(result, "down.downsample").params == 64 * 128
    assert layer(result, "down.downsample").macs == 64 * 128 * 4 * 4


def test_repeat_of_one_block_names_like_torchvision() -> None:
    result = checked(BASIC + """network R { input [64, 16, 16]
        layer2: repeat 3 as i { Basic(128, stride = 2 if i == 0 else 1) } @ [128, 8, 8] }""")
    names = {x.name for x in result.layers}
    assert {"layer2.0.conv1", "layer2.0.downsample", "layer2.2.bn2"} <= names
    assert "layer2.1.downsample" not in names


def test_repeat_of_a_chain_gets_index_scopes() -> None:
    result = checked("network A { input [3, 8, 8] stack: repeat 2 { conv(3, 3, padding=1) -> relu } }")
    assert [x.name for x in result.layers[1:]] == ["stack.0.conv_1", "stack.0.relu_1", "stack.1.conv_1", "stack.1.relu_1"]


def test_repeat_zero_times_is_identity() -> None:
    result = checked("network A { input [3, 8, 8] repeat 0 { conv(9, 3) } @ [3, 8, 8] }")
    assert len(result.layers) == 1


def test_block_parameter_defaults_use_earlier_parameters() -> None:
    result = checked("block W(w, out = w * 4) { conv(out, 1) } network A { input [3, 8, 8] W(2) @ [8, 8, 8] }")
    assert result.output_shape == (8, 8, 8)


def test_named_values_branch_off_and_concat() -> None:
    result = checked("""network A { input [3, 8, 8]
        a = conv(4, 1)
        b = conv(6, 3, padding=1)
        concat(a, b, in) @ [13, 8, 8] }""")
    assert result.output_shape == (13, 8, 8)
    # both branches read the input: the flow did not advance through `a`
    assert layer(result, "conv_2").params == 6 * 3 * 9 + 6


def test_single_value_merge_uses_the_current_value() -> None:
    result = checked("network A { input [4, 8, 8] skip = identity conv(4, 3, padding=1) add(skip) }")
    assert result.output_shape == (4, 8, 8)


def test_unused_value_is_a_warning() -> None:
    assert errors("network A { input [4, 8, 8] x = relu conv(4, 1) }") == ["warning 1:29 value 'x' is never used"]


REPVGG = """
block RepVGGBlock(out, stride = 1) {
    let has_identity = out == in.channels and stride == 1
    ident = if has_identity { rbr_identity: batchnorm }
    dense = rbr_dense: conv(out, 3, stride=stride, padding=1, bias=false) -> batchnorm
    one = rbr_1x1: conv(out, 1, stride=stride, bias=false) -> batchnorm
    if has_identity { add(dense, one, ident) } else { add(dense, one) }
}
"""


def test_a_value_is_used_when_some_instance_of_its_block_uses_it() -> None:
    """RepVGG's identity branch exists in the blocks that keep the shape: where it does not, its
    named value passes `in` on unused, and that is no mistake."""
    assert errors(REPVGG + "network A { input [4, 8, 8] RepVGGBlock(8, stride=2) RepVGGBlock(8) }") == []
    used_by_none = REPVGG + "network A { input [4, 8, 8] RepVGGBlock(8, stride=2) RepVGGBlock(16) }"
    assert errors(used_by_none) == ["warning 4:5 value 'ident' is never used"]


def test_a_value_is_used_when_some_pass_of_its_loop_uses_it() -> None:
    text = "network A { input [4, 8, 8] for i in [0, 1] { x = relu  if i == 1 { add(x) } } }"
    assert errors(text) == []
    assert errors(text.replace("i == 1", "i == 2")) == ["warning 1:47 value 'x' is never used"]


def test_network_parameters_and_overrides() -> None:
    text = "network A(classes = 10, hidden = classes * 8) { input [32] linear(hidden) -> relu out: linear(classes) }"
    assert checked(text).output_shape == (10,)
    result = checked(text, overrides={"classes": 26})
    assert result.output_shape == (26,) and layer(result, "linear_1").output_shape == (208,)
    assert dict(result.graph.params) == {"classes": 26, "hidden": 208}


def test_unknown_override_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="has no parameter 'clases'; did you mean 'classes'"):
        check_text("network A(classes = 10) { input [3] }", overrides={"clases": 2})


def test_required_network_parameter_needs_set() -> None:
    with pytest.raises(UsageError, match="--set classes="):
        check_text("network A(classes) { input [3] }")


def test_input_override_and_network_choice() -> None:
    text = "network A { input [3, 32, 32] conv(8, 3) } network B { input [5] linear(2) }"
    assert checked(text, input_shape=(3, 64, 64)).output_shape == (8, 62, 62)
    assert checked(text, network="B").output_shape == (2,)
    with pytest.raises(UsageError, match="no network 'C'"):
        check_text(text, network="C")


def test_literal_weights_are_frozen_and_counted() -> None:
    result = checked("""network E { input [1, 8, 8]
        v: conv(1, 3, bias=false, weight=[[1, 0, -1], [1, 0, -1], [1, 0, -1]])
        t: conv(2, 3, weight=[[[1, 1, 1], [0, 0, 0], [-1, -1, -1]], [[0, 1, 0], [1, -4, 1], [0, 1, 0]]], frozen=false)
        f: conv(2, 1, frozen=true) }""")
    assert (layer(result, "v").params, layer(result, "v").trainable) == (9, 0)
    assert (layer(result, "t").params, layer(result, "t").trainable) == (2 * 9 + 2, 20)
    assert (layer(result, "f").params, layer(result, "f").trainable) == (6, 0)
    assert (result.total_params, result.trainable_params) == (35, 20)


def test_grouped_convolution_parameters() -> None:
    # 5x5 conv, 96 -> 256 channels in two groups: each output sees 48 input maps
    result = checked("network A { input [96, 27, 27] conv(256, 5, padding=2, groups=2) }")
    assert result.total_params == 256 * 48 * 25 + 256


def test_weight_sharing_parameter_count() -> None:
    assert checked("network A { input [3, 32, 32] conv(5, 5) }").total_params == 5 * 5 * 3 * 5 + 5 == 380


def test_imports_resolve_relative_to_the_importing_file(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text('import "more.net"\nblock Double { Half Half }\n')
    (tmp_path / "lib" / "more.net").write_text("block Half { conv(4, 3, padding=1) -> relu }\n")
    (tmp_path / "net.net").write_text('import "lib/blocks.net"\nnetwork N { input [4, 8, 8] Double }\n')
    outcome = check_file(tmp_path / "net.net")
    assert outcome.checked is not None
    assert [x.name for x in outcome.checked.layers][-1] == "double_1.half_2.relu_1"


def test_diamond_import_is_not_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "base.net").write_text("block Base { relu }\n")
    (tmp_path / "left.net").write_text('import "base.net"\nblock Left { Base }\n')
    (tmp_path / "right.net").write_text('import "base.net"\nblock Right { Base }\n')
    (tmp_path / "top.net").write_text('import "left.net"\nimport "right.net"\nnetwork T { input [1, 2, 2] Left Right }\n')
    assert check_file(tmp_path / "top.net").checked is not None


def test_shape_attributes_in_conditions() -> None:
    text = """block Fit(out) { if in.channels != out { conv(out, 1) } if in.height > 4 { maxpool(2) } }
    network A { input [3, 16, 16] Fit(8) Fit(8) Fit(8) }"""
    assert checked(text).output_shape == (8, 4, 4)


@pytest.mark.parametrize("flag", ["true", "false"])
def test_names_do_not_depend_on_the_branch_taken(flag: str) -> None:
    text = f"""block B(f) {{ if f {{ relu -> conv(3, 1) }} else {{ conv(3, 1) -> relu }} conv(3, 1) -> relu }}
    network A {{ input [3, 4, 4] B({flag}) }}"""
    names = [x.name for x in checked(text).layers]
    assert names[1:3] == (["b_1.relu_1", "b_1.conv_1"] if flag == "true" else ["b_1.conv_2", "b_1.relu_2"])
    assert names[-2:] == ["b_1.conv_3", "b_1.relu_3"]


def test_graph_nodes_are_topological_and_named_uniquely() -> None:
    graph = elaborate(load_text(BASIC + "network R { input [32, 8, 8] Basic(64, stride=2) Basic(64) }"))
    assert len({n.name for n in graph.nodes}) == len(graph.nodes)
    for node in graph.nodes:
        assert all(i < node.id for i in node.inputs)
    assert graph.nodes[graph.output].shape == (64, 4, 4)


def test_dropped_pixels_warning_counts_rows_and_hints_a_fitting_size() -> None:
    (warning,) = check_text("network A { input [3, 224, 224] conv1: conv(96, 11, stride=4) }").diagnostics
    assert warning.severity == "warning" and warning.span.line == 1
    assert warning.message.startswith("conv1 drops input pixels: (W - K + 2P) / S = (224 - 11 + 0) / 4")
    assert "the last 1 row and the last 1 column" in warning.message
    assert warning.hint == "an input of 227×227 would tile exactly"


@pytest.mark.parametrize(
    "layer_text",
    [
        "conv(8, 3, stride=2, padding=1)",  # only padding is dropped
        "conv(8, 1, stride=2)",  # a kernel smaller than its stride skips by design
        "maxpool(3, stride=2, ceil=true)",  # ceil mode covers the end
        "conv(8, 7, stride=2, padding=3)",  # ResNet's stem
    ],
)
def test_no_warning_when_no_real_pixel_is_lost(layer_text: str) -> None:
    assert check_text(f"network A {{ input [3, 224, 224] {layer_text} }}").diagnostics == ()


def test_ceil_mode_output_sizes() -> None:
    assert checked("network A { input [1, 112, 112] maxpool(3, stride=2, ceil=true) }").output_shape == (1, 56, 56)
    assert checked("network A { input [1, 112, 112] maxpool(3, stride=2) }").output_shape == (1, 55, 55)
    # PyTorch drops a last window that would start in the right padding
    assert checked("network A { input [1, 5, 5] maxpool(2, stride=2, padding=1, ceil=true) }").output_shape == (1, 3, 3)


def test_layer_limit_is_a_clear_error() -> None:
    (diag,) = check_text(f"network A {{ input [3] repeat {MAX_LAYERS} {{ relu -> relu }} }}").diagnostics
    assert "over netdsl's limit of 100,000" in diag.message
