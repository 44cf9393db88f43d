"""Choosing the data: a built-in dataset or table, or an uploaded mesh or table, stored for
the session.

One callback, ``choose_data``, answers the dataset menu, the sample count, an upload and
a table's column roles and scaling.
The data reaches the browser once, as the data panel's point cloud (drawn by
``run_page``, which follows the token); the browser keeps a token naming the session's
current dataset and nothing more.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib

import numpy as np
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from components.display import display_data
from components.ids import Ids
from components.settings import (
    MAX_UPLOAD_BYTES,
    TABLE_EXTENSIONS,
    UPLOAD_EXTENSIONS,
    SettingsError,
    auto_sizes,
    parse_sample_count,
)
from components.table_view import (
    DEFAULT_SCALING,
    SCALING_LABELS,
    edited_roles,
    preview_grid,
    preview_rows,
    role_rows,
    roles_style,
)
from zsom_core.datadir import DataDir
from zsom_core.datasets import DATASETS, load_dataset
from zsom_core.meshio import MeshError, MeshLimits, load_mesh
from zsom_core.meshio.limits import format_bytes
from zsom_core.meshio.sniff import extension_of
from zsom_core.preparation import BUILTIN_TABLES, load_builtin_table, prepare_table
from zsom_core.tables import Table, TableError, load_table
from zsom_jobs.seams import Store

from .inputs import session_of

UPLOAD = "upload"
UPLOAD_LIMITS = MeshLimits(max_bytes=MAX_UPLOAD_BYTES, max_faces=2_000_000, max_vertices=2_000_000)
DATA_SEED = 0
# Bump when what ``dataset_record`` stores changes: built-ins are cached across restarts.
RECORD_FORMAT = 4
# Built-in tables are menu entries beside the shapes, told apart by their value's prefix.
BUILTIN_TABLE_CHOICES = {f"table:{name}": name for name in BUILTIN_TABLES}
DATASET_LABELS = {**{name: f"{name} ({info.dim}-D)" for name, info in DATASETS.items()},
                  **{choice: f"{name.replace('_', ' ')} (table)" for choice, name in BUILTIN_TABLE_CHOICES.items()}}
# Datasets in the server's data folder (``--data-dir``) are menu entries with this prefix.
SERVER_PREFIX = "server:"
DEFAULT_IN_MEMORY_ROWS = 2_000_000
# A page token is the data token, then this and the view's own token (never in base64).
VIEW_SEPARATOR = "~"
# The table loader's own limits: about a thousand features, twenty million cells.
MAX_TABLE_COLUMNS, MAX_TABLE_CELLS = 1_000, 20_000_000


def dataset_token(*identity) -> str:
    """The token of a dataset: the same data (same source, sample count and seed) gets the
    same token, so that a session that returns to a dataset finds its runs on it again."""
    digest = hashlib.blake2b(digest_size=12)
    for part in identity:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return base64.urlsafe_b64encode(digest.digest()).decode()


def page_token(record: dict) -> str:
    """What the page holds of ``record``: its token, and how the data panel shows it when
    that is a choice (a table's 3-D axes). Runs belong to the token alone, so a new view
    of the same data keeps them."""
    return record.get("page_token") or record["token"]


def data_token_of(token: str) -> str:
    """The data token in a page token."""
    return token.split(VIEW_SEPARATOR, 1)[0]


def dataset_record(token: str, name: str, label: str, points, labels, vertices, faces, description: str,
                   source: str, label_names: list[str] | None = None, axes=None) -> dict:
    """What the store keeps of a session's dataset, with its display computed once.

    ``points`` may hold NaN for missing values (a table's): the engine trains on them as
    they are, the display and the map size see each gap filled with its column's mean.
    """
    points = np.ascontiguousarray(points, dtype=np.float32)
    complete = filled_gaps(points)
    return {
        "token": token,
        "name": name,
        "label": label,
        "source": source,
        "points": points,
        "labels": None if labels is None else np.asarray(labels, dtype=np.int32),
        "description": description,
        "display": display_data(complete, labels, vertices, faces, seed=DATA_SEED, label_names=label_names,
                                axes=axes),
        "auto_sizes": auto_sizes(complete),
        "table": None,
    }


def filled_gaps(points: np.ndarray) -> np.ndarray:
    """``points`` with each NaN replaced by its column's mean (``points`` itself when it has none)."""
    gaps = np.isnan(points)
    if not gaps.any():
        return points
    with np.errstate(invalid="ignore"):
        means = np.nan_to_num(np.nanmean(points, axis=0, dtype=np.float64))
    return np.where(gaps, means.astype(points.dtype), points)


def builtin_record(store: Store, name: str, n: int) -> dict:
    """A built-in dataset, loaded and prepared once per (name, n) for all sessions."""
    if not isinstance(name, str) or name not in DATASETS:
        raise SettingsError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")

    def load():
        dataset = load_dataset(name, n=n, seed=DATA_SEED)
        token = dataset_token("builtin", name, n, DATA_SEED, RECORD_FORMAT)
        return dataset_record(token, name, name, dataset.points, dataset.labels, dataset.vertices, dataset.faces,
                              dataset.description, "builtin")

    return store.builtin(f"{name}-v{RECORD_FORMAT}", n, DATA_SEED, load)


@functools.lru_cache(maxsize=len(BUILTIN_TABLES))
def builtin_table(name: str) -> Table:
    return load_builtin_table(name)


def table_record(table: Table, name: str, source: str, *, roles: dict | None = None, weights: dict | None = None,
                 scaling: str = DEFAULT_SCALING, axes: list | None = None, label: str | None = None,
                 data: bytes = b"") -> dict:
    """A table prepared for training with the given column roles, weights and scaling
    (the defaults where not given), its 3-D view on ``axes`` (three numeric features) or
    a PCA; ``TableError`` says why it cannot be.

    The token names the table (a built-in's name, an upload's bytes) and every choice
    made on it, so that the same choices find their runs again; the axes are only a view.
    """
    weights = {column: 1.0 for column in table.kinds} | (weights or {})
    prepared = prepare_table(table, roles, scaling=scaling, weights=weights)
    token = dataset_token("table", source, name, data, sorted(prepared.roles.items()), sorted(weights.items()),
                          scaling, RECORD_FORMAT)
    axes = checked_axes(axes, axis_choices(prepared.scaler))
    label = label or (table.source_name if source == "upload" else name.removeprefix("table:"))
    record = dataset_record(token, name, label, prepared.data, prepared.labels, None, None, prepared.summary,
                            source, label_names=prepared.label_names if prepared.label_column else None,
                            axes=(axes, *prepared.scaler.original_axes(axes)) if axes else None)
    if axes:
        record["page_token"] = token + VIEW_SEPARATOR + dataset_token("axes", axes)
    record["table"] = {
        "kinds": dict(table.kinds),
        "roles": dict(prepared.roles),
        "weights": weights,
        "scaling": scaling,
        "axes": axes,
        "axis_choices": axis_choices(prepared.scaler),
        "feature_names": list(prepared.feature_names),
        "label_column": prepared.label_column,
        "label_names": list(prepared.label_names),
        "scaler": prepared.scaler.to_dict(),
        "preview": preview_rows(table.frame),
    }
    record["notes"] = []
    return record


def axis_choices(scaler) -> list[str]:
    """The features the 3-D view can take as axes: the numeric ones (not a dummy)."""
    return [column.name for column in scaler.columns if column.level is None]


def checked_axes(axes, choices: list[str]) -> list[str]:
    """``axes`` as three of ``choices``, or [] for a PCA; ``ValueError`` says why not."""
    if axes is None or axes == []:
        return []
    if not isinstance(axes, list) or not all(isinstance(axis, str) and axis in choices for axis in axes):
        raise ValueError("the 3-D view takes numeric features of the table as its axes")
    if len(set(axes)) != len(axes) or len(axes) != 3:
        raise ValueError(f"the 3-D view takes three different features, got {len(axes)}")
    return list(axes)


def upload_record(data: bytes, filename: str, n: int) -> dict:
    """An uploaded mesh sampled to ``n`` points, or an uploaded table with its default
    roles; ``MeshError`` or ``TableError`` says what is wrong with it (a file whose name
    does not end in a mesh's or a table's extension is refused unread)."""
    extension = extension_of(filename)
    if extension not in UPLOAD_EXTENSIONS:
        raise MeshError(f"{filename[:80]}: not a mesh or table file ({extension or 'no extension'}). "
                        f"Upload a file ending in {', '.join(UPLOAD_EXTENSIONS)}.")
    if extension in TABLE_EXTENSIONS:
        table = load_table(data, filename, max_columns=MAX_TABLE_COLUMNS, max_cells=MAX_TABLE_CELLS)
        return table_record(table, UPLOAD, "upload", data=data)
    mesh = load_mesh(data, filename, n_points=n, seed=DATA_SEED, limits=UPLOAD_LIMITS)
    kind = "point cloud" if mesh.is_point_cloud else f"{len(mesh.faces):,} faces"
    description = f"uploaded {mesh.format.upper()} {kind}"
    faces = None if mesh.is_point_cloud else mesh.faces
    token = dataset_token("upload", data, mesh.filename, n, DATA_SEED, RECORD_FORMAT)
    record = dataset_record(token, UPLOAD, mesh.filename, mesh.points, None, mesh.vertices, faces, description,
                            "upload")
    record["notes"] = list(mesh.notes)
    return record


def decode_upload(contents: str, max_bytes: int = MAX_UPLOAD_BYTES) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL (``data:<type>;base64,<data>``).

    A file over ``max_bytes`` is refused from the length of its text, before decoding.
    """
    if not isinstance(contents, str) or not contents.startswith("data:") or "," not in contents:
        raise MeshError("the upload could not be read (not a base64 data URL); try the file again")
    _, encoded = contents.split(",", 1)
    if len(encoded) // 4 * 3 > max_bytes + 2:
        raise MeshError(f"the file is larger than the limit of {format_bytes(max_bytes)}; "
                        "simplify or decimate the mesh and try again")
    try:
        return base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise MeshError("the upload could not be read (not a base64 data URL); try the file again") from None


def data_info(record: dict) -> list:
    display = record["display"]
    shown = len(display["points"])
    if record.get("table") is not None:
        return [html.Div([html.B(record["label"]), f": {record['description']}."]),
                html.Div(f"{shown:,} of {display['n']:,} rows drawn")]
    lines = [html.Div([html.B(record["label"]), f": {record['description']}"]),
             html.Div(f"{display['n']:,} points in {display['dim']}-D; {shown:,} drawn")]
    if display["mesh"] is not None:
        lines.append(html.Div(f"surface drawn with {len(display['mesh']['faces']):,} faces"))
    return lines


OUTPUTS = {
    "token": Output(Ids.DATASET_TOKEN, "data"),
    "samples": Output(Ids.SAMPLES, "value"),
    "info": Output(Ids.DATA_INFO, "children"),
    "upload_message": Output(Ids.UPLOAD_MESSAGE, "children"),
    "options": Output(Ids.DATASET, "options"),
    "dataset": Output(Ids.DATASET, "value"),
    "upload": Output(Ids.UPLOAD, "contents"),
    "samples_hidden": Output(Ids.SAMPLES_ROW, "hidden"),
    "table_hidden": Output(Ids.TABLE_PANEL, "hidden"),
    "roles": Output(Ids.TABLE_ROLES, "rowData"),
    "roles_style": Output(Ids.TABLE_ROLES, "style"),
    "scaling": Output(Ids.TABLE_SCALING, "value"),
    "axes": Output(Ids.TABLE_AXES, "value"),
    "axis_options": Output(Ids.TABLE_AXES, "options"),
    "table_message": Output(Ids.TABLE_MESSAGE, "children"),
    "preview": Output(Ids.TABLE_PREVIEW, "children"),
}


def answer(**values) -> tuple:
    """``choose_data``'s outputs, in order: the ones not given are left as they are."""
    unknown = set(values) - set(OUTPUTS)
    assert not unknown, unknown
    return tuple(values.get(name, no_update) for name in OUTPUTS)


def dataset_labels(server_data: DataDir | None = None) -> dict:
    """The dataset menu: the built-ins, then the datasets in the server's data folder."""
    if server_data is None:
        return dict(DATASET_LABELS)
    return {**DATASET_LABELS, **{f"{SERVER_PREFIX}{name}": f"{name} (server: {entry.describe()})"
                                 for name, entry in server_data.entries.items()}}


def register(app, store: Store, server_data: DataDir | None = None,
             in_memory_rows: int = DEFAULT_IN_MEMORY_ROWS) -> None:
    @app.callback(
        *OUTPUTS.values(),
        Input(Ids.DATASET, "value"),
        Input(Ids.SAMPLES, "value"),
        Input(Ids.UPLOAD, "contents"),
        Input(Ids.TABLE_ROLES, "cellValueChanged"),
        Input(Ids.TABLE_SCALING, "value"),
        Input(Ids.TABLE_AXES, "value"),
        State(Ids.UPLOAD, "filename"),
        State(Ids.SESSION, "data"),
    )
    def choose_data(name, samples, contents, role_edits, scaling, axes, filename, session_id):
        session_id = session_of(session_id)
        trigger = ctx.triggered_id
        if trigger is None:
            # The page's first call. A reloaded page keeps its session: show its data again
            # (run_page brings back the settings of its run).
            record = store.get_dataset(session_id)
            if record is not None:
                return restored_data(record, dataset_labels(server_data))
        if trigger == Ids.UPLOAD:
            return _upload(store, session_id, contents, filename, samples, dataset_labels(server_data))
        if trigger in (Ids.TABLE_ROLES, Ids.TABLE_SCALING, Ids.TABLE_AXES):
            return _change_table(store, session_id, role_edits if trigger == Ids.TABLE_ROLES else [], scaling, axes)
        if isinstance(name, str) and name.startswith(SERVER_PREFIX):
            return _choose_server_data(store, session_id, name, trigger == Ids.DATASET, server_data, in_memory_rows)
        return _choose_data(store, session_id, name, samples, trigger == Ids.DATASET)


def _choose_server_data(store: Store, session_id: str, name: str, choosing: bool, server_data: DataDir | None,
                        in_memory_rows: int) -> tuple:
    """The outputs for a dataset of the server's data folder, read as a table."""
    if not choosing:
        raise PreventUpdate  # a table has all its rows: the sample count does not apply
    try:
        if server_data is None:
            raise TableError("this server has no data folder")
        entry = server_data.get(name.removeprefix(SERVER_PREFIX))
        table = server_data.read(entry.name, max_rows=in_memory_rows, max_columns=MAX_TABLE_COLUMNS,
                                 max_cells=MAX_TABLE_CELLS)
        record = table_record(table, name, "server", label=entry.name, data=server_identity(entry))
    except TableError as error:
        return answer(info=_error(str(error)))
    record["server"] = {"root": str(server_data.root), "name": entry.name, "max_rows": in_memory_rows}
    store.put_dataset(session_id, record)
    return answer(token=page_token(record), info=data_info(record), upload_message="", **table_outputs(record))


def server_identity(entry) -> bytes:
    """What names a server dataset's contents in its token: a file replaced gets new runs."""
    changed = max(path.stat().st_mtime_ns for path in [entry.path, *entry.path.glob("*")])
    return repr((entry.name, entry.size, changed)).encode()


def _choose_data(store: Store, session_id: str, name, samples, choosing: bool) -> tuple:
    """The outputs for a menu choice or a new sample count."""
    if name == UPLOAD:
        if choosing:
            raise PreventUpdate  # the menu echoing an upload that is stored already
        return _resample_upload(store, session_id, samples)
    if isinstance(name, str) and name in BUILTIN_TABLE_CHOICES:
        if not choosing:
            raise PreventUpdate  # a table has all its rows: the sample count does not apply
        try:
            record = table_record(builtin_table(BUILTIN_TABLE_CHOICES[name]), name, "builtin")
        except TableError as error:
            return answer(info=_error(str(error)))
        store.put_dataset(session_id, record)
        return answer(token=page_token(record), info=data_info(record), upload_message="", **table_outputs(record))
    n = DATASETS[name].default_n if choosing and isinstance(name, str) and name in DATASETS else samples
    try:
        record = builtin_record(store, name, parse_sample_count(n))
    except (SettingsError, ValueError) as error:
        return answer(info=_error(str(error)))
    store.put_dataset(session_id, record)
    return answer(token=page_token(record), samples=n if choosing else no_update, info=data_info(record),
                  upload_message="", **table_outputs(record))


def _upload(store: Store, session_id: str, contents, filename, samples, labels: dict) -> tuple:
    """The outputs for an uploaded file (the upload's contents cleared either way, so that
    the same file can be dropped again)."""
    if not contents:
        raise PreventUpdate
    try:
        n = parse_sample_count(samples)
        data = decode_upload(contents, UPLOAD_LIMITS.max_bytes)
        record = upload_record(data, filename if isinstance(filename, str) and filename else "upload", n)
    except (MeshError, TableError, SettingsError) as error:
        return answer(upload_message=_error(str(error)), upload=None)
    store.put_upload(session_id, record["label"], data)
    store.put_dataset(session_id, record)
    options, _ = dataset_choice(record, labels)
    message = html.Span(" ".join([f"Loaded {record['label']}.", *record["notes"]]), className="ok")
    return answer(token=page_token(record), info=data_info(record), upload_message=message, options=options,
                  dataset=UPLOAD, upload=None, **table_outputs(record))


def _change_table(store: Store, session_id: str, role_edits, scaling, axes) -> tuple:
    """The outputs for an edit of the table's column roles, weights, scaling or 3-D axes:
    the table prepared again, or its controls as they were and a message saying why not."""
    record = store.get_dataset(session_id)
    if record is None or record.get("table") is None:
        raise PreventUpdate  # the echo of a table's controls being cleared
    table_state = record["table"]
    if isinstance(axes, list) and 0 < len(axes) < 3 and len(set(axes)) == len(axes):
        return answer(table_message=f"Pick {3 - len(axes)} more for the 3-D view, or clear it for a PCA.")
    try:
        roles, weights = edited_roles(role_edits, table_state["kinds"], table_state["roles"], table_state["weights"])
        if scaling not in SCALING_LABELS:
            raise ValueError(f"unknown scaling {scaling!r}; choose one of: {', '.join(SCALING_LABELS)}")
        asked = (roles, weights, scaling, axes or [])
        if asked == (table_state["roles"], table_state["weights"], table_state["scaling"], table_state["axes"]):
            raise PreventUpdate
        # Axes that the new roles leave out go back to a PCA.
        kept_axes = axes if roles == table_state["roles"] else None
        table, data = stored_table(store, session_id, record)
        record = table_record(table, record["name"], record["source"], roles=roles, weights=weights,
                              scaling=scaling, axes=kept_axes, label=record["label"], data=data) | (
            {"server": record["server"]} if "server" in record else {})
    except (TableError, ValueError) as error:
        return answer(roles=role_rows(table_state["kinds"], table_state["roles"], table_state["weights"]),
                      scaling=table_state["scaling"], axes=table_state["axes"],
                      table_message=_error(f"{error}; the table is as before"))
    store.put_dataset(session_id, record)
    return answer(token=page_token(record), info=data_info(record), table_message="",
                  axes=record["table"]["axes"], axis_options=record["table"]["axis_choices"])


def stored_table(store: Store, session_id: str, record: dict) -> tuple[Table, bytes]:
    """The session's table, and the bytes that name it in its token (none for a built-in)."""
    if record["source"] == "builtin":
        return builtin_table(BUILTIN_TABLE_CHOICES[record["name"]]), b""
    if record["source"] == "server":
        server = record["server"]
        server_data = DataDir(server["root"], names=[server["name"]])
        table = server_data.read(server["name"], max_rows=server["max_rows"], max_columns=MAX_TABLE_COLUMNS,
                                 max_cells=MAX_TABLE_CELLS)
        return table, server_identity(server_data.get(server["name"]))
    upload = store.get_upload(session_id)
    if upload is None:
        raise TableError("the uploaded file has expired; upload it again")
    return (load_table(upload["data"], upload["filename"], max_columns=MAX_TABLE_COLUMNS, max_cells=MAX_TABLE_CELLS),
            upload["data"])


def restored_data(record: dict, labels: dict) -> tuple:
    """``choose_data``'s outputs that show a session's stored dataset again."""
    options, value = dataset_choice(record, labels)
    return answer(token=page_token(record), samples=record["display"]["n"], info=data_info(record), upload_message="",
                  options=options, dataset=value, **table_outputs(record))


def table_outputs(record: dict) -> dict:
    """The table controls' outputs for ``record``: filled for a table, cleared and hidden
    for other data."""
    table_state = record.get("table")
    if table_state is None:
        return {"samples_hidden": False, "table_hidden": True, "roles": [], "roles_style": roles_style(0),
                "table_message": "", "preview": None, "axes": [], "axis_options": []}
    return {"samples_hidden": True, "table_hidden": False, "table_message": "", "scaling": table_state["scaling"],
            "axes": table_state["axes"], "axis_options": table_state["axis_choices"],
            "roles": role_rows(table_state["kinds"], table_state["roles"], table_state["weights"]),
            "roles_style": roles_style(len(table_state["kinds"])), "preview": preview_grid(*table_state["preview"])}


def _resample_upload(store: Store, session_id: str, samples):
    upload = store.get_upload(session_id)
    if upload is None:
        return answer(upload_message=_error("the uploaded file has expired; upload it again"))
    if extension_of(upload["filename"]) in TABLE_EXTENSIONS:
        raise PreventUpdate  # a table has all its rows: the sample count does not apply
    try:
        record = upload_record(upload["data"], upload["filename"], parse_sample_count(samples))
    except (MeshError, SettingsError) as error:
        return answer(upload_message=_error(str(error)))
    store.put_dataset(session_id, record)
    return answer(token=page_token(record), info=data_info(record), upload_message="")


def dataset_choice(record: dict, labels: dict) -> tuple[list, str]:
    """The dataset menu's options (``labels``), with an entry for an uploaded ``record``,
    and the menu value that names ``record``."""
    options = [{"label": label, "value": name} for name, label in labels.items()]
    if record["source"] == "upload":
        options.append({"label": f"uploaded: {record['label']}", "value": UPLOAD})
        return options, UPLOAD
    return options, record["name"]


def _error(message: str) -> html.Span:
    return html.Span(message, className="error")
