"""Exercise checks for notebook 09 (Bayesian neural networks by variational inference).

Exercises:
    ``sample_weights(mean, rho, seed_generator)``: one draw of a weight matrix,
        w = mean + softplus(rho) * eps with an independent eps per weight; checked
        on statistics of the draws, their gradients, fresh and repeatable noise,
        run inside a compiled function, then in two steps of a compiled ``fit``.
    ``kl_to_prior(mean, rho, prior_std)``: KL(q || N(0, prior_std^2)) summed over
        the weights; checked on values inside a compiled function, then as the
        loss a layer adds during a compiled ``fit``.
    ``minibatch_loss(nll, kl, num_train)``: the loss per example on a minibatch,
        checked inside a compiled function.

Each check runs the student's function on symbolic tensors (inside a ``tf.function``),
the way Keras runs a layer in ``fit``; the layer exercises then train for two steps
in a ``fit`` compiled with ``jit_compile=True``.
"""

import contextlib
import copy
import hashlib
import logging

import numpy as np

from workshop import bayesian
from workshop.checks._core import (  # noqa: F401 (CheckFailed re-exported)
    _SYMBOLIC_HINTS,
    CheckFailed,
    _finish,
    _numpy_on_symbolic,
    _sentence,
    check_function,
    explain_symbolic_failure,
)

__all__ = [
    "check_kl_to_prior",
    "check_minibatch_loss",
    "check_sample_weights",
    "reference_kl_to_prior",
    "reference_minibatch_loss",
    "reference_sample_weights",
]

_SEED = 909


def _compiled(fn, input_signature=None):
    """``fn`` run on symbolic tensors inside a ``tf.function`` compiled with XLA, as ``fit(jit_compile=True)`` runs it.

    XLA, not the graph optimiser: the graph optimiser rewrites log(1 + x) into log1p(x), which would hide the
    float32 rounding of a hand-written softplus that the notebook's XLA-compiled training suffers from.
    """
    import tensorflow as tf

    return tf.function(fn, autograph=False, input_signature=input_signature, jit_compile=True)


@contextlib.contextmanager
def _quiet_tensorflow():
    """Hide TensorFlow's logger (retracing warnings) while a check builds its compiled functions."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _symbolic_cause(error):
    """True when ``error`` is one of the failures of code that works on arrays but not on symbolic tensors."""
    if isinstance(error, NotImplementedError):
        return _numpy_on_symbolic(error)
    said = str(error).lower()
    return any(needle in said for needles, _ in _SYMBOLIC_HINTS for needle in needles)


class _Recorder:
    """Wraps the student's runner and remembers the first exception it raised."""

    def __init__(self, fn):
        self.fn = fn
        self.error = None
        self.args = None

    def __call__(self, *args):
        try:
            return self.fn(*args)
        except Exception as error:
            if self.error is None:
                self.error, self.args = error, args
            raise


def _runs_eagerly(fn, args):
    """True when the student's ``fn`` runs without an error outside a compiled function, on tensors."""
    import keras

    mean_or_nll, *rest = args
    try:
        with _quiet_tensorflow():
            if isinstance(rest[-1], (int, np.integer)) and len(rest) == 2 and np.ndim(rest[0]) == 0:
                fn(keras.ops.convert_to_tensor(mean_or_nll), keras.ops.convert_to_tensor(rest[0]), rest[1])  # minibatch_loss
            elif isinstance(rest[-1], (int, np.integer)):
                fn(keras.ops.convert_to_tensor(mean_or_nll), keras.ops.convert_to_tensor(rest[0]), keras.random.SeedGenerator(rest[1]))
            else:
                fn(keras.ops.convert_to_tensor(mean_or_nll), keras.ops.convert_to_tensor(rest[0]), rest[1])
    except Exception:
        return False
    return True


def _explained(name, result, recorder, verbose, strict, student_fn=None):
    """Replace the raw error of a compiled-function failure by ``_core``'s explanation (advice first, the student's line).

    Only when the failure is one of those that symbolic tensors cause and, given ``student_fn``, the
    same call runs outside a compiled function (the explanation says that it works on arrays).
    """
    error = recorder.error
    eager_ok = student_fn is None or (recorder.args is not None and _runs_eagerly(student_fn, recorder.args))
    if result.status == "error" and error is not None and _symbolic_cause(error) and eager_ok:
        details = dict(result.details, exception=error)
        return _finish(name, "error", _sentence(explain_symbolic_failure(error)), details, verbose, strict)
    return _finish(name, result.status, result.message.split(": ", 1)[1], result.details, verbose, strict)


