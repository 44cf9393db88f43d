"""load_table: real exported tables, generated CSV dialects, Parquet and XLSX, limits and hostile bytes."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zsom_core import tables
from zsom_core.tables import (
    CATEGORICAL,
    CONSTANT,
    DATE,
    IDENTIFIER,
    KINDS,
    MISSING_TOKENS,
    NUMERIC,
    SEPARATORS,
    TEXT,
    Table,
    TableError,
    load_table,
)

# The shared test data lives next to the repository: <repo>/../shared/testdata/tables.
TABLE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "testdata" / "tables"

# The columns that are not numeric, as read in the files and their README; every other
# column must hold only numbers and missing values, which the csv module checks below.
REAL_FILES = {
    "penguins.csv": {"species": CATEGORICAL, "island": CATEGORICAL, "sex": CATEGORICAL},
    "iris.csv": {"species": CATEGORICAL},
    "tips.csv": {"sex": CATEGORICAL, "smoker": CATEGORICAL, "day": CATEGORICAL, "time": CATEGORICAL},
    "car_crashes.csv": {"abbrev": IDENTIFIER},
    # 305 distinct names in 398 rows: free text, neither unique nor a few levels.
    "mpg.csv": {"origin": CATEGORICAL, "name": TEXT},
}

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="session")
def table_dir() -> Path:
    """The shared folder of real tables; tests using it skip when it is absent."""
    if not TABLE_DIR.is_dir():
        pytest.skip(f"shared table test data not found at {TABLE_DIR.resolve()}")
    return TABLE_DIR


def read_with_csv_module(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a comma-separated file, read by the standard library alone."""
    with path.open(newline="", encoding="utf-8") as file:
        header, *rows = csv.reader(file)
    return header, rows


def is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------- real files


def test_the_shared_folder_has_the_tables_its_readme_lists(table_dir):
    assert set(REAL_FILES) <= {path.name for path in table_dir.glob("*.csv")}


@pytest.mark.parametrize("file_name", sorted(REAL_FILES))
def test_each_real_file_loads_with_the_counts_the_csv_module_reads(file_name, table_dir):
    header, rows = read_with_csv_module(table_dir / file_name)
    table = load_table((table_dir / file_name).read_bytes(), file_name)

    assert isinstance(table, Table)
    assert (table.source_name, table.format, table.header) == (file_name, "csv", True)
    assert (table.dialect.separator, table.dialect.decimal, table.dialect.encoding) == (",", ".", "utf-8")
    assert list(table.frame.columns) == header
    assert len(table.frame) == len(rows)
    expected_kinds = {name: REAL_FILES[file_name].get(name, NUMERIC) for name in header}
    assert table.kinds == expected_kinds
    for position, name in enumerate(header):
        cells = [row[position] for row in rows]
        missing = [cell in MISSING_TOKENS for cell in cells]
        assert table.frame[name].isna().tolist() == missing, name
        if expected_kinds[name] == NUMERIC:
            assert all(is_float(cell) for cell, gone in zip(cells, missing) if not gone), name
            assert table.frame[name].dtype == np.float64
            expected = [np.nan if gone else float(cell) for cell, gone in zip(cells, missing)]
            # Exact from pandas 3 on; pandas 2's parser may be one unit in the last place off.
            np.testing.assert_allclose(table.frame[name].to_numpy(), expected, rtol=1e-15, atol=0)
        else:
            assert table.frame[name].dropna().tolist() == [cell for cell, gone in zip(cells, missing) if not gone]


def test_penguins_summary_and_missing_values(table_dir):
    table = load_table((table_dir / "penguins.csv").read_bytes(), "penguins.csv")
    _, rows = read_with_csv_module(table_dir / "penguins.csv")

    assert table.describe() == "344 rows, 8 columns: 5 numeric, 3 categorical"
    assert int(table.frame.isna().to_numpy().sum()) == sum(cell == "NA" for row in rows for cell in row)
    measurements = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    all_missing = sum(all(row[position] == "NA" for position in range(2, 6)) for row in rows)
    assert int(table.frame[measurements].isna().all(axis=1).sum()) == all_missing == 2


