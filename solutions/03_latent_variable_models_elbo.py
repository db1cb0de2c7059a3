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
# # 03 · Latent-variable models and the ELBO
#
# A VAE is a latent-variable model: it explains each image $x$ by an unseen code $z$ and a decoder that turns codes into
# images. Training such a model means maximising $\log p(x)$, a quantity that involves an integral over every possible code.
# This notebook shows why that integral is hard, why the obvious Monte Carlo estimate of it is useless in practice, and how
# the **evidence lower bound (ELBO)** replaces it with something you can compute and optimise. Everything is checked on
# probabilistic PCA, the one latent-variable model in which $\log p(x)$, the posterior and the ELBO all have closed forms.
#
# **What you will learn**
#
# - Write the marginal likelihood $p(x) = \int p(x \mid z)\, p(z)\, dz$ of a latent-variable model and say why it is intractable when the decoder is a neural network.
# - Estimate $\log p(x)$ by sampling codes from the prior, do it stably with log-sum-exp, and measure how badly its variance behaves.
# - Train a decoder on codes drawn from the prior and measure that it learns to ignore them.
# - Derive the ELBO twice: from Jensen's inequality and as $\log p(x) - \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big)$.
# - Compute the three equivalent forms of the ELBO and the closed-form ELBO of probabilistic PCA.
# - Confirm with numbers that $\log p(x) - \text{ELBO}$ is exactly the KL gap for any $q$, and that the gap closes at the true posterior.
# - Explain why the ELBO fits $q$ with $\mathrm{KL}(q \,\|\, p)$ rather than $\mathrm{KL}(p \,\|\, q)$, and what that direction does to $q$ (mode-seeking versus mass-covering).
#
# **Time:** about 70 minutes. **Prerequisites:** notebooks 01 (entropy, cross-entropy, KL; the Gaussian KL) and 02
# (autoencoders, and PCA as a linear autoencoder).

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1: fewer repeats behind the figures, same code path
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
figure_rng, decoder_rng = rng.spawn(2)  # two more streams (figures; decoder training), so FAST never changes a checked number
NUM_REPEATS = 200 if FAST else 1000  # repeated estimates behind each point of the variance figure
DATA_DIM = 10     # d, the number of observed dimensions of the toy model
LATENT_DIM = 2    # k, the number of latent dimensions (2, so that z can be drawn in the plane)
NOISE_STD = 0.3   # sigma, the decoder's noise standard deviation
PRIOR_NUM_TRAIN = 2000 if FAST else 10_000  # MNIST images for the decoder trained on prior codes (section 2)
PRIOR_EPOCHS = 2 if FAST else 5             # its passes over those images
PRIOR_LATENT_DIM = 8                        # its code size

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

from workshop import autoencoders, checks, load_mnist, losses, plots, probability
from workshop.models import build_decoder
from workshop.ppca import PPCA, gaussian_log_density_full, log_mean_exp

# %% [markdown]
# ## 1. Generating data from a code
#
# A latent-variable model generates an observation in two steps. First draw a **code** $z \in \mathbb{R}^k$ from a fixed,
# simple **prior**, usually the standard normal:
#
# $$z \sim p(z) = \mathcal{N}(0, I_k).$$
#
# Then pass it through a **decoder** (or generator) $G_\theta$, a function with parameters $\theta$, and add noise. With
# Gaussian noise of standard deviation $\sigma$ on each of the $d$ observed dimensions,
#
# $$x = G_\theta(z) + \sigma \varepsilon, \quad \varepsilon \sim \mathcal{N}(0, I_d)
# \qquad\Longleftrightarrow\qquad p_\theta(x \mid z) = \mathcal{N}\big(x;\ G_\theta(z),\ \sigma^2 I_d\big).$$
#
# The decoder does not produce one image per code but the *average* image for that code; the noise accounts for everything
# the code does not pin down. The two steps define a joint density $p_\theta(x, z) = p_\theta(x \mid z)\, p(z)$, and the
# model's density of an observation alone, the **evidence** or **marginal likelihood**, sums over every code that could
# have produced it:
#
# $$p_\theta(x) = \int p_\theta(x \mid z)\, p(z)\, dz = \mathbb{E}_{z \sim p(z)}\big[p_\theta(x \mid z)\big].$$
#
# Fitting the model by maximum likelihood means maximising $\sum_i \log p_\theta(x_i)$ over the training images. When
# $G_\theta$ is a neural network the integral has no closed form, and numerical integration is hopeless beyond a few
# dimensions: a grid with 100 points per axis needs $100^k$ decoder evaluations, $10^{40}$ for a 20-dimensional code.
#
# ### A model where everything is exact: probabilistic PCA
#
# Make the decoder linear, $G(z) = Wz + b$ with a $d \times k$ matrix $W$ and a vector $b \in \mathbb{R}^d$. This is
# **probabilistic PCA** (PPCA): the probabilistic cousin of the linear autoencoder of notebook 02. Now $x = Wz + b + \sigma
# \varepsilon$ is a linear function of the two independent Gaussians $z$ and $\varepsilon$, so $x$ is Gaussian too, with
#
# $$\mathbb{E}[x] = W\,\mathbb{E}[z] + b + \sigma\,\mathbb{E}[\varepsilon] = b, \qquad
# \operatorname{Cov}[x] = W \operatorname{Cov}[z] W^\top + \sigma^2 \operatorname{Cov}[\varepsilon] = W W^\top + \sigma^2 I_d,$$
#
# $$\boxed{\ p(x) = \mathcal{N}\big(x;\ b,\ C\big), \qquad C = W W^\top + \sigma^2 I_d.\ }$$
#
# The posterior over codes is Gaussian as well. By Bayes' rule $p(z \mid x) \propto p(x \mid z)\, p(z)$, and the log of the
# right-hand side is, up to terms without $z$,
#
# $$-\frac{\lVert x - b - Wz \rVert^2}{2\sigma^2} - \frac{\lVert z \rVert^2}{2}
# = -\frac{1}{2\sigma^2}\Big( z^\top (W^\top W + \sigma^2 I_k)\, z - 2 z^\top W^\top (x - b) \Big) + \text{const}.$$
#
# A quadratic in $z$ is the log of a Gaussian. Write $M = W^\top W + \sigma^2 I_k$ and complete the square:
#
# $$\boxed{\ p(z \mid x) = \mathcal{N}\big(z;\ M^{-1} W^\top (x - b),\ \sigma^2 M^{-1}\big).\ }$$
#
# The module `workshop.ppca` implements these formulas. The cell below builds a random PPCA model with $d = 10$, $k = 2$,
# $\sigma = 0.3$, draws one observation $x$ from it, and computes $\log p(x)$ twice: from the closed form, and by brute
# force on a grid over the plane of codes (possible only because $k = 2$).

# %%
# NBVAL_CHECK_OUTPUT
model = PPCA.random(DATA_DIM, LATENT_DIM, noise_std=NOISE_STD, rng=rng)
x_all, z_all = model.sample(1, rng=rng)
x, z_true = x_all[0], z_all[0]
print(model)
print("the code that generated x:", np.round(z_true, 4))

log_px = model.log_marginal(x)
post_mean, post_cov = model.posterior(x)  # the exact posterior p(z | x), used from section 2 on

# Brute force: log of the sum of p(x | z) p(z) over a fine grid of codes, times the area of one cell.
grid = np.linspace(-6.0, 6.0, 801)
cell_area = (grid[1] - grid[0]) ** 2
codes = np.stack(np.meshgrid(grid, grid, indexing="ij"), axis=-1).reshape(-1, LATENT_DIM)
log_px_grid = probability.logsumexp(model.log_joint(x, codes)) + np.log(cell_area)
print(f"log p(x), closed form : {log_px:.6f} nats")
print(f"log p(x), grid of {len(codes):,} codes: {log_px_grid:.6f} nats")


