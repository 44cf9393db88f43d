"""The views that read a trained map, without a browser: the pictures and figures of
``components.map_views``, the report file, what the view callbacks read from a page, and
forged requests to those callbacks.

Expected values are worked out here from the grid's geometry and plain NumPy, never read
back from the code under test.
"""

from __future__ import annotations

import base64
import io
import json
import math
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import plotly.graph_objects as go
import pytest
from dash_requests import DashRequests, output, text_of
from plotly.colors import get_colorscale, hex_to_rgb, sample_colorscale, unlabel_rgb
from test_forged_requests import (
    HUGE_INT,
    MAX_JOBS,
    SESSION,
    SMALL_EPOCHS,
    VIEW,
    data_url,
    load_data,
    recorded_run,
    send,
    wait_until_finished,
)

from app import create_app
from callbacks.exports import file_stem
from callbacks.map_views import clicked_unit, cluster_choice, selected_units, threshold_of, view_key
from components import theme
from components.figures import HEX_TILE, plane_range
from components.geometry import map_structure
from components.map_views import (
    border_segments,
    cluster_map_figure,
    image_pixels,
    label_map_figure,
    new_data_figure,
    plane_cards,
    plane_picture,
    profile_figure,
    prototype_images_figure,
    scores_figure,
    unit_cells,
    unit_map_figure,
)
from components.report import fixed_size, report_html, table_html
from components.views import CLUSTER_METHODS, DEFAULT_CLUSTER_METHOD, DEFAULT_CLUSTERS, MAX_CLUSTERS, MIN_CLUSTERS
from zsom_jobs import RunStatus
from zsom_jobs.seams import UPLOAD_SCORED
from zsom_jobs.store import DiskcacheStore

SQRT3 = math.sqrt(3)
# Pointy-top hexagons: the directions to a unit's neighbours, each normal to a flat side.
HEX_NORMALS = np.array([[math.cos(a), math.sin(a)] for a in np.radians([0.0, 60.0, 120.0])])
GRIDS = [(4, 3, "square"), (3, 4, "square"), (4, 3, "hex"), (3, 4, "hex"), (5, 5, "hex"), (2, 2, "hex")]
GRID_IDS = [f"{w}x{h} {t}" for w, h, t in GRIDS]


def rgb_of(colour: str) -> tuple[int, ...]:
    """A CSS colour ("#rrggbb" or "rgb(r, g, b)") as integers."""
    if colour.startswith("#"):
        return tuple(hex_to_rgb(colour))
    return tuple(round(float(part)) for part in unlabel_rgb(colour))


def tile_offsets(topology: str, delta: np.ndarray) -> np.ndarray:
    """How far (in half-widths of 0.5) points at ``delta`` from a unit centre reach towards
    its tile's sides: the largest |offset| along the tile's side normals."""
    if topology == "square":
        return np.abs(delta).max(axis=-1)
    return np.abs(delta @ HEX_NORMALS.T).max(axis=-1)


def pixel_centres(structure, pixels: float) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """The centres of a picture's pixels in the grid's plane: it spans the figures' plane
    range, rows running top down."""
    (x0, x1), (y0, y1) = plane_range(structure)
    columns, rows = max(1, round((x1 - x0) * pixels)), max(1, round((y1 - y0) * pixels))
    px = x0 + (np.arange(columns) + 0.5) / pixels
    py = y1 - (np.arange(rows) + 0.5) / pixels
    return px, py, (rows, columns)


# ---------------------------------------------------------------------------- unit_cells


@pytest.mark.parametrize("pixels", [6.0, 2.5, 11.0])
@pytest.mark.parametrize("width, height, topology", GRIDS, ids=GRID_IDS)
def test_unit_cells_give_each_pixel_the_tile_that_holds_it(width, height, topology, pixels):
    structure = map_structure(width, height, topology)
    cells = unit_cells(width, height, topology, pixels)
    px, py, shape = pixel_centres(structure, pixels)
    assert cells.shape == shape and cells.dtype == np.int32
    centres = np.stack(np.meshgrid(px, py), axis=-1)  # (rows, columns, 2)
    # Brute force: every pixel against every unit's tile.
    reach = tile_offsets(topology, centres[:, :, None, :] - structure.positions[None, None, :, :])
    inside_any = (reach <= 0.5 - 1e-9).any(axis=-1)
    on_any = (reach <= 0.5 + 1e-9).any(axis=-1)

    owned = cells >= 0
    assert cells.max() < structure.n_units
    rows, columns = np.nonzero(owned)
    own_reach = reach[rows, columns, cells[rows, columns]]
    assert (own_reach <= 0.5 + 1e-9).all(), "a pixel drawn in a unit whose tile does not hold its centre"
    assert owned[inside_any].all(), "a pixel inside a tile left out"
    assert (cells[~on_any] == -1).all(), "a pixel outside every tile drawn"
    assert set(np.unique(cells[owned])) == set(range(structure.n_units)), "a unit with no pixel"


# ---------------------------------------------------------------------------- plane_picture


def scale_colour(colorscale: str, share: float) -> np.ndarray:
    return np.array(unlabel_rgb(sample_colorscale(colorscale, [share])[0]), dtype=np.float64)


