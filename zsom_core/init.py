"""Initial weights: uniform random within the data's range, or a lattice on its first two
principal components.

``INITS`` maps each public name to its function ``(data, grid, rng) -> (m, d) float64``;
``data`` is the C-contiguous float64 (n, d) training data, ``rng`` a
``numpy.random.Generator`` (unused by ``pca``, which is deterministic). ``INIT_LABELS``
gives each name the label a user reads. Data with missing values reaches them through
``fill_missing``.
"""

from __future__ import annotations

import numpy as np

from .grid import Grid
from .kernels import observed_means
from .parallel import LANES, PARALLEL_MIN_ELEMENTS, run_lanes


def random_weights(data: np.ndarray, grid: Grid, rng: np.random.Generator) -> np.ndarray:
    """Each unit's weights drawn uniformly within each feature's range in ``data``."""
    low, high = data.min(axis=0), data.max(axis=0)
    return low + rng.random((grid.n_units, data.shape[1])) * (high - low)


def pca_lattice(data: np.ndarray, grid: Grid, rng: np.random.Generator | None = None) -> np.ndarray:
    """Weights on a lattice spanning the data's first two principal components.

    Each unit's grid position, rescaled to the range of the data's scores along each
    component, is mapped back to input space; the grid's longer side follows the first
    component. With d = 1 (or data on a line) the second component is zero.
    """
    mean = data.mean(axis=0)
    d = data.shape[1]
    # The (d, d) covariance, not an SVD of the (n, d) data: O(n d^2), summed over the
    # engine's lanes (in lane order), and no n-sized copy.
    lane_rows = -(-len(data) // LANES)
    chunks = [slice(lane * lane_rows, (lane + 1) * lane_rows) for lane in range(LANES)]
    covariances = np.zeros((LANES, d, d))
    low_high = np.zeros((LANES, 2, 2))
    parallel = data.size >= PARALLEL_MIN_ELEMENTS

    def covariance(lane: int):
        centred = data[chunks[lane]] - mean
        covariances[lane] = centred.T @ centred

    run_lanes(covariance, LANES, parallel)
    components = principal_components(covariances.sum(axis=0))
    shift = mean @ components.T

    def score_range(lane: int):
        scores = data[chunks[lane]] @ components.T - shift  # no centred copy: only a range is needed
        low_high[lane, 0] = scores.min(axis=0) if len(scores) else np.inf
        low_high[lane, 1] = scores.max(axis=0) if len(scores) else -np.inf

    run_lanes(score_range, LANES, parallel)
    return lattice(grid, mean, components, low_high[:, 0].min(axis=0), low_high[:, 1].max(axis=0))


def principal_components(scatter: np.ndarray) -> np.ndarray:
    """The first two principal axes (2, d) of a (d, d) scatter matrix, largest first (a
    zero row where d = 1), each signed so that its largest entry is positive: the same
    axes from a matrix summed in another order (a distributed pass)."""
    d = scatter.shape[0]
    _, eigenvectors = np.linalg.eigh(scatter)
    axes = eigenvectors[:, ::-1].T[:2]
    axes = axes * np.where(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    return np.vstack([axes, np.zeros((2, d))])[:2]


def lattice(grid: Grid, mean: np.ndarray, components: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The units on a lattice over the score ranges ``low``..``high`` (2,) along ``components``
    around ``mean``: what ``pca_lattice`` makes, from its moments alone."""
    positions = grid.positions
    extent = positions.max(axis=0) - positions.min(axis=0)
    fraction = np.divide(positions - positions.min(axis=0), extent, out=np.full_like(positions, 0.5),
                         where=extent > 0)
    if grid.height > grid.width:
        fraction = fraction[:, ::-1]
    return mean + (low + fraction * (high - low)) @ components


def fill_missing(data: np.ndarray) -> np.ndarray:
    """``data`` with each missing value (NaN) replaced by its feature's mean over the
    observed values, for the initialisations, which need complete rows: the mean moves
    neither the PCA's centre nor the random draw's range (``data`` itself if it has no
    gap). Every feature must have an observed value (``SOM.fit`` checks)."""
    missing = np.isnan(data)
    if not missing.any():
        return data
    return np.where(missing, observed_means(data), data)


INITS = {
    "random": random_weights,
    "pca": pca_lattice,
}

INIT_LABELS = {
    "random": "Random",
    "pca": "PCA",
}
