"""The engine behind every exercise check cell.

A notebook's check module (``workshop/checks/nb01.py`` ...) wraps these
functions once per exercise; the notebook's check cell then calls the wrapper
with the student's function and prints one line that says what to do next.

Example, in ``workshop/checks/nb01.py``::

    import numpy as np

    from workshop import probability
    from workshop.checks._core import check_function

    _CASES = [
        (0.0, 0.0),                                  # positional arguments
        (1.5, -0.3),
        {"mu": np.array([0.2, -1.0]), "log_var": np.array([0.1, 2.0])},  # keyword arguments
    ]

    def check_kl_to_standard_normal(student_fn):
        \"\"\"Check the exercise ``kl_to_standard_normal(mu, log_var)``.\"\"\"
        return check_function(
            "kl_to_standard_normal",
            student_fn,
            lambda mu, log_var: probability.kl_to_standard_normal(mu, log_var, axis=None),
            _CASES,
            mistakes=[
                ("looks like you used log(sigma) where log(sigma^2) is meant.",
                 lambda mu, log_var: 0.5 * (np.exp(2 * log_var) + mu**2 - 1 - 2 * log_var)),
                ("the -1 inside the bracket is missing.",
                 lambda mu, log_var: 0.5 * (np.exp(log_var) + mu**2 - log_var)),
            ],
        )

and in the notebook's check cell::

    checks.nb01.check_kl_to_standard_normal(kl_to_standard_normal)

which prints, for instance,
``[passed] kl_to_standard_normal: matches the reference on 3 cases.`` or
``[not implemented yet] kl_to_standard_normal: replace the `raise NotImplementedError`
line with your code, then run this cell again.``

Statuses: ``"passed"``, ``"not_implemented"``, ``"error"`` (the student's code
raised), ``"mistake"`` (the answer equals a known wrong variant, and the hint
for it is shown), ``"wrong"`` (any other mismatch, with the case, the expected
and the received value; a shape mismatch is named as such).

Strict mode: when the environment variable ``WORKSHOP_STRICT_CHECKS`` is ``1``
(the repository's ``conftest.py`` and ``python -m workshop notebooks run`` set
it), a check that does not pass raises :class:`CheckFailed` after printing, so a
broken solution notebook fails its test instead of printing a quiet message.
Students never set it. Pass ``strict=False`` to a check that is meant to fail
(a demonstration of a wrong answer).
"""

import contextlib
import copy
import numbers
import os
import re
import sys
import sysconfig
import traceback
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "CheckFailed",
    "CheckResult",
    "check_custom",
    "check_function",
    "check_value",
    "values_match",
]

STATUSES = ("passed", "not_implemented", "error", "mistake", "wrong")
_LABELS = {
    "passed": "[passed]",
    "not_implemented": "[not implemented yet]",
    "error": "[error]",
    "mistake": "[not quite]",
    "wrong": "[wrong]",
}
_TODO = "replace the `raise NotImplementedError` line with your code, then run this cell again."
_FALSE = {"", "0", "false", "no", "off"}


class CheckFailed(AssertionError):
    """Raised in strict mode when an exercise check does not pass."""


@dataclass
class CheckResult:
    """The outcome of one exercise check.

    Attributes:
        name: the exercise name.
        status: one of ``"passed"``, ``"not_implemented"``, ``"error"``,
            ``"mistake"``, ``"wrong"``.
        message: the one line shown to the student.
        details: extra facts for tests and authors (case index, expected and
            received values, hint); not shown.
    """

    name: str
    status: str
    message: str
    details: dict = field(default_factory=dict, repr=False)
    _shown: bool = field(default=False, repr=False, compare=False)

    @property
    def passed(self):
        """True when the student's answer matched the reference."""
        return self.status == "passed"

    def __bool__(self):
        return self.passed

    def __str__(self):
        return self.message

    def _ipython_display_(self):
        # The check already printed its line; a bare `check(...)` at the end of a
        # cell must not print it a second time.
        if not self._shown:
            print(self.message)


