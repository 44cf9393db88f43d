"""Several users at once, a full server, and a training process that dies."""

import psutil
import pytest
from browser_testkit import Server

from callbacks.jobs import DEAD_MESSAGE

pytestmark = pytest.mark.browser


def test_two_pages_train_at_once_each_on_its_own_data(open_dashboard):
    bunny, clusters = open_dashboard(), open_dashboard()
    clusters.choose_dataset("clusters")
    for page in (bunny, clusters):
        page.set_number("epochs", 150)
    bunny.train()
    clusters.train()
    bunny_final = bunny.wait_for_status("done", timeout=90_000)
    clusters_final = clusters.wait_for_status("done", timeout=90_000)
    assert "Epoch 150 / 150" in bunny_final and "Epoch 150 / 150" in clusters_final
    assert bunny.shown_epochs() and clusters.shown_epochs()
    titles = [page.page.text_content("#panel-data-view .gtitle") for page in (bunny, clusters)]
    assert "bunny" in titles[0] and "clusters" in titles[1]


@pytest.fixture(scope="module")
def one_job_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("zsom-one-job"), max_jobs=1)
    yield server
    server.stop()


def test_a_full_server_says_it_is_busy(open_dashboard, one_job_server):
    first, second = open_dashboard(one_job_server.url), open_dashboard(one_job_server.url)
    first.set_number("epochs", 1000)
    first.train()
    first.wait_for_status(r"training.*Epoch \d+ /")
    second.train()
    assert "Server busy: 1 training running, try again in a moment." in second.wait_for_status("busy")
    first.page.click("#cancel-button")
    first.wait_for_status("cancelled")
    # The slot is free again.
    second.set_number("epochs", 5)
    second.train()
    second.wait_for_status("done")


def test_a_killed_training_process_is_reported(dashboard, server):
    dashboard.set_number("epochs", 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    # Jobs are children of the job server (a forkserver), itself a child of the app.
    job_servers = [child for child in psutil.Process(server.process.pid).children()
                   if "forkserver" in " ".join(child.cmdline())]
    assert len(job_servers) == 1, "no job server found"
    jobs = [job for job in job_servers[0].children() if job.status() != psutil.STATUS_ZOMBIE]
    assert jobs, "no training process found"
    for job in jobs:
        job.kill()
    status = dashboard.wait_for_status("failed", timeout=20_000)
    assert DEAD_MESSAGE in status
    assert dashboard.page.is_disabled("#cancel-button")
