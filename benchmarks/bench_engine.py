"""ZSOM's engine against MiniSom and XPySom (CPU) on five batch-SOM workloads.

    .venv/bin/python benchmarks/bench_engine.py            # everything (several minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick    # fewer repeats, no MiniSom on the two biggest
    .venv/bin/python benchmarks/bench_engine.py --only bunny,zsom   # workloads and/or libraries
    .venv/bin/python benchmarks/bench_engine.py --only variants     # zsom's metric and algorithm table alone
    .venv/bin/python benchmarks/bench_engine.py --only missing      # zsom with 10 % missing values, alone

Every (library, workload) run happens in a fresh subprocess, so its peak resident memory
(``VmHWM``; ``ru_maxrss`` would inherit the parent's across fork and exec) is its own:
interpreter, library, the data and the training. The parent builds each workload's data
once (``_workloads.make_data``) and hands the same array to every library; it then
measures each library's final weights the same way
(``_workloads.map_quality``): MQE is the mean euclidean distance to the best-matching
unit, the topographic error counts best-two pairs that are not 4-neighbours.

Schedule asked of every library: PCA initialisation, gaussian neighbourhood, sigma from
max(w, h) / 2 linearly to 1 at the last epoch, plain batch update (learning rate 1).
What each library is given, and where it cannot match that, is printed with the table
(``LIBRARY_NOTES``). s/epoch is the wall time of initialisation plus training, divided
by the epochs trained; zsom is timed after a warm-up fit in the same process (Numba's
compile or cache load excluded) and reported as the median of several fits.

A second table (``variants``) compares zsom with itself on the bunny, all in one fresh
process: the batch algorithm under euclidean and under minkowski at p = 2, 3 and 1.5,
and the online algorithm, each against batch euclidean. Their fits take turns, so that
a change in the machine's load falls on every variant alike.

A third (``missing``) prices missing values: the 64-D mixture (``gmm64``, 50,000 x 64,
40x40, batch, the schedule above) with 10 % of its entries set to NaN at random against
the same data complete, in one fresh process, the two fits taking turns. Nearly every
row has a gap then (1 - 0.9^64 of them), so the time is that of the masked search's
rows, not of a few; the ratio of the two s/epoch is held to ``MISSING_TARGET``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _workloads import ROOT, WORKLOADS, Workload, make_data, map_quality, threadpool_report, zsom_digest  # noqa: E402

LIBRARIES = ("zsom", "minisom", "minisom-batch", "xpysom")
MQE_TOLERANCE = 0.02  # zsom's final MQE may exceed the best peer's by at most 2 %

LIBRARY_NOTES = {
    "zsom": "SOM(w, h, init='pca', neighborhood='gaussian', decay='linear', sigma=max(w,h)/2, sigma_end=1, "
            "learning_rate=1, learning_rate_end=1, algorithm='batch', dtype='float32', seed=0).fit(X, epochs=epochs). "
            "Timed: fit() (PCA init, one BMU pass per epoch plus one before the first).",
    "minisom": "MiniSom 2.3.6 online (Kohonen, one update per sample): MiniSom(w, h, d, sigma=max(w,h)/2, "
               "learning_rate=0.5, decay_function='linear_decay_to_zero', sigma_decay_function="
               "'linear_decay_to_one', neighborhood_function='gaussian', topology='rectangular', random_seed=0); "
               "pca_weights_init(X); train(X, epochs*n, random_order=True). Sigma decays per sample "
               "(to 1 at the last sample); the online rule needs a learning rate < 1, so 0.5 linearly to 0. "
               "Its PCA init spans +-1 along the unit principal axes around the mean, not the data's extent.",
    "minisom-batch": "MiniSom 2.3.6 train_batch_offline (Kohonen's batch SOM, loops over samples in Python): "
                     "learning rate held at 1 (decay_function=callable returning lr), sigma per epoch "
                     "sigma0 + (1 - sigma0) t/(T-1) (its 'linear_decay_to_one' stops at sigma0 + (1 - sigma0)(T-1)/T, "
                     "so the instance's _sigma_decay_function is replaced: private attribute). PCA init as above.",
    "xpysom": "XPySom 1.0.7 batch, xp=numpy (CPU, float32): XPySom(w, h, d, sigma=max(w,h)/2, sigmaN=1, "
              "learning_rate=1, learning_rateN=1, decay_function='linear', neighborhood_function='gaussian', "
              "std_coeff=1.0, topology='rectangular', random_seed=0, xp=numpy); pca_weights_init(X); train(X, epochs). "
              "std_coeff=1 makes its gaussian exp(-r^2 / 2 sigma^2) (its default 0.5 halves sigma). The learning rate "
              "cancels in its numerator/denominator update: plain batch SOM. Its PCA init takes rows, not columns, of "
              "the eigenvector matrix and does not add the data mean (a quirk of 1.0.7, used as is). BMUs from "
              "uncentred float32 ||w||^2 - 2 x.w.",
}


# ====================================================================== worker side


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """Peak resident memory of this process image: VmHWM, not ru_maxrss.

    Linux carries ru_maxrss across exec from the forked parent's image, so a worker's
    ru_maxrss can be the parent's size; VmHWM starts afresh with the exec'd program.
    """
    return _status_mb("VmHWM")


def _cpu_counters() -> tuple[float, float, float]:
    """(wall s, CPU seconds busy on the whole machine, CPU seconds used by this process)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK"), usage.ru_utime + usage.ru_stime


