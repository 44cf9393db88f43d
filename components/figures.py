"""Figure builders (arrays -> ``go.Figure``) and the per-epoch patch builder.

Every panel is built once per dataset or run (``run_skeletons``), with its traces at fixed
indices, and then patched: ``panel_updates`` turns one stored epoch into the patches of all
panels, for live streaming and for the timeline alike.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from dash import Patch

from . import theme
from .display import KIND_2D, KIND_AXES, KIND_PCA, to_display_space
from .encoding import index_array, typed_array
from .geometry import MapStructure, polyline_points, segments
from .ids import Ids

# Traces whose hexagon markers assets/zsom.js sizes to tile the plane exactly (a marker's
# size is in pixels, so only the browser knows the size that tiles at the panel's scale).
HEX_TILE = "hex-tile"
# The curves measured per epoch (not the planned schedule): an export of an earlier epoch
# draws them only up to it.
MEASURED = "measured"
# Room on the right of a map for its colour bar and tick labels, in pixels.
COLORBAR_MARGIN = 70

# Trace order of the data panel, fixed so that patches can address them.
MESH, CLOUD, MAP_SURFACE, MAP_WIREFRAME = range(4)           # 3-D data
CLOUD_2D, BMU_LINES, MAP_WIREFRAME_2D, MAP_UNITS_2D = range(4)  # 2-D data
# Hit map: counts, then the dead units' grey tiles and their crosses.
HITS, DEAD_TILES, DEAD_CROSSES = range(3)
# Curves: measured MQE and TE, planned sigma and learning rate, measured learning rate
# (differs from the plan only with the adaptive rule), and the chosen epoch's marker.
CURVE_MQE, CURVE_TE, CURVE_SIGMA, CURVE_LR, CURVE_LR_ACTUAL, CURVE_MARKER = range(6)

PANEL_TITLES = {
    Ids.DATA_VIEW: "Data and map",
    Ids.U_MATRIX: "U-Matrix",
    Ids.U_SURFACE: "U-Matrix surface",
    Ids.HITS: "Hits",
    Ids.CURVES: "Training curves",
}


# ---------------------------------------------------------------------- shared layout


def base_layout(title: str, revision, **extra) -> dict:
    layout = dict(
        template="none",
        title=dict(text=title, x=0.02, xanchor="left", y=0.98, yanchor="top",
                   font=dict(size=theme.TITLE_SIZE, color=theme.TEXT)),
        font=dict(family=theme.FONT, size=theme.BASE_SIZE, color=theme.TEXT),
        margin=dict(l=8, r=8, t=34, b=8),
        paper_bgcolor=theme.PAPER,
        plot_bgcolor=theme.PLOT_BG,
        uirevision=str(revision),
        showlegend=False,
        hoverlabel=dict(font=dict(family=theme.FONT, size=theme.BASE_SIZE)),
    )
    layout.update(extra)
    return layout


def empty_figure(title: str, message: str = "") -> go.Figure:
    """A panel with nothing to show yet: its title and a short hint in the middle."""
    figure = go.Figure(layout=base_layout(title, "empty"))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    if message:
        figure.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                              font=dict(color=theme.MUTED, size=12))
    return figure


def plane_axes(x_range, y_range) -> dict:
    """Equal-aspect axes without ticks for maps drawn in the grid's plane.

    The margins are fixed, with room for the colour bar: were they to follow its tick
    labels, the map's scale would change with every epoch's range, and the hexagons
    would need resizing (a second redraw) each time.
    """
    common = dict(visible=False, showgrid=False, zeroline=False, fixedrange=False, type="linear")
    return dict(
        xaxis=dict(range=list(x_range), constrain="domain", **common),
        yaxis=dict(range=list(y_range), scaleanchor="x", scaleratio=1, constrain="domain", **common),
        margin=dict(l=8, r=COLORBAR_MARGIN, t=34, b=8, autoexpand=False),
    )


def colorbar(title: str) -> dict:
    return dict(title=dict(text=title, side="right"), thickness=10, len=0.85, outlinewidth=0,
                tickfont=dict(size=10), x=1.0, xanchor="left", xpad=8, tickformat=".4~g")


def _point_marker(labels: np.ndarray | None, size: float, names: list[str] | None = None) -> dict:
    """Markers coloured by class label when there are a few classes, else one colour; with
    ``names`` (``labels`` are codes into them, -1 for missing), a colour bar names each class.

    Labels go as numbers with a stepped colour scale: plotly parses one typed array
    faster than thousands of colour strings, which matters when a 3-D scene redraws.
    """
    marker = dict(size=size, opacity=0.55, color=theme.POINTS)
    if labels is None or len(labels) == 0:
        return marker
    if names is not None:
        missing = int((labels < 0).any())
        legend = ["missing"] * missing + list(names)
        colors = [theme.MISSING_LABEL] * missing + theme.LABEL_COLORS
        codes, count = labels + missing, len(legend)
    else:
        distinct = np.unique(labels)
        legend, colors = None, theme.LABEL_COLORS
        codes, count = np.searchsorted(distinct, labels), len(distinct)
    if count > len(theme.LABEL_COLORS) or (legend is None and count < 2):
        return marker
    scale = []
    for i in range(count):
        scale += [[i / count, colors[i]], [(i + 1) / count, colors[i]]]
    marker = {**marker, "color": codes.astype(np.uint8), "colorscale": scale, "cmin": -0.5, "cmax": count - 0.5,
              "showscale": legend is not None}
    if legend is not None:
        marker["colorbar"] = dict(tickvals=list(range(count)), ticktext=[_shortened(name) for name in legend],
                                  thickness=10, len=0.6, x=0.0, xanchor="left", outlinewidth=0,
                                  tickfont=dict(size=10), title=dict(text=""))
    return marker


def _shortened(name: str, chars: int = 24) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "\u2026"


# ---------------------------------------------------------------------- data panel


def data_view_title(name: str, display: dict) -> str:
    n, d = display["n"], display["dim"]
    if display["kind"] == KIND_PCA:
        return f"Data and map: {name}, {n:,} points; PCA projection of {d}-D data to 3-D"
    if display["kind"] == KIND_AXES:
        return f"Data and map: {name}, {n:,} points; three of {d} features, in their units"
    return f"Data and map: {name}, {n:,} points ({d}-D)"


def data_view_figure(display: dict, title: str, revision, structure: MapStructure | None = None) -> go.Figure:
    """The data cloud (sent once per dataset) with empty map traces for the runs to fill;
    with ``structure``, the map surface holds that grid's triangles (as ``data_view_reset``
    gives it)."""
    points = display["points"]
    if display["kind"] == KIND_2D:
        traces = [
            go.Scattergl(x=points[:, 0], y=points[:, 1], mode="markers", name="data",
                         marker=_point_marker(display["labels"], 3, display.get("label_names")), hoverinfo="skip"),
            go.Scattergl(x=[], y=[], mode="lines", name="to best-matching unit",
                         line=dict(color=theme.BMU_LINE, width=1), hoverinfo="skip"),
            go.Scattergl(x=[], y=[], mode="lines", name="map", line=dict(color=theme.WIREFRAME, width=0.8),
                         hoverinfo="skip"),
            go.Scattergl(x=[], y=[], mode="markers", name="units",
                         marker=dict(size=4, color=[], colorscale=theme.U_COLORSCALE, line=dict(width=0)),
                         hovertemplate="U %{marker.color:.3f}<extra></extra>"),
        ]
        low, high = points.min(axis=0), points.max(axis=0)
        pad = 0.05 * float(np.max(high - low) or 1.0)
        layout = base_layout(title, revision, **_data_axes(low - pad, high + pad))
        return go.Figure(traces, layout)

    mesh = display["mesh"]
    if mesh is not None:
        vertices, faces = mesh["vertices"], mesh["faces"]
        mesh_trace = go.Mesh3d(x=vertices[:, 0], y=vertices[:, 1], z=vertices[:, 2],
                               i=faces[:, 0], j=faces[:, 1], k=faces[:, 2], color=theme.MESH, opacity=0.22,
                               name="mesh", hoverinfo="skip", flatshading=True,
                               lighting=dict(ambient=0.7, diffuse=0.5, specular=0.05))
    else:
        mesh_trace = go.Mesh3d(x=[], y=[], z=[], i=[], j=[], k=[], name="mesh", hoverinfo="skip", visible=False)
    traces = [
        mesh_trace,
        go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], mode="markers", name="data",
                     marker=_point_marker(display["labels"], 1.6, display.get("label_names")), hoverinfo="skip"),
        go.Mesh3d(x=[], y=[], z=[], intensity=[], name="map", colorscale=theme.U_COLORSCALE,
                  **{name: [] if structure is None else index_array(structure.triangles[:, column])
                     for name, column in zip("ijk", range(3))},
                  showscale=False, opacity=0.72, hovertemplate="U %{intensity:.3f}<extra>map</extra>",
                  lighting=dict(ambient=0.75, diffuse=0.4, specular=0.05)),
        go.Scatter3d(x=[], y=[], z=[], mode="lines", name="map edges",
                     line=dict(color=theme.WIREFRAME, width=2), hoverinfo="skip"),
    ]
    axis = dict(showbackground=False, showgrid=True, gridcolor=theme.GRID_LINE, zeroline=False,
                showticklabels=False, title=dict(text=""), showspikes=False, type="linear")
    axis_names = display.get("axis_names") or ("x", "y", "z")
    # Features in their own units (mm against g) get one cube; other views keep their shape.
    scene = dict(aspectmode="cube" if display["kind"] == KIND_AXES else "data",
                 camera=dict(eye=dict(x=1.05, y=1.05, z=0.65)),
                 **{f"{name}axis": {**axis, "title": dict(text=label)} for name, label in zip("xyz", axis_names)})
    return go.Figure(traces, base_layout(title, revision, scene=scene, margin=dict(l=0, r=0, t=34, b=0)))


def _data_axes(low, high) -> dict:
    common = dict(showgrid=True, gridcolor=theme.GRID_LINE, zeroline=False, ticks="", tickfont=dict(size=9),
                  type="linear")
    return dict(
        xaxis=dict(range=[float(low[0]), float(high[0])], constrain="domain", **common),
        yaxis=dict(range=[float(low[1]), float(high[1])], scaleanchor="x", scaleratio=1, constrain="domain", **common),
        margin=dict(l=30, r=8, t=34, b=24),
    )


def data_view_patch(display: dict, structure: MapStructure, weights: np.ndarray, u_matrix: np.ndarray,
                    bmus: np.ndarray | None) -> Patch:
    """The data panel's map traces at one epoch; the cloud is left as it is.

    ``weights`` are in input space (m, d); the grid's triangles came with the run's reset.
    """
    shown = to_display_space(display, weights)
    patch = Patch()
    line = polyline_points(shown, structure.polyline)
    if display["kind"] == KIND_2D:
        patch["data"][MAP_WIREFRAME_2D]["x"] = typed_array(line[:, 0])
        patch["data"][MAP_WIREFRAME_2D]["y"] = typed_array(line[:, 1])
        patch["data"][MAP_UNITS_2D]["x"] = typed_array(shown[:, 0])
        patch["data"][MAP_UNITS_2D]["y"] = typed_array(shown[:, 1])
        patch["data"][MAP_UNITS_2D]["marker"]["color"] = typed_array(u_matrix)
        marker = patch["data"][MAP_UNITS_2D]["marker"]
        marker["cmin"], marker["cmax"] = value_range(u_matrix)
        if bmus is not None:
            lines = segments(display["points"][: len(bmus)], shown[bmus])
            patch["data"][BMU_LINES]["x"] = typed_array(lines[:, 0])
            patch["data"][BMU_LINES]["y"] = typed_array(lines[:, 1])
        return patch
    for axis, column in zip("xyz", range(3)):
        patch["data"][MAP_SURFACE][axis] = typed_array(shown[:, column])
        patch["data"][MAP_WIREFRAME][axis] = typed_array(line[:, column])
    patch["data"][MAP_SURFACE]["intensity"] = typed_array(u_matrix)
    patch["data"][MAP_SURFACE]["cmin"], patch["data"][MAP_SURFACE]["cmax"] = value_range(u_matrix)
    return patch


# ---------------------------------------------------------------------- maps in the grid's plane


def plane_range(structure: MapStructure) -> tuple[tuple[float, float], tuple[float, float]]:
    positions = structure.positions
    low, high = positions.min(axis=0), positions.max(axis=0)
    pad_x = 0.5 if structure.topology == "square" else 0.55
    pad_y = 0.5 if structure.topology == "square" else 0.6
    return (low[0] - pad_x, high[0] + pad_x), (low[1] - pad_y, high[1] + pad_y)


def unit_coordinates(structure: MapStructure) -> np.ndarray:
    unit = np.arange(structure.n_units)
    return np.column_stack([unit // structure.height, unit % structure.height]).astype(np.int32)


def _as_image(structure: MapStructure, values: np.ndarray) -> np.ndarray:
    """Unit values (m,) as a heatmap's z: rows are y, columns are x."""
    return np.asarray(values, dtype=np.float32).reshape(structure.width, structure.height).T


