"""Data for the app's tests: small clouds and trained epochs in the shapes the callbacks see,
and a walk over a component tree."""

from __future__ import annotations

import numpy as np

from components.display import display_data
from zsom_core import SOM
from zsom_jobs.training import epoch_record


def cloud(n: int, d: int, seed: int = 0) -> np.ndarray:
    """A blob of n points in d dimensions, float32."""
    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def trained_epoch(points: np.ndarray, width: int, height: int, topology: str, epochs: int = 2, **kwargs):
    """(display, record, history) of the last of ``epochs`` epochs, as the job stores them."""
    display = display_data(points, np.arange(len(points)) % 3)
    som = SOM(width, height, topology=topology, seed=0, **kwargs)
    history = {"mqe": [], "te": [], "sigma": [], "lr": []}
    record = None
    for snapshot in som.iter_fit(points, epochs, with_u_matrix=True):
        for name, value in (("mqe", snapshot.mqe), ("te", snapshot.topographic_error),
                            ("sigma", snapshot.sigma), ("lr", snapshot.learning_rate)):
            history[name].append(value)
        index = display["bmu_index"]
        bmus = som.bmus(points[index]) if index is not None else None
        record = epoch_record(snapshot, elapsed=0.5, bmus=bmus)
    return display, record, {name: np.asarray(values, dtype=np.float32) for name, values in history.items()}


def walk(component):
    """Every component of a layout tree, depth first."""
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)
