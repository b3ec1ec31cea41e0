"""The PyTorch backend: every shipped network builds and agrees with the checker; the file and
the in-memory module are one code path; heads, frozen kernels, train/eval behaviour; no spec
text can inject code; files are written atomically."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import netdsl
from netdsl.backends.pytorch.emit import state_prefix
from netdsl.backends.pytorch.lowerings import LOWERINGS, PRELUDE, Lowering, py_literal
from netdsl.backends.pytorch.pyexpr import python_expr
from netdsl.checker.ops import OPS
from netdsl.checker.values import EvalError, evaluate
from netdsl.core.diagnostics import Span
from netdsl.language import ast as spec_ast
from netdsl.language.program import load as load_program

from conftest import ROOT, SHIPPED
from test_torch_names import assert_builds, ruff_problems

torch = pytest.importorskip("torch")

NETWORKS = [(path, name) for path in SHIPPED for name in load_program(path).networks()]


def _ids(item: tuple[Path, str]) -> str:
    return f"{item[0].stem}-{item[1]}"


def _import_file(path: Path, name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(scope="module")
def built() -> dict[tuple[Path, str], tuple[netdsl.Spec, object]]:
    torch.manual_seed(0)
    return {item: (spec := netdsl.load(item[0], network=item[1]), spec.to_torch()) for item in NETWORKS}


def test_every_op_is_lowered() -> None:
    assert set(LOWERINGS) == set(OPS)


def test_every_merge_has_its_forward_in_the_lowering_table() -> None:
    merges = {name for name, op in OPS.items() if op.merge}
    assert merges == {"add", "concat", "mul"}
    for name in merges:
        assert LOWERINGS[name].build is None  # no module: the forward expression is the table's
        assert (
            LOWERINGS[name].forward(None, ["a", "b", "c"])
            == {"add": "a + b + c", "concat": "torch.cat([a, b, c], dim=1)", "mul": "a * b * c"}[name]
        )
    assert LOWERINGS["concat"].shape(None, ["a", "b"]) == "(a[0] + b[0], *a[1:])"
    assert LOWERINGS["mul"].shape(None, ["a", "b"]) == "tuple(map(max, a, b))"
    with pytest.raises(ValueError, match="needs its own forward expression"):
        Lowering(None)  # a merge row without a forward cannot be written down


def test_an_op_missing_from_the_lowering_table_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(LOWERINGS, "add")
    with pytest.raises(KeyError, match="add"):
        netdsl.load("network N { input x: [3, 4, 4]  a = conv(3, 1)  add(a) }").torch_source  # noqa: B018


@pytest.mark.parametrize("item", NETWORKS, ids=_ids)
def test_parameters_and_output_shape_match_the_checker(item, built) -> None:  # type: ignore[no-untyped-def]
    spec, module = built[item]
    params = list(module.parameters())
    assert sum(p.numel() for p in params) == spec.checked.total_params
    assert sum(p.numel() for p in params if p.requires_grad) == spec.checked.trainable_params
    module.eval()
    with torch.no_grad():
        out = module(torch.randn(2, *spec.checked.input_shape))
    assert tuple(out.shape) == (2, *spec.checked.output_shape)
    assert module.out_shape == spec.checked.output_shape


@pytest.mark.parametrize("item", NETWORKS, ids=_ids)
def test_state_dict_keys_are_the_spec_labels(item, built) -> None:  # type: ignore[no-untyped-def]
    spec, module = built[item]
    keys = set(module.state_dict())
    for layer in spec.checked.layers:
        if layer.params:
            prefix = state_prefix(layer.name)
            assert any(k.startswith(prefix + ".") for k in keys), (layer.name, sorted(keys)[:5])
    again = netdsl.load(item[0], network=item[1]).to_torch()
    assert list(again.state_dict()) == list(module.state_dict())


@pytest.mark.parametrize("item", NETWORKS, ids=_ids)
def test_written_file_and_memory_module_agree(item, built, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, module = built[item]
    path, network = item
    target = tmp_path / f"{path.stem}_{network}.py"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "netdsl",
            "build",
            str(path),
            "--network",
            network,
            "--target",
            "torch",
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert target.read_text() == spec.torch_source.text  # one code path: the same source
    generated = _import_file(target, f"gen_{path.stem}_{network}")
    from_file = getattr(generated, spec.torch_source.class_name)()
    from_file.load_state_dict(module.state_dict())
    module.eval()
    from_file.eval()
    x = torch.randn(2, *spec.checked.input_shape)
    with torch.no_grad():
        assert torch.equal(from_file(x), module(x))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_source_is_deterministic_and_lint_clean(path: Path, tmp_path: Path) -> None:
    first = netdsl.load(path).torch_source.text
    assert netdsl.load(path).torch_source.text == first
    assert first.startswith(f"# Generated by netdsl {netdsl.__version__} from ")
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    target = tmp_path / "generated.py"
    target.write_text(first)
    check = subprocess.run([ruff, "check", "--isolated", str(target)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", str(target)], capture_output=True, text=True)
    assert fmt.returncode == 0, (
        fmt.stdout
        + subprocess.run([ruff, "format", "--isolated", "--diff", str(target)], capture_output=True, text=True).stdout
    )


def test_source_is_black_stable() -> None:
    """The port lays files out as ruff does; black (which lost on speed, bench/formatter_speed.py)
    leaves them as they are too."""
    black = pytest.importorskip("black")
    for path in SHIPPED:
        text = netdsl.load(path).torch_source.text
        assert black.format_str(text, mode=black.Mode()) == text, path.name


def test_lenet_source_reads_like_a_person_wrote_it() -> None:
    text = netdsl.load(ROOT / "specs/lenet5.net").torch_source.text
    assert "class LeNet5(nn.Module):" in text
    assert "def __init__(self, classes: int = 10) -> None:" in text
    assert "self.C1 = nn.Conv2d(self.input_shape[0], 6, 5)" in text
    assert "        x = self.C1(image)  # [N, 6, 28, 28]\n" in text
    assert "        x = self.out(x)  # [N, 10]\n" in text


def test_each_block_is_one_class_reused_by_every_instance() -> None:
    text = netdsl.load(ROOT / "specs/resnet18.net").torch_source.text
    assert text.count("class Basic(nn.Module):") == 1
    assert "self.layer2.append(Basic(shape, 128, stride=2 if i == 0 else 1))" in text
    module = netdsl.load(ROOT / "specs/resnet18.net").to_torch()
    assert {type(m).__name__ for m in module.layer2} == {"Basic"}
    assert hasattr(module.layer2[0], "downsample") and not hasattr(module.layer2[1], "downsample")


def test_overrides_reach_the_module_and_the_written_defaults() -> None:
    spec = netdsl.load(ROOT / "specs/lenet5.net", classes=26)
    assert "def __init__(self, classes: int = 26) -> None:" in spec.torch_source.text
    assert spec.to_torch()(torch.randn(1, 1, 32, 32)).shape == (1, 26)


def test_load_accepts_spec_text_and_reports_errors() -> None:
    module = netdsl.load("network Tiny { input x: [3, 8, 8] conv(4, 3) -> relu flatten head: linear(2) }").to_torch()
    assert module(torch.randn(5, 3, 8, 8)).shape == (5, 2)
    with pytest.raises(netdsl.SpecError) as info:
        netdsl.load("network Bad { input x: [3, 4, 4] conv(4, 5) }")
    assert info.value.diagnostics[0].message == "kernel 5 is larger than the padded input (4×4)"


def test_fixed_kernels_are_frozen_literal_and_in_the_state_dict() -> None:
    module = netdsl.load(ROOT / "specs/edge_detectors.net").to_torch()
    weight = module.state_dict()["vertical.weight"]
    assert weight.tolist() == [[[[1.0, 0.0, -1.0]] * 3]]
    assert not module.vertical.weight.requires_grad and not module.horizontal.weight.requires_grad
    image = torch.zeros(1, 1, 28, 28)
    image[..., :14] = 1.0  # bright left half: a vertical edge at column 14
    out = module(image)
    assert out[0, 0, 10, 13].item() == 3.0 and out[0, 0, 10, 5].item() == 0.0
    # horizontal detector: only the zero-padded top and bottom rows see a change, and only on the left
    assert (out[0, 1, 0, 5].item(), out[0, 1, 27, 5].item(), out[0, 1, 10, 5].item()) == (-3.0, 3.0, 0.0)
    assert out[0, 1, 1:27].abs().sum().item() == 0.0 and out[0, 1, 0, 20].item() == 0.0


def test_coral_and_ordinal_heads() -> None:
    coral = netdsl.load(ROOT / "specs/coral_cnn.net").to_torch()
    assert coral.head.fc.weight.shape == (1, 512) and coral.head.fc.bias is None
    assert coral.head.bias.shape == (54,)
    orcnn = netdsl.load(ROOT / "specs/coral_cnn.net", network="ORCNN").to_torch().eval()
    assert orcnn(torch.randn(2, 3, 120, 120)).shape == (2, 54, 2)
    # CORAL's logits share one weight vector: they differ only by their biases
    coral.eval()
    with torch.no_grad():
        coral.head.bias.copy_(torch.linspace(1, -1, 54))
        logits = coral(torch.randn(3, 3, 120, 120))
    assert torch.allclose(logits - coral.head.bias, (logits - coral.head.bias)[:, :1].expand(3, 54), atol=1e-5)


def test_batchnorm_statistics_update_in_train_mode_only() -> None:
    module = netdsl.load(ROOT / "specs/resnet18.net").to_torch()
    before = module.stem_1.bn1.running_mean.clone()
    module.train()
    module(torch.randn(2, 3, 64, 64))
    assert not torch.equal(before, module.stem_1.bn1.running_mean)
    module.eval()
    after = module.stem_1.bn1.running_mean.clone()
    module(torch.randn(2, 3, 64, 64))
    assert torch.equal(after, module.stem_1.bn1.running_mean)


def test_dropout_is_off_in_eval_mode() -> None:
    torch.manual_seed(1)
    module = netdsl.load("network D { input x: [32] fc: linear(64) -> dropout(0.5) out: linear(4) }").to_torch()
    x = torch.randn(8, 32)
    module.eval()
    assert torch.equal(module(x), module(x))
    module.train()
    assert not torch.equal(module(x), module(x))


HOSTILE = """
block Lambda(self, shape, in_shape) {
    forward: conv(self, 3, padding=1) -> training: batchnorm
    x = relu
    out: add(x)
}
network nn(lambda = 4, torch = 2) {
    input self: [3, 8, 8]
    class: conv(lambda, 1) -> __init__: relu
    import: Lambda(torch * 2, 0, 1)
    CoralHead: flatten
    to: linear(lambda)
    state_dict: linear(2)
}
"""


def test_hostile_names_cannot_break_or_inject_into_the_module(tmp_path: Path) -> None:
    evil = tmp_path / 'evil"\nimport os; os.system("touch PWNED")\n#.net'
    evil.write_text(HOSTILE)
    spec = netdsl.load(evil)
    text = spec.torch_source.text
    compile(text, "generated", "exec")
    assert text.splitlines()[0].startswith("# Generated by netdsl") and "\\n" in text.splitlines()[0]
    assert not any("import os" in line and "\\n" not in line for line in text.splitlines())
    assert text.count('"""') % 2 == 0 and 'PWNED")' not in text
    module = spec.to_torch()
    assert {"class_", "import_", "to_", "state_dict_", "CoralHead"} <= {n for n, _ in module.named_children()}
    assert {"forward_", "training_"} <= {n for n, _ in module.import_.named_children()}
    assert isinstance(module.training, bool) and callable(module.forward)
    assert module(torch.randn(2, 3, 8, 8)).shape == (2, 2)
    assert sum(p.numel() for p in module.parameters()) == spec.checked.total_params
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


