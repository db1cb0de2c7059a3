"""Exercise checks for notebook 08, "How good is the model?".

Four exercises:

- :func:`check_log_mean_exp`: ``log_mean_exp(log_w)``, the K-sample importance-weighted
  bound of each image from its log-weights (shape (N, K) -> (N,)), on tensors, stable
  for log-weights of -1,000 nats and for rows spreading over hundreds of nats, and for
  N = 1. Run on symbolic tensors of unknown batch size inside a ``tf.function``.
- :func:`check_optimize_q`: ``optimize_q(log_likelihood, x, z_mean, z_log_var, steps,
  learning_rate, num_samples)``, the per-image optimisation of a diagonal Gaussian q with
  the decoder frozen. Checked on three linear-Gaussian models, where the best diagonal
  Gaussian is known in closed form: 80 seeded Adam steps each (the same verdict in every
  run, a few seconds even for an eager loop); a wrong answer is matched to a mistake by
  running that mistake's own implementation, so the hint names the real cause.
- :func:`check_kl_warmup_weight`: ``kl_warmup_weight(epoch, warmup_epochs)``, including
  epoch 0 without warm-up.
- :func:`check_free_bits_kl`: ``free_bits_kl(z_mean, z_log_var, free_bits)``, the
  free-bits KL penalty of a batch, on symbolic tensors of unknown batch size inside a
  ``tf.function``, including batches near the prior (variances near 1) and N = 1.

Errors that only a compiled function raises (``float()`` of a tensor, NumPy on a symbolic
tensor, a batch size read from a static shape) get the shared explanation of ``_core``.

The references are the package's (:func:`workshop.losses.free_bits_kl`,
:func:`workshop.losses.kl_warmup_weight`, :func:`workshop.evaluation.log_mean_exp`).
"""

import math

import numpy as np

from workshop.checks._core import _finish, _report, _to_numpy, check_function, explain_symbolic_failure, run_symbolic

__all__ = ["check_free_bits_kl", "check_kl_warmup_weight", "check_log_mean_exp", "check_optimize_q"]


def _ops():
    from keras import ops  # lazily: importing `workshop.checks` must not start TensorFlow

    return ops


class _QuietTF:
    """TensorFlow's logger at ERROR while a check runs: each case traces its own function, no retracing notes."""

    def __enter__(self):
        import tensorflow as tf

        self.logger = tf.get_logger()
        self.level = self.logger.level
        self.logger.setLevel("ERROR")

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def _compiled(fn):
    """Run ``fn`` inside a tf.function whose array arguments have an unknown batch size (as in a train_step)."""

    def run(*args):
        with _QuietTF():
            out = run_symbolic(fn, args)
        return None if out is None else np.asarray(_to_numpy(out), dtype="float64")

    return run


_SYMBOLIC_NEEDLES = (
    "symbolic",
    "float() argument",
    "int() argument",
    "as a python `bool`",
    "failed to convert elements of (none",
    "none values not supported",
    "must be fully defined",
    "unsupported operand type(s) for",
    "'nonetype' object cannot be interpreted",
)


def _explained(result, name, verbose, strict, where="inside a compiled function"):
    """Route an error that only a compiled function raises (float() of a tensor, NumPy on a symbolic tensor, a None
    batch size) through the shared explanation, then show the result."""
    error = result.details.get("exception")
    if result.status == "error" and error is not None and any(n in str(error).lower() for n in _SYMBOLIC_NEEDLES):
        text = explain_symbolic_failure(error)
        if where != "inside a compiled function":
            text = text.replace("it works on arrays but fails inside a compiled function (tf.function, as in `fit`)", where, 1)
        else:
            text = text.replace("it works on arrays but fails", "it fails", 1)
        result = _finish(name, "error", text[0].upper() + text[1:] + ".", result.details, False, False)
    return _report(result, verbose, strict)


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
    if not np.array_equal(exp[~fe], rec[~fr], equal_nan=True):  # -inf (an underflow) is not +inf (an overflow)
        return False, "inf or nan values of the other sign"
    return bool(np.allclose(rec[fe], exp[fe], rtol=1e-5, atol=1e-4)), None


