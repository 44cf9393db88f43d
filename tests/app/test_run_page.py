"""The run page's one callback, called as the browser would: every answer is derived from
the store and the page's view state, and a page that applies the answers converges."""

from __future__ import annotations

import uuid

import pytest
from dash import Patch, no_update
from test_figures import operations
from test_jobs import RecordingBackend
from ui_testkit import cloud
from zsom_testkit import RedisServer

from callbacks.data import dataset_record
from callbacks.run_page import POLL_BUSY_MS, POLL_IDLE_MS, PageInput, RunPage, ViewState
from components.ids import PANELS, Ids
from components.settings import DEFAULTS, SETTING_CONTROLS, TrainingSettings
from zsom_jobs import Runs, RunStatus
from zsom_jobs.redis_store import RedisStore
from zsom_jobs.training import run_training

SMALL = {**DEFAULTS, "auto_size": False, "auto_sigma": False, "width": 5, "height": 4, "epochs": 5, "sigma": 2.0}


def figure_of(answer: dict, panel: Ids):
    """What an answer sends one panel: a figure, a patch, or no_update."""
    updates = answer[(Ids.PANEL_UPDATES, "data")]
    assert updates["seq"] == answer[(Ids.VIEW, "data")]["seq"]
    return updates["panels"].get(str(panel), no_update)


def text_of(value) -> str:
    """The visible text of a component tree, joined by spaces."""
    if value is None or value is no_update:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(text_of(item) for item in value)
    if hasattr(value, "children"):
        return text_of(value.children)
    return str(value)


class Page:
    """A browser page as ``show_runs`` sees it: it sends its view state and applies each answer."""

    def __init__(self, logic: RunPage, session_id: str, token: str):
        self.logic, self.session_id, self.token = logic, session_id, token
        self.view: dict = {}
        self.settings = dict(SMALL)
        self.auto_retrain = True
        self.answers: list[dict] = []

    def send(self, trigger=Ids.POLL, *, chosen=None, slider=None, view=None) -> dict:
        page = PageInput(trigger=trigger, session_id=self.session_id, settings=self.settings,
                         auto_retrain=self.auto_retrain, view=ViewState.from_page(self.view if view is None else view),
                         chosen_run=chosen, slider=slider, dataset_token=self.token)
        answer = self.logic.answer(page)
        self.view = answer[(Ids.VIEW, "data")]
        self.answers.append(answer)
        return answer

    def settle(self, most: int = 6) -> dict:
        """Poll until an answer changes no panel."""
        for _ in range(most):
            answer = self.send()
            if all(figure_of(answer, panel) is no_update for panel in PANELS):
                return answer
        raise AssertionError("the page never caught up with the store")

    def status(self, answer: dict) -> str:
        return text_of(answer[(Ids.STATUS, "children")])


@pytest.fixture
def session(store, session_id):
    store.put_dataset(session_id, dataset_record("flat-token", "flat", "flat",
                                                 cloud(600, 2), None, None, None, "", "builtin"))
    return session_id


@pytest.fixture
def runs(store):
    return Runs(store, RecordingBackend())


@pytest.fixture
def page(store, session, runs):
    page = Page(RunPage(runs), session, store.get_dataset(session)["token"])
    page.send(Ids.DATASET_TOKEN)
    return page


def train_to_the_end(store, page, **settings):
    page.settings = {**SMALL, **settings}
    answer = page.send(Ids.TRAIN)
    run_id = answer[(Ids.VIEW, "data")]["run"]
    run_training(store, page.session_id, run_id, max_jobs=1)
    return run_id, answer


def test_new_data_is_drawn_and_the_page_is_ready(store, session, runs):
    page = Page(RunPage(runs), session, store.get_dataset(session)["token"])
    answer = page.send(Ids.DATASET_TOKEN)
    assert figure_of(answer, Ids.DATA_VIEW) is not no_update
    assert page.status(answer).startswith("Ready flat: 600 points in 2-D. Press Train.")
    assert answer[(Ids.CANCEL, "disabled")] is True and answer[(Ids.TRAIN, "children")] == "Train"
    assert answer[(Ids.VIEW, "data")]["poll_ms"] == POLL_IDLE_MS
    assert figure_of(page.send(), Ids.DATA_VIEW) is no_update  # drawn once


