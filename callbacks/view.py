"""The page's own reflexes, run in the browser (``assets/zsom.js``): playing the timeline
(each step an epoch for ``run_page`` to show), drawing the server's panel updates one
panel at a time, pacing the page's poll of the server,
debouncing setting changes, and the composed PNG export. No server round trip is involved."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State

from components.ids import Ids
from components.settings import SETTING_CONTROLS


def register(app) -> None:
    app.clientside_callback(
        ClientsideFunction("zsom", "play"),
        Output(Ids.PLAY_STEP, "data"),
        Output(Ids.PLAY_TICK, "disabled"),
        Output(Ids.PLAY, "children"),
        Input(Ids.PLAY, "n_clicks"),
        Input(Ids.PLAY_TICK, "n_intervals"),
        State(Ids.TIMELINE, "value"),
        State(Ids.TIMELINE, "max"),
        State(Ids.PLAY_TICK, "disabled"),
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )

    # The pace's tick first; then what else sends a request of run_page.show_runs (whose
    # answer a poll sent meanwhile would make Dash drop), the two the server also writes last.
    app.clientside_callback(
        ClientsideFunction("zsom", "pacePoll"),
        Output(Ids.POLL, "data"),
        Input(Ids.PACE, "n_intervals"),
        Input(Ids.TRAIN, "n_clicks"),
        Input(Ids.CANCEL, "n_clicks"),
        Input(Ids.SETTINGS_TOUCHED, "data"),
        Input(Ids.DATASET_TOKEN, "data"),
        Input(Ids.PLAY_STEP, "data"),
        Input(Ids.TIMELINE, "value"),
        Input(Ids.RUNS, "value"),
        State(Ids.VIEW, "data"),
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction("zsom", "queuePanels"),
        Input(Ids.PANEL_UPDATES, "data"),
        State(Ids.VIEW, "data"),
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction("zsom", "debounceSettings"),
        Output(Ids.SETTINGS_TOUCHED, "data"),
        *[Input(control, "value") for control in SETTING_CONTROLS.values()],
        State(Ids.VIEW, "data"),
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction("zsom", "exportFigure"),
        Output(Ids.EXPORT_MESSAGE, "children"),
        Input(Ids.DOWNLOAD_FIGURE, "n_clicks"),
        State(Ids.VIEW, "data"),
        State(Ids.EXPORT_SPEC, "data"),
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )
