"""Time what the server does for each view of a trained map when the timeline moves, and
the exports, and print a table.

    .venv/bin/python benchmarks/bench_views.py [--rows 200000] [--features 12] [--grid 30] [--page]

A table of ``--rows`` rows (``--features`` numeric columns, a 5-class label and an
identifier) is uploaded to a store as the dashboard does; a ``--grid`` x ``--grid`` hex map
is trained on it for 4 epochs and each epoch stored. Then, as a scrub does, each view is
computed for an epoch it has not seen (the map's BMU pass included once, in the first view
asked for), and serialised as Dash sends it (plotly's JSON encoder). Times are medians over
the epochs; the CSV export is timed alone. Budgets: 500 ms per view after a scrub, 300 ms
to cluster the prototypes, 3 s for the assignments CSV.

With ``--page`` the same table is then uploaded to the dashboard in headless Chromium (the
browser tests' kit), the map trained there, the table uploaded again as new data, and on
each tab the timeline moved ``--scrubs`` times: from the change until Dash has answered
every callback it sent and the tab's graphs have drawn (``plotly_afterplot``), the next
frame included.
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
from playwright.sync_api import sync_playwright
from plotly.utils import PlotlyJSONEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from zsom_testkit import CALLBACKS_SETTLED, VIEWPORT, Dashboard, Server, launch_chromium, set_number  # noqa: E402

from callbacks import map_views  # noqa: E402
from callbacks import trained_map as maps  # noqa: E402
from callbacks.data import UPLOAD, table_record  # noqa: E402
from callbacks.exports import assignments  # noqa: E402
from components.ids import TABS, Ids  # noqa: E402
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


# Each graph's redraws (performance.now(), the graph's id), and, once armed by a scrub to
# ``epoch``, the first frame at which the views' key holds that epoch and Dash has answered
# everything it sent (the views' requests go out as the key changes).
PAGE_PROBE = """
window.__draws = [];
setInterval(() => {
  document.querySelectorAll('.js-plotly-plot').forEach(gd => {
    if (gd.__benchHooked || typeof gd.on !== 'function') return;
    gd.__benchHooked = true;
    const graph = gd.closest('[id]') && gd.closest('[id]').id;
    gd.on('plotly_afterplot', () => window.__draws.push([performance.now(), graph]));
  });
}, 50);
"""
ARM = f"""([epoch, tab]) => {{
  const settled = {CALLBACKS_SETTLED};
  const keyEpoch = () => {{
    const state = window.store.getState();
    let node = state.layout;
    for (const key of state.paths.strs['{Ids.VIEW_KEY}']) node = node[key];
    return node.props.data && node.props.data.epoch;
  }};
  const scrub = window.__scrub = {{start: performance.now(), answered: null}};
  const watch = () => {{
    if (keyEpoch() === epoch && settled() && !document.querySelector(`#${{tab}} .dash-graph--pending`)) {{
      requestAnimationFrame(() => {{ scrub.answered = performance.now(); }});
      return;
    }}
    requestAnimationFrame(watch);
  }};
  requestAnimationFrame(watch);
}}"""
ANSWERED = "() => window.__scrub.answered !== null"
# The scrub's latency: until it was answered, or the tab's last graph drew, whichever is later.
LATENCY = """tab => {
  const {start, answered} = window.__scrub;
  const inTab = new Set(Array.from(document.querySelectorAll(`#${tab} [id]`)).map(node => node.id));
  const drawn = window.__draws.filter(([t, graph]) => t > start && inTab.has(graph)).map(([t]) => t);
  return (Math.max(answered, ...drawn) - start) / 1000;
}"""
VIEW_TAB_BODIES = {"clusters": Ids.CLUSTERS_TAB, "planes": Ids.PLANES_TAB, "labels": Ids.LABELS_TAB,
                   "new-data": Ids.NEW_DATA_TAB}


def page_latencies(table: Path, grid: int, scrubs: int) -> dict[str, list[float]]:
    """Seconds from a timeline change until each tab shows the epoch, ``scrubs`` times a tab."""
    latencies = {}
    with Server(table.parent / "cache") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        page.add_init_script(PAGE_PROBE)
        board = Dashboard(page, server.url)
        board.upload(table)
        board.wait_for_status(f"ready.*{table.name}", timeout=120_000)
        page.locator("#auto-size label").click()  # the map's size chosen, not the data's
        for control, value in (("grid-width", grid), ("grid-height", grid), ("epochs", EPOCHS)):
            set_number(page, control, value)
        board.wait_for_callbacks()
        board.train()
        board.wait_for_status("done", timeout=600_000)
        board.wait_for_callbacks(timeout=120_000)
        for tab, body in VIEW_TAB_BODIES.items():
            page.click(f"#{Ids.VIEW_TABS} .view-tab:has-text('{TABS[tab]}')")
            if tab == "new-data":
                page.set_input_files(f"#{Ids.NEW_DATA_UPLOAD} input[type=file]", str(table))
                board.wait_for_text(f"#{Ids.NEW_DATA_MESSAGE}", "rows mapped", timeout=120_000)
            board.wait_for_callbacks(timeout=120_000)
            latencies[TABS[tab]] = []
            for scrub in range(scrubs):
                epoch = 1 + scrub % (EPOCHS - 1)  # never the epoch shown before
                page.evaluate(ARM, [epoch, body])
                set_number(page, "timeline", epoch)
                page.wait_for_function(ANSWERED, polling="raf", timeout=60_000)
                latencies[TABS[tab]].append(page.evaluate(LATENCY, body))
                board.wait_for_callbacks(timeout=60_000)
        browser.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=12)
    parser.add_argument("--grid", type=int, default=30)
    parser.add_argument("--page", action="store_true", help="also time each tab after a scrub in Chromium")
    parser.add_argument("--scrubs", type=int, default=5, help="scrubs timed on each tab with --page (default 5)")
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
        if args.page:
            table = Path(folder) / "page" / "bench.csv"
            table.parent.mkdir()
            table.write_bytes(data)
            latencies = page_latencies(table, args.grid, args.scrubs)

    print(f"{args.rows:,} rows x {args.features} features, {args.grid}x{args.grid} hex map; "
          f"table read back once: {read_s:.2f} s")
    print(f"{'view after a scrub':40s} {'median s':>9s} {'sent KB':>9s}  budget {BUDGET_VIEW_S} s")
    for name, seconds, sent in rows:
        print(f"{name:40s} {seconds:9.3f} {'' if sent is None else f'{sent / 1e3:9.0f}'}")
    print(f"{'clustering':40s} {'s':>9s}  budget {BUDGET_CLUSTER_S} s")
    for name, seconds in cluster_rows:
        print(f"{name:40s} {seconds:9.3f}")
    print(f"{'assignments CSV':40s} {csv_s:9.3f}  ({len(content) / 1e6:.1f} MB; budget {BUDGET_CSV_S} s)")
    if args.page:
        print(f"{'tab in Chromium, scrub -> drawn':40s} {'median s':>9s} {'max s':>9s}  budget {BUDGET_VIEW_S} s")
        for name, values in latencies.items():
            each = ", ".join(f"{value:.2f}" for value in values)
            print(f"{name:40s} {statistics.median(values):9.3f} {max(values):9.3f}  ({each})")


if __name__ == "__main__":
    main()
