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
# # 08 · How good is the model?
#
# A trained VAE reports a test loss, the negative ELBO, in nats per image. This notebook asks what that number means and how
# far it is from the quantity we actually care about, the test log-likelihood $\log p_\theta(x)$. The ELBO is a **lower
# bound**: a model can look worse than it is because its bound is loose. You will tighten the bound with importance
# weighting, find out where the looseness comes from, put the course's models next to published numbers, and look at the
# latent dimensions a model does not use (posterior collapse), with two standard remedies.
#
# **What you will learn**
#
# - Derive the $K$-sample importance-weighted bound $\mathcal{L}_K$ (Burda, Grosse and Salakhutdinov, 2016) from Jensen's
#   inequality, show that $\mathcal{L}_1$ is the ELBO and that $\mathcal{L}_K$ grows with $K$ towards $\log p(x)$, and compute
#   it stably from log-weights.
# - Split the gap $\log p(x) - \text{ELBO} = \mathrm{KL}(q(z \mid x) \,\|\, p(z \mid x))$ into an **approximation gap** and an
#   **amortisation gap** (Cremer, Li and Duvenaud, 2018) by optimising $q$ for each image with the decoder frozen.
# - Report a test log-likelihood honestly, and say what differs from a published number.
# - Measure how a model uses its latent space (KL per dimension, active units) and know the weakness of the active-unit count.
# - Provoke posterior collapse and fight it with **KL warm-up** (Bowman et al., 2016) and **free bits** (Kingma et al., 2016).
#
# Prerequisites: notebook 03 (the ELBO and its gap on probabilistic PCA) and notebook 05 (the VAE for MNIST). Nothing here
# trains a big model: the main model is loaded from the package's pretrained weights.

# %%
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer images, samples and epochs, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once
K_MAX = 500 if FAST else 5000          # largest K of the bound curve for a few single images (section 1)
NUM_CURVE = 20 if FAST else 50         # test images of the test-set mean curve (section 1)
K_MAX_MEAN = 100 if FAST else 5000     # largest K of the test-set mean curve
NUM_GAP = 8 if FAST else 50            # test images whose q is optimised one by one (section 2)
GAP_STEPS = 60 if FAST else 200        # Adam steps of that optimisation
NUM_TABLE = 50 if FAST else 500        # test images for a table row that has no recorded number (section 3)
K_TABLE = 100 if FAST else 1000        # and its K
NUM_TRAIN_SMALL = 512 if FAST else 6000   # training images of the small models of section 5
EPOCHS_SMALL = 2 if FAST else 4           # their epochs: every small model gets the same budget
NUM_TEST_SMALL = 200 if FAST else 500     # test images to evaluate them
K_SMALL = 20 if FAST else 100             # K of their importance-weighted bound
EAGER_SMALL = FAST        # a handful of steps runs faster uncompiled: compiling a model's step takes seconds

# %%
import math
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import ops

import workshop
from workshop import checks, evaluation, load_mnist, pretrained

tf.get_logger().setLevel("ERROR")  # the small models of section 5 each compile their own step: no retracing notes

# %%
(x_train, _), (x_test, y_test), info = load_mnist(binarize="random", return_info=True)
print(f"data source: {info['source']}; {len(x_train)} training and {len(x_test)} test images (fixed binarization)")
MODEL_NAME = "vae_mnist_reference" if "vae_mnist_reference" in pretrained.available() else "vae_mnist_z20"
model = pretrained.load_pretrained(MODEL_NAME)
meta = pretrained.describe(MODEL_NAME)
print(f"model: {MODEL_NAME}: {meta['description']}")


# %% [markdown]
# The main model of this notebook is the shipped reference model `vae_mnist_reference` when the package has it, otherwise
# the 20-dimensional model of notebook 05 (`vae_mnist_z20`). The cell above says which one was loaded.
#
# ## 1. The ELBO is a lower bound; importance weighting tightens it
#
# For any distribution $q(z \mid x)$ that is positive wherever $p(x, z)$ is, the likelihood is an expectation under $q$:
# $$
# p(x) = \int p(x, z)\, dz = \mathbb{E}_{q(z \mid x)}\!\left[\frac{p(x, z)}{q(z \mid x)}\right].
# $$
# Draw $K$ independent codes $z_1, \dots, z_K \sim q(z \mid x)$ and call $w_k = p(x, z_k) / q(z_k \mid x)$ the
# **importance weights**. Their average $\frac1K \sum_k w_k$ is an unbiased estimate of $p(x)$. Taking the log, Jensen's
# inequality ($\log$ is concave) gives the **importance-weighted bound**
# $$
# \mathcal{L}_K(x) = \mathbb{E}_{z_{1:K} \sim q}\!\left[\log \frac1K \sum_{k=1}^K w_k\right]
# \;\le\; \log \mathbb{E}\!\left[\frac1K \sum_{k=1}^K w_k\right] = \log p(x).
# $$
# With $K = 1$ it is $\mathbb{E}_q[\log p(x, z) - \log q(z \mid x)]$, the ELBO.
#
# With $K = 1$ the bound is the ELBO of notebook 05; the next exercise shows that more samples can only help.
#
# ### Exercise 1 (pen and paper): $\mathcal{L}_K$ grows with $K$
#
# (a) Show that $\mathcal{L}_1$ is the ELBO, $\mathbb{E}_q[\log p(x, z) - \log q(z \mid x)]$.
#
# (b) Show that $\mathcal{L}_{K} \ge \mathcal{L}_{K-1}$ for every $K \ge 2$, so that
# $\mathcal{L}_1 \le \mathcal{L}_2 \le \dots \le \log p(x)$. Jensen's inequality is again the only tool you need, applied
# to a different average than above.
#
# (c) Notebook 03 met the naive estimator that draws $z$ from the prior $p(z)$. Which $q$ is that, and why does it need
# astronomically many samples on MNIST while the encoder's $q(z \mid x)$ needs a few thousand at most?
#
# <details><summary>Hint 1</summary>
#
# For (b), you want to compare the log of the average of $K$ weights with the log of an average of $K - 1$ of them. Think of
# leaving one of the $K$ weights out, chosen at random.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Let $I$ be a subset of $K - 1$ of the indices $\{1, \dots, K\}$, drawn uniformly among the $K$ such subsets. Each index
# belongs to $K - 1$ of the $K$ subsets. What is $\mathbb{E}_I\big[\frac{1}{K-1}\sum_{i \in I} w_i\big]$?
# </details>
#
# <details><summary>Hint 3</summary>
#
# $\frac1K \sum_{k=1}^K w_k = \mathbb{E}_I\big[\frac{1}{K-1}\sum_{i \in I} w_i\big]$. Take the log of both sides and use
# Jensen's inequality for the expectation over $I$ (the log is concave), then take the expectation over $z_{1:K}$. The
# $K - 1$ codes of any fixed subset are themselves $K - 1$ independent draws from $q$.
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.** (a) With $K = 1$ the average is the single weight $w_1 = p(x, z_1) / q(z_1 \mid x)$, so
# $\mathcal{L}_1 = \mathbb{E}_{z_1 \sim q}[\log p(x, z_1) - \log q(z_1 \mid x)]$, the ELBO.
#
# (b) Let $I$ be a uniformly random subset of $K - 1$ of the $K$ indices. Each index is in $K - 1$ of the $K$ subsets, so
# $$
# \mathbb{E}_I\Big[\frac{1}{K-1}\sum_{i \in I} w_i\Big] = \frac1K \sum_{I} \frac{1}{K-1} \sum_{i \in I} w_i
# = \frac1K \cdot \frac{K-1}{K-1} \sum_{k=1}^K w_k = \frac1K \sum_{k=1}^K w_k .
# $$
# The log is concave, so by Jensen's inequality over $I$,
# $$
# \log \frac1K \sum_{k=1}^K w_k = \log \mathbb{E}_I\Big[\frac{1}{K-1}\sum_{i \in I} w_i\Big]
# \;\ge\; \mathbb{E}_I\Big[\log \frac{1}{K-1}\sum_{i \in I} w_i\Big].
# $$
# Take the expectation over $z_{1:K} \sim q$. For every fixed $I$, the codes $z_i$, $i \in I$, are $K - 1$ independent draws
# from $q$, so the expectation of the right-hand side is $\mathcal{L}_{K-1}$, and $\mathcal{L}_K \ge \mathcal{L}_{K-1}$. With
# the bound $\mathcal{L}_K \le \log p(x)$ above, $\mathcal{L}_1 \le \mathcal{L}_2 \le \dots \le \log p(x)$; when the weights are
# bounded, the average of the weights converges to $p(x)$ and $\mathcal{L}_K \to \log p(x)$.
#
# (c) The prior, $q(z \mid x) = p(z)$: the weights become $p(x \mid z_k)$. Almost every code drawn from the prior explains a
# given digit very badly, so the average is dominated by the rare code that lands where the posterior is, and it takes an
# enormous $K$ to draw one. The encoder puts its samples where the posterior is, so its weights vary far less.
# <!-- END SOLUTION -->
#

# %% [markdown]
# **Computing it.** The weights themselves are unusable on a computer. For an MNIST digit, $\log w_k$ is around $-70$ to
# $-100$ nats, and $e^{-100} \approx 3.7 \times 10^{-44}$ is already below the smallest normal float32 number
# ($1.2 \times 10^{-38}$, about $e^{-87}$): float32 can still store it, but only as a *subnormal* number with a few significant
# digits left, and everything below about $e^{-103}$ becomes exactly 0. Images with more pixels, or a worse model, have
# log-weights of hundreds or thousands of nats below zero, where even float64 (which stops at about $e^{-745}$) gives 0, and
# $\log 0 = -\infty$. Everything must stay in log space, with $\log \frac1K \sum_k e^{a_k}$ computed from the log-weights
# $a_k = \log w_k$.

# %% [markdown]
# ### Exercise 2: the bound from the log-weights
#
# Write `log_mean_exp(log_w)`: from a tensor of log-weights of shape `(N, K)` (one row per image), return
# $\log \frac1K \sum_k e^{a_k}$ for each row, shape `(N,)`, with `keras.ops`. It must stay finite and exact for log-weights of
# $-1{,}000$ nats, for rows whose log-weights spread over hundreds of nats, and for a single image ($N = 1$). The check runs your function inside a compiled `tf.function`, on symbolic tensors, as a training step would.
#
# <details><summary>Hint 1</summary>
#
# For any constant $m$: $\log \sum_k e^{a_k} = m + \log \sum_k e^{a_k - m}$. Which $m$ makes every exponent at most 0 and at
# least one term equal to 1?
# </details>
#
# <details><summary>Hint 2</summary>
#
# Take $m = \max_k a_k$ per row (`ops.max(..., axis=-1, keepdims=True)`), then do not forget the $\frac1K$: it is a
# $-\log K$ outside the log. `ops.shape(log_w)[-1]` is $K$.
# </details>

# %%
def log_mean_exp(log_w):
    # log((1/K) * sum_k exp(log_w[:, k])) for each row of a (N, K) tensor, shape (N,), finite for log-weights of -1000.
    # TODO: compute it in log space (no exp of a large negative number on its own).
    ### BEGIN SOLUTION
    m = ops.max(log_w, axis=-1, keepdims=True)
    k = ops.cast(ops.shape(log_w)[-1], log_w.dtype)
    return ops.squeeze(m, axis=-1) + ops.log(ops.sum(ops.exp(log_w - m), axis=-1)) - ops.log(k)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb08.check_log_mean_exp(log_mean_exp)

# %% [markdown]
# Now the real thing. `evaluation.importance_log_weights(model, x, K)` returns the log-weights
# $\log p(x \mid z_k) + \log p(z_k) - \log q(z_k \mid x)$ of $K$ codes per image from the encoder's $q$. Your function turns them
# into the bound. Next to it, the naive formula $\log(\text{mean}(\exp(a)))$: on these MNIST log-weights it still works in
# float32, barely; on the same log-weights shifted down by 800 nats, as for an image with more pixels, it gives $-\infty$ in
# float32 and float64 alike, while the stable formula gives the bound shifted by exactly 800 nats.

# %%
x_few = x_test[:4]
log_w_few = evaluation.importance_log_weights(model, x_few, 1000, seed=1)
print("log-weights of the first image, first five:", np.round(log_w_few[0, :5], 1))
print("their weights in float32:", np.exp(log_w_few[0, :5].astype("float32")))


def naive(log_w, dtype):
    with np.errstate(divide="ignore", under="ignore"):
        return np.log(np.mean(np.exp(log_w.astype(dtype)), axis=1))


def stable(log_w):
    return ops.convert_to_numpy(log_mean_exp(ops.convert_to_tensor(log_w.astype("float32"))))


print("MNIST log-weights, K = 1000")
print("  naive, float32:", np.round(naive(log_w_few, "float32"), 2))
print("  stable:        ", np.round(stable(log_w_few), 2))
print("  mean of the log-weights (ELBO estimate):", np.round(log_w_few.mean(axis=1), 2))
shifted = log_w_few - 800.0  # log-weights around -900 nats
print("the same log-weights minus 800 nats")
print("  naive, float32:", naive(shifted, "float32"))
print("  naive, float64:", naive(shifted, "float64"))
print("  stable:        ", np.round(stable(shifted), 2), "= the bound above minus", np.round(stable(log_w_few) - stable(shifted), 2))

# %% [markdown]
# ### The bound against $K$
#
# `evaluation.iwae_curve` draws $2K_{\max}$ log-weights per image and splits them into disjoint groups of $K$, so that each
# group gives an independent $K$-sample estimate. For each $K$ it returns the average over the groups and the standard
# deviation of one estimate: the Monte Carlo error of a single run with that $K$. The first figure follows four test digits
# from $K = 1$ to $K_{\max}$; the second shows the mean over test images, with the Monte Carlo standard error of that mean.

# %%
ks_few = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if k <= K_MAX]
t0 = time.perf_counter()
curve_few = evaluation.iwae_curve(model, x_few, ks_few, seed=2)
ks_mean = [k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if k <= K_MAX_MEAN]
curve_mean = evaluation.iwae_curve(model, x_test[:NUM_CURVE], ks_mean, seed=3)
print(f"{time.perf_counter() - t0:.0f} s")

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for i in range(len(x_few)):
    gain = curve_few["bound"][i] - curve_few["bound"][i, 0]
    axes[0].errorbar(ks_few, gain, yerr=curve_few["std"][i], marker="o", ms=3, capsize=2, label=f"test image {i}")
axes[0].set(xscale="log", xlabel="K", ylabel="L_K - L_1 (nats)", title="the bound of single images")
axes[0].legend()
bound = curve_mean["bound"].mean(axis=0)
mc_error = np.sqrt(np.sum(curve_mean["std"] ** 2 / np.array(curve_mean["groups"]), axis=0)) / NUM_CURVE
axes[1].errorbar(ks_mean, bound, yerr=mc_error, marker="o", ms=3, capsize=3)
axes[1].set(xscale="log", xlabel="K", ylabel="mean L_K (nats per image)", title=f"mean over {NUM_CURVE} test images")
plt.show()
for k, b, e in zip(ks_mean, bound, mc_error):
    print(f"K = {k:5d}: mean bound {b:8.2f} +- {e:.2f} nats (Monte Carlo)")
print(f"tightening from K = 1 to K = {ks_mean[-1]}: {bound[-1] - bound[0]:.2f} nats per image")
if FAST:
    print(f"reduced run (fast mode): K up to {K_MAX_MEAN} on {NUM_CURVE} images; the text describes the full run (K up to 5000, 50 images)")


# %% [markdown]
# **Reading the plots.** Every curve rises, quickly at first and then more and more slowly: most of the tightening happens
# by $K$ of a few hundred. In the left panel the error bars, the standard deviation of
# one $K$-sample estimate, shrink with $K$: the log of an average of many weights varies less than the log of one weight. In the
# right panel they do not: they are the standard error of a mean over groups, and with a fixed budget of $2K_{\max}$ draws per
# image there are fewer groups at large $K$ (only two at $K_{\max}$), so that standard error grows with $K$ even though each
# single estimate gets less noisy. The rise differs between images: an image whose posterior $q$ fits well gains little, an image with an odd
# shape gains more. Two cautions. A curve that is still rising at the largest $K$ means $\mathcal{L}_K$ is still a lower
# bound, not $\log p(x)$ itself; and a stochastic lower bound can be pushed above its mean by noise, so report its Monte Carlo
# error along with it. A tighter bound is what you want for *evaluation*; as a *training* objective it is a different matter:
# Rainforth et al. (2018) show that a larger $K$ makes the gradient signal reaching the encoder weaker relative to its noise, so
# tighter bounds are not necessarily better for learning an encoder (the open extension at the end).
#

# %% [markdown]
# ## 2. Where the gap comes from
#
# How far is the ELBO below $\log p(x)$, and how far is $\mathcal{L}_K$? Both gaps are KL divergences; notebook 03 checked the
# first one exactly on probabilistic PCA. Derive them.
#
# ### Exercise 3 (pen and paper): the gaps of the ELBO and of $\mathcal{L}_K$
#
# (a) Show that $\log p(x) - \text{ELBO}(q) = \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big)$, and conclude when the ELBO equals
# $\log p(x)$.
#
# (b) The $K$ codes $z_{1:K}$ have the proposal density $q_K(z_{1:K}) = \prod_{k} q(z_k \mid x)$. Define
# $$
# \pi_K(z_{1:K}) = \frac1K \sum_{k=1}^K p(z_k \mid x) \prod_{j \ne k} q(z_j \mid x) ,
# $$
# a mixture in which one code, chosen at random, comes from the true posterior and the others from $q$. Show that
# $\log p(x) - \mathcal{L}_K = \mathrm{KL}(q_K \,\|\, \pi_K)$. What does $\pi_K$ become for $K = 1$?
#
# <details><summary>Hint 1</summary>
#
# For (a), Bayes' rule: $p(x, z) = p(z \mid x)\, p(x)$. Put it into the ELBO; $\log p(x)$ does not depend on $z$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# For (b), compute the ratio $\pi_K / q_K$ term by term: in the $k$-th term all the factors $q(z_j \mid x)$ with $j \ne k$
# cancel, and $p(z_k \mid x) / q(z_k \mid x) = w_k / p(x)$.
# </details>
#
# <details><summary>Hint 3</summary>
#
# $\pi_K(z_{1:K}) / q_K(z_{1:K}) = \frac{1}{p(x)} \cdot \frac1K \sum_k w_k$, so
# $\log \frac1K \sum_k w_k = \log p(x) + \log \pi_K - \log q_K$. Take the expectation under $q_K$.
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.** (a) With $p(x, z) = p(z \mid x)\, p(x)$,
# $$
# \text{ELBO}(q) = \mathbb{E}_q\big[\log p(z \mid x) + \log p(x) - \log q(z \mid x)\big]
# = \log p(x) - \mathbb{E}_q\Big[\log \frac{q(z \mid x)}{p(z \mid x)}\Big] = \log p(x) - \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big).
# $$
# The KL is non-negative and zero only when $q(z \mid x) = p(z \mid x)$: the ELBO equals $\log p(x)$ exactly when $q$ is the
# true posterior.
#
# (b) In the $k$-th term of $\pi_K / q_K$ the factors $q(z_j \mid x)$, $j \ne k$, cancel, and
# $p(z_k \mid x) / q(z_k \mid x) = p(x, z_k) / (p(x)\, q(z_k \mid x)) = w_k / p(x)$. Hence
# $\pi_K / q_K = \frac{1}{p(x)} \frac1K \sum_k w_k$ and
# $$
# \mathcal{L}_K = \mathbb{E}_{q_K}\Big[\log \frac1K \sum_k w_k\Big] = \log p(x) + \mathbb{E}_{q_K}\Big[\log \frac{\pi_K}{q_K}\Big]
# = \log p(x) - \mathrm{KL}(q_K \,\|\, \pi_K).
# $$
# $\pi_K$ is a density (each term of the mixture is a product of densities). For $K = 1$, $\pi_1 = p(z \mid x)$ and (b) is (a).
# As $K$ grows, the one posterior code is diluted among more and more codes from $q$, so $\pi_K$ gets closer to $q_K$ and the gap
# shrinks: the same conclusion as Exercise 1, from the other side (Domke and Sheldon, 2018, read importance weighting this way).
# <!-- END SOLUTION -->
#
# The ELBO is loose exactly as far as the encoder's $q(z \mid x)$ differs from the true posterior. In a VAE this has two causes
# (Cremer, Li and Duvenaud, 2018). Let $\mathcal{Q}$ be the family of diagonal Gaussians and
# $q^*_x = \arg\max_{q \in \mathcal{Q}} \text{ELBO}(x; q)$ the best member of it **for that one image**, found with the decoder
# frozen. Then
# $$
# \log p(x) - \text{ELBO}(q_\phi)
# = \underbrace{\log p(x) - \text{ELBO}(q^*_x)}_{\text{approximation gap}}
# + \underbrace{\text{ELBO}(q^*_x) - \text{ELBO}(q_\phi)}_{\text{amortisation gap}} .
# $$
# The **approximation gap** is what no diagonal Gaussian can fit: a posterior that is correlated, skewed or multi-modal. The
# **amortisation gap** is the price of **amortised inference**: one encoder network $q_\phi(z \mid x)$ maps every image to its
# $q$ in a single forward pass, instead of solving one optimisation problem per image, and it does not reach each image's own
# optimum. Both gaps are non-negative (up to Monte Carlo noise): $q^*_x$ is at least as good as the encoder's $q$, and every
# ELBO is below $\log p(x)$.
#
# To estimate $q^*_x$, start from the encoder's $(\mu, \log\sigma^2)$ of the image and run gradient ascent on that image's
# ELBO over these $2d$ numbers, with reparameterised samples $z = \mu + \sigma \odot \varepsilon$, the decoder's weights fixed.
#
# ### Exercise 4: optimise q for each image
#
# Write `optimize_q(log_likelihood, x, z_mean, z_log_var, steps, learning_rate, num_samples)`. `log_likelihood(x, z)` returns
# $\log p(x \mid z)$ per row (the frozen decoder); `x` is a batch of $N$ images; `z_mean`, `z_log_var` are NumPy arrays of
# shape `(N, d)`, the starting point. Run `steps` Adam steps that maximise the sum over images of each image's ELBO, estimated
# with `num_samples` reparameterised codes per image and the closed-form KL; return the final `(z_mean, z_log_var)` as NumPy
# arrays. The check runs it on two small linear-Gaussian models, where the best diagonal Gaussian is known in closed
# form, with a fixed seed.
#
# <details><summary>Hint 1</summary>
#
# The numbers to optimise are variables: `tf.Variable(z_mean)`. Under a `tf.GradientTape`, compute the loss (the negative
# ELBO), then `tape.gradient(loss, [mean, log_var])` and `optimizer.apply(grads, [mean, log_var])`.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Repeat each image `num_samples` times (`ops.repeat(x, num_samples, axis=0)`), draw `eps` of shape `(N, num_samples, d)`, form
# `z = mean[:, None, :] + exp(log_var / 2)[:, None, :] * eps` inside the tape, reshape it to `(N * num_samples, d)` for
# `log_likelihood`, and average the result back per image. The KL is the one of notebook 05. Wrapping one step in
# `@tf.function` makes the loop fast.
# </details>

# %%
def optimize_q(log_likelihood, x, z_mean, z_log_var, steps=300, learning_rate=1e-2, num_samples=8):
    # Adam on each image's own negative ELBO over its (mean, log-variance); whatever log_likelihood uses stays frozen.
    mean = tf.Variable(np.asarray(z_mean, dtype="float32"))
    log_var = tf.Variable(np.asarray(z_log_var, dtype="float32"))
    optimizer = keras.optimizers.Adam(learning_rate)
    n, d = mean.shape
    x_rep = ops.repeat(ops.convert_to_tensor(x), num_samples, axis=0)  # image i in rows i*S ... i*S + S - 1
    # TODO: run `steps` optimizer steps on the negative ELBO with reparameterised codes.
    ### BEGIN SOLUTION
    @tf.function
    def step():
        eps = tf.random.normal((n, num_samples, d))
        with tf.GradientTape() as tape:
            z = mean[:, None, :] + ops.exp(0.5 * log_var)[:, None, :] * eps
            log_px_z = ops.reshape(log_likelihood(x_rep, ops.reshape(z, (n * num_samples, d))), (n, num_samples))
            kl = 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)
            loss = ops.sum(kl - ops.mean(log_px_z, axis=1))
        optimizer.apply(tape.gradient(loss, [mean, log_var]), [mean, log_var])

    for _ in range(steps):
        step()
    ### END SOLUTION
    return mean.numpy(), log_var.numpy()


# %%
# NBVAL_CHECK_OUTPUT
checks.nb08.check_optimize_q(optimize_q)


# %% [markdown]
# Your function works with any frozen decoder. On four test digits of the main model:

# %%
def decoder_log_likelihood(x, z):
    return -model.reconstruction_loss(x, model.decoder(z, training=False))

z_mean_few, z_log_var_few = model.encode(x_few)
opt_mean, opt_log_var = optimize_q(decoder_log_likelihood, x_few, z_mean_few, z_log_var_few,
                                   steps=GAP_STEPS, learning_rate=1e-2, num_samples=8)
before = evaluation.elbo_of_posterior(model, x_few, z_mean_few, z_log_var_few, num_samples=500, seed=4)
after = evaluation.elbo_of_posterior(model, x_few, opt_mean, opt_log_var, num_samples=500, seed=4)
print("ELBO with the encoder's q:", np.round(before, 2))
print("ELBO with the optimised q:", np.round(after, 2))

# %% [markdown]
# The library's `evaluation.inference_gaps` does the same for a batch of images with a compiled loop, estimates $\log p(x)$ with
# importance weighting (the larger of the bounds with the encoder's $q$ and with $q^*_x$ as proposals, $K = 1{,}000$, each a
# lower bound), and returns both gaps per image.

# %%
t0 = time.perf_counter()
gaps = evaluation.inference_gaps(model, x_test[:NUM_GAP], steps=GAP_STEPS, learning_rate=1e-2, num_samples=8,
                                 elbo_samples=200, iwae_samples=1000, seed=5)
print(f"{NUM_GAP} test images, {GAP_STEPS} Adam steps each ({time.perf_counter() - t0:.0f} s)")
total = gaps["log_px"] - gaps["elbo_encoder"]
for name, values in (("log p(x) - ELBO (total gap)", total), ("approximation gap", gaps["approximation_gap"]),
                     ("amortisation gap", gaps["amortisation_gap"])):
    print(f"{name:28s} {values.mean():6.2f} nats per image (median {np.median(values):5.2f})")
if FAST:
    print("reduced run (fast mode): the text quotes the full run (50 images, 200 Adam steps each)")
order = np.argsort(total)
fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
ax.bar(np.arange(NUM_GAP), gaps["approximation_gap"][order], label="approximation gap")
ax.bar(np.arange(NUM_GAP), gaps["amortisation_gap"][order], bottom=gaps["approximation_gap"][order], label="amortisation gap")
ax.set(xlabel="test image (sorted by total gap)", ylabel="nats", title="log p(x) - ELBO, split in two")
ax.legend()
plt.show()

# %% [markdown]
# **Reading it.** Both parts are of the same order here. The approximation gap is a property of the model family (a diagonal
# Gaussian posterior, and a decoder trained to make its posteriors look like that); the amortisation gap is a property of the
# encoder (its capacity and training). Cremer et al. found that, on MNIST, the amortisation gap is often the larger of the two,
# and that a more expressive $q$ shrinks the approximation gap but not necessarily the total. Keep two limits in mind: a
# few hundred Adam steps may not reach $q^*_x$ (the amortisation gap is then underestimated and the approximation gap
# overestimated), and $\log p(x)$ here is itself an importance-weighted lower bound.
#
# ## 3. Comparing with published numbers
#
# The number to compare between models is the test log-likelihood, estimated with a tight bound: the importance-weighted
# bound with $K = 5{,}000$ on the whole 10,000-image test set, as in Burda et al. (2016). The table below reads the course's
# numbers from the package (`pretrained.recorded_likelihood`, written by
# `python -m workshop likelihood NAME`); a model whose numbers were not recorded for its current weights is measured
# here on fewer images and a smaller $K$, and the row says so.

# %%
rows = []
for name in ("vae_mnist_z2", "vae_mnist_z20", "vae_mnist_reference"):
    if name not in pretrained.available():
        rows.append((name, "not shipped in this copy of the package", None, None))
        continue
    info_m = pretrained.describe(name)
    record = pretrained.recorded_likelihood(name)
    if record is not None:
        rows.append((name, f"{record['num_images']} images, K = {record['num_samples']}", record["neg_elbo"], record["neg_iwae"]))
    else:
        m = model if name == MODEL_NAME else pretrained.load_pretrained(name)
        bounds = evaluation.log_mean_exp(evaluation.importance_log_weights(m, x_test[:NUM_TABLE], K_TABLE, seed=6), axis=1)
        rows.append((name, f"computed here: {NUM_TABLE} images, K = {K_TABLE}", -float(np.mean(m.elbo(x_test[:NUM_TABLE], seed=0))),
                     -float(np.mean(bounds))))
print(f"{'model':22s} {'-ELBO':>8s} {'-L_K >= -log p(x)':>17s}   measured on")
for name, where, neg_elbo, neg_iwae in rows:
    if neg_elbo is None:
        print(f"{name:22s} {'-':>8s} {'-':>17s}   {where}")
    else:
        print(f"{name:22s} {neg_elbo:8.2f} {neg_iwae:17.2f}   {where}")
print(f"{'Burda et al. VAE':22s} {'':>8s} {86.76:17.2f}   published: 1 stochastic layer, K = 5000, 10,000 images")
print(f"{'Burda et al. IWAE':22s} {'':>8s} {84.78:17.2f}   published: 1 stochastic layer, trained with k = 50")

