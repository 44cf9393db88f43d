"""Test oracles for the mesh loaders, written apart from the code under test.

Independent counters read the raw files with the simplest possible code (struct, string
splitting, float()), so the loader is checked against something that shares none of its
parsing. Builders write small OBJ/STL/PLY files for the format and limit tests.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# The shared test data lives next to the repository: <repo>/../shared/testdata/meshes.
MESH_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "meshes"

# The loader's definition of a degenerate face: area <= 1e-12 once the referenced
# vertices are scaled so their largest bounding-box extent is 1.
DEGENERATE_AREA = 1e-12


@dataclass(frozen=True)
class Expected:
    """What an independent reading of a mesh file says the loader must produce.

    file_faces: faces as the file counts them (header count, 'facet normal' or 'f ' lines).
    triangles: triangles after fan triangulation of polygons.
    degenerate: triangles of zero area (to be dropped).
    file_vertices: vertex records as stored ('v ' lines, or 3 per STL facet).
    distinct_vertices: distinct positions among vertices of non-degenerate triangles.
    vertices: those distinct positions, float64 (U, 3), in file units.
    """

    file_faces: int
    triangles: int
    degenerate: int
    file_vertices: int
    distinct_vertices: int
    vertices: np.ndarray


def independent_reading(data: bytes) -> Expected:
    """Read an STL (binary or ASCII) or OBJ file with naive code; see Expected."""
    if len(data) >= 84 and len(data) == 84 + 50 * struct.unpack("<I", data[80:84])[0]:
        return _read_binary_stl(data)
    text = data.decode("latin-1")
    if text.lstrip().lower().startswith("solid"):
        return _read_ascii_stl(text)
    return _read_obj(text)


def _read_binary_stl(data: bytes) -> Expected:
    count = struct.unpack("<I", data[80:84])[0]
    corners = []
    for k in range(count):
        record = data[84 + 50 * k : 84 + 50 * (k + 1)]
        corners.append(struct.unpack("<9f", record[12:48]))
    vertices = np.array(corners, dtype=np.float64).reshape(-1, 3)
    triangles = np.arange(len(vertices)).reshape(-1, 3)
    return _expected(count, vertices, triangles, file_vertices=3 * count)


def _read_ascii_stl(text: str) -> Expected:
    lines = [line.strip().lower() for line in text.splitlines()]
    facets = sum(1 for line in lines if line.startswith("facet normal"))
    vertices = np.array(
        [[float(word) for word in line.split()[1:4]] for line in lines if line.startswith("vertex ")],
        dtype=np.float64,
    ).reshape(-1, 3)
    triangles = np.arange(len(vertices)).reshape(-1, 3)
    return _expected(facets, vertices, triangles, file_vertices=len(vertices))


def _read_obj(text: str) -> Expected:
    vertices, triangles, face_lines = [], [], 0
    for line in text.replace("\r", "\n").splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0] == "v":
            vertices.append([float(word) for word in words[1:4]])
        elif words[0] == "f":
            face_lines += 1
            corners = []
            for word in words[1:]:
                index = int(word.split("/")[0])
                corners.append(index - 1 if index > 0 else len(vertices) + index)
            triangles += [[corners[0], corners[i], corners[i + 1]] for i in range(1, len(corners) - 1)]
    return _expected(
        face_lines,
        np.array(vertices, dtype=np.float64).reshape(-1, 3),
        np.array(triangles, dtype=np.int64).reshape(-1, 3),
        file_vertices=len(vertices),
    )


def _expected(file_faces: int, vertices: np.ndarray, triangles: np.ndarray, file_vertices: int) -> Expected:
    if len(triangles) == 0:
        return Expected(file_faces, 0, 0, file_vertices, len(vertices), vertices)
    used = vertices[np.unique(triangles)]
    low, high = used.min(axis=0), used.max(axis=0)
    scaled = (vertices - (low + high) / 2) / (high - low).max()
    a, b, c = (scaled[triangles[:, k]] for k in range(3))
    areas = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    kept = triangles[areas > DEGENERATE_AREA]
    distinct = sorted({tuple(vertices[i]) for i in np.unique(kept)})
    return Expected(
        file_faces=file_faces,
        triangles=len(triangles),
        degenerate=int(np.count_nonzero(areas <= DEGENERATE_AREA)),
        file_vertices=file_vertices,
        distinct_vertices=len(distinct),
        vertices=np.array(distinct, dtype=np.float64).reshape(-1, 3),
    )


def to_unit_cube(points: np.ndarray) -> np.ndarray:
    """Reference normalisation: centre the bounding box, divide by its largest extent."""
    points = np.asarray(points, dtype=np.float64)
    low, high = points.min(axis=0), points.max(axis=0)
    return (points - (low + high) / 2) / (high - low).max()


def farthest_unmatched(a: np.ndarray, b: np.ndarray) -> float:
    """Largest distance from a row of ``a`` to its nearest row of ``b`` (brute force).

    Compares two vertex sets regardless of order; sorting would not do, as float32
    rounding can reorder rows whose first coordinates nearly tie.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    b_squared = (b**2).sum(axis=1)
    worst = 0.0
    for start in range(0, len(a), 1024):
        chunk = a[start : start + 1024]
        # |x - y|^2 = |x|^2 - 2 x.y + |y|^2; clamp rounding below zero.
        squared = (chunk**2).sum(axis=1)[:, None] - 2 * chunk @ b.T + b_squared[None, :]
        worst = max(worst, float(np.sqrt(max(squared.min(axis=1).max(), 0.0))))
    return worst