# --------------------------------------------------------------------------- #
# Comparing values
# --------------------------------------------------------------------------- #
def _to_numpy(value):
    """NumPy view of a number, array, or Keras/TensorFlow tensor; other objects unchanged."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, numbers.Number, np.generic)):
        return np.asarray(value)
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        try:
            if keras.ops.is_tensor(value):
                return np.asarray(keras.ops.convert_to_numpy(value))
        except Exception:  # a symbolic tensor, or a backend that refuses
            pass
    if hasattr(value, "numpy") and callable(value.numpy):
        try:
            return np.asarray(value.numpy())
        except Exception:
            pass
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return value


def _compare(received, expected, rtol, atol):
    """Return (equal, reason); reason names a structure or shape mismatch, else None."""
    if isinstance(expected, (tuple, list)) and not _is_numeric_sequence(expected):
        if not isinstance(received, (tuple, list)):
            return False, (f"expected a {type(expected).__name__} of {len(expected)} values, received {_type_name(received)}")
        if len(received) != len(expected):
            return False, f"expected {len(expected)} values, received {len(received)}"
        for i, (r, e) in enumerate(zip(received, expected)):
            ok, reason = _compare(r, e, rtol, atol)
            if not ok:
                return False, (f"item {i}: {reason}" if reason else None)
        return True, None
    if isinstance(expected, dict):
        if not isinstance(received, dict) or set(received) != set(expected):
            return False, f"expected a dict with keys {sorted(expected)}, received {_type_name(received)}"
        for key in expected:
            ok, reason = _compare(received[key], expected[key], rtol, atol)
            if not ok:
                return False, (f"key {key!r}: {reason}" if reason else None)
        return True, None
    exp = _to_numpy(expected)
    rec = _to_numpy(received)
    if isinstance(exp, np.ndarray) and exp.dtype.kind in "biufc":
        if rec is None:
            return False, "received None: did you forget the `return` statement?"
        if isinstance(rec, (tuple, list)):
            try:
                rec = np.asarray(rec)
            except Exception:
                return False, f"expected an array, received {_type_name(received)}"
        if not isinstance(rec, np.ndarray) or rec.dtype.kind not in "biufc":
            return False, f"expected a number or an array, received {_type_name(received)}"
        if rec.shape != exp.shape:
            return False, (
                f"shape mismatch: expected shape {exp.shape}, received shape {rec.shape} (check which axis you sum or average over)"
            )
        with np.errstate(invalid="ignore"):
            return bool(np.allclose(rec, exp, rtol=rtol, atol=atol, equal_nan=True)), None
    try:
        return bool(received == expected), None
    except Exception:
        return False, None


def _is_numeric_sequence(value):
    """A plain list/tuple of numbers is one array, not a structure of outputs."""
    return len(value) > 0 and all(isinstance(v, (numbers.Number, np.generic)) and not isinstance(v, bool) for v in value)


def _type_name(value):
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def values_match(received, expected, rtol=1e-5, atol=1e-6):
    """True when ``received`` equals ``expected`` up to tolerance and shape.

    Numbers, NumPy arrays and Keras/TensorFlow tensors compare as arrays (same
    shape, ``np.allclose``); tuples, lists of arrays and dicts compare item by
    item; anything else compares with ``==``.
    """
    return _compare(received, expected, rtol, atol)[0]


def _format(value, limit=6):
    """A short, rounded rendering of a value for a one-line message."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_format(v, limit)}" for k, v in value.items()) + "}"
    if isinstance(value, (tuple, list)) and not _is_numeric_sequence(value):
        inner = ", ".join(_format(v, limit) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    array = _to_numpy(value)
    if isinstance(array, np.ndarray) and array.dtype.kind in "biufc":
        if array.ndim == 0:
            number = array.item()
            if isinstance(number, float):
                return f"{number:.6g}"
            return repr(number)
        text = np.array2string(array.ravel()[:limit], precision=4, separator=", ", suppress_small=True)
        if array.size > limit:
            text = text[:-1] + ", ...]"
        return f"array of shape {array.shape}: {text}" if array.ndim > 1 or array.size > limit else text
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _sentence(text):
    return text if text.endswith((".", "?", "!")) else text + "."


def describe_difference(received, expected):
    """How two numeric arrays of one shape differ, in words: direction, ratio or offset, largest gap.

    Used when the cause of a wrong answer is not in the catalogue of known
    mistakes: the student is told *what* differs, not a guessed cause.
    Returns ``""`` when the arrays cannot be compared that way.
    """
    exp, rec = _to_numpy(expected), _to_numpy(received)
    if not (
        isinstance(exp, np.ndarray)
        and isinstance(rec, np.ndarray)
        and exp.shape == rec.shape
        and exp.dtype.kind in "biufc"
        and rec.dtype.kind in "biufc"
        and exp.size > 0
    ):
        return ""
    with np.errstate(all="ignore"):
        e, r = exp.astype(np.float64).ravel(), rec.astype(np.float64).ravel()
        bad = ~np.isfinite(r) & np.isfinite(e)
        if bad.any():
            return f"{int(bad.sum())} of {e.size} values are inf or nan where the answer is finite"
        d = r - e
        parts = []
        different = np.abs(d) > 1e-6 * (1.0 + np.abs(e))
        if different.any():
            if np.all(d[different] > 0) and different.all():
                parts.append("every value is larger than expected")
            elif np.all(d[different] < 0) and different.all():
                parts.append("every value is smaller than expected")
            elif e.size > 1:
                parts.append(
                    f"{int(different.sum())} of {e.size} values differ, some larger, some smaller"
                    if (d[different] > 0).any() and (d[different] < 0).any()
                    else f"{int(different.sum())} of {e.size} values differ"
                )
            nonzero = np.abs(e) > 1e-12
            if nonzero.all() and e.size > 1:
                ratio = r / e
                if np.allclose(ratio, ratio[0], rtol=1e-4):
                    parts.append(f"received = {ratio[0]:.4g} x expected")
            if e.size > 1 and np.allclose(d, d[0], rtol=1e-4, atol=1e-9) and not any(p.startswith("received =") for p in parts):
                parts.append(f"received = expected {'+' if d[0] >= 0 else '-'} {abs(d[0]):.4g}")
            if e.size > 1:
                where = int(np.argmax(np.abs(d)))
                index = tuple(int(i) for i in np.unravel_index(where, exp.shape))
                parts.append(f"largest difference {abs(d[where]):.3g} at index {index}")
            elif nonzero.all():
                ratio = r[0] / e[0]
                parts.append(f"{abs(d[0]):.3g} {'more' if d[0] > 0 else 'less'} than expected, {ratio:.4g} x expected")
    return "; ".join(parts)


def _mismatch(received, expected, reason):
    """One sentence on how ``received`` differs from ``expected``."""
    if reason:
        return _sentence(reason)
    text = f"expected {_format(expected)}, received {_format(received)}"
    how = describe_difference(received, expected)
    if how:
        text += f" ({how})"
    return _sentence(text)


def _format_call(name, case):
    if isinstance(case, dict):
        inner = ", ".join(f"{k}={_format(v, 3)}" for k, v in case.items())
    else:
        inner = ", ".join(_format(v, 3) for v in case)
    return f"{name}({inner})"


# --------------------------------------------------------------------------- #
# Reporting
# --------------------------------------------------------------------------- #
def _strict(strict):
    if strict is not None:
        return bool(strict)
    return os.environ.get("WORKSHOP_STRICT_CHECKS", "").strip().lower() not in _FALSE


_NUMPY_REPR = re.compile(r"\bnp\.(?:float|int|uint|complex|bool_?)\w*\(([^()]*)\)")
_MAX_MESSAGE = 400


def one_line(text, limit=_MAX_MESSAGE):
    """``text`` on one line: whitespace runs collapsed, ``np.float64(x)`` shown as ``x``, cut at ``limit`` characters."""
    text = " ".join(str(text).split())
    text = _NUMPY_REPR.sub(r"\1", text)
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def _finish(name, status, text, details, verbose, strict):
    result = CheckResult(name, status, one_line(f"{_LABELS[status]} {name}: {text}", 2 * _MAX_MESSAGE), details)
    return _report(result, verbose, strict)


def _report(result, verbose, strict):
    """Print ``result`` when ``verbose``; raise CheckFailed for a failure in strict mode; return it."""
    if verbose:
        print(result.message)
        result._shown = True
    if not result.passed and _strict(strict):
        raise CheckFailed(result.message)
    return result


def _library_roots():
    roots = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}  # the workshop package
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            roots.add(os.path.abspath(sysconfig.get_paths()[key]))
        except KeyError:
            pass
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        roots.add(os.path.join(os.path.abspath(prefix), "lib"))
    return tuple(sorted(roots))


