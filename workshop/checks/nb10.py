"""Exercise checks for notebook 10: a mixture-of-Gaussians prior.

Three exercises, all written with ``keras.ops``:

- :func:`check_mixture_log_density`: ``mixture_log_density(z, means, log_vars, logits)``,
  log p(z) under a mixture of diagonal Gaussians with weights softmax(logits),
  shape (N,), computed with a stable log-sum-exp.
- :func:`check_monte_carlo_kl`: ``monte_carlo_kl(z, z_mean, z_log_var, log_prior)``,
  the one-sample estimate log q(z | x) - log p(z), shape (N,).
- :func:`check_responsibilities`: ``responsibilities(z, means, log_vars, logits)``,
  p(k | z), shape (N, K), rows summing to 1.

Each check runs the student's function twice: eagerly on float32 tensors (where
known mistakes are recognised and named), then inside a compiled
``tf.function`` on symbolic tensors whose batch size is unknown, the way the
model's ``train_step`` calls it. The cases are fixed arrays from seeded NumPy
generators, so a verdict is the same on every run; they include codes far from
every component and very narrow components (where exp() underflows or
overflows in float32) and a single code (N = 1, where a squeeze without an axis
also drops the batch axis). Verdicts name the case by what it tests, not by its
arrays, so that a message stays short.
"""

import math

import numpy as np

from workshop.checks._core import _compare, _finish, _format_call, check_function, explain_symbolic_failure

__all__ = ["check_mixture_log_density", "check_monte_carlo_kl", "check_responsibilities"]

_LOG_2PI = math.log(2.0 * math.pi)


def _ops():
    from keras import ops

    return ops


def _tensors(args):
    ops = _ops()
    return tuple(ops.convert_to_tensor(np.asarray(a, dtype="float32")) for a in args)


def _eager(student_fn):
    """The student's function called on float32 tensors (as the model would)."""

    def run(*args):
        return student_fn(*_tensors(args))

    return run


def _name_cases(name, message, cases, labels):
    """Replace the arrays of each case in ``message`` by the case's label."""
    for index, (case, label) in enumerate(zip(cases, labels)):
        call = " ".join(_format_call(name, case).split())  # as one_line wrote it
        message = message.replace(f"case {index + 1}: {call}", f"case {index + 1}: {label}")
        message = message.replace(f", {call}:", f" ({label}):")
    return message