def test_train_starts_a_run_and_the_page_follows_it_to_the_end(store, page):
    answer = page.send(Ids.TRAIN)
    run_id = page.view["run"]
    assert store.get_run(page.session_id, run_id).status is RunStatus.QUEUED
    assert "Starting: 5x4 hex" in page.status(answer)
    assert answer[(Ids.CANCEL, "disabled")] is False and answer[(Ids.TRAIN, "children")] == "Restart"
    assert answer[(Ids.VIEW, "data")]["poll_ms"] == POLL_BUSY_MS
    assert figure_of(answer, Ids.CURVES) is not no_update  # the run's skeletons
    run_training(store, page.session_id, run_id, max_jobs=1)
    final = page.settle()
    drawn = [answer for answer in page.answers if isinstance(figure_of(answer, Ids.U_MATRIX), Patch)]
    assert len(drawn) == 1 and all(isinstance(figure_of(drawn[0], panel), Patch) for panel in PANELS)
    assert page.view["epoch"] == page.view["latest"] == 5
    assert final[(Ids.TIMELINE_LABEL, "children")] == "Epoch 5 / 5" and final[(Ids.TIMELINE, "max")] == 5
    text = page.status(final)
    assert text.startswith("Done Epoch 5 / 5: finished in") and "MQE" in text
    assert page.view["settings"] == TrainingSettings(store.get_run(page.session_id, run_id).settings).describe()
    assert all(operations(figure_of(drawn[0], panel))[("layout", "meta")] == {"run": run_id, "epoch": 5}
               for panel in PANELS)
    assert final[(Ids.CANCEL, "disabled")] is True and final[(Ids.VIEW, "data")]["poll_ms"] == POLL_IDLE_MS


def test_an_answer_the_browser_dropped_is_made_good_by_the_next(store, page):
    run_id, _ = train_to_the_end(store, page)
    before = dict(page.view)
    first = page.send()  # this answer never reaches the page...
    page.view = before
    second = page.send()  # ...so the next one says it all again
    assert second[(Ids.VIEW, "data")] == first[(Ids.VIEW, "data")]  # the same answer, counted the same
    assert [isinstance(figure_of(second, panel), Patch) for panel in PANELS] == [
        isinstance(figure_of(first, panel), Patch) for panel in PANELS]


def test_the_timeline_shows_an_earlier_epoch_and_holds_it(store, page):
    run_id, _ = train_to_the_end(store, page)
    live = page.settle()
    scrubbed = page.send(Ids.TIMELINE, slider=2)
    assert all(isinstance(figure_of(scrubbed, panel), Patch) for panel in PANELS)
    assert page.view["epoch"] == 2 and page.view["follow"] is False
    assert scrubbed[(Ids.TIMELINE_LABEL, "children")] == "Epoch 2 / 5"
    assert "Epoch 2 / 5" in page.status(scrubbed)
    assert figure_of(page.send(), Ids.U_MATRIX) is no_update  # a poll leaves the held epoch
    back = page.send(Ids.TIMELINE, slider=5)
    assert page.view["epoch"] == 5 and page.view["follow"] is True
    assert figure_of(back, Ids.U_MATRIX).to_plotly_json() != figure_of(scrubbed, Ids.U_MATRIX).to_plotly_json()
    assert live[(Ids.TIMELINE, "max")] == 5


def test_a_forged_timeline_value_is_clamped_to_the_stored_epochs(store, page):
    train_to_the_end(store, page)
    page.settle()
    page.send(Ids.TIMELINE, slider=10**9)
    assert page.view["epoch"] == 5
    page.send(Ids.TIMELINE, slider=-4)
    assert page.view["epoch"] == 1


def test_cancel_ends_the_run_and_turns_cancel_off(store, page, runs):
    page.send(Ids.TRAIN)
    run_id = page.view["run"]
    answer = page.send(Ids.CANCEL)
    assert store.get_run(page.session_id, run_id).status is RunStatus.CANCELLED
    assert runs.backend.stopped == [f"job-{run_id}"]
    assert "Cancelled before the first epoch" in page.status(answer)
    assert answer[(Ids.CANCEL, "disabled")] is True and answer[(Ids.TRAIN, "children")] == "Train"
    # The job, still running for a moment, cannot store another epoch.
    assert run_training(store, page.session_id, run_id, max_jobs=1) is RunStatus.CANCELLED
    assert store.epochs_done(page.session_id, run_id) == 0


