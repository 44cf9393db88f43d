"""Callback requests forged by hand, as an attacker sends them: the server checks every input.

The browser's controls keep values in range, but anyone can POST any body to
``/_dash-update-component``. These tests do that through Flask's test client, in process
(no browser, no network, no training process), with bodies built from the app's own
``/_dash-dependencies`` (see ``dash_requests``), and check what comes back and what the
server stored: an error message for the user and nothing recorded, never a crash page or a
traceback, never another session's data, never a file outside the cache folder.
"""

from __future__ import annotations

import base64
import io
import json
import string
import uuid
from pathlib import Path

import pytest
from dash_requests import DashRequests, output, text_of

from app import create_app
from callbacks.data import UPLOAD_LIMITS
from callbacks.jobs import run_training
from callbacks.store import QUEUED, SessionStore
from callbacks.training import start_run

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Werkzeug Debugger", 'File "/', "__debugger__")
MISSING = object()

SESSION = "session-id.data"
VIEW = "view-state.data"
TRAIN = "train-button.n_clicks"
DATASET = "dataset-choice.value"
SAMPLES = "sample-count.value"
UPLOAD = "mesh-upload.contents"
UPLOAD_NAME = "mesh-upload.filename"
TIMELINE = "timeline.value"
PROGRESS = "run-progress.data"
RESULT = "run-result.data"
RUN_CHOICE = "run-choice.value"
PANEL_IDS = ("panel-data-view", "panel-u-matrix", "panel-u-surface", "panel-hits", "panel-curves")

# A small map and run, so that a valid request is cheap to answer and to train in process.
SMALL_RUN = {"grid-width.value": 4, "grid-height.value": 4, "epochs.value": 3, "sigma0.value": 2.0}
TETRAHEDRON_OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
GARBAGE = bytes(range(256)) * 8


def data_url(payload: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(payload).decode()


# ---------------------------------------------------------------------------- fixtures and helpers


# One app for the module: every test works in sessions of its own, which is what the
# server keeps apart (building an app per test would cost most of the file's time).
@pytest.fixture(scope="module")
def app_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("forged")


@pytest.fixture(scope="module")
def server(app_root) -> DashRequests:
    return DashRequests(create_app(app_root / "cache", max_jobs=2))


@pytest.fixture(scope="module")
def cache_store(app_root, server) -> SessionStore:
    """The store the app keeps its state in, opened a second time to look inside."""
    store = SessionStore(app_root / "cache" / "store")
    yield store
    store.close()


def assert_no_traceback(response) -> None:
    text = response.get_data(as_text=True)
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"the response shows server internals ({marker!r}):\n{text[:2000]}"


def send(server: DashRequests, input_prop: str, values: dict | None = None, **options) -> tuple[int, dict | None]:
    """(status, JSON body) of a callback request, after checking it shows no traceback."""
    response = server.call_raw(input_prop, values, **options)
    assert_no_traceback(response)
    return response.status_code, response.get_json(silent=True)


def load_data(server: DashRequests, session: str, samples: int = 500) -> str:
    """Give ``session`` the "clusters" dataset, as the data callback does; returns its token."""
    status, body = send(server, SAMPLES, {DATASET: "clusters", SAMPLES: samples, SESSION: session})
    assert status == 200, status
    token = output(body, "dataset-token.data")
    assert isinstance(token, str) and token
    return token


def request_run(server: DashRequests, session: str, values: dict | None = None) -> tuple[int, dict | None]:
    return send(server, TRAIN, {SESSION: session, **SMALL_RUN, **(values or {})})


def recorded_run(server: DashRequests, session: str) -> tuple[str, dict]:
    """A run the server accepted for ``session`` (dataset loaded first): (run id, view state)."""
    load_data(server, session)
    status, body = request_run(server, session)
    assert status == 200, status
    run_id = output(body, "run-request.data")["run"]
    return run_id, output(body, VIEW)


def message_of(body, prop_id: str) -> str:
    return text_of(output(body, prop_id))


def files_under(root: Path, skip: str = "cache") -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")
            if path.relative_to(root).parts[0] != skip}


# ---------------------------------------------------------------------------- 1. training settings

