"""Several users at once, a full server, and a training process that dies."""

import signal

import pytest
from zsom_testkit import Server

from zsom_jobs import DEAD_MESSAGE

pytestmark = pytest.mark.browser


def test_two_pages_train_at_once_each_on_its_own_data(open_dashboard):
    bunny, clusters = open_dashboard(), open_dashboard()
    clusters.choose_dataset("clusters")
    # Enough points that its map (sized from the data) trains for seconds, as the bunny's does.
    clusters.set_number("sample-count", 200_000)
    clusters.wait_for_status("clusters: 200,000 points")
    # Its map (62x61) trains about two epochs a second on two busy cores, and the bunny's
    # (niced, as every training is, below two pages drawing each epoch) 10-15: both runs
    # overlap, and each lasts some 15 s, past several of its page's status polls however
    # long the pages' drawing stretches them (a 7 s run was seen with no poll in it).
    bunny.set_number("epochs", 200)
    clusters.set_number("epochs", 30)
    bunny.train()
    clusters.train()
    bunny_final = bunny.wait_for_status("done", timeout=180_000)
    clusters_final = clusters.wait_for_status("done", timeout=180_000)
    assert "Epoch 200 / 200" in bunny_final and "Epoch 30 / 30" in clusters_final
    assert bunny.shown_epochs() and clusters.shown_epochs()
    titles = [page.page.text_content("#panel-data-view .gtitle") for page in (bunny, clusters)]
    assert "bunny" in titles[0] and "clusters" in titles[1]


@pytest.fixture(scope="module")
def one_job_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("zsom-one-job"), 1, "--max-waiting", "1")
    yield server
    server.stop()


def test_a_full_server_queues_the_next_run_and_turns_away_the_one_after(open_dashboard, one_job_server):
    first, second, third = (open_dashboard(one_job_server.url) for _ in range(3))
    first.set_number("epochs", 1000)
    second.set_number("epochs", 5)
    first.train()
    first.wait_for_status(r"training.*Epoch \d+ /")
    second.train()
    # The queued run's job reports its place once it has started (niced, as every training
    # is, while the first run streams to a page).
    assert "next in line" in second.wait_for_status("queued", timeout=180_000)
    third.train()
    assert "Server busy: 1 training running and 1 waiting, try again in a moment." in third.wait_for_status("busy")
    first.page.click("#cancel-button")
    first.wait_for_status("cancelled")
    # The slot is free again: the queued run takes it.
    assert "Epoch 5 / 5" in second.wait_for_status("done")


def test_a_killed_training_process_is_reported_and_the_next_run_works(dashboard, server):
    dashboard.set_number("epochs", 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    jobs = server.training_processes()
    assert jobs, "no training process found"
    for job in jobs:
        job.send_signal(signal.SIGKILL)
    status = dashboard.wait_for_status("failed", timeout=20_000)
    assert DEAD_MESSAGE in status
    assert dashboard.page.is_disabled("#cancel-button")
    dashboard.set_number("epochs", 5)
    dashboard.train()
    assert "Epoch 5 / 5" in dashboard.wait_for_status("done")
