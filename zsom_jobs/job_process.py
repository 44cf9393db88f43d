"""Imported once by the process that starts training jobs (see ``training.use_job_server``),
never by the web server: it loads the engine's compiled kernels there, so that each job,
forked from that process, starts training at once, and lowers that process's scheduling
priority, which its jobs inherit: training takes the cycles that serving pages and
streaming epochs leave, so a busy server stays responsive.

A failed warm-up only costs the first job its usual start-up time.
"""

import os

import numpy as np

from .training import engine_threads


def _warm_up() -> None:
    from zsom_core import SOM

    rng = np.random.default_rng(0)
    with engine_threads(1):
        # Every path a job can take: the direct and the matrix-product BMU search (few and
        # many features), batch and online, both topologies, U-Matrix and BMUs.
        for features, topology, algorithm in ((3, "hex", "batch"), (16, "square", "batch"), (3, "hex", "online")):
            data = rng.normal(size=(64, features)).astype(np.float32)
            som = SOM(4, 4, topology=topology, algorithm=algorithm, seed=0)
            for _ in som.iter_fit(data, 2, with_u_matrix=True):
                pass
            som.bmus(data[:8])


JOB_NICENESS = 10

os.nice(JOB_NICENESS)
try:
    _warm_up()
except Exception:  # noqa: BLE001 - a warm-up failure must not take the job server down
    pass
