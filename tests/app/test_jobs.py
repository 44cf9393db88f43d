"""The training job's body, run in this process, and the liveness rules."""

import os
import uuid

import numpy as np
import pytest
from dash import no_update
from dash.exceptions import PreventUpdate
from ui_testkit import cloud

from callbacks.data import dataset_record
from callbacks.jobs import (
    DEAD_MESSAGE,
    STALE_AFTER_S,
    START_TIMEOUT_S,
    THREADS_VARIABLE,
    busy_message,
    engine_threads,
    liveness,
    run_training,
    threads_per_job,
)
from callbacks.store import BUSY, CANCELLED, DONE, FAILED, INTERRUPTED, RUNNING, SessionStore
from callbacks.training import CANCEL_SETTLE_S, cancel_current_run, mark_dead_if_stopped, start_run, watchdog_update
from components.settings import DEFAULTS, SettingsError


def small_settings(**changes):
    return {**DEFAULTS, "width": 6, "height": 5, "epochs": 4, "sigma": 2.0, **changes}


@pytest.fixture
def session(store, session_id):
    points = cloud(400, 3)
    store.put_dataset(session_id, dataset_record("blob", "blob", points, None, None, None, "a blob", "builtin"))
    return session_id


def test_a_run_streams_every_epoch_and_finishes(store, session):
    run_id, _ = start_run(store, session, small_settings())
    reports = []
    final = run_training(store, session, run_id, report=reports.append, max_jobs=2)
    assert final == {"run": run_id, "status": DONE, "epoch": 4, "epochs": 4, "message": ""}
    assert reports == [{"run": run_id, "epoch": k} for k in range(1, 5)]
    record = store.get_epoch(session, run_id, 3)
    assert record["weights"].dtype == np.float32 and record["weights"].shape == (30, 3)
    assert record["u_matrix"].shape == (30,) and record["hits"].sum() == 400
    assert len(store.get_history(session, run_id)["mqe"]) == 4
    assert store.get_run(session, run_id)["status"] == DONE
    assert store.slots_in_use() == 0


def test_two_dimensional_runs_store_the_bmus_of_the_line_sample(store, session_id):
    store.put_dataset(session_id, dataset_record("flat", "flat", cloud(500, 2), None, None, None, "", "builtin"))
    run_id, _ = start_run(store, session_id, small_settings(epochs=1))
    run_training(store, session_id, run_id, report=lambda _: None, max_jobs=1)
    bmus = store.get_epoch(session_id, run_id, 1)["bmus"]
    assert bmus.shape == (300,) and bmus.max() < 30


def fill_slots(store, count, ttl=60.0):
    runs = [uuid.uuid4().hex for _ in range(count)]
    for run in runs:
        store.take_slot(str(uuid.uuid4()), run, max_jobs=count, ttl=ttl)
    return runs


def test_a_full_server_with_a_full_queue_answers_busy(store, session):
    fill_slots(store, 2)
    run_id, _ = start_run(store, session, small_settings())
    final = run_training(store, session, run_id, report=lambda _: None, max_jobs=2, max_waiting=0)
    assert final["status"] == BUSY
    assert final["message"] == "Server busy: 2 trainings running, try again in a moment."
    assert store.get_run(session, run_id)["status"] == BUSY


def test_a_run_waits_its_turn_and_reports_its_place(store, session, monkeypatch):
    monkeypatch.setattr("callbacks.jobs.QUEUE_POLL_S", 0.01)
    (holder,) = fill_slots(store, 1)
    run_id, _ = start_run(store, session, small_settings(epochs=2))
    reports = []

    def report(progress):
        reports.append(progress)
        if progress.get("queued"):
            assert store.get_run(session, run_id)["status"] == "queued"
            store.release_slot(holder)  # the training ahead ends

    final = run_training(store, session, run_id, report=report, max_jobs=1, max_waiting=1)
    assert final["status"] == DONE
    assert reports[0] == {"run": run_id, "epoch": 0, "queued": 1}
    assert [report["epoch"] for report in reports[1:]] == [1, 2]
    assert store.slots_in_use() == 0 and store.runs_waiting() == 0


def test_a_run_cancelled_while_it_waits_leaves_the_queue(store, session, monkeypatch):
    monkeypatch.setattr("callbacks.jobs.QUEUE_POLL_S", 0.01)
    fill_slots(store, 1)
    run_id, _ = start_run(store, session, small_settings())
    final = run_training(store, session, run_id, report=lambda _: cancel_current_run(store, session),
                         max_jobs=1, max_waiting=1)
    assert final["status"] == CANCELLED and final["epoch"] == 0
    assert store.runs_waiting() == 0


def test_an_engine_error_comes_back_as_a_failed_state(store, session):
    # Settings the server accepts but the engine refuses (a broken record here) must
    # reach the user as a message, not a silent job.
    run_id, _ = start_run(store, session, small_settings())
    meta = store.get_run(session, run_id)
    store.update_run(session, run_id, settings={**meta["settings"], "neighborhood": "cosmic"}, force=True)
    final = run_training(store, session, run_id, report=lambda _: None, max_jobs=1)
    assert final["status"] == FAILED and "unknown neighborhood 'cosmic'" in final["message"]
    assert store.slots_in_use() == 0


