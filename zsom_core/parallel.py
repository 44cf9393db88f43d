"""One process-wide thread pool for the engine's GIL-free kernels.

Work is split into a fixed number of lanes, independent of the thread count, and lane
results are combined in lane order: the same input gives bit-identical sums whether
the machine has 2 cores or 64.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy  # noqa: F401 - loads the BLAS that threadpoolctl must find
from threadpoolctl import ThreadpoolController

# Lanes of work per parallel step; a lane is always handled by one thread.
LANES = 8
# Below this many elements of work (array entries, or (unit, unit) pairs), a step runs its
# lanes on the calling thread: too little to pay for waking the pool.
PARALLEL_MIN_ELEMENTS = 1 << 16

# threadpoolctl finds the BLAS NumPy loaded; its controllers are called directly, since
# its context manager is slow next to a small map's epoch.
_blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
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


@contextmanager
def single_threaded_blas():
    """BLAS held to one thread meanwhile.

    The engine's own products are either small or run on the engine's threads, and a
    multi-threaded OpenBLAS keeps its idle threads spinning for a while after every call,
    taking the cores from the engine's next pass. The setting is process-wide.
    """
    previous = [library.num_threads for library in _blas_libraries]
    if all(count == 1 for count in previous):
        yield  # already held (a nested call): no cost
        return
    for library in _blas_libraries:
        library.set_num_threads(1)
    try:
        yield
    finally:
        for library, count in zip(_blas_libraries, previous):
            library.set_num_threads(count)


def run_lanes(task: Callable[[int], None], n_lanes: int = LANES, parallel: bool = True) -> None:
    """Call ``task(lane)`` for every lane, spread over the pool.

    While the pool works, BLAS is held to one thread: its own threads beside the pool's
    would oversubscribe the cores. ``parallel=False`` runs the lanes in this thread, for
    work too small to pay for waking the pool.
    """
    global _pool
    workers = min(thread_count(), n_lanes) if parallel else 1

    def worker(index: int):
        for lane in range(index, n_lanes, workers):
            task(lane)

    if workers == 1:
        worker(0)
        return
    with single_threaded_blas():
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=thread_count(), thread_name_prefix="zsom")
        for future in [_pool.submit(worker, index) for index in range(workers)]:
            future.result()
