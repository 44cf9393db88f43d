"""The server's own check of every training setting the browser sends."""

import re

import pytest

from components.settings import (
    DEFAULTS,
    SETTINGS,
    SettingsError,
    check_settings,
    parse_sample_count,
    parse_settings,
    setting_changes,
)


def settings(**changes):
    return parse_settings({**DEFAULTS, **changes})


def test_defaults_are_valid_and_typed():
    parsed = settings()
    assert parsed.width == DEFAULTS["width"] and isinstance(parsed.width, int)
    kwargs = parsed.som_kwargs()
    assert "epochs" not in kwargs and kwargs["topology"] == DEFAULTS["topology"]


def test_browser_values_are_converted():
    parsed = settings(auto_size=[], width=12.0, epochs="40", toroidal=["on"], adaptive_lr=[], seed=7.0,
                      topology="square")
    assert (parsed.width, parsed.epochs, parsed.toroidal, parsed.adaptive_lr, parsed.seed) == (12, 40, True, False, 7)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"auto_size": [], "width": 1}, "grid width must be a whole number from 2 to 100, got 1"),
        ({"auto_size": [], "height": 101}, "grid height must be a whole number from 2 to 100, got 101"),
        ({"auto_size": [], "width": 4.5}, "grid width must be a whole number from 2 to 100, got 4.5"),
        ({"epochs": 0}, "epochs must be a whole number from 1 to 1,000, got 0"),
        ({"epochs": 1001}, "epochs must be a whole number from 1 to 1,000, got 1,001"),
        ({"epochs": None}, "epochs is missing: enter a whole number from 1 to 1,000"),
        ({"auto_sigma": [], "sigma": 0}, "sigma0 must be a number above 0 and at most 100, got 0"),
        ({"auto_sigma": [], "sigma": -1}, "sigma0 must be a number above 0 and at most 100, got -1"),
        ({"auto_sigma": [], "sigma": float("nan")}, "sigma0 must be a number above 0 and at most 100, got nan"),
        ({"learning_rate": 0}, "learning rate must be a number above 0 and at most 1, got 0"),
        ({"learning_rate": 5}, "learning rate must be a number above 0 and at most 1, got 5"),
        ({"seed": -1}, "seed must be a whole number from 0 to 2,147,483,647, got -1"),
        ({"seed": 2**31}, "seed must be a whole number from 0 to 2,147,483,647, got 2,147,483,648"),
        ({"seed": 1.5}, "seed must be a whole number from 0 to 2,147,483,647, got 1.5"),
        ({"seed": "abc"}, "seed must be a whole number from 0 to 2,147,483,647, got 'abc'"),
        ({"metric": "hamming"}, "unknown metric 'hamming'; choose one of: euclidean"),
        ({"topology": "triangle"}, "unknown topology"),
        ({"neighborhood": None}, "unknown neighbourhood None"),
        ({"auto_size": [], "topology": "hex", "toroidal": ["on"], "height": 5}, "even height"),
        ({"metric": "minkowski", "p": 0.05}, "minkowski p must be a number from 0.1 to 100, got 0.05"),
        ({"auto_sigma": [], "sigma": 4, "sigma_end": 5}, "sigma at the end must not exceed sigma0 (4), got 5"),
        ({"learning_rate": 0.1, "learning_rate_end": 0.2},
         "learning rate at the end must not exceed the learning rate (0.1), got 0.2"),
    ],
)
def test_out_of_range_values_get_a_clear_message(changes, message):
    with pytest.raises(SettingsError, match=re.escape(message)):
        settings(**changes)


def test_p_only_matters_for_minkowski():
    assert settings(metric="euclidean", p=None).p == DEFAULTS["p"]
    assert settings(metric="minkowski", p=3.5).p == 3.5


def test_booleans_are_not_numbers():
    with pytest.raises(SettingsError):
        settings(epochs=True)


@pytest.mark.parametrize("value", [100, 200_000, "5000", 20000.0])
def test_sample_counts_in_range(value):
    assert parse_sample_count(value) == int(float(value))


