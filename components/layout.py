"""The page: a status bar on top, the settings in a left sidebar, five panels and a timeline.

``build_layout`` is a pure function of the session id and the defaults; ``app.py`` calls it
for every page load so that each load gets its own session.

Every control sits in a holder that names it (``labelled``): a ``<label>`` with an id, and
the holder's ``data-control-label`` attribute pointing at it. A ``dcc.Input`` takes its name
from the label's ``for``; the parts of Dash's other controls that a label cannot reach (a
slider's handle and value box, a dropdown's button, an upload's file input) are given the
label by ``assets/zsom.js``, which reads that attribute.
"""

from __future__ import annotations

from dash import dcc, html

from .client import client_config, hex_tiling_attributes, upload_attributes
from .figures import PANEL_TITLES, empty_figure
from .ids import TABS, Ids, label_id
from .settings import (
    MAX_SAMPLES,
    MAX_UPLOAD_BYTES,
    MIN_SAMPLES,
    SETTINGS,
    UPLOAD_EXTENSIONS,
    Setting,
    hint_id,
    message_id,
    row_id,
)
from .table_view import DEFAULT_SCALING, PREVIEW_ROWS, SCALING_LABELS, roles_table
from .views import CLUSTER_METHODS, DEFAULT_CLUSTER_METHOD, DEFAULT_CLUSTERS, MAX_CLUSTERS, MIN_CLUSTERS

# Milliseconds between two timeline steps while playing.
PLAY_INTERVAL_MS = 350
# How often the browser checks whether the next poll of the server is due (no request).
PACE_MS = 100

# The sidebar's first section, then the ones after it: (the settings table's section, its
# title), in order.
DATA_TITLE = "Data"
SECTIONS = (("map", "Map"), ("schedule", "Schedule"), ("training", "Training"))
# The upload's words, shown in it and read out as its name.
UPLOAD_PROMPT = ("Drop a mesh (OBJ, STL, PLY) or a table (CSV, TSV, Parquet, XLSX) here, or ", "browse")

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
        dcc.Store(id=Ids.PANEL_UPDATES),
        dcc.Interval(id=Ids.PACE, interval=PACE_MS),
        dcc.Store(id=Ids.CLIENT_CONFIG, data=client_config()),
        dcc.Interval(id=Ids.PLAY_TICK, interval=PLAY_INTERVAL_MS, disabled=True),
    ])