@pytest.mark.parametrize("colorscale", [theme.PLANE_COLORSCALE, "Viridis"])
def test_plane_picture_colours_follow_the_values(colorscale):
    cells = np.array([[0, 1, -1, 4], [2, 3, -1, 4], [-1, -1, -1, 0]], dtype=np.int32)
    values = np.array([-2.0, 6.0, np.nan, 2.0, 4.0])
    picture = plane_picture(cells, values, colorscale)
    assert picture.shape == (3, 4, 4) and picture.dtype == np.uint8

    first, last = get_colorscale(colorscale)[0][1], get_colorscale(colorscale)[-1][1]
    assert tuple(picture[0, 0, :3]) == rgb_of(first)  # the lowest value
    assert tuple(picture[2, 3, :3]) == rgb_of(first)  # the same unit, elsewhere
    assert tuple(picture[0, 1, :3]) == rgb_of(last)  # the highest
    low, high = np.nanmin(values), np.nanmax(values)
    for row, column, unit in ((1, 1, 3), (0, 3, 4)):
        share = (values[unit] - low) / (high - low)
        assert np.abs(picture[row, column, :3] - scale_colour(colorscale, share)).max() <= 3
    assert tuple(picture[1, 0, :3]) == rgb_of(theme.DEAD_UNIT)  # NaN: never fitted
    assert (picture[cells >= 0, 3] == 255).all()
    assert (picture[cells < 0] == 0).all()  # transparent outside the map


def test_plane_picture_clips_to_the_given_bounds():
    cells = np.array([[0, 1, 2]], dtype=np.int32)
    picture = plane_picture(cells, np.array([-10.0, 0.5, 10.0]), "Viridis", (0.0, 1.0))
    scale = get_colorscale("Viridis")
    assert tuple(picture[0, 0, :3]) == rgb_of(scale[0][1])
    assert tuple(picture[0, 2, :3]) == rgb_of(scale[-1][1])
    assert np.abs(picture[0, 1, :3] - scale_colour("Viridis", 0.5)).max() <= 3


# ---------------------------------------------------------------------------- border_segments


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("width, height, topology", GRIDS, ids=GRID_IDS)
def test_border_segments_are_the_shared_sides_of_units_in_different_clusters(width, height, topology, seed):
    structure = map_structure(width, height, topology)
    clusters = np.random.default_rng(seed).integers(0, 3, structure.n_units)
    segments = border_segments(structure, clusters)
    positions = structure.positions
    differ = [(i, j) for i, j in structure.edges if clusters[i] != clusters[j]]
    assert segments.shape == (3 * len(differ), 2)
    segments = segments.reshape(-1, 3, 2)
    assert np.isnan(segments[:, 2]).all() and np.isfinite(segments[:, :2]).all()

    side = 1.0 if topology == "square" else 1 / SQRT3
    middles = {tuple(np.round((positions[i] + positions[j]) / 2, 9)): (i, j) for i, j in differ}
    matched = set()
    for start, end, _ in segments:
        middle = tuple(np.round((start + end) / 2, 9))
        assert middle in middles, f"a segment at {middle} between no two units of different clusters"
        i, j = middles[middle]
        matched.add((i, j))
        step = positions[j] - positions[i]
        assert abs(np.dot(end - start, step)) < 1e-9  # across the step between the centres
        assert np.linalg.norm(end - start) == pytest.approx(side)
    assert matched == set(middles.values())  # each border once


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_one_cluster_has_no_border(topology):
    structure = map_structure(4, 4, topology)
    assert border_segments(structure, np.zeros(structure.n_units, dtype=int)).shape == (0, 2)


# ---------------------------------------------------------------------------- plane_cards


def card_parts(card) -> tuple[str, str, list[str]]:
    name, image, _, labels = card.children
    return name.children, image.src, [span.children for span in labels.children]


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_plane_cards_follow_the_order_and_label_each_planes_range(topology):
    structure = map_structure(5, 4, topology)
    rng = np.random.default_rng(3)
    planes = np.column_stack([rng.normal(size=structure.n_units) * 100, rng.uniform(0, 1, structure.n_units),
                              np.linspace(-3.0, 7.0, structure.n_units)])
    planes[2, 1] = np.nan  # a unit never fitted on feature 1
    names = ["mass", "share", "step"]
    order = np.array([2, 0, 1])
    cards = plane_cards(structure, planes, names, order, lambda feature: {"card": feature}, chosen=0)
    assert [card.id for card in cards] == [{"card": 2}, {"card": 0}, {"card": 1}]
    assert [card_parts(card)[0] for card in cards] == ["step", "mass", "share"]
    for card, feature in zip(cards, order):
        _, src, (low, high) = card_parts(card)
        assert float(low) == pytest.approx(np.nanmin(planes[:, feature]), rel=1e-3)
        assert float(high) == pytest.approx(np.nanmax(planes[:, feature]), rel=1e-3)
        assert src.startswith("data:image/png;base64,")
    assert [card.to_plotly_json()["props"]["aria-pressed"] for card in cards] == ["false", "true", "false"]

    # The picture: the unit with the lowest value in the scale's first colour.
    from PIL import Image

    _, src, _ = card_parts(cards[1])  # feature 0
    picture = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGBA"))
    (x0, x1), (y0, y1) = plane_range(structure)
    assert picture.shape[2] == 4 and picture.shape[1] / picture.shape[0] == pytest.approx((x1 - x0) / (y1 - y0),
                                                                                         rel=0.1)
    first = rgb_of(get_colorscale(theme.PLANE_COLORSCALE)[0][1])
    lowest = structure.positions[np.argmin(planes[:, 0])]
    scale = picture.shape[1] / (x1 - x0)
    row, column = int((y1 - lowest[1]) * scale), int((lowest[0] - x0) * scale)
    assert tuple(picture[row, column, :3]) == first and picture[row, column, 3] == 255


