"""``load_table``: the bytes of an uploaded CSV, TSV, Parquet or XLSX file -> a typed table.

>>> table = load_table(data, "penguins.csv")  # doctest: +SKIP
>>> table.describe()                           # doctest: +SKIP
'344 rows, 8 columns: 5 numeric, 3 categorical'

The format comes from the file name's extension. CSV and TSV files are read as
spreadsheets export them: the separator, the decimal mark, the encoding and the header
row are detected, and each can be given instead. Every column gets a kind (``KINDS``).
Nothing is written to disk, executed or unpickled, and every problem with a file raises
``TableError`` with a message for the user.

Why pandas: one library reads CSV (with its C parser), Parquet (through pyarrow) and
Excel (through openpyxl) into one kind of frame. Parquet is read with pyarrow's own calls
only to check its strings before they reach the frame. This module is not imported by
``zsom_core``, so the engine stays free of pandas.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import math
import numbers
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from .text import format_bytes

MAX_COLUMNS = 1_000
MAX_CELLS = 20_000_000
# An .xlsx file is a zip of XML; its members' sizes are checked before openpyxl inflates
# any. The ratio is checked only above a floor: a small workbook costs nothing to inflate.
MAX_XLSX_UNPACKED_BYTES = 200 * 2**20
MAX_XLSX_COMPRESSION_RATIO = 100
XLSX_RATIO_FLOOR_BYTES = 10 * 2**20

EXTENSIONS = ("csv", "tsv", "parquet", "xlsx")
SEPARATORS = (",", ";", "\t", "|")
MISSING_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "?")

NUMERIC = "numeric"
CATEGORICAL = "categorical"
DATE = "date"
IDENTIFIER = "identifier"
TEXT = "text"
CONSTANT = "constant"
KINDS = (NUMERIC, CATEGORICAL, DATE, IDENTIFIER, TEXT, CONSTANT)

# A text column with at most this many distinct values (or 5% of the rows, if more) is categorical.
CATEGORICAL_MAX_LEVELS = 20
CATEGORICAL_MAX_SHARE = 0.05
# A text column of unique values is an identifier only past this many values: in a tiny
# table, distinct values are no sign of a key.
IDENTIFIER_MIN_VALUES = 10
# A column is a date column when this share of its values present parse in one format.
DATE_MIN_SHARE = 0.9

# Separator, decimal and header are detected on the text up to the first line break past this.
_SAMPLE_CHARS = 64 * 1024
# A CSV file is decoded, to check its encoding, in pieces of this many bytes.
_DECODE_CHUNK = 1 << 20
_SAMPLE_VALUES = 200
_LINE_BREAK = re.compile(r"\r\n?|\n")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_DECIMAL_POINT = re.compile(r"[+-]?\d*\.\d+(?:[eE][+-]?\d+)?")
_DATE_LIKE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
# Tried in this order; a date that reads either way (03/04/2024) is read day first.
_DATE_FORMATS = ("ISO8601", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d",
                 "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S")
# The compound document format of Excel 97-2003 (.xls), the usual file misnamed .xlsx.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAX_NAME_LENGTH = 120
_MAX_DETAIL_LENGTH = 160


class TableError(ValueError):
    """A table file could not be loaded; the message says which file and why, for the user."""


@dataclass(frozen=True)
class Dialect:
    """How a CSV or TSV file was read, detected or as the caller gave it.

    separator: one of ``SEPARATORS`` when detected.
    decimal: ``"."`` or ``","``.
    encoding: ``"utf-8"``, ``"cp1252"`` or ``"latin-1"`` when detected, else as given (a
        UTF-8 byte-order mark is dropped whatever the encoding).
    """

    separator: str
    decimal: str
    encoding: str


@dataclass(frozen=True, eq=False)
class Table:
    """A loaded table.

    frame: the data with a default index; numeric columns are float64 with NaN for missing
        values, date columns datetime64[us] with NaT, other columns as read.
    kinds: column name -> one of ``KINDS``, in the frame's column order.
    source_name: the file's base name, safe to show.
    format: the file's extension, one of ``EXTENSIONS``; ``"frame"`` for a table made from
        a data frame (``table_from_frame``).
    header: whether the first row gave the column names (always true for Parquet);
        without one the columns are ``column_1``, ``column_2``...
    dialect: how a CSV or TSV file was read; None for Parquet and XLSX.
    sheet: the worksheet read from an XLSX file; None for the other formats.
    """

    frame: pd.DataFrame
    kinds: dict[str, str]
    source_name: str
    format: str
    header: bool
    dialect: Dialect | None = None
    sheet: str | None = None

    def describe(self) -> str:
        """A one-line summary: ``"344 rows, 8 columns: 5 numeric, 3 categorical"``."""
        counts = Counter(self.kinds.values())
        rows, columns = self.frame.shape
        by_kind = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS if counts[kind])
        return f"{_plural(rows, 'row')}, {_plural(columns, 'column')}: {by_kind}"


def load_table(
    data: bytes,
    filename: str,
    *,
    separator: str | None = None,
    decimal: str | None = None,
    header: bool | None = None,
    encoding: str | None = None,
    sheet: str | int = 0,
    max_columns: int = MAX_COLUMNS,
    max_cells: int = MAX_CELLS,
) -> Table:
    """Parse a CSV, TSV, Parquet or XLSX file held in memory into a ``Table``.

    data: the file's bytes; their size limit is the caller's.
    filename: used only for its extension (any case) and, reduced to a safe base name, in messages.
    separator, decimal, encoding: for CSV and TSV; detected when None (a TSV's separator is a tab).
    header: whether the first row names the columns (CSV, TSV, XLSX); detected when None.
    sheet: the XLSX worksheet to read, by name or position; the first by default.
    max_columns, max_cells: the largest table accepted.

    Every problem with the file or with the options raises ``TableError`` (a ``ValueError``)
    whose message names the file and says what is wrong.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    if not isinstance(filename, str):
        raise TypeError(f"filename must be a string, got {type(filename).__name__}")
    for limit_name, limit in (("max_columns", max_columns), ("max_cells", max_cells)):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"{limit_name} must be a positive integer, got {limit!r}")
    base_name = _printable_base_name(filename)
    name = _shortened(base_name)
    _, dot, extension = base_name.rpartition(".")
    extension = extension.lower() if dot else ""
    if extension not in EXTENSIONS:
        accepted = ", ".join(f".{known}" for known in EXTENSIONS)
        found = f"'.{extension}' files are not tables it reads" if extension else "the file name has no extension"
        raise TableError(f"{name}: {found}; accepted: {accepted}")
    data = bytes(data)
    if not data:
        raise TableError(f"{name}: the file is empty")

    limits = (max_columns, max_cells)
    if extension == "parquet":
        return _load_parquet(data, name, limits)
    if extension == "xlsx":
        return _load_xlsx(data, name, sheet, header, limits)
    if separator is None and extension == "tsv":
        separator = "\t"
    return _load_delimited(data, name, extension, separator, decimal, header, encoding, limits)