def test_a_changed_dataset_fails_the_run(store, session):
    run_id, _ = start_run(store, session, small_settings())
    store.put_dataset(session, dataset_record("other", "other", cloud(50, 3), None, None, None, "", "builtin"))
    final = run_training(store, session, run_id, report=lambda _: None, max_jobs=1)
    assert final["status"] == FAILED and "dataset changed" in final["message"]


def test_a_replaced_run_stops_itself(store, session):
    run_id, _ = start_run(store, session, small_settings(epochs=20))
    reports = []

    def report(progress):
        reports.append(progress)
        if len(reports) == 2:
            start_run(store, session, small_settings())  # a newer request

    final = run_training(store, session, run_id, report=report, max_jobs=1)
    assert final["status"] == CANCELLED and len(reports) == 2


def test_an_unknown_run_fails_with_a_message(store, session):
    final = run_training(store, session, "nope", report=lambda _: None, max_jobs=1)
    assert final["status"] == FAILED and "press Train again" in final["message"]


def test_start_run_refuses_bad_settings_and_missing_data(store, session, session_id):
    with pytest.raises(SettingsError, match="epochs must be between"):
        start_run(store, session, small_settings(epochs=5000))
    with pytest.raises(SettingsError, match="no dataset loaded"):
        start_run(store, str(uuid.uuid4()), small_settings())


def test_start_run_records_the_plan(store, session):
    run_id, line = start_run(store, session, small_settings(epochs=3, sigma=2.5))
    meta = store.get_run(session, run_id)
    sigmas, rates = meta["schedule"]
    assert len(sigmas) == 3 and sigmas[0] == 2.5
    assert meta["dataset_token"] == store.get_dataset(session)["token"]
    assert "sigma0 2.5" in line


def test_cancel_marks_the_current_run_and_frees_its_slot(store, session):
    run_id, _ = start_run(store, session, small_settings())
    store.take_slot(session, run_id, max_jobs=1, ttl=60)
    store.update_run(session, run_id, status=RUNNING)
    store.put_epoch(session, run_id, 1, {"epoch": 1}, {"mqe": [1.0], "te": [0.0], "sigma": [1.0], "lr": [0.1]})
    meta = cancel_current_run(store, session)
    assert meta["status"] == CANCELLED and meta["epoch"] == 1
    assert store.slots_in_use() == 0


def test_a_dead_process_is_reported_once_its_beat_is_old(store, session, monkeypatch):
    run_id, _ = start_run(store, session, small_settings())
    store.update_run(session, run_id, status=RUNNING, pid=2**22 + 12345, started=100.0)
    store.beat(session, run_id, now=100.0)
    store.take_slot(session, run_id, max_jobs=1, ttl=60, now=100.0)
    # Just killed (a cancel marks it within this grace): not yet reported.
    assert mark_dead_if_stopped(store, session, now=101.0)[0] == "alive"
    state, meta = mark_dead_if_stopped(store, session, now=103.0)
    assert state == "dead" and meta["status"] == FAILED and meta["message"] == DEAD_MESSAGE
    assert store.slots_in_use(now=103.0) == 0


def test_the_watchdog_waits_on_a_live_run_and_reports_a_dead_one(store, session):
    run_id, _ = start_run(store, session, small_settings())
    store.update_run(session, run_id, status=RUNNING, pid=os.getpid(), started=100.0)
    store.beat(session, run_id, now=100.0)
    with pytest.raises(PreventUpdate):
        watchdog_update(store, session, now=101.0)
    disabled, status, progress, cancel_off = watchdog_update(store, session, now=100.0 + 60)  # no beat for a minute
    assert disabled is True and DEAD_MESSAGE in str(status) and progress is no_update and cancel_off is True


def test_the_watchdog_reports_a_run_another_server_left_unfinished(tmp_path, session_id):
    before = SessionStore(tmp_path / "s", server_id="before")
    before.put_dataset(session_id, dataset_record("blob", "blob", cloud(100, 3), None, None, None, "", "builtin"))
    run_id, _ = start_run(before, session_id, small_settings())
    before.update_run(session_id, run_id, status=RUNNING, pid=os.getpid())
    before.put_epoch(session_id, run_id, 1, {"epoch": 1}, {"mqe": [1.0]})
    before.beat(session_id, run_id)
    after = SessionStore(tmp_path / "s", server_id="after")  # the server restarted
    disabled, status, _, _ = watchdog_update(after, session_id)
    assert disabled is True and "Interrupted: the server stopped during this run (after epoch 1)" in str(status)
    assert after.get_run(session_id, run_id)["status"] == INTERRUPTED
    assert watchdog_update(after, session_id)[1] is not no_update  # said again to a page that looks later


