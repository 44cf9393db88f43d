"""Training in the browser: streaming, the timeline, cancel, live changes, export."""

import re
import struct

import pytest
from zsom_testkit import wait_until

from components.layout import export_size
from zsom_jobs import RunStatus

pytestmark = pytest.mark.browser

# Long enough to stream several epochs at this machine's pace, short enough for the suite.
LONG_RUN = 1000


def test_train_streams_epochs_then_shows_the_final_mqe(dashboard):
    dashboard.set_number("epochs", LONG_RUN)
    dashboard.train()
    final = dashboard.wait_for_status(r"done.*MQE", timeout=90_000)
    intermediate = [epoch for epoch in dashboard.shown_epochs() if epoch < LONG_RUN]
    assert len(set(intermediate)) >= 3, dashboard.status_log()
    assert intermediate == sorted(intermediate)
    assert re.search(rf"Epoch {LONG_RUN} / {LONG_RUN}", final)
    assert re.search(r"MQE \d+\.\d+", final)
    assert dashboard.timeline_label() == f"Epoch {LONG_RUN} / {LONG_RUN}"


def test_timeline_scrubs_back_and_plays(dashboard):
    dashboard.choose_dataset("clusters")
    dashboard.set_number("epochs", 30)
    dashboard.train()
    dashboard.wait_for_status("done")
    dashboard.wait_for_panels(30)
    final_map = dashboard.graph_values("panel-u-matrix")
    final_hits = dashboard.graph_values("panel-hits")
    dashboard.set_number("timeline", 3)
    dashboard.page.wait_for_function("document.getElementById('timeline-label').innerText === 'Epoch 3 / 30'")
    dashboard.wait_for_status("Epoch 3 / 30")
    dashboard.wait_for_panels(3)
    assert dashboard.graph_values("panel-u-matrix") != final_map
    assert dashboard.graph_values("panel-hits") != final_hits
    dashboard.page.click("#play-button")
    dashboard.page.wait_for_function("document.getElementById('timeline-label').innerText === 'Epoch 30 / 30'",
                                     timeout=30_000)
    dashboard.wait_for_panels(30)
    assert dashboard.graph_values("panel-u-matrix") == final_map


def test_cancel_stops_the_run_at_once(dashboard, server):
    dashboard.set_number("epochs", 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    at_click = len(dashboard.label_log()) - 1  # the label shown when Cancel is pressed
    dashboard.page.click("#cancel-button")
    status = dashboard.wait_for_status("cancelled", timeout=10_000)
    match = re.search(r"epoch (\d+)", status, re.IGNORECASE)
    assert match and int(match.group(1)) < 1000
    cancelled_at = int(match.group(1))
    # The server's side is final once the training process is gone: nothing stores an epoch after it.
    wait_until(lambda: not server.training_processes(), timeout=15, what="the cancelled run's process to end")
    record, stored = server.current_run(dashboard.session_id())
    assert record.status is RunStatus.CANCELLED
    # The store refuses epochs once the run is cancelled: what it holds is what was shown.
    assert stored == record.epoch == cancelled_at, "an epoch was stored after the cancel"
    # The page's side: two more answers, decided after the training process ended.
    dashboard.wait_for_answers(2)
    assert "cancelled" in dashboard.status().lower(), dashboard.status_log()
    assert dashboard.page.is_disabled("#cancel-button")
    # No label the timeline showed from the click on reached past what the server holds.
    since_click = dashboard.label_log()[at_click:]
    ends = [int(match.group(1)) for match in map(re.compile(r"^Epoch \d+ / (\d+)$").match, since_click) if match]
    assert ends and max(ends) <= stored, (since_click, stored)


def test_changing_the_schedule_while_streaming_starts_a_new_run_that_says_why(dashboard):
    dashboard.set_number("epochs", 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    dashboard.set_number("sigma-end", 0.3)
    dashboard.page.wait_for_function(
        "() => window.__zsomStatus.some(text => /restarting with sigma at the end 0.5 -> 0.3/i.test(text))",
        timeout=15_000)
    # The new run streams from its own first epochs.
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    dashboard.page.click("#cancel-button")
    dashboard.wait_for_status("cancelled")


def test_composed_figure_downloads_as_one_png(dashboard, tmp_path):
    dashboard.choose_dataset("rings")
    dashboard.set_number("epochs", 10)
    dashboard.train()
    dashboard.wait_for_status("done")
    with dashboard.page.expect_download(timeout=60_000) as download_info:
        dashboard.page.click("#download-figure-button")
    download = download_info.value
    assert download.suggested_filename == "zsom-rings-epoch-10.png"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == export_size()
    assert len(data) > 50_000  # panels, not a blank canvas
    dashboard.page.wait_for_function("document.getElementById('export-message').innerText.startsWith('Saved')")
    # Each panel's own modebar button downloads it alone, at twice the screen resolution.
    dashboard.page.hover("#panel-u-matrix")
    with dashboard.page.expect_download(timeout=30_000) as download_info:
        dashboard.page.click("#panel-u-matrix .modebar-btn[data-title^='Download plot']")
    assert download_info.value.suggested_filename == "zsom-u-matrix.png"
    panel = dashboard.page.locator("#panel-u-matrix").bounding_box()
    single = tmp_path / "u-matrix.png"
    download_info.value.save_as(single)
    width, height = struct.unpack(">II", single.read_bytes()[16:24])
    assert abs(width - 2 * panel["width"]) <= 2 and abs(height - 2 * panel["height"]) <= 2


# Every text the export's message showed, in order.
EXPORT_MESSAGES = """
window.__exportMessages = [];
new MutationObserver(() => {
  const element = document.getElementById('export-message');
  const text = element ? element.innerText : '';
  const log = window.__exportMessages;
  if (text && log[log.length - 1] !== text) log.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def polls_of(requests: list) -> list:
    """The page's polls among Dash requests: those its poll store triggered."""
    return [request for request in requests if '"run-poll.data"' in (request.post_data or "")]


def test_an_export_while_streaming_holds_the_stream_and_says_how_far_it_is(open_dashboard, tmp_path):
    dashboard = open_dashboard(init_script=EXPORT_MESSAGES)
    page = dashboard.page
    page.click("#download-figure-button")
    dashboard.wait_for_text("#export-message", "Nothing to export yet")
    dashboard.set_number("epochs", 1000)
    dashboard.train()
    dashboard.wait_for_status(r"training.*Epoch \d+ /")
    requests = []
    with page.expect_download(timeout=60_000) as download_info:
        page.click("#download-figure-button")
        page.on("request", lambda request: requests.append(request) if "_dash-update" in request.url else None)
    name = download_info.value.suggested_filename
    shown = int(re.fullmatch(r"zsom-bunny-epoch-(\d+)\.png", name).group(1))
    dashboard.wait_for_text("#export-message", f"Saved {name}")
    messages = page.evaluate("window.__exportMessages")
    assert any(re.fullmatch(r"Exporting \d of 5 panels\.\.\.", text) for text in messages), messages
    # The composed panels are the epoch the page showed: no poll went out while they were drawn.
    assert not polls_of(requests), [request.post_data[:200] for request in polls_of(requests)]
    assert dashboard.view_state()["epoch"] == shown
    # And the stream goes on, at the poll's pace: it rests longer after a busy main thread.
    dashboard.wait_for_answers(2, timeout=90_000)
    assert dashboard.view_state()["epoch"] > shown
    page.click("#cancel-button")
    dashboard.wait_for_status("cancelled")
