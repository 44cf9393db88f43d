"""The page: a status bar on top, the settings in a left sidebar, five panels and a timeline.

``build_layout`` is a pure function of the session id and the defaults; ``app.py`` calls it
for every page load so that each load gets its own session.
"""

from __future__ import annotations

from dash import dcc, html

from .client import client_config, hex_tiling_attributes, upload_attributes
from .figures import PANEL_TITLES, empty_figure
from .ids import Ids
from .settings import MAX_SAMPLES, MAX_UPLOAD_BYTES, MIN_SAMPLES, SETTINGS, Setting, row_id

# Milliseconds between two timeline steps while playing.
PLAY_INTERVAL_MS = 350
# How often the browser checks whether the next poll of the server is due (no request).
PACE_MS = 100

EXPORT_NAMES = {
    Ids.DATA_VIEW: "data-and-map",
    Ids.U_MATRIX: "u-matrix",
    Ids.U_SURFACE: "u-matrix-surface",
    Ids.HITS: "hits",
    Ids.CURVES: "training-curves",
}

# The composed PNG of all panels: the data panel twice as wide as the others on top, as
# on screen. Tiles are CSS pixels, rendered at ``scale`` times that; a header band carries
# the dataset, the settings and the chosen epoch's metrics.
EXPORT_LAYOUT = {
    "tile": [640, 480],
    "scale": 2,
    "header": 92,
    "columns": 3,
    "rows": 2,
    "cells": [
        {"panel": Ids.DATA_VIEW.value, "column": 0, "row": 0, "span": 2},
        {"panel": Ids.U_MATRIX.value, "column": 2, "row": 0, "span": 1},
        {"panel": Ids.U_SURFACE.value, "column": 0, "row": 1, "span": 1},
        {"panel": Ids.HITS.value, "column": 1, "row": 1, "span": 1},
        {"panel": Ids.CURVES.value, "column": 2, "row": 1, "span": 1},
    ],
}


def export_size(spec: dict = EXPORT_LAYOUT) -> tuple[int, int]:
    """Width and height in pixels of the composed PNG."""
    width, height = spec["tile"]
    return (spec["columns"] * width * spec["scale"], (spec["header"] + spec["rows"] * height) * spec["scale"])


def graph_config(panel: str) -> dict:
    """Modebar: PNG download at twice the screen resolution, no logo, no cloud button."""
    return {
        "displaylogo": False,
        "showSendToCloud": False,
        "toImageButtonOptions": {"format": "png", "filename": f"zsom-{EXPORT_NAMES[panel]}", "scale": 2},
        "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
    }


def status_children(state: str, text: str, metrics: list[tuple[str, str]] | None = None) -> list:
    """The status line: a state badge, a sentence, and metric pills (label, value)."""
    children = [html.Span(state, className=f"badge badge-{state.lower()}"), html.Span(text, className="status-text")]
    for label, value in metrics or []:
        parts = [html.Span(label, className="metric-label")] if label else []
        children.append(html.Span([*parts, html.Span(value, className="metric-value")], className="metric"))
    return children


def build_layout(session_id: str, datasets: dict, default_dataset: str, default_samples: int,
                 figures: dict | None = None, view: dict | None = None) -> html.Div:
    """The whole page for one session. ``datasets`` maps names to their labels in the menu;
    ``figures`` are the panels' first figures by panel id, ``view`` what they show."""
    return html.Div(className="app", children=[
        _top_bar(),
        html.Div(className="body", children=[_sidebar(datasets, default_dataset, default_samples),
                                             _main(figures or {})]),
        # Kept in the tab's sessionStorage: a reload finds the session's data and runs again,
        # while every other tab (and every other browser) gets a session of its own.
        dcc.Store(id=Ids.SESSION, data=session_id, storage_type="session"),
        dcc.Store(id=Ids.DATASET_TOKEN),
        dcc.Store(id=Ids.VIEW, data=view or {}),
        dcc.Store(id=Ids.SETTINGS_TOUCHED),
        dcc.Store(id=Ids.PLAY_STEP),
        dcc.Store(id=Ids.EXPORT_SPEC, data=EXPORT_LAYOUT),
        # The page's poll of the server, paced in the browser: see callbacks.run_page.
        dcc.Store(id=Ids.POLL),
        dcc.Interval(id=Ids.PACE, interval=PACE_MS),
        dcc.Store(id=Ids.CLIENT_CONFIG, data=client_config()),
        dcc.Interval(id=Ids.PLAY_TICK, interval=PLAY_INTERVAL_MS, disabled=True),
    ])


def _top_bar() -> html.Header:
    return html.Header(className="topbar", children=[
        html.Div(className="brand", children=[html.Span("ZSOM", className="brand-name"),
                                              html.Span("self-organizing maps, live", className="brand-tag")]),
        html.Div(id=Ids.STATUS, className="status", role="status",
                 children=status_children("Idle", "Loading the dataset...")),
        html.Div(className="actions", children=[
            html.Button("Train", id=Ids.TRAIN, className="btn btn-primary", n_clicks=0),
            html.Button("Cancel", id=Ids.CANCEL, className="btn", n_clicks=0, disabled=True),
            html.Button("Download figure", id=Ids.DOWNLOAD_FIGURE, className="btn", n_clicks=0,
                        title="All panels of the chosen epoch as one PNG"),
            html.Span(id=Ids.EXPORT_MESSAGE, className="export-message"),
        ]),
    ])


def _field(label: str, control, hint: str | None = None, **kwargs) -> html.Div:
    children = [html.Label(label, className="field-label"), control]
    if hint:
        children.append(html.Div(hint, className="field-hint"))
    return html.Div(children, className="field", **kwargs)


