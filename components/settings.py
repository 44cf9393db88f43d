"""Training settings: defaults, the server's limits, and the check that turns raw control
values from the browser into the arguments of ``SOM`` and ``iter_fit``.

The browser's sliders already stay inside these limits, but any value can reach the server
(typed into a box, or sent by hand), so every value is checked here again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from zsom_core import SOM
from zsom_core.grid import TOPOLOGIES, Grid
from zsom_core.metrics import METRICS
from zsom_core.neighborhood import NEIGHBORHOODS
from zsom_core.schedule import DECAYS
from zsom_core.som import ALGORITHMS, INITS

MIN_SIDE, MAX_SIDE = 2, 100
MAX_UNITS = 2_500
MIN_EPOCHS, MAX_EPOCHS = 1, 1_000
MIN_SAMPLES, MAX_SAMPLES = 100, 200_000
MAX_SEED = 2**31 - 1
MAX_SIGMA = 200.0
MIN_P, MAX_P = 0.1, 100.0
MAX_UPLOAD_BYTES = 50 * 2**20

DEFAULTS = {
    "width": 30,
    "height": 30,
    "topology": "hex",
    "toroidal": False,
    "metric": "euclidean",
    "p": 3.0,
    "init": "pca",
    "neighborhood": "gaussian",
    "decay": "linear",
    "sigma": 8.0,
    "learning_rate": 0.5,
    "epochs": 100,
    "adaptive_lr": False,
    "algorithm": "batch",
    "seed": 0,
}

# Settings the page shows as switches (a checklist holding ["on"] or nothing).
FLAGS = ("toroidal", "adaptive_lr")

CHOICES = {
    "topology": TOPOLOGIES,
    "metric": tuple(METRICS),
    "init": tuple(INITS),
    "neighborhood": tuple(NEIGHBORHOODS),
    "decay": tuple(DECAYS),
    "algorithm": ALGORITHMS,
}


class SettingsError(ValueError):
    """A setting outside what the server accepts; the message is shown to the user."""


@dataclass(frozen=True)
class TrainingSettings:
    width: int
    height: int
    topology: str
    toroidal: bool
    metric: str
    p: float
    init: str
    neighborhood: str
    decay: str
    sigma: float
    learning_rate: float
    epochs: int
    adaptive_lr: bool
    algorithm: str
    seed: int

    def som_kwargs(self) -> dict:
        """Keyword arguments of ``SOM(**kwargs)``."""
        kwargs = asdict(self)
        del kwargs["epochs"]
        return kwargs

    def grid_key(self) -> list:
        """What a map panel's geometry depends on: [width, height, topology]."""
        return [self.width, self.height, self.topology]

    def schedule(self) -> tuple[list[float], list[float]]:
        """The planned sigma and learning rate of every epoch (plain arithmetic, no kernels)."""
        return SOM(**self.som_kwargs()).schedule(self.epochs).values()

    def describe(self) -> str:
        """One line for titles and the exported figure."""
        wrap = " toroidal" if self.toroidal else ""
        metric = f"minkowski p={self.p:g}" if self.metric == "minkowski" else self.metric
        return (f"{self.width}x{self.height} {self.topology}{wrap}, {metric}, {self.neighborhood}, "
                f"{self.decay} decay, sigma0 {self.sigma:g}, lr {self.learning_rate:g}, "
                f"{self.epochs} epochs, {self.algorithm}, seed {self.seed}")


def parse_settings(raw: dict) -> TrainingSettings:
    """Check raw control values and return typed settings, or raise ``SettingsError``.

    ``raw`` maps the names of ``DEFAULTS`` to what the browser sent; a missing or empty
    value is an error, not a silent default, so the user sees what was wrong.
    """
    width = _integer(raw, "width", "grid width", MIN_SIDE, MAX_SIDE)
    height = _integer(raw, "height", "grid height", MIN_SIDE, MAX_SIDE)
    if width * height > MAX_UNITS:
        raise SettingsError(f"the map may have at most {MAX_UNITS:,} units; "
                            f"{width} x {height} = {width * height:,}")
    choices = {name: _choice(raw, name) for name in CHOICES}
    toroidal = _flag(raw.get("toroidal"))
    try:
        Grid(width, height, choices["topology"], toroidal)
    except ValueError as error:
        raise SettingsError(str(error)) from error
    p = _number(raw, "p", "minkowski p", MIN_P, MAX_P) if choices["metric"] == "minkowski" else DEFAULTS["p"]
    sigma = _number(raw, "sigma", "sigma0", 0.0, MAX_SIGMA, low_open=True)
    learning_rate = _number(raw, "learning_rate", "learning rate", 0.0, 1.0, low_open=True)
    epochs = _integer(raw, "epochs", "epochs", MIN_EPOCHS, MAX_EPOCHS)
    seed = _integer(raw, "seed", "seed", 0, MAX_SEED)
    return TrainingSettings(
        width=width, height=height, toroidal=toroidal, p=p, sigma=sigma, learning_rate=learning_rate,
        epochs=epochs, adaptive_lr=_flag(raw.get("adaptive_lr")), seed=seed, **choices,
    )


def control_values(settings: dict) -> dict:
    """The controls' values that show recorded ``settings`` (switches hold a list)."""
    return {name: (["on"] if settings[name] else []) if name in FLAGS else settings[name] for name in DEFAULTS}


def parse_sample_count(value) -> int:
    """The number of samples to draw from a built-in dataset, or ``SettingsError``."""
    return _integer({"samples": value}, "samples", "sample count", MIN_SAMPLES, MAX_SAMPLES)


def _flag(value) -> bool:
    """A checklist's value (a list of ticked options) or a plain bool."""
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return bool(value)


def _choice(raw: dict, name: str) -> str:
    value = raw.get(name)
    valid = CHOICES[name]
    if value not in valid:
        raise SettingsError(f"unknown {name} {value!r}; choose one of: {', '.join(valid)}")
    return value


def _parsed(raw: dict, name: str, label: str, missing: str, kind: str) -> tuple[object, float]:
    """The raw value of ``name`` and its float, or a SettingsError naming ``label``."""
    value = raw.get(name)
    if isinstance(value, bool):
        value = None
    if value is None or value == "":
        raise SettingsError(f"{label} is missing: {missing}")
    try:
        return value, float(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(f"{label} must be {kind}, got {value!r}") from None


def _number(raw: dict, name: str, label: str, low: float, high: float, *, low_open: bool = False) -> float:
    _, number = _parsed(raw, name, label, "enter a number", "a number")
    too_low = number <= low if low_open else number < low
    if not math.isfinite(number) or too_low or number > high:
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise SettingsError(f"{label} must be {bound} and <= {high:g}, got {number:g}")
    return number


def _integer(raw: dict, name: str, label: str, low: int, high: int) -> int:
    value, number = _parsed(raw, name, label, f"enter a whole number from {low:,} to {high:,}", "a whole number")
    if not math.isfinite(number) or number != int(number):
        raise SettingsError(f"{label} must be a whole number, got {value!r}")
    if not low <= number <= high:
        raise SettingsError(f"{label} must be between {low:,} and {high:,}, got {int(number):,}")
    return int(number)
