"""What the sidebar shows of a loaded table: each column's kind and role (editable), the
scaling, and the first rows.

Both grids are AG Grid (``dash_ag_grid``), which replaces Dash's own DataTable (deprecated
for removal). Their cells are plain text (no cell renderer that takes HTML, and
``dangerously_allow_code`` stays off), and the user's column names are values or header
names in them, never fields or ids: a name with a dot would be a nested path to AG Grid.
"""

from __future__ import annotations

import math

import dash_ag_grid as dag

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
ROW_HEIGHT_PX, HEADER_HEIGHT_PX, MAX_ROLES_HEIGHT_PX = 28, 32, 320

_GRID_OPTIONS = {"rowHeight": ROW_HEIGHT_PX, "headerHeight": HEADER_HEIGHT_PX, "suppressMovableColumns": True,
                 "suppressCellFocus": False, "enableCellTextSelection": True}


def roles_table() -> dag.AgGrid:
    """The editable grid of column roles and weights, empty until a table is loaded. A
    role cell's menu offers the roles of its row's kind (``choices``, read by
    ``zsomRoleChoices`` in assets/zsom.js)."""
    column_defs = [
        {"field": "column", "headerName": "Column", "flex": 4, "tooltipField": "column"},
        {"field": "kind", "headerName": "Kind", "flex": 3},
        {"field": "role", "headerName": "Role", "flex": 3, "editable": True, "cellEditor": "agSelectCellEditor",
         "cellEditorParams": {"function": "zsomRoleChoices(params)"}, "cellClass": "grid-editable"},
        {"field": "weight", "headerName": "Weight", "flex": 2, "editable": True, "cellEditor": "agNumberCellEditor",
         "cellEditorParams": {"min": 0, "precision": 3}, "cellClass": "grid-editable"},
    ]
    return dag.AgGrid(id=Ids.TABLE_ROLES, rowData=[], columnDefs=column_defs, className="table-grid",
                      defaultColDef={"sortable": False, "resizable": False, "suppressHeaderMenuButton": True},
                      dashGridOptions={**_GRID_OPTIONS, "singleClickEdit": True,
                                       "stopEditingWhenCellsLoseFocus": True},
                      style=roles_style(0))


def roles_style(rows: int) -> dict:
    """The roles grid's height for ``rows`` columns: all of them, up to a scrolling cap."""
    return {"height": f"{min(HEADER_HEIGHT_PX + rows * ROW_HEIGHT_PX + 2, MAX_ROLES_HEIGHT_PX)}px", "width": "100%"}


def role_rows(kinds: dict[str, str], roles: dict[str, str], weights: dict[str, float]) -> list[dict]:
    """The roles grid's rows: one per column of the user's table, in its order."""
    return [{"column": name, "kind": kind, "role": roles[name], "weight": weights.get(name, 1.0),
             "choices": list(ROLES_BY_KIND.get(kind, (IGNORED,)))}
            for name, kind in kinds.items()]


def preview_rows(frame, rows: int = PREVIEW_ROWS) -> tuple[list[str], list[list[str]]]:
    """The column names and the first ``rows`` rows of ``frame``, every value as short
    text ("" where missing): what the store keeps to show the table again."""
    head = frame.head(rows)
    return ([str(name) for name in head.columns],
            [[_cell_text(value) for value in row] for row in head.itertuples(index=False, name=None)])


def preview_grid(columns: list[str], rows: list[list[str]]) -> dag.AgGrid:
    """The first rows as a read-only grid."""
    return dag.AgGrid(columnDefs=[{"field": f"c{index}", "headerName": name} for index, name in enumerate(columns)],
                      rowData=[{f"c{index}": value for index, value in enumerate(row)} for row in rows],
                      columnSize="autoSize", className="table-grid",
                      defaultColDef={"sortable": False, "suppressHeaderMenuButton": True},
                      dashGridOptions={**_GRID_OPTIONS, "domLayout": "autoHeight"}, style={"width": "100%"})


def data_grid(frame, name: str, height_px: int = 320) -> dag.AgGrid:
    """Rows of ``frame`` as a read-only grid that sorts and scrolls: a unit's members,
    the flagged rows of new data. Numbers stay numbers (they sort as such); other
    values are short text."""
    columns = [str(column) for column in frame.columns]
    numeric = [frame[column].dtype.kind in "iuf" for column in frame.columns]
    rows = []
    for values in frame.itertuples(index=False, name=None):
        rows.append({f"c{index}": (None if value != value else float(value)) if is_number else _cell_text(value)
                     for index, (value, is_number) in enumerate(zip(values, numeric))})
    number = {"type": "numericColumn", "valueFormatter": {"function": "zsomNumber(params.value)"}}
    return dag.AgGrid(columnDefs=[{"field": f"c{index}", "headerName": column, **(number if is_number else {})}
                                  for index, (column, is_number) in enumerate(zip(columns, numeric))],
                      rowData=rows, columnSize="autoSize", className=f"table-grid grid-{name}",
                      defaultColDef={"sortable": True, "suppressHeaderMenuButton": True},
                      dashGridOptions=_GRID_OPTIONS, style={"width": "100%", "height": f"{height_px}px"})


def _cell_text(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value)
    if text in ("nan", "NaT", "<NA>"):
        return ""
    return text if len(text) <= PREVIEW_CELL_CHARS else text[: PREVIEW_CELL_CHARS - 1] + "\u2026"


def edited_roles(changes, kinds: dict[str, str], roles: dict[str, str],
                 weights: dict[str, float]) -> tuple[dict[str, str], dict[str, float]]:
    """``roles`` and ``weights`` with the roles grid's edits (its ``cellValueChanged``
    events, each carrying its row) applied and checked; a ``ValueError`` says what is
    wrong with an edit the table cannot take."""
    if isinstance(changes, dict):
        changes = [changes]
    if not isinstance(changes, list):
        raise ValueError("the column roles do not match the table; load it again")
    roles, weights = dict(roles), dict(weights)
    for change in changes:
        row = change.get("data") if isinstance(change, dict) else None
        name = row.get("column") if isinstance(row, dict) else None
        if not isinstance(name, str) or name not in kinds:
            raise ValueError("the column roles do not match the table; load it again")
        role, weight = row.get("role"), row.get("weight", 1.0)
        if role not in ROLES_BY_KIND.get(kinds[name], (IGNORED,)):
            raise ValueError(f"column {name!r} ({kinds[name]}) cannot be {role!r}")
        roles[name], weights[name] = role, _positive_weight(name, weight)
    return roles, weights


def _positive_weight(name: str, weight) -> float:
    number = weight if isinstance(weight, (int, float)) and not isinstance(weight, bool) else math.nan
    try:
        number = float(number)
    except OverflowError:  # an integer beyond float's range, which JSON allows
        number = math.inf
    if not (math.isfinite(number) and number > 0):
        shown = repr(weight) if len(repr(weight)) <= 40 else repr(weight)[:39] + "\u2026"
        raise ValueError(f"the weight of column {name!r} must be a number above 0, got {shown} "
                         "(to leave a column out, make it ignored)")
    return number
