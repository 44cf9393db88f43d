"""The job layer: the training job's body run in this process, the run lifecycle through
a job backend, and the liveness rules."""

import os
import subprocess
import sys
import time
import uuid

import numpy as np
import psutil
import pytest
from ui_testkit import cloud

from callbacks.data import dataset_record
from components.settings import DEFAULTS, parse_settings
from zsom_jobs import DEAD_MESSAGE, Liveness, NoDataset, RunRecord, Runs, RunStatus, liveness
from zsom_jobs.backend import DashManagerBackend, JobManager
from zsom_jobs.records import START_TIMEOUT_S
from zsom_jobs.store import DiskcacheStore
from zsom_jobs.training import (
    INTERRUPTED_MESSAGE,
    THREADS_VARIABLE,
    busy_message,
    engine_threads,
    run_training,
    threads_per_job,
)


def small_settings(**changes):
    return {**DEFAULTS, "auto_size": False, "auto_sigma": False,
            "width": 6, "height": 5, "epochs": 4, "sigma": 2.0, **changes}


class RecordingBackend:
    """A job backend that starts nothing: it records what the lifecycle asks of it, and
    says a job is alive until it is stopped (or ``ended`` names it)."""

    def __init__(self):
        self.started, self.stopped, self.ended = [], [], set()

    def start(self, session_id, run_id):
        self.started.append(run_id)
        return f"job-{run_id}"

    def stop(self, handle):
        self.stopped.append(handle)

    def alive(self, handle):
        return handle not in self.stopped and handle not in self.ended

    def queue_place(self, handle):
        return None


@pytest.fixture
def session(store, session_id):
    store.put_dataset(session_id, dataset_record("blob-token", "blob", "blob",
                                                 cloud(400, 3), None, None, None, "a blob", "builtin"))
    return session_id


@pytest.fixture
def backend():
    return RecordingBackend()


@pytest.fixture
def runs(store, backend):
    return Runs(store, backend)


def start(runs, session, **changes) -> RunRecord:
    settings = parse_settings(small_settings(**changes))
    return runs.start(session, settings.run_settings(), settings.schedule())


def train(store, session, run_id, **options):
    return run_training(store, session, run_id, **{"max_jobs": 1, **options})


# ---------------------------------------------------------------------- the training job


def test_a_run_stores_every_epoch_and_finishes(store, session, runs):
    record = start(runs, session)
    assert train(store, session, record.run, max_jobs=2) is RunStatus.DONE
    stored = store.get_epoch(session, record.run, 3)
    assert stored["weights"].dtype == np.float32 and stored["weights"].shape == (30, 3)
    assert stored["u_matrix"].shape == (30,) and stored["hits"].sum() == 400
    assert store.epochs_done(session, record.run) == 4
    final = store.get_run(session, record.run)
    assert final.status is RunStatus.DONE and final.epoch == 4 and final.elapsed > 0
    assert store.slots_in_use() == 0


def test_two_dimensional_runs_store_the_bmus_of_the_line_sample(store, session_id, runs):
    store.put_dataset(session_id, dataset_record("flat-token", "flat", "flat",
                                                 cloud(500, 2), None, None, None, "", "builtin"))
    record = start(runs, session_id, epochs=1)
    train(store, session_id, record.run)
    bmus = store.get_epoch(session_id, record.run, 1)["bmus"]
    assert bmus.shape == (300,) and bmus.max() < 30


def test_a_table_with_gaps_trains_on_them_as_they_are(store, session_id, runs):
    points = cloud(400, 5).astype(np.float64)
    points[np.random.default_rng(3).random(points.shape) < 0.1] = np.nan
    points[np.isnan(points).all(axis=1), 0] = 0.0
    store.put_dataset(session_id, dataset_record("gaps-token", "gaps", "gaps", points, None, None, None, "", "upload"))
    assert np.isnan(store.get_dataset(session_id)["points"]).sum() == np.isnan(points).sum()
    record = start(runs, session_id)
    assert train(store, session_id, record.run) is RunStatus.DONE
    stored = store.get_epoch(session_id, record.run, 4)
    assert np.isfinite(stored["weights"]).all() and stored["hits"].sum() == 400
    assert np.isfinite([stored["mqe"], stored["te"]]).all() and np.isfinite(stored["u_matrix"]).all()


def fill_slots(store, count, ttl=60.0):
    held = [uuid.uuid4().hex for _ in range(count)]
    for run in held:
        store.take_slot(str(uuid.uuid4()), run, max_jobs=count, ttl=ttl)
    return held


