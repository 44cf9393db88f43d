"""Fixtures for the app's tests without a browser: stores, sessions and mesh files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from zsom_testkit import RedisServer

from zsom_jobs.redis_store import RedisStore
from zsom_jobs.store import DiskcacheStore

MESH_DIR = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "meshes"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real ``redis-server`` per test process; each test that uses it starts on an empty database."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server) -> str:
    with redis_server.client() as client:
        client.flushdb()
    return redis_server.url


@pytest.fixture(params=["diskcache", "redis"])
def store(request, tmp_path):
    """Each store test runs on both stores: one suite for one interface."""
    if request.param == "diskcache":
        store = DiskcacheStore(tmp_path / "store")
    else:
        store = RedisStore(request.getfixturevalue("redis_url"))
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
