"""Callback requests forged by hand, as an attacker sends them: the server checks every input.

The browser's controls keep values in range, but anyone can POST any body to
``/_dash-update-component``. These tests do that through Flask's test client, in process
(no browser, no network), with bodies built from the app's own ``/_dash-dependencies``
(see ``dash_requests``), and check what comes back and what the server stored: an error
message for the user and nothing recorded, never a crash page or a traceback, never
another session's data, never a file outside the cache folder.

A valid Train request starts a real (tiny) training job in a process of its own, as the
server does for a browser; a test that needs a trained run waits for that job, and never
trains the same run again in this process.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import string
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from dash_requests import DashRequests, output, text_of
from test_jobs import RecordingBackend

from app import create_app
from callbacks.data import UPLOAD_LIMITS
from callbacks.run_page import POLL_BUSY_MS, POLL_IDLE_MS, POLL_RETRY_MS
from components.settings import DEFAULTS, MAX_SIDE, parse_settings
from zsom_jobs import RunRecord, Runs, RunStatus
from zsom_jobs.store import DiskcacheStore
from zsom_jobs.training import pid_alive, run_training

TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Werkzeug Debugger", 'File "/', "__debugger__")
MISSING = object()

SESSION = "session-id.data"
VIEW = "view-state.data"
TRAIN = "train-button.n_clicks"
CANCEL = "cancel-button.n_clicks"
TOUCHED = "settings-touched.data"
DATASET_TOKEN = "dataset-token.data"
DATASET = "dataset-choice.value"
SAMPLES = "sample-count.value"
UPLOAD = "mesh-upload.contents"
UPLOAD_NAME = "mesh-upload.filename"
TIMELINE = "timeline.value"
PLAY_STEP = "play-step.data"
POLL = "run-poll.data"  # the page's poll: set by the browser (zsom.pacePoll) when one is due
RUN_CHOICE = "run-choice.value"
PANEL_IDS = ("panel-data-view", "panel-u-matrix", "panel-u-surface", "panel-hits", "panel-curves")

# A small map and run, so that a valid request is cheap to answer and its job quick to train.
SMALL_RUN = {"auto-size.value": [], "auto-sigma.value": [], "grid-width.value": 4, "grid-height.value": 4,
             "epochs.value": 3, "sigma0.value": 2.0}
SMALL_GRID = [4, 4, "hex"]
SMALL_EPOCHS = 3
MAX_JOBS = 2
JOB_TIMEOUT_S = 60.0
TETRAHEDRON_OBJ = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n"
GARBAGE = bytes(range(256)) * 8
HUGE_INT = 10**400  # valid JSON: Python parses it to an int that float() refuses with OverflowError

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
    return DashRequests(create_app(app_root / "cache", max_jobs=MAX_JOBS))


@pytest.fixture(scope="module")
def cache_store(app_root, server) -> DiskcacheStore:
    """The store the app keeps its state in, opened a second time to look inside. At the
    end of the module, every run the tests started has ended (no job is left behind)."""
    store = DiskcacheStore(app_root / "cache" / "store")
    yield store
    try:
        for key in list(store.cache.iterkeys()):
            if isinstance(key, str) and key.endswith("/current-run"):
                session = key.split("/")[1]
                wait_until_finished(store, session, store.current_run_id(session))
    finally:
        store.close()


def wait_until(condition, what: str, timeout: float = JOB_TIMEOUT_S):
    """Poll ``condition()`` until it is true (returned) or the deadline passes (a failure).

    The training job is another process that reports only through the store: no event
    tells this process that it moved on, so the store is polled, briefly and bounded.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(0.05)


def wait_until_finished(store: DiskcacheStore, session: str, run_id: str | None) -> RunRecord | None:
    """The run's record once it has ended (None: no such run)."""
    def ended() -> bool:
        record = store.get_run(session, run_id)
        return record is None or record.finished

    wait_until(ended, f"run {run_id} of session {session} ended")
    return store.get_run(session, run_id)


def assert_no_traceback(response) -> None:
    text = response.get_data(as_text=True)
    for marker in TRACEBACK_MARKERS:
        assert marker not in text, f"the response shows server internals ({marker!r}):\n{text[:2000]}"


def send(server: DashRequests, input_prop: str, values: dict | None = None, **options) -> tuple[int, dict | None]:
    """(status, JSON body) of a callback request, after checking it shows no traceback."""
    response = server.call_raw(input_prop, values, **options)
    assert_no_traceback(response)
    return response.status_code, response.get_json(silent=True)


def show(server: DashRequests, trigger: str, session: str, token, view, values: dict | None = None):
    """A request to the run page's callback, as the page of ``session`` holding data ``token``
    and view state ``view`` sends it when ``trigger`` changes."""
    return send(server, trigger, {SESSION: session, DATASET_TOKEN: token, VIEW: view, **SMALL_RUN, **(values or {})},
                writes=VIEW)


def load_data(server: DashRequests, session: str, samples: int = 500) -> str:
    """Give ``session`` the "clusters" dataset, as the data callback does; returns its token."""
    status, body = send(server, SAMPLES, {DATASET: "clusters", SAMPLES: samples, SESSION: session})
    assert status == 200, status
    token = output(body, DATASET_TOKEN)
    assert isinstance(token, str) and token
    return token


def request_run(server: DashRequests, session: str, values: dict | None = None, *,
                token: str | None = None) -> tuple[int, dict | None]:
    """Press Train on the page of ``session`` (holding data ``token``): a valid request starts a job."""
    return send(server, TRAIN, {SESSION: session, DATASET_TOKEN: token, **SMALL_RUN, **(values or {})})


def recorded_run(server: DashRequests, session: str) -> tuple[str, dict]:
    """A run the server accepted for ``session`` (dataset loaded first): (run id, view state)."""
    token = load_data(server, session)
    status, body = request_run(server, session, token=token)
    assert status == 200, status
    run_id = output(body, VIEW)["run"]
    assert isinstance(run_id, str) and run_id
    return run_id, output(body, VIEW)


def cancel(server: DashRequests, session: str, token: str) -> None:
    """Press Cancel on the page of ``session``: its run, if still training, ends and its job stops."""
    status, _ = show(server, CANCEL, session, token, None)
    assert status == 200


# What each answer adds to the view state for the page's poll: its count, and when to poll next.
ANSWER_FIELDS = ("seq", "poll_ms", "retry_ms", "asked", "restored")


def shown_state(view: dict) -> dict:
    """A view state without the fields that pace the poll or describe one answer: what the
    page holds on screen."""
    return {key: value for key, value in view.items() if key not in ANSWER_FIELDS}


def assert_counts_itself(sent, answered: dict) -> None:
    """The answer counts itself in the view state (the page's poll fires again once it has
    seen the count move) and says when to poll next."""
    sent_seq = sent.get("seq") if isinstance(sent, dict) else None
    before = sent_seq if type(sent_seq) is int and 0 <= sent_seq < 2**31 else 0
    assert answered["seq"] == (before + 1) % 2**31
    assert answered["poll_ms"] in (POLL_BUSY_MS, POLL_IDLE_MS) and answered["retry_ms"] == POLL_RETRY_MS


def no_panel_figure(body) -> bool:
    updates = output(body, "panel-updates.data", {})
    return not any(panel in updates.get("panels", {}) for panel in PANEL_IDS)


def settled_view(server: DashRequests, session: str, token: str, view=None, most: int = 6) -> dict:
    """The view state of a page of ``session`` that polled until the panels show what the
    store holds (an answer that changes no panel)."""
    for _ in range(most):
        status, body = show(server, POLL, session, token, view)
        assert status == 200
        view = output(body, VIEW)
        if no_panel_figure(body):
            return view
    raise AssertionError(f"the page of session {session} never caught up with the store")


@contextmanager
def job_slots_taken(store: DiskcacheStore, count: int = MAX_JOBS):
    """Every training slot of the server held by runs of sessions that do not exist, so that
    a job started meanwhile waits in the queue (queued and live) until they are freed."""
    held = [secrets.token_urlsafe(12) for _ in range(count)]
    for run in held:
        store.take_slot(str(uuid.uuid4()), run, max_jobs=1000, ttl=600.0, max_waiting=1000)
    try:
        yield
    finally:
        for run in held:
            store.release_slot(run)


def message_of(body, prop_id: str) -> str:
    return text_of(output(body, prop_id))


def files_under(root: Path, skip: str = "cache") -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")
            if path.relative_to(root).parts[0] != skip}


# ---------------------------------------------------------------------------- 1. training settings

# (values forged into the run request, text of the server's message)
FORGED_SETTINGS = {
    "grid 10000 x 10000": ({"grid-width.value": 10_000, "grid-height.value": 10_000},
                           "grid width must be a whole number from 2 to 100"),
        "width 0": ({"grid-width.value": 0}, "grid width must be a whole number from 2 to 100, got 0"),
    "width 101": ({"grid-width.value": 101}, "grid width must be a whole number from 2 to 100, got 101"),
    "height -3": ({"grid-height.value": -3}, "grid height must be a whole number from 2 to 100, got -3"),
    "width 1e308": ({"grid-width.value": 1e308}, "grid width must be a whole number from 2 to 100"),
    "width a string": ({"grid-width.value": "wide"}, "grid width must be a whole number from 2 to 100, got 'wide'"),
    "width a list": ({"grid-width.value": [30]}, "grid width must be a whole number from 2 to 100"),
    "width a dict": ({"grid-width.value": {"value": 30}}, "grid width must be a whole number from 2 to 100"),
    "width true": ({"grid-width.value": True}, "grid width is missing"),
    "width missing": ({"grid-width.value": None}, "grid width is missing"),
    "epochs 10**9": ({"epochs.value": 10**9}, "epochs must be a whole number from 1 to 1,000, got 1,000,000,000"),
    "epochs -1": ({"epochs.value": -1}, "epochs must be a whole number from 1 to 1,000, got -1"),
    "epochs 0": ({"epochs.value": 0}, "epochs must be a whole number from 1 to 1,000, got 0"),
    "epochs 1.5": ({"epochs.value": 1.5}, "epochs must be a whole number from 1 to 1,000, got 1.5"),
    "epochs 'inf'": ({"epochs.value": "inf"}, "epochs must be a whole number"),
    "epochs empty": ({"epochs.value": ""}, "epochs is missing"),
    "epochs missing": ({"epochs.value": None}, "epochs is missing"),
    "sigma -1": ({"sigma0.value": -1}, "sigma0 must be a number above 0 and at most 100, got -1"),
    "sigma 0": ({"sigma0.value": 0}, "sigma0 must be a number above 0 and at most 100, got 0"),
    "sigma 1e6": ({"sigma0.value": 1e6}, "sigma0 must be a number above 0 and at most 100"),
    "sigma NaN": ({"sigma0.value": float("nan")}, "sigma0 must be a number above 0 and at most 100, got nan"),
    "sigma Infinity": ({"sigma0.value": float("inf")}, "sigma0 must be a number above 0 and at most 100, got inf"),
    "sigma 'inf'": ({"sigma0.value": "inf"}, "sigma0 must be a number above 0 and at most 100, got 'inf'"),
    "sigma 'nan'": ({"sigma0.value": "nan"}, "sigma0 must be a number above 0 and at most 100, got 'nan'"),
    "sigma a string": ({"sigma0.value": "big"}, "sigma0 must be a number above 0 and at most 100, got 'big'"),
    "sigma missing": ({"sigma0.value": None}, "sigma0 is missing"),
    "learning rate 2": ({"learning-rate.value": 2}, "learning rate must be a number above 0 and at most 1, got 2"),
    "learning rate 0": ({"learning-rate.value": 0}, "learning rate must be a number above 0 and at most 1, got 0"),
    "learning rate -0.5": ({"learning-rate.value": -0.5}, "learning rate must be a number above 0 and at most 1"),
    "seed -5": ({"seed.value": -5}, "seed must be a whole number from 0 to 2,147,483,647, got -5"),
    "seed 2**31": ({"seed.value": 2**31}, "seed must be a whole number from 0 to 2,147,483,647"),
    "seed 0.5": ({"seed.value": 0.5}, "seed must be a whole number"),
    "metric 'rm -rf'": ({"metric.value": "rm -rf"}, "unknown metric 'rm -rf'; choose one of"),
    "metric missing": ({"metric.value": None}, "unknown metric None"),
    "minkowski p 0": ({"metric.value": "minkowski", "minkowski-p.value": 0},
                      "minkowski p must be a number from 0.1 to 100, got 0"),
    "minkowski p 1e9": ({"metric.value": "minkowski", "minkowski-p.value": 1e9},
                        "minkowski p must be a number from 0.1 to 100"),
    "topology a list": ({"topology.value": ["hex"]}, "unknown topology ['hex']"),
    "topology a dict": ({"topology.value": {"hex": True}}, "unknown topology {'hex': True}"),
    "topology '__class__'": ({"topology.value": "__class__"}, "unknown topology '__class__'"),
    "init unknown": ({"init.value": "zeros"}, "unknown initialisation 'zeros'"),
    "neighborhood unknown": ({"neighborhood.value": 7}, "unknown neighbourhood 7"),
    "decay unknown": ({"decay.value": ["linear"]}, "unknown decay ['linear']"),
    "algorithm unknown": ({"algorithm.value": "gpu"}, "unknown algorithm 'gpu'"),
    "toroidal hex, odd height": ({"toroidal.value": ["on"], "grid-height.value": 5}, "needs an even height"),
}

FORGED_SETTINGS_HUGE = {
    "width 10**400": ({"grid-width.value": HUGE_INT}, "grid width must be"),
    "epochs 10**400": ({"epochs.value": HUGE_INT}, "epochs must be"),
    "seed -10**400": ({"seed.value": -HUGE_INT}, "seed must be"),
}


def settings_cases():
    for name, (values, message) in {**FORGED_SETTINGS, **FORGED_SETTINGS_HUGE}.items():
        yield pytest.param(values, message, id=name)


def test_a_valid_run_request_records_a_run(server, cache_store):
    """The control for the cases below: the same request, unforged, is accepted, and its job trains."""
    session = server.new_session()
    token = load_data(server, session)
    status, body = request_run(server, session, token=token)
    assert status == 200
    assert message_of(body, "settings-message.children") == ""
    run_id = output(body, VIEW)["run"]
    assert isinstance(run_id, str) and output(body, RUN_CHOICE) == run_id
    assert cache_store.current_run_id(session) == run_id
    record = cache_store.get_run(session, run_id)
    assert record.dataset_token == token and record.job is not None
    assert record.settings["width"] == 4 and record.settings["epochs"] == SMALL_EPOCHS
    final = wait_until_finished(cache_store, session, run_id)
    assert final.status is RunStatus.DONE and final.epoch == SMALL_EPOCHS


@pytest.mark.parametrize("forged, message", list(settings_cases()))
def test_forged_settings_are_refused_with_a_message_and_record_no_run(server, cache_store, forged, message):
    session = server.new_session()
    token = load_data(server, session)  # the forged setting is the only thing wrong with the request
    status, body = request_run(server, session, forged, token=token)
    assert status == 200
    assert message in message_of(body, "settings-message.children")
    assert "Failed" not in json.dumps(output(body, "status-line.children"))  # no run failed
    assert output(body, VIEW)["run"] is None and output(body, RUN_CHOICE) is None  # no run id handed out
    assert cache_store.current_run_id(session) is None and cache_store.runs(session) == []


def test_a_run_request_without_data_is_refused(server, cache_store):
    session = server.new_session()
    status, body = request_run(server, session)
    assert status == 200
    assert "no dataset loaded yet" in message_of(body, "settings-message.children")
    assert cache_store.current_run_id(session) is None


# A view state that is not an object (the browser only ever sends an object or nothing),
# through every input of the run page's callback. (trigger, extra values)
VIEW_CALLBACKS = {
    "run request": (TRAIN, {}),
    "cancel": (CANCEL, {}),
    "settings touched": (TOUCHED, {TOUCHED: 1}),
    "data shown": (DATASET_TOKEN, {}),
    "timeline": (TIMELINE, {TIMELINE: 2}),
    "play step": (PLAY_STEP, {PLAY_STEP: 2}),
    "run menu": (RUN_CHOICE, {RUN_CHOICE: "someone-elses-run"}),
    "poll": (POLL, {POLL: 1_700_000_000_000}),
}


def view_cases():
    for name, (trigger, values) in VIEW_CALLBACKS.items():
        for view, label in (("x", "a string"), ([1, 2], "a list"), (5, "a number")):
            yield pytest.param(trigger, values, view, id=f"{name}, {label}")


def test_the_view_cases_reach_every_input_of_the_run_page(server):
    """The table above covers every input of the run page's callback (a new input must join it)."""
    inputs = {f"{item['id']}.{item['property']}" for item in server.dependency(TRAIN)["inputs"]}
    assert {trigger for trigger, _ in VIEW_CALLBACKS.values()} == inputs


@pytest.mark.parametrize("trigger, values, view", list(view_cases()))
def test_a_view_state_that_is_not_an_object_is_read_as_absent(server, cache_store, trigger, values, view):
    session = server.new_session()
    token = load_data(server, session)
    status, _ = request_run(server, session, token=token)  # the session has data and a run
    assert status == 200
    status, body = show(server, trigger, session, token, view, values)
    assert status == 200  # a valid session always gets the whole state back
    answered = output(body, VIEW)
    # New data on a page that holds none (as after a reload) is told of its run first.
    announced = trigger == DATASET_TOKEN
    assert isinstance(answered, dict) and answered["dataset"] == (None if announced else token)
    assert answered["announced"] is announced
    assert answered["run"] in (None, cache_store.current_run_id(session))
    assert_counts_itself(view, answered)
    cancel(server, session, token)


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


GRID_CASES = [
    pytest.param([4, 4, "hex"], id="a valid grid"),
    pytest.param([3000, 3000, "hex"], id="3000 x 3000"),
    pytest.param([10**6, 2, "square"], id="a million x 2"),
    pytest.param(["a", "b", "c"], id="strings"),
    pytest.param([4, 4, "hex", 1], id="four items"),
    pytest.param([4, 4, ["hex"]], id="a list for a topology"),
    pytest.param({"width": 4}, id="an object"),
]


def is_trainable_grid(args) -> bool:
    width, height = (tuple(args) + (None, None))[:2]
    return len(args) == 3 and all(type(side) is int and 2 <= side <= MAX_SIDE for side in (width, height))


@pytest.fixture
def maps_built(monkeypatch) -> list:
    """Every grid the run page asks a map structure of, through a guard that refuses (with an
    error) any map the server would not train, so that a forged grid cannot take the test down."""
    import callbacks.run_page

    real, asked = callbacks.run_page.map_structure, []

    def guarded(*args):
        asked.append(args)
        if not is_trainable_grid(args):
            raise RuntimeError(f"test guard: the server asked for a map of {args!r}")
        return real(*args)

    monkeypatch.setattr(callbacks.run_page, "map_structure", guarded)
    return asked


@pytest.mark.parametrize("trigger", [DATASET_TOKEN, POLL, TIMELINE])
@pytest.mark.parametrize("grid", GRID_CASES)
def test_a_forged_grid_in_the_view_state_builds_no_oversized_map(server, maps_built, trigger, grid):
    session = server.new_session()
    token = load_data(server, session)
    status, _ = show(server, trigger, session, token, {"run": "r", "grid": grid}, {TIMELINE: 2})
    assert [args for args in maps_built if list(args) != [4, 4, "hex"]] == []
    if grid == [4, 4, "hex"]:  # the control: the guard sees the maps the page's grid asks for
        assert maps_built
    assert status == 200