def _tight_compare(received, expected):
    """As _finite_compare, with a relative tolerance that still sees differences in numbers near zero."""
    ok, reason = _finite_compare(received, expected)
    if not ok or reason:
        return ok, reason
    exp, rec = np.asarray(expected, dtype="float64"), np.asarray(received, dtype="float64")
    fe = np.isfinite(exp)
    return bool(np.allclose(rec[fe], exp[fe], rtol=1e-4, atol=1e-6)), None


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
        # rows spreading over hundreds of nats: exp(a - mean) or exp(a - min) overflows float32 (e^88.7)
        (np.array([[-50.0, -400.0, -900.0, -75.0], [-1200.0, -1000.0, -700.0, -690.0]]),),
        (np.array([[-300.0], [-95.0]]),),  # K = 1: the bound is the log-weight itself
        (rng.normal(-100.0, 5.0, size=(1, 6)),),  # a single image (N = 1)
    ]


def _lme(expr):
    return lambda log_w: expr(_ops(), log_w)


_LOG_MEAN_EXP_MISTAKES = [
    (  # before the direct form: where this one fails (a row far below another) the two give the same -inf
        "the maximum taken out of the sum must be each row's own, ops.max(log_w, axis=-1, keepdims=True): with one "
        "maximum for the whole batch, a row whose log-weights lie hundreds of nats below it still underflows to "
        "exp(...) = 0, and log 0 = -inf.",
        _lme(lambda ops, a: ops.max(a) + ops.log(ops.mean(ops.exp(a - ops.max(a)), axis=-1))),
    ),
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
        "exp(log_w - m) overflows to inf: m must be the row's MAXIMUM. With the mean or the minimum, a row whose "
        "log-weights spread over more than about 88 nats has exponents above 88.7, beyond float32.",
        _lme(lambda ops, a: ops.mean(a, axis=-1) + ops.log(ops.mean(ops.exp(a - ops.mean(a, axis=-1, keepdims=True)), axis=-1))),
    ),
    (
        "exp(log_w - m) overflows to inf: m must be the row's MAXIMUM. With the mean or the minimum, a row whose "
        "log-weights spread over more than about 88 nats has exponents above 88.7, beyond float32.",
        _lme(lambda ops, a: ops.min(a, axis=-1) + ops.log(ops.mean(ops.exp(a - ops.min(a, axis=-1, keepdims=True)), axis=-1))),
    ),
    (
        "the result has the wrong shape for a single image (N = 1): ops.squeeze without an axis also removes the image "
        "axis. Use ops.squeeze(m, axis=-1), or keepdims=False.",
        _lme(
            lambda ops, a: ops.squeeze(
                ops.max(a, axis=-1, keepdims=True)
                + ops.log(ops.mean(ops.exp(a - ops.max(a, axis=-1, keepdims=True)), axis=-1, keepdims=True))
            )
        ),
    ),
    (
        "you reduced over the images (axis 0): reduce over the K samples of each image (the last axis).",
        _lme(lambda ops, a: ops.logsumexp(a, axis=0) - ops.log(ops.cast(ops.shape(a)[0], a.dtype))),
    ),
]


def check_log_mean_exp(student_fn, verbose=True, strict=None):
    """Check ``log_mean_exp(log_w)`` (tensor (N, K) -> (N,)), traced inside a tf.function with an unknown N."""
    result = check_function(
        "log_mean_exp",
        _compiled(student_fn) if callable(student_fn) else student_fn,
        _compiled(reference_log_mean_exp),
        _log_w_cases(),
        mistakes=[(hint, _compiled(fn)) for hint, fn in _LOG_MEAN_EXP_MISTAKES],
        compare=_finite_compare,
        verbose=False,
        strict=False,
    )
    return _explained(result, "log_mean_exp", verbose, strict)


