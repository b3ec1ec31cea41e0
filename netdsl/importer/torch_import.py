"""PyTorch → statements: each module traced by torch.fx with its children as leaves.

nn.Sequential becomes `seq`; a class of ours (a module with a forward of its own) becomes a
block instance, generalized over all its instances by `generalize`; known layers become ops.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
from pathlib import Path
from typing import Any

from netdsl.importer.chains import Step, linearize
from netdsl.importer.generalize import Instance
from netdsl.importer.refusal import ImportRefused, UsageError
from netdsl.importer.stmts import ACTS, Part, Stmt, slot
from netdsl.importer.torch_ops import ALIASES, MERGES, function_table, module_table
from netdsl.importer.write import write_spec


def load_factory(source: str) -> tuple[Any, str]:
    """`file.py:Factory(arg=value)` or `package.module:Factory` → (the module it makes, Factory)."""
    target, sep, call = source.rpartition(":")
    if not sep or not target:
        raise UsageError(f"'{source}': expected FILE.py:FACTORY or package.module:FACTORY")
    match = re.fullmatch(r"\s*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", call, re.S)
    if not match:
        raise UsageError(f"'{call}': expected a factory name, optionally with literal arguments: F(a=1)")
    name, raw = match.group(1), match.group(2)
    kwargs = _literal_kwargs(raw or "", call)
    module = _python_module(target)
    factory = getattr(module, name, None)
    if factory is None:
        raise UsageError(f"{target} has no '{name}'")
    try:
        made = factory(**kwargs)
    except Exception as error:  # the user's code: say what it raised
        raise UsageError(f"{name}({raw or ''}) raised {type(error).__name__}: {error}") from None
    return made, name


def _literal_kwargs(raw: str, call: str) -> dict[str, Any]:
    import ast

    try:
        tree = ast.parse(f"f({raw})", mode="eval")
        assert isinstance(tree.body, ast.Call)
        if tree.body.args:
            raise ValueError("positional")
        return {k.arg: ast.literal_eval(k.value) for k in tree.body.keywords if k.arg}
    except (SyntaxError, ValueError, AssertionError):
        raise UsageError(f"'{call}': arguments must be NAME=literal (numbers, strings, lists)") from None


def _python_module(target: str) -> Any:
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise UsageError(f"{target}: no such file")
        spec = importlib.util.spec_from_file_location(f"_netdsl_import_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise UsageError(f"{target} raised {type(error).__name__} when loaded: {error}") from None
        return module
    try:
        return importlib.import_module(target)
    except ImportError as error:
        raise UsageError(f"cannot import {target}: {error}") from None


def from_torch(module: Any, input_shape: tuple[int, ...], name: str | None = None,
               source: str | None = None) -> str:
    """Spec text for `module` (an nn.Module) taking `input_shape` ([C, H, W] or [F])."""
    from torch import nn

    if not isinstance(module, nn.Module):
        raise UsageError(f"{type(module).__name__} is not an nn.Module")
    walker = _Walker(module)
    walker.channels = _input_channels(module, input_shape)
    body = walker.body(module, "")
    network = name or type(module).__name__
    origin = source or f"{type(module).__module__}.{type(module).__qualname__}"
    return write_spec(walker.instances, body, network, input_shape, f"Imported from {origin} by netdsl import.",
                      type(module).__module__)


def _input_channels(module: Any, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Each submodule's input channels (by path) in one forward pass on zeros, in eval mode: a
    block's flags may then read as `in.channels != out`. Empty where the forward fails (the
    walk that follows says why)."""
    import torch

    seen: dict[str, int] = {}

    def record(path: str) -> Any:
        def hook(_module: Any, args: tuple[Any, ...]) -> None:  # None: the input goes on unchanged
            if args and isinstance(args[0], torch.Tensor) and args[0].dim() > 1:
                seen.setdefault(path, int(args[0].shape[1]))

        return hook

    hooks = [m.register_forward_pre_hook(record(path)) for path, m in module.named_modules() if path]
    training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, *input_shape))
    except Exception:  # the user's model: the walk reports what it cannot trace
        seen.clear()
    finally:
        module.train(training)
        for hook in hooks:
            hook.remove()
    return seen


# ---- walking the module tree --------------------------------------------------------------


