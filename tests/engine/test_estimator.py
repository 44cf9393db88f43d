"""Estimator manners, as scikit-learn's: parameters from the constructor's signature,
get_params / set_params, clones, epochs as a parameter, and learned state that stays put."""

import inspect
import json

import numpy as np
import pytest

from zsom_core import SOM

CONFIGS = [
    pytest.param({}, id="defaults"),
    pytest.param({"topology": "hex", "toroidal": True, "metric": "manhattan", "neighborhood": "bubble",
                  "decay": "exponential", "init": "random", "dtype": "float64"}, id="hex-torus-random"),
    pytest.param({"algorithm": "online", "init": "random", "sigma": 2.0, "learning_rate": 0.3}, id="online"),
    pytest.param({"adaptive_lr": True, "cutoff": 2.0, "metric": "cosine"}, id="adaptive-cosine"),
]


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(5).normal(size=(120, 3)) * [1.0, 2.0, 0.5]


def _fitted_state(som):
    return (som.weights_, som.mqe_history_, som.te_history_, som.sigma_history_, som.learning_rate_history_,
            som.adaptive_history_)


def _assert_same_map(a, b):
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert _fitted_state(a)[1:] == _fitted_state(b)[1:]


# ------------------------------------------------------------------ get_params and set_params


def test_get_params_lists_every_constructor_parameter_in_signature_order():
    names = [name for name in inspect.signature(SOM.__init__).parameters if name != "self"]
    params = SOM().get_params()
    assert list(params) == names
    assert "epochs" in params and params["epochs"] == 10
    assert SOM().get_params(deep=False) == params


def test_get_params_returns_the_values_as_given():
    """As scikit-learn's clone requires: the constructor neither sets nor modifies a
    parameter, so every value comes back as the very object passed."""
    given = {"width": np.int64(4), "height": 3, "p": np.float32(3.0), "metric": "minkowski",
             "seed": np.random.default_rng(1), "cutoff": 2.5, "epochs": 7}
    params = SOM(**given).get_params()
    for name, value in given.items():
        assert params[name] is value
    rebuilt = SOM(**params).get_params()
    assert all(rebuilt[name] is value for name, value in params.items())


def test_set_params_changes_parameters_and_returns_self():
    som = SOM(4, 4)
    assert som.set_params(metric="cosine", epochs=3, width=6) is som
    assert (som.metric, som.epochs, som.width) == ("cosine", 3, 6)
    assert som.set_params() is som


def test_set_params_round_trips_get_params():
    source = SOM(5, 3, topology="hex", metric="chebyshev", sigma=1.5, learning_rate_end=0.01, epochs=4, seed=9)
    target = SOM().set_params(**source.get_params())
    assert target.get_params() == source.get_params()
    assert repr(target) == repr(source)


def test_set_params_rejects_an_unknown_name_and_changes_nothing():
    som = SOM(4, 4, metric="manhattan")
    before = som.get_params()
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) 'colour' for SOM; valid parameters: "
                                         r"width, height, topology, .*epochs.*use_numba"):
        som.set_params(metric="cosine", colour="red")
    assert som.get_params() == before


def test_set_params_stores_values_and_fit_validates_them_as_for_the_constructor(X):
    som = SOM(3, 4).set_params(metric="hamming", epochs=0)
    assert (som.metric, som.epochs) == ("hamming", 0)
    with pytest.raises(ValueError, match=r"unknown metric 'hamming'"):
        som.fit(X)
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got 0"):
        som.set_params(metric="euclidean").fit(X)


def test_set_params_of_the_grid_reaches_the_next_fit(X):
    som = SOM(4, 4, seed=0).fit(X, epochs=2)
    som.set_params(width=6, height=2, topology="hex")
    som.fit(X, epochs=2)
    assert som.weights_.shape == (6, 2, 3) and som.grid.shape == (6, 2) and som.grid.topology == "hex"
    _assert_same_map(som, SOM(6, 2, topology="hex", seed=0).fit(X, epochs=2))


# ------------------------------------------------------------------ clones


@pytest.mark.parametrize("config", CONFIGS)
def test_a_clone_from_get_params_trains_the_same_map_bit_for_bit(X, config, seed):
    som = SOM(5, 4, seed=seed, epochs=3, **config).fit(X)
    clone = SOM(**som.get_params())
    assert not hasattr(clone, "weights_")  # parameters only, no learned state
    _assert_same_map(clone.fit(X), som)
    np.testing.assert_array_equal(clone.bmus(X), som.bmus(X))


def test_a_clone_from_get_params_of_a_trained_map_ignores_later_changes(X):
    som = SOM(4, 4, seed=3, init="random")
    clone = SOM(**som.get_params())
    som.set_params(seed=4)
    assert clone.seed == 3
    assert not np.array_equal(clone.fit(X, epochs=2).weights_, som.fit(X, epochs=2).weights_)


# ------------------------------------------------------------------ epochs


def test_epochs_in_the_constructor_is_what_fit_trains(X):
    som = SOM(4, 4, epochs=4, seed=0).fit(X)
    assert len(som.mqe_history_) == 4 and som.schedule_.epochs == 4
    _assert_same_map(som, SOM(4, 4, seed=0).fit(X, epochs=4))
    assert som.schedule().epochs == 4