def value_range(values) -> tuple[float, float]:
    """A colour range (low < high) over the finite values; (0, 1) when there are none."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        high = low + (abs(low) * 1e-3 or 1.0)
    return low, high


def hexagons(structure: MapStructure, values, colorscale, colorbar_title: str, hovertemplate: str,
              showscale: bool, **marker) -> go.Scattergl:
    """One WebGL marker per unit, sized by assets/zsom.js to tile: redrawing 2,500 of them
    costs a few milliseconds, where SVG markers cost a hundred."""
    positions = structure.positions
    low, high = value_range(values)
    marker = {"cmin": low, "cmax": high, **marker}
    return go.Scattergl(
        x=positions[:, 0], y=positions[:, 1], mode="markers", meta=HEX_TILE,
        customdata=unit_coordinates(structure),
        marker=dict(symbol="hexagon", size=10, color=np.asarray(values, dtype=np.float32), colorscale=colorscale,
                    showscale=showscale, colorbar=colorbar(colorbar_title), line=dict(width=0), **marker),
        hovertemplate=hovertemplate,
    )


def _colours(patch_trace, values, colorscale, *, marker: bool, bounds: tuple[float, float] | None = None) -> None:
    """Patch one trace's colour range and scale (a blank skeleton has neither)."""
    low, high = value_range(values) if bounds is None else bounds
    target = patch_trace["marker"] if marker else patch_trace
    if marker:
        target["cmin"], target["cmax"] = low, high
    else:
        target["zmin"], target["zmax"] = low, high
    target["colorscale"] = colorscale
    target["showscale"] = True