def test_mpg_horsepower_is_numeric_with_its_blank_cells_missing(table_dir):
    _, rows = read_with_csv_module(table_dir / "mpg.csv")
    table = load_table((table_dir / "mpg.csv").read_bytes(), "mpg.csv")

    blanks = sum(row[3] == "" for row in rows)
    assert blanks > 0
    assert table.kinds["horsepower"] == NUMERIC and int(table.frame["horsepower"].isna().sum()) == blanks


# ---------------------------------------------------------------------------- generated CSV dialects

CITIES = ["Zürich", "café", "São Paulo"]
ROWS = [
    {"city": CITIES[i % 3], "value": (i - 5) * 1.25, "count": i * 7, "label": f"item {i}"} for i in range(12)
]
KINDS_OF_ROWS = {"city": CATEGORICAL, "value": NUMERIC, "count": NUMERIC, "label": IDENTIFIER}


def write_delimited(rows: list[dict], separator: str = ",", decimal: str = ".", header: bool = True) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    if header:
        writer.writerow(rows[0])
    for row in rows:
        writer.writerow([str(value).replace(".", decimal) if isinstance(value, float) else value
                         for value in row.values()])
    return buffer.getvalue()


def assert_holds_rows(table: Table, rows: list[dict], kinds: dict[str, str] = KINDS_OF_ROWS) -> None:
    expected = pd.DataFrame(rows)
    assert list(table.frame.columns) == list(expected.columns)
    assert table.kinds == kinds
    for name in expected.columns:
        if kinds[name] == NUMERIC:
            np.testing.assert_array_equal(table.frame[name].to_numpy(), expected[name].to_numpy(dtype=float))
        else:
            assert table.frame[name].tolist() == expected[name].tolist()


@pytest.mark.parametrize("separator", SEPARATORS)
def test_every_separator_is_detected(separator):
    table = load_table(write_delimited(ROWS, separator).encode(), "cities.csv")

    assert table.dialect.separator == separator and table.dialect.decimal == "." and table.header
    assert_holds_rows(table, ROWS)


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_decimal_comma_is_detected(separator):
    text = write_delimited(ROWS, separator, decimal=",")
    assert "-6,25" in text

    table = load_table(text.encode(), "cities.csv")

    assert (table.dialect.separator, table.dialect.decimal) == (separator, ",")
    assert_holds_rows(table, ROWS)


def test_a_semicolon_table_of_decimal_commas_without_header_splits_at_the_semicolons():
    table = load_table(b"1,5;2,5\n3,25;-4,0\n", "numbers.csv")

    assert (table.dialect.separator, table.dialect.decimal, table.header) == (";", ",", False)
    assert table.frame.to_numpy().tolist() == [[1.5, 2.5], [3.25, -4.0]]


def test_semicolons_inside_comma_separated_text_do_not_make_a_separator():
    rows = [{"id": i, "note": f"a; b; {i}"} for i in range(5)]
    table = load_table(write_delimited(rows).encode(), "notes.csv")

    assert table.dialect.separator == ","
    assert table.frame["note"].tolist() == [row["note"] for row in rows]


def test_a_tsv_file_is_read_with_tabs_and_separator_overrides_it():
    text = write_delimited(ROWS, "\t")
    assert load_table(text.encode(), "cities.TSV").dialect.separator == "\t"
    assert load_table(text.encode(), "cities.tsv").format == "tsv"
    forced = load_table(write_delimited(ROWS, "|").encode(), "cities.tsv", separator="|")
    assert_holds_rows(forced, ROWS)


def test_a_utf8_byte_order_mark_is_dropped():
    table = load_table(b"\xef\xbb\xbf" + write_delimited(ROWS).encode(), "bom.csv")

    assert table.dialect.encoding == "utf-8"
    assert_holds_rows(table, ROWS)


def test_latin1_text_is_read_as_cp1252_with_accented_names():
    rows = [{"Straße": CITIES[i % 3], "Größe": float(i), "café": f"über {i}"} for i in range(12)]
    data = write_delimited(rows, ";").encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    table = load_table(data, "städte.csv")

    assert table.dialect.encoding == "cp1252"
    assert_holds_rows(table, rows, {"Straße": CATEGORICAL, "Größe": NUMERIC, "café": IDENTIFIER})


