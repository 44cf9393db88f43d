"""Brute-force oracles for the engine tests, written independently of ``zsom_core.reference``."""

from __future__ import annotations

import numpy as np

from zsom_core import SOM

METRICS = ("euclidean", "manhattan", "chebyshev", "cosine", "minkowski")
NEIGHBORHOODS = ("gaussian", "bubble", "mexican_hat", "triangle")
# (topology, toroidal): the four lattices every fast path must handle.
LATTICES = (("square", False), ("hex", False), ("square", True), ("hex", True))
LATTICE_IDS = ("square", "hex", "torus-square", "torus-hex")

EPS32 = float(np.finfo(np.float32).eps)


def distance(x, w, metric: str, p: float = 2.0) -> float:
    """One distance, one pair of vectors, by the textbook formula."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if metric == "euclidean":
        return float(np.sqrt(np.sum((x - w) ** 2)))
    if metric == "manhattan":
        return float(np.sum(np.abs(x - w)))
    if metric == "chebyshev":
        return float(np.max(np.abs(x - w)))
    if metric == "minkowski":
        return float(np.sum(np.abs(x - w) ** p) ** (1.0 / p))
    if metric == "cosine":
        nx, nw = np.linalg.norm(x), np.linalg.norm(w)
        if nx == 0 or nw == 0:
            return 1.0
        return float(1.0 - np.dot(x, w) / (nx * nw))
    raise AssertionError(metric)


def distance_matrix(X, W, metric: str, p: float = 2.0) -> np.ndarray:
    """All sample-to-unit distances, (n, m) float64, one pair at a time."""
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    return np.array([[distance(x, w, metric, p) for w in W] for x in X])


def brute_bmus(X, W, metric: str = "euclidean", p: float = 2.0):
    """First and second best unit (ties to the lower index) and the first distance."""
    D = distance_matrix(X, W, metric, p)
    order = np.argsort(D, axis=1, kind="stable")
    return order[:, 0], order[:, 1], D[np.arange(len(D)), order[:, 0]], D


def fitted_som(weights, **params) -> SOM:
    """A SOM holding the given ``(width, height, d)`` weights, as if trained."""
    weights = np.asarray(weights, dtype=np.float64)
    som = SOM(weights.shape[0], weights.shape[1], **params)
    som.weights_ = weights.copy()
    som.n_features_in_ = weights.shape[2]
    return som


def flat(weights) -> np.ndarray:
    return np.asarray(weights).reshape(-1, np.asarray(weights).shape[-1])


def bmu_gap_tolerance(X, W, metric: str, dtype, best: np.ndarray) -> np.ndarray:
    """How much farther than the true best unit a BMU search in ``dtype`` may pick, per sample.

    The engine centres data and weights on the data mean (cosine: normalises instead), so
    rounding is relative to the centred magnitudes. Euclidean may rank by the BLAS
    expansion ``||w||^2 - 2 x.w``, whose error scales with the squared norms; the bound is
    converted from squared distances back to distances.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    eps = float(np.finfo(dtype).eps)
    d = X.shape[1]
    if metric == "cosine":
        return np.full(len(X), 8.0 * d * eps)
    centre = X.mean(axis=0)
    Xc, Wc = X - centre, W - centre
    if metric == "euclidean":
        scale = (np.linalg.norm(Xc, axis=1) + np.linalg.norm(Wc, axis=1).max()) ** 2
        squared_gap = 8.0 * d * eps * scale
        return np.sqrt(best**2 + squared_gap) - best
    scale = np.abs(Xc).max(axis=1) + np.abs(Wc).max()
    return 8.0 * d * eps * (best + scale)


def check_bmus(first, X, W, metric: str, p: float = 2.0, dtype=np.float64, max_disagreement: float = 1.0):
    """``first`` are best units up to ties within ``dtype`` rounding; returns the agreement."""
    D = distance_matrix(X, W, metric, p) if len(X) * len(W) <= 5000 else _fast_matrix(X, W, metric, p)
    rows = np.arange(len(X))
    best = D.min(axis=1)
    gap = D[rows, first] - best
    tolerance = bmu_gap_tolerance(X, W, metric, dtype, best)
    worst = np.argmax(gap - tolerance)
    assert np.all(gap <= tolerance), (
        f"sample {worst}: picked unit {first[worst]} at {D[worst, first[worst]]!r}, best is "
        f"{best[worst]!r} (allowed gap {tolerance[worst]:.3g})")
    agreement = float(np.mean(first == np.argmin(D, axis=1)))
    assert agreement >= 1.0 - max_disagreement, f"BMUs agree on only {agreement:.4%} of samples"
    return agreement


def _fast_matrix(X, W, metric, p):
    from zsom_core import reference

    return reference.pairwise_distances(X, W, metric, p)


def numba_neighborhood_matrix(grid, sigma: float, name: str, cutoff=None, rows=None) -> np.ndarray:
    """``kernels.neighborhood_matrix`` for ``rows`` (a range; all units by default) against every unit.

    The one place the tests call this kernel: its signature follows the engine's tuning.
    """
    from zsom_core import kernels
    from zsom_core.neighborhood import neighborhood_code

    rows = range(grid.n_units) if rows is None else rows
    out = np.full((len(rows), grid.n_units), np.nan)
    period_x, period_y = grid.period
    kernels.neighborhood_matrix(grid.positions, rows.start, period_x, period_y, grid.toroidal, float(sigma),
                                neighborhood_code(name), float(cutoff or 0.0), out)
    return out
