"""Workloads, data and the quality measures shared by every library in ``bench_engine``.

The data of each workload is built once, in the parent process, and handed to every
library as the same array. Quality (MQE, topographic error) is computed here, the same
way for every library, from the final weights each library returns; no library's own
``quantization_error`` or ``topographic_error`` enters the table.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    width: int
    height: int
    epochs: int
    floor: float               # s/epoch zsom must not exceed
    zsom_repeats: int
    peer_repeats: int
    minisom_epochs: int        # MiniSom is slow: it may train fewer epochs than the others
    minisom_in_quick: bool     # whether --quick still runs MiniSom here


WORKLOADS = {
    w.name: w
    for w in (
        Workload("clusters2d", "1,000 x 2-D clusters, 12x12, 50 ep", 12, 12, 50, 0.0004, 15, 3, 50, True),
        Workload("bunny", "20,000 x 3-D bunny, 30x30, 20 ep", 30, 30, 20, 0.012, 7, 1, 20, True),
        Workload("gmm64", "50,000 x 64-D mixture, 40x40, 10 ep", 40, 40, 10, 0.08, 5, 1, 1, False),
        # The same data trained as a user would train it: 50 epochs, most at a small radius.
        Workload("gmm64-50", "50,000 x 64-D mixture, 40x40, 50 ep", 40, 40, 50, 0.08, 3, 1, 1, False),
        Workload("gmm16", "200,000 x 16-D mixture, 50x50, 3 ep", 50, 50, 3, 0.35, 5, 1, 1, False),
    )
}


def gaussian_mixture(n: int, d: int, components: int = 10, seed: int = 0) -> np.ndarray:
    """``n`` float32 samples from a mixture of ``components`` isotropic gaussians in ``d`` dims.

    Centres are drawn from N(0, 4^2) per coordinate, spreads uniformly in [0.5, 1.5],
    mixing weights from a flat Dirichlet; rows come shuffled. Fixed by ``seed``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 4.0, size=(components, d))
    spreads = rng.uniform(0.5, 1.5, size=components)
    weights = rng.dirichlet(np.ones(components))
    labels = rng.choice(components, size=n, p=weights)
    X = centres[labels] + spreads[labels, None] * rng.standard_normal((n, d))
    return X.astype(np.float32)


def make_data(name: str) -> tuple[np.ndarray, str]:
    """The samples of workload ``name`` and a line saying where they came from."""
    if name in ("clusters2d", "bunny"):
        from zsom_core.datasets import load_dataset

    if name == "clusters2d":
        data = load_dataset("clusters", n=1000, seed=0)
        return np.asarray(data.points), 'load_dataset("clusters", n=1000, seed=0)'
    if name == "bunny":
        data = load_dataset("bunny", n=20000, seed=0)
        return np.asarray(data.points), 'load_dataset("bunny", n=20000, seed=0)'
    if name in ("gmm64", "gmm64-50"):
        return gaussian_mixture(50_000, 64, 10, seed=0), "gaussian_mixture(50000, 64, 10 components, seed=0)"
    if name == "gmm16":
        return gaussian_mixture(200_000, 16, 10, seed=1), "gaussian_mixture(200000, 16, 10 components, seed=1)"
    raise KeyError(name)


# ---------------------------------------------------------------------- common quality measures

# Elements of one (rows, units) float64 score block.
_BLOCK_ELEMENTS = 1 << 21


