"""Stage 2/3 against an oracle: netdsl's shapes and parameter counts equal PyTorch's.

PyTorch runs on the `meta` device: shapes are computed, no memory is allocated.
"""

from __future__ import annotations

import random

import pytest

from netdsl.checker.check import check_text

torch = pytest.importorskip("torch")


def _conv_cases(count: int) -> list[dict[str, int]]:
    rng = random.Random(479)
    cases = []
    while len(cases) < count:
        k, d, s = rng.randint(1, 7), rng.randint(1, 3), rng.randint(1, 4)
        p, size, groups = rng.randint(0, 3), rng.randint(1, 40), rng.choice([1, 1, 2, 4])
        cases.append({"k": k, "d": d, "s": s, "p": p, "size": size, "groups": groups})
    return cases


def _pool_cases(count: int) -> list[dict[str, int]]:
    rng = random.Random(1998)
    cases = []
    while len(cases) < count:
        k = rng.randint(1, 6)
        cases.append({"k": k, "s": rng.randint(1, 4), "p": rng.randint(0, k // 2), "size": rng.randint(1, 40),
                      "ceil": rng.random() < 0.5})
    return cases


def _torch_shape(module: object, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        return tuple(module(torch.empty((1, *shape), device="meta")).shape[1:])  # type: ignore[operator]
    except RuntimeError:
        return None  # PyTorch refuses it too: netdsl must report an error


@pytest.mark.parametrize("case", _conv_cases(250), ids=lambda c: "k{k}d{d}s{s}p{p}w{size}g{groups}".format(**c))
def test_conv_shape_and_params_match_pytorch(case: dict[str, int]) -> None:
    channels, out = 4 * case["groups"], 2 * case["groups"]
    text = (f"network A {{ input [{channels}, {case['size']}, {case['size'] + 3}] "
            f"conv({out}, {case['k']}, stride={case['s']}, padding={case['p']}, dilation={case['d']}, "
            f"groups={case['groups']}) }}")
    outcome = check_text(text)
    conv = torch.nn.Conv2d(channels, out, case["k"], case["s"], case["p"], case["d"], case["groups"], device="meta")
    expected = _torch_shape(conv, (channels, case["size"], case["size"] + 3))
    if expected is None:
        assert outcome.checked is None, "PyTorch refuses this conv; netdsl must report an error"
        return
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    assert outcome.checked.output_shape == expected
    assert outcome.checked.total_params == sum(p.numel() for p in conv.parameters())


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
@pytest.mark.parametrize("case", _pool_cases(120), ids=lambda c: "k{k}s{s}p{p}w{size}c{ceil:d}".format(**c))
def test_pool_shape_matches_pytorch(op: str, case: dict[str, int]) -> None:
    ceil = "true" if case["ceil"] else "false"
    text = f"network A {{ input [2, {case['size']}, {case['size']}] {op}({case['k']}, stride={case['s']}, padding={case['p']}, ceil={ceil}) }}"
    outcome = check_text(text)
    cls = torch.nn.MaxPool2d if op == "maxpool" else torch.nn.AvgPool2d
    expected = _torch_shape(cls(case["k"], case["s"], case["p"], ceil_mode=case["ceil"]), (2, case["size"], case["size"]))
    if expected is None or 0 in expected:
        assert outcome.checked is None
        return
    assert outcome.checked is not None, [str(d) for d in outcome.diagnostics]
    assert outcome.checked.output_shape == expected


@pytest.mark.parametrize("size", [1, 3, 7, 8, 13, 31])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4, 5])
def test_same_padding_keeps_size_like_pytorch(size: int, kernel: int) -> None:
    text = f"network A {{ input [3, {size}, {size}] conv(4, {kernel}, padding=same, dilation=2) }}"
    outcome = check_text(text)
    conv = torch.nn.Conv2d(3, 4, kernel, padding="same", dilation=2, device="meta")
    assert outcome.checked is not None
    assert outcome.checked.output_shape == _torch_shape(conv, (3, size, size))


@pytest.mark.parametrize(("size", "out"), [(7, 1), (7, 3), (13, 4), (4, 4), (5, 2)])
def test_adaptive_pool_shape(size: int, out: int) -> None:
    outcome = check_text(f"network A {{ input [3, {size}, {size}] adaptive_avgpool({out}) }}")
    pool = torch.nn.AdaptiveAvgPool2d(out)
    assert outcome.checked is not None and outcome.checked.output_shape == _torch_shape(pool, (3, size, size))


def test_every_spelling_of_global_pooling_gives_the_last_feature_maps_field() -> None:
    """adaptive_avgpool(1), global_avgpool and a window as large as the map all see the whole
    map: one definition, so ResNet-50 written either way has one receptive field (427, the last
    7×7 map's), and compare's column is that map's field."""
    import netdsl
    from netdsl.checker.analyze import pools_whole_map

    from conftest import ROOT

    top = netdsl.load(ROOT / "specs" / "resnet50.net").checked  # global_avgpool
    zoo = netdsl.load(ROOT / "specs" / "zoo" / "resnet50.net").checked  # adaptive_avgpool(1)
    assert top.feature_field == zoo.feature_field == (427, 427)
    assert top.layers[-1].receptive_field == zoo.layers[-1].receptive_field == (427, 427)
    pooled = [n.op for n in zoo.graph.nodes if pools_whole_map(n, zoo.graph) and len(n.shape) == 3]
    assert pooled == ["adaptive_avgpool"]
    # a maxpool as large as its 5×5 map is global pooling too; a 2×2 one is a window
    text = "network N {\n    input x: [3, 21, 21]\n    conv(8, 5, stride=4)\n    maxpool(%d)\n    flatten\n    linear(2)\n}\n"
    whole, part = (netdsl.check_text(text % k).checked for k in (5, 2))
    assert whole.feature_field == whole.layers[1].receptive_field == (5, 5)  # the conv's
    assert whole.layers[2].receptive_field == (21, 21)  # the image: larger than the conv's 5
    assert part.feature_field == part.layers[2].receptive_field == (9, 9)  # 5 + (2 - 1) * 4
