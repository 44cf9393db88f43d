"""A run in one zip file, to take away and bring back: its settings, its data's
description, every epoch's metrics, the final map, pictures of its panels and the Python
lines that train it again.

Members (all at the archive's top level but the pictures and the data):

- ``bundle.json``: ``{"kind": "zsom-run-bundle", "format": 1}``;
- ``settings.json``: the run's settings as the caller gives them (a JSON object);
- ``data.json``: what the data was: a name, its rows and features, for an uploaded file its
  name and SHA-256; where the bundle holds the data (under ``data/``), that file's name
  (``included``) and SHA-256 (``included_sha256``);
- ``metrics.csv``: one row per epoch (``epoch`` and the metrics' columns), safe to open
  in a spreadsheet (``exports.csv_bytes``);
- ``model.npz``: the final map in ``SOM.save``'s format;
- ``panels/<name>.png``: the panels of the final epoch;
- ``README.txt``: what the bundle is and the Python lines that reproduce the run.

A bundle brought back is untrusted input. ``read_bundle`` reads it in memory (nothing is
extracted to disk) and refuses, with a ``BundleError`` that says why: what is not a zip
archive or is larger than ``MAX_BUNDLE_BYTES``; a member with an absolute path, ``..``,
a backslash, a name outside the list above, a link, an encrypted member, or a size over
its limit; members that unpack to more than ``MAX_UNPACKED_BYTES`` or more than
``MAX_COMPRESSION_RATIO`` times their packed size (a zip bomb), and a map whose arrays
do (``model.npz`` is a zip archive too); a bundle of a newer
format; and contents that do not agree with each other (a map whose shape is not the
settings', metrics that are not one finite row per epoch of the map's history, a
picture that is not a PNG). Python's zipfile stops inflating a member at the size its
directory states, so the sizes checked are the sizes read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import stat
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .som import SOM
from .text import format_bytes

KIND = "zsom-run-bundle"
FORMAT = 1
MAX_BUNDLE_BYTES = 256 * 2**20
MAX_UNPACKED_BYTES = 1024 * 2**20
MAX_COMPRESSION_RATIO = 100
# Below this many unpacked bytes the ratio is not checked: a small JSON file packs well.
RATIO_FLOOR_BYTES = 4 * 2**20
MAX_JSON_BYTES = 2**20
MAX_METRICS_BYTES = 64 * 2**20
MAX_MODEL_BYTES = 512 * 2**20
MAX_PANEL_BYTES = 32 * 2**20
MAX_DATA_BYTES = 512 * 2**20
MAX_PANELS = 16
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A picture's or a data file's name: letters, digits, dots, dashes and underscores.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")
_FIXED_MEMBERS = {"bundle.json": MAX_JSON_BYTES, "settings.json": MAX_JSON_BYTES, "data.json": MAX_JSON_BYTES,
                  "metrics.csv": MAX_METRICS_BYTES, "model.npz": MAX_MODEL_BYTES, "README.txt": MAX_JSON_BYTES}
_REQUIRED = ("bundle.json", "settings.json", "data.json", "metrics.csv", "model.npz")


class BundleError(ValueError):
    """A file that is not a run bundle this version can read; the message says why."""


@dataclass
class RunBundle:
    """One run: ``settings`` and ``data`` (JSON objects), ``metrics`` (one dict of numbers
    per epoch, with its ``epoch``), the final ``model``, ``panels`` (name -> PNG bytes),
    ``data_file`` (its name and bytes, where the user included the data) and
    ``readme`` (the text of ``README.txt``)."""

    settings: dict
    data: dict
    metrics: list[dict]
    model: SOM
    panels: dict[str, bytes] = field(default_factory=dict)
    data_file: tuple[str, bytes] | None = None
    readme: str = ""


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def reproduction_lines(model: SOM, data_lines: list[str], epochs: int) -> str:
    """The Python lines that train ``model``'s run again: ``data_lines`` build ``X``, then
    the estimator with every parameter that is not its default, then the fit."""
    defaults = SOM(model.width, model.height).get_params()
    params = {name: value for name, value in model.get_params().items()
              if name in ("width", "height") or value != defaults[name]}
    params.pop("use_numba", None)
    arguments = [repr(params.pop("width")), repr(params.pop("height"))]
    arguments += [f"{name}={_python_literal(value)}" for name, value in params.items()]
    return "\n".join(["from zsom_core import SOM", *data_lines,
                      f"som = SOM({', '.join(arguments)})", f"som.fit(X, epochs={int(epochs)})"])


def write_bundle(bundle: RunBundle) -> bytes:
    """The bundle as the bytes of a zip archive."""
    import pandas as pd  # with pyarrow (exports), for whoever writes a bundle

    from .exports import csv_bytes

    _check_panel_names(bundle.panels)
    buffer = io.BytesIO()
    model = io.BytesIO()
    bundle.model.save(model)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle.json", json.dumps({"kind": KIND, "format": FORMAT}))
        archive.writestr("settings.json", json.dumps(bundle.settings, indent=2, allow_nan=False))
        archive.writestr("data.json", json.dumps(bundle.data, indent=2, allow_nan=False))
        archive.writestr("metrics.csv", csv_bytes(pd.DataFrame(bundle.metrics)))
        archive.writestr("model.npz", model.getvalue())
        for name, picture in bundle.panels.items():
            archive.writestr(f"panels/{name}.png", picture)
        if bundle.data_file is not None:
            name, content = bundle.data_file
            if not _SAFE_NAME.fullmatch(name):
                raise ValueError(f"a data file's name in a bundle is letters, digits, '.', '-' and '_', got {name!r}")
            archive.writestr(f"data/{name}", content)
        archive.writestr("README.txt", bundle.readme)
    return buffer.getvalue()


def read_bundle(content: bytes) -> RunBundle:
    """The run in ``content``, a bundle's bytes; ``BundleError`` for anything else (see the
    module's docstring)."""
    if len(content) > MAX_BUNDLE_BYTES:
        raise BundleError(f"the bundle is {format_bytes(len(content))}; at most {format_bytes(MAX_BUNDLE_BYTES)} "
                          "can be opened")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BundleError(f"this is not a zip archive ({error})") from error
    with archive:
        members = _checked_members(archive)
        header = _json_member(archive, "bundle.json")
        if header.get("kind") != KIND:
            raise BundleError("this zip archive is not a ZSOM run bundle (bundle.json does not say so)")
        version = header.get("format")
        if not isinstance(version, int) or isinstance(version, bool):
            raise BundleError(f"bundle.json's format is not a number: {version!r}")
        if version > FORMAT:
            raise BundleError(f"this bundle was made by a newer ZSOM (format {version}); this version reads "
                              f"format {FORMAT} and older")
        settings = _json_member(archive, "settings.json")
        data = _json_member(archive, "data.json")
        model = _model(archive.read("model.npz"))
        metrics = _metrics(archive.read("metrics.csv"), model)
        panels = {}
        for name in members:
            if name.startswith("panels/"):
                picture = archive.read(name)
                if not picture.startswith(PNG_SIGNATURE):
                    raise BundleError(f"{name} is not a PNG picture")
                panels[name[len("panels/"):-len(".png")]] = picture
        data_members = [name for name in members if name.startswith("data/")]
        data_file = (data_members[0][len("data/"):], archive.read(data_members[0])) if data_members else None
        readme = archive.read("README.txt").decode("utf-8", "replace") if "README.txt" in members else ""
    _check_agreement(settings, data, model, data_file)
    return RunBundle(settings, data, metrics, model, panels, data_file, readme)


def _checked_members(archive: zipfile.ZipFile) -> list[str]:
    """The archive's member names, each checked for its path, kind and size (see the
    module's docstring)."""
    names, unpacked, packed = [], 0, 0
    for member in archive.infolist():
        name = member.filename
        if member.is_dir():
            continue
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or re.match(r"[A-Za-z]:", name):
            raise BundleError(f"the bundle holds a member with an unsafe path: {name!r}")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise BundleError(f"the bundle holds a link: {name!r}")
        if member.flag_bits & 0x1:
            raise BundleError(f"the bundle holds an encrypted member: {name!r}")
        limit = _member_limit(name)
        if limit is None:
            raise BundleError(f"the bundle holds a member that no bundle has: {name!r}")
        if member.file_size > limit:
            raise BundleError(f"{name} unpacks to {format_bytes(member.file_size)}; at most {format_bytes(limit)}")
        if name in names:
            raise BundleError(f"the bundle holds {name!r} twice")
        names.append(name)
        unpacked += member.file_size
        packed += member.compress_size
    if unpacked > MAX_UNPACKED_BYTES:
        raise BundleError(f"the bundle unpacks to {format_bytes(unpacked)}; at most {format_bytes(MAX_UNPACKED_BYTES)}")
    if unpacked > RATIO_FLOOR_BYTES and unpacked > MAX_COMPRESSION_RATIO * packed:
        raise BundleError(f"the bundle unpacks to {format_bytes(unpacked)} from {format_bytes(packed)}, more than "
                          f"{MAX_COMPRESSION_RATIO} times its size: refused as a zip bomb")
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise BundleError(f"the bundle lacks {', '.join(missing)}")
    if sum(name.startswith("panels/") for name in names) > MAX_PANELS:
        raise BundleError(f"the bundle holds more than {MAX_PANELS} pictures")
    if sum(name.startswith("data/") for name in names) > 1:
        raise BundleError("the bundle holds more than one data file")
    return names


