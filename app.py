"""The ZSOM dashboard: ``python app.py`` serves it; ``create_app`` builds it for tests."""

import os

# Numba's default OpenMP threading layer aborts a forked child once its parent has run a
# parallel kernel; training runs in processes forked from this one. Set before any import
# of numba (zsom_core imports it).
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import argparse  # noqa: E402
import logging  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

import diskcache  # noqa: E402
from dash import Dash, DiskcacheManager  # noqa: E402

from callbacks import data, training, view  # noqa: E402
from callbacks.store import SessionStore  # noqa: E402
from components.layout import build_layout  # noqa: E402
from zsom_core.datasets import DATASETS  # noqa: E402

DEFAULT_CACHE_DIR = Path(".cache") / "zsom"
DEFAULT_DATASET = "bunny"
HERE = Path(__file__).resolve().parent


def create_app(cache_dir=DEFAULT_CACHE_DIR, max_jobs: int | None = None) -> Dash:
    """The Dash app, its state in ``cache_dir``, at most ``max_jobs`` trainings at once."""
    cache_dir = Path(cache_dir)
    max_jobs = max_jobs or os.cpu_count() or 1
    if max_jobs < 1:
        raise ValueError(f"max_jobs must be at least 1, got {max_jobs}")
    store = SessionStore(cache_dir / "store")
    manager = DiskcacheManager(diskcache.Cache(str(cache_dir / "jobs")))
    app = Dash(__name__, title="ZSOM", update_title=None, background_callback_manager=manager,
               assets_folder=str(HERE / "assets"))
    datasets = {name: info.description for name, info in DATASETS.items()}
    default_samples = DATASETS[DEFAULT_DATASET].default_n

    def serve_layout():
        # A new session id for every page load: two tabs never share a run.
        return build_layout(str(uuid.uuid4()), datasets, DEFAULT_DATASET, default_samples)

    app.layout = serve_layout
    data.register(app, store)
    training.register(app, store, max_jobs)
    view.register(app, store)
    return app


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Serve the ZSOM dashboard.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR),
                        help="where sessions, runs and jobs are kept (default ./.cache/zsom)")
    parser.add_argument("--max-jobs", type=int, default=os.cpu_count() or 1,
                        help="trainings that may run at once (default: the number of CPUs)")
    args = parser.parse_args(argv)
    if args.max_jobs < 1:
        parser.error("--max-jobs must be at least 1")
    app = create_app(args.cache_dir, args.max_jobs)
    # Progress polling makes a request every 200 ms per running job: keep the log readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"ZSOM dashboard on http://{args.host}:{args.port}/ (cache {Path(args.cache_dir).resolve()}, "
          f"at most {args.max_jobs} trainings at once)", flush=True)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
