"""What drives the dashboard from outside, for the browser tests and the benchmarks alike.

- ``Server``: ``python app.py`` in a subprocess, on a free port with its own cache folder;
- ``RedisServer``: Debian's ``redis-server`` on a free port, with a password;
  ``CeleryWorker`` and ``GunicornServer``: a worker and several web processes on it;
- ``launch_chromium``: Debian's ``/usr/bin/chromium`` through Playwright, with the flags
  this machine needs (Playwright's own browser download does not work offline);
- ``Dashboard``: one page on the dashboard, with the actions a user takes and a record of
  what the page showed (its status line and timeline label, its console errors);
- waits with a deadline: ``wait_until`` (a condition sampled until it holds),
  ``wait_for_status`` (the status line) and ``wait_for_callbacks`` (Dash has answered
  everything the page asked).

The tests find this module through pytest's ``pythonpath``; the benchmarks put ``tests/``
on ``sys.path``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from components.client import HEX_TILING
from components.ids import PANELS

REPO = Path(__file__).resolve().parents[1]
MESH_DIR = REPO.parent / "shared" / "testdata" / "meshes"
TABLE_DIR = REPO.parent / "shared" / "testdata" / "tables"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling out of a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, what: str = "", step: float = 0.1) -> T:
    """Sample ``condition`` every ``step`` s until it returns something true, and return
    that; ``AssertionError`` naming ``what`` when ``timeout`` s pass first.

    For conditions nothing announces (a process count, a server starting to answer):
    sampling is the only way to see them, and the deadline bounds it.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout} s for {what or condition}, in vain")
        time.sleep(step)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``timeout`` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------- the server