# %% [markdown]
# What differs from Table 1 of Burda et al. (2016), where a VAE with one stochastic layer reaches 86.76 nats and the same
# architecture trained as an IWAE with $k = 50$ reaches 84.78:
#
# - **Binarisation.** Their training images are binarised afresh each time they are used (dynamic binarisation), which acts as
#   data augmentation; so are ours (all three models train with `--dynamic-binarization`, notebook 05, section 7). Our test
#   set is one fixed stochastic binarisation (seed 0); theirs is also a stochastic binarisation, but not the same draw, so
#   numbers can differ by a fraction of a nat for that reason alone.
# - **Architecture.** Theirs: two deterministic layers of 200 tanh units and 50 latent dimensions. Ours: ReLU layers of 512
#   and 256 units, 2, 20 or 32 latent dimensions.
# - **Training length.** They trained for 3,280 passes over the data with a decaying learning rate; the course's models train
#   for minutes on a laptop CPU: 30 epochs for `z2` and `z20`, 160 for the reference model, about 11 minutes on two cores (the
#   JSON file of each pretrained model records its command and epochs).
# - **The estimate.** A row measured on fewer images or with a smaller $K$ is a looser, noisier bound: a smaller $K$ gives a
#   smaller (worse) log-likelihood, so such a row flatters no one.
#
# Every number in the last column is $-\mathcal{L}_K$, minus a lower bound, so it is an **upper bound** on the test
# $-\log p(x)$: the true negative log-likelihood is at most that, by an unknown amount. Estimators that get closer exist:
# Wu et al. (2017) evaluate decoder-based models with annealed importance sampling, and check the estimate with bidirectional
# Monte Carlo, which brackets $\log p(x)$ from both sides on simulated data.
#
# A lower value is better; differences of a nat or two between papers are common for the reasons above, so compare
# numbers only when the binarisation, the test set and $K$ are the same. With that caution, the reference model's
# $-\mathcal{L}_{5000} = 86.65$ nats (standard error 0.22 over the test images) is level with their VAE's 86.76, the same
# kind of bound: a wider network trained with a learning-rate
# schedule and warm-up gets there in 160 epochs instead of 3,280, while their IWAE row shows what a tighter training
# objective adds (the open extension at the end).
#
# ## 4. KL per dimension and active units
#
# The KL term of the ELBO is a sum over latent dimensions, $\mathrm{KL}(q(z \mid x) \,\|\, p(z)) = \sum_j \mathrm{KL}_j(x)$, so
# its test average splits into one number per dimension, `evaluation.kl_per_dimension`. A dimension whose KL is zero for every
# image has $q(z_j \mid x) = \mathcal{N}(0, 1)$ whatever the image: it carries no information about $x$, and the decoder
# learns to ignore it. This is **posterior collapse** of that dimension.
#
# Burda et al. count **active units** instead: dimension $u$ is active when $A_u = \mathrm{Var}_x\big(\mathbb{E}_{q}[z_u \mid x]\big)$
# exceeds 0.01 (`evaluation.active_units`). The threshold has a weakness: a dimension can pass it while carrying almost
# nothing. If its posterior mean varies with variance 0.011 and its variance stays near 1, its KL is only about
# $\tfrac12 \cdot 0.011 \approx 0.005$ nats per image, yet it counts as "active", exactly like a dimension that carries 5 nats.
# Conversely a dimension whose mean varies little but whose variance shrinks a lot for some images carries information and may
# be missed. The average KL of a dimension is a better-behaved reading: it is in nats, it adds up to the model's KL term, and it
# bounds the information the dimension carries about the image (the mutual information between $x$ and $z_j$ under the encoder
# is at most the average $\mathrm{KL}_j$).

# %%
x_eval = x_test[:2000]
kl_dims = evaluation.kl_per_dimension(model, x_eval)
count, activity = evaluation.active_units(model, x_eval)
order = np.argsort(kl_dims)[::-1]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), layout="constrained")
axes[0].bar(np.arange(len(kl_dims)), kl_dims[order])
axes[0].set(xlabel="latent dimension (sorted)", ylabel="mean KL (nats)", title=f"KL per dimension, total {kl_dims.sum():.1f} nats")
axes[1].scatter(activity, kl_dims)
axes[1].axvline(0.01, color="k", ls="--", lw=1, label="Burda threshold 0.01")
axes[1].set(xscale="log", yscale="log", xlabel="activity A_u = Var_x(E_q[z_u])", ylabel="mean KL (nats)")
axes[1].legend()
plt.show()
print(f"active units (A_u > 0.01): {count} of {model.latent_dim}")
for threshold in (0.01, 0.1, 1.0):
    print(f"dimensions with mean KL above {threshold:4} nats: {int(np.sum(kl_dims > threshold))}")
used = kl_dims[activity > 0.01]
print(f"KL of the active dimensions: from {used.min():.2f} to {used.max():.2f} nats; of the others: at most {kl_dims[activity <= 0.01].max(initial=0):.3f}")

# %% [markdown]
# For a well-trained model the two readings mostly agree: in the right panel the dimensions fall into a group that is used (large
# activity, and from about 0.1 to a few nats of KL each: 0.13 to 2.3 nats here, 12 of the 26 above one nat) and a group at the
# prior (tiny activity, tiny KL), because a dimension that varies its
# mean also pays KL for it. They disagree for dimensions in between, which is where a count moves with the threshold; section 5
# shows a model in that state. Report the KL per dimension along with any count.
#
# ## 5. Posterior collapse and two remedies
#
# Posterior collapse is the KL term winning: at the start of training the decoder is poor, so codes help reconstruction little,
# while every nat of information in a code costs a nat of KL. The cheapest solution for the optimiser is to make $q(z \mid x)$ the
# prior for some (or all) dimensions and never look back. Two ways to make it happen: weight the KL term more (a $\beta$-VAE
# with $\beta > 1$) or offer more latent dimensions than the data needs.
#
# The experiments below train small models (784-256-$d$) on the same budget: the same `NUM_TRAIN_SMALL` training images and
# `EPOCHS_SMALL` epochs, batch 128, Adam at $10^{-3}$. Each is measured on test images by its KL per dimension, its active units
# and its importance-weighted bound (K = 100).

# %%
x_small, x_small_test = x_train[:NUM_TRAIN_SMALL], x_test[:NUM_TEST_SMALL]

def train_small(latent_dim, **options):
    keras.utils.set_random_seed(0)
    vae = workshop.VAE(latent_dim=latent_dim, hidden_units=(256,), seed=0, **options)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=EAGER_SMALL)
    t0 = time.perf_counter()
    vae.fit(x_small, epochs=EPOCHS_SMALL, batch_size=128, verbose=0)
    seconds = time.perf_counter() - t0
    kl = evaluation.kl_per_dimension(vae, x_small_test)
    count, _ = evaluation.active_units(vae, x_small_test)
    iwae = float(np.mean(vae.log_likelihood(x_small_test, num_samples=K_SMALL, seed=0)))
    neg_elbo = -float(np.mean(vae.elbo(x_small_test, seed=0)))
    return {"kl": kl, "active": count, "neg_iwae": -iwae, "neg_elbo": neg_elbo, "seconds": seconds}

def show(results):
    print(f"{'model':24s} {'-ELBO':>7s} {'-L_' + str(K_SMALL):>7s} {'KL':>6s} {'active':>7s} {'KL>0.1 nat':>10s}")
    for name, r in results.items():
        print(f"{name:24s} {r['neg_elbo']:7.2f} {r['neg_iwae']:7.2f} {r['kl'].sum():6.2f} {r['active']:4d}/{len(r['kl']):<3d}"
              f" {int(np.sum(r['kl'] > 0.1)):6d}")
    if FAST:
        print(f"reduced run (fast mode): {NUM_TRAIN_SMALL} training images, {EPOCHS_SMALL} epochs, {NUM_TEST_SMALL} test images, "
              f"K = {K_SMALL}; the numbers in the text come from the full run (6000 images, 4 epochs, 500 test images, K = 100)")

collapse = {}
for d in (8, 32, 64):
    collapse[f"beta = 1, d = {d}"] = train_small(d)
