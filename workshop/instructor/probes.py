"""Judge an exercise in the grader's process while the student's code runs in its own kernel; only values cross.

The grader runs each exercise's own public checker (``checks.nb05.check_reparameterize``
...) *here*, with a stand-in for the student's object. Calling the stand-in
sends the inputs the checker chose (pickled, grader -> kernel) to the student's
kernel, where :mod:`workshop.checks._remote` calls the student's object and
sends the outputs back as arrays (``.npz`` read with ``allow_pickle=False`` plus
JSON, kernel -> grader). References, named mistakes, tolerances (including the
statistical ones of the stochastic exercises) and the verdict are all computed
in this process, so nothing the student's code does to ``workshop.checks``,
``_core``, this module or the printed output can change a grade.

Where a checker measures a class or a model (the ``Sampling`` layer,
``StudentVAE.train_step``, the models of ``build_encoder_decoder``, a compiled
``fit``), the check module's own measuring function (``nb04._statistics``,
``nb05._one_step`` ...) is what runs in the kernel, on the student's object:
:data:`FORWARDED` lists them. Those functions return plain numbers. Calls that
the checkers make inside a ``tf.function`` (``run_symbolic`` and the modules'
``_compiled`` helpers) are replayed in the kernel inside a ``tf.function`` on
symbolic tensors of the same kind.

The instructor-only cases of :mod:`workshop.instructor.grading_extra` run here too,
on the same stand-in: they never enter the student's process.

Hand-written: nbgrader and otter-grader run their tests inside the student's
kernel, which is what this replaces.
"""

import ast
import contextlib
import functools
import importlib
import inspect
import itertools
import json
import os
import pickle
import threading
import types

import numpy as np

__all__ = ["FLAG_MAP", "ProbeAborted", "Remote", "Session", "find_flags", "read_reply", "run_exercise"]

# Checkers and check-module helpers mutate module state (VAE.train_step during a check, NumPy's
# noise functions while watching them): one checker at a time in this process.
CHECK_LOCK = threading.RLock()

# Module-level functions of the check modules that take the student's object as an argument and must
# therefore run in the student's kernel; they return plain values.
FORWARDED = {
    "workshop.checks.nb04": ("_statistics",),
    "workshop.checks.nb05": ("_one_step", "_fit_run"),
    "workshop.checks.nb08": ("_run_optimize_q",),
    "workshop.checks.nb09": ("_sampling_statistics", "_runs_eagerly"),
    "workshop.checks.nb10": ("_compiled_call",),
}


# Forwarded to another function in the kernel, whose plain reply ``rebuild`` turns into what the checker reads.
class _LayerFacts:
    """The numbers nb09's checks read from the layer ``_fit_steps`` returns, in the layer's shape."""

    class _Value:
        def __init__(self, value):
            self.value = value

        def numpy(self):
            return self.value

    def __init__(self, facts):
        self.kernel_mean, self.kernel_rho = self._Value(facts["kernel_mean"]), self._Value(facts["kernel_rho"])
        self.prior_std, self.losses = facts["prior_std"], [facts["added"]]

    def __call__(self, *args, **kwargs):
        return None


REPLACED = {
    ("workshop.checks.nb09", "_fit_steps"): (("workshop.checks._remote", "nb09_fit_steps"), lambda r: (r[0], r[1], _LayerFacts(r[2]))),
}
# While a forwarded function of these modules runs in the kernel, this context manager is active there.
CONTEXT = {"workshop.checks.nb05": ("workshop.checks.nb05", "_package_step_forbidden")}
# The checker whose student output is a Keras object: the kernel describes it with this function first.
POST = {"check_build_encoder_decoder": ("workshop.checks.nb02", "_describe")}

_local = threading.local()


def parse(source):
    """``ast.parse`` one thread at a time: Python 3.11's AST validation is not thread-safe (with -j, two threads
    parsing at once can raise ``SystemError: AST constructor recursion depth mismatch``). The lock is the
    checkers' own, as TensorFlow's autograph parses source too while a checker runs."""
    with CHECK_LOCK:
        return ast.parse(source)