class Server:
    """``python app.py`` on a free port with its own cache folder; its output goes to a log
    file beside that folder, which an error quotes.

    Usable as a context manager, which stops it.
    """

    def __init__(self, cache_dir: Path, max_jobs: int | None = None, *options: str, port: int | None = None,
                 timeout: float = 60.0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.cache_dir = Path(cache_dir)
        self.log_path = self.cache_dir.parent / f"{self.cache_dir.name}-server.log"
        self.command = [sys.executable, str(REPO / "app.py"), "--port", str(self.port),
                        "--cache-dir", str(self.cache_dir), *options]
        if max_jobs is not None:
            self.command += ["--max-jobs", str(max_jobs)]
        self.timeout = timeout
        self._start()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.process.pid

    def restart(self) -> None:
        """Stop the server (if it still runs) and start it again on the same port and folder."""
        self.stop()
        self._start()

    def stop(self) -> None:
        stop_process(self.process)

    def training_processes(self) -> list:
        """The live training processes: children of the job server (a forkserver), itself
        a child of the app."""
        import psutil

        jobs = []
        for child in psutil.Process(self.process.pid).children():
            if "forkserver" in " ".join(child.cmdline()):
                jobs += [job for job in child.children() if job.status() != psutil.STATUS_ZOMBIE]
        return jobs

    def current_run(self, session_id: str):
        """(record, epochs stored) of a session's current run, as the server's store holds
        them; (None, 0) without one."""
        from zsom_jobs.store import DiskcacheStore

        store = DiskcacheStore(self.cache_dir / "store")  # the settings the server has: the defaults
        try:
            record = store.current_run(session_id)
            return record, 0 if record is None else store.epochs_done(session_id, record.run)
        finally:
            store.close()

    def _start(self) -> None:
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(self.command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                            env=getattr(self, "environment", None))
        try:
            wait_until(self._serving, self.timeout, f"the app to serve on port {self.port}", step=0.2)
        except AssertionError as error:
            self.stop()
            raise RuntimeError(f"{error}:\n{self.log_path.read_text()}") from None

    def _serving(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the app exited early:\n{self.log_path.read_text()}")
        try:
            with urllib.request.urlopen(self.url + "_dash-layout", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


class RedisServer:
    """Debian's ``redis-server`` on a free loopback port, with a password and its own folder
    (a snapshot written at each stop only if ``persist``, ``maxmemory`` as given with the
    eviction policy that the README advises); ``url`` holds the password. Usable as a
    context manager, which stops it.
    """

    EXECUTABLE = "/usr/bin/redis-server"

    def __init__(self, directory: Path, *, maxmemory: str = "256mb", persist: bool = False, port: int | None = None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.password = secrets.token_hex(12)
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"
        self.log_path = self.directory / "redis.log"
        self.command = [self.EXECUTABLE, "--port", str(self.port), "--bind", "127.0.0.1", "--requirepass",
                        self.password, "--dir", str(self.directory), "--save", "3600 1" if persist else "",
                        "--appendonly", "no", "--maxmemory", maxmemory, "--maxmemory-policy", "volatile-ttl",
                        "--maxmemory-samples", "10", "--logfile", str(self.log_path)]
        self.start()

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_until(self._answers, 20, f"redis-server to answer on port {self.port}", step=0.05)

    def stop(self) -> None:
        stop_process(self.process)

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)

    def _answers(self) -> bool:
        import redis

        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited early:\n{self.log_path.read_text(errors='replace')}")
        try:
            with self.client() as client:
                return client.ping()
        except redis.RedisError:
            return False


class CeleryWorker:
    """``celery -A app:celery_app worker --concurrency N`` on a Redis ``url``, as the README
    starts one, each training on ``threads`` threads (several workers share this machine);
    its log in ``log_dir``. Stopped with its pool processes."""

    def __init__(self, url: str, name: str, log_dir: Path, concurrency: int = 1, threads: int = 1):
        self.url, self.name, self.concurrency, self.threads = url, name, concurrency, threads
        self.log_path = Path(log_dir) / f"{name}.log"
        self.start()

    def start(self) -> None:
        environment = {**os.environ, "ZSOM_REDIS_URL": self.url, "ZSOM_THREADS_PER_JOB": str(self.threads)}
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).with_name("celery")), "-A", "app:celery_app", "worker", "--concurrency",
                 str(self.concurrency), "-n", f"{self.name}@%h", "--loglevel", "INFO", "--without-gossip",
                 "--without-mingle"],
                cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._ready_at = self.log_path.read_text().count(" ready.") + 1
        wait_until(self._ready, 60, f"worker {self.name} to be ready", step=0.2)

    def received(self, task_id: str) -> bool:
        """Whether this worker took the task (its log names each task it receives)."""
        return f"[{task_id}] received" in self.log_path.read_text()

    def kill(self) -> None:
        """SIGKILL, pool and all: a machine that lost its power."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{self.log_path.read_text()}")
        return self.log_path.read_text().count(" ready.") >= self._ready_at


class GunicornServer(Server):
    """``gunicorn -w N 'app:server'`` on a free port with its state in Redis at ``url``:
    several web processes that any request may reach."""

    def __init__(self, url: str, log_dir: Path, workers: int = 2, timeout: float = 90.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = Path(log_dir) / "gunicorn.log"
        self.command = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "--threads", "8",
                        "-b", f"127.0.0.1:{self.port}", "--no-control-socket", "app:server"]
        self.environment = {**os.environ, "ZSOM_REDIS_URL": url}
        self.timeout = timeout
        self._start()

    def web_processes(self) -> list:
        import psutil

        return psutil.Process(self.process.pid).children()


# ---------------------------------------------------------------------------- the browser


def launch_chromium(playwright):
    """Debian's Chromium, headless, driven by ``playwright`` (a ``sync_playwright()``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# Records every text the status line and the timeline label show, so that a test sees
