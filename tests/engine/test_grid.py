"""The lattice: positions, grid distances, neighbours and adjacency."""

import numpy as np
import pytest

from zsom_core import Grid

from .helpers import LATTICE_IDS, LATTICES

SIZES = [(3, 4), (4, 4), (5, 6), (6, 8), (4, 3)]
# Tiny grids, where toroidal seams meet themselves.
TINY_SIZES = [(1, 2), (2, 1), (2, 2), (1, 4), (4, 1), (2, 4), (3, 2), (3, 3)]


def lattices(sizes=SIZES):
    """Every (width, height, topology, toroidal) that is a valid grid."""
    cases = []
    for width, height in sizes:
        for (topology, toroidal), name in zip(LATTICES, LATTICE_IDS):
            if toroidal and topology == "hex" and height % 2:
                continue
            cases.append(pytest.param(width, height, topology, toroidal, id=f"{name}-{width}x{height}"))
    return cases


def test_units_are_numbered_in_c_order():
    grid = Grid(3, 4)
    assert grid.n_units == 12 and grid.shape == (3, 4)
    for x in range(3):
        for y in range(4):
            unit = grid.unit_index(x, y)
            assert unit == x * 4 + y
            assert tuple(int(v) for v in grid.unit_coordinates(unit)) == (x, y)
            np.testing.assert_array_equal(grid.positions[unit], [x, y])


