"""Exercise checks for notebook 08, "How good is the model?".

Four exercises:

- :func:`check_log_mean_exp`: ``log_mean_exp(log_w)``, the K-sample importance-weighted
  bound of each image from its log-weights (shape (N, K) -> (N,)), on tensors, stable
  for log-weights of -1,000 nats. Run on symbolic tensors inside a ``tf.function``.
- :func:`check_optimize_q`: ``optimize_q(log_likelihood, x, z_mean, z_log_var, steps,
  learning_rate, num_samples)``, the per-image optimisation of a diagonal Gaussian q with
  the decoder frozen. Checked on a linear-Gaussian model, where the best diagonal
  Gaussian is known in closed form.
- :func:`check_kl_warmup_weight`: ``kl_warmup_weight(epoch, warmup_epochs)``.
- :func:`check_free_bits_kl`: ``free_bits_kl(z_mean, z_log_var, free_bits)``, the
  free-bits KL penalty of a batch, on symbolic tensors inside a ``tf.function``.

The references are the package's (:func:`workshop.losses.free_bits_kl`,
:func:`workshop.losses.kl_warmup_weight`, :func:`workshop.evaluation.log_mean_exp`).
"""

import math

import numpy as np

from workshop.checks._core import _to_numpy, check_function

__all__ = ["check_free_bits_kl", "check_kl_warmup_weight", "check_log_mean_exp", "check_optimize_q"]


def _ops():
    from keras import ops  # lazily: importing `workshop.checks` must not start TensorFlow

    return ops


def _compiled(fn):
    """Run ``fn`` on symbolic tensors inside a tf.function (as in a train_step), return NumPy."""

    def run(*args):
        import tensorflow as tf

        tensors = [tf.constant(np.asarray(a, dtype="float32")) if isinstance(a, np.ndarray) else a for a in args]
        logger = tf.get_logger()
        level = logger.level
        logger.setLevel("ERROR")  # one new trace per case is intended: no retracing warning
        try:
            out = tf.function(lambda *t: fn(*t), autograph=False)(*tensors)
        finally:
            logger.setLevel(level)
        return None if out is None else np.asarray(_to_numpy(out), dtype="float64")

    return run


def _finite_compare(received, expected):
    exp = np.asarray(expected, dtype="float64")
    if received is None:
        return False, "received None: did you forget the `return` statement?"
    rec = np.asarray(received, dtype="float64")
    if rec.shape != exp.shape:
        return False, f"shape mismatch: expected shape {exp.shape}, received shape {rec.shape}"
    fe, fr = np.isfinite(exp), np.isfinite(rec)
    if not np.array_equal(fe, fr):
        return False, f"{int(np.sum(fe & ~fr))} of {exp.size} values are inf or nan where the answer is finite"
    return bool(np.allclose(rec[fe], exp[fe], rtol=1e-5, atol=1e-4)), None


# --------------------------------------------------------------------------- #
# 1. log_mean_exp
# --------------------------------------------------------------------------- #
def reference_log_mean_exp(log_w):
    """log (1/K) sum_k exp(log_w[:, k]) per row, on tensors."""
    ops = _ops()
    k = ops.cast(ops.shape(log_w)[-1], log_w.dtype)
    return ops.logsumexp(log_w, axis=-1) - ops.log(k)


def _log_w_cases():
    rng = np.random.default_rng(8)
    return [
        (rng.normal(-2.0, 1.0, size=(3, 5)),),  # small numbers: every formula is finite here
        (rng.normal(-120.0, 4.0, size=(4, 10)),),  # typical MNIST log-weights: exp underflows in float32
        (rng.normal(-1000.0, 30.0, size=(2, 50)),),
        (np.array([[-300.0], [-95.0]]),),  # K = 1: the bound is the log-weight itself
    ]


def _lme(expr):
    return lambda log_w: expr(_ops(), log_w)


