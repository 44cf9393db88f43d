"""A run bundle goes out and comes back whole; a hostile or damaged one is refused with a reason."""

import io
import json
import stat
import struct
import zipfile
import zlib

import numpy as np
import pytest

from zsom_core import SOM, bundle
from zsom_core.bundle import BundleError, RunBundle, read_bundle, reproduction_lines, sha256, write_bundle


def _png(width=2, height=1) -> bytes:
    """A real, tiny PNG: signature, IHDR, one IDAT, IEND."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (bundle.PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


DATA_LINES = ["from zsom_core.datasets import load_dataset", 'X = load_dataset("clusters", n=300, seed=4).points']


@pytest.fixture(scope="module")
def run():
    from zsom_core.datasets import load_dataset

    X = load_dataset("clusters", n=300, seed=4).points
    som = SOM(6, 5, topology="hex", sigma=2.5, seed=3).fit(X, epochs=8)
    metrics = [{"epoch": epoch, "mqe": mqe, "te": te, "sigma": sigma}
               for epoch, (mqe, te, sigma) in enumerate(zip(som.mqe_history_, som.te_history_, som.sigma_history_), 1)]
    upload = b"x,y\n1,2\n"
    return RunBundle(
        settings={"width": 6, "height": 5, "topology": "hex", "sigma0": 2.5, "seed": 3, "epochs": 8},
        data={"name": "clusters", "rows": 300, "features": 2, "included": "points.csv",
              "included_sha256": sha256(upload)},
        metrics=metrics, model=som, panels={"u_matrix": _png(), "hits": _png(3, 2)},
        data_file=("points.csv", upload), readme=reproduction_lines(som, DATA_LINES, 8))


def _rezip(content: bytes, replace: dict | None = None, add: list | None = None, drop=()) -> bytes:
    """The bundle's members, some replaced, dropped or added ((ZipInfo or name, bytes))."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename not in drop:
                target.writestr(member.filename, replace.get(member.filename, source.read(member.filename)))
        for info, body in add or []:
            target.writestr(info, body)
    return out.getvalue()


def test_a_bundle_comes_back_whole(run):
    back = read_bundle(write_bundle(run))
    assert back.settings == run.settings and back.data == run.data
    assert back.metrics == run.metrics
    assert np.array_equal(back.model.weights_, run.model.weights_)
    assert back.model.get_params() == run.model.get_params() | {"seed": 3}
    assert back.panels == run.panels and back.data_file == run.data_file
    assert back.readme == run.readme


def test_the_readme_lines_train_the_same_map_again(run):
    namespace = {}
    exec(run.readme, namespace)  # the lines this project wrote, not anything uploaded
    assert np.array_equal(namespace["som"].weights_, run.model.weights_)
    assert "topology='hex'" in run.readme and "sigma=2.5" in run.readme and "use_numba" not in run.readme


def test_the_metrics_csv_is_safe_in_a_spreadsheet(run):
    hostile = RunBundle(**{**run.__dict__, "metrics": [{"epoch": 1, "mqe": -1.0, "note": "=HYPERLINK(1)"}]})
    with zipfile.ZipFile(io.BytesIO(write_bundle(hostile))) as archive:
        text = archive.read("metrics.csv").decode()
    assert "'=HYPERLINK" in text and ",-1" in text  # a formula is text, a negative number stays a number


def _flag_encrypted(content: bytes, name: bytes) -> bytes:
    """The archive with ``name``'s central directory entry marked encrypted (general
    purpose flag bit 0), as a zip made by an encrypting tool has it."""
    entry = content.index(b"PK\x01\x02")
    while content[entry + 46 : entry + 46 + len(name)] != name:
        entry = content.index(b"PK\x01\x02", entry + 4)
    flags = struct.unpack_from("<H", content, entry + 8)[0] | 0x1
    return content[: entry + 8] + struct.pack("<H", flags) + content[entry + 10 :]


def _member(name, mode=0o644):
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "panels\\x.png", "C:/x.png", "panels/../../x.png"])
def test_members_with_unsafe_paths_are_refused(run, name):
    with pytest.raises(BundleError, match="unsafe path"):
        read_bundle(_rezip(write_bundle(run), add=[(name, b"x")]))


def test_links_unknown_members_and_encrypted_members_are_refused(run):
    content = write_bundle(run)
    with pytest.raises(BundleError, match="a link"):
        read_bundle(_rezip(content, add=[(_member("panels/link.png", stat.S_IFLNK | 0o777), b"/etc/passwd")]))
    with pytest.raises(BundleError, match="no bundle has"):
        read_bundle(_rezip(content, add=[("script.py", b"import os")]))
    with pytest.raises(BundleError, match="no bundle has"):
        read_bundle(_rezip(content, add=[("panels/picture.svg", b"<svg/>")]))
    with pytest.raises(BundleError, match="encrypted"):
        read_bundle(_flag_encrypted(_rezip(content, add=[("panels/secret.png", _png())]), b"panels/secret.png"))


