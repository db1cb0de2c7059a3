"""The grader's hands inside a student's kernel: call the student's code on the grader's inputs, write back plain values.

:mod:`workshop.instructor.grading` never judges an exercise inside the
student's process. It writes a request (what to call, on which inputs) into a
folder the kernel shares with it and runs ``_remote.serve(path, globals())``
there; this module calls the student's object (or one of the check modules'
own measuring functions with the student's object as an argument, eagerly or
inside a ``tf.function``) and writes the outputs as an ``.npz`` file of arrays
plus a JSON description of their structure. The grader reads that file without
pickle and compares the values with references it computes itself.

Nothing here decides a grade, so a student who replaces this module, NumPy or
Keras in their kernel can only change the values their own code returns.
Requests are pickled by the grader (trusted) and unpickled here; replies are
never pickled.
"""

import contextlib
import importlib
import inspect
import json
import os

import numpy as np

__all__ = ["Placeholder", "TensorArg", "serve"]

_LIMIT = 64 * 1024 * 1024  # bytes of arrays in one reply


class Placeholder:
    """Stands, in a request, for the student's object called ``name``."""

    def __init__(self, name):
        self.name = name


class TensorArg:
    """A tensor sent as a NumPy array; turned back into a tensor here."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _decode(value, namespace):
    if isinstance(value, Placeholder):
        return namespace[value.name]
    if isinstance(value, TensorArg):
        import keras

        return keras.ops.convert_to_tensor(value.array)
    if isinstance(value, tuple):
        return tuple(_decode(v, namespace) for v in value)
    if isinstance(value, list):
        return [_decode(v, namespace) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, namespace) for k, v in value.items()}
    return value


class _Encoder:
    def __init__(self):
        self.arrays, self.size = {}, 0

    def array(self, value):
        value = np.asarray(value)
        if value.dtype.kind not in "biufc":
            return {"__object__": f"array of {value.dtype}"}
        self.size += value.nbytes
        if self.size > _LIMIT:
            raise ValueError("the outputs are too large to send back")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = value
        return {"__array__": key}

    def __call__(self, value, depth=0):
        if depth > 20:
            return {"__object__": "nested too deeply"}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self.array(value) if isinstance(value, float) or abs(value) > 2**53 else value
        if isinstance(value, (np.ndarray, np.generic)):
            return self.array(value)
        if isinstance(value, tuple):
            return {"__tuple__": [self(v, depth + 1) for v in value]}
        if isinstance(value, list):
            return [self(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {"__dict__": [[str(k), self(v, depth + 1)] for k, v in value.items()]}
        if hasattr(value, "numpy") and callable(value.numpy) and hasattr(value, "dtype") and hasattr(value, "shape"):
            try:
                return self.array(value.numpy())
            except Exception:  # a symbolic tensor
                pass
        return {"__object__": type(value).__name__}


def _error(error):
    from workshop.checks import _core

    try:
        line = _core._where_in_student_code(error)
    except Exception:
        line = None
    return {"type": type(error).__name__, "builtin": type(error).__module__ == "builtins", "message": str(error)[:4000], "line": line}


def _describe(name, namespace):
    if name not in namespace:
        return {"exists": False}
    value = namespace[name]
    info = {"exists": True, "type": type(value).__name__, "callable": callable(value), "class": isinstance(value, type)}
    if isinstance(value, type):
        info["mro"] = [f"{c.__module__}.{c.__qualname__}" for c in value.__mro__]
        own = set()
        for cls in value.__mro__:
            if cls.__module__.split(".")[0] in ("workshop", "keras", "builtins"):
                break
            own.update(k for k in vars(cls) if not k.startswith("__"))
        info["defines"] = sorted(own)
    elif callable(value):
        try:
            info["signature"] = [(p.name, int(p.kind), p.default is not p.empty) for p in inspect.signature(value).parameters.values()]
        except (TypeError, ValueError):
            info["signature"] = None
    if isinstance(value, (bool, int, float, str)) or value is None:
        info["value"] = value
    return info


def _run_compiled(fn, args, kwargs, options):
    """``fn(*args)`` inside a tf.function whose array arguments are symbolic (unknown batch size), as ``fit`` runs code."""
    import tensorflow as tf

    from workshop.checks._core import quiet

    specs = options.get("specs")
    positions, tensors, signature = [], [], []
    for i, value in enumerate(args):
        array = value.numpy() if hasattr(value, "numpy") else value
        if specs is not None:
            if i >= len(specs):
                break
            shape, dtype = specs[i]
            signature.append(tf.TensorSpec(shape, dtype))
            tensors.append(tf.constant(np.asarray(array), dtype))
            positions.append(i)
        elif isinstance(array, np.ndarray) and array.ndim >= 1 and array.dtype.kind in "biuf":
            dtype = "int32" if array.dtype.kind in "biu" else "float32"
            signature.append(tf.TensorSpec((None,) + array.shape[1:], dtype))
            tensors.append(tf.constant(array.astype(dtype)))
            positions.append(i)

    def call(*inner):
        filled = list(args)
        for i, t in zip(positions, inner):
            filled[i] = t
        return fn(*filled, **kwargs)

    compiled = tf.function(call, input_signature=signature, autograph=False, jit_compile=bool(options.get("jit")))
    with quiet():
        return compiled(*tensors)


def nb09_fit_steps(kernel_fn=None, kl_fn=None):
    """``nb09._fit_steps`` with the layer it returns reduced to the numbers its checks read afterwards."""
    from workshop.checks import nb09

    ok, message, layer = nb09._fit_steps(kernel_fn=kernel_fn, kl_fn=kl_fn)
    mean, rho = np.asarray(layer.kernel_mean.numpy()), np.asarray(layer.kernel_rho.numpy())
    layer(np.zeros((1, 3), "float32"))
    added = float(np.asarray(layer.losses[-1])) if layer.losses else float("nan")
    return ok, message, {"kernel_mean": mean, "kernel_rho": rho, "prior_std": float(layer.prior_std), "added": added}


def serve(request_path, namespace):
    """Answer the request at ``request_path`` (written by the grader) and write ``<request>.npz`` next to it."""
    import pickle

    with open(request_path, "rb") as handle:
        request = pickle.load(handle)  # noqa: S301 - written by the grader, the trusted side
    encode = _Encoder()
    try:
        if request.get("describe"):
            reply = {"ok": encode(_describe(request["describe"], namespace))}
        else:
            args = _decode(request.get("args", ()), namespace)
            kwargs = _decode(request.get("kwargs", {}), namespace)
            target = request.get("call")
            if target is None:
                fn = namespace[request["target"]]
            else:
                fn = getattr(importlib.import_module(target[0]), target[1])
            context = request.get("context")
            context = getattr(importlib.import_module(context[0]), context[1])() if context else contextlib.nullcontext()
            with context:
                if request.get("symbolic") is not None:
                    out = _run_compiled(fn, args, kwargs, request["symbolic"])
                else:
                    from workshop.checks._core import quiet

                    with quiet():
                        out = fn(*args, **kwargs)
            post = request.get("post")
            if post is not None:
                out = getattr(importlib.import_module(post[0]), post[1])(out)
            reply = {"ok": encode(out)}
    except BaseException as error:  # noqa: BLE001 - everything the student's code raises goes back as a value
        if isinstance(error, KeyboardInterrupt):
            raise
        reply = {"error": _error(error)}
        encode.arrays = {}
    arrays = dict(encode.arrays)
    arrays["__reply__"] = np.array(json.dumps(reply))
    partial = request_path + ".part.npz"
    np.savez(partial, **arrays)
    os.replace(partial, request_path + ".npz")
