"""ZSOM's engine: fast Self-Organizing Maps with NumPy and Numba, no web dependency."""

from .grid import Grid
from .schedule import Schedule
from .sizing import auto_map_size
from .som import SOM, Snapshot

__all__ = ["SOM", "Snapshot", "Grid", "Schedule", "auto_map_size"]
