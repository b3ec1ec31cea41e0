"""Python source as backends write it: one namespace for generated names, and method bodies kept
as statement trees until they are written (so that empty branches and unread stores can go).

Nothing here knows about torch; `netdsl.backends.pytorch.emit` says which names are reserved.
"""

from __future__ import annotations

import ast
import functools
import keyword
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from netdsl.backends.pytorch.pyformat import format_statement

KEYWORDS = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)


class Namespace:
    """The names of one Python scope of a generated file, as torch.fx's `_Namespace` hands them out.

    Every name it gives is a valid identifier, no keyword or soft keyword, none of the `reserved`
    names (a file reserves every builtin, its imports and its helpers), never mangled inside a
    class (`__x`), and readable: the wish, or the wish with underscores appended. `escape` is a
    pure function of the wish and injective, for names that others must predict (constructor
    arguments, attributes that become state_dict keys); `fresh` also keeps names unique within
    a scope, its enclosing scope and every scope inside it.
    """

    def __init__(self, reserved: Iterable[str] = (), parent: Namespace | None = None):
        self.reserved = KEYWORDS | frozenset(reserved) | (parent.reserved if parent else frozenset())
        self.parent = parent
        self.taken: set[str] = set()
        self.inner: set[str] = set()  # names taken by scopes inside this one (kept by the outermost)
        self.suffix: dict[str, int] = {}  # base → underscores an escaped name appends
        for name in self.reserved:
            base = name.rstrip("_")
            self.suffix[base] = max(self.suffix.get(base, 0), len(name) - len(base) + 1)

    def child(self) -> Namespace:
        """A scope inside this one (a method of a class): its names may repeat a sibling's."""
        return Namespace((), self)

    def escape(self, wish: str) -> str:
        """`wish`, or, when its base (the wish without trailing underscores) is reserved, the wish
        with more underscores than any reserved spelling of that base has. Distinct wishes stay
        distinct; a wish starting with `__` ends with at least two, so Python never mangles it."""
        base = wish.rstrip("_")
        extra = self.suffix.get(base, 0)
        if base.startswith("__") or not base:
            extra = max(extra, 2)
        return wish + "_" * extra

    def fresh(self, wish: str) -> str:
        """A new name for `wish`: escaped, then with underscores appended until no one has it."""
        name = self.escape(wish)
        while not self.free(name):
            name += "_"
        return self.claim(name)

    def claim(self, name: str) -> str:
        """Record a name decided elsewhere (by `escape`) as taken in this scope."""
        self.taken.add(name)
        self.outermost().inner.add(name)
        return name

    def free(self, name: str) -> bool:
        scope: Namespace | None = self
        while scope is not None:
            if name in scope.taken:
                return False
            scope = scope.parent
        return self.parent is not None or name not in self.inner

    def outermost(self) -> Namespace:
        return self if self.parent is None else self.parent.outermost()


# ---- method bodies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    code: str
    comment: str | None = None
    stores: str | None = None  # a local this line only assigns, from a pure expression: dropped if unread


@dataclass
class Compound:
    """`if header:` (or `for header:`) with its body, and an `else:` body for an `if`."""

    keyword: str
    header: str
    body: list[Line | Compound] = field(default_factory=list)
    orelse: list[Line | Compound] = field(default_factory=list)
    negated: str | None = None  # the condition's negation, as the writer spells it (`a == b` for `a != b`)


class Body:
    """A method body under construction: statements go to the innermost open compound statement."""

    def __init__(self) -> None:
        self.items: list[Line | Compound] = []
        self.open: list[list[Line | Compound]] = [self.items]

    def add(self, code: str, comment: str | None = None, stores: str | None = None) -> None:
        self.open[-1].append(Line(code, comment, stores))

    @contextmanager
    def inside(self, suite: list[Line | Compound]) -> Iterator[None]:
        self.open.append(suite)
        try:
            yield
        finally:
            self.open.pop()

    def compound(self, keyword_: str, header: str, negated: str | None = None) -> Compound:
        node = Compound(keyword_, header, negated=negated)
        self.open[-1].append(node)
        return node

    def write(self, depth: int) -> list[str]:
        """The body's lines at `depth`, without stores nobody reads and without empty branches."""
        items = self.items
        while True:  # dropping a store may leave another one unread
            reads = _reads(items)
            kept = _drop_stores(items, reads)
            if _count(kept) == _count(items):
                return _write(_tidy(kept), depth)
            items = kept


# a local, not an attribute (`self.out_shape` reads no `out_shape`) nor a keyword argument (`stride=2`)
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?!\w|\s*=(?!=))")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


@functools.lru_cache(maxsize=4096)
def _names(code: str) -> frozenset[str]:
    """The locals `code` reads, as Python parses it: a comprehension's own variables are no reads
    (`len(tuple(k for k in range(3)))` reads no local `k`). Code that does not parse alone (an
    `if` or `for` header) gives every word that can be a name, a superset."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return frozenset(_NAME.findall(_STRING.sub("", code)))
    return frozenset(_loads(tree))


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


def _loads(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if not isinstance(node, _COMPREHENSIONS):
        return set().union(*(_loads(child) for child in ast.iter_child_nodes(node)))
    outer = _loads(node.generators[0].iter)  # the first iterable is read where the comprehension is
    bound: set[str] = set()
    inner: set[str] = set()
    for n, generator in enumerate(node.generators):
        inner |= _loads(generator.iter) if n else set()
        bound |= {name.id for name in ast.walk(generator.target) if isinstance(name, ast.Name)}
        inner |= set().union(*(_loads(condition) for condition in generator.ifs))
    items = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
    inner |= set().union(*(_loads(item) for item in items))
    return outer | (inner - bound)


def _reads(items: list[Line | Compound]) -> set[str]:
    """Every local the body may read (a store's own target excluded). A superset is safe: a store
    is only dropped when its name appears nowhere else."""
    found: set[str] = set()
    for item in items:
        if isinstance(item, Compound):
            found |= _names(item.header) | _reads(item.body) | _reads(item.orelse)
        elif item.stores is not None:
            found |= _names(item.code.split("=", 1)[1])
        else:
            found |= _names(item.code)
    return found


def _drop_stores(items: list[Line | Compound], reads: set[str]) -> list[Line | Compound]:
    kept: list[Line | Compound] = []
    for item in items:
        if isinstance(item, Compound):
            kept.append(replace(item, body=_drop_stores(item.body, reads), orelse=_drop_stores(item.orelse, reads)))
        elif item.stores is None or item.stores in reads:
            kept.append(item)
    return kept


def _count(items: list[Line | Compound]) -> int:
    return sum(1 + _count(i.body) + _count(i.orelse) if isinstance(i, Compound) else 1 for i in items)


def _tidy(items: list[Line | Compound]) -> list[Line | Compound]:
    """Compound statements as ruff wants them: no empty suite (a branch that does nothing goes, an
    `if` whose then-branch does nothing becomes `if not`), and no `if` whose whole body is an `if`
    without `else` (SIM102: `if a and b:`)."""
    out: list[Line | Compound] = []
    for item in items:
        if isinstance(item, Line):
            out.append(item)
            continue
        body, orelse = _tidy(item.body), _tidy(item.orelse)
        if not body and not orelse:
            continue
        header = item.header
        if not body:
            header, body, orelse = item.negated or f"not {_operand(header, 3)}", orelse, []
        inner = body[0] if len(body) == 1 else None
        if (
            item.keyword == "if"
            and not orelse
            and isinstance(inner, Compound)
            and inner.keyword == "if"
            and not inner.orelse
        ):
            header, body = f"{_operand(header, 2)} and {_operand(inner.header, 2)}", inner.body
        out.append(Compound(item.keyword, header, body, orelse))
    return out


def _operand(condition: str, level: int) -> str:
    """`condition` as an operand of `and` (level 2) or `not` (3): parenthesized where it binds
    more loosely (`a or b`, `x if c else y`, and for `not` also `a and b`)."""
    node = ast.parse(condition, mode="eval").body
    loose = isinstance(node, (ast.IfExp, ast.Lambda)) or (
        isinstance(node, ast.BoolOp) and (isinstance(node.op, ast.Or) or level > 2)
    )
    return f"({condition})" if loose else condition


def _write(items: list[Line | Compound], depth: int) -> list[str]:
    indent = "    " * depth
    rows: list[str] = []
    for item in items:
        if isinstance(item, Line):
            rows += format_statement(indent, item.code, item.comment)
            continue
        rows += [*format_statement(indent, f"{item.keyword} {item.header}:"), *_write(item.body, depth + 1)]
        if item.orelse:
            rows += [indent + "else:", *_write(item.orelse, depth + 1)]
    return rows
