"""The public estimator: ``SOM`` stores its configuration, validates, and coordinates kernels.

Dtype policy: weights, sums and every public result are float64, but for ``transform``'s
distances. The best-matching-unit (BMU) pass runs in ``dtype`` ("float32" by default: half
the memory traffic, and BMUs differ from float64 only where two units are within float32
rounding of each other); ``dtype="float64"`` is the mode held to the NumPy reference.
``transform`` computes and returns its (n, units) distances in ``dtype``: the result is
the size of the data times the map's, and float32 halves it.
"""

from __future__ import annotations

import inspect
import json
import math
import numbers
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import kernels, reference
from .bmu import BMUPass, BMUSearch, unit_distances
from .distributed import DaskData, is_dask_collection
from .grid import Grid
from .init import INITS, fill_missing
from .metrics import metric_code
from .neighborhood import (
    GAUSSIAN,
    gaussian_smooth,
    has_surround,
    neighborhood_code,
    neighborhood_weights,
    surround_scale,
)
from .parallel import LANES, PARALLEL_MIN_ELEMENTS, run_lanes, single_threaded_blas
from .quality import rank_errors, topographic_product
from .registry import check_name
from .schedule import DECAYS, Schedule, adapt_rate, replay_rate

ALGORITHMS = ("batch", "online")
ALGORITHM_LABELS = {"batch": "Batch", "online": "Online"}
DTYPES = ("float32", "float64")
UNIT_ERRORS = ("mqe", "mae", "mse", "rmse", "mape")

_FORMAT_VERSION = 1
# Elements of the neighbourhood matrix held at once per lane (16 MB) by the batch update
# of the neighbourhoods that have no separable form.
SMOOTH_BLOCK_ELEMENTS = 1 << 21
# Most memory an online epoch keeps for its winners' rows of neighbourhood steps (see
# ``kernels.online_epoch``): 6.5 MB for a 30x30 map; past 2,896 units each sample
# computes its winner's row afresh.
ONLINE_ROWS_BYTES = 64 << 20


@dataclass(frozen=True)
class Snapshot:
    """The map after one epoch: plain arrays, cheap to copy and to pickle.

    ``mqe``, ``topographic_error`` and ``hits`` describe ``weights`` (the map after the
    epoch), measured over the training data. ``u_matrix`` is filled when asked for.
    ``searched`` is how many sample-to-unit distances the epoch's BMU pass computed (n * m
    for a full pass, fewer where the pruned search spared them; None from the reference).

    What a run needs to go on from here (``SOM.iter_fit``'s ``resume_from``):
    ``adaptive_decisions``, the adaptive rule's decision after every epoch so far (empty
    without the rule), and ``rng_state``, the state of the run's random generator (the
    online algorithm draws each epoch's sample order from it).
    """

    epoch: int
    epochs: int
    weights: np.ndarray
    mqe: float
    topographic_error: float
    sigma: float
    learning_rate: float
    hits: np.ndarray
    adaptive_decision: str | None = None
    u_matrix: np.ndarray | None = None
    adaptive_decisions: tuple[str, ...] = ()
    rng_state: dict | None = None
    searched: int | None = None


