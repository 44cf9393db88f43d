"""Measure the dashboard's latency budgets in headless Chromium and print a table.

    .venv/bin/python benchmarks/bench_app.py [--epochs 300] [--scrubs 6]

Serves ``app.py`` on a free port with a fresh cache, opens it in Debian's Chromium (as
the browser tests do), and on the Stanford bunny (20,000 points) with a 30 x 30
hexagonal map measures:

- Train click -> first streamed epoch on screen: until the status line shows the first
  epoch, and until every panel has drawn it (each graph's ``plotly_afterplot``);
- panel updates per second while streaming: complete redraws of all five panels, and of
  single panels, between the second update and the end of the run;
- per-epoch payload: the bytes of each ``/_dash-update-component`` response that carries
  a streamed epoch;
- scrub: from a timeline change until all five panels have drawn the chosen epoch.

A warm-up run first fills Numba's on-disk cache and the browser's caches, as the budgets
assume a warm machine.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PANELS = ["panel-data-view", "panel-u-matrix", "panel-u-surface", "panel-hits", "panel-curves"]

BUDGET_FIRST_EPOCH_S = 1.0
BUDGET_UPDATES_PER_S = 4.0
BUDGET_PAYLOAD_KB = 150.0
BUDGET_SCRUB_S = 0.5

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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_app(cache_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port), "--cache-dir", str(cache_dir)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "_dash-layout", timeout=2)
            return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the app did not start")


def now(page) -> float:
    return page.evaluate("performance.now()")


def wait_status(page, pattern: str, timeout: float = 120_000) -> None:
    page.wait_for_function(
        "pattern => { const l = document.getElementById('status-line');"
        " return l && new RegExp(pattern, 'i').test(l.innerText.replace(/\\s+/g, ' ')); }",
        arg=pattern, timeout=timeout)


def set_value(page, control: str, value) -> None:
    box = page.locator(f"#{control} input[type=number]").first
    box.fill(str(value))
    box.press("Enter")  # the dashboard commits a slider's box on Enter


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
    wait_status(page, "^(starting|training)")  # the previous run's "Done" is gone
    wait_status(page, "^done")
    page.wait_for_timeout(1500)
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
    done = next((t for t, text in run["status"] if text.upper().startswith("DONE") and first_status and t > first_status),
                None)
    streaming = [t for t in data_draws if done is None or t < done]
    rate = None
    if len(streaming) >= 3:
        rate = (len(streaming) - 2) / ((streaming[-1] - streaming[1]) / 1000)
    panel_draws = [t for t, _ in draws if streaming and streaming[1] <= t <= streaming[-1]]
    panel_rate = len(panel_draws) / ((streaming[-1] - streaming[1]) / 1000) if len(streaming) >= 3 else None
    epoch_payloads = [size for _, size, head in run["responses"] if '"panel-data-view":{"figure":{"__dash_patch_update"' in head
                      and size > 10_000]
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
        set_value(page, "timeline", target)
        page.wait_for_function(
            "([start, panels]) => panels.every(p => window.__bench.draws.some(([t, q]) => q === p && t > start))",
            arg=[start, PANELS], timeout=30_000)
        draws = page.evaluate("window.__bench.draws")
        latencies.append((max(t for t, _ in draws if t > start) - start) / 1000)
        page.wait_for_timeout(400)
    return latencies


def fmt(value, unit="", digits=2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300, help="epochs of the measured run (default 300)")
    parser.add_argument("--scrubs", type=int, default=6, help="timeline changes to time (default 6)")
    args = parser.parse_args()

    cache_dir = Path(tempfile.mkdtemp(prefix="zsom-bench-"))
    process, url = start_app(cache_dir)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.add_init_script(PROBE)
            page.goto(url)
            wait_status(page, "ready.*bunny")
            set_value(page, "epochs", 20)
            train_once(page, 20)  # warm-up: Numba's cache, the job server, the browser
            set_value(page, "epochs", args.epochs)
            page.wait_for_timeout(1000)
            run = analyse_run(train_once(page, args.epochs))
            latencies = scrub(page, args.epochs, args.scrubs)
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(cache_dir, ignore_errors=True)

    payloads = run["payloads_kb"]
    rows = [
        ("Train click -> first epoch in the status line", f"< {BUDGET_FIRST_EPOCH_S:.1f} s",
         fmt(run["first_status_s"], " s"), run["first_status_s"] is not None and run["first_status_s"] < BUDGET_FIRST_EPOCH_S),
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
    ]
    print(f"\nZSOM dashboard budgets: bunny 20,000 points, 30 x 30 hex, {args.epochs} epochs, headless Chromium "
          f"(software WebGL), {len(payloads)} streamed epochs measured\n")
    widths = [max(len(str(row[i])) for row in rows) for i in range(3)]
    header = ("measure", "budget", "measured")
    widths = [max(w, len(h)) for w, h in zip(widths, header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  ok")
    print("  ".join("-" * w for w in widths) + "  --")
    for name, budget, measured, ok in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip((name, budget, measured), widths)) + ("  yes" if ok else "  NO"))


if __name__ == "__main__":
    main()
