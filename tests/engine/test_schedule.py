"""Decay of sigma and learning rate, the adaptive rule, and how SOM follows both."""

import math

import numpy as np
import pytest

from zsom_core import SOM, Schedule
from zsom_core.schedule import adapt_rate


def test_linear_schedule_formulas():
    s = Schedule("linear", epochs=10, sigma0=5.0, learning_rate0=0.5)
    sigmas, rates = s.values()
    assert len(sigmas) == len(rates) == 10
    for t in range(10):
        assert s.learning_rate(t) == pytest.approx(0.5 * (1 - t / 10 * 0.8), rel=1e-14)
        assert s.sigma(t) == pytest.approx(max(1.0, 5.0 * (1 - 0.85 * t / 10)), rel=1e-14)
        assert sigmas[t] == s.sigma(t) and rates[t] == s.learning_rate(t)
    assert s.sigma(0) == 5.0 and s.learning_rate(0) == 0.5
    assert s.sigma(9) == pytest.approx(5.0 * 0.235)
    # 2 (1 - 0.85 t / 10) drops below 1 from t = 5.9: floored
    assert Schedule("linear", epochs=10, sigma0=2.0, learning_rate0=0.5).values()[0][6:] == [1.0] * 4


def test_exponential_schedule_formulas():
    s = Schedule("exponential", epochs=12, sigma0=4.0, learning_rate0=0.3)
    tau = 12 / 3
    for t in range(12):
        assert s.learning_rate(t) == pytest.approx(0.3 * math.exp(-t / tau), rel=1e-14)
        assert s.sigma(t) == pytest.approx(max(1.0, 4.0 * math.exp(-t / tau)), rel=1e-14)
    assert s.sigma(11) == 1.0  # 4 e^{-11/4} = 0.26, floored
    assert s.learning_rate(11) < 0.3 * math.exp(-2.5)  # the learning rate is not floored


@pytest.mark.parametrize("decay", ["linear", "exponential"])
def test_sigma_floor_is_one(decay):
    s = Schedule(decay, epochs=20, sigma0=0.5, learning_rate0=0.5)
    assert all(sigma == 1.0 for sigma in s.values()[0])


@pytest.mark.parametrize("decay", ["linear", "exponential"])
def test_schedules_decrease_monotonically(decay):
    sigmas, rates = Schedule(decay, epochs=30, sigma0=8.0, learning_rate0=0.9).values()
    assert np.all(np.diff(sigmas) <= 0) and np.all(np.diff(rates) < 0)
    assert min(rates) > 0


@pytest.mark.parametrize("decay", ["linear", "exponential"])
@pytest.mark.parametrize("epochs", [2, 3, 10])
def test_pinned_ends_start_and_end_where_asked(decay, epochs):
    s = Schedule(decay, epochs=epochs, sigma0=4.0, learning_rate0=0.5, sigma_end=0.5, learning_rate_end=0.01)
    sigmas, rates = s.values()
    assert sigmas[0] == 4.0 and rates[0] == 0.5
    assert sigmas[-1] == pytest.approx(0.5, rel=1e-12)
    assert rates[-1] == pytest.approx(0.01, rel=1e-12)
    # No floor at 1 when the end is pinned below it.
    assert np.all(np.diff(sigmas) < 0) and np.all(np.diff(rates) < 0)
    if decay == "linear":
        np.testing.assert_allclose(np.diff(sigmas), (0.5 - 4.0) / (epochs - 1), rtol=1e-12)
    else:
        np.testing.assert_allclose(np.array(sigmas[1:]) / sigmas[:-1], (0.5 / 4.0) ** (1 / (epochs - 1)), rtol=1e-12)


@pytest.mark.parametrize(
    "decay, start, end",
    [("linear", 5.0, 0.3), ("linear", 0.5, 0.01), ("exponential", 5.150206568360688, 1.4918277574604486)],
)
def test_pinned_ends_are_exact_at_the_last_epoch(decay, start, end):
    s = Schedule(decay, epochs=10, sigma0=start, learning_rate0=start, sigma_end=end, learning_rate_end=end)
    assert s.sigma(9) == end
    assert s.learning_rate(9) == end


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"decay": "cosine"}, r"unknown decay 'cosine'; valid decays: linear, exponential"),
        ({"epochs": 0}, r"epochs must be at least 1"),
        ({"sigma0": 0.0}, r"sigma0 must be a positive finite number"),
        ({"learning_rate0": -0.1}, r"learning_rate0 must be a positive finite number"),
        ({"learning_rate0": float("inf")}, r"learning_rate0 must be a positive finite number"),
        ({"sigma_end": float("nan")}, r"sigma_end must be a positive finite number"),
        ({"learning_rate_end": 0.0}, r"learning_rate_end must be a positive finite number"),
        ({"sigma_hold": -0.1}, r"sigma_hold must be a share of the epochs in \[0, 1\)"),
        ({"sigma_hold": 1.0}, r"sigma_hold must be a share"),
        ({"sigma_hold": True}, r"sigma_hold must be a share"),
        ({"sigma_hold": "0.2"}, r"sigma_hold must be a share"),
    ],
)
def test_invalid_schedules_raise(kwargs, match):
    args = {"decay": "linear", "epochs": 5, "sigma0": 2.0, "learning_rate0": 0.5, **kwargs}
    with pytest.raises(ValueError, match=match):
        Schedule(**args)