class SOM:
    """Kohonen's Self-Organizing Map on a ``width x height`` grid.

    >>> som = SOM(12, 12, topology="hex", epochs=50, seed=0).fit(X)
    >>> som.weights_.shape   # (12, 12, d)

    Parameters are stored as given; ``fit`` validates them, and ``get_params`` /
    ``set_params`` read and change them as scikit-learn's estimators do. ``sigma`` defaults
    to ``max(width, height) / 2``. ``cutoff`` zeroes the neighbourhood beyond that many
    sigmas. ``sigma_end`` / ``learning_rate_end`` pin the schedule's last values;
    ``sigma_hold`` is the share of the epochs, at the end, that train at sigma's last value.
    ``epochs`` is how many epochs ``fit`` and ``iter_fit`` train unless they are given
    another number. ``seed`` (an int or a ``numpy.random.Generator``) drives
    initialisation and the online algorithm's sample order: the same seed gives the same
    map.

    Learned state ends in ``_``; ``weights_`` (width, height, d) float64 is the map's own
    array, never one that training goes on to change. ``n_features_in_`` is the number of
    features trained on, and ``feature_names_in_`` their names, where ``X`` was a data frame
    with string column names.

    A SOM is a scikit-learn estimator without depending on scikit-learn: ``fit(X, y)``
    ignores ``y``, ``predict`` gives each sample's unit, ``transform`` its distances to every
    unit, ``score`` minus the MQE; it fits in a ``Pipeline`` and a ``GridSearchCV``.

    Missing values: NaN in ``X`` marks a value that is missing, as in the MATLAB SOM
    Toolbox, for training and every read-out. A sample's distance to a unit uses its
    observed features only: euclidean, manhattan and minkowski rescale their sum over
    them by d / observed, chebyshev takes their maximum, cosine compares the observed
    part of the sample with the same coordinates of the unit. The batch update
    averages each feature of a unit over the samples that have that feature observed
    (a feature with gaps is not pulled towards zero; where none is within a unit's
    neighbourhood, the unit keeps that weight); the online update moves only a
    sample's observed features. Initialisation sees each missing value as its
    feature's observed mean. A sample with no observed feature, a feature never
    observed in ``fit``'s data, and infinite values raise ``ValueError``.
    """

    def __init__(
        self,
        width: int = 10,
        height: int = 10,
        *,
        topology: str = "square",
        toroidal: bool = False,
        metric: str = "euclidean",
        p: float = 2.0,
        init: str = "pca",
        neighborhood: str = "gaussian",
        cutoff: float | None = None,
        decay: str = "linear",
        sigma: float | None = None,
        sigma_end: float | None = None,
        sigma_hold: float = 0.0,
        learning_rate: float = 0.5,
        learning_rate_end: float | None = None,
        adaptive_lr: bool = False,
        algorithm: str = "batch",
        epochs: int = 10,
        dtype: str = "float32",
        seed: int | np.random.Generator | None = None,
        use_numba: bool = True,
    ):
        self.width = width
        self.height = height
        self.topology = topology
        self.toroidal = toroidal
        self.metric = metric
        self.p = p
        self.init = init
        self.neighborhood = neighborhood
        self.cutoff = cutoff
        self.decay = decay
        self.sigma = sigma
        self.sigma_end = sigma_end
        self.sigma_hold = sigma_hold
        self.learning_rate = learning_rate
        self.learning_rate_end = learning_rate_end
        self.adaptive_lr = adaptive_lr
        self.algorithm = algorithm
        self.epochs = epochs
        self.dtype = dtype
        self.seed = seed
        self.use_numba = use_numba

    # ------------------------------------------------------------------ configuration

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """The constructor's parameter names, in its order: the one list of them."""
        return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's parameters and their values, as stored.

        ``deep`` is scikit-learn's: there it adds the parameters of parameters that are
        estimators, as ``name__inner``. A SOM's parameters hold no estimator, so it changes
        nothing; a ``Pipeline`` or ``GridSearchCV`` reaches them as ``step__name``.
        """
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params) -> SOM:
        """Change constructor parameters; returns ``self``.

        Values are stored as given and validated by ``fit``, as the constructor's are; a
        name that is not a parameter raises ``ValueError`` and changes nothing.
        """
        valid = self._get_param_names()
        unknown = [name for name in params if name not in valid]
        if unknown:
            raise ValueError(f"unknown parameter(s) {', '.join(map(repr, unknown))} for SOM; "
                             f"valid parameters: {', '.join(valid)}")
        for name, value in params.items():
            setattr(self, name, value)
        return self

    @property
    def grid(self) -> Grid:
        """The lattice of the current width, height, topology and toroidal parameters."""
        grid = getattr(self, "_grid", None)
        key = (self.width, self.height, self.topology, self.toroidal)
        if grid is None or (grid.width, grid.height, grid.topology, grid.toroidal) != key:
            grid = self._grid = Grid(*key)
        return grid

    def _validate_params(self):
        grid = self.grid
        check_name(self.init, INITS, "init", "values")
        check_name(self.algorithm, ALGORITHMS, "algorithm", "values")
        check_name(self.dtype, DTYPES, "dtype", "values")
        check_name(self.decay, DECAYS, "decay", "values")
        neighborhood_code(self.neighborhood)
        metric_code(self.metric, self.p)
        if not (isinstance(self.p, numbers.Real) and math.isfinite(self.p)):
            raise ValueError(f"p must be a finite number, got {self.p!r}")
        if not (isinstance(self.learning_rate, numbers.Real) and 0 < self.learning_rate <= 1):
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate!r}: "
                             "a larger step overshoots the samples and the map diverges")
        if self.cutoff is not None and not (math.isfinite(self.cutoff) and self.cutoff > 0):
            raise ValueError(f"cutoff must be a positive number of sigmas or None, got {self.cutoff!r}")
        if self.adaptive_lr and self.learning_rate_end is not None:
            raise ValueError("adaptive_lr sets the learning rate's decay itself: leave learning_rate_end as None")
        _check_epochs(self.epochs)
        return grid

    def schedule(self, epochs: int | None = None) -> Schedule:
        """The decay schedule a run of ``epochs`` epochs (default: the ``epochs`` parameter)
        follows, before adaptive changes."""
        epochs = self.epochs if epochs is None else epochs
        sigma0 = self.sigma if self.sigma is not None else max(self.width, self.height) / 2.0
        return Schedule(self.decay, _check_epochs(epochs), float(sigma0), float(self.learning_rate),
                        self.sigma_end, self.learning_rate_end, self.sigma_hold)

    # ------------------------------------------------------------------ training

    def fit(self, X, y=None, *, epochs: int | None = None, resume_from: Snapshot | None = None) -> SOM:
        """Train on ``X`` (n, d), an array or a data frame, for ``epochs`` epochs (default:
        the ``epochs`` parameter, which a number given here overrides for this run); returns
        ``self``. ``resume_from`` goes on from a snapshot instead of starting afresh (see
        ``iter_fit``).

        ``y`` is ignored: it is there because scikit-learn passes one to every step of a
        pipeline. ``epochs`` is given by name; a whole number in ``y``'s place, as in the
        ``fit(X, epochs)`` of before, raises ``TypeError`` rather than being ignored.
        """
        if isinstance(y, numbers.Integral):
            raise TypeError(f"fit's second argument is y, which a SOM ignores, got {y!r}: "
                            "give the number of epochs by name, fit(X, epochs=...)")
        for _ in self.iter_fit(X, epochs, resume_from=resume_from):
            pass
        return self

    def iter_fit(self, X, epochs: int | None = None, *, with_u_matrix: bool = False,
                 resume_from: Snapshot | None = None) -> Iterator[Snapshot]:
        """Train on ``X`` as ``fit`` does, yielding a ``Snapshot`` after each epoch.

        Validation happens before the first snapshot; a consumer may stop early and the
        estimator keeps the weights of the last finished epoch. Neither a snapshot's
        weights nor ``weights_`` change when training goes on.

        ``resume_from``, a snapshot of a run on a map of this size and this many features,
        goes on from it: the first epoch trained is ``resume_from.epoch + 1`` of ``epochs``,
        from its weights, and every epoch follows this estimator's own schedule at that
        epoch, as if the run had had these settings from the start. The adaptive rule's
        decisions so far are replayed on this schedule's rate, and the random generator
        goes on from the snapshot's state (``seed`` is not used). With the settings of the
        run that took the snapshot, the run goes on exactly, bit for bit, as it would have
        without the stop. The histories (``mqe_history_`` and the others) hold the epochs
        this call trains; ``start_epoch_`` is the epoch it started after (0 for a fresh
        run).
        """
        grid = self._validate_params()
        schedule = self.schedule(epochs)
        if is_dask_collection(X):
            data = self._distributed_data(X)
            feature_names, n_features = data.feature_names, data.n_features
        else:
            feature_names = _feature_names(X)
            data = _check_data(X)
            _check_features_observed(data)
            n_features = data.shape[1]
        start = 0 if resume_from is None else _check_resume(resume_from, grid, n_features, schedule.epochs)
        rng = np.random.default_rng(self.seed) if resume_from is None else _generator_from(resume_from, self)
        # BLAS is held to one thread while the engine works, not across the yields: the
        # consumer's own products keep the threads they were given.
        with single_threaded_blas():
            if isinstance(data, np.ndarray):
                search = BMUSearch(data, grid, self.metric, float(self.p), self.dtype, self.use_numba)
                box = np.nanmin(data, axis=0), np.nanmax(data, axis=0)  # weights stay within it (see kernels)
            else:
                search, box = data.search(grid, self.metric, float(self.p), self.dtype), data.box
            if resume_from is not None:
                weights = np.array(resume_from.weights, dtype=np.float64).reshape(grid.n_units, -1)
            elif isinstance(data, np.ndarray):
                weights = INITS[self.init](fill_missing(data), grid, rng)  # (m, d), updated in place by every epoch
            else:
                weights = data.initial_weights(self.init, grid, rng)
            self.start_epoch_ = start
            self.n_features_in_ = n_features
            _set_feature_names(self, feature_names)
            self.weights_ = weights.reshape(grid.width, grid.height, -1).copy()
            self.mqe_history_, self.te_history_ = [], []
            self.sigma_history_, self.learning_rate_history_, self.adaptive_history_ = [], [], []
            self.schedule_ = schedule
            pass_ = search.run(weights)
        self.initial_mqe_ = pass_.mqe
        decisions = tuple(resume_from.adaptive_decisions) if resume_from is not None and self.adaptive_lr else ()
        rate = replay_rate(schedule, decisions)
        previous_mqe = pass_.mqe
        for epoch in range(start, schedule.epochs):
            sigma = schedule.sigma(epoch)
            learning_rate = schedule.learning_rate(epoch, rate if self.adaptive_lr else None)
            with single_threaded_blas():
                if self.algorithm == "batch":
                    self._batch_step(weights, pass_, grid, sigma, learning_rate, box)
                else:
                    self._online_epoch(data, weights, rng.permutation(len(data)), grid, sigma, learning_rate, box,
                                       pass_)
                pass_ = search.run(weights)
                self.weights_ = weights.reshape(grid.width, grid.height, -1).copy()
                u_matrix = self.u_matrix() if with_u_matrix else None
            decision = None
            if self.adaptive_lr:
                rate, decision = adapt_rate(rate, previous_mqe, pass_.mqe, schedule.decay)
                decisions += (decision,)
            previous_mqe = pass_.mqe
            self.mqe_history_.append(pass_.mqe)
            self.te_history_.append(pass_.topographic_error)
            self.sigma_history_.append(sigma)
            self.learning_rate_history_.append(learning_rate)
            self.adaptive_history_.append(decision)
            yield Snapshot(
                epoch=epoch + 1,
                epochs=schedule.epochs,
                weights=self.weights_.copy(),
                mqe=pass_.mqe,
                topographic_error=pass_.topographic_error,
                sigma=sigma,
                learning_rate=learning_rate,
                hits=pass_.counts.astype(np.int64).reshape(grid.shape),
                adaptive_decision=decision,
                u_matrix=u_matrix,
                adaptive_decisions=decisions,
                rng_state=rng.bit_generator.state,
                searched=pass_.searched,
            )

    def _distributed_data(self, X):
        """A Dask collection checked for the batch fit, its one pass of moments made."""
        if self.algorithm != "batch":
            raise ValueError("the online algorithm updates the map after every sample, in order: it cannot train on "
                             "a Dask collection; use algorithm='batch', or X.compute() for data that fits in memory")
        if not self.use_numba:
            raise ValueError("the float64 reference (use_numba=False) trains in memory only: X.compute() first")
        return DaskData(X)

    def _batch_step(self, weights, pass_, grid, sigma, learning_rate, box):
        if not self.use_numba:
            h = neighborhood_weights(grid.distances, sigma, self.neighborhood, self.cutoff)
            weights[:] = reference.batch_step(pass_.data, weights, pass_.first, h, learning_rate)
            return
        if pass_.known is not None:
            self._masked_batch_step(weights, pass_, grid, sigma, learning_rate, box)
            return
        values = np.column_stack([pass_.sums, pass_.counts])
        if has_surround(self.neighborhood):
            # The centre's and the surround's sums apart, the surround scaled down (see reference.batch_step).
            centre, surround = self._smooth_parts(grid, sigma, values)
            smoothed = centre - surround_scale(centre[:, -1], surround[:, -1])[:, None] * surround
        else:
            smoothed = self._smooth(grid, sigma, values)
        kernels.damped_batch_step(weights, smoothed[:, :-1], smoothed[:, -1], learning_rate, *box)

    def _masked_batch_step(self, weights, pass_, grid, sigma, learning_rate, box):
        """The batch step for data with missing values (``reference.masked_batch_step``):
        the sums and the known counts of every (unit, feature) are smoothed together, and
        each feature's target is its own neighbourhood-weighted mean of observed values."""
        d = weights.shape[1]
        values = np.hstack([pass_.sums, pass_.known])
        if has_surround(self.neighborhood):
            centre, surround = self._smooth_parts(grid, sigma, values)
            scale = surround_scale(centre[:, d:], surround[:, d:])
            numerator = centre[:, :d] - scale * surround[:, :d]
            denominator = centre[:, d:] - scale * surround[:, d:]
        else:
            smoothed = self._smooth(grid, sigma, values)
            numerator, denominator = smoothed[:, :d], smoothed[:, d:]
        kernels.damped_masked_batch_step(weights, np.ascontiguousarray(numerator), np.ascontiguousarray(denominator),
                                         learning_rate, *box)

    def _smooth(self, grid, sigma, values):
        """``H @ values`` for the neighbourhood matrix ``H`` at this sigma, (m, k)."""
        if neighborhood_code(self.neighborhood) == GAUSSIAN and self.cutoff is None:
            return gaussian_smooth(grid, sigma, values)
        return self._smooth_by_rows(grid, sigma, values, parts=False)[0]

    def _smooth_parts(self, grid, sigma, values):
        """``C @ values`` and ``N @ values`` for the positive and negative parts of ``H``,
        ``H = C - N``, both (m, k)."""
        return self._smooth_by_rows(grid, sigma, values, parts=True)

    def _smooth_by_rows(self, grid, sigma, values, parts: bool) -> tuple[np.ndarray, ...]:
        """``H @ values`` (with ``parts``: ``C @ values`` and ``N @ values``) without
        forming ``H`` whole, which is (m, m): 800 MB for a 100 x 100 map. Blocks of its
        rows are filled and multiplied, spread over the lanes."""
        code = neighborhood_code(self.neighborhood)
        m = grid.n_units
        values = np.ascontiguousarray(values, dtype=np.float64)
        outputs = tuple(np.empty((m, values.shape[1])) for _ in range(2 if parts else 1))
        block = max(1, min(m, SMOOTH_BLOCK_ELEMENTS // m))
        starts = range(0, m, block)
        lanes = min(LANES, len(starts)) if m * m >= PARALLEL_MIN_ELEMENTS else 1

        def smooth_lane(lane: int):
            rows = np.empty((block, m))
            for start in starts[lane::lanes]:
                stop = min(m, start + block)
                h = rows[: stop - start]
                kernels.neighborhood_matrix(grid.positions, start, *grid.period, grid.toroidal, sigma, code,
                                            self.cutoff or 0.0, h)
                if parts:
                    centre = np.maximum(h, 0.0)
                    surround = np.subtract(centre, h, out=h)
                    np.matmul(centre, values, out=outputs[0][start:stop])
                    np.matmul(surround, values, out=outputs[1][start:stop])
                else:
                    np.matmul(h, values, out=outputs[0][start:stop])

        run_lanes(smooth_lane, lanes)
        return outputs

    def _online_epoch(self, data, weights, order, grid, sigma, learning_rate, box, pass_):
        if not self.use_numba:
            weights[:] = reference.online_epoch(data, weights, order, grid.distances, sigma, learning_rate,
                                                self.neighborhood, self.cutoff, self.metric, self.p)
            return
        if has_surround(self.neighborhood):
            # The batch step's cap, from the winners of the pass before the epoch (see reference.online_epoch).
            centre, surround = self._smooth_parts(grid, sigma, pass_.counts[:, None])
            scale = surround_scale(centre[:, 0], surround[:, 0])
        else:
            scale = np.ones(grid.n_units)
        keep_rows = grid.n_units**2 * 8 <= ONLINE_ROWS_BYTES
        kernels.online_epoch(data, weights, order, grid.positions, *grid.period, grid.toroidal, sigma,
                             learning_rate, neighborhood_code(self.neighborhood), self.cutoff or 0.0,
                             metric_code(self.metric, self.p), float(self.p), *box, keep_rows, scale)

    # ------------------------------------------------------------------ using a trained map

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise _not_fitted_error("this SOM is not trained yet: call fit(X) or load() first")

    def _flat_weights(self) -> np.ndarray:
        return np.ascontiguousarray(self.weights_.reshape(-1, self.weights_.shape[-1]))

    def _check_input(self, X) -> np.ndarray:
        """``X`` for the trained map, as ``_check_data`` gives it, once its feature names
        are checked against those seen by ``fit`` as scikit-learn checks them."""
        self._check_fitted()
        _check_feature_names(self, X)
        return _check_data(X, self.n_features_in_, min_samples=1)

    def _search(self, X) -> BMUPass:
        search = BMUSearch(self._check_input(X), self.grid, self.metric, float(self.p), self.dtype, self.use_numba)
        return search.run(self._flat_weights())

    def match(self, X) -> BMUPass:
        """One pass over ``X``: each sample's best-matching unit and its distance, the
        samples each unit wins, the topographic error, all at once (``bmus``,
        ``anomaly_scores``, ``activation_map`` and ``topographic_error`` each run one)."""
        return self._search(X)

    @classmethod
    def from_weights(cls, weights, **params) -> SOM:
        """A map with these ``weights`` (width, height, features), as if trained: a stored
        snapshot read back, to be searched and measured."""
        som = cls(**params)
        som._validate_params()
        weights = np.array(weights, dtype=np.float64)
        if weights.ndim != 3 or weights.shape[:2] != som.grid.shape:
            raise ValueError(f"weights of shape {weights.shape} do not fit a {som.width} x {som.height} grid")
        som.weights_, som.n_features_in_ = weights, weights.shape[-1]
        som.mqe_history_, som.te_history_ = [], []
        return som

    def bmus(self, X) -> np.ndarray:
        """Flat index of each sample's best-matching unit (unit ``x * height + y``)."""
        return self._search(X).first

    def quantization_error(self, X) -> float:
        """Mean distance from each sample to its best-matching unit, under the metric."""
        return self._search(X).mqe

    def anomaly_scores(self, X) -> np.ndarray:
        """Distance of each sample to its best-matching unit: large means unlike the training data."""
        return self._search(X).distance

    def topographic_error(self, X) -> float:
        """Share of samples whose first and second best units are not grid neighbours."""
        return self._search(X).topographic_error

    def explained_variance(self, X, *, match: BMUPass | None = None) -> float:
        """Share of the data's variance the map's prototypes account for, in percent:
        100 - 100 x (squared distance of the samples to their best units' prototypes) /
        (squared distance of the samples to their mean), as aweSOM gives it. Distances
        are squared euclidean whatever the metric (the best units are the metric's);
        a sample with missing values counts over its observed features. ``match``, this
        map's ``match(X)`` when the caller has it, spares a pass over ``X``."""
        pass_ = self._search(X) if match is None else match
        residual = pass_.data - self._flat_weights()[pass_.first]
        spread = pass_.data - np.nanmean(pass_.data, axis=0)
        total = float(np.nansum(spread**2))
        if total == 0.0:
            return 100.0
        return 100.0 - 100.0 * float(np.nansum(residual**2)) / total

    def kaski_lagus_error(self, X, *, block_rows: int = 8192) -> float:
        """Kaski and Lagus' (1996) combined error: per sample, the euclidean distance to
        its best unit's prototype plus the shortest path from that unit to its second-best
        along grid neighbours, each step costing the euclidean distance between the two
        prototypes; the mean over the samples. Fit and topology in one number: a sample
        whose two best units are far apart on a folded map costs the length of the fold.
        The best and second-best units are the metric's; missing values as in
        ``explained_variance``."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        data = self._check_input(X)
        weights = self._flat_weights()
        grid = self.grid
        first = np.empty(len(data), dtype=np.int64)
        second = np.empty(len(data), dtype=np.int64)
        for start in range(0, len(data), block_rows):
            block = unit_distances(data[start : start + block_rows], weights, self.metric, float(self.p),
                                   self.dtype, self.use_numba)
            # Two argmins cost far less than one argpartition of each row.
            best = np.argmin(block, axis=1)
            block[np.arange(len(block)), best] = np.inf
            first[start : start + block_rows] = best
            second[start : start + block_rows] = np.argmin(block, axis=1)
        indptr, indices = grid.neighbor_lists
        sources = np.repeat(np.arange(grid.n_units), np.diff(indptr))
        steps = np.linalg.norm(weights[sources] - weights[indices], axis=1)
        # A zero-length step would read as no edge in a sparse matrix: the smallest positive.
        graph = csr_matrix((np.maximum(steps, np.finfo(np.float64).tiny), indices, indptr),
                           shape=(grid.n_units, grid.n_units))
        # Two neighbours' shortest path is their edge (no path is shorter than the straight
        # line between its ends): only the others need a search, from their best units alone.
        adjacent = grid.adjacency[first, second]
        paths = np.linalg.norm(weights[first] - weights[second], axis=1)
        if not adjacent.all():
            starts, inverse = np.unique(first[~adjacent], return_inverse=True)
            paths[~adjacent] = dijkstra(graph, directed=False, indices=starts)[inverse.reshape(-1), second[~adjacent]]
        fit = np.sqrt(np.nansum((data - weights[first]) ** 2, axis=1))
        return float(np.mean(fit + paths))

    def activation_map(self, X) -> np.ndarray:
        """How many samples each unit wins, int64 (width, height)."""
        return self._search(X).counts.astype(np.int64).reshape(self.grid.shape)

    def dead_units(self, X) -> int:
        """How many units win no sample of ``X``."""
        return int((self.activation_map(X) == 0).sum())

    def topographic_product(self) -> float:
        """Bauer and Pawelzik's topographic product (``quality.topographic_product``) of the
        map, prototype distances under the metric: 0 for a map whose grid and prototype
        neighbourhoods agree, below 0 folded, above 0 stretched; NaN where two prototypes
        coincide."""
        self._check_fitted()
        weights = self._flat_weights()
        weight_distances = unit_distances(weights, weights, self.metric, float(self.p), "float64", self.use_numba)
        return topographic_product(weights, self.grid.distances, weight_distances.astype(np.float64))

    def trustworthiness(self, X, k: int = 5, *, max_samples: int = 5000, seed: int = 0) -> float:
        """Venna and Kaski's trustworthiness of the map as a projection of ``X`` onto its
        grid (each sample at its best unit; see ``quality.rank_errors``), at ``k``
        neighbours, on at most ``max_samples`` rows drawn with ``seed``."""
        return self._rank_errors(X, k, max_samples, seed)[0]

    def neighbourhood_preservation(self, X, k: int = 5, *, max_samples: int = 5000, seed: int = 0) -> float:
        """Venna and Kaski's neighbourhood preservation (their continuity) of the map as a
        projection of ``X``: the share of each sample's k nearest samples that stay near
        it on the grid, weighted by how far they move (see ``quality.rank_errors``)."""
        return self._rank_errors(X, k, max_samples, seed)[1]

    def quality(self, X, k: int = 5, *, max_samples: int = 5000, seed: int = 0) -> dict[str, float]:
        """The map's quality on ``X`` in one dict: ``mqe``, ``topographic_error``,
        ``explained_variance`` (percent), ``kaski_lagus_error``, ``topographic_product``,
        ``trustworthiness`` and ``neighbourhood_preservation`` (at ``k``, on at most
        ``max_samples`` rows) and ``dead_units``."""
        match = self.match(X)
        trust, preservation = self._rank_errors(X, k, max_samples, seed)
        return {
            "mqe": match.mqe,
            "topographic_error": match.topographic_error,
            "explained_variance": self.explained_variance(X, match=match),
            "kaski_lagus_error": self.kaski_lagus_error(X),
            "topographic_product": self.topographic_product(),
            "trustworthiness": trust,
            "neighbourhood_preservation": preservation,
            "dead_units": int((match.counts == 0).sum()),
        }

    def _rank_errors(self, X, k: int, max_samples: int, seed: int) -> tuple[float, float]:
        """Trustworthiness and neighbourhood preservation of the map as a projection: the
        data's distances under the metric against the grid distances of the samples' best
        units. Samples with missing values are left out (a distance between two samples
        with gaps in other features has no common scale); so are rows past
        ``max_samples``, drawn at random with ``seed``."""
        data = self._check_input(X)
        data = data[~np.isnan(data).any(axis=1)]
        if len(data) > max_samples:
            data = data[np.sort(np.random.default_rng(seed).choice(len(data), max_samples, replace=False))]
        if not 1 <= k < len(data) / 2:
            raise ValueError(f"k must be at least 1 and below half the complete samples used ({len(data)}), got {k}")
        bmus = self._search(data).first
        grid = self.grid

        def input_rows(start: int, stop: int) -> np.ndarray:
            block = unit_distances(data[start:stop], data, self.metric, float(self.p), "float64", self.use_numba)
            return block.astype(np.float64)

        def output_rows(start: int, stop: int) -> np.ndarray:
            return grid.distances_from(bmus[start:stop])[:, bmus]

        return rank_errors(len(data), k, input_rows, output_rows)

    # ------------------------------------------------------------------ scikit-learn's names

    def predict(self, X) -> np.ndarray:
        """Flat index of each sample's best-matching unit, int64 (n,): ``bmus``."""
        return self._search(X).first

    def transform(self, X) -> np.ndarray:
        """Distance from each sample to every unit under the metric, (n, width * height) in
        ``dtype`` (float32 by default); column ``x * height + y`` is unit (x, y), and each
        row's arg-min is the sample's best-matching unit up to ``dtype``'s rounding. A
        sample with missing values (NaN) gets its distances over its observed features,
        as the best-matching-unit search measures them (see the class docstring)."""
        data = self._check_input(X)
        return unit_distances(data, self._flat_weights(), self.metric, float(self.p), self.dtype, self.use_numba)

    def fit_predict(self, X, y=None, *, epochs: int | None = None) -> np.ndarray:
        """``fit`` then ``predict`` on the same samples; ``y`` is ignored."""
        return self.fit(X, epochs=epochs).predict(X)

    def fit_transform(self, X, y=None, *, epochs: int | None = None) -> np.ndarray:
        """``fit`` then ``transform`` on the same samples; ``y`` is ignored."""
        return self.fit(X, epochs=epochs).transform(X)

    def score(self, X, y=None) -> float:
        """Minus the quantization error on ``X``: higher is better, as scikit-learn's model
        selection expects of a score; ``y`` is ignored."""
        return -self.quantization_error(X)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "weights_")

    def __sklearn_tags__(self):
        # scikit-learn (1.6 and later) asks an estimator for its tags through this method.
        # It imports scikit-learn here, when scikit-learn itself is asking, so that the
        # engine neither imports nor subclasses anything of scikit-learn's.
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(estimator_type="clusterer", target_tags=TargetTags(required=False),
                    transformer_tags=TransformerTags(preserves_dtype=[self.dtype]),
                    input_tags=InputTags(allow_nan=True))

    def u_matrix(self) -> np.ndarray:
        """Mean distance from each unit to its grid neighbours (4 on square, 6 on hex), (width, height)."""
        self._check_fitted()
        weights = self._flat_weights()
        grid = self.grid
        if self.use_numba:
            indptr, indices = grid.neighbor_lists
            values = np.empty(grid.n_units)
            kernels.u_matrix(weights, indptr, indices, metric_code(self.metric, self.p), float(self.p), values)
        else:
            values = reference.u_matrix(weights, grid, self.metric, self.p)
        return values.reshape(grid.shape)

    def unit_errors(self, X, kind: str = "mqe") -> np.ndarray:
        """Per-unit error of the samples each unit wins, float64 (width, height).

        mqe: mean distance under the metric; mae, mse, rmse: over all features of those
        samples (a sample with missing values: over its observed features); mape: mean of
        |x - w| / |x| in percent, over the non-zero observed features. Units that win
        nothing are NaN, not 0.
        """
        check_name(kind, UNIT_ERRORS, "kind", "values")
        pass_ = self._search(X)
        weights = self._flat_weights()
        m = self.grid.n_units
        if kind == "mqe":
            per_sample = pass_.distance
        else:
            residual = np.abs(pass_.data - weights[pass_.first])
            if kind == "mape":
                magnitude = np.abs(pass_.data)
                nonzero = magnitude > 0
                ratio = np.divide(residual, magnitude, out=np.zeros_like(residual), where=nonzero)
                totals = np.bincount(pass_.first, ratio.sum(axis=1), minlength=m)
                counts = np.bincount(pass_.first, nonzero.sum(axis=1), minlength=m)
                with np.errstate(invalid="ignore", divide="ignore"):
                    return (100.0 * totals / np.where(counts > 0, counts, np.nan)).reshape(self.grid.shape)
            if kind != "mae":
                residual = residual**2
            # Complete data keeps the plain mean; NaN residuals are the missing values.
            per_sample = np.nanmean(residual, axis=1) if pass_.known is not None else residual.mean(axis=1)
        totals = np.bincount(pass_.first, per_sample, minlength=m)
        counts = np.bincount(pass_.first, minlength=m).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = totals / np.where(counts > 0, counts, np.nan)
        if kind == "rmse":
            means = np.sqrt(means)
        return means.reshape(self.grid.shape)

    # ------------------------------------------------------------------ persistence

    def save(self, path, *, metadata: dict | None = None) -> None:
        """Write configuration (JSON) and arrays to one ``.npz`` file (a path, or a binary
        file object); no pickle involved.

        A ``numpy.random.Generator`` seed cannot be written down: it is saved as None.
        ``feature_names_in_``, where the map has them, goes into the JSON, and so does
        ``metadata`` (what else travels with the map, such as a table's scaler), which
        ``load`` gives back as ``metadata_``.
        """
        self._check_fitted()
        params = {name: _json_value(value) for name, value in self.get_params().items()}
        config = {"format": _FORMAT_VERSION, "params": params}
        if hasattr(self, "feature_names_in_"):
            config["feature_names"] = self.feature_names_in_.tolist()
        if metadata is not None:
            config["metadata"] = metadata
        arrays = dict(config=np.array(json.dumps(config)), weights=self.weights_,
                      mqe_history=np.asarray(self.mqe_history_, dtype=np.float64),
                      te_history=np.asarray(self.te_history_, dtype=np.float64))
        if hasattr(path, "write"):
            np.savez(path, **arrays)
            return
        with open(path, "wb") as stream:
            np.savez(stream, **arrays)

    @classmethod
    def load(cls, path) -> SOM:
        """Read a map written by ``save`` (a path, or a binary file object); anything else,
        weights that are not all finite among it, raises ``ValueError``.

        A parameter the file does not hold (``epochs``, in files from before it was one)
        takes its default.
        """
        try:
            with np.load(path if hasattr(path, "read") else os.fspath(path), allow_pickle=False) as arrays:
                config = json.loads(str(arrays["config"]))
                weights = np.array(arrays["weights"], dtype=np.float64)
                mqe_history, te_history = arrays["mqe_history"], arrays["te_history"]
            if not isinstance(config, dict) or not isinstance(config.get("params"), dict):
                raise ValueError("its configuration is not a JSON object with params")
            if config.get("format") != _FORMAT_VERSION:
                raise ValueError(f"format {config.get('format')!r}; this version reads {_FORMAT_VERSION}")
            unknown = set(config["params"]) - set(cls._get_param_names())
            if unknown:
                raise ValueError(f"unknown parameters {sorted(unknown)}")
            som = cls(**config["params"])
            som._validate_params()
            if weights.ndim != 3 or weights.shape[:2] != som.grid.shape:
                raise ValueError(f"weights of shape {weights.shape} do not fit a {som.width} x {som.height} grid")
            if not np.isfinite(weights).all():
                raise ValueError("its weights are not all finite")
            feature_names = config.get("feature_names")
            if feature_names is not None and not (
                    isinstance(feature_names, list) and len(feature_names) == weights.shape[-1]
                    and all(isinstance(name, str) for name in feature_names)):
                raise ValueError(f"feature_names must be a list of {weights.shape[-1]} strings, got {feature_names!r}")
            metadata = config.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                raise ValueError("its metadata is not a JSON object")
        except Exception as error:  # np.load alone raises OSError, EOFError, TypeError, KeyError, ...
            source = "the file" if hasattr(path, "read") else path
            raise ValueError(f"{source} is not a saved ZSOM map: {error}") from error
        som.weights_ = weights
        som.n_features_in_ = weights.shape[-1]
        if feature_names is not None:
            som.feature_names_in_ = np.asarray(feature_names, dtype=object)
        if metadata is not None:
            som.metadata_ = metadata
        som.mqe_history_, som.te_history_ = mqe_history.tolist(), te_history.tolist()
        return som

    def __repr__(self) -> str:
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if name not in ("width", "height") and value != _DEFAULTS.get(name)]
        return f"SOM({', '.join([str(self.width), str(self.height), *changed])})"


_DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(SOM.__init__).parameters.items()
             if parameter.default is not inspect.Parameter.empty}


def _json_value(value):
    """A parameter as JSON holds it: NumPy scalars become Python numbers, and a Generator
    seed, whose state cannot be written down, becomes None."""
    if isinstance(value, np.random.Generator):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _check_resume(snapshot, grid: Grid, n_features: int, epochs: int) -> int:
    """The epoch a run resumed from ``snapshot`` starts after, or a ``ValueError`` saying why
    it cannot go on here."""
    if not isinstance(snapshot, Snapshot):
        raise TypeError(f"resume_from must be a Snapshot (as iter_fit yields them), got {type(snapshot).__name__}")
    expected = (grid.width, grid.height, n_features)
    shape = np.shape(snapshot.weights)
    if shape != expected:
        raise ValueError(f"resume_from holds a map of shape {shape} (width, height, features), but this SOM is "
                         f"{grid.width}x{grid.height} and X has {_count(n_features, 'feature')}: a run goes on only "
                         "on a map of its own size, with data of as many features")
    epoch = snapshot.epoch
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ValueError(f"resume_from.epoch must be an integer >= 0, got {epoch!r}")
    if epoch >= epochs:
        raise ValueError(f"resume_from is the map after epoch {epoch}, and a run of {_count(epochs, 'epoch')} has "
                         f"nothing left to train from there: ask for more than {epoch} epochs")
    if not np.all(np.isfinite(snapshot.weights)):
        raise ValueError("resume_from's weights are not all finite")
    return int(epoch)


