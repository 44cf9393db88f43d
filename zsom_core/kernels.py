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

Missing values. NaN in a sample marks a missing feature (never in the weights); the
kernels with "masked" in their names skip a sample's NaN coordinates, as ``reference`` defines it:
sums over the observed features rescaled by d / observed, chebyshev's maximum over them,
cosine over the observed coordinates of both vectors. The rescaling changes no row's
order of units, so rank values leave it out and only distances take it. The BMU pass
hands them only the rows that have gaps: complete rows keep the kernels of before.

No kernel is ``parallel=True``: each runs on one thread without the GIL, and the engine
spreads blocks of work over its own thread pool. Numba's parallel layers either spin when
cores are shared (OpenMP), abort on concurrent use (workqueue) or break in forked
children, and the dashboard runs several trainings at once in forked processes.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from .metrics import CHEBYSHEV, COSINE, EUCLIDEAN, MANHATTAN, MINKOWSKI, MINKOWSKI_INTEGER
from .neighborhood import BUBBLE, GAUSSIAN, MEXICAN_HAT

# ---------------------------------------------------------------------- powers


@intrinsic
def _bits_of(typingctx, value):
    """The bits of a float32 or float64, as an int32 or int64 (reinterpreted, not converted).
    For floats >= 0 the integers order as the floats do."""
    width = {types.float32: 32, types.float64: 64}.get(value)
    if width is None:
        return None
    signature = types.int32(types.float32) if width == 32 else types.int64(types.float64)
    return signature, lambda context, builder, sig, args: builder.bitcast(args[0], ir.IntType(width))


@intrinsic
def _float_of(typingctx, bits):
    """The float32 or float64 whose bits are the int32 or int64 ``bits``."""
    if bits == types.int32:
        return types.float32(types.int32), lambda context, builder, sig, args: builder.bitcast(
            args[0], ir.FloatType())
    if bits == types.int64:
        return types.float64(types.int64), lambda context, builder, sig, args: builder.bitcast(
            args[0], ir.DoubleType())
    return None


_MANTISSA_BITS = (1 << 52) - 1
_EXPONENT_BIAS = 1023
_SQRT2 = math.sqrt(2.0)
_TWO_LOG2_E = 2.0 / math.log(2.0)
_LN2 = math.log(2.0)


@nb.njit(cache=True, inline="always")
def _float32_power(a, p):
    """``a ** p`` for a float32 ``a >= 0`` and p > 0, within one float32 unit in the last place.

    A libm ``pow`` per element is a call LLVM cannot vectorise, and it made minkowski's
    BMU pass 50 times slower than euclidean's; this is ``2 ** (p log2 a)`` in float64
    multiply-adds that vectorise (the caller needs ``error_model="numpy"``, or the
    division's zero check stops that). log2 a is the exponent plus log2 of the mantissa,
    taken to [sqrt(1/2), sqrt(2)] and expanded as 2 atanh(t) / ln 2 with
    t = (m - 1) / (m + 1), |t| <= 0.172 (error below 1e-9); 2 ** y is 2 ** round(y), from
    its bits, times exp((y - round(y)) ln 2) by Taylor to degree 7 (error below 6e-9).
    y is clamped to float64's normal exponents: the float32 result is then 0 or inf,
    as float32's own ``pow`` gives.
    """
    bits = _bits_of(np.float64(a))
    exponent = (bits >> 52) - _EXPONENT_BIAS
    mantissa = _float_of((bits & _MANTISSA_BITS) | (_EXPONENT_BIAS << 52))
    high = mantissa > _SQRT2
    mantissa = 0.5 * mantissa if high else mantissa
    exponent = exponent + 1 if high else exponent
    t = (mantissa - 1.0) / (mantissa + 1.0)
    t2 = t * t
    series = (((t2 * (1.0 / 9.0) + 1.0 / 7.0) * t2 + 0.2) * t2 + 1.0 / 3.0) * t2 + 1.0
    y = p * exponent + (p * _TWO_LOG2_E) * (t * series)
    y = min(1023.0, max(-1022.0, y))
    whole = math.floor(y + 0.5)
    g = (y - whole) * _LN2
    fraction = ((((((g * (1.0 / 5040.0) + 1.0 / 720.0) * g + 1.0 / 120.0) * g + 1.0 / 24.0) * g
                  + 1.0 / 6.0) * g + 0.5) * g + 1.0) * g + 1.0
    power = fraction * _float_of((np.int64(whole) + _EXPONENT_BIAS) << 52)
    return np.float32(power) if a > 0 else np.float32(0.0)


def _power(a, p):
    """``a ** p`` for ``a >= 0``: in float32, ``_float32_power``; in float64, libm's ``pow``,
    which keeps float64 mode exact against the reference."""
    return a**p


@overload(_power)
def _power_by_precision(a, p):
    if a == types.float32:
        return lambda a, p: _float32_power(a, p)
    return lambda a, p: a**p


@nb.njit(cache=True, inline="always")
def _integer_power(a, n):
    """``a ** n`` for a whole ``n >= 1``, by repeated multiplication."""
    power = a
    for _ in range(n - 1):
        power *= a
    return power


# ---------------------------------------------------------------------- distances


