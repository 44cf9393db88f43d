"""Numba kernels for the hot paths. Each is a plain function over C-contiguous arrays that
writes into outputs it is handed; ``reference`` holds the float64 oracle. Docstrings list
the arguments as IN (read), OUT (written) and IN/OUT (read and updated), with shapes:
n samples, m units, d features, ``rows`` samples in a block. "dtype" is the BMU pass's
working precision (float32 or float64); ``code, p`` are a metric's kernel code
(``metrics.METRICS``) and minkowski's p; ``indptr, indices`` are the grid's neighbours in
CSR form (``Grid.neighbor_lists``).

Weights reach the best-matching-unit kernels transposed, ``(d, m)``, so that the inner
loop runs over units with unit stride and vectorises. The BMU pass works in the dtype of
its inputs (float32 by default in ``SOM``); sums for the batch update are float64.
Every kernel is compiled with ``cache=True``: a cold process loads them from disk.

No kernel is ``parallel=True``: each runs on one thread without the GIL, and the engine
spreads blocks of work over its own thread pool. Numba's parallel layers either spin when
cores are shared (OpenMP), abort on concurrent use (workqueue) or break in forked
children, and the dashboard runs several trainings at once in forked processes.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .metrics import CHEBYSHEV, COSINE, EUCLIDEAN, MANHATTAN
from .neighborhood import BUBBLE, GAUSSIAN, MEXICAN_HAT


@nb.njit(cache=True, inline="always")
def _accumulate_distance(code, p, buffer, xk, weights_k):
    """Fold one coordinate into the running per-unit distance.

    IN: xk, one coordinate of a sample; weights_k (m,), that coordinate of every unit.
    IN/OUT: buffer (m,), the running values.
    """
    m = buffer.shape[0]
    if code == EUCLIDEAN:
        for j in range(m):
            difference = xk - weights_k[j]
            buffer[j] += difference * difference
    elif code == MANHATTAN:
        for j in range(m):
            buffer[j] += abs(xk - weights_k[j])
    elif code == CHEBYSHEV:
        for j in range(m):
            buffer[j] = max(buffer[j], abs(xk - weights_k[j]))
    elif code == COSINE:
        for j in range(m):
            buffer[j] -= xk * weights_k[j]
    else:
        for j in range(m):
            buffer[j] += abs(xk - weights_k[j]) ** p


@nb.njit(cache=True, inline="always")
def _finish_distance(code, p, value):
    """Turn an accumulated value (squared sum, p-power sum, ...) into the distance."""
    if code == EUCLIDEAN:
        return math.sqrt(max(value, 0.0))
    if code == COSINE:
        return max(value, 0.0)
    if code == MANHATTAN or code == CHEBYSHEV:
        return value
    return value ** (1.0 / p)


@nb.njit(cache=True, nogil=True)
def distance_block(X, Wt, code, p, out):
    """Rank values of every sample against every unit, for a block of samples.

    The value orders units as the distance does without its final root: squared sum,
    p-power sum, maximum, or 1 - x.w for cosine on unit vectors. Runs on one thread
    without the GIL; the caller spreads blocks over threads.

    IN: X (rows, d) dtype, samples; Wt (d, m) dtype, weights transposed; code, p.
    OUT: out (rows, m) dtype, rank values.
    """
    rows, d = X.shape
    for i in range(rows):
        buffer = out[i]
        buffer[:] = 1.0 if code == COSINE else 0.0
        for k in range(d):
            _accumulate_distance(code, p, buffer, X[i, k], Wt[k])


@nb.njit(cache=True, inline="always")
def pair_distance(a, b, code, p):
    """Distance between two vectors (d,) under the metric ``code, p``; cosine of a zero
    vector is 1."""
    if code == COSINE:
        dot = 0.0
        norm_a = 0.0
        norm_b = 0.0
        for k in range(a.shape[0]):
            dot += a[k] * b[k]
            norm_a += a[k] * a[k]
            norm_b += b[k] * b[k]
        if norm_a == 0.0 or norm_b == 0.0:
            return 1.0
        return max(0.0, 1.0 - dot / math.sqrt(norm_a * norm_b))
    total = 0.0
    for k in range(a.shape[0]):
        difference = abs(a[k] - b[k])
        if code == EUCLIDEAN:
            total += difference * difference
        elif code == MANHATTAN:
            total += difference
        elif code == CHEBYSHEV:
            total = max(total, difference)
        else:
            total += difference**p
    return _finish_distance(code, p, total)


@nb.njit(cache=True, nogil=True)
def take_winners(scores, winners, best):
    """Move each row's winning rank value out of ``scores`` (left +inf) into ``best``,
    so that a second arg-min finds the runner-up.

    IN: winners (rows,) int64. IN/OUT: scores (rows, m) dtype. OUT: best (rows,) dtype.
    """
    for row in range(scores.shape[0]):
        best[row] = scores[row, winners[row]]
        scores[row, winners[row]] = np.inf


@nb.njit(cache=True, nogil=True)
def runners_up(scores, winners, indptr, indices, out):
    """Each row's second best unit where it is the winner's best grid neighbour; -1 where
    another unit scores at most as well (about the topographic error's share of rows),
    for the caller to find by arg-min.

    The runner-up is the winner's best neighbour unless some unit scores at most as
    well; a count of such units vectorises (a scalar arg-min scan does not).

    IN: scores (rows, m) dtype, with the winners' entries +inf; winners (rows,) int64;
    indptr, indices. OUT: out (rows,) int64, a unit or -1.
    """
    rows, m = scores.shape
    for row in range(rows):
        winner = winners[row]
        threshold = scores[row, indices[indptr[winner]]]
        candidate = indices[indptr[winner]]
        for position in range(indptr[winner] + 1, indptr[winner + 1]):
            unit = indices[position]
            value = scores[row, unit]
            if value < threshold or (value == threshold and unit < candidate):
                threshold = value
                candidate = unit
        at_most = 0
        for j in range(m):
            at_most += scores[row, j] <= threshold
        out[row] = candidate if at_most == 1 else -1


ARGMIN_LANES = 16


@nb.njit(cache=True, nogil=True, fastmath=True)
def row_argmin(row):
    """``np.argmin`` of a row without NaN (the first of equal minima), faster than Numba's
    scalar scan: the minimum is found over 16 independent lanes (16 short dependency
    chains instead of one long one), and then its first position.

    IN: row (m,) float32 or float64. Returns the index.
    """
    m = row.shape[0]
    lanes = np.full(ARGMIN_LANES, np.inf, dtype=row.dtype)
    full = m - m % ARGMIN_LANES
    for start in range(0, full, ARGMIN_LANES):
        for lane in range(ARGMIN_LANES):
            value = row[start + lane]
            lanes[lane] = value if value < lanes[lane] else lanes[lane]
    smallest = np.inf
    for lane in range(ARGMIN_LANES):
        smallest = lanes[lane] if lanes[lane] < smallest else smallest
    for j in range(full, m):
        smallest = row[j] if row[j] < smallest else smallest
    for j in range(m):
        if row[j] == smallest:
            return j
    return 0


@nb.njit(cache=True, nogil=True)
def finish_block(scores, winners, start, best, second_best, indptr, indices, row_magnitude, weight_magnitude,
                 tolerance, relative, value_offset, data, W, X, work_weights, code, p, first, second, distance, sums,
                 counts):
    """Everything a block of rank values needs once its winners are known, in one call:
    winners' values out (``take_winners``), runners-up (``runners_up``, and an arg-min
    where that leaves one open), the best two settled (``settle_block``) and the block
    summarised (``summarise_block``). One call instead of five spares each block four
    returns to the GIL, which the lanes' threads otherwise queue for.

    IN/OUT: scores (rows, m) dtype, the block's rank values (the winners' entries are
    left +inf).
    IN: winners (rows,) int64, each row's arg-min of ``scores``; start, the block's first
    sample in the pass.
    Scratch: best (rows,) dtype; second_best (rows,) int64.
    IN: indptr, indices; row_magnitude (rows,) float64, weight_magnitude, tolerance,
    relative, value_offset: the rounding bound (see ``settle_block``); data (n, d) float64
    and W (m, d) float64, samples and weights as given; X (rows, d) dtype and
    work_weights (m, d) dtype, the block's samples and the weights as the search sees them
    (centred, cast); code, p.
    OUT: first, second (n,) int64, written at ``start + row``; distance (rows,) dtype.
    IN/OUT: sums (m, d) float64 and counts (m,) float64, added to.
    Returns the block's count of topographic errors.
    """
    rows = scores.shape[0]
    take_winners(scores, winners, best)
    runners_up(scores, winners, indptr, indices, second_best)
    for row in range(rows):
        if second_best[row] < 0:
            second_best[row] = row_argmin(scores[row])
    settle_block(scores, winners, second_best, best, row_magnitude, weight_magnitude, tolerance, relative,
                 value_offset, start, data, W, code, p, first, second)
    return summarise_block(X, data[start:start + rows], work_weights, first[start:start + rows],
                           second[start:start + rows], indptr, indices, code, p, distance, sums, counts)


# Units whose distances to a sample differ by less than this share count as tied.
RELATIVE_TIE = 1e-3


@nb.njit(cache=True, nogil=True)
def settle_block(scores, winners, second_best, best, row_magnitude, weight_magnitude, tolerance, relative,
                 value_offset, start, data, W, code, p, first, second):
    """Record each row's best two units, deciding again in float64 where rounding blurs them.

    The rounding bound of a rank value is ``tolerance`` times the row's magnitude plus the
    weights' (or, ``relative``, times the value itself). A row is decided again when its
    two best values are within that bound of each other AND the bound is a noticeable
    share (``RELATIVE_TIE``) of the winner's distance-like value (the rank value plus
    ``value_offset`` times the row's magnitude): that is, when float32 lost the
    distances to cancellation, as for data far from its mean. Two units closer than
    that share are an honest tie, and either is a best-matching unit.
    Only units within reach of the runner-up's value can be among the true best two:
    their float64 distances decide (ties to the lower index).

    IN: scores (rows, m) dtype, with the winners' entries taken out; winners (rows,)
    int64; second_best (rows,) int64, the runners-up by rank value; best (rows,) dtype,
    the winners' rank values; row_magnitude (rows,) float64 and weight_magnitude, the
    rows' and the weights' magnitudes (``bmu.BMUSearch._magnitude``); tolerance, the
    rounding bound per unit of magnitude; relative (bool), bound the rounding by the
    value itself (minkowski's powers); value_offset, the multiple of the row magnitude
    that makes a rank value distance-like; start, the block's first sample; data (n, d)
    float64 and W (m, d) float64, samples and weights as given; code, p.
    OUT: first, second (n,) int64, written at ``start + row``.
    """
    for row in range(scores.shape[0]):
        i = start + row
        winner = winners[row]
        runner_up_value = scores[row, second_best[row]]
        if relative:
            bound = tolerance * abs(runner_up_value)
        else:
            bound = tolerance * (row_magnitude[row] + weight_magnitude)
        best_index = winner
        runner_up_index = second_best[row]
        distance_like = abs(best[row] + value_offset * row_magnitude[row])
        if runner_up_value - best[row] <= bound and bound > RELATIVE_TIE * distance_like:
            limit = runner_up_value + 2.0 * bound
            top = np.inf
            runner_up = np.inf
            for j in range(W.shape[0]):
                if j != winner and scores[row, j] > limit:
                    continue
                dist = pair_distance(data[i], W[j], code, p)
                if dist < runner_up:
                    if dist < top:
                        runner_up, runner_up_index = top, best_index
                        top, best_index = dist, j
                    else:
                        runner_up, runner_up_index = dist, j
        first[i] = best_index
        second[i] = runner_up_index


@nb.njit(cache=True, inline="always")
def _are_neighbors(indptr, indices, unit, other):
    """Whether ``other`` is among the grid neighbours of ``unit``."""
    for position in range(indptr[unit], indptr[unit + 1]):
        if indices[position] == other:
            return True
    return False


@nb.njit(cache=True, nogil=True)
def summarise_block(X, data, W, first, second, indptr, indices, code, p, distance, sums, counts):
    """For a block of samples with known winners: the distance to the winner, and the
    winners' sums and counts for the batch update; returns how many samples have first
    and second best units that are not grid neighbours (the topographic error's count).

    IN: X (rows, d) dtype, the samples as the search sees them (centred, cast); data
    (rows, d) float64, the same samples as given; W (m, d) dtype, the weights in the
    search's space; first, second (rows,) int64, each sample's best two units; indptr,
    indices; code, p.
    OUT: distance (rows,) dtype, to the winner.
    IN/OUT: sums (m, d) float64 and counts (m,) float64, added to.
    """
    errors = 0
    for i in range(X.shape[0]):
        unit = first[i]
        distance[i] = pair_distance(X[i], W[unit], code, p)
        counts[unit] += 1.0
        for k in range(data.shape[1]):
            sums[unit, k] += data[i, k]
        if not _are_neighbors(indptr, indices, unit, second[i]):
            errors += 1
    return errors


@nb.njit(cache=True, inline="always")
def _neighborhood_value(squared_distance, sigma, code, squared_radius):
    """h at a squared grid distance for the neighbourhood ``code``; 0 beyond the squared
    radius. Squares spare a root for all but the triangle."""
    if squared_distance > squared_radius:
        return 0.0
    ratio_squared = squared_distance / (sigma * sigma)
    if code == GAUSSIAN:
        return math.exp(-0.5 * ratio_squared)
    if code == BUBBLE:
        return 1.0 if ratio_squared <= 1.0 else 0.0
    if code == MEXICAN_HAT:
        return (1.0 - ratio_squared) * math.exp(-0.5 * ratio_squared)
    return max(0.0, 1.0 - math.sqrt(ratio_squared))


@nb.njit(cache=True, inline="always")
def _squared_grid_distance(positions, a, b, period_x, period_y, toroidal):
    """Squared grid distance between units ``a`` and ``b``, across the seams if toroidal."""
    dx = abs(positions[a, 0] - positions[b, 0])
    dy = abs(positions[a, 1] - positions[b, 1])
    if toroidal:
        dx = min(dx, period_x - dx)
        dy = min(dy, period_y - dy)
    return dx * dx + dy * dy


@nb.njit(cache=True, nogil=True)
def neighborhood_matrix(positions, first_row, period_x, period_y, toroidal, sigma, code, cutoff, out):
    """h(grid distance, sigma) between units ``first_row + i`` and every unit ``j``
    (see ``neighborhood.neighborhood_weights``); grid distances come from the unit
    positions, so no (m, m) distance matrix is kept.

    IN: positions (m, 2) float64, unit centres (``Grid.positions``); first_row, the unit
    of the first row of ``out``; period_x, period_y, toroidal (``Grid.period``,
    ``Grid.toroidal``); sigma; code, the neighbourhood's kernel code
    (``neighborhood.NEIGHBORHOODS``); cutoff, in units of sigma, <= 0 for none.
    OUT: out (rows, m) float64.
    """
    squared_radius = (cutoff * sigma) ** 2 if cutoff > 0 else np.inf
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            squared = _squared_grid_distance(positions, first_row + i, j, period_x, period_y, toroidal)
            out[i, j] = _neighborhood_value(squared, sigma, code, squared_radius)


@nb.njit(cache=True, nogil=True)
def damped_batch_step(W, numerator, denominator, learning_rate, low, high):
    """W <- W + lr (T - W), T = numerator / denominator within [low, high] (the data's box),
    where denominator > 0; other units keep their weights.

    A negative neighbourhood (mexican hat) pushes T beyond the centre's mean, a little
    (``reference.batch_step``): the box keeps an edge unit from leaving the data.

    IN: numerator (m, d) float64 and denominator (m,) float64, the neighbourhood-weighted
    sums and counts; learning_rate; low, high (d,) float64, the data's box.
    IN/OUT: W (m, d) float64.
    """
    m, d = W.shape
    for unit in range(m):
        if denominator[unit] > 0.0:
            for k in range(d):
                target = min(high[k], max(low[k], numerator[unit, k] / denominator[unit]))
                W[unit, k] += learning_rate * (target - W[unit, k])


@nb.njit(cache=True, nogil=True)
def online_epoch(X, W, order, positions, period_x, period_y, toroidal, sigma, learning_rate,
                 neighborhood_code, cutoff, code, p, low, high, surround):
    """Sequential Kohonen updates, one sample at a time in ``order``.

    Sequential by nature: each sample's winner depends on the previous update. A negative
    neighbourhood (mexican hat) pushes units away from samples; updated coordinates are
    kept within [low, high] (the data's box), or repeated pushes grow them geometrically;
    each unit's pushes are scaled by its ``surround`` factor (``neighborhood.surround_scale``).

    IN: X (n, d) float64, the samples; order (n,) int64, the order to visit them in;
    positions (m, 2) float64, period_x, period_y, toroidal: the grid (as in
    ``neighborhood_matrix``); sigma, learning_rate; neighborhood_code, cutoff (in sigmas,
    <= 0 for none); code, p: the metric; low, high (d,) float64, the data's box;
    surround (m,) float64, the factor on each unit's negative steps.
    IN/OUT: W (m, d) float64.
    """
    m, d = W.shape
    squared_radius = (cutoff * sigma) ** 2 if cutoff > 0 else np.inf
    for i in order:
        best = np.inf
        winner = 0
        for j in range(m):
            dist = pair_distance(X[i], W[j], code, p)
            if dist < best:
                best = dist
                winner = j
        for j in range(m):
            squared = _squared_grid_distance(positions, winner, j, period_x, period_y, toroidal)
            step = learning_rate * _neighborhood_value(squared, sigma, neighborhood_code, squared_radius)
            if step > 0.0:
                for k in range(d):
                    W[j, k] += step * (X[i, k] - W[j, k])
            elif step < 0.0:
                step *= surround[j]
                for k in range(d):
                    W[j, k] = min(high[k], max(low[k], W[j, k] + step * (X[i, k] - W[j, k])))


@nb.njit(cache=True, nogil=True)
def u_matrix(W, indptr, indices, code, p, out):
    """Mean distance from each unit to its grid neighbours (0 for a unit without any).

    IN: W (m, d) float64; indptr, indices; code, p. OUT: out (m,) float64.
    """
    for unit in range(W.shape[0]):
        total = 0.0
        for position in range(indptr[unit], indptr[unit + 1]):
            total += pair_distance(W[unit], W[indices[position]], code, p)
        count = indptr[unit + 1] - indptr[unit]
        out[unit] = total / count if count > 0 else 0.0
