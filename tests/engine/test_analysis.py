"""Reading a trained map (zsom_core.analysis), its quality measures and the safe CSV,
against plain NumPy, SciPy and scikit-learn computations in the tests."""

import io
from collections import deque

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import davies_bouldin_score, silhouette_score

from zsom_core import SOM, analysis
from zsom_core.exports import assignments_frame, csv_bytes
from zsom_core.grid import Grid

GRIDS = [pytest.param(Grid(8, 6, "square"), id="square"), pytest.param(Grid(7, 6, "hex"), id="hex"),
         pytest.param(Grid(6, 6, "hex", toroidal=True), id="hex-toroidal")]


def blobs_on_halves(grid: Grid, seed: int = 0) -> np.ndarray:
    """Prototypes in two far-apart blobs: the left half of the grid in one, the right in the other."""
    rng = np.random.default_rng(seed)
    x, _ = grid.unit_coordinates(np.arange(grid.n_units))
    return rng.normal(size=(grid.n_units, 4)) * 0.1 + (x >= grid.width // 2)[:, None] * 10.0


def connected(grid: Grid, units: np.ndarray) -> bool:
    indptr, indices = grid.neighbor_lists
    members, seen, queue = set(units.tolist()), {int(units[0])}, deque([int(units[0])])
    while queue:
        unit = queue.popleft()
        for neighbour in indices[indptr[unit]:indptr[unit + 1]]:
            if neighbour in members and neighbour not in seen:
                seen.add(int(neighbour))
                queue.append(int(neighbour))
    return seen == members


def test_correlated_features_sit_side_by_side():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(200, 3))
    columns = [base[:, 0], rng.normal(size=200) * 0 + 5.0, -base[:, 1], base[:, 2],
               base[:, 0] + 0.05 * rng.normal(size=200), base[:, 1] + 0.05 * rng.normal(size=200),
               base[:, 2] * 2 + 0.05 * rng.normal(size=200)]
    order = analysis.order_features(np.column_stack(columns))
    assert sorted(order) == list(range(7)) and order[-1] == 1  # the constant feature last
    position = {feature: index for index, feature in enumerate(order)}
    for a, b in [(0, 4), (2, 5), (3, 6)]:
        assert abs(position[a] - position[b]) == 1
    assert analysis.order_features(np.ones((5, 2))).tolist() == [0, 1]


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("method", list(analysis.CLUSTER_METHODS))
def test_clusters_split_the_two_blobs_and_are_numbered_by_first_unit(grid, method):
    weights = blobs_on_halves(grid)
    labels = analysis.cluster_units(weights, 2, method, grid=grid)
    x, _ = grid.unit_coordinates(np.arange(grid.n_units))
    assert np.array_equal(labels, (x >= grid.width // 2).astype(int))
    labels = analysis.cluster_units(weights, 5, method, grid=grid)
    _, first = np.unique(labels, return_index=True)
    assert labels[0] == 0 and list(labels[np.sort(first)]) == list(range(5))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("method", ["ward", "average", "complete"])
def test_merging_grid_neighbours_only_gives_connected_patches(grid, method):
    weights = np.random.default_rng(1).normal(size=(grid.n_units, 3))
    labels = analysis.cluster_units(weights, 6, method, grid=grid)
    assert all(connected(grid, np.flatnonzero(labels == cluster)) for cluster in range(6))


@pytest.mark.parametrize("grid", [None, Grid(9, 7, "hex")])
@pytest.mark.parametrize("method", ["ward", "average", "complete"])
def test_one_tree_cut_at_every_k_gives_each_ks_clusters(grid, method):
    weights = np.random.default_rng(2).normal(size=(63, 5))
    connectivity = analysis._connectivity(grid, 63)
    tree = AgglomerativeClustering(n_clusters=1, linkage=method, compute_full_tree=True,
                                   connectivity=connectivity).fit(weights)
    cuts = analysis._cuts(tree.children_, 63, range(2, 16))
    for k in range(2, 16):
        direct = AgglomerativeClustering(n_clusters=k, linkage=method, connectivity=connectivity).fit_predict(weights)
        assert np.array_equal(cuts[k], analysis.stable_labels(direct))


def test_scores_are_scikit_learns_and_peak_where_the_data_does():
    rng = np.random.default_rng(4)
    weights = np.concatenate([rng.normal(size=(40, 2)) * 0.2 + centre for centre in ([0, 0], [8, 0], [0, 8])])
    scores = analysis.cluster_scores(weights, "ward", range(2, 10))
    assert scores["k"] == list(range(2, 10))
    assert scores["k"][int(np.argmax(scores["silhouette"]))] == 3
    for k, db, silhouette in zip(scores["k"], scores["davies_bouldin"], scores["silhouette"]):
        labels = analysis.cluster_units(weights, k, "ward")
        assert db == pytest.approx(davies_bouldin_score(weights, labels))
        assert silhouette == pytest.approx(silhouette_score(weights, labels))
    assert analysis.cluster_scores(weights[:5], "kmeans", range(2, 16))["k"] == [2, 3, 4]


@pytest.mark.parametrize("bad, message", [({"k": 1}, "k must"), ({"k": 48}, "k must"), ({"method": "dbscan"}, "ward"),
                                          ({"k": 2.5}, "k must")])
def test_a_bad_clustering_request_says_why(bad, message):
    arguments = {"k": 3, "method": "ward", **bad}
    with pytest.raises(ValueError, match=message):
        analysis.cluster_units(np.random.default_rng(0).normal(size=(48, 2)), arguments["k"], arguments["method"])
    with pytest.raises(ValueError, match="NaN"):
        analysis.cluster_units(np.full((10, 2), np.nan), 2)


def test_label_counts_majority_and_purity_against_a_loop():
    rng = np.random.default_rng(5)
    bmus, codes = rng.integers(0, 12, 300), rng.integers(-1, 4, 300)
    counts = analysis.label_counts(bmus, codes, 14, 4)
    expected = np.zeros((14, 4), dtype=int)
    for unit, code in zip(bmus, codes):
        if code >= 0:
            expected[unit, code] += 1
    assert np.array_equal(counts, expected)
    majority, purity = analysis.majority_labels(np.array([[2, 2, 1], [0, 0, 0], [0, 3, 1]]))
    assert majority.tolist() == [0, -1, 1]
    np.testing.assert_allclose(purity, [0.4, np.nan, 0.75])
    clusters = rng.integers(0, 3, 14)
    table = analysis.label_cluster_counts(clusters, bmus, codes, 3, 4)
    for cluster in range(3):
        rows = np.isin(bmus, np.flatnonzero(clusters == cluster)) & (codes >= 0)
        assert table[:, cluster].tolist() == np.bincount(codes[rows], minlength=4).tolist()


def test_the_anomaly_threshold_is_the_percentile_of_the_finite_distances():
    distances = np.r_[np.random.default_rng(6).exponential(size=500), np.nan]
    assert analysis.anomaly_threshold(distances) == pytest.approx(np.percentile(distances[:-1], 99))
    with pytest.raises(ValueError, match="percentile"):
        analysis.anomaly_threshold(distances, 101)


def fitted(grid: Grid, X: np.ndarray) -> SOM:
    return SOM(grid.width, grid.height, topology=grid.topology, toroidal=grid.toroidal, epochs=5, seed=0,
               dtype="float64").fit(X)


@pytest.mark.parametrize("missing", [False, True])
def test_explained_variance_against_numpy(missing):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 3)) * [1, 2, 3]
    if missing:
        X[rng.random(X.shape) < 0.1] = np.nan
        X[np.isnan(X).all(axis=1), 0] = 0.0
    som = fitted(Grid(6, 5, "hex"), X)
    weights = som.weights_.reshape(-1, 3)
    residual = X - weights[som.bmus(X)]
    expected = 100 - 100 * np.nansum(residual**2) / np.nansum((X - np.nanmean(X, axis=0)) ** 2)
    assert som.explained_variance(X) == pytest.approx(expected)
    assert som.explained_variance(X, match=som.match(X)) == pytest.approx(expected)
    samples = X[~np.isnan(X).any(axis=1)][:20]
    assert SOM.from_weights(samples.reshape(4, 5, 3), width=4, height=5).explained_variance(samples) == \
        pytest.approx(100.0)


