"""The state_dict's order is the order in which the spec defines its layers, whatever order a
merge reads them in: RepVGG (Ding et al. 2021) defines its identity batchnorm first, then the
3×3 and 1×1 branches, and sums dense + 1×1 + identity. A spec that defines its named values in
that order has the reference's keys, in order, and loads its weights; the blocks without an
identity (stride 2, a change of width) leave that value unused without a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

import netdsl

torch = pytest.importorskip("torch")
nn = torch.nn

REPVGG = """# RepVGG (Ding et al. 2021), train-time form, with the original code's names and order
block ConvBN(out, kernel, stride) {
    conv: conv(out, kernel, stride=stride, padding=kernel // 2, bias=false)
    bn: batchnorm
}

block RepVGGBlock(out, stride = 1) {
    let has_identity = out == in.channels and stride == 1
    ident = if has_identity { rbr_identity: batchnorm }   # defined first: first in the state_dict
    dense = rbr_dense: ConvBN(out, 3, stride)
    one = rbr_1x1: ConvBN(out, 1, stride)
    if has_identity { add(dense, one, ident) } else { add(dense, one) }
    relu
}

network RepVGG(classes = 1000, blocks = [2, 4, 14, 1], width = [0.75, 0.75, 0.75, 2.5]) {
    input image: [3, 224, 224]
    stage0: RepVGGBlock(min(64, int(64 * width[0])), stride=2)
    for i in range(4) {
        "stage{i + 1}": repeat blocks[i] as j { RepVGGBlock(int(64 * 2 ** i * width[i]), stride=2 if j == 0 else 1) }
    }
    gap: global_avgpool
    flatten
    linear: linear(classes)
}
"""


def _conv_bn(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
    result = nn.Sequential()
    result.add_module("conv", nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False))
    result.add_module("bn", nn.BatchNorm2d(cout))
    return result


class RepVGGBlock(nn.Module):
    """The original code's block (DingXiaoH/RepVGG, repvgg.py), train-time."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.nonlinearity = nn.ReLU()
        self.rbr_identity = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None
        self.rbr_dense = _conv_bn(cin, cout, 3, stride)
        self.rbr_1x1 = _conv_bn(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = 0 if self.rbr_identity is None else self.rbr_identity(x)
        return self.nonlinearity(self.rbr_dense(x) + self.rbr_1x1(x) + identity)


class RepVGG(nn.Module):
    def __init__(self, blocks: list[int], width: list[float], classes: int = 1000) -> None:
        super().__init__()
        planes = min(64, int(64 * width[0]))
        self.stage0 = RepVGGBlock(3, planes, 2)
        for i, count in enumerate(blocks):
            stage = []
            for j in range(count):
                out = int(64 * 2**i * width[i])
                stage.append(RepVGGBlock(planes, out, 2 if j == 0 else 1))
                planes = out
            setattr(self, f"stage{i + 1}", nn.ModuleList(stage))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(planes, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stage0(x)
        for i in range(1, 5):
            for block in getattr(self, f"stage{i}"):
                out = block(out)
        return self.linear(self.gap(out).flatten(1))


def _shapes(module: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in module.state_dict().items()]


def test_repvgg_a0_has_the_reference_keys_in_order(tmp_path: Path) -> None:
    path = tmp_path / "repvgg.net"
    path.write_text(REPVGG)
    spec = netdsl.load(path)
    assert spec.checked.diagnostics == ()  # no "never used" for the blocks without an identity
    reference = RepVGG([2, 4, 14, 1], [0.75, 0.75, 0.75, 2.5])
    module = spec.to_torch()
    assert _shapes(module) == _shapes(reference)
    assert spec.checked.total_params == sum(p.numel() for p in reference.parameters()) == 9_108_968
    keys = list(module.state_dict())
    assert keys[:3] == ["stage0.rbr_dense.conv.weight", "stage0.rbr_dense.bn.weight", "stage0.rbr_dense.bn.bias"]
    block = [k.removeprefix("stage1.1.") for k in keys if k.startswith("stage1.1.") and k.endswith(".weight")]
    assert block == [
        "rbr_identity.weight",
        "rbr_dense.conv.weight",
        "rbr_dense.bn.weight",
        "rbr_1x1.conv.weight",
        "rbr_1x1.bn.weight",
    ]


def test_a_small_repvgg_computes_what_the_reference_does(tmp_path: Path) -> None:
    path = tmp_path / "repvgg.net"
    path.write_text(REPVGG)
    spec = netdsl.load(path, classes=10, blocks=[1, 2, 2, 1], width=[0.25, 0.25, 0.25, 0.5], input_shape=(3, 32, 32))
    torch.manual_seed(0)
    reference = RepVGG([1, 2, 2, 1], [0.25, 0.25, 0.25, 0.5], classes=10)
    for m in reference.modules():  # statistics that are not the identity: each batchnorm counts
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    module = spec.to_torch()
    module.load_state_dict(reference.state_dict(), strict=True)  # by name: the keys are the reference's
    assert list(module.state_dict()) == list(reference.state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert float((module.eval()(x) - reference.eval()(x)).abs().max()) <= 1e-5
