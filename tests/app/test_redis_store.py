"""What only the Redis store has: its codec, Redis's expiry and eviction, its locks, and a
server that is down or refuses the password. The store suite (test_store.py) runs on it too."""

import threading
import time
import uuid

import numpy as np
import pytest
from zsom_testkit import RedisServer, free_port, wait_until

from zsom_jobs import RunStatus
from zsom_jobs.codec import DecodeError, decode, encode
from zsom_jobs.redis_store import RedisStore
from zsom_jobs.redis_url import redacted
from zsom_jobs.store import StoreUnavailable

SCHEDULE = ((1.0,), (0.1,))


def test_the_codec_keeps_arrays_tuples_and_plain_values():
    value = {"weights": np.arange(12, dtype=np.float32).reshape(3, 4), "hits": np.array([1, 2], dtype=np.int32),
             "schedule": ((1.0, 0.5), (0.1,)), "status": RunStatus.DONE, "mean": np.float64(0.25),
             "count": np.int64(7), "flag": np.bool_(True), "data": b"\x00\xff", "none": None,
             "nested": [{"a": (1, "b")}], 3: "int key"}
    back = decode(encode(value))
    assert back["weights"].dtype == np.float32 and np.array_equal(back["weights"], value["weights"])
    assert back["weights"].flags.writeable and back["hits"].dtype == np.int32
    assert back["schedule"] == ((1.0, 0.5), (0.1,)) and isinstance(back["schedule"], tuple)
    assert back["status"] == "done" and back["mean"] == 0.25 and back["count"] == 7 and back["flag"] is True
    assert back["data"] == b"\x00\xff" and back["none"] is None and back["nested"] == [{"a": (1, "b")}]
    assert back[3] == "int key"


def test_the_codec_writes_no_python_objects_and_reads_none():
    with pytest.raises(TypeError, match="array of Python objects"):
        encode({"x": np.array([object()], dtype=object)})
    with pytest.raises(TypeError, match="cannot keep a set"):
        encode({1, 2})
    with pytest.raises(DecodeError):
        decode(b"\xc1 not msgpack")


def test_a_damaged_entry_reads_as_absent(redis_url):
    session_id = str(uuid.uuid4())
    store = RedisStore(redis_url)
    store.new_run(session_id, "r", settings={"epochs": 3}, dataset_token="t", schedule=SCHEDULE)
    store.cache.client.set(store.key(session_id, "run", "r"), b"\x80\x04pickled?")
    assert store.get_run(session_id, "r") is None
    store.close()


def test_entries_expire_in_redis_after_the_store_ttl(redis_url):
    session_id = str(uuid.uuid4())
    store = RedisStore(redis_url, ttl=0.3)
    store.put_dataset(session_id, {"token": "t"})
    store.new_run(session_id, "r", settings={"epochs": 3}, dataset_token="t", schedule=SCHEDULE)
    store.put_epoch(session_id, "r", 1, {"epoch": 1}, {"mqe": [1.0]})
    store.take_slot(session_id, "r", max_jobs=1, ttl=60)
    assert store.get_dataset(session_id) == {"token": "t"}
    wait_until(lambda: store.get_dataset(session_id) is None, 5, "the dataset to expire", step=0.05)
    wait_until(lambda: store.get_epoch(session_id, "r", 1) is None and store.get_run(session_id, "r") is None, 5,
               "the run to expire", step=0.05)
    assert store.slot_held("r")  # the job slots never expire with the sessions: their leases do
    store.close()


