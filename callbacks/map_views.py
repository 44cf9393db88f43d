"""The views that read a trained map: clusters, component planes, labels, new data, the
unit inspector, the selection and the exports.

Each tab has one callback, which computes its views only while the tab is shown, for the
run and epoch the page shows (``Ids.VIEW_KEY``, which the browser derives from the view
state when either changes): scrubbing the timeline, or a run streaming, updates the shown
tab and nothing else. What a tab computes is kept per (run, epoch) in the web process
(``trained_map``), so a change of k or of a unit does not search the data again.
"""

from __future__ import annotations

import math

import numpy as np
from dash import ALL, ClientsideFunction, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from components import theme
from components.display import KIND_2D, displayed_rows
from components.figures import CLOUD, CLOUD_2D, empty_figure
from components.geometry import MapStructure, map_structure
from components.ids import PLANE_CARD, TABS, UNIT_MAPS, Ids
from components.map_views import (
    border_segments,
    cluster_colours,
    cluster_map_figure,
    image_pixels,
    label_map_figure,
    new_data_figure,
    plane_cards,
    profile_figure,
    prototype_images_figure,
    scores_figure,
    stepped_colorscale,
    unit_map_figure,
)
from components.settings import MAX_SIDE, MIN_SIDE
from components.table_view import data_grid
from components.views import (
    CLUSTER_METHODS,
    DEFAULT_CLUSTER_METHOD,
    DEFAULT_CLUSTERS,
    MAX_CLUSTERS,
    MAX_FLAGGED_ROWS,
    MAX_MEMBER_ROWS,
    MIN_CLUSTERS,
)
from zsom_core import analysis
from zsom_core.grid import TOPOLOGIES
from zsom_core.meshio import MeshError
from zsom_core.meshio.errors import sanitise_filename
from zsom_core.tables import TableError
from zsom_jobs.seams import UPLOAD_SCORED, Store

from .data import DATA_SEED, decode_upload
from .inputs import epoch_of, mapping_of, session_of
from .trained_map import LruCache, MapUnavailable, ScoredData, TrainedMap, scored_data, trained_map

_clusterings = LruCache(32)
_scores = LruCache(16)
_quality = LruCache(16)
_new_scores = LruCache(8)
# The Kaski-Lagus error searches every unit for each row's second best: on a sample.
QUALITY_SAMPLE = 20_000


def card_id(feature: int) -> dict:
    return {"type": PLANE_CARD, "feature": feature}


# ---------------------------------------------------------------------- reading the page


def view_key(value) -> tuple[str, int] | None:
    """The run and epoch the page shows, from ``Ids.VIEW_KEY``; None before a run."""
    value = mapping_of(value)
    run, epoch = value.get("run"), epoch_of(value.get("epoch"))
    return (run, epoch) if isinstance(run, str) and epoch else None


def cluster_choice(method, k, neighbours) -> tuple[str, int, bool]:
    """The clustering asked for, or the defaults where the page sent something else."""
    # Strings only: a list or dict from a forged request cannot be looked up in a dict.
    method = method if isinstance(method, str) and method in CLUSTER_METHODS else DEFAULT_CLUSTER_METHOD
    k = epoch_of(k)
    k = k if k is not None and MIN_CLUSTERS <= k <= MAX_CLUSTERS else DEFAULT_CLUSTERS
    return method, k, bool(neighbours)


def unit_of(value, n_units: int) -> int | None:
    unit = epoch_of(value)
    return unit if unit is not None and 0 <= unit < n_units else None


