"""Figures for the workshop: image grids, latent spaces, manifolds and curves.

Every function here behaves like a seaborn plotting function. Those that draw
on a single Axes accept ``ax=None`` and return the ``Axes`` they drew on (a new
figure is created when ``ax`` is None, so a notebook cell never draws onto a
stale figure); those that need several axes accept ``fig=None`` and return the
``Figure``. Nothing here calls ``plt.show()``.

Accessibility: every figure drawn here has an explicit white background (it
reads the same in a dark notebook theme), the ten digit classes use a
colour-blind-safe palette (:data:`DIGIT_COLOURS`) with the digit written in the
plot, and every figure carries alt text that says what it shows
(:func:`alt_text`). In IPython/Jupyter, importing this module registers a
display hook so that the alt text travels with the figure as display metadata
(``metadata["image/png"]["alt"]``), which the course website turns into
``<img alt=...>``; figures drawn with plain Matplotlib get a description built
from their titles and axis labels.

The functions only rely on duck typing: a "model" is any object with the
methods a function needs (``encode``, ``decode`` or ``reconstruct``), each
taking and returning NumPy arrays, so the module never imports the models and
works with any stand-in that has the same methods.
"""

import json
import os
from collections.abc import Mapping
from pathlib import Path
from statistics import NormalDist

import numpy as np
from matplotlib import colors, patheffects, ticker

from workshop.validation import check_images, check_positive_int

IMAGE_SIZE = 28
_TILE = IMAGE_SIZE  # side of one tile, in pixels
_HISTORY_TITLES = {
    "loss": "loss (negative ELBO)",
    "reconstruction_loss": "reconstruction loss",
    "kl_loss": "KL divergence",
}


# Ten colours from the Okabe-Ito and Paul Tol colour-blind-safe schemes, chosen so
# that every pair stays apart (CIELAB distance >= 15) for normal vision and under
# simulated protanopia, deuteranopia and tritanopia (Machado et al. 2009); Matplotlib's
# tab10 drops below 5 under protanopia. Digit k gets DIGIT_COLOURS[k]; the digit
# itself is also written in the plot, so colour is never the only cue.
DIGIT_COLOURS = (
    "#0072B2",  # 0 blue
    "#E69F00",  # 1 orange
    "#56B4E9",  # 2 sky blue
    "#CC3311",  # 3 red
    "#332288",  # 4 indigo
    "#EECC66",  # 5 sand
    "#882255",  # 6 wine
    "#BBBBBB",  # 7 grey
    "#EE6677",  # 8 rose
    "#000000",  # 9 black
)
DIGIT_CMAP = colors.ListedColormap(DIGIT_COLOURS, name="workshop_digits")
BACKGROUND = "white"


def _white(figure):
    figure.patch.set_facecolor(BACKGROUND)
    figure.patch.set_alpha(1.0)
    for axes in figure.axes:
        axes.set_facecolor(BACKGROUND)
    return figure


def set_alt_text(target, text):
    """Attach alt text to a Figure or an Axes (what a screen reader says instead of the picture)."""
    text = " ".join(str(text).split())
    if not text:
        raise ValueError("Expected a non-empty alt text. Received: an empty string")
    target._workshop_alt = text
    return target


def _axes_description(axes):
    own = getattr(axes, "_workshop_alt", None)
    if own:
        return own
    parts = []
    title = axes.get_title()
    if title:
        parts.append(f"'{title}'")
    kinds = []
    if axes.images:
        kinds.append("an image")
    if axes.lines:
        kinds.append(f"{len(axes.lines)} line(s)")
    if axes.collections:
        kinds.append("points or areas")
    if axes.patches:
        kinds.append(f"{len(axes.patches)} bar(s) or patch(es)")
    if kinds:
        parts.append("with " + ", ".join(kinds))
    xlabel, ylabel = axes.get_xlabel(), axes.get_ylabel()
    if xlabel or ylabel:
        parts.append(f"x: {xlabel or 'unlabelled'}, y: {ylabel or 'unlabelled'}")
    legend = axes.get_legend()
    if legend is not None:
        names = [t.get_text() for t in legend.get_texts() if t.get_text()]
        if names:
            parts.append("legend: " + ", ".join(names))
    return " ".join(parts)


