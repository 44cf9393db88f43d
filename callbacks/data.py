"""Choosing the data: a built-in dataset or an uploaded mesh, stored for the session.

One callback, ``choose_data``, answers the dataset menu, the sample count and an upload.
The data reaches the browser once, as the data panel's point cloud (drawn by
``run_page``, which follows the token); the browser keeps a token naming the session's
current dataset and nothing more.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import numpy as np
from dash import Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from components.display import display_data
from components.ids import Ids
from components.settings import (
    MAX_UPLOAD_BYTES,
    UPLOAD_EXTENSIONS,
    SettingsError,
    auto_sizes,
    parse_sample_count,
)
from zsom_core.datasets import DATASETS, load_dataset
from zsom_core.meshio import MeshError, MeshLimits, load_mesh
from zsom_core.meshio.limits import format_bytes
from zsom_core.meshio.sniff import extension_of
from zsom_jobs.seams import Store

from .inputs import session_of

UPLOAD = "upload"
UPLOAD_LIMITS = MeshLimits(max_bytes=MAX_UPLOAD_BYTES, max_faces=2_000_000, max_vertices=2_000_000)
DATA_SEED = 0
# Bump when what ``dataset_record`` stores changes: built-ins are cached across restarts.
RECORD_FORMAT = 2
DATASET_LABELS = {name: f"{name} ({info.dim}-D)" for name, info in DATASETS.items()}


def dataset_token(*identity) -> str:
    """The token of a dataset: the same data (same source, sample count and seed) gets the
    same token, so that a session that returns to a dataset finds its runs on it again."""
    digest = hashlib.blake2b(digest_size=12)
    for part in identity:
        digest.update(part if isinstance(part, bytes) else repr(part).encode())
        digest.update(b"\0")
    return base64.urlsafe_b64encode(digest.digest()).decode()


def dataset_record(token: str, name: str, label: str, points, labels, vertices, faces, description: str,
                   source: str) -> dict:
    """What the store keeps of a session's dataset, with its display computed once."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    return {
        "token": token,
        "name": name,
        "label": label,
        "source": source,
        "points": points,
        "labels": None if labels is None else np.asarray(labels, dtype=np.int32),
        "description": description,
        "display": display_data(points, labels, vertices, faces, seed=DATA_SEED),
        "auto_sizes": auto_sizes(points),
    }


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


def upload_record(data: bytes, filename: str, n: int) -> dict:
    """An uploaded mesh sampled to ``n`` points; ``MeshError`` says what is wrong with it
    (a file whose name does not end in a mesh's extension is refused unread)."""
    extension = extension_of(filename)
    if extension not in UPLOAD_EXTENSIONS:
        raise MeshError(f"{filename[:80]}: not a mesh file ({extension or 'no extension'}). "
                        f"Upload a file ending in {', '.join(UPLOAD_EXTENSIONS)}.")
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
    lines = [html.Div([html.B(record["label"]), f": {record['description']}"]),
             html.Div(f"{display['n']:,} points in {display['dim']}-D; {shown:,} drawn")]
    if display["mesh"] is not None:
        lines.append(html.Div(f"surface drawn with {len(display['mesh']['faces']):,} faces"))
    return lines


def register(app, store: Store) -> None:
    outputs = [Output(Ids.DATASET_TOKEN, "data"), Output(Ids.SAMPLES, "value"), Output(Ids.DATA_INFO, "children"),
               Output(Ids.UPLOAD_MESSAGE, "children"), Output(Ids.DATASET, "options"), Output(Ids.DATASET, "value"),
               Output(Ids.UPLOAD, "contents")]

    @app.callback(
        *outputs,
        Input(Ids.DATASET, "value"),
        Input(Ids.SAMPLES, "value"),
        Input(Ids.UPLOAD, "contents"),
        State(Ids.UPLOAD, "filename"),
        State(Ids.SESSION, "data"),
    )
    def choose_data(name, samples, contents, filename, session_id):
        session_id = session_of(session_id)
        trigger = ctx.triggered_id
        if trigger is None:
            # The page's first call. A reloaded page keeps its session: show its data again
            # (run_page brings back the settings of its run).
            record = store.get_dataset(session_id)
            if record is not None:
                return (*restored_data(record), no_update)
        if trigger == Ids.UPLOAD:
            return _upload(store, session_id, contents, filename, samples)
        return (*_choose_data(store, session_id, name, samples, trigger == Ids.DATASET), no_update)


def _choose_data(store: Store, session_id: str, name, samples, choosing: bool) -> tuple:
    """(token, samples, info, upload message, menu options, menu value) of a menu choice
    or a new sample count."""
    unchanged = no_update, no_update
    if name == UPLOAD:
        if choosing:
            raise PreventUpdate  # the menu echoing an upload that is stored already
        return *_resample_upload(store, session_id, samples), *unchanged
    n = DATASETS[name].default_n if choosing and isinstance(name, str) and name in DATASETS else samples
    try:
        record = builtin_record(store, name, parse_sample_count(n))
    except (SettingsError, ValueError) as error:
        return no_update, no_update, _error(str(error)), no_update, *unchanged
    store.put_dataset(session_id, record)
    return record["token"], n if choosing else no_update, data_info(record), "", *unchanged


def _upload(store: Store, session_id: str, contents, filename, samples) -> tuple:
    """The outputs of ``choose_data`` for an uploaded file (the upload's contents cleared
    either way, so that the same file can be dropped again)."""
    if not contents:
        raise PreventUpdate
    try:
        n = parse_sample_count(samples)
        data = decode_upload(contents, UPLOAD_LIMITS.max_bytes)
        record = upload_record(data, filename if isinstance(filename, str) and filename else "upload", n)
    except (MeshError, SettingsError) as error:
        return no_update, no_update, no_update, _error(str(error)), no_update, no_update, None
    store.put_upload(session_id, record["label"], data)
    store.put_dataset(session_id, record)
    options, _ = dataset_choice(record)
    message = html.Span(" ".join([f"Loaded {record['label']}.", *record["notes"]]), className="ok")
    return record["token"], no_update, data_info(record), message, options, UPLOAD, None


def restored_data(record: dict) -> tuple:
    """``choose_data``'s outputs that show a session's stored dataset again."""
    options, value = dataset_choice(record)
    return record["token"], record["display"]["n"], data_info(record), "", options, value


def _resample_upload(store: Store, session_id: str, samples):
    upload = store.get_upload(session_id)
    if upload is None:
        return no_update, no_update, no_update, _error("the uploaded file has expired; upload it again")
    try:
        record = upload_record(upload["data"], upload["filename"], parse_sample_count(samples))
    except (MeshError, SettingsError) as error:
        return no_update, no_update, no_update, _error(str(error))
    store.put_dataset(session_id, record)
    return record["token"], no_update, data_info(record), ""



def dataset_choice(record: dict) -> tuple[list, str]:
    """The dataset menu's options, with an entry for an uploaded ``record``, and the menu
    value that names ``record``."""
    options = [{"label": label, "value": name} for name, label in DATASET_LABELS.items()]
    if record["source"] == "upload":
        options.append({"label": f"uploaded: {record['label']}", "value": UPLOAD})
        return options, UPLOAD
    return options, record["name"]


def _error(message: str) -> html.Span:
    return html.Span(message, className="error")
