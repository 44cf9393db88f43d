"""Training: snapshots, the two algorithms, invariants over seeds, corner cases."""

import pickle

import numpy as np
import pytest

from zsom_core import SOM, Snapshot
from zsom_core.datasets import load_dataset
from zsom_core.neighborhood import neighborhood_weights

from .helpers import flat

PATHS = [
    pytest.param({}, id="numba-float32"),
    pytest.param({"dtype": "float64"}, id="numba-float64"),
    pytest.param({"use_numba": False}, id="reference"),
]


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(99).normal(size=(80, 4))


# ------------------------------------------------------------------ fit and iter_fit


@pytest.mark.parametrize("path", PATHS)
def test_fit_returns_self_with_learned_state(data, path):
    som = SOM(5, 3, seed=0, **path)
    assert som.fit(data, epochs=6) is som
    assert som.weights_.shape == (5, 3, 4) and som.weights_.dtype == np.float64
    assert som.n_features_in_ == 4
    for history in (som.mqe_history_, som.te_history_, som.sigma_history_, som.learning_rate_history_,
                     som.adaptive_history_):
        assert len(history) == 6
    assert all(0.0 <= te <= 1.0 for te in som.te_history_)
    assert np.isfinite(som.initial_mqe_)


@pytest.mark.parametrize("path", PATHS)
def test_iter_fit_yields_one_snapshot_per_epoch(data, path):
    som = SOM(5, 3, seed=0, **path)
    snapshots = list(som.iter_fit(data, epochs=5, with_u_matrix=True))
    assert len(snapshots) == 5
    schedule = som.schedule(5)
    for t, snap in enumerate(snapshots):
        assert isinstance(snap, Snapshot)
        assert (snap.epoch, snap.epochs) == (t + 1, 5)
        assert snap.weights.shape == (5, 3, 4)
        assert snap.hits.shape == (5, 3) and snap.hits.dtype == np.int64 and snap.hits.sum() == len(data)
        assert snap.u_matrix.shape == (5, 3)
        assert snap.sigma == schedule.sigma(t) and snap.learning_rate == schedule.learning_rate(t)
        assert snap.adaptive_decision is None
        assert snap.mqe == som.mqe_history_[t] and snap.topographic_error == som.te_history_[t]
    np.testing.assert_array_equal(snapshots[-1].weights, som.weights_)
    assert snapshots[0].u_matrix is not None
    assert next(SOM(5, 3, seed=0, **path).iter_fit(data, epochs=2)).u_matrix is None


@pytest.mark.parametrize("path", PATHS)
def test_snapshot_measures_describe_its_own_weights(data, path):
    som = SOM(4, 4, seed=0, init="random", **path)
    for snap in som.iter_fit(data, epochs=4, with_u_matrix=True):
        replay = SOM(4, 4, **path)
        replay.weights_, replay.n_features_in_ = snap.weights.copy(), 4
        assert replay.quantization_error(data) == pytest.approx(snap.mqe, rel=1e-12)
        assert replay.topographic_error(data) == pytest.approx(snap.topographic_error, abs=1e-12)
        np.testing.assert_array_equal(replay.activation_map(data), snap.hits)
        np.testing.assert_allclose(replay.u_matrix(), snap.u_matrix, rtol=1e-12)


def test_snapshots_are_independent_copies(data):
    som = SOM(4, 4, seed=0, init="random")
    snapshots = []
    for snap in som.iter_fit(data, epochs=4):
        snapshots.append((snap, snap.weights.copy(), snap.hits.copy()))
    for snap, weights, hits in snapshots:
        np.testing.assert_array_equal(snap.weights, weights)  # later epochs did not write into it
        np.testing.assert_array_equal(snap.hits, hits)
    first = snapshots[0][0]
    assert not np.shares_memory(first.weights, som.weights_)
    first.weights[:] = 0.0
    assert np.abs(som.weights_).sum() > 0
    assert not np.array_equal(snapshots[0][1], snapshots[-1][1])


def test_snapshot_pickle_round_trip(data):
    snap = next(SOM(4, 4, seed=0, adaptive_lr=True).iter_fit(data, epochs=3, with_u_matrix=True))
    back = pickle.loads(pickle.dumps(snap))
    for field in ("epoch", "epochs", "mqe", "topographic_error", "sigma", "learning_rate", "adaptive_decision"):
        assert getattr(back, field) == getattr(snap, field)
    for field in ("weights", "hits", "u_matrix"):
        np.testing.assert_array_equal(getattr(back, field), getattr(snap, field))
    assert back.adaptive_decision in {"slower", "faster", "hold"}


