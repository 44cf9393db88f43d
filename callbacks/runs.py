"""The runs a session keeps: the run menu, and opening a stored run in the panels.

A session keeps its last few runs on the current dataset in the store (see
``SessionStore.trim_runs``), so they outlive a page reload and a server restart. The menu
lists them; choosing one, or reloading the page, opens it: the panels get that run's
skeletons and the timeline its newest epoch, which ``view.show_epoch`` then draws. A run
that still trains when it is opened (started by an earlier load of the page) is followed
through the watchdog.
"""

from __future__ import annotations

import time

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from components.figures import run_skeletons
from components.geometry import map_structure
from components.ids import PANELS, Ids

from .jobs import liveness, pid_alive
from .inputs import mapping_of, session_of
from .store import FINISHED, SessionStore
from .view import shown_run_outputs

def run_label(meta: dict, epochs_done: int, final_mqe: float | None) -> str:
    """A run's line in the menu. The menu is refreshed when a run ends, not every epoch, so
    a run in progress is labelled without its progress."""
    settings = meta["settings"]
    grid = f"{settings['width']}x{settings['height']} {settings['topology']}"
    if meta.get("status") not in FINISHED:
        return f"Run {meta.get('number', '?')}: in progress, {settings['epochs']} epochs, {grid}"
    mqe = f", MQE {final_mqe:.4g}" if final_mqe is not None else ""
    return f"Run {meta.get('number', '?')}: {meta['status']}, {epochs_done}/{settings['epochs']} epochs, {grid}{mqe}"


def run_options(store: SessionStore, session_id: str, token: str | None) -> list[dict]:
    """The run menu's options: the session's runs on dataset ``token``, newest first."""
    options = []
    for meta in reversed(store.runs(session_id)):
        if meta.get("dataset_token") != token:
            continue
        history = store.get_history(session_id, meta["run"])
        done = 0 if history is None else len(history["mqe"])
        final = float(history["mqe"][-1]) if done else None
        options.append({"label": run_label(meta, done, final), "value": meta["run"]})
    return options


def run_to_open(store: SessionStore, session_id: str, token: str | None) -> str | None:
    """The run a page opened on dataset ``token`` shows: the current run while it trains,
    otherwise the newest run that stored an epoch."""
    current = store.current_run_id(session_id)
    meta = store.get_run(session_id, current) if current else None
    if meta is not None and meta.get("dataset_token") == token and _alive(store, session_id, meta):
        return current
    for meta in reversed(store.runs(session_id)):
        if meta.get("dataset_token") == token and store.get_history(session_id, meta["run"]) is not None:
            return meta["run"]
    return None


def run_panels(store: SessionStore, session_id: str, run_id: str, view: dict) -> tuple[dict, dict]:
    """The panels' updates for a recorded run (see ``components.figures.run_skeletons``)
    and the view state once the browser holds them."""
    meta = store.get_run(session_id, run_id)
    settings = meta["settings"]
    grid = [settings["width"], settings["height"], settings["topology"]]
    display = store.get_dataset(session_id)["display"]
    updates = run_skeletons(display, map_structure(*grid), settings["epochs"], meta["schedule"],
                            map_panels=view.get("grid") != grid, data_view=view.get("data_grid") != grid)
    view = {**view, "run": run_id, "epoch": 0, "latest": 0, "follow": True, "grid": grid, "data_grid": grid,
            "detached": False}
    return updates, view


def open_run(store: SessionStore, session_id: str, run_id: str, view: dict) -> dict | None:
    """What opening a stored run sends: panel skeletons, view, timeline, watchdog switch.

    ``None`` when the run is not the session's or not on its current dataset.
    """
    meta = store.get_run(session_id, run_id)
    dataset = store.get_dataset(session_id)
    if meta is None or dataset is None or dataset["token"] != meta["dataset_token"]:
        return None
    panels, view = run_panels(store, session_id, run_id, view)
    history = store.get_history(session_id, run_id)
    latest = 0 if history is None else len(history["mqe"])
    following = store.current_run_id(session_id) == run_id and _alive(store, session_id, meta)
    return {"panels": panels, "view": {**view, "latest": latest, "detached": following},
            "max": max(latest, 1), "value": max(latest, 1),
            "label": f"Epoch {latest} / {latest}" if latest else "waiting for the first epoch",
            "watch": following}


def run_state(store: SessionStore, session_id: str, run_id: str, meta: dict | None, now: float | None = None) -> str:
    """How run ``run_id`` (record ``meta``) looks from this server: see ``jobs.liveness``."""
    now = time.time() if now is None else now
    return liveness(meta, store.last_beat(session_id, run_id), pid_alive, now, store.server_id)


def _alive(store: SessionStore, session_id: str, meta: dict) -> bool:
    return run_state(store, session_id, meta["run"], meta) in ("alive", "starting")


def register(app, store: SessionStore) -> None:
    @app.callback(
        *shown_run_outputs(),
        Output(Ids.WATCHDOG, "disabled", allow_duplicate=True),
        Input(Ids.RUNS, "value"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def choose_run(run_id, view, session_id):
        view = mapping_of(view)
        if not isinstance(run_id, str) or run_id == view.get("run"):
            raise PreventUpdate  # nothing chosen, or the run on screen (a new run lists itself)
        opened = open_run(store, session_of(session_id), run_id, view)
        if opened is None:
            raise PreventUpdate
        figures = [opened["panels"].get(panel, no_update) for panel in PANELS]
        watchdog = False if opened["watch"] else no_update
        return (*figures, opened["view"], opened["max"], opened["value"], opened["label"], watchdog)

    @app.callback(
        Output(Ids.RUNS, "options", allow_duplicate=True),
        Input(Ids.RUN_RESULT, "data"),
        Input(Ids.WATCHDOG, "disabled"),
        State(Ids.DATASET_TOKEN, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def refresh_runs(_result, _watchdog_off, token, session_id):
        return run_options(store, session_of(session_id), token)

