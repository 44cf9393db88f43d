"""The status line of a run, from its record and the epoch shown."""

import pytest
from test_run_page import text_of

from components.status import ETA_AFTER_EPOCHS, epoch_status, time_left
from zsom_jobs.records import RunRecord, RunStatus


def running(epochs: int) -> RunRecord:
    return RunRecord(run="r", number=1, status=RunStatus.RUNNING, settings={"epochs": epochs},
                     dataset_token="t", created=0.0, schedule=((1.0,) * epochs, (0.5,) * epochs))


def epoch(number: int, epochs: int, elapsed: float) -> dict:
    return {"epoch": number, "epochs": epochs, "elapsed": elapsed, "mqe": 0.1, "te": 0.0, "sigma": 1.0, "lr": 0.5}


def test_the_time_left_is_estimated_once_the_run_has_shown_its_pace():
    assert "left" not in text_of(epoch_status(running(100), epoch(ETA_AFTER_EPOCHS - 1, 100, 1.0), 2))
    # 10 epochs in 2 s: 90 epochs to go take about 18 s.
    assert "about 18 s left" in text_of(epoch_status(running(100), epoch(10, 100, 2.0), 10))
    # An older epoch on screen while newer ones arrive says where the run is instead.
    assert "(newest 20)" in text_of(epoch_status(running(100), epoch(10, 100, 2.0), 20))


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "less than a second left"), (7.4, "about 7 s left"), (43, "about 45 s left"),
    (200, "about 3 min left"), (7200, "about 2.0 h left"),
])
def test_estimates_are_rounded_as_estimates(seconds, text):
    assert time_left(seconds) == text