def _softplus(x):
    return np.logaddexp(0.0, np.asarray(x, dtype="float64"))


# --------------------------------------------------------------------------- #
# Exercise 1: sampling the weights
# --------------------------------------------------------------------------- #
reference_sample_weights = bayesian.sample_gaussian_weights


def _sampling_cases():
    # 300 x 240 kernels: four column blocks with different means and rho. The first has sigma from 0.13 to 2.1;
    # the second has extreme magnitudes: sigma of 2e-9 and 1.5e-8 (rho = -20 and -18, where log(1 + exp(rho))
    # rounds to 0 in float32), a mean of 1000, and sigma = 30.
    cases = []
    for means, rhos in (([0.5, -1.0, 0.0, 2.0], [-2.0, -0.5, 0.5, 2.0]), ([0.0, 0.0, 1000.0, -3.0], [-20.0, -18.0, 0.0, 30.0])):
        mean = np.repeat(np.tile(np.array(means, dtype="float32"), (300, 1)), 60, axis=1)
        rho = np.repeat(np.tile(np.array(rhos, dtype="float32"), (300, 1)), 60, axis=1)
        cases.append((mean, rho, _SEED))
    return cases


_REMEMBERED = {}


def _sampling_statistics(fn, mean, rho, seed):
    """What the check measures on one sampling function for one (mean, rho, seed): a plain dict."""
    import keras
    import tensorflow as tf

    mean_v = tf.Variable(mean)
    rho_v = tf.Variable(rho)
    generator = keras.random.SeedGenerator(seed)

    def draw_and_differentiate(m, r):
        with tf.GradientTape() as tape:
            w = fn(m, r, generator)
            total = tf.reduce_sum(tf.cast(w, "float32"))
        grad_mean, grad_rho = tape.gradient(total, [m, r])
        zeros = tf.zeros_like(m)
        return (
            tf.cast(w, "float32"),
            zeros if grad_mean is None else grad_mean,
            zeros if grad_rho is None else grad_rho,
            tf.constant(grad_mean is not None),
            tf.constant(grad_rho is not None),
        )

    run = _compiled(draw_and_differentiate)
    initial_state = np.array(generator.state.numpy())
    w, grad_mean, grad_rho, has_grad_mean, has_grad_rho = run(mean_v, rho_v)
    second = np.asarray(run(mean_v, rho_v)[0], dtype="float64")
    generator.state.assign(initial_state)  # a generator restarted from the same seed
    twin = np.asarray(run(mean_v, rho_v)[0], dtype="float64")
    w = np.asarray(w, dtype="float64")
    stats = {"shape": tuple(w.shape)}
    if w.shape != mean.shape:
        return stats
    sigma = _softplus(rho)
    residual = (w - mean) / sigma  # standard normal when w is drawn correctly
    groups = np.unique(rho)
    stats.update(
        residual_mean=np.array([residual[rho == g].mean() for g in groups]),
        residual_std=np.array([residual[rho == g].std() for g in groups]),
        # Correlations of neighbouring weights along each axis: about 0 for independent noise.
        correlation=np.array(
            [
                np.mean(residual[1:, :] * residual[:-1, :]),
                np.mean(residual[:, 1:] * residual[:, :-1]),
            ]
        ),
        fresh=bool(not np.allclose(w, second)),
        repeatable=bool(np.allclose(w, twin)),
        grad_mean=float(np.mean(np.asarray(grad_mean))) if bool(has_grad_mean) else None,
        # d w / d rho = sigmoid(rho) * eps = sigmoid(rho) * residual: slope 1 for a correct draw.
        grad_rho=(
            float(np.sum(np.asarray(grad_rho) * residual / (1 + np.exp(-rho))) / np.sum((residual / (1 + np.exp(-rho))) ** 2))
            if bool(has_grad_rho)
            else None
        ),
        size=int(w.size),
        groups=groups,
    )
    return stats


def _fmt(array):
    return np.array2string(np.asarray(array), precision=3, separator=", ")


