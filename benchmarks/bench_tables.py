"""Time ``zsom_core.tables.load_table`` on large tables and print a table.

    .venv/bin/python benchmarks/bench_tables.py [--rows 200000] [--parquet-rows 520000]

Two files are built in memory: a CSV of ``--rows`` rows x 12 columns (10 numeric with 2 %
of the cells missing, a categorical column and an identifier; about 20 MB at 200,000
rows) and a Parquet file of ``--parquet-rows`` rows of the same columns (about 50 MB).
Each is loaded in a fresh process, by ``load_table`` and by its peer (pandas' ``read_csv``
with its C parser and no detection; pyarrow's ``read_table`` then ``to_pandas``), each
after a warm-up load of the file's first 100 rows: seconds, and the peak of the process's
resident memory above what it held before loading, as a multiple of the parsed float64
array (rows x 12 x 8 bytes).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = 12
MISSING_SHARE = 0.02

# Budgets: seconds to parse and type the table, and peak memory per parsed float64 array.
BUDGET_CSV_S = 2.0
BUDGET_PARQUET_S = 1.0
BUDGET_MEMORY = 3.0

# One load in a fresh process, after a load of the file's first rows (a server has loaded
# tables before: pandas' and pyarrow's first calls set up more than the later ones), with
# the process's memory sampled every 2 ms meanwhile.
MEASURE = """
import io, json, sys, threading, time
import psutil
sys.path.insert(0, {root!r})
kind, path, who = sys.argv[1:4]
data = open(path, "rb").read()
import pandas, pyarrow.parquet
from zsom_core.tables import load_table

def load(data):
    if who == "zsom":
        return len(load_table(data, "table." + kind).frame)
    if kind == "csv":
        return len(pandas.read_csv(io.BytesIO(data), engine="c", low_memory=False))
    return len(pyarrow.parquet.read_table(io.BytesIO(data)).to_pandas())

if kind == "csv":
    load(b"\\n".join(data.split(b"\\n")[:100]))
else:
    small = io.BytesIO()
    pyarrow.parquet.read_table(io.BytesIO(data)).slice(0, 100).to_pandas().to_parquet(small)
    load(small.getvalue())
process = psutil.Process()
before = peak = process.memory_info().rss
loading = True

def sample():
    global peak
    while loading:
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.002)

sampler = threading.Thread(target=sample)
sampler.start()
started = time.perf_counter()
rows = load(data)
seconds = time.perf_counter() - started
loading = False
sampler.join()
print(json.dumps({{"seconds": seconds, "rows": rows, "peak_kb": (peak - before) / 1024}}))
"""


def make_frame(rows: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(rows, COLUMNS - 2)) * rng.uniform(1, 1000, size=COLUMNS - 2)
    values[rng.random(values.shape) < MISSING_SHARE] = np.nan
    frame = pd.DataFrame(values, columns=[f"feature_{i + 1}" for i in range(COLUMNS - 2)])
    frame["group"] = rng.choice(["north", "south", "east", "west", "centre"], size=rows)
    frame["id"] = [f"row-{i:07d}" for i in range(rows)]
    return frame


def measure(kind: str, path: Path, who: str) -> dict:
    result = subprocess.run([sys.executable, "-c", MEASURE.format(root=str(ROOT)), kind, str(path), who],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV (default 200,000)")
    parser.add_argument("--parquet-rows", type=int, default=520_000, help="rows of the Parquet file (default 520,000)")
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="zsom-bench-tables-") as folder:
        csv_path, parquet_path = Path(folder) / "table.csv", Path(folder) / "table.parquet"
        csv_path.write_text(make_frame(args.rows).to_csv(index=False))
        buffer = io.BytesIO()
        make_frame(args.parquet_rows, seed=1).to_parquet(buffer, index=False)
        parquet_path.write_bytes(buffer.getvalue())
        rows = []
        for kind, path, count, budget in (("csv", csv_path, args.rows, BUDGET_CSV_S),
                                          ("parquet", parquet_path, args.parquet_rows, BUDGET_PARQUET_S)):
            ours, peer = measure(kind, path, "zsom"), measure(kind, path, "peer")
            assert ours["rows"] == peer["rows"] == count, (ours, peer)
            parsed_kb = count * COLUMNS * 8 / 1024
            memory = ours["peak_kb"] / parsed_kb
            rows.append((f"{kind}, {path.stat().st_size / 2**20:.1f} MB, {count:,} x {COLUMNS}",
                         f"{ours['seconds']:.2f} s", f"< {budget:.0f} s", f"{peer['seconds']:.2f} s",
                         f"{ours['seconds'] / peer['seconds']:.2f}", f"{memory:.2f}x",
                         f"{peer['peak_kb'] / parsed_kb:.2f}x",
                         "yes" if ours["seconds"] < budget and memory <= BUDGET_MEMORY else "NO"))
    header = ("file", "load_table", "budget", "peer", "ratio", "peak memory", "peer's", "ok")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    print(f"\nzsom_core.tables.load_table against its peer (pandas C parser / pyarrow), one process each; "
          f"memory: peak above the start, per parsed float64 array (budget {BUDGET_MEMORY:.0f}x)\n")
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))


if __name__ == "__main__":
    main()
