"""Faults a shared server meets: a restart mid-run, impatient users, hostile uploads."""

import threading

import psutil
import pytest
from zsom_testkit import REPO, Server, wait_until

from components.settings import SETTING_CONTROLS

pytestmark = pytest.mark.browser

# What a page logs while its server is down for a restart; anything else is an error.
RESTART_NOISE = ("Failed to load resource", "Failed to fetch", "ERR_CONNECTION_REFUSED", "NetworkError",
                 "Callback failed", "Server did not respond", "TypeError: Failed to fetch")


@pytest.fixture
def own_server(tmp_path):
    server = Server(tmp_path / "cache", 2)
    yield server
    server.stop()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_restart_mid_run_is_reported_and_finished_runs_survive_a_reload(open_dashboard, own_server):
    page = open_dashboard(own_server.url)
    page.set_number("epochs", 5)
    page.train()
    page.wait_for_status(r"done.*Epoch 5 / 5")
    page.set_number("epochs", 1000)
    page.train()
    page.wait_for_status(r"training.*Epoch \d+ /")
    jobs = own_server.training_processes()
    assert jobs
    own_server.process.kill()  # a crash, not a clean stop
    own_server.restart()
    # The job notices that its server is gone and stops: nothing trains for no one.
    wait_until(lambda: not any(alive(job) for job in jobs), what="the orphaned training process to stop")
    status = page.wait_for_status("interrupted", timeout=30_000)
    assert "the server stopped during this run" in status
    page.errors[:] = [error for error in page.errors if not any(noise in error for noise in RESTART_NOISE)]

    page.page.reload()
    page.wait_for_status(r"interrupted.*Epoch \d+ / 1000")
    # The run menu tells what happened to the run shown: the restart cut it short.
    page.wait_for_text("#run-choice", "Run 2: interrupted")
    page.page.click("#run-choice")
    options = page.page.locator(".dash-dropdown-option").all_inner_texts()
    assert any(text.startswith("Run 1: done, 5/5 epochs") for text in options), options
    assert any(text.startswith("Run 2: interrupted") for text in options), options
    page.page.click(".dash-dropdown-option:has-text('Run 1: done')")
    assert "Epoch 5 / 5" in page.wait_for_status("done")
    assert page.timeline_label() == "Epoch 5 / 5"


def test_a_reloaded_page_keeps_following_its_run(open_dashboard, own_server):
    page = open_dashboard(own_server.url)
    # Online epochs, long enough (about 30 s here) to be training still when the reloaded page is back.
    page.page.locator(f"#{SETTING_CONTROLS['algorithm']} label", has_text="Online").click()
    page.set_number("epochs", 400)
    page.train()
    page.wait_for_status(r"training.*Epoch \d+ /")
    page.page.reload()
    page.wait_for_status(r"training.*Epoch \d+ / 400")
    assert "Epoch 400 / 400" in page.wait_for_status("done", timeout=180_000)


def count_jobs(server: Server, counts: list, stop: threading.Event) -> None:
    """Sample the number of training processes every 50 ms until ``stop`` is set.

    Nothing announces a process starting, so sampling is the only way to see how many run
    at once; the test sets ``stop`` when it is done.
    """
    while not stop.wait(0.05):
        try:
            counts.append(len(server.training_processes()))
        except psutil.Error:
            pass  # a process ended while it was being looked at


def test_impatient_clicks_leave_at_most_one_job_per_page_and_no_orphans(dashboard, server):
    counts, stop = [], threading.Event()
    watcher = threading.Thread(target=count_jobs, args=(server, counts, stop), daemon=True)
    watcher.start()
    try:
        dashboard.set_number("epochs", 1000)
        dashboard.page.dblclick("#train-button")
        dashboard.wait_for_status(r"training.*Epoch \d+ /")
        for rate in (0.5, 0.6, 0.7, 0.8, 0.9):  # settings changed again and again during the run
            dashboard.set_number("learning-rate", rate)
            dashboard.page.wait_for_timeout(150)  # a user's pace between changes, not a wait for the app
        dashboard.wait_for_status(r"training.*Epoch")
        starts = sum(text.upper().startswith("STARTING") for text in dashboard.status_log())
        dashboard.page.dblclick("#train-button")
        # The restarted run trains, and its Cancel button is live.
        dashboard.page.wait_for_function(
            """starts => { const log = window.__zsomStatus;
                           return log.filter(t => /^starting/i.test(t)).length > starts
                               && /^training.*Epoch/i.test(log[log.length - 1])
                               && !document.getElementById('cancel-button').disabled; }""", arg=starts)
        for _ in range(8):  # the first one cancels; the others hit a button that says it is done
            dashboard.page.click("#cancel-button", force=True)
        dashboard.wait_for_status("cancelled")
        wait_until(lambda: not server.training_processes(), timeout=15, what="the cancelled run's process to end")
    finally:
        stop.set()
        watcher.join()
    assert counts and max(counts) <= 1, f"training processes seen at once: {max(counts)}"
    dashboard.set_number("epochs", 5)
    dashboard.train()
    assert "Epoch 5 / 5" in dashboard.wait_for_status("done")
    wait_until(lambda: not server.training_processes(), timeout=15, what="the finished run's process to end")


def test_hostile_uploads_get_messages_and_the_page_keeps_working(dashboard, server, tmp_path, mesh_dir):
    def upload_and_read(path):
        dashboard.upload(path)
        dashboard.page.wait_for_function("name => document.getElementById('upload-message').innerText.includes(name)",
                                         arg=path.name, timeout=60_000)
        return dashboard.page.inner_text("#upload-message")

    faces = tmp_path / "ten-million-faces.obj"
    with faces.open("wb") as out:
        out.write(b"v 0 0 0\nv 1 0 0\nv 0 1e-9 0\n")
        out.write(b"f 1 2 3\n" * 10_000_000)
    message = upload_and_read(faces)
    assert "larger than the limit of 50.0 MB" in message and "ten-million-faces.obj" in message

    garbage = tmp_path / "garbage.obj"
    garbage.write_bytes(bytes(range(256)) * 64)
    assert "garbage.obj" in upload_and_read(garbage)

    not_a_number = tmp_path / "nan.obj"
    not_a_number.write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    assert "vertex 3" in upload_and_read(not_a_number)

    shell = tmp_path / "a;rm -rf ~;$(reboot)`id`.stl"
    shell.write_bytes((mesh_dir / "teapot.stl").read_bytes())
    assert "Loaded a;rm -rf ~;$(reboot)`id`.stl" in upload_and_read(shell)
    dashboard.set_number("epochs", 3)
    dashboard.train()
    dashboard.wait_for_status("done")
    # Uploads live in the store's values, never in files named after them.
    for folder in (server.cache_dir, REPO):
        assert not [path for path in folder.rglob("*") if "reboot" in path.name or "garbage" in path.name]
