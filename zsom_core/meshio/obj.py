"""Wavefront OBJ, parsed by trimesh's OBJ loader from text in memory.

Before trimesh sees the text, a light pre-scan counts ``v`` and ``f`` lines (to refuse
oversized files before parsing), checks every face's vertex indices, and rewrites
relative (negative) indices as absolute ones: trimesh resolves ``-1`` against the last
vertex of the whole file, while OBJ means the last vertex defined so far, which differs
as soon as objects interleave vertices and faces. Material, object and group statements
are dropped because everything is merged into one mesh anyway, and because trimesh does
one pass over all vertices for every material chunk, which a file with many materials
could turn into quadratic work.
"""

from __future__ import annotations

import io
import re

import numpy as np
from trimesh.exchange.obj import load_obj

from .errors import MeshError
from .limits import MeshLimits, check_counts
from .raw import RawMesh, plural, triangulate_polygons

_COMMENT = re.compile(r"#[^\n]*")
_LEADING_BLANKS = re.compile(r"(?m)^ +")
_VERTEX_LINE = re.compile(r"(?m)^v ")
_FACE_LINE = re.compile(r"(?m)^f ([^\n]*)")
_OBJECT_LINE = re.compile(r"(?m)^o(?: |$)")
# Statements that only split the file into parts (objects, groups, smoothing groups,
# materials); removing them leaves trimesh a single chunk of faces.
_PARTITION_STATEMENT = re.compile(r"(?m)^(?:o|g|s|usemtl|mtllib)(?: [^\n]*)?$")
_RELATIVE_INDEX = re.compile(r"(?<!\S)-\d")
_CORNER_TAIL = re.compile(r"/\S*")  # the "/vt/vn" part of a face corner "v/vt/vn"
_INTEGERS_ONLY = re.compile(r"[-+0-9\s]*")


def parse_obj(data: bytes, name: str, limits: MeshLimits) -> RawMesh:
    """Vertices and triangulated faces of every object in an OBJ file (point cloud if no faces)."""
    text = _normalise_text(data)
    vertex_count = len(_VERTEX_LINE.findall(text))
    face_lines = _FACE_LINE.findall(text)
    check_counts(name, limits, faces=len(face_lines), vertices=vertex_count)
    if vertex_count == 0:
        raise MeshError(
            f"{name}: the OBJ file contains no vertices ('v x y z' lines), so there is no "
            "geometry to load."
        )

    if _RELATIVE_INDEX.search("\n".join(face_lines)):
        text = _resolve_relative_indices(text, name)
        face_lines = _FACE_LINE.findall(text)
    corners = _check_face_indices(face_lines, vertex_count, name)
    expected_triangles = int(np.maximum(corners - 2, 0).sum())
    check_counts(name, limits, faces=expected_triangles, source="the file's polygons make")
    skipped = int(np.count_nonzero(corners < 3))
    if face_lines and expected_triangles == 0:
        raise MeshError(
            f"{name}: none of the file's {plural(len(face_lines), 'face')} has three or more "
            "vertices, so there is no surface to load. The faces are malformed."
        )

    object_count = len(_OBJECT_LINE.findall(text))
    loaded = load_obj(
        io.StringIO(_PARTITION_STATEMENT.sub("", text)),
        skip_materials=True,  # never let the file name other files to read
        group_material=True,
        maintain_order=False,
    )
    vertices, faces = _merge_bodies(loaded)
    if face_lines and len(faces) != expected_triangles:
        raise MeshError(
            f"{name}: the faces could not be read consistently ({expected_triangles:,} "
            f"triangles expected, {len(faces):,} read). The file is malformed."
        )

    notes = []
    if skipped:
        notes.append(f"skipped {plural(skipped, 'face')} with fewer than three vertices")
    if object_count > 1:
        notes.append(f"merged {plural(object_count, 'object')} into one mesh")
    return RawMesh(vertices=vertices, faces=faces, format="obj", notes=tuple(notes))


def _normalise_text(data: bytes) -> str:
    """OBJ bytes as text with LF line ends, no comments, no leading blanks, spaces for tabs.

    latin-1 maps every byte to one character, so decoding cannot fail; the geometry is
    ASCII, and names, the only place other encodings appear, are not used.
    """
    text = data.decode("latin-1")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = text.replace("\\\n", " ")  # a trailing backslash continues the statement
    text = _COMMENT.sub("", text)
    return _LEADING_BLANKS.sub("", text)