@pytest.mark.parametrize("value", [99, 200_001, None, "", "many", 150.5])
def test_sample_counts_out_of_range(value):
    with pytest.raises(SettingsError, match="sample count"):
        parse_sample_count(value)


def test_schedule_and_description():
    parsed = settings(epochs=5, auto_sigma=[], sigma=4.0)
    sigmas, rates = parsed.schedule()
    assert len(sigmas) == len(rates) == 5 and sigmas[0] == 4.0
    assert "sigma 4 -> 0.5" in parsed.describe() and "5 epochs" in parsed.describe()


def test_every_problem_is_named_next_to_its_own_setting():
    _, problems = check_settings({**DEFAULTS, "seed": 1.5, "learning_rate": 5, "metric": "minkowski", "p": 0.05})
    assert set(problems) == {"seed", "learning_rate", "p"}
    assert all(problem.startswith(("seed ", "learning rate ", "minkowski p ")) for problem in problems.values())


def test_a_hidden_setting_is_not_read():
    _, problems = check_settings({**DEFAULTS, "metric": "euclidean", "p": "nonsense", "width": None, "sigma": None})
    assert problems == {}
    parsed = settings(adaptive_lr=["on"], learning_rate_end=None)
    assert parsed.learning_rate_end is None and parsed.som_kwargs()["learning_rate_end"] is None


def test_the_page_choices_stay_out_of_the_engine_keywords():
    parsed = settings()
    assert parsed.page_choices() == {"auto_size": True, "auto_sigma": True}
    assert not set(parsed.page_choices()) & set(parsed.run_settings())
    from zsom_core import SOM
    SOM(**parsed.som_kwargs())._validate_params()


def test_sigma0_left_to_the_map_is_a_quarter_of_its_larger_side():
    sizes = {"hex": [17, 13], "square": [15, 15]}
    assert settings().resolved(sizes).sigma == 17 / 4
    assert settings(auto_sigma=[], sigma=3.0).resolved(sizes).sigma == 3.0
    with pytest.raises(SettingsError, match=re.escape("must not exceed sigma0 (4.25), got 5")):
        settings(sigma_end=5.0).resolved(sizes)


def test_an_auto_sized_map_takes_the_data_size_and_an_even_height_when_it_wraps():
    sizes = {"hex": [17, 13], "square": [15, 15]}
    hex_map = settings(topology="hex", toroidal=[]).resolved(sizes)
    assert (hex_map.width, hex_map.height) == (17, 13)
    wrapped = settings(topology="hex", toroidal=["on"]).resolved(sizes)
    assert (wrapped.width, wrapped.height) == (17, 14)
    chosen = settings(auto_size=[], width=9, height=7).resolved(sizes)
    assert (chosen.width, chosen.height) == (9, 7)


def test_changes_name_each_setting_that_differs():
    before = settings(auto_sigma=[], sigma=8.0, metric="euclidean")
    after = settings(auto_sigma=[], sigma=4.0, metric="cosine")
    assert setting_changes(before, after) == ["sigma0 8 -> 4", "metric euclidean -> cosine"]
    assert setting_changes(before, before) == []


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.kind in ("integer", "number")], ids=lambda s: s.name)
def test_each_bound_is_accepted_and_the_next_value_out_is_refused(setting):
    step = setting.step or 1
    low = setting.low + step if setting.low_open else setting.low
    shown = {} if setting.shown_if is None else {setting.shown_if[0]: setting.shown_if[1]}
    if setting.name in ("sigma_end", "learning_rate_end"):  # at most sigma0 / the learning rate
        shown.update(sigma=setting.high, learning_rate=1.0)
    for value in (low, setting.high):
        _, problems = check_settings({**DEFAULTS, **shown, setting.name: value})
        assert setting.name not in problems, problems
    for value in (low - step, setting.high + step):
        _, problems = check_settings({**DEFAULTS, **shown, setting.name: value})
        assert setting.rule in problems[setting.name]
