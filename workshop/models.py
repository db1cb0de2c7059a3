"""Encoders, decoders, the VAE and the conditional VAE (Keras 3, TensorFlow backend).

The VAE follows the keras-io example's shape: two small functional models
(``.encoder`` gives ``(z_mean, z_log_var)``, ``.decoder`` gives logits), a
``Sampling`` layer, and a subclassed ``keras.Model`` whose ``train_step``
minimises the negative ELBO per image,

    loss = reconstruction_loss + beta * kl_loss,
    reconstruction_loss = -log p(x | z)           (summed over the 784 pixels)
    kl_loss = KL(q(z | x) || N(0, I))             (summed over latent dimensions)

both averaged over the batch, in nats per image. With ``beta = 1`` the loss is
the negative ELBO; ``beta`` only changes what is minimised, never how
:meth:`VAE.elbo` or :meth:`VAE.log_likelihood` are computed.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from workshop import inputs, losses, rng
from workshop.constants import IMAGE_SHAPE, LOG_2PI, NUM_PIXELS
from workshop.layers import Sampling
from workshop.validation import (
    check_bool,
    check_choice,
    check_dataset,
    check_hidden_units,
    check_images,
    check_labels,
    check_latent,
    check_positive_int,
    check_seed,
    dataset_error_message,
)

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian")


def _is_concrete(value):
    """True for NumPy arrays, lists and eager tensors: values that can be checked now (not symbolic)."""
    if isinstance(value, (np.ndarray, list, np.generic)):
        return True
    return tf.is_tensor(value) and hasattr(value, "numpy") and tf.executing_eagerly()


def _check_architecture(latent_dim, architecture, hidden_units):
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    check_choice(architecture, "architecture", ARCHITECTURES)
    hidden_units = check_hidden_units(hidden_units)
    if architecture == "conv" and not hidden_units:
        raise ValueError("Expected at least one entry in `hidden_units` for architecture='conv'. Received: ()")
    return latent_dim, hidden_units


def build_encoder(latent_dim, architecture="mlp", hidden_units=(512, 256), num_classes=None, name="encoder"):
    """Build the encoder: images (N, 28, 28, 1) [+ one-hot labels] -> (z_mean, z_log_var).

    Args:
        latent_dim: size of the latent code, >= 1.
        architecture: ``"mlp"`` (flatten, then Dense ReLU layers of ``hidden_units``)
            or ``"conv"`` (two stride-2 3x3 convolutions with 32 and 64 filters, then
            one Dense layer of ``hidden_units[-1]`` units).
        hidden_units: sizes of the hidden Dense layers.
        num_classes: when set, a second input takes one-hot labels, concatenated to the
            flattened features (the conditional VAE).
        name: the model's name.

    Returns:
        A functional ``keras.Model`` with outputs ``[z_mean, z_log_var]``.
    """
    latent_dim, hidden_units = _check_architecture(latent_dim, architecture, hidden_units)
    image = keras.Input(shape=IMAGE_SHAPE, name="image")
    inputs = [image]
    if architecture == "conv":
        h = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv_0")(image)
        h = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv_1")(h)
        h = layers.Flatten(name="flatten")(h)
        dense_units = hidden_units[-1:]
    else:
        h = layers.Flatten(name="flatten")(image)
        dense_units = hidden_units
    if num_classes is not None:
        label = keras.Input(shape=(num_classes,), name="label")
        inputs.append(label)
        h = layers.Concatenate(name="image_and_label")([h, label])
    for i, units in enumerate(dense_units):
        h = layers.Dense(units, activation="relu", name=f"hidden_{i}")(h)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(inputs if num_classes is not None else image, [z_mean, z_log_var], name=name)


def build_decoder(latent_dim, architecture="mlp", hidden_units=(512, 256), num_classes=None, name="decoder", label_every_layer=False):
    """Build the decoder: codes (N, latent_dim) [+ one-hot labels] -> logits (N, 28, 28, 1).

    The decoder mirrors the encoder (``hidden_units`` reversed for the MLP; a Dense
    layer then two stride-2 transposed convolutions for ``"conv"``). It outputs
    logits: ``sigmoid(logits)`` is the mean image, and the losses use the logits
    directly for numerical stability.

    With ``num_classes``, the one-hot label is concatenated to the code (layer
    ``z_and_label``); with ``label_every_layer=True`` it is also concatenated to
    the input of every further Dense layer (layers ``label_to_<layer>``), so
    the label reaches deep into the network instead of competing with the code
    in the first layer only.
    """
    latent_dim, hidden_units = _check_architecture(latent_dim, architecture, hidden_units)
    z = keras.Input(shape=(latent_dim,), name="z")
    inputs = [z]
    h = z
    label = None
    if num_classes is not None:
        label = keras.Input(shape=(num_classes,), name="label")
        inputs.append(label)
        h = layers.Concatenate(name="z_and_label")([z, label])

    def with_label(h, layer_name, first):
        if label is None or first or not label_every_layer:
            return h
        return layers.Concatenate(name=f"label_to_{layer_name}")([h, label])

    if architecture == "conv":
        h = layers.Dense(hidden_units[-1], activation="relu", name="hidden_0")(h)
        h = layers.Dense(7 * 7 * 64, activation="relu", name="project")(with_label(h, "project", False))
        h = layers.Reshape((7, 7, 64), name="reshape_to_maps")(h)
        h = layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu", name="deconv_0")(h)
        h = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu", name="deconv_1")(h)
        logits = layers.Conv2DTranspose(1, 3, padding="same", name="logits")(h)
    else:
        for i, units in enumerate(reversed(hidden_units)):
            h = layers.Dense(units, activation="relu", name=f"hidden_{i}")(with_label(h, f"hidden_{i}", i == 0))
        h = layers.Dense(NUM_PIXELS, name="logits")(with_label(h, "logits", False))
        logits = layers.Reshape(IMAGE_SHAPE, name="to_image")(h)
    return keras.Model(inputs if num_classes is not None else z, logits, name=name)


@keras.saving.register_keras_serializable(package="workshop")
class VAE(keras.Model):
    """A variational autoencoder for 28x28 images with a custom ``train_step``.

    The encoder maps an image to the mean and log-variance of a diagonal
    Gaussian q(z | x); the ``Sampling`` layer draws z from it by
    reparameterisation; the decoder maps z to pixel logits. Training minimises
    ``reconstruction_loss + beta * kl_loss`` (nats per image, averaged over the
    batch). Metrics ``loss``, ``reconstruction_loss`` and ``kl_loss`` are
    reported by ``fit`` and ``evaluate`` (and as ``val_*`` with validation data).

    Args:
        latent_dim: size of the latent code, >= 1.
        architecture: ``"mlp"`` or ``"conv"``.
        hidden_units: hidden layer sizes of the MLP (the decoder mirrors them);
            for ``"conv"`` the last entry sizes its Dense layer.
        likelihood: ``"bernoulli"`` (pixels are independent Bernoullis with
            probabilities ``sigmoid(logits)``) or ``"gaussian"`` (pixels are
            Gaussian with mean ``sigmoid(logits)`` and fixed std ``sigma``, so the
            reconstruction loss is ``||x - mean||^2 / (2 sigma^2)`` plus a constant).
        beta: weight of the KL term in the training loss (1 gives the ELBO).
        sigma: the fixed standard deviation of the Gaussian likelihood.
        dynamic_binarization: when True, each training step replaces the
            grey-level batch by fresh Bernoulli samples with those probabilities
            (drawn by ``fit``'s input pipeline for NumPy images, so a subclass's own
            ``train_step`` gets them too; in ``train_step`` for a dataset).
        seed: an integer making the sampling noise repeatable, or None.
        kl_warmup_epochs: KL warm-up (Bowman et al., 2016): the KL weight of the
            training loss rises linearly from 0 to ``beta`` over this many epochs
            (step by step: ``min(1, step / (kl_warmup_epochs * steps_per_epoch))``,
            so epoch ``e`` starts at ``e / kl_warmup_epochs``); 0 switches it off.
        free_bits: free bits (Kingma et al., 2016): a floor ``lambda`` in nats on
            each latent dimension's batch-mean KL in the training loss,
            ``sum_j max(lambda, mean_batch KL_j)``; 0 switches it off.
            Both options change only what is minimised: the ``kl_loss`` metric,
            :meth:`elbo` and :meth:`log_likelihood` always use the true KL. The
            ``loss`` metric of ``fit`` is the loss minimised (warmed / floored);
            ``val_loss`` is ``reconstruction + beta * KL``.

    Images are float32 arrays of shape (N, 28, 28, 1) or (N, 28, 28) with values in [0, 1].

    Example:
        >>> model = VAE(latent_dim=2)
        >>> model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
        >>> history = model.fit(x_train, epochs=5, batch_size=128, validation_data=(x_test,))
    """

    conditional = False
    _label_every_layer = False  # ConditionalVAE's option: the label also enters every decoder layer

    def __init__(
        self,
        latent_dim=20,
        architecture="mlp",
        hidden_units=(512, 256),
        likelihood="bernoulli",
        beta=1.0,
        sigma=0.1,
        dynamic_binarization=False,
        seed=None,
        num_classes=None,
        kl_warmup_epochs=0,
        free_bits=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        latent_dim, hidden_units = _check_architecture(latent_dim, architecture, hidden_units)
        check_choice(likelihood, "likelihood", LIKELIHOODS)
        for value, name in ((beta, "beta"), (sigma, "sigma")):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) or not math.isfinite(value):
                raise ValueError(f"Expected `{name}` to be a finite number. Received: {name}={value!r}")
        if beta < 0:
            raise ValueError(f"Expected `beta` >= 0. Received: beta={beta}")
        if sigma <= 0:
            raise ValueError(f"Expected `sigma` > 0. Received: sigma={sigma}")
        seed = check_seed(seed)
        dynamic_binarization = check_bool(dynamic_binarization, "dynamic_binarization")
        if self.conditional:
            if num_classes is None:
                raise ValueError("Expected `num_classes` (an integer >= 2) for a ConditionalVAE. Received: num_classes=None")
            num_classes = check_positive_int(num_classes, "num_classes", minimum=2)
        elif num_classes is not None:
            raise ValueError(
                f"Expected no `num_classes` for a VAE (use ConditionalVAE to condition on labels). Received: num_classes={num_classes!r}"
            )
        self.latent_dim = latent_dim
        self.architecture = architecture
        self.hidden_units = hidden_units
        self.likelihood = likelihood
        self.beta = float(beta)
        self.sigma = float(sigma)
        self.dynamic_binarization = bool(dynamic_binarization)
        self.seed = seed
        self.num_classes = num_classes
        kl_warmup_epochs = check_positive_int(kl_warmup_epochs, "kl_warmup_epochs", minimum=0)
        if isinstance(free_bits, bool) or not isinstance(free_bits, (int, float, np.floating, np.integer)) or not 0 <= free_bits < math.inf:
            raise ValueError(
                f"Expected `free_bits` to be a finite number >= 0 (nats per latent dimension). Received: free_bits={free_bits!r}"
            )
        self.kl_warmup_epochs = kl_warmup_epochs
        self.free_bits = float(free_bits)
        self._warmup_steps = None  # kl_warmup_epochs * steps per epoch, set by fit()
        self._input_binarizes = False  # True while fit's input pipeline does the dynamic binarization itself
        self.encoder = build_encoder(latent_dim, architecture, hidden_units, num_classes)
        self.decoder = build_decoder(latent_dim, architecture, hidden_units, num_classes, label_every_layer=self._label_every_layer)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.noise_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self.built = True

    # ----------------------------------------------------------------- config
    def get_config(self):
        base_config = super().get_config()
        config = {
            "latent_dim": self.latent_dim,
            "architecture": self.architecture,
            "hidden_units": list(self.hidden_units),
            "likelihood": self.likelihood,
            "beta": self.beta,
            "sigma": self.sigma,
            "dynamic_binarization": self.dynamic_binarization,
            "seed": self.seed,
        }
        if self.kl_warmup_epochs or self.free_bits:  # only when used: older .keras files stay identical
            config.update(kl_warmup_epochs=self.kl_warmup_epochs, free_bits=self.free_bits)
        if self.conditional:
            config["num_classes"] = self.num_classes
            config["label_every_layer"] = self._label_every_layer
        return {**base_config, **config}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return cls(**config)

    def compile(self, optimizer=None, jit_compile=None, steps_per_execution=None, **kwargs):
        """Configure training. Defaults: Adam with learning rate 1e-3, ``jit_compile=True`` (XLA),
        ``steps_per_execution=32`` (32 training steps per call from Python: about 20% faster
        on a 2-core CPU; callbacks and the progress bar then update every 32 batches).

        A model built under a ``tf.distribute`` strategy's scope defaults to
        ``jit_compile=False`` and ``steps_per_execution=1`` instead: XLA cannot
        compile the cross-replica gradient sum, and Keras 3.15's multi-step loop
        fails under a strategy (a placeholder error).

        No ``loss`` argument: the loss is defined by the model itself.
        """
        if "loss" in kwargs and kwargs["loss"] is not None:
            raise ValueError(f"Expected no `loss` argument: a VAE computes its own loss. Received: loss={kwargs['loss']!r}")
        distributed = tf.distribute.has_strategy() or getattr(self, "_distribute_strategy", None) is not None
        if jit_compile is None:
            jit_compile = not distributed
        if steps_per_execution is None:
            steps_per_execution = 1 if distributed else 32
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        if kwargs.get("run_eagerly"):
            jit_compile = False  # eager debugging runs cannot be XLA-compiled
        super().compile(optimizer=optimizer, jit_compile=jit_compile, steps_per_execution=steps_per_execution, **kwargs)

    def compile_from_config(self, config):
        """Re-compile a loaded model with its saved optimizer (and its state) and settings."""
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    # ------------------------------------------------------------ the losses
    def _inputs(self, x, condition):
        return x if condition is None else [x, condition]

    def _split_data(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)):
            x = x[0]
        return x, None

    def reconstruction_loss(self, x, logits):
        """-log p(x | z) per image in nats, for this model's likelihood (a tensor of shape (N,))."""
        if self.likelihood == "gaussian":
            return losses.gaussian_reconstruction_loss(x, logits, self.sigma)
        return losses.bernoulli_reconstruction_loss(x, logits)

    def compute_loss_terms(self, x, condition=None, training=False):
        """One-sample estimates of the two loss terms per image: (reconstruction_loss, kl_loss)."""
        z_mean, z_log_var = self.encoder(self._inputs(x, condition), training=training)
        z = self.sampling([z_mean, z_log_var])
        logits = self.decoder(self._inputs(z, condition), training=training)
        return self.reconstruction_loss(x, logits), losses.kl_standard_normal(z_mean, z_log_var)

    def _update_metrics(self, reconstruction, kl, loss=None):
        """Update the three metrics with per-image values (shape (N,)) and return their results.

        Per-image updates make each metric the mean over every image seen,
        across batches and, under ``tf.distribute``, across replicas.
        """
        self.loss_tracker.update_state(reconstruction + self.beta * kl if loss is None else loss)
        self.reconstruction_loss_tracker.update_state(reconstruction)
        self.kl_loss_tracker.update_state(kl)
        return self._step_logs()

    def _step_logs(self):
        """The metrics' results, as a step returns them to ``fit``.

        Under ``MultiWorkerMirroredStrategy`` each is a vector of one value:
        Keras 3.15 reduces multi-worker step outputs with
        ``strategy.reduce("MEAN", value, axis=0)``, which fails on a scalar.
        The epoch's logs are read from the metrics themselves either way.
        """
        results = {m.name: m.result() for m in self.metrics}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            results = {name: ops.reshape(value, (1,)) for name, value in results.items()}
        return results

    @staticmethod
    def _batch_share(per_image):
        """``(this replica's images) / (images in the global batch)``, a float32 scalar (1 on one device).

        ``tf.distribute`` sums the gradients of the replicas, so a replica's loss
        must be its share of the global-batch mean: ``sum over its images / global
        batch size``. Summed over replicas that is the mean over the global batch,
        whatever the number of replicas and however the last batch was split.
        """
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return ops.convert_to_tensor(1.0, "float32")
        local = ops.cast(ops.shape(per_image)[0], "float32")
        return local / context.all_reduce(tf.distribute.ReduceOp.SUM, local)

    def train_step(self, data):
        x, condition = self._split_data(data)
        x = ops.cast(x, "float32")
        if self.dynamic_binarization and not self._input_binarizes:
            x = self._binarize(x)
        if self.kl_warmup_epochs or self.free_bits:
            return self._regularised_train_step(x, condition, data)
        variables = self._trained_variables()
        with tf.GradientTape() as tape:
            reconstruction, kl = self._training_loss_terms(x, condition, data)
            per_image = reconstruction + self.beta * kl
            # The mean over this replica's images, times its share of the global batch (1 on one device).
            loss = ops.mean(per_image) * self._batch_share(per_image)
        grads = tape.gradient(loss, variables)
        self.optimizer.apply(grads, variables)
        return self._update_metrics(reconstruction, kl, per_image)

    def _training_loss_terms(self, x, condition, data):
        """The per-image loss terms a training step minimises, for the (binarized) batch ``x``; ``data`` is the
        batch as ``fit`` gave it. A subclass that trains on something else than ``compute_loss_terms`` overrides this."""
        return self.compute_loss_terms(x, condition, training=True)

    def _trained_variables(self):
        """The variables a training step updates (all trainable ones; a subclass's phase may train fewer)."""
        return self.trainable_weights

    def _binarize(self, x):
        """Fresh Bernoulli pixels with probabilities ``x`` (:func:`workshop.rng.bernoulli`, Philox named:
        ``keras.random.uniform`` slows XLA's CPU step 4.1x), seeded by the model's own
        SeedGenerator, so the same ``seed`` repeats the same pixels."""
        return rng.bernoulli(x, self.noise_seed_generator)

    def kl_weight(self):
        """The KL weight of the training loss now: ``beta`` times the warm-up factor (a tensor)."""
        if not self.kl_warmup_epochs:
            return ops.convert_to_tensor(self.beta, "float32")
        if self._warmup_steps is None:
            raise ValueError("Expected fit() to set the warm-up length: kl_warmup_epochs needs the steps per epoch. Received: none")
        step = ops.cast(self.optimizer.iterations, "float32")
        return self.beta * ops.minimum(1.0, step / float(self._warmup_steps))

    def _regularised_train_step(self, x, condition, data=None):
        """train_step with KL warm-up and/or free bits; the metrics keep the true KL.

        Warm-up alone scales whatever KL :meth:`_training_loss_terms` gives (a subclass's prior
        included); free bits needs the per-dimension KL to N(0, I)."""
        variables = self._trained_variables()
        with tf.GradientTape() as tape:
            if self.free_bits:
                z_mean, z_log_var = self.encoder(self._inputs(x, condition), training=True)
                z = self.sampling([z_mean, z_log_var])
                logits = self.decoder(self._inputs(z, condition), training=True)
                reconstruction = self.reconstruction_loss(x, logits)
                kl = losses.kl_standard_normal(z_mean, z_log_var)
                penalty = losses.free_bits_kl(z_mean, z_log_var, self.free_bits)
            else:
                reconstruction, kl = self._training_loss_terms(x, condition, data)
                penalty = ops.mean(kl)
            loss = ops.mean(reconstruction) + self.kl_weight() * penalty
            scaled = loss * self._batch_share(reconstruction)  # this replica's share of the global batch
        grads = tape.gradient(scaled, variables)
        self.optimizer.apply(grads, variables)
        return self._update_metrics(reconstruction, kl, ops.broadcast_to(loss, ops.shape(reconstruction)))

    def test_step(self, data):
        x, condition = self._split_data(data)
        reconstruction, kl = self.compute_loss_terms(ops.cast(x, "float32"), condition)
        return self._update_metrics(reconstruction, kl)

    def call(self, inputs, training=False):
        """Reconstruct: the mean image decoded from z (sampled when training, z_mean otherwise)."""
        if isinstance(inputs, (tuple, list)):
            x, condition = inputs[0], (inputs[1] if self.conditional else None)
        else:
            x, condition = inputs, None
        if _is_concrete(x):  # NumPy or eager values: check them as encode does (graph tensors pass)
            x = check_images(x)
            if self.conditional:
                condition = self._condition(None if condition is None or not _is_concrete(condition) else condition, len(x))
        z_mean, z_log_var = self.encoder(self._inputs(x, condition), training=training)
        z = self.sampling([z_mean, z_log_var]) if training else z_mean
        return ops.sigmoid(self.decoder(self._inputs(z, condition), training=training))

    # --------------------------------------------- fit/evaluate with checks
    def _prepare(self, x, y=None, name="x"):
        """Validate inputs before they reach TensorFlow: arrays at once, datasets batch by batch as consumed."""
        if x is None:
            raise ValueError(f"Expected `{name}`: images of shape (N, 28, 28, 1) or a tf.data.Dataset of batches. Received: {name}=None")
        if isinstance(x, (tuple, list)) and len(x) == 2 and self.conditional and y is None:
            x, y = x
        if hasattr(x, "element_spec"):
            return check_dataset(x, self.conditional, self.num_classes, name), None
        if not (isinstance(x, (np.ndarray, list, tuple)) or _is_concrete(x)):
            raise ValueError(f"Expected `{name}` to be an array of images or a tf.data.Dataset. Received: {type(x).__name__}")
        x = check_images(x, name)
        if self.conditional:
            if y is None:
                raise ValueError(
                    "Expected labels for a ConditionalVAE: fit(x, labels), evaluate(x, labels), predict(x, labels=...). Received: labels=None"
                )
            y = check_labels(y, len(x), self.num_classes)
        return x, y

    def _prepare_validation(self, validation_data):
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) == 0:
                raise ValueError("Expected validation_data=(x_val,) or (x_val, labels). Received: ()")
            x_val = validation_data[0]
            y_val = validation_data[1] if len(validation_data) > 1 else None
            x_val, y_val = self._prepare(x_val, y_val, "validation_data[0]")
            return (x_val,) if y_val is None else (x_val, y_val)
        if isinstance(validation_data, np.ndarray):
            return (check_images(validation_data, "validation_data"),)
        if hasattr(validation_data, "element_spec"):
            return check_dataset(validation_data, self.conditional, self.num_classes, "validation_data")
        return validation_data

    def _run_checked(self, method, *args, **kwargs):
        """Call a keras.Model method, turning a failed dataset check into a one-line ValueError."""
        try:
            return method(*args, **kwargs)
        except tf.errors.OpError as error:
            message = dataset_error_message(error)
            if message is None:
                raise
            raise ValueError(message) from None

    @staticmethod
    def _check_run_arguments(kwargs, names=("batch_size",)):
        for name in names:
            if kwargs.get(name) is not None:
                check_positive_int(kwargs[name], name)

    def fit(self, x=None, y=None, validation_data=None, fast_input=True, **kwargs):
        """Train on images ``x`` (no targets: the images are their own targets).

        Takes everything ``keras.Model.fit`` takes. NumPy images (and labels) go
        through :func:`workshop.inputs.shuffled_batches`: the arrays are held as
        one tensor and every epoch gathers its batches from a fresh permutation of
        all images, which is faster and steadier than Keras's array adapter on a
        small CPU. ``fast_input=False`` hands them to Keras's adapter instead
        (as do ``sample_weight``, ``validation_split``, ``steps_per_epoch`` and
        ``shuffle="batch"``). Datasets are used as given.
        """
        self._check_run_arguments(kwargs, ("batch_size", "validation_batch_size", "steps_per_epoch"))
        epochs = check_positive_int(kwargs.pop("epochs", 1), "epochs")
        initial_epoch = check_positive_int(kwargs.pop("initial_epoch", 0), "initial_epoch", minimum=0)
        if initial_epoch >= epochs:
            raise ValueError(f"Expected `initial_epoch` < `epochs`. Received: initial_epoch={initial_epoch}, epochs={epochs}")
        if hasattr(x, "element_spec"):
            kwargs.setdefault("shuffle", False)  # Keras cannot shuffle a dataset; shuffle it with .shuffle()
        x, y = self._prepare(x, y)
        if validation_data is not None:
            validation_data = self._prepare_validation(validation_data)
        if self.kl_warmup_epochs:
            self._set_warmup_steps(x, kwargs)
        if not isinstance(fast_input, (bool, np.bool_)):
            raise ValueError(f"Expected `fast_input` to be True or False. Received: fast_input={fast_input!r}")
        fast = bool(fast_input) and isinstance(x, np.ndarray) and inputs.fast_path_applies(kwargs)
        if fast:
            x, y, validation_data = self._fast_inputs(x, y, validation_data, kwargs)
        input_binarizes = fast and self.dynamic_binarization
        if input_binarizes != self._input_binarizes:
            self._input_binarizes = input_binarizes
            self.train_function = None  # the traced step binarizes, or not, accordingly
        return self._run_checked(super().fit, x, y, validation_data=validation_data, epochs=epochs, initial_epoch=initial_epoch, **kwargs)

    def _fast_inputs(self, x, y, validation_data, kwargs):
        """NumPy arrays as :func:`workshop.inputs.shuffled_batches` datasets (the default, fast input path).

        Pops ``batch_size``, ``shuffle`` and ``validation_batch_size`` from ``kwargs``
        (the datasets carry them). The shuffling seed is drawn from NumPy's global
        generator, so ``seed_everything(s)`` repeats the same epochs in a fresh process.
        """
        batch_size = kwargs.pop("batch_size", None) or 32
        shuffle = kwargs.pop("shuffle", True)
        validation_batch_size = kwargs.pop("validation_batch_size", None) or batch_size
        kwargs["shuffle"] = False  # the dataset shuffles itself (Keras warns about shuffle=True with a dataset)
        arrays = (x,) if y is None else (x, y)
        # With dynamic binarization the pipeline draws the pixels (on tf.data's thread, next to the gather), so a
        # train_step written without it (notebook 05's StudentVAE) trains on fresh binary images too.
        train = inputs.shuffled_batches(arrays, batch_size, shuffle=shuffle, seed=inputs.draw_seed(), binarize=self.dynamic_binarization)
        if isinstance(validation_data, tuple) and all(isinstance(a, np.ndarray) for a in validation_data):
            validation_data = inputs.shuffled_batches(validation_data, validation_batch_size, shuffle=False)
        return train, None, validation_data

    def _set_warmup_steps(self, x, kwargs):
        steps = kwargs.get("steps_per_epoch")
        if steps is None and isinstance(x, np.ndarray):
            steps = math.ceil(len(x) / (kwargs.get("batch_size") or 32))
        if steps is None and hasattr(x, "cardinality"):
            steps = int(x.cardinality())
        if steps is None or steps < 1:
            raise ValueError(f"Expected NumPy images or steps_per_epoch=... to size the KL warm-up. Received: {type(x).__name__}")
        warmup_steps = self.kl_warmup_epochs * int(steps)
        if warmup_steps != self._warmup_steps:
            self._warmup_steps = warmup_steps
            self.train_function = None  # the traced step holds the old length

    def evaluate(self, x=None, y=None, **kwargs):
        """Average loss terms over ``x``; with ``return_dict=True`` a dict of the three metrics."""
        self._check_run_arguments(kwargs, ("batch_size", "steps"))
        x, y = self._prepare(x, y)
        return self._run_checked(super().evaluate, x, y, **kwargs)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, labels=None):
        """Reconstructions of ``x`` (see :meth:`call`), checked like :meth:`encode`; datasets are checked batch by batch.

        A ConditionalVAE takes ``labels=`` (or ``x=(images, labels)``).
        """
        self._check_run_arguments({"batch_size": batch_size, "steps": steps}, ("batch_size", "steps"))
        x, labels = self._prepare(x, labels if self.conditional else None)
        if labels is not None:
            x = (x, labels)
        return self._run_checked(super().predict, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)

    # ------------------------------------------------------ NumPy interface
    def _condition(self, labels, n):
        return None

    def _batched(self, fn, arrays, batch_size):
        batch_size = check_positive_int(batch_size, "batch_size")
        n = len(arrays[0])
        outs = [fn(*(a[i : i + batch_size] if a is not None else None for a in arrays)) for i in range(0, n, batch_size)]
        if isinstance(outs[0], tuple):
            return tuple(np.concatenate([o[k] for o in outs]) for k in range(len(outs[0])))
        return np.concatenate(outs)

    def encode(self, x, labels=None, batch_size=1024):
        """Return ``(z_mean, z_log_var)`` of q(z | x) as NumPy arrays of shape (N, latent_dim)."""
        x = check_images(x)
        condition = self._condition(labels, len(x))

        def run(xb, cb):
            z_mean, z_log_var = self.encoder(self._inputs(xb, cb), training=False)
            return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

        return self._batched(run, (x, condition), batch_size)

    def decode(self, z, labels=None, batch_size=1024):
        """Return the mean images ``sigmoid(decoder(z))``, shape (N, 28, 28, 1), values in [0, 1]."""
        z = check_latent(z, self.latent_dim)
        condition = self._condition(labels, len(z))

        def run(zb, cb):
            return ops.convert_to_numpy(ops.sigmoid(self.decoder(self._inputs(zb, cb), training=False)))

        return self._batched(run, (z, condition), batch_size)

    def reconstruct(self, x, labels=None, batch_size=1024):
        """Decode the posterior means of ``x``: the model's reconstructions, shape (N, 28, 28, 1)."""
        z_mean, _ = self.encode(x, labels, batch_size)
        return self.decode(z_mean, labels, batch_size)

    def sample(self, n, labels=None, seed=None):
        """Draw ``n`` images: z ~ N(0, I), then the decoder's mean image (N, 28, 28, 1).

        The same argument order for :class:`VAE` and :class:`ConditionalVAE`:
        ``sample(n, labels=None, seed=None)``; a plain VAE takes no labels.
        """
        n = check_positive_int(n, "n")
        seed = check_seed(seed)
        if labels is not None and not self.conditional:
            raise ValueError(f"Expected no `labels` for a VAE (did you mean seed={labels!r}?). Received: labels={labels!r}")
        z = keras.random.normal((n, self.latent_dim), seed=self.noise_seed_generator if seed is None else seed)
        return self.decode(ops.convert_to_numpy(z), labels)

    def elbo(self, x, labels=None, num_samples=1, batch_size=1024, seed=None):
        """Per-image ELBO in nats: E_q[log p(x | z)] - KL(q(z | x) || p(z)), with beta = 1.

        The expectation is estimated with ``num_samples`` draws of z per image
        (the KL is exact). Higher is better; the test loss reported in the course
        is ``-elbo(x).mean()``.
        """
        x = check_images(x)
        num_samples = check_positive_int(num_samples, "num_samples")
        seed = check_seed(seed)
        condition = self._condition(labels, len(x))
        generator = keras.random.SeedGenerator(seed) if seed is not None else self.noise_seed_generator

        def run(xb, cb):
            # z below is a tensor, and Keras refuses a [tensor, array] pair as a model's input.
            xb = ops.convert_to_tensor(xb)
            cb = None if cb is None else ops.convert_to_tensor(cb)
            z_mean, z_log_var = self.encoder(self._inputs(xb, cb), training=False)
            kl = losses.kl_standard_normal(z_mean, z_log_var)
            total = 0.0
            for _ in range(num_samples):
                eps = keras.random.normal(ops.shape(z_mean), seed=generator)
                z = z_mean + ops.exp(0.5 * losses.clip_log_var(z_log_var)) * eps
                total = total + self.reconstruction_loss(xb, self.decoder(self._inputs(z, cb), training=False))
            return ops.convert_to_numpy(-(total / num_samples) - kl).astype("float64")

        return self._batched(run, (x, condition), batch_size)

    def _log_prior(self, z):
        """log p(z) summed over the last axis (a tensor): N(0, I) here; a model with another prior overrides it."""
        return -0.5 * ops.sum(ops.square(z) + LOG_2PI, axis=-1)

    def log_likelihood(self, x, labels=None, num_samples=1000, batch_size=None, seed=None, max_rows=32768):
        """Per-image importance-weighted estimate of log p(x) in nats (the IWAE bound with K samples).

        log p(x) >= log (1/K) sum_k p(x | z_k) p(z_k) / q(z_k | x),  z_k ~ q(z | x).

        The bound is never below the ELBO in expectation and tightens as K grows.
        Work is split so that at most ``max_rows`` decoder evaluations are in
        memory at once, so K = 1000 fits on a laptop.
        """
        x = check_images(x)
        k_total = check_positive_int(num_samples, "num_samples")
        seed = check_seed(seed)
        max_rows = check_positive_int(max_rows, "max_rows")
        if batch_size is not None:
            batch_size = check_positive_int(batch_size, "batch_size")
        condition = self._condition(labels, len(x))
        generator = keras.random.SeedGenerator(seed) if seed is not None else self.noise_seed_generator
        chunk = max(1, min(k_total, max_rows))
        if batch_size is None:
            batch_size = max(1, max_rows // chunk)

        def run(xb, cb):
            b = len(xb)
            z_mean, z_log_var = self.encoder(self._inputs(xb, cb), training=False)
            z_log_var = losses.clip_log_var(z_log_var)
            x_rep_all = ops.reshape(ops.convert_to_tensor(xb), (b, 1, NUM_PIXELS))
            log_ws = []
            for start in range(0, k_total, chunk):
                k = min(chunk, k_total - start)
                eps = keras.random.normal((b, k, self.latent_dim), seed=generator)
                z = z_mean[:, None, :] + ops.exp(0.5 * z_log_var)[:, None, :] * eps
                z_flat = ops.reshape(z, (b * k, self.latent_dim))
                c_flat = None if cb is None else ops.reshape(ops.repeat(ops.convert_to_tensor(cb)[:, None, :], k, axis=1), (b * k, -1))
                logits = self.decoder(self._inputs(z_flat, c_flat), training=False)
                x_rep = ops.reshape(ops.broadcast_to(x_rep_all, (b, k, NUM_PIXELS)), (b * k, NUM_PIXELS))
                log_px = -ops.reshape(self.reconstruction_loss(x_rep, ops.reshape(logits, (b * k, NUM_PIXELS))), (b, k))
                log_pz = self._log_prior(z)
                log_qz = losses.gaussian_log_density(z, z_mean[:, None, :], z_log_var[:, None, :])
                log_ws.append(ops.convert_to_numpy(log_px + log_pz - log_qz).astype("float64"))
            log_w = np.concatenate(log_ws, axis=1)
            m = log_w.max(axis=1, keepdims=True)
            return np.log(np.mean(np.exp(log_w - m), axis=1)) + m[:, 0]

        return self._batched(run, (x, condition), batch_size)


@keras.saving.register_keras_serializable(package="workshop")
class ConditionalVAE(VAE):
    """A VAE whose encoder and decoder also see the class label (one-hot).

    q(z | x, y) and p(x | z, y): the label is concatenated to the encoder's
    flattened features and to the decoder's input code. Train with
    ``fit(x, labels)``; ``labels`` are integers in [0, num_classes) or one-hot
    rows. ``sample(n, labels=...)`` generates chosen classes.

    Args:
        num_classes: number of classes (10 for MNIST).
        label_every_layer: also concatenate the label to the input of every
            further decoder layer (see :func:`build_decoder`). The decoder then
            relies on the label rather than on class information left in z, and
            ``sample(n, labels=k)`` draws class k far more reliably.
        **kwargs: everything :class:`VAE` takes.
    """

    conditional = True

    def __init__(self, num_classes=10, label_every_layer=False, **kwargs):
        if not isinstance(label_every_layer, (bool, np.bool_)):
            raise ValueError(f"Expected `label_every_layer` to be True or False. Received: label_every_layer={label_every_layer!r}")
        object.__setattr__(self, "_label_every_layer", bool(label_every_layer))
        super().__init__(num_classes=num_classes, **kwargs)

    def _split_data(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)):
            x, y = x[0], x[1]
        y = ops.convert_to_tensor(y)
        if len(y.shape) == 1:
            y = ops.one_hot(ops.cast(y, "int32"), self.num_classes)
        return x, ops.cast(y, "float32")

    def _condition(self, labels, n):
        if labels is None:
            raise ValueError(
                f"Expected `labels` for a ConditionalVAE (integers in [0, {self.num_classes}) or one-hot). Received: labels=None"
            )
        return check_labels(labels, n, self.num_classes)

    def sample(self, n, labels=None, seed=None):
        """Draw ``n`` images of the given classes (``labels``: one int for all, or n of them)."""
        return super().sample(n, labels=labels, seed=seed)
