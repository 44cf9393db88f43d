"""Initialisation: uniform random within the data's range, or a lattice on the top-2 PCs."""

import numpy as np
import pytest

from zsom_core import SOM

from .helpers import flat


def initial_weights(X, width, height, **params):
    """The map's starting weights, seen through the public API: a batch epoch with a
    learning rate of 1e-300 moves no weight by more than rounding."""
    som = SOM(width, height, learning_rate=1e-300, **params).fit(X, epochs=1)
    return som.weights_


def principal_axes(X):
    """Mean, the two leading principal directions and the data's scores along them."""
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, vt[:2], (X - mean) @ vt[:2].T


def assert_same_range_up_to_sign(values, reference):
    """min/max of ``values`` are those of ``reference`` or of ``-reference``."""
    got = np.array([values.min(), values.max()])
    expected = np.array([reference.min(), reference.max()])
    if not np.allclose(got, expected, rtol=1e-9, atol=1e-9):
        np.testing.assert_allclose(got, -expected[::-1], rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def elongated():
    """4-D data with clearly separated variances (5, 2, 0.5, 0.1), rotated and offset."""
    rng = np.random.default_rng(11)
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    return (rng.normal(size=(300, 4)) * [5.0, 2.0, 0.5, 0.1]) @ rotation + [10.0, -3.0, 0.0, 100.0]


def test_random_init_stays_within_each_features_range(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.01] + [0.0, 5.0, -2.0]
    W = flat(initial_weights(X, 10, 10, init="random", seed=seed))
    low, high = X.min(axis=0), X.max(axis=0)
    assert np.all(W >= low) and np.all(W <= high)
    # 100 uniform draws per feature fill most of the range
    spread = (W.max(axis=0) - W.min(axis=0)) / (high - low)
    assert np.all(spread > 0.8)


def test_random_init_on_a_constant_column_is_that_constant():
    X = np.column_stack([np.linspace(0, 1, 20), np.full(20, 3.5)])
    W = flat(initial_weights(X, 3, 4, init="random", seed=0))
    np.testing.assert_array_equal(W[:, 1], 3.5)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 5)])
def test_pca_init_is_a_lattice_in_the_plane_of_the_top_two_components(elongated, shape):
    X = elongated
    width, height = shape
    W = initial_weights(X, width, height, init="pca")
    mean, axes, scores = principal_axes(X)
    flat_w = flat(W) - mean
    # In the plane: nothing left after projecting onto the two leading components.
    residual = flat_w - (flat_w @ axes.T) @ axes
    np.testing.assert_allclose(residual, 0.0, atol=1e-9)
    unit_scores = (flat_w @ axes.T).reshape(width, height, 2)
    # Corners reach the data's score range (each component's sign is arbitrary).
    span = np.abs(unit_scores[-1, -1] - unit_scores[0, 0])
    long_axis, short_axis = (0, 1) if width >= height else (1, 0)
    expected = np.ptp(scores, axis=0)
    np.testing.assert_allclose(span, expected, rtol=1e-9)
    for k in range(2):
        assert_same_range_up_to_sign(unit_scores[..., k], scores[:, k])
    # The longer side follows the first component, the shorter the second.
    along_long = np.diff(unit_scores, axis=long_axis)
    along_short = np.diff(unit_scores, axis=short_axis)
    np.testing.assert_allclose(along_long[..., 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(along_short[..., 0], 0.0, atol=1e-9)
    # Evenly spaced.
    np.testing.assert_allclose(np.abs(along_long[..., 0]), expected[0] / (shape[long_axis] - 1), rtol=1e-9)
    np.testing.assert_allclose(np.abs(along_short[..., 1]), expected[1] / (shape[short_axis] - 1), rtol=1e-9)


def test_pca_init_on_hex_spans_the_score_range(elongated):
    X = elongated
    W = flat(initial_weights(X, 6, 5, init="pca", topology="hex"))
    mean, axes, scores = principal_axes(X)
    centred = W - mean
    np.testing.assert_allclose(centred - (centred @ axes.T) @ axes, 0.0, atol=1e-9)
    unit_scores = centred @ axes.T
    for k in range(2):
        assert_same_range_up_to_sign(unit_scores[:, k], scores[:, k])


def test_pca_init_with_one_feature_spans_the_data_along_the_longer_side():
    X = np.array([[0.0], [1.0], [4.0], [10.0]])
    W = initial_weights(X, 3, 5, init="pca")[..., 0]
    # height 5 > width 3: the first component runs along y; the second is zero.
    np.testing.assert_allclose(W, W[:1, :].repeat(3, axis=0), atol=1e-12)
    np.testing.assert_allclose(sorted([W[0, 0], W[0, -1]]), [0.0, 10.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(np.diff(W[0])), 2.5, atol=1e-12)


def test_pca_init_with_two_features_reaches_the_corners():
    X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 1.0], [4.0, 1.0], [2.0, 0.5]])
    W = initial_weights(X, 5, 2, init="pca")
    corners = {tuple(np.round(W[x, y], 12) + 0.0) for x in (0, -1) for y in (0, -1)}
    assert corners == {(0.0, 0.0), (4.0, 0.0), (0.0, 1.0), (4.0, 1.0)}
    np.testing.assert_allclose(np.abs(np.diff(W[:, 0, 0])), 1.0, atol=1e-12)


def test_pca_init_on_one_by_n_grid_runs_along_the_first_component(elongated):
    W = flat(initial_weights(elongated, 1, 7, init="pca"))
    mean, axes, scores = principal_axes(elongated)
    unit_scores = (W - mean) @ axes.T
    np.testing.assert_allclose(np.ptp(unit_scores[:, 0]), np.ptp(scores[:, 0]), rtol=1e-9)
    # The single column sits in the middle of the second component's range.
    np.testing.assert_allclose(unit_scores[:, 1], (scores[:, 1].min() + scores[:, 1].max()) / 2, atol=1e-9)


def test_pca_init_is_deterministic_and_ignores_the_seed(elongated):
    a = initial_weights(elongated, 4, 3, init="pca", seed=1)
    b = initial_weights(elongated, 4, 3, init="pca", seed=2)
    np.testing.assert_array_equal(a, b)


def test_initial_mqe_is_that_of_the_initial_weights(elongated):
    som = SOM(4, 3, init="pca", learning_rate=1e-300, dtype="float64").fit(elongated, epochs=1)
    assert som.initial_mqe_ == pytest.approx(som.quantization_error(elongated), rel=1e-12)
