"""The map's lattice: unit positions in the plane, grid distances and neighbours.

Units are numbered in C order over ``(width, height)``: unit ``i`` sits at column
``x = i // height`` and row ``y = i % height``, so ``weights.reshape(m, d)`` of a
``(width, height, d)`` weight array lists the units in that order.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from .registry import check_name

TOPOLOGIES = ("square", "hex")
TOPOLOGY_LABELS = {"square": "Square", "hex": "Hexagonal"}

_HEX_ROW_HEIGHT = np.sqrt(3.0) / 2.0
# Positions are exact up to float rounding; neighbours are the units at distance 1.
_NEIGHBOUR_TOLERANCE = 1e-6


class Grid:
    """A ``width x height`` lattice, square or hexagonal, optionally toroidal.

    Hexagonal grids use offset rows: odd rows shift right by half a unit and rows are
    ``sqrt(3)/2`` apart, so the six neighbours of an interior unit are all at grid
    distance 1. A toroidal hexagonal grid needs an even height, or the offset pattern
    would not continue across the seam.
    """

    def __init__(self, width: int, height: int, topology: str = "square", toroidal: bool = False):
        width, height = _positive_int("width", width), _positive_int("height", height)
        if width * height < 2:
            raise ValueError(f"the grid must have at least 2 units (1 x 2 or larger), got {width} x {height}")
        check_name(topology, TOPOLOGIES, "topology", "topologies")
        if toroidal and topology == "hex" and height % 2:
            raise ValueError(f"a toroidal hexagonal grid needs an even height, got {height}")
        self.width = width
        self.height = height
        self.topology = topology
        self.toroidal = bool(toroidal)

    @property
    def n_units(self) -> int:
        return self.width * self.height

    @property
    def shape(self) -> tuple[int, int]:
        return (self.width, self.height)

    @cached_property
    def positions(self) -> np.ndarray:
        """Unit centres in the plane, float64 ``(m, 2)``; neighbours are 1 apart."""
        x, y = np.meshgrid(np.arange(self.width), np.arange(self.height), indexing="ij")
        x = x.ravel().astype(np.float64)
        y = y.ravel().astype(np.float64)
        if self.topology == "hex":
            x = x + 0.5 * (y % 2)
            y = y * _HEX_ROW_HEIGHT
        return np.ascontiguousarray(np.column_stack([x, y]))

    @property
    def period(self) -> tuple[float, float]:
        """Extent of one period of a toroidal grid along x and y."""
        row_height = _HEX_ROW_HEIGHT if self.topology == "hex" else 1.0
        return float(self.width), self.height * row_height

    def distances_from(self, units) -> np.ndarray:
        """Grid distances from ``units`` to every unit, float64 ``(len(units), m)``, wrapping when toroidal."""
        origin = self.positions[np.atleast_1d(units)]
        squared = np.zeros((len(origin), self.n_units))
        for axis, period in enumerate(self.period):
            delta = np.abs(origin[:, axis, None] - self.positions[None, :, axis])
            if self.toroidal:
                delta = np.minimum(delta, period - delta)
            squared += delta**2
        return np.sqrt(squared)

    @cached_property
    def distances(self) -> np.ndarray:
        """Unit-to-unit grid distances, float64 ``(m, m)``. Training never builds this matrix."""
        distances = self.distances_from(np.arange(self.n_units))
        distances.flags.writeable = False
        return distances

    @cached_property
    def neighbor_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours in CSR form: unit ``i``'s are ``indices[indptr[i]:indptr[i + 1]]``, ascending.

        Found among the units at most one column and one row away (the only places a
        square or hexagonal neighbour can be), keeping those at grid distance 1.
        """
        x, y = self.unit_coordinates(np.arange(self.n_units))
        offsets = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy])
        cx = x[:, None] + offsets[None, :, 0]
        cy = y[:, None] + offsets[None, :, 1]
        if self.toroidal:
            cx, cy = cx % self.width, cy % self.height
        inside = (cx >= 0) & (cx < self.width) & (cy >= 0) & (cy < self.height)
        units, slots = np.nonzero(inside)
        candidates = cx[units, slots] * self.height + cy[units, slots]
        delta = np.abs(self.positions[units] - self.positions[candidates])
        if self.toroidal:
            delta = np.minimum(delta, np.array(self.period) - delta)
        is_neighbor = (np.abs(np.hypot(delta[:, 0], delta[:, 1]) - 1.0) < _NEIGHBOUR_TOLERANCE) & (candidates != units)
        # Tiny toroidal grids reach the same unit across both seams: keep each pair once.
        pairs = np.unique(np.column_stack([units[is_neighbor], candidates[is_neighbor]]), axis=0)
        indptr = np.zeros(self.n_units + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs[:, 0], minlength=self.n_units), out=indptr[1:])
        return indptr, np.ascontiguousarray(pairs[:, 1], dtype=np.int64)

    @cached_property
    def adjacency(self) -> np.ndarray:
        """Boolean ``(m, m)``: True where two distinct units are grid neighbours."""
        indptr, indices = self.neighbor_lists
        adjacency = np.zeros((self.n_units, self.n_units), dtype=bool)
        adjacency[np.repeat(np.arange(self.n_units), np.diff(indptr)), indices] = True
        adjacency.flags.writeable = False
        return adjacency

    def neighbors(self, unit: int) -> np.ndarray:
        """Indices of the grid neighbours of ``unit``."""
        indptr, indices = self.neighbor_lists
        return indices[indptr[unit] : indptr[unit + 1]]

    def unit_index(self, x: int, y: int) -> int:
        return x * self.height + y

    def unit_coordinates(self, unit) -> tuple[np.ndarray, np.ndarray]:
        """Column and row of each unit index."""
        unit = np.asarray(unit)
        return unit // self.height, unit % self.height

    def edges(self) -> np.ndarray:
        """Each neighbour pair once, int64 ``(k, 2)`` with ``i < j``; drawn as the map's mesh.

        Toroidal wrap-around edges are included: a caller that draws the map in the plane
        can drop them by their length in ``positions``.
        """
        indptr, indices = self.neighbor_lists
        first = np.repeat(np.arange(self.n_units), np.diff(indptr))
        keep = first < indices
        return np.column_stack([first[keep], indices[keep]]).astype(np.int64)

    def __repr__(self) -> str:
        wrap = ", toroidal=True" if self.toroidal else ""
        return f"Grid({self.width}, {self.height}, topology={self.topology!r}{wrap})"


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)
