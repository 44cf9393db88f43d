"""Datasets in the server's data folder: listed from metadata, read as tables, trained on,
and never a path from the page."""

import os

import numpy as np
import pandas as pd
import pytest
from test_jobs import RecordingBackend

from callbacks.data import OUTPUTS, SERVER_PREFIX, _choose_server_data, dataset_labels
from components.settings import DEFAULTS, parse_settings
from zsom_core.datadir import DataDir
from zsom_core.tables import TableError
from zsom_jobs import Runs, RunStatus
from zsom_jobs.training import run_training

TABLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata", "tables")


@pytest.fixture
def data_dir(tmp_path):
    penguins = pd.read_csv(os.path.join(TABLES, "penguins.csv"))
    folder = tmp_path / "data"
    folder.mkdir()
    penguins.to_parquet(folder / "penguins.parquet")
    parts = folder / "penguins-parts"
    parts.mkdir()
    penguins.iloc[:200].to_parquet(parts / "a.parquet")
    penguins.iloc[200:].to_parquet(parts / "b.parquet")
    (folder / "iris.csv").write_bytes(open(os.path.join(TABLES, "iris.csv"), "rb").read())
    (folder / "notes.txt").write_text("not a table")
    (folder / ".hidden.csv").write_text("a,b\n1,2\n")
    (folder / "broken.parquet").write_bytes(b"PAR1 not really")
    outside = tmp_path / "secret.csv"
    outside.write_text("password,pin\nhunter2,1234\n")
    (folder / "link.csv").symlink_to(outside)
    return folder


def test_the_folder_lists_its_tables_from_their_metadata(data_dir):
    server = DataDir(data_dir)
    assert sorted(server.entries) == ["iris.csv", "penguins-parts", "penguins.parquet"]
    assert (server.entries["penguins.parquet"].rows, server.entries["penguins.parquet"].columns) == (344, 8)
    assert server.entries["penguins-parts"].rows == 344 and server.entries["penguins-parts"].kind == "parquet"
    assert server.entries["iris.csv"].rows is None and server.entries["iris.csv"].columns == 5
    labels = dataset_labels(server)
    assert labels[f"{SERVER_PREFIX}penguins.parquet"] == "penguins.parquet (server: 344 rows x 8 columns)"


@pytest.mark.parametrize("name", ["../secret.csv", "/etc/passwd", "link.csv", "notes.txt", ".hidden.csv",
                                  "penguins-parts/a.parquet", "penguins-parts/../../secret.csv", None, 7, ["x"]])
def test_a_name_that_is_not_an_entry_is_refused_and_nothing_is_opened(data_dir, name):
    with pytest.raises(TableError, match="no dataset called"):
        DataDir(data_dir).read(name, max_rows=10_000)


def test_a_folder_of_parquet_files_reads_as_one_table_and_the_row_limit_holds(data_dir):
    server = DataDir(data_dir)
    table = server.read("penguins-parts", max_rows=10_000)
    assert len(table.frame) == 344 and table.kinds["species"] == "categorical"
    with pytest.raises(TableError, match="344 rows, above this server's in-memory limit of 100"):
        server.read("penguins.parquet", max_rows=100)
    with pytest.raises(TableError, match="150 rows, above this server's in-memory limit of 100"):
        server.read("iris.csv", max_rows=100)  # counted once read


def outputs_of(answer: tuple) -> dict:
    return dict(zip(OUTPUTS, answer))


def test_choosing_a_server_table_stores_it_and_a_run_trains_on_it(store, session_id, data_dir):
    server = DataDir(data_dir)
    answer = outputs_of(_choose_server_data(store, session_id, f"{SERVER_PREFIX}penguins.parquet", True, server,
                                            10_000))
    record = store.get_dataset(session_id)
    assert answer["token"] == record["token"] and record["source"] == "server" and record["label"] == "penguins.parquet"
    assert record["points"].shape[0] == 344 and record["table"]["label_column"] == "species"
    settings = parse_settings({**DEFAULTS, "epochs": 4})
    run = Runs(store, RecordingBackend()).start(session_id, settings.run_settings(), settings.schedule())
    assert run_training(store, session_id, run.run, max_jobs=1) is RunStatus.DONE
    assert store.epochs_done(session_id, run.run) == 4
    from callbacks.data import stored_table

    table, _ = stored_table(store, session_id, record)  # read again, as the views do
    assert np.array_equal(table.frame["bill_length_mm"].to_numpy(), pd.read_parquet(data_dir / "penguins.parquet")
                          ["bill_length_mm"].to_numpy(), equal_nan=True)


def test_a_forged_or_oversized_choice_gets_a_message_and_leaves_the_data(store, session_id, data_dir):
    server = DataDir(data_dir)
    for name, expected in ((f"{SERVER_PREFIX}../secret.csv", "no dataset called"),
                           (f"{SERVER_PREFIX}penguins.parquet", "above this server's in-memory limit")):
        answer = outputs_of(_choose_server_data(store, session_id, name, True, server, 100))
        assert expected in str(answer["info"].children)
        assert store.get_dataset(session_id) is None
    answer = outputs_of(_choose_server_data(store, session_id, f"{SERVER_PREFIX}iris.csv", True, None, 100))
    assert "no data folder" in str(answer["info"].children)


def test_the_app_lists_the_folder_and_refuses_a_forged_name_over_http(tmp_path, data_dir):
    from dash_requests import DashRequests, output, text_of

    from app import create_app

    server = DashRequests(create_app(tmp_path / "cache", max_jobs=1, data_dir=data_dir, in_memory_rows=10_000))
    options = server.page_values()["dataset-choice.options"]
    assert {"label": "penguins-parts (server: 344 rows x 8 columns)", "value": "server:penguins-parts"} in options
    for name in ("server:../secret.csv", "server:/etc/passwd", "server:link.csv"):
        session = server.new_session()
        status, body = server.call("dataset-choice.value", {"dataset-choice.value": name, "session-id.data": session})
        assert status == 200 and "no dataset called" in text_of(output(body, "data-info.children"))
        assert output(body, "dataset-token.data") is None
    session = server.new_session()
    status, body = server.call("dataset-choice.value", {"dataset-choice.value": "server:penguins-parts",
                                                        "session-id.data": session})
    assert status == 200 and output(body, "dataset-token.data")
    assert "344 rows" in text_of(output(body, "data-info.children"))


def test_a_table_put_in_the_folder_while_serving_is_listed_on_the_next_page(tmp_path, data_dir):
    from dash_requests import DashRequests, output

    from app import create_app

    server = DashRequests(create_app(tmp_path / "cache", max_jobs=1, data_dir=data_dir, in_memory_rows=10_000))
    values = [option["value"] for option in server.page_values()["dataset-choice.options"]]
    assert "server:late.parquet" not in values
    pd.read_parquet(data_dir / "penguins.parquet").iloc[:50].to_parquet(data_dir / "late.parquet")
    values = [option["value"] for option in server.page_values()["dataset-choice.options"]]
    assert "server:late.parquet" in values
    status, body = server.call("dataset-choice.value", {"dataset-choice.value": "server:late.parquet",
                                                        "session-id.data": server.new_session()})
    assert status == 200 and output(body, "dataset-token.data")
