"""Distance metrics for the best-matching-unit search.

Each public name maps to a small integer code: the Numba kernels branch on the code
inside their loops (LLVM hoists the branch), because a kernel that takes a jitted
function as an argument cannot be served from Numba's on-disk cache. The NumPy
reference in ``reference.pairwise_distances`` defines what each metric means.
``METRIC_LABELS`` gives each name the label a user reads.
"""

from __future__ import annotations

from .registry import check_name

EUCLIDEAN, MANHATTAN, CHEBYSHEV, COSINE, MINKOWSKI = range(5)

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
    """The kernel code of ``name``; raises ``ValueError`` naming the valid metrics."""
    check_name(name, METRICS, "metric", "metrics")
    if name == "minkowski" and not p > 0:
        raise ValueError(f"the minkowski parameter p must be > 0, got {p!r}")
    return METRICS[name]