def floyd_warshall(grid: Grid, weights: np.ndarray) -> np.ndarray:
    m = grid.n_units
    paths = np.full((m, m), np.inf)
    np.fill_diagonal(paths, 0.0)
    indptr, indices = grid.neighbor_lists
    for unit in range(m):
        for neighbour in indices[indptr[unit]:indptr[unit + 1]]:
            paths[unit, neighbour] = np.linalg.norm(weights[unit] - weights[neighbour])
    for via in range(m):
        paths = np.minimum(paths, paths[:, [via]] + paths[[via], :])
    return paths


@pytest.mark.parametrize("trained", [True, False], ids=["trained", "random-weights"])
@pytest.mark.parametrize("grid", GRIDS)
def test_kaski_lagus_error_against_floyd_warshall(grid, trained):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(250, 3))
    # Random prototypes put most samples' two best units far apart on the grid.
    som = fitted(grid, X) if trained else SOM.from_weights(
        rng.normal(size=(grid.width, grid.height, 3)), width=grid.width, height=grid.height,
        topology=grid.topology, toroidal=grid.toroidal)
    weights = som.weights_.reshape(-1, 3)
    distances = np.linalg.norm(X[:, None, :] - weights[None, :, :], axis=2)
    best_two = np.argsort(distances, axis=1, kind="stable")[:, :2]
    paths = floyd_warshall(grid, weights)
    expected = np.mean(distances[np.arange(len(X)), best_two[:, 0]] + paths[best_two[:, 0], best_two[:, 1]])
    assert som.kaski_lagus_error(X, block_rows=37) == pytest.approx(expected)