def test_bytes_cp1252_leaves_undefined_are_read_as_latin1():
    table = load_table("name,x\nZürich\x81,1\nb,2\n".encode("latin-1"), "odd.csv")

    assert table.dialect.encoding == "latin-1"
    assert table.frame["name"].tolist() == ["Zürich\x81", "b"]


def test_an_encoding_can_be_given_and_a_wrong_one_is_refused():
    data = write_delimited(ROWS).encode("cp1252")

    assert_holds_rows(load_table(data, "cities.csv", encoding="latin-1"), ROWS)
    assert load_table(data, "cities.csv", encoding="cp1252").dialect.encoding == "cp1252"
    with pytest.raises(TableError, match=r"cities.csv: the file is not utf-8 text \(byte 0xfc"):
        load_table(data, "cities.csv", encoding="utf-8")
    with pytest.raises(TableError, match="'zlib' is not a text encoding"):
        load_table(data, "cities.csv", encoding="zlib")


@pytest.mark.parametrize("separator", SEPARATORS)
def test_quoted_fields_keep_separators_quotes_and_line_breaks(separator):
    notes = ['Main St, 5\nApt; 2 | 3\tend', 'He said "hi"', "two\r\nlines", ""]
    rows = [{"n": float(i), "note": note or None} for i, note in enumerate(notes)]
    table = load_table(write_delimited(rows, separator).encode(), "quoted.csv")

    assert table.dialect.separator == separator
    assert table.frame["note"].tolist()[:3] == notes[:3] and pd.isna(table.frame["note"].iloc[3])
    assert table.frame["n"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_quoted_line_breaks_past_the_sample_of_a_big_file():
    # Past the sample that sets the dialect, and past 1 MB (pyarrow's reader fails there: it
    # splits a file in blocks at line breaks, quoted or not).
    rows = [{"id": float(i), "address": f"street {i}\nflat {i % 7}", "zone": "abc"[i % 3]} for i in range(60_000)]
    text = write_delimited(rows)
    assert len(text) > 2**20

    table = load_table(text.encode(), "addresses.csv")

    assert table.dialect.separator == ","
    assert len(table.frame) == len(rows)
    assert table.frame["address"].iloc[-1] == "street 59999\nflat 2"
    assert table.kinds == {"id": NUMERIC, "address": IDENTIFIER, "zone": CATEGORICAL}


@pytest.mark.parametrize(("data", "values"), [
    (b"a,b\n1,2", [[1.0, 2.0]]),
    (b"1,2", [[1.0, 2.0]]),
    (b"1e5x\t2", [["1e5x", 2.0]]),
    (b"a,b\n1,2\n3", [[1.0, 2.0], [3.0, None]]),
])
def test_files_without_a_final_line_break(data, values):
    # pyarrow 14's CSV reader aborts or hangs the process on some of these; pandas' C parser reads them.
    table = load_table(data, "short.csv")

    assert table.frame.astype(object).where(table.frame.notna(), None).to_numpy().tolist() == values


def test_a_field_past_the_csv_modules_limit_is_refused():
    with pytest.raises(TableError, match=r"^huge.csv: the file could not be read as a CSV table \(field larger"):
        load_table(("a,b\n1," + "x" * 200_000 + "\n").encode(), "huge.csv")


def test_an_unclosed_quote_is_refused():
    with pytest.raises(TableError, match=r"^open.csv: the file could not be read as a CSV table \(.*EOF inside string"):
        load_table(b'x\n"1', "open.csv")


def test_a_table_of_numbers_without_header_gets_generated_names():
    table = load_table(b"1,2,3\n4,5,6\n7,8,9.5\n", "plain.csv")

    assert not table.header
    assert list(table.frame.columns) == ["column_1", "column_2", "column_3"]
    assert table.frame.to_numpy().tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9.5]]