# %% [markdown]
# The two agree to all printed digits. The grid needed 641,601 evaluations of the decoder for a two-dimensional code; a VAE
# with a 20-dimensional code has no such escape.
#
# ## 2. The naive estimator: sample codes from the prior
#
# Since $p(x) = \mathbb{E}_{z \sim p(z)}[p(x \mid z)]$ is an expectation, Monte Carlo suggests itself. Draw $K$ codes from
# the prior, $z_1, \dots, z_K \sim p(z)$, and average the likelihoods:
#
# $$\hat p_K(x) = \frac{1}{K} \sum_{k=1}^K p(x \mid z_k), \qquad \mathbb{E}\big[\hat p_K(x)\big] = p(x).$$
#
# The estimator is unbiased. What matters is its spread. The terms are independent, so
# $\operatorname{Var}[\hat p_K] = \operatorname{Var}_{p(z)}[p(x \mid z)] / K$, and the **relative standard deviation**, the
# error as a fraction of the answer, is
#
# $$\frac{\operatorname{sd}[\hat p_K(x)]}{p(x)} = \sqrt{\frac{\rho}{K}}, \qquad
# \rho = \frac{\operatorname{Var}_{p(z)}[p(x \mid z)]}{p(x)^2} = \frac{\mathbb{E}_{p(z)}[p(x \mid z)^2]}{p(x)^2} - 1.$$
#
# For PPCA even $\rho$ has a closed form (`model.prior_sampling_relative_variance`, which returns $\log \rho$). Keep an eye
# on it: $\rho$ is large when $p(x \mid z)$ is large only on a small region of codes that the prior seldom visits.
#
# In log space there is one more trap. Log-likelihoods of images are large negative numbers (hundreds to thousands of nats),
# and `np.exp(-800.0)` is exactly `0.0` in float64, so $\log \frac{1}{K}\sum_k \exp(\ell_k)$ cannot be computed as written.
# Factor out the largest term $m = \max_k \ell_k$:
#
# $$\log \frac{1}{K} \sum_{k=1}^K e^{\ell_k} = m + \log \sum_{k=1}^K e^{\ell_k - m} - \log K,$$
#
# where every exponent is now at most 0 and the largest term is exactly 1. This is the **log-sum-exp** trick
# (`probability.logsumexp`).
#
# ### Exercise 1: the prior-sampling estimate of $\log p(x)$
#
# Write `log_px_prior_sampling(x, z, model)`:
#
# - `x`: one observation, shape `(d,)`; `z`: codes drawn from the prior, shape `(K, k)`; `model`: a `PPCA`.
# - Compute $\ell_k = \log p(x \mid z_k)$ with `model.log_likelihood(x, z)` (it returns shape `(K,)`).
# - Return the scalar $\log \hat p_K(x) = \log \frac{1}{K} \sum_k e^{\ell_k}$, computed with log-sum-exp as above. It must stay
#   finite when every $\ell_k$ is far below $-745$.

# %%
def log_px_prior_sampling(x, z, model):
    # TODO: return log((1/K) * sum_k p(x | z_k)) from the log-likelihoods, with the log-sum-exp trick
    ### BEGIN SOLUTION
    log_likelihoods = model.log_likelihood(x, z)
    largest = np.max(log_likelihoods)
    return largest + np.log(np.mean(np.exp(log_likelihoods - largest)))
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb03.check_log_px_prior_sampling(log_px_prior_sampling)

# %% [markdown]
# ### Watching it fail
#
# Draw 1,000 codes from the prior and look at how much each contributes to $\hat p_K(x)$. In the figure each prior sample is
# a dot, sized and coloured by its share $p(x \mid z_k) / \sum_j p(x \mid z_j)$ of the sum; the red ellipses mark one,
# two and three standard deviations of the exact posterior $p(z \mid x)$. The right panel zooms in on them. Look for where
# the weight sits.

# %%
num_codes = 1000
prior_codes = rng.standard_normal((num_codes, LATENT_DIM))
log_weights = model.log_likelihood(x, prior_codes)
shares = np.exp(log_weights - probability.logsumexp(log_weights))
order = np.argsort(shares)[::-1]
print(f"the largest single term carries {100 * shares[order[0]]:.1f}% of the sum")
print(f"the 10 largest terms carry {100 * shares[order[:10]].sum():.1f}% of it; "
      f"{np.sum(shares < 1e-6)} of the {num_codes} terms carry less than one millionth each")

angles = np.linspace(0, 2 * np.pi, 200)
circle = np.stack([np.cos(angles), np.sin(angles)], axis=-1)
ellipse = circle @ np.linalg.cholesky(post_cov).T  # one posterior standard deviation around the mean
on_top = np.argsort(shares)  # draw the heaviest samples last

fig, axes = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
for ax, half_width in zip(axes, (4.0, 6 * np.sqrt(post_cov.max()))):
    points = ax.scatter(*prior_codes[on_top].T, s=6 + 600 * shares[on_top], c=shares[on_top], cmap="viridis",
                        vmin=0, vmax=shares.max(), edgecolors="none")
    for radius in (1, 2, 3):
        ax.plot(*(post_mean + radius * ellipse).T, color="crimson", lw=0.8)
    ax.plot(*z_true, "x", color="crimson", markersize=9, label="code that generated x")
    center = post_mean if half_width < 4 else np.zeros(LATENT_DIM)
    ax.set(xlim=(center[0] - half_width, center[0] + half_width), ylim=(center[1] - half_width, center[1] + half_width),
           xlabel="$z_1$", ylabel="$z_2$", aspect="equal")
axes[0].set_title("1,000 prior samples; red: posterior 1, 2, 3 sd")
axes[1].set_title("zoom on the posterior")
axes[0].legend(loc="lower left")
fig.colorbar(points, ax=axes, label=r"share of $\hat p_K(x)$", shrink=0.8)
print(f"your estimate with K = {num_codes}: log p(x) ~ {log_px_prior_sampling(x, prior_codes, model):.3f}  (exact {log_px:.3f})")


# %% [markdown]
# Almost all the prior samples land where $p(x \mid z)$ is negligible; the estimate rests on the handful that happen to fall
# inside the small posterior region. With fewer samples you would often get none there, and the estimate would be far too
# low; now and then you would get one unusually close, and it would overshoot. That is what a large $\rho$ means.
#
# To measure it, the next cell repeats the estimate many times for each $K$. Next to it runs an **importance-sampled**
# estimate: draw the codes from a distribution $q(z)$ that already sits near the posterior and reweight,
# $\hat p_K^{\,q}(x) = \frac{1}{K}\sum_k p(x, z_k) / q(z_k)$ with $z_k \sim q$, which is also unbiased because
# $\mathbb{E}_q[p(x, z)/q(z)] = \int p(x, z)\, dz = p(x)$. Here $q$ is a diagonal Gaussian centred at the posterior mean
# and 1.5 times wider than the posterior in each coordinate.

# %%
def relative_sd(log_estimates):
    # spread of p_hat / p(x) over the repeats
    return np.std(np.exp(log_estimates - log_px))


log_rho = model.prior_sampling_relative_variance(x)
proposal_mean = post_mean
proposal_log_var = np.log(np.diag(post_cov)) + 2 * np.log(1.5)  # 1.5 times the posterior's standard deviations
print(f"rho for this x: {np.exp(log_rho):.1f}  ->  relative sd of the naive estimate is sqrt({np.exp(log_rho):.1f} / K)")

sample_sizes = np.array([10, 30, 100, 300, 1000, 3000, 10000])
naive, weighted = {}, {}
for K in sample_sizes:
    naive[K] = np.array([
        log_px_prior_sampling(x, figure_rng.standard_normal((K, LATENT_DIM)), model) for _ in range(NUM_REPEATS)
    ])
    codes_q = proposal_mean + np.exp(0.5 * proposal_log_var) * figure_rng.standard_normal((NUM_REPEATS, K, LATENT_DIM))
    log_ratios = model.log_joint(x, codes_q) - probability.gaussian_log_density(codes_q, proposal_mean, proposal_log_var)
    weighted[K] = log_mean_exp(log_ratios, axis=-1)


print(f"\nexact log p(x) = {log_px:.3f}; {NUM_REPEATS} repeats per row")
print(f"{'K':>6} | {'naive: mean log':>15} {'sd log':>7} {'rel. sd':>8} {'predicted':>9} | "
      f"{'importance: mean log':>20} {'sd log':>7} {'rel. sd':>8}")
for K in (10, 100, 1000, 10000):
    print(f"{K:>6} | {naive[K].mean():>15.3f} {naive[K].std():>7.3f} {relative_sd(naive[K]):>8.3f} "
          f"{np.sqrt(np.exp(log_rho) / K):>9.3f} | {weighted[K].mean():>20.3f} {weighted[K].std():>7.4f} "
          f"{relative_sd(weighted[K]):>8.4f}")

# %% [markdown]
# Read the table row by row. Both estimators home in on the exact value as $K$ grows, with a relative standard deviation
# that falls like $1/\sqrt{K}$ (the naive one exactly as $\sqrt{\rho / K}$ predicts). But the naive one is about ten
# times worse at every $K$, so it needs about a hundred times more samples for the same accuracy, and for small $K$ its
# average log estimate sits far *below* $\log p(x)$.
#
# The left panel below shows the same thing for every $K$. The right panel asks how the naive estimator scales with the
# **latent dimension**: for random PPCA models with $d = 50$ and $\sigma = 0.5$ it plots the number of prior samples needed
# for a 10% relative error, $K = \rho / 0.1^2$, computed exactly from $\rho$ (the median over five observations per
# model).

# %%
latent_dims = np.arange(1, 33)
samples_needed = []  # log10 of rho / 0.1^2, the median over 5 observations from each random model
for k in latent_dims:
    wide = PPCA.random(50, int(k), noise_std=0.5, rng=figure_rng)
    x_wide, _ = wide.sample(5, rng=figure_rng)
    log_rho_wide = np.median(wide.prior_sampling_relative_variance(x_wide))
    samples_needed.append((log_rho_wide - 2 * np.log(0.1)) / np.log(10))

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
left.loglog(sample_sizes, [relative_sd(naive[K]) for K in sample_sizes], "o-", label="naive: codes from the prior")
left.loglog(sample_sizes, np.sqrt(np.exp(log_rho) / sample_sizes), "k--", lw=1, label=r"predicted $\sqrt{\rho / K}$")
left.loglog(sample_sizes, [relative_sd(weighted[K]) for K in sample_sizes], "s-", label="importance-sampled: codes from $q$")
left.set(xlabel="number of samples $K$", ylabel=r"relative sd of $\hat p_K(x)$", title="Same model, same $x$")
left.legend()
right.plot(latent_dims, samples_needed, "o-")
right.axhline(9, color="gray", ls=":", label="a billion samples")
right.set(xlabel="latent dimension $k$", ylabel=r"$\log_{10}$ samples for 10% error",
          title="Naive estimator, PPCA with $d = 50$")
right.legend();
print(f"latent dimension {latent_dims[-1]}: about 10^{samples_needed[-1]:.0f} prior samples for a 10% error")

# %% [markdown]
# On the left the naive curve sits an order of magnitude above the importance-sampled one at every $K$ (both fall with
# slope $-1/2$), and it follows the predicted $\sqrt{\rho / K}$. On the right the cost grows **exponentially** with the
# latent dimension, roughly one extra factor of ten per latent dimension: the posterior occupies an ever smaller fraction
# of the prior's volume, so almost no prior sample lands in it. A 32-dimensional VAE code is far beyond any budget. Sampling
# the code from the prior is not a way to evaluate, or train, a latent-variable model: the codes have to come from a
# distribution that knows about $x$.
#
# **Question.** The naive estimate $\hat p_K(x)$ is unbiased, yet in the table most of the estimates of $\log p(x)$ fall
# below the exact value when $K$ is small. Explain both facts.
#
# <!-- BEGIN SOLUTION -->
# Unbiasedness is a statement about the mean of $\hat p_K$: rare, very large terms (a prior sample that lands close to
# the posterior mode) exactly make up for the many runs in which no sample lands near it. The distribution of $\hat p_K$ is
# therefore very skewed: its typical value is well below its mean, so the typical $\log \hat p_K$ is below $\log p(x)$.
# Taking the log adds a systematic bias on top: $\log$ is concave, so by Jensen's inequality
# $\mathbb{E}[\log \hat p_K] \le \log \mathbb{E}[\hat p_K] = \log p(x)$. The bias shrinks as $K$ grows and the spread
# of $\hat p_K$ shrinks.
# <!-- END SOLUTION -->

# %% [markdown]
# ### Training on codes from the prior: the decoder learns to ignore them
#
# The naive estimator fails to *evaluate* $\log p(x)$. It fails just as badly as a way to *train* a decoder. The simplest
# such training pairs each training image with a code drawn from the prior, independently of the image, and maximises
# $\log p_\theta(x \mid z)$ on those pairs:
#
# $$\max_\theta\ \mathbb{E}_{x \sim \text{data}}\ \mathbb{E}_{z \sim p(z)}\big[\log p_\theta(x \mid z)\big].$$
#
# The experiment below does this on MNIST: a decoder network with an 8-dimensional code and a Bernoulli likelihood for the
# binarized pixels (the decoder outputs one logit per pixel; the loss is the binary cross-entropy summed over the 784
# pixels, notebook 01), trained with a fresh prior code for every image in every epoch. For comparison, the *same* decoder
# is trained with codes that do depend on the image: its first 8 principal-component scores (notebook 02), each scaled to
# variance 1 so that they have the scale of the prior.
#
# **Question.** Before you run the next cells: for a fixed code $z$, which output of the decoder maximises the objective
# above? (For one pixel with values $x$ in the data and a predicted probability $\pi$, which $\pi$ gives the smallest average
# binary cross-entropy?)
#
# <!-- BEGIN SOLUTION -->
# Because $z$ is drawn independently of $x$, every code is paired with the whole training set: for a fixed $z$ the
# objective is the average over all training images of
# $\sum_i \big[x_i \log \pi_i(z) + (1 - x_i) \log(1 - \pi_i(z))\big]$. Pixel by pixel this is minus a cross-entropy
# $H(\bar p_i, \pi_i)$ between the data's frequency $\bar p_i$ of a white pixel $i$ and the model's $\pi_i$, and a
# cross-entropy is smallest when the model equals the data distribution (notebook 01: $H(p, q) = H(p) + \mathrm{KL}(p \,\|\, q)$).
# So the best output is $\pi_i(z) = \bar p_i$, the **mean training image**, for *every* code: the optimal decoder ignores $z$,
# and its loss is the entropy of the mean-image model, $\sum_i H\big(\mathrm{Bernoulli}(\bar p_i)\big)$. Nothing in the
# gradient rewards using $z$, because $z$ carries no information about the image it is paired with.
# <!-- END SOLUTION -->

# %%
(x_mnist, _), (x_mnist_test, _) = load_mnist(binarize="random", num_train=PRIOR_NUM_TRAIN, num_test=1000)
train_pixels = x_mnist.reshape(len(x_mnist), -1)
test_pixels = x_mnist_test.reshape(len(x_mnist_test), -1)
mean_image = train_pixels.mean(axis=0)  # the frequency of a white pixel, pixel by pixel


def train_decoder(make_codes):
    # The same architecture and training each time; only the codes paired with the images differ.
    decoder = build_decoder(PRIOR_LATENT_DIM, hidden_units=(256, 128))
    decoder.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses.bernoulli_reconstruction_loss, jit_compile=False)
    for epoch in range(PRIOR_EPOCHS):  # new codes for every epoch
        history = decoder.fit(make_codes(), x_mnist, batch_size=128, epochs=1, verbose=0)
    return decoder, history.history["loss"][-1]


def prior_codes_for_training():
    return decoder_rng.standard_normal((len(x_mnist), PRIOR_LATENT_DIM)).astype("float32")


directions, variances = autoencoders.pca_subspace(train_pixels - mean_image, PRIOR_LATENT_DIM, return_variances=True)


def pca_codes(images):
    # the first PRIOR_LATENT_DIM principal-component scores of each image, scaled to variance 1
    scores = (images.reshape(len(images), -1) - mean_image) @ directions
    return (scores / np.sqrt(variances[:PRIOR_LATENT_DIM])).astype("float32")


prior_decoder, prior_loss = train_decoder(prior_codes_for_training)
pca_decoder, pca_loss = train_decoder(lambda: pca_codes(x_mnist))
mean_image_loss = probability.binary_cross_entropy(train_pixels, mean_image).mean()
print(f"training loss in the last epoch (nats per image): codes from the prior {prior_loss:.1f}, "
      f"principal-component codes {pca_loss:.1f}")
print(f"loss of always predicting the mean training image: {mean_image_loss:.1f}")


# %% [markdown]
# Now measure what each decoder produces. For the decoder trained on prior codes, decode 1,000 fresh prior codes; for the
# other one, decode the codes of 1,000 test images. Two numbers per group of images: how much the images vary from one to
# the next (the variance across the group, averaged over pixels) and how far they are from the mean training image (the
# squared distance, summed over pixels). Real test images are the yardstick. The figure shows a few images of each group
# next to the mean training image; look for outputs that do not change with the code.

# %%
def decode(decoder, codes):
    # the decoder's mean image: the sigmoid of its logits, shape (N, 784)
    return keras.ops.convert_to_numpy(keras.ops.sigmoid(decoder.predict(codes, verbose=0))).reshape(len(codes), -1)


groups = {
    "real test images": test_pixels,
    "trained on prior codes": decode(prior_decoder, decoder_rng.standard_normal((1000, PRIOR_LATENT_DIM)).astype("float32")),
    "trained on PCA codes": decode(pca_decoder, pca_codes(x_mnist_test)),
}
print(f"{'':24s} {'variance across images':>23s} {'squared distance to the mean image':>36s}")
for name, images in groups.items():
    spread = np.mean(np.var(images, axis=0))
    to_mean = np.mean(np.sum((images - mean_image) ** 2, axis=1))
    print(f"{name:24s} {spread:23.5f} {to_mean:36.3f}")

fig = plt.figure(figsize=(11, 3.3), layout="constrained")
left, right = fig.subfigures(1, 2, width_ratios=[1, 8])
ax = left.subplots()
plots.plot_images(mean_image[None], ncols=1, ax=ax, title="mean image")
rows = right.subplots(3, 1)
for ax, (name, images) in zip(rows, groups.items()):
    plots.plot_images(images[:12], ncols=12, ax=ax, title=name)
plt.show()

# %% [markdown]
# The decoder trained on prior codes has learned the answer to the question: whatever the code, it draws the same blurred
# average digit. Its outputs vary about 230 times less than real digits do (variance 0.00036 against 0.082) and lie at a
# squared distance of 0.435 from the mean training image, against 65 for real digits. Its training loss, 208.5 nats per
# image, is within a few nats of the 206.0 nats that always predicting the mean image costs. The *same* decoder, trained
# the same way on codes that carry information about the image, does use them: its outputs vary, look like the digits they
# encode, and its loss falls to 124.4 nats.
#
# Nothing is wrong with the decoder; the codes are. This is the lecture's warning measured: drawing $z$ from the prior,
# independently of $x$, gives the decoder nothing to learn from $z$. The codes must be chosen with $x$ in view, which is
# what the posterior $p(z \mid x)$, and its stand-in $q(z \mid x)$, are for.

# %% [markdown]
# ## 3. The posterior form of $\log p(x)$
#
# Which codes should you sample, then? Bayes' rule, $p(z \mid x) = p(x, z) / p(x)$, rearranges to
#
# $$\log p(x) = \log p(x, z) - \log p(z \mid x) \qquad \text{for every } z.$$
#
# The left side does not depend on $z$, so averaging over *any* distribution of $z$ changes nothing. Averaging over the
# posterior itself gives the posterior form
#
# $$\log p(x) = \mathbb{E}_{z \sim p(z \mid x)}\big[\log p(x, z) - \log p(z \mid x)\big]
# = \mathbb{E}_{z \sim p(z \mid x)}\big[\log p(x, z)\big] + \mathcal{H}\big(p(z \mid x)\big).$$
#
# The first term scores the codes that could have produced *this* $x$ (not all codes, as the prior did); the entropy
# rewards spreading belief over all of them. The cell checks the identity code by code: for a few posterior samples and a
# few arbitrary codes, $\log p(x, z) - \log p(z \mid x)$ is the same number, $\log p(x)$.

# %%
# NBVAL_CHECK_OUTPUT
posterior_codes = post_mean + rng.standard_normal((3, LATENT_DIM)) @ np.linalg.cholesky(post_cov).T
arbitrary_codes = np.array([[0.0, 0.0], [2.0, -1.0], [-3.0, 3.0]])
for name, zs in (("posterior sample", posterior_codes), ("arbitrary code  ", arbitrary_codes)):
    for z in zs:
        value = model.log_joint(x, z) - model.log_posterior(z, x)
        print(f"{name} z = {np.array2string(z, precision=2, sign=' ')}:  log p(x, z) - log p(z | x) = {value:.6f}")
print(f"exact log p(x)                                               = {log_px:.6f}")

# %% [markdown]
# A consequence: importance sampling with the exact posterior as $q$ has **zero variance**, since every ratio
# $p(x, z_k) / p(z_k \mid x)$ equals $p(x)$ and a single sample gives the exact answer. The posterior is the perfect
# proposal. But in a real model $p(z \mid x) = p(x, z) / p(x)$ needs the very $p(x)$ you are trying to compute.
#
# ## 4. The evidence lower bound
#
# Replace the unknown posterior by a distribution $q(z \mid x)$ that you choose and can sample from and evaluate: for a VAE,
# a Gaussian whose mean and variance come from the encoder network. Two derivations lead to the same quantity.
#
# ### By Jensen's inequality
#
# Multiply and divide by $q$ inside the integral, which turns it into an expectation under $q$:
#
# $$\log p(x) = \log \int p(x, z)\, dz = \log \int q(z \mid x)\, \frac{p(x, z)}{q(z \mid x)}\, dz
# = \log \mathbb{E}_{z \sim q(z \mid x)}\!\left[\frac{p(x, z)}{q(z \mid x)}\right].$$
#
# The logarithm is concave, so by Jensen's inequality the log of an average is at least the average of the logs,
# $\log \mathbb{E}[Y] \ge \mathbb{E}[\log Y]$ for a positive random variable $Y$. With $Y = p(x, z)/q(z \mid x)$:
#
# $$\log p(x) \;\ge\; \mathbb{E}_{z \sim q(z \mid x)}\big[\log p(x, z) - \log q(z \mid x)\big] \;=:\; \mathcal{L}(q).$$
#
# This is the **evidence lower bound**, the ELBO. It is the expected *log* of the importance weight $p(x, z)/q(z \mid x)$
# of section 2, whereas $\log p(x)$ is the log of its *expectation*: taking the log before averaging instead of after is
# exactly what opens the gap.
#
# ### As $\log p(x)$ minus a KL divergence
#
# Jensen says the bound holds but not how loose it is. Subtract the ELBO from $\log p(x)$, writing $\log p(x)$ as an
# expectation under $q$ (it is a constant, so this is allowed) and then using $p(x, z) = p(z \mid x)\, p(x)$:
#
# $$\begin{aligned}
# \log p(x) - \mathcal{L}(q)
# &= \mathbb{E}_{q}\big[\log p(x)\big] - \mathbb{E}_{q}\big[\log p(x, z) - \log q(z \mid x)\big] \\
# &= \mathbb{E}_{q}\big[\log p(x) - \log p(z \mid x) - \log p(x) + \log q(z \mid x)\big] \\
# &= \mathbb{E}_{q}\!\left[\log \frac{q(z \mid x)}{p(z \mid x)}\right]
# = \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big).
# \end{aligned}$$
#
# So
#
# $$\boxed{\ \log p(x) = \mathcal{L}(q) + \mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big).\ }$$
#
# The KL is non-negative (notebook 01), which proves the bound again, and it is zero exactly when $q$ equals the
# posterior, so the bound is **tight** there. Since $\log p(x)$ does not depend on $q$, maximising the ELBO over $q$ is the
# same as pulling $q$ towards the posterior; maximising it over the model parameters pushes up a lower bound on the
# likelihood. A VAE does both at once.
#
# ### Three ways to write the ELBO
#
# Split the log-joint in the definition in different ways:
#
# $$\begin{aligned}
# \mathcal{L}(q) &= \mathbb{E}_{q}\big[\log p(x, z)\big] + \mathcal{H}\big(q(z \mid x)\big)
# && \text{(joint + entropy)} \\
# &= \mathbb{E}_{q}\big[\log p(x \mid z) + \log p(z) - \log q(z \mid x)\big]
# && \text{(three log terms)} \\
# &= \mathbb{E}_{q}\big[\log p(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big)
# && \text{(reconstruction} - \text{KL)}
# \end{aligned}$$
#
# The first is the posterior form of section 3 with $q$ in place of the posterior. The third is the VAE's training
# objective: a **reconstruction** term (decode codes drawn from $q$ and score $x$ under the decoder) and a **KL to the
# prior** that keeps $q$ from drifting away from $\mathcal{N}(0, I)$. With Gaussian $q$ and prior the KL has the closed
# form of notebook 01; only the reconstruction term needs sampling.
#
# For PPCA and a Gaussian $q(z \mid x) = \mathcal{N}(m, S)$ the reconstruction term has a closed form as well. Write
# $z = m + u$ with $\mathbb{E}[u] = 0$, $\operatorname{Cov}[u] = S$; then $x - b - Wz = (x - b - Wm) - Wu$, and the cross
# term averages to zero:
#
# $$\mathbb{E}_q \lVert x - b - Wz \rVert^2 = \lVert x - b - Wm \rVert^2 + \mathbb{E}\big[u^\top W^\top W u\big]
# = \lVert x - b - Wm \rVert^2 + \operatorname{tr}\big(W S W^\top\big),$$
#
# $$\mathbb{E}_q\big[\log p(x \mid z)\big] = -\frac{d}{2} \log\big(2\pi\sigma^2\big)
# - \frac{\lVert x - b - Wm \rVert^2 + \operatorname{tr}(W S W^\top)}{2\sigma^2}.$$
#
# The next cell picks some diagonal Gaussian $q$ and computes the ELBO three times, each form by its own route:
#
# - **joint + entropy** by numerical integration, $\sum_z q(z)\,\big[\log p(x, z) - \log q(z)\big]\,\Delta A$ over the grid of
#   codes of section 1 (possible only because $k = 2$), with no formula for any expectation;
# - **three log terms** in closed form, each expectation by its own formula (the model's `expected_log_likelihood`,
#   `expected_log_prior` and `entropy`);
# - **reconstruction $-$ KL** with the closed-form Gaussian KL of notebook 01 for the second part.
#
# Then each form once more by Monte Carlo with 100,000 codes drawn from $q$.

# %%
# NBVAL_CHECK_OUTPUT
q_mean = post_mean + np.array([0.3, -0.2])                  # some q: off-centre ...
q_log_var = np.log(np.diag(post_cov)) + np.array([0.5, -0.3])  # ... and the wrong widths

log_q_grid = probability.gaussian_log_density(codes, q_mean, q_log_var)  # log q on the grid of section 1
computed = {
    "joint + entropy": np.sum(np.exp(log_q_grid) * (model.log_joint(x, codes) - log_q_grid)) * cell_area,
    "three log terms": model.expected_log_likelihood(x, q_mean, q_log_var)
    + model.expected_log_prior(q_mean, q_log_var) + model.entropy(q_mean, q_log_var),
    "reconstruction - KL": model.expected_log_likelihood(x, q_mean, q_log_var)
    - probability.kl_to_standard_normal(q_mean, q_log_var),
}
route = {"joint + entropy": "grid integral", "three log terms": "closed form", "reconstruction - KL": "KL formula"}
codes_q = q_mean + np.exp(0.5 * q_log_var) * rng.standard_normal((100_000, LATENT_DIM))
log_q = probability.gaussian_log_density(codes_q, q_mean, q_log_var)
sampled = {
    "joint + entropy": model.log_joint(x, codes_q) + probability.gaussian_entropy(q_log_var, axis=-1),
    "three log terms": model.log_likelihood(x, codes_q) + model.log_prior(codes_q) - log_q,
    "reconstruction - KL": model.log_likelihood(x, codes_q) - probability.kl_to_standard_normal(q_mean, q_log_var),
}
print(f"{'form':<20} {'computed by':<14} {'value':>11} {'Monte Carlo (100,000 codes)':>30}")
for name in computed:
    estimate, standard_error = probability.monte_carlo_mean(sampled[name])
    print(f"{name:<20} {route[name]:<14} {computed[name]:>11.6f} {estimate:>20.3f} +- {standard_error:.3f}")
print(f"{'log p(x)':<35} {log_px:>11.6f}")
values = np.array(list(computed.values()))
print("the three computations agree within 1e-8:", bool(np.ptp(values) < 1e-8))


# %% [markdown]
# A brute-force integral over 641,601 codes, three expectations in closed form, and the KL formula of notebook 01 agree
# to every printed digit, and each Monte Carlo estimate lies within a few standard errors of them. All three stay below $\log p(x)$: this $q$ is not the
# posterior. Notice that the Monte Carlo errors differ between the forms: computing part of the ELBO in closed form (the
# entropy, or the KL) removes that part's sampling noise. That is why VAEs use the third form.
#
# ### Exercise 2: the closed-form ELBO of probabilistic PCA
#
# Write `elbo_ppca(x, q_mean, q_log_var, model)` for a diagonal Gaussian $q = \mathcal{N}\big(m, \operatorname{diag}(e^{v})\big)$,
# with $m$ = `q_mean` and $v$ = `q_log_var` (log-*variances*, as a VAE encoder outputs them):
#
# - Inputs: `x` of shape `(d,)` or `(N, d)`; `q_mean` and `q_log_var` of shape `(k,)` or `(N, k)`; `model` a `PPCA`
#   (use `model.weights` $W$, `model.bias` $b$, `model.noise_var` $\sigma^2$, or `model.decode(q_mean)` for $Wm + b$).
# - Return the ELBO in its third form, reconstruction minus KL, shape `()` or `(N,)`, in nats. Everything you need is
#   above: the expected log-likelihood of PPCA under a Gaussian $q$ with covariance $S$, and the KL from notebook 01
#   (`probability.kl_to_standard_normal(q_mean, q_log_var)` computes it). The one step left is the trace term for a
#   *diagonal* $S = \operatorname{diag}(e^{v})$; work it out on paper first. Make it work for a batch too: the sums run over
#   the last axis.
#
# <details><summary>Hint 1</summary>
#
# $\operatorname{tr}(W S W^\top) = \sum_{i} (W S W^\top)_{ii} = \sum_i \sum_j W_{ij}\, S_{jj}\, W_{ij}$ when $S$ is
# diagonal. Regroup the double sum by $j$.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# $\operatorname{tr}(W S W^\top) = \sum_j S_{jj} \lVert W_{:,j} \rVert^2$, where $W_{:,j}$ is the $j$-th column of $W$:
# each latent variance is weighted by the squared length of the column it multiplies. In NumPy, the squared column lengths
# are `np.sum(model.weights ** 2, axis=0)`, and `np.exp(q_log_var) @ that` does the weighted sum for one $q$ or a batch.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# $$\mathcal{L} = -\frac{d}{2}\log(2\pi\sigma^2) - \frac{\lVert x - b - Wm \rVert^2 + \sum_j e^{v_j} \lVert W_{:,j} \rVert^2}{2\sigma^2}
# - \mathrm{KL}\big(q \,\|\, \mathcal{N}(0, I)\big),$$
# with `model.decode(q_mean)` for $Wm + b$ and `model.noise_var` for $\sigma^2$.
#
# </details>

# %%
def elbo_ppca(x, q_mean, q_log_var, model):
    # TODO: return the expected log-likelihood under q minus KL(q || N(0, I)), in closed form
    ### BEGIN SOLUTION
    d = model.data_dim
    squared_error = np.sum((x - model.decode(q_mean)) ** 2, axis=-1)
    spread = np.exp(q_log_var) @ np.sum(model.weights**2, axis=0)
    reconstruction = -0.5 * d * np.log(2 * np.pi * model.noise_var) - (squared_error + spread) / (2 * model.noise_var)
    return reconstruction - probability.kl_to_standard_normal(q_mean, q_log_var)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb03.check_elbo_ppca(elbo_ppca)

# %% [markdown]
# ## 5. The gap is the KL, for any $q$
#
# Now the identity $\log p(x) - \mathcal{L}(q) = \mathrm{KL}(q \,\|\, p(z \mid x))$ can be tested to rounding error, not
# to Monte Carlo error. The cell draws six arbitrary diagonal Gaussians $q$, some near the posterior and some far from it,
# computes their ELBO with your `elbo_ppca`, and compares the gap with the KL from $q$ to the exact posterior, computed
# independently by the Gaussian KL formula.

# %%
# NBVAL_CHECK_OUTPUT
q_means = post_mean + rng.normal(scale=[[0.1], [0.1], [0.5], [0.5], [2.0], [2.0]], size=(6, LATENT_DIM))
q_log_vars = np.log(np.diag(post_cov)) + rng.normal(scale=1.0, size=(6, LATENT_DIM))
elbos = elbo_ppca(x, q_means, q_log_vars, model)
kls = model.kl_to_posterior(x, q_means, q_log_vars)
differences = log_px - elbos - kls
print(f"{'q':>2} {'log p(x)':>10} {'ELBO':>12} {'log p(x) - ELBO':>16} {'KL(q || p(z|x))':>16}")
for i in range(len(elbos)):
    print(f"{i + 1:>2} {log_px:>10.4f} {elbos[i]:>12.4f} {log_px - elbos[i]:>16.4f} {kls[i]:>16.4f}")
print("every |log p(x) - ELBO - KL| below 1e-10:", bool(np.all(np.abs(differences) < 1e-10)))

# %%
print("log p(x) - ELBO - KL for the six q:", "  ".join(f"{value:.1e}" for value in differences))

# %% [markdown]
# The differences are of order $10^{-14}$: rounding error in float64, for gaps that range from a fraction of a nat to
# hundreds. Now take the exact posterior as $q$. It has a full covariance (the posterior coordinates are correlated), so
# pass it as `q_cov`. Then compare with the best a *diagonal* $q$ can do: for $\mathrm{KL}(q \,\|\, p)$ with $p$ Gaussian,
# the optimal diagonal $q$ has the posterior mean and variances $1 / \Lambda_{jj}$, where $\Lambda$ is the posterior's
# precision (inverse covariance).

# %%
# NBVAL_CHECK_OUTPUT
elbo_exact_posterior = model.elbo(x, post_mean, q_cov=post_cov)
best_diagonal_log_var = -np.log(np.diag(np.linalg.inv(post_cov)))
elbo_best_diagonal = elbo_ppca(x, post_mean, best_diagonal_log_var, model)
correlation = post_cov[0, 1] / np.sqrt(post_cov[0, 0] * post_cov[1, 1])
print(f"log p(x)                         = {log_px:.6f}")
print(f"ELBO at the exact posterior      = {elbo_exact_posterior:.6f}   gap below 1e-10: "
      f"{abs(log_px - elbo_exact_posterior) < 1e-10}")
print(f"ELBO of the best diagonal q      = {elbo_best_diagonal:.6f}   gap = {log_px - elbo_best_diagonal:.4f} nats")
print(f"posterior correlation of z1, z2  = {correlation:.4f}")

# %% [markdown]
# At the exact posterior the bound is tight: the ELBO *is* $\log p(x)$. The best diagonal Gaussian stays a little below,
# because no diagonal $q$ can represent the correlation between the two posterior coordinates. A VAE's encoder outputs a
# diagonal Gaussian, so it pays a gap of this kind on every image; it is one reason the ELBO of a VAE is below its
# true log-likelihood (notebook 08 measures it for the VAE of notebook 05, in its section "2. Where the gap comes from").
#
# The figure sweeps a one-parameter family of $q$ through the exact posterior: $q_c = \mathcal{N}(m_{\text{post}},\ c\,
# S_{\text{post}})$ for scales $c$ from 0.05 to 20. Look at where the ELBO touches the horizontal line.

# %%
scales = np.geomspace(0.05, 20, 200)
elbo_curve = np.array([model.elbo(x, post_mean, q_cov=c * post_cov) for c in scales])
gap_curve = np.array([model.kl_to_posterior(x, post_mean, q_cov=c * post_cov) for c in scales])

fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 5), sharex=True, layout="constrained")
top.semilogx(scales, elbo_curve, label=r"ELBO $\mathcal{L}(q_c)$")
top.axhline(log_px, color="k", ls="--", lw=1, label=r"$\log p(x)$")
top.set(ylabel="nats", ylim=(log_px - 8, log_px + 1), title="Scaling the posterior covariance by $c$")
top.legend()
bottom.semilogx(scales, log_px - elbo_curve, lw=3, alpha=0.5, label=r"$\log p(x) - \mathcal{L}(q_c)$")
bottom.semilogx(scales, gap_curve, "k:", label=r"KL$(q_c \,\|\, p(z \mid x))$")
bottom.axvline(1.0, color="gray", lw=0.8)
bottom.set(xlabel="scale $c$ of the covariance of $q$", ylabel="nats", ylim=(0, 8))
bottom.legend();

# %% [markdown]
# The ELBO rises to $\log p(x)$ at $c = 1$, the exact posterior, and falls on both sides: a $q$ that is too narrow
# loses entropy, and one that is too wide spends probability on codes that explain $x$ badly, a cost that grows quickly
# with the width. The lower panel shows the two curves on top of each other: the
# gap and the KL are one and the same function of $q$.
#
# **Question.** A common mistake in Exercise 1 is to average the log-likelihoods, $\frac{1}{K}\sum_k \log p(x \mid z_k)$
# with $z_k \sim p(z)$, instead of taking the log of the average. Which quantity from this notebook does that number
# estimate, and how far is it from $\log p(x)$ here? (Hint: choose $q(z \mid x) = p(z)$ in the third form of the ELBO.)
#
# <!-- BEGIN SOLUTION -->
# It is an unbiased Monte Carlo estimate of the ELBO with $q(z \mid x) = p(z)$, the prior: with that choice
# $\mathrm{KL}(q \,\|\, p(z)) = 0$ and the ELBO is $\mathbb{E}_{p(z)}[\log p(x \mid z)]$. So it estimates a lower bound,
# below $\log p(x)$ by $\mathrm{KL}\big(p(z) \,\|\, p(z \mid x)\big)$, which is large because the prior is much wider than
# the posterior. The next cell computes it: here the gap is about 154 nats, and more samples do not shrink it.
# <!-- END SOLUTION -->

# %%
# NBVAL_CHECK_OUTPUT
prior_as_q = (np.zeros(LATENT_DIM), np.zeros(LATENT_DIM))
mean_of_logs = np.mean(model.log_likelihood(x, rng.standard_normal((100_000, LATENT_DIM))))
print(f"mean of log p(x | z_k) over 100,000 prior codes: {mean_of_logs:.3f}")
print(f"ELBO with q = p(z), closed form            : {elbo_ppca(x, *prior_as_q, model):.3f}")
print(f"log p(x)                                   : {log_px:.3f}")
print(f"KL(p(z) || p(z | x))                        : {model.kl_to_posterior(x, *prior_as_q):.3f}")

# %% [markdown]
# ## 6. Which KL? Mode-seeking and mass-covering
#
# Maximising the ELBO over $q$ minimises $\mathrm{KL}\big(q(z \mid x) \,\|\, p(z \mid x)\big)$, with $q$ in the *first*
# slot. Notebook 01 showed that the KL is not symmetric. So why this direction, and what does it do to the $q$ you get?
#
# **It is the direction you can compute.** Write it out and use $p(z \mid x) = p(x, z) / p(x)$:
#
# $$\mathrm{KL}\big(q \,\|\, p(z \mid x)\big) = \mathbb{E}_{q}\big[\log q(z \mid x) - \log p(x, z)\big] + \log p(x).$$
#
# The expectation is over $q$, which you chose and can sample; the posterior enters only through $\log p(x, z)$ and the
# unknown normaliser $\log p(x)$, a constant that does not depend on $q$. Minimising over $q$ therefore needs only samples
# from $q$ and the unnormalised joint: it is maximising the ELBO. The other direction,
#
# $$\mathrm{KL}\big(p(z \mid x) \,\|\, q\big) = \mathbb{E}_{p(z \mid x)}\big[\log p(z \mid x) - \log q(z \mid x)\big],$$
#
# is an expectation *under the posterior*: you would need samples from $p(z \mid x)$, the very thing sections 2 and 3
# showed you cannot get.
#
# **What the direction does to $q$.** $\mathrm{KL}(q \,\|\, p) = \mathbb{E}_q[\log q - \log p]$ is large wherever $q$ puts
# mass and $p$ has little, and it costs nothing to leave out a region where $p$ has mass. So $q$ is pushed to stay *inside*
# $p$: it is **mode-seeking** (also called zero-forcing or exclusive). $\mathrm{KL}(p \,\|\, q)$ is the reverse: it is
# infinite as soon as $q$ misses a region where $p$ has mass (the two-headed coin of notebook 01), so $q$ is pushed to
# *cover* all of $p$: it is **mass-covering** (zero-avoiding, inclusive). When $q$ can match $p$ exactly, both directions
# give $q = p$; the difference shows when $q$ is too simple.
#
# The demonstration: a bimodal $p = 0.6\, \mathcal{N}(-2, 0.6^2) + 0.4\, \mathcal{N}(2, 0.6^2)$ in one dimension, and a
# single Gaussian $q = \mathcal{N}(m, s^2)$. The next cell minimises each direction over $(m, s)$ by brute force, on a grid
# of 161 means and 121 widths, computing each KL by numerical integration.
#
# **Question.** Before you run it: where will each $q$ sit, and how wide will it be? For $\mathrm{KL}(p \,\|\, q)$ you can
# find the answer exactly: write $\mathrm{KL}(p \,\|\, q) = H(p, q) - H(p)$ and minimise the cross-entropy
# $-\mathbb{E}_p[\log q(z)]$ over $m$ and $s$.
#
# <!-- BEGIN SOLUTION -->
# Only the cross-entropy depends on $q$:
# $-\mathbb{E}_p[\log q(z)] = \tfrac12 \log(2\pi s^2) + \mathbb{E}_p\big[(z - m)^2\big] / (2 s^2)$. Its derivative in $m$
# vanishes at $m = \mathbb{E}_p[z]$, and then its derivative in $s$ vanishes at $s^2 = \operatorname{Var}_p[z]$: the
# mass-covering $q$ **matches the mean and the variance of $p$**. Here $\mathbb{E}_p[z] = 0.6 \cdot (-2) + 0.4 \cdot 2 = -0.4$
# and $\operatorname{Var}_p[z] = 0.6^2 + \mathbb{E}[\mu^2] - (\mathbb{E}[\mu])^2 = 0.36 + 4 - 0.16 = 4.2$, so $s \approx 2.05$:
# a wide Gaussian centred between the two modes, where $p$ itself has almost no mass. The mode-seeking $q$ instead sits on
# one mode with about that mode's width 0.6, and ignores the other mode. Which mode? Each is a local minimum of
# $\mathrm{KL}(q \,\|\, p)$; the heavier one at $-2$ is the better of the two (a $q$ on a mode of weight $w$ pays about
# $\log(1/w)$), and a gradient method started near the other would stay there.
# <!-- END SOLUTION -->

# %%
# NBVAL_CHECK_OUTPUT
z_line = np.linspace(-10.0, 10.0, 2001)
dz = z_line[1] - z_line[0]
log_p_mix = np.logaddexp(np.log(0.6) + probability.gaussian_log_density(z_line[:, None], -2.0, np.log(0.36)),
                         np.log(0.4) + probability.gaussian_log_density(z_line[:, None], 2.0, np.log(0.36)))
p_mix = np.exp(log_p_mix)
means = np.linspace(-4.0, 4.0, 161)
widths = np.geomspace(0.2, 4.0, 121)
kl_q_p = np.empty((len(means), len(widths)))  # KL(q || p), the direction of the ELBO
kl_p_q = np.empty_like(kl_q_p)                # KL(p || q)
for j, s in enumerate(widths):
    log_q_line = probability.gaussian_log_density(z_line[:, None, None], means[:, None], 2 * np.log(s))  # (2001, 161)
    kl_q_p[:, j] = np.sum(np.exp(log_q_line) * (log_q_line - log_p_mix[:, None]), axis=0) * dz
    kl_p_q[:, j] = np.sum(p_mix[:, None] * (log_p_mix[:, None] - log_q_line), axis=0) * dz

best = {}
for name, table in (("KL(q || p), mode-seeking", kl_q_p), ("KL(p || q), mass-covering", kl_p_q)):
    a, b = np.unravel_index(np.argmin(table), table.shape)
    best[name] = (means[a], widths[b])
    print(f"{name}: best q = N({means[a]:.2f}, {widths[b]:.2f}^2), KL = {table[a, b]:.3f} nats")
mean_p = np.sum(z_line * p_mix) * dz
print(f"mean and standard deviation of p: {mean_p:.2f}, {np.sqrt(np.sum((z_line - mean_p) ** 2 * p_mix) * dz):.2f}")

# %% [markdown]
# The figure shows the two fits on the left. On the right, each KL is minimised over the width $s$ for every mean $m$:
# look for the number of valleys in each curve.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
left.fill_between(z_line, p_mix, color="lightgray", label="$p$ (two modes)")
for (name, (m, s)), style in zip(best.items(), ("-", "--")):
    left.plot(z_line, np.exp(probability.gaussian_log_density(z_line[:, None], m, 2 * np.log(s))), style, label=name)
left.set(xlim=(-7, 7), xlabel="$z$", ylabel="density", title="the best single Gaussian, by each direction")
left.legend(fontsize=8)
right.plot(means, kl_q_p.min(axis=1), label=r"$\min_s$ KL$(q \,\|\, p)$")
right.plot(means, kl_p_q.min(axis=1), "--", label=r"$\min_s$ KL$(p \,\|\, q)$")
right.set(xlabel="mean $m$ of $q$", ylabel="nats", ylim=(0, 3), title="each KL, minimised over the width")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# Both predictions show up. Minimising $\mathrm{KL}(p \,\|\, q)$ gives $\mathcal{N}(-0.40,\ 2.04^2)$: the mean and the
# standard deviation of $p$ (the grid of widths just misses 2.05), a wide Gaussian whose peak sits in the valley between
# the modes, where $p$ has almost no mass. Minimising $\mathrm{KL}(q \,\|\, p)$ gives $\mathcal{N}(-2.00,\ 0.60^2)$: exactly
# the heavier mode, and nothing of the other one. Its KL, 0.510 nats, is almost exactly $\log(1/0.6) = 0.511$, the price of
# putting all of $q$ on a mode that holds 60% of $p$. The right panel shows why an optimiser can end on either mode:
# $\mathrm{KL}(q \,\|\, p)$ has two valleys, the second at the lighter mode (about $\log(1/0.4) \approx 0.92$ nats), while
# $\mathrm{KL}(p \,\|\, q)$ has one broad valley.
#
# The ELBO fits the encoder's $q(z \mid x)$ in the mode-seeking direction. When the true posterior has several modes, $q$
# settles on one; when the posterior has correlations that a diagonal $q$ cannot represent, $q$ shrinks rather than spill
# outside it. The PPCA posterior of section 5 shows the second effect. The next cell compares the variances of the best
# diagonal $q$ of section 5 with the posterior's marginal variances, which is what the mass-covering direction would give a
# diagonal $q$ (moment matching again, one coordinate at a time).

# %%
# NBVAL_CHECK_OUTPUT
print("posterior marginal variances (the best diagonal q under KL(p || q)):", np.round(np.diag(post_cov), 5))
print("variances of the best diagonal q under KL(q || p), the ELBO's      :", np.round(np.exp(best_diagonal_log_var), 5))

# %% [markdown]
# The ELBO's diagonal $q$ is narrower than the posterior in both coordinates: variances 0.00833 and 0.01991 against
# 0.01231 and 0.02945, in both cases $1 - \rho^2 = 0.676$ of them, with $\rho = -0.57$ the posterior correlation of
# section 5. The variance $1 / \Lambda_{jj}$ that it picks is the variance of $z_j$ *given* the other coordinate, smaller
# than its marginal variance whenever the two are correlated. A diagonal $q$ fitted by the ELBO therefore tends to
# *underestimate* the posterior's uncertainty, and so does a VAE's encoder.

# %% [markdown]
# ## 7. Where this leads
#
# Everything above was exact because the decoder was linear. In a VAE:
#
# - the decoder $G_\theta$ is a neural network, so $\log p(x)$ and the posterior $p(z \mid x)$ have no closed form;
# - $q_\phi(z \mid x) = \mathcal{N}\big(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x)\big)$ comes from an encoder network
#   that outputs $\mu$ and $\log \sigma^2$ for each image, a diagonal Gaussian like the ones in Exercise 2;
# - the ELBO is used in its third form: the KL to $\mathcal{N}(0, I)$ in closed form, the reconstruction term by Monte Carlo
#   with codes drawn from $q$, usually one per image per training step;
# - the encoder and decoder are trained together by gradient ascent on the ELBO. The gradient with respect to the encoder
#   has to pass through the act of sampling $z$ from $q$: notebook 04 shows how.
#
# This recipe, an encoder network that outputs $q_\phi(z \mid x)$ trained jointly with the decoder on the ELBO, is the
# variational autoencoder, published at the same time by Kingma & Welling (2014) and by Rezende, Mohamed & Wierstra (2014);
# Doersch (2016) is a gentle tutorial on it. Notebook 08 comes back to the bound itself: how far below $\log p(x)$ it sits
# for a trained VAE, and how importance weighting tightens it (its section "1. The ELBO is a lower bound; importance
# weighting tightens it").

# %% [markdown]
# ## Discussion
#
# 1. The ELBO is below $\log p(x)$ by $\mathrm{KL}(q \,\|\, p(z \mid x))$. When you maximise the ELBO over the decoder's
#    parameters, the posterior changes too. Can the decoder raise the ELBO by making its posterior easier for a diagonal
#    $q$ to match rather than by raising $\log p(x)$? What would that do to the learned model?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Yes. The gradient of the ELBO with respect to the decoder is the gradient of $\log p(x)$ *minus* the
# gradient of the gap, so the decoder is rewarded both for explaining the data and for making its own posterior easy to
# approximate, even at some cost in $\log p(x)$. For a VAE this means the learned model prefers posteriors that are close to
# factorised Gaussians: the approximation family shapes the model, not only the inference. The extreme case is a decoder
# that ignores some (or all) latent dimensions: then $p(z_j \mid x) = p(z_j)$, which $q$ matches exactly, so those dimensions
# cost nothing in the gap and carry no information. That is **posterior collapse**, the subject of notebook 08's section
# "5. Posterior collapse and two remedies".
# <!-- END SOLUTION -->
#
# 2. The importance-sampled estimate of section 2 used a $q$ wider than the posterior. What would happen to its variance
#    with a $q$ that is *narrower* than the posterior, or centred in the wrong place?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The variance of one weight $w = p(x, z)/q(z)$ is $p(x)^2\big(\mathbb{E}_q[(p(z \mid x)/q(z))^2] - 1\big)$,
# and the second moment $\int p(z \mid x)^2 / q(z)\, dz$ is dominated by the tails, where $q$ is small. A $q$ with lighter
# tails than the posterior makes the rare samples in the posterior's tails carry huge weights. For Gaussians the integral
# is finite only while the variance of $q$ exceeds *half* the posterior's (in each direction); below that the estimator is
# still unbiased but has infinite variance: most runs come out too low, and now and then one is far too high. A $q$ centred
# in the wrong place behaves like the prior in section 2: few samples land where the posterior is, and those few dominate
# the sum. That is why a proposal should be somewhat *wider* than the target, never narrower.
# <!-- END SOLUTION -->
#
# 3. Section 2 showed that the naive estimator's cost grows exponentially with the latent dimension. Does the ELBO of a
#    diagonal Gaussian $q$ suffer in the same way when $k$ grows? Why or why not?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** No. The ELBO is an average of *log*-weights under $q$, not of weights: the log turns the product over
# dimensions into a sum, so the variance of a one-sample estimate grows roughly linearly with the number of dimensions,
# not exponentially, and the KL part has a closed form with no sampling noise at all. And $q$ is fitted to sit where the
# posterior is, so its samples are not wasted the way prior samples are. What the ELBO pays instead is *bias*: the gap
# $\mathrm{KL}(q \,\|\, p(z \mid x))$, which can grow with $k$ when the posterior has structure (correlations, several
# modes) that a diagonal Gaussian cannot represent. The ELBO trades the naive estimator's variance for a bias you can
# control by choosing $q$.
# <!-- END SOLUTION -->
#
# 4. Averaging the log of the importance weights gives the ELBO; taking the log of the averaged weights gives an estimate
#    that approaches $\log p(x)$ as $K$ grows. Notebook 08 turns this into a tighter bound (its section "1. The ELBO is a
#    lower bound; importance weighting tightens it"). Why must the log-of-average estimate still be below $\log p(x)$ on
#    average for every finite $K$?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The average of $K$ weights, $\hat p_K = \frac1K \sum_k p(x, z_k)/q(z_k)$ with $z_k \sim q$, is an unbiased
# estimate of $p(x)$. The log is concave, so by Jensen's inequality
# $\mathbb{E}[\log \hat p_K] \le \log \mathbb{E}[\hat p_K] = \log p(x)$, for every $K$. Equality needs $\hat p_K$ to be
# constant, which happens only when every weight equals $p(x)$, that is when $q$ is the exact posterior (section 3). For
# $K = 1$ the left side is the ELBO; as $K$ grows the spread of $\hat p_K$ shrinks and the Jensen gap closes. (The section
# 2 table showed the same thing for the prior as proposal: mean log estimates below $\log p(x)$, approaching it as $K$ grew.)
# <!-- END SOLUTION -->
#
# ## Extension (open, ungraded)
#
# Learn a PPCA model by maximising the ELBO instead of the likelihood. Draw a few hundred observations from a PPCA model,
# then fit $W$ and $b$ (keep $\sigma$ fixed, or learn it too) by gradient ascent on the sum of the ELBOs, with one diagonal
# Gaussian $q$ per observation whose means and log-variances are learned as well (or with a linear *encoder*
# $q(z \mid x) = \mathcal{N}(Ax + c, \operatorname{diag} e^{v})$, as a VAE would). Compare the fitted model's exact
# $\log p(x)$ with that of the maximum-likelihood solution, which for PPCA is known in closed form (Tipping & Bishop, 1999:
# the top principal directions, scaled). Is the ELBO-trained $W$ different, in the way discussion question 1 predicts? Does
# the difference shrink when $q$ has a full covariance?
#
# ## References
#
# - D. P. Kingma and M. Welling. *Auto-Encoding Variational Bayes.* ICLR 2014. arXiv:1312.6114.
# - D. J. Rezende, S. Mohamed and D. Wierstra. *Stochastic Backpropagation and Approximate Inference in Deep Generative
#   Models.* ICML 2014. arXiv:1401.4082.
# - C. Doersch. *Tutorial on Variational Autoencoders.* 2016. arXiv:1606.05908.
# - M. E. Tipping and C. M. Bishop. *Probabilistic Principal Component Analysis.* Journal of the Royal Statistical Society B,
#   61(3), 1999.
