"""BayesianDense and the Bayesian-network helpers: KLs against references and Monte Carlo,
sampling statistics, the loss a compiled fit minimises, .keras round trip, argument checks."""

import keras
import numpy as np
import pytest
from keras import ops

import workshop
from workshop import bayesian, probability


def test_gaussian_kl_matches_closed_form_and_monte_carlo():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(4, 3))
    rho = rng.uniform(-3, 1, size=(4, 3))
    prior_std = 0.7
    sigma = np.logaddexp(0, rho)
    tensor_kl = float(bayesian.kl_to_gaussian_prior(ops.convert_to_tensor(mean), ops.convert_to_tensor(rho), prior_std))
    reference = bayesian.reference_kl_to_gaussian_prior(mean, rho, prior_std)
    closed_form = probability.gaussian_kl(mean, 2 * np.log(sigma), 0.0, 2 * np.log(prior_std)).sum()
    assert tensor_kl == pytest.approx(reference, rel=1e-5)
    assert reference == pytest.approx(closed_form, rel=1e-12)
    estimate, se = probability.monte_carlo_gaussian_kl(
        mean.ravel(),
        2 * np.log(sigma).ravel(),
        np.zeros(12),
        np.full(12, 2 * np.log(prior_std)),
        num_samples=100_000,
        rng=np.random.default_rng(1),
    )
    assert abs(estimate - reference) < 4 * se


def test_gaussian_kl_is_zero_at_the_prior():
    rho = np.full((3, 2), bayesian.softplus_inverse(1.5))
    assert bayesian.reference_kl_to_gaussian_prior(np.zeros((3, 2)), rho, 1.5) == pytest.approx(0.0, abs=1e-12)
    assert float(bayesian.kl_to_gaussian_prior(ops.zeros((3, 2)), ops.convert_to_tensor(rho, "float32"), 1.5)) == pytest.approx(
        0.0, abs=1e-5
    )


def test_log_uniform_kl_matches_reference_and_monte_carlo():
    log_alpha = np.linspace(-4.0, 4.0, 9)
    tensor_kl = np.array([float(bayesian.kl_log_uniform(ops.convert_to_tensor(la, "float32"))) for la in log_alpha])
    reference = bayesian.reference_kl_log_uniform(log_alpha, axis=False)
    np.testing.assert_allclose(tensor_kl, reference, rtol=1e-5, atol=1e-6)
    # -KL = 0.5 log alpha - E log|e| + C with e ~ N(1, alpha) (Molchanov et al., eq. 7); C = -k1 makes KL -> 0 as alpha -> inf.
    eps = np.random.default_rng(2).standard_normal(400_000)
    for la, approx in zip(log_alpha, reference):
        alpha = np.exp(la)
        monte_carlo = -(0.5 * la - np.mean(np.log(np.abs(1.0 + np.sqrt(alpha) * eps))) - bayesian.SPARSE_VD_K1)
        assert abs(approx - monte_carlo) < 0.02, (la, approx, monte_carlo)
    assert np.all(np.diff(reference) < 0)  # more noise, smaller KL
    assert bayesian.reference_kl_log_uniform(20.0) < 1e-3


def test_softplus_inverse():
    x = np.array([1e-4, 0.3, 1.0, 20.0])
    np.testing.assert_allclose(np.logaddexp(0, bayesian.softplus_inverse(x)), x, rtol=1e-10)
    with pytest.raises(ValueError, match="positive"):
        bayesian.softplus_inverse([0.0, 1.0])


def _layer(**kwargs):
    layer = bayesian.BayesianDense(200, seed=3, **kwargs)
    layer.build((None, 150))
    return layer


@pytest.mark.parametrize("prior", ["gaussian", "log_uniform"])
def test_sampled_kernel_statistics(prior):
    layer = _layer(prior=prior, init_std=0.2)
    mean = np.asarray(layer.kernel_mean)
    w = np.asarray(layer.sample_kernel())
    residual = (w - mean) / 0.2
    assert abs(residual.mean()) < 5 / np.sqrt(residual.size)
    assert abs(residual.std() - 1.0) < 0.01
    # independent across weights: neighbours along both axes uncorrelated
    assert abs(np.mean(residual[1:] * residual[:-1])) < 5 / np.sqrt(residual.size)
    assert abs(np.mean(residual[:, 1:] * residual[:, :-1])) < 5 / np.sqrt(residual.size)
    assert not np.allclose(w, np.asarray(layer.sample_kernel()))  # fresh noise per call
    twin = _layer(prior=prior, init_std=0.2)
    twin.kernel_mean.assign(mean)
    assert np.allclose(w, np.asarray(twin.sample_kernel()))  # same seed, same draws


def test_local_reparameterization_has_the_right_moments():
    layer = bayesian.BayesianDense(3, init_std=0.3, local_reparameterization=True, seed=0)
    x = np.tile(np.array([[1.0, -2.0]], "float32"), (100_000, 1))
    out = np.asarray(layer(x, training=True))
    mean = x[:1] @ np.asarray(layer.kernel_mean)
    std = np.sqrt((x[:1] ** 2) @ np.full((2, 3), 0.09))
    np.testing.assert_allclose(out.mean(0), mean[0], atol=5 * std.max() / np.sqrt(len(x)))
    np.testing.assert_allclose(out.std(0), std[0], rtol=0.02)
    # Outside training, one kernel for the whole batch: every row is the same function value.
    out = np.asarray(layer(x[:5], training=False))
    assert np.allclose(out, out[:1])


def test_compiled_fit_minimises_nll_plus_kl_over_n():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 2)).astype("float32")
    y = (x[:, :1] * 2).astype("float32")
    n = len(x)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            bayesian.BayesianDense(8, "tanh", kl_weight=1 / n, seed=1),
            bayesian.BayesianDense(1, kl_weight=1 / n, seed=2, prior="log_uniform"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-2), "mse", jit_compile=True)
    history = model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    # With (almost) no weight noise the data term is deterministic, so the compiled loss
    # must be exactly mse + sum of KLs / n.
    first, second = bayesian.bayesian_layers(model)
    first.kernel_rho.assign(np.full(first.kernel_rho.shape, bayesian.softplus_inverse(1e-7), "float32"))
    second.kernel_log_sigma2.assign(np.full(second.kernel_log_sigma2.shape, -32.0, "float32"))
    kl = sum(float(layer.kl_divergence()) for layer in (first, second))
    with_kl = model.evaluate(x, y, batch_size=n, verbose=0)
    for layer in (first, second):
        layer.kl_weight.assign(0.0)
    without_kl = model.evaluate(x, y, batch_size=n, verbose=0)
    mse = np.mean((bayesian.mean_weight_predict(model, x) - y) ** 2)
    assert without_kl == pytest.approx(mse, rel=1e-3)
    assert with_kl - without_kl == pytest.approx(kl / n, rel=1e-3)


def test_kl_added_to_losses_is_kl_weight_times_kl():
    layer = bayesian.BayesianDense(4, kl_weight=0.01, seed=0)
    layer(np.zeros((2, 3), "float32"))
    assert float(layer.losses[-1]) == pytest.approx(0.01 * float(layer.kl_divergence()), rel=1e-6)


def test_keras_round_trip(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((3,)),
            bayesian.BayesianDense(5, "relu", prior="log_uniform", kl_weight=0.25, init_std=0.05, log_alpha_clip=6.0, seed=4),
            bayesian.BayesianDense(2, prior_std=0.5, seed=5),
        ]
    )
    bayesian.bayesian_layers(model)[0].kl_weight.assign(0.125)
    path = tmp_path / "bnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    np.testing.assert_allclose(bayesian.mean_weight_predict(loaded, x), bayesian.mean_weight_predict(model, x), rtol=1e-6)
    first, second = bayesian.bayesian_layers(loaded)
    assert isinstance(first, bayesian.BayesianDense)
    assert first.get_config() == bayesian.bayesian_layers(model)[0].get_config()
    assert first.prior == "log_uniform" and second.prior_std == 0.5 and first.log_alpha_clip == 6.0
    assert float(first.kl_weight) == 0.125
    np.testing.assert_allclose(np.asarray(first.log_alpha()), np.asarray(bayesian.bayesian_layers(model)[0].log_alpha()))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"units": 0}, "units"),
        ({"units": 2.5}, "units"),
        ({"units": 3, "prior": "laplace"}, "prior"),
        ({"units": 3, "prior_std": -1.0}, "prior_std"),
        ({"units": 3, "kl_weight": -0.1}, "kl_weight"),
        ({"units": 3, "init_std": 0.0}, "init_std"),
        ({"units": 3, "log_alpha_clip": float("nan")}, "log_alpha_clip"),
        ({"units": 3, "seed": "one"}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received: {name}="):
        bayesian.BayesianDense(**kwargs)


def test_sparsity_and_pruned_mean_prediction():
    model = keras.Sequential([keras.Input((4,)), bayesian.BayesianDense(6, prior="log_uniform", seed=0)])
    layer = model.layers[0]
    log_sigma2 = np.full((4, 6), -20.0, "float32")
    log_sigma2[:, :3] = 5.0  # half the weights: sigma^2 = e^5, so log alpha > 3
    layer.kernel_log_sigma2.assign(log_sigma2)
    layer.kernel_mean.assign(np.ones((4, 6), "float32"))
    fraction, removed, total = bayesian.sparsity(model)
    assert (fraction, removed, total) == (0.5, 12, 24)
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(bayesian.mean_weight_predict(model, x), np.full((2, 6), 4.0))
    np.testing.assert_allclose(bayesian.mean_weight_predict(model, x, prune_threshold=3.0), [[0, 0, 0, 4, 4, 4]] * 2)
    with pytest.raises(ValueError, match="BayesianDense"):
        bayesian.sparsity(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))


def test_predictive_samples_are_distinct_functions():
    model = keras.Sequential([keras.Input((1,)), bayesian.BayesianDense(1, init_std=0.5, seed=0)])
    samples = bayesian.predictive_samples(model, np.linspace(-1, 1, 5)[:, None], num_samples=4)
    assert samples.shape == (4, 5, 1)
    assert len({round(float(s[-1, 0] - s[0, 0]), 6) for s in samples}) == 4
    with pytest.raises(ValueError, match="num_samples"):
        bayesian.predictive_samples(model, np.zeros((2, 1)), num_samples=0)


def test_kl_annealing_ramps_the_weight():
    model = keras.Sequential([keras.Input((1,)), bayesian.BayesianDense(1, kl_weight=0.0, seed=0)])
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(float(bayesian.bayesian_layers(self.model)[0].kl_weight))

    model.compile("adam", "mse")
    model.fit(np.zeros((4, 1)), np.zeros((4, 1)), epochs=4, verbose=0, callbacks=[bayesian.KLAnnealing(0.5, 2), Record()])
    assert seen == [0.0, 0.25, 0.5, 0.5]


def test_minibatch_objective():
    nll = np.array([1.0, 2.0, 3.0], "float32")
    assert float(bayesian.negative_elbo_per_example(nll, 100.0, 50)) == pytest.approx(2.0 + 2.0)


def test_exported_from_package():
    assert workshop.BayesianDense is bayesian.BayesianDense