def _is_library_file(filename):
    if filename.startswith("<frozen") or "__autograph_generated" in filename:
        return True
    path = os.path.abspath(filename)
    if any(part in path.split(os.sep) for part in ("site-packages", "dist-packages")):
        return True
    return any(path == root or path.startswith(root + os.sep) for root in _library_roots())


_TF_FRAME = re.compile(r'File "([^"]+)", line \d+, in [^\n]*\n\s*([^\n]+)')


def _tf_user_code(error):
    """(student line, underlying error line) from TensorFlow's "in user code:" message, if it has one."""
    text = str(error)
    if "in user code:" not in text:
        return None, None
    line = None
    for filename, code in _TF_FRAME.findall(text):
        if not _is_library_file(filename):
            line = code.strip()
    last = [row.strip() for row in text.splitlines() if row.strip()]
    return line, (last[-1] if last else None)


def _where_in_student_code(error):
    """The source line of the innermost frame in the student's own code (not a library's), if any."""
    line, _ = _tf_user_code(error)
    if line:
        return line
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = traceback.extract_tb(error.__traceback__)
        for frame in reversed(frames):
            if frame.line and not _is_library_file(frame.filename):
                return frame.line.strip()
        error = error.__cause__ or error.__context__
    return None


def _error_text(error):
    """``Type: first meaningful line of the message``, one line."""
    _, underlying = _tf_user_code(error)
    if underlying:
        return one_line(underlying if ":" in underlying else f"{type(error).__name__}: {underlying}", 240)
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    said = lines[0] if lines else ""
    if said.lower().startswith("exception encountered when calling") and len(lines) > 1:
        said = next((line for line in lines[1:] if not line.lower().startswith(("arguments received", "•"))), said)
    return one_line(f"{type(error).__name__}: {said}" if said else type(error).__name__, 240)


