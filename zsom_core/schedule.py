"""Decay of the learning rate and the neighbourhood radius over epochs, and the adaptive rule.

Epochs are counted from 0 to ``epochs - 1``; epoch ``t`` trains with ``sigma(t)`` and
``learning_rate(t)``.

- ``"linear"`` (the original ZSOM): ``lr = lr0 * (1 - f t / T)`` with the decay factor
  ``f = 0.8``, and ``sigma = max(1, sigma0 * (1 - 0.85 t / T))``.
- ``"exponential"`` (Kohonen): ``tau = T / 3``, ``lr = lr0 exp(-t / tau)`` and
  ``sigma = max(1, sigma0 exp(-t / tau))``.

Either end may be pinned instead: with ``sigma_end`` (or ``learning_rate_end``) set, the
value runs from its start to exactly that end at the last epoch, linearly or
geometrically. ``sigma_hold`` ends the run with that share of its epochs at sigma's last
value (a fine-tuning phase): sigma follows the schedule of a run that many epochs
shorter, then holds. While sigma still shrinks
the map still moves, so only a held sigma lets a run end converged.

The adaptive learning rate changes the decay factor (linear) or tau (exponential) as
training goes; the schedule takes that rate as an argument so that it stays a plain,
queryable description.

``DECAYS`` maps each decay's name to its implementation (a ``Decay``), ``DECAY_LABELS``
to the label a user reads.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Protocol

from .registry import check_name

LINEAR_DECAY_FACTOR = 0.8
LINEAR_SIGMA_SHRINK = 0.85
SIGMA_FLOOR = 1.0

# The adaptive rule reads the relative MQE change of the last epoch.
STEEP_DROP = 0.05   # more than 5 % better: learning pays, decay the learning rate slower
PLATEAU = 0.005     # less than 0.5 % change: decay faster
ADAPT_SLOWER, ADAPT_FASTER = 0.95, 1.05
DECAY_FACTOR_FLOOR, DECAY_FACTOR_CAP = 0.4, 0.95


class Decay(Protocol):
    """How a value runs down over a run of ``epochs`` epochs. ``rate`` is the decay's own
    parameter: the linear decay factor, or the exponential time constant."""

    def default_rate(self, epochs: int) -> float:
        """The learning rate's rate before any adaptive change."""

    def sigma_rate(self, epochs: int) -> float:
        """Sigma's rate."""

    def value(self, start: float, epoch: int, epochs: int, rate: float) -> float:
        """The value at ``epoch`` of a run that starts at ``start``."""

    def towards(self, start: float, end: float, progress: float) -> float:
        """The value ``progress`` (in [0, 1)) of the way from ``start`` to a pinned ``end``."""

    def adapt(self, rate: float, step: float) -> float:
        """The rate after one step of the adaptive rule (a step below 1 slows the decay)."""


class LinearDecay:
    """ZSOM's decay: ``start (1 - f t / T)``, with the decay factor ``f`` as the rate.

    The learning rate starts with ``f = 0.8``, sigma shrinks with ``f = 0.85``; a pinned end
    is reached along a straight line; the adaptive rule scales ``f`` within [0.4, 0.95].
    """

    def default_rate(self, epochs: int) -> float:
        return LINEAR_DECAY_FACTOR

    def sigma_rate(self, epochs: int) -> float:
        return LINEAR_SIGMA_SHRINK

    def value(self, start: float, epoch: int, epochs: int, rate: float) -> float:
        return start * max(0.0, 1.0 - rate * epoch / epochs)

    def towards(self, start: float, end: float, progress: float) -> float:
        return start + (end - start) * progress

    def adapt(self, rate: float, step: float) -> float:
        return min(DECAY_FACTOR_CAP, max(DECAY_FACTOR_FLOOR, rate * step))


class ExponentialDecay:
    """Kohonen's decay: ``start exp(-t / tau)``, with the time constant ``tau`` as the rate.

    Both sigma and the learning rate start with ``tau = T / 3``; a pinned end is reached
    geometrically; the adaptive rule divides ``tau`` by its step.
    """

    def default_rate(self, epochs: int) -> float:
        return epochs / 3.0

    def sigma_rate(self, epochs: int) -> float:
        return epochs / 3.0

    def value(self, start: float, epoch: int, epochs: int, rate: float) -> float:
        return start * math.exp(-epoch / rate)

    def towards(self, start: float, end: float, progress: float) -> float:
        return start * (end / start) ** progress

    def adapt(self, rate: float, step: float) -> float:
        return rate / step


