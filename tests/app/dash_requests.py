"""Hand-made requests to a Dash app's callback endpoint, as a client outside the browser sends them.

``DashRequests(app)`` reads what any visitor can read, ``/_dash-dependencies`` (which
callbacks exist, their inputs and states) and ``/_dash-layout`` (the values a fresh page
starts with), then POSTs ``/_dash-update-component`` bodies built from them:

    requests = DashRequests(create_app(tmp_path / "cache", max_jobs=2))
    status, body = requests.call("train-button.n_clicks", {"grid-width.value": 0})

Every input and state gets the value a fresh page holds unless the caller overrides it,
so a test changes only what it forges. The output list of a body comes from the
dependency's callback (``app.callback_map``), never from parsing Dash's output strings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

PropId = str  # "component-id.property"
UPDATE_URL = "/_dash-update-component"


def split_prop_id(prop_id: PropId) -> tuple[str, str]:
    component, _, prop = prop_id.rpartition(".")
    if not component or not prop:
        raise ValueError(f"not an 'id.property' pair: {prop_id!r}")
    return component, prop


def walk_layout(node) -> Iterator[dict]:
    """The props of every component with an id in a ``/_dash-layout`` tree."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            props = node["props"] or {}
            if "id" in props:
                yield props
            for value in props.values():
                yield from walk_layout(value)
        else:
            for value in node.values():
                yield from walk_layout(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_layout(value)


def text_of(value) -> str:
    """The visible text of a returned component tree (or a plain value), joined by spaces."""
    if value is None:
        return ""
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, list):
        return " ".join(text_of(item) for item in value)
    if isinstance(value, dict):
        props = value.get("props")
        return text_of(props.get("children")) if isinstance(props, dict) else ""
    return str(value)


class DashRequests:
    """Callback requests to one Dash app through Flask's test client (in process)."""

    def __init__(self, app):
        self.app = app
        self.client = app.server.test_client()
        response = self.client.get("/_dash-dependencies")
        assert response.status_code == 200, response.status_code
        self.dependencies: list[dict] = response.get_json()
        self.defaults = self.page_values()

    # ------------------------------------------------------------------ what a page holds

    def page_values(self) -> dict[PropId, Any]:
        """Every prop of every component with an id, as a freshly loaded page holds it."""
        response = self.client.get("/_dash-layout")
        assert response.status_code == 200, response.status_code
        values = {}
        for props in walk_layout(response.get_json()):
            for prop, value in props.items():
                if prop not in ("id", "children"):
                    values[f"{props['id']}.{prop}"] = value
        return values

    def new_session(self) -> str:
        """The session id a new page load is given."""
        return self.page_values()["session-id.data"]

    # ------------------------------------------------------------------ callbacks

    def dependencies_with(self, input_prop: PropId) -> list[dict]:
        """The server-side callbacks (not client-side ones) that have ``input_prop`` as an input."""
        component, prop = split_prop_id(input_prop)
        return [dep for dep in self.dependencies
                if dep.get("clientside_function") is None and {"id": component, "property": prop} in dep["inputs"]]

    def dependency(self, input_prop: PropId, writes: PropId | None = None) -> dict:
        """The one server-side callback that has ``input_prop`` as an input (and writes
        ``writes``, when several do)."""
        found = [dep for dep in self.dependencies_with(input_prop)
                 if writes is None or split_prop_id(writes) in self.written(dep)]
        if len(found) != 1:
            raise LookupError(f"{len(found)} server callbacks have input {input_prop!r}"
                              f"{'' if writes is None else f' and write {writes!r}'}; pass writes=...")
        return found[0]

    def written(self, dependency: dict) -> list[tuple[str, str]]:
        """(component id, property) of every output of a dependency, from its callback."""
        outputs = self.app.callback_map[dependency["output"]]["output"]
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [(str(out.component_id), out.component_property) for out in outputs]

    def body(self, input_prop: PropId, values: dict[PropId, Any] | None = None, *,
             writes: PropId | None = None, changed: list[PropId] | None = None,
             dependency: dict | None = None) -> dict:
        """The request body the renderer would send when ``input_prop`` changes.

        ``values`` overrides the page's values ("id.prop" -> value); the trigger, unless
        given, is set to 1 when the page holds nothing for it (a first click). The callback
        is the one ``dependency(input_prop, writes)`` finds, unless ``dependency`` names it.
        """
        dependency = dependency or self.dependency(input_prop, writes)
        values = dict(values or {})
        if input_prop not in values and self.defaults.get(input_prop) is None:
            values[input_prop] = 1

        def entry(item: dict) -> dict:
            key = f"{item['id']}.{item['property']}"
            return {"id": item["id"], "property": item["property"],
                    "value": values[key] if key in values else self.defaults.get(key)}

        callback_outputs = self.app.callback_map[dependency["output"]]["output"]
        multi = isinstance(callback_outputs, (list, tuple))
        specs = [{"id": str(out.component_id), "property": out.component_property}
                 for out in (callback_outputs if multi else [callback_outputs])]
        return {
            "output": dependency["output"],
            "outputs": specs if multi else specs[0],
            "inputs": [entry(item) for item in dependency["inputs"]],
            "changedPropIds": [input_prop] if changed is None else changed,
            "state": [entry(item) for item in dependency["state"]],
        }

    def post(self, body: Any, *, raw: bool = False):
        """POST a body (a JSON-able value, or, with ``raw``, the bytes/str as is)."""
        data = body if raw else json.dumps(body)  # allow_nan: Python's parser takes NaN back
        return self.client.post(UPDATE_URL, data=data, content_type="application/json")

    def call_raw(self, input_prop: PropId, values: dict[PropId, Any] | None = None, **options):
        return self.post(self.body(input_prop, values, **options))

    def call(self, input_prop: PropId, values: dict[PropId, Any] | None = None, **options) -> tuple[int, Any]:
        """(HTTP status, parsed JSON body or None) of one callback request."""
        response = self.call_raw(input_prop, values, **options)
        return response.status_code, response.get_json(silent=True)


def output(body: dict | None, prop_id: PropId, missing: Any = None) -> Any:
    """The value a callback response sets on ``prop_id``, or ``missing`` if it leaves it."""
    if not body:
        return missing
    component, prop = split_prop_id(prop_id)
    return body.get("response", {}).get(component, {}).get(prop, missing)