_LOG_MEAN_EXP_MISTAKES = [
    (
        "log(mean(exp(log_w))) computed directly: exp of log-weights around -100 underflows to 0 in "
        "float32, so the log is -inf. Take the largest log-weight out of the sum first.",
        _lme(lambda ops, a: ops.log(ops.mean(ops.exp(a), axis=-1))),
    ),
    (
        "the - log K is missing: you returned log SUM exp; the bound averages the K weights.",
        _lme(lambda ops, a: ops.logsumexp(a, axis=-1)),
    ),
    (
        "the maximum you subtracted inside the exp is not added back outside the log.",
        _lme(lambda ops, a: ops.log(ops.mean(ops.exp(a - ops.max(a, axis=-1, keepdims=True)), axis=-1))),
    ),
    (
        "you averaged the log-weights: that is the mean of K ELBO estimates (Jensen's inequality is on "
        "the wrong side of the log). Average the weights, then take the log.",
        _lme(lambda ops, a: ops.mean(a, axis=-1)),
    ),
    (
        "log K is added instead of subtracted: log mean = log sum - log K.",
        _lme(lambda ops, a: ops.logsumexp(a, axis=-1) + ops.log(ops.cast(ops.shape(a)[-1], a.dtype))),
    ),
    (
        "you reduced over the images (axis 0): reduce over the K samples of each image (the last axis).",
        _lme(lambda ops, a: ops.logsumexp(a, axis=0) - ops.log(ops.cast(ops.shape(a)[0], a.dtype))),
    ),
]


def check_log_mean_exp(student_fn, verbose=True, strict=None):
    """Check ``log_mean_exp(log_w)`` (tensor (N, K) -> (N,)), traced inside a tf.function."""
    return check_function(
        "log_mean_exp",
        _compiled(student_fn) if callable(student_fn) else student_fn,
        _compiled(reference_log_mean_exp),
        _log_w_cases(),
        mistakes=[(hint, _compiled(fn)) for hint, fn in _LOG_MEAN_EXP_MISTAKES],
        compare=_finite_compare,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# 2. optimize_q: the best diagonal Gaussian for each image, decoder frozen
# --------------------------------------------------------------------------- #
_SIGMA = 1.0


def _linear_model():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(4, 2))  # p(x | z) = N(W z, sigma^2 I): D = 4, d = 2
    z_true = rng.normal(size=(3, 2))
    x = z_true @ w.T + _SIGMA * rng.normal(size=(3, 4))
    return w, x


def _linear_log_likelihood(w):
    wt = np.asarray(w.T, dtype="float32")

    def log_likelihood(x, z):
        ops = _ops()
        resid = x - ops.matmul(z, wt)
        return -0.5 * ops.sum(ops.square(resid), axis=-1) / _SIGMA**2 - 0.5 * 4 * math.log(2 * math.pi * _SIGMA**2)

    return log_likelihood


def _closed_form_optimum(w, x):
    precision = np.eye(2) + w.T @ w / _SIGMA**2
    mean = np.linalg.solve(precision, w.T @ x.T / _SIGMA**2).T
    return mean, np.broadcast_to(-np.log(np.diag(precision)), mean.shape)


def _elbo(w, x, mean, log_var):
    var = np.exp(log_var)
    rec = -0.5 * (np.sum((x - mean @ w.T) ** 2, axis=1) + var @ np.sum(w**2, axis=0)) / _SIGMA**2
    kl = 0.5 * np.sum(var + mean**2 - 1 - log_var, axis=1)
    return rec - 2 * math.log(2 * math.pi * _SIGMA**2) - kl


_OPT_STEPS, _OPT_LR, _OPT_SAMPLES = 400, 0.05, 32


def _run_optimize_q(fn):
    """Call an optimize_q on the linear model from a poor start; summarise where it ended."""
    import tensorflow as tf

    w, x = _linear_model()
    mean0 = np.zeros((3, 2), dtype="float32")
    log_var0 = np.zeros((3, 2), dtype="float32")
    out = fn(
        _linear_log_likelihood(w),
        tf.constant(x, dtype="float32"),
        mean0.copy(),
        log_var0.copy(),
        steps=_OPT_STEPS,
        learning_rate=_OPT_LR,
        num_samples=_OPT_SAMPLES,
    )
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"Expected optimize_q to return (z_mean, z_log_var). Received: {type(out).__name__}")
    mean, log_var = (np.asarray(_to_numpy(v), dtype="float64") for v in out)
    if mean.shape != (3, 2) or log_var.shape != (3, 2):
        raise ValueError(f"Expected z_mean and z_log_var of shape (3, 2). Received: {mean.shape} and {log_var.shape}")
    start, end = _elbo(w, x, mean0, log_var0), _elbo(w, x, mean, log_var)
    return {
        "mean": mean,
        "log_var": log_var,
        "elbo_down": not bool(np.mean(end) >= np.mean(start) - 1e-3),  # NaN (diverged) counts as down
        "unchanged": bool(np.allclose(mean, mean0) and np.allclose(log_var, log_var0)),
    }


