"""Clustering without labels, and how to score it against labels (NumPy).

* :func:`kmeans`: Lloyd's algorithm with k-means++ initialisation.
* :func:`best_matching`: the one-to-one assignment of clusters to classes that
  maximises the number of agreements, found exactly (dynamic programming over
  subsets, fine for up to about 16 clusters; no SciPy needed).
* :func:`clustering_accuracy`: the fraction of points whose cluster, mapped by
  the best matching, is their class.

Written here rather than with scikit-learn's ``KMeans`` and SciPy's
``linear_sum_assignment``: neither package is a dependency of the course, and
these two baselines are a few dozen lines that notebook 10 reads alongside.
"""

import numpy as np

from workshop.validation import check_positive_int

__all__ = ["best_matching", "clustering_accuracy", "kmeans", "kmeans_plus_plus"]

MAX_MATCHING_SIZE = 16


def _check_points(x, k):
    x = np.asarray(x, dtype="float64")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"Expected `x` of shape (N, ...) with N >= 1. Received: shape={x.shape}")
    x = x.reshape(x.shape[0], -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("Expected finite values in `x`. Received NaN or infinite values")
    if k > x.shape[0]:
        raise ValueError(f"Expected `k` <= the number of points ({x.shape[0]}). Received: k={k}")
    return x


def _squared_distances(x, centroids, x_sq=None):
    if x_sq is None:
        x_sq = np.sum(x**2, axis=1)
    d = x_sq[:, None] - 2.0 * x @ centroids.T + np.sum(centroids**2, axis=1)[None, :]
    return np.maximum(d, 0.0)


def kmeans_plus_plus(x, k, seed=0):
    """k-means++ initial centroids: the first uniformly, each next one with probability proportional
    to its squared distance from the nearest centroid chosen so far. Returns (k, D)."""
    k = check_positive_int(k, "k")
    x = _check_points(x, k)
    rng = np.random.default_rng(seed)
    centroids = [x[rng.integers(len(x))]]
    closest = np.sum((x - centroids[0]) ** 2, axis=1)
    for _ in range(1, k):
        total = closest.sum()
        index = rng.choice(len(x), p=closest / total) if total > 0 else rng.integers(len(x))
        centroids.append(x[index])
        closest = np.minimum(closest, np.sum((x - x[index]) ** 2, axis=1))
    return np.stack(centroids)


def kmeans(x, k, num_iters=100, num_init=1, seed=0, tol=1e-6):
    """k-means clustering (Lloyd's algorithm from a k-means++ start), best of ``num_init`` runs.

    Args:
        x: points, shape (N, ...) (flattened to (N, D)).
        k: number of clusters, 1 <= k <= N.
        num_iters: maximum number of Lloyd iterations per run.
        num_init: independent starts; the run with the smallest inertia is kept.
        seed: seed of the starts.
        tol: stop when no centroid moves by more than this (Euclidean).

    Returns:
        ``(centroids (k, D), labels (N,), inertia)``, where inertia is the sum of
        squared distances of the points to their centroids.
    """
    k = check_positive_int(k, "k")
    num_iters = check_positive_int(num_iters, "num_iters")
    num_init = check_positive_int(num_init, "num_init")
    x = _check_points(x, k)
    x_sq = np.sum(x**2, axis=1)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(num_init):
        centroids = kmeans_plus_plus(x, k, seed=int(rng.integers(2**31)))
        for _ in range(num_iters):
            labels = np.argmin(_squared_distances(x, centroids, x_sq), axis=1)
            new = centroids.copy()
            for j in range(k):
                members = labels == j
                if members.any():
                    new[j] = x[members].mean(axis=0)
                else:  # an empty cluster restarts at the point farthest from its centroid
                    d = _squared_distances(x, centroids, x_sq)[np.arange(len(x)), labels]
                    new[j] = x[np.argmax(d)]
            shift = np.max(np.sqrt(np.sum((new - centroids) ** 2, axis=1)))
            centroids = new
            if shift <= tol:
                break
        distances = _squared_distances(x, centroids, x_sq)
        labels = np.argmin(distances, axis=1)
        inertia = float(distances[np.arange(len(x)), labels].sum())
        if best is None or inertia < best[2]:
            best = (centroids, labels, inertia)
    return best


def _contingency(clusters, labels):
    clusters = np.asarray(clusters)
    labels = np.asarray(labels)
    if clusters.ndim != 1 or labels.shape != clusters.shape or len(clusters) == 0:
        raise ValueError(
            f"Expected `clusters` and `labels` of the same shape (N,), N >= 1. Received: shapes {clusters.shape} and {labels.shape}"
        )
    for arr, name in ((clusters, "clusters"), (labels, "labels")):
        if arr.dtype.kind not in "iu" or arr.min() < 0:
            raise ValueError(f"Expected `{name}` to be non-negative integers. Received: dtype={arr.dtype}, min={arr.min()}")
    table = np.zeros((clusters.max() + 1, labels.max() + 1), dtype="int64")
    np.add.at(table, (clusters, labels), 1)
    return table


def best_matching(clusters, labels):
    """The one-to-one map from cluster ids to class labels that maximises agreements.

    Exact: dynamic programming over subsets of the smaller side (2^m * n steps for
    m = min(#clusters, #classes) <= 16). Clusters left without a class (when there
    are more clusters than classes) are mapped to -1.

    Returns:
        An integer array ``mapping`` of length (max cluster id + 1): cluster c -> class mapping[c].
    """
    table = _contingency(clusters, labels)
    transpose = table.shape[0] < table.shape[1]
    t = table.T if transpose else table  # rows: the larger side, columns: the smaller side (m)
    n, m = t.shape
    if m > MAX_MATCHING_SIZE:
        raise ValueError(f"Expected at most {MAX_MATCHING_SIZE} clusters or classes on the smaller side. Received: {m}")
    # dp[r, mask]: the most agreements from the first r rows matched into the columns of `mask`.
    masks = np.arange(1 << m)
    neg = np.iinfo("int64").min // 4
    dp = np.full((n + 1, 1 << m), neg, dtype="int64")
    dp[0, 0] = 0
    for row in range(n):
        dp[row + 1] = dp[row]  # this row left unmatched
        for col in range(m):
            has = masks[(masks >> col) & 1 == 1]
            dp[row + 1, has] = np.maximum(dp[row + 1, has], dp[row, has ^ (1 << col)] + t[row, col])
    mask = int(np.argmax(dp[n]))
    pairs = []
    for row in range(n - 1, -1, -1):
        if dp[row + 1, mask] == dp[row, mask]:
            continue
        for col in range(m):
            bit = 1 << col
            if mask & bit and dp[row, mask ^ bit] + t[row, col] == dp[row + 1, mask]:
                pairs.append((row, col))
                mask ^= bit
                break
    mapping = np.full(table.shape[0], -1, dtype="int64")
    for row, col in pairs:
        cluster, label = (col, row) if transpose else (row, col)
        mapping[cluster] = label
    return mapping


def clustering_accuracy(clusters, labels):
    """Fraction of points whose cluster, mapped one-to-one to classes by :func:`best_matching`, is their label."""
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    mapping = best_matching(clusters, labels)
    return float(np.mean(mapping[clusters] == labels))
