"""SOM as a scikit-learn estimator: scikit-learn's own checks, the methods it names
(predict, transform, score, ...), feature names, and a SOM inside a Pipeline and a
GridSearchCV."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency, estimator_checks_generator

from zsom_core import SOM, bmu

from .helpers import METRICS, distance_matrix

# The checks fit many times on 1 to 200 samples: a small map and few epochs keep them quick.
CHECKED = SOM(3, 3, epochs=5, seed=0)

with warnings.catch_warnings():
    # The checks warn that a SOM does not inherit from BaseEstimator: it does not, on
    # purpose (see SOM.__sklearn_tags__). Listed here, not left to pytest to draw from
    # the generator, so that the warning is caught whichever scikit-learn yields them.
    warnings.filterwarnings("ignore", message="Estimator SOM does not inherit", category=UserWarning)
    CHECKS = [check for _, check in estimator_checks_generator(CHECKED)]


def _check_id(check) -> str:
    """A check's name, and the keywords it is bound to, as scikit-learn's own ids show them."""
    keywords = ",".join(f"{key}={value}" for key, value in check.keywords.items())
    return f"{check.func.__name__}({keywords})" if keywords else check.func.__name__


@pytest.mark.parametrize("check", CHECKS, ids=_check_id)
def test_scikit_learn_estimator_checks(check):
    """Every check scikit-learn yields for the estimator passes: none is expected to fail.

    One may skip itself, as it does for every estimator: ``check_array_api_input``, which
    recent scikit-learn yields for all, runs only where SCIPY_ARRAY_API=1 was set before
    SciPy was imported (it passes then too). The clustering checks are not yielded: they
    are for subclasses of ClusterMixin, and expect a ``labels_`` attribute and clusters
    that each hold a sample, where a map's units may win none.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimator SOM does not inherit", category=UserWarning)
        check(CHECKED)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(11).normal(size=(80, 4)) * [1.0, 3.0, 0.5, 2.0]


@pytest.fixture(scope="module")
def trained(X):
    return SOM(4, 3, epochs=3, seed=0).fit(X)


class Frame:
    """The least that a data frame offers and the estimator reads: ``columns``, ``shape``
    and conversion to an array. Feature names are tested with it where pandas is absent."""

    def __init__(self, values, columns):
        self.values = np.asarray(values)
        self.columns = list(columns)
        self.shape = self.values.shape

    def __array__(self, dtype=None, copy=None):
        return self.values if dtype is None else self.values.astype(dtype)


# ------------------------------------------------------------------ predict, transform, score


@pytest.mark.parametrize("use_numba", [True, False], ids=["numba", "reference"])
def test_predict_is_bmus(trained, X, use_numba):
    som = clone(trained).set_params(use_numba=use_numba).fit(X)
    labels = som.predict(X)
    assert labels.dtype == np.int64 and labels.shape == (len(X),)
    np.testing.assert_array_equal(labels, som.bmus(X))