@contextlib.contextmanager
def quiet():
    """Hide NumPy floating-point warnings and Python warnings raised by the student's code."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def _numpy_on_symbolic(error):
    """TensorFlow raises NotImplementedError when NumPy meets a symbolic tensor: a mistake, not an unfinished stub."""
    said = str(error).lower()
    return "symbolic" in said and "numpy" in said


def _not_implemented(name, error, details, verbose, strict):
    if _numpy_on_symbolic(error):
        details["exception"] = error
        return _finish(name, "error", _sentence(explain_symbolic_failure(error)), details, verbose, strict)
    text = _TODO
    said = str(error).strip()
    if said and name not in said.split(":")[0]:
        # Raised by another unfinished exercise this one calls.
        text = f"{_TODO} (Raised: {said})"
    return _finish(name, "not_implemented", text, details, verbose, strict)


def _numpy_value_in_tape(error):
    """A NumPy call on an eager tensor returns a NumPy value; GradientTape then fails on it with an AttributeError."""
    said = str(error)
    return isinstance(error, AttributeError) and "'numpy." in said and "has no attribute" in said


_TENSOR_TYPES = r"(?:[\w.]*\.)?(?:EagerTensor|SymbolicTensor|Tensor|ResourceVariable|Variable|KerasVariable|KerasTensor)"
# TensorFlow writes "'EagerTensor' object has no attribute 'max'", and for the NumPy-like names it knows
# ("astype", "T", ...) "EagerTensor object has no attribute 'astype'" followed by a hint to enable NumPy behaviour.
_NO_ATTRIBUTE = re.compile(r"'?" + _TENSOR_TYPES + r"'? object has no attribute '(\w+)'")
_NO_ITEM_ASSIGNMENT = re.compile(r"'?" + _TENSOR_TYPES + r"'? object does not support item assignment")
# NumPy methods whose keras.ops function has the same name and takes the array first: x.max(axis=-1) -> ops.max(x, axis=-1)
_SAME_NAME_OPS = frozenset(
    "all any argmax argmin clip cumprod cumsum max mean min prod ravel repeat reshape round sort squeeze std sum "
    "swapaxes take trace transpose var".split()
)
_RENAMED_OPS = {
    "astype": "ops.cast(x, dtype)",
    "T": "ops.transpose(x)",
    "flatten": "ops.reshape(x, (-1,))",
    "dot": "ops.matmul(x, y)",
    "fill": "ops.full(shape, value)",
    "copy": "x itself (a tensor is never changed in place, so it needs no copy)",
}


def explain_tensor_misuse(error):
    """One line of advice when NumPy's array methods were used on a tensor (``x.max(axis=-1)``, ``x.astype(...)``,
    ``x[0] = 1``), which tensors do not have, eagerly or compiled; None for any other error."""
    said = str(error)
    match = _NO_ATTRIBUTE.search(said) if isinstance(error, AttributeError) else None
    if match:
        method = match.group(1)
        if method in _SAME_NAME_OPS:
            instead = f"ops.{method}(x, ...) instead of x.{method}(...)"
        elif method in _RENAMED_OPS:
            instead = f"{_RENAMED_OPS[method]} instead of x.{method}{'' if method == 'T' else '(...)'}"
        else:
            instead = "the keras.ops function instead of the method"
        return f"a NumPy method on a tensor: tensors have no `.{method}`; use keras.ops, {instead}"
    if isinstance(error, TypeError) and _NO_ITEM_ASSIGNMENT.search(said):
        return (
            "a NumPy-style assignment into a tensor (x[i] = ...): tensors cannot be changed in place; use keras.ops "
            "to build a new tensor (ops.where, ops.concatenate, ...)"
        )
    return None


def _error(name, error, where, details, verbose, strict):
    text = _error_text(error)
    misuse = explain_tensor_misuse(error)
    if misuse:
        text = f"{misuse} (raised {text})"
    elif _numpy_value_in_tape(error):
        text = (
            "a NumPy call (np.mean, np.sum, ...) turned a tensor into a NumPy value, which GradientTape cannot "
            f"differentiate: use keras.ops (ops.mean, ops.sum, ...) instead; raised {text}"
        )
    line = _where_in_student_code(error)
    if line:
        text = f"{text[:-1]}; at `{line}`)" if misuse else f"{text} (at `{line}`)"
    if where:
        text += f" {where}"
    return _finish(name, "error", _sentence(text), details, verbose, strict)


def _call(fn, case):
    case = _copy(case)
    with quiet():
        if isinstance(case, dict):
            return fn(**case)
        return fn(*case)


# --------------------------------------------------------------------------- #
# Running the student's function the way `fit` runs it
# --------------------------------------------------------------------------- #
_SYMBOLIC_HINTS = (
    (
        (
            "cannot convert a symbolic",
            "__array__",
            "numpy() is only available",
            "symbolic tf.tensor",
            "'symbolictensor' object",
            "to a numpy array",
        ),
        "a NumPy call (np.exp, np.sum, np.log, ...) or .numpy() received a symbolic tensor: "
        "use keras.ops (ops.exp, ops.sum, ops.log, ...) instead",
    ),
    (
        ("float() argument", "int() argument", "using a symbolic `tf.tensor` as a python `bool`", "as a python `bool`", "is not allowed"),
        "float(...), int(...) or a Python `if` on a tensor needs its value, which a compiled function does not "
        "have yet: keep it a tensor (keras.ops)",
    ),
    (
        (
            "failed to convert elements of (none",
            "none values not supported",
            "must be fully defined",
            "unsupported operand type(s) for",
            "'nonetype' object cannot be interpreted",
        ),
        "a shape read with `x.shape[0]` is None inside a compiled function: use ops.shape(x)",
    ),
)


def explain_symbolic_failure(error):
    """One line on why code that ran on arrays failed on the symbolic tensors of a compiled function."""
    said = str(error).lower()
    hint = explain_tensor_misuse(error) or next(
        (hint for needles, hint in _SYMBOLIC_HINTS if any(needle in said for needle in needles)),
        "it must run on symbolic tensors of unknown batch size",  # cause unknown: say where and what, without guessing
    )
    text = f"it works on arrays but fails inside a compiled function (tf.function, as in `fit`): {hint}"
    line = _where_in_student_code(error)
    if line:
        text += f" (at `{line}`"
        text += f"; raised {_error_text(error)})"
    else:
        text += f" (raised {_error_text(error)})"
    return text


def run_symbolic(fn, case):
    """Call ``fn`` on ``case`` inside a ``tf.function`` whose array arguments have an unknown batch size.

    Returns the output as NumPy. Arrays and tensors become float32 (integer
    arrays stay integer) tensor arguments with shape ``(None, ...)``; other
    arguments (functions, numbers, generators) are passed through unchanged.
    """
    import tensorflow as tf

    keys = list(case) if isinstance(case, dict) else list(range(len(case)))
    values = [case[k] for k in keys]
    tensor_at, specs, tensors = [], [], []
    for i, value in enumerate(values):
        array = _to_numpy(value)
        if isinstance(array, np.ndarray) and array.ndim >= 1 and array.dtype.kind in "biuf":
            dtype = "int32" if array.dtype.kind in "biu" else "float32"
            tensor_at.append(i)
            specs.append(tf.TensorSpec((None,) + array.shape[1:], dtype))
            tensors.append(tf.constant(array.astype(dtype)))

    def call(*args):
        filled = list(values)
        for i, arg in zip(tensor_at, args):
            filled[i] = arg
        if isinstance(case, dict):
            return fn(**dict(zip(keys, filled)))
        return fn(*filled)

    compiled = tf.function(call, input_signature=specs, jit_compile=False, autograph=False)  # as Keras runs train_step
    with quiet():
        out = compiled(*tensors)
    return tf.nest.map_structure(lambda t: np.asarray(t.numpy()) if hasattr(t, "numpy") else t, out)


def _copy(case):
    try:
        return copy.deepcopy(case)
    except Exception:  # some tensors cannot be deep-copied; they are immutable anyway
        return case


def _equal(received, expected, compare, rtol, atol):
    if compare is not None:
        outcome = compare(received, expected)
        if isinstance(outcome, tuple):
            return bool(outcome[0]), outcome[1] if len(outcome) > 1 else None
        return bool(outcome), None
    return _compare(received, expected, rtol, atol)


def _normalise_cases(cases):
    if not isinstance(cases, (list, tuple)) or len(cases) == 0:
        raise ValueError(f"Expected a non-empty list of cases. Received: cases={cases!r}")
    normalised = []
    for case in cases:
        if isinstance(case, dict):
            normalised.append(case)
        elif isinstance(case, tuple):
            normalised.append(case)
        elif isinstance(case, list):
            normalised.append(tuple(case))
        else:
            raise ValueError(f"Expected each case to be a tuple of positional arguments or a dict of keyword arguments. Received: {case!r}")
    return normalised


# --------------------------------------------------------------------------- #
# Public checks
# --------------------------------------------------------------------------- #
def check_function(
    name,
    student_fn,
    reference_fn,
    cases,
    mistakes=(),
    compare=None,
    rtol=1e-5,
    atol=1e-6,
    verbose=True,
    strict=None,
    symbolic=False,
):
    """Run the student's function and the reference on each case and compare.

    The first case that fails decides the result. When the student's output
    differs from the reference, each known mistake is tried on that case; if the
    output matches one, its hint is shown.

    Args:
        name: the exercise name shown to the student (e.g. ``"kl_gaussians"``).
        student_fn: the function the student wrote.
        reference_fn: the correct implementation (usually from ``workshop``).
        cases: list of argument tuples ``(a, b)`` or keyword dicts ``{"a": a}``.
            Arguments are deep-copied for every call, so an in-place edit by
            the student cannot change the reference's input.
        mistakes: sequence of ``(hint, wrong_fn)`` pairs; ``wrong_fn`` takes the
            same arguments and computes a typical wrong answer.
        compare: optional ``compare(received, expected)`` returning a bool or
            ``(bool, reason)``; replaces the default numeric comparison.
        rtol, atol: tolerances of the default comparison (``np.allclose``).
        verbose: print the result line (what the student sees).
        strict: raise :class:`CheckFailed` unless passed; None reads
            ``WORKSHOP_STRICT_CHECKS``.
        symbolic: when every case passes, run the student's function once more,
            on the last case, inside a ``tf.function`` with symbolic tensors of
            unknown batch size (as ``fit`` runs a loss): NumPy calls, ``float()``
            of a tensor or ``x.shape[0]`` fail there with a message naming that.

    Returns:
        A :class:`CheckResult`.
    """
    cases = _normalise_cases(cases)
    details = {"cases": len(cases)}
    if not callable(student_fn):
        return _finish(
            name,
            "error",
            f"expected a function, received {_type_name(student_fn)}. Pass the function itself, without calling it.",
            details,
            verbose,
            strict,
        )
    for index, case in enumerate(cases):
        details["case"] = index
        call = _format_call(name, case)
        expected = _call(reference_fn, case)
        try:
            received = _call(student_fn, case)
        except NotImplementedError as error:
            return _not_implemented(name, error, details, verbose, strict)
        except Exception as error:
            details["exception"] = error
            return _error(name, error, f"on case {index + 1}: {call}", details, verbose, strict)
        ok, reason = _equal(received, expected, compare, rtol, atol)
        if ok:
            continue
        details.update(expected=expected, received=received, reason=reason)
        for hint, wrong_fn in mistakes:
            try:
                wrong = _call(wrong_fn, case)
            except Exception:
                continue
            if _equal(received, wrong, compare, rtol, atol)[0]:
                details["hint"] = hint
                return _finish(name, "mistake", f"{hint} (case {index + 1}: {call})", details, verbose, strict)
        text = f"case {index + 1} of {len(cases)}, {call}: " + _mismatch(received, expected, reason)
        return _finish(name, "wrong", text, details, verbose, strict)
    if symbolic:
        case = cases[-1]
        expected = _call(reference_fn, case)
        try:
            received = run_symbolic(student_fn, _copy(case))
        except Exception as error:
            details["exception"] = error
            details["symbolic"] = True
            return _finish(name, "error", _sentence(explain_symbolic_failure(error)), details, verbose, strict)
        ok, reason = _equal(received, expected, compare, rtol, atol)
        if not ok:
            details["symbolic"] = True
            text = "inside a compiled function (as in `fit`) it returns something else than on arrays: " + _mismatch(
                received, expected, reason
            )
            return _finish(name, "wrong", text, details, verbose, strict)
    return _finish(
        name,
        "passed",
        f"matches the reference on {len(cases)} case{'s' if len(cases) != 1 else ''}.",
        details,
        verbose,
        strict,
    )


def report(result, verbose=True, strict=None):
    """Show (and in strict mode raise for) a :class:`CheckResult` computed with ``verbose=False, strict=False``.

    For checks made of stages: compute each stage quietly, then report the one that decides.
    """
    prefix = f"{_LABELS[result.status]} {result.name}: "
    text = result.message[len(prefix) :] if result.message.startswith(prefix) else result.message
    return _finish(result.name, result.status, text, result.details, verbose, strict)


def check_value(
    name,
    student_value,
    expected,
    mistakes=(),
    compare=None,
    rtol=1e-5,
    atol=1e-6,
    verbose=True,
    strict=None,
):
    """Compare a value the student computed (a number, an array) with the answer.

    ``None`` or ``...`` (the placeholder a stub leaves) counts as not done yet.

    Args:
        name: the exercise name shown to the student.
        student_value: what the student computed.
        expected: the correct value.
        mistakes: sequence of ``(hint, wrong_value)`` pairs.
        compare, rtol, atol, verbose, strict: as in :func:`check_function`.

    Returns:
        A :class:`CheckResult`.
    """
    details = {}
    if student_value is None or student_value is Ellipsis:
        return _finish(
            name,
            "not_implemented",
            "compute the value and assign it to the variable, then run this cell again.",
            details,
            verbose,
            strict,
        )
    ok, reason = _equal(student_value, expected, compare, rtol, atol)
    if ok:
        return _finish(name, "passed", "matches the expected value.", details, verbose, strict)
    details.update(expected=expected, received=student_value, reason=reason)
    for hint, wrong in mistakes:
        if _equal(student_value, wrong, compare, rtol, atol)[0]:
            details["hint"] = hint
            return _finish(name, "mistake", hint, details, verbose, strict)
    return _finish(name, "wrong", _mismatch(student_value, expected, reason), details, verbose, strict)


def check_custom(name, fn, verbose=True, strict=None):
    """Run a hand-written check with the same reporting as the others.

    Use it for exercises that are not one function against a reference (a
    layer, a model, a training step): ``fn()`` does the work and returns
    ``(ok, message)`` (or just a bool). ``NotImplementedError`` and other
    exceptions raised inside ``fn`` are reported like in :func:`check_function`.

    Args:
        name: the exercise name shown to the student.
        fn: a function with no arguments returning ``(ok, message)`` or a bool.
        verbose, strict: as in :func:`check_function`.

    Returns:
        A :class:`CheckResult`.

    Example:
        >>> def _sampling_check():
        ...     z = student_layer([np.zeros((1000, 2)), np.zeros((1000, 2))])
        ...     std = float(np.std(z))
        ...     return abs(std - 1) < 0.1, f"samples have standard deviation {std:.3f}, expected 1"
        >>> check_custom("Sampling", _sampling_check)  # doctest: +SKIP
    """
    details = {}
    try:
        with quiet():
            outcome = fn()
    except NotImplementedError as error:
        return _not_implemented(name, error, details, verbose, strict)
    except Exception as error:
        details["exception"] = error
        return _error(name, error, None, details, verbose, strict)
    if isinstance(outcome, tuple):
        ok, message = bool(outcome[0]), (outcome[1] if len(outcome) > 1 else None)
    else:
        ok, message = bool(outcome), None
    if ok:
        return _finish(name, "passed", message or "all checks passed.", details, verbose, strict)
    text = message or "the result is not what was expected."
    return _finish(name, "wrong", _sentence(text), details, verbose, strict)


# --------------------------------------------------------------------------- #
# Watching for noise drawn with NumPy
# --------------------------------------------------------------------------- #
class _WatchedGenerator:
    """A NumPy Generator whose normal draws are recorded (everything else is passed through)."""

    def __init__(self, generator, calls):
        self._generator, self._calls = generator, calls

    def __getattr__(self, name):
        attribute = getattr(self._generator, name)
        if name in ("normal", "standard_normal"):
            self._calls.append(f"default_rng().{name}")
        return attribute


@contextlib.contextmanager
def numpy_noise_watched(calls):
    """While active, NumPy's normal draws still work but each one is appended to ``calls``.

    Lets a check name noise drawn with NumPy, which a compiled function (as in `fit`) draws
    once when traced and then repeats at every call.
    """
    names = ("normal", "randn", "standard_normal", "default_rng")
    originals = {name: getattr(np.random, name) for name in names}

    def watched(name):
        original = originals[name]
        if name == "default_rng":
            return lambda *args, **kwargs: _WatchedGenerator(original(*args, **kwargs), calls)

        def draw(*args, **kwargs):
            calls.append(f"np.random.{name}")
            return original(*args, **kwargs)

        return draw

    for name in names:
        setattr(np.random, name, watched(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(np.random, name, original)
