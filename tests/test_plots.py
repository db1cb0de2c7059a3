"""Tests for workshop.plots, with NumPy stand-ins for the models (no training)."""

import json
import os
from statistics import NormalDist

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from workshop import plots  # noqa: E402

STANDARD = NormalDist()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


class FakeModel:
    """Duck-typed model: codes are written into the pixels so tiles can be read back.

    ``decode`` puts Phi(z[0]) in the left half of the image and Phi(z[1]) in
    the right half; ``encode`` reads those two numbers back (as codes).
    """

    latent_dim = 2

    def __init__(self, latent_dim=2):
        self.latent_dim = latent_dim
        self.decode_calls = []
        self.encode_calls = []
        self.reconstruct_calls = []

    def decode(self, z):
        z = np.asarray(z)
        self.decode_calls.append(z.copy())
        images = np.zeros((len(z), 28, 28, 1), dtype=np.float32)
        images[:, :, :14, 0] = np.array([STANDARD.cdf(v) for v in z[:, 0]])[:, None, None]
        images[:, :, 14:, 0] = np.array([STANDARD.cdf(v) for v in z[:, 1]])[:, None, None]
        return images

    def encode(self, x):
        x = np.asarray(x)
        self.encode_calls.append(x.copy())
        flat = x.reshape(len(x), 28, 28)
        z_mean = np.zeros((len(x), self.latent_dim), dtype=np.float32)
        z_mean[:, 0] = flat[:, :, :14].mean(axis=(1, 2))
        z_mean[:, 1] = flat[:, :, 14:].mean(axis=(1, 2))
        return z_mean, np.zeros_like(z_mean)

    def reconstruct(self, x):
        self.reconstruct_calls.append(np.asarray(x).copy())
        return 1.0 - np.asarray(x)


def tile(grid, row, col, padding=1):
    step = 28 + padding
    return grid[row * step : row * step + 28, col * step : col * step + 28]