@nb.njit(cache=True, inline="always")
def _accumulate_distance(code, p, buffer, xk, weights_k):
    """Fold one coordinate into the running per-unit distance (not ``MINKOWSKI_INTEGER``:
    see ``_accumulate_integer_power``).

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
            buffer[j] += _power(abs(xk - weights_k[j]), p)


@nb.njit(cache=True, inline="always")
def _accumulate_integer_power(n, buffer, powers, xk, weights_k):
    """Fold one coordinate into the running per-unit sums of ``|x - w| ** n``, n >= 2 whole.

    One pass over the units per factor: a loop of n - 1 multiplications inside the loop
    over units would keep that loop from vectorising.

    IN: n; xk; weights_k (m,). Scratch: powers (m,). IN/OUT: buffer (m,).
    """
    m = buffer.shape[0]
    for j in range(m):
        powers[j] = abs(xk - weights_k[j])
    for _ in range(n - 2):
        for j in range(m):
            powers[j] *= abs(xk - weights_k[j])
    for j in range(m):
        buffer[j] += powers[j] * abs(xk - weights_k[j])


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
    p-power sum, maximum, or 1 - x.w for cosine on unit vectors. General minkowski
    (``minkowski_block``) leaves +inf for units that cannot be among a sample's best two.
    Runs on one thread without the GIL; the caller spreads blocks over threads.

    IN: X (rows, d) dtype, samples; Wt (d, m) dtype, weights transposed; code, p.
    OUT: out (rows, m) dtype, rank values.
    """
    if code == MINKOWSKI:
        minkowski_block(X, Wt, p, out)
        return
    rank_block(X, Wt, code, p, out)


@nb.njit(cache=True, nogil=True)
def rank_block(X, Wt, code, p, out):
    """Every unit's rank value for a block of samples, accumulated feature by feature."""
    powers = np.empty(out.shape[1], dtype=out.dtype)
    for i in range(X.shape[0]):
        _rank_row(X[i], Wt, code, p, out[i], powers)


@nb.njit(cache=True, inline="always")
def _rank_row(x, Wt, code, p, buffer, powers):
    """Every unit's rank value for one complete sample (see ``distance_block``).

    IN: x (d,); Wt (d, m); code, p. Scratch: powers (m,). OUT: buffer (m,).
    """
    buffer[:] = 1.0 if code == COSINE else 0.0
    for k in range(x.shape[0]):
        if code == MINKOWSKI_INTEGER:
            _accumulate_integer_power(int(p), buffer, powers, x[k], Wt[k])
        else:
            _accumulate_distance(code, p, buffer, x[k], Wt[k])


@nb.njit(cache=True, nogil=True)
def unit_distance_block(X, Wt, code, p, out):
    """Distances of every sample to every unit, for a block of samples: the rank values of
    every unit (general minkowski too, without ``minkowski_block``'s shortcut), finished
    into distances by ``_finish_distance``. A kernel of its own, so that the BMU pass's
    tuned loop takes neither the root nor the units it can leave out.

    IN: X (rows, d) dtype, samples; Wt (d, m) dtype, weights transposed; code, p.
    OUT: out (rows, m) dtype, distances.
    """
    rank_block(X, Wt, code, p, out)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = _finish_distance(code, p, out[i, j])


@nb.njit(cache=True, inline="always")
def _has_gaps(x):
    """Whether the sample ``x`` (d,) has a missing (NaN) feature."""
    for k in range(x.shape[0]):
        if x[k] != x[k]:
            return True
    return False


@nb.njit(cache=True, inline="always")
def _masked_rank_row(x, Wt, code, p, buffer, powers, norms):
    """Every unit's rank value for one sample, over its observed features: as
    ``_rank_row`` for a complete sample (the same operations), the coordinates where x is
    NaN skipped otherwise. Cosine's value is then 1 - x.w / |w_obs|, |w_obs| the unit's
    norm over the observed coordinates (x is normalised over them already), 1 where
    that norm is 0.

    IN: x (d,); Wt (d, m); code, p. Scratch: powers, norms (m,). OUT: buffer (m,).
    """
    if not _has_gaps(x):
        _rank_row(x, Wt, code, p, buffer, powers)
        return
    m = buffer.shape[0]
    buffer[:] = 0.0
    norms[:] = 0.0
    for k in range(x.shape[0]):
        xk = x[k]
        if xk != xk:
            continue
        weights_k = Wt[k]
        if code == COSINE:
            for j in range(m):
                buffer[j] -= xk * weights_k[j]
                norms[j] += weights_k[j] * weights_k[j]
        elif code == MINKOWSKI_INTEGER:
            _accumulate_integer_power(int(p), buffer, powers, xk, weights_k)
        else:
            _accumulate_distance(code, p, buffer, xk, weights_k)
    if code == COSINE:
        for j in range(m):
            buffer[j] = 1.0 + buffer[j] / math.sqrt(norms[j]) if norms[j] > 0.0 else 1.0


@nb.njit(cache=True, nogil=True)
def _masked_rank_block(X, Wt, code, p, out):
    """``_masked_rank_row`` for every sample of a block."""
    powers = np.empty(out.shape[1], dtype=out.dtype)
    norms = np.empty(out.shape[1], dtype=out.dtype)
    for i in range(X.shape[0]):
        _masked_rank_row(X[i], Wt, code, p, out[i], powers, norms)


