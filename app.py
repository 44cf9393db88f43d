"""The ZSOM dashboard: ``python app.py`` serves it; ``create_app`` builds it for tests.

With a Redis URL (``--redis-url`` or ``$ZSOM_REDIS_URL``) its state is in Redis and its
trainings run on Celery workers: ``celery -A app:celery_app worker`` (or ``zsom worker``)
starts one, ``gunicorn -w 4 'app:server'`` serves from several web processes.
"""

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
from zsom_core.datadir import DataDir
from zsom_core.datasets import DATASETS
from zsom_jobs import Runs
from zsom_jobs.backend import DashManagerBackend, JobManager
from zsom_jobs.redis_url import ENVIRONMENT_VARIABLE as REDIS_URL_VARIABLE
from zsom_jobs.redis_url import redacted
from zsom_jobs.store import (
    DEFAULT_SIZE_LIMIT,
    DEFAULT_TTL_S,
    DiskcacheStore,
    StoreUnavailable,
    log_outage,
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
               store_ttl_s: float = DEFAULT_TTL_S, store_size_limit: int = DEFAULT_SIZE_LIMIT,
               redis_url: str | None = None, data_dir=None,
               in_memory_rows: int = data.DEFAULT_IN_MEMORY_ROWS) -> Dash:
    """The Dash app, its state in ``cache_dir``, or in Redis at ``redis_url`` with its
    trainings on Celery workers.

    At most ``max_jobs`` trainings run at once (default: one per core; with Redis, the
    workers' concurrency decides) and ``max_waiting`` more wait for a slot (default: four
    per slot); the store drops entries older than ``store_ttl_s`` and (diskcache) the
    oldest past ``store_size_limit`` bytes. Raises ``StoreUnavailable`` when ``cache_dir``
    cannot hold the store or Redis cannot be reached. On diskcache the app takes over the
    folder: runs an earlier server left unfinished count as interrupted. ``data_dir``: a
    folder whose tables the dataset menu lists, each of at most ``in_memory_rows`` rows.
    """
    max_jobs = max_jobs or os.cpu_count() or 1
    max_waiting = 4 * max_jobs if max_waiting is None else max_waiting
    if max_jobs < 1 or max_waiting < 0:
        raise ValueError(f"max_jobs must be at least 1 and max_waiting at least 0, got {max_jobs} and {max_waiting}")
    app = Dash(__name__, title="ZSOM", update_title=None, assets_folder=str(HERE / "assets"),
               index_string=INDEX_STRING)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    if redis_url:
        store, runs = shared_runs(app.server, redis_url, max_waiting=max_waiting, store_ttl_s=store_ttl_s)
    else:
        store, runs = local_runs(app.server, Path(cache_dir), max_jobs, max_waiting=max_waiting,
                                 store_ttl_s=store_ttl_s, store_size_limit=store_size_limit)
    server_data = DataDir(data_dir) if data_dir is not None else None
    default_samples = DATASETS[DEFAULT_DATASET].default_n
    # The first page's panels hold the map the default data will get (and the data is
    # prepared for the first session meanwhile).
    default_data = data.builtin_record(store, DEFAULT_DATASET, default_samples)
    settings = parse_settings(DEFAULTS).resolved(default_data["auto_sizes"])
    figures = default_panels(map_structure(*settings.grid_key()), settings.epochs, settings.schedule())
    first_view = {"grid": settings.grid_key()}

    def serve_layout():
        # A new session id for every page load: two tabs never share a run.
        # The data folder looked at again: a table put there while serving is listed on the next page.
        if server_data is not None:
            server_data.rescan()
        return build_layout(str(uuid.uuid4()), data.dataset_labels(server_data), DEFAULT_DATASET, default_samples,
                            figures, first_view)

    app.layout = serve_layout
    data.register(app, store, server_data, in_memory_rows)
    run_page.register(app, runs)
    view.register(app)
    settings_form.register(app, store)
    map_views.register(app, store)
    exports.register(app, store)
    # Dash sets itself up on its first request, unguarded: a second thread's request
    # meanwhile finds no component library registered ("dash_ag_grid is not a registered
    # library") and the page never renders. One request here, before any thread serves.
    with app.server.test_client() as client:
        client.get("/_dash-layout")
    return app


def local_runs(server, cache_dir: Path, max_jobs: int, *, max_waiting: int, store_ttl_s: float,
               store_size_limit: int) -> tuple[DiskcacheStore, Runs]:
    """One machine: the store in ``cache_dir``, each training in a process of its own."""
    store = DiskcacheStore(cache_dir / "store", ttl=store_ttl_s, size_limit=store_size_limit,
                           server_id=secrets.token_hex(8))
    store.cleanup()
    store.reset_slots()
    jobs = open_cache(cache_dir / "jobs")
    jobs.clear()  # what jobs an earlier server started left behind: no page can ask for it
    manager = JobManager(jobs)
    train = partial(run_training, store, max_jobs=max_jobs, threads=threads_per_job(max_jobs),
                    max_waiting=max_waiting, server_pid=os.getpid())
    keep_caches(server, store, manager, cache_dir / "jobs")
    return store, Runs(store, DashManagerBackend(manager, train))


def shared_runs(server, redis_url: str, *, max_waiting: int, store_ttl_s: float):
    """Many users: the store in Redis, the trainings on Celery workers. Every web process
    is alike, and none resets what the others share (slots, queue, runs)."""
    try:
        from zsom_jobs.celery_jobs import CeleryBackend, make_celery
        from zsom_jobs.redis_store import RedisStore
    except ImportError as missing:
        raise ValueError(f"serving from Redis needs {missing.name}: pip install 'zsom[serve]'") from None

    store = RedisStore(redis_url, ttl=store_ttl_s)
    store.ping()
    report_unavailable_store(server)
    return store, Runs(store, CeleryBackend(make_celery(redis_url), store, max_waiting=max_waiting))


