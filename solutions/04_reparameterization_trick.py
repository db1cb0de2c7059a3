# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · The reparameterization trick
#
# Notebook 03 ended with an objective, the ELBO, that contains an expectation over codes drawn from the encoder's
# distribution $q_\phi(z \mid x)$. To train the encoder you need the gradient of that expectation with respect to $\phi$,
# and backpropagation cannot follow a random draw. This notebook shows the problem in TensorFlow, fixes it by writing the
# sample as a deterministic function of the parameters and of parameter-free noise, proves that the fix is exact, and has
# you build the `Sampling` layer that every VAE in this course uses. It ends by comparing the two classic gradient
# estimators, score-function and pathwise, on a problem whose exact gradient is known.
#
# **What you will learn**
#
# - See why a gradient cannot pass through a sampling step, and when it can.
# - Write $z = \mu + \sigma \varepsilon$ and prove, by a change of variables, that it gives the same distribution and the same expectations.
# - Implement a Keras `Sampling` layer that owns its random-number generator and lets gradients reach $\mu$ and $\log \sigma^2$.
# - Derive and implement the score-function (REINFORCE) and pathwise estimators of $\frac{\partial}{\partial \mu}\,\mathbb{E}_{z \sim \mathcal{N}(\mu, \sigma^2)}[f(z)]$.
# - Measure that both are unbiased and that their variances differ by an order of magnitude or more.
#
# **Time:** about 55 minutes. **Prerequisites:** notebook 03 (the ELBO); basic TensorFlow/Keras (`GradientTape`, layers).

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: a coarser figure, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
(figure_rng,) = rng.spawn(1)  # a second stream for the figure, so that FAST never changes a checked number
NUM_SAMPLES = 100_000     # samples behind every checked gradient estimate (the same in both modes)
NUM_SIGMAS = 12 if FAST else 40  # points on the variance-versus-sigma curve
MU, SIGMA = 0.5, 0.5      # the Gaussian N(mu, sigma^2) whose mean we differentiate with respect to

# %%
import matplotlib.pyplot as plt
import numpy as np
import keras
import tensorflow as tf
from keras import ops

from workshop import checks, gradients

# %% [markdown]
# ## 1. A random draw has no derivative
#
# The ELBO's reconstruction term is an expectation under the encoder's Gaussian, $\mathbb{E}_{z \sim q_\phi(z \mid x)}[g(z)]$
# with $g(z) = \log p_\theta(x \mid z)$. Its gradient with respect to the decoder's parameters $\theta$ is easy: the
# distribution does not involve $\theta$, so the gradient moves inside and you can average $\nabla_\theta g$ over samples.
# The encoder's parameters $\phi$ are different: they sit in the *distribution*,
#
# $$\nabla_\phi\, \mathbb{E}_{z \sim q_\phi}[g(z)] = \nabla_\phi \int g(z)\, q_\phi(z)\, dz = \int g(z)\, \nabla_\phi q_\phi(z)\, dz,$$
#
# and $\nabla_\phi q_\phi$ is not a probability density, so the last integral is not an expectation you can sample.
#
# The computational version of the same problem: backpropagation differentiates the operations that produced a number. A
# sample from a distribution is the output of a random-number generator, and the generator's output depends on its seed,
# not on the distribution's parameters, unless the parameters enter through differentiable operations. The cell shows two
# sampling steps with no such path. The first draws a Bernoulli variable $x \sim \text{Bernoulli}(p)$ as "uniform
# $< p$"; the second draws standard-normal noise from a seed.

# %%
# NBVAL_CHECK_OUTPUT
p = keras.Variable(0.3, name="p")
with tf.GradientTape() as tape:
    coin_flips = ops.cast(keras.random.uniform((10_000,), seed=keras.random.SeedGenerator(1)) < p, "float32")
    frequency = ops.mean(coin_flips)  # estimates E[x] = p, whose derivative with respect to p is 1
print("Bernoulli: d mean(x) / dp =", tape.gradient(frequency, p))

mu = keras.Variable(MU, name="mu")
with tf.GradientTape() as tape:
    noise = keras.random.normal((10_000,), seed=keras.random.SeedGenerator(2))
    total = ops.sum(noise)
print("noise drawn from a seed: d sum(eps) / d mu =", tape.gradient(total, mu))

# %% [markdown]
# Both gradients are `None`: TensorFlow found no differentiable path from the parameter to the output. The comparison
# `uniform < p` is a step function of $p$ (derivative zero almost everywhere, and TensorFlow defines none), and the noise
# does not involve $\mu$ at all. Yet $\mathbb{E}[x] = p$ plainly depends on $p$.
#
# Now draw a Gaussian sample the way Keras offers it, `keras.random.normal(shape, mean=mu, stddev=sigma, seed=...)`, and
# next to it the same draw written out by hand as $\mu + \sigma \varepsilon$ with noise from an identically seeded
# generator.

