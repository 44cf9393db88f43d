"""Fixtures for the app's tests without a browser: stores, sessions and mesh files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from zsom_jobs.store import DiskcacheStore

MESH_DIR = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "meshes"


@pytest.fixture
def store(tmp_path) -> DiskcacheStore:
    store = DiskcacheStore(tmp_path / "store")
    yield store
    store.close()


@pytest.fixture
def session_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="session")
def mesh_dir() -> Path:
    if not MESH_DIR.is_dir():
        pytest.skip(f"shared mesh test data not found at {MESH_DIR}")
    return MESH_DIR
