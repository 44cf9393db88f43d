"""Runs and their jobs, apart from any page: the store, the job backend, the training job.

``Runs`` is what the web server calls; ``seams`` says what a store and a job backend
provide. Nothing here defines a Dash callback or imports the dashboard's components.
"""

from .records import Liveness, RecordError, RunRecord, RunStatus, liveness
from .runs import DEAD_MESSAGE, NoDataset, Runs

__all__ = ["DEAD_MESSAGE", "Liveness", "NoDataset", "RecordError", "RunRecord", "RunStatus", "Runs", "liveness"]
