"""The names of a generated PyTorch module that others must predict: constructor arguments
(`Spec.to_torch()` passes overrides by keyword) and attributes, whose dotted paths are the
state_dict keys (the ONNX backend names its initializers by them). Each is the spec's own name,
escaped (netdsl.backends.pytorch.pysource.Namespace.escape) only where it would shadow a keyword, a
builtin or a name of the file (for arguments), or a member of nn.Module (for attributes).
"""

from __future__ import annotations

import builtins

from netdsl.backends.pytorch.lowerings import PRELUDE
from netdsl.backends.pytorch.pysource import Namespace

# Every attribute of an nn.Module instance, and two of ours: a layer labelled like one gets `_`s.
MODULE_ATTRIBUTES = frozenset(
    """
T_destination _apply _backward_hooks _backward_pre_hooks _buffers _call_impl _compiled_call_impl _forward_hooks
_forward_hooks_always_called _forward_hooks_with_kwargs _forward_pre_hooks _forward_pre_hooks_with_kwargs
_get_backward_hooks _get_backward_pre_hooks _get_name _is_full_backward_hook _load_from_state_dict
_load_state_dict_post_hooks _load_state_dict_pre_hooks _maybe_warn_non_full_backward_hook _modules _named_members
_non_persistent_buffers_set _parameters _register_load_state_dict_pre_hook _register_state_dict_hook
_replicate_for_data_parallel _save_to_state_dict _slow_forward _state_dict_hooks _state_dict_pre_hooks _version
_wrapped_call_impl add_module apply bfloat16 buffers call_super_init children compile cpu cuda double
dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu
load_state_dict modules mtia named_buffers named_children named_modules named_parameters parameters
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter register_state_dict_post_hook
register_state_dict_pre_hook requires_grad_ set_extra_state set_submodule share_memory state_dict to to_empty
train training type xpu zero_grad
__annotations__ __call__ __class__ __delattr__ __dict__ __dir__ __doc__ __eq__ __format__ __ge__ __getattr__
__getattribute__ __getstate__ __gt__ __hash__ __init__ __init_subclass__ __le__ __lt__ __module__ __ne__ __new__
__reduce__ __reduce_ex__ __repr__ __setattr__ __setstate__ __sizeof__ __str__ __subclasshook__ __weakref__
input_shape out_shape
""".split()
)
# the module-level names of a generated file; no local, argument or class may shadow them
FILE_NAMES = frozenset({"torch", "nn", "math", "annotations", *PRELUDE})
LOCAL_RESERVED = frozenset({*dir(builtins), *FILE_NAMES, "self"})  # no local or argument takes these
_LOCALS = Namespace(LOCAL_RESERVED)
_ATTRIBUTES = Namespace(MODULE_ATTRIBUTES)


def param_name(name: str) -> str:
    """A spec parameter as a constructor argument: the same name for the same parameter in every
    class, so that `Spec.to_torch()` can pass overrides by keyword."""
    return _LOCALS.escape(name)


def attribute_name(label: str) -> str:
    """A layer's attribute name: its label, unless that is a keyword or a member of nn.Module."""
    return _ATTRIBUTES.escape(label)


def state_prefix(node_name: str) -> str:
    """The state_dict prefix, in the generated module, of the IR node called `node_name`."""
    return ".".join(part if part.isdigit() else attribute_name(part) for part in node_name.split("."))
