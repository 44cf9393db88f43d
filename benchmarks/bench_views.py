"""Time what the server does for each view of a trained map when the timeline moves, and
the exports, and print a table.

    .venv/bin/python benchmarks/bench_views.py [--rows 200000] [--features 12] [--grid 30]

A table of ``--rows`` rows (``--features`` numeric columns, a 5-class label and an
identifier) is uploaded to a store as the dashboard does; a ``--grid`` x ``--grid`` hex map
is trained on it for 4 epochs and each epoch stored. Then, as a scrub does, each view is
computed for an epoch it has not seen (the map's BMU pass included once, in the first view
asked for), and serialised as Dash sends it (plotly's JSON encoder). Times are medians over
the epochs; the CSV export is timed alone. Budgets: 500 ms per view after a scrub, 300 ms
to cluster the prototypes, 3 s for the assignments CSV.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from plotly.utils import PlotlyJSONEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from callbacks import map_views  # noqa: E402
from callbacks import trained_map as maps  # noqa: E402
from callbacks.data import UPLOAD, table_record  # noqa: E402
from callbacks.exports import assignments  # noqa: E402
from zsom_core import SOM, analysis  # noqa: E402
from zsom_core.tables import load_table  # noqa: E402
from zsom_jobs.seams import UPLOAD_SCORED  # noqa: E402
from zsom_jobs.store import DiskcacheStore  # noqa: E402
from zsom_jobs.training import epoch_record  # noqa: E402

EPOCHS = 4
BUDGET_VIEW_S, BUDGET_CLUSTER_S, BUDGET_CSV_S = 0.5, 0.3, 3.0


def table_bytes(rows: int, features: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4, size=(5, features))
    classes = rng.integers(0, 5, rows)
    values = centres[classes] + rng.normal(size=(rows, features))
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(features)])
    frame.insert(0, "id", [f"row-{i}" for i in range(rows)])
    frame["kind"] = np.array(["a", "b", "c", "d", "e"])[classes]
    return frame.to_csv(index=False).encode()


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def as_sent(outputs) -> int:
    """Serialise outputs as Dash does; the bytes sent."""
    return len(json.dumps(list(outputs) if isinstance(outputs, tuple) else outputs, cls=PlotlyJSONEncoder))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--grid", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = DiskcacheStore(Path(folder) / "cache", server_id="bench")
        session = str(uuid.uuid4())
        data = table_bytes(args.rows, args.features)
        record = table_record(load_table(data, "bench.csv"), UPLOAD, "upload", data=data)
        store.put_upload(session, "bench.csv", data)
        store.put_upload(session, "bench.csv", data, UPLOAD_SCORED)
        store.put_dataset(session, record)
        settings = {"width": args.grid, "height": args.grid, "topology": "hex", "epochs": EPOCHS}
        run, _ = store.new_run(session, "run-bench", settings=settings, dataset_token=record["token"],
                               schedule=([1.0] * EPOCHS, [1.0] * EPOCHS))
        history = {"mqe": [], "te": [], "sigma": [], "lr": []}
        for snapshot in SOM(**settings).iter_fit(record["points"], with_u_matrix=True):
            store.put_epoch(session, run.run, snapshot.epoch, epoch_record(snapshot, 0.0, None), history)

        read_s, _ = timed(lambda: maps.data_context(store, session, record))
        rows = []
        views = {
            "clusters (ward, k=4, neighbours)": lambda t: map_views.clusters_view(t, "ward", 4, True, 0),
            "which k (k = 2..15)": lambda t: map_views.scores_view(t, "ward", 4, True),
            "quality table": lambda t: map_views.quality_table(map_views.quality(t), t.epoch),
            "component planes": lambda t: map_views.planes_view(t, None, 0),
            "labels": lambda t: map_views.labels_view(t, "purity", map_views.clustering(t, "ward", 4, True), 4, 0),
            "unit inspector": lambda t: map_views.inspector_view(t, int(np.argmax(t.hits))),
            "new data (the same table)": lambda t: map_views.new_data_view(
                t, maps.scored_data(store, session, t.data), None, 0),
        }
        samples = {name: [] for name in ["map at the epoch (BMU pass)", *views]}
        sizes = {}
        for epoch in range(2, EPOCHS + 1):
            load_s, trained = timed(partial(maps.trained_map, store, session, run.run, epoch))
            samples["map at the epoch (BMU pass)"].append(load_s)
            for name, view in views.items():
                seconds, outputs = timed(partial(lambda view, trained: as_sent(view(trained)), view, trained))
                samples[name].append(seconds)
                sizes[name] = outputs
        for name, values in samples.items():
            rows.append((name, statistics.median(values), sizes.get(name)))

        weights = trained.weights
        cluster_rows = []
        for method in analysis.CLUSTER_METHODS:
            seconds, _ = timed(partial(analysis.cluster_units, weights, 4, method, grid=trained.som.grid))
            cluster_rows.append((f"cluster_units {method}", seconds))
        big = np.random.default_rng(1).normal(size=(2500, args.features))
        for method in ("ward", "kmeans"):
            seconds, _ = timed(partial(analysis.cluster_units, big, 4, method))
            cluster_rows.append((f"cluster_units {method}, 2,500 prototypes", seconds))
        seconds, _ = timed(lambda: analysis.cluster_scores(weights, "ward", range(2, 16), grid=trained.som.grid))
        cluster_rows.append(("cluster_scores ward, k = 2..15", seconds))
        csv_s, content = timed(lambda: assignments(trained, map_views.clustering(trained, "ward", 4, True)))

    print(f"{args.rows:,} rows x {args.features} features, {args.grid}x{args.grid} hex map; "
          f"table read back once: {read_s:.2f} s")
    print(f"{'view after a scrub':40s} {'median s':>9s} {'sent KB':>9s}  budget {BUDGET_VIEW_S} s")
    for name, seconds, sent in rows:
        print(f"{name:40s} {seconds:9.3f} {'' if sent is None else f'{sent / 1e3:9.0f}'}")
    print(f"{'clustering':40s} {'s':>9s}  budget {BUDGET_CLUSTER_S} s")
    for name, seconds in cluster_rows:
        print(f"{name:40s} {seconds:9.3f}")
    print(f"{'assignments CSV':40s} {csv_s:9.3f}  ({len(content) / 1e6:.1f} MB; budget {BUDGET_CSV_S} s)")


if __name__ == "__main__":
    main()
