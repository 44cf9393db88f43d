"""The pruned BMU search finds what the full pass finds, with fewer distances computed.

Every pass of a training after the first is pruned (complete rows, the direct path, maps
of ``PRUNE_MIN_UNITS`` units or more: here lowered to 64, so that small maps take it).
Each test replays a real training's weights, epoch by epoch, through two searches over
the same rows: one pruned, one held to the full pass (``PRUNE_MIN_UNITS`` raised past the
map), and checks them against each other and against the float64 oracle of ``helpers``.
"""

import numpy as np
import pytest

from zsom_core import SOM, bmu
from zsom_core.bmu import BMUSearch

from .helpers import LATTICE_IDS, LATTICES, brute_bmus, check_bmus


@pytest.fixture(autouse=True)
def small_maps_are_pruned(monkeypatch):
    monkeypatch.setattr(bmu, "PRUNE_MIN_UNITS", 64)


PRUNABLE_METRICS = [("euclidean", 2.0), ("manhattan", 1.0), ("chebyshev", 2.0), ("cosine", 2.0),
                    ("minkowski", 1.5), ("minkowski", 3.0)]


def _surface(n=1500, seed=0):
    """Samples near a curved sheet in 3-D: a map orders along it as it does on a mesh."""
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(-1, 1, size=(2, n))
    return np.column_stack([u, v, 0.5 * np.sin(2 * u) * v]) + rng.normal(scale=0.03, size=(n, 3))


def _training_weights(X, metric, p, topology="square", toroidal=False, epochs=8, size=(10, 8)):
    som = SOM(*size, topology=topology, toroidal=toroidal, metric=metric, p=p, init="pca", sigma=4.0,
              sigma_end=1.0, seed=0)
    return som.grid, [s.weights.reshape(-1, X.shape[1]).copy() for s in som.iter_fit(X, epochs=epochs)]


def _full_search(monkeypatch, *args):
    with monkeypatch.context() as patch:
        patch.setattr(bmu, "PRUNE_MIN_UNITS", 10**9)
        return BMUSearch(*args)


def _replay(monkeypatch, X, grid, weights_by_epoch, metric, p, dtype="float32"):
    """Both searches' passes over every epoch's weights: [(pruned, full), ...]."""
    data = np.ascontiguousarray(X, dtype=np.float64)
    pruned = BMUSearch(data, grid, metric, p, dtype, True)
    full = _full_search(monkeypatch, data, grid, metric, p, dtype, True)
    return [(pruned.run(W), full.run(W)) for W in weights_by_epoch]


def _assert_same_pass(a, b):
    np.testing.assert_array_equal(a.first, b.first)
    np.testing.assert_array_equal(a.distance, b.distance)
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.sums, b.sums)  # added in the full pass's order
    assert a.topographic_error == b.topographic_error


@pytest.mark.parametrize("metric, p", PRUNABLE_METRICS, ids=[f"{m}-{p}" for m, p in PRUNABLE_METRICS])
@pytest.mark.parametrize("topology, toroidal", LATTICES, ids=LATTICE_IDS)
def test_pruned_passes_match_the_full_pass_and_the_oracle(monkeypatch, metric, p, topology, toroidal):
    X = _surface()
    grid, weights = _training_weights(X, metric, p, topology, toroidal)
    passes = _replay(monkeypatch, X, grid, weights, metric, p)
    n, m = len(X), grid.n_units
    assert passes[0][0].searched == n * m  # the first pass has no winners to start from
    for pruned, full in passes:
        _assert_same_pass(pruned, full)
        assert full.searched == n * m
    # The last pass, checked against the float64 oracle too.
    check_bmus(passes[-1][0].first, X, weights[-1], metric, p, dtype=np.float32, max_disagreement=0.002)
    # Not a full pass in disguise: the ordered map's passes compute far fewer distances (a
    # torus folds over a sheet, and its patches lie wider).
    assert max(pruned.searched for pruned, _ in passes[-3:]) < (0.95 if toroidal else 0.6) * n * m


@pytest.mark.parametrize("metric, p", [("euclidean", 2.0), ("cosine", 2.0), ("minkowski", 3.0)])
def test_pruned_runners_up_and_topographic_error_match_the_oracle_in_float64(monkeypatch, metric, p):
    X = _surface(n=800, seed=3)
    grid, weights = _training_weights(X, metric, p, epochs=6)
    passes = _replay(monkeypatch, X, grid, weights, metric, p, dtype="float64")
    pruned = passes[-1][0]
    first, second, _, _ = brute_bmus(X, weights[-1], metric, p)
    np.testing.assert_array_equal(pruned.first, first)
    adjacency = grid.adjacency
    assert pruned.topographic_error == pytest.approx(np.mean(~adjacency[first, second]), abs=1e-12)
    assert pruned.searched < (0.8 if metric == "cosine" else 0.6) * len(X) * grid.n_units


