"""Put the dashboard under load and check that it holds; print what it measured.

    .venv/bin/python benchmarks/stress.py [--sessions 8] [--epochs 100] [--requests 200] [--quick]

Serves ``app.py`` on a free port with a fresh cache (at most one training per core, the
default) and, in Debian's headless Chromium (both through the browser tests' kit,
``tests/zsom_testkit.py``):

1. Load: ``--sessions`` browser contexts (separate users) press Train at once, each on
   the bunny (20,000 points) with a 30 x 30 hexagonal map and its own seed. Every page
   must finish; every epoch a page showed must carry the MQE the engine computes, in
   this process, for that page's seed (so no page saw another's epochs, and each final
   MQE is its own); the store never holds more trainings than slots. The server's
   memory (its process and every child: job server, trainings) is sampled throughout.
2. Requests: while two runs stream, a loopback load generator sends ``--requests``
   requests to the app's own endpoints (page, layout, dependencies, an asset, and two
   callbacks: choosing a dataset for a new session, and a run request with a forged
   grid width that must be refused) from 8 threads. No response may be a 5xx.

Exits non-zero when a check fails. ``--quick`` (3 sessions, 20 epochs, 50 requests) is
what the test suite runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from zsom_testkit import VIEWPORT, Dashboard, Server, launch_chromium  # noqa: E402

from callbacks.data import DATA_SEED  # noqa: E402
from components.settings import DEFAULTS, auto_sizes, parse_settings  # noqa: E402
from zsom_core import SOM  # noqa: E402
from zsom_core.datasets import load_dataset  # noqa: E402
from zsom_jobs.store import DiskcacheStore  # noqa: E402

EPOCH_LINE = re.compile(r"Epoch (\d+) / (\d+).*?MQE (\S+)")


class Sampler(threading.Thread):
    """Samples the server's process tree (memory) and the store (slots) every ``period`` s."""

    def __init__(self, pid: int, store: DiskcacheStore, period: float = 0.25):
        super().__init__(daemon=True)
        self.root, self.store, self.period = psutil.Process(pid), store, period
        self.peak_rss = self.peak_pss = 0
        self.peak_processes = self.peak_slots = self.peak_waiting = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.period):
            rss = pss = 0
            processes = [self.root, *self.root.children(recursive=True)]
            for process in processes:
                try:
                    info = process.memory_full_info()
                    rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
                except psutil.Error:
                    pass
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(processes))
            self.peak_slots = max(self.peak_slots, self.store.slots_in_use())
            self.peak_waiting = max(self.peak_waiting, self.store.runs_waiting())

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def engine_mqe(seed: int, epochs: int) -> list[str]:
    """The MQE of every epoch as the status line prints it, from the engine in this process."""
    points = np.ascontiguousarray(load_dataset("bunny", n=20_000, seed=DATA_SEED).points, dtype=np.float32)
    # The map's size and sigma0 from the data, as the dashboard chooses them.
    settings = parse_settings({**DEFAULTS, "seed": seed, "epochs": epochs}).resolved(auto_sizes(points))
    som = SOM(**settings.som_kwargs()).fit(points, epochs=epochs)
    return [f"{mqe:.4g}" for mqe in som.mqe_history_]


def open_page(browser, url: str):
    context = browser.new_context(viewport=VIEWPORT)
    return context, Dashboard(context.new_page(), url)


def load_phase(browser, url: str, sessions: int, epochs: int, max_jobs: int) -> dict:
    pages = [open_page(browser, url) for _ in range(sessions)]
    for seed, (_, dashboard) in enumerate(pages, start=1):
        dashboard.set_number("epochs", epochs)
        dashboard.set_number("seed", seed)
    started = time.perf_counter()
    for _, dashboard in pages:
        dashboard.train()
    finished = []
    for _, dashboard in pages:
        dashboard.wait_for_status(rf"done.*Epoch {epochs} / {epochs}", timeout=600_000)
        finished.append(time.perf_counter() - started)
    failures = []
    session_ids = set()
    for seed, (context, dashboard) in enumerate(pages, start=1):
        expected = engine_mqe(seed, epochs)
        shown = [(int(m.group(1)), m.group(3)) for m in map(EPOCH_LINE.search, dashboard.status_log()) if m]
        wrong = [(epoch, mqe, expected[epoch - 1]) for epoch, mqe in shown if mqe != expected[epoch - 1]]
        if not shown or shown[-1] != (epochs, expected[-1]):
            failures.append(f"seed {seed}: final {shown[-1:] or 'none'} != engine {expected[-1]}")
        if wrong:
            failures.append(f"seed {seed}: {len(wrong)} epochs showed another MQE, e.g. {wrong[:2]}")
        if dashboard.errors:
            failures.append(f"seed {seed}: console errors {dashboard.errors[:3]}")
        session_ids.add(dashboard.session_id())
        context.close()
    if len(session_ids) != sessions:
        failures.append(f"{sessions} pages shared {len(session_ids)} session ids")
    return {"finished_s": finished, "failures": failures, "shown_per_page": len(shown)}