def _optimize_q_compare(received, expected):
    if received["unchanged"] != expected.get("unchanged", received["unchanged"]):
        return False, "q did not move from its starting point"
    if expected.get("elbo_down") is not None and received["elbo_down"] != expected["elbo_down"]:
        return False, "the ELBO went down during the optimisation"
    for key, tol in (("mean", 0.15), ("log_var", 0.2)):
        if expected.get(key) is not None and not np.allclose(received[key], expected[key], atol=tol):
            return False, f"{key} ended at {np.round(received[key], 2).tolist()}, expected {np.round(expected[key], 2).tolist()}"
    return True, None


def _expected_optimum():
    w, x = _linear_model()
    mean, log_var = _closed_form_optimum(w, x)
    return {"mean": mean, "log_var": log_var, "elbo_down": False, "unchanged": False}


def _expected_no_kl():
    w, x = _linear_model()
    ml = np.linalg.lstsq(w, x.T, rcond=None)[0].T
    return {"mean": ml, "log_var": None, "elbo_down": None, "unchanged": False}


def _expected_no_noise():
    return {"mean": None, "log_var": np.zeros((3, 2)), "elbo_down": None, "unchanged": False}


_OPTIMIZE_Q_MISTAKES = [
    (
        "q never moved: the returned mean and log-variance are the starting values. Make them tf.Variable's, "
        "take the gradient of the loss with respect to them and apply it with the optimizer.",
        lambda: {"mean": None, "log_var": None, "elbo_down": None, "unchanged": True},
    ),
    (
        "the ELBO went DOWN: you minimised the ELBO instead of the negative ELBO (check the loss's sign).",
        lambda: {"mean": None, "log_var": None, "elbo_down": True, "unchanged": False},
    ),
    (
        "the mean went to the maximum-likelihood code and the variance shrank: the KL(q || p(z)) term of the loss is missing.",
        _expected_no_kl,
    ),
    (
        "the log-variance went to 0 (the prior's): it only feels the KL, so z was not sampled as "
        "mean + exp(log_var / 2) * eps inside the tape.",
        _expected_no_noise,
    ),
]


def reference_optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
    """Adam on each image's own negative ELBO over (mean, log-variance); the model is frozen."""
    import keras
    import tensorflow as tf

    ops = _ops()
    mean, log_var = tf.Variable(np.asarray(z_mean, "float32")), tf.Variable(np.asarray(z_log_var, "float32"))
    optimizer = keras.optimizers.Adam(learning_rate)
    x = ops.convert_to_tensor(x)
    n, d = mean.shape
    x_rep = ops.repeat(x, num_samples, axis=0)

    @tf.function
    def step():
        eps = tf.random.normal((n, num_samples, d))
        with tf.GradientTape() as tape:
            z = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * eps
            rec = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
            kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
            loss = ops.sum(kl - ops.mean(rec, axis=1))
        optimizer.apply(tape.gradient(loss, [mean, log_var]), [mean, log_var])

    for _ in range(steps):
        step()
    return mean.numpy(), log_var.numpy()


def check_optimize_q(student_fn, verbose=True, strict=None):
    """Check ``optimize_q`` on a linear-Gaussian model whose best diagonal Gaussian q is known exactly.

    The model is p(z) = N(0, I), p(x | z) = N(W z, I) with 2 latent and 4 observed
    dimensions. The best diagonal Gaussian for an image x has the exact posterior's
    mean and variances 1 / diag(I + W^T W): the student's optimisation, started at
    zero, must end within 0.15 of that mean and 0.2 of that log-variance.
    """

    def student(_):
        return _run_optimize_q(student_fn)

    if not callable(student_fn):
        student = student_fn
    return check_function(
        "optimize_q",
        student,
        lambda _: _expected_optimum(),
        [(0,)],
        mistakes=[(hint, lambda _, fn=fn: fn()) for hint, fn in _OPTIMIZE_Q_MISTAKES],
        compare=_optimize_q_compare,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# 3. KL warm-up
# --------------------------------------------------------------------------- #
def reference_kl_warmup_weight(epoch, warmup_epochs):
    from workshop.losses import kl_warmup_weight

    return kl_warmup_weight(epoch, warmup_epochs)


_WARMUP_CASES = [(0, 5), (1, 5), (3, 5), (5, 5), (8, 5), (0, 1), (4, 0)]

_WARMUP_MISTAKES = [
    (
        "off by one epoch: the first epoch (epoch 0) must train with weight 0, and the weight reaches 1 at "
        "epoch warmup_epochs, not one epoch earlier.",
        lambda e, n: min(1.0, (e + 1) / n),
    ),
    ("the weight keeps growing past 1 after the warm-up: clip it at 1.", lambda e, n: e / n),
    ("the weight reaches 1 one epoch early: divide by warmup_epochs, not warmup_epochs - 1.", lambda e, n: min(1.0, e / (n - 1))),
    ("the schedule runs backwards: the KL weight starts at 0 and rises to 1.", lambda e, n: max(0.0, 1.0 - e / n)),
]


def check_kl_warmup_weight(student_fn, verbose=True, strict=None):
    """Check ``kl_warmup_weight(epoch, warmup_epochs)``: min(1, epoch / warmup_epochs), 1 without warm-up."""
    return check_function(
        "kl_warmup_weight",
        student_fn,
        reference_kl_warmup_weight,
        _WARMUP_CASES,
        mistakes=_WARMUP_MISTAKES,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# 4. free bits
# --------------------------------------------------------------------------- #
def reference_free_bits_kl(z_mean, z_log_var, free_bits):
    from workshop.losses import free_bits_kl

    return free_bits_kl(z_mean, z_log_var, free_bits)


def _kl_dims(ops, m, lv):
    return 0.5 * (ops.exp(lv) + ops.square(m) - 1.0 - lv)


def _free_bits_cases():
    rng = np.random.default_rng(11)
    # dimension 0 carries a lot of KL, dimension 1 some, dimensions 2-3 almost none (collapsed)
    mean = rng.normal(size=(6, 4)) * np.array([2.0, 0.8, 0.05, 0.02])
    log_var = rng.normal(size=(6, 4)) * 0.1 + np.array([-3.0, -0.7, 0.0, 0.0])
    return [
        (mean, log_var, 0.7),
        (mean, log_var, 0.0),
        (mean[:3], log_var[:3], 2.0),
    ]


def _fb(expr):
    return lambda m, lv, lam: expr(_ops(), m, lv, lam)


_FREE_BITS_MISTAKES = [
    (
        "the floor is applied to the TOTAL KL: free bits floor each latent dimension's KL separately "
        "(max over the batch-mean KL of each dimension, then sum).",
        _fb(lambda ops, m, lv, lam: ops.maximum(ops.mean(ops.sum(_kl_dims(ops, m, lv), axis=-1)), lam)),
    ),
    (
        "the floor is applied to the total KL with lambda times the number of dimensions: that still lets "
        "one dimension carry everything while the others collapse. Floor each dimension.",
        _fb(
            lambda ops, m, lv, lam: ops.maximum(ops.mean(ops.sum(_kl_dims(ops, m, lv), axis=-1)), lam * ops.cast(ops.shape(m)[-1], m.dtype))
        ),
    ),
    (
        "the floor is applied per image and dimension: average each dimension's KL over the batch first, then take the max with lambda.",
        _fb(lambda ops, m, lv, lam: ops.mean(ops.sum(ops.maximum(_kl_dims(ops, m, lv), lam), axis=-1))),
    ),
    (
        "min where max is meant: the floor keeps each dimension's KL term from going BELOW lambda.",
        _fb(lambda ops, m, lv, lam: ops.sum(ops.minimum(ops.mean(_kl_dims(ops, m, lv), axis=0), lam))),
    ),
    (
        "you averaged over the latent dimensions: the KL of independent dimensions is their sum.",
        _fb(lambda ops, m, lv, lam: ops.mean(ops.maximum(ops.mean(_kl_dims(ops, m, lv), axis=0), lam))),
    ),
]


def check_free_bits_kl(student_fn, verbose=True, strict=None):
    """Check ``free_bits_kl(z_mean, z_log_var, free_bits)``, traced inside a tf.function."""

    def compiled(fn):
        def run(m, lv, lam):
            return _compiled(lambda a, b: fn(a, b, lam))(m, lv)

        return run

    return check_function(
        "free_bits_kl",
        compiled(student_fn) if callable(student_fn) else student_fn,
        compiled(reference_free_bits_kl),
        _free_bits_cases(),
        mistakes=[(hint, compiled(fn)) for hint, fn in _FREE_BITS_MISTAKES],
        compare=_finite_compare,
        verbose=verbose,
        strict=strict,
    )