def alt_text(fig):
    """The alt text of a Figure (or of an Axes' figure).

    Alt text set by :func:`set_alt_text` on the figure wins; otherwise it is put
    together from the alt texts (or titles, axis labels and legends) of its panels.
    Colour bars are skipped. Never empty.
    """
    figure = fig if hasattr(fig, "savefig") else getattr(fig, "figure", None)
    if figure is None:
        raise ValueError(f"Expected a matplotlib Figure or Axes. Received: {type(fig).__name__}")
    own = getattr(figure, "_workshop_alt", None)
    if own:
        return own
    panels = [a for a in figure.axes if not getattr(a, "_colorbar", None) and a.get_label() != "<colorbar>"]
    described = [d for d in (_axes_description(a) for a in panels) if d]
    suptitle = figure._suptitle.get_text() if getattr(figure, "_suptitle", None) is not None else ""
    head = f"Figure '{suptitle}'" if suptitle else "Figure"
    if not panels:
        return head + " (empty)"
    if len(panels) == 1:
        return f"{head}: {described[0]}" if described else f"{head} with one panel"
    body = "; ".join(f"panel {i}: {d}" for i, d in enumerate(described, start=1))
    return f"{head} with {len(panels)} panels" + (f": {body}" if body else "")


def _figure_display_metadata(fig):
    """IPython mimebundle hook: no data of its own, only the alt text as PNG/SVG metadata."""
    try:
        text = alt_text(fig)
    except Exception:  # never break a notebook's display over alt text
        return None
    return {}, {"image/png": {"alt": text}}  # the inline backend's format