class _Walker:
    def __init__(self, root: Any):
        self.root = root
        self.instances: list[Instance] = []
        self.channels: dict[str, int] = {}
        self.modules = module_table()
        self.functions = function_table()

    def body(self, module: Any, path: str) -> list[Stmt]:
        from torch import nn

        if isinstance(module, nn.Sequential):
            return [Stmt([self.call(child, _join(path, key), None if key.isdigit() else key)])
                    for key, child in module.named_children()]
        return self.traced(module, path)

    def call(self, child: Any, path: str, label: str | None) -> Part:
        """The step that calls `child` (a leaf layer, a seq, or a block instance)."""
        from torch import nn

        head = "" if not label else f"{label}: " if _bare(label) else f'"{label}": '
        lower = self.modules.get(type(child))
        if lower is not None:
            try:
                text = lower(child)
                if label and re.fullmatch(rf"{re.escape(text)}(_\d+)?", label):
                    head = ""  # `relu: relu`, `relu_2: relu`: a parameterless layer's automatic name
                return Part(head + (slot("act", text) if text in ACTS else text))
            except ImportRefused as refusal:
                raise ImportRefused(refusal.message, f"{path or 'the model'} ({type(child).__name__})") from None
        prelude = _prelude(child)
        if prelude is not None:
            if type(child).__name__ == "Chain":
                return Part(head, self.chain(child, path))
            return Part(head + prelude)
        if type(child) is nn.Sequential:
            return Part(head, self.body(child, path))
        if type(child).forward is nn.Module.forward or isinstance(child, (nn.ModuleList, nn.ModuleDict)):
            raise ImportRefused(f"{type(child).__name__} is called but has no forward", path)
        if isinstance(child, (nn.RNNBase, nn.MultiheadAttention)) or _is_torch_layer(child):
            raise ImportRefused(f"{type(child).__name__} has no netdsl op", path or "the model")
        body = self.body(child, path)
        self.instances.append(Instance(type(child), path, body, isinstance(child, nn.Sequential),
                                       channels=self.channels.get(path)))
        return Part(head + f"\x03{len(self.instances) - 1}\x04")

    def chain(self, module: Any, path: str) -> list[Stmt]:
        """netdsl's Chain: a seq whose items are modules or a layer scale (a parameter)."""
        from torch import nn

        items = []
        for key in module.order:
            item = getattr(module, key)
            if isinstance(item, nn.Parameter):
                init = float(f"{float(item.detach().flatten()[0]):.7g}") if item.numel() else 1.0
                label = "" if key.isdigit() else f"{key}: "
                items.append(Stmt([Part(f"{label}scale({slot('init', init)})")]))
            else:
                items.append(Stmt([self.call(item, _join(path, key), None if key.isdigit() else key)]))
        return items

    def traced(self, module: Any, path: str) -> list[Stmt]:
        graph = _trace(module, path)
        steps: list[Step] = []
        env: dict[Any, Any] = {}
        counts: dict[str, int] = {}
        for node in graph.nodes:
            if node.op == "call_module":
                counts[node.target] = counts.get(node.target, 0) + 1
        for node in graph.nodes:
            if node.op == "placeholder":
                if env:
                    raise ImportRefused("a forward with more than one input", _where(module, path))
                env[node] = "in"
            elif node.op == "output":
                result = node.args[0]
                if not hasattr(result, "op") or not isinstance(env.get(result), (str, Step)):
                    raise ImportRefused("a forward that returns more than one tensor", _where(module, path))
                return linearize(steps, env[result])
            else:
                env[node] = self.node(module, path, node, env, counts)
                if isinstance(env[node], Step) and not any(s is env[node] for s in steps):
                    env[node].name = node.name
                    steps.append(env[node])
        raise AssertionError("an fx graph without output")

    def node(self, module: Any, path: str, node: Any, env: dict[Any, Any], counts: dict[str, int]) -> Any:
        where = _node_where(module, path, node)
        if node.op == "call_module":
            child = module.get_submodule(node.target)
            full = _join(path, node.target)
            container, _, index = node.target.rpartition(".")
            if any(p.numel() for p in child.parameters()) or any(True for _ in child.buffers()):
                if counts[node.target] > 1:
                    raise ImportRefused(f"'{node.target}' is called {counts[node.target]} times (shared weights)",
                                        where)
            label = None if container or (counts[node.target] > 1) else node.target
            if "." in container:
                raise ImportRefused(f"'{node.target}': a module nested in containers (netdsl names one level)", where)
            part = self.call(child, full, label)
            step = Step(part, [self._tensor(node.args[0], env, where)])
            if len(node.args) != 1 or node.kwargs:
                raise ImportRefused(f"'{node.target}' is called with more than one argument", where)
            if container:
                if not index.isdigit():
                    raise ImportRefused(f"'{node.target}': a ModuleDict entry (netdsl names by position)", where)
                step.container, step.index = container, int(index)
            return step
        if node.op == "get_attr":
            return ("param", node.target, module.get_parameter(node.target) if "." not in node.target
                    and node.target in dict(module.named_parameters(recurse=False)) else None)
        return self.function(node, env, where)

    def function(self, node: Any, env: dict[Any, Any], where: str) -> Any:
        import operator

        import torch

        key = node.target
        name = key if isinstance(key, str) else getattr(key, "__name__", str(key))
        if key in ("size", "dim") or (key is getattr and node.args[1] == "shape") or key is torch.Tensor.size:
            return ("size", env.get(node.args[0]), *node.args[1:2])
        if key is operator.getitem:
            return self._getitem(node, env, where)
        if key in ALIASES:
            return self._tensor(node.args[0], env, where)
        if key in (torch.cat, torch.concat, torch.concatenate):
            tensors = node.args[0]
            dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
            if dim not in (1, -3):
                raise ImportRefused(f"cat over dim={dim} (netdsl's concat joins channels, dim=1)", where)
            return self._merge("concat", list(tensors), env, where)
        merge = MERGES.get(key) or {torch.add: "add", torch.mul: "mul"}.get(key)
        if merge == "mul":
            scaled = self._scale(node, env, where)
            if scaled is not None:
                return scaled
        if merge:
            if node.kwargs.get("alpha", 1) != 1:
                raise ImportRefused("add with alpha", where)
            return self._merge(merge, list(node.args[:2]), env, where)
        if key in ("view", "reshape") or key is torch.reshape:
            return self._view(node, env, where)
        if key in ("chunk",) or key is torch.chunk:
            parts = node.args[1] if len(node.args) > 1 else node.kwargs.get("chunks")
            dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim", 0)
            if dim != 1:
                raise ImportRefused(f"chunk over dim={dim} (netdsl's chunk splits channels)", where)
            return ("chunk", self._tensor(node.args[0], env, where), parts)
        lower = self.functions.get(key)
        if lower is None:
            raise ImportRefused(f"{name} has no netdsl op", where)
        try:
            text = lower(node)
        except ImportRefused as refusal:
            raise ImportRefused(refusal.message, where) from None
        if text == "identity":
            return self._tensor(node.args[0], env, where)
        return Step(Part(text), [self._tensor(node.args[0], env, where)])

    def _scale(self, node: Any, env: dict[Any, Any], where: str) -> Step | None:
        """`x * self.layer_scale`, a parameter of shape [C, 1, 1]: netdsl's `scale`."""
        held = [env.get(a) if hasattr(a, "op") else a for a in node.args[:2]]
        params = [h for h in held if isinstance(h, tuple) and h[0] == "param"]
        if not params:
            return None
        name, value = params[0][1], params[0][2]
        if value is None or value.dim() != 3 or tuple(value.shape[1:]) != (1, 1) or len(params) > 1:
            raise ImportRefused(f"'{name}' multiplies as a tensor, not a layer scale of shape [C, 1, 1]", where)
        other = node.args[1] if held[0] is params[0] else node.args[0]
        init = float(f"{float(value.detach().flatten()[0]):.7g}")
        return Step(Part(f"{name}: scale({slot('init', init)})"), [self._tensor(other, env, where)])

    def _getitem(self, node: Any, env: dict[Any, Any], where: str) -> Any:
        held = env.get(node.args[0])
        if isinstance(held, tuple) and held[0] == "chunk":
            return Step(Part(f"chunk({held[2]}, {node.args[1]})"), [held[1]])
        if isinstance(held, tuple) and held[0] == "size":
            return ("size", held[1], node.args[1])
        raise ImportRefused("indexing a tensor (netdsl has no slicing op)", where)

    def _view(self, node: Any, env: dict[Any, Any], where: str) -> Any:
        shape = list(node.args[1:]) if len(node.args) > 2 else node.args[1]
        shape = list(shape) if isinstance(shape, (list, tuple)) else [shape]
        first = env.get(shape[0]) if hasattr(shape[0], "op") else shape[0]
        batch = isinstance(first, tuple) and first[0] == "size" and first[-1] == 0
        if len(shape) == 2 and shape[1] == -1 and batch:
            return Step(Part("flatten"), [self._tensor(node.args[0], env, where)])
        raise ImportRefused(f"{node.target}({', '.join(map(str, shape))}): only x.{node.target}(x.size(0), -1) "
                            "(a flatten) has a netdsl op", where)

    def _merge(self, op: str, args: list[Any], env: dict[Any, Any], where: str) -> Step:
        inputs = [self._tensor(a, env, where) for a in args]
        operands = ", ".join(f"{{{i}}}" for i in range(len(inputs)))
        return Step(Part(f"{op}({operands})"), inputs, merge=op)

    def _tensor(self, arg: Any, env: dict[Any, Any], where: str) -> Any:
        held = env.get(arg) if hasattr(arg, "op") else None
        if isinstance(held, tuple) and held[0] == "param":
            raise ImportRefused(f"the tensor attribute '{held[1]}' used directly in forward", where)
        if not isinstance(held, (str, Step)):
            raise ImportRefused(f"an operation on a constant or a shape ({arg!r}), not a tensor", where)
        return held