def best_two(X: np.ndarray, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First and second best unit of each sample (euclidean) and the exact distance to the first.

    float64 throughout. Units are ranked by ``||w - mu||^2 - 2 (x - mu).(w - mu)`` over row
    blocks (mu the data mean, so the expansion does not cancel badly); the distance to the
    winner is then recomputed directly as ``||x - w||``. Ties go to the lower unit index,
    as in ``zsom_core.reference.best_two_units``.
    """
    X = np.asarray(X, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    mean = X.mean(axis=0)
    Xc, Wc = X - mean, W - mean
    Wt = np.ascontiguousarray(Wc.T)
    w_sq = np.einsum("ij,ij->i", Wc, Wc)
    n, m = len(X), len(W)
    first = np.empty(n, dtype=np.int64)
    second = np.empty(n, dtype=np.int64)
    rows = max(1, _BLOCK_ELEMENTS // m)
    for start in range(0, n, rows):
        scores = Xc[start : start + rows] @ Wt
        scores *= -2.0
        scores += w_sq
        order = np.argsort(scores, axis=1, kind="stable")[:, :2] if m <= 2 else _top_two(scores)
        first[start : start + rows] = order[:, 0]
        second[start : start + rows] = order[:, 1]
    distance = np.sqrt(((X - W[first]) ** 2).sum(axis=1))
    return first, second, distance


def _top_two(scores: np.ndarray) -> np.ndarray:
    """Indices of the two smallest scores of each row, smallest first, ties to the lower index."""
    part = np.argpartition(scores, 1, axis=1)[:, :2]
    values = np.take_along_axis(scores, part, axis=1)
    swap = (values[:, 1] < values[:, 0]) | ((values[:, 1] == values[:, 0]) & (part[:, 1] < part[:, 0]))
    part[swap] = part[swap][:, ::-1]
    # argpartition does not promise the lowest index among equal scores: settle exact ties.
    best = values.min(axis=1)
    tied = (scores == best[:, None]).sum(axis=1) > 1
    if tied.any():
        part[tied] = np.argsort(scores[tied], axis=1, kind="stable")[:, :2]
    return part


def map_quality(X: np.ndarray, weights: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """(MQE, topographic error) of ``weights`` (width, height, d) on ``X``, the same for every library.

    MQE: mean euclidean distance from each sample to its best-matching unit. Topographic
    error: share of samples whose best two units are not 4-neighbours on the square grid
    (``zsom_core.grid.Grid.adjacency``, via ``zsom_core.reference.topographic_error``).
    MiniSom and XPySom's own topographic errors count diagonal units as neighbours too,
    so theirs read lower; they are not used here.
    """
    from zsom_core.grid import Grid
    from zsom_core.reference import topographic_error

    W = np.asarray(weights, dtype=np.float64).reshape(width * height, -1)
    first, second, distance = best_two(X, W)
    return float(distance.mean()), topographic_error(first, second, Grid(width, height))


# ---------------------------------------------------------------------- environment report


def threadpool_report() -> list[str]:
    """How many threads NumPy's BLAS and Numba use, read without changing anything."""
    lines = [f"cpus: os.cpu_count()={os.cpu_count()}, usable={len(os.sched_getaffinity(0))}"]
    names = ("ZSOM_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
             "NUMBA_THREADING_LAYER", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    lines.append("env: " + ", ".join(f"{name}={os.environ.get(name, 'unset')}" for name in names))
    try:
        import numpy

        config = numpy.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        lines.append(f"numpy {numpy.__version__}: BLAS {blas.get('name')} {blas.get('version')}")
    except Exception as error:  # show_config's layout is not a stable API
        lines.append(f"numpy BLAS: unknown ({error})")
    try:
        from threadpoolctl import threadpool_info

        pools = [f"{p['internal_api']} {p.get('version')} threads={p['num_threads']} "
                 f"core={p.get('architecture')} ({Path(p['filepath']).name})" for p in threadpool_info()]
        lines.append("threadpoolctl: " + ("; ".join(pools) or "no native pools loaded"))
    except ImportError:
        lines.append("threadpoolctl: not installed")
    try:
        from zsom_core import parallel

        lines.append(f"zsom_core.parallel: thread_count()={parallel.thread_count()}, lanes={parallel.LANES}")
    except (ImportError, AttributeError) as error:
        lines.append(f"zsom_core.parallel: n/a ({error})")
    try:
        import numba

        lines.append(f"numba {numba.__version__}: threads={numba.config.NUMBA_NUM_THREADS} "
                     "(zsom's hot path runs on zsom_core.parallel's pool, not Numba's)")
    except ImportError as error:
        lines.append(f"numba: unknown ({error})")
    return lines


def zsom_digest() -> str:
    """A short hash of zsom_core's sources: ties a table to the engine version it measured."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "zsom_core").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
