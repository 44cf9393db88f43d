"""Callback logic called directly: epochs for streaming and the timeline, data loading."""

import base64

import pytest
from dash import Patch, no_update
from dash.exceptions import PreventUpdate
from ui_testkit import cloud

from callbacks.data import builtin_record, dataset_record, decode_upload, upload_record
from callbacks.jobs import run_training
from callbacks.runs import run_panels
from callbacks.store import BUSY, FAILED
from callbacks.training import start_run
from callbacks.view import choose_epoch, epoch_view
from components.ids import PANELS, Ids
from components.settings import DEFAULTS, SettingsError
from zsom_core.meshio import MeshError


@pytest.fixture
def finished_run(store, session_id):
    """A session with a 2-D dataset and a finished 5-epoch run, and the view the browser
    holds once the run's skeletons arrived."""
    store.put_dataset(session_id, dataset_record("flat", "flat", cloud(600, 2), None, None, None, "", "builtin"))
    run_id, _ = start_run(store, session_id, {**DEFAULTS, "width": 5, "height": 4, "epochs": 5, "sigma": 2.0})
    _, view = run_panels(store, session_id, run_id, {})
    run_training(store, session_id, run_id, report=lambda _: None, max_jobs=1)
    return run_id, view


def test_a_streamed_epoch_patches_every_panel_and_follows(store, session_id, finished_run):
    run_id, view = finished_run
    out = epoch_view(store, session_id, Ids.PROGRESS, {"run": run_id, "epoch": 2}, None, None, view)
    assert set(out["panels"]) == set(PANELS)
    assert all(isinstance(patch, Patch) for patch in out["panels"].values())
    # The newest stored epoch is shown, which may be past the reported one.
    assert out["view"]["epoch"] == 5 and out["view"]["follow"] is True
    assert out["max"] == 5 and out["value"] == 5
    assert out["label"] == "Epoch 5 / 5"


def test_the_timeline_runs_the_same_patch_builder(store, session_id, finished_run):
    run_id, view = finished_run
    live = epoch_view(store, session_id, Ids.PROGRESS, {"run": run_id, "epoch": 5}, None, None, view)
    scrubbed = epoch_view(store, session_id, Ids.TIMELINE, None, None, 2, live["view"])
    assert set(scrubbed["panels"]) == set(live["panels"])
    assert scrubbed["view"]["epoch"] == 2 and scrubbed["view"]["follow"] is False
    assert scrubbed["value"] is no_update  # the slider already shows it
    assert scrubbed["label"] == "Epoch 2 / 5"
    # Different epochs, different maps.
    assert (scrubbed["panels"][Ids.U_MATRIX].to_plotly_json() != live["panels"][Ids.U_MATRIX].to_plotly_json())


def test_a_held_timeline_is_not_moved_by_the_stream(store, session_id, finished_run):
    run_id, view = finished_run
    held = {**view, "epoch": 2, "latest": 3, "follow": False}
    out = epoch_view(store, session_id, Ids.PROGRESS, {"run": run_id, "epoch": 5}, None, None, held)
    assert out["panels"] == {} and out["value"] is no_update
    assert out["max"] == 5 and out["view"]["epoch"] == 2


def test_the_final_state_shows_the_last_epoch_and_done(store, session_id, finished_run):
    run_id, view = finished_run
    out = epoch_view(store, session_id, Ids.RUN_RESULT, None, {"run": run_id, "status": "done", "epoch": 5}, None, view)
    assert out["view"]["epoch"] == 5
    text = str(out["status"])
    assert "Done" in text and "MQE" in text


def test_reports_of_a_replaced_run_are_ignored(store, session_id, finished_run):
    run_id, view = finished_run
    start_run(store, session_id, {**DEFAULTS, "width": 5, "height": 4, "epochs": 5})
    with pytest.raises(PreventUpdate):
        epoch_view(store, session_id, Ids.PROGRESS, {"run": run_id, "epoch": 5}, None, None, view)


def test_busy_and_failed_results_only_change_the_status(store, session_id):
    for status, word in ((BUSY, "Busy"), (FAILED, "Failed")):
        out = epoch_view(store, session_id, Ids.RUN_RESULT, None,
                         {"run": "r", "status": status, "epoch": 0, "message": "Server busy: 2 trainings"}, None, {})
        assert out["panels"] == {} and word in str(out["status"])


def test_choose_epoch_ignores_the_timeline_echo():
    with pytest.raises(PreventUpdate):
        choose_epoch(Ids.TIMELINE, None, None, 4, {"run": "r", "epoch": 4})
    with pytest.raises(PreventUpdate):
        choose_epoch(Ids.TIMELINE, None, None, 4, {})
    assert choose_epoch(Ids.TIMELINE, None, None, 3, {"run": "r", "epoch": 4}) == ("r", 3)
    assert choose_epoch(Ids.PROGRESS, {"run": "r", "epoch": 9}, None, None, {}) == ("r", None)


def test_same_grid_keeps_the_map_panels(store, session_id, finished_run):
    run_id, view = finished_run
    again, _ = start_run(store, session_id, {**DEFAULTS, "width": 5, "height": 4, "epochs": 5, "sigma": 1.0})
    updates, new_view = run_panels(store, session_id, again, view)
    assert set(updates) == {Ids.CURVES}
    bigger, _ = start_run(store, session_id, {**DEFAULTS, "width": 6, "height": 4, "epochs": 5})
    updates, _ = run_panels(store, session_id, bigger, new_view)
    assert set(updates) == set(PANELS)


def test_builtin_datasets_are_prepared_for_display(store):
    record = builtin_record(store, "clusters", 1000)
    assert record["points"].shape == (1000, 2)
    assert record["display"]["kind"] == "2d"
    assert builtin_record(store, "clusters", 1000)["token"] != record["token"]  # one token per choice
    with pytest.raises(SettingsError, match="unknown dataset"):
        builtin_record(store, "bogus", 1000)


def test_decode_upload_reads_data_urls():
    payload = base64.b64encode(b"solid x\nendsolid x\n").decode()
    assert decode_upload(f"data:application/sla;base64,{payload}").startswith(b"solid")
    with pytest.raises(MeshError, match="could not be read"):
        decode_upload("no comma here")
    with pytest.raises(MeshError):
        decode_upload("data:;base64,@@@")


def test_upload_of_a_real_mesh(mesh_dir):
    record = upload_record((mesh_dir / "teapot.stl").read_bytes(), "teapot.stl", 5000)
    assert record["points"].shape == (5000, 3)
    assert record["display"]["mesh"] is not None
    assert record["label"] == "teapot.stl"


def test_upload_of_an_empty_mesh_says_what_is_wrong(mesh_dir):
    with pytest.raises(MeshError, match="empty.stl"):
        upload_record((mesh_dir / "empty.stl").read_bytes(), "empty.stl", 5000)


def test_streamed_epochs_keep_cancel_live_until_the_run_ends(store, session_id, finished_run):
    run_id, view = finished_run
    store.update_run(session_id, run_id, status="running", force=True)
    streamed = epoch_view(store, session_id, Ids.PROGRESS, {"run": run_id, "epoch": 5}, None, None, view)
    assert streamed["cancel"] is False
    store.update_run(session_id, run_id, status="done", force=True)
    ended = epoch_view(store, session_id, Ids.RUN_RESULT, None, {"run": run_id, "status": "done", "epoch": 5},
                       None, view)
    assert ended["cancel"] is True
    scrubbed = epoch_view(store, session_id, Ids.TIMELINE, None, None, 2, {**view, **ended["view"]})
    assert scrubbed["cancel"] is no_update
