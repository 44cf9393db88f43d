"""Batch training on Dask collections, on a real two-process ``LocalCluster``: the same data,
seed and settings give the in-memory fit's weights (to 1e-10) and BMUs, whatever the
chunking, for every metric and topology, with missing values too."""

import numpy as np
import pytest

from zsom_core import SOM

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

pytestmark = pytest.mark.slow
METRICS = ["euclidean", "manhattan", "chebyshev", "cosine", "minkowski"]
TOPOLOGIES = [("square", False), ("hex", False), ("hex", True)]
# Uneven blocks, one of a single row.
CHUNKS = ((130, 1, 259, 210), (4,))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def blobs(n: int = 600, d: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(5, d))
    return centres[rng.integers(0, 5, n)] + rng.normal(size=(n, d))


def with_gaps(X: np.ndarray, seed: int = 1) -> np.ndarray:
    """One value in ten missing, at most one per row: a row with a single observed feature
    ties every unit under cosine (each is then +-1 along it), and an exact tie is broken by
    the last bits of the weights, which summing in another order changes."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    rows = np.flatnonzero(rng.random(len(X)) < 0.4)
    X[rows, rng.integers(0, X.shape[1], len(rows))] = np.nan
    return X


def same_fit(X: np.ndarray, distributed_X, **settings) -> tuple[SOM, SOM]:
    settings = {"width": 7, "height": 6, "dtype": "float64", "seed": 4, "epochs": 5, **settings}
    in_memory, on_dask = SOM(**settings).fit(X), SOM(**settings).fit(distributed_X)
    np.testing.assert_allclose(on_dask.weights_, in_memory.weights_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(on_dask.mqe_history_, in_memory.mqe_history_, rtol=1e-12)
    assert on_dask.te_history_ == pytest.approx(in_memory.te_history_, abs=1e-12)
    complete = X[~np.isnan(X).any(axis=1)]
    assert np.array_equal(on_dask.bmus(complete), in_memory.bmus(complete))
    return in_memory, on_dask


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("topology, toroidal", TOPOLOGIES)
def test_every_metric_and_topology_gives_the_in_memory_map(client, metric, topology, toroidal):
    X = blobs()
    same_fit(X, da.from_array(X, chunks=CHUNKS), metric=metric, p=3.0, topology=topology, toroidal=toroidal,
             height=6)


@pytest.mark.parametrize("init", ["pca", "random"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_missing_values_and_both_initialisations_give_the_in_memory_map(client, init, metric):
    X = with_gaps(blobs(seed=2))
    same_fit(X, da.from_array(X, chunks=CHUNKS), init=init, metric=metric)


def test_chunks_of_one_row_give_the_in_memory_map(client):
    X = blobs(n=48, d=3, seed=5)
    same_fit(X, da.from_array(X, chunks=(1, 3)), width=4, height=3, neighborhood="bubble")


def test_the_neighbourhoods_and_the_adaptive_rate_give_the_in_memory_map(client):
    X = blobs(seed=6)
    for neighborhood in ("gaussian", "mexican_hat", "triangle"):
        same_fit(X, da.from_array(X, chunks=CHUNKS), neighborhood=neighborhood, adaptive_lr=True,
                 decay="exponential")


def test_a_dask_data_frame_trains_with_its_column_names(client):
    import pandas as pd

    X = blobs(seed=7)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    _, on_dask = same_fit(X, dd.from_pandas(frame, npartitions=3))
    assert list(on_dask.feature_names_in_) == ["a", "b", "c", "d"]


def test_iter_fit_streams_snapshots_and_resumes(client):
    X = blobs(seed=8)
    settings = {"width": 6, "height": 5, "dtype": "float64", "seed": 1, "epochs": 6}
    snapshots = list(SOM(**settings).iter_fit(da.from_array(X, chunks=CHUNKS), with_u_matrix=True))
    assert [snapshot.epoch for snapshot in snapshots] == list(range(1, 7))
    assert snapshots[-1].hits.sum() == len(X) and snapshots[-1].u_matrix.shape == (6, 5)
    resumed = SOM(**settings).fit(da.from_array(X, chunks=CHUNKS), resume_from=snapshots[2])
    np.testing.assert_allclose(resumed.weights_, snapshots[-1].weights, rtol=0, atol=1e-12)


def test_what_a_dask_fit_cannot_do_is_refused_with_the_reason():
    X = da.from_array(blobs(), chunks=CHUNKS)
    with pytest.raises(ValueError, match="online algorithm .* cannot train on a Dask collection"):
        SOM(4, 4, algorithm="online").fit(X)
    with pytest.raises(ValueError, match="use_numba=False.* trains in memory only"):
        SOM(4, 4, use_numba=False).fit(X)
    infinite = blobs()
    infinite[3, 1] = np.inf
    with pytest.raises(ValueError, match="1 row\\(s\\) with infinite values"):
        SOM(4, 4).fit(da.from_array(infinite, chunks=CHUNKS))
    unobserved = blobs()
    unobserved[:, 2] = np.nan
    with pytest.raises(ValueError, match="1 feature\\(s\\) with no observed value"):
        SOM(4, 4).fit(da.from_array(unobserved, chunks=CHUNKS))
    with pytest.raises(ValueError, match="must be 2-D"):
        SOM(4, 4).fit(da.zeros(10, chunks=5))
