"""`netdsl fmt` on blocks with several tensor inputs: the inputs' list after the parameters'
(kept where the parameters' is empty, which the parser needs), the tensors given at a call,
comments inside either list; the same AST and a fixed point."""

from __future__ import annotations

from test_fmt import ROOT, assert_canonical

WRITTEN = """block Fuse(out)(x,skip) {   # fuse
    conv(out, 3, padding=1) -> add(skip)
}
block Z()( x ) { conv(4, 1) }
block Opt(out)(x, extra=none) { concat(x, extra) }
network N {
    input image: [3, 8, 8]
    a = conv(4, 1)
    b = conv(4, 1)
    f: Fuse(4)(a,  # the main path
      b)
    Z()(a)
    Opt(4)(x=a, extra=b)
}
"""

CANONICAL = """block Fuse(out)(x, skip) {  # fuse
    conv(out, 3, padding=1) -> add(skip)
}

block Z()(x) {
    conv(4, 1)
}

block Opt(out)(x, extra = none) {
    concat(x, extra)
}

network N {
    input image: [3, 8, 8]
    a = conv(4, 1)
    b = conv(4, 1)
    f: Fuse(4)(
        a,  # the main path
        b,
    )
    Z()(a)
    Opt(4)(x=a, extra=b)
}
"""


def test_tensor_inputs_are_laid_out_like_arguments() -> None:
    assert assert_canonical(WRITTEN) == CANONICAL


def test_dla34_spec_is_canonical() -> None:
    text = (ROOT / "tests" / "fixtures" / "lang" / "dla34.net").read_text(encoding="utf-8")
    assert assert_canonical(text) == text