def u_matrix_figure(structure: MapStructure, u_matrix: np.ndarray | None, revision) -> go.Figure:
    """The U-Matrix in the grid's own geometry: a heatmap (square) or tiling hexagons (hex).

    ``None`` draws the map blank: a run's skeleton, coloured by its first epoch's patch.
    """
    title = f"U-Matrix ({structure.width}x{structure.height} {structure.topology})"
    blank = u_matrix is None
    values = np.zeros(structure.n_units, dtype=np.float32) if blank else u_matrix
    colorscale = theme.BLANK_COLORSCALE if blank else theme.U_COLORSCALE
    hover = "unit (%{customdata[0]}, %{customdata[1]})<br>U %{marker.color:.3f}<extra></extra>"
    if structure.topology == "square":
        low, high = value_range(values)
        trace = go.Heatmap(z=_as_image(structure, values), colorscale=colorscale, zmin=low, zmax=high,
                           showscale=not blank, colorbar=colorbar("U"),
                           hovertemplate="unit (%{x}, %{y})<br>U %{z:.3f}<extra></extra>")
    else:
        trace = hexagons(structure, values, colorscale, "U", hover, showscale=not blank)
    x_range, y_range = plane_range(structure)
    return go.Figure([trace], base_layout(title, revision, **plane_axes(x_range, y_range)))


