"""The training settings, written once: ``SETTINGS`` is the table every other list derives from.

Each row names one setting (the engine's keyword, or "epochs"), its label, the control
that shows it, its default, its bounds or its choices (labels taken from the engine's
registries) and a line of help. The defaults, the typed settings, the control ids, the
sidebar (``components.layout``) and the server's check of what the browser sends
(``parse_settings``) come from it; adding a setting is one row here and, for the engine,
one keyword of ``SOM``.

The controls offer only what the server accepts (a slider's ends are the setting's
bounds), but any value can reach the server (typed into a box, or sent by hand), so every
value is checked here again: ``check_settings`` names each problem next to its setting,
in words that give the value and the rule, before any run starts.
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
from zsom_core.sizing import auto_map_size
from zsom_core.som import ALGORITHM_LABELS

# 100 x 100 units: the largest map whose epochs the engine trains and the page draws at a
# pace that still reads as live (measured in benchmarks/README.md).
MIN_SIDE, MAX_SIDE = 2, 100
MIN_SAMPLES, MAX_SAMPLES = 100, 200_000
MAX_SEED = 2**31 - 1
# Left to the map, sigma0 is this fraction of its larger side (the SOM Toolbox's rough start).
AUTO_SIGMA_SHARE = 4
MAX_UPLOAD_BYTES = 50 * 2**20
# The files an upload takes, by name: what the file chooser offers and what the server reads.
MESH_EXTENSIONS = (".obj", ".stl", ".ply")
TABLE_EXTENSIONS = (".csv", ".tsv", ".parquet", ".xlsx")
UPLOAD_EXTENSIONS = MESH_EXTENSIONS + TABLE_EXTENSIONS


class SettingsError(ValueError):
    """A setting outside what the server accepts; the message is shown to the user.

    ``setting`` names the row whose control the message belongs next to (None: the
    request as a whole)."""

    def __init__(self, message: str, setting: str | None = None):
        super().__init__(message)
        self.setting = setting


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
    marks: tuple = ()
    choices: dict = field(default_factory=dict)
    shown_if: tuple[str, str] | None = None
    help: str = ""
    # How a message names the setting: "grid width must be ...".
    noun: str = ""
    # False for a choice of the page's own that the engine never sees (it is resolved
    # before a run starts, and kept with the run so that opening the run restores it).
    engine: bool = True
    # A hidden setting takes its default, or None where the engine reads None as "not set".
    none_when_hidden: bool = False

    @property
    def called(self) -> str:
        return self.noun or self.label.lower()

    @property
    def rule(self) -> str:
        """What the setting accepts, as a message says it: "a whole number from 1 to 1,000"."""
        if self.kind == "integer":
            return f"a whole number from {int(self.low):,} to {int(self.high):,}"
        if self.kind == "number":
            low = f"above {self.low:g}" if self.low_open else f"from {self.low:g}"
            return f"a number {low} {'and at most' if self.low_open else 'to'} {self.high:g}"
        if self.kind == "choice":
            return f"one of: {', '.join(self.choices)}"
        return "on or off"


# The sidebar offers PCA first: it is the default and the better start.
PCA_FIRST = {name: INIT_LABELS[name] for name in ("pca", "random")}

SETTINGS = (
    Setting("auto_size", "Size from the data", "flag", "switch", "auto-size", True, "map", engine=False,
            help="about 5 n^0.54 units, the sides in the ratio of the data's two main directions "
                 "(the SOM Toolbox's rule); off to choose the size"),
    Setting("width", "Width", "integer", "slider", "grid-width", 30, "map", MIN_SIDE, MAX_SIDE, 1,
            marks=(MIN_SIDE, 25, 50, 75, MAX_SIDE), shown_if=("auto_size", False), noun="grid width",
            help="units across"),
    Setting("height", "Height", "integer", "slider", "grid-height", 30, "map", MIN_SIDE, MAX_SIDE, 1,
            marks=(MIN_SIDE, 25, 50, 75, MAX_SIDE), shown_if=("auto_size", False), noun="grid height",
            help="units down"),
    Setting("topology", "Topology", "choice", "radio", "topology", "hex", "map", choices=TOPOLOGY_LABELS,
            help="hexagonal units have six neighbours, square ones four"),
    Setting("toroidal", "Toroidal (edges wrap around)", "flag", "switch", "toroidal", False, "map",
            help="opposite edges of the map are neighbours"),
    Setting("init", "Initialisation", "choice", "radio", "init", "pca", "map", choices=PCA_FIRST,
            help="PCA spreads the map over the data's first two principal components"),
    Setting("auto_sigma", "Sigma0 from the map size", "flag", "switch", "auto-sigma", True, "schedule", engine=False,
            help=f"the neighbourhood starts at 1/{AUTO_SIGMA_SHARE:g} of the map's larger side "
                 "(the SOM Toolbox's start); off to choose it"),
    Setting("sigma", "Sigma0 (neighbourhood radius)", "number", "slider", "sigma0", 8.0, "schedule", 0.0,
            float(MAX_SIDE), 0.5, low_open=True, marks=(0.5, 25, 50, 75, 100), shown_if=("auto_sigma", False),
            noun="sigma0", help="in grid units, at the first epoch"),
    Setting("sigma_end", "Sigma at the end", "number", "number", "sigma-end", 0.5, "schedule", 0.0, float(MAX_SIDE),
            0.1, low_open=True, noun="sigma at the end",
            help="above 0 and at most sigma0; below 1 each unit ends fitted to its own samples"),
    Setting("sigma_hold", "Epochs at the end sigma (share)", "number", "slider", "sigma-hold", 0.4, "schedule", 0.0,
            0.9, 0.05, marks=(0, 0.4, 0.9), noun="share of epochs at the end sigma",
            help="the last share of the epochs trains at the end sigma, so that the map settles"),
    Setting("learning_rate", "Learning rate", "number", "slider", "learning-rate", 1.0, "schedule", 0.0, 1.0, 0.01,
            low_open=True, marks=(0.01, 0.5, 1), help="at the first epoch"),
    Setting("adaptive_lr", "Adaptive learning rate", "flag", "switch", "adaptive-lr", False, "schedule",
            help="the learning rate follows the trend of the mean quantization error"),
    Setting("learning_rate_end", "Learning rate at the end", "number", "slider", "learning-rate-end", 0.05,
            "schedule", 0.0, 1.0, 0.01, low_open=True, marks=(0.01, 0.5, 1), shown_if=("adaptive_lr", False),
            none_when_hidden=True, noun="learning rate at the end",
            help="at the last epoch (the adaptive rate sets its own)"),
    Setting("decay", "Decay", "choice", "radio", "decay", "linear", "schedule", choices=DECAY_LABELS,
            help="how sigma and the learning rate fall over the epochs"),
    Setting("epochs", "Epochs", "integer", "slider", "epochs", 50, "training", 1, 1_000, 1,
            marks=(1, 250, 500, 1_000), help="passes over the data"),
    Setting("algorithm", "Algorithm", "choice", "radio", "algorithm", "batch", "training", choices=ALGORITHM_LABELS,
            help="batch: one update per epoch; online: one per sample"),
    Setting("neighborhood", "Neighbourhood", "choice", "dropdown", "neighborhood", "gaussian", "training",
            choices=NEIGHBORHOOD_LABELS, help="how a unit's update falls off with grid distance"),
    Setting("metric", "Metric", "choice", "dropdown", "metric", "euclidean", "training", choices=METRIC_LABELS,
            help="distance between a sample and a unit"),
    Setting("p", "Minkowski p", "number", "number", "minkowski-p", 3.0, "training", 0.1, 100.0, 0.1,
            shown_if=("metric", "minkowski"), noun="minkowski p", help="0.1 to 100"),
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


def hint_id(setting: Setting) -> str:
    """The id of the line under a page choice's switch that says what it chose."""
    return f"{setting.control_id}-hint"


