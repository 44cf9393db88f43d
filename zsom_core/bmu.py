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

The pruned search (the direct path's complete rows, on maps of ``PRUNE_MIN_UNITS`` units
or more, under metrics with the triangle inequality: all but minkowski with p < 1; cosine
through the euclidean chord distance between unit vectors, which orders units as it does).
A training's passes follow one another, and from the second on each row's winners of
the pass before bound its search: the larger distance to those two units is an upper
bound on its runner-up's. The grid's units are grouped in square patches, each a ball
around its centre (``patches.UnitPatches``), and a patch whose ball lies beyond that
bound for every row of a block holds neither of their best two. The rows are taken in
blocks of ``PRUNE_ROWS`` sorted by their previous winner, so that a block's rows lie
together and need few patches; the block is scored against those patches' units only,
by the direct kernels, and its best two found among them
(``kernels.pruned_direct_blocks``). A block left with more than ``PRUNE_MAX_SHARE`` of
the units is scored against all of them. Rows whose best two lie within the rounding
bound that ``settle_block`` decides again are searched again by the full pass. The
winners' sums are added afterwards, in the full pass's order (``kernels.sum_blocks``):
float64 addition is not associative, and a pruned training's map is then a full one's,
bit for bit. Each pass counts the sample-to-unit distances it computed
(``BMUPass.searched``): n * m for a full pass. The matrix-product path keeps the full
pass: a BLAS product over a block's candidates cost more than the product over all units
at every share measured. So do rows with gaps: their distances over the observed
features are bounded by no single patch radius.

The reference fallback (``use_numba=False``) uses ``reference.best_two_units``, plain
float64 NumPy, on row blocks small enough that its (rows, units, features) array stays
bounded; it is also the oracle the fast path is tested against.

``unit_distances`` (behind ``SOM.transform``) gives every sample's distance to every
unit, not only the best two: the same preparation and per-coordinate accumulation, with
the final root taken (``kernels.unit_distance_block``).

Missing values (NaN), as the MATLAB SOM Toolbox treats them. A sample's distance to a
unit uses its observed features only: euclidean takes the squared sum over them times
d / observed (then the root), manhattan the sum times d / observed, minkowski the
p-power sum times d / observed (then the p-th root), chebyshev the maximum over them
(unscaled), cosine the cosine between the observed part of x and the same coordinates
of w. The rescaling keeps the distances of samples with and without gaps comparable
(quantization error, anomaly scores, ``transform``) and orders a sample's units as the
unscaled sum does, so rank values leave it out. The samples are split once per search
into complete rows, which take the path above unchanged, and rows with gaps, which take
masked kernels (``RowSearch``): the direct path skips the missing coordinates, the
matrix-product path multiplies the rows with 0 in their gaps and then corrects each
unit's value by the row's missing coordinates alone (``kernels.mask_gemm_scores``:
euclidean subtracts their ``w_k^2``, cosine divides by ``|w_obs|``), which keeps BLAS's
speed however many rows have a gap. The pass over masked rows sums each unit's observed
values and counts them per (unit, feature) (``BMUPass.known``), for the batch update.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels, reference
from .grid import Grid
from .metrics import COSINE, EUCLIDEAN, MINKOWSKI, MINKOWSKI_INTEGER, metric_code
from .parallel import LANES, PARALLEL_MIN_ELEMENTS, run_lanes
from .patches import UnitPatches, norms

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
# Rows of one block of the pruned search: fewer rows lie closer together and have fewer
# candidates between them.
PRUNE_ROWS = 32
# Past this share of the units as candidates, a block is scored against all of them.
PRUNE_MAX_SHARE = 0.6
# Fewest units for which the pruned search pays: its bounds cost each row about as much
# as a full pass over 1,600 units in 3-D (see the benchmarks' README).
PRUNE_MIN_UNITS = 2000