def test_the_header_can_be_forced_either_way():
    forced_names = load_table(b"1,2\n3,4\n", "plain.csv", header=True)
    assert list(forced_names.frame.columns) == ["1", "2"] and len(forced_names.frame) == 1

    forced_data = load_table(write_delimited(ROWS).encode(), "cities.csv", header=False)
    assert not forced_data.header and len(forced_data.frame) == len(ROWS) + 1
    assert forced_data.frame["column_1"].iloc[0] == "city"
    assert forced_data.kinds["column_2"] != NUMERIC


def test_a_text_table_has_a_header_unless_its_first_row_recurs_below():
    with_header = load_table(b"city,country\nParis,France\nLyon,France\n", "places.csv")
    assert with_header.header and list(with_header.frame.columns) == ["city", "country"]

    without = load_table(b"Nice,France\nParis,France\nLyon,France\n", "places.csv")
    assert not without.header and without.frame["column_2"].tolist() == ["France"] * 3


@pytest.mark.parametrize("token", MISSING_TOKENS)
def test_each_missing_token_reads_as_missing(token):
    text = f"x;y;label\n1,5;{token};a\n2,5;3;{token}\n4;5;a\n"
    table = load_table(text.encode(), "tokens.csv")

    assert table.kinds["y"] == NUMERIC
    assert table.frame["y"].isna().tolist() == [True, False, False]
    assert table.frame["label"].isna().tolist() == [False, True, False]
    assert table.frame["x"].tolist() == [1.5, 2.5, 4.0]


def test_duplicate_and_blank_names_are_made_unique():
    table = load_table(b"a,a,,b,a\n1,2,3,4,5\n6,7,8,9,10\n", "names.csv")

    assert list(table.frame.columns) == ["a", "a_2", "column_3", "b", "a_3"]


def test_rows_wider_than_the_header_get_generated_names():
    table = load_table(b"a,b\n1,2,\n3,4,\n", "trailing.csv")

    assert list(table.frame.columns) == ["a", "b", "column_3"]
    assert table.kinds["column_3"] == CONSTANT


def test_a_long_cell_of_digits_is_read_in_linear_time():
    # A number pattern with two ways to split a run of digits takes quadratic time to
    # turn such a cell down: minutes for this one.
    started = time.perf_counter()
    table = load_table(("a,b\n" + "1" * 100_000 + "x,2\n3,4\n").encode(), "long.csv")

    assert time.perf_counter() - started < 2.0
    assert table.header and table.kinds["b"] == NUMERIC


def test_one_column_and_old_mac_line_ends():
    assert load_table(b"x\n1\n2\n3\n", "one.csv").frame["x"].tolist() == [1.0, 2.0, 3.0]
    assert load_table(b"x,y\r1,2\r3,4\r", "mac.csv").frame["y"].tolist() == [2.0, 4.0]


# ---------------------------------------------------------------------------- kinds