def test_a_settings_change_restarts_a_live_run_and_only_a_live_one(store, page, runs):
    page.send(Ids.TRAIN)
    first = page.view["run"]
    page.send(Ids.SETTINGS_TOUCHED)  # nothing changed (a reloaded page echoing its settings)
    assert page.view["run"] == first and runs.backend.started == [first]
    page.settings = {**SMALL, "sigma": 1.5}
    answer = page.send(Ids.SETTINGS_TOUCHED)
    second = page.view["run"]
    assert second != first and "Restarting with sigma0 2 -> 1.5" in page.status(answer)
    assert store.get_run(page.session_id, first).status is RunStatus.CANCELLED
    runs.cancel(page.session_id)
    page.settings = {**SMALL, "sigma": 1.0}
    page.send(Ids.SETTINGS_TOUCHED)
    assert runs.backend.started == [first, second]  # no run to restart


def test_without_auto_retrain_a_settings_change_leaves_the_run(store, page, runs):
    page.auto_retrain = False
    page.send(Ids.TRAIN)
    first = page.view["run"]
    page.settings = {**SMALL, "sigma": 1.5}
    answer = page.send(Ids.SETTINGS_TOUCHED)
    assert page.view["run"] == first and runs.backend.started == [first]
    # The page says that the run on screen is not what the sidebar asks for.
    assert "sigma0 2 -> 1.5" in text_of(answer[(Ids.STALE_NOTE, "children")])
    assert answer[(Ids.PANELS, "className")] == "panels stale"
    page.settings = dict(SMALL)
    answer = page.send()
    assert answer[(Ids.STALE_NOTE, "children")] == "" and answer[(Ids.PANELS, "className")] == "panels"


def test_refused_settings_say_why_and_start_nothing(store, page, runs):
    page.settings = {**SMALL, "epochs": 5000}
    answer = page.send(Ids.TRAIN)
    message = text_of(answer[(Ids.SETTINGS_MESSAGE, "children")])
    assert message == "epochs must be a whole number from 1 to 1,000, got 5,000"
    assert "Failed" not in page.status(answer)  # nothing failed: nothing started
    assert runs.backend.started == [] and store.runs(page.session_id) == []
    page.settings = dict(SMALL)
    assert page.send(Ids.TRAIN)[(Ids.SETTINGS_MESSAGE, "children")] == ""


def test_the_same_grid_keeps_the_map_panels(store, page):
    train_to_the_end(store, page)
    page.settle()
    same = page.send(Ids.TRAIN)  # SMALL again: same grid
    assert figure_of(same, Ids.CURVES) is not no_update
    assert all(figure_of(same, panel) is no_update for panel in (Ids.U_MATRIX, Ids.U_SURFACE, Ids.HITS))
    page.settings = {**SMALL, "width": 6}
    bigger = page.send(Ids.TRAIN)
    assert all(figure_of(bigger, panel) is not no_update for panel in (Ids.U_MATRIX, Ids.U_SURFACE, Ids.HITS))


def test_the_menu_lists_the_runs_on_the_current_data_newest_first(store, page):
    first, _ = train_to_the_end(store, page)
    second, _ = train_to_the_end(store, page, epochs=2)
    page.settings = dict(SMALL)
    answer = page.send(Ids.TRAIN)
    live = page.view["run"]
    options = answer[(Ids.RUNS, "options")]
    assert [option["value"] for option in options] == [live, second, first]
    mqe = store.get_history(page.session_id, second)["mqe"][-1]
    assert options[1]["label"] == f"Run 2: done, 2/2 epochs, 5x4 hex, MQE {mqe:.4g}"
    assert options[0]["label"] == "Run 3: in progress, 5 epochs, 5x4 hex"
    assert answer[(Ids.RUNS, "value")] == live
    assert page.send()[(Ids.RUNS, "options")] is no_update  # sent again only when it changes


