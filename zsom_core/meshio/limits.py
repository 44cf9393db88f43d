"""Size limits that bound the work a single upload can cause."""

from __future__ import annotations

from dataclasses import dataclass

from ..text import format_bytes
from .errors import MeshError


@dataclass(frozen=True)
class MeshLimits:
    """Largest upload the loader accepts.

    ``max_bytes`` is checked before anything else. ``max_faces`` and ``max_vertices``
    are checked twice: first against counts read cheaply from the raw bytes (binary
    STL header, OBJ ``f``/``v`` lines, PLY header), so an oversized file is refused
    before it is parsed, then against the parsed, triangulated mesh. Vertices count as
    stored in the file: an STL stores three per triangle.
    """

    max_bytes: int = 50 * 2**20
    max_faces: int = 5_000_000
    max_vertices: int = 5_000_000

    def __post_init__(self) -> None:
        for field in ("max_bytes", "max_faces", "max_vertices"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MeshLimits.{field} must be a positive integer, got {value!r}")



def check_byte_size(size: int, limits: MeshLimits, name: str) -> None:
    """Refuse an upload larger than ``limits.max_bytes``; raises MeshError."""
    if size > limits.max_bytes:
        raise MeshError(
            f"{name}: the file is {format_bytes(size)}, larger than the limit of "
            f"{format_bytes(limits.max_bytes)}. Simplify or decimate the mesh and try again."
        )


def check_counts(
    name: str,
    limits: MeshLimits,
    *,
    faces: int = 0,
    vertices: int = 0,
    source: str = "the file declares",
) -> None:
    """Refuse a mesh with more faces or vertices than the limits allow; raises MeshError."""
    if faces > limits.max_faces:
        raise MeshError(
            f"{name}: {source} {faces:,} faces, more than the limit of "
            f"{limits.max_faces:,}. Decimate the mesh and try again."
        )
    if vertices > limits.max_vertices:
        raise MeshError(
            f"{name}: {source} {vertices:,} vertices, more than the limit of "
            f"{limits.max_vertices:,}. Decimate the mesh and try again."
        )