def test_kinds_of_dates_booleans_constants_text_and_identifiers():
    n = 40
    frame = pd.DataFrame({
        "iso": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "day_first": [f"{1 + i % 28:02d}/03/2024" for i in range(n)],
        "month_first": [f"03/{13 + i % 15:02d}/2024" for i in range(n)],
        "flag": ["true", "false"] * (n // 2),
        "same": ["x"] * n,
        "empty": [""] * n,
        "number_once": [1.0] * n,
        "words": [f"word {i % 30}" for i in range(n)],
        "key": [f"k{i}" for i in range(n)],
        "size": [i % 4 for i in range(n)],
    })
    table = load_table(frame.to_csv(index=False).encode(), "kinds.csv")

    assert table.kinds == {"iso": DATE, "day_first": DATE, "month_first": DATE, "flag": CATEGORICAL,
                           "same": CONSTANT, "empty": CONSTANT, "number_once": CONSTANT, "words": TEXT,
                           "key": IDENTIFIER, "size": NUMERIC}
    assert table.frame["iso"].dtype == "datetime64[us]" and table.frame["month_first"].dtype == "datetime64[us]"
    assert table.frame["iso"].dt.day.tolist() == [1 + i % 28 for i in range(n)]
    assert table.frame["day_first"].dt.month.eq(3).all()
    assert table.frame["month_first"].dt.day.tolist() == [13 + i % 15 for i in range(n)]
    assert table.describe() == "40 rows, 10 columns: 1 numeric, 1 categorical, 3 date, 1 identifier, 1 text, 3 constant"


def test_a_date_column_allows_a_tenth_of_its_values_unreadable():
    mostly = [f"2024-02-{1 + i:02d}" for i in range(19)] + ["soon"]
    half = [f"2024-02-{1 + i:02d}" for i in range(10)] + [f"later {i}" for i in range(10)]
    table = load_table(pd.DataFrame({"mostly": mostly, "half": half}).to_csv(index=False).encode(), "dates.csv")

    assert table.kinds["mostly"] == DATE and table.frame["mostly"].isna().tolist() == [False] * 19 + [True]
    assert table.kinds["half"] != DATE and table.frame["half"].tolist() == half


def test_a_small_table_of_unique_words_is_text_and_few_repeated_ones_categorical():
    table = load_table(b"w,c,x\none,a,1\ntwo,a,2\nthree,b,3\n", "small.csv")

    assert table.kinds == {"w": TEXT, "c": CATEGORICAL, "x": NUMERIC}


# ---------------------------------------------------------------------------- Parquet and XLSX


def typed_frame() -> pd.DataFrame:
    n = 30
    return pd.DataFrame({
        "x": np.linspace(0.0, 1.0, n),
        "count": pd.array([i if i % 5 else None for i in range(n)], dtype="Int64"),
        "small": np.arange(n, dtype=np.uint8),
        "flag": [i % 2 == 0 for i in range(n)],
        "group": pd.Categorical(["a", "b", "c"] * (n // 3)),
        "when": pd.date_range("2024-01-01", periods=n, freq="D"),
        "name": [f"sample {i}" for i in range(n)],
        "note": [None if i % 4 == 0 else f"note {i % 9}" for i in range(n)],
    })


TYPED_KINDS = {"x": NUMERIC, "count": NUMERIC, "small": NUMERIC, "flag": CATEGORICAL, "group": CATEGORICAL,
               "when": DATE, "name": IDENTIFIER, "note": CATEGORICAL}


def parquet_bytes(frame: pd.DataFrame, **options) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", **options)
    return buffer.getvalue()


def xlsx_bytes(sheets: dict[str, pd.DataFrame], header: bool = True) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for sheet_name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=sheet_name, index=False, header=header)
    return buffer.getvalue()


def assert_typed_frame(table: Table, original: pd.DataFrame) -> None:
    assert table.kinds == TYPED_KINDS
    for name in ("x", "count", "small"):
        assert table.frame[name].dtype == np.float64
        # openpyxl writes a float in 16 significant digits (Excel keeps 15): the last bit may change.
        np.testing.assert_allclose(table.frame[name].to_numpy(),
                                   original[name].to_numpy(dtype="float64", na_value=np.nan), rtol=1e-15)
    assert table.frame["count"].isna().sum() == original["count"].isna().sum() == 6
    assert table.frame["flag"].tolist() == original["flag"].tolist()
    assert table.frame["group"].tolist() == original["group"].tolist()
    assert table.frame["when"].dtype == "datetime64[us]" and (table.frame["when"] == original["when"]).all()
    assert table.frame["name"].tolist() == original["name"].tolist()
    assert table.frame["note"].isna().tolist() == original["note"].isna().tolist()


def test_parquet_round_trip():
    original = typed_frame()
    table = load_table(parquet_bytes(original), "typed.PARQUET")

    assert (table.format, table.header, table.dialect, table.sheet) == ("parquet", True, None, None)
    assert_typed_frame(table, original)


def test_parquet_index_becomes_a_column_and_nested_values_are_text():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "tags": [[1, 2], [3], [1, 2]]},
                         index=pd.Index(["a", "b", "c"], name="key"))
    table = load_table(parquet_bytes(frame), "nested.parquet")

    assert list(table.frame.columns) == ["key", "x", "tags"]
    assert table.kinds["x"] == NUMERIC and table.kinds["tags"] in (TEXT, CATEGORICAL)


