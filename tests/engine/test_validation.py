"""Bad input raises ValueError with a message that says what to do."""

import numpy as np
import pytest

from zsom_core import SOM


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(30, 3))


@pytest.fixture(scope="module")
def trained(X):
    return SOM(3, 4, seed=0).fit(X, epochs=2)


PREDICTORS = ["bmus", "quantization_error", "anomaly_scores", "topographic_error", "activation_map",
              "dead_units", "unit_errors"]


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_fit_rejects_infinite_rows_and_counts_them(X, bad):
    Xb = X.copy()
    Xb[[2, 5, 9], [0, 1, 2]] = bad
    Xb[5, 0] = bad  # two bad values in one row: still one row
    Xb[11, 0] = np.nan  # a missing value is no error
    with pytest.raises(ValueError, match=r"X has 3 row\(s\) with infinite values \(first at row 2\); "
                                         r"drop or impute them first \(NaN marks a missing value"):
        SOM(3, 4).fit(Xb)


@pytest.mark.parametrize("method", PREDICTORS)
def test_predictors_reject_infinite_rows(trained, X, method):
    Xb = X.copy()
    Xb[7, 1] = np.inf
    Xb[8, 1] = np.nan
    with pytest.raises(ValueError, match=r"X has 1 row\(s\) with infinite values \(first at row 7\)"):
        getattr(trained, method)(Xb)


@pytest.mark.parametrize("method", PREDICTORS)
def test_predictors_reject_rows_with_no_observed_value(trained, X, method):
    Xb = X.copy()
    Xb[[4, 6]] = np.nan
    Xb[8, 1] = np.nan
    with pytest.raises(ValueError, match=r"X has 2 row\(s\) with no observed value, all NaN \(first at row 4\)"):
        getattr(trained, method)(Xb)


@pytest.mark.parametrize("method", PREDICTORS)
def test_predictors_reject_wrong_number_of_features(trained, X, method):
    with pytest.raises(ValueError, match=r"X has 2 features, but SOM is expecting 3 features as input"):
        getattr(trained, method)(X[:, :2])


@pytest.mark.parametrize("method", PREDICTORS)
def test_predictors_need_one_sample(trained, method):
    with pytest.raises(ValueError, match=r"X needs at least 1 sample, got 0 samples"):
        getattr(trained, method)(np.empty((0, 3)))


@pytest.mark.parametrize("n", [0, 1])
def test_fit_needs_two_samples(X, n):
    with pytest.raises(ValueError, match=rf"X needs at least 2 samples, got {n} samples?$"):
        SOM(3, 4).fit(X[:n])


@pytest.mark.parametrize(
    "data, match",
    [
        (np.zeros(10), r"X must be 2-D \(n_samples, n_features\), got an array of shape \(10,\)\. Reshape "
                       r"your data: X\.reshape\(-1, 1\) if it has a single feature, X\.reshape\(1, -1\) if it is "
                       r"one sample"),
        (np.zeros((4, 3, 2)), r"X must be 2-D"),
        (np.zeros((10, 0)), r"X has 0 feature\(s\) \(shape=\(10, 0\)\) while a minimum of 1 is required"),
        ([["a", "b"], ["c", "d"]], r"X must be a numeric array of shape \(n_samples, n_features\)"),
        ([[1.0, 2.0], [3.0]], r"X must be a numeric array"),
    ],
    ids=["1-d", "3-d", "no-features", "strings", "ragged"],
)
def test_fit_rejects_malformed_arrays(data, match):
    with pytest.raises(ValueError, match=match):
        SOM(3, 4).fit(data)


@pytest.mark.parametrize(
    "data, match",
    [
        (np.array([[1.0, {"a": 1}], [2.0, 3.0]], dtype=object), r"X must be a numeric array of shape \(n_samples, "
                                                               r"n_features\): float\(\) argument must be"),
        (np.ones((4, 2)) + 1j, r"Complex data not supported"),
    ],
    ids=["object-not-a-number", "complex"],
)
def test_fit_rejects_what_is_not_real_numbers(data, match):
    """Objects that are neither numbers nor strings are a TypeError, as NumPy's own; complex
    numbers a ValueError rather than losing their imaginary parts."""
    error = TypeError if data.dtype == object else ValueError
    with pytest.raises(error, match=match):
        SOM(3, 4).fit(data)


def test_a_1d_array_is_one_column_only_for_a_map_of_one_feature(X):
    one_feature = SOM(3, 4, seed=0).fit(X[:, :1], epochs=1)
    np.testing.assert_array_equal(one_feature.bmus(X[:, 0]), one_feature.bmus(X[:, :1]))
    with pytest.raises(ValueError, match=r"Reshape your data"):
        SOM(3, 4, seed=0).fit(X, epochs=1).bmus(X[0])


def test_fit_takes_epochs_by_name_only(X):
    with pytest.raises(TypeError, match=r"fit's second argument is y, which a SOM ignores, got 3: give the number "
                                        r"of epochs by name, fit\(X, epochs=\.\.\.\)"):
        SOM(3, 4).fit(X, 3)
    assert len(SOM(3, 4, seed=0).fit(X, None, epochs=3).mqe_history_) == 3