@nb.njit(cache=True, nogil=True)
def masked_distance_block(X, Wt, code, p, out):
    """``distance_block`` for samples with missing values (NaN): rank values over each
    sample's observed features (``_masked_rank_row``; general minkowski by
    ``minkowski_block``, which skips NaN itself).

    IN: X (rows, d) dtype, samples, NaN where missing; Wt (d, m) dtype; code, p.
    OUT: out (rows, m) dtype, rank values.
    """
    if code == MINKOWSKI:
        minkowski_block(X, Wt, p, out)
        return
    _masked_rank_block(X, Wt, code, p, out)


@nb.njit(cache=True, nogil=True)
def masked_unit_distance_block(X, Wt, code, p, out):
    """``unit_distance_block`` for samples with missing values: distances over each
    sample's observed features, sums rescaled by d / observed (not chebyshev's maximum,
    not cosine). A complete sample of the block gets exactly ``unit_distance_block``'s.

    IN: X (rows, d) dtype, NaN where missing; Wt (d, m) dtype; code, p.
    OUT: out (rows, m) dtype, distances.
    """
    _masked_rank_block(X, Wt, code, p, out)
    d = X.shape[1]
    rescaled = code != CHEBYSHEV and code != COSINE
    for i in range(out.shape[0]):
        observed = 0
        for k in range(d):
            observed += X[i, k] == X[i, k]
        scale = d / observed if rescaled and 0 < observed < d else 1.0
        for j in range(out.shape[1]):
            value = out[i, j]
            if scale != 1.0:
                value = value * scale
            out[i, j] = _finish_distance(code, p, value)


@nb.njit(cache=True, nogil=True)
def mask_gemm_scores(scores, start, missing_indptr, missing_indices, squares_t, unit_squares, code, scratch):
    """Turn the BLAS product's rank values of zero-filled samples into those over each
    sample's observed features, by a pass over its missing coordinates only: with few
    gaps per sample this costs a fraction of a second product with the mask.

    Euclidean: the product of ``[x, 1]`` (missing coordinates 0) with
    ``[-2 W^T; ||w||^2]`` is ``||w||^2 - 2 x.w``; over the observed features the rank
    value is ``||w_obs||^2 - 2 x.w``, so each missing coordinate's ``w_k^2`` is
    subtracted. Cosine: the product is ``-x.w`` (x normalised over its observed
    features); divided by ``|w_obs|``, with ``|w_obs|^2`` the unit's squared norm less its
    missing coordinates' squares, in float64 (0 where nothing is left: distance 1).
    The squares of up to four missing coordinates are taken off in one pass over the
    units (``_subtract_rows``): each pass streams a row of the scores through the cache.

    IN/OUT: scores (rows, m) dtype, the block's product.
    IN: start, the block's first sample; missing_indptr (n + 1,) int64 and
    missing_indices int64, each sample's missing features in CSR form; squares_t (d, m),
    the weights' squares transposed (euclidean: dtype; cosine: float64); unit_squares
    (m,) float64, the weights' squared norms (cosine only); code. Scratch: scratch (m,)
    float64.
    """
    rows, m = scores.shape
    for row in range(rows):
        begin, end = missing_indptr[start + row], missing_indptr[start + row + 1]
        buffer = scores[row]
        if code == EUCLIDEAN:
            _subtract_rows(buffer, squares_t, missing_indices, begin, end)
            continue
        scratch[:] = unit_squares
        _subtract_rows(scratch, squares_t, missing_indices, begin, end)
        for j in range(m):
            # What is left after the subtraction is 0 up to float64 rounding of the norm.
            left = scratch[j] if scratch[j] > 1e-12 * unit_squares[j] else 0.0
            buffer[j] = buffer[j] / math.sqrt(left) if left > 0.0 else 0.0


@nb.njit(cache=True, inline="always")
def _subtract_rows(buffer, table, rows, begin, end):
    """``buffer -= table[rows[begin:end]].sum(axis=0)``, four rows of ``table`` per pass.

    IN: table (d, m); rows int64, begin, end. IN/OUT: buffer (m,).
    """
    m = buffer.shape[0]
    position = begin
    while position + 3 < end:
        a, b = table[rows[position]], table[rows[position + 1]]
        c, e = table[rows[position + 2]], table[rows[position + 3]]
        for j in range(m):
            buffer[j] -= (a[j] + b[j]) + (c[j] + e[j])
        position += 4
    while position < end:
        a = table[rows[position]]
        for j in range(m):
            buffer[j] -= a[j]
        position += 1


@nb.njit(cache=True, nogil=True)
def observed_means(data):
    """Each feature's mean over its observed (not NaN) values, 0 where it has none.

    IN: data (n, d) float64. Returns (d,) float64.
    """
    n, d = data.shape
    sums = np.zeros(d)
    counts = np.zeros(d)
    for i in range(n):
        for k in range(d):
            value = data[i, k]
            if value == value:
                sums[k] += value
                counts[k] += 1.0
    for k in range(d):
        sums[k] = sums[k] / counts[k] if counts[k] > 0.0 else 0.0
    return sums