def test_kaski_lagus_error_of_neighbouring_best_units_is_one_step():
    weights = np.array([[[0.0], [1.0], [2.0]]])  # a 1 x 3 map on a line
    som = SOM.from_weights(weights, width=1, height=3)
    X = np.array([[0.4], [1.6]])
    assert som.kaski_lagus_error(X) == pytest.approx(np.mean([0.4 + 1.0, 0.4 + 1.0]))


def test_match_is_bmus_scores_and_hits_in_one_pass():
    X = np.random.default_rng(9).normal(size=(200, 4))
    som = fitted(Grid(5, 4), X)
    match = som.match(X)
    assert np.array_equal(match.first, som.bmus(X))
    np.testing.assert_allclose(match.distance, som.anomaly_scores(X))
    assert np.array_equal(match.counts.reshape(5, 4), som.activation_map(X))


def test_the_assignments_keep_every_column_and_add_the_units():
    original = pd.DataFrame({"id": ["a", "b", "c"], "bmu_x": [9, 9, 9], "v": [1.0, 2.0, 3.0]})
    grid = Grid(3, 4)
    frame = assignments_frame(original, [5, -1, 11], grid, [0.5, np.nan, 0.25], clusters=np.arange(12) % 3,
                              flagged=[True, False, False])
    assert list(frame.columns) == ["id", "bmu_x", "v", "bmu_x_som", "bmu_y", "bmu_index", "bmu_distance",
                                   "cluster", "flagged"]
    assert frame["bmu_x_som"].tolist()[::2] == [1, 2] and frame["bmu_y"].tolist()[::2] == [1, 3]
    assert frame["cluster"].tolist()[::2] == [5 % 3 + 1, 11 % 3 + 1] and pd.isna(frame["cluster"][1])


def test_the_csv_keeps_formulas_as_text_and_numbers_as_numbers():
    formulas = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "plain"]
    frame = pd.DataFrame({"id": formulas, "value": [-1.5, 2.0, -3.0, 0.0, 1e-9, np.nan, 7.0], "=col": range(7)})
    parsed = pd.read_csv(io.BytesIO(csv_bytes(frame)), keep_default_na=False)
    assert parsed["id"].tolist() == ["'" + text for text in formulas[:-1]] + ["plain"]
    assert list(parsed.columns) == ["id", "value", "'=col"]
    values = pd.to_numeric(parsed["value"].replace("", np.nan))
    np.testing.assert_array_equal(values.to_numpy(), frame["value"].to_numpy())