def points_on_surface(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, tolerance: float = 2e-5
) -> np.ndarray:
    """bool (n,): whether each point lies within ``tolerance`` of some triangle.

    Brute force over the (point, face) pairs whose face bounding box holds the point:
    distance to the face's plane and barycentric coordinates (each >= -tolerance
    relative to the triangle's size).
    """
    points = np.asarray(points, dtype=np.float64)
    corners = np.asarray(vertices, dtype=np.float64)[faces]
    low, high = corners.min(axis=1) - tolerance, corners.max(axis=1) + tolerance
    a, ab, ac = corners[:, 0], corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    normal = np.cross(ab, ac)
    double_area = np.linalg.norm(normal, axis=1)
    unit_normal = normal / double_area[:, None]
    on = np.zeros(len(points), dtype=bool)
    for start in range(0, len(points), 16):
        chunk = points[start : start + 16]
        in_box = ((chunk[:, None] >= low[None]) & (chunk[:, None] <= high[None])).all(axis=2)
        point, face = np.nonzero(in_box)
        p = chunk[point] - a[face]
        n = unit_normal[face]
        plane_distance = np.abs((p * n).sum(axis=1))
        # Barycentric weights of the projection, via sub-triangle areas signed by the normal.
        w_b = (np.cross(p, ac[face]) * n).sum(axis=1) / double_area[face]
        w_c = (np.cross(ab[face], p) * n).sum(axis=1) / double_area[face]
        w_a = 1.0 - w_b - w_c
        slack = tolerance / np.sqrt(double_area[face])
        inside = (w_a >= -slack) & (w_b >= -slack) & (w_c >= -slack) & (plane_distance <= tolerance)
        on[start + point[inside]] = True
    return on


# ---------------------------------------------------------------------------------------
# Builders


def binary_stl(triangles: np.ndarray, header: bytes = b"", count: int | None = None) -> bytes:
    """A binary STL of triangles (F, 3, 3); ``count`` overrides the header's triangle count."""
    triangles = np.asarray(triangles, dtype="<f4").reshape(-1, 3, 3)
    records = b"".join(struct.pack("<3f", 0, 0, 0) + tri.tobytes() + b"\x00\x00" for tri in triangles)
    return header.ljust(80, b" ")[:80] + struct.pack("<I", len(triangles) if count is None else count) + records


def ascii_stl(triangles: np.ndarray, name: str = "test") -> bytes:
    lines = [f"solid {name}"]
    for tri in np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3):
        lines += ["  facet normal 0 0 0", "    outer loop"]
        lines += ["      vertex " + " ".join(repr(float(c)) for c in corner) for corner in tri]
        lines += ["    endloop", "  endfacet"]
    lines.append(f"endsolid {name}")
    return ("\n".join(lines) + "\n").encode()


def obj_text(vertices: np.ndarray, faces: list[list[int]], one_based: bool = True) -> bytes:
    """An OBJ with 'v' lines then 'f' lines; faces are 0-based unless one_based is False."""
    lines = ["v " + " ".join(repr(float(c)) for c in vertex) for vertex in np.asarray(vertices, dtype=np.float64)]
    offset = 1 if one_based else 0
    lines += ["f " + " ".join(str(i + offset) for i in face) for face in faces]
    return ("\n".join(lines) + "\n").encode()


def ply_bytes(vertices: np.ndarray, faces: list[list[int]] | None, encoding: str = "ascii") -> bytes:
    """A PLY (ascii, binary_little_endian or binary_big_endian) with float xyz and int index lists."""
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = faces or []
    header = ["ply", f"format {encoding} 1.0", "comment written by the ZSOM tests"]
    header += [f"element vertex {len(vertices)}", "property float x", "property float y", "property float z"]
    if faces:
        header += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    header.append("end_header")
    head = ("\n".join(header) + "\n").encode()
    if encoding == "ascii":
        body = [" ".join(repr(float(c)) for c in v) for v in vertices]
        body += [" ".join(str(i) for i in [len(face), *face]) for face in faces]
        return head + ("\n".join(body) + "\n").encode()
    order = "<" if encoding == "binary_little_endian" else ">"
    body = b"".join(struct.pack(f"{order}3f", *v) for v in vertices)
    body += b"".join(struct.pack(f"{order}B{len(face)}i", len(face), *face) for face in faces)
    return head + body


def box(
    extents: tuple[float, float, float], offset: tuple[float, float, float] = (0, 0, 0)
) -> tuple[np.ndarray, list[list[int]]]:
    """An axis-aligned box as (8 vertices, 12 triangles, 0-based)."""
    corners = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)
    vertices = corners * np.asarray(extents, dtype=np.float64) + np.asarray(offset, dtype=np.float64)
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    triangles = [[q[0], q[1], q[2]] for q in quads] + [[q[0], q[2], q[3]] for q in quads]
    return vertices, triangles