def _generator_from(snapshot: Snapshot, som: SOM) -> np.random.Generator:
    """The random generator as the snapshot left it. Without its state (a snapshot made by
    hand), the batch algorithm, which draws nothing after initialisation, starts a fresh
    one from ``seed``; the online algorithm cannot go on exactly and raises."""
    state = snapshot.rng_state
    if state is None:
        if som.algorithm == "online":
            raise ValueError("resume_from has no rng_state, which the online algorithm needs to go on: resume from "
                             "a snapshot that iter_fit yielded")
        return np.random.default_rng(som.seed)
    kind = getattr(np.random, str(state.get("bit_generator")), None)
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f"resume_from.rng_state names no NumPy bit generator: {state.get('bit_generator')!r}")
    bit_generator = kind()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _check_epochs(epochs) -> int:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    return int(epochs)


def _not_fitted_error(message: str) -> ValueError:
    """scikit-learn's ``NotFittedError`` where scikit-learn is loaded, a plain ``ValueError``
    elsewhere: scikit-learn's meta-estimators and checks catch their own class (a
    ``ValueError`` too), and the engine must not import scikit-learn to raise it."""
    exceptions = sys.modules.get("sklearn.exceptions")
    return (exceptions.NotFittedError if exceptions is not None else ValueError)(message)


