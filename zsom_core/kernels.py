"""Numba kernels for the hot paths. Each is a plain function over C-contiguous arrays that
writes into outputs it is handed (marked OUT); ``reference`` holds the float64 oracle.

Weights reach the best-matching-unit kernels transposed, ``(d, m)``, so that the inner
loop runs over units with unit stride and vectorises. The BMU pass works in the dtype of
its inputs (float32 by default in ``SOM``); sums for the batch update are float64.
Every kernel is compiled with ``cache=True``: a cold process loads them from disk.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

from .metrics import CHEBYSHEV, COSINE, EUCLIDEAN, MANHATTAN
from .neighborhood import BUBBLE, GAUSSIAN, MEXICAN_HAT

# Rows handled by one parallel task: enough work to amortise scheduling, few enough
# that the scratch row of unit distances stays in L1/L2.
ROWS_PER_TASK = 256


@nb.njit(cache=True, inline="always")
def _accumulate_distance(code, p, buffer, difference):
    """Fold one coordinate's differences into the running per-unit distance (IN/OUT buffer)."""
    m = buffer.shape[0]
    if code == EUCLIDEAN:
        for j in range(m):
            buffer[j] += difference[j] * difference[j]
    elif code == MANHATTAN:
        for j in range(m):
            buffer[j] += abs(difference[j])
    elif code == CHEBYSHEV:
        for j in range(m):
            buffer[j] = max(buffer[j], abs(difference[j]))
    else:
        for j in range(m):
            buffer[j] += abs(difference[j]) ** p


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


@nb.njit(cache=True, inline="always")
def _best_two(buffer, first_out, second_out, i):
    """Indices of the smallest and second smallest entry of ``buffer``; returns the smallest value."""
    best = np.inf
    runner_up = np.inf
    best_index = 0
    runner_up_index = 1 if buffer.shape[0] > 1 else 0
    for j in range(buffer.shape[0]):
        value = buffer[j]
        if value < runner_up:
            if value < best:
                runner_up = best
                runner_up_index = best_index
                best = value
                best_index = j
            else:
                runner_up = value
                runner_up_index = j
    first_out[i] = best_index
    second_out[i] = runner_up_index
    return best