@nb.njit(cache=True, nogil=True)
def fill_gaps(work, filled, missing_indptr):
    """``filled`` is ``work`` with 0 in its gaps (NaN), and the gaps' positions in CSR
    form: ``missing_indptr`` written, the feature indices returned.

    IN: work (n, d). OUT: filled (n, d), of work's dtype; missing_indptr (n + 1,) int64.
    Returns (missing,) int64.
    """
    n, d = work.shape
    missing_indptr[0] = 0
    for i in range(n):
        count = 0
        for k in range(d):
            value = work[i, k]
            gap = value != value
            filled[i, k] = 0.0 if gap else value
            count += gap
        missing_indptr[i + 1] = missing_indptr[i] + count
    indices = np.empty(missing_indptr[n], dtype=np.int64)
    position = 0
    for i in range(n):
        for k in range(d):
            if work[i, k] != work[i, k]:
                indices[position] = k
                position += 1
    return indices


# How far above the second best unit's p-power sum a unit's lower bound must lie for the
# unit to be left out, as a share: far above the rounding of float32 sums of a thousand
# features.
MINKOWSKI_MARGIN = 1e-4


@nb.njit(cache=True, nogil=True, error_model="numpy")
def minkowski_block(X, Wt, p, out):
    """p-power sums of every sample against the units that can be among its best two;
    +inf against the others, which rank last as they would anyway.

    Even vectorised (``_float32_power``), a power costs ten times a squared difference, so
    each row takes the squared euclidean distances e2 first. With
    ``e ** p <= sum |v| ** p <= d ** (1 - p/2) e ** p`` for p <= 2 (the other way round
    for p > 2), a unit whose e2 exceeds ``d ** |1 - 2/p|`` times the second smallest e2
    has a p-power sum above those of the two euclidean-nearest units: it is neither best
    nor second best. On a map near its data this leaves out most units; the bound
    loosens for p far from 2 in many dimensions, and then fewer are left out. A sample's
    missing (NaN) coordinates are skipped: over o <= d observed ones the bound with d
    still holds.
    (``error_model="numpy"``: no zero check on ``_float32_power``'s division, whose
    divisor is at least 1.7; the check would stop the loop from vectorising.)

    IN: X (rows, d) dtype; Wt (d, m) dtype; p. OUT: out (rows, m) dtype.
    """
    rows, d = X.shape
    m = Wt.shape[1]
    # The margin is on p-power sums: on e2 it is raised to 2/p.
    ratio = float(d) ** abs(1.0 - 2.0 / p) * (1.0 + MINKOWSKI_MARGIN) ** (2.0 / p)
    squared = np.empty(m, dtype=out.dtype)
    candidates = np.empty(m, dtype=np.int64)
    differences = np.empty(m, dtype=out.dtype)
    sums = np.empty(m, dtype=out.dtype)
    infinity = np.full(1, np.inf, dtype=out.dtype)[0]
    for i in range(rows):
        squared[:] = 0.0
        for k in range(d):
            if X[i, k] == X[i, k]:
                _accumulate_distance(EUCLIDEAN, p, squared, X[i, k], Wt[k])
        limit = ratio * _second_smallest(squared, infinity)
        count = _candidates(squared, limit, candidates)
        sums[:count] = 0.0
        for k in range(d):
            xk = X[i, k]
            if xk != xk:
                continue
            weights_k = Wt[k]
            for position in range(count):
                differences[position] = abs(xk - weights_k[candidates[position]])
            for position in range(count):
                sums[position] += _power(differences[position], p)
        out[i, :] = np.inf
        for position in range(count):
            out[i, candidates[position]] = sums[position]


@nb.njit(cache=True, inline="always")
def _second_smallest(values, infinity):
    """The second smallest of ``values`` (m >= 2, all >= 0; the smallest of equal ones
    counts twice), ``infinity`` if m is 1.

    On the values' bits, which order as the values do: LLVM vectorises integer minima
    but not float ones, which NaN keeps from being reassociated.

    IN: values (m,) float32 or float64; infinity, +inf of their type.
    """
    top = _bits_of(infinity)
    lowest = top
    for j in range(values.shape[0]):
        lowest = min(lowest, _bits_of(values[j]))
    ties = 0
    above = top
    for j in range(values.shape[0]):
        bits = _bits_of(values[j])
        ties += 1 if bits == lowest else 0
        above = min(above, bits if bits > lowest else top)
    return _float_of(lowest if ties > 1 else above)


@nb.njit(cache=True, inline="always")
def _candidates(values, limit, out):
    """Write the indices j with ``values[j] <= limit`` to the front of ``out``, in order;
    returns how many. (A store on every j and a count that moves on a hit: no branch.)

    IN: values (m,); limit. OUT: out (m,) int64.
    """
    count = 0
    for j in range(values.shape[0]):
        out[count] = j
        count += values[j] <= limit
    return count


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
        elif code == MINKOWSKI_INTEGER:
            total += _integer_power(difference, int(p))
        else:
            total += _power(difference, p)
    return _finish_distance(code, p, total)


