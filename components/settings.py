"""The training settings, written once: ``SETTINGS`` is the table every other list derives from.

Each row names one setting (the engine's keyword, or "epochs"), its label, the control
that shows it, its default, its bounds or its choices (labels taken from the engine's
registries) and a line of help. The defaults, the typed settings, the control ids, the
sidebar (``components.layout``) and the server's check of what the browser sends
(``parse_settings``) come from it; adding a setting is one row here and, for the engine,
one keyword of ``SOM``.

The browser's controls already stay inside these bounds, but any value can reach the
server (typed into a box, or sent by hand), so every value is checked here again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from zsom_core import SOM
from zsom_core.grid import TOPOLOGY_LABELS, Grid
from zsom_core.init import INIT_LABELS
from zsom_core.metrics import METRIC_LABELS
from zsom_core.neighborhood import NEIGHBORHOOD_LABELS
from zsom_core.schedule import DECAY_LABELS
from zsom_core.som import ALGORITHM_LABELS

MIN_SIDE, MAX_SIDE = 2, 100
MAX_UNITS = 2_500
MIN_SAMPLES, MAX_SAMPLES = 100, 200_000
MAX_SEED = 2**31 - 1
MAX_UPLOAD_BYTES = 50 * 2**20


class SettingsError(ValueError):
    """A setting outside what the server accepts; the message is shown to the user."""


@dataclass(frozen=True)
class Setting:
    """One row of the settings table.

    ``kind`` is how the value is read: "integer", "number", "choice" or "flag" (a switch);
    ``control`` how the sidebar shows it: "slider", "number" (a typed box), "radio",
    "dropdown" or "switch". ``low_open``: the lower bound itself is refused. ``shown_if``:
    (setting, value) under which the control is shown and the value read at all.
    """

    name: str
    label: str
    kind: str
    control: str
    control_id: str
    default: object
    section: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    low_open: bool = False
    slider_high: float | None = None  # a slider's end, where the accepted range is wider than useful
    marks: tuple = ()
    choices: dict = field(default_factory=dict)
    shown_if: tuple[str, str] | None = None
    help: str = ""
    # How a message names the setting: "grid width must be ...".
    noun: str = ""

    @property
    def called(self) -> str:
        return self.noun or self.label.lower()


# The sidebar offers PCA first: it is the default and the better start.
PCA_FIRST = {name: INIT_LABELS[name] for name in ("pca", "random")}

SETTINGS = (
    Setting("width", "Width", "integer", "slider", "grid-width", 30, "map", MIN_SIDE, MAX_SIDE, 1,
            marks=(MIN_SIDE, 25, 50, 75, MAX_SIDE), noun="grid width", help="units across"),
    Setting("height", "Height", "integer", "slider", "grid-height", 30, "map", MIN_SIDE, MAX_SIDE, 1,
            marks=(MIN_SIDE, 25, 50, 75, MAX_SIDE), noun="grid height", help="units down"),
    Setting("topology", "Topology", "choice", "radio", "topology", "hex", "map", choices=TOPOLOGY_LABELS,
            help="hexagonal units have six neighbours, square ones four"),
    Setting("toroidal", "Toroidal (edges wrap around)", "flag", "switch", "toroidal", False, "map",
            help="opposite edges of the map are neighbours"),
    Setting("init", "Initialisation", "choice", "radio", "init", "pca", "map", choices=PCA_FIRST,
            help="PCA spreads the map over the data's first two principal components"),
    Setting("epochs", "Epochs", "integer", "slider", "epochs", 100, "training", 1, 1_000, 1,
            marks=(1, 250, 500, 1_000), help="passes over the data"),
    Setting("sigma", "Sigma0 (neighbourhood radius)", "number", "slider", "sigma0", 8.0, "training", 0.0, 200.0, 0.5,
            low_open=True, slider_high=50.0, marks=(0.5, 25, 50), noun="sigma0",
            help="in grid units, at the first epoch"),
    Setting("learning_rate", "Learning rate", "number", "slider", "learning-rate", 0.5, "training", 0.0, 1.0, 0.01,
            low_open=True, marks=(0.01, 0.5, 1), help="at the first epoch"),
    Setting("decay", "Decay", "choice", "radio", "decay", "linear", "training", choices=DECAY_LABELS,
            help="how sigma and the learning rate fall over the epochs"),
    Setting("adaptive_lr", "Adaptive learning rate", "flag", "switch", "adaptive-lr", False, "training",
            help="the learning rate follows the trend of the mean quantization error"),
    Setting("algorithm", "Algorithm", "choice", "radio", "algorithm", "batch", "training", choices=ALGORITHM_LABELS,
            help="batch: one update per epoch; online: one per sample"),
    Setting("neighborhood", "Neighbourhood", "choice", "dropdown", "neighborhood", "gaussian", "training",
            choices=NEIGHBORHOOD_LABELS, help="how a unit's update falls off with grid distance"),
    Setting("metric", "Metric", "choice", "dropdown", "metric", "euclidean", "training", choices=METRIC_LABELS,
            help="distance between a sample and a unit"),
    Setting("p", "Minkowski p", "number", "number", "minkowski-p", 3.0, "training", 0.1, 100.0, 0.1,
            shown_if=("metric", "minkowski"), noun="minkowski p"),
    Setting("seed", "Seed", "integer", "number", "seed", 0, "training", 0, MAX_SEED, 1,
            help=f"0 to {MAX_SEED:,}; the same seed gives the same map"),
)

SETTING_BY_NAME = {setting.name: setting for setting in SETTINGS}
DEFAULTS = {setting.name: setting.default for setting in SETTINGS}
# The control (its "value" property) that holds each setting.
SETTING_CONTROLS = {setting.name: setting.control_id for setting in SETTINGS}
# The settings the page shows as switches (a checklist holding ["on"] or nothing).
FLAGS = tuple(setting.name for setting in SETTINGS if setting.kind == "flag")


def row_id(setting: Setting) -> str:
    """The id of the sidebar row that holds a setting's control (shown or hidden)."""
    return f"{setting.control_id}-row"


