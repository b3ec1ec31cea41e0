"""Shared helpers: where the specs are, and checking spec text in one call."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.checker.analyze import Checked
from netdsl.checker.check import Outcome, check_text

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
SHIPPED = sorted(SPECS.glob("*.net"))


def checked(text: str, **options: object) -> Checked:
    """Check spec text that must be free of errors; fail the test with the diagnostics otherwise."""
    outcome = check_text(text, "test.net", **options)
    if outcome.checked is None:
        pytest.fail("\n".join(str(d) for d in outcome.diagnostics))
    return outcome.checked


def errors(text: str, file: str = "test.net", **options: object) -> list[str]:
    """The diagnostics of spec text as 'severity line:col message' strings."""
    outcome: Outcome = check_text(text, file, **options)
    return [f"{d.severity} {d.span.line}:{d.span.column} {d.message}" for d in outcome.diagnostics]


def layer(result: Checked, name: str):  # type: ignore[no-untyped-def]
    return next(x for x in result.layers if x.name == name)


# the zoo networks of torchvision (specs/zoo) the fixture describes
MODELS = [
    "alexnet",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
    "googlenet",
    "inception_v3",
    "densenet121",
    "squeezenet1_0",
    "squeezenet1_1",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "shufflenet_v2_x1_0",
    "efficientnet_b0",
    "regnet_y_400mf",
    "convnext_tiny",
    "mnasnet1_0",
]

# BatchNorm's eps and momentum where they are not PyTorch's 1e-5 and 0.1: GoogLeNet's and
# Inception-v3's BasicConv2d, MobileNetV3's TensorFlow settings, MnasNet's decay 0.9997 as PyTorch's
# momentum (EfficientNet-B0 keeps PyTorch's: torchvision sets eps 0.001 from B5 on)


# one small network per op of the table: the op's figures are checked, and every backend lowers it
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
    "slice": ("slice(1, 4)", "[5, 3, 3]", (3, 3, 3), 0, 0),
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