def _others_share(before, after) -> float:
    """Share of the machine's CPUs that other processes kept busy between two counter readings."""
    wall = after[0] - before[0]
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, others) / (wall * (os.cpu_count() or 1)) if wall > 0 else 0.0


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _sigma0(w: Workload) -> float:
    return max(w.width, w.height) / 2.0


def train_zsom(w: Workload, X: np.ndarray, epochs: int, repeats: int, extra: dict):
    start = time.perf_counter()
    from zsom_core import SOM

    extra["import_s"] = time.perf_counter() - start
    extra["rss_before_mb"] = _rss_mb()

    def make():
        return SOM(w.width, w.height, topology="square", init="pca", neighborhood="gaussian", decay="linear",
                   sigma=_sigma0(w), sigma_end=1.0, learning_rate=1.0, learning_rate_end=1.0,
                   algorithm="batch", dtype="float32", seed=0)

    # Warm-up on at most 2,048 rows: the same dtypes and code paths as the timed fits.
    warm = X[: min(len(X), 2048)]
    extra["warmup_first_s"] = _timed(lambda: make().fit(warm, epochs=2))
    extra["warmup_again_s"] = _timed(lambda: make().fit(warm, epochs=2))
    times = []
    for _ in range(repeats):
        som = make()
        times.append(_timed(lambda som=som: som.fit(X, epochs=epochs)))
    extra["own_mqe"] = float(som.mqe_history_[-1])
    extra["own_te"] = float(som.te_history_[-1])
    return np.asarray(som.weights_), times


