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
# # 01 · Probability toolkit
#
# A variational autoencoder is trained by minimising a sum of two terms: a reconstruction term, which is a negative log
# likelihood, and a Kullback-Leibler (KL) divergence between two Gaussians. Both come from a handful of ideas about
# probability distributions: conditioning, entropy, cross-entropy and KL divergence. This notebook builds those ideas one at
# a time, derives the two formulas the VAE needs, and checks every claim with numbers.
#
# **What you will learn**
#
# - Read a conditional distribution as a slice of the joint distribution, renormalised.
# - Compute entropy and cross-entropy, and read them as average negative log likelihoods (under the right and the wrong model).
# - Show that $\mathrm{KL}(p \,\|\, q) = H(p, q) - H(p) \ge 0$, that it is zero only when $p = q$, and that it is not symmetric.
# - Derive on paper the closed-form KL between two univariate Gaussians and prove that KL adds up over independent dimensions; confirm both against a Monte Carlo estimate with a standard error.
# - Explain why binary cross-entropy on a pixel is the negative log likelihood of a Bernoulli distribution, and why it should be computed from logits.
#
# **Time:** about 60 minutes. **Prerequisites:** none (basic calculus and NumPy). All logarithms are natural, so every
# information quantity is in **nats**.

# %% tags=["parameters"]
from workshop import fast_mode, seed_everything

FAST = fast_mode()        # True in CI or with WORKSHOP_FAST=1; this notebook is cheap, so FAST changes nothing here
rng = seed_everything(0)  # Python, NumPy and Keras seeded once; same seed -> same numbers in a fresh process
NUM_SAMPLES = 100_000     # Monte Carlo sample size, the same in fast and full runs so the checked numbers agree

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

from workshop import checks, probability

# %% [markdown]
# ## 1. Conditional probability: a slice of the joint, renormalised
#
# For two events, $P(A \mid B) = P(A \cap B) / P(B)$. For two random variables with a joint distribution $p(x, y)$ the
# same rule reads
#
# $$p(x \mid y) = \frac{p(x, y)}{p(y)}, \qquad p(y) = \sum_x p(x, y) \quad \Big(\text{or } \int p(x, y)\, dx\Big).$$
#
# Read it as an operation on the joint table: fix the value of $y$ you observed, keep only that column of $p(x, y)$, and
# divide by the column's total so that it sums to one again. Nothing else changes; the relative sizes of the entries in the
# column are kept. A VAE's posterior $p(z \mid x)$ is exactly this operation, on a table far too large to write down.
#
# Here is a small joint distribution of today's weather $w$ and whether a colleague brings an umbrella $u$.

# %%
# NBVAL_CHECK_OUTPUT
weather = ["sunny", "cloudy", "rainy"]
joint = np.array([
    [0.40, 0.05],   # sunny:  p(w, no umbrella), p(w, umbrella)
    [0.20, 0.10],   # cloudy
    [0.05, 0.20],   # rainy
])
print(f"the joint sums to {joint.sum():.2f}")

p_weather = joint.sum(axis=1)   # marginal p(w): sum out the umbrella
p_umbrella = joint.sum(axis=0)  # marginal p(u): sum out the weather
column = joint[:, 1]            # the slice u = umbrella
p_weather_given_umbrella = column / column.sum()

print(f"p(umbrella) = {p_umbrella[1]:.2f}")
for name, prior, posterior in zip(weather, p_weather, p_weather_given_umbrella):
    print(f"{name:>6}: p(w) = {prior:.3f}   p(w | umbrella) = {posterior:.3f}")

# Both ways of factorising the joint give the same table (Bayes' rule).
p_umbrella_given_weather = joint / p_weather[:, None]
print("p(u | w) p(w) == p(w | u) p(u):",
      np.allclose(p_umbrella_given_weather[:, 1] * p_weather, p_weather_given_umbrella * p_umbrella[1]))

# %% [markdown]
# Seeing the umbrella moves probability towards rain: $p(\text{rainy})$ goes from 0.25 to 0.571. The conditional column
# keeps the ratios $0.05 : 0.10 : 0.20$ of the joint and only rescales them by $1 / p(\text{umbrella})$.
#
# ## 2. Entropy: how uncertain a distribution is
#
# The **entropy** of a distribution $p$ is the average surprise $-\log p(x)$ of its own outcomes:
#
# $$H(p) = -\mathbb{E}_{x \sim p}\big[\log p(x)\big] = -\sum_k p_k \log p_k .$$
#
# A sure outcome has entropy 0; the uniform distribution over $K$ outcomes has the largest possible, $\log K$. Terms with
# $p_k = 0$ contribute nothing, because $p \log p \to 0$ as $p \to 0$. Entropy is also an **expected negative log
# likelihood**: the average NLL that the *correct* model $p$ assigns to data that really come from $p$. The cell below
# computes it from the formula and, as that reading suggests, by averaging $-\log p(x)$ over samples $x \sim p$.

# %%
examples = {
    "certain": np.array([1.0, 0.0, 0.0, 0.0]),
    "peaked": np.array([0.7, 0.1, 0.1, 0.1]),
    "uniform": np.array([0.25, 0.25, 0.25, 0.25]),
}
for name, p in examples.items():
    samples = rng.choice(len(p), size=NUM_SAMPLES, p=p)
    average_surprise = np.mean(-np.log(p[samples]))
    print(f"{name:>8}: H(p) = {probability.entropy(p) + 0.0:.4f} nats, mean of -log p(x) over samples = {average_surprise:.4f}")
print(f"log 4 = {np.log(4):.4f}")

