"""A hidden set of plausible answers to the exercises of notebooks 08-10, run through their checks.

The goal it measures: a hidden set of plausible wrong answers at least 99% caught, with no correct answer
rejected, no traceback, and the same verdict in 5 repeated runs. "Hidden" means that the answers here are written
the way a student would write them, independently of the checks' own catalogues of mistakes (``*_MISTAKES`` in
``workshop/checks/nb08.py`` ... ``nb10.py``); some coincide with a catalogued mistake, others do not.

For each answer the script runs its exercise's check ``--runs`` times (verbose=False, strict=False) and records the
status and the message. It prints one line per answer and a summary per notebook:

- caught: a wrong answer whose check did not pass, in every run;
- rejected: a correct answer whose check did not pass in some run;
- tracebacks: a check call that raised instead of returning a verdict;
- unstable: an answer whose message was not the same in every run.

    python benchmarks/wrong_answers_08_10.py                    # all three notebooks, 5 runs each
    python benchmarks/wrong_answers_08_10.py --notebooks 10 --runs 2 --json results.json
"""

import argparse
import contextlib
import io
import json
import math
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from workshop.checks import nb08, nb09, nb10

LOG_2PI = math.log(2.0 * math.pi)
ANSWERS = {"08": [], "09": [], "10": []}  # notebook -> [(exercise, label, correct, fn)]


def answer(notebook, exercise, label, correct=False):
    def register(fn):
        ANSWERS[notebook].append((exercise, label, correct, fn))
        return fn

    return register


# =========================================================================== #
# Notebook 08
# =========================================================================== #
def _k(log_w):
    return ops.cast(ops.shape(log_w)[-1], log_w.dtype)


@answer("08", "log_mean_exp", "ops.logsumexp - log K", correct=True)
def _(log_w):
    return ops.logsumexp(log_w, axis=-1) - ops.log(_k(log_w))


@answer("08", "log_mean_exp", "max shift by hand, squeeze with an axis", correct=True)
def _(log_w):
    m = ops.max(log_w, axis=-1, keepdims=True)
    return ops.squeeze(m, axis=-1) + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


@answer("08", "log_mean_exp", "tf.reduce_logsumexp - math.log(static K)", correct=True)
def _(log_w):
    return tf.reduce_logsumexp(log_w, axis=1) - math.log(log_w.shape[-1])


@answer("08", "log_mean_exp", "log(mean(exp)) directly")
def _(log_w):
    return ops.log(ops.mean(ops.exp(log_w), axis=-1))


@answer("08", "log_mean_exp", "log-sum-exp without - log K")
def _(log_w):
    return ops.logsumexp(log_w, axis=-1)


@answer("08", "log_mean_exp", "mean of the log-weights")
def _(log_w):
    return ops.mean(log_w, axis=-1)


@answer("08", "log_mean_exp", "max subtracted, not added back")
def _(log_w):
    m = ops.max(log_w, axis=-1, keepdims=True)
    return ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


@answer("08", "log_mean_exp", "shift by the row mean")
def _(log_w):
    m = ops.mean(log_w, axis=-1, keepdims=True)
    return ops.squeeze(m, axis=-1) + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


@answer("08", "log_mean_exp", "shift by the global max of the batch")
def _(log_w):
    m = ops.max(log_w)
    return m + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


@answer("08", "log_mean_exp", "reduced over the images (axis 0)")
def _(log_w):
    return ops.logsumexp(log_w, axis=0) - ops.log(ops.cast(ops.shape(log_w)[0], log_w.dtype))


@answer("08", "log_mean_exp", "squeeze without an axis")
def _(log_w):
    m = ops.max(log_w, axis=-1, keepdims=True)
    return ops.squeeze(m + ops.log(ops.mean(ops.exp(log_w - m), axis=-1, keepdims=True)))


@answer("08", "log_mean_exp", "+ log K")
def _(log_w):
    return ops.logsumexp(log_w, axis=-1) + ops.log(_k(log_w))