def test_locks_make_each_block_atomic_across_clients(redis_url):
    """Eight threads on their own clients take turns on one queue: no place is lost or taken twice."""
    stores = [RedisStore(redis_url) for _ in range(8)]
    sessions = [str(uuid.uuid4()) for _ in stores]
    answers = []

    def join(store, session):
        answers.append(store.take_slot(session, f"run-{session}", max_jobs=2, ttl=60, max_waiting=100))

    threads = [threading.Thread(target=join, args=pair) for pair in zip(stores, sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [("queued", place) for place in range(1, 7)] + [("running", 0), ("running", 1)]
    assert stores[0].slots_in_use() == 2 and stores[0].runs_waiting() == 6
    for store in stores:
        store.close()


def test_a_block_is_reentrant_in_its_thread(redis_url):
    store = RedisStore(redis_url)
    session_id = str(uuid.uuid4())
    with store._transact(session_id):
        # new_run finishes the run it replaces inside its own block, which frees a slot (another scope)
        store.new_run(session_id, "a", settings={"epochs": 3}, dataset_token="t", schedule=SCHEDULE)
        store.new_run(session_id, "b", settings={"epochs": 3}, dataset_token="t", schedule=SCHEDULE)
    assert store.get_run(session_id, "a").status is RunStatus.CANCELLED
    store.close()


def test_past_maxmemory_old_session_entries_go_and_the_slots_stay(tmp_path):
    with RedisServer(tmp_path / "small", maxmemory="4mb") as server:
        store = RedisStore(server.url)
        keeper = str(uuid.uuid4())
        store.take_slot(keeper, "kept", max_jobs=1, ttl=600)
        session_id = str(uuid.uuid4())
        store.new_run(session_id, "r", settings={"epochs": 100}, dataset_token="t", schedule=SCHEDULE)
        for epoch in range(1, 101):  # 100 epochs of 100 KB: 2.5 times the limit
            store.put_epoch(session_id, "r", epoch, {"weights": np.full(12_800, epoch, dtype=np.float64)}, {})
        kept = [epoch for epoch in range(1, 101) if store.get_epoch(session_id, "r", epoch) is not None]
        # volatile-ttl: the entries nearest their expiry, written longest ago, go first
        assert 0 < len(kept) < 60 and kept[-1] == 100 and min(kept) > 10, kept
        assert store.get_run(session_id, "r") is not None and store.slot_held("kept")
        store.close()


def test_a_store_that_cannot_be_reached_says_so_without_the_password():
    url = f"redis://:s3cret-word@127.0.0.1:{free_port()}/0"
    store = RedisStore(url)
    with pytest.raises(StoreUnavailable) as raised:
        store.get_dataset(str(uuid.uuid4()))
    assert "cannot be reached" in str(raised.value) and "127.0.0.1" in str(raised.value)
    assert "s3cret" not in str(raised.value) and raised.value.__cause__ is None
    store.close()


def test_a_wrong_password_is_refused_without_repeating_it(redis_server):
    url = redis_server.url.replace(redis_server.password, "wrong-guess")
    store = RedisStore(url)
    with pytest.raises(StoreUnavailable, match="refused the password") as raised:
        store.ping()
    assert "wrong-guess" not in str(raised.value)
    store.close()


@pytest.mark.parametrize("url", ["http://host:6379", "", "redis//nohost"])
def test_a_url_that_is_not_redis_is_refused(url):
    with pytest.raises(ValueError, match="not a Redis URL"):
        RedisStore(url)


def test_urls_are_shown_without_credentials():
    assert redacted("redis://:pw@host:6380/1") == "redis://***@host:6380/1"
    assert redacted("redis://user:pw@host/0") == "redis://***@host/0"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"


def test_the_store_works_again_once_redis_is_back(tmp_path):
    with RedisServer(tmp_path / "flaky") as server:
        store = RedisStore(server.url)
        session_id = str(uuid.uuid4())
        store.put_dataset(session_id, {"token": "t"})
        server.stop()
        with pytest.raises(StoreUnavailable):
            store.get_dataset(session_id)
        server.start()  # no snapshot: an empty server on the same port
        assert store.get_dataset(session_id) is None
        store.put_dataset(session_id, {"token": "u"})
        assert store.get_dataset(session_id) == {"token": "u"}
        store.close()


def test_a_lock_left_by_a_dead_holder_lapses(redis_url, monkeypatch):
    monkeypatch.setattr("zsom_jobs.redis_store.LOCK_TIMEOUT_S", 0.3)
    store = RedisStore(redis_url)
    session_id = str(uuid.uuid4())
    store.cache.client.lock(f"zsom/lock/{session_id}", timeout=0.3).acquire()  # taken, never released
    started = time.monotonic()
    store.put_dataset(session_id, {"token": "t"})  # not a block: no lock
    store.new_run(session_id, "r", settings={"epochs": 3}, dataset_token="t", schedule=SCHEDULE)
    assert time.monotonic() - started >= 0.2 and store.current_run_id(session_id) == "r"
    store.close()
