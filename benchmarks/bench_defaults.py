"""Do the dashboard's default settings train every built-in dataset to a converged map?

    .venv/bin/python benchmarks/bench_defaults.py                        # the dashboard's defaults
    .venv/bin/python benchmarks/bench_defaults.py --set sigma_end=1 --set auto_size=False --set width=30
    .venv/bin/python benchmarks/bench_defaults.py --only clusters,bunny --set neighborhood=mexican_hat

Every built-in dataset is loaded as the dashboard loads it (its default sample count, the
dashboard's data seed) and trained with the dashboard's defaults (``components.settings.DEFAULTS``, the settings
table's), the map's size and sigma0 chosen from the data as the dashboard chooses them. The
table says, per dataset: the map, its dead units (units that win no sample), the MQE
before and after training, how much the MQE still fell over the last tenth of the
epochs (a converged run falls less than ``CONVERGED_DROP``), the topographic error and
the seconds one run takes (after a warm-up run, so Numba's compile is excluded).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from components.settings import DEFAULTS, SettingsError, auto_sizes, parse_settings  # noqa: E402
from zsom_core import SOM  # noqa: E402
from zsom_core.datasets import DATASETS, load_dataset  # noqa: E402

DATA_SEED = 0  # the dashboard's (callbacks/data.py)
CONVERGED_DROP = 0.02


def measure(name: str, settings: dict) -> dict:
    """Train one dataset with the settings; the row of the table."""
    points = load_dataset(name, seed=DATA_SEED).points
    resolved = parse_settings(settings).resolved(auto_sizes(points))
    width, height = resolved.width, resolved.height
    SOM(**resolved.som_kwargs()).fit(points, epochs=1)  # warm-up: compile or cache load
    som = SOM(**resolved.som_kwargs())
    start = time.perf_counter()
    last = deque(som.iter_fit(points, resolved.epochs), maxlen=1)[0]  # the last epoch's snapshot
    seconds = time.perf_counter() - start
    history = som.mqe_history_
    tenth = max(1, len(history) // 10)
    before_last_tenth = history[-tenth - 1] if len(history) > tenth else som.initial_mqe_
    dead = int((last.hits == 0).sum())
    return {
        "dataset": name, "n": len(points), "d": points.shape[1], "map": f"{width} x {height}",
        "units": width * height, "dead": dead, "dead_share": dead / (width * height),
        "mqe_initial": som.initial_mqe_, "mqe_final": history[-1],
        "last_tenth_drop": (before_last_tenth - history[-1]) / before_last_tenth,
        "topographic_error": last.topographic_error, "seconds": seconds, "sigma0": float(som.schedule().sigma0),
    }


COLUMNS = (
    ("dataset", "{}"), ("n", "{:,}"), ("d", "{}"), ("map", "{}"), ("units", "{:,}"), ("dead", "{}"),
    ("dead %", "{:.1f}"), ("sigma0", "{:.2f}"), ("MQE initial", "{:.4f}"), ("MQE final", "{:.4f}"),
    ("last tenth drop %", "{:.2f}"), ("TE", "{:.3f}"), ("s", "{:.2f}"),
)


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table."""
    def cells(row):
        values = (row["dataset"], row["n"], row["d"], row["map"], row["units"], row["dead"],
                  100 * row["dead_share"], row["sigma0"], row["mqe_initial"], row["mqe_final"],
                  100 * row["last_tenth_drop"], row["topographic_error"], row["seconds"])
        return [fmt.format(value) for (_, fmt), value in zip(COLUMNS, values)]

    lines = ["| " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def parse_value(text: str):
    """A ``--set`` value: a Python literal (0.5, None, 'hex') or else the bare word."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="change one setting of the dashboard's defaults (repeatable): a name of the "
                             "settings table; switches take True or False")
    parser.add_argument("--only", default="", help="comma-separated dataset names (default: every built-in)")
    args = parser.parse_args(argv)
    settings = dict(DEFAULTS)
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in settings:
            parser.error(f"unknown setting {name!r}; settings: {', '.join(settings)}")
        settings[name] = parse_value(value)
    names = [name for name in args.only.split(",") if name] or list(DATASETS)
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; valid: {', '.join(DATASETS)}")

    try:
        parse_settings(settings)
    except SettingsError as error:
        parser.error(str(error))
    print("settings: " + ", ".join(f"{name}={value!r}" for name, value in settings.items()))
    print(f"numba threads: {os.environ.get('NUMBA_NUM_THREADS', 'default')}; cpus: {os.cpu_count()}")
    rows = []
    for name in names:
        rows.append(measure(name, settings))
        print(f"  {name}: done in {rows[-1]['seconds']:.2f} s", file=sys.stderr, flush=True)
    print(table(rows))
    converged = [row["last_tenth_drop"] < CONVERGED_DROP for row in rows]
    worst_dead = max(row["dead_share"] for row in rows)
    print(f"converged (MQE fell < {100 * CONVERGED_DROP:g} % over the last tenth): {sum(converged)} of {len(rows)}; "
          f"most dead units: {100 * worst_dead:.1f} %; "
          f"median seconds per run: {sorted(row['seconds'] for row in rows)[len(rows) // 2]:.2f}")
    return 0 if all(converged) else 1


if __name__ == "__main__":
    sys.exit(main())