# (values forged into the run request, text of the server's message)
FORGED_SETTINGS = {
    "grid 10000 x 10000": ({"grid-width.value": 10_000, "grid-height.value": 10_000},
                           "grid width must be between 2 and 100"),
    "grid 100 x 100": ({"grid-width.value": 100, "grid-height.value": 100}, "at most 2,500 units"),
    "width 0": ({"grid-width.value": 0}, "grid width must be between 2 and 100, got 0"),
    "width 101": ({"grid-width.value": 101}, "grid width must be between 2 and 100, got 101"),
    "height -3": ({"grid-height.value": -3}, "grid height must be between 2 and 100, got -3"),
    "width 1e308": ({"grid-width.value": 1e308}, "grid width must be between 2 and 100"),
    "width a string": ({"grid-width.value": "wide"}, "grid width must be a whole number, got 'wide'"),
    "width a list": ({"grid-width.value": [30]}, "grid width must be a whole number"),
    "width a dict": ({"grid-width.value": {"value": 30}}, "grid width must be a whole number"),
    "width true": ({"grid-width.value": True}, "grid width is missing"),
    "width missing": ({"grid-width.value": None}, "grid width is missing"),
    "epochs 10**9": ({"epochs.value": 10**9}, "epochs must be between 1 and 1,000, got 1,000,000,000"),
    "epochs -1": ({"epochs.value": -1}, "epochs must be between 1 and 1,000, got -1"),
    "epochs 0": ({"epochs.value": 0}, "epochs must be between 1 and 1,000, got 0"),
    "epochs 1.5": ({"epochs.value": 1.5}, "epochs must be a whole number, got 1.5"),
    "epochs 'inf'": ({"epochs.value": "inf"}, "epochs must be a whole number"),
    "epochs empty": ({"epochs.value": ""}, "epochs is missing"),
    "epochs missing": ({"epochs.value": None}, "epochs is missing"),
    "sigma -1": ({"sigma0.value": -1}, "sigma0 must be > 0 and <= 200, got -1"),
    "sigma 0": ({"sigma0.value": 0}, "sigma0 must be > 0 and <= 200, got 0"),
    "sigma 1e6": ({"sigma0.value": 1e6}, "sigma0 must be > 0 and <= 200"),
    "sigma NaN": ({"sigma0.value": float("nan")}, "sigma0 must be > 0 and <= 200, got nan"),
    "sigma Infinity": ({"sigma0.value": float("inf")}, "sigma0 must be > 0 and <= 200, got inf"),
    "sigma 'inf'": ({"sigma0.value": "inf"}, "sigma0 must be > 0 and <= 200, got inf"),
    "sigma 'nan'": ({"sigma0.value": "nan"}, "sigma0 must be > 0 and <= 200, got nan"),
    "sigma a string": ({"sigma0.value": "big"}, "sigma0 must be a number, got 'big'"),
    "sigma missing": ({"sigma0.value": None}, "sigma0 is missing"),
    "learning rate 2": ({"learning-rate.value": 2}, "learning rate must be > 0 and <= 1, got 2"),
    "learning rate 0": ({"learning-rate.value": 0}, "learning rate must be > 0 and <= 1, got 0"),
    "learning rate -0.5": ({"learning-rate.value": -0.5}, "learning rate must be > 0 and <= 1"),
    "seed -5": ({"seed.value": -5}, "seed must be between 0 and 2,147,483,647, got -5"),
    "seed 2**31": ({"seed.value": 2**31}, "seed must be between 0 and 2,147,483,647"),
    "seed 0.5": ({"seed.value": 0.5}, "seed must be a whole number"),
    "metric 'rm -rf'": ({"metric.value": "rm -rf"}, "unknown metric 'rm -rf'; choose one of"),
    "metric missing": ({"metric.value": None}, "unknown metric None"),
    "minkowski p 0": ({"metric.value": "minkowski", "minkowski-p.value": 0}, "minkowski p must be >= 0.1"),
    "minkowski p 1e9": ({"metric.value": "minkowski", "minkowski-p.value": 1e9},
                        "minkowski p must be >= 0.1 and <= 100"),
    "topology a list": ({"topology.value": ["hex"]}, "unknown topology ['hex']"),
    "topology a dict": ({"topology.value": {"hex": True}}, "unknown topology {'hex': True}"),
    "topology '__class__'": ({"topology.value": "__class__"}, "unknown topology '__class__'"),
    "init unknown": ({"init.value": "zeros"}, "unknown init 'zeros'"),
    "neighborhood unknown": ({"neighborhood.value": 7}, "unknown neighborhood 7"),
    "decay unknown": ({"decay.value": ["linear"]}, "unknown decay ['linear']"),
    "algorithm unknown": ({"algorithm.value": "gpu"}, "unknown algorithm 'gpu'"),
    "toroidal hex, odd height": ({"toroidal.value": ["on"], "grid-height.value": 5}, "needs an even height"),
}

HUGE_INT = 10**400  # valid JSON: Python parses it to an int that float() refuses with OverflowError
FORGED_SETTINGS_HUGE = {
    "width 10**400": ({"grid-width.value": HUGE_INT}, "grid width must be"),
    "epochs 10**400": ({"epochs.value": HUGE_INT}, "epochs must be"),
    "seed -10**400": ({"seed.value": -HUGE_INT}, "seed must be"),
}


def settings_cases():
    for name, (values, message) in {**FORGED_SETTINGS, **FORGED_SETTINGS_HUGE}.items():
        yield pytest.param(values, message, id=name)


def test_a_valid_run_request_records_a_run(server, cache_store):
    """The control for the cases below: the same request, unforged, is accepted."""
    session = server.new_session()
    token = load_data(server, session)
    status, body = request_run(server, session)
    assert status == 200
    assert message_of(body, "settings-message.children") == ""
    run_id = output(body, "run-request.data")["run"]
    assert cache_store.current_run_id(session) == run_id
    meta = cache_store.get_run(session, run_id)
    assert meta["status"] == QUEUED and meta["dataset_token"] == token
    assert meta["settings"]["width"] == 4 and meta["settings"]["epochs"] == 3


