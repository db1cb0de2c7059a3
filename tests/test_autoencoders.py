"""The deterministic autoencoders and the PCA, angle, shift and neighbour helpers of notebook 02."""

import keras
import numpy as np
import pytest

from workshop import autoencoders as A


# --------------------------------------------------------------------------- #
# Models
# --------------------------------------------------------------------------- #
def test_encoder_decoder_shapes_and_output_range():
    encoder, decoder = A.build_encoder_decoder(3, hidden_units=(32, 16))
    assert encoder.output_shape == (None, 3) and decoder.output_shape == (None, 784)
    x = np.random.default_rng(0).random((64, 784)).astype("float32")
    codes = encoder.predict(x, verbose=0)
    images = decoder.predict(codes, verbose=0)
    assert codes.min() < 0  # the code layer is linear: codes can be negative
    assert images.min() >= 0.0 and images.max() <= 1.0  # sigmoid pixels
    # The decoder mirrors the encoder.
    assert [layer.units for layer in decoder.layers[1:]] == [16, 32, 784]


def test_linear_autoencoder_is_a_linear_map():
    autoencoder = A.build_autoencoder(4, hidden_units=(), linear=True)
    assert all(not layer.use_bias for model in autoencoder.layers[1:] for layer in model.layers[1:])
    x = np.random.default_rng(1).normal(size=(5, 784)).astype("float32")
    y1 = autoencoder.predict(x, verbose=0)
    y2 = autoencoder.predict(-2.0 * x, verbose=0)
    np.testing.assert_allclose(y2, -2.0 * y1, rtol=1e-4, atol=1e-5)
    assert autoencoder.get_layer("encoder").output_shape == (None, 4)
    assert autoencoder.get_layer("decoder").output_shape == (None, 784)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_code_dim_is_a_value_error(bad):
    with pytest.raises(ValueError, match="Expected"):
        A.build_encoder_decoder(bad)


def test_sum_squared_error_sums_pixels_and_keras_averages_images():
    rng = np.random.default_rng(2)
    x = rng.random((6, 784)).astype("float32")
    x_hat = rng.random((6, 784)).astype("float32")
    per_image = keras.ops.convert_to_numpy(A.sum_squared_error(x, x_hat))
    np.testing.assert_allclose(per_image, np.sum((x - x_hat) ** 2, axis=1), rtol=1e-5)
    model = keras.Sequential([keras.Input((784,)), keras.layers.Identity()])
    model.compile(loss=A.sum_squared_error)
    assert model.evaluate(x_hat, x, verbose=0, batch_size=6) == pytest.approx(per_image.mean(), rel=1e-5)


def test_linear_autoencoder_trained_with_squared_error_finds_the_pca_subspace():
    # 10-D data with a clear 2-D principal subspace (variances 9, 4, then 0.25).
    rng = np.random.default_rng(3)
    rotation, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    scales = np.array([3.0, 2.0] + [0.5] * 8)
    x = (rng.normal(size=(400, 10)) * scales) @ rotation.T
    x = (x - x.mean(axis=0)).astype("float32")
    keras.utils.set_random_seed(0)
    autoencoder = A.build_autoencoder(2, hidden_units=(), linear=True, input_dim=10)
    autoencoder.compile(optimizer=keras.optimizers.Adam(0.05), loss=A.sum_squared_error)
    data = keras.ops.convert_to_tensor(x)
    for _ in range(150):
        autoencoder.train_on_batch(data, data)
    decoder_rows = autoencoder.get_layer("decoder").get_layer("reconstruction").kernel.numpy()  # (2, 10)
    angles = A.principal_angles(decoder_rows.T, A.pca_subspace(x, 2))
    assert angles.max() < 2.0


# --------------------------------------------------------------------------- #
# PCA and principal angles
# --------------------------------------------------------------------------- #
def test_pca_subspace_is_orthonormal_and_matches_the_covariance_eigenvectors():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1]) + 7.0
    basis, variances = A.pca_subspace(x, 3, return_variances=True)
    assert basis.shape == (6, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    covariance = np.cov(x.T, bias=True)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    np.testing.assert_allclose(variances, eigenvalues[::-1], rtol=1e-9)
    assert A.principal_angles(basis, eigenvectors[:, ::-1][:, :3]).max() < 1e-5
    with pytest.raises(ValueError, match="Expected k"):
        A.pca_subspace(x, 7)
    # Fewer examples than dimensions takes the SVD route; same answer as the covariance.
    wide = rng.normal(size=(8, 20)) * np.linspace(3.0, 0.1, 20)
    basis, variances = A.pca_subspace(wide, 3, return_variances=True)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(wide.T, bias=True))
    np.testing.assert_allclose(variances, eigenvalues[::-1][:8], rtol=1e-8, atol=1e-10)
    assert A.principal_angles(basis, eigenvectors[:, ::-1][:, :3]).max() < 1e-5


