"""The views that read a trained map, as a user works them: penguins with species as the
label, trained; component planes, clusters with their borders, a unit's members, the
assignments CSV, the same file mapped as new data, and the report opened offline."""

import io
import re

import numpy as np
import pandas as pd
import pytest
from test_e2e_page import axe_problems

from zsom_core.bundle import read_bundle, sha256

pytestmark = pytest.mark.browser

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]


def open_tab(dashboard, label: str) -> None:
    dashboard.page.click(f"#view-tabs .view-tab:has-text('{label}')")


def figure_title(dashboard, graph: str) -> str:
    return dashboard.page.evaluate(
        """id => { const gd = document.getElementById(id).querySelector('.js-plotly-plot');
                   return gd && gd.layout && gd.layout.title ? gd.layout.title.text : ''; }""", graph)


def wait_for_title(dashboard, graph: str, pattern: str, timeout: float = 60_000) -> str:
    dashboard.page.wait_for_function(
        """([id, pattern]) => { const gd = document.getElementById(id).querySelector('.js-plotly-plot');
                   return gd && gd.layout && gd.layout.title && new RegExp(pattern).test(gd.layout.title.text); }""",
        arg=[graph, pattern], timeout=timeout)
    return figure_title(dashboard, graph)


def border_points(dashboard, graph: str) -> int:
    """How many segment ends the cluster-border trace of a map holds."""
    return dashboard.page.evaluate(
        """id => { const gd = document.getElementById(id).querySelector('.js-plotly-plot');
                   const trace = gd._fullData.find(t => t.mode === 'lines' && t.line && t.line.width === 2.5);
                   return trace ? Array.from(trace.x).filter(v => v !== null && !Number.isNaN(v)).length : -1; }""",
        graph)


def download(dashboard, button: str) -> tuple[str, bytes]:
    with dashboard.page.expect_download(timeout=60_000) as info:
        dashboard.page.click(button)
    path = info.value.path()
    return info.value.suggested_filename, open(path, "rb").read()


@pytest.fixture
def trained_penguins(dashboard, table_dir):
    dashboard.upload(table_dir / "penguins.csv")
    dashboard.wait_for_status("ready.*penguins.csv")
    dashboard.set_number("epochs", 12)
    dashboard.train()
    dashboard.wait_for_status("done")
    dashboard.wait_for_panels(12)
    return dashboard