class ProbeAborted(BaseException):
    """A call into the student's kernel timed out, or the kernel died: the exercise is not graded.

    A BaseException, so that the checkers' ``except Exception`` (which turns the student's errors
    into messages) lets it through.
    """


class RemoteError(Exception):
    """An exception the student's code raised in its kernel (its type name and message are kept)."""


class _Opaque:
    """An object that could not cross (a model, a layer): only its type name is known here."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"<{self._name}>"


class _Described:
    """What ``POST`` computed in the kernel from the student's output."""

    def __init__(self, value):
        self.value = value


_EXCEPTION_TYPES = {}


def _exception(info):
    import builtins

    name = str(info.get("type", "Exception"))
    builtin = getattr(builtins, name, None)
    if info.get("builtin") and isinstance(builtin, type) and issubclass(builtin, Exception):
        cls = builtin
    else:
        if name not in _EXCEPTION_TYPES:
            _EXCEPTION_TYPES[name] = type(name if name.isidentifier() else "StudentError", (RemoteError,), {})
        cls = _EXCEPTION_TYPES[name]
    try:
        error = cls(str(info.get("message", "")))
    except Exception:  # an exception type with required arguments
        error = RemoteError(str(info.get("message", "")))
    error._workshop_line = info.get("line")
    return error


def decode(structure, arrays):
    """Rebuild a reply's value from its JSON structure and its arrays (no pickle)."""
    if isinstance(structure, list):
        return [decode(v, arrays) for v in structure]
    if isinstance(structure, dict):
        if "__array__" in structure:
            value = arrays[structure["__array__"]]
            return value[()] if value.ndim == 0 else value
        if "__tuple__" in structure:
            return tuple(decode(v, arrays) for v in structure["__tuple__"])
        if "__dict__" in structure:
            return {k: decode(v, arrays) for k, v in structure["__dict__"]}
        if "__object__" in structure:
            return _Opaque(str(structure["__object__"]))
        raise ValueError("unknown value in a reply")
    return structure


def _encode_args(value, remote_type):
    """Arguments for a request: tensors as arrays, stand-ins as placeholders."""
    from workshop.checks._remote import Placeholder, TensorArg

    if isinstance(value, remote_type) or getattr(value, "_workshop_remote", None) is not None:
        handle = value if isinstance(value, remote_type) else value._workshop_remote
        return Placeholder(handle.target)
    if isinstance(value, (tuple, list)):
        items = [_encode_args(v, remote_type) for v in value]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {k: _encode_args(v, remote_type) for k, v in value.items()}
    if isinstance(value, (np.ndarray, np.generic, int, float, bool, str)) or value is None:
        return value
    module = type(value).__module__ or ""
    if module.startswith(("tensorflow", "keras")) and hasattr(value, "numpy") and hasattr(value, "shape"):
        try:
            return TensorArg(value.numpy())
        except Exception:  # a symbolic tensor: cannot be sent
            raise ProbeAborted("a check handed a symbolic tensor to the student's code (not supported by the grader)") from None
    return value


class Session:
    """The grader's side of one kernel: ``call(request) -> reply`` with a time limit."""

    def __init__(self, kernel, call_timeout):
        self.kernel, self.call_timeout = kernel, call_timeout
        self.counter = itertools.count()

    def request(self, request):
        index = next(self.counter)
        name = f"req-{index}.pkl"
        outside = os.path.join(self.kernel.io_outside, name)
        inside = os.path.join(self.kernel.io_inside, name)
        with open(outside + ".tmp", "wb") as handle:
            pickle.dump(request, handle, protocol=4)
        os.replace(outside + ".tmp", outside)
        outcome = self.kernel.execute(
            f"import workshop.checks._remote as _workshop_remote\n_workshop_remote.serve({inside!r}, globals())",
            timeout=self.call_timeout,
        )
        if outcome.status == "timeout":
            raise ProbeAborted(f"the student's code ran past the {self.call_timeout:g} s limit of one grading call")
        if outcome.status == "dead":
            raise ProbeAborted("the student's kernel died while the exercise was being checked")
        reply_path = outside + ".npz"
        try:
            reply = read_reply(reply_path)
        except FileNotFoundError:
            said = f" ({outcome.ename}: {outcome.evalue})" if outcome.ename else ""
            raise ProbeAborted(f"the grading call gave no answer{said}") from None
        finally:
            for path in (outside, reply_path):
                with contextlib.suppress(OSError):
                    os.remove(path)
        return reply