@dataclass
class BMUPass:
    """What one pass over the data learns about a map.

    ``first`` (n,) int64: each sample's best-matching unit; ``distance`` (n,) float64: the
    distance to it under the metric; ``sums`` (m, d) and ``counts`` (m,) float64: the sum
    and number of the samples each unit wins; ``topographic_error``: the share of samples
    whose two best units are not grid neighbours. ``data`` is the (n, d) float64 samples
    the pass was run on. ``known`` (m, d) float64, where the samples have missing values
    (NaN): per unit and feature, how many of the samples the unit wins have that feature
    observed, ``sums`` adding the observed values only; None for complete data, where
    every feature's count is ``counts``. ``searched`` is how many sample-to-unit distances
    the pass computed: n * m for a full pass, fewer where the pruned search spared some
    (None from the reference).
    """

    data: np.ndarray
    first: np.ndarray
    distance: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    topographic_error: float
    known: np.ndarray | None = None
    searched: int | None = None

    def __post_init__(self):
        self.mqe = float(np.mean(self.distance))


@dataclass
class RowPass:
    """What ``RowSearch.run`` learns about its rows: ``BMUPass``'s fields for them, with the
    count of topographic ``errors`` instead of their share, so that passes over the
    complete rows and the rows with gaps add up."""

    first: np.ndarray
    distance: np.ndarray
    sums: np.ndarray
    counts: np.ndarray
    known: np.ndarray | None
    errors: int
    searched: int


