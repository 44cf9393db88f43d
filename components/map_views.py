"""The views that read a trained map: component planes, prototypes as images, clusters,
labels, the unit inspector and new data. Pure: arrays in, figures and HTML out.

Every map here is drawn in the grid's own geometry, as the U-Matrix is, and carries a
layer of invisible unit centres on top, so that a click or a box or lasso selection says
which units it hit whatever the map's trace (a heatmap cannot be selected from).
Component planes are many small maps: they are rasterised here, one PNG per plane, which
the browser draws at no cost, and the plane the user picks is drawn large as a figure.
"""

from __future__ import annotations

import base64
import io
import math
import re
from functools import lru_cache

import numpy as np
import plotly.graph_objects as go
from dash import html
from PIL import Image
from plotly.colors import sample_colorscale, unlabel_rgb
from scipy.spatial import cKDTree

from zsom_core.analysis import majority_labels

from . import theme
from .figures import HEX_TILE, base_layout, colorbar, hexagons, plane_axes, plane_range, unit_coordinates, value_range
from .geometry import MapStructure

# Pixels per unit step of a component plane's thumbnail, and the largest thumbnail side.
THUMBNAIL_PIXELS = 6
THUMBNAIL_MAX_SIDE = 180
# Plotly's "hexagon" symbol is pointy-top: its neighbours lie at 0, 60 and 120 degrees.
_HEX_NORMALS = np.array([[1.0, 0.0], [0.5, math.sqrt(3) / 2], [-0.5, math.sqrt(3) / 2]])


# ---------------------------------------------------------------------- rasterised planes


@lru_cache(maxsize=16)
def unit_cells(width: int, height: int, topology: str, pixels: float) -> np.ndarray:
    """Which unit each pixel of a map's picture shows, int32 (rows, columns); -1 outside.

    A pixel belongs to the unit whose tile (a unit square, or the hexagon one unit across
    its flats) holds its centre: the picture is the map as the figures draw it.
    """
    from .geometry import map_structure

    structure = map_structure(width, height, topology)
    (x0, x1), (y0, y1) = plane_range(structure)
    columns, rows = max(1, round((x1 - x0) * pixels)), max(1, round((y1 - y0) * pixels))
    px = x0 + (np.arange(columns) + 0.5) / pixels
    py = y1 - (np.arange(rows) + 0.5) / pixels  # image rows run top down
    if topology == "square":
        x, y = np.round(px).astype(int), np.round(py).astype(int)
        inside = (x[None, :] >= 0) & (x[None, :] < width) & (y[:, None] >= 0) & (y[:, None] < height)
        cells = x[None, :] * height + y[:, None]
        return np.where(inside, cells, -1).astype(np.int32)
    points = np.column_stack([np.repeat(px[None, :], rows, 0).ravel(), np.repeat(py[:, None], columns, 1).ravel()])
    _, nearest = cKDTree(structure.positions).query(points)
    offsets = np.abs((points - structure.positions[nearest]) @ _HEX_NORMALS.T)
    inside = (offsets <= 0.5 + 1e-9).all(axis=1)
    return np.where(inside, nearest, -1).astype(np.int32).reshape(rows, columns)


@lru_cache(maxsize=8)
def colour_table(colorscale: str, size: int = 256) -> np.ndarray:
    """A colour scale sampled at ``size`` steps, uint8 (size, 3)."""
    colours = sample_colorscale(colorscale, np.linspace(0.0, 1.0, size))
    return np.array([unlabel_rgb(colour) for colour in colours], dtype=np.float64).round().astype(np.uint8)


def plane_picture(cells: np.ndarray, values: np.ndarray, colorscale: str,
                  bounds: tuple[float, float] | None = None) -> np.ndarray:
    """RGBA uint8 picture of unit ``values`` on ``cells``: NaN (a unit never fitted on that
    feature) in the dead units' grey, outside the map transparent."""
    table = colour_table(colorscale)
    low, high = value_range(values) if bounds is None else bounds
    values = np.asarray(values, dtype=np.float64)
    steps = np.clip((values - low) / (high - low) * (len(table) - 1), 0, len(table) - 1)
    rgb = table[np.nan_to_num(steps).astype(np.int64)]
    rgb[~np.isfinite(values)] = _hex_rgb(theme.DEAD_UNIT)
    picture = np.zeros((*cells.shape, 4), dtype=np.uint8)
    inside = cells >= 0
    picture[inside, :3] = rgb[cells[inside]]
    picture[inside, 3] = 255
    return picture


