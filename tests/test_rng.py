"""workshop.rng: the random draws of the compiled training step (Philox named)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import PHILOX, random_ops_of_train_step
from keras import ops

from workshop import VAE, Sampling, rng


def test_sampling_draws_philox_noise_from_its_own_seed_generator():
    zeros = ops.zeros((5, 3))
    layer = Sampling(seed=11)
    first, second = np.asarray(layer([zeros, zeros])), np.asarray(layer([zeros, zeros]))
    generator = keras.random.SeedGenerator(11)
    expected = [tf.random.stateless_normal((5, 3), seed=rng.seed_from(generator), alg="philox") for _ in range(2)]
    np.testing.assert_array_equal(first, np.asarray(expected[0]))
    np.testing.assert_array_equal(second, np.asarray(expected[1]))  # fresh noise at every call
    # z = mean + exp(log_var / 2) * eps, with the same eps
    shifted = Sampling(seed=11)([ops.ones((5, 3)), ops.full((5, 3), 2.0 * np.log(3.0))])
    np.testing.assert_allclose(np.asarray(shifted), 1.0 + 3.0 * first, rtol=1e-5, atol=1e-6)


def test_compiled_sampling_draws_fresh_noise_and_repeats_with_the_seed():
    def draws(seed):
        layer = Sampling(seed=seed)
        step = tf.function(lambda: layer([ops.zeros((256, 4)), ops.zeros((256, 4))]), jit_compile=True)
        return np.asarray(step()), np.asarray(step())

    a1, a2 = draws(3)
    b1, _ = draws(3)
    assert not np.array_equal(a1, a2)
    np.testing.assert_array_equal(a1, b1)
    assert abs(a1.mean()) < 0.15 and abs(a1.std() - 1.0) < 0.1  # 1,024 standard normals


def test_seed_from_wants_a_seed_generator():
    with pytest.raises(TypeError, match="Expected a keras.random.SeedGenerator. Received: int"):
        rng.seed_from(3)


def test_bernoulli_gives_a_one_only_when_the_draw_is_below_the_probability():
    """Dynamic binarization's rule (the pipeline's and train_step's draw): pixel = 1 when u < p, so P(1) = p exactly.

    With p set to the very uniforms the seed draws, every pixel sits exactly at its threshold and must be 0;
    one float32 step above, 1.
    """

    def ones(pixels):
        return int(np.sum(np.asarray(pixels) == 1.0))

    seed = tf.constant([5, 6])
    u = tf.random.stateless_uniform((64, 28, 28, 1), seed=seed, alg="philox")  # bernoulli's draws for this seed
    above = np.nextafter(np.asarray(u), np.float32(2.0))
    assert ones(rng.bernoulli(u, seed)) == 0
    assert ones(rng.bernoulli(above, seed)) == above.size
    assert ones(rng.bernoulli(tf.zeros((64, 784)), seed)) == 0
    assert ones(rng.bernoulli(tf.ones((64, 784)), seed)) == 64 * 784
    # train_step's own draw: the model's seed generator, in the same state, gives the uniforms
    model = VAE(latent_dim=2, hidden_units=(8,), dynamic_binarization=True, seed=3)
    twin = keras.random.SeedGenerator(0)
    twin.state.assign(model.noise_seed_generator.state.value)
    u = tf.random.stateless_uniform((16, 28, 28, 1), seed=rng.seed_from(twin), alg="philox")
    assert ones(model._binarize(u)) == 0
    u = tf.random.stateless_uniform((16, 28, 28, 1), seed=rng.seed_from(twin), alg="philox")  # the next step's draw
    assert ones(model._binarize(np.nextafter(np.asarray(u), np.float32(2.0)))) == 16 * 784


def test_reparameterisation_noise_of_the_compiled_step_is_drawn_with_philox_named():
    """Regression: keras.random.normal ("auto_select") made the XLA step on a CPU 1.8-2.2x slower than without noise
    (latent 64, hidden 128, batch 128; the 784-400-20 benchmark epoch went from 1.0-1.2 s to 1.5-2.0 s); Philox: 1.0-1.07x.

    This test timed alternated epochs with and without noise (ratio < 1.4). On a loaded 2-core machine the ratio's
    median over 7 paired epochs was 1.34 with Philox and 1.50 with keras.random.normal put back: timing could not
    tell the two apart. It checks the cause instead: every random op of the traced step is a stateless op with
    Philox named (keras.random.normal adds StatelessRandomGetKeyCounter and algorithm 3, auto-select).
    """
    model = VAE(latent_dim=64, hidden_units=(128,), seed=0)
    ops_found = random_ops_of_train_step(model, (128, 28, 28, 1))
    assert ("StatelessRandomNormalV2", PHILOX) in ops_found  # the reparameterisation noise
    assert all(alg == PHILOX for _, alg in ops_found), ops_found


@pytest.mark.parametrize("jit_compile", [None, False, True], ids=["eager", "graph", "xla"])
def test_draws_are_keras_random_normals_so_earlier_runs_repeat(jit_compile):
    # TensorFlow's auto-selected algorithm is Philox too: naming it changes the speed, not the numbers,
    # so runs recorded before the change (notebooks, pretrained models) repeat exactly.
    def draws(draw):
        generator = keras.random.SeedGenerator(21)
        step = (lambda: draw(generator)) if jit_compile is None else tf.function(lambda: draw(generator), jit_compile=jit_compile)
        return [np.asarray(step()) for _ in range(2)]

    ours = draws(lambda g: rng.normal((128, 20), g))
    theirs = draws(lambda g: keras.random.normal((128, 20), seed=g))
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)
    # an integer seed is keras.random.normal's own
    np.testing.assert_array_equal(np.asarray(rng.normal((4, 3), 7)), np.asarray(keras.random.normal((4, 3), seed=7)))