# A forged grid beside the session's own trained run, which the view names: (grid, data grid).
OWN_RUN_GRIDS = {
    "the run's grid": (SMALL_GRID, SMALL_GRID),
    "an oversized data grid": (SMALL_GRID, [3000, 3000, "hex"]),
    "an oversized grid": ([3000, 3000, "hex"], SMALL_GRID),
    "oversized grids": ([10**6, 2, "square"], [10**6, 2, "square"]),
    "no grid": (None, None),
    "another valid grid": ([5, 4, "hex"], [5, 4, "hex"]),
}


def own_run_grid_cases():
    for trigger in (TIMELINE, POLL):
        for name, (grid, data_grid) in OWN_RUN_GRIDS.items():
            yield pytest.param(trigger, grid, data_grid, id=f"{name} via {trigger}")


def forged_own_grid_request(server, trained_run, grid, data_grid, trigger):
    session, run_id, view = trained_run
    forged = {**view, "grid": grid, "data_grid": data_grid, "epoch": 1, "follow": True}
    return show(server, trigger, session, view["dataset"], forged, {TIMELINE: 2})


@pytest.mark.parametrize("trigger, grid, data_grid", list(own_run_grid_cases()))
def test_a_forged_grid_beside_ones_own_run_builds_no_oversized_map(server, trained_run, maps_built, trigger, grid,
                                                                   data_grid):
    forged_own_grid_request(server, trained_run, grid, data_grid, trigger)
    allowed = {tuple(SMALL_GRID)} | ({tuple(grid)} if isinstance(grid, list) and is_trainable_grid(grid) else set())
    assert [args for args in maps_built if args not in allowed] == []


@pytest.mark.parametrize("trigger, grid, data_grid", list(own_run_grid_cases()))
def test_a_forged_grid_beside_ones_own_run_is_not_a_server_error(server, trained_run, trigger, grid, data_grid):
    session, run_id, _ = trained_run
    status, body = forged_own_grid_request(server, trained_run, grid, data_grid, trigger)
    assert status == 200
    answered = output(body, VIEW)
    assert answered["run"] == run_id and answered["grid"] == SMALL_GRID


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
    PLAY_STEP: 2,
    POLL: 1,
    TOUCHED: 1,
    RUN_CHOICE: "r",
    DATASET_TOKEN: "t",
}


def session_callbacks(server: DashRequests) -> list[tuple[str, dict]]:
    """(trigger, dependency) of every input of every server callback that takes the session id."""
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
    assert {trigger for trigger, _ in callbacks} >= {DATASET, SAMPLES, UPLOAD, TRAIN, CANCEL, TOUCHED, DATASET_TOKEN,
                                                      RUN_CHOICE, TIMELINE, PLAY_STEP, POLL}
    before = set(cache_store.cache.iterkeys())
    answers = {}
    for trigger, dependency in callbacks:
        values = {SESSION: session, VIEW: {"run": "r", "epoch": 1, "grid": [4, 4, "hex"]},
                  UPLOAD_NAME: "tetra.obj", SAMPLES: 500, DATASET: "clusters", **SMALL_RUN}
        if trigger in TRIGGER_VALUES:
            values[trigger] = TRIGGER_VALUES[trigger]
        answers[trigger, dependency["output"]] = send(server, trigger, values, dependency=dependency)[0]
    assert answers == {key: 204 for key in answers}  # PreventUpdate: HTTP 204, nothing changes
    assert set(cache_store.cache.iterkeys()) == before


def test_session_ids_are_normalised_so_one_session_has_one_set_of_keys(server, cache_store):
    session = server.new_session()
    load_data(server, session.upper())  # uuid.UUID reads the same id in upper case
    assert cache_store.get_dataset(session) is not None


@pytest.fixture
def queued_run(server, cache_store):
    """Session A with a run the server accepted, whose job waits for a training slot (all
    held here meanwhile): the run stays queued and live for as long as the test looks at
    it. (session, data token, run id, view state); the run is cancelled afterwards."""
    with job_slots_taken(cache_store):
        session = server.new_session()
        run_id, view = recorded_run(server, session)
        token = view["dataset"]
        wait_until(lambda: cache_store.get_run(session, run_id).queue_place >= 1,
                   f"the job of run {run_id} waits in the queue")
        try:
            yield session, token, run_id, view
        finally:
            cancel(server, session, token)
    wait_until_finished(cache_store, session, run_id)


@pytest.mark.parametrize("changed", [[POLL, TRAIN], [TOUCHED, POLL, TRAIN]], ids=["poll first", "touched and poll"])
def test_a_train_click_that_comes_with_a_poll_starts_the_run(server, cache_store, changed):
    """A poll the pace sends as the user clicks Train reaches the server in the same call."""
    session = server.new_session()
    token = load_data(server, session)
    with job_slots_taken(cache_store):
        status, body = send(server, TRAIN, {SESSION: session, DATASET_TOKEN: token, POLL: 1, **SMALL_RUN},
                            changed=changed)
        assert status == 200
        run_id = output(body, VIEW)["run"]
        assert run_id is not None and cache_store.current_run(session).run == run_id
        cancel(server, session, token)
    wait_until_finished(cache_store, session, run_id)


def test_another_sessions_run_cannot_be_trained_from_this_session(server, cache_store, queued_run):
    session_a, _, run_a, _ = queued_run
    session_b = server.new_session()
    load_data(server, session_b)
    before = cache_store.get_run(session_a, run_a)
    assert before.status is RunStatus.QUEUED

    assert run_training(cache_store, session_b, run_a, max_jobs=MAX_JOBS) is None
    after = cache_store.get_run(session_a, run_a)
    # Untouched, still queued (its own job only records its place in the queue).
    assert after.replace(queue_place=0) == before.replace(queue_place=0)
    assert cache_store.get_history(session_a, run_a) is None
    assert cache_store.get_run(session_b, run_a) is None
    assert cache_store.current_run_id(session_b) is None


def test_another_sessions_store_keys_are_unreachable(server, cache_store, queued_run):
    session_a, _, run_a, _ = queued_run
    session_b = server.new_session()
    assert cache_store.get_run(session_b, run_a) is None
    assert cache_store.get_dataset(session_b) is None
    # Run ids are key parts, not paths: ".." and "/" do not climb into session A's keys.
    for forged in (f"../{session_a}/run/{run_a}", f"../../zsom/{session_a}/run/{run_a}", f"/{run_a}"):
        assert cache_store.get_run(session_b, forged) is None
        assert DiskcacheStore.key(session_b, "run", forged).startswith(f"zsom/{session_b}/")
        assert run_training(cache_store, session_b, forged, max_jobs=MAX_JOBS) is None
    assert cache_store.get_run(session_a, run_a).status is RunStatus.QUEUED
    assert cache_store.get_history(session_a, run_a) is None