def test_principal_angles_known_values_and_basis_invariance():
    t = np.radians(30.0)
    a = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    b = np.array([[1.0, 0.0], [0.0, np.cos(t)], [0.0, np.sin(t)]])
    np.testing.assert_allclose(A.principal_angles(a, b), [0.0, 30.0], atol=1e-6)
    # Any other basis of the same spaces gives the same angles.
    mix = np.array([[2.0, 1.0], [0.5, -3.0]])
    np.testing.assert_allclose(A.principal_angles(a @ mix, b @ mix.T), [0.0, 30.0], atol=1e-6)
    np.testing.assert_allclose(A.principal_angles(a, np.array([[0.0], [0.0], [1.0]])), [90.0], atol=1e-6)
    with pytest.raises(ValueError, match="same number of rows"):
        A.principal_angles(a, np.ones((4, 2)))


# --------------------------------------------------------------------------- #
# Shifts and the MSE comparison
# --------------------------------------------------------------------------- #
def test_shift_images_fills_with_zeros_and_never_wraps():
    image = np.arange(1.0, 13.0).reshape(3, 4)
    right = A.shift_images(image, 1)
    np.testing.assert_array_equal(right, [[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]])
    np.testing.assert_array_equal(A.shift_images(image, -2), [[3, 4, 0, 0], [7, 8, 0, 0], [11, 12, 0, 0]])
    np.testing.assert_array_equal(A.shift_images(image, 1, axis=0)[0], [0, 0, 0, 0])
    np.testing.assert_array_equal(A.shift_images(image, 0), image)
    assert not A.shift_images(image, 4).any()
    with pytest.raises(ValueError, match="whole number"):
        A.shift_images(image, 1.5)


def test_shift_vs_noise_mse_by_hand():
    rng = np.random.default_rng(5)
    image = np.zeros((28, 28))
    image[8:20, 10:14] = 1.0  # a vertical bar, 4 pixels wide
    shifted, noisy = A.shift_vs_noise_mse(image, shift=2, noise_std=0.1, rng=np.random.default_rng(6))
    # Shifting the bar by 2 changes 2 columns on each side, 12 rows each: 48 pixels off by 1.
    assert shifted == pytest.approx(48 / 784)
    noise = 0.1 * np.random.default_rng(6).standard_normal((28, 28))
    assert noisy == pytest.approx(np.mean((np.clip(image + noise, 0, 1) - image) ** 2))
    assert A.shift_vs_noise_mse(image[..., None], 0, 0.1, rng)[0] == 0.0
    with pytest.raises(ValueError, match="Expected one image"):
        A.shift_vs_noise_mse(np.zeros((2, 28, 28)))


# --------------------------------------------------------------------------- #
# Neighbours
# --------------------------------------------------------------------------- #
def test_nearest_neighbours_match_brute_force():
    rng = np.random.default_rng(7)
    queries, references = rng.normal(size=(37, 5)), rng.normal(size=(50, 5))
    distances, indices = A.nearest_neighbour_distances(queries, references, batch_size=8)
    brute = np.linalg.norm(queries[:, None] - references[None], axis=-1)
    np.testing.assert_array_equal(indices, brute.argmin(axis=1))
    np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-9)
    # Against itself: each point's neighbour is another point, never itself.
    distances, indices = A.nearest_neighbour_distances(references, references, exclude_self=True)
    assert np.all(indices != np.arange(50)) and np.all(distances > 0)
    with pytest.raises(ValueError, match="same number of values"):
        A.nearest_neighbour_distances(queries, rng.normal(size=(3, 4)))


def test_knn_vote_on_two_clusters():
    rng = np.random.default_rng(8)
    references = np.concatenate([rng.normal(0.0, 0.1, size=(20, 2)), rng.normal(5.0, 0.1, size=(20, 2))])
    labels = np.repeat([0, 1], 20)
    predicted, agreement = A.knn_vote(np.array([[0.0, 0.0], [5.0, 5.0], [2.5, 2.5]]), references, labels, k=10)
    np.testing.assert_array_equal(predicted[:2], [0, 1])
    np.testing.assert_array_equal(agreement[:2], [1.0, 1.0])
    with pytest.raises(ValueError, match="Expected k"):
        A.knn_vote(references, references, labels, k=41)
