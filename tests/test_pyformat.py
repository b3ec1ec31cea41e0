"""The black-style line breaking used for generated code."""

from __future__ import annotations

from netdsl.backends.pyformat import WIDTH, format_statement


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
    code = 'f(' + ", ".join(f'"a,({i})"' for i in range(12)) + ")"
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
