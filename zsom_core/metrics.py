"""Distance metrics for the best-matching-unit search.

Each public name maps to a small integer code: the Numba kernels branch on the code
inside their loops (LLVM hoists the branch), because a kernel that takes a jitted
function as an argument cannot be served from Numba's on-disk cache. The NumPy
reference in ``reference.pairwise_distances`` defines what each metric means.
``METRIC_LABELS`` gives each name the label a user reads.

``metric_code`` also picks the kernels' cheapest way to compute a minkowski distance:
p = 1 and p = 2 are manhattan and euclidean, and a small whole p takes powers by
repeated multiplication (``MINKOWSKI_INTEGER``) instead of one ``pow`` per element.
"""

from __future__ import annotations

from .registry import check_name

EUCLIDEAN, MANHATTAN, CHEBYSHEV, COSINE, MINKOWSKI, MINKOWSKI_INTEGER = range(6)
# Largest whole p taken by repeated multiplication: past it, one pow per element costs less.
MAX_INTEGER_POWER = 8

METRICS = {
    "euclidean": EUCLIDEAN,
    "manhattan": MANHATTAN,
    "chebyshev": CHEBYSHEV,
    "cosine": COSINE,
    "minkowski": MINKOWSKI,
}

METRIC_LABELS = {
    "euclidean": "Euclidean",
    "manhattan": "Manhattan",
    "chebyshev": "Chebyshev",
    "cosine": "Cosine",
    "minkowski": "Minkowski",
}


def metric_code(name: str, p: float = 2.0) -> int:
    """The kernel code of ``name`` (minkowski: of its cheapest form for this ``p``);
    raises ``ValueError`` naming the valid metrics."""
    check_name(name, METRICS, "metric", "metrics")
    if name != "minkowski":
        return METRICS[name]
    if not p > 0:
        raise ValueError(f"the minkowski parameter p must be > 0, got {p!r}")
    if p == 1:
        return MANHATTAN
    if p == 2:
        return EUCLIDEAN
    if p <= MAX_INTEGER_POWER and p == int(p):
        return MINKOWSKI_INTEGER
    return MINKOWSKI
