"""Tables: an uploaded CSV with missing values and categorical columns, its column roles,
a broken file, and a built-in table."""

import pytest
from test_e2e_page import axe_problems

pytestmark = pytest.mark.browser

ROLE_CELL = ("#table-roles .ag-row:has(.ag-cell[col-id='column'] .ag-cell-value:text-is('{column}')) "
             ".ag-cell[col-id='role']")


def role_of(dashboard, column: str) -> str:
    return dashboard.page.inner_text(ROLE_CELL.format(column=column)).strip()


def colour_names(dashboard) -> list[str]:
    """The class names the data panel's colour bar shows for its points."""
    return dashboard.page.evaluate(
        """() => { const gd = document.getElementById('panel-data-view').querySelector('.js-plotly-plot');
                   const marker = gd.data.find(trace => trace.name === 'data').marker;
                   return marker.colorbar ? marker.colorbar.ticktext : []; }""")


def test_an_uploaded_table_shows_its_roles_trains_and_colours_by_its_label(dashboard, table_dir, tmp_path):
    dashboard.upload(table_dir / "penguins.csv")
    dashboard.wait_for_status("ready.*penguins.csv")
    info = dashboard.wait_for_text("#data-info", "344 rows")
    assert "features" in info
    # Each column with its kind and role: species is the label, the measurements features.
    assert dashboard.page.is_visible("#table-roles")
    assert role_of(dashboard, "species") == "label"
    assert role_of(dashboard, "bill_length_mm") == "feature"
    assert not dashboard.page.is_visible("#sample-count")
    dashboard.page.screenshot(path=str(tmp_path / "penguins-loaded.png"), full_page=True)
    dashboard.page.click(".table-preview summary")
    assert "Adelie" in dashboard.page.inner_text("#table-preview")
    assert axe_problems(dashboard.page) == [], "a table's roles and preview"
    dashboard.wait_for_text("#panel-data-view .gtitle", "penguins.csv")
    assert sorted(colour_names(dashboard)) == ["Adelie", "Chinstrap", "Gentoo"]

    # Making the island a feature (one-hot) prepares the table again.
    dashboard.page.click(ROLE_CELL.format(column="island"))
    dashboard.page.screenshot(path=str(tmp_path / "penguins-roles.png"))
    dashboard.page.click("#table-roles .ag-cell-inline-editing .ag-picker-field-wrapper")
    dashboard.page.click(".ag-select-list .ag-list-item-text:text-is('feature')")
    dashboard.wait_for_text("#data-info", "one-hot from island")

    dashboard.set_number("epochs", 10)
    dashboard.train()
    assert "Epoch 10 / 10" in dashboard.wait_for_status("done")
    dashboard.wait_for_panels(10)
    dashboard.page.screenshot(path=str(tmp_path / "penguins.png"))

    # Three features as the 3-D view's axes: the same run, its map in millimetres.
    axes = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm"]
    for axis in axes:
        dashboard.page.click("#table-axes")
        dashboard.page.click(f".dash-dropdown-option:has(input[value='{axis}'])")
        dashboard.page.keyboard.press("Escape")
    dashboard.wait_for_text("#panel-data-view .gtitle", "three of 8 features")
    map_x = dashboard.page.wait_for_function(
        """() => { const gd = document.getElementById('panel-data-view').querySelector('.js-plotly-plot');
                   const trace = (gd._fullData || []).find(trace => trace.name === 'map');
                   const x = trace && Array.from(trace.x || []);
                   return x && x.length && x.every(Number.isFinite) && x; }""").json_value()
    assert 30 < min(map_x) and max(map_x) < 62  # the penguins' bill lengths, in mm
    titles = dashboard.page.evaluate("""() => { const scene = document.getElementById('panel-data-view')
        .querySelector('.js-plotly-plot').layout.scene;
        return ['xaxis', 'yaxis', 'zaxis'].map(axis => scene[axis].title.text); }""")
    assert titles == axes
    assert "Epoch 10 / 10" in dashboard.wait_for_status("done")  # not trained again
    assert dashboard.page.inner_text("#run-choice").count("Run 2") == 0
    dashboard.page.screenshot(path=str(tmp_path / "penguins-axes.png"))
    dashboard.assert_no_console_errors()


def test_a_broken_table_is_explained_next_to_the_upload(dashboard, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9,10,11\n")
    dashboard.upload(path)
    message = dashboard.wait_for_text("#upload-message", "ragged.csv")
    assert "line 4" in message
    # The session keeps its data and trains.
    dashboard.set_number("epochs", 3)
    dashboard.train()
    dashboard.wait_for_status("done")


def test_the_built_in_digits_train(dashboard):
    dashboard.choose_dataset("table:digits", shown="digits")
    dashboard.wait_for_text("#data-info", "1,797 rows")
    assert sorted(colour_names(dashboard)) == [str(digit) for digit in range(10)]
    dashboard.set_number("epochs", 5)
    dashboard.train()
    assert "Epoch 5 / 5" in dashboard.wait_for_status("done")