def read_reply(path, limit=128 * 1024 * 1024):
    """A reply file as a value: a plain regular file, loaded without pickle."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
    try:
        import stat
        import zipfile

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ProbeAborted("the grading call's reply is not a plain file of a sensible size")
        with os.fdopen(fd, "rb") as handle:
            fd = None
            try:
                if sum(member.file_size for member in zipfile.ZipFile(handle).infolist()) > limit:  # no zip bomb
                    raise ValueError("too large")
                handle.seek(0)
                with np.load(handle, allow_pickle=False) as data:
                    arrays = {k: data[k] for k in data.files}
            except Exception as error:  # a file written by the student's code instead of the runner
                raise ProbeAborted(f"the grading call's reply could not be read ({type(error).__name__})") from None
    finally:
        if fd is not None:
            os.close(fd)
    try:
        reply = json.loads(str(arrays.pop("__reply__")))
    except Exception:
        raise ProbeAborted("the grading call's reply could not be read") from None
    if not isinstance(reply, dict) or not ({"ok", "error"} & set(reply)):
        raise ProbeAborted("the grading call's reply could not be read")
    if "error" in reply:
        return RemoteCallFailed(_exception(reply["error"] if isinstance(reply["error"], dict) else {}))
    try:
        return decode(reply["ok"], arrays)
    except Exception:
        raise ProbeAborted("the grading call's reply could not be read") from None


class RemoteCallFailed:
    def __init__(self, error):
        self.error = error


class Remote:
    """Stands for the student's function in the grader's process; calling it runs the student's code in its kernel."""

    def __init__(self, session, target, info, post=None):
        self.session, self.target, self.info, self.post = session, target, info, post
        self.__name__ = self.__qualname__ = target
        signature = info.get("signature")
        if signature:
            try:
                self.__signature__ = inspect.Signature(
                    [
                        inspect.Parameter(n, inspect._ParameterKind(k), default=None if d else inspect.Parameter.empty)
                        for n, k, d in signature
                    ]
                )
            except (TypeError, ValueError):
                pass

    def __call__(self, *args, **kwargs):
        return self.run(None, args, kwargs, post=self.post)

    def run(self, call, args, kwargs, post=None):
        symbolic = getattr(_local, "symbolic", None)
        request = {
            "target": self.target,
            "call": call,
            "args": _encode_args(tuple(args), Remote),
            "kwargs": _encode_args(dict(kwargs), Remote),
            "symbolic": symbolic if call is None else None,
            "post": post,
            "context": CONTEXT.get(call[0]) if call else None,
        }
        reply = self.session.request(request)
        if isinstance(reply, RemoteCallFailed):
            raise reply.error
        return _Described(reply) if post is not None else reply

    def __repr__(self):
        return f"<the student's {self.target}>"


def _remote_in(value, depth=0):
    """The Remote handle that ``value`` is, wraps or closes over, if any."""
    if depth > 6:
        return None
    if isinstance(value, Remote):
        return value
    handle = getattr(value, "_workshop_remote", None) if isinstance(value, type) else None
    if isinstance(handle, Remote):
        return handle
    if isinstance(value, functools.partial):
        return _remote_in(value.func, depth + 1) or next(filter(None, (_remote_in(a, depth + 1) for a in value.args)), None)
    if isinstance(value, (types.FunctionType, types.MethodType)):
        fn = getattr(value, "__func__", value)
        inner = getattr(fn, "__wrapped__", None)
        found = _remote_in(inner, depth + 1) if inner is not None else None
        for cell in fn.__closure__ or ():
            if found:
                break
            with contextlib.suppress(ValueError):
                found = _remote_in(cell.cell_contents, depth + 1)
        return found
    if hasattr(value, "fn") and callable(value) and not isinstance(value, type):  # nb09's _Recorder
        return _remote_in(value.fn, depth + 1)
    return None


