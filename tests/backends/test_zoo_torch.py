"""torchvision's models, written in netdsl (specs/zoo/), built: the generated module's state_dict
is torchvision's (keys, shapes and dtypes, in order), so torchvision's weights load into it with
strict=True and `netdsl build --weights` takes a torchvision checkpoint as it is; and the ONNX
graph computes what the module computes.

torchvision itself is not needed: the fixture recorded its state_dicts (see test_zoo.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import netdsl
from netdsl.backends.onnx.emit import value_name
from netdsl.cli import main
from netdsl.runtime.session import open_session

from conftest import ROOT

ZOO = ROOT / "specs" / "zoo"
FIXTURE = ROOT / "tests" / "fixtures" / "torchvision_zoo.json"
MODELS = sorted(json.loads(FIXTURE.read_text())["models"])
# ONNX parity runs the whole network at 224x224 (299 for Inception-v3): those past 2 GMACs are slow
HEAVY = {"vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn", "resnet34", "resnet50",
         "resnet101", "resnet152", "wide_resnet50_2", "resnext50_32x4d", "inception_v3", "densenet121",
         "convnext_tiny"}


@cache
def oracle(name: str) -> list[list[Any]]:
    return json.loads(FIXTURE.read_text())["models"][name]["state_dict"]  # type: ignore[no-any-return]


def test_the_zoo_is_complete() -> None:
    assert sorted(p.stem for p in ZOO.glob("*.net")) == MODELS and len(MODELS) == 29


@pytest.mark.parametrize("name", MODELS)
def test_the_modules_state_dict_is_torchvisions(name: str) -> None:
    spec = netdsl.load(ZOO / f"{name}.net")
    with torch.device("meta"):  # keys, shapes and dtypes need no memory
        module = spec.to_torch()
    got = [[key, list(value.shape), str(value.dtype).removeprefix("torch.")] for key, value in
           module.state_dict().items()]
    assert got == oracle(name)


def torchvision_like(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict as torchvision would save it, made from the fixture alone: its keys, shapes and
    dtypes in its order, random values (batchnorm variances positive, counters as integers)."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in oracle(name):
        if dtype == "int64":
            state[key] = torch.tensor(7, dtype=torch.int64)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_a_torchvision_checkpoint_loads_strictly_and_builds_as_it_is(name: str, tmp_path: Path) -> None:
    state = torchvision_like(name)
    module = netdsl.load(ZOO / f"{name}.net").to_torch()
    module.load_state_dict(state, strict=True)
    torch.save(state, tmp_path / f"{name}.pth")
    out = tmp_path / f"{name}.onnx"
    assert main(["build", str(ZOO / f"{name}.net"), "--target", "onnx", "--weights",
                 str(tmp_path / f"{name}.pth"), "-o", str(out)]) == 0
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = module.eval()(x).numpy()
    got = open_session(out, "cpu").run(x.numpy())
    assert float(np.abs(got - expected).max()) <= 1e-4 * max(1.0, float(np.abs(expected).max()))


@pytest.mark.parametrize("name", [pytest.param(m, marks=pytest.mark.slow) if m in HEAVY else m for m in MODELS])
def test_onnx_computes_what_the_module_computes(name: str) -> None:
    spec = netdsl.load(ZOO / f"{name}.net")
    state = torchvision_like(name, seed=3)
    module = spec.to_torch().eval()
    module.load_state_dict(state, strict=True)
    x = torch.randn(1, *spec.checked.input_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = module(x).numpy()
    model = spec.to_onnx(weights=state)
    got = open_session(model, "cpu").run(x.numpy())
    assert got.shape == expected.shape == (1, *spec.checked.output_shape)
    assert float(np.abs(got - expected).max()) <= 1e-4 * max(1.0, float(np.abs(expected).max()))
    assert value_name(spec.checked, spec.checked.graph.nodes[spec.checked.graph.output]) == model.graph.output[0].name
