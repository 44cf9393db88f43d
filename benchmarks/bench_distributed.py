"""Batch training on Dask against the in-memory engine, and out of core.

    .venv/bin/python benchmarks/bench_distributed.py [--rows 2000000] [--epochs 3]
        [--out-of-core-rows 40000000] [--out-of-core-epochs 5] [--skip-out-of-core]

1. **Overhead**: ``--rows`` x 16 float32 rows in memory (a mixture of 16 Gaussians), a
   40 x 40 map, ``--epochs`` epochs: the engine on the array, then ``SOM.fit`` on the same
   rows as a Dask array persisted on a ``LocalCluster`` of 2 single-threaded worker
   processes (blocks of 250,000 rows). Seconds per epoch of each (the median epoch,
   from ``iter_fit``'s snapshots), their ratio, and the bytes the workers sent per epoch.
2. **Out of core**: ``--out-of-core-rows`` x 16 float32 rows written to Parquet files
   chunk by chunk (never held whole), trained 40 x 40 for ``--out-of-core-epochs`` epochs
   (random initialisation) on a ``LocalCluster`` of 2 workers with a 1 GB memory limit
   each, reading the files again every epoch. Seconds per epoch, the workers' peak
   memory, whether a worker was restarted, bytes sent per epoch, and the final MQE
   against an in-memory fit on a 2,000,000-row sample of the same files.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from zsom_core import SOM  # noqa: E402

FEATURES = 16
MAP = {"width": 40, "height": 40, "seed": 0}
BLOCK_ROWS = 250_000


def mixture(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(16, FEATURES))
    return (centres[rng.integers(0, 16, rows)] + rng.normal(size=(rows, FEATURES))).astype(np.float32)


def epoch_seconds(som: SOM, X, epochs: int) -> tuple[list[float], list[float]]:
    """Seconds of each epoch (from one snapshot to the next) and the MQE history."""
    times, started = [], time.perf_counter()
    for _ in som.iter_fit(X, epochs):
        now = time.perf_counter()
        times.append(now - started)
        started = now
    return times, som.mqe_history_


def sent_bytes(client) -> int:
    return sum(client.run(lambda dask_worker: dask_worker.transfer_outgoing_bytes_total).values())


def overhead(rows: int, epochs: int) -> None:
    import dask.array as da
    from distributed import Client, LocalCluster

    X = mixture(rows, seed=1)
    local_times, local_mqe = epoch_seconds(SOM(**MAP), X, epochs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        distributed = da.from_array(X, chunks=(BLOCK_ROWS, FEATURES)).persist()
        SOM(width=4, height=4).fit(distributed, epochs=1)  # the workers' kernels compiled or loaded
        before = sent_bytes(client)
        dask_times, dask_mqe = epoch_seconds(SOM(**MAP), distributed, epochs)
        per_epoch_bytes = (sent_bytes(client) - before) / epochs
    local, remote = statistics.median(local_times), statistics.median(dask_times)
    print(f"\nOverhead: {rows:,} x {FEATURES} float32 in memory, 40x40, {epochs} epochs "
          f"(median epoch; blocks of {BLOCK_ROWS:,} rows)")
    print(f"  in-memory engine          {local:7.2f} s/epoch   final MQE {local_mqe[-1]:.6f}")
    print(f"  Dask, 2 workers x 1 thr.  {remote:7.2f} s/epoch   final MQE {dask_mqe[-1]:.6f}")
    print(f"  ratio {remote / local:.2f} (the bound: at most 1.5); workers sent {per_epoch_bytes / 2**20:.1f} MB "
          f"per epoch (includes the initialisation's passes spread over the epochs)")


def write_parquet(folder: Path, rows: int) -> list[Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = []
    for index, start in enumerate(range(0, rows, 2_000_000)):
        chunk = mixture(min(2_000_000, rows - start), seed=100 + index)
        table = pa.table({f"f{k}": chunk[:, k] for k in range(FEATURES)})
        path = folder / f"part-{index:04d}.parquet"
        pq.write_table(table, path, row_group_size=BLOCK_ROWS)
        files.append(path)
    return files


def out_of_core(rows: int, epochs: int) -> None:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with tempfile.TemporaryDirectory(prefix="zsom-dask-") as folder:
        folder = Path(folder)
        started = time.perf_counter()
        files = write_parquet(folder, rows)
        written = time.perf_counter() - started
        settings = {**MAP, "init": "random"}
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GB",
                          dashboard_address=None) as cluster, Client(cluster) as client:
            frame = dd.read_parquet([str(path) for path in files], split_row_groups=True)
            workers_before = set(client.scheduler_info()["workers"])
            peaks = {}

            def sample_memory():
                for address, info in client.scheduler_info()["workers"].items():
                    peaks[address] = max(peaks.get(address, 0), info["metrics"]["memory"])

            before = sent_bytes(client)
            times, started = [], time.perf_counter()
            som = SOM(**settings)
            for _ in som.iter_fit(frame, epochs):
                sample_memory()
                now = time.perf_counter()
                times.append(now - started)
                started = now
            per_epoch_bytes = (sent_bytes(client) - before) / epochs
            restarted = set(client.scheduler_info()["workers"]) != workers_before
        sample = np.concatenate([mixture(min(2_000_000, rows - start), seed=100 + index)[: 2_000_000 // len(files) + 1]
                                 for index, start in enumerate(range(0, rows, 2_000_000))])[:2_000_000]
        reference = SOM(**settings).fit(sample, epochs=epochs)
    gap = abs(som.mqe_history_[-1] - reference.mqe_history_[-1]) / reference.mqe_history_[-1]
    print(f"\nOut of core: {rows:,} x {FEATURES} float32 ({rows * FEATURES * 4 / 1e9:.2f} GB) in {len(files)} Parquet "
          f"files (written in {written:.0f} s), 40x40, {epochs} epochs, 2 workers of 1 GB")
    print(f"  {statistics.median(times):.1f} s/epoch (median; first, with the moments' pass, {times[0]:.1f} s)")
    print(f"  peak worker memory {max(peaks.values()) / 2**20:.0f} MB; "
          f"a worker restarted: {'yes' if restarted else 'no'}")
    print(f"  workers sent {per_epoch_bytes / 2**20:.1f} MB per epoch")
    print(f"  final MQE {som.mqe_history_[-1]:.5f}, in memory on a 2,000,000-row sample "
          f"{reference.mqe_history_[-1]:.5f} ({100 * gap:.2f} % apart; the bound: 2 %)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out-of-core-rows", type=int, default=40_000_000)
    parser.add_argument("--out-of-core-epochs", type=int, default=5)
    parser.add_argument("--skip-out-of-core", action="store_true")
    args = parser.parse_args(argv)
    overhead(args.rows, args.epochs)
    if not args.skip_out_of_core:
        out_of_core(args.out_of_core_rows, args.out_of_core_epochs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
