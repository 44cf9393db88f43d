"""What the end-to-end tests drive: the app served in a subprocess, and a dashboard page
in Debian's Chromium with the actions a user takes.

Playwright drives ``/usr/bin/chromium`` (Playwright's own browser download does not work
offline). Every page records its console, so that a test can fail on a browser error.
"""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from components.client import HEX_TILING

REPO = Path(__file__).resolve().parents[2]
MESH_DIR = REPO.parent / "shared" / "testdata" / "meshes"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1366, "height": 768}

# Records every text the status line shows, so that a test sees epochs that were on
# screen only for a moment.
STATUS_RECORDER = """
window.__zsomStatus = [];
new MutationObserver(() => {
  const line = document.getElementById('status-line');
  if (!line) return;
  const text = line.innerText.replace(/\\s+/g, ' ').trim();
  const log = window.__zsomStatus;
  if (!log.length || log[log.length - 1] !== text) log.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

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
        left = Math.min(left, x); top = Math.min(top, y); right = Math.max(right, x + 1); bottom = Math.max(bottom, y + 1);
      }
    }
  }
  return {gaps, painted: [left, top, right, bottom]};
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``python app.py`` on a free port with its own cache folder."""

    def __init__(self, cache_dir: Path, max_jobs: int | None = None, *options: str, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.cache_dir = cache_dir
        self.log_path = cache_dir.parent / f"{cache_dir.name}-server.log"
        command = [sys.executable, str(REPO / "app.py"), "--port", str(self.port), "--cache-dir", str(cache_dir),
                   *options]
        if max_jobs is not None:
            command += ["--max-jobs", str(max_jobs)]
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_serving()

    def restart(self) -> None:
        """Stop the server and start it again on the same port and folder."""
        self.stop()
        arguments = self.process.args
        with self.log_path.open("a") as log:
            self.process = subprocess.Popen(arguments, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        self._wait_until_serving()

    def training_processes(self) -> list:
        """The live training processes: children of the job server (a forkserver), itself
        a child of the app."""
        import psutil

        jobs = []
        for child in psutil.Process(self.process.pid).children():
            if "forkserver" in " ".join(child.cmdline()):
                jobs += [job for job in child.children() if job.status() != psutil.STATUS_ZOMBIE]
        return jobs

    def _wait_until_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited early:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "_dash-layout", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the app did not serve within {timeout} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Dashboard:
    """One browser page on the dashboard, with the actions a user takes."""

    def __init__(self, page, url: str, init_script: str | None = None):
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.add_init_script(STATUS_RECORDER)
        if init_script:
            page.add_init_script(init_script)
        page.goto(url)
        self.wait_for_status("ready")

    # ------------------------------------------------------------------ reading

    def status(self) -> str:
        return self.page.inner_text("#status-line").replace("\n", " ")

    def status_log(self) -> list[str]:
        return self.page.evaluate("window.__zsomStatus")

    def wait_for_status(self, pattern: str, timeout: float = 60_000) -> str:
        try:
            self.page.wait_for_function(
                "pattern => { const line = document.getElementById('status-line');"
                " return line !== null && new RegExp(pattern, 'i').test(line.innerText.replace(/\\s+/g, ' ')); }",
                arg=pattern, timeout=timeout)
        except Exception as error:  # a timeout: say what the user saw instead
            raise AssertionError(f"status never matched {pattern!r}; it showed {self.status_log()}; "
                                 f"console errors {self.errors}") from error
        return self.status()

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

    def graph_values(self, panel: str, trace: int = 0, attribute: str = "marker.color") -> list[float]:
        """A trace's array as plotly holds it (first 200 values)."""
        return self.page.evaluate(
            """([panel, trace, attribute]) => {
                const gd = document.getElementById(panel).querySelector('.js-plotly-plot');
                let value = gd._fullData[trace];
                for (const key of attribute.split('.')) value = value[key];
                return Array.from(value).slice(0, 200);
            }""", [panel, trace, attribute])

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
        self.page.locator(f"#{panel}").scroll_into_view_if_needed()  # a screenshot shows the viewport only
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

    def set_number(self, control: str, value) -> None:
        """Type into a slider's value box or a number input, and commit it."""
        box = self.page.locator(f"#{control} input[type=number], input#{control}").first
        box.fill(str(value))
        box.press("Enter")

    def choose_dataset(self, name: str) -> None:
        self.page.click("#dataset-choice")
        self.page.click(f".dash-dropdown-option:has(input[value='{name}'])")
        self.wait_for_status(f"ready.*{name}")

    def upload(self, path: Path) -> None:
        self.page.set_input_files("#mesh-upload input[type=file]", str(path))

    def train(self) -> None:
        self.page.click("#train-button")

    def assert_no_console_errors(self) -> None:
        assert not self.errors, f"browser console errors: {self.errors}"
