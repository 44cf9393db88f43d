"""The ZSOM dashboard: ``python app.py`` serves it; ``create_app`` builds it for tests."""

import argparse
import logging
import os
import uuid
from pathlib import Path

import diskcache
from dash import Dash, DiskcacheManager

from callbacks import data, training, view
from callbacks.jobs import use_job_server
from callbacks.store import SessionStore
from components.figures import default_panels
from components.geometry import map_structure
from components.layout import build_layout
from components.settings import DEFAULTS, parse_settings
from zsom_core.datasets import DATASETS

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
    datasets = {name: f"{name} ({info.dim}-D)" for name, info in DATASETS.items()}
    default_samples = DATASETS[DEFAULT_DATASET].default_n
    settings = parse_settings(DEFAULTS)
    figures = default_panels(map_structure(*settings.grid_key()), settings.epochs, settings.schedule())
    first_view = {"grid": settings.grid_key()}

    def serve_layout():
        # A new session id for every page load: two tabs never share a run.
        return build_layout(str(uuid.uuid4()), datasets, DEFAULT_DATASET, default_samples, figures, first_view)

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
    use_job_server()
    app = create_app(args.cache_dir, args.max_jobs)
    # Progress polling makes a request every 200 ms per running job: keep the log readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"ZSOM dashboard on http://{args.host}:{args.port}/ (cache {Path(args.cache_dir).resolve()}, "
          f"at most {args.max_jobs} trainings at once)", flush=True)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
