"""End-to-end fixtures: one app server for the session, Chromium, and dashboard pages
whose consoles are checked for errors after each test."""

from __future__ import annotations

from pathlib import Path

import pytest
from zsom_testkit import CHROMIUM, MESH_DIR, TABLE_DIR, VIEWPORT, Dashboard, Server, launch_chromium


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("zsom-cache"), max_jobs=4)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
def open_dashboard(browser, server):
    """open_dashboard() -> a Dashboard on a fresh page (a new session); pages are closed
    and their consoles checked after the test. ``init_script`` runs in the page before
    any of its own scripts."""
    contexts, dashboards = [], []

    def open_page(url: str | None = None, init_script: str | None = None) -> Dashboard:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        dashboard = Dashboard(context.new_page(), url or server.url, init_script)
        dashboards.append(dashboard)
        return dashboard

    yield open_page
    try:
        for dashboard in dashboards:
            dashboard.assert_no_console_errors()
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def dashboard(open_dashboard) -> Dashboard:
    return open_dashboard()


@pytest.fixture(scope="session")
def mesh_dir() -> Path:
    if not MESH_DIR.is_dir():
        pytest.skip(f"shared mesh test data not found at {MESH_DIR}")
    return MESH_DIR



@pytest.fixture(scope="session")
def table_dir() -> Path:
    if not TABLE_DIR.is_dir():
        pytest.skip(f"shared table test data not found at {TABLE_DIR}")
    return TABLE_DIR
