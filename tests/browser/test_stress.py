"""The stress script's short form: several users at once and a burst of requests."""

import subprocess
import sys
from pathlib import Path

import pytest
from zsom_testkit import CHROMIUM, REPO

pytestmark = pytest.mark.browser


def test_the_stress_script_passes_in_its_quick_form():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    finished = subprocess.run([sys.executable, str(REPO / "benchmarks" / "stress.py"), "--quick"], cwd=REPO,
                              capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    assert "every shown epoch's MQE equals the engine's for its seed: yes" in finished.stdout
    assert "PASS" in finished.stdout