def _prelude(module: Any) -> str | None:
    """The op of a class from netdsl's own generated prelude (a module built by netdsl)."""
    if not type(module).__module__.startswith("netdsl_generated"):
        return None
    name = type(module).__name__
    if name == "CoralHead":
        return f"coral({slot('classes', module.bias.numel() + 1)})"
    if name == "OrdinalHead":
        return f"ordinal({slot('classes', module.fc.out_features // 2 + 1)})"
    if name == "LayerNorm2d":
        return f"layernorm2d(eps={slot('eps', module.eps)})"
    if name == "StochasticDepth":
        return f"stochastic_depth({slot('p', module.p)}, mode={module.mode})"
    if name == "Chunk":
        return f"chunk({slot('parts', module.parts)}, {slot('index', module.index)})"
    if name == "Permute":
        return f"permute({slot('order', list(module.order))})"
    if name == "Chain":
        return ""
    return None


def _bare(label: str) -> bool:
    """A label written without quotes: a name that the lexer does not read as `block…`/`network…`."""
    return label.isidentifier() and not re.match(r"(block|network)\w", label)


def _is_torch_layer(module: Any) -> bool:
    return type(module).__module__.startswith("torch.")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _where(module: Any, path: str) -> str:
    return f"{path or 'the model'} ({type(module).__name__})"