DECAYS: dict[str, Decay] = {
    "linear": LinearDecay(),
    "exponential": ExponentialDecay(),
}

DECAY_LABELS = {
    "linear": "Linear",
    "exponential": "Exponential",
}


def get_decay(name: str) -> Decay:
    """The decay called ``name``; raises ``ValueError`` naming the valid decays."""
    return DECAYS[check_name(name, DECAYS, "decay", "decays")]


@dataclass(frozen=True)
class Schedule:
    """Learning rate and sigma for every epoch of a run of ``epochs`` epochs."""

    decay: str
    epochs: int
    sigma0: float
    learning_rate0: float
    sigma_end: float | None = None
    learning_rate_end: float | None = None
    sigma_hold: float = 0.0

    def __post_init__(self):
        get_decay(self.decay)
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        for name in ("sigma0", "learning_rate0", "sigma_end", "learning_rate_end"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        hold = self.sigma_hold
        if isinstance(hold, bool) or not (isinstance(hold, numbers.Real) and 0.0 <= hold < 1.0):
            raise ValueError(f"sigma_hold must be a share of the epochs in [0, 1), got {self.sigma_hold!r}")

    @property
    def default_rate(self) -> float:
        """The adaptive rule's starting point: the linear decay factor or the exponential tau."""
        return DECAYS[self.decay].default_rate(self.epochs)

    @property
    def sigma_epochs(self) -> int:
        """The epochs over which sigma decays; it holds its last value over the rest.

        At least two when the run has two, so that a pinned end is reached.
        """
        return max(min(2, self.epochs), self.epochs - math.floor(self.sigma_hold * self.epochs))

    def sigma(self, epoch: int) -> float:
        decay = DECAYS[self.decay]
        epochs = self.sigma_epochs
        epoch = min(epoch, epochs - 1)
        if self.sigma_end is not None:
            return _towards(decay, self.sigma0, self.sigma_end, _progress(epoch, epochs))
        return max(SIGMA_FLOOR, decay.value(self.sigma0, epoch, epochs, decay.sigma_rate(epochs)))

    def learning_rate(self, epoch: int, rate: float | None = None) -> float:
        """Learning rate at ``epoch``; ``rate`` is the adaptive decay factor or tau."""
        decay = DECAYS[self.decay]
        if self.learning_rate_end is not None and rate is None:
            return _towards(decay, self.learning_rate0, self.learning_rate_end, _progress(epoch, self.epochs))
        rate = self.default_rate if rate is None else rate
        return decay.value(self.learning_rate0, epoch, self.epochs, rate)

    def values(self) -> tuple[list[float], list[float]]:
        """Sigma and learning rate of every epoch, as the app plots them."""
        epochs = range(self.epochs)
        return [self.sigma(t) for t in epochs], [self.learning_rate(t) for t in epochs]



def _progress(epoch: int, epochs: int) -> float:
    return epoch / (epochs - 1) if epochs > 1 else 0.0


def _towards(decay: Decay, start: float, end: float, progress: float) -> float:
    if progress >= 1.0:
        return end  # exactly, not start + (end - start) * 1 rounded
    return decay.towards(start, end, progress)


def replay_rate(schedule: Schedule, decisions) -> float:
    """The adaptive rate after ``decisions`` ("slower", "faster", "hold", as ``adapt_rate``
    made them), starting from ``schedule``'s own: how a resumed run takes up the rule."""
    decay = get_decay(schedule.decay)
    rate = schedule.default_rate
    for decision in decisions:
        if decision == "slower":
            rate = decay.adapt(rate, ADAPT_SLOWER)
        elif decision == "faster":
            rate = decay.adapt(rate, ADAPT_FASTER)
    return rate


def adapt_rate(rate: float, previous_mqe: float, mqe: float, decay: str) -> tuple[float, str]:
    """One step of the adaptive rule: the new decay factor (or tau) and the decision made.

    A steep MQE drop slows the decay (factor x 0.95, floor 0.4; tau / 0.95); a plateau
    speeds it up (factor x 1.05, cap 0.95; tau / 1.05). Decisions: "slower", "faster", "hold".
    """
    if not (previous_mqe > 0 and math.isfinite(previous_mqe) and math.isfinite(mqe)):
        return rate, "hold"
    relative_drop = (previous_mqe - mqe) / previous_mqe
    if relative_drop > STEEP_DROP:
        decision, step = "slower", ADAPT_SLOWER
    elif abs(relative_drop) < PLATEAU:
        decision, step = "faster", ADAPT_FASTER
    else:
        return rate, "hold"
    return get_decay(decay).adapt(rate, step), decision
