"""The data callback's logic called directly: built-in datasets and uploads."""

import base64
import re

import pytest

from callbacks.data import builtin_record, decode_upload, upload_record
from components.settings import SettingsError
from zsom_core.meshio import MeshError


def test_builtin_datasets_are_prepared_for_display(store):
    record = builtin_record(store, "clusters", 1000)
    assert record["points"].shape == (1000, 2)
    assert record["display"]["kind"] == "2d"
    # The same data has the same token (so that its runs are found again), other data another.
    assert builtin_record(store, "clusters", 1000)["token"] == record["token"]
    assert builtin_record(store, "clusters", 1001)["token"] != record["token"]
    assert builtin_record(store, "rings", 1000)["token"] != record["token"]
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


@pytest.mark.parametrize("name", ["notes.txt", "rabbit.obj.txt", "blob.bin", "no-extension"])
def test_a_file_that_is_not_named_as_a_mesh_is_refused_unread(name):
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"  # a valid OBJ, under another name
    with pytest.raises(MeshError, match=re.escape(f"{name}: not a mesh or table file")):
        upload_record(obj, name, 200)
    assert upload_record(obj, "rabbit.OBJ", 200)["label"] == "rabbit.OBJ"
