"""Reading a trained map: its component planes' order, clusters of its units, labels per
unit, and the distance beyond which a new sample is unlike the training data.

The functions take prototypes (``weights``, units x features) as ``SOM.weights_``
flattened gives them (unit ``x * height + y``). This module imports scikit-learn and
SciPy, and ``zsom_core/__init__`` does not import it: ``import zsom_core`` imports neither.
They are imported here, once, not in the functions: a web server's threads importing
scikit-learn at the same moment can deadlock on its modules' import locks.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra  # noqa: F401 - SOM.kaski_lagus_error's, loaded here once too
from scipy.spatial.distance import squareform
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import davies_bouldin_score, pairwise_distances, silhouette_score

from .grid import Grid

CLUSTER_METHODS = {"ward": "Ward (hierarchical)", "average": "Average linkage (hierarchical)",
                   "complete": "Complete linkage (hierarchical)", "kmeans": "k-means"}
# k-means restarts: the best of these many seeded runs is kept.
KMEANS_RESTARTS = 4


def _checked_weights(weights) -> np.ndarray:
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be (units, features), got shape {weights.shape}")
    if not np.isfinite(weights).all():
        raise ValueError("weights hold NaN or infinite values")
    return weights


def order_features(weights) -> np.ndarray:
    """A permutation of the features that puts correlated component planes side by side.

    The SOM Toolbox orders planes by a projection of their correlations; here the
    features' correlations across the units give the distance 1 - |r|, an average-linkage
    tree joins them, and SciPy's optimal leaf ordering reads the tree out so that
    neighbours in the sequence are as close as can be: deterministic, and nothing to
    train. Constant features (which correlate with nothing) go last, in their order.
    """
    weights = _checked_weights(weights)
    d = weights.shape[1]
    varying = np.flatnonzero(weights.std(axis=0) > 0)
    constant = np.setdiff1d(np.arange(d), varying)
    if len(varying) <= 2:
        return np.concatenate([varying, constant]).astype(np.int64)

    correlation = np.corrcoef(weights[:, varying], rowvar=False)
    distance = np.clip(1.0 - np.abs(correlation), 0.0, None)
    np.fill_diagonal(distance, 0.0)
    condensed = squareform((distance + distance.T) / 2, checks=False)
    tree = optimal_leaf_ordering(linkage(condensed, method="average"), condensed)

    return np.concatenate([varying[leaves_list(tree)], constant]).astype(np.int64)


def _check_method(method: str) -> None:
    if method not in CLUSTER_METHODS:
        raise ValueError(f"unknown clustering method {method!r}; choose one of: {', '.join(CLUSTER_METHODS)}")


def _check_k(k, n_units: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 2 <= k <= n_units - 1:
        raise ValueError(f"k must be a whole number from 2 to {n_units - 1} (the units less one), got {k!r}")
    return int(k)


def _connectivity(grid: Grid | None, n_units: int):
    if grid is None:
        return None
    if grid.n_units != n_units:
        raise ValueError(f"the grid has {grid.n_units} units, the weights {n_units}")

    indptr, indices = grid.neighbor_lists
    return csr_matrix((np.ones(len(indices)), indices, indptr), shape=(n_units, n_units))


def stable_labels(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered by first appearance (the cluster of unit 0 is 0, and so
    on), so that a cluster keeps its number, and its colour, from one epoch to the next
    as long as it keeps its first unit."""
    labels = np.asarray(labels)
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[order] = np.arange(len(first))
    return renumber[np.unique(labels, return_inverse=True)[1].reshape(-1)]


def cluster_units(weights, k: int, method: str = "ward", *, grid: Grid | None = None, seed: int = 0) -> np.ndarray:
    """The units' clusters, int64 (units,) in 0..k-1 (see ``stable_labels``).

    Hierarchical methods (Ward, average, complete linkage) through scikit-learn's
    ``AgglomerativeClustering``; with ``grid``, only clusters that are grid neighbours
    merge, as the SOM Toolbox's ``som_cllinkage`` does, so every cluster is one connected
    patch of the map. k-means (``sklearn.cluster.KMeans``, seeded) ignores the grid.
    """
    weights = _checked_weights(weights)
    _check_method(method)
    k = _check_k(k, len(weights))
    if method == "kmeans":

        labels = KMeans(n_clusters=k, n_init=KMEANS_RESTARTS, random_state=seed).fit_predict(weights)
    else:

        labels = AgglomerativeClustering(n_clusters=k, linkage=method,
                                         connectivity=_connectivity(grid, len(weights))).fit_predict(weights)
    return stable_labels(labels)


