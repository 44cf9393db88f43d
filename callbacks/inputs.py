"""Values that come back from the browser, checked before the server uses them.

Anything a page sends can be forged by hand; a value that is not what the page itself
would send updates nothing (``PreventUpdate``) or is read as absent, never a server error.
"""

from __future__ import annotations

import math

from dash.exceptions import PreventUpdate

from components.settings import MAX_SIDE, MIN_SIDE
from zsom_core.grid import TOPOLOGIES
from zsom_jobs.store import check_session_id


def session_of(value) -> str:
    """The checked session id; a request without a valid one updates nothing."""
    try:
        return check_session_id(value)
    except ValueError:
        raise PreventUpdate from None


def mapping_of(value) -> dict:
    """A store's dict (the view state, a progress report, a run's result); {} if it is not one."""
    return value if isinstance(value, dict) else {}


def epoch_of(value) -> int | None:
    """A timeline position as a whole number, or None when it is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return int(value) if math.isfinite(value) else None
    except OverflowError:  # an integer too large for a float: no epoch is that far
        return None


def grid_of(value) -> list | None:
    """A view's [width, height, topology] when it is a map the server would train, else None."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        return None
    width, height, topology = value
    sides_ok = all(type(side) is int and MIN_SIDE <= side <= MAX_SIDE for side in (width, height))
    if not sides_ok or topology not in TOPOLOGIES:
        return None
    return [width, height, topology]