def png_data_uri(picture: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG", optimize=False, compress_level=3)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return tuple(int(colour[i:i + 2], 16) for i in (0, 2, 4))


def _thumbnail_pixels(structure: MapStructure) -> float:
    (x0, x1), (y0, y1) = plane_range(structure)
    return min(THUMBNAIL_PIXELS, THUMBNAIL_MAX_SIDE / max(x1 - x0, y1 - y0))


def colour_gradient(colorscale: str) -> str:
    """The CSS gradient of a colour scale, for a thumbnail's colour bar."""
    stops = sample_colorscale(colorscale, np.linspace(0.0, 1.0, 7))
    return f"linear-gradient(to right, {', '.join(stops)})"


def _number(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.4g}"


def plane_cards(structure: MapStructure, planes: np.ndarray, names: list[str], order: np.ndarray,
                card_id, chosen: int | None = None) -> list:
    """One button per feature, in ``order``: its name, its plane's picture in the feature's
    own units (``planes``: (units, features)) and a colour bar from its lowest to its highest
    value. ``card_id(feature)`` is the button's id."""
    cells = unit_cells(structure.width, structure.height, structure.topology, _thumbnail_pixels(structure))
    gradient = colour_gradient(theme.PLANE_COLORSCALE)
    cards = []
    for feature in order:
        values = planes[:, feature]
        low, high = value_range(values)
        # The labels say the plane's own lowest and highest value: value_range widens an
        # even plane's range for the colours, and gives (0, 1) for a plane of no value.
        finite = values[np.isfinite(values)]
        shown = (finite.min(), finite.max()) if finite.size else (np.nan, np.nan)
        name = names[feature]
        cards.append(html.Button(
            id=card_id(int(feature)), n_clicks=0, title=f"{name}: show it large",
            className="plane-card" + (" plane-card-chosen" if feature == chosen else ""),
            **{"aria-pressed": "true" if feature == chosen else "false"},
            children=[
                html.Span(name, className="plane-name"),
                html.Img(src=png_data_uri(plane_picture(cells, values, theme.PLANE_COLORSCALE, (low, high))),
                         alt=f"component plane of {name}", className="plane-picture"),
                html.Span(className="plane-bar", style={"background": gradient}),
                html.Span([html.Span(_number(shown[0])), html.Span(_number(shown[1]))], className="plane-range"),
            ]))
    return cards


# ---------------------------------------------------------------------- map figures


def map_figure(structure: MapStructure, layers: list, title: str, revision, *, centres: go.Scatter,
               borders: np.ndarray | None = None, chosen: int | None = None) -> go.Figure:
    """``layers`` in the grid's plane, then cluster ``borders`` (as ``border_segments``
    gives them), a ring on the ``chosen`` unit and the unit ``centres`` on top."""
    x_range, y_range = plane_range(structure)
    layout = base_layout(title, revision, **plane_axes(x_range, y_range), dragmode="select", clickmode="event")
    return go.Figure([*layers, border_trace(borders), chosen_trace(structure, chosen), centres], layout)


def value_layer(structure: MapStructure, values: np.ndarray, colorscale, colorbar_title: str,
                bounds: tuple[float, float] | None = None):
    """Unit ``values`` coloured on a scale with its colour bar: a heatmap, or hexagons."""
    low, high = value_range(values) if bounds is None else bounds
    if structure.topology == "square":
        image = np.asarray(values, dtype=np.float32).reshape(structure.width, structure.height).T
        return go.Heatmap(z=image, colorscale=colorscale, zmin=low, zmax=high, colorbar=colorbar(colorbar_title),
                          hoverinfo="skip")
    layer = hexagons(structure, values, colorscale, colorbar_title, "", showscale=True, cmin=low, cmax=high)
    return layer.update(hoverinfo="skip", hovertemplate=None)


def unit_map_figure(structure: MapStructure, values: np.ndarray, title: str, *, colorscale, colorbar_title: str,
                    value_format: str = ".4g", revision="map", borders: np.ndarray | None = None,
                    chosen: int | None = None, bounds: tuple[float, float] | None = None,
                    text: list[str] | None = None) -> go.Figure:
    """Unit ``values`` on a colour scale, with what ``map_figure`` adds."""
    extra = "<br>%{text}" if text is not None else ""
    hover = (f"unit (%{{customdata[0]}}, %{{customdata[1]}})<br>{colorbar_title} "
             f"%{{customdata[2]:{value_format}}}{extra}<extra></extra>")
    return map_figure(structure, [value_layer(structure, values, colorscale, colorbar_title, bounds)], title,
                      revision, centres=unit_centres(structure, values, hover, text), borders=borders, chosen=chosen)


def unit_centres(structure: MapStructure, values, hovertemplate: str, text: list[str] | None = None) -> go.Scatter:
    """Invisible markers on the unit centres, in unit order: what hover, clicks and
    selections read (a point's number is its unit)."""
    positions = structure.positions
    customdata = np.column_stack([unit_coordinates(structure), np.asarray(values, dtype=np.float64)])
    return go.Scatter(x=positions[:, 0], y=positions[:, 1], mode="markers", customdata=customdata, text=text,
                      marker=dict(size=12, opacity=0, color="#000000"), hovertemplate=hovertemplate, showlegend=False,
                      selected=dict(marker=dict(opacity=0.35, color=theme.TEXT)),
                      unselected=dict(marker=dict(opacity=0)))


def border_segments(structure: MapStructure, clusters: np.ndarray) -> np.ndarray:
    """The tile edges between neighbouring units of different clusters, (k, 2) points with a
    row of NaN after each segment (a line trace's gaps)."""
    clusters = np.asarray(clusters)
    edges = structure.edges
    edges = edges[clusters[edges[:, 0]] != clusters[edges[:, 1]]]
    if len(edges) == 0:
        return np.empty((0, 2))
    a, b = structure.positions[edges[:, 0]], structure.positions[edges[:, 1]]
    middle, step = (a + b) / 2, b - a
    normal = np.column_stack([-step[:, 1], step[:, 0]]) / np.linalg.norm(step, axis=1, keepdims=True)
    half = 0.5 if structure.topology == "square" else 0.5 / math.sqrt(3)
    segments = np.full((len(edges), 3, 2), np.nan)
    segments[:, 0] = middle - half * normal
    segments[:, 1] = middle + half * normal
    return segments.reshape(-1, 2)


def border_trace(borders: np.ndarray | None) -> go.Scatter:
    borders = np.empty((0, 2)) if borders is None else borders
    # WebGL, as the hexagons are: WebGL traces are drawn above every SVG one.
    return go.Scattergl(x=borders[:, 0], y=borders[:, 1], mode="lines", hoverinfo="skip", connectgaps=False,
                        showlegend=False, line=dict(color=theme.CLUSTER_BORDER, width=2.5))


def chosen_trace(structure: MapStructure, chosen: int | None) -> go.Scatter:
    position = structure.positions[[chosen]] if chosen is not None else np.empty((0, 2))
    return go.Scattergl(x=position[:, 0], y=position[:, 1], mode="markers", hoverinfo="skip", showlegend=False,
                        marker=dict(symbol="circle-open", size=16, color=theme.CHOSEN_UNIT, line=dict(width=3)))


def cluster_colours(n_clusters: int) -> list[str]:
    return [theme.LABEL_COLORS[i % len(theme.LABEL_COLORS)] for i in range(n_clusters)]


def stepped_colorscale(colours: list[str]) -> list:
    count = len(colours)
    scale = []
    for i, colour in enumerate(colours):
        scale += [[i / count, colour], [(i + 1) / count, colour]]
    return scale


def cluster_map_figure(structure: MapStructure, clusters: np.ndarray, k: int, borders, chosen, revision) -> go.Figure:
    """Each unit in its cluster's colour (clusters numbered from 1), borders between them."""
    figure = unit_map_figure(structure, np.asarray(clusters, dtype=np.float64) + 1, f"Clusters: k = {k}",
                             colorscale=stepped_colorscale(cluster_colours(k)), colorbar_title="cluster",
                             value_format=".0f", revision=revision, borders=borders, chosen=chosen,
                             bounds=(0.5, k + 0.5))
    ticks = dict(tickvals=list(range(1, k + 1)), ticktext=[str(i) for i in range(1, k + 1)], tickformat="")
    layer = figure.data[0]
    (layer.colorbar if structure.topology == "square" else layer.marker.colorbar).update(ticks)
    return figure


def label_map_figure(structure: MapStructure, counts: np.ndarray, names: list[str], style: str, chosen,
                     revision) -> go.Figure:
    """Each unit's majority label with its purity (the majority's share) as strength
    (``style`` "purity"), or a pie of its labels (``style`` "pie"); units without a
    labelled sample grey. ``counts`` (units, classes): the samples of each class a unit wins.
    """
    counts = np.asarray(counts)
    totals = counts.sum(axis=1)
    majority, purity = majority_labels(counts)
    colours = cluster_colours(len(names))
    text = [_label_mix(row, names) for row in counts]
    if style == "pie":
        title = "Labels: the mix of each unit"
        layers = [unit_tiles(structure, [theme.PIE_BACKGROUND if total else theme.DEAD_UNIT for total in totals]),
                  *pie_traces(structure, counts, colours, names)]
    else:
        title = "Labels: majority per unit, pale where mixed"
        tile_colours = [_blend(colours[label], share) if label >= 0 else theme.DEAD_UNIT
                        for label, share in zip(majority, np.nan_to_num(purity))]
        layers = [unit_tiles(structure, tile_colours), *_legend_entries(names, colours)]
    hover = "unit (%{customdata[0]}, %{customdata[1]})<br>purity %{customdata[2]:.0%}<br>%{text}<extra></extra>"
    figure = map_figure(structure, layers, title, revision, chosen=chosen,
                        centres=unit_centres(structure, purity, hover, text))
    figure.update_layout(showlegend=True, legend=dict(orientation="h", x=0.0, y=0.0, yanchor="top", font=dict(size=10)))
    figure.layout.margin.b = 30
    return figure


def unit_tiles(structure: MapStructure, colours: list[str]):
    """Units in the given colours, tiling the plane: an image of squares, or hexagons."""
    if structure.topology == "square":
        rgb = np.array([_css_rgb(colour) for colour in colours], dtype=np.uint8)
        image = rgb.reshape(structure.width, structure.height, 3).transpose(1, 0, 2)
        return go.Image(z=image, x0=0, dx=1, y0=0, dy=1, hoverinfo="skip")
    positions = structure.positions
    return go.Scattergl(x=positions[:, 0], y=positions[:, 1], mode="markers", meta=HEX_TILE, hoverinfo="skip",
                        showlegend=False,
                        marker=dict(symbol="hexagon", size=10, color=list(colours), line=dict(width=0)))


def _legend_entries(names: list[str], colours: list[str]) -> list[go.Scatter]:
    return [go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                       marker=dict(symbol="square", size=10, color=colour)) for name, colour in zip(names, colours)]


