"""Fixtures for the browser tests: the test app on a real port, and Debian's Chromium
driven by Playwright as a phone (see docs: shared ENVIRONMENT.md, "Browser").

Chromium is not downloaded by Playwright here: the system one (``/usr/bin/chromium``) is
launched. Without it the tests are skipped, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

IS_CI = os.environ.get("CI", "").lower() == "true"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def pytest_collection_modifyitems(config, items):
    """Every test in this folder drives a browser."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


def _unavailable(message: str):
    if IS_CI:
        pytest.fail(message + " (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(message + " — browser tests skipped on this machine")


class LiveServer:
    def __init__(self, app, host: str = "127.0.0.1"):
        self.server = make_server(host, 0, app, threaded=True)
        # Wait for request threads on close (an event stream, a phone's poll): one still
        # running after the test would hold a database connection past the teardown.
        self.server.daemon_threads = False
        self.server.block_on_close = True
        self.url = f"http://{host}:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app):
    """The test ``app`` served on 127.0.0.1 at a free port; QR codes printed during the test
    point to it (PUBLIC_BASE_URL)."""
    server = LiveServer(app)
    app.config["PUBLIC_BASE_URL"] = server.url
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    executable = shutil.which("chromium")
    if not executable:
        _unavailable("chromium is not installed (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _unavailable(f"playwright is not importable: {error}")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Exception as error:  # noqa: BLE001  (playwright.Error: a clear message is enough)
            _unavailable(f"chromium at {executable} did not start: {error}")
        yield chromium
        chromium.close()


def _contexts(browser, **options):
    """Yield a factory of browser contexts with ``options``; close them all afterwards."""
    contexts = []

    def make(**extra):
        context = browser.new_context(**options, **extra)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def phone(browser):
    """``phone(java_script_enabled=True)`` → a new 390×844 mobile context (closed after the test)."""
    yield from _contexts(browser, **PHONE)


@pytest.fixture
def desktop(browser):
    """``desktop()`` → a new 1280×900 context (closed after the test)."""
    yield from _contexts(browser, **DESKTOP)