def test_stopping_early_keeps_the_last_finished_epoch(data):
    som = SOM(4, 4, seed=0)
    for snap in som.iter_fit(data, epochs=10):
        if snap.epoch == 3:
            break
    np.testing.assert_array_equal(som.weights_, snap.weights)
    assert len(som.mqe_history_) == 3


def test_refit_starts_afresh(data):
    som = SOM(4, 4, seed=0, init="random")
    first = som.fit(data, epochs=3).weights_.copy()
    som.fit(data[:, :2], epochs=2)
    assert som.weights_.shape == (4, 4, 2) and som.n_features_in_ == 2 and len(som.mqe_history_) == 2
    np.testing.assert_array_equal(SOM(4, 4, seed=0, init="random").fit(data, epochs=3).weights_, first)


# ------------------------------------------------------------------ the two algorithms


def textbook_online(X, W, orders, grid, schedule):
    """Kohonen's rule, one sample at a time: w_j += lr h(d(bmu, j)) (x - w_j)."""
    W = W.copy()
    for epoch, order in enumerate(orders):
        sigma, lr = schedule.sigma(epoch), schedule.learning_rate(epoch)
        for i in order:
            winner = np.argmin(np.linalg.norm(X[i] - W, axis=1))
            h = neighborhood_weights(grid.distances[winner], sigma, "gaussian")
            W += lr * h[:, None] * (X[i] - W)
    return W


@pytest.mark.parametrize("path", PATHS[1:])
def test_online_is_sequential_in_a_fresh_shuffled_order_each_epoch(data, path):
    epochs = 3
    start = SOM(4, 3, learning_rate=1e-300).fit(data, epochs=1).weights_.reshape(12, 4)  # the pca lattice
    som = SOM(4, 3, algorithm="online", seed=5, **path).fit(data, epochs=epochs)
    rng = np.random.default_rng(5)
    orders = [rng.permutation(len(data)) for _ in range(epochs)]
    expected = textbook_online(data, start, orders, som.grid, som.schedule(epochs))
    np.testing.assert_allclose(flat(som.weights_), expected, rtol=1e-9, atol=1e-12)
    # ... and not in the given order, nor in one order repeated
    unshuffled = textbook_online(data, start, [np.arange(len(data))] * epochs, som.grid, som.schedule(epochs))
    repeated = textbook_online(data, start, [orders[0]] * epochs, som.grid, som.schedule(epochs))
    assert not np.allclose(flat(som.weights_), unshuffled)
    assert not np.allclose(flat(som.weights_), repeated)