@answer("08", "log_mean_exp", "- K instead of - log K")
def _(log_w):
    return ops.logsumexp(log_w, axis=-1) - _k(log_w)


@answer("08", "log_mean_exp", "NumPy method .max on a tensor")
def _(log_w):
    m = log_w.max(axis=-1, keepdims=True)
    return m[:, 0] + ops.log(ops.mean(ops.exp(log_w - m), axis=-1))


@answer("08", "log_mean_exp", "np.log(np.mean(np.exp(...)))")
def _(log_w):
    return np.log(np.mean(np.exp(log_w), axis=-1))


@answer("08", "log_mean_exp", "log K from the batch size")
def _(log_w):
    return ops.logsumexp(log_w, axis=-1) - ops.log(ops.cast(ops.shape(log_w)[0], log_w.dtype))


def _optimize_q(kind=None, compiled=True):
    """optimize_q as a student writes it (tf.Variable's, GradientTape, Adam), right or with one mistake."""

    def optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
        mean = tf.Variable(np.asarray(z_mean, dtype="float32"))
        log_var = tf.Variable(np.asarray(z_log_var, dtype="float32"))
        optimizer = keras.optimizers.Adam(learning_rate)
        n, d = mean.shape
        x_rep = ops.repeat(ops.convert_to_tensor(x), num_samples, axis=0)
        variables = [mean] if kind == "log_var not trained" else [mean, log_var]

        def step():
            eps = tf.random.normal((n, num_samples, d))
            with tf.GradientTape() as tape:
                std = ops.exp(0.5 * log_var)
                if kind == "std exp(log_var)":
                    std = ops.exp(log_var)
                elif kind == "std softplus":
                    std = ops.softplus(log_var)
                z = mean[:, None, :] + std[:, None, :] * eps
                log_px = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
                var, log_of_var = ops.exp(log_var), log_var
                if kind == "softplus variance in the KL":
                    var = ops.softplus(log_var)
                    log_of_var = ops.log(var)
                kl = 0.5 * ops.sum(var + ops.square(mean) - 1.0 - log_of_var, axis=-1)
                if kind == "KL without the 1/2":
                    kl = 2.0 * kl
                if kind == "KL with log sigma":
                    kl = 0.5 * ops.sum(ops.exp(2 * log_var) + ops.square(mean) - 1.0 - 2 * log_var, axis=-1)
                rec = ops.sum(log_px, axis=1) if kind == "likelihood summed over samples" else ops.mean(log_px, axis=1)
                loss = ops.sum(kl - rec)
                if kind == "sign":
                    loss = -loss
                if kind == "no KL":
                    loss = ops.sum(-rec)
            optimizer.apply(tape.gradient(loss, variables), variables)

        run = tf.function(step) if compiled else step
        for _ in range(steps):
            run()
        if kind == "returned swapped":
            return log_var.numpy(), mean.numpy()
        return mean.numpy(), log_var.numpy()

    return optimize_q


ANSWERS["08"] += [
    ("optimize_q", "compiled step", True, _optimize_q()),
    ("optimize_q", "eager step", True, _optimize_q(compiled=False)),
]
for _kind in (
    "sign",
    "no KL",
    "likelihood summed over samples",
    "std softplus",
    "softplus variance in the KL",
    "std exp(log_var)",
    "KL without the 1/2",
    "log_var not trained",
    "returned swapped",
):
    ANSWERS["08"].append(("optimize_q", _kind, False, _optimize_q(_kind)))


@answer("08", "kl_warmup_weight", "min(1, e / E), 1 without warm-up", correct=True)
def _(epoch, warmup_epochs):
    return 1.0 if warmup_epochs == 0 else min(1.0, epoch / warmup_epochs)


@answer("08", "kl_warmup_weight", "comparison first", correct=True)
def _(epoch, warmup_epochs):
    if epoch >= warmup_epochs:
        return 1.0
    return epoch / warmup_epochs