def report_unavailable_store(server) -> None:
    """A request that finds the store unreachable gets a 503 and a short answer (the page's
    own poll says so in its status line), and the log a line a minute, not a traceback
    per request."""

    @server.errorhandler(StoreUnavailable)
    def unavailable(error):
        log_outage(error)
        return Response("ZSOM cannot serve: its store cannot be reached.\n", status=503, mimetype="text/plain")


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
    parser.add_argument("--data-dir", default=os.environ.get("ZSOM_DATA_DIR"),
                        help="a folder whose Parquet files, folders of Parquet files and CSV files the dataset menu "
                             "lists (default $ZSOM_DATA_DIR; none)")
    parser.add_argument("--in-memory-rows", type=int, default=data.DEFAULT_IN_MEMORY_ROWS,
                        help="the most rows a dataset of --data-dir may have "
                             f"(default {data.DEFAULT_IN_MEMORY_ROWS:,})")
    parser.add_argument("--redis-url", default=os.environ.get(REDIS_URL_VARIABLE),
                        help=f"keep the state in Redis and train on Celery workers (default ${REDIS_URL_VARIABLE}); "
                             "--cache-dir, --max-jobs and --store-limit-mb are then the workers' and Redis's")
    args = parser.parse_args(argv)
    if args.max_jobs < 1:
        parser.error("--max-jobs must be at least 1")
    if args.max_waiting is not None and args.max_waiting < 0:
        parser.error("--max-waiting must be at least 0")
    if args.in_memory_rows < 1:
        parser.error("--in-memory-rows must be at least 1")
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir {args.data_dir} is not a folder")
    if args.keep_hours <= 0 or args.store_limit_mb <= 0:
        parser.error("--keep-hours and --store-limit-mb must be positive")
    try:
        app = create_app(args.cache_dir, args.max_jobs, max_waiting=args.max_waiting,
                         store_ttl_s=args.keep_hours * 3600, store_size_limit=int(args.store_limit_mb * 2**20),
                         redis_url=args.redis_url, data_dir=args.data_dir, in_memory_rows=args.in_memory_rows)
    except (StoreUnavailable, ValueError) as error:
        advice = ("Check --redis-url and that Redis runs." if args.redis_url
                  else "Choose another folder with --cache-dir.")
        print(f"zsom: error: {error}. {advice}", file=sys.stderr)
        sys.exit(os.EX_UNAVAILABLE if args.redis_url else os.EX_CANTCREAT)
    if args.redis_url:
        where = f"state in {redacted(args.redis_url)}, trainings on its Celery workers"
    else:
        use_job_server("app")  # this script, which every job runs again before it trains
        where = f"cache {Path(args.cache_dir).resolve()}, at most {args.max_jobs} trainings at once"
    # Progress polling makes a request every 200 ms per running job: keep the log readable.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"ZSOM dashboard on http://{args.host}:{args.port}/ ({where})", flush=True)
    app.run(host=args.host, port=args.port, debug=False)


def worker(argv=None, prog: str | None = None) -> None:
    """``zsom worker``: a Celery worker for the web processes sharing ``--redis-url``."""
    parser = argparse.ArgumentParser(prog=prog, description="Train the dashboard's runs on this machine.")
    parser.add_argument("--redis-url", default=os.environ.get(REDIS_URL_VARIABLE),
                        help=f"the web processes' Redis (default ${REDIS_URL_VARIABLE})")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1,
                        help="trainings at once on this machine (default: the number of CPUs)")
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error(f"--redis-url or ${REDIS_URL_VARIABLE} is required")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    os.environ[REDIS_URL_VARIABLE] = args.redis_url  # read again by each worker process
    from zsom_jobs.celery_jobs import make_celery

    make_celery(args.redis_url).worker_main(["worker", "--concurrency", str(args.concurrency), "--loglevel", "INFO"])


def __getattr__(name: str):
    """``app:server`` (for gunicorn) and ``app:celery_app`` (for celery -A), made on first
    use from the environment: importing the module alone starts nothing."""
    if name == "server":
        url = os.environ.get(REDIS_URL_VARIABLE)
        if not url:
            raise RuntimeError(f"several web processes share their state through Redis: set {REDIS_URL_VARIABLE}")
        keep_hours = float(os.environ.get("ZSOM_KEEP_HOURS", DEFAULT_TTL_S / 3600))
        waiting = os.environ.get("ZSOM_MAX_WAITING")
        return create_app(redis_url=url, store_ttl_s=keep_hours * 3600, data_dir=os.environ.get("ZSOM_DATA_DIR"),
                          max_waiting=None if waiting is None else int(waiting)).server
    if name == "celery_app":
        from zsom_jobs.celery_jobs import celery_app_from_environment

        return celery_app_from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def cli(argv=None) -> None:
    """The ``zsom`` command: ``zsom serve [options]`` is ``python app.py [options]``;
    ``zsom worker [options]`` starts a Celery worker."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="zsom", description="Train, watch and understand Self-Organizing Maps.")
    commands = parser.add_subparsers(dest="command", metavar="command", required=True)
    # The options are the commands' own (their parsers read them, --help included), not copied here.
    commands.add_parser("serve", add_help=False, help="serve the dashboard; 'zsom serve --help' lists its options")
    commands.add_parser("worker", add_help=False,
                        help="train the runs of web servers sharing a Redis; 'zsom worker --help' lists its options")
    command = parser.parse_args(argv[:1]).command
    (main if command == "serve" else worker)(argv[1:], prog=f"zsom {command}")


if __name__ == "__main__":
    main()