def test_image_grid_places_image_k_at_row_k_div_ncols_col_k_mod_ncols():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(13, 28, 28))
    grid = plots.image_grid(images, ncols=5)
    assert grid.shape == (3 * 28 + 2, 5 * 28 + 4)
    for k in range(13):
        np.testing.assert_allclose(tile(grid, k // 5, k % 5), images[k])
    np.testing.assert_allclose(tile(grid, 2, 4), 0.0)  # empty cell after the last image
    np.testing.assert_allclose(grid[28, :], 1.0)  # separator row
    np.testing.assert_allclose(grid[:, 28], 1.0)  # separator column


def test_image_grid_accepts_the_three_layouts_alike():
    images = np.random.default_rng(1).uniform(size=(4, 28, 28))
    expected = plots.image_grid(images, ncols=2)
    np.testing.assert_allclose(plots.image_grid(images[..., None], ncols=2), expected)
    np.testing.assert_allclose(plots.image_grid(images.reshape(4, 784), ncols=2), expected)


@pytest.mark.parametrize("shape", [(5, 27, 27), (5, 28, 28, 3), (5, 783), (28, 28)])
def test_images_of_the_wrong_shape_are_rejected(shape):
    with pytest.raises(ValueError, match=r"Expected `images` of shape .*Received: shape="):
        plots.plot_images(np.zeros(shape))


def test_images_outside_unit_interval_are_rejected():
    images = np.random.default_rng(2).integers(0, 256, size=(5, 28, 28)).astype(np.float32)
    with pytest.raises(ValueError, match=r"\[0, 1\].*max=255"):
        plots.plot_images(images)
    with pytest.raises(ValueError, match="min=-0.5"):
        plots.image_grid(np.full((2, 784), -0.5))


def test_plot_images_draws_the_grid_and_returns_the_axes():
    images = np.random.default_rng(3).uniform(size=(20, 28, 28, 1))
    _, ax = plt.subplots()
    returned = plots.plot_images(images, ncols=10, ax=ax, title="samples")
    assert returned is ax
    assert ax.get_title() == "samples"
    np.testing.assert_allclose(ax.images[0].get_array(), plots.image_grid(images, ncols=10))
    assert plots.plot_images(images) is not ax  # ax=None makes a fresh figure


def test_plot_manifold_decodes_once_with_the_quantile_grid():
    model = FakeModel()
    n, quantiles = 6, (0.1, 0.9)
    plots.plot_manifold(model, n=n, quantiles=quantiles)
    assert len(model.decode_calls) == 1
    codes = model.decode_calls[0]
    assert codes.shape == (n * n, 2)
    values = [STANDARD.inv_cdf(p) for p in np.linspace(*quantiles, n)]
    np.testing.assert_allclose(np.unique(codes[:, 0]), values, rtol=1e-6)
    np.testing.assert_allclose(np.unique(codes[:, 1]), values, rtol=1e-6)
    assert values[0] < 0 < values[-1]


def test_plot_manifold_tiles_sit_at_their_codes():
    model = FakeModel()
    n, quantiles = 5, (0.05, 0.95)
    ax = plots.plot_manifold(model, n=n, quantiles=quantiles)
    grid = np.asarray(ax.images[0].get_array())
    probabilities = np.linspace(*quantiles, n)
    # Top-left tile: smallest z1 (left half = Phi(z1) = 0.05), largest z2 (right half = 0.95).
    top_left = tile(grid, 0, 0, padding=0)
    np.testing.assert_allclose(top_left[:, :14], 0.05, atol=1e-6)
    np.testing.assert_allclose(top_left[:, 14:], 0.95, atol=1e-6)
    for i, j in [(0, n - 1), (n - 1, 0), (1, 3), (n - 1, n - 1)]:
        cell = tile(grid, i, j, padding=0)
        np.testing.assert_allclose(cell[:, :14], probabilities[j], atol=1e-6)
        np.testing.assert_allclose(cell[:, 14:], probabilities[n - 1 - i], atol=1e-6)
    assert ax.get_xlabel() == "$z_{1}$" and ax.get_ylabel() == "$z_{2}$"
    first_tick = float(ax.get_xticklabels()[0].get_text())
    assert first_tick == pytest.approx(STANDARD.inv_cdf(0.05), abs=0.01)


def test_plot_manifold_in_higher_dimensions_holds_the_other_dims_at_zero():
    calls = []

    def decode(z):
        calls.append(np.asarray(z))
        return np.zeros((len(z), 784))

    plots.plot_manifold(decode, n=4, dims=(1, 3), latent_dim=5)
    (codes,) = calls
    assert codes.shape == (16, 5)
    np.testing.assert_array_equal(codes[:, [0, 2, 4]], 0.0)
    assert np.ptp(codes[:, 1]) > 0 and np.ptp(codes[:, 3]) > 0
    with pytest.raises(ValueError, match="dims"):
        plots.plot_manifold(decode, n=4, dims=(0, 5), latent_dim=5)
    with pytest.raises(ValueError, match="quantiles"):
        plots.plot_manifold(decode, n=4, quantiles=(0.0, 0.9))


def test_plot_manifold_rejects_a_decoder_returning_the_wrong_count():
    with pytest.raises(ValueError, match="Expected the decoder to return 9 images"):
        plots.plot_manifold(lambda z: np.zeros((4, 28, 28)), n=3)


def test_plot_latent_scatter_rejects_codes_that_are_not_2d():
    with pytest.raises(ValueError, match=r"Expected codes of shape \(N, d\).*Received: shape=\(100,\)"):
        plots.plot_latent_scatter(np.zeros(100), np.zeros(100, dtype=int))
    with pytest.raises(ValueError, match=r"Received: shape=\(100, 1\)"):
        plots.plot_latent_scatter(np.zeros((100, 1)), np.zeros(100, dtype=int))
    with pytest.raises(ValueError, match="one label per code"):
        plots.plot_latent_scatter(np.zeros((100, 2)), np.zeros(99, dtype=int))


def test_plot_latent_scatter_uses_the_chosen_dims_and_a_digit_colour_bar():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(200, 5))
    labels = rng.integers(0, 10, size=200)
    ax = plots.plot_latent_scatter(z, labels, dims=(3, 1))
    np.testing.assert_allclose(ax.collections[0].get_offsets(), z[:, [3, 1]])
    np.testing.assert_array_equal(ax.collections[0].get_array(), labels)
    assert ax.get_xlabel() == "$z_{4}$" and ax.get_ylabel() == "$z_{2}$"
    colour_bar = ax.collections[0].colorbar
    assert colour_bar is not None
    np.testing.assert_array_equal(colour_bar.get_ticks(), np.arange(10))
    # One-hot labels give the same colours.
    again = plots.plot_latent_scatter(z, np.eye(10)[labels], dims=(3, 1))
    np.testing.assert_array_equal(again.collections[0].get_array(), labels)


def test_plot_reconstructions_calls_the_model_on_the_first_n_inputs():
    model = FakeModel()
    x = np.random.default_rng(5).uniform(size=(30, 28, 28, 1)).astype(np.float32)
    fig = plots.plot_reconstructions(x, model=model, n=7)
    assert len(model.reconstruct_calls) == 1
    np.testing.assert_array_equal(model.reconstruct_calls[0], x[:7])
    top, bottom = fig.axes
    assert (top.get_ylabel(), bottom.get_ylabel()) == ("input", "reconstruction")
    np.testing.assert_allclose(top.images[0].get_array(), plots.image_grid(x[:7], ncols=7))
    np.testing.assert_allclose(bottom.images[0].get_array(), plots.image_grid(1 - x[:7], ncols=7))
    with pytest.raises(ValueError, match="reconstruct"):
        plots.plot_reconstructions(x)
    with pytest.raises(ValueError, match="at least 7 reconstructions"):
        plots.plot_reconstructions(x, x[:3], n=7)


def test_interpolate_is_linear_with_exact_endpoints():
    z_a, z_b = np.array([0.0, 2.0, -1.0]), np.array([1.0, -2.0, 3.0])
    path = plots.interpolate(z_a, z_b, steps=5)
    assert path.shape == (5, 3)
    np.testing.assert_array_equal(path[0], z_a)
    np.testing.assert_array_equal(path[-1], z_b)
    np.testing.assert_allclose(path[2], (z_a + z_b) / 2)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((z_b - z_a) / 4, (4, 1)))
    with pytest.raises(ValueError, match="steps"):
        plots.interpolate(z_a, z_b, steps=1)
    with pytest.raises(ValueError, match="same shape"):
        plots.interpolate(z_a, z_b[:2])


