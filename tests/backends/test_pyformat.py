"""Line breaking for generated code: the layout ruff format gives, checked against ruff itself."""

from __future__ import annotations

import ast
import keyword
import random
import shutil
import string
import subprocess
from pathlib import Path

import pytest

from netdsl.backends.pytorch.pyformat import WIDTH, format_statement
from netdsl.backends.pytorch.pysource import Body


def test_short_statement_stays_on_one_line() -> None:
    assert format_statement("    ", "x = f(a, b)", "[N, 3]") == ["    x = f(a, b)  # [N, 3]"]


def test_contents_on_one_indented_line_when_they_fit() -> None:
    code = "self.downsample = nn.Conv2d(in_shape[0], width * expansion, 1, stride=stride, bias=False)"
    assert format_statement(" " * 12, code) == [
        " " * 12 + "self.downsample = nn.Conv2d(",
        " " * 16 + "in_shape[0], width * expansion, 1, stride=stride, bias=False",
        " " * 12 + ")",
    ]


def test_one_item_per_line_with_trailing_comma_and_strings_kept_whole() -> None:
    code = "f(" + ", ".join(f'"a,({i})"' for i in range(12)) + ")"
    lines = format_statement("", code)
    assert lines[0] == "f(" and lines[-1] == ")"
    assert lines[1:-1] == [f'    "a,({i})",' for i in range(12)]
    assert all(len(line) <= WIDTH for line in lines)


def test_a_single_long_argument_is_split_again() -> None:
    inner = "Block(" + ", ".join(f"argument_{i}" for i in range(12)) + ")"
    lines = format_statement("        ", f"self.layer.append({inner})")
    assert lines[:2] == ["        self.layer.append(", "            Block("]
    assert lines[-2:] == ["            )", "        )"]
    assert all(len(line) <= WIDTH for line in lines)


def test_a_wrapped_one_element_tuple_keeps_its_comma() -> None:
    kernel = "(" + ", ".join(["(1, 0, -1, 0, 1)"] * 5) + ")"
    lines = format_statement("        ", f"set_weight(self.conv_1, (({kernel},), ({kernel},)), frozen=True)")
    assert lines[:4] == ["        set_weight(", "            self.conv_1,", "            (", "                ("]
    assert lines.count("                ),") == 2  # `(kernel,)` broken over lines is still a tuple
    assert compile("\n".join(line.strip() for line in lines), "x", "eval")


def test_a_trailing_comment_follows_the_closing_bracket() -> None:
    code = "branch_with_a_long_name = self.a_convolution_with_a_long_label(branch_with_a_long_name)"
    assert format_statement("        ", code, "[N, 64, 56, 56]") == [
        "        branch_with_a_long_name = self.a_convolution_with_a_long_label(",
        "            branch_with_a_long_name",
        "        )  # [N, 64, 56, 56]",
    ]


def test_operators_break_lowest_precedence_first_inside_parentheses() -> None:
    code = "self.cond1 = stride != 1 or in_shape[0] != out * expansion or in_shape[1] != groups * base_width"
    assert format_statement("        ", code) == [
        "        self.cond1 = (",
        "            stride != 1",
        "            or in_shape[0] != out * expansion",
        "            or in_shape[1] != groups * base_width",
        "        )",
    ]


# ---- the same layout as ruff's, on random statements of the kinds the backends write ----------


def _random_statements(seed: int, count: int) -> list[tuple[str, str, str | None]]:
    rng = random.Random(seed)

    def name(longest: int = 25) -> str:
        while True:
            word = rng.choice(string.ascii_lowercase) + "".join(
                rng.choice(string.ascii_lowercase + "_0123456789") for _ in range(rng.randint(0, longest - 1))
            )
            if not keyword.iskeyword(word):
                return word

    def expr(depth: int = 0) -> ast.expr:
        pick = rng.random()
        if depth > 3 or pick < 0.3:
            return rng.choice(
                [
                    ast.Name(name()),
                    ast.Constant(rng.choice([0, 1, 64, 10 ** rng.randint(1, 12)])),
                    ast.Subscript(ast.Name(name(12) + "_shape"), ast.Constant(rng.randint(0, 2))),
                ]
            )
        if pick < 0.5:
            op = rng.choice([ast.Add(), ast.Sub(), ast.Mult(), ast.FloorDiv(), ast.Mod()])
            return ast.BinOp(expr(depth + 1), op, expr(depth + 1))
        if pick < 0.58:
            return ast.Compare(expr(depth + 1), [rng.choice([ast.Eq(), ast.NotEq(), ast.Lt()])], [expr(depth + 1)])
        if pick < 0.64:
            return ast.BoolOp(rng.choice([ast.And(), ast.Or()]), [expr(depth + 1) for _ in range(rng.randint(2, 3))])
        if pick < 0.72:
            return ast.UnaryOp(rng.choice([ast.Not(), ast.USub()]), expr(depth + 1))
        if pick < 0.8:
            return ast.IfExp(expr(depth + 1), expr(depth + 1), expr(depth + 1))
        if pick < 0.92:
            func = rng.choice(["max", "exact_div", "math.prod"])
            return ast.Call(ast.Name(func), [expr(depth + 1) for _ in range(1 if func == "math.prod" else 2)], [])
        return ast.Tuple([expr(depth + 1) for _ in range(rng.randint(1, 4))])

    def e(depth: int = 0) -> str:
        return ast.unparse(expr(depth))

    def call() -> str:
        args = [f"{name(10)}_shape[0]"] + [e(1) for _ in range(rng.randint(0, 3))]
        args += [f"{name(12)}={e(1)}" for _ in range(rng.randint(0, 3))]
        return f"{rng.choice(['nn.Conv2d', 'Block', name(20)])}({', '.join(args)})"

    def weights(depth: int) -> str:
        if depth == 0:
            return rng.choice(["0", "1", "-1", "0.5"])
        items = [weights(depth - 1) for _ in range(rng.choice([1, 1, 2, 3, 5]))]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"

    makers = [
        lambda: (f"self.{name()} = {call()}", None),
        lambda: (f"set_weight(self.{name()}, {weights(rng.randint(2, 4))}, frozen=True)", None),
        lambda: (f"{name()}_shape = layer_shape(self.{name()}, {name()}_shape)", None),
        lambda: (f"{name()} = ({' + '.join(name(15) + '_shape[0]' for _ in range(rng.randint(2, 5)))}, *s[1:])", None),
        lambda: (f"self.cond{rng.randint(1, 30)} = {e()}", None),
        lambda: ((lambda p: f"{p} = {e()} if {p} is None else {p}")(name()), None),
        lambda: (f"for {name(10)} in range({e()}):", None),
        lambda: (f"self.{name()}.append({call()})", None),
        lambda: (f"{name()} = self.{name()}({name(20)})", "[N, 64, 56, 56]"),
        lambda: (f"{name()} = {' + '.join(name(20) for _ in range(rng.randint(2, 5)))}", "[N, 3]"),
        lambda: (f"{name()} = torch.cat([{', '.join(name(20) for _ in range(rng.randint(2, 5)))}], dim=1)", "[N, 3]"),
        lambda: (f"{name()} = {name(60)}", rng.choice([None, "[N, 64, 7, 7]"])),
        lambda: (f"{name()} = self.{name()}[-1].out_shape", None),
        lambda: (f"if not self.{name(70)}:", None),
        lambda: (f"return {name(80)}", rng.choice([None, "[N, 3]"])),
        lambda: (
            f"def __init__(self, in_shape: tuple[int, ...], {', '.join(f'{name(15)}: int = 3' for _ in range(rng.randint(1, 6)))}) -> None:",
            None,
        ),
    ]
    return [(" " * 4 * rng.randint(1, 8), *rng.choice(makers)()) for _ in range(count)]


def test_layout_matches_ruff_format_on_random_statements(tmp_path: Path) -> None:
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    cases = _random_statements(seed=9, count=400)

    def nest(indent: str, lines: list[str]) -> str:  # each statement in a function, at its indent
        opening = ["def f():"] + ["    " * depth + "if x:" for depth in range(1, len(indent) // 4)]
        closing = [indent + "    pass"] if lines[-1].endswith(":") else []
        return "\n".join(opening + lines + closing) + "\n"

    ours = [nest(indent, format_statement(indent, code, comment)) for indent, code, comment in cases]
    written = [nest(indent, [indent + code + (f"  # {comment}" if comment else "")]) for indent, code, comment in cases]
    target = tmp_path / "statements.py"
    target.write_text("\n\n".join(written))
    subprocess.run([ruff, "format", "--isolated", str(target)], check=True, capture_output=True)
    theirs = target.read_text().split("\n\n\n")
    assert len(theirs) == len(cases)
    differ = [
        (our, their)
        for our, their in zip(ours, theirs, strict=True)
        if [x for x in our.splitlines() if x] != [x for x in their.splitlines() if x]
    ]
    assert differ == []
    assert sum(len(format_statement(indent, code, comment)) > 1 for indent, code, comment in cases) > 150


def test_method_bodies_drop_unread_stores_and_empty_branches() -> None:
    body = Body()
    body.add("a_shape = layer_shape(self.conv_1, shape)", stores="a_shape")  # read only by b_shape's store
    body.add("b_shape = (a_shape[0], *a_shape[1:])", stores="b_shape")  # read by nobody
    body.add("self.out_shape = shape")  # an attribute called out_shape reads no local out_shape
    body.add("out_shape = shape", stores="out_shape")
    outer = body.compound("if", "self.cond1")
    with body.inside(outer.body):
        inner = body.compound("if", "self.cond2")
        with body.inside(inner.body):
            body.add("x = self.relu_1(x)", "[N, 3]")
    empty = body.compound("if", "self.cond3")
    with body.inside(empty.orelse):
        body.add("x = self.tanh_1(x)")
    with body.inside(body.compound("if", "self.cond4").body):
        body.add("unused_shape = shape", stores="unused_shape")
    assert body.write(2) == [
        "        self.out_shape = shape",
        "        if self.cond1 and self.cond2:",  # ruff's SIM102: one `if`, not two nested ones
        "            x = self.relu_1(x)  # [N, 3]",
        "        if not self.cond3:",
        "            x = self.tanh_1(x)",
    ]


def test_conditions_joined_or_negated_keep_their_meaning() -> None:
    body = Body()
    with body.inside(body.compound("if", "a or b").orelse):
        body.add("x = 1")
    with body.inside(body.compound("if", "c or d").body):
        with body.inside(body.compound("if", "e if f else g").body):
            body.add("y = 2")
    with body.inside(body.compound("if", "a != b", negated="a == b").orelse):  # not `not a != b` (SIM202)
        body.add("z = 3")
    assert body.write(0) == [
        "if not (a or b):",
        "    x = 1",
        "if (c or d) and (e if f else g):",
        "    y = 2",
        "if a == b:",
        "    z = 3",
    ]
