"""What the views' controls offer: the clustering methods and the range of k."""

from __future__ import annotations

from zsom_core.analysis import CLUSTER_METHODS

__all__ = ["CLUSTER_METHODS"]
DEFAULT_CLUSTER_METHOD = "ward"
# The Davies-Bouldin and silhouette curves are drawn over the whole range.
MIN_CLUSTERS, MAX_CLUSTERS = 2, 15
DEFAULT_CLUSTERS = 4
# The most member rows the unit inspector lists, and flagged rows the new data's list.
MAX_MEMBER_ROWS = 300
MAX_FLAGGED_ROWS = 500
