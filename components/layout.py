"""The page: a status bar on top, the settings in a left sidebar, five panels and a timeline.

``build_layout`` is a pure function of the session id and the defaults; ``app.py`` calls it
for every page load so that each load gets its own session.
"""

from __future__ import annotations

from dash import dcc, html

from .client import client_config, hex_tiling_attributes, upload_attributes
from .figures import PANEL_TITLES, empty_figure
from .ids import Ids
from .settings import (DEFAULTS, MAX_EPOCHS, MAX_SAMPLES, MAX_SEED, MAX_SIDE, MAX_UPLOAD_BYTES, MIN_SAMPLES,
                       MIN_SIDE)

# Milliseconds between two timeline steps while playing.
PLAY_INTERVAL_MS = 350
WATCHDOG_INTERVAL_MS = 1000

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
    "header": 64,
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


METRIC_LABELS = {"euclidean": "Euclidean", "manhattan": "Manhattan", "chebyshev": "Chebyshev",
                 "cosine": "Cosine", "minkowski": "Minkowski"}
NEIGHBORHOOD_LABELS = {"gaussian": "Gaussian", "bubble": "Bubble", "mexican_hat": "Mexican hat",
                       "triangle": "Triangle"}


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
        dcc.Store(id=Ids.RUN_REQUEST),
        dcc.Store(id=Ids.PROGRESS),
        dcc.Store(id=Ids.RUN_RESULT),
        dcc.Store(id=Ids.VIEW, data=view or {}),
        dcc.Store(id=Ids.SETTINGS_TOUCHED),
        dcc.Store(id=Ids.EXPORT_SPEC, data=EXPORT_LAYOUT),
        dcc.Store(id=Ids.CLIENT_CONFIG, data=client_config()),
        dcc.Interval(id=Ids.WATCHDOG, interval=WATCHDOG_INTERVAL_MS, disabled=True),
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


def _slider(id_: str, low, high, step, value, marks: dict | None = None) -> dcc.Slider:
    return dcc.Slider(id=id_, min=low, max=high, step=step, value=value, marks=marks, updatemode="mouseup",
                      className="slider")


def _switch(id_: str, label: str, on: bool) -> dcc.Checklist:
    return dcc.Checklist(id=id_, options=[{"label": label, "value": "on"}], value=["on"] if on else [],
                         className="switch", inputClassName="switch-input", labelClassName="switch-label")


def _radio(id_: str, options: dict, value: str) -> dcc.RadioItems:
    return dcc.RadioItems(id=id_, options=[{"label": label, "value": key} for key, label in options.items()],
                          value=value, className="segmented", inline=True)


def _sidebar(datasets: dict, default_dataset: str, default_samples: int) -> html.Aside:
    d = DEFAULTS
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
    side_marks = {v: str(v) for v in (MIN_SIDE, 25, 50, 75, MAX_SIDE)}
    grid = html.Section(className="section", children=[
        html.H2("Map"),
        _field("Width", _slider(Ids.WIDTH, MIN_SIDE, MAX_SIDE, 1, d["width"], side_marks)),
        _field("Height", _slider(Ids.HEIGHT, MIN_SIDE, MAX_SIDE, 1, d["height"], side_marks)),
        _field("Topology", _radio(Ids.TOPOLOGY, {"square": "Square", "hex": "Hexagonal"}, d["topology"])),
        _switch(Ids.TOROIDAL, "Toroidal (edges wrap around)", d["toroidal"]),
        _field("Initialisation", _radio(Ids.INIT, {"pca": "PCA", "random": "Random"}, d["init"])),
    ])
    training = html.Section(className="section", children=[
        html.H2("Training"),
        _field("Epochs", _slider(Ids.EPOCHS, 1, MAX_EPOCHS, 1, d["epochs"], {1: "1", 250: "250", 500: "500", 1000: "1000"})),
        _field("Sigma0 (neighbourhood radius)", _slider(Ids.SIGMA, 0.5, 50, 0.5, d["sigma"], {0.5: "0.5", 25: "25", 50: "50"})),
        _field("Learning rate", _slider(Ids.LEARNING_RATE, 0.01, 1, 0.01, d["learning_rate"], {0.01: "0.01", 0.5: "0.5", 1: "1"})),
        _field("Decay", _radio(Ids.DECAY, {"linear": "Linear", "exponential": "Exponential"}, d["decay"])),
        _switch(Ids.ADAPTIVE_LR, "Adaptive learning rate", d["adaptive_lr"]),
        _field("Algorithm", _radio(Ids.ALGORITHM, {"batch": "Batch", "online": "Online"}, d["algorithm"])),
        _field("Neighbourhood", dcc.Dropdown(id=Ids.NEIGHBORHOOD, value=d["neighborhood"], clearable=False,
                                             searchable=False, className="dropdown",
                                             options=[{"label": v, "value": k} for k, v in NEIGHBORHOOD_LABELS.items()])),
        _field("Metric", dcc.Dropdown(id=Ids.METRIC, value=d["metric"], clearable=False, searchable=False,
                                      className="dropdown",
                                      options=[{"label": v, "value": k} for k, v in METRIC_LABELS.items()])),
        _field("Minkowski p", dcc.Input(id=Ids.MINKOWSKI_P, type="number", step=0.1, value=d["p"],
                                        debounce=True, className="number-input"),
               id=Ids.MINKOWSKI_P_ROW, style={"display": "none"}),
        _field("Seed", dcc.Input(id=Ids.SEED, type="number", step=1, value=d["seed"],
                                 debounce=True, className="number-input"),
               hint=f"0 to {MAX_SEED:,}"),
        _switch(Ids.AUTO_RETRAIN, "Retrain when a setting changes", True),
        html.Div(id=Ids.SETTINGS_MESSAGE, className="message", role="alert"),
    ])
    return html.Aside(className="sidebar", children=[data, grid, training])


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

