"""The fast input path of VAE.fit on NumPy arrays (workshop.inputs)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from helpers import PHILOX, assert_fresh_binary_draws, loss_input_spy, random_ops_of_train_step, sample_images

from workshop import VAE, ConditionalVAE, inputs, seed_everything


def epochs_of(dataset, count):
    """The batches of ``count`` epochs, each epoch a list of NumPy arrays (a new iterator per epoch, as Keras makes)."""

    def numpy(batch):
        return tuple(np.asarray(t) for t in batch) if isinstance(batch, tuple) else np.asarray(batch)

    return [[numpy(b) for b in dataset] for _ in range(count)]


def test_every_row_once_per_epoch_in_a_new_order_each_epoch():
    rows = np.arange(1000, dtype="int64")
    epochs = epochs_of(inputs.shuffled_batches((rows,), batch_size=128, seed=3), 3)
    for batches in epochs:
        assert [len(b) for b in batches] == [128] * 7 + [104]  # the last batch holds the rest, as Keras's is
        assert sorted(np.concatenate(batches).tolist()) == rows.tolist()
    orders = [np.concatenate(b) for b in epochs]
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], rows)  # shuffled, and batches are composed afresh
    assert set(epochs[0][0].tolist()) != set(epochs[1][0].tolist())


def test_same_seed_same_epochs_other_seed_other_epochs():
    rows = np.arange(500, dtype="int64")
    first = [np.concatenate(e) for e in epochs_of(inputs.shuffled_batches((rows,), 64, seed=7), 2)]
    again = [np.concatenate(e) for e in epochs_of(inputs.shuffled_batches((rows,), 64, seed=7), 2)]
    other = [np.concatenate(e) for e in epochs_of(inputs.shuffled_batches((rows,), 64, seed=8), 2)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_no_shuffle_keeps_the_order_and_arrays_stay_paired():
    images = np.repeat(np.arange(300, dtype="float32")[:, None], 3, axis=1)
    labels = np.arange(300, dtype="int64")
    (batches,) = epochs_of(inputs.shuffled_batches((images, labels), 100, shuffle=False), 1)
    assert [b[1].tolist() for b in batches] == [list(range(i, i + 100)) for i in (0, 100, 200)]
    for x, y in epochs_of(inputs.shuffled_batches((images, labels), 32, seed=1), 1)[0]:
        assert np.array_equal(x[:, 0], y.astype("float32"))  # each image keeps its label through the shuffle


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"batch_size": 8, "shuffle": "batch"}, "shuffle"),
    ],
)
def test_bad_arguments_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        inputs.shuffled_batches((np.zeros((10, 2)),), **arguments)


def test_rows_must_match():
    with pytest.raises(ValueError, match="same number of rows"):
        inputs.shuffled_batches((np.zeros((10, 2)), np.zeros(9)), 4)


def test_options_that_only_keras_implements_keep_the_keras_path():
    assert inputs.fast_path_applies({"batch_size": 32, "shuffle": True})
    assert inputs.fast_path_applies({"shuffle": False})
    for kwargs in ({"validation_split": 0.1}, {"steps_per_epoch": 3}, {"shuffle": "batch"}, {"sample_weight": np.ones(4)}):
        assert not inputs.fast_path_applies(kwargs)


def spy_on_keras_fit(monkeypatch):
    """Record what VAE.fit hands to keras.Model.fit (and train nothing)."""
    seen = {}

    def fake_fit(self, x=None, y=None, **kwargs):
        seen.update(x=x, y=y, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", fake_fit)
    return seen


def test_vae_fit_on_numpy_takes_the_fast_path_by_default(monkeypatch):
    x = sample_images(200)
    seen = spy_on_keras_fit(monkeypatch)
    VAE(latent_dim=2, hidden_units=(16,)).fit(x, epochs=1, batch_size=64, validation_data=(x[:50],))
    assert hasattr(seen["x"], "element_spec") and int(seen["x"].cardinality()) == 4
    assert "batch_size" not in seen and seen["shuffle"] is False  # carried by the dataset
    assert hasattr(seen["validation_data"], "element_spec") and int(seen["validation_data"].cardinality()) == 1
    VAE(latent_dim=2, hidden_units=(16,)).fit(x, epochs=1, batch_size=64, fast_input=False)
    assert isinstance(seen["x"], np.ndarray) and seen["batch_size"] == 64
    with pytest.raises(ValueError, match="fast_input"):
        VAE(latent_dim=2, hidden_units=(16,)).fit(x, fast_input="yes")


def test_fast_path_trains_reproducibly_and_like_the_keras_path():
    """Same seed, same losses; and the fast path reaches the loss of Keras's array adapter (another shuffle, same meaning)."""
    x = sample_images(1024)

    def run(fast_input):
        seed_everything(0)
        model = VAE(latent_dim=4, hidden_units=(64,), seed=0)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        history = model.fit(x, epochs=3, batch_size=64, verbose=0, fast_input=fast_input)
        return history.history["loss"]

    first, again, keras_path = run(True), run(True), run(False)
    assert first == again
    assert first[-1] < first[0] - 20  # it learns
    assert abs(first[-1] - keras_path[-1]) < 0.05 * keras_path[-1]


def test_conditional_vae_trains_on_numpy_labels_through_the_fast_path():
    x, y = sample_images(256), np.random.default_rng(0).integers(0, 10, 256)
    model = ConditionalVAE(latent_dim=2, hidden_units=(32,), num_classes=10, seed=0)
    model.compile()
    history = model.fit(x[:256], y[:256], epochs=1, batch_size=64, verbose=0, validation_data=(x[:64], y[:64]))
    assert np.isfinite(history.history["val_loss"][0])