@pytest.mark.parametrize("metric, p", [*((name, 2.0) for name in METRICS if name != "minkowski"),
                                       ("minkowski", 3.0), ("minkowski", 2.5), ("minkowski", 1.0)],
                         ids=[*(name for name in METRICS if name != "minkowski"), "minkowski-3", "minkowski-2.5",
                              "minkowski-1"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("use_numba", [True, False], ids=["numba", "reference"])
def test_transform_is_the_distance_to_every_unit(X, metric, p, dtype, use_numba):
    som = SOM(4, 3, metric=metric, p=p, dtype=dtype, use_numba=use_numba, epochs=3, seed=0).fit(X)
    distances = som.transform(X)
    assert distances.shape == (len(X), 12) and distances.dtype == np.dtype(dtype)
    expected = distance_matrix(X, som.weights_.reshape(12, -1), metric, p)
    tolerance = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(distances, expected, rtol=tolerance, atol=tolerance * expected.max())
    np.testing.assert_array_equal(np.argmin(distances, axis=1), som.predict(X))


def test_transform_of_data_far_from_the_origin_keeps_float32_precision(X):
    """Samples and weights are centred on the weights' mean before the cast to float32:
    uncentred, coordinates near 1e4 would leave float32 about 1e-3 of each distance."""
    far = X + 1e4
    som = SOM(4, 3, epochs=3, seed=0).fit(far)
    expected = distance_matrix(far, som.weights_.reshape(12, -1), "euclidean")
    np.testing.assert_allclose(som.transform(far), expected, rtol=1e-5, atol=1e-5)


def test_transform_in_blocks_gives_each_row_the_distances_it_has_alone(trained, X, monkeypatch):
    whole = trained.transform(X)
    monkeypatch.setattr(bmu, "SCORE_BLOCK_ELEMENTS", 1)  # blocks of MIN_BLOCK_ROWS rows, one per lane
    monkeypatch.setattr(bmu, "PARALLEL_MIN_ELEMENTS", 0)  # on the engine's threads, small as the work is
    np.testing.assert_array_equal(trained.transform(X), whole)
    np.testing.assert_array_equal(np.vstack([trained.transform(X[i : i + 1]) for i in range(len(X))]), whole)


def test_score_is_minus_the_quantization_error(trained, X):
    assert trained.score(X) == -trained.quantization_error(X)
    assert trained.score(X, y=np.zeros(len(X))) == trained.score(X)
    assert SOM(6, 6, epochs=3, seed=0).fit(X).score(X) > trained.score(X)  # a finer map quantizes better


def test_fit_predict_and_fit_transform_are_fit_then_the_method(trained, X):
    np.testing.assert_array_equal(clone(trained).fit_predict(X), trained.predict(X))
    np.testing.assert_array_equal(clone(trained).fit_transform(X), trained.transform(X))
    np.testing.assert_array_equal(clone(trained).fit_predict(X, epochs=1), SOM(4, 3, seed=0).fit(X, epochs=1).bmus(X))


def test_fit_ignores_y(trained, X):
    som = clone(trained).fit(X, np.arange(len(X)))
    np.testing.assert_array_equal(som.weights_, trained.weights_)


def test_methods_before_fit_raise_scikit_learns_not_fitted_error(X):
    for method in ("predict", "transform", "score", "bmus"):
        with pytest.raises(NotFittedError, match=r"this SOM is not trained yet"):
            getattr(SOM(3, 3), method)(X)
    assert issubclass(NotFittedError, ValueError)  # what is raised where scikit-learn is not loaded


def test_wrong_number_of_features_is_named_as_scikit_learn_names_it(trained, X):
    for method in ("predict", "transform", "score"):
        with pytest.raises(ValueError, match=r"X has 2 features, but SOM is expecting 4 features as input"):
            getattr(trained, method)(X[:, :2])


def test_tags_say_what_the_estimator_takes_and_gives():
    tags = get_tags(SOM())
    assert tags.estimator_type == "clusterer" and not tags.target_tags.required
    assert tags.transformer_tags.preserves_dtype == ["float32"]
    assert get_tags(SOM(dtype="float64")).transformer_tags.preserves_dtype == ["float64"]
    assert not tags.input_tags.sparse and tags.input_tags.allow_nan  # NaN: a missing value


# ------------------------------------------------------------------ parameters and clones


def test_clone_is_an_equal_unfitted_estimator(trained):
    copy = clone(trained)
    assert copy is not trained and copy.get_params() == trained.get_params()
    assert not hasattr(copy, "weights_") and not hasattr(copy, "n_features_in_")
    assert repr(copy) == repr(trained) == "SOM(4, 3, epochs=3, seed=0)"


def test_deep_params_are_the_params_a_som_holding_no_estimator(trained):
    assert trained.get_params(deep=True) == trained.get_params(deep=False)
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'width__x' for SOM"):
        SOM().set_params(width__x=1)


# ------------------------------------------------------------------ feature names


def test_fit_on_a_frame_keeps_its_column_names(X):
    som = SOM(3, 3, epochs=2, seed=0).fit(Frame(X, ["a", "b", "c", "d"]))
    assert som.feature_names_in_.dtype == object and som.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    assert som.n_features_in_ == 4
    unnamed = SOM(3, 3, epochs=2, seed=0).fit(X)
    np.testing.assert_array_equal(som.predict(Frame(X, ["a", "b", "c", "d"])), unnamed.predict(X))


def test_names_are_kept_only_when_all_are_strings(X):
    assert not hasattr(SOM(3, 3, epochs=1).fit(Frame(X, [0, 1, 2, 3])), "feature_names_in_")
    assert not hasattr(SOM(3, 3, epochs=1).fit(X), "feature_names_in_")
    with pytest.raises(TypeError, match=r"feature names are kept and checked only when all are strings, but X has "
                                        r"column names of types \['int', 'str'\]"):
        SOM(3, 3, epochs=1).fit(Frame(X, ["a", 1, "c", "d"]))


def test_a_fit_without_names_forgets_those_of_the_fit_before(X):
    som = SOM(3, 3, epochs=1).fit(Frame(X, ["a", "b", "c", "d"]))
    som.fit(X)
    assert not hasattr(som, "feature_names_in_")


@pytest.mark.parametrize(
    "columns, match",
    [
        (["d", "c", "b", "a"], r"Feature names must be in the same order as they were in fit"),
        (["a", "b", "c", "e"], r"Feature names unseen at fit time:\n- e\nFeature names seen at fit time, yet now "
                               r"missing:\n- d\n"),
    ],
    ids=["reordered", "renamed"],
)
def test_other_names_than_fits_raise(X, columns, match):
    som = SOM(3, 3, epochs=1).fit(Frame(X, ["a", "b", "c", "d"]))
    for method in ("predict", "transform", "score", "bmus"):
        with pytest.raises(ValueError, match=r"The feature names should match those that were passed during fit\.\n"
                                             + match):
            getattr(som, method)(Frame(X, columns))


def test_names_on_one_side_only_warn_at_the_callers_line(X):
    named = SOM(3, 3, epochs=1).fit(Frame(X, ["a", "b", "c", "d"]))
    with pytest.warns(UserWarning, match=r"X does not have valid feature names, but SOM was fitted with feature "
                                         r"names") as record:
        named.transform(X)
    assert record[0].filename == __file__
    unnamed = SOM(3, 3, epochs=1).fit(X)
    with pytest.warns(UserWarning, match=r"X has feature names, but SOM was fitted without feature names") as record:
        unnamed.score(Frame(X, ["a", "b", "c", "d"]))
    assert record[0].filename == __file__


def test_pandas_data_frames_keep_their_column_names(X):
    pd = pytest.importorskip("pandas", reason="pandas is not installed: data frames are tested with Frame alone")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    som = SOM(3, 3, epochs=2, seed=0).fit(frame)
    assert som.feature_names_in_.tolist() == ["a", "b", "c", "d"] and som.n_features_in_ == 4
    np.testing.assert_array_equal(som.predict(frame), SOM(3, 3, epochs=2, seed=0).fit(X).predict(X))
    with pytest.raises(ValueError, match=r"Feature names must be in the same order"):
        som.predict(frame[["b", "a", "c", "d"]])
    check_dataframe_column_names_consistency("SOM", SOM(3, 3, epochs=2, seed=0))


def test_save_and_load_keep_the_feature_names(tmp_path, X):
    som = SOM(3, 3, epochs=2, seed=0).fit(Frame(X, ["a", "b", "c", "d"]))
    som.save(tmp_path / "named.npz")
    back = SOM.load(tmp_path / "named.npz")
    assert back.feature_names_in_.dtype == object and back.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the names match: no warning
        np.testing.assert_array_equal(back.predict(Frame(X, ["a", "b", "c", "d"])),
                                      som.predict(Frame(X, ["a", "b", "c", "d"])))
    SOM(3, 3, epochs=1).fit(X).save(tmp_path / "unnamed.npz")
    assert not hasattr(SOM.load(tmp_path / "unnamed.npz"), "feature_names_in_")


def test_load_rejects_feature_names_that_do_not_fit_the_weights(tmp_path, X):
    import json

    SOM(3, 3, epochs=1).fit(X).save(tmp_path / "map.npz")
    with np.load(tmp_path / "map.npz") as arrays:
        arrays = dict(arrays)
    config = json.loads(str(arrays["config"]))
    arrays["config"] = np.array(json.dumps({**config, "feature_names": ["a", "b"]}))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"is not a saved ZSOM map: feature_names must be a list of 4 strings"):
        SOM.load(tmp_path / "bad.npz")


# ------------------------------------------------------------------ in scikit-learn's tools


def test_a_som_in_a_pipeline_after_a_scaler(X):
    pipeline = Pipeline([("scale", StandardScaler()), ("som", SOM(4, 3, epochs=3, seed=0))]).fit(X)
    scaled = StandardScaler().fit_transform(X)
    alone = SOM(4, 3, epochs=3, seed=0).fit(scaled)
    np.testing.assert_array_equal(pipeline.predict(X), alone.predict(scaled))
    np.testing.assert_array_equal(pipeline.transform(X), alone.transform(scaled))
    assert pipeline.score(X) == alone.score(scaled)
    assert pipeline.get_params()["som__sigma"] is None
    pipeline.set_params(som__sigma=1.0)
    assert pipeline.named_steps["som"].sigma == 1.0


def test_grid_search_picks_the_setting_with_the_lowest_quantization_error(blobs):
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("som", SOM(3, 3, epochs=3, seed=0))]),
                          {"som__width": [2, 5], "som__sigma": [0.5, 1.5]}, cv=3).fit(blobs)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0) and search.best_score_ == scores.max()
    assert search.best_params_["som__width"] == 5  # more units, smaller quantization error
    best = search.best_estimator_.named_steps["som"]
    assert (best.width, best.sigma) == (search.best_params_["som__width"], search.best_params_["som__sigma"])
    assert search.best_estimator_.predict(blobs).shape == (len(blobs),)