def _feature_names(X) -> np.ndarray | None:
    """The column names of a data frame (pandas, polars: anything with ``columns`` and a
    ``shape``), as scikit-learn reads them: an object array when all are strings, None when
    none are (a frame's default integer labels), ``TypeError`` for a mix."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape"):
        return None
    names = np.asarray(list(columns), dtype=object)
    is_string = [isinstance(name, str) for name in names]
    if names.size and all(is_string):
        return names
    if any(is_string):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(f"feature names are kept and checked only when all are strings, but X has column names of "
                        f"types {kinds}: make them all strings, X.columns = X.columns.astype(str), or none")
    return None


def _set_feature_names(som: SOM, names: np.ndarray | None) -> None:
    """Record the names ``fit`` saw; a fit on data without them forgets those of a fit before."""
    if names is not None:
        som.feature_names_in_ = names
    elif hasattr(som, "feature_names_in_"):
        del som.feature_names_in_


def _check_feature_names(som: SOM, X) -> None:
    """scikit-learn's rule for data given to a trained estimator: a warning where only one
    of fit's data and ``X`` has feature names, a ``ValueError`` where their names differ."""
    fitted = getattr(som, "feature_names_in_", None)
    given = _feature_names(X)
    if fitted is None and given is None:
        return
    name = type(som).__name__
    if fitted is None or given is None:
        message = (f"X has feature names, but {name} was fitted without feature names" if fitted is None
                   else f"X does not have valid feature names, but {name} was fitted with feature names")
        warnings.warn(message, UserWarning, stacklevel=_stacklevel_outside_engine())
        return
    if len(fitted) == len(given) and np.all(fitted == given):
        return
    message = "The feature names should match those that were passed during fit.\n"
    unseen, missing = sorted(set(given) - set(fitted)), sorted(set(fitted) - set(given))
    for title, names in (("Feature names unseen at fit time:", unseen),
                         ("Feature names seen at fit time, yet now missing:", missing)):
        if names:
            message += title + "\n" + "".join(f"- {feature}\n" for feature in names[:5])
            message += "- ...\n" if len(names) > 5 else ""
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit.\n"
    raise ValueError(message)


