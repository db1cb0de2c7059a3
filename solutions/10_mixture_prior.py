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
# # 10 · A mixture-of-Gaussians prior
#
# The VAE of notebook 05 draws every code from one standard normal, $p(z) = \mathcal{N}(0, I)$. Digits come in ten kinds,
# though, and a single round blob is a strange prior for data made of clusters. This notebook replaces it by a
# **learnable mixture of $K$ Gaussians**, the prior of a *Gaussian-mixture VAE*:
#
# $$p(z) = \sum_{k=1}^{K} \pi_k\, \mathcal{N}\big(z;\ m_k,\ \operatorname{diag} s_k^2\big),$$
#
# whose means $m_k$, variances $s_k^2$ and weights $\pi_k$ are trained together with the encoder and the decoder. One
# change, three consequences: the KL term loses its closed form, the model can generate a chosen component's images, and
# the component that "owns" a code is a cluster label found without any labels.
#
# **You will learn to**
# - compute the log-density of a mixture with a numerically stable log-sum-exp;
# - estimate the KL to a prior without a closed form by Monte Carlo, and say why the loss is still an unbiased estimate of the negative ELBO;
# - compute the responsibilities $p(k \mid z)$ and use them to cluster images;
# - compare the mixture prior with $\mathcal{N}(0, I)$ on MNIST: the latent space, samples per component, the test $-$ELBO;
# - score a clustering against labels after the best one-to-one matching, and compare it with k-means on raw pixels.
#
# **Prerequisites:** notebooks 01 (the Monte Carlo KL estimate), 04 (reparameterization) and 05 (the VAE).
# **Time:** about 90 minutes, of which about 10 are training (less in fast mode).

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer images and epochs, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
NUM_TRAIN = 2000 if FAST else 30000  # training images (30,000 of the 60,000 keep the training short)
NUM_TEST = 1000 if FAST else None    # test images (None: all 10,000)
NUM_COMPONENTS = 10                  # K, the number of mixture components
EPOCHS_2D = 1 if FAST else 8         # the two 2-D models (standard prior and mixture prior)
PRETRAIN_EPOCHS = 1 if FAST else 5   # clustering model, phase 1: a standard VAE
CLUSTER_EPOCHS = 1 if FAST else 10   # clustering model, phase 2: the mixture prior
CLUSTER_LATENT_DIM = 10              # a larger code for clustering; the 2-D models are for the pictures
CLUSTER_BETA = 4.0                   # KL weight of phase 2 (1 would be the plain negative ELBO)
BATCH_SIZE = 128
JIT_COMPILE = not FAST               # XLA pays off over many epochs; a 1-epoch smoke test is faster without it

# %%
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

import workshop
from workshop import MixturePriorVAE, checks, clustering, load_mnist, losses, plots, probability

# %% [markdown]
# ## 1. The log-density of a mixture
#
# Drawing from the mixture is a two-step story: pick a component $k$ with probability $\pi_k$, then draw
# $z \sim \mathcal{N}(m_k, \operatorname{diag} s_k^2)$. Its density adds the components' densities, weighted:
#
# $$\log p(z) = \log \sum_{k=1}^{K} \exp(a_k), \qquad a_k = \log \pi_k + \log \mathcal{N}(z; m_k, \operatorname{diag} s_k^2),$$
#
# $$\log \mathcal{N}(z; m_k, \operatorname{diag} s_k^2) = -\frac12 \sum_{j=1}^{d} \Big[\log 2\pi + \log s_{kj}^2 + \frac{(z_j - m_{kj})^2}{s_{kj}^2}\Big].$$
#
# The weights must be positive and sum to 1, so the model stores unconstrained **logits** $\ell_k$ and uses
# $\pi = \operatorname{softmax}(\ell)$, that is $\log \pi_k = \ell_k - \log \sum_j e^{\ell_j}$.
#
# Each $a_k$ is a sum over $d$ dimensions and easily reaches $-1000$ for a code far from a component, or $+100$ for a
# narrow component. In float32, $e^{-104}$ is already 0 and $e^{89}$ is already `inf`. Computing the log of a sum of
# exponentials as written then gives $\log 0 = -\infty$ or $\infty$. The cure: for any constant $M$,
#
# $$\log \sum_k e^{a_k} = M + \log \sum_k e^{a_k - M},$$
#
# and with $M = \max_k a_k$ the largest term becomes $e^0 = 1$: the sum lies between 1 and $K$, and nothing overflows or
# underflows where it matters. The cell shows the two forms on three numbers.

# %%
# NBVAL_CHECK_OUTPUT
a = np.array([[-1000.0, -1001.0, -1003.0], [100.0, 99.0, 97.0], [-1.0, 0.0, 1.0]], dtype="float32")
with np.errstate(over="ignore", divide="ignore"):
    naive = np.log(np.sum(np.exp(a), axis=1))
m = a.max(axis=1, keepdims=True)
stable = (m + np.log(np.sum(np.exp(a - m), axis=1, keepdims=True)))[:, 0]
for row, n, s in zip(a, naive, stable):
    print(f"a = {row}:  naive {n:>9.4f}   stable {s:>10.4f}")


# %% [markdown]
# Rows 1 and 2 are the same three numbers shifted by 1100: their log-sum-exp must differ by exactly 1100, and only the
# stable form says so. `keras.ops.logsumexp` does the same subtraction inside.
#
# ### Exercise 1: the mixture log-density
#
# Write `mixture_log_density(z, means, log_vars, logits)` with `keras.ops`.
#
# - Inputs: codes `z` of shape `(N, d)`; component means `means` and log-variances `log_vars` (that is $\log s_k^2$), both `(K, d)`; mixture `logits`, shape `(K,)`.
# - Output: $\log p(z)$ for each code, shape `(N,)`, in nats, finite even for codes far from every component.
#
# The check runs your function on tensors, then again inside a compiled `tf.function` on symbolic tensors (the way a
# training step calls it), on cases that include far-away codes and very narrow components.
#
# <details><summary>Hint 1</summary>
#
# Broadcasting does the pairing of codes with components: `z[:, None, :] - means[None, :, :]` has shape `(N, K, d)`.
# Sum the per-dimension log-densities over the last axis to get an `(N, K)` table of $\log \mathcal{N}(z_n; m_k, s_k^2)$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The log-weights are the logits minus their log-sum-exp over the components (a log-softmax), shape `(K,)`; add them to
# every row of the table. Then combine the components of each row with a stable log-sum-exp.
# </details>
#
# <details><summary>Hint 3</summary>
#
# `ops.logsumexp(t, axis=-1)` is the stable combination; `ops.exp(-log_vars)` divides by the variance.
# </details>

# %%
def mixture_log_density(z, means, log_vars, logits):
    # log p(z) under sum_k softmax(logits)_k N(z; means_k, diag exp(log_vars_k)); shapes (N, d), (K, d), (K, d), (K,) -> (N,).
    # TODO: one log-density per (code, component), add the log-weights, combine the components stably.
    ### BEGIN SOLUTION
    diff = z[:, None, :] - means[None, :, :]
    log_normal = -0.5 * ops.sum(np.log(2 * np.pi) + log_vars[None] + ops.square(diff) * ops.exp(-log_vars[None]), axis=-1)
    log_weights = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
    return ops.logsumexp(log_weights[None, :] + log_normal, axis=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb10.check_mixture_log_density(mixture_log_density)


# %% [markdown]
# ## 2. The KL term has no closed form: estimate it
#
# The negative ELBO of one image is, as in notebook 05,
#
# $$-\mathcal{L}(x) = \mathbb{E}_{q(z \mid x)}\big[-\log p(x \mid z)\big] + \mathrm{KL}\big(q(z \mid x)\,\|\,p(z)\big),
# \qquad \mathrm{KL}\big(q \,\|\, p\big) = \mathbb{E}_{q(z \mid x)}\big[\log q(z \mid x) - \log p(z)\big].$$
#
# With $p = \mathcal{N}(0, I)$ the KL between two Gaussians has the closed form of notebook 01. The KL from a Gaussian to
# a *mixture* of Gaussians has none: $\log p(z)$ is a log of a sum, and its expectation under $q$ is not an integral anyone
# can do in closed form. But the KL is itself an expectation under $q$, so notebook 01's Monte Carlo estimator applies:
# draw $z$ from $q$ and average $\log q(z \mid x) - \log p(z)$. The training step already draws one code per image,
# $z = \mu + \sigma \odot \varepsilon$, for the reconstruction term; reuse it:
#
# $$\widehat{-\mathcal{L}}(x) = -\log p(x \mid z) + \log q(z \mid x) - \log p(z), \qquad z = \mu(x) + \sigma(x) \odot \varepsilon,\ \ \varepsilon \sim \mathcal{N}(0, I).$$
#
# **Why this is still an unbiased estimate of the negative ELBO.** Take the expectation over $\varepsilon$. Since
# $z = \mu + \sigma \odot \varepsilon$ has distribution $q(z \mid x)$, and expectation is linear,
#
# $$\mathbb{E}_\varepsilon\big[\widehat{-\mathcal{L}}(x)\big] = \mathbb{E}_{q}\big[-\log p(x \mid z)\big] + \mathbb{E}_{q}\big[\log q(z \mid x) - \log p(z)\big] = -\mathcal{L}(x)$$
#
# exactly, whatever the prior. Nothing was approximated except by sampling, and the sample is unbiased term by term. The
# gradient is unbiased too: with the reparameterization, $\nabla \mathbb{E}_\varepsilon[\cdot] = \mathbb{E}_\varepsilon[\nabla \cdot]$
# (notebook 04), for the new term as for the old one. What the estimate loses is *variance*: the closed-form KL was noise-free,
# the sampled one is not, and one image's estimate can even be negative although a KL never is. Averaged over a batch of
# 128 images and thousands of steps, that noise costs little.
#
# ### Exercise 2: the Monte Carlo KL
#
# Write `monte_carlo_kl(z, z_mean, z_log_var, log_prior)`: the one-sample estimate for each code.
#
# - Inputs: the drawn codes `z`, the encoder's `z_mean` and `z_log_var` (all `(N, d)`), and `log_prior`, the values $\log p(z)$ at those codes, shape `(N,)` (from any prior: the function does not need to know which).
# - Output: shape `(N,)`, in nats.
#
# <details><summary>Hint 1</summary>
#
# $q(z \mid x)$ is a diagonal Gaussian: its log-density is a sum over the $d$ dimensions of the univariate Gaussian
# log-density, the formula of section 1 with the encoder's mean and log-variance.
# </details>
#
# <details><summary>Hint 2</summary>
#
# The estimate is the log-density of the code under the distribution it was drawn from, minus its log-density under the
# prior. Mind the order: its average over draws must be the KL, which is never negative.
# </details>

# %%
def monte_carlo_kl(z, z_mean, z_log_var, log_prior):
    # One-sample estimate of KL(q(z | x) || p(z)) at codes z drawn from q; shapes (N, d) x3 and (N,) -> (N,).
    # TODO: the log-density of z under q(z | x), then compare it with the prior's.
    ### BEGIN SOLUTION
    log_q = -0.5 * ops.sum(np.log(2 * np.pi) + z_log_var + ops.square(z - z_mean) * ops.exp(-z_log_var), axis=-1)
    return log_q - log_prior
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb10.check_monte_carlo_kl(monte_carlo_kl)

# %% [markdown]
# **A case with a closed form.** A mixture with one component at $m = 0$, $s^2 = 1$ *is* $\mathcal{N}(0, I)$, so the
# Monte Carlo KL must agree with the closed form of notebook 05. The cell draws 100,000 codes from one Gaussian $q$, averages
# your estimate with notebook 01's `monte_carlo_mean` (mean and standard error), and compares. It then does the same for a
# 3-component mixture, where no closed form exists and the standard error is all we have.

# %%
# NBVAL_CHECK_OUTPUT
demo = np.random.default_rng(10)
q_mean, q_log_var = np.array([0.8, -0.3, 1.5], "float32"), np.array([-1.0, 0.4, -0.2], "float32")
n = 100_000
eps = demo.standard_normal((n, 3)).astype("float32")
z = q_mean + np.exp(0.5 * q_log_var) * eps
z_mean, z_log_var = np.broadcast_to(q_mean, (n, 3)), np.broadcast_to(q_log_var, (n, 3))

standard = mixture_log_density(z, np.zeros((1, 3), "float32"), np.zeros((1, 3), "float32"), np.zeros(1, "float32"))
estimate, se = probability.monte_carlo_mean(ops.convert_to_numpy(monte_carlo_kl(z, z_mean, z_log_var, standard)))
print(f"K = 1, the component N(0, I): Monte Carlo {estimate:.3f} +- {se:.3f}, "
      f"closed form {probability.kl_to_standard_normal(q_mean, q_log_var):.3f} nats")

means = np.array([[-2.0, 0.0, 1.0], [2.0, 1.0, -1.0], [0.0, -2.0, 2.0]], "float32")
log_vars, logits = np.full((3, 3), -0.5, "float32"), np.array([0.0, 1.0, -1.0], "float32")
kl_draws = ops.convert_to_numpy(monte_carlo_kl(z, z_mean, z_log_var, mixture_log_density(z, means, log_vars, logits)))
estimate, se = probability.monte_carlo_mean(kl_draws)
print(f"K = 3 mixture: Monte Carlo {estimate:.3f} +- {se:.3f} nats; single draws range from {kl_draws.min():.2f} to {kl_draws.max():.2f}")


# %% [markdown]
# The first line matches the closed form within about two standard errors: the estimator is right where we can check it.
# On the second line, some single draws are negative, as promised; their average is not.
#
# ## 3. Responsibilities: which component owns a code?
#
# Bayes' rule in the two-step story gives the posterior probability that code $z$ came from component $k$, its
# **responsibility**:
#
# $$p(k \mid z) = \frac{\pi_k\, \mathcal{N}(z; m_k, s_k^2)}{\sum_{j} \pi_j\, \mathcal{N}(z; m_j, s_j^2)} = \exp\big(a_k - \log p(z)\big).$$
#
# Encode an image, take its posterior mean $\mu(x)$, and the component with the largest responsibility is a cluster label
# that the model found without ever seeing a digit label.
#
# ### Exercise 3: the responsibilities
#
# Write `responsibilities(z, means, log_vars, logits)`: the same inputs as exercise 1; output shape `(N, K)`, each row
# summing to 1, with no `nan` for codes far from every component.
#
# <details><summary>Hint 1</summary>
#
# The numerator, in log form, is the $a_k$ of section 1; the denominator is $p(z)$, whose log you computed in exercise 1.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Dividing $e^{a_k}$ by $\sum_j e^{a_j}$ directly fails where both underflow to 0. Subtract in log space first, or use
# `ops.softmax` over the right axis, which does that for you.
# </details>

# %%
def responsibilities(z, means, log_vars, logits):
    # p(k | z) for each code and component, shape (N, K), rows summing to 1.
    # TODO: Bayes' rule over the components, computed in log space.
    ### BEGIN SOLUTION
    diff = z[:, None, :] - means[None, :, :]
    log_normal = -0.5 * ops.sum(np.log(2 * np.pi) + log_vars[None] + ops.square(diff) * ops.exp(-log_vars[None]), axis=-1)
    log_joint = logits - ops.logsumexp(logits, axis=-1, keepdims=True) + log_normal
    return ops.softmax(log_joint, axis=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb10.check_responsibilities(responsibilities)

# %% [markdown]
# ## 4. The model: `workshop.MixturePriorVAE`
#
# The package's `MixturePriorVAE` subclasses notebook 05's `VAE` and changes only the prior. It owns a `MixturePrior`
# layer holding $m$ `(K, d)`, $\log s^2$ `(K, d)` and the logits `(K,)` as trainable weights (with
# `learn_weights=False` the logits stay at 0: equal weights $1/K$). Its `compute_loss_terms` is the VAE's, with the
# KL line replaced by your exercise 2:
#
# ```python
# z_mean, z_log_var = self.encoder(x)
# z = self.sampling([z_mean, z_log_var])                        # reparameterised, one code per image
# logits = self.decoder(z)
# kl = monte_carlo_kl(z, z_mean, z_log_var, self.prior(z))     # self.prior(z) = your exercise 1
# return self.reconstruction_loss(x, logits), kl
# ```
#
# so `fit` reports `loss`, `reconstruction_loss` and `kl_loss` in nats per image as before, now with the KL estimated.
# It adds `sample(n, component=k)`, `responsibilities(z)` (your exercise 3), `cluster(x)` (the most responsible component of
# each image's posterior mean) and `set_prior(means, log_vars, weights)`, and saves to `.keras` like every model of the
# course. The cell checks that the package's functions and yours agree on a random case.

# %%
# NBVAL_CHECK_OUTPUT
from workshop import mixture

case = [np.asarray(a, "float32") for a in (rng.normal(size=(6, 4)), rng.normal(size=(5, 4)), 0.3 * rng.normal(size=(5, 4)), rng.normal(size=5))]
print("log-density agrees: ", np.allclose(mixture_log_density(*case), mixture.mixture_log_density(*case), rtol=1e-5))
print("responsibilities agree:", np.allclose(responsibilities(*case), mixture.mixture_responsibilities(*case), atol=1e-6))

# %% [markdown]
# ## 5. Training on MNIST next to the standard VAE
#
# Both models get the same data (stochastically binarized as in notebook 05), the same 784-512-256-2 networks, the same
# number of epochs and a 2-D code that can be drawn. The only difference is the prior: $\mathcal{N}(0, I)$, or a mixture of
# $K = 10$ learned Gaussians whose means start at random points.

# %%
(x_train, y_train), (x_test, y_test), info = load_mnist(binarize="random", num_train=NUM_TRAIN, num_test=NUM_TEST, return_info=True)
print(f"data source: {info['source']}; training images {x_train.shape}, test images {x_test.shape}")


def train(model, epochs, label):
    # Compile with Adam(1e-3), fit, and print the time per epoch.
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=JIT_COMPILE)
    start = time.perf_counter()
    history = model.fit(x_train, epochs=epochs, batch_size=BATCH_SIZE, verbose=2 if not FAST else 0)
    seconds = time.perf_counter() - start
    print(f"{label}: {epochs} epochs in {seconds:.0f} s ({seconds / epochs:.1f} s per epoch)")
    return history.history


vae_2d = workshop.VAE(latent_dim=2, seed=0)
history_vae = train(vae_2d, EPOCHS_2D, "standard VAE, z = 2")
gmvae_2d = MixturePriorVAE(num_components=NUM_COMPONENTS, latent_dim=2, seed=0)
history_gmvae = train(gmvae_2d, EPOCHS_2D, "mixture-prior VAE, z = 2")

# %% [markdown]
# **The test $-$ELBO of both**, in nats per image on the test images, each estimated with 10 draws of $z$ per image (the
# mixture model's KL is sampled; the standard model's KL is exact either way). Lower is better.

# %%
neg_elbo_vae = -vae_2d.elbo(x_test, num_samples=10, seed=1).mean()
neg_elbo_gmvae = -gmvae_2d.elbo(x_test, num_samples=10, seed=1).mean()
print(f"test -ELBO, standard prior N(0, I):       {neg_elbo_vae:7.2f} nats per image")
print(f"test -ELBO, mixture prior (K = {NUM_COMPONENTS}):      {neg_elbo_gmvae:7.2f} nats per image")
print(f"difference (standard - mixture):          {neg_elbo_vae - neg_elbo_gmvae:7.2f} nats")

# %% [markdown]
# <!-- RESULT_ELBO -->
# **What the stored run reached:** after 8 epochs on 30,000 training images, the test $-$ELBO is **155.68 nats per image
# with the standard prior and 152.50 with the mixture prior**, 3.18 nats better with the same networks and the same number
# of steps. Both are far from notebook 05's 20-D model: two numbers cannot describe a digit well. The training printouts
# show where the difference comes from: in the last epoch the two KL terms are close (5.53 and 5.71 nats) while the
# reconstruction term is 149.83 against 146.75 nats. With a prior that can put its mass where the codes cluster, the encoder
# can spread the digits apart without paying KL for leaving a single round blob, and the decoder gets codes that are easier
# to tell apart.
# <!-- /RESULT -->
#
# **The latent space.** Each point is the posterior mean of one test image, coloured by its digit label (which neither
# model saw). On the right, the crosses are the mixture's component means and the ellipses their two-standard-deviation
# contours. Look for whether the components sit on the digit clusters, and for how the mixture prior lets the clusters
# keep gaps between them that $\mathcal{N}(0, I)$ would charge KL for.

# %%
from matplotlib.patches import Ellipse

fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
plots.plot_latent_scatter(vae_2d.encode(x_test)[0], y_test, ax=axes[0], colorbar=False)
axes[0].set_title("standard prior N(0, I)")
plots.plot_latent_scatter(gmvae_2d.encode(x_test)[0], y_test, ax=axes[1])
means_2d, log_vars_2d, weights_2d = gmvae_2d.prior_parameters()
for k, (m, lv) in enumerate(zip(means_2d, log_vars_2d)):
    axes[1].add_patch(Ellipse(m, 4 * np.exp(0.5 * lv[0]), 4 * np.exp(0.5 * lv[1]), fill=False, color="black", lw=1))
    axes[1].plot(*m, "kx", ms=8)
    axes[1].annotate(str(k), m, xytext=(4, 4), textcoords="offset points", fontsize=9)
axes[1].set_title(f"mixture prior, K = {NUM_COMPONENTS} (x: means, ellipses: 2 s.d.)")
plt.show()
print("mixture weights:", np.round(weights_2d, 3))

# %% [markdown]
# **Samples, component by component.** Row $k$ decodes ten codes drawn from component $k$ alone,
# `gmvae_2d.sample(10, component=k)`. A component that sits on one digit's cluster generates that digit; one that
# straddles two clusters generates both, or blends.

# %%
rows = [gmvae_2d.sample(10, component=k, seed=k) for k in range(NUM_COMPONENTS)]
ax = plots.plot_images(np.concatenate(rows), ncols=10, title="z = 2: one row per mixture component")
plt.show()

# %% [markdown]
# ## 6. Clustering without labels
#
# Each test image gets the label of its most responsible component; then we ask how well those labels agree with the
# digits. The cluster numbers are arbitrary, so the score first finds the **best one-to-one matching** of the 10 clusters
# to the 10 digits, the assignment that maximises the number of agreements (the Hungarian problem;
# `workshop.clustering.best_matching` solves it exactly), and reports the fraction of images whose matched cluster is
# their digit.
#
# **The baseline: k-means on raw pixels.** Ten centroids in the 784-dimensional pixel space, started with k-means++,
# refined by Lloyd's algorithm (`workshop.clustering.kmeans`).

# %%
start = time.perf_counter()
_, pixel_clusters, _ = clustering.kmeans(x_test.reshape(len(x_test), -1), NUM_COMPONENTS, num_iters=100, seed=0)
pixel_accuracy = clustering.clustering_accuracy(pixel_clusters, y_test)
print(f"k-means on raw pixels: accuracy {pixel_accuracy:.1%} on {len(x_test)} test images ({time.perf_counter() - start:.0f} s)")

# %% [markdown]
# **The mixture-prior model for clustering.** Two numbers per image are too few to separate ten digits, so this model has a
# 10-dimensional code. Three choices help it find the digits:
#
# 1. **A good start for the components.** Random component means rarely land one per digit. So phase 1 trains a standard
#    VAE (same networks), encodes the training images, and runs k-means on their posterior means; phase 2 starts the
#    mixture-prior model from those networks, with the component means at the k-means centroids and the variances at each
#    cluster's spread.
# 2. **Equal, fixed weights** (`learn_weights=False`): a learned weight can grow until one component swallows two digits.
# 3. **A heavier KL term in phase 2**, $\beta = 4$ (notebook 06's knob): the prior's pull on the codes, toward the
#    component that owns them, weighs four times more against the reconstruction, which sharpens the clusters k-means
#    started from. The price is a worse $-$ELBO, reported below; $-$ELBO is always measured with $\beta = 1$.

# %%
pretrained = workshop.VAE(latent_dim=CLUSTER_LATENT_DIM, seed=0)
train(pretrained, PRETRAIN_EPOCHS, f"phase 1, standard VAE, z = {CLUSTER_LATENT_DIM}")
train_means, train_log_vars = pretrained.encode(x_train)
centroids, train_clusters, _ = clustering.kmeans(train_means, NUM_COMPONENTS, num_init=3, seed=0)
variances = np.stack([train_means[train_clusters == k].var(axis=0) + np.exp(train_log_vars[train_clusters == k]).mean(axis=0)
                      for k in range(NUM_COMPONENTS)])
latent_kmeans_accuracy = clustering.clustering_accuracy(
    np.argmin(((pretrained.encode(x_test)[0][:, None, :] - centroids[None]) ** 2).sum(-1), axis=1), y_test)
print(f"k-means on the phase-1 codes: test accuracy {latent_kmeans_accuracy:.1%}")

gmvae = MixturePriorVAE(num_components=NUM_COMPONENTS, latent_dim=CLUSTER_LATENT_DIM, learn_weights=False, beta=CLUSTER_BETA, seed=0)
gmvae.encoder.set_weights(pretrained.encoder.get_weights())
gmvae.decoder.set_weights(pretrained.decoder.get_weights())
gmvae.set_prior(centroids, np.log(variances))
train(gmvae, CLUSTER_EPOCHS, f"phase 2, mixture prior, z = {CLUSTER_LATENT_DIM}")
gmvae_clusters = gmvae.cluster(x_test)
gmvae_accuracy = clustering.clustering_accuracy(gmvae_clusters, y_test)
print(f"mixture prior, most responsible component: test accuracy {gmvae_accuracy:.1%}")
print(f"test -ELBO of this model: {-gmvae.elbo(x_test, num_samples=10, seed=1).mean():.2f} nats per image")

# %% [markdown]
# **Which digits end up together?** Rows: clusters, in the order of the digit they are matched to; columns: true digits.
# A perfect clustering is diagonal.

# %%
mapping = clustering.best_matching(gmvae_clusters, y_test)
table = np.zeros((NUM_COMPONENTS, 10), dtype=int)
np.add.at(table, (mapping[gmvae_clusters], y_test), 1)
print("matched digit | counts of true digits 0..9")
for digit, row in enumerate(table):
    print(f"{digit:>13} | " + " ".join(f"{c:>4}" for c in row))
rows = [gmvae.sample(10, component=int(np.flatnonzero(mapping == digit)[0]), seed=digit) for digit in range(10) if (mapping == digit).any()]
ax = plots.plot_images(np.concatenate(rows), ncols=10, title="z = 10: samples from each component, ordered by matched digit")
plt.show()

# %% [markdown]
# <!-- RESULT_CLUSTER -->
# **What the stored run reached:** on the 10,000 test digits, k-means on raw pixels scores **55.6%**, k-means on the
# phase-1 codes 67.2%, and the mixture-prior model after phase 2 **72.4%**. The mixture prior improves on both, but the
# target set for this notebook, 80%, is **not reached** with this short training. The table shows what goes wrong. The 4s
# and 9s share two clusters and both clusters mix them (491 fours and 395 nines in one, 405 fours and 418 nines in the other; compare the fifth and last rows of samples), so the pair is split some other way than by digit, and the 5s have no cluster of their own: they are
# spread over the clusters of 3, 5 and 8 (228, 283 and 284 images), and the cluster matched to 5 also holds 159 zeros. Nothing in the ELBO prefers the grouping that matches the labels: splitting two
# similar classes along another line, or spreading a varied one over its neighbours, can serve it as well as the ten digits do. Published Gaussian-mixture VAEs
# report between about 78% and 94% on MNIST, with larger networks and far longer training; the extension at the end suggests knobs to
# try. The test $-$ELBO of this 10-D model, trained with $\beta = 4$, is 116.43 nats per image.
# <!-- /RESULT -->
#
# ## 7. Discussion
#
# **1. The mixture model's `kl_loss` during training is a noisy number, and a single image's can be negative. Why is the
# training still sound, and what would go wrong if you used the *posterior mean* $\mu(x)$ instead of a sampled $z$ in
# $\log q(z \mid x) - \log p(z)$?**
#
# <!-- BEGIN SOLUTION -->
# The loss is unbiased: averaged over the noise $\varepsilon$, $\log q(z \mid x) - \log p(z)$ at $z = \mu + \sigma \odot \varepsilon$
# is exactly the KL, so each step follows an unbiased gradient of the negative ELBO, only with more noise than a closed form.
# At $z = \mu(x)$ the expression is no longer an estimate of the KL: $\log q(\mu \mid x)$ is the *peak* of $q$, larger
# than its average by $d/2$ nats, and the entropy of $q$ disappears from the objective. The encoder could then shrink
# $\sigma$ without paying for it, and the loss would stop being a bound on $-\log p(x)$.
# <!-- END SOLUTION -->
#
# **2. The mixture prior's test $-$ELBO is lower than the standard prior's in the 2-D run. Where does the gain come
# from, in terms of the two loss terms, and could a standard VAE get it with a bigger decoder?**
#
# <!-- BEGIN SOLUTION -->
# In the stored run the gain is in the reconstruction term: the two KL terms end about 0.2 nats apart. The codes
# of real images form clusters with empty space between them. Under $\mathcal{N}(0, I)$ every code that moves away from the
# origin, or leaves a gap empty, costs KL, so the encoder packs the digits close together and overlapping; a mixture can put
# its mass where the codes are, so the encoder can keep the digits apart at no extra KL, and the decoder, given codes that are
# easier to tell apart, reconstructs better. (With other settings the gain can also show up in the KL term: the two terms
# trade against each other.) A bigger decoder helps the reconstruction too, but it cannot remove the mismatch between the
# aggregate of the posteriors and a single round prior; a learned prior removes part of it with 50 parameters (ten 2-D means and variances, ten logits).
# <!-- END SOLUTION -->
#
# **3. Clustering accuracy is computed after the best matching of clusters to digits. Why is the matching necessary, why
# one-to-one, and is the resulting number a fair measure of "discovering the digits"?**
#
# <!-- BEGIN SOLUTION -->
# The model's components have no names: component 3 may be the 7s. Without a matching the score would depend on an
# arbitrary numbering. One-to-one keeps the score honest: if several clusters could map to the same digit, splitting the
# data into many small clusters would score well without finding ten classes (with one cluster per image, a many-to-one
# map scores 100%). It is still a generous measure: the matching uses the labels, once, to name the clusters, and a model
# that splits the 4s and 9s along some other line than the digit is penalised in a way that says nothing about whether
# that split was a sensible one. The digits are one grouping of MNIST among several; the ELBO never asked for them.
# <!-- END SOLUTION -->
#
# **4. Why does the clustering model start from a standard VAE and k-means, rather than from random component means, and why the heavier KL weight?**
#
# <!-- BEGIN SOLUTION -->
# The objective has many local optima: components placed at random capture whatever codes are nearby, and the gradient
# of the ELBO rarely moves a component across the code space to an unclaimed digit, because the clustering is worth at most
# $\log K \approx 2.3$ nats per image against tens of nats of reconstruction. A start from k-means on trained codes puts
# one component on each dense region at once, and training only has to refine it. Equal weights protect the start: a
# learned weight could grow until one component covers two digits. The weight $\beta > 1$ multiplies those 2.3 nats of
# incentive (and the pull of each code toward its component) without changing the reconstruction term, so clustering
# matters more to the optimiser; it also makes the model a worse density model, which is why the $-$ELBO is reported too.
# <!-- END SOLUTION -->
#
# ### Open extension (ungraded)
#
# The clustering score depends on choices made above without search: the code size, the number of epochs in each phase,
# the k-means start, equal weights. Take one of them and study it, for example: train phase 2 with a KL weight $\beta > 1$
# (`MixturePriorVAE(beta=...)`, which pulls codes harder toward their components), or with $K = 20$ components and a
# many-to-one matching, or with the component variances frozen. Report the accuracy *and* the test $-$ELBO: does what
# helps the clustering also help the likelihood? (Dilokthanakul et al., 2016, *Deep unsupervised clustering with Gaussian
# mixture variational autoencoders*, and Jiang et al., 2017, *VaDE*, are two published versions of this model.)
