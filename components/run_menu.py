"""The run menu's lines: a run's record as one line a user can tell from the others."""

from __future__ import annotations

from zsom_jobs.records import RunRecord


def run_label(record: RunRecord, epochs_done: int, final_mqe: float | None) -> str:
    """A run's line in the menu. The menu is refreshed when a run starts or ends, not every
    epoch, so a run in progress is labelled without its progress."""
    settings = record.settings
    grid = f"{settings['width']}x{settings['height']} {settings['topology']}"
    if not record.finished:
        return f"Run {record.number}: in progress, {record.epochs} epochs, {grid}"
    mqe = f", MQE {final_mqe:.4g}" if final_mqe is not None else ""
    return f"Run {record.number}: {record.status.value}, {epochs_done}/{record.epochs} epochs, {grid}{mqe}"
