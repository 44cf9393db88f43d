"""``load_mesh``: bytes of an uploaded OBJ, STL or PLY file -> points sampled on its surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import MeshError, describe_exception, sanitise_filename
from .limits import MeshLimits, check_byte_size
from .obj import parse_obj
from .ply import parse_ply
from .raw import RawMesh, plural
from .sampling import SeedLike, as_generator, sample_surface, sample_vertices
from .sniff import OBJ, PLY, STL_ASCII, STL_BINARY, detect_format
from .stl import parse_stl_ascii, parse_stl_binary
from .validate import check_vertices, clean_surface, normalise_to_unit_cube

MAX_POINTS = 1_000_000

_PARSERS = {
    STL_BINARY: parse_stl_binary,
    STL_ASCII: parse_stl_ascii,
    PLY: parse_ply,
    OBJ: parse_obj,
}
_FORMAT_NAMES = {STL_BINARY: "binary STL", STL_ASCII: "ASCII STL", PLY: "PLY", OBJ: "OBJ"}


@dataclass(frozen=True, eq=False)
class LoadedMesh:
    """An uploaded mesh, normalised into the unit cube, with points sampled on it.

    points: float32 (n, 3), uniform by area over the surface (or drawn from the
        vertices of a point cloud).
    vertices: float32 (V, 3), centred at the origin, largest extent 1, so every
        coordinate lies in [-0.5, 0.5]; the aspect ratio is kept.
    faces: int32 (F, 3) triangles indexing ``vertices``; (0, 3) for a point cloud.
    is_point_cloud: the file had vertices but no faces.
    format: ``"obj"``, ``"stl"`` or ``"ply"``, as found from the content.
    filename: the base name, stripped of directories and control characters.
    notes: what the loader changed or assumed, one sentence each, for the user.
    """

    points: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    is_point_cloud: bool
    format: str
    filename: str
    notes: tuple[str, ...]


def load_mesh(
    data: bytes,
    filename: str,
    n_points: int = 20_000,
    seed: SeedLike = 0,
    limits: MeshLimits | None = None,
) -> LoadedMesh:
    """Parse an OBJ, STL (binary or ASCII) or PLY file held in memory and sample its surface.

    data: the file's bytes; nothing is written to disk, executed or unpickled.
    filename: used only as a format hint and, sanitised, in messages.
    n_points: number of points to sample, 1 to 1,000,000.
    seed: an int or a ``numpy.random.Generator``; the same int gives the same points.
    limits: size limits; ``MeshLimits()`` when None.

    Every problem with the file raises ``MeshError`` (a ``ValueError``) whose message
    names the file and says what is wrong. Bad arguments raise TypeError or ValueError.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)):
        raise TypeError(f"n_points must be an integer, got {type(n_points).__name__}")
    if not 1 <= n_points <= MAX_POINTS:
        raise ValueError(f"n_points must be between 1 and {MAX_POINTS:,}, got {n_points:,}")
    limits = MeshLimits() if limits is None else limits
    name = sanitise_filename(filename)

    size = data.nbytes if isinstance(data, memoryview) else len(data)
    check_byte_size(size, limits, name)
    if size == 0:
        raise MeshError(f"{name}: the file is empty (0 bytes). Choose a mesh file with geometry in it.")
    data = bytes(data)
    kind = detect_format(data, name)
    rng = as_generator(seed)
    try:
        raw = _PARSERS[kind](data, name, limits)
        return _sample(raw, name, int(n_points), rng)
    except MeshError:
        raise
    except MemoryError as exc:
        raise MeshError(
            f"{name}: not enough memory to load this {_FORMAT_NAMES[kind]} file; try a smaller mesh."
        ) from exc
    except Exception as exc:  # any parser failure on hostile bytes becomes a message
        raise MeshError(
            f"{name}: the {_FORMAT_NAMES[kind]} data could not be read; the file looks "
            f"corrupt or truncated ({describe_exception(exc)})."
        ) from exc


def _sample(raw: RawMesh, name: str, count: int, rng: np.random.Generator) -> LoadedMesh:
    """Validate and normalise parsed geometry, then sample ``count`` points from it."""
    if len(raw.faces) == 0:
        vertices = normalise_to_unit_cube(check_vertices(raw.vertices, name), name)
        points, repeated = sample_vertices(vertices, count, rng)
        if repeated:
            how = f"all {plural(len(vertices), 'vertex')} used, some repeated to make {count:,} points"
        else:
            how = f"{count:,} of its {plural(len(vertices), 'vertex')} sampled"
        return LoadedMesh(
            points=points.astype(np.float32),
            vertices=vertices.astype(np.float32),
            faces=np.zeros((0, 3), dtype=np.int32),
            is_point_cloud=True,
            format=raw.format,
            filename=name,
            notes=(*raw.notes, f"file has no faces: treated as a point cloud, {how}"),
        )

    surface = clean_surface(raw.vertices, raw.faces, name)
    points, _ = sample_surface(surface.vertices, surface.faces, count, rng, surface.areas)
    return LoadedMesh(
        points=points.astype(np.float32),
        vertices=surface.vertices.astype(np.float32),
        faces=surface.faces.astype(np.int32),
        is_point_cloud=False,
        format=raw.format,
        filename=name,
        notes=(*raw.notes, *surface.notes),
    )