def test_the_views_read_the_trained_map(trained_penguins, table_dir, tmp_path, browser):
    dashboard, page = trained_penguins, trained_penguins.page
    penguins = pd.read_csv(table_dir / "penguins.csv")

    # Component planes: one per feature, each in the feature's units; a click shows it large.
    open_tab(dashboard, "Component planes")
    page.wait_for_selector(".plane-card")
    names = page.eval_on_selector_all(".plane-card .plane-name", "cards => cards.map(c => c.textContent)")
    assert sorted(names) == sorted(FEATURES)
    flipper = page.locator(".plane-card:has(.plane-name:text-is('flipper_length_mm')) .plane-range span")
    low, high = (float(text) for text in flipper.all_inner_texts())
    observed = penguins["flipper_length_mm"].dropna()
    assert observed.min() - 1 <= low < high <= observed.max() + 1  # millimetres, not z-scores
    page.click(".plane-card:has(.plane-name:text-is('body_mass_g'))")
    wait_for_title(dashboard, "view-plane-large", "body_mass_g")
    page.screenshot(path=str(tmp_path / "planes.png"))

    # Clusters: k = 3 on the slider's box, borders on the U-Matrix and the hit map.
    open_tab(dashboard, "Clusters")
    wait_for_title(dashboard, "view-cluster-map", "Clusters: k = 4")
    dashboard.set_number("cluster-k", 3)
    wait_for_title(dashboard, "view-cluster-map", "Clusters: k = 3")
    assert border_points(dashboard, "view-cluster-u-matrix") > 0
    assert border_points(dashboard, "view-cluster-hits") == border_points(dashboard, "view-cluster-u-matrix")
    assert "Quality at epoch 12" in page.inner_text("#quality-table")
    page.screenshot(path=str(tmp_path / "clusters.png"))
    assert axe_problems(page) == [], "the clusters' tab"

    # A unit's members: click the unit with the most hits on the hit map.
    hits = page.evaluate("""() => { const gd = document.getElementById('view-cluster-hits')
                                        .querySelector('.js-plotly-plot');
                                    const centres = gd._fullData[gd._fullData.length - 1];
                                    return Array.from(centres.customdata).map(row => row[2]); }""")
    unit = int(np.argmax(hits))
    page.evaluate("document.getElementById('view-cluster-hits').scrollIntoView({block: 'start'})")
    x, y = page.evaluate("""unit => { const gd = document.getElementById('view-cluster-hits')
                                             .querySelector('.js-plotly-plot');
                                      const centres = gd._fullData[gd._fullData.length - 1];
                                      const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
                                      const box = gd.getBoundingClientRect();
                                      return [box.left + xa._offset + xa.l2p(centres.x[unit]),
                                              box.top + ya._offset + ya.l2p(centres.y[unit])]; }""", unit)
    page.mouse.click(x, y)
    page.wait_for_selector(".inspector-title")
    members = page.inner_text(".inspector")
    assert re.search(rf"Members \({int(hits[unit]):,}\)", members)
    assert page.locator(".grid-members .ag-row").count() == int(hits[unit])

    # The assignments CSV: every row and column of the table, then the unit's columns.
    name, content = download(dashboard, "#export-assignments")
    assert name.endswith(".csv") and "penguins" in name
    rows = pd.read_csv(io.BytesIO(content))
    assert len(rows) == len(penguins.dropna(subset=FEATURES, how="all"))
    assert list(rows.columns) == [*penguins.columns, "bmu_x", "bmu_y", "bmu_index", "bmu_distance", "cluster"]
    assert set(rows["cluster"]) == {1, 2, 3}
    height = dashboard.view_state()["grid"][1]
    assert (rows["bmu_index"] == rows["bmu_x"] * height + rows["bmu_y"]).all()

    # The run bundle: the whole run, read back as an uploaded bundle would be.
    name, content = download(dashboard, "#export-bundle")
    assert name.endswith("-bundle.zip") and "penguins" in name
    bundle = read_bundle(content)
    assert [row["epoch"] for row in bundle.metrics] == list(range(1, 13))
    assert bundle.data["file"] == "penguins.csv" and bundle.data_file is None
    assert bundle.data["file_sha256"] == sha256((table_dir / "penguins.csv").read_bytes())
    assert bundle.model.weights_.shape[:2] == tuple(dashboard.view_state()["grid"][:2])
    page.check("#bundle-with-data input")
    _, content = download(dashboard, "#export-bundle")
    assert read_bundle(content).data_file[0] == "points.npy"
    page.locator(".view-tabs-row").screenshot(path=str(tmp_path / "exports.png"))

    # The data panel coloured by cluster, the chosen unit's samples larger: drawn once the
    # training panels show again.
    page.click("#cluster-colouring input")
    open_tab(dashboard, "Training")
    page.wait_for_function("""() => { const gd = document.getElementById('panel-data-view')
                                                   .querySelector('.js-plotly-plot');
                                      const marker = gd.data.find(trace => trace.name === 'data').marker;
                                      return Array.isArray(marker.size) && Array.isArray(marker.color); }""")
    colours, sizes = page.evaluate("""() => { const gd = document.getElementById('panel-data-view')
                                                         .querySelector('.js-plotly-plot');
                                              const marker = gd.data.find(trace => trace.name === 'data').marker;
                                              return [marker.color, marker.size]; }""")
    assert set(colours) <= {0, 1, 2} and len(set(colours)) > 1
    assert len(sizes) == len(colours) and 0 < sum(size > min(sizes) for size in sizes) <= hits[unit]

    # The same file as new data: mapped with the trained scaler, the farthest rows flagged.
    open_tab(dashboard, "New data")
    page.set_input_files("#new-data-upload input[type=file]", str(table_dir / "penguins.csv"))
    message = dashboard.wait_for_text("#new-data-message", "rows mapped")
    flagged = int(re.search(r"; ([\d,]+) farther than", message).group(1).replace(",", ""))
    assert 0 < flagged <= 0.02 * len(penguins)  # the training data's 99th percentile
    assert page.locator(".grid-flagged .ag-row").count() == flagged

    # The report: one HTML file that draws its figures with no network at all.
    name, content = download(dashboard, "#export-report")
    assert name.endswith(".html")
    text = content.decode("utf-8")
    assert "<script src=" not in text and "penguins" in text
    report = tmp_path / name
    report.write_bytes(content)
    offline = browser.new_context()
    try:
        offline.route(re.compile(r"^https?://"), lambda route: route.abort())
        report_page = offline.new_page()
        report_page.goto(report.as_uri())
        report_page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5")
        report_page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    finally:
        offline.close()