def test_another_session_cannot_cancel_or_watch_this_sessions_run(server, cache_store, queued_run):
    session_a, token_a, run_a, view_a = queued_run
    before = cache_store.get_run(session_a, run_a)
    session_b = server.new_session()
    token_b = load_data(server, session_b, samples=600)  # other data, another token
    # Every input of the run page that can end the session's run, or watch it: Cancel, a
    # settings change and new data (which restart or cancel a run that no longer fits
    # the page), and the poll. Session B sends them with session A's view.
    tried = []
    for trigger in (CANCEL, TOUCHED, DATASET_TOKEN, POLL):
        status, body = show(server, trigger, session_b, token_b, view_a, {TOUCHED: 1, "epochs.value": 5})
        assert status == 200 and run_a not in json.dumps(body) and token_a not in json.dumps(body)
        tried.append(trigger)
    assert tried == [CANCEL, TOUCHED, DATASET_TOKEN, POLL]
    after = cache_store.get_run(session_a, run_a)
    assert after.status is RunStatus.QUEUED and after.job == before.job and pid_alive(int(after.job))
    assert cache_store.current_run_id(session_b) is None  # and B started nothing of its own
    # The control: the same Cancel from session A ends its run.
    status, _ = show(server, CANCEL, session_a, token_a, view_a)
    assert status == 200
    assert cache_store.get_run(session_a, run_a).status is RunStatus.CANCELLED


# ---------------------------------------------------------------------------- 4. timeline and run ids


@pytest.fixture(scope="module")
def trained_run(server, cache_store):
    """Session A with a run of 3 epochs, trained by the job the server started for it:
    (session, run id, view state of a page that shows its last epoch). No test changes it."""
    session = server.new_session()
    run_id, view = recorded_run(server, session)
    record = wait_until_finished(cache_store, session, run_id)
    assert record.status is RunStatus.DONE and record.epoch == SMALL_EPOCHS
    view = settled_view(server, session, view["dataset"], view)
    assert view["run"] == run_id and view["epoch"] == view["latest"] == SMALL_EPOCHS
    return session, run_id, view


def other_session(server: DashRequests) -> tuple[str, str, dict]:
    """Session B, with data of its own and no run: (session, data token, settled view state)."""
    session = server.new_session()
    token = load_data(server, session, samples=600)  # other data than session A's, another token
    return session, token, settled_view(server, session, token)


def assert_shows_nothing_of(body, token: str) -> None:
    """Nothing of another session's data or runs: no panel figure, not its data token, and
    the status line of a session that has no run."""
    assert token not in json.dumps(body)
    assert no_panel_figure(body)
    assert "Press Train" in json.dumps(output(body, "status-line.children"))


def assert_names_no_run(body, run_id: str) -> None:
    assert run_id not in json.dumps(body)
    assert output(body, VIEW)["run"] is None and output(body, RUN_CHOICE) is None


TIMELINE_VALUES = [
    pytest.param(-5, id="-5"),
    pytest.param(10**9, id="10**9"),
    pytest.param(None, id="missing"),
    pytest.param(2, id="2"),
    pytest.param(1.5, id="1.5"),
    pytest.param("x", id="'x'"),
    pytest.param([2], id="a list"),
    pytest.param(float("inf"), id="Infinity"),
    pytest.param(float("nan"), id="NaN"),
    pytest.param(HUGE_INT, id="10**400"),
]
# The timeline, and the player, whose every step is a choice on the timeline.
TIMELINE_TRIGGERS = [TIMELINE, PLAY_STEP]


@pytest.mark.parametrize("trigger", TIMELINE_TRIGGERS)
@pytest.mark.parametrize("slider", TIMELINE_VALUES)
def test_a_forged_timeline_never_shows_another_sessions_run(server, cache_store, trained_run, trigger, slider):
    """Session B sends session A's view state as it is: B's answer is the one it gets for a
    view that names no run at all (its own data, drawn afresh), and names nothing of A's."""
    session_a, run_a, view_a = trained_run
    token_a = view_a["dataset"]
    session_b, token_b, _ = other_session(server)
    view = {**view_a, "epoch": 3, "latest": 3, "follow": False}
    nobody = {**view, "run": secrets.token_urlsafe(12), "dataset": secrets.token_urlsafe(8)}
    status, body = show(server, trigger, session_b, token_b, view, {trigger: slider})
    assert status == 200
    assert run_a not in json.dumps(body) and token_a not in json.dumps(body)
    assert output(body, VIEW)["run"] is None and output(body, RUN_CHOICE) is None
    assert show(server, trigger, session_b, token_b, nobody, {trigger: slider}) == (status, body)


@pytest.mark.parametrize("trigger", TIMELINE_TRIGGERS)
@pytest.mark.parametrize("slider", TIMELINE_VALUES)
def test_a_forged_timeline_value_is_not_a_server_error(server, trained_run, trigger, slider):
    session, run_id, view = trained_run
    status, body = show(server, trigger, session, view["dataset"], view, {trigger: slider})
    assert status == 200
    answered = output(body, VIEW)
    assert answered["run"] == run_id and 1 <= answered["epoch"] <= SMALL_EPOCHS
    assert output(body, TIMELINE) == answered["epoch"] and output(body, "timeline.max") == SMALL_EPOCHS
    assert output(body, "timeline-label.children") == f"Epoch {answered['epoch']} / {SMALL_EPOCHS}"


@pytest.mark.parametrize("trigger", TIMELINE_TRIGGERS)
@pytest.mark.parametrize("slider, shown", [(-5, 1), (10**9, 3), (1.5, 1), (0, 1), (2, 2)],
                         ids=["-5", "10**9", "1.5", "0", "2"])
def test_a_forged_timeline_value_on_ones_own_run_is_clamped(server, trained_run, trigger, slider, shown):
    session, run_id, view = trained_run
    status, body = show(server, trigger, session, view["dataset"], {**view, "epoch": 3, "latest": 3},
                        {trigger: slider})
    assert status == 200
    assert output(body, "timeline-label.children") == f"Epoch {shown} / 3"
    assert output(body, VIEW)["run"] == run_id and output(body, VIEW)["epoch"] == shown
    if shown != 3:  # the panels move to the epoch shown
        assert not no_panel_figure(body)


