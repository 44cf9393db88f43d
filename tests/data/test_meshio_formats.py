"""Format sniffing, per-format details, validation, limits and messages of the mesh loader."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from meshio_testkit import ascii_stl, binary_stl, box, obj_text, ply_bytes, to_unit_cube

import zsom_core.meshio.obj as obj_module
import zsom_core.meshio.ply as ply_module
import zsom_core.meshio.stl as stl_module
from zsom_core.meshio import MeshError, MeshLimits, load_mesh
from zsom_core.meshio.errors import sanitise_filename
from zsom_core.meshio.sniff import OBJ, PLY, STL_ASCII, STL_BINARY, detect_format

BOX_VERTICES, BOX_FACES = box((4.0, 2.0, 1.0), offset=(10.0, -5.0, 3.0))
BOX_TRIANGLES = BOX_VERTICES[np.array(BOX_FACES)]


def refuse_to_parse(*args, **kwargs):
    raise AssertionError("the parser ran although the pre-count should have refused the file")


# ---------------------------------------------------------------------------------------
# Sniffing: content decides, the extension only hints


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (binary_stl(BOX_TRIANGLES), STL_BINARY),
        (binary_stl(BOX_TRIANGLES, header=b"solid pretending to be ascii"), STL_BINARY),
        (ascii_stl(BOX_TRIANGLES), STL_ASCII),
        (ply_bytes(BOX_VERTICES, BOX_FACES), PLY),
        (ply_bytes(BOX_VERTICES, BOX_FACES, "binary_little_endian"), PLY),
        (obj_text(BOX_VERTICES, BOX_FACES), OBJ),
        (b"# exported\n\nmtllib x.mtl\nv 0 0 0\n", OBJ),
    ],
)
def test_format_is_detected_from_content_whatever_the_name(data, expected):
    for name in ("mesh.obj", "mesh.stl", "mesh.ply", "MESH.STL", "mesh.bin", "mesh"):
        assert detect_format(data, name) == expected


@pytest.mark.parametrize("name", ["model.obj", "model.STL", "model.ply", "model"])
def test_stl_bytes_load_as_stl_under_any_name(name):
    mesh = load_mesh(binary_stl(BOX_TRIANGLES), name, n_points=100)
    assert mesh.format == "stl" and mesh.faces.shape == (12, 3) and mesh.vertices.shape == (8, 3)


def test_ascii_stl_and_upper_case_names_load():
    mesh = load_mesh(ascii_stl(BOX_TRIANGLES).replace(b"vertex", b"VERTEX"), "BOX.STL", n_points=100)
    assert mesh.format == "stl" and mesh.faces.shape == (12, 3)


@pytest.mark.parametrize(
    ("data", "name", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "picture.obj", "not a valid OBJ"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "picture.png", "unrecognised mesh format .png"),
        (b"glTF" + bytes(100), "scene.glb", "Upload an OBJ, STL (binary or ASCII) or PLY"),
        (b"hello world\n", "notes.txt", "unrecognised mesh format .txt"),
        (b"hello world\n", "notes.ply", "starts with the line 'ply'"),
        (b"solid x\n" + b"nothing here\n" * 10, "thing.stl", "not a valid STL"),
        (b"solid x\n", "tiny.stl", "too short for a binary STL"),
        (bytes(50), "short.stl", "too short for a binary STL"),
    ],
)
def test_unknown_content_is_refused_with_a_message(data, name, fragment):
    with pytest.raises(MeshError, match="^" + name.replace(".", r"\.")) as failure:
        load_mesh(data, name)
    assert fragment in str(failure.value)


def test_truncated_binary_stl_says_so():
    data = binary_stl(BOX_TRIANGLES)[:-7]
    with pytest.raises(MeshError, match="announces 12 triangles") as failure:
        load_mesh(data, "box.stl")
    assert "truncated" in str(failure.value)


# ---------------------------------------------------------------------------------------
# OBJ specifics


def test_relative_indices_count_from_the_latest_vertex_not_the_end_of_the_file():
    # Two objects, each listing its vertices then a face with -3 -2 -1. trimesh alone
    # would resolve both faces against the file's last three vertices.
    data = b"o a\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf -3 -2 -1\no b\nv 0 0 5\nv 1 0 5\nv 0 1 5\nf -3 -2 -1\n"
    mesh = load_mesh(data, "two.obj", n_points=1_000)
    assert mesh.faces.shape == (2, 3) and mesh.vertices.shape == (6, 3)
    corners_z = np.sort(mesh.vertices[mesh.faces][:, :, 2].mean(axis=1))
    np.testing.assert_allclose(corners_z, [-0.5, 0.5])
    assert set(np.round(mesh.points[:, 2], 6)) == {-0.5, 0.5}


def test_relative_index_before_the_first_vertex_is_out_of_range():
    with pytest.raises(MeshError, match="relative index -4") as failure:
        load_mesh(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf -4 -2 -1\n", "bad.obj")
    assert "out of range" in str(failure.value)


@pytest.mark.parametrize(
    ("faces", "fragment"),
    [
        ("f 1 2 9", "face 1 refers to vertex 9, but the file defines only 3 vertices"),
        ("f 1 2 3\nf 0 1 2", "face 2 refers to vertex index 0, but OBJ indices start at 1"),
        ("f 1 2 3\nf 1 2 x", "not a whole number (face 2)"),
        ("f 1 2\nf 2 3", "none of the file's 2 faces has three or more vertices"),
    ],
)
def test_bad_obj_faces_are_refused_with_the_face_named(faces, fragment):
    with pytest.raises(MeshError) as failure:
        load_mesh(b"v 0 0 0\nv 1 0 0\nv 0 1 0\n" + faces.encode(), "faces.obj")
    assert str(failure.value).startswith("faces.obj: ") and fragment in str(failure.value)


@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
def test_obj_line_ends_tabs_comments_and_polygons(line_end):
    lines = [
        b"# a pentagon and a quad, tab separated, with comments",
        b"mtllib ../../etc/passwd",
        b"v\t0 0 0", b"  v 2 0 0 # indented", b"v 3 2 0", b"v 1 3 0", b"v -1 2 0",
        b"v 0 0 1", b"v 2 0 1",
        b"usemtl shiny", b"f 1/1 2/2 3/3 4/4 5/5", b"g side", b"f 1//1 2//1 7//1 6//1",
    ]  # fmt: skip
    mesh = load_mesh(line_end.join(lines) + line_end, "poly.obj", n_points=100)
    assert mesh.faces.shape == (3 + 2, 3) and mesh.vertices.shape == (7, 3)


def test_material_and_object_statements_never_reach_trimesh(monkeypatch):
    """trimesh does a pass over all vertices per material: many materials would be quadratic."""
    seen = []
    original_load_obj = obj_module.load_obj

    def spy(file_obj, **kwargs):
        text = file_obj.read()
        seen.append((text, kwargs))
        return original_load_obj(io.StringIO(text), **kwargs)

    monkeypatch.setattr(obj_module, "load_obj", spy)
    lines = [f"v {i} {i * i % 7} {i % 3}" for i in range(300)]
    for k in range(100):
        lines += [f"o part{k}", f"usemtl m{k}", f"g group{k}", "s 1", f"f {k + 1} {k + 2} {k + 3}"]
    mesh = load_mesh(("mtllib a.mtl\n" + "\n".join(lines)).encode(), "many.obj", n_points=10)
    assert len(mesh.faces) == 100 and "merged 100 objects into one mesh" in mesh.notes
    text, kwargs = seen[0]
    assert not any(word in text for word in ("usemtl", "mtllib", "\no ", "\ng ", "\ns "))
    assert kwargs["skip_materials"] is True


def test_loading_never_opens_a_file(monkeypatch):
    """The upload is parsed in memory, and references to other files are not followed."""

    def no_files(*args, **kwargs):
        raise AssertionError(f"the loader tried to open {args[:1]}")

    obj = b"mtllib /etc/passwd\nusemtl x\n" + obj_text(BOX_VERTICES, BOX_FACES)
    ply = ply_bytes(BOX_VERTICES, BOX_FACES).replace(b"end_header", b"comment TextureFile /etc/passwd\nend_header")
    monkeypatch.setattr("builtins.open", no_files)
    monkeypatch.setattr("io.open", no_files)
    assert len(load_mesh(obj, "refs.obj", n_points=10).faces) == 12
    assert len(load_mesh(ply, "refs.ply", n_points=10).faces) == 12


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_obj_coordinates_are_refused(bad):
    data = f"v 0 0 0\nv 1 0 0\nv 0 {bad} 0\nf 1 2 3\n".encode()
    with pytest.raises(MeshError, match="NaN or infinite") as failure:
        load_mesh(data, "nan.obj")
    assert "nan.obj" in str(failure.value) and "vertex 3" in str(failure.value)


def test_vertices_need_three_coordinates():
    with pytest.raises(MeshError, match="three coordinates"):
        load_mesh(b"v 0 0\nv 1 0\nv 0 1\nf 1 2 3\n", "flat.obj")


# ---------------------------------------------------------------------------------------
# PLY


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_in_every_encoding_with_quads(encoding):
    vertices, _ = box((1.0, 2.0, 3.0))
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    mesh = load_mesh(ply_bytes(vertices, quads, encoding), "box.PLY", n_points=500)
    assert mesh.format == "ply" and mesh.faces.shape == (12, 3) and mesh.vertices.shape == (8, 3)
    np.testing.assert_allclose(mesh.vertices.max(axis=0), [1 / 6, 1 / 3, 0.5], atol=1e-6)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_ply_with_mixed_polygons(encoding):
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [-1, 0.5, 0], [0, 0, 1]], dtype=float)
    faces = [[0, 1, 2, 3, 4], [0, 1, 5]]
    if encoding != "ascii":
        # trimesh reads binary lists as if all had the first one's length: refused cleanly.
        with pytest.raises(MeshError, match="box.ply: .* mix triangles with other polygons"):
            load_mesh(ply_bytes(vertices, faces, encoding), "box.ply")
        return
    mesh = load_mesh(ply_bytes(vertices, faces, encoding), "box.ply", n_points=100)
    assert mesh.faces.shape == (4, 3)


def test_ply_without_faces_is_a_point_cloud():
    vertices = np.random.default_rng(0).normal(size=(100, 3))
    mesh = load_mesh(ply_bytes(vertices, None, "binary_little_endian"), "cloud.ply", n_points=30)
    assert mesh.is_point_cloud and mesh.vertices.shape == (100, 3)
    np.testing.assert_allclose(mesh.vertices, to_unit_cube(vertices), atol=1e-6)


@pytest.mark.parametrize("encoding", ["ascii", "binary_little_endian"])
def test_truncated_ply_says_so(encoding):
    data = ply_bytes(BOX_VERTICES, BOX_FACES, encoding)
    with pytest.raises(MeshError, match="truncated"):
        load_mesh(data[: len(data) - 60], "cut.ply")


def test_ply_face_index_out_of_range():
    with pytest.raises(MeshError, match="out of range") as failure:
        load_mesh(ply_bytes(BOX_VERTICES, [[0, 1, 8]]), "range.ply")
    assert "refers to vertex index 8" in str(failure.value) and "range.ply" in str(failure.value)


@pytest.mark.parametrize(
    ("header_line", "fragment"),
    [
        ("format binary_middle_endian 1.0", "second line of a PLY header must be"),
        ("element vertex lots", "is not understood"),
        ("property quaternion w", "unknown type"),
    ],
)
def test_malformed_ply_headers(header_line, fragment):
    data = ply_bytes(BOX_VERTICES, BOX_FACES)
    if header_line.startswith("format"):
        data = data.replace(b"format ascii 1.0", header_line.encode())
    else:
        data = data.replace(b"end_header", header_line.encode() + b"\nend_header")
    with pytest.raises(MeshError, match=fragment):
        load_mesh(data, "head.ply")


# ---------------------------------------------------------------------------------------
# Validation and normalisation


def test_normalisation_centres_scales_by_the_largest_extent_and_keeps_the_aspect_ratio():
    mesh = load_mesh(obj_text(BOX_VERTICES, BOX_FACES), "box.obj", n_points=1_000)
    low, high = mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)
    np.testing.assert_allclose((low + high) / 2, 0, atol=1e-7)
    np.testing.assert_allclose(high - low, [1.0, 0.5, 0.25], atol=1e-7)  # 4 : 2 : 1 kept
    # Points get the same transform as vertices: they stay inside the box.
    assert (np.abs(mesh.points) <= high + 1e-7).all()


def test_duplicate_vertices_are_merged_and_degenerate_faces_dropped():
    triangles = np.concatenate([
        BOX_TRIANGLES,
        [[[10, -5, 3], [10, -5, 3], [14, -3, 4]]],  # two equal corners
        [[[10, -5, 3], [12, -4, 3.5], [14, -3, 4]]],  # corners in a line
    ])  # fmt: skip
    mesh = load_mesh(binary_stl(triangles), "soup.stl", n_points=100)
    assert mesh.faces.shape == (12, 3) and mesh.vertices.shape == (8, 3)
    assert "dropped 2 degenerate faces (zero area)" in mesh.notes
    # The collinear face's middle corner is no longer used by any face.
    assert not np.isclose(mesh.vertices, [0.0, 0.0, 0.0], atol=1e-6).all(axis=1).any()


def test_a_mesh_of_only_degenerate_faces_is_refused():
    with pytest.raises(MeshError, match="all 2 faces have zero area"):
        load_mesh(b"v 0 0 0\nv 1 1 1\nv 2 2 2\nf 1 2 3\nf 1 1 2\n", "line.obj")


def test_a_mesh_of_zero_extent_is_refused():
    with pytest.raises(MeshError, match="same point"):
        load_mesh(b"v 1 1 1\nv 1 1 1\nv 1 1 1\n", "dot.obj")


def test_huge_coordinates_do_not_overflow():
    vertices = BOX_VERTICES * 1e300
    mesh = load_mesh(obj_text(vertices, BOX_FACES), "huge.obj", n_points=100)
    np.testing.assert_allclose(mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0), [1.0, 0.5, 0.25], atol=1e-6)
    with pytest.raises(MeshError, match="too large"):
        load_mesh(obj_text(np.array([[-1.7e308, 0, 0], [1.7e308, 0, 0], [0, 1, 0]]), [[0, 1, 2]]), "wide.obj")


# ---------------------------------------------------------------------------------------
# Limits: checked before parsing, from counts read off the raw bytes


def test_too_many_bytes_is_refused_before_anything_else(monkeypatch):
    monkeypatch.setattr("zsom_core.meshio.loader.detect_format", refuse_to_parse)
    with pytest.raises(MeshError, match="larger than the limit of 1.0 KB") as failure:
        load_mesh(binary_stl(BOX_TRIANGLES) * 4, "big.stl", limits=MeshLimits(max_bytes=1024))
    assert "big.stl: the file is 2.7 KB" in str(failure.value)


def test_binary_stl_face_count_is_checked_from_the_header(monkeypatch):
    monkeypatch.setattr(stl_module, "load_stl_binary", refuse_to_parse)
    with pytest.raises(MeshError, match="declares 12 faces, more than the limit of 10"):
        load_mesh(binary_stl(BOX_TRIANGLES), "box.stl", limits=MeshLimits(max_faces=10))


def test_ascii_stl_vertex_lines_are_counted_before_parsing(monkeypatch):
    monkeypatch.setattr(stl_module, "load_stl_ascii", refuse_to_parse)
    with pytest.raises(MeshError, match="declares 36 vertices"):
        load_mesh(ascii_stl(BOX_TRIANGLES), "box.stl", limits=MeshLimits(max_vertices=20))


def test_obj_lines_are_counted_before_parsing(monkeypatch):
    monkeypatch.setattr(obj_module, "load_obj", refuse_to_parse)
    data = obj_text(BOX_VERTICES, BOX_FACES)
    with pytest.raises(MeshError, match="declares 12 faces"):
        load_mesh(data, "box.obj", limits=MeshLimits(max_faces=11))
    with pytest.raises(MeshError, match="declares 8 vertices"):
        load_mesh(data, "box.obj", limits=MeshLimits(max_vertices=7))
    # Polygons count by the triangles they make: 6 quads are 12 triangles.
    quads = b"".join(f"v {x} {y} {z}\n".encode() for x, y, z in BOX_VERTICES)
    quads += b"f 1 2 4 3\nf 5 7 8 6\nf 1 5 6 2\nf 3 4 8 7\nf 1 3 7 5\nf 2 6 8 4\n"
    with pytest.raises(MeshError, match="polygons make 12 faces"):
        load_mesh(quads, "quads.obj", limits=MeshLimits(max_faces=11))


def test_ply_header_counts_are_checked_before_parsing(monkeypatch):
    monkeypatch.setattr(ply_module, "load_ply", refuse_to_parse)
    header = b"ply\nformat binary_little_endian 1.0\nelement vertex 4999999999\nproperty float x\n"
    header += b"property float y\nproperty float z\nend_header\n"
    with pytest.raises(MeshError, match="declares 4,999,999,999 vertices"):
        load_mesh(header + bytes(36), "liar.ply")


def test_a_header_promising_more_than_the_bytes_hold_fails_fast():
    header = b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000\nproperty float x\n"
    header += b"property float y\nproperty float z\nend_header\n"
    start = time.perf_counter()
    with pytest.raises(MeshError, match="truncated"):
        load_mesh(header + bytes(36), "liar.ply")
    stl = binary_stl(BOX_TRIANGLES, count=1_000_000)
    with pytest.raises(MeshError, match="announces 1,000,000 triangles"):
        load_mesh(stl, "liar.stl")
    assert time.perf_counter() - start < 1.0


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_faces"):
        MeshLimits(max_faces=0)
    with pytest.raises(ValueError, match="n_points"):
        load_mesh(obj_text(BOX_VERTICES, BOX_FACES), "box.obj", n_points=0)
    with pytest.raises(TypeError):
        load_mesh("v 0 0 0", "text.obj")


# ---------------------------------------------------------------------------------------
# File names in messages


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("C:\\Users\\me\\Desktop\\bunny.stl", "bunny.stl"),
        ("../../etc/passwd.obj", "passwd.obj"),
        ("evil\nname\r\x1b[31m.obj", "evilname[31m.obj"),
        ("\u202etxt.obj", "txt.obj"),  # right-to-left override removed
        ("", "upload"),
        ("/", "upload"),
    ],
)
def test_file_names_are_sanitised(raw, shown):
    assert sanitise_filename(raw) == shown


def test_messages_name_the_sanitised_file():
    with pytest.raises(MeshError) as failure:
        load_mesh(b"", "/tmp/uploads/\x00empty\n.stl")
    assert str(failure.value).startswith("empty.stl: the file is empty")
    mesh = load_mesh(obj_text(BOX_VERTICES, BOX_FACES), "dir/sub\\box\t.obj", n_points=10)
    assert mesh.filename == "box.obj"


def test_parser_exceptions_are_chained_into_mesh_errors():
    # The first face claims 200 corners: trimesh's own length check fails.
    data = ply_bytes(BOX_VERTICES, BOX_FACES, "binary_little_endian")
    first_face = data.index(b"end_header\n") + len(b"end_header\n") + 8 * 12
    corrupt = data[:first_face] + b"\xc8" + data[first_face + 1 :]
    with pytest.raises(MeshError, match="does not match its header") as failure:
        load_mesh(corrupt, "chained.ply")
    assert isinstance(failure.value.__cause__, ValueError)
    # Vertex text that is not a number fails inside trimesh's OBJ parser.
    with pytest.raises(MeshError, match="garbage.obj: the OBJ data could not be read") as failure:
        load_mesh(b"v 1 2 3\nv 1 2 x\nv 3 4 5\nf 1 2 3\n", "garbage.obj")
    assert failure.value.__cause__ is not None
