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

import copy
import numbers
import os
import sys
import traceback
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
            return False, (
                f"expected a {type(expected).__name__} of {len(expected)} values, "
                f"received {_type_name(received)}"
            )
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
                f"shape mismatch: expected shape {exp.shape}, received shape {rec.shape}"
                " (check which axis you sum or average over)"
            )
        with np.errstate(invalid="ignore"):
            return bool(np.allclose(rec, exp, rtol=rtol, atol=atol, equal_nan=True)), None
    try:
        return bool(received == expected), None
    except Exception:
        return False, None


def _is_numeric_sequence(value):
    """A plain list/tuple of numbers is one array, not a structure of outputs."""
    return len(value) > 0 and all(
        isinstance(v, (numbers.Number, np.generic)) and not isinstance(v, bool) for v in value
    )


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
        text = np.array2string(
            array.ravel()[:limit], precision=4, separator=", ", suppress_small=True
        )
        if array.size > limit:
            text = text[:-1] + ", ...]"
        return f"array of shape {array.shape}: {text}" if array.ndim > 1 or array.size > limit else text
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _sentence(text):
    return text if text.endswith((".", "?", "!")) else text + "."


def _mismatch(received, expected, reason):
    """One sentence on how ``received`` differs from ``expected``."""
    if reason:
        return _sentence(reason)
    text = f"expected {_format(expected)}, received {_format(received)}"
    exp, rec = _to_numpy(expected), _to_numpy(received)
    if (
        isinstance(exp, np.ndarray) and isinstance(rec, np.ndarray)
        and exp.shape == rec.shape and exp.size > 1
        and exp.dtype.kind in "biufc" and rec.dtype.kind in "biufc"
    ):
        with np.errstate(invalid="ignore"):
            difference = np.abs(rec.astype(np.float64) - exp.astype(np.float64))
        if np.isfinite(difference).all():
            where = np.unravel_index(int(np.argmax(difference)), exp.shape)
            text += f" (largest difference {difference[where]:.3g} at index {tuple(int(i) for i in where)})"
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


def _finish(name, status, text, details, verbose, strict):
    result = CheckResult(name, status, f"{_LABELS[status]} {name}: {text}", details)
    if verbose:
        print(result.message)
        result._shown = True
    if not result.passed and _strict(strict):
        raise CheckFailed(result.message)
    return result


def _where_in_student_code(error):
    """The source line of the innermost frame outside this package, if any."""
    frames = traceback.extract_tb(error.__traceback__)
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(frames):
        if not os.path.abspath(frame.filename).startswith(here) and frame.line:
            return frame.line.strip()
    return None


def _not_implemented(name, error, details, verbose, strict):
    text = _TODO
    said = str(error).strip()
    if said and name not in said.split(":")[0]:
        # Raised by another unfinished exercise this one calls.
        text = f"{_TODO} (Raised: {said})"
    return _finish(name, "not_implemented", text, details, verbose, strict)


def _error(name, error, where, details, verbose, strict):
    text = f"{type(error).__name__}: {error}"
    line = _where_in_student_code(error)
    if line:
        text += f" (at `{line}`)"
    if where:
        text += f" {where}"
    return _finish(name, "error", _sentence(text), details, verbose, strict)


def _call(fn, case):
    case = _copy(case)
    if isinstance(case, dict):
        return fn(**case)
    return fn(*case)


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
            raise ValueError(
                "Expected each case to be a tuple of positional arguments or a dict of "
                f"keyword arguments. Received: {case!r}"
            )
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

    Returns:
        A :class:`CheckResult`.
    """
    cases = _normalise_cases(cases)
    details = {"cases": len(cases)}
    if not callable(student_fn):
        return _finish(
            name, "error",
            f"expected a function, received {_type_name(student_fn)}. Pass the function "
            "itself, without calling it.",
            details, verbose, strict,
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
                return _finish(
                    name, "mistake", f"{hint} (case {index + 1}: {call})", details, verbose, strict
                )
        text = f"case {index + 1} of {len(cases)}, {call}: " + _mismatch(received, expected, reason)
        return _finish(name, "wrong", text, details, verbose, strict)
    return _finish(
        name, "passed",
        f"matches the reference on {len(cases)} case{'s' if len(cases) != 1 else ''}.",
        details, verbose, strict,
    )


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
            name, "not_implemented",
            "compute the value and assign it to the variable, then run this cell again.",
            details, verbose, strict,
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