def _minisom(w: Workload, d: int, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from minisom import MiniSom

        return MiniSom(w.width, w.height, d, sigma=_sigma0(w), neighborhood_function="gaussian",
                       topology="rectangular", activation_distance="euclidean", random_seed=0, **options)


def train_minisom(w: Workload, X: np.ndarray, epochs: int, repeats: int, extra: dict):
    _minisom(w, X.shape[1])
    extra["rss_before_mb"] = _rss_mb()
    times = []
    for _ in range(repeats):
        som = _minisom(w, X.shape[1], learning_rate=0.5, decay_function="linear_decay_to_zero",
                       sigma_decay_function="linear_decay_to_one")

        def run(som=som):  # bound now: ruff's B023 cannot see that it runs at once
            som.pca_weights_init(X)
            som.train(X, epochs * len(X), random_order=True)

        times.append(_timed(run))
    return np.asarray(som.get_weights()), times


def _constant_rate(learning_rate, t, max_iter):
    return learning_rate


def _linear_sigma_to_one(sigma, t, max_iter):
    return sigma + (1.0 - sigma) * t / (max_iter - 1) if max_iter > 1 else sigma


def train_minisom_batch(w: Workload, X: np.ndarray, epochs: int, repeats: int, extra: dict):
    _minisom(w, X.shape[1])
    extra["rss_before_mb"] = _rss_mb()
    times = []
    for _ in range(repeats):
        som = _minisom(w, X.shape[1], learning_rate=1.0, decay_function=_constant_rate,
                       sigma_decay_function="linear_decay_to_one")
        som._sigma_decay_function = _linear_sigma_to_one

        def run(som=som):  # bound now: ruff's B023 cannot see that it runs at once
            som.pca_weights_init(X)
            som.train_batch_offline(X, epochs)

        times.append(_timed(run))
    return np.asarray(som.get_weights()), times


def train_xpysom(w: Workload, X: np.ndarray, epochs: int, repeats: int, extra: dict):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # "CuPy could not be imported"
        warnings.simplefilter("ignore")
        from xpysom import XPySom

    extra["rss_before_mb"] = _rss_mb()
    times = []
    for _ in range(repeats):
        som = XPySom(w.width, w.height, X.shape[1], sigma=_sigma0(w), sigmaN=1.0, learning_rate=1.0,
                     learning_rateN=1.0, decay_function="linear", neighborhood_function="gaussian",
                     std_coeff=1.0, topology="rectangular", activation_distance="euclidean", random_seed=0, xp=np)

        def run(som=som):  # bound now: ruff's B023 cannot see that it runs at once
            som.pca_weights_init(X)
            som.train(X, epochs)

        times.append(_timed(run))
    extra["n_parallel"] = som._n_parallel
    return np.asarray(som.get_weights()), times


TRAINERS = {"zsom": train_zsom, "minisom": train_minisom, "minisom-batch": train_minisom_batch,
            "xpysom": train_xpysom}

# zsom against itself: (label, SOM keywords); each row's ratio is to the first row.
VARIANTS_TOKEN = "variants"
VARIANT_WORKLOAD = "bunny"
VARIANT_GRID = (30, 30, "hex")
VARIANTS = (
    ("batch euclidean", {}),
    ("batch minkowski p=2", {"metric": "minkowski", "p": 2.0}),
    ("batch minkowski p=3", {"metric": "minkowski", "p": 3.0}),
    ("batch minkowski p=1.5", {"metric": "minkowski", "p": 1.5}),
    ("online euclidean", {"algorithm": "online"}),
)


# zsom with missing values against the same data complete.
MISSING_TOKEN = "missing"
MISSING_WORKLOAD = "gmm64"
MISSING_SHARE = 0.10
MISSING_TARGET = 1.5  # s/epoch with missing values at most this many times the complete data's


def with_missing(X: np.ndarray, share: float, seed: int = 0) -> np.ndarray:
    """``X`` as float64 with ``share`` of its entries NaN, drawn independently (fixed by
    ``seed``); a row left with no observed value keeps its first feature."""
    rng = np.random.default_rng(seed)
    gaps = rng.random(X.shape) < share
    gaps[gaps.all(axis=1), 0] = False
    X = np.array(X, dtype=np.float64)
    X[gaps] = np.nan
    return X


def run_missing_worker(args) -> None:
    """Fits on the complete data and on the data with gaps, ``args.repeats`` rounds, taking turns."""
    from zsom_core import SOM

    w = WORKLOADS[MISSING_WORKLOAD]
    complete = np.asarray(np.load(args.data), dtype=np.float64)
    datasets = (("complete", complete), (f"{MISSING_SHARE:.0%} missing", with_missing(complete, MISSING_SHARE)))

    def make():
        return SOM(w.width, w.height, topology="square", init="pca", neighborhood="gaussian", decay="linear",
                   sigma=_sigma0(w), sigma_end=1.0, learning_rate=1.0, learning_rate_end=1.0,
                   algorithm="batch", dtype="float32", seed=0)

    for _label, X in datasets:  # warm-up: the masked kernels compile or load on their own
        make().fit(X[:2048], epochs=2)
    results = [{"label": label, "times": [], "cpu": [], "setup": [], "gaps": float(np.isnan(X).any(axis=1).mean())}
               for label, X in datasets]
    before = _cpu_counters()
    for _ in range(args.repeats):
        for result, (_label, X) in zip(results, datasets):
            # A fit of one epoch prices what every fit does once (checks, the search's
            # preparation, the PCA initialisation), so that an epoch can be priced alone.
            start = time.perf_counter()
            make().fit(X, epochs=1)
            result["setup"].append(time.perf_counter() - start)
            som = make()
            start, cpu = time.perf_counter(), time.process_time()
            som.fit(X, epochs=args.epochs)
            result["times"].append(time.perf_counter() - start)
            result["cpu"].append(time.process_time() - cpu)
            result["mqe"] = float(som.mqe_history_[-1])
    Path(args.out).write_text(json.dumps({"runs": results, "others_cpu": _others_share(before, _cpu_counters())}))


def run_missing(scratch: Path, epochs: int, repeats: int, timeout: float) -> dict:
    X, source = make_data(MISSING_WORKLOAD)
    data_path, out = scratch / "missing.npy", scratch / "missing.json"
    np.save(data_path, np.ascontiguousarray(X))
    w = WORKLOADS[MISSING_WORKLOAD]
    print(f"\nzsom with missing values: X {X.shape} from {source}, {w.width}x{w.height}, {MISSING_SHARE:.0%} of the "
          f"entries NaN at random against none, {epochs} epochs x {repeats} fits each", flush=True)
    code, stderr = _spawn(["--missing-worker", "--data", str(data_path), "--epochs", str(epochs),
                           "--repeats", str(repeats), "--out", str(out)], timeout)
    if code != 0 or not out.exists():
        return {"error": stderr.splitlines()[-1] if stderr else f"exit {code}"}
    return {**json.loads(out.read_text()), "epochs": epochs, "repeats": repeats}


def missing_report(run: dict) -> str:
    if "error" in run:
        return f"zsom with missing values: FAILED: {run['error']}"
    epochs = run["epochs"]
    complete, gaps = run["runs"]
    wall = [statistics.median(r["times"]) / epochs for r in run["runs"]]
    cpu = [statistics.median(r["cpu"]) / epochs for r in run["runs"]]
    alone = [statistics.median(t - s for t, s in zip(r["times"], r["setup"])) / (epochs - 1) for r in run["runs"]]
    rows = [[r["label"], f"{r['gaps']:.1%}", _fmt_time(wall[i]), f"{wall[i] / wall[0]:.2f}x", _fmt_time(cpu[i]),
             f"{cpu[i] / cpu[0]:.2f}x", _fmt_time(alone[i]), f"{alone[i] / alone[0]:.2f}x", f"{r['mqe']:.4g}"]
            for i, r in enumerate(run["runs"])]
    ratio = alone[1] / alone[0]
    verdict = "PASS" if ratio <= MISSING_TARGET else "FAIL"
    header = ["data", "rows with a gap", "s/epoch", "vs complete", "CPU s/epoch", "CPU ratio", "epoch alone",
              "vs complete", "MQE (own)"]
    notes = (f"An epoch with {gaps['label']} costs {ratio:.2f}x the complete data's (fit with its setup "
             f"{wall[1] / wall[0]:.2f}x, CPU {cpu[1] / cpu[0]:.2f}x): {verdict} (target <= {MISSING_TARGET}x). "
             f"s/epoch: median over {run['repeats']} fits of (setup + {epochs} epochs) / {epochs}; epoch alone: "
             f"median of (that fit - a fit of 1 epoch) / {epochs - 1}; the fits take turns in one process; other "
             f"processes used {run['others_cpu']:.0%} of the CPUs. MQE (own): over each sample's observed features, "
             "rescaled.")
    return _table(rows, header) + "\n" + notes


def run_variants_worker(args) -> None:
    """Every variant's fits of ``args.epochs`` epochs, ``args.repeats`` rounds, taking turns."""
    from zsom_core import SOM

    X = np.load(args.data)
    width, height, topology = VARIANT_GRID

    def make(options):
        return SOM(width, height, topology=topology, init="pca", neighborhood="gaussian", seed=0, **options)

    for _label, options in VARIANTS:  # warm-up: each variant compiles or loads its own kernels
        make(options).fit(X[:2048], epochs=2)
    results = [{"label": label, "times": [], "cpu": []} for label, _ in VARIANTS]
    before = _cpu_counters()
    for _ in range(args.repeats):
        for result, (_label, options) in zip(results, VARIANTS):
            som = make(options)
            start, cpu = time.perf_counter(), time.process_time()
            som.fit(X, epochs=args.epochs)
            result["times"].append(time.perf_counter() - start)
            result["cpu"].append(time.process_time() - cpu)
            result["mqe"] = float(som.mqe_history_[-1])
    Path(args.out).write_text(json.dumps({"variants": results, "others_cpu": _others_share(before, _cpu_counters())}))


def run_worker(args) -> None:
    w = WORKLOADS[args.workload]
    X = np.load(args.data)
    extra: dict = {}
    before = _cpu_counters()
    weights, times = TRAINERS[args.worker](w, X, args.epochs, args.repeats, extra)
    extra["others_cpu"] = _others_share(before, _cpu_counters())
    np.save(args.weights, weights)
    result = {"times": times, "peak_mb": _peak_mb(), **extra}
    Path(args.out).write_text(json.dumps(result))


def run_cold_probe(args) -> None:
    """A fresh process: import zsom_core, then the first fit of the smallest workload, then again."""
    w = WORKLOADS["clusters2d"]
    X = np.load(args.data)
    start = time.perf_counter()
    from zsom_core import SOM

    import_s = time.perf_counter() - start

    def fit():
        SOM(w.width, w.height, sigma=_sigma0(w), sigma_end=1.0, learning_rate=1.0, learning_rate_end=1.0,
            seed=0).fit(X, epochs=w.epochs)

    first = _timed(fit)
    again = _timed(fit)
    Path(args.out).write_text(json.dumps({"import_s": import_s, "first_s": first, "again_s": again}))


# ====================================================================== parent side


def _spawn(arguments: list[str], timeout: float) -> tuple[int, str]:
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout:.0f} s"
    return done.returncode, (done.stderr or "").strip()[-2000:]