@answer("08", "kl_warmup_weight", "np.clip", correct=True)
def _(epoch, warmup_epochs):
    return float(np.clip(epoch / warmup_epochs, 0.0, 1.0)) if warmup_epochs > 0 else 1.0


@answer("08", "kl_warmup_weight", "(epoch + 1) / E")
def _(epoch, warmup_epochs):
    return min(1.0, (epoch + 1) / max(warmup_epochs, 1))


@answer("08", "kl_warmup_weight", "no clip at 1")
def _(epoch, warmup_epochs):
    return epoch / warmup_epochs if warmup_epochs else 1.0


@answer("08", "kl_warmup_weight", "divides by zero without warm-up")
def _(epoch, warmup_epochs):
    return min(1.0, epoch / warmup_epochs)


@answer("08", "kl_warmup_weight", "0 without warm-up")
def _(epoch, warmup_epochs):
    return min(1.0, epoch / max(warmup_epochs, 1))


@answer("08", "kl_warmup_weight", "integer division")
def _(epoch, warmup_epochs):
    return min(1, epoch // warmup_epochs) if warmup_epochs else 1


@answer("08", "kl_warmup_weight", "runs backwards")
def _(epoch, warmup_epochs):
    return max(0.0, 1.0 - epoch / warmup_epochs) if warmup_epochs else 1.0


def _kl_dims(z_mean, z_log_var):
    return 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)


@answer("08", "free_bits_kl", "the solution", correct=True)
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.maximum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0), free_bits))


@answer("08", "free_bits_kl", "tf.reduce_* and where", correct=True)
def _(z_mean, z_log_var, free_bits):
    per_dim = tf.reduce_mean(0.5 * (tf.exp(z_log_var) + z_mean**2 - 1.0 - z_log_var), axis=0)
    return tf.reduce_sum(tf.where(per_dim < free_bits, tf.cast(free_bits, per_dim.dtype), per_dim))


@answer("08", "free_bits_kl", "floor on the total KL")
def _(z_mean, z_log_var, free_bits):
    return ops.maximum(ops.mean(ops.sum(_kl_dims(z_mean, z_log_var), axis=-1)), free_bits)


@answer("08", "free_bits_kl", "floor per image and dimension")
def _(z_mean, z_log_var, free_bits):
    return ops.mean(ops.sum(ops.maximum(_kl_dims(z_mean, z_log_var), free_bits), axis=-1))


@answer("08", "free_bits_kl", "minimum instead of maximum")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.minimum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0), free_bits))


@answer("08", "free_bits_kl", "mean over the dimensions")
def _(z_mean, z_log_var, free_bits):
    return ops.mean(ops.maximum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0), free_bits))


@answer("08", "free_bits_kl", "summed over the batch")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.maximum(ops.sum(_kl_dims(z_mean, z_log_var), axis=0), free_bits))


@answer("08", "free_bits_kl", "KL without the 1/2")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.maximum(ops.mean(2.0 * _kl_dims(z_mean, z_log_var), axis=0), free_bits))


@answer("08", "free_bits_kl", "no floor")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0))


@answer("08", "free_bits_kl", "floor added instead of taken as a maximum")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0) + free_bits)


@answer("08", "free_bits_kl", "batch size from the static shape")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(ops.maximum(ops.sum(_kl_dims(z_mean, z_log_var), axis=0) / z_mean.shape[0], free_bits))


@answer("08", "free_bits_kl", "np.maximum on a tensor")
def _(z_mean, z_log_var, free_bits):
    return ops.sum(np.maximum(ops.mean(_kl_dims(z_mean, z_log_var), axis=0), free_bits))


# =========================================================================== #
# Notebook 09
# =========================================================================== #
@answer("09", "sample_weights", "keras.random.normal with the seed generator", correct=True)
def _(mean, rho, seed_generator):
    eps = keras.random.normal(ops.shape(mean), seed=seed_generator)
    return mean + ops.softplus(rho) * eps


