"""The server-side store: session isolation, run records, epochs and job slots."""

import hashlib
import os
import time
import uuid

import numpy as np
import pytest

from zsom_jobs import RunStatus
from zsom_jobs.store import DiskcacheStore, StoreUnavailable, check_session_id

SCHEDULE = ((1.0,), (0.1,))


def new_run(store, session_id, run_id, token="data", epochs=3):
    return store.new_run(session_id, run_id, settings={"epochs": epochs}, dataset_token=token, schedule=SCHEDULE)[0]


def test_keys_are_built_from_session_and_run(session_id):
    key = DiskcacheStore.key(session_id, "run", "abc", "epoch", 3)
    assert key == f"zsom/{session_id}/run/abc/epoch/3"


@pytest.mark.parametrize("bad", ["", "../../etc", None, 42, "zsom/other", "not-a-uuid"])
def test_session_ids_from_the_browser_are_checked(bad):
    with pytest.raises(ValueError):
        check_session_id(bad)
    with pytest.raises(ValueError):
        DiskcacheStore.key(bad, "dataset")


def test_sessions_do_not_see_each_other(store):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    store.put_dataset(alice, {"token": "a", "points": np.zeros((3, 2))})
    new_run(store, alice, "run1")
    store.put_epoch(alice, "run1", 1, {"epoch": 1}, {"mqe": [1.0]})
    assert store.get_dataset(bob) is None
    assert store.current_run_id(bob) is None
    assert store.get_run(bob, "run1") is None
    assert store.get_epoch(bob, "run1", 1) is None
    assert store.get_epoch(alice, "run1", 1) == {"epoch": 1}


def test_a_new_run_is_queued_and_current_and_cancels_the_one_it_replaces(store, session_id):
    first = new_run(store, session_id, "r1")
    assert first.status is RunStatus.QUEUED and first.number == 1
    record, replaced = store.new_run(session_id, "r2", settings={"epochs": 3}, dataset_token="data",
                                     schedule=SCHEDULE)
    assert store.current_run_id(session_id) == "r2" and record.number == 2
    assert replaced.run == "r1" and store.get_run(session_id, "r1").status is RunStatus.CANCELLED
    _, none_replaced = store.new_run(session_id, "r3", settings={"epochs": 3}, dataset_token="data",
                                     schedule=SCHEDULE)
    assert none_replaced.run == "r2"


def test_a_finished_run_stays_finished(store, session_id):
    new_run(store, session_id, "r")
    ended = store.finish_run(session_id, "r", RunStatus.CANCELLED)
    assert ended.status is RunStatus.CANCELLED and ended.finished_at is not None
    assert store.update_run(session_id, "r", status=RunStatus.RUNNING).status is RunStatus.CANCELLED
    assert store.finish_run(session_id, "r", RunStatus.DONE) is None
    assert store.get_run(session_id, "r").status is RunStatus.CANCELLED


def test_a_finished_run_takes_no_more_epochs(store, session_id):
    new_run(store, session_id, "r")
    assert store.put_epoch(session_id, "r", 1, {"epoch": 1}, {"mqe": [1.0]})
    store.finish_run(session_id, "r", RunStatus.DONE)
    assert store.get_run(session_id, "r").epoch == 1
    assert not store.put_epoch(session_id, "r", 2, {"epoch": 2}, {"mqe": [1.0, 0.5]})
    assert store.get_epoch(session_id, "r", 2) is None and store.epochs_done(session_id, "r") == 1


def test_update_of_an_unknown_run_returns_none(store, session_id):
    assert store.update_run(session_id, "missing", status=RunStatus.RUNNING) is None
    assert store.finish_run(session_id, "missing", RunStatus.DONE) is None


def add_run(store, session_id, run, token="data", epochs=1):
    new_run(store, session_id, run, token)
    for epoch in range(1, epochs + 1):
        store.put_epoch(session_id, run, epoch, {"epoch": epoch}, {"mqe": [1.0] * epoch})
    store.finish_run(session_id, run, RunStatus.DONE)