collapse["beta = 4, d = 32"] = train_small(32, beta=4.0)
show(collapse)

# %%
fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
for name, r in collapse.items():
    ax.plot(np.sort(r["kl"])[::-1], marker=".", label=name)
ax.set(yscale="log", xlabel="latent dimension (sorted by KL)", ylabel="mean KL (nats)", title="KL per dimension")
ax.legend()
plt.show()


# %% [markdown]
# Read the table and the figure together. With $\beta = 4$ every nat of KL costs four times as much: the total KL drops, the
# curve of the KL per dimension falls faster, and the likelihood (always judged with $\beta = 1$) is worse. With more latent
# dimensions at $\beta = 1$, look at the tail of the curves: the added dimensions carry less and less, and with longer training a
# VAE on MNIST typically leaves a good part of a large latent space at the prior (Burda et al. report that only a minority of 50
# dimensions stays active). The small models here are trained briefly, and collapse takes time to settle. The $\beta = 4$ row shows the
# weakness of section 4 at work: the Burda count calls all 32 dimensions active, while only 8 of them carry more than 0.1 nats
# and the whole KL is 2.58 nats per image. That is one training run (seed 0); over three seeds (0, 1 and 2, the same settings)
# the count was 32 of 32 every time, while 6 to 9 dimensions carried more than 0.1 nats (mean 7.7) and the KL was 2.32 to 2.58
# nats.
#
# ### Remedy 1: KL warm-up
#
# Bowman et al. (2016) multiply the KL term by a weight that starts at 0 and rises to 1 (they call it KL annealing). Early on
# the model is a plain autoencoder and learns to put information in its codes; by the time the KL counts fully, the decoder
# relies on the codes and dropping them would cost reconstruction. The warm-up of this exercise is linear and counted in epochs: over a
# warm-up of $E$ epochs, the first epoch (epoch 0) trains with weight 0, the weight rises by the same amount at the start of
# each following epoch, and it reaches 1 at the start of epoch $E$, where it stays. During the warm-up the training loss
# is not the negative ELBO, so only the model after it is judged.
#
# ### Exercise 5: the warm-up weight
#
# Write `kl_warmup_weight(epoch, warmup_epochs)` returning the weight of epoch `epoch` (counted from 0), with
# `warmup_epochs = 0` meaning no warm-up (weight 1 from the first epoch).
#
# <details><summary>Hint 1</summary>
#
# Check your function on paper with `warmup_epochs = 5`: epochs 0, 1, ..., 7 must give 0, 0.2, 0.4, 0.6, 0.8, 1, 1, 1. And with
# `warmup_epochs = 0`, what must epoch 0 give?
# </details>
#
# <details><summary>Hint 2</summary>
#
# The weight of epoch $e$ is $\min(1, e / E)$ for $E \ge 1$, and 1 for $E = 0$ (do not divide by zero).
# </details>

# %%
def kl_warmup_weight(epoch, warmup_epochs):
    # The weight of the KL term during epoch `epoch` (0-based) of a linear warm-up lasting `warmup_epochs` epochs.
    # TODO: the schedule described above.
    ### BEGIN SOLUTION
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch / warmup_epochs)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb08.check_kl_warmup_weight(kl_warmup_weight)


# %% [markdown]
# ### Remedy 2: free bits
#
# Kingma et al. (2016) give each latent dimension an allowance of $\lambda$ nats. For each dimension $j$, take its KL
# averaged over the images of the batch; wherever that average is below $\lambda$, replace it by $\lambda$; the KL term of the
# loss is the sum of these floored numbers over the dimensions. A dimension that uses less than $\lambda$ nats pays a constant: the loss stops pushing its KL to zero, and the dimension can
# start to carry information for free. The floor acts on each dimension's batch-average KL; a floor on the total KL would let one
# dimension carry everything while the others collapse. Like warm-up, it changes only what is minimised; the model is judged on
# the true ELBO.
#
# ### Exercise 6: the free-bits penalty
#
# Write `free_bits_kl(z_mean, z_log_var, free_bits)`: the penalty above for a batch, a scalar tensor, with `keras.ops`. It is
# checked inside a compiled `tf.function`.
#
# <details><summary>Hint 1</summary>
#
# Start from the per-image, per-dimension KL, shape `(N, d)`: the closed form of notebook 05 without the sum.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Average over the batch (axis 0), floor with `ops.maximum(..., free_bits)`, then sum over the dimensions.
# </details>
#
# <details><summary>Hint 3</summary>
#
# $$
# \sum_j \max\big(\lambda,\ \overline{\mathrm{KL}}_j\big), \qquad \overline{\mathrm{KL}}_j = \frac1N \sum_{n=1}^N
# \tfrac12\big(\sigma_{nj}^2 + \mu_{nj}^2 - 1 - \log \sigma_{nj}^2\big).
# $$
# </details>

# %%
def free_bits_kl(z_mean, z_log_var, free_bits):
    # The free-bits KL penalty of a batch (a scalar): each latent dimension's KL is floored at `free_bits` nats.
    # TODO: per-dimension KL, then the floor where it belongs, then one number.
    ### BEGIN SOLUTION
    kl = 0.5 * (ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var)
    return ops.sum(ops.maximum(ops.mean(kl, axis=0), free_bits))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb08.check_free_bits_kl(free_bits_kl)

# %% [markdown]
# The package's `VAE` has both remedies as options, `kl_warmup_epochs` and `free_bits` (saved with the model). Its free-bits
# term is your `free_bits_kl`, applied to each batch. Its warm-up is counted in training steps rather than epochs: the weight
# rises a little after every batch, $\min\big(1, t / (E \cdot \text{steps per epoch})\big)$ at step $t$, so each epoch $e$
# starts at $e / E$, the value of your `kl_warmup_weight`, and the weight grows within the epoch instead of jumping at its start.
# Train the collapse-prone $\beta = 4$, $d = 32$ model and the plain $d = 64$ model again with each remedy, on the same
# budget of `EPOCHS_SMALL` epochs (4 in the full run, of which the warm-up lasts the first 2); the floor is 0.5 nats per
# dimension.