@contextlib.contextmanager
def _symbolic(options):
    previous = getattr(_local, "symbolic", None)
    _local.symbolic = options
    try:
        yield
    finally:
        _local.symbolic = previous


def _forwarding(module_name, name, original, kernel_function=None, rebuild=None):
    @functools.wraps(original)
    def forward(*args, **kwargs):
        handle = next(filter(None, (_remote_in(v) if isinstance(v, (Remote, type)) else None for v in (*args, *kwargs.values()))), None)
        if handle is None:
            return original(*args, **kwargs)
        reply = handle.run(kernel_function or (module_name, name), args, kwargs)
        return rebuild(reply) if rebuild else reply

    forward._workshop_forward = True
    return forward


def _to_numpy_tree(out):
    import tensorflow as tf

    return tf.nest.map_structure(lambda t: np.asarray(t.numpy()) if hasattr(t, "numpy") else t, out)


def _run_symbolic_outside(original):
    @functools.wraps(original)
    def run_symbolic(fn, case):
        if _remote_in(fn) is None:
            return original(fn, case)
        with _symbolic({"jit": False}):
            out = fn(**case) if isinstance(case, dict) else fn(*case)
        return _to_numpy_tree(out)

    run_symbolic._workshop_forward = True
    return run_symbolic


def _nb09_compiled_outside(original):
    @functools.wraps(original)
    def compiled(fn, input_signature=None):
        if _remote_in(fn) is None:
            return original(fn, input_signature=input_signature)
        specs = (
            None
            if input_signature is None
            else [(tuple(s.shape.as_list()) if s.shape.rank is not None else None, s.dtype.name) for s in input_signature]
        )

        def run(*args):
            concrete = [np.asarray(a.numpy()) if hasattr(a, "numpy") else a for a in args]
            with _symbolic({"jit": True, "specs": specs}):
                return fn(*concrete)

        return run

    compiled._workshop_forward = True
    return compiled


_installed = False


def install():
    """Route the check modules' calls of the student's object through :class:`Remote` (idempotent)."""
    global _installed
    with CHECK_LOCK:
        if _installed:
            return
        from workshop.checks import _core

        modules = [importlib.import_module(f"workshop.checks.nb{n:02d}") for n in range(1, 11)]
        original_run_symbolic = _core.run_symbolic
        outside = _run_symbolic_outside(original_run_symbolic)
        _core.run_symbolic = outside
        for module in modules:
            if getattr(module, "run_symbolic", None) is original_run_symbolic:
                module.run_symbolic = outside
        for module_name, names in FORWARDED.items():
            module = importlib.import_module(module_name)
            for name in names:
                setattr(module, name, _forwarding(module_name, name, getattr(module, name)))
        for (module_name, name), (kernel_function, rebuild) in REPLACED.items():
            module = importlib.import_module(module_name)
            setattr(module, name, _forwarding(module_name, name, getattr(module, name), kernel_function, rebuild))
        nb09 = importlib.import_module("workshop.checks.nb09")
        nb09._compiled = _nb09_compiled_outside(nb09._compiled)
        nb02 = importlib.import_module("workshop.checks.nb02")
        describe = nb02._describe
        nb02._describe = functools.wraps(describe)(lambda models: models.value if isinstance(models, _Described) else describe(models))
        where = _core._where_in_student_code
        _core._where_in_student_code = functools.wraps(where)(lambda error: getattr(error, "_workshop_line", None) or where(error))
        _installed = True


