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
# # 02 · Autoencoders
#
# Before a VAE, the plain autoencoder: a network that squeezes each image through a narrow code and rebuilds it. This
# notebook shows what such a network learns when it is linear (exactly the subspace PCA finds), what a deep one learns on
# MNIST, and the three weaknesses that make it a poor generative model and motivate the VAE: its code space has holes,
# nearness of images and nearness of codes are different things, and the squared error it is trained with has an odd idea
# of which images are alike.
#
# **What you will learn**
#
# - Describe an autoencoder as encoder, bottleneck and decoder, trained on the squared reconstruction error.
# - Show that a linear autoencoder trained with squared error spans the PCA subspace, and measure it with principal angles.
# - Build and train a deep autoencoder on MNIST in Keras, and look at its 2-D code space and its 16-D reconstructions.
# - Measure the holes in an autoencoder's code space by decoding random codes.
# - Check with numbers that squared error calls a noisy digit closer to the original than the same digit shifted by two pixels.
#
# **Time:** about 50 minutes. **Prerequisites:** notebook 01 is helpful but not required; basic linear algebra (the
# singular value decomposition) and some Keras.

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer training images and epochs, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
(noise_rng,) = rng.spawn(1)  # a second stream for the noisy digits of section 6, so FAST never changes those numbers
NUM_TRAIN = 5000 if FAST else None  # training images (None: all 60,000)
NUM_TEST = 1000           # test images behind every measurement, the same in both modes
PCA_DIM = 6               # k, the code size of the linear autoencoder
LINEAR_STEPS = 150        # full-batch Adam steps for the linear autoencoder
HIDDEN_UNITS = (256, 128) # hidden layers of the deep encoder (the decoder mirrors them)
CODE_DIM = 16             # code size of the deep autoencoder used for reconstructions and holes
EPOCHS = 3 if FAST else 5  # passes over the training images for each deep autoencoder
BATCH_SIZE = 128
NUM_RANDOM_CODES = 1000   # random codes decoded in section 4

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from workshop import autoencoders, checks, load_mnist, plots

# %% [markdown]
# ## 1. Encoder, bottleneck, decoder
#
# An **autoencoder** is two functions trained together. The **encoder** $g_\phi$ maps an image $x \in \mathbb{R}^{784}$
# (28 x 28 pixels, flattened) to a **code** $z = g_\phi(x) \in \mathbb{R}^k$; the **decoder** $f_\theta$ maps the code back
# to an image $\hat x = f_\theta(z)$. Both are trained to make $\hat x$ close to $x$, here in squared error summed over the
# pixels and averaged over the $N$ training images:
#
# $$\mathcal{L}(\phi, \theta) = \frac1N \sum_{i=1}^N \big\| x_i - f_\theta(g_\phi(x_i)) \big\|^2 .$$
#
# The point is the **bottleneck** $k < 784$. With $k \ge 784$ the identity map would be a perfect, useless solution; with
# a small $k$ the network has to keep only what it needs to rebuild the image, so the code is a compressed description of
# it (dimensionality reduction). The decoder, fed a code, produces an image: it looks like a generator, and section 4 tests
# whether it is one.
#
# The data: MNIST, flattened to vectors of 784 values in $[0, 1]$.

# %%
(x_train, y_train), (x_test, y_test), info = load_mnist(
    flatten=True, num_train=NUM_TRAIN, num_test=NUM_TEST, return_info=True
)
print(f"training images: {x_train.shape}, test images: {x_test.shape}, pixel range [{x_train.min()}, {x_train.max()}]")
if info["source"] == "sample":
    print("Using the MNIST sample shipped with the package (set MNIST_PATH for the full set).")


# %% [markdown]
# ## 2. A linear autoencoder finds the PCA subspace
#
# Take the simplest autoencoder: no hidden layers, no activations, no biases, on **centred** data (the mean image
# subtracted). The encoder is a $k \times 784$ matrix $E$, the decoder a $784 \times k$ matrix $D$, and
# $\hat x = D E x$. Whatever $D$ and $E$ are, $\hat x$ lies in the column space of $D$, a subspace of dimension at most
# $k$. So the question is which $k$-dimensional subspace, and which map onto it, give the smallest squared error.
#
# **The best map onto a given subspace is the orthogonal projection.** If the columns of a $784 \times k$ matrix $V$ are an
# orthonormal basis of the subspace, the closest point of the subspace to $x$ is $V V^\top x$, and by Pythagoras
#
# $$\| x - V V^\top x \|^2 = \|x\|^2 - \|V^\top x\|^2 .$$
#
# **The best subspace captures the most variance.** Averaging over the data, minimising the error means maximising
# $\frac1N \sum_i \|V^\top x_i\|^2 = \operatorname{tr}(V^\top C V)$, with $C = \frac1N \sum_i x_i x_i^\top$ the covariance
# of the centred data. That maximum is reached by the top $k$ eigenvectors of $C$, the **principal directions**; they
# are also the top right singular vectors of the centred data matrix $X = U S V^\top$, and the eigenvalues are
# $\lambda_j = s_j^2 / N$. The smallest possible error is the variance left out, $\sum_{j > k} \lambda_j$ per image. (The
# two readings, least reconstruction error and most projected variance, are the two classical definitions of PCA.)
#
# **A linear autoencoder can reach that optimum, but only up to a change of basis.** For any invertible $k \times k$
# matrix $A$, the pair $D = V_k A$, $E = A^{-1} V_k^\top$ gives the same $DE = V_k V_k^\top$ and the same error. Training
# finds the **subspace**, not the principal directions themselves: the columns of $D$ need not be orthogonal, of length
# one, or ordered by variance. To compare the learned $D$ with PCA you therefore compare column spaces.
#
# ### Principal angles between subspaces
#
# Let $Q_A$ and $Q_B$ be orthonormal bases of two subspaces (from a QR decomposition of any bases $A$ and $B$). The
# singular values of the small matrix $Q_A^\top Q_B$ are the cosines of the **principal angles**
# $0 \le \theta_1 \le \theta_2 \le \dots \le 90°$: $\theta_1$ is the smallest angle between any direction in one space and
# any in the other, $\theta_2$ the smallest once that pair is set aside, and so on. All angles are 0 exactly when the two
# spaces coincide, and the largest angle says how far the worst direction is off. The answer does not depend on which
# bases you started from, which is what this comparison needs.
#
# ### Exercise 1: `principal_angles(a, b)`
#
# `a` has shape `(D, k)` and `b` shape `(D, m)`; their columns span two subspaces of $\mathbb{R}^D$ (the columns need not
# be orthogonal or of length one). Return the $\min(k, m)$ principal angles **in degrees, smallest first**, as a NumPy
# array. The definition above is all you need. Before you write it, think about two things: the definition asks for
# *orthonormal* bases, which `a` and `b` are not; and in floating point a cosine that should be exactly 1 can come out as
# $1 + 2 \cdot 10^{-16}$. What does `np.arccos` return then, and for which pair of subspaces (the one this section cares
# about most) will it happen?
#
# <details><summary>Hint 1</summary>
#
# `np.linalg.qr(a)` returns a pair `(q, r)`; the columns of `q` are an orthonormal basis of the space spanned by the
# columns of `a`. `np.linalg.svd(m, compute_uv=False)` returns only the singular values, largest first.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# The largest cosine gives the smallest angle, so taking the singular values in the order `svd` returns them already sorts
# the angles smallest first. `np.arccos(1.0000000000000002)` is `nan` (with a warning): it happens exactly when the two
# subspaces coincide or share a direction, so keep every cosine inside $[-1, 1]$ before taking the arccosine.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# `qa, _ = np.linalg.qr(a)` and the same for `b`; `cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)`; then convert
# `np.clip(cosines, -1.0, 1.0)` with `np.arccos` and `np.degrees`.
#
# </details>

# %%
def principal_angles(a, b):
    # a: (D, k), b: (D, m) -> min(k, m) angles in degrees, smallest first.
    # TODO: the principal angles between the column spaces of a and b, in degrees, smallest first
    ### BEGIN SOLUTION
    qa, _ = np.linalg.qr(np.asarray(a, dtype="float64"))
    qb, _ = np.linalg.qr(np.asarray(b, dtype="float64"))
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb02.check_principal_angles(principal_angles)

# %% [markdown]
# ### PCA by SVD
#
# `autoencoders.pca_subspace` centres the data and returns the top principal directions as the columns of a
# $784 \times k$ matrix, and the variances $\lambda_j$ when asked. (It takes the eigenvectors of the $784 \times 784$
# covariance rather than the SVD of the $N \times 784$ data: the same directions, much faster when $N$ is large.) The cell
# keeps 16 directions for section 3 and uses the first 6 now. Look at the variances around $k = 6$ first.

# %%
mean_image = x_train.mean(axis=0)
x_centred = x_train - mean_image
pca_directions, variances = autoencoders.pca_subspace(x_centred, CODE_DIM, return_variances=True)
pca_basis = pca_directions[:, :PCA_DIM]  # (784, 6)
print("variances along the first 10 principal directions:", np.round(variances[:10], 3))
print(f"lambda_7 / lambda_6 = {variances[PCA_DIM] / variances[PCA_DIM - 1]:.2f}")
print(f"share of the total variance kept by {PCA_DIM} directions: {variances[:PCA_DIM].sum() / variances.sum():.1%}")
print(f"smallest possible squared error with k = {PCA_DIM}: {variances[PCA_DIM:].sum():.2f} per image")

# %% [markdown]
# The optimal subspace is only sharply defined when $\lambda_k$ is clearly larger than $\lambda_{k+1}$: if the two were
# equal, any mix of the two directions would be just as good, and gradient descent would have no reason to settle on one.
# For MNIST the gap after the 6th direction is one of the largest among the first few (about a quarter), which is why
# $k = 6$ here.
#
# Now the linear autoencoder itself, built with `autoencoders.build_autoencoder(..., linear=True)` (one bias-free Dense
# layer each way) and trained on the squared error `autoencoders.sum_squared_error`. To converge in a few seconds, every
# step uses **all** the training images at once (full-batch training) with the Adam optimizer.

# %%
linear_autoencoder = autoencoders.build_autoencoder(PCA_DIM, hidden_units=(), linear=True)
linear_autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss=autoencoders.sum_squared_error)

data = keras.ops.convert_to_tensor(x_centred)
losses = [linear_autoencoder.train_on_batch(data, data) for step in range(LINEAR_STEPS)]
print(f"squared error per image: {losses[0]:.2f} after the first step, {losses[-1]:.2f} after {LINEAR_STEPS} steps "
      f"(PCA's optimum: {variances[PCA_DIM:].sum():.2f})")

# %% [markdown]
# The error reaches PCA's optimum. Now the subspace: the decoder's weight matrix (Keras stores it as $k \times 784$, one
# row per code dimension) spans the images the autoencoder can output. Its principal angles to PCA's subspace should all
# be close to zero. The individual decoder directions, on the other hand, need not match individual principal directions:
# the cosines between them show how mixed they are.

# %%
decoder_directions = linear_autoencoder.get_layer("decoder").get_layer("reconstruction").kernel.numpy().T  # (784, k)
unit_directions = decoder_directions / np.linalg.norm(decoder_directions, axis=0)
cosines = np.abs(unit_directions.T @ pca_basis)
print("for each decoder direction, its largest |cosine| with a single principal direction:",
      np.round(cosines.max(axis=1), 2))
angles = principal_angles(decoder_directions, pca_basis)
print("principal angles between the two subspaces (degrees):", np.round(angles, 2))

# %%
# NBVAL_CHECK_OUTPUT
print(f"largest angle between the linear autoencoder's subspace and PCA's < 5 degrees: {angles.max() < 5.0}")

# %% [markdown]
# The figure puts the two bases side by side, each direction shown as a 28 x 28 image (red positive, blue negative). Look
# for different pictures in the two rows: the autoencoder's directions are mixtures of the principal ones, yet both rows
# span the same six-dimensional space of images.

# %%
fig, axes = plt.subplots(2, PCA_DIM, figsize=(1.6 * PCA_DIM, 3.6), layout="constrained")
for row, (basis, name) in enumerate([(pca_basis, "PCA"), (unit_directions, "autoencoder")]):
    for j in range(PCA_DIM):
        image = basis[:, j].reshape(28, 28)
        limit = np.abs(image).max()
        axes[row, j].imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[row, j].set_xticks([])
        axes[row, j].set_yticks([])
        axes[row, j].set_title(f"{name} {j + 1}", fontsize=9)
fig.suptitle("principal directions (top) and linear-autoencoder decoder directions (bottom)")
plt.show()


# %% [markdown]
# Everything a linear autoencoder can do, PCA does in closed form. A **deep** autoencoder, with nonlinear layers in the
# encoder and the decoder, can bend its code space along a curved surface (a *manifold*) near the data, and rebuild images
# better than any flat subspace of the same dimension.
#
# ## 3. A deep autoencoder on MNIST
#
# ### Exercise 2: `build_encoder_decoder(code_dim, hidden_units)`
#
# Write the two halves of a deep autoencoder as two Keras functional models and return them as the pair
# `(encoder, decoder)`:
#
# - **encoder**: input `keras.Input(shape=(784,))`; one `layers.Dense(units, activation="relu")` for each entry of
#   `hidden_units`, in order; then `layers.Dense(code_dim)` with **no activation** (codes can be any real numbers).
#   Output shape `(None, code_dim)`.
# - **decoder**: input `keras.Input(shape=(code_dim,))`; one `Dense(units, activation="relu")` for each entry of
#   `hidden_units` **in reverse order** (the decoder mirrors the encoder); then `Dense(784, activation="sigmoid")`, so
#   every output pixel lies in $[0, 1]$. Output shape `(None, 784)`.
#
# Build each with `keras.Model(inputs, outputs, name=...)`. (The VAE decoders of later notebooks output logits for a
# Bernoulli likelihood; this one outputs pixel values because its loss is squared error in pixel space.)

# %%
def build_encoder_decoder(code_dim, hidden_units):
    # Returns (encoder, decoder): keras Models (None, 784) -> (None, code_dim) -> (None, 784).
    # TODO: build the encoder (ReLU hidden layers, linear code) and the mirrored decoder (sigmoid output)
    ### BEGIN SOLUTION
    image = keras.Input(shape=(784,), name="image")
    h = image
    for units in hidden_units:
        h = layers.Dense(units, activation="relu")(h)
    code = layers.Dense(code_dim, name="code")(h)
    encoder = keras.Model(image, code, name="encoder")

    z = keras.Input(shape=(code_dim,), name="code")
    h = z
    for units in reversed(hidden_units):
        h = layers.Dense(units, activation="relu")(h)
    reconstruction = layers.Dense(784, activation="sigmoid", name="reconstruction")(h)
    decoder = keras.Model(z, reconstruction, name="decoder")
    return encoder, decoder
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb02.check_build_encoder_decoder(build_encoder_decoder)


# %% [markdown]
# The next cell wires your two halves into one model $x \mapsto f(g(x))$, compiles it with the summed squared error and
# the Adam optimizer, and trains it to reproduce its input (`fit(x_train, x_train)`: the targets are the inputs).

# %%
def train_autoencoder(code_dim):
    # Build with your function, train on x_train -> x_train, and return the two halves and the history.
    encoder, decoder = build_encoder_decoder(code_dim, HIDDEN_UNITS)
    image = keras.Input(shape=(784,))
    autoencoder = keras.Model(image, decoder(encoder(image)), name=f"autoencoder_{code_dim}d")
    autoencoder.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=autoencoders.sum_squared_error)
    history = autoencoder.fit(
        x_train, x_train, validation_data=(x_test, x_test), epochs=EPOCHS, batch_size=BATCH_SIZE, verbose=0
    )
    print(f"{code_dim}-D code: squared error per image {history.history['loss'][-1]:.2f} (training), "
          f"{history.history['val_loss'][-1]:.2f} (test) after {EPOCHS} epochs")
    return encoder, decoder, history


encoder_2d, decoder_2d, history_2d = train_autoencoder(2)
encoder_16d, decoder_16d, history_16d = train_autoencoder(CODE_DIM)

# %% [markdown]
# ### The 2-D code space
#
# With a two-dimensional code, the code of every test image can be drawn as a point. Look for clusters by digit, for
# empty regions between and around them, and for the scale of the axes, which nothing in the loss fixes.

# %%
codes_train_2d = encoder_2d.predict(x_train, verbose=0, batch_size=1024)
codes_test_2d = encoder_2d.predict(x_test, verbose=0, batch_size=1024)
ax = plots.plot_latent_scatter(codes_test_2d, y_test, s=6)
ax.set_title("codes of test digits, 2-D autoencoder")
plt.show()

# %% [markdown]
# Digits that look alike (4 and 9, 3, 5 and 8) overlap; others form separate arms. The codes fill an irregular region
# with gaps, far from anything like a round, standard Gaussian cloud. Nothing asked them to.
#
# ### Reconstructions with a 16-D code
#
# A larger code keeps more detail. The figure shows test digits (top) and their reconstructions (bottom); then the
# squared error is compared with PCA using as many dimensions.

# %%
reconstructions = decoder_16d.predict(encoder_16d.predict(x_test, verbose=0), verbose=0)
plots.plot_reconstructions(x_test, reconstructions, n=12)
plt.show()

pca_reconstructions = (x_test - mean_image) @ pca_directions @ pca_directions.T + mean_image
print(f"test squared error per image, {CODE_DIM} dimensions: "
      f"PCA {np.mean(np.sum((x_test - pca_reconstructions) ** 2, axis=1)):.2f}, "
      f"deep autoencoder {np.mean(np.sum((x_test - reconstructions) ** 2, axis=1)):.2f}")

# %% [markdown]
# The reconstructions keep the digit and most of its style but blur the strokes: squared error rewards predicting the
# average of what is uncertain (section 6 comes back to this). With enough training (a full run) the nonlinear
# autoencoder beats the best flat 16-dimensional subspace; in a fast run it may not have caught up yet.
#
# ## 4. The holes: decoding random codes
#
# If the decoder were a generator, any code you feed it should give a digit. But which codes? An autoencoder has no
# distribution over codes, so try two reasonable choices for random 16-D codes:
#
# - **box**: each coordinate uniform between the smallest and largest value it takes on the training codes;
# - **Gaussian fit**: a Gaussian with the mean and covariance of the training codes, the most generous simple choice.
#
# To *measure* whether a decoded image is a digit, ask a simple classifier that knows nothing about the autoencoder: the
# 10 training images nearest to it in pixel space (`autoencoders.knn_vote`). A clear digit has neighbours that agree on the
# label; an unrecognisable blot gets a split vote. Call an image **recognisable** when at least 8 of its 10 neighbours
# agree, and compare the random decodings with real test digits and with reconstructions of test digits, which are just
# as blurry but come from codes the encoder actually produces.

# %%
codes_train = encoder_16d.predict(x_train, verbose=0, batch_size=1024)
low, high = codes_train.min(axis=0), codes_train.max(axis=0)
box_codes = rng.uniform(low, high, size=(NUM_RANDOM_CODES, CODE_DIM))
gaussian_codes = rng.multivariate_normal(codes_train.mean(axis=0), np.cov(codes_train.T), size=NUM_RANDOM_CODES)

groups = {
    "real test digits": x_test,
    "reconstructions": reconstructions,
    "decoded Gaussian-fit codes": decoder_16d.predict(gaussian_codes, verbose=0),
    "decoded box codes": decoder_16d.predict(box_codes, verbose=0),
}
print(f"{'':28s} recognisable (>= 8 of 10 agree)   mean share of the vote")
for name, images in groups.items():
    _, agreement = autoencoders.knn_vote(images, x_train, y_train, k=10)
    print(f"{name:28s} {np.mean(agreement >= 0.8):20.1%}   {agreement.mean():20.2f}")

# %% [markdown]
# Reconstructions are recognisable about as often as the real digits they come from. Random codes are not: a sizeable
# share of the decoded Gaussian-fit codes, and more of the box codes, get split votes. The pictures show why: top row,
# reconstructions; middle, decoded Gaussian-fit codes; bottom, decoded box codes.

# %%
fig, axes = plt.subplots(3, 1, figsize=(10, 2.9), layout="constrained")
for ax, name in zip(axes, ["reconstructions", "decoded Gaussian-fit codes", "decoded box codes"]):
    plots.plot_images(groups[name][:20], ncols=20, ax=ax, title=name)
plt.show()

# %% [markdown]
# Many random codes land in **holes**: regions of code space no training image was mapped to, where the decoder was never
# trained and produces broken strokes and blots. The encoder placed the training codes wherever reconstruction was
# easiest, so they occupy a thin, irregular part of the space, and a random code usually misses it. This is why an
# autoencoder's decoder is not a generative model: there is no distribution to sample codes from that is known to land on
# digits. A VAE fixes this by training the decoder on codes drawn from a distribution around each encoding and by pulling
# all those distributions towards one fixed prior, $\mathcal{N}(0, I)$, that you can sample from afterwards.
#
# ## 5. Close in data space is not close in code space
#
# The loss only asks that each code be decodable. It never asks similar images to get nearby codes, or nearby codes to
# decode to similar images. To measure how much the two notions of "near" disagree, take each of the test digits and find
# its nearest other test digit twice: in pixel space, and in code space. If the autoencoder preserved neighbourhoods,
# these would usually be the same image.

# %%
codes_test_16d = encoder_16d.predict(x_test, verbose=0, batch_size=1024)
print(f"{'':10s} same neighbour  neighbour shows the same digit   pixel distance of the code neighbour")
print(f"{'':10s} {'':14s}  (pixel space / code space)        relative to the pixel neighbour (median)")
pixel_distance, pixel_neighbour = autoencoders.nearest_neighbour_distances(x_test, x_test, exclude_self=True)
for name, codes in [("2-D code", codes_test_2d), ("16-D code", codes_test_16d)]:
    _, code_neighbour = autoencoders.nearest_neighbour_distances(codes, codes, exclude_self=True)
    same = np.mean(code_neighbour == pixel_neighbour)
    label_pixel = np.mean(y_test[pixel_neighbour] == y_test)
    label_code = np.mean(y_test[code_neighbour] == y_test)
    ratio = np.linalg.norm(x_test[code_neighbour] - x_test, axis=1) / pixel_distance
    print(f"{name:10s} {same:14.1%}  {label_pixel:12.1%} / {label_code:5.1%}  {np.median(ratio):30.2f}")


# %% [markdown]
# With a 2-D code the two notions of "near" rarely agree: the image with the nearest code is the nearest image fewer than
# one time in ten, it shows a different digit about a third of the time (the nearest image does so about one time in
# seven), and in pixels it typically lies a good deal farther away than the true nearest image. With 16 dimensions they
# agree about half the time. Either way the agreement is a side effect of the code size, the architecture and the training
# run, not something the loss asks for, so nothing guarantees it; and nothing at all says what the space *between* two
# nearby codes decodes to (section 4). A VAE adds that pressure: it trains the decoder on noisy versions of each code, so
# codes close to each other have to decode to similar images.
#
# ## 6. What squared error considers "close"
#
# The loss itself has a blind spot. Squared error compares images pixel by pixel, so it cannot tell that a digit moved by
# two pixels is still the same digit: every stroke now covers pixels that were black, and each of those pixels counts as a
# full error. Gaussian noise, on the other hand, changes every pixel by a little, and small errors squared are tiny.
#
# ### Exercise 3: `shift_vs_noise_mse(image, shift, noise_std, rng)`
#
# `image` is one digit of shape `(28, 28)` with values in $[0, 1]$. Return the pair `(mse_shifted, mse_noisy)` of two
# floats, each the **mean** over the 784 pixels of the squared difference to `image`:
#
# - `shifted`: the image moved `shift` pixels to the **right** (along axis 1), with zeros entering on the left, so that
#   the rightmost `shift` columns fall off the edge. `shift` is a whole number, 0 or more. Do not use `np.roll`: it wraps
#   the columns that leave on the right back in on the left, which a real shift of the pen does not do.
# - `noisy`: the image plus independent Gaussian noise of standard deviation `noise_std` on every pixel, drawn from `rng`,
#   and clipped back into $[0, 1]$ (a pixel cannot be brighter than white or darker than black).
#
# <details><summary>Hint 1</summary>
#
# Start from an all-black image of the same shape and copy the part of the digit that is still visible into it. Which
# columns of `image` survive a shift by `shift`, and where do they land?
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Columns `0 .. 27 - shift` of `image` land in columns `shift .. 27`. In slices: `image[:, :-shift]` goes into
# `shifted[:, shift:]`. Careful with `shift == 0`: `image[:, :-0]` is an *empty* slice, so treat that case separately.
# The noise is `noise_std * rng.standard_normal(image.shape)`.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# `shifted = np.zeros_like(image)`; if `shift > 0`, `shifted[:, shift:] = image[:, :-shift]`, else `shifted = image.copy()`.
# `noisy = np.clip(image + noise_std * rng.standard_normal(image.shape), 0.0, 1.0)`. Return
# `float(np.mean((shifted - image) ** 2))` and the same for `noisy`.
#
# </details>

# %%
def shift_vs_noise_mse(image, shift, noise_std, rng):
    # Returns (mse_shifted, mse_noisy): mean squared errors of a shifted and of a noisy copy of `image`.
    # TODO: shift right by `shift` pixels (zeros enter), add clipped Gaussian noise, return the two mean squared errors
    ### BEGIN SOLUTION
    shifted = np.zeros_like(image)
    if shift > 0:
        shifted[:, shift:] = image[:, :-shift]
    else:
        shifted = image.copy()
    noisy = np.clip(image + noise_std * rng.standard_normal(image.shape), 0.0, 1.0)
    return float(np.mean((shifted - image) ** 2)), float(np.mean((noisy - image) ** 2))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb02.check_shift_vs_noise_mse(shift_vs_noise_mse)

# %% [markdown]
# Now a real digit, the first of the test set, shifted by 2 pixels and, separately, with noise of standard deviation 0.1,
# then the same comparison for all the test digits. The noise comes from the notebook's second random stream, so these
# numbers are the same on every run.

# %%
# NBVAL_CHECK_OUTPUT
digit = x_test[0].reshape(28, 28)
mse_shifted, mse_noisy = shift_vs_noise_mse(digit, 2, 0.1, noise_rng)
print(f"test digit 0 (a {y_test[0]}): MSE of the 2-pixel shift = {mse_shifted:.4f}, "
      f"MSE of the noise (std 0.1) = {mse_noisy:.4f}")
print(f"shifted MSE > noisy MSE: {mse_shifted > mse_noisy}")

all_pairs = np.array([shift_vs_noise_mse(image.reshape(28, 28), 2, 0.1, noise_rng) for image in x_test])
print(f"over {len(x_test)} test digits: mean MSE shifted {all_pairs[:, 0].mean():.4f}, noisy {all_pairs[:, 1].mean():.4f}; "
      f"shifted worse for {np.mean(all_pairs[:, 0] > all_pairs[:, 1]):.1%} of them")

# %% [markdown]
# The figure shows the digit, its shifted copy and its noisy copy. To your eye the middle one is the same digit; squared
# error disagrees.

# %%
shifted_digit = autoencoders.shift_images(digit, 2)
noisy_digit = np.clip(digit + 0.1 * noise_rng.standard_normal(digit.shape), 0.0, 1.0)
fig, axes = plt.subplots(1, 3, figsize=(7, 2.6), layout="constrained")
for ax, image, title in zip(
    axes,
    [digit, shifted_digit, noisy_digit],
    ["original", f"shifted 2 px\nMSE {np.mean((shifted_digit - digit) ** 2):.4f}",
     f"noise, std 0.1 (a new draw)\nMSE {np.mean((noisy_digit - digit) ** 2):.4f}"],
):
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# A model trained with squared error therefore hedges: when it is unsure exactly where a stroke goes, a faint smear over
# all likely positions costs less than a sharp stroke in a slightly wrong place. That is the blur in the reconstructions of
# section 3, and it will reappear in the VAE, whose Gaussian decoder turns the same squared error into a log likelihood
# (notebook 06).

# %% [markdown]
# ## Discussion
#
# 1. A linear autoencoder recovers PCA's subspace but not its axes. What extra constraint on $D$ and $E$ would make it
#    recover the principal directions themselves, in order?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Removing the freedom $D \to D A$, $E \to A^{-1} E$ takes two steps. Tying the weights, $E = D^\top$, with
# orthonormal columns, $D^\top D = I$, leaves only rotations of the basis (and the error is unchanged by them). To fix the
# rotation, ask in addition for **uncorrelated codes of decreasing variance**: $E C E^\top$ diagonal with entries sorted
# from largest to smallest. A matrix with orthonormal columns that diagonalises $C$ consists of eigenvectors of $C$, so the
# columns of $D$ are then the principal directions, in order (each up to its sign, and provided the top $k$ eigenvalues
# are distinct). A training-time alternative is a **nested** loss: sum the reconstruction errors obtained with the first
# 1, 2, ..., $k$ code units; the first unit must then be the best 1-D subspace, the first two the best 2-D one, and so on,
# which orders the directions (the idea behind "nested dropout").
# <!-- END SOLUTION -->
#
# 2. The holes were measured with random codes from a box and from a Gaussian fit. Why is there no "right" distribution
#    to sample an autoencoder's codes from, and what does a VAE add to the training so that there is one?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The autoencoder's loss depends on the codes only through how well they decode, so it says nothing about
# where they lie: any invertible reshaping of code space (together with the matching change of the decoder) gives the same
# loss, and the training codes are just a finite cloud of points with no density between them. The decoder was trained
# only on those points. A box or a Gaussian fit is a guess made after training, and section 4 measured that both guesses
# often land where the decoder never learned anything. A VAE changes training in two ways: the decoder is trained on
# codes *sampled* from a distribution around each encoding (so it must decode whole regions, not points), and a KL term
# pulls every one of those distributions towards one fixed prior $\mathcal{N}(0, I)$. The prior is then, by construction,
# the distribution to sample new codes from.
# <!-- END SOLUTION -->
#
# 3. Would a 2-D autoencoder have more or fewer holes than the 16-D one, and why? (Think about how much of the volume of
#    a box a cloud of training codes can fill in 2 and in 16 dimensions.)
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Fewer, in the sense of this measurement. Cut each axis of the box into 10 bins: in 2 dimensions that makes
# 100 cells, and tens of thousands of training codes can visit nearly all of them; in 16 dimensions it makes $10^{16}$
# cells, and the training codes can touch only a vanishing fraction of them, so almost every random code in the box is far
# from all the codes the decoder was trained on. The 2-D code space still has holes (the scatter plot of section 3 shows
# gaps between the digit clusters and empty corners), but a random point is much more often near training codes. The
# price is reconstruction quality: a 2-D code keeps far less of the image (squared error about three times that of the
# 16-D code in section 3).
# <!-- END SOLUTION -->
#
# 4. Squared error judged a 2-pixel shift worse than noise. Name a measure of image similarity that would not, and say why
#    it is harder to use as a training loss.
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Examples: the squared error after the best alignment (the minimum over small shifts of the image), the squared
# error between *blurred* copies of the two images, a structural measure such as SSIM, or a distance between the features
# of a pretrained image classifier ("perceptual" distances). Each is harder to train with. A minimum over shifts is costly
# and not smooth; blurring discards exactly the detail you want the model to keep; a learned feature distance needs a
# separately trained network, and a generator can find images that fool it. Above all, none of them is the log likelihood
# of a normalised probability model, which is what the ELBO needs: squared error is, for a Gaussian decoder (notebook 06).
# Learning the similarity measure itself is the route GANs take, at the price of a min-max game.
# <!-- END SOLUTION -->
#
# ## Extension (open, ungraded)
#
# Section 4 measured the holes of a plain autoencoder. Try to remove them without a VAE, and measure how far you get.
# For example: add Gaussian noise to the code during training (a `layers.GaussianNoise` layer between encoder and
# decoder), or add a penalty that pulls the mean and the covariance of each batch of codes towards $0$ and $I$. Retrain the
# 16-D autoencoder, decode 1,000 codes drawn from $\mathcal{N}(0, I)$, and report the share that `autoencoders.knn_vote`
# calls recognisable, next to the table of section 4 and next to the reconstruction error. Which change helps most, and
# what does it cost in reconstruction? Notebook 05 will show what a VAE achieves with both ingredients at once.
