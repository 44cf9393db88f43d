"""Showing an epoch: one code path for the live stream, the run's end and the timeline.

A streamed epoch number, a run's final state and the timeline's value all go through
``epoch_view``: it reads that epoch from the store and returns the panels' patches that
``components.figures.panel_updates`` builds. Playing the timeline, exporting and
debouncing setting changes run in the browser (``assets/zsom.js``).
"""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from components.figures import panel_updates
from components.geometry import map_structure
from components.ids import PANELS, SETTING_CONTROLS, Ids
from components.status import busy_status, epoch_status, failed_status, queued_status

from .inputs import epoch_of, mapping_of, session_of
from .store import BUSY, FAILED, FINISHED, SessionStore


def choose_epoch(trigger: str, progress: dict | None, result: dict | None, slider, view: dict) -> tuple[str, int | None]:
    """(run id, epoch asked for) of a trigger; epoch None means "the newest stored".

    Raises ``PreventUpdate`` when the trigger asks for nothing new.
    """
    if trigger == Ids.PROGRESS:
        if not progress or not progress.get("run"):
            raise PreventUpdate
        return progress["run"], None  # the newest stored epoch: it may be past the reported one
    if trigger == Ids.RUN_RESULT:
        if not result or not result.get("run"):
            raise PreventUpdate
        return result["run"], None
    run, epoch = view.get("run"), epoch_of(slider)
    if not isinstance(run, str) or epoch is None or epoch == view.get("epoch"):
        raise PreventUpdate  # no run shown yet, or the timeline echoing what is shown
    return run, epoch


def epoch_view(store: SessionStore, session_id: str, trigger: str, progress, result, slider, view: dict) -> dict:
    """Everything ``show_epoch`` returns, as a dict of plain values and figure updates.

    Keys: "panels" (panel id -> figure or Patch, or absent), "view", "max", "value",
    "label", "status". A value of ``no_update`` leaves that output as it is.
    """
    view = view or {}
    if trigger == Ids.RUN_RESULT and result and result.get("status") in (BUSY, FAILED) and not result.get("epoch"):
        message = result.get("message") or "training failed"
        status = busy_status(message) if result["status"] == BUSY else failed_status(f"Failed: {message}")
        return _only_status(status)
    place = (progress or {}).get("queued")
    if trigger == Ids.PROGRESS and type(place) is int and place > 0 and view.get("run") == progress.get("run"):
        return _only_status(queued_status(place))
    run_id, asked = choose_epoch(trigger, progress, result, slider, view)
    if trigger != Ids.TIMELINE and store.current_run_id(session_id) != run_id:
        raise PreventUpdate  # a replaced run's late report (the timeline may show an older run)
    meta = store.get_run(session_id, run_id)
    history = store.get_history(session_id, run_id)
    dataset = store.get_dataset(session_id)
    if meta is None or history is None or dataset is None or dataset["token"] != meta["dataset_token"]:
        raise PreventUpdate
    if view.get("run") != run_id:
        raise PreventUpdate  # the panels do not hold this run's skeletons (a newer request does)
    latest = len(history["mqe"])
    following = view.get("follow", True)
    held = epoch_of(view.get("epoch")) or 1
    if trigger == Ids.PROGRESS and not following:
        # The user holds the timeline on an earlier epoch: only let it reach further.
        record = store.get_epoch(session_id, run_id, held)
        label = f"Epoch {held} / {latest}"
        return {"panels": {}, "view": {**view, "latest": latest}, "max": latest, "value": no_update,
                "label": label, "status": epoch_status(meta, record, latest) if record else no_update,
                "cancel": cancel_disabled(trigger, meta)}
    epoch = latest if asked is None else min(max(asked, 1), latest)
    if trigger == Ids.RUN_RESULT and not following:
        epoch = held
    record = store.get_epoch(session_id, run_id, epoch)
    if record is None:
        raise PreventUpdate
    settings = meta["settings"]
    structure = map_structure(settings["width"], settings["height"], settings["topology"])
    panels = panel_updates(dataset["display"], structure, record, history, adaptive=bool(settings["adaptive_lr"]))
    # Asking for the newest epoch the page knew of follows the run, however far it got since.
    follow = epoch >= latest or (asked is not None and asked >= view.get("latest", latest))
    new_view = {**view, "run": run_id, "epoch": epoch, "latest": latest, "follow": follow,
                "dataset": meta["dataset_token"]}
    return {
        "panels": panels,
        "view": new_view,
        "max": latest,
        "value": epoch if trigger != Ids.TIMELINE else no_update,
        "label": f"Epoch {epoch} / {latest}",
        "status": epoch_status(meta, record, latest),
        "cancel": cancel_disabled(trigger, meta),
    }


