"""Plain float64 NumPy versions of every hot path: the fallback and the test oracle.

Written for clarity, not speed; each Numba kernel in ``kernels`` must agree with its
counterpart here. Ties between equally distant units go to the lowest unit index.

Missing values (NaN in the samples, never in the weights) follow the MATLAB SOM Toolbox.
A distance uses only the sample's observed features: for euclidean, manhattan and
minkowski the sum over them is rescaled by d / observed (so a sample with gaps is as far
from a unit as a complete one would be, on average), chebyshev takes the maximum over
them unscaled, cosine compares the observed part of the sample with the same
coordinates of the unit. The batch step averages each (unit, feature) over the samples
where that feature is observed; the online step moves only the observed features.
Samples without NaN take the formulas of before, unchanged.
"""

from __future__ import annotations

import numpy as np

from .metrics import CHEBYSHEV, COSINE, EUCLIDEAN, MANHATTAN, METRICS, metric_code
from .neighborhood import neighborhood_weights, surround_scale


def pairwise_distances(X: np.ndarray, W: np.ndarray, metric: str = "euclidean", p: float = 2.0) -> np.ndarray:
    """Distances from each row of ``X`` (n, d) to each row of ``W`` (m, d), float64 (n, m).

    cosine is 1 - cos(x, w); a zero vector is at distance 1 from everything (as if
    orthogonal) rather than NaN. NaN in ``X`` marks a missing value (see the module's
    docstring, and ``masked_pairwise_distances``).
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    metric_code(metric, p)  # checks the name and p
    # The metric by its name, not by the kernels' code: minkowski keeps its own formula here
    # whatever p, so that the kernels' shortcuts for p = 1, 2 and whole p are checked against it.
    code = METRICS[metric]
    known = ~np.isnan(X)
    if not known.all():
        return masked_pairwise_distances(X, W, known, metric, p)
    if code == COSINE:
        return np.maximum(0.0, 1.0 - _unit_rows(X) @ _unit_rows(W).T)
    difference = np.abs(X[:, None, :] - W[None, :, :])
    if code == EUCLIDEAN:
        return np.sqrt((difference**2).sum(axis=-1))
    if code == MANHATTAN:
        return difference.sum(axis=-1)
    if code == CHEBYSHEV:
        return difference.max(axis=-1)
    return (difference**p).sum(axis=-1) ** (1.0 / p)


def masked_pairwise_distances(X, W, known, metric="euclidean", p=2.0):
    """``pairwise_distances`` over the observed features of each row of ``X`` only, ``known``
    (n, d) bool telling which are: sums (euclidean's squares, manhattan's, minkowski's
    p-powers) rescaled by d / observed, chebyshev's maximum unscaled, cosine between the
    observed part of x and the same coordinates of w (1 where either is zero). A row
    with no observed feature has no distance: callers refuse such rows first.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    code = METRICS[metric]
    d = X.shape[1]
    present = known.astype(np.float64)
    if code == COSINE:
        filled = np.where(known, X, 0.0)
        norms = np.linalg.norm(filled, axis=1)[:, None] * np.sqrt(present @ (W**2).T)
        cosine = np.divide(filled @ W.T, norms, out=np.zeros_like(norms), where=norms > 0)
        return np.maximum(0.0, 1.0 - cosine)
    difference = np.where(known[:, None, :], np.abs(X[:, None, :] - W[None, :, :]), 0.0)
    if code == CHEBYSHEV:
        return difference.max(axis=-1)
    scale = (d / present.sum(axis=1))[:, None]
    if code == EUCLIDEAN:
        return np.sqrt((difference**2).sum(axis=-1) * scale)
    if code == MANHATTAN:
        return difference.sum(axis=-1) * scale
    return ((difference**p).sum(axis=-1) * scale) ** (1.0 / p)


def _unit_rows(A: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)


def best_two_units(X, W, metric="euclidean", p=2.0):
    """First and second best-matching unit of each sample and the distance to the first."""
    distances = pairwise_distances(X, W, metric, p)
    order = np.argsort(distances, axis=1, kind="stable")
    first, second = order[:, 0], order[:, 1]
    return first, second, distances[np.arange(len(X)), first]


