"""Files a user opens elsewhere: every row of the data with its unit, as a CSV that a
spreadsheet reads as data. pandas and pyarrow are imported by whoever imports this
module, never by ``import zsom_core``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv

from .grid import Grid

ASSIGNMENT_COLUMNS = ("bmu_x", "bmu_y", "bmu_index", "bmu_distance", "cluster", "anomaly_score", "flagged")
# The OWASP CSV-injection rule: a cell starting with one of these is a formula to a
# spreadsheet (tab and carriage return too, which some of them strip first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def assignments_frame(original: pd.DataFrame, bmus, grid: Grid, distances, *, clusters=None,
                      anomaly_scores=None, flagged=None) -> pd.DataFrame:
    """Every column of ``original``, then each row's unit (``bmu_x``, ``bmu_y``, its flat
    ``bmu_index`` = x * height + y; -1 and empty for a row without one), ``bmu_distance``,
    and where given the unit's ``cluster`` (numbered from 1, as the page shows them: pass
    the units' clusters), ``anomaly_score`` and ``flagged``. An original column named like
    one of these keeps its name; the added one gets ``_som`` after it."""
    bmus = np.asarray(bmus, dtype=np.int64)
    if len(bmus) != len(original):
        raise ValueError(f"one unit per row: {len(original)} rows and {len(bmus)} units")
    has_unit = bmus >= 0
    x, y = np.divmod(np.where(has_unit, bmus, 0), grid.height)
    added = {"bmu_x": pd.array(np.where(has_unit, x, -1), dtype="Int64"),
             "bmu_y": pd.array(np.where(has_unit, y, -1), dtype="Int64"),
             "bmu_index": pd.array(bmus, dtype="Int64"),
             "bmu_distance": np.asarray(distances, dtype=np.float64)}
    for column in ("bmu_x", "bmu_y", "bmu_index"):
        added[column][~has_unit] = pd.NA
    if clusters is not None:
        unit_clusters = np.asarray(clusters, dtype=np.int64)
        added["cluster"] = pd.array(np.where(has_unit, unit_clusters[np.where(has_unit, bmus, 0)] + 1, 0),
                                    dtype="Int64")
        added["cluster"][~has_unit] = pd.NA
    if anomaly_scores is not None:
        added["anomaly_score"] = np.asarray(anomaly_scores, dtype=np.float64)
    if flagged is not None:
        added["flagged"] = np.asarray(flagged, dtype=bool)
    taken = set(map(str, original.columns))
    frame = original.reset_index(drop=True).copy()
    for name, values in added.items():
        column = name
        while column in taken:
            column += "_som"
        taken.add(column)
        frame[column] = values
    return frame


def neutralised(values: pd.Series) -> pd.Series:
    """A text column with every cell that a spreadsheet would run as a formula prefixed
    with a single quote, so that it shows as the text it is."""
    text = values.astype("string")
    risky = text.str.startswith(FORMULA_STARTS).fillna(False).to_numpy(dtype=bool)
    if not risky.any():
        return values
    out = values.astype(object).copy()
    out[risky] = "'" + text[risky].astype(str)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV, safe to open in a spreadsheet: text cells that start like
    a formula are neutralised (``neutralised``); numbers, in numeric columns, are written
    as they are (a negative number is data, not a formula). Missing values are empty.
    Written by pyarrow's CSV writer, ten times pandas' speed on a large table."""
    columns = {}
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            values = neutralised(values).astype("string")
        columns[f"c{position}"] = values
    table = pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)
    table = table.rename_columns([_safe_text(str(name)) for name in frame.columns])
    buffer = pa.BufferOutputStream()
    pyarrow.csv.write_csv(table, buffer)
    return buffer.getvalue().to_pybytes()


def _safe_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text