def test_runs_are_numbered_and_listed_oldest_first(store, session_id):
    for run in ("a", "b", "c"):
        add_run(store, session_id, run)
    assert [(record.run, record.number) for record in store.runs(session_id)] == [("a", 1), ("b", 2), ("c", 3)]
    assert store.runs(str(uuid.uuid4())) == []


def test_trimming_keeps_the_newest_runs_with_epochs_on_each_dataset(store, session_id):
    add_run(store, session_id, "other-data", token="old")
    add_run(store, session_id, "no-epochs", epochs=0)
    for run in ("r1", "r2", "r3", "r4"):
        add_run(store, session_id, run)
    add_run(store, session_id, "new", epochs=0)
    store.trim_runs(session_id, keep="new", max_runs=3)
    assert [record.run for record in store.runs(session_id)] == ["other-data", "r3", "r4", "new"]
    for dropped in ("no-epochs", "r1", "r2"):
        assert store.get_run(session_id, dropped) is None
        assert store.get_history(session_id, dropped) is None
    assert store.get_epoch(session_id, "r1", 1) is None
    assert store.get_epoch(session_id, "r4", 1) == {"epoch": 1}


def test_trimming_drops_the_runs_of_the_datasets_used_longest_ago(store, session_id):
    for token in ("a", "b", "c", "a"):
        add_run(store, session_id, f"{token}-{len(store.runs(session_id))}", token=token)
    add_run(store, session_id, "new", token="d", epochs=0)
    store.trim_runs(session_id, keep="new", max_runs=3, max_datasets=3)
    assert [record.run for record in store.runs(session_id)] == ["a-0", "c-2", "a-3", "new"]


def test_runs_record_the_server_that_accepted_them(tmp_path, session_id):
    store = DiskcacheStore(tmp_path / "s", server_id="server-1")
    assert new_run(store, session_id, "r").server == "server-1"
    store.close()


def test_entries_expire_after_the_store_ttl(tmp_path, session_id):
    store = DiskcacheStore(tmp_path / "s", ttl=0.2)
    add_run(store, session_id, "r")
    store.put_dataset(session_id, {"token": "t"})
    time.sleep(0.3)  # past the 0.2 s ttl: what is awaited is time itself
    assert store.cleanup() > 0
    assert store.get_dataset(session_id) is None and store.get_run(session_id, "r") is None
    store.close()


def test_the_store_drops_the_oldest_entries_past_its_size_limit(tmp_path, session_id):
    store = DiskcacheStore(tmp_path / "s", size_limit=2**20)
    new_run(store, session_id, "r")
    for epoch in range(1, 41):  # 40 epochs of 100 KB: four times the limit
        store.put_epoch(session_id, "r", epoch, {"weights": np.full(12_800, epoch, dtype=np.float64)}, {})
    store.cleanup()
    assert store.cache.volume() <= 2**20 + 2**16
    assert store.get_epoch(session_id, "r", 1) is None and store.get_epoch(session_id, "r", 40) is not None
    assert store.get_run(session_id, "r") is not None  # a live run's record outlives its old epochs
    store.close()