def test_plot_interpolation_encodes_once_and_decodes_the_line_once():
    model = FakeModel()
    x_start = np.zeros((28, 28))
    x_start[:, :14] = 0.8
    x_end = np.full((784,), 0.3)
    ax = plots.plot_interpolation(model, x_start, x_end, steps=6)
    assert len(model.encode_calls) == 1 and model.encode_calls[0].shape == (2, 28, 28, 1)
    (codes,) = model.decode_calls
    np.testing.assert_allclose(codes[0], [0.8, 0.0], atol=1e-6)
    np.testing.assert_allclose(codes[-1], [0.3, 0.3], atol=1e-6)
    np.testing.assert_allclose(codes, plots.interpolate(codes[0], codes[-1], 6), atol=1e-6)
    strip = np.asarray(ax.images[0].get_array())
    assert strip.shape == (28, 8 * 29 - 1)  # two inputs + six decoded tiles
    np.testing.assert_allclose(tile(strip, 0, 0), x_start)
    np.testing.assert_allclose(tile(strip, 0, 7), x_end.reshape(28, 28))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == labels[-1] == "input" and labels[1] == "0.00" and labels[-2] == "1.00"
    bare = plots.plot_interpolation(model, x_start, x_end, steps=6, show_inputs=False)
    assert np.asarray(bare.images[0].get_array()).shape == (28, 6 * 29 - 1)