def _stacklevel_outside_engine() -> int:
    """The ``stacklevel`` that points a warning at the first caller outside this module,
    however many of the estimator's own methods lie between."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _check_data(X, n_features: int | None = None, min_samples: int = 2) -> np.ndarray:
    """The samples as a C-contiguous float64 (n, d) array, or an error saying what is wrong:
    ``TypeError`` for what is not an array of numbers at all (a sparse matrix, objects that
    are neither numbers nor strings), ``ValueError`` for the rest. Messages carry the
    phrases scikit-learn's checks look for."""
    scipy_sparse = sys.modules.get("scipy.sparse")  # a sparse matrix can exist only once scipy is loaded
    if scipy_sparse is not None and scipy_sparse.issparse(X):
        raise TypeError("X is a sparse matrix, and a SOM needs dense data: convert it with X.toarray()")
    try:
        data = np.asarray(X)
        if data.dtype.kind != "c":
            data = data.astype(np.float64, copy=False)
    except TypeError as error:
        raise TypeError(f"X must be a numeric array of shape (n_samples, n_features): {error}") from error
    except ValueError as error:
        raise ValueError(f"X must be a numeric array of shape (n_samples, n_features): {error}") from error
    if data.dtype.kind == "c":
        raise ValueError("Complex data not supported: give the real part, or the real and imaginary parts as "
                         "separate features")
    if data.ndim == 1 and n_features == 1:
        data = data[:, None]
    if data.ndim == 1:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {data.shape}. Reshape your "
                         "data: X.reshape(-1, 1) if it has a single feature, X.reshape(1, -1) if it is one sample")
    if data.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got an array of shape {data.shape}")
    if n_features is not None and data.shape[1] != n_features:
        raise ValueError(f"X has {data.shape[1]} features, but SOM is expecting {n_features} features as input")
    if data.shape[1] < 1:
        raise ValueError(f"X has 0 feature(s) (shape={data.shape}) while a minimum of 1 is required.")
    if len(data) < min_samples:
        raise ValueError(f"X needs at least {_count(min_samples, 'sample')}, got {_count(len(data), 'sample')}")
    infinite_rows = np.isinf(data).any(axis=1)
    if infinite_rows.any():
        raise ValueError(f"X has {int(infinite_rows.sum())} row(s) with infinite values "
                         f"(first at row {int(np.argmax(infinite_rows))}); drop or impute them first "
                         "(NaN marks a missing value, which a SOM handles)")
    empty_rows = np.isnan(data).all(axis=1)
    if empty_rows.any():
        raise ValueError(f"X has {int(empty_rows.sum())} row(s) with no observed value, all NaN "
                         f"(first at row {int(np.argmax(empty_rows))}); drop them: a sample needs at least one "
                         "observed feature")
    return np.ascontiguousarray(data)


def _check_features_observed(data: np.ndarray) -> None:
    """Training needs every feature observed somewhere: a unit's weight for a feature that
    no sample has would have nothing to learn from, nor to start from."""
    unobserved = np.flatnonzero(np.isnan(data).all(axis=0))
    if len(unobserved):
        shown = ", ".join(str(k) for k in unobserved[:5]) + (", ..." if len(unobserved) > 5 else "")
        raise ValueError(f"X has {_count(len(unobserved), 'feature')} with no observed value, all NaN "
                         f"(column {shown}); drop them before fit")