def u_matrix_patch(structure: MapStructure, u_matrix: np.ndarray) -> Patch:
    patch = Patch()
    if structure.topology == "square":
        patch["data"][0]["z"] = typed_array(_as_image(structure, u_matrix))
        _colours(patch["data"][0], u_matrix, theme.U_COLORSCALE, marker=False)
    else:
        patch["data"][0]["marker"]["color"] = typed_array(u_matrix)
        _colours(patch["data"][0], u_matrix, theme.U_COLORSCALE, marker=True)
    return patch


def hits_title(hits: np.ndarray) -> str:
    dead = int((np.asarray(hits) == 0).sum())
    return f"Hits: {dead} dead unit{'s' if dead != 1 else ''} (grey, crossed)"


def hits_figure(structure: MapStructure, hits: np.ndarray | None, revision) -> go.Figure:
    """Samples won per unit, in the U-Matrix's geometry; dead units grey with a cross.

    ``None`` draws the map blank, as ``u_matrix_figure`` does.
    """
    blank = hits is None
    hits = np.ones(structure.n_units, dtype=np.int32) if blank else np.asarray(hits)
    colorscale = theme.BLANK_COLORSCALE if blank else theme.HITS_COLORSCALE
    top = max(1, int(hits.max()))
    hover = "unit (%{customdata[0]}, %{customdata[1]})<br>%{marker.color:.0f} hits<extra></extra>"
    if structure.topology == "square":
        counts = go.Heatmap(z=_hit_image(structure, hits), colorscale=colorscale, zmin=0, zmax=top,
                            showscale=not blank, colorbar=colorbar("hits"),
                            hovertemplate="unit (%{x}, %{y})<br>%{z:.0f} hits<extra></extra>")
        tiles = go.Scattergl(x=[], y=[], mode="markers", hoverinfo="skip")
    else:
        counts = hexagons(structure, hits, colorscale, "hits", hover, showscale=not blank, cmin=0, cmax=top)
        tiles = go.Scattergl(x=[], y=[], mode="markers", meta=HEX_TILE, hoverinfo="skip",
                             marker=dict(symbol="hexagon", size=10, color=theme.DEAD_UNIT, line=dict(width=0)))
    crosses = go.Scattergl(x=[], y=[], mode="markers", hovertemplate="dead unit<extra></extra>",
                           marker=dict(symbol="x", size=7, color=theme.DEAD_MARK, line=dict(width=0)))
    x_range, y_range = plane_range(structure)
    layout = base_layout("Hits" if blank else hits_title(hits), revision, **plane_axes(x_range, y_range))
    if structure.topology == "square":
        layout["plot_bgcolor"] = theme.DEAD_UNIT  # empty (NaN) heatmap cells show the background
    figure = go.Figure([counts, tiles, crosses], layout)
    _fill_dead(figure, structure, hits)
    return figure


