"""Plain NumPy geometry behind the figures: the map's drawable structure, projections and
subsamples. No Plotly here, and no Numba: this runs in the web server's process.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from zsom_core.grid import Grid

# Grid.edges() includes a toroidal map's wrap-around pairs; in the plane they are longer
# than a unit step, and drawing them would cross the whole map.
_MAX_DRAWN_EDGE = 1.01
BREAK = -1


@lru_cache(maxsize=32)
def map_structure(width: int, height: int, topology: str) -> MapStructure:
    """What the figures need to draw a map, computed once per grid shape."""
    return MapStructure(Grid(width, height, topology))


class MapStructure:
    """A grid's unit positions, the polylines of its edges and the triangles of its surface."""

    def __init__(self, grid: Grid):
        self.width, self.height, self.topology = grid.width, grid.height, grid.topology
        self.n_units = grid.n_units
        self.positions = grid.positions
        edges = grid.edges()
        lengths = np.linalg.norm(self.positions[edges[:, 0]] - self.positions[edges[:, 1]], axis=1)
        self.edges = edges[lengths < _MAX_DRAWN_EDGE]
        self.polyline = chain_edges(self.edges, self.n_units)
        self.triangles = surface_triangles(grid, self.edges)


def chain_edges(edges: np.ndarray, n_units: int) -> np.ndarray:
    """Unit indices that draw every edge once as few polylines, ``BREAK`` between them.

    A line trace that visits ``weights[sequence]`` (with a gap at each break) draws the whole
    mesh; chaining edges into walks sends about one point per edge instead of three.
    """
    adjacency: list[list[int]] = [[] for _ in range(n_units)]
    for i, j in edges:
        adjacency[i].append(int(j))
        adjacency[j].append(int(i))
    used = set()
    degree_left = [len(neighbours) for neighbours in adjacency]
    # Starting walks at odd-degree units first lets each walk run as long as it can.
    starts = sorted(range(n_units), key=lambda unit: degree_left[unit] % 2 == 0)
    sequence: list[int] = []
    for start in starts:
        while degree_left[start] > 0:
            walk = [start]
            current = start
            while True:
                step = next((n for n in adjacency[current] if (min(current, n), max(current, n)) not in used), None)
                if step is None:
                    break
                used.add((min(current, step), max(current, step)))
                degree_left[current] -= 1
                degree_left[step] -= 1
                walk.append(step)
                current = step
            if sequence:
                sequence.append(BREAK)
            sequence.extend(walk)
    return np.asarray(sequence, dtype=np.int64)


def surface_triangles(grid: Grid, edges: np.ndarray) -> np.ndarray:
    """Triangles (F, 3) of unit indices covering the map without its wrap-around seams.

    Square maps split each cell into two triangles; hexagonal maps use the triangles that
    three mutually neighbouring units form.
    """
    if grid.topology == "square":
        x, y = np.meshgrid(np.arange(grid.width - 1), np.arange(grid.height - 1), indexing="ij")
        a = (x * grid.height + y).ravel()
        b, c, d = a + grid.height, a + 1, a + grid.height + 1
        return np.concatenate([np.column_stack([a, b, d]), np.column_stack([a, d, c])]).astype(np.int64)
    neighbours = [set() for _ in range(grid.n_units)]
    for i, j in edges:
        neighbours[i].add(int(j))
        neighbours[j].add(int(i))
    triangles = [(i, j, k) for i in range(grid.n_units) for j in neighbours[i] if j > i
                 for k in neighbours[i] & neighbours[j] if k > j]
    return np.asarray(triangles, dtype=np.int64).reshape(-1, 3)


def polyline_points(points: np.ndarray, sequence: np.ndarray) -> np.ndarray:
    """``points[sequence]`` as float32 with NaN rows at the breaks (gaps in a line trace)."""
    out = points[np.maximum(sequence, 0)].astype(np.float32)
    out[sequence == BREAK] = np.nan
    return out


def segments(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Separate segments start -> end as one line trace: start, end, NaN for each pair."""
    k = starts.shape[1]
    out = np.full((len(starts), 3, k), np.nan, dtype=np.float32)
    out[:, 0] = starts
    out[:, 1] = ends
    return out.reshape(-1, k)


def subsample_indices(n: int, k: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``min(n, k)`` distinct samples, the same for the same arguments."""
    if n <= k:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False)).astype(np.int64)


def pca_basis(points: np.ndarray, components: int = 3, max_rows: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and the first ``components`` principal axes (components, d) of ``points``.

    Fitted on at most ``max_rows`` rows: the axes of a display projection need no more.
    """
    data = np.asarray(points, dtype=np.float64)
    sample = data[subsample_indices(len(data), max_rows, seed=1)]
    mean = sample.mean(axis=0)
    _, _, axes = np.linalg.svd(sample - mean, full_matrices=False)
    axes = axes[:components]
    if len(axes) < components:
        axes = np.vstack([axes, np.zeros((components - len(axes), data.shape[1]))])
    return mean, axes


def project(points: np.ndarray, basis: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Points in display space: unchanged without a basis, else their PCA scores."""
    if basis is None:
        return np.asarray(points)
    mean, axes = basis
    return (np.asarray(points, dtype=np.float64) - mean) @ axes.T


def decimate_mesh(vertices: np.ndarray, faces: np.ndarray, max_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """A coarser copy of a triangle mesh by vertex clustering, with at most ``max_faces`` faces.

    Vertices in the same voxel merge into their mean, and faces that collapse are dropped;
    the voxel shrinks by the face budget. Good enough for a faint underlay, and plain NumPy.
    """
    if len(faces) <= max_faces:
        return vertices, faces
    vertices = np.asarray(vertices, dtype=np.float64)
    low = vertices.min(axis=0)
    extent = float(np.max(vertices.max(axis=0) - low)) or 1.0
    resolution = int(np.sqrt(max_faces / 2.0))
    while True:
        cell = np.floor((vertices - low) / extent * resolution).astype(np.int64)
        _, cluster, counts = np.unique(cell, axis=0, return_inverse=True, return_counts=True)
        cluster = cluster.ravel()
        merged = np.zeros((len(counts), 3))
        np.add.at(merged, cluster, vertices)
        merged /= counts[:, None]
        new_faces = cluster[faces]
        keep = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
                & (new_faces[:, 0] != new_faces[:, 2]))
        new_faces = new_faces[keep]
        # Faces that collapse onto the same three clusters are drawn once, in their own winding.
        _, first = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
        new_faces = new_faces[np.sort(first)]
        if len(new_faces) <= max_faces or resolution <= 4:
            return merged.astype(np.float32), new_faces.astype(np.int32)
        resolution = int(resolution * 0.8)
