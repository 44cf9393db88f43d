"""Stanford PLY (ASCII and binary), parsed by trimesh's PLY loader from bytes in memory.

The header is read here first, cheaply and strictly: it gives the element counts to
check against the limits before any parsing, and the minimum body length, so a
truncated file is named as such instead of surfacing as a parser's exception.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
from trimesh.exchange.ply import load_ply

from .errors import MeshError
from .limits import MeshLimits, check_counts
from .raw import RawMesh, plural, triangulate_polygons

# A real header is a few hundred bytes; a missing end_header must not make us scan 50 MB.
MAX_HEADER_BYTES = 1 << 16

_SCALAR_BYTES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1,
    "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
    "int": 4, "uint": 4, "int32": 4, "uint32": 4,
    "float": 4, "float32": 4, "double": 8, "float64": 8,
}  # fmt: skip
_ENCODINGS = ("ascii", "binary_little_endian", "binary_big_endian")
_FACE_INDEX_NAMES = ("vertex_indices", "vertex_index")
_END_HEADER = re.compile(rb"(?m)^end_header[ \t]*\r?\n")
_DATA_LINE = re.compile(rb"(?m)^[ \t]*[^\s]")


@dataclass(frozen=True)
class PlyElement:
    """One ``element`` of a PLY header: its name, row count and property names.

    min_row_bytes: bytes of one binary row when every list is empty (a lower bound).
    list_properties: names of the properties declared as ``property list``.
    """

    name: str
    count: int
    properties: tuple[str, ...]
    list_properties: tuple[str, ...]
    min_row_bytes: int


@dataclass(frozen=True)
class PlyHeader:
    """The parsed header: encoding, elements in file order, and where the body starts."""

    encoding: str
    elements: tuple[PlyElement, ...]
    body_offset: int

    def count(self, element_name: str) -> int:
        """Rows declared for an element, 0 if the header has no such element."""
        return next((e.count for e in self.elements if e.name == element_name), 0)

    def element(self, element_name: str) -> PlyElement | None:
        return next((e for e in self.elements if e.name == element_name), None)


def parse_ply(data: bytes, name: str, limits: MeshLimits) -> RawMesh:
    """Vertices and triangulated faces of a PLY file (a point cloud if it has no faces)."""
    header = read_header(data, name)
    vertex_count, face_count = header.count("vertex"), header.count("face")
    check_counts(name, limits, faces=face_count, vertices=vertex_count)
    _check_elements(header, name)
    _check_body_length(data, header, name)

    try:
        loaded = load_ply(io.BytesIO(data), skip_materials=True, fix_texture=False)
    except ValueError as exc:
        # trimesh sizes binary lists by the first row's length, then checks the total.
        if header.encoding != "ascii" and "unexpected length" in str(exc):
            raise MeshError(
                f"{name}: the binary PLY data does not match its header: the file is "
                "truncated or corrupt, or its faces mix triangles with other polygons, "
                "which this loader reads only from ASCII PLY (save it as ASCII PLY or OBJ)."
            ) from exc
        raise
    vertices = np.asarray(loaded.get("vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(vertices) != vertex_count:
        raise MeshError(
            f"{name}: the header declares {plural(vertex_count, 'vertex')} but "
            f"{len(vertices):,} could be read. The file is truncated or corrupt."
        )
    faces = loaded.get("faces")
    if faces is None or face_count == 0:
        return RawMesh(vertices=vertices, faces=np.zeros((0, 3), dtype=np.int64), format="ply")
    triangles, skipped = triangulate_polygons(faces)
    if len(triangles) == 0:
        raise MeshError(
            f"{name}: none of the file's {plural(face_count, 'face')} has three or more "
            "vertices, so there is no surface to load. The faces are malformed."
        )
    check_counts(name, limits, faces=len(triangles), source="the file's polygons make")
    notes = (f"skipped {plural(skipped, 'face')} with fewer than three vertices",) if skipped else ()
    return RawMesh(vertices=vertices, faces=triangles, format="ply", notes=notes)


def read_header(data: bytes, name: str) -> PlyHeader:
    """Parse the header of a PLY file; raises MeshError for anything malformed or unsupported."""
    match = _END_HEADER.search(data, 0, MAX_HEADER_BYTES)
    if match is None:
        raise MeshError(
            f"{name}: the PLY header has no 'end_header' line within its first "
            f"{MAX_HEADER_BYTES // 1024} KB. The file is truncated or not a PLY file."
        )
    try:
        lines = data[: match.start()].decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise MeshError(f"{name}: the PLY header is not plain ASCII text; the file is corrupt.") from exc

    encoding = None
    elements: list[dict] = []
    for number, line in enumerate(lines[1:], start=2):
        words = line.split()
        if encoding is not None and (not words or words[0] in ("comment", "obj_info")):
            continue
        keyword = words[0] if words else ""
        if encoding is None:
            # trimesh reads the encoding from the second line, so insist on it there.
            if keyword != "format" or len(words) != 3 or words[1] not in _ENCODINGS:
                raise MeshError(
                    f"{name}: the second line of a PLY header must be 'format ascii 1.0', "
                    "'format binary_little_endian 1.0' or 'format binary_big_endian 1.0'."
                )
            encoding = words[1]
        elif keyword == "element" and len(words) == 3 and words[2].isdigit():
            elements.append({"name": words[1], "count": int(words[2]), "props": [], "lists": [], "bytes": 0})
        elif keyword == "property" and elements:
            _add_property(elements[-1], words, number, name)
        else:
            raise MeshError(
                f"{name}: line {number} of the PLY header is not understood: "
                f"{line.strip()[:60]!r}. Only ascii and binary PLY with element and "
                "property lines are supported."
            )
    if encoding is None:
        raise MeshError(f"{name}: the PLY header has no 'format' line; the file is truncated.")
    return PlyHeader(
        encoding=encoding,
        elements=tuple(
            PlyElement(e["name"], e["count"], tuple(e["props"]), tuple(e["lists"]), e["bytes"])
            for e in elements
        ),
        body_offset=match.end(),
    )


def _add_property(element: dict, words: list[str], number: int, name: str) -> None:
    """Record one ``property`` line (scalar or list) for the element being declared."""
    if len(words) == 3 and words[1] in _SCALAR_BYTES:
        element["props"].append(words[2])
        element["bytes"] += _SCALAR_BYTES[words[1]]
        return
    if len(words) == 5 and words[1] == "list" and words[2] in _SCALAR_BYTES and words[3] in _SCALAR_BYTES:
        if words[2] in ("float", "float32", "double", "float64"):
            raise MeshError(f"{name}: line {number} of the PLY header gives a list a non-integer length type.")
        element["props"].append(words[4])
        element["lists"].append(words[4])
        element["bytes"] += _SCALAR_BYTES[words[2]]
        return
    raise MeshError(
        f"{name}: line {number} of the PLY header declares a property of an unknown type: "
        f"{' '.join(words)[:60]!r}."
    )


def _check_elements(header: PlyHeader, name: str) -> None:
    """The vertex element must carry x, y, z; a face element must carry its index list."""
    vertex = header.element("vertex")
    if vertex is None or vertex.count == 0:
        raise MeshError(f"{name}: the PLY file declares no vertices, so there is no geometry to load.")
    if not {"x", "y", "z"} <= set(vertex.properties):
        raise MeshError(f"{name}: the PLY vertex element has no x, y and z properties.")
    if set(vertex.list_properties) & {"x", "y", "z"}:
        raise MeshError(f"{name}: the PLY vertex coordinates are declared as lists, not numbers.")
    face = header.element("face")
    if face is not None and face.count and not set(_FACE_INDEX_NAMES) & set(face.list_properties):
        raise MeshError(
            f"{name}: the PLY face element has no 'vertex_indices' list property, so its "
            "faces cannot be read."
        )


def _check_body_length(data: bytes, header: PlyHeader, name: str) -> None:
    """Refuse a body too short for what the header declares (a truncated file)."""
    body = len(data) - header.body_offset
    declared = ", ".join(plural(e.count, e.name) for e in header.elements)
    if header.encoding == "ascii":
        rows_needed = sum(e.count for e in header.elements)
        rows_found = len(_DATA_LINE.findall(data, header.body_offset))
        if rows_found < rows_needed:
            raise MeshError(
                f"{name}: the header declares {declared} ({rows_needed:,} data lines) but the "
                f"file has {rows_found:,}. The file is truncated."
            )
        return
    bytes_needed = sum(e.count * e.min_row_bytes for e in header.elements)
    if body < bytes_needed:
        raise MeshError(
            f"{name}: the header declares {declared}, at least {bytes_needed:,} bytes of "
            f"data, but the file has {body:,}. The file is truncated."
        )