def _hit_image(structure: MapStructure, hits: np.ndarray) -> np.ndarray:
    image = _as_image(structure, hits)
    image[image == 0] = np.nan
    return image


def _dead_positions(structure: MapStructure, hits: np.ndarray) -> np.ndarray:
    return structure.positions[np.asarray(hits).reshape(-1) == 0].astype(np.float32)


def _fill_dead(figure: go.Figure, structure: MapStructure, hits: np.ndarray) -> None:
    dead = _dead_positions(structure, hits)
    if structure.topology == "hex":
        figure.data[DEAD_TILES].update(x=dead[:, 0], y=dead[:, 1])
    figure.data[DEAD_CROSSES].update(x=dead[:, 0], y=dead[:, 1])


def hits_patch(structure: MapStructure, hits: np.ndarray) -> Patch:
    patch = Patch()
    hits = np.asarray(hits)
    top = float(max(1, int(hits.max())))
    if structure.topology == "square":
        patch["data"][HITS]["z"] = typed_array(_hit_image(structure, hits))
        _colours(patch["data"][HITS], hits, theme.HITS_COLORSCALE, marker=False, bounds=(0.0, top))
    else:
        patch["data"][HITS]["marker"]["color"] = typed_array(hits, np.int32)
        _colours(patch["data"][HITS], hits, theme.HITS_COLORSCALE, marker=True, bounds=(0.0, top))
    dead = _dead_positions(structure, hits)
    traces = (DEAD_TILES, DEAD_CROSSES) if structure.topology == "hex" else (DEAD_CROSSES,)
    for trace in traces:
        patch["data"][trace]["x"] = typed_array(dead[:, 0])
        patch["data"][trace]["y"] = typed_array(dead[:, 1])
    patch["layout"]["title"]["text"] = hits_title(hits)
    return patch