def _resolve_relative_indices(text: str, name: str) -> str:
    """Rewrite negative v/vt/vn indices in face lines as absolute (1-based) ones.

    In OBJ, -1 is the latest element of its kind defined *before* the face line, so the
    counts are kept line by line. Raises MeshError for an index reaching before the first.
    """
    defined = {"v": 0, "vt": 0, "vn": 0}
    kinds = ("v", "vt", "vn")
    described = {"v": "vertex", "vt": "texture coordinate", "vn": "normal"}
    face_number = 0
    lines = text.split("\n")
    for line_number, line in enumerate(lines):
        keyword = line.split(" ", 1)[0]
        if keyword in defined:
            defined[keyword] += 1
        elif keyword == "f":
            face_number += 1
            corners = []
            for corner in line.split()[1:]:
                parts = corner.split("/")
                for slot, part in enumerate(parts[:3]):
                    if not part.startswith("-") or not part[1:].isdigit():
                        continue
                    kind = kinds[slot]
                    absolute = defined[kind] + int(part) + 1
                    if absolute < 1:
                        raise MeshError(
                            f"{name}: face {face_number:,} uses the relative index {part}, "
                            f"but only {plural(defined[kind], described[kind])} defined before "
                            "it. Face indices are out of range."
                        )
                    parts[slot] = str(absolute)
                corners.append("/".join(parts))
            lines[line_number] = "f " + " ".join(corners)
    return "\n".join(lines)


def _check_face_indices(face_lines: list[str], vertex_count: int, name: str) -> np.ndarray:
    """Corners per face line, int64 (F,), after checking every vertex index is in 1..V.

    Indices are 1-based and already absolute. Raises MeshError naming the first bad face.
    """
    corners = np.array([len(line.split()) for line in face_lines], dtype=np.int64)
    if not face_lines:
        return corners
    heads = _CORNER_TAIL.sub("", "\n".join(face_lines))
    indices = None
    if _INTEGERS_ONLY.fullmatch(heads):
        try:
            indices = np.fromstring(heads, sep=" ", dtype=np.int64)
        except ValueError:  # e.g. "1-2": only digits and signs, yet not integers
            indices = None
    if indices is None or len(indices) != corners.sum():
        raise MeshError(
            f"{name}: a face line has a vertex index that is not a whole number "
            f"(face {_first_face_with_bad_token(face_lines):,}). The file is malformed."
        )
    bad = (indices < 1) | (indices > vertex_count)
    if bad.any():
        first = int(np.argmax(bad))
        face = int(np.searchsorted(np.cumsum(corners), first, side="right")) + 1
        index = int(indices[first])
        if index == 0:
            problem = "vertex index 0, but OBJ indices start at 1"
        else:
            problem = f"vertex {index:,}, but the file defines only {plural(vertex_count, 'vertex')}"
        raise MeshError(f"{name}: face {face:,} refers to {problem}. Face indices are out of range.")
    return corners


def _first_face_with_bad_token(face_lines: list[str]) -> int:
    """1-based number of the first face line whose corners do not start with an integer."""
    for number, line in enumerate(face_lines, start=1):
        for corner in line.split():
            head = corner.split("/", 1)[0]
            if not head.lstrip("+-").isdigit():
                return number
    return 1


def _merge_bodies(loaded: dict) -> tuple[np.ndarray, np.ndarray]:
    """(vertices float64 (V, 3), triangles int64 (F, 3)) from trimesh's OBJ kwargs.

    trimesh returns ``{"vertices": ...}`` for a point cloud and ``{"geometry": {name:
    kwargs}}`` otherwise; bodies are concatenated with their face indices offset.
    """
    if "geometry" not in loaded:
        vertices = np.asarray(loaded.get("vertices", np.zeros((0, 3))), dtype=np.float64)
        return vertices, np.zeros((0, 3), dtype=np.int64)
    vertex_parts, face_parts, offset = [], [], 0
    for body in loaded["geometry"].values():
        body_vertices = np.asarray(body["vertices"], dtype=np.float64)
        triangles, _ = triangulate_polygons(body["faces"])
        vertex_parts.append(body_vertices)
        face_parts.append(triangles + offset)
        offset += len(body_vertices)
    if not vertex_parts:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    return np.concatenate(vertex_parts), np.concatenate(face_parts)
