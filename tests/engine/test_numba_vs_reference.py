"""The Numba path agrees with the NumPy reference; the float32 path with a brute-force search."""

import numpy as np
import pytest

from zsom_core import SOM, Grid, kernels, reference
from zsom_core.bmu import GEMM_MIN_FEATURES, BMUSearch
from zsom_core.metrics import metric_code
from zsom_core.neighborhood import neighborhood_code, neighborhood_weights, surround_scale

from .helpers import LATTICE_IDS, LATTICES, METRICS, NEIGHBORHOODS, check_bmus, distance_matrix

ALGORITHMS = ("batch", "online")


def _data(d, seed=0, n=40):
    return np.random.default_rng(seed).normal(size=(n, d))


def _cases():
    """metric x lattice x neighbourhood x algorithm, plus the BLAS path for euclidean and cosine."""
    cases = []
    for metric in METRICS:
        dims = (3, GEMM_MIN_FEATURES) if metric in ("euclidean", "cosine") else (3,)
        for d in dims:
            for (topology, toroidal), lattice in zip(LATTICES, LATTICE_IDS):
                for neighborhood in NEIGHBORHOODS:
                    for algorithm in ALGORITHMS:
                        cases.append(pytest.param(
                            metric, d, topology, toroidal, neighborhood, algorithm,
                            id=f"{metric}-d{d}-{lattice}-{neighborhood}-{algorithm}"))
    return cases


