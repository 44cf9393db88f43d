"""STL, binary and ASCII, parsed by trimesh's STL loaders from bytes in memory."""

from __future__ import annotations

import io
import re

import numpy as np
from trimesh.exchange.stl import load_stl_ascii, load_stl_binary

from .errors import MeshError
from .limits import MeshLimits, check_counts
from .raw import RawMesh, plural
from .sniff import stl_binary_triangle_count

_ASCII_VERTEX = re.compile(rb"(?im)^[ \t]*vertex\s")
_ASCII_ENDSOLID = re.compile(rb"(?i)\bendsolid\b")


def parse_stl_binary(data: bytes, name: str, limits: MeshLimits) -> RawMesh:
    """A binary STL whose length has been checked against its header (see sniff.is_binary_stl)."""
    triangle_count = stl_binary_triangle_count(data) or 0
    check_counts(name, limits, faces=triangle_count, vertices=3 * triangle_count)
    if triangle_count == 0:
        raise MeshError(f"{name}: the binary STL contains no triangles.")
    loaded = load_stl_binary(io.BytesIO(data))
    with np.errstate(invalid="ignore"):  # signalling NaNs warn on the cast; validation reports them
        vertices = np.asarray(loaded["vertices"], dtype=np.float64).reshape(-1, 3)
    # An STL lists three fresh corners per triangle; duplicates are merged later.
    faces = np.arange(len(vertices), dtype=np.int64).reshape(-1, 3)
    return RawMesh(vertices=vertices, faces=faces, format="stl")


def parse_stl_ascii(data: bytes, name: str, limits: MeshLimits) -> RawMesh:
    """An ASCII STL with one or more ``solid ... endsolid`` blocks, merged into one mesh."""
    vertex_lines = len(_ASCII_VERTEX.findall(data))
    check_counts(name, limits, faces=vertex_lines // 3, vertices=vertex_lines)
    if vertex_lines == 0:
        raise MeshError(f"{name}: the ASCII STL contains no triangles ('vertex' lines).")
    if vertex_lines % 3:
        raise MeshError(
            f"{name}: the ASCII STL has {vertex_lines:,} 'vertex' lines, not a multiple of "
            "three: some facet is incomplete. The file is truncated or corrupt."
        )
    if not _ASCII_ENDSOLID.search(data):
        raise MeshError(
            f"{name}: the ASCII STL never closes its solid with 'endsolid'; the file is truncated."
        )

    # latin-1 maps every byte to one character, so decoding cannot fail; numbers are ASCII.
    text = data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    loaded = load_stl_ascii(io.StringIO(text))
    bodies = list(loaded["geometry"].values()) if "geometry" in loaded else [loaded]
    pieces = [np.asarray(body["vertices"], dtype=np.float64).reshape(-1, 3) for body in bodies]
    vertices = np.concatenate(pieces) if pieces else np.zeros((0, 3))
    if len(vertices) != vertex_lines:
        raise MeshError(
            f"{name}: the ASCII STL has {vertex_lines:,} 'vertex' lines but only "
            f"{len(vertices):,} could be read: some coordinates are missing or are not "
            "numbers, or a facet lies outside 'solid ... endsolid'. The file is corrupt."
        )
    faces = np.arange(len(vertices), dtype=np.int64).reshape(-1, 3)
    notes = (f"merged {plural(len(bodies), 'solid')} into one mesh",) if len(bodies) > 1 else ()
    return RawMesh(vertices=vertices, faces=faces, format="stl", notes=notes)
