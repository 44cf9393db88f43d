"""A run resumed from a snapshot goes on as the run would have, and a fork follows its own settings."""

import pickle

import numpy as np
import pytest

from zsom_core import SOM
from zsom_core.schedule import ADAPT_FASTER, ADAPT_SLOWER, DECAYS

EPOCHS, STOP = 12, 5


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=3.0, size=(4, 3))
    return np.concatenate([c + rng.normal(scale=0.4, size=(60, 3)) for c in centres])


def _som(**params):
    settings = dict(init="random", sigma=3.0, seed=7) | params
    return SOM(6, 5, **settings)


def _snapshot_at(som, X, epoch, epochs=EPOCHS):
    for snapshot in som.iter_fit(X, epochs=epochs):
        if snapshot.epoch == epoch:
            return snapshot
    raise AssertionError(f"no snapshot at epoch {epoch}")


CASES = [dict(algorithm="batch"), dict(algorithm="batch", adaptive_lr=True, learning_rate=0.8),
         dict(algorithm="online", learning_rate=0.5), dict(algorithm="online", adaptive_lr=True, learning_rate=0.5),
         dict(algorithm="batch", decay="exponential", adaptive_lr=True, learning_rate=0.7)]
CASE_IDS = ["batch", "batch-adaptive", "online", "online-adaptive", "batch-exponential-adaptive"]


@pytest.mark.parametrize("params", CASES, ids=CASE_IDS)
def test_resuming_with_the_same_settings_reproduces_the_uninterrupted_run_bit_for_bit(X, params):
    whole = _som(**params).fit(X, epochs=EPOCHS)
    snapshot = _snapshot_at(_som(**params), X, STOP)
    resumed = _som(**params, seed=999)  # the snapshot's generator, not the seed, goes on
    snapshots = list(resumed.iter_fit(X, epochs=EPOCHS, resume_from=snapshot))
    assert [s.epoch for s in snapshots] == list(range(STOP + 1, EPOCHS + 1))
    assert np.array_equal(resumed.weights_, whole.weights_)
    for name in ("mqe_history_", "te_history_", "sigma_history_", "learning_rate_history_", "adaptive_history_"):
        assert getattr(resumed, name) == getattr(whole, name)[STOP:], name
    assert resumed.start_epoch_ == STOP and whole.start_epoch_ == 0
    if params.get("adaptive_lr"):
        assert snapshots[-1].adaptive_decisions == tuple(whole.adaptive_history_)
        assert set(whole.adaptive_history_) - {"hold"}  # the rule did change the rate on the way


@pytest.mark.parametrize("params", CASES[:3], ids=CASE_IDS[:3])
def test_a_snapshot_resumes_after_a_pickle_round_trip(X, params):
    snapshot = pickle.loads(pickle.dumps(_snapshot_at(_som(**params), X, STOP)))
    whole = _som(**params).fit(X, epochs=EPOCHS)
    assert np.array_equal(_som(**params).fit(X, epochs=EPOCHS, resume_from=snapshot).weights_, whole.weights_)


def test_a_fork_follows_its_own_schedule_from_the_fork_on(X):
    snapshot = _snapshot_at(_som(), X, STOP)
    fork = _som(sigma=1.5)
    fork.fit(X, epochs=EPOCHS + 4, resume_from=snapshot)
    schedule = fork.schedule(EPOCHS + 4)
    assert fork.sigma_history_ == [schedule.sigma(t) for t in range(STOP, EPOCHS + 4)]
    assert len(fork.mqe_history_) == EPOCHS + 4 - STOP
    # The same fork again is the same map; the parent going on is another.
    again = _som(sigma=1.5).fit(X, epochs=EPOCHS + 4, resume_from=snapshot)
    assert np.array_equal(again.weights_, fork.weights_)
    parent = _som().fit(X, epochs=EPOCHS + 4)
    assert not np.allclose(parent.weights_, fork.weights_)


def test_a_fork_replays_the_adaptive_decisions_on_its_own_rate(X):
    params = dict(adaptive_lr=True, learning_rate=0.8)
    snapshot = _snapshot_at(_som(**params), X, STOP)
    assert len(snapshot.adaptive_decisions) == STOP
    assert set(snapshot.adaptive_decisions) - {"hold"}  # decisions that change the rate, to replay
    fork = _som(**params, decay="exponential")
    fork.fit(X, epochs=EPOCHS, resume_from=snapshot)
    decay = DECAYS["exponential"]
    rate = fork.schedule(EPOCHS).default_rate
    steps = {"slower": ADAPT_SLOWER, "faster": ADAPT_FASTER}
    for decision in snapshot.adaptive_decisions:
        rate = decay.adapt(rate, steps[decision]) if decision in steps else rate
    assert fork.learning_rate_history_[0] == pytest.approx(fork.schedule(EPOCHS).learning_rate(STOP, rate), rel=1e-15)


def test_a_snapshot_of_a_batch_run_made_by_hand_resumes_without_a_generator(X):
    snapshot = _snapshot_at(_som(), X, STOP)
    by_hand = type(snapshot)(epoch=STOP, epochs=EPOCHS, weights=snapshot.weights, mqe=0.0, topographic_error=0.0,
                             sigma=0.0, learning_rate=0.0, hits=snapshot.hits)
    whole = _som().fit(X, epochs=EPOCHS)
    assert np.array_equal(_som().fit(X, epochs=EPOCHS, resume_from=by_hand).weights_, whole.weights_)
    with pytest.raises(ValueError, match="rng_state"):
        _som(algorithm="online", learning_rate=0.5).fit(X, epochs=EPOCHS, resume_from=by_hand)


def test_what_cannot_go_on_is_refused_with_a_reason(X):
    snapshot = _snapshot_at(_som(), X, STOP)
    with pytest.raises(ValueError, match="only on a map of its own size"):
        SOM(5, 6, init="random", seed=7).fit(X, epochs=EPOCHS, resume_from=snapshot)
    with pytest.raises(ValueError, match="as many features"):
        _som().fit(X[:, :2], epochs=EPOCHS, resume_from=snapshot)
    with pytest.raises(ValueError, match="nothing left to train"):
        _som().fit(X, epochs=STOP, resume_from=snapshot)
    with pytest.raises(TypeError, match="must be a Snapshot"):
        _som().fit(X, epochs=EPOCHS, resume_from={"weights": snapshot.weights})
    broken = type(snapshot)(**{**snapshot.__dict__, "weights": np.full_like(snapshot.weights, np.nan)})
    with pytest.raises(ValueError, match="not all finite"):
        _som().fit(X, epochs=EPOCHS, resume_from=broken)
    forged = type(snapshot)(**{**snapshot.__dict__, "rng_state": {"bit_generator": "os.system"}})
    with pytest.raises(ValueError, match="names no NumPy bit generator"):
        _som(algorithm="online", learning_rate=0.5).fit(X, epochs=EPOCHS, resume_from=forged)


def test_a_snapshot_stays_as_it_was_while_its_run_goes_on(X):
    run = _som().iter_fit(X, epochs=EPOCHS)
    snapshot = next(s for s in run if s.epoch == STOP)
    kept = snapshot.weights.copy(), dict(snapshot.rng_state)
    for _ in run:
        pass
    assert np.array_equal(snapshot.weights, kept[0])
    assert snapshot.rng_state == kept[1]
