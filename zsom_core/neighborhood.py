"""Neighbourhood functions of grid distance and sigma.

``h(d, sigma)`` weighs how much a unit at grid distance ``d`` from a sample's best-matching
unit moves towards that sample. An optional cut-off radius, in units of sigma, zeroes the
function beyond it (the original ZSOM cut the gaussian at 2.5 sigma); a cut-off also keeps
far gaussian tails from turning into slow subnormal floats.

The mexican hat is negative beyond sigma (its surround): units there move away from the
sample. Unchecked, the surround outweighs the centre (in the plane the hat integrates to
zero) and pushes the map's units out of the data, where nothing pulls them back; so each
unit's surround may pull on it at most ``SURROUND_CAP`` times as hard as its centre does
(``surround_scale``).

``NEIGHBORHOODS`` maps each public name to the kernels' code, ``NEIGHBORHOOD_LABELS`` to
the label a user reads.
"""

from __future__ import annotations

import numpy as np

from .registry import check_name

GAUSSIAN, BUBBLE, MEXICAN_HAT, TRIANGLE = range(4)

NEIGHBORHOODS = {
    "gaussian": GAUSSIAN,
    "bubble": BUBBLE,
    "mexican_hat": MEXICAN_HAT,
    "triangle": TRIANGLE,
}

# The surround's data-weighted pull on a unit, as a share of its centre's at most. Larger
# caps let the surround push edge units out of the data (benchmarks/README.md).
SURROUND_CAP = 0.05

NEIGHBORHOOD_LABELS = {
    "gaussian": "Gaussian",
    "bubble": "Bubble",
    "mexican_hat": "Mexican hat",
    "triangle": "Triangle",
}


def neighborhood_code(name: str) -> int:
    """The kernel code of ``name``; raises ``ValueError`` naming the valid neighbourhoods."""
    check_name(name, NEIGHBORHOODS, "neighborhood", "neighborhoods")
    return NEIGHBORHOODS[name]


def has_surround(name: str) -> bool:
    """Whether the neighbourhood ``name`` is negative somewhere (the mexican hat)."""
    return neighborhood_code(name) == MEXICAN_HAT


def surround_scale(centre_mass: np.ndarray, surround_mass: np.ndarray) -> np.ndarray:
    """The factor on each unit's surround (the negative part of its neighbourhood), (m,).

    ``centre_mass`` and ``surround_mass`` (m,) are the unit's positive and negative
    neighbourhood weights summed over the samples (each sample counting at its winner):
    the surround is scaled down until it weighs at most ``SURROUND_CAP`` times the centre.
    A unit whose centre caught nothing gets 0: nothing pushes it out of the data either.
    """
    centre_mass = np.asarray(centre_mass, dtype=np.float64)
    surround_mass = np.asarray(surround_mass, dtype=np.float64)
    ratio = np.divide(SURROUND_CAP * centre_mass, surround_mass, out=np.ones_like(centre_mass),
                      where=surround_mass > 0)
    return np.minimum(1.0, ratio)


def neighborhood_weights(distances: np.ndarray, sigma: float, name: str = "gaussian",
                         cutoff: float | None = None) -> np.ndarray:
    """Plain float64 NumPy neighbourhood, the reference for the Numba kernel.

    gaussian: exp(-d^2 / 2 sigma^2); bubble: 1 where d <= sigma; mexican hat (Ricker):
    (1 - d^2 / sigma^2) exp(-d^2 / 2 sigma^2); triangle: max(0, 1 - d / sigma).
    """
    d = np.asarray(distances, dtype=np.float64)
    code = neighborhood_code(name)
    ratio_squared = (d / sigma) ** 2
    if code == GAUSSIAN:
        h = np.exp(-0.5 * ratio_squared)
    elif code == BUBBLE:
        h = (d <= sigma).astype(np.float64)
    elif code == MEXICAN_HAT:
        h = (1.0 - ratio_squared) * np.exp(-0.5 * ratio_squared)
    else:
        h = np.maximum(0.0, 1.0 - d / sigma)
    if cutoff is not None:
        h = np.where(d <= cutoff * sigma, h, 0.0)
    return h


def gaussian_smooth(grid, sigma: float, values: np.ndarray) -> np.ndarray:
    """``H @ values`` for the gaussian neighbourhood ``H`` (no cut-off), without forming ``H``.

    A gaussian of the grid distance is a product of gaussians of the x and y offsets,
    and x offsets depend only on the two columns and on the rows' parity (hex rows are
    shifted by half a unit). So the smoothing splits into small products with (w, w) and
    (h, h) factors per pair of row parities: O(m (w + h) k) instead of O(m^2 k), and no
    (m, m) matrix. IN: values (m, k). Returns float64 (m, k).
    """
    width, height = grid.shape
    period_x, period_y = grid.period
    row_height = period_y / height
    V = np.asarray(values, dtype=np.float64).reshape(width, height, -1)
    out = np.zeros_like(V)
    row_groups = [np.arange(parity, height, 2) for parity in (0, 1)] if grid.topology == "hex" else [np.arange(height)]
    columns = np.arange(width, dtype=np.float64)

    def factor(offsets: np.ndarray, period: float) -> np.ndarray:
        offsets = np.abs(offsets)
        if grid.toroidal:
            offsets = np.minimum(offsets, period - offsets)
        return np.exp(-0.5 * (offsets / sigma) ** 2)

    for rows_to in row_groups:
        for rows_from in row_groups:
            if len(rows_to) == 0 or len(rows_from) == 0:
                continue
            shift = 0.5 * ((rows_from[0] % 2) - (rows_to[0] % 2)) if grid.topology == "hex" else 0.0
            along_x = factor(columns[None, :] - columns[:, None] + shift, period_x)
            along_y = factor((rows_from[None, :] - rows_to[:, None]) * row_height, period_y)
            # out[a, b] += sum_x sum_y along_x[a, x] along_y[b, y] V[x, rows_from[y]], as
            # two plain matrix products.
            source = V[:, rows_from, :]
            partial = (along_x @ source.reshape(width, -1)).reshape(width, len(rows_from), -1)
            partial = partial.transpose(1, 0, 2).reshape(len(rows_from), -1)
            smoothed = (along_y @ partial).reshape(len(rows_to), width, -1)
            out[:, rows_to, :] += smoothed.transpose(1, 0, 2)
    return out.reshape(width * height, -1)
