"""Measure the dashboard's latency budgets in headless Chromium and print a table.

    .venv/bin/python benchmarks/bench_app.py [--epochs 1000] [--scrubs 6] [--exports 3] [--large 50x50] [--clicks 20]

Serves ``app.py`` on a free port with a fresh cache, opens it in Debian's Chromium (with
the browser tests' kit, ``tests/zsom_testkit.py``), and on the Stanford bunny (20,000 points) with the map
size the data gives it (36 x 30 hex) measures:

- Train click -> first streamed epoch on screen: until the status line shows the first
  epoch, and until every panel has drawn it (each graph's ``plotly_afterplot``);
- panel updates per second while streaming: complete redraws of all five panels, and of
  single panels, between the second update and the end of the run;
- per-epoch payload: the bytes of each ``/_dash-update-component`` response that carries
  a streamed epoch;
- scrub: from a timeline change until all five panels have drawn the chosen epoch;
- export: "Download figure" after the run, from the click to the saved PNG, against Plotly's
  own ``toImage`` of each panel one after the other in the same page (the peer);
- input while a large map streams (``--large``, 50 x 50 by default): the main thread's
  long tasks, the time from a click on a dropdown to its menu, and the click's Event
  Timing (from the input to the next frame painted).

A warm-up run first fills Numba's on-disk cache and the browser's caches, as the budgets
assume a warm machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from zsom_testkit import (  # noqa: E402
    VIEWPORT,
    Server,
    launch_chromium,
    set_number,
    status_text,
    wait_for_callbacks,
    wait_for_status,
)

from components.layout import EXPORT_LAYOUT  # noqa: E402

PANELS = ["panel-data-view", "panel-u-matrix", "panel-u-surface", "panel-hits", "panel-curves"]

BUDGET_FIRST_EPOCH_S = 1.0
BUDGET_UPDATES_PER_S = 4.0
BUDGET_PAYLOAD_KB = 150.0
BUDGET_SCRUB_S = 0.5
BUDGET_EXPORT_S = 3.0
BUDGET_INPUT_S = 0.2

# Timestamps (performance.now()) of each graph's redraws and of each status text.
PROBE = """
window.__bench = {draws: [], status: []};
setInterval(() => {
  document.querySelectorAll('.js-plotly-plot').forEach(gd => {
    if (gd.__benchHooked || typeof gd.on !== 'function') return;
    gd.__benchHooked = true;
    const panel = gd.parentElement && gd.parentElement.id;
    gd.on('plotly_afterplot', () => window.__bench.draws.push([performance.now(), panel]));
  });
}, 50);
new MutationObserver(() => {
  const line = document.getElementById('status-line');
  if (!line) return;
  const text = line.innerText.replace(/\\s+/g, ' ');
  const log = window.__bench.status;
  if (!log.length || log[log.length - 1][1] !== text) log.push([performance.now(), text]);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def now(page) -> float:
    return page.evaluate("performance.now()")


def train_once(page, epochs: int) -> dict:
    """One run; returns what the browser saw and received during it."""
    page.evaluate("window.__bench.draws = []; window.__bench.status = []")
    responses: list[tuple[float, int, str]] = []

    def on_response(response):
        if "_dash-update-component" not in response.url:
            return
        try:
            body = response.body()
        except Exception:  # noqa: BLE001 - a response the page dropped
            return
        responses.append((time.perf_counter(), len(body), body[:200].decode("utf8", "replace")))

    page.on("response", on_response)
    clicked = now(page)
    page.click("#train-button")
    wait_for_status(page, "^(starting|training)", timeout=120_000)  # the previous run's "Done" is gone
    wait_for_status(page, "^done", timeout=120_000)
    wait_for_callbacks(page)  # the run's last answers have come in
    page.remove_listener("response", on_response)
    bench = page.evaluate("window.__bench")
    return {"clicked": clicked, "draws": bench["draws"], "status": bench["status"], "responses": responses}


def analyse_run(run: dict) -> dict:
    clicked = run["clicked"]
    first_status = next((t for t, text in run["status"] if "TRAINING" in text.upper() and "Epoch" in text), None)
    draws = [(t, panel) for t, panel in run["draws"] if t > clicked]
    # A streamed update is a redraw of the data panel after the first epoch is shown.
    data_draws = [t for t, panel in draws if panel == "panel-data-view" and first_status and t >= first_status - 50]
    first_all = None
    if first_status is not None:
        seen = {}
        for t, panel in draws:
            if t >= first_status - 50 and panel not in seen:
                seen[panel] = t
        if len(seen) == len(PANELS):
            first_all = max(seen.values())
    done = next((t for t, text in run["status"]
                 if text.upper().startswith("DONE") and first_status and t > first_status), None)
    streaming = [t for t in data_draws if done is None or t < done]
    rate = None
    if len(streaming) >= 3:
        rate = (len(streaming) - 2) / ((streaming[-1] - streaming[1]) / 1000)
    panel_draws = [t for t, _ in draws if len(streaming) >= 3 and streaming[1] <= t <= streaming[-1]]
    panel_rate = len(panel_draws) / ((streaming[-1] - streaming[1]) / 1000) if len(streaming) >= 3 else None
    patch_head = '"panel-data-view":{"__dash_patch_update"'
    epoch_payloads = [size for _, size, head in run["responses"] if patch_head in head and size > 10_000]
    return {
        "first_status_s": None if first_status is None else (first_status - clicked) / 1000,
        "first_all_s": None if first_all is None else (first_all - clicked) / 1000,
        "updates_per_s": rate,
        "panel_redraws_per_s": panel_rate,
        "payloads_kb": [size / 1024 for size in epoch_payloads],
    }


def scrub(page, epochs: int, count: int) -> list[float]:
    """Seconds from a timeline change until all five panels redrew, ``count`` times."""
    latencies = []
    targets = [max(1, epochs * k // (count + 1)) for k in range(1, count + 1)]
    for target in targets:
        page.evaluate("window.__bench.draws = []")
        start = now(page)
        set_number(page, "timeline", target)
        page.wait_for_function(
            "([start, panels]) => panels.every(p => window.__bench.draws.some(([t, q]) => q === p && t > start))",
            arg=[start, PANELS], timeout=30_000)
        draws = page.evaluate("window.__bench.draws")
        latencies.append((max(t for t, _ in draws if t > start) - start) / 1000)
        wait_for_callbacks(page)  # this scrub is answered in full before the next one starts
    return latencies


# Plotly's own PNG of each panel at the export's tile size, one after the other: the peer of the export.
PLOTLY_TO_IMAGE = """async ([panels, tile, scale]) => {
  const started = performance.now();
  for (const panel of panels) {
    const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
    const width = panel === panels[0] ? 2 * tile[0] : tile[0];
    await Plotly.toImage(gd, {format: 'png', width, height: tile[1], scale});
  }
  return (performance.now() - started) / 1000;
}"""
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver(list => list.getEntries().forEach(entry => window.__longTasks.push(entry.duration)))
  .observe({type: 'longtask'});
"""


def export_times(page, count: int) -> tuple[list[float], list[float]]:
    """Seconds from a click on "Download figure" to the saved PNG, and the peer's seconds, ``count`` times."""
    ours, peers = [], []
    for _ in range(count):
        started = time.perf_counter()
        with page.expect_download(timeout=120_000):
            page.click("#download-figure-button")
        page.wait_for_function("document.getElementById('export-message').innerText.startsWith('Saved')")
        ours.append(time.perf_counter() - started)
        peers.append(page.evaluate(PLOTLY_TO_IMAGE, [PANELS, EXPORT_LAYOUT["tile"], EXPORT_LAYOUT["scale"]]))
    return ours, peers


# When each dropdown menu opened (epoch milliseconds, the machine's clock, so that the script
# can compare it with when it clicked), and the Event Timing API's entries for the clicks:
# from the input to the next frame painted after it was handled.
MENU_PROBE = """
window.__menus = {opened: [], events: []};
new MutationObserver(() => {
  const open = document.querySelector('.dash-dropdown-option') !== null, menus = window.__menus;
  if (open && !menus.open) menus.opened.push(performance.timeOrigin + performance.now());
  menus.open = open;
}).observe(document, {subtree: true, childList: true});
new PerformanceObserver(list => list.getEntries().forEach(entry => {
  if (['pointerdown', 'mousedown', 'pointerup', 'mouseup', 'click'].includes(entry.name))
    window.__menus.events.push(entry.duration);
})).observe({type: 'event', durationThreshold: 16});
"""


def input_while_streaming(page, width: int, height: int, clicks: int, seed: int = 1) -> dict:
    """Long runs on a width x height map: the long tasks while they stream, and, ``clicks``
    times at a user's pace, milliseconds from a click on a dropdown to its menu in the
    page, and the click's Event Timing duration (to the next frame painted).

    The click is a bare mouse event at the dropdown's place: Playwright's ``click`` first
    waits for the element to be still over two animation frames, which measures the page's
    frame rate, not its answer to the user; and nothing touches the page between the pause
    and the click (an ``evaluate`` would wait for the task in progress and hide it)."""
    pace = random.Random(seed)
    page.locator("#auto-size label").click()  # the map's size chosen, not the data's
    set_number(page, "grid-width", width)
    set_number(page, "grid-height", height)
    set_number(page, "epochs", 1000)
    wait_for_callbacks(page)
    dropdown = page.locator("#neighborhood")
    dropdown.scroll_into_view_if_needed()
    box = dropdown.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    opens, events, tasks, elapsed = [], [], [], 0.0
    while len(opens) < clicks:
        page.click("#train-button")
        wait_for_status(page, r"^training.*Epoch \d+ /", timeout=120_000)
        page.evaluate("window.__longTasks = []; window.__menus.opened = []; window.__menus.events = []")
        started = now(page)
        while len(opens) < clicks:
            page.wait_for_timeout(pace.uniform(1000, 3000))  # a user's pause between two actions
            clicked = time.time() * 1000
            page.mouse.click(x, y)
            page.wait_for_function("window.__menus.opened.length > 0", polling=10, timeout=30_000)
            opened = page.evaluate("window.__menus.opened[0]")
            page.keyboard.press("Escape")
            page.wait_for_function("!window.__menus.open", polling=10, timeout=30_000)
            if not status_text(page).upper().startswith("TRAINING"):
                break  # the run ended meanwhile: this click did not meet a streaming page
            opens.append((opened - clicked) / 1000)
            events.extend(page.evaluate("window.__menus.events"))
            page.evaluate("window.__menus.opened = []; window.__menus.events = []")
        elapsed += now(page) - started
        tasks.extend(page.evaluate("window.__longTasks"))
        if status_text(page).upper().startswith("TRAINING"):
            page.click("#cancel-button")
            wait_for_status(page, "^cancelled", timeout=60_000)
    return {"opens": opens, "events": events, "tasks": tasks, "busy": sum(tasks) / elapsed if elapsed else None}


def fmt(value, unit="", digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000, help="epochs of the measured run (default 1000)")
    parser.add_argument("--scrubs", type=int, default=6, help="timeline changes to time (default 6)")
    parser.add_argument("--exports", type=int, default=3, help="exports to time (default 3)")
    parser.add_argument("--large", default="50x50", help="the map streamed while input is timed (default 50x50)")
    parser.add_argument("--clicks", type=int, default=20, help="dropdown clicks timed while it streams (default 20)")
    args = parser.parse_args()
    large = [int(side) for side in args.large.split("x")]

    with tempfile.TemporaryDirectory(prefix="zsom-bench-") as folder, Server(Path(folder) / "cache") as server:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
            page.add_init_script(PROBE)
            page.add_init_script(LONG_TASKS)
            page.add_init_script(MENU_PROBE)
            page.goto(server.url)
            wait_for_status(page, "ready.*bunny", timeout=120_000)
            set_number(page, "epochs", 20)
            train_once(page, 20)  # warm-up: Numba's cache, the job server, the browser
            set_number(page, "epochs", args.epochs)
            wait_for_callbacks(page)  # the settings change has gone through before the measured run
            run = analyse_run(train_once(page, args.epochs))
            latencies = scrub(page, args.epochs, args.scrubs)
            exports, peers = export_times(page, args.exports)
            streaming = input_while_streaming(page, *large, clicks=args.clicks)
            browser.close()

    payloads = run["payloads_kb"]
    rows = [
        ("Train click -> first epoch in the status line", f"< {BUDGET_FIRST_EPOCH_S:.1f} s",
         fmt(run["first_status_s"], " s"),
         run["first_status_s"] is not None and run["first_status_s"] < BUDGET_FIRST_EPOCH_S),
        ("Train click -> first epoch drawn in all panels", f"< {BUDGET_FIRST_EPOCH_S:.1f} s",
         fmt(run["first_all_s"], " s"), run["first_all_s"] is not None and run["first_all_s"] < BUDGET_FIRST_EPOCH_S),
        ("Full 5-panel updates while streaming", f">= {BUDGET_UPDATES_PER_S:.0f} /s",
         fmt(run["updates_per_s"], " /s"), (run["updates_per_s"] or 0) >= BUDGET_UPDATES_PER_S),
        ("Single-panel redraws while streaming", f">= {BUDGET_UPDATES_PER_S:.0f} /s",
         fmt(run["panel_redraws_per_s"], " /s"), (run["panel_redraws_per_s"] or 0) >= BUDGET_UPDATES_PER_S),
        ("Per-epoch payload, median (max)", f"< {BUDGET_PAYLOAD_KB:.0f} KB",
         f"{statistics.median(payloads):.1f} KB ({max(payloads):.1f} KB)" if payloads else "n/a",
         bool(payloads) and max(payloads) < BUDGET_PAYLOAD_KB),
        ("Scrub -> all panels redrawn, median (max)", f"< {BUDGET_SCRUB_S * 1000:.0f} ms",
         f"{statistics.median(latencies) * 1000:.0f} ms ({max(latencies) * 1000:.0f} ms)" if latencies else "n/a",
         bool(latencies) and max(latencies) < BUDGET_SCRUB_S),
        ("Export after the run, median (max)", f"< {BUDGET_EXPORT_S:.0f} s",
         f"{statistics.median(exports):.2f} s ({max(exports):.2f} s)", max(exports) < BUDGET_EXPORT_S),
        ("  ratio to Plotly's toImage of each panel (peer)", "",
         f"{statistics.median(exports) / statistics.median(peers):.2f} (peer {statistics.median(peers):.2f} s)", True),
        (f"Click -> dropdown open while a {args.large} map streams, median (max)", f"< {BUDGET_INPUT_S * 1000:.0f} ms",
         f"{statistics.median(streaming['opens']) * 1000:.0f} ms ({max(streaming['opens']) * 1000:.0f} ms)",
         max(streaming["opens"]) < BUDGET_INPUT_S),
        ("  the clicks' Event Timing (input to next paint), longest", f"< {BUDGET_INPUT_S * 1000:.0f} ms",
         f"{max(streaming['events'], default=0):.0f} ms", max(streaming["events"], default=0) < BUDGET_INPUT_S * 1000),
        ("  main thread in long tasks; longest task", "",
         f"{fmt(streaming['busy'] and streaming['busy'] * 100, ' %', 0)}; "
         f"{max(streaming['tasks'], default=0):.0f} ms", True),
    ]
    print(f"\nZSOM dashboard budgets: bunny 20,000 points, its map sized from the data, {args.epochs} epochs, "
          f"headless Chromium (software WebGL), {len(payloads)} streamed epochs measured\n")
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    header = ("measure", "budget", "measured")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  ok")
    print("  ".join("-" * w for w in widths) + "  --")
    for name, budget, measured, ok in rows:
        cells = "  ".join(str(v).ljust(w) for v, w in zip((name, budget, measured), widths))
        print(cells + ("  yes" if ok else "  NO"))


if __name__ == "__main__":
    main()
