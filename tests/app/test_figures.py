"""Figure builders and the per-epoch patch builder, without a browser."""

import numpy as np
import plotly.graph_objects as go
import pytest
from dash import Patch
from dash._utils import to_json
from ui_testkit import cloud, trained_epoch

from components import figures, theme
from components.display import display_data
from components.encoding import decode_typed_array
from components.figures import (
    HEX_TILE,
    curves_figure,
    data_view_figure,
    data_view_title,
    default_panels,
    hits_figure,
    panel_updates,
    run_skeletons,
    u_matrix_figure,
    u_surface_figure,
    value_range,
)
from components.geometry import map_structure
from components.ids import PANELS, Ids

# Per-epoch payload budget: bunny-sized data (20,000 points) on a 30 x 30 hex map.
PAYLOAD_BUDGET = 150 * 1024


def operations(patch: Patch) -> dict:
    """A patch's assignments as {location tuple: value}."""
    return {tuple(op["location"]): op["params"]["value"] for op in patch.to_plotly_json()["operations"]}


@pytest.mark.parametrize("shape", [(30, 30), (7, 4), (2, 2)])
def test_hex_u_matrix_has_one_tiling_marker_per_unit(shape):
    structure = map_structure(*shape, "hex")
    u = np.linspace(0, 1, structure.n_units)
    figure = u_matrix_figure(structure, u, "r")
    trace = figure.data[0]
    assert isinstance(trace, go.Scattergl)
    assert trace.meta == HEX_TILE and trace.marker.symbol == "hexagon"
    assert len(trace.x) == len(trace.marker.color) == structure.n_units
    assert figure.layout.yaxis.scaleanchor == "x" and figure.layout.yaxis.scaleratio == 1


def test_square_u_matrix_is_a_heatmap_indexed_by_row_and_column():
    structure = map_structure(4, 3, "square")
    u = np.arange(12, dtype=np.float32)  # unit i = x * height + y
    trace = u_matrix_figure(structure, u, "r").data[0]
    assert isinstance(trace, go.Heatmap)
    z = np.asarray(trace.z)
    assert z.shape == (3, 4)  # rows y, columns x
    assert z[2, 1] == 1 * 3 + 2


def test_blank_skeletons_have_no_colour_bar_yet():
    structure = map_structure(5, 5, "hex")
    figure = u_matrix_figure(structure, None, "r")
    assert figure.data[0].marker.showscale is False
    assert figure.data[0].marker.colorscale[0][1] == theme.BLANK_COLORSCALE[0][1]


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_hits_mark_dead_units(topology):
    structure = map_structure(5, 4, topology)
    hits = np.arange(structure.n_units) % 4  # every fourth unit wins nothing
    figure = hits_figure(structure, hits, "r")
    dead = int((hits == 0).sum())
    assert len(figure.data[figures.DEAD_CROSSES].x) == dead
    if topology == "hex":
        assert len(figure.data[figures.DEAD_TILES].x) == dead
        assert figure.data[figures.DEAD_TILES].marker.color == theme.DEAD_UNIT
    else:
        assert np.isnan(np.asarray(figure.data[figures.HITS].z)).sum() == dead
    assert f"{dead} dead units" in figure.layout.title.text


def test_u_surface_follows_the_topology():
    assert isinstance(u_surface_figure(map_structure(4, 4, "square"), np.ones(16), "r").data[0], go.Surface)
    mesh = u_surface_figure(map_structure(4, 4, "hex"), np.ones(16), "r").data[0]
    assert isinstance(mesh, go.Mesh3d) and len(mesh.i) == 2 * 3 * 3


def test_curves_show_the_plan_and_mark_no_epoch_yet():
    figure = curves_figure(5, [3, 2, 1, 1, 1], [0.5, 0.4, 0.3, 0.2, 0.1], "r")
    assert list(figure.data[figures.CURVE_SIGMA].y) == [3, 2, 1, 1, 1]
    assert len(figure.data[figures.CURVE_MQE].x) == 0
    assert figure.layout.shapes[0].visible is False
    assert list(figure.layout.xaxis.range) == [0.5, 5.5]


@pytest.mark.parametrize(("d", "kind", "trace_type"),
                         [(2, "2d", go.Scattergl), (3, "3d", go.Scatter3d), (8, "pca", go.Scatter3d)])
def test_data_view_by_dimension(d, kind, trace_type):
    display = display_data(cloud(8000, d), np.zeros(8000, dtype=np.int32))
    assert display["kind"] == kind
    figure = data_view_figure(display, data_view_title("blob", display), "token")
    cloud_trace = figure.data[figures.CLOUD_2D if kind == "2d" else figures.CLOUD]
    assert isinstance(cloud_trace, trace_type)
    assert len(cloud_trace.x) <= 5000
    assert figure.layout.uirevision == "token"
    if kind == "pca":
        assert "PCA projection of 8-D data to 3-D" in figure.layout.title.text