@pytest.mark.parametrize("path", PATHS)
def test_batch_is_the_damped_step_towards_the_neighbourhood_mean(data, path):
    """Replays a batch run with plain NumPy: W <- W + lr (T - W), T the h-weighted mean."""
    epochs = 3
    som = SOM(4, 3, seed=0, **path)
    W = SOM(4, 3, learning_rate=1e-300).fit(data, epochs=1).weights_.reshape(12, 4).copy()
    grid = som.grid
    for snap in som.iter_fit(data, epochs=epochs):
        first = np.argmin(((data[:, None] - W[None]) ** 2).sum(-1), axis=1)
        h = neighborhood_weights(grid.distances, snap.sigma, "gaussian")
        onehot = np.eye(12)[first]
        target = (h @ onehot.T @ data) / (h @ onehot.sum(axis=0))[:, None]
        W = W + snap.learning_rate * (target - W)
        np.testing.assert_allclose(snap.weights.reshape(12, 4), W, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ invariants over seeds


@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("init", ["random", "pca"])
def test_training_lowers_the_quantization_error(seed, init, algorithm):
    X = np.random.default_rng(seed).normal(size=(120, 3)) * [3.0, 1.0, 0.3]
    som = SOM(5, 4, init=init, algorithm=algorithm, seed=seed).fit(X, epochs=30)
    assert som.mqe_history_[-1] < som.initial_mqe_
    assert som.quantization_error(X) == pytest.approx(som.mqe_history_[-1], rel=1e-6)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_same_seed_gives_bit_identical_weights(seed, algorithm, path):
    X = np.random.default_rng(seed).normal(size=(60, 3))
    params = dict(init="random", algorithm=algorithm, **path)
    a = SOM(4, 4, seed=seed, **params).fit(X, epochs=3)
    b = SOM(4, 4, seed=seed, **params).fit(X, epochs=3)
    c = SOM(4, 4, seed=np.random.default_rng(seed), **params).fit(X, epochs=3)
    d = SOM(4, 4, seed=np.random.default_rng(seed), **params).fit(X, epochs=3)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    np.testing.assert_array_equal(c.weights_, d.weights_)
    assert a.mqe_history_ == b.mqe_history_ and c.mqe_history_ == d.mqe_history_
    # an int seed and a generator seeded with it drive the same stream
    np.testing.assert_array_equal(a.weights_, c.weights_)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_different_seeds_give_different_maps(seed, algorithm):
    X = np.random.default_rng(seed).normal(size=(60, 3))
    a = SOM(4, 4, init="random", algorithm=algorithm, seed=seed).fit(X, epochs=2)
    b = SOM(4, 4, init="random", algorithm=algorithm, seed=seed + 1).fit(X, epochs=2)
    assert not np.allclose(a.weights_, b.weights_)


def test_online_order_depends_on_the_seed_even_with_pca_init(data):
    a = SOM(4, 4, algorithm="online", seed=0).fit(data, epochs=2)
    b = SOM(4, 4, algorithm="online", seed=1).fit(data, epochs=2)
    assert not np.allclose(a.weights_, b.weights_)


def test_bmus_agree_with_brute_force_after_training(seed):
    X = np.random.default_rng(seed).normal(size=(300, 5))
    som = SOM(5, 5, seed=seed, dtype="float64").fit(X, epochs=5)
    W = som.weights_.reshape(-1, 5)
    np.testing.assert_array_equal(som.bmus(X), np.argmin(((X[:, None] - W[None]) ** 2).sum(-1), axis=1))


# ------------------------------------------------------------------ corner cases


@pytest.mark.parametrize("init", ["random", "pca"])
@pytest.mark.parametrize("path", PATHS)
def test_duplicate_points(path, init):
    points = np.random.default_rng(4).normal(size=(12, 2))
    X = np.repeat(points, 10, axis=0)
    som = SOM(3, 3, init=init, seed=0, **path).fit(X, epochs=6)
    assert np.isfinite(som.weights_).all()
    # every copy of a point has the same BMU
    bmus = som.bmus(X).reshape(12, 10)
    np.testing.assert_array_equal(bmus, bmus[:, :1].repeat(10, axis=1))
    # the batch map only sees means: ten copies of each point train the map one copy does
    once = SOM(3, 3, init=init, seed=0, **path).fit(points, epochs=6)
    np.testing.assert_allclose(som.weights_, once.weights_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("init", ["random", "pca"])
@pytest.mark.parametrize("path", PATHS)
def test_constant_column(path, init):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=50), np.full(50, 7.0), rng.normal(size=50)])
    som = SOM(4, 3, init=init, seed=0, **path).fit(X, epochs=5)
    np.testing.assert_allclose(som.weights_[..., 1], 7.0, rtol=1e-12)
    assert np.isfinite(som.unit_errors(X, "mape")).any()


def test_all_points_identical():
    X = np.tile([[1.0, -2.0, 3.0]], (10, 1))
    for init in ("random", "pca"):
        som = SOM(3, 3, init=init, seed=0).fit(X, epochs=3)
        np.testing.assert_allclose(som.weights_, np.broadcast_to([1.0, -2.0, 3.0], (3, 3, 3)))
        assert som.quantization_error(X) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("path", PATHS)
def test_zero_vectors_under_cosine(path, algorithm):
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(size=(30, 3)), np.zeros((5, 3))])
    som = SOM(3, 3, metric="cosine", algorithm=algorithm, seed=0, **path).fit(X, epochs=4)
    assert np.isfinite(som.weights_).all() and np.isfinite(som.mqe_history_).all()
    scores = som.anomaly_scores(X)
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores[-5:], 1.0, rtol=1e-6)  # a zero vector is at distance 1
    assert np.all(scores >= 0) and np.all(scores <= 2 + 1e-6)