def run_one(lib: str, w: Workload, data_path: Path, X: np.ndarray, epochs: int, repeats: int,
            scratch: Path, timeout: float) -> dict:
    out, weights_path = scratch / f"{lib}-{w.name}.json", scratch / f"{lib}-{w.name}.npy"
    code, stderr = _spawn(["--worker", lib, "--workload", w.name, "--data", str(data_path), "--epochs", str(epochs),
                           "--repeats", str(repeats), "--out", str(out), "--weights", str(weights_path)], timeout)
    if code != 0 or not out.exists():
        return {"lib": lib, "error": stderr.splitlines()[-1] if stderr else f"exit {code}"}
    result = json.loads(out.read_text())
    mqe, te = map_quality(X, np.load(weights_path), w.width, w.height)
    times = result["times"]
    result.update(lib=lib, epochs=epochs, repeats=repeats, mqe=mqe, te=te,
                  s_per_epoch=statistics.median(times) / epochs,
                  full=epochs == w.epochs)
    return result


def run_variants(scratch: Path, epochs: int, repeats: int, timeout: float) -> dict:
    X, source = make_data(VARIANT_WORKLOAD)
    data_path, out = scratch / "variants.npy", scratch / "variants.json"
    np.save(data_path, np.ascontiguousarray(X))
    width, height, topology = VARIANT_GRID
    print(f"\nzsom variants: X {X.shape} from {source}, {width}x{height} {topology}, {epochs} epochs x {repeats} "
          "fits each", flush=True)
    code, stderr = _spawn(["--variants-worker", "--data", str(data_path), "--epochs", str(epochs),
                           "--repeats", str(repeats), "--out", str(out)], timeout)
    if code != 0 or not out.exists():
        return {"error": stderr.splitlines()[-1] if stderr else f"exit {code}"}
    return {**json.loads(out.read_text()), "epochs": epochs, "repeats": repeats}