def test_a_full_server_with_a_full_queue_answers_busy(store, session, runs):
    fill_slots(store, 2)
    record = start(runs, session)
    assert train(store, session, record.run, max_jobs=2, max_waiting=0) is RunStatus.BUSY
    final = store.get_run(session, record.run)
    assert final.message == "Server busy: 2 trainings running, try again in a moment."


def test_a_run_waits_its_turn_and_records_its_place(store, session, runs, monkeypatch):
    monkeypatch.setattr("zsom_jobs.training.QUEUE_POLL_S", 0.01)
    (holder,) = fill_slots(store, 1)
    record = start(runs, session, epochs=2)
    places = []
    real_update = store.update_run

    def update_run(session_id, run_id, **fields):
        if "queue_place" in fields and fields["queue_place"]:
            places.append(fields["queue_place"])
            store.release_slot(holder)  # the training ahead ends
        return real_update(session_id, run_id, **fields)

    monkeypatch.setattr(store, "update_run", update_run)
    assert train(store, session, record.run, max_waiting=1) is RunStatus.DONE
    assert places == [1]
    assert store.get_run(session, record.run).queue_place == 0
    assert store.slots_in_use() == 0 and store.runs_waiting() == 0


def test_a_run_cancelled_while_it_waits_leaves_the_queue(store, session, runs, monkeypatch):
    monkeypatch.setattr("zsom_jobs.training.QUEUE_POLL_S", 0.01)
    fill_slots(store, 1)
    record = start(runs, session)
    real_take = store.take_slot

    def take_slot(*args, **kwargs):
        answer = real_take(*args, **kwargs)
        if answer[0] == "queued":
            runs.cancel(session)  # the user presses Cancel while the run waits
        return answer

    monkeypatch.setattr(store, "take_slot", take_slot)
    assert train(store, session, record.run, max_waiting=1) is RunStatus.CANCELLED
    assert store.get_run(session, record.run).epoch == 0
    assert store.runs_waiting() == 0


def test_an_engine_error_ends_the_run_failed_with_its_message(store, session, runs):
    # Settings the server accepts but the engine refuses (a damaged record here) must
    # reach the user as a message, not a silent job.
    record = start(runs, session)
    store.update_run(session, record.run, settings={**record.settings, "neighborhood": "cosmic"})
    assert train(store, session, record.run) is RunStatus.FAILED
    assert "unknown neighborhood 'cosmic'" in store.get_run(session, record.run).message
    assert store.slots_in_use() == 0


def test_a_changed_dataset_fails_the_run(store, session, runs):
    record = start(runs, session)
    store.put_dataset(session, dataset_record("other-token", "other", "other",
                                                 cloud(50, 3), None, None, None, "", "builtin"))
    assert train(store, session, record.run) is RunStatus.FAILED
    assert "dataset changed" in store.get_run(session, record.run).message


def test_a_replaced_run_stops_at_its_next_epoch(store, session, runs, monkeypatch):
    record = start(runs, session, epochs=20)
    real_put = store.put_epoch
    newer = []

    def put_epoch(session_id, run_id, epoch, *args):
        if epoch == 3 and not newer:
            newer.append(start(runs, session))  # a newer request, while epoch 3 is stored
        return real_put(session_id, run_id, epoch, *args)

    monkeypatch.setattr(store, "put_epoch", put_epoch)
    assert train(store, session, record.run) is RunStatus.CANCELLED
    assert store.epochs_done(session, record.run) == 2  # epoch 3 came after the cancel: refused
    assert store.current_run_id(session) == newer[0].run


def test_an_unknown_or_finished_run_trains_nothing(store, session, runs):
    assert train(store, session, "nope") is None
    record = start(runs, session)
    runs.cancel(session)
    assert train(store, session, record.run) is RunStatus.CANCELLED
    assert store.epochs_done(session, record.run) == 0


# ---------------------------------------------------------------------- the lifecycle


def test_start_records_the_plan_and_starts_a_job(store, session, runs, backend):
    record = start(runs, session, epochs=3, sigma=2.5)
    assert record.status is RunStatus.QUEUED and record.job == f"job-{record.run}"
    assert backend.started == [record.run]
    sigmas, _ = record.schedule
    assert len(sigmas) == 3 and sigmas[0] == 2.5
    assert record.dataset_token == store.get_dataset(session)["token"]
    assert store.get_run(session, record.run) == record


def test_start_without_data_is_refused(runs):
    with pytest.raises(NoDataset, match="no dataset loaded"):
        start(runs, str(uuid.uuid4()))


