"""The files the page hands out, for the run and epoch on screen: the assignments CSV (of
the training data, of the selected units' rows, of the new data), the model, the report
and the run bundle (the whole run: ``zsom_core.bundle``). Each is built in the request and
sent with ``dcc.send_bytes``; nothing is written to disk under a name the user chose, and
the file names are the app's own."""

from __future__ import annotations

import io
import re
import tempfile
import time
from html import escape
from pathlib import Path

import numpy as np
from dash import Input, Output, State, ctx, dcc, no_update

from components import theme
from components.ids import Ids
from components.map_views import (
    border_segments,
    cluster_map_figure,
    image_pixels,
    label_map_figure,
    prototype_images_figure,
    scores_figure,
    unit_map_figure,
)
from components.report import fixed_size, planes_figure, report_html, table_html
from components.views import CLUSTER_METHODS
from zsom_core import SOM, analysis
from zsom_core.bundle import RunBundle, reproduction_lines, sha256, write_bundle
from zsom_core.exports import assignments_frame, csv_bytes
from zsom_core.meshio import MeshError
from zsom_core.preparation import save_model
from zsom_core.tables import TableError
from zsom_core.text import format_bytes
from zsom_jobs.seams import Store

from .inputs import mapping_of, session_of
from .map_views import (
    cluster_choice,
    cluster_scores,
    clustering,
    flagged_rows,
    label_names_of,
    quality,
    view_key,
)
from .trained_map import MapUnavailable, TrainedMap, scored_data, trained_map

EXPORTS = (Ids.EXPORT_ASSIGNMENTS, Ids.EXPORT_SELECTION, Ids.EXPORT_NEW_DATA, Ids.EXPORT_MODEL, Ids.EXPORT_REPORT,
           Ids.EXPORT_BUNDLE)
BUNDLE_README = """A ZSOM run bundle: {title}.

settings.json   the run's settings (the engine's keywords)
data.json       what the data was: its name, rows and features; for an uploaded file, its
                name and SHA-256{data_note}
metrics.csv     every epoch's MQE, topographic error, sigma and learning rate
model.npz       the map after the last epoch (SOM.load reads it; weights as the app
                stores them, in float32)

The lines that train it again with zsom_core:

"""


def file_stem(trained: TrainedMap, label: str) -> str:
    """``zsom-<dataset>-run<n>-epoch<k>``, the dataset's name cut to letters, digits and dashes."""
    name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:40] or "data"
    return f"zsom-{name}-run{trained.run.number}-epoch{trained.epoch}"


def assignments(trained: TrainedMap, clusters: np.ndarray, rows: np.ndarray | None = None) -> bytes:
    data, match = trained.data, trained.match
    frame = assignments_frame(data.frame, match.first, trained.som.grid, match.distance, clusters=clusters)
    return csv_bytes(frame if rows is None else frame.iloc[rows])


def model_bytes(trained: TrainedMap, roles: dict | None) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "map.npz"
        if trained.data.scaler is not None:
            save_model(path, trained.som, trained.data.scaler, roles or {})
        else:
            trained.som.save(path, metadata={"feature_names": trained.data.feature_names})
        return path.read_bytes()


