"""save / load: one .npz file of JSON configuration and arrays, no pickle."""

import json

import numpy as np
import pytest

from zsom_core import SOM


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(7).normal(size=(60, 3))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"topology": "hex", "toroidal": True, "metric": "manhattan", "neighborhood": "bubble", "cutoff": 2.0,
         "decay": "exponential", "sigma": 2.5, "learning_rate": 0.3, "dtype": "float64", "init": "random",
         "seed": 3},
        {"metric": "minkowski", "p": 3.5, "algorithm": "online", "adaptive_lr": True, "use_numba": False},
        {"sigma_end": 0.5, "learning_rate_end": 0.05, "metric": "cosine"},
    ],
    ids=["defaults", "hex-torus", "minkowski-online", "pinned-cosine"],
)
def test_round_trip_keeps_params_weights_and_bmus(tmp_path, data, params):
    som = SOM(4, 6, **params).fit(data, epochs=3)
    path = tmp_path / "map.npz"
    som.save(path)
    back = SOM.load(path)
    assert back.get_params() == som.get_params()
    np.testing.assert_array_equal(back.weights_, som.weights_)
    assert back.n_features_in_ == 3
    assert back.mqe_history_ == som.mqe_history_ and back.te_history_ == som.te_history_
    np.testing.assert_array_equal(back.bmus(data), som.bmus(data))
    assert back.quantization_error(data) == som.quantization_error(data)
    np.testing.assert_array_equal(back.u_matrix(), som.u_matrix())
    assert repr(back) == repr(som)


def test_saved_file_is_a_plain_npz_without_pickle(tmp_path, data):
    som = SOM(3, 4, seed=0).fit(data, epochs=2)
    path = tmp_path / "map.npz"
    som.save(str(path))  # a str path works as well as a Path
    with np.load(path, allow_pickle=False) as arrays:
        assert set(arrays.files) == {"config", "weights", "mqe_history", "te_history"}
        config = json.loads(str(arrays["config"]))
        np.testing.assert_array_equal(arrays["weights"], som.weights_)
        assert arrays["weights"].dtype == np.float64
    assert config["params"]["width"] == 3 and config["params"]["height"] == 4
    assert isinstance(config["format"], int)


def test_generator_seed_is_saved_as_none(tmp_path, data):
    som = SOM(3, 4, seed=np.random.default_rng(1)).fit(data, epochs=2)
    som.save(tmp_path / "map.npz")
    assert SOM.load(tmp_path / "map.npz").seed is None


def test_save_before_fit_raises(tmp_path):
    with pytest.raises(ValueError, match=r"not trained yet"):
        SOM(3, 4).save(tmp_path / "map.npz")
    assert not (tmp_path / "map.npz").exists()


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def _saved_npz(path, **overrides):
    arrays = {
        "config": np.array(json.dumps({"format": 1, "params": SOM(3, 4).get_params()})),
        "weights": np.zeros((3, 4, 2)),
        "mqe_history": np.zeros(1),
        "te_history": np.zeros(1),
    }
    arrays.update(overrides)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


def _truncated(path):
    SOM(3, 4, seed=0).fit(np.random.default_rng(0).normal(size=(20, 2)), epochs=1).save(path)
    content = path.read_bytes()
    return _write(path, content[: len(content) // 2])


def _bit_rot(path):
    SOM(3, 4, seed=0).fit(np.random.default_rng(0).normal(size=(20, 2)), epochs=1).save(path)
    content = bytearray(path.read_bytes())
    content[len(content) // 2 : len(content) // 2 + 40] = b"x" * 40
    return _write(path, bytes(content))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: _write(p, b"hello, I am text\n"), r"is not a saved ZSOM map"),
        (lambda p: _write(p, bytes(range(256)) * 4), r"is not a saved ZSOM map"),
        (_truncated, r"is not a saved ZSOM map"),
        (_bit_rot, r"is not a saved ZSOM map"),
        (lambda p: p.parent / "missing.npz", r"is not a saved ZSOM map"),
        (lambda p: _saved_npz(p, weights=None), r"is not a saved ZSOM map"),
        (lambda p: _saved_npz(p, config=np.array("{not json")), r"is not a saved ZSOM map"),
        (lambda p: _saved_npz(p, config=np.array(json.dumps({"format": 99, "params": {}}))), r"format 99"),
        (lambda p: _saved_npz(p, weights=np.zeros((4, 3, 2))), r"do not fit a 3 x 4 grid"),
        (lambda p: _saved_npz(p, config=np.array(json.dumps(
            {"format": 1, "params": {**SOM(3, 4).get_params(), "metric": "hamming"}}))), r"unknown metric"),
    ],
    ids=["text", "binary", "truncated", "bit-rot", "missing", "no-weights", "config-not-json",
         "other-format", "wrong-shape", "bad-param"],
)
def test_load_of_a_bad_file_raises_value_error(tmp_path, make, match):
    path = make(tmp_path / "map.npz")
    with pytest.raises(ValueError, match=match):
        SOM.load(path)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: (np.save(p.with_suffix(".npy"), np.zeros(3)), p.with_suffix(".npy"))[1],
                     id="npy-not-npz"),
        pytest.param(lambda p: _write(p, b""), id="empty-file"),
        pytest.param(lambda p: _saved_npz(p, config=np.array("[1, 2]")), id="config-not-an-object"),
        pytest.param(lambda p: _saved_npz(p, config=np.array(json.dumps({"format": 1, "params": {"colour": 1}}))),
                     id="unknown-param"),
        pytest.param(lambda p: _saved_npz(p, weights=np.zeros((3, 4))), id="weights-2d"),
    ],
)
def test_load_of_a_malformed_file_raises_value_error(tmp_path, make):
    path = make(tmp_path / "map.npz")
    with pytest.raises(ValueError):
        SOM.load(path)


def test_save_with_numpy_integer_grid_size(tmp_path, data):
    som = SOM(np.int64(3), np.int64(4), seed=0).fit(data, epochs=2)
    som.save(tmp_path / "map.npz")
    assert SOM.load(tmp_path / "map.npz").get_params()["width"] == 3
