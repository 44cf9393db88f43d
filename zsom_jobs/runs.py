"""The run lifecycle as a web server drives it: start, cancel and observe a session's run.

Every decision is written to the store before the job backend acts on it: a run is
recorded cancelled before its job is stopped, and a new run cancels the one it replaces
in the same transaction. So an observer never sees a run whose job is gone without the
run saying why, and no timer has to wait out a stop.
"""

from __future__ import annotations

import secrets
import threading
import time

from .records import Liveness, RunRecord, RunStatus, liveness
from .seams import JobBackend, ServerBusy, Store
from .training import INTERRUPTED_MESSAGE

DEAD_MESSAGE = "training process stopped unexpectedly"
LOCK_STRIPES = 64


class NoDataset(ValueError):
    """A run was asked for before the session loaded a dataset."""


class Runs:
    """Starts, cancels and observes runs through a store and a job backend."""

    def __init__(self, store: Store, backend: JobBackend):
        self.store = store
        self.backend = backend
        # One start or cancel at a time per session in this server, so that a run's job
        # is recorded before the next request of its session can replace it and stop it:
        # a session never has two jobs, even for a moment. Sessions share a fixed set of
        # locks, so that the set does not grow with every session ever seen.
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]

    def start(self, session_id: str, settings: dict, schedule, extra: dict | None = None,
              now: float | None = None) -> RunRecord:
        """Record a run of ``settings`` (the engine's keywords and "epochs", already checked)
        on the session's dataset and start its job; the session's unfinished run, if any,
        is cancelled and its job stopped first. ``extra`` is kept with the record."""
        with self._lock(session_id):
            return self._start(session_id, settings, schedule, extra, now)

    def _start(self, session_id: str, settings: dict, schedule, extra: dict | None, now: float | None) -> RunRecord:
        dataset = self.store.get_dataset(session_id)
        if dataset is None:
            raise NoDataset("no dataset loaded yet: choose one or upload a mesh first")
        run_id = secrets.token_urlsafe(12)
        record, replaced = self.store.new_run(session_id, run_id, settings=settings, dataset_token=dataset["token"],
                                              schedule=schedule, extra=extra, now=now)
        if replaced is not None and replaced.job is not None:
            self.backend.stop(replaced.job)
        try:
            handle = self.backend.start(session_id, run_id)
        except ServerBusy as busy:
            self.store.finish_run(session_id, run_id, RunStatus.BUSY, str(busy))
            return self.store.get_run(session_id, run_id) or record
        except Exception as error:  # noqa: BLE001 - shown to the user as the run's failure
            self.store.finish_run(session_id, run_id, RunStatus.FAILED, f"the training job could not start: {error}")
            return self.store.get_run(session_id, run_id) or record
        return self.store.update_run(session_id, run_id, job=handle) or record

    def cancel(self, session_id: str) -> RunRecord | None:
        """Cancel the session's unfinished run; returns its record, or None when there was none."""
        with self._lock(session_id):
            ended = self.store.finish_run(session_id, self.store.current_run_id(session_id), RunStatus.CANCELLED)
            if ended is not None and ended.job is not None:
                self.backend.stop(ended.job)
            return ended

    def _lock(self, session_id: str) -> threading.Lock:
        return self._locks[hash(session_id) % LOCK_STRIPES]

    def observe(self, session_id: str, run_id: str, now: float | None = None) -> tuple[RunRecord | None, Liveness]:
        """The run's record and liveness; a run found dead or interrupted is recorded so
        (with a message for the user) and returned finished."""
        record = self.store.get_run(session_id, run_id)
        job_alive = None if record is None or record.finished or record.job is None else self.backend.alive(record.job)
        state = liveness(record, job_alive=job_alive, server_id=self.store.server_id,
                         now=time.time() if now is None else now)
        if state in (Liveness.DEAD, Liveness.INTERRUPTED) and record is not None:
            status, message = ((RunStatus.FAILED, DEAD_MESSAGE) if state is Liveness.DEAD
                               else (RunStatus.INTERRUPTED, INTERRUPTED_MESSAGE))
            # Refused, and the stored ending kept, when the job ended the run meanwhile.
            self.store.finish_run(session_id, run_id, status, message)
            record = self.store.get_run(session_id, run_id)
            state = Liveness.FINISHED
        elif state.live and record.status is RunStatus.QUEUED:
            place = self.backend.queue_place(record.job)
            if place is not None:
                record = record.replace(queue_place=place)
        return record, state
