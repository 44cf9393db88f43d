"""A run's record: what the store keeps of one training, typed and checked when read.

A run is *queued* once the server accepted its settings and *running* once its job
trains; every other status ends it, and an ended run never changes again (the store
refuses late writes from its job). Liveness is how an unfinished run looks from the
server at one moment; ``liveness`` is the only place that decides it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from dataclasses import dataclass, field


class RunStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"
    BUSY = "busy"  # refused: the queue of waiting runs was full
    INTERRUPTED = "interrupted"  # the server stopped during the run

    def __str__(self) -> str:
        return self.value

    @property
    def finished(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.RUNNING)


class Liveness(str, enum.Enum):
    FINISHED = "finished"  # the record says how it ended
    STARTING = "starting"  # queued, its job not yet seen training
    ALIVE = "alive"  # its job trains
    DEAD = "dead"  # unfinished, but its job is gone
    INTERRUPTED = "interrupted"  # unfinished, recorded by a server that has since stopped

    def __str__(self) -> str:
        return self.value

    @property
    def live(self) -> bool:
        return self in (Liveness.STARTING, Liveness.ALIVE)


class RecordError(ValueError):
    """A stored record that is not a run record (an older format, or damaged)."""


@dataclass(frozen=True)
class RunRecord:
    """One run of a session. ``settings`` are the run's checked settings as plain values
    (``components.settings.run_settings``); ``schedule`` its planned sigma and learning
    rate per epoch; ``epoch`` the epochs it completed when it ended."""

    run: str
    number: int
    status: RunStatus
    settings: dict
    dataset_token: str
    created: float
    schedule: tuple[tuple[float, ...], tuple[float, ...]]
    server: str | None = None
    job: str | None = None  # the job backend's handle of its training job
    queue_place: int = 0  # 1 = next for a slot; 0 = not waiting
    started: float | None = None
    finished_at: float | None = None
    epoch: int = 0
    elapsed: float | None = None
    message: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        return int(self.settings["epochs"])

    @property
    def finished(self) -> bool:
        return self.status.finished

    def replace(self, **changes) -> RunRecord:
        return dataclasses.replace(self, **changes)

    def to_stored(self) -> dict:
        stored = dataclasses.asdict(self)
        stored["status"] = self.status.value
        stored["schedule"] = [list(self.schedule[0]), list(self.schedule[1])]
        return stored

    @classmethod
    def from_stored(cls, stored) -> RunRecord:
        """The record of a stored dict; ``RecordError`` if it is not one."""
        if not isinstance(stored, dict):
            raise RecordError(f"a run record is a dict, not {type(stored).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            values = {name: stored[name] for name in names if name in stored}
            values["status"] = RunStatus(stored["status"])
            sigmas, rates = stored["schedule"]
            values["schedule"] = (tuple(map(float, sigmas)), tuple(map(float, rates)))
            record = cls(**values)
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"not a run record: {error}") from None
        checks = (
            isinstance(record.run, str) and record.run,
            type(record.number) is int and record.number >= 1,
            isinstance(record.settings, dict) and type(record.settings.get("epochs")) is int,
            isinstance(record.dataset_token, str),
            _finite(record.created),
            type(record.epoch) is int and record.epoch >= 0,
            type(record.queue_place) is int,
            isinstance(record.message, str),
            record.job is None or isinstance(record.job, str),
            isinstance(record.extra, dict),
        )
        if not all(checks):
            raise RecordError(f"run record {stored.get('run')!r} has a field of the wrong type")
        return record


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# A queued run whose job has not been seen within this many seconds never started.
START_TIMEOUT_S = 30.0


def liveness(record: RunRecord | None, *, job_alive: bool | None, server_id: str | None, now: float) -> Liveness:
    """How a run looks from server ``server_id`` at ``now``.

    ``job_alive`` is the job backend's word on the run's job (None: the run has no job
    handle yet). A run that another server recorded and left unfinished was interrupted
    by that server's stop; one whose job is gone is dead; one with no job handle for
    ``START_TIMEOUT_S`` never started, which counts as dead too.
    """
    if record is None:
        return Liveness.DEAD
    if record.finished:
        return Liveness.FINISHED
    if server_id is not None and record.server not in (None, server_id):
        return Liveness.INTERRUPTED
    if job_alive is None:
        return Liveness.DEAD if now - record.created > START_TIMEOUT_S else Liveness.STARTING
    if not job_alive:
        return Liveness.DEAD
    return Liveness.STARTING if record.status is RunStatus.QUEUED else Liveness.ALIVE