def unit_at(point, structure: MapStructure) -> int | None:
    """The unit whose centre a clicked or selected point sits on, from the point's x and y
    in the grid's plane. (dcc.Graph reads a point's customdata from the figure as sent,
    where a typed array is still encoded: the position is what every point carries.)"""
    if not isinstance(point, dict):
        return None
    try:
        x, y = (float(point[axis]) for axis in "xy" if not isinstance(point.get(axis), (bool, str)))
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    row = round(y / (math.sqrt(3) / 2)) if structure.topology == "hex" else round(y)
    column = round(x - 0.5 * (row % 2)) if structure.topology == "hex" else round(x)
    if not (0 <= column < structure.width and 0 <= row < structure.height):
        return None
    unit = column * structure.height + row
    return unit if np.allclose(structure.positions[unit], (x, y), atol=0.05) else None


def clicked_unit(click, structure: MapStructure) -> int | None:
    """The unit a click on a map hit (a unit centre, a hexagon or a heatmap cell)."""
    points = mapping_of(click).get("points")
    return unit_at(points[0], structure) if isinstance(points, list) and points else None


def selected_units(selection, structure: MapStructure) -> list[int]:
    """The units a box or lasso selection on a map holds."""
    points = mapping_of(selection).get("points")
    if not isinstance(points, list):
        return []
    return sorted({unit for unit in (unit_at(point, structure) for point in points) if unit is not None})


# ---------------------------------------------------------------------- computed per epoch


def clustering(trained: TrainedMap, method: str, k: int, neighbours: bool) -> np.ndarray:
    key = (trained.run.run, trained.epoch, method, k, neighbours)
    return _clusterings.get(key, lambda: analysis.cluster_units(
        trained.weights, k, method, grid=trained.som.grid if neighbours else None))


def cluster_scores(trained: TrainedMap, method: str, neighbours: bool) -> dict:
    key = (trained.run.run, trained.epoch, method, neighbours)
    return _scores.get(key, lambda: analysis.cluster_scores(
        trained.weights, method, range(MIN_CLUSTERS, MAX_CLUSTERS + 1),
        grid=trained.som.grid if neighbours else None))


def quality(trained: TrainedMap) -> list[tuple[str, str, str]]:
    """The map's quality at this epoch: (measure, value, what it means)."""
    def measure():
        points = trained.data.points
        sample = points if len(points) <= QUALITY_SAMPLE else points[
            np.random.default_rng(0).choice(len(points), QUALITY_SAMPLE, replace=False)]
        on = "" if sample is points else f" On {QUALITY_SAMPLE:,} rows drawn at random."
        return [
            ("Quantization error (MQE)", f"{trained.match.mqe:.4g}",
             "Mean distance from each sample to its best-matching unit, under the map's metric: lower fits closer."),
            ("Topographic error", f"{trained.match.topographic_error:.2%}",
             "Share of samples whose two best units are not grid neighbours: lower keeps the data's topology."),
            ("Explained variance", f"{trained.som.explained_variance(points, match=trained.match):.1f} %",
             "100 - 100 x (mean squared distance to the best unit) / (the data's total variance), as aweSOM "
             "gives it: higher is better."),
            ("Kaski-Lagus error", f"{trained.som.kaski_lagus_error(sample):.4g}",
             "Mean of the distance to the best unit plus the shortest path along grid neighbours to the "
             "second-best unit (Kaski and Lagus, 1996): fit and topology in one number, lower is better." + on),
        ]
    return _quality.get((trained.run.run, trained.epoch), measure)


# ---------------------------------------------------------------------- the tabs


def _unavailable(titles: list[str], message: str) -> tuple:
    return tuple(empty_figure(title, message) for title in titles)


def clusters_view(trained: TrainedMap, method: str, k: int, neighbours: bool, chosen: int | None) -> tuple:
    """The clusters, and their borders on the U-Matrix and on the hit map."""
    structure = trained.structure
    clusters = clustering(trained, method, k, neighbours)
    borders = border_segments(structure, clusters)
    revision = f"{trained.run.run}-{structure.width}x{structure.height}"
    u_matrix = trained.som.u_matrix().reshape(-1)
    hits = trained.hits
    hit_text = [f"cluster {cluster + 1}" for cluster in clusters]
    return (
        cluster_map_figure(structure, clusters, k, borders, chosen, revision),
        unit_map_figure(structure, u_matrix, "U-Matrix and cluster borders", colorscale=theme.U_COLORSCALE,
                        colorbar_title="U", revision=revision, borders=borders, chosen=chosen, text=hit_text),
        unit_map_figure(structure, hits.astype(np.float64), "Hits and cluster borders",
                        colorscale=theme.HITS_COLORSCALE, colorbar_title="hits", value_format=".0f",
                        revision=revision, borders=borders, chosen=chosen, bounds=(0.0, max(1.0, float(hits.max()))),
                        text=hit_text),
    )


