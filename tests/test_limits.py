"""Absurd sizes are computed analytically (nothing allocated) or refused with a clear limit."""

from __future__ import annotations

from netdsl.check import check_text
from netdsl.elaborate import MAX_LAYERS

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
    assert diag.message == f"repeat 1,000,000 would make about 1,000,001 layers, over netdsl's limit of {MAX_LAYERS:,}"
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