def run_bundle(store: Store, session_id: str, trained: TrainedMap, dataset: dict, with_data: bool) -> bytes:
    """The run of ``trained`` in one zip (``zsom_core.bundle``): its settings, the data's
    description, every stored epoch's metrics and its last epoch's map. The rows it trained
    on go in as ``data/points.npy`` for a built-in dataset, and for an upload only where
    the user asked (``with_data``); the README's lines then train the same map again."""
    record = trained.run
    history = store.get_history(session_id, record.run) or {}
    epochs = len(history.get("mqe", ()))
    if epochs == 0:
        raise MapUnavailable("The run has no epoch yet")
    last = store.get_epoch(session_id, record.run, epochs)  # its weights only: no pass over the data
    if last is None:
        raise MapUnavailable(f"Epoch {epochs} of this run is no longer stored")
    model = SOM.from_weights(last["weights"].reshape(int(record.settings["width"]), int(record.settings["height"]), -1),
                             **record.settings)
    model.mqe_history_ = [float(value) for value in history["mqe"]]
    model.te_history_ = [float(value) for value in history["te"]]
    metrics = [{"epoch": epoch, "mqe": float(mqe), "topographic_error": float(te), "sigma": float(sigma),
                "learning_rate": float(lr)}
               for epoch, (mqe, te, sigma, lr) in enumerate(zip(*(history[name] for name in ("mqe", "te", "sigma",
                                                                                               "lr"))), start=1)]
    points = dataset["points"]
    data = {"name": dataset.get("label", "data"), "source": dataset.get("source"), "rows": int(points.shape[0]),
            "features": int(points.shape[1])}
    about = store.upload_about(session_id) if dataset.get("source") == "upload" else None
    if about is not None:
        data |= {"file": about["filename"], "file_sha256": about["digest"]}
    data_file, data_note = None, ""
    if with_data or about is None:
        stored = io.BytesIO()
        np.save(stored, np.asarray(points), allow_pickle=False)
        data_file = ("points.npy", stored.getvalue())
        data |= {"included": "points.npy", "included_sha256": sha256(data_file[1])}
        data_note = "\ndata/points.npy the rows the map trained on, as the app prepared them"
        data_lines = ["import numpy as np", 'X = np.load("data/points.npy")  # unzip the bundle first']
    else:
        data_lines = ["# X: the rows this run trained on (data.json); a bundle made with 'with data'",
                      "# holds them: X = np.load('data/points.npy')"]
    title = f"{data['name']}, run {record.number}, {epochs} of {record.epochs} epochs"
    readme = (BUNDLE_README.format(title=title, data_note=data_note)
              + reproduction_lines(SOM(**record.settings), data_lines, record.epochs) + "\n")
    return write_bundle(RunBundle(dict(record.settings), data, metrics, model, data_file=data_file, readme=readme))


def report(trained: TrainedMap, dataset: dict, settings_line: str, method: str, k: int, neighbours: bool) -> bytes:
    structure = trained.structure
    clusters = clustering(trained, method, k, neighbours)
    borders = border_segments(structure, clusters)
    names = trained.data.feature_names
    order = analysis.order_features(trained.weights)
    figures = [
        ("Clusters", fixed_size(cluster_map_figure(structure, clusters, k, borders, None, "r"), structure=structure)),
        ("U-Matrix and cluster borders", fixed_size(unit_map_figure(
            structure, trained.som.u_matrix().reshape(-1), "U-Matrix", colorscale=theme.U_COLORSCALE,
            colorbar_title="U", borders=borders), structure=structure)),
        ("Hits and cluster borders", fixed_size(unit_map_figure(
            structure, trained.hits.astype(np.float64), "Hits", colorscale=theme.HITS_COLORSCALE,
            colorbar_title="hits", value_format=".0f", borders=borders), structure=structure)),
        ("Which k?", fixed_size(scores_figure(cluster_scores(trained, method, neighbours), k, CLUSTER_METHODS[method]),
                                height=380)),
        ("Component planes", planes_figure(structure, trained.prototypes, names, order)),
    ]
    side = image_pixels(names)
    if side:
        figures.append(("Prototypes as images", fixed_size(prototype_images_figure(structure, trained.prototypes,
                                                                                   side, "r"))))
    if trained.data.labels is not None:
        label_names, missing = label_names_of(trained.data)
        counts = analysis.label_counts(trained.match.first, trained.data.labels + missing, structure.n_units,
                                       len(label_names))
        figures.append(("Labels", fixed_size(label_map_figure(structure, counts, label_names, "purity", None, "r"),
                                             structure=structure)))
    quality_rows = quality(trained)
    sections = [
        ("Settings", f"<p>{escape(settings_line)}</p>"),
        ("Data", f"<p>{escape(trained.data.summary)}</p>"),
        (f"Quality at epoch {trained.epoch}", table_html(quality_rows, ("measure", "value", "what it says"))),
        ("Clustering", f"<p>{escape(CLUSTER_METHODS[method])}, k = {k}"
                       f"{', merging grid neighbours only' if neighbours and method != 'kmeans' else ''}</p>"),
    ]
    title = f"ZSOM report: {dataset.get('label', 'data')}, run {trained.run.number}, epoch {trained.epoch}"
    subtitle = (f"{structure.width} x {structure.height} {structure.topology} map; "
                f"written {time.strftime('%Y-%m-%d %H:%M')}")
    return report_html(title, subtitle, sections, figures).encode("utf-8")