@answer("09", "sample_weights", "noise with the dtype, std as a separate line", correct=True)
def _(mean, rho, seed_generator):
    sigma = ops.softplus(rho)
    return mean + sigma * keras.random.normal(ops.shape(mean), mean=0.0, stddev=1.0, dtype=mean.dtype, seed=seed_generator)


@answer("09", "sample_weights", "sigma = exp(rho)")
def _(mean, rho, seed_generator):
    return mean + ops.exp(rho) * keras.random.normal(ops.shape(mean), seed=seed_generator)


@answer("09", "sample_weights", "sigma = exp(rho / 2)")
def _(mean, rho, seed_generator):
    return mean + ops.exp(0.5 * rho) * keras.random.normal(ops.shape(mean), seed=seed_generator)


@answer("09", "sample_weights", "sigma = log(1 + exp(rho))")
def _(mean, rho, seed_generator):
    return mean + ops.log(1.0 + ops.exp(rho)) * keras.random.normal(ops.shape(mean), seed=seed_generator)


@answer("09", "sample_weights", "softplus(rho) squared as the std")
def _(mean, rho, seed_generator):
    return mean + ops.square(ops.softplus(rho)) * keras.random.normal(ops.shape(mean), seed=seed_generator)


@answer("09", "sample_weights", "NumPy noise")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * np.random.normal(size=tuple(mean.shape)).astype("float32")


@answer("09", "sample_weights", "one eps for the whole kernel")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * keras.random.normal((), seed=seed_generator)


@answer("09", "sample_weights", "one eps per column")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * keras.random.normal((1, ops.shape(mean)[1]), seed=seed_generator)


@answer("09", "sample_weights", "unseeded keras.random.normal")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * keras.random.normal(ops.shape(mean))


@answer("09", "sample_weights", "a fixed integer seed")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * keras.random.normal(ops.shape(mean), seed=42)


@answer("09", "sample_weights", "uniform noise")
def _(mean, rho, seed_generator):
    return mean + ops.softplus(rho) * keras.random.uniform(ops.shape(mean), -1.0, 1.0, seed=seed_generator)


@answer("09", "sample_weights", "no noise")
def _(mean, rho, seed_generator):
    return mean + 0.0 * ops.softplus(rho)


@answer("09", "sample_weights", "noise drawn with stop_gradient on sigma")
def _(mean, rho, seed_generator):
    return mean + ops.stop_gradient(ops.softplus(rho)) * keras.random.normal(ops.shape(mean), seed=seed_generator)


def _sigma(rho):
    return ops.softplus(rho)


@answer("09", "kl_to_prior", "log(p / s) + (s^2 + m^2) / (2 p^2) - 1/2", correct=True)
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "1/2 [(s^2 + m^2) / p^2 - 1 - log s^2 + log p^2]", correct=True)
def _(mean, rho, prior_std):
    var = ops.square(_sigma(rho))
    p2 = prior_std**2
    return 0.5 * ops.sum((var + ops.square(mean)) / p2 - 1.0 - ops.log(var) + math.log(p2))


@answer("09", "kl_to_prior", "sign flipped")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return -ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "sigma = exp(rho)")
def _(mean, rho, prior_std):
    s = ops.exp(rho)
    return ops.sum(math.log(prior_std) - rho + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "log(1 + exp(rho)) as sigma")
def _(mean, rho, prior_std):
    s = ops.log(1.0 + ops.exp(rho))
    return ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "no -1/2")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2))


@answer("09", "kl_to_prior", "averaged over the weights")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.mean(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "divided by 2, not 2 p^2")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + ops.square(mean)) / 2.0 - 0.5)


