"""The body of a training job, run by the job backend in a process of its own.

``run_training`` needs no Dash: it waits its turn for a job slot, holds it for as long as
it trains, and writes the run's status and every epoch to the store, which is all the
web server reads. It stops on its own when its run has ended (cancelled, or replaced by a
newer run of its session: the store refuses the next epoch) and when the web server that
asked for it is gone, so a server that stops leaves no job behind.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager

import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from zsom_core import SOM

from .records import RunStatus
from .seams import Store
from .store import StoreUnavailable

# A slot outlives a few missed renewals: one Numba kernel call holds the GIL, so the
# renewing thread can lag by the length of the longest epoch phase.
SLOT_TTL_S = 20.0
SLOT_RENEW_S = 1.0
# How often a run waiting for a slot looks again.
QUEUE_POLL_S = 0.5
INTERRUPTED_MESSAGE = "the server stopped during this run"
# A store that cannot be reached (a Redis restarting) is waited for, an epoch held
# meanwhile, as long as the slot's lease lasts: past it the run counts as dead.
STORE_OUTAGE_S = SLOT_TTL_S
STORE_RETRY_S = 0.5
# Read by zsom_core.parallel each time it sizes its pool.
THREADS_VARIABLE = "ZSOM_NUM_THREADS"


def use_job_server(*modules: str) -> None:
    """Start training processes from a clean, single-threaded job server that has imported
    ``modules`` (and the engine) already.

    Dash's ``DiskcacheManager`` starts each job with ``multiprocess.Process``, by default a
    fork of the web server. The web server has threads that may hold locks (SQLite's among
    them) at the moment of a fork, which can leave a job hung before its first epoch. A
    forkserver is started here, before any thread, and every job is forked from it; it
    also loads the engine's kernels once (``job_process``), so jobs start training at once.
    Call it before the app serves, from the script that runs it, naming that script's own
    module (imported from the folder the server runs in): each job runs the script that
    started the server again before its target, as multiprocessing does for every start
    method but fork, and those imports cost a job about two seconds unless the job server
    holds them. (Preloading "__main__" does not: the forkserver is never told its path.)
    """
    import multiprocess
    from multiprocess import forkserver

    multiprocess.set_start_method("forkserver", force=True)
    multiprocess.set_forkserver_preload(["zsom_jobs.job_process", *modules])
    forkserver.ensure_running()


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


def run_training(store: Store, session_id: str, run_id: str, *, max_jobs: int, threads: int = 1,
                 max_waiting: int = 0, server_pid: int | None = None) -> RunStatus | None:
    """Train the run ``run_id`` of a session on ``threads`` threads; returns how it ended.

    The run waits in the queue while ``max_jobs`` others train (its record says its
    place), or ends "busy" when ``max_waiting`` runs wait already. Errors a user can fix
    end it "failed" with their message; anything else too, with its type, so the page
    never waits on a silent job. ``server_pid``: the web server's process, watched.
    """
    with engine_threads(threads):
        return _train(store, session_id, run_id, max_jobs, max_waiting, server_pid)


def _train(store: Store, session_id: str, run_id: str, max_jobs: int, max_waiting: int,
           server_pid: int | None) -> RunStatus | None:
    record = store.get_run(session_id, run_id)
    if record is None or record.finished:
        return None if record is None else record.status
    watch = _ServerWatch(store, session_id, run_id, server_pid)
    try:
        watch.start()
        if not _wait_for_slot(store, session_id, run_id, max_jobs, max_waiting):
            return _status(store, session_id, run_id)
        watch.holds_slot = True
        store.trim_runs(session_id, keep=run_id)
        dataset = store.get_dataset(session_id)
        if dataset is None or dataset["token"] != record.dataset_token:
            raise ValueError("the dataset changed since this run was requested; press Train again")
        # The settings were checked when the server accepted the run: the engine's keywords.
        som = SOM(**record.settings)
        started = time.perf_counter()
        running = store.update_run(session_id, run_id, status=RunStatus.RUNNING, started=time.time(), queue_place=0)
        if running is None or running.finished:
            return _status(store, session_id, run_id)
        bmu_sample = dataset["display"].get("bmu_index")
        history = {"mqe": [], "te": [], "sigma": [], "lr": []}
        for snapshot in som.iter_fit(dataset["points"], with_u_matrix=True):
            for name, value in (("mqe", snapshot.mqe), ("te", snapshot.topographic_error),
                                ("sigma", snapshot.sigma), ("lr", snapshot.learning_rate)):
                history[name].append(float(value))
            elapsed = time.perf_counter() - started
            bmus = som.bmus(dataset["points"][bmu_sample]) if bmu_sample is not None else None
            stored = _patiently(store.put_epoch, session_id, run_id, snapshot.epoch,
                                epoch_record(snapshot, elapsed, bmus),
                                {name: np.asarray(values, dtype=np.float32) for name, values in history.items()})
            if not stored:
                return _status(store, session_id, run_id)  # cancelled, or replaced by a newer run
        _patiently(store.update_run, session_id, run_id, elapsed=time.perf_counter() - started)
        _patiently(store.finish_run, session_id, run_id, RunStatus.DONE)
        return _status(store, session_id, run_id)
    except ValueError as error:
        store.finish_run(session_id, run_id, RunStatus.FAILED, str(error))
    except Exception as error:  # noqa: BLE001 - the user must see every failure, not a spinner
        store.finish_run(session_id, run_id, RunStatus.FAILED, f"{type(error).__name__}: {error}")
    finally:
        watch.stop()
        store.release_slot(run_id)
    return _status(store, session_id, run_id)


def _patiently(call, *args, **kwargs):
    """``call(*args, **kwargs)``, tried again while the store cannot be reached, for up
    to ``STORE_OUTAGE_S``."""
    deadline = time.monotonic() + STORE_OUTAGE_S
    while True:
        try:
            return call(*args, **kwargs)
        except StoreUnavailable:
            if time.monotonic() >= deadline:
                raise
            time.sleep(STORE_RETRY_S)


def _wait_for_slot(store: Store, session_id: str, run_id: str, max_jobs: int, max_waiting: int) -> bool:
    """Wait for a training slot, recording the run's place in the queue as it changes.

    True once the run holds a slot; False when it ended meanwhile (busy, or cancelled
    while it waited).
    """
    while True:
        state, number = store.take_slot(session_id, run_id, max_jobs, SLOT_TTL_S, max_waiting=max_waiting)
        if state == "running":
            return True
        if state == "busy":
            store.finish_run(session_id, run_id, RunStatus.BUSY, busy_message(number, store.runs_waiting()))
            return False
        record = store.update_run(session_id, run_id, queue_place=number)
        if record is None or record.finished:
            return False
        time.sleep(QUEUE_POLL_S)


def _status(store: Store, session_id: str, run_id: str) -> RunStatus | None:
    record = store.get_run(session_id, run_id)
    return None if record is None else record.status


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


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, killed but not reaped, counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class _ServerWatch:
    """A daemon thread that renews the run's slot while it trains, and ends the job when
    the web server it works for is gone (no one is left to show or stop the run)."""

    def __init__(self, store: Store, session_id: str, run_id: str, server_pid: int | None):
        self.store, self.session_id, self.run_id, self.server_pid = store, session_id, run_id, server_pid
        self.holds_slot = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="zsom-server-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2 * SLOT_RENEW_S)

    def _loop(self) -> None:
        while not self._stop.wait(SLOT_RENEW_S):
            if self.server_pid is not None and not pid_alive(self.server_pid):
                self.store.finish_run(self.session_id, self.run_id, RunStatus.INTERRUPTED, INTERRUPTED_MESSAGE)
                os._exit(0)
            if self.holds_slot:
                try:
                    self.store.renew_slot(self.run_id, SLOT_TTL_S)
                except StoreUnavailable:
                    pass  # renewed at the next beat, if the store is back by then
