"""Units grouped in square patches of the grid, with a centre and a radius each: the
bounds behind the pruned BMU search (``bmu.RowSearch``, ``kernels.patch_candidates``).

Once a map has begun to order, units that are neighbours on the grid lie near each other
in data space, so a patch of the grid is a tight ball of weights: no unit of a patch is
nearer to a sample ``x`` than ``dist(x, centre) - radius`` (the triangle inequality). A
sample's two best units then lie in the few patches whose ball comes within its
runner-up's distance, and the others need no distance computed.

The bounds are exact for the weights they are computed from, and computed again at every
pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .grid import Grid
from .metrics import CHEBYSHEV, EUCLIDEAN, MANHATTAN


def patch_side(n_units: int) -> int:
    """Units along a patch's side: about m^(1/4), so that there are about sqrt(m) patches
    of about sqrt(m) units: a sample's bounds against every patch cost about as much as
    searching one patch."""
    return max(2, round(n_units**0.25))


@dataclass(frozen=True)
class PatchBounds:
    """One pass's bounds: each patch's centre, transposed (d, patches) in the weights'
    dtype, and radius (patches,) float64."""

    centres_t: np.ndarray
    radii: np.ndarray


class UnitPatches:
    """The grid's units in square patches of ``patch_side`` units (the last row and column
    of patches may be narrower). ``units`` lists the units patch by patch; patch ``g``'s
    are ``units[ptr[g]:ptr[g + 1]]``; ``patch_of`` gives each unit's patch."""

    def __init__(self, grid: Grid):
        side = patch_side(grid.n_units)
        x, y = grid.unit_coordinates(np.arange(grid.n_units))
        self.patch_of = ((x // side) * -(-grid.height // side) + y // side).astype(np.int64)
        self.units = np.argsort(self.patch_of, kind="stable").astype(np.int64)
        self.ptr = np.concatenate([[0], np.cumsum(np.bincount(self.patch_of))]).astype(np.int64)

    @property
    def n_patches(self) -> int:
        return len(self.ptr) - 1

    def bounds(self, work_weights: np.ndarray, code: int, p: float) -> PatchBounds:
        """Centres and radii of the patches for ``work_weights`` (m, d), the weights as the
        search sees them, under a metric with the triangle inequality (``code, p``). The
        centre is the patch's mean cast to the weights' dtype; the radius is measured from
        that cast centre in float64."""
        sizes = np.diff(self.ptr)
        centres = (np.add.reduceat(work_weights[self.units], self.ptr[:-1], axis=0, dtype=np.float64)
                   / sizes[:, None]).astype(work_weights.dtype)
        offsets = np.abs(work_weights.astype(np.float64) - centres[self.patch_of])
        radii = np.zeros(self.n_patches)
        np.maximum.at(radii, self.patch_of, norms(offsets, code, p))
        return PatchBounds(np.ascontiguousarray(centres.T), radii)


def norms(offsets: np.ndarray, code: int, p: float) -> np.ndarray:
    """Each row's norm under the metric ``code, p`` (rows of absolute values)."""
    if code == EUCLIDEAN:
        return np.sqrt(np.einsum("ij,ij->i", offsets, offsets))
    if code == MANHATTAN:
        return offsets.sum(axis=1)
    if code == CHEBYSHEV:
        return offsets.max(axis=1)
    return (offsets**p).sum(axis=1) ** (1.0 / p)
