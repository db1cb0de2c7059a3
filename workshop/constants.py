"""Constants shared by the student-facing modules, the check cells and the instructor tools.

Everything here is plain Python (no TensorFlow import), so any module may import it.
"""

import math

IMAGE_SHAPE = (28, 28, 1)
"""Shape of one MNIST image as the models see it (height, width, channels)."""

NUM_PIXELS = 28 * 28

LOG_2PI = math.log(2.0 * math.pi)
"""log(2 pi), the constant of every Gaussian log-density."""

BINARIZE_CHOICES = ("none", "threshold", "random")
"""How grey levels become pixels: kept (``"none"``), cut at 0.5, or drawn once as Bernoulli(grey level)."""

BINARIZE_SEED = 0
"""Seed of the fixed stochastic binarization (``binarize="random"``): part of the data set, not of a run."""
