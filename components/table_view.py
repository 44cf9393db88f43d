"""What the sidebar shows of a loaded table: each column's kind and role (editable), the
scaling, and the first rows.

The roles are a ``dash_table.DataTable`` whose rows are the columns of the user's table:
its cells are plain text (DataTable renders no HTML unless a column asks for markdown),
and the user's column names are values in it, never component or column ids.
"""

from __future__ import annotations

import math

from dash import dash_table

from .ids import Ids

PREVIEW_ROWS = 8
PREVIEW_CELL_CHARS = 40

FEATURE, LABEL, IDENTIFIER, IGNORED = "feature", "label", "identifier", "ignored"
SCALING_LABELS = {"zscore": "z-score", "minmax": "min-max", "robust": "robust (median, IQR)", "none": "none"}
DEFAULT_SCALING = "zscore"
# The roles the menu offers per kind of column; the server checks the choice again.
ROLES_BY_KIND = {
    "numeric": (FEATURE, LABEL, IGNORED),
    "categorical": (LABEL, FEATURE, IGNORED),
    "identifier": (IDENTIFIER, LABEL, IGNORED),
    "text": (IDENTIFIER, IGNORED),
    "date": (IGNORED,),
    "constant": (IGNORED,),
}

_TABLE_STYLE = {
    "style_table": {"maxHeight": "18rem", "overflowY": "auto", "overflowX": "auto"},
    "style_cell": {"fontFamily": "inherit", "fontSize": "12px", "padding": "2px 6px", "textAlign": "left",
                   "whiteSpace": "nowrap", "maxWidth": "12rem", "overflow": "hidden", "textOverflow": "ellipsis"},
    "style_header": {"fontWeight": "600", "backgroundColor": "#f1f5f9"},
}
# The roles table fits the sidebar, which widens while a table is loaded (style.css):
# long column names wrap, the other cells stay on one line.
_ROLE_COLUMN_WIDTHS = {"column": "84px", "kind": "82px", "role": "82px", "weight": "46px"}
_ROLES_STYLE = {
    **_TABLE_STYLE,
    "style_cell": {**_TABLE_STYLE["style_cell"], "fontSize": "11px", "padding": "2px 4px", "lineHeight": "1.25"},
    "style_cell_conditional": [
        {"if": {"column_id": column}, "width": width, "minWidth": width, "maxWidth": width}
        for column, width in _ROLE_COLUMN_WIDTHS.items()
    ],
}
_ROLES_CSS = [
    # The menu of a role cell shows in full over the rows below it.
    {"selector": ".Select-menu-outer", "rule": "display: block !important"},
    {"selector": "td[data-dash-column=column] .dash-cell-value",
     "rule": "white-space: normal; overflow-wrap: anywhere"},
]


def roles_table() -> dash_table.DataTable:
    """The editable table of column roles and weights, empty until a table is loaded."""
    columns = [
        {"id": "column", "name": "Column", "editable": False},
        {"id": "kind", "name": "Kind", "editable": False},
        {"id": "role", "name": "Role", "presentation": "dropdown", "editable": True},
        {"id": "weight", "name": "Weight", "type": "numeric", "editable": True},
    ]
    dropdowns = [{"if": {"column_id": "role", "filter_query": f'{{kind}} = "{kind}"'},
                  "options": [{"label": role, "value": role} for role in roles], "clearable": False}
                 for kind, roles in ROLES_BY_KIND.items()]
    return dash_table.DataTable(id=Ids.TABLE_ROLES, columns=columns, data=[], dropdown_conditional=dropdowns,
                                fixed_rows={"headers": True}, css=_ROLES_CSS, **_ROLES_STYLE)


def role_rows(kinds: dict[str, str], roles: dict[str, str], weights: dict[str, float]) -> list[dict]:
    """The roles table's rows: one per column of the user's table, in its order."""
    return [{"column": name, "kind": kind, "role": roles[name], "weight": weights.get(name, 1.0)}
            for name, kind in kinds.items()]


def preview_rows(frame, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """The column names and the first ``rows`` rows of ``frame``, every value as short
    text ("" where missing): what the store keeps to show the table again."""
    head = frame.head(rows)
    return ([str(name) for name in head.columns],
            [[_cell_text(value) for value in row] for row in head.itertuples(index=False, name=None)])


def preview_grid(columns: list[str], rows: list[list[str]]) -> dash_table.DataTable:
    """The first rows as a read-only grid."""
    return dash_table.DataTable(columns=[{"id": f"c{index}", "name": name} for index, name in enumerate(columns)],
                                data=[{f"c{index}": value for index, value in enumerate(row)} for row in rows],
                                **_TABLE_STYLE)


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if text in ("nan", "NaT", "<NA>"):
        return ""
    return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "\u2026"


def read_roles(rows, columns: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    """The roles and weights the user set in the roles table, checked against the table's
    columns; a ``ValueError`` says what is wrong (an edited cell the table cannot hold)."""
    if not isinstance(rows, list) or len(rows) != len(columns):
        raise ValueError("the column roles do not match the table; load it again")
    roles, weights = {}, {}
    for row, name in zip(rows, columns):
        if not isinstance(row, dict) or row.get("column") != name:
            raise ValueError("the column roles do not match the table; load it again")
        roles[name] = row.get("role")
        weight = row.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or weight < 0:
            raise ValueError(f"the weight of column {name!r} must be a number of at least 0, got {weight!r}")
        weights[name] = float(weight)
    return roles, weights

