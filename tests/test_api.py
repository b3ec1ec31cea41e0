"""The Python API's contract: what `netdsl.load` takes and what it raises."""

from __future__ import annotations

import pytest

import netdsl
from netdsl.checker.elaborate import UsageError
from netdsl.core.diagnostics import SpecError

NET = "network N(c = 4) { input x: [3, 8, 8] conv(c, 3) }"


def test_spec_text_without_braces_is_text_not_a_path() -> None:
    with pytest.raises(SpecError) as caught:
        netdsl.load("network N")
    (diag,) = caught.value.diagnostics
    assert diag.message.startswith("unexpected end of file")


def test_a_missing_file_is_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        netdsl.load("no/such/spec.net")


@pytest.mark.parametrize("shape", [("a", 8, 8), (-3, 8, 8), (3, 0, 8), (), (1, 2, 3, 4), (True, 8, 8), "3x8x8"])
def test_a_bad_input_shape_is_a_usage_error(shape: object) -> None:
    with pytest.raises(UsageError, match="an input shape is 1 to 3 positive integers"):
        netdsl.load(NET, input_shape=shape)  # type: ignore[arg-type]


def test_a_good_input_shape_is_taken() -> None:
    assert netdsl.load(NET, input_shape=(3, 10, 10)).checked.output_shape == (4, 8, 8)


def test_any_parameter_name_can_be_overridden_through_the_mapping() -> None:
    text = "network N(input_shape = 3, network = 2) { input x: [3, 8, 8] conv(input_shape * network, 3) }"
    spec = netdsl.load(text, {"input_shape": 5, "network": 3})
    assert spec.checked.output_shape == (15, 6, 6)
    assert spec.checked.total_params == 15 * 3 * 9 + 15
    assert netdsl.load(NET, {"c": 2}, c=6).checked.output_shape == (6, 6, 6)  # keywords win


def test_long_spec_text_is_text_not_a_file_name() -> None:
    text = "network N { input x: [3, 8, 8] " + "relu " * 80 + "}"
    assert len(text) > 255
    assert len(netdsl.load(text).checked.layers) == 81
