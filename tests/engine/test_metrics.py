"""Distance metrics: hand-computed values, the NumPy reference, and the Numba kernels."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zsom_core import Grid, kernels, reference
from zsom_core.bmu import BMUSearch
from zsom_core.metrics import (
    EUCLIDEAN,
    MANHATTAN,
    MAX_INTEGER_POWER,
    METRICS,
    MINKOWSKI,
    MINKOWSKI_INTEGER,
    metric_code,
)

from .helpers import METRICS as METRIC_NAMES
from .helpers import bmu_gap_tolerance, check_bmus, distance_matrix

X_HAND = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 2.0]])
W_HAND = np.array([[3.0, 4.0], [1.0, 1.0]])


@pytest.mark.parametrize(
    "metric, p, expected",
    [
        ("euclidean", 2.0, [[5.0, math.sqrt(2)], [math.sqrt(13), 0.0], [math.sqrt(20), math.sqrt(5)]]),
        ("manhattan", 2.0, [[7.0, 2.0], [5.0, 0.0], [6.0, 3.0]]),
        ("chebyshev", 2.0, [[4.0, 1.0], [3.0, 0.0], [4.0, 2.0]]),
        ("minkowski", 3.0, [[91 ** (1 / 3), 2 ** (1 / 3)], [35 ** (1 / 3), 0.0], [72 ** (1 / 3), 9 ** (1 / 3)]]),
        ("minkowski", 0.5, [[(math.sqrt(3) + 2) ** 2, 4.0], [(math.sqrt(2) + math.sqrt(3)) ** 2, 0.0],
                            [(2 + math.sqrt(2)) ** 2, (math.sqrt(2) + 1) ** 2]]),
        # zero vector: distance 1 from everything (as if orthogonal), not NaN
        ("cosine", 2.0, [[1.0, 1.0], [1 - 7 / (5 * math.sqrt(2)), 0.0],
                         [1 - 5 / (5 * math.sqrt(5)), 1 - 1 / math.sqrt(10)]]),
    ],
)
def test_reference_pairwise_distances_by_hand(metric, p, expected):
    got = reference.pairwise_distances(X_HAND, W_HAND, metric, p)
    assert got.shape == (3, 2) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_cosine_special_cases():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    W = np.array([[0.0, 2.0], [2.0, 0.0], [-3.0, 0.0], [0.0, 0.0]])
    D = reference.pairwise_distances(X, W, "cosine")
    np.testing.assert_allclose(np.diag(D), [1.0, 0.0, 2.0, 1.0], atol=1e-15)
    assert np.isfinite(D).all()


@pytest.mark.parametrize("p, same_as", [(1.0, "manhattan"), (2.0, "euclidean")])
def test_minkowski_special_cases_agree(p, same_as):
    """The reference keeps minkowski's own formula, which the kernels' shortcut must match."""
    rng = np.random.default_rng(3)
    X, W = rng.normal(size=(20, 5)), rng.normal(size=(7, 5))
    np.testing.assert_allclose(reference.pairwise_distances(X, W, "minkowski", p),
                               reference.pairwise_distances(X, W, same_as), rtol=1e-12)
    assert metric_code("minkowski", p) == metric_code(same_as)


@pytest.mark.parametrize("p, code", [(1.0, MANHATTAN), (2, EUCLIDEAN), (3.0, MINKOWSKI_INTEGER),
                                     (MAX_INTEGER_POWER, MINKOWSKI_INTEGER), (MAX_INTEGER_POWER + 1, MINKOWSKI),
                                     (1.5, MINKOWSKI), (0.5, MINKOWSKI), (2.000001, MINKOWSKI)])
def test_metric_code_picks_the_cheapest_minkowski_form(p, code):
    assert metric_code("minkowski", p) == code


@pytest.mark.parametrize("p", [0.1, 0.5, 1.5, 2.5, 3.7, 7.25])
def test_float32_power_is_pow_to_one_unit_in_the_last_place(p):
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.uniform(0, 10, 20000), 10.0 ** rng.uniform(-45, 38.5, 20000),
                        [0.0, 1.0, 2.0, 1e-45, 3.4e38]]).astype(np.float32)
    got = np.array([kernels._float32_power(value, p) for value in a], dtype=np.float32)
    with np.errstate(over="ignore"):
        expected = (a.astype(np.float64) ** p).astype(np.float32)  # float32's correctly rounded pow
    assert np.array_equal(got == 0, expected == 0) and np.array_equal(np.isinf(got), np.isinf(expected))
    normal = np.isfinite(expected) & (expected >= np.finfo(np.float32).tiny)
    ulps = np.abs(got[normal].astype(np.float64) - expected[normal]) / np.spacing(expected[normal])
    assert ulps.max() <= 1.0


@pytest.mark.parametrize("metric", METRIC_NAMES)
def test_reference_matches_textbook_formula(metric):
    rng = np.random.default_rng(4)
    X, W = rng.normal(size=(15, 4)), rng.normal(size=(6, 4))
    X[0] = 0.0  # a zero vector under every metric
    np.testing.assert_allclose(reference.pairwise_distances(X, W, metric, 3.0),
                               distance_matrix(X, W, metric, 3.0), rtol=1e-12, atol=1e-14)


def test_reference_best_two_units_breaks_ties_to_lower_index():
    W = np.array([[1.0], [-1.0], [1.0], [3.0]])
    first, second, dist = reference.best_two_units(np.array([[0.0], [1.0]]), W)
    np.testing.assert_array_equal(first, [0, 0])
    np.testing.assert_array_equal(second, [1, 2])
    np.testing.assert_array_equal(dist, [1.0, 0.0])


def test_metric_registry():
    assert list(METRICS) == ["euclidean", "manhattan", "chebyshev", "cosine", "minkowski"]
    assert len(set(METRICS.values())) == len(METRICS)


@pytest.mark.parametrize("p", [0.0, -1.0, float("nan")])
def test_minkowski_p_must_be_positive(p):
    with pytest.raises(ValueError, match=r"minkowski parameter p must be > 0"):
        metric_code("minkowski", p)


def test_unknown_metric_lists_valid_ones():
    names = "euclidean, manhattan, chebyshev, cosine, minkowski"
    with pytest.raises(ValueError, match=rf"unknown metric 'hamming'.*{names}"):
        metric_code("hamming")


# ---------------------------------------------------------------- Numba kernels, Hypothesis

# Tiny magnitudes are snapped to zero: squaring them would underflow and is not what the
# kernels are about; zero itself stays in, for zero vectors under cosine.
coordinates = st.floats(-100, 100, allow_nan=False, allow_infinity=False).map(
    lambda v: 0.0 if abs(v) < 1e-6 else v)
p_values = st.floats(0.5, 6.0)


@st.composite
def samples_and_units(draw):
    d = draw(st.integers(1, 14))  # the BLAS path starts at bmu.GEMM_MIN_FEATURES = 12
    n = draw(st.integers(1, 8))
    m = draw(st.integers(2, 40))
    X = draw(hnp.arrays(np.float64, (n, d), elements=coordinates))
    W = draw(hnp.arrays(np.float64, (m, d), elements=coordinates))
    return X, W


@pytest.mark.parametrize("metric", METRIC_NAMES)
@settings(max_examples=60, deadline=None)
@given(data=samples_and_units(), p=p_values)
def test_numba_bmu_search_matches_reference(metric, data, p):
    """The float64 Numba BMU pass (direct kernel or BLAS) against ``reference.best_two_units``."""
    X, W = data
    grid = Grid(1, len(W))
    found = BMUSearch(X, grid, metric, p, "float64", True).run(W)
    ref_first, _, ref_dist = reference.best_two_units(X, W, metric, p)
    D = reference.pairwise_distances(X, W, metric, p)
    rows = np.arange(len(X))

    assert found.first.dtype.kind == "i"
    # The distance reported is the distance to the unit picked ...
    np.testing.assert_allclose(found.distance, D[rows, found.first], rtol=1e-9, atol=1e-10)
    # ... which is the best one, or ties with it to float64 rounding.
    check_bmus(found.first, X, W, metric, p, np.float64)
    same = found.first == ref_first
    np.testing.assert_allclose(found.distance[same], ref_dist[same], rtol=1e-9, atol=1e-10)
    # The runner-up, seen through the topographic error, is the best of the other units to
    # rounding: a sample may count as an error only if one of the units tied for second
    # place is not the winner's grid neighbour, and must count if none of them is.
    others = D.copy()
    others[rows, found.first] = np.inf
    runner_up = others.min(axis=1)
    tied_second = others - runner_up[:, None] <= bmu_gap_tolerance(X, W, metric, np.float64, runner_up)[:, None]
    neighbour = grid.adjacency[found.first]
    may_count = (tied_second & ~neighbour).any(axis=1)
    must_count = ~(tied_second & neighbour).any(axis=1)
    assert must_count.sum() <= round(found.topographic_error * len(X)) <= may_count.sum()


@pytest.mark.parametrize("metric", METRIC_NAMES)
@settings(max_examples=80, deadline=None)
@given(
    pair=st.integers(1, 10).flatmap(lambda d: st.tuples(hnp.arrays(np.float64, d, elements=coordinates),
                                                         hnp.arrays(np.float64, d, elements=coordinates))),
    p=p_values,
)
def test_kernel_pair_distance_matches_reference(metric, pair, p):
    a, b = pair
    got = kernels.pair_distance(a, b, metric_code(metric, p), p)
    expected = reference.pairwise_distances(a[None], b[None], metric, p)[0, 0]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert got >= 0.0


def _rank_to_distance(rank, metric, p):
    """Undo the final step the rank values leave out (see ``kernels.distance_block``)."""
    if metric == "euclidean":
        return np.sqrt(np.maximum(rank, 0.0))
    if metric == "minkowski":
        return rank ** (1.0 / p)
    if metric == "cosine":
        return np.maximum(rank, 0.0)
    return rank


@pytest.mark.parametrize("metric", METRIC_NAMES)
@settings(max_examples=60, deadline=None)
@given(data=samples_and_units(), p=p_values)
def test_kernel_distance_block_ranks_like_the_reference(metric, data, p):
    X, W = data
    Xk, Wk = (_unit_rows(X), _unit_rows(W)) if metric == "cosine" else (X, W)
    out = np.full((len(X), len(W)), np.nan)
    code = metric_code(metric, p)
    kernels.distance_block(np.ascontiguousarray(Xk), np.ascontiguousarray(Wk.T), code, p, out)
    expected = reference.pairwise_distances(X, W, metric, p)
    kept = np.isfinite(out)
    # atol: a square root near zero turns 1e-14 of rounding in a squared sum into 1e-7
    np.testing.assert_allclose(_rank_to_distance(out[kept], metric, p), expected[kept], rtol=1e-9, atol=1e-7)
    if code != MINKOWSKI:
        assert kept.all()
    _check_left_out_units(kept, expected)


def _check_left_out_units(kept, expected):
    """Units left out (+inf) are no better than the second best: the best two are kept."""
    second = np.sort(expected, axis=1)[:, min(1, expected.shape[1] - 1)]
    rows, units = np.nonzero(~kept)
    assert np.all(expected[rows, units] >= second[rows] * (1 - 1e-9))
    assert np.all(kept.sum(axis=1) >= min(2, expected.shape[1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.5, 1.5, 2.5, 4.75])
def test_minkowski_block_leaves_out_only_units_that_cannot_be_among_the_best_two(p, dtype):
    """On a map spread through its data most units are left out, and never one of the best two."""
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, size=(300, 3))
    W = rng.uniform(-1, 1, size=(400, 3))
    out = np.full((len(X), len(W)), np.nan, dtype=dtype)
    kernels.minkowski_block(X.astype(dtype), np.ascontiguousarray(W.T, dtype=dtype), p, out)
    expected = reference.pairwise_distances(X, W, "minkowski", p)
    kept = np.isfinite(out)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out[kept] ** (1 / p), expected[kept], rtol=rtol)
    _check_left_out_units(kept, expected)
    assert kept.mean() < 0.5


def _unit_rows(A):
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norms, out=np.zeros_like(A), where=norms > 0)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(st.sampled_from([np.float32, np.float64]), st.integers(1, 70),
                  elements=st.sampled_from([0.0, 1.0, 2.0, -3.5, 7.25, np.inf])))
def test_row_argmin_is_numpys_argmin_first_of_equal_minima(row):
    assert kernels.row_argmin(row) == np.argmin(row)