def test_choosing_a_run_opens_it_at_its_newest_epoch(store, page):
    first, _ = train_to_the_end(store, page, epochs=3)
    train_to_the_end(store, page)
    page.settle()
    page.send(Ids.RUNS, chosen=first)
    final = page.settle()
    assert page.view["run"] == first and page.view["epoch"] == 3
    assert final[(Ids.TIMELINE_LABEL, "children")] == "Epoch 3 / 3"


def test_a_reloaded_page_opens_the_live_run_or_else_the_newest_with_epochs(store, session, runs):
    def reloaded():
        fresh = Page(RunPage(runs), session, store.get_dataset(session)["token"])
        fresh.send(Ids.DATASET_TOKEN)  # a page with a run to show is told of it first
        fresh.send()
        return fresh

    assert reloaded().view["run"] is None
    page = reloaded()
    done, _ = train_to_the_end(store, page, epochs=2)
    assert reloaded().view["run"] == done
    queued = page.send(Ids.TRAIN)[(Ids.VIEW, "data")]["run"]
    assert reloaded().view["run"] == queued
    runs.backend.ended.add(f"job-{queued}")  # its process died
    again = reloaded()
    assert again.view["run"] == done


def test_runs_of_other_data_or_sessions_do_not_open(store, page, session_id):
    run_id, _ = train_to_the_end(store, page)
    other_session = Page(page.logic, "7a1f9c52-3f0e-4c47-9a55-0e7d0b0c1d2e", page.token)
    answer = other_session.send(Ids.RUNS, chosen=run_id)
    assert other_session.view["run"] is None and figure_of(answer, Ids.CURVES) is no_update
    store.put_dataset(session_id, dataset_record("other-token", "other", "other",
                                                 cloud(100, 3), None, None, None, "", "builtin"))
    page.token = store.get_dataset(session_id)["token"]
    answer = page.send(Ids.DATASET_TOKEN)
    assert page.view["run"] is None and "Press Train" in page.status(answer)
    page.send(Ids.RUNS, chosen=run_id)
    assert page.view["run"] is None


def test_a_busy_server_says_so(store, page):
    for index in range(2):
        store.take_slot(str(uuid.uuid4()), f"other-{index}", max_jobs=2, ttl=60)
    page.send(Ids.TRAIN)
    run_training(store, page.session_id, page.view["run"], max_jobs=2, max_waiting=0)
    answer = page.send()
    assert page.status(answer) == "Busy Server busy: 2 trainings running, try again in a moment."
    assert answer[(Ids.CANCEL, "disabled")] is True


def test_a_stale_data_token_waits_for_the_data_callback(store, page):
    page.token = "an older token"
    answer = page.send(Ids.DATASET_TOKEN)
    assert all(figure_of(answer, panel) is no_update for panel in PANELS)


def control_outputs(answer: dict) -> dict:
    """The setting controls' values an answer writes: {setting name: value}."""
    return {name: answer[(control, "value")] for name, control in SETTING_CONTROLS.items()
            if answer[(control, "value")] is not no_update}


def test_opening_an_older_run_brings_back_its_settings_and_leaves_the_training_run(store, page, runs):
    older, _ = train_to_the_end(store, page, sigma=1.5, seed=3)
    page.settings = dict(SMALL)
    page.send(Ids.TRAIN)
    training = page.view["run"]
    answer = page.send(Ids.RUNS, chosen=older)
    assert page.view["run"] == older
    restored = control_outputs(answer)
    assert restored["sigma"] == 1.5 and restored["seed"] == 3 and restored["auto_size"] == []
    assert page.view["restored"] is True  # the page takes the controls' change for an echo
    # The sidebar now shows the older run's settings: its echo restarts nothing.
    page.settings = {**SMALL, "sigma": 1.5, "seed": 3}
    page.send(Ids.SETTINGS_TOUCHED)
    assert store.get_run(page.session_id, training).status is RunStatus.QUEUED
    assert runs.backend.started == [older, training]
    assert control_outputs(page.send()) == {} and page.view["restored"] is False  # restored once
    assert page.view["asked"] is False and page.send(Ids.TIMELINE, slider=1) and page.view["asked"] is True


