"""The job backend on a Dash background-callback manager: one job per training.

Dash's managers already start a job, stop it and tell whether it still runs (for
``DiskcacheManager`` a process and its pid; for ``CeleryManager`` a task and its id).
``DashManagerBackend`` calls them directly, so a training's job is started and stopped by
the server's own decisions (Train, Cancel, a restart) rather than by the page, and any
page of the session, including one loaded after the job started, sees the same run.
"""

from __future__ import annotations

import psutil
from dash import DiskcacheManager

from .seams import JobTarget


class JobManager(DiskcacheManager):
    """Dash's ``DiskcacheManager``, safe against a job process that ends while it looks.

    Dash checks that a pid exists and then asks psutil about it; a job killed and reaped
    in between raises ``NoSuchProcess``.
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


class DashManagerBackend:
    """``seams.JobBackend`` over a Dash background-callback manager.

    ``target(session_id, run_id)`` is what each job runs; it must be importable in the
    job (a module-level function), and report through the store, not a return value.
    """

    def __init__(self, manager, target: JobTarget):
        self.manager = manager
        self.target = target

    def start(self, session_id: str, run_id: str) -> str:
        # Made per job: it holds the manager's result cache, which may have been reopened.
        job_fn = self.manager.make_job_fn(self.target, progress=False)
        return str(self.manager.call_job_fn(f"zsom-job-{run_id}", job_fn, [session_id, run_id], {}))

    def stop(self, handle: str) -> None:
        self.manager.terminate_job(handle)

    def alive(self, handle: str) -> bool:
        return bool(self.manager.job_running(handle))

    def queue_place(self, handle: str) -> int | None:
        return None  # the job waits in the store's queue, and records its place itself
