"""Exercise checks for notebook 04 (the reparameterization trick).

Exercises:
    ``Sampling.call``: a Keras layer that draws z = mu + exp(log_var / 2) * eps
        with noise from the layer's own ``SeedGenerator``; checked against
        :class:`workshop.layers.Sampling` on statistics, gradients and seeding.
    ``score_function_gradient(f, z, mu, sigma)`` and
    ``pathwise_gradient(df, eps, mu, sigma)``: per-sample estimates of
        d/dmu E_{z ~ N(mu, sigma^2)}[f(z)], against :mod:`workshop.gradients`.
"""

import numpy as np

from workshop import gradients
from workshop.checks._core import check_custom, check_function, numpy_noise_watched

__all__ = ["check_pathwise_gradient", "check_sampling_layer", "check_score_function_gradient"]


# --------------------------------------------------------------------------- #
# Sampling layer
# --------------------------------------------------------------------------- #
_SEED = 1234
_NUM_ROWS = 20_000


def _sampling_cases():
    rows = _NUM_ROWS
    mean = np.tile(np.array([[0.5, -1.0, 2.0]], dtype="float32"), (rows, 1))
    log_var = np.tile(np.log(np.array([[1.0, 4.0, 0.25]], dtype="float32")), (rows, 1))
    cases = [(mean, log_var)]
    mean = np.full((rows // 2, 1), -3.0, dtype="float32")
    log_var = np.full((rows // 2, 1), 1.5, dtype="float32")
    cases.append((mean, log_var))
    return cases


def _statistics(layer_class, z_mean, z_log_var):
    """What the checker measures on one layer class for one input (a plain dict)."""
    import tensorflow as tf

    mean = tf.constant(z_mean, dtype="float32")
    log_var = tf.constant(z_log_var, dtype="float32")
    layer = layer_class(seed=_SEED)
    numpy_calls = []
    with numpy_noise_watched(numpy_calls), tf.GradientTape(persistent=True) as tape:
        tape.watch(mean)
        tape.watch(log_var)
        z = layer([mean, log_var])
        total = tf.reduce_sum(tf.cast(z, "float32"))
    grad_mean = tape.gradient(total, mean)
    grad_log_var = tape.gradient(total, log_var)
    del tape
    z = np.asarray(z, dtype="float64")
    second = np.asarray(layer([mean, log_var]), dtype="float64")
    symbolic = _symbolic_call(layer, z_mean, z_log_var)
    twin = np.asarray(layer_class(seed=_SEED)([mean, log_var]), dtype="float64")
    stats = {"shape": tuple(z.shape), "symbolic": symbolic, "numpy_noise": bool(numpy_calls)}
    if z.shape != tuple(z_mean.shape):
        return stats
    offset = z - z_mean
    # Every case repeats one row of z_mean and z_log_var: equal rows of z mean one noise row for the whole batch.
    stats["shared_row"] = bool(z.shape[0] > 1 and np.allclose(offset, offset[:1]))
    if z.shape[1] > 1:
        # Independence across dimensions: the largest correlation between two dimensions' noise.
        with np.errstate(all="ignore"):
            corr = np.corrcoef(offset, rowvar=False)
        corr = np.nan_to_num(corr, nan=1.0)
        np.fill_diagonal(corr, 0.0)
        i, j = np.unravel_index(int(np.argmax(np.abs(corr))), corr.shape)
        stats["correlation"] = (float(corr[i, j]), int(min(i, j)), int(max(i, j)))
    stats.update(
        mean=z.mean(axis=0),
        std=z.std(axis=0),
        fresh=bool(not np.allclose(z, second)),
        repeatable=bool(np.allclose(z, twin)),
        grad_mean=None if grad_mean is None else float(np.mean(np.asarray(grad_mean))),
        grad_log_var=None
        if grad_log_var is None
        # d z / d log_var = 0.5 * exp(log_var / 2) * eps = 0.5 * (z - mu): the slope of the
        # gradient against z - mu is 0.5 for a correct layer.
        else float(np.sum(np.asarray(grad_log_var) * offset) / max(np.sum(offset**2), 1e-30)),
    )
    stats["diagnosis"] = _diagnosis(stats)
    return stats


def _symbolic_call(layer, z_mean, z_log_var):
    """Call the layer inside a tf.function on inputs of unknown batch size, as `fit` does; None or the error text."""
    import tensorflow as tf

    from workshop.checks._core import explain_symbolic_failure

    spec = tf.TensorSpec((None,) + tuple(z_mean.shape[1:]), "float32")

    @tf.function(input_signature=[spec, spec], autograph=False)
    def run(mean, log_var):
        return layer([mean, log_var])

    try:
        out = run(tf.constant(z_mean[:8], "float32"), tf.constant(z_log_var[:8], "float32"))
    except Exception as error:  # noqa: BLE001 - reported as one line
        return explain_symbolic_failure(error)
    if tuple(out.shape) != tuple(z_mean[:8].shape):
        return f"inside a compiled function (as in `fit`) z has shape {tuple(out.shape)}, expected {tuple(z_mean[:8].shape)}"
    return None


def _fmt(array):
    return np.array2string(np.asarray(array), precision=3, separator=", ")


def _diagnosis(stats):
    """How the noise was drawn wrongly, whatever its numbers: a key of NOISE_HINTS, or None."""
    if stats.get("numpy_noise"):
        return "numpy"
    if stats.get("shared_row"):
        return "shared_row" if stats.get("fresh") else "drawn_once"
    return None


def _compare_statistics(received, expected):
    """(same, reason): statistics agree within Monte Carlo tolerance."""
    if "noise_mistake" in expected:  # a mistake named from how the noise was drawn (once gradients reach z_mean), not from the numbers
        return received.get("diagnosis") == expected["noise_mistake"] and received.get("grad_mean") is not None, None
    if received["shape"] != expected["shape"]:
        return False, f"z has shape {received['shape']}, expected {expected['shape']} (the shape of z_mean)"
    rows = expected["shape"][0]
    if received["grad_mean"] is None and expected["grad_mean"] is not None:
        return False, (
            "no gradient reaches z_mean: build z with keras.ops from z_mean, z_log_var and "
            "noise from keras.random (not NumPy), so that gradients can flow"
        )
    if received["grad_log_var"] is None and expected["grad_log_var"] is not None:
        return False, "no gradient reaches z_log_var: z must depend on exp(z_log_var / 2) through keras.ops"
    if received.get("diagnosis") and not expected.get("diagnosis"):
        return False, NOISE_HINTS[received["diagnosis"]]
    tolerance = 5.0 * expected["std"] / np.sqrt(rows) + 1e-6
    if np.any(np.abs(received["mean"] - expected["mean"]) > tolerance):
        return False, f"the samples have mean {_fmt(received['mean'])} per dimension, expected about {_fmt(expected['mean'])}"
    if np.any(np.abs(received["std"] - expected["std"]) > 0.03 * expected["std"] + 1e-6):
        return False, (f"the samples have standard deviation {_fmt(received['std'])} per dimension, expected about {_fmt(expected['std'])}")
    if (received["grad_mean"] is None) != (expected["grad_mean"] is None) or (
        received["grad_mean"] is not None and abs(received["grad_mean"] - expected["grad_mean"]) > 1e-4
    ):
        return False, f"d sum(z) / d z_mean is {received['grad_mean']} on average, expected {expected['grad_mean']}"
    if (received["grad_log_var"] is None) != (expected["grad_log_var"] is None) or (
        received["grad_log_var"] is not None and abs(received["grad_log_var"] - expected["grad_log_var"]) > 1e-3
    ):
        return False, (
            f"d z / d z_log_var is {received['grad_log_var']:.3g} * (z - z_mean), expected {expected['grad_log_var']:.3g} * (z - z_mean)"
        )
    if "correlation" in expected:
        r, i, j = received["correlation"]
        if abs(r) > 6.0 / np.sqrt(rows) + abs(expected["correlation"][0]):
            return False, (
                f"the noise of latent dimensions {i} and {j} is correlated (correlation {r:.2f}, expected about 0): "
                "each dimension needs its own independent draw, eps of the same shape as z_mean"
            )
    if received["fresh"] != expected["fresh"]:
        return False, "two calls of the same layer drew the same noise; each call must draw fresh noise"
    if received["repeatable"] != expected["repeatable"]:
        return False, "two layers built with the same seed drew different noise; draw with seed=self.seed_generator"
    if received.get("symbolic") and not expected.get("symbolic"):
        return False, received["symbolic"]
    return True, None


def _mistake_classes():
    """Layer classes that make the typical mistakes (built lazily: they need Keras)."""
    import keras
    from keras import ops

    class MistakeStdFromVariance(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(z_log_var) * eps

    class MistakeNoMean(MistakeStdFromVariance):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            return ops.exp(0.5 * z_log_var) * eps

    class MistakeFixedSeed(MistakeStdFromVariance):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(ops.shape(z_mean), seed=_SEED)
            return z_mean + ops.exp(0.5 * z_log_var) * eps

    class MistakeGlobalNoise(MistakeStdFromVariance):
        def call(self, inputs):
            z_mean, z_log_var = inputs
            eps = keras.random.normal(ops.shape(z_mean))
            return z_mean + ops.exp(0.5 * z_log_var) * eps

    return {
        "std_from_variance": MistakeStdFromVariance,
        "no_mean": MistakeNoMean,
        "fixed_seed": MistakeFixedSeed,
        "global_noise": MistakeGlobalNoise,
    }


SAMPLING_HINTS = {
    "std_from_variance": (
        "the noise is scaled by exp(z_log_var), the variance; the standard deviation is exp(z_log_var / 2) = exp(0.5 * z_log_var)."
    ),
    "no_mean": "z = exp(z_log_var / 2) * eps is missing the mean: add z_mean.",
    "fixed_seed": (
        "every call draws the same noise: an integer seed in keras.random.normal repeats itself. "
        "Use the layer's generator, seed=self.seed_generator."
    ),
    "global_noise": (
        "the noise ignores the layer's seed (keras.random.normal without seed= uses a global "
        "generator, which also fails inside compiled functions on some backends). "
        "Pass seed=self.seed_generator."
    ),
}


NOISE_HINTS = {
    "numpy": (
        "draw eps with keras.random.normal(ops.shape(z_mean), seed=self.seed_generator), not NumPy (np.random): "
        "inside a compiled function (as in `fit`) NumPy noise is drawn once when traced and then frozen, the same at every call."
    ),
    "shared_row": (
        "draw eps with the shape of z_mean, ops.shape(z_mean): every row of the batch got the same noise "
        "(an eps of shape (1, d) is broadcast over the batch), but each example needs its own draw."
    ),
    "drawn_once": (
        "draw eps inside call, with the shape of z_mean, ops.shape(z_mean): the noise was drawn once and reused, "
        "the same for every row of the batch and every call."
    ),
}


def check_sampling_layer(layer_class, verbose=True, strict=None):
    """Check the exercise ``Sampling`` (a ``keras.layers.Layer`` class taking ``seed=``).

    The student's class and :class:`workshop.layers.Sampling` are both built
    with the same seed and called on the same ``[z_mean, z_log_var]``; the
    check compares the shape, the per-dimension mean and standard deviation
    of z (Monte Carlo tolerance), the gradients of sum(z) with respect to
    z_mean (all ones) and z_log_var (0.5 * (z - z_mean)), that two calls draw
    different noise, that two layers with the same seed draw the same, that the
    noise of different dimensions is independent (one eps of shape (N, 1) shared by
    all dimensions fails), and that the layer runs inside a ``tf.function`` on
    inputs of unknown batch size, as in ``fit``.

    Args:
        layer_class: the class itself (not an instance), constructed as
            ``layer_class(seed=...)``.
    """
    from workshop.layers import Sampling

    if not isinstance(layer_class, type):
        return check_custom(
            "Sampling",
            lambda: (
                False,
                f"expected the layer class itself (e.g. `Sampling`), received "
                f"{type(layer_class).__name__}. Pass the class, without calling it",
            ),
            verbose=verbose,
            strict=strict,
        )
    wrong = _mistake_classes()

    def statistics_of(cls):
        return lambda z_mean, z_log_var: _statistics(cls, z_mean, z_log_var)

    student = statistics_of(layer_class)
    mistakes = [(hint, lambda z_mean, z_log_var, key=key: {"noise_mistake": key}) for key, hint in NOISE_HINTS.items()]
    mistakes += [(SAMPLING_HINTS[key], statistics_of(cls)) for key, cls in wrong.items()]
    return check_function(
        "Sampling",
        student,
        statistics_of(Sampling),
        _sampling_cases(),
        mistakes=mistakes,
        compare=_compare_statistics,
        verbose=verbose,
        strict=strict,
    )


# --------------------------------------------------------------------------- #
# score-function and pathwise estimators
# --------------------------------------------------------------------------- #
def _quadratic(z):
    return (z - 2.0) ** 2


def _d_quadratic(z):
    return 2.0 * (z - 2.0)


def _gradient_cases(with_z):
    rng = np.random.default_rng(404)
    cases = []
    for f, df, mu, sigma, shape in (
        (_quadratic, _d_quadratic, 0.5, 2.0, (8,)),
        (np.sin, np.cos, -1.0, 0.3, (5,)),
        (np.exp, np.exp, 0.2, 0.7, (3, 4)),
    ):
        eps = rng.standard_normal(shape)
        if with_z:
            cases.append((f, mu + sigma * eps, mu, sigma))
        else:
            cases.append((df, eps, mu, sigma))
    return cases


def _score_reference(f, z, mu, sigma):
    return gradients.score_function_gradient(f, z, mu, sigma)


SCORE_MISTAKES = [
    (
        "the score factor is missing: multiply f(z) by d/dmu log N(z; mu, sigma^2) = (z - mu) / sigma^2.",
        lambda f, z, mu, sigma: f(z) * np.ones_like(z),
    ),
    ("sign error: the score is (z - mu) / sigma^2, not (mu - z) / sigma^2.", lambda f, z, mu, sigma: -f(z) * (z - mu) / sigma**2),
    ("divide by sigma^2 (the variance), not by sigma.", lambda f, z, mu, sigma: f(z) * (z - mu) / sigma),
    ("the score (z - mu) / sigma^2 needs the division by sigma^2.", lambda f, z, mu, sigma: f(z) * (z - mu)),
]


def check_score_function_gradient(student_fn, verbose=True, strict=None):
    """Check the exercise ``score_function_gradient(f, z, mu, sigma)`` (one estimate per sample)."""
    return check_function(
        "score_function_gradient",
        student_fn,
        _score_reference,
        _gradient_cases(with_z=True),
        mistakes=SCORE_MISTAKES,
        verbose=verbose,
        strict=strict,
    )


def _pathwise_reference(df, eps, mu, sigma):
    return gradients.pathwise_gradient(df, eps, mu, sigma)


PATHWISE_MISTAKES = [
    ("f' is evaluated at eps; evaluate it at the sample z = mu + sigma * eps.", lambda df, eps, mu, sigma: df(eps)),
    ("f' is evaluated at mu only; evaluate it at each sample z = mu + sigma * eps.", lambda df, eps, mu, sigma: df(mu) * np.ones_like(eps)),
    ("sign error: dz/dmu = +1, so the estimate is +f'(z).", lambda df, eps, mu, sigma: -df(mu + sigma * eps)),
    (
        "drop the factor sigma: for z = mu + sigma * eps the chain rule gives dz/dmu = 1, so the estimate is f'(z) itself.",
        lambda df, eps, mu, sigma: df(mu + sigma * eps) * sigma,
    ),
    (
        "this is the gradient with respect to sigma (dz/dsigma = eps); for mu, dz/dmu = 1.",
        lambda df, eps, mu, sigma: df(mu + sigma * eps) * eps,
    ),
]


def check_pathwise_gradient(student_fn, verbose=True, strict=None):
    """Check the exercise ``pathwise_gradient(df, eps, mu, sigma)`` (one estimate per sample)."""
    return check_function(
        "pathwise_gradient",
        student_fn,
        _pathwise_reference,
        _gradient_cases(with_z=False),
        mistakes=PATHWISE_MISTAKES,
        verbose=verbose,
        strict=strict,
    )
