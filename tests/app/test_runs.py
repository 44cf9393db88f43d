"""The runs a session keeps: the run menu's lines, which run a page opens, opening one."""

import os

import pytest
from ui_testkit import cloud

from callbacks.data import dataset_record
from callbacks.jobs import run_training
from callbacks.runs import open_run, run_options, run_to_open
from callbacks.store import RUNNING
from callbacks.training import start_run
from components.ids import Ids
from components.settings import DEFAULTS

SMALL = {**DEFAULTS, "width": 5, "height": 4, "epochs": 3, "sigma": 2.0}


@pytest.fixture
def session(store, session_id):
    store.put_dataset(session_id, dataset_record("blob", "blob", cloud(300, 3), None, None, None, "", "builtin"))
    return session_id


def finished(store, session, **settings) -> str:
    run_id, _ = start_run(store, session, {**SMALL, **settings})
    run_training(store, session, run_id, report=lambda _: None, max_jobs=1)
    return run_id


def test_the_menu_lists_the_runs_on_the_current_data_newest_first(store, session):
    first = finished(store, session)
    second = finished(store, session, epochs=2)
    live, _ = start_run(store, session, SMALL)
    token = store.get_dataset(session)["token"]
    options = run_options(store, session, token)
    assert [option["value"] for option in options] == [live, second, first]
    mqe = store.get_history(session, second)["mqe"][-1]
    assert options[1]["label"] == f"Run 2: done, 2/2 epochs, 5x4 hex, MQE {mqe:.4g}"
    assert options[0]["label"] == "Run 3: in progress, 3 epochs, 5x4 hex"
    assert run_options(store, session, "another dataset") == []


def test_a_page_opens_the_live_run_or_else_the_newest_with_epochs(store, session):
    token = store.get_dataset(session)["token"]
    assert run_to_open(store, session, token) is None
    done = finished(store, session)
    assert run_to_open(store, session, token) == done
    queued, _ = start_run(store, session, SMALL)  # requested, its process not started yet
    assert run_to_open(store, session, token) == queued
    store.update_run(session, queued, status=RUNNING, pid=2**22 + 7)  # a process that is gone
    store.beat(session, queued)
    assert run_to_open(store, session, token) == done


def test_opening_a_finished_run_shows_its_newest_epoch(store, session):
    run_id = finished(store, session)
    opened = open_run(store, session, run_id, {})
    assert opened["view"]["run"] == run_id and opened["view"]["latest"] == 3
    assert opened["value"] == opened["max"] == 3 and opened["label"] == "Epoch 3 / 3"
    assert not opened["watch"] and not opened["view"]["detached"]
    assert Ids.CURVES in opened["panels"] and Ids.U_MATRIX in opened["panels"]


def test_a_run_still_training_is_followed(store, session):
    run_id, _ = start_run(store, session, SMALL)
    store.update_run(session, run_id, status=RUNNING, pid=os.getpid())
    store.beat(session, run_id)
    opened = open_run(store, session, run_id, {})
    assert opened["watch"] and opened["view"]["detached"]
    assert opened["label"] == "waiting for the first epoch"


def test_runs_of_other_data_or_sessions_do_not_open(store, session):
    run_id = finished(store, session)
    store.put_dataset(session, dataset_record("other", "other", cloud(100, 3), None, None, None, "", "builtin"))
    assert open_run(store, session, run_id, {}) is None
    assert open_run(store, "7a1f9c52-3f0e-4c47-9a55-0e7d0b0c1d2e", run_id, {}) is None
