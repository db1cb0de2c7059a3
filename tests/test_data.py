"""The MNIST loader: explicit files, MNIST_PATH, Keras, the shipped sample, and bad files. Never the network."""

import numpy as np
import pytest
from helpers import SAMPLE

import workshop.data as data
from workshop import load_mnist


@pytest.fixture
def offline(monkeypatch):
    """Simulate a machine without internet and without Keras's cache."""

    def no_network():
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: [Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_from_keras", no_network)
    monkeypatch.delenv("MNIST_PATH", raising=False)


def write_npz(path, **overrides):
    with np.load(SAMPLE) as d:
        arrays = {k: d[k][:50] for k in ("x_train", "y_train", "x_test", "y_test")}
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def test_offline_falls_back_to_shipped_sample_with_a_warning(offline):
    with pytest.warns(data.MNISTFallbackWarning, match="MNIST_PATH"):
        (x, y), (xt, yt), info = load_mnist(return_info=True)
    assert info["source"] == "sample" and "Name or service not known" in info["reason"]
    assert x.shape == (8000, 28, 28, 1) and xt.shape == (2000, 28, 28, 1)
    assert x.dtype == np.float32 and 0.0 == x.min() and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))


def test_shipped_sample_is_real_mnist():
    # The first training digits of MNIST are 5, 0, 4, 1, 9; the mean grey level is ~33/255.
    (x, y), _ = data.read_mnist_npz(SAMPLE)
    np.testing.assert_array_equal(y[:5], [5, 0, 4, 1, 9])
    assert 30 < x.mean() < 37


def test_mnist_path_environment_variable_is_used(offline, monkeypatch, tmp_path):
    path = write_npz(tmp_path / "m.npz")
    monkeypatch.setenv("MNIST_PATH", str(path))
    (x, _), (xt, _), info = load_mnist(return_info=True)
    assert info == {"source": "file", "path": str(path)}
    assert len(x) == 50 and len(xt) == 50


def test_explicit_path_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "does-not-exist.npz"))
    (x, _), _ = load_mnist(write_npz(tmp_path / "m.npz"))
    assert len(x) == 50


def test_missing_file_named_by_env_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path / "nope.npz"))
    with pytest.raises(FileNotFoundError, match="MNIST_PATH.*nope.npz"):
        load_mnist()


