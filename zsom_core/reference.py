"""Plain float64 NumPy versions of every hot path: the fallback and the test oracle.

Written for clarity, not speed; each Numba kernel in ``kernels`` must agree with its
counterpart here. Ties between equally distant units go to the lowest unit index.
"""

from __future__ import annotations

import numpy as np

from .metrics import CHEBYSHEV, COSINE, EUCLIDEAN, MANHATTAN, METRICS, metric_code
from .neighborhood import neighborhood_weights, surround_scale


def pairwise_distances(X: np.ndarray, W: np.ndarray, metric: str = "euclidean", p: float = 2.0) -> np.ndarray:
    """Distances from each row of ``X`` (n, d) to each row of ``W`` (m, d), float64 (n, m).

    cosine is 1 - cos(x, w); a zero vector is at distance 1 from everything (as if
    orthogonal) rather than NaN.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    metric_code(metric, p)  # checks the name and p
    # The metric by its name, not by the kernels' code: minkowski keeps its own formula here
    # whatever p, so that the kernels' shortcuts for p = 1, 2 and whole p are checked against it.
    code = METRICS[metric]
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
    data's box.
    """
    X = np.asarray(X, dtype=np.float64)
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


def online_epoch(X, W, order, grid_distances, sigma, learning_rate, neighborhood, cutoff, metric, p):
    """Classic Kohonen: one sequential update per sample, in the given order.

    Units pushed away from a sample (negative neighbourhood) stay within the data's box,
    and each unit's pushes are scaled as the batch step scales its surround, with the
    samples counted at their winners under the weights the epoch starts from.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.array(W, dtype=np.float64)
    low, high = X.min(axis=0), X.max(axis=0)
    full = neighborhood_weights(grid_distances, sigma, neighborhood, cutoff)
    counts = np.bincount(best_two_units(X, W, metric, p)[0], minlength=len(W)).astype(np.float64)
    scale = surround_scale(np.maximum(full, 0.0) @ counts, np.maximum(-full, 0.0) @ counts)
    for i in order:
        winner = int(np.argmin(pairwise_distances(X[i : i + 1], W, metric, p)[0]))
        h = full[winner]
        h = np.where(h < 0, scale * h, h)
        W += learning_rate * h[:, None] * (X[i] - W)
        pushed = h < 0
        W[pushed] = np.clip(W[pushed], low, high)
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
