"""Every shipped spec checks clean, and every figure the issue names is what the checker says."""

from __future__ import annotations

from pathlib import Path

import pytest

from netdsl.checker.check import check_file

from conftest import SHIPPED, SPECS, layer


def _check(name: str, **options: object):  # type: ignore[no-untyped-def]
    outcome = check_file(SPECS / name, **options)
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    return outcome.checked


def _networks(path: Path) -> list[str]:
    from netdsl.language.program import load

    return load(path).networks()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_spec_checks_without_any_diagnostic(path: Path) -> None:
    for network in _networks(path):
        outcome = check_file(path, network=network)
        assert outcome.checked is not None and outcome.diagnostics == (), [str(d) for d in outcome.diagnostics]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_network_has_a_classes_parameter_or_fixed_output(path: Path) -> None:
    for network in _networks(path):
        checked = _check(path.name, network=network)
        if "classes" in checked.graph.params:
            more = _check(path.name, network=network, overrides={"classes": 7})
            assert 7 in more.output_shape or 6 in more.output_shape


def test_lenet5_figures() -> None:
    net = _check("lenet5.net")
    shapes = [(x.name, x.output_shape) for x in net.layers if x.name in ("C1", "S2", "C3", "S4", "C5", "F6", "out")]
    assert shapes == [("C1", (6, 28, 28)), ("S2", (6, 14, 14)), ("C3", (16, 10, 10)), ("S4", (16, 5, 5)),
                      ("C5", (120, 1, 1)), ("F6", (84,)), ("out", (10,))]
    assert net.input_shape == (1, 32, 32)
    assert net.total_params == net.trainable_params == 61_706
    assert net.total_macs == 416_520
    assert layer(net, "C5").receptive_field == (32, 32)


def test_alexnet_figures() -> None:
    net = _check("alexnet.net")
    assert net.input_shape == (3, 227, 227)
    assert net.total_params == 60_965_224
    neurons = [layer(net, name).activations for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")]
    assert neurons == [290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]
    # the two-GPU split: conv2, conv4 and conv5 see half of the maps below them
    assert layer(net, "conv2").params == 256 * 48 * 5 * 5 + 256
    assert layer(net, "conv3").params == 384 * 256 * 3 * 3 + 384
    assert [x.name for x in net.layers if x.op == "lrn"] == ["norm1", "norm2"]
    assert sum(x.op == "dropout" for x in net.layers) == 2


def test_alexnet_at_224_warns_that_conv1_drops_pixels() -> None:
    outcome = check_file(SPECS / "alexnet.net", input_shape=(3, 224, 224))
    assert outcome.checked is not None
    first = outcome.diagnostics[0]
    assert first.severity == "warning" and first.message.startswith("conv1 drops input pixels")
    assert (first.span.line, first.span.column) == (13, 5)
    assert first.hint == "an input of 227×227 would tile exactly"


def test_coral_cnn_figures() -> None:
    net = _check("coral_cnn.net")
    assert net.graph.network == "CoralCNN"
    assert net.input_shape == (3, 120, 120)
    assert layer(net, "features.layer4.2.relu_2").output_shape == (512, 4, 4)
    assert layer(net, "avgpool").output_shape == (512, 1, 1)
    assert net.output_shape == (54,)
    assert net.total_params == 21_285_238
    assert layer(net, "head").params == 512 + 54


def test_the_three_heads_of_the_coral_table() -> None:
    backbone = 21_285_238 - (512 + 54)
    ce = _check("coral_cnn.net", network="CECNN")
    orcnn = _check("coral_cnn.net", network="ORCNN")
    assert (ce.output_shape, ce.total_params) == ((55,), backbone + 512 * 55 + 55)
    assert (orcnn.output_shape, orcnn.total_params) == ((54, 2), backbone + (512 + 1) * 2 * 54)


def test_edge_detectors_are_frozen() -> None:
    net = _check("edge_detectors.net")
    assert net.trainable_params == 0 and net.total_params == 18
    assert net.output_shape == (2, 28, 28)
    assert layer(net, "vertical").output_shape == (1, 28, 28)


@pytest.mark.parametrize(
    ("name", "params", "output"),
    [
        ("vgg16.net", 138_357_544, (1000,)),
        ("resnet18.net", 11_689_512, (1000,)),
        ("resnet50.net", 25_557_032, (1000,)),
    ],
)
def test_common_architectures_match_their_published_counts(name: str, params: int, output: tuple[int, ...]) -> None:
    net = _check(name)
    assert (net.total_params, net.output_shape) == (params, output)


def test_googlenet_matches_a_hand_written_pytorch_model() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Inception(nn.Module):  # type: ignore[misc]
        def __init__(self, cin: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, pp: int) -> None:
            super().__init__()
            self.b1 = nn.Conv2d(cin, c1, 1)
            self.b2 = nn.Sequential(nn.Conv2d(cin, c3r, 1), nn.ReLU(), nn.Conv2d(c3r, c3, 3, padding=1))
            self.b3 = nn.Sequential(nn.Conv2d(cin, c5r, 1), nn.ReLU(), nn.Conv2d(c5r, c5, 5, padding=2))
            self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, pp, 1))

        def forward(self, x):  # type: ignore[no-untyped-def]
            return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

    config = [(192, 64, 96, 128, 16, 32, 32), (256, 128, 128, 192, 32, 96, 64), "pool",
              (480, 192, 96, 208, 16, 48, 64), (512, 160, 112, 224, 24, 64, 64), (512, 128, 128, 256, 24, 64, 64),
              (512, 112, 144, 288, 32, 64, 64), (528, 256, 160, 320, 32, 128, 128), "pool",
              (832, 256, 160, 320, 32, 128, 128), (832, 384, 192, 384, 48, 128, 128)]
    layers = [nn.Conv2d(3, 64, 7, 2, 3), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Conv2d(64, 64, 1),
              nn.Conv2d(64, 192, 3, padding=1), nn.MaxPool2d(3, 2, ceil_mode=True)]
    layers += [nn.MaxPool2d(3, 2, ceil_mode=True) if c == "pool" else Inception(*c) for c in config]
    layers += [nn.AvgPool2d(7), nn.Flatten(), nn.Linear(1024, 1000)]
    model = nn.Sequential(*layers).to("meta")
    net = _check("googlenet.net")
    assert net.total_params == sum(p.numel() for p in model.parameters()) == 6_998_552
    assert tuple(model(torch.empty(1, 3, 224, 224, device="meta")).shape[1:]) == net.output_shape


def test_resnet_macs_match_the_usual_figures() -> None:
    # fvcore reports 1.82 GMACs for ResNet-18 and 4.11 G for ResNet-50 (conv + fc only)
    assert 1.81e9 < _check("resnet18.net").total_macs < 1.83e9
    assert 4.08e9 < _check("resnet50.net").total_macs < 4.12e9
