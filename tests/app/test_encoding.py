"""Typed-array specs for figure patches."""

import base64

import numpy as np
import pytest

from components.encoding import decode_typed_array, index_array, typed_array


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int16, np.uint16, np.uint8])
def test_round_trip(dtype):
    values = np.arange(10).astype(dtype)
    spec = typed_array(values, dtype)
    assert np.array_equal(decode_typed_array(spec), values)
    assert "shape" not in spec


def test_two_dimensional_arrays_keep_their_shape():
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    spec = typed_array(values)
    assert spec["shape"] == "2, 3"
    assert np.array_equal(decode_typed_array(spec), values)


def test_nan_survives_as_a_gap():
    spec = typed_array([1.0, np.nan, 2.0])
    assert np.isnan(decode_typed_array(spec)[1])


def test_bytes_are_little_endian_float32_by_default():
    spec = typed_array([1.0])
    assert spec["dtype"] == "f4"
    assert base64.b64decode(spec["bdata"]) == np.array([1.0], dtype="<f4").tobytes()


def test_index_array_picks_the_narrowest_type():
    assert index_array(np.arange(10))["dtype"] == "u2"
    assert index_array(np.array([70_000]))["dtype"] == "u4"


def test_three_dimensional_arrays_are_refused():
    with pytest.raises(ValueError):
        typed_array(np.zeros((2, 2, 2)))
