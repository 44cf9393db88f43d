"""The server-side store: session isolation, run records, epochs and job slots."""

import uuid

import numpy as np
import pytest

from callbacks.store import CANCELLED, DONE, QUEUED, RUNNING, SessionStore, check_session_id


def test_keys_are_built_from_session_and_run(session_id):
    key = SessionStore.key(session_id, "run", "abc", "epoch", 3)
    assert key == f"zsom/{session_id}/run/abc/epoch/3"


@pytest.mark.parametrize("bad", ["", "../../etc", None, 42, "zsom/other", "not-a-uuid"])
def test_session_ids_from_the_browser_are_checked(bad):
    with pytest.raises(ValueError):
        check_session_id(bad)
    with pytest.raises(ValueError):
        SessionStore.key(bad, "dataset")


def test_sessions_do_not_see_each_other(store):
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    store.put_dataset(alice, {"token": "a", "points": np.zeros((3, 2))})
    store.new_run(alice, "run1", {"settings": {}})
    store.put_epoch(alice, "run1", 1, {"epoch": 1}, {"mqe": [1.0]})
    assert store.get_dataset(bob) is None
    assert store.current_run_id(bob) is None
    assert store.get_run(bob, "run1") is None
    assert store.get_epoch(bob, "run1", 1) is None
    assert store.get_epoch(alice, "run1", 1) == {"epoch": 1}


def test_a_new_run_is_queued_and_current(store, session_id):
    store.new_run(session_id, "r1", {"settings": {"epochs": 3}})
    store.new_run(session_id, "r2", {"settings": {"epochs": 3}})
    assert store.current_run_id(session_id) == "r2"
    assert store.get_run(session_id, "r1")["status"] == QUEUED


def test_a_finished_run_stays_finished(store, session_id):
    store.new_run(session_id, "r", {})
    store.update_run(session_id, "r", status=CANCELLED)
    assert store.update_run(session_id, "r", status=RUNNING)["status"] == CANCELLED
    assert store.update_run(session_id, "r", status=DONE, force=True)["status"] == DONE


def test_update_of_an_unknown_run_returns_none(store, session_id):
    assert store.update_run(session_id, "missing", status=RUNNING) is None


def test_older_runs_are_dropped_with_their_epochs(store, session_id):
    for run in ("old", "new"):
        store.new_run(session_id, run, {})
        store.put_epoch(session_id, run, 1, {"epoch": 1}, {"mqe": [1.0]})
        store.beat(session_id, run)
    store.drop_runs_except(session_id, keep="new")
    assert store.get_epoch(session_id, "old", 1) is None
    assert store.get_run(session_id, "old") is None
    assert store.last_beat(session_id, "old") is None
    assert store.get_epoch(session_id, "new", 1) == {"epoch": 1}


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
    assert store.get_upload(session_id) == {"filename": "a.stl", "data": b"solid"}
    assert store.get_upload(str(uuid.uuid4())) is None


class TestSlots:
    def sessions(self, n):
        return [str(uuid.uuid4()) for _ in range(n)]

    def test_at_most_max_jobs_at_once(self, store):
        a, b, c = self.sessions(3)
        assert store.acquire_slot(a, "ra", max_jobs=2, ttl=10, now=0) == 0
        assert store.acquire_slot(b, "rb", max_jobs=2, ttl=10, now=0) == 1
        assert store.acquire_slot(c, "rc", max_jobs=2, ttl=10, now=0) is None
        assert store.slots_in_use(now=1) == 2

    def test_a_released_slot_is_free_again(self, store):
        a, b = self.sessions(2)
        store.acquire_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        store.release_slot("ra")
        assert store.acquire_slot(b, "rb", max_jobs=1, ttl=10, now=0) == 0

    def test_a_dead_job_frees_its_slot_when_its_lease_expires(self, store):
        a, b = self.sessions(2)
        store.acquire_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        assert store.acquire_slot(b, "rb", max_jobs=1, ttl=10, now=5) is None
        assert store.acquire_slot(b, "rb", max_jobs=1, ttl=10, now=11) == 0

    def test_renewal_keeps_a_live_job_in_its_slot(self, store):
        a, b = self.sessions(2)
        store.acquire_slot(a, "ra", max_jobs=1, ttl=10, now=0)
        assert store.renew_slot("ra", ttl=10, now=8)
        assert store.acquire_slot(b, "rb", max_jobs=1, ttl=10, now=15) is None
        assert not store.renew_slot("unknown", ttl=10, now=8)

    def test_a_session_replacing_its_run_reuses_its_slot(self, store):
        (a,) = self.sessions(1)
        store.acquire_slot(a, "first", max_jobs=1, ttl=10, now=0)
        assert store.acquire_slot(a, "second", max_jobs=1, ttl=10, now=1) == 0
        assert not store.renew_slot("first", ttl=10, now=2)
