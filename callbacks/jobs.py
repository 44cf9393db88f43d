"""The body of a training job, and how the server tells a live job from a dead one.

``run_training`` runs inside the process Dash's ``DiskcacheManager`` starts for each job.
It needs no Dash: ``report`` is Dash's ``set_progress`` in the app and a list's ``append``
in tests. It waits its turn for a job slot, holds it for as long as it trains, writes
every epoch to the store and reports only the epoch number. It stops on its own when the
web server that asked for it is gone, so a server that stops leaves no job behind.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from typing import Callable

import numpy as np
import psutil
from dash import DiskcacheManager
from threadpoolctl import threadpool_limits

from components.settings import SettingsError, parse_settings
from zsom_core import SOM

from .store import BUSY, CANCELLED, DONE, FAILED, FINISHED, INTERRUPTED, QUEUED, RUNNING, SessionStore

HEARTBEAT_S = 1.0
# A slot outlives a few missed heartbeats: one Numba kernel call holds the GIL, so the
# heartbeat thread can lag by the length of the longest epoch phase.
SLOT_TTL_S = 15.0
STALE_AFTER_S = 10.0
# A queued run whose process never started (or never got to its first write).
START_TIMEOUT_S = 30.0
# How often a run waiting for a slot looks again.
QUEUE_POLL_S = 0.5
DEAD_MESSAGE = "training process stopped unexpectedly"
INTERRUPTED_MESSAGE = "the server stopped during this run"
# Read by zsom_core.parallel each time it sizes its pool.
THREADS_VARIABLE = "ZSOM_NUM_THREADS"


def use_job_server() -> None:
    """Start training processes from a clean, single-threaded job server.

    Dash's ``DiskcacheManager`` starts each job with ``multiprocess.Process``, by default a
    fork of the web server. The web server has threads that may hold locks (SQLite's among
    them) at the moment of a fork, which can leave a job hung before its first epoch. A
    forkserver is started here, before any thread, and every job is forked from it; it
    also loads the engine's kernels once (``job_process``), so jobs start training at once.
    Call it before the app serves, from the script that runs it.
    """
    import multiprocess
    from multiprocess import forkserver

    multiprocess.set_start_method("forkserver", force=True)
    multiprocess.set_forkserver_preload(["__main__", "callbacks.job_process"])
    forkserver.ensure_running()


class JobManager(DiskcacheManager):
    """Dash's ``DiskcacheManager``, safe against a job process that ends while it looks.

    Dash checks that a job's pid exists and then asks psutil about it; a job that was
    killed and is reaped in between raised ``NoSuchProcess`` into the next Train of that
    page, which then failed with "process PID not found".
    """

    def terminate_job(self, job):
        try:
            super().terminate_job(job)
        except psutil.NoSuchProcess:
            pass  # it ended on its own: nothing left to stop

    def job_running(self, job):
        try:
            return super().job_running(job)
        except psutil.NoSuchProcess:
            return False


def busy_message(in_use: int, waiting: int = 0) -> str:
    runs = "training" if in_use == 1 else "trainings"
    queue = f" and {waiting} waiting" if waiting else ""
    return f"Server busy: {in_use} {runs} running{queue}, try again in a moment."


def threads_per_job(max_jobs: int, cpus: int | None = None) -> int:
    """Engine threads for one job: the cores shared out between ``max_jobs`` jobs.

    With as many jobs as cores (the default), each trains on one thread, and a busy
    server does not oversubscribe its cores; a server run for one job at a time gives
    it every core.
    """
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, max_jobs))


@contextmanager
def engine_threads(count: int):
    """Hold the engine's thread pool and BLAS to ``count`` threads meanwhile."""
    previous = os.environ.get(THREADS_VARIABLE)
    os.environ[THREADS_VARIABLE] = str(count)
    try:
        with threadpool_limits(limits=count, user_api="blas"):
            yield
    finally:
        if previous is None:
            os.environ.pop(THREADS_VARIABLE, None)
        else:
            os.environ[THREADS_VARIABLE] = previous


def run_training(store: SessionStore, session_id: str, run_id: str, *, report: Callable[[dict], None],
                 max_jobs: int, threads: int = 1, max_waiting: int = 0, server_pid: int | None = None) -> dict:
    """Train the run ``run_id`` of a session on ``threads`` threads; returns its final state.

    The run waits in the queue while ``max_jobs`` others train (reporting its place), or
    ends "busy" when ``max_waiting`` runs wait already. The state is a small dict (run,
    status, epoch, epochs, message) that the browser may hold. Errors a user can fix come
    back as a "failed" state with their message; anything else too, with its type, so the
    UI never waits on a silent job. ``server_pid``: the web server's process, watched.
    """
    with engine_threads(threads):
        return _train(store, session_id, run_id, report, max_jobs, max_waiting, server_pid)


def _train(store: SessionStore, session_id: str, run_id: str, report: Callable[[dict], None], max_jobs: int,
           max_waiting: int, server_pid: int | None) -> dict:
    meta = store.get_run(session_id, run_id)
    if meta is None:
        return _final(run_id, FAILED, message="this run is no longer on the server; press Train again")
    if meta["status"] != QUEUED:
        return _final(run_id, meta["status"], message=meta.get("message", ""))

    heartbeat = _Heartbeat(store, session_id, run_id, server_pid)
    epoch, epochs = 0, int(meta["settings"]["epochs"])
    try:
        store.update_run(session_id, run_id, pid=os.getpid())
        heartbeat.start()
        waited = _wait_for_slot(store, session_id, run_id, report, max_jobs, max_waiting)
        if waited is not None:
            return waited
        heartbeat.holds_slot = True
        store.trim_runs(session_id, keep=run_id)
        dataset = store.get_dataset(session_id)
        if dataset is None or dataset["token"] != meta["dataset_token"]:
            raise SettingsError("the dataset changed since this run was requested; press Train again")
        settings = parse_settings(meta["settings"])
        som = SOM(**settings.som_kwargs())
        started = time.perf_counter()
        store.update_run(session_id, run_id, status=RUNNING, started=time.time())
        bmu_sample = dataset["display"].get("bmu_index")
        history = {"mqe": [], "te": [], "sigma": [], "lr": []}
        for snapshot in som.iter_fit(dataset["points"], epochs, with_u_matrix=True):
            epoch = snapshot.epoch
            if _replaced(store, session_id, run_id):
                # Cancelled, or replaced by a newer run, before Dash stopped this process.
                meta = store.update_run(session_id, run_id, status=CANCELLED, epoch=epoch - 1)
                return _final(run_id, meta["status"] if meta else CANCELLED, epoch - 1, epochs)
            for name, value in (("mqe", snapshot.mqe), ("te", snapshot.topographic_error),
                                ("sigma", snapshot.sigma), ("lr", snapshot.learning_rate)):
                history[name].append(float(value))
            elapsed = time.perf_counter() - started
            bmus = som.bmus(dataset["points"][bmu_sample]) if bmu_sample is not None else None
            store.put_epoch(session_id, run_id, epoch, epoch_record(snapshot, elapsed, bmus),
                            {name: np.asarray(values, dtype=np.float32) for name, values in history.items()})
            store.beat(session_id, run_id)
            report({"run": run_id, "epoch": epoch})
        store.update_run(session_id, run_id, status=DONE, epoch=epoch, elapsed=time.perf_counter() - started)
        return _final(run_id, DONE, epoch, epochs)
    except ValueError as error:
        return _fail(store, session_id, run_id, str(error), epoch, epochs)
    except Exception as error:  # noqa: BLE001 - the user must see every failure, not a spinner
        return _fail(store, session_id, run_id, f"{type(error).__name__}: {error}", epoch, epochs)
    finally:
        heartbeat.stop()
        store.release_slot(run_id)


def _wait_for_slot(store: SessionStore, session_id: str, run_id: str, report: Callable[[dict], None],
                   max_jobs: int, max_waiting: int) -> dict | None:
    """Wait for a training slot, reporting the run's place in the queue as it changes.

    ``None`` once the run holds a slot; otherwise the run's final state (busy, or
    cancelled while it waited).
    """
    reported = None
    while True:
        state, number = store.take_slot(session_id, run_id, max_jobs, SLOT_TTL_S, max_waiting=max_waiting)
        if state == "running":
            return None
        if state == "busy":
            message = busy_message(number, store.runs_waiting())
            store.update_run(session_id, run_id, status=BUSY, message=message)
            return _final(run_id, BUSY, message=message)
        if _replaced(store, session_id, run_id):
            meta = store.update_run(session_id, run_id, status=CANCELLED, epoch=0)
            return _final(run_id, meta["status"] if meta else CANCELLED)
        if number != reported:
            report({"run": run_id, "epoch": 0, "queued": number})
            reported = number
        time.sleep(QUEUE_POLL_S)


