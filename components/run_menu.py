"""The run menu's lines: a run's record as one line a user can tell from the others."""

from __future__ import annotations

from zsom_jobs.records import RunRecord

from .settings import SETTINGS, TrainingSettings, shown_value

# A line names at most this many of the settings that tell its run from the others.
MAX_NAMED = 3
# What every line shows anyway.
ALWAYS_SHOWN = {"width", "height", "topology", "epochs"}


def distinguishing(runs: list[TrainingSettings]) -> list[list[str]]:
    """For each run, the settings in which the listed runs differ: ["sigma0 4", "metric cosine"]."""
    varying = [setting for setting in SETTINGS if setting.name not in ALWAYS_SHOWN
               and len({repr(getattr(run, setting.name, None)) for run in runs}) > 1]
    named = []
    for run in runs:
        parts = [f"{setting.called} {shown_value(setting, getattr(run, setting.name, None))}" for setting in varying]
        named.append(parts[:MAX_NAMED] + (["..."] if len(parts) > MAX_NAMED else []))
    return named


def run_label(record: RunRecord, epochs_done: int, final_mqe: float | None, differs: list[str] = ()) -> str:
    """A run's line in the menu: its number, state, grid and what tells it from the other
    runs listed. The menu is refreshed when a run starts or ends, not every epoch, so a run
    in progress is labelled without its progress."""
    settings = record.settings
    parts = [f"{settings['width']}x{settings['height']} {settings['topology']}", *differs]
    if not record.finished:
        return f"Run {record.number}: in progress, {record.epochs} epochs, {', '.join(parts)}"
    mqe = f", MQE {final_mqe:.4g}" if final_mqe is not None else ""
    return f"Run {record.number}: {record.status.value}, {epochs_done}/{record.epochs} epochs, {', '.join(parts)}{mqe}"