# ---------------------------------------------------------------------------- CSV and TSV


def table_from_frame(frame: pd.DataFrame, name: str, *, max_columns: int = MAX_COLUMNS,
                     max_cells: int = MAX_CELLS) -> Table:
    """A data frame already in memory as a typed ``Table``, its columns' kinds detected as
    a file's are (column names become strings)."""
    frame = frame.rename(columns=str)
    if frame.columns.has_duplicates:
        raise TableError(f"{name}: the column names repeat: {sorted(set(frame.columns[frame.columns.duplicated()]))}")
    return _typed_table(frame, name, "frame", True, ".", (max_columns, max_cells))


def _load_delimited(data: bytes, name: str, extension: str, separator: str | None, decimal: str | None,
                    header: bool | None, encoding: str | None, limits: tuple[int, int]) -> Table:
    _check_separator_options(name, separator, decimal)
    head, encoding = _decode(data, name, encoding)
    whole = len(data) <= _DECODE_CHUNK  # the head is the whole file
    head = head.lstrip("\r\n")  # blank lines are skipped in any case; the sample must not be all blanks
    if not head.strip():
        raise TableError(f"{name}: the file holds no data" if whole else
                         f"{name}: the file's first {format_bytes(_DECODE_CHUNK)} hold no data")
    sample, truncated = _sample(head, more=not whole)
    action = f"read as a {extension.upper()} table"
    with _reading(name, action):  # the csv module refuses a field past 128 K characters
        separator = separator or _detect_separator(sample, truncated)
        rows = _sample_rows(sample, separator, truncated)
    decimal = decimal or _detect_decimal(rows, separator)
    header = _first_row_is_header(rows, decimal) if header is None else bool(header)
    width = max(len(row) for row in rows)
    _check_size(name, 0, width, limits)
    names = _column_names(rows[0] if header else [], width)
    with _reading(name, action):
        frame = _parse_delimited(data, encoding, separator, decimal, header, names)
    return _typed_table(frame, name, extension, header, decimal, limits,
                        dialect=Dialect(separator, decimal, encoding))


