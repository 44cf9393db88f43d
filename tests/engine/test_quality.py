"""Quality measures and map read-outs against brute-force computations."""

import numpy as np
import pytest

from zsom_core import SOM

from .helpers import LATTICE_IDS, LATTICES, METRICS, brute_bmus, distance_matrix, fitted_som

PATHS = [
    pytest.param({"dtype": "float64"}, id="numba-float64"),
    pytest.param({"use_numba": False}, id="reference"),
]


@pytest.fixture(scope="module")
def map_and_data():
    """A 4 x 5 map with weights among the data, and three units far away that win nothing."""
    rng = np.random.default_rng(21)
    X = rng.normal(size=(200, 3)) + [1.0, 2.0, 3.0]
    X[:5, 1] = 0.0  # some zero features, for mape
    W = X[rng.choice(200, 20, replace=False)] + 0.2 * rng.normal(size=(20, 3))
    W[[3, 11, 17]] = 1e3
    return W.reshape(4, 5, 3), X


def brute_unit_errors(X, W, kind):
    first, _, dist, _ = brute_bmus(X, W)
    out = np.full(len(W), np.nan)
    for unit in np.unique(first):
        won = X[first == unit]
        residual = np.abs(won - W[unit])
        if kind == "mqe":
            out[unit] = dist[first == unit].mean()
        elif kind == "mae":
            out[unit] = residual.mean()
        elif kind == "mse":
            out[unit] = (residual**2).mean()
        elif kind == "rmse":
            out[unit] = np.sqrt((residual**2).mean())
        else:  # mape: over the non-zero features of the won samples
            nonzero = won != 0
            out[unit] = 100.0 * (residual[nonzero] / np.abs(won[nonzero])).mean()
    return out


@pytest.mark.parametrize("path", PATHS + [pytest.param({}, id="numba-float32")])
@pytest.mark.parametrize("kind", ["mqe", "mae", "mse", "rmse", "mape"])
def test_unit_errors_match_brute_force(map_and_data, kind, path):
    W, X = map_and_data
    som = fitted_som(W, **path)
    got = som.unit_errors(X, kind)
    expected = brute_unit_errors(X, W.reshape(-1, 3), kind).reshape(4, 5)
    assert got.shape == (4, 5) and got.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got).sum() == 3  # the far units win nothing: NaN, not 0
    np.testing.assert_allclose(got, expected, rtol=1e-9 if path else 1e-5)


def test_unit_errors_default_is_mqe(map_and_data):
    W, X = map_and_data
    som = fitted_som(W, dtype="float64")
    np.testing.assert_array_equal(som.unit_errors(X), som.unit_errors(X, "mqe"))


def test_unit_errors_mape_of_an_all_zero_sample_is_nan():
    som = fitted_som(np.array([[[0.0, 0.0], [5.0, 5.0]]]), dtype="float64")
    errors = som.unit_errors(np.array([[0.0, 0.0], [4.0, 6.0]]), "mape")
    assert np.isnan(errors[0, 0])
    assert errors[0, 1] == pytest.approx(100 * (1 / 4 + 1 / 6) / 2)


@pytest.mark.parametrize("path", PATHS + [pytest.param({}, id="numba-float32")])
def test_readouts_match_brute_force(map_and_data, path):
    W, X = map_and_data
    som = fitted_som(W, **path)
    flat_w = W.reshape(-1, 3)
    first, second, dist, _ = brute_bmus(X, flat_w)
    rtol = 1e-9 if path else 1e-5
    np.testing.assert_array_equal(som.bmus(X), first)
    np.testing.assert_allclose(som.anomaly_scores(X), dist, rtol=rtol)
    assert som.quantization_error(X) == pytest.approx(dist.mean(), rel=rtol)
    adjacency = som.grid.adjacency
    assert som.topographic_error(X) == pytest.approx(np.mean(~adjacency[first, second]), abs=1e-12)
    hits = np.bincount(first, minlength=20).reshape(4, 5)
    np.testing.assert_array_equal(som.activation_map(X), hits)
    assert som.activation_map(X).sum() == len(X)
    assert som.dead_units(X) == (hits == 0).sum() >= 3
    assert som.bmus(X).dtype.kind == "i"


def test_anomaly_scores_are_float64_on_the_default_path(map_and_data):
    W, X = map_and_data
    assert fitted_som(W).anomaly_scores(X).dtype == np.float64


@pytest.mark.parametrize("path", PATHS)
def test_anomaly_scores_are_float64(map_and_data, path):
    W, X = map_and_data
    assert fitted_som(W, **path).anomaly_scores(X).dtype == np.float64


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("topology, toroidal", LATTICES, ids=LATTICE_IDS)
def test_u_matrix_is_mean_distance_to_grid_neighbours(topology, toroidal, metric, path):
    rng = np.random.default_rng(2)
    W = rng.normal(size=(4, 6, 3))
    som = fitted_som(W, topology=topology, toroidal=toroidal, metric=metric, p=3.0, **path)
    grid = som.grid
    flat_w = W.reshape(-1, 3)
    D = distance_matrix(flat_w, flat_w, metric, 3.0)
    expected = np.array([D[unit, grid.adjacency[unit]].mean() for unit in range(grid.n_units)])
    u = som.u_matrix()
    assert u.shape == (4, 6)
    np.testing.assert_allclose(u.ravel(), expected, rtol=1e-9, atol=1e-12)
    counts = grid.adjacency.sum(axis=1).reshape(4, 6)
    if toroidal:
        assert (counts == (4 if topology == "square" else 6)).all()
    else:
        assert counts[1:-1, 1:-1].min() == (4 if topology == "square" else 6)


def test_quality_at_fixed_seeds(blobs):
    """Three separated blobs on a 6 x 6 map: low error, few folds, every unit one blob."""
    labels = np.repeat([0, 1, 2], 30)
    for algorithm, mqe_limit, te_limit in (("batch", 0.65, 0.2), ("online", 0.6, 0.1)):
        for seed in (0, 1):
            som = SOM(6, 6, algorithm=algorithm, seed=seed).fit(blobs, epochs=20)
            assert som.mqe_history_[-1] < mqe_limit
            assert som.mqe_history_[-1] < 0.75 * som.initial_mqe_
            assert som.te_history_[-1] < te_limit
            bmus = som.bmus(blobs)
            for unit in np.unique(bmus):
                assert len(np.unique(labels[bmus == unit])) == 1, f"unit {unit} mixes blobs"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("metric", METRICS)
def test_mqe_history_is_the_mean_distance_to_the_bmu_under_the_metric(metric, path):
    X = np.random.default_rng(12).normal(size=(60, 3))
    som = SOM(3, 4, metric=metric, p=3.0, init="random", seed=0, **path)
    for snap in som.iter_fit(X, epochs=3):
        D = distance_matrix(X, snap.weights.reshape(-1, 3), metric, 3.0)
        assert snap.mqe == pytest.approx(D.min(axis=1).mean(), rel=1e-9)
        first = np.argsort(D, axis=1, kind="stable")
        te = np.mean(~som.grid.adjacency[first[:, 0], first[:, 1]])
        assert snap.topographic_error == pytest.approx(te, abs=1e-12)
    assert np.isfinite(som.initial_mqe_) and som.initial_mqe_ > 0