def _label_mix(row: np.ndarray, names: list[str]) -> str:
    total = int(row.sum())
    if total == 0:
        return "no labelled sample"
    parts = [f"{names[i]} {int(row[i])}" for i in np.argsort(-row, kind="stable") if row[i] > 0]
    return ", ".join(parts[:4]) + (", ..." if len(parts) > 4 else "")


def _blend(colour: str, share: float) -> str:
    """``colour`` at strength ``share`` over white: a pure unit is its label's full colour."""
    strength = 0.15 + 0.85 * float(share)
    mix = [round(255 + (channel - 255) * strength) for channel in _hex_rgb(colour)]
    return f"rgb({mix[0]}, {mix[1]}, {mix[2]})"


def _css_rgb(colour: str) -> tuple[int, int, int]:
    if colour.startswith("#"):
        return _hex_rgb(colour)
    return tuple(int(round(float(part))) for part in unlabel_rgb(colour))


def pie_traces(structure: MapStructure, counts: np.ndarray, colours: list[str], names: list[str],
               radius: float = 0.45, steps: int = 24) -> list[go.Scattergl]:
    """One filled trace per class: its wedge of every unit's pie, drawn as polygons."""
    totals = counts.sum(axis=1)
    shares = np.divide(counts, totals[:, None], out=np.zeros(counts.shape), where=totals[:, None] > 0)
    ends = np.cumsum(shares, axis=1)
    starts = ends - shares
    traces = []
    for label, name in enumerate(names):
        xs, ys = [], []
        for unit in np.flatnonzero(shares[:, label] > 0):
            centre = structure.positions[unit]
            angles = 2 * np.pi * np.linspace(starts[unit, label], ends[unit, label],
                                             max(2, int(np.ceil(steps * shares[unit, label])) + 1))
            xs += [centre[0], *(centre[0] + radius * np.sin(angles)), centre[0], None]
            ys += [centre[1], *(centre[1] + radius * np.cos(angles)), centre[1], None]
        # WebGL, above the tiles (which are WebGL on a hex map).
        traces.append(go.Scattergl(x=xs, y=ys, mode="lines", fill="toself", fillcolor=colours[label], name=name,
                                   line=dict(width=0.5, color="#ffffff"), hoverinfo="skip", showlegend=True))
    return traces


