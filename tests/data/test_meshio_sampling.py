"""Surface sampling is uniform by area, lies on the surface and is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from meshio_testkit import box, obj_text, points_on_surface

from zsom_core.meshio import load_mesh
from zsom_core.meshio.sampling import sample_surface, sample_vertices, triangle_areas


def within_binomial(count: int, total: int, p: float, sigmas: float = 5.0) -> bool:
    """Whether ``count`` successes of ``total`` draws is within ``sigmas`` of Binomial(total, p)."""
    return abs(count - total * p) <= sigmas * np.sqrt(total * p * (1 - p))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_triangle_three_times_larger_gets_three_times_the_samples(seed):
    # Two separate right triangles: areas 0.5 and 1.5 (legs 1x1 and 3x1).
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [8, 0, 0], [5, 1, 0]], dtype=float)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    assert np.allclose(triangle_areas(vertices, faces), [0.5, 1.5])
    n = 40_000
    points, face_index = sample_surface(vertices, faces, n, np.random.default_rng(seed))
    assert within_binomial(int(np.count_nonzero(face_index == 1)), n, 0.75)
    # The face index agrees with where the point is.
    assert ((points[:, 0] > 2.5) == (face_index == 1)).all()


def test_end_to_end_shares_through_load_mesh():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [5, 0, 0], [8, 0, 0], [5, 1, 0]], dtype=float)
    n = 30_000
    mesh = load_mesh(obj_text(vertices, [[0, 1, 2], [3, 4, 5]]), "two.obj", n_points=n, seed=5)
    # After normalisation x spans [-0.5, 0.5]; the large triangle starts at x = 5/8 - 0.5.
    on_large = np.count_nonzero(mesh.points[:, 0] > 2.5 / 8 - 0.5)
    assert within_binomial(int(on_large), n, 0.75)


def test_points_are_uniform_inside_a_triangle():
    """The sqrt trick: the middle triangle of a 4-way midpoint split gets a quarter of the points."""
    vertices = np.array([[0, 0, 0], [4, 0, 0], [1, 3, 0]], dtype=float)
    n = 40_000
    points, _ = sample_surface(vertices, np.array([[0, 1, 2]]), n, np.random.default_rng(3))
    # Barycentric weights by solving points = a + s (b - a) + t (c - a) in the plane z = 0.
    edges = np.array([vertices[1] - vertices[0], vertices[2] - vertices[0]])[:, :2].T
    s, t = np.linalg.solve(edges, (points[:, :2] - vertices[0, :2]).T)
    weights = np.column_stack([1 - s - t, s, t])
    assert (weights >= -1e-12).all()
    # The middle triangle is where every weight is at most 1/2; each corner triangle
    # is where one weight exceeds 1/2. Each of the four holds a quarter of the area.
    assert within_binomial(int(np.count_nonzero((weights <= 0.5).all(axis=1))), n, 0.25)
    for corner in range(3):
        assert within_binomial(int(np.count_nonzero(weights[:, corner] > 0.5)), n, 0.25)
    # {s + t < x} is the triangle scaled by x about corner a: x^2 of the area.
    assert within_binomial(int(np.count_nonzero(s + t < 0.8)), n, 0.64)


def test_the_six_faces_of_a_cube_get_equal_shares(read_mesh):
    n = 60_000
    mesh = load_mesh(read_mesh("cube.OBJ"), "cube.OBJ", n_points=n, seed=11)
    on_face = np.isclose(np.abs(mesh.points), 0.5, atol=1e-6)
    assert (on_face.sum(axis=1) >= 1).all()
    axis = np.argmax(on_face, axis=1)
    side = mesh.points[np.arange(n), axis] > 0
    counts = np.bincount(axis * 2 + side, minlength=6)
    assert all(within_binomial(int(c), n, 1 / 6) for c in counts), counts


@pytest.mark.parametrize("name", ["teapot.stl", "fuze.obj", "zsom_bunny.obj", "soup.stl"])
def test_samples_lie_on_the_loaded_surface(name, read_mesh):
    mesh = load_mesh(read_mesh(name), name, n_points=300, seed=2)
    assert points_on_surface(mesh.points, mesh.vertices, mesh.faces).all()
    # The oracle is not vacuous: points moved off the surface along its normals fail it.
    corners = mesh.vertices[mesh.faces[:50]].astype(np.float64)
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    centroids = corners.mean(axis=1)
    lifted = centroids + 1e-2 * normals / np.linalg.norm(normals, axis=1, keepdims=True)
    assert points_on_surface(centroids, mesh.vertices, mesh.faces).all()
    assert points_on_surface(lifted, mesh.vertices, mesh.faces).mean() < 0.5


def test_samples_lie_on_their_face():
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(30, 3))
    faces = rng.integers(0, 30, size=(40, 3))
    faces = faces[triangle_areas(vertices, faces) > 1e-3]
    points, face_index = sample_surface(vertices, faces, 2_000, rng)
    for f in np.unique(face_index):
        assert points_on_surface(points[face_index == f], vertices, faces[f : f + 1], 1e-9).all()


def test_zero_area_faces_never_get_samples():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 2, 2]], dtype=float)
    # Zero-area faces first and last, where rounding of the draw is most likely to land.
    faces = np.array([[0, 1, 1], [0, 1, 2], [3, 3, 3], [0, 0, 1]])
    _, face_index = sample_surface(vertices, faces, 5_000, np.random.default_rng(0))
    assert set(np.unique(face_index)) == {1}


def test_sampling_is_deterministic_for_a_seed_and_varies_across_seeds(read_mesh):
    data = read_mesh("teapot.stl")
    first = load_mesh(data, "teapot.stl", n_points=1_000, seed=7)
    again = load_mesh(data, "teapot.stl", n_points=1_000, seed=7)
    other = load_mesh(data, "teapot.stl", n_points=1_000, seed=8)
    assert first.points.tobytes() == again.points.tobytes()
    assert first.points.tobytes() != other.points.tobytes()
    generator = load_mesh(data, "teapot.stl", n_points=1_000, seed=np.random.default_rng(7))
    assert generator.points.tobytes() == first.points.tobytes()


def test_point_clouds_are_sampled_from_their_vertices():
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(50, 3))
    few, repeated = sample_vertices(vertices, 20, rng)
    assert not repeated and len(np.unique(few, axis=0)) == 20
    many, repeated = sample_vertices(vertices, 200, rng)
    assert repeated and len(np.unique(many, axis=0)) == 50  # every vertex at least once


def test_a_point_cloud_file_says_so_in_its_notes(read_mesh):
    mesh = load_mesh(read_mesh("obj_points.obj"), "obj_points.obj", n_points=5, seed=0)
    assert mesh.is_point_cloud and mesh.points.shape == (5, 3)
    assert mesh.notes == ("file has no faces: treated as a point cloud, 5 of its 8 vertices sampled",)
    # The 8 corners of a cube, normalised: every sample is one of them.
    assert np.allclose(np.abs(mesh.points), 0.5)
    many = load_mesh(read_mesh("obj_points.obj"), "obj_points.obj", n_points=1_000)
    assert "all 8 vertices used, some repeated to make 1,000 points" in many.notes[-1]


def test_box_samples_are_on_the_box():
    vertices, faces = box((4, 2, 1), offset=(10, -5, 3))
    mesh = load_mesh(obj_text(vertices, faces), "box.obj", n_points=2_000, seed=0)
    half_extents = np.array([0.5, 0.25, 0.125])
    on_a_side = np.isclose(np.abs(mesh.points), half_extents, atol=1e-6).any(axis=1)
    assert on_a_side.all() and (np.abs(mesh.points) <= half_extents + 1e-6).all()
