"""The clustering recipe of notebook 10: its phases, its command line, and the shipped model ``vade_mnist_clustering``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import SAMPLE, sample_images

from workshop import pretrained
from workshop.clustering import clustering_accuracy
from workshop.data import load_mnist
from workshop.mixture import MixturePriorVAE

SHIPPED = "vade_mnist_clustering"
ROOT = Path(__file__).resolve().parents[1]


def _full_mnist_path():
    path = os.environ.get("MNIST_PATH")
    return path if path and Path(path).is_file() else None


def _small_model(**kwargs):
    return MixturePriorVAE(num_components=3, latent_dim=2, hidden_units=(32,), seed=0, **kwargs)


def test_shift_moves_each_image_by_whole_pixels_and_keeps_its_ink():
    model = _small_model(max_shift=3)
    x = np.zeros((64, 28, 28, 1), "float32")
    x[:, 10:18, 9:19, 0] = np.random.default_rng(0).random((64, 8, 10))  # ink far from the border
    moved = keras.ops.convert_to_numpy(model._shift(keras.ops.convert_to_tensor(x)))
    np.testing.assert_allclose(moved.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)), rtol=1e-5)
    offsets = set()
    for original, shifted in zip(x[..., 0], moved[..., 0]):
        matches = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4) if np.allclose(np.roll(original, (dy, dx), (0, 1)), shifted)]
        assert len(matches) == 1, matches
        offsets.add(matches[0])
    assert len(offsets) > 10  # each image draws its own offset


def test_pretrain_trains_only_the_autoencoder_and_leaves_a_small_posterior_variance():
    model = _small_model(kl_estimator="vade")
    prior_before = [np.array(w) for w in model.prior.get_weights()]
    history = model.pretrain(sample_images(256, binary=False), epochs=2, batch_size=64, verbose=0)
    assert history.history["kl_loss"] == [0.0, 0.0]
    assert history.history["reconstruction_loss"][1] < history.history["reconstruction_loss"][0]
    for before, after in zip(prior_before, model.prior.get_weights()):
        np.testing.assert_array_equal(before, after)
    _, z_log_var = model.encode(sample_images(32))
    np.testing.assert_allclose(z_log_var, -4.0)


@pytest.mark.parametrize("method", ["gmm", "tsne"])
def test_init_prior_puts_one_component_on_each_cluster_of_codes(method):
    model = _small_model()
    centres = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])
    truth = np.repeat(np.arange(3), 100)
    codes = centres[truth] + np.random.default_rng(0).normal(scale=0.5, size=(300, 2))
    model.encode = lambda x, batch_size=1024: (codes[: len(x)], np.zeros_like(codes[: len(x)]))
    clusters = model.init_prior(np.zeros((300, 28, 28, 1), "float32"), method=method, map_points=200)
    assert clustering_accuracy(clusters, truth) == 1.0
    means, log_vars, weights = model.prior_parameters()
    assert np.sort(np.linalg.norm(means[:, None] - centres[None], axis=-1).min(axis=0)).max() < 0.3
    np.testing.assert_allclose(np.exp(log_vars), 0.25, rtol=0.4)
    np.testing.assert_allclose(weights, 1 / 3, atol=0.02)


def test_bad_arguments_of_the_recipe_are_refused():
    model = _small_model()
    with pytest.raises(ValueError, match="method"):
        model.init_prior(sample_images(16), method="kmeans")
    with pytest.raises(ValueError, match=r"clusters.*\[0, 3\)"):
        model.fit_to_clusters(sample_images(16), np.full(16, 3))
    with pytest.raises(ValueError, match="shape"):
        model.fit_to_clusters(sample_images(16), np.zeros(15, int))
    with pytest.raises(ValueError, match="kl_estimator"):
        _small_model(kl_estimator="exact")
    with pytest.raises(ValueError, match="max_shift"):
        _small_model(max_shift=-1)


def _three_kinds(n, seed=0):
    """Grey images of three kinds (ink in the top-left, the centre or the bottom-right), and each image's kind."""
    rng = np.random.default_rng(seed)
    kinds = np.arange(n) % 3
    x = np.zeros((n, 28, 28, 1), "float32")
    for i, kind in enumerate(kinds):
        top = (2, 10, 18)[kind]
        x[i, top : top + 8, top : top + 8, 0] = 0.5 + 0.5 * rng.random((8, 8))
    return x, kinds


def _one_hot_kl(model, x, clusters):
    """KL(q(z|x) || N(m_c, s_c^2)) - log pi_c for each image's given cluster c, in float64 from the encoder's outputs."""
    mu, log_var = (a.astype("float64") for a in model.encode(x))
    means, log_vars, weights = (a.astype("float64") for a in model.prior_parameters())
    m, s = means[clusters], log_vars[clusters]
    kl = 0.5 * np.sum(s - log_var + (np.exp(log_var) + (mu - m) ** 2) / np.exp(s) - 1.0, axis=1)
    return kl - np.log(weights[clusters])


def test_fit_to_clusters_trains_with_q_c_given_by_the_clusters(tmp_path):
    x = sample_images(300, binary=False)
    model = _small_model(kl_estimator="vade")
    model.set_prior(np.array([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0]]), np.array([[0.0, -1.0], [0.5, 0.0], [-0.5, 0.5]]), [0.2, 0.3, 0.5])
    clusters = np.arange(len(x)) % 3
    # the loss terms: with q(c | x) one-hot, VaDE's KL is the Gaussian KL to the given component minus its log-weight
    _, kl = model.compute_loss_terms(keras.ops.convert_to_tensor(x), assignments=keras.ops.convert_to_tensor(clusters))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kl), _one_hot_kl(model, x, clusters), rtol=1e-4, atol=1e-3)
    # and that is what fit_to_clusters minimises: with a vanishing learning rate its reported KL is their mean
    history = model.fit_to_clusters(x, clusters, epochs=1, batch_size=100, learning_rate=1e-12, verbose=0)
    assert history.history["kl_loss"][0] == pytest.approx(_one_hot_kl(model, x, clusters).mean(), rel=1e-4)
    assert not model._fixed_assignments  # back to VaDE's q(c | x) = p(c | z) afterwards
    # the options survive a .keras round trip
    model.max_shift = 1
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert (loaded.kl_estimator, loaded.max_shift) == ("vade", 1)
    np.testing.assert_array_equal(loaded.cluster(x[:64]), model.cluster(x[:64]))


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A small run of ``python -m workshop cluster train`` (400 images, one epoch per phase), made once for the tests below."""
    out = tmp_path_factory.mktemp("cluster") / "run"
    command = [sys.executable, "-m", "workshop", "cluster", "train", "--output", str(out), "--data", str(SAMPLE), "--num-train", "400"]
    command += ["--hidden-units", "64", "--latent-dim", "4", "--pretrain-epochs", "1", "--settle-epochs", "1", "--epochs", "1", "--quiet"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return out, command, env


def test_the_cli_trains_a_small_clustering_run_and_refuses_to_overwrite_it(cli_run):
    out, command, env = cli_run
    record = json.loads((out / "config.json").read_text())
    assert record["status"] == "complete" and record["data"]["num_train"] == 400
    assert set(record["seconds"]) >= {"pretrain", "init", "settle", "vade", "total"}
    assert {"kmeans_pixels", "kmeans_pretrained_codes", "init_model_test"} <= set(record["baselines"])
    assert "--hidden-units 64" in record["command_line"]
    before = (out / "model.keras").read_bytes()
    again = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert again.returncode == 1
    assert "not empty" in again.stderr
    assert (out / "model.keras").read_bytes() == before


def test_cluster_evaluate_refuses_a_model_that_is_not_a_mixture(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "workshop", "cluster", "evaluate", "vae_mnist_z2"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 1
    assert "Expected a MixturePriorVAE" in done.stderr or "expected a MixturePriorVAE" in done.stderr


# ------------------------------------------------------------------ the shipped model
def test_the_shipped_clustering_model_is_small_recorded_and_verified():
    meta = pretrained.describe(SHIPPED)
    weights = pretrained.PRETRAINED_DIR / meta["weights"]["file"]
    assert weights.stat().st_size <= 10e6
    assert pretrained.sha256_file(weights) == meta["weights"]["sha256"]
    assert meta["model_class"] == "MixturePriorVAE"
    clustering = meta["clustering"]
    assert clustering["num_images"] == 10000
    accuracies = [draw["accuracy"] for draw in clustering["draws"].values()]
    assert len(accuracies) == 2 and min(accuracies) >= 0.90 and max(accuracies) - min(accuracies) <= 0.01
    assert meta["training"]["seconds"]["train"] <= 15 * 60
    for draw in clustering["draws"].values():
        table = np.array(draw["confusion"])
        assert table.shape == (10, 10) and table.sum() == 10000
        assert np.trace(table) / 10000 == pytest.approx(draw["accuracy"], abs=1e-4)
    baselines = meta["training"]["baselines"]
    assert min(accuracies) > baselines["kmeans_pretrained_codes"] > clustering["kmeans_pixels"] - 0.1


def test_the_shipped_clustering_model_clusters_binarized_test_images():
    model = pretrained.load_pretrained(SHIPPED)
    assert isinstance(model, MixturePriorVAE)
    path = _full_mnist_path() or SAMPLE
    scores = []
    for seed in (0, 1):
        _, (x_test, y_test) = load_mnist(path=path, binarize="random", seed=seed)
        x_test, y_test = x_test[:3000], y_test[:3000]
        clusters = model.cluster(x_test)
        assert clusters.shape == (len(x_test),) and set(np.unique(clusters)) <= set(range(10))
        scores.append(clustering_accuracy(clusters, y_test))
    assert min(scores) >= 0.88, scores
    assert abs(scores[0] - scores[1]) <= 0.02, scores


@pytest.mark.skipif(_full_mnist_path() is None, reason="export measures the clustering on the full test set (set MNIST_PATH)")
def test_export_ships_a_run_that_load_pretrained_verifies_and_never_replaces_silently(tmp_path, cli_run):
    from workshop.instructor.clustering_run import export_clustering

    run = cli_run[0]
    shipped = tmp_path / "pretrained"
    meta = export_clustering(run, "tiny_clustering", output_dir=shipped)
    assert meta["model_class"] == "MixturePriorVAE" and set(meta["clustering"]["draws"]) == {"0", "1"}
    model = pretrained.load_pretrained("tiny_clustering", directory=shipped)
    assert isinstance(model, MixturePriorVAE) and model.latent_dim == 4
    _, (x_test, y_test) = load_mnist(path=_full_mnist_path(), binarize="random", seed=0)
    assert clustering_accuracy(model.cluster(x_test), y_test) == pytest.approx(meta["clustering"]["draws"]["0"]["accuracy"], abs=1e-4)
    before = (shipped / "tiny_clustering.npz").read_bytes()
    with pytest.raises(ValueError, match="exists|already"):
        export_clustering(run, "tiny_clustering", output_dir=shipped)
    assert (shipped / "tiny_clustering.npz").read_bytes() == before
    assert sorted(p.name for p in shipped.iterdir()) == ["tiny_clustering.json", "tiny_clustering.npz"]  # no temporary file left


def test_kl_warmup_trains_a_mixture_prior_vae_with_its_own_kl_and_free_bits_is_refused():
    # The warm-up step used to compute the KL to N(0, I) whatever the prior; it now scales the model's own KL.
    x = sample_images(256, binary=False)
    model = _small_model(kl_warmup_epochs=2)
    model.set_prior(np.full((3, 2), 30.0), np.zeros((3, 2)))  # every component far from N(0, I)'s mass
    model.compile(optimizer=keras.optimizers.Adam(1e-12))
    trained = model.fit(x, epochs=1, batch_size=64, verbose=0).history["kl_loss"][0]
    measured = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)["kl_loss"]
    assert trained > 500 and trained == pytest.approx(measured, rel=0.05)
    with pytest.raises(ValueError, match="free_bits"):
        _small_model(free_bits=0.5)