def batch_step(X, W, first, neighborhood_matrix, learning_rate):
    """ZSOM's damped batch step ``W + lr (T - W)``, T the neighbourhood-weighted mean.

    With a surround (negative weights, the mexican hat) T is the centre's weighted mean
    pushed away from the surround's, the surround scaled by ``surround_scale``:
    T = (C S - b N S) / (C n - b N n), C and N the positive and negative parts of the
    neighbourhood matrix, S and n the winners' sums and counts, b the scale. The scale
    keeps the denominator at least (1 - SURROUND_CAP) C n, so T is T_centre pushed at
    most SURROUND_CAP / (1 - SURROUND_CAP) of the way from T_surround beyond it.
    Units whose centre caught no sample keep their weights; targets stay within the
    data's box. Samples with NaN: ``masked_batch_step``.
    """
    X = np.asarray(X, dtype=np.float64)
    known = ~np.isnan(X)
    if not known.all():
        return masked_batch_step(X, W, first, known, neighborhood_matrix, learning_rate)
    m = W.shape[0]
    counts = np.bincount(first, minlength=m).astype(np.float64)
    sums = np.zeros_like(W, dtype=np.float64)
    np.add.at(sums, first, X)
    centre = np.maximum(neighborhood_matrix, 0.0)
    surround = np.maximum(-neighborhood_matrix, 0.0)
    scale = surround_scale(centre @ counts, surround @ counts)
    numerator = centre @ sums - scale[:, None] * (surround @ sums)
    denominator = centre @ counts - scale * (surround @ counts)
    updated = denominator > 0
    target = W.astype(np.float64).copy()
    target[updated] = np.clip(numerator[updated] / denominator[updated, None], X.min(axis=0), X.max(axis=0))
    return W + learning_rate * (target - W)


def masked_batch_step(X, W, first, known, neighborhood_matrix, learning_rate):
    """``batch_step`` for samples with missing values, ``known`` (n, d) bool telling which
    are observed: each (unit, feature) has its own sum S and count n, over the samples
    where that feature is observed, so a feature with gaps is not pulled towards zero.
    The surround's scale is per (unit, feature) too, from those counts, which keeps the
    cap of ``batch_step`` on every feature. A (unit, feature) whose centre caught no
    observed value keeps its weight; targets stay within the observed values' box.
    """
    m = W.shape[0]
    present = known.astype(np.float64)
    sums = np.zeros((m, X.shape[1]))
    np.add.at(sums, first, np.where(known, X, 0.0))
    counts = np.zeros((m, X.shape[1]))
    np.add.at(counts, first, present)
    centre = np.maximum(neighborhood_matrix, 0.0)
    surround = np.maximum(-neighborhood_matrix, 0.0)
    scale = surround_scale(centre @ counts, surround @ counts)
    numerator = centre @ sums - scale * (surround @ sums)
    denominator = centre @ counts - scale * (surround @ counts)
    updated = denominator > 0
    mean = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=updated)
    target = np.where(updated, np.clip(mean, np.nanmin(X, axis=0), np.nanmax(X, axis=0)), W)
    return W + learning_rate * (target - W)


def online_epoch(X, W, order, grid_distances, sigma, learning_rate, neighborhood, cutoff, metric, p):
    """Classic Kohonen: one sequential update per sample, in the given order.

    Units pushed away from a sample (negative neighbourhood) stay within the data's box,
    and each unit's pushes are scaled as the batch step scales its surround, with the
    samples counted at their winners under the weights the epoch starts from. A sample
    with missing values moves the units' observed features only.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.array(W, dtype=np.float64)
    low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    full = neighborhood_weights(grid_distances, sigma, neighborhood, cutoff)
    counts = np.bincount(best_two_units(X, W, metric, p)[0], minlength=len(W)).astype(np.float64)
    scale = surround_scale(np.maximum(full, 0.0) @ counts, np.maximum(-full, 0.0) @ counts)
    for i in order:
        winner = int(np.argmin(pairwise_distances(X[i : i + 1], W, metric, p)[0]))
        h = full[winner]
        h = np.where(h < 0, scale * h, h)
        observed = ~np.isnan(X[i])
        W[:, observed] += learning_rate * h[:, None] * (X[i, observed] - W[:, observed])
        pushed = np.ix_(h < 0, observed)
        W[pushed] = np.clip(W[pushed], low[observed], high[observed])
    return W


def u_matrix(W, grid, metric="euclidean", p=2.0):
    """Mean distance from each unit's weights to those of its grid neighbours, (m,)."""
    values = np.empty(grid.n_units)
    for unit in range(grid.n_units):
        neighbours = grid.neighbors(unit)
        values[unit] = pairwise_distances(W[unit : unit + 1], W[neighbours], metric, p).mean()
    return values


def topographic_error(first, second, grid):
    """Share of samples whose two best units are not grid neighbours."""
    return float(np.mean(~grid.adjacency[first, second]))
