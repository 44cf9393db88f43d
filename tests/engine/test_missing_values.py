"""Missing values (NaN): masked distances, the batch and online updates, read-outs, errors.

A distance uses a sample's observed features only, sums rescaled by d / observed
(``masked_distance`` below writes that from the definition); the NumPy reference is
checked against it and against values worked out by hand, and the Numba path against
the reference on every metric, lattice and algorithm. Complete rows keep the path of
complete data, bit for bit.
"""

import math

import numpy as np
import pytest

from zsom_core import SOM, Grid, kernels, reference
from zsom_core.bmu import GEMM_MIN_FEATURES, BMUSearch, unit_distances
from zsom_core.init import INITS, fill_missing
from zsom_core.metrics import metric_code
from zsom_core.neighborhood import neighborhood_code, neighborhood_weights, surround_scale

from .helpers import LATTICE_IDS, LATTICES, METRICS, distance, fitted_som

PATHS = [
    pytest.param({}, id="numba-float32"),
    pytest.param({"dtype": "float64"}, id="numba-float64"),
    pytest.param({"use_numba": False}, id="reference"),
]
ALGORITHMS = ("batch", "online")


def masked_distance(x, w, metric: str, p: float = 2.0) -> float:
    """The textbook distance over the observed features of ``x``, sums rescaled by
    d / observed (a root's worth of it for euclidean and minkowski); chebyshev and cosine
    unscaled."""
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    seen = ~np.isnan(x)
    share = len(x) / seen.sum()
    plain = distance(x[seen], w[seen], metric, p)
    if metric == "euclidean":
        return plain * math.sqrt(share)
    if metric == "manhattan":
        return plain * share
    if metric == "minkowski":
        return plain * share ** (1.0 / p)
    return plain


def masked_matrix(X, W, metric: str, p: float = 2.0) -> np.ndarray:
    return np.array([[masked_distance(x, w, metric, p) for w in W] for x in X])


def with_gaps(X, share: float, rng, keep: int = 1) -> np.ndarray:
    """``X`` with ``share`` of its entries NaN at random, every row keeping at least
    ``keep`` observed features."""
    X = np.array(X, dtype=np.float64)
    gaps = rng.random(X.shape) < share
    for row in np.flatnonzero((~gaps).sum(axis=1) < keep):
        gaps[row, rng.choice(X.shape[1], keep, replace=False)] = False
    X[gaps] = np.nan
    return X


# ------------------------------------------------------------------ by hand