def _top_bar() -> html.Header:
    return html.Header(className="topbar", children=[
        html.Div(className="brand", children=[html.H1("ZSOM", className="brand-name"),
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


def labelled(label: str, control, hint: str | None = None, *, hidden: bool = False, className: str = "field",
             **kwargs) -> html.Div:
    """``control`` under its label (and a hint), in a holder that names it: see the module's
    docstring. A ``hidden`` label is read by screen readers only."""
    name = html.Label(label, id=label_id(control.id), htmlFor=control.id,
                      className="visually-hidden" if hidden else "field-label")
    children = [name, control, *([html.Div(hint, className="field-hint")] if hint else [])]
    return html.Div(children, className=className, **{"data-control-label": label_id(control.id)}, **kwargs)


def _switch(control_id: str, label: str, value: bool) -> dcc.Checklist:
    """A one-option checklist shown as a switch; its option's text is its name."""
    return dcc.Checklist(id=control_id, options=[{"label": label, "value": "on"}], value=["on"] if value else [],
                         className="switch", inputClassName="switch-input", labelClassName="switch-label")


def _control(setting: Setting):
    """The control of one row of the settings table."""
    id_, value = setting.control_id, setting.default
    if setting.control == "slider":
        marks = {mark: f"{mark:g}" for mark in setting.marks} or None
        low = setting.step if setting.low_open else setting.low
        return dcc.Slider(id=id_, min=low, max=setting.high, step=setting.step, value=value,
                          marks=marks, updatemode="mouseup", className="slider")
    if setting.control == "switch":
        return _switch(id_, setting.label, value)
    if setting.control == "radio":
        options = [{"label": label, "value": key} for key, label in setting.choices.items()]
        return dcc.RadioItems(id=id_, options=options, value=value, className="segmented", inline=True)
    if setting.control == "dropdown":
        return dcc.Dropdown(id=id_, value=value, clearable=False, searchable=False, className="dropdown",
                            options=[{"label": label, "value": key} for key, label in setting.choices.items()])
    # A typed number: no min, max or step in the browser (which would send an invalid value
    # as missing), so that what was typed reaches the server, which says what is wrong.
    return dcc.Input(id=id_, type="number", step="any", value=value, debounce=0.4, className="number-input")


def _setting_row(setting: Setting):
    """A setting's control, its hint and the line where the server says what is wrong with its value."""
    control = _control(setting)
    hidden = {"style": {"display": "none"}} if setting.shown_if is not None else {}
    message = html.Div(id=message_id(setting), className="field-message", **{"aria-live": "polite"})
    if setting.control == "switch":
        hint = None if setting.engine else html.Div(id=hint_id(setting), className="field-hint")
        return html.Div([control, hint, message], id=row_id(setting), className="field field-switch",
                        title=setting.help or None, **hidden)
    hint = setting.help if setting.control == "number" else None
    field = labelled(setting.label, control, hint, id=row_id(setting), title=setting.help or None, **hidden)
    field.children.append(message)
    return field


def _section(title: str, rows: list) -> html.Details:
    """A sidebar section that folds away (its summary is a button for the keyboard, too)."""
    return html.Details(open=True, className="section", children=[html.Summary(title, className="section-title"),
                                                                  html.Div(rows, className="section-body")])


def _sidebar(datasets: dict, default_dataset: str, default_samples: int) -> html.Aside:
    data = [
        labelled("Dataset", dcc.Dropdown(id=Ids.DATASET, value=default_dataset, clearable=False, searchable=False,
                                         options=[{"label": label, "value": name} for name, label in datasets.items()],
                                         className="dropdown")),
        # No min/max in the browser: a value out of range reaches the server, which says why.
        labelled("Samples", dcc.Input(id=Ids.SAMPLES, type="number", step="any",
                                      value=default_samples, debounce=True, className="number-input"),
                 hint=f"{MIN_SAMPLES:,} to {MAX_SAMPLES:,}, drawn from the dataset or the uploaded mesh",
                 id=Ids.SAMPLES_ROW),
        # The browser refuses a file over the limit before reading it (assets/zsom.js says
        # so next to the upload); the server refuses larger requests unread.
        labelled("".join(UPLOAD_PROMPT),
                 dcc.Upload(id=Ids.UPLOAD, className="upload", className_active="upload upload-active",
                            accept=",".join([*UPLOAD_EXTENSIONS, *(ext.upper() for ext in UPLOAD_EXTENSIONS)]),
                            max_size=MAX_UPLOAD_BYTES, multiple=False,
                            children=html.Div([UPLOAD_PROMPT[0], html.Span(UPLOAD_PROMPT[1], className="link")])),
                 hidden=True, className="upload-holder", **upload_attributes(MAX_UPLOAD_BYTES, UPLOAD_EXTENSIONS)),
        html.Div(id=Ids.UPLOAD_MESSAGE, className="message", role="alert"),
        html.Div(id=Ids.DATA_INFO, className="data-info"),
        _table_controls(),
    ]
    sections = [_section(DATA_TITLE, data)]
    for section, title in SECTIONS:
        rows = [_setting_row(setting) for setting in SETTINGS if setting.section == section]
        if section == "training":
            rows.append(_switch(Ids.AUTO_RETRAIN, "Retrain when a setting changes", True))
            rows.append(html.Div(id=Ids.SETTINGS_MESSAGE, className="message", role="alert"))
        sections.append(_section(title, rows))
    return html.Aside(className="sidebar", children=sections, **{"aria-label": "Data and settings"})


def _table_controls() -> html.Div:
    """A loaded table's scaling, column roles and first rows; hidden for other data."""
    scaling = dcc.Dropdown(id=Ids.TABLE_SCALING, value=DEFAULT_SCALING, clearable=False, searchable=False,
                           options=[{"label": label, "value": key} for key, label in SCALING_LABELS.items()],
                           className="dropdown")
    return html.Div(id=Ids.TABLE_PANEL, hidden=True, className="table-panel", children=[
        labelled("Scaling", scaling, "Of the numeric features; one-hot dummies are divided by the square root "
                                     "of their share"),
        labelled("3-D view", dcc.Dropdown(id=Ids.TABLE_AXES, options=[], value=[], multi=True, searchable=False,
                                          placeholder="PCA of all features", className="dropdown"),
                 "Or three numeric features, in the table's units"),
        html.Div("Column roles", id=Ids.TABLE_ROLES_LABEL, className="field-label"),
        html.Div(roles_table(), className="table-roles", role="group",
                 **{"aria-labelledby": Ids.TABLE_ROLES_LABEL.value}),
        html.Div(id=Ids.TABLE_MESSAGE, className="message", role="alert"),
        html.Details(className="table-preview", children=[
            html.Summary(f"First {PREVIEW_ROWS} rows"), html.Div(id=Ids.TABLE_PREVIEW)]),
    ])


def _panel(panel: str, figures: dict, extra_class: str = "") -> html.Div:
    message = "Loading the data..." if panel == Ids.DATA_VIEW else "Press Train to see the map learn"
    figure = figures.get(panel) or empty_figure(PANEL_TITLES[panel], message)
    return html.Div(className=f"panel {extra_class}".strip(), children=dcc.Graph(
        id=panel, figure=figure, config=graph_config(panel),
        className="panel-graph", responsive=True, style={"height": "100%", "width": "100%"},
    ))


def _exports() -> html.Div:
    """The files of the chosen epoch, on the tabs' row: every tab's and the run's."""
    return html.Div(className="exports", role="group", **{"aria-label": "Export the chosen epoch"}, children=[
        html.Span(id=Ids.DOWNLOAD_MESSAGE, className="download-message", role="status"),
        html.Button("Assignments CSV", id=Ids.EXPORT_ASSIGNMENTS, className="btn btn-small", n_clicks=0,
                    title="Every row of the data with its unit, distance and cluster at the chosen epoch"),
        html.Button("Model", id=Ids.EXPORT_MODEL, className="btn btn-small", n_clicks=0,
                    title="The map at the chosen epoch, with its scaler and column roles, for SOM.load"),
        html.Button("Report", id=Ids.EXPORT_REPORT, className="btn btn-small", n_clicks=0,
                    title="One HTML file of the chosen epoch: settings, data, every view; opens offline"),
        html.Button("Bundle", id=Ids.EXPORT_BUNDLE, className="btn btn-small", n_clicks=0,
                    title="The whole run in one zip: settings, every epoch's metrics, the final map, "
                          "and the Python lines that train it again"),
        html.Span(title="Put the rows the map trained on into the bundle too (an upload's are left out "
                        "otherwise; a built-in dataset's always go in)", children=dcc.Checklist(
            id=Ids.BUNDLE_WITH_DATA, className="bundle-with-data", value=[],
            options=[{"label": "+ data", "value": "data"}], inputStyle={"margin-right": "3px"},
            labelStyle={"font-size": "12px"})),
        dcc.Download(id=Ids.DOWNLOAD),
    ])


def _main(figures: dict) -> html.Main:
    return html.Main(className="main", **hex_tiling_attributes(), children=[
        html.Div(id=Ids.STALE_NOTE, className="stale-note", role="status"),
        html.Div(className="view-tabs-row", children=[
            dcc.Tabs(id=Ids.VIEW_TABS, value="training", className="view-tabs", parent_className="view-tabs-holder",
                     children=[dcc.Tab(label=label, value=value, className="view-tab", selected_className="view-tab-on")
                               for value, label in TABS.items()]),
            _exports(),
        ]),
        _views(),
        html.Div(id=Ids.PANELS, className="panels", children=[
            _panel(Ids.DATA_VIEW, figures, "panel-hero"),
            _panel(Ids.U_MATRIX, figures, "panel-side"),
            _panel(Ids.U_SURFACE, figures),
            _panel(Ids.HITS, figures),
            _panel(Ids.CURVES, figures),
        ]),
        html.Div(className="timeline", children=[
            labelled("Run", dcc.Dropdown(id=Ids.RUNS, options=[], value=None, clearable=False, searchable=False,
                                         placeholder="no runs yet", className="dropdown"),
                     hidden=True, className="run-choice"),
            # The button's text is a symbol that turns to a pause sign while playing.
            html.Button("\u25B6", id=Ids.PLAY, className="btn btn-icon", n_clicks=0, title="Play the epochs",
                        **{"aria-label": "Play or pause the epochs"}),
            labelled("Epoch shown", dcc.Slider(id=Ids.TIMELINE, min=1, max=1, step=1, value=1, updatemode="drag",
                                               marks=None, className="slider timeline-slider"),
                     hidden=True, className="timeline-track"),
            html.Span("no run yet", id=Ids.TIMELINE_LABEL, className="timeline-label"),
        ]),
    ])



# ---------------------------------------------------------------------- the views' tabs


def _view_graph(graph_id: str, title: str, extra_class: str = "") -> html.Div:
    return html.Div(className=f"view-panel {extra_class}".strip(), children=dcc.Graph(
        id=graph_id, figure=empty_figure(title, "Train a map to see it here"), className="panel-graph",
        responsive=True, style={"height": "100%", "width": "100%"},
        config={"displaylogo": False, "showSendToCloud": False, "modeBarButtonsToRemove": ["autoScale2d"],
                "toImageButtonOptions": {"format": "png", "filename": f"zsom-{graph_id.removeprefix('view-')}",
                                         "scale": 2}}))


def _views() -> html.Div:
    """The tabs that read the trained map, beside the unit inspector; hidden while the
    training panels show. Only the shown tab is computed (``callbacks.map_views``)."""
    methods = [{"label": label, "value": key} for key, label in CLUSTER_METHODS.items()]
    clusters = html.Section(id=Ids.CLUSTERS_TAB, className="view-tab-body", hidden=True, children=[
        html.Div(className="view-controls", children=[
            labelled("Clustering", dcc.Dropdown(id=Ids.CLUSTER_METHOD, options=methods, value=DEFAULT_CLUSTER_METHOD,
                                                clearable=False, searchable=False, className="dropdown")),
            labelled("Clusters (k)", dcc.Slider(id=Ids.CLUSTER_K, min=MIN_CLUSTERS, max=MAX_CLUSTERS, step=1,
                                                value=DEFAULT_CLUSTERS, marks=None, updatemode="mouseup",
                                                className="slider"), className="field view-k"),
            _switch(Ids.CLUSTER_NEIGHBOURS, "Merge grid neighbours only", True),
            _switch(Ids.CLUSTER_COLOURING, "Colour the data panel by cluster", False),
        ]),
        html.Div(className="view-grid", children=[
            _view_graph(Ids.CLUSTER_MAP, "Clusters"),
            _view_graph(Ids.CLUSTER_U_MATRIX, "U-Matrix and clusters"),
            _view_graph(Ids.CLUSTER_HITS, "Hits and clusters"),
            _view_graph(Ids.CLUSTER_SCORES, "Which k?"),
        ]),
        html.Div(id=Ids.QUALITY_TABLE, className="view-table"),
    ])
    planes = html.Section(id=Ids.PLANES_TAB, className="view-tab-body", hidden=True, children=[
        html.Div(id=Ids.PLANE_CARDS, className="plane-cards", role="group",
                 **{"aria-label": "Component planes, correlated features side by side"}),
        html.Div(className="view-grid view-grid-two", children=[
            _view_graph(Ids.PLANE_LARGE, "Component plane"),
            _view_graph(Ids.PROTOTYPES, "Prototypes as images", "view-prototypes"),
        ]),
    ])
    labels = html.Section(id=Ids.LABELS_TAB, className="view-tab-body", hidden=True, children=[
        html.Div(className="view-controls", children=[
            labelled("Show", dcc.RadioItems(id=Ids.LABEL_STYLE, value="purity", inline=True, className="segmented",
                                            options=[{"label": "Majority and purity", "value": "purity"},
                                                     {"label": "Pie per unit", "value": "pie"}])),
        ]),
        html.Div(className="view-grid view-grid-one", children=[_view_graph(Ids.LABEL_MAP, "Labels")]),
        html.Div(id=Ids.LABEL_TABLE, className="view-table"),
    ])
    new_data = html.Section(id=Ids.NEW_DATA_TAB, className="view-tab-body", hidden=True, children=[
        html.Div(className="view-controls", children=[
            labelled("Drop a table or mesh with the same features here, or browse",
                     dcc.Upload(id=Ids.NEW_DATA_UPLOAD, className="upload upload-small", multiple=False,
                                max_size=MAX_UPLOAD_BYTES,
                                children=html.Div(["New data: drop a file here, or ",
                                                   html.Span("browse", className="link")])),
                     hidden=True, className="upload-holder"),
            labelled("Flag rows farther than", dcc.Input(id=Ids.NEW_DATA_THRESHOLD, type="number", step="any",
                                                         debounce=0.4, className="number-input",
                                                         placeholder="the training data's 99th percentile"),
                     "Distance to the best-matching unit; empty: the training data's 99th percentile"),
        ]),
        html.Div(className="view-actions", children=[
            html.Div(id=Ids.NEW_DATA_MESSAGE, className="message", role="status"),
            html.Button("New data CSV", id=Ids.EXPORT_NEW_DATA, className="btn", n_clicks=0,
                        title="Every new row with its unit, anomaly score and flag"),
        ]),
        html.Div(className="view-grid view-grid-two", children=[
            _view_graph(Ids.NEW_DATA_MAP, "New data"),
            html.Div(id=Ids.NEW_DATA_LIST, className="view-panel view-list"),
        ]),
    ])
    inspector = html.Aside(id=Ids.INSPECTOR, className="inspector", **{"aria-label": "Unit inspector"},
                           children=html.P("Click a unit on a map to see its samples.", className="hint"))
    selection = html.Div(className="view-actions", children=[
        html.Div("Box or lasso units on a map to select them.", id=Ids.SELECTION_INFO, className="selection-info",
                 role="status"),
        html.Button("Selection CSV", id=Ids.EXPORT_SELECTION, className="btn", n_clicks=0,
                    title="The rows of the selected units, with their units and clusters"),
    ])
    return html.Div(id=Ids.VIEWS, className="views", hidden=True, children=[
        html.Div(className="views-body", children=[selection, clusters, planes, labels, new_data]),
        inspector,
        dcc.Store(id=Ids.VIEW_KEY),
        dcc.Store(id=Ids.CHOSEN_UNIT),
        dcc.Store(id=Ids.PLANE_CHOSEN),
        dcc.Store(id=Ids.SELECTION, data=[]),
        dcc.Store(id=Ids.CLOUD_COLOURS),
    ])