def test_default_rate_is_the_decay_factor_or_tau():
    assert Schedule("linear", 30, 2.0, 0.5).default_rate == 0.8
    assert Schedule("exponential", 30, 2.0, 0.5).default_rate == 10.0


def test_learning_rate_follows_the_given_rate():
    lin = Schedule("linear", 10, 2.0, 0.5)
    assert lin.learning_rate(5, rate=0.4) == pytest.approx(0.5 * (1 - 0.4 * 0.5))
    exp = Schedule("exponential", 10, 2.0, 0.5)
    assert exp.learning_rate(5, rate=2.0) == pytest.approx(0.5 * math.exp(-2.5))


@pytest.mark.parametrize("shape, expected", [((10, 6), 5.0), ((3, 9), 4.5), ((1, 2), 1.0)])
def test_som_default_sigma0_is_half_the_longer_side(shape, expected):
    s = SOM(*shape).schedule(7)
    assert s.sigma0 == expected and s.epochs == 7 and s.learning_rate0 == 0.5 and s.decay == "linear"
    assert SOM(*shape, sigma=2.5).schedule(7).sigma0 == 2.5


def test_som_schedule_passes_pinned_ends():
    s = SOM(4, 4, decay="exponential", sigma=3.0, sigma_end=0.2, learning_rate=0.9,
            learning_rate_end=0.05).schedule(8)
    assert (s.decay, s.sigma0, s.sigma_end, s.learning_rate0, s.learning_rate_end) == (
        "exponential", 3.0, 0.2, 0.9, 0.05)


# ------------------------------------------------------------------ the adaptive rule


@pytest.mark.parametrize(
    "rate, previous, mqe, decay, expected_rate, decision",
    [
        (0.8, 1.0, 0.90, "linear", 0.8 * 0.95, "slower"),      # 10 % drop: steep
        (0.41, 1.0, 0.90, "linear", 0.4, "slower"),            # floor 0.4
        (0.8, 1.0, 0.999, "linear", 0.8 * 1.05, "faster"),     # 0.1 % change: plateau
        (0.8, 1.0, 1.002, "linear", 0.8 * 1.05, "faster"),     # a tiny rise is a plateau too
        (0.93, 1.0, 0.999, "linear", 0.95, "faster"),          # cap 0.95
        (0.8, 1.0, 0.98, "linear", 0.8, "hold"),               # 2 % drop: neither
        (0.8, 1.0, 1.10, "linear", 0.8, "hold"),               # a rise beyond the plateau
        (10.0, 1.0, 0.90, "exponential", 10.0 / 0.95, "slower"),  # tau stretched
        (10.0, 1.0, 0.999, "exponential", 10.0 / 1.05, "faster"),  # tau compressed
        (10.0, 1.0, 0.98, "exponential", 10.0, "hold"),
        (0.8, 0.0, 0.0, "linear", 0.8, "hold"),                # no previous error to compare
        (0.8, float("nan"), 0.5, "linear", 0.8, "hold"),
        (0.8, 1.0, float("inf"), "linear", 0.8, "hold"),
    ],
)
def test_adapt_rate_decisions(rate, previous, mqe, decay, expected_rate, decision):
    new_rate, got = adapt_rate(rate, previous, mqe, decay)
    assert got == decision
    assert new_rate == pytest.approx(expected_rate, rel=1e-14)


