"""Points drawn uniformly over a triangle mesh's surface, or from a point cloud's vertices.

Both take a ``numpy.random.Generator`` and draw a fixed sequence from it, so the same
seed gives the same points. Work is in float64; callers cast the result.
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.Generator | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """A Generator from an int seed (or None), or the Generator itself, not copied."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def triangle_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area of each triangle: float64 (F,), from vertices (V, 3) and faces int (F, 3)."""
    corners = np.asarray(vertices, dtype=np.float64)[faces]
    edges_cross = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    return 0.5 * np.linalg.norm(edges_cross, axis=1)


def sample_surface(
    vertices: np.ndarray,
    faces: np.ndarray,
    count: int,
    rng: np.random.Generator,
    areas: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points uniform by area over the triangles.

    vertices: float (V, 3); faces: int (F, 3), at least one of positive area; areas:
    float64 (F,) when already known. Returns (points float64 (count, 3), index of the
    face each point lies on, int64 (count,)).

    A face is chosen with probability proportional to its area (inverse CDF: a uniform
    draw on the cumulative areas, located with searchsorted), then a point uniform inside
    it: with r1, r2 uniform on [0, 1), the barycentric weights (1 - sqrt(r1),
    sqrt(r1) (1 - r2), sqrt(r1) r2) give a uniform density over the triangle.
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    if areas is None:
        areas = triangle_areas(vertices, faces)
    cumulative = np.cumsum(areas)
    # side="right" never picks a zero-area face: its cumulative value equals the previous one.
    face_index = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
    # Guards the rare draw rounding to exactly the total.
    face_index = np.minimum(face_index, len(cumulative) - 1)

    sqrt_r1 = np.sqrt(rng.random(count))[:, None]
    r2 = rng.random(count)[:, None]
    corners = vertices[faces[face_index]]
    points = (
        (1.0 - sqrt_r1) * corners[:, 0]
        + sqrt_r1 * (1.0 - r2) * corners[:, 1]
        + sqrt_r1 * r2 * corners[:, 2]
    )
    return points, face_index.astype(np.int64)


def sample_vertices(
    vertices: np.ndarray, count: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """``count`` points from a point cloud's vertices (V, 3).

    Without replacement when V >= count. Otherwise every vertex once and the rest drawn
    with replacement, in shuffled order. Returns (points float64 (count, 3), whether
    any vertex was repeated).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    if len(vertices) >= count:
        return vertices[rng.choice(len(vertices), size=count, replace=False)], False
    extra = rng.integers(0, len(vertices), size=count - len(vertices))
    order = rng.permutation(np.concatenate([np.arange(len(vertices)), extra]))
    return vertices[order], True