def test_dynamic_binarization_draws_fresh_seeded_pixels():
    x = tf.fill((64, 28, 28, 1), 0.3)
    model = VAE(latent_dim=2, hidden_units=(16,), dynamic_binarization=True, seed=3)
    first, second = np.asarray(model._binarize(x)), np.asarray(model._binarize(x))
    assert set(np.unique(first)) <= {0.0, 1.0}
    assert abs(first.mean() - 0.3) < 0.01  # 50,176 Bernoulli(0.3) pixels: standard error 0.002
    assert not np.array_equal(first, second)  # fresh pixels at every step
    again = VAE(latent_dim=2, hidden_units=(16,), dynamic_binarization=True, seed=3)
    assert np.array_equal(np.asarray(again._binarize(x)), first)  # the same seed, the same pixels


def test_dynamic_binarization_costs_little_inside_the_compiled_step():
    """Regression: keras.random.uniform made XLA's CPU step 4.6x slower (41.6 against 9.1 ms for 784-512-256-32).

    Two checks that a loaded machine cannot break: the cause (every random op of the traced step is a stateless
    op with Philox named; keras.random.uniform adds StatelessRandomGetKeyCounter and algorithm 3, auto-select), and
    the cost, timed as alternated epochs with and without binarization: the median of the paired ratios (1.0 here,
    8-12 with keras.random.uniform put back, on a loaded 2-core machine) must stay below 3.
    """
    import time

    grey = sample_images(2048, binary=False)
    binary = (grey > 0.5).astype("float32")
    ops_found = random_ops_of_train_step(VAE(latent_dim=8, hidden_units=(64,), dynamic_binarization=True, seed=0), (128, 28, 28, 1))
    assert ("StatelessRandomUniformV2", PHILOX) in ops_found  # the binarization's draw, inside the step
    assert all(alg == PHILOX for _, alg in ops_found), ops_found

    def trained_once(dynamic):
        model = VAE(latent_dim=8, hidden_units=(64,), dynamic_binarization=dynamic, seed=0)
        model.compile()
        # fast_input=False: Keras's adapter hands grey batches to train_step, which then binarizes them inside XLA.
        arguments = dict(x=grey if dynamic else binary, epochs=1, batch_size=128, verbose=0, fast_input=False)
        model.fit(**arguments)  # compile
        return model, arguments

    runs = {"plain": trained_once(False), "dynamic": trained_once(True)}
    times = {name: [] for name in runs}
    for _ in range(7):  # alternated, so that each pair of epochs sees the same load
        for name, (model, arguments) in runs.items():
            start = time.perf_counter()
            model.fit(**arguments)
            times[name].append(time.perf_counter() - start)
    ratio = float(np.median(np.array(times["dynamic"]) / np.array(times["plain"])))
    assert ratio < 3.0, (ratio, times)


def test_the_pipeline_binarizes_afresh_every_epoch_when_asked():
    grey = np.full((256, 4), 0.25, dtype="float32")
    epochs = [np.concatenate(e) for e in epochs_of(inputs.shuffled_batches((grey,), 64, seed=2, binarize=True), 2)]
    for values in epochs:
        assert set(np.unique(values)) <= {0.0, 1.0} and abs(values.mean() - 0.25) < 0.05
    assert not np.array_equal(epochs[0], epochs[1])


class SeesItsInputs(VAE):
    """A train_step that only reports what it was given (as notebook 05's StudentVAE does not binarize)."""

    def train_step(self, data):
        x = keras.ops.cast(data, "float32")
        return {"fractional": keras.ops.max(keras.ops.abs(x - keras.ops.round(x))), "mean": keras.ops.mean(x)}


def test_a_subclass_train_step_gets_freshly_binarized_images_from_fit():
    grey = sample_images(512, binary=False)
    model = SeesItsInputs(latent_dim=2, hidden_units=(16,), dynamic_binarization=True, seed=0)
    model.compile(optimizer="adam")
    logs = model.fit(grey, epochs=1, batch_size=128, verbose=0).history
    assert logs["fractional"][-1] == 0.0  # binary pixels
    assert abs(logs["mean"][-1] - grey.mean()) < 0.03  # with the grey levels as probabilities
    plain = SeesItsInputs(latent_dim=2, hidden_units=(16,), seed=0)
    plain.compile(optimizer="adam")
    assert plain.fit(grey, epochs=1, batch_size=128, verbose=0).history["fractional"][-1] > 0.1  # no binarization asked


def test_train_step_binarizes_a_dataset_afresh_at_every_step():
    """A tf.data dataset of grey images (fast_input=False: no pipeline of ours): train_step itself draws the pixels."""
    grey = np.repeat(sample_images(1, binary=False), 32, axis=0)  # one digit: every step draws from the same grey levels
    dataset = tf.data.Dataset.from_tensor_slices(grey).batch(16)
    model, seen = loss_input_spy((16, 28, 28, 1), latent_dim=2, hidden_units=(16,), dynamic_binarization=True, seed=0)
    model.compile(steps_per_execution=1)  # XLA, as by default
    model.fit(dataset, epochs=2, verbose=0, fast_input=False, callbacks=[model.record])
    assert not model._input_binarizes and len(seen) == 4  # 2 epochs of 2 steps, binarized inside the step
    assert_fresh_binary_draws(seen, grey)