def test_a_new_run_cancels_the_one_it_replaces_and_stops_its_job(store, session, runs, backend):
    first = start(runs, session)
    second = start(runs, session)
    assert store.get_run(session, first.run).status is RunStatus.CANCELLED
    assert backend.stopped == [first.job]
    assert store.current_run_id(session) == second.run
    assert [record.run for record in store.runs(session) if not record.finished] == [second.run]


def test_cancel_records_the_run_cancelled_before_it_stops_the_job(store, session, runs, backend):
    record = start(runs, session)
    store.take_slot(session, record.run, max_jobs=1, ttl=60)
    store.update_run(session, record.run, status=RunStatus.RUNNING)
    store.put_epoch(session, record.run, 1, {"epoch": 1}, {"mqe": [1.0], "te": [0.0], "sigma": [1.0], "lr": [0.1]})
    seen = []
    backend.stop = lambda handle: seen.append(store.get_run(session, record.run).status)
    ended = runs.cancel(session)
    assert ended.status is RunStatus.CANCELLED and ended.epoch == 1
    assert seen == [RunStatus.CANCELLED]
    assert store.slots_in_use() == 0
    assert runs.cancel(session) is None  # nothing left to cancel


def test_a_job_that_fails_to_start_fails_its_run(store, session, backend):
    def refuse(session_id, run_id):
        raise OSError("no processes left")

    backend.start = refuse
    record = start(Runs(store, backend), session)
    assert record.status is RunStatus.FAILED and "no processes left" in record.message


def test_observe_reports_a_dead_job_once_and_for_all(store, session, runs, backend):
    record = start(runs, session)
    store.update_run(session, record.run, status=RunStatus.RUNNING)
    assert runs.observe(session, record.run)[1] is Liveness.ALIVE
    backend.ended.add(record.job)  # the process died without a word
    observed, state = runs.observe(session, record.run)
    assert state is Liveness.FINISHED
    assert observed.status is RunStatus.FAILED and observed.message == DEAD_MESSAGE
    assert store.slots_in_use() == 0


def test_observe_keeps_the_ending_a_job_wrote_before_it_exited(store, session, runs, backend, monkeypatch):
    record = start(runs, session)
    store.update_run(session, record.run, status=RunStatus.RUNNING)

    def alive_then_done(handle):
        store.finish_run(session, record.run, RunStatus.DONE)  # the job ends between two looks
        return False

    monkeypatch.setattr(backend, "alive", alive_then_done)
    observed, state = runs.observe(session, record.run)
    assert state is Liveness.FINISHED and observed.status is RunStatus.DONE


def test_observe_reports_a_run_another_server_left_unfinished(tmp_path, session_id, backend):
    before = DiskcacheStore(tmp_path / "s", server_id="before")
    before.put_dataset(session_id, dataset_record("blob-token", "blob", "blob",
                                                 cloud(100, 3), None, None, None, "", "builtin"))
    record = start(Runs(before, backend), session_id)
    before.update_run(session_id, record.run, status=RunStatus.RUNNING)
    before.put_epoch(session_id, record.run, 1, {"epoch": 1}, {"mqe": [1.0]})
    after = DiskcacheStore(tmp_path / "s", server_id="after")  # the server restarted
    observed, state = Runs(after, backend).observe(session_id, record.run)
    assert state is Liveness.FINISHED
    assert observed.status is RunStatus.INTERRUPTED and observed.message == INTERRUPTED_MESSAGE
    assert observed.epoch == 1


# ---------------------------------------------------------------------- the real backend


def test_dash_manager_backend_runs_stops_and_observes_a_process(tmp_path):
    import diskcache

    backend = DashManagerBackend(JobManager(diskcache.Cache(str(tmp_path / "jobs"))), _sleep_job)
    handle = backend.start(str(uuid.uuid4()), "run")
    assert backend.alive(handle) and psutil.Process(int(handle)).is_running()
    backend.stop(handle)
    deadline = time.monotonic() + 10
    while backend.alive(handle) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the process table: no event says a process ended
    assert not backend.alive(handle)


def _sleep_job(session_id, run_id):
    time.sleep(60)


def test_the_job_manager_shrugs_off_a_job_that_ends_while_it_looks(tmp_path, monkeypatch):
    import diskcache

    gone = psutil.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    manager = JobManager(diskcache.Cache(str(tmp_path / "jobs")))
    # Dash saw the pid a moment before the process was reaped.
    monkeypatch.setattr(psutil, "pid_exists", lambda pid: True)
    manager.terminate_job(gone.pid)
    assert manager.job_running(gone.pid) is False


