"""The Keras loss terms against NumPy references; numerics at the extremes."""

import numpy as np
import tensorflow as tf
from keras import ops

from workshop import losses
from workshop import probability as P


def test_bernoulli_reconstruction_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = (rng.random((5, 28, 28, 1)) < 0.4).astype("float32")
    logits = rng.normal(scale=4.0, size=(5, 28, 28, 1)).astype("float32")
    got = ops.convert_to_numpy(losses.bernoulli_reconstruction_loss(x, logits))
    # Hand-written reference: binary cross-entropy on probabilities, summed over pixels.
    p = 1.0 / (1.0 + np.exp(-logits.astype("float64")))
    reference = -(x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(5, -1).sum(axis=1)
    assert got.shape == (5,)
    np.testing.assert_allclose(got, reference, rtol=1e-5)
    np.testing.assert_allclose(got, -P.bernoulli_log_likelihood(x.reshape(5, -1), logits.reshape(5, -1)), rtol=1e-5)


def test_bernoulli_matches_keras_binary_crossentropy_sum():
    rng = np.random.default_rng(1)
    x = rng.random((4, 784)).astype("float32")  # grey targets are allowed: a cross-entropy
    logits = rng.normal(size=(4, 784)).astype("float32")
    keras_bce = ops.convert_to_numpy(ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=-1))
    np.testing.assert_allclose(ops.convert_to_numpy(losses.bernoulli_reconstruction_loss(x, logits)), keras_bce, rtol=1e-5)


def test_kl_matches_numpy_reference():
    rng = np.random.default_rng(2)
    mu = rng.normal(size=(6, 20)).astype("float32")
    log_var = rng.normal(size=(6, 20)).astype("float32")
    got = ops.convert_to_numpy(losses.kl_standard_normal(mu, log_var))
    reference = 0.5 * np.sum(np.exp(log_var) + mu**2 - 1 - log_var, axis=1)
    np.testing.assert_allclose(got, reference, rtol=1e-5)
    np.testing.assert_allclose(got, P.gaussian_kl(mu, log_var, 0.0, 0.0, axis=-1), rtol=1e-5)


def test_gaussian_reconstruction_is_scaled_squared_error_plus_constant():
    rng = np.random.default_rng(3)
    x = rng.random((3, 784)).astype("float32")
    logits = rng.normal(size=(3, 784)).astype("float32")
    sigma = 0.3
    mean = 1 / (1 + np.exp(-logits.astype("float64")))
    expected = -P.gaussian_log_density(x, mean, np.log(sigma**2))
    got = ops.convert_to_numpy(losses.gaussian_reconstruction_loss(x, logits, sigma))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    sq = ((x - mean) ** 2).sum(axis=1)
    np.testing.assert_allclose(got - sq / (2 * sigma**2), 784 * np.log(sigma * np.sqrt(2 * np.pi)), rtol=1e-4)


def test_loss_and_gradients_finite_at_extremes():
    x = tf.constant(np.tile([0.0, 1.0], (2, 392)).astype("float32"))
    logits = tf.Variable(np.tile([100.0, -100.0, -100.0, 100.0], (2, 196)).astype("float32"))
    mu = tf.Variable(np.zeros((2, 4), "float32"))
    log_var = tf.Variable(np.array([[100.0, -100.0, 0.0, 50.0], [-100.0, 100.0, 3.0, -50.0]], "float32"))
    with tf.GradientTape() as tape:
        rec = losses.bernoulli_reconstruction_loss(x, logits)
        kl = losses.kl_standard_normal(mu, log_var)
        loss = ops.mean(rec + kl)
    grads = tape.gradient(loss, [logits, mu, log_var])
    assert np.isfinite(ops.convert_to_numpy(loss))
    for g in grads:
        assert np.all(np.isfinite(ops.convert_to_numpy(g)))
    # Confidently right pixels cost ~0, confidently wrong ones cost 100 nats each.
    np.testing.assert_allclose(ops.convert_to_numpy(rec), [392 * 100.0, 392 * 100.0], rtol=1e-5)


def test_sampling_finite_at_extreme_log_variance():
    from workshop.layers import Sampling

    z = Sampling(seed=0)([tf.zeros((3, 2)), tf.constant([[100.0, -100.0]] * 3)])
    assert np.all(np.isfinite(ops.convert_to_numpy(z)))


def test_log_var_clip_leaves_the_normal_range_unchanged():
    v = np.array([-19.5, -3.0, 0.0, 7.0, 19.5], "float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(losses.clip_log_var(v)), v)
    np.testing.assert_array_equal(ops.convert_to_numpy(losses.clip_log_var(np.array([-100.0, 100.0], "float32"))), [-20.0, 20.0])