def _cuts(children: np.ndarray, n: int, ks) -> dict[int, np.ndarray]:
    """The clusters of a merge tree (scikit-learn's ``children_``) cut at each k: what is
    left after its first n - k merges, which is where ``AgglomerativeClustering`` stops.
    The merges are replayed once, the leaves relabelled with each new node, and the
    labels kept at every k asked for."""
    wanted = {n - k: k for k in ks}
    labels = np.arange(n)
    out = {k: stable_labels(labels) for k in ks if k == n}
    for step, (a, b) in enumerate(children[: max(wanted, default=0)], start=1):
        labels[(labels == a) | (labels == b)] = n + step - 1
        if step in wanted:
            out[wanted[step]] = stable_labels(labels)
    return out


def cluster_scores(weights, method: str = "ward", ks=range(2, 16), *, grid: Grid | None = None,
                   seed: int = 0) -> dict:
    """Davies-Bouldin index (lower is better) and silhouette (higher is better) of the
    units' clusters for each k: which k the map supports. A hierarchical tree is built
    once and cut at every k (the same clusters ``cluster_units`` gives); the units'
    distances are computed once for all the silhouettes."""

    weights = _checked_weights(weights)
    _check_method(method)
    n = len(weights)
    ks = [int(k) for k in ks if 2 <= k <= n - 1]
    if method == "kmeans":
        labels = {k: cluster_units(weights, k, "kmeans", seed=seed) for k in ks}
    else:

        model = AgglomerativeClustering(n_clusters=1, linkage=method, compute_full_tree=True,
                                        connectivity=_connectivity(grid, n)).fit(weights)
        labels = _cuts(model.children_, n, ks)
    distances = pairwise_distances(weights)
    scores = {"k": [], "davies_bouldin": [], "silhouette": []}
    for k in ks:
        found = labels[k]
        if len(np.unique(found)) < 2:
            continue
        scores["k"].append(k)
        scores["davies_bouldin"].append(float(davies_bouldin_score(weights, found)))
        scores["silhouette"].append(float(silhouette_score(distances, found, metric="precomputed")))
    return scores


def label_counts(bmus, codes, n_units: int, n_classes: int) -> np.ndarray:
    """How many samples of each class each unit wins, int64 (units, classes). ``codes``
    are class indices per sample; a negative code (a missing label) is not counted."""
    bmus, codes = np.asarray(bmus, dtype=np.int64), np.asarray(codes, dtype=np.int64)
    if bmus.shape != codes.shape:
        raise ValueError(f"one label per sample: {len(bmus)} units and {len(codes)} labels")
    known = codes >= 0
    if (codes >= n_classes).any() or (bmus < 0).any() or (bmus >= n_units).any():
        raise ValueError("a unit or label code is out of range")
    flat = bmus[known] * n_classes + codes[known]
    return np.bincount(flat, minlength=n_units * n_classes).reshape(n_units, n_classes)


def majority_labels(counts) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's majority class (the lowest on a tie; -1 for a unit without a labelled
    sample) and its purity, the majority's share (NaN for such a unit)."""
    counts = np.asarray(counts)
    totals = counts.sum(axis=1)
    majority = np.where(totals > 0, counts.argmax(axis=1), -1)
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(totals > 0, counts.max(axis=1, initial=0) / totals, np.nan)
    return majority, purity


def label_cluster_counts(unit_clusters, bmus, codes, n_clusters: int, n_classes: int) -> np.ndarray:
    """Samples per class and cluster of their unit, int64 (classes, clusters)."""
    sample_clusters = np.asarray(unit_clusters, dtype=np.int64)[np.asarray(bmus, dtype=np.int64)]
    return label_counts(sample_clusters, codes, n_clusters, n_classes).T.copy()


def anomaly_threshold(training_distances, percentile: float = 99.0) -> float:
    """The distance to its unit that ``percentile`` % of the training samples stay within:
    a new sample farther than that is unlike the data the map learned."""
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be from 0 to 100, got {percentile}")
    distances = np.asarray(training_distances, dtype=np.float64)
    distances = distances[np.isfinite(distances)]
    if distances.size == 0:
        raise ValueError("no finite training distance to take a percentile of")
    return float(np.percentile(distances, percentile))
