"""Safe loading of uploaded meshes (OBJ, STL, PLY) from bytes, with area-uniform sampling.

>>> mesh = load_mesh(data, "bunny.stl", n_points=20_000, seed=0)  # doctest: +SKIP
>>> mesh.points.shape, mesh.vertices.min() >= -0.5                 # doctest: +SKIP
((20000, 3), True)

The format is decided by content, size limits are checked before parsing, and every
failure raises ``MeshError`` with a message for the user.
"""

from .errors import MeshError
from .limits import MeshLimits
from .loader import LoadedMesh, load_mesh

__all__ = ["LoadedMesh", "MeshError", "MeshLimits", "load_mesh"]