def variants_report(run: dict) -> str:
    if "error" in run:
        return f"zsom variants: FAILED: {run['error']}"
    epochs = run["epochs"]
    rows = []
    peer = None
    for result in run["variants"]:
        wall = statistics.median(result["times"]) / epochs
        cpu = statistics.median(result["cpu"]) / epochs
        peer = peer or (wall, cpu)
        rows.append([result["label"], _fmt_time(wall), f"{wall / peer[0]:.2f}x", _fmt_time(cpu),
                     f"{cpu / peer[1]:.2f}x", f"{result['mqe']:.4g}"])
    header = ["variant", "s/epoch", f"vs {run['variants'][0]['label']}", "CPU s/epoch", "CPU ratio", "MQE (own)"]
    notes = (f"s/epoch: median over {run['repeats']} fits of (PCA initialisation + {epochs} epochs) / {epochs}, "
             "in one process, the variants' fits taking turns; CPU s/epoch: the same in process CPU time (all "
             f"threads), steadier on a shared machine; other processes used {run['others_cpu']:.0%} of the CPUs. "
             "MQE (own): the map's own measure under its metric.")
    return _table(rows, header) + "\n" + notes


def cold_start(data_path: Path, scratch: Path) -> list[dict]:
    probes = []
    for attempt in range(2):
        out = scratch / f"cold-{attempt}.json"
        code, stderr = _spawn(["--cold-probe", "--data", str(data_path), "--out", str(out)], 900)
        probes.append(json.loads(out.read_text()) if code == 0 and out.exists() else {"error": stderr})
    return probes