def scores_figure(scores: dict, k: int, method_label: str, revision="scores") -> go.Figure:
    """Davies-Bouldin (lower is better) and silhouette (higher is better) against k, the
    chosen k marked: which k the map supports."""
    ks = scores["k"]
    traces = [
        go.Scatter(x=ks, y=scores["davies_bouldin"], mode="lines+markers", name="Davies-Bouldin (lower is better)",
                   line=dict(color=theme.MQE), hovertemplate="k = %{x}<br>Davies-Bouldin %{y:.3f}<extra></extra>"),
        go.Scatter(x=ks, y=scores["silhouette"], mode="lines+markers", name="silhouette (higher is better)",
                   yaxis="y2", line=dict(color=theme.LEARNING_RATE),
                   hovertemplate="k = %{x}<br>silhouette %{y:.3f}<extra></extra>"),
    ]
    layout = base_layout(f"Which k? {method_label}", revision, showlegend=True,
                         legend=dict(orientation="h", x=0.0, y=-0.25, font=dict(size=10)),
                         margin=dict(l=44, r=44, t=34, b=64),
                         xaxis=dict(title=dict(text="k"), dtick=1, gridcolor=theme.GRID_LINE),
                         yaxis=dict(title=dict(text="Davies-Bouldin"), gridcolor=theme.GRID_LINE, zeroline=False,
                                    tickformat=".2f"),
                         yaxis2=dict(title=dict(text="silhouette"), overlaying="y", side="right", showgrid=False,
                                     zeroline=False, tickformat=".2f"),
                         shapes=[dict(type="line", x0=k, x1=k, yref="paper", y0=0, y1=1,
                                      line=dict(color=theme.CURRENT_EPOCH, width=1, dash="dot"))])
    return go.Figure(traces, layout)


