"""A map size that follows the data: the SOM Toolbox's rule (``som_topol_struct``).

About ``5 n^0.54321`` units (rounded up), on a map whose sides are in the ratio of the
data's spread along its first two principal components: the square root of the ratio of
the two largest eigenvalues of its covariance. On a hexagonal lattice rows are
``sqrt(0.75)`` apart, so the Toolbox gives the map ``1 / sqrt(0.75)`` times as many rows
to keep the map's shape in the plane that of the data.

Here the physically longer side runs across (``width``); each side stays within
[``MIN_SIDE``, ``MAX_SIDE``].
"""

from __future__ import annotations

import math

import numpy as np

from .grid import TOPOLOGIES
from .init import fill_missing
from .registry import check_name

UNITS_FACTOR, UNITS_EXPONENT = 5.0, 0.54321
MIN_SIDE, MAX_SIDE = 2, 100
HEX_ROW_SPACING = math.sqrt(0.75)


def auto_map_size(X, topology: str = "hex", *, max_units: int | None = None) -> tuple[int, int]:
    """``(width, height)`` of a map for the samples ``X`` (n, d), by the SOM Toolbox's rule.

    ``max_units`` caps the number of units (default: no cap but the sides' own). Data that
    spreads along one direction only (one feature, or a second eigenvalue of zero) gets
    the longest map the sides allow, ``MIN_SIDE`` rows high: the map cannot follow a
    second direction the data does not have. Constant data gets a square-ish map.
    """
    check_name(topology, TOPOLOGIES, "topology", "topologies")
    data = _check_samples(X)
    if max_units is not None and (isinstance(max_units, bool) or not isinstance(max_units, (int, np.integer))
                                  or max_units < MIN_SIDE * MIN_SIDE):
        raise ValueError(f"max_units must be an integer >= {MIN_SIDE * MIN_SIDE} (the smallest map, "
                         f"{MIN_SIDE} x {MIN_SIDE}), or None; got {max_units!r}")
    units = math.ceil(UNITS_FACTOR * len(data) ** UNITS_EXPONENT)
    if max_units is not None:
        units = min(units, int(max_units))
    row_spacing = HEX_ROW_SPACING if topology == "hex" else 1.0
    # width / (height * row_spacing) = ratio and width * height = units: the shorter side is
    # rounded first, as the Toolbox does, and the other side takes what the units leave.
    height = _clamp(round(math.sqrt(units / (_principal_ratio(data) * row_spacing))))
    width = _clamp(round(units / height))
    while max_units is not None and width * height > max_units:  # rounding up may pass the cap
        if width >= height and width > MIN_SIDE:
            width -= 1
        else:
            height -= 1
    return width, height


def _principal_ratio(data: np.ndarray) -> float:
    """sqrt(lambda_1 / lambda_2) of the covariance: inf for data on a line, 1 for a point."""
    if data.shape[1] == 1:
        return math.inf if np.ptp(data) > 0 else 1.0
    eigenvalues = np.linalg.eigvalsh(np.cov(data, rowvar=False))  # ascending
    largest, second = float(eigenvalues[-1]), max(0.0, float(eigenvalues[-2]))
    # Eigenvalues within rounding of the largest are zero: a line in a higher dimension.
    if largest <= 0.0:
        return 1.0
    if second <= largest * 1e3 * np.finfo(np.float64).eps * data.shape[1]:
        return math.inf
    return math.sqrt(largest / second)


def _clamp(side: float) -> int:
    return int(min(MAX_SIDE, max(MIN_SIDE, side)))


def _check_samples(X) -> np.ndarray:
    try:
        data = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"X must be a numeric array of shape (n_samples, n_features): {error}") from error
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] < 1:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {data.shape}")
    if len(data) < 2:
        raise ValueError(f"X needs at least 2 samples, got {len(data)}")
    if np.isinf(data).any():
        raise ValueError("X has infinite values; drop or clip them first")
    # A missing value (NaN) counts as its feature's mean, as for the initialisations.
    if np.isnan(data).all(axis=0).any():
        raise ValueError("X has a feature with no observed value; drop it first")
    return fill_missing(data)