@pytest.mark.parametrize("trigger", TIMELINE_TRIGGERS)
@pytest.mark.parametrize("slider", ["2", [2], {"epoch": 2}, True], ids=["'2'", "a list", "an object", "true"])
def test_a_timeline_value_that_is_not_a_number_changes_nothing(server, trained_run, trigger, slider):
    session, _, view = trained_run
    status, body = show(server, trigger, session, view["dataset"], view, {trigger: slider})
    assert status == 200
    assert no_panel_figure(body)
    # (Whether the page follows new epochs: the test below.)
    assert {**shown_state(output(body, VIEW)), "follow": None} == {**shown_state(view), "follow": None}
    assert output(body, "timeline-label.children") == "Epoch 3 / 3"


@pytest.mark.parametrize("trigger", TIMELINE_TRIGGERS)
def test_a_timeline_value_that_is_not_a_number_keeps_following(server, trained_run, trigger):
    session, _, view = trained_run
    assert view["follow"] is True
    status, body = show(server, trigger, session, view["dataset"], view, {trigger: "2"})
    assert status == 200
    assert output(body, VIEW)["follow"] is True


def forged_run_reference(trigger: str, run_id: str, view: dict) -> tuple[object, dict]:
    """(value, view state) that point ``trigger`` at ``run_id`` as strongly as a page can: the
    run menu chooses it from a view that shows no run (a choice of the run already on
    screen changes nothing); the timeline, the player and the poll come with a view that
    names it, on that run's grid, at another epoch than the one they ask for."""
    if trigger == RUN_CHOICE:
        return run_id, {**view, "run": None}
    named = {**view, "run": run_id, "grid": SMALL_GRID, "data_grid": SMALL_GRID, "epoch": 1, "latest": 3,
             "follow": True}
    return (1 if trigger == POLL else 2), named


RUN_TRIGGERS = [RUN_CHOICE, TIMELINE, PLAY_STEP, POLL]


@pytest.mark.parametrize("trigger", RUN_TRIGGERS)
def test_another_sessions_run_id_opens_nothing(server, cache_store, trained_run, trigger):
    """Every input of the run page that names a run, given session A's run id by session B."""
    _, run_a, view_a = trained_run
    session_b, token_b, view_b = other_session(server)
    forged, view = forged_run_reference(trigger, run_a, view_b)
    status, body = show(server, trigger, session_b, token_b, view, {trigger: forged})
    assert status == 200
    assert_shows_nothing_of(body, view_a["dataset"])
    assert cache_store.get_run(session_b, run_a) is None


@pytest.mark.parametrize("trigger", [pytest.param(trigger) if trigger != RUN_CHOICE
                                     else trigger for trigger in RUN_TRIGGERS] + [
    pytest.param(trigger) for trigger in (CANCEL, TOUCHED, DATASET_TOKEN)])
def test_another_sessions_run_id_is_not_kept_as_the_runs_shown(server, trained_run, trigger):
    """The same requests: B's answer does not name A's run as the one its page shows."""
    _, run_a, _ = trained_run
    session_b, token_b, view_b = other_session(server)
    forged, view = forged_run_reference(trigger, run_a, view_b)
    status, body = show(server, trigger, session_b, token_b, view, {trigger: forged, TOUCHED: 1})
    assert status == 200
    assert_names_no_run(body, run_a)


@pytest.mark.parametrize("trigger", RUN_TRIGGERS)
def test_ones_own_run_id_opens_it(server, trained_run, trigger):
    """The control for the tests above: the same request from session A shows its run."""
    session_a, run_a, view_a = trained_run
    forged, view = forged_run_reference(trigger, run_a, view_a)
    status, body = show(server, trigger, session_a, view_a["dataset"], view, {trigger: forged})
    assert status == 200
    # The run menu is written when its value is not the run shown already.
    menu = output(body, RUN_CHOICE, missing=forged if trigger == RUN_CHOICE else None)
    assert output(body, VIEW)["run"] == run_a and menu == run_a
    assert not no_panel_figure(body)


# Forged values of the run page's inputs in a session that has data and no run.
FORGED_PAGE_INPUTS = {
    "poll a string": (POLL, "x"),
    "poll a list": (POLL, [1]),
    "poll an object": (POLL, {"n": 1}),
    "poll -5": (POLL, -5),
    "play step a string": (PLAY_STEP, "x"),
    "play step a list": (PLAY_STEP, [1]),
    "play step an object": (PLAY_STEP, {"run": "r", "epoch": 1}),
    "play step 10**9": (PLAY_STEP, 10**9),
    "timeline an object": (TIMELINE, {"run": "r"}),
    "run choice a list": (RUN_CHOICE, ["r"]),
    "run choice an object": (RUN_CHOICE, {"run": "r"}),
    "run choice a path": (RUN_CHOICE, "../../r"),
    "settings touched a string": (TOUCHED, "x"),
    "settings touched an object": (TOUCHED, {"width": 100}),
    "cancel a string": (CANCEL, "x"),
    "train a list": (TRAIN, [1]),
}


@pytest.mark.parametrize("trigger, value", FORGED_PAGE_INPUTS.values(), ids=FORGED_PAGE_INPUTS.keys())
def test_forged_page_inputs_without_a_run_show_nothing(server, cache_store, trigger, value):
    session, token, view = other_session(server)
    status, body = show(server, trigger, session, token, view, {trigger: value})
    assert status == 200
    if trigger == TRAIN:  # any click starts a run: the click count is not read
        run_id = output(body, VIEW)["run"]
        assert run_id == cache_store.current_run_id(session) and run_id is not None
        cancel(server, session, token)
        return
    assert no_panel_figure(body)
    assert output(body, VIEW)["run"] is None and cache_store.current_run_id(session) is None


POLL_VALUES = [
    pytest.param(1_700_000_000_000, id="a time"),
    pytest.param("x", id="'x'"),
    pytest.param([1], id="a list"),
    pytest.param({"seq": 5}, id="an object"),
    pytest.param(None, id="missing"),
    pytest.param(-5, id="-5"),
    pytest.param(1e308, id="1e308"),
    pytest.param(float("nan"), id="NaN"),
    pytest.param(True, id="true"),
    pytest.param(HUGE_INT, id="10**400"),
]


@pytest.mark.parametrize("value", POLL_VALUES)
def test_a_forged_poll_changes_nothing_and_the_page_polls_again(server, trained_run, value):
    session, _, view = trained_run
    status, body = show(server, POLL, session, view["dataset"], view, {POLL: value})
    assert status == 200
    assert no_panel_figure(body) and shown_state(output(body, VIEW)) == shown_state(view)
    assert_counts_itself(view, output(body, VIEW))