@pytest.mark.parametrize("forged, message", list(settings_cases()))
def test_forged_settings_are_refused_with_a_message_and_record_no_run(server, cache_store, forged, message):
    session = server.new_session()
    load_data(server, session)  # the forged setting is the only thing wrong with the request
    status, body = request_run(server, session, forged)
    assert status == 200
    assert message in message_of(body, "settings-message.children")
    assert message in json.dumps(output(body, "status-line.children"))
    assert output(body, "run-request.data", MISSING) is MISSING  # no run id handed out
    assert cache_store.current_run_id(session) is None


def test_a_run_request_without_data_is_refused(server, cache_store):
    session = server.new_session()
    status, body = request_run(server, session)
    assert status == 200
    assert "no dataset loaded yet" in message_of(body, "settings-message.children")
    assert cache_store.current_run_id(session) is None


# A view state that is not an object (the browser only ever sends an object or nothing).
# (trigger, an output that picks the callback, extra values)
VIEW_CALLBACKS = {
    "run request": (TRAIN, None, {}),
    "data shown": ("dataset-token.data", "panel-data-view.figure", {"dataset-token.data": "{token}"}),
    "timeline": (TIMELINE, None, {TIMELINE: 2}),
    "run menu": (RUN_CHOICE, None, {RUN_CHOICE: "someone-elses-run"}),
    "watchdog": ("run-watchdog.n_intervals", None, {}),
    "run result": (RESULT, "view-state.data", {RESULT: {"run": "{run}", "status": "done", "epoch": 1}}),
    "run progress": (PROGRESS, None, {PROGRESS: {"run": "{run}", "epoch": 1}}),
}


def view_cases():
    for name, (trigger, writes, values) in VIEW_CALLBACKS.items():
        for view, label in (("x", "a string"), ([1, 2], "a list")):
            yield pytest.param(trigger, writes, values, view, id=f"{name}, {label}")


@pytest.mark.parametrize("trigger, writes, values, view", list(view_cases()))
def test_a_view_state_that_is_not_an_object_is_not_a_server_error(server, trigger, writes, values, view):
    if not server.dependencies_with(trigger):
        pytest.skip(f"no server callback has the input {trigger}")
    session = server.new_session()
    token = load_data(server, session)
    status, body = request_run(server, session)  # the session has data and a run
    run_id = output(body, "run-request.data")["run"]
    values = json.loads(json.dumps(values).replace("{token}", token).replace("{run}", run_id))
    dependency = next(dep for dep in server.dependencies_with(trigger)
                      if (writes is None or tuple(writes.split(".")) in server.written(dep))
                      and (trigger != "dataset-token.data" or len(dep["inputs"]) == 1))
    status, _ = send(server, trigger, {SESSION: session, **SMALL_RUN, **values, VIEW: view}, dependency=dependency)
    assert status in (200, 204)


# ---------------------------------------------------------------------------- 2. data choice

FORGED_SAMPLES = {
    "10**9": 10**9, "-1": -1, "'abc'": "abc", "99": 99, "200001": 200_001, "1.5": 1.5, "missing": None,
    "empty": "", "a list": [500], "a dict": {"n": 500}, "NaN": float("nan"), "Infinity": float("inf"), "true": True,
}


def samples_cases():
    for name, value in FORGED_SAMPLES.items():
        yield pytest.param(value, id=name)
    yield pytest.param(HUGE_INT, id="10**400")


@pytest.mark.parametrize("preloaded", [False, True], ids=["new session", "session with data"])
@pytest.mark.parametrize("samples", list(samples_cases()))
def test_a_forged_sample_count_is_refused_and_stores_nothing(server, cache_store, samples, preloaded):
    session = server.new_session()
    before = load_data(server, session) if preloaded else None
    status, body = send(server, SAMPLES, {DATASET: "clusters", SAMPLES: samples, SESSION: session})
    assert status == 200
    assert "sample count" in message_of(body, "data-info.children")
    assert output(body, "dataset-token.data", MISSING) is MISSING
    stored = cache_store.get_dataset(session)
    assert (stored is None) if before is None else (stored["token"] == before)


@pytest.mark.parametrize("samples", [10**9, -1, "abc"], ids=["10**9", "-1", "'abc'"])
def test_a_forged_sample_count_with_an_upload_is_refused(server, cache_store, samples):
    session = server.new_session()
    status, body = send(server, UPLOAD, {UPLOAD: data_url(TETRAHEDRON_OBJ), UPLOAD_NAME: "tetra.obj",
                                         SAMPLES: samples, SESSION: session})
    assert status == 200
    assert "sample count" in message_of(body, "upload-message.children")
    assert output(body, "dataset-token.data", MISSING) is MISSING
    assert cache_store.get_dataset(session) is None and cache_store.get_upload(session) is None


