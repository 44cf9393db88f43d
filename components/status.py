"""The status line's contents for each moment of a run: pure functions of stored values."""

from __future__ import annotations

from .layout import status_children

RUNNING_STATES = {"queued": "Starting", "running": "Training"}


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


def epoch_status(meta: dict, record: dict, latest: int) -> list:
    """The line for a shown epoch: the run's state, "Epoch k / N", and the epoch's metrics."""
    epochs = record["epochs"]
    status = meta.get("status")
    where = f"Epoch {record['epoch']} / {epochs}"
    if status in RUNNING_STATES:
        state = RUNNING_STATES[status]
        if record["epoch"] < latest:
            where += f" (newest {latest})"
    elif status == "done":
        state = "Done"
        if record["epoch"] == epochs:
            where = f"Epoch {epochs} / {epochs}: finished in {meta.get('elapsed', record['elapsed']):.1f} s"
    elif status == "cancelled":
        state = "Cancelled"
        where += f", cancelled after epoch {meta.get('epoch', latest)}"
    elif status == "interrupted":
        state = "Interrupted"
        where += f": {meta.get('message', 'interrupted')}"
    else:
        state = "Failed"
        where += f": {meta.get('message', 'failed')}"
    return status_children(state, where, epoch_metrics(record))


def starting_status(settings_line: str) -> list:
    return status_children("Starting", f"Starting: {settings_line}")


def queued_status(place: int) -> list:
    ahead = "next in line" if place == 1 else f"{place - 1} runs ahead"
    return status_children("Queued", f"Queued for a training slot: {ahead}; it starts when one frees up")


def ended_status(meta: dict) -> list:
    """A run that ended without its job's say: the process died or the server stopped."""
    done = meta.get("epoch") or 0
    if meta.get("status") == "interrupted":
        return status_children("Interrupted", f"Interrupted: {meta['message']} (after epoch {done}). "
                                              "Press Train to run it again.")
    return failed_status(f"Failed: {meta['message']} (after epoch {done}). Press Train to try again.")


def cancelled_status(epoch: int, epochs: int) -> list:
    text = f"Cancelled at epoch {epoch} / {epochs}" if epoch else "Cancelled before the first epoch"
    return status_children("Cancelled", text)


def failed_status(message: str) -> list:
    return status_children("Failed", message)


def busy_status(message: str) -> list:
    return status_children("Busy", message)


def stopped_status(reason: str) -> list:
    return status_children("Idle", reason)
