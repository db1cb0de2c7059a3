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
# # 05 · A VAE for MNIST
#
# This is the workshop notebook: everything from notebooks 01-04 goes into one model that you build, train and take apart.
# The model is the variational autoencoder (VAE) of Kingma & Welling (2014) and, found independently at the same time,
# Rezende, Mohamed & Wierstra (2014), in the form the worksheet uses. A code $z \in \mathbb{R}^d$ is drawn from a standard normal prior, a decoder network
# turns it into one probability per pixel, and each of the 784 pixels of a binarized MNIST digit is an independent coin
# flip with that probability. An encoder network approximates the posterior over codes with a factorised Gaussian, and
# both networks are trained together by maximising the ELBO, which is to say by minimising the negative ELBO,
# reconstruction loss plus KL divergence. You write the two loss terms, the sampling step and the training step yourself;
# the package `workshop` supplies the networks, the data and the plots. Doersch's *Tutorial on Variational Autoencoders*
# (2016) is a readable companion to this notebook; the references are listed at the end.
#
# **What you will learn**
#
# - Explain how a VAE fits a latent-variable model $p_\theta(x, z) = p_\theta(x \mid z)\, p(z)$ approximately, with an encoder $q_\phi(z \mid x)$ standing in for the intractable posterior.
# - Compute the objective, the negative ELBO, for binarized MNIST: an independent Bernoulli likelihood (in a numerically stable form) plus the closed-form KL of a factorised Gaussian to $\mathcal{N}(0, I)$, in nats per image.
# - Implement a VAE in Keras: the loss terms on tensors, the reparameterised sample, and a subclassed `keras.Model` whose custom `train_step` computes the loss under a `tf.GradientTape`, applies the gradients and updates the metrics.
# - Train it and read the reconstruction and KL curves.
# - Look inside a trained model: reconstructions, samples from the prior, the 2-D latent space coloured by digit, the decoded manifold, and interpolations between digits.
# - Measure what the KL term buys: how often random codes decode to a recognisable digit (the holes of notebook 02), and how the test -ELBO and the number of active latent dimensions change with the size of the code.
#
# **Time:** about 75 minutes, of which about 7 minutes are training on a laptop CPU (about 2, with the pretrained weights).
# **Prerequisites:** notebook 01 (KL divergence, binary cross-entropy as a Bernoulli log-likelihood), 03 (the ELBO),
# 04 (the reparameterization trick); Keras layers and `tf.GradientTape`.

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer images and epochs, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
USE_PRETRAINED = False    # True: skip training and load the package's pretrained weights (see section 7)
NUM_TRAIN = 2000 if FAST else None  # training images (None: all 60,000)
NUM_TEST = 1000 if FAST else None   # test images (None: all 10,000)
EPOCHS = 2 if FAST else 30          # per model; 30 epochs take about 2.5 minutes on a 2-core laptop CPU
BATCH_SIZE = 64
LEARNING_RATE = 1.5e-3              # Adam's starting learning rate, decayed to 0 along a cosine (section 7)
DYNAMIC_BINARIZATION = True        # train on a fresh binarization of the grey levels at every step (section 7)
LATENT_DIM = 20                     # the main model; a second model with 2 latent dimensions is drawn in section 8
NUM_RANDOM_CODES = 1000             # random codes decoded to look for holes (section 8)
SWEEP_LATENT_DIMS = (2, 20) if FAST else (2, 5, 10, 20, 50)  # code sizes compared in section 9
SWEEP_EPOCHS = 1 if FAST else 2     # a short training per code size (about 20 s each on a laptop)


# %%
import math
import time

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import ops

import workshop
from workshop import autoencoders, checks, evaluation, load_mnist, losses, plots, pretrained, probability

tf.get_logger().setLevel("ERROR")  # no notices about re-tracing when several models are trained in a row


# %% [markdown]
# ## 1. The data: binarized MNIST
#
# The worksheet's model treats an image as a vector of $D = 784$ binary pixels, $x \in \{0, 1\}^{784}$. MNIST itself
# stores grey levels, which `load_mnist` scales to $g_i \in [0, 1]$. There are two common ways to make them binary:
#
# - **thresholding**, $x_i = [g_i > 0.5]$, which makes every stroke's edge hard and the data set a little too easy;
# - **stochastic binarization**, $x_i \sim \text{Bernoulli}(g_i)$: a pixel of grey level 0.3 becomes white with probability
#   0.3. A stroke keeps its shape, and its soft edges become a sprinkle of white and black pixels.
#
# The course uses stochastic binarization drawn **once**, with a fixed seed, and then kept: `load_mnist(binarize="random")`
# always returns the same binary images, and the test images are binarized from a stream of their own, so the test set is
# the same whatever the number of training images (fast mode included). A test loss in nats therefore means the same thing
# in every run and every notebook of this course. And because the data really are binary, the Bernoulli likelihood below
# is a proper probability distribution over them: $-\log p(x \mid z) \ge 0$ is a genuine code length in nats.
#
# It does **not** mean exactly the same as the numbers in published tables. Papers use their own binarization (some a
# different fixed draw, some a fresh draw of the training images at every step), other networks, and hundreds or thousands
# of epochs; many also report an importance-weighted bound rather than the ELBO. What carries over is the kind of number:
# nats per image of a bound on $-\log p(x)$ for binary test digits, where a few nats are a real difference and tens of
# nats are a different class of model. Notebook 08, section "3. Comparing with published numbers", puts this course's
# models next to a published table and lists what differs.
#

# %%
(x_train, y_train), (x_test, y_test), info = load_mnist(
    binarize="random", num_train=NUM_TRAIN, num_test=NUM_TEST, return_info=True
)
print(f"data source: {info['source']} ({info['path']})")
if info["source"] == "sample":
    print("The full MNIST was not found: this run uses the 8,000 training and 2,000 test images shipped with the package.\n"
          "Everything below works; the numbers are worse than with the full set. Set MNIST_PATH to use the full set.")
print(f"training images {x_train.shape}, test images {x_test.shape}, {x_train.dtype}")
print(f"pixel values: {np.unique(x_train)}; fraction of white pixels: {x_train.mean():.3f}")

# %% [markdown]
# To see what the binarization does, the next cell takes the first six test digits as grey levels and binarizes them twice
# more with `rng`. Look at the edges of the strokes: they change from one draw to the next, while the strokes themselves stay.

# %%
(_, _), (grey, _) = load_mnist(num_train=1, num_test=6)  # the same six test digits, as grey levels
fig, axes = plt.subplots(3, 1, figsize=(6, 3.6), layout="constrained")
plots.plot_images(grey, ncols=6, ax=axes[0], title="grey levels g")
for row, ax in enumerate(axes[1:], start=1):
    plots.plot_images((rng.random(grey.shape) < grey).astype("float32"), ncols=6, ax=ax, title=f"binarization {row}: x ~ Bernoulli(g)")

# %% [markdown]
# Each pixel of the two lower rows is a coin flip with the probability shown in the top row. The data set is one such draw,
# made once. (With `dynamic_binarization=True`, the package's `VAE` instead draws a fresh binarization of every training
# batch at every step, a form of data augmentation that section 7 uses; the test set stays fixed either way.)

# %% [markdown]
# ## 2. The likelihood: independent Bernoulli pixels
#
# The decoder maps a code $z$ to 784 real numbers $l_1, \dots, l_{784}$, the **logits**, and the pixel probabilities are
# $\pi_i = \sigma(l_i) = 1 / (1 + e^{-l_i})$. Given $z$, the pixels are independent coin flips:
#
# $$p_\theta(x \mid z) = \prod_{i=1}^{D} \pi_i^{x_i} (1 - \pi_i)^{1 - x_i},
# \qquad -\log p_\theta(x \mid z) = -\sum_{i=1}^{D} \big[ x_i \log \pi_i + (1 - x_i) \log (1 - \pi_i) \big].$$
#
# The right-hand side is the binary cross-entropy of notebook 01, **summed** over the pixels: it is the reconstruction loss,
# in nats per image.
#
# Why let the decoder output logits rather than probabilities? Computing $\log \sigma(l)$ in two steps fails in floating
# point. In float32, $\sigma(l)$ rounds to exactly 1 once $l$ exceeds about 17, and then $\log(1 - \sigma(l)) = \log 0 = -\infty$.
# Work with the logits instead. With $\log \sigma(l) = -\log(1 + e^{-l})$ and
# $\log(1 - \sigma(l)) = \log \frac{e^{-l}}{1 + e^{-l}} = -l - \log(1 + e^{-l})$, one pixel costs
#
# $$-x \log \sigma(l) - (1 - x) \log(1 - \sigma(l)) = x \log(1 + e^{-l}) + (1 - x)\big(l + \log(1 + e^{-l})\big)
# = (1 - x)\, l + \log(1 + e^{-l}).$$
#
# This is exact, and it no longer takes the logarithm of a rounded probability. But look at $e^{-l}$: for a large
# negative logit it overflows. The cell below evaluates the naive two-step form and this exact form in float32 at a few
# logits, for a white pixel ($x = 1$) and a black one ($x = 0$).
#

# %%
# NBVAL_CHECK_OUTPUT
logits = np.array([-90.0, -20.0, 0.0, 20.0, 90.0], dtype="float32")
with np.errstate(over="ignore", divide="ignore"):
    p = 1.0 / (1.0 + np.exp(-logits))  # sigmoid in float32: exactly 0 or 1 at the extremes
    naive = {1: -np.log(p) + 0.0, 0: -np.log(1.0 - p) + 0.0}  # + 0.0 turns -0.0 into 0.0
    exact = {x: (1 - x) * logits + np.log(1.0 + np.exp(-logits)) for x in (1, 0)}  # (1 - x) l + log(1 + e^-l)
print("logit l:                " + "".join(f"{v:>10.0f}" for v in logits))
for x in (1, 0):
    print(f"x = {x}, naive -log p:     " + "".join(f"{v:>10.4g}" for v in naive[x]))
    print(f"x = {x}, (1-x) l + log(..):" + "".join(f"{v:>10.4g}" for v in exact[x]))


# %% [markdown]
# The naive form returns `inf` for a confidently wrong pixel: $\sigma(90)$ is exactly 1 in float32, so a black pixel
# ($x = 0$) costs $-\log 0$. It even returns `inf` at $l = 20$, a logit a trained decoder easily produces. At $l = -90$ it
# fails for the white pixel too, for a different reason: $e^{90} \approx 10^{39}$ is beyond the largest float32 (about
# $3.4 \cdot 10^{38}$), so $\sigma(-90)$ comes out as exactly 0. The exact form repairs the positive logits but not the
# negative ones, where it meets the same $e^{90}$: at $l = -90$ both pixels cost `inf`, even the black pixel that the model
# predicts correctly. A single `inf` makes the loss of the whole
# batch `inf` and the gradients `nan`.
#
# ### Exercise 1: the reconstruction loss
#
# **First on paper.** Rewrite $(1 - x)\, l + \log(1 + e^{-l})$ into an equal expression in which every exponential has a
# non-positive argument, whatever the sign of $l$, so that nothing can overflow. Check your result at $l = 0$, where a pixel
# costs $\log 2$ whatever its value, and at $l = \pm 90$, where the right answer is 0 or $90$ nats.
#
# **Then in code.** Write `bernoulli_nll_from_logits(x, logits)`: $-\log p(x \mid z)$ **per image**, summed over the pixels,
# in your stable form, with `keras.ops` (element-wise functions such as `ops.abs`, `ops.exp`, `ops.log1p`, `ops.maximum` or
# `ops.relu`, and `ops.sum`), so that it works on TensorFlow tensors inside a compiled training step.
#
# - Inputs: `x`, the binary images, and `logits`, the decoder's output, both of shape `(N, 28, 28, 1)` or `(N, D)`.
#   The first two lines flatten them to `(N, D)` for you.
# - Output: a tensor of shape `(N,)`, one non-negative number per image, in nats.
#
# <details><summary>Hint 1</summary>
#
# The only danger is $e^{-l}$ for $l \ll 0$. Take the large factor out of the logarithm: for $l < 0$,
# $1 + e^{-l} = e^{-l}\,(1 + e^{l})$, so $\log(1 + e^{-l}) = -l + \log(1 + e^{l})$. Now write the two cases, $l \ge 0$
# and $l < 0$, as one formula using $|l|$.
# </details>
#
# <details><summary>Hint 2</summary>
#
# Both cases together: $\log(1 + e^{-l}) = \max(-l, 0) + \log(1 + e^{-|l|})$. Put it into $(1 - x)\, l + \log(1 + e^{-l})$
# and simplify $l + \max(-l, 0)$.
# </details>
#
# <details><summary>Hint 3</summary>
#
# Per pixel, $-\log p(x_i \mid z) = \max(l_i, 0) - x_i\, l_i + \log(1 + e^{-|l_i|})$. In code, `ops.log1p(u)` computes
# $\log(1 + u)$ accurately for small $u$; sum over `axis=-1` of the flattened arrays.
# </details>
#

# %%
def bernoulli_nll_from_logits(x, logits):
    # -log p(x | z) per image for independent Bernoulli pixels with probabilities sigmoid(logits), shape (N,).
    x = ops.reshape(ops.cast(x, "float32"), (ops.shape(x)[0], -1))  # (N, D)
    logits = ops.reshape(ops.cast(logits, "float32"), (ops.shape(logits)[0], -1))  # (N, D)
    # TODO: the stable per-pixel loss derived above, summed over the pixels of each image.
    ### BEGIN SOLUTION
    per_pixel = ops.relu(logits) - logits * x + ops.log1p(ops.exp(-ops.abs(logits)))
    return ops.sum(per_pixel, axis=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb05.check_bernoulli_nll_from_logits(bernoulli_nll_from_logits)

# %% [markdown]
# Your function on the logits of the table above, one pixel at a time (printed to four decimals). Compare with the two
# rows of the table: it should agree with the naive form wherever that one is finite, and stay finite everywhere.

# %%
# NBVAL_CHECK_OUTPUT
for x in (1, 0):
    pixels = np.full((len(logits), 1), x, dtype="float32")  # five one-pixel "images"
    yours = ops.convert_to_numpy(bernoulli_nll_from_logits(pixels, logits[:, None]))
    print(f"x = {x}, your -log p:      " + "".join(f"{v:>10.4f}" for v in yours))


# %% [markdown]
# The stable form gives the right answer everywhere: a pixel that the model is sure of and gets right costs almost
# nothing, and one it gets confidently wrong costs $|l|$ nats. This is the form behind Keras's
# `binary_crossentropy(..., from_logits=True)` and TensorFlow's `sigmoid_cross_entropy_with_logits`.

# %% [markdown]
# ## 3. The approximate posterior and its KL divergence to the prior
#
# The prior on codes is a standard normal, $p(z) = \mathcal{N}(z; 0, I)$. The true posterior $p_\theta(z \mid x)$ is
# intractable (notebook 03), so the encoder network proposes a **factorised Gaussian** for it,
#
# $$q_\phi(z \mid x) = \mathcal{N}\big(z;\ \mu_\phi(x),\ \operatorname{diag} \sigma^2_\phi(x)\big),$$
#
# and outputs two vectors of length $d$ per image: the means $\mu$ (`z_mean`) and the **log-variances** $\log \sigma^2$
# (`z_log_var`). A log-variance can be any real number, so a plain `Dense` layer can produce it, and $\sigma^2 = e^{\log\sigma^2}$
# is always positive. The encoder is a single network for all images. Exact inference would pose a separate problem for every image: find
# its posterior, or at least the best Gaussian $(\mu, \sigma^2)$ for that one $x$, by an optimisation of its own. The encoder
# replaces all those problems by one function that answers in a single forward pass, for training images and new images
# alike. This is **amortised inference**: the cost of inference is paid once, while training the encoder, and shared
# ("amortised") over every image it will ever see. The price is that the encoder's Gaussian for a given image can be worse
# than the best Gaussian for that image; notebook 08, section "2. Where the gap comes from", measures this amortisation gap.
#
# (The worksheet writes the encoder's output as $(\mu, \log\sigma)$. That holds the same information,
# since $\log \sigma^2 = 2 \log \sigma$, but the two must not be mixed up. This course, like Keras's examples, uses
# $\log\sigma^2$ everywhere.)
#
# The ELBO's second term is $\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))$, and for two Gaussians it has a closed form. For one
# dimension, with $q = \mathcal{N}(\mu, \sigma^2)$ and $p = \mathcal{N}(0, 1)$:
#
# $$\log q(z) = -\tfrac12 \log(2\pi\sigma^2) - \frac{(z - \mu)^2}{2\sigma^2}, \qquad \log p(z) = -\tfrac12 \log(2\pi) - \frac{z^2}{2}.$$
#
# Under $q$, $\mathbb{E}[(z - \mu)^2] = \sigma^2$ and $\mathbb{E}[z^2] = \mu^2 + \sigma^2$, so
#
# $$\mathrm{KL}(q \,\|\, p) = \mathbb{E}_q[\log q(z) - \log p(z)]
# = -\tfrac12 \log \sigma^2 - \tfrac12 + \tfrac12 (\mu^2 + \sigma^2)
# = \tfrac12 \big( \sigma^2 + \mu^2 - 1 - \log \sigma^2 \big).$$
#
# It is zero exactly when $\mu = 0$ and $\sigma^2 = 1$, and grows when the mean moves away from 0 or the variance away from
# 1 in either direction. The $d$ dimensions are independent under both $q$ and $p$, so their KLs **add** (notebook 01):
#
# $$\mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big) = \frac12 \sum_{j=1}^{d} \big( \sigma_j^2 + \mu_j^2 - 1 - \log \sigma_j^2 \big).$$
#
# The cell checks the one-dimensional formula against a Monte Carlo average of $\log q(z) - \log p(z)$ over draws $z \sim q$.

# %%
# NBVAL_CHECK_OUTPUT
mu, log_var = 0.8, -1.2
closed_form = 0.5 * (np.exp(log_var) + mu**2 - 1.0 - log_var)
z = mu + np.exp(0.5 * log_var) * rng.standard_normal(200_000)
log_ratio = probability.gaussian_log_density(z[:, None], mu, log_var) - probability.gaussian_log_density(z[:, None], 0.0, 0.0)
print(f"closed form:  KL = {closed_form:.4f} nats")
print(f"Monte Carlo:  KL = {log_ratio.mean():.4f} +- {log_ratio.std() / np.sqrt(len(z)):.4f} nats (200,000 draws)")
print(f"package:      KL = {probability.kl_to_standard_normal(mu, log_var, axis=None):.4f} nats")


# %% [markdown]
# ### Exercise 2: the KL term
#
# Write `kl_to_standard_normal(z_mean, z_log_var)` with `keras.ops`: the closed-form KL above for each image, **summed**
# over the latent dimensions.
#
# - Inputs: `z_mean` and `z_log_var`, tensors of shape `(N, d)`; `z_log_var` is $\log \sigma^2$.
# - Output: a tensor of shape `(N,)`, in nats.

# %%
def kl_to_standard_normal(z_mean, z_log_var):
    # KL(N(z_mean, diag exp(z_log_var)) || N(0, I)) per image, summed over latent dimensions, shape (N,).
    # TODO: the closed-form KL derived above, summed over the latent dimensions.
    ### BEGIN SOLUTION
    return 0.5 * ops.sum(ops.exp(z_log_var) + ops.square(z_mean) - 1.0 - z_log_var, axis=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb05.check_kl_to_standard_normal(kl_to_standard_normal)


# %% [markdown]
# ## 4. Drawing the code: reparameterization
#
# The reconstruction term $\mathbb{E}_{q_\phi(z \mid x)}[-\log p_\theta(x \mid z)]$ has no closed form, so each training
# step estimates it with one code per image. As in notebook 04 (the reparameterisation of Kingma & Welling, 2014, and Rezende et al., 2014), the code is written as a differentiable function of the
# encoder's outputs and of parameter-free noise,
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \sigma = e^{\frac12 \log \sigma^2}, \qquad \varepsilon \sim \mathcal{N}(0, I),$$
#
# so gradients reach $\mu$ and $\log \sigma^2$, and through them the encoder.
#
# ### Exercise 3: the sampling step
#
# Write `reparameterize(z_mean, z_log_var, eps)`: it returns $z$ for given noise `eps` (all three tensors of shape `(N, d)`).
# The training step will draw `eps` and call your function.

# %%
def reparameterize(z_mean, z_log_var, eps):
    # A draw from N(z_mean, diag exp(z_log_var)) made from the standard normal noise eps, elementwise, shape (N, d).
    # TODO: turn the standard normal noise into a draw from q(z | x).
    ### BEGIN SOLUTION
    return z_mean + ops.exp(0.5 * z_log_var) * eps
    ### END SOLUTION



# %%
# NBVAL_CHECK_OUTPUT
checks.nb05.check_reparameterize(reparameterize)

# %% [markdown]
# ## 5. The loss: the negative ELBO, in nats per image
#
# Put the pieces together. For one image, the negative ELBO is
#
# $$-\mathcal{L}(x) = \underbrace{\mathbb{E}_{q_\phi(z \mid x)}\big[-\log p_\theta(x \mid z)\big]}_{\text{reconstruction loss}}
# + \underbrace{\mathrm{KL}\big(q_\phi(z \mid x) \,\|\, p(z)\big)}_{\text{KL, the regulariser}} \;\ge\; -\log p_\theta(x),$$
#
# an upper bound on the image's negative log-likelihood (notebook 03). For a batch of $B$ images, one training step computes
#
# $$\text{loss} = \frac1B \sum_{b=1}^{B} \Big[ \underbrace{-\log p_\theta(x_b \mid z_b)}_{\text{summed over 784 pixels}}
# + \beta\, \underbrace{\mathrm{KL}\big(q_\phi(z \mid x_b) \,\|\, p(z)\big)}_{\text{summed over } d \text{ dimensions}} \Big],
# \qquad z_b = \mu(x_b) + \sigma(x_b) \odot \varepsilon_b,$$
#
# with $\beta = 1$ for the ELBO ($\beta \neq 1$ is the $\beta$-VAE of notebook 06). Both terms are **sums** over their
# dimensions and only the batch is averaged. Averaging the reconstruction over pixels instead would divide it by 784 and leave
# the KL as it is, which amounts to training with $\beta = 784$. The KL would then win, and the encoder would give up on
# encoding anything (posterior collapse: notebook 08, section "5. Posterior collapse and two remedies").
#
# Two numbers help you read the training log that follows. An untrained decoder outputs logits near 0, so every pixel gets
# probability 1/2 and every image costs $784 \log 2$ nats whatever it shows. A fixed tiny example shows the two terms side by
# side: two "images" of four pixels, two latent dimensions, logits and encoder outputs picked by hand. The cell computes
# them with the package's `workshop.losses` (float32, `keras.ops`) and with the NumPy reference in `workshop.probability`
# (float64). Your functions passed the same comparisons above.

# %%
# NBVAL_CHECK_OUTPUT
print(f"an untrained decoder (all logits 0): -log p(x | z) = 784 log 2 = {784 * np.log(2):.2f} nats per image")

x_tiny = np.array([[1, 0, 1, 1], [0, 0, 1, 0]], dtype="float32")
logits_tiny = np.array([[2.0, -1.0, 0.5, 3.0], [-2.0, -3.0, 1.0, 0.0]], dtype="float32")
z_mean_tiny = np.array([[0.5, -1.0], [0.0, 0.0]], dtype="float32")
z_log_var_tiny = np.array([[-1.0, 0.2], [0.0, 0.0]], dtype="float32")

reconstruction = ops.convert_to_numpy(losses.bernoulli_reconstruction_loss(x_tiny, logits_tiny))
kl = ops.convert_to_numpy(losses.kl_standard_normal(z_mean_tiny, z_log_var_tiny))
reconstruction_ref = -probability.bernoulli_log_likelihood(x_tiny, logits_tiny)
kl_ref = probability.kl_to_standard_normal(z_mean_tiny, z_log_var_tiny)
for b in range(2):
    print(f"image {b}: reconstruction {reconstruction[b]:.4f} (NumPy {reconstruction_ref[b]:.4f}), "
          f"KL {kl[b]:.4f} (NumPy {kl_ref[b]:.4f}), -ELBO {reconstruction[b] + kl[b]:.4f} nats")
print(f"batch loss (mean over the 2 images): {np.mean(reconstruction + kl):.4f} nats per image")

# %% [markdown]
# The second image's code has $\mu = 0$ and $\log \sigma^2 = 0$: its posterior *is* the prior, so its KL is exactly 0 and its
# code tells the decoder nothing about it. The first image pays 0.82 nats of KL for a posterior that moved away from the
# prior, which is the price of carrying information about $x$ in $z$. Training balances the two terms: every nat of KL has
# to buy at least a nat of reconstruction.

# %% [markdown]
# ## 6. The model in Keras
#
# The package's `workshop.VAE` is a subclassed `keras.Model` with the shape of Keras's own VAE example. Its two networks
# are small functional models: the **encoder** maps an image to `[z_mean, z_log_var]`, and the **decoder** maps a code to
# 784 logits shaped as an image. With the default `hidden_units=(512, 256)` both are multilayer perceptrons with ReLU
# layers, 784-512-256-$d$ and back.

# %%
workshop.build_encoder(LATENT_DIM).summary()
workshop.build_decoder(LATENT_DIM).summary()


# %% [markdown]
# How `fit` uses a subclassed model:
#
# - For every batch, `fit` calls the model's `train_step(data)`, where `data` is the batch of images. Keras compiles
#   `train_step` (here with XLA, `jit_compile=True`). The Python code runs **once**, to trace a graph, and the graph then runs
#   for every batch. Anything random must therefore be drawn with `keras.random` and a `SeedGenerator` owned by the model;
#   NumPy noise would be frozen into the graph, the same on every step. The model's `Sampling` layer (notebook 04) owns
#   one, `self.sampling.seed_generator`.
# - The model keeps three `keras.metrics.Mean` trackers: `self.loss_tracker`, `self.reconstruction_loss_tracker` and
#   `self.kl_loss_tracker`. Its `metrics` property lists them, so Keras resets them at the start of each epoch, and the
#   running means they hold are what the progress bar prints and what `History` records.
# - `train_step` returns `{m.name: m.result() for m in self.metrics}`: the three running means, by name.
# - Validation (`validation_data=(x_test,)`) uses `test_step`, which computes the same two terms without the gradient step.
#
# ### Exercise 4: the training step
#
# Subclass `workshop.VAE` and override `train_step`. You have every piece: the two networks `self.encoder` (an image batch
# to `[z_mean, z_log_var]`) and `self.decoder` (codes to logits), your three functions, the KL weight `self.beta`, the
# optimizer `self.optimizer`, the three trackers, and the model's seed generator `self.sampling.seed_generator`. For the
# batch `x` (the first two lines unpack it), one step must
#
# 1. compute the batch loss of section 5, `reconstruction_loss + self.beta * kl_loss`, from **one** reparameterised code per
#    image, where each term is the batch mean of your per-image function;
# 2. move every trainable weight one optimizer step down the gradient of that loss;
# 3. update the three trackers and return their running means by name, the way `fit` expects.
#
# Before you write it, answer three questions for yourself. Which computations must the gradient tape see, and which may
# happen after it? Where must the noise come from, given that the Python code of `train_step` runs only once, to trace a
# graph (use `keras.random.normal` with the model's seed generator: the check then feeds your model and the reference the
# same noise)? What do the trainable weights receive, and from whom?
#
# The check builds your model and the package's `VAE` from the same weights, gives both the same batch of 16 digits and
# the same noise, takes **one** step with each, and compares the returned losses, the trackers and the weight updates.
# Then it runs your step inside a real compiled `fit`.
#
# <details><summary>Hint 1: the shape of a custom step</summary>
#
# Everything that leads from the weights to `loss` goes inside `with tf.GradientTape() as tape:`. After the block, ask the
# tape for the gradients of `loss` with respect to `self.trainable_weights`, and hand gradients and weights to
# `self.optimizer.apply`. No `float(...)` or `.numpy()` anywhere: inside `fit` these are symbolic tensors.
# </details>
#
# <details><summary>Hint 2: the forward pass</summary>
#
# Encode with `training=True`; draw `eps` with `keras.random.normal` of the shape of `z_mean` and
# `seed=self.sampling.seed_generator`; make `z` with your `reparameterize`; decode `z` to logits. Then the two batch means
# (`ops.mean` of your two functions) and their weighted sum.
# </details>
#
# <details><summary>Hint 3: the metrics</summary>
#
# `self.loss_tracker`, `self.reconstruction_loss_tracker` and `self.kl_loss_tracker` each take `update_state(value)`. The
# return value is a dict from each metric's name to its `result()`, over `self.metrics`.
# </details>
#

# %%
class StudentVAE(workshop.VAE):
    # The package's VAE (encoder, decoder, Sampling layer, metric trackers) with your own training step.

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # fit() passes the batch of images
        x = ops.cast(x, "float32")
        # TODO: one training step on the batch x (see Exercise 4); return the running metrics by name.
        ### BEGIN SOLUTION
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(x, training=True)
            eps = keras.random.normal(ops.shape(z_mean), seed=self.sampling.seed_generator)
            z = reparameterize(z_mean, z_log_var, eps)
            logits = self.decoder(z, training=True)
            reconstruction_loss = ops.mean(bernoulli_nll_from_logits(x, logits))
            kl_loss = ops.mean(kl_to_standard_normal(z_mean, z_log_var))
            loss = reconstruction_loss + self.beta * kl_loss
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(grads, self.trainable_weights)
        self.loss_tracker.update_state(loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}
        ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb05.check_train_step(StudentVAE)

# %% [markdown]
# ## 7. Training
#
# The function below trains a `StudentVAE`, with **your** training step, on binarized training images, and uses the
# test images as validation data, so that the curves show both. (Nothing is tuned on the test set.) Keras prints a progress
# bar with the running `loss`, `reconstruction_loss` and `kl_loss` of the current epoch, and the `val_` values at the end of
# each epoch.
#
# > **If you skipped the exercises, or your machine is slow, set `USE_PRETRAINED = True` in the first cell** and run the
# > notebook again from the top. The function then loads weights trained by `python -m workshop train` with the same
# > settings (`workshop.pretrained.load_pretrained`, see `workshop/pretrained/README.md`) and returns their recorded
# > training curves instead of training.
#
# **The learning rate.** Each step follows a gradient estimated from one batch and one code per image, so it is noisy. A
# large step size makes fast progress at the start, but near the end the weights keep jumping around the optimum by an
# amount proportional to the step size. The recipe therefore starts Adam at `LEARNING_RATE` and lowers it smoothly to 0 over
# the run along half a cosine, $\eta_t = \eta_0 \cdot \tfrac12\big(1 + \cos(\pi t / T)\big)$ for step $t$ of $T$
# (Loshchilov & Hutter, 2017; `keras.optimizers.schedules.CosineDecay`). The last epochs then settle into the optimum
# instead of circling it.
#
# **The batch size.** On a CPU, a step on 64 images costs about half as much as a step on 128, so an epoch costs about
# the same with either, but the smaller batch takes twice as many steps. Early in training, the number of steps is what
# limits progress, so `BATCH_SIZE = 64` (with a slightly smaller starting rate) trains further in the same time. Together,
# on this model, the two changes are worth about 2 nats of test -ELBO over a constant learning rate of 1e-3 with batches
# of 128, for the same 20 epochs (`workshop/pretrained/README.md` has the numbers).
#
# **A fresh binarization at every step.** With one fixed binarization, the model starts, after a few epochs, to learn the
# particular coin flips of its own training images: the training loss keeps falling while the test loss stalls. With
# `DYNAMIC_BINARIZATION = True` the model is given the grey levels, and every step draws new binary pixels from them
# (`VAE(dynamic_binarization=True)`; `fit` does the drawing, so your `train_step` needs no change). Each image is then
# seen under a different binarization in every epoch, which works as data augmentation, and more epochs keep paying off.
# The test set stays the fixed binarization of section 1, so the test -ELBO means the same as before. With the same
# learning-rate schedule and batch size, 20 epochs on the fixed binarization gave 96.76 nats with the package's
# command line (`workshop/pretrained/README.md`), and the 30 epochs with a fresh binarization of the run stored below
# give 94.52.
#
# After training, the cell measures the test **-ELBO**: the mean over the test images of reconstruction plus KL, with one
# sample of $z$ per image (`model.elbo(x_test, seed=0)`), in nats per image. Lower is better.

# %%
# The same training images as grey levels: with DYNAMIC_BINARIZATION, fit() draws their binary pixels afresh at every step.
(x_train_grey, _), _ = load_mnist(num_train=NUM_TRAIN, num_test=1)


def make_optimizer(epochs):
    # Adam whose learning rate falls from LEARNING_RATE to 0 along half a cosine over all the steps of `epochs` epochs.
    steps = epochs * math.ceil(len(x_train) / BATCH_SIZE)
    return keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(LEARNING_RATE, decay_steps=steps))


def train_vae(latent_dim, pretrained_name):
    # Train a StudentVAE (your train_step) and return (model, history dict, seconds), or load pretrained weights.
    if USE_PRETRAINED:
        model = pretrained.load_pretrained(pretrained_name)
        print(f"loaded the pretrained {pretrained_name}: {pretrained.describe(pretrained_name)['training']['command']}")
        return model, pretrained.describe(pretrained_name)["training"]["history"], None
    model = StudentVAE(latent_dim=latent_dim, seed=0, dynamic_binarization=DYNAMIC_BINARIZATION)
    model.compile(optimizer=make_optimizer(EPOCHS))
    start = time.perf_counter()
    try:
        history = model.fit(x_train_grey if DYNAMIC_BINARIZATION else x_train, validation_data=(x_test,), epochs=EPOCHS,
                            batch_size=BATCH_SIZE, verbose=1)
    except NotImplementedError as error:
        raise NotImplementedError(f"{error} Finish the exercises, or set USE_PRETRAINED = True in the first cell.") from None
    return model, history.history, time.perf_counter() - start


def report(model, seconds):
    # Print the training time and the test -ELBO with its two terms, in nats per image.
    neg_elbo = -np.mean(model.elbo(x_test, seed=0))
    z_mean, z_log_var = model.encode(x_test)
    kl = np.mean(probability.kl_to_standard_normal(z_mean, z_log_var))
    if seconds is not None:
        print(f"trained {EPOCHS} epochs on {len(x_train)} images in {seconds:.0f} s ({seconds / EPOCHS:.1f} s per epoch)")
    print(f"test -ELBO: {neg_elbo:.2f} nats per image = reconstruction {neg_elbo - kl:.2f} + KL {kl:.2f} "
          f"({len(x_test)} test images, latent_dim={model.latent_dim})")
    return neg_elbo


vae, history, seconds = train_vae(LATENT_DIM, "vae_mnist_z20")
test_neg_elbo = report(vae, seconds)


# %% [markdown]
# **What the stored run reached:** 30 epochs on the 60,000 training images gave a test -ELBO of **94.52 nats per image** (reconstruction 71.98 + KL 22.53) on the 10,000 test images. The line above gives your own
# numbers and how long your machine took.
#
# The curves show how training went. Look at the two terms separately. The reconstruction loss falls steeply in the first
# epoch or two and then slowly. The KL rises over the first epochs, from 14.5 nats (its mean over the first epoch, the curve's first point) to
# about 22.5 nats, as the encoder learns to put information about $x$ into $z$, and then levels off. The training loss ends only about 1.1 nats below the
# validation loss: with a fresh binarization at every step, the model cannot learn the coin flips of its own training
# images (Discussion question 4 asks what a fixed binarization would change). In the last epochs, where the learning rate is small, the
# validation curve flattens out smoothly instead of jittering: that is the schedule at work.

# %%
fig = plots.plot_history(history)

# %% [markdown]
# **Reconstructions.** Top row: test digits. Bottom row: the decoder's mean image $\sigma(\text{logits})$ for the code
# $z = \mu(x)$. Look for the digit and its style (slant, thickness, open or closed loops) being kept, while the sprinkled
# pixels along the edges are not: the edges come out as smooth grey, a probability between 0 and 1. That is what a model of
# independent pixels can do. The sprinkle is noise, independent from pixel to pixel, so no code can predict it.

# %%
fig = plots.plot_reconstructions(x_test[:10], model=vae)

# %% [markdown]
# **Samples from the prior.** Now the encoder is left out: draw $z \sim \mathcal{N}(0, I)$ and decode. These are new digits
# that the model generates. Most of them are clearly digits, in a variety of styles. Some are blends or blobs, because
# the codes of real images do not cover the prior evenly. Regions that the prior visits but the encoder rarely uses
# decode to something in between. The samples also look smoother than real binarized digits, because the image shown is
# the mean $\sigma(\text{logits})$ rather than a draw of binary pixels.

# %%
ax = plots.plot_images(vae.sample(50, seed=0), ncols=10, title="decoded samples z ~ N(0, I), latent_dim = 20")

# %% [markdown]
# **Interpolation.** Encode two test digits, walk along the straight line between their codes $\mu(x_a)$ and $\mu(x_b)$,
# and decode each point. Look for a gradual change: the 2 loses its base and its loop, and the 7's bar and stem take over.
# Also look at the middle of the strip, where the image is fainter and blurrier than at the ends. In 20 dimensions a typical
# code has length about $\sqrt{20} \approx 4.5$, and the midpoint of two such codes is shorter. The straight line therefore
# passes nearer the origin than the codes of real images do, through a region the decoder saw less often in training.
# With the 2-D model of the next section you can see the whole latent space at once, including the regions between clusters.

# %%
start, end = np.flatnonzero(y_test == 2)[0], np.flatnonzero(y_test == 7)[0]
ax = plots.plot_interpolation(vae, x_test[start], x_test[end], steps=10)

# %% [markdown]
# ## 8. A 2-D latent space you can look at
#
# With $d = 2$ the whole latent space fits on the page. The cell trains a second model, the same network with a
# 2-dimensional code (or loads the pretrained one). Two numbers cannot describe a digit as well as twenty can, so expect its
# -ELBO to be clearly worse.

# %%
vae_2d, history_2d, seconds_2d = train_vae(2, "vae_mnist_z2")
test_neg_elbo_2d = report(vae_2d, seconds_2d)

# %% [markdown]
# **What the stored run reached:** 30 epochs gave a test -ELBO of **138.44 nats per image** (reconstruction 131.63 + KL 6.81). The network is the same size apart from its code
# layer, so it trains about as fast as the 20-D model. The extra nats are almost all reconstruction: two numbers cannot
# describe a digit as well as twenty can.
#
# **The latent space, coloured by digit.** Each point is the posterior mean $\mu(x)$ of one test image, coloured by its
# label, which the model never saw. Look for three things. Digits form clusters: the model discovered the classes on its
# own, because images of one digit are similar. Similar digits are neighbours (4 and 9, 3, 5 and 8, 7 and 9). And the whole
# cloud is roughly the round, unit-scale blob of $\mathcal{N}(0, I)$, without large empty gaps, which is the KL term's work.
# An autoencoder without it (notebook 02) spreads its codes anywhere.

# %%
z_mean_2d, _ = vae_2d.encode(x_test)
ax = plots.plot_latent_scatter(z_mean_2d, y_test)
ax.set_title("posterior means of the test images")
plt.show()

# %% [markdown]
# **The manifold.** Now decode a grid of codes. The grid values are quantiles of the standard normal, from 5% to 95% in equal
# steps of probability, so every tile covers the same prior probability, and the middle of the picture is the middle of the
# prior. Compare with the scatter plot: each region decodes to the digit whose cluster sits there, and between clusters one
# digit morphs smoothly into the next. Does every tile show a plausible digit? Look first; the next cells measure it.

# %%
ax = plots.plot_manifold(vae_2d, n=20)
ax.set_title("decoded codes on a grid of N(0, 1) quantiles")
plt.show()

# %% [markdown]
# ### Holes, measured
#
# Notebook 02 (section 4) decoded random codes of a 16-D autoencoder and asked a judge that knows nothing about either
# model, the vote of the 10 nearest training images in pixel space (`autoencoders.knn_vote`), whether each decoded image is
# a digit. An image counted as **recognisable** when at least 8 of its 10 neighbours agreed on the label. In its stored run,
# about 91% of the real test digits and of their reconstructions were recognisable, but only about 60% of the decoded codes drawn from a Gaussian fitted to the training codes, and about half of those drawn uniformly from a box around them.
#
# The VAE has what the autoencoder lacked: a distribution to draw codes from, the prior $\mathcal{N}(0, I)$ that the KL term
# pulled every posterior towards. **Before you run the next cell**, predict: will decoded prior samples be recognisable about
# as often as reconstructions, as often as the autoencoder's random codes, or in between? And the 400 tiles of the manifold
# above?
#
# The cell uses the same judge, the same threshold, the same first test digits and grey-level training images as
# references, on five groups of images.

# %%
(x_reference, y_reference), (x_test_grey, _) = load_mnist(num_train=NUM_TRAIN, num_test=NUM_RANDOM_CODES)  # grey levels, as in 02
grid_codes, _ = plots.manifold_codes(n=20)  # the 400 codes of the manifold figure
groups = {
    "real test digits": x_test_grey,
    "reconstructions (20-D)": vae.reconstruct(x_test[:NUM_RANDOM_CODES]),
    "prior samples (20-D)": vae.sample(NUM_RANDOM_CODES, seed=1),
    "prior samples (2-D)": vae_2d.sample(NUM_RANDOM_CODES, seed=1),
    "manifold tiles (2-D, 400)": vae_2d.decode(grid_codes),
}
recognisable = {}
print(f"{'':28s} recognisable (>= 8 of 10 agree)   mean share of the vote")
for name, images in groups.items():
    _, agreement = autoencoders.knn_vote(images, x_reference, y_reference, k=10)
    recognisable[name] = np.mean(agreement >= 0.8)
    print(f"{name:28s} {recognisable[name]:20.1%}   {agreement.mean():20.2f}")


# %% [markdown]
# In the stored run, 90% of the decoded prior samples of the 2-D model, and 88% of the 400 manifold tiles, were
# recognisable, close to the 91% of the reconstructions and of the real digits themselves. The 20-D model's prior
# samples did worse, 70%: better than the autoencoder's random codes (about 60% and 50%), but well below its own
# reconstructions. Three more trainings of both models with the same settings (model seeds 0, 1 and 2,
# `benchmarks/nb05_seed_spread.py`; mean and range) kept that order in every run: 90.6% (90.1 to 91.1) of the
# reconstructions, 88.5% (87.3 to 89.8) of the 2-D model's prior samples, 85.6% (84.2 to 87.5) of its manifold tiles and
# 68.6% (67.6 to 70.5) of the 20-D model's prior samples were recognisable.
#
# The judge is crude: it rewards an image for being close in pixels to one class of training digits, so a blurry but
# well-formed digit can get a split vote, and the blur of decoder means costs every VAE row a little. That is why the
# reconstructions are the fair baseline, not the real digits. Against that baseline the 2-D VAE has almost no holes: its
# training decoded codes *drawn around* every image and pulled all those clouds towards the one distribution you now sample
# from, and two dimensions are few enough for the clouds to fill it. What it misses lies on the boundaries between
# clusters, where one digit morphs into another and the judge is rightly undecided.
#
# The 20-D model shows that the KL term does not remove holes by decree. Its posteriors are narrow (it spends about 22 nats
# of KL per image to say a lot about each digit), and in 20 dimensions the prior's bulk is a huge volume that the 60,000
# narrow clouds cannot fill: a code drawn from $\mathcal{N}(0, I)$ often lands where the **aggregate posterior**
# $q(z) = \frac1N \sum_n q(z \mid x_n)$, the distribution of codes the decoder was trained on, is thin. Those are the VAE's
# holes: smaller and fewer than an autoencoder's, and placed where the prior and the aggregate posterior disagree
# (Discussion question 2).

# %% [markdown]
# ## 9. How many latent dimensions?
#
# So far the code had 20 dimensions or 2. The cell below trains the package's `workshop.VAE` (the same network and loss as
# your `StudentVAE`) for a short `SWEEP_EPOCHS` epochs with the same recipe, once for each size in `SWEEP_LATENT_DIMS`, and
# reports the test -ELBO, its two terms and the number of **active units**: latent dimensions whose posterior mean varies
# from image to image by more than a threshold, with variance over the test images above 0.01 (Burda, Grosse &
# Salakhutdinov, 2016; `workshop.evaluation.active_units`). A dimension that is not active encodes every image the same
# way, so it carries no information and costs no KL.
#
# **Predict before you run it.** As $d$ grows from 2 to 50, what happens to the test -ELBO? To the KL? Will all 50
# dimensions of the largest model be used?

# %%
sweep = {}
print(f"{'latent size':>11} {'test -ELBO':>11} {'reconstruction':>15} {'KL':>7} {'active units':>13} {'seconds':>8}")
for latent_dim in SWEEP_LATENT_DIMS:
    model = workshop.VAE(latent_dim=latent_dim, seed=0)
    model.compile(optimizer=make_optimizer(SWEEP_EPOCHS))
    start = time.perf_counter()
    model.fit(x_train, epochs=SWEEP_EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    seconds_sweep = time.perf_counter() - start
    neg_elbo = -np.mean(model.elbo(x_test, seed=0))
    kl = np.mean(probability.kl_to_standard_normal(*model.encode(x_test)))
    active, _ = evaluation.active_units(model, x_test)
    sweep[latent_dim] = {"neg_elbo": neg_elbo, "kl": kl, "active": active}
    print(f"{latent_dim:>11} {neg_elbo:>11.2f} {neg_elbo - kl:>15.2f} {kl:>7.2f} {active:>9}/{latent_dim:<3} {seconds_sweep:>8.0f}")


# %% [markdown]
# In the stored run (2 epochs per size), the test -ELBO improves steeply from $d = 2$ (156.82 nats) to $d = 10$ (114.05),
# only a little more at $d = 20$ (111.47), and gets *worse* at $d = 50$ (114.49). The KL grows with $d$ up to 20 and then
# stops (19.42 nats at $d = 20$, 18.61 at $d = 50$): the thirty extra dimensions of the largest model carry almost no
# information between them. Three more trainings with the same settings (model seeds 0, 1 and 2,
# `benchmarks/nb05_seed_spread.py`; mean and range) give the same picture: a test -ELBO of 157.8 (157.2 to 158.1), 129.3
# (128.6 to 129.8), 113.5 (113.5 to 113.6), 111.8 (110.8 to 112.7) and 115.4 (114.5 to 116.4) nats for $d$ = 2, 5, 10, 20
# and 50. In every seed $d = 20$ beat $d = 10$ (by 0.8 to 2.7 nats) and $d = 50$ was worse than $d = 20$ (by 1.9 to 5.6
# nats), and the KL stopped growing: 18.2 (17.8 to 18.5) nats at $d = 50$ against 18.8 (18.0 to 19.6) at $d = 20$, at
# most 0.4 nats more in any seed.
# Yet all 50 count as active, in every seed, because after two epochs the posterior means of the unused
# dimensions still wander by more than the 0.01 threshold. The largest model is also the slowest to train in a short
# budget, which is why its -ELBO is worse rather than equal. (For comparison, 30 epochs gave 94.52 nats at $d = 20$.)
#
# So the size of the code is not a knob that only helps: past the point where the data need more dimensions, the extra
# ones carry no information, and with longer training the KL term pushes them all the way to the prior. The active-unit
# count is a coarse reading, as the last row shows (a unit with a hundredth of a nat of KL can still pass the threshold); notebook 08, section "4. KL per dimension and active
# units", reads the KL per dimension instead, and its section "5. Posterior collapse and two remedies" makes whole models
# lose their active units on purpose.

# %% [markdown]
# ## 10. What you built
#
# - The **loss** is the negative ELBO in nats per image: a Bernoulli reconstruction term computed stably from logits, plus
#   the closed-form KL of the encoder's factorised Gaussian to $\mathcal{N}(0, I)$, each summed over its dimensions and
#   averaged over the batch.
# - The **training step** estimates the reconstruction term with one reparameterised code per image, differentiates the
#   loss with a `GradientTape`, and reports running means through Keras metrics.
# - The trained model **reconstructs** test digits, **generates** new ones from the prior, and has a latent space in which
#   digits cluster; random codes from the prior decode to recognisable digits more often than an autoencoder's random codes,
#   and for the 2-D model almost as often as reconstructions do (section 8, measured with notebook 02's judge).
# - The encoder does **amortised inference**: one network gives the approximate posterior of any image in one pass.
# - Latent dimensions beyond what the data need add almost no information: past about 20, the KL stops growing (section 9).
#
# Notebook 06 swaps the Bernoulli likelihood for a Gaussian one and asks why samples look blurry. Notebook 07 conditions on
# the label. Notebook 08 asks how good the test -ELBO really is: its section "1. The ELBO is a lower bound; importance weighting
# tightens it" tightens the bound, and section "2. Where the gap comes from" splits what is left.
#
# ## Extension (open, ungraded): a convolutional VAE
#
# The MLP treats the 784 pixels as an unordered list: it would learn just as well on images whose pixels had been shuffled
# the same way every time. A convolutional network builds in that neighbouring pixels belong together.
# `StudentVAE(latent_dim=20, architecture="conv", seed=0)` swaps both networks for small convolutional ones (two stride-2
# 3x3 convolutions with 32 and 64 filters, then a Dense layer, and the mirror image with transposed convolutions; see
# `workshop.build_encoder` and `workshop.build_decoder`), and your `train_step` trains it unchanged. Train it with the recipe
# of section 7 and compare it with the MLP: test -ELBO, number of parameters, seconds per epoch, and the look of samples and
# reconstructions. Is it better per epoch, and per second of training? If you had twice the time, what would you change
# first: more filters, a third convolution, a wider Dense layer, or more epochs? There is no check and no single answer;
# state what you measured.
#
# ## Discussion
#
# 1. The 2-D model's test -ELBO is 42 to 44 nats worse than the 20-D model's (in the stored run and the three more trainings of section 8). Compare their reconstruction and KL terms
#    (printed by `report`). Which term accounts for the difference, and why does a larger KL in the 20-D model still pay off?
# 2. Samples from the prior look worse than reconstructions. Which distribution do the codes that the decoder saw in
#    training follow, and how does it differ from $\mathcal{N}(0, I)$?
# 3. A colleague averages the reconstruction loss over the 784 pixels "to keep the numbers small". What happens to the KL
#    term, the latent space, and the samples? (Try it: in `StudentVAE.train_step`, divide `reconstruction_loss` by 784 and
#    train for a few epochs.)
# 4. The training run binarizes every training batch afresh at every step (`DYNAMIC_BINARIZATION = True`). If you set it to
#    `False`, would you expect the gap between training and test -ELBO to grow or shrink, and why must the test set stay
#    fixed when you compare models?
#
# <!-- BEGIN SOLUTION -->
# **Notes on the answers.** (1) The reconstruction term: two numbers cannot describe a digit's style, so the decoder must
# spread probability over many images, while the 20-D model spends about 22.5 nats of KL (about 16 more than the 2-D model)
# to save 59 nats of reconstruction.
# (2) The codes seen in training follow the aggregate posterior $q(z) = \frac1N \sum_n q(z \mid x_n)$, which the KL only
# pulls towards the prior; where the two differ, the decoder was never trained. (3) It is $\beta = 784$: the KL drops to
# near 0, most latent dimensions collapse to the prior, reconstructions become blurry averages and samples all look alike.
# (4) It grows: with one fixed binarization the model can learn the coin flips of its own training images (in an earlier
# stored run with a fixed binarization, the training loss ended 3.1 nats below the validation loss after 20 epochs), while
# a fresh binarization at every step acts as data augmentation against that. The test set must stay fixed so that every
# model is scored on the same binary images.
# <!-- END SOLUTION -->
#
# ## References
#
# - Kingma, D. P., & Welling, M. (2014). Auto-encoding variational Bayes. *ICLR 2014*. arXiv:1312.6114.
# - Rezende, D. J., Mohamed, S., & Wierstra, D. (2014). Stochastic backpropagation and approximate inference in deep
#   generative models. *ICML 2014*. arXiv:1401.4082.
# - Doersch, C. (2016). Tutorial on variational autoencoders. arXiv:1606.05908.
# - Burda, Y., Grosse, R., & Salakhutdinov, R. (2016). Importance weighted autoencoders. *ICLR 2016*. arXiv:1509.00519.
# - Loshchilov, I., & Hutter, F. (2017). SGDR: stochastic gradient descent with warm restarts. *ICLR 2017*. arXiv:1608.03983.
#