def _replaced(store: SessionStore, session_id: str, run_id: str) -> bool:
    """True when the run was cancelled or a newer run of its session took its place."""
    return store.current_run_id(session_id) != run_id or _status(store, session_id, run_id) in FINISHED


def epoch_record(snapshot, elapsed: float, bmus: np.ndarray | None) -> dict:
    """What the store keeps of one epoch: float32 arrays over the units, flat in unit order."""
    m = snapshot.hits.size
    return {
        "epoch": int(snapshot.epoch),
        "epochs": int(snapshot.epochs),
        "weights": np.ascontiguousarray(snapshot.weights.reshape(m, -1), dtype=np.float32),
        "u_matrix": np.ascontiguousarray(snapshot.u_matrix.reshape(m), dtype=np.float32),
        "hits": np.ascontiguousarray(snapshot.hits.reshape(m), dtype=np.int32),
        "mqe": float(snapshot.mqe),
        "te": float(snapshot.topographic_error),
        "sigma": float(snapshot.sigma),
        "lr": float(snapshot.learning_rate),
        "elapsed": float(elapsed),
        "bmus": None if bmus is None else np.asarray(bmus, dtype=np.int32),
    }


def liveness(meta: dict | None, last_beat: float | None, pid_alive: Callable[[int], bool], now: float,
             server_id: str | None = None) -> str:
    """How a run looks from the server: "finished", "alive", "starting", "interrupted" or "dead".

    A run another server recorded (``server_id`` differs) and left unfinished was
    interrupted by that server's stop. A run is dead when its process is gone or has not
    beaten for ``STALE_AFTER_S``; a run whose process has not started within
    ``START_TIMEOUT_S`` is dead too.
    """
    if meta is None:
        return "dead"
    status = meta.get("status")
    if status in FINISHED:
        return "finished"
    if server_id is not None and meta.get("server") not in (None, server_id):
        return "interrupted"
    pid = meta.get("pid")
    if pid is None:
        return "dead" if now - meta.get("created", now) > START_TIMEOUT_S else "starting"
    if not pid_alive(pid):
        return "dead"
    beat = last_beat if last_beat is not None else meta.get("created", now)
    if now - beat > STALE_AFTER_S:
        return "dead"
    return "starting" if status == QUEUED else "alive"


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, killed but not reaped, counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _status(store: SessionStore, session_id: str, run_id: str) -> str | None:
    meta = store.get_run(session_id, run_id)
    return None if meta is None else meta.get("status")


def _fail(store, session_id, run_id, message, epoch, epochs) -> dict:
    meta = store.update_run(session_id, run_id, status=FAILED, message=message, epoch=epoch)
    status = meta["status"] if meta else FAILED
    return _final(run_id, status, epoch, epochs, message if status == FAILED else meta.get("message", ""))


def _final(run_id, status, epoch=0, epochs=0, message="") -> dict:
    return {"run": run_id, "status": status, "epoch": int(epoch), "epochs": int(epochs), "message": message}


class _Heartbeat:
    """A daemon thread that keeps the run's heartbeat (and its slot's lease) fresh, and
    ends the process when the web server it works for is gone."""

    def __init__(self, store: SessionStore, session_id: str, run_id: str, server_pid: int | None):
        self.store, self.session_id, self.run_id, self.server_pid = store, session_id, run_id, server_pid
        self.holds_slot = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="zsom-heartbeat", daemon=True)

    def start(self) -> None:
        self.store.beat(self.session_id, self.run_id)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * HEARTBEAT_S)

    def _loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            if self.server_pid is not None and not pid_alive(self.server_pid):
                self.store.update_run(self.session_id, self.run_id, status=INTERRUPTED, message=INTERRUPTED_MESSAGE)
                self.store.release_slot(self.run_id)
                os._exit(0)  # no one is left to show this run: stop training at once
            self.store.beat(self.session_id, self.run_id)
            if self.holds_slot:
                self.store.renew_slot(self.run_id, SLOT_TTL_S)