def _stand_in(session, target, info, checker):
    """What the checker receives in place of the student's object."""
    post = POST.get(checker)
    if info.get("class"):
        base = object
        for name in info.get("mro", []):
            module, _, qualname = name.rpartition(".")
            if module.split(".")[0] in ("workshop", "keras"):
                try:
                    base = getattr(importlib.import_module(module), qualname)
                    break
                except (ImportError, AttributeError):
                    continue
        handle = Remote(session, target, info)

        def refuse(*args, **kwargs):
            raise ProbeAborted(f"the check needs an instance of {target} in the grader's process (not supported)")

        attributes = {"_workshop_remote": handle, "__new__": staticmethod(refuse), "__module__": "student"}
        for name in info.get("defines", []):  # the methods the student wrote are not the base class's
            attributes[name] = lambda self, *a, **k: refuse()
        try:
            return type(target, (base,), attributes)
        except TypeError:
            return type(target, (object,), attributes)
    if info.get("callable"):
        return Remote(session, target, info, post=post)
    if "value" in info:
        return info["value"]
    return _Opaque(info.get("type", "object"))


def run_exercise(session, checker, module, target, extra=True):
    """Run ``checker`` (of check module ``module``) on the student's ``target`` in ``session``; return (status, message).

    Status is ``"passed"``, ``"not_implemented"``, ``"missing"`` or a failure status of the
    checker; :class:`ProbeAborted` propagates (the caller reports "not graded").
    """
    install()
    info = session.request({"describe": target})
    if isinstance(info, RemoteCallFailed) or not isinstance(info, dict):
        raise ProbeAborted("the student's kernel could not describe the exercise's object")
    if not info.get("exists"):
        return "missing", f"the exercise's code was not found (name '{target}' is not defined); its cell was deleted or did not run."
    student = _stand_in(session, target, info, checker)
    check = getattr(importlib.import_module(f"workshop.checks.{module}"), checker)
    with CHECK_LOCK:
        result = check(student, verbose=False, strict=False)
    status, message = result.status, result.message
    if status == "passed" and extra:
        status, message = _extra_cases(checker, target, student, message)
    return status, message


def _extra_cases(checker, target, student, public):
    from workshop.instructor import grading_extra

    run = grading_extra.EXTRA_CHECKS.get(checker)
    if run is None:
        return "passed", "public checks passed"
    try:
        with CHECK_LOCK:
            ok, message = run({target: student})
    except ProbeAborted:
        raise
    except Exception as error:  # the student's code raised on an instructor case
        ok, message = False, f"raised {type(error).__name__}: {error}"
    if ok:
        return "passed", "public and instructor checks passed"
    return "wrong", f"public checks passed; instructor check failed: {message}"


# --------------------------------------------------------------------------- #
# answers that call the package's own implementation
# --------------------------------------------------------------------------- #
# exercise (the checked name) -> names in ``workshop`` that implement it; using one inside the
# exercise's definition is flagged for the instructor (the verdict is not changed).
FLAG_MAP = {
    "kl_divergence": ("probability.kl_divergence",),
    "gaussian_kl": ("probability.gaussian_kl",),
    "monte_carlo_kl": ("probability.monte_carlo_gaussian_kl", "probability.monte_carlo_kl", "mixture.monte_carlo_kl"),
    "principal_angles": ("autoencoders.principal_angles",),
    "shift_vs_noise_mse": ("autoencoders.shift_vs_noise_mse",),
    "build_encoder_decoder": ("autoencoders.build_encoder_decoder",),
    "elbo_ppca": ("PPCA.elbo", "ppca.PPCA"),
    "log_px_prior_sampling": ("PPCA.log_marginal", "ppca.log_mean_exp"),
    "Sampling": ("layers.Sampling",),
    "score_function_gradient": ("gradients.score_function_gradient",),
    "pathwise_gradient": ("gradients.pathwise_gradient",),
    "bernoulli_nll_from_logits": ("losses.bernoulli_reconstruction_loss",),
    "kl_to_standard_normal": ("losses.kl_standard_normal", "probability.kl_to_standard_normal"),
    "StudentVAE": ("super().train_step", "VAE.train_step"),
    "gaussian_nll": ("losses.gaussian_reconstruction_loss",),
    "log_mean_exp": ("evaluation.log_mean_exp", "ppca.log_mean_exp"),
    "optimize_q": ("evaluation.optimize_posterior",),
    "kl_warmup_weight": ("losses.kl_warmup_weight",),
    "free_bits_kl": ("losses.free_bits_kl",),
    "sample_weights": ("bayesian.sample_gaussian_weights",),
    "kl_to_prior": ("bayesian.kl_to_gaussian_prior", "bayesian.reference_kl_to_gaussian_prior"),
    "minibatch_loss": ("bayesian.negative_elbo_per_example",),
    "mixture_log_density": ("mixture.mixture_log_density",),
    "responsibilities": ("mixture.mixture_responsibilities",),
}


