"""The server-side state of every session: datasets, runs, epoch snapshots and job slots.

One ``diskcache.Cache`` holds it all, shared by the web server and the training processes
(diskcache reconnects after a fork, and SQLite serialises the writers). Keys are built from
the session id and the run id, so a session can only reach its own entries; each run's
entries carry a tag so that the previous run of a session is dropped in one call.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import diskcache

SESSION_TTL_S = 12 * 3600
BUILTIN_TTL_S = 24 * 3600
DEFAULT_SIZE_LIMIT = 4 * 2**30

# Run states. A run is "queued" when the server accepted its settings and "running" once
# its process trains; the others end it.
QUEUED, RUNNING, DONE, CANCELLED, FAILED, BUSY = "queued", "running", "done", "cancelled", "failed", "busy"
FINISHED = frozenset({DONE, CANCELLED, FAILED, BUSY})

_SLOTS_KEY = "zsom/job-slots"


def check_session_id(session_id) -> str:
    """The session id if it is a uuid as the layout makes them; ``ValueError`` otherwise.

    Session ids come back from the browser, so they are checked before they become keys.
    """
    try:
        return str(uuid.UUID(str(session_id)))
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"not a session id: {session_id!r}") from None


class SessionStore:
    """Typed access to the shared cache; every method takes the session id first."""

    def __init__(self, directory, *, size_limit: int = DEFAULT_SIZE_LIMIT):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(self.directory), size_limit=size_limit, tag_index=True,
                                     eviction_policy="least-recently-stored")

    # ------------------------------------------------------------------ keys

    @staticmethod
    def key(session_id: str, *parts) -> str:
        return "/".join(["zsom", check_session_id(session_id), *map(str, parts)])

    @staticmethod
    def run_tag(session_id: str, run_id: str) -> str:
        return f"{check_session_id(session_id)}/{run_id}"

    # ------------------------------------------------------------------ datasets

    def put_dataset(self, session_id: str, record: dict) -> None:
        self.cache.set(self.key(session_id, "dataset"), record, expire=SESSION_TTL_S)

    def get_dataset(self, session_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "dataset"))

    def put_upload(self, session_id: str, filename: str, data: bytes) -> None:
        """The uploaded file itself, so that a new sample count can resample it."""
        self.cache.set(self.key(session_id, "upload"), {"filename": filename, "data": bytes(data)}, expire=SESSION_TTL_S)

    def get_upload(self, session_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "upload"))

    def builtin(self, name: str, n: int, seed: int, load):
        """A built-in dataset shared by all sessions: ``load()`` runs once per (name, n, seed)."""
        key = f"zsom/builtin/{name}/{n}/{seed}"
        value = self.cache.get(key)
        if value is None:
            value = load()
            self.cache.set(key, value, expire=BUILTIN_TTL_S)
        return value

    # ------------------------------------------------------------------ runs

    def new_run(self, session_id: str, run_id: str, meta: dict) -> None:
        """Record a run the server accepted and make it the session's current run."""
        tag = self.run_tag(session_id, run_id)
        with self.cache.transact():
            self.cache.set(self.key(session_id, "run", run_id), {**meta, "status": QUEUED}, expire=SESSION_TTL_S, tag=tag)
            runs = self.cache.get(self.key(session_id, "runs"), [])
            self.cache.set(self.key(session_id, "runs"), [*runs, run_id], expire=SESSION_TTL_S)
            self.cache.set(self.key(session_id, "current-run"), run_id, expire=SESSION_TTL_S)

    def current_run_id(self, session_id: str) -> str | None:
        return self.cache.get(self.key(session_id, "current-run"))

    def get_run(self, session_id: str, run_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "run", run_id))

    def update_run(self, session_id: str, run_id: str, *, force: bool = False, **fields) -> dict | None:
        """Merge ``fields`` into a run's record and return it.

        A finished run stays finished: a late write from its process (which may still be
        running for a moment after a cancel) does not bring it back, unless ``force``.
        """
        key = self.key(session_id, "run", run_id)
        with self.cache.transact():
            meta = self.cache.get(key)
            if meta is None:
                return None
            if meta.get("status") in FINISHED and not force:
                return meta
            meta = {**meta, **fields}
            self.cache.set(key, meta, expire=SESSION_TTL_S, tag=self.run_tag(session_id, run_id))
            return meta

    def drop_runs_except(self, session_id: str, keep: str) -> None:
        """Delete every entry of the session's other runs (their snapshots above all)."""
        runs_key = self.key(session_id, "runs")
        with self.cache.transact():
            runs = self.cache.get(runs_key, [])
            self.cache.set(runs_key, [run for run in runs if run == keep], expire=SESSION_TTL_S)
        for run in runs:
            if run != keep:
                self.cache.evict(self.run_tag(session_id, run))

    # ------------------------------------------------------------------ epochs

    def put_epoch(self, session_id: str, run_id: str, epoch: int, record: dict, history: dict) -> None:
        """One epoch's snapshot and the run's metric history up to it, written together."""
        tag = self.run_tag(session_id, run_id)
        with self.cache.transact():
            self.cache.set(self.key(session_id, "run", run_id, "epoch", epoch), record, expire=SESSION_TTL_S, tag=tag)
            self.cache.set(self.key(session_id, "run", run_id, "history"), history, expire=SESSION_TTL_S, tag=tag)

    def get_epoch(self, session_id: str, run_id: str, epoch: int) -> dict | None:
        return self.cache.get(self.key(session_id, "run", run_id, "epoch", int(epoch)))

    def get_history(self, session_id: str, run_id: str) -> dict | None:
        return self.cache.get(self.key(session_id, "run", run_id, "history"))

    # ------------------------------------------------------------------ liveness

    def beat(self, session_id: str, run_id: str, now: float | None = None) -> None:
        """The training process is alive at ``now``."""
        self.cache.set(self.key(session_id, "run", run_id, "beat"), time.time() if now is None else now,
                       expire=SESSION_TTL_S, tag=self.run_tag(session_id, run_id))

    def last_beat(self, session_id: str, run_id: str) -> float | None:
        return self.cache.get(self.key(session_id, "run", run_id, "beat"))

    # ------------------------------------------------------------------ job slots

    def acquire_slot(self, session_id: str, run_id: str, max_jobs: int, ttl: float, now: float | None = None) -> int | None:
        """Take one of ``max_jobs`` training slots; ``None`` if all are taken.

        Returns the number of slots in use before this one was taken. A slot expires
        ``ttl`` seconds after its last renewal, so a process that died frees its slot. A
        session trains one run at a time: a slot it still holds belongs to a run it has
        replaced (whose process Dash killed first), and is freed here.
        """
        now = time.time() if now is None else now
        session_id = check_session_id(session_id)
        with self.cache.transact():
            slots = {run: slot for run, slot in self.cache.get(_SLOTS_KEY, {}).items()
                     if slot["expires"] > now and slot["session"] != session_id}
            if len(slots) >= max_jobs:
                self.cache.set(_SLOTS_KEY, slots)
                return None
            in_use = len(slots)
            slots[run_id] = {"session": session_id, "expires": now + ttl}
            self.cache.set(_SLOTS_KEY, slots)
            return in_use

    def renew_slot(self, run_id: str, ttl: float, now: float | None = None) -> bool:
        """Extend a slot's lease; False when it was freed meanwhile."""
        now = time.time() if now is None else now
        with self.cache.transact():
            slots = self.cache.get(_SLOTS_KEY, {})
            if run_id not in slots:
                return False
            slots[run_id] = {**slots[run_id], "expires": now + ttl}
            self.cache.set(_SLOTS_KEY, slots)
            return True

    def release_slot(self, run_id: str) -> None:
        with self.cache.transact():
            slots = self.cache.get(_SLOTS_KEY, {})
            if slots.pop(run_id, None) is not None:
                self.cache.set(_SLOTS_KEY, slots)

    def slots_in_use(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return sum(slot["expires"] > now for slot in self.cache.get(_SLOTS_KEY, {}).values())

    def close(self) -> None:
        self.cache.close()