# %% [markdown]
# ### The entropy of a Gaussian grows with $\log \sigma^2$
#
# For a continuous variable the sum becomes an integral, $H(p) = -\int p(x) \log p(x)\, dx$ (the *differential* entropy).
# For $p = \mathcal{N}(\mu, \sigma^2)$, start from the log density
#
# $$\log p(x) = -\tfrac12 \log(2\pi\sigma^2) - \frac{(x - \mu)^2}{2\sigma^2},$$
#
# and take the expectation under $p$. The only random part is $(x - \mu)^2$, whose mean is the variance $\sigma^2$:
#
# $$H\big(\mathcal{N}(\mu, \sigma^2)\big) = \tfrac12 \log(2\pi\sigma^2) + \frac{\sigma^2}{2\sigma^2}
# = \tfrac12 \big(\log 2\pi + 1 + \log \sigma^2\big).$$
#
# The mean $\mu$ drops out (shifting a distribution does not change its uncertainty), and the entropy is a straight line
# in $\log\sigma^2$ with slope $\tfrac12$: every doubling of the variance adds $\tfrac12 \log 2 \approx 0.347$ nats. Unlike a
# discrete entropy it can be negative, once $\sigma^2 < 1 / (2\pi e)$. The check: the formula against the average of
# $-\log p(x)$ over samples.

# %%
log_vars = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0])
exact = probability.gaussian_entropy(log_vars)
estimates = []
for log_var in log_vars:
    x = np.exp(0.5 * log_var) * rng.standard_normal(NUM_SAMPLES)
    estimates.append(np.mean(-probability.gaussian_log_density(x, 0.0, log_var, axis=None)))
estimates = np.array(estimates)
print("log sigma^2   H (formula)   H (Monte Carlo)")
for log_var, h, h_mc in zip(log_vars, exact, estimates):
    print(f"{log_var:10.1f}   {h:11.4f}   {h_mc:15.4f}")
print("increase per unit of log sigma^2:", np.round(np.diff(exact), 4))

# %% [markdown]
# The figure shows three of these Gaussians on the left and the entropy against $\log \sigma^2$ on the right. Look for a
# straight line through the Monte Carlo points, with slope one half.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
grid = np.linspace(-6, 6, 400)
for log_var in (-1.0, 0.0, 1.0):
    density = np.exp(probability.gaussian_log_density(grid, 0.0, log_var, axis=None))
    entropy = probability.gaussian_entropy(log_var)
    left.plot(grid, density, label=rf"$\log\sigma^2 = {log_var:.0f}$, $H = {entropy:.2f}$ nats")
left.set_xlabel("$x$")
left.set_ylabel("density $p(x)$")
left.set_title("wider Gaussians are more uncertain")
left.legend(fontsize=8)

line = np.linspace(-3.5, 2.5, 50)
right.plot(line, probability.gaussian_entropy(line), color="black", label=r"$\frac{1}{2}(\log 2\pi + 1 + \log\sigma^2)$")
right.plot(log_vars, estimates, "o", color="tab:orange", label="Monte Carlo")
right.axhline(0.0, color="grey", lw=0.5)
right.set_xlabel(r"$\log \sigma^2$")
right.set_ylabel("entropy $H$ (nats)")
right.set_title("Gaussian entropy is linear in $\\log\\sigma^2$")
right.legend(fontsize=8)
plt.show()

# %% [markdown]
# The entropy line crosses zero near $\log\sigma^2 = -2.84$: a very narrow Gaussian has negative differential entropy.
# Keep this in mind for the VAE, where the encoder outputs $\log\sigma^2$ for each latent dimension: a small
# $\log\sigma^2$ means a confident, low-entropy code.
#
# ## 3. Cross-entropy: the average NLL under the wrong model
#
# Suppose the data come from $p$ but you score them with a model $q$. The average negative log likelihood you pay is the
# **cross-entropy**
#
# $$H(p, q) = -\mathbb{E}_{x \sim p}\big[\log q(x)\big] = -\sum_k p_k \log q_k .$$
#
# With $q = p$ it is the entropy again. Training a classifier or a decoder by minimising the average NLL of the training
# data is minimising a cross-entropy, with $p$ the data distribution and $q$ the model. Below, a loaded die (a six half of
# the time) is scored by a fair-die model and by an over-confident one; each cross-entropy is computed from the formula and
# by averaging $-\log q(x)$ over rolls of the loaded die.

# %%
loaded = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.5])        # p: where the rolls come from
models = {
    "the true die p": loaded,
    "a fair die": np.full(6, 1 / 6),
    "an over-confident die": np.array([0.04, 0.04, 0.04, 0.04, 0.04, 0.8]),
}
rolls = rng.choice(6, size=NUM_SAMPLES, p=loaded)
print(f"H(p) = {probability.entropy(loaded):.4f} nats")
for name, q in models.items():
    average_nll = np.mean(-np.log(q[rolls]))
    print(f"scored by {name:>22}: H(p, q) = {probability.cross_entropy(loaded, q):.4f}, "
          f"average NLL of the rolls = {average_nll:.4f}")


# %% [markdown]
# Every wrong model pays more than $H(p)$ on average, and the right one pays exactly $H(p)$. The excess is the next
# quantity.
#
# ## 4. KL divergence: the excess cost of the wrong model
#
# The **Kullback-Leibler divergence** of $q$ from $p$ is the extra average NLL paid for using $q$ when the data come from $p$:
#
# $$\mathrm{KL}(p \,\|\, q) = H(p, q) - H(p) = \mathbb{E}_{x \sim p}\big[\log p(x) - \log q(x)\big]
# = \sum_k p_k \log \frac{p_k}{q_k}.$$
#
# It is the expected log of the likelihood ratio $p(x)/q(x)$, with $x$ drawn from $p$.
#
# **It is never negative (Gibbs' inequality).** The logarithm is concave, so Jensen's inequality gives
# $\mathbb{E}[\log Y] \le \log \mathbb{E}[Y]$ for any positive random variable $Y$. Take $Y = q(x)/p(x)$ with $x \sim p$ and
# sum only over the outcomes with $p_k > 0$ (the others do not appear in the expectation):
#
# $$-\mathrm{KL}(p \,\|\, q) = \sum_{k:\, p_k > 0} p_k \log \frac{q_k}{p_k}
# \;\le\; \log \sum_{k:\, p_k > 0} p_k \frac{q_k}{p_k} = \log \sum_{k:\, p_k > 0} q_k \;\le\; \log 1 = 0 .$$
#
# **It is zero only when $p = q$.** Jensen's inequality is an equality only when $Y$ is constant, here
# $q_k = c\, p_k$ wherever $p_k > 0$; the last step is an equality only when $q$ puts no mass outside that set. Together
# they force $c = 1$ and $q = p$.
#
# **It is not symmetric.** $\mathrm{KL}(p \,\|\, q)$ averages over $p$ and $\mathrm{KL}(q \,\|\, p)$ over $q$; nothing makes the two
# equal, and they usually are not.
#
# ### Exercise 1: `kl_divergence(p, q)`
#
# Write `kl_divergence(p, q)` for discrete distributions. `p` and `q` are NumPy arrays of the same shape whose **last axis**
# holds probabilities (each sums to 1); a 1-D array is one distribution, a 2-D array of shape `(N, K)` is a batch of `N`.
# Return $\sum_k p_k \log(p_k / q_k)$ summed over the last axis only (a number for 1-D inputs, shape `(N,)` for a batch),
# in nats. A term with $p_k = 0$ counts as 0; NumPy would give `0 * log(0) = nan`, so mask it with `np.where`.

# %%
def kl_divergence(p, q):
    # Inputs: probability arrays of the same shape; output: KL(p || q) over the last axis, in nats.
    p = np.asarray(p, dtype="float64")
    q = np.asarray(q, dtype="float64")
    # TODO: return the sum over the last axis of p_k * log(p_k / q_k), with terms where p_k = 0 set to 0
    ### BEGIN SOLUTION
    safe_p = np.where(p > 0, p, 1.0)
    with np.errstate(divide="ignore"):
        terms = np.where(p > 0, p * np.log(safe_p / q), 0.0)
    return np.sum(terms, axis=-1)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb01.check_kl_divergence(kl_divergence)

# %% [markdown]
# ### Exercise 2 (written): why is KL not a distance?
#
# People often call the KL divergence a "distance" between distributions. Give two reasons why it is not a distance in the
# mathematical sense (a metric), and one reason why it is still a sensible measure of how badly $q$ stands in for $p$.
# Answer before you run the next cells: they test the properties of section 4 with your function, and show the answer.
#
# <!-- BEGIN SOLUTION -->
# A metric must be symmetric, $d(p, q) = d(q, p)$, and satisfy the triangle inequality,
# $d(p, r) \le d(p, q) + d(q, r)$. KL does neither: below, $\mathrm{KL}(p \,\|\, q) = 0.486$ but
# $\mathrm{KL}(q \,\|\, p) = 0.607$; and for the coins $a = (0.1, 0.9)$, $b = (0.3, 0.7)$, $c = (0.5, 0.5)$,
# $\mathrm{KL}(a \,\|\, c) = 0.368$ exceeds $\mathrm{KL}(a \,\|\, b) + \mathrm{KL}(b \,\|\, c) = 0.116 + 0.082 = 0.199$
# (the cells below compute these). It can also be infinite between two perfectly ordinary distributions. It is still a
# sensible measure of mismatch because it is never negative, is zero only when $q = p$, and has a meaning in the units
# that matter for learning: the extra nats per observation that using $q$ instead of $p$ costs, on data drawn from $p$.
# <!-- END SOLUTION -->

# %% [markdown]
# Now the three properties, with your function. First the identity with the cross-entropy on the loaded die, then the sign
# of the KL over many random pairs of distributions, then the asymmetry on one pair.

# %%
fair = np.full(6, 1 / 6)
print(f"KL(loaded || fair)           = {kl_divergence(loaded, fair):.4f}")
print(f"H(loaded, fair) - H(loaded)  = {probability.cross_entropy(loaded, fair) - probability.entropy(loaded):.4f}")

# 10,000 random pairs of distributions over 6 outcomes (Dirichlet draws are random probability vectors).
p_batch = rng.dirichlet(np.ones(6), size=10_000)
q_batch = rng.dirichlet(np.ones(6), size=10_000)
kls = kl_divergence(p_batch, q_batch)
print(f"smallest KL over 10,000 random pairs: {kls.min():.5f} (negative ones: {np.sum(kls < 0)})")
print(f"largest |KL(p || p)| over the same p: {np.abs(kl_divergence(p_batch, p_batch)).max():.1e}")

# %%
# NBVAL_CHECK_OUTPUT
p = np.array([0.80, 0.15, 0.05])
q = np.array([1 / 3, 1 / 3, 1 / 3])
print(f"KL(p || q) = {kl_divergence(p, q):.4f} nats")
print(f"KL(q || p) = {kl_divergence(q, p):.4f} nats")

# A model that rules out an outcome the data can produce pays an infinite price; the reverse is finite.
coin = np.array([0.5, 0.5])
two_headed = np.array([1.0, 0.0])
print(f"KL(fair coin || two-headed coin) = {kl_divergence(coin, two_headed)}")
print(f"KL(two-headed coin || fair coin) = {kl_divergence(two_headed, coin):.4f} nats")

# %% [markdown]
# The two directions differ by about 25 % on the first pair, and by infinitely much on the coins: $\mathrm{KL}(p \,\|\, q)$
# punishes a $q$ that gives (almost) zero probability to something $p$ does, while outcomes that $p$ never produces cost
# nothing, whatever $q$ says about them. In a VAE the KL is taken as $\mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big)$, with the
# encoder's distribution first; notebook 03, in its section "6. Which KL? Mode-seeking and mass-covering", explains why
# that direction is the one you can compute, and what it does to the distribution you fit.

# %%
a, b, c = np.array([0.1, 0.9]), np.array([0.3, 0.7]), np.array([0.5, 0.5])
print(f"KL(a || c) = {kl_divergence(a, c):.3f}")
print(f"KL(a || b) + KL(b || c) = {kl_divergence(a, b):.3f} + {kl_divergence(b, c):.3f} = "
      f"{kl_divergence(a, b) + kl_divergence(b, c):.3f}")


# %% [markdown]
# ## 5. The KL between two Gaussians, in closed form
#
# The VAE's regulariser is a KL between Gaussians, and for Gaussians the expectation in the definition can be done by
# hand: no sampling, no numerical integration. Lecture 000 leaves this derivation to you, and so does this notebook.
#
# ### Exercise 3 (pen and paper): the KL between two univariate Gaussians
#
# Let $p = \mathcal{N}(\mu_1, \sigma_1^2)$ and $q = \mathcal{N}(\mu_2, \sigma_2^2)$. Starting from
# $\mathrm{KL}(p \,\|\, q) = \mathbb{E}_{x \sim p}\big[\log p(x) - \log q(x)\big]$ and the Gaussian log density of section 2,
# derive a closed form for $\mathrm{KL}(p \,\|\, q)$ in terms of $\mu_1, \sigma_1, \mu_2, \sigma_2$. Then test your result:
# it must be 0 when the two Gaussians are equal, and for $p = \mathcal{N}(1, 1)$, $q = \mathcal{N}(0, 1)$ it must be
# 0.5 nats (the Monte Carlo table further down has more cases to test it on).
#
# <details><summary>Hint 1</summary>
#
# Write $\log p(x) - \log q(x)$ out. The $\log 2\pi$ terms cancel; what is left is a constant and two squares,
# $(x - \mu_1)^2$ and $(x - \mu_2)^2$, each divided by a variance. The expectation is under $p$, so you need
# $\mathbb{E}_p[(x - \mu_1)^2]$ and $\mathbb{E}_p[(x - \mu_2)^2]$.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# $\mathbb{E}_p[(x - \mu_1)^2] = \sigma_1^2$ by the definition of the variance. For the other one, write
# $x - \mu_2 = (x - \mu_1) + (\mu_1 - \mu_2)$, expand the square, and use $\mathbb{E}_p[x - \mu_1] = 0$.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# $\mathbb{E}_p[(x - \mu_2)^2] = \sigma_1^2 + (\mu_1 - \mu_2)^2$. Put the three expectations back into the log ratio:
# the term from $(x - \mu_1)^2$ becomes the constant $-\tfrac12$, and the log of the ratio of the two normalising
# constants becomes $\log(\sigma_2 / \sigma_1)$.
#
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.**
#
# **Step 1: the log ratio.** Subtract the two log densities; the $\log 2\pi$ terms cancel:
#
# $$\log p(x) - \log q(x) = \tfrac12 \log \frac{\sigma_2^2}{\sigma_1^2} - \frac{(x - \mu_1)^2}{2\sigma_1^2} + \frac{(x - \mu_2)^2}{2\sigma_2^2}.$$
#
# **Step 2: the two expectations under $p$.** By definition of the variance, $\mathbb{E}_p[(x - \mu_1)^2] = \sigma_1^2$.
# For the other square, write $x - \mu_2 = (x - \mu_1) + (\mu_1 - \mu_2)$ and expand:
#
# $$\mathbb{E}_p\big[(x - \mu_2)^2\big] = \mathbb{E}_p\big[(x - \mu_1)^2\big] + 2(\mu_1 - \mu_2)\,\mathbb{E}_p[x - \mu_1] + (\mu_1 - \mu_2)^2
# = \sigma_1^2 + 0 + (\mu_1 - \mu_2)^2 .$$
#
# **Step 3: put them together.**
#
# $$\mathrm{KL}(p \,\|\, q) = \tfrac12 \log \frac{\sigma_2^2}{\sigma_1^2} - \frac{\sigma_1^2}{2\sigma_1^2} + \frac{\sigma_1^2 + (\mu_1 - \mu_2)^2}{2\sigma_2^2}
# = \log \frac{\sigma_2}{\sigma_1} + \frac{\sigma_1^2 + (\mu_1 - \mu_2)^2}{2\sigma_2^2} - \frac12 .$$
#
# Both tests pass: equal parameters give $0 + \tfrac12 - \tfrac12 = 0$, and $\mu_1 = 1$, $\mu_2 = 0$, $\sigma_1 = \sigma_2 = 1$
# give $0 + \tfrac{1 + 1}{2} - \tfrac12 = 0.5$. This is the formula stated in lecture 000.
# <!-- END SOLUTION -->
#
# ### Exercise 4: `gaussian_kl(mu1, log_var1, mu2, log_var2)`
#
# An encoder network does not output $\sigma$: it outputs the **log-variance** $\ell = \log \sigma^2$, which can be any real
# number, so no positivity constraint is needed. Rewrite your result of Exercise 3 in terms of $\mu_1, \ell_1, \mu_2, \ell_2$
# (on paper first), then implement it. The four arguments are numbers or NumPy arrays that broadcast against each other;
# compute elementwise (no sum) and return an array of the broadcast shape (or a number). `log_var1` and `log_var2` are
# $\log\sigma^2$, not $\log\sigma$. Use `np.exp`, not `math.exp`, so that arrays work.
#
# <details><summary>Hint 1</summary>
#
# $\sigma^2 = e^{\ell}$, and $\log(\sigma_2 / \sigma_1) = \tfrac12 \log(\sigma_2^2 / \sigma_1^2) = \tfrac12(\ell_2 - \ell_1)$.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# Every term of your result has, or can be given, a factor $\tfrac12$: take it out in front of one bracket. Inside the
# bracket the variances appear only as $e^{\ell_1}$ and $e^{\ell_2}$.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# $$\mathrm{KL}\big(\mathcal{N}(\mu_1, e^{\ell_1}) \,\big\|\, \mathcal{N}(\mu_2, e^{\ell_2})\big)
# = \tfrac12 \Big[\ell_2 - \ell_1 + \frac{e^{\ell_1} + (\mu_1 - \mu_2)^2}{e^{\ell_2}} - 1\Big].$$
#
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.** With $\sigma^2 = e^{\ell}$ and $\log(\sigma_2 / \sigma_1) = \tfrac12(\ell_2 - \ell_1)$:
#
# $$\boxed{\;\mathrm{KL}\big(\mathcal{N}(\mu_1, e^{\ell_1}) \,\big\|\, \mathcal{N}(\mu_2, e^{\ell_2})\big)
# = \tfrac12 \Big[\ell_2 - \ell_1 + \frac{e^{\ell_1} + (\mu_1 - \mu_2)^2}{e^{\ell_2}} - 1\Big].\;}$$
#
# With $q = \mathcal{N}(0, 1)$ ($\mu_2 = \ell_2 = 0$) it becomes $\tfrac12\big[e^{\ell_1} + \mu_1^2 - 1 - \ell_1\big]$, the
# KL term of every VAE in this course (notebook 05).
# <!-- END SOLUTION -->

# %%
def gaussian_kl(mu1, log_var1, mu2, log_var2):
    # KL(N(mu1, exp(log_var1)) || N(mu2, exp(log_var2))), elementwise, in nats.
    # TODO: your closed form from Exercise 3, written with the log-variances (Exercise 4)
    ### BEGIN SOLUTION
    var1, var2 = np.exp(log_var1), np.exp(log_var2)
    return 0.5 * (log_var2 - log_var1 + (var1 + (mu1 - mu2) ** 2) / var2 - 1.0)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb01.check_gaussian_kl(gaussian_kl)


# %% [markdown]
# ### Checking the closed form by Monte Carlo
#
# Any expectation can be estimated by an average over samples. With $z_1, \dots, z_n$ drawn independently from $p$,
#
# $$\widehat{\mathrm{KL}} = \frac1n \sum_{i=1}^n \big[\log p(z_i) - \log q(z_i)\big], \qquad
# \mathrm{SE} = \frac{s}{\sqrt n},$$
#
# where $s$ is the sample standard deviation of the $n$ terms. The estimate is unbiased, and by the central limit theorem
# its error is roughly Gaussian with standard deviation SE, the **standard error**. So the closed form should lie within
# about 3 standard errors of the estimate; the **z-score** $(\widehat{\mathrm{KL}} - \mathrm{KL}) / \mathrm{SE}$ measures
# the distance in those units.
#
# To draw $z \sim \mathcal{N}(\mu, \sigma^2)$, draw $\varepsilon \sim \mathcal{N}(0, 1)$ and set
# $z = \mu + \sigma\varepsilon$ with $\sigma = e^{\ell / 2}$ (notebook 04 turns this into the reparameterization trick).
#
# ### Exercise 5: `monte_carlo_kl(mu1, log_var1, mu2, log_var2, num_samples, rng)`
#
# The parameters are NumPy arrays of shape `(d,)` describing two Gaussians with **independent dimensions** (diagonal
# covariance); `d = 1` is the univariate case. Estimate $\mathrm{KL}(p \,\|\, q)$, $p = \mathcal{N}(\mu_1, \mathrm{diag}\, e^{\ell_1})$,
# $q = \mathcal{N}(\mu_2, \mathrm{diag}\, e^{\ell_2})$, from `num_samples` draws, and return the pair
# `(estimate, standard_error)` defined above. Two conventions, so that your numbers can be compared with the reference:
# draw all the noise in one call, `rng.standard_normal((num_samples, d))`, and use the sample standard deviation with
# `ddof=1`. `probability.gaussian_log_density(z, mu, log_var)` gives the log density of a diagonal Gaussian at each row of
# `z`, summed over the `d` dimensions.
#
# <details><summary>Hint 1</summary>
#
# Read the definition $\mathrm{KL}(p \,\|\, q) = \mathbb{E}_{z \sim p}[\log p(z) - \log q(z)]$ as a recipe: which
# distribution do the samples come from, and which number do you compute for each sample?
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# The samples come from $p$, the *first* Gaussian, built from the noise with its mean and its standard deviation
# $e^{\ell_1 / 2}$ (not $e^{\ell_1}$: that is the variance). Each sample gives one term $\log p(z) - \log q(z)$, so you get
# an array of `num_samples` terms; the estimate is their mean and the standard error their spread divided by $\sqrt{n}$.
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# `z = mu1 + np.exp(0.5 * log_var1) * rng.standard_normal((num_samples, len(mu1)))`;
# `terms = probability.gaussian_log_density(z, mu1, log_var1) - probability.gaussian_log_density(z, mu2, log_var2)`;
# return `terms.mean()` and `terms.std(ddof=1) / np.sqrt(num_samples)`.
#
# </details>

# %%
def monte_carlo_kl(mu1, log_var1, mu2, log_var2, num_samples, rng):
    # Returns (estimate, standard_error) of KL(N(mu1, diag exp(log_var1)) || N(mu2, diag exp(log_var2))).
    # TODO: sample z from the first Gaussian, average log p(z) - log q(z), and return it with its standard error
    ### BEGIN SOLUTION
    eps = rng.standard_normal((num_samples, len(mu1)))
    z = mu1 + np.exp(0.5 * log_var1) * eps
    terms = probability.gaussian_log_density(z, mu1, log_var1) - probability.gaussian_log_density(z, mu2, log_var2)
    return terms.mean(), terms.std(ddof=1) / np.sqrt(num_samples)
    ### END SOLUTION


# %%
# NBVAL_CHECK_OUTPUT
checks.nb01.check_monte_carlo_kl(monte_carlo_kl)

# %% [markdown]
# Now compare your two functions on a few pairs of univariate Gaussians, with a fixed sample size and the notebook's
# generator, so the numbers are the same on every run. The last pair is the reverse of the one before it.

# %%
# NBVAL_CHECK_OUTPUT
pairs = [  # (mu1, log_var1, mu2, log_var2)
    (0.0, 0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0, 0.0),
    (0.5, -1.0, -0.5, 0.7),
    (0.0, 0.0, 1.0, np.log(4.0)),
    (1.0, np.log(4.0), 0.0, 0.0),
]
print(" mu1  logvar1   mu2  logvar2 | analytic | Monte Carlo +- SE  |  z-score | |z| < 3")
for mu1, lv1, mu2, lv2 in pairs:
    exact = gaussian_kl(mu1, lv1, mu2, lv2)
    estimate, se = monte_carlo_kl(np.array([mu1]), np.array([lv1]), np.array([mu2]), np.array([lv2]), NUM_SAMPLES, rng)
    z = (estimate - exact) / se if se > 0 else 0.0
    print(f"{mu1:4.1f} {lv1:8.3f} {mu2:5.1f} {lv2:8.3f} | {exact:8.4f} | {estimate:8.4f} +- {se:.4f} | "
          f"{z:8.2f} | {abs(z) < 3}")

# %% [markdown]
# Every closed-form value lies within 3 standard errors of its Monte Carlo estimate (for identical Gaussians every term is
# exactly 0, so the standard error is 0 too). The last two rows show the asymmetry once more:
# $\mathrm{KL}\big(\mathcal{N}(0, 1) \,\|\, \mathcal{N}(1, 4)\big) \ne \mathrm{KL}\big(\mathcal{N}(1, 4) \,\|\, \mathcal{N}(0, 1)\big)$.
#
# ### Exercise 6 (pen and paper): KL adds up over independent dimensions
#
# A VAE's encoder outputs a Gaussian with a diagonal covariance: $d$ independent coordinates, and the prior
# $\mathcal{N}(0, I)$ has independent coordinates too. Prove that for two distributions that both factorise,
#
# $$\mathrm{KL}\big(p_x\, p_y \,\big\|\, q_x\, q_y\big) = \mathrm{KL}(p_x \,\|\, q_x) + \mathrm{KL}(p_y \,\|\, q_y),$$
#
# where $p_x p_y$ denotes the joint density $p_x(x)\, p_y(y)$ of two independent variables, and conclude that for $d$
# independent coordinates $\mathrm{KL}(p \,\|\, q) = \sum_{j=1}^d \mathrm{KL}(p_j \,\|\, q_j)$. (This is the second result
# lecture 000 asks you to prove.)
#
# <details><summary>Hint 1</summary>
#
# Start from the definition, an expectation under the joint $p_x(x)\, p_y(y)$, and take the log of the ratio of the two
# products.
#
# </details>
#
# <details><summary>Hint 2</summary>
#
# The log of a ratio of products is a sum of two log ratios, one depending on $x$ only and one on $y$ only. The
# expectation of a sum is the sum of the expectations. What is $\iint p_x(x)\, p_y(y)\, g(x)\, dx\, dy$ for a function
# $g$ of $x$ alone?
#
# </details>
#
# <details><summary>Hint 3</summary>
#
# $\iint p_x(x)\, p_y(y)\, g(x)\, dx\, dy = \int p_x(x)\, g(x) \Big(\int p_y(y)\, dy\Big) dx = \mathbb{E}_{p_x}[g(x)]$,
# because $p_y$ integrates to 1. With $g = \log(p_x / q_x)$ that is $\mathrm{KL}(p_x \,\|\, q_x)$. For $d$ coordinates,
# apply the two-variable result repeatedly (or run the same argument with $d$ terms).
#
# </details>
#
# <!-- BEGIN SOLUTION -->
# **Model answer.** For two variables,
#
# $$\mathrm{KL}(p_x p_y \,\|\, q_x q_y) = \iint p_x(x)\, p_y(y) \Big[\log \frac{p_x(x)}{q_x(x)} + \log \frac{p_y(y)}{q_y(y)}\Big] dx\, dy
# = \int p_x(x) \log \frac{p_x(x)}{q_x(x)}\, dx + \int p_y(y) \log \frac{p_y(y)}{q_y(y)}\, dy,$$
#
# where in each term the other variable was integrated out ($\int p_y(y)\, dy = 1$ and $\int p_x(x)\, dx = 1$). That is
# $\mathrm{KL}(p_x \,\|\, q_x) + \mathrm{KL}(p_y \,\|\, q_y)$. For $d$ coordinates the same argument reads: if
# $p(x) = \prod_j p_j(x_j)$ and $q(x) = \prod_j q_j(x_j)$, the log ratio is a sum,
#
# $$\log \frac{p(x)}{q(x)} = \sum_{j=1}^d \log \frac{p_j(x_j)}{q_j(x_j)},$$
#
# and the expectation of a sum is the sum of the expectations. Each term depends on $x_j$ only, so its expectation under
# $p$ is an expectation under the marginal $p_j$:
#
# $$\mathrm{KL}(p \,\|\, q) = \sum_{j=1}^d \mathbb{E}_{p_j}\Big[\log \frac{p_j(x_j)}{q_j(x_j)}\Big] = \sum_{j=1}^d \mathrm{KL}(p_j \,\|\, q_j).$$
#
# Note what the proof needs: *both* distributions must factorise over the *same* split of the coordinates. If $q$ had a
# full covariance, the log ratio would not split into a sum, and the KL would not add up.
# <!-- END SOLUTION -->
#
# So the KL of a diagonal Gaussian is the sum of the $d$ univariate formulas. The check: the sum of your per-dimension
# `gaussian_kl` values against a Monte Carlo estimate of the KL of the joint, four-dimensional distributions.

# %%
# NBVAL_CHECK_OUTPUT
mu1 = np.array([0.3, -1.0, 0.8, 0.0])
log_var1 = np.array([-0.5, 0.4, 0.0, -2.0])
mu2 = np.array([1.0, 0.5, 0.0, 0.0])
log_var2 = np.array([0.2, -0.3, 1.0, 0.0])

per_dimension = gaussian_kl(mu1, log_var1, mu2, log_var2)
estimate, se = monte_carlo_kl(mu1, log_var1, mu2, log_var2, NUM_SAMPLES, rng)
print("per-dimension KL:", np.round(per_dimension, 4))
print(f"sum of the per-dimension KLs : {per_dimension.sum():.4f} nats")
print(f"Monte Carlo KL of the joint  : {estimate:.4f} +- {se:.4f} nats")
z = (estimate - per_dimension.sum()) / se
print(f"z-score: {z:.2f}, within 3 standard errors: {abs(z) < 3}")

# %% [markdown]
# ## 6. Binary cross-entropy is a Bernoulli negative log likelihood
#
# The VAE of notebook 05 treats each pixel of a binarized MNIST image as a coin: $x \in \{0, 1\}$, and the decoder gives
# the probability $\pi = P(x = 1)$. The Bernoulli probability mass function can be written in one line,
#
# $$p(x \mid \pi) = \pi^{x} (1 - \pi)^{1 - x}, \qquad \text{so} \qquad
# -\log p(x \mid \pi) = -\big[x \log \pi + (1 - x) \log (1 - \pi)\big],$$
#
# which is exactly the **binary cross-entropy** (BCE) of deep-learning libraries. It is also a cross-entropy in the
# sense of section 3: $H\big(\mathrm{Bernoulli}(x), \mathrm{Bernoulli}(\pi)\big)$. With the pixels independent given
# the code, the log likelihood of a whole image is a sum over its 784 pixels, so the image's NLL is the BCE **summed over
# pixels**, in nats per image.
#
# **From logits.** A network outputs an unconstrained number $l$ (the *logit*) and $\pi = \sigma(l) = 1/(1 + e^{-l})$.
# Then $\log \pi = -\log(1 + e^{-l})$ and $\log(1 - \pi) = -\log(1 + e^{l})$. Writing
# $\operatorname{softplus}(t) = \log(1 + e^t)$ and using $\operatorname{softplus}(-l) = \operatorname{softplus}(l) - l$,
#
# $$-\log p(x \mid l) = x \operatorname{softplus}(-l) + (1 - x) \operatorname{softplus}(l) = \operatorname{softplus}(l) - x\, l,
# \qquad \operatorname{softplus}(l) = \max(l, 0) + \log\big(1 + e^{-|l|}\big).$$
#
# The right-hand form never exponentiates a large positive number, so it cannot overflow, and it never takes the log of a
# probability that rounded to 0 or 1. The check: Keras's `keras.ops.binary_crossentropy`, from probabilities and from
# logits, against the Bernoulli NLL computed straight from the pmf.

# %%
# NBVAL_CHECK_OUTPUT
x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])       # five binary pixels
pi = np.array([0.9, 0.2, 0.6, 0.99, 0.01])     # the model's P(pixel = 1)
logits = np.log(pi) - np.log1p(-pi)            # the logits that give these probabilities

nll_from_pmf = -np.log(pi**x * (1 - pi) ** (1 - x))
bce_keras = keras.ops.convert_to_numpy(keras.ops.binary_crossentropy(x, pi))
bce_keras_logits = keras.ops.convert_to_numpy(keras.ops.binary_crossentropy(x, logits, from_logits=True))
nll_stable = -probability.bernoulli_log_likelihood(x, logits, axis=None)

print("per pixel, -log Bernoulli:", np.round(nll_from_pmf, 4))
print("per pixel, Keras BCE     :", np.round(bce_keras, 4))
print(f"summed over the 5 pixels: -log Bernoulli = {nll_from_pmf.sum():.4f}, Keras BCE = {bce_keras.sum():.4f}, "
      f"Keras BCE from logits = {bce_keras_logits.sum():.4f}, stable NumPy form = {nll_stable.sum():.4f} nats")
print("all equal:", np.allclose(nll_from_pmf, bce_keras, atol=1e-5) and np.allclose(nll_from_pmf, bce_keras_logits, atol=1e-5))

# %% [markdown]
# They agree. The difference shows up when the model is very sure. Take a black pixel ($x = 0$) and a logit of 40: the true
# NLL is $\operatorname{softplus}(40) \approx 40$ nats. In float32, $\sigma(40)$ rounds to exactly 1, so
# $\log(1 - \pi) = -\infty$. Given that probability as a plain array, Keras clips it away from 1 to avoid the infinity
# and returns a wrong, finite number instead; the logits form gets it right. (A tensor that comes straight out of a Keras
# `sigmoid` remembers its logits and Keras quietly uses them; a probability computed anywhere else has no such memory.)

# %%
# NBVAL_CHECK_OUTPUT
x_black = np.array([0.0], dtype="float32")
logit = np.array([40.0], dtype="float32")
pi_float32 = (1.0 / (1.0 + np.exp(-logit))).astype("float32")  # the probability a sigmoid layer would hand on
print("sigmoid(40) in float32 == 1.0:", bool(pi_float32[0] == 1.0))
from_probability = keras.ops.binary_crossentropy(x_black, pi_float32)
from_logit = keras.ops.binary_crossentropy(x_black, logit, from_logits=True)
print(f"BCE from the probability (clipped): {float(from_probability[0]):.4f} nats")
print(f"BCE from the logit                : {float(from_logit[0]):.4f} nats")

# %% [markdown]
# This is why every decoder in this course outputs logits, and why `workshop.losses.bernoulli_reconstruction_loss` is the
# from-logits BCE summed over the 784 pixels. In **notebook 05** that sum is the reconstruction term of the VAE's loss,
# $-\log p(x \mid z)$ in nats per image, and the closed-form `gaussian_kl` with $q = \mathcal{N}(0, I)$, summed over latent
# dimensions, is the other term.

# %% [markdown]
# ## Discussion
#
# 1. The VAE loss contains $\mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big)$. From section 4, what does this direction punish
#    more: a $q$ that puts mass where the prior has almost none, or a $q$ that ignores regions where the prior has mass?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The first. $\mathrm{KL}(q \,\|\, p) = \mathbb{E}_q[\log q - \log p]$ averages over the codes that $q$
# produces, so it only looks where $q$ puts mass, and there $-\log p$ is huge if the prior has almost none. Regions where
# the prior has mass but $q$ has none do not enter the average at all. The closed form of Exercise 4 shows the two costs
# for $p = \mathcal{N}(0, 1)$: moving $q$ away to mean $\mu$ costs $\mu^2 / 2$, which grows quadratically, while shrinking
# $q$ to a narrow spike of variance $e^{\ell}$ around 0 (ignoring almost all of the prior) costs only about $-\ell / 2$,
# which grows like the log of the width. This is why a VAE's codes may be narrow but stay near the origin.
# <!-- END SOLUTION -->
#
# 2. Why is it convenient that the encoder outputs $\log\sigma^2$ rather than $\sigma$ or $\sigma^2$? What would the network
#    have to guarantee otherwise?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Every real number is a valid $\log\sigma^2$, so the encoder's last layer can be a plain linear layer with no
# constraint, and $\sigma^2 = e^{\ell}$ is automatically positive. With $\sigma$ or $\sigma^2$ as output, the network would
# have to guarantee a strictly positive number (an activation such as softplus or exp), and an output that reaches 0
# makes the KL infinite (its $-\log\sigma^2$ term) and the sampling degenerate. The log scale also suits the quantity:
# variances range over orders of magnitude, and equal steps in $\ell$ are equal *factors* in $\sigma^2$. Finally the KL
# becomes simple in $\ell$ (Exercise 4): no log of a network output is needed, only an exp.
# <!-- END SOLUTION -->
#
# 3. Differential entropy can be negative, yet the KL between two densities never is. Which step of the Gibbs argument
#    still works for densities, and which property of entropy does not carry over?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** The whole Gibbs argument carries over with sums replaced by integrals: Jensen's inequality gives
# $-\mathrm{KL}(p \,\|\, q) = \int p \log(q / p) \le \log \int_{p > 0} q \le \log 1 = 0$, since $q$ is a density and
# integrates to 1. What does not carry over is $H(p) \ge 0$. For a discrete distribution every $p_k \le 1$, so every
# surprise $-\log p_k \ge 0$; a density can exceed 1 (a narrow Gaussian does), and then $-\log p(x) < 0$. Differential
# entropy also depends on the units: rescaling $x$ by a factor $a$ adds $\log |a|$ to it, while the KL is unchanged,
# because both densities pick up the same factor and it cancels in the ratio $p / q$. The KL is the quantity with a
# meaning independent of the units, which is one reason the ELBO is written with it.
# <!-- END SOLUTION -->
#
# 4. For a grey pixel, say $x = 0.3$, the BCE is smallest at $\pi = 0.3$ but is not zero there. What is its minimum value,
#    in terms of a quantity from this notebook?
#
# <!-- BEGIN SOLUTION -->
# **Answer.** Read $x = 0.3$ as a Bernoulli distribution with $P(1) = 0.3$. Then the BCE is the cross-entropy
# $H\big(\mathrm{Bernoulli}(0.3), \mathrm{Bernoulli}(\pi)\big) = H\big(\mathrm{Bernoulli}(0.3)\big) + \mathrm{KL}\big(\mathrm{Bernoulli}(0.3) \,\|\, \mathrm{Bernoulli}(\pi)\big)$.
# The KL is zero at $\pi = 0.3$, so the minimum is the **entropy** of $\mathrm{Bernoulli}(0.3)$:
# $-0.3 \log 0.3 - 0.7 \log 0.7 \approx 0.611$ nats. Only a black or white pixel (entropy 0) can have a BCE of 0. This is
# one reason notebook 05 binarizes MNIST: on grey images the BCE is not the log likelihood of the data, and it has a
# floor that has nothing to do with how good the model is.
# <!-- END SOLUTION -->
#
# ## Extension (open, ungraded)
#
# Generalise section 5 to full covariance matrices. Derive
# $\mathrm{KL}\big(\mathcal{N}(\mu_1, \Sigma_1) \,\|\, \mathcal{N}(\mu_2, \Sigma_2)\big)$ in $d$ dimensions (the same three
# steps: the log ratio, the expectations of two quadratic forms, using $\mathbb{E}[u^\top A u] = \operatorname{tr}(A \Sigma)$
# for $u$ with mean 0 and covariance $\Sigma$), implement it with `np.linalg.slogdet` and `np.linalg.solve`, and check it
# against a Monte Carlo estimate that draws correlated samples as $z = \mu_1 + L\varepsilon$, with $L$ the Cholesky factor
# of $\Sigma_1$. Confirm that it reduces to the sum of your per-dimension `gaussian_kl` values when both covariances are
# diagonal. What happens to the additivity of Exercise 6 when only *one* of the two covariances is diagonal?