def test_mesh_data_draws_the_surface_faintly_underneath():
    vertices = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)
    faces = np.random.default_rng(1).integers(0, 300, size=(50_000, 3)).astype(np.int32)
    display = display_data(cloud(1000, 3), None, vertices, faces)
    mesh = data_view_figure(display, "t", "r").data[figures.MESH]
    assert isinstance(mesh, go.Mesh3d) and mesh.opacity < 0.5
    assert 0 < len(mesh.i) <= 6000  # decimated


@pytest.mark.parametrize("topology", ["square", "hex"])
@pytest.mark.parametrize("d", [2, 3, 6])
def test_panel_updates_patch_every_panel(topology, d):
    display, record, history = trained_epoch(cloud(2000, d), 8, 6, topology)
    updates = panel_updates(display, map_structure(8, 6, topology), record, history)
    assert set(updates) == set(PANELS)
    assert all(isinstance(update, Patch) for update in updates.values())


def test_every_panel_says_which_run_and_epoch_it_draws():
    display, record, history = trained_epoch(cloud(2000, 3), 6, 6, "hex")
    updates = panel_updates(display, map_structure(6, 6, "hex"), record, history, run="run-7")
    for panel, update in updates.items():
        assert operations(update)[("layout", "meta")] == {"run": "run-7", "epoch": record["epoch"]}, panel


def test_data_view_patch_moves_the_map_not_the_cloud():
    display, record, history = trained_epoch(cloud(3000, 3), 10, 10, "hex")
    ops = operations(panel_updates(display, map_structure(10, 10, "hex"), record, history)[Ids.DATA_VIEW])
    touched = {location[1] for location in ops if location[0] == "data"}
    assert touched == {figures.MAP_SURFACE, figures.MAP_WIREFRAME}
    vertices = decode_typed_array(ops[("data", figures.MAP_SURFACE, "x")])
    assert np.allclose(vertices, record["weights"][:, 0])


def test_two_dimensional_patch_draws_lines_to_best_matching_units():
    display, record, history = trained_epoch(cloud(3000, 2), 6, 6, "square")
    ops = operations(panel_updates(display, map_structure(6, 6, "square"), record, history)[Ids.DATA_VIEW])
    lines_x = decode_typed_array(ops[("data", figures.BMU_LINES, "x")])
    assert len(lines_x) == 3 * len(display["bmu_index"])
    ends = lines_x[1::3]
    assert np.allclose(ends, record["weights"][record["bmus"], 0])


def test_high_dimensional_maps_are_drawn_in_the_pca_space_of_the_data():
    display, record, history = trained_epoch(cloud(3000, 7), 6, 6, "hex")
    ops = operations(panel_updates(display, map_structure(6, 6, "hex"), record, history)[Ids.DATA_VIEW])
    x = decode_typed_array(ops[("data", figures.MAP_SURFACE, "x")])
    mean, axes = display["basis"]
    assert np.allclose(x, (record["weights"] - mean) @ axes[0], atol=1e-4)


def test_named_classes_get_a_colour_bar_with_missing_labels_as_their_own_class():
    labels = np.array([0, 1, 2, -1] * 50, dtype=np.int32)
    display = display_data(cloud(200, 3), labels, label_names=["Adelie", "Chinstrap", "Gentoo"])
    marker = data_view_figure(display, "t", "r").data[figures.CLOUD].marker
    assert list(marker.colorbar.ticktext) == ["missing", "Adelie", "Chinstrap", "Gentoo"]
    codes = decode_typed_array(marker.color) if isinstance(marker.color, dict) else np.asarray(marker.color)
    assert np.array_equal(codes, display["labels"] + 1)
    assert marker.colorscale[0][1] == theme.MISSING_LABEL
    # Without names, labels colour the points and no bar names them.
    plain = data_view_figure(display_data(cloud(200, 3), labels), "t", "r").data[figures.CLOUD].marker
    assert not plain.showscale


def test_a_table_on_three_of_its_features_is_drawn_in_their_units():
    data = cloud(3000, 5)
    offset, axes = np.zeros(5), np.zeros((3, 5))
    axes[[0, 1, 2], [4, 0, 2]] = [10.0, 2.0, 0.5]  # the scaler's inverse of three features
    display, record, history = trained_epoch(data, 6, 6, "hex")
    display = display_data(data, axes=(["e", "a", "c"], offset, axes))
    assert display["kind"] == "axes" and len(display["points"]) == len(data)  # all shown, in some order
    assert np.allclose(np.sort(display["points"][:, 0]), np.sort(data[:, 4] * 10.0), rtol=1e-5, atol=1e-4)
    figure = data_view_figure(display, data_view_title("t.csv", display), "r")
    assert [figure.layout.scene[f"{axis}axis"].title.text for axis in "xyz"] == ["e", "a", "c"]
    assert figure.layout.scene.aspectmode == "cube" and "three of 5 features" in figure.layout.title.text
    ops = operations(panel_updates(display, map_structure(6, 6, "hex"), record, history)[Ids.DATA_VIEW])
    x = decode_typed_array(ops[("data", figures.MAP_SURFACE, "x")])
    assert np.allclose(x, record["weights"][:, 4] * 10.0, atol=1e-4)