def test_parquet_types_beyond_pandas_load_with_a_kind_each():
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 12
    arrow_table = pa.table({
        "levels": pa.array(["a", "b", "c"] * 4).dictionary_encode(),
        "money": pa.array([decimal.Decimal(f"{i}.25") for i in range(n)], pa.decimal128(10, 2)),
        "when": pa.array([datetime.datetime(2024, 1, 1 + i, tzinfo=datetime.timezone.utc) for i in range(n)],
                         pa.timestamp("ms", tz="UTC")),
        "day": pa.array([datetime.date(2024, 1, 1 + i) for i in range(n)], pa.date32()),
        "record": pa.array([{"x": i, "y": "s"} for i in range(n)]),
        "blob": pa.array([bytes([i]) * 3 for i in range(n)], pa.binary()),
        "nothing": pa.nulls(n),
    })
    buffer = io.BytesIO()
    pq.write_table(arrow_table, buffer)
    table = load_table(buffer.getvalue(), "types.parquet")

    assert table.kinds == {"levels": CATEGORICAL, "money": NUMERIC, "when": DATE, "day": DATE,
                           "record": IDENTIFIER, "blob": IDENTIFIER, "nothing": CONSTANT}
    assert table.frame["money"].tolist() == [i + 0.25 for i in range(n)]
    assert table.frame["when"].dt.tz is not None


def test_parquet_too_wide_is_refused_from_its_metadata():
    with pytest.raises(TableError, match=r"wide.parquet: 8 columns; at most 3 can be loaded"):
        load_table(parquet_bytes(typed_frame()), "wide.parquet", max_columns=3)


def test_xlsx_round_trip():
    original = typed_frame()
    table = load_table(xlsx_bytes({"data": original}), "typed.xlsx")

    assert (table.format, table.header, table.dialect, table.sheet) == ("xlsx", True, None, "data")
    assert_typed_frame(table, original)


def test_xlsx_sheets_by_name_and_position_and_without_header():
    first = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "NA"]})
    second = pd.DataFrame({"c": [3.0, 4.0, 5.0]})
    data = xlsx_bytes({"first": first, "second": second})

    table = load_table(data, "book.xlsx")
    assert table.sheet == "first" and table.frame["b"].isna().tolist() == [False, True]
    assert load_table(data, "book.xlsx", sheet="second").frame["c"].tolist() == [3.0, 4.0, 5.0]
    assert load_table(data, "book.xlsx", sheet=1).sheet == "second"
    with pytest.raises(TableError, match="book.xlsx: there is no sheet named 'third'; .* 'first', 'second'"):
        load_table(data, "book.xlsx", sheet="third")
    with pytest.raises(TableError, match="no sheet at position 2; the workbook has 2 sheets"):
        load_table(data, "book.xlsx", sheet=2)

    plain = load_table(xlsx_bytes({"s": second}, header=False), "plain.xlsx")
    assert not plain.header and plain.frame["column_1"].tolist() == [3.0, 4.0, 5.0]


def test_an_empty_sheet_is_refused():
    with pytest.raises(TableError, match="empty.xlsx: the sheet 'blank' is empty"):
        load_table(xlsx_bytes({"blank": pd.DataFrame()}), "empty.xlsx")