def u_surface_figure(structure: MapStructure, u_matrix: np.ndarray | None, revision) -> go.Figure:
    """The U-Matrix as a landscape: height and colour are the U value at each unit.

    ``None`` draws a flat, blank landscape (a run's skeleton).
    """
    blank = u_matrix is None
    values = np.zeros(structure.n_units, dtype=np.float32) if blank else np.asarray(u_matrix, dtype=np.float32)
    colorscale = theme.BLANK_COLORSCALE if blank else theme.U_COLORSCALE
    low, high = value_range(values)
    if structure.topology == "square":
        trace = go.Surface(x=np.arange(structure.width), y=np.arange(structure.height),
                           z=_as_image(structure, values), colorscale=colorscale, showscale=False,
                           cmin=low, cmax=high, hovertemplate="unit (%{x}, %{y})<br>U %{z:.3f}<extra></extra>")
    else:
        positions, triangles = structure.positions, structure.triangles
        trace = go.Mesh3d(x=positions[:, 0], y=positions[:, 1], z=values, intensity=values, cmin=low, cmax=high,
                          i=triangles[:, 0], j=triangles[:, 1], k=triangles[:, 2], colorscale=colorscale,
                          showscale=False, hovertemplate="U %{intensity:.3f}<extra></extra>",
                          lighting=dict(ambient=0.65, diffuse=0.6, specular=0.1))
    extent = structure.positions.max(axis=0) - structure.positions.min(axis=0)
    ratio = float(extent[1] / extent[0]) if extent[0] else 1.0
    # Grid coordinates need no tick labels; 3-D tick labels are costly to redraw each epoch.
    axis = dict(showbackground=False, gridcolor=theme.GRID_LINE, zeroline=False, tickfont=dict(size=9),
                type="linear", showspikes=False)
    scene = dict(
        aspectmode="manual", aspectratio=dict(x=1.0, y=ratio, z=0.45),
        xaxis={**axis, "title": dict(text="x"), "showticklabels": False},
        yaxis={**axis, "title": dict(text="y"), "showticklabels": False},
        zaxis={**axis, "title": dict(text="U"), "nticks": 4},
        camera=dict(eye=dict(x=1.25, y=-1.45, z=1.1)),
    )
    return go.Figure([trace], base_layout("U-Matrix surface", revision, scene=scene, margin=dict(l=0, r=0, t=34, b=0)))


def u_surface_patch(structure: MapStructure, u_matrix: np.ndarray) -> Patch:
    patch = Patch()
    if structure.topology == "square":
        patch["data"][0]["z"] = typed_array(_as_image(structure, u_matrix))
    else:
        patch["data"][0]["z"] = typed_array(u_matrix)
        patch["data"][0]["intensity"] = typed_array(u_matrix)
    patch["data"][0]["cmin"], patch["data"][0]["cmax"] = value_range(u_matrix)
    patch["data"][0]["colorscale"] = theme.U_COLORSCALE
    return patch


# ---------------------------------------------------------------------- curves


def curves_figure(epochs: int, planned_sigma, planned_lr, revision) -> go.Figure:
    """MQE and topographic error above; the planned sigma and learning rate below.

    The measured curves fill in as the run streams; a vertical line marks the chosen epoch.
    """
    x = np.arange(1, epochs + 1, dtype=np.int32)
    top_sigma = max(planned_sigma, default=1.0) * 1.08
    top_rate = max(planned_lr, default=1.0) * 1.08
    traces = [
        go.Scatter(x=[], y=[], mode="lines", name="MQE", line=dict(color=theme.MQE, width=2), yaxis="y", meta=MEASURED,
                   hovertemplate="epoch %{x}<br>MQE %{y:.4g}<extra></extra>"),
        go.Scatter(x=[], y=[], mode="lines", name="topographic error", line=dict(color=theme.TE, width=1.5),
                   yaxis="y2", meta=MEASURED, hovertemplate="epoch %{x}<br>TE %{y:.3f}<extra></extra>"),
        go.Scatter(x=x, y=np.asarray(planned_sigma, dtype=np.float32), mode="lines", name="sigma (plan)",
                   line=dict(color=theme.SIGMA, width=1.5, dash="dash"), yaxis="y3",
                   hovertemplate="epoch %{x}<br>sigma %{y:.3g}<extra></extra>"),
        go.Scatter(x=x, y=np.asarray(planned_lr, dtype=np.float32), mode="lines", name="learning rate (plan)",
                   line=dict(color=theme.LEARNING_RATE, width=1.5, dash="dash"), yaxis="y4",
                   hovertemplate="epoch %{x}<br>lr %{y:.3g}<extra></extra>"),
        go.Scatter(x=[], y=[], mode="lines", name="learning rate (adaptive)",
                   line=dict(color=theme.LEARNING_RATE, width=2), yaxis="y4", meta=MEASURED,
                   hovertemplate="epoch %{x}<br>lr %{y:.3g}<extra></extra>"),
        go.Scatter(x=[], y=[], mode="markers", name="chosen epoch", yaxis="y", hoverinfo="skip",
                   marker=dict(size=8, color=theme.MQE, line=dict(width=1.5, color="white"))),
    ]
    tick = dict(tickfont=dict(size=9), gridcolor=theme.GRID_LINE, zeroline=False, type="linear")
    layout = base_layout(
        "Training curves (dashed: planned schedule)", revision,
        margin=dict(l=46, r=46, t=34, b=36),
        xaxis=dict(range=[0.5, epochs + 0.5], anchor="y3", title=dict(text="epoch", standoff=2), **tick),
        yaxis=dict(domain=[0.42, 1.0], title=dict(text="MQE", font=dict(color=theme.MQE)), rangemode="tozero",
                   nticks=6, tickformat=".2~g", **tick),
        yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False, nticks=4, type="linear",
                    tickformat=".2~f", title=dict(text="TE", font=dict(color=theme.TE)), tickfont=dict(size=9)),
        yaxis3=dict(domain=[0.0, 0.32], title=dict(text="sigma", font=dict(color=theme.SIGMA)), range=[0, top_sigma],
                    tickvals=_three_ticks(top_sigma / 1.08), tickformat=".3~g", **tick),
        yaxis4=dict(overlaying="y3", side="right", range=[0, top_rate], showgrid=False, type="linear",
                    tickvals=_three_ticks(top_rate / 1.08), tickformat=".3~g",
                    title=dict(text="lr", font=dict(color=theme.LEARNING_RATE)), tickfont=dict(size=9)),
        shapes=[dict(type="line", xref="x", yref="paper", x0=1, x1=1, y0=0, y1=1, visible=False,
                     line=dict(color=theme.CURRENT_EPOCH, width=1, dash="dot"))],
    )
    return go.Figure(traces, layout)


def _three_ticks(top: float) -> list[float]:
    """0, the middle and the top of a schedule's axis: enough to read a decay."""
    return [0.0, float(f"{top / 2:.2g}"), float(f"{top:.2g}")]


def curves_cleared() -> Patch:
    """The measured curves and the epoch marker removed; the planned schedule stays."""
    patch = Patch()
    for trace in (CURVE_MQE, CURVE_TE, CURVE_LR_ACTUAL, CURVE_MARKER):
        patch["data"][trace]["x"] = []
        patch["data"][trace]["y"] = []
    patch["layout"]["shapes"][0]["visible"] = False
    return patch


def curves_patch(history: dict, epoch: int, adaptive: bool) -> Patch:
    """The measured curves up to the newest epoch, and the chosen ``epoch`` marked."""
    patch = Patch()
    count = len(history["mqe"])
    x = typed_array(np.arange(1, count + 1), np.int16 if count < 2**15 else np.int32)
    mqe = np.asarray(history["mqe"], dtype=np.float32)
    patch["data"][CURVE_MQE]["x"] = x
    patch["data"][CURVE_MQE]["y"] = typed_array(mqe)
    patch["data"][CURVE_TE]["x"] = x
    patch["data"][CURVE_TE]["y"] = typed_array(history["te"])
    if adaptive:
        patch["data"][CURVE_LR_ACTUAL]["x"] = x
        patch["data"][CURVE_LR_ACTUAL]["y"] = typed_array(history["lr"])
    chosen = min(max(int(epoch), 1), count)
    patch["data"][CURVE_MARKER]["x"] = [chosen]
    patch["data"][CURVE_MARKER]["y"] = [float(mqe[chosen - 1])]
    patch["layout"]["shapes"][0]["x0"] = chosen
    patch["layout"]["shapes"][0]["x1"] = chosen
    patch["layout"]["shapes"][0]["visible"] = True
    return patch