def test_the_watchdog_lets_a_reloaded_page_follow_its_run(store, session):
    run_id, _ = start_run(store, session, small_settings())
    store.update_run(session, run_id, status=RUNNING, pid=os.getpid())
    store.put_epoch(session, run_id, 1, {"epoch": 1}, {"mqe": [1.0], "te": [0.0], "sigma": [1.0], "lr": [0.1]})
    store.beat(session, run_id)
    with pytest.raises(PreventUpdate):
        watchdog_update(store, session, {"run": run_id})  # the job's own page hears from the job
    assert watchdog_update(store, session, {"run": run_id, "detached": True}) == (
        False, no_update, {"run": run_id, "epoch": 1}, no_update)
    store.update_run(session, run_id, status=DONE)
    assert watchdog_update(store, session, {"run": run_id, "detached": True}) == (
        True, no_update, {"run": run_id, "epoch": 1}, no_update)


def test_the_watchdog_shows_a_finished_run_to_a_page_that_missed_its_end(store, session):
    run_id, _ = start_run(store, session, small_settings())
    run_training(store, session, run_id, report=lambda _: None, max_jobs=1)
    # The page drew epoch 2 of 4, then heard nothing more from the job.
    assert watchdog_update(store, session, {"run": run_id, "latest": 2}) == (
        True, no_update, {"run": run_id, "epoch": 4}, no_update)
    assert watchdog_update(store, session, {"run": run_id, "latest": 4})[2] is no_update


def test_the_watchdog_repeats_a_cancel_until_the_stream_settles(store, session):
    start_run(store, session, small_settings())
    meta = cancel_current_run(store, session)
    disabled, status, _, cancel_off = watchdog_update(store, session, now=meta["finished_at"] + 0.5)
    assert disabled is False and "Cancelled" in str(status) and cancel_off is True
    disabled, _, _, _ = watchdog_update(store, session, now=meta["finished_at"] + CANCEL_SETTLE_S + 0.1)
    assert disabled is True


def test_the_watchdog_stops_after_a_finished_run(store, session):
    run_id, _ = start_run(store, session, small_settings())
    run_training(store, session, run_id, report=lambda _: None, max_jobs=1)
    assert watchdog_update(store, session) == (True, no_update, no_update, no_update)


class TestLiveness:
    def alive(self, pid):
        return True

    def gone(self, pid):
        return False

    def test_finished_runs(self):
        assert liveness({"status": DONE}, None, self.alive, now=0) == "finished"

    def test_missing_run_is_dead(self):
        assert liveness(None, None, self.alive, now=0) == "dead"

    def test_queued_runs_wait_for_their_process_to_start(self):
        meta = {"status": "queued", "created": 0}
        assert liveness(meta, None, self.alive, now=START_TIMEOUT_S - 1) == "starting"
        assert liveness(meta, None, self.alive, now=START_TIMEOUT_S + 1) == "dead"

    def test_a_run_waiting_in_the_queue_is_starting_while_it_beats(self):
        meta = {"status": "queued", "created": 0, "pid": 1}
        assert liveness(meta, START_TIMEOUT_S * 3, self.alive, now=START_TIMEOUT_S * 3 + 1) == "starting"
        assert liveness(meta, START_TIMEOUT_S * 3, self.gone, now=START_TIMEOUT_S * 3 + 1) == "dead"

    def test_an_unfinished_run_of_another_server_was_interrupted(self):
        meta = {"status": RUNNING, "pid": 1, "server": "old"}
        assert liveness(meta, 0.0, self.alive, now=1, server_id="new") == "interrupted"
        assert liveness(meta, 0.0, self.alive, now=1, server_id="old") == "alive"
        assert liveness({**meta, "status": DONE}, 0.0, self.alive, now=1, server_id="new") == "finished"

    def test_running_needs_a_process_and_a_recent_beat(self):
        meta = {"status": RUNNING, "pid": 1, "started": 0}
        assert liveness(meta, 10.0, self.alive, now=11) == "alive"
        assert liveness(meta, 10.0, self.gone, now=11) == "dead"
        assert liveness(meta, 10.0, self.alive, now=10 + STALE_AFTER_S + 1) == "dead"


def test_the_cores_are_shared_out_between_jobs():
    assert threads_per_job(max_jobs=2, cpus=2) == 1
    assert threads_per_job(max_jobs=1, cpus=8) == 8
    assert threads_per_job(max_jobs=16, cpus=4) == 1


def test_engine_threads_are_restored(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    with engine_threads(3):
        assert os.environ[THREADS_VARIABLE] == "3"
    assert THREADS_VARIABLE not in os.environ


def test_busy_message_counts_trainings():
    assert busy_message(1) == "Server busy: 1 training running, try again in a moment."
    assert busy_message(2, 8) == "Server busy: 2 trainings running and 8 waiting, try again in a moment."


def test_the_job_manager_shrugs_off_a_job_that_ends_while_it_looks(tmp_path, monkeypatch):
    import diskcache
    import psutil

    from callbacks.jobs import JobManager

    gone = psutil.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    manager = JobManager(diskcache.Cache(str(tmp_path / "jobs")))
    # Dash saw the pid a moment before the process was reaped.
    monkeypatch.setattr(psutil, "pid_exists", lambda pid: True)
    manager.terminate_job(gone.pid)
    assert manager.job_running(gone.pid) is False