def _history(validation):
    record = {
        "loss": [200.0, 150.0, 140.0],
        "reconstruction_loss": [190.0, 140.0, 130.0],
        "kl_loss": [10.0, 10.0, 10.0],
    }
    if validation:
        record.update({f"val_{k}": [v + 5 for v in values] for k, values in list(record.items())})
    return record


def test_plot_history_draws_validation_curves_only_when_present():
    with_val = plots.plot_history(_history(validation=True))
    assert [len(ax.lines) for ax in with_val.axes] == [2, 2, 2]
    without = plots.plot_history(_history(validation=False))
    assert [len(ax.lines) for ax in without.axes] == [1, 1, 1]
    line = without.axes[0].lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(line.get_ydata(), [200.0, 150.0, 140.0])
    assert all(ax.get_ylabel() == "nats per image" for ax in without.axes)
    assert all(ax.get_xlabel() == "epoch" for ax in without.axes)


def test_plot_history_accepts_a_keras_like_history_and_a_json_path(tmp_path):
    class History:
        history = _history(validation=True)

    fig = plots.plot_history(History(), metrics=("kl_loss",))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    path = tmp_path / "history.json"
    path.write_text(json.dumps(_history(validation=False)))
    assert len(plots.plot_history(path).axes) == 3


def test_plot_history_names_the_missing_metric():
    record = _history(validation=False)
    del record["kl_loss"]
    with pytest.raises(ValueError, match="Expected metric 'kl_loss' in the history"):
        plots.plot_history(record)


def test_save_figure_creates_folders_and_writes_a_png(tmp_path):
    ax = plots.plot_images(np.zeros((3, 28, 28)))
    path = plots.save_figure(ax.figure, tmp_path / "a" / "b" / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plots.save_figure(ax, tmp_path / "axes.png").exists()


# --------------------------------------------------------------------------- #
# accessibility: alt text, white background, colour-blind-safe digit colours
# --------------------------------------------------------------------------- #
def _all_figures():
    model = FakeModel()
    rng = np.random.default_rng(7)
    x = rng.uniform(size=(12, 28, 28))
    return {
        "images": plots.plot_images(x, ncols=4, title="samples from the prior").figure,
        "reconstructions": plots.plot_reconstructions(x, model=model, n=5),
        "scatter": plots.plot_latent_scatter(rng.normal(size=(50, 2)), rng.integers(0, 10, 50)).figure,
        "manifold": plots.plot_manifold(model, n=4).figure,
        "interpolation": plots.plot_interpolation(model, x[0], x[1], steps=5).figure,
        "history": plots.plot_history(_history(validation=True)),
    }


def test_every_figure_says_what_it_shows_in_its_alt_text():
    alts = {name: plots.alt_text(fig) for name, fig in _all_figures().items()}
    assert "'samples from the prior'" in alts["images"] and "12 digit-sized images, 3 row(s) of 4" in alts["images"]
    assert "inputs on top" in alts["reconstructions"] and "5 digit images" in alts["reconstructions"]
    assert "50 latent codes" in alts["scatter"] and "coloured by digit" in alts["scatter"]
    assert "4 by 4 grid" in alts["manifold"] and "-1.64 to 1.64" in alts["manifold"]
    assert "5 digits decoded" in alts["interpolation"] and "framed by the two input images" in alts["interpolation"]
    assert "3 epoch(s)" in alts["history"] and "loss (negative ELBO) from 200 to 140" in alts["history"]
    assert "(validation ends at 145)" in alts["history"]
    assert len(set(alts.values())) == len(alts)


def test_figures_have_an_explicit_white_background_also_when_saved(tmp_path):
    for name, fig in _all_figures().items():
        assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0), name
        assert all(ax.get_facecolor() == (1.0, 1.0, 1.0, 1.0) for ax in fig.axes), name
    plt.rcParams["savefig.transparent"] = True  # a dark-theme user setting
    try:
        path = plots.save_figure(plots.plot_images(np.zeros((2, 28, 28))), tmp_path / "g.png")
    finally:
        plt.rcParams["savefig.transparent"] = False
    corner = plt.imread(path)[0, 0]
    assert corner[-1] == 1.0 and corner[:3].min() == 1.0  # opaque white, not transparent