def zip_archive(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for member_name, content in members.items():
            archive.writestr(member_name, content)
    return buffer.getvalue()


def test_an_xlsx_zip_bomb_is_refused_before_openpyxl_opens_it(monkeypatch):
    def never(*_args, **_kwargs):
        raise AssertionError("openpyxl must not open a zip bomb")

    monkeypatch.setattr(pd, "ExcelFile", never)
    bomb = zip_archive({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": bytes(40 * 2**20)})
    assert len(bomb) < 100_000

    started = time.perf_counter()
    refusal = r"bomb.xlsx: the workbook unpacks to 40.0 MB from [\d.]+ KB, .* refused as a zip bomb"
    with pytest.raises(TableError, match=refusal):
        load_table(bomb, "bomb.xlsx")
    assert time.perf_counter() - started < 1.0


def test_an_xlsx_that_unpacks_past_the_size_limit_is_refused(monkeypatch):
    monkeypatch.setattr(tables, "MAX_XLSX_UNPACKED_BYTES", 2**20)
    big = zip_archive({"xl/sharedStrings.xml": os.urandom(2 * 2**20)}, compression=zipfile.ZIP_STORED)

    with pytest.raises(TableError, match=r"big.xlsx: the workbook unpacks to 2.0 MB; at most 1.0 MB"):
        load_table(big, "big.xlsx")


def test_an_xlsx_whose_xml_expands_entities_without_end_is_refused():
    """The billion laughs: nine levels of entities, each ten of the one below; expat stops it."""
    entities = "".join(f'<!ENTITY l{level} "{f"&l{level - 1};" * 10}">' for level in range(1, 10))
    sheet = (f'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY l0 "lol">{entities}]>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData></worksheet>')
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes({"s": pd.DataFrame({"a": [1.0]})}))) as valid:
        members = {member: valid.read(member) for member in valid.namelist()}
    members["xl/worksheets/sheet1.xml"] = sheet.encode()

    with pytest.raises(TableError, match="laughs.xlsx: the file could not be read as an Excel workbook"):
        load_table(zip_archive(members), "laughs.xlsx")


@pytest.mark.parametrize(("data", "message"), [
    (b"not a zip at all", r"no.xlsx: the file could not be opened as an Excel workbook \(an .xlsx file is a zip"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), r"no.xlsx: this is an Excel 97-2003 \(.xls\) workbook"),
    (zip_archive({"hello.txt": b"hello"}), r"no.xlsx: the file could not be read as an Excel workbook"),
])
def test_a_file_that_is_no_workbook_is_refused(data, message):
    with pytest.raises(TableError, match=message):
        load_table(data, "no.xlsx")


# ---------------------------------------------------------------------------- limits and refusals


def test_too_many_columns_are_refused_with_the_numbers():
    row = ",".join(["1"] * 12_000)
    with pytest.raises(TableError, match=r"^wide.csv: 12,000 columns; at most 1,000 can be loaded$"):
        load_table(f"{row}\n{row}\n".encode(), "wide.csv")


def test_the_limits_can_be_given():
    data = write_delimited(ROWS).encode()

    with pytest.raises(TableError, match="4 columns; at most 3"):
        load_table(data, "cities.csv", max_columns=3)
    with pytest.raises(TableError, match=r"12 rows x 4 columns = 48 cells; at most 47 can be loaded"):
        load_table(data, "cities.csv", max_cells=47)
    assert len(load_table(data, "cities.csv", max_columns=4, max_cells=48).frame) == 12
    with pytest.raises(ValueError, match="max_cells must be a positive integer"):
        load_table(data, "cities.csv", max_cells=0)


@pytest.mark.parametrize("file_name", ["notes.txt", "data.bin", "table.xls", "archive.csv.gz", "noextension"])
def test_other_extensions_are_refused_with_the_accepted_ones(file_name):
    with pytest.raises(TableError, match=r"accepted: \.csv, \.tsv, \.parquet, \.xlsx$") as refused:
        load_table(b"a,b\n1,2\n", file_name)
    assert str(refused.value).startswith(f"{file_name}: ")


@pytest.mark.parametrize(("data", "file_name", "message"), [
    (b"", "empty.csv", "the file is empty"),
    (b"", "empty.parquet", "the file is empty"),
    (b"", "empty.xlsx", "the file is empty"),
    (b" \r\n\t\n", "blank.csv", "the file holds no data"),
    (b"\xef\xbb\xbf", "bom.csv", "the file holds no data"),
    (b"a,b,c\n", "header.csv", "the table has column names but no rows"),
    (b"a,b\n\n\n", "header.tsv", "the table has column names but no rows"),
    (parquet_bytes(pd.DataFrame({"x": pd.Series([], dtype=float)})), "rowless.parquet", "column names but no rows"),
    (parquet_bytes(pd.DataFrame()), "columnless.parquet", "the table has no columns"),
    # A row wider than the header past the sample that sets the columns.
    (b"a,b\n" + b"1,2\n" * 20_000 + b"3,4,5\n", "ragged.csv",
     r"the file could not be read as a CSV table \(.*Expected 2 fields in line 20002, saw 3"),
    ("a,b\n1,2\n".encode("utf-16"), "utf16.csv", "NUL characters"),
])
def test_files_without_a_table_are_refused(data, file_name, message):
    with pytest.raises(TableError, match=message) as refused:
        load_table(data, file_name)
    assert str(refused.value).startswith(f"{file_name}: ")
    assert isinstance(refused.value, ValueError)