# ---------------------------------------------------------------------- a run, all panels


def map_skeletons(structure: MapStructure) -> dict:
    """The map panels blank for a grid: whole figures, coloured by the first epoch's patch."""
    revision = f"{structure.width}x{structure.height}-{structure.topology}"
    return {
        Ids.U_MATRIX: u_matrix_figure(structure, None, revision),
        Ids.U_SURFACE: u_surface_figure(structure, None, revision),
        Ids.HITS: hits_figure(structure, None, revision),
    }


def default_panels(structure: MapStructure, epochs: int, schedule: tuple[list, list]) -> dict:
    """What a new page shows before any run: blank maps of the default grid and the plan.

    The WebGL panels are created here, at page load, instead of on the first Train click.
    """
    revision = f"{structure.width}x{structure.height}-{structure.topology}"
    return {**map_skeletons(structure), Ids.CURVES: curves_figure(epochs, *schedule, revision)}


def run_skeletons(display: dict | None, structure: MapStructure, epochs: int, schedule: tuple[list, list], *,
                  map_panels: bool, data_view: bool) -> dict:
    """The panels' updates for a new run, before its first epoch: keys are panel ids.

    Sent when the run is requested, so that the browser builds them while the training
    process starts, and every epoch after that is a small patch. The curves always start
    anew; the map panels only when the grid changed (``map_panels``), since replacing a
    figure costs far more than patching it, and otherwise keep the last map until the new
    one arrives; ``data_view`` gives the data panel the grid's triangles.
    """
    revision = f"{structure.width}x{structure.height}-{structure.topology}"
    sigmas, rates = schedule
    updates = {Ids.CURVES: curves_figure(epochs, sigmas, rates, revision)}
    if map_panels:
        updates.update(map_skeletons(structure))
    if data_view and display is not None:
        updates[Ids.DATA_VIEW] = data_view_reset(display, structure)
    return updates


def data_view_reset(display: dict, structure: MapStructure) -> Patch:
    """The data panel's map traces emptied, with the new grid's surface triangles."""
    patch = Patch()
    if display["kind"] == KIND_2D:
        for trace in (BMU_LINES, MAP_WIREFRAME_2D, MAP_UNITS_2D):
            patch["data"][trace]["x"] = []
            patch["data"][trace]["y"] = []
        return patch
    for trace in (MAP_SURFACE, MAP_WIREFRAME):
        for axis in "xyz":
            patch["data"][trace][axis] = []
    patch["data"][MAP_SURFACE]["intensity"] = []
    for name, column in zip("ijk", range(3)):
        patch["data"][MAP_SURFACE][name] = index_array(structure.triangles[:, column])
    return patch


def panel_updates(display: dict, structure: MapStructure, record: dict, history: dict, *,
                  adaptive: bool = False, run: str = "") -> dict:
    """Every panel's patch for one stored epoch of ``run``; keys are panel ids.

    ``record`` is one epoch as the training job stores it and ``history`` the run's metric
    arrays up to its newest epoch. The panels must hold this run's skeletons. Each patch
    tags its figure with the run and epoch it draws (``drawn_tag``): the browser draws each
    graph on its own, and the composed export checks that all of them show one epoch.
    """
    u_matrix, hits = record["u_matrix"], record["hits"]
    updates = {
        Ids.DATA_VIEW: data_view_patch(display, structure, record["weights"], u_matrix, record.get("bmus")),
        Ids.U_MATRIX: u_matrix_patch(structure, u_matrix),
        Ids.U_SURFACE: u_surface_patch(structure, u_matrix),
        Ids.HITS: hits_patch(structure, hits),
        Ids.CURVES: curves_patch(history, record["epoch"], adaptive),
    }
    for patch in updates.values():
        patch["layout"]["meta"] = drawn_tag(run, record["epoch"])
    return updates


def drawn_tag(run: str, epoch: int) -> dict:
    """What a patched figure says it draws, in its ``layout.meta`` (Plotly keeps it as it is)."""
    return {"run": run, "epoch": int(epoch)}
