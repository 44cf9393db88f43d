"""Datasets kept on the server: the Parquet files, folders of Parquet files and CSV files
directly in one folder, listed with their size from metadata, read as tables.

A page names a dataset by its entry's name, which is only ever looked up among the
entries found: nothing a page sends becomes a path. Entries whose real path lies outside
the folder (a link out of it) are not listed. Reading imports pandas and pyarrow, which
``import zsom_core`` does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .tables import MAX_CELLS, MAX_COLUMNS, Table, TableError, load_table, table_from_frame

PARQUET_EXTENSIONS = (".parquet", ".pq")
CSV_EXTENSIONS = (".csv", ".tsv")


@dataclass(frozen=True)
class ServerDataset:
    """One entry: ``rows`` from the Parquet metadata (None for CSV, whose rows are
    counted when it is read), ``columns``, and ``size`` in bytes."""

    name: str
    path: Path
    kind: str  # "parquet" or "csv"
    rows: int | None
    columns: int
    size: int

    def describe(self) -> str:
        rows = "rows counted when read" if self.rows is None else f"{self.rows:,} rows"
        return f"{rows} x {self.columns} columns"


class DataDir:
    """The datasets in ``root``, found once (``rescan`` finds them again: the app does for
    every page it serves), or only those called ``names`` (to read one again without
    listing the folder). ``entries`` is replaced whole, never changed in place, so that a
    request reading it meanwhile sees one listing or the other."""

    def __init__(self, root, names: list[str] | None = None):
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise TableError(f"the data folder {root} is not a folder")
        self.names = names
        self.rescan()

    def rescan(self) -> None:
        entries = {}
        paths = sorted(self.root.iterdir()) if self.names is None else \
            [self.root / name for name in self.names if Path(name).name == name]
        for path in paths:
            entry = _entry(self.root, path)
            if entry is not None:
                entries[entry.name] = entry
        self.entries: dict[str, ServerDataset] = entries

    def get(self, name) -> ServerDataset:
        """The entry called ``name``; ``TableError`` for any other value, whatever it holds."""
        entry = self.entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise TableError(f"no dataset called {str(name)[:80]!r} in the server's data folder")
        return entry

    def read(self, name, *, max_rows: int, max_columns: int = MAX_COLUMNS, max_cells: int = MAX_CELLS) -> Table:
        """The entry as a table, or ``TableError``: past ``max_rows`` (or the table limits),
        before reading its rows where the metadata tells."""
        entry = self.get(name)
        if entry.rows is not None and entry.rows > max_rows:
            raise TableError(f"{entry.name} has {entry.rows:,} rows, above this server's in-memory limit of "
                             f"{max_rows:,}")
        if entry.kind == "csv":
            table = load_table(entry.path.read_bytes(), entry.name, max_columns=max_columns, max_cells=max_cells)
        else:
            import pyarrow.parquet as pq

            try:
                frame = pq.read_table(entry.path).to_pandas()
            except (OSError, ValueError) as error:
                raise TableError(f"{entry.name}: cannot read it as Parquet: {error}") from None
            table = table_from_frame(frame, entry.name, max_columns=max_columns, max_cells=max_cells)
        if len(table.frame) > max_rows:
            raise TableError(f"{entry.name} has {len(table.frame):,} rows, above this server's in-memory limit of "
                             f"{max_rows:,}")
        return table


def _entry(root: Path, path: Path) -> ServerDataset | None:
    if not _inside(path, root):
        return None  # a broken link, or one out of the folder
    real = path.resolve()
    name = path.name
    if name.startswith("."):
        return None
    if real.is_dir():
        files = sorted(file for file in real.iterdir() if file.suffix.lower() in PARQUET_EXTENSIONS
                       and file.is_file() and _inside(file, root))
        return _parquet(name, real, files) if files else None
    if real.is_file() and path.suffix.lower() in PARQUET_EXTENSIONS:
        return _parquet(name, real, [real])
    if real.is_file() and path.suffix.lower() in CSV_EXTENSIONS:
        return ServerDataset(name, real, "csv", None, _csv_columns(real), real.stat().st_size)
    return None


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except (OSError, ValueError):
        return False


def _parquet(name: str, path: Path, files: list[Path]) -> ServerDataset | None:
    import pyarrow.parquet as pq

    try:
        metadata = [pq.read_metadata(file) for file in files]
    except (OSError, ValueError):
        return None  # not Parquet after all: not listed
    columns = {meta.num_columns for meta in metadata}
    if len(columns) != 1:
        return None  # files that do not make one table
    return ServerDataset(name, path, "parquet", sum(meta.num_rows for meta in metadata), columns.pop(),
                         sum(file.stat().st_size for file in files))


def _csv_columns(path: Path) -> int:
    with path.open("rb") as file:
        header = file.readline(1 << 16).decode("utf-8", "replace")
    separator = "\t" if path.suffix.lower() == ".tsv" or header.count("\t") > header.count(",") else ","
    return header.count(separator) + 1 if header.strip() else 0
