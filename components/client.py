"""What the browser side (``assets/zsom.js``) takes from Python: ids, constants, colours.

The JavaScript types no component id and no tuning constant of its own. ``client_config``
travels in a ``dcc.Store`` (``Ids.CLIENT_CONFIG``) to the clientside callbacks as State;
the listeners that work on the document, outside any callback, read what they need from
``data-`` attributes on the elements they work on (``hex_tiling_attributes``,
``upload_attributes``).
"""

from __future__ import annotations

import json
import math

from . import theme
from .figures import HEX_TILE, MEASURED
from .ids import PANELS, Ids

# Plotly's "hexagon" symbol is pointy-top with circumradius size / 2. Units one unit apart
# in a row tile the plane when the hexagon is one unit across its flats: size = 2 / sqrt(3)
# units (rows sqrt(3) / 2 apart then meet edge to edge too). The extra fraction of a pixel
# hides anti-aliasing seams between neighbours; a fitted size that differs from the drawn
# one by less than the tolerance is left alone, as redrawing a map costs more than that.
HEX_TILING = {
    "meta": HEX_TILE,
    "size_per_unit": 2 / math.sqrt(3),
    "overlap_px": 0.6,
    "tolerance_px": 0.25,
}

# A burst of setting changes (a slider dragged, a number typed) retrains once, this long
# after the last change.
SETTINGS_DEBOUNCE_MS = 400
# Playing shows a whole run in about this long, however many epochs it has: a slow server
# shows fewer of them (each step waits for the one before to be shown), never a late end;
# a step whose answer never came is sent again after the retry.
PLAY_DURATION_MS = 15_000
PLAY_RETRY_MS = 5_000

# The page's poll while a run streams: drawing an answer blocks the page (a large map's
# 3-D panels take most of a second without a GPU), so the next poll waits until the page
# is idle again, then at least this many times as long as the answer kept it busy; and
# none goes out while the user works a control (a pointer press, a key, a wheel turn: for
# this long after the last one; an open menu: until it closes). Streamed epochs are
# dropped, never input; the page catches up with the newest epoch afterwards.
POLL_BUSY_SHARE = 1.0
INPUT_HOLD_MS = 400
# The page draws the server's panel updates one panel per task (see zsom.drawPanels); while
# a menu is open it looks again this often, and a graph that does not say it has drawn is
# given this long.
DRAW_PAUSE_MS = 100
DRAW_WAIT_MS = 2000

# The composed export waits this long at most for every panel to have drawn the shown epoch.
EXPORT_WAIT_MS = 5_000

# The composed PNG's header band: the panels' own paper, text colours and font, so that
# the header reads as part of the figure.
EXPORT_HEADER = {
    "background": theme.PAPER,
    "title_color": theme.TEXT,
    "text_color": theme.MUTED,
    "font": theme.FONT,
    "title_size": 20,
    "text_size": 13,
}


def client_config() -> dict:
    """Everything the clientside callbacks need, as plain JSON values."""
    return {
        "ids": {"play": Ids.PLAY.value, "status": Ids.STATUS.value, "export_message": Ids.EXPORT_MESSAGE.value,
                "panels": Ids.PANELS.value, "data_view": Ids.DATA_VIEW.value},
        "hex": dict(HEX_TILING),
        "measured_meta": MEASURED,
        "poll_busy_share": POLL_BUSY_SHARE,
        "input_hold_ms": INPUT_HOLD_MS,
        "panels": [str(panel) for panel in PANELS],
        "draw_pause_ms": DRAW_PAUSE_MS,
        "draw_wait_ms": DRAW_WAIT_MS,
        "debounce_ms": SETTINGS_DEBOUNCE_MS,
        "play_duration_ms": PLAY_DURATION_MS,
        "play_retry_ms": PLAY_RETRY_MS,
        "export_header": dict(EXPORT_HEADER),
        "export_wait_ms": EXPORT_WAIT_MS,
    }


def hex_tiling_attributes() -> dict:
    """``data-`` attributes for the element that holds the map panels: the graphs inside
    it whose traces are marked ``HEX_TILE`` get their hexagons sized to tile."""
    return {"data-hex-tiling": json.dumps(HEX_TILING)}


def upload_attributes(max_bytes: int, extensions: tuple[str, ...]) -> dict:
    """``data-`` attributes for the upload's holder: the size limit and the file name
    extensions the browser checks before reading a file, and where it says why it
    refused one."""
    return {"data-max-bytes": str(max_bytes), "data-extensions": ",".join(extensions),
            "data-message-id": Ids.UPLOAD_MESSAGE.value}