def message_id(setting: Setting) -> str:
    """The id of the line under a setting's control that says what is wrong with its value."""
    return f"{setting.control_id}-message"


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
        return {name: value for name, value in self.run_settings().items() if name != "epochs"}

    def run_settings(self) -> dict:
        """What a run records of its settings and its job trains: the engine's keywords and the epochs."""
        return {name: value for name, value in self._values.items() if SETTING_BY_NAME[name].engine}

    def page_choices(self) -> dict:
        """The page's own choices, kept with a run beside its settings (``from_run`` reads both)."""
        return {name: value for name, value in self._values.items() if not SETTING_BY_NAME[name].engine}

    @classmethod
    def from_run(cls, settings: dict, choices: dict | None = None) -> TrainingSettings:
        """A run's settings and page choices, as recorded; a choice the record does not
        hold (a run recorded before it existed) is off."""
        values = {setting.name: False for setting in SETTINGS if not setting.engine}
        values.update(choices or {})
        values.update(settings)
        return cls(values)

    def replace(self, **changes) -> TrainingSettings:
        return TrainingSettings({**self._values, **changes})

    def grid_key(self) -> list:
        """What a map panel's geometry depends on: [width, height, topology]."""
        return [self.width, self.height, self.topology]

    def resolved(self, auto_sizes: dict) -> TrainingSettings:
        """These settings with what the page leaves to the data decided: the map's size
        from ``auto_sizes`` (topology -> [width, height], see ``auto_sizes``; a toroidal
        hexagonal map gets the even height it needs), then sigma0 from the map's size.
        ``SettingsError`` when sigma0 so chosen is below the end sigma."""
        settings = self
        if self.auto_size:
            width, height = auto_sizes[self.topology]
            if self.toroidal and self.topology == "hex" and height % 2:
                height = height + 1 if height < MAX_SIDE else height - 1
            settings = settings.replace(width=width, height=height)
        if self.auto_sigma:
            settings = settings.replace(sigma=max(settings.width, settings.height) / AUTO_SIGMA_SHARE)
            if settings.sigma_end > settings.sigma:
                raise SettingsError(_sigma_end_problem(settings.sigma, settings.sigma_end), "sigma_end")
        return settings

    def schedule(self) -> tuple[list[float], list[float]]:
        """The planned sigma and learning rate of every epoch (plain arithmetic, no kernels)."""
        return SOM(**self.som_kwargs()).schedule(self.epochs).values()

    def describe(self) -> str:
        """One line for titles and the exported figure."""
        wrap = " toroidal" if self.toroidal else ""
        metric = f"minkowski p={self.p:g}" if self.metric == "minkowski" else self.metric
        rate = "adaptive lr" if self.adaptive_lr else f"lr {self.learning_rate:g} -> {self.learning_rate_end:g}"
        hold = f" (last {self.sigma_hold:.0%} held)" if self.sigma_hold else ""
        return (f"{self.width}x{self.height} {self.topology}{wrap}, {metric}, {self.neighborhood}, "
                f"{self.decay} decay, sigma {self.sigma:g} -> {self.sigma_end:g}{hold}, {rate}, "
                f"{self.epochs} epochs, {self.algorithm}, seed {self.seed}")


