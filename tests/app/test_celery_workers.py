"""Training on real Celery workers over a real Redis: the web side's ``Runs`` with the Redis
store and the Celery backend, two workers started as the README says (``celery -A
app:celery_app worker --concurrency 1``), and the faults a shared server meets."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from ui_testkit import cloud
from zsom_testkit import CeleryWorker, RedisServer, wait_until

from callbacks.data import dataset_record
from components.settings import DEFAULTS, parse_settings
from zsom_core import SOM
from zsom_jobs import DEAD_MESSAGE, Liveness, Runs, RunStatus
from zsom_jobs.celery_jobs import CeleryBackend, make_celery
from zsom_jobs.redis_store import RedisStore

pytestmark = pytest.mark.slow
CELERY = Path(sys.executable).with_name("celery")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with RedisServer(tmp_path_factory.mktemp("celery-redis")) as server:
        yield server.url


@pytest.fixture(scope="module")
def workers(redis_url, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("workers")
    started = [CeleryWorker(redis_url, f"w{index}", log_dir) for index in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def shared(redis_url, workers):
    """(store, runs) as a web process has them, with at most two runs waiting."""
    store = RedisStore(redis_url)
    celery = make_celery(redis_url)
    yield store, Runs(store, CeleryBackend(celery, store, max_waiting=2))
    store.close()


def settings_for(seed: int, epochs: int = 100):
    """A 30 x 30 map on 10,000 points: about 10 ms an epoch, so a run lasts while it is watched."""
    return parse_settings({**DEFAULTS, "auto_size": False, "auto_sigma": False, "width": 30, "height": 30,
                           "epochs": epochs, "sigma": 8.0, "seed": seed})


def session_with_data(store, seed: int) -> tuple[str, np.ndarray]:
    session_id = str(uuid.uuid4())
    points = cloud(10_000, 3, seed=seed)
    store.put_dataset(session_id, dataset_record(f"cloud-{seed}", "cloud", "cloud", points, None, None, None,
                                                 "a blob", "builtin"))
    return session_id, points


def start(runs, session_id, settings):
    return runs.start(session_id, settings.run_settings(), settings.schedule())


def finished(runs, session_id, run_id):
    record, state = runs.observe(session_id, run_id)
    return record if state is Liveness.FINISHED else None


def test_two_workers_four_runs_two_train_two_wait_in_order_and_all_finish_with_their_own_maps(shared):
    store, runs = shared
    sessions = [session_with_data(store, seed) for seed in range(4)]
    records = [start(runs, session_id, settings_for(seed)) for seed, (session_id, _) in enumerate(sessions)]

    def two_training_two_waiting():
        observed = [runs.observe(session_id, record.run) for (session_id, _), record in zip(sessions, records)]
        running = [record for record, _ in observed if record.status is RunStatus.RUNNING]
        places = sorted(record.queue_place for record, _ in observed if record.status is RunStatus.QUEUED)
        return (len(running), places) if len(running) == 2 and places == [1, 2] else None

    assert wait_until(two_training_two_waiting, 60, "both workers busy and two runs in line") == (2, [1, 2])
    for seed, ((session_id, points), record) in enumerate(zip(sessions, records)):
        final = wait_until(lambda: finished(runs, session_id, record.run), 180,  # noqa: B023 - awaited here
                           f"run {seed} to finish")
        assert final.status is RunStatus.DONE and final.epoch == 100
        history = store.get_history(session_id, record.run)
        som = SOM(**final.settings).fit(points)
        np.testing.assert_allclose(history["mqe"][-1], som.mqe_history_[-1], rtol=1e-6)
        np.testing.assert_allclose(store.get_epoch(session_id, record.run, 100)["weights"],
                                   som.weights_.reshape(-1, 3), rtol=1e-5, atol=1e-6)


def test_a_full_line_answers_busy_at_once_and_cancelled_runs_leave_it(shared):
    store, runs = shared
    sessions = [session_with_data(store, seed) for seed in range(5)]
    records = []
    for seed, (session_id, _) in enumerate(sessions[:4]):
        records.append(start(runs, session_id, settings_for(seed, epochs=400)))
        if seed < 2:  # each worker takes its run before the next is sent
            wait_until(lambda: store.slots_in_use() == seed + 1, 60, "a worker to take the run")  # noqa: B023
    assert [runs.observe(session_id, record.run)[0].queue_place
            for (session_id, _), record in zip(sessions[2:], records[2:])] == [1, 2]
    refused = start(runs, sessions[4][0], settings_for(4))
    assert refused.status is RunStatus.BUSY and refused.message.startswith("Server busy: 2 trainings running")
    runs.cancel(sessions[2][0])  # the first in line leaves it: the second moves up
    assert runs.observe(sessions[3][0], records[3].run)[0].queue_place == 1
    for (session_id, _), record in zip(sessions, records):
        runs.cancel(session_id)
        wait_until(lambda: finished(runs, session_id, record.run), 60, "the run to end")  # noqa: B023
    wait_until(lambda: store.slots_in_use() == 0, 60, "the workers to let go of the cancelled runs")


def test_cancelling_one_run_never_stops_another(shared):
    store, runs = shared
    (alice, _), (bob, _) = session_with_data(store, 10), session_with_data(store, 11)
    kept = start(runs, alice, settings_for(10, epochs=60))
    cancelled = start(runs, bob, settings_for(11, epochs=200))
    wait_until(lambda: store.epochs_done(bob, cancelled.run) >= 2, 60, "the second run to train")
    runs.cancel(bob)
    assert wait_until(lambda: finished(runs, alice, kept.run), 180, "the first run to finish").status is RunStatus.DONE
    ended = store.get_run(bob, cancelled.run)
    assert ended.status is RunStatus.CANCELLED and ended.epoch < 200
    wait_until(lambda: not store.slot_held(cancelled.run), 30, "the cancelled run's worker to stop it")
    assert store.epochs_done(bob, cancelled.run) <= ended.epoch


def test_a_worker_killed_mid_run_fails_that_run_only_and_the_next_train_works(shared, workers):
    store, runs = shared
    (alice, _), (bob, _) = session_with_data(store, 20), session_with_data(store, 21)
    victim = start(runs, alice, settings_for(20, epochs=300))
    survivor = start(runs, bob, settings_for(21, epochs=60))
    wait_until(lambda: store.epochs_done(alice, victim.run) >= 3 and store.epochs_done(bob, survivor.run) >= 1,
               60, "both runs to train")
    # The worker that took the victim's task: SIGKILLed, pool and all.
    owner = next(worker for worker in workers if worker.received(victim.run))
    owner.kill()
    failed = wait_until(lambda: finished(runs, alice, victim.run), 60, "the killed run to be found dead")
    assert failed.status is RunStatus.FAILED and failed.message == DEAD_MESSAGE and failed.epoch >= 3
    assert store.get_epoch(alice, victim.run, failed.epoch) is not None  # its epochs stay viewable
    assert wait_until(lambda: finished(runs, bob, survivor.run), 180, "the other run").status is RunStatus.DONE
    owner.start()
    again = start(runs, alice, settings_for(22, epochs=5))
    assert wait_until(lambda: finished(runs, alice, again.run), 120, "the next run").status is RunStatus.DONE
