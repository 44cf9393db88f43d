"""Every component id of the dashboard, typed once.

Callbacks, layout builders, the client-side JavaScript (through ``assets/``) and the
browser tests all take their ids from here.
"""

from enum import StrEnum


class Ids(StrEnum):
    # state held by the browser: ids, epoch numbers, small flags
    SESSION = "session-id"
    DATASET_TOKEN = "dataset-token"
    RUN_REQUEST = "run-request"
    PROGRESS = "run-progress"
    RUN_RESULT = "run-result"
    VIEW = "view-state"
    SETTINGS_TOUCHED = "settings-touched"
    WATCHDOG = "run-watchdog"
    PLAY_TICK = "play-tick"
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

    # map and training settings
    WIDTH = "grid-width"
    HEIGHT = "grid-height"
    TOPOLOGY = "topology"
    TOROIDAL = "toroidal"
    METRIC = "metric"
    MINKOWSKI_P = "minkowski-p"
    MINKOWSKI_P_ROW = "minkowski-p-row"
    INIT = "init"
    NEIGHBORHOOD = "neighborhood"
    DECAY = "decay"
    SIGMA = "sigma0"
    LEARNING_RATE = "learning-rate"
    EPOCHS = "epochs"
    ADAPTIVE_LR = "adaptive-lr"
    ALGORITHM = "algorithm"
    SEED = "seed"
    AUTO_RETRAIN = "auto-retrain"
    SETTINGS_MESSAGE = "settings-message"

    # panels
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


# The panels in the order the composed export lays them out (left to right, top to bottom).
PANELS = (Ids.DATA_VIEW, Ids.U_MATRIX, Ids.U_SURFACE, Ids.HITS, Ids.CURVES)

# The hyperparameter controls (their "value" property) by the setting each one holds; a
# change to any of them retrains a streaming run.
SETTING_CONTROLS = {
    "width": Ids.WIDTH,
    "height": Ids.HEIGHT,
    "topology": Ids.TOPOLOGY,
    "toroidal": Ids.TOROIDAL,
    "metric": Ids.METRIC,
    "p": Ids.MINKOWSKI_P,
    "init": Ids.INIT,
    "neighborhood": Ids.NEIGHBORHOOD,
    "decay": Ids.DECAY,
    "sigma": Ids.SIGMA,
    "learning_rate": Ids.LEARNING_RATE,
    "epochs": Ids.EPOCHS,
    "adaptive_lr": Ids.ADAPTIVE_LR,
    "algorithm": Ids.ALGORITHM,
    "seed": Ids.SEED,
}
