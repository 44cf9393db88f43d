"""Measures of how well a map keeps the data's neighbourhoods: the topographic product
(Bauer and Pawelzik, 1992), trustworthiness and neighbourhood preservation (Venna and
Kaski, 2001). ``SOM.quality`` gathers them with the map's other measures.

Ties. Grid distances tie often (a unit's four or six neighbours are all at 1), and so do
the distances between samples that share a best unit (0 on the grid). Wherever an order
is needed, equal distances are ordered by index: the unit's, or the sample's. Venna and
Kaski define their ranks for distinct distances; the index order is the usual convention
(scikit-learn's ``trustworthiness`` leaves it to its sort).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from . import kernels

# Rows of a block of sample-to-sample distances, (rows, n) float64, held at once.
RANK_BLOCK_ROWS = 256


def topographic_product(weights: np.ndarray, grid_distances: np.ndarray, weight_distances: np.ndarray) -> float:
    """Bauer and Pawelzik's topographic product of a map: 0 where the order of every unit's
    neighbours on the grid and among the prototypes agree, below 0 where the map is folded
    into the data (too few dimensions), above 0 where it is too many.

    For unit j and k = 1 .. m - 1, with n_k^A(j) its k-th nearest unit on the grid and
    n_k^V(j) among the prototypes:
    Q1(j, k) = d^V(j, n_k^A(j)) / d^V(j, n_k^V(j)), Q2(j, k) = d^A(j, n_k^A(j)) / d^A(j, n_k^V(j)),
    P3(j, k) = (prod_{l <= k} Q1(j, l) Q2(j, l))^(1 / 2k), and the product is the mean of
    log P3 over every j and k.

    ``weights`` (m, d) only sets m here; ``grid_distances`` and ``weight_distances`` are the
    (m, m) distances between units on the grid and between their prototypes. NaN where
    two prototypes coincide (a ratio to a distance of 0) or the map has one unit.
    """
    m = len(weights)
    if m < 2:
        return float("nan")
    units = np.arange(m)
    total = 0.0
    for j in units:
        others = units != j
        grid_row, weight_row = grid_distances[j, others], weight_distances[j, others]
        if np.any(weight_row <= 0):
            return float("nan")
        by_grid = np.lexsort((units[others], grid_row))
        by_weights = np.lexsort((units[others], weight_row))
        # log P3(j, k) = (1 / 2k) * cumulative sum over l <= k of log Q1 + log Q2.
        logs = (np.log(weight_row[by_grid]) - np.log(weight_row[by_weights])
                + np.log(grid_row[by_grid]) - np.log(grid_row[by_weights]))
        total += float(np.sum(np.cumsum(logs) / (2.0 * np.arange(1, m))))
    return total / (m * (m - 1))


def rank_errors(n: int, k: int, input_rows: Callable[[int, int], np.ndarray],
                output_rows: Callable[[int, int], np.ndarray]) -> tuple[float, float]:
    """Venna and Kaski's trustworthiness and neighbourhood preservation (their continuity)
    of a projection at ``k`` neighbours, each in [0, 1], 1 where every sample keeps its k
    nearest.

    Trustworthiness penalises the samples that are among a sample's k nearest in the
    projection but not in the data, by how far down the data's order they are;
    neighbourhood preservation, the samples that are among its k nearest in the data but
    not in the projection, by their rank there:
    1 - 2 / (n k (2n - 3k - 1)) * sum over those samples of (rank - k).

    ``input_rows(start, stop)`` and ``output_rows(start, stop)`` give the distances from
    samples ``start:stop`` to all n samples (float64, (stop - start, n)), in the data and
    in the projection. Needs ``1 <= k < n / 2``.
    """
    if not 1 <= k < n / 2:
        raise ValueError(f"k must be at least 1 and below half the samples ({n}), got {k}")
    trust_penalty = preservation_penalty = 0.0
    for start in range(0, n, RANK_BLOCK_ROWS):
        stop = min(n, start + RANK_BLOCK_ROWS)
        trust, preservation = kernels.neighbourhood_penalties(
            np.ascontiguousarray(input_rows(start, stop), dtype=np.float64),
            np.ascontiguousarray(output_rows(start, stop), dtype=np.float64), start, k)
        trust_penalty += trust
        preservation_penalty += preservation
    scale = 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0))
    return 1.0 - scale * trust_penalty, 1.0 - scale * preservation_penalty
