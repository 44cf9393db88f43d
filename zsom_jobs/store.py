"""The store: every session's datasets, runs, epoch snapshots and job slots.

It implements ``seams.Store`` over a key-value cache: ``DiskcacheStore`` keeps it in one
``diskcache.Cache``, shared by the web server and the training processes (diskcache
reconnects after a fork, and SQLite serialises the writers); ``redis_store.RedisStore``
in a Redis server that several machines share. Keys are built from
the session id and the run id, so a session can only reach its own entries; each run's
entries carry a tag so that an old run is dropped in one call. Entries expire ``ttl``
seconds after they were written, and the least recently stored go first once the store
outgrows ``size_limit``: an abandoned session costs nothing after a while.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

import diskcache
from diskcache.core import DBNAME

from .records import RecordError, RunRecord, RunStatus
from .seams import UPLOAD_DATA, UPLOAD_SCORED

DEFAULT_TTL_S = 12 * 3600
BUILTIN_TTL_S = 24 * 3600
DEFAULT_SIZE_LIMIT = 4 * 2**30
# Runs a session keeps: the newest on each dataset, on the datasets it used last; older
# ones are dropped (and the store's size limit drops the least recently stored first).
MAX_RUNS_PER_DATASET = 6
MAX_DATASETS_PER_SESSION = 4

_REOPEN_LOCK = threading.Lock()
_SLOTS_KEY = "zsom/job-slots"
_QUEUE_KEY = "zsom/job-queue"


class StoreUnavailable(RuntimeError):
    """The store's folder cannot be created, written or opened, or its server cannot be
    reached; the message says which (and never a password)."""


_OUTAGE_LOG_EVERY_S = 60.0
_last_outage_log = [-_OUTAGE_LOG_EVERY_S]


def log_outage(error: StoreUnavailable) -> None:
    """One log line a minute while the store cannot be reached, not one per request."""
    now = time.monotonic()
    if now - _last_outage_log[0] >= _OUTAGE_LOG_EVERY_S:
        _last_outage_log[0] = now
        logging.getLogger("zsom").error("zsom: %s", error)


def check_session_id(session_id) -> str:
    """The session id if it is a uuid as the layout makes them; ``ValueError`` otherwise.

    Session ids come back from the browser, so they are checked before they become keys.
    """
    try:
        return str(uuid.UUID(str(session_id)))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not a session id: {session_id!r}") from None


class KeyValueStore:
    """Typed access to a shared key-value cache; every method takes the session id first.

    ``cache`` offers diskcache's ``get``, ``set`` (with ``expire`` and ``tag``), ``evict``
    (a tag), ``cull`` and ``close``; ``_transact(scope)`` makes a block atomic, where a
    scope is a session id or the job slots (a store may serialise them all at once).
    ``server_id`` names the web server that records new runs: a run left queued or running
    by another server (one that stopped) was interrupted. None where several web servers
    share the store, and no server's stop interrupts a run.
    """

    def __init__(self, cache, *, ttl: float, server_id: str | None = None):
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.cache = cache
        self.ttl = float(ttl)
        self.server_id = server_id

    def _transact(self, scope: str):
        raise NotImplementedError

    def cleanup(self) -> int:
        """Drop expired entries, then the oldest ones past the size limit; returns how many."""
        return self.cache.cull()

    # ------------------------------------------------------------------ keys

    @staticmethod
    def key(session_id: str, *parts) -> str:
        return "/".join(["zsom", check_session_id(session_id), *map(str, parts)])

    @staticmethod
    def run_tag(session_id: str, run_id: str) -> str:
        return f"{check_session_id(session_id)}/{run_id}"

    # ------------------------------------------------------------------ datasets

    def put_dataset(self, session_id: str, record: dict) -> None:
        self.cache.set(self.key(session_id, "dataset"), record, expire=self.ttl)

    def get_dataset(self, session_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "dataset"))

    def put_upload(self, session_id: str, filename: str, data: bytes, slot: str = UPLOAD_DATA) -> None:
        """An uploaded file itself, so that a new sample count can resample it (``slot``:
        ``UPLOAD_DATA``, what the session trains on; ``UPLOAD_SCORED``, new data to map),
        with its name and the SHA-256 of its bytes."""
        about = {"filename": filename, "digest": hashlib.sha256(data).hexdigest()}
        key = self.key(session_id, _upload_key(slot))
        with self._transact(session_id):
            self.cache.set(key, {**about, "data": bytes(data)}, expire=self.ttl)
            self.cache.set(f"{key}/about", about, expire=self.ttl)

    def get_upload(self, session_id: str, slot: str = UPLOAD_DATA) -> dict | None:
        return self.cache.get(self.key(session_id, _upload_key(slot)))

    def upload_about(self, session_id: str, slot: str = UPLOAD_DATA) -> dict | None:
        """The upload's ``filename`` and ``digest`` without its bytes: what a view that has
        read the file once asks on every answer."""
        return self.cache.get(f"{self.key(session_id, _upload_key(slot))}/about")

    def builtin(self, name: str, n: int, seed: int, load):
        """A built-in dataset shared by all sessions: ``load()`` runs once per (name, n, seed)."""
        key = f"zsom/builtin/{name}/{n}/{seed}"
        value = self.cache.get(key)
        if value is None:
            value = load()
            self.cache.set(key, value, expire=BUILTIN_TTL_S)
        return value

    # ------------------------------------------------------------------ runs

    def new_run(self, session_id: str, run_id: str, *, settings: dict, dataset_token: str, schedule,
                extra: dict | None = None, now: float | None = None) -> tuple[RunRecord, RunRecord | None]:
        """Record a queued run and make it the session's current run (``extra``: what the
        caller keeps with it, such as the page's own choices).

        A session trains one run at a time: an unfinished current run is cancelled in the
        same transaction and returned second (its job is the caller's to stop).
        """
        now = time.time() if now is None else now
        with self._transact(session_id):
            replaced = self.finish_run(session_id, self.current_run_id(session_id), RunStatus.CANCELLED)
            count = self.cache.get(self.key(session_id, "run-count"), 0) + 1
            record = RunRecord(run=run_id, number=count, status=RunStatus.QUEUED, settings=dict(settings),
                               dataset_token=dataset_token, created=now, schedule=schedule, server=self.server_id,
                               extra=dict(extra or {}))
            self._put_run(session_id, record)
            runs = self.cache.get(self.key(session_id, "runs"), [])
            self.cache.set(self.key(session_id, "runs"), [*runs, run_id], expire=self.ttl)
            self.cache.set(self.key(session_id, "run-count"), count, expire=self.ttl)
            self.cache.set(self.key(session_id, "current-run"), run_id, expire=self.ttl)
        return record, replaced

    def current_run_id(self, session_id: str) -> str | None:
        return self.cache.get(self.key(session_id, "current-run"))

    def current_run(self, session_id: str) -> RunRecord | None:
        run_id = self.current_run_id(session_id)
        return None if run_id is None else self.get_run(session_id, run_id)

    def get_run(self, session_id: str, run_id: str) -> RunRecord | None:
        """The run's record; None when it is absent or not a record this version reads."""
        try:
            stored = self.cache.get(self.key(session_id, "run", run_id))
            return None if stored is None else RunRecord.from_stored(stored)
        except RecordError:
            return None

    def update_run(self, session_id: str, run_id: str, **fields) -> RunRecord | None:
        """Change fields of an unfinished run and return its record.

        A finished run stays as it ended: a late write from its job (which may still run
        for a moment after a cancel) changes nothing, and the finished record is returned.
        """
        with self._transact(session_id):
            record = self.get_run(session_id, run_id)
            if record is None or record.finished:
                return record
            record = record.replace(**fields)
            self._put_run(session_id, record)
            return record

    def finish_run(self, session_id: str, run_id: str | None, status: RunStatus, message: str = "",
                   now: float | None = None) -> RunRecord | None:
        """End an unfinished run with ``status``; returns the record it ended, or None when
        there was no such run or it had ended already."""
        if run_id is None:
            return None
        with self._transact(session_id):
            record = self.get_run(session_id, run_id)
            if record is None or record.finished:
                return None
            record = record.replace(status=status, message=message, epoch=self.epochs_done(session_id, run_id),
                                    queue_place=0, finished_at=time.time() if now is None else now)
            self._put_run(session_id, record)
        self.release_slot(run_id)
        return record

    def _put_run(self, session_id: str, record: RunRecord) -> None:
        self.cache.set(self.key(session_id, "run", record.run), record.to_stored(), expire=self.ttl,
                       tag=self.run_tag(session_id, record.run))

    def runs(self, session_id: str) -> list[RunRecord]:
        """The records of the session's runs still in the store, oldest first."""
        records = (self.get_run(session_id, run) for run in self.cache.get(self.key(session_id, "runs"), []))
        return [record for record in records if record is not None]

    def trim_runs(self, session_id: str, keep: str, max_runs: int = MAX_RUNS_PER_DATASET,
                  max_datasets: int = MAX_DATASETS_PER_SESSION) -> None:
        """Make room for run ``keep``: drop the session's runs that never stored an epoch,
        the oldest beyond ``max_runs`` on each dataset, and every run on datasets beyond the
        ``max_datasets`` used most recently (their snapshots above all)."""
        runs_key = self.key(session_id, "runs")
        with self._transact(session_id):
            runs = self.cache.get(runs_key, [])
            tokens = {}
            for run in runs:
                record = self.get_run(session_id, run)
                if run == keep or (record is not None and self.epochs_done(session_id, run) > 0):
                    tokens[run] = None if record is None else record.dataset_token
            by_dataset: dict = {}
            for run in reversed(runs):  # newest first
                if run in tokens:
                    by_dataset.setdefault(tokens[run], []).append(run)
            kept_token = tokens.get(keep)
            recent = [token for token in by_dataset if token != kept_token][: max(max_datasets - 1, 0)]
            survivors = {keep}
            for token in [kept_token, *recent]:
                newest = [run for run in by_dataset.get(token, []) if run != keep]
                survivors.update(newest[: max_runs - 1] if token == kept_token else newest[:max_runs])
            self.cache.set(runs_key, [run for run in runs if run in survivors], expire=self.ttl)
        for run in runs:
            if run not in survivors:
                self.cache.evict(self.run_tag(session_id, run))

    # ------------------------------------------------------------------ epochs

    def put_epoch(self, session_id: str, run_id: str, epoch: int, record: dict, history: dict) -> bool:
        """One epoch's snapshot and the run's metric history up to it, written together
        while the run is unfinished; False (nothing written) once it has ended."""
        tag = self.run_tag(session_id, run_id)
        with self._transact(session_id):
            run = self.get_run(session_id, run_id)
            if run is None or run.finished:
                return False
            # Stored again so that a long run's record is never the oldest entry, which
            # the size limit drops first.
            self._put_run(session_id, run)
            self.cache.set(self.key(session_id, "run", run_id, "epoch", epoch), record, expire=self.ttl, tag=tag)
            self.cache.set(self.key(session_id, "run", run_id, "history"), history, expire=self.ttl, tag=tag)
            return True

    def get_epoch(self, session_id: str, run_id: str, epoch: int) -> dict | None:
        return self.cache.get(self.key(session_id, "run", run_id, "epoch", int(epoch)))

    def get_history(self, session_id: str, run_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "run", run_id, "history"))

    def epochs_done(self, session_id: str, run_id: str) -> int:
        history = self.get_history(session_id, run_id)
        return 0 if history is None else len(history["mqe"])

    # ------------------------------------------------------------------ job slots

    def take_slot(self, session_id: str, run_id: str, max_jobs: int, ttl: float, *, max_waiting: int = 0,
                  now: float | None = None) -> tuple[str, int]:
        """Take one of ``max_jobs`` training slots, or a place in the queue for one.

        Returns ("running", slots in use before this one), ("queued", place in the queue,
        1 = next) or ("busy", slots in use) when the queue already holds ``max_waiting``
        runs. Runs leave the queue in the order they joined it. Slots and places expire
        ``ttl`` seconds after their last renewal, so a process that died frees its own. A
        session trains one run at a time: what it still holds belongs to a run it has
        replaced (whose process Dash killed first), and is freed here.
        """
        session_id = check_session_id(session_id)

        def live(table):
            return {run: entry for run, entry in self.cache.get(table, {}).items()
                    if entry["expires"] > now and (entry["session"] != session_id or run == run_id)}

        with self._transact(_SLOTS_KEY):
            # Read inside the block: a run that joins the queue after another never counts
            # as joined before it.
            now = time.time() if now is None else now
            slots, queue = live(_SLOTS_KEY), live(_QUEUE_KEY)
            slots.pop(run_id, None)
            joined = queue.pop(run_id, {}).get("since", now)
            ahead = sum((entry["since"], run) < (joined, run_id) for run, entry in queue.items())
            entry = {"session": session_id, "expires": now + ttl, "since": joined}
            if len(slots) < max_jobs and ahead == 0:
                state, number = "running", len(slots)
                slots[run_id] = entry
            elif run_id not in self.cache.get(_QUEUE_KEY, {}) and len(queue) >= max_waiting:
                state, number = "busy", len(slots)
            else:
                state, number = "queued", ahead + 1
                queue[run_id] = entry
            self.cache.set(_SLOTS_KEY, slots)
            self.cache.set(_QUEUE_KEY, queue)
            return state, number

    def renew_slot(self, run_id: str, ttl: float, now: float | None = None) -> bool:
        """Extend a slot's lease; False when it was freed meanwhile."""
        now = time.time() if now is None else now
        with self._transact(_SLOTS_KEY):
            slots = self.cache.get(_SLOTS_KEY, {})
            if run_id not in slots:
                return False
            slots[run_id] = {**slots[run_id], "expires": now + ttl}
            self.cache.set(_SLOTS_KEY, slots)
            return True

    def release_slot(self, run_id: str) -> None:
        """Free the run's slot or its place in the queue."""
        with self._transact(_SLOTS_KEY):
            for table in (_SLOTS_KEY, _QUEUE_KEY):
                entries = self.cache.get(table, {})
                if entries.pop(run_id, None) is not None:
                    self.cache.set(table, entries)

    def reset_slots(self) -> None:
        """Forget every slot and place: a server starting has no jobs yet."""
        with self._transact(_SLOTS_KEY):
            self.cache.set(_SLOTS_KEY, {})
            self.cache.set(_QUEUE_KEY, {})

    def slots_in_use(self, now: float | None = None) -> int:
        return self._live_count(_SLOTS_KEY, now)

    def runs_waiting(self, now: float | None = None) -> int:
        return self._live_count(_QUEUE_KEY, now)

    def _live_count(self, table: str, now: float | None) -> int:
        now = time.time() if now is None else now
        return sum(entry["expires"] > now for entry in self.cache.get(table, {}).values())

    def slot_held(self, run_id: str, now: float | None = None) -> bool:
        """True while the run holds a training slot whose lease has not lapsed."""
        now = time.time() if now is None else now
        entry = self.cache.get(_SLOTS_KEY, {}).get(run_id)
        return entry is not None and entry["expires"] > now

    def close(self) -> None:
        self.cache.close()


