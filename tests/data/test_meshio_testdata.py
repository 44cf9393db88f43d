"""Every real file in the shared test data loads with the right counts, or fails clearly."""

from __future__ import annotations

import numpy as np
import pytest
from meshio_testkit import MESH_DIR, farthest_unmatched, independent_reading, to_unit_cube

from zsom_core.meshio import MeshError, load_mesh
from zsom_core.meshio.sniff import STL_BINARY, detect_format

ALL_FILES = sorted(p.name for p in MESH_DIR.glob("*")) if MESH_DIR.is_dir() else []

# What these files really contain decides the outcome (read with a hex viewer):
# empty.stl is "solid Empty / endsolid Empty", empty.obj a single comment line.
# busted.STL is not broken at all: it is a damaged *tooth*, a valid binary STL whose
# length matches its header (3,878 triangles). notenoughindices.obj has one two-corner
# face and one good triangle: the bad face is skipped with a note, the triangle loads.
EXPECTED_FAILURES = {
    "empty.stl": ("empty.stl", "no triangles"),
    "empty.obj": ("empty.obj", "no vertices"),
}
EXPECTED_NOTES = {
    "notenoughindices.obj": "skipped 1 face with fewer than three vertices",
    "two_objects.obj": "merged 2 objects",
    "multibody.stl": "merged 2 solids",
    "rabbit.obj": "merged 9 objects",
    "obj_points.obj": "file has no faces: treated as a point cloud",
}
POINT_CLOUDS = {"obj_points.obj"}
N_POINTS = 2_000


@pytest.fixture(params=ALL_FILES or ["(no shared test data)"])
def file_name(request, mesh_dir) -> str:
    return request.param


def test_the_shared_folder_has_the_files_its_readme_lists(mesh_dir):
    assert len(ALL_FILES) >= 21
    assert set(EXPECTED_FAILURES) | set(EXPECTED_NOTES) <= set(ALL_FILES)


def test_each_file_loads_with_independent_counts_or_fails_clearly(file_name, read_mesh):
    data = read_mesh(file_name)
    if file_name in EXPECTED_FAILURES:
        with pytest.raises(MeshError) as failure:
            load_mesh(data, file_name)
        for fragment in EXPECTED_FAILURES[file_name]:
            assert fragment in str(failure.value)
        return

    mesh = load_mesh(data, file_name, n_points=N_POINTS, seed=1)
    expected = independent_reading(data)

    assert mesh.filename == file_name
    assert mesh.format == file_name.rsplit(".", 1)[1].lower()
    assert mesh.points.shape == (N_POINTS, 3) and mesh.points.dtype == np.float32
    assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
    assert np.isfinite(mesh.points).all()
    if file_name in POINT_CLOUDS:
        assert mesh.is_point_cloud and mesh.faces.shape == (0, 3)
        assert len(mesh.vertices) == expected.file_vertices
        return

    assert not mesh.is_point_cloud
    assert len(mesh.faces) == expected.triangles - expected.degenerate
    assert len(mesh.vertices) == expected.distinct_vertices
    assert len(mesh.vertices) <= expected.file_vertices
    # Same vertex set as the independent reading, once both are normalised alike.
    reference = to_unit_cube(expected.vertices)
    assert farthest_unmatched(mesh.vertices, reference) < 1e-6
    assert farthest_unmatched(reference, mesh.vertices) < 1e-6
    if file_name in EXPECTED_NOTES:
        assert any(EXPECTED_NOTES[file_name] in note for note in mesh.notes), mesh.notes
    if expected.degenerate:
        assert any(f"dropped {expected.degenerate:,} degenerate" in note for note in mesh.notes)


def test_face_counts_match_what_the_file_declares(read_mesh, mesh_dir):
    """The raw counts the brief names: header count, 'facet normal' lines, 'f ' lines."""
    teapot = independent_reading(read_mesh("teapot.stl"))
    assert teapot.file_faces == teapot.triangles == 894
    multibody = independent_reading(read_mesh("multibody.stl"))
    assert multibody.file_faces == multibody.triangles == 32
    polygons = independent_reading(read_mesh("polygonfaces.obj"))  # one pentagon
    assert (polygons.file_faces, polygons.triangles) == (1, 3)
    quads = independent_reading(read_mesh("quadknot.obj"))
    assert quads.triangles == 2 * quads.file_faces
    assert len(load_mesh(read_mesh("quadknot.obj"), "quadknot.obj").faces) == quads.triangles


@pytest.mark.parametrize("name", ["angle_block.STL", "unit_sphere.STL", "busted.STL", "cube.OBJ"])
def test_upper_case_extensions_load(name, read_mesh):
    mesh = load_mesh(read_mesh(name), name, n_points=100)
    assert mesh.format == name.rsplit(".", 1)[1].lower()
    assert len(mesh.faces) > 0


def test_binary_stl_whose_header_starts_with_solid_is_read_as_binary(read_mesh):
    data = read_mesh("angle_block.STL")
    assert data.startswith(b"solid")
    assert detect_format(data, "angle_block.STL") == STL_BINARY
    assert len(load_mesh(data, "angle_block.STL", n_points=100).faces) == 704


def test_negative_indices_and_crlf_files_give_the_same_geometry_as_their_counts(read_mesh):
    negative = load_mesh(read_mesh("negative_indices.obj"), "negative_indices.obj", n_points=600)
    # A cube of 6 quads: 8 corners, 12 triangles, every sample on the surface of [-0.5, 0.5]^3.
    assert negative.vertices.shape == (8, 3) and negative.faces.shape == (12, 3)
    assert np.allclose(np.abs(negative.vertices), 0.5)
    assert np.isclose(np.abs(negative.points).max(axis=1), 0.5, atol=1e-6).all()
    assert b"\r\n" in read_mesh("zsom_bunny.obj") and b"\r\n" in read_mesh("quadknot.obj")


def test_loaded_meshes_are_centred_in_the_unit_cube_with_their_aspect_ratio(read_mesh, mesh_dir):
    for name in ("teapot.stl", "fuze.obj", "zsom_duck.obj", "angle_block.STL"):
        data = read_mesh(name)
        mesh = load_mesh(data, name, n_points=500)
        low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
        np.testing.assert_allclose((low + high) / 2, 0.0, atol=1e-6)
        assert np.isclose((high - low).max(), 1.0, atol=1e-6)
        assert (mesh.points >= -0.5).all() and (mesh.points <= 0.5).all()
        raw = independent_reading(data).vertices
        raw_extent = raw.max(axis=0) - raw.min(axis=0)
        np.testing.assert_allclose(high - low, raw_extent / raw_extent.max(), atol=1e-6)
