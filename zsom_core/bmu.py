"""The best-matching-unit (BMU) pass: each sample's two best units, and what a batch step needs.

One pass over the data finds, for every sample, its best-matching unit (the winner) and
its runner-up, the distance to the winner, and the winners' per-unit sums and counts
(the batch update's input). The runner-up only serves the topographic error.

Preparation, once per fit (``BMUSearch``). The samples are cast to the pass's ``dtype``
(float32 by default) and, for every metric but cosine, centred on the data mean; the
weights get the same treatment at every pass. Euclidean, manhattan, chebyshev and
minkowski distances do not change when data and weights move together, and centring
keeps float32's precision for data far from the origin. Cosine normalises each row
instead (a zero vector stays zero), so ``x.w`` is the cosine.

Each pass works on blocks of rows, spread over the engine's lanes; each lane adds into
its own sums and counts, and lanes are added in lane order, so the result is the same on
any number of threads. No (n, m) matrix is ever held: a block of (rows, units) rank
values lives only while its block is handled. A rank value orders units as the distance
does, without the work that does not change the order:

- The matrix-product path (euclidean and cosine with at least ``GEMM_MIN_FEATURES``
  features). Euclidean expands ``||x - w||^2 = ||x||^2 - 2 x.w + ||w||^2``; ``||x||^2`` is
  the same for every unit of a row, so the rank value is ``||w||^2 - 2 x.w``, one BLAS
  product of the rows ``[x, 1]`` with ``[-2 W^T; ||w||^2]``. Cosine's is ``-x.w`` (the
  cosine distance ``1 - x.w`` less its constant 1).
- The direct path (the other metrics, and few features): ``kernels.distance_block``
  computes squared sums, p-power sums, maxima or ``1 - x.w`` without the final root.
  Minkowski with p = 1 or 2 is manhattan or euclidean (``metrics.metric_code``), a small
  whole p multiplies, and any other p computes its powers only for the units that can
  be a sample's best two (``kernels.minkowski_block``), +inf for the rest.

NumPy's arg-min over a block finds the winners; one kernel call
(``kernels.finish_block``) then takes each winner's value out, finds the runner-up (the
winner's best grid neighbour, unless some other unit scores at most as well, which a
second arg-min settles), decides again in float64 where float32 lost the distances, and
summarises the block: each winner's distance (in the working precision, from the
prepared samples), the winners' sums and counts (float64, from the samples as given) and
the count of samples whose best two units are not grid neighbours.

Deciding again in float64. Where distances are small next to the magnitudes of samples
and weights (tight clusters far from the data mean), the expansion cancels: ``||x||^2``
and ``2 x.w`` are large and nearly equal, and float32 keeps little of their difference.
``kernels.settle_block`` bounds each rank value's rounding (a multiple of the working
precision's epsilon times the row's and the weights' magnitudes, or times the value
itself for minkowski) and, where the two best values lie within that bound of each other
and the bound is a noticeable share of the winner's distance, recomputes the distances
to every unit within reach in float64 from the samples and weights as given, and lets
those decide. Units closer than that share are an honest tie: either is a
best-matching unit.

The reference fallback (``use_numba=False``) uses ``reference.best_two_units``, plain
float64 NumPy, on row blocks small enough that its (rows, units, features) array stays
bounded; it is also the oracle the fast path is tested against.

``unit_distances`` (behind ``SOM.transform``) gives every sample's distance to every
unit, not only the best two: the same preparation and per-coordinate accumulation, with
the final root taken (``kernels.unit_distance_block``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels, reference
from .grid import Grid
from .metrics import COSINE, EUCLIDEAN, MINKOWSKI, MINKOWSKI_INTEGER, metric_code
from .parallel import LANES, PARALLEL_MIN_ELEMENTS, run_lanes

# Above this many features, euclidean and cosine rank values come from a BLAS matrix
# product over row blocks instead of direct differences.
GEMM_MIN_FEATURES = 12
# Elements of one (rows, units) block of rank values from the direct kernel: 1 MiB of
# float32, so that a block stays in the L2 cache.
SCORE_BLOCK_ELEMENTS = 1 << 18
# The same from a BLAS product: 8 MiB. Each block costs a few calls that take the GIL
# back; with L2-sized blocks the threads spent their time waiting for it.
GEMM_BLOCK_ELEMENTS = 1 << 21
# Elements of one (rows, units, features) block in the NumPy fallback.
REFERENCE_BLOCK_ELEMENTS = 1 << 22
# Fewest rows in a block, however many units the map has.
MIN_BLOCK_ROWS = 16


@dataclass
class BMUPass:
    """What one pass over the data learns about a map.

    ``first`` (n,) int64: each sample's best-matching unit; ``distance`` (n,) float64: the
    distance to it under the metric; ``sums`` (m, d) and ``counts`` (m,) float64: the sum
    and number of the samples each unit wins; ``topographic_error``: the share of samples
    whose two best units are not grid neighbours. ``data`` is the (n, d) float64 samples
    the pass was run on.
    """

    data: np.ndarray
    first: np.ndarray
    distance: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    topographic_error: float

    def __post_init__(self):
        self.mqe = float(np.mean(self.distance))


class BMUSearch:
    """Prepares the samples once (cast, centred, normalised for cosine) and runs BMU passes.

    ``data`` is a C-contiguous float64 (n, d) array, ``metric`` and ``p`` as ``SOM``
    takes them, ``dtype`` the pass's working precision ("float32" or "float64").
    """

    def __init__(self, data: np.ndarray, grid: Grid, metric: str, p: float, dtype: str, use_numba: bool):
        self.data = data
        self.grid = grid
        self.metric = metric
        self.code = metric_code(metric, p)
        self.p = p
        self.use_numba = use_numba
        self._totals = None
        if not use_numba:
            return
        self.dtype = np.dtype(dtype)
        self.center = np.zeros(data.shape[1]) if self.code == COSINE else data.mean(axis=0)
        self.use_gemm = self.code in (EUCLIDEAN, COSINE) and data.shape[1] >= GEMM_MIN_FEATURES
        if self.use_gemm and self.code == EUCLIDEAN:
            # A column of ones lets one product give ||w||^2 - 2 x.w, with no extra pass.
            # The centred samples are written straight into the product's rows (the same
            # values as ``_prepare``: computed in float64, then cast) and seen through a view.
            n, d = data.shape
            self.gemm_rows = np.empty((n, d + 1), dtype=self.dtype)
            np.subtract(data, self.center, out=self.gemm_rows[:, :d], casting="same_kind")
            self.gemm_rows[:, d] = 1
            self.work = self.gemm_rows[:, :d]
        else:
            self.work = self.gemm_rows = self._prepare(data)
        self.row_magnitude = self._magnitude(self.work)
        self.tolerance = 2 * math.sqrt(data.shape[1] + 2) * np.finfo(self.dtype).eps

    def _lane_totals(self, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
        """Zeroed per-lane sums (LANES, m, d) and counts (LANES, m), reused from pass to
        pass: fresh ones would cost their page faults on every pass."""
        if self._totals is None or self._totals[0].shape != (LANES, m, d):
            self._totals = np.zeros((LANES, m, d)), np.zeros((LANES, m))
        else:
            for totals in self._totals:
                totals.fill(0.0)
        return self._totals

    def _magnitude(self, A: np.ndarray) -> np.ndarray:
        """Per-row size that bounds the rounding of a rank value, in its units."""
        if self.code == COSINE:
            return np.ones(len(A))
        if self.code == EUCLIDEAN:
            return np.einsum("ij,ij->i", A, A, dtype=np.float64)
        return np.abs(A).sum(axis=1, dtype=np.float64)

    def _prepare(self, A: np.ndarray) -> np.ndarray:
        return prepare_rows(A, self.center, self.code, self.dtype)

    def run(self, weights: np.ndarray) -> BMUPass:
        """One pass over the data against ``weights``, float64 (m, d) as ``SOM`` holds them."""
        if not self.use_numba:
            return self._run_reference(weights)
        n, d = self.data.shape
        m = weights.shape[0]
        first = np.empty(n, dtype=np.int64)
        second = np.empty(n, dtype=np.int64)
        distance = np.empty(n, dtype=self.dtype)
        lane_sums, lane_counts = self._lane_totals(m, d)
        lane_errors = np.zeros(LANES, dtype=np.int64)
        work_weights = self._prepare(weights)
        if self.use_gemm and self.code == EUCLIDEAN:
            squared_norms = np.einsum("ij,ij->i", work_weights, work_weights)
            rank_weights = np.ascontiguousarray(np.vstack([-2.0 * work_weights.T, squared_norms]))
        elif self.use_gemm:
            rank_weights = np.ascontiguousarray(-work_weights.T)
        else:
            rank_weights = np.ascontiguousarray(work_weights.T)
        block_elements = GEMM_BLOCK_ELEMENTS if self.use_gemm else SCORE_BLOCK_ELEMENTS
        rows = balanced_rows(n, max(MIN_BLOCK_ROWS, block_elements // m))
        starts = range(0, n, rows)
        indptr, indices = self.grid.neighbor_lists
        weight_magnitude = self._magnitude(work_weights).max()
        # What turns a rank value into a distance-like one: the row magnitude (||x||^2 for
        # the euclidean product, 1 for cosine's 1 - cos); direct values are distance-like.
        value_offset = 1.0 if self.use_gemm else 0.0
        relative = self.code in (MINKOWSKI, MINKOWSKI_INTEGER)

        def search_lane(lane: int):
            scores = np.empty((rows, m), dtype=self.dtype)
            best = np.empty(rows, dtype=self.dtype)
            second_best = np.empty(rows, dtype=np.int64)
            for start in starts[lane::LANES]:
                block = slice(start, min(n, start + rows))
                out = scores[: block.stop - start]
                if self.use_gemm:
                    np.matmul(self.gemm_rows[block], rank_weights, out=out)
                else:
                    kernels.distance_block(self.work[block], rank_weights, self.code, self.p, out)
                lane_errors[lane] += kernels.finish_block(
                    out, np.argmin(out, axis=1), start, best, second_best, indptr, indices,
                    self.row_magnitude[block], weight_magnitude, self.tolerance, relative, value_offset,
                    self.data, weights, self.work[block], work_weights, self.code, self.p,
                    first, second, distance[block], lane_sums[lane], lane_counts[lane])

        run_lanes(search_lane, min(LANES, len(starts)))
        return BMUPass(self.data, first, distance.astype(np.float64), lane_sums.sum(axis=0),
                       lane_counts.sum(axis=0), lane_errors.sum() / n)

    def _run_reference(self, weights: np.ndarray) -> BMUPass:
        n, d = self.data.shape
        m = weights.shape[0]
        rows = max(1, REFERENCE_BLOCK_ELEMENTS // (m * d))
        parts = [reference.best_two_units(self.data[s : s + rows], weights, self.metric, self.p)
                 for s in range(0, n, rows)]
        first, second, distance = (np.concatenate(column) for column in zip(*parts))
        counts = np.bincount(first, minlength=m).astype(np.float64)
        sums = np.zeros((m, d))
        np.add.at(sums, first, self.data)
        return BMUPass(self.data, first, distance, sums, counts, reference.topographic_error(first, second, self.grid))


def prepare_rows(A: np.ndarray, center: np.ndarray, code: int, dtype) -> np.ndarray:
    """Rows as the kernels compare them: centred on ``center`` (cosine: normalised, a zero
    row staying zero), C-contiguous in ``dtype``."""
    A = A - center
    if code == COSINE:
        norms = np.linalg.norm(A, axis=1, keepdims=True)
        A = np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)
    return np.ascontiguousarray(A, dtype=dtype)


def unit_distances(data: np.ndarray, weights: np.ndarray, metric: str, p: float, dtype: str,
                   use_numba: bool) -> np.ndarray:
    """Distance from each sample of ``data`` (n, d) to each unit of ``weights`` (m, d), both
    float64, under the metric: (n, m) in ``dtype``.

    Samples and weights are prepared as for the BMU pass, but centred on the weights' mean,
    not the samples': a sample's distances then do not depend on the other samples it comes
    with. Blocks of rows are prepared and filled in turn, spread over the lanes, so that
    beyond the result only a block of prepared rows per lane is held at once. The
    reference fallback computes in float64 and casts.
    """
    n, d = data.shape
    m = weights.shape[0]
    out = np.empty((n, m), dtype=dtype)
    if not use_numba:
        rows = max(1, REFERENCE_BLOCK_ELEMENTS // (m * d))
        for start in range(0, n, rows):
            out[start : start + rows] = reference.pairwise_distances(data[start : start + rows], weights, metric, p)
        return out
    code = metric_code(metric, p)
    center = np.zeros(d) if code == COSINE else weights.mean(axis=0)
    unit_rows = np.ascontiguousarray(prepare_rows(weights, center, code, dtype).T)
    rows = balanced_rows(n, max(MIN_BLOCK_ROWS, SCORE_BLOCK_ELEMENTS // m))
    starts = range(0, n, rows)

    def fill_lane(lane: int):
        for start in starts[lane::LANES]:
            block = slice(start, min(n, start + rows))
            kernels.unit_distance_block(prepare_rows(data[block], center, code, dtype), unit_rows, code, p, out[block])

    run_lanes(fill_lane, min(LANES, len(starts)), parallel=n * m >= PARALLEL_MIN_ELEMENTS)
    return out


def balanced_rows(n: int, most: int) -> int:
    """Rows per block, at most ``most``, such that the blocks share out evenly over the
    lanes: a lane with one block more than the others holds the whole pass up."""
    blocks = -(-n // most)
    if blocks >= LANES:
        blocks = -(-blocks // LANES) * LANES
    return -(-n // blocks)
