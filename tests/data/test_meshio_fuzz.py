"""Hostile bytes: the loader raises MeshError or returns a valid mesh, never anything else."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meshio_testkit import MESH_DIR, ascii_stl, box, ply_bytes

from zsom_core.meshio import LoadedMesh, MeshError, MeshLimits, load_mesh
from zsom_core.meshio.errors import sanitise_filename

N_POINTS = 32
# Small limits keep a mutated count from asking for much work, and exercise the checks.
LIMITS = MeshLimits(max_bytes=1 << 20, max_faces=200_000, max_vertices=200_000)
FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _corpus() -> list[tuple[str, bytes]]:
    """Real files under 250 KB plus generated PLY and ASCII STL (no PLY in the shared data)."""
    vertices, faces = box((1.0, 2.0, 3.0))
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    corpus = [
        ("quads.ply", ply_bytes(vertices, quads)),
        ("box.ply", ply_bytes(vertices, faces, "binary_little_endian")),
        ("box_be.ply", ply_bytes(vertices, faces, "binary_big_endian")),
        ("box.stl", ascii_stl(vertices[np.array(faces)])),
    ]
    if MESH_DIR.is_dir():
        corpus += [(p.name, p.read_bytes()) for p in sorted(MESH_DIR.glob("*")) if p.stat().st_size < 250_000]
    return corpus


CORPUS = _corpus()
NAMES = st.sampled_from(["mesh.obj", "mesh.stl", "mesh.ply", "MESH.OBJ", "mesh.STL", "mesh"])


def assert_mesherror_or_valid(data: bytes, name: str) -> None:
    try:
        mesh = load_mesh(data, name, n_points=N_POINTS, seed=0, limits=LIMITS)
    except MeshError as error:
        assert str(error).startswith(sanitise_filename(name) + ": ")
        return
    assert isinstance(mesh, LoadedMesh)
    assert mesh.points.shape == (N_POINTS, 3) and mesh.points.dtype == np.float32
    assert np.isfinite(mesh.points).all() and np.isfinite(mesh.vertices).all()
    assert (np.abs(mesh.points) <= 0.5).all() and (np.abs(mesh.vertices) <= 0.5).all()
    assert mesh.faces.dtype == np.int32 and mesh.faces.ndim == 2 and mesh.faces.shape[1] == 3
    if mesh.is_point_cloud:
        assert len(mesh.faces) == 0
    else:
        assert len(mesh.faces) > 0 and 0 <= mesh.faces.min() and mesh.faces.max() < len(mesh.vertices)


@st.composite
def mutated_files(draw) -> tuple[bytes, str]:
    original_name, data = draw(st.sampled_from(CORPUS))
    mutation = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
    if mutation == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif mutation == "flip":
        buffer = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            # Bias half the flips into the first 200 bytes, where headers and counts live.
            limit = len(buffer) - 1 if draw(st.booleans()) else min(len(buffer) - 1, 200)
            buffer[draw(st.integers(0, limit))] = draw(st.integers(0, 255))
        data = bytes(buffer)
    else:
        at = draw(st.integers(0, len(data)))
        if mutation == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
    name = draw(st.one_of(st.just(original_name), NAMES))
    return data, name


@FUZZ
@given(mutated_files())
def test_mutated_real_files(case):
    assert_mesherror_or_valid(*case)


@FUZZ
@given(st.binary(max_size=4096), NAMES)
def test_random_bytes(data, name):
    assert_mesherror_or_valid(data, name)


_NUMBER = st.sampled_from(["0", "1", "-1", "2.5", "1e400", "nan", "-0", "1e-320", "x", ""])
_INDEX = st.sampled_from(
    ["1", "2", "3", "4", "-1", "-3", "0", "99", "1/1", "2//2", "3/3/3", "-9999999999999999999"]
)


@st.composite
def obj_like_text(draw) -> bytes:
    """Syntactically plausible OBJ lines with hostile numbers and indices."""
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["v", "v", "f", "f", "vt", "o", "usemtl", "#", "g", "l"]))
        if kind == "v":
            lines.append("v " + " ".join(draw(st.lists(_NUMBER, min_size=0, max_size=4))))
        elif kind == "f":
            lines.append("f " + " ".join(draw(st.lists(_INDEX, min_size=0, max_size=5))))
        else:
            lines.append(f"{kind} {draw(_NUMBER)}")
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return end.join(lines).encode()


@FUZZ
@given(obj_like_text())
def test_obj_like_text(data):
    assert_mesherror_or_valid(data, "fuzz.obj")


_NASTY_INPUTS = textwrap.dedent(
    """
    import struct
    from zsom_core.meshio import MeshError, load_mesh

    ply_head = (
        b"ply\\nformat binary_little_endian 1.0\\nelement vertex 3\\n"
        b"property float x\\nproperty float y\\nproperty float z\\n"
    )
    list_of_4_billion = b"element face 1\\nproperty list uint int vertex_indices\\nend_header\\n"
    nasty = {
        "maxcount.stl": b"solid".ljust(80) + struct.pack("<I", 0xFFFFFFFF) + bytes(50),
        "hugelist.ply": ply_head + list_of_4_billion + bytes(36) + b"\\xff\\xff\\xff\\xff" + bytes(12),
        "hugeindex.obj": b"v 0 0 0\\nv 1 0 0\\nv 0 1 0\\nf 1 2 9223372036854775807\\n"
        b"f -9223372036854775808 1 2\\n",
        "longline.obj": b"v " + b"9" * 1_000_000 + b" 0 0\\nv 1 0 0\\nv 0 1 0\\nf 1 2 3\\n",
        "deep.obj": b"v 0 0 0\\n" + b"\\\\\\n" * 100_000 + b"f 1 1 1\\n",
        "zeros.ply": b"ply\\nformat ascii 1.0\\nelement vertex 0\\nelement face 0\\nend_header\\n",
        "header.ply": b"ply\\nformat ascii 1.0\\n" + b"comment x\\n" * 20_000,
        "noise.stl": bytes(range(256)) * 4096,
    }
    for name, data in nasty.items():
        try:
            load_mesh(data, name, n_points=16)
        except MeshError:
            pass
    print("survived", len(nasty))
    """
)


def test_nasty_inputs_do_not_crash_the_interpreter():
    """A segfault or abort would kill pytest itself; a subprocess reports it as a code."""
    repository_root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _NASTY_INPUTS],
        cwd=repository_root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "survived 8" in result.stdout


@pytest.mark.parametrize("name", ["zsom_duck.obj", "quadknot.obj"])
def test_every_truncation_point_class_of_a_large_file(name, read_mesh):
    """Deterministic spot checks on the larger files the fuzz corpus leaves out."""
    data = read_mesh(name)
    for fraction in (0.0, 0.001, 0.25, 0.5, 0.999):
        assert_mesherror_or_valid(data[: int(len(data) * fraction)], name)