def dataset_name_cases():
    cases = [("../../etc/passwd", "unknown dataset '../../etc/passwd'", "a path"),
             ("rm -rf /", "unknown dataset 'rm -rf /'", "a command"),
             (5, "unknown dataset 5", "a number"),
             (None, "unknown dataset None", "missing")]
    for trigger in (DATASET, SAMPLES):
        for name, message, label in cases:
            yield pytest.param(trigger, name, message, id=f"{label} via {trigger}")
        for name, label in ((["clusters"], "a list"), ({"name": "clusters"}, "an object")):
            yield pytest.param(trigger, name, "unknown dataset", id=f"{label} via {trigger}")
    # "upload" names the session's uploaded file, which this session does not have.
    yield pytest.param(SAMPLES, "upload", "the uploaded file has expired", id=f"'upload' without one via {SAMPLES}")


@pytest.mark.parametrize("trigger, name, message", list(dataset_name_cases()))
def test_a_forged_dataset_name_is_refused_and_stores_nothing(server, cache_store, trigger, name, message):
    session = server.new_session()
    status, body = send(server, trigger, {DATASET: name, SAMPLES: 500, SESSION: session})
    assert status == 200
    shown = message_of(body, "data-info.children") + message_of(body, "upload-message.children")
    assert message in shown
    assert output(body, "dataset-token.data", MISSING) is MISSING
    assert cache_store.get_dataset(session) is None


@pytest.mark.parametrize("grid", [
    pytest.param([4, 4, "hex"], id="a valid grid"),
    pytest.param([3000, 3000, "hex"], id="3000 x 3000"),
    pytest.param([10**6, 2, "square"], id="a million x 2"),
    pytest.param(["a", "b", "c"], id="strings"),
    pytest.param([4, 4, "hex", 1], id="four items"),
])
def test_a_forged_grid_in_the_view_state_builds_no_oversized_map(server, monkeypatch, grid):
    import callbacks.data
    from components.settings import MAX_SIDE, MAX_UNITS

    real, asked = callbacks.data.map_structure, []

    def guarded(*args):
        # Stands in front of the real builder so that a forged grid cannot take the test down.
        asked.append(args)
        width, height = (args + (None, None))[:2]
        if not (len(args) == 3 and all(type(side) is int and 2 <= side <= MAX_SIDE for side in (width, height))
                and width * height <= MAX_UNITS):
            raise RuntimeError(f"test guard: the server asked for a map of {args!r}")
        return real(*args)

    monkeypatch.setattr(callbacks.data, "map_structure", guarded)
    session = server.new_session()
    token = load_data(server, session)
    dependency = next(dep for dep in server.dependencies_with("dataset-token.data") if len(dep["inputs"]) == 1)
    status, _ = send(server, "dataset-token.data", {"dataset-token.data": token, SESSION: session,
                                                    VIEW: {"run": "r", "grid": grid}}, dependency=dependency)
    assert [args for args in asked if list(args) != [4, 4, "hex"]] == []
    assert status == 200


# ---------------------------------------------------------------------------- 3. session ids

MALFORMED_SESSIONS = {
    "a path": "../../etc",
    "empty": "",
    "a number": 12345,
    "an object": {"id": "x"},
    "a list": ["5f0c6a8e-0a52-4a8e-9d35-1f6b5e0f3c11"],
    "missing": None,
    "a store key": "zsom/builtin",
    "a uuid and a path": "5f0c6a8e-0a52-4a8e-9d35-1f6b5e0f3c11/../x",
    "too short": "5f0c6a8e-0a52-4a8e-9d35",
}

# What each trigger carries, so that only the session id stands in the way.
TRIGGER_VALUES = {
    DATASET: "clusters",
    SAMPLES: 500,
    UPLOAD: data_url(TETRAHEDRON_OBJ),
    TIMELINE: 2,
    PROGRESS: {"run": "r", "epoch": 1},
    RESULT: {"run": "r", "status": "done", "epoch": 1, "epochs": 1},
    RUN_CHOICE: "r",
    "dataset-token.data": "t",
}


def session_callbacks(server: DashRequests) -> list[tuple[str, dict]]:
    """(trigger, dependency) of every input of every server callback that takes the session id
    and runs in the web server (the background training job is left out: it would fork)."""
    found = []
    for dependency in server.dependencies:
        if dependency.get("clientside_function") or dependency.get("background"):
            continue
        if {"id": "session-id", "property": "data"} not in dependency["state"]:
            continue
        found.extend((f"{item['id']}.{item['property']}", dependency) for item in dependency["inputs"])
    return found