def _compare_sampling(received, expected):
    """(same, reason) up to Monte Carlo tolerance."""
    if received["shape"] != expected["shape"]:
        return False, f"the weights have shape {received['shape']}, expected {expected['shape']} (the shape of mean)"
    if received["grad_mean"] is None and expected["grad_mean"] is not None:
        return False, "no gradient reaches mean: build w with keras.ops from mean, rho and noise from keras.random"
    if received["grad_rho"] is None and expected["grad_rho"] is not None:
        return False, "no gradient reaches rho: sigma must be computed from rho with keras.ops"
    per_group = expected["size"] / len(expected["groups"])
    tolerance = 5.0 / np.sqrt(per_group)
    if np.any(np.abs(received["residual_mean"] - expected["residual_mean"]) > tolerance):
        return False, (
            f"(w - mean) / sigma has mean {_fmt(received['residual_mean'])} for rho = {_fmt(expected['groups'])}, "
            f"expected about {_fmt(expected['residual_mean'])}"
        )
    if np.any(np.abs(received["residual_std"] - expected["residual_std"]) > 0.03):
        return False, (
            f"(w - mean) / softplus(rho) has standard deviation {_fmt(received['residual_std'])} for "
            f"rho = {_fmt(expected['groups'])}, expected about {_fmt(expected['residual_std'])}"
        )
    if np.any(np.abs(received["correlation"] - expected["correlation"]) > 5.0 / np.sqrt(expected["size"])):
        return False, (
            f"neighbouring weights are correlated ({_fmt(received['correlation'])} along rows and columns, "
            "expected about 0): each weight needs its own noise"
        )
    if (received["grad_mean"] is None) != (expected["grad_mean"] is None) or (
        received["grad_mean"] is not None and abs(received["grad_mean"] - expected["grad_mean"]) > 1e-4
    ):
        return False, f"d sum(w) / d mean is {received['grad_mean']} on average, expected {expected['grad_mean']}"
    if (received["grad_rho"] is None) != (expected["grad_rho"] is None):
        return False, "the gradient with respect to rho differs from the reference's"
    if received["grad_rho"] is not None and abs(received["grad_rho"] - expected["grad_rho"]) > 1e-2:
        return False, (
            f"d w / d rho is {received['grad_rho']:.3g} * sigmoid(rho) * eps, expected {expected['grad_rho']:.3g} * sigmoid(rho) * eps"
        )
    if received["fresh"] != expected["fresh"]:
        return False, "two calls drew the same weights; each call must draw fresh noise"
    if received["repeatable"] != expected["repeatable"]:
        return False, "a generator restarted from its seed drew different weights; draw with seed=seed_generator"
    return True, None


def _sampling_mistakes():
    import keras
    from keras import ops

    def exp_not_softplus(mean, rho, seed_generator):
        eps = keras.random.normal(ops.shape(mean), seed=seed_generator)
        return mean + ops.exp(rho) * eps

    def naive_softplus(mean, rho, seed_generator):
        eps = keras.random.normal(ops.shape(mean), seed=seed_generator)
        return mean + ops.log(1.0 + ops.exp(rho)) * eps

    def one_eps_for_all(mean, rho, seed_generator):
        eps = keras.random.normal((), seed=seed_generator)
        return mean + ops.softplus(rho) * eps

    def eps_per_output_unit(mean, rho, seed_generator):
        eps = keras.random.normal((ops.shape(mean)[-1],), seed=seed_generator)
        return mean + ops.softplus(rho) * eps

    def no_mean(mean, rho, seed_generator):
        eps = keras.random.normal(ops.shape(mean), seed=seed_generator)
        return ops.softplus(rho) * eps

    def fixed_seed(mean, rho, seed_generator):
        eps = keras.random.normal(ops.shape(mean), seed=_SEED)
        return mean + ops.softplus(rho) * eps

    return [
        (
            "sigma is exp(rho); in this parameterisation sigma = softplus(rho) = log(1 + exp(rho)), "
            "which is positive for every rho and does not blow up.",
            exp_not_softplus,
        ),
        (
            "use ops.softplus(rho) for sigma: log(1 + exp(rho)) rounds to 0 in float32 for rho below about -17 "
            "(1 + 1.5e-8 == 1), so those weights get no noise at all.",
            naive_softplus,
        ),
        (
            "one eps is shared by all the weights, so they move together; draw eps with the shape of mean.",
            one_eps_for_all,
        ),
        (
            "eps has one value per output unit and is shared down each column of the kernel; "
            "draw one eps per weight, with the shape of mean.",
            eps_per_output_unit,
        ),
        ("w = softplus(rho) * eps is missing the mean: add mean.", no_mean),
        (
            "every call draws the same noise: an integer seed repeats itself, and so does NumPy noise (drawn once, "
            "when the compiled function is traced). Draw eps with keras.random and pass seed=seed_generator.",
            fixed_seed,
        ),
    ]


def _fit_steps(kernel_fn=None, kl_fn=None):
    """Two steps of a compiled fit of a small network that uses the student's function(s).

    Returns (ok, message, layer).
    """
    import keras

    class _Layer(bayesian.BayesianDense):
        def sample_kernel(self):
            if kernel_fn is None:
                return super().sample_kernel()
            return kernel_fn(self.kernel_mean, self.kernel_rho, self.seed_generator)

        def kl_divergence(self):
            if kl_fn is None:
                return super().kl_divergence()
            return kl_fn(self.kernel_mean, self.kernel_rho, self.prior_std)

    rng = np.random.default_rng(_SEED)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, :1] - x[:, 1:2]).astype("float32")
    layer = _Layer(4, prior_std=0.5, kl_weight=1.0 / 64, init_std=0.1, seed=_SEED)
    head = keras.layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(seed=_SEED))
    model = keras.Sequential([keras.Input((3,)), layer, head])
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=True)
    before = np.array(layer.kernel_rho.numpy())
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    losses = history.history["loss"]
    if not np.all(np.isfinite(losses)):
        return False, f"the loss in a compiled fit was {losses[-1]}, expected a finite number", layer
    if np.allclose(before, layer.kernel_rho.numpy()):
        return False, "in a compiled fit, the training step did not change rho: no gradient reached it", layer
    return True, None, layer


def _with_fit(name, result, fit, verbose, strict):
    """Turn a passed value check into a pass only if the compiled fit check passes too."""
    if not result.passed:
        return _finish(name, result.status, result.message.split(": ", 1)[1], result.details, verbose, strict)
    try:
        ok, message = fit()
    except Exception as error:  # the student's code failed inside fit
        ok, message = False, f"inside a compiled fit your function raised {type(error).__name__}: {str(error).splitlines()[0]}"
    if not ok:
        return _finish(name, "wrong", message + ".", result.details, verbose, strict)
    text = result.message.split(": ", 1)[1].rstrip(".") + ", and trains inside a compiled fit."
    return _finish(name, "passed", text, result.details, verbose, strict)


def check_sample_weights(student_fn, verbose=True, strict=None):
    """Check the exercise ``sample_weights(mean, rho, seed_generator)``.

    The student's function and :func:`workshop.bayesian.sample_gaussian_weights`
    each draw a kernel with the same seed inside a compiled function; the check
    compares the shape, the mean and standard deviation of (w - mean) /
    softplus(rho) per value of rho, the correlation of neighbouring weights, the
    gradients with respect to mean and rho, and fresh and repeatable noise. A
    passing function is then used as a layer's ``sample_kernel`` in two steps of
    a compiled ``fit``.
    """

    def statistics_of(fn):
        return lambda mean, rho, seed: _sampling_statistics(fn, mean, rho, seed)

    def remembered(key, fn):
        """The reference's and each listed mistake's statistics are seeded, so computed once per process."""

        def statistics(mean, rho, seed):
            digest = (key, hashlib.sha256(np.ascontiguousarray(mean).tobytes() + np.ascontiguousarray(rho).tobytes()).hexdigest(), seed)
            if digest not in _REMEMBERED:
                _REMEMBERED[digest] = _sampling_statistics(fn, mean, rho, seed)
            return copy.deepcopy(_REMEMBERED[digest])

        return statistics

    mistakes = [(hint, remembered(hint, fn)) for hint, fn in _sampling_mistakes()]
    student = _Recorder(statistics_of(student_fn)) if callable(student_fn) else student_fn
    with _quiet_tensorflow():
        result = check_function(
            "sample_weights",
            student,
            remembered("reference", reference_sample_weights),
            _sampling_cases(),
            mistakes=mistakes,
            compare=_compare_sampling,
            verbose=False,
            strict=False,
        )
        if isinstance(student, _Recorder) and result.status == "error":
            return _explained("sample_weights", result, student, verbose, strict, student_fn)
        return _with_fit("sample_weights", result, lambda: _fit_steps(kernel_fn=student_fn)[:2], verbose, strict)


# --------------------------------------------------------------------------- #
# Exercise 2: the KL to the Gaussian prior
# --------------------------------------------------------------------------- #
def reference_kl_to_prior(mean, rho, prior_std):
    """KL(N(mean, softplus(rho)^2) || N(0, prior_std^2)), summed over all weights (a scalar tensor)."""
    return bayesian.kl_to_gaussian_prior(mean, rho, prior_std)