def test_grid_smaller_than_one_by_two(X):
    with pytest.raises(ValueError, match=r"the grid must have at least 2 units \(1 x 2 or larger\), got 1 x 1"):
        SOM(1, 1).fit(X)


@pytest.mark.parametrize("shape, match",
                         [((0, 4), r"width must be at least 1"), ((3, 2.0), r"height must be an integer")])
def test_grid_size_must_be_positive_integers(X, shape, match):
    with pytest.raises(ValueError, match=match):
        SOM(*shape).fit(X)


@pytest.mark.parametrize(
    "param, value, match",
    [
        ("topology", "triangle", r"unknown topology 'triangle'; valid topologies: square, hex"),
        ("metric", "hamming", r"unknown metric 'hamming'; valid metrics: euclidean, manhattan, chebyshev, cosine, "
                              r"minkowski"),
        ("init", "zeros", r"unknown init 'zeros'; valid values: random, pca"),
        ("neighborhood", "cone", r"unknown neighborhood 'cone'; valid neighborhoods: gaussian, bubble, "
                                 r"mexican_hat, triangle"),
        ("decay", "cosine", r"unknown decay 'cosine'; valid values: linear, exponential"),
        ("algorithm", "minibatch", r"unknown algorithm 'minibatch'; valid values: batch, online"),
        ("dtype", "float16", r"unknown dtype 'float16'; valid values: float32, float64"),
    ],
)
def test_unknown_names_list_the_valid_ones(X, param, value, match):
    with pytest.raises(ValueError, match=match):
        SOM(3, 4, **{param: value}).fit(X)


@pytest.mark.parametrize("p", [0, -1.0, -0.5])
def test_minkowski_p_must_be_positive(X, p):
    with pytest.raises(ValueError, match=r"the minkowski parameter p must be > 0, got"):
        SOM(3, 4, metric="minkowski", p=p).fit(X)


def test_minkowski_p_must_be_finite(X):
    with pytest.raises(ValueError, match=r"p must be a finite number"):
        SOM(3, 4, metric="minkowski", p=float("inf")).fit(X)


@pytest.mark.parametrize("p", [np.float32(3.0), np.int64(3)], ids=["float32", "int64"])
def test_minkowski_p_may_be_a_numpy_number(X, p):
    som = SOM(3, 4, metric="minkowski", p=p, seed=0).fit(X, epochs=2)
    assert np.isfinite(som.weights_).all()


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True, "5"])
def test_epochs_must_be_a_positive_integer(X, epochs):
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got"):
        SOM(3, 4).fit(X, epochs=epochs)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"sigma": 0.0}, r"sigma0 must be a positive finite number"),
        ({"sigma": -1.0}, r"sigma0 must be a positive finite number"),
        ({"learning_rate": 0.0}, r"learning_rate must be in \(0, 1\]"),
        ({"learning_rate": float("nan")}, r"learning_rate must be in \(0, 1\]"),
        ({"learning_rate": 1.5}, r"learning_rate must be in \(0, 1\], got 1.5: a larger step overshoots"),
        ({"sigma_end": -0.1}, r"sigma_end must be a positive finite number"),
        ({"cutoff": 0.0}, r"cutoff must be a positive number of sigmas or None"),
        ({"cutoff": float("inf")}, r"cutoff must be a positive number of sigmas or None"),
        ({"topology": "hex", "toroidal": True, "height": 3}, r"toroidal hexagonal grid needs an even height, got 3"),
    ],
)
def test_bad_numbers_raise(X, params, match):
    params = {"width": 3, "height": 4, **params}
    with pytest.raises(ValueError, match=match):
        SOM(**params).fit(X)


@pytest.mark.parametrize("method", PREDICTORS + ["u_matrix", "save"])
def test_methods_before_fit_raise(method, X, tmp_path):
    args = {"u_matrix": (), "save": (tmp_path / "map.npz",)}.get(method, (X,))
    with pytest.raises(ValueError, match=r"this SOM is not trained yet: call fit\(X\) or load\(\) first"):
        getattr(SOM(3, 4), method)(*args)


def test_unknown_unit_error_kind(trained, X):
    with pytest.raises(ValueError, match=r"unknown kind 'mad'; valid values: mqe, mae, mse, rmse, mape"):
        trained.unit_errors(X, "mad")


def test_iter_fit_validates_before_the_first_snapshot(X):
    som = SOM(3, 4, metric="hamming")
    iterator = som.iter_fit(X, epochs=3)
    with pytest.raises(ValueError, match=r"unknown metric"):
        next(iterator)
    assert not hasattr(som, "weights_")


def test_a_failed_fit_leaves_the_trained_map_alone(X):
    som = SOM(3, 4, seed=0).fit(X, epochs=2)
    weights, history = som.weights_.copy(), list(som.mqe_history_)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError):
        som.fit(bad, epochs=3)
    with pytest.raises(ValueError):
        som.fit(X, epochs=0)
    np.testing.assert_array_equal(som.weights_, weights)
    assert som.mqe_history_ == history


def test_constructor_stores_arguments_without_validating():
    som = SOM(1, 1, metric="hamming", p=-1, dtype="float16")
    assert (som.width, som.height, som.metric, som.p, som.dtype) == (1, 1, "hamming", -1, "float16")