def _model(content: bytes) -> SOM:
    """The map in ``model.npz``, itself a zip archive: its arrays may unpack to no more than
    ``MAX_MODEL_BYTES`` either (a small npz can hold a deflated bomb), and none may need
    unpickling (``SOM.load``)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as arrays:
            unpacked = sum(member.file_size for member in arrays.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise BundleError(f"model.npz is not a saved ZSOM map ({error})") from error
    if unpacked > MAX_MODEL_BYTES:
        raise BundleError(f"model.npz's arrays unpack to {format_bytes(unpacked)}; at most "
                          f"{format_bytes(MAX_MODEL_BYTES)}")
    try:
        return SOM.load(io.BytesIO(content))
    except ValueError as error:
        raise BundleError(f"model.npz: {error}") from error


def _member_limit(name: str) -> int | None:
    if name in _FIXED_MEMBERS:
        return _FIXED_MEMBERS[name]
    folder, _, leaf = name.partition("/")
    if folder == "panels" and leaf.endswith(".png") and _SAFE_NAME.fullmatch(leaf):
        return MAX_PANEL_BYTES
    if folder == "data" and _SAFE_NAME.fullmatch(leaf):
        return MAX_DATA_BYTES
    return None


def _json_member(archive: zipfile.ZipFile, name: str) -> dict:
    try:
        value = json.loads(archive.read(name).decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as error:
        raise BundleError(f"{name} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise BundleError(f"{name} is not a JSON object")
    return value


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _metrics(content: bytes, model: SOM) -> list[dict]:
    """The metrics' rows as numbers: one per epoch of the map's history, epochs 1, 2, ...
    in order, every value finite (an empty cell is a metric the epoch did not have)."""
    try:
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise BundleError(f"metrics.csv is not a CSV file: {error}") from error
    metrics = []
    for number, row in enumerate(rows, start=1):
        values = {}
        for name, text in row.items():
            if name is None or text is None:
                raise BundleError(f"metrics.csv: row {number} does not have the header's columns")
            if text == "":
                continue
            try:
                value = float(text)
            except ValueError as error:
                raise BundleError(f"metrics.csv: row {number}, {name}: {text[:40]!r} is not a number") from error
            if not math.isfinite(value):
                raise BundleError(f"metrics.csv: row {number}, {name} is not finite")
            values[name] = value
        if values.get("epoch") != number:
            raise BundleError(f"metrics.csv: row {number} is not epoch {number}")
        values["epoch"] = number
        metrics.append(values)
    if len(metrics) != len(model.mqe_history_):
        raise BundleError(f"metrics.csv has {len(metrics)} epochs, but the map's history "
                          f"{len(model.mqe_history_)}")
    return metrics


def _check_agreement(settings: dict, data: dict, model: SOM, data_file) -> None:
    """Settings, data and map describe the same run."""
    for name in ("width", "height"):
        if name in settings and settings[name] != getattr(model, name):
            raise BundleError(f"settings.json says {name} {settings[name]!r}, but the map's is {getattr(model, name)}")
    features = data.get("features")
    if features is not None and features != model.n_features_in_:
        raise BundleError(f"data.json says {features!r} features, but the map has {model.n_features_in_}")
    if data_file is not None and data.get("included_sha256") not in (None, sha256(data_file[1])):
        raise BundleError("the included data file's SHA-256 is not the one data.json gives")
    if not all(np.isfinite(model.mqe_history_)) or not all(np.isfinite(model.te_history_)):
        raise BundleError("model.npz: its history is not all finite")


def _check_panel_names(panels: dict) -> None:
    if len(panels) > MAX_PANELS:
        raise ValueError(f"at most {MAX_PANELS} pictures in a bundle, got {len(panels)}")
    for name, picture in panels.items():
        if not _SAFE_NAME.fullmatch(f"{name}.png") or not bytes(picture).startswith(PNG_SIGNATURE):
            raise ValueError(f"a picture in a bundle is a PNG named with letters, digits, '.', '-' and '_': {name!r}")


def _python_literal(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)

