"""Every op of the table, once: its shape rule, parameter and MAC counts on a small input.

The last test fails when an op is added to netdsl/ops.py without a case here.
"""

from __future__ import annotations

import pytest

from netdsl.checker.ops import OPS

from conftest import CASES, checked

# op call, input shape, output shape, parameters, MACs



@pytest.mark.parametrize("op", sorted(CASES))
def test_op(op: str) -> None:
    call, shape, output, params, macs = CASES[op]
    net = checked(f"network N {{ input {shape} {call} }}")
    last = net.layers[-1]
    assert (last.op, last.output_shape, last.params, last.macs) == (op, output, params, macs)


def test_every_op_in_the_table_has_a_case() -> None:
    assert set(CASES) == set(OPS)


def test_mul_broadcasts_sizes_of_one_along_each_axis() -> None:
    net = checked("network N { input [4, 6, 6]  s = global_avgpool -> conv(4, 1)  mul(in, s) }")
    assert net.output_shape == (4, 6, 6)


def test_linear_acts_on_the_last_axis_once_channels_are_moved_last() -> None:
    net = checked("network N { input [4, 6, 5]  permute([1, 2, 0]) -> layernorm -> linear(8) -> gelu -> linear(4) }")
    linear = [layer for layer in net.layers if layer.op == "linear"]
    assert [layer.output_shape for layer in linear] == [(6, 5, 8), (6, 5, 4)]
    assert [layer.params for layer in linear] == [4 * 8 + 8, 8 * 4 + 4]
    assert [layer.macs for layer in linear] == [6 * 5 * 8 * 4, 6 * 5 * 4 * 8]


def test_a_broadcast_gate_leaves_the_receptive_field_and_jump_of_the_pixels_it_scales() -> None:
    net = checked("network N { input [4, 16, 16]  conv(4, 3, stride=2, padding=1)"
                  "  y = identity  s = adaptive_avgpool(1) -> conv(4, 1) -> sigmoid  mul(y, s) -> conv(4, 3, padding=1) }")
    conv1, mul, conv2 = (next(x for x in net.layers if x.name == n) for n in ("conv_1", "mul_1", "conv_3"))
    assert (mul.receptive_field, mul.jump) == (conv1.receptive_field, conv1.jump) == ((3, 3), (2, 2))
    assert (conv2.receptive_field, conv2.jump) == ((7, 7), (2, 2))
