"""Tests for notebook 04's exercise checkers: reference passes, stub, each mistake, a wrong answer."""

import keras
import numpy as np
import pytest
from keras import ops

from workshop import gradients
from workshop.checks import nb04
from workshop.layers import Sampling


def run(check, fn):
    return check(fn, verbose=False, strict=False)


# --------------------------------------------------------------------------- #
# Sampling layer
# --------------------------------------------------------------------------- #
class StudentSampling(keras.layers.Layer):
    """Written as a student would, with the noise passed through mean/stddev."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        std = ops.sqrt(ops.exp(z_log_var))
        return keras.random.normal(ops.shape(z_mean), mean=z_mean, stddev=std, seed=self.seed_generator)


class StubSampling(StudentSampling):
    def call(self, inputs):
        raise NotImplementedError("Exercise Sampling.call: draw eps and return z.")


class ShiftedSampling(StudentSampling):
    def call(self, inputs):
        z_mean, z_log_var = inputs
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + 0.5 + ops.exp(0.5 * z_log_var) * eps


class NumpySampling(keras.layers.Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rng = np.random.default_rng(seed)

    def call(self, inputs):
        z_mean, z_log_var = (np.asarray(t) for t in inputs)
        z = z_mean + np.exp(0.5 * z_log_var) * self.rng.standard_normal(z_mean.shape)
        return ops.convert_to_tensor(z.astype("float32"))


@pytest.mark.parametrize("layer_class", [Sampling, StudentSampling])
def test_sampling_correct_layers_pass(layer_class):
    assert run(nb04.check_sampling_layer, layer_class).status == "passed"


def test_sampling_stub_is_not_implemented():
    assert run(nb04.check_sampling_layer, StubSampling).status == "not_implemented"


@pytest.mark.parametrize("key", sorted(nb04.SAMPLING_HINTS))
def test_sampling_each_mistake_gets_its_hint(key):
    result = run(nb04.check_sampling_layer, nb04._mistake_classes()[key])
    assert result.status == "mistake"
    assert result.details["hint"] == nb04.SAMPLING_HINTS[key]


def test_sampling_wrong_layers_are_named():
    result = run(nb04.check_sampling_layer, ShiftedSampling)
    assert result.status == "wrong" and "mean" in result.message
    result = run(nb04.check_sampling_layer, NumpySampling)
    assert result.status == "wrong" and "no gradient reaches z_mean" in result.message
    result = run(nb04.check_sampling_layer, Sampling(seed=0))
    assert result.status == "wrong" and "class itself" in result.message


# --------------------------------------------------------------------------- #
# Gradient estimators
# --------------------------------------------------------------------------- #
def student_score(f, z, mu, sigma):
    return f(z) * (z - mu) / sigma**2


def student_pathwise(df, eps, mu, sigma):
    return df(mu + sigma * eps)


@pytest.mark.parametrize(
    "check, fn",
    [
        (nb04.check_score_function_gradient, student_score),
        (nb04.check_score_function_gradient, gradients.score_function_gradient),
        (nb04.check_pathwise_gradient, student_pathwise),
        (nb04.check_pathwise_gradient, gradients.pathwise_gradient),
    ],
)
def test_estimators_correct_answers_pass(check, fn):
    assert run(check, fn).status == "passed"


@pytest.mark.parametrize("check", [nb04.check_score_function_gradient, nb04.check_pathwise_gradient])
def test_estimators_stub_is_not_implemented(check):
    def stub(a, b, mu, sigma):
        raise NotImplementedError("Exercise estimator: write it.")

    assert run(check, stub).status == "not_implemented"


@pytest.mark.parametrize(
    "check, hint, mistake",
    [(nb04.check_score_function_gradient, h, m) for h, m in nb04.SCORE_MISTAKES]
    + [(nb04.check_pathwise_gradient, h, m) for h, m in nb04.PATHWISE_MISTAKES],
)
def test_estimators_each_mistake_gets_its_hint(check, hint, mistake):
    result = run(check, mistake)
    assert result.status == "mistake"
    assert result.details["hint"] == hint


def test_estimators_generic_wrong_answers():
    assert run(nb04.check_score_function_gradient, lambda f, z, mu, sigma: student_score(f, z, mu, sigma) + 1).status == "wrong"
    result = run(nb04.check_pathwise_gradient, lambda df, eps, mu, sigma: np.mean(df(mu + sigma * eps)))
    assert result.status == "wrong" and "shape" in result.message


# --------------------------------------------------------------------------- #
# The shared contract, and catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue, assert_checker_contract  # noqa: E402


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb04.check_score_function_gradient, nb04._score_reference, nb04.SCORE_MISTAKES),
        (nb04.check_pathwise_gradient, nb04._pathwise_reference, nb04.PATHWISE_MISTAKES),
    ],
    ids=["score_function_gradient", "pathwise_gradient"],
)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: np.asarray(value) * 1.01 + 0.01)


def _sampling(body):
    """A Sampling class whose call is ``body(layer, z_mean, z_log_var)``."""

    class Written(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            return body(self, z_mean, z_log_var)

    return Written


def _eps(layer, z_mean):
    return keras.random.normal(ops.shape(z_mean), seed=layer.seed_generator)


SAMPLING_WRONG = {
    "variance as std": _sampling(lambda s, m, v: m + ops.exp(v) * _eps(s, m)),
    "no mean": _sampling(lambda s, m, v: ops.exp(0.5 * v) * _eps(s, m)),
    "integer seed": _sampling(lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.normal(ops.shape(m), seed=1234)),
    "global noise": _sampling(lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.normal(ops.shape(m))),
    "one eps for all dimensions": _sampling(
        lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.normal((ops.shape(m)[0], 1), seed=s.seed_generator)
    ),
    "NumPy noise": NumpySampling,
    "static shape": _sampling(lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.normal(m.shape, seed=s.seed_generator)),
    "log_var not exponentiated": _sampling(lambda s, m, v: m + 0.5 * v * _eps(s, m)),
    "uniform noise": _sampling(lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.uniform(ops.shape(m), seed=s.seed_generator)),
    "shifted": ShiftedSampling,
    "noise of the first row only": _sampling(
        lambda s, m, v: m + ops.exp(0.5 * v) * keras.random.normal((1, ops.shape(m)[1]), seed=s.seed_generator)
    ),
    "sqrt of log_var": _sampling(lambda s, m, v: m + ops.sqrt(ops.abs(v)) * _eps(s, m)),
}
SAMPLING_RIGHT = {
    "package": Sampling,
    "mean and stddev": StudentSampling,
    "minus eps": _sampling(lambda s, m, v: m - ops.exp(0.5 * v) * _eps(s, m)),
    "sqrt of variance": _sampling(lambda s, m, v: m + ops.sqrt(ops.exp(v)) * _eps(s, m)),
}


def test_catalogue_of_sampling_layers(capsys):
    assert_catalogue(nb04.check_sampling_layer, SAMPLING_WRONG, SAMPLING_RIGHT, capsys)


class NoiseDrawnOnceSampling(keras.layers.Layer):
    """eps drawn on the first call and kept: one noise row for every example and every call."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.eps = None

    def call(self, inputs):
        z_mean, z_log_var = inputs
        if self.eps is None:
            self.eps = keras.random.normal((1, z_mean.shape[-1]), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * self.eps


SAMPLING_WRONG["noise drawn once"] = NoiseDrawnOnceSampling
SAMPLING_WRONG["NumPy eps"] = _sampling(lambda s, m, v: m + ops.exp(0.5 * v) * np.random.normal(size=tuple(m.shape)).astype("float32"))
SAMPLING_WRONG["NumPy Generator eps"] = _sampling(
    lambda s, m, v: m + ops.exp(0.5 * v) * np.random.default_rng(0).standard_normal(tuple(m.shape)).astype("float32")
)


@pytest.mark.parametrize(
    "key, words",
    [
        ("noise of the first row only", "every row of the batch got the same noise (an eps of shape (1, d)"),
        ("noise drawn once", "the noise was drawn once and reused"),
        ("NumPy eps", "not NumPy (np.random)"),
        ("NumPy Generator eps", "not NumPy (np.random)"),
    ],
)
def test_shared_and_numpy_noise_are_named(key, words):
    result = run(nb04.check_sampling_layer, SAMPLING_WRONG[key])
    assert result.status == "mistake" and words in result.details["hint"], result.message
    assert result.details["hint"].startswith("draw eps") and len(result.details["hint"]) <= 300


def test_one_eps_for_all_dimensions_is_named():
    result = run(nb04.check_sampling_layer, SAMPLING_WRONG["one eps for all dimensions"])
    assert "correlated" in result.message


SCORE_WRONG = {
    "no score": lambda f, z, mu, sigma: f(z) * np.ones_like(z),
    "sign": lambda f, z, mu, sigma: f(z) * (mu - z) / sigma**2,
    "divided by sigma": lambda f, z, mu, sigma: f(z) * (z - mu) / sigma,
    "not divided": lambda f, z, mu, sigma: f(z) * (z - mu),
    "score alone": lambda f, z, mu, sigma: (z - mu) / sigma**2,
    "f at mu": lambda f, z, mu, sigma: f(mu) * (z - mu) / sigma**2,
    "averaged": lambda f, z, mu, sigma: np.mean(f(z) * (z - mu) / sigma**2),
    "pathwise instead": lambda f, z, mu, sigma: (f(z + 1e-5) - f(z - 1e-5)) / 2e-5,
    "sigma cubed": lambda f, z, mu, sigma: f(z) * (z - mu) / sigma**3,
    "baseline subtracted": lambda f, z, mu, sigma: (f(z) - np.mean(f(z))) * (z - mu) / sigma**2,
}
SCORE_RIGHT = {
    "student": student_score,
    "package": gradients.score_function_gradient,
    "eps form": lambda f, z, mu, sigma: f(z) * ((z - mu) / sigma) / sigma,
}
PATHWISE_WRONG = {
    "at eps": lambda df, eps, mu, sigma: df(eps),
    "at mu": lambda df, eps, mu, sigma: df(mu) * np.ones_like(eps),
    "sign": lambda df, eps, mu, sigma: -df(mu + sigma * eps),
    "times sigma": lambda df, eps, mu, sigma: df(mu + sigma * eps) * sigma,
    "times eps": lambda df, eps, mu, sigma: df(mu + sigma * eps) * eps,
    "averaged": lambda df, eps, mu, sigma: np.mean(df(mu + sigma * eps)),
    "variance for sigma": lambda df, eps, mu, sigma: df(mu + sigma**2 * eps),
    "divided by sigma": lambda df, eps, mu, sigma: df(mu + sigma * eps) / sigma,
    "z without mu": lambda df, eps, mu, sigma: df(sigma * eps),
}
PATHWISE_RIGHT = {
    "student": student_pathwise,
    "package": gradients.pathwise_gradient,
    "two lines": lambda df, eps, mu, sigma: (lambda z: df(z) * 1.0)(mu + sigma * eps),
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [(nb04.check_score_function_gradient, SCORE_WRONG, SCORE_RIGHT), (nb04.check_pathwise_gradient, PATHWISE_WRONG, PATHWISE_RIGHT)],
    ids=["score_function_gradient", "pathwise_gradient"],
)
def test_catalogue_of_estimators(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)