@pytest.mark.parametrize(("options", "message"), [
    ({"separator": "ab"}, "the separator must be one character"),
    ({"separator": '"'}, "the separator must be one character"),
    ({"decimal": "x"}, "the decimal mark must be '.' or ','"),
    ({"separator": ",", "decimal": ","}, "the decimal mark and the separator must differ"),
    ({"encoding": "no-such-codec"}, "'no-such-codec' is not a text encoding"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(TableError, match=message):
        load_table(b"a,b\n1,2\n", "x.csv", **options)


def test_messages_name_the_file_without_its_folders_or_control_characters():
    with pytest.raises(TableError) as refused:
        load_table(b"", "../../etc/\u202eevil\n.csv")
    assert str(refused.value) == "evil.csv: the file is empty"


# ---------------------------------------------------------------------------- hostile bytes

FUZZ_NAMES = st.sampled_from(["fuzz.csv", "fuzz.tsv", "fuzz.xlsx", "fuzz.parquet", "FUZZ.CSV"])


def assert_table_or_table_error(data: bytes, file_name: str) -> None:
    try:
        table = load_table(data, file_name)
    except TableError as error:
        assert str(error).startswith(f"{file_name}: ")
        return
    assert list(table.kinds) == list(table.frame.columns)
    assert set(table.kinds.values()) <= set(KINDS)
    assert table.frame.shape[0] > 0 and table.frame.shape[1] > 0
    for name, kind in table.kinds.items():
        if kind == NUMERIC:
            assert table.frame[name].dtype == np.float64
    assert table.describe().startswith(f"{table.frame.shape[0]:,} row")


@FUZZ
@given(st.binary(max_size=4096), FUZZ_NAMES)
def test_any_bytes_load_or_raise_table_error(data, file_name):
    assert_table_or_table_error(data, file_name)


CSV_PIECES = st.sampled_from([",", ";", "\t", "|", '"', "\n", "\r\n", "\r", " ", "1", "-2.5", "3,5", "1e9",
                              "NA", "?", "", "x", "é", "2024-01-02", "03/04/2024", "true", "\ufeff", "\x00"])


@FUZZ
@given(st.one_of(st.lists(CSV_PIECES, max_size=80).map("".join), st.text(max_size=400)),
       st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"]),
       st.sampled_from(["fuzz.csv", "fuzz.tsv"]))
def test_any_text_in_any_encoding_loads_or_raises_table_error(text, encoding, file_name):
    assert_table_or_table_error(text.encode(encoding, errors="replace"), file_name)


SMALL_FRAME = pd.DataFrame({"x": [1.5, None, 3.0], "word": ["a", None, "c"], "flag": [True, False, True]})
VALID_FILES = [("valid.parquet", parquet_bytes(SMALL_FRAME)), ("valid.xlsx", xlsx_bytes({"s": SMALL_FRAME}))]


@st.composite
def damaged_files(draw) -> tuple[bytes, str]:
    file_name, data = draw(st.sampled_from(VALID_FILES))
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data)))], file_name
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        buffer[draw(st.integers(0, len(buffer) - 1))] = draw(st.integers(0, 255))
    return bytes(buffer), file_name


@settings(FUZZ, max_examples=100)
@given(damaged_files())
def test_damaged_parquet_and_xlsx_files_load_or_raise_table_error(case):
    assert_table_or_table_error(*case)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "b", "a b", "é", "a\x00"]), st.text(max_size=3)),
                max_size=60))
def test_distinct_strings_are_counted_as_pandas_counts_them(values):
    column = pd.Series(values, dtype="str")
    assert tables._distinct_count(column) == column.nunique()