def tampering_flags(sources):
    """Flags for code that reaches into the course's check machinery (never needed to answer an exercise).

    Its verdicts cannot be changed that way (they are computed by the grader), but the values of the
    class exercises are measured in the kernel by the check modules' own functions, which such code
    could replace: the instructor should look.
    """
    found = []
    for index, source in enumerate(sources):
        try:
            tree = parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            text = None
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                names += [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) else []
                if any(n.startswith("workshop.checks.") or n.startswith("workshop.instructor") for n in names):
                    text = "imports " + ", ".join(sorted({n for n in names if n.startswith("workshop.")}))
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
                for target in targets:
                    path = _dotted(target) if isinstance(target, ast.Attribute) else None
                    if path and (path.startswith(("checks.", "workshop.")) or "._" in path):
                        text = f"assigns {path}"
            elif isinstance(node, ast.Call) and _dotted(node.func) in ("setattr", "delattr") and node.args:
                base = _dotted(node.args[0]) or ""
                if base.startswith(("checks", "workshop", "_core", "_remote", "nb")):
                    text = f"calls {_dotted(node.func)} on {base}"
            if text:
                found.append(f"cell {index + 1} {text}")
    return sorted(set(found), key=found.index)


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super":
        parts.append("super()")
    else:
        return None
    return ".".join(reversed(parts))


def find_flags(sources, target):
    """Flags for the instructor: the definition of ``target`` in ``sources`` (cell codes) uses the package's implementation.

    Looks at the AST of the cell(s) defining ``target``: an attribute path ending in one of
    :data:`FLAG_MAP`'s names (``workshop.probability.kl_divergence``, ``probability.kl_divergence``,
    ``super().train_step``), or a name imported from ``workshop`` under which that implementation
    is known (``from workshop.probability import kl_divergence as kl``).
    """
    names = FLAG_MAP.get(target, ())
    if not names:
        return []
    imported = {}  # local name -> dotted origin
    definitions = []
    for source in sources:
        try:
            tree = parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workshop"):
                for alias in node.names:
                    imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == target:
                definitions.append(node)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == target for t in node.targets):
                definitions.append(node)
    found = []
    for definition in definitions:
        for node in ast.walk(definition):
            path = None
            if isinstance(node, ast.Attribute):
                path = _dotted(node)
                if path and path.split(".")[0] in imported:
                    head, _, rest = path.partition(".")
                    path = imported[head] + ("." + rest if rest else "")
            elif isinstance(node, ast.Name) and node.id in imported and node.id != target:
                path = imported[node.id]
            elif isinstance(node, ast.ClassDef):
                for base in node.bases:
                    base_path = _dotted(base)
                    if base_path and base_path.split(".")[0] in imported:
                        head, _, rest = base_path.partition(".")
                        base_path = imported[head] + ("." + rest if rest else "")
                    if base_path and any(base_path == n or base_path.endswith("." + n) for n in names):
                        found.append(f"{target} subclasses the package's {base_path}")
            if path and any(path == n or path.endswith("." + n) for n in names):
                found.append(f"{target} calls the package's own {path}")
    return sorted(set(found))