def cancel_disabled(trigger: str, meta: dict):
    """Cancel's state after a streamed epoch or a run's end: live while the run trains.

    Dash switches Cancel on and off around the training job; when a restart replaces a
    job, the old job's end can switch it off after the new job switched it on. Every
    streamed epoch says it again. The timeline leaves it alone.
    """
    if trigger == Ids.TIMELINE:
        return no_update
    return meta.get("status") in FINISHED


def _only_status(status) -> dict:
    return {"panels": {}, "view": no_update, "max": no_update, "value": no_update, "label": no_update,
            "status": status, "cancel": no_update}


def shown_run_outputs() -> list[Output]:
    """What every callback that puts a run's epoch on screen writes: the panels, the view
    state and the timeline (its end, its position and its label), in that order."""
    return [
        *[Output(panel, "figure", allow_duplicate=True) for panel in PANELS],
        Output(Ids.VIEW, "data", allow_duplicate=True),
        Output(Ids.TIMELINE, "max", allow_duplicate=True),
        Output(Ids.TIMELINE, "value", allow_duplicate=True),
        Output(Ids.TIMELINE_LABEL, "children", allow_duplicate=True),
    ]


def register(app, store: SessionStore) -> None:
    outputs = [
        *shown_run_outputs(),
        Output(Ids.STATUS, "children", allow_duplicate=True),
        Output(Ids.CANCEL, "disabled", allow_duplicate=True),
    ]

    def respond(session_id, trigger, progress, result, slider, view):
        session_id = session_of(session_id)
        progress, result = mapping_of(progress) or None, mapping_of(result) or None
        out = epoch_view(store, session_id, trigger, progress, result, slider, mapping_of(view))
        figures = [out["panels"].get(panel, no_update) for panel in PANELS]
        return (*figures, out["view"], out["max"], out["value"], out["label"], out["status"], out["cancel"])

    # Two callbacks, one code path: Dash holds back a callback while one of its inputs is
    # the output of a callback still running. The run's result is the training job's
    # output, so a callback listening to it would wait for the end of the run.
    @app.callback(
        *outputs,
        Input(Ids.PROGRESS, "data"),
        Input(Ids.TIMELINE, "value"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def show_epoch(progress, slider, view, session_id):
        return respond(session_id, ctx.triggered_id, progress, None, slider, view)

    @app.callback(
        *outputs,
        Input(Ids.RUN_RESULT, "data"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def show_result(result, view, session_id):
        return respond(session_id, Ids.RUN_RESULT, None, result, None, view)

    app.clientside_callback(
        ClientsideFunction("zsom", "play"),
        Output(Ids.TIMELINE, "value", allow_duplicate=True),
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

    app.clientside_callback(
        ClientsideFunction("zsom", "debounceSettings"),
        Output(Ids.SETTINGS_TOUCHED, "data"),
        *[Input(control, "value") for control in SETTING_CONTROLS.values()],
        State(Ids.CLIENT_CONFIG, "data"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction("zsom", "showWhenMinkowski"),
        Output(Ids.MINKOWSKI_P_ROW, "style"),
        Input(Ids.METRIC, "value"),
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

