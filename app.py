"""The ZSOM dashboard: ``python app.py`` serves it; ``create_app`` builds it for tests."""

import argparse
import logging
import os
import secrets
import sys
import uuid
from functools import partial
from pathlib import Path

from dash import Dash
from flask import Response

from callbacks import data, exports, map_views, run_page, settings_form, view
from components.figures import default_panels
from components.geometry import map_structure
from components.layout import build_layout
from components.settings import DEFAULTS, MAX_UPLOAD_BYTES, parse_settings
from zsom_core.datasets import DATASETS
from zsom_jobs import Runs
from zsom_jobs.backend import DashManagerBackend, JobManager
from zsom_jobs.store import (
    DEFAULT_SIZE_LIMIT,
    DEFAULT_TTL_S,
    DiskcacheStore,
    StoreUnavailable,
    open_cache,
    reopen_if_removed,
)
from zsom_jobs.training import run_training, threads_per_job, use_job_server

DEFAULT_CACHE_DIR = Path(".cache") / "zsom"
DEFAULT_DATASET = "bunny"
HERE = Path(__file__).resolve().parent
# An upload travels base64-encoded in a JSON body: a request that cannot be a file under
# the upload limit is refused before it is read.
MAX_REQUEST_BYTES = (MAX_UPLOAD_BYTES + 2) // 3 * 4 + 2**20
# Dash's own page with its language named, which screen readers pronounce by.
INDEX_STRING = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""


def create_app(cache_dir=DEFAULT_CACHE_DIR, max_jobs: int | None = None, *, max_waiting: int | None = None,
               store_ttl_s: float = DEFAULT_TTL_S, store_size_limit: int = DEFAULT_SIZE_LIMIT) -> Dash:
    """The Dash app, its state in ``cache_dir``.

    At most ``max_jobs`` trainings run at once (default: one per core) and ``max_waiting``
    more wait for a slot (default: four per slot); the store drops entries older than
    ``store_ttl_s`` and the oldest past ``store_size_limit`` bytes. Raises
    ``StoreUnavailable`` when ``cache_dir`` cannot hold the store. The app takes over the
    folder: runs an earlier server left unfinished count as interrupted.
    """
    cache_dir = Path(cache_dir)
    max_jobs = max_jobs or os.cpu_count() or 1
    max_waiting = 4 * max_jobs if max_waiting is None else max_waiting
    if max_jobs < 1 or max_waiting < 0:
        raise ValueError(f"max_jobs must be at least 1 and max_waiting at least 0, got {max_jobs} and {max_waiting}")
    store = DiskcacheStore(cache_dir / "store", ttl=store_ttl_s, size_limit=store_size_limit,
                           server_id=secrets.token_hex(8))
    store.cleanup()
    store.reset_slots()
    jobs = open_cache(cache_dir / "jobs")
    jobs.clear()  # what jobs an earlier server started left behind: no page can ask for it
    manager = JobManager(jobs)
    train = partial(run_training, store, max_jobs=max_jobs, threads=threads_per_job(max_jobs),
                    max_waiting=max_waiting, server_pid=os.getpid())
    runs = Runs(store, DashManagerBackend(manager, train))
    app = Dash(__name__, title="ZSOM", update_title=None, assets_folder=str(HERE / "assets"),
               index_string=INDEX_STRING)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    keep_caches(app.server, store, manager, cache_dir / "jobs")
    datasets = data.DATASET_LABELS
    default_samples = DATASETS[DEFAULT_DATASET].default_n
    # The first page's panels hold the map the default data will get (and the data is
    # prepared for the first session meanwhile).
    default_data = data.builtin_record(store, DEFAULT_DATASET, default_samples)
    settings = parse_settings(DEFAULTS).resolved(default_data["auto_sizes"])
    figures = default_panels(map_structure(*settings.grid_key()), settings.epochs, settings.schedule())
    first_view = {"grid": settings.grid_key()}

    def serve_layout():
        # A new session id for every page load: two tabs never share a run.
        return build_layout(str(uuid.uuid4()), datasets, DEFAULT_DATASET, default_samples, figures, first_view)

    app.layout = serve_layout
    data.register(app, store)
    run_page.register(app, runs)
    view.register(app)
    settings_form.register(app, store)
    map_views.register(app, store)
    exports.register(app, store)
    return app


