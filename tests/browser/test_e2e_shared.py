"""Serving many users: pages on two gunicorn web processes, trainings on two Celery
workers, state in a real Redis; the faults such a server meets."""

import io
import re
import time

import pandas as pd
import pytest
from test_e2e_views import FEATURES, download, open_tab, wait_for_title
from zsom_testkit import CeleryWorker, GunicornServer, RedisServer, wait_until

from zsom_core import SOM
from zsom_jobs.redis_store import RedisStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]
OUTAGE_S = 10.0

# What a page may log while a web process or the store is down; anything else is an error.
OUTAGE_NOISE = ("Failed to load resource", "Failed to fetch", "503", "SERVICE UNAVAILABLE", "Callback failed",
                "Server did not respond", "NetworkError")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    # Snapshots on: a Redis that is stopped and started again keeps what it held.
    with RedisServer(tmp_path_factory.mktemp("shared-redis"), persist=True) as server:
        yield server


@pytest.fixture(scope="module")
def shared_server(redis, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("shared-logs")
    workers = [CeleryWorker(redis.url, f"w{index}", log_dir) for index in range(2)]
    web = GunicornServer(redis.url, log_dir, workers=2)
    yield web, workers
    web.stop()
    for worker in workers:
        worker.stop()
    for log in [web.log_path, *(worker.log_path for worker in workers), redis.log_path]:
        assert redis.password not in log.read_text(errors="replace"), f"{log.name} shows the Redis password"


def engine_mqe(redis, session_id: str) -> float:
    """The final MQE of the session's current run, trained again here by the engine alone."""
    store = RedisStore(redis.url)
    try:
        record = store.current_run(session_id)
        return SOM(**record.settings).fit(store.get_dataset(session_id)["points"]).mqe_history_[-1]
    finally:
        store.close()


def shown_mqe(status: str) -> float:
    return float(re.search(r"MQE\s*([0-9.e-]+)", status).group(1))


def forgive_outage(page) -> None:
    page.errors[:] = [error for error in page.errors if not any(noise in error for noise in OUTAGE_NOISE)]


def test_four_pages_two_train_two_wait_and_each_ends_with_the_engines_map(open_dashboard, shared_server, redis):
    web, workers = shared_server
    pages = [open_dashboard(web.url) for _ in range(4)]
    for seed, page in enumerate(pages, start=1):
        page.set_number("epochs", 100)
        page.set_number("seed", seed)
    for page in pages:
        page.train()

    def places_in_line():
        statuses = [page.status() for page in pages]
        return sorted(re.search(r"slot: (next in line|\d+ runs ahead)", status).group(1)
                      for status in statuses if "Queued for a training slot" in status)

    wait_until(lambda: places_in_line() == ["1 runs ahead", "next in line"], 60,
               "two pages in line, one next, while both workers train")
    for page in pages:
        status = page.wait_for_status(r"Done.*Epoch 100 / 100", timeout=180_000)
        assert shown_mqe(status) == pytest.approx(engine_mqe(redis, page.session_id()), rel=1e-3)
    assert all(" succeeded in " in worker.log_path.read_text() for worker in workers)


def test_a_killed_web_process_leaves_the_pages_streaming_through_the_other(open_dashboard, shared_server, redis):
    web, _ = shared_server
    pages = [open_dashboard(web.url) for _ in range(2)]
    for page in pages:
        page.set_number("epochs", 600)
        page.train()
    for page in pages:
        page.wait_for_status(r"Training.*Epoch \d+ / 600")
    victim = web.web_processes()[0]
    victim.kill()  # mid-stream; gunicorn starts another, and the pages go on through either
    for page in pages:
        page.wait_for_status(r"Done.*Epoch 600 / 600", timeout=180_000)
        assert redis.password not in page.page.content()
        forgive_outage(page)
    assert victim.pid not in {process.pid for process in web.web_processes()}


def test_a_redis_outage_is_shown_and_the_page_comes_back(open_dashboard, shared_server, redis):
    web, _ = shared_server
    page = open_dashboard(web.url)
    page.set_number("epochs", 1000)
    page.train()
    page.wait_for_status(r"Training.*Epoch \d+ / 1000")
    stopped = time.monotonic()
    redis.stop()
    page.wait_for_status("Server unavailable", timeout=30_000)
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - stopped)))  # the outage itself: its length is the point
    redis.start()
    # The job waited for the store and goes on: the page streams again, never stuck.
    before = int(re.search(r"Epoch (\d+) / 1000", page.wait_for_status(r"Training.*Epoch \d+ / 1000")).group(1))
    page.wait_for_status(rf"Training.*Epoch (?!{before} )\d+ / 1000")
    assert redis.password not in page.page.content()
    page.page.click("#cancel-button")
    page.wait_for_status("Cancelled")
    forgive_outage(page)


def test_a_table_upload_its_views_and_exports_work_across_web_processes(open_dashboard, shared_server, table_dir):
    web, _ = shared_server
    page = open_dashboard(web.url)
    page.upload(table_dir / "penguins.csv")
    page.wait_for_status("ready.*penguins.csv")
    page.set_number("epochs", 12)
    page.train()
    page.wait_for_status("done")
    page.wait_for_panels(12)
    # Each request may reach either web process: each reads the upload and the map from Redis.
    open_tab(page, "Component planes")
    page.page.wait_for_selector(".plane-card")
    assert page.page.locator(".plane-card").count() == len(FEATURES)
    open_tab(page, "Clusters")
    wait_for_title(page, "view-cluster-map", "Clusters: k = ")
    name, content = download(page, "#export-assignments")
    rows = pd.read_csv(io.BytesIO(content))
    penguins = pd.read_csv(table_dir / "penguins.csv")
    assert name.endswith(".csv") and len(rows) == len(penguins.dropna(subset=FEATURES, how="all"))