def shown_value(setting: Setting, value) -> str:
    """A setting's value as a message or a label shows it."""
    if setting.kind == "flag":
        return "on" if value else "off"
    if setting.kind == "choice":
        return str(setting.choices.get(value, value)).lower()
    if value is None:
        return "auto"
    return f"{value:g}" if isinstance(value, float) else f"{value:,}"


def setting_changes(before: TrainingSettings, after: TrainingSettings) -> list[str]:
    """Each setting that differs, in the table's order: "sigma0 8 -> 4"."""
    changes = []
    for setting in SETTINGS:
        old, new = getattr(before, setting.name, None), getattr(after, setting.name, None)
        if old != new:
            changes.append(f"{setting.called} {shown_value(setting, old)} -> {shown_value(setting, new)}")
    return changes


def auto_sizes(points) -> dict:
    """The map size the data suggests for each topology: topology -> [width, height]."""
    return {topology: list(auto_map_size(points, topology=topology))
            for topology in TOPOLOGY_LABELS}


def check_settings(raw: dict) -> tuple[TrainingSettings, dict[str, str]]:
    """Check raw control values: (typed settings, {setting name: message}); each setting
    with a problem is read as its default, so the settings are valid only without problems.

    A setting's ``shown_if`` names a setting above it in the table.

    ``raw`` maps setting names to what the browser sent; a missing or empty value is a
    problem, not a silent default, so the user sees what was wrong. A setting hidden by
    its ``shown_if`` is not read: it takes its default (or None, see ``none_when_hidden``).
    """
    values, problems = {}, {}
    for setting in SETTINGS:
        if setting.shown_if is not None and values.get(setting.shown_if[0]) != setting.shown_if[1]:
            values[setting.name] = None if setting.none_when_hidden else setting.default
            continue
        try:
            values[setting.name] = _READERS[setting.kind](setting, raw.get(setting.name))
        except SettingsError as error:
            problems[setting.name] = str(error)
            values[setting.name] = setting.default
    for name, message in _conflicts(values):
        problems.setdefault(name, message)
    return TrainingSettings(values), problems


