"""Neighbourhood functions: hand-checked values, and the Numba kernel against the reference."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zsom_core import Grid
from zsom_core.neighborhood import (
    NEIGHBORHOODS,
    SURROUND_CAP,
    gaussian_smooth,
    has_surround,
    neighborhood_code,
    neighborhood_weights,
    surround_scale,
)

from .helpers import LATTICE_IDS, LATTICES, numba_neighborhood_matrix
from .helpers import NEIGHBORHOODS as NAMES

D = np.array([0.0, 0.5, 1.0, 2.0, 3.0])


@pytest.mark.parametrize(
    "name, sigma, expected",
    [
        ("gaussian", 1.0, [1.0, math.exp(-0.125), math.exp(-0.5), math.exp(-2.0), math.exp(-4.5)]),
        ("gaussian", 2.0, [1.0, math.exp(-1 / 32), math.exp(-0.125), math.exp(-0.5), math.exp(-9 / 8)]),
        ("bubble", 1.0, [1.0, 1.0, 1.0, 0.0, 0.0]),  # d <= sigma, the boundary included
        ("bubble", 2.0, [1.0, 1.0, 1.0, 1.0, 0.0]),
        ("mexican_hat", 1.0, [1.0, 0.75 * math.exp(-0.125), 0.0, -3 * math.exp(-2.0), -8 * math.exp(-4.5)]),
        ("mexican_hat", 2.0, [1.0, (15 / 16) * math.exp(-1 / 32), 0.75 * math.exp(-0.125), 0.0,
                              -1.25 * math.exp(-9 / 8)]),
        ("triangle", 1.0, [1.0, 0.5, 0.0, 0.0, 0.0]),
        ("triangle", 2.0, [1.0, 0.75, 0.5, 0.0, 0.0]),
    ],
)
def test_neighborhood_weights_by_hand(name, sigma, expected):
    h = neighborhood_weights(D, sigma, name)
    assert h.dtype == np.float64 and h.shape == D.shape
    np.testing.assert_allclose(h, expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_cutoff_zeroes_beyond_radius_in_sigmas(name):
    sigma, cutoff = 1.0, 2.0
    full = neighborhood_weights(D, sigma, name)
    cut = neighborhood_weights(D, sigma, name, cutoff=cutoff)
    inside = D <= cutoff * sigma  # the radius itself is inside
    np.testing.assert_array_equal(cut[inside], full[inside])
    np.testing.assert_array_equal(cut[~inside], 0.0)


def test_gaussian_cutoff_at_two_and_a_half_sigmas():
    h = neighborhood_weights(np.array([0.0, 2.0, 5.0, 5.0001]), 2.0, "gaussian", cutoff=2.5)
    np.testing.assert_allclose(h, [1.0, math.exp(-0.5), math.exp(-25 / 8), 0.0])


def test_neighborhood_registry_and_unknown_name():
    assert list(NEIGHBORHOODS) == ["gaussian", "bubble", "mexican_hat", "triangle"]
    with pytest.raises(ValueError, match=r"unknown neighborhood 'cone'.*gaussian, bubble, mexican_hat, triangle"):
        neighborhood_code("cone")
    with pytest.raises(ValueError, match=r"valid neighborhoods"):
        neighborhood_weights(D, 1.0, "cone")


@pytest.mark.parametrize("cutoff", [None, 1.5, 2.5], ids=["no-cutoff", "cutoff1.5", "cutoff2.5"])
@pytest.mark.parametrize("sigma", [0.7, 1.0, 2.3])
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("topology, toroidal", LATTICES, ids=LATTICE_IDS)
def test_numba_neighborhood_matrix_matches_reference(topology, toroidal, name, sigma, cutoff):
    grid = Grid(5, 6, topology, toroidal)
    expected = neighborhood_weights(grid.distances, sigma, name, cutoff)
    got = numba_neighborhood_matrix(grid, sigma, name, cutoff)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got, got.T, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.diag(got), 1.0)


def test_numba_neighborhood_matrix_row_block():
    grid = Grid(5, 6, "hex", toroidal=True)
    rows = range(7, 19)
    got = numba_neighborhood_matrix(grid, 1.7, "gaussian", 2.0, rows=rows)
    np.testing.assert_allclose(got, neighborhood_weights(grid.distances[7:19], 1.7, "gaussian", 2.0),
                               rtol=1e-12, atol=1e-14)


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    distances=st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=20),
    sigma=st.floats(0.05, 20),
    cutoff=st.one_of(st.none(), st.floats(0.1, 5)),
)
def test_numba_neighborhood_value_matches_reference_on_any_distance(name, distances, sigma, cutoff):
    # Units on a 1 x m chain at the drawn offsets from unit 0: row 0 of the matrix
    # holds h at exactly those distances.
    positions = np.zeros((len(distances) + 1, 2))
    positions[1:, 1] = distances

    class Chain:
        n_units = len(positions)
        period = (1.0, 1.0)
        toroidal = False

    Chain.positions = positions
    got = numba_neighborhood_matrix(Chain, sigma, name, cutoff, rows=range(1))[0]
    expected = neighborhood_weights(np.concatenate([[0.0], distances]), sigma, name, cutoff)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)


# ------------------------------------------------------------------ separable gaussian smoothing


@st.composite
def grids(draw):
    topology = draw(st.sampled_from(["square", "hex"]))
    toroidal = draw(st.booleans())
    width = draw(st.integers(1, 7))
    height = draw(st.integers(1, 7))
    if toroidal and topology == "hex" and height % 2:
        height += 1
    if width * height < 2:
        width = 2
    return Grid(width, height, topology, toroidal)


@settings(max_examples=150, deadline=None)
@given(grid=grids(), sigma=st.floats(0.2, 6.0), seed=st.integers(0, 2**32 - 1))
def test_gaussian_smooth_equals_the_dense_neighbourhood_product(grid, sigma, seed):
    values = np.random.default_rng(seed).normal(size=(grid.n_units, 3))
    expected = neighborhood_weights(grid.distances, sigma, "gaussian") @ values
    np.testing.assert_allclose(gaussian_smooth(grid, sigma, values), expected, rtol=1e-10, atol=1e-12)


def test_surround_scale_caps_the_surround_at_a_share_of_the_centre():
    centre = np.array([1.0, 1.0, 2.0, 0.0, 3.0])
    surround = np.array([0.0, 0.01, 100.0, 5.0, 3.0 * SURROUND_CAP])
    scale = surround_scale(centre, surround)
    np.testing.assert_allclose(scale, [1.0, 1.0, SURROUND_CAP * 2.0 / 100.0, 0.0, 1.0])
    assert np.all(scale * surround <= SURROUND_CAP * centre + 1e-15)
    assert [has_surround(name) for name in NEIGHBORHOODS] == [False, False, True, False]
