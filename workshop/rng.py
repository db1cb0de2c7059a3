"""Random draws inside compiled training steps, with TensorFlow's algorithm named (Philox).

``keras.random.normal`` and ``keras.random.uniform`` call TensorFlow's
stateless ops without an algorithm, so TensorFlow picks one ("auto_select").
Inside an XLA-compiled step on a CPU that choice compiles to slow code:

* the reparameterisation noise alone, 128 x 64 normals per step, made the
  compiled step of a 784-128-64 VAE 1.8-2.2x slower than the same step
  without noise; with Philox it is 1.0-1.07x (``tests/test_rng.py``). For the
  784-400-20 benchmark VAE, epochs went from 1.5-2.2 s to 1.1-1.6 s
  (medians of runs alternated on a 2-core CPU);
* 128 x 784 uniform draws for dynamic binarization made the 784-512-256-32
  step 41.6 ms against 10.1 ms with Philox.

The seeds come from a layer's own ``keras.random.SeedGenerator``, as with
``keras.random``: every call draws afresh, and the same seed repeats the
sequence. The draws are exactly those of ``keras.random.normal`` with the same
generator, compiled or not (TensorFlow's choice is Philox too, compiled through
the slow path), so runs recorded before this change repeat. Compiled and eager
calls give different numbers from each other, as they do with ``keras.random``.
"""

import keras
import tensorflow as tf
from keras import ops

ALGORITHM = "philox"


def seed_from(generator):
    """The next seed of a ``keras.random.SeedGenerator``, as the int32 pair TensorFlow's stateless ops take.

    The generator advances by one, as it does for ``keras.random.normal(..., seed=generator)``.
    """
    if not isinstance(generator, keras.random.SeedGenerator):
        raise TypeError(f"Expected a keras.random.SeedGenerator. Received: {type(generator).__name__}")
    return ops.cast(ops.mod(generator.next(), 2**31 - 1), "int32")


def normal(shape, generator, dtype="float32"):
    """Standard normal draws of ``shape``: ``keras.random.normal(shape, dtype=dtype, seed=generator)``'s numbers, Philox named.

    ``generator``: a ``keras.random.SeedGenerator`` (fresh draws at every call). An integer
    or None is passed on to ``keras.random.normal`` as its ``seed``.
    """
    if not isinstance(generator, keras.random.SeedGenerator):
        return keras.random.normal(shape, dtype=dtype, seed=generator)
    return tf.random.stateless_normal(shape, seed=seed_from(generator), dtype=dtype, alg=ALGORITHM)


def bernoulli(probabilities, seed):
    """Binary float32 values, each 1 with its probability: dynamic binarization, in the pipeline and in ``VAE.train_step``.

    ``seed``: a shape-(2,) integer tensor, or a ``keras.random.SeedGenerator``.
    """
    if isinstance(seed, keras.random.SeedGenerator):
        seed = seed_from(seed)
    probabilities = tf.cast(probabilities, tf.float32)
    u = tf.random.stateless_uniform(tf.shape(probabilities), seed=seed, alg=ALGORITHM)
    return tf.cast(u < probabilities, tf.float32)