def _control(setting: Setting):
    """The control of one row of the settings table."""
    id_, value = setting.control_id, setting.default
    if setting.control == "slider":
        marks = {mark: f"{mark:g}" for mark in setting.marks} or None
        low = setting.step if setting.low_open else setting.low
        return dcc.Slider(id=id_, min=low, max=setting.slider_high or setting.high, step=setting.step, value=value,
                          marks=marks, updatemode="mouseup", className="slider")
    if setting.control == "switch":
        return dcc.Checklist(id=id_, options=[{"label": setting.label, "value": "on"}], value=["on"] if value else [],
                             className="switch", inputClassName="switch-input", labelClassName="switch-label")
    if setting.control == "radio":
        options = [{"label": label, "value": key} for key, label in setting.choices.items()]
        return dcc.RadioItems(id=id_, options=options, value=value, className="segmented", inline=True)
    if setting.control == "dropdown":
        return dcc.Dropdown(id=id_, value=value, clearable=False, searchable=False, className="dropdown",
                            options=[{"label": label, "value": key} for key, label in setting.choices.items()])
    # A typed number: no min/max in the browser, so a value out of range reaches the
    # server, which says why.
    return dcc.Input(id=id_, type="number", step=setting.step, value=value, debounce=True, className="number-input")


def _setting_row(setting: Setting):
    control = _control(setting)
    if setting.control == "switch":
        return control
    hidden = {"style": {"display": "none"}} if setting.shown_if is not None else {}
    hint = setting.help if setting.control == "number" else None
    return _field(setting.label, control, hint, id=row_id(setting), title=setting.help or None, **hidden)


def _sidebar(datasets: dict, default_dataset: str, default_samples: int) -> html.Aside:
    data = html.Section(className="section", children=[
        html.H2("Data"),
        _field("Dataset", dcc.Dropdown(id=Ids.DATASET, value=default_dataset, clearable=False, searchable=False,
                                       options=[{"label": label, "value": name} for name, label in datasets.items()],
                                       className="dropdown")),
        # No min/max in the browser: a value out of range reaches the server, which says why.
        _field("Samples", dcc.Input(id=Ids.SAMPLES, type="number", step=1,
                                    value=default_samples, debounce=True, className="number-input"),
               hint=f"{MIN_SAMPLES:,} to {MAX_SAMPLES:,}, drawn from the dataset or the uploaded mesh"),
        # The browser refuses a file over the limit before reading it (assets/zsom.js says
        # so next to the upload); the server refuses larger requests unread.
        html.Div(dcc.Upload(id=Ids.UPLOAD, className="upload", className_active="upload upload-active",
                            accept=".obj,.stl,.ply,.OBJ,.STL,.PLY", max_size=MAX_UPLOAD_BYTES, multiple=False,
                            children=html.Div(["Drop an OBJ, STL or PLY mesh here, or ",
                                               html.Span("browse", className="link")])),
                 className="upload-holder", **upload_attributes(MAX_UPLOAD_BYTES)),
        html.Div(id=Ids.UPLOAD_MESSAGE, className="message", role="alert"),
        html.Div(id=Ids.DATA_INFO, className="data-info"),
    ])
    sections = [data]
    for section, title in (("map", "Map"), ("training", "Training")):
        rows = [_setting_row(setting) for setting in SETTINGS if setting.section == section]
        if section == "training":
            rows.append(dcc.Checklist(id=Ids.AUTO_RETRAIN, options=[{"label": "Retrain when a setting changes",
                                                                     "value": "on"}], value=["on"],
                                      className="switch", inputClassName="switch-input", labelClassName="switch-label"))
            rows.append(html.Div(id=Ids.SETTINGS_MESSAGE, className="message", role="alert"))
        sections.append(html.Section(className="section", children=[html.H2(title), *rows]))
    return html.Aside(className="sidebar", children=sections)


def _panel(panel: str, figures: dict, extra_class: str = "") -> html.Div:
    message = "Loading the data..." if panel == Ids.DATA_VIEW else "Press Train to see the map learn"
    figure = figures.get(panel) or empty_figure(PANEL_TITLES[panel], message)
    return html.Div(className=f"panel {extra_class}".strip(), children=dcc.Graph(
        id=panel, figure=figure, config=graph_config(panel),
        className="panel-graph", responsive=True, style={"height": "100%", "width": "100%"},
    ))


def _main(figures: dict) -> html.Main:
    return html.Main(className="main", children=[
        html.Div(className="panels", **hex_tiling_attributes(), children=[
            _panel(Ids.DATA_VIEW, figures, "panel-hero"),
            _panel(Ids.U_MATRIX, figures, "panel-side"),
            _panel(Ids.U_SURFACE, figures),
            _panel(Ids.HITS, figures),
            _panel(Ids.CURVES, figures),
        ]),
        html.Div(className="timeline", children=[
            dcc.Dropdown(id=Ids.RUNS, options=[], value=None, clearable=False, searchable=False,
                         placeholder="no runs yet", className="dropdown run-choice"),
            html.Button("\u25B6", id=Ids.PLAY, className="btn btn-icon", n_clicks=0, title="Play the epochs"),
            html.Div(dcc.Slider(id=Ids.TIMELINE, min=1, max=1, step=1, value=1, updatemode="drag",
                                marks=None, className="slider timeline-slider"), className="timeline-track"),
            html.Span("no run yet", id=Ids.TIMELINE_LABEL, className="timeline-label"),
        ]),
    ])