def _check_separator_options(name: str, separator: str | None, decimal: str | None) -> None:
    if separator is not None and (len(separator) != 1 or separator in '\r\n"'):
        raise TableError(f"{name}: the separator must be one character other than a quote or a line break, "
                         f"got {separator!r}")
    if decimal is not None and decimal not in (".", ","):
        raise TableError(f"{name}: the decimal mark must be '.' or ',', got {decimal!r}")
    if decimal is not None and decimal == separator:
        raise TableError(f"{name}: the decimal mark and the separator must differ, both are {decimal!r}")


def _decode(data: bytes, name: str, encoding: str | None) -> tuple[str, str]:
    """The text of the file's first ``_DECODE_CHUNK`` bytes (BOM removed) and the encoding
    that reads all of it. The file is decoded chunk by chunk, to check it, and never held
    as one string: the parser reads the bytes.

    Without an encoding: UTF-8, else cp1252 (what Excel writes on Windows), else Latin-1,
    which reads any bytes.
    """
    if encoding is not None:
        try:
            "".encode(encoding)  # refuses a codec that is not a text encoding (zlib, base64...)
        except LookupError:
            raise TableError(f"{name}: {encoding!r} is not a text encoding") from None
        try:
            head = _checked_head(data, name, encoding)
        except UnicodeDecodeError as error:
            raise TableError(f"{name}: the file is not {encoding} text (byte {data[error.start]:#04x} at "
                             f"position {error.start:,}); try another encoding") from None
    else:
        for encoding in ("utf-8", "cp1252", "latin-1"):  # Latin-1 reads any bytes: one of them succeeds
            try:
                head = _checked_head(data, name, encoding)
                break
            except UnicodeDecodeError:
                pass
    return head.removeprefix("\ufeff"), encoding


