"""Starting, running, cancelling and watching training runs.

A run starts in two steps. ``request_run`` (an ordinary callback) checks the settings,
records the run in the store and hands the browser only its id; that id is the input of
``train``, the background callback, whose process trains and reports epoch numbers. A new
request while a job runs makes Dash stop the old process first (same callback, same
outputs), which is how a settings change mid-run restarts training. The watchdog turns a
process that died, or a server that stopped, into a message instead of a silent stop, and
lets a page follow a run that an earlier load of it started.
"""

from __future__ import annotations

import secrets
import time

from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from components.ids import PANELS, SETTING_CONTROLS, Ids
from components.settings import SettingsError, parse_settings
from components.status import cancelled_status, ended_status, failed_status, starting_status, stopped_status

from .jobs import DEAD_MESSAGE, INTERRUPTED_MESSAGE, run_training, threads_per_job
from .inputs import mapping_of, session_of
from .runs import run_options, run_panels, run_state
from .store import CANCELLED, DONE, FAILED, INTERRUPTED, SessionStore
from .view import shown_run_outputs

POLL_INTERVAL_MS = 200
# How long a killed process may go unnoticed: a cancel marks its run before this passes.
DEAD_GRACE_S = 2.0
# After a cancel, how long a streamed epoch may still arrive (one poll and its update).
CANCEL_SETTLE_S = 2.0


def start_run(store: SessionStore, session_id: str, raw_settings: dict, now: float | None = None) -> tuple[str, str]:
    """Check settings and record a new queued run; returns (run id, settings line).

    Raises ``SettingsError`` with the message for the user.
    """
    settings = parse_settings(raw_settings)
    dataset = store.get_dataset(session_id)
    if dataset is None:
        raise SettingsError("no dataset loaded yet: choose one or upload a mesh first")
    sigmas, rates = settings.schedule()
    run_id = secrets.token_urlsafe(12)
    store.new_run(session_id, run_id, {
        "run": run_id,
        "settings": run_settings(settings),
        "dataset_token": dataset["token"],
        "created": time.time() if now is None else now,
        "schedule": (sigmas, rates),
    })
    return run_id, settings.describe()


def runs_as_asked(store: SessionStore, session_id: str, raw_settings: dict) -> bool:
    """True when the current run trains on the session's dataset with these settings."""
    run_id = store.current_run_id(session_id)
    meta = store.get_run(session_id, run_id) if run_id else None
    dataset = store.get_dataset(session_id)
    if meta is None or dataset is None or dataset["token"] != meta["dataset_token"]:
        return False
    try:
        return run_settings(parse_settings(raw_settings)) == meta["settings"]
    except SettingsError:
        return False


def run_settings(settings) -> dict:
    """What a run records of its settings: the engine's keywords and the epochs."""
    return {**settings.som_kwargs(), "epochs": settings.epochs}


def current_run_state(store: SessionStore, session_id: str, now: float | None = None) -> tuple[str, dict | None]:
    """(liveness, run record) of the session's current run; ("none", None) without one."""
    run_id = store.current_run_id(session_id)
    if run_id is None:
        return "none", None
    meta = store.get_run(session_id, run_id)
    return run_state(store, session_id, run_id, meta, now), meta


def is_streaming(store: SessionStore, session_id: str) -> bool:
    return current_run_state(store, session_id)[0] in ("alive", "starting")


def cancel_current_run(store: SessionStore, session_id: str) -> dict | None:
    """Mark the current run cancelled (its process is being stopped by Dash) and free its slot."""
    run_id = store.current_run_id(session_id)
    if run_id is None:
        return None
    history = store.get_history(session_id, run_id)
    done = 0 if history is None else len(history["mqe"])
    meta = store.update_run(session_id, run_id, status=CANCELLED, epoch=done, finished_at=time.time())
    store.release_slot(run_id)
    return meta


def mark_dead_if_stopped(store: SessionStore, session_id: str, now: float | None = None) -> tuple[str, dict | None]:
    """Check the current run; a dead one is marked failed, an interrupted one interrupted,
    and its slot freed."""
    now = time.time() if now is None else now
    state, meta = current_run_state(store, session_id, now)
    if state in ("dead", "interrupted") and meta is not None:
        beat = store.last_beat(session_id, meta["run"]) or meta.get("started", meta.get("created", now))
        if state == "dead" and now - beat < DEAD_GRACE_S:
            return "alive", meta  # just killed: a cancel or a restart is marking it now
        history = store.get_history(session_id, meta["run"])
        done = 0 if history is None else len(history["mqe"])
        status, message = (FAILED, DEAD_MESSAGE) if state == "dead" else (INTERRUPTED, INTERRUPTED_MESSAGE)
        meta = store.update_run(session_id, meta["run"], status=status, message=message, epoch=done)
        store.release_slot(meta["run"])
    return state, meta


def watchdog_update(store: SessionStore, session_id: str, view: dict | None = None, now: float | None = None) -> tuple:
    """The watchdog's outputs, (interval disabled, status line, progress, Cancel disabled),
    for the current run.

    A live run changes nothing, unless the page follows it without being its job's page
    (``view["detached"]``): then the newest epoch is reported as the job would. A run that
    died or was interrupted is reported; a cancelled one has its status repeated for a
    moment, since an epoch reported just before the cancel may be drawn after it and show
    the run as training. A finished run whose last epoch the page has not drawn (followed
    from an earlier load, or its job's result went astray) is shown it. Anything else
    ends the watch.
    """
    now = time.time() if now is None else now
    view = view or {}
    state, meta = mark_dead_if_stopped(store, session_id, now)
    following = meta is not None and view.get("detached") and view.get("run") == meta["run"]
    if state in ("alive", "starting"):
        if not following:
            raise PreventUpdate
        return False, no_update, _newest(store, session_id, meta["run"]), no_update
    if meta is None:
        return True, no_update, no_update, no_update
    status = meta.get("status")
    if status == INTERRUPTED or (status == FAILED and meta.get("message") == DEAD_MESSAGE):
        return True, ended_status(meta), _newest(store, session_id, meta["run"]) if following else no_update, True
    if status == CANCELLED:
        settled = now - meta.get("finished_at", 0.0) > CANCEL_SETTLE_S
        return settled, cancelled_status(meta.get("epoch", 0), meta["settings"]["epochs"]), no_update, True
    if status == DONE and view.get("run") == meta["run"]:
        newest = _newest(store, session_id, meta["run"])
        behind = following or view.get("latest", 0) < newest["epoch"]
        return True, no_update, newest if behind else no_update, no_update
    return True, no_update, no_update, no_update


def _newest(store: SessionStore, session_id: str, run_id: str) -> dict:
    history = store.get_history(session_id, run_id)
    return {"run": run_id, "epoch": 0 if history is None else len(history["mqe"])}


def register(app, store: SessionStore, max_jobs: int, max_waiting: int, server_pid: int) -> None:
    setting_states = [State(control, "value") for control in SETTING_CONTROLS.values()]
    threads = threads_per_job(max_jobs)

    @app.callback(
        Output(Ids.RUN_REQUEST, "data"),
        Output(Ids.SETTINGS_MESSAGE, "children"),
        Output(Ids.WATCHDOG, "disabled", allow_duplicate=True),
        Output(Ids.STATUS, "children", allow_duplicate=True),
        *shown_run_outputs(),
        Output(Ids.RUNS, "options", allow_duplicate=True),
        Output(Ids.RUNS, "value", allow_duplicate=True),
        Input(Ids.TRAIN, "n_clicks"),
        Input(Ids.SETTINGS_TOUCHED, "data"),
        Input(Ids.DATASET_TOKEN, "data"),
        *setting_states,
        State(Ids.AUTO_RETRAIN, "value"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def request_run(_clicks, _touched, _token, *values):
        *setting_values, auto_retrain, view, session_id = values
        session_id = session_of(session_id)
        raw = dict(zip(SETTING_CONTROLS, setting_values))
        trigger = ctx.triggered_id
        if trigger != Ids.TRAIN:
            if not is_streaming(store, session_id) or runs_as_asked(store, session_id, raw):
                raise PreventUpdate  # nothing to restart, or nothing changed (a reloaded page)
            if not auto_retrain:
                if trigger == Ids.DATASET_TOKEN:
                    cancel_current_run(store, session_id)
                    return ({"stop": True}, "", True, stopped_status("Stopped: the dataset changed"),
                            *[no_update] * (len(PANELS) + 6))
                raise PreventUpdate
        try:
            run_id, line = start_run(store, session_id, raw)
        except SettingsError as error:
            return (no_update, html.Span(str(error), className="error"), no_update, failed_status(str(error)),
                    *[no_update] * (len(PANELS) + 6))
        panels, view = run_panels(store, session_id, run_id, mapping_of(view))
        options = run_options(store, session_id, store.get_run(session_id, run_id)["dataset_token"])
        return ({"run": run_id}, "", False, starting_status(line), *[panels.get(panel, no_update) for panel in PANELS],
                view, 1, 1, "waiting for the first epoch", options, run_id)

    @app.callback(
        Output(Ids.RUN_RESULT, "data"),
        Input(Ids.RUN_REQUEST, "data"),
        State(Ids.SESSION, "data"),
        background=True,
        progress=[Output(Ids.PROGRESS, "data")],
        cancel=[Input(Ids.CANCEL, "n_clicks")],
        running=[(Output(Ids.CANCEL, "disabled"), False, True), (Output(Ids.TRAIN, "children"), "Restart", "Train")],
        interval=POLL_INTERVAL_MS,
        prevent_initial_call=True,
        on_error=_job_error,
    )
    def train(set_progress, request, session_id):
        session_id = session_of(session_id)
        if not request or not request.get("run"):
            raise PreventUpdate  # a stop request: Dash has stopped the previous job
        return run_training(store, session_id, request["run"], report=set_progress, max_jobs=max_jobs,
                            threads=threads, max_waiting=max_waiting, server_pid=server_pid)

    @app.callback(
        Output(Ids.STATUS, "children", allow_duplicate=True),
        Input(Ids.CANCEL, "n_clicks"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def cancel(_clicks, session_id):
        meta = cancel_current_run(store, session_of(session_id))
        if meta is None:
            raise PreventUpdate
        if meta.get("status") != CANCELLED:
            raise PreventUpdate  # it had finished already
        return cancelled_status(meta.get("epoch", 0), meta["settings"]["epochs"])

    @app.callback(
        Output(Ids.WATCHDOG, "disabled", allow_duplicate=True),
        Output(Ids.STATUS, "children", allow_duplicate=True),
        Output(Ids.PROGRESS, "data", allow_duplicate=True),
        Output(Ids.CANCEL, "disabled", allow_duplicate=True),
        Input(Ids.WATCHDOG, "n_intervals"),
        State(Ids.VIEW, "data"),
        State(Ids.SESSION, "data"),
        prevent_initial_call=True,
    )
    def watch(_ticks, view, session_id):
        return watchdog_update(store, session_of(session_id), mapping_of(view))


def _job_error(error: Exception) -> dict:
    """A background callback that raised outside ``run_training``: show it, never hang."""
    return {"run": None, "status": FAILED, "epoch": 0, "epochs": 0, "message": str(error).splitlines()[0]}