def _kl_cases():
    rng = np.random.default_rng(9)
    cases = []
    for shape, prior_std in (((5, 3), 1.0), ((40, 7), 0.5), ((1, 1), 2.0)):
        mean = rng.normal(0.0, 0.8, size=shape).astype("float32")
        rho = rng.uniform(-4.0, 1.5, size=shape).astype("float32")
        cases.append((mean, rho, prior_std))
    # Extreme magnitudes: rho from -20 to -17 (sigma ~ 1e-9 to 4e-8, where log(1 + exp(rho)) rounds to 0 in
    # float32) with large means and a narrow prior; rho from 20 to 30 (sigma 20 to 30) with a wide prior.
    mean = rng.uniform(-30.0, 30.0, size=(6, 4)).astype("float32")
    cases.append((mean, rng.uniform(-20.0, -17.0, size=(6, 4)).astype("float32"), 0.01))
    cases.append((mean, rng.uniform(20.0, 30.0, size=(6, 4)).astype("float32"), 50.0))
    return cases


def _kl_variant(kind):
    """A typical wrong KL, written with keras.ops like the student's."""
    from keras import ops

    def kl(mean, rho, prior_std):
        sigma = {"exp": ops.exp, "naive_softplus": lambda r: ops.log(1.0 + ops.exp(r))}.get(kind, ops.softplus)(rho)
        log_term = np.log(prior_std) - ops.log(sigma)
        quadratic = (ops.square(sigma) + ops.square(mean)) / (2 * prior_std**2)
        if kind == "sign":
            return -ops.sum(log_term + quadratic - 0.5)
        if kind == "no_log":
            return ops.sum(quadratic - 0.5)
        if kind == "log_of_variances":
            return ops.sum(2 * log_term + quadratic - 0.5)
        if kind == "no_half":
            return ops.sum(log_term + quadratic)
        if kind == "prior_var_ignored":
            return ops.sum(log_term + (ops.square(sigma) + ops.square(mean)) / 2 - 0.5)
        if kind == "average":
            return ops.mean(log_term + quadratic - 0.5)
        return ops.sum(log_term + quadratic - 0.5)

    return kl


KL_MISTAKES = [
    ("sign error: a KL divergence is never negative; you computed KL(q || p) with the sign flipped.", _kl_variant("sign")),
    ("the log term is missing: the KL contains log(prior_std / sigma), the difference of the two log normalisers.", _kl_variant("no_log")),
    ("sigma is exp(rho) in your KL; in this parameterisation sigma = softplus(rho).", _kl_variant("exp")),
    (
        "use ops.softplus(rho) for sigma: log(1 + exp(rho)) rounds to 0 in float32 for rho below about -17, "
        "and log(prior_std / 0) makes the KL infinite.",
        _kl_variant("naive_softplus"),
    ),
    (
        "the log term is twice too large: log(prior_std^2 / sigma^2) needs the factor 1/2 that the "
        "Gaussian normaliser's square root gives.",
        _kl_variant("log_of_variances"),
    ),
    ("the constant -1/2 per weight is missing (with it, the KL of q = p is exactly 0).", _kl_variant("no_half")),
    ("sigma^2 + mean^2 must be divided by 2 prior_std^2, the prior's variance, not by 2.", _kl_variant("prior_var_ignored")),
    ("you averaged over the weights; the weights are independent, so their KLs add up: sum them.", _kl_variant("average")),
]


def check_kl_to_prior(student_fn, verbose=True, strict=None):
    """Check the exercise ``kl_to_prior(mean, rho, prior_std)`` (a scalar: the KL summed over weights).

    The student's function runs inside a compiled function on symbolic tensors
    and is compared with the closed form on three cases; a passing function is
    then used as a layer's ``kl_divergence`` in two steps of a compiled ``fit``,
    and the loss the layer adds is compared with ``kl_weight * KL``.
    """

    def on_tensors(fn):
        def run(mean, rho, prior_std):
            return np.asarray(_compiled(lambda m, r: fn(m, r, prior_std))(mean, rho), dtype="float64")

        return run

    student = _Recorder(on_tensors(student_fn)) if callable(student_fn) else student_fn
    with _quiet_tensorflow():
        result = check_function(
            "kl_to_prior",
            student,
            lambda m, r, s: bayesian.reference_kl_to_gaussian_prior(m, r, s),
            _kl_cases(),
            mistakes=[(hint, on_tensors(fn)) for hint, fn in KL_MISTAKES],
            rtol=1e-4,
            atol=1e-4,
            verbose=False,
            strict=False,
        )
    if isinstance(student, _Recorder) and result.status == "error":
        return _explained("kl_to_prior", result, student, verbose, strict, student_fn)

    def fit():
        ok, message, layer = _fit_steps(kl_fn=student_fn)
        if not ok:
            return ok, message
        expected = bayesian.reference_kl_to_gaussian_prior(layer.kernel_mean.numpy(), layer.kernel_rho.numpy(), layer.prior_std)
        layer(np.zeros((1, 3), "float32"))
        added = float(np.asarray(layer.losses[-1]))
        if not np.isclose(added, expected / 64, rtol=1e-4, atol=1e-6):
            return False, f"after fit, the layer added {added:.6g} to the loss, expected kl_weight * KL = {expected / 64:.6g}"
        return True, None

    with _quiet_tensorflow():
        return _with_fit("kl_to_prior", result, fit, verbose, strict)


# --------------------------------------------------------------------------- #
# Exercise 3: the loss per example on a minibatch
# --------------------------------------------------------------------------- #
def reference_minibatch_loss(nll, kl, num_train):
    """mean(nll) + kl / num_train, as a NumPy float64 scalar."""
    return np.mean(np.asarray(nll, dtype="float64")) + float(kl) / num_train


def _loss_cases():
    rng = np.random.default_rng(19)
    return [
        (rng.uniform(0.1, 3.0, size=32).astype("float32"), np.float32(250.0), 1000),
        (rng.uniform(0.1, 3.0, size=100).astype("float32"), np.float32(5000.0), 60000),
        (rng.uniform(0.1, 3.0, size=7).astype("float32"), np.float32(40.0), 7),
        # N = 1 and B = 1: a training set of one example.
        (np.array([2.5], dtype="float32"), np.float32(3.0), 1),
        # Extreme magnitudes: negative NLLs (densities above 1) and a KL of ten million nats.
        (rng.uniform(-5.0, 1e4, size=50).astype("float32"), np.float32(1e7), 60000),
    ]


def _ops():
    from keras import ops

    return ops


LOSS_MISTAKES = [
    (
        "the KL is not scaled: it is one term for the whole training set, so per example it is KL / N "
        "(with N = num_train); added in full at every minibatch it counts N / B times per epoch.",
        lambda nll, kl, n: _ops().mean(nll) + kl,
    ),
    (
        "the KL is divided by the batch size; it is shared by the whole training set, so divide it by num_train.",
        lambda nll, kl, n: _ops().mean(nll) + kl / _ops().cast(_ops().shape(nll)[0], nll.dtype),
    ),
    (
        "this is sum(nll) + KL, the -ELBO of a data set of B examples; per example of a training set of "
        "num_train, average the NLL and divide the KL by num_train.",
        lambda nll, kl, n: _ops().sum(nll) + kl,
    ),
    (
        "the NLL is summed over the minibatch while the KL is per example: average the NLL over the batch.",
        lambda nll, kl, n: _ops().sum(nll) + kl / n,
    ),
    ("sign error: the loss is the negative ELBO, so the KL is added, not subtracted.", lambda nll, kl, n: _ops().mean(nll) - kl / n),
]


def check_minibatch_loss(student_fn, verbose=True, strict=None):
    """Check the exercise ``minibatch_loss(nll, kl, num_train)`` inside a compiled function.

    As in a compiled ``fit``, ``nll`` has an unknown batch size when the function
    is traced: a batch size read from the static shape (``nll.shape[0]``) is None.
    """
    import tensorflow as tf

    signature = [tf.TensorSpec((None,), "float32"), tf.TensorSpec((), "float32")]

    def on_tensors(fn):
        def run(nll, kl, num_train):
            compiled = _compiled(lambda a, b: fn(a, b, num_train), input_signature=signature)
            return np.asarray(compiled(tf.constant(nll, "float32"), tf.constant(kl, "float32")), dtype="float64")

        return run

    student = _Recorder(on_tensors(student_fn)) if callable(student_fn) else student_fn
    with _quiet_tensorflow():
        result = check_function(
            "minibatch_loss",
            student,
            reference_minibatch_loss,
            _loss_cases(),
            mistakes=[(hint, on_tensors(fn)) for hint, fn in LOSS_MISTAKES],
            rtol=1e-5,
            atol=1e-5,
            verbose=False,
            strict=False,
        )
    if isinstance(student, _Recorder):
        return _explained("minibatch_loss", result, student, verbose, strict, student_fn)
    return _finish("minibatch_loss", result.status, result.message.split(": ", 1)[1], result.details, verbose, strict)
