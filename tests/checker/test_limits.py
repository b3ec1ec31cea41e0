"""Absurd sizes are computed analytically (nothing allocated) or refused with a clear limit."""

from __future__ import annotations

from netdsl.checker.check import check_text
from netdsl.checker.elaborate import MAX_LAYERS

from conftest import checked, layer


def test_a_quadrillion_parameters_is_just_arithmetic() -> None:
    net = checked("network Huge { input [10000000] fc: linear(100000000) }")
    assert layer(net, "fc").params == 10**7 * 10**8 + 10**8
    assert net.total_params > 10**15


def test_huge_images_and_channels() -> None:
    net = checked("network Big { input [3, 1000000, 1000000] conv(100000, 3, stride=1) }")
    assert net.output_shape == (100000, 999998, 999998)
    assert net.total_macs == 100000 * 999998 * 999998 * 27
    assert net.activation_bytes == 4 * 100000 * 999998 * 999998


def test_million_fold_repeat_is_refused_before_it_is_built() -> None:
    outcome = check_text("network R { input [8] repeat 1000000 { relu } }")
    (diag,) = outcome.diagnostics
    assert diag.message == f"repeat 1,000,000 is over netdsl's limit of {MAX_LAYERS:,} layers"
    assert (diag.span.line, diag.span.column) == (1, 30)


def test_nested_repeats_are_refused_too() -> None:
    outcome = check_text("network R { input [8] repeat 1000 { repeat 1000 { relu } } }")
    (diag,) = outcome.diagnostics
    assert "over netdsl's limit" in diag.message and diag.span.column == 30


def test_ten_thousand_layers_are_fine() -> None:
    net = checked("network Deep { input [16, 8, 8] repeat 5000 { conv(16, 3, padding=1) -> relu } }")
    assert len(net.layers) == 10_001
    assert net.total_params == 5000 * (16 * 16 * 9 + 16)
    assert net.layers[-1].receptive_field == (10_001, 10_001)


def test_a_repeat_count_is_checked_before_it_is_walked() -> None:
    for count in ("9223372036854775808", "3000000"):
        outcome = check_text(f"network R {{ input [8] repeat {count} {{ if false {{ relu }} }} }}")
        (diag,) = outcome.diagnostics
        assert diag.message == f"repeat {int(count):,} is over netdsl's limit of {MAX_LAYERS:,} layers"


def test_iterations_that_add_no_layer_still_count() -> None:
    outcome = check_text("network R { input [8] repeat 1000 { repeat 1000 { } } }")
    (diag,) = outcome.diagnostics
    assert diag.message == f"the repeats of this network walk over {MAX_LAYERS:,} iterations, netdsl's limit (as for layers)"
    assert (diag.span.line, diag.span.column) == (1, 44)  # the inner count


def test_an_error_in_a_repeat_is_reported_once_and_the_rest_not_walked() -> None:
    outcome = check_text("network R { input [8] repeat 90000 { nosuchop } }")
    assert [d.message for d in outcome.diagnostics] == ["unknown op or block 'nosuchop'"]


def test_sizes_past_what_torch_and_onnx_can_index_are_errors_at_their_line() -> None:
    outcome = check_text("network N {\n  input image: [3, 99999999999999999999, 32]\n  relu\n}")
    (diag,) = outcome.diagnostics
    assert diag.message == "image: an input of 9.5e21 elements is more than PyTorch and ONNX can index (2^63 - 1)"
    assert (diag.span.line, diag.span.column) == (2, 3)
    outcome = check_text("network N {\n  input [4]\n  fc: linear(" + "1" + "0" * 400 + ")\n}")
    (diag,) = outcome.diagnostics
    assert diag.message == "fc: an output of 1.0e400 elements is more than PyTorch and ONNX can index (2^63 - 1)"
    assert diag.span.line == 3
    outcome = check_text("network N { input [3, 8, 8] conv(3000000000000000000, 3, padding=1) }")
    (diag,) = outcome.diagnostics
    assert diag.message.startswith("conv_1: an output of 1.9e20 elements")
    # just inside the limit: reported analytically, as the checker does for any size
    assert checked("network N { input [1000000000] fc: linear(1000000000) }").total_params == 10**18 + 10**9


def test_huge_numbers_in_float_positions_are_errors_not_crashes() -> None:
    big = "1" + "0" * 400
    cases = {
        f"dropout({big})": "dropout argument 'p' expects a finite number, got an integer of 401 digits",
        f"batchnorm(eps={big})": "batchnorm argument 'eps' expects a finite number, got an integer of 401 digits",
        f"linear(({big} + 1) / 2)": "the result is too large for a number (over 1.8e308)",
        "batchnorm(eps=1e999)": "the number 1e999 is too large (over 1.8e308)",
        "linear(" + "7" * 5000 + ")": "an integer of 5,000 digits is too long: netdsl reads at most 4,300",
    }
    for call, message in cases.items():
        outcome = check_text(f"network N {{ input [4] {call} }}")
        assert [d.message for d in outcome.diagnostics] == [message], call


def test_deep_nesting_is_an_error_with_its_position() -> None:
    deep = "network N { input [4]\n" + "if true { " * 250 + "relu" + " }" * 250 + " }"
    (diag,) = check_text(deep).diagnostics
    assert diag.message.startswith("nesting is too deep: netdsl follows at most 100 levels")
    assert diag.span.line == 2 and diag.span.column > 1
    (diag,) = check_text("network N { input [4] linear(" + "+".join(["1"] * 3000) + ") }").diagnostics
    assert diag.message.startswith("nesting is too deep") and (diag.span.line, diag.span.column) == (1, 30)
    # brackets alone add no level: 300 pairs of parentheses are read
    assert checked("network N { input [4] linear(" + "(" * 300 + "3" + ")" * 300 + ") }").output_shape == (3,)


def test_deep_block_chains_are_an_error_with_its_position() -> None:
    text = "network N { input [4] B0 }\n" + "".join(f"block B{i} {{ B{i + 1} }}\n" for i in range(500))
    text += "block B500 { relu }\n"
    (diag,) = check_text(text).diagnostics
    assert diag.message == "blocks nest more than 64 deep here (B0 → B1 → B2 → …)"
    assert (diag.span.line, diag.span.column) == (65, 13)


def test_integers_past_what_python_writes_out_are_still_reported() -> None:
    outcome = check_text("network N { input x: [3, 224, " + "4" * 4300 + "] }")
    (diag,) = outcome.diagnostics
    assert diag.message == "x: an input of 2.9e4302 elements is more than PyTorch and ONNX can index (2^63 - 1)"
    outcome = check_text("network N { input x: [3, 8, 8]  for i in range(" + "9" * 4300 + ") { relu } }")
    (diag,) = outcome.diagnostics
    assert diag.message == "range() of astronomically many numbers is over netdsl's limit of 100,000"


def test_the_end_of_file_is_a_point_inside_the_last_line() -> None:
    (diag,) = check_text("network N { input x: [1").diagnostics
    assert diag.message.startswith("unexpected end of file")
    assert (diag.span.line, diag.span.column, diag.span.end_line, diag.span.end_column) == (1, 24, 1, 24)
