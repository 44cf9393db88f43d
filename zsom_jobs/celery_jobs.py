"""Training on Celery workers: the job backend of the web processes and the workers' task.

Every web process and worker reaches one Redis, which is both Celery's broker and the
``RedisStore``. The task runs ``training.run_training``, the same job as a local one; a
run's task id is its run id. What the local backend gets from its processes, this one
reads from the store and the broker:

- **alive**: a run that holds a slot is alive (its job renews the lease every second);
  one recorded running whose lease lapsed lost its worker; one still queued waits in
  the broker for a worker.
- **place in line**: the run's position among the unfinished runs in the broker's list
  (a worker takes one task at a time, acknowledged once it ends, so the waiting ones
  stay in that list, oldest last).
- **stop**: cooperative. The run is recorded cancelled before ``stop`` is called, and its
  job ends at its next epoch, when the store refuses the epoch; a task still in the
  broker is also revoked, which never terminates a running task (Dash's
  ``CeleryManager`` terminates by task id, which may hit another task in that process).
"""

from __future__ import annotations

import base64
import json
import os
from functools import lru_cache

from celery import Celery, signals

from .records import RunStatus
from .redis_store import RedisStore, connect
from .redis_url import ENVIRONMENT_VARIABLE, checked
from .seams import ServerBusy
from .training import busy_message, run_training, threads_per_job

TASK_NAME = "zsom.train"
QUEUE = "zsom-training"
# A worker's runs: it trains as many as its concurrency, each takes a slot at once.
UNBOUNDED_SLOTS = 1_000_000
THREADS_PER_JOB_VARIABLE = "ZSOM_THREADS_PER_JOB"


def make_celery(url: str) -> Celery:
    """The Celery app on Redis at ``url`` (broker only: the store holds every result)."""
    app = Celery("zsom", broker=checked(url), set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # One task at a time per worker process, acknowledged when it ends: the waiting
        # runs stay in the broker's list, where their places are read.
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK_NAME)(train_task)
    return app


def celery_app_from_environment() -> Celery:
    """What ``celery -A app:celery_app worker`` finds: the app on ``$ZSOM_REDIS_URL``."""
    url = os.environ.get(ENVIRONMENT_VARIABLE)
    if not url:
        raise RuntimeError(f"set {ENVIRONMENT_VARIABLE}=redis://:PASSWORD@HOST:6379/0 to start a ZSOM worker")
    return make_celery(url)


def train_task(session_id: str, run_id: str, keep_s: float) -> str | None:
    """The worker's side: train the run with the store's entries kept ``keep_s`` seconds,
    on the machine's cores shared out between the worker's processes (or on
    ``$ZSOM_THREADS_PER_JOB``, for several workers on one machine)."""
    threads = int(os.environ.get(THREADS_PER_JOB_VARIABLE) or threads_per_job(_WORKER["concurrency"] or 1))
    status = run_training(_worker_store(os.environ[ENVIRONMENT_VARIABLE], keep_s), session_id, run_id,
                          max_jobs=UNBOUNDED_SLOTS, threads=max(1, threads))
    return None if status is None else str(status)


@lru_cache(maxsize=4)
def _worker_store(url: str, keep_s: float) -> RedisStore:
    return RedisStore(url, ttl=keep_s)


_WORKER = {"concurrency": None}


@signals.celeryd_after_setup.connect
def _remember_concurrency(sender, instance, **_kwargs):
    # Read in the worker's main process, inherited by its forked children.
    _WORKER["concurrency"] = instance.concurrency


@signals.worker_process_init.connect
def _prepare_worker_process(**_kwargs):
    # The kernels compiled and the process niced, as in the local job server.
    import zsom_jobs.job_process  # noqa: F401


class CeleryBackend:
    """``seams.JobBackend`` on Celery: ``start`` sends the run's task, at most
    ``max_waiting`` runs wait for a worker (``ServerBusy`` beyond)."""

    def __init__(self, celery: Celery, store: RedisStore, *, max_waiting: int):
        self.celery = celery
        self.store = store
        self.max_waiting = max_waiting
        self.broker = connect(celery.conf.broker_url)

    def start(self, session_id: str, run_id: str) -> str:
        waiting = len(self._waiting())
        if waiting >= self.max_waiting:
            raise ServerBusy(busy_message(self.store.slots_in_use(), waiting))
        self.celery.send_task(TASK_NAME, args=[session_id, run_id, self.store.ttl], task_id=run_id, queue=QUEUE)
        return f"{session_id}/{run_id}"

    def stop(self, handle: str) -> None:
        _, run_id = handle.split("/", 1)
        self.celery.control.revoke(run_id)

    def alive(self, handle: str) -> bool:
        session_id, run_id = handle.split("/", 1)
        if self.store.slot_held(run_id):
            return True
        record = self.store.get_run(session_id, run_id)
        return record is not None and record.status is RunStatus.QUEUED

    def queue_place(self, handle: str) -> int | None:
        """1 for the next run a worker takes; None when the run waits in no line."""
        _, run_id = handle.split("/", 1)
        waiting = self._waiting()
        return waiting.index(run_id) + 1 if run_id in waiting else None

    def _waiting(self) -> list[str]:
        """The unfinished runs in the broker's list, next first."""
        with self.store.cache.reachable():
            messages = self.broker.lrange(QUEUE, 0, -1)
        runs = []
        for message in reversed(messages):  # kombu pushes on the left and takes from the right
            args = _task_args(message)
            try:
                record = None if args is None else self.store.get_run(*args[:2])
            except ValueError:  # not a session id
                record = None
            if record is not None and not record.finished:
                runs.append(record.run)
        return runs


def _task_args(message: bytes):
    """(session id, run id, ...) of a task message in the broker's list; None if it is not one of ours."""
    try:
        envelope = json.loads(message)
        if envelope.get("headers", {}).get("task") != TASK_NAME:
            return None
        args = json.loads(base64.b64decode(envelope["body"]))[0]
        return args if isinstance(args, list) and len(args) >= 2 and all(isinstance(a, str) for a in args[:2]) else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None
