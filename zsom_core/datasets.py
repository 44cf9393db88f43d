"""Built-in datasets: the 2-D sets of the original ZSOM article and 3-D surfaces.

Every maker takes ``n`` and ``seed`` (an int, or a ``numpy.random.Generator`` that it
advances) and is deterministic: the same ``n`` and int seed give identical bytes.

2-D sets live in the unit square, as in the article:

- ``clusters``: three isotropic Gaussian blobs; label = blob (0..2).
- ``rings``: two concentric noisy rings; label = ring (0 inner, 1 outer).
- ``swiss``: a Swiss roll seen along its axis (a 2-D spiral); label = position along the
  roll in six equal parameter buckets (0 innermost .. 5 outermost).
- ``grid``: a jittered 5 x 5 lattice; label = cell, row-major (0..24).

3-D sets are surfaces carried as a triangle mesh (``vertices``, ``faces``) plus points
sampled uniformly by area over it, with the sampler and the normalisation used for
uploaded meshes (centred at the origin, largest extent 1, aspect ratio kept):

- ``bunny``: the Stanford bunny shipped with pymeshfix; label = spatial octant (0..7,
  bit 0 for x > 0, bit 1 for y > 0, bit 2 for z > 0).
- ``sphere``: a latitude-longitude sphere; label = octant, as for the bunny.
- ``torus``: label = one of 8 equal sectors around the hole.
- ``trefoil``: a tube around a trefoil knot; label = one of 8 equal stretches along the knot.
- ``mobius``: a Moebius strip; label = one of 8 equal stretches along the strip.

Parameter labels come from the face a point was sampled on, so they are exact and free.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .meshio.limits import MeshLimits
from .meshio.ply import parse_ply
from .meshio.sampling import SeedLike, as_generator, sample_surface
from .meshio.validate import CleanSurface, clean_surface

MIN_POINTS = 2
MAX_POINTS = 1_000_000
DEFAULT_N_2D = 1_000
DEFAULT_N_3D = 20_000

_PARAMETER_BUCKETS = 8  # label classes along a parametric surface's main direction


@dataclass(frozen=True, eq=False)
class Dataset:
    """A built-in dataset.

    points: float32 (n, d), C-contiguous; d is 2 or 3.
    labels: int32 (n,), small non-negative class indices (see the module docstring).
    vertices: float32 (V, 3) and faces: int32 (F, 3), the surface the points were
        sampled from, for drawing; None for the 2-D sets.
    """

    name: str
    points: np.ndarray
    labels: np.ndarray
    vertices: np.ndarray | None
    faces: np.ndarray | None
    description: str

    @property
    def dim(self) -> int:
        return int(self.points.shape[1])


@dataclass(frozen=True)
class DatasetInfo:
    """A registry entry: ``make(n, seed)`` builds the dataset; ``dim`` is its point dimension."""

    name: str
    description: str
    dim: int
    default_n: int
    make: Callable[[int, SeedLike], Dataset]


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an integer, got {type(n).__name__}")
    if not MIN_POINTS <= n <= MAX_POINTS:
        raise ValueError(f"n must be between {MIN_POINTS} and {MAX_POINTS:,}, got {n:,}")
    return int(n)


def _planar(name: str, points: np.ndarray, labels: np.ndarray) -> Dataset:
    return Dataset(
        name=name,
        points=np.ascontiguousarray(points, dtype=np.float32),
        labels=np.ascontiguousarray(labels, dtype=np.int32),
        vertices=None,
        faces=None,
        description=DATASETS[name].description,
    )


# ---------------------------------------------------------------------------------------
# 2-D sets (parameters from the original ZSOM article's examples)


def make_clusters(n: int = DEFAULT_N_2D, seed: SeedLike = 0) -> Dataset:
    """Three isotropic Gaussian blobs (sigma 0.09) in the unit square; label = blob."""
    n, rng = _check_n(n), as_generator(seed)
    centres = np.array([[0.25, 0.25], [0.75, 0.25], [0.50, 0.78]])
    labels = rng.integers(0, len(centres), n)
    return _planar("clusters", centres[labels] + rng.normal(0.0, 0.09, (n, 2)), labels)


def make_rings(n: int = DEFAULT_N_2D, seed: SeedLike = 0) -> Dataset:
    """Two concentric rings (radii 0.18 and 0.38, radial noise 0.02) around (0.5, 0.5)."""
    n, rng = _check_n(n), as_generator(seed)
    labels = rng.integers(0, 2, n)
    radii = np.where(labels == 0, 0.18, 0.38) + rng.normal(0.0, 0.02, n)
    angles = rng.uniform(0.0, 2 * np.pi, n)
    points = 0.5 + radii[:, None] * np.column_stack([np.cos(angles), np.sin(angles)])
    return _planar("rings", points, labels)


def make_swiss(n: int = DEFAULT_N_2D, seed: SeedLike = 0) -> Dataset:
    """A Swiss roll projected along its axis: the spiral t (cos t, sin t), t in [1.5pi, 4.5pi]."""
    n, rng = _check_n(n), as_generator(seed)
    position = rng.uniform(0.0, 1.0, n)  # 0 at the inner end of the roll, 1 at the outer
    t = 1.5 * np.pi * (1.0 + 2.0 * position)
    spiral = t[:, None] * np.column_stack([np.cos(t), np.sin(t)]) / (4.5 * np.pi)
    points = 0.5 + 0.45 * spiral + rng.normal(0.0, 0.01, (n, 2))
    labels = np.minimum((position * 6).astype(np.int64), 5)
    return _planar("swiss", points, labels)


def make_grid(n: int = DEFAULT_N_2D, seed: SeedLike = 0) -> Dataset:
    """A jittered 5 x 5 lattice (cell centres plus noise 0.03); label = cell, row-major."""
    n, rng = _check_n(n), as_generator(seed)
    size = 5
    column, row = rng.integers(0, size, n), rng.integers(0, size, n)
    points = (np.column_stack([column, row]) + 0.5) / size + rng.normal(0.0, 0.03, (n, 2))
    return _planar("grid", points, row * size + column)


# ---------------------------------------------------------------------------------------
# 3-D surfaces: a mesh (built once, cached) and per-call samples


@dataclass(frozen=True, eq=False)
class _LabelledSurface:
    """A cleaned, normalised surface and the label of each of its faces (None: use octants)."""

    surface: CleanSurface
    face_labels: np.ndarray | None


def _octant(points: np.ndarray) -> np.ndarray:
    """Octant index 0..7 of each point (n, 3): bit 0 x > 0, bit 1 y > 0, bit 2 z > 0."""
    return (points > 0) @ np.array([1, 2, 4])


def _sample_dataset(name: str, labelled: _LabelledSurface, n: int, seed: SeedLike) -> Dataset:
    n, rng = _check_n(n), as_generator(seed)
    surface = labelled.surface
    points, face_index = sample_surface(surface.vertices, surface.faces, n, rng, surface.areas)
    points = np.ascontiguousarray(points, dtype=np.float32)  # octants from the values returned
    if labelled.face_labels is None:
        labels = _octant(points)
    else:
        labels = labelled.face_labels[face_index]
    return Dataset(
        name=name,
        points=points,
        labels=labels.astype(np.int32),
        vertices=surface.vertices.astype(np.float32),
        faces=surface.faces.astype(np.int32),
        description=DATASETS[name].description,
    )


def _labelled(
    name: str, vertices: np.ndarray, faces: np.ndarray, face_labels: np.ndarray | None
) -> _LabelledSurface:
    """Clean and normalise a mesh as uploads are, carrying face labels through dropped faces."""
    surface = clean_surface(vertices, faces, name)
    for array in (surface.vertices, surface.faces, surface.areas, surface.source_faces):
        array.setflags(write=False)  # cached and shared between calls
    labels = None if face_labels is None else face_labels[surface.source_faces]
    return _LabelledSurface(surface, labels)


def _grid_faces(
    rows: int, columns: int, wrap_rows: bool, wrap_columns: bool, flip_seam: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Two triangles per cell of a (rows, columns) vertex grid numbered row * columns + column.

    wrap_rows joins the last row to the first (a closed loop along the rows); flip_seam
    reverses the columns across that seam (a Moebius strip). Returns (faces int64 (F, 3),
    row of the cell each face belongs to, int64 (F,)).
    """
    row = np.arange(rows if wrap_rows else rows - 1)
    column = np.arange(columns if wrap_columns else columns - 1)
    r, c = np.meshgrid(row, column, indexing="ij")
    r, c = r.ravel(), c.ravel()
    next_r, next_c = (r + 1) % rows, (c + 1) % columns
    # Across the seam of a flipped loop, column c of the last row meets column
    # (columns - 1 - c) of the first.
    seam = flip_seam & (next_r == 0)
    far_c = np.where(seam, columns - 1 - c, c)
    far_next_c = np.where(seam, columns - 1 - next_c, next_c)
    a, b = r * columns + c, r * columns + next_c
    d, e = next_r * columns + far_c, next_r * columns + far_next_c
    faces = np.concatenate([np.column_stack([a, b, e]), np.column_stack([a, e, d])])
    return faces, np.concatenate([r, r])


