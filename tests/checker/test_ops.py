"""Every op of the table, once: its shape rule, parameter and MAC counts on a small input.

The last test fails when an op is added to netdsl/ops.py without a case here.
"""

from __future__ import annotations

import pytest

from netdsl.ops import OPS

from conftest import checked

# op call, input shape, output shape, parameters, MACs
CASES = {
    "conv": ("conv(8, 3, stride=2, padding=1)", "[4, 9, 9]", (8, 5, 5), 8 * 4 * 9 + 8, 8 * 25 * 36),
    "maxpool": ("maxpool(3, stride=2)", "[4, 9, 9]", (4, 4, 4), 0, 0),
    "avgpool": ("avgpool(2)", "[4, 9, 9]", (4, 4, 4), 0, 0),
    "adaptive_avgpool": ("adaptive_avgpool([2, 3])", "[4, 9, 9]", (4, 2, 3), 0, 0),
    "adaptive_maxpool": ("adaptive_maxpool(2)", "[4, 9, 9]", (4, 2, 2), 0, 0),
    "global_avgpool": ("global_avgpool", "[4, 9, 9]", (4, 1, 1), 0, 0),
    "linear": ("linear(5)", "[12]", (5,), 65, 60),
    "flatten": ("flatten", "[4, 3, 3]", (36,), 0, 0),
    "relu": ("relu", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "relu6": ("relu6", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "hardswish": ("hardswish", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "hardsigmoid": ("hardsigmoid", "[7]", (7,), 0, 0),
    "silu": ("silu", "[7]", (7,), 0, 0),
    "layernorm": ("layernorm(eps=0.001)", "[7]", (7,), 14, 0),
    "layernorm2d": ("layernorm2d(eps=0.000001)", "[4, 3, 3]", (4, 3, 3), 8, 0),
    "scale": ("scale(0.5)", "[4, 3, 3]", (4, 3, 3), 4, 0),
    "stochastic_depth": ("stochastic_depth(0.2, mode=row)", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "chunk": ("chunk(2, 1)", "[4, 3, 3]", (2, 3, 3), 0, 0),
    "channel_shuffle": ("channel_shuffle(2)", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "permute": ("permute([1, 2, 0])", "[4, 3, 5]", (3, 5, 4), 0, 0),
    "mul": ("mul(in, in)", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "tanh": ("tanh", "[7]", (7,), 0, 0),
    "sigmoid": ("sigmoid", "[7]", (7,), 0, 0),
    "leaky_relu": ("leaky_relu(0.2)", "[7]", (7,), 0, 0),
    "gelu": ("gelu", "[7]", (7,), 0, 0),
    "softmax": ("softmax", "[7]", (7,), 0, 0),
    "log_softmax": ("log_softmax", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "identity": ("identity", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "dropout": ("dropout(0.25)", "[7]", (7,), 0, 0),
    "batchnorm": ("batchnorm(eps=0.001, momentum=0.01)", "[4, 3, 3]", (4, 3, 3), 8, 0),
    "lrn": ("lrn(5, alpha=0.0001, beta=0.75, k=2)", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "add": ("add(in, in)", "[4, 3, 3]", (4, 3, 3), 0, 0),
    "concat": ("concat(in, in, in)", "[4, 3, 3]", (12, 3, 3), 0, 0),
    "coral": ("coral(6)", "[10]", (5,), 10 + 5, 10),
    "ordinal": ("ordinal(6)", "[10]", (5, 2), 11 * 10, 100),
}


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
