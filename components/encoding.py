"""Arrays as plotly.js typed-array specs, for figure patches.

plotly.py encodes NumPy arrays in whole figures itself, but a ``Patch`` serialises them as
JSON lists: about 2.5 times the bytes for float32 values. Patches therefore carry
``{"dtype", "bdata", "shape"}`` dicts, which plotly.js decodes as it does for full figures.
"""

from __future__ import annotations

import base64

import numpy as np

_DTYPES = {
    np.dtype(np.float32): "f4",
    np.dtype(np.float64): "f8",
    np.dtype(np.int8): "i1",
    np.dtype(np.int16): "i2",
    np.dtype(np.int32): "i4",
    np.dtype(np.uint8): "u1",
    np.dtype(np.uint16): "u2",
    np.dtype(np.uint32): "u4",
}


def typed_array(values, dtype=np.float32) -> dict:
    """``values`` cast to ``dtype`` (little endian) as a plotly.js typed-array spec.

    2-D arrays keep their shape (``"rows, columns"``), as a heatmap's or surface's ``z``
    needs. NaN marks a gap in lines and an empty cell in heatmaps, as it does in lists.
    """
    array = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder("<"))
    spec = {"dtype": _DTYPES[np.dtype(dtype)], "bdata": base64.b64encode(array.tobytes()).decode("ascii")}
    if array.ndim == 2:
        spec["shape"] = f"{array.shape[0]}, {array.shape[1]}"
    elif array.ndim != 1:
        raise ValueError(f"typed arrays are 1-D or 2-D, got shape {array.shape}")
    return spec


def decode_typed_array(spec: dict) -> np.ndarray:
    """The inverse of ``typed_array``, for tests and size checks."""
    dtype = next(key for key, value in _DTYPES.items() if value == spec["dtype"]).newbyteorder("<")
    array = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=dtype)
    if "shape" in spec:
        array = array.reshape([int(part) for part in spec["shape"].split(",")])
    return array


def index_array(values) -> dict:
    """Integer indices (mesh faces) in the narrowest type that holds them."""
    array = np.asarray(values)
    dtype = np.uint16 if array.size == 0 or array.max() < 2**16 else np.uint32
    return typed_array(array, dtype)
