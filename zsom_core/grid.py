"""The map's lattice: unit positions in the plane, grid distances and neighbours.

Units are numbered in C order over ``(width, height)``: unit ``i`` sits at column
``x = i // height`` and row ``y = i % height``, so ``weights.reshape(m, d)`` of a
``(width, height, d)`` weight array lists the units in that order.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

TOPOLOGIES = ("square", "hex")

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
        if topology not in TOPOLOGIES:
            raise ValueError(f"unknown topology {topology!r}; valid topologies: {', '.join(TOPOLOGIES)}")
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

    @cached_property
    def distances(self) -> np.ndarray:
        """Unit-to-unit grid distances, float64 ``(m, m)``, wrapping when toroidal."""
        squared = np.zeros((self.n_units, self.n_units))
        for axis, period in enumerate(self.period):
            coordinate = self.positions[:, axis]
            delta = np.abs(coordinate[:, None] - coordinate[None, :])
            if self.toroidal:
                delta = np.minimum(delta, period - delta)
            squared += delta**2
        distances = np.sqrt(squared)
        distances.flags.writeable = False
        return distances

    @cached_property
    def adjacency(self) -> np.ndarray:
        """Boolean ``(m, m)``: True where two distinct units are grid neighbours."""
        adjacency = np.abs(self.distances - 1.0) < _NEIGHBOUR_TOLERANCE
        adjacency.flags.writeable = False
        return adjacency

    @cached_property
    def neighbor_lists(self) -> tuple[np.ndarray, np.ndarray]:
        """Neighbours in CSR form: unit ``i``'s are ``indices[indptr[i]:indptr[i + 1]]``."""
        counts = self.adjacency.sum(axis=1)
        indptr = np.zeros(self.n_units + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.nonzero(self.adjacency)[1].astype(np.int64)
        return indptr, indices

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
        i, j = np.nonzero(np.triu(self.adjacency))
        return np.column_stack([i, j]).astype(np.int64)

    def __repr__(self) -> str:
        wrap = ", toroidal=True" if self.toroidal else ""
        return f"Grid({self.width}, {self.height}, topology={self.topology!r}{wrap})"


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return int(value)