def prototype_images_figure(structure: MapStructure, prototypes: np.ndarray, pixels: tuple[int, np.ndarray],
                            revision) -> go.Figure:
    """Each unit's prototype drawn as the image its features are pixels of, at the unit's
    place on the map (hex rows shifted by half). ``pixels``: the image's side and each
    feature's pixel (row * side + column), as ``image_pixels`` reads them; a pixel that is
    no feature (constant in the data, so left out) stays blank."""
    side, where = pixels
    gap = 1
    tile = side + gap
    shift = tile // 2 if structure.topology == "hex" else 0
    canvas = np.full((structure.height * tile, structure.width * tile + shift), np.nan)
    images = np.full((structure.n_units, side * side), np.nan)
    images[:, where] = prototypes
    images = images.reshape(structure.n_units, side, side)
    for unit in range(structure.n_units):
        x, y = divmod(unit, structure.height)
        top = (structure.height - 1 - y) * tile
        left = x * tile + (shift if y % 2 else 0)
        canvas[top:top + side, left:left + side] = images[unit]
    low, high = value_range(prototypes)
    trace = go.Heatmap(z=canvas[::-1], colorscale="Greys", zmin=low, zmax=high, showscale=False, hoverinfo="skip")
    layout = base_layout(f"Prototypes as {side} x {side} images", revision,
                         xaxis=dict(visible=False, constrain="domain"),
                         yaxis=dict(visible=False, scaleanchor="x", constrain="domain"))
    return go.Figure([trace], layout)