def test_alt_text_of_a_plain_matplotlib_figure_comes_from_its_titles_and_labels():
    fig, (left, right) = plt.subplots(1, 2)
    left.plot([0, 1], [1, 0], label="train")
    left.set_title("loss")
    left.set_xlabel("epoch")
    left.legend()
    right.imshow(np.zeros((3, 3)))
    text = plots.alt_text(fig)
    assert text.startswith("Figure with 2 panels: panel 1: 'loss' with 1 line(s) x: epoch")
    assert "legend: train" in text and "panel 2: with an image" in text
    plots.set_alt_text(fig, "  my own   words ")
    assert plots.alt_text(right) == "my own words"
    with pytest.raises(ValueError, match="non-empty alt text"):
        plots.set_alt_text(fig, " ")


def test_ipython_display_carries_the_alt_text_as_image_metadata():
    from types import SimpleNamespace

    from IPython.core.formatters import DisplayFormatter
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    formatter = DisplayFormatter()
    formatter.formatters["image/png"].for_type(Figure, lambda fig: print_figure(fig, "png"))
    assert plots.register_alt_text_display(SimpleNamespace(display_formatter=formatter))
    fig = plots.plot_manifold(FakeModel(), n=3).figure
    data, metadata = formatter.format(fig)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert metadata["image/png"]["alt"] == plots.alt_text(fig) and "3 by 3 grid" in metadata["image/png"]["alt"]
    assert not plots.register_alt_text_display(SimpleNamespace())


_MACHADO = {  # Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def _min_cielab_distance(hex_colours, simulation=None):
    from matplotlib import colors

    srgb = np.array([colors.to_rgb(h) for h in hex_colours])
    rgb = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    if simulation is not None:
        rgb = np.clip(rgb @ np.array(simulation).T, 0.0, 1.0)
    to_xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = rgb @ to_xyz.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    lab = np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)
    distance = np.linalg.norm(lab[:, None] - lab[None], axis=-1)
    distance[np.eye(len(lab), dtype=bool)] = np.inf
    return distance.min()


def test_digit_colours_stay_apart_under_simulated_colour_blindness():
    import matplotlib

    assert len(set(plots.DIGIT_COLOURS)) == 10
    for name, simulation in [("normal", None), *_MACHADO.items()]:
        assert _min_cielab_distance(plots.DIGIT_COLOURS, simulation) >= 15, name
    tab10 = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    assert _min_cielab_distance(tab10, _MACHADO["protanopia"]) < 15  # the test can fail: tab10 would


def test_latent_scatter_uses_the_palette_and_writes_each_digit_in_the_plot():
    rng = np.random.default_rng(8)
    labels = np.repeat(np.arange(10), 20)
    z = rng.normal(size=(200, 2)) * 0.1 + labels[:, None]  # digit k clustered around (k, k)
    ax = plots.plot_latent_scatter(z, labels)
    ax.figure.canvas.draw()
    faces = ax.collections[0].get_facecolors()[:, :3]
    from matplotlib import colors

    for k in (0, 3, 9):
        np.testing.assert_allclose(faces[labels == k][0], colors.to_rgb(plots.DIGIT_COLOURS[k]))
    written = {t.get_text(): t.get_position() for t in ax.texts}
    assert set(written) == {str(k) for k in range(10)}
    for k in range(10):
        np.testing.assert_allclose(written[str(k)], (k, k), atol=0.1)
