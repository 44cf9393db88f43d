"""The topographic product, trustworthiness and neighbourhood preservation, against plain
implementations written from the papers' formulas and against scikit-learn's
trustworthiness; and ``SOM.quality``."""

import itertools

import numpy as np
import pytest
from sklearn.manifold import trustworthiness as sklearn_trustworthiness

from zsom_core import SOM, Grid
from zsom_core.quality import rank_errors, topographic_product

from .helpers import fitted_som


def _euclidean(A, B):
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(axis=-1))


def plain_topographic_product(grid_distances, weight_distances):
    """Bauer and Pawelzik's formula, one (j, k) at a time; ties by unit index."""
    m = len(grid_distances)
    total = 0.0
    for j in range(m):
        others = [u for u in range(m) if u != j]
        by_grid = sorted(others, key=lambda u: (grid_distances[j, u], u))
        by_weights = sorted(others, key=lambda u: (weight_distances[j, u], u))
        for k in range(1, m):
            product = 1.0
            for position in range(k):
                q1 = weight_distances[j, by_grid[position]] / weight_distances[j, by_weights[position]]
                q2 = grid_distances[j, by_grid[position]] / grid_distances[j, by_weights[position]]
                product *= q1 * q2
            total += np.log(product ** (1.0 / (2 * k)))
    return total / (m * (m - 1))


def plain_rank_errors(input_distances, output_distances, k):
    """Venna and Kaski's trustworthiness and continuity, sample by sample; ties by index."""
    n = len(input_distances)
    trust = continuity = 0.0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        by_input = sorted(others, key=lambda j: (input_distances[i, j], j))
        by_output = sorted(others, key=lambda j: (output_distances[i, j], j))
        rank_in = {j: r + 1 for r, j in enumerate(by_input)}
        rank_out = {j: r + 1 for r, j in enumerate(by_output)}
        trust += sum(rank_in[j] - k for j in by_output[:k] if j not in by_input[:k])
        continuity += sum(rank_out[j] - k for j in by_input[:k] if j not in by_output[:k])
    scale = 2.0 / (n * k * (2 * n - 3 * k - 1))
    return 1 - scale * trust, 1 - scale * continuity


def test_a_perfectly_ordered_chain_has_topographic_product_zero_and_keeps_every_neighbourhood():
    grid = Grid(12, 1)
    weights = np.column_stack([np.arange(12.0) * 0.7, np.zeros(12)])
    assert topographic_product(weights, grid.distances, _euclidean(weights, weights)) == pytest.approx(0.0, abs=1e-15)
    som = fitted_som(weights.reshape(12, 1, 2))
    X = weights + np.random.default_rng(0).normal(scale=0.01, size=weights.shape)
    # Even k: a sample's k nearest on the chain are the same set on both sides of it
    # (an odd k would split a tie between the two next ones).
    for k in (2, 4):
        assert som.trustworthiness(X, k=k) == pytest.approx(1.0, abs=1e-12)
        assert som.neighbourhood_preservation(X, k=k) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("topology, toroidal", [("square", False), ("hex", False), ("square", True)])
def test_the_topographic_product_matches_the_formula(topology, toroidal):
    grid = Grid(4, 4, topology=topology, toroidal=toroidal)
    weights = np.random.default_rng(1).normal(size=(16, 3))
    weight_distances = _euclidean(weights, weights)
    assert topographic_product(weights, grid.distances, weight_distances) == pytest.approx(
        plain_topographic_product(grid.distances, weight_distances), rel=1e-12)


def test_a_folded_map_has_a_negative_topographic_product_and_a_stretched_one_a_positive():
    # A 1-D chain folded back on itself in a line, and a 2-D grid whose prototypes lie on a line.
    folded = np.concatenate([np.arange(6.0), np.arange(6.0)[::-1] + 0.3])[:, None]
    assert topographic_product(folded, Grid(12, 1).distances, _euclidean(folded, folded)) < 0
    line = np.arange(16.0)[:, None] + np.random.default_rng(2).normal(scale=0.01, size=(16, 1))
    assert topographic_product(line, Grid(4, 4).distances, _euclidean(line, line)) > 0