def register(app, store: Store) -> None:
    @app.callback(
        Output(Ids.DOWNLOAD, "data"), Output(Ids.DOWNLOAD_MESSAGE, "children"),
        *[Input(button, "n_clicks") for button in EXPORTS],
        State(Ids.VIEW_KEY, "data"), State(Ids.VIEW, "data"), State(Ids.CLUSTER_METHOD, "value"),
        State(Ids.CLUSTER_K, "value"), State(Ids.CLUSTER_NEIGHBOURS, "value"), State(Ids.SELECTION, "data"),
        State(Ids.NEW_DATA_THRESHOLD, "value"), State(Ids.BUNDLE_WITH_DATA, "value"), State(Ids.SESSION, "data"),
        prevent_initial_call=True)
    def export(*values):
        key, view, method, k, neighbours, selection, threshold, with_data, session_id = values[len(EXPORTS):]
        trigger = ctx.triggered_id
        if trigger not in EXPORTS:
            return no_update, no_update
        session_id = session_of(session_id)
        started = time.perf_counter()
        shown = view_key(key)
        try:
            if shown is None:
                raise MapUnavailable("Nothing to export yet: train a map, or choose a run, first.")
            trained = trained_map(store, session_id, *shown)
            dataset = store.get_dataset(session_id) or {}
            method, k, neighbours = cluster_choice(method, k, neighbours)
            stem = file_stem(trained, dataset.get("label", "data"))
            if trigger == Ids.EXPORT_ASSIGNMENTS:
                content, name = assignments(trained, clustering(trained, method, k, neighbours)), f"{stem}.csv"
            elif trigger == Ids.EXPORT_SELECTION:
                units = [unit for unit in (selection or []) if isinstance(unit, int)]
                if not units:
                    raise MapUnavailable("Select units first: box or lasso them on a map")
                rows = np.flatnonzero(np.isin(trained.match.first, units))
                content = assignments(trained, clustering(trained, method, k, neighbours), rows)
                name = f"{stem}-selection.csv"
            elif trigger == Ids.EXPORT_NEW_DATA:
                scored = scored_data(store, session_id, trained.data)
                if scored is None:
                    raise MapUnavailable("Upload new data first")
                units, distances, flagged, _, _ = flagged_rows(trained, scored, threshold)
                frame = assignments_frame(scored.frame, units, trained.som.grid, distances,
                                          clusters=clustering(trained, method, k, neighbours),
                                          anomaly_scores=distances, flagged=flagged)
                content, name = csv_bytes(frame), f"{stem}-new-data.csv"
            elif trigger == Ids.EXPORT_MODEL:
                roles = (dataset.get("table") or {}).get("roles")
                content, name = model_bytes(trained, roles), f"{stem}.npz"
            elif trigger == Ids.EXPORT_BUNDLE:
                with_data = isinstance(with_data, list) and "data" in with_data
                content = run_bundle(store, session_id, trained, dataset, with_data)
                name = f"{stem.rsplit('-epoch', 1)[0]}-bundle.zip"
            else:
                content = report(trained, dataset, mapping_of(view).get("settings") or "", method, k, neighbours)
                name = f"{stem}-report.html"
        except MapUnavailable as reason:
            return no_update, str(reason)
        except (TableError, MeshError, ValueError) as error:
            return no_update, f"Export failed: {error}"
        seconds = time.perf_counter() - started
        return dcc.send_bytes(content, name), f"{name}: {format_bytes(len(content))} in {seconds:.1f} s"