# ---------------------------------------------------------------------- table


def _fmt_time(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1e3:.3f} ms"
    if seconds < 10:
        return f"{seconds:.3f} s"
    return f"{seconds:.1f} s"


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(n) for c, n in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(header), "|" + "|".join("-" * (n + 2) for n in widths) + "|", *map(line, rows)])


def report(results: dict[str, list[dict]]) -> str:
    header = ["workload", "library", "epochs", "s/epoch", "vs zsom", "MQE", "MQE zsom/peer", "TE",
              "peak MB", "+train MB", "notes"]
    rows, verdicts = [], []
    for name, runs in results.items():
        w = WORKLOADS[name]
        zsom = next((r for r in runs if r["lib"] == "zsom" and "error" not in r), None)
        for r in runs:
            if "error" in r:
                rows.append([w.title, r["lib"], "", "failed", "", "", "", "", "", "", r["error"][:80]])
                continue
            notes = []
            if r["repeats"] > 1:
                notes.append(f"median of {r['repeats']}, min {_fmt_time(min(r['times']) / r['epochs'])}")
            if r["others_cpu"] >= 0.05:
                notes.append(f"other processes used {r['others_cpu']:.0%} of the CPUs")
            speed = mqe_ratio = ""
            if r["lib"] == "zsom":
                notes.append(f"own MQE {r['own_mqe']:.4g}")
            elif zsom:
                speed = f"{r['s_per_epoch'] / zsom['s_per_epoch']:.1f}x"
                if r["full"]:
                    mqe_ratio = f"{zsom['mqe'] / r['mqe']:.3f}"
            mqe = f"{r['mqe']:.4g}" if r["full"] else f"n/a ({r['epochs']} epoch)"
            te = f"{r['te']:.3f}" if r["full"] else "n/a"
            rows.append([w.title if r is runs[0] else "", r["lib"], r["epochs"], _fmt_time(r["s_per_epoch"]), speed,
                         mqe, mqe_ratio, te, f"{r['peak_mb']:.0f}", f"{r['peak_mb'] - r['rss_before_mb']:.0f}",
                         "; ".join(notes)])
        verdicts.append(_verdict(w, zsom, runs))
    floors = _table(verdicts, ["workload", "floor s/epoch", "zsom s/epoch", "speed", "best peer MQE",
                               "zsom MQE", "MQE within 2 %", "fastest peer"])
    return _table(rows, header) + "\n\n" + floors