# what was on screen only for a moment.
PAGE_RECORDER = """
window.__zsomStatus = [];
window.__zsomLabels = [];
new MutationObserver(() => {
  for (const [id, log] of [['status-line', window.__zsomStatus], ['timeline-label', window.__zsomLabels]]) {
    const element = document.getElementById(id);
    if (!element) continue;
    const text = element.innerText.replace(/\\s+/g, ' ').trim();
    if (!log.length || log[log.length - 1] !== text) log.push(text);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

# True once Dash has nothing in flight: no callback waits for its answer and no background
# job is polled. Read from the renderer's store, as Dash's own test kit does.
CALLBACKS_SETTLED = """() => {
  if (!window.store) return false;
  const state = window.store.getState();
  const waiting = Object.entries(state.callbacks)
    .some(([stage, list]) => stage !== 'stored' && stage !== 'completed' && list.length > 0);
  return !waiting && Object.keys(state.callbackJobs || {}).length === 0;
}"""

# The components of Dash's layout whose code loads apart from the page's (a chunk each,
# fetched on first use) that are not drawn yet. Until a chunk has loaded and React has
# drawn the component, nothing stands in its place, and Dash may well have answered every
# callback by then: a page tabbed through too early has no dropdown to reach. (A graph is
# left out: an empty box with its id stands in for it, and the waits on what the graphs
# draw cover it.)
UNDRAWN_COMPONENTS = """() => {
  if (!window.store) return ['the layout'];
  const lazy = ['dash_core_components.Dropdown', 'dash_core_components.Slider',
                'dash_core_components.RangeSlider', 'dash_core_components.Upload', 'dash_ag_grid.AgGrid'];
  const state = window.store.getState();
  if (!state.paths || !state.paths.strs) return ['the layout'];
  return Object.entries(state.paths.strs).filter(([id, path]) => {
    let node = state.layout;
    for (const key of path) node = node[key];
    return lazy.includes(`${node.namespace}.${node.type}`) && document.getElementById(id) === null;
  }).map(([id]) => id);
}"""
PAGE_SETTLED = f"() => ({CALLBACKS_SETTLED})() && ({UNDRAWN_COMPONENTS})().length === 0"


# The hexagon maps' drawn marker size next to the size that tiles their current scale.
HEX_SIZES = """([panels, hex]) => panels.map(panel => {
  const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
  const xaxis = gd && gd._fullLayout && gd._fullLayout.xaxis;
  if (!xaxis || !xaxis._length || !gd._fullData.length) return {panel, drawn: null};
  const range = xaxis.range;
  const fits = xaxis._length / Math.abs(range[1] - range[0]) * hex.size_per_unit + hex.overlap_px;
  // An empty trace (no dead units) is not drawn and has no marker.
  const drawn = gd._fullData.filter(trace => trace.meta === hex.meta && trace.marker).map(trace => trace.marker.size);
  return {panel, drawn, fits, pending: gd.classList.contains('dash-graph--pending')};
})"""
HEXAGONS_FIT = f"""args => ({HEX_SIZES})(args).every(map => map.drawn && map.drawn.length && !map.pending
  && map.drawn.every(size => Math.abs(size - map.fits) <= args[1].tolerance_px))"""

# A hexagon map's unit centres in page pixels (Plotly's own axis mapping, which placed
# them), the distance between neighbours in a row, and the plot area.
HEX_GEOMETRY = """panel => {
  const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
  const xaxis = gd._fullLayout.xaxis, yaxis = gd._fullLayout.yaxis, box = gd.getBoundingClientRect();
  const px = x => box.left + xaxis._offset + xaxis.l2p(x), py = y => box.top + yaxis._offset + yaxis.l2p(y);
  const trace = gd._fullData[0], xs = Array.from(trace.x), ys = Array.from(trace.y);
  return {centres: xs.map((x, i) => [px(x), py(ys[i])]), pitch: Math.abs(px(1) - px(0)),
          plot: [box.left + xaxis._offset, box.top + yaxis._offset, xaxis._length, yaxis._length]};
}"""

# Decodes a screenshot in the page: the box of its non-white pixels, and how many white
# (paper) pixels lie inside ``interior``.
PAPER_PIXELS = """async ([url, interior]) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext('2d');
  context.drawImage(image, 0, 0);
  const {data, width, height} = context.getImageData(0, 0, image.width, image.height);
  const [x0, y0, x1, y1] = interior;
  let left = width, top = height, right = 0, bottom = 0, gaps = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = 4 * (y * width + x);
      if (Math.min(data[i], data[i + 1], data[i + 2]) >= 250) {
        if (x >= x0 && x <= x1 && y >= y0 && y <= y1) gaps++;
      } else {
        left = Math.min(left, x); top = Math.min(top, y);
        right = Math.max(right, x + 1); bottom = Math.max(bottom, y + 1);
      }
    }
  }
  return {gaps, painted: [left, top, right, bottom]};
}"""


VIEW_STATE = """() => {
  const state = window.store.getState();
  let node = state.layout;
  for (const key of state.paths.strs['view-state']) node = node[key];
  return node.props.data || {};
}"""


def status_text(page) -> str:
    return page.inner_text("#status-line").replace("\n", " ")


def wait_for_status(page, pattern: str, timeout: float = 60_000) -> str:
    """Wait until the status line matches ``pattern`` (a regular expression, any case);
    returns its text."""
    try:
        page.wait_for_function(
            "pattern => { const line = document.getElementById('status-line');"
            " return line !== null && new RegExp(pattern, 'i').test(line.innerText.replace(/\\s+/g, ' ')); }",
            arg=pattern, timeout=timeout)
    except Exception as error:  # a timeout: say what the page showed instead
        raise AssertionError(f"the status line never matched {pattern!r}; it shows {status_text(page)!r}") from error
    return status_text(page)


def wait_for_callbacks(page, timeout: float = 30_000) -> None:
    """Wait until Dash has answered every callback the page sent, polls no job and has
    drawn every component whose code loads apart (``UNDRAWN_COMPONENTS``), all at once."""
    try:
        page.wait_for_function(PAGE_SETTLED, timeout=timeout)
    except Exception as error:
        undrawn = page.evaluate(UNDRAWN_COMPONENTS)
        raise AssertionError(f"Dash callbacks still pending after {timeout / 1000:.0f} s"
                             f"{f', components not drawn: {undrawn}' if undrawn else ''}") from error


def set_number(page, control: str, value) -> None:
    """Type into a slider's value box or a number input, and commit it (on Enter)."""
    box = page.locator(f"#{control} input[type=number], input#{control}").first
    box.fill(str(value))
    box.press("Enter")


