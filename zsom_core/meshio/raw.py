"""What a format parser hands on: plain arrays, before any validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class RawMesh:
    """Geometry as parsed from one file, not yet validated.

    vertices: float64 (V, 3) as stored in the file (every body concatenated).
    faces: int64 (F, 3) triangles indexing ``vertices``; (0, 3) when the file has none.
    format: ``"obj"``, ``"stl"`` or ``"ply"``.
    notes: what the parser changed or skipped, for the user.
    """

    vertices: np.ndarray
    faces: np.ndarray
    format: str
    notes: tuple[str, ...] = ()


_IRREGULAR_PLURALS = {"vertex": "vertices"}


def plural(count: int, word: str) -> str:
    """``plural(1, "face") == "1 face"``, ``plural(1234, "vertex") == "1,234 vertices"``."""
    if count == 1:
        return f"{count:,} {word}"
    head, _, last = word.rpartition(" ")
    many = _IRREGULAR_PLURALS.get(last, last + "s")
    return f"{count:,} {head + ' ' if head else ''}{many}"


def triangulate_polygons(polygons: np.ndarray | Sequence[Sequence[int]]) -> tuple[np.ndarray, int]:
    """Split polygons into triangles as fans around each polygon's first corner.

    polygons: int (F, k) for polygons that all have k corners, or a ragged sequence of
    index sequences. Returns (triangles int64 (m, 3), number of polygons with fewer than
    three corners, which are skipped). Fans are exact for convex polygons, which is what
    exporters write; a concave n-gon gets some overlapping triangles, which still lie in
    its plane.
    """
    array = _as_regular_array(polygons)
    if array is not None:
        return _fan_triangles(array), (len(array) if array.shape[1] < 3 else 0)
    rows = [np.asarray(row, dtype=np.int64).reshape(-1) for row in polygons]
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    pieces = [
        _fan_triangles(np.stack([rows[i] for i in np.flatnonzero(lengths == k)]))
        for k in np.unique(lengths[lengths >= 3])
    ]
    triangles = np.concatenate(pieces) if pieces else np.zeros((0, 3), dtype=np.int64)
    return triangles, int(np.count_nonzero(lengths < 3))


def _as_regular_array(polygons: np.ndarray | Sequence[Sequence[int]]) -> np.ndarray | None:
    """polygons as an int64 (F, k) array, or None when the rows differ in length."""
    if isinstance(polygons, np.ndarray) and polygons.dtype != object:
        array = polygons
    else:
        try:
            array = np.array(polygons, dtype=np.int64)
        except (ValueError, TypeError):
            return None
    if array.ndim != 2:
        return None
    return array.astype(np.int64, copy=False)


def _fan_triangles(polygons: np.ndarray) -> np.ndarray:
    """int64 (F, k) polygons -> int64 (F * (k - 2), 3) triangles (0, i, i + 1)."""
    count, corners = polygons.shape
    if corners < 3 or count == 0:
        return np.zeros((0, 3), dtype=np.int64)
    if corners == 3:
        return np.ascontiguousarray(polygons, dtype=np.int64)
    fans = np.empty((count, corners - 2, 3), dtype=np.int64)
    fans[:, :, 0] = polygons[:, :1]
    fans[:, :, 1] = polygons[:, 1:-1]
    fans[:, :, 2] = polygons[:, 2:]
    return fans.reshape(-1, 3)