# d = 4 with feature 1 missing: 3 observed, sums scaled by 4 / 3. Unit 1 equals x where x
# is observed.
X_HAND = np.array([[1.0, np.nan, 2.0, 2.0]])
W_HAND = np.array([[[0.0, 5.0, 0.0, 1.0], [1.0, -3.0, 2.0, 2.0]]])
HAND = {
    # observed differences (1, 2, 1) to unit 0
    "euclidean": (2.0, [math.sqrt((1 + 4 + 1) * 4 / 3), 0.0]),
    "manhattan": (2.0, [(1 + 2 + 1) * 4 / 3, 0.0]),
    "chebyshev": (2.0, [2.0, 0.0]),
    "minkowski": (3.0, [((1 + 8 + 1) * 4 / 3) ** (1 / 3), 0.0]),
    # observed x = (1, 2, 2), |x| = 3; unit 0 there (0, 0, 1): cos = 2 / 3
    "cosine": (2.0, [1 - 2 / 3, 0.0]),
}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
def test_masked_distances_by_hand(metric, path):
    p, expected = HAND[metric]
    flat_w = W_HAND.reshape(-1, 4)
    np.testing.assert_allclose(masked_matrix(X_HAND, flat_w, metric, p), [expected], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(reference.pairwise_distances(X_HAND, flat_w, metric, p), [expected],
                               rtol=1e-12, atol=1e-15)
    som = fitted_som(W_HAND, metric=metric, p=p, **path)
    # transform's distances come in the map's dtype: float32 but for the float64 path
    tolerance = dict(rtol=1e-12, atol=1e-12) if path.get("dtype") == "float64" else dict(rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(som.transform(X_HAND), [expected], **tolerance)
    np.testing.assert_array_equal(som.bmus(X_HAND), [1])
    np.testing.assert_allclose(som.anomaly_scores(X_HAND), [0.0], atol=1e-6)


@pytest.mark.parametrize("path", PATHS)
def test_cosine_of_a_sample_whose_observed_part_is_zero_is_one(path):
    """As for a zero vector: 1 from every unit (as if orthogonal), not NaN."""
    X = np.array([[0.0, np.nan, 0.0, 0.0], [1.0, np.nan, 2.0, 2.0]])
    som = fitted_som(W_HAND, metric="cosine", **path)
    np.testing.assert_allclose(som.transform(X)[0], [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(som.anomaly_scores(X), [1.0, 0.0], atol=1e-6)


# A 2 x 1 map, unit 0 at the origin and unit 1 at (10, 10); the two are grid neighbours.
W_TOY = np.array([[[0.0, 0.0]], [[10.0, 10.0]]])
X_TOY = np.array([[1.0, 2.0], [9.0, np.nan], [np.nan, 1.0]])


@pytest.mark.parametrize("path", PATHS)
def test_toy_map_bmus_and_distances_by_hand(path):
    som = fitted_som(W_TOY, **path)
    # a = (1, 2): sqrt(1 + 4) to unit 0. b = (9, -): sqrt(81 * 2) or sqrt(1 * 2): unit 1.
    # c = (-, 1): sqrt(1 * 2) or sqrt(81 * 2): unit 0.
    np.testing.assert_array_equal(som.bmus(X_TOY), [0, 1, 0])
    np.testing.assert_allclose(som.anomaly_scores(X_TOY), [math.sqrt(5), math.sqrt(2), math.sqrt(2)], rtol=1e-6)
    np.testing.assert_allclose(som.transform(X_TOY), [[math.sqrt(5), math.sqrt(81 + 64)],
                                                      [math.sqrt(162), math.sqrt(2)],
                                                      [math.sqrt(2), math.sqrt(162)]], rtol=1e-6)
    assert som.quantization_error(X_TOY) == pytest.approx((math.sqrt(5) + 2 * math.sqrt(2)) / 3, rel=1e-6)
    assert som.score(X_TOY) == pytest.approx(-som.quantization_error(X_TOY))
    assert som.topographic_error(X_TOY) == 0.0
    np.testing.assert_array_equal(som.activation_map(X_TOY), [[2], [1]])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("kind, expected", [
    # unit 0 wins a = (1, 2) and c = (-, 1) (weights 0, 0); unit 1 wins b = (9, -) (weights 10, 10)
    ("mqe", [(math.sqrt(5) + math.sqrt(2)) / 2, math.sqrt(2)]),
    ("mae", [(1.5 + 1.0) / 2, 1.0]),                        # over each sample's observed features
    ("mse", [(2.5 + 1.0) / 2, 1.0]),
    ("rmse", [math.sqrt(1.75), 1.0]),
    ("mape", [100.0, 100.0 / 9]),                           # |1|/1, |2|/2, |1|/1; then |9 - 10|/9
])
def test_toy_map_unit_errors_by_hand(path, kind, expected):
    got = fitted_som(W_TOY, **path).unit_errors(X_TOY, kind)
    np.testing.assert_allclose(got, np.reshape(expected, (2, 1)), rtol=1e-6)


@pytest.fixture
def toy_start(monkeypatch):
    """``init="random"`` starts from ``W_TOY``, so that one epoch can be worked out by hand."""
    monkeypatch.setitem(INITS, "random", lambda data, grid, rng: W_TOY.reshape(2, 2).copy())


@pytest.mark.parametrize("path", PATHS)
def test_toy_batch_step_by_hand_keeps_a_weight_no_sample_observes(toy_start, path):
    """A bubble cut off at half a grid step (sigma 1, its floor; cutoff 0.5 sigmas): each
    unit averages only the samples it wins, feature by feature over those that have it.
    Unit 1 wins only b, whose feature 1 is missing: that weight stays 10 (no target), and
    is not pulled to 0."""
    som = SOM(2, 1, init="random", neighborhood="bubble", sigma=1.0, cutoff=0.5, learning_rate=0.5, **path)
    som.fit(X_TOY, epochs=1)
    # targets: unit 0 (1, (2 + 1) / 2), unit 1 (9, none); half the way from W_TOY
    np.testing.assert_allclose(som.weights_, [[[0.5, 0.75]], [[9.5, 10.0]]], rtol=1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_toy_batch_step_by_hand_with_a_gaussian(toy_start, path):
    """h = exp(-1/2) between the two units (sigma 1), learning rate 1: each target is the
    h-weighted mean of the values observed for that feature."""
    som = SOM(2, 1, init="random", neighborhood="gaussian", sigma=1.0, learning_rate=1.0, **path)
    som.fit(X_TOY, epochs=1)
    h = math.exp(-0.5)
    expected = [[[(1 + 9 * h) / (1 + h), (2 + 1) / 2]],        # unit 0: a, c at 1; b at h
                [[(h * 1 + 9) / (h + 1), (2 * h + 1 * h) / (2 * h)]]]
    np.testing.assert_allclose(som.weights_, expected, rtol=1e-12)
    # the same step in the reference's own terms
    step = reference.batch_step(X_TOY, W_TOY.reshape(2, 2), np.array([0, 1, 0]),
                                neighborhood_weights(Grid(2, 1).distances, 1.0), 1.0)
    np.testing.assert_allclose(step, np.reshape(expected, (2, 2)), rtol=1e-12)


def test_zero_filling_would_pull_a_weight_towards_zero_where_masking_does_not():
    """What the known counts are for: a mean over all three samples with the gap as 0."""
    h = neighborhood_weights(Grid(2, 1).distances, 0.5, "bubble")
    masked = reference.batch_step(X_TOY, W_TOY.reshape(2, 2), np.array([0, 1, 0]), h, 1.0)
    zero_filled = reference.batch_step(np.nan_to_num(X_TOY), W_TOY.reshape(2, 2), np.array([0, 1, 0]), h, 1.0)
    assert masked[0, 0] == 1.0 and zero_filled[0, 0] == 0.5


# ------------------------------------------------------------------ Numba against the reference


def _cases():
    cases = []
    for metric in METRICS:
        for d in (5, GEMM_MIN_FEATURES + 2) if metric in ("euclidean", "cosine") else (5,):
            for (topology, toroidal), lattice in zip(LATTICES, LATTICE_IDS):
                for algorithm in ALGORITHMS:
                    cases.append(pytest.param(metric, d, topology, toroidal, algorithm,
                                              id=f"{metric}-d{d}-{lattice}-{algorithm}"))
    return cases


def _gapped(d, seed=0, n=60, share=0.2):
    """Samples with a fifth of their entries missing; three observed features at least,
    so that cosine over what is left is no exact tie between many units."""
    rng = np.random.default_rng(seed)
    return with_gaps(rng.normal(size=(n, d)), share, rng, keep=3)


def assert_same_maps(fast, slow, X, *, weights_rtol=1e-5, weights_atol=1e-9, rtol=1e-7):
    """Two trained maps agree: weights, histories, and every read-out on data with gaps."""
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=weights_rtol, atol=weights_atol)
    np.testing.assert_allclose(fast.mqe_history_, slow.mqe_history_, rtol=rtol)
    np.testing.assert_allclose(fast.te_history_, slow.te_history_, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fast.bmus(X), slow.bmus(X))
    assert fast.topographic_error(X) == pytest.approx(slow.topographic_error(X), abs=1e-12)
    np.testing.assert_array_equal(fast.activation_map(X), slow.activation_map(X))
    np.testing.assert_allclose(fast.anomaly_scores(X), slow.anomaly_scores(X), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(fast.u_matrix(), slow.u_matrix(), rtol=rtol)
    np.testing.assert_allclose(fast.transform(X), reference.pairwise_distances(X, fast._flat_weights(), fast.metric,
                                                                               fast.p), rtol=1e-9, atol=1e-12)
    for kind in ("mae", "mse", "mape"):
        np.testing.assert_allclose(fast.unit_errors(X, kind), slow.unit_errors(X, kind), rtol=rtol)


@pytest.mark.parametrize("metric, d, topology, toroidal, algorithm", _cases())
def test_numba_float64_matches_reference_with_gaps(metric, d, topology, toroidal, algorithm):
    X = _gapped(d)
    params = dict(topology=topology, toroidal=toroidal, metric=metric, p=3.0, algorithm=algorithm, init="random",
                  seed=1, sigma=2.0)
    fast = SOM(3, 4, dtype="float64", **params).fit(X, epochs=4)
    slow = SOM(3, 4, use_numba=False, **params).fit(X, epochs=4)
    assert np.isfinite(slow.weights_).all()
    assert_same_maps(fast, slow, X)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("neighborhood", ["mexican_hat", "triangle"])
def test_numba_float64_matches_reference_with_gaps_and_other_neighborhoods(neighborhood, metric, algorithm):
    """The mexican hat's surround is scaled per (unit, feature) in the batch step, per
    unit in the online one; the triangle's cut-off leaves units with no neighbour's
    observed value for a feature, which keep that weight."""
    X = _gapped(5, seed=2, n=80)
    params = dict(topology="hex", metric=metric, p=3.0, neighborhood=neighborhood, algorithm=algorithm,
                  init="pca", seed=0, sigma=1.5)
    fast = SOM(5, 4, dtype="float64", **params).fit(X, epochs=4)
    slow = SOM(5, 4, use_numba=False, **params).fit(X, epochs=4)
    assert_same_maps(fast, slow, X)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("p", [1.5, 0.5, 3.0, 2.0, 1.0])
def test_numba_float64_minkowski_matches_reference_with_gaps(p, algorithm):
    """Whole p by products, other p by ``minkowski_block`` (which skips NaN itself); 1 and 2
    as manhattan and euclidean."""
    X = _gapped(4, seed=3, n=150, share=0.25)
    params = dict(topology="hex", metric="minkowski", p=p, algorithm=algorithm, init="random", seed=2, sigma=2.5)
    fast = SOM(5, 6, dtype="float64", **params).fit(X, epochs=4)
    slow = SOM(5, 6, use_numba=False, **params).fit(X, epochs=4)
    assert_same_maps(fast, slow, X, weights_rtol=1e-9, weights_atol=1e-12, rtol=1e-9)


@pytest.mark.parametrize("metric", METRICS)
def test_online_epoch_kernel_matches_reference_with_gaps(metric):
    """The online kernel on samples with gaps, with and without kept rows of steps: each
    sample's winner over its observed features, and only those features move."""
    rng = np.random.default_rng(4)
    grid = Grid(7, 6, "hex", toroidal=True)
    X = with_gaps(rng.normal(size=(300, 4)), 0.3, rng, keep=2)
    W0 = rng.normal(size=(grid.n_units, 4))
    order = rng.permutation(len(X))
    expected = reference.online_epoch(X, W0, order, grid.distances, 1.5, 0.3, "mexican_hat", None, metric, 3.0)
    full = neighborhood_weights(grid.distances, 1.5, "mexican_hat")
    counts = np.bincount(reference.best_two_units(X, W0, metric, 3.0)[0], minlength=grid.n_units).astype(np.float64)
    scale = surround_scale(np.maximum(full, 0.0) @ counts, np.maximum(-full, 0.0) @ counts)
    runs = []
    for keep_rows in (True, False):
        W = W0.copy()
        kernels.online_epoch(X, W, order, grid.positions, *grid.period, grid.toroidal, 1.5, 0.3,
                             neighborhood_code("mexican_hat"), 0.0, metric_code(metric, 3.0), 3.0,
                             np.nanmin(X, axis=0), np.nanmax(X, axis=0), keep_rows, scale)
        runs.append(W)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0], expected, rtol=1e-10, atol=1e-12)


def test_online_step_moves_only_the_observed_features():
    grid = Grid(2, 1)
    X = np.array([[2.0, np.nan], [np.nan, -1.0]])
    start = np.random.default_rng(0).random((2, 2))
    weights = start.copy()
    # the first sample alone, a bubble of radius 0.5: only its winner moves, by half the way
    kernels.online_epoch(X, weights, np.array([0]), grid.positions, *grid.period, False, 0.5, 0.5,
                         neighborhood_code("bubble"), 0.0, metric_code("euclidean"), 2.0,
                         np.nanmin(X, axis=0), np.nanmax(X, axis=0), True, np.ones(2))
    winner = int(np.argmin(np.abs(start[:, 0] - 2.0)))
    expected = start.copy()
    expected[winner, 0] += 0.5 * (2.0 - start[winner, 0])
    np.testing.assert_array_equal(weights, expected)


# ------------------------------------------------------------------ float32 against brute force


def _float32_cases():
    cases = []
    for metric, d in [(m, 5) for m in METRICS] + [("euclidean", 16), ("cosine", 16)]:
        for offset in (0.0,) if metric == "cosine" else (0.0, 1e4):
            cases.append(pytest.param(metric, d, offset, id=f"{metric}-d{d}-offset{offset:g}"))
    return cases


@pytest.mark.parametrize("metric, d, offset", _float32_cases())
def test_float32_bmus_with_gaps_match_brute_force(metric, d, offset, seed):
    """The masked search in float32 (direct kernels, and for 16 features the BLAS product
    corrected by each row's gaps) finds best units up to float32's rounding, far from the
    origin too, and reports their distances."""
    rng = np.random.default_rng(seed)
    X = with_gaps(rng.normal(size=(1500, d)) + offset, 0.15, rng, keep=2)
    W = np.nan_to_num(X[rng.choice(len(X), 40, replace=False)], nan=offset) + 0.3 * rng.normal(size=(40, d))
    search = BMUSearch(X, Grid(5, 8), metric, 3.0, "float32", True)
    assert search.use_gemm == (d >= GEMM_MIN_FEATURES and metric in ("euclidean", "cosine"))
    found = search.run(W)
    D = masked_matrix(X, W, metric, 3.0)
    rows = np.arange(len(X))
    best = D.min(axis=1)
    gap = D[rows, found.first] - best
    assert np.all(gap <= 1e-4 * (1.0 + best)), np.max(gap)
    assert np.mean(found.first == np.argmin(D, axis=1)) > 0.998
    np.testing.assert_allclose(found.distance, D[rows, found.first], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_path_with_gaps_over_many_blocks(metric, dtype):
    """Rows with gaps over several blocks (the last partial), some rows complete: the
    two searches' results join in the rows' order, sums and known counts add up."""
    rng = np.random.default_rng(4)
    d = GEMM_MIN_FEATURES + 3
    X = with_gaps(rng.normal(size=(8001, d)) + (1e4 if metric == "euclidean" else 0.0), 0.03, rng)
    assert 0.3 < np.isnan(X).any(axis=1).mean() < 0.7
    W = (np.nan_to_num(X[rng.choice(len(X), 100, replace=False)], nan=1e4 if metric == "euclidean" else 0.0)
         + 0.3 * rng.normal(size=(100, d)))
    search = BMUSearch(X, Grid(10, 10), metric, 2.0, dtype, True)
    assert search.use_gemm
    found = search.run(W)
    D = reference.pairwise_distances(X, W, metric)
    rows = np.arange(len(X))
    assert np.mean(found.first == np.argmin(D, axis=1)) > 0.999
    np.testing.assert_allclose(found.distance, D[rows, found.first], rtol=1e-4 if dtype == "float32" else 1e-9,
                               atol=1e-5)
    observed = ~np.isnan(X)
    known = np.zeros((100, d))
    np.add.at(known, found.first, observed.astype(np.float64))
    np.testing.assert_array_equal(found.known, known)
    sums = np.zeros((100, d))
    np.add.at(sums, found.first, np.nan_to_num(X))
    np.testing.assert_allclose(found.sums, sums, rtol=1e-12)
    np.testing.assert_array_equal(found.counts, np.bincount(found.first, minlength=100))


# ------------------------------------------------------------------ complete rows keep their path


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("d", [3, GEMM_MIN_FEATURES + 1], ids=["direct", "blas"])
def test_complete_rows_among_rows_with_gaps_keep_the_complete_path(metric, d):
    """Data with gaps is split: its complete rows get exactly what they get without the
    others, in the search and in ``transform``; complete data is not split at all."""
    rng = np.random.default_rng(5)
    X = with_gaps(rng.normal(size=(400, d)), 0.1, rng, keep=2)
    complete = ~np.isnan(X).any(axis=1)
    assert 0.1 < complete.mean() < 0.9
    W = rng.normal(size=(12, d))
    grid = Grid(3, 4)
    mixed = BMUSearch(X, grid, metric, 3.0, "float32", True)
    assert [type(part).__name__ for _, part in mixed.parts] == ["RowSearch", "RowSearch"]
    assert [part.masked for _, part in mixed.parts] == [False, True]
    alone = BMUSearch(np.ascontiguousarray(X[complete]), grid, metric, 3.0, "float32", True)
    assert len(alone.parts) == 1 and alone.parts[0][0] is None and not alone.parts[0][1].masked
    together, by_themselves = mixed.run(W), alone.run(W)
    assert by_themselves.known is None and together.known is not None
    np.testing.assert_array_equal(together.first[complete], by_themselves.first)
    np.testing.assert_array_equal(together.distance[complete], by_themselves.distance)
    np.testing.assert_array_equal(unit_distances(X, W, metric, 3.0, "float32", True)[complete],
                                  unit_distances(X[complete], W, metric, 3.0, "float32", True))


@pytest.mark.parametrize("metric", METRICS)
def test_masked_kernels_give_complete_rows_the_complete_kernels_values(metric):
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    Wt = rng.normal(size=(4, 9)).astype(np.float32)
    code = metric_code(metric, 3.0)
    for plain, masked in ((kernels.distance_block, kernels.masked_distance_block),
                          (kernels.unit_distance_block, kernels.masked_unit_distance_block)):
        expected, got = np.empty((50, 9), np.float32), np.empty((50, 9), np.float32)
        plain(X, Wt, code, 3.0, expected)
        masked(X, Wt, code, 3.0, got)
        np.testing.assert_array_equal(got, expected)


def test_a_gap_in_one_row_changes_nothing_of_the_other_rows_search():
    """The split at work: one row with a gap leaves the search of all the others exactly
    as it is without that row."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3))
    W = rng.normal(size=(20, 3))
    gapped = X.copy()
    gapped[10, 1] = np.nan
    grid = Grid(4, 5)
    complete_rows = np.arange(300) != 10
    full = BMUSearch(np.ascontiguousarray(X[complete_rows]), grid, "euclidean", 2.0, "float32", True).run(W)
    split = BMUSearch(gapped, grid, "euclidean", 2.0, "float32", True).run(W)
    np.testing.assert_array_equal(split.first[complete_rows], full.first)
    np.testing.assert_array_equal(split.distance[complete_rows], full.distance)


# ------------------------------------------------------------------ what training learns


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("path", PATHS)
def test_a_feature_with_gaps_is_not_pulled_towards_zero(path, algorithm):
    """Feature 2 is observed in half the rows only, always near 10: the map learns 10
    there, where gaps taken as 0 would drag it to about 5."""
    rng = np.random.default_rng(3)
    n = 400 if path.get("use_numba") is False and algorithm == "online" else 2000
    X = np.column_stack([rng.normal(size=n), rng.normal(size=n), rng.normal(10.0, 0.5, size=n)])
    X[rng.random(n) < 0.5, 2] = np.nan
    for init in ("pca", "random"):
        som = SOM(6, 6, algorithm=algorithm, init=init, seed=0, **path).fit(X, epochs=6)
        learned = som.weights_[..., 2]
        assert np.all((learned > 8.0) & (learned < 12.0)), (learned.min(), learned.max())
        assert abs(learned.mean() - 10.0) < 0.5
        assert np.isfinite(som.weights_).all()


@pytest.mark.parametrize("init", ["pca", "random"])
def test_initialisation_sees_a_gap_as_its_features_observed_mean(init):
    rng = np.random.default_rng(8)
    X = with_gaps(rng.normal(size=(200, 4)) * [1.0, 2.0, 3.0, 4.0], 0.2, rng)
    filled = fill_missing(X)
    assert not np.isnan(filled).any()
    gaps = np.isnan(X)
    np.testing.assert_allclose(filled[gaps], np.broadcast_to(np.nanmean(X, axis=0), X.shape)[gaps], rtol=1e-12)
    complete = rng.normal(size=(20, 4))
    assert fill_missing(complete) is complete
    weights = INITS[init](filled, Grid(4, 4), np.random.default_rng(0))
    assert np.isfinite(weights).all()


@pytest.mark.parametrize("d", [3, GEMM_MIN_FEATURES], ids=["direct", "blas"])
def test_results_with_gaps_do_not_depend_on_the_thread_count(d, monkeypatch):
    rng = np.random.default_rng(9)
    X = with_gaps(rng.normal(size=(20000, d)), 0.1, rng)
    runs = {}
    for threads in ("1", "2", "5"):
        monkeypatch.setenv("ZSOM_NUM_THREADS", threads)
        som = SOM(6, 6, init="random", seed=0).fit(X, epochs=3)
        runs[threads] = (som.weights_.copy(), list(som.mqe_history_), som.bmus(X))
    for threads in ("2", "5"):
        np.testing.assert_array_equal(runs[threads][0], runs["1"][0])
        assert runs[threads][1] == runs["1"][1]
        np.testing.assert_array_equal(runs[threads][2], runs["1"][2])


@pytest.mark.parametrize("path", PATHS)
def test_read_outs_on_rows_with_gaps_match_brute_force(path):
    """predict, score, topographic error, hits and transform of a trained map on samples
    with gaps, from the masked distances and the grid's adjacency."""
    rng = np.random.default_rng(11)
    X = with_gaps(rng.normal(size=(300, 4)), 0.25, rng, keep=2)
    weights = rng.normal(size=(4, 5, 4))
    som = fitted_som(weights, **path)
    D = masked_matrix(X, weights.reshape(-1, 4), "euclidean")
    order = np.argsort(D, axis=1, kind="stable")
    rtol = 1e-5 if not path else 1e-9
    np.testing.assert_array_equal(som.predict(X), order[:, 0])
    assert som.score(X) == pytest.approx(-D.min(axis=1).mean(), rel=rtol)
    expected_te = np.mean(~som.grid.adjacency[order[:, 0], order[:, 1]])
    assert som.topographic_error(X) == pytest.approx(expected_te, abs=1e-12)
    np.testing.assert_array_equal(som.activation_map(X).ravel(), np.bincount(order[:, 0], minlength=20))
    np.testing.assert_allclose(som.transform(X), D, rtol=max(rtol, 1e-6), atol=1e-6)


# ------------------------------------------------------------------ what is refused


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_fit_rejects_rows_with_no_observed_value_and_counts_them(algorithm):
    X = np.random.default_rng(0).normal(size=(30, 3))
    X[[3, 8], :] = np.nan
    X[5, 1] = np.nan  # a gap, no error
    with pytest.raises(ValueError, match=r"X has 2 row\(s\) with no observed value, all NaN \(first at row 3\); "
                                         r"drop them"):
        SOM(3, 4, algorithm=algorithm).fit(X)


def test_fit_rejects_a_feature_never_observed():
    X = np.random.default_rng(0).normal(size=(30, 4))
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match=r"X has 1 feature with no observed value, all NaN \(column 2\)"):
        SOM(3, 4).fit(X)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_values_are_still_refused_beside_missing_ones(bad):
    X = np.random.default_rng(0).normal(size=(30, 3))
    X[4, 0] = np.nan
    X[6, 2] = bad
    with pytest.raises(ValueError, match=r"X has 1 row\(s\) with infinite values \(first at row 6\)"):
        SOM(3, 4).fit(X)
    trained = SOM(3, 4, seed=0).fit(np.nan_to_num(X, posinf=0.0, neginf=0.0), epochs=2)
    for method in ("predict", "transform", "score", "quantization_error", "unit_errors"):
        with pytest.raises(ValueError, match=r"infinite values"):
            getattr(trained, method)(X)