def scores_view(trained: TrainedMap, method: str, k: int, neighbours: bool):
    label = CLUSTER_METHODS[method] + (", grid neighbours only" if neighbours and method != "kmeans" else "")
    return scores_figure(cluster_scores(trained, method, neighbours), k, label)


def quality_table(rows: list[tuple[str, str, str]], epoch: int) -> html.Table:
    return html.Table(className="quality", children=[
        html.Caption(f"Quality at epoch {epoch}"),
        html.Tbody([html.Tr([html.Th(name, scope="row", title=meaning), html.Td(value),
                             html.Td(meaning, className="quality-meaning")]) for name, value, meaning in rows]),
    ])


def planes_view(trained: TrainedMap, chosen_plane: int | None, chosen_unit: int | None) -> tuple:
    structure = trained.structure
    names = trained.data.feature_names
    prototypes = trained.prototypes
    order = analysis.order_features(trained.weights)
    plane = chosen_plane if chosen_plane is not None and chosen_plane < len(names) else int(order[0])
    revision = f"{trained.run.run}-plane-{plane}"
    large = unit_map_figure(structure, prototypes[:, plane], f"Component plane: {names[plane]} (its own units)",
                            colorscale=theme.PLANE_COLORSCALE, colorbar_title=_short(names[plane]),
                            revision=revision, chosen=chosen_unit)
    side = image_pixels(names)
    images = (prototype_images_figure(structure, prototypes, side, trained.run.run) if side
              else empty_figure("Prototypes as images", "Shown when the features are the pixels of a square image"))
    return plane_cards(structure, prototypes, names, order, card_id, plane), large, images, side is None


def _short(name: str, chars: int = 14) -> str:
    return name if len(name) <= chars else name[: chars - 1] + "\u2026"


def labels_view(trained: TrainedMap, style: str, clusters: np.ndarray, k: int, chosen: int | None) -> tuple:
    data = trained.data
    if data.labels is None:
        message = "Give a column the role label to see the map's labels"
        return empty_figure("Labels", message), html.P(message, className="hint")
    names, missing = label_names_of(data)
    codes = data.labels + missing
    counts = analysis.label_counts(trained.match.first, codes, trained.structure.n_units, len(names))
    figure = label_map_figure(trained.structure, counts, names, style, chosen, f"{trained.run.run}-labels")
    table = analysis.label_cluster_counts(clusters, trained.match.first, codes, k, len(names))
    return figure, label_cluster_table(table, names)


def label_names_of(data) -> tuple[list[str], int]:
    """The classes, a missing label first as its own class where there is one."""
    missing = int((data.labels < 0).any())
    return ["missing"] * missing + list(data.label_names), missing


def label_cluster_table(counts: np.ndarray, names: list[str]) -> html.Table:
    k = counts.shape[1]
    header = html.Tr([html.Th("label \\ cluster", scope="col"),
                      *[html.Th(str(cluster + 1), scope="col") for cluster in range(k)], html.Th("total", scope="col")])
    rows = [html.Tr([html.Th(name, scope="row"), *[html.Td(f"{int(count):,}") for count in row],
                     html.Td(f"{int(row.sum()):,}")]) for name, row in zip(names, counts)]
    return html.Table(className="crosstab", children=[html.Caption("Samples per label and cluster"),
                                                      html.Thead(header), html.Tbody(rows)])