_PIXEL = re.compile(r"pixel_(\d+)_(\d+)")


def image_pixels(names: list[str]) -> tuple[int, np.ndarray] | None:
    """When every feature is a pixel named ``pixel_<row>_<column>`` (as the digits' are),
    the square image's side and each feature's pixel; else None."""
    places = [_PIXEL.fullmatch(name) for name in names]
    if len(names) < 16 or not all(places):
        return None
    rows, columns = (np.array([int(place.group(i)) for place in places]) for i in (1, 2))
    side = int(max(rows.max(), columns.max())) + 1
    where = rows * side + columns
    return (side, where) if len(np.unique(where)) == len(names) else None


def new_data_figure(structure: MapStructure, hits: np.ndarray, flagged_hits: np.ndarray, chosen, revision) -> go.Figure:
    """Rows of the new data won per unit; a cross on each unit that holds a flagged row."""
    hits, flagged_hits = np.asarray(hits, dtype=np.float64), np.asarray(flagged_hits)
    flagged = structure.positions[flagged_hits > 0]
    crosses = go.Scattergl(x=flagged[:, 0], y=flagged[:, 1], mode="markers", hoverinfo="skip",
                         marker=dict(symbol="x", size=8, color=theme.DEAD_MARK))
    hover = "unit (%{customdata[0]}, %{customdata[1]})<br>%{customdata[2]:.0f} rows, %{text}<extra></extra>"
    layer = value_layer(structure, hits, theme.HITS_COLORSCALE, "rows", (0.0, max(1.0, float(hits.max()))))
    return map_figure(structure, [layer, crosses], "New data: rows per unit (crossed: holds a flagged row)",
                      revision, chosen=chosen,
                      centres=unit_centres(structure, hits, hover, [f"{int(n)} flagged" for n in flagged_hits]))


def profile_figure(names: list[str], prototype: np.ndarray, mean: np.ndarray, spread: np.ndarray,
                   revision="profile") -> go.Figure:
    """A unit's prototype against the data, feature by feature, in standard deviations
    from the data's mean (features in different units side by side); the hover gives
    both in the feature's own units."""
    safe = np.where(spread > 0, spread, 1.0)
    z = (prototype - mean) / safe
    colours = [theme.TE if value > 0 else theme.MQE for value in z]
    customdata = np.column_stack([prototype, mean])
    trace = go.Bar(x=z, y=names, orientation="h", marker=dict(color=colours), customdata=customdata,
                   hovertemplate="%{y}<br>unit %{customdata[0]:.4g}<br>data mean %{customdata[1]:.4g}"
                                 "<br>%{x:+.2f} sd<extra></extra>")
    height = max(160, 18 * len(names) + 60)
    layout = base_layout("Prototype against the data's mean (sd)", revision, height=height,
                         margin=dict(l=8, r=8, t=34, b=30),
                         xaxis=dict(gridcolor=theme.GRID_LINE, zeroline=True, zerolinecolor=theme.MUTED),
                         yaxis=dict(autorange="reversed", automargin=True, tickfont=dict(size=10)))
    return go.Figure([trace], layout)