@pytest.mark.parametrize("session", MALFORMED_SESSIONS.values(), ids=MALFORMED_SESSIONS.keys())
def test_a_malformed_session_id_updates_and_stores_nothing(server, cache_store, session):
    callbacks = session_callbacks(server)
    assert {trigger for trigger, _ in callbacks} >= {DATASET, SAMPLES, UPLOAD, TRAIN, TIMELINE, PROGRESS, RESULT,
                                                      "dataset-token.data", "cancel-button.n_clicks",
                                                      "run-watchdog.n_intervals"}
    before = set(cache_store.cache.iterkeys())
    answers = {}
    for trigger, dependency in callbacks:
        values = {SESSION: session, VIEW: {"run": "r", "epoch": 1, "grid": [4, 4, "hex"]},
                  UPLOAD_NAME: "tetra.obj", SAMPLES: 500, DATASET: "clusters"}
        if trigger in TRIGGER_VALUES:
            values[trigger] = TRIGGER_VALUES[trigger]
        answers[trigger, dependency["output"]] = send(server, trigger, values, dependency=dependency)[0]
    assert answers == {key: 204 for key in answers}  # PreventUpdate: HTTP 204, nothing changes
    assert set(cache_store.cache.iterkeys()) == before


def test_session_ids_are_normalised_so_one_session_has_one_set_of_keys(server, cache_store):
    session = server.new_session()
    load_data(server, session.upper())  # uuid.UUID reads the same id in upper case
    assert cache_store.get_dataset(session) is not None


def test_another_sessions_run_cannot_be_trained_from_this_session(server, cache_store):
    session_a, session_b = server.new_session(), server.new_session()
    run_a, _ = recorded_run(server, session_a)
    load_data(server, session_b)
    meta_before = cache_store.get_run(session_a, run_a)
    assert meta_before["status"] == QUEUED

    reports = []
    result = run_training(cache_store, session_b, run_a, report=reports.append, max_jobs=2)
    assert result["status"] == "failed" and result["message"]
    assert reports == []
    assert cache_store.get_run(session_a, run_a) == meta_before  # untouched, still queued
    assert cache_store.get_history(session_a, run_a) is None
    assert cache_store.get_run(session_b, run_a) is None
    assert cache_store.current_run_id(session_b) is None


def test_another_sessions_store_keys_are_unreachable(server, cache_store):
    session_a, session_b = server.new_session(), server.new_session()
    run_a, _ = recorded_run(server, session_a)
    assert cache_store.get_run(session_b, run_a) is None
    assert cache_store.get_dataset(session_b) is None
    # Run ids are key parts, not paths: ".." and "/" do not climb into session A's keys.
    for forged in (f"../{session_a}/run/{run_a}", f"../../zsom/{session_a}/run/{run_a}", f"/{run_a}"):
        assert cache_store.get_run(session_b, forged) is None
        assert SessionStore.key(session_b, "run", forged).startswith(f"zsom/{session_b}/")
        result = run_training(cache_store, session_b, forged, report=[].append, max_jobs=2)
        assert result["status"] == "failed"
    assert cache_store.get_run(session_a, run_a)["status"] == QUEUED


def test_another_session_cannot_cancel_or_watch_this_sessions_run(server, cache_store):
    session_a, session_b = server.new_session(), server.new_session()
    run_a, view_a = recorded_run(server, session_a)
    meta_before = cache_store.get_run(session_a, run_a)
    tried = []
    for trigger, dependency in session_callbacks(server):
        if trigger in ("cancel-button.n_clicks", "run-watchdog.n_intervals"):
            status, body = send(server, trigger, {SESSION: session_b, VIEW: view_a}, dependency=dependency)
            assert status in (200, 204) and run_a not in json.dumps(body)
            tried.append(trigger)
    assert sorted(tried) == ["cancel-button.n_clicks", "run-watchdog.n_intervals"]
    assert cache_store.get_run(session_a, run_a) == meta_before


# ---------------------------------------------------------------------------- 4. timeline and run ids


@pytest.fixture(scope="module")
def trained_run(server, cache_store):
    """Session A with a run of 3 epochs trained in this process: (session, run id, view state).
    No test changes it."""
    session = server.new_session()
    run_id, view = recorded_run(server, session)
    result = run_training(cache_store, session, run_id, report=[].append, max_jobs=2)
    assert result["status"] == "done" and result["epoch"] == 3
    return session, run_id, view


def assert_shows_nothing_of(body, run_id: str, token: str) -> None:
    text = json.dumps(body)
    assert run_id not in text and token not in text
    for panel in PANEL_IDS:
        assert output(body, f"{panel}.figure", MISSING) is MISSING


TIMELINE_VALUES = [
    pytest.param(-5, id="-5"),
    pytest.param(10**9, id="10**9"),
    pytest.param(None, id="missing"),
    pytest.param(2, id="2"),
    pytest.param(1.5, id="1.5"),
    pytest.param("x", id="'x'"),
    pytest.param([2], id="a list"),
    pytest.param(float("inf"), id="Infinity"),
]


@pytest.mark.parametrize("slider", [v.values[0] for v in TIMELINE_VALUES], ids=[v.id for v in TIMELINE_VALUES])
def test_a_forged_timeline_never_shows_another_sessions_run(server, cache_store, trained_run, slider):
    session_a, run_a, view_a = trained_run
    token_a = cache_store.get_dataset(session_a)["token"]
    session_b = server.new_session()
    load_data(server, session_b)
    view = {**view_a, "epoch": 3, "latest": 3, "follow": False}
    response = server.call_raw(TIMELINE, {TIMELINE: slider, VIEW: view, SESSION: session_b})
    assert_no_traceback(response)
    assert response.status_code != 200
    assert run_a not in response.get_data(as_text=True) and token_a not in response.get_data(as_text=True)


@pytest.mark.parametrize("slider", TIMELINE_VALUES)
def test_a_forged_timeline_value_is_not_a_server_error(server, cache_store, trained_run, slider):
    _, _, view_a = trained_run
    session_b = server.new_session()
    load_data(server, session_b)
    status, _ = send(server, TIMELINE, {TIMELINE: slider, VIEW: {**view_a, "epoch": 3}, SESSION: session_b})
    assert status == 204


@pytest.mark.parametrize("slider, shown", [(-5, 1), (10**9, 3), (1.5, 1), (0, 1)], ids=["-5", "10**9", "1.5", "0"])
def test_a_forged_timeline_value_on_ones_own_run_is_clamped(server, trained_run, slider, shown):
    session, run_id, view = trained_run
    status, body = send(server, TIMELINE, {TIMELINE: slider, VIEW: {**view, "epoch": 3, "latest": 3},
                                           SESSION: session})
    assert status == 200
    assert output(body, "timeline-label.children") == f"Epoch {shown} / 3"
    assert output(body, VIEW)["run"] == run_id and output(body, VIEW)["epoch"] == shown


def test_a_timeline_value_that_is_not_a_number_changes_nothing(server, trained_run):
    session, _, view = trained_run
    status, _ = send(server, TIMELINE, {TIMELINE: "2", VIEW: {**view, "epoch": 3, "latest": 3}, SESSION: session})
    assert status == 204


def forged_run_reference(trigger: str, run_id: str, view: dict) -> tuple[object, dict]:
    """(value, view state) that point ``trigger`` at ``run_id`` as strongly as a page can: the
    view names the run for a progress or a result, and names none for the run menu (which
    ignores a choice of the run already on screen)."""
    if trigger == PROGRESS:
        return {"run": run_id, "epoch": 3}, {**view, "epoch": 1}
    if trigger == RESULT:
        return {"run": run_id, "status": "done", "epoch": 3, "epochs": 3}, {**view, "epoch": 1}
    return run_id, {"grid": view["grid"]}


@pytest.mark.parametrize("trigger", [PROGRESS, RESULT, RUN_CHOICE])
def test_another_sessions_run_id_opens_nothing(server, cache_store, trained_run, trigger):
    """Every server callback with an input that names a run, given session A's run id by session B."""
    session_a, run_a, view_a = trained_run
    token_a = cache_store.get_dataset(session_a)["token"]
    dependencies = [dep for dep in server.dependencies_with(trigger) if not dep.get("background")]
    if not dependencies:
        pytest.skip(f"no server callback has the input {trigger}")
    session_b = server.new_session()
    load_data(server, session_b)
    forged, view = forged_run_reference(trigger, run_a, view_a)
    for dependency in dependencies:
        status, body = send(server, trigger, {trigger: forged, VIEW: view, SESSION: session_b}, dependency=dependency)
        assert status in (200, 204), (dependency["output"], status)
        assert_shows_nothing_of(body, run_a, token_a)


@pytest.mark.parametrize("trigger", [PROGRESS, RESULT, RUN_CHOICE])
def test_ones_own_run_id_opens_it(server, trained_run, trigger):
    """The control for the test above: the same request from session A shows its run."""
    session_a, run_a, view_a = trained_run
    if not server.dependencies_with(trigger):
        pytest.skip(f"no server callback has the input {trigger}")
    forged, view = forged_run_reference(trigger, run_a, view_a)
    status, body = send(server, trigger, {trigger: forged, VIEW: view, SESSION: session_a}, writes=VIEW)
    assert status == 200
    assert output(body, VIEW)["run"] == run_a
    assert any(output(body, f"{panel}.figure", MISSING) is not MISSING for panel in PANEL_IDS)


@pytest.mark.parametrize("trigger, writes, value", [
    pytest.param(PROGRESS, None, {"run": ["a"], "epoch": "x"}, id="progress with odd fields"),
    pytest.param(PROGRESS, None, {"run": "r", "queued": "2"}, id="progress queued as a string"),
    pytest.param(RESULT, "view-state.data", {"run": {"a": 1}, "status": 5}, id="result with odd fields"),
    pytest.param(PROGRESS, None, "x", id="progress a string"),
    pytest.param(PROGRESS, None, [1], id="progress a list"),
    pytest.param(RESULT, "view-state.data", "x", id="result a string"),
    pytest.param(RESULT, "view-state.data", [1], id="result a list"),
])
def test_a_forged_progress_or_result_is_not_a_server_error(server, trigger, writes, value):
    session = server.new_session()
    load_data(server, session)
    status, body = send(server, trigger, {trigger: value, SESSION: session}, writes=writes)
    assert status in (200, 204)
    for panel in PANEL_IDS:
        assert output(body, f"{panel}.figure", MISSING) is MISSING


# ---------------------------------------------------------------------------- 5. uploads