class BMUSearch:
    """Prepares the samples once (cast, centred, normalised for cosine) and runs BMU passes.

    ``data`` is a C-contiguous float64 (n, d) array, NaN where a value is missing, ``metric``
    and ``p`` as ``SOM`` takes them, ``dtype`` the pass's working precision ("float32" or
    "float64"). Data with missing values is split once into its complete rows, which
    keep the search of complete data (``RowSearch``), and its rows with gaps (a
    ``RowSearch`` with ``masked``); each pass joins what the two find.
    """

    def __init__(self, data: np.ndarray, grid: Grid, metric: str, p: float, dtype: str, use_numba: bool):
        self.data = data
        self.grid = grid
        self.metric = metric
        self.p = p
        self.use_numba = use_numba
        gaps = np.isnan(data).any(axis=1)
        self.has_gaps = bool(gaps.any())
        if not use_numba:
            return
        if not self.has_gaps:
            self.parts = [(None, RowSearch(data, grid, metric, p, dtype, masked=False))]
            return
        # Rows that all have gaps are searched in place: a copy would cost a pass over the data.
        self.parts = [(rows, RowSearch(data if len(rows) == len(data) else np.ascontiguousarray(data[rows]), grid,
                                       metric, p, dtype, masked))
                      for rows, masked in ((np.flatnonzero(~gaps), False), (np.flatnonzero(gaps), True))
                      if len(rows)]

    @property
    def use_gemm(self) -> bool:
        """Whether the rank values come from a BLAS product (see the module's docstring)."""
        return self.parts[-1][1].use_gemm

    def run(self, weights: np.ndarray) -> BMUPass:
        """One pass over the data against ``weights``, float64 (m, d) as ``SOM`` holds them."""
        if not self.use_numba:
            return self._run_reference(weights)
        n, d = self.data.shape
        if self.parts[0][0] is None:
            found = self.parts[0][1].run(weights)
            return BMUPass(self.data, found.first, found.distance.astype(np.float64), found.sums, found.counts,
                           found.errors / n, searched=found.searched)
        m = weights.shape[0]
        first = np.empty(n, dtype=np.int64)
        distance = np.empty(n)
        sums, counts, known = np.zeros((m, d)), np.zeros(m), np.zeros((m, d))
        errors = searched = 0
        for rows, part in self.parts:
            found = part.run(weights)
            searched += found.searched
            first[rows] = found.first
            distance[rows] = found.distance
            sums += found.sums
            counts += found.counts
            known += found.counts[:, None] if found.known is None else found.known
            errors += found.errors
        return BMUPass(self.data, first, distance, sums, counts, errors / n, known, searched)

    def _run_reference(self, weights: np.ndarray) -> BMUPass:
        n, d = self.data.shape
        m = weights.shape[0]
        rows = max(1, REFERENCE_BLOCK_ELEMENTS // (m * d))
        parts = [reference.best_two_units(self.data[s : s + rows], weights, self.metric, self.p)
                 for s in range(0, n, rows)]
        first, second, distance = (np.concatenate(column) for column in zip(*parts))
        counts = np.bincount(first, minlength=m).astype(np.float64)
        sums = np.zeros((m, d))
        known = None
        if self.has_gaps:
            observed = ~np.isnan(self.data)
            np.add.at(sums, first, np.where(observed, self.data, 0.0))
            known = np.zeros((m, d))
            np.add.at(known, first, observed.astype(np.float64))
        else:
            np.add.at(sums, first, self.data)
        return BMUPass(self.data, first, distance, sums, counts, reference.topographic_error(first, second, self.grid),
                       known)


class RowSearch:
    """The BMU pass over rows that are all complete or, with ``masked``, all have gaps (NaN).

    Masked rows are prepared as complete ones are, centred on the mean of the observed
    values, with NaN kept where values are missing (``work``); the direct kernels skip
    those coordinates (``kernels.masked_distance_block``). The matrix-product path takes
    the rows with 0 in the gaps (centred: the observed mean) and turns its rank values
    into those over the observed features from each row's list of missing features
    (``kernels.mask_gemm_scores``): with few gaps per row, a pass over the gaps costs
    far less than a second product with the (n, d) mask.
    """

    def __init__(self, data: np.ndarray, grid: Grid, metric: str, p: float, dtype: str, masked: bool):
        self.data = data
        self.grid = grid
        self.code = metric_code(metric, p)
        self.p = p
        self.masked = masked
        self._totals = None
        self.dtype = np.dtype(dtype)
        n, d = data.shape
        self.use_gemm = self.code in (EUCLIDEAN, COSINE) and d >= GEMM_MIN_FEATURES
        if masked:
            self._prepare_masked(data)
        elif self.use_gemm and self.code == EUCLIDEAN:
            self.center = data.mean(axis=0)
            # A column of ones lets one product give ||w||^2 - 2 x.w, with no extra pass.
            # The centred samples are written straight into the product's rows (the same
            # values as ``_prepare``: computed in float64, then cast) and seen through a view.
            self.gemm_rows = np.empty((n, d + 1), dtype=self.dtype)
            np.subtract(data, self.center, out=self.gemm_rows[:, :d], casting="same_kind")
            self.gemm_rows[:, d] = 1
            self.work = self.gemm_rows[:, :d]
        else:
            self.center = np.zeros(d) if self.code == COSINE else data.mean(axis=0)
            self.work = self.gemm_rows = self._prepare(data)
        if not masked:
            self.row_magnitude = self._magnitude(self.work)
        self.tolerance = 2 * math.sqrt(d + 2) * np.finfo(self.dtype).eps
        self.prunable = not masked and not self.use_gemm and prunable(self.code, p, grid.n_units)
        self._previous = None  # each row's winner in the last pass: the pruned search's order
        if self.prunable:
            # The magnitudes bound each row's norm: ||x||^2, or its absolute sum (1 for cosine).
            largest = float(self.row_magnitude.max()) if n else 0.0
            self.row_scale = math.sqrt(largest) if self.code == EUCLIDEAN else largest
            self.patches = UnitPatches(grid)

    def _prepare_masked(self, data: np.ndarray):
        """``work`` with NaN in the gaps, the product's rows with 0 there, the rows'
        magnitudes over their observed values, and each row's missing features (CSR)."""
        n, d = data.shape
        # A feature missing in every row here is centred on 0.
        self.center = np.zeros(d) if self.code == COSINE else kernels.observed_means(data)
        self.work = self._prepare(data)
        if self.use_gemm and self.code == EUCLIDEAN:
            self.gemm_rows = np.empty((n, d + 1), dtype=self.dtype)
            self.gemm_rows[:, d] = 1
            filled = self.gemm_rows[:, :d]
        else:
            filled = np.empty_like(self.work)
            self.gemm_rows = filled if self.use_gemm else None
        self.missing_indptr = np.empty(n + 1, dtype=np.int64)
        self.missing_indices = kernels.fill_gaps(self.work, filled, self.missing_indptr)
        self.missing_rows = np.repeat(np.arange(n), np.diff(self.missing_indptr))
        self.row_magnitude = self._magnitude(filled)

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

    def run(self, weights: np.ndarray) -> RowPass:
        """One pass over the rows against ``weights``, float64 (m, d) as ``SOM`` holds them."""
        n, d = self.data.shape
        m = weights.shape[0]
        found = _Found(np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n, dtype=self.dtype),
                       *self._lane_totals(m, d), np.zeros(LANES, dtype=np.int64))
        work_weights = self._prepare(weights)
        if self.prunable and self._previous is not None:
            searched = self._pruned_search(work_weights, found)
            searched += self._search_again(weights, work_weights, found)
            self._sum_in_full_pass_order(found)
        else:
            self._full_rows(weights, work_weights, found, _Rows(self.data, self.work, self.gemm_rows,
                                                                self.row_magnitude))
            searched = n * m
        if self.prunable:
            self._previous = found.first, found.second
        counts = found.lane_counts.sum(axis=0)
        known = None
        if self.masked:
            # Each unit's count of missing values per feature, from the gaps' list (a tenth
            # of the entries where a tenth is missing): known = won samples - missing.
            missing = np.bincount(found.first[self.missing_rows] * d + self.missing_indices, minlength=m * d)
            known = counts[:, None] - missing.reshape(m, d)
        return RowPass(found.first, found.distance, found.lane_sums.sum(axis=0), counts, known,
                       int(found.lane_errors.sum()), searched)

    def _pruned_search(self, work_weights: np.ndarray, found: _Found) -> int:
        """The pruned search over every row (see the module's docstring), but for those it
        leaves to the full pass (``found.referred``): where the working precision cannot
        order a row's best two, which the full pass settles in float64. Returns how many
        distances it computed."""
        n, d = self.data.shape
        m = work_weights.shape[0]
        order = np.empty(n, dtype=np.int64)
        kernels.order_by_unit(self._previous[0], m, order)
        slack = rounding_slack(self.row_scale, distance_scale(work_weights, self.code, self.p), self.dtype, d)
        rank_weights = self._rank_weights(work_weights)
        weight_magnitude = self._magnitude(work_weights).max()
        relative = self.code in (MINKOWSKI, MINKOWSKI_INTEGER)
        indptr, indices = self.grid.neighbor_lists
        found.referred = referred = np.zeros(n, dtype=bool)
        rows = PRUNE_ROWS
        starts = range(0, n, rows)
        candidates = np.zeros(LANES, dtype=np.int64)
        bound_code = search_code(self.code)
        bounds = self.patches.bounds(work_weights, bound_code, self.p)
        previous_first, previous_second = self._previous

        def search_lane(lane: int):
            errors, count = kernels.pruned_direct_blocks(
                np.asarray(starts[lane::LANES], dtype=np.int64), order, rows, self.work, rank_weights,
                bounds.centres_t, bounds.radii, self.patches.patch_of, work_weights, previous_first,
                previous_second, bound_code, self.code, self.p, slack, PRUNE_MAX_SHARE * m, self.row_magnitude,
                weight_magnitude, self.tolerance, relative, indptr, indices, found.first, found.second,
                found.distance, referred)
            found.lane_errors[lane] += errors
            candidates[lane] += count

        run_lanes(search_lane, min(LANES, len(starts)), parallel=n * m >= PARALLEL_MIN_ELEMENTS)
        return int(candidates.sum())

    def _rank_weights(self, work_weights: np.ndarray) -> np.ndarray:
        """The weights as the rank values' kernels take them (see the module's docstring)."""
        if self.use_gemm and self.code == EUCLIDEAN:
            squared_norms = np.einsum("ij,ij->i", work_weights, work_weights)
            return np.ascontiguousarray(np.vstack([-2.0 * work_weights.T, squared_norms]))
        if self.use_gemm:
            return np.ascontiguousarray(-work_weights.T)
        return np.ascontiguousarray(work_weights.T)

    def _search_again(self, weights: np.ndarray, work_weights: np.ndarray, found: _Found) -> int:
        """The full pass over the rows the pruned search left, gathered into a block of
        their own; returns how many distances it computed."""
        again = np.flatnonzero(found.referred)
        if not len(again):
            return 0
        rows = _Rows(self.data[again], self.work[again], self.gemm_rows[again], self.row_magnitude[again])
        # Its sums are left out: ``_sum_in_full_pass_order`` adds every row's.
        part = _Found(np.empty(len(again), dtype=np.int64), np.empty(len(again), dtype=np.int64),
                      np.empty(len(again), dtype=self.dtype), np.zeros_like(found.lane_sums),
                      np.zeros_like(found.lane_counts), found.lane_errors)
        self._full_rows(weights, work_weights, part, rows)
        found.first[again], found.second[again], found.distance[again] = part.first, part.second, part.distance
        return len(again) * weights.shape[0]

    def _sum_in_full_pass_order(self, found: _Found) -> None:
        """Each lane's sums and counts over the rows the full pass gives that lane, in its
        order (``kernels.sum_blocks``): float64 addition is not associative, and a
        training whose passes are pruned then gives the map of one whose passes are full,
        bit for bit."""
        n, m = len(self.data), found.lane_sums.shape[1]
        rows = self._block_rows(n, m)
        starts = np.arange(0, n, rows, dtype=np.int64)

        def sum_lane(lane: int):
            kernels.sum_blocks(self.data, found.first, starts[lane::LANES], rows, found.lane_sums[lane],
                               found.lane_counts[lane])

        run_lanes(sum_lane, min(LANES, len(starts)), parallel=self.data.size >= PARALLEL_MIN_ELEMENTS)

    def _block_rows(self, n: int, m: int) -> int:
        """Rows per block of the full pass."""
        block_elements = GEMM_BLOCK_ELEMENTS if self.use_gemm else SCORE_BLOCK_ELEMENTS
        return balanced_rows(n, max(MIN_BLOCK_ROWS, block_elements // m))

    def _full_rows(self, weights: np.ndarray, work_weights: np.ndarray, found: _Found, source: _Rows):
        """The full pass over ``source``'s rows, into ``found``."""
        n, d = source.data.shape
        m = weights.shape[0]
        rank_weights = self._rank_weights(work_weights)
        if self.masked and self.use_gemm:
            # What ``kernels.mask_gemm_scores`` takes off for each missing feature.
            squares = work_weights**2 if self.code == EUCLIDEAN else work_weights.astype(np.float64) ** 2
            squares_t = np.ascontiguousarray(squares.T)
            unit_squares = squares.sum(axis=1, dtype=np.float64)
        rows = self._block_rows(n, m)
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
            scratch = np.empty(m)
            for start in starts[lane::LANES]:
                block = slice(start, min(n, start + rows))
                out = scores[: block.stop - start]
                if self.use_gemm:
                    np.matmul(source.gemm_rows[block], rank_weights, out=out)
                    if self.masked:
                        kernels.mask_gemm_scores(out, start, self.missing_indptr, self.missing_indices, squares_t,
                                                 unit_squares, self.code, scratch)
                elif self.masked:
                    kernels.masked_distance_block(source.work[block], rank_weights, self.code, self.p, out)
                else:
                    kernels.distance_block(source.work[block], rank_weights, self.code, self.p, out)
                arguments = (out, np.argmin(out, axis=1), start, best, second_best, indptr, indices,
                             source.row_magnitude[block], weight_magnitude, self.tolerance, relative, value_offset,
                             source.data, weights, source.work[block], work_weights, self.code, self.p,
                             found.first, found.second, found.distance[block], found.lane_sums[lane],
                             found.lane_counts[lane])
                finish = kernels.finish_masked_block if self.masked else kernels.finish_block
                found.lane_errors[lane] += finish(*arguments)

        run_lanes(search_lane, min(LANES, len(starts)))


@dataclass
class _Found:
    """What a pass writes as it goes: each row's best two and distance, and the lanes' sums,
    counts and topographic errors."""

    first: np.ndarray
    second: np.ndarray
    distance: np.ndarray
    lane_sums: np.ndarray
    lane_counts: np.ndarray
    lane_errors: np.ndarray
    referred: np.ndarray | None = None  # rows the pruned search leaves to the full pass


@dataclass
class _Rows:
    """The rows a full pass searches: as given (``data``), as the search sees them
    (``work``), as the matrix product takes them (``gemm_rows``) and their magnitudes."""

    data: np.ndarray
    work: np.ndarray
    gemm_rows: np.ndarray | None
    row_magnitude: np.ndarray


def prepare_rows(A: np.ndarray, center: np.ndarray, code: int, dtype) -> np.ndarray:
    """Rows as the kernels compare them: centred on ``center`` (cosine: normalised, a zero
    row staying zero), C-contiguous in ``dtype``. NaN (a missing value) stays NaN; cosine
    normalises a row over its observed values."""
    A = A - center
    if code == COSINE:
        missing = np.isnan(A)
        gaps = missing.any()
        # Zeros in the gaps leave a complete row's norm as it was, bit for bit.
        norms = np.linalg.norm(np.where(missing, 0.0, A) if gaps else A, axis=1, keepdims=True)
        A = np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)
        if gaps:
            A[missing] = np.nan
    return np.ascontiguousarray(A, dtype=dtype)


def unit_distances(data: np.ndarray, weights: np.ndarray, metric: str, p: float, dtype: str,
                   use_numba: bool) -> np.ndarray:
    """Distance from each sample of ``data`` (n, d) to each unit of ``weights`` (m, d), both
    float64, under the metric: (n, m) in ``dtype``.

    Samples and weights are prepared as for the BMU pass, but centred on the weights' mean,
    not the samples': a sample's distances then do not depend on the other samples it comes
    with. Blocks of rows are prepared and filled in turn, spread over the lanes, so that
    beyond the result only a block of prepared rows per lane is held at once. A block
    with missing values (NaN) takes ``kernels.masked_unit_distance_block``, which gives
    its complete rows the same distances as the kernel of complete blocks. The
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
    gaps = np.isnan(data).any(axis=1)

    def fill_lane(lane: int):
        for start in starts[lane::LANES]:
            block = slice(start, min(n, start + rows))
            fill = kernels.masked_unit_distance_block if gaps[block].any() else kernels.unit_distance_block
            fill(prepare_rows(data[block], center, code, dtype), unit_rows, code, p, out[block])

    run_lanes(fill_lane, min(LANES, len(starts)), parallel=n * m >= PARALLEL_MIN_ELEMENTS)
    return out


def balanced_rows(n: int, most: int) -> int:
    """Rows per block, at most ``most``, such that the blocks share out evenly over the
    lanes: a lane with one block more than the others holds the whole pass up."""
    blocks = -(-n // most)
    if blocks >= LANES:
        blocks = -(-blocks // LANES) * LANES
    return -(-n // blocks)


def prunable(code: int, p: float, n_units: int) -> bool:
    """Whether the pruned search serves a metric (its kernel code and p) on a map this big:
    its bounds need the triangle inequality, which minkowski with p < 1 lacks."""
    return n_units >= PRUNE_MIN_UNITS and (code != MINKOWSKI or p >= 1)


def search_code(code: int) -> int:
    """The metric the pruned search bounds distances under: cosine's order of units is that
    of the euclidean (chord) distance between the unit vectors the search holds."""
    return EUCLIDEAN if code == COSINE else code


def distance_scale(rows: np.ndarray, code: int, p: float) -> float:
    """The largest norm among ``rows`` under the search's metric: a distance between such
    rows is rounded by at most a multiple of eps times the two rows' scales."""
    if len(rows) == 0:
        return 0.0
    return float(norms(np.abs(rows.astype(np.float64)), search_code(code), p).max())


def rounding_slack(row_scale: float, weight_scale: float, dtype, n_features: int) -> float:
    """How far a distance computed in ``dtype`` from rows of these scales may be off."""
    return 2 * math.sqrt(n_features + 2) * float(np.finfo(dtype).eps) * (row_scale + weight_scale)