def test_a_plane_cards_range_is_its_values_even_when_they_are_all_equal_or_missing():
    structure = map_structure(3, 3, "square")
    planes = np.column_stack([np.full(9, 5.0), np.full(9, np.nan)])
    cards = plane_cards(structure, planes, ["constant", "never fitted"], np.array([0, 1]), str)
    assert card_parts(cards[0])[2] == ["5", "5"]
    assert card_parts(cards[1])[2] == ["n/a", "n/a"]


# ---------------------------------------------------------------------------- map figures


def centres_of(figure: go.Figure):
    return figure.data[-1]


def assert_unit_centres(figure: go.Figure, structure, values) -> None:
    """The top trace is the unit centres, at the units' places, customdata [x, y, value]
    per unit, unit i = x * height + y."""
    centres = centres_of(figure)
    assert isinstance(centres, go.Scatter) and centres.marker.opacity == 0
    np.testing.assert_allclose(np.column_stack([centres.x, centres.y]), structure.positions)
    data = np.asarray(centres.customdata, dtype=np.float64)
    units = np.arange(structure.n_units)
    np.testing.assert_array_equal(data[:, 0], units // structure.height)
    np.testing.assert_array_equal(data[:, 1], units % structure.height)
    np.testing.assert_allclose(data[:, 2], np.asarray(values, dtype=np.float64))


def layer_values(figure: go.Figure, structure) -> np.ndarray:
    """The unit values the first layer colours, in unit order."""
    layer = figure.data[0]
    if structure.topology == "square":
        assert isinstance(layer, go.Heatmap)
        z = np.asarray(layer.z, dtype=np.float64)
        assert z.shape == (structure.height, structure.width)  # rows y, columns x
        return np.array([z[unit % structure.height, unit // structure.height] for unit in range(structure.n_units)])
    assert layer.meta == HEX_TILE
    np.testing.assert_allclose(np.column_stack([layer.x, layer.y]), structure.positions)
    return np.asarray(layer.marker.color, dtype=np.float64)


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_unit_map_figure_draws_the_values_and_carries_the_unit_centres(topology):
    structure = map_structure(5, 3, topology)
    values = np.random.default_rng(0).normal(size=structure.n_units)
    clusters = np.arange(structure.n_units) % 2
    borders = border_segments(structure, clusters)
    figure = unit_map_figure(structure, values, "U", colorscale="Viridis", colorbar_title="U", borders=borders,
                             chosen=7, text=[f"t{i}" for i in range(structure.n_units)])
    np.testing.assert_allclose(layer_values(figure, structure), values, rtol=1e-6)
    assert_unit_centres(figure, structure, values)
    assert list(centres_of(figure).text) == [f"t{i}" for i in range(structure.n_units)]
    border, chosen = figure.data[-3], figure.data[-2]
    np.testing.assert_array_equal(np.column_stack([border.x, border.y]), borders)
    np.testing.assert_allclose([chosen.x[0], chosen.y[0]], structure.positions[7])
    assert figure.layout.dragmode == "select" and figure.layout.yaxis.scaleanchor == "x"


def colour_at(colorscale: list, share: float) -> str:
    """The colour a stepped colour scale gives at ``share`` (strictly inside a step)."""
    for (low, colour), (high, _) in zip(colorscale, colorscale[1:]):
        if low <= share < high:
            return colour
    return colorscale[-1][1]


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_cluster_map_figure_colours_each_cluster_and_draws_the_borders(topology):
    structure = map_structure(4, 4, topology)
    k = 3
    clusters = np.random.default_rng(1).integers(0, k, structure.n_units)
    borders = border_segments(structure, clusters)
    figure = cluster_map_figure(structure, clusters, k, borders, None, "r")
    assert figure.layout.title.text == "Clusters: k = 3"
    shown = layer_values(figure, structure)
    np.testing.assert_array_equal(shown, clusters + 1)  # numbered from 1
    assert_unit_centres(figure, structure, clusters + 1)
    layer = figure.data[0]
    colour_bar = layer.colorbar if topology == "square" else layer.marker.colorbar
    assert list(colour_bar.tickvals) == [1, 2, 3] and list(colour_bar.ticktext) == ["1", "2", "3"]
    scale = layer.colorscale if topology == "square" else layer.marker.colorscale
    low, high = (layer.zmin, layer.zmax) if topology == "square" else (layer.marker.cmin, layer.marker.cmax)
    colours = [colour_at([list(step) for step in scale], (number - low) / (high - low)) for number in (1, 2, 3)]
    assert colours == theme.LABEL_COLORS[:3]  # one colour per cluster, none shared
    border = figure.data[-3]
    assert np.isfinite(np.asarray(border.x, dtype=np.float64)).sum() == 2 * sum(
        clusters[i] != clusters[j] for i, j in structure.edges)


def unit_colours(figure: go.Figure, structure) -> list[tuple[int, ...]]:
    """The colour of each unit's tile in a label map, in unit order."""
    layer = figure.data[0]
    if structure.topology == "square":
        assert isinstance(layer, go.Image)
        z = np.asarray(layer.z)
        return [tuple(int(c) for c in z[unit % structure.height, unit // structure.height])
                for unit in range(structure.n_units)]
    assert layer.meta == HEX_TILE
    return [rgb_of(colour) for colour in layer.marker.color]


def label_counts(structure) -> np.ndarray:
    """Counts (units, 3 classes): unit 0 pure class 0, unit 1 mixed 2:1:1, unit 2 empty, others random."""
    counts = np.random.default_rng(4).integers(0, 5, (structure.n_units, 3))
    counts[0], counts[1], counts[2] = [6, 0, 0], [2, 1, 1], [0, 0, 0]
    counts[counts.sum(axis=1) == 0] = 0
    return counts


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_label_map_by_purity(topology):
    structure = map_structure(4, 3, topology)
    counts = label_counts(structure)
    names = ["a", "b", "c"]
    figure = label_map_figure(structure, counts, names, "purity", None, "r")
    colours = unit_colours(figure, structure)
    totals = counts.sum(axis=1)
    assert colours[0] == rgb_of(theme.LABEL_COLORS[0])  # pure: the label's own colour
    white = np.array([255, 255, 255])
    full, mixed = np.array(rgb_of(theme.LABEL_COLORS[0])), np.array(colours[1])
    # Mixed: between white and the majority's colour, paler than the pure unit.
    assert np.linalg.norm(mixed - white) < np.linalg.norm(full - white)
    cross = np.cross(mixed - white, full - white)
    assert np.abs(cross).max() / np.linalg.norm(full - white) ** 2 < 0.02
    for unit in np.flatnonzero(totals == 0):
        assert colours[unit] == rgb_of(theme.DEAD_UNIT)
    purity = np.where(totals > 0, counts.max(axis=1) / np.maximum(totals, 1), np.nan)
    assert_unit_centres(figure, structure, purity)
    assert [trace.name for trace in figure.data if trace.name] == names  # the legend
    assert centres_of(figure).text[2] == "no labelled sample" and centres_of(figure).text[1] == "a 2, b 1, c 1"


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_label_map_as_pies(topology):
    structure = map_structure(4, 3, topology)
    counts = label_counts(structure)
    names = ["a", "b", "c"]
    figure = label_map_figure(structure, counts, names, "pie", None, "r")
    totals = counts.sum(axis=1)
    background = unit_colours(figure, structure)
    for unit in range(structure.n_units):
        assert background[unit] == rgb_of(theme.PIE_BACKGROUND if totals[unit] else theme.DEAD_UNIT)
    wedges = [trace for trace in figure.data if isinstance(trace, go.Scattergl) and trace.fill == "toself"]
    assert [trace.name for trace in wedges] == names
    assert [trace.fillcolor for trace in wedges] == theme.LABEL_COLORS[:3]
    turned = np.zeros((structure.n_units, 3))
    for label, trace in enumerate(wedges):
        xs, ys = list(trace.x), list(trace.y)
        while xs:
            end = xs.index(None)
            x, y = np.array(xs[:end], dtype=float), np.array(ys[:end], dtype=float)
            xs, ys = xs[end + 1:], ys[end + 1:]
            unit = int(np.argmin(np.linalg.norm(structure.positions - [x[0], y[0]], axis=1)))
            assert np.allclose([x[0], y[0]], structure.positions[unit]) and np.allclose([x[-1], y[-1]], [x[0], y[0]])
            # The arc between the centre's two visits, clockwise from the top.
            angles = np.unwrap(np.arctan2(x[1:-1] - x[0], y[1:-1] - y[0]))
            turned[unit, label] += angles[-1] - angles[0]
    expected = np.divide(counts, totals[:, None], out=np.zeros(counts.shape), where=totals[:, None] > 0) * 2 * np.pi
    np.testing.assert_allclose(turned, expected, atol=1e-9)
    np.testing.assert_allclose(turned.sum(axis=1)[totals > 0], 2 * np.pi)


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_new_data_figure_counts_rows_and_crosses_flagged_units(topology):
    structure = map_structure(3, 4, topology)
    hits = np.arange(structure.n_units) % 4
    flagged = np.where(np.arange(structure.n_units) % 5 == 1, 1, 0) * (hits > 0)
    figure = new_data_figure(structure, hits, flagged, 2, "r")
    np.testing.assert_allclose(layer_values(figure, structure), hits)
    assert_unit_centres(figure, structure, hits)
    crosses = figure.data[1]
    assert crosses.marker.symbol == "x"
    np.testing.assert_allclose(np.column_stack([crosses.x, crosses.y]), structure.positions[flagged > 0])
    assert list(centres_of(figure).text) == [f"{n} flagged" for n in flagged]


def test_scores_figure_plots_both_scores_against_k_and_marks_the_chosen_k():
    scores = {"k": [2, 3, 4, 5], "davies_bouldin": [0.9, 0.5, 0.7, 0.8], "silhouette": [0.4, 0.7, 0.5, 0.45]}
    figure = scores_figure(scores, 3, "k-means")
    davies, silhouette = figure.data
    assert list(davies.x) == list(silhouette.x) == [2, 3, 4, 5]
    assert list(davies.y) == scores["davies_bouldin"] and list(silhouette.y) == scores["silhouette"]
    assert silhouette.yaxis == "y2" and figure.layout.yaxis2.overlaying == "y"
    (marker,) = figure.layout.shapes
    assert marker.x0 == marker.x1 == 3
    assert "k-means" in figure.layout.title.text


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_prototype_images_are_drawn_upright_at_each_units_place(topology):
    structure = map_structure(3, 4, topology)
    side = 4
    prototypes = np.random.default_rng(5).uniform(0, 16, (structure.n_units, side * side))
    figure = prototype_images_figure(structure, prototypes, (side, np.arange(side * side)), "r")
    z = np.asarray(figure.data[0].z, dtype=np.float64)  # row 0 at the bottom
    tile = side + 1
    assert np.isfinite(z).sum() == structure.n_units * side * side
    for unit in range(structure.n_units):
        x, y = divmod(unit, structure.height)
        image = prototypes[unit].reshape(side, side)  # pixels row by row, top row first
        # Rows stacked upwards with y, as the map's; a hex map's odd rows half a tile right.
        left = x * tile + (tile // 2 if topology == "hex" and y % 2 else 0)
        bottom = y * tile
        block = z[bottom:bottom + tile, left:left + side]
        block = block[np.isfinite(block).any(axis=1)]
        np.testing.assert_allclose(block[::-1], image)
    assert figure.data[0].zmin == prototypes.min() and figure.data[0].zmax == prototypes.max()
    assert figure.layout.yaxis.scaleanchor == "x"


def test_a_pixel_that_is_no_feature_stays_blank():
    structure = map_structure(2, 2, "square")
    where = np.array([0, 1, 2])  # the fourth pixel of each 2 x 2 image was constant, left out
    prototypes = np.arange(structure.n_units * 3, dtype=np.float64).reshape(structure.n_units, 3)
    z = np.asarray(prototype_images_figure(structure, prototypes, (2, where), "r").data[0].z, dtype=np.float64)
    assert np.isfinite(z).sum() == structure.n_units * 3
    assert set(z[np.isfinite(z)]) == set(prototypes.ravel())


@pytest.mark.parametrize("names, expected", [
    ([f"pixel_{i // 8}_{i % 8}" for i in range(64)], (8, list(range(64)))),
    ([f"pixel_{i // 8}_{i % 8}" for i in range(64) if i not in (0, 32, 56)],  # constant pixels left out
     (8, [i for i in range(64) if i not in (0, 32, 56)])),
    ([f"pixel_{i}" for i in range(64)], None),
    ([f"pixel_{i // 8}_{i % 8}" for i in range(63)] + ["age"], None),
    ([f"f{i}" for i in range(64)], None),
    ([f"pixel_{i // 3}_{i % 3}" for i in range(9)], None),  # too small to be an image
    ([f"pixel_0_{i % 8}" for i in range(16)], None),  # the same pixel twice
])
def test_image_pixels_come_from_the_features_names(names, expected):
    found = image_pixels(names)
    assert (found if found is None else (found[0], found[1].tolist())) == expected


def test_profile_figure_shows_the_prototype_in_standard_deviations():
    names = ["a", "b", "constant"]
    prototype, mean, spread = np.array([3.0, 1.0, 2.0]), np.array([1.0, 2.0, 2.0]), np.array([2.0, 0.5, 0.0])
    figure = profile_figure(names, prototype, mean, spread)
    (bar,) = figure.data
    assert list(bar.y) == names and bar.orientation == "h"
    np.testing.assert_allclose(bar.x, [1.0, -2.0, 0.0])  # a spread of 0: no division by it
    assert list(bar.marker.color) == [theme.TE, theme.MQE, theme.MQE]
    np.testing.assert_allclose(np.asarray(bar.customdata, dtype=float), np.column_stack([prototype, mean]))
    assert figure.layout.height >= 18 * len(names)


# ---------------------------------------------------------------------------- the report


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text outside scripts and styles."""

    def __init__(self):
        super().__init__()
        self.tags, self.text, self._raw = [], [], 0

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._raw += tag in ("script", "style")

    def handle_endtag(self, tag):
        self._raw -= tag in ("script", "style") and self._raw > 0

    def handle_data(self, data):
        if not self._raw:
            self.text.append(data)


EVIL = "<script>alert('x')</script>"


def test_the_report_is_one_self_contained_file_with_every_text_escaped():
    structure = map_structure(4, 4, "hex")
    clusters = np.arange(16) % 3
    figures = [
        ("Clusters " + EVIL, fixed_size(cluster_map_figure(structure, clusters, 3, border_segments(structure, clusters),
                                                           None, "r"), structure=structure)),
        ("Labels", fixed_size(label_map_figure(structure, np.eye(16, 2, dtype=int), [EVIL, "</script>b"], "purity",
                                               None, "r"), structure=structure)),
        ("Scores", fixed_size(scores_figure({"k": [2, 3], "davies_bouldin": [1, 2], "silhouette": [0.1, 0.2]}, 2,
                                            "k " + EVIL))),
    ]
    sections = [("Data " + EVIL, table_html([(EVIL, 1)], ("name", "value")))]
    page = report_html(f"ZSOM report: {EVIL}", f"subtitle {EVIL}", sections, figures)

    parser = Tags()
    parser.feed(page)
    scripts = [attrs for tag, attrs in parser.tags if tag == "script"]
    assert not any("src" in attrs for attrs in scripts)
    links = [value for _, attrs in parser.tags for name, value in attrs.items() if name in ("src", "href")]
    assert not [value for value in links if value and value.strip().lower().startswith(("http://", "https://",
                                                                                         "//"))]
    assert not [tag for tag, _ in parser.tags if tag in ("link", "iframe", "img") and tag != "img"]
    assert page.count("* plotly.js v") == 1  # the bundle, once for every figure
    assert len([div for tag, div in parser.tags if tag == "div" and "plotly-graph-div" in div.get("class", "")]) == 3
    # The text came out as text: the parser reads it back, and no script tag of it is in the page.
    text = "".join(parser.text)
    for written in (f"ZSOM report: {EVIL}", f"subtitle {EVIL}", f"Data {EVIL}", f"Clusters {EVIL}"):
        assert written in text
    assert EVIL not in page and "</script>b" not in page
    assert len(scripts) == 2 + len(figures)  # plotly's config and bundle, and one per figure
    assert "&lt;script&gt;" in page


@pytest.mark.parametrize("shape", [(4, 4), (10, 3), (3, 9)])
def test_fixed_size_sizes_hexagons_to_meet_their_neighbours(shape):
    structure = map_structure(*shape, "hex")
    figure = unit_map_figure(structure, np.arange(structure.n_units, dtype=float), "U", colorscale="Viridis",
                             colorbar_title="U")
    width, height = 700, 500
    sized = fixed_size(figure, width, height, structure=structure)
    assert sized.layout.width == width and sized.layout.height == height and sized.layout.autosize is False
    margin = sized.layout.margin
    x_span = np.subtract(*sized.layout.xaxis.range[::-1])
    y_span = np.subtract(*sized.layout.yaxis.range[::-1])
    # Equal aspect: one unit is as many pixels as the tighter axis allows.
    scale = min((width - margin.l - margin.r) / x_span, (height - margin.t - margin.b) / y_span)
    tiles = [trace for trace in sized.data if trace.meta == HEX_TILE]
    assert tiles
    for trace in tiles:
        # A marker's size is the hexagon's vertex-to-vertex height, 2/sqrt(3) of the unit
        # step between flats, plus a little overlap that hides the seams.
        assert trace.marker.size == pytest.approx(scale * 2 / SQRT3 + 0.6)
    assert figure.data[0].marker.size != sized.data[0].marker.size  # the figure given stays as it was


def test_fixed_size_leaves_a_square_map_as_drawn():
    structure = map_structure(4, 4, "square")
    figure = unit_map_figure(structure, np.arange(16.0), "U", colorscale="Viridis", colorbar_title="U")
    sized = fixed_size(figure, 600, 400, structure=structure)
    assert sized.layout.width == 600
    assert json.loads(sized.to_json())["data"] == json.loads(figure.to_json())["data"]


# ---------------------------------------------------------------------------- what the callbacks read


@pytest.mark.parametrize("topology", ["square", "hex"])
def test_a_point_on_a_units_centre_names_that_unit(topology):
    structure = map_structure(5, 4, topology)
    for unit, (x, y) in enumerate(structure.positions):
        assert clicked_unit({"points": [{"x": float(x), "y": float(y), "pointNumber": 999}]}, structure) == unit
    units = [3, 7, 19]
    points = [{"x": float(structure.positions[u][0]), "y": float(structure.positions[u][1])} for u in units * 2]
    assert selected_units({"points": points}, structure) == units


@pytest.mark.parametrize("point", [
    {"x": 0.5, "y": 0.5}, {"x": -1, "y": 0}, {"x": 5, "y": 0}, {"x": 0, "y": 4}, {"x": "1", "y": 1},
    {"x": True, "y": 1}, {"x": float("nan"), "y": 1}, {"x": 10**400, "y": 1}, {"y": 1}, "point", 7, None,
])
def test_a_point_off_every_centre_names_no_unit(point):
    structure = map_structure(5, 4, "square")
    assert clicked_unit({"points": [point]}, structure) is None
    assert selected_units({"points": [point]}, structure) == []


@pytest.mark.parametrize("click", [None, "points", {}, {"points": []}, {"points": "x"}, {"points": [5]}])
def test_a_malformed_click_names_no_unit(click):
    assert clicked_unit(click, map_structure(3, 3, "hex")) is None
    assert selected_units(click, map_structure(3, 3, "hex")) == []


@pytest.mark.parametrize("method, k, neighbours, expected", [
    ("ward", 4, [], ("ward", 4, False)),
    ("ward", 4, ["on"], ("ward", 4, True)),
    ("__import__('os')", 4, [], (DEFAULT_CLUSTER_METHOD, 4, False)),
    (["ward"], 4, [], (DEFAULT_CLUSTER_METHOD, 4, False)),
    ("ward", MIN_CLUSTERS - 1, [], ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", MAX_CLUSTERS + 1, [], ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", "5", [], ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", None, None, ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", True, [], ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", float("nan"), [], ("ward", DEFAULT_CLUSTERS, False)),
    ("ward", 10**400, [], ("ward", DEFAULT_CLUSTERS, False)),
    (None, MAX_CLUSTERS, [], (DEFAULT_CLUSTER_METHOD, MAX_CLUSTERS, False)),
])
def test_cluster_choice_falls_back_to_the_defaults(method, k, neighbours, expected):
    assert "ward" in CLUSTER_METHODS and MIN_CLUSTERS < 4 < MAX_CLUSTERS
    assert cluster_choice(method, k, neighbours) == expected


@pytest.mark.parametrize("value, expected", [(None, 1.25), ("", 1.25), (0, 0.0), (2, 2.0), (0.5, 0.5)])
def test_threshold_of_takes_a_distance_or_the_default(value, expected):
    threshold, how = threshold_of(value, 1.25)
    assert threshold == expected and isinstance(threshold, float)
    assert ("99th percentile" in how) == (value in (None, ""))


@pytest.mark.parametrize("value", [-1, -0.001, float("nan"), float("inf"), "2", "abc", True, False, [1], {"x": 1},
                                   10**400, -(10**400)],
                         ids=["-1", "-0.001", "nan", "inf", "text number", "text", "true", "false", "list", "dict",
                              "10**400", "-10**400"])
def test_threshold_of_refuses_what_is_not_a_distance(value):
    with pytest.raises(ValueError, match="the threshold must be a distance of 0 or more"):
        threshold_of(value, 1.0)


@pytest.mark.parametrize("value, key", [
    ({"run": "abc", "epoch": 3}, ("abc", 3)),
    ({"run": "abc", "epoch": 3.0}, ("abc", 3)),
    ({"run": "abc", "epoch": 0}, None), ({"run": "abc", "epoch": None}, None), ({"run": "abc", "epoch": "3"}, None),
    ({"run": "abc", "epoch": True}, None), ({"run": 5, "epoch": 3}, None), ({"run": None, "epoch": 3}, None),
    ({"epoch": 3}, None), (None, None), ("abc", None), ([("run", "abc"), ("epoch", 3)], None),
])
def test_view_key(value, key):
    assert view_key(value) == key


@pytest.mark.parametrize("label, name", [
    ("Clusters", "clusters"), ("../../etc/passwd", "etc-passwd"), ("My data (v2).csv", "my-data-v2-csv"),
    ("Ünïcödé 数据 rabbit", "n-c-d-rabbit"), ("", "data"), ("数据", "data"), ("-- .. --", "data"),
    ("a" * 100, "a" * 40), ("x\n/y\\z\x00", "x-y-z"),
])
def test_file_stem_keeps_letters_digits_and_dashes(label, name):
    trained = SimpleNamespace(run=SimpleNamespace(number=2), epoch=7)
    stem = file_stem(trained, label)
    assert stem == f"zsom-{name}-run2-epoch7"
    assert set(stem) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


# ---------------------------------------------------------------------------- forged requests

VIEW_KEY = "view-key.data"
TAB = "view-tabs.value"
NEW_DATA = "new-data-upload.contents"
NEW_DATA_NAME = "new-data-upload.filename"
THRESHOLD = "new-data-threshold.value"
NO_MAP = "Train a map first"
# Each view callback that follows the view key, with its tab and an output that tells it.
VIEW_OUTPUTS = {"clusters": "view-cluster-map.figure", "planes": "view-plane-large.figure",
                "labels": "view-label-map.figure", "new-data": "view-new-data-map.figure"}


@pytest.fixture(scope="module")
def app_root(tmp_path_factory):
    return tmp_path_factory.mktemp("map-views")


@pytest.fixture(scope="module")
def server(app_root) -> DashRequests:
    return DashRequests(create_app(app_root / "cache", max_jobs=MAX_JOBS))


@pytest.fixture(scope="module")
def cache_store(app_root, server):
    store = DiskcacheStore(app_root / "cache" / "store")
    yield store
    store.close()


@pytest.fixture(scope="module")
def trained(server, cache_store):
    """A session with a finished 3-epoch run on the "clusters" data, trained by the job the
    server starts for a Train request and waited for through the store: (session, run id)."""
    session = server.new_session()
    run_id, _ = recorded_run(server, session)
    record = wait_until_finished(cache_store, session, run_id)
    assert record.status is RunStatus.DONE and record.epoch == SMALL_EPOCHS
    return session, run_id


def view(server, tab: str, session: str, key, values: dict | None = None, trigger: str = VIEW_KEY):
    return send(server, trigger, {SESSION: session, VIEW_KEY: key, TAB: tab, **(values or {})},
                writes=VIEW_OUTPUTS[tab])


def decoded(value) -> np.ndarray:
    """An array as a figure's JSON carries it: a list, or plotly's typed array (base64)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return array.reshape([int(side) for side in str(shape).split(",")]) if shape else array
    return np.asarray(value)


def figure_message(figure: dict) -> str:
    return " ".join(note.get("text", "") for note in figure.get("layout", {}).get("annotations", []))


def numpy_hits(cache_store, session: str, run_id: str, epoch: int) -> np.ndarray:
    """Samples per unit at ``epoch``, by plain NumPy: each sample's nearest prototype."""
    points = np.asarray(cache_store.get_dataset(session)["points"], dtype=np.float64)
    weights = np.asarray(cache_store.get_epoch(session, run_id, epoch)["weights"], dtype=np.float64)
    weights = weights.reshape(-1, points.shape[1])
    nearest = ((points[:, None, :] - weights[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    return np.bincount(nearest, minlength=len(weights))


@pytest.mark.parametrize("epoch", [2, SMALL_EPOCHS])
def test_the_clusters_tab_answers_for_the_epoch_shown(server, cache_store, trained, epoch):
    session, run_id = trained
    key = {"run": run_id, "epoch": epoch}
    status, body = view(server, "clusters", session, key)
    assert status == 200
    cluster_map = output(body, "view-cluster-map.figure")
    assert cluster_map["layout"]["title"]["text"] == f"Clusters: k = {DEFAULT_CLUSTERS}"
    units = decoded(cluster_map["data"][-1]["customdata"]).astype(np.float64)
    assert len(units) == 16 and set(units[:, 2]) <= set(range(1, DEFAULT_CLUSTERS + 1))
    hits = decoded(output(body, "view-cluster-hits.figure")["data"][-1]["customdata"]).astype(np.float64)
    np.testing.assert_array_equal(hits[:, 2], numpy_hits(cache_store, session, run_id, epoch))
    values = {SESSION: session, VIEW_KEY: key, TAB: "clusters"}
    status, body = send(server, VIEW_KEY, values, writes="quality-table.children")
    assert f"Quality at epoch {epoch}" in text_of(output(body, "quality-table.children"))
    status, body = send(server, VIEW_KEY, values, writes="view-cluster-scores.figure")
    scores = output(body, "view-cluster-scores.figure")
    assert list(scores["data"][0]["x"]) == list(range(MIN_CLUSTERS, MAX_CLUSTERS + 1))


def test_a_forged_cluster_method_is_read_as_the_default(server, trained):
    session, run_id = trained
    for method in (["ward"], {"ward": 1}, "nope"):
        status, body = send(server, VIEW_KEY, {SESSION: session, VIEW_KEY: {"run": run_id, "epoch": SMALL_EPOCHS},
                                               TAB: "clusters", "cluster-method.value": method, "cluster-k.value": 3},
                            writes="view-cluster-scores.figure")
        assert status == 200
        title = output(body, "view-cluster-scores.figure")["layout"]["title"]["text"]
        assert CLUSTER_METHODS[DEFAULT_CLUSTER_METHOD] in title


@pytest.mark.parametrize("tab", list(VIEW_OUTPUTS))
def test_another_sessions_run_shows_nothing(server, cache_store, trained, tab):
    session_a, run_a = trained
    token_a = cache_store.get_dataset(session_a)["token"]
    session_b = server.new_session()
    load_data(server, session_b, samples=600)
    forged_runs = [run_a, f"../{session_a}/run/{run_a}", f"/{run_a}", f"{session_a}/{run_a}"]
    for run in forged_runs:
        status, body = view(server, tab, session_b, {"run": run, "epoch": SMALL_EPOCHS})
        assert status == 200
        assert NO_MAP in figure_message(output(body, VIEW_OUTPUTS[tab]))
        sent = json.dumps(body)
        assert token_a not in sent and "customdata" not in sent
    # The control: session A's own page shows its map.
    status, body = view(server, tab, session_a, {"run": run_a, "epoch": SMALL_EPOCHS})
    assert NO_MAP not in figure_message(output(body, VIEW_OUTPUTS[tab]))


def test_a_click_from_a_page_on_no_known_tab_opens_the_clusters(server, trained):
    session, run_id = trained
    grid_view = {"run": run_id, "grid": [4, 4, "hex"]}
    click = {"points": [{"x": 1.0, "y": 2 * math.sqrt(3) / 2}]}  # unit (1, 2) of a hex map
    for tab in (["clusters"], {"tab": 1}, "training", "nope"):
        status, body = send(server, "view-cluster-map.clickData",
                            {"view-cluster-map.clickData": click, TAB: tab, VIEW: grid_view, SESSION: session},
                            writes="chosen-unit.data")
        assert status == 200
        assert output(body, "chosen-unit.data") == 1 * 4 + 2 and output(body, TAB) == "clusters"


def session_keys(cache_store, session: str) -> list[str]:
    return [key for key in cache_store.cache.iterkeys() if isinstance(key, str) and session in key]


def new_data(server, session: str, run_id: str, contents, filename, threshold=None):
    return view(server, "new-data", session, {"run": run_id, "epoch": SMALL_EPOCHS},
                {NEW_DATA: contents, NEW_DATA_NAME: filename, THRESHOLD: threshold}, trigger=NEW_DATA)


NEW_DATA_CSV = b"x,y\n" + b"".join(f"{x:.2f},{y:.2f}\n".encode() for x, y in [(0.1, 0.2), (0.5, 0.5)]) + b"40,40\n"


def test_new_data_maps_a_table_and_flags_the_far_row(server, cache_store, trained):
    session, run_id = trained
    status, body = new_data(server, session, run_id, data_url(NEW_DATA_CSV), "../../ne\u202ew\n.csv")
    assert status == 200
    message = text_of(output(body, "new-data-message.children"))
    assert "3 rows mapped" in message and "1 farther than" in message
    # The name labels the message as its base name, with no path or control character.
    assert message.startswith("new.csv: ") and cache_store.get_upload(session, UPLOAD_SCORED)["filename"] == "new.csv"
    figure = output(body, "view-new-data-map.figure")
    assert decoded(figure["data"][-1]["customdata"])[:, 2].sum() == 3
    assert cache_store.get_upload(session, UPLOAD_SCORED)["data"] == NEW_DATA_CSV
    assert not [key for key in session_keys(cache_store, session) if "new.csv" in key]
    # Stored, the file leaves the page: the view's next requests do not carry it again.
    assert output(body, "new-data-upload.contents", missing="left") is None
    status, body = view(server, "new-data", session, {"run": run_id, "epoch": SMALL_EPOCHS})
    assert "3 rows mapped" in text_of(output(body, "new-data-message.children"))
    assert "new-data-upload" not in body["response"]
    # A forged threshold: the page says why, never a server error.
    for threshold in (HUGE_INT, -1, "x", True):
        status, body = send(server, THRESHOLD, {SESSION: session, VIEW_KEY: {"run": run_id, "epoch": SMALL_EPOCHS},
                                               TAB: "new-data", THRESHOLD: threshold},
                            writes="new-data-message.children")
        assert status == 200
        assert "the threshold must be a distance of 0 or more" in text_of(output(body, "new-data-message.children"))


@pytest.mark.parametrize("contents, filename, message", [
    (data_url(b"x,y\n1,2\n"), "notes.txt", "notes.txt: not a table or mesh file"),
    (data_url(b"x,y\n1,2\n"), "../../etc/notes.txt", "not a table or mesh file"),
    ("data:application/octet-stream;base64,!!!$$$", "new.csv", "could not be read"),
    ("just text", "new.csv", "could not be read"),
    ({"evil": 1}, "new.csv", "could not be read"),
], ids=["a .txt name", "a .txt path", "bad base64", "not a data URL", "an object"])
def test_new_data_that_cannot_be_mapped_is_refused_with_a_message(server, cache_store, trained, contents, filename,
                                                                     message):
    session, run_id = trained
    before = cache_store.get_upload(session, UPLOAD_SCORED)
    status, body = new_data(server, session, run_id, contents, filename)
    assert status == 200
    shown = text_of(output(body, "new-data-message.children"))
    assert message in shown and "../" not in shown
    keys = session_keys(cache_store, session)
    assert not [key for key in keys if filename.rsplit("/", 1)[-1] in key]  # never a key of the user's name
    if not isinstance(contents, str) or "!!!" in contents or not contents.startswith("data:"):
        assert cache_store.get_upload(session, UPLOAD_SCORED) == before  # nothing decoded, nothing stored
