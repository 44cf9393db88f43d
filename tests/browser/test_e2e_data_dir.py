"""A dataset from the server's data folder, as a user picks it: listed in the menu with its
size, trained, its epochs streamed, its assignments downloaded."""

import io

import pandas as pd
import pytest
from test_e2e_views import FEATURES, download
from zsom_testkit import Server

pytestmark = pytest.mark.browser


@pytest.fixture
def data_server(tmp_path, table_dir):
    folder = tmp_path / "data"
    folder.mkdir()
    pd.read_csv(table_dir / "penguins.csv").to_parquet(folder / "penguins.parquet")
    with Server(tmp_path / "cache", 2, "--data-dir", str(folder), "--in-memory-rows", "100000") as server:
        yield server


def test_a_server_dataset_is_listed_trained_and_exported(open_dashboard, data_server, table_dir, tmp_path):
    page = open_dashboard(data_server.url)
    page.page.click("#dataset-choice")
    assert page.page.locator(".dash-dropdown-option:has-text('penguins.parquet (server: 344 rows x 8 columns)')")\
        .count() == 1
    page.page.click(".dash-dropdown-option:has(input[value='server:penguins.parquet'])")
    page.wait_for_status("ready.*penguins.parquet")
    page.set_number("epochs", 12)
    page.train()
    page.wait_for_status(r"done.*Epoch 12 / 12")
    page.wait_for_panels(12)
    page.page.screenshot(path=str(tmp_path / "server-data.png"))
    name, content = download(page, "#export-assignments")
    rows = pd.read_csv(io.BytesIO(content))
    penguins = pd.read_csv(table_dir / "penguins.csv")
    assert "penguins" in name and len(rows) == len(penguins.dropna(subset=FEATURES, how="all"))