class TrainingSettings:
    """Checked settings: one attribute per row of ``SETTINGS``, typed by its kind."""

    __slots__ = ("_values",)

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("settings are read-only")

    def __eq__(self, other) -> bool:
        return isinstance(other, TrainingSettings) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._values.items())))

    def __repr__(self) -> str:
        return f"TrainingSettings({self._values!r})"

    def som_kwargs(self) -> dict:
        """Keyword arguments of ``SOM(**kwargs)``."""
        return {name: value for name, value in self._values.items() if name != "epochs"}

    def run_settings(self) -> dict:
        """What a run records of its settings: the engine's keywords and the epochs."""
        return dict(self._values)

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

    ``raw`` maps setting names to what the browser sent; a missing or empty value is an
    error, not a silent default, so the user sees what was wrong. A setting hidden by its
    ``shown_if`` takes its default.
    """
    values = {}
    for setting in SETTINGS:
        if setting.shown_if is not None and values.get(setting.shown_if[0]) != setting.shown_if[1]:
            values[setting.name] = setting.default
        else:
            values[setting.name] = _READERS[setting.kind](setting, raw.get(setting.name))
    units = values["width"] * values["height"]
    if units > MAX_UNITS:
        raise SettingsError(f"the map may have at most {MAX_UNITS:,} units; "
                            f"{values['width']} x {values['height']} = {units:,}")
    try:
        Grid(values["width"], values["height"], values["topology"], values["toroidal"])
    except ValueError as error:
        raise SettingsError(str(error)) from error
    return TrainingSettings(values)


def control_values(settings: dict) -> dict:
    """The controls' values that show recorded ``settings`` (switches hold a list)."""
    return {name: (["on"] if settings[name] else []) if name in FLAGS else settings[name] for name in DEFAULTS}


def parse_sample_count(value) -> int:
    """The number of samples to draw from a built-in dataset, or ``SettingsError``."""
    samples = Setting("samples", "Samples", "integer", "number", "sample-count", None, "data", MIN_SAMPLES,
                      MAX_SAMPLES, noun="sample count")
    return _integer(samples, value)


def _flag(setting: Setting, value) -> bool:
    """A checklist's value (a list of ticked options) or a plain bool."""
    if isinstance(value, (list, tuple)):
        return len(value) > 0
    return bool(value)


def _choice(setting: Setting, value) -> str:
    if not isinstance(value, str) or value not in setting.choices:
        raise SettingsError(f"unknown {setting.name} {value!r}; choose one of: {', '.join(setting.choices)}")
    return value


def _parsed(setting: Setting, value, missing: str, kind: str) -> float:
    """The float of a raw value, or a SettingsError naming the setting."""
    if isinstance(value, bool):
        value = None
    if value is None or value == "":
        raise SettingsError(f"{setting.called} is missing: {missing}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(f"{setting.called} must be {kind}, got {value!r}") from None


def _number(setting: Setting, value) -> float:
    number = _parsed(setting, value, "enter a number", "a number")
    low, high = setting.low, setting.high
    too_low = number <= low if setting.low_open else number < low
    if not math.isfinite(number) or too_low or number > high:
        bound = f"> {low:g}" if setting.low_open else f">= {low:g}"
        raise SettingsError(f"{setting.called} must be {bound} and <= {high:g}, got {number:g}")
    return number


def _integer(setting: Setting, value) -> int:
    low, high = int(setting.low), int(setting.high)
    number = _parsed(setting, value, f"enter a whole number from {low:,} to {high:,}", "a whole number")
    if not math.isfinite(number) or number != int(number):
        raise SettingsError(f"{setting.called} must be a whole number, got {value!r}")
    if not low <= number <= high:
        raise SettingsError(f"{setting.called} must be between {low:,} and {high:,}, got {int(number):,}")
    return int(number)


_READERS = {"integer": _integer, "number": _number, "choice": _choice, "flag": _flag}