def inspector_view(trained: TrainedMap, unit: int | None) -> list:
    if unit is None:
        return [html.P("Click a unit on a map to see its samples.", className="hint")]
    data = trained.data
    structure = trained.structure
    x, y = divmod(unit, structure.height)
    members = np.flatnonzero(trained.match.first == unit)
    hits = len(members)
    error = float(trained.match.distance[members].mean()) if hits else float("nan")
    facts = [("hits", f"{hits:,}"), ("quantization error", "n/a" if not hits else f"{error:.4g}")]
    if data.labels is not None and hits:
        names, missing = label_names_of(data)
        mix = np.bincount(data.labels[members] + missing, minlength=len(names))
        facts.append(("labels", ", ".join(f"{names[i]} {mix[i]}" for i in np.argsort(-mix, kind="stable")
                                          if mix[i])))
    points = data.original_points
    with np.errstate(invalid="ignore"):
        mean, spread = np.nanmean(points, axis=0), np.nanstd(points, axis=0)
    profile = profile_figure(data.feature_names, trained.prototypes[unit], mean, spread)
    children = [
        html.H2(f"Unit ({x}, {y})", className="inspector-title"),
        html.Dl([item for name, value in facts for item in (html.Dt(name), html.Dd(value))], className="facts"),
        dcc.Graph(figure=profile, config={"displaylogo": False, "displayModeBar": False},
                  style={"height": f"{profile.layout.height}px"}),
    ]
    if hits:
        frame = data.frame.iloc[members[:MAX_MEMBER_ROWS]]
        if data.identifier_column:
            frame = frame[[data.identifier_column, *[c for c in frame.columns if c != data.identifier_column]]]
        frame = frame.assign(bmu_distance=trained.match.distance[members[:MAX_MEMBER_ROWS]])
        shown = f"first {MAX_MEMBER_ROWS:,} of {hits:,}" if hits > MAX_MEMBER_ROWS else f"{hits:,}"
        children += [html.H3(f"Members ({shown})", className="inspector-subtitle"), data_grid(frame, "members")]
    else:
        children.append(html.P("This unit wins no sample (a dead unit).", className="hint"))
    return children


def cloud_colours(trained: TrainedMap, display: dict, clusters: np.ndarray | None, k: int,
                  chosen: int | None) -> dict:
    """How the data panel's points are to be drawn: in their unit's cluster's colour
    (``clusters``), and the chosen unit's samples larger and ringed; ``mode`` None: as
    the panel drew them."""
    rows = displayed_rows(len(trained.data.points), display["kind"], DATA_SEED)
    units = trained.match.first[rows]
    request = {"run": trained.run.run, "epoch": trained.epoch,
               "trace": CLOUD_2D if display["kind"] == KIND_2D else CLOUD, "mode": None}
    if clusters is not None:
        request.update(mode="clusters", codes=clusters[units].astype(int).tolist(),
                       colorscale=stepped_colorscale(cluster_colours(k)), cmax=k - 0.5)
    if chosen is not None:
        request.update(mode=request["mode"] or "unit", members=(units == chosen).astype(int).tolist())
    return request


def selection_summary(trained: TrainedMap, units: list[int]) -> str:
    if not units:
        return "Box or lasso units on a map to select them."
    samples = int(trained.hits[units].sum())
    return f"{len(units):,} unit{'s' if len(units) != 1 else ''} selected, holding {samples:,} samples"


def threshold_of(value, default: float) -> tuple[float, str]:
    """The distance above which a new row is flagged, and how the page says it was chosen."""
    if value is None or value == "":
        return default, "the training data's 99th percentile"
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    try:
        number = None if number is None else float(number)
    except OverflowError:  # an integer too large for a float, as a forged request can send
        number = None
    if number is None or not np.isfinite(number) or number < 0:
        raise ValueError("the threshold must be a distance of 0 or more; empty takes the training data's "
                         "99th percentile")
    return float(number), "as set"