def test_hex_positions_offset_odd_rows():
    grid = Grid(3, 4, topology="hex")
    row_height = np.sqrt(3) / 2
    for x in range(3):
        for y in range(4):
            expected = [x + 0.5 * (y % 2), y * row_height]
            np.testing.assert_allclose(grid.positions[grid.unit_index(x, y)], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("width, height, topology, toroidal", lattices(SIZES + TINY_SIZES))
def test_distances_form_a_metric(width, height, topology, toroidal):
    D = Grid(width, height, topology, toroidal).distances
    m = width * height
    assert D.shape == (m, m) and D.dtype == np.float64
    np.testing.assert_array_equal(D, D.T)
    np.testing.assert_array_equal(np.diag(D), 0.0)
    off_diagonal = D[~np.eye(m, dtype=bool)]
    assert off_diagonal.min() >= 1.0 - 1e-9, "distinct units are at least one grid step apart"
    # D[i, k] <= D[i, j] + D[j, k] for every triple.
    assert np.all(D[:, None, :] <= D[:, :, None] + D[None, :, :] + 1e-9)


@pytest.mark.parametrize("width, height, topology, toroidal", lattices(SIZES + TINY_SIZES))
def test_adjacency_and_neighbour_lists_agree_with_distances(width, height, topology, toroidal):
    grid = Grid(width, height, topology, toroidal)
    A = grid.adjacency
    np.testing.assert_array_equal(A, np.isclose(grid.distances, 1.0))
    np.testing.assert_array_equal(A, A.T)
    assert not A.diagonal().any()
    for unit in range(grid.n_units):
        np.testing.assert_array_equal(np.sort(grid.neighbors(unit)), np.flatnonzero(A[unit]))
    edges = grid.edges()
    assert edges.shape == (A.sum() // 2, 2)
    assert np.all(edges[:, 0] < edges[:, 1])
    assert A[edges[:, 0], edges[:, 1]].all()


def test_square_interior_unit_has_four_neighbours():
    grid = Grid(5, 6)
    unit = grid.unit_index(2, 3)
    got = {tuple(int(c) for c in grid.unit_coordinates(u)) for u in grid.neighbors(unit)}
    assert got == {(1, 3), (3, 3), (2, 2), (2, 4)}
    degree = grid.adjacency.sum(axis=1).reshape(5, 6)
    assert degree[0, 0] == 2 and degree[0, 3] == 3 and (degree[1:-1, 1:-1] == 4).all()


@pytest.mark.parametrize(
    "x, y, expected",
    [
        # even row: the rows above and below are shifted right, so the diagonal
        # neighbours are at x - 1 and x
        (2, 2, {(1, 2), (3, 2), (1, 1), (2, 1), (1, 3), (2, 3)}),
        # odd row: it is the shifted one, so the diagonal neighbours are at x and x + 1
        (2, 3, {(1, 3), (3, 3), (2, 2), (3, 2), (2, 4), (3, 4)}),
    ],
    ids=["even-row", "odd-row"],
)
def test_hex_interior_unit_has_six_neighbours_at_distance_one(x, y, expected):
    grid = Grid(5, 6, topology="hex")
    unit = grid.unit_index(x, y)
    neighbours = grid.neighbors(unit)
    got = {tuple(int(c) for c in grid.unit_coordinates(u)) for u in neighbours}
    assert got == expected
    np.testing.assert_allclose(grid.distances[unit, neighbours], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(grid.positions[neighbours] - grid.positions[unit], axis=1), 1.0)
    degree = grid.adjacency.sum(axis=1).reshape(5, 6)
    assert (degree[1:-1, 1:-1] == 6).all()


@pytest.mark.parametrize("width, height, topology, toroidal",
                         [c for c in lattices() if c.values[3]])
def test_toroidal_grid_every_unit_has_full_neighbourhood(width, height, topology, toroidal):
    grid = Grid(width, height, topology, toroidal=True)
    expected = 4 if topology == "square" else 6
    np.testing.assert_array_equal(grid.adjacency.sum(axis=1), expected)


def test_toroidal_square_wraps_both_axes():
    grid = Grid(5, 6, toroidal=True)
    corner = grid.unit_index(0, 0)
    got = {tuple(int(c) for c in grid.unit_coordinates(u)) for u in grid.neighbors(corner)}
    assert got == {(1, 0), (4, 0), (0, 1), (0, 5)}
    assert grid.distances[corner, grid.unit_index(4, 5)] == pytest.approx(np.sqrt(2))
    assert grid.distances[corner, grid.unit_index(2, 3)] == pytest.approx(np.sqrt(4 + 9))
    assert grid.distances.max() == pytest.approx(np.sqrt(2**2 + 3**2))


def test_toroidal_hex_wraps_across_the_seams():
    grid = Grid(4, 4, topology="hex", toroidal=True)
    corner = grid.unit_index(0, 0)
    got = {tuple(int(c) for c in grid.unit_coordinates(u)) for u in grid.neighbors(corner)}
    # row 0 is unshifted: left/right wrap to x = 3; rows 1 and 3 (the latter across the
    # seam) hold diagonal neighbours at x = 3 (wrapped) and x = 0.
    assert got == {(1, 0), (3, 0), (0, 1), (3, 1), (0, 3), (3, 3)}


def test_non_toroidal_grid_has_no_wrap_edges():
    grid = Grid(4, 4)
    assert not grid.adjacency[grid.unit_index(0, 0), grid.unit_index(3, 0)]
    assert Grid(4, 4).distances.max() == pytest.approx(np.sqrt(18))


@pytest.mark.parametrize("topology", ["square", "hex"])
@pytest.mark.parametrize("shape", [(1, 5), (5, 1)], ids=["1x5", "5x1"])
def test_one_by_n_grid_is_a_chain(shape, topology):
    grid = Grid(*shape, topology=topology)
    if topology == "square" or shape == (5, 1):
        np.testing.assert_allclose(grid.distances[0, :], np.arange(5.0))
    degree = grid.adjacency.sum(axis=1)
    np.testing.assert_array_equal(degree, [1, 2, 2, 2, 1])
    for unit in range(4):
        assert grid.adjacency[unit, unit + 1]


def test_smallest_grid_is_one_by_two():
    grid = Grid(1, 2)
    assert grid.n_units == 2
    np.testing.assert_array_equal(grid.adjacency, [[False, True], [True, False]])


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((1, 1), {}, r"at least 2 units.*1 x 1"),
        ((0, 5), {}, r"width must be at least 1"),
        ((5, -1), {}, r"height must be at least 1"),
        ((2.5, 3), {}, r"width must be an integer"),
        ((True, 3), {}, r"width must be an integer"),
        ((3, 4), {"topology": "triangular"}, r"unknown topology 'triangular'.*square, hex"),
        ((4, 3), {"topology": "hex", "toroidal": True}, r"even height, got 3"),
    ],
)
def test_invalid_grids_raise(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Grid(*args, **kwargs)


def test_toroidal_square_accepts_odd_height():
    assert Grid(4, 3, toroidal=True).adjacency.sum(axis=1).tolist() == [4] * 12


def test_cached_arrays_are_read_only():
    grid = Grid(3, 4)
    with pytest.raises(ValueError):
        grid.distances[0, 0] = 5.0
    with pytest.raises(ValueError):
        grid.adjacency[0, 0] = True