def register_alt_text_display(shell=None):
    """Make IPython send every Matplotlib figure's alt text as display metadata.

    Called on import when running under IPython; returns True when registered.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    formatter = getattr(getattr(shell, "display_formatter", None), "mimebundle_formatter", None)
    if formatter is None:
        return False
    formatter.for_type_by_name("matplotlib.figure", "Figure", _figure_display_metadata)
    return True


def _pyplot():
    # Imported lazily so that `import workshop` does not pick a backend.
    import matplotlib.pyplot as plt

    return plt


def _new_axes(ax, figsize):
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize, layout="constrained", facecolor=BACKGROUND)
    return ax


def _new_figure(fig, figsize):
    if fig is not None:
        return fig
    return _pyplot().figure(figsize=figsize, layout="constrained", facecolor=BACKGROUND)


def _finish(target, text, figure_alt=None):
    """White background, alt text on the Axes (and on the figure when given); return target."""
    set_alt_text(target, text)
    figure = target if hasattr(target, "savefig") else target.figure
    _white(figure)
    if figure_alt is not None:
        set_alt_text(figure, figure_alt)
    return target


def _as_images(images, name="images"):
    """Return `images` as a float array of shape (N, 28, 28) with values in [0, 1]."""
    return check_images(images, name)[..., 0].astype(np.float64)


def _as_single_image(image, name):
    """Return one image, given as (28, 28), (28, 28, 1), (784,) or a batch of one."""
    x = np.asarray(image)
    if x.shape in {(IMAGE_SIZE, IMAGE_SIZE), (IMAGE_SIZE, IMAGE_SIZE, 1), (IMAGE_SIZE * IMAGE_SIZE,)}:
        x = x[None]
    if len(x) != 1 and x.ndim in (2, 3, 4):
        raise ValueError(f"Expected {name} to be one image of shape (28, 28), (28, 28, 1) or (784,). Received: shape={np.shape(image)}")
    return _as_images(x, name)[0]


def _check_dims(dims, latent_dim):
    try:
        first, second = (int(d) for d in dims)
    except (TypeError, ValueError):
        raise ValueError(f"Expected dims to be a pair of latent indices. Received: dims={dims!r}") from None
    if first == second or not (0 <= first < latent_dim and 0 <= second < latent_dim):
        raise ValueError(f"Expected dims to be two different indices in [0, {latent_dim}). Received: dims={tuple(dims)}")
    return first, second


def _latent_label(index):
    return f"$z_{{{index + 1}}}$"


def _decode_function(model_or_decode):
    if hasattr(model_or_decode, "decode"):
        return model_or_decode.decode
    if callable(model_or_decode):
        return model_or_decode
    raise ValueError(
        f"Expected a model with a `decode` method or a callable mapping codes to images. Received: {type(model_or_decode).__name__}"
    )


def _hide_frame(ax):
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def image_grid(images, ncols=10, padding=1, pad_value=1.0):
    """Tile a batch of images into one 2-D array, row by row.

    Image ``k`` lands in grid row ``k // ncols`` and column ``k % ncols``.
    Tiles are separated by ``padding`` pixels of ``pad_value`` (white lines
    under the ``"gray"`` colour map); cells after the last image stay black.

    Parameters
    ----------
    images : array-like
        Images of shape (N, 28, 28), (N, 28, 28, 1) or (N, 784), values in [0, 1].
    ncols : int, default 10
        Number of tiles per row (reduced to N when there are fewer images).
    padding : int, default 1
        Width of the separators between tiles, in pixels.
    pad_value : float, default 1.0
        Pixel value of the separators.

    Returns
    -------
    numpy.ndarray
        Array of shape ``(rows * 28 + (rows - 1) * padding,
        cols * 28 + (cols - 1) * padding)`` with ``rows = ceil(N / cols)``.

    Examples
    --------
    >>> grid = image_grid(np.zeros((12, 28, 28)), ncols=5)
    >>> grid.shape
    (86, 144)
    """
    x = _as_images(images)
    ncols = min(check_positive_int(ncols, "ncols"), len(x))
    padding = check_positive_int(padding, "padding", minimum=0)
    nrows = -(-len(x) // ncols)
    step = _TILE + padding
    grid = np.full((nrows * step - padding, ncols * step - padding), float(pad_value))
    for cell in range(nrows * ncols):
        row, col = divmod(cell, ncols)
        tile = x[cell] if cell < len(x) else 0.0
        grid[row * step : row * step + _TILE, col * step : col * step + _TILE] = tile
    return grid


def plot_images(images, ncols=10, ax=None, title=None, cmap="gray"):
    """Show a batch of images as one grid, for example samples from the prior.

    Parameters
    ----------
    images : array-like
        Images of shape (N, 28, 28), (N, 28, 28, 1) or (N, 784), values in [0, 1].
    ncols : int, default 10
        Number of images per row.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when omitted.
    title : str, optional
        Title of the axes.
    cmap : str, default "gray"
        Matplotlib colour map (``"gray"``: white digits on black).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes holding the grid.

    Examples
    --------
    >>> ax = plot_images(model.sample(50, seed=0), ncols=10, title="samples from the prior")
    """
    grid = image_grid(images, ncols=ncols)
    height, width = grid.shape
    ax = _new_axes(ax, figsize=(min(12.0, 0.035 * width), min(12.0, 0.035 * height) + 0.4))
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _hide_frame(ax)
    if title is not None:
        ax.set_title(title)
    count = len(_as_images(images))
    cols = min(int(ncols), count)
    rows = -(-count // cols)
    what = f"'{title}': " if title else ""
    return _finish(ax, f"{what}a grid of {count} digit-sized images, {rows} row(s) of {cols}")


def plot_confusion_matrix(table, ax=None, title=None, row_label="true digit", column_label="matched cluster"):
    """Draw a confusion matrix of counts, each cell annotated, darker for more.

    Parameters
    ----------
    table : array-like
        Counts of shape (R, C), non-negative integers; rows are the true classes
        (for a clustering: :func:`workshop.clustering.confusion_matrix`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when omitted.
    title, row_label, column_label : str
        Title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
    """
    table = np.asarray(table)
    if table.ndim != 2 or table.size == 0 or table.dtype.kind not in "iu" or table.min() < 0:
        raise ValueError(f"Expected a 2-D table of non-negative integer counts. Received: shape={table.shape}, dtype={table.dtype}")
    rows, cols = table.shape
    ax = _new_axes(ax, figsize=(0.5 * cols + 1.5, 0.45 * rows + 1.2))
    ax.imshow(table, cmap="Blues", vmin=0, vmax=max(int(table.max()), 1))
    threshold = table.max() / 2
    for i in range(rows):
        for j in range(cols):
            ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=7, color="white" if table[i, j] > threshold else "black")
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set_xlabel(column_label)
    ax.set_ylabel(row_label)
    if title is not None:
        ax.set_title(title)
    correct = int(np.trace(table)) if rows == cols else None
    share = f"; {correct} of {int(table.sum())} counts on the diagonal" if correct is not None else ""
    return _finish(ax, f"a {rows} by {cols} confusion matrix of counts, rows {row_label}, columns {column_label}{share}")


def plot_reconstructions(originals, reconstructions=None, n=10, fig=None, model=None, cmap="gray"):
    """Show inputs in the top row and their reconstructions underneath.

    Parameters
    ----------
    originals : array-like
        Input images of shape (N, 28, 28), (N, 28, 28, 1) or (N, 784).
    reconstructions : array-like, optional
        Reconstructed images, same layout; the first ``n`` are shown. When
        omitted, ``model.reconstruct(originals[:n])`` computes them.
    n : int, default 10
        Number of pairs to show (at most the number of inputs).
    fig : matplotlib.figure.Figure, optional
        Figure to draw on; a new one is created when omitted.
    model : object, optional
        Anything with a ``reconstruct(x)`` method returning images.
    cmap : str, default "gray"
        Matplotlib colour map.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with two Axes labelled "input" and "reconstruction".

    Examples
    --------
    >>> fig = plot_reconstructions(x_test, model=vae, n=10)
    >>> fig = plot_reconstructions(x_test, vae.reconstruct(x_test[:10]))
    """
    n = check_positive_int(n, "n")
    inputs = _as_images(originals, "originals")[:n]
    n = len(inputs)
    if reconstructions is None:
        if model is None or not hasattr(model, "reconstruct"):
            raise ValueError(
                "Expected `reconstructions` or a `model` with a `reconstruct` method. "
                f"Received: reconstructions=None, model={type(model).__name__}"
            )
        raw = np.asarray(originals)[:n]
        reconstructions = model.reconstruct(raw)
    outputs = _as_images(reconstructions, "reconstructions")
    if len(outputs) < n:
        raise ValueError(f"Expected at least {n} reconstructions (one per input shown). Received: {len(outputs)}")
    outputs = outputs[:n]
    fig = _new_figure(fig, figsize=(max(3.0, 0.75 * n + 1.2), 1.9))
    axes = fig.subplots(2, 1)
    for ax, batch, label in zip(axes, (inputs, outputs), ("input", "reconstruction")):
        ax.imshow(image_grid(batch, ncols=n), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
        _hide_frame(ax)
        ax.set_ylabel(label, rotation=0, ha="right", va="center")
    return _finish(
        fig,
        f"Two rows of {n} digit images: the inputs on top and, under each, its reconstruction",
    )


def plot_latent_scatter(z, labels=None, ax=None, dims=(0, 1), alpha=0.6, s=4, colorbar=True):
    """Scatter two latent coordinates of encoded images, coloured by digit.

    Parameters
    ----------
    z : array-like of shape (N, d), d >= 2
        Latent codes, typically the posterior means ``z_mean`` from ``encode``.
    labels : array-like of shape (N,) or (N, K), optional
        Integer class labels (or one-hot rows). Without labels all points share
        one colour and no colour bar is drawn.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when omitted.
    dims : pair of int, default (0, 1)
        Which two latent dimensions to put on the x and y axes.
    alpha : float, default 0.6
        Point opacity.
    s : float, default 4
        Point size.
    colorbar : bool, default True
        Draw a discrete colour bar with one colour per class (tab10).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes holding the scatter.

    Examples
    --------
    >>> z_mean, _ = vae.encode(x_test)
    >>> ax = plot_latent_scatter(z_mean, y_test)
    """
    codes = np.asarray(z, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[1] < 2:
        raise ValueError(f"Expected codes of shape (N, d) with d >= 2 (e.g. (N, 2)). Received: shape={codes.shape}")
    first, second = _check_dims(dims, codes.shape[1])
    ax = _new_axes(ax, figsize=(5.2, 4.4))
    points = {"s": s, "alpha": alpha, "linewidths": 0}
    if labels is None:
        ax.scatter(codes[:, first], codes[:, second], **points)
    else:
        classes = np.asarray(labels)
        if classes.ndim == 2:
            classes = classes.argmax(axis=1)
        if classes.ndim != 1 or len(classes) != len(codes):
            raise ValueError(f"Expected one label per code, shape ({len(codes)},). Received: labels shape={np.shape(labels)}")
        if not np.issubdtype(classes.dtype, np.integer):
            if not np.all(np.mod(classes, 1) == 0):
                raise ValueError(f"Expected integer class labels. Received: dtype={classes.dtype}")
            classes = classes.astype(int)
        if classes.min() < 0:
            raise ValueError(f"Expected class labels >= 0. Received: min={classes.min()}")
        num_classes = max(10, int(classes.max()) + 1)
        cmap = DIGIT_CMAP if num_classes <= 10 else "tab20" if num_classes <= 20 else "viridis"
        norm = colors.BoundaryNorm(np.arange(num_classes + 1) - 0.5, num_classes)
        drawn = ax.scatter(codes[:, first], codes[:, second], c=classes, cmap=cmap, norm=norm, **points)
        outline = [patheffects.withStroke(linewidth=3, foreground=BACKGROUND)]
        for label in np.unique(classes):  # the class written where its points are
            centre = np.median(codes[classes == label][:, [first, second]], axis=0)
            ax.text(*centre, str(label), ha="center", va="center", fontsize=12, fontweight="bold", color="black", path_effects=outline)
        if colorbar:
            bar = ax.figure.colorbar(drawn, ax=ax, ticks=np.arange(num_classes))
            bar.set_label("digit")
            bar.solids.set_alpha(1.0)
    ax.set_xlabel(_latent_label(first))
    ax.set_ylabel(_latent_label(second))
    how = "coloured by digit with each digit written at the centre of its points" if labels is not None else "one colour"
    return _finish(
        ax,
        f"Scatter plot of {len(codes)} latent codes, dimension {first + 1} across and {second + 1} up, {how}",
    )


def _inverse_normal_cdf(probabilities):
    """Quantiles of the standard normal distribution (NumPy has no ppf)."""
    standard = NormalDist()
    p = np.asarray(probabilities, dtype=np.float64)
    return np.array([standard.inv_cdf(float(v)) for v in p.ravel()]).reshape(p.shape)


def manifold_codes(n=20, dims=(0, 1), latent_dim=2, quantiles=(0.05, 0.95)):
    """Latent codes on an n x n grid of standard normal quantiles.

    Row ``i * n + j`` of the result is the code shown at grid row ``i`` (top
    to bottom) and column ``j`` (left to right): its ``dims[0]`` coordinate is
    ``values[j]`` and its ``dims[1]`` coordinate is ``values[n - 1 - i]``, so
    ``z`` grows to the right and upwards. Every other coordinate is 0.

    Parameters
    ----------
    n : int, default 20
        Grid size.
    dims : pair of int, default (0, 1)
        The latent dimensions that vary along the x and y axes.
    latent_dim : int, default 2
        Length of each code.
    quantiles : pair of float, default (0.05, 0.95)
        Probabilities of the first and last grid values, strictly in (0, 1).

    Returns
    -------
    codes : numpy.ndarray of shape (n * n, latent_dim), float32
    values : numpy.ndarray of shape (n,)
        The increasing grid values, ``Phi^{-1}(linspace(q_low, q_high, n))``.

    Examples
    --------
    >>> codes, values = manifold_codes(n=3)
    >>> codes.shape
    (9, 2)
    """
    n = check_positive_int(n, "n")
    latent_dim = check_positive_int(latent_dim, "latent_dim", minimum=2)
    first, second = _check_dims(dims, latent_dim)
    try:
        low, high = (float(q) for q in quantiles)
    except (TypeError, ValueError):
        raise ValueError(f"Expected quantiles to be a pair of floats. Received: quantiles={quantiles!r}") from None
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"Expected quantiles with 0 < low < high < 1. Received: quantiles={tuple(quantiles)}")
    values = _inverse_normal_cdf(np.linspace(low, high, n))
    values[np.abs(values) < 1e-12] = 0.0  # the median is 0, not -1e-17
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    codes = np.zeros((n * n, latent_dim), dtype=np.float32)
    codes[:, first] = values[cols.ravel()]
    codes[:, second] = values[(n - 1 - rows).ravel()]
    return codes, values


def plot_manifold(
    model_or_decode,
    n=20,
    dims=(0, 1),
    latent_dim=None,
    quantiles=(0.05, 0.95),
    ax=None,
    cmap="gray",
):
    """Decode a grid of latent codes to show what each region of z generates.

    The grid values are quantiles of the standard normal prior, evenly spaced
    in probability between ``quantiles``, so every tile covers the same prior
    mass. All ``n * n`` codes are decoded in one batched call. The top-left
    tile is the smallest ``z`` along ``dims[0]`` and the largest along
    ``dims[1]``; tick labels give the ``z`` values.

    Parameters
    ----------
    model_or_decode : object or callable
        A model with a ``decode(z)`` method, or a callable ``f(z) -> images``
        (useful for a conditional model: ``lambda z: cvae.decode(z, labels)``).
    n : int, default 20
        Tiles per side.
    dims : pair of int, default (0, 1)
        The latent dimensions to vary; the others are held at 0.
    latent_dim : int, optional
        Code length; defaults to ``model.latent_dim`` when present, else 2.
    quantiles : pair of float, default (0.05, 0.95)
        Prior probabilities of the first and last grid values.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when omitted.
    cmap : str, default "gray"
        Matplotlib colour map.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes holding the manifold.

    Examples
    --------
    >>> ax = plot_manifold(vae, n=15)
    >>> ax = plot_manifold(lambda z: cvae.decode(z, np.full(len(z), 3)), n=10)
    """
    decode = _decode_function(model_or_decode)
    if latent_dim is None:
        latent_dim = getattr(model_or_decode, "latent_dim", 2)
    codes, values = manifold_codes(n=n, dims=dims, latent_dim=latent_dim, quantiles=quantiles)
    n = len(values)
    images = _as_images(decode(codes), "decoded images")
    if len(images) != n * n:
        raise ValueError(f"Expected the decoder to return {n * n} images (one per code). Received: {len(images)}")
    grid = image_grid(images, ncols=n, padding=0)
    ax = _new_axes(ax, figsize=(6.4, 6.0))
    ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    first, second = _check_dims(dims, latent_dim)
    if n <= 7:
        shown = np.arange(n)
    else:  # a few ticks, mirrored around the centre so labels come in +/- pairs
        low = np.floor(np.linspace(0, (n - 1) / 2, 4)[:3]).astype(int)
        middle = [(n - 1) // 2] if n % 2 else []
        shown = np.unique(np.concatenate([low, middle, n - 1 - low])).astype(int)
    centres = shown * _TILE + (_TILE - 1) / 2
    ax.set_xticks(centres, [f"{values[j]:.2f}" for j in shown])
    ax.set_yticks(centres, [f"{values[n - 1 - i]:.2f}" for i in shown])
    ax.set_xlabel(_latent_label(first))
    ax.set_ylabel(_latent_label(second))
    return _finish(
        ax,
        f"A {n} by {n} grid of digits decoded from latent codes: latent dimension {first + 1} "
        f"grows from {values[0]:.2f} to {values[-1]:.2f} left to right and dimension {second + 1} "
        f"grows bottom to top, the other dimensions held at 0",
    )


def interpolate(z_a, z_b, steps=10):
    """Points on the straight line from ``z_a`` to ``z_b``, both ends included.

    Parameters
    ----------
    z_a, z_b : array-like of shape (d,) or (1, d)
        Start and end codes.
    steps : int, default 10
        Number of points, at least 2.

    Returns
    -------
    numpy.ndarray of shape (steps, d)
        Row ``k`` is ``(1 - t_k) * z_a + t_k * z_b`` with ``t = linspace(0, 1, steps)``.

    Examples
    --------
    >>> interpolate(np.zeros(2), np.ones(2), steps=3)[1]
    array([0.5, 0.5])
    """
    steps = check_positive_int(steps, "steps", minimum=2)
    start = np.asarray(z_a, dtype=np.float64)
    end = np.asarray(z_b, dtype=np.float64)
    start = start[0] if start.ndim == 2 and len(start) == 1 else start
    end = end[0] if end.ndim == 2 and len(end) == 1 else end
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(f"Expected two codes of the same shape (d,). Received: z_a shape={np.shape(z_a)}, z_b shape={np.shape(z_b)}")
    t = np.linspace(0.0, 1.0, steps)[:, None]
    return (1.0 - t) * start + t * end


def plot_interpolation(model, x_start, x_end, steps=10, ax=None, show_inputs=True, cmap="gray"):
    """Decode evenly spaced points between the codes of two images.

    Both images are encoded in one call and their posterior means are joined
    by a straight line; the ``steps`` points on it are decoded in one call.
    With ``show_inputs`` the two input images frame the strip.

    Parameters
    ----------
    model : object
        Anything with ``encode(x) -> (z_mean, z_log_var)`` (or just ``z_mean``)
        and ``decode(z) -> images``. It receives images of shape (2, 28, 28, 1).
    x_start, x_end : array-like
        One image each: (28, 28), (28, 28, 1), (784,) or a batch of one.
    steps : int, default 10
        Number of decoded points, endpoints included.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when omitted.
    show_inputs : bool, default True
        Put the two inputs at the ends of the strip.
    cmap : str, default "gray"
        Matplotlib colour map.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes holding the strip; tick labels give the interpolation weight t.

    Examples
    --------
    >>> ax = plot_interpolation(vae, x_test[0], x_test[1], steps=8)
    """
    steps = check_positive_int(steps, "steps", minimum=2)
    pair = np.stack([_as_single_image(x_start, "x_start"), _as_single_image(x_end, "x_end")])
    encoded = model.encode(pair[..., None].astype(np.float32))
    z_mean = np.asarray(encoded[0] if isinstance(encoded, (tuple, list)) else encoded)
    if z_mean.ndim != 2 or len(z_mean) != 2:
        raise ValueError(f"Expected `encode` to return codes of shape (2, d). Received: shape={z_mean.shape}")
    codes = interpolate(z_mean[0], z_mean[1], steps).astype(np.float32)
    decoded = _as_images(model.decode(codes), "decoded images")
    if len(decoded) != steps:
        raise ValueError(f"Expected the decoder to return {steps} images. Received: {len(decoded)}")
    tiles = [decoded]
    labels = [f"{t:.2f}" for t in np.linspace(0.0, 1.0, steps)]
    if show_inputs:
        tiles = [pair[:1], decoded, pair[1:]]
        labels = ["input", *labels, "input"]
    strip = np.concatenate(tiles)
    ax = _new_axes(ax, figsize=(max(3.0, 0.7 * len(strip)), 1.6))
    ax.imshow(image_grid(strip, ncols=len(strip)), cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    _hide_frame(ax)
    ax.set_xticks(np.arange(len(strip)) * (_TILE + 1) + (_TILE - 1) / 2, labels, fontsize="small")
    ax.tick_params(length=0)
    ax.set_xlabel("t (0 = start code, 1 = end code)")
    framed = ", framed by the two input images" if show_inputs else ""
    return _finish(
        ax,
        f"A strip of {steps} digits decoded at evenly spaced points on the straight line between the codes of two images{framed}",
    )


def _history_dict(history):
    if isinstance(history, (str, os.PathLike)):
        with open(history, encoding="utf-8") as handle:
            history = json.load(handle)
    record = getattr(history, "history", history)
    if isinstance(record, Mapping) and isinstance(record.get("history"), Mapping):
        record = record["history"]  # a JSON file that wraps the curves with metadata
    if not isinstance(record, Mapping):
        raise ValueError(f"Expected a Keras History, a dict of metric lists or a path to a JSON file. Received: {type(history).__name__}")
    return record


def plot_history(history, fig=None, metrics=("loss", "reconstruction_loss", "kl_loss")):
    """Plot training curves, one panel per metric, with validation when present.

    Parameters
    ----------
    history : keras.callbacks.History, dict or path
        What ``model.fit`` returned, a dict ``{metric: [value per epoch]}``
        (``val_`` keys for validation), or a path to such a dict in JSON.
    fig : matplotlib.figure.Figure, optional
        Figure to draw on; a new one is created when omitted.
    metrics : sequence of str, default ("loss", "reconstruction_loss", "kl_loss")
        Metrics to plot; each must be in the history.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, one Axes per metric; x is the epoch (from 1), y is in nats per image.

    Examples
    --------
    >>> history = vae.fit(x_train, validation_data=(x_val,), epochs=10)
    >>> fig = plot_history(history)
    >>> fig = plot_history("runs/vae/history.json", metrics=("kl_loss",))
    """
    record = _history_dict(history)
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not metrics:
        raise ValueError("Expected at least one metric to plot. Received: metrics=()")
    for name in metrics:
        if name not in record:
            raise ValueError(f"Expected metric {name!r} in the history. Received keys: {sorted(record)}")
        if len(record[name]) == 0:
            raise ValueError(f"Expected at least one epoch of {name!r}. Received: an empty list")
    fig = _new_figure(fig, figsize=(3.6 * len(metrics), 3.0))
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    for ax, name in zip(axes, metrics):
        epochs_drawn = 0
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key not in record:
                continue
            values = np.asarray(record[key], dtype=np.float64)
            epochs = np.arange(1, len(values) + 1)
            epochs_drawn = max(epochs_drawn, len(values))
            ax.plot(epochs, values, marker="o" if len(values) <= 20 else None, markersize=3, label=label)
        ax.set_title(_HISTORY_TITLES.get(name, name.replace("_", " ")))
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per image")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, min_n_ticks=1))
        if epochs_drawn <= 20:  # keep a short run (even one epoch) readable
            ax.set_xlim(0.5, epochs_drawn + 0.5)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False)
    summary = []
    for name in metrics:
        values = np.asarray(record[name], dtype=np.float64)
        text = f"{_HISTORY_TITLES.get(name, name.replace('_', ' '))} from {values[0]:.4g} to {values[-1]:.4g}"
        if f"val_{name}" in record and len(record[f"val_{name}"]):
            text += f" (validation ends at {float(record[f'val_{name}'][-1]):.4g})"
        summary.append(text)
    epochs = max(len(record[name]) for name in metrics)
    return _finish(
        fig,
        f"Training curves over {epochs} epoch(s), in nats per image: " + "; ".join(summary),
    )


def save_figure(fig, path):
    """Save a figure (or the figure of an Axes) as a PNG, creating folders.

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        What to save.
    path : str or os.PathLike
        Destination file; missing parent folders are created.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> save_figure(plot_manifold(vae), "figures/manifold.png")
    """
    path = Path(path)
    figure = getattr(fig, "figure", None) if not hasattr(fig, "savefig") else fig
    if figure is None or not hasattr(figure, "savefig"):
        raise ValueError(f"Expected a matplotlib Figure or Axes. Received: {type(fig).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100, bbox_inches="tight", facecolor=BACKGROUND)
    return path


register_alt_text_display()
