"""What the end-to-end tests drive: the app served in a subprocess, and a dashboard page
in Debian's Chromium with the actions a user takes.

Playwright drives ``/usr/bin/chromium`` (Playwright's own browser download does not work
offline). Every page records its console, so that a test can fail on a browser error.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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

    def __init__(self, page, url: str):
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.add_init_script(STATUS_RECORDER)
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