# --------------------------------------------------------------------------- #
# 2. optimize_q: the best diagonal Gaussian for each image, decoder frozen
# --------------------------------------------------------------------------- #
_SIGMA = 1.0


def _linear_model(scale=1.0, seed=3):
    """p(z) = N(0, I), p(x | z) = N(W z, I) with d = 2 latent and D = 4 observed dimensions, and 3 images."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(4, 2)) * scale
    z_true = rng.normal(size=(3, 2))
    x = z_true @ w.T + _SIGMA * rng.normal(size=(3, 4))
    return w, x


# Three problems, checked together: an informative decoder (best log-variances near -2.2), a weak one (near -0.2)
# and an almost uninformative one (near 0, where q is almost the prior). Codes drawn with a standard deviation
# softplus(log_var) end far from the optimum on the first; on the second a missing KL term and a likelihood summed over
# the samples end far apart; on the third a KL that reads softplus(log_var) as the variance puts the log-variance near
# 0.5 instead of 0 (its optimum is where softplus(s) = 1), while on the other two it ends within the tolerance.
_OPT_PROBLEMS = ((1.0, 3), (0.3, 5), (0.1, 7))


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


# Few steps from a start near the optimum: an eager loop answers in about a second per problem; the seed makes
# the verdict the same in every run.
_OPT_STEPS, _OPT_LR, _OPT_SAMPLES, _OPT_SEED = 80, 0.05, 8, 1234
_OPT_TOL = {"mean": 0.15, "log_var": 0.3}


def _start(w, x):
    mean, _ = _closed_form_optimum(w, x)
    return (mean + 0.6).astype("float32"), np.full(mean.shape, -1.0, dtype="float32")


def _run_one(fn, problem):
    """Call an optimize_q on one linear model from a fixed start, seeded; summarise where it ended."""
    import keras
    import tensorflow as tf

    w, x = _linear_model(*problem)
    mean0, log_var0 = _start(w, x)
    keras.utils.set_random_seed(_OPT_SEED)
    with _QuietTF():
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


def _run_optimize_q(fn, problems=_OPT_PROBLEMS):
    """All the problems in one summary: a wrong answer is matched to a mistake on all of them at once."""
    runs = [_run_one(fn, problem) for problem in problems]
    return {
        "mean": np.concatenate([r["mean"] for r in runs]),
        "log_var": np.concatenate([r["log_var"] for r in runs]),
        "elbo_down": any(r["elbo_down"] for r in runs),
        "unchanged": all(r["unchanged"] for r in runs),
    }


def _optimize_q_compare(received, expected):
    if received["unchanged"] != expected.get("unchanged", received["unchanged"]):
        return False, "q did not move from its starting point"
    if expected.get("elbo_down") is not None and received["elbo_down"] != expected["elbo_down"]:
        return False, "the ELBO went down during the optimisation"
    for key, tol in _OPT_TOL.items():
        if expected.get(key) is not None and not np.allclose(received[key], expected[key], atol=tol):
            return False, f"{key} ended at {np.round(received[key], 2).tolist()}, expected {np.round(expected[key], 2).tolist()}"
    return True, None


def _expected_optimum(problems=_OPT_PROBLEMS):
    optima = [_closed_form_optimum(*_linear_model(*problem)) for problem in problems]
    return {
        "mean": np.concatenate([m for m, _ in optima]),
        "log_var": np.concatenate([v for _, v in optima]),
        "elbo_down": False,
        "unchanged": False,
    }


def _variant(
    sign=1.0,
    kl=True,
    inside_tape=True,
    noise=True,
    sum_samples=False,
    std="exp",
    kl_var="exp",
    learn_log_var=True,
    swap=False,
    swap_z=False,
):
    """A compiled optimize_q with one typical mistake (the defaults are the right answer)."""

    def optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
        import keras
        import tensorflow as tf

        ops = _ops()
        mean, log_var = tf.Variable(np.asarray(z_mean, "float32")), tf.Variable(np.asarray(z_log_var, "float32"))
        optimizer = keras.optimizers.Adam(learning_rate)
        x = ops.convert_to_tensor(x)
        n, d = mean.shape
        x_rep = ops.repeat(x, num_samples, axis=0)
        variables = [mean, log_var] if learn_log_var else [mean]

        def draw():
            eps = tf.random.normal((n, num_samples, d)) if noise else tf.zeros((n, num_samples, d))
            scale = ops.exp(0.5 * log_var) if std == "exp" else ops.softplus(log_var)
            if swap_z:
                return log_var[:, None, :] + ops.exp(0.5 * mean)[:, None, :] * eps
            return mean[:, None, :] + scale[:, None, :] * eps

        @tf.function
        def step():
            z_outside = None if inside_tape else draw()
            with tf.GradientTape() as tape:
                z = draw() if inside_tape else z_outside
                rec = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
                var = ops.exp(log_var) if kl_var == "exp" else ops.softplus(log_var)
                kl_term = 0.5 * ops.sum(var + ops.square(mean) - 1.0 - ops.log(var), axis=-1)
                rec_term = ops.sum(rec, axis=1) if sum_samples else ops.mean(rec, axis=1)
                loss = sign * ops.sum((kl_term if kl else 0.0) - rec_term)
            optimizer.apply(tape.gradient(loss, variables), variables)

        for _ in range(steps):
            step()
        if swap:
            return log_var.numpy(), mean.numpy()
        return mean.numpy(), log_var.numpy()

    return optimize_q


_MISTAKE_OUTCOMES = {}  # (mistake, problems) -> outcome: seeded, so a check run again (a cell re-run) reuses them


def _ran(**mistake):
    """The expected outcome of a mistake: that mistake's own implementation, run as the student's is (once per process)."""
    key = tuple(sorted(mistake.items()))

    def outcome(problems):
        if (key, problems) not in _MISTAKE_OUTCOMES:
            _MISTAKE_OUTCOMES[key, problems] = _run_optimize_q(_variant(**mistake), problems)
        return _MISTAKE_OUTCOMES[key, problems]

    return outcome


# In the order they are tried: the first outcome the student's matches names the cause. Causes that leave q
# somewhere specific come before the broad ones ("the ELBO went down" is true of several of them).
_OPTIMIZE_Q_MISTAKES = [
    (
        "q never moved: the returned mean and log-variance are the starting values. Make them tf.Variable's, "
        "take the gradient of the loss with respect to them and apply it with the optimizer.",
        lambda problems: {"mean": None, "log_var": None, "elbo_down": None, "unchanged": True},
    ),
    (
        "the two results are swapped: return (z_mean, z_log_var), in that order.",
        _ran(swap=True),
    ),
    (
        "the mean and the log-variance are swapped in the codes: z = mean + exp(log_var / 2) * eps.",
        _ran(swap_z=True),
    ),
    (
        "the log-variance never moved: it is not among the variables the gradient is taken for and applied to "
        "(use [mean, log_var] in both tape.gradient and optimizer.apply).",
        _ran(learn_log_var=False),
    ),
    (
        "q went to the prior N(0, I): z was drawn outside the GradientTape, so the likelihood sends no gradient "
        "to the mean and log-variance. Draw z = mean + exp(log_var / 2) * eps inside the `with tf.GradientTape()` block.",
        _ran(inside_tape=False),
    ),
    (
        "the mean went to the maximum-likelihood code and the variance shrank: the KL(q || p(z)) term of the loss is missing.",
        _ran(kl=False),
    ),
    (
        "q is too narrow and too close to the maximum-likelihood code: the log-likelihood is SUMMED over the "
        "num_samples codes of an image, which counts the image num_samples times. Average it over the samples.",
        _ran(sum_samples=True),
    ),
    (
        "softplus and exp are mixed: the codes are drawn with standard deviation softplus(log_var) while the KL "
        "reads exp(log_var) as the variance. With a log-variance, the standard deviation is exp(log_var / 2).",
        _ran(std="softplus"),
    ),
    (
        "softplus and exp are mixed: the KL reads softplus(log_var) as the variance while the codes are drawn with "
        "standard deviation exp(log_var / 2). With a log-variance, the variance is exp(log_var) in the KL too, and "
        "its log is log_var itself.",
        _ran(kl_var="softplus"),
    ),
    (
        "the log-variance went to 0 (the prior's): it only feels the KL, so the codes carry no noise. Draw "
        "z = mean + exp(log_var / 2) * eps with eps ~ N(0, I).",
        _ran(noise=False),
    ),
    (
        "the ELBO went DOWN: the loss's sign is flipped, you minimised the ELBO instead of the negative ELBO.",
        lambda problems: {"mean": None, "log_var": None, "elbo_down": True, "unchanged": False},
    ),
]


def reference_optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
    """Adam on each image's own negative ELBO over (mean, log-variance); the model is frozen."""
    return _variant()(log_likelihood, x, z_mean, z_log_var, steps, learning_rate, num_samples)