def test_a_zip_bomb_and_oversized_members_are_refused(run, monkeypatch):
    content = write_bundle(run)
    with pytest.raises(BundleError, match="zip bomb"):
        read_bundle(_rezip(content, replace={"data/points.csv": bytes(8 * 2**20)}))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as arrays:  # small packed, huge unpacked
        arrays.writestr("weights.npy", bytes(bundle.MAX_MODEL_BYTES + 1))
    with pytest.raises(BundleError, match="model.npz's arrays unpack to"):
        read_bundle(_rezip(content, replace={"model.npz": bomb.getvalue()}))
    monkeypatch.setattr(bundle, "MAX_PANEL_BYTES", 100)
    with pytest.raises(BundleError, match="panels/hits.png unpacks to"):
        read_bundle(_rezip(content, replace={"panels/hits.png": _png(40, 40)}))
    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", len(content) - 1)
    with pytest.raises(BundleError, match="at most"):
        read_bundle(content)


def test_a_bundle_of_a_newer_format_or_no_bundle_at_all_is_refused(run):
    content = write_bundle(run)
    with pytest.raises(BundleError, match="newer ZSOM"):
        read_bundle(_rezip(content, replace={"bundle.json": json.dumps({"kind": bundle.KIND, "format": 2})}))
    with pytest.raises(BundleError, match="not a ZSOM run bundle"):
        read_bundle(_rezip(content, replace={"bundle.json": b"{}"}))
    with pytest.raises(BundleError, match="lacks model.npz"):
        read_bundle(_rezip(content, drop={"model.npz"}))
    with pytest.raises(BundleError, match="not a zip archive"):
        read_bundle(b"PK\x03\x04 not really")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_bundle(_rezip(content, replace={"settings.json": b'{"sigma0": NaN}'}))


def _model_bytes(som, **arrays) -> bytes:
    buffer = io.BytesIO()
    som.save(buffer)
    with np.load(io.BytesIO(buffer.getvalue())) as saved:
        stored = {name: saved[name] for name in saved.files} | arrays
    out = io.BytesIO()
    np.savez(out, **stored)
    return out.getvalue()


def test_tampered_arrays_and_contents_that_disagree_are_refused(run):
    content = write_bundle(run)
    weights = run.model.weights_.copy()
    weights[0, 0, 0] = np.nan
    with pytest.raises(BundleError, match="not all finite"):
        read_bundle(_rezip(content, replace={"model.npz": _model_bytes(run.model, weights=weights)}))
    with pytest.raises(BundleError, match="do not fit"):
        read_bundle(_rezip(content, replace={"model.npz": _model_bytes(run.model, weights=weights[:3])}))
    objects = _model_bytes(run.model, weights=np.array([{}], dtype=object))  # would need unpickling
    with pytest.raises(BundleError, match="model.npz"):
        read_bundle(_rezip(content, replace={"model.npz": objects}))
    with pytest.raises(BundleError, match="8 epochs|has 7 epochs"):
        read_bundle(_rezip(content, replace={"metrics.csv": "epoch,mqe\n" + "".join(f"{e},1\n" for e in range(1, 8))}))
    with pytest.raises(BundleError, match="row 2 is not epoch 2"):
        read_bundle(_rezip(content, replace={"metrics.csv": "epoch,mqe\n1,1\n3,1\n"}))
    with pytest.raises(BundleError, match="is not a number"):
        read_bundle(_rezip(content, replace={"metrics.csv": "epoch,mqe\n1,=cmd|' /C calc'!A0\n"}))
    with pytest.raises(BundleError, match="SHA-256"):
        read_bundle(_rezip(content, replace={"data/points.csv": b"x,y\n9,9\n"}))
    with pytest.raises(BundleError, match="not a PNG"):
        read_bundle(_rezip(content, replace={"panels/hits.png": b"<script>alert(1)</script>"}))
    with pytest.raises(BundleError, match="features"):
        read_bundle(_rezip(content, replace={"data.json": json.dumps({**run.data, "features": 3})}))


def test_what_a_bundle_cannot_hold_is_refused_when_it_is_written(run):
    with pytest.raises(ValueError, match="PNG named"):
        write_bundle(RunBundle(**{**run.__dict__, "panels": {"../x": _png()}}))
    with pytest.raises(ValueError, match="data file's name"):
        write_bundle(RunBundle(**{**run.__dict__, "data_file": ("../../etc/passwd", b"")}))
    with pytest.raises(ValueError):
        write_bundle(RunBundle(**{**run.__dict__, "settings": {"sigma0": float("nan")}}))
