"""Tiny maps with weights set by hand, checked against values worked out on paper."""

import math

import numpy as np
import pytest

from zsom_core import SOM, reference

from .helpers import fitted_som, flat

# The three ways a map can search: the float32 default, float64 Numba, the NumPy reference.
PATHS = [
    pytest.param({}, id="numba-float32"),
    pytest.param({"dtype": "float64"}, id="numba-float64"),
    pytest.param({"use_numba": False}, id="reference"),
]

# A 1 x 2 map: unit 0 at the origin, unit 1 at (4, 0).
W_1x2 = np.array([[[0.0, 0.0], [4.0, 0.0]]])
X_1x2 = np.array([[1.0, 0.0], [3.0, 0.0], [5.0, 0.0], [0.0, 3.0]])


@pytest.mark.parametrize("path", PATHS)
def test_one_by_two_map_by_hand(path):
    som = fitted_som(W_1x2, **path)
    # distances to (unit 0, unit 1): (1, 3), (3, 1), (5, 1), (3, 5)
    np.testing.assert_array_equal(som.bmus(X_1x2), [0, 1, 1, 0])
    np.testing.assert_allclose(som.anomaly_scores(X_1x2), [1.0, 1.0, 1.0, 3.0], rtol=1e-6)
    assert som.quantization_error(X_1x2) == pytest.approx(1.5, rel=1e-6)
    assert som.topographic_error(X_1x2) == 0.0  # the only two units are neighbours
    np.testing.assert_array_equal(som.activation_map(X_1x2), [[2, 2]])
    assert som.activation_map(X_1x2).dtype == np.int64
    assert som.dead_units(X_1x2) == 0
    assert som.dead_units(X_1x2[:1]) == 1
    np.testing.assert_allclose(som.u_matrix(), [[4.0, 4.0]])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "kind, expected",
    [
        # unit 0 wins (1, 0) and (0, 3); unit 1 wins (3, 0) and (5, 0)
        ("mqe", [(1 + 3) / 2, 1.0]),
        ("mae", [(0.5 + 1.5) / 2, 0.5]),                      # mean |x - w| over features
        ("mse", [(0.5 + 4.5) / 2, 0.5]),                      # mean (x - w)^2 over features
        ("rmse", [math.sqrt(2.5), math.sqrt(0.5)]),
        ("mape", [100.0, 100.0 * (1 / 3 + 1 / 5) / 2]),       # non-zero features only
    ],
)
def test_one_by_two_unit_errors_by_hand(path, kind, expected):
    got = fitted_som(W_1x2, **path).unit_errors(X_1x2, kind)
    assert got.shape == (1, 2) and got.dtype == np.float64
    np.testing.assert_allclose(got, [expected], rtol=1e-6)


@pytest.mark.parametrize("path", PATHS)
def test_one_by_three_map_topographic_error_by_hand(path):
    # 1-D weights 0, 10, 1 on a chain: units 0 and 2 are close in data space but not
    # neighbours on the grid.
    som = fitted_som(np.array([[[0.0], [10.0], [1.0]]]), **path)
    X = np.array([[0.4], [9.0], [6.0], [0.6]])
    # (first, second): (0, 2) error, (1, 2) ok, (1, 2) ok, (2, 0) error
    np.testing.assert_array_equal(som.bmus(X), [0, 1, 1, 2])
    assert som.topographic_error(X) == 0.5
    assert som.quantization_error(X) == pytest.approx((0.4 + 1 + 4 + 0.4) / 4, rel=1e-6)
    np.testing.assert_array_equal(som.activation_map(X), [[1, 2, 1]])
    np.testing.assert_allclose(som.u_matrix(), [[10.0, (10 + 9) / 2, 9.0]])
    np.testing.assert_allclose(som.unit_errors(X, "mqe"), [[0.4, 2.5, 0.4]], rtol=1e-6)


@pytest.mark.parametrize("path", PATHS)
def test_activation_map_is_indexed_by_column_and_row(path):
    # unit (x, y) sits at (10 x, 10 y): a sample near (10, 20) belongs to column 1, row 2
    W = np.array([[[10.0 * x, 10.0 * y] for y in range(3)] for x in range(2)])
    som = fitted_som(W, **path)
    X = np.array([[11.0, 19.0], [9.0, 21.0], [0.5, 0.0]])
    hits = som.activation_map(X)
    assert hits.shape == (2, 3)
    expected = np.zeros((2, 3), dtype=np.int64)
    expected[1, 2], expected[0, 0] = 2, 1
    np.testing.assert_array_equal(hits, expected)
    np.testing.assert_array_equal(som.bmus(X), [1 * 3 + 2, 1 * 3 + 2, 0])
    assert som.dead_units(X) == 4
    errors = som.unit_errors(X, "mqe")
    assert np.isnan(errors).sum() == 4 and not np.isnan(errors[1, 2]) and not np.isnan(errors[0, 0])


