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
model's ``train_step`` calls it.
"""

import math

import numpy as np

from workshop.checks._core import _finish, _format_call, check_function, values_match

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


def _student_line(error):
    """The innermost source line outside this package and outside installed libraries, if any."""
    import os
    import traceback

    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = os.path.abspath(frame.filename)
        if frame.line and not path.startswith(here) and "site-packages" not in path:
            return frame.line.strip()
    return None


def _check_compiled(name, student_fn, reference_fn, cases, batch_args, rtol, atol, verbose, strict, details):
    """Run ``student_fn`` inside a tf.function on symbolic tensors; compare with the reference."""
    import tensorflow as tf

    for index, case in enumerate(cases):
        args = _tensors(case)
        signature = [tf.TensorSpec((None, *a.shape[1:]) if i in batch_args else a.shape, tf.float32) for i, a in enumerate(args)]
        expected = reference_fn(*args)
        try:
            received = tf.function(student_fn, input_signature=signature, autograph=True)(*args)
        except Exception as error:  # TensorFlow raises NotImplementedError for NumPy on a symbolic tensor
            details["exception"] = error
            lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
            first = lines[-1] if lines else ""
            text = (
                f"it works on concrete tensors but fails inside a compiled function on symbolic tensors "
                f"(case {index + 1}: {_format_call(name, case)}): {type(error).__name__}: {first[:200]}"
            )
            line = _student_line(error)
            if line:
                text += f" (at `{line}`)"
            text += ". Use keras.ops only (no NumPy, no Python floats of tensors, no fixed batch size)."
            return _finish(name, "error", text, details, verbose, strict)
        if not values_match(received, expected, rtol=rtol, atol=atol):
            text = (
                f"it gives the right numbers on concrete tensors but different ones inside a compiled function "
                f"(case {index + 1}: {_format_call(name, case)}): avoid Python control flow on tensor values."
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


def _check(name, student_fn, reference_fn, cases, mistakes, batch_args, rtol, atol, verbose, strict):
    if not callable(student_fn):
        return check_function(name, student_fn, reference_fn, cases, verbose=verbose, strict=strict)
    result = check_function(
        name,
        _eager(student_fn),
        reference_fn,
        cases,
        mistakes=mistakes,
        rtol=rtol,
        atol=atol,
        verbose=False,
        strict=False,
    )
    if not result.passed:
        return _finish(name, result.status, result.message.split(f"{name}: ", 1)[1], result.details, verbose, strict)
    return _check_compiled(name, student_fn, reference_fn, cases, batch_args, rtol, atol, verbose, strict, result.details)


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
    return [general, one_component, far, narrow]


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
        "log(sum(exp(...))) computed directly: far from every component exp() underflows to 0 (log 0 = -inf), "
        "and for narrow components it overflows to inf. Subtract the largest term before exponentiating "
        "and add it back after the log.",
        _naive_log_density,
    ),
    (
        "the mixture weights are missing: each component's log-density needs log pi_k added before combining.",
        lambda z, means, log_vars, logits: _ops().logsumexp(_log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "you added the raw logits where the log-weights log pi_k = log softmax(logits)_k are meant: the weights must sum to 1.",
        lambda z, means, log_vars, logits: _ops().logsumexp(_cast(logits)[0][None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "you summed the log-terms over the components: a mixture adds densities, not log-densities, so the combination is a log-sum-exp.",
        lambda z, means, log_vars, logits: _ops().sum(
            _log_weights(_cast(logits)[0])[None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1
        ),
    ),
    (
        "you kept only the largest term (a max over components): the log-sum-exp adds the other components' contributions too.",
        lambda z, means, log_vars, logits: _ops().max(
            _log_weights(_cast(logits)[0])[None, :] + _log_normal(*_cast(z, means, log_vars)), axis=-1
        ),
    ),
    (
        "the normalising constant of the Gaussian is missing (the log(2 pi) or the log-variance term): a density needs both.",
        lambda z, means, log_vars, logits: (
            reference_mixture_log_density(z, means, log_vars, logits) + 0.5 * np.asarray(z).shape[-1] * _LOG_2PI
        ),
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
    for n, d in ((4, 2), (3, 5), (1, 1)):
        z_mean = rng.normal(size=(n, d))
        z_log_var = rng.normal(size=(n, d)) * 0.7 - 0.5
        z = z_mean + np.exp(0.5 * z_log_var) * rng.normal(size=(n, d))
        log_prior = rng.normal(size=(n,)) * 2.0 - 3.0 * d
        cases.append((f(z), f(z_mean), f(z_log_var), f(log_prior)))
    return cases


MONTE_CARLO_KL_MISTAKES = [
    (
        "the sign is flipped: the estimate is log q(z | x) - log p(z), whose average over z ~ q is the KL "
        "(you returned log p(z) - log q(z | x)).",
        lambda z, z_mean, z_log_var, log_prior: -reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior),
    ),
    (
        "you used the closed-form KL to N(0, I): the prior here is `log_prior`, whatever it is; estimate "
        "log q(z | x) - log p(z) at the given code z.",
        lambda z, z_mean, z_log_var, log_prior: (
            0.5 * _ops().sum(_ops().exp(_cast(z_log_var)[0]) + _ops().square(_cast(z_mean)[0]) - 1.0 - _cast(z_log_var)[0], axis=-1)
        ),
    ),
    (
        "log q(z | x) misses the log-variance term -0.5 * sum(log sigma^2): the density of a wider Gaussian is lower.",
        lambda z, z_mean, z_log_var, log_prior: (
            reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior) + 0.5 * _ops().sum(_cast(z_log_var)[0], axis=-1)
        ),
    ),
    (
        "log q(z | x) misses the constant -d/2 * log(2 pi): with a prior that is a density, the constants do not cancel.",
        lambda z, z_mean, z_log_var, log_prior: (
            reference_monte_carlo_kl(z, z_mean, z_log_var, log_prior) + 0.5 * np.asarray(z).shape[-1] * _LOG_2PI
        ),
    ),
    (
        "log q(z | x) is evaluated under N(0, I) instead of the encoder's Gaussian N(z_mean, exp(z_log_var)).",
        lambda z, z_mean, z_log_var, log_prior: _log_q(*_cast(z, np.zeros_like(z), np.zeros_like(z))) - _cast(log_prior)[0],
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
    general, _, far, narrow = _mixture_cases()  # one component has responsibility 1 whatever the code
    return [general, far, narrow]


RESPONSIBILITIES_MISTAKES = [
    (
        "the rows do not sum to 1: divide pi_k N(z; m_k, S_k) by its sum over the components, p(z).",
        lambda *args: _ops().exp(_log_joint(*args)),
    ),
    (
        "exp(a_k) / sum_j exp(a_j) computed directly: far from every component both underflow to 0 and "
        "0 / 0 = nan. Subtract the largest a_j first (a softmax), or use log p(z) from exercise 1.",
        lambda *args: _ops().exp(_log_joint(*args)) / _ops().sum(_ops().exp(_log_joint(*args)), axis=-1, keepdims=True),
    ),
    (
        "the mixture weights are missing: p(k | z) is proportional to pi_k N(z; m_k, S_k), not to N(z; m_k, S_k) alone.",
        lambda z, means, log_vars, logits: _ops().softmax(_log_normal(*_cast(z, means, log_vars)), axis=-1),
    ),
    (
        "normalised over the wrong axis: each code's row (the components, the last axis) must sum to 1, not each component's column.",
        lambda *args: _ops().softmax(_log_joint(*args), axis=0),
    ),
    (
        "these are log-responsibilities: the exercise asks for the probabilities p(k | z) themselves.",
        lambda *args: _ops().log_softmax(_log_joint(*args), axis=-1),
    ),
]


def check_responsibilities(student_fn, verbose=True, strict=None):
    """Check ``responsibilities(z, means, log_vars, logits)`` = p(k | z), shape (N, K).

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
        RESPONSIBILITIES_MISTAKES,
        batch_args=(0,),
        rtol=1e-4,
        atol=1e-5,
        verbose=verbose,
        strict=strict,
    )