def _checked_head(data: bytes, name: str, encoding: str) -> str:
    """The text of ``data``'s first chunk, after decoding every chunk; ``UnicodeDecodeError``
    (its ``start`` a position in ``data``) where the bytes are not ``encoding``."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view, head = memoryview(data), ""
    for start in range(0, max(len(data), 1), _DECODE_CHUNK):
        pending = len(decoder.getstate()[0])
        try:
            text = decoder.decode(view[start:start + _DECODE_CHUNK], final=start + _DECODE_CHUNK >= len(data))
        except UnicodeDecodeError as error:
            raise UnicodeDecodeError(encoding, data, start - pending + error.start, start - pending + error.end,
                                     error.reason) from None
        if "\x00" in text:
            raise TableError(f"{name}: the file holds NUL characters, so it is not a text table "
                             f"(a UTF-16 export? save it as CSV UTF-8)")
        if start == 0:
            head = text
    return head


def _sample(text: str, more: bool) -> tuple[str, bool]:
    """The text up to the first line break past ``_SAMPLE_CHARS``, and whether more follows
    (``more``: the file goes on past ``text``)."""
    line_break = _LINE_BREAK.search(text, _SAMPLE_CHARS)
    if line_break is None or line_break.end() == len(text):
        return text, more
    return text[: line_break.end()], True


def _sample_rows(sample: str, separator: str, truncated: bool) -> list[list[str]]:
    """The sample's non-blank rows split at ``separator``, quotes respected.

    When the file goes on, the last row is dropped: a quoted line break may have cut it.
    """
    rows = [row for row in csv.reader(io.StringIO(sample, newline=""), delimiter=separator) if row]
    if truncated and len(rows) > 1:
        rows.pop()
    return rows


def _detect_separator(sample: str, truncated: bool) -> str:
    """The separator among ``SEPARATORS`` that splits the most sample rows into one number (> 1) of fields.

    On a tie the character rarer in data wins: a comma also appears in decimal numbers
    and in text, while a ';', tab or '|' that splits every row alike is the separator.
    A table of one column reads with a comma.
    """
    best, best_share = ",", 0.0
    for separator in ("\t", ";", "|", ","):
        widths = Counter(len(row) for row in _sample_rows(sample, separator, truncated))
        width, rows = widths.most_common(1)[0]
        share = rows / widths.total()
        if width > 1 and share > best_share:
            best, best_share = separator, share
    return best


def _detect_decimal(rows: list[list[str]], separator: str) -> str:
    """``","`` when numbers like ``1,5`` outnumber numbers like ``1.5`` (never with a comma separator)."""
    if separator == ",":
        return "."
    cells = [cell.strip() for row in rows for cell in row]
    commas = sum(1 for cell in cells if _DECIMAL_COMMA.fullmatch(cell))
    points = sum(1 for cell in cells if _DECIMAL_POINT.fullmatch(cell))
    return "," if commas > points else "."


def _parse_delimited(data: bytes, encoding: str, separator: str, decimal: str, header: bool,
                     names: list[str]) -> pd.DataFrame:
    """The table in ``data``, by pandas' C parser, from the bytes as given.

    Not by pyarrow's CSV reader: it fails on quoted line breaks past its first block, on
    short rows and on a file of one line without a line break, and on some of those
    failures pyarrow 14 aborts or hangs the process. On two cores the C parser is as fast.
    It parses in chunks (``low_memory``): a column whose chunks read as different types
    comes back as objects, which ``_typed_table`` types as it types any text column.
    """
    return pd.read_csv(io.BytesIO(data), engine="c", low_memory=True, sep=separator, decimal=decimal,
                       encoding="utf-8-sig" if encoding == "utf-8" else encoding,
                       header=0 if header else None, names=names,
                       na_values=list(MISSING_TOKENS), keep_default_na=False)


# ---------------------------------------------------------------------------- Parquet and XLSX


def _load_parquet(data: bytes, name: str, limits: tuple[int, int]) -> Table:
    # pyarrow 14.0.1 and later never unpickle a file's extension types (CVE-2023-47248).
    import pyarrow.parquet

    with _reading(name, "read as a Parquet file"):
        parquet_file = pyarrow.parquet.ParquetFile(io.BytesIO(data))
        _check_size(name, parquet_file.metadata.num_rows, len(parquet_file.schema_arrow.names), limits)
        arrow_table = parquet_file.read(use_pandas_metadata=True)
        # Checked here, bad UTF-8 in a string column fails now and not in whoever reads the column later.
        arrow_table.validate(full=True)
        # Column by column, each Arrow column freed once converted: the file's data is never
        # held twice, in Arrow and in pandas.
        frame = arrow_table.to_pandas(split_blocks=True, self_destruct=True)
        del arrow_table
    if not isinstance(frame.index, pd.RangeIndex):  # an index pandas stored is data, a range is not
        frame = frame.reset_index()
    frame = frame.set_axis(_column_names(list(frame.columns), frame.shape[1]), axis=1)
    return _typed_table(frame, name, "parquet", True, ".", limits)


def _load_xlsx(data: bytes, name: str, sheet: str | int, header: bool | None, limits: tuple[int, int]) -> Table:
    _check_workbook_archive(data, name)
    with _reading(name, "read as an Excel workbook"):
        with pd.ExcelFile(io.BytesIO(data), engine="openpyxl") as workbook:
            sheet_name = _sheet_name(name, workbook.sheet_names, sheet)
            cells = pd.read_excel(workbook, sheet_name=sheet_name, header=None, na_values=list(MISSING_TOKENS),
                                  keep_default_na=False)
    if cells.empty:
        raise TableError(f"{name}: the sheet '{sheet_name}' is empty")
    rows = cells.head(_SAMPLE_VALUES).to_numpy(dtype=object).tolist()
    header = _first_row_is_header(rows, ".") if header is None else bool(header)
    names = _column_names(rows[0] if header else [], cells.shape[1])
    frame = (cells.iloc[1:] if header else cells).set_axis(names, axis=1)
    return _typed_table(frame, name, "xlsx", header, ".", limits, sheet=sheet_name)


def _check_workbook_archive(data: bytes, name: str) -> None:
    """Refuse a file that is not a zip archive, or whose members would inflate past the limits.

    The sizes come from the archive's directory; Python's zipfile stops inflating a member
    at its stated size, so a member cannot grow past what is checked here.
    """
    if data.startswith(_OLE2_SIGNATURE):
        raise TableError(f"{name}: this is an Excel 97-2003 (.xls) workbook or an encrypted one; "
                         f"save it as .xlsx (unencrypted) or CSV")
    with _reading(name, "opened as an Excel workbook (an .xlsx file is a zip archive)"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    packed = sum(member.compress_size for member in members)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise TableError(f"{name}: the workbook unpacks to {format_bytes(unpacked)}; at most "
                         f"{format_bytes(MAX_XLSX_UNPACKED_BYTES)} can be loaded")
    if unpacked > XLSX_RATIO_FLOOR_BYTES and unpacked > MAX_XLSX_COMPRESSION_RATIO * packed:
        raise TableError(f"{name}: the workbook unpacks to {format_bytes(unpacked)} from {format_bytes(packed)}, "
                         f"more than {MAX_XLSX_COMPRESSION_RATIO} times its size: refused as a zip bomb")


def _sheet_name(name: str, sheet_names: list[str], sheet: str | int) -> str:
    listed = ", ".join(f"'{sheet_name}'" for sheet_name in sheet_names)
    if isinstance(sheet, bool) or not isinstance(sheet, (str, int)):
        raise TableError(f"{name}: a sheet is chosen by name or position, got {sheet!r}")
    if isinstance(sheet, int):
        if not 0 <= sheet < len(sheet_names):
            raise TableError(f"{name}: there is no sheet at position {sheet}; "
                             f"the workbook has {_plural(len(sheet_names), 'sheet')}: {listed}")
        return sheet_names[sheet]
    if sheet not in sheet_names:
        raise TableError(f"{name}: there is no sheet named '{sheet}'; the workbook's sheets: {listed}")
    return sheet


# ---------------------------------------------------------------------------- header and names


def _first_row_is_header(rows: Sequence[Sequence[object]], decimal: str) -> bool:
    """Whether the first row names the columns rather than holding data.

    It does when none of its cells is a number and some column below holds only numbers.
    In a table with no such column, it does when it has no blank cell and none of its
    values recurs below in its column (a name is not one of the column's values).
    """
    first, rest = rows[0], rows[1:]
    if any(_is_number(cell, decimal) for cell in first):
        return False
    below = [[row[position] for row in rest if position < len(row) and not _is_missing(row[position])]
             for position in range(len(first))]
    if any(values and all(_is_number(value, decimal) for value in values) for values in below):
        return True
    return not any(_is_missing(cell) or cell in values for cell, values in zip(first, below))


def _is_number(cell: object, decimal: str) -> bool:
    if isinstance(cell, str):
        text = cell.strip()
        return bool(_NUMBER.fullmatch(text.replace(",", ".") if decimal == "," else text))
    return isinstance(cell, numbers.Real) and not isinstance(cell, bool) and not math.isnan(cell)


def _is_missing(cell: object) -> bool:
    if isinstance(cell, str):
        return cell in MISSING_TOKENS
    return cell is None or cell is pd.NA or cell is pd.NaT or (isinstance(cell, float) and math.isnan(cell))


def _column_names(header_cells: Sequence[object], width: int) -> list[str]:
    """``width`` unique names: the header's cells stripped, blanks as ``column_N``, repeats as ``a_2``, ``a_3``."""
    names: list[str] = []
    taken: set[str] = set()
    for position in range(width):
        cell = header_cells[position] if position < len(header_cells) else None
        text = "" if not isinstance(cell, str) and _is_missing(cell) else str(cell).strip()
        base = text or f"column_{position + 1}"
        name, suffix = base, 2
        while name in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name)
        names.append(name)
    return names


