"""The two ways to serve, side by side in one run: one process on diskcache, and Redis with
Celery workers behind several web processes.

    .venv/bin/python benchmarks/bench_serving.py [--epochs 100] [--requests 200]

On this machine, each mode in turn (the browser tests' kit, ``tests/zsom_testkit.py``):

- **local**: ``python app.py --max-jobs 2`` (a forked process per training);
- **redis**: a ``redis-server``, two ``celery -A app:celery_app worker --concurrency 1``
  (one thread per training, as the local mode gives each of its two jobs) and
  ``gunicorn -w 2 'app:server'``.

In headless Chromium, for each mode: the click on Train to the first epoch on screen,
alone (median of ``--firsts`` runs); two pages training the bunny (20,000 points, 30 x 30
hex) at once, and each run's epochs per second from its own record (seconds spent in its
epochs, as the job measured them); then ``--requests`` requests to the app's endpoints
from 8 threads while two runs stream (``stress.request_phase``), as latency percentiles.
The last line is the Redis mode's cost per epoch as a ratio to the local mode's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))

from stress import open_page, percentiles, request_phase  # noqa: E402
from zsom_testkit import CeleryWorker, GunicornServer, RedisServer, Server, launch_chromium  # noqa: E402

from zsom_jobs.redis_store import RedisStore  # noqa: E402
from zsom_jobs.store import DiskcacheStore  # noqa: E402


def prepare(dashboard, epochs: int, seed: int) -> None:
    dashboard.page.locator("#auto-size label").click()  # the size set by hand: 30 x 30, hexagonal by default
    dashboard.set_number("grid-width", 30)
    dashboard.set_number("grid-height", 30)
    dashboard.set_number("epochs", epochs)
    dashboard.set_number("seed", seed)


def first_epoch_s(browser, url: str, repeats: int) -> list[float]:
    times = []
    for seed in range(1, repeats + 1):
        context, dashboard = open_page(browser, url)
        prepare(dashboard, 20, seed)
        started = time.perf_counter()
        dashboard.train()
        dashboard.wait_for_status(r"Epoch \d+ / 20", timeout=120_000)
        times.append(time.perf_counter() - started)
        dashboard.wait_for_status(r"Done", timeout=120_000)
        context.close()
    return times


def two_runs(browser, url: str, epochs: int, store) -> list[float]:
    """Epochs per second of two runs trained at once, each from its own record."""
    pages = [open_page(browser, url) for _ in range(2)]
    for seed, (_, dashboard) in enumerate(pages, start=1):
        prepare(dashboard, epochs, seed)
    for _, dashboard in pages:
        dashboard.train()
    rates = []
    for context, dashboard in pages:
        dashboard.wait_for_status(rf"Done.*Epoch {epochs} / {epochs}", timeout=600_000)
        record = store.current_run(dashboard.session_id())
        rates.append(record.epochs / record.elapsed)
        context.close()
    return rates


def measure(browser, url: str, store, args) -> dict:
    return {"first": first_epoch_s(browser, url, args.firsts), "rates": two_runs(browser, url, args.epochs, store),
            "requests": request_phase(browser, url, args.requests)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--firsts", type=int, default=3)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory(prefix="zsom-serving-") as folder, sync_playwright() as playwright:
        folder = Path(folder)
        browser = launch_chromium(playwright)
        with Server(folder / "cache", 2) as server:
            store = DiskcacheStore(server.cache_dir / "store")
            results["local"] = measure(browser, server.url, store, args)
            store.close()
        with RedisServer(folder / "redis") as redis:
            workers = [CeleryWorker(redis.url, f"w{index}", folder) for index in range(2)]
            web = GunicornServer(redis.url, folder, workers=2)
            store = RedisStore(redis.url)
            try:
                results["redis"] = measure(browser, web.url, store, args)
            finally:
                store.close()
                web.stop()
                for worker in workers:
                    worker.stop()
        browser.close()

    print(f"\nBunny 20,000 x 3-D, 30x30 hex, {args.epochs} epochs; two trainings at once, one thread each")
    print(f"{'mode':<7} {'first epoch s':>14} {'epochs/s per run':>18} {'ms per epoch':>13}   "
          f"requests p50 / p90 / p99 / max ms (5xx)")
    per_epoch = {}
    for mode, result in results.items():
        per_epoch[mode] = 1000 / statistics.mean(result["rates"])
        answers = result["requests"]["results"]
        errors = sum(status >= 500 for _, status, _ in answers)
        rates = " ".join(f"{rate:.1f}" for rate in result["rates"])
        print(f"{mode:<7} {statistics.median(result['first']):>14.2f} {rates:>18} {per_epoch[mode]:>13.1f}   "
              f"{percentiles([seconds for _, _, seconds in answers])} ({errors})")
    ratio = per_epoch["redis"] / per_epoch["local"]
    print(f"\nRedis + Celery per epoch / local per epoch: {ratio:.2f} (the floor: at most 1.20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