def keep_caches(server, store: DiskcacheStore, manager: JobManager, jobs_dir: Path) -> None:
    """Serve on when the cache folder is removed under the running server.

    Everything that was in it is gone; new, empty stores take its place at the next
    request (pages then start afresh), and a folder that cannot be made again gets one
    log line and a 503 answer, not a traceback per request.
    """
    log = logging.getLogger("zsom")
    reported = []

    @server.before_request
    def reopen():
        try:
            store_reopened = store.reopen_if_removed()
            jobs_reopened = reopen_if_removed(manager, "handle", jobs_dir)
        except StoreUnavailable as error:
            if not reported:
                log.error("zsom: %s", error)
                reported.append(error)
            return Response(f"ZSOM cannot serve: {error}\n", status=503, mimetype="text/plain")
        reported.clear()
        if store_reopened or jobs_reopened:
            log.warning("zsom: the cache folder %s was removed while serving; started new, empty stores",
                        store.directory.parent)
        return None


def main(argv=None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description="Serve the ZSOM dashboard.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    parser.add_argument("--cache-dir", default=str(DEFAULT_CACHE_DIR),
                        help="where sessions, runs and jobs are kept (default ./.cache/zsom)")
    parser.add_argument("--max-jobs", type=int, default=os.cpu_count() or 1,
                        help="trainings that may run at once (default: the number of CPUs)")
    parser.add_argument("--max-waiting", type=int, default=None,
                        help="trainings that may wait for a free slot (default: 4 per slot); more are told to retry")
    parser.add_argument("--keep-hours", type=float, default=DEFAULT_TTL_S / 3600,
                        help="hours a session's data and runs are kept after they were written (default 12)")
    parser.add_argument("--store-limit-mb", type=float, default=DEFAULT_SIZE_LIMIT / 2**20,
                        help="size of the store past which the oldest entries are dropped (default 4096)")
    args = parser.parse_args(argv)
    if args.max_jobs < 1:
        parser.error("--max-jobs must be at least 1")
    if args.max_waiting is not None and args.max_waiting < 0:
        parser.error("--max-waiting must be at least 0")
    if args.keep_hours <= 0 or args.store_limit_mb <= 0:
        parser.error("--keep-hours and --store-limit-mb must be positive")
    try:
        app = create_app(args.cache_dir, args.max_jobs, max_waiting=args.max_waiting,
                         store_ttl_s=args.keep_hours * 3600, store_size_limit=int(args.store_limit_mb * 2**20))
    except StoreUnavailable as error:
        print(f"zsom: error: {error}. Choose another folder with --cache-dir.", file=sys.stderr)
        sys.exit(os.EX_CANTCREAT)
    use_job_server("app")  # this script, which every job runs again before it trains
    # Progress polling makes a request every 200 ms per running job: keep the log readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"ZSOM dashboard on http://{args.host}:{args.port}/ (cache {Path(args.cache_dir).resolve()}, "
          f"at most {args.max_jobs} trainings at once)", flush=True)
    app.run(host=args.host, port=args.port, debug=False)


def cli(argv=None) -> None:
    """The ``zsom`` command: ``zsom serve [options]`` is ``python app.py [options]``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="zsom", description="Train, watch and understand Self-Organizing Maps.")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    # The options are main's own (its parser reads them, --help included), not copied here.
    commands.add_parser("serve", add_help=False, help="serve the dashboard; 'zsom serve --help' lists its options")
    parser.parse_args(argv[:1])
    main(argv[1:], prog="zsom serve")


if __name__ == "__main__":
    main()
