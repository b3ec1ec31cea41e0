"""The language's structure beyond chains: constants (`let`), lists, `for`, `seq` and labels
that are numbers or computed — enough to say torchvision's models with their state_dict names."""

from __future__ import annotations

import pytest

from netdsl.checker.check import check_text

from conftest import checked, errors

CONV_BN = """
seq block ConvBN(out, kernel = 3, stride = 1) {
    conv(out, kernel, stride=stride, padding=(kernel - 1) // 2, bias=false)
    batchnorm
    relu
}
"""


def names(text: str) -> list[str]:
    return [layer.name for layer in checked(text).layers]


def test_let_binds_numbers_and_lists_in_scope() -> None:
    net = checked("""
    block B(planes, base = 64) { let width = planes * base // 64  conv(width, 1) }
    network N { input [8, 4, 4]  let widths = [16, 32]  B(widths[1], base = 128)  conv(widths[-2], 1) }""")
    assert [layer.output_shape for layer in net.layers] == [(8, 4, 4), (64, 4, 4), (16, 4, 4)]


def test_a_seq_names_its_layers_by_position_and_flattens_loops() -> None:
    got = names(CONV_BN + """
    network N {
        input [3, 16, 16]
        features: seq {
            ConvBN(8, stride = 2)
            for c, n in [[8, 2], [16, 1]] { repeat n as i { ConvBN(c, 1 if i == 0 else 3) } }
            maxpool(2)
        }
        pool: global_avgpool
    }""")
    assert got == ["input", *(f"features.{i}.{j}" for i in range(4) for j in range(3)), "features.4", "pool"]


def test_an_if_inside_a_seq_moves_the_positions_after_it() -> None:
    text = "network N(wide = false) { input [3, 8, 8]  s: seq { if wide { conv(8, 1) }  conv(4, 3)  relu } }"
    assert names(text) == ["input", "s.0", "s.1"]
    assert names(text.replace("wide = false", "wide = true")) == ["input", "s.0", "s.1", "s.2"]


def test_computed_and_number_labels() -> None:
    got = names("""
    block Layer(growth) { norm1: batchnorm -> conv1: conv(growth, 3, padding=1) }
    network N {
        input [4, 8, 8]
        for i in range(2) { for j in range(2) { "block{i + 1}-{j}": Layer(4) } }
        head: seq { 0: flatten  1: linear(10) }
    }""")
    assert got[1:5] == ["block1-0.norm1", "block1-0.conv1", "block1-1.norm1", "block1-1.conv1"]
    assert got[-2:] == ["head.0", "head.1"]


def test_a_for_loop_writes_its_body_out_in_place() -> None:
    net = checked("network N { input [3, 8, 8]  for c in [4, 8, 16] { conv(c, 3, padding=1) -> relu } }")
    assert [layer.name for layer in net.layers[1:3]] == ["conv_1", "relu_1"]
    assert net.output_shape == (16, 8, 8)


@pytest.mark.parametrize(("body", "message"), [
    ("s: seq { a = relu }", "error 1:39 a seq is a chain of layers: named values and merges belong in a block"),
    ("s: seq { add(in, in) }", "error 1:39 a seq is a chain of layers: add belongs in a block"),
    ("s: seq { 1: relu }", "error 1:39 in a seq a number label is the layer's position, here 0, not 1"),
    ("for x in 3 { relu }", "error 1:39 for needs a list to go through, got 3"),
    ("for a, b in [[1, 2, 3]] { relu }", "error 1:42 cannot unpack [1, 2, 3] into 2 names (a, b)"),
    ("let w = [1, 2]  conv(w[2], 3)", "error 1:53 index 2 is out of range for a list of 2 items"),
    ("let w = 4  conv(w[0], 3)", "error 1:46 only a list can be indexed, not 4"),
    ("for i in range(2) { x: relu }", "error 1:50 label 'x' is already used in this scope, at test.net:1:50"),
    ('for i in range(2) { "a.{i}": relu }', "error 1:50 label 'a.0' cannot name a layer: it needs a character, "
                                            "and no '.' or space"),
    ("let conv = 3", "error 1:34 'conv' names an op; choose another name for this constant"),
    ("let y = in", "error 1:38 let names a number or a list; a tensor value is named with `name = ...`"),
    ("conv(len(3), 3)", "error 1:35 len() takes a list, not 3"),
])
def test_mistakes_in_the_new_structure_are_pointed_at(body: str, message: str) -> None:
    got = errors(f"network N {{ input [3, 8, 8]  {body} }}")
    assert message in got, got


@pytest.mark.parametrize(("body", "message"), [
    ("conv(4, 3)  linear(3)", "error 1:42 linear expects an input of shape [features], got [4, 6, 6]"),
    ("permute([2, 0, 1])  linear(3)", "error 1:50 linear expects an input of shape [features], got [8, 3, 8]"),
    ("s = global_avgpool -> conv(2, 1)  mul(in, s)", "error 1:64 mul needs sizes that agree or are 1 on each "
                                                      "axis, got [3, 8, 8] vs [2, 1, 1]"),
    ("chunk(2, 0)", "error 1:30 3 channels do not split into 2 equal parts"),
    ("permute([0, 0, 1])", "error 1:30 order [0, 0, 1] is not a permutation of the 3 axes of [3, 8, 8] (0 to 2; "
                           "the batch axis is not counted)"),
    ("stochastic_depth(0.1, mode=col)", "error 1:52 mode is row (one draw per sample, torchvision's) or batch, "
                                        "not col"),
])
def test_mistakes_with_the_modern_ops(body: str, message: str) -> None:
    got = errors(f"network N {{ input [3, 8, 8]  {body} }}")
    assert message in got, got


def test_a_label_may_name_a_layer_in_each_branch_of_one_if() -> None:
    text = """
    block SE(gate = hardsigmoid) {
        s = global_avgpool -> fc1: conv(4, 1) -> if gate == hardsigmoid { act: hardsigmoid } else { act: sigmoid }
        mul(in, s)
    }
    network N { input [4, 4, 4]  SE  SE(sigmoid)  SE("hardsigmoid") }"""
    net = checked(text)
    assert [(layer.name, layer.op) for layer in net.layers if layer.name.endswith(".act")] == [
        ("se_1.act", "hardsigmoid"), ("se_2.act", "sigmoid"), ("se_3.act", "hardsigmoid")]


def test_words_compare_with_words_only() -> None:
    assert errors("network N(a = relu) { input [4]  if a == 3 { relu } }") == [
        "error 1:37 cannot compare 'relu' with 3: a word compares with a word"]
    assert errors("network N(a = relu) { input [4]  if ab == relu { relu } }") == ["error 1:37 undefined name 'ab'"]


def test_a_let_ends_before_an_if_statement() -> None:
    net = checked("network N(stride = 1) { input [4]\n  let half = 4 // 2\n  if stride == 1 { linear(half) } }")
    assert net.output_shape == (2,)
    outcome = check_text("network N { input [4]  let s = 2 if true else 3  linear(s) }")
    (diag,) = outcome.diagnostics
    assert diag.message == "unexpected 'else'"
    assert diag.hint == "a conditional value needs parentheses in a let: let s = (2 if first else 1)"
    assert checked("network N { input [4]  let s = (2 if true else 3)  linear(s) }").output_shape == (2,)


def test_a_branch_not_taken_gets_the_checks_that_need_no_shapes() -> None:
    assert errors("network N(deep = false) { input x: [4, 6, 6]  if deep { nosuchop } }") == [
        "error 1:57 unknown op or block 'nosuchop'"]
    assert errors("network N(deep = true) { input x: [4, 6, 6]  if deep { relu } else { conv(4, 3, strde=2) } }") == [
        "error 1:81 conv has no argument 'strde'"]
    assert errors("block B { b = global_avgpool  y = mul(y, b) }\n"
                  "network N(deep = false) { input x: [4, 6, 6]  if deep { B } }") == [
        "error 1:39 mul takes named values, as in mul(main, skip)"]