@answer("09", "kl_to_prior", "log of variances without the 1/2")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(2.0 * (math.log(prior_std) - ops.log(s)) + (ops.square(s) + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "the reverse KL(p || q)")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(ops.log(s) - math.log(prior_std) + (prior_std**2 + ops.square(mean)) / (2.0 * ops.square(s)) - 0.5)


@answer("09", "kl_to_prior", "sigma not squared")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(math.log(prior_std) - ops.log(s) + (s + ops.square(mean)) / (2.0 * prior_std**2) - 0.5)


@answer("09", "kl_to_prior", "mean not squared")
def _(mean, rho, prior_std):
    s = _sigma(rho)
    return ops.sum(math.log(prior_std) - ops.log(s) + (ops.square(s) + mean) / (2.0 * prior_std**2) - 0.5)


@answer("09", "minibatch_loss", "mean(nll) + kl / N", correct=True)
def _(nll, kl, num_train):
    return ops.mean(nll) + kl / num_train


@answer("09", "minibatch_loss", "sum / batch size from ops.shape", correct=True)
def _(nll, kl, num_train):
    b = ops.cast(ops.shape(nll)[0], nll.dtype)
    return ops.sum(nll) / b + kl / float(num_train)


@answer("09", "minibatch_loss", "KL not scaled")
def _(nll, kl, num_train):
    return ops.mean(nll) + kl


@answer("09", "minibatch_loss", "KL / batch size")
def _(nll, kl, num_train):
    return ops.mean(nll) + kl / ops.cast(ops.shape(nll)[0], nll.dtype)


@answer("09", "minibatch_loss", "sum(nll) + KL")
def _(nll, kl, num_train):
    return ops.sum(nll) + kl


@answer("09", "minibatch_loss", "sum(nll) + KL / N")
def _(nll, kl, num_train):
    return ops.sum(nll) + kl / num_train


@answer("09", "minibatch_loss", "KL subtracted")
def _(nll, kl, num_train):
    return ops.mean(nll) - kl / num_train


@answer("09", "minibatch_loss", "batch size from the static shape")
def _(nll, kl, num_train):
    return ops.sum(nll) / nll.shape[0] + kl / num_train


@answer("09", "minibatch_loss", "(mean(nll) + KL) / N")
def _(nll, kl, num_train):
    return (ops.mean(nll) + kl) / num_train


@answer("09", "minibatch_loss", "N mean(nll) + KL (the whole training set)")
def _(nll, kl, num_train):
    return num_train * ops.mean(nll) + kl


@answer("09", "minibatch_loss", "KL / (N B)")
def _(nll, kl, num_train):
    return ops.mean(nll) + kl / (num_train * ops.cast(ops.shape(nll)[0], nll.dtype))


@answer("09", "minibatch_loss", "np.mean on a tensor")
def _(nll, kl, num_train):
    return np.mean(nll) + kl / num_train


# =========================================================================== #
# Notebook 10
# =========================================================================== #
def _log_normal(z, means, log_vars, variance="exp", const=True, log_var_term=True, half=True):
    diff = z[:, None, :] - means[None, :, :]
    var = ops.exp(log_vars) if variance == "exp" else ops.exp(2.0 * log_vars)
    terms = ops.square(diff) / var[None]
    if log_var_term:
        terms = terms + log_vars[None]
    if const:
        terms = terms + LOG_2PI
    return (-0.5 if half else -1.0) * ops.sum(terms, axis=-1)


def _log_weights(logits):
    return ops.log_softmax(logits)


@answer("10", "mixture_log_density", "ops.logsumexp of log-weights + log-normals", correct=True)
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=-1)


@answer("10", "mixture_log_density", "max shift by hand", correct=True)
def _(z, means, log_vars, logits):
    a = logits[None, :] - ops.logsumexp(logits) + _log_normal(z, means, log_vars)
    m = ops.max(a, axis=-1, keepdims=True)
    return ops.squeeze(m, axis=-1) + ops.log(ops.sum(ops.exp(a - m), axis=-1))


@answer("10", "mixture_log_density", "tf.reduce_logsumexp, log(softmax) weights", correct=True)
def _(z, means, log_vars, logits):
    a = tf.math.log(tf.nn.softmax(logits))[None, :] + _log_normal(z, means, log_vars)
    return tf.reduce_logsumexp(a, axis=1)


