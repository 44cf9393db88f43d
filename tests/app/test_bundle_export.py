"""The run bundle of a trained run: read back as untrusted input, and its README's lines
train the same map again."""

import io
import json
import zipfile

import numpy as np
import pytest
from ui_testkit import cloud

from callbacks.data import dataset_record
from callbacks.exports import run_bundle
from callbacks.trained_map import MapUnavailable, trained_map
from components.settings import DEFAULTS, parse_settings
from zsom_core.bundle import read_bundle, sha256
from zsom_jobs import Runs
from zsom_jobs.training import run_training


class NoBackend:
    """Starts nothing: the test trains the run in this process."""

    def start(self, session_id, run_id):
        return f"job-{run_id}"

    def stop(self, handle):
        pass

    def alive(self, handle):
        return True

    def queue_place(self, handle):
        return None


def _trained_run(store, session_id, source="builtin", **changes):
    points = cloud(300, 3, seed=5)
    store.put_dataset(session_id, dataset_record("blob-token", "blob", "Blob", points, None, None, None,
                                                 "a blob", source))
    if source == "upload":
        store.put_upload(session_id, "blob.csv", b"x,y,z\n1,2,3\n")
    settings = parse_settings({**DEFAULTS, "auto_size": False, "auto_sigma": False, "width": 6, "height": 5,
                               "epochs": 7, "sigma": 2.5, "topology": "hex", **changes})
    record = Runs(store, NoBackend()).start(session_id, settings.run_settings(), settings.schedule())
    run_training(store, session_id, record.run, max_jobs=1)
    return store.get_run(session_id, record.run), store.get_dataset(session_id)


def test_a_built_in_datasets_bundle_holds_its_rows_and_trains_the_same_map_again(store, session_id, tmp_path,
                                                                                monkeypatch):
    record, dataset = _trained_run(store, session_id)
    shown = trained_map(store, session_id, record.run, 3)  # the bundle is the whole run, whatever epoch is shown
    content = run_bundle(store, session_id, shown, dataset, with_data=False)
    bundle = read_bundle(content)
    assert bundle.settings == record.settings
    assert [row["epoch"] for row in bundle.metrics] == list(range(1, 8))
    history = store.get_history(session_id, record.run)
    assert [row["mqe"] for row in bundle.metrics] == [float(value) for value in history["mqe"]]
    last = store.get_epoch(session_id, record.run, 7)["weights"]
    assert np.array_equal(bundle.model.weights_.reshape(30, 3), last)
    assert bundle.data == {"name": "Blob", "source": "builtin", "rows": 300, "features": 3,
                           "included": "points.npy", "included_sha256": sha256(bundle.data_file[1])}
    # Unzipped, the README's lines train the map again: the job's map, to its float32 storage.
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        archive.extractall(tmp_path)
    monkeypatch.chdir(tmp_path)
    lines = bundle.readme.split("train it again with zsom_core:\n\n", 1)[1]
    namespace = {}
    exec(lines, namespace)  # this project's own lines, from the bundle it just wrote
    np.testing.assert_allclose(namespace["som"].weights_.reshape(30, 3), last, rtol=1e-6, atol=1e-6)


def test_an_uploads_bundle_names_the_file_and_holds_its_rows_only_when_asked(store, session_id):
    record, dataset = _trained_run(store, session_id, source="upload")
    shown = trained_map(store, session_id, record.run, 7)
    without = read_bundle(run_bundle(store, session_id, shown, dataset, with_data=False))
    assert without.data_file is None
    assert without.data["file"] == "blob.csv" and without.data["file_sha256"] == sha256(b"x,y,z\n1,2,3\n")
    assert "with data" in without.readme
    with_data = read_bundle(run_bundle(store, session_id, shown, dataset, with_data=True))
    rows = np.load(io.BytesIO(with_data.data_file[1]), allow_pickle=False)
    assert np.array_equal(rows, dataset["points"])
    assert json.loads(json.dumps(with_data.data))["included"] == "points.npy"


def test_a_run_without_an_epoch_has_no_bundle(store, session_id):
    record, dataset = _trained_run(store, session_id)
    store.cache.delete(store.key(session_id, "run", record.run, "history"))
    with pytest.raises(MapUnavailable, match="no epoch"):
        run_bundle(store, session_id, trained_map(store, session_id, record.run, 7), dataset, with_data=False)
