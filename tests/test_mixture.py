"""Tests of the mixture-of-Gaussians prior VAE and the clustering helpers."""

import itertools
import math

import keras
import numpy as np
import pytest
from helpers import run_python, sample_images
from keras import ops

from workshop import losses, probability
from workshop.clustering import (
    best_matching,
    clustering_accuracy,
    clustering_report,
    confusion_matrix,
    kmeans,
    normalized_mutual_information,
)
from workshop.mixture import (
    MixturePrior,
    MixturePriorVAE,
    mixture_log_density,
    mixture_responsibilities,
    monte_carlo_kl,
    vade_kl,
)


def _np(t):
    return np.asarray(ops.convert_to_numpy(t), dtype="float64")


def _reference_log_density(z, means, log_vars, logits):
    """Plain-Python float64 reference: log sum_k w_k prod_j N(z_j; m_kj, v_kj), with math only."""
    weights = [math.exp(l) for l in logits]
    total = sum(weights)
    out = []
    for row in z:
        terms = []
        for k in range(len(means)):
            log_n = sum(-0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 / math.exp(lv)) for x, m, lv in zip(row, means[k], log_vars[k]))
            terms.append(math.log(weights[k] / total) + log_n)
        top = max(terms)
        out.append(top + math.log(sum(math.exp(t - top) for t in terms)))
    return np.array(out)


def test_mixture_log_density_against_a_plain_python_reference():
    rng = np.random.default_rng(0)
    z, means = rng.normal(size=(6, 3)) * 2, rng.normal(size=(4, 3)) * 2
    log_vars, logits = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=4)
    got = _np(mixture_log_density(*(ops.convert_to_tensor(a.astype("float32")) for a in (z, means, log_vars, logits))))
    np.testing.assert_allclose(got, _reference_log_density(z, means, log_vars, logits), rtol=1e-5)


def test_mixture_log_density_is_finite_far_from_every_component():
    z = np.array([[500.0, -500.0]], dtype="float32")
    means = np.zeros((3, 2), dtype="float32")
    log_vars = np.full((3, 2), -2.0, dtype="float32")
    got = _np(mixture_log_density(z, means, log_vars, np.zeros(3, dtype="float32")))
    expected = _reference_log_density(z.astype("float64"), means, log_vars, [0.0, 0.0, 0.0])
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_one_component_mixture_is_that_gaussian():
    rng = np.random.default_rng(1)
    z, mean, log_var = rng.normal(size=(5, 4)), rng.normal(size=(1, 4)), rng.normal(size=(1, 4))
    got = _np(mixture_log_density(z.astype("float32"), mean.astype("float32"), log_var.astype("float32"), np.array([3.0], "float32")))
    np.testing.assert_allclose(got, probability.gaussian_log_density(z, mean, log_var), rtol=1e-5)


def test_responsibilities_sum_to_one_and_follow_bayes_rule():
    rng = np.random.default_rng(2)
    z, means = rng.normal(size=(7, 2)) * 3, rng.normal(size=(5, 2)) * 3
    log_vars, logits = rng.normal(size=(5, 2)) * 0.3, rng.normal(size=5)
    f = lambda a: a.astype("float32")  # noqa: E731
    resp = _np(mixture_responsibilities(f(z), f(means), f(log_vars), f(logits)))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-6)
    w = np.exp(logits) / np.exp(logits).sum()
    joint = w[None] * np.exp(probability.gaussian_log_density(z[:, None], means[None], log_vars[None]))
    np.testing.assert_allclose(resp, joint / joint.sum(axis=1, keepdims=True), rtol=1e-4, atol=1e-7)
    far = _np(mixture_responsibilities(f(np.array([[1e3, 1e3]])), f(means), f(log_vars), f(logits)))
    assert np.all(np.isfinite(far)) and abs(far.sum() - 1) < 1e-6


def _monte_carlo_kl_mean(mean_q, log_var_q, prior, num_samples=200_000, seed=0):
    rng = np.random.default_rng(seed)
    d = len(mean_q)
    z_mean = np.broadcast_to(mean_q, (num_samples, d)).astype("float32")
    z_log_var = np.broadcast_to(log_var_q, (num_samples, d)).astype("float32")
    z = (z_mean + np.exp(0.5 * z_log_var) * rng.standard_normal((num_samples, d))).astype("float32")
    kl = _np(monte_carlo_kl(z, z_mean, z_log_var, prior(ops.convert_to_tensor(z))))
    return kl.mean(), kl.std() / math.sqrt(num_samples)


def test_monte_carlo_kl_matches_the_closed_form_for_a_standard_normal_component():
    prior = MixturePrior(num_components=1, latent_dim=3, init_scale=0.0)  # means 0, log-variances 0: N(0, I)
    mean_q, log_var_q = np.array([0.8, -0.3, 1.5]), np.array([-1.0, 0.4, -0.2])
    estimate, se = _monte_carlo_kl_mean(mean_q, log_var_q, prior)
    exact = float(probability.kl_to_standard_normal(mean_q, log_var_q))
    assert abs(estimate - exact) < 4 * se + 1e-3, (estimate, exact, se)
    # And it is the same number the standard VAE's loss uses.
    np.testing.assert_allclose(
        _np(losses.kl_standard_normal(mean_q[None].astype("float32"), log_var_q[None].astype("float32")))[0], exact, rtol=1e-5
    )


def test_monte_carlo_kl_matches_the_closed_form_for_a_learned_gaussian():
    prior = MixturePrior(num_components=1, latent_dim=2)
    prior.means.assign(np.array([[1.0, -2.0]], dtype="float32"))
    prior.log_vars.assign(np.array([[0.5, -0.7]], dtype="float32"))
    mean_q, log_var_q = np.array([0.2, -1.0]), np.array([-0.5, 0.3])
    estimate, se = _monte_carlo_kl_mean(mean_q, log_var_q, prior, seed=1)
    exact = float(probability.gaussian_kl(mean_q, log_var_q, np.array([1.0, -2.0]), np.array([0.5, -0.7]), axis=-1))
    assert abs(estimate - exact) < 4 * se + 1e-3, (estimate, exact, se)


def test_model_kl_loss_is_unbiased_for_a_standard_normal_prior():
    # With K = 1 and the component at N(0, I), the model's one-sample kl_loss averages to the standard VAE's closed form.
    model = MixturePriorVAE(num_components=1, latent_dim=2, hidden_units=(16,), prior_init_scale=0.0, seed=3)
    x = np.repeat(sample_images(4), 2000, axis=0)  # image i at rows 2000 i .. 2000 i + 1999
    _, kl = model.compute_loss_terms(ops.convert_to_tensor(x))
    z_mean, z_log_var = model.encoder(ops.convert_to_tensor(x))
    exact = _np(losses.kl_standard_normal(z_mean, z_log_var)).reshape(4, 2000)[:, 0]
    kl = _np(kl).reshape(4, 2000)  # row i: the 2000 draws for image i
    estimate, se = kl.mean(axis=1), kl.std(axis=1) / math.sqrt(2000)
    assert np.all(np.abs(estimate - exact) < 4 * se + 1e-3), (estimate, exact, se)


def test_fit_sample_cluster_and_round_trip(tmp_path):
    x = sample_images(256)
    model = MixturePriorVAE(num_components=3, latent_dim=2, hidden_units=(32,), seed=0)
    model.compile(jit_compile=False, steps_per_execution=1)
    history = model.fit(x, epochs=2, batch_size=64, verbose=0)
    assert set(history.history) == {"loss", "reconstruction_loss", "kl_loss"}
    assert np.all(np.isfinite(history.history["loss"]))
    images = model.sample(5, component=1, seed=0)
    assert images.shape == (5, 28, 28, 1) and 0 <= images.min() and images.max() <= 1
    clusters = model.cluster(x)
    assert clusters.shape == (256,) and set(np.unique(clusters)) <= {0, 1, 2}
    resp = model.responsibilities(model.encode(x)[0])
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-5)
    path = tmp_path / "mixture_prior_vae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, MixturePriorVAE) and loaded.num_components == 3
    for a, b in zip(loaded.prior_parameters(), model.prior_parameters()):
        np.testing.assert_allclose(a, b)
    np.testing.assert_array_equal(loaded.cluster(x), clusters)
    np.testing.assert_allclose(loaded.sample(5, component=1, seed=0), images, atol=1e-6)


def test_round_trip_in_a_new_process(tmp_path):
    model = MixturePriorVAE(num_components=4, latent_dim=3, hidden_units=(16,), learn_weights=False, seed=1)
    model.set_prior(np.arange(12, dtype="float32").reshape(4, 3), np.full((4, 3), -0.5), np.array([0.1, 0.2, 0.3, 0.4]))
    path = tmp_path / "m.keras"
    model.save(path)
    out = run_python(
        "import keras, numpy as np, workshop\n"
        f"m = keras.models.load_model({str(path)!r})\n"
        "means, log_vars, w = m.prior_parameters()\n"
        "print(type(m).__name__, m.num_components, m.learn_weights, means[3, 2], log_vars[0, 0], round(float(w[3]), 4))\n"
    )
    assert out.split() == ["MixturePriorVAE", "4", "False", "11.0", "-0.5", "0.4"]


def test_sample_by_component_comes_from_that_component():
    prior = MixturePrior(num_components=3, latent_dim=2, seed=0)
    prior.means.assign(np.array([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]], dtype="float32"))
    prior.log_vars.assign(np.full((3, 2), math.log(0.25), dtype="float32"))
    z = _np(prior.sample(4000, component=2))
    np.testing.assert_allclose(z.mean(axis=0), [-10.0, 5.0], atol=0.05)
    np.testing.assert_allclose(z.std(axis=0), [0.5, 0.5], atol=0.03)
    prior.logits.assign(np.log(np.array([0.2, 0.3, 0.5], dtype="float32")))
    z = _np(prior.sample(20000))
    share = [np.mean(np.linalg.norm(z - m, axis=1) < 3) for m in ([0, 0], [10, 10], [-10, 5])]
    np.testing.assert_allclose(share, [0.2, 0.3, 0.5], atol=0.02)


def test_elbo_of_the_mixture_model_is_below_the_importance_weighted_bound():
    model = MixturePriorVAE(num_components=3, latent_dim=2, hidden_units=(16,), seed=0)
    x = sample_images(8)
    elbo = model.elbo(x, num_samples=200, seed=0)
    iw = model.log_likelihood(x, num_samples=200, seed=0)
    assert np.all(iw >= elbo - 0.5)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_components": 0}, "num_components"),
        ({"num_components": 2.5}, "num_components"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"prior_init_scale": -1.0}, "init_scale"),
        ({"num_classes": 10}, "num_classes"),
        ({"beta": -1.0}, "beta"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        MixturePriorVAE(**kwargs)


def test_bad_method_arguments_raise_value_errors_naming_them():
    model = MixturePriorVAE(num_components=3, latent_dim=2, hidden_units=(8,))
    with pytest.raises(ValueError, match="component"):
        model.sample(2, component=3)
    with pytest.raises(ValueError, match="component"):
        model.sample(2, component=-1)
    with pytest.raises(ValueError, match="means"):
        model.set_prior(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="log_vars"):
        model.set_prior(np.zeros((3, 2)), log_vars=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="weights"):
        model.set_prior(np.zeros((3, 2)), weights=np.array([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match="z"):
        model.responsibilities(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n"):
        model.sample(0)


# --------------------------------------------------------------------------- clustering
def _blobs(seed=0, n=150):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0], [8.0, 8.0]])
    labels = np.repeat(np.arange(4), n)
    return centres[labels] + rng.normal(size=(4 * n, 2)), labels, centres


def test_kmeans_finds_separated_blobs():
    x, labels, centres = _blobs()
    centroids, clusters, inertia = kmeans(x, 4, num_init=3, seed=0)
    assert clustering_accuracy(clusters, labels) == 1.0
    order = best_matching(clusters, labels)
    np.testing.assert_allclose(centroids[np.argsort(order)], centres, atol=0.3)
    assert inertia == pytest.approx(np.sum((x - centroids[clusters]) ** 2))


def test_confusion_matrix_and_nmi_of_a_known_clustering():
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2])
    clusters = np.array([2, 2, 1, 0, 0, 0, 1, 1, 1, 1])  # one 0 put with the 2s
    table = confusion_matrix(clusters, labels)
    np.testing.assert_array_equal(table, [[2, 0, 1], [0, 3, 0], [0, 0, 4]])
    assert np.trace(table) / len(labels) == pytest.approx(clustering_accuracy(clusters, labels))
    assert normalized_mutual_information(np.array([5, 5, 3, 3]), np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    assert normalized_mutual_information(np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])) == pytest.approx(0.0, abs=1e-12)
    report = clustering_report(clusters, labels)
    assert report["accuracy"] == pytest.approx(0.9) and report["num_points"] == 10 and report["confusion"] == table.tolist()


def test_best_matching_is_exact_against_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(30):
        k, c = rng.integers(2, 6, size=2)
        clusters, labels = rng.integers(0, k, 60), rng.integers(0, c, 60)
        table = np.zeros((clusters.max() + 1, labels.max() + 1), int)
        np.add.at(table, (clusters, labels), 1)
        rows, cols = table.shape
        if rows <= cols:
            best = max(sum(table[i, p[i]] for i in range(rows)) for p in itertools.permutations(range(cols), rows))
        else:
            best = max(sum(table[p[j], j] for j in range(cols)) for p in itertools.permutations(range(rows), cols))
        mapping = best_matching(clusters, labels)
        assert sorted(m for m in mapping if m >= 0) == sorted(set(m for m in mapping if m >= 0))  # one-to-one
        assert clustering_accuracy(clusters, labels) * 60 == pytest.approx(best)


def test_clustering_accuracy_ignores_names():
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert clustering_accuracy(np.array([2, 2, 0, 0, 1, 1]), labels) == 1.0
    assert clustering_accuracy(np.array([0, 0, 0, 0, 0, 0]), labels) == pytest.approx(1 / 3)


def test_clustering_bad_arguments():
    with pytest.raises(ValueError, match="k"):
        kmeans(np.zeros((3, 2)), 5)
    with pytest.raises(ValueError, match="NaN"):
        kmeans(np.full((3, 2), np.nan), 2)
    with pytest.raises(ValueError, match="shape"):
        clustering_accuracy(np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="labels"):
        clustering_accuracy(np.zeros(3, int), np.array([0.5, 1.0, 2.0]))


def _reference_vade_kl(z, mu, log_var, means, log_vars, logits):
    """VaDE's KL for one image from its definition, E_q[log q(z|x) + log q(c|x) - log p(z|c) - log p(c)], in float64:
    the Gaussian expectations by a large Monte Carlo sample, gamma = p(c | z) at the given z."""
    rng = np.random.default_rng(0)
    weights = np.exp(logits - np.logaddexp.reduce(logits))
    log_joint = np.log(weights) - 0.5 * np.sum(np.log(2 * np.pi) + log_vars + (z - means) ** 2 / np.exp(log_vars), axis=1)
    gamma = np.exp(log_joint - np.logaddexp.reduce(log_joint))
    draws = mu + np.exp(0.5 * log_var) * rng.standard_normal((400_000, len(mu)))
    log_q = -0.5 * np.sum(np.log(2 * np.pi) + log_var + (draws - mu) ** 2 / np.exp(log_var), axis=1).mean()
    log_p_given_c = np.array(
        [
            (-0.5 * np.sum(np.log(2 * np.pi) + log_vars[k] + (draws - means[k]) ** 2 / np.exp(log_vars[k]), axis=1)).mean()
            for k in range(len(means))
        ]
    )
    return log_q + np.sum(gamma * (np.log(gamma) - np.log(weights) - log_p_given_c))


def test_vade_kl_matches_its_definition_and_bounds_the_marginal_kl():
    rng = np.random.default_rng(1)
    means, log_vars, logits = rng.normal(size=(3, 2)) * 2, rng.normal(size=(3, 2)) * 0.3, rng.normal(size=3)
    mu, log_var = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)) * 0.3 - 0.5
    z = mu + np.exp(0.5 * log_var) * rng.normal(size=(4, 2))
    got = _np(vade_kl(*(ops.convert_to_tensor(a, "float32") for a in (z, mu, log_var, means, log_vars, logits))))
    want = [_reference_vade_kl(z[i], mu[i], log_var[i], means, log_vars, logits) for i in range(4)]
    np.testing.assert_allclose(got, want, atol=0.02)
    # With a single component, gamma = 1 and it is the closed-form Gaussian KL.
    one = _np(vade_kl(*(ops.convert_to_tensor(a, "float32") for a in (z, mu, log_var, means[:1], log_vars[:1], logits[:1]))))
    v, s = np.exp(log_var), np.exp(log_vars[0])
    closed = 0.5 * np.sum(np.log(s) - log_var + (v + (mu - means[0]) ** 2) / s - 1, axis=1)
    np.testing.assert_allclose(one, closed, rtol=1e-5, atol=1e-5)
    # Averaged over z ~ q, it is never below the marginal KL(q(z|x) || p(z)) (q(c|x) is not the exact posterior).
    draws = mu[0] + np.exp(0.5 * log_var[0]) * rng.normal(size=(20000, 2))
    tensors = [ops.convert_to_tensor(a, "float32") for a in (draws, np.repeat(mu[:1], 20000, 0), np.repeat(log_var[:1], 20000, 0))]
    vade = _np(vade_kl(*tensors, *(ops.convert_to_tensor(a, "float32") for a in (means, log_vars, logits)))).mean()
    marginal = _np(
        monte_carlo_kl(*tensors, mixture_log_density(tensors[0], *(ops.convert_to_tensor(a, "float32") for a in (means, log_vars, logits))))
    ).mean()
    assert vade >= marginal - 0.02, (vade, marginal)