RUN_CHOICES = [
    pytest.param(["r"], id="a list"),
    pytest.param({"run": "r"}, id="an object"),
    pytest.param(5, id="a number"),
    pytest.param("", id="empty"),
    pytest.param("x" * 10_000, id="10000 characters"),
    pytest.param("../run", id="a path"),
    pytest.param(None, id="missing"),
]


@pytest.mark.parametrize("choice", RUN_CHOICES)
def test_a_forged_run_choice_keeps_ones_own_run_on_screen(server, trained_run, choice):
    session, run_id, view = trained_run
    status, body = show(server, RUN_CHOICE, session, view["dataset"], view, {RUN_CHOICE: choice})
    assert status == 200
    assert no_panel_figure(body)
    assert output(body, VIEW)["run"] == run_id and output(body, RUN_CHOICE) == run_id


# A view state with a field of the wrong type: each is read as absent.
ODD_VIEWS = {
    "run a list": {"run": ["r"]},
    "run an object": {"run": {"run": "r"}},
    "run a number": {"run": 5},
    "epoch a string": {"epoch": "3"},
    "epoch NaN": {"epoch": float("nan")},
    "epoch Infinity": {"epoch": float("inf")},
    "epoch 10**9": {"epoch": 10**9},
    "epoch -5": {"epoch": -5},
    "epoch true": {"epoch": True},
    "epoch 10**400": {"epoch": HUGE_INT},
    "latest a string": {"latest": "x"},
    "latest 10**400": {"latest": HUGE_INT},
    "menu a string": {"menu": "x"},
    "menu an object": {"menu": {"a": 1}},
    "menu odd items": {"menu": [1, None, ["x"]]},
    "follow a string": {"follow": "no"},
    "dataset a list": {"dataset": ["t"]},
    "label a number": {"label": 5},
    "seq a string": {"seq": "x"},
    "seq -5": {"seq": -5},
    "seq 2**31 - 1": {"seq": 2**31 - 1},
    "seq 2**31": {"seq": 2**31},
    "seq NaN": {"seq": float("nan")},
    "seq 10**400": {"seq": HUGE_INT},
    "poll_ms a string": {"poll_ms": "x"},
    "retry_ms -1": {"retry_ms": -1},
    "every field null": dict.fromkeys(("dataset", "label", "data_grid", "grid", "run", "epoch", "latest", "follow",
                                       "menu", *ANSWER_FIELDS)),
}


def odd_view_cases():
    for trigger in (POLL, TIMELINE):
        for name, fields in ODD_VIEWS.items():
            yield pytest.param(trigger, fields, id=f"{name} via {trigger}")


@pytest.mark.parametrize("trigger, fields", list(odd_view_cases()))
def test_a_view_state_with_odd_fields_is_read_as_absent(server, trained_run, trigger, fields):
    session, run_id, view = trained_run
    status, body = show(server, trigger, session, view["dataset"], {**view, **fields}, {TIMELINE: 2})
    assert status == 200
    answered = output(body, VIEW)
    assert answered["run"] == run_id and answered["dataset"] == view["dataset"]
    assert type(answered["epoch"]) is int and 0 <= answered["epoch"] <= SMALL_EPOCHS
    assert type(answered["latest"]) is int and answered["latest"] == SMALL_EPOCHS
    assert answered["grid"] == SMALL_GRID and type(answered["follow"]) is bool
    assert isinstance(answered["menu"], list) and all(isinstance(item, str) for item in answered["menu"])
    assert_counts_itself({**view, **fields}, answered)


