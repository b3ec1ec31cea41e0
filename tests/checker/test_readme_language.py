"""The README's language reference checks as written: each example of language v3 (issue 20's
"What to build": layers as arguments, compile-time arithmetic and functions, blocks with several
inputs and recursion, inline blocks, unequal splits, padding modes, count_include_pad, parameter
order) is taken from the README's code blocks, put in a network where it is a fragment, and
checked; the figures it gives are asserted."""

from __future__ import annotations

import re
from pathlib import Path

from netdsl.checker.check import check_text

README = Path(__file__).resolve().parents[2] / "README.md"


def examples(heading: str) -> list[str]:
    """The code blocks of the README section `### heading`, in order."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n### {heading}\n")
    end = min(i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1)) if i > 0)
    return re.findall(r"^```\n(.*?)^```", text[start:end], re.S | re.M)


def runnable(code: str, shape: str, params: str = "", more: str = "") -> str:
    """An example as a file: its definitions as they are, its other lines in a network `N` with an
    input of `shape` (after `more`, definitions the example assumes)."""
    definitions, statements, depth = [], [], 0
    for line in code.splitlines():
        top = depth == 0 and not re.match(r"(seq |inline )?(block|network|def) ", line)
        (statements if top else definitions).append(line)
        depth += line.count("{") - line.count("}")
    body = "\n".join(statements)
    return f"{more}\n" + "\n".join(definitions) + f"\nnetwork N{params} {{\n input x: {shape}\n{body}\n}}\n"


def checked(text: str, network: str | None = None):  # type: ignore[no-untyped-def]
    outcome = check_text(text, "readme.net", network=network) if network else check_text(text, "readme.net")
    assert outcome.ok, [str(d) for d in outcome.diagnostics]
    assert outcome.checked is not None
    return outcome


def test_layers_as_arguments() -> None:
    se = "block SqueezeExcitation(squeeze) { s = global_avgpool -> conv(squeeze, 1) -> relu -> conv(in.channels, 1) -> sigmoid  mul(in, s) }"
    checked_ = checked(runnable(examples("Layers as arguments")[0], "[3, 16, 16]", more=se)).checked
    ops = {layer.name: layer.op for layer in checked_.layers}
    assert ops["conv_norm_act_1.hardswish_1"] == "hardswish"
    assert ops["conv_norm_act_2.leaky_relu_1"] == "leaky_relu"
    assert [n for n in ops if n.startswith("conv_norm_act_3.")] == [
        "conv_norm_act_3.conv_1",
        "conv_norm_act_3.batchnorm_1",
    ]
    assert ops["conv_norm_act_4.squeeze_excitation_1.mul_1"] == "mul"
    # a conv of 3 to 16 channels (448), three of 16 to 16 (2,320 each: the default act's), four
    # batchnorms and the squeeze-excitation's two 1x1 convs
    assert checked_.total_params == 448 + 3 * 2320 + 4 * 32 + (16 * 8 + 8) + (8 * 16 + 16) == 7816


def test_compile_time_arithmetic() -> None:
    lists, functions = examples("Compile-time arithmetic")
    text = runnable(
        lists + "\nconv(sum(depths), 1) @ [26, 4, 4]\nconv(first[-1], 1) @ [24, 4, 4]\nconv(len(wide), 1) @ [2, 4, 4]",
        "[3, 4, 4]",
        params="(depth = 1.4, widths = [32, 96, 128])",
    )
    checked(text)  # the shape assertions hold: ceil(n * 1.4) of [1, 2, 2, 3, 3, 4, 1] sums to 26
    text = runnable(
        functions + "\nconv(make_divisible(37), 1) @ [40, 4, 4]\nconv(make_divisible(10), 1) @ [16, 4, 4]", "[3, 4, 4]"
    )
    checked(text)


def test_blocks_with_several_inputs_and_recursion() -> None:
    checked_ = checked(runnable(examples("Blocks with several inputs")[0], "[64, 56, 56]")).checked
    names = {layer.name for layer in checked_.layers}
    assert checked_.output_shape == (128, 28, 28)
    # the tree unrolled: two levels, each a tree of two DlaBasic and a root
    assert {
        "level3.tree1.tree1.conv1",
        "level3.tree1.root.conv",
        "level3.tree2.tree2.conv2",
        "level3.tree2.root.bn",
    } <= names
    # stride 2: the outer tree and its first subtree downsample; the second subtree (stride 1) does not
    assert {"level3.downsample", "level3.tree1.downsample", "level3.tree1.project.0"} <= names
    assert not any(n.startswith("level3.tree2.downsample") for n in names)


def test_inline_blocks() -> None:
    code = examples("Inline blocks")[0]
    small = checked(code, "Small").checked
    assert [layer.name for layer in small.layers if layer.params][:2] == ["stem.0", "stem.1"]
    assert "fc" in {layer.name for layer in small.layers} and small.total_params == 24346
    assert checked(code, "Wide").checked.total_params == 391466


def test_unequal_split_padding_mode_and_count_include_pad() -> None:
    code = examples("Layers")[0]
    checked_ = checked(runnable(code + "\nGhost(7)", "[10, 8, 8]")).checked
    by_name = {layer.name: layer for layer in checked_.layers}
    assert by_name["ghost_1.slice_1"].output_shape == (4, 8, 8) and by_name["ghost_1.slice_2"].output_shape == (6, 8, 8)
    assert by_name["ghost_1.conv_2"].params == 6 * 3 * 9 + 3
    assert checked_.output_shape == (7, 8, 8)


def test_parameter_order_follows_the_reference() -> None:
    repvgg = examples("Sequence, labels, named values")[-1]
    assert "rbr_identity" in repvgg
    conv_bn = "block ConvBN(out, kernel, stride = 1) { conv: conv(out, kernel, stride=stride, padding=kernel // 2, bias=false) -> bn: batchnorm }"
    outcome = checked(runnable(repvgg + "\nRepVGGBlock(8)\nRepVGGBlock(16, 2)", "[8, 8, 8]", more=conv_bn))
    assert not outcome.diagnostics  # `ident`, unused by the second instance, earns no warning
    first = [
        layer.name for layer in outcome.checked.layers if layer.name.startswith("rep_vggblock_1.") and layer.params
    ]
    assert first[0] == "rep_vggblock_1.rbr_identity"  # first in the state_dict, summed last
    assert not any("rbr_identity" in layer.name for layer in outcome.checked.layers if "rep_vggblock_2." in layer.name)
