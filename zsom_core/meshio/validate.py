"""Checks and clean-up between parsing and sampling, shared by uploads and built-in shapes.

Order matters: check finiteness and indices first (so nothing later reads garbage),
merge duplicate vertices and drop unreferenced ones on the original coordinates, drop
zero-area faces measured in unit-cube units (so huge or tiny coordinates neither
overflow nor underflow), and normalise last from the vertices that remain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import MeshError
from .raw import plural
from .sampling import triangle_areas

# A face is degenerate when its area, measured after scaling the mesh into the unit cube,
# is at most this. 1e-12 is far below any real face (a million-face mesh has faces of
# area ~1e-6) and far above float64 rounding of an exactly flat triangle (~1e-17).
DEGENERATE_AREA = 1e-12


@dataclass(frozen=True, eq=False)
class CleanSurface:
    """A triangle mesh ready for sampling and drawing.

    vertices: float64 (V, 3), centred at the origin, largest extent 1 (within [-0.5, 0.5]).
    faces: int64 (F, 3), every face of positive area, every vertex referenced.
    areas: float64 (F,), each face's area in these coordinates.
    source_faces: int64 (F,), index of each face in the faces given to ``clean_surface``.
    notes: what the clean-up changed, for the user.
    """

    vertices: np.ndarray
    faces: np.ndarray
    areas: np.ndarray
    source_faces: np.ndarray
    notes: tuple[str, ...]


def check_vertices(vertices: np.ndarray, name: str) -> np.ndarray:
    """vertices as float64 (V, 3) with V >= 1 and every coordinate finite; else MeshError."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise MeshError(f"{name}: every vertex must have three coordinates (x y z); the file's do not.")
    if len(vertices) == 0:
        raise MeshError(f"{name}: the file contains no vertices, so there is no geometry to load.")
    finite = np.isfinite(vertices).all(axis=1)
    if not finite.all():
        bad = int(np.count_nonzero(~finite))
        raise MeshError(
            f"{name}: {plural(bad, 'vertex')} of {len(vertices):,} "
            f"{'has' if bad == 1 else 'have'} NaN or infinite coordinates (first: vertex "
            f"{int(np.argmin(finite)) + 1:,}). Repair or re-export the mesh."
        )
    return vertices


def check_faces(faces: np.ndarray, vertex_count: int, name: str) -> np.ndarray:
    """faces as int64 (F, 3) with every index in [0, vertex_count); else MeshError."""
    faces = np.asarray(faces)
    is_integer = faces.size == 0 or np.issubdtype(faces.dtype, np.integer)
    if faces.ndim != 2 or faces.shape[1] != 3 or not is_integer:
        raise MeshError(f"{name}: the faces could not be read as triangles of vertex indices.")
    faces = faces.astype(np.int64, copy=False)
    if faces.size and (faces.min() < 0 or faces.max() >= vertex_count):
        worst = int(faces.max()) if faces.max() >= vertex_count else int(faces.min())
        raise MeshError(
            f"{name}: a face refers to vertex index {worst:,}, but the file has only "
            f"{plural(vertex_count, 'vertex')} (valid: 0 to {vertex_count - 1:,}, counting "
            "from 0). Face indices are out of range."
        )
    return faces


def unit_cube_transform(vertices: np.ndarray, name: str) -> tuple[np.ndarray, float]:
    """(centre float64 (3,), scale) mapping vertices into the unit cube: (v - centre) / scale.

    The centre is the bounding box's centre and scale its largest extent, one for all
    axes so the aspect ratio is kept. Raises MeshError when all vertices coincide or the
    extent overflows float64.
    """
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    with np.errstate(over="ignore"):
        extent = float((high - low).max())
    if not np.isfinite(extent):
        raise MeshError(f"{name}: the coordinates span a range too large to represent; rescale the mesh.")
    if extent == 0.0:
        raise MeshError(
            f"{name}: all vertices are at the same point, so the shape has zero size and "
            "cannot be scaled."
        )
    return low / 2 + high / 2, extent  # halves first: low + high could overflow


def normalise_to_unit_cube(vertices: np.ndarray, name: str) -> np.ndarray:
    """vertices float (V, 3) -> float64 (V, 3) centred at 0, largest extent 1, in [-0.5, 0.5]."""
    vertices = np.asarray(vertices, dtype=np.float64)
    centre, scale = unit_cube_transform(vertices, name)
    # Clipping only removes rounding (|error| ~ 1e-16) so bounds hold exactly.
    return np.clip((vertices - centre) / scale, -0.5, 0.5)


def merge_duplicate_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Keep only referenced vertices, merging exact duplicates (STL repeats each corner).

    vertices float64 (V, 3), faces int64 (F, 3). Returns (vertices (U, 3) in file order,
    each at its first occurrence; faces re-indexed (F, 3); count of vertices no face uses).
    """
    used = np.unique(faces)
    unreferenced = len(vertices) - len(used)
    # Group equal rows via their raw bytes: one sort of fixed-size keys, no float compares.
    used_vertices = np.ascontiguousarray(vertices[used]) + 0.0  # -0.0 becomes 0.0, so both merge
    keys = used_vertices.view(np.dtype((np.void, used_vertices.dtype.itemsize * 3))).ravel()
    _, first, group = np.unique(keys, return_index=True, return_inverse=True)
    # Renumber groups by first appearance so the output order follows the file.
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    new_index = np.full(len(vertices), -1, dtype=np.int64)
    new_index[used] = rank[group.ravel()]
    return used_vertices[first[order]], new_index[faces], unreferenced


def clean_surface(vertices: np.ndarray, faces: np.ndarray, name: str) -> CleanSurface:
    """Validate, merge, drop degenerate faces and normalise a triangle mesh.

    vertices: float (V, 3); faces: int (F, 3) with F >= 1. Raises MeshError with a
    message naming ``name`` for non-finite coordinates, out-of-range indices, a mesh of
    zero size, or a mesh whose faces all have zero area.
    """
    vertices = check_vertices(vertices, name)
    faces = check_faces(faces, len(vertices), name)
    vertices, faces, unreferenced = merge_duplicate_vertices(vertices, faces)

    areas = triangle_areas(normalise_to_unit_cube(vertices, name), faces)
    keep = areas > DEGENERATE_AREA
    dropped = len(faces) - int(np.count_nonzero(keep))
    if dropped == len(faces):
        raise MeshError(
            f"{name}: all {plural(len(faces), 'face')} have zero area (their corners are "
            "coincident or in a line), so there is no surface to sample."
        )
    source_faces = np.flatnonzero(keep)
    if dropped:
        vertices, faces, _ = merge_duplicate_vertices(vertices, faces[keep])
    vertices = normalise_to_unit_cube(vertices, name)

    notes = []
    if dropped:
        notes.append(f"dropped {plural(dropped, 'degenerate face')} (zero area)")
    if unreferenced:
        notes.append(f"ignored {plural(unreferenced, 'vertex')} not used by any face")
    return CleanSurface(
        vertices=vertices,
        faces=faces,
        areas=triangle_areas(vertices, faces),
        source_faces=source_faces.astype(np.int64),
        notes=tuple(notes),
    )