def _verdict(w: Workload, zsom: dict | None, runs: list[dict]) -> list[str]:
    if zsom is None:
        return [w.title, _fmt_time(w.floor), "failed", "FAIL", "", "", "", ""]
    peers = [r for r in runs if r["lib"] != "zsom" and "error" not in r]
    full = [r for r in peers if r["full"]]
    best = min(full, key=lambda r: r["mqe"], default=None)
    fastest = min(peers, key=lambda r: r["s_per_epoch"], default=None)
    speed = "PASS" if zsom["s_per_epoch"] <= w.floor else f"FAIL ({zsom['s_per_epoch'] / w.floor:.2f}x floor)"
    if best is None:
        mqe_verdict, best_text = "n/a (no full peer run)", ""
    else:
        ratio = zsom["mqe"] / best["mqe"]
        mqe_verdict = ("PASS" if ratio <= 1 + MQE_TOLERANCE else "FAIL") + f" ({ratio - 1:+.2%})"
        best_text = f"{best['mqe']:.4g} ({best['lib']})"
    fastest_text = f"{fastest['lib']} {_fmt_time(fastest['s_per_epoch'])}" if fastest else ""
    return [w.title, _fmt_time(w.floor), _fmt_time(zsom["s_per_epoch"]), speed, best_text, f"{zsom['mqe']:.4g}",
            mqe_verdict, fastest_text]


# ---------------------------------------------------------------------- main


