"""Clustering without labels, and how to score it against labels.

* :func:`kmeans`: k-means (scikit-learn's ``KMeans``: Lloyd's algorithm from
  k-means++ starts), the baseline of notebook 10.
* :func:`best_matching`: the one-to-one assignment of clusters to classes that
  maximises the number of agreements (SciPy's ``linear_sum_assignment``, the
  Hungarian method).
* :func:`clustering_accuracy`: the fraction of points whose cluster, mapped by
  the best matching, is their class ("unsupervised accuracy").
* :func:`confusion_matrix`, :func:`normalized_mutual_information` and
  :func:`clustering_report`: the rest of what a clustering is judged by.

The course teaches the mixture model and its responsibilities; k-means and the
assignment problem are tools it uses, so they come from the libraries that
maintain them.
"""

import numpy as np

from workshop.validation import check_positive_int

__all__ = ["best_matching", "clustering_accuracy", "clustering_report", "confusion_matrix", "kmeans", "normalized_mutual_information"]


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


def kmeans(x, k, num_iters=100, num_init=1, seed=0, tol=1e-6):
    """k-means clustering (scikit-learn's ``KMeans``), best of ``num_init`` k-means++ starts.

    Args:
        x: points, shape (N, ...) (flattened to (N, D)).
        k: number of clusters, 1 <= k <= N.
        num_iters: maximum number of Lloyd iterations per start.
        num_init: independent starts; the run with the smallest inertia is kept.
        seed: seed of the starts.
        tol: scikit-learn's relative tolerance on the change of the centroids.

    Returns:
        ``(centroids (k, D), labels (N,), inertia)``, where inertia is the sum of
        squared distances of the points to their centroids.
    """
    from sklearn.cluster import KMeans

    k = check_positive_int(k, "k")
    num_iters = check_positive_int(num_iters, "num_iters")
    num_init = check_positive_int(num_init, "num_init")
    x = _check_points(x, k)
    fitted = KMeans(k, init="k-means++", n_init=num_init, max_iter=num_iters, tol=tol, random_state=seed).fit(x)
    return fitted.cluster_centers_, fitted.labels_.astype("int64"), float(fitted.inertia_)


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

    Solved exactly as an assignment problem on the contingency table (SciPy's
    ``linear_sum_assignment``). Clusters left without a class (when there are
    more clusters than classes) are mapped to -1.

    Returns:
        An integer array ``mapping`` of length (max cluster id + 1): cluster c -> class mapping[c].
    """
    from scipy.optimize import linear_sum_assignment

    table = _contingency(clusters, labels)
    rows, cols = linear_sum_assignment(table, maximize=True)
    mapping = np.full(table.shape[0], -1, dtype="int64")
    mapping[rows] = cols
    return mapping


def clustering_accuracy(clusters, labels):
    """Fraction of points whose cluster, mapped one-to-one to classes by :func:`best_matching`, is their label."""
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    mapping = best_matching(clusters, labels)
    return float(np.mean(mapping[clusters] == labels))


def confusion_matrix(clusters, labels):
    """Counts of (class, matched cluster): a (classes x classes) integer table, rows the true classes.

    Clusters are first renamed by :func:`best_matching`, so the diagonal holds the
    correctly clustered points; a cluster left without a class is not counted.
    """
    clusters, labels = np.asarray(clusters), np.asarray(labels)
    mapping = best_matching(clusters, labels)
    matched = mapping[clusters]
    num_classes = int(labels.max()) + 1
    table = np.zeros((num_classes, num_classes), dtype="int64")
    kept = matched >= 0
    np.add.at(table, (labels[kept], matched[kept]), 1)
    return table


def normalized_mutual_information(clusters, labels):
    """NMI between clusters and classes (scikit-learn's, arithmetic normalisation): 1 for a perfect clustering, 0 for an independent one."""
    from sklearn.metrics import normalized_mutual_info_score

    _contingency(clusters, labels)  # the same checks as the other scores
    return float(normalized_mutual_info_score(np.asarray(labels), np.asarray(clusters)))


def clustering_report(clusters, labels):
    """Accuracy after the best matching, NMI and the confusion matrix of a clustering, as a dict."""
    return {
        "accuracy": clustering_accuracy(clusters, labels),
        "nmi": normalized_mutual_information(clusters, labels),
        "confusion": confusion_matrix(clusters, labels).tolist(),
        "num_points": int(len(np.asarray(labels))),
    }
