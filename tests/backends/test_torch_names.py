"""Names in generated PyTorch code: one Namespace hands out every one of them, and no spec name
(parameter, repeat index, value, input, label, block) can shadow what the generated code uses."""

from __future__ import annotations

import builtins
import keyword
import random
import shutil
import subprocess
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.pytorch.names import FILE_NAMES, MODULE_ATTRIBUTES, attribute_name, param_name, state_prefix
from netdsl.backends.pytorch.pysource import Namespace

torch = pytest.importorskip("torch")


def ruff_problems(source: str) -> str:
    """What `ruff check` and `ruff format --check` say about generated source ('' when clean)."""
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    found = []
    for command in (["check"], ["format", "--diff"]):
        run = subprocess.run(
            [ruff, *command, "--isolated", "--stdin-filename", "generated.py", "-"],
            input=source,
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            found.append(run.stdout + run.stderr)
    return "\n".join(found)


def assert_builds(text: str, tmp_path: Path, **overrides: object) -> netdsl.Spec:
    """Spec text builds, runs forward on a random batch, agrees with the checker on parameters
    (all and trainable) and output shape, and its source is ruff-clean."""
    path = tmp_path / "spec.net"
    path.write_text(text)
    spec = netdsl.load(path, **overrides)
    module = spec.to_torch().eval()
    params = list(module.parameters())
    assert sum(p.numel() for p in params) == spec.checked.total_params
    assert sum(p.numel() for p in params if p.requires_grad) == spec.checked.trainable_params
    with torch.no_grad():
        out = module(torch.randn(2, *spec.checked.input_shape))
    assert tuple(out.shape) == (2, *spec.checked.output_shape)
    assert ruff_problems(spec.torch_source.text) == ""
    return spec


SHADOWING = {
    "parameter max used as max's argument": "network N(max = 3) { input x: [3, 8, 8]  conv(max(max, 4), 3) }",
    "parameters min and abs": "network N(min = 1, abs = 2) { input x: [3, 8, 8]  conv(max(min, abs, 3), 3) }",
    "parameter super": "network N(super = 3) { input x: [3, 8, 8]  conv(super, 3) }",
    "parameter range": "network N(range = 2) { input x: [3, 8, 8]  repeat range { conv(range, 3, padding=1) } }",
    "parameter self": "network N(self = 2) { input x: [3, 8, 8]  conv(self, 1) }",
    "parameters torch and nn": "network N(torch = 2, nn = 1) { input x: [3, 8, 8]  conv(torch + nn, 1) -> flatten }",
    "parameter in_shape of a block": (
        "block B(in_shape = 3, shape = 2, x = 1) { conv(in_shape + shape + x, 1) }\n"
        "network N { input x: [3, 8, 8]  B  B(1, 2, 3) }"
    ),
    "index range": "network N { input x: [3, 8, 8]  repeat 2 as range { conv(3 + range, 3, padding=1) } }",
    "index self": "network N { input x: [3, 8, 8]  repeat 2 as self { conv(3 + self, 3, padding=1) } }",
    "index shape": "network N { input x: [3, 8, 8]  repeat 2 as shape { conv(3 + shape, 3, padding=1) } }",
    "index nn": "network N { input x: [3, 8, 8]  repeat 2 as nn { conv(3 + nn, 3, padding=1) } }",
    "index torch": "network N { input x: [3, 8, 8]  repeat 2 as torch { conv(3 + torch, 3, padding=1) } }",
    "index layer_shape": "network N { input x: [3, 8, 8]  repeat 2 as layer_shape { conv(3 + layer_shape, 1) } }",
    "nested indices range and super": (
        "network N { input x: [3, 8, 8]  repeat 2 as range { repeat 2 as super { conv(3 + range + super, 1) } } }"
    ),
    "input named torch before concat": "network N { input torch: [3, 8, 8]  a = conv(3, 1)  concat(a) }",
    "value named torch in a concat": (
        "network N { input x: [3, 8, 8]  torch = conv(3, 1)  b = conv(2, 1)  concat(torch, b) }"
    ),
    "values named like the emitter's locals": (
        "network N { input in_shape: [3, 8, 8]  shape = conv(3, 1)  layer = conv(3, 1)  x = add(shape, layer)\n"
        "self = conv(3, 1)  concat(x, self) }"
    ),
    "input named input": "network N { input input: [3, 8, 8]  conv(3, 1) }",
    "blocks named like builtins and helpers": (
        "block Exception { conv(3, 1) }  block Layer_shape { relu }  block CoralHead { relu }  block Torch { relu }\n"
        "network nn { input x: [3, 8, 8]  Exception  Layer_shape  CoralHead  Torch }"
    ),
    "parameter named like a block": (
        "block Inner { relu }  block Outer(Inner = 3) { conv(Inner, 1) -> Inner }\n"
        "network N { input x: [3, 8, 8]  Outer }"
    ),
    "dunder and underscore names": (
        "block B(__x = 2, _ = 3) { conv(__x + _, 1) }\nnetwork N(__y = 1) { input x: [3, 8, 8]  B(__x = __y + 1) }"
    ),
}


@pytest.mark.parametrize("text", SHADOWING.values(), ids=SHADOWING.keys())
def test_no_spec_name_shadows_what_generated_code_uses(text: str, tmp_path: Path) -> None:
    assert_builds(text, tmp_path)


def test_parameters_named_like_builtins_are_overridable_by_keyword(tmp_path: Path) -> None:
    spec = assert_builds(
        "network N(max = 3, range = 2) { input x: [3, 8, 8]  conv(max(max, 4), 3) -> repeat range { relu } }",
        tmp_path,
        max=7,
        range=1,
    )
    assert "def __init__(self, max_: int = 7, range_: int = 1) -> None:" in spec.torch_source.text
    assert spec.to_torch().conv_1.out_channels == 7


LABELS = (
    "out_shape input_shape forward _modules to to_ training __init__ __x __dict _ cond1 state_dict parameters self x"
).split()


def test_labels_named_like_module_members_keep_state_keys_predictable(tmp_path: Path) -> None:
    chain = " -> ".join(f"{label}: conv(2, 1)" for label in LABELS)
    spec = assert_builds(f"network N(c = true) {{ input image: [3, 8, 8]  {chain}  if c {{ relu }} }}", tmp_path)
    module = spec.to_torch()
    keys = set(module.state_dict())
    assert {f"{state_prefix(label)}.weight" for label in LABELS} <= keys
    assert len({state_prefix(label) for label in LABELS}) == len(LABELS)
    assert state_prefix("to") == "to_" and state_prefix("to_") == "to__"  # distinct labels stay distinct
    assert state_prefix("cond1") == "cond1"  # the label keeps its name; the flag yields: cond1_
    assert "self.cond1_ = c" in spec.torch_source.text
    assert isinstance(module.training, bool) and callable(module.forward) and isinstance(module._modules, dict)


def test_ordinary_labels_are_the_state_dict_keys() -> None:
    for label in ("conv1", "layer1", "fc", "C1", "downsample_bn", "features", "head"):
        assert attribute_name(label) == label and param_name(label) == label
    assert state_prefix("layer1.0.downsample.0") == "layer1.0.downsample.0"


def test_module_attribute_list_covers_every_member_of_an_nn_module() -> None:
    assert set(dir(torch.nn.Module())) <= MODULE_ATTRIBUTES


# ---- the Namespace's invariants ----------------------------------------------------------------


def _wishes(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = [
        *keyword.kwlist,
        *keyword.softkwlist,
        *dir(builtins),
        *FILE_NAMES,
        "self",
        "x",
        "shape",
        "in_shape",
        "_",
        "__",
        "__x",
        "__init__",
        "a_",
        "a__",
        "to",
        "to_",
        "requires_grad",
        "requires_grad_",
    ]
    words = [rng.choice(pool) + rng.choice(["", "", "_", "__", "1"]) for _ in range(count)]
    return words + ["".join(rng.choice("ab_") for _ in range(rng.randint(1, 4))) for _ in range(count)]


def _valid(name: str, reserved: frozenset[str]) -> bool:
    mangled = name.startswith("__") and not name.endswith("__")
    return (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not keyword.issoftkeyword(name)
        and name not in reserved
        and not mangled
    )


def test_escape_is_valid_readable_and_injective() -> None:
    names = Namespace({*dir(builtins), *FILE_NAMES, "self"})
    wishes = sorted(set(_wishes(400, seed=1)))
    escaped = [names.escape(w) for w in wishes]
    assert all(_valid(n, names.reserved) for n in escaped)
    assert all(n.startswith(w) and set(n[len(w) :]) <= {"_"} for w, n in zip(wishes, escaped, strict=True))
    assert len(set(escaped)) == len(wishes)  # distinct wishes, distinct names
    assert [names.escape(w) for w in ("max", "range", "torch", "self", "x", "in", "__x")] == [
        "max_",
        "range_",
        "torch_",
        "self_",
        "x",
        "in_",
        "__x__",
    ]


def test_fresh_names_are_unique_across_a_scope_its_parent_and_its_children() -> None:
    file = Namespace({*dir(builtins), *FILE_NAMES})
    first, second = file.child(), file.child()
    taken_first = [first.fresh(w) for w in _wishes(200, seed=2)]
    assert len(set(taken_first)) == len(taken_first)
    assert all(_valid(n, file.reserved) for n in taken_first)
    classes = [file.fresh(w) for w in ("x", "Block", "Block", "max")]
    assert classes[1:3] == ["Block", "Block_"] and classes[3].startswith("max_")
    assert not set(classes) & set(taken_first)  # a class never shadows a local
    assert second.fresh("Block") == "Block__"  # no local shadows a class
    assert first.fresh("layer") == "layer" and second.fresh("layer") == "layer"  # siblings may share names