# %%
WARMUP = max(1, EPOCHS_SMALL // 2)
remedies = {
    "beta = 4, d = 32": collapse["beta = 4, d = 32"],
    "  + warm-up": train_small(32, beta=4.0, kl_warmup_epochs=WARMUP),
    "  + free bits 0.5": train_small(32, beta=4.0, free_bits=0.5),
    "beta = 1, d = 64": collapse["beta = 1, d = 64"],
    "  + warm-up ": train_small(64, kl_warmup_epochs=WARMUP),
    "  + free bits 0.5 ": train_small(64, free_bits=0.5),
}
show(remedies)
print(f"each small model trained {EPOCHS_SMALL} epochs on {NUM_TRAIN_SMALL} images "
      f"({np.mean([r['seconds'] for r in remedies.values()]):.0f} s on average on this machine)")

# %% [markdown]
# **Reading the table.** Free bits act directly on what is measured: a dimension below the floor is no longer pushed towards the
# prior, so dimensions keep some KL and the count above 0.1 nats can only gain from it. Warm-up acts on the path of training: how
# much it changes the end result depends on how long training continues after it, and on a short budget part of the epochs
# optimise something other than the ELBO. The table is one run (seed 0). Over three seeds (0, 1 and 2, same
# settings; mean and range), for $\beta = 4$ both remedies raised the number of dimensions above 0.1 nats, from 7.7 (6 to 9)
# without a remedy to 16 (14 to 18) with warm-up and 32 (all, every time) with free bits, and improved $-\mathcal{L}_{100}$ from
# 177.7 (175.8 to 179.0) to 162.2 (159.2 to 163.8) and 155.6 (154.3 to 157.0) nats. With $\beta = 1$ and 64 dimensions, where
# little had collapsed on this budget, the bound moved by less, from 154.4 (153.8 to 154.8) to 151.5 (150.9 to 151.9) with
# warm-up and 152.6 (151.8 to 153.2) with free bits: better in every seed, by 2.0 to 3.7 nats with warm-up and 0.7 to 2.7
# with free bits, against 15 to 23 nats for $\beta = 4$. Neither remedy is free: the extra KL has to buy at least as much
# reconstruction, or the $\beta = 1$ bound gets worse, and in the table the bound is the final judge.
#
# ## What you measured
#
# - The ELBO is a lower bound on $\log p(x)$; the importance-weighted bound $\mathcal{L}_K$ tightens it monotonically in $K$,
#   computed stably with a log-mean-exp of log-weights.
# - The gap $\log p(x) - \text{ELBO} = \mathrm{KL}(q \,\|\, p(z \mid x))$ splits into an approximation gap (the diagonal Gaussian
#   family) and an amortisation gap (the shared encoder), measured by optimising $q$ per image with the decoder frozen.
# - A test log-likelihood is meaningful only with its binarisation, test set and $K$; the course's numbers sit next to the
#   published ones with those differences stated.
# - KL per dimension and active units describe how a model uses its latent space; posterior collapse can be provoked with a large
#   KL weight or many dimensions, and KL warm-up and free bits change what is minimised to counter it.
#
# ## Discussion
#
# 1. Why is $\mathcal{L}_K$ still a lower bound for every finite $K$, even though $\frac1K\sum_k w_k$ is an unbiased estimate of
#    $p(x)$? What would you need to turn the estimate into an upper bound?
# 2. A colleague reports $\mathcal{L}_{5000}$ on 100 test images and compares it with a paper's number on 10,000 images. List what
#    can make the two numbers differ that has nothing to do with the models.
# 3. The amortisation gap shrinks if the encoder gets more capacity or is trained longer. Why can the approximation gap change
#    too when you change only the ENCODER during training (think about what the decoder adapts to)?
# 4. Why does a dimension with activity $A_u$ just above 0.01 and posterior variance near 1 carry almost no information? Give an
#    example of a dimension that carries information but fails the activity test.
# 5. Free bits with a floor of $\lambda$ nats on each of $d$ dimensions: what is the smallest KL term the loss can reach, and why
#    must the reported model quality use the true KL?
#
# <!-- BEGIN SOLUTION -->
# **Model answers.** (1) Jensen's inequality: $\mathbb{E}[\log \hat p] \le \log \mathbb{E}[\hat p] = \log p(x)$ for any unbiased
# $\hat p$ with a non-zero variance; the gap shrinks as the variance of $\hat p$ does (like $\mathrm{Var}/(2K p^2)$ for large
# $K$). An upper bound needs a different estimator, e.g. samples from the true posterior (the harmonic-mean identity
# $1/p(x) = \mathbb{E}_{p(z \mid x)}[q(z)/p(x, z)]$, as in bidirectional Monte Carlo), which we cannot draw exactly for real
# data; on data simulated from the model we can, which is how Wu et al. (2017) validate their AIS estimates.
# (2) The number of images (the image-to-image spread is tens of nats, so 100 images give a standard error of a few nats),
# which images, the binarisation (fixed or dynamic, which draw, thresholding), $K$ and the Monte Carlo noise of one run, the
# training/test split, and whether nats or bits, per image or per pixel, are reported.
# (3) The decoder is trained on codes sampled from the encoder's $q$; it learns to make its true posteriors easy for that $q$ to
# fit (Cremer et al. show that a decoder trained with a more flexible $q$ has posteriors that a diagonal Gaussian fits worse).
# So the approximation gap depends on the encoder the decoder was trained with.
# (4) Its KL is about $\tfrac12 A_u$ nats, 0.005 nats, so the code says almost nothing about the image. A dimension whose mean
# is always 0 but whose variance is small for one class of digits and 1 for the others has $A_u = 0$ but a positive KL, and it
# does tell the decoder something (through the spread of $z_j$).
# (5) $d\lambda$: below the floor every dimension pays $\lambda$. The training loss is then not the negative ELBO (it is larger
# when a dimension is below the floor), so only the ELBO with the true KL, or an importance-weighted bound, is a bound on
# $\log p(x)$ that can be compared between models.
# <!-- END SOLUTION -->
#
# ## Open extension (not graded)
#
# Train a model as an **IWAE** (Burda et al., 2016): subclass `workshop.VAE` and write a `train_step` whose loss is
# $-\mathcal{L}_k$ with $k = 5$ (draw $k$ codes per image, compute the log-weights, use your `log_mean_exp`). Compare, on the same
# budget, its $\mathcal{L}_{1000}$, its ELBO and its active units with those of a VAE. Which of the two numbers improves, and why
# can the ELBO of an IWAE-trained model be worse than the VAE's? Then try a larger $k$ and watch the encoder: Rainforth et al.
# (2018) show that the signal-to-noise ratio of the encoder's gradient decreases as $k$ grows (tighter variational bounds are
# not necessarily better for learning the encoder), while the decoder's improves.