@pytest.fixture
def file_watch(app_root, server):
    """Checks, after the test, that no file appeared outside the cache: anywhere in the app's folder,
    and no file of the forged names in the working directory, the home directory or where
    '../../' from either leads. (The working directory is not compared as a whole: other
    processes may write there meanwhile.)"""
    places = {Path.cwd(), Path.home(), (Path.cwd() / "../..").resolve(), (Path.home() / "../..").resolve()}
    watched = {place / name for place in places for name in ("evil.obj", "a;rm -rf ~.stl", "~.stl", "a;rm -rf ~")}
    existing = {path for path in watched if path.exists()}
    tree = files_under(app_root)
    yield
    assert files_under(app_root) == tree
    assert {path for path in watched if path.exists()} == existing


UPLOAD_CASES = {
    "not a data URL": ("just some text", "x.obj", "not a base64 data URL"),
    "bad base64": ("data:application/octet-stream;base64,!!!$$$", "x.obj", "not a base64 data URL"),
    "an object": ({"evil": 1}, "x.obj", "not a base64 data URL"),
    "a list": (["data:;base64,AAAA"], "x.obj", "not a base64 data URL"),
    "a number": (12345, "x.obj", "not a base64 data URL"),
    "garbage named ../../evil.obj": (data_url(GARBAGE), "../../evil.obj", "evil.obj"),
    "garbage named a;rm -rf ~.stl": (data_url(GARBAGE), "a;rm -rf ~.stl", "a;rm -rf ~.stl"),
    "garbage with a name that is an object": (data_url(GARBAGE), {"name": "x"}, "unrecognised mesh format"),
    "an empty file": ("data:application/octet-stream;base64,", "../../evil.obj", "the file is empty"),
}


@pytest.mark.parametrize("contents, filename, message", UPLOAD_CASES.values(), ids=UPLOAD_CASES.keys())
def test_a_forged_upload_is_refused_and_writes_no_file(server, cache_store, file_watch, contents, filename, message):
    session = server.new_session()
    status, body = send(server, UPLOAD, {UPLOAD: contents, UPLOAD_NAME: filename, SAMPLES: 500, SESSION: session})
    assert status == 200
    shown = message_of(body, "upload-message.children")
    assert message in shown
    assert "../" not in shown and "\n" not in shown
    assert output(body, "mesh-upload.contents") is None  # cleared, so the same file can be dropped again
    assert output(body, "dataset-token.data", MISSING) is MISSING
    assert cache_store.get_dataset(session) is None and cache_store.get_upload(session) is None