def test_coinciding_prototypes_have_no_topographic_product():
    weights = np.zeros((4, 2))
    assert np.isnan(topographic_product(weights, Grid(2, 2).distances, _euclidean(weights, weights)))


def test_rank_errors_match_the_formula_with_ties():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    # Outputs on a coarse lattice: many samples share a place, as samples share a best unit.
    Y = np.round(X[:, :2])
    D_in, D_out = _euclidean(X, X), _euclidean(Y, Y)
    for k in (1, 3, 7):
        got = rank_errors(40, k, lambda a, b: D_in[a:b], lambda a, b: D_out[a:b])
        assert got == pytest.approx(plain_rank_errors(D_in, D_out, k), abs=1e-12)


@pytest.mark.parametrize("k", [1, 5, 12])
def test_trustworthiness_matches_scikit_learn_where_no_distances_tie(k):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 6))
    Y = X[:, :2] + 0.3 * rng.normal(size=(300, 2))
    D_in, D_out = _euclidean(X, X), _euclidean(Y, Y)
    trust, _ = rank_errors(300, k, lambda a, b: D_in[a:b], lambda a, b: D_out[a:b])
    assert trust == pytest.approx(sklearn_trustworthiness(X, Y, n_neighbors=k), abs=1e-12)
    # Continuity is trustworthiness with the two spaces swapped.
    _, continuity = rank_errors(300, k, lambda a, b: D_in[a:b], lambda a, b: D_out[a:b])
    assert continuity == pytest.approx(sklearn_trustworthiness(Y, X, n_neighbors=k), abs=1e-12)


def test_the_map_is_the_projection_of_each_sample_onto_its_best_unit(blobs):
    som = SOM(5, 4, topology="hex", init="pca", seed=0).fit(blobs, epochs=20)
    bmus = som.predict(blobs)
    D_in = _euclidean(blobs, blobs)
    D_out = som.grid.distances[np.ix_(bmus, bmus)]
    expected = plain_rank_errors(D_in, D_out, 5)
    assert (som.trustworthiness(blobs), som.neighbourhood_preservation(blobs)) == pytest.approx(expected, abs=1e-12)


def test_quality_gathers_every_measure(blobs):
    som = SOM(5, 4, init="pca", seed=0).fit(blobs, epochs=20)
    quality = som.quality(blobs)
    assert quality == pytest.approx({
        "mqe": som.quantization_error(blobs),
        "topographic_error": som.topographic_error(blobs),
        "explained_variance": som.explained_variance(blobs),
        "kaski_lagus_error": som.kaski_lagus_error(blobs),
        "topographic_product": som.topographic_product(),
        "trustworthiness": som.trustworthiness(blobs),
        "neighbourhood_preservation": som.neighbourhood_preservation(blobs),
        "dead_units": som.dead_units(blobs),
    }, rel=1e-12)
    assert 0.5 < quality["trustworthiness"] <= 1 and 0.5 < quality["neighbourhood_preservation"] <= 1


def test_rank_measures_sample_at_most_max_samples_rows_and_skip_rows_with_gaps(blobs):
    som = SOM(5, 4, init="pca", seed=0).fit(blobs, epochs=10)
    sampled = [som.trustworthiness(blobs, max_samples=40, seed=s) for s in (0, 1)]
    assert sampled[0] != sampled[1]  # another draw, another sample
    with_gaps = blobs.copy()
    with_gaps[::3, 0] = np.nan
    complete = blobs[~np.isnan(with_gaps).any(axis=1)]
    assert som.trustworthiness(with_gaps) == pytest.approx(som.trustworthiness(complete), abs=1e-15)
    with pytest.raises(ValueError, match="below half"):
        som.trustworthiness(blobs[:8], k=5)


def test_the_neighbourhood_measures_cover_every_metric():
    X = np.random.default_rng(6).normal(size=(60, 3)) + 2.0
    for metric, p in itertools.product(("euclidean", "manhattan", "chebyshev", "cosine", "minkowski"), (3.0,)):
        som = SOM(4, 4, metric=metric, p=p, init="pca", seed=0).fit(X, epochs=10)
        measures = som.quality(X)
        assert all(np.isfinite(value) for value in measures.values()), (metric, measures)
