"""Batch training on data that Dask holds: each epoch a map-reduce over the data's blocks.

A batch epoch needs of the data only what each unit wins: per block, the engine's own BMU
pass (``bmu.BMUSearch``) gives the per-unit sums, counts, known counts (where values are
missing), the sum of the distances and the topographic errors; a tree of additions on the
workers reduces them to one set of totals, which the smoothing and the update use as the
in-memory fit does. Nothing of size n leaves a worker: per epoch the weights go out once
(broadcast) and one (units x features) total comes back.

Dask is imported here only, and only by ``SOM.fit`` given a Dask collection: ``import
zsom_core`` never imports it. The computations run on the current ``dask.distributed``
client, or on Dask's local scheduler without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .bmu import BMUSearch
from .grid import Grid
from .init import lattice, principal_components


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a Dask array or data frame (told without importing Dask)."""
    return type(X).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(X, "dask")


@dataclass
class Totals:
    """A block's share of a pass, and what adding shares gives: ``known`` None while every
    row added was complete (each feature's count is then ``counts``)."""

    rows: int
    sums: np.ndarray
    counts: np.ndarray
    known: np.ndarray | None
    distance: float
    errors: int

    def __add__(self, other: Totals) -> Totals:
        if self.known is None and other.known is None:
            known = None
        else:
            known = _known(self) + _known(other)
        return Totals(self.rows + other.rows, self.sums + other.sums, self.counts + other.counts, known,
                      self.distance + other.distance, self.errors + other.errors)


def _known(totals: Totals) -> np.ndarray:
    return totals.counts[:, None] * np.ones(totals.sums.shape[1]) if totals.known is None else totals.known


@dataclass
class DistributedPass:
    """``bmu.BMUPass``'s fields that a batch step and a snapshot read, from the totals."""

    sums: np.ndarray
    counts: np.ndarray
    known: np.ndarray | None
    mqe: float
    topographic_error: float
    searched = None  # not counted across the blocks


@dataclass
class Moments:
    """One pass over the data: its rows, per feature the observed count, sum, low and high,
    and the rows with an infinite value or with no observed value."""

    rows: int
    observed: np.ndarray
    sums: np.ndarray
    low: np.ndarray
    high: np.ndarray
    infinite: int
    empty_rows: int

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.rows + other.rows, self.observed + other.observed, self.sums + other.sums,
                       np.fmin(self.low, other.low), np.fmax(self.high, other.high),
                       self.infinite + other.infinite, self.empty_rows + other.empty_rows)

    @property
    def means(self) -> np.ndarray:
        return self.sums / np.maximum(self.observed, 1)


class DaskData:
    """A 2-D Dask array (or a data frame of numeric columns) as the batch fit reads it."""

    def __init__(self, X):
        import dask.array as da

        self.feature_names = None
        if hasattr(X, "columns"):
            kinds = {str(column): dtype.kind for column, dtype in X.dtypes.items()}
            if any(kind not in "biuf" for kind in kinds.values()):
                others = [column for column, kind in kinds.items() if kind not in "biuf"]
                raise TypeError(f"a Dask data frame trains on numeric columns only; {others[:5]} are not")
            names = list(X.columns)
            self.feature_names = np.asarray(names, dtype=object) if all(isinstance(n, str) for n in names) else None
            X = X.to_dask_array()
        if not isinstance(X, da.Array) or X.ndim != 2:
            raise ValueError(f"a Dask collection to train on must be 2-D (n_samples, n_features), got {X!r}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be numeric, got a Dask array of {X.dtype}")
        if not X.shape[1] or np.isnan(X.shape[1]):
            raise ValueError("a Dask array to train on needs a known, non-zero number of columns")
        self.array = X.rechunk({1: -1}) if X.numblocks[1] > 1 else X
        self.n_features = int(X.shape[1])
        self.blocks = list(self.array.to_delayed().ravel())
        self.moments = _compute(_tree(_delayed(_block_moments), self.blocks, ()))
        self._check()

    def _check(self) -> None:
        moments = self.moments
        if moments.rows < 2:
            raise ValueError(f"X needs at least 2 samples, got {moments.rows}")
        if moments.infinite:
            raise ValueError(f"X has {moments.infinite} row(s) with infinite values; drop or impute them first "
                             "(NaN marks a missing value, which a SOM handles)")
        if moments.empty_rows:
            raise ValueError(f"X has {moments.empty_rows} row(s) with no observed value, all NaN; drop them")
        unobserved = np.flatnonzero(moments.observed == 0)
        if len(unobserved):
            raise ValueError(f"X has {len(unobserved)} feature(s) with no observed value, all NaN "
                             f"(column {', '.join(map(str, unobserved[:5]))}); drop them before fit")

    @property
    def box(self) -> tuple[np.ndarray, np.ndarray]:
        return self.moments.low, self.moments.high

    def initial_weights(self, init: str, grid: Grid, rng: np.random.Generator) -> np.ndarray:
        """What ``init.INITS[init]`` gives on the data with its gaps filled by the means."""
        low, high = self.box
        if init == "random":
            return low + rng.random((grid.n_units, self.n_features)) * (high - low)
        means = self.moments.means
        scatter = _compute(_tree(_delayed(_block_scatter), self.blocks, (means,)))
        components = principal_components(scatter)
        score_low, score_high = _compute(_tree(_delayed(_block_score_range), self.blocks, (means, components)))
        return lattice(grid, means, components, score_low, score_high)

    def search(self, grid: Grid, metric: str, p: float, dtype: str) -> DistributedSearch:
        return DistributedSearch(self, (grid.width, grid.height, grid.topology, grid.toroidal), metric, p, dtype)


class DistributedSearch:
    """``bmu.BMUSearch.run`` over the blocks: the weights broadcast, the totals reduced."""

    def __init__(self, data: DaskData, grid_key: tuple, metric: str, p: float, dtype: str):
        self.data, self.grid_key, self.metric, self.p, self.dtype = data, grid_key, metric, p, dtype

    def run(self, weights: np.ndarray) -> DistributedPass:
        shared = _broadcast(np.ascontiguousarray(weights, dtype=np.float64))
        totals = _compute(_tree(_delayed(_block_totals), self.data.blocks,
                                (shared, self.grid_key, self.metric, self.p, self.dtype)))
        return DistributedPass(totals.sums, totals.counts, totals.known, totals.distance / totals.rows,
                               totals.errors / totals.rows)


# ---------------------------------------------------------------------------- on the workers


@lru_cache(maxsize=8)
def _grid(width: int, height: int, topology: str, toroidal: bool) -> Grid:
    return Grid(width, height, topology, toroidal)


def _rows(block) -> np.ndarray:
    return np.ascontiguousarray(block, dtype=np.float64)


def _block_moments(block) -> Moments:
    data = _rows(block)
    missing = np.isnan(data)
    observed = ~missing
    d = data.shape[1]
    if not len(data):
        return Moments(0, np.zeros(d), np.zeros(d), np.full(d, np.inf), np.full(d, -np.inf), 0, 0)
    return Moments(len(data), observed.sum(axis=0).astype(np.float64), np.where(observed, data, 0.0).sum(axis=0),
                   np.where(missing, np.inf, data).min(axis=0), np.where(missing, -np.inf, data).max(axis=0),
                   int(np.isinf(data).any(axis=1).sum()), int(missing.all(axis=1).sum()))


def _filled(block, means: np.ndarray) -> np.ndarray:
    data = _rows(block)
    missing = np.isnan(data)
    return np.where(missing, means, data) if missing.any() else data


def _block_scatter(block, means: np.ndarray) -> np.ndarray:
    centred = _filled(block, means) - means
    return centred.T @ centred


def _block_score_range(block, means: np.ndarray, components: np.ndarray):
    scores = _filled(block, means) @ components.T - means @ components.T
    if not len(scores):
        return np.full(2, np.inf), np.full(2, -np.inf)
    return scores.min(axis=0), scores.max(axis=0)


def _block_totals(block, weights: np.ndarray, grid_key: tuple, metric: str, p: float, dtype: str) -> Totals:
    data = _rows(block)
    m, d = weights.shape
    if not len(data):
        return Totals(0, np.zeros((m, d)), np.zeros(m), None, 0.0, 0)
    found = BMUSearch(data, _grid(*grid_key), metric, p, dtype, use_numba=True).run(weights)
    errors = int(round(found.topographic_error * len(data)))
    return Totals(len(data), found.sums, found.counts, found.known, float(found.distance.sum()), errors)


def _add(first, second):
    if isinstance(first, tuple):  # score ranges: (low, high)
        return np.fmin(first[0], second[0]), np.fmax(first[1], second[1])
    return first + second


# ---------------------------------------------------------------------------- Dask


def _delayed(function):
    import dask

    return dask.delayed(function, pure=True)


def _tree(task, blocks: list, arguments: tuple):
    """``task(block, *arguments)`` on every block, added pairwise on the workers."""
    add = _delayed(_add)
    level = [task(block, *arguments) for block in blocks]
    while len(level) > 1:
        level = [add(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
    return level[0]


def _client():
    try:
        from distributed import default_client
        return default_client()
    except (ImportError, ValueError):  # no distributed, or no client started
        return None


def _broadcast(array: np.ndarray):
    """The weights on every worker once per epoch (in the graph itself without a client)."""
    client = _client()
    return array if client is None else client.scatter(array, broadcast=True, hash=False)


def _compute(value):
    client = _client()
    if client is None:
        import dask

        return dask.compute(value)[0]
    return client.compute(value).result()
