"""One process-wide thread pool for the engine's GIL-free kernels.

Work is split into a fixed number of lanes, independent of the thread count, and lane
results are combined in lane order: the same input gives bit-identical sums whether
the machine has 2 cores or 64.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from threadpoolctl import ThreadpoolController

# Lanes of work per parallel step; a lane is always handled by one thread.
LANES = 8

_blas = ThreadpoolController()
_pool: ThreadPoolExecutor | None = None


def thread_count() -> int:
    """Threads the engine uses: ``ZSOM_NUM_THREADS`` if set, else the usable cores."""
    configured = os.environ.get("ZSOM_NUM_THREADS")
    if configured:
        return max(1, int(configured))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _forget_pool_in_child():
    # A forked child inherits the pool object but not its threads.
    global _pool
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def run_lanes(task: Callable[[int], None], n_lanes: int = LANES, parallel: bool = True) -> None:
    """Call ``task(lane)`` for every lane, spread over the pool.

    While the pool works, BLAS is held to one thread: its own threads beside the pool's
    would oversubscribe the cores. ``parallel=False`` runs the lanes in this thread, for
    work too small to pay for waking the pool (about 0.1 ms).
    """
    global _pool
    workers = min(thread_count(), n_lanes) if parallel else 1

    def worker(index: int):
        for lane in range(index, n_lanes, workers):
            task(lane)

    if workers == 1:
        worker(0)
        return
    with _blas.limit(limits=1, user_api="blas"):
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="zsom")
        for future in [_pool.submit(worker, index) for index in range(workers)]:
            future.result()