# %%
sigma = keras.Variable(SIGMA, name="sigma")
with tf.GradientTape(persistent=True) as tape:
    z_keras = keras.random.normal((10_000,), mean=mu, stddev=sigma, seed=keras.random.SeedGenerator(3))
    z_by_hand = mu + sigma * keras.random.normal((10_000,), seed=keras.random.SeedGenerator(3))
    objective_keras = ops.mean((z_keras - 2.0) ** 2)
    objective_by_hand = ops.mean((z_by_hand - 2.0) ** 2)
print("largest |z_keras - z_by_hand|:", float(ops.max(ops.abs(z_keras - z_by_hand))))
print(f"gradient through keras.random.normal(mean=mu): {float(tape.gradient(objective_keras, mu)):.4f}")
print(f"gradient through mu + sigma * eps            : {float(tape.gradient(objective_by_hand, mu)):.4f}")
print(f"exact d/dmu E[(z - 2)^2] = 2 (mu - 2)         : {2 * (MU - 2.0):.4f}")
del tape


# %% [markdown]
# This time there is a gradient, and the two samples are identical to the last bit. That is no accident: with the
# TensorFlow backend, `keras.random.normal` computes exactly `mean + stddev * noise`, with noise drawn from the seed. The
# sample is differentiable in $\mu$ and $\sigma$ *because* it is built as a shift and a scale of parameter-free noise.
# That construction is the reparameterization trick. Rather than rely on how a library happens to implement a sampler, a
# VAE writes it out explicitly, as you will below.
#
# ## 2. The trick: move the randomness out of the parameters
#
# Instead of drawing $z \sim q_\phi = \mathcal{N}(\mu, \sigma^2)$ directly, draw noise from a fixed distribution and
# transform it:
#
# $$\varepsilon \sim \mathcal{N}(0, 1), \qquad z = g(\varepsilon) = \mu + \sigma \varepsilon.$$
#
# All the randomness is in $\varepsilon$, which does not depend on $\phi = (\mu, \sigma)$; the parameters enter only through
# the differentiable map $g$. This is what made variational autoencoders trainable by plain backpropagation: Kingma &
# Welling (2014) call it the reparameterization trick, and Rezende, Mohamed & Wierstra (2014) introduced the same idea as
# stochastic backpropagation; Doersch (2016) explains it with a picture of the two computation graphs, with and without it.
#
# **Claim.** For every function $f$ whose expectation exists, $\mathbb{E}_{z \sim \mathcal{N}(\mu, \sigma^2)}[f(z)] =
# \mathbb{E}_{\varepsilon \sim \mathcal{N}(0, 1)}[f(\mu + \sigma\varepsilon)]$.
#
# **Proof by a change of variables.** Write the left side as an integral and substitute $z = \mu + \sigma \varepsilon$, so
# that $dz = \sigma\, d\varepsilon$ (with $\sigma > 0$ the limits stay in order):
#
# $$\mathbb{E}_{q}[f(z)] = \int_{-\infty}^{\infty} f(z)\, q(z)\, dz
# = \int_{-\infty}^{\infty} f(\mu + \sigma\varepsilon)\, q(\mu + \sigma\varepsilon)\, \sigma\, d\varepsilon.$$
#
# The Gaussian density evaluated at the transformed point is
#
# $$q(\mu + \sigma\varepsilon) = \frac{1}{\sigma\sqrt{2\pi}} \exp\!\left(-\frac{(\mu + \sigma\varepsilon - \mu)^2}{2\sigma^2}\right)
# = \frac{1}{\sigma} \cdot \frac{1}{\sqrt{2\pi}} e^{-\varepsilon^2/2} = \frac{\varphi(\varepsilon)}{\sigma},$$
#
# where $\varphi$ is the standard-normal density. The factor $1/\sigma$ cancels the Jacobian $\sigma$:
#
# $$\mathbb{E}_{q}[f(z)] = \int f(\mu + \sigma\varepsilon)\, \varphi(\varepsilon)\, d\varepsilon
# = \mathbb{E}_{\varepsilon \sim \mathcal{N}(0, 1)}[f(\mu + \sigma\varepsilon)]. \qquad\blacksquare$$
#
# Taking $f$ to be an indicator function shows that $z$ has exactly the distribution $\mathcal{N}(\mu, \sigma^2)$. The payoff
# is in the gradient. The distribution of $\varepsilon$ no longer depends on the parameters, so the derivative moves inside
# the expectation and the chain rule does the rest:
#
# $$\frac{\partial}{\partial \mu} \mathbb{E}_{q}[f(z)] = \mathbb{E}_{\varepsilon}\big[f'(\mu + \sigma\varepsilon)\big], \qquad
# \frac{\partial}{\partial \sigma} \mathbb{E}_{q}[f(z)] = \mathbb{E}_{\varepsilon}\big[f'(\mu + \sigma\varepsilon)\, \varepsilon\big].$$
#
# Both are plain averages over samples of $\varepsilon$. In $k$ dimensions with a diagonal covariance the map is
# $z = \mu + \sigma \odot \varepsilon$ (elementwise), its Jacobian determinant is $\prod_j \sigma_j$, and the same argument
# goes through coordinate by coordinate. A VAE encoder outputs $v = \log \sigma^2$ rather than $\sigma$ (any real number
# is a valid $v$), so $\sigma = e^{v/2}$ and
#
# $$z = \mu + e^{v/2} \odot \varepsilon, \qquad \frac{\partial z_j}{\partial \mu_j} = 1, \qquad
# \frac{\partial z_j}{\partial v_j} = \tfrac{1}{2} e^{v_j/2} \varepsilon_j = \tfrac{1}{2}(z_j - \mu_j).$$
#
# The cell checks the two ingredients of the proof with numbers: the density identity
# $q(\mu + \sigma\varepsilon)\,\sigma = \varphi(\varepsilon)$ on a grid, and the mean and standard deviation of
# $\mu + \sigma\varepsilon$ for 100,000 draws of $\varepsilon$.

