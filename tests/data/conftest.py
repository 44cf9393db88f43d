"""Fixtures for the data-layer tests (mesh loaders and built-in datasets)."""

from __future__ import annotations

from pathlib import Path

import pytest
from meshio_testkit import MESH_DIR


@pytest.fixture(scope="session")
def mesh_dir() -> Path:
    """The shared folder of real mesh files; tests using it skip when it is absent."""
    if not MESH_DIR.is_dir():
        pytest.skip(f"shared mesh test data not found at {MESH_DIR.resolve()}")
    return MESH_DIR


@pytest.fixture(scope="session")
def read_mesh(mesh_dir: Path):
    """read_mesh("teapot.stl") -> the bytes of a shared test file."""

    def read(name: str) -> bytes:
        return (mesh_dir / name).read_bytes()

    return read
