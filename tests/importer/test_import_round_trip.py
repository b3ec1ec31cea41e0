"""Round trip: every shipped spec → to_torch() → netdsl import → spec′. spec′ checks clean with the
same parameters, MACs and output shape; its module has the same state_dict (keys, shapes, order)
and, with the weights copied, computes the same outputs; and it is at most 1.5 times as long as the
hand-written spec (non-blank lines, comments included, both ways)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import netdsl
from netdsl.importer import from_torch

SPECS = Path(__file__).parents[2] / "specs"
# the heavy ones (ImageNet-sized, > ~1 s to build twice and run on 2 cores) run with -m slow
LIGHT = {"lenet5.net", "edge_detectors.net", "coral_cnn.net", "ordinal_synth.net", "resnet18.net",
         "zoo/squeezenet1_1.net", "zoo/mobilenet_v3_small.net"}


# the two hand-written specs that keep all their blocks in an imported file (13 and 14 lines of
# their own, 37 more in blocks/resnet.net): an import writes its blocks out, so they count with it
WITH_BLOCKS = {"resnet18.net", "resnet50.net"}


def _lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip())


def _hand_lines(path: Path) -> int:
    text = path.read_text()
    count = _lines(text)
    if str(path.relative_to(SPECS)) in WITH_BLOCKS:
        count += sum(_lines((path.parent / name).read_text()) for name in re.findall(r'^import "(.+)"', text, re.M))
    return count


def _cases() -> list:
    paths = sorted(SPECS.glob("*.net")) + sorted((SPECS / "zoo").glob("*.net"))
    names = [str(p.relative_to(SPECS)) for p in paths]
    return [pytest.param(p, id=n, marks=() if n in LIGHT else pytest.mark.slow) for p, n in zip(paths, names, strict=True)]


@pytest.mark.parametrize("path", _cases())
def test_round_trip(path: Path) -> None:
    spec = netdsl.load(path)
    source = spec.to_torch()
    text = from_torch(source, spec.checked.input_shape, name=spec.network)
    # readable: blocks and loops where the hand-written spec has them, not a flat list of layers
    assert _lines(text) <= 1.5 * _hand_lines(path), f"{_lines(text)} lines imported, {_hand_lines(path)} by hand"
    again = netdsl.load(text)
    assert not [d for d in again.checked.diagnostics if d.severity == "error"]
    assert again.checked.total_params == spec.checked.total_params
    assert sum(layer.macs for layer in again.checked.layers) == sum(layer.macs for layer in spec.checked.layers)
    assert again.checked.output_shape == spec.checked.output_shape
    made = again.to_torch()
    want, have = source.state_dict(), made.state_dict()
    assert [(k, tuple(v.shape)) for k, v in want.items()] == [(k, tuple(v.shape)) for k, v in have.items()]
    made.load_state_dict(want, strict=True)
    source.eval(), made.eval()
    x = torch.randn(1, *spec.checked.input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (source(x) - made(x)).abs().max().item() <= 1e-5