def test_failed_build_leaves_an_existing_file_untouched(tmp_path: Path) -> None:
    target = tmp_path / "model.py"
    target.write_text("# my precious file\n")
    (tmp_path / "bad.net").write_text("network B { input x: [1, 4, 4] conv(2, 9) }\n")
    result = subprocess.run(
        [sys.executable, "-m", "netdsl", "build", "bad.net", "-o", "model.py"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1 and "nothing written" in result.stderr
    assert target.read_text() == "# my precious file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.net", "model.py"]


def test_interrupted_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from netdsl.core import files

    target = tmp_path / "model.py"
    target.write_text("old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken_replace)
    with pytest.raises(OSError):
        files.write_atomic(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]


def test_build_prints_to_stdout_without_output_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "netdsl", "build", "specs/lenet5.net"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    assert result.stdout.startswith('# Generated by netdsl 0.1.0 from "specs/lenet5.net", network LeNet5.\n')
    assert result.stdout == netdsl.load("specs/lenet5.net").torch_source.text


def test_written_file_needs_only_torch(tmp_path: Path) -> None:
    target = tmp_path / "alex.py"
    subprocess.run(
        [sys.executable, "-m", "netdsl", "build", str(ROOT / "specs/alexnet.net"), "-o", str(target)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    code = (
        "import sys, runpy; sys.modules['netdsl'] = None\n"
        f"ns = runpy.run_path({str(target)!r}); m = ns['AlexNet']()\n"
        "print(sum(p.numel() for p in m.parameters()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH="")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "60965224"


# ---- specs that check clean must build: statements, branches, values read only through shapes ----


@pytest.mark.parametrize("bn", [False, True])
def test_if_without_else_as_a_statement(bn: bool, tmp_path: Path) -> None:
    spec = assert_builds(
        "network M(bn = false) { input x: [3, 8, 8]  conv(8, 3)  if bn { batchnorm } }", tmp_path, bn=bn
    )
    text = spec.torch_source.text
    assert (
        "else:" not in text
        and "        if self.cond1:\n            self.batchnorm_1 = nn.BatchNorm2d(shape[0])\n" in text
    )
    assert spec.checked.total_params == 224 + 16 * bn


def test_branches_left_empty_are_not_written(tmp_path: Path) -> None:
    text = assert_builds(
        "network N(c = false) { input x: [3, 8, 8]  conv(3, 1)  if c { } else { relu }  if c { }  "
        "s = if c { conv(3, 1) }  add(s) }",
        tmp_path,
    ).torch_source.text
    assert "        if not self.cond1:\n            self.relu_1 = nn.ReLU()\n        self.cond2 = c\n" in text
    forward = text.split("def forward")[1]
    assert (
        "        if not self.cond1:\n            x_ = self.relu_1(x_)  # [N, 3, 8, 8]\n        if self.cond3:\n"
        in forward
    )
    assert "self.cond2" not in forward  # `if c { }` does nothing in forward
    assert "        if self.cond3:\n            s = self.conv_2(x_)\n        else:\n            s = x_\n" in forward


def test_values_read_only_through_their_shape_get_no_forward_code(tmp_path: Path) -> None:
    spec = assert_builds(
        "network N(c = true) { input x: [3, 8, 8]  a = conv(8, 1) -> relu  "
        "b = if c { conv(4, 1) } else { relu }  unused = conv(2, 1)  conv(a.channels, 1) }",
        tmp_path,
    )
    forward = spec.torch_source.text.split("def forward")[-1]
    assert "self.conv_1" not in forward and "self.conv_2" not in forward and "self.conv_3" not in forward
    assert "unused_shape" not in spec.torch_source.text  # and no shape store nobody reads
    assert spec.checked.total_params == 32 + 16 + 8 + 32  # their layers exist all the same


def test_block_with_a_required_parameter_after_a_default_takes_keywords(tmp_path: Path) -> None:
    spec = assert_builds(
        "block B(a = 1, b) { conv(b + a, 1) }  network N { input x: [3, 8, 8]  B(2, 4)  B(b = 5) }", tmp_path
    )
    text = spec.torch_source.text
    assert "def __init__(self, in_shape: tuple[int, ...], *, a: int = 1, b: int) -> None:" in text
    assert "self.b_1 = B(self.input_shape, a=2, b=4)" in text and "self.b_2 = B(shape, b=5)" in text


def test_a_word_as_a_parameter_default_is_a_string(tmp_path: Path) -> None:
    text = assert_builds(
        "block B(p = same, k = [3, 3]) { conv(3, k, padding=p) }  "
        "network N { input x: [3, 8, 8]  B  B(valid, [1, 1]) }",
        tmp_path,
    ).torch_source.text
    assert 'self, in_shape: tuple[int, ...], p: str = "same", k: tuple = (3, 3)\n' in text


def test_repeat_bodies_that_read_values_of_the_enclosing_scope(tmp_path: Path) -> None:
    assert_builds(
        "network N { input x: [3, 8, 8]  a = conv(8, 1)  repeat 2 as i { conv(a.channels + i, 1) "
        "-> conv(8, 1) -> add(a) } }",
        tmp_path,
    )
    assert_builds(
        "block B { repeat 2 { conv(in.channels, 1) -> add(in) } }  network N { input x: [3, 8, 8]  B }", tmp_path
    )


def test_nesting_of_blocks_repeats_and_ifs(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        block Inner(k) { repeat k as i { if i % 2 == 0 { conv(4, 3, padding=1) } else { relu } } }
        block Outer(n = 2) { repeat n as i { if i > 0 { Inner(i + 1) } else { Inner(1) -> relu } } }
        network N(c = true) { input x: [3, 8, 8]  Outer  Outer(3)  if c { if not c { relu } else { conv(3, 1) } } }
    """,
        tmp_path,
    )
    assert spec.checked.total_params == sum(p.numel() for p in spec.to_torch().parameters())


def test_a_value_keeps_its_shape_when_the_flow_changes_later(tmp_path: Path) -> None:
    spec = assert_builds(
        "network N { input x: [3, 8, 8]  conv(3, 1)  skip = relu -> dropout(0.1)  conv(8, 1)  "
        "conv(skip.channels, 1) -> concat(skip) }",
        tmp_path,
    )
    assert spec.checked.output_shape == (6, 8, 8)  # skip has 3 channels, though the flow has 8 by then
    assert "skip_shape = shape\n" in spec.torch_source.text


def test_spellings_that_ruff_flags_are_rewritten_to_the_same_values(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        network N(a = 2, b = 3, c = true) {
            input x: [3, 8, 8]
            if not a == b and not not c and (c or not c) and 5 != 4 and a == a { relu }
            conv(a if a > b else b, 1, bias = true if c else false)
            conv(4, 1, bias = (false if c else true) or (c and 1 < a and a < 3))
            conv(4, 1, bias = 1 < a and a < 3)
            conv(3, 1, frozen = not a != b)
            if c { if a < b { tanh } }
        }""",
        tmp_path,
        a=1,
    )
    text = spec.torch_source.text
    assert "self.cond1 = a != b and bool(c)\n" in text
    assert "nn.Conv2d(shape[0], max(a, b), 1, bias=bool(c))" in text
    assert "bias=not c or c and 1 < a and a < 3" in text and "bias=1 < a < 3" in text
    assert "self.conv_4.requires_grad_(a != b)" in text
    assert "        if self.cond2 and self.cond3:\n" in text  # one if, not two nested ones (SIM102)


def test_lists_with_index_len_and_range(tmp_path: Path) -> None:
    text = assert_builds(
        """
        block B(widths = [4, 8], k = 1) { repeat len(widths) as i { conv(widths[i], k) } }
        network N(ks = [3, 5]) {
            input x: [3, 16, 16]
            repeat len(ks) as i { conv(8, ks[i], padding = ks[i] // 2) }
            conv(4, range(1, 3)[1] + 1)
            B  B([2, 3, 4], 3)
        }""",
        tmp_path,
    ).torch_source.text
    assert (
        "        for i in range(len(ks)):\n" in text and "nn.Conv2d(in_shape[0], 8, ks[i], padding=ks[i] // 2)" in text
    )
    assert "nn.Conv2d(shape[0], 4, tuple(range(1, 3))[1] + 1)" in text  # a spec's range is a list


# ---- generated files are ruff-clean as written ----------------------------------------------------


def test_repeat_calling_a_block_with_a_long_argument_list_is_formatted(tmp_path: Path) -> None:
    text = assert_builds(
        """
        block Block(out, stride = 1, groups = 1, base_width = 64) {
            conv(out * base_width // 64, 3, stride = stride, padding = 1, groups = groups)
        }
        network N { input x: [3, 16, 16]
            stage: repeat 2 as i { Block(64, stride = 2 if i == 0 else 1, groups = 1, base_width = 4) }
        }
    """,
        tmp_path,
    ).torch_source.text
    assert (
        "            self.stage.append(\n"
        "                Block(shape, 64, stride=2 if i == 0 else 1, groups=1, base_width=4)\n"
        "            )\n"
    ) in text


def test_a_concat_of_long_names_is_formatted(tmp_path: Path) -> None:
    names = [f"a_rather_long_branch_name_{word}" for word in ("one", "two", "three", "four")]
    binds = "  ".join(f"{name} = conv({n + 2}, 1)" for n, name in enumerate(names))
    text = assert_builds(
        f"network N {{ input x: [3, 8, 8]  {binds}  concat({', '.join(names)}) }}", tmp_path
    ).torch_source.text
    assert "        shape = (\n            a_rather_long_branch_name_one_shape[0]\n" in text
    assert "        x_ = torch.cat(\n            [\n                a_rather_long_branch_name_one,\n" in text


def test_a_scale_written_with_an_integer_is_a_float_parameter(tmp_path: Path) -> None:
    spec = assert_builds("network N { input x: [5, 7, 8]  scale(init = 2) -> flatten -> linear(3) -> scale }", tmp_path)
    module = spec.to_torch()
    assert module.scale_1.dtype == torch.float32 and module.scale_1.flatten().tolist() == [2.0] * 5
    assert module.scale_2.shape == (3,)


def test_every_prelude_helper_is_ruff_clean() -> None:
    source = "import torch\nfrom torch import nn\n\n\n" + "\n\n\n".join(PRELUDE.values()) + "\n"
    assert ruff_problems(source) == ""


def test_wrapped_literal_weights_keep_their_one_element_tuples(tmp_path: Path) -> None:
    kernel = [[1, 0, -1, 0, 1]] * 5
    spec = assert_builds(f"network N {{ input x: [1, 8, 8]  conv(2, 5, weight=[[{kernel}], [{kernel}]]) }}", tmp_path)
    assert (
        "                    ),\n                ),\n" in spec.torch_source.text
    )  # (kernel,): the comma stays when wrapped
    weight = spec.to_torch().conv_1.weight
    assert weight.shape == (2, 1, 5, 5) and weight[1, 0].tolist() == kernel


def test_non_finite_floats_are_written_as_float_calls() -> None:
    assert [py_literal(v) for v in (float("inf"), -float("inf"), float("nan"), 1e-05)] == [
        'float("inf")',
        'float("-inf")',
        'float("nan")',
        "1e-05",
    ]
    assert eval(py_literal(float("-inf")), {}) == -float("inf")  # noqa: S307 - our own literal
    assert py_literal('say "hi"') == "'say \"hi\"'" and py_literal("it's") == '"it\'s"'


def _random_expr(rng: random.Random, kind: str, depth: int = 0) -> spec_ast.Expr:
    """A well-typed spec expression over parameters a, b (int) and c, d (bool)."""
    at = Span("t.net", 1, 1, 1, 2)
    if depth > 3 or rng.random() < 0.25:
        if kind == "int":
            return rng.choice([spec_ast.Name(rng.choice("ab"), at), spec_ast.Literal(rng.randint(-3, 5), at)])
        return rng.choice([spec_ast.Name(rng.choice("cd"), at), spec_ast.Literal(rng.random() < 0.5, at)])
    pick = rng.random()
    if kind == "int" and pick < 0.08:  # `x if x > y else y`: what ruff wants written as max(x, y)
        x, y = _random_expr(rng, "int", depth + 1), _random_expr(rng, "int", depth + 1)
        condition = spec_ast.BinOp(rng.choice(["<", "<=", ">", ">="]), x, y, at)
        return spec_ast.Ternary(condition, *((x, y) if rng.random() < 0.5 else (y, x)), at)
    if pick < 0.2:
        then, orelse = _random_expr(rng, kind, depth + 1), _random_expr(rng, kind, depth + 1)
        if rng.random() < 0.3:  # the shapes ruff rewrites: same arms, min/max, true/false
            then = orelse if rng.random() < 0.5 else then
        return spec_ast.Ternary(_random_expr(rng, "bool", depth + 1), then, orelse, at)
    if kind == "int":
        if pick < 0.3:
            return spec_ast.UnaryOp("-", _random_expr(rng, "int", depth + 1), at)
        if pick < 0.4:
            args = [spec_ast.Arg(None, _random_expr(rng, "int", depth + 1), at) for _ in range(2)]
            return spec_ast.FuncCall(rng.choice(["max", "min"]), tuple(args), at)
        op = rng.choice(["+", "-", "*", "//", "%"])
        return spec_ast.BinOp(op, _random_expr(rng, "int", depth + 1), _random_expr(rng, "int", depth + 1), at)
    if pick < 0.35:
        return spec_ast.UnaryOp("not", _random_expr(rng, "bool", depth + 1), at)
    if pick < 0.7:
        left = _random_expr(rng, "int", depth + 1)
        right = left if rng.random() < 0.2 else _random_expr(rng, "int", depth + 1)
        return spec_ast.BinOp(rng.choice(["==", "!=", "<", "<=", ">", ">="]), left, right, at)
    left, right = _random_expr(rng, "bool", depth + 1), _random_expr(rng, "bool", depth + 1)
    if rng.random() < 0.2:
        right = spec_ast.UnaryOp("not", left, at)
    return spec_ast.BinOp(rng.choice(["and", "or"]), left, right, at)


def test_spec_expressions_written_as_python_keep_their_values() -> None:
    rng = random.Random(4)
    names = {"exact_div": None}
    exec(PRELUDE["exact_div"], names)  # noqa: S102 - the helper the generated files carry
    compared = 0
    for _ in range(3000):
        expr = _random_expr(rng, rng.choice(["int", "bool"]))
        env = {"a": rng.randint(-2, 4), "b": rng.randint(-2, 4), "c": rng.random() < 0.5, "d": rng.random() < 0.5}
        try:
            expected = evaluate(expr, env)
        except (EvalError, ZeroDivisionError):
            continue
        source = python_expr(expr, {n: n for n in env}, lambda name: name)
        got = eval(source, {**names, **env})  # noqa: S307 - generated from our own expression
        assert (type(got), got) == (type(expected), expected), source
        compared += 1
    assert compared > 2000


# ---- lets, for loops and seqs -----------------------------------------------------------------


def _parameter_names_are_the_ir_names(spec: netdsl.Spec, module: torch.nn.Module) -> None:
    names = {name for name, _ in module.named_parameters()}
    prefixes = {state_prefix(layer.name) for layer in spec.checked.layers if layer.params}
    assert {name.rsplit(".", 1)[0] if name.rsplit(".", 1)[0] in prefixes else name for name in names} == prefixes


@pytest.mark.parametrize("deep", [True, False])
def test_a_seq_is_an_nn_sequential_whose_positions_follow_the_branch_taken(deep: bool, tmp_path: Path) -> None:
    spec = assert_builds(
        """
        network N(deep = true, widths = [4, 8]) {
            input x: [3, 8, 8]
            features: seq {
                conv(4, 3, padding=1) -> relu
                if deep { conv(4, 3, padding=1) -> batchnorm }
                for w in widths { conv(w, 1) -> relu6 }
                repeat 2 as i { "extra{i}": conv(8, 1) }
            }
            flatten
            head: seq { linear(16) -> batchnorm -> relu -> linear(3) }
        }""",
        tmp_path,
        deep=deep,
    )
    module = spec.to_torch()
    _parameter_names_are_the_ir_names(spec, module)
    assert isinstance(module.features, torch.nn.Sequential) and isinstance(module.head[1], torch.nn.BatchNorm1d)
    children = [name for name, _ in module.features.named_children()]
    assert children == [*map(str, range(8 if deep else 6)), "extra0", "extra1"]
    text = spec.torch_source.text
    assert "        if deep:\n            self.features.append(nn.Conv2d(shape[0], 4, 3, padding=1))\n" in text
    assert (
        "        for w in widths:\n" in text
        and 'self.features.add_module(f"extra{i}", nn.Conv2d(shape[0], 8, 1))' in text
    )
    assert "        x_ = self.features(x)\n" in text  # the seq runs its layers


def test_a_seq_that_holds_a_layer_scale_is_a_chain(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        seq block S { conv(4, 1) -> scale(init = 0.5) }
        network N { input x: [3, 8, 8]  f: seq { conv(4, 1) -> scale(init = 2) -> relu  "named": conv(4, 1) -> scale }  S }
    """,
        tmp_path,
    )
    module = spec.to_torch()
    _parameter_names_are_the_ir_names(spec, module)
    assert "class S(Chain):" in spec.torch_source.text and type(module.f).__name__ == "Chain"
    assert module.f.order == ["0", "1", "2", "named", "4"] and module.f[1].flatten().tolist() == [2.0] * 4
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():  # the parameter multiplies in its place, between the conv and the relu
        expected = module.f[4] * module.f.named(torch.relu(module.f[0](x) * module.f[1]))
        assert torch.allclose(module.f(x), expected)


def test_a_seq_block_is_an_nn_sequential(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        seq block ConvBN(out) { conv(out, 3, padding=1, bias=false) -> batchnorm -> relu }
        network N { input x: [3, 8, 8]  ConvBN(8)  s: seq { ConvBN(4) -> "1": ConvBN(2) } }""",
        tmp_path,
    )
    module = spec.to_torch()
    _parameter_names_are_the_ir_names(spec, module)
    assert (
        "class ConvBN(nn.Sequential):" in spec.torch_source.text
        and "def forward" not in spec.torch_source.text.split("class ConvBN")[1].split("class ")[0]
    )
    assert sorted(module.state_dict())[:3] == [
        "conv_bn_1.0.weight",
        "conv_bn_1.1.bias",
        "conv_bn_1.1.num_batches_tracked",
    ]


def test_a_for_loop_over_a_known_list_is_written_out_in_place(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        network N(c = true) {
            input x: [3, 8, 8]
            let widths = [4, 8]
            for i in range(len(widths)) {
                "stage{i + 1}": conv(widths[i], 3, padding=1, stride = 2 if i > 0 else 1)
                if i == 0 { relu } else { tanh }
                conv(widths[i], 1)
            }
            conv(2, 1)
        }""",
        tmp_path,
    )
    text = spec.torch_source.text
    assert "self.stage1 = nn.Conv2d(self.input_shape[0], widths[0], 3, padding=1)" in text
    assert "self.stage2 = nn.Conv2d(shape[0], widths[1], 3, stride=2, padding=1)" in text
    # the branch not written spends its names as elaboration does: relu_1, then tanh_2 (tanh_1 spent)
    assert "self.relu_1 = nn.ReLU()" in text and "self.tanh_2 = nn.Tanh()" in text
    assert "self.conv_3 = nn.Conv2d(shape[0], 2, 1)" in text
    _parameter_names_are_the_ir_names(spec, spec.to_torch())


def test_a_for_loop_over_a_parameter_registers_its_named_layers(tmp_path: Path) -> None:
    spec = assert_builds(
        """
        block Dense(layers, growth) { for i in range(layers) { "denselayer{i + 1}": conv(growth, 1) -> "act{i}": relu } }
        network N { input x: [3, 8, 8]  Dense(3, 4)  block2: Dense(2, 5) }""",
        tmp_path,
    )
    module = spec.to_torch()
    _parameter_names_are_the_ir_names(spec, module)
    assert [name for name, _ in module.dense_1.named_children()] == [
        "denselayer1",
        "act0",
        "denselayer2",
        "act1",
        "denselayer3",
        "act2",
    ]
    assert [name for name, _ in module.block2.named_children()] == ["denselayer1", "act0", "denselayer2", "act1"]
    text = spec.torch_source.text
    assert 'name = f"denselayer{i + 1}"' in text and "self.add_module(name, nn.Conv2d(shape[0], growth, 1))" in text
    assert "for layer in self.layers1:\n            x = self.get_submodule(layer)(x)" in text


def test_a_class_whose_layer_names_follow_a_parameter_is_written_for_its_values(tmp_path: Path) -> None:
    text = """
        block B(n) { for i in range(n) { conv(4, 1) -> relu } }
        network N(k = 2) { input x: [3, 8, 8]  for i in range(k) { conv(4, 1) }  B(k)  B(3)  conv(2, 1) }"""
    for k in (2, 3):  # conv_1 .. conv_k, then conv_{k+1}: no one class names them for every k
        spec = assert_builds(text, tmp_path, k=k)
        _parameter_names_are_the_ir_names(spec, spec.to_torch())
    source = spec.torch_source.text
    assert source.count("class B") == 1 and "if n != 3:" in source  # B(k) and B(3) are one class when k is 3
    assert '"N is written for k=3, which its layers\' names follow: build the spec again"' in source
    module = _execute_source(source)
    with pytest.raises(ValueError, match="N is written for k=3"):
        module["N"](k=2)


def test_a_repeat_whose_iterations_name_layers_after_the_index_gets_a_class_each(tmp_path: Path) -> None:
    spec = assert_builds(
        "network N(k = 3) { input x: [3, 8, 8]  r: repeat k as m { conv(3, 1)  for j in range(m) { relu } } }", tmp_path
    )
    module = spec.to_torch()
    _parameter_names_are_the_ir_names(spec, module)
    assert [[name for name, _ in iteration.named_children()] for iteration in module.r] == [
        ["conv_1"],
        ["conv_1", "relu_1"],
        ["conv_1", "relu_1", "relu_2"],
    ]
    assert '"""iteration 2 of `r` in N, whose layers are named after its index."""' in spec.torch_source.text


def _execute_source(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(compile(source, "generated", "exec"), namespace)  # noqa: S102 - generated by the test above
    return namespace


ZOO = sorted((ROOT / "specs/zoo").glob("*.net"))


@pytest.fixture(scope="module")
def zoo_sources() -> dict[str, str]:
    return {path.stem: netdsl.load(path).torch_source.text for path in ZOO}


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.stem)
def test_every_zoo_network_builds_with_the_checkers_figures_and_names(path: Path) -> None:
    spec = netdsl.load(path)
    with torch.device("meta"):  # nothing is allocated: the figures are the module's own
        module = spec.to_torch()
        out = module(torch.empty(2, *spec.checked.input_shape))
    assert sum(p.numel() for p in module.parameters()) == spec.checked.total_params
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == spec.checked.trainable_params
    assert tuple(out.shape) == (2, *spec.checked.output_shape)
    _parameter_names_are_the_ir_names(spec, module)


def test_every_zoo_file_is_ruff_clean(zoo_sources: dict[str, str], tmp_path: Path) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    for name, text in zoo_sources.items():
        (tmp_path / f"{name}.py").write_text(text)
    check = subprocess.run([ruff, "check", "--isolated", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([ruff, "format", "--isolated", "--check", str(tmp_path)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout
