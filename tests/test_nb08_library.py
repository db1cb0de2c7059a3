"""The library pieces of notebook 08: the IWAE curve, the per-image q, the two gaps, warm-up and free bits."""

import math

import keras
import numpy as np
import pytest
from helpers import sample_images

from workshop import VAE, evaluation, losses


def _small_vae(latent_dim=1, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return VAE(latent_dim=latent_dim, hidden_units=(32,), seed=seed, **kwargs)


def _exact_log_px_1d(model, x):
    """log p(x) = log int p(x | z) N(z; 0, 1) dz by quadrature on a fine grid (latent_dim = 1)."""
    grid = np.linspace(-9.0, 9.0, 6001)
    dz = grid[1] - grid[0]
    logits = np.asarray(model.decoder(grid[:, None].astype("float32"))).reshape(len(grid), 784).astype("float64")
    flat = x.reshape(len(x), 784).astype("float64")
    log_sig = -np.logaddexp(0.0, -logits)  # log sigmoid
    log_1m = -np.logaddexp(0.0, logits)  # log (1 - sigmoid)
    log_px_z = flat @ log_sig.T + (1 - flat) @ log_1m.T  # (N, G)
    log_prior = -0.5 * grid**2 - 0.5 * math.log(2 * math.pi)
    return evaluation.log_mean_exp(log_px_z + log_prior, axis=1) + math.log(dz * len(grid))


def test_log_mean_exp_matches_numpy_and_survives_large_magnitudes():
    a = np.random.default_rng(0).normal(size=(3, 50))
    np.testing.assert_allclose(evaluation.log_mean_exp(a, axis=1), np.log(np.mean(np.exp(a), axis=1)), rtol=1e-12)
    shifted = evaluation.log_mean_exp(a - 1000.0, axis=1)
    np.testing.assert_allclose(shifted, np.log(np.mean(np.exp(a), axis=1)) - 1000.0, rtol=1e-12)
    assert np.all(np.isfinite(evaluation.log_mean_exp(a + 1000.0, axis=1)))
    np.testing.assert_allclose(evaluation.log_mean_exp(np.full((1, 7), -3.0)), [-3.0])  # the log K is included


def test_iwae_reaches_the_exact_log_likelihood_of_a_one_dimensional_model():
    model = _small_vae()
    x = sample_images(4)
    exact = _exact_log_px_1d(model, x)
    curve = evaluation.iwae_curve(model, x, ks=[1, 10, 100, 2000], num_samples=4000, seed=1)
    bound = curve["bound"]
    assert np.all(np.diff(bound, axis=1) > -0.05), bound  # grows with K (up to Monte Carlo noise)
    assert np.all(bound[:, 0] <= exact + 1e-6)  # K = 1: the ELBO, below log p(x)
    np.testing.assert_allclose(bound[:, -1], exact, atol=0.05)  # K = 2000: log p(x) to 0.05 nats
    # K = 1 is the ELBO: the mean of the log-weights, which model.elbo estimates too
    elbo = evaluation.elbo_of_posterior(model, x, *model.encode(x), num_samples=4000, seed=2)
    np.testing.assert_allclose(bound[:, 0], elbo, atol=0.3)
    assert curve["groups"] == [4000, 400, 40, 2] and np.all(curve["std"][:, 0] > curve["std"][:, -1])


def test_iwae_equals_log_px_for_every_k_when_q_is_the_exact_posterior():
    # A decoder that ignores z: p(x | z) = p(x), and the posterior is the prior. With q = prior every
    # importance weight equals p(x), so each bound (K = 1 included) is log p(x) exactly.
    model = _small_vae(latent_dim=3)
    for layer in (model.encoder.get_layer("z_mean"), model.encoder.get_layer("z_log_var"), model.decoder.get_layer("logits")):
        kernel, bias = layer.get_weights()
        layer.set_weights(
            [np.zeros_like(kernel), np.linspace(-2, 2, bias.size).astype("float32") if layer.name == "logits" else np.zeros_like(bias)]
        )
    x = sample_images(3)
    logits = np.linspace(-2, 2, 784)
    flat = x.reshape(3, 784)
    exact = np.sum(flat * -np.logaddexp(0, -logits) + (1 - flat) * -np.logaddexp(0, logits), axis=1)
    curve = evaluation.iwae_curve(model, x, ks=[1, 5, 50], seed=0)
    np.testing.assert_allclose(curve["bound"], np.repeat(exact[:, None], 3, axis=1), rtol=1e-5)
    np.testing.assert_allclose(model.log_likelihood(x, num_samples=20, seed=0), exact, rtol=1e-5)


def test_importance_log_weights_validates_inputs():
    model = _small_vae(latent_dim=2)
    with pytest.raises(ValueError, match="Expected z_mean and z_log_var of shape"):
        evaluation.importance_log_weights(model, sample_images(2), 5, proposal=(np.zeros((2, 3)), np.zeros((2, 3))))
    with pytest.raises(ValueError, match="num_samples >= max"):
        evaluation.iwae_curve(model, sample_images(2), ks=[10], num_samples=5)


def test_per_image_optimisation_closes_the_amortisation_gap_and_leaves_the_decoder_alone():
    model = _small_vae()
    x = sample_images(4)
    before = [w.copy() for w in model.decoder.get_weights()]
    gaps = evaluation.inference_gaps(model, x, steps=300, learning_rate=5e-2, elbo_samples=2000, iwae_samples=2000)
    for a, b in zip(before, model.decoder.get_weights()):
        np.testing.assert_array_equal(a, b)
    exact = _exact_log_px_1d(model, x)
    assert np.all(gaps["elbo_optimal"] >= gaps["elbo_encoder"] - 0.1)  # q* is at least as good as the encoder's q
    assert np.all(gaps["elbo_optimal"] <= exact + 0.1)  # and still a lower bound
    np.testing.assert_allclose(gaps["log_px"], exact, atol=0.1)
    np.testing.assert_allclose(gaps["approximation_gap"] + gaps["amortisation_gap"], gaps["log_px"] - gaps["elbo_encoder"])
    assert np.all(gaps["amortisation_gap"] > -0.1) and np.all(gaps["approximation_gap"] > -0.1)


def test_free_bits_and_warmup_weight_against_numpy():
    rng = np.random.default_rng(3)
    mean, log_var = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    per_dim = 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var)
    for lam in (0.0, 0.3, 1.0, 50.0):
        expected = np.sum(np.maximum(per_dim.mean(axis=0), lam))
        got = float(losses.free_bits_kl(mean.astype("float32"), log_var.astype("float32"), lam))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert [losses.kl_warmup_weight(e, 4) for e in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert losses.kl_warmup_weight(0, 0) == 1.0


def test_vae_options_round_trip_and_validation(tmp_path):
    model = _small_vae(latent_dim=2, kl_warmup_epochs=3, free_bits=0.25)
    model.compile(jit_compile=False)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert (loaded.kl_warmup_epochs, loaded.free_bits) == (3, 0.25)
    assert "kl_warmup_epochs" not in VAE(latent_dim=2).get_config()  # old files stay identical
    for bad in ({"kl_warmup_epochs": -1}, {"free_bits": -0.1}, {"free_bits": float("inf")}, {"free_bits": "1"}):
        with pytest.raises(ValueError, match="Expected"):
            VAE(latent_dim=2, **bad)


def test_warmup_starts_at_zero_and_reaches_beta_after_the_warmup_epochs():
    x = sample_images(64)
    model = _small_vae(latent_dim=2, kl_warmup_epochs=2)
    model.compile(jit_compile=False, steps_per_execution=1)
    history = model.fit(x, epochs=1, batch_size=16, verbose=0)  # 4 steps: weights 0, 1/8, 2/8, 3/8
    assert float(model.kl_weight()) == pytest.approx(0.5)  # epoch 1 starts at 1/2
    h = history.history
    assert h["loss"][0] < h["reconstruction_loss"][0] + h["kl_loss"][0]  # the KL was down-weighted
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    assert float(model.kl_weight()) == pytest.approx(1.0)


def test_kl_weight_is_beta_times_the_warmup_factor_during_and_after_the_warmup():
    """kl_weight() = beta * min(1, step / (kl_warmup_epochs * steps_per_epoch)) with beta != 1, and every training
    step minimises reconstruction + kl_weight() * KL with the weight of its own step."""
    beta, warmup_steps = 0.3, 8  # 2 warm-up epochs of 4 steps
    x = sample_images(64)
    model = _small_vae(latent_dim=2, kl_warmup_epochs=2, beta=beta)
    model.compile(jit_compile=False, steps_per_execution=1)
    running = []  # (epoch, running means of loss, reconstruction, KL after each step)
    record = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: running.append([]),
        on_train_batch_end=lambda batch, logs: running[-1].append([float(logs[k]) for k in ("loss", "reconstruction_loss", "kl_loss")]),
    )
    model.fit(x, epochs=3, batch_size=16, verbose=0, callbacks=[record])  # steps 0-11: warm-up, then beta
    step = 0
    for epoch in running:
        means = np.asarray(epoch, dtype="float64")
        counts = np.arange(1, len(means) + 1)[:, None]
        sums = means * counts  # equal batches: step k's own values are k * mean_k - (k - 1) * mean_(k-1)
        loss, reconstruction, kl = (np.diff(sums, axis=0, prepend=0.0)).T
        for i in range(len(loss)):
            weight = beta * min(1.0, step / warmup_steps)
            assert loss[i] == pytest.approx(reconstruction[i] + weight * kl[i], abs=1e-3), (step, weight)
            step += 1
    assert step == 12
    for iterations in (0, 1, 3, 4, 7, 8, 9, 100):
        model.optimizer.iterations.assign(iterations)
        assert float(model.kl_weight()) == pytest.approx(beta * min(1.0, iterations / warmup_steps), rel=1e-6, abs=1e-7), iterations
    assert float(_small_vae(latent_dim=2, beta=beta).kl_weight()) == pytest.approx(beta)  # no warm-up: beta itself


def test_free_bits_loss_is_the_floor_when_every_kl_is_below_it():
    x = sample_images(32)
    model = _small_vae(latent_dim=3, free_bits=1000.0)
    model.compile(jit_compile=False, steps_per_execution=1)
    h = model.fit(x, epochs=1, batch_size=32, verbose=0).history
    np.testing.assert_allclose(h["loss"][0] - h["reconstruction_loss"][0], 3 * 1000.0, rtol=1e-6)
    assert 0 < h["kl_loss"][0] < 1000  # the metric is the true KL


def test_reference_preset_sets_defaults_that_explicit_flags_override():
    from workshop.instructor.cli import build_parser, main
    from workshop.instructor.presets import PRESETS, preset_from_argv

    argv = ["train", "--preset", "reference"]
    args = build_parser(preset_from_argv(argv)).parse_args(argv)
    for key, value in PRESETS["reference"]["arguments"].items():
        assert getattr(args, key) == value, key
    argv = ["train", "--preset=reference", "--epochs", "3"]
    args = build_parser(preset_from_argv(argv)).parse_args(argv)
    assert (args.epochs, args.latent_dim, args.dynamic_binarization) == (3, 32, True)
    plain = build_parser().parse_args(["train"])
    assert (plain.latent_dim, plain.kl_warmup_epochs, plain.free_bits) == (20, 0, 0.0)
    assert main(["train", "--preset", "nonsense"]) == 2


def test_exported_command_line_names_the_preset_and_only_what_differs_from_it():
    from workshop.instructor.config import TrainingConfig, preset_config

    config = preset_config("reference").replace(epochs=3, eval_samples=50)
    assert config.command_line() == "python -m workshop train --preset reference --epochs 3 --eval-samples 50"
    plain = TrainingConfig(latent_dim=2, epochs=20)
    assert plain.command_line() == "python -m workshop train --latent-dim 2 --epochs 20"