class Dashboard:
    """One browser page on the dashboard, with the actions a user takes."""

    def __init__(self, page, url: str, init_script: str | None = None):
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.add_init_script(PAGE_RECORDER)
        if init_script:
            page.add_init_script(init_script)
        page.goto(url)
        self.wait_for_status("ready")

    # ------------------------------------------------------------------ reading

    def status(self) -> str:
        return status_text(self.page)

    def status_log(self) -> list[str]:
        return self.page.evaluate("window.__zsomStatus")

    def label_log(self) -> list[str]:
        """Every text the timeline's label showed, in order."""
        return self.page.evaluate("window.__zsomLabels")

    def session_id(self) -> str:
        return json.loads(self.page.evaluate("sessionStorage.getItem('session-id')"))

    def wait_for_status(self, pattern: str, timeout: float = 60_000) -> str:
        try:
            return wait_for_status(self.page, pattern, timeout)
        except AssertionError as error:
            raise AssertionError(f"{error}; it showed {self.status_log()}; console errors {self.errors}") from None

    def wait_for_callbacks(self, timeout: float = 30_000) -> None:
        wait_for_callbacks(self.page, timeout)

    def wait_until_hexagons_fit(self, panels, timeout: float = 30_000) -> None:
        """Wait until the hexagon maps of ``panels`` are drawn at the marker size that tiles
        their current scale (the size rule is ``HEX_TILING``'s), and no redraw is pending."""
        try:
            self.page.wait_for_function(HEXAGONS_FIT, arg=[list(panels), HEX_TILING], timeout=timeout)
        except Exception as error:
            sizes = self.page.evaluate(HEX_SIZES, [list(panels), HEX_TILING])
            raise AssertionError(f"hexagons never fitted their panels: {sizes}") from error

    def hex_tiling(self, panel: str) -> dict:
        """How a hexagon map covers its panel, read from the pixels on screen.

        "gaps": paper-white pixels among the hexagons (inside the unit centres' box, one
        unit in from its edges); "painted": the box of every non-white pixel of the plot
        area; "expected": the box that hexagons meeting edge to edge cover, from the unit
        centres' pixel positions alone. Boxes are [left, top, right, bottom] in pixels of
        the plot area.
        """
        # A screenshot shows the viewport only, and the timeline stays over the bottom of
        # the panels' scroll area: the panel goes to the middle of the view.
        self.page.locator(f"#{panel}").evaluate("element => element.scrollIntoView({block: 'center'})")
        geometry = self.page.evaluate(HEX_GEOMETRY, panel)
        left, top, width, height = geometry["plot"]
        png = self.page.screenshot(clip={"x": left, "y": top, "width": width, "height": height})
        xs = [x - left for x, _ in geometry["centres"]]
        ys = [y - top for _, y in geometry["centres"]]
        pitch = geometry["pitch"]
        circumradius = pitch / 3**0.5
        interior = [min(xs) + pitch, min(ys) + pitch, max(xs) - pitch, max(ys) - pitch]
        pixels = self.page.evaluate(PAPER_PIXELS, ["data:image/png;base64," + base64.b64encode(png).decode(), interior])
        expected = [min(xs) - pitch / 2, min(ys) - circumradius, max(xs) + pitch / 2, max(ys) + circumradius]
        return {"gaps": pixels["gaps"], "painted": pixels["painted"], "expected": expected, "pitch": pitch}

    # ------------------------------------------------------------------ acting

    def view_state(self) -> dict:
        """What the page's view state store holds (Dash's own copy of the layout)."""
        return self.page.evaluate(VIEW_STATE)

    def wait_for_answers(self, count: int, timeout: float = 30_000) -> None:
        """Wait until the server answered the page ``count`` more times (the view state
        counts its answers), so that what the page shows was decided after this call."""
        seen = self.view_state().get("seq", 0)
        try:
            self.page.wait_for_function(f"() => (({VIEW_STATE})().seq || 0) >= {seen + count}", timeout=timeout)
        except Exception as error:
            raise AssertionError(f"the page got fewer than {count} answers in {timeout / 1000:.0f} s") from error

    def wait_for_text(self, selector: str, text: str, timeout: float = 30_000) -> str:
        """Wait until the element's text contains ``text`` (an SVG element's text content);
        returns the element's text."""
        try:
            self.page.wait_for_function(
                "([selector, text]) => { const element = document.querySelector(selector);"
                " return element !== null && (element.innerText ?? element.textContent).includes(text); }",
                arg=[selector, text], timeout=timeout)
        except Exception as error:
            shown = self.page.text_content(selector) if self.page.query_selector(selector) else "nothing"
            raise AssertionError(f"{selector} never showed {text!r}; it shows {shown!r}") from error
        return self.page.text_content(selector)

    def shown_epochs(self, state: str = "training") -> list[int]:
        """Distinct epochs the status line showed while in ``state``, in order."""
        epochs = []
        for text in self.status_log():
            match = re.search(rf"^{state}\b.*?Epoch (\d+) /", text, re.IGNORECASE)
            if match and (not epochs or epochs[-1] != int(match.group(1))):
                epochs.append(int(match.group(1)))
        return epochs

    def timeline_label(self) -> str:
        return self.page.inner_text("#timeline-label")

    def wait_for_panels(self, epoch: int, timeout: float = 30_000) -> None:
        """Wait until every panel has drawn ``epoch`` (the tag each epoch's patch gives its
        figure, as Plotly drew it): the status line says an epoch first, the panels draw it
        one after another."""
        self.page.wait_for_function(
            """([panels, epoch]) => panels.every(panel => {
                const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
                const asked = gd && gd.layout && gd.layout.meta, drawn = gd && gd._fullLayout && gd._fullLayout.meta;
                return asked && drawn && asked.epoch === epoch && drawn.epoch === epoch;
            })""", arg=[[str(panel) for panel in PANELS], epoch], timeout=timeout)

    def graph_values(self, panel: str, trace: int = 0, attribute: str = "marker.color") -> list[float]:
        """A trace's array as plotly holds it (first 200 values)."""
        return self.page.evaluate(
            """([panel, trace, attribute]) => {
                const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
                let value = gd._fullData[trace];
                for (const key of attribute.split('.')) value = value[key];
                return Array.from(value).slice(0, 200);
            }""", [panel, trace, attribute])

    # ------------------------------------------------------------------ acting

    def set_number(self, control: str, value) -> None:
        set_number(self.page, control, value)

    def choose_dataset(self, name: str, shown: str | None = None) -> None:
        """Choose the menu entry of value ``name``; the status line then names ``shown``."""
        self.page.click("#dataset-choice")
        self.page.click(f".dash-dropdown-option:has(input[value='{name}'])")
        self.wait_for_status(f"ready.*{shown or name}")

    def upload(self, path: Path) -> None:
        self.page.set_input_files("#mesh-upload input[type=file]", str(path))

    def train(self) -> None:
        self.page.click("#train-button")

    def assert_no_console_errors(self) -> None:
        assert not self.errors, f"browser console errors: {self.errors}"