@answer("10", "mixture_log_density", "log(sum(exp)) directly")
def _(z, means, log_vars, logits):
    return ops.log(ops.sum(ops.exp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars)), axis=-1))


@answer("10", "mixture_log_density", "weights left out")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_normal(z, means, log_vars), axis=-1)


@answer("10", "mixture_log_density", "raw logits as log-weights")
def _(z, means, log_vars, logits):
    return ops.logsumexp(logits[None, :] + _log_normal(z, means, log_vars), axis=-1)


@answer("10", "mixture_log_density", "sum of the log-terms")
def _(z, means, log_vars, logits):
    return ops.sum(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=-1)


@answer("10", "mixture_log_density", "max over the components")
def _(z, means, log_vars, logits):
    return ops.max(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=-1)


@answer("10", "mixture_log_density", "no 2 pi")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars, const=False), axis=-1)


@answer("10", "mixture_log_density", "no log-variance term")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars, log_var_term=False), axis=-1)


@answer("10", "mixture_log_density", "log_vars read as log std")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars, variance="std"), axis=-1)


@answer("10", "mixture_log_density", "no 1/2 in the Gaussian")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars, half=False), axis=-1)


@answer("10", "mixture_log_density", "squeeze without an axis")
def _(z, means, log_vars, logits):
    return ops.squeeze(ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=-1, keepdims=True))


@answer("10", "mixture_log_density", "logsumexp over the codes (axis 0)")
def _(z, means, log_vars, logits):
    return ops.logsumexp(_log_weights(logits)[None, :] + _log_normal(z, means, log_vars), axis=0)


@answer("10", "mixture_log_density", "NumPy method .max on a tensor")
def _(z, means, log_vars, logits):
    a = _log_weights(logits)[None, :] + _log_normal(z, means, log_vars)
    m = a.max(axis=-1, keepdims=True)
    return m[:, 0] + ops.log(ops.sum(ops.exp(a - m), axis=-1))


def _log_q(z, z_mean, z_log_var, variance="exp", const=True, log_var_term=True):
    var = ops.exp(z_log_var) if variance == "exp" else ops.exp(2.0 * z_log_var)
    terms = ops.square(z - z_mean) / var
    if log_var_term:
        terms = terms + z_log_var
    if const:
        terms = terms + LOG_2PI
    return -0.5 * ops.sum(terms, axis=-1)


@answer("10", "monte_carlo_kl", "log q - log p", correct=True)
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, z_mean, z_log_var) - log_prior


@answer("10", "monte_carlo_kl", "per-dimension log-densities, then a sum", correct=True)
def _(z, z_mean, z_log_var, log_prior):
    per_dim = -0.5 * (math.log(2 * math.pi) + z_log_var + (z - z_mean) ** 2 * ops.exp(-z_log_var))
    return ops.sum(per_dim, axis=1) - log_prior


@answer("10", "monte_carlo_kl", "sign flipped")
def _(z, z_mean, z_log_var, log_prior):
    return log_prior - _log_q(z, z_mean, z_log_var)


@answer("10", "monte_carlo_kl", "closed-form KL to N(0, I)")
def _(z, z_mean, z_log_var, log_prior):
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)


@answer("10", "monte_carlo_kl", "no log-variance term")
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, z_mean, z_log_var, log_var_term=False) - log_prior


@answer("10", "monte_carlo_kl", "no 2 pi")
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, z_mean, z_log_var, const=False) - log_prior


@answer("10", "monte_carlo_kl", "log q under N(0, I)")
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, ops.zeros_like(z), ops.zeros_like(z)) - log_prior


@answer("10", "monte_carlo_kl", "density first, log after")
def _(z, z_mean, z_log_var, log_prior):
    density = ops.exp(-0.5 * ops.square(z - z_mean) / ops.exp(z_log_var)) / ops.sqrt(2 * math.pi * ops.exp(z_log_var))
    return ops.log(ops.prod(density, axis=-1)) - log_prior


