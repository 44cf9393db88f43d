"""A run's map at one epoch, with the rows it was trained on, as the views read it.

The store keeps each epoch's weights and the session's prepared data, not the table the
user loaded; the views that name rows (the unit inspector, the assignments CSV) read
that table again from the stored upload or the built-in, once per data token and web
process (``data_context``), and the map's best-matching units once per epoch shown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from components.geometry import MapStructure, map_structure
from components.settings import MESH_EXTENSIONS, TABLE_EXTENSIONS
from zsom_core import SOM
from zsom_core.bmu import BMUPass
from zsom_core.meshio.sniff import extension_of
from zsom_core.preparation import FeatureScaler, prepare_table
from zsom_core.tables import TableError, load_table
from zsom_jobs import RunRecord
from zsom_jobs.seams import UPLOAD_SCORED, Store

from .data import MAX_TABLE_CELLS, MAX_TABLE_COLUMNS, data_token_of, stored_table, upload_record

# Tables read back per web process; each is one user's data, so a few.
CACHED_TABLES = 4
CACHED_MAPS = 8


class MapUnavailable(Exception):
    """The run or epoch asked for is not in the store (expired, another session's, or
    trained on data that is no longer the session's): the message says which."""


@dataclass(frozen=True)
class DataContext:
    """The rows a map was trained on: ``points`` as trained on (scaled, NaN for gaps),
    ``frame`` every original column of those rows, in that order."""

    token: str
    points: np.ndarray
    frame: pd.DataFrame
    feature_names: list[str]
    scaler: FeatureScaler | None
    labels: np.ndarray | None
    label_names: list[str]
    label_column: str | None
    identifier_column: str | None
    summary: str

    def original(self, weights: np.ndarray) -> np.ndarray:
        """Prototypes (m, d) in the data's own units."""
        return weights if self.scaler is None else self.scaler.inverse_transform(weights)

    @cached_property
    def original_points(self) -> np.ndarray:
        return self.original(self.points.astype(np.float64))


class LruCache:
    """A small least-recently-used map shared by the web server's threads: what one
    process computed for a page, kept for the next request of that page (any process
    can compute it again: nothing here is state). Requests that ask for the same key at
    once (a scrub reaches every callback of a tab together) compute it once."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()
        self.pending: dict = {}

    def peek(self, key):
        """The value kept for ``key``, or None; computes nothing."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def get(self, key, make):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            making = self.pending.setdefault(key, threading.Lock())
        with making:
            with self.lock:
                if key in self.items:
                    return self.items[key]
            try:
                value = make()
            finally:
                with self.lock:
                    self.pending.pop(key, None)
            with self.lock:
                self.items[key] = value
                while len(self.items) > self.size:
                    self.items.popitem(last=False)
        return value


_tables = LruCache(CACHED_TABLES)
_maps = LruCache(CACHED_MAPS)


def data_context(store: Store, session_id: str, record: dict) -> DataContext:
    return _tables.get(record["token"], lambda: _read_context(store, session_id, record))


def _read_context(store: Store, session_id: str, record: dict) -> DataContext:
    points = record["points"]
    table_state = record.get("table")
    if table_state is None:
        names = ["x", "y", "z"][: points.shape[1]] if points.shape[1] <= 3 else \
            [f"feature {i + 1}" for i in range(points.shape[1])]
        labels = record.get("labels")
        label_names = [] if labels is None else [f"class {code}" for code in range(int(labels.max()) + 1)]
        return DataContext(record["token"], points, pd.DataFrame(points.astype(np.float64), columns=names), names,
                           None, labels, label_names, None if labels is None else "class", None,
                           record["description"])
    table, _ = stored_table(store, session_id, record)
    prepared = prepare_table(table, table_state["roles"], scaling=table_state["scaling"],
                             weights=table_state["weights"])
    frame = table.frame.iloc[prepared.rows].reset_index(drop=True)
    return DataContext(record["token"], points, frame, list(prepared.feature_names), prepared.scaler,
                       prepared.labels, list(prepared.label_names), prepared.label_column,
                       prepared.identifier_column, prepared.summary)


@dataclass(frozen=True)
class TrainedMap:
    """Run ``run`` at ``epoch``: its map (``som``, the weights as stored, float32 rounded),
    the data it was trained on and one BMU pass of that data."""

    run: RunRecord
    epoch: int
    som: SOM
    structure: MapStructure
    data: DataContext
    match: BMUPass

    @property
    def weights(self) -> np.ndarray:
        """(units, features) in the space the map was trained in."""
        return self.som.weights_.reshape(self.structure.n_units, -1)

    @cached_property
    def prototypes(self) -> np.ndarray:
        """(units, features) in the data's own units."""
        return self.data.original(self.weights)

    @cached_property
    def hits(self) -> np.ndarray:
        return self.match.counts.astype(np.int64)


def trained_map(store: Store, session_id: str, run_id, epoch) -> TrainedMap:
    """The map of a session's run at ``epoch``; ``MapUnavailable`` says why there is none."""
    record = store.get_run(session_id, run_id) if isinstance(run_id, str) else None
    if record is None:
        raise MapUnavailable("Train a map first: the views read the run on screen")
    dataset = store.get_dataset(session_id)
    if dataset is None or data_token_of(dataset["token"]) != data_token_of(record.dataset_token):
        raise MapUnavailable("This run was trained on other data than the session's: choose its dataset again")
    if not isinstance(epoch, int) or epoch < 1:
        raise MapUnavailable("The run has no epoch yet")
    return _maps.get((session_id, run_id, epoch), lambda: _load_map(store, session_id, record, epoch, dataset))


def _load_map(store: Store, session_id: str, record: RunRecord, epoch: int, dataset: dict) -> TrainedMap:
    stored = store.get_epoch(session_id, record.run, epoch)
    if stored is None:
        raise MapUnavailable(f"Epoch {epoch} of this run is no longer stored")
    settings = record.settings
    structure = map_structure(int(settings["width"]), int(settings["height"]), settings["topology"])
    som = SOM.from_weights(stored["weights"].reshape(structure.width, structure.height, -1), **settings)
    context = data_context(store, session_id, dataset)
    return TrainedMap(record, epoch, som, structure, context, som.match(context.points))


@dataclass(frozen=True)
class ScoredData:
    """New data for a trained map: its rows (``frame``) in the map's space (``points``);
    ``kept`` marks the rows with a feature observed, the ones that get a unit. ``digest``
    names the file's bytes."""

    digest: str
    filename: str
    points: np.ndarray
    frame: pd.DataFrame
    kept: np.ndarray


_scored = LruCache(CACHED_TABLES)


def scored_data(store: Store, session_id: str, context: DataContext) -> ScoredData | None:
    """The session's new data for the map of ``context``'s data, or None when there is
    none; ``TableError`` or ``MeshError`` says why it cannot be mapped."""
    about = store.upload_about(session_id, UPLOAD_SCORED)
    if about is None:
        return None
    cached = _scored.peek((context.token, about["digest"], about["filename"]))
    if cached is not None:
        return cached
    # Read with its own name and digest: a newer upload may have replaced the one asked about.
    upload = store.get_upload(session_id, UPLOAD_SCORED)
    if upload is None:
        return None
    return _scored.get((context.token, upload["digest"], upload["filename"]),
                       lambda: _read_scored(upload["data"], upload["filename"], upload["digest"], context))


def _read_scored(data: bytes, filename: str, digest: str, context: DataContext) -> ScoredData:
    extension = extension_of(filename)
    if extension in TABLE_EXTENSIONS:
        frame = load_table(data, filename, max_columns=MAX_TABLE_COLUMNS, max_cells=MAX_TABLE_CELLS).frame
        if context.scaler is not None:
            points = context.scaler.transform(frame)
        else:
            absent = [name for name in context.feature_names if name not in map(str, frame.columns)]
            if absent:
                raise TableError(f"{filename[:80]}: the map's features are {', '.join(context.feature_names)}; "
                                 f"the table lacks {', '.join(absent)}")
            numbers = frame.rename(columns=str)[context.feature_names].apply(pd.to_numeric, errors="coerce")
            points = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    elif extension in MESH_EXTENSIONS:
        if context.scaler is not None:
            raise TableError(f"{filename[:80]}: this map was trained on a table; map a table with its columns")
        if len(context.feature_names) != 3:
            raise TableError(f"{filename[:80]}: a mesh has 3 coordinates, the map {len(context.feature_names)}")
        points = upload_record(data, filename, len(context.points))["points"].astype(np.float64)
        frame = pd.DataFrame(points, columns=context.feature_names)
    else:
        raise TableError(f"{filename[:80]}: not a table or mesh file; use one of "
                         f"{', '.join(TABLE_EXTENSIONS + MESH_EXTENSIONS)}")
    kept = ~np.isnan(points).all(axis=1)
    if not kept.any():
        raise TableError(f"{filename[:80]}: no row has one of the map's features observed")
    return ScoredData(digest, filename, np.ascontiguousarray(points, dtype=np.float32), frame.reset_index(drop=True),
                      kept)
