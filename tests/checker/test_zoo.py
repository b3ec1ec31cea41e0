"""torchvision's CNNs written in netdsl (specs/zoo/) against torchvision itself: the classic ones
and the mobile-era ones (MobileNet V2/V3, ShuffleNet V2, EfficientNet-B0, RegNetY, ConvNeXt, MnasNet).

The oracle is a fixture recorded from torchvision 0.28.0 (weights=None; GoogLeNet and
Inception-v3 without auxiliary heads): each model's input and output shape, parameter counts,
fvcore's conv+linear MACs and its state_dict. A spec must give all of them — the state_dict's
keys and shapes in torchvision's order (module registration order), so that torchvision's
weights load into the module netdsl builds. No torch needed.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from netdsl.backends.onnx.emit import expected_tensors
from netdsl.checker.analyze import Checked
from netdsl.checker.check import check_file

from conftest import MODELS, ROOT

ZOO = ROOT / "specs" / "zoo"
FIXTURE = ROOT / "tests" / "fixtures" / "torchvision_zoo.json"  # a copy of ../shared/fixtures/

EPS = {"googlenet": 0.001, "inception_v3": 0.001, "mobilenet_v3_large": 0.001, "mobilenet_v3_small": 0.001}
MOMENTUM = {"mobilenet_v3_large": 0.01, "mobilenet_v3_small": 0.01, "mnasnet1_0": 1 - 0.9997}

# torchvision's own layers that leave input pixels unseen (SqueezeNet's first convolution,
# stride 2 on 224 pixels): the checker warns there, at that line, and of nothing else
DROPPED_PIXELS = {"squeezenet1_0": (9, "(224 - 7 + 0) / 2"), "squeezenet1_1": (10, "(224 - 3 + 0) / 2")}


@cache
def oracle(name: str) -> dict[str, Any]:
    assert FIXTURE.exists(), f"the torchvision fixture is expected at {FIXTURE}"
    return json.loads(FIXTURE.read_text())["models"][name]


@cache
def spec(name: str) -> Checked:
    outcome = check_file(ZOO / f"{name}.net")
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    return outcome.checked


def state_dict(checked: Checked) -> list[tuple[str, list[int]]]:
    """The spec's tensors as torchvision's state_dict lists them: a batchnorm's counter follows its statistics."""
    keys: list[tuple[str, list[int]]] = []
    for key, shape in expected_tensors(checked).items():
        keys.append((key, list(shape)))
        if key.endswith(".running_var"):
            keys.append((key.removesuffix("running_var") + "num_batches_tracked", []))
    return keys


@pytest.mark.parametrize("name", MODELS)
def test_shapes_parameters_and_macs_are_torchvisions(name: str) -> None:
    got, want = spec(name), oracle(name)
    assert list(got.input_shape) == want["input_shape"]
    assert list(got.output_shape) == want["output_shape"]
    assert got.total_params == want["total_params"]
    assert got.trainable_params == want["trainable_params"]
    assert got.total_macs == want["macs_conv_linear"]


@pytest.mark.parametrize("name", MODELS)
def test_state_dict_keys_shapes_and_order_are_torchvisions(name: str) -> None:
    want = [
        (key, shape)
        for key, shape, dtype in oracle(name)["state_dict"]
        if dtype.startswith("float") or key.endswith(".num_batches_tracked")
    ]
    assert state_dict(spec(name)) == want


@pytest.mark.parametrize("name", MODELS)
def test_the_only_warnings_are_torchvisions_dropped_pixels(name: str) -> None:
    diagnostics = spec(name).diagnostics
    if name not in DROPPED_PIXELS:
        assert diagnostics == ()
        return
    line, formula = DROPPED_PIXELS[name]
    (warning,) = diagnostics
    assert (warning.severity, warning.span.line) == ("warning", line)
    assert warning.message.startswith(f"features.0 drops input pixels: (W - K + 2P) / S = {formula} is not whole")


@pytest.mark.parametrize("name", MODELS)
def test_batchnorm_eps_is_torchvisions(name: str) -> None:
    graph = spec(name).graph
    has_batchnorm = any(key.endswith(".running_var") for key, _, _ in oracle(name)["state_dict"])
    eps = {node.attrs["eps"] for node in graph.nodes if node.op == "batchnorm"}
    assert eps == ({EPS.get(name, 1e-5)} if has_batchnorm else set())


@pytest.mark.parametrize("name", MODELS)
def test_batchnorm_momentum_is_torchvisions(name: str) -> None:
    has_batchnorm = any(key.endswith(".running_var") for key, _, _ in oracle(name)["state_dict"])
    momentum = {node.attrs["momentum"] for node in spec(name).graph.nodes if node.op == "batchnorm"}
    assert momentum == ({MOMENTUM.get(name, 0.1)} if has_batchnorm else set())


def test_convnext_layernorms_have_eps_1e_6() -> None:
    norms = [(node.op, node.attrs["eps"]) for node in spec("convnext_tiny").graph.nodes if "layernorm" in node.op]
    # the stem's, 3 downsamplings', the classifier's LayerNorm2d; one LayerNorm per block
    assert sorted(norms) == [("layernorm", 1e-6)] * 18 + [("layernorm2d", 1e-6)] * 5


def stochastic_depth(name: str) -> dict[str, float]:
    return {node.name: node.attrs["p"] for node in spec(name).graph.nodes if node.op == "stochastic_depth"}


def test_efficientnet_stochastic_depth_grows_per_block_as_torchvisions() -> None:
    # torchvision: p = 0.2 * block / 16 over the 16 blocks; it takes effect (and netdsl writes
    # it) only in the blocks with a residual: all but the first of each stage
    want, block = {}, 0
    for stage, layers in enumerate([1, 2, 2, 3, 3, 4, 1]):
        for j in range(layers):
            if j > 0:
                want[f"features.{stage + 1}.{j}.stochastic_depth"] = 0.2 * float(block) / 16
            block += 1
    assert stochastic_depth("efficientnet_b0") == want


def test_convnext_stochastic_depth_grows_per_block_as_torchvisions() -> None:
    # torchvision: p = 0.1 * block / (18 - 1.0); stages are features.1, .3, .5, .7
    want, block = {}, 0
    for stage, layers in enumerate([3, 3, 9, 3]):
        for j in range(layers):
            want[f"features.{2 * stage + 1}.{j}.stochastic_depth"] = 0.1 * block / (18 - 1.0)
            block += 1
    assert stochastic_depth("convnext_tiny") == want
