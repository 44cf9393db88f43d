"""The map size from the data: the SOM Toolbox's rule (som_topol_struct)."""

import math

import numpy as np
import pytest

from zsom_core import SOM, auto_map_size
from zsom_core.sizing import MAX_SIDE, MIN_SIDE


def _rule_units(n):
    return math.ceil(5 * n**0.54321)


def _rotated(points, angle=0.7):
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return points @ rotation.T


def _physical_ratio(width, height, topology):
    return width / (height * (math.sqrt(0.75) if topology == "hex" else 1.0))


@pytest.mark.parametrize("topology", ["hex", "square"])
@pytest.mark.parametrize("n", [10, 100, 1_000, 20_000])
def test_unit_count_follows_the_rule_within_rounding(n, topology, seed):
    X = np.random.default_rng(seed).normal(size=(n, 3))
    width, height = auto_map_size(X, topology)
    # The shorter side is rounded first; the other side, round(units / height), is off
    # by at most half a unit, that is at most height / 2 units in all.
    assert abs(width * height - _rule_units(n)) <= height / 2


@pytest.mark.parametrize("topology", ["hex", "square"])
@pytest.mark.parametrize("spread", [1.0, 2.0, 4.0])
def test_sides_follow_the_ratio_of_the_principal_spreads(spread, topology, seed):
    rng = np.random.default_rng(seed)
    X = _rotated(rng.normal(size=(5_000, 2)) * [spread, 1.0])  # the axes are not the features'
    eigenvalues = np.linalg.eigvalsh(np.cov(X, rowvar=False))
    expected = math.sqrt(eigenvalues[-1] / eigenvalues[-2])
    width, height = auto_map_size(X, topology)
    # Rounding each side to a whole unit moves the ratio by about one unit in the shorter side.
    assert _physical_ratio(width, height, topology) == pytest.approx(expected, rel=1.5 / height)


def test_elongated_data_gives_an_elongated_map():
    rng = np.random.default_rng(3)
    # A flat, long cloud in 3-D: the third direction does not count, only the first two.
    X = rng.normal(size=(2_000, 3)) * [0.1, 6.0, 2.0]
    width, height = auto_map_size(X, "hex")
    assert _physical_ratio(width, height, "hex") == pytest.approx(3.0, rel=0.15)
    round_width, round_height = auto_map_size(rng.normal(size=(2_000, 3)), "hex")
    assert _physical_ratio(round_width, round_height, "hex") == pytest.approx(1.0, rel=0.15)


def test_sides_are_clamped():
    rng = np.random.default_rng(4)
    # So long and thin that the rule asks for a map less than one unit high.
    X = rng.normal(size=(50_000, 2)) * [1_000.0, 1.0]
    width, height = auto_map_size(X, "square")
    assert (width, height) == (MAX_SIDE, MIN_SIDE)
    assert _rule_units(50_000) > MAX_SIDE * MIN_SIDE  # so the clamp, not the rule, decided


@pytest.mark.parametrize("max_units", [4, 50, 99, 500])
def test_max_units_caps_the_map(max_units):
    X = np.random.default_rng(5).normal(size=(20_000, 2)) * [3.0, 1.0]
    width, height = auto_map_size(X, "hex", max_units=max_units)
    assert MIN_SIDE <= min(width, height) and width * height <= max_units
    assert width * height >= 0.8 * max_units  # capped, not shrunk beyond the cap
    assert auto_map_size(X, "hex", max_units=10**6) == auto_map_size(X, "hex")


def test_one_feature_gives_the_longest_map_the_sides_allow():
    X = np.random.default_rng(6).normal(size=(1_000, 1))
    assert auto_map_size(X) == (min(MAX_SIDE, round(_rule_units(1_000) / MIN_SIDE)), MIN_SIDE)
    assert auto_map_size(X[:40, 0]) == (round(_rule_units(40) / MIN_SIDE), MIN_SIDE)  # a 1-D array is one feature


def test_data_on_a_line_in_the_plane_is_treated_as_one_dimensional():
    t = np.random.default_rng(7).normal(size=(500, 1))
    assert auto_map_size(t @ [[2.0, -1.0]]) == auto_map_size(t)


@pytest.mark.parametrize("topology", ["hex", "square"])
def test_constant_data_gives_a_square_map(topology):
    width, height = auto_map_size(np.full((300, 4), 2.5), topology)
    assert _physical_ratio(width, height, topology) == pytest.approx(1.0, rel=0.2)
    assert abs(width * height - _rule_units(300)) <= height / 2


def test_two_samples_give_a_map_that_trains():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    width, height = auto_map_size(X)
    assert width * height == _rule_units(2) and min(width, height) == MIN_SIDE
    som = SOM(width, height, topology="hex", seed=0).fit(X, epochs=5)
    assert som.weights_.shape == (width, height, 2)
    assert len(set(som.bmus(X))) == 2


def test_a_missing_value_counts_as_its_features_mean():
    X = np.random.default_rng(0).normal(size=(500, 3)) * [5.0, 2.0, 1.0]
    gaps = X.copy()
    gaps[::7, 1] = np.nan
    filled = np.where(np.isnan(gaps), np.nanmean(gaps, axis=0), gaps)
    assert auto_map_size(gaps) == auto_map_size(filled)


@pytest.mark.parametrize("X, topology, max_units, message", [
    (np.zeros((1, 2)), "hex", None, "at least 2 samples"),
    (np.array([[0.0, np.nan], [1.0, np.nan]]), "hex", None, "no observed value"),
    (np.array([[0.0, np.inf], [1.0, 1.0]]), "hex", None, "infinite"),
    (np.zeros((2, 2, 2)), "hex", None, "2-D"),
    (np.zeros((5, 2)), "triangle", None, "unknown topology"),
    (np.zeros((5, 2)), "hex", 3, "max_units"),
    (np.zeros((5, 2)), "hex", 10.5, "max_units"),
])
def test_bad_input_is_refused(X, topology, max_units, message):
    with pytest.raises(ValueError, match=message):
        auto_map_size(X, topology, max_units=max_units)