@answer("10", "monte_carlo_kl", "squeeze without an axis")
def _(z, z_mean, z_log_var, log_prior):
    return ops.squeeze(ops.expand_dims(_log_q(z, z_mean, z_log_var) - log_prior, -1))


@answer("10", "monte_carlo_kl", "z_log_var read as log std")
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, z_mean, z_log_var, variance="std") - log_prior


@answer("10", "monte_carlo_kl", "mean over the dimensions")
def _(z, z_mean, z_log_var, log_prior):
    per_dim = -0.5 * (LOG_2PI + z_log_var + ops.square(z - z_mean) * ops.exp(-z_log_var))
    return ops.mean(per_dim, axis=-1) - log_prior


@answer("10", "monte_carlo_kl", "log p added")
def _(z, z_mean, z_log_var, log_prior):
    return _log_q(z, z_mean, z_log_var) + log_prior


@answer("10", "monte_carlo_kl", "averaged over the batch")
def _(z, z_mean, z_log_var, log_prior):
    return ops.mean(_log_q(z, z_mean, z_log_var) - log_prior)


def _joint(z, means, log_vars, logits, **kwargs):
    return _log_weights(logits)[None, :] + _log_normal(z, means, log_vars, **kwargs)


@answer("10", "responsibilities", "ops.softmax of the log-joint", correct=True)
def _(z, means, log_vars, logits):
    return ops.softmax(_joint(z, means, log_vars, logits), axis=-1)


@answer("10", "responsibilities", "exp(log-joint - logsumexp)", correct=True)
def _(z, means, log_vars, logits):
    a = _joint(z, means, log_vars, logits)
    return ops.exp(a - ops.logsumexp(a, axis=-1, keepdims=True))


@answer("10", "responsibilities", "softmax with raw logits (the normaliser cancels)", correct=True)
def _(z, means, log_vars, logits):
    return ops.softmax(logits[None, :] + _log_normal(z, means, log_vars), axis=-1)


@answer("10", "responsibilities", "not normalised")
def _(z, means, log_vars, logits):
    return ops.exp(_joint(z, means, log_vars, logits))


@answer("10", "responsibilities", "direct ratio without a max shift")
def _(z, means, log_vars, logits):
    e = ops.exp(_joint(z, means, log_vars, logits))
    return e / ops.sum(e, axis=-1, keepdims=True)


@answer("10", "responsibilities", "weights left out")
def _(z, means, log_vars, logits):
    return ops.softmax(_log_normal(z, means, log_vars), axis=-1)


@answer("10", "responsibilities", "normalised over the codes (axis 0)")
def _(z, means, log_vars, logits):
    return ops.softmax(_joint(z, means, log_vars, logits), axis=0)


@answer("10", "responsibilities", "log-responsibilities")
def _(z, means, log_vars, logits):
    return ops.log_softmax(_joint(z, means, log_vars, logits), axis=-1)


@answer("10", "responsibilities", "weights multiplied after the softmax")
def _(z, means, log_vars, logits):
    return ops.softmax(_log_normal(z, means, log_vars), axis=-1) * ops.softmax(logits)[None, :]


@answer("10", "responsibilities", "no log-variance term")
def _(z, means, log_vars, logits):
    return ops.softmax(_joint(z, means, log_vars, logits, log_var_term=False), axis=-1)


@answer("10", "responsibilities", "log_vars read as log std")
def _(z, means, log_vars, logits):
    return ops.softmax(_joint(z, means, log_vars, logits, variance="std"), axis=-1)


@answer("10", "responsibilities", "normalised over the whole batch")
def _(z, means, log_vars, logits):
    a = _joint(z, means, log_vars, logits)
    return ops.exp(a - ops.logsumexp(a))


@answer("10", "responsibilities", "squeeze without an axis")
def _(z, means, log_vars, logits):
    return ops.squeeze(ops.softmax(_joint(z, means, log_vars, logits), axis=-1))