@nb.njit(cache=True, inline="always")
def masked_pair_distance(a, b, code, p):
    """``pair_distance`` over the observed (not NaN) coordinates of ``a``: sums rescaled
    by d / observed, chebyshev's maximum and cosine over those coordinates of both
    vectors unscaled; NaN if ``a`` has no observed coordinate. A missing coordinate
    counts as a difference of 0, chosen without a branch: gaps at random would
    mispredict one."""
    d = a.shape[0]
    if code == COSINE:
        dot = 0.0
        norm_a = 0.0
        norm_b = 0.0
        for k in range(d):
            seen = a[k] == a[k]
            ak = a[k] if seen else 0.0
            bk = b[k] if seen else 0.0
            dot += ak * bk
            norm_a += ak * ak
            norm_b += bk * bk
        if norm_a == 0.0 or norm_b == 0.0:
            return 1.0
        return max(0.0, 1.0 - dot / math.sqrt(norm_a * norm_b))
    total = 0.0
    observed = 0
    for k in range(d):
        seen = a[k] == a[k]
        observed += seen
        difference = abs(a[k] - b[k]) if seen else 0.0
        if code == EUCLIDEAN:
            total += difference * difference
        elif code == MANHATTAN:
            total += difference
        elif code == CHEBYSHEV:
            total = max(total, difference)
        elif code == MINKOWSKI_INTEGER:
            total += _integer_power(difference, int(p))
        else:
            total += _power(difference, p)
    if observed == 0:
        return np.nan
    if code != CHEBYSHEV and observed < d:
        total *= d / observed
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
                 value_offset, start, data, W, code, p, first, second, False)
    return summarise_block(X, data[start:start + rows], work_weights, first[start:start + rows],
                           second[start:start + rows], indptr, indices, code, p, distance, sums, counts)


# Units whose distances to a sample differ by less than this share count as tied.
RELATIVE_TIE = 1e-3