# %%
# NBVAL_CHECK_OUTPUT
def normal_density(z, mean, std):
    return np.exp(-0.5 * ((z - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))


eps_grid = np.linspace(-6, 6, 1201)
identity_error = np.max(np.abs(normal_density(MU + SIGMA * eps_grid, MU, SIGMA) * SIGMA - normal_density(eps_grid, 0.0, 1.0)))
print("max |q(mu + sigma eps) * sigma - phi(eps)| on the grid below 1e-12:", identity_error < 1e-12)

eps = rng.standard_normal(NUM_SAMPLES)
z = MU + SIGMA * eps
print(f"mu + sigma * eps: mean {z.mean():.4f} (mu = {MU}), standard deviation {z.std():.4f} (sigma = {SIGMA})")


# %% [markdown]
# ### Exercise 1: the `Sampling` layer
#
# Complete the `call` method of a Keras layer that draws one code per row by the reparameterization trick.
#
# - Input: a list `[z_mean, z_log_var]` of two tensors of shape `(N, k)`; `z_log_var` holds $\log \sigma^2$.
# - Output: a tensor of shape `(N, k)`, one code per row drawn from $\mathcal{N}\big(\text{z\_mean}, \operatorname{diag} e^{\text{z\_log\_var}}\big)$,
#   written as a differentiable function of both inputs (section 2 says how).
# - All the randomness comes from the layer's own `self.seed_generator`, and every one of the $N \times k$ entries needs its
#   own, independent noise.
# - Use `keras.ops` and `keras.random`, not NumPy: inside `fit` the layer runs on symbolic tensors in a compiled function.
#
# The constructor is written for you. It creates a `keras.random.SeedGenerator`, which the layer owns: every call draws
# fresh noise (the generator's state advances, also inside compiled functions), and two layers built with the same seed
# draw the same sequence. Passing a fixed integer `seed=` to a `keras.random` function instead would repeat the *same* noise
# on every call.
#
# <details><summary>Hint 1</summary>
#
# Section 2 ends with $z = \mu + e^{v/2} \odot \varepsilon$. Which part is random, which parts come from the encoder, and
# what shape must the random part have so that every entry gets its own draw?
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# `keras.random.normal(shape, seed=...)` draws standard-normal noise. Give it the shape of `z_mean` (`ops.shape(z_mean)`,
# which also works when the batch size is only known at run time) and the generator object `self.seed_generator` as the
# seed. Noise of shape `(N, 1)` would move all $k$ coordinates of a code together: they would no longer be independent.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# `eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)`, then
# `return z_mean + ops.exp(0.5 * z_log_var) * eps`.
#
# </details> The check compares your layer with `workshop.layers.Sampling` on the mean and standard deviation of many
# draws, on the gradients with respect to both inputs, and on fresh and repeatable noise.

# %%
class Sampling(keras.layers.Layer):
    """Draws z ~ N(z_mean, diag(exp(z_log_var))) as z = z_mean + exp(z_log_var / 2) * eps."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        # TODO: draw the noise with self.seed_generator and return the reparameterized code of section 2
        ### BEGIN SOLUTION
        eps = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * eps
        ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb04.check_sampling_layer(Sampling)

# %% [markdown]
# Your layer in action. The cell feeds it 100,000 copies of one encoder output, $\mu = 0.5$ and $\log\sigma^2 =
# \log 0.25$, and differentiates the average of $f(z) = (z - 2)^2$ with a `GradientTape`. The exact values are
# $\mathbb{E}[f] = (\mu - 2)^2 + \sigma^2$, so $\partial/\partial\mu = 2(\mu - 2) = -3$ and
# $\partial/\partial \log\sigma^2 = \sigma^2 = 0.25$. It also calls the layer twice, and builds a second layer with the
# same seed.

# %%
sampler = Sampling(seed=42)
z_mean = keras.Variable(np.full((NUM_SAMPLES, 1), MU), dtype="float32", name="z_mean")
z_log_var = keras.Variable(np.full((NUM_SAMPLES, 1), np.log(SIGMA**2)), dtype="float32", name="z_log_var")
with tf.GradientTape() as tape:
    codes = sampler([z_mean, z_log_var])
    objective = ops.mean((codes - 2.0) ** 2)
grad_mean, grad_log_var = tape.gradient(objective, [z_mean, z_log_var])
# Each row's gradient is (1/N) times that row's estimate, so summing over rows gives the averaged estimate.
print(f"d/dmu        : {float(ops.sum(grad_mean)):+.3f}   (exact {2 * (MU - 2):+.3f})")
print(f"d/dlog sigma2: {float(ops.sum(grad_log_var)):+.3f}   (exact {SIGMA**2:+.3f})")
print("two calls draw different noise:", not np.allclose(codes, sampler([z_mean, z_log_var])))
print("same seed, same first draw    :", np.allclose(codes, Sampling(seed=42)([z_mean, z_log_var])))


# %% [markdown]
# The gradients reach both encoder outputs and match the exact values up to Monte Carlo error. In a VAE, `z_mean` and
# `z_log_var` are the outputs of the encoder network, and the same tape carries these gradients on into its weights.
#
# ## 3. Two gradient estimators
#
# Take the simplest objective of the kind the ELBO contains,
#
# $$J(\mu) = \mathbb{E}_{z \sim \mathcal{N}(\mu, \sigma^2)}\big[f(z)\big],$$
#
# with $\sigma$ fixed, and look for unbiased Monte Carlo estimates of $J'(\mu)$. There are two classic answers.
#
# **Pathwise (reparameterization).** From section 2, with $z = \mu + \sigma\varepsilon$,
#
# $$\widehat{J'}_{\text{path}} = f'(\mu + \sigma\varepsilon), \qquad \varepsilon \sim \mathcal{N}(0, 1).$$
#
# It needs $f$ to be differentiable and $z$ to be a differentiable function of the parameters.
#
# **Score function (REINFORCE, likelihood ratio).** The other classic answer differentiates the *density* instead of the
# sample (Williams, 1992, named it REINFORCE):
#
# $$J'(\mu) = \frac{\partial}{\partial \mu} \int f(z)\, q_\mu(z)\, dz = \int f(z)\, \frac{\partial q_\mu(z)}{\partial \mu}\, dz.$$
#
# As written, this is not an expectation under $q_\mu$: $\partial q_\mu / \partial \mu$ is not a probability density (it is
# negative for half of the $z$), so you cannot estimate the integral by sampling from $q_\mu$. One line of calculus turns it
# into an expectation, and then it needs only *values* of $f$.
#
# Both are unbiased: each has expectation $J'(\mu)$. They differ in how much a single estimate scatters around it. The
# module `workshop.gradients` holds reference versions of both; the exercises ask you to write your own.
#
# ### Exercise 2 (on paper, then in code): the score-function estimator
#
# 1. On paper, rewrite $J'(\mu) = \int f(z)\, \partial_\mu q_\mu(z)\, dz$ as an expectation under $q_\mu$ of $f(z)$ times a
#    function of $z$, $\mu$ and $\sigma$, and work that function out for the Gaussian $q_\mu = \mathcal{N}(\mu, \sigma^2)$.
# 2. Write `score_function_gradient(f, z, mu, sigma)`: `f` is a NumPy function applied elementwise, `z` an array of samples
#    from $\mathcal{N}(\mu, \sigma^2)$ (any shape), `mu` and `sigma` numbers. Return one estimate of $J'(\mu)$ per sample, the
#    quantity inside your expectation, as an array with the shape of `z` (do not average).
#
# <details><summary>Hint 1</summary>
#
# The derivative of a logarithm: $\partial_\mu \log q_\mu(z) = \partial_\mu q_\mu(z) / q_\mu(z)$. Solve it for
# $\partial_\mu q_\mu(z)$ and put that into the integral.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# $J'(\mu) = \int f(z)\, q_\mu(z)\, \partial_\mu \log q_\mu(z)\, dz = \mathbb{E}_{z \sim q_\mu}\big[f(z)\, \partial_\mu \log q_\mu(z)\big]$.
# The derivative of the log-density is called the **score**. Now differentiate
# $\log q_\mu(z) = -\tfrac12 \log(2\pi\sigma^2) - (z - \mu)^2 / (2\sigma^2)$ with respect to $\mu$.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# The score of the Gaussian is $(z - \mu)/\sigma^2$, so one estimate is $f(z)$ times that, for each sample $z \sim q_\mu$.
#
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.** Differentiate the density instead of the sample. Using
# $\nabla_\mu q = q\, \nabla_\mu \log q$ (the derivative of a log),
#
# $$J'(\mu) = \int f(z)\, \frac{\partial q_\mu(z)}{\partial \mu}\, dz = \int f(z)\, q_\mu(z)\, \frac{\partial \log q_\mu(z)}{\partial \mu}\, dz
# = \mathbb{E}_{z \sim q_\mu}\!\left[f(z)\, \frac{\partial \log q_\mu(z)}{\partial \mu}\right].$$
#
# The derivative of the log-density is called the **score**. For the Gaussian,
# $\log q_\mu(z) = -\tfrac{1}{2}\log(2\pi\sigma^2) - (z - \mu)^2 / (2\sigma^2)$, so the score is $(z - \mu)/\sigma^2$ and
#
# $$\widehat{J'}_{\text{score}} = f(z)\, \frac{z - \mu}{\sigma^2}, \qquad z \sim \mathcal{N}(\mu, \sigma^2).$$
#
# It needs only *values* of $f$: no derivative, no reparameterization. It works for black-box $f$ and for discrete $z$.
# <!-- END SOLUTION -->

# %%
def score_function_gradient(f, z, mu, sigma):
    # TODO: one score-function estimate of d/dmu E[f(z)] per sample (your result from part 1)
    ### BEGIN SOLUTION
    return f(z) * (z - mu) / sigma**2
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb04.check_score_function_gradient(score_function_gradient)


# %% [markdown]
# ### Exercise 3: the pathwise estimator
#
# Your score-function estimator needs only *values* of $f$: no derivative, no reparameterization. It works for a
# black-box $f$ and for discrete $z$. The pathwise estimator needs more, and gives more in return.
#
# Write `pathwise_gradient(df, eps, mu, sigma)`: `df` is the derivative $f'$ (a NumPy function), `eps` an array of
# standard-normal noise (any shape), `mu` and `sigma` numbers. Return one estimate per sample, $f'(\mu + \sigma\varepsilon)$,
# with the shape of `eps`.

# %%
def pathwise_gradient(df, eps, mu, sigma):
    # TODO: one pathwise estimate per noise draw (section 2)
    ### BEGIN SOLUTION
    return df(mu + sigma * eps)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb04.check_pathwise_gradient(pathwise_gradient)

# %% [markdown]
# Automatic differentiation through $z = \mu + \sigma\varepsilon$ *is* the pathwise estimator: feed the same noise to a
# `GradientTape` and to your function, and the two numbers agree to every printed digit.

# %%
eps_small = rng.standard_normal(1000)
mu_tensor = keras.Variable(MU, dtype="float64")
with tf.GradientTape() as tape:
    objective = ops.mean(ops.sin(mu_tensor + SIGMA * ops.convert_to_tensor(eps_small)))
print(f"GradientTape through mu + sigma * eps: {float(tape.gradient(objective, mu_tensor)):.10f}")
print(f"mean of your pathwise estimates      : {pathwise_gradient(np.cos, eps_small, MU, SIGMA).mean():.10f}")

# %% [markdown]
# ### Same objective, same noise, two estimators
#
# The cell compares both estimators on two objectives with known exact gradients,
# $f(z) = (z - 2)^2$ with $J'(\mu) = 2(\mu - 2)$ and $f(z) = \sin z$ with $J'(\mu) = \cos(\mu)\, e^{-\sigma^2/2}$, at
# $\mu = 0.5$, $\sigma = 0.5$. Both estimators use the same 100,000 noise draws ($z = \mu + \sigma\varepsilon$). For each
# it prints the average estimate, its standard error (the standard deviation of one estimate divided by $\sqrt{N}$), the
# distance from the exact gradient in standard errors, and the variance of a single estimate.

# %%
# NBVAL_CHECK_OUTPUT
eps = rng.standard_normal(NUM_SAMPLES)
z = MU + SIGMA * eps
print(f"mu = {MU}, sigma = {SIGMA}, N = {NUM_SAMPLES:,} samples, the same noise for both estimators\n")
for objective in (gradients.quadratic_objective(2.0), gradients.sine_objective()):
    exact = objective.gradient(MU, SIGMA)
    score = gradients.summarize(score_function_gradient(objective.f, z, MU, SIGMA))
    path = gradients.summarize(pathwise_gradient(objective.df, eps, MU, SIGMA))
    print(f"{objective.name}: exact gradient {exact:.4f}")
    for name, s in (("score function", score), ("pathwise", path)):
        distance = abs(s["mean"] - exact) / s["standard_error"]
        print(f"  {name:<15} mean {s['mean']:8.4f} +- {s['standard_error']:.4f}   "
              f"{distance:.2f} s.e. from exact (within 3: {distance < 3})   variance of one estimate {s['variance']:8.4f}")
    print(f"  variance ratio score / pathwise: {score['variance'] / path['variance']:.1f}\n")

# %% [markdown]
# Both estimators land within three standard errors of the exact gradient for both objectives: both are unbiased. But one
# score-function estimate is far noisier, about 56 times the variance of a pathwise estimate for the quadratic and about
# 22 times for the sine. Variance translates directly into samples: to match the pathwise estimator's accuracy the score
# function needs that many times more samples.
#
# Where does the difference come from? The pathwise estimate $f'(z)$ uses how $f$ *changes* near each sample. The score
# estimate multiplies the *value* $f(z)$ by a zero-mean factor $(z - \mu)/\sigma^2$, which is large when $\sigma$ is small;
# it finds the slope only by averaging away large positive and negative terms. The figure makes this visible. On the left:
# the standard deviation of one estimate as $\sigma$ varies, for the quadratic. On the right: the running average of each
# estimator over the first 5,000 samples, against the exact gradient.

# %%
objective = gradients.quadratic_objective(2.0)
sigmas = np.geomspace(0.05, 3.0, NUM_SIGMAS)
spread = {"score function": [], "pathwise": []}
for s in sigmas:
    e = figure_rng.standard_normal(20_000)
    spread["score function"].append(np.std(score_function_gradient(objective.f, MU + s * e, MU, s)))
    spread["pathwise"].append(np.std(pathwise_gradient(objective.df, e, MU, s)))

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for name, marker in (("score function", "o"), ("pathwise", "s")):
    left.loglog(sigmas, spread[name], marker + "-", ms=4, label=name)
left.set(xlabel=r"$\sigma$", ylabel="standard deviation of one estimate",
         title=r"$\partial_\mu\, \mathbb{E}[(z - 2)^2]$ at $\mu = 0.5$")
left.legend()

n = np.arange(1, 5001)
right.plot(n, np.cumsum(score_function_gradient(objective.f, z[:5000], MU, SIGMA)) / n, lw=1, label="score function")
right.plot(n, np.cumsum(pathwise_gradient(objective.df, eps[:5000], MU, SIGMA)) / n, lw=1, label="pathwise")
right.axhline(objective.gradient(MU, SIGMA), color="k", ls="--", lw=1, label="exact")
right.set(xscale="log", ylim=(-8, 2), xlabel="number of samples", ylabel="running average of the estimates",
          title=rf"$\sigma = {SIGMA}$, the same noise for both")
right.legend();

# %% [markdown]
# On the left the pathwise spread is $2\sigma$ and vanishes as $\sigma \to 0$, while the score-function spread *grows*
# like $1/\sigma$: the narrower the distribution, the worse the score function does, which is the regime a trained VAE
# encoder ends up in. On the right the pathwise average settles on the exact value within a few dozen samples; the score
# function wanders for thousands.
#
# A standard remedy for the score function is a **baseline**: since the score has mean zero, $\mathbb{E}[b\,(z -
# \mu)/\sigma^2] = 0$ for any constant $b$, so $\big(f(z) - b\big)(z - \mu)/\sigma^2$ is still unbiased. Choosing
# $b \approx \mathbb{E}[f(z)]$ removes the part of $f$ that carries no information about the slope. The cell uses the
# exact $\mathbb{E}[f]$ (in practice you would use a running average).

# %%
# NBVAL_CHECK_OUTPUT
baseline = objective.expectation(MU, SIGMA)
with_baseline = gradients.summarize(gradients.score_function_gradient(objective.f, z, MU, SIGMA, baseline=baseline))
plain = gradients.summarize(score_function_gradient(objective.f, z, MU, SIGMA))
path = gradients.summarize(pathwise_gradient(objective.df, eps, MU, SIGMA))
print(f"baseline b = E[f] = {baseline:.4f}")
print(f"variance of one estimate: score {plain['variance']:.3f}, score with baseline {with_baseline['variance']:.3f}, "
      f"pathwise {path['variance']:.3f}")
print(f"score with baseline: mean {with_baseline['mean']:.4f} +- {with_baseline['standard_error']:.4f} (exact {objective.gradient(MU, SIGMA):.4f})")


# %% [markdown]
# The baseline cuts the variance by more than half and leaves the mean where it was, but the pathwise estimator is
# still about twenty times better. This is why VAEs use the reparameterization trick, and why it made training them practical.
#
# **Question.** Suppose $f(z) = \mathbb{1}[z > 0]$, a step function (or suppose $z$ were discrete, like the Bernoulli draw of
# section 1). Which of the two estimators can you still use, and what goes wrong with the other one?
#
# <!-- BEGIN SOLUTION -->
# Only the score-function estimator: it needs values of $f$ and the score of $q$, and neither requires $f$ to be
# differentiable or $z$ to be continuous. The pathwise estimator needs $f'$: for a step function $f' = 0$ everywhere
# except at 0, so every pathwise estimate is 0, which is badly biased, since $J(\mu) = P(z > 0) = \Phi(\mu/\sigma)$ has
# derivative $\varphi(\mu/\sigma)/\sigma > 0$. For discrete $z$ there is no differentiable map $z = g(\varepsilon, \phi)$ at
# all (the draw is a step function of the noise), so the pathwise estimator does not exist; that is the Bernoulli example
# of section 1. The next cell checks the step function.
# <!-- END SOLUTION -->

# %%
# NBVAL_CHECK_OUTPUT
def step(z):
    return (z > 0).astype(float)


def step_derivative(z):
    return np.zeros_like(z)  # zero everywhere except at 0, where it does not exist


exact_step = np.exp(-0.5 * (MU / SIGMA) ** 2) / (SIGMA * np.sqrt(2 * np.pi))  # d/dmu P(z > 0) = phi(mu / sigma) / sigma
score_step = gradients.summarize(score_function_gradient(step, z, MU, SIGMA))
path_step = gradients.summarize(pathwise_gradient(step_derivative, eps, MU, SIGMA))
print(f"exact d/dmu P(z > 0): {exact_step:.4f}")
print(f"score function      : {score_step['mean']:.4f} +- {score_step['standard_error']:.4f}")
print(f"pathwise            : {path_step['mean']:.4f} +- {path_step['standard_error']:.4f}")

# %% [markdown]
# ## 4. What the VAE takes from this
#
# - The encoder outputs $\mu_\phi(x)$ and $\log\sigma^2_\phi(x)$; the `Sampling` layer turns them into a code
#   $z = \mu + e^{\log\sigma^2/2} \odot \varepsilon$ that the decoder can use and that gradients can pass through.
# - The reconstruction term $\mathbb{E}_q[\log p_\theta(x \mid z)]$ is estimated with one such sample per image per step;
#   its gradient with respect to the encoder is the pathwise estimator you wrote, computed by automatic differentiation.
# - The KL term needs no sampling at all: it has a closed form in $\mu$ and $\log\sigma^2$ (notebook 01), which is the
#   lowest-variance estimator there is.
# - The layer owns a `SeedGenerator`, so every training step draws fresh noise and a run can be repeated from its seed.
#
# Notebook 05 puts these pieces together into a VAE for MNIST.

# %% [markdown]
# ## Discussion
#
# 1. The comparison used $\sigma = 0.5$. For $f(z) = \sin z$ at $\sigma = 1$ the two variances are close (try it). What
#    property of $f$ and $\sigma$ decides how much the pathwise estimator gains?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The pathwise variance is $\operatorname{Var}[f'(z)]$: it is small when $f'$ hardly changes across the width
# $\sigma$ of $q$, that is when $f$ is smooth (nearly linear) on the scale $\sigma$. The score-function variance involves
# the *values* of $f$ times $(z - \mu)/\sigma^2$: it grows with the size of $f$ (including any constant offset, which a
# baseline removes) and like $1/\sigma$ as $\sigma$ shrinks. So the pathwise estimator gains most when $\sigma$ is small
# compared with the scale on which $f'$ varies, and when $f$ is large compared with its slope. For $\sin z$ at $\sigma = 1$,
# $f' = \cos z$ swings through a large part of its range across one standard deviation, so the pathwise variance grows,
# while $\sin$ stays bounded and $\sigma$ is not small, so the score function is not much worse. A VAE encoder's $\sigma$ is
# small and the decoder's log-likelihood is smooth on that scale: the regime where the pathwise estimator wins by far.
# <!-- END SOLUTION -->
#
# 2. Why is a large variance of the gradient estimate a problem for stochastic gradient descent, even when the estimate is
#    unbiased? What would you have to change in training to compensate?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** SGD moves by the learning rate times the estimate. Unbiasedness only says that the steps are right *on
# average*; each step also carries noise whose size grows with the standard deviation of the estimate. With a large
# variance the iterates jitter around, steps can point the wrong way, and the loss settles at a noise floor set by
# learning rate times variance, or training diverges. To compensate you must shrink that product: use a smaller learning
# rate (slower progress), average more samples per step (larger batches or several codes per image: the variance falls like
# $1/K$, at $K$ times the cost), or reduce the variance itself with a baseline or other control variate. A variance ratio of
# about 50, as measured above, means about 50 times more computation for the same progress.
# <!-- END SOLUTION -->
#
# 3. The Bernoulli draw of section 1 has no reparameterization. How could a model with discrete latent variables (for
#    example, a binary code) be trained? Think of the score function with a baseline, or of replacing the discrete draw by
#    a smooth approximation.
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Three families. (1) The **score function**, which needs only $\log q$ and values of the objective, works for
# discrete $z$; its variance is tamed with baselines (a running mean, or a small network that predicts the objective) and
# other control variates, or with several samples per example that serve as baselines for each other. (2) A **continuous
# relaxation**: replace the one-hot or binary draw by a softmax of logits plus Gumbel noise at a temperature $\tau$ (the
# Gumbel-softmax or Concrete distribution); it is reparameterizable, with gradients that are biased for $\tau > 0$ but have
# low variance, and $\tau$ is lowered during training. The "straight-through" estimator, which uses the discrete sample in
# the forward pass and the gradient of the smooth version in the backward pass, is a cruder relative. (3) When there are
# few discrete states, **sum them out** exactly: an expectation over $K$ values is a weighted sum of $K$ terms, with no
# sampling at all.
# <!-- END SOLUTION -->
#
# 4. A `Sampling` layer that drew its noise with NumPy would run, and its outputs would look right. What exactly would go
#    wrong during training?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Keras compiles `train_step` into a graph: Python and NumPy code inside it runs once, while the function is
# traced, and its result is stored in the graph as a constant. So the NumPy noise is drawn once and the *same* $\varepsilon$
# is reused on every training step (and, with a fixed batch shape, for every batch; with an unknown batch size the NumPy
# call fails outright, since the shape is not known while tracing). The gradients still flow through
# $\mu + \sigma \varepsilon$, so training runs and the loss goes down, but the model is no longer trained on the ELBO: the
# expectation over $q$ is replaced by one fixed noise draw, the decoder never sees the spread of codes around each
# encoding, and $\sigma$ is tuned to that single draw instead of to the posterior's width. The layer would also ignore the
# seed, so runs would not be reproducible from `seed_everything`. The owned `SeedGenerator` is what makes the noise fresh on
# every step inside the compiled function.
# <!-- END SOLUTION -->
#
# ## Extension (open, ungraded)
#
# Differentiate with respect to $\sigma$ instead of $\mu$. Derive the score-function estimator of
# $\partial_\sigma \mathbb{E}_{\mathcal{N}(\mu, \sigma^2)}[f(z)]$ (the score is now $\partial_\sigma \log q$) and use the
# pathwise one of section 2, $f'(\mu + \sigma\varepsilon)\, \varepsilon$. Check both on the quadratic, whose exact gradient
# is $2\sigma$, and redraw the left panel of the figure for them. Then try to close the gap with variance reduction: for the
# score function, the best constant baseline is not $\mathbb{E}[f]$ but $b^* = \mathbb{E}[f\, s^2] / \mathbb{E}[s^2]$, with
# $s$ the score (can you show why?); for the pathwise estimator, subtract a control variate with a known mean, such as
# $c\,\varepsilon$. How close can the score function get?
#
# ## References
#
# - D. P. Kingma and M. Welling. *Auto-Encoding Variational Bayes.* ICLR 2014. arXiv:1312.6114.
# - D. J. Rezende, S. Mohamed and D. Wierstra. *Stochastic Backpropagation and Approximate Inference in Deep Generative
#   Models.* ICML 2014. arXiv:1401.4082.
# - C. Doersch. *Tutorial on Variational Autoencoders.* 2016. arXiv:1606.05908.
# - R. J. Williams. *Simple Statistical Gradient-Following Algorithms for Connectionist Reinforcement Learning.* Machine
#   Learning 8, 1992.
