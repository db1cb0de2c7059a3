"""Tests for the checkers of notebook 05: each accepts the right answer and names the typical mistakes."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import workshop
from workshop.checks import nb05

QUIET = {"verbose": False, "strict": False}


def expect_mistake(result, hint_start):
    assert result.status == "mistake", result.message
    assert result.details["hint"].startswith(hint_start), result.details["hint"]


# --------------------------------------------------------------------- KL term
def kl_right(z_mean, z_log_var):
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)


def kl_with_variance_as_exp_2_log_var(z_mean, z_log_var):
    return 0.5 * ops.sum(ops.exp(2 * z_log_var) + z_mean**2 - 1.0 - 2 * z_log_var, axis=1)


def kl_mean_over_dims(z_mean, z_log_var):
    return -0.5 * ops.mean(1.0 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=-1)


def kl_no_half(z_mean, z_log_var):
    return ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)


def kl_no_minus_one(z_mean, z_log_var):
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - z_log_var, axis=-1)


def test_kl_right_answers_pass():
    assert nb05.check_kl_to_standard_normal(kl_right, **QUIET).passed
    # the textbook form -1/2 sum(1 + log s^2 - mu^2 - s^2) is the same thing
    textbook = lambda z_mean, z_log_var: -0.5 * ops.sum(1 + z_log_var - z_mean**2 - ops.exp(z_log_var), axis=-1)  # noqa: E731
    assert nb05.check_kl_to_standard_normal(textbook, **QUIET).passed


def test_kl_reference_is_the_numpy_closed_form():
    # The checker's reference is the package's keras.ops loss; pin it to the float64 NumPy teaching version.
    rng = np.random.default_rng(1)
    mu, log_var = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    expected = workshop.probability.kl_to_standard_normal(mu, log_var, axis=-1)
    received = ops.convert_to_numpy(nb05._kl_reference(ops.convert_to_tensor(mu), ops.convert_to_tensor(log_var)))
    np.testing.assert_allclose(received, expected, rtol=1e-5)


def test_kl_stub_is_not_implemented():
    def stub(z_mean, z_log_var):
        raise NotImplementedError("Exercise kl_to_standard_normal: write the closed form.")

    assert nb05.check_kl_to_standard_normal(stub, **QUIET).status == "not_implemented"


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (kl_with_variance_as_exp_2_log_var, "looks like you treated z_log_var as log(sigma)"),
        (kl_mean_over_dims, "you averaged over the latent dimensions"),
        (kl_no_half, "the factor 1/2"),
        (kl_no_minus_one, "the -1 inside the bracket"),
    ],
)
def test_kl_mistakes_get_their_hint(wrong, hint):
    expect_mistake(nb05.check_kl_to_standard_normal(wrong, **QUIET), hint)


def test_kl_other_wrong_answers():
    result = nb05.check_kl_to_standard_normal(lambda m, v: kl_right(m, v) + 0.1, **QUIET)
    assert result.status == "wrong"
    summed_over_everything = lambda m, v: ops.sum(kl_right(m, v))  # noqa: E731
    result = nb05.check_kl_to_standard_normal(summed_over_everything, **QUIET)
    assert result.status == "wrong" and "shape mismatch" in result.message


# ---------------------------------------------------------- Bernoulli NLL term
def _flat(x, logits):
    return (
        ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1)),
        ops.reshape(logits, (ops.shape(logits)[0], -1)),
    )


def nll_right(x, logits):
    x, logits = _flat(x, logits)
    return ops.sum(ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits))), axis=-1)


def nll_softplus(x, logits):
    x, logits = _flat(x, logits)
    return ops.sum(ops.softplus(logits) - x * logits, axis=-1)


def nll_naive(x, logits):
    x, logits = _flat(x, logits)
    p = ops.sigmoid(logits)
    return -ops.sum(x * ops.log(p) + (1 - x) * ops.log(1 - p), axis=-1)


def nll_keras_bce_summed(x, logits):
    # probabilities passed where logits belong: Keras clips them to [1e-7, 1 - 1e-7]
    x, logits = _flat(x, logits)
    per_pixel = keras.losses.binary_crossentropy(x[..., None], logits[..., None])
    return ops.sum(per_pixel, axis=-1)


def nll_stable_only_for_positive_logits(x, logits):
    # the form the prose derives: right algebra, but exp(-l) overflows at l = -100
    x, logits = _flat(x, logits)
    return ops.sum((1 - x) * logits + ops.log1p(ops.exp(-logits)), axis=-1)


def nll_mean(x, logits):
    x, logits = _flat(x, logits)
    return ops.mean(ops.softplus(logits) - x * logits, axis=-1)


def nll_log_likelihood(x, logits):
    return -nll_right(x, logits)


def test_nll_right_answers_pass():
    assert nb05.check_bernoulli_nll_from_logits(nll_right, **QUIET).passed
    assert nb05.check_bernoulli_nll_from_logits(nll_softplus, **QUIET).passed


def test_nll_cases_include_extreme_logits_where_the_naive_form_breaks():
    x, logits = nb05._nll_cases()[-1]
    assert float(ops.max(ops.abs(logits))) >= 100
    assert not np.all(np.isfinite(ops.convert_to_numpy(nll_naive(x, logits))))
    expected = ops.convert_to_numpy(nb05._nll_reference(x, logits))
    assert np.all(np.isfinite(expected)) and expected.max() > 100  # a confidently wrong pixel costs 100 nats


def test_nll_stub_is_not_implemented():
    def stub(x, logits):
        raise NotImplementedError("Exercise bernoulli_nll_from_logits: use the stable form.")

    assert nb05.check_bernoulli_nll_from_logits(stub, **QUIET).status == "not_implemented"


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (nll_naive, "you got inf or nan at large logits"),
        (nll_stable_only_for_positive_logits, "your algebra is right, (1 - x) * l + log(1 + exp(-l)), but it is stable only for l >= 0"),
        (nll_keras_bce_summed, "the decoder returns logits, not probabilities (clipping"),
        (nll_mean, "you averaged over the pixels"),
        (nll_log_likelihood, "the sign is flipped"),
    ],
)
def test_nll_mistakes_get_their_hint(wrong, hint):
    expect_mistake(nb05.check_bernoulli_nll_from_logits(wrong, **QUIET), hint)


def test_nll_epsilon_and_raw_probability_variants_are_named():
    def with_epsilon(x, logits):
        x, logits = _flat(x, logits)
        p = ops.sigmoid(logits)
        return -ops.sum(x * ops.log(p + 1e-7) + (1 - x) * ops.log(1 - p + 1e-7), axis=-1)

    def logits_as_probabilities(x, logits):
        x, logits = _flat(x, logits)
        return -ops.sum(x * ops.log(logits) + (1 - x) * ops.log(1 - logits), axis=-1)

    expect_mistake(nb05.check_bernoulli_nll_from_logits(with_epsilon, **QUIET), "a small epsilon")
    expect_mistake(nb05.check_bernoulli_nll_from_logits(logits_as_probabilities, **QUIET), "the decoder returns logits")


def test_nll_hints_do_not_give_the_stable_formula_away():
    for wrong in (nll_naive, nll_stable_only_for_positive_logits):
        result = nb05.check_bernoulli_nll_from_logits(wrong, **QUIET)
        assert "softplus" in result.message and "max(l, 0)" in result.message
        assert "exp(-|l|))" not in result.message and len(result.details["hint"]) <= 300


def test_loss_terms_are_called_positionally_so_renamed_parameters_work():
    def kl(mu, logvar):
        return kl_right(mu, logvar)

    def nll(targets, l):
        return nll_softplus(targets, l)

    def rep(mu, logvar, noise):
        return mu + ops.exp(0.5 * logvar) * noise

    assert nb05.check_kl_to_standard_normal(kl, **QUIET).passed
    assert nb05.check_bernoulli_nll_from_logits(nll, **QUIET).passed
    assert nb05.check_reparameterize(rep, **QUIET).passed


def test_loss_terms_with_our_parameter_names_are_called_by_name():
    def nll_swapped(logits, x):  # the names say which is which
        return nll_softplus(x, logits)

    assert nb05.check_bernoulli_nll_from_logits(nll_swapped, **QUIET).passed


def test_a_loss_term_with_the_wrong_number_of_parameters_is_named():
    def nll_one_argument(logits):
        return ops.sum(logits)

    result = nb05.check_bernoulli_nll_from_logits(nll_one_argument, **QUIET)
    assert result.status == "wrong", result.message
    assert "should take 2 arguments, (x, logits); yours takes (logits)" in result.message
    assert "Traceback" not in result.message and len(result.message) <= 300


def test_nll_other_wrong_answer():
    result = nb05.check_bernoulli_nll_from_logits(lambda x, l: 1.01 * nll_right(x, l), **QUIET)
    assert result.status == "wrong"


# -------------------------------------------------------------- reparameterize
def test_reparameterize_checker():
    right = lambda z_mean, z_log_var, eps: z_mean + ops.exp(0.5 * z_log_var) * eps  # noqa: E731
    assert nb05.check_reparameterize(right, **QUIET).passed
    sqrt_form = lambda z_mean, z_log_var, eps: z_mean + ops.sqrt(ops.exp(z_log_var)) * eps  # noqa: E731
    assert nb05.check_reparameterize(sqrt_form, **QUIET).passed

    def stub(z_mean, z_log_var, eps):
        raise NotImplementedError("Exercise reparameterize: shift and scale eps.")

    assert nb05.check_reparameterize(stub, **QUIET).status == "not_implemented"
    expect_mistake(
        nb05.check_reparameterize(lambda z_mean, z_log_var, eps: z_mean + ops.exp(z_log_var) * eps, **QUIET),
        "exp(z_log_var) is the variance",
    )
    expect_mistake(nb05.check_reparameterize(lambda z_mean, z_log_var, eps: ops.exp(z_log_var / 2) * eps, **QUIET), "the mean is missing")
    assert nb05.check_reparameterize(lambda z_mean, z_log_var, eps: z_mean - ops.exp(z_log_var / 2) * eps, **QUIET).status == "wrong"


# ------------------------------------------------------------------ train_step
class RightVAE(workshop.VAE):
    """What the notebook asks for: the student's own loss terms under a GradientTape."""

    kl_weight = "beta"
    reconstruction_reduce = "sum"
    apply_gradients = True
    update_metrics = True
    tape_around_forward_pass = True
    reconstruction_batch_mean = staticmethod(ops.mean)

    def _forward(self, x):
        z_mean, z_log_var = self.encoder(x, training=True)
        eps = self._eps(z_mean)
        z = z_mean + ops.exp(0.5 * z_log_var) * eps
        logits = self.decoder(z, training=True)
        per_image = nll_right(x, logits) if self.reconstruction_reduce == "sum" else nll_mean(x, logits)
        reconstruction_loss = self.reconstruction_batch_mean(per_image)
        kl_loss = ops.mean(kl_right(z_mean, z_log_var))
        weight = {"beta": self.beta, "one": 1.0, "none": 0.0}[self.kl_weight]
        return reconstruction_loss + weight * kl_loss, reconstruction_loss, kl_loss

    def _eps(self, z_mean):
        return keras.random.normal(ops.shape(z_mean), seed=self.sampling.seed_generator)

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = ops.cast(x, "float32")
        if self.tape_around_forward_pass:
            with tf.GradientTape() as tape:
                loss, reconstruction_loss, kl_loss = self._forward(x)
        else:
            with tf.GradientTape() as tape:
                pass
            loss, reconstruction_loss, kl_loss = self._forward(x)
        grads = tape.gradient(loss, self.trainable_weights)
        if self.apply_gradients:
            self.optimizer.apply(grads, self.trainable_weights)
        if not self.update_metrics:
            return {"loss": loss, "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}
        self.loss_tracker.update_state(loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


class UsesSamplingLayerVAE(RightVAE):
    def _forward(self, x):
        z_mean, z_log_var = self.encoder(x, training=True)
        logits = self.decoder(self.sampling([z_mean, z_log_var]), training=True)
        reconstruction_loss = ops.mean(nll_softplus(x, logits))
        kl_loss = ops.mean(kl_right(z_mean, z_log_var))
        return reconstruction_loss + self.beta * kl_loss, reconstruction_loss, kl_loss


class NoKLVAE(RightVAE):
    kl_weight = "none"


class FixedKLWeightVAE(RightVAE):
    kl_weight = "one"


class PixelMeanVAE(RightVAE):
    reconstruction_reduce = "mean"


class ForgotToApplyVAE(RightVAE):
    apply_gradients = False


class TapeOutsideVAE(RightVAE):
    tape_around_forward_pass = False


class NoMetricUpdatesVAE(RightVAE):
    update_metrics = False


class NumpyNoiseVAE(RightVAE):
    def _eps(self, z_mean):
        return ops.convert_to_tensor(np.random.normal(size=tuple(z_mean.shape)).astype("float32"))


class NumpyGeneratorNoiseVAE(RightVAE):
    def _eps(self, z_mean):
        return ops.convert_to_tensor(np.random.default_rng(0).standard_normal(tuple(z_mean.shape)).astype("float32"))


class UnseededNoiseVAE(RightVAE):
    def _eps(self, z_mean):
        return keras.random.normal(ops.shape(z_mean))


class IntSeedNoiseVAE(RightVAE):
    def _eps(self, z_mean):
        return keras.random.normal(ops.shape(z_mean), seed=1)


class FreshSeedGeneratorVAE(RightVAE):
    def _eps(self, z_mean):
        return keras.random.normal(ops.shape(z_mean), seed=keras.random.SeedGenerator(1))


class OwnSeedGeneratorVAE(RightVAE):
    """A seed generator of the model's own, made once in __init__: as good as the layer's."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.noise_seed = keras.random.SeedGenerator(7)

    def _eps(self, z_mean):
        return keras.random.normal(ops.shape(z_mean), seed=self.noise_seed)


class EncoderOutsideTapeVAE(RightVAE):
    def train_step(self, data):
        x = ops.cast(keras.utils.unpack_x_y_sample_weight(data)[0], "float32")
        z_mean, z_log_var = self.encoder(x, training=True)
        with tf.GradientTape() as tape:
            z = z_mean + ops.exp(0.5 * z_log_var) * self._eps(z_mean)
            logits = self.decoder(z, training=True)
            reconstruction_loss = ops.mean(nll_right(x, logits))
            kl_loss = ops.mean(kl_right(z_mean, z_log_var))
            loss = reconstruction_loss + self.beta * kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


class StubVAE(workshop.VAE):
    def train_step(self, data):
        raise NotImplementedError("Exercise StudentVAE.train_step: compute the loss under a GradientTape.")


def test_train_step_right_answers_pass():
    assert nb05.check_train_step(RightVAE, **QUIET).passed
    assert nb05.check_train_step(UsesSamplingLayerVAE, **QUIET).passed


def test_train_step_stub_or_nothing_overridden_is_not_implemented():
    assert nb05.check_train_step(StubVAE, **QUIET).status == "not_implemented"

    class NothingYet(workshop.VAE):
        pass

    assert nb05.check_train_step(NothingYet, **QUIET).status == "not_implemented"


@pytest.mark.parametrize(
    "student_class, hint",
    [
        (NoKLVAE, "the KL term is missing"),
        (FixedKLWeightVAE, "the KL weight should be self.beta"),
        (PixelMeanVAE, "the reconstruction loss is averaged over pixels"),
        (ForgotToApplyVAE, "the weights did not change"),
        (TapeOutsideVAE, "the weights did not change"),
        (NoMetricUpdatesVAE, "the gradient step is right, but the metric trackers"),
        (NumpyNoiseVAE, "the noise eps comes from NumPy"),
        (NumpyGeneratorNoiseVAE, "the noise eps comes from NumPy"),
        (UnseededNoiseVAE, "keras.random.normal is called without the layer's seed generator"),
        (IntSeedNoiseVAE, "keras.random.normal is called without the layer's seed generator"),
        (FreshSeedGeneratorVAE, "keras.random.normal is called without the layer's seed generator"),
        (EncoderOutsideTapeVAE, "the encoder's weights get no gradient"),
    ],
)
def test_train_step_mistakes_get_their_hint(student_class, hint):
    expect_mistake(nb05.check_train_step(student_class, **QUIET), hint)


def test_train_step_other_wrong_answers():
    class DoubledLoss(RightVAE):
        def _forward(self, x):
            loss, reconstruction_loss, kl_loss = super()._forward(x)
            return 2.0 * loss, reconstruction_loss, kl_loss

    result = nb05.check_train_step(DoubledLoss, **QUIET)
    assert result.status == "wrong" and "the returned loss is" in result.message and "2 x the reference's" in result.message

    class ReturnsTheLossOnly(RightVAE):
        def train_step(self, data):
            return super().train_step(data)["loss"]

    result = nb05.check_train_step(ReturnsTheLossOnly, **QUIET)
    assert result.status == "wrong" and "should return a dict" in result.message

    result = nb05.check_train_step(RightVAE(latent_dim=2), **QUIET)
    assert result.status == "error" and "Expected the class StudentVAE" in result.message


def test_fixed_noise_repeats_draws_and_restores_keras():
    from workshop import Sampling, rng

    originals = keras.random.normal, rng.normal
    with nb05.fixed_noise():
        a = keras.random.normal((3, 2), seed=keras.random.SeedGenerator(1))
        b = keras.random.normal((3, 2), seed=keras.random.SeedGenerator(2))
        # The package's Sampling layer draws through workshop.rng: it must see the same eps as a student's step.
        z = Sampling(seed=5)([ops.zeros((3, 2)), ops.zeros((3, 2))])
    assert (keras.random.normal, rng.normal) == originals
    np.testing.assert_array_equal(ops.convert_to_numpy(a), ops.convert_to_numpy(b))
    np.testing.assert_array_equal(ops.convert_to_numpy(z), ops.convert_to_numpy(a))


def test_mistake_variants_are_built_on_a_step_equal_to_the_package_step():
    # Each typical mistake is the reference step with one change; unchanged, it must be the package's step.
    for beta in (1.0, 0.5):
        ok, reason = nb05._compare_steps(nb05._variant_step(beta), nb05._reference_step(beta))
        assert ok, reason


# --------------------------------------------------------------------------- #
# The shared contract, and catalogues of answers written as students write them
# --------------------------------------------------------------------------- #
from helpers import assert_catalogue, assert_checker_contract  # noqa: E402


@pytest.mark.parametrize(
    "check, reference, mistakes",
    [
        (nb05.check_kl_to_standard_normal, nb05._kl_reference, nb05.KL_MISTAKES),
        (nb05.check_bernoulli_nll_from_logits, nb05._nll_reference, nb05.NLL_MISTAKES),
        (nb05.check_reparameterize, nb05._reparameterize_reference, nb05.REPARAMETERIZE_MISTAKES),
    ],
    ids=["kl_to_standard_normal", "bernoulli_nll_from_logits", "reparameterize"],
)
def test_checker_contract(check, reference, mistakes):
    assert_checker_contract(check, reference, mistakes, perturb=lambda value: value * 1.01 + 0.01)


def _kl_named(fn):
    def kl_to_standard_normal(z_mean, z_log_var):
        return fn(z_mean, z_log_var)

    return kl_to_standard_normal


KL_WRONG = {
    k: _kl_named(f)
    for k, f in {
        "NumPy": lambda m, v: 0.5 * np.sum(np.exp(v) + np.square(m) - 1.0 - v, axis=-1),
        "float of a tensor": lambda m, v: kl_right(m, v) * float(ops.mean(v) * 0 + 1),
        "x.shape[0]": lambda m, v: ops.reshape(kl_right(m, v), (m.shape[0],)),
        "batch sum": lambda m, v: ops.sum(kl_right(m, v)),
        "batch mean": lambda m, v: ops.mean(kl_right(m, v)),
        "log sigma": kl_with_variance_as_exp_2_log_var,
        "mean over dims": kl_mean_over_dims,
        "no half": kl_no_half,
        "no -1": kl_no_minus_one,
        "sign of log term": lambda m, v: 0.5 * ops.sum(ops.exp(v) + ops.square(m) - 1.0 + v, axis=-1),
        "mu not squared": lambda m, v: 0.5 * ops.sum(ops.exp(v) + m - 1.0 - v, axis=-1),
        "axis 0": lambda m, v: 0.5 * ops.sum(ops.exp(v) + ops.square(m) - 1.0 - v, axis=0),
        "math.exp": lambda m, v: 0.5 * ops.sum(math.exp(1.0) ** v + ops.square(m) - 1.0 - v, axis=-1) * 1.01,
        "keepdims": lambda m, v: 0.5 * ops.sum(ops.exp(v) + ops.square(m) - 1.0 - v, axis=-1, keepdims=True),
    }.items()
}
KL_RIGHT = {
    k: _kl_named(f)
    for k, f in {
        "closed form": kl_right,
        "textbook": lambda m, v: -0.5 * ops.sum(1 + v - ops.square(m) - ops.exp(v), axis=-1),
        "axis 1": lambda m, v: 0.5 * ops.sum(ops.exp(v) + m**2 - 1.0 - v, axis=1),
        "tf": lambda m, v: 0.5 * tf.reduce_sum(tf.exp(v) + tf.square(m) - 1.0 - v, axis=-1),
    }.items()
}


def _nll_named(fn):
    def bernoulli_nll_from_logits(x, logits):
        return fn(x, logits)

    return bernoulli_nll_from_logits


NLL_WRONG = {
    k: _nll_named(f)
    for k, f in {
        "naive": nll_naive,
        "stable only for l >= 0": nll_stable_only_for_positive_logits,
        "keras bce on logits": nll_keras_bce_summed,
        "pixel mean": nll_mean,
        "log-likelihood": nll_log_likelihood,
        "epsilon": lambda x, l: nb05._nll_naive(x, l, eps=1e-7),
        "NumPy": lambda x, l: np.sum(np.reshape(np.logaddexp(0, l) - np.asarray(x) * l, (len(l), -1)), axis=-1),
        "batch sum": lambda x, l: ops.sum(nll_right(x, l)),
        "no flatten": lambda x, l: ops.sum(ops.softplus(l) - ops.cast(x, "float32") * l, axis=-1),
        "softplus sign": lambda x, l: ops.sum(ops.reshape(ops.softplus(-l) - ops.cast(x, "float32") * l, (ops.shape(l)[0], -1)), axis=-1),
        "x.shape[0] flatten": lambda x, l: ops.sum(ops.reshape(ops.softplus(l) - ops.cast(x, "float32") * l, (x.shape[0], -1)), axis=-1),
        "log(1 + exp)": lambda x, l: ops.sum(
            ops.reshape(ops.log(1 + ops.exp(l)) - ops.cast(x, "float32") * l, (ops.shape(l)[0], -1)), axis=-1
        ),
    }.items()
}
NLL_RIGHT = {
    k: _nll_named(f)
    for k, f in {
        "stable": nll_right,
        "softplus": nll_softplus,
        "keras bce from logits": lambda x, l: ops.sum(
            ops.reshape(
                keras.losses.binary_crossentropy(ops.reshape(ops.cast(x, "float32"), (-1, 1)), ops.reshape(l, (-1, 1)), from_logits=True),
                (ops.shape(l)[0], -1),
            ),
            axis=-1,
        ),
        "tf sigmoid_cross_entropy": lambda x, l: tf.reduce_sum(
            tf.reshape(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, "float32"), logits=l), (tf.shape(l)[0], -1)), axis=1
        ),
    }.items()
}


def _rep_named(fn):
    def reparameterize(z_mean, z_log_var, eps):
        return fn(z_mean, z_log_var, eps)

    return reparameterize


REPARAMETERIZE_WRONG = {
    k: _rep_named(f)
    for k, f in {
        "variance": lambda m, v, e: m + ops.exp(v) * e,
        "no mean": lambda m, v, e: ops.exp(0.5 * v) * e,
        "log_var as std": lambda m, v, e: m + v * e,
        "no eps": lambda m, v, e: m + ops.exp(0.5 * v),
        "NumPy": lambda m, v, e: m + np.exp(0.5 * np.asarray(v)) * e,
        "fresh noise instead of eps": lambda m, v, e: m + ops.exp(0.5 * v) * keras.random.normal(ops.shape(m)),
        "sqrt of log_var": lambda m, v, e: m + ops.sqrt(ops.abs(v)) * e,
        "divided": lambda m, v, e: m + e / ops.exp(0.5 * v),
        "log of std": lambda m, v, e: m + ops.log(ops.exp(0.5 * v)) * e,
    }.items()
}
REPARAMETERIZE_RIGHT = {
    k: _rep_named(f)
    for k, f in {
        "standard": lambda m, v, e: m + ops.exp(0.5 * v) * e,
        "sqrt": lambda m, v, e: m + ops.sqrt(ops.exp(v)) * e,
        "tf": lambda m, v, e: m + tf.exp(v / 2) * e,
    }.items()
}


@pytest.mark.parametrize(
    "check, wrong, right",
    [
        (nb05.check_kl_to_standard_normal, KL_WRONG, KL_RIGHT),
        (nb05.check_bernoulli_nll_from_logits, NLL_WRONG, NLL_RIGHT),
        (nb05.check_reparameterize, REPARAMETERIZE_WRONG, REPARAMETERIZE_RIGHT),
    ],
    ids=["kl_to_standard_normal", "bernoulli_nll_from_logits", "reparameterize"],
)
def test_catalogue_of_loss_terms(check, wrong, right, capsys):
    assert_catalogue(check, wrong, right, capsys)


def test_numpy_in_a_loss_is_named_with_the_students_line():
    result = nb05.check_kl_to_standard_normal(KL_WRONG["NumPy"], **QUIET)
    assert "NumPy call" in result.message and "np.sum(np.exp(v)" in result.message


class FloatInStepVAE(RightVAE):
    def _forward(self, x):
        loss, reconstruction_loss, kl_loss = super()._forward(x)
        return loss, float(reconstruction_loss), float(kl_loss)


class DelegatingVAE(workshop.VAE):
    def train_step(self, data):
        return super().train_step(data)


class NumpyInStepVAE(RightVAE):
    def _forward(self, x):
        loss, reconstruction_loss, kl_loss = super()._forward(x)
        return loss, np.mean(reconstruction_loss), kl_loss


class NumpyReconstructionVAE(RightVAE):
    """np.mean on the eager reconstruction tensor: the loss still runs, but only the KL reaches the gradients."""

    reconstruction_batch_mean = staticmethod(np.mean)


class BatchSumVAE(RightVAE):
    def _forward(self, x):
        z_mean, z_log_var = self.encoder(x, training=True)
        logits = self.decoder(self.sampling([z_mean, z_log_var]), training=True)
        reconstruction_loss = ops.sum(nll_right(x, logits))
        kl_loss = ops.mean(kl_right(z_mean, z_log_var))
        return reconstruction_loss + self.beta * kl_loss, reconstruction_loss, kl_loss


class UphillVAE(RightVAE):
    def train_step(self, data):
        x = ops.cast(keras.utils.unpack_x_y_sample_weight(data)[0], "float32")
        with tf.GradientTape() as tape:
            loss, reconstruction_loss, kl_loss = self._forward(x)
        grads = tape.gradient(-loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


TRAIN_STEP_WRONG = {
    "float of a tensor": FloatInStepVAE,
    "super().train_step": DelegatingVAE,
    "NumPy": NumpyInStepVAE,
    "NumPy mean of the reconstruction": NumpyReconstructionVAE,
    "batch sum": BatchSumVAE,
    "no KL": NoKLVAE,
    "KL weight 1": FixedKLWeightVAE,
    "pixel mean": PixelMeanVAE,
    "no apply": ForgotToApplyVAE,
    "tape outside": TapeOutsideVAE,
    "no metric updates": NoMetricUpdatesVAE,
    "uphill": UphillVAE,
    "NumPy noise": NumpyNoiseVAE,
    "NumPy Generator noise": NumpyGeneratorNoiseVAE,
    "unseeded keras.random.normal": UnseededNoiseVAE,
    "int seed": IntSeedNoiseVAE,
    "fresh seed generator in the step": FreshSeedGeneratorVAE,
    "encoder outside the tape": EncoderOutsideTapeVAE,
}
TRAIN_STEP_RIGHT = {"own loss": RightVAE, "Sampling layer": UsesSamplingLayerVAE, "own seed generator": OwnSeedGeneratorVAE}


def test_catalogue_of_train_steps(capsys):
    assert_catalogue(nb05.check_train_step, TRAIN_STEP_WRONG, TRAIN_STEP_RIGHT, capsys)


def test_train_step_failures_inside_fit_are_named():
    result = nb05.check_train_step(FloatInStepVAE, **QUIET)
    assert "float(...)" in result.message and "float(reconstruction_loss)" in result.message
    result = nb05.check_train_step(DelegatingVAE, **QUIET)
    assert "super().train_step(data)" in result.message
    result = nb05.check_train_step(BatchSumVAE, **QUIET)
    expect_mistake(result, "you summed the loss over the batch")
    assert "keras.random" not in result.message  # the cause is not guessed


def test_batch_sums_are_named():
    class BatchSumOfBothTermsVAE(RightVAE):
        reconstruction_batch_mean = staticmethod(ops.sum)

        def _forward(self, x):
            loss, reconstruction_loss, kl_loss = super()._forward(x)
            return loss + self.beta * 15.0 * kl_loss, reconstruction_loss, 16.0 * kl_loss

    expect_mistake(nb05.check_train_step(BatchSumOfBothTermsVAE, **QUIET), "you summed the loss over the batch")


def test_train_step_hints_are_one_short_line():
    for hint, _ in nb05.TRAIN_STEP_MISTAKES:
        assert "\n" not in hint and len(hint) <= 300, hint


def test_a_numpy_reconstruction_term_is_named_as_cut_off_from_the_gradients():
    """Regression: np.mean on the reconstruction left only the KL in the gradients, reported as "the update is 0.0233 x the reference's"."""
    result = nb05.check_train_step(NumpyReconstructionVAE, **QUIET)
    assert result.status == "mistake", result.message
    assert "does not reach the gradients" in result.details["hint"] and "np.mean" in result.details["hint"]


def test_kl_with_a_numpy_method_on_a_tensor_names_it_and_shows_the_line():
    def kl_with_sum_method(z_mean, z_log_var):
        terms = ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var
        return 0.5 * terms.sum(axis=-1)

    result = nb05.check_kl_to_standard_normal(kl_with_sum_method, verbose=False, strict=False)
    assert result.status == "error"
    assert "tensors have no `.sum`" in result.message and "ops.sum(x, ...)" in result.message
    assert "return 0.5 * terms.sum(axis=-1)" in result.message