def _parameter_buckets(cell_rows: np.ndarray, rows: int) -> np.ndarray:
    """Label 0..7 for each face from the row (main parameter step) of its cell."""
    return cell_rows * _PARAMETER_BUCKETS // rows


@functools.cache
def _torus() -> _LabelledSurface:
    rows, columns, major, minor = 96, 32, 1.0, 0.4
    u = 2 * np.pi * np.arange(rows) / rows  # around the hole
    v = 2 * np.pi * np.arange(columns) / columns  # around the tube
    uu, vv = np.meshgrid(u, v, indexing="ij")
    ring = major + minor * np.cos(vv)
    vertices = np.stack([ring * np.cos(uu), ring * np.sin(uu), minor * np.sin(vv)], axis=-1)
    faces, cell_rows = _grid_faces(rows, columns, wrap_rows=True, wrap_columns=True)
    return _labelled("torus", vertices.reshape(-1, 3), faces, _parameter_buckets(cell_rows, rows))


@functools.cache
def _sphere() -> _LabelledSurface:
    rings, segments = 48, 96
    polar = np.pi * np.arange(1, rings) / rings  # interior latitudes; the poles are added apart
    azimuth = 2 * np.pi * np.arange(segments) / segments
    pp, aa = np.meshgrid(polar, azimuth, indexing="ij")
    body = np.stack([np.sin(pp) * np.cos(aa), np.sin(pp) * np.sin(aa), np.cos(pp)], axis=-1)
    north, south = len(polar) * segments, len(polar) * segments + 1
    vertices = np.concatenate([body.reshape(-1, 3), [[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]])
    bands, _ = _grid_faces(len(polar), segments, wrap_rows=False, wrap_columns=True)
    column = np.arange(segments)
    next_column = (column + 1) % segments
    last_ring = (len(polar) - 1) * segments
    caps = np.concatenate([
        np.column_stack([np.full(segments, north), next_column, column]),
        np.column_stack([np.full(segments, south), last_ring + column, last_ring + next_column]),
    ])  # fmt: skip
    return _labelled("sphere", vertices, np.concatenate([bands, caps]), None)


@functools.cache
def _trefoil() -> _LabelledSurface:
    rows, columns, tube_radius = 240, 16, 0.4
    t = 2 * np.pi * np.arange(rows) / rows
    centre = np.column_stack([np.sin(t) + 2 * np.sin(2 * t), np.cos(t) - 2 * np.cos(2 * t), -np.sin(3 * t)])
    tangent = np.column_stack([np.cos(t) + 4 * np.cos(2 * t), -np.sin(t) + 4 * np.sin(2 * t), -3 * np.cos(3 * t)])
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    # Frame from the z axis, never parallel to this knot's tangent (|t_z| <= 0.71), and a
    # function of t alone, so the tube closes without a twist at the seam.
    z_axis = np.array([0.0, 0.0, 1.0])
    normal = z_axis - tangent[:, 2:3] * tangent
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    binormal = np.cross(tangent, normal)
    phi = 2 * np.pi * np.arange(columns) / columns
    circle = np.cos(phi)[None, :, None] * normal[:, None] + np.sin(phi)[None, :, None] * binormal[:, None]
    vertices = centre[:, None] + tube_radius * circle
    faces, cell_rows = _grid_faces(rows, columns, wrap_rows=True, wrap_columns=True)
    return _labelled("trefoil", vertices.reshape(-1, 3), faces, _parameter_buckets(cell_rows, rows))


@functools.cache
def _mobius() -> _LabelledSurface:
    rows, columns, half_width = 144, 9, 0.4
    u = 2 * np.pi * np.arange(rows) / rows  # along the strip
    s = np.linspace(-half_width, half_width, columns)  # across it
    uu, ss = np.meshgrid(u, s, indexing="ij")
    radius = 1.0 + ss * np.cos(uu / 2)
    vertices = np.stack([radius * np.cos(uu), radius * np.sin(uu), ss * np.sin(uu / 2)], axis=-1)
    # After one turn the strip has turned over: s meets -s, hence the flipped seam.
    faces, cell_rows = _grid_faces(rows, columns, wrap_rows=True, wrap_columns=False, flip_seam=True)
    return _labelled("mobius", vertices.reshape(-1, 3), faces, _parameter_buckets(cell_rows, rows))


def bunny_path() -> Path:
    """Path of the Stanford bunny PLY shipped by pymeshfix (found without importing it)."""
    spec = importlib.util.find_spec("pymeshfix")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "examples" / "StanfordBunny.ply"
        if path.is_file():
            return path
    raise FileNotFoundError(
        "the bunny dataset needs the Stanford bunny that pymeshfix ships "
        "(pymeshfix/examples/StanfordBunny.ply); install pymeshfix"
    )


@functools.cache
def _bunny() -> _LabelledSurface:
    path = bunny_path()
    raw = parse_ply(path.read_bytes(), path.name, MeshLimits())  # the upload parser
    return _labelled("bunny", raw.vertices, raw.faces, None)


def make_bunny(n: int = DEFAULT_N_3D, seed: SeedLike = 0) -> Dataset:
    """The Stanford bunny's surface, sampled uniformly by area; label = octant."""
    return _sample_dataset("bunny", _bunny(), n, seed)


def make_sphere(n: int = DEFAULT_N_3D, seed: SeedLike = 0) -> Dataset:
    """A unit sphere (latitude-longitude mesh), sampled uniformly by area; label = octant."""
    return _sample_dataset("sphere", _sphere(), n, seed)


def make_torus(n: int = DEFAULT_N_3D, seed: SeedLike = 0) -> Dataset:
    """A torus (radii 1 and 0.4), sampled uniformly by area; label = sector around the hole."""
    return _sample_dataset("torus", _torus(), n, seed)


def make_trefoil(n: int = DEFAULT_N_3D, seed: SeedLike = 0) -> Dataset:
    """A tube around a trefoil knot, sampled uniformly by area; label = stretch along the knot."""
    return _sample_dataset("trefoil", _trefoil(), n, seed)


def make_mobius(n: int = DEFAULT_N_3D, seed: SeedLike = 0) -> Dataset:
    """A Moebius strip, sampled uniformly by area; label = stretch along the strip."""
    return _sample_dataset("mobius", _mobius(), n, seed)


# ---------------------------------------------------------------------------------------
# Registry

_PLANAR_SETS = (
    ("clusters", make_clusters, "Three Gaussian blobs in the plane (label: blob)"),
    ("rings", make_rings, "Two concentric noisy rings in the plane (label: ring)"),
    ("swiss", make_swiss, "A Swiss roll seen along its axis, a 2-D spiral (label: position along it)"),
    ("grid", make_grid, "A jittered 5 x 5 lattice in the plane (label: cell)"),
)
_SURFACE_SETS = (
    ("bunny", make_bunny, "The Stanford bunny's surface (label: octant)"),
    ("sphere", make_sphere, "A sphere's surface (label: octant)"),
    ("torus", make_torus, "A torus's surface (label: sector around the hole)"),
    ("trefoil", make_trefoil, "A tube around a trefoil knot (label: stretch along the knot)"),
    ("mobius", make_mobius, "A Moebius strip (label: stretch along the strip)"),
)
DATASETS: dict[str, DatasetInfo] = {
    **{name: DatasetInfo(name, text, 2, DEFAULT_N_2D, make) for name, make, text in _PLANAR_SETS},
    **{name: DatasetInfo(name, text, 3, DEFAULT_N_3D, make) for name, make, text in _SURFACE_SETS},
}
"""Every built-in dataset by name, 2-D first, in the order a menu should list them."""


def load_dataset(name: str, n: int | None = None, seed: SeedLike = 0) -> Dataset:
    """Build the named built-in dataset with n points (its default when None).

    Raises ValueError listing the valid names for an unknown name, and ValueError when n
    is outside 2..1,000,000.
    """
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return info.make(info.default_n if n is None else _check_n(n), seed)