def check_optimize_q(student_fn, verbose=True, strict=None):
    """Check ``optimize_q`` on linear-Gaussian models whose best diagonal Gaussian q is known exactly.

    The models are p(z) = N(0, I), p(x | z) = N(W z, I) with 2 latent and 4 observed
    dimensions, with an informative, a weak and an almost uninformative W. The best diagonal
    Gaussian for an image x has the exact posterior's mean and variances
    1 / diag(I + W^T W): the student's optimisation (80 seeded Adam steps from a fixed
    start) must end within 0.15 of that mean and 0.3 of that log-variance.
    """

    def student(problems):
        return _run_optimize_q(student_fn, problems)

    if not callable(student_fn):
        student = student_fn
    result = check_function(
        "optimize_q",
        student,
        _expected_optimum,
        [(_OPT_PROBLEMS,)],
        mistakes=_OPTIMIZE_Q_MISTAKES,
        compare=_optimize_q_compare,
        verbose=False,
        strict=False,
    )
    return _explained(result, "optimize_q", verbose, strict, where="it fails when its step runs compiled or on tensors")


# --------------------------------------------------------------------------- #
# 3. KL warm-up
# --------------------------------------------------------------------------- #
def reference_kl_warmup_weight(epoch, warmup_epochs):
    from workshop.losses import kl_warmup_weight

    return kl_warmup_weight(epoch, warmup_epochs)


