"""The engine's registries of choices (name -> implementation) and the labels users read."""

import re

import numpy as np
import pytest

from zsom_core import SOM, Grid, Schedule
from zsom_core.grid import TOPOLOGIES, TOPOLOGY_LABELS
from zsom_core.init import INIT_LABELS, INITS
from zsom_core.metrics import METRIC_LABELS, METRICS
from zsom_core.neighborhood import NEIGHBORHOOD_LABELS, NEIGHBORHOODS
from zsom_core.schedule import DECAY_LABELS, DECAYS, adapt_rate, get_decay
from zsom_core.som import ALGORITHM_LABELS, ALGORITHMS

REGISTRIES = {
    "metric": (METRICS, METRIC_LABELS),
    "neighborhood": (NEIGHBORHOODS, NEIGHBORHOOD_LABELS),
    "decay": (DECAYS, DECAY_LABELS),
    "topology": (TOPOLOGIES, TOPOLOGY_LABELS),
    "init": (INITS, INIT_LABELS),
    "algorithm": (ALGORITHMS, ALGORITHM_LABELS),
}


@pytest.mark.parametrize("name", REGISTRIES)
def test_every_choice_has_one_label_in_registry_order(name):
    registry, labels = REGISTRIES[name]
    assert list(labels) == list(registry)
    assert all(isinstance(label, str) and label.strip() == label and label for label in labels.values())
    assert len(set(labels.values())) == len(labels)


def test_labels_are_the_words_the_dashboard_shows():
    assert NEIGHBORHOOD_LABELS["mexican_hat"] == "Mexican hat"
    assert TOPOLOGY_LABELS["hex"] == "Hexagonal"
    assert INIT_LABELS["pca"] == "PCA"
    assert METRIC_LABELS["euclidean"] == "Euclidean"


@pytest.mark.parametrize("name", REGISTRIES)
def test_every_registered_name_trains(name):
    """Each name a registry lists is one SOM accepts: the registries are the valid choices."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    registry, _ = REGISTRIES[name]
    for value in registry:
        som = SOM(4, 4, seed=0, **{name: value}).fit(X, epochs=2)
        assert np.isfinite(som.weights_).all()


@pytest.mark.parametrize("name", [*REGISTRIES, "dtype"])
@pytest.mark.parametrize("value", [["euclidean"], 3, None], ids=["list", "int", "none"])
def test_a_name_that_is_not_a_string_is_an_unknown_name(name, value):
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(ValueError, match=rf"unknown {name} {re.escape(repr(value))}; valid "):
        SOM(4, 4, **{name: value}).fit(X)


def test_decays_iterate_as_their_names():
    assert tuple(DECAYS) == ("linear", "exponential")
    assert "linear" in DECAYS and "cosine" not in DECAYS
    assert ", ".join(DECAYS) == "linear, exponential"


def test_an_unknown_decay_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown decay 'cosine'; valid decays: linear, exponential"):
        get_decay("cosine")
    with pytest.raises(ValueError, match=r"unknown decay 'cosine'"):
        adapt_rate(0.8, 1.0, 0.5, "cosine")


@pytest.mark.parametrize("decay", DECAYS)
def test_a_schedule_follows_its_registered_decay(decay):
    implementation = get_decay(decay)
    s = Schedule(decay, epochs=9, sigma0=5.0, learning_rate0=0.6)
    for t in range(9):
        assert s.learning_rate(t) == implementation.value(0.6, t, 9, implementation.default_rate(9))
        assert s.sigma(t) == max(1.0, implementation.value(5.0, t, 9, implementation.sigma_rate(9)))
    pinned = Schedule(decay, epochs=9, sigma0=5.0, learning_rate0=0.6, sigma_end=0.5)
    assert pinned.sigma(4) == implementation.towards(5.0, 0.5, 0.5)
    assert pinned.sigma(8) == 0.5


@pytest.mark.parametrize("init", INITS)
def test_init_functions_are_what_the_estimator_starts_from(init):
    X = np.random.default_rng(3).normal(size=(50, 4)) * [1.0, 2.0, 0.5, 3.0]
    grid = Grid(5, 3)
    weights = INITS[init](X, grid, np.random.default_rng(7))
    assert weights.shape == (15, 4) and weights.dtype == np.float64
    # A batch epoch with a learning rate of 1e-300 moves no weight by more than rounding.
    som = SOM(5, 3, init=init, seed=7, learning_rate=1e-300).fit(X, epochs=1)
    np.testing.assert_allclose(som.weights_.reshape(15, 4), weights, rtol=1e-12, atol=1e-12)
