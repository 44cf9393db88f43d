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

    # the views that read a trained map (every one follows the timeline)
    VIEW_TABS = "view-tabs"
    VIEW_KEY = "view-key"
    VIEWS = "map-views"
    CHOSEN_UNIT = "chosen-unit"
    CLUSTERS_TAB = "tab-clusters"
    CLUSTER_METHOD = "cluster-method"
    CLUSTER_K = "cluster-k"
    CLUSTER_NEIGHBOURS = "cluster-neighbours"
    CLUSTER_COLOURING = "cluster-colouring"
    CLOUD_COLOURS = "cloud-colours"
    CLUSTER_MAP = "view-cluster-map"
    CLUSTER_U_MATRIX = "view-cluster-u-matrix"
    CLUSTER_HITS = "view-cluster-hits"
    CLUSTER_SCORES = "view-cluster-scores"
    QUALITY_TABLE = "quality-table"
    SELECTION_INFO = "selection-info"
    SELECTION = "unit-selection"
    PLANES_TAB = "tab-planes"
    PLANE_CARDS = "plane-cards"
    PLANE_CHOSEN = "plane-chosen"
    PLANE_LARGE = "view-plane-large"
    PROTOTYPES = "view-prototypes"
    LABELS_TAB = "tab-labels"
    LABEL_STYLE = "label-style"
    LABEL_MAP = "view-label-map"
    LABEL_TABLE = "label-table"
    NEW_DATA_TAB = "tab-new-data"
    NEW_DATA_UPLOAD = "new-data-upload"
    NEW_DATA_THRESHOLD = "new-data-threshold"
    NEW_DATA_MESSAGE = "new-data-message"
    NEW_DATA_MAP = "view-new-data-map"
    NEW_DATA_LIST = "new-data-list"
    INSPECTOR = "unit-inspector"
    EXPORT_ASSIGNMENTS = "export-assignments"
    EXPORT_SELECTION = "export-selection"
    EXPORT_NEW_DATA = "export-new-data"
    EXPORT_MODEL = "export-model"
    EXPORT_REPORT = "export-report"
    EXPORT_BUNDLE = "export-bundle"
    BUNDLE_WITH_DATA = "bundle-with-data"
    DOWNLOAD = "download"
    DOWNLOAD_MESSAGE = "download-message"

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

# The type of each component plane's button, whose id is {"type": PLANE_CARD, "feature": index}.
PLANE_CARD = "plane-card"
# The maps of the views on which a click chooses a unit, and a box or lasso selects units.
UNIT_MAPS = (Ids.CLUSTER_MAP, Ids.CLUSTER_U_MATRIX, Ids.CLUSTER_HITS, Ids.PLANE_LARGE, Ids.LABEL_MAP,
             Ids.NEW_DATA_MAP)
# The tabs of the main area: the training panels, then the views.
TABS = {"training": "Training", "clusters": "Clusters", "planes": "Component planes", "labels": "Labels",
        "new-data": "New data"}