def _select(only: str | None) -> tuple[list[str], list[str], set[str]]:
    """Workloads, libraries and which of zsom's own tables run (``variants``, ``missing``);
    those tokens alone run only their tables."""
    tables = {VARIANTS_TOKEN, MISSING_TOKEN}
    if not only:
        return list(WORKLOADS), list(LIBRARIES), tables
    tokens = [t.strip() for t in only.split(",") if t.strip()]
    unknown = [t for t in tokens if t not in WORKLOADS and t not in LIBRARIES and t not in tables]
    if unknown:
        raise SystemExit(f"--only: unknown {', '.join(unknown)}; workloads: {', '.join(WORKLOADS)}; "
                         f"libraries: {', '.join(LIBRARIES)}; or {', '.join(sorted(tables))}")
    chosen = tables & set(tokens)
    tokens = [t for t in tokens if t not in tables]
    if chosen and not tokens:
        return [], [], chosen
    workloads = [t for t in tokens if t in WORKLOADS] or list(WORKLOADS)
    libraries = [t for t in tokens if t in LIBRARIES] or list(LIBRARIES)
    return workloads, libraries, chosen


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats; no MiniSom on the two biggest workloads")
    parser.add_argument("--only", metavar="NAMES",
                        help=f"comma-separated workloads ({', '.join(WORKLOADS)}) and/or libraries "
                             f"({', '.join(LIBRARIES)}); zsom always runs when a peer is compared; "
                             f"'{VARIANTS_TOKEN}' adds zsom's metric and algorithm table, '{MISSING_TOKEN}' its "
                             "table with missing values (alone: only those)")
    parser.add_argument("--variant-epochs", type=int, default=5, metavar="N",
                        help="epochs per fit in the variants table (default 5; 3 with --quick)")
    parser.add_argument("--missing-epochs", type=int, metavar="N",
                        help=f"epochs per fit in the missing-values table (default: {MISSING_WORKLOAD}'s, "
                             f"{WORKLOADS[MISSING_WORKLOAD].epochs})")
    parser.add_argument("--missing-repeats", type=int, default=3, metavar="N",
                        help="fits of each data set in the missing-values table (default 3; 2 with --quick)")
    parser.add_argument("--zsom-repeats", type=int, metavar="N",
                        help="zsom fits per workload (median reported); default 15, 7, 5, 5 (3 with --quick)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start probe")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per (library, workload) run")
    parser.add_argument("--json", metavar="PATH", help="also write the raw results here")
    # internal: one (library, workload) run in a fresh process
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--cold-probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variants-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--missing-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    if args.cold_probe:
        return run_cold_probe(args)
    if args.variants_worker:
        return run_variants_worker(args)
    if args.missing_worker:
        return run_missing_worker(args)

    workloads, libraries, tables = _select(args.only)
    if any(lib != "zsom" for lib in libraries) and "zsom" not in libraries:
        libraries.insert(0, "zsom")
    print(f"ZSOM engine benchmark: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"zsom_core sources {zsom_digest()}, {'quick' if args.quick else 'full'} run")
    for line in threadpool_report():
        print("  " + line)
    results: dict[str, list[dict]] = {}
    cold = None
    with tempfile.TemporaryDirectory(prefix="zsom-bench-") as tmp:
        scratch = Path(tmp)
        for name in workloads:
            w = WORKLOADS[name]
            X, source = make_data(name)
            X = np.ascontiguousarray(X)
            data_path = scratch / f"{name}.npy"
            np.save(data_path, X)
            print(f"\n{w.title}: X {X.shape} {X.dtype} from {source}", flush=True)
            results[name] = []
            for lib in libraries:
                if lib.startswith("minisom") and args.quick and not w.minisom_in_quick:
                    print(f"  {lib:14s} skipped (--quick)", flush=True)
                    continue
                epochs = w.minisom_epochs if lib.startswith("minisom") else w.epochs
                repeats = w.zsom_repeats if lib == "zsom" else w.peer_repeats
                if args.quick:
                    repeats = min(repeats, 3 if lib == "zsom" else 1)
                if lib == "zsom" and args.zsom_repeats:
                    repeats = args.zsom_repeats
                r = run_one(lib, w, data_path, X, epochs, repeats, scratch, args.timeout)
                results[name].append(r)
                if "error" in r:
                    print(f"  {lib:14s} FAILED: {r['error']}", flush=True)
                else:
                    print(f"  {lib:14s} {_fmt_time(r['s_per_epoch']):>10s}/epoch  MQE {r['mqe']:.4g}  "
                          f"TE {r['te']:.3f}  peak {r['peak_mb']:.0f} MB", flush=True)
            if name == "clusters2d" and "zsom" in libraries and not args.no_cold:
                cold = cold_start(data_path, scratch)
        variants = missing = None
        if VARIANTS_TOKEN in tables:
            epochs = min(args.variant_epochs, 3) if args.quick else args.variant_epochs
            variants = run_variants(scratch, epochs, 2 if args.quick else 3, args.timeout)
        if MISSING_TOKEN in tables:
            repeats = min(args.missing_repeats, 2) if args.quick else args.missing_repeats
            missing = run_missing(scratch, args.missing_epochs or WORKLOADS[MISSING_WORKLOAD].epochs, repeats,
                                  args.timeout)

    if variants:
        print("\n" + variants_report(variants))
    if missing:
        print("\n" + missing_report(missing))
    if not workloads:
        if args.json:
            Path(args.json).write_text(json.dumps({"variants": variants, "missing": missing}, indent=1, default=str))
        return
    print("\n" + report(results))
    print(f"\nfloors: s/epoch <= {', '.join(f'{WORKLOADS[n].floor:g}' for n in WORKLOADS)} "
          f"({', '.join(WORKLOADS)}); MQE criterion: zsom <= best full-schedule peer x {1 + MQE_TOLERANCE}")
    print("vs zsom: peer s/epoch / zsom s/epoch (how many times faster zsom is). MQE zsom/peer < 1: zsom's map is "
          "tighter. +train MB: peak RSS minus RSS after imports and data load.")
    print("s/epoch: (initialisation + training wall time) / epochs trained; MiniSom rows marked n/a trained "
          "fewer epochs (its whole schedule squeezed into them), so only their time is comparable.")
    zsom_runs = [(n, r) for n, runs in results.items() for r in runs if r.get("lib") == "zsom" and "error" not in r]
    if zsom_runs:
        print("zsom warm-up (first fit of <= 2,048 rows, 2 epochs, in each fresh worker; then the same fit again): "
              + "; ".join(f"{n} {r['warmup_first_s']:.2f} s then {r['warmup_again_s'] * 1e3:.1f} ms "
                          f"(import {r['import_s']:.2f} s)" for n, r in zsom_runs))
    if cold:
        parts = []
        for i, probe in enumerate(cold):
            if "error" in probe:
                parts.append(f"process {i + 1}: failed ({probe['error'][-200:]})")
            else:
                parts.append(f"process {i + 1}: import {probe['import_s']:.2f} s + first fit {probe['first_s']:.2f} s "
                             f"(warm fit {probe['again_s'] * 1e3:.1f} ms)")
        print("cold start (fresh process, clusters2d full fit; the first process may compile and fill Numba's cache, "
              "the second loads it): " + "; ".join(parts))
    print("\nlibrary options:")
    for lib in libraries:
        print(f"  {lib}: {LIBRARY_NOTES[lib]}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "cold": cold, "variants": variants,
                                               "missing": missing}, indent=1, default=str))


if __name__ == "__main__":
    main()