def callback_body(dependencies: list, input_prop: str, values: dict) -> dict:
    """The body the page's renderer sends when ``input_prop`` changes (values by 'id.prop')."""
    component, _, prop = input_prop.rpartition(".")
    dependency = next(dep for dep in dependencies if dep.get("clientside_function") is None
                      and {"id": component, "property": prop} in dep["inputs"])
    outputs = [{"id": spec.rpartition(".")[0], "property": spec.rpartition(".")[2]}
               for spec in dependency["output"].strip(".").split("...")]

    def entry(item):
        return {**item, "value": values.get(f"{item['id']}.{item['property']}")}

    return {"output": dependency["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [entry(item) for item in dependency["inputs"]], "changedPropIds": [input_prop],
            "state": [entry(item) for item in dependency["state"]]}


def request_phase(browser, url: str, count: int, threads: int = 8) -> dict:
    streams = [open_page(browser, url) for _ in range(2)]
    for _, dashboard in streams:
        dashboard.set_number("epochs", 1000)
        dashboard.train()
    for _, dashboard in streams:
        dashboard.wait_for_status(r"training.*Epoch \d+ /", timeout=120_000)
    dependencies = json.load(urllib.request.urlopen(url + "_dash-dependencies"))
    settings = {f"{control}.value": value for control, value in
                (("auto-size", []), ("grid-width", 30), ("grid-height", 30), ("topology", "hex"),
                 ("metric", "euclidean"))}

    def choose_clusters():
        return callback_body(dependencies, "dataset-choice.value", {
            "dataset-choice.value": "clusters", "sample-count.value": 1000, "session-id.data": str(uuid.uuid4())})

    def forged_run():
        return callback_body(dependencies, "train-button.n_clicks", {
            **settings, "train-button.n_clicks": 1, "grid-width.value": 10_000, "session-id.data": str(uuid.uuid4())})

    # (method, path, body, text the answer must hold)
    kinds = {
        "page": ("GET", "", None, "_dash-renderer"),
        "layout": ("GET", "_dash-layout", None, "session-id"),
        "dependencies": ("GET", "_dash-dependencies", None, "run-poll"),
        "asset": ("GET", "assets/zsom.js", None, "dash_clientside"),
        "choose data": ("POST", "_dash-update-component", choose_clusters, "dataset-token"),
        "forged run": ("POST", "_dash-update-component", forged_run, "grid width must be a whole number from 2 to 100"),
    }
    plan = [list(kinds)[i % len(kinds)] for i in range(count)]

    def send(kind: str) -> tuple[str, int, float]:
        method, path, make_body, expected = kinds[kind]
        data = json.dumps(make_body()).encode() if make_body else None
        request = urllib.request.Request(url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                text = response.read().decode("utf-8", "replace")
                status = response.status if expected in text else -response.status  # negative: wrong answer
        except urllib.error.HTTPError as error:
            status = error.code
        return kind, status, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(send, plan))
    wall = time.perf_counter() - started
    still_streaming = all("TRAINING" in dashboard.status().upper() for _, dashboard in streams)
    for context, dashboard in streams:
        dashboard.page.click("#cancel-button")
        context.close()
    return {"results": results, "wall_s": wall, "streaming": still_streaming}


def percentiles(values: list[float]) -> str:
    ms = sorted(1000 * value for value in values)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{pick(0.5):7.1f} {pick(0.9):7.1f} {pick(0.99):7.1f} {ms[-1]:7.1f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="3 sessions, 20 epochs, 50 requests")
    args = parser.parse_args(argv)
    if args.quick:
        args.sessions, args.epochs, args.requests = 3, 20, 50
    max_jobs = psutil.cpu_count() or 1

    failures = []
    with tempfile.TemporaryDirectory(prefix="zsom-stress-") as folder, Server(Path(folder) / "cache") as server:
        store = DiskcacheStore(server.cache_dir / "store")
        sampler = Sampler(server.pid, store)
        sampler.start()
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                load = load_phase(browser, server.url, args.sessions, args.epochs, max_jobs)
                requests = request_phase(browser, server.url, args.requests)
                browser.close()
        finally:
            sampler.stop()
            store.close()

    failures += load["failures"]
    if sampler.peak_slots > max_jobs:
        failures.append(f"{sampler.peak_slots} trainings held slots at once; the cap is {max_jobs}")
    server_errors = [(kind, status) for kind, status, _ in requests["results"] if status >= 500]
    if server_errors:
        failures.append(f"{len(server_errors)} responses were 5xx: {server_errors[:5]}")
    wrong = [(kind, status) for kind, status, _ in requests["results"] if status < 0]
    if wrong:
        failures.append(f"{len(wrong)} answers lacked what they must hold: {wrong[:5]}")
    if not requests["streaming"]:
        failures.append("the two runs had stopped streaming before the requests ended")

    finished = load["finished_s"]
    print(f"\nLoad: {args.sessions} sessions at once, bunny 20,000 points, 30x30 hex, {args.epochs} epochs, "
          f"at most {max_jobs} trainings at once")
    print(f"  all finished in {max(finished):.1f} s (first {min(finished):.1f} s, "
          f"median {statistics.median(finished):.1f} s)")
    print(f"  every shown epoch's MQE equals the engine's for its seed: {'yes' if not load['failures'] else 'NO'}")
    print(f"  peak trainings holding a slot {sampler.peak_slots} (cap {max_jobs}), peak waiting {sampler.peak_waiting}")
    print(f"  peak server memory (server + job server + trainings, {sampler.peak_processes} processes at most): "
          f"RSS {sampler.peak_rss / 2**20:.0f} MB, PSS {sampler.peak_pss / 2**20:.0f} MB")
    print(f"\nRequests: {args.requests} from 8 threads while 2 runs stream, in {requests['wall_s']:.1f} s")
    print(f"  {'endpoint':<14} {'n':>4} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}  statuses")
    kinds = sorted({kind for kind, _, _ in requests["results"]})
    for kind in [*kinds, "all"]:
        rows = [r for r in requests["results"] if kind in ("all", r[0])]
        statuses = sorted({status for _, status, _ in rows})
        print(f"  {kind:<14} {len(rows):>4} {percentiles([r[2] for r in rows])}  {statuses}")
    print("\nPASS" if not failures else "\nFAIL:\n  " + "\n  ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
