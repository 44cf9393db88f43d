"""Choosing data: built-in sets and uploaded meshes, good and bad."""

import pytest

pytestmark = pytest.mark.browser


def test_a_dataset_appears_at_once_with_its_sample_count(dashboard):
    assert "bunny" in dashboard.page.text_content("#panel-data-view .gtitle")
    dashboard.choose_dataset("swiss")
    assert dashboard.page.input_value("#sample-count") == "1000"
    dashboard.set_number("sample-count", 2500)
    dashboard.wait_for_status("2,500 points")
    dashboard.wait_for_text("#panel-data-view .gtitle", "swiss, 2,500 points")


def test_an_out_of_range_sample_count_is_refused(dashboard):
    dashboard.set_number("sample-count", 50)
    dashboard.wait_for_text("#data-info", "sample count must be a whole number from 100 to 200,000, got 50")


def test_uploaded_mesh_trains(dashboard, mesh_dir):
    dashboard.upload(mesh_dir / "teapot.stl")
    dashboard.wait_for_status("ready.*teapot.stl")
    assert "Loaded teapot.stl" in dashboard.page.inner_text("#upload-message")
    dashboard.wait_for_text("#panel-data-view .gtitle", "teapot.stl")
    dashboard.set_number("epochs", 20)
    dashboard.train()
    assert "Epoch 20 / 20" in dashboard.wait_for_status("done")


@pytest.mark.parametrize(("name", "expected"), [("empty.stl", "no triangles"), ("busted.STL", "busted.STL")])
def test_bad_uploads_are_explained_next_to_the_upload(dashboard, mesh_dir, name, expected):
    dashboard.upload(mesh_dir / name)
    dashboard.page.wait_for_function("document.getElementById('upload-message').innerText.length > 0")
    message = dashboard.page.inner_text("#upload-message")
    assert expected in message and name in message
    # The app keeps serving this session.
    dashboard.set_number("epochs", 3)
    dashboard.train()
    dashboard.wait_for_status("done")


@pytest.mark.parametrize("name", ["notes.txt", "rabbit.obj.txt"])
def test_a_file_that_is_not_a_mesh_is_refused_with_a_message(dashboard, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    dashboard.upload(path)
    message = dashboard.wait_for_text("#upload-message", "not a mesh or table file")
    assert name in message and ".obj, .stl, .ply, .csv" in message