@nb.njit(cache=True, nogil=True)
def settle_block(scores, winners, second_best, best, row_magnitude, weight_magnitude, tolerance, relative,
                 value_offset, start, data, W, code, p, first, second, masked):
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
    rows' and the weights' magnitudes (``bmu.RowSearch._magnitude``); tolerance, the
    rounding bound per unit of magnitude; relative (bool), bound the rounding by the
    value itself (minkowski's powers); value_offset, the multiple of the row magnitude
    that makes a rank value distance-like; start, the block's first sample; data (n, d)
    float64 and W (m, d) float64, samples and weights as given; code, p; masked (bool),
    the samples have missing values (NaN): distances over their observed features.
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
                dist = masked_pair_distance(data[i], W[j], code, p) if masked else pair_distance(data[i], W[j], code, p)
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


@nb.njit(cache=True, nogil=True)
def finish_masked_block(scores, winners, start, best, second_best, indptr, indices, row_magnitude, weight_magnitude,
                        tolerance, relative, value_offset, data, W, X, work_weights, code, p, first, second, distance,
                        sums, counts):
    """``finish_block`` for samples with missing values (NaN in ``data`` and ``X``): the
    best two settled over each sample's observed features and the block summarised by
    ``summarise_masked_block``, whose sums add the observed values only.
    """
    rows = scores.shape[0]
    take_winners(scores, winners, best)
    runners_up(scores, winners, indptr, indices, second_best)
    for row in range(rows):
        if second_best[row] < 0:
            second_best[row] = row_argmin(scores[row])
    settle_block(scores, winners, second_best, best, row_magnitude, weight_magnitude, tolerance, relative,
                 value_offset, start, data, W, code, p, first, second, True)
    return summarise_masked_block(X, data[start:start + rows], work_weights, first[start:start + rows],
                                  second[start:start + rows], indptr, indices, code, p, distance, sums, counts)


@nb.njit(cache=True, nogil=True)
def summarise_masked_block(X, data, W, first, second, indptr, indices, code, p, distance, sums, counts):
    """``summarise_block`` for samples with missing values: the distance to the winner
    over the observed features (``masked_pair_distance``), and per (unit, feature) the
    sum of the observed values only; the caller counts the missing ones (they are few:
    the batch update then averages each feature over the samples that have it).

    IN: as ``summarise_block``, NaN in ``X`` and ``data`` where a value is missing.
    OUT: distance (rows,) dtype. IN/OUT: sums (m, d) and counts (m,) float64, added to.
    Returns the block's count of topographic errors.
    """
    errors = 0
    for i in range(X.shape[0]):
        unit = first[i]
        distance[i] = masked_pair_distance(X[i], W[unit], code, p)
        counts[unit] += 1.0
        unit_sums = sums[unit]
        for k in range(data.shape[1]):
            value = data[i, k]
            unit_sums[k] += value if value == value else 0.0
        if not _are_neighbors(indptr, indices, unit, second[i]):
            errors += 1
    return errors


# ---------------------------------------------------------------------- the pruned search


@nb.njit(cache=True, nogil=True)
def order_by_unit(units, m, out):
    """The positions of ``units`` (n,) int64, each in [0, m), sorted by unit and, within a
    unit, ascending (a counting sort), into ``out`` (n,) int64."""
    starts = np.zeros(m + 1, dtype=np.int64)
    for unit in units:
        starts[unit + 1] += 1
    for j in range(m):
        starts[j + 1] += starts[j]
    for i in range(units.shape[0]):
        out[starts[units[i]]] = i
        starts[units[i]] += 1


@nb.njit(cache=True, inline="always")
def _rank_of_distance(code, p, distance):
    """The rank value of a distance (``_finish_distance`` undone; cosine comes as euclidean)."""
    if code == EUCLIDEAN:
        return distance * distance
    if code == MANHATTAN or code == CHEBYSHEV:
        return distance
    return distance**p


@nb.njit(cache=True, nogil=True)
def patch_candidates(centre_values, radii, patch_of, rows, X, work_weights, previous_first, previous_second,
                     code, p, slack, needed, out):
    """The units that can be among the best two of any sample of a block, by patch: a patch
    is needed where, for some sample, its bound ``dist(x, centre) - radius`` lies within
    that sample's reach, the larger of its distances to its two winners of the previous
    pass (which bounds its runner-up's distance from above).

    IN: centre_values (b, patches) dtype, the block's rank values against the patches'
    centres (``rank_block``); radii (patches,) float64; patch_of (m,) int64, each unit's
    patch (``patches.UnitPatches``); rows (b,) int64, the block's samples; X (n, d) dtype
    and work_weights (m, d) dtype, samples and weights as the search sees them;
    previous_first, previous_second (n,) int64; code, p: a metric with the triangle
    inequality (cosine as euclidean over unit vectors); slack, the rounding bound of a
    distance.
    Scratch: needed (patches,) bool. OUT: out (m,) int64, the candidate units, ascending,
    at its front. Returns how many.
    """
    n_patches = radii.shape[0]
    needed[:] = False
    for row in range(rows.shape[0]):
        i = rows[row]
        reach = max(pair_distance(X[i], work_weights[previous_first[i]], code, p),
                    pair_distance(X[i], work_weights[previous_second[i]], code, p))
        for g in range(n_patches):
            needed[g] |= centre_values[row, g] <= _rank_of_distance(code, p, reach + slack + radii[g])
    count = 0
    for j in range(patch_of.shape[0]):
        out[count] = j
        count += needed[patch_of[j]]
    return count


@nb.njit(cache=True, nogil=True)
def finish_candidates(scores, units, rows, row_magnitude, weight_magnitude, tolerance, relative, X,
                      work_weights, code, p, indptr, indices, first, second, distance, referred):
    """``finish_block`` for a block of samples scored against candidate units only.

    Each row's best two are the two smallest of its scores (ties to the lower unit, as the
    full pass breaks them). A row whose two best values lie within their rounding bound
    of each other, where that bound is a noticeable share of the winner's distance (the
    condition under which ``settle_block`` decides again in float64), is left to the full
    pass (``referred``); the others are recorded, with their distance to the winner and
    their topographic errors (the sums for the batch update are added afterwards, in the
    full pass's order: ``sum_blocks``).

    IN: scores (b, c) dtype, the block's rank values against the candidates (the direct
    kernels', which are distance-like); units (c,) int64, the candidates, ascending; rows (b,) int64, the block's
    samples; row_magnitude (n,) float64, weight_magnitude, tolerance, relative: the
    rounding bound (see ``settle_block``); X (n, d) dtype and work_weights (m, d) dtype,
    samples and weights as the search sees them; code, p; indptr, indices.
    OUT: first, second (n,) int64, distance (n,) dtype, referred (n,) bool, at each row's
    sample. Returns the recorded rows' count of topographic errors.
    """
    errors = 0
    for row in range(rows.shape[0]):
        i = rows[row]
        values = scores[row]
        # One scan for the best two: past the first few units, a value rarely beats the
        # runner-up, and the branch is predicted.
        best = runner_up_value = np.inf
        winner = runner_up = 0
        for j in range(values.shape[0]):
            value = values[j]
            if value < runner_up_value:
                if value < best:
                    runner_up_value, runner_up = best, winner
                    best, winner = value, j
                else:
                    runner_up_value, runner_up = value, j
        if relative:
            bound = tolerance * abs(runner_up_value)
        else:
            bound = tolerance * (row_magnitude[i] + weight_magnitude)
        if runner_up_value - best <= bound and bound > RELATIVE_TIE * abs(best):
            referred[i] = True
            continue
        unit = units[winner]
        first[i] = unit
        second[i] = units[runner_up]
        distance[i] = pair_distance(X[i], work_weights[unit], code, p)
        if not _are_neighbors(indptr, indices, unit, second[i]):
            errors += 1
    return errors


@nb.njit(cache=True, nogil=True)
def sum_blocks(data, first, starts, block_rows, sums, counts):
    """The winners' sums and counts over the blocks of rows ``start:start + block_rows``
    for ``start`` in ``starts``, row by row as ``summarise_block`` adds them: a lane of a
    pruned pass then holds the sums of the full pass's lane, bit for bit.

    IN: data (n, d) float64; first (n,) int64; starts (k,) int64; block_rows.
    IN/OUT: sums (m, d) and counts (m,) float64, added to.
    """
    n = data.shape[0]
    for start in starts:
        for i in range(start, min(n, start + block_rows)):
            unit = first[i]
            counts[unit] += 1.0
            for k in range(data.shape[1]):
                sums[unit, k] += data[i, k]


@nb.njit(cache=True, nogil=True)
def pruned_direct_blocks(blocks, order, block_rows, X, rank_weights, centres_t, radii, patch_of,
                         work_weights, previous_first, previous_second, bound_code, code, p, slack, max_candidates,
                         row_magnitude, weight_magnitude, tolerance, relative, indptr, indices, first, second,
                         distance, referred):
    """The pruned search over some blocks of a pass, by the direct kernels, in one call (a
    call per block would cost more than its search on a small map).

    Each block is ``order[start:start + block_rows]`` for a ``start`` in ``blocks``; its
    candidates come from ``patch_candidates`` (all units where there are more than
    ``max_candidates``), their rank values from ``distance_block``, and
    ``finish_candidates`` records them.

    IN: blocks (k,) int64; order (n,) int64; block_rows; X (n, d) dtype; rank_weights
    (d, m) dtype, the weights as ``distance_block`` takes them; the rest as
    ``patch_candidates`` and ``finish_candidates`` take them.
    OUT/IN-OUT: as ``finish_candidates``.
    Returns (topographic errors, distances computed).
    """
    n, d = X.shape
    m = rank_weights.shape[1]
    n_patches = radii.shape[0]
    rows_x = np.empty((block_rows, d), dtype=X.dtype)
    centre_values = np.empty((block_rows, n_patches), dtype=X.dtype)
    needed = np.empty(n_patches, dtype=np.bool_)
    units = np.empty(m, dtype=np.int64)
    candidate_weights = np.empty(d * m, dtype=X.dtype)
    scores = np.empty(block_rows * m, dtype=X.dtype)
    errors = 0
    computed = 0
    for start in blocks:
        rows = order[start:min(n, start + block_rows)]
        b = rows.shape[0]
        block_x = rows_x[:b]
        for row in range(b):
            block_x[row] = X[rows[row]]
        rank_block(block_x, centres_t, bound_code, p, centre_values[:b])
        count = patch_candidates(centre_values, radii, patch_of, rows, X, work_weights, previous_first,
                                 previous_second, bound_code, p, slack, needed, units)
        if count > max_candidates:
            count = m
            for j in range(m):
                units[j] = j
            weights_t = rank_weights
        else:
            weights_t = candidate_weights[:d * count].reshape(d, count)
            for k in range(d):
                for c in range(count):
                    weights_t[k, c] = rank_weights[k, units[c]]
        computed += b * (count + n_patches + 2)
        out = scores[:b * count].reshape(b, count)
        distance_block(block_x, weights_t, code, p, out)
        errors += finish_candidates(out, units[:count], rows, row_magnitude, weight_magnitude, tolerance, relative,
                                    X, work_weights, code, p, indptr, indices, first, second, distance, referred)
    return errors, computed


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
def damped_masked_batch_step(W, numerator, denominator, learning_rate, low, high):
    """``damped_batch_step`` with a denominator per unit AND feature, for data with
    missing values: each feature's target is the neighbourhood-weighted mean of the
    values observed for it, and a (unit, feature) whose denominator is 0 (no observed
    value within its neighbourhood) keeps its weight.

    IN: numerator, denominator (m, d) float64; learning_rate; low, high (d,) float64.
    IN/OUT: W (m, d) float64.
    """
    m, d = W.shape
    for unit in range(m):
        for k in range(d):
            if denominator[unit, k] > 0.0:
                target = min(high[k], max(low[k], numerator[unit, k] / denominator[unit, k]))
                W[unit, k] += learning_rate * (target - W[unit, k])


@nb.njit(cache=True, nogil=True)
def online_epoch(X, W, order, positions, period_x, period_y, toroidal, sigma, learning_rate,
                 neighborhood_code, cutoff, code, p, low, high, keep_rows, surround):
    """Sequential Kohonen updates, one sample at a time in ``order``.

    Sequential by nature: each sample's winner depends on the previous update. A negative
    neighbourhood (mexican hat) pushes units away from samples; updated coordinates are
    kept within [low, high] (the data's box), or repeated pushes grow them geometrically;
    each unit's pushes are scaled by its ``surround`` factor (``neighborhood.surround_scale``).

    Sigma holds for the whole epoch, so with ``keep_rows`` each unit's row of steps
    ``lr h`` is computed the first time the unit wins and kept, (m, m) float64 at most;
    without, every sample computes its winner's row. The weights are worked on
    transposed, (d, m), so that the winner search and the update both run along the
    units and vectorise; the winner is the arg-min of the rank values the BMU pass uses
    (squared sums, p-power sums: no root). Every unit moves on every sample, as in the
    reference: a step too small to matter still rounds as the reference's does. A
    sample with missing values (NaN) finds its winner over its observed features and
    moves only those.

    IN: X (n, d) float64, the samples; order (n,) int64, the order to visit them in;
    positions (m, 2) float64, period_x, period_y, toroidal: the grid (as in
    ``neighborhood_matrix``); sigma, learning_rate; neighborhood_code, cutoff (in sigmas,
    <= 0 for none); code, p: the metric; low, high (d,) float64, the data's box;
    keep_rows (bool); surround (m,) float64, the factor on each unit's negative steps
    (``neighborhood.surround_scale``). IN/OUT: W (m, d) float64.
    """
    m, d = W.shape
    squared_radius = (cutoff * sigma) ** 2 if cutoff > 0 else np.inf
    Wt = np.ascontiguousarray(W.T)
    ranks = np.empty((1, m))
    scratch = np.empty(m)
    rows = np.empty((m if keep_rows else 1, m))
    known = np.zeros(m, dtype=np.bool_)
    pushes = np.zeros(m, dtype=np.bool_)  # whether a row has negative steps
    for i in order:
        if _has_gaps(X[i]):
            winner = _masked_online_winner(X[i : i + 1], Wt, code, p, ranks, scratch)
        else:
            winner = _online_winner(X[i : i + 1], Wt, code, p, ranks, scratch)
        row = winner if keep_rows else 0
        steps = rows[row]
        if not (keep_rows and known[winner]):
            negative = False
            for j in range(m):
                squared = _squared_grid_distance(positions, winner, j, period_x, period_y, toroidal)
                steps[j] = learning_rate * _neighborhood_value(squared, sigma, neighborhood_code, squared_radius)
                negative |= steps[j] < 0.0
            known[winner] = True
            pushes[row] = negative
        for k in range(d):
            xk = X[i, k]
            if xk != xk:
                continue
            weights_k = Wt[k]
            if not pushes[row]:
                for j in range(m):
                    weights_k[j] += steps[j] * (xk - weights_k[j])
                continue
            lowest, highest = low[k], high[k]
            for j in range(m):
                if steps[j] < 0.0:
                    moved = weights_k[j] + steps[j] * surround[j] * (xk - weights_k[j])
                    weights_k[j] = lowest if moved < lowest else (highest if moved > highest else moved)
                else:
                    weights_k[j] += steps[j] * (xk - weights_k[j])
    W[:, :] = Wt.T


@nb.njit(cache=True, inline="always")
def _online_winner(x, Wt, code, p, ranks, scratch):
    """The unit nearest to one sample (the first of equal ones), by rank values.

    IN: x (1, d) float64; Wt (d, m) float64; code, p. Scratch: ranks (1, m), scratch (m,).
    """
    d, m = Wt.shape
    values = ranks[0]
    if code == MINKOWSKI:
        minkowski_block(x, Wt, p, ranks)
    elif code == COSINE:
        for j in range(m):
            values[j] = pair_distance(x[0], Wt[:, j], code, p)
    else:
        values[:] = 0.0
        for k in range(d):
            if code == MINKOWSKI_INTEGER:
                _accumulate_integer_power(int(p), values, scratch, x[0, k], Wt[k])
            else:
                _accumulate_distance(code, p, values, x[0, k], Wt[k])
    return _first_minimum(values)


@nb.njit(cache=True, inline="always")
def _masked_online_winner(x, Wt, code, p, ranks, scratch):
    """``_online_winner`` for a sample with missing values, over its observed features."""
    values = ranks[0]
    if code == MINKOWSKI:
        minkowski_block(x, Wt, p, ranks)
    elif code == COSINE:
        for j in range(Wt.shape[1]):
            values[j] = masked_pair_distance(x[0], Wt[:, j], code, p)
    else:
        _masked_rank_row(x[0], Wt, code, p, values, scratch, np.empty_like(scratch))
    return _first_minimum(values)


@nb.njit(cache=True, inline="always")
def _first_minimum(values):
    """``np.argmin`` of values >= 0 (the first of equal minima), without an allocation:
    the minimum over the values' bits (see ``_second_smallest``), then its first place.

    IN: values (m,) float32 or float64.
    """
    lowest = _bits_of(values[0])
    for j in range(values.shape[0]):
        lowest = min(lowest, _bits_of(values[j]))
    smallest = _float_of(lowest)
    for j in range(values.shape[0]):
        if values[j] == smallest:
            return j
    return 0


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


# ---------------------------------------------------------------------- neighbourhood ranks


@nb.njit(cache=True, inline="always")
def _k_nearest(row, own, k, out):
    """The ``k`` nearest samples of one row of distances (its own sample ``own`` left out),
    by distance, equal distances in index order, into ``out`` (k,) int64. Insertion into
    a sorted list: past the first few samples, one comparison each."""
    count = 0
    for j in range(row.shape[0]):
        if j == own:
            continue
        value = row[j]
        if count == k and value >= row[out[k - 1]]:
            continue
        position = min(count, k - 1)
        while position > 0 and row[out[position - 1]] > value:
            out[position] = out[position - 1]
            position -= 1
        out[position] = j
        count = min(count + 1, k)


@nb.njit(cache=True, inline="always")
def _rank(row, own, j):
    """The rank (1 = nearest) of sample ``j`` in one row of distances, its own sample left
    out, equal distances in index order."""
    value = row[j]
    rank = 1
    for other in range(row.shape[0]):
        if other != own and (row[other] < value or (row[other] == value and other < j)):
            rank += 1
    return rank


@nb.njit(cache=True, nogil=True)
def neighbourhood_penalties(inputs, outputs, start, k):
    """Venna and Kaski's penalties for a block of samples: the sum, over the samples among
    a sample's k nearest in the projection but not in the data, of their rank in the data
    less k (trustworthiness's), and the same with the two spaces swapped (neighbourhood
    preservation's).

    IN: inputs, outputs (rows, n) float64, the block's distances to every sample in the
    data and in the projection; start, the block's first sample; k.
    Returns (trustworthiness penalty, preservation penalty).
    """
    near_in = np.empty(k, dtype=np.int64)
    near_out = np.empty(k, dtype=np.int64)
    trust = 0.0
    preservation = 0.0
    for row in range(inputs.shape[0]):
        own = start + row
        _k_nearest(inputs[row], own, k, near_in)
        _k_nearest(outputs[row], own, k, near_out)
        for a in range(k):
            if not np.any(near_in == near_out[a]):
                trust += _rank(inputs[row], own, near_out[a]) - k
            if not np.any(near_out == near_in[a]):
                preservation += _rank(outputs[row], own, near_in[a]) - k
    return trust, preservation