def test_epochs_given_to_fit_override_the_constructor_for_that_run_only(X):
    som = SOM(4, 4, epochs=4, seed=0).fit(X, epochs=2)
    assert len(som.mqe_history_) == 2 and som.schedule_.epochs == 2
    assert som.epochs == 4 and som.get_params()["epochs"] == 4
    _assert_same_map(som, SOM(4, 4, epochs=2, seed=0).fit(X))
    assert som.schedule(6).epochs == 6


def test_iter_fit_follows_the_constructor_epochs_unless_given(X):
    snapshots = list(SOM(4, 4, epochs=3, seed=0).iter_fit(X))
    assert [(snap.epoch, snap.epochs) for snap in snapshots] == [(1, 3), (2, 3), (3, 3)]
    snapshots = list(SOM(4, 4, epochs=3, seed=0).iter_fit(X, 5, with_u_matrix=True))
    assert [(snap.epoch, snap.epochs) for snap in snapshots][-1] == (5, 5)


def test_default_epochs_is_ten_as_before(X):
    som = SOM(3, 3, seed=0).fit(X)
    assert som.epochs == 10 and len(som.mqe_history_) == 10


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True, "5"])
def test_constructor_epochs_is_validated_at_fit(X, epochs):
    som = SOM(3, 4, epochs=epochs)
    assert som.epochs is epochs
    with pytest.raises(ValueError, match=r"epochs must be an integer >= 1, got"):
        som.fit(X)


# ------------------------------------------------------------------ learned state stays put


def test_weights_are_not_changed_by_later_epochs_of_iter_fit(X):
    som = SOM(4, 4, seed=0, init="random")
    seen = []
    for snap in som.iter_fit(X, epochs=4):
        weights = som.weights_
        np.testing.assert_array_equal(weights, snap.weights)
        assert not np.shares_memory(weights, snap.weights)
        seen.append((weights, weights.copy()))
    for weights, copy in seen:
        np.testing.assert_array_equal(weights, copy)
    assert not np.array_equal(seen[0][1], seen[-1][1])  # training did move the map


def test_changing_weights_between_epochs_does_not_steer_training(X):
    """``weights_`` is the estimator's record of the map, not the array training updates."""
    untouched = SOM(4, 4, seed=0).fit(X, epochs=3)
    som = SOM(4, 4, seed=0)
    for _ in som.iter_fit(X, epochs=3):
        som.weights_[:] = 0.0
    np.testing.assert_array_equal(som.mqe_history_, untouched.mqe_history_)


def test_weights_are_not_changed_by_a_later_fit(X):
    som = SOM(4, 4, seed=0).fit(X, epochs=2)
    weights, copy = som.weights_, som.weights_.copy()
    som.fit(X * 2.0, epochs=3)
    np.testing.assert_array_equal(weights, copy)
    assert not np.array_equal(som.weights_, copy)


def test_loaded_weights_are_the_maps_own(tmp_path, X):
    trained = SOM(4, 4, seed=0).fit(X, epochs=2)
    trained.save(tmp_path / "map.npz")
    back = SOM.load(tmp_path / "map.npz")
    weights, copy = back.weights_, back.weights_.copy()
    assert weights.flags.writeable and weights.flags.c_contiguous
    back.fit(X[::-1], epochs=2)
    np.testing.assert_array_equal(weights, copy)
    np.testing.assert_array_equal(trained.weights_, copy)


# ------------------------------------------------------------------ save and load


def test_save_and_load_round_trip_epochs(tmp_path, X):
    som = SOM(3, 4, epochs=7, seed=0).fit(X)
    som.save(tmp_path / "map.npz")
    with np.load(tmp_path / "map.npz", allow_pickle=False) as arrays:
        assert json.loads(str(arrays["config"]))["params"]["epochs"] == 7
    back = SOM.load(tmp_path / "map.npz")
    assert back.epochs == 7 and back.get_params() == som.get_params()
    _assert_same_map(SOM(**back.get_params()).fit(X), som)


def test_load_reads_files_saved_before_epochs_was_a_parameter(tmp_path, X):
    som = SOM(3, 4, seed=0).fit(X, epochs=2)
    params = {name: value for name, value in som.get_params().items() if name != "epochs"}
    path = tmp_path / "old.npz"
    np.savez(path, config=np.array(json.dumps({"format": 1, "params": params})), weights=som.weights_,
             mqe_history=np.asarray(som.mqe_history_), te_history=np.asarray(som.te_history_))
    back = SOM.load(path)
    assert back.epochs == 10
    np.testing.assert_array_equal(back.bmus(X), som.bmus(X))


def test_load_rejects_a_file_with_bad_epochs(tmp_path):
    params = {**SOM(3, 4).get_params(), "epochs": 0}
    path = tmp_path / "bad.npz"
    np.savez(path, config=np.array(json.dumps({"format": 1, "params": params})), weights=np.zeros((3, 4, 2)),
             mqe_history=np.zeros(1), te_history=np.zeros(1))
    with pytest.raises(ValueError, match=r"is not a saved ZSOM map: epochs must be an integer >= 1, got 0"):
        SOM.load(path)


def test_repr_shows_epochs_when_not_the_default():
    assert repr(SOM(4, 4, epochs=3)) == "SOM(4, 4, epochs=3)"
    assert repr(SOM(4, 4)) == "SOM(4, 4)"
