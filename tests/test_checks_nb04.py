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