@pytest.mark.parametrize("decay", ["linear", "exponential"])
@pytest.mark.parametrize("algorithm", ["batch", "online"])
def test_som_adaptive_learning_rate_follows_its_decisions(decay, algorithm, blobs):
    som = SOM(5, 4, adaptive_lr=True, decay=decay, algorithm=algorithm, init="random", seed=3)
    snapshots = list(som.iter_fit(blobs, epochs=15))
    schedule = som.schedule(15)
    decisions = [s.adaptive_decision for s in snapshots]
    assert decisions == som.adaptive_history_
    assert set(decisions) <= {"slower", "faster", "hold"} and len(decisions) == 15

    # Replay the rule on the recorded errors: every decision and every learning rate used.
    rate, previous = schedule.default_rate, som.initial_mqe_
    for epoch, snapshot in enumerate(snapshots):
        assert som.learning_rate_history_[epoch] == snapshot.learning_rate
        assert snapshot.learning_rate == pytest.approx(schedule.learning_rate(epoch, rate), rel=1e-14)
        assert snapshot.sigma == pytest.approx(schedule.sigma(epoch), rel=1e-14)
        rate, decision = adapt_rate(rate, previous, som.mqe_history_[epoch], decay)
        assert decision == snapshot.adaptive_decision
        previous = som.mqe_history_[epoch]


def test_adaptive_run_differs_from_plain_run_when_it_decides(blobs):
    plain = SOM(5, 4, decay="exponential", init="random", seed=3).fit(blobs, epochs=15)
    adaptive = SOM(5, 4, decay="exponential", adaptive_lr=True, init="random", seed=3).fit(blobs, epochs=15)
    assert any(d != "hold" for d in adaptive.adaptive_history_)
    assert plain.adaptive_history_ == [None] * 15
    assert adaptive.learning_rate_history_ != plain.learning_rate_history_
    assert adaptive.learning_rate_history_[0] == plain.learning_rate_history_[0]


def test_adaptive_lr_with_pinned_end_is_refused(blobs):
    with pytest.raises(ValueError, match=r"adaptive_lr.*learning_rate_end as None"):
        SOM(4, 4, adaptive_lr=True, learning_rate_end=0.01).fit(blobs, epochs=3)


@pytest.mark.parametrize("decay", ["linear", "exponential"])
def test_som_histories_follow_the_schedule(decay, blobs):
    som = SOM(4, 4, decay=decay, sigma=3.0, learning_rate=0.7, seed=0).fit(blobs, epochs=9)
    sigmas, rates = som.schedule(9).values()
    assert som.sigma_history_ == sigmas
    assert som.learning_rate_history_ == rates
    assert som.schedule_ == som.schedule(9)


def test_som_pinned_sigma_end_reaches_it(blobs):
    som = SOM(4, 4, sigma=3.0, sigma_end=0.3, learning_rate=0.6, learning_rate_end=0.02).fit(blobs, epochs=6)
    assert som.sigma_history_[0] == 3.0 and som.sigma_history_[-1] == pytest.approx(0.3, rel=1e-12)
    assert som.learning_rate_history_[-1] == pytest.approx(0.02, rel=1e-12)


@pytest.mark.parametrize("decay", ["linear", "exponential"])
@pytest.mark.parametrize("sigma_end", [None, 0.4])
def test_sigma_hold_ends_the_run_at_sigma_s_last_value(decay, sigma_end):
    held = Schedule(decay, 50, 6.0, 0.5, sigma_end, 0.02, sigma_hold=0.2)
    shorter = Schedule(decay, 40, 6.0, 0.5, sigma_end, 0.02)
    sigmas, rates = held.values()
    # sigma runs the schedule of a run 10 epochs shorter, then holds its last value
    assert held.sigma_epochs == 40
    assert sigmas[:40] == shorter.values()[0]
    assert sigmas[40:] == [sigmas[39]] * 10
    if sigma_end is not None:
        assert sigmas[39] == sigma_end
    # the learning rate is the whole run's
    assert rates == Schedule(decay, 50, 6.0, 0.5, sigma_end, 0.02).values()[1]


def test_sigma_hold_leaves_two_epochs_to_reach_a_pinned_end():
    s = Schedule("linear", 2, 3.0, 0.5, sigma_end=0.5, sigma_hold=0.9)
    assert s.values()[0] == [3.0, 0.5]
    assert Schedule("linear", 1, 3.0, 0.5, sigma_end=0.5, sigma_hold=0.5).values()[0] == [3.0]


def test_som_passes_sigma_hold_to_its_schedule(blobs):
    som = SOM(4, 4, sigma=3.0, sigma_end=0.3, sigma_hold=0.25).fit(blobs, epochs=8)
    assert som.schedule_.sigma_hold == 0.25
    assert som.sigma_history_[-3:] == [0.3] * 3 and som.sigma_history_[-4] > 0.3