def _sigma_end_problem(sigma: float, sigma_end: float) -> str:
    return f"sigma at the end must not exceed sigma0 ({sigma:g}), got {sigma_end:g}"


def _conflicts(values: dict):
    """(setting, message) for each rule between two settings that ``values`` breaks."""
    if not values["auto_sigma"] and values["sigma_end"] > values["sigma"]:
        yield "sigma_end", _sigma_end_problem(values["sigma"], values["sigma_end"])
    if values["learning_rate_end"] is not None and values["learning_rate_end"] > values["learning_rate"]:
        yield "learning_rate_end", (f"learning rate at the end must not exceed the learning rate "
                                    f"({values['learning_rate']:g}), got {values['learning_rate_end']:g}")
    if not values["auto_size"]:
        try:
            Grid(values["width"], values["height"], values["topology"], values["toroidal"])
        except ValueError as error:
            yield "height", str(error)


def parse_settings(raw: dict) -> TrainingSettings:
    """The typed settings of raw control values, or ``SettingsError`` naming the first problem."""
    settings, problems = check_settings(raw)
    if problems:
        name, message = next(iter(problems.items()))
        raise SettingsError(message, name)
    return settings


def control_values(settings: dict, choices: dict | None = None) -> dict:
    """The controls' values that show a run's recorded ``settings`` and page ``choices``
    (switches hold a list; a setting the engine left unset shows its default)."""
    values = {**DEFAULTS, **(choices or {}), **{name: value for name, value in settings.items() if value is not None}}
    return {name: (["on"] if values[name] else []) if name in FLAGS else values[name] for name in DEFAULTS}


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
        raise SettingsError(f"unknown {setting.called} {value!r}; choose {setting.rule}")
    return value


def _shown(value) -> str:
    """A refused value as the message quotes it: numbers as typed, anything else in quotes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"
    return repr(value)


def _float(setting: Setting, value) -> float:
    """The float of a raw value, or a SettingsError that gives the setting's rule."""
    if isinstance(value, bool):
        value = None
    if value is None or value == "":
        raise SettingsError(f"{setting.called} is missing: enter {setting.rule}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if not math.isfinite(number):
        raise SettingsError(f"{setting.called} must be {setting.rule}, got {_shown(value)}")
    return number


def _number(setting: Setting, value) -> float:
    number = _float(setting, value)
    too_low = number <= setting.low if setting.low_open else number < setting.low
    if too_low or number > setting.high:
        raise SettingsError(f"{setting.called} must be {setting.rule}, got {_shown(value)}")
    return number


def _integer(setting: Setting, value) -> int:
    number = _float(setting, value)
    if number != int(number) or not setting.low <= number <= setting.high:
        raise SettingsError(f"{setting.called} must be {setting.rule}, got {_shown(value)}")
    return int(number)


_READERS = {"integer": _integer, "number": _number, "choice": _choice, "flag": _flag}