# ---------------------------------------------------------------------- liveness


def record(**changes) -> RunRecord:
    fields = dict(run="r", number=1, status=RunStatus.QUEUED, settings={"epochs": 3}, dataset_token="t",
                  created=0.0, schedule=((1.0,), (0.1,)), server="this")
    return RunRecord(**{**fields, **changes})


class TestLiveness:
    def test_finished_runs(self):
        for status in (RunStatus.DONE, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.BUSY, RunStatus.INTERRUPTED):
            assert liveness(record(status=status), job_alive=True, server_id="this", now=0) is Liveness.FINISHED

    def test_a_missing_run_is_dead(self):
        assert liveness(None, job_alive=None, server_id="this", now=0) is Liveness.DEAD

    def test_queued_runs_wait_for_their_job_to_start(self):
        assert liveness(record(), job_alive=None, server_id="this", now=START_TIMEOUT_S - 1) is Liveness.STARTING
        assert liveness(record(), job_alive=None, server_id="this", now=START_TIMEOUT_S + 1) is Liveness.DEAD

    def test_a_run_with_a_job_lives_as_long_as_its_job(self):
        assert liveness(record(job="1"), job_alive=True, server_id="this", now=1e6) is Liveness.STARTING
        running = record(job="1", status=RunStatus.RUNNING)
        assert liveness(running, job_alive=True, server_id="this", now=1e6) is Liveness.ALIVE
        assert liveness(running, job_alive=False, server_id="this", now=1) is Liveness.DEAD

    def test_an_unfinished_run_of_another_server_was_interrupted(self):
        running = record(job="1", status=RunStatus.RUNNING, server="old")
        assert liveness(running, job_alive=True, server_id="new", now=1) is Liveness.INTERRUPTED
        assert liveness(running, job_alive=True, server_id="old", now=1) is Liveness.ALIVE


def test_a_record_round_trips_through_the_store_format():
    original = record(job="42", message="hi", epoch=2)
    assert RunRecord.from_stored(original.to_stored()) == original


@pytest.mark.parametrize("damage", [
    {"status": "sleeping"}, {"number": "one"}, {"settings": None}, {"created": float("nan")}, {"epoch": -1},
    {"schedule": [[1.0]]}, {"run": ""},
])
def test_a_damaged_record_is_refused_when_read(damage):
    from zsom_jobs import RecordError

    with pytest.raises(RecordError):
        RunRecord.from_stored({**record().to_stored(), **damage})


def test_the_store_reads_a_damaged_record_as_absent(store, session, runs):
    record_ = start(runs, session)
    store.cache.set(store.key(session, "run", record_.run), {"status": "weird"})
    assert store.get_run(session, record_.run) is None


# ---------------------------------------------------------------------- threads and messages


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


# A script that starts the job server as app.py does, and one job from it; the module it
# imports logs each process that executes it.
JOB_SERVER_SCRIPT = """
import sys

import marker

if __name__ == "__main__":
    import multiprocess
    from zsom_jobs.training import use_job_server

    use_job_server(*sys.argv[1:])
    job = multiprocess.Process(target=marker.job)
    job.start()
    job.join()
"""
MARKER_MODULE = """
import os

with open(os.environ["MARKER_LOG"], "a") as log:
    log.write(f"imported {os.getpid()}\\n")


def job():
    with open(os.environ["MARKER_LOG"], "a") as log:
        log.write(f"job {os.getpid()}\\n")
"""


@pytest.mark.parametrize("preloaded", [True, False], ids=["preloaded", "not preloaded"])
def test_a_job_finds_the_servers_modules_imported_in_the_job_server(tmp_path, preloaded):
    # Each job runs the script that started the server again before its target; the
    # modules that script imports are the job server's already, when it was told them.
    # The job server imports from the folder it was started in, as app.py's does.
    (tmp_path / "serve.py").write_text(JOB_SERVER_SCRIPT)
    (tmp_path / "marker.py").write_text(MARKER_MODULE)
    log = tmp_path / "marker.log"
    subprocess.run([sys.executable, str(tmp_path / "serve.py"), *(["marker"] if preloaded else [])],
                   cwd=tmp_path, env={**os.environ, "MARKER_LOG": str(log)}, check=True, timeout=120)
    lines = [line.split() for line in log.read_text().splitlines()]
    importers = {int(pid) for what, pid in lines if what == "imported"}
    (job_pid,) = [int(pid) for what, pid in lines if what == "job"]
    assert os.getpid() not in importers and len(importers) == 2  # the script's process and one more
    assert (job_pid in importers) is not preloaded
