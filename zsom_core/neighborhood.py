"""Neighbourhood functions of grid distance and sigma.

``h(d, sigma)`` weighs how much a unit at grid distance ``d`` from a sample's best-matching
unit moves towards that sample. An optional cut-off radius, in units of sigma, zeroes the
function beyond it (the original ZSOM cut the gaussian at 2.5 sigma); a cut-off also keeps
far gaussian tails from turning into slow subnormal floats.
"""

from __future__ import annotations

import numpy as np

GAUSSIAN, BUBBLE, MEXICAN_HAT, TRIANGLE = range(4)

NEIGHBORHOODS = {
    "gaussian": GAUSSIAN,
    "bubble": BUBBLE,
    "mexican_hat": MEXICAN_HAT,
    "triangle": TRIANGLE,
}


def neighborhood_code(name: str) -> int:
    if name not in NEIGHBORHOODS:
        raise ValueError(f"unknown neighborhood {name!r}; valid neighborhoods: {', '.join(NEIGHBORHOODS)}")
    return NEIGHBORHOODS[name]


def neighborhood_weights(distances: np.ndarray, sigma: float, name: str = "gaussian", cutoff: float | None = None) -> np.ndarray:
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
