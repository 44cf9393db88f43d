"""What the browser side takes from Python: the client config and the data- attributes."""

import json
import math
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from dash import dcc
from ui_testkit import walk

from components.client import HEX_TILING, client_config, upload_attributes
from components.figures import HEX_TILE, hits_figure, u_matrix_figure
from components.geometry import map_structure
from components.ids import Ids
from components.layout import build_layout
from components.settings import MAX_UPLOAD_BYTES

ASSETS = Path(__file__).resolve().parents[2] / "assets"


@pytest.fixture(scope="module")
def page():
    return build_layout(str(uuid.uuid4()), {"bunny": "a bunny"}, "bunny", 20_000)


def holding(page, attribute: str):
    return next(c for c in walk(page) if attribute in c.to_plotly_json()["props"])


def test_the_config_is_plain_json_and_names_ids_of_the_page(page):
    config = client_config()
    assert json.loads(json.dumps(config)) == config
    shown = {str(c.id) for c in walk(page) if getattr(c, "id", None)}
    assert set(config["ids"].values()) <= shown


def test_the_page_carries_the_config_for_the_clientside_callbacks(page):
    store = next(c for c in walk(page) if getattr(c, "id", None) == Ids.CLIENT_CONFIG)
    assert isinstance(store, dcc.Store) and store.data == client_config()


def test_the_clientside_callbacks_get_the_config_last(tmp_path):
    from app import create_app

    app = create_app(tmp_path / "cache", max_jobs=1)
    last_state = {spec["clientside_function"]["function_name"]: spec["state"][-1]
                  for spec in app._callback_list if spec.get("clientside_function") and spec["state"]}
    for function in ("play", "pacePoll", "debounceSettings", "exportFigure"):
        assert last_state[function] == {"id": Ids.CLIENT_CONFIG, "property": "data"}, function


def test_the_hex_size_makes_neighbours_meet_edge_to_edge():
    # Plotly's hexagon is pointy-top with circumradius size / 2: across its flats it is
    # sqrt(3) times that, and rows of such hexagons tile 1.5 circumradii apart.
    positions = map_structure(6, 5, "hex").positions
    circumradius = HEX_TILING["size_per_unit"] / 2
    row_step = np.diff(np.unique(positions[:, 0][positions[:, 1] == 0]))
    row_pitch = np.diff(np.unique(positions[:, 1]))
    assert np.allclose(row_step, math.sqrt(3) * circumradius)
    assert np.allclose(row_pitch, 1.5 * circumradius)
    assert 0 < HEX_TILING["tolerance_px"] < HEX_TILING["overlap_px"] < 1


def test_the_map_panels_say_which_traces_to_tile(page):
    holder = holding(page, "data-hex-tiling")
    assert json.loads(holder.to_plotly_json()["props"]["data-hex-tiling"]) == HEX_TILING
    inside = {getattr(c, "id", None) for c in walk(holder)}
    assert {Ids.U_MATRIX, Ids.HITS} <= inside
    structure = map_structure(4, 4, "hex")
    tiled = [trace for figure in (u_matrix_figure(structure, None, "r"), hits_figure(structure, None, "r"))
             for trace in figure.data if trace.meta == HEX_TILE]
    assert len(tiled) == 3 and HEX_TILING["meta"] == HEX_TILE  # counts, U-Matrix, dead units


def test_the_upload_says_its_limit_and_where_to_answer(page):
    holder = holding(page, "data-message-id")
    props = holder.to_plotly_json()["props"]
    assert props["data-max-bytes"] == str(MAX_UPLOAD_BYTES)
    assert props["data-message-id"] == Ids.UPLOAD_MESSAGE
    assert Ids.UPLOAD in {getattr(c, "id", None) for c in walk(holder)}
    assert upload_attributes(7, (".obj", ".ply")) == {"data-max-bytes": "7", "data-extensions": ".obj,.ply",
                                                      "data-message-id": Ids.UPLOAD_MESSAGE.value}


def test_the_javascript_types_no_component_id():
    source = (ASSETS / "zsom.js").read_text()
    literals = set(re.findall(r'"((?:[^"\\\n]|\\.)*)"', source)) | set(re.findall(r"'((?:[^'\\\n]|\\.)*)'", source))
    assert "data-hex-tiling" in literals  # the scan sees the file's strings
    assert not literals & {member.value for member in Ids}