# ---------------------------------------------------------------------------- column kinds


def _typed_table(frame: pd.DataFrame, name: str, extension: str, header: bool, decimal: str,
                 limits: tuple[int, int], dialect: Dialect | None = None, sheet: str | None = None) -> Table:
    rows, columns = frame.shape
    if columns == 0:
        raise TableError(f"{name}: the table has no columns")
    _check_size(name, rows, columns, limits)
    if rows == 0:
        raise TableError(f"{name}: the table has column names but no rows")
    frame = frame.reset_index(drop=True)
    typed: dict[str, pd.Series] = {}
    kinds: dict[str, str] = {}
    for position, column_name in enumerate(frame.columns):
        kinds[column_name], typed[column_name] = _column_kind(frame.iloc[:, position], decimal)
    return Table(pd.DataFrame(typed, copy=False), kinds, name, extension, header, dialect, sheet)


def _column_kind(column: pd.Series, decimal: str) -> tuple[str, pd.Series]:
    """A column's kind and its values as the table keeps them: numbers as float64, dates as datetime64[us]."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.astype(object)
    if is_bool_dtype(column.dtype):
        kind = CATEGORICAL
    elif is_numeric_dtype(column.dtype):
        kind, column = NUMERIC, _as_float(column)
    elif is_datetime64_any_dtype(column.dtype):
        kind, column = DATE, _in_microseconds(column)
    else:
        return _kind_of_values(column, decimal)
    return _unless_constant(kind, column)


def _kind_of_values(column: pd.Series, decimal: str) -> tuple[str, pd.Series]:
    """The kind of a column of Python objects or strings, converted where it holds numbers or dates."""
    inferred = infer_dtype(column, skipna=True)
    if inferred == "boolean":
        return _unless_constant(CATEGORICAL, column)
    numbers_read = _as_numbers(column, decimal, inferred == "string")
    if numbers_read is not None:
        return _unless_constant(NUMERIC, numbers_read)
    dates = _as_dates(column)
    if dates is not None:
        return _unless_constant(DATE, dates)
    present = int(column.notna().sum())
    distinct = _distinct_count(column)
    if distinct <= 1:
        return CONSTANT, column
    if present > IDENTIFIER_MIN_VALUES and distinct == present:
        return IDENTIFIER, column
    if distinct < present and distinct <= max(CATEGORICAL_MAX_LEVELS, CATEGORICAL_MAX_SHARE * len(column)):
        return CATEGORICAL, column
    return TEXT, column


def _unless_constant(kind: str, column: pd.Series) -> tuple[str, pd.Series]:
    if kind == NUMERIC:  # ordered values: constant when the least is the greatest, no hashing nor copy
        values = column.to_numpy()
        constant = bool(np.isnan(values).all()) or np.nanmin(values) == np.nanmax(values)
    elif kind == DATE:
        present = column.dropna()
        constant = present.empty or present.min() == present.max()
    else:
        constant = _distinct_count(column) <= 1
    return (CONSTANT if constant else kind), column


def _as_float(column: pd.Series) -> pd.Series:
    if column.dtype == np.float64:
        return column  # shared, not copied: a large table is mostly such columns
    return pd.Series(column.to_numpy(dtype="float64", na_value=np.nan), index=column.index)


def _as_numbers(column: pd.Series, decimal: str, is_text: bool) -> pd.Series | None:
    """The column as float64 when every value present reads as a number, else None.

    A spread sample is tried first, so a text column is turned down without reading it all.
    """
    present = column.dropna()
    if present.empty:
        return None

    def read(values: pd.Series) -> pd.Series | None:
        if is_text and decimal == ",":
            values = values.str.replace(",", ".", regex=False)
        try:
            return pd.to_numeric(values, errors="coerce")
        except (TypeError, ValueError):  # lists or records (a nested Parquet column) are no numbers
            return None

    sample = read(_spread_sample(present))
    if sample is None or sample.isna().any():
        return None
    read_all = read(column)
    if read_all is None or int(read_all.notna().sum()) < len(present):
        return None
    return _as_float(read_all)


def _as_dates(column: pd.Series) -> pd.Series | None:
    """The column as dates when ``DATE_MIN_SHARE`` of its values present parse in one format, else None.

    Each format is tried on a spread sample first: pandas parses a whole column fast in a
    known format, while its guessing value by value is slow on a big column.
    """
    present = column.dropna()
    if present.empty:
        return None
    sample = _spread_sample(present)
    if sample.map(_looks_like_date).mean() < DATE_MIN_SHARE:
        return None
    for date_format in _DATE_FORMATS:
        parsed = _to_dates(sample, date_format)
        if parsed is None or parsed.notna().mean() < DATE_MIN_SHARE:
            continue
        dates = _to_dates(column, date_format)
        if dates is not None and dates.notna().sum() >= DATE_MIN_SHARE * len(present):
            return _in_microseconds(dates)
    return None


def _in_microseconds(dates: pd.Series) -> pd.Series:
    """Dates in one unit whatever read them: seconds, microseconds or nanoseconds by format and version."""
    return dates.dt.as_unit("us")


def _looks_like_date(value: object) -> bool:
    if isinstance(value, str):
        return bool(_DATE_LIKE.match(value.strip()))
    return isinstance(value, datetime.date)


def _to_dates(values: pd.Series, date_format: str) -> pd.Series | None:
    try:
        return pd.to_datetime(values, format=date_format, errors="coerce")
    except (TypeError, ValueError, OverflowError):  # mixed time zones, or values of no date type
        return None


def _spread_sample(values: pd.Series) -> pd.Series:
    """About ``_SAMPLE_VALUES`` values spread over the whole column, not just its first rows."""
    return values.iloc[:: max(1, len(values) // _SAMPLE_VALUES)]


def _distinct_count(column: pd.Series) -> int:
    if isinstance(column.dtype, pd.StringDtype) and column.dtype.storage == "pyarrow":
        return _distinct_arrow_strings(column)
    try:
        return int(column.nunique())
    except TypeError:  # lists and records (a nested Parquet column) do not hash: count their texts
        return int(column.dropna().astype(str).nunique())


def _distinct_arrow_strings(column: pd.Series) -> int:
    """The distinct values of an Arrow string column, counted on a sorted copy: a hash
    table of every value (pandas' ``nunique``) takes ten times the column's memory."""
    import pyarrow
    import pyarrow.compute

    values = pyarrow.array(column.array)
    if isinstance(values, pyarrow.ChunkedArray):
        values = values.combine_chunks()
    values = values.drop_null()
    if len(values) == 0:
        return 0
    ordered = values.take(pyarrow.compute.array_sort_indices(values))
    changes = pyarrow.compute.sum(pyarrow.compute.not_equal(ordered[1:], ordered[:-1])).as_py()
    return 1 + int(changes or 0)


# ---------------------------------------------------------------------------- limits and messages


def _check_size(name: str, rows: int, columns: int, limits: tuple[int, int]) -> None:
    max_columns, max_cells = limits
    if columns > max_columns:
        raise TableError(f"{name}: {columns:,} columns; at most {max_columns:,} can be loaded")
    if rows * columns > max_cells:
        raise TableError(f"{name}: {rows:,} rows x {columns:,} columns = {rows * columns:,} cells; "
                         f"at most {max_cells:,} can be loaded")


@contextmanager
def _reading(name: str, action: str) -> Iterator[None]:
    """Turn a parser's failure into a ``TableError`` that says the file could not be ``action``.

    pandas, pyarrow, openpyxl and zipfile raise many types on damaged or hostile bytes
    (ParserError, ArrowInvalid, BadZipFile, KeyError, ...); none may reach a user as a traceback.
    """
    try:
        yield
    except TableError:
        raise
    except Exception as error:
        raise TableError(f"{name}: the file could not be {action} ({_error_detail(error)})") from error


def _error_detail(error: BaseException) -> str:
    """The first line of a library's message, printable and short, or the error's type."""
    lines = str(error).strip().splitlines()
    detail = "".join(ch for ch in lines[0] if unicodedata.category(ch)[0] != "C") if lines else ""
    if len(detail) > _MAX_DETAIL_LENGTH:
        detail = detail[: _MAX_DETAIL_LENGTH - 3] + "..."
    return detail or type(error).__name__


def _printable_base_name(filename: str) -> str:
    """The file's base name without control or format characters, which could forge a line
    break or reverse the text in a message."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()


def _shortened(base_name: str) -> str:
    """The name to show in messages: shortened when long, ``"upload"`` when empty."""
    if len(base_name) > _MAX_NAME_LENGTH:
        return base_name[: _MAX_NAME_LENGTH - 3] + "..."
    return base_name or "upload"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"