@pytest.mark.parametrize("path", PATHS)
def test_u_matrix_of_a_square_map_by_hand(path):
    # weights = 3 x + 5 y in 1-D on a 3 x 3 map: horizontal steps cost 3, vertical 5
    W = np.array([[[3.0 * x + 5.0 * y] for y in range(3)] for x in range(3)])
    u = fitted_som(W, **path).u_matrix()
    expected = np.array([
        [(3 + 5) / 2, (3 + 5 + 5) / 3, (3 + 5) / 2],
        [(3 + 3 + 5) / 3, (3 + 3 + 5 + 5) / 4, (3 + 3 + 5) / 3],
        [(3 + 5) / 2, (3 + 5 + 5) / 3, (3 + 5) / 2],
    ])
    np.testing.assert_allclose(u, expected, rtol=1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_u_matrix_of_a_toroidal_map_wraps(path):
    # 3 x 4 torus, weights = 3 x + 5 y: wrapping steps cost 6 (x: 0 <-> 2) and 15 (y: 0 <-> 3)
    W = np.array([[[3.0 * x + 5.0 * y] for y in range(4)] for x in range(3)])
    u = fitted_som(W, toroidal=True, **path).u_matrix()
    assert u[0, 0] == pytest.approx((3 + 6 + 5 + 15) / 4)
    assert u[1, 1] == pytest.approx((3 + 3 + 5 + 5) / 4)
    assert u[2, 3] == pytest.approx((3 + 6 + 5 + 15) / 4)


def test_reference_batch_step_by_hand():
    # 1 x 2 map, 1-D. Unit 0 wins 0 and 2, unit 1 wins 10; each unit weighs the other 0.5.
    X = np.array([[0.0], [2.0], [10.0]])
    W = np.array([[1.0], [9.0]])
    first = np.array([0, 0, 1])
    h = np.array([[1.0, 0.5], [0.5, 1.0]])
    # targets: (2 + 0.5 * 10) / (2 + 0.5) = 2.8 and (0.5 * 2 + 10) / (0.5 * 2 + 1) = 5.5
    np.testing.assert_allclose(reference.batch_step(X, W, first, h, 1.0), [[2.8], [5.5]])
    np.testing.assert_allclose(reference.batch_step(X, W, first, h, 0.5), [[1.9], [7.25]])
    # a unit no sample reaches keeps its weights
    np.testing.assert_allclose(reference.batch_step(X, W, np.array([0, 0, 0]), np.eye(2), 1.0), [[4.0], [9.0]])


def test_reference_online_epoch_by_hand():
    # 1 x 3 chain, 1-D, gaussian sigma 1, lr 0.5, one sample at 6 then one at 0
    W = np.array([[0.0], [5.0], [10.0]])
    D = np.abs(np.subtract.outer(np.arange(3.0), np.arange(3.0)))
    got = reference.online_epoch(np.array([[0.0], [6.0]]), W, [1, 0], D, 1.0, 0.5, "gaussian", None,
                                 "euclidean", 2.0)
    g1, g2 = math.exp(-0.5), math.exp(-2.0)
    # sample 6 wins unit 1 (distance 1)
    after = np.array([0.0 + 0.5 * g1 * 6, 5.0 + 0.5 * 1.0, 10.0 + 0.5 * g1 * (6 - 10)])
    # sample 0 now wins unit 0 (at 1.82)
    after = after + 0.5 * np.array([1.0, g1, g2]) * (0.0 - after)
    np.testing.assert_allclose(got[:, 0], after, rtol=1e-12)


@pytest.mark.parametrize("path", PATHS[1:])
def test_one_batch_epoch_with_bubble_and_lr_one_is_the_mean_of_won_samples(path):
    """With lr = 1 and a bubble narrower than one grid step, the damped batch step moves
    each unit to the mean of the samples it won; units that won nothing stay put."""
    rng = np.random.default_rng(6)
    X = np.concatenate([rng.normal(size=(25, 2)), [[6.0, 6.0], [6.5, 5.5]]])
    params = dict(init="pca", neighborhood="bubble", sigma=0.5, sigma_end=0.5, learning_rate=1.0, **path)
    before = SOM(4, 3, **{**params, "learning_rate": 1e-300}).fit(X, epochs=1).weights_
    W0 = flat(before)
    first = np.argmin(((X[:, None] - W0[None]) ** 2).sum(-1), axis=1)
    expected = W0.copy()
    for unit in np.unique(first):
        expected[unit] = X[first == unit].mean(axis=0)
    assert len(np.unique(first)) < 12, "some unit should win nothing, to check it stays put"
    som = SOM(4, 3, **params).fit(X, epochs=1)
    assert som.sigma_history_ == [0.5] and som.learning_rate_history_ == [1.0]
    np.testing.assert_allclose(flat(som.weights_), expected, rtol=1e-12, atol=1e-12)
