"""The server's own check of every training setting the browser sends."""

import pytest

from components.settings import DEFAULTS, MAX_UNITS, SettingsError, parse_sample_count, parse_settings


def settings(**changes):
    return parse_settings({**DEFAULTS, **changes})


def test_defaults_are_valid_and_typed():
    parsed = settings()
    assert parsed.width == DEFAULTS["width"] and isinstance(parsed.width, int)
    kwargs = parsed.som_kwargs()
    assert "epochs" not in kwargs and kwargs["topology"] == DEFAULTS["topology"]


def test_browser_values_are_converted():
    parsed = settings(width=12.0, epochs="40", toroidal=["on"], adaptive_lr=[], seed=7.0, topology="square")
    assert (parsed.width, parsed.epochs, parsed.toroidal, parsed.adaptive_lr, parsed.seed) == (12, 40, True, False, 7)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"width": 1}, "grid width must be between 2 and 100"),
        ({"height": 101}, "grid height must be between 2 and 100"),
        ({"width": 60, "height": 60}, f"at most {MAX_UNITS:,} units"),
        ({"width": 4.5}, "grid width must be a whole number"),
        ({"epochs": 0}, "epochs must be between 1 and 1,000"),
        ({"epochs": 1001}, "epochs must be between 1 and 1,000"),
        ({"epochs": None}, "epochs is missing: enter a whole number from 1 to 1,000"),
        ({"sigma": 0}, "sigma0 must be > 0"),
        ({"sigma": -1}, "sigma0 must be > 0"),
        ({"sigma": float("nan")}, "sigma0 must be > 0"),
        ({"learning_rate": 0}, "learning rate must be > 0"),
        ({"learning_rate": 1.5}, "learning rate must be > 0 and <= 1"),
        ({"seed": -1}, "seed must be between 0 and 2,147,483,647"),
        ({"seed": 2**31}, "seed must be between 0 and 2,147,483,647"),
        ({"seed": "abc"}, "seed must be a whole number"),
        ({"metric": "hamming"}, "unknown metric 'hamming'"),
        ({"topology": "triangle"}, "unknown topology"),
        ({"neighborhood": None}, "unknown neighborhood"),
        ({"topology": "hex", "toroidal": ["on"], "height": 5}, "even height"),
        ({"metric": "minkowski", "p": 0}, "minkowski p must be >= 0.1"),
    ],
)
def test_out_of_range_values_get_a_clear_message(changes, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("+", r"\+")):
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
    parsed = settings(epochs=5, sigma=4.0)
    sigmas, rates = parsed.schedule()
    assert len(sigmas) == len(rates) == 5 and sigmas[0] == 4.0
    assert "sigma0 4" in parsed.describe() and "5 epochs" in parsed.describe()