def test_hex_patch_sets_colours_and_range():
    display, record, history = trained_epoch(cloud(2000, 3), 9, 9, "hex")
    ops = operations(panel_updates(display, map_structure(9, 9, "hex"), record, history)[Ids.U_MATRIX])
    colours = decode_typed_array(ops[("data", 0, "marker", "color")])
    assert np.allclose(colours, record["u_matrix"])
    assert ops[("data", 0, "marker", "cmin")] == pytest.approx(float(record["u_matrix"].min()))
    assert ops[("data", 0, "marker", "showscale")] is True


def test_curves_patch_marks_the_chosen_epoch():
    display, record, history = trained_epoch(cloud(2000, 3), 5, 5, "hex", epochs=4)
    ops = operations(figures.curves_patch(history, 2, adaptive=False))
    assert ops[("layout", "shapes", 0, "x0")] == 2
    assert ops[("data", figures.CURVE_MARKER, "y")] == [pytest.approx(float(history["mqe"][1]))]
    assert len(decode_typed_array(ops[("data", figures.CURVE_MQE, "y")])) == 4


@pytest.mark.parametrize(("d", "topology"), [(3, "hex"), (2, "hex"), (8, "hex"), (3, "square")])
def test_per_epoch_payload_fits_the_budget(d, topology):
    """Bunny-sized data on a 30 x 30 map, with a 1,000-epoch history: under 150 KB."""
    display, record, history = trained_epoch(cloud(20_000, d), 30, 30, topology)
    history = {name: np.resize(values, 1000) for name, values in history.items()}
    updates = panel_updates(display, map_structure(30, 30, topology), record, history, adaptive=True)
    size = sum(len(to_json(update)) for update in updates.values())
    assert size < PAYLOAD_BUDGET, f"{size / 1024:.0f} KB per epoch"


def test_cloud_is_not_resent_per_epoch():
    """The patch's size depends on the map, not on how many points the data has (JSON
    escapes each "/" of the base64 text, so equal arrays differ by a few percent)."""
    sizes = []
    for n in (2_000, 20_000):
        display, record, history = trained_epoch(cloud(n, 3), 30, 30, "hex")
        sizes.append(len(to_json(panel_updates(display, map_structure(30, 30, "hex"), record, history)[Ids.DATA_VIEW])))
    assert abs(sizes[0] - sizes[1]) < 0.05 * sizes[0]


def test_run_skeletons_replace_map_panels_only_for_a_new_grid():
    display = display_data(cloud(500, 3))
    structure = map_structure(6, 6, "hex")
    schedule = ([3.0] * 4, [0.5] * 4)
    same = run_skeletons(display, structure, 4, schedule, map_panels=False, data_view=False)
    assert set(same) == {Ids.CURVES}
    fresh = run_skeletons(display, structure, 4, schedule, map_panels=True, data_view=True)
    assert set(fresh) == set(PANELS)
    triangles = operations(fresh[Ids.DATA_VIEW])
    assert len(decode_typed_array(triangles[("data", figures.MAP_SURFACE, "i")])) == len(structure.triangles)


def test_default_panels_cover_the_map_panels_and_the_plan():
    panels = default_panels(map_structure(30, 30, "hex"), 100, ([1.0] * 100, [0.1] * 100))
    assert set(panels) == {Ids.U_MATRIX, Ids.U_SURFACE, Ids.HITS, Ids.CURVES}


@pytest.mark.parametrize(("values", "expected"), [([1, 2, 3], (1, 3)), ([np.nan, 2], (2, 2.002)), ([], (0, 1)),
                                                   ([0, 0], (0, 1))])
def test_value_range_is_never_empty(values, expected):
    low, high = value_range(values)
    assert (low, high) == pytest.approx(expected)
    assert high > low


def test_a_data_view_built_for_a_grid_holds_that_grids_triangles():
    from components.geometry import map_structure

    display = display_data(np.random.default_rng(0).normal(size=(300, 3)))
    structure = map_structure(6, 5, "hex")
    figure = figures.data_view_figure(display, "t", "r", structure=structure)
    surface = figure.to_plotly_json()["data"][figures.MAP_SURFACE]
    for name, column in zip("ijk", range(3)):
        np.testing.assert_array_equal(decode_typed_array(surface[name]), structure.triangles[:, column])
    empty = figures.data_view_figure(display, "t", "r").to_plotly_json()["data"][figures.MAP_SURFACE]
    assert all(len(empty[name]) == 0 for name in "ijk")
