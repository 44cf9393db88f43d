"""Every component id of the dashboard, typed once.

Callbacks, layout builders, the client-side JavaScript (through ``assets/``) and the
browser tests all take their ids from here; the setting controls' ids come from the
settings table (``components.settings.SETTING_CONTROLS``).
"""

from enum import Enum


class Ids(str, Enum):
    """A member is its id wherever a string goes: ``==``, hashing, JSON, ``str()`` and
    f-strings (``enum.StrEnum`` does this too, but only from Python 3.11)."""

    def __str__(self) -> str:
        return self.value

    # state held by the browser: ids, epoch numbers, small flags
    SESSION = "session-id"
    DATASET_TOKEN = "dataset-token"
    VIEW = "view-state"
    SETTINGS_TOUCHED = "settings-touched"
    POLL = "run-poll"
    PANEL_UPDATES = "panel-updates"
    PACE = "run-pace"
    PLAY_TICK = "play-tick"
    PLAY_STEP = "play-step"
    EXPORT_SPEC = "export-spec"
    CLIENT_CONFIG = "client-config"

    # top bar
    STATUS = "status-line"
    TRAIN = "train-button"
    CANCEL = "cancel-button"
    DOWNLOAD_FIGURE = "download-figure-button"
    EXPORT_MESSAGE = "export-message"

    # data
    DATASET = "dataset-choice"
    SAMPLES = "sample-count"
    UPLOAD = "mesh-upload"
    UPLOAD_MESSAGE = "upload-message"
    DATA_INFO = "data-info"
    SAMPLES_ROW = "sample-count-row"
    TABLE_PANEL = "table-panel"
    TABLE_SCALING = "table-scaling"
    TABLE_ROLES = "table-roles"
    TABLE_AXES = "table-axes"
    TABLE_MESSAGE = "table-message"
    TABLE_PREVIEW = "table-preview"
    TABLE_ROLES_LABEL = "table-roles-label"

    # settings: each control's id comes from its row in components.settings.SETTINGS
    AUTO_RETRAIN = "auto-retrain"
    SETTINGS_MESSAGE = "settings-message"

    # panels
    PANELS = "panels"
    STALE_NOTE = "stale-note"
    DATA_VIEW = "panel-data-view"
    U_MATRIX = "panel-u-matrix"
    U_SURFACE = "panel-u-surface"
    HITS = "panel-hits"
    CURVES = "panel-curves"

    # timeline
    RUNS = "run-choice"
    TIMELINE = "timeline"
    PLAY = "play-button"
    TIMELINE_LABEL = "timeline-label"


def label_id(control_id: str) -> str:
    """The id of the label that names a control (``components.layout.labelled``)."""
    return f"label-{control_id}"


# The panels in the order the composed export lays them out (left to right, top to bottom).
PANELS = (Ids.DATA_VIEW, Ids.U_MATRIX, Ids.U_SURFACE, Ids.HITS, Ids.CURVES)