@pytest.mark.parametrize("path", PATHS)
def test_cosine_ignores_the_length_of_samples(path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    som = SOM(3, 3, metric="cosine", seed=0, **path).fit(X, epochs=3)
    np.testing.assert_array_equal(som.bmus(X), som.bmus(X * rng.uniform(0.1, 10.0, size=(40, 1))))


@pytest.mark.parametrize("shape", [(1, 6), (6, 1), (1, 2)])
@pytest.mark.parametrize("path", PATHS)
def test_one_by_n_grid(shape, path):
    X = np.random.default_rng(0).normal(size=(40, 2))
    som = SOM(*shape, seed=0, **path).fit(X, epochs=5)
    assert som.weights_.shape == (*shape, 2)
    assert som.u_matrix().shape == shape and np.isfinite(som.u_matrix()).all()
    assert som.activation_map(X).shape == shape


@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("path", PATHS)
def test_one_feature(path, algorithm):
    X = np.random.default_rng(0).uniform(0, 10, size=(50, 1))
    som = SOM(1, 5, algorithm=algorithm, seed=0, **path).fit(X, epochs=15)
    w = som.weights_[0, :, 0]
    assert np.all(np.diff(w) > 0) or np.all(np.diff(w) < 0), "a 1-D chain on 1-D data orders itself"
    assert som.topographic_error(X) == 0.0
    np.testing.assert_array_equal(som.bmus(X[:, 0]), som.bmus(X))  # 1-D input for a 1-feature map


@pytest.mark.parametrize("path", PATHS)
def test_integer_and_float32_input(path):
    Xi = np.random.default_rng(0).integers(-5, 5, size=(40, 3))
    a = SOM(3, 3, seed=0, **path).fit(Xi, epochs=3)
    b = SOM(3, 3, seed=0, **path).fit(Xi.astype(np.float64), epochs=3)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.weights_.dtype == np.float64
    X32 = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    c = SOM(3, 3, seed=0, **path).fit(X32, epochs=3)
    d = SOM(3, 3, seed=0, **path).fit(X32.astype(np.float64), epochs=3)
    np.testing.assert_array_equal(c.weights_, d.weights_)
    np.testing.assert_array_equal(c.bmus(X32), d.bmus(X32.astype(np.float64)))
    e = SOM(3, 3, seed=0, **path).fit(Xi.tolist(), epochs=3)  # nested lists
    np.testing.assert_array_equal(a.weights_, e.weights_)


@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("path", PATHS)
def test_two_samples(path, algorithm):
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    som = SOM(2, 2, algorithm=algorithm, seed=0, **path).fit(X, epochs=5)
    assert np.isfinite(som.weights_).all()
    assert som.activation_map(X).sum() == 2
    assert som.quantization_error(X) < np.linalg.norm(X[1] - X[0]) / 2


@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble", "mexican_hat", "triangle"])
@pytest.mark.parametrize("topology, toroidal", [("square", False), ("hex", True)])
def test_every_neighbourhood_trains_to_a_finite_map(neighborhood, topology, toroidal):
    X = np.random.default_rng(3).normal(size=(100, 3))
    for algorithm in ("batch", "online"):
        som = SOM(4, 4, topology=topology, toroidal=toroidal, neighborhood=neighborhood, algorithm=algorithm,
                  seed=0).fit(X, epochs=6)
        assert np.isfinite(som.weights_).all()
        assert np.isfinite(som.mqe_history_).all()


@pytest.fixture(scope="module")
def real_data():
    """A 2,000-point sample of the bunny's surface and the 2-D clusters, as the dashboard loads them."""
    return {"bunny": load_dataset("bunny", n=2_000, seed=0).points, "clusters": load_dataset("clusters", seed=0).points}


@pytest.mark.parametrize("dataset", ["bunny", "clusters"])
@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble", "mexican_hat", "triangle"])
def test_every_neighbourhood_lowers_the_quantization_error(real_data, dataset, algorithm, neighborhood):
    X = real_data[dataset]
    som = SOM(8, 6, topology="hex", neighborhood=neighborhood, algorithm=algorithm, sigma=2.0, sigma_end=0.5,
              seed=0).fit(X, epochs=20)
    assert som.mqe_history_[-1] < som.initial_mqe_
    assert som.dead_units(X) < som.grid.n_units / 4


def test_predict_on_a_single_sample(data):
    som = SOM(4, 4, seed=0).fit(data, epochs=2)
    assert som.bmus(data[:1]).shape == (1,)
    assert som.bmus(data[:1])[0] == som.bmus(data)[0]


# ------------------------------------------------------------------ weights stay near the data


@pytest.mark.parametrize("algorithm", ["batch", "online"])
@pytest.mark.parametrize("neighborhood", ["gaussian", "bubble", "triangle"])
def test_non_negative_neighbourhoods_keep_weights_in_the_data_box(seed, neighborhood, algorithm):
    """With h >= 0 and lr <= 1 every update is a convex combination: a map started inside
    the data's bounding box stays inside it."""
    X = np.random.default_rng(seed).normal(size=(100, 3)) * [1.0, 5.0, 0.2]
    som = SOM(6, 6, init="random", neighborhood=neighborhood, algorithm=algorithm, learning_rate=0.9,
              seed=seed).fit(X, epochs=8)
    W = flat(som.weights_)
    assert np.all(W >= X.min(axis=0) - 1e-12) and np.all(W <= X.max(axis=0) + 1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_mexican_hat_keeps_weights_near_the_data(algorithm):
    X = np.random.default_rng(3).normal(size=(200, 3))
    som = SOM(10, 10, neighborhood="mexican_hat", algorithm=algorithm, seed=3).fit(X, epochs=10)
    assert np.abs(som.weights_).max() < 10 * np.abs(X).max()
