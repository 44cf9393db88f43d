"""The map's drawable structure, projections and subsamples (plain NumPy)."""

import numpy as np
import pytest

from components.geometry import (
    BREAK,
    chain_edges,
    decimate_mesh,
    map_structure,
    pca_basis,
    polyline_points,
    project,
    segments,
    subsample_indices,
)
from zsom_core.grid import Grid


def edges_of(sequence: np.ndarray) -> list[tuple[int, int]]:
    pairs = []
    for a, b in zip(sequence[:-1], sequence[1:]):
        if a != BREAK and b != BREAK:
            pairs.append((min(a, b), max(a, b)))
    return pairs


@pytest.mark.parametrize("topology", ["square", "hex"])
@pytest.mark.parametrize("shape", [(2, 2), (5, 3), (1, 7), (30, 30)])
def test_polyline_draws_every_edge_exactly_once(topology, shape):
    structure = map_structure(*shape, topology)
    drawn = edges_of(structure.polyline)
    assert len(drawn) == len(set(drawn)) == len(structure.edges)
    assert set(drawn) == {tuple(edge) for edge in structure.edges.tolist()}


def test_polyline_is_shorter_than_separate_segments():
    structure = map_structure(30, 30, "hex")
    # Separate segments need three entries per edge; walks need about one.
    assert len(structure.polyline) < 1.2 * len(structure.edges)


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_toroidal_wrap_edges_are_not_drawn(topology):
    grid = Grid(6, 4, topology, toroidal=True)
    flat = Grid(6, 4, topology)
    assert len(grid.edges()) > len(flat.edges())
    structure = map_structure(6, 4, topology)
    ends = structure.positions[structure.edges]
    lengths = np.linalg.norm(ends[:, 0] - ends[:, 1], axis=1)
    assert np.allclose(lengths, 1.0)


def test_square_surface_has_two_triangles_per_cell():
    structure = map_structure(5, 4, "square")
    assert structure.triangles.shape == (2 * 4 * 3, 3)


def test_hex_surface_triangles_join_mutual_neighbours():
    structure = map_structure(6, 5, "hex")
    positions = structure.positions
    for i, j, k in structure.triangles:
        for a, b in ((i, j), (j, k), (i, k)):
            assert np.isclose(np.linalg.norm(positions[a] - positions[b]), 1.0)
    # An offset-row hex grid of w x h units has 2 (w - 1)(h - 1) triangles.
    assert len(structure.triangles) == 2 * 5 * 4


def test_chain_edges_of_a_path_is_one_walk():
    edges = np.array([[0, 1], [1, 2], [2, 3]])
    sequence = chain_edges(edges, 4)
    assert BREAK not in sequence
    assert sorted(edges_of(sequence)) == [(0, 1), (1, 2), (2, 3)]


def test_polyline_points_have_nan_gaps():
    points = np.arange(12, dtype=np.float64).reshape(4, 3)
    line = polyline_points(points, np.array([0, 1, BREAK, 2, 3]))
    assert line.dtype == np.float32
    assert np.isnan(line[2]).all()
    assert np.array_equal(line[[0, 1, 3, 4]], points.astype(np.float32))


def test_segments_interleave_starts_ends_and_gaps():
    starts = np.zeros((2, 2))
    ends = np.ones((2, 2))
    out = segments(starts, ends)
    assert out.shape == (6, 2)
    assert np.isnan(out[2]).all() and np.isnan(out[5]).all()
    assert (out[1] == 1).all()


def test_subsample_is_deterministic_sorted_and_capped():
    a = subsample_indices(10_000, 500, seed=3)
    assert len(a) == 500 and np.all(np.diff(a) > 0)
    assert np.array_equal(a, subsample_indices(10_000, 500, seed=3))
    assert np.array_equal(subsample_indices(7, 500), np.arange(7))


def test_pca_projection_keeps_the_widest_directions():
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2000, 6)) * np.array([10, 5, 2, 0.1, 0.1, 0.1])
    basis = pca_basis(data, 3)
    shown = project(data, basis)
    assert shown.shape == (2000, 3)
    spreads = shown.std(axis=0)
    assert spreads[0] > spreads[1] > spreads[2] > 1.0


def test_pca_basis_pads_missing_components():
    mean, axes = pca_basis(np.random.default_rng(0).normal(size=(50, 2)), 3)
    assert axes.shape == (3, 2)
    assert np.allclose(axes[2], 0)


def test_decimate_mesh_keeps_a_small_mesh_and_shrinks_a_big_one():
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(5000, 3))
    faces = rng.integers(0, 5000, size=(20_000, 3))
    same_v, same_f = decimate_mesh(vertices, faces[:100], 1000)
    assert same_f.shape == (100, 3)
    small_v, small_f = decimate_mesh(vertices, faces, 3000)
    assert 0 < len(small_f) <= 3000
    assert small_f.max() < len(small_v)
    assert small_v.dtype == np.float32 and small_f.dtype == np.int32