def test_quick_changes_leave_one_run_in_progress(store, page, runs):
    page.send(Ids.TRAIN)
    for sigma in (1.8, 1.6, 1.4):
        page.settings = {**SMALL, "sigma": sigma}
        page.send(Ids.SETTINGS_TOUCHED)
    unfinished = [record for record in store.runs(page.session_id) if not record.finished]
    assert [record.settings["sigma"] for record in unfinished] == [1.4]
    page.send()
    menu = [answer[(Ids.RUNS, "options")] for answer in page.answers if answer[(Ids.RUNS, "options")] is not no_update]
    labels = [option["label"] for option in menu[-1]]
    assert sum("in progress" in label for label in labels) == 1
    # The labels name what tells the runs apart.
    assert any("sigma0 1.4" in label for label in labels) and any("sigma0 1.6" in label for label in labels)


def test_returning_to_a_dataset_finds_its_runs_again(store, page, session):
    first, _ = train_to_the_end(store, page)
    flat = store.get_dataset(session)
    store.put_dataset(session, dataset_record("other-token", "other", "other",
                                              cloud(100, 3), None, None, None, "", "builtin"))
    page.token = "other-token"
    page.send(Ids.DATASET_TOKEN)
    train_to_the_end(store, page)
    store.put_dataset(session, flat)
    page.token = flat["token"]
    answer = page.send(Ids.DATASET_TOKEN)
    assert page.view["run"] == first
    assert [option["value"] for option in answer[(Ids.RUNS, "options")]] == [first]


def test_a_reloaded_page_finds_its_run_and_its_settings(store, page, runs):
    page.settings = {**SMALL, "sigma": 1.5}
    page.send(Ids.TRAIN)
    run_id = page.view["run"]
    reloaded = Page(page.logic, page.session_id, page.token)
    reloaded.settings = dict(DEFAULTS)  # a new page's sidebar
    # The first answer names the run, makes Cancel live and restores the settings, and
    # sends no figure (the browser draws those for seconds); the next one shows the run.
    first = reloaded.send(Ids.DATASET_TOKEN)
    assert all(figure_of(first, panel) is no_update for panel in PANELS)
    assert first[(Ids.CANCEL, "disabled")] is False and reloaded.status(first).startswith("Starting")
    assert control_outputs(first)["sigma"] == 1.5 and reloaded.view["behind"] is True
    assert reloaded.view["restored"] is True
    reloaded.settings = {**SMALL, "sigma": 1.5}
    second = reloaded.send()
    assert reloaded.view["run"] == run_id and figure_of(second, Ids.DATA_VIEW) is not no_update
    assert control_outputs(second) == {}  # restored once
    assert runs.backend.started == [run_id]  # its run goes on


def test_a_page_building_a_runs_panels_says_so_until_an_epoch_is_drawn(store, page):
    run_id, _ = train_to_the_end(store, page)
    reloaded = Page(page.logic, page.session_id, page.token)
    flags = []
    for trigger in (Ids.DATASET_TOKEN, Ids.POLL, Ids.POLL, Ids.POLL):
        reloaded.send(trigger)
        flags.append((reloaded.view["behind"], reloaded.view["epoch"]))
    # The run named, the data with the run's map traces and the skeletons, then the
    # epoch: asked for at once, then not.
    assert flags == [(True, 0), (True, 0), (False, 5), (False, 5)]
    assert reloaded.view["data_grid"] == reloaded.view["grid"]


def test_a_store_out_of_reach_is_said_on_the_page_which_comes_back_with_it(tmp_path, session_id):
    with RedisServer(tmp_path / "redis", persist=True) as server:
        store = RedisStore(server.url)
        store.put_dataset(session_id, dataset_record("flat-token", "flat", "flat", cloud(600, 2), None, None, None,
                                                     "", "builtin"))
        page = Page(RunPage(Runs(store, RecordingBackend())), session_id, store.get_dataset(session_id)["token"])
        page.send(Ids.DATASET_TOKEN)
        server.stop()
        answer = page.send()
        assert page.status(answer).startswith("Unavailable Server unavailable: its store cannot be reached.")
        assert "127.0.0.1" not in page.status(answer) and answer[(Ids.CANCEL, "disabled")] is True
        assert answer[(Ids.VIEW, "data")]["poll_ms"] == POLL_BUSY_MS  # asks again soon
        server.start()  # with the snapshot it wrote as it stopped
        assert page.status(page.send()).startswith("Ready flat: 600 points in 2-D.")
        store.close()