def assert_same_maps(fast, slow, X, *, weights_rtol, weights_atol, rtol):
    """Two trained maps agree: weights, BMUs, histories, U-Matrix and anomaly scores."""
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=weights_rtol, atol=weights_atol)
    np.testing.assert_array_equal(fast.bmus(X), slow.bmus(X))
    np.testing.assert_allclose(fast.mqe_history_, slow.mqe_history_, rtol=rtol)
    np.testing.assert_allclose(fast.te_history_, slow.te_history_, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.u_matrix(), slow.u_matrix(), rtol=rtol)
    np.testing.assert_allclose(fast.anomaly_scores(X), slow.anomaly_scores(X), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("metric, d, topology, toroidal, neighborhood, algorithm", _cases())
def test_numba_float64_matches_reference(metric, d, topology, toroidal, neighborhood, algorithm):
    X = _data(d)
    params = dict(topology=topology, toroidal=toroidal, metric=metric, p=3.0, neighborhood=neighborhood,
                  algorithm=algorithm, init="random", seed=1, sigma=2.0)
    fast = SOM(3, 4, use_numba=True, dtype="float64", **params).fit(X, epochs=4)
    slow = SOM(3, 4, use_numba=False, **params).fit(X, epochs=4)
    assert np.isfinite(slow.weights_).all()
    assert_same_maps(fast, slow, X, weights_rtol=1e-5, weights_atol=1e-9, rtol=1e-7)


@pytest.mark.parametrize("cutoff", [1.0, 2.5])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("neighborhood", NEIGHBORHOODS)
def test_numba_float64_matches_reference_with_cutoff(neighborhood, algorithm, cutoff):
    X = _data(3, seed=5, n=60)
    params = dict(topology="hex", toroidal=True, neighborhood=neighborhood, cutoff=cutoff, algorithm=algorithm,
                  init="pca", sigma=3.0, decay="exponential", seed=0)
    fast = SOM(5, 6, dtype="float64", **params).fit(X, epochs=5)
    slow = SOM(5, 6, use_numba=False, **params).fit(X, epochs=5)
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(fast.bmus(X), slow.bmus(X))


# p = 1 and 2 run as manhattan and euclidean, 3 by products, 1.5 and 0.5 by powers of
# the units that can be among the best two (``kernels.minkowski_block``).
MINKOWSKI_P = (1.0, 2.0, 3.0, 1.5, 0.5)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("p", MINKOWSKI_P)
def test_numba_float64_minkowski_matches_reference(p, algorithm):
    X = _data(4, seed=3, n=150)
    params = dict(topology="hex", metric="minkowski", p=p, algorithm=algorithm, init="random", seed=2, sigma=2.5)
    fast = SOM(5, 6, dtype="float64", **params).fit(X, epochs=4)
    slow = SOM(5, 6, use_numba=False, **params).fit(X, epochs=4)
    assert_same_maps(fast, slow, X, weights_rtol=1e-9, weights_atol=1e-12, rtol=1e-9)


@pytest.mark.parametrize("neighborhood", ["gaussian", "mexican_hat"])
def test_online_epoch_kernel_matches_reference_with_and_without_kept_rows(neighborhood):
    """Kept rows of steps (each winner's computed once) and rows computed per sample give
    the same weights, the reference's; the mexican hat's pushes stay within the data's box."""
    rng = np.random.default_rng(4)
    grid = Grid(7, 6, "hex", toroidal=True)
    X = rng.normal(size=(400, 3))
    W0 = rng.normal(size=(grid.n_units, 3))
    order = rng.permutation(len(X))
    expected = reference.online_epoch(X, W0, order, grid.distances, 1.5, 0.3, neighborhood, None, "euclidean", 2.0)
    # The surround's scale as the reference computes it: from the winners under W0.
    full = neighborhood_weights(grid.distances, 1.5, neighborhood)
    counts = np.bincount(reference.best_two_units(X, W0)[0], minlength=grid.n_units).astype(np.float64)
    scale = surround_scale(np.maximum(full, 0.0) @ counts, np.maximum(-full, 0.0) @ counts)
    runs = []
    for keep_rows in (True, False):
        W = W0.copy()
        kernels.online_epoch(X, W, order, grid.positions, *grid.period, grid.toroidal, 1.5, 0.3,
                             neighborhood_code(neighborhood), 0.0, metric_code("euclidean"), 2.0,
                             X.min(axis=0), X.max(axis=0), keep_rows, scale)
        runs.append(W)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_allclose(runs[0], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_numba_float64_bmus_match_reference_on_the_same_weights(metric):
    rng = np.random.default_rng(8)
    W = rng.normal(size=(6, 7, 5))
    X = rng.normal(size=(500, 5))
    fast = SOM(6, 7, metric=metric, p=1.5, dtype="float64")
    slow = SOM(6, 7, metric=metric, p=1.5, use_numba=False)
    for som in (fast, slow):
        som.weights_, som.n_features_in_ = W, 5
    np.testing.assert_array_equal(fast.bmus(X), slow.bmus(X))
    assert fast.topographic_error(X) == slow.topographic_error(X)
    np.testing.assert_array_equal(fast.activation_map(X), slow.activation_map(X))
    np.testing.assert_allclose(fast.anomaly_scores(X), slow.anomaly_scores(X), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ the float32 default


def _units_near(X, m, rng, noise=0.3):
    """Units scattered among the data, so BMU choices are close calls, not obvious ones."""
    return X[rng.choice(len(X), m, replace=False)] + noise * rng.normal(size=(m, X.shape[1]))


def _float32_cases():
    cases = []
    for metric, d in [(m, 3) for m in METRICS] + [("euclidean", 16), ("cosine", 16)]:
        # cosine is not translation invariant: 1e4 from the origin all the points are parallel
        for offset in (0.0,) if metric == "cosine" else (0.0, 1e4):
            cases.append(pytest.param(metric, d, offset, id=f"{metric}-d{d}-offset{offset:g}"))
    return cases


@pytest.mark.parametrize("metric, d, offset", _float32_cases())
def test_float32_bmus_match_brute_force_float64(metric, d, offset, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, d)) + offset
    W = _units_near(X, 48, rng)
    search = BMUSearch(X, Grid(6, 8), metric, 3.0, "float32", True)
    assert search.use_gemm == (d >= GEMM_MIN_FEATURES and metric in ("euclidean", "cosine"))
    found = search.run(W)
    check_bmus(found.first, X, W, metric, 3.0, np.float32, max_disagreement=0.001)


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("p", [1.5, 0.5, 2.5, 3.0])
def test_float32_minkowski_bmus_match_brute_force_float64(p, offset, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2000, 3)) + offset
    W = _units_near(X, 48, rng)
    found = BMUSearch(X, Grid(6, 8), "minkowski", p, "float32", True).run(W)
    check_bmus(found.first, X, W, "minkowski", p, np.float32, max_disagreement=0.001)
    D = reference.pairwise_distances(X, W, "minkowski", p)
    np.testing.assert_allclose(found.distance, D[np.arange(len(X)), found.first], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_path_over_many_blocks(metric, dtype):
    """The BLAS path handles row blocks (several of them, the last one partial)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(8001, GEMM_MIN_FEATURES + 3)) + (1e4 if metric == "euclidean" else 0.0)
    W = _units_near(X, 100, rng)
    search = BMUSearch(X, Grid(10, 10), metric, 2.0, dtype, True)
    assert search.use_gemm
    found = search.run(W)
    agreement = check_bmus(found.first, X, W, metric, 2.0, np.dtype(dtype), max_disagreement=0.001)
    assert agreement > 0.999
    # the distance reported is that to the unit found, under the metric
    D = distance_matrix(X[:200], W, metric)
    np.testing.assert_allclose(found.distance[:200], D[np.arange(200), found.first[:200]],
                               rtol=1e-4 if dtype == "float32" else 1e-9, atol=1e-5)


@pytest.mark.parametrize("d", [3, 16])
def test_trained_float32_map_bmus_match_brute_force(d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(1500, d)) * 3.0 + 1e4
    som = SOM(6, 5, seed=seed).fit(X, epochs=4)  # defaults: float32, euclidean, pca
    W = som.weights_.reshape(-1, d)
    check_bmus(som.bmus(X), X, W, "euclidean", 2.0, np.float32, max_disagreement=0.001)
    found = som.anomaly_scores(X)
    np.testing.assert_allclose(found, np.linalg.norm(X - W[som.bmus(X)], axis=1), rtol=1e-3, atol=1e-3)
    assert som.quantization_error(X) == pytest.approx(np.mean(found), rel=1e-6)


def test_float32_gemm_path_keeps_precision_for_clusters_far_from_the_mean():
    rng = np.random.default_rng(0)
    d = GEMM_MIN_FEATURES
    centre = np.zeros(d)
    centre[0] = 1000.0
    # two tight clusters 2000 apart: spread / distance from the mean = 1e-3
    X = np.concatenate([centre + rng.normal(size=(1000, d)), -centre + rng.normal(size=(1000, d))])
    W = _units_near(X, 48, rng, noise=0.1)
    search = BMUSearch(X, Grid(6, 8), "euclidean", 2.0, "float32", True)
    assert search.use_gemm
    first = search.run(W).first
    best = np.argmin(((X[:, None, :] - W[None]) ** 2).sum(-1), axis=1)
    assert np.mean(first == best) > 0.999


def test_float32_direct_path_keeps_precision_for_clusters_far_from_the_mean():
    """The same data with one feature fewer goes through the direct kernel, and is exact."""
    rng = np.random.default_rng(0)
    d = GEMM_MIN_FEATURES - 1
    centre = np.zeros(d)
    centre[0] = 1000.0
    X = np.concatenate([centre + rng.normal(size=(1000, d)), -centre + rng.normal(size=(1000, d))])
    W = _units_near(X, 48, rng, noise=0.1)
    search = BMUSearch(X, Grid(6, 8), "euclidean", 2.0, "float32", True)
    assert not search.use_gemm
    first = search.run(W).first
    best = np.argmin(((X[:, None, :] - W[None]) ** 2).sum(-1), axis=1)
    assert np.mean(first == best) > 0.999


# ------------------------------------------------------------------ many blocks, many threads


@pytest.mark.parametrize("d", [3, GEMM_MIN_FEATURES], ids=["direct", "blas"])
def test_results_do_not_depend_on_the_thread_count(d, monkeypatch):
    """Blocks of rows are summed per lane and lanes are added in order: the same map
    whether the engine runs on one thread or several."""
    X = np.random.default_rng(9).normal(size=(20000, d))
    runs = {}
    for threads in ("1", "2", "5"):
        monkeypatch.setenv("ZSOM_NUM_THREADS", threads)
        som = SOM(6, 6, init="random", seed=0).fit(X, epochs=3)
        runs[threads] = (som.weights_.copy(), list(som.mqe_history_), som.bmus(X))
    for threads in ("2", "5"):
        np.testing.assert_array_equal(runs[threads][0], runs["1"][0])
        assert runs[threads][1] == runs["1"][1]
        np.testing.assert_array_equal(runs[threads][2], runs["1"][2])


@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble"])
@pytest.mark.parametrize("d", [3, GEMM_MIN_FEATURES], ids=["direct", "blas"])
def test_numba_matches_reference_over_many_blocks(d, neighborhood):
    X = np.random.default_rng(10).normal(size=(20000, d))
    params = dict(init="random", seed=0, topology="hex", neighborhood=neighborhood)
    fast = SOM(6, 6, dtype="float64", **params).fit(X, epochs=3)
    slow = SOM(6, 6, use_numba=False, **params).fit(X, epochs=3)
    np.testing.assert_allclose(fast.weights_, slow.weights_, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fast.mqe_history_, slow.mqe_history_, rtol=1e-9)
    np.testing.assert_allclose(fast.te_history_, slow.te_history_, atol=1e-12)
    np.testing.assert_array_equal(fast.activation_map(X), slow.activation_map(X))