@pytest.mark.parametrize("forged", ["a list", "an object", "a number", "another session's"])
def test_a_forged_data_token_shows_no_data(server, trained_run, forged):
    _, _, view_a = trained_run
    token = {"a list": [view_a["dataset"]], "an object": {"token": 1}, "a number": 5,
             "another session's": view_a["dataset"]}[forged]
    session_b, _, view_b = other_session(server)
    status, body = show(server, DATASET_TOKEN, session_b, token, view_b)
    assert status == 200
    assert no_panel_figure(body) and view_a["dataset"] not in json.dumps(body)
    assert output(body, VIEW)["run"] is None


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
    "garbage with a name that is an object": (data_url(GARBAGE), {"name": "x"}, "upload: not a mesh or table file"),
    "a mesh named as text": (data_url(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"), "rabbit.obj.txt",
                             "rabbit.obj.txt: not a mesh or table file (.txt)"),
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


# ---------------------------------------------------------------------------- 5b. table controls

ROLE_EDITS = "table-roles.cellValueChanged"
SCALING = "table-scaling.value"
PENGUINS_CSV = (b"species,island,bill_length_mm,body_mass_g\n"
                b"Adelie,Torgersen,39.1,3750\nAdelie,Biscoe,NA,3800\nGentoo,Biscoe,46.1,5200\n"
                b"Gentoo,Dream,47.3,NA\nChinstrap,Dream,49.2,3650\n")


def load_penguins(server: DashRequests, cache_store, session: str) -> dict:
    """Upload a small penguins table for ``session``; returns its stored record."""
    status, body = send(server, UPLOAD, {UPLOAD: data_url(PENGUINS_CSV), UPLOAD_NAME: "penguins.csv", SAMPLES: 500,
                                         SESSION: session})
    assert status == 200 and "Loaded penguins.csv" in message_of(body, "upload-message.children")
    rows = output(body, "table-roles.rowData")
    assert [row["column"] for row in rows] == ["species", "island", "bill_length_mm", "body_mass_g"]
    assert {row["column"]: row["role"] for row in rows}["species"] == "label"
    assert output(body, "table-panel.hidden") is False and output(body, "sample-count-row.hidden") is True
    return cache_store.get_dataset(session)


def edit(column: str, role: str, weight=1.0, **extra) -> list:
    """The roles grid's event for an edit of ``column``'s row."""
    return [{"rowIndex": 0, "colId": "role", "data": {"column": column, "role": role, "weight": weight, **extra}}]


def test_a_role_edit_prepares_the_table_again(server, cache_store):
    session = server.new_session()
    before = load_penguins(server, cache_store, session)
    status, body = send(server, ROLE_EDITS, {ROLE_EDITS: edit("island", "feature"), SCALING: "zscore",
                                             SESSION: session})
    assert status == 200
    after = cache_store.get_dataset(session)
    assert output(body, DATASET_TOKEN) == after["token"] != before["token"]
    assert after["table"]["roles"]["island"] == "feature"
    assert "one-hot from island" in message_of(body, "data-info.children")
    assert after["points"].shape[1] == before["points"].shape[1] + 3  # Biscoe, Dream, Torgersen
    # The token still names the file: another file of that name, edited alike, gets another.
    other = server.new_session()
    status, _ = send(server, UPLOAD, {UPLOAD: data_url(PENGUINS_CSV.replace(b"39.1", b"40.1")),
                                      UPLOAD_NAME: "penguins.csv", SAMPLES: 500, SESSION: other})
    send(server, ROLE_EDITS, {ROLE_EDITS: edit("island", "feature"), SCALING: "zscore", SESSION: other})
    assert cache_store.get_dataset(other)["table"]["roles"] == after["table"]["roles"]
    assert cache_store.get_dataset(other)["token"] != after["token"]
    # The scaling is read from its menu, the roles from the store.
    status, body = send(server, SCALING, {ROLE_EDITS: None, SCALING: "minmax", SESSION: session})
    assert cache_store.get_dataset(session)["table"]["scaling"] == "minmax"
    assert cache_store.get_dataset(session)["table"]["roles"]["island"] == "feature"


TABLE_EDIT_CASES = {
    "a column the table lacks": (edit("../../etc/passwd", "feature"), "zscore", "do not match the table"),
    "a role of another kind": (edit("island", "identifier"), "zscore", "cannot be 'identifier'"),
    "an unknown role": (edit("species", "boss"), "zscore", "cannot be 'boss'"),
    "a negative weight": (edit("body_mass_g", "feature", -2), "zscore", "must be a number above 0"),
    "a zero weight": (edit("body_mass_g", "feature", 0), "zscore", "must be a number above 0"),
    "a text weight": (edit("body_mass_g", "feature", "2"), "zscore", "must be a number above 0"),
    "a true weight": (edit("body_mass_g", "feature", True), "zscore", "must be a number above 0"),
    "a huge weight": (edit("body_mass_g", "feature", HUGE_INT), "zscore", "must be a number above 0"),
    "no row": ([{"colId": "role"}], "zscore", "do not match the table"),
    "a string": ("feature", "zscore", "do not match the table"),
    "an unknown scaling": (None, "__import__('os')", "unknown scaling"),
    "no feature left": (edit("bill_length_mm", "ignored") + edit("body_mass_g", "ignored"), "zscore", "feature"),
}


@pytest.mark.parametrize("edits, scaling, message", TABLE_EDIT_CASES.values(), ids=TABLE_EDIT_CASES.keys())
def test_a_forged_table_edit_is_refused_and_keeps_the_roles(server, cache_store, file_watch, edits, scaling,
                                                             message):
    session = server.new_session()
    before = load_penguins(server, cache_store, session)
    trigger = SCALING if edits is None else ROLE_EDITS
    status, body = send(server, trigger, {ROLE_EDITS: edits, SCALING: scaling, SESSION: session})
    assert status == 200
    shown = message_of(body, "table-message.children")
    assert message in shown and "the table is as before" in shown
    assert output(body, DATASET_TOKEN, MISSING) is MISSING
    assert cache_store.get_dataset(session)["token"] == before["token"]
    # The grid and the menu are put back as the store holds them.
    rows = output(body, "table-roles.rowData")
    assert {row["column"]: row["role"] for row in rows} == before["table"]["roles"]
    assert output(body, "table-scaling.value") == "zscore"


AXES = "table-axes.value"


def test_forged_or_unfinished_axes_leave_the_view_as_it_is(server, cache_store):
    session = server.new_session()
    before = load_penguins(server, cache_store, session)
    assert before["table"]["axis_choices"] == ["bill_length_mm", "body_mass_g"]  # numeric features only
    status, body = send(server, AXES, {AXES: ["bill_length_mm"], SCALING: "zscore", SESSION: session})
    assert "Pick 2 more" in message_of(body, "table-message.children")
    assert output(body, DATASET_TOKEN, MISSING) is MISSING
    for axes, message in ((["body_mass_g", "bill_length_mm", "bill_length_mm"], "three different features"),
                          (["bill_length_mm", "body_mass_g", "species"], "numeric features"),
                          (["bill_length_mm", "body_mass_g", {"x": 1}], "numeric features"),
                          ("bill_length_mm", "numeric features")):
        status, body = send(server, AXES, {AXES: axes, SCALING: "zscore", SESSION: session})
        assert status == 200 and message in message_of(body, "table-message.children")
        assert output(body, "table-axes.value") == [] and output(body, DATASET_TOKEN, MISSING) is MISSING
    assert cache_store.get_dataset(session)["token"] == before["token"]


def test_a_view_on_three_features_keeps_the_data_token(server, cache_store):
    session = server.new_session()
    csv = PENGUINS_CSV.replace(b"body_mass_g\n", b"body_mass_g,flipper\n").replace(b"\nAdelie", b"\nAdelie")
    rows = [line + b"," + str(180 + i).encode() for i, line in enumerate(csv.split(b"\n")[1:-1])]
    data = b"\n".join([csv.split(b"\n")[0], *rows]) + b"\n"
    status, body = send(server, UPLOAD, {UPLOAD: data_url(data), UPLOAD_NAME: "three.csv", SAMPLES: 500,
                                         SESSION: session})
    before = cache_store.get_dataset(session)
    axes = ["flipper", "bill_length_mm", "body_mass_g"]
    status, body = send(server, AXES, {AXES: axes, SCALING: "zscore", SESSION: session})
    after = cache_store.get_dataset(session)
    assert after["token"] == before["token"] and output(body, DATASET_TOKEN) == after["page_token"]
    assert after["page_token"].startswith(before["token"] + "~")
    assert after["display"]["axis_names"] == axes and after["table"]["axes"] == axes
    # The display shows the features in their units: the stored points give them back.
    shown = after["display"]["points"]
    assert shown[:, 0].min() >= 180 and shown[:, 0].max() <= 185


@pytest.mark.parametrize("trigger", [ROLE_EDITS, SCALING])
def test_a_table_edit_without_a_table_changes_nothing(server, cache_store, trigger):
    session = server.new_session()
    token = load_data(server, session)
    status, body = send(server, trigger, {ROLE_EDITS: edit("x", "feature"), SCALING: "minmax", SESSION: session})
    assert status == 204 or output(body, DATASET_TOKEN, MISSING) is MISSING
    assert cache_store.get_dataset(session)["token"] == token


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
    settings = parse_settings({**DEFAULTS, "auto_size": False, "auto_sigma": False,
                               "width": 3, "height": 2, "epochs": 1, "sigma": 1.0})
    runs = Runs(cache_store, RecordingBackend())  # the server's run lifecycle, with a backend that starts no job
    schedule = settings.schedule()
    ids = [runs.start(session, settings.run_settings(), schedule).run for _ in range(1000)]
    runs.cancel(session)  # the last one, which no job will end
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