def _compiled_call(student_fn, signature, args):
    """``student_fn`` in a new tf.function on symbolic tensors; a new trace per call is intended, so no retracing warning."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        return tf.function(student_fn, input_signature=signature, autograph=False)(*args)  # as _core.run_symbolic
    finally:
        logger.setLevel(level)


def _check_compiled(name, student_fn, reference_fn, cases, labels, batch_args, equal, verbose, strict, details):
    """Run ``student_fn`` inside a tf.function on symbolic tensors of unknown batch size; compare with the reference."""
    import tensorflow as tf

    for index, case in enumerate(cases):
        args = _tensors(case)
        signature = [tf.TensorSpec((None, *a.shape[1:]) if i in batch_args else a.shape, tf.float32) for i, a in enumerate(args)]
        expected = reference_fn(*case)
        try:
            received = _compiled_call(student_fn, signature, args)
        except Exception as error:  # NumPy on a symbolic tensor, float() of a tensor, a fixed batch size, ...
            details["exception"] = error
            details["symbolic"] = True
            return _finish(name, "error", explain_symbolic_failure(error) + ".", details, verbose, strict)
        if not equal(received, expected, case)[0]:
            details["symbolic"] = True
            text = (
                "avoid Python control flow on tensor values and NumPy calls: inside a compiled function it gives "
                f"other numbers than on concrete tensors (case {index + 1}: {labels[index]})."
            )
            return _finish(name, "wrong", text, details, verbose, strict)
    return _finish(
        name,
        "passed",
        f"matches the reference on {len(cases)} cases, eagerly and inside a compiled function.",
        details,
        verbose,
        strict,
    )


def _check(name, student_fn, reference_fn, cases, labels, mistakes, batch_args, rtol, atol, verbose, strict, tolerance=None):
    """Eager check with named mistakes, then the compiled one.

    ``tolerance(case)``, when given, returns the case's own tolerance (used as
    both rtol and atol, never below ``rtol``/``atol``) and rows of the output
    must sum to 1 within it.
    """
    if not callable(student_fn):
        return check_function(name, student_fn, reference_fn, cases, verbose=verbose, strict=strict)
    current = {}

    def reference(*case):
        current["case"] = case
        return reference_fn(*case)

    def equal(received, expected, case=None):
        case = current.get("case") if case is None else case
        if tolerance is None:
            return _compare(received, expected, rtol, atol)
        tol = max(rtol, atol, tolerance(case))
        ok, reason = _compare(received, expected, tol, tol)
        if reason or ok:
            return ok, reason
        return False, _rows_reason(received, tol)

    result = check_function(name, _eager(student_fn), reference, cases, mistakes=mistakes, compare=equal, verbose=False, strict=False)
    if not result.passed:
        text = _name_cases(name, result.message.split(f"{name}: ", 1)[1], cases, labels)
        return _finish(name, result.status, text, result.details, verbose, strict)
    return _check_compiled(name, student_fn, reference_fn, cases, labels, batch_args, equal, verbose, strict, result.details)


def _rows_reason(received, tol):
    """Why probabilities that match nothing known are wrong: not finite, or rows that do not sum to 1."""
    from workshop.checks._core import _to_numpy

    rec = np.asarray(_to_numpy(received), dtype="float64")
    if not np.all(np.isfinite(rec)):
        return (
            "normalise with ops.softmax(a, axis=-1), which subtracts the largest a_k first: your output has nan or inf "
            "(0/0 where every exp(a_k) underflows, far from every component)"
        )
    sums = rec.sum(axis=-1)
    if np.max(np.abs(sums - 1.0)) > tol:
        return (
            f"normalise each row over the components (the last axis): p(k | z) must sum to 1 over k, and your row sums "
            f"range from {sums.min():.4g} to {sums.max():.4g}"
        )
    return None


# --------------------------------------------------------------------------- #
# Shared pieces (keras.ops, so that they also run as "student" answers in the tests)
# --------------------------------------------------------------------------- #
def _log_normal(z, means, log_vars):
    """log N(z; m_k, diag exp(s_k)) for every code and component, shape (N, K)."""
    ops = _ops()
    diff = z[:, None, :] - means[None, :, :]
    return -0.5 * ops.sum(_LOG_2PI + log_vars[None] + ops.square(diff) * ops.exp(-log_vars[None]), axis=-1)


def _log_weights(logits):
    ops = _ops()
    return logits - ops.logsumexp(logits, axis=-1, keepdims=True)


def _cast(*args):
    ops = _ops()
    return tuple(ops.cast(ops.convert_to_tensor(a), "float32") for a in args)


def _mixture_cases():
    rng = np.random.default_rng(10)
    f = lambda a: np.asarray(a, dtype="float32")  # noqa: E731
    n, k, d = 5, 3, 2
    general = (
        f(rng.normal(size=(n, d)) * 1.5),
        f(rng.normal(size=(k, d)) * 2.0),
        f(rng.normal(size=(k, d)) * 0.5),
        f([1.2, -0.4, 0.3]),
    )
    one_component = (f(rng.normal(size=(4, 3))), f(rng.normal(size=(1, 3))), f(rng.normal(size=(1, 3)) * 0.3), f([0.7]))
    # Codes far from every component: each term is about -10^4 nats, exp() underflows to 0 in float32.
    far = (
        f([[300.0, -250.0], [-400.0, 120.0]]),
        f([[0.0, 0.0], [5.0, 5.0], [-5.0, 2.0]]),
        f([[0.0, 0.0], [1.0, -1.0], [0.5, 0.5]]),
        f([0.0, 2.0, -1.0]),
    )
    # Codes at the mean of very narrow components: each term is about +90 nats, exp() overflows float32.
    narrow = (
        f([[0.0] * 10, [0.01] * 10]),
        f([[0.0] * 10, [0.02] * 10]),
        f([[-20.0] * 10, [-20.0] * 10]),
        f([0.5, -0.5]),
    )
    # One code (N = 1): a squeeze without an axis also removes the batch axis.
    single = (f(rng.normal(size=(1, 3))), f(rng.normal(size=(4, 3))), f(rng.normal(size=(4, 3)) * 0.3), f([0.2, -0.1, 0.0, 0.4]))
    return [general, one_component, far, narrow, single]


MIXTURE_CASE_LABELS = [
    "general codes",
    "one component",
    "codes far from every component",
    "codes at the centre of very narrow components",
    "one code, N = 1",
]


def _squeezed(fn):
    """``fn``'s output passed through ops.squeeze without an axis (wrong only when N = 1)."""
    return lambda *args: _ops().squeeze(fn(*args))


def _float32_tolerance(case):
    """The float32 accuracy of routes through exp(a_k - log p(z)): two roundings of numbers as large as |log p(z)|.

    float32 rounds x to within |x| * 2**-24; exp() turns an error of delta nats in its
    argument into a relative error of about delta.
    """
    scale = float(np.max(np.abs(_ops().convert_to_numpy(reference_mixture_log_density(*case)))))
    return 2.0 * scale * 2.0**-24


# --------------------------------------------------------------------------- #
# Exercise 1: the mixture log-density
# --------------------------------------------------------------------------- #
def reference_mixture_log_density(z, means, log_vars, logits):
    """log sum_k softmax(logits)_k N(z; means_k, diag exp(log_vars_k)), stable, shape (N,)."""
    ops = _ops()
    z, means, log_vars, logits = _cast(z, means, log_vars, logits)
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=-1)


def _naive_log_density(z, means, log_vars, logits):
    ops = _ops()
    z, means, log_vars, logits = _cast(z, means, log_vars, logits)
    return ops.log(ops.sum(ops.exp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars)), axis=-1))


MIXTURE_LOG_DENSITY_MISTAKES = [
    (
        "subtract the largest term before exponentiating and add it back after the log (ops.logsumexp does): "
        "log(sum(exp(...))) computed directly underflows to log 0 = -inf far from every component.",
        _naive_log_density,
    ),
    (
        "add the log-weights log pi_k to each component's log-density before combining: the mixture weights are missing.",
        lambda z, means, log_vars, logits: _ops().logsumexp(_log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "use log pi_k = logits_k - logsumexp(logits), not the raw logits: the weights must sum to 1.",
        lambda z, means, log_vars, logits: _ops().logsumexp(_cast(logits)[0][None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "combine the components with a log-sum-exp, not a sum of the log-terms: a mixture adds densities, not log-densities.",
        lambda z, means, log_vars, logits: _ops().sum(
            _log_weights(_cast(logits)[0])[None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1
        ),
    ),
    (
        "combine all the components with a log-sum-exp: you kept only the largest term (a max over the components).",
        lambda z, means, log_vars, logits: _ops().max(
            _log_weights(_cast(logits)[0])[None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1
        ),
    ),
    (
        "add the constant -d/2 * log(2 pi) to each Gaussian log-density: it is missing.",
        lambda z, means, log_vars, logits: (
            reference_mixture_log_density(z, means, log_vars, logits) + 0.5 * np.asarray(z).shape[-1] * _LOG_2PI
        ),
    ),
    (
        "add -1/2 * sum_j log s_kj^2 to each Gaussian log-density: the log-variance term is missing.",
        lambda z, means, log_vars, logits: _ops().logsumexp(
            _log_weights(_cast(logits)[0])[None, :]
            + _log_normal(*_cast(z, means, log_vars))
            + 0.5 * _ops().sum(_cast(log_vars)[0], axis=-1)[None, :],
            axis=-1,
        ),
    ),
    (
        "give ops.squeeze an axis (axis=-1), or do not squeeze: without one, it also drops the batch axis when N = 1.",
        _squeezed(reference_mixture_log_density),
    ),
]


def check_mixture_log_density(student_fn, verbose=True, strict=None):
    """Check ``mixture_log_density(z, means, log_vars, logits)``: log p(z), shape (N,), stable.

    Args:
        student_fn: the student's function; ``z`` (N, d), ``means`` and ``log_vars`` (K, d), ``logits`` (K,).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check(
        "mixture_log_density",
        student_fn,
        reference_mixture_log_density,
        _mixture_cases(),
        MIXTURE_CASE_LABELS,
        MIXTURE_LOG_DENSITY_MISTAKES,
        batch_args=(0,),
        rtol=1e-5,
        atol=1e-3,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# Exercise 2: the Monte Carlo KL
# --------------------------------------------------------------------------- #
def _log_q(z, z_mean, z_log_var):
    ops = _ops()
    return -0.5 * ops.sum(_LOG_2PI + z_log_var + ops.square(z - z_mean) * ops.exp(-z_log_var), axis=-1)


def reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior):
    """log q(z | x) - log p(z) per code, shape (N,)."""
    z, z_mean, z_log_var, log_prior = _cast(z, z_mean, z_log_var, log_prior)
    return _log_q(z, z_mean, z_log_var) - log_prior


def _kl_cases():
    rng = np.random.default_rng(11)
    f = lambda a: np.asarray(a, dtype="float32")  # noqa: E731
    cases = []
    for n, d in ((4, 2), (3, 5), (1, 1), (1, 3)):
        z_mean = rng.normal(size=(n, d))
        z_log_var = rng.normal(size=(n, d)) * 0.7 - 0.5
        z = z_mean + np.exp(0.5 * z_log_var) * rng.normal(size=(n, d))
        log_prior = rng.normal(size=(n,)) * 2.0 - 3.0 * d
        cases.append((f(z), f(z_mean), f(z_log_var), f(log_prior)))
    # Extreme magnitudes: codes 40 standard deviations from very narrow or very wide posteriors,
    # where a density computed first and logged after underflows to 0 (log 0 = -inf).
    z_mean = np.zeros((3, 4))
    z_log_var = np.array([[-20.0] * 4, [8.0] * 4, [-10.0, 0.0, 5.0, -3.0]])
    z = z_mean + 40.0 * np.exp(0.5 * z_log_var)
    cases.append((f(z), f(z_mean), f(z_log_var), f([-1.0e4, -50.0, -3.0e3])))
    return cases


KL_CASE_LABELS = [
    "general codes, d = 2",
    "general codes, d = 5",
    "one code, N = 1, d = 1",
    "one code, N = 1, d = 3",
    "codes 40 standard deviations from very narrow and very wide posteriors",
]


def _log_of_density(z, z_mean, z_log_var, log_prior):
    ops = _ops()
    z, z_mean, z_log_var, log_prior = _cast(z, z_mean, z_log_var, log_prior)
    density = ops.exp(-0.5 * ops.square(z - z_mean) * ops.exp(-z_log_var)) / ops.sqrt(2.0 * math.pi * ops.exp(z_log_var))
    return ops.log(ops.prod(density, axis=-1)) - log_prior


MONTE_CARLO_KL_MISTAKES = [
    (
        "return log q(z | x) - log p(z), whose average over z ~ q is the KL: the sign is flipped.",
        lambda z, z_mean, z_log_var, log_prior: -reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior),
    ),
    (
        "estimate log q(z | x) - log p(z) at the given code z, with the given log_prior: you used the closed-form KL to N(0, I).",
        lambda z, z_mean, z_log_var, log_prior: (
            0.5 * _ops().sum(_ops().exp(_cast(z_log_var)[0]) + _ops().square(_cast(z_mean)[0]) - 1.0 - _cast(z_log_var)[0], axis=-1)
        ),
    ),
    (
        "add -1/2 * sum_j log sigma_j^2 to log q(z | x): the log-variance term is missing.",
        lambda z, z_mean, z_log_var, log_prior: (
            reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior) + 0.5 * _ops().sum(_cast(z_log_var)[0], axis=-1)
        ),
    ),
    (
        "add the constant -d/2 * log(2 pi) to log q(z | x): it does not cancel, because log_prior is a log-density.",
        lambda z, z_mean, z_log_var, log_prior: (
            reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior) + 0.5 * np.asarray(z).shape[-1] * _LOG_2PI
        ),
    ),
    (
        "evaluate log q(z | x) under the encoder's Gaussian N(z_mean, exp(z_log_var)), not under N(0, I).",
        lambda z, z_mean, z_log_var, log_prior: _log_q(*_cast(z, np.zeros_like(z), np.zeros_like(z))) - _cast(log_prior)[0],
    ),
    (
        "compute log q(z | x) in log space, as a sum of log-densities: a density computed first underflows to 0 "
        "far from the mean, and log 0 = -inf.",
        _log_of_density,
    ),
    (
        "give ops.squeeze an axis (axis=-1), or do not squeeze: without one, it also drops the batch axis when N = 1.",
        _squeezed(reference_monte_carlo_kl),
    ),
]


def check_monte_carlo_kl(student_fn, verbose=True, strict=None):
    """Check ``monte_carlo_kl(z, z_mean, z_log_var, log_prior)`` = log q(z | x) - log p(z), shape (N,).

    Args:
        student_fn: the student's function; ``z``, ``z_mean``, ``z_log_var`` (N, d), ``log_prior`` (N,).
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check(
        "monte_carlo_kl",
        student_fn,
        reference_monte_carlo_kl,
        _kl_cases(),
        KL_CASE_LABELS,
        MONTE_CARLO_KL_MISTAKES,
        batch_args=(0, 1, 2, 3),
        rtol=1e-5,
        atol=1e-4,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# Exercise 3: the responsibilities
# --------------------------------------------------------------------------- #
def _log_joint(z, means, log_vars, logits):
    z, means, log_vars, logits = _cast(z, means, log_vars, logits)
    return _log_weights(logits)[None, :] + _log_normal(z, means, log_vars)


def reference_responsibilities(z, means, log_vars, logits):
    """p(k | z) = pi_k N(z; m_k, S_k) / sum_j pi_j N(z; m_j, S_j), shape (N, K)."""
    return _ops().softmax(_log_joint(z, means, log_vars, logits), axis=-1)


def _responsibility_cases():
    general, _, far, narrow, single = _mixture_cases()  # one component has responsibility 1 whatever the code
    return [general, far, narrow, single]


RESPONSIBILITY_CASE_LABELS = [MIXTURE_CASE_LABELS[i] for i in (0, 2, 3, 4)]

RESPONSIBILITIES_MISTAKES = [
    (
        "divide pi_k N(z; m_k, S_k) by its sum over the components, p(z): the rows do not sum to 1.",
        lambda *args: _ops().exp(_log_joint(*args)),
    ),
    (
        "subtract the largest a_j before exponentiating (ops.softmax does): exp(a_k) / sum_j exp(a_j) computed "
        "directly gives 0 / 0 = nan far from every component.",
        lambda *args: _ops().exp(_log_joint(*args)) / _ops().sum(_ops().exp(_log_joint(*args)), axis=-1, keepdims=True),
    ),
    (
        "add the log-weights log pi_k: p(k | z) is proportional to pi_k N(z; m_k, S_k), not to N(z; m_k, S_k) alone.",
        lambda z, means, log_vars, logits: _ops().softmax(_log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "normalise over the components (axis=-1): each code's row must sum to 1, not each component's column.",
        lambda *args: _ops().softmax(_log_joint(*args), axis=0),
    ),
    (
        "take exp of your result: these are log-responsibilities, and the exercise asks for p(k | z) itself.",
        lambda *args: _ops().log_softmax(_log_joint(*args), axis=-1),
    ),
    (
        "give ops.squeeze an axis, or do not squeeze: without one, it also drops the batch axis when N = 1.",
        _squeezed(reference_responsibilities),
    ),
]


def check_responsibilities(student_fn, verbose=True, strict=None):
    """Check ``responsibilities(z, means, log_vars, logits)`` = p(k | z), shape (N, K).

    ``softmax(a)`` and ``exp(a - log p(z))`` (with ``log p(z)`` a log-sum-exp) are both
    correct. The second inherits the float32 rounding of ``log p(z)``, which is
    about ``|log p(z)| * 2**-24`` nats (0.015 nats at 2.4e5) and becomes a relative
    error of the same size after exp(): each case is compared within two such
    roundings (never tighter than 1e-4), and rows must sum to 1 within the same
    tolerance.

    Args:
        student_fn: the student's function, with the arguments of ``mixture_log_density``.
        verbose, strict: as in :func:`workshop.checks.check_function`.

    Returns:
        A :class:`workshop.checks.CheckResult`.
    """
    return _check(
        "responsibilities",
        student_fn,
        reference_responsibilities,
        _responsibility_cases(),
        RESPONSIBILITY_CASE_LABELS,
        RESPONSIBILITIES_MISTAKES,
        batch_args=(0,),
        rtol=1e-4,
        atol=1e-5,
        verbose=verbose,
        strict=strict,
        tolerance=_float32_tolerance,
    )
