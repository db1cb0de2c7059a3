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
# # 06 · Gaussian decoders and blurry samples
#
# The VAE of notebook 05 treats every pixel as a coin flip. Real MNIST pixels are grey levels, and the other textbook choice
# is a Gaussian decoder: each pixel is the decoder's output plus Gaussian noise of a fixed standard deviation $\sigma$. This
# notebook works out what that choice means, trains both decoders on the same images, and explains the best-known weakness of
# VAEs: their samples look blurry. Doersch's tutorial (2016, section 2.4.3) discusses the same choice of $\sigma$;
# Kingma & Welling (2014) used a Gaussian decoder for the Frey face images.
#
# **What you will learn**
#
# - Derive the negative log-likelihood of a Gaussian decoder with fixed $\sigma$ and see that it is a scaled sum of squared errors plus a constant.
# - Compare a Bernoulli and a Gaussian decoder trained on the same data, term by term.
# - Show that $\sigma$ plays the role of the KL weight $\beta$ of a $\beta$-VAE, $\beta = 2\sigma^2$, and watch the trade-off it controls: sharp reconstructions against a smooth, well-covered latent space.
# - Explain why VAE samples are blurry: the decoder's mean is an average of the images that share a code.
# - Weigh VAEs against GANs.
#
# **Time:** about 45 minutes. **Prerequisites:** notebooks 01 (entropy, KL), 03 (the ELBO) and 05 (the VAE on MNIST).

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer epochs and images, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
EPOCHS = 1 if FAST else 5            # epochs for each of the six models below
NUM_TRAIN = 3000 if FAST else 30000  # training images; half of MNIST keeps six models within a few minutes
NUM_TEST = 1000 if FAST else None    # test images (None: all 10,000)
LATENT_DIM = 16
HIDDEN_UNITS = (256,)                # one hidden layer each way: small enough to train six models on a laptop CPU
BATCH_SIZE = 128
SIGMAS = (0.05, 0.1, 0.2, 0.5, 1.0)  # fixed decoder standard deviations of the sweep
JIT_COMPILE = False                  # XLA compilation costs more time than it saves on runs this short

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from keras import ops

from workshop import VAE, autoencoders, checks, evaluation, load_mnist, losses, plots, probability

tf.get_logger().setLevel("ERROR")  # no notices about re-tracing when several models are evaluated in a row

(x_train, y_train), (x_test, y_test), info = load_mnist(num_train=NUM_TRAIN, num_test=NUM_TEST, return_info=True)
print(f"training images: {x_train.shape}, test images: {x_test.shape}, grey levels in [{x_train.min()}, {x_train.max()}]")
if info["source"] == "sample":
    print("Using the 8,000/2,000-image MNIST sample shipped with the package: set MNIST_PATH for the full data set.")


# %% [markdown]
# This time the images are **not binarized**: every pixel keeps its grey level in $[0, 1]$. That is the kind of data a
# Gaussian decoder is meant for, and both decoders below see exactly these images.
#
# ## 1. The Gaussian decoder with a fixed $\sigma$
#
# The decoder network $G$ maps a code $z$ to one number per pixel, $\mu(z) = G(z) \in [0, 1]^D$ with $D = 784$ (the package
# squashes the network's output with a sigmoid so that the mean stays a valid grey level). The Gaussian decoder says that
# pixel $i$ is that number plus independent noise:
#
# $$p(x \mid z) = \mathcal{N}\!\left(x;\ \mu(z),\ \sigma^2 I\right) = \prod_{i=1}^{D} \frac{1}{\sigma\sqrt{2\pi}} \exp\!\left(-\frac{(x_i - \mu_i(z))^2}{2\sigma^2}\right),$$
#
# where $\sigma > 0$ is a fixed number that you choose, not something the network outputs. Take the logarithm: the product
# becomes a sum, and each factor splits into the log of its normalising constant and its exponent,
#
# $$\log p(x \mid z) = \sum_{i=1}^{D} \left[ -\log\!\left(\sigma\sqrt{2\pi}\right) - \frac{(x_i - \mu_i(z))^2}{2\sigma^2} \right].$$
#
# ### Exercise 1 · `gaussian_nll`
#
# **First on paper.** Finish the derivation: write $-\log p(x \mid z)$ as a function of the squared Euclidean distance
# $\lVert x - \mu(z) \rVert^2$, the number of pixels $D$ and $\sigma$, with no sum left in it. Which part depends on the
# image and the decoder, and which part is a constant?
#
# **Then in code.** Write `gaussian_nll(x, mean, sigma)` in NumPy: the negative log-likelihood
# $-\log \mathcal{N}(x; \text{mean}, \sigma^2 I)$ of each image, in nats.
#
# - `x`, `mean`: arrays of the same shape `(N, ...)` (for example `(N, 28, 28, 1)` or `(N, 784)`); the first axis is the batch.
# - `sigma`: a positive float, the standard deviation (not the variance).
# - Return an array of shape `(N,)`: one number per image, every pixel of the image counted, $D$ the number of pixels per
#   image.
#
# <details><summary>Hint 1</summary>
#
# Look at the two terms inside the sum separately. One of them is the same for every pixel $i$: what is a sum of $D$
# copies of it?
# </details>
#
# <details><summary>Hint 2</summary>
#
# $\sum_i (x_i - \mu_i)^2 = \lVert x - \mu \rVert^2$. In NumPy, flatten each image (`reshape(len(x), -1)`) before you sum
# over the pixels, so that the shape of the input does not matter.
# </details>
#
# <details><summary>Hint 3</summary>
#
# $-\log p(x \mid z) = \dfrac{\lVert x - \mu(z) \rVert^2}{2\sigma^2} + D \log\big(\sigma\sqrt{2\pi}\big)$. Mind the sign of
# the second term, and that `sigma` is a standard deviation.
# </details>
#

# %%
def gaussian_nll(x, mean, sigma):
    # -log N(x; mean, sigma^2 I) per image, in nats, shape (N,).
    # TODO: the negative log-likelihood of each image, from the derivation above.
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype="float64")
    mean = np.asarray(mean, dtype="float64")
    squared_error = np.sum((x - mean).reshape(len(x), -1) ** 2, axis=1)
    num_pixels = x[0].size
    return squared_error / (2 * sigma**2) + num_pixels * math.log(sigma * math.sqrt(2 * math.pi))
    ### END SOLUTION



# %%
# NBVAL_CHECK_OUTPUT
checks.nb06.check_gaussian_nll(gaussian_nll)

# %% [markdown]
# **The result.** The first term of the sum does not depend on $i$, so it adds up to $D$ copies; the second adds up to the squared Euclidean
# distance. With a minus sign in front:
#
# $$\boxed{\ -\log p(x \mid z) = \frac{\lVert x - \mu(z) \rVert^2}{2\sigma^2} + D \log\!\left(\sigma\sqrt{2\pi}\right)\ }$$
#
# Three things to read off this formula:
#
# 1. For a fixed $\sigma$ the second term is a constant: minimising the negative log-likelihood is minimising the **sum of
#    squared errors** (SSE) over the pixels, scaled by $1/(2\sigma^2)$. A VAE with "MSE reconstruction loss" is a Gaussian
#    decoder in disguise, whether its author says so or not.
# 2. The scale matters. The KL term of the ELBO is in nats and is not divided by anything, so $1/(2\sigma^2)$ decides how
#    much a squared error costs *relative to* the KL. Section 3 turns this into a knob.
# 3. The constant can be negative. $\mu$ and $x$ live in $[0, 1]$ and a Gaussian with $\sigma = 0.1$ has a density of up
#    to $1/(0.1\sqrt{2\pi}) \approx 4$, above 1, so $-\log p(x \mid z)$ is negative for a good reconstruction. It is a
#    density, not a probability: nothing is wrong.
#
# The package's training loss is `workshop.losses.gaussian_reconstruction_loss(x, logits, sigma)`; it takes the decoder's
# logits and applies the sigmoid itself. The next cell computes the formula above by hand for four test digits and an
# arbitrary decoder output, and compares it with that loss and with the log-density in `workshop.probability`.

# %%
# NBVAL_CHECK_OUTPUT
x_four = x_test[:4].astype("float64")                 # four real test digits, (4, 28, 28, 1)
logits = rng.normal(size=x_four.shape)                # an arbitrary decoder output (fixed by the seed)
mean = 1.0 / (1.0 + np.exp(-logits))                  # the decoder mean sigmoid(logits)
sigma = 0.1
D = x_four[0].size

squared_error = np.sum((x_four - mean).reshape(4, -1) ** 2, axis=1)
by_hand = squared_error / (2 * sigma**2) + D * math.log(sigma * math.sqrt(2 * math.pi))
from_loss = ops.convert_to_numpy(losses.gaussian_reconstruction_loss(x_four.astype("float32"), ops.convert_to_tensor(logits.astype("float32")), sigma))
from_density = -probability.gaussian_log_density(x_four.reshape(4, -1), mean.reshape(4, -1), np.full((4, D), math.log(sigma**2)))

print("squared error per image:         ", np.round(squared_error, 3))
print("-log p(x|z) by hand (nats):      ", np.round(by_hand, 2))
print("gaussian_reconstruction_loss:    ", np.round(from_loss.astype("float64"), 1), "(float32)")
print("-gaussian_log_density (float64): ", np.round(from_density, 2))
print("all three agree to float32 precision:", np.allclose(from_loss, by_hand, rtol=1e-6) and np.allclose(from_density, by_hand, rtol=1e-12))
print()
for s in SIGMAS:
    print(f"sigma = {s:<4}: the constant D log(sigma sqrt(2 pi)) = {D * math.log(s * math.sqrt(2 * math.pi)):8.1f} nats, "
          f"the squared error is multiplied by 1/(2 sigma^2) = {1 / (2 * s**2):6.1f}")

# %% [markdown]
# The three columns agree to float32 precision: the training loss is exactly the boxed formula. Note how violently $\sigma$
# changes both terms: going from $\sigma = 0.5$ to $\sigma = 0.05$ multiplies the price of a squared error by 100.

# %%
# NBVAL_CHECK_OUTPUT
print("your gaussian_nll on the four digits:", np.round(gaussian_nll(x_four, mean, 0.1), 2))


# %% [markdown]
# ## 2. Two decoders, same images
#
# The Bernoulli decoder of notebook 05 uses the binary cross-entropy
# $-\sum_i \left[x_i \log \mu_i + (1 - x_i) \log(1 - \mu_i)\right]$. Nothing stops you from feeding it grey levels, and
# people do: like the squared error, it is smallest when $\mu_i = x_i$. But for $x_i$ strictly between 0 and 1 it is not
# the log of a normalised density (the "continuous Bernoulli" of Loaiza-Ganem and Cunningham, 2019, adds the missing
# constant), so its nats and the Gaussian's nats are not on the same scale. To compare the two models, use yardsticks that
# do not depend on the likelihood:
#
# - the **reconstruction MSE**: the mean over test images and pixels of $(x_i - \hat{x}_i)^2$, with $\hat{x}$ the decoded
#   posterior mean;
# - a **sharpness** score of the images a model produces, defined in the exercise below.
#
# You will also look at each model's own two loss terms, reconstruction and KL, because their balance is what the rest of
# the notebook is about.
#
# ### Exercise 2 · `sharpness`
#
# A handwritten digit is mostly black background and white ink, with few pixels in between; a blurry image has many grey
# pixels. Measure that with the mean distance of the pixels from mid-grey, doubled so that the score lies in $[0, 1]$:
#
# $$\text{sharpness}(x) = \frac{2}{D} \sum_{i=1}^{D} \left| x_i - 0.5 \right|.$$
#
# It is 1 for a purely black-and-white image and 0 for a uniformly grey one. Write `sharpness(images)` for an array of shape
# `(N, ...)` with values in $[0, 1]$; return one score per image, shape `(N,)`. It is a crude proxy for sample quality (it
# cannot tell a digit from a black-and-white scribble), but it measures exactly the blur this notebook is about.

# %%
def sharpness(images):
    # One score per image, shape (N,).
    # TODO: the sharpness score defined above, for each image.
    ### BEGIN SOLUTION
    images = np.asarray(images, dtype="float64")
    return 2.0 * np.mean(np.abs(images.reshape(len(images), -1) - 0.5), axis=1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb06.check_sharpness(sharpness)

# %%
# NBVAL_CHECK_OUTPUT
print(f"sharpness of the first 1000 test digits: {sharpness(x_test[:1000]).mean():.3f}")


# %% [markdown]
# Real digits score about 0.95: most pixels are at 0 or 1 already (mostly background at 0). Now train six VAEs with the same architecture, data and
# number of epochs: one with a Bernoulli decoder, and one Gaussian decoder for each $\sigma$ in `SIGMAS`. The one with
# $\sigma = 0.1$ is the Gaussian decoder of this section; all of them together are the sweep of section 3.

# %%
def train_vae(likelihood, sigma=0.1):
    # Same architecture, data, epochs and seed for every model: only the likelihood changes.
    model = VAE(latent_dim=LATENT_DIM, hidden_units=HIDDEN_UNITS, likelihood=likelihood, sigma=sigma, seed=0)
    model.compile(jit_compile=JIT_COMPILE)
    start = time.perf_counter()
    history = model.fit(x_train, epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0)
    last = {name: values[-1] for name, values in history.history.items()}
    print(f"{likelihood:9s} sigma={sigma:<5} reconstruction {last['reconstruction_loss']:9.2f}  KL {last['kl_loss']:6.2f}"
          f"  ({time.perf_counter() - start:.0f} s)")
    return model


bernoulli_vae = train_vae("bernoulli")
gaussian_vaes = {sigma: train_vae("gaussian", sigma) for sigma in SIGMAS}


# %% [markdown]
# The training losses already show the scale problem: the Gaussian reconstruction terms are large negative numbers for
# small $\sigma$ (the constant), and their KL terms differ by a factor of several. The next cell evaluates the Bernoulli
# model and the Gaussian model with $\sigma = 0.1$ on the test set and puts everything in one table. Samples are decoder
# means $\mu(z)$ for $z \sim \mathcal{N}(0, I)$, as in notebook 05.

# %%
def summarise(model, num_samples=1000):
    # Both loss terms (one z per image, as in training), then the likelihood-free yardsticks.
    terms = model.evaluate(x_test, batch_size=1000, verbose=0, return_dict=True)
    reconstructions = model.reconstruct(x_test)
    samples = model.sample(num_samples, seed=1)
    return {
        "reconstruction loss (nats)": terms["reconstruction_loss"],
        "KL (nats)": terms["kl_loss"],
        "reconstruction MSE": float(np.mean((x_test - reconstructions) ** 2)),
        "active units": evaluation.active_units(model, x_test)[0],
        "sharpness of reconstructions": float(sharpness(reconstructions).mean()),
        "sharpness of samples": float(sharpness(samples).mean()),
    }


pair = {"Bernoulli": summarise(bernoulli_vae), "Gaussian, sigma=0.1": summarise(gaussian_vaes[0.1])}
print(f"{'':30s}" + "".join(f"{name:>22s}" for name in pair))
for row in pair["Bernoulli"]:
    print(f"{row:30s}" + "".join(f"{values[row]:22.4g}" for values in pair.values()))
print(f"{'(sharpness of the test digits)':30s}{sharpness(x_test).mean():22.3f}")

# %% [markdown]
# Read the table column by column. The two reconstruction losses are in different units (cross-entropy against a Gaussian
# NLL with a large negative constant), so compare the models through the MSE and sharpness rows. In the full run stored with
# this notebook, the Bernoulli decoder spends about a third as many nats on the code as the Gaussian one (the KL row),
# reconstructs slightly worse and gives sharper samples. Why? Expand the cross-entropy of one pixel around its minimum: for
# a grey level $x$ and a mean $\mu = x + \delta$, it exceeds its minimum by about $\delta^2 / \big(2x(1-x)\big)$. On the
# mid-grey edges of the strokes ($x \approx 0.5$) that is $2\delta^2$, the price a Gaussian decoder with $\sigma = 0.5$ puts
# on a squared error; on the background it is far steeper. So on the strokes the Bernoulli decoder behaves like a Gaussian
# decoder with a large $\sigma$, and you will see in section 3 that its KL indeed lands between those of $\sigma = 0.2$ and
# $\sigma = 0.5$. The figure shows the same test digits reconstructed by both, and samples from both.

# %%
shown = x_test[:10]
fig, axes = plt.subplots(5, 1, figsize=(7.5, 4.6), layout="constrained")
rows = [
    ("test digits", shown),
    ("Bernoulli\nreconstructions", bernoulli_vae.reconstruct(shown)),
    ("Gaussian (0.1)\nreconstructions", gaussian_vaes[0.1].reconstruct(shown)),
    ("Bernoulli\nsamples", bernoulli_vae.sample(10, seed=2)),
    ("Gaussian (0.1)\nsamples", gaussian_vaes[0.1].sample(10, seed=2)),
]
for ax, (label, images) in zip(axes, rows):
    plots.plot_images(images, ncols=10, ax=ax)
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
fig.suptitle("Same data, two decoders");

# %% [markdown]
# Both decoders reconstruct the digits and both produce digit-like samples with soft, grey edges; neither is clearly the
# "right" one for grey-level MNIST. Samples are less sharp than reconstructions for both: section 4 explains why.
#
# What you see above is the decoder mean $\mu(z)$, not a sample from $p(x \mid z)$. A real draw from the Gaussian decoder
# adds independent noise of standard deviation $\sigma$ to every pixel, which looks like television static and which
# nobody ever shows. The next cell makes the point once.

# %%
z = rng.normal(size=(8, LATENT_DIM)).astype("float32")
means = gaussian_vaes[0.1].decode(z)
draws = np.clip(means + 0.1 * rng.normal(size=means.shape), 0.0, 1.0)  # x = mu(z) + sigma * noise, clipped for display
fig, axes = plt.subplots(2, 1, figsize=(6, 1.8), layout="constrained")
for ax, images, label in zip(axes, (means, draws), ("mean $\\mu(z)$", "draw from $p(x|z)$")):
    plots.plot_images(images, ncols=8, ax=ax)
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")


# %% [markdown]
# ## 3. $\sigma$ is a KL weight in disguise
#
# Write the negative ELBO of one image with the Gaussian decoder, using the boxed formula for the reconstruction term:
#
# $$\mathcal{L}_\sigma(x) = \mathbb{E}_{q(z \mid x)}\!\left[\frac{\lVert x - \mu(z)\rVert^2}{2\sigma^2}\right] + \mathrm{KL}\big(q(z \mid x)\,\Vert\,p(z)\big) + D\log\!\left(\sigma\sqrt{2\pi}\right).$$
#
# A $\beta$-VAE (Higgins et al., 2017) minimises a reconstruction term plus $\beta$ times the KL. Is the Gaussian loss
# above one of them, with a plain sum of squared errors (SSE) $\mathbb{E}_q\lVert x - \mu(z)\rVert^2$ as its reconstruction
# term? Multiplying a loss by a positive number and adding a constant does not move its minimum, so the two objectives have
# the same best encoder and decoder if one is a positive multiple of the other, up to a constant.
#
# ### Exercise 3 · `beta_for_sigma`
#
# **First on paper.** Rewrite $\mathcal{L}_\sigma(x)$ as a positive number times $\big(\text{SSE} + \beta\,\mathrm{KL}\big)$
# plus a constant, and read off $\beta$ as a function of $\sigma$.
#
# **Then in code.** Write `beta_for_sigma(sigma)`: the KL weight $\beta$ of the equivalent $\beta$-VAE on a
# sum-of-squared-errors reconstruction term, for a Gaussian decoder with standard deviation `sigma` (a float or a NumPy
# array; work elementwise).
#
# <details><summary>Hint 1</summary>
#
# Which factor must come out of the first term so that what is left is exactly the SSE? Take the same factor out of the KL
# term too, and see what multiplies the KL inside the bracket.
# </details>
#
# <details><summary>Hint 2</summary>
#
# $\mathcal{L}_\sigma(x) = \frac{1}{2\sigma^2}\big(\text{SSE} + 2\sigma^2\,\mathrm{KL}\big) + D\log(\sigma\sqrt{2\pi})$.
# </details>
#

# %%
def beta_for_sigma(sigma):
    # TODO: return the KL weight beta of the equivalent beta-VAE with a summed squared error.
    ### BEGIN SOLUTION
    return 2.0 * np.asarray(sigma, dtype="float64") ** 2
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb06.check_beta_for_sigma(beta_for_sigma)

# %% [markdown]
# **The result.** Factor $1/(2\sigma^2)$ out of the first two terms:
#
# $$\mathcal{L}_\sigma(x) = \frac{1}{2\sigma^2}\Big(\underbrace{\mathbb{E}_{q}\lVert x - \mu(z)\rVert^2}_{\text{SSE}} + 2\sigma^2\,\mathrm{KL}\Big) + \text{const},
# \qquad \beta = 2\sigma^2 .$$
#
# The two objectives therefore have the same best encoder and decoder. (With Adam, which divides each gradient by a running estimate of its own size, even the
# path of training barely changes.) The same algebra with a KL weight $\beta'$ in the Gaussian loss gives
# $\beta = 2\sigma^2\beta'$: doubling the KL weight has the effect of multiplying $\sigma$ by $\sqrt{2}$. So "which
# $\sigma$?" and "which $\beta$?" are one question: **how many nats of KL is one unit of squared error worth?**
#
# - Small $\sigma$ (small $\beta$): squared errors are expensive, the encoder spends many nats to pin down each image. Sharp
#   reconstructions; but posteriors become narrow and move away from the prior, leaving gaps in latent space that the
#   prior still samples from.
# - Large $\sigma$ (large $\beta$): the KL dominates, the encoder keeps $q(z \mid x)$ close to $\mathcal{N}(0, I)$, and
#   latent dimensions switch off (posterior collapse). The latent space is smooth and fully covered, but the code carries
#   little information, and reconstructions drift towards an average digit.

# %%
# NBVAL_CHECK_OUTPUT
for s in SIGMAS:
    print(f"sigma = {s:<4} -> beta = {beta_for_sigma(s):.4f}")

# %% [markdown]
# Check the algebra with numbers: for the four digits and decoder means of section 1, and four made-up KL values,
# the Gaussian loss minus its constant equals the $\beta$-VAE loss divided by $2\sigma^2$, for every $\sigma$.

# %%
# NBVAL_CHECK_OUTPUT
kl = np.array([12.0, 25.0, 8.0, 30.0])                      # made-up KL values (nats) for the four digits
for s in SIGMAS:
    gaussian_loss = gaussian_nll(x_four, mean, s) + kl       # the negative ELBO with a Gaussian decoder
    constant = D * math.log(s * math.sqrt(2 * math.pi))
    beta_loss = squared_error + beta_for_sigma(s) * kl       # the beta-VAE loss on the summed squared error
    same = np.allclose(gaussian_loss - constant, beta_loss / (2 * s**2), rtol=1e-12)
    print(f"sigma = {s:<4}: Gaussian loss - constant = {np.round(gaussian_loss - constant, 1)}, "
          f"beta-VAE loss / (2 sigma^2) = {np.round(beta_loss / (2 * s**2), 1)}, equal: {same}")

# %% [markdown]
# Now the trained sweep. The next figure has one row per $\sigma$: on the left the model's reconstructions of ten test
# digits (shown at the top), on the right ten samples from the prior decoded with the same codes for every model. Look for
# two opposite trends going down the rows: reconstructions lose detail and identity, while samples turn from odd mixtures
# into smooth, average-looking digits.

# %%
z_prior = rng.normal(size=(10, LATENT_DIM)).astype("float32")   # the same prior draws for every model
fig, axes = plt.subplots(len(SIGMAS) + 1, 2, figsize=(12, 0.8 * (len(SIGMAS) + 1) + 0.6), layout="constrained")
plots.plot_images(shown, ncols=10, ax=axes[0, 0], title="reconstructions of these test digits")
plots.plot_images(x_test[10:20], ncols=10, ax=axes[0, 1], title="samples (top: real digits, for comparison)")
axes[0, 0].set_ylabel("data", rotation=0, ha="right", va="center")
for row, s in enumerate(SIGMAS, start=1):
    model = gaussian_vaes[s]
    plots.plot_images(model.reconstruct(shown), ncols=10, ax=axes[row, 0])
    plots.plot_images(model.decode(z_prior), ncols=10, ax=axes[row, 1])
    axes[row, 0].set_ylabel(f"$\\sigma$ = {s}\n$\\beta$ = {beta_for_sigma(s):.3g}", rotation=0, ha="right", va="center")
fig.suptitle("Gaussian decoders: small $\\sigma$ (top) to large $\\sigma$ (bottom)");

# %% [markdown]
# The table puts numbers on the figure. *Active units* counts the latent dimensions whose posterior mean changes with the
# image (variance over the test set above 0.01, `workshop.evaluation.active_units`); the others have collapsed to the prior.

# %%
print(f"{'sigma':>6} {'beta':>7} {'test MSE':>9} {'KL (nats)':>10} {'active units':>13} {'sharp. recon.':>14} {'sharp. samples':>15}")
sweep = {}
for s in SIGMAS:
    sweep[s] = summarise(gaussian_vaes[s])
    r = sweep[s]
    print(f"{s:6.2f} {beta_for_sigma(s):7.4f} {r['reconstruction MSE']:9.4f} {r['KL (nats)']:10.1f} "
          f"{r['active units']:>10d}/{LATENT_DIM} {r['sharpness of reconstructions']:14.3f} {r['sharpness of samples']:15.3f}")
print(f"{'test digits':>45s}{'':14s}{sharpness(x_test).mean():14.3f}")

# %% [markdown]
# The trade-off in one table (the numbers quoted are from the full run stored with this notebook):
#
# - **Going down**, the KL falls from over 100 nats to a few: the encoder keeps $q(z \mid x)$ close to the prior, so every
#   region of latent space decodes to something digit-like. The price is paid in the MSE and reconstruction-sharpness
#   columns: the code no longer says enough about the image, and at $\sigma = 1$ the reconstructions are visibly generic.
# - **Going up**, the MSE drops and reconstructions sharpen, because every unit of squared error now costs many nats. The
#   posteriors shrink and spread out, the codes of the training images no longer fill $\mathcal{N}(0, I)$, and prior samples
#   land between them: at $\sigma = 0.05$ they are grey smudges, the least sharp samples of the table.
# - **Sample sharpness** therefore peaks in the middle (at $\sigma = 0.5$ here) and never reaches that of real
#   digits. No value of $\sigma$ removes the blur; section 4 says why.
# - **Active units** do not register any of this: a unit counts as active when its posterior mean varies by more than 0.01 (a standard
#   deviation of 0.1 against the prior's 1), which only catches units that are completely switched off. The KL column is the
#   finer measure: at $\sigma = 1$ the sixteen units share a few nats. With a larger $\sigma$ or longer training, units die
#   altogether (posterior collapse: notebook 08, section "5. Posterior collapse and two remedies").
#
# ### Question
#
# A classmate wants sharper samples and proposes $\sigma = 0.01$. Predict what happens to the reconstructions, to the KL and
# the number of active units, and to the samples from the prior, and explain why using $\beta = 2\sigma^2$.
#
# <!-- BEGIN SOLUTION -->
# With $\sigma = 0.01$ the squared error is multiplied by $1/(2\sigma^2) = 5000$, which is the same as a $\beta$-VAE with
# $\beta = 2 \times 10^{-4}$: the KL term barely counts. The model behaves almost like a plain autoencoder. Reconstructions get
# sharper still and the MSE drops, the KL grows large and every latent unit stays active, because each image buys a narrow
# posterior of its own. But the posteriors no longer overlap to fill the prior: samples $z \sim \mathcal{N}(0, I)$ fall in the
# holes between training codes (notebook 02) and decode to smudges or mixtures of digits. Samples get worse, not better, even
# though reconstructions improve.
# <!-- END SOLUTION -->
#
# ## 4. Why VAE samples are blurry
#
# For a given code $z$, which mean $\mu(z)$ minimises the expected squared error? Let $x$ range over the images that the
# encoder sends near $z$. Then $\mathbb{E}\lVert x - m\rVert^2 = \lVert m - \mathbb{E}[x]\rVert^2 + \mathbb{E}\lVert x - \mathbb{E}[x]\rVert^2$,
# which is smallest at $m = \mathbb{E}[x]$: the **average** of those images. If they differ by small shifts, a thicker stroke,
# a slightly different slant, the average puts grey wherever they disagree. That is the blur: it is the optimal answer to the
# question the Gaussian (or Bernoulli) likelihood asks, not a training failure. Prior samples blur more than reconstructions
# because a random $z$ is less specific than the code of one image, so more images share it.
#
# Here is the argument with one real digit. Take the "1" at index 2 of the test set, make seven copies shifted by
# $-3, \dots, 3$ pixels sideways (with `autoencoders.shift_images` of notebook 02, which lets black pixels in rather
# than wrapping the image around as `np.roll` would), and ask two candidate "decoder outputs" to explain all seven: one sharp copy (the unshifted
# one) and the average of the seven.

# %%
# NBVAL_CHECK_OUTPUT
digit = x_test[2, :, :, 0].astype("float64")                      # a "1"; its label is y_test[2]
shifts = np.arange(-3, 4)
copies = np.stack([autoencoders.shift_images(digit, int(s)) for s in shifts])  # moved s pixels sideways, zeros enter
average = copies.mean(axis=0)

sharp_error = np.mean(np.sum((copies - digit) ** 2, axis=(1, 2)))
average_error = np.mean(np.sum((copies - average) ** 2, axis=(1, 2)))
print(f"label of the digit: {y_test[2]}")
print(f"mean squared error (summed over pixels) to the 7 copies: sharp copy {sharp_error:.2f}, average {average_error:.2f}")
print(f"sharpness: one copy {sharpness(digit[None]).item():.3f}, average {sharpness(average[None]).item():.3f}")
print(f"grey pixels (between 0.1 and 0.9): one copy {np.sum((digit > 0.1) & (digit < 0.9))}, "
      f"average {np.sum((average > 0.1) & (average < 0.9))}")

# %%
fig, ax = plt.subplots(figsize=(8, 1.5), layout="constrained")
plots.plot_images(np.concatenate([copies, average[None]]), ncols=8, ax=ax)
ax.set_xticks(np.arange(8) * 29 + 13.5, [f"shift {s:+d}" for s in shifts] + ["average"], fontsize="small")
ax.tick_params(length=0);

# %% [markdown]
# Under squared error the grey bar on the right is a much better answer than the sharp, unshifted "1": its squared error,
# averaged over the seven copies, is about half as large. It also has about four times as many grey pixels, which is what
# its lower sharpness score measures. A decoder that is unsure where the stroke goes (because the code does not say) hedges
# in exactly this way. The same squared error calls a shifted copy of a digit far from the
# original (notebook 02): it measures pixel overlap, not what a person sees.
#
# ## 5. VAEs versus GANs
#
# A generative adversarial network (GAN) trains the same kind of generator $x = G(z)$ without a likelihood: a second
# network, the discriminator, tries to tell generated images from real ones, and the generator is trained to fool it.
# A grey bar is easy for a discriminator to reject, so GANs are pushed to commit to one sharp image instead of the average.
#
# | | VAE | GAN |
# |---|---|---|
# | objective | one loss (the negative ELBO), minimised | a two-player min-max game |
# | training | stable, easy to monitor (the loss is a bound on $-\log p(x)$) | can oscillate or collapse onto a few modes |
# | samples | blurry: the decoder outputs an average | sharp, often photo-realistic |
# | encoder | yes: $q(z \mid x)$ maps images to codes (interpolation, latent analysis) | none by default |
# | density | a lower bound on $\log p(x)$, and importance-weighted estimates (notebook 08, section "1. The ELBO is a lower bound; importance weighting tightens it") | no likelihood at all |
# | coverage | every training image must be explained, so all modes are covered | may drop modes it finds hard |
#
# Much work combines the two: a VAE whose reconstruction is judged by a discriminator or a perceptual loss instead of pixel
# errors (VAE-GAN), or a VAE with a more expressive decoder or prior, keeps the encoder and the bound and recovers much of
# the sharpness.
#
# ## Extension (open, ungraded): a learned decoder variance
#
# Section 3 treated $\sigma$ as a knob. Let the model choose it instead. Two versions, in increasing order of freedom:
# one trainable number $\log \sigma^2$ shared by all pixels, or a second decoder head that outputs one $\log \sigma_i^2(z)$
# per pixel (Kingma & Welling, 2014, did the latter for the Frey faces). Write the loss with the full Gaussian
# negative log-likelihood, $\sum_i \big[(x_i - \mu_i)^2 / (2\sigma_i^2) + \tfrac12 \log \sigma_i^2\big] + \tfrac{D}{2}\log 2\pi$,
# in a subclass of `workshop.VAE` with its own `train_step` (as in notebook 05), and train it like the models above. Then
# look at what $\sigma$ becomes (compare with Discussion question 1), where the per-pixel version puts small and large
# variances, and what happens to the KL and to sample sharpness. Watch for a trap: on pixels that are always 0, nothing
# stops $\sigma_i$ from shrinking towards 0 and the loss from running to $-\infty$; decide how to prevent it (a floor on
# $\log \sigma^2$, for example) and say why. There is no check and no single answer.
#
# ## Discussion
#
# 1. The Gaussian decoder with a *learned* $\sigma$ (one number, or one per pixel, trained with the rest) removes the knob.
#    Minimise $\frac{S}{2\sigma^2} + D\log\sigma$ over $\sigma$ for a fixed sum of squared errors $S$: what value does $\sigma$
#    take, and what does that suggest about how such a model balances reconstruction and KL during training?
# 2. Reconstructions are sharper than prior samples in every model above but the one with $\sigma = 1$. Explain this with the
#    averaging argument of section 4 and with what you know about the gap between the aggregate posterior and the prior.
# 3. The sharpness score rewards any black-and-white image, even noise. Propose a better automatic measure of sample quality
#    for MNIST (hint: notebook 07 classifies generated digits).
#
# <!-- BEGIN SOLUTION -->
# 1. The derivative $-S/\sigma^3 + D/\sigma$ vanishes at $\sigma^2 = S/D$: the learned variance is the mean squared error
#    per pixel. As the reconstructions improve, $\sigma$ shrinks, so the effective KL weight $\beta = 2\sigma^2$ falls during
#    training: early on the model favours a smooth latent space, later it buys sharper reconstructions.
# 2. A reconstruction decodes the posterior mean of one image, a code that the encoder chose to pin that image down, so few
#    other images share it. A prior sample lands wherever $\mathcal{N}(0, I)$ puts it, often between the codes of different
#    images or in regions the aggregate posterior covers thinly, where the decoder's best answer is an average of many images.
#    At $\sigma = 1$ the code says so little about each image that a reconstruction is almost as unspecific as a prior
#    sample, and the two are about equally sharp.
# 3. Train a classifier on real digits and score generated images by its confidence (how peaked its predicted class
#    distribution is) and by the spread of predicted classes over many samples; this is the idea behind the Inception Score
#    and, with feature statistics instead of labels, the Fréchet Inception Distance.
# <!-- END SOLUTION -->
#
# ## References
#
# - Kingma, D. P., & Welling, M. (2014). Auto-encoding variational Bayes. *ICLR 2014*. arXiv:1312.6114.
# - Rezende, D. J., Mohamed, S., & Wierstra, D. (2014). Stochastic backpropagation and approximate inference in deep
#   generative models. *ICML 2014*. arXiv:1401.4082.
# - Doersch, C. (2016). Tutorial on variational autoencoders. arXiv:1606.05908.
# - Higgins, I., et al. (2017). beta-VAE: learning basic visual concepts with a constrained variational framework. *ICLR 2017*.
# - Loaiza-Ganem, G., & Cunningham, J. P. (2019). The continuous Bernoulli: fixing a pervasive error in variational
#   autoencoders. *NeurIPS 2019*.
#