def unwritable_folder(tmp_path):
    """A folder this process cannot create or write in, even as root (sysfs refuses)."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder / "store"
    return "/sys/zsom-store"


def test_a_folder_that_cannot_hold_the_store_is_refused_with_a_reason(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match=f"cannot keep the store in {blocker}/store: "):
        DiskcacheStore(blocker / "store")
    with pytest.raises(StoreUnavailable, match="(Permission denied|Operation not permitted|not writable)"):
        DiskcacheStore(unwritable_folder(tmp_path))


def test_builtin_datasets_load_once(store):
    calls = []

    def load():
        calls.append(1)
        return {"points": np.ones((2, 2))}

    first = store.builtin("blob", 100, 0, load)
    second = store.builtin("blob", 100, 0, load)
    assert len(calls) == 1 and np.array_equal(first["points"], second["points"])


def test_uploads_are_kept_per_session(store, session_id):
    store.put_upload(session_id, "a.stl", b"solid")
    digest = hashlib.sha256(b"solid").hexdigest()
    assert store.get_upload(session_id) == {"filename": "a.stl", "digest": digest, "data": b"solid"}
    assert store.upload_about(session_id) == {"filename": "a.stl", "digest": digest}
    assert store.get_upload(str(uuid.uuid4())) is None and store.upload_about(str(uuid.uuid4())) is None


class TestSlots:
    def sessions(self, n):
        return [str(uuid.uuid4()) for _ in range(n)]

    def test_at_most_max_jobs_at_once_then_busy(self, store):
        a, b, c = self.sessions(3)
        assert store.take_slot(a, "ra", max_jobs=2, ttl=10, now=0) == ("running", 0)
        assert store.take_slot(b, "rb", max_jobs=2, ttl=10, now=0) == ("running", 1)
        assert store.take_slot(c, "rc", max_jobs=2, ttl=10, now=0) == ("busy", 2)
        assert store.slots_in_use(now=1) == 2 and store.runs_waiting(now=1) == 0

    def test_the_queue_is_first_come_first_served(self, store):
        a, b, c, d = self.sessions(4)
        store.take_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, max_waiting=2, now=1) == ("queued", 1)
        assert store.take_slot(c, "rc", max_jobs=1, ttl=10, max_waiting=2, now=2) == ("queued", 2)
        assert store.take_slot(d, "rd", max_jobs=1, ttl=10, max_waiting=2, now=3) == ("busy", 1)
        store.release_slot("ra")
        # The second in line may not jump the queue; the first takes the slot.
        assert store.take_slot(c, "rc", max_jobs=1, ttl=10, max_waiting=2, now=4) == ("queued", 2)
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, max_waiting=2, now=4) == ("running", 0)
        assert store.take_slot(c, "rc", max_jobs=1, ttl=10, max_waiting=2, now=5) == ("queued", 1)
        assert store.runs_waiting(now=5) == 1

    def test_a_place_in_the_queue_lapses_when_its_job_stops_asking(self, store):
        a, b, c = self.sessions(3)
        store.take_slot(a, "ra", max_jobs=1, ttl=100, now=0)
        store.take_slot(b, "rb", max_jobs=1, ttl=10, max_waiting=2, now=0)
        assert store.take_slot(c, "rc", max_jobs=1, ttl=10, max_waiting=2, now=20) == ("queued", 1)

    def test_a_released_slot_is_free_again(self, store):
        a, b = self.sessions(2)
        store.take_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        store.release_slot("ra")
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, now=0) == ("running", 0)

    def test_a_dead_job_frees_its_slot_when_its_lease_expires(self, store):
        a, b = self.sessions(2)
        store.take_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, now=5)[0] == "busy"
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, now=11) == ("running", 0)

    def test_renewal_keeps_a_live_job_in_its_slot(self, store):
        a, b = self.sessions(2)
        store.take_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        assert store.renew_slot("ra", ttl=10, now=8)
        assert store.take_slot(b, "rb", max_jobs=1, ttl=10, now=15)[0] == "busy"
        assert not store.renew_slot("unknown", ttl=10, now=8)

    def test_a_session_replacing_its_run_reuses_its_slot(self, store):
        (a,) = self.sessions(1)
        store.take_slot(a, "first", max_jobs=1, ttl=10, now=0)
        assert store.take_slot(a, "second", max_jobs=1, ttl=10, now=1) == ("running", 0)
        assert not store.renew_slot("first", ttl=10, now=2)

    def test_a_starting_server_forgets_every_slot(self, store):
        a, b = self.sessions(2)
        store.take_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        store.take_slot(b, "rb", max_jobs=1, ttl=10, max_waiting=1, now=0)
        store.reset_slots()
        assert store.slots_in_use(now=1) == 0 and store.runs_waiting(now=1) == 0
