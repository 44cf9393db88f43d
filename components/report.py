"""The run's report: one self-contained HTML file (plotly.js inside it, no other script,
no link out) with the settings, the data, the quality table and every view of one epoch
as interactive figures, so that it opens offline and can be mailed as it is.

In the page, assets/zsom.js sizes the hexagons of a hex map to the drawn graph; a report
has no such script, so its figures are drawn at a fixed size with the hexagons sized here.
"""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from . import theme
from .client import HEX_TILING
from .figures import HEX_TILE, plane_range, value_range
from .geometry import MapStructure

FIGURE_WIDTH, FIGURE_HEIGHT = 760, 560
PLANES_PER_ROW = 4
PLANE_CELL_PX = 220

_STYLE = """
body { font-family: system-ui, sans-serif; color: #1f2937; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f8fafc; } .muted { color: #6b7280; font-size: 13px; }
.figure { margin: 12px 0; }
"""


def fixed_size(figure: go.Figure, width: int = FIGURE_WIDTH, height: int = FIGURE_HEIGHT,
               structure: MapStructure | None = None) -> go.Figure:
    """``figure`` at a fixed size, its hex tiles sized to tile at that size."""
    figure = go.Figure(figure)
    figure.update_layout(width=width, height=height, autosize=False)
    if structure is not None and any(trace.meta == HEX_TILE for trace in figure.data):
        margin = figure.layout.margin
        (x0, x1), (y0, y1) = plane_range(structure)
        plot_w = width - (margin.l or 0) - (margin.r or 0)
        plot_h = height - (margin.t or 0) - (margin.b or 0)
        scale = min(plot_w / (x1 - x0), plot_h / (y1 - y0))
        size = scale * HEX_TILING["size_per_unit"] + HEX_TILING["overlap_px"]
        for trace in figure.data:
            if trace.meta == HEX_TILE:
                trace.marker.size = size
    return figure


def planes_figure(structure: MapStructure, planes: np.ndarray, names: list[str], order) -> go.Figure:
    """Every component plane, in ``order``, as small maps with a colour range each."""
    order = [int(feature) for feature in order]
    rows = math.ceil(len(order) / PLANES_PER_ROW)
    figure = make_subplots(rows=rows, cols=PLANES_PER_ROW, subplot_titles=[names[f] for f in order],
                           horizontal_spacing=0.03, vertical_spacing=0.3 / max(rows, 1))
    (x0, x1), (y0, y1) = plane_range(structure)
    size = PLANE_CELL_PX * 0.8 / max(x1 - x0, y1 - y0) * HEX_TILING["size_per_unit"] + HEX_TILING["overlap_px"]
    for index, feature in enumerate(order):
        row, column = divmod(index, PLANES_PER_ROW)
        values = planes[:, feature]
        low, high = value_range(values)
        if structure.topology == "square":
            trace = go.Heatmap(z=values.reshape(structure.width, structure.height).T, colorscale=theme.PLANE_COLORSCALE,
                               zmin=low, zmax=high, showscale=False,
                               hovertemplate=f"{html.escape(names[feature])} %{{z:.4g}}<extra></extra>")
        else:
            positions = structure.positions
            trace = go.Scatter(x=positions[:, 0], y=positions[:, 1], mode="markers",
                               marker=dict(symbol="hexagon", size=size, color=values, colorscale=theme.PLANE_COLORSCALE,
                                           cmin=low, cmax=high, line=dict(width=0)),
                               hovertemplate=f"{html.escape(names[feature])} %{{marker.color:.4g}}<extra></extra>")
        figure.add_trace(trace, row=row + 1, col=column + 1)
    figure.update_xaxes(visible=False, range=[x0, x1])
    figure.update_yaxes(visible=False, range=[y0, y1])
    for index in range(len(order)):
        axis = "" if index == 0 else str(index + 1)
        figure.layout[f"yaxis{axis}"].update(scaleanchor=f"x{axis}", scaleratio=1)
    figure.update_layout(width=PLANES_PER_ROW * PLANE_CELL_PX, height=rows * PLANE_CELL_PX + 40, showlegend=False,
                         margin=dict(l=10, r=10, t=40, b=10), template="none",
                         title=dict(text="Component planes (correlated features side by side; colour: each "
                                         "feature's own range, blue low, red high)", font=dict(size=13)))
    for annotation in figure.layout.annotations:
        annotation.font.size = 11
    return figure


def table_html(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    head = "" if header is None else "<tr>" + "".join(f"<th>{html.escape(cell)}</th>" for cell in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def report_html(title: str, subtitle: str, sections: list[tuple[str, str]],
                figures: list[tuple[str, go.Figure]]) -> str:
    """The report: ``sections`` (heading, HTML built here from escaped text) and then
    ``figures`` (heading, figure), plotly.js inlined once, with the first figure."""
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p class='muted'>{html.escape(subtitle)}</p>"]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    for index, (heading, figure) in enumerate(figures):
        chart = pio.to_html(figure, full_html=False, include_plotlyjs=index == 0,
                            config={"displaylogo": False, "showSendToCloud": False})
        parts.append(f"<h2>{html.escape(heading)}</h2><div class='figure'>{chart}</div>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "".join(parts) + "</body></html>")