def new_data_scores(trained: TrainedMap, scored: ScoredData) -> tuple[np.ndarray, np.ndarray]:
    """Each new row's best-matching unit (-1 for a row with no feature observed) and its
    anomaly score, its distance to that unit (NaN for such a row)."""
    def score():
        match = trained.som.match(scored.points[scored.kept])
        units = np.full(len(scored.points), -1, dtype=np.int64)
        distances = np.full(len(scored.points), np.nan)
        units[scored.kept], distances[scored.kept] = match.first, match.distance
        return units, distances
    return _new_scores.get((trained.run.run, trained.epoch, scored.digest, scored.filename), score)


def flagged_rows(trained: TrainedMap, scored: ScoredData, threshold_value) -> tuple:
    """The new data's units, scores, flags and threshold, with the page's words for it."""
    default = analysis.anomaly_threshold(trained.match.distance, 99.0)
    threshold, chosen = threshold_of(threshold_value, default)
    units, distances = new_data_scores(trained, scored)
    with np.errstate(invalid="ignore"):
        flagged = distances > threshold
    return units, distances, flagged, threshold, chosen


def new_data_view(trained: TrainedMap, scored: ScoredData, threshold_value, chosen_unit) -> tuple:
    units, distances, flagged, threshold, chosen = flagged_rows(trained, scored, threshold_value)
    m = trained.structure.n_units
    kept = units >= 0
    hits = np.bincount(units[kept], minlength=m)
    flagged_hits = np.bincount(units[flagged], minlength=m)
    figure = new_data_figure(trained.structure, hits, flagged_hits, chosen_unit, f"{trained.run.run}-new")
    order = np.flatnonzero(flagged)[np.argsort(-distances[flagged], kind="stable")][:MAX_FLAGGED_ROWS]
    x, y = np.divmod(units[order], trained.structure.height)
    listed = scored.frame.iloc[order]
    listed.insert(0, "anomaly_score", distances[order])
    listed.insert(1, "bmu_x", x)
    listed.insert(2, "bmu_y", y)
    n_flagged = int(flagged.sum())
    skipped = int((~kept).sum())
    message = (f"{scored.filename[:80]}: {int(kept.sum()):,} rows mapped"
               + (f" ({skipped:,} with no feature observed left out)" if skipped else "")
               + f"; {n_flagged:,} farther than {threshold:.4g} from their unit ({chosen}) are flagged")
    shown = f"the {MAX_FLAGGED_ROWS:,} farthest of {n_flagged:,}" if n_flagged > MAX_FLAGGED_ROWS else f"{n_flagged:,}"
    table = [html.H3(f"Flagged rows ({shown})", className="inspector-subtitle"),
             data_grid(listed, "flagged") if n_flagged else html.P("No row is flagged.", className="hint")]
    return figure, table, message


# ---------------------------------------------------------------------- registration


def register(app, store: Store) -> None:
    # The page's run and epoch, written only when one of them changes (each poll rewrites
    # the view state); the tabs, shown and hidden in the browser.
    app.clientside_callback(ClientsideFunction("zsom", "viewKey"), Output(Ids.VIEW_KEY, "data"),
                            Input(Ids.VIEW, "data"), State(Ids.VIEW_KEY, "data"))
    app.clientside_callback(ClientsideFunction("zsom", "showTab"),
                            Output(Ids.PANELS, "hidden"), Output(Ids.VIEWS, "hidden"),
                            *[Output(tab, "hidden") for tab in (Ids.CLUSTERS_TAB, Ids.PLANES_TAB, Ids.LABELS_TAB,
                                                                Ids.NEW_DATA_TAB)],
                            Input(Ids.VIEW_TABS, "value"), State(Ids.CLIENT_CONFIG, "data"))
    app.clientside_callback(ClientsideFunction("zsom", "colourCloud"), Input(Ids.CLOUD_COLOURS, "data"),
                            State(Ids.CLIENT_CONFIG, "data"), prevent_initial_call=True)

    def shown_map(session_id, key) -> TrainedMap:
        shown = view_key(key)
        if shown is None:
            raise MapUnavailable("Train a map first: the views read the run and epoch on screen")
        return trained_map(store, session_of(session_id), *shown)

    # The clusters' tab in three requests, each answered on its own: the maps, the curves
    # of k (a tree cut fourteen times) and the quality table (two more passes of the data).
    cluster_inputs = [Input(Ids.VIEW_KEY, "data"), Input(Ids.VIEW_TABS, "value"), Input(Ids.CLUSTER_METHOD, "value"),
                      Input(Ids.CLUSTER_K, "value"), Input(Ids.CLUSTER_NEIGHBOURS, "value")]

    def clusters_shown(session_id, key, tab) -> TrainedMap:
        session_of(session_id)
        if tab != "clusters":
            raise PreventUpdate
        return shown_map(session_id, key)

    @app.callback(
        Output(Ids.CLUSTER_MAP, "figure"), Output(Ids.CLUSTER_U_MATRIX, "figure"), Output(Ids.CLUSTER_HITS, "figure"),
        *cluster_inputs, Input(Ids.CHOSEN_UNIT, "data"), State(Ids.SESSION, "data"), prevent_initial_call=True)
    def show_clusters(key, tab, method, k, neighbours, chosen, session_id):
        try:
            trained = clusters_shown(session_id, key, tab)
        except MapUnavailable as reason:
            return _unavailable(["Clusters", "U-Matrix and clusters", "Hits and clusters"], str(reason))
        return clusters_view(trained, *cluster_choice(method, k, neighbours),
                             unit_of(chosen, trained.structure.n_units))

    @app.callback(Output(Ids.CLUSTER_SCORES, "figure"), *cluster_inputs, State(Ids.SESSION, "data"),
                  prevent_initial_call=True)
    def show_cluster_scores(key, tab, method, k, neighbours, session_id):
        try:
            trained = clusters_shown(session_id, key, tab)
        except MapUnavailable as reason:
            return empty_figure("Which k?", str(reason))
        return scores_view(trained, *cluster_choice(method, k, neighbours))

    @app.callback(Output(Ids.QUALITY_TABLE, "children"), Input(Ids.VIEW_KEY, "data"), Input(Ids.VIEW_TABS, "value"),
                  State(Ids.SESSION, "data"), prevent_initial_call=True)
    def show_quality(key, tab, session_id):
        try:
            trained = clusters_shown(session_id, key, tab)
        except MapUnavailable:
            return None
        return quality_table(quality(trained), trained.epoch)

    @app.callback(Output(Ids.PLANE_CHOSEN, "data"), Input(card_id(ALL), "n_clicks"), prevent_initial_call=True)
    def choose_plane(clicks):
        clicked = ctx.triggered_id
        # A card redrawn with the tab fires with no click: only a press chooses.
        if not isinstance(clicked, dict) or not any(clicks or []) or not ctx.triggered[0].get("value"):
            raise PreventUpdate
        return clicked["feature"]

    @app.callback(
        Output(Ids.PLANE_CARDS, "children"), Output(Ids.PLANE_LARGE, "figure"), Output(Ids.PROTOTYPES, "figure"),
        Output(Ids.PROTOTYPES, "className"),
        Input(Ids.VIEW_KEY, "data"), Input(Ids.VIEW_TABS, "value"), Input(Ids.PLANE_CHOSEN, "data"),
        Input(Ids.CHOSEN_UNIT, "data"), State(Ids.SESSION, "data"), prevent_initial_call=True)
    def show_planes(key, tab, plane, chosen, session_id):
        session_of(session_id)
        if tab != "planes":
            raise PreventUpdate
        try:
            trained = shown_map(session_id, key)
        except MapUnavailable as reason:
            return [], *_unavailable(["Component plane", "Prototypes as images"], str(reason)), "panel-graph"
        cards, large, images, no_images = planes_view(trained, unit_of(plane, len(trained.data.feature_names)),
                                                      unit_of(chosen, trained.structure.n_units))
        return cards, large, images, "panel-graph" + (" view-unused" if no_images else "")

    @app.callback(
        Output(Ids.LABEL_MAP, "figure"), Output(Ids.LABEL_TABLE, "children"),
        Input(Ids.VIEW_KEY, "data"), Input(Ids.VIEW_TABS, "value"), Input(Ids.LABEL_STYLE, "value"),
        Input(Ids.CHOSEN_UNIT, "data"), State(Ids.CLUSTER_METHOD, "value"), State(Ids.CLUSTER_K, "value"),
        State(Ids.CLUSTER_NEIGHBOURS, "value"), State(Ids.SESSION, "data"), prevent_initial_call=True)
    def show_labels(key, tab, style, chosen, method, k, neighbours, session_id):
        session_of(session_id)
        if tab != "labels":
            raise PreventUpdate
        try:
            trained = shown_map(session_id, key)
        except MapUnavailable as reason:
            return empty_figure("Labels", str(reason)), None
        method, k, neighbours = cluster_choice(method, k, neighbours)
        return labels_view(trained, "pie" if style == "pie" else "purity", clustering(trained, method, k, neighbours),
                           k, unit_of(chosen, trained.structure.n_units))

    @app.callback(
        Output(Ids.CHOSEN_UNIT, "data"), Output(Ids.VIEW_TABS, "value"),
        *[Input(graph, "clickData") for graph in (*UNIT_MAPS, Ids.U_MATRIX, Ids.HITS)],
        State(Ids.VIEW_TABS, "value"), State(Ids.VIEW, "data"), prevent_initial_call=True)
    def choose_unit(*values):
        clicks, tab, view = values[:-2], values[-2], mapping_of(values[-1])
        grid = view.get("grid")
        if not isinstance(grid, list) or len(grid) != 3:
            raise PreventUpdate
        width, height = epoch_of(grid[0]), epoch_of(grid[1])
        if not (width and height and MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE
                and isinstance(grid[2], str) and grid[2] in TOPOLOGIES):
            raise PreventUpdate
        trigger = ctx.triggered_id
        if trigger not in (*UNIT_MAPS, Ids.U_MATRIX, Ids.HITS):
            raise PreventUpdate
        click = clicks[[*UNIT_MAPS, Ids.U_MATRIX, Ids.HITS].index(trigger)]
        unit = clicked_unit(click, map_structure(width, height, grid[2]))
        if unit is None:
            raise PreventUpdate
        # A click on the training panels opens the views, on the clusters' tab (so does a
        # page that names no tab: a list or dict cannot be looked up in TABS).
        on_views = isinstance(tab, str) and tab in TABS and tab != "training"
        return unit, no_update if on_views else "clusters"

    @app.callback(
        Output(Ids.CLOUD_COLOURS, "data"),
        Input(Ids.CLUSTER_COLOURING, "value"), Input(Ids.CHOSEN_UNIT, "data"), Input(Ids.VIEW_KEY, "data"),
        Input(Ids.CLUSTER_METHOD, "value"), Input(Ids.CLUSTER_K, "value"), Input(Ids.CLUSTER_NEIGHBOURS, "value"),
        State(Ids.SESSION, "data"), prevent_initial_call=True)
    def colour_cloud(colouring, chosen, key, method, k, neighbours, session_id):
        session_id = session_of(session_id)
        if not colouring and chosen is None:
            return {"mode": None}
        try:
            trained = shown_map(session_id, key)
        except MapUnavailable:
            return {"mode": None}
        dataset = store.get_dataset(session_id)
        method, k, neighbours = cluster_choice(method, k, neighbours)
        clusters = clustering(trained, method, k, neighbours) if colouring else None
        return cloud_colours(trained, dataset["display"], clusters, k, unit_of(chosen, trained.structure.n_units))

    @app.callback(
        Output(Ids.INSPECTOR, "children"),
        Input(Ids.CHOSEN_UNIT, "data"), Input(Ids.VIEW_KEY, "data"), Input(Ids.VIEW_TABS, "value"),
        State(Ids.SESSION, "data"), prevent_initial_call=True)
    def inspect_unit(chosen, key, tab, session_id):
        session_of(session_id)
        if tab == "training":
            raise PreventUpdate
        try:
            trained = shown_map(session_id, key)
        except MapUnavailable as reason:
            return [html.P(str(reason), className="hint")]
        return inspector_view(trained, unit_of(chosen, trained.structure.n_units))

    @app.callback(
        Output(Ids.SELECTION_INFO, "children"), Output(Ids.SELECTION, "data"),
        *[Input(graph, "selectedData") for graph in UNIT_MAPS],
        State(Ids.VIEW_KEY, "data"), State(Ids.SESSION, "data"), prevent_initial_call=True)
    def select_units(*values):
        selections, key, session_id = values[:-2], values[-2], session_of(values[-1])
        try:
            trained = shown_map(session_id, key)
        except MapUnavailable as reason:
            return str(reason), []
        trigger = ctx.triggered_id
        selection = selections[list(UNIT_MAPS).index(trigger)] if trigger in UNIT_MAPS else None
        units = selected_units(selection, trained.structure)
        return selection_summary(trained, units), units

    @app.callback(
        Output(Ids.NEW_DATA_MAP, "figure"), Output(Ids.NEW_DATA_LIST, "children"),
        Output(Ids.NEW_DATA_MESSAGE, "children"), Output(Ids.NEW_DATA_UPLOAD, "contents"),
        Input(Ids.NEW_DATA_UPLOAD, "contents"), Input(Ids.NEW_DATA_THRESHOLD, "value"), Input(Ids.VIEW_KEY, "data"),
        Input(Ids.VIEW_TABS, "value"), Input(Ids.CHOSEN_UNIT, "data"), State(Ids.NEW_DATA_UPLOAD, "filename"),
        State(Ids.SESSION, "data"), prevent_initial_call=True)
    def show_new_data(contents, threshold, key, tab, chosen, filename, session_id):
        """The new data's view; an upload is stored, then emptied from the page, which
        would otherwise send the whole file with each of this callback's requests."""
        session_id = session_of(session_id)
        uploaded = ctx.triggered_id == Ids.NEW_DATA_UPLOAD and bool(contents)
        emptied = None if uploaded else no_update
        if uploaded:
            try:
                data = decode_upload(contents)
            except MeshError as error:
                return no_update, no_update, _error(str(error)), None
            # Kept under the slot's own key, never under the name the user chose; the name
            # only labels the messages, as its base name without control characters.
            name = sanitise_filename(filename) if isinstance(filename, str) and filename else "new data"
            store.put_upload(session_id, name, data, UPLOAD_SCORED)
        if tab != "new-data":
            if uploaded:
                return no_update, no_update, no_update, None
            raise PreventUpdate
        return (*new_data_answer(session_id, key, threshold, chosen), emptied)

    def new_data_answer(session_id, key, threshold, chosen) -> tuple:
        title = "New data"
        try:
            trained = shown_map(session_id, key)
            scored = scored_data(store, session_id, trained.data)
            if scored is None:
                return empty_figure(title, "Upload a table (or mesh) with the map's features"), None, ""
            return new_data_view(trained, scored, threshold, unit_of(chosen, trained.structure.n_units))
        except MapUnavailable as reason:
            return empty_figure(title, str(reason)), None, ""
        except (TableError, MeshError, ValueError) as error:
            return empty_figure(title, "Nothing mapped: see the message above"), None, _error(str(error))


def _error(message: str) -> html.Span:
    return html.Span(message, className="error")