def _node_where(module: Any, path: str, node: Any) -> str:
    line = _stack_line(getattr(node, "stack_trace", None) or "")
    return _where(module, path) + (f", {line}" if line else "")


def _stack_line(stack: str) -> str:
    found = [f for f in re.findall(r'File "([^"]+)", line (\d+)', stack) if "/torch/" not in f[0]]
    return f"{found[-1][0]}:{found[-1][1]}" if found else ""


def _trace(module: Any, path: str) -> Any:
    from torch import fx

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return True

    tracer = Tracer()
    tracer.record_stack_traces = True
    training = module.training
    module.train()  # F.dropout(x, p, self.training) is a dropout, whatever mode the model is in
    try:
        return tracer.trace(module)
    except ImportRefused:
        raise
    except Exception as error:
        message = str(error).split("\n")[0]
        if "control flow" in message or "iteration" in message:
            message = "data-dependent control flow (a Python if or loop on a tensor's value): " + message
        raise ImportRefused(message, _where(module, path) + _user_line(error, module)) from None
    finally:
        module.train(training)


def _user_line(error: BaseException, module: Any) -> str:
    try:
        file = inspect.getsourcefile(type(module))
    except TypeError:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == file]
    return f", {frames[-1].filename}:{frames[-1].lineno}" if frames else ""
