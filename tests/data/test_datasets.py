"""Built-in datasets: shapes, dtypes, determinism, labels, and 3-D meshes under their samples."""

from __future__ import annotations

import numpy as np
import pytest
from meshio_testkit import points_on_surface

from zsom_core.datasets import DATASETS, Dataset, DatasetInfo, bunny_path, load_dataset

NAMES = list(DATASETS)
NAMES_3D = [name for name, info in DATASETS.items() if info.dim == 3]
LABEL_COUNT = {"clusters": 3, "rings": 2, "swiss": 6, "grid": 25}  # 3-D sets: 8


def test_registry_lists_the_promised_datasets():
    assert {"clusters", "rings", "swiss", "grid"} == {n for n, i in DATASETS.items() if i.dim == 2}
    assert {"bunny", "torus", "sphere", "trefoil", "mobius"} <= set(NAMES_3D)
    for name, info in DATASETS.items():
        assert isinstance(info, DatasetInfo) and info.name == name
        assert info.description and "\n" not in info.description
        assert info.default_n == (1_000 if info.dim == 2 else 20_000)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_labels(name):
    info = DATASETS[name]
    data = load_dataset(name, n=500, seed=0)
    assert isinstance(data, Dataset) and data.name == name and data.description == info.description
    assert data.points.shape == (500, info.dim) and data.dim == info.dim
    assert data.points.dtype == np.float32 and data.points.flags.c_contiguous
    assert np.isfinite(data.points).all()
    assert data.labels.shape == (500,) and data.labels.dtype == np.int32
    classes = LABEL_COUNT.get(name, 8)
    assert data.labels.min() >= 0 and data.labels.max() < classes
    assert len(np.unique(data.labels)) == classes  # 500 points reach every class
    if info.dim == 2:
        assert data.vertices is None and data.faces is None
        assert (data.points > -0.2).all() and (data.points < 1.2).all()  # the unit square, give or take noise


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_bytes_other_seed_other_data(name):
    first = load_dataset(name, n=300, seed=42)
    again = load_dataset(name, n=300, seed=42)
    other = load_dataset(name, n=300, seed=43)
    assert first.points.tobytes() == again.points.tobytes()
    assert first.labels.tobytes() == again.labels.tobytes()
    assert first.points.tobytes() != other.points.tobytes()
    from_generator = DATASETS[name].make(300, np.random.default_rng(42))
    assert from_generator.points.tobytes() == first.points.tobytes()


@pytest.mark.parametrize("name", NAMES_3D)
def test_3d_sets_are_normalised_and_sampled_on_their_mesh(name):
    data = load_dataset(name, n=400, seed=1)
    vertices, faces = data.vertices, data.faces
    assert vertices.dtype == np.float32 and vertices.shape[1] == 3
    assert faces.dtype == np.int32 and faces.shape[1] == 3
    assert faces.min() >= 0 and faces.max() < len(vertices)
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    np.testing.assert_allclose((low + high) / 2, 0.0, atol=1e-6)
    assert np.isclose((high - low).max(), 1.0)
    assert (np.abs(data.points) <= 0.5).all()
    assert points_on_surface(data.points[:150], vertices, faces).all()


def test_shapes_have_the_geometry_their_names_promise():
    sphere = load_dataset("sphere", n=2_000)
    np.testing.assert_allclose(np.linalg.norm(sphere.points, axis=1), 0.5, atol=2e-3)
    torus = load_dataset("torus", n=2_000)  # radii 1 and 0.4, scaled by 1 / 2.8
    ring = np.hypot(torus.points[:, 0], torus.points[:, 1])
    tube = np.hypot(ring - 1 / 2.8, torus.points[:, 2])
    np.testing.assert_allclose(tube, 0.4 / 2.8, atol=2e-3)
    bunny = load_dataset("bunny", n=100)
    assert bunny.vertices.shape == (50_000, 3) and bunny.faces.shape == (99_785, 3)


def test_torus_labels_are_sectors_around_the_hole():
    torus = load_dataset("torus", n=4_000, seed=3)
    angle = np.mod(np.arctan2(torus.points[:, 1], torus.points[:, 0]), 2 * np.pi)
    sector = np.floor(angle / (2 * np.pi / 8)).astype(int)
    # Faces straddle sector boundaries by at most one row of the mesh.
    assert np.mean(sector == torus.labels) > 0.97


def test_octant_labels_match_the_point_signs():
    bunny = load_dataset("bunny", n=1_000, seed=0)
    octant = (bunny.points[:, 0] > 0) + 2 * (bunny.points[:, 1] > 0) + 4 * (bunny.points[:, 2] > 0)
    assert (octant == bunny.labels).all()


def test_the_bunny_comes_from_pymeshfix_not_the_repository():
    path = bunny_path()
    assert path.name == "StanfordBunny.ply" and "pymeshfix" in path.parts


def test_cached_meshes_are_not_shared_with_callers():
    first = load_dataset("torus", n=10)
    first.vertices[:] = 7.0
    assert not (load_dataset("torus", n=10).vertices == 7.0).any()


@pytest.mark.parametrize("name", ["clusters", "bunny"])
def test_default_sizes(name):
    assert len(load_dataset(name).points) == DATASETS[name].default_n


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as failure:
        load_dataset("teapot")
    message = str(failure.value)
    assert "'teapot'" in message and all(name in message for name in NAMES)


@pytest.mark.parametrize("n", [1, 0, -5, 1_000_001])
def test_sizes_out_of_range_are_refused(n):
    with pytest.raises(ValueError, match="between 2 and 1,000,000"):
        load_dataset("rings", n=n)


def test_two_points_and_integer_types():
    assert load_dataset("rings", n=2).points.shape == (2, 2)
    assert load_dataset("rings", n=np.int64(3)).points.shape == (3, 2)
    with pytest.raises(TypeError):
        load_dataset("rings", n=2.5)