@pytest.mark.parametrize("over", [1, 4], ids=["1 byte over", "4 bytes over"])
def test_an_upload_over_the_size_limit_is_refused(server, cache_store, file_watch, over):
    session = server.new_session()
    # "A" * n is valid base64 of 3n/4 zero bytes: just over the loader's limit, in a body
    # still under the server's request limit (a few bytes over takes the check before decoding).
    n = 4 * -(-(UPLOAD_LIMITS.max_bytes + over) // 3)
    contents = "data:application/octet-stream;base64," + "A" * n
    status, body = send(server, UPLOAD, {UPLOAD: contents, UPLOAD_NAME: "../../evil.obj", SAMPLES: 500,
                                         SESSION: session})
    del contents
    assert status == 200
    shown = message_of(body, "upload-message.children")
    assert "larger than the limit" in shown and "../" not in shown
    assert cache_store.get_dataset(session) is None and cache_store.get_upload(session) is None


def test_a_valid_upload_with_a_path_for_a_name_is_kept_in_the_store_only(server, cache_store, file_watch):
    """The control for the cases above: a real mesh loads; its name is only a label."""
    session = server.new_session()
    status, body = send(server, UPLOAD, {UPLOAD: data_url(TETRAHEDRON_OBJ), UPLOAD_NAME: "../../evil.obj",
                                         SAMPLES: 500, SESSION: session})
    assert status == 200
    assert "Loaded evil.obj" in message_of(body, "upload-message.children")
    record = cache_store.get_dataset(session)
    assert record is not None and record["label"] == "evil.obj"
    assert cache_store.get_upload(session)["data"] == TETRAHEDRON_OBJ


@pytest.mark.parametrize("options", [
    pytest.param([{"label": "clusters", "value": "clusters"}, {"label": "x", "value": 5}], id="a valid list"),
    pytest.param(None, id="missing"),
    pytest.param("x", id="a string"),
    pytest.param([{"label": "no value"}], id="an option without value"),
])
@pytest.mark.parametrize("trigger", [UPLOAD, "first data call"])
def test_forged_dataset_options_are_not_a_server_error(server, file_watch, trigger, options):
    session = server.new_session()
    if trigger == UPLOAD:
        status, _ = send(server, UPLOAD, {UPLOAD: data_url(TETRAHEDRON_OBJ), UPLOAD_NAME: "tetra.obj", SAMPLES: 500,
                                          SESSION: session, "dataset-choice.options": options})
    else:
        load_data(server, session)  # a reloaded page: its first call shows the session's data again
        status, _ = send(server, SAMPLES, {DATASET: "clusters", SAMPLES: 500, SESSION: session,
                                           "dataset-choice.options": options}, changed=[])
    assert status == 200


# ---------------------------------------------------------------------------- 6. malformed bodies


def malformed_bodies(server: DashRequests, session: str) -> dict:
    """(request body, raw?, expected status) of bodies no renderer sends."""
    good = server.body(TRAIN, {SESSION: session, **SMALL_RUN})
    other = server.body(SAMPLES, {SESSION: session})

    def changed(**fields):
        body = json.loads(json.dumps(good))
        for key, value in fields.items():
            if value is MISSING:
                del body[key]
            else:
                body[key] = value
        return body

    return {
        "invalid JSON": (b"{not json", True, 400),
        "empty body": (b"", True, 400),
        "JSON null": (b"null", True, 500),
        "a JSON list": ([], False, 500),
        "a JSON string": ("x", False, 500),
        "deeply nested JSON": (b"[" * 100_000 + b"]" * 100_000, True, 500),
        "no inputs": (changed(inputs=MISSING), False, 500),
        "no output": (changed(output=MISSING), False, 500),
        "no outputs": (changed(outputs=MISSING), False, 500),
        "no state": (changed(state=MISSING), False, 500),
        "unknown output": (changed(output="nope.children"), False, 500),
        "another callback's output string": (changed(output=other["output"]), False, 500),
        "another callback's outputs": (changed(outputs=other["outputs"]), False, 500),
        "inputs that are not objects": (changed(inputs=["train-button"]), False, 500),
        "a state left out": (changed(state=good["state"][:-1]), False, 500),
        "an input too many": (changed(inputs=[*good["inputs"], {"id": "x", "property": "y", "value": 1}]), False, 500),
        "changedPropIds a number": (changed(changedPropIds=5), False, 500),
    }


def test_malformed_bodies_get_an_error_status_without_a_traceback(server, cache_store):
    assert not server.app.server.debug
    session = server.new_session()
    load_data(server, session)
    statuses, expected = {}, {}
    for name, (body, raw, status) in malformed_bodies(server, session).items():
        response = server.post(body, raw=raw)
        assert_no_traceback(response)
        statuses[name], expected[name] = response.status_code, status
    assert statuses == expected
    assert cache_store.current_run_id(session) is None  # none of them recorded a run


def test_other_methods_and_content_types_run_no_callback(server, cache_store):
    session = server.new_session()
    load_data(server, session)
    body = json.dumps(server.body(TRAIN, {SESSION: session, **SMALL_RUN}))
    checks = {
        "text/plain": server.client.post("/_dash-update-component", data=body, content_type="text/plain"),
        "no content type": server.client.post("/_dash-update-component", data=body),
        "form data": server.client.post("/_dash-update-component", data={"body": body}),
        # Dash's catch-all page route answers a GET of any path with the page itself.
        "GET": server.client.get("/_dash-update-component", query_string={"body": body}),
    }
    for response in checks.values():
        assert_no_traceback(response)
    assert {name: response.status_code for name, response in checks.items()} == {
        "text/plain": 415, "no content type": 415, "form data": 415, "GET": 200}
    assert checks["GET"].get_data(as_text=True).lstrip().startswith("<!DOCTYPE html>")
    assert cache_store.current_run_id(session) is None


def test_a_body_over_the_request_limit_is_refused_before_it_is_read(server):
    limit = server.app.server.config.get("MAX_CONTENT_LENGTH")
    assert limit is not None and limit >= UPLOAD_LIMITS.max_bytes * 4 // 3  # room for the largest upload
    # Only the announced length is large: the server refuses on the header, reading nothing.
    response = server.client.post("/_dash-update-component", input_stream=io.BytesIO(b"{}"),
                                  content_type="application/json", environ_overrides={"CONTENT_LENGTH": str(limit + 1)})
    assert_no_traceback(response)
    assert response.status_code == 413


# ---------------------------------------------------------------------------- 7. unguessable ids


def test_run_ids_are_unguessable(server, cache_store):
    session = server.new_session()
    load_data(server, session)
    settings = {"width": 3, "height": 2, "topology": "square", "toroidal": False, "metric": "euclidean",
                "p": 3.0, "init": "random", "neighborhood": "gaussian", "decay": "linear", "sigma": 1.0,
                "learning_rate": 0.5, "epochs": 1, "adaptive_lr": False, "algorithm": "batch", "seed": 0}
    ids = [start_run(cache_store, session, settings)[0] for _ in range(1000)]
    alphabet = set(string.ascii_letters + string.digits + "-_")  # base64url: 6 bits a character
    assert all(set(run_id) <= alphabet for run_id in ids)
    assert min(len(run_id) for run_id in ids) * 6 >= 96
    assert len(set(ids)) == 1000


def test_session_ids_are_random_uuids(server):
    first, second = server.new_session(), server.new_session()
    assert first != second
    for session in (first, second):
        parsed = uuid.UUID(session)
        assert parsed.version == 4 and str(parsed) == session  # 122 random bits
