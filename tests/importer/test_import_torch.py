"""netdsl import from PyTorch: hand-written modules in several styles come back as specs whose
generated module takes the source's state_dict (same keys, shapes, order) and computes the same."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import netdsl
from netdsl.importer import ImportRefused, from_torch
from tests.importer import models

ZOO = Path(__file__).parents[2] / "specs" / "zoo"


def imported(source: torch.nn.Module, shape: tuple[int, ...]) -> tuple[str, torch.nn.Module]:
    text = from_torch(source, shape)
    return text, netdsl.load(text).to_torch()


def assert_same(source: torch.nn.Module, made: torch.nn.Module, shape: tuple[int, ...]) -> None:
    want, have = source.state_dict(), made.state_dict()
    assert [(k, tuple(v.shape)) for k, v in want.items()] == [(k, tuple(v.shape)) for k, v in have.items()]
    made.load_state_dict(want, strict=True)
    source.eval(), made.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (source(x) - made(x)).abs().max().item() <= 1e-5


@pytest.mark.parametrize(
    ("factory", "shape", "lines"),
    [
        (models.FunctionalNet, (1, 32, 32), 8),
        (models.ListNet, (3, 16, 16), 12),
        (models.Branches, (3, 8, 8), 9),
    ],
)
def test_styles(factory: type, shape: tuple[int, ...], lines: int) -> None:
    source = factory()
    text, made = imported(source, shape)
    assert len(text.splitlines()) == lines
    assert_same(source, made, shape)


def test_functional_calls_become_ops() -> None:
    text = from_torch(models.FunctionalNet(), (1, 32, 32))
    assert "conv1: conv(6, 5) -> relu -> maxpool(2) -> conv2: conv(16, 5) -> relu -> maxpool(2) -> flatten" in text
    assert "-> dropout(0.25) -> fc2: linear(84) -> sigmoid" in text


def test_resnet50_is_one_bottleneck_block() -> None:
    source = models.resnet50()
    text, made = imported(source, (3, 224, 224))
    assert text.count("block Bottleneck(") == 1 and "block " not in text.replace("block Bottleneck(", "")
    assert "layer2: repeat 4 as i { Bottleneck(128, 2 if i == 0 else 1, 512) }" in text
    # the shortcut's condition as torchvision writes it, from the instances' input channels
    assert "    downsample = if stride != 1 or in.channels != out2 {\n" in text
    hand = len((ZOO / "resnet50.net").read_text().splitlines())
    assert len(text.splitlines()) == 21 <= 1.5 * hand
    assert_same(source, made, (3, 64, 64))


def test_mobilenet_v2_is_one_inverted_residual_block() -> None:
    source = models.MobileNetV2()
    text, made = imported(source, (3, 224, 224))
    assert text.count("block InvertedResidual(") == 1 and text.count("seq block ConvBNReLU(") == 1
    # torchvision's `use_res_connect` and `expand_ratio != 1`, from the instances' input channels
    assert "    if stride == 1 and in.channels == out2 { add(in, conv_2) } else { conv_2 }\n" in text
    assert "        if in.channels != out { ConvBNReLU(out, 1, 1, 1) }\n" in text
    assert "padding=(kernel - 1) // 2" in text
    # the seven stages of the paper's Table 2 as a table: first block's width and stride, then the rest's
    assert "        [96, 144, 2, 24, 2],\n" in text
    assert "for out0, out, stride0, out2, count in stages {" in text
    hand = len((ZOO / "mobilenet_v2.net").read_text().splitlines())
    assert len(text.splitlines()) == 38 <= 1.5 * hand
    assert_same(source, made, (3, 64, 64))


def test_vgg_features_are_a_table_of_stages() -> None:
    """torchvision's make_layers: a flat nn.Sequential of 26 layers becomes a `for` over the stages,
    each activation at the end of its convolution's line."""
    source = models.VGG()
    text, made = imported(source, (3, 32, 32))
    assert "    let stages = [[8, 1], [16, 1], [32, 2], [64, 2], [64, 2]]\n" in text
    assert ("        for out, count in stages {\n"
            "            repeat count { conv(out, 3, padding=1) -> batchnorm -> relu }\n"
            "            maxpool(2)\n"
            "        }\n") in text
    assert "            repeat 2 { linear(128) -> relu -> dropout(0.5) }\n" in text
    assert len(text.splitlines()) == 16
    assert_same(source, made, (3, 32, 32))


def test_activation_is_a_layer_parameter() -> None:
    """Instances of one class that differ in their activation (or lack one) make one block taking
    the activation as a layer (`act`), not one block per activation."""
    source = models.ActNet()
    text, made = imported(source, (3, 16, 16))
    assert text.count("seq block ConvNormAct(") == 1 and "block ConvNormAct2" not in text
    assert "(kernel - 1) // 2, bias=false) -> batchnorm -> act\n" in text
    assert "        ConvNormAct(8, 3, 2, hardswish)\n        ConvNormAct(16, 3, 1, relu)\n" in text
    assert "        ConvNormAct(16, 1, 1, none)\n" in text
    assert len(text.splitlines()) == 14
    assert_same(source, made, (3, 16, 16))


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (models.DataDependent, "the model (DataDependent), "),
        (models.Recurrent, "lstm: LSTM has no netdsl op"),
        (models.Unknown, "the model (Unknown), "),
    ],
)
def test_refusals_name_the_module(factory: type, message: str) -> None:
    with pytest.raises(ImportRefused) as caught:
        from_torch(factory(), (3, 8, 8))
    assert message in str(caught.value)


def test_data_dependent_control_flow_names_the_line() -> None:
    with pytest.raises(ImportRefused) as caught:
        from_torch(models.DataDependent(), (3, 8, 8))
    line = next(n for n, text in enumerate(Path(models.__file__).read_text().splitlines(), 1) if "x.sum() > 0" in text)
    assert f"models.py:{line}" in str(caught.value)
    assert "data-dependent control flow" in str(caught.value)


def test_unknown_function_names_it_and_its_line() -> None:
    with pytest.raises(ImportRefused) as caught:
        from_torch(models.Unknown(), (3, 8, 8))
    line = next(n for n, text in enumerate(Path(models.__file__).read_text().splitlines(), 1) if "cumsum" in text)
    assert str(caught.value).startswith("the model (Unknown), ")
    assert f"models.py:{line}: cumsum has no netdsl op" in str(caught.value)


class Padded(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")
        self.c2 = torch.nn.Conv2d(4, 4, 3, padding=(2, 1), padding_mode="replicate")
        self.c3 = torch.nn.Conv2d(4, 2, 3, padding=1, padding_mode="circular", bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c3(self.c2(self.c1(x)))


def test_padding_modes_are_imported() -> None:
    text, made = imported(Padded(), (3, 8, 8))
    assert "c1: conv(4, 3, padding=1, padding_mode=reflect)" in text
    assert "c2: conv(4, 3, padding=[2, 1], padding_mode=replicate)" in text
    assert "c3: conv(2, 3, padding=1, bias=false, padding_mode=circular)" in text
    modes = [m.padding_mode for m in made.modules() if isinstance(m, torch.nn.Conv2d)]
    assert modes == ["reflect", "replicate", "circular"]
    assert_same(Padded(), made, (3, 8, 8))