def test_rows_far_from_the_origin_are_settled_as_the_full_pass_settles_them(monkeypatch):
    """Tight clusters far from the data's mean: float32 loses most of the distances' digits,
    and rows whose best two it cannot order go to the full pass's float64 settling."""
    rng = np.random.default_rng(11)
    centres = np.array([[1e4, 0.0, 0.0], [1e4 + 1.0, 0.0, 0.0], [-1e4, 3.0, 0.0]])
    X = np.concatenate([c + rng.normal(scale=1e-3, size=(300, 3)) for c in centres])
    grid, weights = _training_weights(X, "euclidean", 2.0, epochs=5, size=(9, 8))
    passes = _replay(monkeypatch, X, grid, weights, "euclidean", 2.0)
    for pruned, full in passes:
        _assert_same_pass(pruned, full)
    check_bmus(passes[-1][0].first, X, weights[-1], "euclidean", dtype=np.float32, max_disagreement=0.01)


def test_units_in_the_same_place_tie_and_either_is_a_best_unit(monkeypatch):
    """A map whose units sit in pairs at the same place: every row's best two are tied."""
    X = _surface(n=600, seed=5)
    grid, weights = _training_weights(X, "euclidean", 2.0, epochs=5)
    tied = [W.copy() for W in weights]
    for W in tied:
        W[1::2] = W[0::2][: len(W[1::2])]
    passes = _replay(monkeypatch, X, grid, tied, "euclidean", 2.0)
    for W, (pruned, full) in zip(tied, passes):
        check_bmus(pruned.first, X, W, "euclidean", dtype=np.float32)
        np.testing.assert_allclose(pruned.distance, full.distance, rtol=1e-6)


def test_a_training_reports_the_distances_each_epoch_computed():
    X = _surface()
    som = SOM(12, 12, init="pca", sigma=5.0, sigma_end=1.0, seed=0)
    searched = [s.searched for s in som.iter_fit(X, epochs=10)]
    full = len(X) * som.grid.n_units
    assert all(0 < count <= full for count in searched)
    assert searched[-1] < 0.5 * full
    reference = SOM(12, 12, init="pca", sigma=5.0, sigma_end=1.0, seed=0, use_numba=False)
    assert {s.searched for s in reference.iter_fit(X, epochs=2)} == {None}


def test_a_pruned_training_gives_the_map_of_a_full_one(monkeypatch):
    X = _surface()
    params = dict(topology="hex", init="pca", sigma=5.0, sigma_end=1.0, seed=0)
    pruned = SOM(12, 11, **params).fit(X, epochs=12)
    monkeypatch.setattr(bmu, "PRUNE_MIN_UNITS", 10**9)
    full = SOM(12, 11, **params).fit(X, epochs=12)
    np.testing.assert_array_equal(pruned.weights_, full.weights_)
    np.testing.assert_array_equal(pruned.mqe_history_, full.mqe_history_)
    np.testing.assert_array_equal(pruned.te_history_, full.te_history_)


def test_a_pruned_training_resumed_from_a_snapshot_goes_on_bit_for_bit():
    """The resumed run's first pass is a full one, where the uninterrupted run's is pruned."""
    X = _surface()
    params = dict(init="pca", sigma=5.0, sigma_end=1.0, seed=0)
    whole = SOM(12, 11, **params).fit(X, epochs=12)
    snapshot = next(s for s in SOM(12, 11, **params).iter_fit(X, epochs=12) if s.epoch == 6)
    resumed = SOM(12, 11, **params).fit(X, epochs=12, resume_from=snapshot)
    np.testing.assert_array_equal(resumed.weights_, whole.weights_)


@pytest.mark.parametrize("case", ["minkowski below 1", "small map", "matrix product", "rows with gaps"])
def test_searches_without_a_bound_keep_the_full_pass(case):
    rng = np.random.default_rng(0)
    X, metric, p, size = _surface(n=500), "euclidean", 2.0, (10, 8)
    if case == "minkowski below 1":
        metric, p = "minkowski", 0.5
    elif case == "small map":
        size = (7, 9)  # 63 units
    elif case == "matrix product":
        X = rng.normal(size=(500, bmu.GEMM_MIN_FEATURES))
    else:  # every row has one
        X = X.copy()
        X[np.arange(len(X)), rng.integers(0, 3, len(X))] = np.nan
    som = SOM(*size, metric=metric, p=p, init="random", sigma=3.0, seed=0)
    searched = [s.searched for s in som.iter_fit(X, epochs=4)]
    assert searched == [len(X) * som.grid.n_units] * 4
