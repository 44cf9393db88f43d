"""The status line's contents for each moment of a run: pure functions of stored values.

``run_controls`` is the one place that turns a run's record into what the page shows
about it: the status line, whether Train restarts and Cancel is live, and whether the
page keeps asking the server for news.
"""

from __future__ import annotations

from dataclasses import dataclass

from zsom_jobs.records import Liveness, RunRecord, RunStatus

from .layout import status_children
from .settings import TrainingSettings

RUNNING_STATES = {"queued": "Starting", "running": "Training"}
# The time left is estimated once this many epochs have shown the run's pace.
ETA_AFTER_EPOCHS = 3


def time_left(seconds: float) -> str:
    """"about 40 s left", "about 3 min left": rounded as an estimate should be."""
    if seconds < 1:
        return "less than a second left"
    if seconds < 90:
        return f"about {max(1, round(seconds / 5) * 5 if seconds >= 20 else round(seconds))} s left"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


def epoch_metrics(record: dict) -> list[tuple[str, str]]:
    """Metric pills of one epoch: MQE, topographic error, sigma, learning rate, speed."""
    rate = record["epoch"] / record["elapsed"] if record.get("elapsed") else 0.0
    return [
        ("MQE", f"{record['mqe']:.4g}"),
        ("TE", f"{record['te']:.3f}"),
        ("\u03c3", f"{record['sigma']:.3g}"),
        ("lr", f"{record['lr']:.3g}"),
        ("", f"{rate:.0f} epochs/s"),
    ]


def epoch_status(run: RunRecord, record: dict, latest: int) -> list:
    """The line for a shown epoch: the run's state, "Epoch k / N", and the epoch's metrics."""
    epochs = record["epochs"]
    status = run.status.value
    where = f"Epoch {record['epoch']} / {epochs}"
    if status in RUNNING_STATES:
        state = RUNNING_STATES[status]
        if record["epoch"] < latest:
            where += f" (newest {latest})"
        elif record["epoch"] >= ETA_AFTER_EPOCHS and record.get("elapsed"):
            left = (epochs - record["epoch"]) * record["elapsed"] / record["epoch"]
            where += f", {time_left(left)}"
    elif status == "done":
        state = "Done"
        if record["epoch"] == epochs:
            elapsed = run.elapsed if run.elapsed is not None else record["elapsed"]
            where = f"Epoch {epochs} / {epochs}: finished in {elapsed:.1f} s"
    elif status == "cancelled":
        state = "Cancelled"
        where += f", cancelled after epoch {run.epoch}"
    elif status == "interrupted":
        state = "Interrupted"
        where += f": {run.message or 'interrupted'}"
    else:
        state = "Failed"
        where += f": {run.message or 'failed'}"
    return status_children(state, where, epoch_metrics(record))


def starting_status(settings_line: str, changes: list[str]) -> list:
    if changes:
        return status_children("Starting", f"Restarting with {', '.join(changes)}")
    return status_children("Starting", f"Starting: {settings_line}")


def stale_note(run_number: int, changes: list[str], restarts: bool) -> str:
    """What the page says when the sidebar's settings are not the shown run's ("" when they are)."""
    if not changes:
        return ""
    button = "Restart" if restarts else "Train"
    return f"The sidebar differs from Run {run_number}: {', '.join(changes)}. Press {button} to apply."


def queued_status(place: int) -> list:
    ahead = "next in line" if place == 1 else f"{place - 1} runs ahead"
    return status_children("Queued", f"Queued for a training slot: {ahead}; it starts when one frees up")


def ended_status(run: RunRecord) -> list:
    """A run that failed or was interrupted before its first epoch was shown."""
    if run.status is RunStatus.INTERRUPTED:
        return status_children("Interrupted", f"Interrupted: {run.message} (after epoch {run.epoch}). "
                                              "Press Train to run it again.")
    return failed_status(f"Failed: {run.message} (after epoch {run.epoch}). Press Train to try again.")


def cancelled_status(epoch: int, epochs: int) -> list:
    text = f"Cancelled at epoch {epoch} / {epochs}" if epoch else "Cancelled before the first epoch"
    return status_children("Cancelled", text)


def failed_status(message: str) -> list:
    return status_children("Failed", message)


def busy_status(message: str) -> list:
    return status_children("Busy", message)


@dataclass(frozen=True)
class RunControls:
    """What the page shows of a run besides its panels."""

    status: list
    live: bool  # Cancel is live and Train restarts

    @property
    def train_label(self) -> str:
        return "Restart" if self.live else "Train"


def unavailable_controls() -> RunControls:
    """The store cannot be reached: nothing of the run can be read, or cancelled, until it is back."""
    return RunControls(status_children("Unavailable", "Server unavailable: its store cannot be reached. "
                                                      "Trying again..."), live=False)


def run_controls(record: RunRecord | None, live: Liveness, shown: dict | None, latest: int,
                 idle_text: str) -> RunControls:
    """The status line and buttons for ``record`` with liveness ``live``.

    ``shown`` is the stored epoch the panels show (None before the first) and ``latest``
    the run's newest stored epoch; ``idle_text`` the sentence shown without a run.
    """
    if record is None:
        return RunControls(status_children("Ready", idle_text), live=False)
    if shown is not None:
        return RunControls(epoch_status(record, shown, latest), live=live.live)
    if latest > 0:  # the page is drawing the run's stored epochs
        return RunControls(status_children("Loading", f"Run {record.number}: drawing its epochs"), live=live.live)
    if record.status is RunStatus.QUEUED:
        if record.queue_place > 0:
            return RunControls(queued_status(record.queue_place), live=True)
        settings = TrainingSettings.from_run(record.settings, record.extra.get("choices"))
        return RunControls(starting_status(settings.describe(), record.extra.get("changes") or []), live=live.live)
    if record.status is RunStatus.RUNNING:
        return RunControls(status_children("Training", "Training: waiting for the first epoch"), live=live.live)
    if record.status is RunStatus.BUSY:
        return RunControls(busy_status(record.message), live=False)
    if record.status is RunStatus.CANCELLED:
        return RunControls(cancelled_status(record.epoch, record.epochs), live=False)
    if record.status is RunStatus.DONE:
        return RunControls(status_children("Done", f"Done: {record.epochs} epochs"), live=False)
    return RunControls(ended_status(record), live=False)
