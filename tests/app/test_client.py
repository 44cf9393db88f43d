"""What the browser side takes from Python: the client config and the data- attributes."""

import json
import re
import uuid
from pathlib import Path

import pytest
from dash import dcc

from components.client import client_config, upload_attributes
from components.ids import Ids
from components.layout import build_layout
from components.settings import MAX_UPLOAD_BYTES

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def walk(component):
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from walk(child)


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
    for function in ("play", "debounceSettings", "exportFigure"):
        assert last_state[function] == {"id": Ids.CLIENT_CONFIG, "property": "data"}, function


def test_the_upload_says_its_limit_and_where_to_answer(page):
    holder = holding(page, "data-message-id")
    props = holder.to_plotly_json()["props"]
    assert props["data-max-bytes"] == str(MAX_UPLOAD_BYTES)
    assert props["data-message-id"] == Ids.UPLOAD_MESSAGE
    assert Ids.UPLOAD in {getattr(c, "id", None) for c in walk(holder)}
    assert upload_attributes(7) == {"data-max-bytes": "7", "data-message-id": Ids.UPLOAD_MESSAGE.value}


def test_the_javascript_types_no_component_id():
    source = (ASSETS / "zsom.js").read_text()
    literals = set(re.findall(r'"((?:[^"\\\n]|\\.)*)"', source)) | set(re.findall(r"'((?:[^'\\\n]|\\.)*)'", source))
    assert "data-message-id" in literals  # the scan sees the file's strings
    assert not literals & {member.value for member in Ids}
