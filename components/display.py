"""What the data panel shows of a dataset, computed once when the dataset is chosen.

The displayed cloud is a subsample, sent to the browser once per dataset; the map is drawn
in the same space: the data's own for 2-D and 3-D data, the first three principal
components for more dimensions, or three of a table's features in their own units.
"""

from __future__ import annotations

import numpy as np

from .geometry import decimate_mesh, pca_basis, project, subsample_indices

# A 3-D scene redraws every trace whenever one changes (each epoch), so the cloud under the
# map is kept small; 2-D clouds are WebGL scatters that cost little to redraw.
MAX_DISPLAY_POINTS_3D = 3000
MAX_DISPLAY_POINTS_2D = 5_000
MAX_DISPLAY_FACES = 6_000
# 2-D data: lines from these many samples to their best-matching units.
BMU_LINES = 300

KIND_2D, KIND_3D, KIND_PCA, KIND_AXES = "2d", "3d", "pca", "axes"


def display_data(points: np.ndarray, labels: np.ndarray | None = None, vertices: np.ndarray | None = None,
                 faces: np.ndarray | None = None, seed: int = 0, label_names: list[str] | None = None,
                 axes: tuple[list[str], np.ndarray, np.ndarray] | None = None) -> dict:
    """The data panel's view of ``points`` (n, d): kind, display points, mesh, projection.

    With ``label_names``, ``labels`` are codes into them (-1 for a missing label) and the
    panel names each colour. ``axes`` (three names, an offset and their (3, d) axes, as
    ``FeatureScaler.original_axes`` gives them) shows three features in their own units
    instead of a PCA projection.

    ``bmu_index`` are indices into ``points`` of the samples whose BMU lines a 2-D view
    draws; the training job computes their BMUs each epoch.
    """
    points = np.asarray(points)
    n, d = points.shape
    kind = KIND_AXES if axes is not None else KIND_2D if d <= 2 else KIND_3D if d == 3 else KIND_PCA
    basis = pca_basis(points, 3) if kind == KIND_PCA else None if axes is None else (axes[1], axes[2])
    index = displayed_rows(n, kind, seed)
    shown = project(points[index], basis).astype(np.float32)
    if d == 1:
        shown = np.column_stack([shown[:, 0], np.zeros(len(shown), dtype=np.float32)])
    mesh = None
    if vertices is not None and faces is not None and len(faces) and kind == KIND_3D:
        mesh_vertices, mesh_faces = decimate_mesh(np.asarray(vertices), np.asarray(faces), MAX_DISPLAY_FACES)
        mesh = {"vertices": np.asarray(mesh_vertices, dtype=np.float32),
                "faces": np.asarray(mesh_faces, dtype=np.int32)}
    shown_labels = None if labels is None else np.asarray(labels)[index].astype(np.int32)
    return {
        "kind": kind,
        "n": int(n),
        "dim": int(d),
        "points": shown,
        "labels": shown_labels,
        "label_names": None if label_names is None else [str(name) for name in label_names],
        "axis_names": (list(axes[0]) if axes is not None else ["PC1", "PC2", "PC3"] if kind == KIND_PCA
                       else ["x", "y", "z"]),
        "mesh": mesh,
        "basis": basis,
        "bmu_index": index[:BMU_LINES] if kind == KIND_2D else None,
    }


def displayed_rows(n: int, kind: str, seed: int = 0) -> np.ndarray:
    """The rows of the data the panel shows (the same for the same arguments)."""
    return subsample_indices(n, MAX_DISPLAY_POINTS_2D if kind == KIND_2D else MAX_DISPLAY_POINTS_3D, seed)


def to_display_space(display: dict, weights: np.ndarray) -> np.ndarray:
    """Map weights (m, d) in the panel's space: (m, 2) for 2-D data, else (m, 3)."""
    shown = project(weights, display["basis"])
    if display["dim"] == 1:
        shown = np.column_stack([shown[:, 0], np.zeros(len(shown))])
    return shown
