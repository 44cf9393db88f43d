"""What the Redis store writes: MessagePack with NumPy arrays and tuples, never a pickle.

A Redis server is shared by every web process and worker, and reachable over the network:
a pickle read from it could run any code it held. MessagePack reads back only data, and
this codec adds just the two kinds the store's values hold besides plain ones: NumPy
arrays (dtype, shape and bytes; never an object array) and tuples. Anything else is a
``TypeError`` when written, not a surprise when read.
"""

from __future__ import annotations

import enum

import msgpack
import numpy as np

_ARRAY, _TUPLE = 1, 2


class DecodeError(ValueError):
    """Bytes that are not a value this codec wrote."""


def encode(value) -> bytes:
    return msgpack.packb(value, default=_default, strict_types=True, use_bin_type=True)


def decode(data: bytes):
    try:
        return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException) as error:
        raise DecodeError(f"not a stored value: {error}") from None


def _default(value):
    # strict_types hands every subclass here: a str enum is written as its value, a NumPy
    # scalar (np.float64 is a float) as the Python number it holds.
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, encode(list(value)))
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("an array of Python objects cannot be stored")
        array = np.ascontiguousarray(value)
        header = encode([array.dtype.str, list(array.shape)])
        return msgpack.ExtType(_ARRAY, len(header).to_bytes(4, "little") + header + array.tobytes())
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, np.generic):
        return value.item()
    for plain in (bool, int, float, str, bytes, dict, list):
        if isinstance(value, plain):
            return plain(value)
    raise TypeError(f"the store cannot keep a {type(value).__name__}")


def _ext_hook(code: int, data: bytes):
    if code == _TUPLE:
        return tuple(decode(data))
    if code == _ARRAY:
        size = int.from_bytes(data[:4], "little")
        dtype, shape = decode(data[4:4 + size])
        dtype = np.dtype(dtype)
        if dtype.hasobject:
            raise DecodeError("an array of Python objects is never read")
        # A copy: the buffer is the message's, and arrays handed out must be writable.
        return np.frombuffer(data, dtype=dtype, offset=4 + size).reshape(shape).copy()
    raise DecodeError(f"unknown extension type {code}")