@nb.njit(cache=True, parallel=True)
def best_two_units(X, Wt, code, p, first, second, distance):
    """Best and second-best unit of every sample, by direct distances.

    IN: X (n, d) samples; Wt (d, m) weights, transposed; for cosine both hold unit-norm
    rows (zero rows stay zero). OUT: first, second (n,) int64 unit indices; distance (n,)
    the distance to the first, under the metric (not squared).
    """
    n, d = X.shape
    m = Wt.shape[1]
    n_tasks = (n + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    for task in nb.prange(n_tasks):
        buffer = np.empty(m, dtype=Wt.dtype)
        difference = np.empty(m, dtype=Wt.dtype)
        for i in range(task * ROWS_PER_TASK, min(n, (task + 1) * ROWS_PER_TASK)):
            if code == COSINE:
                buffer[:] = 1.0
                for k in range(d):
                    xk = X[i, k]
                    for j in range(m):
                        buffer[j] -= xk * Wt[k, j]
            else:
                buffer[:] = 0.0
                for k in range(d):
                    xk = X[i, k]
                    for j in range(m):
                        difference[j] = xk - Wt[k, j]
                    _accumulate_distance(code, p, buffer, difference)
            distance[i] = _finish_distance(code, p, _best_two(buffer, first, second, i))


@nb.njit(cache=True, parallel=True)
def best_two_from_scores(scores, offset, first, second):
    """Best two units from a block of scores, ranking unit j of row i by ``scores[i, j]``.

    The BLAS path hands ``||w||^2 - 2 x.w`` (euclidean, data centred) or ``-x.w``
    (cosine on unit vectors). IN: scores (rows, m). OUT: first, second at ``offset + i``.
    """
    rows = scores.shape[0]
    for i in nb.prange(rows):
        _best_two(scores[i], first, second, offset + i)


@nb.njit(cache=True, parallel=True)
def distances_to_units(X, W, units, code, p, out):
    """Distance from each sample to one chosen unit each. IN: X (n, d), W (m, d), units (n,). OUT: out (n,)."""
    for i in nb.prange(X.shape[0]):
        out[i] = pair_distance(X[i], W[units[i]], code, p)


@nb.njit(cache=True, inline="always")
def pair_distance(a, b, code, p):
    """Distance between two vectors under the metric; cosine of a zero vector is 1."""
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


@nb.njit(cache=True, parallel=True)
def sums_per_unit(X, first, second, adjacency, n_blocks, sums, counts):
    """Per-unit sums and counts of the samples each unit wins; returns the count of
    samples whose two best units are not grid neighbours (for the topographic error).

    Each block of rows sums into its own buffer, then the buffers are added in block
    order: no races, and the result does not depend on the number of threads.
    IN: X (n, d), first, second (n,), adjacency (m, m) bool. OUT: sums (m, d) float64,
    counts (m,) float64, both overwritten.
    """
    n, d = X.shape
    m = sums.shape[0]
    block_sums = np.zeros((n_blocks, m, d))
    block_counts = np.zeros((n_blocks, m))
    block_errors = np.zeros(n_blocks, dtype=np.int64)
    rows_per_block = (n + n_blocks - 1) // n_blocks
    for block in nb.prange(n_blocks):
        errors = 0
        for i in range(block * rows_per_block, min(n, (block + 1) * rows_per_block)):
            unit = first[i]
            block_counts[block, unit] += 1.0
            for k in range(d):
                block_sums[block, unit, k] += X[i, k]
            if not adjacency[unit, second[i]]:
                errors += 1
        block_errors[block] = errors
    sums[:] = 0.0
    counts[:] = 0.0
    for block in range(n_blocks):
        sums += block_sums[block]
        counts += block_counts[block]
    return block_errors.sum()


@nb.njit(cache=True, inline="always")
def _neighborhood_value(dist, sigma, code, radius):
    if dist > radius:
        return 0.0
    ratio_squared = (dist / sigma) ** 2
    if code == GAUSSIAN:
        return math.exp(-0.5 * ratio_squared)
    if code == BUBBLE:
        return 1.0 if dist <= sigma else 0.0
    if code == MEXICAN_HAT:
        return (1.0 - ratio_squared) * math.exp(-0.5 * ratio_squared)
    return max(0.0, 1.0 - dist / sigma)


@nb.njit(cache=True, parallel=True)
def neighborhood_matrix(grid_distances, sigma, code, cutoff, out):
    """h(grid distance, sigma) for every pair of units (see ``neighborhood.neighborhood_weights``).

    IN: grid_distances (m, m) float64; cutoff in units of sigma, <= 0 for none. OUT: out (m, m).
    """
    radius = cutoff * sigma if cutoff > 0 else np.inf
    for i in nb.prange(grid_distances.shape[0]):
        for j in range(grid_distances.shape[1]):
            out[i, j] = _neighborhood_value(grid_distances[i, j], sigma, code, radius)


@nb.njit(cache=True)
def damped_batch_step(W, numerator, denominator, learning_rate):
    """W <- W + lr (numerator / denominator - W) where denominator > 0. IN/OUT: W (m, d)."""
    m, d = W.shape
    for unit in range(m):
        if denominator[unit] > 0.0:
            for k in range(d):
                W[unit, k] += learning_rate * (numerator[unit, k] / denominator[unit] - W[unit, k])


@nb.njit(cache=True)
def online_epoch(X, W, order, grid_distances, sigma, learning_rate, neighborhood_code, cutoff, code, p):
    """Sequential Kohonen updates, one sample at a time in ``order``. IN/OUT: W (m, d) float64.

    Sequential by nature: each sample's winner depends on the previous update.
    """
    m, d = W.shape
    radius = cutoff * sigma if cutoff > 0 else np.inf
    for i in order:
        best = np.inf
        winner = 0
        for j in range(m):
            dist = pair_distance(X[i], W[j], code, p)
            if dist < best:
                best = dist
                winner = j
        for j in range(m):
            step = learning_rate * _neighborhood_value(grid_distances[winner, j], sigma, neighborhood_code, radius)
            if step != 0.0:
                for k in range(d):
                    W[j, k] += step * (X[i, k] - W[j, k])


@nb.njit(cache=True)
def u_matrix(W, indptr, indices, code, p, out):
    """Mean distance from each unit to its grid neighbours. IN: W (m, d), CSR neighbours. OUT: out (m,)."""
    for unit in range(W.shape[0]):
        total = 0.0
        for position in range(indptr[unit], indptr[unit + 1]):
            total += pair_distance(W[unit], W[indices[position]], code, p)
        count = indptr[unit + 1] - indptr[unit]
        out[unit] = total / count if count > 0 else 0.0