class DiskcacheStore(KeyValueStore):
    """The store in one ``diskcache.Cache`` folder: one machine's web server and its jobs."""

    def __init__(self, directory, *, ttl: float = DEFAULT_TTL_S, size_limit: int = DEFAULT_SIZE_LIMIT,
                 server_id: str | None = None):
        if ttl <= 0 or size_limit <= 0:
            raise ValueError(f"ttl and size_limit must be positive, got {ttl} and {size_limit}")
        self.directory = Path(directory)
        self._settings = {"size_limit": size_limit, "tag_index": True, "eviction_policy": "least-recently-stored"}
        super().__init__(open_cache(self.directory, **self._settings), ttl=ttl, server_id=server_id)

    def _transact(self, scope: str):
        return self.cache.transact()  # SQLite's one writer: every scope at once

    def reopen_if_removed(self) -> bool:
        """Start a new, empty store when the folder was removed under the running server
        (everything in it is gone either way); True when it did. ``StoreUnavailable``
        when the folder cannot be made again."""
        return reopen_if_removed(self, "cache", self.directory, self._settings)


def _upload_key(slot: str) -> str:
    if slot not in (UPLOAD_DATA, UPLOAD_SCORED):
        raise ValueError(f"unknown upload slot {slot!r}")
    return "upload" if slot == UPLOAD_DATA else f"upload-{slot}"


def reopen_if_removed(owner, attribute: str, directory: Path, settings: dict | None = None) -> bool:
    """Give ``owner.<attribute>`` a new cache in ``directory`` if its database file is
    gone; True when it did. One check of a path per call: cheap enough for each request."""
    if (directory / DBNAME).exists():
        return False
    with _REOPEN_LOCK:
        if (directory / DBNAME).exists():
            return False
        setattr(owner, attribute, open_cache(directory, **(settings or {})))
        return True


def open_cache(directory: Path, **settings) -> diskcache.Cache:
    """A ``diskcache.Cache`` in ``directory`` (created if missing), or ``StoreUnavailable``
    saying why the folder cannot hold one."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not directory.is_dir():
            raise NotADirectoryError("it is not a folder")
        if not os.access(directory, os.W_OK | os.X_OK):
            raise PermissionError("it is not writable")
        return diskcache.Cache(str(directory), **settings)
    except (OSError, sqlite3.Error) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise StoreUnavailable(f"cannot keep the store in {directory}: {reason}") from None