_WARMUP_CASES = [(0, 5), (1, 5), (3, 5), (5, 5), (8, 5), (0, 1), (0, 0), (4, 0)]

_WARMUP_MISTAKES = [
    (
        "with warmup_epochs = 0 there is no warm-up: the weight is 1 from the first epoch (epoch 0) on, not 0.",
        lambda e, n: min(1.0, e / max(n, 1)),
    ),
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
    # every dimension near the prior (variances near 1, means near 0): KL values of a few thousandths of a nat
    near_prior_mean = rng.normal(size=(5, 3)) * 0.03
    near_prior_log_var = rng.normal(size=(5, 3)) * 0.05
    return [
        (mean, log_var, 0.7),
        (mean, log_var, 0.0),
        (mean[:3], log_var[:3], 2.0),
        (near_prior_mean, near_prior_log_var, 0.0),
        (near_prior_mean, near_prior_log_var, 0.002),
        (mean[:1], log_var[:1], 0.3),  # a single image (N = 1)
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

    result = check_function(
        "free_bits_kl",
        compiled(student_fn) if callable(student_fn) else student_fn,
        compiled(reference_free_bits_kl),
        _free_bits_cases(),
        mistakes=[(hint, compiled(fn)) for hint, fn in _FREE_BITS_MISTAKES],
        compare=_tight_compare,
        verbose=False,
        strict=False,
    )
    return _explained(result, "free_bits_kl", verbose, strict)