@answer("10", "responsibilities", "NumPy method .max on a tensor")
def _(z, means, log_vars, logits):
    a = _joint(z, means, log_vars, logits)
    e = ops.exp(a - a.max(axis=-1, keepdims=True))
    return e / ops.sum(e, axis=-1, keepdims=True)


@answer("10", "responsibilities", "no 1/2 in the Gaussian")
def _(z, means, log_vars, logits):
    return ops.softmax(_joint(z, means, log_vars, logits, half=False), axis=-1)


CHECKS = {
    "log_mean_exp": nb08.check_log_mean_exp,
    "optimize_q": nb08.check_optimize_q,
    "kl_warmup_weight": nb08.check_kl_warmup_weight,
    "free_bits_kl": nb08.check_free_bits_kl,
    "sample_weights": nb09.check_sample_weights,
    "kl_to_prior": nb09.check_kl_to_prior,
    "minibatch_loss": nb09.check_minibatch_loss,
    "mixture_log_density": nb10.check_mixture_log_density,
    "monte_carlo_kl": nb10.check_monte_carlo_kl,
    "responsibilities": nb10.check_responsibilities,
}


def run_answer(exercise, fn, runs):
    """The verdicts of ``runs`` calls of the exercise's check: [(status, message) or ("traceback", text)]."""
    verdicts = []
    for _ in range(runs):
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                result = CHECKS[exercise](fn, verbose=False, strict=False)
            verdicts.append((result.status, result.message))
        except Exception as error:  # noqa: BLE001 - a traceback is what this benchmark counts
            verdicts.append(("traceback", f"{type(error).__name__}: {error}"))
    return verdicts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", nargs="+", choices=sorted(ANSWERS), default=sorted(ANSWERS))
    parser.add_argument("--runs", type=int, default=5, help="repeated runs of each check (the goal: 5)")
    parser.add_argument("--only", default=None, help="only the answers of this exercise")
    parser.add_argument("--json", default=None, help="also write every verdict to this file")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")
    everything = {}
    for notebook in args.notebooks:
        rows = [row for row in ANSWERS[notebook] if args.only in (None, row[0])]
        counts = {"wrong": 0, "caught": 0, "correct": 0, "rejected": 0, "tracebacks": 0, "unstable": 0}
        print(f"notebook {notebook}: {len(rows)} answers, {args.runs} runs each", flush=True)
        for exercise, label, correct, fn in rows:
            t0 = time.perf_counter()
            verdicts = run_answer(exercise, fn, args.runs)
            statuses = [s for s, _ in verdicts]
            stable = len(set(verdicts)) == 1
            tracebacks = statuses.count("traceback")
            if correct:
                counts["correct"] += 1
                ok = all(s == "passed" for s in statuses)
                counts["rejected"] += not ok
                outcome = "accepted" if ok else "REJECTED"
            else:
                counts["wrong"] += 1
                ok = all(s not in ("passed", "traceback") for s in statuses)
                counts["caught"] += ok
                outcome = "caught" if ok else "MISSED"
            counts["tracebacks"] += tracebacks
            counts["unstable"] += not stable
            everything.setdefault(notebook, []).append(
                {"exercise": exercise, "answer": label, "correct": correct, "outcome": outcome, "stable": stable, "verdicts": verdicts}
            )
            flag = "" if stable else " UNSTABLE"
            print(f"  {exercise:20s} {label:48s} {outcome:8s}{flag} ({time.perf_counter() - t0:.0f} s) {verdicts[0][1][:160]}", flush=True)
        share = 100.0 * counts["caught"] / counts["wrong"] if counts["wrong"] else float("nan")
        print(
            f"notebook {notebook}: caught {counts['caught']}/{counts['wrong']} wrong answers ({share:.1f}%), "
            f"rejected {counts['rejected']}/{counts['correct']} correct answers, {counts['tracebacks']} tracebacks, "
            f"{counts['unstable']} answers with a verdict that changed between runs",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
