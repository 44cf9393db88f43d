"""The sidebar's own check of its settings: ``check_form`` answers every change of a control.

Each setting's problem is said under its control, in words that give the value and the
rule, before any run starts; Train stays off while a problem is left. The rows that apply
only under another setting (Minkowski's p, the map's size when it is not the data's) are
shown or hidden here, and the size the data suggests is shown under its switch. The rules
are the settings table's (``components.settings.check_settings``), which the server
applies again to whatever reaches it.
"""

from __future__ import annotations

from dash import Input, Output, State, html

from components.ids import Ids
from components.settings import (
    SETTING_CONTROLS,
    SETTINGS,
    SettingsError,
    TrainingSettings,
    auto_sizes,
    check_settings,
    hint_id,
    message_id,
    row_id,
)
from zsom_jobs.seams import Store

from .inputs import session_of

SHOWN_IF = [setting for setting in SETTINGS if setting.shown_if is not None]
HIDDEN = {"display": "none"}


def form_answer(values: dict, dataset: dict | None) -> dict:
    """The outputs of ``check_form`` for raw control ``values`` and the session's dataset;
    keys are (component id, property)."""
    settings, problems = check_settings(values)
    resolved = None
    if dataset is not None:
        try:
            resolved = settings.resolved(dataset.get("auto_sizes") or auto_sizes(dataset["points"]))
        except SettingsError as error:
            problems.setdefault(error.setting, str(error))
    outputs = {(message_id(setting), "children"): problems.get(setting.name, "") for setting in SETTINGS}
    for setting in SHOWN_IF:
        applies = getattr(settings, setting.shown_if[0]) == setting.shown_if[1]
        outputs[(row_id(setting), "style")] = {} if applies else HIDDEN
    outputs[(Ids.TRAIN, "disabled")] = bool(problems)
    for setting in CHOICES:
        chosen = resolved is not None and getattr(settings, setting.name)
        outputs[(hint_id(setting), "children")] = HINTS[setting.name](resolved, dataset) if chosen else ""
    return outputs


def _size_hint(settings: TrainingSettings, dataset: dict):
    units = settings.width * settings.height
    return html.Span([html.B(f"{settings.width} x {settings.height}"),
                      f" ({units:,} units) for {dataset['display']['n']:,} samples"])


def _sigma_hint(settings: TrainingSettings, dataset: dict):
    return html.Span([html.B(f"sigma0 {settings.sigma:g}"), f" for the {settings.width} x {settings.height} map"])


# What each page choice says it chose, under its switch.
HINTS = {"auto_size": _size_hint, "auto_sigma": _sigma_hint}
CHOICES = [setting for setting in SETTINGS if not setting.engine]


def register(app, store: Store) -> None:
    outputs = [*[Output(message_id(setting), "children") for setting in SETTINGS],
               *[Output(row_id(setting), "style") for setting in SHOWN_IF],
               Output(Ids.TRAIN, "disabled"), *[Output(hint_id(setting), "children") for setting in CHOICES]]
    keys = [(str(output.component_id), output.component_property) for output in outputs]

    @app.callback(
        *outputs,
        *[Input(control, "value") for control in SETTING_CONTROLS.values()],
        Input(Ids.DATASET_TOKEN, "data"),
        State(Ids.SESSION, "data"),
    )
    def check_form(*values):
        *setting_values, _token, session_id = values
        answer = form_answer(dict(zip(SETTING_CONTROLS, setting_values)), store.get_dataset(session_of(session_id)))
        return tuple(answer[key] for key in keys)