def test_corrupt_file_names_file_and_problem(tmp_path):
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(ValueError, match="corrupt.npz.*not a readable .npz"):
        load_mnist(bad)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(SAMPLE.read_bytes()[:5000])
    with pytest.raises(ValueError, match="truncated.npz"):
        load_mnist(truncated)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"y_test": None}, "missing y_test"),
        ({"x_train": np.zeros((50, 28, 27), "uint8")}, r"x_train of shape \(N, 28, 28\)"),
        ({"x_train": np.zeros((50, 28, 28), "float32")}, "uint8"),
        ({"y_train": np.full(50, 12)}, "integers 0-9"),
        ({"y_train": np.zeros(49, "uint8")}, "one label per image"),
    ],
)
def test_wrong_layout_is_rejected(tmp_path, overrides, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(write_npz(tmp_path / "m.npz", **overrides))


def test_binarization_options(tmp_path):
    path = write_npz(tmp_path / "m.npz")
    (grey, _), _ = load_mnist(path)
    (thr, _), _ = load_mnist(path, binarize="threshold")
    (rnd1, _), _ = load_mnist(path, binarize="random", seed=1)
    (rnd2, _), _ = load_mnist(path, binarize="random", seed=1)
    (rnd3, _), _ = load_mnist(path, binarize="random", seed=2)
    np.testing.assert_array_equal(thr, (grey > 0.5).astype("float32"))
    assert set(np.unique(rnd1)) == {0.0, 1.0}
    np.testing.assert_array_equal(rnd1, rnd2)
    assert not np.array_equal(rnd1, rnd3)
    # Stochastic binarization keeps the grey level as the probability of a 1.
    assert abs(rnd1.mean() - grey.mean()) < 0.01
    assert (rnd1[grey == 0] == 0).all() and (rnd1[grey == 1] == 1).all()


def _every_grey_level(tmp_path):
    """An MNIST file whose train and test images hold every pixel value 0-255 (in other orders)."""
    levels = np.resize(np.arange(256, dtype="uint8"), (3, 28, 28))
    train, test = levels, np.ascontiguousarray(levels[::-1, ::-1])
    path = write_npz(tmp_path / "levels.npz", x_train=train, y_train=np.zeros(3, "uint8"), x_test=test, y_test=np.zeros(3, "uint8"))
    return path, {"train": train, "test": test}


def _grey(value):
    """The grey level the loader gives pixel value ``value``: float32(value) / 255 in float32."""
    return np.float32(value) / np.float32(255.0)


@pytest.mark.parametrize("value", [0, 128, 200])
def test_threshold_binarization_sends_a_pixel_exactly_at_the_threshold_to_zero(tmp_path, value):
    """The documented rule is pixel > threshold: a grey level equal to the threshold becomes 0, the next one up 1."""
    path, raw = _every_grey_level(tmp_path)
    threshold = float(_grey(value))  # exactly pixel value `value`'s grey level, in float32 and in float64
    for flatten in (False, True):
        (train, _), (test, _) = load_mnist(path, binarize="threshold", threshold=threshold, flatten=flatten)
        for split, x in (("train", train), ("test", test)):
            expected = (raw[split] > value).astype("float32")
            np.testing.assert_array_equal(x.reshape(raw[split].shape), expected, err_msg=f"{split}, flatten={flatten}")


def test_random_binarization_gives_a_one_only_when_the_draw_is_below_the_grey_level(tmp_path, monkeypatch):
    """binarize="random": pixel = 1 when its uniform draw u < grey level, so P(1) = grey level; u equal to it gives 0.

    The generator is replaced by one whose every draw is the grey level of pixel value 128.
    """
    path, raw = _every_grey_level(tmp_path)

    class EveryDrawAt128:
        def __init__(self, seed):
            pass

        def random(self, size, dtype):
            return np.full(size, _grey(128), dtype=dtype)

    monkeypatch.setattr(data.np.random, "default_rng", EveryDrawAt128)
    (train, _), (test, _) = load_mnist(path, binarize="random")
    for split, x in (("train", train), ("test", test)):
        np.testing.assert_array_equal(x[..., 0], (raw[split] > 128).astype("float32"), err_msg=split)


def test_flatten_and_subsets(tmp_path):
    (x, y), (xt, yt) = load_mnist(write_npz(tmp_path / "m.npz"), flatten=True, num_train=10, num_test=5)
    assert x.shape == (10, 784) and y.shape == (10,) and xt.shape == (5, 784)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"binarize": "yes"}, "binarize"), ({"threshold": 1.5}, "threshold"), ({"num_train": 0}, "num_train")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mnist(SAMPLE, **kwargs)


def test_no_ssl_verification_is_switched_off():
    source = (data.SAMPLE_PATH.parent / "__init__.py").read_text()
    assert "CERT_NONE" not in source and "verify=False" not in source and "_create_unverified_context" not in source


def test_random_binarization_of_the_test_set_does_not_depend_on_the_training_subset(tmp_path):
    """Regression: train and test were drawn from one stream, so fast mode saw another test set."""
    path = write_npz(tmp_path / "m.npz")
    _, (full_test, _) = load_mnist(path, binarize="random")
    _, (fast_test, _) = load_mnist(path, binarize="random", num_train=3)
    _, (first_test, _) = load_mnist(path, binarize="random", num_train=7, num_test=4)
    np.testing.assert_array_equal(full_test, fast_test)
    np.testing.assert_array_equal(full_test[:4], first_test)
    (train_a, _), _ = load_mnist(path, binarize="random", num_test=2)
    (train_b, _), _ = load_mnist(path, binarize="random")
    np.testing.assert_array_equal(train_a, train_b)


# ------------------------------------------------------------ issue 11, failure 8
@pytest.mark.parametrize("path", [123, 4.5, b"mnist.npz", ["mnist.npz"], ""])
def test_a_path_that_is_not_a_path_names_the_argument(path):
    with pytest.raises(ValueError, match="`path`"):
        load_mnist(path=path)


def test_mnist_path_naming_a_folder_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("MNIST_PATH", str(tmp_path))
    with pytest.raises(ValueError, match="MNIST_PATH.*which is a folder"):
        load_mnist()
    with pytest.raises(ValueError, match="which is a folder"):
        load_mnist(path=tmp_path)


def test_one_binarize_vocabulary_with_none_as_an_alias(tmp_path):
    path = write_npz(tmp_path / "m.npz")
    (x_none, _), _ = load_mnist(path, binarize="none")
    (x_alias, _), _ = load_mnist(path, binarize=None)
    np.testing.assert_array_equal(x_none, x_alias)
    assert len(np.unique(x_none)) > 2  # grey levels
    with pytest.raises(ValueError, match="binarize"):
        load_mnist(path, binarize="None")
    with pytest.raises(ValueError, match="seed"):
        load_mnist(path, binarize="random", seed=-1)
